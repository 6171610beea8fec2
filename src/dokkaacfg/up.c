/* dokkaacfg up - make a cluster, or complete or grow the one there is; then write
 * the CLI's config, with an admin token, for its API.
 *
 *   --provider=local         hosts are network namespaces on this machine
 *   --provider=ssh           Debian 12 machines reachable as root over SSH
 *   --provider=digitalocean  droplets made through DigitalOcean's API, then as ssh
 *
 * --provider may also come before the command (`dokkaacfg --provider=X up`), as
 * the seed writes it. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokkaa/config.h"
#include "dokkaacfg.h"
#include "provider_do.h"
#include "provider_local.h"
#include "provider_ssh.h"

static void cfg_up_usage(FILE *out)
{
    fprintf(out,
            "usage: dokkaacfg up --provider=local --scale=N [--name NAME] [--net N]\n"
            "       dokkaacfg up --provider=ssh --host [USER@]ADDR [--host ...] [--identity FILE]\n"
            "                    [--name NAME] [--trust CIDR] [--package FILE]\n"
            "       dokkaacfg up --provider=digitalocean --scale=N --ssh_key=NAME [--region R]\n"
            "                    [--size S] [--image I] [--identity FILE] [--name NAME]\n"
            "                    [--trust CIDR] [--package FILE] [--api-url URL]\n"
            "  --provider=P      local (default), ssh or digitalocean\n"
            "  --name NAME       cluster name (default %s)\n"
            "local:\n"
            "  --scale=N         hosts, 1..%d (default 1); a larger N adds hosts\n"
            "  --net N           its network 10.88.N.0/24 (default: 0 for %s, else from NAME)\n"
            "ssh (the first three hosts are etcd members; again with more --host to add hosts):\n"
            "  --host [USER@]ADDR  a Debian 12 machine, root or with sudo (repeatable)\n"
            "  --identity FILE   the SSH key (default: ssh's own: the agent, ~/.ssh)\n"
            "  --trust CIDR      a network whose clients may use port 4001 without a token\n"
            "                    (the seed's curl commands), besides loopback (repeatable)\n"
            "  --package FILE    the dokkaa .deb to install (default: the one `make deb` built\n"
            "                    beside this program)\n"
            "digitalocean (reads $DIGITALOCEAN_ACCESS_TOKEN; again with another --scale to add\n"
            "or remove droplets):\n"
            "  --scale=N         droplets, 1..%d\n"
            "  --ssh_key=NAME    the name of an SSH key of your DigitalOcean account\n"
            "  --region R        (default %s)  --size S (default %s)  --image I (default %s)\n"
            "  --api-url URL     the API (default: $DIGITALOCEAN_API_URL, else %s)\n",
            CONFIG_CLUSTER_DEFAULT, PROVIDER_LOCAL_MAX_HOSTS, CONFIG_CLUSTER_DEFAULT,
            PROVIDER_DO_MAX_DROPLETS, PROVIDER_DO_REGION, PROVIDER_DO_SIZE, PROVIDER_DO_IMAGE,
            PROVIDER_DO_API_URL);
}

/* The CLI's config, for the API of the first host. The cluster is up either
 * way: a config that could not be written is said as such. */
static int cfg_up_config(const provider_local *pl, err_t *err)
{
    char api[64];
    snprintf(api, sizeof api, "http://10.88.%d.11:4001", pl->net);
    if (cfg_admin_config(pl->etcd, api, NULL, NULL, err) < 0)
        return err_prefix(err, "the cluster is up, but the CLI's config is not written");
    return 0;
}

static int cfg_up_local(const char *name, int scale, int net)
{
    provider_local *pl = calloc(1, sizeof *pl);
    err_t err;
    if (!pl || provider_local_init(pl, name, net, &err) < 0 || provider_local_up(pl, scale, &err) < 0) {
        fprintf(stderr, "dokkaacfg up: %s\n", pl ? err.msg : "out of memory");
        if (pl)
            fprintf(stderr, "dokkaacfg up: what was made stays; `dokkaacfg down%s%s` removes it\n",
                    strcmp(name, CONFIG_CLUSTER_DEFAULT) ? " --name " : "",
                    strcmp(name, CONFIG_CLUSTER_DEFAULT) ? name : "");
        free(pl);
        return 1;
    }
    int rc = cfg_up_config(pl, &err) < 0;
    if (rc)
        fprintf(stderr, "dokkaacfg up: %s\n", err.msg);
    free(pl);
    return rc;
}

/* What the three providers' options fill. */
typedef struct cfg_up_opts {
    const char *provider, *name, *identity, *package;
    const char *hosts[PROVIDER_SSH_MAX_HOSTS];
    const char *trust[PROVIDER_SSH_MAX_TRUST];
    int nhosts, ntrust, scale, net;
    provider_do_opts droplets;
} cfg_up_opts;

