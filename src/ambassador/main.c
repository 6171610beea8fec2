/* dokkaa-ambassador - runs on every host: the link proxy. For every link in
 * /links/ it listens on the link's port at the Docker bridge gateway, and passes
 * each connection to a live instance of the service, on any host, as announced
 * under /services/. Links are an access list: only the local containers whose
 * manifest (/apps/) links the service, and the networks given with --allow, may
 * use a link. Its tables are fed by etcd watches (mirror.c) and the engine's
 * events (containers.c): a connection costs no etcd or Docker call. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokkaa/config.h"
#include "dokkaa/docker.h"
#include "dokkaa/keys.h"
#include "dokkaa/log.h"
#include "dokkaa/manifest.h"
#include "dokkaa/mirror.h"
#include "containers.h"
#include "metrics.h"
#include "proxy.h"
#include "table.h"

#define AMBASSADOR_METRICS_PORT 4002

typedef struct ambassador {
    proxy *proxy;
    pthread_mutex_t mu;  /* guards the copies below */
    etcd_kvs links;      /* last contents of /links/ */
    etcd_kvs services;   /* last contents of /services/ */
    etcd_kvs apps;       /* last contents of /apps/: the manifests say who links what */
    table_container *containers; /* the local containers, as containers.c last said */
    size_t ncontainers;
    net_cidr *nets;      /* --allow, set before any thread runs */
    size_t nnets;
} ambassador;

static atomic_bool ambassador_stop;

static void ambassador_on_signal(int sig)
{
    (void)sig;
    atomic_store(&ambassador_stop, true);
}

static void ambassador_warn(const char *key, const char *msg)
{
    log_warn("%s: %s", key, msg);
}

static void ambassador_copy(etcd_kvs *dst, const etcd_kvs *src)
{
    etcd_kvs_free(dst);
    dst->kvs = calloc(src->n + 1, sizeof *dst->kvs);
    for (size_t i = 0; dst->kvs && i < src->n; i++) {
        etcd_kv *kv = &dst->kvs[dst->n];
        *kv = src->kvs[i];
        kv->key = strdup(src->kvs[i].key);
        /* value_len bytes, not strdup's: a value may hold a NUL, and the decoders
         * read value_len bytes of it */
        if ((kv->value = malloc(src->kvs[i].value_len + 1)))
            memcpy(kv->value, src->kvs[i].value, src->kvs[i].value_len + 1);
        if (kv->key && kv->value)
            dst->n++;
        else { /* out of memory: leave this entry out */
            free(kv->key);
            free(kv->value);
        }
    }
    dst->revision = src->revision;
}

/* Rebuild the whole table from the copies; with a->mu held, also while the proxy
 * takes the table, so that two sources changing at once cannot hand it their
 * tables in the wrong order. */
static void ambassador_rebuild(ambassador *a)
{
    table t;
    table_sources src = {.links = &a->links, .services = &a->services, .apps = &a->apps,
                         .containers = a->containers, .ncontainers = a->ncontainers,
                         .nets = a->nets, .nnets = a->nnets};
    if (table_build(&t, &src, ambassador_warn) == 0)
        proxy_set_table(a->proxy, &t);
    else
        log_error("out of memory: the links keep their last table");
}

/* A mirror changed: keep its new contents and rebuild. */
static void ambassador_update(ambassador *a, etcd_kvs *mine, const etcd_kvs *kvs)
{
    pthread_mutex_lock(&a->mu);
    ambassador_copy(mine, kvs);
    ambassador_rebuild(a);
    pthread_mutex_unlock(&a->mu);
}

static void ambassador_on_links(void *ud, const etcd_kvs *kvs, const etcd_event *events,
                                size_t nevents)
{
    (void)events, (void)nevents;
    ambassador *a = ud;
    ambassador_update(a, &a->links, kvs);
}

