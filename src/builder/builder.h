/* builder.h - what the builder's request handlers share.
 *
 * main.c   the program: options, signals, start and stop (nobody calls into it)
 * serve.c  the HTTP daemons: framing, admission, the body, routing by path
 * request.c a request's own state: its etcd client, whether it only reads, the
 *          revision its writes are visible at
 * reply.c  the answers every handler queues: JSON, text, the API's error, a write's
 *          once this builder's copy has it
 * auth.c   who is asking, and every rule of who may do what
 * store.c  the watch-fed copy of etcd every read is served from
 * api.c    /api/v1: apps, manifests, scale, instances, hosts, services, links, tokens
 * revisions.c /api/v1/.../revisions and .../rollback, and the author record every
 *          manifest write carries
 * logs.c   /api/v1/.../logs: a container's output, from whichever host runs it
 * events.c /api/v1/events: Server-Sent Events from the store's changes
 * metrics.c /metrics in Prometheus text format
 * assets.c the console and openapi.json, compiled in
 * listen.c one port for HTTP and HTTPS, when the builder has a certificate
 * deadline.c the header deadline: connections that trickle a request's head are cut
 * peers.c  connections per client address, loopback and trusted networks exempt
 * history.c the recent changes for the event stream, bounded in bytes (store.c's)
 * v2.c     the etcd v2 keys API of the seed's curl commands */
#ifndef DOKKAA_BUILDER_H
#define DOKKAA_BUILDER_H

#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "dokkaa/etcd.h"
#include "dokkaa/keys.h"
#include "dokkaa/manifest.h"
#include "dokkaa/net.h"
#include "dokkaa/token.h"
#include "store.h"

/* The limits' defaults (README, "Limits"; each has its flag). The body is a
 * manifest of the most a manifest may be, with room for a form's "value=". */
#define BUILDER_MAX_BODY (MANIFEST_MAX_BYTES + 64 * 1024)
#define BUILDER_MAX_CONNS 1024
#define BUILDER_MAX_CONNS_PER_IP 64
#define BUILDER_HEADER_TIMEOUT 10
#define BUILDER_STREAM_BACKLOG (4 * 1024 * 1024)
/* The least --stream-backlog may be: a stream working through one batch must
 * survive the next single write, and a manifest write is two changes of up to a
 * manifest each (the manifest and its revision record, revisions.c), plus keys. */
#define BUILDER_STREAM_BACKLOG_MIN (2 * MANIFEST_MAX_BYTES + 64 * 1024)
#define BUILDER_HISTORY_BYTES (16 * 1024 * 1024)
#define BUILDER_MAX_TRUST 16

typedef struct builder_listener builder_listener;
typedef struct deadline deadline;
typedef struct peers peers;

typedef struct builder {
    char etcd_endpoints[1024];
    char host_id[64];        /* this host's id, as its conductor registers it */
    char docker_host[256];   /* this host's engine, for logs ("" = the default) */
    int port;
    net_cidr trusted[BUILDER_MAX_TRUST]; /* besides loopback, always trusted */
    int ntrusted;
    /* TLS (--tls-cert, --tls-key, --tls-ca): the port then speaks HTTPS too, plain
     * HTTP is for loopback and trusted networks only, and a client presenting a
     * certificate of the cluster's CA (another host's builder) is trusted. */
    char tls_cert[256], tls_key[256], tls_ca[256];
    /* serve.c's: the daemons, and what they must outlive (MHD keeps pointers to the
     * PEM text: cert, key, CA) */
    struct MHD_Daemon *plain_daemon;
    struct MHD_Daemon *tls_daemon; /* NULL without TLS */
    builder_listener *listener;    /* NULL without TLS: plain_daemon listens */
    char *pem[3];
    /* limits, from the flags */
    unsigned max_conns;        /* connections at once (per daemon) */
    unsigned max_conns_per_ip; /* of them from one address; more are closed at once */
    unsigned header_timeout;   /* seconds to send a request's head (deadline.c) */
    size_t max_body;           /* bytes of a request body; larger: 413, never read */
    size_t stream_backlog;     /* bytes an event stream may fall behind (events.c) */
    size_t history_bytes;      /* bytes of changes kept for the streams (history.c) */
    deadline *deadline;
    peers *peers;              /* NULL: no limit per address */
    store *store;
    atomic_bool stopping;
} builder;

