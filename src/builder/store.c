/* store.c - the builder's watch-fed copy of etcd (see store.h).
 *
 * A mirror (lib/mirror.c) keeps every key under "/" current; after each batch of
 * changes this module copies it into a new snapshot and swaps it in under the
 * lock, so a reader holds a consistent view for as long as it needs without
 * blocking the watch. The copy is O(keys) per batch: cheap next to what makes
 * the batch (an etcd round trip per change), and it keeps readers free of locks.
 * If clusters grow to where that shows, snapshots could share unchanged values. */
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dokkaa/log.h"
#include "dokkaa/mirror.h"
#include "history.h"

struct store_text {
    atomic_int refs;
    char *data;
    size_t len;
};

struct store_snap {
    atomic_int refs;
    etcd_kvs kvs;
    pthread_mutex_t lock; /* guards the derived texts */
    store_text *text[STORE_SLOTS]; /* one reference each, once built */
};

struct store {
    mirror *mirror;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    store_snap *snap;
    bool ready, down;
    history history; /* a fresh read of etcd is a gap in it */
};

static void store_snap_free(store_snap *snap)
{
    etcd_kvs_free(&snap->kvs);
    for (int i = 0; i < STORE_SLOTS; i++)
        store_text_release(snap->text[i]);
    pthread_mutex_destroy(&snap->lock);
    free(snap);
}

void store_release(store_snap *snap)
{
    if (snap && atomic_fetch_sub(&snap->refs, 1) == 1)
        store_snap_free(snap);
}

store_snap *store_snap_make(const etcd_kvs *kvs)
{
    store_snap *snap = calloc(1, sizeof *snap);
    if (!snap || !(snap->kvs.kvs = calloc(kvs->n ? kvs->n : 1, sizeof(etcd_kv)))) {
        free(snap);
        return NULL;
    }
    atomic_init(&snap->refs, 1);
    pthread_mutex_init(&snap->lock, NULL);
    snap->kvs.revision = kvs->revision;
    for (size_t i = 0; i < kvs->n; i++) {
        etcd_kv *to = &snap->kvs.kvs[i];
        *to = kvs->kvs[i];
        to->key = strdup(kvs->kvs[i].key);
        to->value = malloc(kvs->kvs[i].value_len + 1);
        snap->kvs.n++;
        if (!to->key || !to->value) {
            store_snap_free(snap);
            return NULL;
        }
        memcpy(to->value, kvs->kvs[i].value, kvs->kvs[i].value_len + 1);
    }
    return snap;
}

void store_event_clear(store_event *ev)
{
    free(ev->key);
    free(ev->value);
    ev->key = ev->value = NULL;
}

static void store_on_change(void *ud, const etcd_kvs *kvs, const etcd_event *events, size_t n)
{
    store *s = ud;
    store_snap *snap = store_snap_make(kvs), *old;
    if (!snap) {
        log_error("store: out of memory copying %zu keys; serving the previous copy", kvs->n);
        return;
    }
    pthread_mutex_lock(&s->lock);
    old = s->snap;
    s->snap = snap;
    if (!events) /* a fresh read: whatever happened since the last change is unknown */
        history_gap(&s->history, kvs->revision);
    for (size_t i = 0; i < n; i++)
        history_push(&s->history, events[i].type, events[i].kv.key, events[i].kv.value,
                     events[i].kv.value_len, events[i].kv.mod_revision);
    s->ready = true;
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
    store_release(old);
}

