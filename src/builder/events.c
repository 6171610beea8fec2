/* events.c - GET /api/v1/events: the cluster's changes as Server-Sent Events.
 *
 * Each change the store's watch brings becomes one event:
 *   id: <etcd revision>
 *   event: put | delete
 *   data: {"type","kind","key","app","name","value","revision"}
 * A client that reconnects with Last-Event-ID gets what it missed when the
 * store's history still has it and it is no more than --stream-backlog bytes;
 * otherwise, and whenever the store had to read etcd afresh, it gets
 * "event: resync" and should read the views again. Only keys of the table
 * (keys.h) are sent, each with its kind ("manifest", "instance", "host",
 * "status", "service", "link", "cluster", "rollout", "author", "revision") and the
 * app and name (or service) the key names; token records never are. The value is
 * the record as stored, passed on whole: the stream shows what etcd holds, not a
 * view of it. A comment line every 15 s keeps proxies and clients from taking a
 * quiet stream for a dead one.
 *
 * Memory per stream is bounded whatever the client does: changes are taken from
 * the store and formatted EVENTS_CHUNK bytes at a time (or one change, when it is
 * larger), and the next ones only once those are sent. A client that reads slower
 * than the cluster changes falls behind; once it is more than --stream-backlog
 * bytes behind (not counting the batch that woke it when it had nothing pending:
 * store_events), or the history has dropped what it has yet to get, it is dropped
 * with a last event saying so:
 *   event: end
 *   data: {"reason": "behind", "error": "..."}
 * A browser's EventSource reconnects by itself, and then gets a resync. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "dokkaa/keys.h"

#define EVENTS_BATCH 64              /* changes taken from the store at a time, at most */
#define EVENTS_CHUNK (64 * 1024)     /* and at most this many bytes of them, or one change */
#define EVENTS_KEEPALIVE_MS 15000

typedef struct events_stream {
    builder *b;
    uint64_t cursor;
    uint64_t excused;    /* the seq up to which changes do not count as backlog (store_events) */
    bool resync;         /* owe the client a resync */
    bool ended;          /* the end event is the last text */
    char *text;          /* formatted, not yet all sent */
    size_t len, off;
} events_stream;

/* The kind the stream names a key by, as the console filters on it; NULL for keys
 * not to be sent: tokens (who may do what is no one's event), the conductors'
 * marks of etcd's terms (their bookkeeping, not the cluster's news) and keys that
 * are no key of the table. */
static const char *events_kind(enum keys_kind kind)
{
    switch (kind) {
    case KEYS_MANIFEST: return "manifest";
    case KEYS_INSTANCE: return "instance";
    case KEYS_HOST: return "host";
    case KEYS_STATUS: return "status";
    case KEYS_SERVICE: return "service";
    case KEYS_LINK: return "link";
    case KEYS_LEADER: case KEYS_REBALANCE: return "cluster";
    case KEYS_ROLLOUT: return "rollout";
    case KEYS_AUTHOR: return "author";
    case KEYS_REVISION: return "revision";
    case KEYS_TOKEN: case KEYS_ALIVE: case KEYS_OTHER: return NULL;
    }
    return NULL;
}

/* A part of a key as a JSON string, or null for a part the key does not have. */
static json_t *events_part(const char *part)
{
    json_t *s = *part ? json_string(part) : NULL;
    return s ? s : json_null();
}

static void events_append(events_stream *s, const char *text, size_t len)
{
    char *grown = realloc(s->text, s->len + len);
    if (!grown)
        return; /* out of memory: this event is dropped; the next resync mends it */
    memcpy(grown + s->len, text, len);
    s->text = grown;
    s->len += len;
}

static void events_format(events_stream *s, const store_event *ev)
{
    keys_key k;
    if (!ev->key || !ev->value)
        return; /* out of memory copying it: dropped, as events_append drops */
    keys_parse(ev->key, &k, NULL);
    const char *kind = events_kind(k.kind);
    if (!kind)
        return;
    json_t *value = ev->type == ETCD_EVENT_DELETE ? json_null() : json_loads(ev->value, 0, NULL);
    if (!value)
        value = json_string(ev->value); /* not JSON: as text (NULL if not UTF-8 either) */
    /* "name" is the manifest's, or for a service or a link the service's */
    json_t *data = json_pack("{s:s,s:s,s:s,s:o,s:o,s:o?,s:I}", "type",
                             ev->type == ETCD_EVENT_DELETE ? "delete" : "put", "kind", kind,
                             "key", ev->key, "app", events_part(k.app), "name",
                             events_part(*k.name ? k.name : k.service), "value", value,
                             "revision", (json_int_t)ev->revision);
    char *text = data ? json_dumps(data, JSON_COMPACT) : NULL;
    json_decref(data);
    if (!text)
        return;
    char head[96];
    int n = snprintf(head, sizeof head, "id: %" PRId64 "\nevent: %s\ndata: ", ev->revision,
                     ev->type == ETCD_EVENT_DELETE ? "delete" : "put");
    events_append(s, head, (size_t)n);
    events_append(s, text, strlen(text));
    events_append(s, "\n\n", 2);
    free(text);
}