/* One request being served. */
typedef struct builder_req {
    builder *b;
    struct MHD_Connection *conn;
    const char *method;
    const char *url;     /* percent-decoded by MHD */
    char *raw_url;       /* as the client sent it, query included: the API splits
                          * its path before decoding, so "%2F" stays in a name */
    bool started;        /* the first call of builder_handle was made */
    char *body;          /* NUL-terminated */
    size_t body_len;
    bool too_large;
    unsigned status;     /* of the reply queued, for /metrics */
    bool tls;            /* came over HTTPS */
    bool trusted;        /* from loopback, a trusted network, or a cluster certificate */
    enum keys_role role; /* from the bearer token; KEYS_ROLE_ANONYMOUS without one */
    char token_id[TOKEN_ID_LEN + 1];
    char who[KEYS_BY_SIZE / 2]; /* who is asking, for people (a manifest's author): the
                                 * token's name, or "anonymous (<address>)"; never a secret */
    bool token_invalid;  /* a token was given and is unknown or malformed */
    etcd *etcd;          /* this request's client, made on first use (request_etcd) */
} builder_req;

/* serve.c: the HTTP daemons and routing. serve_start starts the header deadline
 * and the daemons as b's options say (b->store set); serve_stop stops what was
 * started, also after a failed start. serve_daemon makes one daemon of flags on
 * port serving b (b->deadline set): serve_start's, and the fuzz harness's, which
 * hands it connections itself (MHD_USE_NO_LISTEN_SOCKET, MHD_add_connection). */
int serve_start(builder *b, err_t *err);
void serve_stop(builder *b);
struct MHD_Daemon *serve_daemon(builder *b, unsigned flags, uint16_t port, bool tls);

/* deadline.c: the header deadline. deadline_notify is MHD_OPTION_NOTIFY_CONNECTION's
 * callback (cls: the deadline); serve.c says how long a body the request has (its
 * deadline grows by it), when its head and body are complete and when its request
 * is done (it then waits for the next head). */
deadline *deadline_start(unsigned seconds, err_t *err);
void deadline_stop(deadline *d);
void deadline_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                     enum MHD_ConnectionNotificationCode code);
void deadline_body(deadline *d, struct MHD_Connection *conn, uintmax_t bytes);
void deadline_head_done(deadline *d, struct MHD_Connection *conn);
void deadline_request_done(deadline *d, struct MHD_Connection *conn);

/* peers.c: connections per client address. peers_start counts for b (its trusted
 * networks are exempt) up to limit; peers_admit is MHD's accept policy callback
 * (cls: the peers), refusing an address that has limit open; peers_notify takes
 * MHD's STARTED and CLOSED notices (p may be NULL). */
peers *peers_start(const builder *b, unsigned limit);
void peers_stop(peers *p);
enum MHD_Result peers_admit(void *cls, const struct sockaddr *addr, socklen_t addrlen);
void peers_notify(peers *p, struct MHD_Connection *conn, enum MHD_ConnectionNotificationCode code);

/* listen.c: accept on port, hand each connection to plain or tls by its first
 * byte. Neither daemon listens itself (MHD_USE_NO_LISTEN_SOCKET). */
builder_listener *listen_start(int port, struct MHD_Daemon *plain, struct MHD_Daemon *tls,
                               err_t *err);
void listen_stop(builder_listener *l);

/* request.c: what a handler asks of its own request. Calls no handler. */
/* The request's etcd client, made on first use; NULL with err when it cannot be. */
etcd *request_etcd(builder_req *r, err_t *err);
/* Whether the method only reads (GET, HEAD). */
bool request_is_read(const builder_req *r);
/* Whether the path is the etcd v2 keys API, "/v2/keys" itself or under it: the
 * one test of it, for admission, routing, which paths take a body, and the shape
 * of a refusal ("/v2/keysX" is none of it). */
bool request_is_v2(const builder_req *r);
/* Free r and what it holds. */
void request_free(builder_req *r);
/* The revision a write to key is visible at, read back after a txn (etcd_txn does
 * not say it): key's mod revision, or etcd's revision when key is gone; later than
 * the write's when someone wrote since. 0 when etcd cannot be read. */
int64_t request_written_revision(builder_req *r, const char *key);

/* reply.c: the answers every handler queues. Calls no handler: the leaf they share. */
/* Queue a JSON response (steals body) with extra header X-Etcd-Index when index > 0;
 * a body that could not be built (NULL) becomes a 500. */
