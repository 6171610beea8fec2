/* dokkaacfg set APP/NAME FILE|- - create or replace a manifest. The builder
 * validates it as the conductors will and stores nothing when it is invalid; the
 * file is sent as written, so that `get` shows it as it was. Then, unless
 * --detach, it waits until the scheduler has rolled the change out
 * (rollout_wait.c), for the revision whose hash is the written manifest's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "dokkaa/manifest.h"

enum { CFG_SET_DRY_RUN = 256, CFG_SET_DETACH };

typedef struct cfg_set_ctx {
    api_target t;
    bool dry_run, detach;
} cfg_set_ctx;

static int cfg_set_opt(void *ud, int val, const char *arg, err_t *err)
{
    cfg_set_ctx *c = ud;
    (void)arg, (void)err;
    if (val == CFG_SET_DRY_RUN)
        c->dry_run = true;
    else
        c->detach = true;
    return API_OK;
}

static const api_cmd cfg_set_cmd = {
    "set", "[-o json] [--dry-run] [--detach] APP/NAME FILE|-\n"
           "  create or replace the manifest APP/NAME with FILE (- for stdin); an invalid\n"
           "  one is refused with what is wrong, and nothing is stored. Then wait until\n"
           "  the change has rolled out, printing each batch's progress:\n"
           "    web/nginx: revision 5: 2/4 updated, 0 failed\n"
           "    web/nginx: revision 5 rolled out: 4/4 healthy\n"
           "  --dry-run  only validate it, on the builder\n"
           "  --detach   do not wait: the rollout goes on in the cluster\n"
           "  -o json    the API's answer (PUT /api/v1/apps/APP/NAME); progress on stderr\n"
           "  exit 0 rolled out, 6 it failed (rolled back, paused, failed), 7 superseded by\n"
           "  a newer revision, 130 interrupted (the rollout goes on); 1, 3, 4, 5 as always\n",
    2, 2,
    (const struct option[]){{"dry-run", no_argument, 0, CFG_SET_DRY_RUN},
                            {"detach", no_argument, 0, CFG_SET_DETACH},
                            {0, 0, 0, 0}},
    cfg_set_opt};

static int cfg_set_print(json_t *v, void *ud, err_t *err)
{
    const cfg_set_ctx *c = ud;
    (void)err;
    if (c->dry_run)
        printf("%s/%s: valid (dry run: nothing stored)\n", c->t.app, c->t.name);
    else
        printf("%s/%s: %s (revision %lld)\n", c->t.app, c->t.name,
               json_is_true(json_object_get(v, "created")) ? "created" : "updated",
               (long long)json_integer_value(json_object_get(v, "revision")));
    return API_OK;
}

/* The manifest's text from path, or stdin for "-"; a file over the limit is
 * refused here, before it is sent. */
static int cfg_set_read(const char *path, char **text, size_t *len, err_t *err)
{
    bool is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f)
        return err_sys(err, "%s", path), API_INVALID;
    *text = cfg_read(f, len);
    int saved = errno;
    if (!is_stdin)
        fclose(f);
    if (!*text)
        return errno = saved, err_sys(err, "%s", path), API_INVALID;
    if (*len > MANIFEST_MAX_BYTES)
        return err_set(err, ERR_INVALID, "%s: over %d bytes, the limit of a manifest", path,
                       MANIFEST_MAX_BYTES),
               API_INVALID;
    return API_OK;
}

/* The written revision's hash and update.deadline, for the wait: the manifest's
 * own (the builder validated it as manifest_parse does), else the answer's hash. */
static int cfg_set_revision(const cfg_set_ctx *c, const char *text, size_t len, const json_t *v,
                            cfg_rollout *r, err_t *err)
{
    manifest m;
    err_t perr;
    const char *hash = api_str(v, "hash");
    if (manifest_parse(text, len, &m, &perr) == 0) {
        snprintf(r->hash, sizeof r->hash, "%s", m.hash);
        r->deadline = m.update.deadline;
        manifest_free(&m);
        return API_OK;
    }
    if (strlen(hash) + 1 != sizeof r->hash)
        return err_set(err, ERR_INVALID,
                       "%s/%s: written, but its revision cannot be told here (%.600s): use --detach",
                       c->t.app, c->t.name, perr.msg),
               API_FAIL;
    snprintf(r->hash, sizeof r->hash, "%s", hash);
    r->deadline = cfg_rollout_deadline(json_object_get(v, "manifest"));
    return API_OK;
}

/* Write, print the answer, wait. */
static int cfg_set_run(const api_args *args, cfg_set_ctx *c, const char *text, size_t len,
                       err_t *err)
{
    api *a = NULL;
    json_t *v = NULL;
    cfg_rollout r;
    api_req req = {.method = "PUT", .body = text, .body_len = len};
    bool wait = !c->dry_run && !c->detach;
    int rc = api_open(&a, &args->g, err);
    api_target_path(&c->t, c->dry_run ? "?dry_run=1" : "", req.path, sizeof req.path);
    if (rc == API_OK && wait)
        cfg_rollout_begin(&r, a, &c->t, args->json ? stderr : stdout);
    if (rc == API_OK && (rc = api_send(a, &req, &v, err)) == API_OK)
        rc = args->json ? api_print_json(v, err) : cfg_set_print(v, c, err);
    if (rc == API_OK && fflush(stdout) != 0)
        rc = (err_sys(err, "stdout"), API_FAIL);
    if (rc == API_OK && wait && (rc = cfg_set_revision(c, text, len, v, &r, err)) == API_OK)
        rc = cfg_rollout_wait(&r, err);
    json_decref(v);
    api_close(a);
    return rc;
}

int cfg_set(const cfg_global *g, int argc, char **argv)
{
    api_args args;
    cfg_set_ctx c = {0};
    size_t len = 0;
    char *text = NULL;
    err_t err;
    int rc = api_args_target(&cfg_set_cmd, g, argc, argv, &args, API_TARGET_NAME, &c.t, &c);
    if (rc != API_GO_ON)
        return rc;
    if ((rc = cfg_set_read(args.argv[1], &text, &len, &err)) == API_OK)
        rc = cfg_set_run(&args, &c, text, len, &err);
    if (rc != API_OK)
        fprintf(stderr, "dokkaacfg: %s\n", err.msg);
    free(text);
    return rc;
}
