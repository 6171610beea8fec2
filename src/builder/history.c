/* history.c - the event stream's recent changes, bounded in count and bytes (see
 * history.h).
 *
 * Invariants: the changes kept are seq first..seq, each at slots[seq % cap], with
 * bytes their sizes summed and bytes <= max_bytes; first > gap_seq (a gap keeps
 * nothing from before it). Every change's end is the running total "pushed" after
 * it, so the bytes between two changes is a subtraction, whatever was evicted. */
#include "history.h"

#include <stdlib.h>
#include <string.h>

static history_entry *history_slot(const history *h, uint64_t seq)
{
    return &h->slots[seq % h->cap];
}

int history_init(history *h, size_t cap, size_t max_bytes)
{
    *h = (history){.cap = cap ? cap : 1, .max_bytes = max_bytes, .first = 1};
    h->slots = calloc(h->cap, sizeof *h->slots);
    return h->slots ? 0 : -1;
}

static void history_evict(history *h)
{
    history_entry *e = history_slot(h, h->first++);
    h->bytes -= e->size;
    free(e->key);
    free(e->value);
    *e = (history_entry){0};
}

void history_free(history *h)
{
    while (h->slots && h->first <= h->seq)
        history_evict(h);
    free(h->slots);
    h->slots = NULL;
}

size_t history_size(const char *key, size_t value_len)
{
    return strlen(key) + 1 + value_len + 1;
}

void history_gap(history *h, int64_t revision)
{
    while (h->first <= h->seq)
        history_evict(h);
    h->gap_seq = ++h->seq;
    h->gap_revision = revision;
    h->first = h->seq + 1;
}

void history_push(history *h, enum etcd_event_type type, const char *key, const char *value,
                  size_t value_len, int64_t revision)
{
    size_t size = history_size(key, value_len);
    if (size > h->max_bytes) {
        history_gap(h, revision);
        return;
    }
    char *k = strdup(key), *v = malloc(value_len + 1);
    if (!k || !v) { /* out of memory: say nothing rather than something wrong */
        free(k);
        free(v);
        history_gap(h, revision);
        return;
    }
    memcpy(v, value, value_len);
    v[value_len] = '\0';
    while (h->first <= h->seq && (h->seq - h->first + 1 >= h->cap || h->bytes + size > h->max_bytes))
        history_evict(h);
    h->seq++; /* when everything was evicted, first is now this one */
    h->bytes += size;
    h->pushed += size;
    *history_slot(h, h->seq) = (history_entry){.seq = h->seq, .type = type, .key = k, .value = v,
                                               .value_len = value_len, .revision = revision,
                                               .size = size, .end = h->pushed};
}

const history_entry *history_next(const history *h, uint64_t cursor, bool *lost)
{
    *lost = cursor < h->gap_seq || (cursor < h->seq && cursor + 1 < h->first);
    if (*lost || cursor >= h->seq)
        return NULL;
    return history_slot(h, cursor + 1);
}

uint64_t history_backlog(const history *h, uint64_t cursor)
{
    bool lost;
    const history_entry *next = history_next(h, cursor, &lost);
    if (lost)
        return cursor < h->gap_seq ? 0 : UINT64_MAX;
    return next ? h->pushed - (next->end - next->size) : 0;
}

uint64_t history_seq_at(const history *h, int64_t revision)
{
    if (h->seq == 0 || revision < h->gap_revision)
        return 0;
    uint64_t found = h->gap_seq;
    if (h->first > h->gap_seq + 1) {
        /* changes after the gap were evicted: the client saw them only if the
         * oldest kept one is no later than what it saw */
        if (h->first > h->seq || history_slot(h, h->first)->revision > revision)
            return 0;
        found = h->first;
    }
    while (found < h->seq && history_slot(h, found + 1)->revision <= revision)
        found++;
    return found;
}
