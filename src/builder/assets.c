/* assets.c - serves the files compiled into the builder (assets.h): the console
 * at / and /console/<file>, and openapi.json for api.c. A dozen files at most, so
 * a lookup is a linear scan. */
#include <string.h>

#include "assets.h"
#include "builder.h"

static const char *assets_type(const char *name)
{
    static const struct { const char *ext, *type; } types[] = {
        {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},   {".json", "application/json"},
        {".svg", "image/svg+xml"},             {".png", "image/png"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof *types; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

const char *assets_find(const char *name, size_t *len, const char **content_type)
{
    for (size_t i = 0; i < assets_nfiles; i++) {
        if (strcmp(assets_files[i].name, name) == 0) {
            *len = assets_files[i].len;
            *content_type = assets_type(name);
            return (const char *)assets_files[i].data;
        }
    }
    return NULL;
}

bool assets_handle(builder_req *r, const char *path, enum MHD_Result *ret)
{
    size_t len;
    const char *type, *data = NULL;
    if (strcmp(path, "/") == 0)
        data = assets_find("index.html", &len, &type);
    else if (strncmp(path, "/console/", 9) == 0 && !strchr(path + 9, '/'))
        data = assets_find(path + 9, &len, &type);
    if (!data)
        return false;
    *ret = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0
               ? reply_text(r, 200, type, data, len)
               : reply_error(r, 405, "%s is not allowed on %s; allowed: GET", r->method, path);
    return true;
}
