/* reconcile.c - one reconcile pass of the conductor:
 *
 *   1. read every manifest and placement under /apps/, and every container of
 *      this cluster on this host's engine;
 *   2. campaign for leadership; the leader schedules (leader.c);
 *   3. announce the status of each instance placed here and its services
 *      (announce.c);
 *   4. plan (plan.c) what to create, start, replace and remove, and do it (act.c).
 *
 * A pass always starts from a full read, so it does not matter which event woke
 * it or whether some were lost. When etcd or the engine cannot be read, the pass
 * does nothing at all: running containers keep running through an etcd outage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dokkaa/log.h"
#include "reconcile.h"

reconciler *reconciler_new(conductor *c)
{
    err_t err;
    char *gateway = NULL;
    reconciler *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    pthread_mutex_init(&r->mu, NULL);
    r->c = c;
    if (!(r->e = etcd_new(c->etcd_endpoints, &err)) || !(r->d = docker_new(c->docker_host, &err)))
        goto err;
    if (docker_network_gateway(r->d, "bridge", &gateway, &err) < 0)
        goto err;
    snprintf(c->gateway, sizeof c->gateway, "%s", gateway);
    free(gateway);
    r->host = (spec_host){.cluster = c->cluster, .host_id = c->host_id, .host_ip = c->host_ip,
                          .gateway = c->gateway};
    return r;
err:
    log_error("%s", err.msg);
    reconciler_free(r);
    return NULL;
}

void reconciler_free(reconciler *r)
{
    if (!r)
        return;
    etcd_free(r->e);
    docker_free(r->d);
    kvset_clear(&r->announced);
    kvset_clear(&r->failures);
    warned_free(&r->warned);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static void reconcile_spec_free(plan_spec *s)
{
    if (s->valid)
        manifest_free(&s->m);
    free(s->here);
    free(s->draining);
    free(s->want);
    free(s->target);
}

static void reconcile_view_free(reconcile_view *v)
{
    for (size_t i = 0; i < v->nspecs; i++) {
        reconcile_spec_free(&v->specs[i]);
        if (v->meta)
            free(v->meta[i].text);
    }
    for (size_t i = 0; i < v->nrevisions; i++)
        reconcile_spec_free(&v->revisions[i]);
    free(v->revisions);
    free(v->specs);
    free(v->meta);
    free(v->rollouts);
    free(v->authors);
    free(v->placements);
    free(v->containers);
    json_decref(v->list);
}

/* /apps/<app>/<name>/instances/<i> (k) = a placement record. */
static void reconcile_add_placement(reconciler *r, reconcile_view *v, const etcd_kv *kv,
                                    const keys_key *k)
{
    sched_placement *p = &v->placements[v->nplacements];
    keys_placement rec;
    err_t e;
    if (keys_placement_decode(kv->value, kv->value_len, &rec, &e) < 0) {
        err_prefix(&e, "not a placement");
        warned_key(&r->warned, kv->key, e.msg);
        return;
    }
    snprintf(p->app, sizeof p->app, "%s", k->app);
    snprintf(p->name, sizeof p->name, "%s", k->name);
    p->instance = k->instance;
    snprintf(p->host, sizeof p->host, "%s", rec.host);
    snprintf(p->from, sizeof p->from, "%s", rec.from);
    p->since = (long)rec.since;
    snprintf(p->hash, sizeof p->hash, "%s", rec.hash);
    p->changed = (long)rec.changed;
    v->nplacements++;
}

/* /apps/<app>/<name>/manifest (k): a spec, valid or not (an invalid one's
 * containers are left running, and its status says why). */
