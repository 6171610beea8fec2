/* dokkaacfg ls - every app's manifests: the image, how many instances are
 * desired and how many run, and why a stored manifest is invalid when it is. */
#include <stdio.h>

#include "api.h"
#include "tbl.h"

static const api_cmd cfg_ls_cmd = {
    "ls", "[-o json]\n"
          "  every app's manifests: image, instances desired and running, and why a\n"
          "  stored manifest is invalid when it is (one written straight into etcd)\n"
          "  -o json  the API's answer (GET /api/v1/apps)\n",
    0, 0, NULL, NULL};

/* The rows of one app: one per manifest. */
static void cfg_apps_row(tbl *t, json_t *app)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(app, "manifests"), i, m) {
        char desired[24], running[24];
        tbl_row(t, api_str(m, "app"), api_str(m, "name"),
                api_str(json_object_get(m, "manifest"), "image"), api_int(m, "desired", desired),
                api_int(m, "running", running), api_str(m, "error"));
    }
}

int cfg_apps_print(json_t *apps, err_t *err)
{
    tbl t;
    tbl_init(&t, "APP", "NAME", "IMAGE", "DESIRED", "RUNNING", "ERROR", NULL);
    return tbl_of(&t, apps, cfg_apps_row, err);
}

static int cfg_ls_print(json_t *v, void *ud, err_t *err)
{
    (void)ud;
    return cfg_apps_print(json_object_get(v, "apps"), err);
}

int cfg_ls(const cfg_global *g, int argc, char **argv)
{
    api_args args;
    api_req req = {.method = "GET", .path = "/api/v1/apps"};
    int rc = api_args_parse(&cfg_ls_cmd, g, argc, argv, &args, NULL);
    return rc != API_GO_ON ? rc : api_run(&args, &req, cfg_ls_print, NULL);
}
