/* dokkaa-builder - runs on every host: the HTTP front door on port 4001. It
 * serves the REST API under /api/v1 (api.c, logs.c, events.c), the web console
 * (assets.c), /metrics, /healthz, and the etcd v2 keys API for /v2/keys/apps/...
 * (v2.c), so that the seed's curl commands work as written. See builder.h.
 *
 * This file is the program: its options, its signals, and the order things start
 * and stop in. The HTTP daemons and routing are serve.c's. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder.h"
#include "dokkaa/config.h"
#include "dokkaa/log.h"
#include "dokkaa/net.h"

static volatile sig_atomic_t builder_stop;

static void builder_on_signal(int sig)
{
    (void)sig;
    builder_stop = 1;
}

static int builder_add_trust_one(builder *b, const char *text, err_t *err)
{
    net_cidr cidr;
    if (net_cidr_parse(text, &cidr, err) < 0)
        return -1;
    if (b->ntrusted == BUILDER_MAX_TRUST)
        return err_set(err, ERR_INVALID, "at most %d networks can be trusted, got more with %s",
                       BUILDER_MAX_TRUST, text);
    b->trusted[b->ntrusted++] = cidr;
    return 0;
}

/* One CIDR, or a comma-separated list of them ($DOKKAA_TRUST); "--trust: " and
 * what is wrong on stderr otherwise. */
static int builder_add_trust(builder *b, const char *cidrs)
{
    char list[1024], *save = NULL;
    err_t err;
    snprintf(list, sizeof list, "%s", cidrs);
    for (char *c = strtok_r(list, ", ", &save); c; c = strtok_r(NULL, ", ", &save)) {
        if (builder_add_trust_one(b, c, &err) < 0) {
            fprintf(stderr, "--trust: %s\n", err.msg);
            return -1;
        }
    }
    return 0;
}

/* A size for option name: bytes, or with K, M or G (KiB, MiB, GiB; "16M",
 * "16MiB"), in min..max; "--name: ..." on stderr and -1 otherwise. */
static int builder_bytes(const char *name, const char *text, uintmax_t min, uintmax_t max,
                         size_t *out)
{
    char *end;
    errno = 0;
    uintmax_t n = isdigit((unsigned char)*text) ? strtoumax(text, &end, 10) : 0, unit = 1;
    bool ok = isdigit((unsigned char)*text) && errno == 0;
    if (ok && *end) {
        static const char units[] = "KMG";
        const char *u = strchr(units, toupper((unsigned char)*end));
        ok = u && (!end[1] || strcasecmp(end + 1, "iB") == 0 || strcasecmp(end + 1, "B") == 0);
        for (const char *p = units; ok && p <= u; p++)
            unit *= 1024;
    }
    if (!ok || n > max / unit || n * unit < min || n * unit > max) {
        fprintf(stderr, "%s: must be a size of %juKiB..%juMiB (bytes, or a number with K, M or "
                        "G), got \"%s\"\n", name, min / 1024, max / (1024 * 1024), text);
        return -1;
    }
    *out = (size_t)(n * unit);
    return 0;
}

