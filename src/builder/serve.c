/* serve.c - the builder's HTTP daemons, and what every request goes through before
 * its handler: how its body is framed, whether it may be sent at all (auth.c), the
 * body itself up to --max-body, then routing by path to the handlers of
 * builder.h. Nothing here knows an endpoint's rules beyond which paths take a
 * body: those belong to the handlers and auth.c.
 *
 * libmicrohttpd runs a thread per connection: reads are served from the
 * watch-fed store without a round trip, and a write or a stream blocks on etcd or
 * the engine without holding anyone else up. Each request that writes makes its
 * own etcd client (one client per thread, see etcd.h).
 *
 * A thread per connection is a resource a client can hold, so its holding is
 * bounded (README, "Limits"): connections at once and per address, a deadline
 * for each request's head that trickling does not extend (deadline.c), bodies
 * refused on their Content-Length before a byte is read, and request framing that
 * two parsers could read two ways (request smuggling) refused outright. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "builder.h"

static void serve_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
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

static enum MHD_Result serve_healthz(builder_req *r)
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

static enum MHD_Result serve_route(builder_req *r)
{
    enum MHD_Result ret;
    const char *url = r->url;
    if (strcmp(url, "/healthz") == 0 || strcmp(url, "/metrics") == 0) {
        if (!request_is_read(r))
            return reply_error(r, 405, "%s is not allowed on %s; allowed: GET", r->method, url);
        return url[1] == 'h' ? serve_healthz(r) : metrics_handle(r);
    }
    if (request_is_v2(r)) {
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
static void *serve_uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls, (void)conn;
    builder_req *r = calloc(1, sizeof *r);
    if (r && !(r->raw_url = strdup(uri))) {
        free(r);
        r = NULL;
    }
    return r; /* NULL: serve_handle makes it, without the raw URI */
}

/* A refusal before routing, in the shape of the endpoint asked: etcd v2's for
 * /v2/keys, the API's error elsewhere. */
