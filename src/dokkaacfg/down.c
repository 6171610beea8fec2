/* dokkaacfg down - remove a cluster and everything it made, also a half-made one.
 *
 *   local         namespaces, daemons, bridge, state (also after a failed up)
 *   ssh           Dokkaa off every host (or only the --host ones: a host taken out)
 *   digitalocean  the cluster's droplets deleted
 * Without --provider, the provider that made the cluster of that name. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokkaa/config.h"
#include "dokkaacfg.h"
#include "provider_do.h"
#include "provider_local.h"
#include "provider_ssh.h"

static const char cfg_down_usage[] =
    "usage: dokkaacfg down [--provider=local|ssh|digitalocean] [--name NAME]\n"
    "                      [--host [USER@]ADDR ...] [--api-url URL]\n"
    "  --host ADDR    ssh: take only these hosts out of the cluster (default: all)\n"
    "  --api-url URL  digitalocean: the API (default $DIGITALOCEAN_API_URL, else the real one)\n";

static int cfg_down_local(const char *name)
{
    provider_local *pl = calloc(1, sizeof *pl);
    err_t err;
    int rc = 0;
    if (!pl || provider_local_init(pl, name, -1, &err) < 0 || provider_local_down(pl, &err) < 0) {
        fprintf(stderr, "dokkaacfg down: %s\n", pl ? err.msg : "out of memory");
        rc = 1;
    }
    free(pl);
    return rc;
}

static int cfg_down_ssh(ssh_cluster *c, char *const *hosts, int nhosts)
{
    err_t err;
    if (!c->nhosts) {
        fprintf(stderr, "dokkaacfg down: no cluster %s made by the ssh provider here\n", c->name);
        return 1;
    }
    for (size_t i = 0; i < c->nhosts; i++) /* without --host: every host */
        c->hosts[i].leaving = nhosts == 0;
    for (int i = 0; i < nhosts; i++) {
        ssh_host *h = provider_ssh_find(c, hosts[i], &err);
        if (!h) {
            fprintf(stderr, "dokkaacfg down: %s\n", err.msg);
            return 2;
        }
        h->leaving = true;
    }
    if (provider_ssh_down(c, &err) < 0) {
        fprintf(stderr, "dokkaacfg down: %s\n", err.msg);
        return 1;
    }
    return 0;
}

int cfg_down(const cfg_global *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"name", required_argument, 0, 'n'},     {"provider", required_argument, 0, 'p'},
        {"host", required_argument, 0, 'H'},     {"api-url", required_argument, 0, 'u'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    const char *given = NULL, *provider = g->provider, *api_url = NULL;
    char name[64]; /* a DNS label and its NUL */
    char *hosts[PROVIDER_SSH_MAX_HOSTS];
    int nhosts = 0, opt, rc;
    ssh_cluster *c = NULL;
    err_t err;
    optind = 0;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'n': given = optarg; break;
        case 'p': provider = optarg; break;
        case 'u': api_url = optarg; break;
        case 'H':
            if (nhosts < PROVIDER_SSH_MAX_HOSTS)
                hosts[nhosts++] = optarg;
            break;
        case 'h': fputs(cfg_down_usage, stdout); return 0;
        default: fputs(cfg_down_usage, stderr); return 2;
        }
    }
    if (config_cluster(given, name, sizeof name, &err) < 0) {
        fprintf(stderr, "dokkaacfg down: %s\n", err.msg);
        return 1;
    }
    if (provider && strcmp(provider, "local") == 0)
        return cfg_down_local(name);
    if (!(c = calloc(1, sizeof *c)) || provider_ssh_load(c, name, &err) < 0) {
        fprintf(stderr, "dokkaacfg down: %s\n", c ? err.msg : "out of memory");
        free(c);
        return 1;
    }
    if (!provider) /* the provider that made a cluster of that name, else local */
        provider = c->nhosts ? c->provider : "local";
    if (strcmp(provider, "local") == 0)
        rc = cfg_down_local(name);
    else if (strcmp(provider, "ssh") == 0)
        rc = cfg_down_ssh(c, hosts, nhosts);
    else if (strcmp(provider, "digitalocean") == 0)
        rc = provider_do_down(name, api_url);
    else {
        fprintf(stderr, "dokkaacfg down: unknown provider \"%s\"; valid: local, ssh, digitalocean\n",
                provider);
        rc = 2;
    }
    free(c);
    return rc;
}