/* The client is too far behind: the last event says so. */
static void events_end(events_stream *s, uint64_t backlog)
{
    char behind[64], text[600];
    if (backlog == UINT64_MAX)
        snprintf(behind, sizeof behind, "further than this builder's history keeps");
    else
        snprintf(behind, sizeof behind, "%" PRIu64 " bytes", backlog);
    int n = snprintf(text, sizeof text,
                     "event: end\ndata: {\"reason\":\"behind\",\"error\":\"this client fell "
                     "behind the cluster's changes by %s, more than a stream may (--stream-backlog "
                     "%zu bytes); reconnect with Last-Event-ID, and read the views again on "
                     "resync\"}\n\n",
                     behind, s->b->stream_backlog);
    events_append(s, text, (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
    s->ended = true;
}

/* Fill s->text with what comes next: a resync, events, a keep-alive, or the end. */
static void events_next(events_stream *s)
{
    store_event evs[EVENTS_BATCH];
    bool lost = false;
    uint64_t backlog = 0;
    size_t n = s->resync ? 0
                         : store_events(s->b->store, &s->cursor, &s->excused, evs, EVENTS_BATCH,
                                        EVENTS_CHUNK, EVENTS_KEEPALIVE_MS, &lost, &backlog);
    if (backlog > s->b->stream_backlog) {
        for (size_t i = 0; i < n; i++)
            store_event_clear(&evs[i]);
        events_end(s, backlog);
        return;
    }
    if (s->resync || lost) {
        static const char resync[] = "event: resync\ndata: {}\n\n";
        events_append(s, resync, sizeof resync - 1);
        s->resync = false;
    }
    for (size_t i = 0; i < n; i++) {
        events_format(s, &evs[i]);
        store_event_clear(&evs[i]);
    }
    if (s->len == 0 && !lost)
        events_append(s, ": keep-alive\n\n", 14);
}

static ssize_t events_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    events_stream *s = cls;
    (void)pos;
    if (s->off == s->len) {
        free(s->text);
        s->text = NULL;
        s->len = s->off = 0;
        if (s->ended || atomic_load(&s->b->stopping))
            return MHD_CONTENT_READER_END_OF_STREAM;
        events_next(s);
        if (atomic_load(&s->b->stopping))
            return MHD_CONTENT_READER_END_OF_STREAM;
    }
    size_t n = s->len - s->off < max ? s->len - s->off : max;
    memcpy(buf, s->text + s->off, n);
    s->off += n;
    return (ssize_t)n;
}

static void events_free(void *cls)
{
    events_stream *s = cls;
    free(s->text);
    free(s);
    metrics_stream(-1, 0);
}

/* Where to start: right after Last-Event-ID when the history reaches back that
 * far and what the client missed is within --stream-backlog, else from now, with
 * a resync first. */
static void events_start(events_stream *s, builder_req *r)
{
    const char *last = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Last-Event-ID");
    char *end;
    if (!last) {
        s->cursor = store_seq_at(s->b->store, INT64_MAX);
        return;
    }
    long long revision = strtoll(last, &end, 10);
    s->cursor = *end || revision < 0 ? 0 : store_seq_at(s->b->store, revision);
    if (s->cursor && store_backlog(s->b->store, s->cursor) > s->b->stream_backlog)
        s->cursor = 0;
    if ((s->resync = s->cursor == 0)) /* from the newest change, so none after the resync is missed */
        s->cursor = store_seq_at(s->b->store, INT64_MAX);
}

enum MHD_Result events_handle(builder_req *r)
{
    events_stream *s = calloc(1, sizeof *s);
    if (!s)
        return MHD_NO;
    s->b = r->b;
    events_start(s, r);
    events_append(s, "retry: 2000\n\n", 13);
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, events_read, s, events_free);
    if (!resp) {
        free(s->text);
        free(s);
        return MHD_NO;
    }
    metrics_stream(+1, 0);
    MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    r->status = 200;
    enum MHD_Result ret = MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    return ret;
}
