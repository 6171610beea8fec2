/* manifest.h - the container manifest: parse, validate strictly, describe.
 *
 * A manifest is the JSON a user writes to /apps/<app>/<name>/manifest (DESIGN.md):
 *   { "image": "dockerfile/nginx", "scale": 1, "services": { "nginx": 80 } }
 * Validation is strict and its messages are precise and name the field:
 *   scale: must be an integer 0..1000, got "3"
 *   unknown field "scal"; valid fields: image, scale, command, services, links, env
 */
#ifndef DOKKAA_MANIFEST_H
#define DOKKAA_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>

#include "dokkaa/err.h"
#include "dokkaa/names.h"

#define MANIFEST_MAX_SCALE 1000
#define MANIFEST_MAX_BYTES (1024 * 1024)
#define MANIFEST_MAX_IMAGE 255
#define MANIFEST_MAX_COMMAND 256
#define MANIFEST_MAX_SERVICES 64
#define MANIFEST_MAX_LINKS 64

typedef struct manifest_service {
    char *name; /* a DNS label */
    int port;   /* the container port, 1..65535 */
} manifest_service;

typedef struct manifest_env {
    char *name; /* a POSIX variable name: [A-Za-z_][A-Za-z0-9_]* */
    char *value;
} manifest_env;

typedef struct manifest {
    char *image;
    int scale;                  /* default 1 */
    char **command;             /* NULL-terminated argv, or NULL for the image's own */
    size_t ncommand;
    manifest_service *services; /* sorted by name */
    size_t nservices;
    char **links;               /* service names, sorted, no duplicates */
    size_t nlinks;
    manifest_env *env;          /* sorted by name */
    size_t nenv;
    char hash[17];              /* 16 hex digits identifying what runs (all but scale) */
} manifest;

/* Parse and validate. On failure *m is left empty and err (ERR_INVALID) says what
 * is wrong and where, e.g. "services.nginx: must be a port 1..65535, got 0". */
int manifest_parse(const char *json, size_t len, manifest *m, err_t *err);
void manifest_free(manifest *m);

#endif
