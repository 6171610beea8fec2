/* dokkaacfg rebalance - even out the instances over the hosts, after hosts joined.
 *
 * Asks the elected scheduler by writing /cluster/rebalance, then follows the
 * handoffs until every moved instance runs on its new host and the old one let go
 * (no placement names a `from` any more), and prints the instances per host
 * before and after. The scheduler moves without downtime: see sched.h. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dokkaa/etcd.h"
#include "dokkaacfg.h"

#define CFG_REBALANCE_SECONDS 300

/* Print "h1: 4  h2: 1  h3: 0" (the live hosts, and any other host instances are
 * placed on) from the placements; return how many are in a handoff. */
static int cfg_placements(etcd *e, bool print, err_t *err)
{
    etcd_kvs kvs;
    char hosts[64][64];
    int counts[64] = {0}, nhosts = 0, moving = 0;
    if (etcd_get_prefix(e, "/hosts/", &kvs, err) < 0)
        return -1;
    for (size_t i = 0; i < kvs.n && nhosts < 64; i++)
        snprintf(hosts[nhosts++], 64, "%s", kvs.kvs[i].key + strlen("/hosts/"));
    etcd_kvs_free(&kvs);
    if (etcd_get_prefix(e, "/apps/", &kvs, err) < 0)
        return -1;
    for (size_t i = 0; i < kvs.n; i++) {
        if (!strstr(kvs.kvs[i].key, "/instances/"))
            continue;
        json_t *v = json_loads(kvs.kvs[i].value, 0, NULL);
        const char *host = json_string_value(json_object_get(v, "host"));
        moving += json_object_get(v, "from") != NULL;
        int h = 0;
        while (host && h < nhosts && strcmp(hosts[h], host) != 0)
            h++;
        if (host && h == nhosts && nhosts < 64)
            snprintf(hosts[nhosts++], 64, "%s", host);
        if (host && h < nhosts)
            counts[h]++;
        json_decref(v);
    }
    etcd_kvs_free(&kvs);
    for (int h = 0; print && h < nhosts; h++)
        printf("%s%s: %d", h ? "  " : "", hosts[h], counts[h]);
    if (print)
        printf("\n");
    return moving;
}

int cfg_rebalance(const cfg_global *g, int argc, char **argv)
{
    err_t err;
    char value[64];
    etcd_kvs pending;
    int rc = 1;
    if (argc > 1) {
        fputs("usage: dokkaacfg rebalance\n", strcmp(argv[1], "--help") == 0 ? stdout : stderr);
        return strcmp(argv[1], "--help") == 0 ? 0 : 2;
    }
    etcd *e = etcd_new(g->etcd, &err);
    if (!e)
        goto out;
    printf("before:  ");
    if (cfg_placements(e, true, &err) < 0)
        goto out;
    snprintf(value, sizeof value, "{\"requested\":%lld}", (long long)time(NULL));
    if (etcd_put(e, "/cluster/rebalance", value, 0, NULL, &err) < 0)
        goto out;
    for (int waited = 0; waited < CFG_REBALANCE_SECONDS * 10; waited++) {
        int moving = cfg_placements(e, false, &err);
        if (moving < 0 || etcd_get(e, "/cluster/rebalance", &pending, &err) < 0)
            goto out;
        size_t asked = pending.n;
        etcd_kvs_free(&pending);
        if (moving == 0 && asked == 0) {
            printf("after:   ");
            rc = cfg_placements(e, true, &err) < 0;
            goto out;
        }
        usleep(100 * 1000); /* polled: a handoff takes a container start */
    }
    err_set(&err, ERR_UNAVAIL, "rebalance: not done after %d s (is a conductor running?)",
            CFG_REBALANCE_SECONDS);
out:
    if (rc)
        fprintf(stderr, "dokkaacfg: %s\n", err.msg);
    etcd_free(e);
    return rc;
}