static void ambassador_on_services(void *ud, const etcd_kvs *kvs, const etcd_event *events,
                                size_t nevents)
{
    (void)events, (void)nevents;
    ambassador *a = ud;
    ambassador_update(a, &a->services, kvs);
}

static bool ambassador_changed(const etcd_event *events, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(events[i].kv.key, key) == 0)
            return true;
    return false;
}

/* The manifests in force: an update that does not validate leaves the running
 * containers as they were (the conductor does not touch them), so it must not
 * take their links away either; the last valid manifest of that key stays. Said
 * in the log when the update comes (one of events). */
static void ambassador_in_force(const etcd_kvs *old, const etcd_kvs *kvs,
                                const etcd_event *events, size_t nevents, etcd_kvs *out)
{
    out->kvs = calloc(kvs->n + 1, sizeof *out->kvs);
    out->n = 0;
    out->revision = kvs->revision;
    for (size_t i = 0; out->kvs && i < kvs->n; i++) {
        const etcd_kv *kv = &kvs->kvs[i], *prev;
        manifest m;
        err_t err;
        if (!keys_is(kv->key, KEYS_MANIFEST, NULL)) {
            /* a placement: not the access list's business */
        } else if (manifest_parse(kv->value, kv->value_len, &m, &err) == 0) {
            manifest_free(&m);
        } else if ((prev = etcd_kvs_get(old, kv->key))) {
            if (ambassador_changed(events, nevents, kv->key))
                log_warn("%s: %s; its containers keep the links of the last valid one",
                         kv->key, err.msg);
            kv = prev;
        }
        out->kvs[out->n++] = *kv; /* borrowed: the caller copies before old goes */
    }
}

static void ambassador_on_apps(void *ud, const etcd_kvs *kvs, const etcd_event *events,
                               size_t nevents)
{
    ambassador *a = ud;
    etcd_kvs in_force, copy = {0};
    pthread_mutex_lock(&a->mu);
    ambassador_in_force(&a->apps, kvs, events, nevents, &in_force);
    ambassador_copy(&copy, in_force.kvs ? &in_force : kvs); /* before the old copy goes */
    free(in_force.kvs);
    etcd_kvs_free(&a->apps);
    a->apps = copy;
    ambassador_rebuild(a);
    pthread_mutex_unlock(&a->mu);
}

/* A container started or stopped here. This is on the path of a container that
 * connects as soon as it starts (containers.h): the rebuild costs a parse of the
 * manifests of this host's containers, about a millisecond, and the proxy takes
 * the new table at once. */
static void ambassador_on_containers(void *ud, const table_container *list, size_t n)
{
    ambassador *a = ud;
    table_container *copy = malloc((n + 1) * sizeof *copy);
    if (!copy) {
        log_error("out of memory: the links keep their last access list");
        return;
    }
    memcpy(copy, list, n * sizeof *copy);
    pthread_mutex_lock(&a->mu);
    free(a->containers);
    a->containers = copy;
    a->ncontainers = n;
    ambassador_rebuild(a);
    pthread_mutex_unlock(&a->mu);
}

/* --allow CIDR, repeatable. */
static int ambassador_allow(ambassador *a, const char *cidr)
{
    err_t err;
    net_cidr net;
    if (net_cidr_parse(cidr, &net, &err) < 0) {
        fprintf(stderr, "dokkaa-ambassador: --allow %s\n", err.msg);
        return -1;
    }
    net_cidr *grown = realloc(a->nets, (a->nnets + 1) * sizeof *grown);
    if (!grown) {
        fprintf(stderr, "dokkaa-ambassador: --allow: out of memory\n");
        return -1;
    }
    a->nets = grown;
    a->nets[a->nnets++] = net;
    return 0;
}

