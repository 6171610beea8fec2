/* store.h - the builder's copy of the cluster's etcd keys, fed by a watch.
 *
 * Every API read is served from here and never waits on etcd: the copy is a
 * sorted array of every key under "/", swapped whole as an immutable, reference-
 * counted snapshot after each batch of watch events. Answers derived from a
 * snapshot (the JSON of GET /api/v1/apps) are built on first use and kept with it
 * as a reference-counted text, which every answer sends by reference: a read that
 * repeats costs no copy, however many clients read it at once.
 *
 * Writes go to etcd, then wait (store_wait) until the copy has their revision,
 * so that whoever wrote reads what it wrote from any call after.
 *
 * The changes themselves are kept in a history of the recent ones for the event
 * stream (/api/v1/events), bounded in bytes (history.h). */
#ifndef DOKKAA_BUILDER_STORE_H
#define DOKKAA_BUILDER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dokkaa/etcd.h"

typedef struct store store;
typedef struct store_snap store_snap;

/* One change, as the event stream gives it. */
typedef struct store_event {
    uint64_t seq;       /* the history's own count, from 1 */
    enum etcd_event_type type;
    char *key;
    char *value;        /* "" for a delete */
    int64_t revision;
} store_event;

/* Changes kept for the event stream, at most (and at most history_bytes of them). */
#define STORE_HISTORY_EVENTS 4096

store *store_start(const char *endpoints, size_t history_bytes, err_t *err);
void store_stop(store *s);
/* A store fed by its caller rather than by etcd (the fuzz harness of the
 * handlers): ready at once and empty; store_feed gives it kvs as a fresh read of
 * etcd would. */
store *store_start_fed(size_t history_bytes, err_t *err);
void store_feed(store *s, const etcd_kvs *kvs);

/* Whether the copy has been read once and the watch is on. */
bool store_ready(store *s);

/* A snapshot holding a copy of kvs, outside any store (for tests); NULL when out
 * of memory. Release it like any other. */
store_snap *store_snap_make(const etcd_kvs *kvs);

/* The current snapshot; release it when done. Never NULL after store_start. */
store_snap *store_acquire(store *s);
void store_release(store_snap *snap);

int64_t store_revision(const store_snap *snap);
/* The key's value, or NULL. */
const etcd_kv *store_get(const store_snap *snap, const char *key);
/* The keys under prefix, sorted: *first points at the first of the returned count. */
size_t store_range(const store_snap *snap, const char *prefix, const etcd_kv **first);

/* A text derived from the snapshot and kept with it: build(snap, &len) runs once
 * per snapshot and slot (0..STORE_SLOTS-1) and returns malloc'd text. store_cached
 * gives a reference to it (NULL when build failed), which the caller releases with
 * store_text_release, in any thread; the text outlives the snapshot while
 * referenced, and the snapshot does not wait for it. */
#define STORE_SLOTS 2
typedef struct store_text store_text;
typedef char *(*store_build_fn)(store_snap *snap, size_t *len);
store_text *store_cached(store_snap *snap, int slot, store_build_fn build);
const char *store_text_data(const store_text *t, size_t *len);
/* void *: it serves as the free callback of a response that sends the text. */
void store_text_release(void *t);

/* Wait up to timeout_ms until the copy has revision; false on time-out. */
bool store_wait(store *s, int64_t revision, int timeout_ms);

/* The changes after *cursor (a seq; 0 = from now on), waiting up to timeout_ms
 * for one: copies up to max of them, and no more than max_bytes of them unless
 * the first alone is larger, into out (free each with store_event_clear), and
 * advances *cursor. *backlog is what the reader had yet to get before this call,
 * in bytes (history_backlog: UINT64_MAX when the history has evicted what it
 * needs, in which case nothing is copied and the cursor stays), leaving out the
 * changes up to seq *excused: those that woke a reader with nothing pending
 * (*excused is set then; start it at 0), so that a caught-up reader is never
 * counted behind by one burst of writes. *lost is set when
 * a fresh read of etcd came after *cursor: the reader should start over from a
 * full read; the cursor is then at the newest change. Returns the count, 0 on
 * time-out or stop. */
size_t store_events(store *s, uint64_t *cursor, uint64_t *excused, store_event *out, size_t max,
                    size_t max_bytes, int timeout_ms, bool *lost, uint64_t *backlog);
/* The bytes of the changes after cursor (history_backlog). */
uint64_t store_backlog(store *s, uint64_t cursor);
void store_event_clear(store_event *ev);
/* The seq of the newest change that has revision <= revision, for resuming from a
 * Last-Event-ID; 0 when the history does not reach back that far. */
uint64_t store_seq_at(store *s, int64_t revision);

/* Wake every waiter for shutdown: store_events returns 0 at once from then on. */
void store_shutdown(store *s);

#endif