static void reconcile_add_spec(reconciler *r, reconcile_view *v, const etcd_kv *kv,
                               const keys_key *k)
{
    plan_spec *s = &v->specs[v->nspecs];
    reconcile_meta *meta = &v->meta[v->nspecs];
    err_t e;
    snprintf(s->app, sizeof s->app, "%s", k->app);
    snprintf(s->name, sizeof s->name, "%s", k->name);
    meta->text = strdup(kv->value); /* NULL when out of memory: no revision recorded */
    meta->mod_revision = kv->mod_revision;
    s->valid = manifest_parse(kv->value, kv->value_len, &s->m, &e) == 0;
    if (!s->valid) {
        snprintf(s->error, sizeof s->error, "%s", e.msg);
        warned_key(&r->warned, kv->key, e.msg);
    }
    v->nspecs++;
}

/* /apps/<app>/<name>/rollout and .../author, for the leader (reconcile_attach). */
static void reconcile_add_record(reconciler *r, reconcile_view *v, const etcd_kv *kv,
                                 const keys_key *k)
{
    err_t e;
    int rc;
    if (k->kind == KEYS_ROLLOUT) {
        reconcile_rollout *ro = &v->rollouts[v->nrollouts];
        rc = keys_rollout_decode(kv->value, kv->value_len, &ro->rec, &e);
        ro->key = *k;
        v->nrollouts += rc == 0;
    } else {
        reconcile_author *au = &v->authors[v->nauthors];
        rc = keys_author_decode(kv->value, kv->value_len, &au->rec, &e);
        au->key = *k;
        v->nauthors += rc == 0;
    }
    if (rc < 0)
        warned_key(&r->warned, kv->key, e.msg); /* the leader writes a good one anew */
}

/* Give each spec its rollout and author records. */
static void reconcile_attach(reconcile_view *v)
{
    for (size_t s = 0; s < v->nspecs; s++) {
        for (size_t i = 0; i < v->nrollouts; i++)
            if (strcmp(v->rollouts[i].key.app, v->specs[s].app) == 0 &&
                strcmp(v->rollouts[i].key.name, v->specs[s].name) == 0) {
                v->meta[s].has_rollout = true;
                v->meta[s].rollout = v->rollouts[i].rec;
            }
        for (size_t i = 0; i < v->nauthors; i++)
            if (strcmp(v->authors[i].key.app, v->specs[s].app) == 0 &&
                strcmp(v->authors[i].key.name, v->specs[s].name) == 0) {
                v->meta[s].has_author = true;
                v->meta[s].author = v->authors[i].rec;
            }
    }
}

/* Everything under /apps/: manifests become specs, instances become placements,
 * rollout and author records go with their specs. keys_parse takes only the
 * canonical spelling, so a placement read here is one the leader can delete by the
 * key it builds from its parts. */
static int reconcile_read_apps(reconciler *r, reconcile_view *v, err_t *err)
{
    etcd_kvs kvs;
    keys_key k;
    err_t why;
    if (etcd_get_prefix(r->e, KEYS_APPS, &kvs, err) < 0)
        return -1;
    v->specs = calloc(kvs.n + 1, sizeof *v->specs);
    v->meta = calloc(kvs.n + 1, sizeof *v->meta);
    v->placements = calloc(kvs.n + 1, sizeof *v->placements);
    v->rollouts = calloc(kvs.n + 1, sizeof *v->rollouts);
    v->authors = calloc(kvs.n + 1, sizeof *v->authors);
    bool ok = v->specs && v->meta && v->placements && v->rollouts && v->authors;
    for (size_t i = 0; ok && i < kvs.n; i++) {
        err_clear(&why);
        keys_parse(kvs.kvs[i].key, &k, &why);
        if (k.kind == KEYS_MANIFEST) {
            reconcile_add_spec(r, v, &kvs.kvs[i], &k);
        } else if (k.kind == KEYS_INSTANCE) {
            reconcile_add_placement(r, v, &kvs.kvs[i], &k);
        } else if (k.kind == KEYS_ROLLOUT || k.kind == KEYS_AUTHOR) {
            reconcile_add_record(r, v, &kvs.kvs[i], &k);
        } else {
            err_prefix(&why, "unknown key under /apps/ (ignored)");
            warned_key(&r->warned, kvs.kvs[i].key, why.msg);
        }
    }
    etcd_kvs_free(&kvs);
    if (!ok)
        return err_set(err, ERR_SYS, "out of memory");
    reconcile_attach(v);
    return 0;
}

