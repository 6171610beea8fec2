/* dokkaa-conductor - runs on every host: registers the host, runs the containers
 * the manifests in etcd ask for, and announces their status and services.
 *
 * Configuration: flags, or the seed's environment variables HOST_IP, ETCD_ADDR and
 * DOCKER_HOST (flags win). See README.md, "dokkaa-conductor". */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conductor.h"
#include "health.h"
#include "dokkaa/config.h"
#include "dokkaa/keys.h"
#include "dokkaa/log.h"

static conductor *conductor_signalled;

static void conductor_on_signal(int sig)
{
    (void)sig;
    atomic_store(&conductor_signalled->stop, true);
    /* no conductor_wake here: pthread calls are not async-signal-safe; the main
     * loop's timed wait notices stop within a second */
}

static void conductor_usage(FILE *out)
{
    fputs("usage: dokkaa-conductor [options]\n"
          "  --host-id ID       this host's id (default: $DOKKAA_HOST_ID or $HOST_ID, else the\n"
          "                     hostname)\n"
          "  --host-ip ADDR     address announced for services (default: $DOKKAA_HOST_IP or\n"
          "                     $HOST_IP, else 127.0.0.1)\n"
          "  --etcd URLS        etcd endpoints, comma-separated (default: $ETCD_ADDR, else\n"
          "                     http://127.0.0.1:2379)\n"
          "  --docker HOST      Docker socket (default: $DOCKER_HOST, else /var/run/docker.sock)\n"
          "  --lease-ttl SEC    host lease TTL: a dead host's instances move after it\n"
          "                     (default 5)\n"
          "  --registry HOST    pull images named without a registry from HOST (default:\n"
          "                     $DOKKAA_REGISTRY; none: such images are never pulled from\n"
          "                     a registry of ours)\n"
          "  --resync SEC       full reconcile at least every SEC seconds (default 10)\n"
          "  --parallel N       Docker operations at once (default 8)\n"
          "  --cluster NAME     cluster name, labels the containers (default: $DOKKAA_CLUSTER,\n"
          "                     else dokkaa)\n"
          "  --link-ports A-B   ports links are allocated from (default 20000-29999)\n",
          out);
}

static int conductor_parse(conductor *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"host-id", required_argument, 0, 'i'}, {"host-ip", required_argument, 0, 'a'},
        {"etcd", required_argument, 0, 'e'},    {"docker", required_argument, 0, 'd'},
        {"lease-ttl", required_argument, 0, 't'}, {"resync", required_argument, 0, 'r'},
        {"parallel", required_argument, 0, 'p'}, {"cluster", required_argument, 0, 'c'},
        {"link-ports", required_argument, 0, 'l'}, {"registry", required_argument, 0, 'g'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *host_id = config_env("DOKKAA_HOST_ID", "HOST_ID");
    const char *host_ip = config_env("DOKKAA_HOST_IP", "HOST_IP");
    const char *cluster = NULL, *registry = getenv("DOKKAA_REGISTRY");
    char hostname[64] = "localhost";
    err_t err;
    int opt, rc = 0;

    gethostname(hostname, sizeof hostname - 1);
    err_t env_err = {0}; /* ETCD_ADDR's, unless --etcd replaces it */
    bool env_bad = config_etcd_endpoints(c->etcd_endpoints, sizeof c->etcd_endpoints,
                                         getenv("ETCD_ADDR"), "ETCD_ADDR", &env_err) < 0;
    c->docker_host = getenv("DOCKER_HOST");
    c->lease_ttl = 5;
    c->resync_seconds = 10;
    c->parallel = 8;
    c->link_ports = LINKS_RANGE_DEFAULT;
    while (rc == 0 && (opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'i': host_id = optarg; break;
        case 'a': host_ip = optarg; break;
        case 'e':
            env_bad = false;
            rc = config_etcd_endpoints(c->etcd_endpoints, sizeof c->etcd_endpoints, optarg,
                                       "--etcd", &err);
            break;
        case 'd': c->docker_host = optarg; break;
        case 't': rc = config_int("--lease-ttl", optarg, 2, 3600, &c->lease_ttl, &err); break;
        case 'r': rc = config_int("--resync", optarg, 1, 3600, &c->resync_seconds, &err); break;
        case 'p': rc = config_int("--parallel", optarg, 1, 64, &c->parallel, &err); break;
        case 'c': cluster = optarg; break;
        case 'g': registry = optarg; break;
        case 'l': rc = links_parse_range(optarg, &c->link_ports, &err); break;
        case 'h': conductor_usage(stdout); exit(0);
        default: conductor_usage(stderr); return -1;
        }
    }
    if (!host_id || !*host_id)
        host_id = hostname;
    /* Checked before it is used in a key: an id with '/' or '@' would make
     * /hosts/<id> and /services/...@<id> keys that parse as something else, and a
     * longer one than fits would be cut to another host's id. */
    if (rc == 0 && env_bad)
        err = env_err, rc = -1;
    if (rc == 0)
        rc = keys_check_host(host_id, &err);
    if (rc == 0)
        rc = config_cluster(cluster, c->cluster, sizeof c->cluster, &err);
    if (rc < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    snprintf(c->host_id, sizeof c->host_id, "%s", host_id);
    snprintf(c->registry, sizeof c->registry, "%s", registry ? registry : "");
    snprintf(c->host_ip, sizeof c->host_ip, "%s", host_ip && *host_ip ? host_ip : "127.0.0.1");
    return 0;
}

/* Wait until woken or a resync is due, then report whether to stop. */
static bool conductor_wait(conductor *c, time_t deadline)
{
    pthread_mutex_lock(&c->mu);
    while (!c->dirty && !atomic_load(&c->stop) && time(NULL) < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&c->cond, &c->mu, &ts);
    }
    c->dirty = false;
    pthread_mutex_unlock(&c->mu);
    return !atomic_load(&c->stop);
}

