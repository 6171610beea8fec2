/* dokkaa-builder - runs on every host: the HTTP front door on port 4001. It
 * serves the REST API under /api/v1 (api.c, logs.c, events.c), the web console
 * (assets.c), /metrics, /healthz, and the etcd v2 keys API for /v2/keys/apps/...
 * (v2.c), so that the seed's curl commands work as written. See builder.h.
 *
 * libmicrohttpd runs a thread per connection here: reads are served from the
 * watch-fed store without a round trip, and a write or a stream blocks on etcd or
 * the engine without holding anyone else up. Each request that writes makes its
 * own etcd client (one client per thread, see etcd.h).
 *
 * A thread per connection is a resource a client can hold, so its holding is
 * bounded (README, "Limits"): connections at once and per address, a deadline
 * for each request's head that trickling does not extend (deadline.c), bodies
 * refused on their Content-Length before a byte is read, and request framing that
 * two parsers could read two ways (request smuggling) refused outright. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
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
    builder *b = cls;
    (void)toe;
    deadline_request_done(b->deadline, conn); /* the next request's head is due */
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

/* A refusal before routing, in the shape of the endpoint asked: etcd v2's for
 * /v2/keys, the API's error elsewhere. */
static enum MHD_Result builder_refuse(builder_req *r, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum MHD_Result builder_refuse(builder_req *r, unsigned status, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (strncmp(r->url, "/v2/keys", 8) == 0)
        return v2_refuse(r, status, msg);
    return reply_error(r, status, "%s", msg);
}

typedef struct builder_framing {
    int lengths, encodings;
    bool lengths_differ, chunked;
    const char *length;
} builder_framing;

static enum MHD_Result builder_framing_header(void *cls, enum MHD_ValueKind kind,
                                              const char *key, const char *value)
{
    builder_framing *f = cls;
    (void)kind;
    if (strcasecmp(key, "Content-Length") == 0) {
        if (f->lengths++ && strcmp(f->length, value) != 0)
            f->lengths_differ = true;
        f->length = value;
    } else if (strcasecmp(key, "Transfer-Encoding") == 0) {
        f->encodings++;
        f->chunked = strcasecmp(value, "chunked") == 0;
    }
    return MHD_YES;
}

/* Whether the route takes a body at all: the writes of the API and of /v2/keys.
 * auth_admit lets reads and every other path through anonymously, so a body
 * there would be read from anyone (up to --max-body, per connection) only to be
 * dropped. */
static bool builder_takes_body(const builder_req *r)
{
    const char *url = r->url;
    if (request_is_read(r))
        return false;
    return strncmp(url, "/api/v1/", 8) == 0 ||
           (strncmp(url, "/v2/keys", 8) == 0 && (url[8] == '\0' || url[8] == '/'));
}

/* How the body is framed, settled before it is read. A proxy in front and MHD
 * must find the same end of the body: two different Content-Lengths, or one with
 * Transfer-Encoding (MHD would follow the encoding, a proxy perhaps the length),
 * or an encoding other than chunked, let a request smuggle another one inside it
 * (RFC 9112, 6.3), so they are refused, as is any body on a route that takes
 * none (builder_takes_body). When not, the refusal is queued and its
 * result in *ret; builder_length_ok likewise refuses a body longer than
 * --max-body on its length, before a byte of it is read (no 100 Continue). */
static bool builder_framing_ok(builder_req *r, enum MHD_Result *ret)
{
    builder_framing f = {0};
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, builder_framing_header, &f);
    if (f.lengths_differ) {
        *ret = builder_refuse(r, 400, "two different Content-Length headers; a request has "
                                      "one length");
        return false;
    }
    if (f.encodings && f.lengths) {
        *ret = builder_refuse(r, 400, "Content-Length and Transfer-Encoding together; send "
                                      "one of them");
        return false;
    }
    if (f.encodings > 1 || (f.encodings && !f.chunked)) {
        *ret = builder_refuse(r, 400, "Transfer-Encoding: only chunked is accepted, once");
        return false;
    }
    /* MHD has refused a length that is not a number before the handler is called */
    if ((f.encodings || (f.lengths && strtoumax(f.length, NULL, 10) > 0)) &&
        !builder_takes_body(r)) {
        /* outside the API and v2 only reads are served: a write there is refused as
         * the router would refuse it without a body, and a read with one is 400 */
        if (!request_is_read(r))
            *ret = builder_refuse(r, 405, "%s is not allowed on %s; allowed: GET", r->method,
                                  r->url);
        else
            *ret = builder_refuse(r, 400, "%s %s takes no body; send it without one",
                                  r->method, r->url);
        return false;
    }
    return true;
}

