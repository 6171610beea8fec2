/* history.h - the recent changes the event stream replays, bounded in count and
 * in bytes (pure: no lock, no I/O; store.c holds its lock around every call).
 *
 * Each change gets a sequence number (seq), from 1. The history keeps the newest
 * changes whose keys and values together fit in max_bytes (and at most cap of
 * them): a value of 1 MiB costs 1 MiB, so a burst of large writes pushes the old
 * changes out instead of growing the builder. A reader keeps a cursor, the seq of
 * the last change it has; it is "lost" when the history no longer has what comes
 * right after it: evicted (the reader fell behind) or from before a gap (a fresh
 * read of etcd, or a change too large to keep), after which only a full read
 * tells the state. */
#ifndef DOKKAA_BUILDER_HISTORY_H
#define DOKKAA_BUILDER_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dokkaa/etcd.h"

typedef struct history_entry {
    uint64_t seq;
    enum etcd_event_type type;
    char *key;
    char *value;        /* NUL-terminated; "" for a delete */
    size_t value_len;
    int64_t revision;
    size_t size;        /* what it counts for: history_size() */
    uint64_t end;       /* bytes of every change recorded up to this one, included */
} history_entry;

typedef struct history {
    history_entry *slots; /* change seq lives at slots[seq % cap] */
    size_t cap, max_bytes;
    size_t bytes;         /* of the changes kept */
    uint64_t pushed;      /* bytes of every change ever recorded */
    uint64_t seq;         /* the newest seq given (a change's or a gap's) */
    uint64_t first;       /* the oldest change kept; first > seq: none */
    uint64_t gap_seq;     /* the last gap's seq: nothing before it can be replayed */
    int64_t gap_revision; /* the revision the state was known at after it */
} history;

/* At most cap changes and max_bytes bytes; -1 when out of memory. */
int history_init(history *h, size_t cap, size_t max_bytes);
void history_free(history *h);

/* The bytes a change counts for: its key and value with their NULs. */
size_t history_size(const char *key, size_t value_len);

/* A gap: the state is known afresh at revision (a full read), and no change before
 * it will be replayed. Readers from before it are lost. */
void history_gap(history *h, int64_t revision);

/* Record a change (key and value copied), pushing out the oldest ones until it
 * fits. A change larger than max_bytes on its own, or one that cannot be copied,
 * is recorded as a gap at its revision: readers then start over from a full read,
 * which shows it. */
void history_push(history *h, enum etcd_event_type type, const char *key, const char *value,
                  size_t value_len, int64_t revision);

/* The change right after cursor; NULL when there is none yet, or when the reader
 * is lost (*lost set: a gap came after cursor, or the history has evicted what
 * comes next). */
const history_entry *history_next(const history *h, uint64_t cursor, bool *lost);

/* The bytes of the changes after cursor (what a reader there has yet to get);
 * UINT64_MAX when it is lost by eviction, 0 when it has everything or is behind
 * a gap (that reader starts over anyway). */
uint64_t history_backlog(const history *h, uint64_t cursor);

/* The cursor to resume from after the last change a client saw had revision: the
 * seq of the newest change with a revision <= revision; 0 when the history does
 * not reach back that far (or nothing was recorded yet). */
uint64_t history_seq_at(const history *h, int64_t revision);

#endif
