/* dokkaacfg - the Dokkaa CLI: parse the global options, dispatch to a command. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "dokkaa/config.h"
#include "dokkaacfg.h"
#include "provider_local.h"

static const struct cfg_command {
    const char *name;
    int (*run)(const cfg_global *, int, char **);
    const char *help;
} cfg_commands[] = {
    {"up", cfg_up, "make or grow a cluster: up --provider=local|ssh|digitalocean ... (up --help)"},
    {"down", cfg_down, "remove a cluster and all it made: down [--provider=P] [--name NAME]"},
    {"status", cfg_status, "hosts, instances; and the local or ssh cluster's own view"},
    {"push", cfg_push, "copy images from the local engine into the cluster's registry"},
    {"rebalance", cfg_rebalance, "even out instances over the hosts, without downtime"},
    {"validate", cfg_validate, "validate manifest files (- for stdin) as the cluster would"},
    {"init", cfg_init, "write the CLI's config with an admin token made in etcd: init [--api URL]"},
    {NULL, NULL, NULL}, /* the app commands, through the API, follow */
    {"ls", cfg_ls, "apps and their manifests: image, instances desired and running"},
    {"get", cfg_get, "a manifest as JSON, or an app's manifests: get APP[/NAME]"},
    {"set", cfg_set, "create or replace a manifest, wait for its rollout: set APP/NAME FILE|-"},
    {"rm", cfg_rm, "delete a manifest, or an app: rm APP[/NAME]"},
    {"scale", cfg_scale, "set how many instances run: scale APP/NAME N"},
    {"history", cfg_history, "a manifest's revisions and how their rollouts ended"},
    {"rollback", cfg_rollback, "roll back to a kept revision: rollback APP/NAME [REVISION]"},
    {"ps", cfg_ps, "instances: host, state, health, revision, age, error: ps [APP]"},
    {"logs", cfg_logs, "a container's output: logs [-f] [--tail N] APP/NAME[/i]"},
    {"hosts", cfg_hosts, "live hosts, their load, the scheduler"},
    {"events", cfg_events, "the cluster's changes as they happen"},
    {"token", cfg_token, "API tokens: token create|ls|revoke"},
};
#define CFG_NCOMMANDS (sizeof cfg_commands / sizeof *cfg_commands)

static void cfg_usage(FILE *out)
{
    fputs("usage: dokkaacfg [--api URL] [--token T] [--etcd URLS] [--provider P] COMMAND [ARGS]\n\n"
          "the cluster, through its provider and etcd:\n", out);
    for (size_t i = 0; i < CFG_NCOMMANDS; i++)
        if (cfg_commands[i].name)
            fprintf(out, "  %-10s %s\n", cfg_commands[i].name, cfg_commands[i].help);
        else
            fputs("\nthe apps, through the API of any host's builder (port 4001):\n", out);
    fputs("\n  --api URL     the API (default: $DOKKAA_API, else the config's, else " API_DEFAULT_URL
          ")\n"
          "  --token T     the API token (default: $DOKKAA_TOKEN, else the config's; \"\" for none)\n"
          "  --etcd URLS   etcd endpoints (default: $ETCD_ADDR, else http://127.0.0.1:2379)\n"
          "  --provider P  for up and down: local, ssh or digitalocean\n"
          "  (--api and --token may also follow an app command)\n\n"
          "The config, $XDG_CONFIG_HOME/dokkaa/config.json (else ~/.config/dokkaa/), is written\n"
          "by up and init: {\"api\": URL, \"token\": \"dk_...\"}. The app commands print tables,\n"
          "or with -o json the API's answer. `dokkaacfg COMMAND --help` tells more.\n"
          "Exit codes: 0 ok, 1 failure, 2 usage, 3 not found, 4 unauthorized or forbidden,\n"
          "5 invalid input; set and rollback, which wait for the rollout (unless --detach):\n"
          "0 rolled out, 6 it failed (rolled back, paused or failed), 7 superseded by a\n"
          "newer revision, 130 interrupted (the rollout goes on in the cluster).\n", out);
}

