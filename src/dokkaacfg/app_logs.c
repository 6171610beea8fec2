/* dokkaacfg logs [-f] [--tail N] APP/NAME[/i] - a container's output, from
 * whichever host runs it (the builder asked finds it), written to stdout as it
 * comes. */
#include <stdio.h>

#include "api.h"

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
            "  -f, --follow  keep printing what it writes, until interrupted\n"
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

int cfg_logs(const cfg_global *g, int argc, char **argv)
{
    api_args args;
    api_target t;
    cfg_logs_ctx c = {.tail = -1};
    api_req req = {.method = "GET", .stream = cfg_logs_write};
    char suffix[96];
    int rc = api_args_target(&cfg_logs_cmd, g, argc, argv, &args, API_TARGET_INSTANCE, &t, &c);
    if (rc != API_GO_ON)
        return rc;
    int n = snprintf(suffix, sizeof suffix, "/instances/%d/logs?follow=%d", t.instance, c.follow);
    if (c.tail >= 0)
        snprintf(suffix + n, sizeof suffix - (size_t)n, "&tail=%lld", c.tail);
    api_target_path(&t, suffix, req.path, sizeof req.path);
    return api_run(&args, &req, NULL, NULL);
}
