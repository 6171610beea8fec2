/* reconcile.c - one reconcile pass of the conductor:
 *
 *   1. read every manifest under /apps/ and every container with Dokkaa's labels;
 *   2. plan (plan.c) what to create, start, replace and remove;
 *   3. announce the status of each instance and the services of running ones;
 *   4. carry out the plan, `parallel` Docker operations at a time.
 *
 * A pass always starts from a full read, so it does not matter which event woke
 * it or whether some were lost. When etcd or the engine cannot be read, the pass
 * does nothing at all: running containers keep running through an etcd outage. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conductor.h"
#include "dokkaa/docker.h"
#include "dokkaa/etcd.h"
#include "dokkaa/links.h"
#include "dokkaa/log.h"
#include "kvset.h"
#include "plan.h"
#include "spec.h"

struct reconciler {
    conductor *c;
    etcd *e;
    docker *d;
    spec_host host;
    kvset announced;      /* what etcd holds from this host */
    kvset failures;       /* container name -> why its last create/start failed */
    kvset warned;         /* etcd key -> the problem last logged for it */
    bool unreachable;     /* the last pass could not read etcd or the engine */
    pthread_mutex_t mu;   /* guards failures while workers run */
};

/* What one pass read: specs from etcd, containers from the engine. */
typedef struct reconcile_view {
    plan_spec *specs;
    size_t nspecs;
    json_t *list;               /* the engine's container list */
    plan_container *containers; /* containers[i] describes list[i] */
    size_t ncontainers;
} reconcile_view;

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
    kvset_clear(&r->warned);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* Log a problem with an etcd key once, not on every pass. */
static void reconcile_warn(reconciler *r, const char *key, const char *msg)
{
    const char *last = kvset_get(&r->warned, key);
    if (!last || strcmp(last, msg) != 0) {
        log_warn("%s: %s", key, msg);
        kvset_set(&r->warned, key, msg);
    }
}

static void reconcile_view_free(reconcile_view *v)
{
    for (size_t i = 0; i < v->nspecs; i++)
        if (v->specs[i].valid)
            manifest_free(&v->specs[i].m);
    free(v->specs);
    free(v->containers);
    json_decref(v->list);
}

/* Turn every /apps/<app>/<name>/manifest into a spec; other keys under /apps/
 * (instances, written by the scheduler) are not manifests and are skipped. */
static int reconcile_read_specs(reconciler *r, reconcile_view *v, err_t *err)
{
    etcd_kvs kvs;
    if (etcd_get_prefix(r->e, "/apps/", &kvs, err) < 0)
        return -1;
    v->specs = calloc(kvs.n ? kvs.n : 1, sizeof *v->specs);
    for (size_t i = 0; v->specs && i < kvs.n; i++) {
        const etcd_kv *kv = &kvs.kvs[i];
        plan_spec *s = &v->specs[v->nspecs];
        err_t e;
        size_t klen = strlen(kv->key);
        if (klen < 9 || strcmp(kv->key + klen - 9, "/manifest") != 0)
            continue;
        if (names_parse_manifest_key(kv->key, s->app, s->name, &e) < 0) {
            reconcile_warn(r, kv->key, e.msg);
            continue;
        }
        s->valid = manifest_parse(kv->value, kv->value_len, &s->m, &e) == 0;
        if (!s->valid) {
            snprintf(s->error, sizeof s->error, "%s", e.msg);
            reconcile_warn(r, kv->key, e.msg);
        }
        v->nspecs++;
    }
    etcd_kvs_free(&kvs);
    return v->specs ? 0 : err_set(err, ERR_SYS, "out of memory");
}

static const char *reconcile_label(json_t *container, const char *label)
{
    const char *s = json_string_value(json_object_get(json_object_get(container, "Labels"), label));
    return s ? s : "";
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
    json_array_foreach(v->list, i, item) {
        plan_container *pc = &v->containers[v->ncontainers++];
        const char *state = json_string_value(json_object_get(item, "State"));
        const char *name = json_string_value(json_array_get(json_object_get(item, "Names"), 0));
        char *end;
        const char *inst = reconcile_label(item, "dokkaa.instance");
        long instance = strtol(inst, &end, 10);
        pc->id = (char *)json_string_value(json_object_get(item, "Id"));
        pc->cname = (char *)(name ? name + (name[0] == '/') : "");
        snprintf(pc->app, sizeof pc->app, "%s", reconcile_label(item, "dokkaa.app"));
        snprintf(pc->name, sizeof pc->name, "%s", reconcile_label(item, "dokkaa.name"));
        snprintf(pc->hash, sizeof pc->hash, "%s", reconcile_label(item, "dokkaa.hash"));
        pc->instance = (*inst && !*end && instance >= 0 && instance <= MANIFEST_MAX_SCALE)
                           ? (int)instance : -1;
        pc->state = !state ? PLAN_STOPPED
                    : strcmp(state, "running") == 0   ? PLAN_RUNNING
                    : strcmp(state, "restarting") == 0 ? PLAN_RESTARTING
                                                       : PLAN_STOPPED;
    }
    return 0;
}