/* Without --etcd or $ETCD_ADDR, commands speak to the default local cluster's
 * etcd ($DOKKAA_CLUSTER, else "dokkaa": config_cluster) when `up` made one, so that
 * they work right after `dokkaacfg up`. */
static void cfg_default_etcd(cfg_global *g)
{
    provider_local pl;
    char name[64]; /* a DNS label and its NUL */
    if (!g->etcd_given && config_cluster(NULL, name, sizeof name, NULL) == 0 &&
        provider_local_init(&pl, name, -1, NULL) == 0 && pl.saved)
        snprintf(g->etcd, sizeof g->etcd, "%s", pl.etcd);
}

/* The seed writes `dokkaacfg --provider=digitalocean up --scale=2 ...`: options of
 * a command may come before it. Those that are not the global ones move to just
 * after the command, in their order, so the command parses them as its own.
 * An option's value is its "=..." part, or the next word for the commands'
 * options that take one. */
static void cfg_reorder(int argc, char **argv)
{
    static const char *const global[] = {"--etcd", "--api", "--token", "--provider", NULL};
    static const char *const valued[] = {"--scale", "--ssh_key", "--ssh-key", "--region", "--size",
                                         "--image", "--api-url", "--name", "--host", "--identity",
                                         "--trust", "--package", "--net", NULL};
    char *out[argc], *moved[argc]; /* argv is permuted in place, as getopt does */
    int n = 0, m = 0, i = 1;
    for (; i < argc && argv[i][0] == '-' && strcmp(argv[i], "--") != 0; i++) {
        size_t len = strcspn(argv[i], "=");
        bool has_value = argv[i][len] == '=', is_global = false, takes = false;
        for (int k = 0; global[k]; k++)
            is_global |= strlen(global[k]) == len && strncmp(argv[i], global[k], len) == 0;
        for (int k = 0; valued[k] && !is_global; k++)
            takes |= strlen(valued[k]) == len && strncmp(argv[i], valued[k], len) == 0;
        char **to = is_global ? out : moved;
        int *at = is_global ? &n : &m;
        to[(*at)++] = argv[i];
        if (!has_value && (is_global || takes) && i + 1 < argc)
            to[(*at)++] = argv[++i];
    }
    if (i < argc)
        out[n++] = argv[i++]; /* the command */
    for (int k = 0; k < m; k++)
        out[n++] = moved[k];
    while (i < argc)
        out[n++] = argv[i++];
    memcpy(argv + 1, out, (size_t)n * sizeof *out);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"etcd", required_argument, 0, 'e'},
                                         {"api", required_argument, 0, 'a'},
                                         {"token", required_argument, 0, 't'},
                                         {"provider", required_argument, 0, 'p'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    cfg_global g = {.etcd_given = getenv("ETCD_ADDR") && *getenv("ETCD_ADDR")};
    int opt;

    err_t err = {0}; /* ETCD_ADDR's, unless --etcd replaces it */
    bool etcd_bad = config_etcd_endpoints(g.etcd, sizeof g.etcd, getenv("ETCD_ADDR"), "ETCD_ADDR",
                                          &err) < 0;
    cfg_reorder(argc, argv);
    while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (opt) {
        case 'e':
            etcd_bad = config_etcd_endpoints(g.etcd, sizeof g.etcd, optarg, "--etcd", &err) < 0;
            g.etcd_given = true;
            break;
        case 'a': g.api = optarg; break;
        case 't': g.token = optarg; break;
        case 'p': g.provider = optarg; break;
        case 'h': cfg_usage(stdout); return 0;
        default: cfg_usage(stderr); return 2;
        }
    }
    if (etcd_bad) {
        fprintf(stderr, "dokkaacfg: %s\n", err.msg);
        return 2;
    }
    if (optind == argc) {
        cfg_usage(stderr);
        return 2;
    }
    cfg_default_etcd(&g);
    for (size_t i = 0; i < CFG_NCOMMANDS; i++)
        if (cfg_commands[i].name && strcmp(argv[optind], cfg_commands[i].name) == 0)
            return cfg_commands[i].run(&g, argc - optind, argv + optind);
    fprintf(stderr, "dokkaacfg: unknown command \"%s\"\n", argv[optind]);
    cfg_usage(stderr);
    return 2;
}
