/* dokkaacfg rm APP[/NAME] - delete a manifest (its containers stop and go), or
 * an app with all its manifests and its links. */
#include <stdio.h>

#include "api.h"

static const api_cmd cfg_rm_cmd = {
    "rm", "[-o json] APP[/NAME]\n"
          "  APP/NAME  delete the manifest: its containers are stopped and removed\n"
          "  APP       delete every manifest of the app, and free its link ports\n"
          "  -o json   the API's answer (DELETE /api/v1/apps/APP[/NAME])\n",
    1, 1, NULL, NULL};

static int cfg_rm_print(json_t *v, void *ud, err_t *err)
{
    const api_target *t = ud;
    json_t *deleted = json_object_get(v, "deleted"), *name;
    size_t i;
    (void)err;
    if (t->name[0]) {
        printf("%s/%s: deleted\n", t->app, t->name);
        return API_OK;
    }
    printf("%s: deleted", t->app);
    json_array_foreach(deleted, i, name)
        printf("%s%s/%s", i ? ", " : " ", t->app, json_string_value(name));
    putchar('\n');
    return API_OK;
}

int cfg_rm(const cfg_global *g, int argc, char **argv)
{
    return api_target_command(g, &cfg_rm_cmd, argc, argv, "DELETE", API_TARGET_ANY, cfg_rm_print);
}
