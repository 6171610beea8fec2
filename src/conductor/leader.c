/* leader.c - one scheduler for the cluster, elected among the conductors.
 *
 * Election: /cluster/leader = {"host": id}, created by a txn that holds only if
 * the key does not exist, and bound to the winner's host lease: when the leader's
 * host dies or is cut off, the key vanishes with the lease and the others campaign
 * at their next pass (they watch /cluster/). Fencing: every placement the leader
 * writes goes in a txn that also compares /cluster/leader's lease with its own, so
 * a leader that lost its lease without noticing cannot write anymore.
 *
 * The leader also carries rollouts forward (rollout.h, deploy.c) and finishes
 * handoffs (sched.h): once the new host reports the
 * instance running, it clears `from` and the old host lets go; and it serves
 * rebalance requests: `dokkaacfg rebalance` writes /cluster/rebalance.
 *
 * It also frees the ports of links that no manifest names any more
 * (leader_links, links_prune): once the cluster is settled, and only when the
 * manifests or their rollouts changed since it last looked, so that a quiet cluster
 * does not read /links/ at every pass.
 *
 * A failed read or campaign is logged once (leader_report), not on every pass of an
 * etcd that stays unwell; the pass then schedules nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dokkaa/keys.h"
#include "dokkaa/links.h"
#include "dokkaa/log.h"
#include "reconcile.h"

#define LEADER_TXN_OPS 100 /* below etcd's default --max-txn-ops of 128 */

/* Read /cluster/ (the leader and any rebalance request) and campaign when nobody
 * leads. Returns whether this conductor leads (false with err when etcd failed);
 * *rebalance says if one is asked. */
static bool leader_elect(reconciler *r, int64_t lease, bool *rebalance, err_t *err)
{
    etcd_kvs kvs;
    keys_leader me = {{0}};
    char *value = NULL;
    bool won = false;
    etcd_cmp absent = {.key = KEYS_LEADER_KEY, .target = ETCD_CMP_CREATE, .result = ETCD_EQUAL};
    etcd_op put = {.type = ETCD_OP_PUT, .key = KEYS_LEADER_KEY, .lease = lease};
    *rebalance = false;
    if (etcd_get_prefix(r->e, KEYS_CLUSTER, &kvs, err) < 0) {
        err_prefix(err, "leader: campaign");
        return false;
    }
    const etcd_kv *leader = etcd_kvs_get(&kvs, KEYS_LEADER_KEY);
    *rebalance = etcd_kvs_get(&kvs, KEYS_REBALANCE_KEY) != NULL;
    if (leader) { /* someone leads: we, or another until its lease ends */
        won = leader->lease == lease;
        goto out;
    }
    snprintf(me.host, sizeof me.host, "%s", r->c->host_id);
    if (!(put.value = value = keys_leader_encode(&me))) {
        err_set(err, ERR_SYS, "leader: campaign: out of memory");
        goto out;
    }
    if (etcd_txn(r->e, &absent, 1, &put, 1, NULL, 0, &won, err) < 0) {
        err_prefix(err, "leader: campaign");
        won = false;
    }
out:
    free(value);
    etcd_kvs_free(&kvs);
    return won;
}

/* The live hosts, from /hosts/. A key there that is not a host's is reported and
 * left out: instances placed on it would never run. */
static int leader_hosts(reconciler *r, char (**hosts)[64], size_t *n, err_t *err)
{
    etcd_kvs kvs;
    keys_key k;
    err_t why;
    if (etcd_get_prefix(r->e, KEYS_HOSTS, &kvs, err) < 0)
        return err_prefix(err, "leader: hosts");
    *hosts = calloc(kvs.n + 1, sizeof **hosts);
    *n = 0;
    for (size_t i = 0; *hosts && i < kvs.n; i++) {
        if (keys_parse(kvs.kvs[i].key, &k, &why) == 0 && k.kind == KEYS_HOST) {
            snprintf((*hosts)[(*n)++], sizeof **hosts, "%s", k.host);
        } else {
            err_prefix(&why, "not a host (ignored)");
            warned_key(&r->warned, kvs.kvs[i].key, why.msg);
        }
    }
    etcd_kvs_free(&kvs);
    return *hosts ? 0 : err_set(err, ERR_SYS, "leader: hosts: out of memory");
}

/* One batch of placement writes (and, if extra is set, one more op) in a txn
 * fenced on our leadership. */
