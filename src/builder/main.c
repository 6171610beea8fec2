/* dokkaa-builder - runs on every host: the HTTP front door on port 4001. It
 * serves the REST API under /api/v1 (api.c, logs.c, events.c), the web console
 * (assets.c), /metrics, /healthz, and the etcd v2 keys API for /v2/keys/apps/...
 * (v2.c), so that the seed's curl commands work as written. See builder.h.
 *
 * libmicrohttpd runs a thread per connection here: reads are served from the
 * watch-fed store without a round trip, and a write or a stream blocks on etcd or
 * the engine without holding anyone else up. Each request that writes makes its
 * own etcd client (one client per thread, see etcd.h). */
#include <getopt.h>
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

static void builder_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)conn, (void)toe;
    builder_req *r = *con_cls;
    if (r) {
        metrics_count_request(r->status);
        request_free(r);
        *con_cls = NULL;
    }
}

static enum MHD_Result builder_healthz(builder_req *r)
{
    if (!store_ready(r->b->store))
        return reply_error(r, 503, "the builder has not read etcd yet (%s)",
                           r->b->etcd_endpoints);
    store_snap *snap = store_acquire(r->b->store);
    int64_t revision = store_revision(snap);
    store_release(snap);
    return reply_json(r, 200, json_pack("{s:s,s:I}", "status", "ok", "revision",
                                        (json_int_t)revision), 0);
}

static enum MHD_Result builder_route(builder_req *r)
{
    enum MHD_Result ret;
    const char *url = r->url;
    if (strcmp(url, "/healthz") == 0 || strcmp(url, "/metrics") == 0) {
        if (!request_is_read(r))
            return reply_error(r, 405, "%s is not allowed on %s; allowed: GET", r->method, url);
        return url[1] == 'h' ? builder_healthz(r) : metrics_handle(r);
    }
    if (strncmp(url, "/v2/keys", 8) == 0 && (url[8] == '\0' || url[8] == '/')) {
        err_t err;
        if (!request_etcd(r, &err))
            return reply_error(r, 500, "%s", err.msg);
        return v2_handle(r);
    }
    if (strncmp(url, "/api/v1/", 8) == 0) {
        const char *raw = r->raw_url ? r->raw_url : url;
        if (strncmp(raw, "/api/v1/", 8) != 0)
            return reply_error(r, 404, "no such API path: %s", url);
        return api_handle(r, raw + 7);
    }
    if (assets_handle(r, url, &ret))
        return ret;
    return reply_error(r, 404, "no such page: %s", url);
}

/* MHD's first look at a request, before it decodes the URI: the request's state is
 * made here, to keep the URI as sent (see builder_req.raw_url). */
static void *builder_uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls, (void)conn;
    builder_req *r = calloc(1, sizeof *r);
    if (r && !(r->raw_url = strdup(uri))) {
        free(r);
        r = NULL;
    }
    return r; /* NULL: builder_handle makes it, without the raw URI */
}

/* Collect the body (up to BUILDER_MAX_BODY; beyond that it is dropped and the
 * request refused with 413), then route. */
static enum MHD_Result builder_handle(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    builder_req *r = *con_cls;
    enum MHD_Result ret;
    if (!r || !r->started) {
        if (!r && !(r = calloc(1, sizeof *r)))
            return MHD_NO;
        const union MHD_ConnectionInfo *d = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_DAEMON);
        builder *b = cls;
        *r = (builder_req){.b = b, .conn = conn, .method = method, .url = url,
                           .raw_url = r->raw_url, .started = true,
                           .tls = b->tls_daemon && d && d->daemon == b->tls_daemon};
        *con_cls = r;
        /* who may even send a body is settled here, before any of it is read: a
         * client that may not write cannot make the builder buffer anything */
        return auth_admit(r, &ret) ? MHD_YES : ret;
    }
    if (*upload_size) {
        if (r->body_len + *upload_size > BUILDER_MAX_BODY) {
            r->too_large = true;
        } else {
            char *grown = realloc(r->body, r->body_len + *upload_size + 1);
            if (!grown)
                return MHD_NO;
            memcpy(grown + r->body_len, upload, *upload_size);
            r->body = grown;
            r->body_len += *upload_size;
            r->body[r->body_len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    return builder_route(r);
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
          "                   trusted (default: $DOKKAA_TLS_CA)\n",
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
    config_etcd_endpoints(b->etcd_endpoints, sizeof b->etcd_endpoints, getenv("ETCD_ADDR"));
    b->port = 4001;
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
        {0, 0, 0, 0}};
    const char *trust = getenv("DOKKAA_TRUST");
    bool trust_given = false;
    err_t err;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'e': config_etcd_endpoints(b->etcd_endpoints, sizeof b->etcd_endpoints, optarg); break;
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
        case 'h': builder_usage(stdout); return 0;
        default: builder_usage(stderr); return 2;
        }
    }
    if (!trust_given && trust && *trust && builder_add_trust(b, trust) < 0)
        return 2;
    if (!b->tls_cert[0] != !b->tls_key[0]) {
        fputs("dokkaa-builder: --tls-cert and --tls-key go together\n", stderr);
        return 2;
    }
    return -1;
}

