/* leader.c - one scheduler for the cluster, elected among the conductors.
 *
 * Election: /cluster/leader = {"host": id}, created by a txn that holds only if
 * the key does not exist, and bound to the winner's host lease: when the leader's
 * host dies or is cut off, the key vanishes with the lease and the others campaign
 * at their next pass (they watch /cluster/). Fencing: every placement the leader
 * writes goes in a txn that also compares /cluster/leader's lease with its own, so
 * a leader that lost its lease without noticing cannot write anymore.
 *
 * The leader also finishes handoffs (sched.h): once the new host reports the
 * instance running, it clears `from` and the old host lets go; and it serves
 * rebalance requests: `dokkaacfg rebalance` writes /cluster/rebalance. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dokkaa/log.h"
#include "reconcile.h"

#define LEADER_KEY "/cluster/leader"
#define REBALANCE_KEY "/cluster/rebalance"
#define LEADER_TXN_OPS 100 /* below etcd's default --max-txn-ops of 128 */

/* Read /cluster/ (the leader and any rebalance request) and campaign when nobody
 * leads. Returns whether this conductor leads; *rebalance says if one is asked. */
static bool leader_elect(reconciler *r, int64_t lease, bool *rebalance)
{
    etcd_kvs kvs;
    char value[128];
    bool won = false, leading = false, contested = false;
    snprintf(value, sizeof value, "{\"host\":\"%s\"}", r->c->host_id);
    etcd_cmp absent = {.key = LEADER_KEY, .target = ETCD_CMP_CREATE, .result = ETCD_EQUAL};
    etcd_op put = {.type = ETCD_OP_PUT, .key = LEADER_KEY, .value = value, .lease = lease};
    *rebalance = false;
    if (etcd_get_prefix(r->e, "/cluster/", &kvs, NULL) < 0)
        return false;
    for (size_t i = 0; i < kvs.n; i++) {
        if (strcmp(kvs.kvs[i].key, LEADER_KEY) == 0) {
            contested = true;
            leading = kvs.kvs[i].lease == lease;
        }
        *rebalance |= strcmp(kvs.kvs[i].key, REBALANCE_KEY) == 0;
    }
    if (!contested && etcd_txn(r->e, &absent, 1, &put, 1, NULL, 0, &won, NULL) == 0)
        leading = won;
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

/* One batch of placement writes (and, if extra is set, one more op) in a txn
 * fenced on our leadership. */
static int leader_commit(reconciler *r, const sched_placement *changes, size_t n,
                         const etcd_op *extra, int64_t lease)
{
    etcd_cmp fence = {.key = LEADER_KEY, .target = ETCD_CMP_LEASE, .result = ETCD_EQUAL,
                      .number = lease};
    char keys[LEADER_TXN_OPS][256], values[LEADER_TXN_OPS][160];
    etcd_op ops[LEADER_TXN_OPS + 1];
    bool ok = false;
    err_t err = {0};
    for (size_t b = 0; b < n; b++) {
        const sched_placement *c = &changes[b];
        snprintf(keys[b], sizeof keys[b], "/apps/%s/%s/instances/%d", c->app, c->name, c->instance);
        if (*c->from)
            snprintf(values[b], sizeof values[b],
                     "{\"host\":\"%s\",\"from\":\"%s\",\"since\":%ld}", c->host, c->from,
                     c->since);
        else
            snprintf(values[b], sizeof values[b], "{\"host\":\"%s\"}", c->host);
        ops[b] = *c->host ? (etcd_op){.type = ETCD_OP_PUT, .key = keys[b], .value = values[b]}
                          : (etcd_op){.type = ETCD_OP_DELETE, .key = keys[b]};
        log_info("schedule: %s %s", keys[b], *c->host ? values[b] : "deleted");
    }
    if (extra)
        ops[n++] = *extra;
    if (etcd_txn(r->e, &fence, 1, ops, n, NULL, 0, &ok, &err) < 0) {
        log_warn("schedule: not written: %s", err.msg);
        return -1;
    }
    if (!ok) {
        log_warn("schedule: not written: no longer the leader");
        return -1;
    }
    return 0;
}

/* Write all changes, batch by batch; returns how many were written. */
static size_t leader_write(reconciler *r, const sched_placement *changes, size_t n,
                           const etcd_op *extra, int64_t lease)
{
    size_t written = 0;
    do {
        size_t batch = n - written < LEADER_TXN_OPS ? n - written : LEADER_TXN_OPS;
        bool last = written + batch == n;
        if (leader_commit(r, changes + written, batch, last ? extra : NULL, lease) < 0)
            break;
        written += batch;
    } while (written < n);
    return written;
}

/* A handoff not finished by then is given up: the instance goes back. */
#define LEADER_HANDOFF_SECONDS 120

/* How handoff p stands: 1 done (the new host runs it), -1 to give up (the new
 * host failed it, or took too long), 0 still going. */
static int leader_handoff_state(const sched_placement *p, const etcd_kvs *status)
{
    char key[256];
    int verdict = time(NULL) - p->since > LEADER_HANDOFF_SECONDS ? -1 : 0;
    snprintf(key, sizeof key, "/status/%s/%s/%d", p->app, p->name, p->instance);
    for (size_t k = 0; k < status->n; k++) {
        if (strcmp(status->kvs[k].key, key) != 0)
            continue;
        json_t *s = json_loads(status->kvs[k].value, 0, NULL);
        const char *host = json_string_value(json_object_get(s, "host"));
        const char *state = json_string_value(json_object_get(s, "state"));
        if (host && state && strcmp(host, p->host) == 0)
            verdict = strcmp(state, "running") == 0 ? 1 : strcmp(state, "failed") == 0 ? -1 : verdict;
        json_decref(s);
    }
    return verdict;
}

/* Finish the handoffs that are done (clear `from`: the old host lets go) and give
 * back those that failed (the old host, which still runs them, keeps them). */
static int leader_handoffs(reconciler *r, const reconcile_view *v, sched_placement **done,
                           size_t *ndone)
{
    etcd_kvs status;
    *ndone = 0;
    *done = calloc(v->nplacements + 1, sizeof **done);
    if (!*done || etcd_get_prefix(r->e, "/status/", &status, NULL) < 0)
        return -1;
    for (size_t i = 0; i < v->nplacements; i++) {
        const sched_placement *p = &v->placements[i];
        int verdict = *p->from ? leader_handoff_state(p, &status) : 0;
        if (verdict == 0)
            continue;
        sched_placement *c = &(*done)[(*ndone)++];
        *c = *p;
        if (verdict < 0) {
            log_warn("handoff of %s/%s/%d to %s failed: back to %s", p->app, p->name,
                     p->instance, p->host, p->from);
            strcpy(c->host, p->from);
        }
        c->from[0] = '\0';
    }
    etcd_kvs_free(&status);
    return 0;
}

/* Rebalance the placements of valid manifests only: an invalid one's instances
 * are left where they run, as everywhere else. */
static int leader_rebalance(const reconcile_view *v, char (*hosts)[64], size_t nhosts,
                            sched_placement **changes, size_t *n)
{
    sched_placement *movable = calloc(v->nplacements + 1, sizeof *movable);
    size_t m = 0;
    if (!movable)
        return -1;
    for (size_t i = 0; i < v->nplacements; i++) {
        const plan_spec *spec = plan_find_spec(v->specs, v->nspecs, v->placements[i].app,
                                               v->placements[i].name);
        if (spec && spec->valid)
            movable[m++] = v->placements[i];
    }
    int rc = sched_rebalance(movable, m, hosts, nhosts, changes, n);
    free(movable);
    return rc;
}

static bool leader_has_handoffs(const reconcile_view *v)
{
    for (size_t i = 0; i < v->nplacements; i++)
        if (*v->placements[i].from)
            return true;
    return false;
}

/* Schedule what needs it; once settled, finish handoffs and serve a rebalance. */
static size_t leader_schedule(reconciler *r, const reconcile_view *v, char (*hosts)[64],
                              size_t nhosts, bool rebalance, int64_t lease)
{
    sched_placement *changes = NULL;
    size_t n = 0, written = 0;
    etcd_op done = {.type = ETCD_OP_DELETE, .key = REBALANCE_KEY};
    if (sched_make(v->specs, v->nspecs, v->placements, v->nplacements, hosts, nhosts, &changes,
                   &n) == 0 && n > 0) {
        written = leader_write(r, changes, n, NULL, lease);
    } else if (n == 0 && leader_has_handoffs(v)) {
        free(changes);
        changes = NULL;
        if (leader_handoffs(r, v, &changes, &n) == 0 && n > 0)
            written = leader_write(r, changes, n, NULL, lease);
    } else if (n == 0 && rebalance) {
        free(changes);
        changes = NULL;
        if (leader_rebalance(v, hosts, nhosts, &changes, &n) == 0) {
            log_info("rebalance: %zu moves", n);
            written = leader_write(r, changes, n, &done, lease);
        }
    }
    free(changes);
    return written;
}

bool leader_pass(reconciler *r, const reconcile_view *v)
{
    int64_t lease = atomic_load(&r->c->lease);
    bool rebalance = false;
    bool leading = lease && leader_elect(r, lease, &rebalance);
    char(*hosts)[64] = NULL;
    size_t nhosts = 0, written = 0;

    if (leading != atomic_exchange(&r->c->leading, leading))
        log_info(leading ? "elected: this host schedules the cluster"
                         : "no longer the scheduler");
    if (leading && leader_hosts(r, &hosts, &nhosts) == 0)
        written = leader_schedule(r, v, hosts, nhosts, rebalance, lease);
    free(hosts);
    return written > 0;
}
