/* dokkaacfg rebalance - even out the instances over the hosts, after hosts joined.
 *
 * Asks the elected scheduler by writing /cluster/rebalance, then follows the
 * handoffs until every moved instance runs on its new host and the old one let go
 * (no placement names a `from` any more), and prints the instances per host
 * before and after: the counts of census.h, the same as the builder's hosts view
 * (`dokkaacfg hosts`) shows. The scheduler moves without downtime: see sched.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dokkaa/census.h"
#include "dokkaa/etcd.h"
#include "dokkaa/keys.h"
#include "dokkaa/sleep.h"
#include "dokkaacfg.h"

#define CFG_REBALANCE_SECONDS 300
#define CFG_REBALANCE_POLL_MS 100 /* polled: a handoff takes a container start */

/* The placements per host, from etcd's /hosts/ and /apps/ (statuses are not needed:
 * only placed and moving are used). census_free(c) after. */
static int cfg_rebalance_census(etcd *e, census *c, err_t *err)
{
    etcd_kvs hosts = {0}, apps = {0};
    int rc = -1;
    if (etcd_get_prefix(e, KEYS_HOSTS, &hosts, err) < 0 || etcd_get_prefix(e, KEYS_APPS, &apps, err) < 0)
        goto out;
    rc = census_count(c, hosts.kvs, hosts.n, apps.kvs, apps.n, NULL, 0, err);
out:
    etcd_kvs_free(&hosts);
    etcd_kvs_free(&apps);
    return rc;
}

/* Print "h1: 4  h2: 1  h3: 0" after label: the live hosts, and any other host
 * instances are placed on. */
static int cfg_rebalance_print(etcd *e, const char *label, err_t *err)
{
    census c;
    if (cfg_rebalance_census(e, &c, err) < 0)
        return -1;
    printf("%s", label);
    for (size_t h = 0; h < c.n; h++)
        printf("%s%s: %d", h ? "  " : "", c.hosts[h].id, c.hosts[h].placed);
    printf("\n");
    census_free(&c);
    return 0;
}

/* Whether the rebalance is over: the request taken (the scheduler deletes it) and
 * no placement in a handoff. */
static int cfg_rebalance_done(etcd *e, bool *done, err_t *err)
{
    etcd_kvs pending = {0};
    census c;
    if (cfg_rebalance_census(e, &c, err) < 0)
        return -1;
    int moving = c.moving;
    census_free(&c);
    if (etcd_get(e, KEYS_REBALANCE_KEY, &pending, err) < 0)
        return -1;
    *done = moving == 0 && pending.n == 0;
    etcd_kvs_free(&pending);
    return 0;
}

int cfg_rebalance(const cfg_global *g, int argc, char **argv)
{
    err_t err;
    char *value = NULL;
    bool done = false;
    int rc = 1;
    if (argc > 1) {
        fputs("usage: dokkaacfg rebalance\n", strcmp(argv[1], "--help") == 0 ? stdout : stderr);
        return strcmp(argv[1], "--help") == 0 ? 0 : 2;
    }
    etcd *e = etcd_new(g->etcd, &err);
    if (!e || cfg_rebalance_print(e, "before:  ", &err) < 0)
        goto out;
    if (!(value = keys_rebalance_encode(&(keys_rebalance){.requested = (long long)time(NULL)}))) {
        err_set(&err, ERR_SYS, "out of memory");
        goto out;
    }
    if (etcd_put(e, KEYS_REBALANCE_KEY, value, 0, NULL, &err) < 0)
        goto out;
    for (int waited = 0; waited < CFG_REBALANCE_SECONDS * 1000 / CFG_REBALANCE_POLL_MS; waited++) {
        if (cfg_rebalance_done(e, &done, &err) < 0)
            goto out;
        if (done) {
            rc = cfg_rebalance_print(e, "after:   ", &err) < 0;
            goto out;
        }
        sleep_ms(CFG_REBALANCE_POLL_MS, NULL);
    }
    err_set(&err, ERR_UNAVAIL, "rebalance: not done after %d s (is a conductor running?)",
            CFG_REBALANCE_SECONDS);
out:
    if (rc)
        fprintf(stderr, "dokkaacfg: %s\n", err.msg);
    free(value);
    etcd_free(e);
    return rc;
}
