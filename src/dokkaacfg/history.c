/* dokkaacfg history APP/NAME - a manifest's revisions, newest first: how each
 * rollout ended, who made it and when. The scheduler keeps the last ten. */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "tbl.h"

#define CFG_HISTORY_HASH 8 /* of the 16 hex digits, as many as a glance needs */

static const api_cmd cfg_history_cmd = {
    "history", "[-o json] APP/NAME\n"
               "  the revisions of the manifest APP/NAME, newest first (the last 10): REV (*\n"
               "  the current one), OUTCOME (rolling, rolled-out, rolled-back, paused, failed,\n"
               "  superseded), BY, AT, HASH and the REASON it failed; `rollback` goes back to one\n"
               "  -o json  the API's answer (GET /api/v1/apps/APP/NAME/revisions), with each\n"
               "           revision's manifest and the rollout as it stands\n",
    1, 1, NULL, NULL};

/* One revision. The current one while it rolls carries the rollout's counts. */
static void cfg_history_row(tbl *t, const json_t *rev, const json_t *rollout)
{
    char num[32], outcome[64], hash[CFG_HISTORY_HASH + 1];
    int n = (int)json_integer_value(json_object_get(rev, "revision"));
    bool current = json_is_true(json_object_get(rev, "current"));
    snprintf(num, sizeof num, "%d%s", n, current ? "*" : "");
    snprintf(outcome, sizeof outcome, "%s", api_str(rev, "outcome"));
    if (current && json_integer_value(json_object_get(rollout, "revision")) == n &&
        strcmp(api_str(rollout, "state"), "rolling") == 0)
        snprintf(outcome, sizeof outcome, "rolling %lld/%lld",
                 (long long)json_integer_value(json_object_get(rollout, "updated")),
                 (long long)json_integer_value(json_object_get(rollout, "total")));
    snprintf(hash, sizeof hash, "%s", api_str(rev, "hash"));
    tbl_row(t, num, outcome, api_str(rev, "by"), api_str(rev, "at"), hash, api_str(rev, "reason"));
}

static int cfg_history_print(json_t *v, void *ud, err_t *err)
{
    tbl t;
    size_t i;
    json_t *rev;
    (void)ud;
    tbl_init(&t, "REV", "OUTCOME", "BY", "AT", "HASH", "REASON", NULL);
    json_array_foreach(json_object_get(v, "revisions"), i, rev)
        cfg_history_row(&t, rev, json_object_get(v, "rollout"));
    int rc = tbl_print(&t, err);
    tbl_free(&t);
    return rc;
}

int cfg_history(const cfg_global *g, int argc, char **argv)
{
    api_args args;
    api_target t;
    api_req req = {.method = "GET"};
    int rc = api_args_target(&cfg_history_cmd, g, argc, argv, &args, API_TARGET_NAME, &t, NULL);
    if (rc != API_GO_ON)
        return rc;
    api_target_path(&t, "/revisions", req.path, sizeof req.path);
    return api_run(&args, &req, cfg_history_print, NULL);
}