static void ambassador_usage(FILE *out)
{
    fputs("usage: dokkaa-ambassador [options]\n"
          "  --etcd URLS      etcd endpoints, comma-separated (default: $ETCD_ADDR, else\n"
          "                   http://127.0.0.1:2379)\n"
          "  --docker HOST    Docker socket, to find the bridge gateway and the local\n"
          "                   containers (default: $DOCKER_HOST)\n"
          "  --listen ADDR    listen on ADDR instead of the Docker bridge gateway\n"
          "  --cluster NAME   the cluster whose containers may use the links, as the\n"
          "                   conductor's (default: $DOKKAA_CLUSTER, else dokkaa)\n"
          "  --allow CIDR     let connections from this network use every link, besides\n"
          "                   the local containers that link it (repeatable; e.g. the\n"
          "                   bridge gateway, for the host itself: 172.17.0.1/32)\n"
          "  --workers N      proxy loops (default 0: one per core)\n"
          "  --max-conns N    connections at once (default 0: as many as the descriptor\n"
          "                   limit allows, 6 each, after a listener per link and worker)\n"
          "  --max-conns-per-link N    connections at once on one link (default 0: half\n"
          "                   of the connections in force)\n"
          "  --max-conns-per-source N  connections at once from one address, over every\n"
          "                   link (default 0: a quarter, at least 1024, at most the\n"
          "                   per-link cap)\n"
          "  --idle-timeout SEC  close a connection that moved no byte this long\n"
          "                   (default 3600; 0: never)\n"
          "  --metrics-port N serve /metrics on port N (default 4002; 0: off)\n",
          out);
}

/* The address links listen on: --listen, else the gateway of Docker's bridge. */
static int ambassador_listen_addr(const char *listen, const char *docker_host, char out[64])
{
    err_t err;
    char *gateway = NULL;
    docker *d;
    if (listen) {
        snprintf(out, 64, "%s", listen);
        return 0;
    }
    if (!(d = docker_new(docker_host, &err)) || docker_network_gateway(d, "bridge", &gateway, &err) < 0) {
        log_error("%s", err.msg);
        docker_free(d);
        return -1;
    }
    snprintf(out, 64, "%s", gateway);
    free(gateway);
    docker_free(d);
    return 0;
}

typedef struct ambassador_options {
    char endpoints[1024];
    char cluster[64];
    const char *listen, *docker_host;
    int workers, max_conns, per_link, per_source, idle_timeout, metrics_port;
} ambassador_options;

