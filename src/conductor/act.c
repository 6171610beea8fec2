/* act.c - carry out a plan on this host's engine, `parallel` operations at a time.
 *
 * Removals come first and finish before anything is created, so a scale-down or
 * a replacement frees names and resources before they are reused. A replacement
 * prepares everything that can fail (the image, the link ports) before it
 * removes the old container: a manifest pointing at a missing image leaves the
 * running instance alone, and its status says why.
 *
 * A start-first rollout creates the new revision as the instance's next container
 * (restart policy "no": should it exit, it stays exited, and the rollout sees a
 * failure rather than a container that comes and goes) and, once it is ready,
 * promotes it: the old container, whose announcement this pass withdrew, is
 * drained (act_drain), stopped with the manifest's stop_grace and removed, and the
 * next one takes the instance's name and restart policy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dokkaa/links.h"
#include "dokkaa/log.h"
#include "reconcile.h"

typedef struct act_work {
    reconciler *r;
    const plan_action *actions;
    size_t n;
    atomic_size_t next;   /* the next action a worker takes */
    atomic_int changed;   /* actions that succeeded */
} act_work;

/* What can fail before a container exists: its link ports and its image. */
static int act_prepare(reconciler *r, docker *d, etcd **e, const plan_action *a, int *ports,
                       err_t *err)
{
    const manifest *m = &a->spec->m;
    for (size_t k = 0; k < m->nlinks; k++) {
        if (!*e && !(*e = etcd_new(r->c->etcd_endpoints, err)))
            return -1;
        if (links_port(*e, r->c->link_ports, a->spec->app, m->links[k], &ports[k], err) < 0)
            return -1;
    }
    return docker_image_ensure(d, m->image, r->c->registry, err);
}

static int act_create(reconciler *r, docker *d, const plan_action *a, const int *ports,
                      const char *cname, err_t *err)
{
    char *id = NULL;
    int rc;
    json_t *config = spec_container_config(&r->host, a->spec, a->instance, ports);
    if (!config)
        return err_set(err, ERR_SYS, "out of memory");
    if (a->verb == PLAN_CREATE_NEXT)
        json_object_set_new(json_object_get(json_object_get(config, "HostConfig"), "RestartPolicy"),
                            "Name", json_string("no"));
    rc = docker_container_create(d, cname, config, &id, err);
    json_decref(config);
    if (rc == 0)
        rc = docker_container_start(d, id, err);
    free(id);
    return rc;
}

/* A container without a manifest to say otherwise gets SIGTERM and this long to
 * finish before SIGKILL, as `docker stop` gives it. */
#define ACT_STOP_SECONDS 10
/* A drained container waits at least this long before it is stopped: the
 * ambassadors hear of the withdrawal within milliseconds, and a connection one of
 * them opened just before must have arrived to be waited for. */
#define ACT_SETTLE_MS 500
#define ACT_POLL_MS 100

static int act_grace(const plan_spec *spec)
{
    return spec && spec->valid ? spec->m.stop_grace : ACT_STOP_SECONDS;
}

static int act_remove(docker *d, const plan_container *c, int grace, err_t *err)
{
    if (c->state == PLAN_RUNNING)
        docker_container_stop(d, c->id, grace, NULL); /* remove kills what remains */
    return docker_container_remove(d, c->id, err);
}

/* Open connections to the container's exposed TCP ports, from its own network
 * namespace's socket tables (/proc/<pid>/net/tcp and tcp6): the ambassadors'
 * connections end there, whichever way the engine forwarded them. */
static int act_connections(long pid, json_t *exposed)
{
    static const char *const tables[] = {"tcp", "tcp6"};
    int open = 0;
    for (size_t t = 0; t < 2; t++) {
        char path[64], line[512];
        snprintf(path, sizeof path, "/proc/%ld/net/%s", pid, tables[t]);
        FILE *f = fopen(path, "r");
        while (f && fgets(line, sizeof line, f)) {
            char local[128];
            unsigned port, state;
            /* "  0: 0100007F:0050 0100007F:C2A4 01 ..." */
            if (sscanf(line, " %*d: %127[0-9A-Fa-f]:%x %*s %x", local, &port, &state) != 3 ||
                state != 1 /* TCP_ESTABLISHED */)
                continue;
            char key[16];
            snprintf(key, sizeof key, "%u/tcp", port);
            open += json_object_get(exposed, key) != NULL;
        }
        if (f)
            fclose(f);
    }
    return open;
}

/* Let the connections the ambassadors opened to c end on their own, for at least
 * ACT_SETTLE_MS and at most grace seconds (then SIGTERM takes over). */
