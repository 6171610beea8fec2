/* dokkaacfg up --provider=local --scale=N [--name NAME] [--net N] - make a
 * cluster of N hosts on this machine, or complete or grow the one there is; then
 * write the CLI's config, with an admin token, for its API. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokkaa/config.h"
#include "dokkaacfg.h"
#include "provider_local.h"

static void cfg_up_usage(FILE *out)
{
    fprintf(out, "usage: dokkaacfg up --provider=local --scale=N [--name NAME] [--net N]\n"
                 "  --provider=local  hosts are network namespaces on this machine (the only provider)\n"
                 "  --scale=N         hosts, 1..%d (default 1); a larger N adds hosts\n"
                 "  --name NAME       cluster name (default %s): a second cluster beside the first\n"
                 "  --net N           its network 10.88.N.0/24 (default: 0 for %s, else from NAME)\n",
            PROVIDER_LOCAL_MAX_HOSTS, PROVIDER_LOCAL_DEFAULT_NAME, PROVIDER_LOCAL_DEFAULT_NAME);
}

/* The CLI's config, for the API of the first host. The cluster is up either
 * way: a config that could not be written is said as such. */
static int cfg_up_config(const provider_local *pl, err_t *err)
{
    char api[64];
    snprintf(api, sizeof api, "http://10.88.%d.11:4001", pl->net);
    if (cfg_admin_config(pl->etcd, api, err) < 0)
        return err_prefix(err, "the cluster is up, but the CLI's config is not written");
    return 0;
}

int cfg_up(const cfg_global *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"provider", required_argument, 0, 'p'}, {"scale", required_argument, 0, 's'},
        {"name", required_argument, 0, 'n'},     {"net", required_argument, 0, 'N'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    const char *name = PROVIDER_LOCAL_DEFAULT_NAME;
    int scale = 1, net = -1, opt;
    provider_local *pl = NULL;
    err_t err;
    (void)g;
    optind = 0;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'p':
            if (strcmp(optarg, "local") != 0) {
                fprintf(stderr, "dokkaacfg up: unknown provider \"%s\"; valid: local\n", optarg);
                return 2;
            }
            break;
        case 's':
            if (config_int("--scale", optarg, 1, PROVIDER_LOCAL_MAX_HOSTS, &scale) < 0)
                return 2;
            break;
        case 'N':
            if (config_int("--net", optarg, 0, 254, &net) < 0)
                return 2;
            break;
        case 'n': name = optarg; break;
        case 'h': cfg_up_usage(stdout); return 0;
        default: cfg_up_usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        cfg_up_usage(stderr);
        return 2;
    }
    if (!(pl = calloc(1, sizeof *pl)) || provider_local_init(pl, name, net, &err) < 0 ||
        provider_local_up(pl, scale, &err) < 0) {
        fprintf(stderr, "dokkaacfg up: %s\n", pl ? err.msg : "out of memory");
        if (pl)
            fprintf(stderr, "dokkaacfg up: what was made stays; `dokkaacfg down%s%s` removes it\n",
                    strcmp(name, PROVIDER_LOCAL_DEFAULT_NAME) ? " --name " : "",
                    strcmp(name, PROVIDER_LOCAL_DEFAULT_NAME) ? name : "");
        free(pl);
        return 1;
    }
    int rc = cfg_up_config(pl, &err) < 0;
    if (rc)
        fprintf(stderr, "dokkaacfg up: %s\n", err.msg);
    free(pl);
    return rc;
}
