/* dokkaacfg - the Dokkaa CLI: parse the global options, dispatch to a command. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokkaa/config.h"
#include "dokkaacfg.h"
#include "provider_local.h"

static const struct cfg_command {
    const char *name;
    int (*run)(const cfg_global *, int, char **);
    const char *help;
} cfg_commands[] = {
    {"up", cfg_up, "make a local cluster: up --provider=local --scale=N [--name NAME]"},
    {"down", cfg_down, "remove a local cluster and all it made: down [--name NAME]"},
    {"status", cfg_status, "hosts, instances; with a local cluster, its hosts, etcd and engines"},
    {"rebalance", cfg_rebalance, "even out instances over the hosts, without downtime"},
    {"validate", cfg_validate, "validate manifest files (- for stdin) as the cluster would"},
};

static void cfg_usage(FILE *out)
{
    fputs("usage: dokkaacfg [--etcd URLS] COMMAND [ARGS]\n\n"
          "  --etcd URLS   etcd endpoints (default: $ETCD_ADDR, else http://127.0.0.1:2379)\n\n"
          "commands:\n", out);
    for (size_t i = 0; i < sizeof cfg_commands / sizeof *cfg_commands; i++)
        fprintf(out, "  %-10s %s\n", cfg_commands[i].name, cfg_commands[i].help);
}

/* Without --etcd or $ETCD_ADDR, commands speak to the default local cluster's
 * etcd when `up` made one, so that they work right after `dokkaacfg up`. */
static void cfg_default_etcd(cfg_global *g)
{
    provider_local pl;
    if (!g->etcd_given && provider_local_init(&pl, PROVIDER_LOCAL_DEFAULT_NAME, -1, NULL) == 0 &&
        pl.saved)
        snprintf(g->etcd, sizeof g->etcd, "%s", pl.etcd);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"etcd", required_argument, 0, 'e'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    cfg_global g = {.etcd_given = getenv("ETCD_ADDR") && *getenv("ETCD_ADDR")};
    int opt;

    config_etcd_endpoints(g.etcd, sizeof g.etcd, getenv("ETCD_ADDR"));
    while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (opt) {
        case 'e':
            config_etcd_endpoints(g.etcd, sizeof g.etcd, optarg);
            g.etcd_given = true;
            break;
        case 'h': cfg_usage(stdout); return 0;
        default: cfg_usage(stderr); return 2;
        }
    }
    if (optind == argc) {
        cfg_usage(stderr);
        return 2;
    }
    cfg_default_etcd(&g);
    for (size_t i = 0; i < sizeof cfg_commands / sizeof *cfg_commands; i++)
        if (strcmp(argv[optind], cfg_commands[i].name) == 0)
            return cfg_commands[i].run(&g, argc - optind, argv + optind);
    fprintf(stderr, "dokkaacfg: unknown command \"%s\"\n", argv[optind]);
    cfg_usage(stderr);
    return 2;
}