static void act_drain(docker *d, const plan_container *c, int grace)
{
    json_t *info = NULL;
    if (c->state != PLAN_RUNNING || docker_container_inspect(d, c->id, &info, NULL) < 0)
        return;
    long pid = (long)json_integer_value(json_object_get(json_object_get(info, "State"), "Pid"));
    json_t *exposed = json_object_get(json_object_get(info, "Config"), "ExposedPorts");
    int open = 0;
    for (int waited = 0; pid > 0 && waited < grace * 1000; waited += ACT_POLL_MS) {
        open = act_connections(pid, exposed);
        if (open == 0 && waited >= ACT_SETTLE_MS)
            break;
        struct timespec ts = {0, ACT_POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (open > 0)
        log_info("%s: %d connection(s) still open after %d s: stopping it", c->cname, open, grace);
    json_decref(info);
}

/* Is c running now? (The plan saw it a moment ago; a drain takes a while.) */
static bool act_still_running(docker *d, const plan_container *c)
{
    json_t *info = NULL;
    bool running = docker_container_inspect(d, c->id, &info, NULL) == 0 &&
                   json_is_true(json_object_get(json_object_get(info, "State"), "Running"));
    json_decref(info);
    return running;
}

/* The next container takes over instance a->instance: see the head comment. */
static int act_promote(docker *d, const plan_action *a, const char *cname, err_t *err)
{
    int grace = act_grace(a->spec);
    if (a->container) {
        log_info("%s: %s is ready: draining the old one", cname, a->next->cname);
        act_drain(d, a->container, grace);
        if (!act_still_running(d, a->next))
            return err_set(err, ERR_REMOTE, "%s stopped before it could take over",
                           a->next->cname);
        if (act_remove(d, a->container, grace, err) < 0)
            return -1;
    }
    if (docker_container_rename(d, a->next->id, cname, err) < 0 ||
        docker_container_restart_policy(d, a->next->id, "unless-stopped", err) < 0)
        return -1;
    log_info("%s: now runs revision %s", cname, a->next->hash);
    return 0;
}

static int act_one(reconciler *r, docker *d, etcd **e, const plan_action *a, err_t *err)
{
    char cname[200];
    int ports[MANIFEST_MAX_LINKS];
    if (a->verb == PLAN_REMOVE) {
        log_info("%s: removing", a->container->cname);
        return act_remove(d, a->container, act_grace(a->spec), err);
    }
    names_container(cname, sizeof cname, a->spec->app, a->spec->name, a->instance);
    if (a->verb == PLAN_START) {
        log_info("%s: starting", cname);
        return docker_container_start(d, a->container->id, err);
    }
    if (a->verb == PLAN_PROMOTE)
        return act_promote(d, a, cname, err);
    if (act_prepare(r, d, e, a, ports, err) < 0)
        return -1;
    if (a->verb == PLAN_REPLACE) {
        log_info("%s: replacing (stop-first)", cname);
        if (act_remove(d, a->container, act_grace(a->spec), err) < 0)
            return -1;
    }
    if (a->verb == PLAN_CREATE_NEXT) {
        names_next(cname, sizeof cname, a->spec->app, a->spec->name, a->instance);
        log_info("%s: creating revision %s beside the running one", cname, a->spec->m.hash);
    } else {
        log_info("%s: creating from %s", cname, a->spec->m.image);
    }
    return act_create(r, d, a, ports, cname, err);
}

/* Remember (or forget) why an instance failed, for its status: under its
 * container's name, or for a next container plan_failure_key's. */
static void act_record(reconciler *r, const plan_action *a, const err_t *err)
{
    char key[KEYS_CONTAINER_SIZE + KEYS_HASH_SIZE + 2];
    if (a->verb == PLAN_REMOVE)
        snprintf(key, sizeof key, "%s", a->container->cname);
    else if (a->verb == PLAN_CREATE_NEXT || a->verb == PLAN_PROMOTE)
        plan_failure_key(key, sizeof key, a->spec->app, a->spec->name, a->instance, a->spec->m.hash);
    else
        names_container(key, sizeof key, a->spec->app, a->spec->name, a->instance);
    pthread_mutex_lock(&r->mu);
    if (err)
        kvset_set(&r->failures, key, err->msg);
    else
        kvset_del(&r->failures, key);
    pthread_mutex_unlock(&r->mu);
    if (err)
        log_warn("%s: %s", key, err->msg);
}

static void *act_worker(void *arg)
{
    act_work *w = arg;
    err_t err;
    etcd *e = NULL; /* made on first need: only links need etcd here */
    docker *d = docker_new(w->r->c->docker_host, &err);
    size_t i;
    while (d && (i = atomic_fetch_add(&w->next, 1)) < w->n && !atomic_load(&w->r->c->stop)) {
        const plan_action *a = &w->actions[i];
        if (act_one(w->r, d, &e, a, &err) == 0) {
            act_record(w->r, a, NULL);
            atomic_fetch_add(&w->changed, 1);
        } else {
            act_record(w->r, a, &err);
        }
    }
    if (!d)
        log_error("%s", err.msg);
    docker_free(d);
    etcd_free(e);
    return NULL;
}

int act_run(reconciler *r, const plan_action *actions, size_t n)
{
    size_t removals = 0;
    while (removals < n && actions[removals].verb == PLAN_REMOVE)
        removals++;
    int changed = 0;
    for (int phase = 0; phase < 2; phase++) {
        act_work w = {.r = r, .actions = phase ? actions + removals : actions,
                            .n = phase ? n - removals : removals};
        size_t nthreads = w.n < (size_t)r->c->parallel ? w.n : (size_t)r->c->parallel;
        pthread_t threads[64];
        size_t started = 0;
        while (started < nthreads && pthread_create(&threads[started], NULL, act_worker, &w) == 0)
            started++;
        if (started == 0 && w.n > 0)
            act_worker(&w); /* no thread to be had: do the work here */
        for (size_t t = 0; t < started; t++)
            pthread_join(threads[t], NULL);
        changed += atomic_load(&w.changed);
    }
    return changed;
}

