/* assets.h - the files compiled into the builder: the console (src/builder/console/)
 * and openapi.json (src/builder/assets/). cmake/embed.cmake writes the table. */
#ifndef DOKKAA_BUILDER_ASSETS_H
#define DOKKAA_BUILDER_ASSETS_H

#include <stddef.h>

typedef struct assets_file {
    const char *name; /* the file's name, without its directory */
    const unsigned char *data;
    size_t len;
} assets_file;

extern const assets_file assets_files[];
extern const size_t assets_nfiles;

#endif