int main(int argc, char **argv)
{
    static conductor c = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER,
                          .prefetch_mu = PTHREAD_MUTEX_INITIALIZER,
                          .prefetch_cond = PTHREAD_COND_INITIALIZER};
    /* the last, /status/, matters only to the leader (handoffs) */
    static const char *const prefixes[] = {KEYS_APPS, KEYS_HOSTS, KEYS_CLUSTER, KEYS_STATUSES};
    watch_target targets[4];
    pthread_t host, watchers[4], events, prefetch, checks;
    reconciler *r;

    log_init("conductor");
    if (conductor_parse(&c, argc, argv) < 0)
        return 2;
    conductor_signalled = &c;
    signal(SIGTERM, conductor_on_signal);
    signal(SIGINT, conductor_on_signal);
    signal(SIGPIPE, SIG_IGN);
    if (!(c.health = health_new()) || !(r = reconciler_new(&c)))
        return 1;
    log_info("host %s (%s) etcd %s", c.host_id, c.host_ip, c.etcd_endpoints);

    if (pthread_create(&host, NULL, host_thread, &c) != 0 ||
        pthread_create(&events, NULL, watch_docker_thread, &c) != 0 ||
        pthread_create(&prefetch, NULL, prefetch_thread, &c) != 0 ||
        pthread_create(&checks, NULL, health_thread, &c) != 0)
        return log_error("cannot start threads"), 1;
    for (int i = 0; i < 4; i++) {
        targets[i] = (watch_target){.c = &c, .prefix = prefixes[i], .leader_only = i == 3};
        if (pthread_create(&watchers[i], NULL, watch_etcd_thread, &targets[i]) != 0)
            return log_error("cannot start threads"), 1;
    }
    do {
        /* Passes repeat while they change things, but a bounded number of times:
         * a container that keeps failing must not keep this loop from waiting.
         * While a rollout runs, and while the engine does not answer, a pass comes
         * every second: an engine back from a restart must be seen well within the
         * lease TTL, or host.c gives the lease up and the cluster moves this host's
         * instances, which (live-restore) still run. */
        for (int pass = 0; pass < 5 && !atomic_load(&c.stop) && reconciler_pass(r); pass++)
            ;
    } while (conductor_wait(&c, time(NULL) + (atomic_load(&c.rolling) ||
                                                      atomic_load(&c.engine_down_since)
                                                  ? 1
                                                  : c.resync_seconds)));

    log_info("stopping: containers keep running; a conductor started within %ds takes over",
             c.lease_ttl);
    for (int i = 0; i < 4; i++)
        pthread_join(watchers[i], NULL);
    pthread_join(events, NULL);
    pthread_join(prefetch, NULL);
    pthread_join(checks, NULL);
    prefetch_want(&c, NULL, 0); /* frees the last set */
    pthread_join(host, NULL);
    reconciler_free(r);
    health_free(c.health);
    return 0;
}
