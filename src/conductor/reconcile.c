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

static void reconcile_view_free(reconcile_view *v)
{
    for (size_t i = 0; i < v->nspecs; i++) {
        if (v->specs[i].valid)
            manifest_free(&v->specs[i].m);
        free(v->specs[i].here);
        free(v->specs[i].draining);
    }
    free(v->specs);
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
    v->nplacements++;
}

/* /apps/<app>/<name>/manifest (k): a spec, valid or not (an invalid one's
 * containers are left running, and its status says why). */
static void reconcile_add_spec(reconciler *r, reconcile_view *v, const etcd_kv *kv,
                               const keys_key *k)
{
    plan_spec *s = &v->specs[v->nspecs];
    err_t e;
    snprintf(s->app, sizeof s->app, "%s", k->app);
    snprintf(s->name, sizeof s->name, "%s", k->name);
    s->valid = manifest_parse(kv->value, kv->value_len, &s->m, &e) == 0;
    if (!s->valid) {
        snprintf(s->error, sizeof s->error, "%s", e.msg);
        warned_key(&r->warned, kv->key, e.msg);
    }
    v->nspecs++;
}

/* Everything under /apps/: manifests become specs, instances become placements.
 * keys_parse takes only the canonical spelling, so a placement read here is one the
 * leader can delete by the key it builds from its parts. */
static int reconcile_read_apps(reconciler *r, reconcile_view *v, err_t *err)
{
    etcd_kvs kvs;
    keys_key k;
    err_t why;
    if (etcd_get_prefix(r->e, KEYS_APPS, &kvs, err) < 0)
        return -1;
    v->specs = calloc(kvs.n + 1, sizeof *v->specs);
    v->placements = calloc(kvs.n + 1, sizeof *v->placements);
    for (size_t i = 0; v->specs && v->placements && i < kvs.n; i++) {
        err_clear(&why);
        keys_parse(kvs.kvs[i].key, &k, &why);
        if (k.kind == KEYS_MANIFEST) {
            reconcile_add_spec(r, v, &kvs.kvs[i], &k);
        } else if (k.kind == KEYS_INSTANCE) {
            reconcile_add_placement(r, v, &kvs.kvs[i], &k);
        } else {
            err_prefix(&why, "unknown key under /apps/ (ignored)");
            warned_key(&r->warned, kvs.kvs[i].key, why.msg);
        }
    }
    etcd_kvs_free(&kvs);
    return v->specs && v->placements ? 0 : err_set(err, ERR_SYS, "out of memory");
}

/* Mark, for each valid spec, the instances the scheduler placed on this host and
 * those it hands off from this host. Out of memory leaves the arrays NULL: nothing
 * of that spec runs here this pass. */
static void reconcile_mark_here(reconciler *r, reconcile_view *v)
{
    const char *me = r->c->host_id;
    for (size_t s = 0; s < v->nspecs; s++) {
        plan_spec *spec = &v->specs[s];
        if (!spec->valid)
            continue;
        spec->here = calloc((size_t)spec->m.scale + 1, sizeof(bool));
        spec->draining = calloc((size_t)spec->m.scale + 1, sizeof(bool));
        for (size_t i = 0; spec->here && spec->draining && i < v->nplacements; i++) {
            const sched_placement *p = &v->placements[i];
            if (p->instance >= spec->m.scale || strcmp(p->app, spec->app) != 0 ||
                strcmp(p->name, spec->name) != 0)
                continue;
            spec->here[p->instance] = strcmp(p->host, me) == 0;
            spec->draining[p->instance] = strcmp(p->from, me) == 0 && strcmp(p->host, me) != 0;
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
    reconcile_mark_here(r, &v);
    announce_pass(r, &v);
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