/* An integer flag into an unsigned; -1 with the message on stderr. */
static int builder_uint(const char *name, const char *text, int min, int max, unsigned *out)
{
    int v;
    err_t err;
    if (config_int(name, text, min, max, &v, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

static void builder_usage(FILE *out)
{
    fputs("usage: dokkaa-builder [options]\n"
          "  --etcd URLS      etcd endpoints, comma-separated (default: $ETCD_ADDR, else\n"
          "                   http://127.0.0.1:2379)\n"
          "  --port N         HTTP port (default 4001)\n"
          "  --host-id ID     this host's id, as its conductor's (default: $DOKKAA_HOST_ID or\n"
          "                   $HOST_ID, else the\n"
          "                   hostname); logs of its instances come from its own engine\n"
          "  --docker HOST    this host's Docker engine (default: $DOCKER_HOST, else\n"
          "                   /var/run/docker.sock)\n"
          "  --trust CIDRS    networks whose anonymous writes are accepted, besides\n"
          "                   loopback (comma-separated, repeatable; default: $DOKKAA_TRUST)\n"
          "  --tls-cert FILE  serve HTTPS too, on the same port, with this certificate\n"
          "                   (PEM; default: $DOKKAA_TLS_CERT); plain HTTP is then for\n"
          "                   loopback and trusted networks only\n"
          "  --tls-key FILE   its key (default: $DOKKAA_TLS_KEY)\n"
          "  --tls-ca FILE    the cluster's CA: clients with a certificate of it are\n"
          "                   trusted (default: $DOKKAA_TLS_CA)\n"
          "Limits (sizes in bytes, or with K, M, G: 16M is 16 MiB):\n"
          "  --max-conns N    connections at once (default 1024; with --tls-cert, of\n"
          "                   HTTP and of HTTPS each); more wait in the kernel's queue,\n"
          "                   or with --tls-cert are closed at once\n"
          "  --max-conns-per-ip N  of them from one address (default 64; 0: no limit);\n"
          "                   more are closed at once; loopback and --trust networks\n"
          "                   are not counted, an IPv6 address counts by its /64\n"
          "  --header-timeout SEC  a request's head (request line and headers) must\n"
          "                   arrive within SEC s of the connection opening or of its\n"
          "                   previous answer, however it trickles (default 10); a\n"
          "                   body has that plus a second per 16 KiB of it (chunked:\n"
          "                   of --max-body)\n"
          "  --max-body SIZE  a request body, refused with 413 on its Content-Length\n"
          "                   before it is read (default 1088K: a 1 MiB manifest, form-\n"
          "                   encoded)\n"
          "  --stream-backlog SIZE  how far an event stream (/api/v1/events) may fall\n"
          "                   behind; a Last-Event-ID further back gets a resync, a\n"
          "                   client that falls further behind is ended (default 4M;\n"
          "                   at least 2112K: a stream must outlast the next write, a\n"
          "                   1 MiB manifest and its revision record)\n"
          "  --history-bytes SIZE  the recent changes kept for the streams to resume\n"
          "                   from (default 16M; at most 4096 changes)\n",
          out);
}

static void builder_env(char *buf, size_t size, const char *name)
{
    const char *v = getenv(name);
    snprintf(buf, size, "%s", v ? v : "");
}

/* Defaults as the conductor's: $HOST_ID, else the hostname. */
static void builder_defaults(builder *b)
{
    const char *id = config_env("DOKKAA_HOST_ID", "HOST_ID"), *docker = getenv("DOCKER_HOST");
    char hostname[64] = "";
    gethostname(hostname, sizeof hostname - 1);
    snprintf(b->host_id, sizeof b->host_id, "%s", id && *id ? id : hostname);
    snprintf(b->docker_host, sizeof b->docker_host, "%s", docker ? docker : "");
    b->port = 4001;
    b->max_conns = BUILDER_MAX_CONNS;
    b->max_conns_per_ip = BUILDER_MAX_CONNS_PER_IP;
    b->header_timeout = BUILDER_HEADER_TIMEOUT;
    b->max_body = BUILDER_MAX_BODY;
    b->stream_backlog = BUILDER_STREAM_BACKLOG;
    b->history_bytes = BUILDER_HISTORY_BYTES;
    builder_env(b->tls_cert, sizeof b->tls_cert, "DOKKAA_TLS_CERT");
    builder_env(b->tls_key, sizeof b->tls_key, "DOKKAA_TLS_KEY");
    builder_env(b->tls_ca, sizeof b->tls_ca, "DOKKAA_TLS_CA");
}

static int builder_options(builder *b, int argc, char **argv)
{
    static const struct option opts[] = {
        {"etcd", required_argument, 0, 'e'},    {"port", required_argument, 0, 'p'},
        {"trust", required_argument, 0, 't'},   {"host-id", required_argument, 0, 'i'},
        {"docker", required_argument, 0, 'd'},  {"help", no_argument, 0, 'h'},
        {"tls-cert", required_argument, 0, 'C'}, {"tls-key", required_argument, 0, 'K'},
        {"tls-ca", required_argument, 0, 'A'},
        {"max-conns", required_argument, 0, 'm'}, {"max-conns-per-ip", required_argument, 0, 'P'},
        {"header-timeout", required_argument, 0, 'H'}, {"max-body", required_argument, 0, 'B'},
        {"stream-backlog", required_argument, 0, 'S'},
        {"history-bytes", required_argument, 0, 'Y'},
        {0, 0, 0, 0}};
    const char *trust = getenv("DOKKAA_TRUST");
    bool trust_given = false;
    err_t err, env_err; /* env_err: ETCD_ADDR's, unless --etcd replaces it */
    bool env_bad = config_etcd_endpoints(b->etcd_endpoints, sizeof b->etcd_endpoints,
                                         getenv("ETCD_ADDR"), "ETCD_ADDR", &env_err) < 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'e':
            env_bad = false;
            if (config_etcd_endpoints(b->etcd_endpoints, sizeof b->etcd_endpoints, optarg,
                                      "--etcd", &err) < 0) {
                fprintf(stderr, "%s\n", err.msg);
                return 2;
            }
            break;
        case 'p':
            if (config_int("--port", optarg, 1, 65535, &b->port, &err) < 0) {
                fprintf(stderr, "%s\n", err.msg);
                return 2;
            }
            break;
        case 't': if (builder_add_trust(b, optarg) < 0) return 2; trust_given = true; break;
        case 'C': snprintf(b->tls_cert, sizeof b->tls_cert, "%s", optarg); break;
        case 'K': snprintf(b->tls_key, sizeof b->tls_key, "%s", optarg); break;
        case 'A': snprintf(b->tls_ca, sizeof b->tls_ca, "%s", optarg); break;
        case 'i': snprintf(b->host_id, sizeof b->host_id, "%s", optarg); break;
        case 'd': snprintf(b->docker_host, sizeof b->docker_host, "%s", optarg); break;
        case 'm': if (builder_uint("--max-conns", optarg, 1, 65536, &b->max_conns) < 0) return 2; break;
        case 'P':
            if (builder_uint("--max-conns-per-ip", optarg, 0, 65536, &b->max_conns_per_ip) < 0)
                return 2;
            break;
        case 'H':
            if (builder_uint("--header-timeout", optarg, 1, 3600, &b->header_timeout) < 0)
                return 2;
            break;
        case 'B':
            if (builder_bytes("--max-body", optarg, 1024, 64u << 20, &b->max_body) < 0)
                return 2;
            break;
        case 'S':
            if (builder_bytes("--stream-backlog", optarg, BUILDER_STREAM_BACKLOG_MIN,
                              (uintmax_t)1 << 30, &b->stream_backlog) < 0)
                return 2;
            break;
        case 'Y':
            if (builder_bytes("--history-bytes", optarg, 64 * 1024, (uintmax_t)4 << 30,
                              &b->history_bytes) < 0)
                return 2;
            break;
        case 'h': builder_usage(stdout); return 0;
        default: builder_usage(stderr); return 2;
        }
    }
    if (env_bad) {
        fprintf(stderr, "%s\n", env_err.msg);
        return 2;
    }
    if (!trust_given && trust && *trust && builder_add_trust(b, trust) < 0)
        return 2;
    if (!b->tls_cert[0] != !b->tls_key[0]) {
        fputs("dokkaa-builder: --tls-cert and --tls-key go together\n", stderr);
        return 2;
    }
    return -1;
}

int main(int argc, char **argv)
{
    static builder b;
    err_t err;
    int rc;

    log_init("builder");
    /* Large buffers (a 1 MiB value, an event formatted from it, an answer) get
     * mappings of their own, returned to the system when freed. glibc's default
     * raises this threshold after the first such free, and from then on serves
     * them from per-thread arenas that keep what they once held: with a thread per
     * connection the builder's memory would be what every client once needed, not
     * what they need now. The cost is an mmap and munmap per large buffer. */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    builder_defaults(&b);
    if ((rc = builder_options(&b, argc, argv)) >= 0)
        return rc;
    signal(SIGTERM, builder_on_signal);
    signal(SIGINT, builder_on_signal);
    signal(SIGPIPE, SIG_IGN);
    /* The stop signals are blocked before any thread starts, so that every thread
     * inherits the mask and only main's sigsuspend takes them: one delivered to
     * another thread set the flag while main slept on, and the first SIGTERM was
     * lost (systemd then waited for its SIGKILL). They stay blocked but while main
     * waits, so none comes between the check and the wait. */
    sigset_t stops, before;
    sigemptyset(&stops);
    sigaddset(&stops, SIGTERM);
    sigaddset(&stops, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stops, &before);
    if (!(b.store = store_start(b.etcd_endpoints, b.history_bytes, &err))) {
        log_error("%s", err.msg);
        return 1;
    }
    if (serve_start(&b, &err) < 0) {
        log_error("%s", err.msg);
        serve_stop(&b);
        store_stop(b.store);
        return 1;
    }
    log_info("serving %s on port %d; host %s; etcd %s", b.tls_daemon ? "HTTP and HTTPS" : "HTTP",
             b.port, b.host_id, b.etcd_endpoints);
    while (!builder_stop)
        sigsuspend(&before);
    log_info("stopping");
    /* streams end when they see these, so that stopping the daemon does not wait
     * on a follower that would never hang up */
    atomic_store(&b.stopping, true);
    store_shutdown(b.store);
    serve_stop(&b);
    store_stop(b.store);
    return 0;
}
