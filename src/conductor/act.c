/* act.c - carry out a plan on this host's engine, `parallel` operations at a time.
 *
 * Removals come first and finish before anything is created, so a scale-down or
 * a replacement frees names and resources before they are reused. A replacement
 * prepares everything that can fail (the image, the link ports) before it
 * removes the old container: a manifest pointing at a missing image leaves the
 * running instance alone, and its status says why. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    rc = docker_container_create(d, cname, config, &id, err);
    json_decref(config);
    if (rc == 0)
        rc = docker_container_start(d, id, err);
    free(id);
    return rc;
}

/* A container gets SIGTERM and this long to finish what it serves before it is
 * killed and removed, as `docker stop` would give it (which waits 10 s). */
#define ACT_STOP_SECONDS 5

static int act_remove(docker *d, const plan_container *c, err_t *err)
{
    if (c->state == PLAN_RUNNING)
        docker_container_stop(d, c->id, ACT_STOP_SECONDS, NULL); /* remove kills what remains */
    return docker_container_remove(d, c->id, err);
}

static int act_one(reconciler *r, docker *d, etcd **e, const plan_action *a, err_t *err)
{
    char cname[200];
    int ports[MANIFEST_MAX_LINKS];
    if (a->verb == PLAN_REMOVE) {
        log_info("%s: removing", a->container->cname);
        return act_remove(d, a->container, err);
    }
    names_container(cname, sizeof cname, a->spec->app, a->spec->name, a->instance);
    if (a->verb == PLAN_START) {
        log_info("%s: starting", cname);
        return docker_container_start(d, a->container->id, err);
    }
    if (act_prepare(r, d, e, a, ports, err) < 0)
        return -1;
    if (a->verb == PLAN_REPLACE) {
        log_info("%s: replacing (manifest changed)", cname);
        if (act_remove(d, a->container, err) < 0)
            return -1;
    }
    log_info("%s: creating from %s", cname, a->spec->m.image);
    return act_create(r, d, a, ports, cname, err);
}

/* Remember (or forget) why an instance failed, for its status. */
static void act_record(reconciler *r, const plan_action *a, const err_t *err)
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