/* Does anything here need another revision of spec than its manifest's: a
 * placement here that asks for one, or a container of one (its health check and
 * services are its revision's)? */
static bool reconcile_needs_revisions(const reconciler *r, const reconcile_view *v,
                                      const plan_spec *spec)
{
    for (size_t i = 0; i < v->nplacements; i++) {
        const sched_placement *p = &v->placements[i];
        if (*p->hash && strcmp(p->hash, spec->m.hash) != 0 && strcmp(p->app, spec->app) == 0 &&
            strcmp(p->name, spec->name) == 0 &&
            (strcmp(p->host, r->c->host_id) == 0 || strcmp(p->from, r->c->host_id) == 0))
            return true;
    }
    for (size_t i = 0; i < v->ncontainers; i++) {
        const plan_container *c = &v->containers[i];
        if (strcmp(c->hash, spec->m.hash) != 0 && strcmp(c->app, spec->app) == 0 &&
            strcmp(c->name, spec->name) == 0)
            return true;
    }
    return false;
}

/* Read the kept revisions of the specs that need them (rarely: during a rollout,
 * or a paused one), so that an instance can run, and be checked and announced as,
 * the revision its placement asks for. A revision that does not parse anymore is
 * skipped: its instances keep what they run. */
static void reconcile_read_revisions(reconciler *r, reconcile_view *v)
{
    for (size_t s = 0; s < v->nspecs; s++) {
        const plan_spec *spec = &v->specs[s];
        char prefix[KEYS_SIZE];
        etcd_kvs kvs;
        err_t err;
        if (!spec->valid || !reconcile_needs_revisions(r, v, spec))
            continue;
        if (etcd_get_prefix(r->e, keys_revisions_prefix(prefix, spec->app, spec->name), &kvs,
                            &err) < 0) {
            warned_key(&r->warned, prefix, err.msg);
            continue;
        }
        plan_spec *more = realloc(v->revisions, (v->nrevisions + kvs.n + 1) * sizeof *more);
        for (size_t i = 0; more && i < kvs.n; i++) {
            keys_revision rev = {0};
            plan_spec *rs = &more[v->nrevisions];
            v->revisions = more;
            if (keys_revision_decode(kvs.kvs[i].value, kvs.kvs[i].value_len, &rev, NULL) < 0)
                continue;
            memset(rs, 0, sizeof *rs);
            snprintf(rs->app, sizeof rs->app, "%s", spec->app);
            snprintf(rs->name, sizeof rs->name, "%s", spec->name);
            rs->valid = manifest_parse(rev.manifest, strlen(rev.manifest), &rs->m, NULL) == 0;
            keys_revision_free(&rev);
            if (!rs->valid)
                continue;
            if (reconcile_revision(v, spec->app, spec->name, rs->m.hash)) {
                manifest_free(&rs->m); /* the manifest's own, or one kept twice */
                continue;
            }
            v->nrevisions++;
        }
        if (more)
            v->revisions = more;
        etcd_kvs_free(&kvs);
    }
}

/* Mark, for each valid spec, the instances the scheduler placed on this host, those
 * it hands off from this host, and the revision each is to run (want, target). A
 * placement asking for a revision whose manifest is not kept asks for nothing: what
 * runs keeps running. Out of memory leaves the arrays NULL: nothing of that spec
 * runs here this pass. */
