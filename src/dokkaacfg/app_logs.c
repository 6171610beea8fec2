/* dokkaacfg logs [-f] [--tail N] APP/NAME[/i] - a container's output, from
 * whichever host runs it (the builder asked finds it), written to stdout as it
 * comes. With -f, an instance of the manifest that has no container yet (just
 * placed, or being replaced) is waited for. */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "dokkaa/sleep.h"

#define CFG_LOGS_RETRY_MS 500

typedef struct cfg_logs_ctx {
    bool follow;
    long long tail; /* -1: all */
} cfg_logs_ctx;

static int cfg_logs_opt(void *ud, int val, const char *arg, err_t *err)
{
    cfg_logs_ctx *c = ud;
    if (val == 'f') {
        c->follow = true;
        return API_OK;
    }
    return api_parse_int("--tail", arg, 0, 1000000000, &c->tail, err) == API_OK ? API_OK
                                                                                : API_USAGE;
}

static const api_cmd cfg_logs_cmd = {
    "logs", "[-f] [--tail N] APP/NAME[/i]\n"
            "  the output (stdout and stderr) of instance i (default 0) of APP/NAME, from\n"
            "  whichever host runs it\n"
            "  -f, --follow  keep printing what it writes, until interrupted; wait for an\n"
            "                instance that has no container yet\n"
            "  --tail N      start with its last N lines only\n",
    1, 1,
    (const struct option[]){{"follow", no_argument, 0, 'f'},
                            {"tail", required_argument, 0, 256},
                            {0, 0, 0, 0}},
    cfg_logs_opt};

/* Each piece of the output as it comes: a line may take seconds to complete. */
static bool cfg_logs_write(void *ud, const char *data, size_t len)
{
    (void)ud;
    return fwrite(data, 1, len, stdout) == len && fflush(stdout) == 0;
}

/* Whether the instance will have a container: the builder said it has none yet
 * (404, "... has no container ..."), or knows no status of it while its manifest
 * asks for it (a scale just raised). */
static bool cfg_logs_coming(api *a, const api_target *t, const err_t *said)
{
    api_req req = {.method = "GET"};
    json_t *v = NULL, *scale;
    err_t err;
    bool coming;
    if (strstr(said->msg, "has no container"))
        return true;
    if (strncmp(said->msg, "no instance ", 12) != 0)
        return false;
    api_target_path(t, "", req.path, sizeof req.path);
    coming = api_send(a, &req, &v, &err) == API_OK &&
             json_is_object(json_object_get(v, "manifest"));
    scale = json_object_get(json_object_get(v, "manifest"), "scale");
    coming = coming && t->instance < (scale ? json_integer_value(scale) : 1);
    json_decref(v);
    return coming;
}

/* The stream; with -f, retried every 500 ms while the container is to come. */
static int cfg_logs_run(const api_args *args, const api_target *t, const cfg_logs_ctx *c,
                        api_req *req, err_t *err)
{
    api *a = NULL;
    bool said = false;
    int rc = api_open(&a, &args->g, err);
    while (rc == API_OK) {
        rc = api_send(a, req, NULL, err);
        if (rc != API_NOTFOUND || !c->follow || !cfg_logs_coming(a, t, err))
            break;
        if (!said)
            fprintf(stderr, "%s/%s/%d: waiting for its container...\n", t->app, t->name,
                    t->instance);
        said = true;
        api_catch_signals();
        /* interrupted while it waits: the end of a stream that had nothing to say */
        if (!sleep_ms(CFG_LOGS_RETRY_MS, api_stop_flag()))
            break;
        rc = API_OK;
    }
    if (rc == API_NOTFOUND && said && api_interrupted())
        rc = API_OK;
    if (rc == API_OK && fflush(stdout) != 0)
        rc = (err_sys(err, "stdout"), API_FAIL);
    api_close(a);
    return rc;
}

int cfg_logs(const cfg_global *g, int argc, char **argv)
{
    api_args args;
    api_target t;
    cfg_logs_ctx c = {.tail = -1};
    api_req req = {.method = "GET", .stream = cfg_logs_write};
    char suffix[96];
    err_t err;
    int rc = api_args_target(&cfg_logs_cmd, g, argc, argv, &args, API_TARGET_INSTANCE, &t, &c);
    if (rc != API_GO_ON)
        return rc;
    int n = snprintf(suffix, sizeof suffix, "/instances/%d/logs?follow=%d", t.instance, c.follow);
    if (c.tail >= 0)
        snprintf(suffix + n, sizeof suffix - (size_t)n, "&tail=%lld", c.tail);
    api_target_path(&t, suffix, req.path, sizeof req.path);
    if ((rc = cfg_logs_run(&args, &t, &c, &req, &err)) != API_OK)
        fprintf(stderr, "dokkaacfg: %s\n", err.msg);
    return rc;
}
