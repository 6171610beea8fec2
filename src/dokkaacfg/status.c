/* dokkaacfg status - what the cluster is doing, read straight from etcd: the live
 * hosts (/hosts/) and every instance's status (/status/); for a local cluster also
 * its hosts, etcd members and engines (provider_local_status.c). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokkaa/config.h"
#include "dokkaa/etcd.h"
#include "dokkaa/keys.h"
#include "dokkaacfg.h"
#include "provider_local.h"
#include "provider_ssh.h"

/* text, or "-" for a field the record lacks (or a record that does not decode). */
static const char *cfg_status_field(const char *text)
{
    return *text ? text : "-";
}

/* One line per key under /hosts/: the host id, and what its record says. */
static void cfg_status_hosts(const etcd_kvs *hosts)
{
    printf("%-12s %-16s %5s %s\n", "HOST", "ADDRESS", "CPUS", "VERSION");
    for (size_t i = 0; i < hosts->n; i++) {
        const etcd_kv *kv = &hosts->kvs[i];
        keys_key k;
        keys_host h;
        keys_host_decode(kv->value, kv->value_len, &h, NULL); /* zeroed when it does not */
        printf("%-12s %-16s %5lld %s\n", keys_is(kv->key, KEYS_HOST, &k) ? k.host : kv->key,
               cfg_status_field(h.addr), (long long)h.cpus, cfg_status_field(h.version));
    }
}

/* One line per key under /status/: app/name/instance, and what its record says. */
static void cfg_status_instances(const etcd_kvs *status)
{
    printf("\n%-32s %-12s %-12s %-21s %s\n", "INSTANCE", "HOST", "STATE", "SINCE", "ERROR");
    for (size_t i = 0; i < status->n; i++) {
        const etcd_kv *kv = &status->kvs[i];
        char instance[3 * KEYS_NAME_SIZE];
        keys_key k;
        keys_status s;
        bool known = keys_status_decode(kv->value, kv->value_len, &s, NULL) == 0;
        if (keys_is(kv->key, KEYS_STATUS, &k))
            snprintf(instance, sizeof instance, "%s/%s/%d", k.app, k.name, k.instance);
        else
            snprintf(instance, sizeof instance, "%s", kv->key);
        printf("%-32s %-12s %-12s %-21s %s\n", instance, cfg_status_field(s.host),
               known ? keys_state_name(s.state) : "-", cfg_status_field(s.since), s.error);
    }
}

/* The etcd view: live hosts and every instance. */
static int cfg_status_etcd(const char *endpoints)
{
    err_t err;
    etcd_kvs hosts = {0}, status = {0};
    etcd *e = etcd_new(endpoints, &err);
    int rc = 1;
    if (!e || etcd_get_prefix(e, KEYS_HOSTS, &hosts, &err) < 0 ||
        etcd_get_prefix(e, KEYS_STATUSES, &status, &err) < 0) {
        fprintf(stderr, "dokkaacfg: %s\n", err.msg);
        goto out;
    }
    cfg_status_hosts(&hosts);
    cfg_status_instances(&status);
    rc = 0;
out:
    etcd_kvs_free(&hosts);
    etcd_kvs_free(&status);
    etcd_free(e);
    return rc;
}

/* A cluster on real machines: the etcd view through a tunnel to a member, then
 * each host's units as systemd sees them (over SSH). */
static int cfg_status_ssh(ssh_cluster *c)
{
    static const char script[] =
        "for u in etcd conductor ambassador builder registry; do\n"
        "  printf '%s ' \"$(systemctl is-active dokkaa-$u.service 2>/dev/null)\"; done\n"
        "dpkg-query -W -f='${Version}\\n' dokkaa 2>/dev/null || echo -\n";
    ssh_etcd t;
    err_t err;
    int rc = 0;
    if (provider_ssh_etcd_open(c, &t, &err) < 0) {
        fprintf(stderr, "dokkaacfg status: %s\n", err.msg);
        rc = 1;
    } else {
        rc = cfg_status_etcd(t.endpoint);
        provider_ssh_etcd_close(&t);
    }
    printf("\ncluster %s (%s provider), hosts as systemd sees them:\n%-14s %-16s %-8s %-9s "
           "%-10s %-10s %-9s %s\n", c->name, c->provider, "HOST", "ADDRESS", "ETCD", "CONDUCTOR",
           "AMBASSADOR", "BUILDER", "REGISTRY", "PACKAGE");
    for (size_t i = 0; i < c->nhosts; i++) {
        ssh_host *h = &c->hosts[i];
        char *out = NULL, st[5][16] = {{0}}, version[64] = "-";
        if (ssh_script(&c->ssh, h->target, script, &out, &err) < 0) {
            printf("%-14s %-16s unreachable: %s\n", h->id, h->addr, err.msg);
            rc = 1;
            continue;
        }
        sscanf(out, "%15s %15s %15s %15s %15s %63s", st[0], st[1], st[2], st[3], st[4], version);
        printf("%-14s %-16s %-8s %-9s %-10s %-10s %-9s %s\n", h->id, h->addr, h->member ? st[0] : "-",
               st[1], st[2], st[3], i == 0 ? st[4] : "-", version);
        free(out);
    }
    return rc;
}

/* With a local cluster (made by `up`), its own etcd unless --etcd says otherwise,
 * and its view of hosts, members and engines after the etcd view. With a cluster
 * on real machines (the CLI's config names it, or --name does), its view. */
int cfg_status(const cfg_global *g, int argc, char **argv)
{
    static const struct option opts[] = {
        {"name", required_argument, 0, 'n'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *given = NULL; /* --name */
    char name[64];            /* a DNS label and its NUL */
    bool found = false;
    provider_local *pl = calloc(1, sizeof *pl);
    ssh_cluster *c = calloc(1, sizeof *c);
    err_t err;
    int opt, rc = 1;
    optind = 0;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'n': given = optarg; break;
        case 'h': puts("usage: dokkaacfg status [--name NAME]"); rc = 0; goto out;
        default: fputs("usage: dokkaacfg status [--name NAME]\n", stderr); rc = 2; goto out;
        }
    }
    if (!c || config_cluster(given, name, sizeof name, &err) < 0 ||
        (given ? provider_ssh_load(c, name, &err) : provider_ssh_current(c, &found, &err)) < 0) {
        fprintf(stderr, "dokkaacfg status: %s\n", c ? err.msg : "out of memory");
        goto out;
    }
    if (!g->etcd_given && c->nhosts) {
        rc = cfg_status_ssh(c);
        goto out;
    }
    if (!pl || provider_local_init(pl, name, -1, &err) < 0) {
        fprintf(stderr, "dokkaacfg status: %s\n", pl ? err.msg : "out of memory");
        goto out;
    }
    rc = cfg_status_etcd(pl->saved && !g->etcd_given ? pl->etcd : g->etcd);
    if (pl->saved && provider_local_status(pl, &err) < 0) {
        fprintf(stderr, "dokkaacfg status: %s\n", err.msg);
        rc = 1;
    }
out:
    free(pl);
    free(c);
    return rc;
}
