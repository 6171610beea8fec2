/* announce.c - what this host tells the cluster, under its lease:
 *   /status/<app>/<name>/<i>              every instance placed here: state, health,
 *                                          revision, since, error; during a start-first
 *                                          rollout, of its next container
 *   /services/<app>/<service>/<container>@<host>
 *                                          every service of a serving instance here,
 *                                          also of one being handed off to another host
 *                                          (the host in the key: during a handoff both
 *                                          hosts announce the instance, each its own key)
 * An instance serves while its container runs and, with a health check, passes it
 * (health.h); one whose health is not known yet (the conductor just started) keeps
 * what it announced. During a start-first rollout the next container serves from
 * the moment it is ready, and the old one no more: act.c then drains it.
 * Each pass builds the wanted set afresh (keys and records from keys.h), and
 * announce_sync makes etcd hold it: a merge walk over two key-sorted sets, O(n) per
 * pass, that puts or deletes only where something changed, so a quiet cluster
 * writes nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dokkaa/keys.h"
#include "dokkaa/log.h"
#include "reconcile.h"

/* Does any host run, or is any host to run, an instance of spec? */
static bool announce_placed_anywhere(const reconcile_view *v, const plan_spec *spec)
{
    for (size_t i = 0; i < v->nplacements; i++)
        if (strcmp(v->placements[i].app, spec->app) == 0 &&
            strcmp(v->placements[i].name, spec->name) == 0)
            return true;
    return false;
}

/* "since" survives as long as the state does, so a quiet instance's status value
 * stays the same from pass to pass and is not written again. */
static void announce_since(reconciler *r, const char *key, enum keys_state state,
                           char since[KEYS_TIME_SIZE])
{
    const char *prev = kvset_get(&r->announced, key);
    keys_status old;
    /* a value adopted from the lease is "" (etcd lists no values): a new since */
    if (prev && keys_status_decode(prev, strlen(prev), &old, NULL) == 0 && old.state == state &&
        *old.since) {
        memcpy(since, old.since, KEYS_TIME_SIZE);
        return;
    }
    time_t now = time(NULL);
    struct tm tm;
    strftime(since, KEYS_TIME_SIZE, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
}

/* The state of a container, as the engine lists it, in the status's terms: an
 * engine's state that Dokkaa does not know is "unknown". */
enum keys_state announce_engine_state(json_t *container)
{
    enum keys_state state;
    if (keys_state_parse(json_string_value(json_object_get(container, "State")), &state, NULL) < 0)
        return KEYS_STATE_UNKNOWN;
    return state;
}

/* What a status says of one container, or of an instance without one. */
typedef struct announce_what {
    const char *cname;       /* the container described */
    json_t *container;       /* its engine entry, or NULL */
    const char *hash;        /* the revision it runs, or is to run */
    enum keys_health health;
    const char *error;       /* why it failed, or NULL */
} announce_what;

/* The status of instance of spec. */
static void announce_status(reconciler *r, kvset *want, const plan_spec *spec, int instance,
                            const announce_what *w)
{
    char key[KEYS_SIZE];
    keys_status s = {.state = w->container   ? announce_engine_state(w->container)
                              : !spec->valid ? KEYS_STATE_INVALID
                              : w->error     ? KEYS_STATE_FAILED
                                             : KEYS_STATE_PENDING,
                     .health = w->health};
    snprintf(s.host, sizeof s.host, "%s", r->c->host_id);
    snprintf(s.container, sizeof s.container, "%s", w->cname);
    snprintf(s.hash, sizeof s.hash, "%s", w->hash ? w->hash : "");
    snprintf(s.error, sizeof s.error, "%s", w->error ? w->error : "");
    keys_status_key(key, spec->app, spec->name, instance);
    announce_since(r, key, s.state, s.since);
    char *value = keys_status_encode(&s);
    if (value) /* out of memory: announced next pass */
        kvset_set(want, key, value);
    free(value);
}

/* The host port the engine published for a container's TCP port, or 0. */
int announce_published(json_t *container, int port)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(container, "Ports"), i, p) {
        const char *type = json_string_value(json_object_get(p, "Type"));
        if (json_integer_value(json_object_get(p, "PrivatePort")) == port && type &&
            strcmp(type, "tcp") == 0 && json_integer_value(json_object_get(p, "PublicPort")) > 0)
            return (int)json_integer_value(json_object_get(p, "PublicPort"));
    }
    return 0;
}