static void reconcile_mark_here(reconciler *r, reconcile_view *v)
{
    const char *me = r->c->host_id;
    for (size_t s = 0; s < v->nspecs; s++) {
        plan_spec *spec = &v->specs[s];
        if (!spec->valid)
            continue;
        size_t n = (size_t)spec->m.scale + 1;
        spec->here = calloc(n, sizeof *spec->here);
        spec->draining = calloc(n, sizeof *spec->draining);
        spec->want = calloc(n, sizeof *spec->want);
        spec->target = calloc(n, sizeof *spec->target);
        if (!spec->here || !spec->draining || !spec->want || !spec->target) {
            free(spec->here);
            spec->here = NULL;
            continue;
        }
        for (size_t i = 0; i < v->nplacements; i++) {
            const sched_placement *p = &v->placements[i];
            if (p->instance >= spec->m.scale || strcmp(p->app, spec->app) != 0 ||
                strcmp(p->name, spec->name) != 0)
                continue;
            spec->here[p->instance] = strcmp(p->host, me) == 0;
            spec->draining[p->instance] = strcmp(p->from, me) == 0 && strcmp(p->host, me) != 0;
            const plan_spec *t = *p->hash ? reconcile_revision(v, spec->app, spec->name, p->hash)
                                          : NULL;
            if (t) {
                memcpy(spec->want[p->instance], p->hash, sizeof spec->want[0]);
                spec->target[p->instance] = t == spec ? NULL : t;
            }
        }
    }
}

static const char *reconcile_label(json_t *container, const char *label)
{
    const char *s = json_string_value(json_object_get(json_object_get(container, "Labels"), label));
    return s ? s : "";
}

static void reconcile_describe(json_t *item, plan_container *pc)
{
    enum keys_state state = announce_engine_state(item);
    const char *name = json_string_value(json_array_get(json_object_get(item, "Names"), 0));
    const char *inst = reconcile_label(item, "dokkaa.instance");
    char *end;
    long instance = strtol(inst, &end, 10);
    pc->id = (char *)json_string_value(json_object_get(item, "Id"));
    pc->cname = (char *)(name ? name + (name[0] == '/') : "");
    snprintf(pc->app, sizeof pc->app, "%s", reconcile_label(item, "dokkaa.app"));
    snprintf(pc->name, sizeof pc->name, "%s", reconcile_label(item, "dokkaa.name"));
    snprintf(pc->hash, sizeof pc->hash, "%s", reconcile_label(item, "dokkaa.hash"));
    pc->instance = (*inst && !*end && instance >= 0 && instance <= MANIFEST_MAX_SCALE)
                       ? (int)instance : -1;
    pc->state = state == KEYS_STATE_RUNNING      ? PLAN_RUNNING
                : state == KEYS_STATE_RESTARTING ? PLAN_RESTARTING
                                                 : PLAN_STOPPED;
    size_t len = strlen(pc->cname), suffix = strlen(NAMES_NEXT_SUFFIX);
    pc->next = len > suffix && strcmp(pc->cname + len - suffix, NAMES_NEXT_SUFFIX) == 0;
}

/* The spec whose health check and services container c has: its revision's, else
 * (a revision not kept) its manifest's. */
static const plan_spec *reconcile_container_spec(const reconcile_view *v, const plan_container *c)
{
    const plan_spec *spec = reconcile_revision(v, c->app, c->name, c->hash);
    const plan_spec *own = plan_find_spec(v->specs, v->nspecs, c->app, c->name);
    return spec ? spec : own && own->valid ? own : NULL;
}

/* Hand the health thread what to check: every container of a valid manifest with a
 * health check, and every next container (the settle check without one); then
 * learn from it which next containers may take over. */