enum MHD_Result reply_json(builder_req *r, unsigned status, json_t *body, int64_t index);
/* Queue text as it is (copied). */
enum MHD_Result reply_text(builder_req *r, unsigned status, const char *content_type,
                           const char *text, size_t len);
/* Queue text by reference, not copied: a large answer many clients read at once
 * costs its one copy. release(cls) is called once the answer no longer needs text
 * (also when it cannot be queued). */
enum MHD_Result reply_shared(builder_req *r, unsigned status, const char *content_type,
                             const char *text, size_t len, void (*release)(void *), void *cls);
/* The API's error: {"code": ..., "error": message}, code from the status. */
enum MHD_Result reply_error(builder_req *r, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The answer to a write, queued once this builder's copy has revision (or after a
 * few seconds anyway: the write is done either way), so that a read after it on
 * this builder shows it. */
enum MHD_Result reply_written(builder_req *r, unsigned status, json_t *body, int64_t revision);
/* 503 for a failed etcd call, logged. */
enum MHD_Result reply_etcd_failed(builder_req *r, const err_t *err);

/* auth.c: who is asking and what they may do; every access rule is here. */
/* On a request's first call, before its body is read: fill r->trusted, r->role, r->who,
 * r->token_id, r->token_invalid, then decide whether r may go on by the transport
 * it came by and the endpoint it asks (the API, /v2/keys, or the public pages).
 * When not, the refusal is queued and its result is in *ret. */
bool auth_admit(builder_req *r, enum MHD_Result *ret);
/* The API's rule, for auth_admit and the API's own finer ones: whether r may read
 * (write: may change things); when not, the refusal is queued, its result in *ret. */
bool auth_allow(builder_req *r, bool write, enum MHD_Result *ret);
/* /api/v1/tokens: listing tokens tells who may do what, so it is for admins only,
 * like creating and revoking them. */
bool auth_allow_tokens(builder_req *r, enum MHD_Result *ret);
/* Whether an IPv4 address (host order) is trusted: loopback, or a --trust network. */
bool auth_trusted_v4(const builder *b, uint32_t addr);

/* v2.c: the etcd v2 keys API for /v2/keys/apps/... (auth.c says who may read and
 * write), and a refusal made before the body is read (401, 403, 400, 413), in
 * etcd v2's shape, saying why. */
enum MHD_Result v2_handle(builder_req *r);
enum MHD_Result v2_refuse(builder_req *r, unsigned status, const char *why);

/* api.c: everything under /api/v1/ except logs and events (and the revisions of
 * revisions.c, which it routes to). */
enum MHD_Result api_handle(builder_req *r, const char *path);
/* revisions.c: a manifest write with its author record beside it, in one txn:
 * revisions_write_prepare fills ops (2 of them, pointing into w) that put text at
 * app/name's manifest and the author naming who wrote it (r->who, then ": " and
 * what when not NULL), or delete a stale author when text does not validate. -1
 * when out of memory. */
typedef struct revisions_write {
    char key[KEYS_SIZE];        /* the manifest's */
    char author_key[KEYS_SIZE];
    char *author;               /* the record; NULL: delete it */
    etcd_op ops[2];
} revisions_write;
int revisions_write_prepare(revisions_write *w, const builder_req *r, const char *app,
                            const char *name, const char *text, const char *what);
void revisions_write_clear(revisions_write *w);
/* GET /api/v1/apps/<app>/<name>/revisions */
enum MHD_Result revisions_get(builder_req *r, const char *app, const char *name);
/* POST /api/v1/apps/<app>/<name>/rollback to revision (0: the newest kept one
 * that rolled out and is not the current manifest). */
enum MHD_Result revisions_rollback(builder_req *r, const char *app, const char *name,
                                   int revision);
/* logs.c: GET /api/v1/apps/<app>/<name>/instances/<i>/logs */
enum MHD_Result logs_handle(builder_req *r, const char *app, const char *name, int instance);
/* events.c: GET /api/v1/events */
enum MHD_Result events_handle(builder_req *r);
/* metrics.c */
enum MHD_Result metrics_handle(builder_req *r);
void metrics_count_request(unsigned status);
void metrics_stream(int delta_events, int delta_logs); /* open streams, +1 / -1 */
/* assets.c: the console's files and openapi.json; false when path is none of them. */
bool assets_handle(builder_req *r, const char *path, enum MHD_Result *ret);
const char *assets_find(const char *path, size_t *len, const char **content_type);

#endif