/* The services of container cname, running the revision of spec. */
static void announce_services(reconciler *r, kvset *want, const plan_spec *spec, const char *cname,
                              json_t *container)
{
    char key[KEYS_SIZE];
    keys_service s = {0};
    if (announce_engine_state(container) != KEYS_STATE_RUNNING)
        return;
    snprintf(s.addr, sizeof s.addr, "%s", r->c->host_ip);
    for (size_t k = 0; k < spec->m.nservices; k++) {
        if (!(s.port = announce_published(container, spec->m.services[k].port)))
            continue;
        keys_service_key(key, spec->app, spec->m.services[k].name, cname, r->c->host_id);
        char *value = keys_service_encode(&s);
        if (value)
            kvset_set(want, key, value);
        free(value);
    }
}

/* Keep announcing the services of a container whose manifest turned invalid: it
 * keeps running, and its users must keep reaching it. */
static void announce_keep_services(reconciler *r, kvset *want, const plan_spec *spec,
                                   const char *cname)
{
    keys_key k;
    for (size_t i = 0; i < r->announced.n; i++) {
        const kvset_kv *kv = &r->announced.kvs[i];
        if (keys_is(kv->key, KEYS_SERVICE, &k) && strcmp(k.app, spec->app) == 0 &&
            strcmp(k.container, cname) == 0 && strcmp(k.host, r->c->host_id) == 0)
            kvset_set(want, kv->key, kv->value);
    }
}

/* Containers of an invalid manifest keep running; their status says why they are
 * not updated. With none running anywhere, the leader gives instance 0 the error. */
static void announce_invalid(reconciler *r, kvset *want, const reconcile_view *v,
                             const plan_spec *spec)
{
    bool any = false;
    for (size_t i = 0; i < v->ncontainers; i++) {
        const plan_container *pc = &v->containers[i];
        if (strcmp(pc->app, spec->app) == 0 && strcmp(pc->name, spec->name) == 0 &&
            pc->instance >= 0) {
            announce_status(r, want, spec, pc->instance,
                            &(announce_what){.cname = pc->cname, .hash = pc->hash,
                                             .container = json_array_get(v->list, i),
                                             .error = spec->error});
            announce_keep_services(r, want, spec, pc->cname);
            any = true;
        }
    }
    if (!any && atomic_load(&r->c->leading) && !announce_placed_anywhere(v, spec)) {
        char cname[KEYS_CONTAINER_SIZE];
        names_container(cname, sizeof cname, spec->app, spec->name, 0);
        announce_status(r, want, spec, 0, &(announce_what){.cname = cname, .error = spec->error});
    }
}

/* etcd refuses a txn of more than 128 operations by default (--max-txn-ops). */
#define ANNOUNCE_TXN_OPS 100

typedef struct announce_change {
    const kvset_kv *old; /* what etcd holds, or NULL */
    const kvset_kv *new; /* what is wanted, or NULL for a delete */
} announce_change;

/* Write one batch of puts in one txn; record in next what etcd then holds. */
static void announce_put(const announce_change *ch, size_t n, kvset *next, etcd *e,
                         int64_t lease)
{
    etcd_op ops[ANNOUNCE_TXN_OPS];
    bool ok = false;
    err_t err;
    for (size_t k = 0; k < n; k++)
        ops[k] = (etcd_op){.type = ETCD_OP_PUT, .key = ch[k].new->key,
                           .value = ch[k].new->value, .lease = lease};
    if (etcd_txn(e, NULL, 0, ops, n, NULL, 0, &ok, &err) < 0)
        log_warn("announce: %s", err.msg);
    for (size_t k = 0; k < n; k++) {
        const kvset_kv *now = ok ? ch[k].new : ch[k].old; /* a failed batch changed nothing */
        if (ok)
            log_info("%s = %s", now->key, now->value);
        if (now)
            kvset_append(next, now->key, now->value);
    }
}

/* Delete a key only while it is still ours (bound to our lease): a status key is
 * shared by the hosts an instance moves between, and the new host may have
 * written it already. Either way it is no longer ours to track. */
static void announce_delete(const kvset_kv *old, kvset *next, etcd *e, int64_t lease)
{
    etcd_cmp ours = {.key = old->key, .target = ETCD_CMP_LEASE, .result = ETCD_EQUAL,
                     .number = lease};
    etcd_op del = {.type = ETCD_OP_DELETE, .key = old->key};
    bool ok = false;
    err_t err;
    if (etcd_txn(e, &ours, 1, &del, 1, NULL, 0, &ok, &err) < 0) {
        log_warn("announce: %s", err.msg);
        kvset_append(next, old->key, old->value); /* try again next pass */
    } else {
        log_info(ok ? "%s deleted" : "%s: another host's now, left alone", old->key);
    }
}

