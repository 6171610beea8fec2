/* dokkaacfg set APP/NAME FILE|- - create or replace a manifest. The builder
 * validates it as the conductors will and stores nothing when it is invalid; the
 * file is sent as written, so that `get` shows it as it was. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "dokkaa/manifest.h"

typedef struct cfg_set_ctx {
    api_target t;
    bool dry_run;
} cfg_set_ctx;

static int cfg_set_opt(void *ud, int val, const char *arg, err_t *err)
{
    (void)val, (void)arg, (void)err;
    ((cfg_set_ctx *)ud)->dry_run = true; /* its only option */
    return API_OK;
}

static const api_cmd cfg_set_cmd = {
    "set", "[-o json] [--dry-run] APP/NAME FILE|-\n"
           "  create or replace the manifest APP/NAME with FILE (- for stdin); an invalid\n"
           "  one is refused with what is wrong, and nothing is stored\n"
           "  --dry-run  only validate it, on the builder\n"
           "  -o json    the API's answer (PUT /api/v1/apps/APP/NAME)\n",
    2, 2,
    (const struct option[]){{"dry-run", no_argument, 0, 256}, {0, 0, 0, 0}},
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

int cfg_set(const cfg_global *g, int argc, char **argv)
{
    api_args args;
    cfg_set_ctx c = {0};
    api_req req = {.method = "PUT"};
    char *text = NULL;
    err_t err;
    int rc = api_args_target(&cfg_set_cmd, g, argc, argv, &args, API_TARGET_NAME, &c.t, &c);
    if (rc != API_GO_ON)
        return rc;
    if ((rc = cfg_set_read(args.argv[1], &text, &req.body_len, &err)) != API_OK) {
        fprintf(stderr, "dokkaacfg: %s\n", err.msg);
        free(text);
        return rc;
    }
    req.body = text;
    api_target_path(&c.t, c.dry_run ? "?dry_run=1" : "", req.path, sizeof req.path);
    rc = api_run(&args, &req, cfg_set_print, &c);
    free(text);
    return rc;
}
