/* api_args.c - what every app command parses the same way: -o json, --help, its
 * own options, how many arguments it takes, and the APP[/NAME[/i]] it names. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "dokkaa/manifest.h"

#define API_MAX_OPTS 16
enum { API_OPT_API = 1000, API_OPT_TOKEN }; /* beyond the commands' own */

static int api_usage_error(const api_cmd *cmd, const char *fmt, const char *what)
{
    fprintf(stderr, "dokkaacfg %s: ", cmd->name);
    fprintf(stderr, fmt, what);
    fprintf(stderr, "\nusage: dokkaacfg %s %s", cmd->name, cmd->usage);
    return API_USAGE;
}

/* The long options (ours, then the command's) and the short ones they have. */
static void api_opts_table(const api_cmd *cmd, struct option *all, char *shorts)
{
    static const struct option common[] = {{"output", required_argument, 0, 'o'},
                                           {"help", no_argument, 0, 'h'},
                                           {"api", required_argument, 0, API_OPT_API},
                                           {"token", required_argument, 0, API_OPT_TOKEN}};
    size_t n = 0, s = 0;
    shorts[s++] = ':'; /* a missing value is ':', told apart from an unknown option */
    for (size_t i = 0; i < sizeof common / sizeof *common; i++)
        all[n++] = common[i];
    strcpy(shorts + s, "o:h");
    s += 3;
    for (size_t i = 0; cmd->opts && cmd->opts[i].name && n < API_MAX_OPTS - 1; i++) {
        all[n++] = cmd->opts[i];
        if (cmd->opts[i].val < 128 && isalpha(cmd->opts[i].val)) {
            shorts[s++] = (char)cmd->opts[i].val;
            if (cmd->opts[i].has_arg)
                shorts[s++] = ':';
        }
    }
    memset(&all[n], 0, sizeof all[n]);
    shorts[s] = '\0';
}

/* One option: ours here, the command's through cmd->opt. */
static int api_opt(const api_cmd *cmd, int opt, char **argv, api_args *out, void *ud)
{
    err_t err;
    int rc;
    switch (opt) {
    case 'h': printf("usage: dokkaacfg %s %s", cmd->name, cmd->usage); return API_OK;
    case ':': return api_usage_error(cmd, "option \"%s\" needs a value", argv[optind - 1]);
    case '?': return api_usage_error(cmd, "unknown option \"%s\"", argv[optind - 1]);
    case API_OPT_API: out->g.api = optarg; return API_GO_ON;
    case API_OPT_TOKEN: out->g.token = optarg; return API_GO_ON;
    case 'o':
        if (strcmp(optarg, "json") != 0 && strcmp(optarg, "table") != 0)
            return api_usage_error(cmd, "-o: must be \"json\" or \"table\", got \"%s\"", optarg);
        out->json = strcmp(optarg, "json") == 0;
        return API_GO_ON;
    }
    if (!cmd->opt || (rc = cmd->opt(ud, opt, optarg, &err)) == API_OK)
        return API_GO_ON;
    if (rc == API_USAGE)
        return api_usage_error(cmd, "%s", err.msg);
    fprintf(stderr, "dokkaacfg: %s\n", err.msg);
    return rc;
}

int api_args_parse(const api_cmd *cmd, const cfg_global *g, int argc, char **argv, api_args *out,
                   void *ud)
{
    struct option all[API_MAX_OPTS];
    char shorts[2 * API_MAX_OPTS + 4];
    int opt, rc;
    api_opts_table(cmd, all, shorts);
    memset(out, 0, sizeof *out);
    out->g = *g;
    optind = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, shorts, all, NULL)) != -1)
        if ((rc = api_opt(cmd, opt, argv, out, ud)) != API_GO_ON)
            return rc;
    out->argc = argc - optind;
    out->argv = argv + optind;
    if (out->argc < cmd->min_args)
        return api_usage_error(cmd, "%s", "missing argument");
    if (out->argc > cmd->max_args)
        return api_usage_error(cmd, "unexpected argument \"%s\"", out->argv[cmd->max_args]);
    return API_GO_ON;
}

int api_parse_int(const char *what, const char *text, long long min, long long max,
                  long long *out, err_t *err)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end || v < min || v > max)
        return err_set(err, ERR_INVALID, "%s: must be an integer %lld..%lld, got \"%s\"", what,
                       min, max, text),
               API_INVALID;
    *out = v;
    return API_OK;
}

/* Check part as a name and copy it to out. */
static int api_target_name(const char *what, const char *part, char *out, err_t *err)
{
    if (names_check_label(what, part, err) < 0)
        return API_INVALID;
    snprintf(out, API_NAME_MAX, "%s", part);
    return API_OK;
}

int api_target_parse(const char *arg, enum api_target_kind kind, api_target *t, err_t *err)
{
    static const char *const forms[] = {"APP", "APP or APP/NAME", "APP/NAME", "APP/NAME[/i]"};
    char *copy = strdup(arg), *name, *inst = NULL;
    long long i = 0;
    int rc = API_USAGE;
    memset(t, 0, sizeof *t);
    if (!copy)
        return err_set(err, ERR_SYS, "out of memory"), API_FAIL;
    if ((name = strchr(copy, '/')))
        *name++ = '\0';
    if (name && kind == API_TARGET_INSTANCE && (inst = strchr(name, '/')))
        *inst++ = '\0';
    /* A "/" where none may be stays in the name, whose check then says so. */
    if (kind == API_TARGET_APP && name)
        name[-1] = '/', name = NULL;
    if (!name && (kind == API_TARGET_NAME || kind == API_TARGET_INSTANCE)) {
        err_set(err, ERR_INVALID, "needs %s, got \"%s\"", forms[kind], arg);
        goto out;
    }
    if ((rc = api_target_name("app name", copy, t->app, err)) != API_OK ||
        (name && (rc = api_target_name("manifest name", name, t->name, err)) != API_OK) ||
        (inst && (rc = api_parse_int("instance", inst, 0, MANIFEST_MAX_SCALE - 1, &i, err))))
        goto out;
    t->instance = (int)i;
out:
    free(copy);
    return rc;
}

int api_args_target(const api_cmd *cmd, const cfg_global *g, int argc, char **argv,
                    api_args *out, enum api_target_kind kind, api_target *t, void *ud)
{
    err_t err;
    int rc = api_args_parse(cmd, g, argc, argv, out, ud);
    memset(t, 0, sizeof *t);
    if (rc != API_GO_ON || out->argc == 0)
        return rc;
    if ((rc = api_target_parse(out->argv[0], kind, t, &err)) != API_OK) {
        fprintf(stderr, "dokkaacfg: %s\n", err.msg);
        return rc;
    }
    return API_GO_ON;
}

int api_target_command(const cfg_global *g, const api_cmd *cmd, int argc, char **argv,
                       const char *method, enum api_target_kind kind, api_print_fn human)
{
    api_args args;
    api_target t;
    api_req req = {.method = method};
    int rc = api_args_target(cmd, g, argc, argv, &args, kind, &t, NULL);
    if (rc != API_GO_ON)
        return rc;
    api_target_path(&t, "", req.path, sizeof req.path);
    return api_run(&args, &req, human, &t);
}

void api_target_path(const api_target *t, const char *suffix, char *path, size_t size)
{
    snprintf(path, size, "/api/v1/apps/%s%s%s%s", t->app, t->name[0] ? "/" : "", t->name, suffix);
}