/* Make etcd hold exactly want under lease, writing only what differs from cur (what
 * this host announced before). want is consumed; cur becomes what etcd now holds.
 * Puts go out in batches of one txn each, so announcing a hundred new instances
 * costs one round trip, not a hundred. */
static void announce_sync(kvset *cur, kvset *want, etcd *e, int64_t lease)
{
    kvset next = {0};
    announce_change *changes;
    size_t i = 0, j = 0, n = 0;

    kvset_sort(cur);
    kvset_sort(want);
    changes = calloc(cur->n + want->n + 1, sizeof *changes);
    if (!changes) { /* keep what we had; the next pass tries again */
        kvset_clear(want);
        return;
    }
    while (i < cur->n || j < want->n) {
        int order = i == cur->n ? 1 : j == want->n ? -1 : strcmp(cur->kvs[i].key, want->kvs[j].key);
        const kvset_kv *old = order <= 0 ? &cur->kvs[i++] : NULL;
        const kvset_kv *new = order >= 0 ? &want->kvs[j++] : NULL;
        if (old && new && strcmp(old->value, new->value) == 0)
            kvset_append(&next, new->key, new->value);
        else
            changes[n++] = (announce_change){.old = old, .new = new};
    }
    /* puts first, batched; then the deletes, each on its own condition: an
     * instance that moves to another key (a next container takes over, or is
     * renamed) is announced under the new key before the old one goes, so its
     * link never has a moment without it */
    size_t nputs = 0, ndels = 0;
    const kvset_kv **dels = calloc(n + 1, sizeof *dels);
    for (size_t k = 0; k < n; k++)
        if (changes[k].new)
            changes[nputs++] = changes[k];
        else if (dels)
            dels[ndels++] = changes[k].old;
        else
            kvset_append(&next, changes[k].old->key, changes[k].old->value); /* next pass */
    for (size_t k = 0; k < nputs; k += ANNOUNCE_TXN_OPS)
        announce_put(changes + k, nputs - k < ANNOUNCE_TXN_OPS ? nputs - k : ANNOUNCE_TXN_OPS,
                     &next, e, lease);
    for (size_t k = 0; k < ndels; k++)
        announce_delete(dels[k], &next, e, lease);
    free(dels);
    free(changes);
    kvset_clear(cur);
    kvset_clear(want);
    *cur = next;
}

/* The lease changed: what we knew we had announced is moot. A new lease holds
 * nothing of ours; one adopted from this host's previous run holds what that run
 * announced, which etcd lists (without values, so every wanted key is written again
 * and every other one deleted). Only status and service keys are ours: the lease
 * also holds host.c's /hosts/<id> and, on the leader, /cluster/leader, which must
 * not be deleted as "no longer announced". */
static int announce_adopt(reconciler *r, int64_t lease, int epoch)
{
    etcd_kvs keys;
    keys_key k;
    err_t err;
    if (etcd_lease_keys(r->e, lease, &keys, &err) < 0) {
        log_warn("%s", err.msg);
        return -1;
    }
    kvset_clear(&r->announced);
    for (size_t i = 0; i < keys.n; i++)
        if (keys_is(keys.kvs[i].key, KEYS_STATUS, &k) || keys_is(keys.kvs[i].key, KEYS_SERVICE, &k))
            kvset_set(&r->announced, keys.kvs[i].key, "");
    r->announced_epoch = epoch;
    etcd_kvs_free(&keys);
    return 0;
}

/* The health of container c as its status says it: none without a check (a next
 * container's settle check is no health check: starting until it settles). */
static enum keys_health announce_health(reconciler *r, const reconcile_view *v,
                                        const plan_container *c)
{
    const plan_spec *spec = reconcile_revision(v, c->app, c->name, c->hash);
    bool checked = spec && spec->m.health.kind != MANIFEST_HEALTH_NONE;
    if (c->state != PLAN_RUNNING || (!checked && !c->next))
        return KEYS_HEALTH_NONE;
    enum keys_health h = health_get(r->c, c->id, NULL, 0);
    return checked ? h : h == KEYS_HEALTH_HEALTHY ? KEYS_HEALTH_NONE : KEYS_HEALTH_STARTING;
}

/* Does container c serve? It runs and passes its check; or its health is not known
 * yet and it served before (a conductor that restarts must not withdraw what runs
 * well); a next container only once ready. */
