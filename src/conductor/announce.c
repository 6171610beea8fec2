/* announce.c - what this host tells the cluster, under its lease:
 *   /status/<app>/<name>/<i>              every instance placed here: state, since, error
 *   /services/<app>/<service>/<container>@<host>
 *                                          every service of a running instance here,
 *                                          also of one being handed off to another host
 *                                          (the host in the key: during a handoff both
 *                                          hosts announce the instance, each its own key)
 * built afresh each pass and written by announce_sync (kvset.c), which sends only
 * what changed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dokkaa/log.h"
#include "reconcile.h"

/* Does any host run, or is any host to run, an instance of spec? */
static bool reconcile_placed_anywhere(const reconcile_view *v, const plan_spec *spec)
{
    for (size_t i = 0; i < v->nplacements; i++)
        if (strcmp(v->placements[i].app, spec->app) == 0 &&
            strcmp(v->placements[i].name, spec->name) == 0)
            return true;
    return false;
}

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
        struct tm tm;
        strftime(since, 32, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
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
        snprintf(key, sizeof key, "/services/%s/%s/%s@%s", spec->app, spec->m.services[k].name,
                 cname, r->c->host_id);
        snprintf(value, sizeof value, "{\"addr\":\"%s\",\"port\":%d}", r->c->host_ip, port);
        kvset_set(want, key, value);
    }
}

/* Keep announcing the services of a container whose manifest turned invalid: it
 * keeps running, and its users must keep reaching it. */
static void reconcile_keep_services(reconciler *r, kvset *want, const plan_spec *spec,
                                    const char *cname)
{
    char prefix[128], suffix[300];
    size_t plen = (size_t)snprintf(prefix, sizeof prefix, "/services/%s/", spec->app);
    size_t slen = (size_t)snprintf(suffix, sizeof suffix, "/%s@%s", cname, r->c->host_id);
    for (size_t k = 0; k < r->announced.n; k++) {
        const char *key = r->announced.kvs[k].key;
        size_t len = strlen(key);
        if (strncmp(key, prefix, plen) == 0 && len > slen && strcmp(key + len - slen, suffix) == 0)
            kvset_set(want, key, r->announced.kvs[k].value);
    }
}

/* Containers of an invalid manifest keep running; their status says why they are
 * not updated. With none running anywhere, the leader gives instance 0 the error. */
static void reconcile_announce_invalid(reconciler *r, kvset *want, const reconcile_view *v,
                                       const plan_spec *spec)
{
    bool any = false;
    for (size_t i = 0; i < v->ncontainers; i++) {
        const plan_container *pc = &v->containers[i];
        if (strcmp(pc->app, spec->app) == 0 && strcmp(pc->name, spec->name) == 0 &&
            pc->instance >= 0) {
            reconcile_status(r, want, spec, pc->instance, json_array_get(v->list, i), spec->error);
            reconcile_keep_services(r, want, spec, pc->cname);
            any = true;
        }
    }
    if (!any && atomic_load(&r->c->leading) && !reconcile_placed_anywhere(v, spec))
        reconcile_status(r, want, spec, 0, NULL, spec->error);
}

/* The lease changed: what we knew we had announced is moot. A new lease holds
 * nothing; one adopted from this host's previous run holds what that run wrote,
 * which etcd lists (without values, so every wanted key is written again and
 * every other one deleted). */
static int announce_adopt(reconciler *r, int64_t lease, int epoch)
{
    etcd_kvs keys;
    err_t err;
    if (etcd_lease_keys(r->e, lease, &keys, &err) < 0) {
        log_warn("%s", err.msg);
        return -1;
    }
    kvset_clear(&r->announced);
    for (size_t i = 0; i < keys.n; i++)
        if (strncmp(keys.kvs[i].key, "/hosts/", 7) != 0) /* host.c's own */
            kvset_set(&r->announced, keys.kvs[i].key, "");
    r->announced_epoch = epoch;
    etcd_kvs_free(&keys);
    return 0;
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
            reconcile_announce_invalid(r, &want, v, spec);
            continue;
        }
        for (int i = 0; i < spec->m.scale; i++) {
            char cname[200];
            bool here = spec->here && spec->here[i];
            bool draining = spec->draining && spec->draining[i];
            if (!here && !draining)
                continue; /* another host's, or not placed yet */
            names_container(cname, sizeof cname, spec->app, spec->name, i);
            json_t *container = reconcile_container_json(v, cname);
            if (here) { /* a draining instance's status is the new host's to write */
                pthread_mutex_lock(&r->mu);
                reconcile_status(r, &want, spec, i, container, kvset_get(&r->failures, cname));
                pthread_mutex_unlock(&r->mu);
            }
            reconcile_services(r, &want, spec, i, container); /* serves until handed off */
        }
    }
    announce_sync(&r->announced, &want, r->e, lease);
}

