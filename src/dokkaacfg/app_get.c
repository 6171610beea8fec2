/* dokkaacfg get APP[/NAME] - a manifest as JSON (what `set` takes back), or an
 * app's manifests as `ls` shows them. */
#include <stdio.h>

#include "api.h"

static const api_cmd cfg_get_cmd = {
    "get", "[-o json] APP[/NAME]\n"
           "  APP/NAME  its manifest, as JSON: `get APP/NAME > f` and `set APP/NAME f` agree\n"
           "  APP       the app's manifests, as ls shows them\n"
           "  -o json   the API's answer (GET /api/v1/apps/APP[/NAME]): with APP/NAME also\n"
           "            its revision, instance counts and instances\n",
    1, 1, NULL, NULL};

static int cfg_get_print(json_t *v, void *ud, err_t *err)
{
    const api_target *t = ud;
    json_t *manifest = json_object_get(v, "manifest");
    int rc = API_OK;
    if (!t->name[0]) {
        json_t *apps = json_pack("[O]", v);
        rc = apps ? cfg_apps_print(apps, err) : (err_set(err, ERR_SYS, "out of memory"), API_FAIL);
        json_decref(apps);
        return rc;
    }
    /* A manifest written straight into etcd may be invalid, even not JSON: it
     * is shown all the same, with what is wrong with it. */
    if (json_is_string(json_object_get(v, "error")))
        fprintf(stderr, "dokkaacfg: %s/%s: the stored manifest is invalid: %s\n", t->app, t->name,
                api_str(v, "error"));
    if (json_is_string(manifest))
        rc = puts(json_string_value(manifest)) == EOF ? (err_sys(err, "stdout"), API_FAIL) : API_OK;
    else if (manifest && !json_is_null(manifest))
        rc = api_print_json(manifest, err);
    return rc;
}

int cfg_get(const cfg_global *g, int argc, char **argv)
{
    return api_target_command(g, &cfg_get_cmd, argc, argv, "GET", API_TARGET_ANY, cfg_get_print);
}