static bool announce_serves(reconciler *r, const reconcile_view *v, const plan_container *c,
                            const char *key_prefix)
{
    if (c->state != PLAN_RUNNING)
        return false;
    if (c->next)
        return c->ready;
    enum keys_health h = announce_health(r, v, c);
    if (h == KEYS_HEALTH_NONE || h == KEYS_HEALTH_HEALTHY)
        return true;
    if (h == KEYS_HEALTH_UNHEALTHY)
        return false;
    keys_key k;
    for (size_t i = 0; i < r->announced.n; i++) /* starting: did it serve before? */
        if (strncmp(r->announced.kvs[i].key, key_prefix, strlen(key_prefix)) == 0 &&
            keys_is(r->announced.kvs[i].key, KEYS_SERVICE, &k) && strcmp(k.container, c->cname) == 0)
            return true;
    return false;
}

/* The status and services of instance i of spec, if placed here or handed off from
 * here. */
static void announce_instance(reconciler *r, kvset *want, const reconcile_view *v,
                              const plan_spec *spec, int i)
{
    char cname[KEYS_CONTAINER_SIZE], nname[KEYS_CONTAINER_SIZE], prefix[KEYS_SIZE];
    char fkey[KEYS_CONTAINER_SIZE + KEYS_HASH_SIZE + 2];
    bool here = spec->here && spec->here[i];
    bool draining = spec->draining && spec->draining[i];
    if (!here && !draining)
        return; /* another host's, or not placed yet */
    names_container(cname, sizeof cname, spec->app, spec->name, i);
    names_next(nname, sizeof nname, spec->app, spec->name, i);
    const plan_container *c = plan_find_container(v->containers, v->ncontainers, cname);
    const plan_container *nx = plan_find_container(v->containers, v->ncontainers, nname);
    const char *wanted = spec->want && *spec->want[i] ? spec->want[i] : NULL;
    const plan_spec *target = spec->target && spec->target[i] ? spec->target[i] : spec;

    if (here) { /* a draining instance's status is the new host's to write */
        announce_what w = {.cname = cname, .hash = wanted ? wanted : target->m.hash};
        const plan_container *d = nx ? nx : c; /* the next one is what a rollout waits for */
        pthread_mutex_lock(&r->mu);
        if (d) {
            w = (announce_what){.cname = d->cname, .hash = d->hash,
                                .container = json_array_get(v->list, (size_t)(d - v->containers)),
                                .health = announce_health(r, v, d)};
            if (d == nx)
                plan_failure_key(fkey, sizeof fkey, spec->app, spec->name, i, nx->hash);
            w.error = kvset_get(&r->failures, d == nx ? fkey : cname);
        }
        if (!nx && c && wanted && strcmp(c->hash, wanted) != 0) {
            /* its next container could not be made: the rollout must hear why */
            plan_failure_key(fkey, sizeof fkey, spec->app, spec->name, i, wanted);
            const char *why = kvset_get(&r->failures, fkey);
            if (why)
                w = (announce_what){.cname = nname, .hash = wanted, .error = why};
        }
        if (!d && !w.error)
            w.error = kvset_get(&r->failures, cname);
        announce_status(r, want, spec, i, &w);
        pthread_mutex_unlock(&r->mu);
    }
    /* one container serves the instance: the next one once ready, else its own */
    keys_services_prefix(prefix, spec->app, NULL);
    const plan_container *serving = nx && announce_serves(r, v, nx, prefix) ? nx : c;
    if (serving && (serving == nx || announce_serves(r, v, c, prefix))) {
        const plan_spec *rs = reconcile_revision(v, spec->app, spec->name, serving->hash);
        announce_services(r, want, rs ? rs : spec, serving->cname,
                          json_array_get(v->list, (size_t)(serving - v->containers)));
    }
}

void announce_pass(reconciler *r, const reconcile_view *v)
{
    kvset want = {0};
    int64_t lease = atomic_load(&r->c->lease);
    int epoch = atomic_load(&r->c->lease_epoch);
    if (!lease)
        return; /* not registered yet: nothing can be bound to the host's life */
    if (r->announced_epoch != epoch && announce_adopt(r, lease, epoch) < 0)
        return;
    for (size_t s = 0; s < v->nspecs; s++) {
        const plan_spec *spec = &v->specs[s];
        if (!spec->valid) {
            announce_invalid(r, &want, v, spec);
            continue;
        }
        for (int i = 0; i < spec->m.scale; i++)
            announce_instance(r, &want, v, spec, i);
    }
    announce_sync(&r->announced, &want, r->e, lease);
}
