/* dokkaacfg down [--name NAME] - remove a local cluster and everything it made,
 * also a half-made one. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "dokkaacfg.h"
#include "provider_local.h"

int cfg_down(const cfg_global *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"name", required_argument, 0, 'n'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *name = PROVIDER_LOCAL_DEFAULT_NAME;
    provider_local *pl;
    err_t err;
    int opt;
    (void)g;
    optind = 0;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'n': name = optarg; break;
        case 'h': puts("usage: dokkaacfg down [--name NAME]"); return 0;
        default: fputs("usage: dokkaacfg down [--name NAME]\n", stderr); return 2;
        }
    }
    if (!(pl = calloc(1, sizeof *pl)) || provider_local_init(pl, name, -1, &err) < 0 ||
        provider_local_down(pl, &err) < 0) {
        fprintf(stderr, "dokkaacfg down: %s\n", pl ? err.msg : "out of memory");
        free(pl);
        return 1;
    }
    free(pl);
    return 0;
}
