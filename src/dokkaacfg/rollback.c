/* dokkaacfg rollback APP/NAME [REVISION] - write a kept revision's manifest back
 * (by default the newest that rolled out and differs from the current one); the
 * scheduler rolls it out as a new revision, which this waits for as set does
 * (rollout_wait.c) unless --detach. */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "dokkaa/keys.h"

typedef struct cfg_rollback_ctx {
    api_target t;
    bool detach;
} cfg_rollback_ctx;

static int cfg_rollback_opt(void *ud, int val, const char *arg, err_t *err)
{
    (void)val, (void)arg, (void)err;
    ((cfg_rollback_ctx *)ud)->detach = true; /* its only option */
    return API_OK;
}

static const api_cmd cfg_rollback_cmd = {
    "rollback", "[-o json] [--detach] APP/NAME [REVISION]\n"
                "  write revision REVISION of APP/NAME back (history lists them); without one,\n"
                "  the newest that rolled out with another manifest than the current one.\n"
                "  It rolls out as a new revision; then wait as set does:\n"
                "    web/nginx: rolling back to revision 3\n"
                "    web/nginx: revision 7: 1/2 updated, 0 failed\n"
                "    web/nginx: revision 7 rolled out: 2/2 healthy\n"
                "  --detach  do not wait: the rollout goes on in the cluster\n"
                "  -o json   the API's answer (POST /api/v1/apps/APP/NAME/rollback); progress\n"
                "            on stderr\n"
                "  exit 0 rolled out, 6 it failed (rolled back, paused, failed), 7 superseded,\n"
                "  130 interrupted (the rollout goes on); 1, 3, 4, 5 as always\n",
    1, 2,
    (const struct option[]){{"detach", no_argument, 0, 256}, {0, 0, 0, 0}},
    cfg_rollback_opt};

/* Send the rollback, say what it does, wait. */
static int cfg_rollback_run(const api_args *args, const cfg_rollback_ctx *c, const char *body,
                            err_t *err)
{
    api *a = NULL;
    json_t *v = NULL;
    cfg_rollout r;
    api_req req = {.method = "POST", .body = body, .body_len = strlen(body)};
    int rc = api_open(&a, &args->g, err);
    api_target_path(&c->t, "/rollback", req.path, sizeof req.path);
    if (rc == API_OK && !c->detach)
        cfg_rollout_begin(&r, a, &c->t, args->json ? stderr : stdout);
    if (rc == API_OK && (rc = api_send(a, &req, &v, err)) == API_OK) {
        if (args->json)
            rc = api_print_json(v, err);
        else
            printf("%s/%s: rolling back to revision %lld\n", c->t.app, c->t.name,
                   (long long)json_integer_value(json_object_get(v, "revision")));
    }
    if (rc == API_OK && fflush(stdout) != 0)
        rc = (err_sys(err, "stdout"), API_FAIL);
    if (rc == API_OK && !c->detach) {
        snprintf(r.hash, sizeof r.hash, "%s", api_str(v, "hash"));
        r.deadline = 0; /* the revision's own, from the history */
        if (strlen(api_str(v, "hash")) + 1 != sizeof r.hash)
            rc = (err_set(err, ERR_REMOTE, "%s/%s: the API's answer has no revision hash to "
                                           "wait for: use --detach", c->t.app, c->t.name),
                  API_FAIL);
        else
            rc = cfg_rollout_wait(&r, err);
    }
    json_decref(v);
    api_close(a);
    return rc;
}

int cfg_rollback(const cfg_global *g, int argc, char **argv)
{
    api_args args;
    cfg_rollback_ctx c = {0};
    char body[64] = "{}"; /* the builder's choice of revision */
    long long n;
    err_t err;
    int rc = api_args_target(&cfg_rollback_cmd, g, argc, argv, &args, API_TARGET_NAME, &c.t, &c);
    if (rc != API_GO_ON)
        return rc;
    if (args.argc > 1 &&
        (rc = api_parse_int("revision", args.argv[1], 1, KEYS_MAX_REVISION, &n, &err)) == API_OK)
        snprintf(body, sizeof body, "{\"revision\":%lld}", n);
    if (rc == API_GO_ON || rc == API_OK)
        rc = cfg_rollback_run(&args, &c, body, &err);
    if (rc != API_OK)
        fprintf(stderr, "dokkaacfg: %s\n", err.msg);
    return rc;
}