/* After auth_admit: whoever may not send a body hears that first. */
static bool builder_length_ok(builder_req *r, enum MHD_Result *ret)
{
    /* MHD has refused a length that is not a number before the handler is called */
    const char *text = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Length");
    uintmax_t length = text ? strtoumax(text, NULL, 10) : 0;
    if (length > r->b->max_body) {
        *ret = builder_refuse(r, 413, "the body is %ju bytes, over the limit of %zu "
                                      "(--max-body); nothing was read", length, r->b->max_body);
        return false;
    }
    /* the body has time by its length (chunked: by the most it may be), so that
     * trickling it holds a thread for a bounded time */
    bool chunked = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Transfer-Encoding");
    deadline_body(r->b->deadline, r->conn, chunked ? r->b->max_body : length);
    return true;
}

/* Collect the body (up to --max-body; beyond that it is dropped and the request
 * refused with 413), then route. A read with a body is refused before any of it
 * is read (builder_framing_ok). */
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
        /* who may even send a body, and how long, is settled here, before any of it
         * is read: a client that may not write cannot make the builder buffer
         * anything. The deadline runs on until the body is in (deadline_head_done
         * below): MHD's idle timeout, which every byte restarts, would not end it. */
        return builder_framing_ok(r, &ret) && auth_admit(r, &ret) && builder_length_ok(r, &ret)
                   ? MHD_YES
                   : ret;
    }
    if (*upload_size) {
        if (request_is_read(r)) {
            /* dropped */
        } else if (r->body_len + *upload_size > r->b->max_body) {
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
    deadline_head_done(r->b->deadline, conn); /* head and body are in */
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
          "                   more are closed at once\n"
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

/* A thread per connection: the limits keep a flood of connections, from one
 * address or many, from taking every thread and descriptor the process has (each
 * daemon counts its own). Without a certificate MHD listens itself, for plain
 * HTTP; with one, two daemons (plain and TLS) take the connections listen.c
 * accepts on the one port. MHD's own timeout (30 s) ends idle connections; the
 * header deadline (deadline.c) the ones that trickle. */
static struct MHD_Daemon *builder_daemon(builder *b, unsigned flags, uint16_t port, bool tls)
{
    return MHD_start_daemon(
        flags, port, NULL, NULL, builder_handle, b, MHD_OPTION_NOTIFY_COMPLETED,
        builder_completed, b, MHD_OPTION_URI_LOG_CALLBACK, builder_uri_log, NULL,
        MHD_OPTION_NOTIFY_CONNECTION, deadline_notify, b->deadline,
        MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_CONNECTION_LIMIT, b->max_conns,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, b->max_conns_per_ip,
        tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, builder_pem[0],
        MHD_OPTION_HTTPS_MEM_KEY, builder_pem[1],
        builder_pem[2] ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, builder_pem[2],
        MHD_OPTION_END);
}

static int builder_serve(builder *b, err_t *err)
{
    const unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;
    if (!(b->deadline = deadline_start(b->header_timeout, err)))
        return -1;
    if (!b->tls_cert[0]) {
        builder_plain = builder_daemon(b, flags | MHD_USE_DUAL_STACK, (uint16_t)b->port, false);
        return builder_plain ? 0 : err_set(err, ERR_SYS, "cannot listen on port %d", b->port);
    }
    if (!(builder_pem[0] = builder_read_pem(b->tls_cert, err)) ||
        !(builder_pem[1] = builder_read_pem(b->tls_key, err)) ||
        (b->tls_ca[0] && !(builder_pem[2] = builder_read_pem(b->tls_ca, err))))
        return -1;
    const unsigned own = flags | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC;
    builder_plain = builder_daemon(b, own, 0, false);
    b->tls_daemon = builder_daemon(b, own | MHD_USE_TLS, 0, true);
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
    if (builder_serve(&b, &err) < 0) {
        log_error("%s", err.msg);
        MHD_stop_daemon(builder_plain);
        MHD_stop_daemon(b.tls_daemon);
        deadline_stop(b.deadline);
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
    listen_stop(builder_listening);
    MHD_stop_daemon(builder_plain);
    MHD_stop_daemon(b.tls_daemon);
    deadline_stop(b.deadline);
    store_stop(b.store);
    free(builder_pem[0]);
    free(builder_pem[1]);
    free(builder_pem[2]);
    return 0;
}
