/* dokkaacfg ps [APP] - every instance: where it runs, its state and health, the
 * revision it runs, for how long, and why it failed. */
#include <stdio.h>

#include "api.h"
#include "tbl.h"

static const api_cmd cfg_ps_cmd = {
    "ps", "[-o json] [APP]\n"
          "  every instance (of APP): its host, state, age and error; an instance no\n"
          "  conductor has reported yet is pending\n"
          "  -o json  the API's answer (GET /api/v1/instances[?app=APP])\n",
    0, 1, NULL, NULL};

/* "42s", "17m", "5h", "3d": as precise as a glance needs. */
static void cfg_ps_age(const json_t *age, char *buf, size_t size)
{
    long long s = json_integer_value(age);
    if (!json_is_integer(age))
        snprintf(buf, size, "-");
    else if (s < 120)
        snprintf(buf, size, "%llds", s);
    else if (s < 2 * 3600)
        snprintf(buf, size, "%lldm", s / 60);
    else if (s < 2 * 86400)
        snprintf(buf, size, "%lldh", s / 3600);
    else
        snprintf(buf, size, "%lldd", s / 86400);
}

static void cfg_ps_row(tbl *t, json_t *in)
{
    char inst[24], age[24], rev[9];
    const char *health = api_str(in, "health");
    cfg_ps_age(json_object_get(in, "age_seconds"), age, sizeof age);
    snprintf(rev, sizeof rev, "%s", *api_str(in, "hash") ? api_str(in, "hash") : "-");
    tbl_row(t, api_str(in, "app"), api_str(in, "name"), api_int(in, "instance", inst),
            json_is_string(json_object_get(in, "host")) ? api_str(in, "host") : "-",
            api_str(in, "state"), *health ? health : "-", rev, age, api_str(in, "error"));
}

static int cfg_ps_print(json_t *v, void *ud, err_t *err)
{
    tbl t;
    (void)ud;
    tbl_init(&t, "APP", "NAME", "I", "HOST", "STATE", "HEALTH", "REV", "AGE", "ERROR", NULL);
    return tbl_of(&t, json_object_get(v, "instances"), cfg_ps_row, err);
}

int cfg_ps(const cfg_global *g, int argc, char **argv)
{
    api_args args;
    api_target t;
    api_req req = {.method = "GET"};
    int rc = api_args_target(&cfg_ps_cmd, g, argc, argv, &args, API_TARGET_APP, &t, NULL);
    if (rc != API_GO_ON)
        return rc;
    snprintf(req.path, sizeof req.path, "/api/v1/instances%s%s", t.app[0] ? "?app=" : "", t.app);
    return api_run(&args, &req, cfg_ps_print, NULL);
}