/* The daemons, and what they need to outlive: MHD keeps pointers to the PEM text. */
static struct MHD_Daemon *builder_plain;
static builder_listener *builder_listening;
static char *builder_pem[3]; /* cert, key, CA */

/* A PEM file, NUL-terminated (certificates and keys are a few KiB). */
static char *builder_read_pem(const char *path, err_t *err)
{
    enum { MAX = 64 * 1024 };
    FILE *f = fopen(path, "r");
    char *text = f ? malloc(MAX + 1) : NULL;
    size_t len = text ? fread(text, 1, MAX + 1, f) : 0;
    bool ok = text && !ferror(f) && len <= MAX;
    if (f)
        fclose(f);
    if (!ok) {
        free(text);
        return err_sys(err, "%s", path), NULL;
    }
    text[len] = '\0';
    return text;
}

/* A thread per connection: the limit keeps a flood of idle connections from
 * taking every thread and descriptor the process has. Without a certificate MHD
 * listens itself, for plain HTTP; with one, two daemons (plain and TLS) take the
 * connections listen.c accepts on the one port. */
static int builder_serve(builder *b, err_t *err)
{
    const unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;
    if (!b->tls_cert[0]) {
        builder_plain = MHD_start_daemon(
            flags | MHD_USE_DUAL_STACK, (uint16_t)b->port, NULL, NULL, builder_handle, b,
            MHD_OPTION_NOTIFY_COMPLETED, builder_completed, NULL, MHD_OPTION_URI_LOG_CALLBACK,
            builder_uri_log, NULL, MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_CONNECTION_LIMIT,
            1024u, MHD_OPTION_END);
        return builder_plain ? 0 : err_set(err, ERR_SYS, "cannot listen on port %d", b->port);
    }
    if (!(builder_pem[0] = builder_read_pem(b->tls_cert, err)) ||
        !(builder_pem[1] = builder_read_pem(b->tls_key, err)) ||
        (b->tls_ca[0] && !(builder_pem[2] = builder_read_pem(b->tls_ca, err))))
        return -1;
    const unsigned own = flags | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC;
    builder_plain = MHD_start_daemon(
        own, 0, NULL, NULL, builder_handle, b, MHD_OPTION_NOTIFY_COMPLETED, builder_completed,
        NULL, MHD_OPTION_URI_LOG_CALLBACK, builder_uri_log, NULL, MHD_OPTION_CONNECTION_TIMEOUT,
        30u, MHD_OPTION_CONNECTION_LIMIT, 1024u, MHD_OPTION_END);
    b->tls_daemon = MHD_start_daemon(
        own | MHD_USE_TLS, 0, NULL, NULL, builder_handle, b, MHD_OPTION_NOTIFY_COMPLETED,
        builder_completed, NULL, MHD_OPTION_URI_LOG_CALLBACK, builder_uri_log, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_CONNECTION_LIMIT, 1024u,
        MHD_OPTION_HTTPS_MEM_CERT, builder_pem[0], MHD_OPTION_HTTPS_MEM_KEY, builder_pem[1],
        builder_pem[2] ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, builder_pem[2],
        MHD_OPTION_END);
    if (!builder_plain || !b->tls_daemon)
        return err_set(err, ERR_SYS, "cannot start the HTTPS server with %s and %s", b->tls_cert,
                       b->tls_key);
    return (builder_listening = listen_start(b->port, builder_plain, b->tls_daemon, err)) ? 0 : -1;
}

int main(int argc, char **argv)
{
    static builder b;
    err_t err;
    int rc;

    log_init("builder");
    builder_defaults(&b);
    if ((rc = builder_options(&b, argc, argv)) >= 0)
        return rc;
    signal(SIGTERM, builder_on_signal);
    signal(SIGINT, builder_on_signal);
    signal(SIGPIPE, SIG_IGN);
    if (!(b.store = store_start(b.etcd_endpoints, &err))) {
        log_error("%s", err.msg);
        return 1;
    }
    if (builder_serve(&b, &err) < 0) {
        log_error("%s", err.msg);
        store_stop(b.store);
        return 1;
    }
    log_info("serving %s on port %d; host %s; etcd %s", b.tls_daemon ? "HTTP and HTTPS" : "HTTP",
             b.port, b.host_id, b.etcd_endpoints);
    /* the signals stay blocked but while waiting, so none comes between the check and
     * the wait (pause() would then sleep on) */
    sigset_t stops, before;
    sigemptyset(&stops);
    sigaddset(&stops, SIGTERM);
    sigaddset(&stops, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stops, &before);
    while (!builder_stop)
        sigsuspend(&before);
    log_info("stopping");
    /* streams end when they see these, so that stopping the daemon does not wait
     * on a follower that would never hang up */
    atomic_store(&b.stopping, true);
    store_shutdown(b.store);
    listen_stop(builder_listening);
    MHD_stop_daemon(builder_plain);
    MHD_stop_daemon(b.tls_daemon);
    store_stop(b.store);
    free(builder_pem[0]);
    free(builder_pem[1]);
    free(builder_pem[2]);
    return 0;
}