/* Returns -1 to go on, else the exit code. */
static int ambassador_options_parse(ambassador *a, ambassador_options *o, int argc, char **argv)
{
    static const struct option opts[] = {
        {"etcd", required_argument, 0, 'e'},      {"docker", required_argument, 0, 'd'},
        {"listen", required_argument, 0, 'l'},    {"allow", required_argument, 0, 'a'},
        {"workers", required_argument, 0, 'w'},   {"max-conns", required_argument, 0, 'm'},
        {"metrics-port", required_argument, 0, 'p'}, {"cluster", required_argument, 0, 'c'},
        {"max-conns-per-link", required_argument, 0, 'L'},
        {"max-conns-per-source", required_argument, 0, 'S'},
        {"idle-timeout", required_argument, 0, 'i'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *cluster = NULL;
    err_t err = {0};
    int opt;
    err_t env_err = {0}; /* ETCD_ADDR's, unless --etcd replaces it */
    bool env_bad = config_etcd_endpoints(o->endpoints, sizeof o->endpoints, getenv("ETCD_ADDR"),
                                         "ETCD_ADDR", &env_err) < 0;
    o->docker_host = getenv("DOCKER_HOST");
    o->metrics_port = AMBASSADOR_METRICS_PORT;
    o->idle_timeout = PROXY_IDLE_DEFAULT_S;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int bad = 0;
        switch (opt) {
        case 'e':
            env_bad = false;
            bad = config_etcd_endpoints(o->endpoints, sizeof o->endpoints, optarg, "--etcd", &err) < 0;
            break;
        case 'd': o->docker_host = optarg; break;
        case 'l': o->listen = optarg; break;
        case 'c': cluster = optarg; break;
        case 'a': bad = ambassador_allow(a, optarg) < 0; break;
        case 'w': bad = config_int("--workers", optarg, 0, 64, &o->workers, &err) < 0; break;
        case 'm': bad = config_int("--max-conns", optarg, 0, 1000000, &o->max_conns, &err) < 0; break;
        case 'p': bad = config_int("--metrics-port", optarg, 0, 65535, &o->metrics_port, &err) < 0; break;
        case 'L': bad = config_int("--max-conns-per-link", optarg, 0, 1000000, &o->per_link, &err) < 0; break;
        case 'S': bad = config_int("--max-conns-per-source", optarg, 0, 1000000, &o->per_source, &err) < 0; break;
        case 'i': bad = config_int("--idle-timeout", optarg, 0, 86400 * 7, &o->idle_timeout, &err) < 0; break;
        case 'h': ambassador_usage(stdout); return 0;
        default: bad = 1;
        }
        if (bad)
            goto usage;
    }
    if (env_bad) {
        err = env_err;
        goto usage;
    }
    /* the conductor's default and check: its containers carry this name */
    if (config_cluster(cluster, o->cluster, sizeof o->cluster, &err) < 0)
        goto usage;
    return -1;
usage:
    if (err.code) /* getopt and --allow said what was wrong themselves */
        fprintf(stderr, "%s\n", err.msg);
    ambassador_usage(stderr);
    return 2;
}

int main(int argc, char **argv)
{
    static ambassador a = {.mu = PTHREAD_MUTEX_INITIALIZER};
    ambassador_options o = {0};
    char addr[64];
    mirror *links = NULL, *services = NULL, *apps = NULL;
    containers *local = NULL;
    metrics *stats = NULL;
    err_t err = {0};
    int rc;

    log_init("ambassador");
    if ((rc = ambassador_options_parse(&a, &o, argc, argv)) >= 0) {
        free(a.nets);
        return rc;
    }
    rc = 1;
    signal(SIGTERM, ambassador_on_signal);
    signal(SIGINT, ambassador_on_signal);
    signal(SIGPIPE, SIG_IGN);
    if (ambassador_listen_addr(o.listen, o.docker_host, addr) < 0)
        goto out;
    /* the containers first: the first tables then likely know them already */
    if ((a.proxy = proxy_new(addr, o.workers, (size_t)o.max_conns, &err)))
        proxy_set_limits(a.proxy, (size_t)o.per_link, (size_t)o.per_source, o.idle_timeout);
    if (!a.proxy ||
        (o.metrics_port && !(stats = metrics_start(a.proxy, o.metrics_port, &err))) ||
        !(local = containers_start(o.docker_host, o.cluster, ambassador_on_containers, &a, &err)) ||
        !(links = mirror_start(o.endpoints, KEYS_LINKS, ambassador_on_links, &a, &err)) ||
        !(services = mirror_start(o.endpoints, KEYS_SERVICES, ambassador_on_services, &a, &err)) ||
        !(apps = mirror_start(o.endpoints, KEYS_APPS, ambassador_on_apps, &a, &err))) {
        log_error("%s", err.msg);
        goto out;
    }
    log_info("links listen on %s; etcd %s; %zu network(s) allowed besides the linked containers; "
             "metrics on port %d", addr, o.endpoints, a.nnets, o.metrics_port);
    rc = proxy_run(a.proxy, &ambassador_stop) < 0;
    log_info("stopping");
out:
    containers_stop(local);
    mirror_stop(links);
    mirror_stop(services);
    mirror_stop(apps);
    metrics_stop(stats);
    proxy_free(a.proxy);
    etcd_kvs_free(&a.links);
    etcd_kvs_free(&a.services);
    etcd_kvs_free(&a.apps);
    free(a.containers);
    free(a.nets);
    return rc;
}
