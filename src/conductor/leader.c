/* leader.c - one scheduler for the cluster, elected among the conductors.
 *
 * Election: /cluster/leader = {"host": id}, created by a txn that holds only if
 * the key does not exist, and bound to the winner's host lease: when the leader's
 * host dies or is cut off, the key vanishes with the lease and the others campaign
 * at their next pass (they watch /cluster/). Fencing: every placement the leader
 * writes goes in a txn that also compares /cluster/leader's lease with its own, so
 * a leader that lost its lease without noticing cannot write anymore. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokkaa/log.h"
#include "reconcile.h"

#define LEADER_KEY "/cluster/leader"
#define LEADER_TXN_OPS 100 /* below etcd's default --max-txn-ops of 128 */

/* Is this conductor the leader now? Campaigns when nobody is. */
static bool leader_elect(reconciler *r, int64_t lease)
{
    etcd_kvs kvs;
    char value[128];
    bool won = false;
    snprintf(value, sizeof value, "{\"host\":\"%s\"}", r->c->host_id);
    etcd_cmp absent = {.key = LEADER_KEY, .target = ETCD_CMP_CREATE, .result = ETCD_EQUAL};
    etcd_op put = {.type = ETCD_OP_PUT, .key = LEADER_KEY, .value = value, .lease = lease};
    if (etcd_get(r->e, LEADER_KEY, &kvs, NULL) < 0)
        return false;
    if (kvs.n == 0 && etcd_txn(r->e, &absent, 1, &put, 1, NULL, 0, &won, NULL) < 0)
        won = false;
    bool leading = won || (kvs.n == 1 && kvs.kvs[0].lease == lease);
    etcd_kvs_free(&kvs);
    return leading;
}

/* The live hosts, from /hosts/. */
static int leader_hosts(reconciler *r, char (**hosts)[64], size_t *n)
{
    etcd_kvs kvs;
    if (etcd_get_prefix(r->e, "/hosts/", &kvs, NULL) < 0)
        return -1;
    *hosts = calloc(kvs.n + 1, sizeof **hosts);
    *n = 0;
    for (size_t i = 0; *hosts && i < kvs.n; i++)
        if (snprintf((*hosts)[*n], 64, "%s", kvs.kvs[i].key + strlen("/hosts/")) < 64)
            (*n)++;
    etcd_kvs_free(&kvs);
    return *hosts ? 0 : -1;
}

/* Write changes in txns fenced on our leadership; returns how many were written. */
static size_t leader_write(reconciler *r, const sched_placement *changes, size_t n, int64_t lease)
{
    etcd_cmp fence = {.key = LEADER_KEY, .target = ETCD_CMP_LEASE, .result = ETCD_EQUAL,
                      .number = lease};
    char keys[LEADER_TXN_OPS][256], values[LEADER_TXN_OPS][96];
    etcd_op ops[LEADER_TXN_OPS];
    size_t written = 0;
    for (size_t k = 0; k < n; k += LEADER_TXN_OPS) {
        size_t batch = n - k < LEADER_TXN_OPS ? n - k : LEADER_TXN_OPS;
        for (size_t b = 0; b < batch; b++) {
            const sched_placement *c = &changes[k + b];
            snprintf(keys[b], sizeof keys[b], "/apps/%s/%s/instances/%d", c->app, c->name,
                     c->instance);
            snprintf(values[b], sizeof values[b], "{\"host\":\"%s\"}", c->host);
            ops[b] = *c->host ? (etcd_op){.type = ETCD_OP_PUT, .key = keys[b], .value = values[b]}
                              : (etcd_op){.type = ETCD_OP_DELETE, .key = keys[b]};
            log_info("schedule: %s %s", keys[b], *c->host ? values[b] : "deleted");
        }
        bool ok;
        err_t err;
        if (etcd_txn(r->e, &fence, 1, ops, batch, NULL, 0, &ok, &err) < 0 || !ok) {
            log_warn("schedule: not written: %s", ok ? err.msg : "no longer the leader");
            break;
        }
        written += batch;
    }
    return written;
}

bool leader_pass(reconciler *r, const reconcile_view *v)
{
    int64_t lease = atomic_load(&r->c->lease);
    bool leading = lease && leader_elect(r, lease);
    char(*hosts)[64] = NULL;
    sched_placement *changes = NULL;
    size_t nhosts = 0, nchanges = 0, written = 0;

    if (leading != r->leader)
        log_info(leading ? "elected: this host schedules the cluster"
                         : "no longer the scheduler");
    r->leader = leading;
    if (!leading || leader_hosts(r, &hosts, &nhosts) < 0)
        goto out;
    if (sched_make(v->specs, v->nspecs, v->placements, v->nplacements, hosts, nhosts, &changes,
                   &nchanges) < 0) {
        log_error("schedule: out of memory");
        goto out;
    }
    written = leader_write(r, changes, nchanges, lease);
out:
    free(hosts);
    free(changes);
    return written > 0;
}