static int leader_commit(reconciler *r, const sched_placement *changes, size_t n,
                         const etcd_op *extra, int64_t lease)
{
    etcd_cmp fence = {.key = KEYS_LEADER_KEY, .target = ETCD_CMP_LEASE, .result = ETCD_EQUAL,
                      .number = lease};
    char keys[LEADER_TXN_OPS][KEYS_SIZE];
    char *values[LEADER_TXN_OPS] = {0}; /* keys_placement_encode's, freed after the txn */
    etcd_op ops[LEADER_TXN_OPS + 1];
    bool ok = false;
    err_t err = {0};
    int rc = -1;
    for (size_t b = 0; b < n; b++) {
        const sched_placement *c = &changes[b];
        keys_placement p = {.since = c->since, .changed = c->changed};
        snprintf(p.host, sizeof p.host, "%s", c->host);
        snprintf(p.from, sizeof p.from, "%s", c->from);
        snprintf(p.hash, sizeof p.hash, "%s", c->hash);
        keys_instance_key(keys[b], c->app, c->name, c->instance);
        if (*c->host && !(values[b] = keys_placement_encode(&p))) {
            log_warn("schedule: not written: out of memory");
            goto out;
        }
        ops[b] = *c->host ? (etcd_op){.type = ETCD_OP_PUT, .key = keys[b], .value = values[b]}
                          : (etcd_op){.type = ETCD_OP_DELETE, .key = keys[b]};
        log_info("schedule: %s %s", keys[b], *c->host ? values[b] : "deleted");
    }
    if (extra)
        ops[n++] = *extra;
    if (etcd_txn(r->e, &fence, 1, ops, n, NULL, 0, &ok, &err) < 0)
        log_warn("schedule: not written: %s", err.msg);
    else if (!ok)
        log_warn("schedule: not written: no longer the leader");
    else
        rc = 0;
out:
    for (size_t b = 0; b < LEADER_TXN_OPS; b++)
        free(values[b]);
    return rc;
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
 * host failed it, or took too long), 0 still going. A status that does not decode
 * says nothing either way. */
static int leader_handoff_state(const sched_placement *p, const etcd_kvs *status)
{
    char key[KEYS_SIZE];
    keys_status s;
    int verdict = time(NULL) - p->since > LEADER_HANDOFF_SECONDS ? -1 : 0;
    const etcd_kv *kv = etcd_kvs_get(status, keys_status_key(key, p->app, p->name, p->instance));
    if (!kv || keys_status_decode(kv->value, kv->value_len, &s, NULL) < 0 ||
        strcmp(s.host, p->host) != 0)
        return verdict;
    return s.state == KEYS_STATE_RUNNING ? 1 : s.state == KEYS_STATE_FAILED ? -1 : verdict;
}

/* Finish the handoffs that are done (clear `from`: the old host lets go) and give
 * back those that failed (the old host, which still runs them, keeps them). */
