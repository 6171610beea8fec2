/* containers.c - follow the Dokkaa containers of this host's engine (see
 * containers.h).
 *
 * The thread keeps a record of every container labelled dokkaa.app and
 * dokkaa.name (running or not: a restarted container keeps its labels but gets a
 * new address), and its address while it has one. The engine's events move the
 * records: create (labels), network connect (address, before the process runs),
 * start (address, from an inspect), die and network disconnect (no address),
 * destroy (gone). The records are the thread's own; on_change gets a copy of the
 * addressed ones.
 *
 * No event is lost between a listing and the stream that follows it: the stream
 * starts from a second before the listing (the engine replays what happened
 * since), and the replayed events older than the listing, which it already
 * shows, are skipped. */
#include "containers.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dokkaa/docker.h"
#include "dokkaa/log.h"
#include "dokkaa/net.h"
#include "dokkaa/sleep.h"

#define CONTAINERS_BACKOFF_MIN_MS 200
#define CONTAINERS_BACKOFF_MAX_MS 5000
#define CONTAINERS_STEADY_NS (10LL * 1000000000) /* a stream this long resets the back-off */

typedef struct containers_rec {
    char id[72];
    char app[64];
    char name[64];
    uint32_t addr;  /* 0: not running, or no address yet */
    char net[72];   /* the network addr is on (its id) */
} containers_rec;

struct containers {
    docker *d;       /* list, inspect: calls made while the stream is open, */
    docker *stream;  /* so the events need a client of their own */
    char cluster[64];
    containers_fn fn;
    void *ud;
    pthread_t thread;
    atomic_bool stop;
    containers_rec *recs;
    size_t n, cap;
    table_container *out;  /* what on_change gets, rebuilt each time */
    long long listed_ns;   /* when the last listing was asked for */
};