/* The store without its feed: empty, not ready. */
static store *store_make(size_t history_bytes, err_t *err)
{
    static const etcd_kvs empty = {0};
    store *s = calloc(1, sizeof *s);
    if (!s || history_init(&s->history, STORE_HISTORY_EVENTS, history_bytes) < 0) {
        free(s);
        err_set(err, ERR_SYS, "store: out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&s->changed, &attr);
    pthread_condattr_destroy(&attr);
    if (!(s->snap = store_snap_make(&empty))) {
        err_set(err, ERR_SYS, "store: out of memory");
        store_stop(s);
        return NULL;
    }
    return s;
}

store *store_start(const char *endpoints, size_t history_bytes, err_t *err)
{
    store *s = store_make(history_bytes, err);
    if (s && !(s->mirror = mirror_start(endpoints, "/", store_on_change, s, err))) {
        store_stop(s);
        return NULL;
    }
    return s;
}

store *store_start_fed(size_t history_bytes, err_t *err)
{
    static const etcd_kvs empty = {0};
    store *s = store_make(history_bytes, err);
    if (s)
        store_feed(s, &empty);
    return s;
}

void store_feed(store *s, const etcd_kvs *kvs)
{
    store_on_change(s, kvs, NULL, 0);
}

void store_shutdown(store *s)
{
    pthread_mutex_lock(&s->lock);
    s->down = true;
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
}

void store_stop(store *s)
{
    if (!s)
        return;
    store_shutdown(s);
    mirror_stop(s->mirror);
    store_release(s->snap);
    history_free(&s->history);
    pthread_cond_destroy(&s->changed);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

bool store_ready(store *s)
{
    pthread_mutex_lock(&s->lock);
    bool ready = s->ready;
    pthread_mutex_unlock(&s->lock);
    return ready;
}

store_snap *store_acquire(store *s)
{
    pthread_mutex_lock(&s->lock);
    store_snap *snap = s->snap;
    atomic_fetch_add(&snap->refs, 1);
    pthread_mutex_unlock(&s->lock);
    return snap;
}

int64_t store_revision(const store_snap *snap)
{
    return snap->kvs.revision;
}

const etcd_kv *store_get(const store_snap *snap, const char *key)
{
    return etcd_kvs_get(&snap->kvs, key);
}

size_t store_range(const store_snap *snap, const char *prefix, const etcd_kv **first)
{
    size_t i = etcd_kvs_search(&snap->kvs, prefix, NULL), j = i, len = strlen(prefix);
    while (j < snap->kvs.n && strncmp(snap->kvs.kvs[j].key, prefix, len) == 0)
        j++;
    *first = snap->kvs.kvs + i;
    return j - i;
}

store_text *store_cached(store_snap *snap, int slot, store_build_fn build)
{
    pthread_mutex_lock(&snap->lock);
    store_text *t = snap->text[slot];
    if (!t && (t = calloc(1, sizeof *t))) {
        atomic_init(&t->refs, 1); /* the snapshot's */
        if ((t->data = build(snap, &t->len))) {
            snap->text[slot] = t;
        } else {
            free(t);
            t = NULL;
        }
    }
    if (t)
        atomic_fetch_add(&t->refs, 1); /* the caller's */
    pthread_mutex_unlock(&snap->lock);
    return t;
}

const char *store_text_data(const store_text *t, size_t *len)
{
    *len = t->len;
    return t->data;
}

void store_text_release(void *text)
{
    store_text *t = text;
    if (t && atomic_fetch_sub(&t->refs, 1) == 1) {
        free(t->data);
        free(t);
    }
}

/* An absolute CLOCK_MONOTONIC deadline ms from now. */
static struct timespec store_deadline(int ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

bool store_wait(store *s, int64_t revision, int timeout_ms)
{
    struct timespec deadline = store_deadline(timeout_ms);
    int rc = 0;
    pthread_mutex_lock(&s->lock);
    while (s->snap->kvs.revision < revision && !s->down && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&s->changed, &s->lock, &deadline);
    bool reached = s->snap->kvs.revision >= revision;
    pthread_mutex_unlock(&s->lock);
    return reached;
}

size_t store_events(store *s, uint64_t *cursor, uint64_t *excused, store_event *out, size_t max,
                    size_t max_bytes, int timeout_ms, bool *lost, uint64_t *backlog)
{
    struct timespec deadline = store_deadline(timeout_ms);
    size_t n = 0, bytes = 0;
    int rc = 0;
    const history_entry *e;
    *lost = false;
    *backlog = 0;
    pthread_mutex_lock(&s->lock);
    if (*cursor == 0)
        *cursor = s->history.seq;
    bool caught_up = s->history.seq == *cursor;
    while (s->history.seq == *cursor && !s->down && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&s->changed, &s->lock, &deadline);
    if (!s->down) {
        /* A reader that had nothing to get did not fall behind, however large the
         * batch that woke it (two 1 MiB manifests): that batch is not counted, now
         * or while the reader works through it; what comes after it is. */
        if (caught_up)
            *excused = s->history.seq;
        *backlog = history_backlog(&s->history, *cursor);
        if (*backlog == UINT64_MAX && caught_up)
            *backlog = 0; /* evicted while it waited: a resync, below, not an end */
        else if (*backlog != UINT64_MAX && *excused > *cursor)
            *backlog = history_backlog(&s->history, *excused);
        /* copied one by one, so that a reader holds at most about max_bytes */
        while (n < max && (e = history_next(&s->history, *cursor, lost)) &&
               (n == 0 || bytes + e->size <= max_bytes)) {
            out[n] = (store_event){.seq = e->seq, .type = e->type, .revision = e->revision,
                                   .key = strdup(e->key), .value = strdup(e->value)};
            bytes += e->size;
            *cursor = e->seq;
            n++;
        }
        if (*lost && *backlog != UINT64_MAX) /* after a fresh read: from now on */
            *cursor = s->history.seq;
    }
    pthread_mutex_unlock(&s->lock);
    return n;
}

uint64_t store_backlog(store *s, uint64_t cursor)
{
    pthread_mutex_lock(&s->lock);
    uint64_t backlog = history_backlog(&s->history, cursor);
    pthread_mutex_unlock(&s->lock);
    return backlog;
}

uint64_t store_seq_at(store *s, int64_t revision)
{
    pthread_mutex_lock(&s->lock);
    uint64_t found = history_seq_at(&s->history, revision);
    pthread_mutex_unlock(&s->lock);
    return found;
}
