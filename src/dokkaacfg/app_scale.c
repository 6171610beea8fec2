/* dokkaacfg scale APP/NAME N - how many instances of a manifest run. The builder
 * changes only the scale, in a compare-and-swap on the manifest, so that an
 * update made meanwhile is never undone. */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "dokkaa/manifest.h"

static const api_cmd cfg_scale_cmd = {
    "scale", "[-o json] APP/NAME N\n"
             "  run N instances (0..1000) of the manifest; the rest of it stays as written\n"
             "  -o json  the API's answer (PUT /api/v1/apps/APP/NAME/scale)\n",
    2, 2, NULL, NULL};

static int cfg_scale_print(json_t *v, void *ud, err_t *err)
{
    const api_target *t = ud;
    (void)err;
    printf("%s/%s: scale %lld (revision %lld)\n", t->app, t->name,
           (long long)json_integer_value(json_object_get(json_object_get(v, "manifest"), "scale")),
           (long long)json_integer_value(json_object_get(v, "revision")));
    return API_OK;
}

int cfg_scale(const cfg_global *g, int argc, char **argv)
{
    api_args args;
    api_target t;
    api_req req = {.method = "PUT"};
    char body[64];
    long long n;
    err_t err;
    int rc = api_args_target(&cfg_scale_cmd, g, argc, argv, &args, API_TARGET_NAME, &t, NULL);
    if (rc != API_GO_ON)
        return rc;
    if ((rc = api_parse_int("scale", args.argv[1], 0, MANIFEST_MAX_SCALE, &n, &err)) != API_OK) {
        fprintf(stderr, "dokkaacfg: %s\n", err.msg);
        return rc;
    }
    snprintf(body, sizeof body, "{\"scale\":%lld}", n);
    req.body = body;
    req.body_len = strlen(body);
    api_target_path(&t, "/scale", req.path, sizeof req.path);
    return api_run(&args, &req, cfg_scale_print, &t);
}