static int cfg_up_ssh(const cfg_up_opts *o)
{
    ssh_cluster *c = calloc(1, sizeof *c);
    err_t err;
    int rc = 1;
    if (!c) {
        fputs("dokkaacfg up: out of memory\n", stderr);
        return 1;
    }
    if (provider_ssh_open(c, o->name, "ssh", o->identity, o->trust, o->ntrust, &err) < 0)
        goto fail;
    for (int i = 0; i < o->nhosts; i++)
        if (provider_ssh_add_host(c, o->hosts[i], &err) < 0)
            goto fail;
    if (!c->nhosts) {
        fputs("dokkaacfg up --provider=ssh: name the machines with --host [USER@]ADDR\n", stderr);
        free(c);
        return 2;
    }
    if (provider_ssh_package(c, o->package, &err) < 0 || provider_ssh_up(c, &err) < 0)
        goto fail;
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "dokkaacfg up: %s\n", err.msg);
out:
    free(c);
    return rc;
}

int cfg_up(const cfg_global *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"provider", required_argument, 0, 'p'}, {"scale", required_argument, 0, 's'},
        {"name", required_argument, 0, 'n'},     {"net", required_argument, 0, 'N'},
        {"host", required_argument, 0, 'H'},     {"identity", required_argument, 0, 'i'},
        {"trust", required_argument, 0, 't'},    {"package", required_argument, 0, 'P'},
        {"ssh_key", required_argument, 0, 'k'},  {"ssh-key", required_argument, 0, 'k'},
        {"region", required_argument, 0, 'r'},   {"size", required_argument, 0, 'z'},
        {"image", required_argument, 0, 'm'},    {"api-url", required_argument, 0, 'u'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    cfg_up_opts o = {.provider = g->provider ? g->provider : "local", .scale = 0, .net = -1};
    const char *given = NULL; /* --name */
    char name[64];            /* a DNS label and its NUL */
    err_t err;
    int opt;
    optind = 0;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'p': o.provider = optarg; break;
        case 's':
            if (config_int("--scale", optarg, 1, PROVIDER_DO_MAX_DROPLETS, &o.scale, &err) < 0)
                goto invalid;
            break;
        case 'N':
            if (config_int("--net", optarg, 0, 254, &o.net, &err) < 0)
                goto invalid;
            break;
        case 'n': given = optarg; break;
        case 'H':
            if (o.nhosts == PROVIDER_SSH_MAX_HOSTS) {
                fprintf(stderr, "dokkaacfg up: at most %d --host\n", PROVIDER_SSH_MAX_HOSTS);
                return 2;
            }
            o.hosts[o.nhosts++] = optarg;
            break;
        case 't':
            if (o.ntrust == PROVIDER_SSH_MAX_TRUST) {
                fprintf(stderr, "dokkaacfg up: at most %d --trust\n", PROVIDER_SSH_MAX_TRUST);
                return 2;
            }
            o.trust[o.ntrust++] = optarg;
            break;
        case 'i': o.identity = optarg; break;
        case 'P': o.package = optarg; break;
        case 'k': o.droplets.ssh_key = optarg; break;
        case 'r': o.droplets.region = optarg; break;
        case 'z': o.droplets.size = optarg; break;
        case 'm': o.droplets.image = optarg; break;
        case 'u': o.droplets.api_url = optarg; break;
        case 'h': cfg_up_usage(stdout); return 0;
        default: cfg_up_usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        cfg_up_usage(stderr);
        return 2;
    }
    if (config_cluster(given, name, sizeof name, &err) < 0) {
        fprintf(stderr, "dokkaacfg up: %s\n", err.msg);
        return 1;
    }
    o.name = name;
    if (strcmp(o.provider, "local") == 0) {
        if (o.scale > PROVIDER_LOCAL_MAX_HOSTS) {
            fprintf(stderr, "dokkaacfg up: --scale: must be 1..%d for the local provider\n",
                    PROVIDER_LOCAL_MAX_HOSTS);
            return 2;
        }
        return cfg_up_local(o.name, o.scale ? o.scale : 1, o.net);
    }
    if (strcmp(o.provider, "ssh") == 0)
        return cfg_up_ssh(&o);
    if (strcmp(o.provider, "digitalocean") == 0) {
        o.droplets.name = o.name;
        o.droplets.scale = o.scale;
        o.droplets.identity = o.identity;
        o.droplets.package = o.package;
        o.droplets.trust = o.trust;
        o.droplets.ntrust = o.ntrust;
        return provider_do_up(&o.droplets);
    }
    fprintf(stderr, "dokkaacfg up: unknown provider \"%s\"; valid: local, ssh, digitalocean\n",
            o.provider);
    return 2;
invalid: /* an option's value: said as config_int says it, as it always was */
    fprintf(stderr, "%s\n", err.msg);
    return 2;
}