static long long containers_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts); /* the engine stamps events with wall time */
    return (long long)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const char *containers_str(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static void containers_copy(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

/* ---- records ------------------------------------------------------------------- */

static containers_rec *containers_find(containers *c, const char *id)
{
    for (size_t i = 0; id && i < c->n; i++)
        if (strcmp(c->recs[i].id, id) == 0)
            return &c->recs[i];
    return NULL;
}

/* The record of id, made from labels (an object with dokkaa.app and dokkaa.name)
 * if there is none yet. NULL for a container that is not this cluster's. */
static containers_rec *containers_record(containers *c, const char *id, json_t *labels)
{
    const char *app = containers_str(labels, "dokkaa.app");
    const char *name = containers_str(labels, "dokkaa.name");
    const char *cluster = containers_str(labels, "dokkaa.cluster");
    containers_rec *r = containers_find(c, id);
    if (r || !id || !cluster || strcmp(cluster, c->cluster) != 0 || strlen(id) >= sizeof r->id || !app || !name || strlen(app) >= sizeof r->app ||
        strlen(name) >= sizeof r->name)
        return r;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        containers_rec *grown = realloc(c->recs, cap * sizeof *grown);
        if (!grown)
            return NULL;
        c->recs = grown;
        c->cap = cap;
    }
    r = &c->recs[c->n++];
    *r = (containers_rec){0};
    containers_copy(r->id, sizeof r->id, id);
    containers_copy(r->app, sizeof r->app, app);
    containers_copy(r->name, sizeof r->name, name);
    return r;
}

/* Set r's address; true when that changed what on_change would get. */
static bool containers_set_addr(containers_rec *r, uint32_t addr, const char *net)
{
    bool changed = r->addr != addr;
    if (changed && addr)
        log_info("container %s/%s (%.12s) is at %u.%u.%u.%u", r->app, r->name, r->id, addr >> 24,
                 (addr >> 16) & 255, (addr >> 8) & 255, addr & 255);
    else if (changed)
        log_info("container %s/%s (%.12s) has no address any more", r->app, r->name, r->id);
    r->addr = addr;
    containers_copy(r->net, sizeof r->net, addr ? net : NULL);
    return changed;
}

static bool containers_drop(containers *c, containers_rec *r)
{
    bool changed = containers_set_addr(r, 0, NULL);
    *r = c->recs[--c->n];
    return changed;
}

static void containers_publish(containers *c)
{
    size_t n = 0;
    table_container *out = realloc(c->out, (c->n + 1) * sizeof *out);
    if (!out) {
        log_error("containers: out of memory; the access list is not updated");
        return;
    }
    c->out = out;
    for (size_t i = 0; i < c->n; i++) {
        if (!c->recs[i].addr)
            continue;
        out[n] = (table_container){.addr = c->recs[i].addr};
        memcpy(out[n].app, c->recs[i].app, sizeof out[n].app);
        memcpy(out[n].name, c->recs[i].name, sizeof out[n].name);
        n++;
    }
    c->fn(c->ud, out, n);
}

/* ---- what the engine says -------------------------------------------------------- */

/* The address of a container from its NetworkSettings (an inspect's or a
 * listing's): IPAddress, the default bridge's, else the first network's that has
 * one. *net gets that network's id. */
static bool containers_addr_of(json_t *settings, uint32_t *addr, const char **net)
{
    const char *top = containers_str(settings, "IPAddress"), *key;
    json_t *nets = json_object_get(settings, "Networks"), *n;
    json_object_foreach(nets, key, n) {
        const char *ip = containers_str(n, "IPAddress");
        bool same = !top || !*top || (ip && strcmp(ip, top) == 0);
        if (ip && *ip && same && net_addr_parse(ip, addr) == 0) {
            *net = containers_str(n, "NetworkID");
            return true;
        }
    }
    *net = NULL;
    return top && *top && net_addr_parse(top, addr) == 0;
}

/* Replace the records with the engine's listing. */
static int containers_list(containers *c, err_t *err)
{
    json_t *list, *item;
    size_t i;
    c->listed_ns = containers_now_ns();
    if (docker_container_list(c->d, "dokkaa.app", &list, err) < 0)
        return -1;
    c->n = 0;
    json_array_foreach(list, i, item) {
        containers_rec *r = containers_record(c, containers_str(item, "Id"),
                                              json_object_get(item, "Labels"));
        const char *state = containers_str(item, "State"), *net;
        uint32_t addr;
        if (r && state && strcmp(state, "running") == 0 &&
            containers_addr_of(json_object_get(item, "NetworkSettings"), &addr, &net))
            containers_set_addr(r, addr, net);
    }
    log_info("containers: %zu of Dokkaa's on this engine", c->n);
    json_decref(list);
    return 0;
}

/* A container started: its address, as the engine has it now that it runs. */
static bool containers_on_start(containers *c, containers_rec *r)
{
    json_t *info;
    err_t err;
    const char *net = NULL;
    uint32_t addr = 0;
    if (docker_container_inspect(c->d, r->id, &info, &err) < 0) {
        if (err.code != ERR_NOTFOUND) /* gone already: its destroy event follows */
            log_warn("containers: %s", err.msg);
        return false;
    }
    if (!json_is_true(json_object_get(json_object_get(info, "State"), "Running")) ||
        !containers_addr_of(json_object_get(info, "NetworkSettings"), &addr, &net))
        addr = 0;
    bool changed = containers_set_addr(r, addr, net);
    json_decref(info);
    return changed;
}

/* A container joined network net_id: the network knows its address already,
 * while an inspect would wait for the start to finish. */
static bool containers_on_connect(containers *c, containers_rec *r, const char *net_id)
{
    char path[256];
    json_t *net, *ep;
    err_t err;
    uint32_t addr;
    char ip[64];
    if (r->addr || !net_id || strlen(net_id) > 128)
        return false; /* the address it has stays until it leaves that network */
    snprintf(path, sizeof path, "/networks/%s", net_id);
    if (docker_call(c->d, "GET", path, NULL, NULL, &net, &err) < 0) {
        log_warn("containers: %s", err.msg);
        return false;
    }
    ep = json_object_get(json_object_get(net, "Containers"), r->id);
    containers_copy(ip, sizeof ip, containers_str(ep, "IPv4Address")); /* "172.17.0.3/16" */
    ip[strcspn(ip, "/")] = '\0';
    bool changed = net_addr_parse(ip, &addr) == 0 && containers_set_addr(r, addr, net_id);
    json_decref(net);
    return changed;
}

static bool containers_on_container(containers *c, const char *action, const char *id,
                                    json_t *attrs)
{
    containers_rec *r = containers_record(c, id, attrs); /* attributes carry the labels */
    if (!r)
        return false;
    if (strcmp(action, "start") == 0)
        return containers_on_start(c, r);
    if (strcmp(action, "die") == 0)
        return containers_set_addr(r, 0, NULL);
    if (strcmp(action, "destroy") == 0)
        return containers_drop(c, r);
    return false; /* create: the record is all there is to it */
}

static bool containers_on_network(containers *c, const char *action, const char *net_id,
                                  json_t *attrs)
{
    containers_rec *r = containers_find(c, containers_str(attrs, "container"));
    if (!r)
        return false;
    if (strcmp(action, "connect") == 0)
        return containers_on_connect(c, r, net_id);
    if (strcmp(action, "disconnect") == 0 && r->addr && net_id && strcmp(r->net, net_id) == 0)
        return containers_set_addr(r, 0, NULL);
    return false;
}

static bool containers_on_event(void *ud, json_t *event)
{
    containers *c = ud;
    const char *type = containers_str(event, "Type"), *action = containers_str(event, "Action");
    json_t *actor = json_object_get(event, "Actor");
    const char *id = containers_str(actor, "ID");
    json_t *attrs = json_object_get(actor, "Attributes");
    bool changed = false;
    if (!type || !action || json_integer_value(json_object_get(event, "timeNano")) < c->listed_ns)
        return true; /* a replay of what the listing shows already */
    if (strcmp(type, "container") == 0)
        changed = containers_on_container(c, action, id, attrs);
    else if (strcmp(type, "network") == 0)
        changed = containers_on_network(c, action, id, attrs);
    if (changed) {
        containers_publish(c);
        const char *who = strcmp(type, "network") == 0 ? containers_str(attrs, "container") : id;
        long long at = json_integer_value(json_object_get(event, "timeNano"));
        log_debug("containers: %s %s of %.12s in the table %lld us after the engine's event",
                  type, action, who ? who : "?", (containers_now_ns() - at) / 1000);
    }
    return true;
}

/* ---- the thread -------------------------------------------------------------------- */

/* List, publish, then follow the events from just before the listing until the
 * stream ends. Returns how long the stream lasted (ns), or -1. */
static long long containers_follow(containers *c, json_t *filters, err_t *err)
{
    char since[32];
    if (containers_list(c, err) < 0)
        return -1;
    containers_publish(c);
    snprintf(since, sizeof since, "%lld", c->listed_ns / 1000000000 - 1);
    long long started = containers_now_ns();
    if (docker_events_since(c->stream, filters, since, containers_on_event, c, &c->stop, err) < 0)
        return -1;
    err_set(err, ERR_UNAVAIL, "docker events: the engine ended the stream");
    return containers_now_ns() - started;
}

static void *containers_main(void *arg)
{
    containers *c = arg;
    json_t *filters = json_pack("{s:[s,s],s:[s,s,s,s,s,s]}", "type", "container", "network",
                                "event", "create", "start", "die", "destroy", "connect",
                                "disconnect");
    int backoff = CONTAINERS_BACKOFF_MIN_MS;
    err_t err;
    while (filters && !atomic_load(&c->stop)) {
        long long lasted = containers_follow(c, filters, &err);
        if (atomic_load(&c->stop))
            break;
        if (lasted >= CONTAINERS_STEADY_NS)
            backoff = CONTAINERS_BACKOFF_MIN_MS;
        log_warn("containers: %s; listing them again in %d ms", err.msg, backoff);
        sleep_ms(backoff, &c->stop);
        backoff = backoff * 2 > CONTAINERS_BACKOFF_MAX_MS ? CONTAINERS_BACKOFF_MAX_MS : backoff * 2;
    }
    if (!filters)
        log_error("containers: out of memory");
    json_decref(filters);
    return NULL;
}

containers *containers_start(const char *docker_host, const char *cluster,
                             containers_fn on_change, void *ud, err_t *err)
{
    containers *c = calloc(1, sizeof *c);
    if (!c)
        return err_sys(err, "containers"), NULL;
    snprintf(c->cluster, sizeof c->cluster, "%s", cluster);
    c->fn = on_change;
    c->ud = ud;
    atomic_init(&c->stop, false);
    if (!(c->d = docker_new(docker_host, err)) || !(c->stream = docker_new(docker_host, err)))
        goto err;
    int rc = pthread_create(&c->thread, NULL, containers_main, c);
    if (rc != 0) {
        err_set(err, ERR_SYS, "containers: pthread_create: %s", strerror(rc));
        goto err;
    }
    return c;
err:
    docker_free(c->d);
    docker_free(c->stream);
    free(c);
    return NULL;
}

void containers_stop(containers *c)
{
    if (!c)
        return;
    atomic_store(&c->stop, true);
    pthread_join(c->thread, NULL);
    docker_free(c->d);
    docker_free(c->stream);
    free(c->recs);
    free(c->out);
    free(c);
}