static int leader_handoffs(reconciler *r, const reconcile_view *v, sched_placement **done,
                           size_t *ndone, err_t *err)
{
    etcd_kvs status;
    *ndone = 0;
    if (!(*done = calloc(v->nplacements + 1, sizeof **done)))
        return err_set(err, ERR_SYS, "leader: handoffs: out of memory");
    if (etcd_get_prefix(r->e, KEYS_STATUSES, &status, err) < 0)
        return err_prefix(err, "leader: handoffs");
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

/* Does spec's rollout need a step: no record, a new revision, or one under way? */
static bool leader_rollout_due(const plan_spec *spec, const reconcile_meta *meta)
{
    return spec->valid && (!meta->has_rollout || strcmp(meta->rollout.hash, spec->m.hash) != 0 ||
                           meta->rollout.state == KEYS_OUTCOME_ROLLING);
}

/* The statuses of the placements (statuses[i] goes with placements[i]; host ""
 * when there is none that decodes). */
static keys_status *leader_statuses(reconciler *r, const reconcile_view *v, err_t *err)
{
    etcd_kvs kvs;
    char key[KEYS_SIZE];
    keys_status *st = calloc(v->nplacements + 1, sizeof *st);
    if (!st) {
        err_set(err, ERR_SYS, "leader: statuses: out of memory");
        return NULL;
    }
    if (etcd_get_prefix(r->e, KEYS_STATUSES, &kvs, err) < 0) {
        err_prefix(err, "leader: statuses");
        free(st);
        return NULL;
    }
    for (size_t i = 0; i < v->nplacements; i++) {
        const sched_placement *p = &v->placements[i];
        const etcd_kv *kv = etcd_kvs_get(&kvs, keys_status_key(key, p->app, p->name, p->instance));
        if (kv && keys_status_decode(kv->value, kv->value_len, &st[i], NULL) < 0)
            memset(&st[i], 0, sizeof st[i]);
    }
    etcd_kvs_free(&kvs);
    return st;
}

/* Delete the rollout and author records of manifests that are gone (a manifest
 * deleted alone, not its whole app); returns how many. */
static size_t leader_forget(reconciler *r, const reconcile_view *v, int64_t lease)
{
    etcd_cmp fence = {.key = KEYS_LEADER_KEY, .target = ETCD_CMP_LEASE, .result = ETCD_EQUAL,
                      .number = lease};
    size_t gone = 0;
    for (size_t i = 0; i < v->nrollouts + v->nauthors; i++) {
        const keys_key *k = i < v->nrollouts ? &v->rollouts[i].key
                                             : &v->authors[i - v->nrollouts].key;
        char key[KEYS_SIZE];
        bool ok = false;
        err_t err;
        if (plan_find_spec(v->specs, v->nspecs, k->app, k->name))
            continue;
        if (k->kind == KEYS_ROLLOUT)
            keys_rollout_key(key, k->app, k->name);
        else
            keys_author_key(key, k->app, k->name);
        etcd_op del = {.type = ETCD_OP_DELETE, .key = key};
        if (etcd_txn(r->e, &fence, 1, &del, 1, NULL, 0, &ok, &err) < 0)
            log_warn("%s: not deleted: %s", key, err.msg);
        else if (ok && ++gone)
            log_info("%s deleted: its manifest is gone", key);
    }
    return gone;
}

/* One rollout step for every manifest that needs one; returns the writes made. */
static size_t leader_rollouts(reconciler *r, const reconcile_view *v, int64_t lease, err_t *err)
{
    bool due = false;
    size_t written = 0, n = 0;
    long now = (long)time(NULL);
    for (size_t s = 0; s < v->nspecs && !due; s++)
        due = leader_rollout_due(&v->specs[s], &v->meta[s]);
    atomic_store(&r->c->rolling, due);
    if (!due)
        return leader_forget(r, v, lease);
    keys_status *st = leader_statuses(r, v, err);
    sched_placement *changes = calloc(v->nplacements + 1, sizeof *changes);
    for (size_t s = 0; st && changes && s < v->nspecs; s++) {
        rollout_step step;
        if (!leader_rollout_due(&v->specs[s], &v->meta[s]) ||
            rollout_decide(&v->specs[s], v->meta[s].has_rollout ? &v->meta[s].rollout : NULL,
                           v->placements, st, v->nplacements, now, &step) < 0)
            continue;
        if (deploy_apply(r->e, lease, &v->specs[s], &v->meta[s], &step, now) == 0) {
            written += step.write;
            for (size_t i = 0; i < step.nchanges && n < v->nplacements; i++)
                changes[n++] = step.changes[i];
        }
        free(step.changes);
    }
    if (n > 0)
        log_info("rollout: %zu instance(s) to a new revision", n);
    written += n ? leader_write(r, changes, n, NULL, lease) : 0;
    free(changes);
    free(st);
    return written;
}

/* Does a valid manifest of app name link service? *unsure when one of app's
 * manifests does not validate: then its links are left alone. */
static bool leader_names_link(const reconcile_view *v, const char *app, const char *service,
                              bool *unsure)
{
    bool named = false;
    *unsure = false;
    for (size_t s = 0; s < v->nspecs; s++) {
        const plan_spec *spec = &v->specs[s];
        if (strcmp(spec->app, app) != 0)
            continue;
        *unsure |= !spec->valid;
        for (size_t k = 0; spec->valid && k < spec->m.nlinks; k++)
            named |= strcmp(spec->m.links[k], service) == 0;
    }
    return named;
}

/* What the manifests and rollouts look like, in one number: it changes when a
 * manifest is written or deleted, a rollout ends, or the records of a deleted
 * manifest go. */
static unsigned long long leader_links_signature(const reconcile_view *v)
{
    /* unsigned: the products wrap, as a hash may (signed ones would overflow) */
    /* never 0, the value before the first prune: an empty cluster's links (its
     * last manifest gone) are pruned too */
    unsigned long long sig = 0x9e3779b97f4a7c15ULL + v->nspecs * 7 + v->nrollouts * 3 + v->nauthors;
    for (size_t s = 0; s < v->nspecs; s++) {
        const reconcile_meta *m = &v->meta[s];
        sig = sig * 31 + (unsigned long long)m->mod_revision;
        sig = sig * 31 + (m->has_rollout ? (unsigned long long)m->rollout.state + 1 : 0);
    }
    return sig ? sig : 1;
}

/* Free the ports of links no manifest names any more (see the head comment): the
 * view says which apps may have one; links_prune decides on a fresh read of each. */
static size_t leader_links(reconciler *r, const reconcile_view *v, int64_t lease)
{
    etcd_cmp fence = {.key = KEYS_LEADER_KEY, .target = ETCD_CMP_LEASE, .result = ETCD_EQUAL,
                      .number = lease};
    unsigned long long sig = leader_links_signature(v);
    char last_app[KEYS_NAME_SIZE] = "";
    size_t freed = 0;
    etcd_kvs links;
    err_t err;
    if (sig == r->links_signature)
        return 0;
    if (etcd_get_prefix(r->e, KEYS_LINKS, &links, &err) < 0) {
        log_warn("links: not read: %s", err.msg);
        return 0;
    }
    bool ok = true;
    for (size_t i = 0; i < links.n; i++) {
        keys_key k;
        bool unsure;
        int n = 0;
        if (!keys_is(links.kvs[i].key, KEYS_LINK, &k) || strcmp(k.app, last_app) == 0 ||
            leader_names_link(v, k.app, k.service, &unsure) || unsure)
            continue;
        snprintf(last_app, sizeof last_app, "%s", k.app); /* one prune per app */
        if (links_prune(r->e, k.app, &fence, &n, &err) < 0) {
            log_warn("links of %s: not freed: %s", k.app, err.msg);
            ok = false;
        }
        if (n > 0)
            log_info("links of %s: %d port(s) freed: no manifest names them any more", k.app, n);
        freed += (size_t)n;
    }
    etcd_kvs_free(&links);
    if (ok)
        r->links_signature = sig; /* else the next pass tries again */
    return freed;
}

/* Schedule what needs it; once settled, carry rollouts forward, then finish
 * handoffs and serve a rebalance, and free the ports of links named no more. */
static size_t leader_schedule(reconciler *r, const reconcile_view *v, char (*hosts)[64],
                              size_t nhosts, bool rebalance, int64_t lease, err_t *err)
{
    sched_placement *changes = NULL;
    size_t n = 0, written = 0;
    etcd_op done = {.type = ETCD_OP_DELETE, .key = KEYS_REBALANCE_KEY};
    if (sched_make(v->specs, v->nspecs, v->placements, v->nplacements, hosts, nhosts, &changes,
                   &n) == 0 && n > 0) {
        written = leader_write(r, changes, n, NULL, lease);
    } else if (n == 0 && (written = leader_rollouts(r, v, lease, err)) > 0) {
        /* placements changed: handoffs and rebalances wait for the next pass */
    } else if (n == 0 && leader_has_handoffs(v)) {
        free(changes);
        changes = NULL;
        if (leader_handoffs(r, v, &changes, &n, err) == 0 && n > 0)
            written = leader_write(r, changes, n, NULL, lease);
    } else if (n == 0 && rebalance) {
        free(changes);
        changes = NULL;
        if (leader_rebalance(v, hosts, nhosts, &changes, &n) == 0) {
            log_info("rebalance: %zu moves", n);
            written = leader_write(r, changes, n, &done, lease);
        }
    } else if (n == 0) {
        written = leader_links(r, v, lease);
    }
    free(changes);
    return written;
}

/* Log the pass's failure, if any, unless it is the one logged last: an etcd that
 * stays unwell is said once, and again when its trouble changes or after a pass
 * that went well. */
static void leader_report(reconciler *r, const err_t *err)
{
    if (err->code != ERR_OK && strcmp(err->msg, r->leader_warned) != 0)
        log_warn("%s", err->msg);
    snprintf(r->leader_warned, sizeof r->leader_warned, "%s", err->code != ERR_OK ? err->msg : "");
}

bool leader_pass(reconciler *r, const reconcile_view *v)
{
    int64_t lease = atomic_load(&r->c->lease);
    bool rebalance = false;
    err_t err = {0};
    bool leading = lease && leader_elect(r, lease, &rebalance, &err);
    char(*hosts)[64] = NULL;
    size_t nhosts = 0, written = 0;

    if (leading != atomic_exchange(&r->c->leading, leading))
        log_info(leading ? "elected: this host schedules the cluster"
                         : "no longer the scheduler");
    if (leading && leader_hosts(r, &hosts, &nhosts, &err) == 0)
        written = leader_schedule(r, v, hosts, nhosts, rebalance, lease, &err);
    free(hosts);
    leader_report(r, &err);
    return written > 0;
}
