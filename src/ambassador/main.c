/* dokkaa-ambassador - runs on every host: the link proxy. For every link in
 * /links/ it listens on the link's port at the Docker bridge gateway, and passes
 * each connection to a live instance of the service, on any host, as announced
 * under /services/. Its tables are fed by etcd watches (mirror.c): a connection
 * costs no etcd or Docker call. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokkaa/config.h"
#include "dokkaa/docker.h"
#include "dokkaa/log.h"
#include "dokkaa/mirror.h"
#include "proxy.h"
#include "table.h"

typedef struct ambassador {
    proxy *proxy;
    pthread_mutex_t mu;  /* guards the two copies below */
    etcd_kvs links;      /* last contents of /links/ */
    etcd_kvs services;   /* last contents of /services/ */
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
        kv->value = strdup(src->kvs[i].value);
        if (kv->key && kv->value)
            dst->n++;
        else { /* out of memory: leave this entry out */
            free(kv->key);
            free(kv->value);
        }
    }
    dst->revision = src->revision;
}

/* Either mirror changed: rebuild the whole table from both copies. */
static void ambassador_update(ambassador *a, etcd_kvs *mine, const etcd_kvs *kvs)
{
    table t;
    pthread_mutex_lock(&a->mu);
    ambassador_copy(mine, kvs);
    int rc = table_build(&t, &a->links, &a->services, ambassador_warn);
    pthread_mutex_unlock(&a->mu);
    if (rc == 0)
        proxy_set_table(a->proxy, &t);
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

static void ambassador_usage(FILE *out)
{
    fputs("usage: dokkaa-ambassador [options]\n"
          "  --etcd URLS      etcd endpoints, comma-separated (default: $ETCD_ADDR, else\n"
          "                   http://127.0.0.1:2379)\n"
          "  --docker HOST    Docker socket, to find the bridge gateway (default: $DOCKER_HOST)\n"
          "  --listen ADDR    listen on ADDR instead of the Docker bridge gateway\n",
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

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"etcd", required_argument, 0, 'e'}, {"docker", required_argument, 0, 'd'},
        {"listen", required_argument, 0, 'l'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    static ambassador a = {.mu = PTHREAD_MUTEX_INITIALIZER};
    char endpoints[1024], addr[64];
    const char *listen = NULL, *docker_host = getenv("DOCKER_HOST");
    mirror *links = NULL, *services = NULL;
    err_t err;
    int opt, rc = 1;

    log_init("ambassador");
    config_etcd_endpoints(endpoints, sizeof endpoints, getenv("ETCD_ADDR"));
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'e': config_etcd_endpoints(endpoints, sizeof endpoints, optarg); break;
        case 'd': docker_host = optarg; break;
        case 'l': listen = optarg; break;
        case 'h': ambassador_usage(stdout); return 0;
        default: ambassador_usage(stderr); return 2;
        }
    }
    signal(SIGTERM, ambassador_on_signal);
    signal(SIGINT, ambassador_on_signal);
    signal(SIGPIPE, SIG_IGN);
    if (ambassador_listen_addr(listen, docker_host, addr) < 0 || !(a.proxy = proxy_new(addr, 0, 0, &err)))
        goto out;
    if (!(links = mirror_start(endpoints, "/links/", ambassador_on_links, &a, &err)) ||
        !(services = mirror_start(endpoints, "/services/", ambassador_on_services, &a, &err))) {
        log_error("%s", err.msg);
        goto out;
    }
    log_info("links listen on %s; etcd %s", addr, endpoints);
    rc = proxy_run(a.proxy, &ambassador_stop) < 0;
    log_info("stopping");
out:
    mirror_stop(links);
    mirror_stop(services);
    proxy_free(a.proxy);
    etcd_kvs_free(&a.links);
    etcd_kvs_free(&a.services);
    return rc;
}