static void reconcile_health(reconciler *r, reconcile_view *v)
{
    health_target *targets = calloc(v->ncontainers + 1, sizeof *targets);
    size_t n = 0;
    for (size_t i = 0; targets && i < v->ncontainers; i++) {
        plan_container *c = &v->containers[i];
        const plan_spec *spec = reconcile_container_spec(v, c);
        if (!spec || (spec->m.health.kind == MANIFEST_HEALTH_NONE && !c->next) ||
            c->state != PLAN_RUNNING)
            continue;
        json_t *item = json_array_get(v->list, i);
        int port = announce_published(item, spec->m.health.port);
        if (health_target_init(&targets[n], c->id, c->cname, &spec->m.health, r->c->host_ip, port))
            n++;
        else
            health_target_free(&targets[n]);
        c->ready = c->next && health_get(r->c, c->id, NULL, 0) == KEYS_HEALTH_HEALTHY;
    }
    if (targets)
        health_want(r->c, targets, n);
}

static int reconcile_read_containers(reconciler *r, reconcile_view *v, err_t *err)
{
    size_t i;
    json_t *item;
    char label[128];
    snprintf(label, sizeof label, "dokkaa.cluster=%s", r->c->cluster);
    if (docker_container_list(r->d, label, &v->list, err) < 0)
        return -1;
    v->containers = calloc(json_array_size(v->list) + 1, sizeof *v->containers);
    if (!v->containers)
        return err_set(err, ERR_SYS, "out of memory");
    json_array_foreach(v->list, i, item)
        reconcile_describe(item, &v->containers[v->ncontainers++]);
    return 0;
}

/* Hand the images of the valid manifests (each once) to the prefetch thread. */
static void reconcile_prefetch(reconciler *r, const reconcile_view *v)
{
    char **images = calloc(v->nspecs + 1, sizeof *images);
    size_t n = 0;
    for (size_t s = 0; images && s < v->nspecs; s++) {
        bool seen = false;
        for (size_t i = 0; v->specs[s].valid && i < n && !seen; i++)
            seen = strcmp(images[i], v->specs[s].m.image) == 0;
        if (v->specs[s].valid && !seen && (images[n] = strdup(v->specs[s].m.image)))
            n++;
    }
    if (images)
        prefetch_want(r->c, images, n);
}

static bool reconcile_failure_current(const char *key, void *view)
{
    const reconcile_view *v = view;
    return plan_failure_current(v->specs, v->nspecs, v->containers, v->ncontainers, key);
}

bool reconciler_pass(reconciler *r)
{
    reconcile_view v = {0};
    plan_action *actions = NULL;
    size_t nactions = 0;
    int changed = 0;
    err_t err;

    if (reconcile_read_apps(r, &v, &err) < 0)
        goto unreachable;
    /* Scheduling needs etcd only: a leader whose engine is down still schedules. */
    changed = leader_pass(r, &v);
    if (reconcile_read_containers(r, &v, &err) < 0) {
        long long expected = 0;
        atomic_compare_exchange_strong(&r->c->engine_down_since, &expected, (long long)time(NULL));
        goto unreachable;
    }
    atomic_store(&r->c->engine_down_since, 0);
    if (r->unreachable)
        log_info("etcd and the engine are reachable again");
    r->unreachable = false;
    reconcile_prefetch(r, &v);
    reconcile_read_revisions(r, &v);
    reconcile_mark_here(r, &v);
    reconcile_health(r, &v);
    announce_pass(r, &v);
    /* reported; now forget the failures of what is neither here nor placed here */
    pthread_mutex_lock(&r->mu);
    kvset_retain(&r->failures, reconcile_failure_current, &v);
    pthread_mutex_unlock(&r->mu);
    if (plan_make(v.specs, v.nspecs, v.containers, v.ncontainers, &actions, &nactions) < 0) {
        log_error("plan: out of memory");
        goto out;
    }
    changed += act_run(r, actions, nactions);
    warned_pass_done(&r->warned); /* keys fine again are forgotten */
out:
    free(actions);
    reconcile_view_free(&v);
    return changed > 0;
unreachable:
    if (!r->unreachable)
        log_warn("pass skipped, running containers left as they are: %s", err.msg);
    r->unreachable = true;
    goto out;
}
