/* dokkaacfg up --provider=local --scale=N [--name NAME] [--net N] - make a
 * cluster of N hosts on this machine, or complete or grow the one there is. */
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
    free(pl);
    return 0;
}