static enum MHD_Result serve_refuse(builder_req *r, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum MHD_Result serve_refuse(builder_req *r, unsigned status, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (request_is_v2(r))
        return v2_refuse(r, status, msg);
    return reply_error(r, status, "%s", msg);
}

typedef struct serve_framing {
    int lengths, encodings;
    bool lengths_differ, chunked;
    const char *length;
} serve_framing;

static enum MHD_Result serve_framing_header(void *cls, enum MHD_ValueKind kind,
                                            const char *key, const char *value)
{
    serve_framing *f = cls;
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
static bool serve_takes_body(const builder_req *r)
{
    const char *url = r->url;
    if (request_is_read(r))
        return false;
    return strncmp(url, "/api/v1/", 8) == 0 || request_is_v2(r);
}

/* How the body is framed, settled before it is read. A proxy in front and MHD
 * must find the same end of the body: two different Content-Lengths, or one with
 * Transfer-Encoding (MHD would follow the encoding, a proxy perhaps the length),
 * or an encoding other than chunked, let a request smuggle another one inside it
 * (RFC 9112, 6.3), so they are refused, as is any body on a route that takes
 * none (serve_takes_body). When not, the refusal is queued and its
 * result in *ret; serve_length_ok likewise refuses a body longer than
 * --max-body on its length, before a byte of it is read (no 100 Continue). */
static bool serve_framing_ok(builder_req *r, enum MHD_Result *ret)
{
    serve_framing f = {0};
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, serve_framing_header, &f);
    if (f.lengths_differ) {
        *ret = serve_refuse(r, 400, "two different Content-Length headers; a request has "
                                    "one length");
        return false;
    }
    if (f.encodings && f.lengths) {
        *ret = serve_refuse(r, 400, "Content-Length and Transfer-Encoding together; send "
                                    "one of them");
        return false;
    }
    if (f.encodings > 1 || (f.encodings && !f.chunked)) {
        *ret = serve_refuse(r, 400, "Transfer-Encoding: only chunked is accepted, once");
        return false;
    }
    /* MHD has refused a length that is not a number before the handler is called */
    if ((f.encodings || (f.lengths && strtoumax(f.length, NULL, 10) > 0)) &&
        !serve_takes_body(r)) {
        /* outside the API and v2 only reads are served: a write there is refused as
         * the router would refuse it without a body, and a read with one is 400 */
        if (!request_is_read(r))
            *ret = serve_refuse(r, 405, "%s is not allowed on %s; allowed: GET", r->method,
                                r->url);
        else
            *ret = serve_refuse(r, 400, "%s %s takes no body; send it without one",
                                r->method, r->url);
        return false;
    }
    return true;
}

/* After auth_admit: whoever may not send a body hears that first. */
static bool serve_length_ok(builder_req *r, enum MHD_Result *ret)
{
    /* MHD has refused a length that is not a number before the handler is called */
    const char *text = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Length");
    uintmax_t length = text ? strtoumax(text, NULL, 10) : 0;
    if (length > r->b->max_body) {
        *ret = serve_refuse(r, 413, "the body is %ju bytes, over the limit of %zu "
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
 * is read (serve_framing_ok). */
static enum MHD_Result serve_handle(void *cls, struct MHD_Connection *conn, const char *url,
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
        return serve_framing_ok(r, &ret) && auth_admit(r, &ret) && serve_length_ok(r, &ret)
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
    return serve_route(r);
}

/* A PEM file, NUL-terminated (certificates and keys are a few KiB). */
static char *serve_read_pem(const char *path, err_t *err)
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

/* A connection's start and end, for the header deadline and the count per address. */
static void serve_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                         enum MHD_ConnectionNotificationCode code)
{
    builder *b = cls;
    deadline_notify(b->deadline, conn, socket_context, code);
    peers_notify(b->peers, conn, code);
}

/* A thread per connection: the limits keep a flood of connections, from one
 * address or many, from taking every thread and descriptor the process has (each
 * daemon counts its own in all; peers.c counts per address across both, so
 * b->peers is set before the daemons start). Without a certificate MHD listens
 * itself, for plain HTTP; with one, two daemons (plain and TLS) take the
 * connections listen.c accepts on the one port. MHD's own timeout (30 s) ends idle
 * connections; the header deadline (deadline.c) the ones that trickle. */
struct MHD_Daemon *serve_daemon(builder *b, unsigned flags, uint16_t port, bool tls)
{
    return MHD_start_daemon(
        flags, port, b->peers ? peers_admit : NULL, b->peers, serve_handle, b,
        MHD_OPTION_NOTIFY_COMPLETED, serve_completed, b, MHD_OPTION_URI_LOG_CALLBACK,
        serve_uri_log, NULL, MHD_OPTION_NOTIFY_CONNECTION, serve_notify, b,
        MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_CONNECTION_LIMIT, b->max_conns,
        tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, b->pem[0],
        MHD_OPTION_HTTPS_MEM_KEY, b->pem[1],
        b->pem[2] ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, b->pem[2],
        MHD_OPTION_END);
}

int serve_start(builder *b, err_t *err)
{
    const unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;
    if (!(b->deadline = deadline_start(b->header_timeout, err)))
        return -1;
    if (b->max_conns_per_ip && !(b->peers = peers_start(b, b->max_conns_per_ip)))
        return err_set(err, ERR_SYS, "out of memory");
    if (!b->tls_cert[0]) {
        b->plain_daemon = serve_daemon(b, flags | MHD_USE_DUAL_STACK, (uint16_t)b->port, false);
        return b->plain_daemon ? 0 : err_set(err, ERR_SYS, "cannot listen on port %d", b->port);
    }
    if (!(b->pem[0] = serve_read_pem(b->tls_cert, err)) ||
        !(b->pem[1] = serve_read_pem(b->tls_key, err)) ||
        (b->tls_ca[0] && !(b->pem[2] = serve_read_pem(b->tls_ca, err))))
        return -1;
    const unsigned own = flags | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC;
    b->plain_daemon = serve_daemon(b, own, 0, false);
    b->tls_daemon = serve_daemon(b, own | MHD_USE_TLS, 0, true);
    if (!b->plain_daemon || !b->tls_daemon)
        return err_set(err, ERR_SYS, "cannot start the HTTPS server with %s and %s", b->tls_cert,
                       b->tls_key);
    return (b->listener = listen_start(b->port, b->plain_daemon, b->tls_daemon, err)) ? 0 : -1;
}

void serve_stop(builder *b)
{
    listen_stop(b->listener);
    MHD_stop_daemon(b->plain_daemon);
    MHD_stop_daemon(b->tls_daemon);
    deadline_stop(b->deadline);
    peers_stop(b->peers);
    b->peers = NULL;
    for (int i = 0; i < 3; i++)
        free(b->pem[i]);
    b->listener = NULL;
    b->plain_daemon = b->tls_daemon = NULL;
    b->deadline = NULL;
    b->pem[0] = b->pem[1] = b->pem[2] = NULL;
}