/* ---- announcements ---------------------------------------------------------- */

static json_t *reconcile_container_json(const reconcile_view *v, const char *cname)
{
    const plan_container *pc = plan_find_container(v->containers, v->ncontainers, cname);
    return pc ? json_array_get(v->list, (size_t)(pc - v->containers)) : NULL;
}

/* "since" survives as long as the state does, so a quiet instance's status value
 * stays the same from pass to pass and is not written again. */
static void reconcile_since(reconciler *r, const char *key, const char *state, char since[32])
{
    const char *prev = kvset_get(&r->announced, key);
    json_t *old = prev ? json_loads(prev, 0, NULL) : NULL;
    const char *old_state = json_string_value(json_object_get(old, "state"));
    const char *old_since = json_string_value(json_object_get(old, "since"));
    if (old_state && old_since && strcmp(old_state, state) == 0) {
        snprintf(since, 32, "%s", old_since);
    } else {
        time_t now = time(NULL);
        strftime(since, 32, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    }
    json_decref(old);
}

static void reconcile_status(reconciler *r, kvset *want, const plan_spec *spec, int instance,
                             json_t *container, const char *error)
{
    char key[512], cname[200], since[32];
    const char *state = container ? json_string_value(json_object_get(container, "State"))
                        : !spec->valid ? "invalid"
                        : error        ? "failed"
                                       : "pending";
    names_container(cname, sizeof cname, spec->app, spec->name, instance);
    snprintf(key, sizeof key, "/status/%s/%s/%d", spec->app, spec->name, instance);
    reconcile_since(r, key, state ? state : "unknown", since);
    json_t *v = json_pack("{s:s,s:s,s:s,s:s}", "host", r->c->host_id, "container", cname,
                          "state", state ? state : "unknown", "since", since);
    if (error)
        json_object_set_new(v, "error", json_string(error));
    char *value = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    kvset_set(want, key, value);
    free(value);
    json_decref(v);
}

/* The host port the engine published for a container port, or 0. */
static int reconcile_published(json_t *container, int port)
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

static void reconcile_services(reconciler *r, kvset *want, const plan_spec *spec, int instance,
                               json_t *container)
{
    char key[512], cname[200], value[128];
    const char *state = json_string_value(json_object_get(container, "State"));
    if (!state || strcmp(state, "running") != 0)
        return;
    names_container(cname, sizeof cname, spec->app, spec->name, instance);
    for (size_t k = 0; k < spec->m.nservices; k++) {
        int port = reconcile_published(container, spec->m.services[k].port);
        if (!port)
            continue;
        snprintf(key, sizeof key, "/services/%s/%s/%s", spec->app, spec->m.services[k].name, cname);
        snprintf(value, sizeof value, "{\"addr\":\"%s\",\"port\":%d}", r->c->host_ip, port);
        kvset_set(want, key, value);
    }
}

/* Containers of an invalid manifest keep running; their status says why they are
 * not updated. With none running, instance 0 carries the error. */
static void reconcile_announce_invalid(reconciler *r, kvset *want, const reconcile_view *v,
                                       const plan_spec *spec)
{
    bool any = false;
    for (size_t i = 0; i < v->ncontainers; i++) {
        const plan_container *pc = &v->containers[i];
        if (strcmp(pc->app, spec->app) == 0 && strcmp(pc->name, spec->name) == 0 &&
            pc->instance >= 0) {
            reconcile_status(r, want, spec, pc->instance, json_array_get(v->list, i), spec->error);
            any = true;
        }
    }
    if (!any)
        reconcile_status(r, want, spec, 0, NULL, spec->error);
}

static void reconcile_announce(reconciler *r, const reconcile_view *v)
{
    kvset want = {0};
    int64_t lease = atomic_load(&r->c->lease);
    if (!lease)
        return; /* not registered yet: nothing can be bound to the host's life */
    for (size_t s = 0; s < v->nspecs; s++) {
        const plan_spec *spec = &v->specs[s];
        if (!spec->valid) {
            reconcile_announce_invalid(r, &want, v, spec);
            continue;
        }
        for (int i = 0; i < spec->m.scale; i++) {
            char cname[200];
            names_container(cname, sizeof cname, spec->app, spec->name, i);
            json_t *container = reconcile_container_json(v, cname);
            pthread_mutex_lock(&r->mu);
            reconcile_status(r, &want, spec, i, container, kvset_get(&r->failures, cname));
            pthread_mutex_unlock(&r->mu);
            reconcile_services(r, &want, spec, i, container);
        }
    }
    announce_sync(&r->announced, &want, r->e, lease, atomic_load(&r->c->lease_epoch));
}

/* ---- carrying out the plan ---------------------------------------------------- */

typedef struct reconcile_work {
    reconciler *r;
    const plan_action *actions;
    size_t n;
    atomic_size_t next;   /* the next action a worker takes */
    atomic_int changed;   /* actions that succeeded */
} reconcile_work;

static int reconcile_create(reconciler *r, docker *d, etcd **e, const plan_action *a,
                            const char *cname, err_t *err)
{
    const manifest *m = &a->spec->m;
    int ports[m->nlinks + 1];
    char *id = NULL;
    int rc;

    for (size_t k = 0; k < m->nlinks; k++) {
        if (!*e && !(*e = etcd_new(r->c->etcd_endpoints, err)))
            return -1;
        if (links_port(*e, r->c->link_ports, a->spec->app, m->links[k], &ports[k], err) < 0)
            return -1;
    }
    if (docker_image_ensure(d, m->image, err) < 0)
        return -1;
    json_t *config = spec_container_config(&r->host, a->spec, a->instance, ports);
    if (!config)
        return err_set(err, ERR_SYS, "out of memory");
    rc = docker_container_create(d, cname, config, &id, err);
    json_decref(config);
    if (rc == 0)
        rc = docker_container_start(d, id, err);
    free(id);
    return rc;
}

static int reconcile_act(reconciler *r, docker *d, etcd **e, const plan_action *a, err_t *err)
{
    char cname[200];
    if (a->verb == PLAN_REMOVE) {
        log_info("%s: removing", a->container->cname);
        return docker_container_remove(d, a->container->id, err);
    }
    names_container(cname, sizeof cname, a->spec->app, a->spec->name, a->instance);
    switch (a->verb) {
    case PLAN_START:
        log_info("%s: starting", cname);
        return docker_container_start(d, a->container->id, err);
    case PLAN_REPLACE:
        log_info("%s: replacing (manifest changed)", cname);
        if (docker_container_remove(d, a->container->id, err) < 0)
            return -1;
        /* fall through */
    case PLAN_CREATE:
        log_info("%s: creating from %s", cname, a->spec->m.image);
        return reconcile_create(r, d, e, a, cname, err);
    default:
        return 0;
    }
}

/* Remember (or forget) why an instance failed, for its status. */
static void reconcile_record(reconciler *r, const plan_action *a, const err_t *err)
{
    char cname[200];
    if (a->verb == PLAN_REMOVE)
        snprintf(cname, sizeof cname, "%s", a->container->cname);
    else
        names_container(cname, sizeof cname, a->spec->app, a->spec->name, a->instance);
    pthread_mutex_lock(&r->mu);
    if (err)
        kvset_set(&r->failures, cname, err->msg);
    else
        kvset_del(&r->failures, cname);
    pthread_mutex_unlock(&r->mu);
    if (err)
        log_warn("%s: %s", cname, err->msg);
}

static void *reconcile_worker(void *arg)
{
    reconcile_work *w = arg;
    err_t err;
    etcd *e = NULL; /* made on first need: only links need etcd here */
    docker *d = docker_new(w->r->c->docker_host, &err);
    size_t i;
    while (d && (i = atomic_fetch_add(&w->next, 1)) < w->n && !atomic_load(&w->r->c->stop)) {
        const plan_action *a = &w->actions[i];
        if (reconcile_act(w->r, d, &e, a, &err) == 0) {
            reconcile_record(w->r, a, NULL);
            atomic_fetch_add(&w->changed, 1);
        } else {
            reconcile_record(w->r, a, &err);
        }
    }
    if (!d)
        log_error("%s", err.msg);
    docker_free(d);
    etcd_free(e);
    return NULL;
}

/* Removals come first in the plan and finish before creates start, so a
 * scale-down or replacement frees names and resources before they are reused. */
static int reconcile_run(reconciler *r, const plan_action *actions, size_t n)
{
    size_t removals = 0;
    while (removals < n && actions[removals].verb == PLAN_REMOVE)
        removals++;
    int changed = 0;
    for (int phase = 0; phase < 2; phase++) {
        reconcile_work w = {.r = r, .actions = phase ? actions + removals : actions,
                            .n = phase ? n - removals : removals};
        size_t nthreads = w.n < (size_t)r->c->parallel ? w.n : (size_t)r->c->parallel;
        pthread_t threads[64];
        for (size_t t = 0; t < nthreads; t++)
            pthread_create(&threads[t], NULL, reconcile_worker, &w);
        for (size_t t = 0; t < nthreads; t++)
            pthread_join(threads[t], NULL);
        changed += atomic_load(&w.changed);
    }
    return changed;
}

bool reconciler_pass(reconciler *r)
{
    reconcile_view v = {0};
    plan_action *actions = NULL;
    size_t nactions = 0;
    int changed = 0;
    err_t err;

    if (reconcile_read_specs(r, &v, &err) < 0 || reconcile_read_containers(r, &v, &err) < 0) {
        if (!r->unreachable)
            log_warn("pass skipped, running containers left as they are: %s", err.msg);
        r->unreachable = true;
        goto out;
    }
    if (r->unreachable)
        log_info("etcd and the engine are reachable again");
    r->unreachable = false;
    reconcile_announce(r, &v);
    if (plan_make(v.specs, v.nspecs, v.containers, v.ncontainers, &actions, &nactions) < 0) {
        log_error("plan: out of memory");
        goto out;
    }
    changed = reconcile_run(r, actions, nactions);
out:
    free(actions);
    reconcile_view_free(&v);
    return changed > 0;
}
