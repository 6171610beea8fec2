/* mirror.c - a prefix of etcd mirrored in memory by range + watch (see mirror.h).
 *
 * The copy is a key-sorted array. A batch of events is merged into it in one pass
 * (mirror_merge): the batch sorted by key, each change's place found by binary
 * search from the last one, the untouched runs between them copied whole into a
 * new array. A batch of k changes to n keys costs O(k log k + k log n) compares
 * and O(n) copying, where applying the events one by one costs a memmove of O(n)
 * each, O(k n) for a burst (the builder's mirror of "/" takes in three keys per
 * instance when thousands are placed at once). Batches of fewer than
 * MIRROR_MERGE_MIN events, the common case, are still applied one by one. */
#include "dokkaa/mirror.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dokkaa/log.h"
#include "dokkaa/sleep.h"
#include "mirror_internal.h"

struct mirror {
    etcd *e;
    char *prefix;
    mirror_fn on_change;
    void *ud;
    etcd_kvs kvs;
    atomic_bool stop;
    pthread_t thread;
};

static void mirror_kv_free(etcd_kv *kv)
{
    free(kv->key);
    free(kv->value);
}

#define MIRROR_MERGE_MIN 8 /* smaller batches are applied an event at a time */

/* One change of a batch, and the copy of what a put writes. */
typedef struct mirror_change {
    const etcd_event *ev;
    size_t order;  /* its place in the batch: of two changes of a key, the later wins */
    etcd_kv copy;  /* a put's key and value, strdup'ed; zero for a delete */
} mirror_change;

static int mirror_change_cmp(const void *a, const void *b)
{
    const mirror_change *x = a, *y = b;
    int c = strcmp(x->ev->kv.key, y->ev->kv.key);
    return c ? c : (x->order > y->order) - (x->order < y->order);
}

/* The first index in [lo, kvs->n) whose key is not below key: etcd_kvs_search on
 * the rest of the array. */
static size_t mirror_lower(const etcd_kvs *kvs, size_t lo, const char *key)
{
    if (lo >= kvs->n) /* nothing left (kvs->kvs may be NULL) */
        return lo;
    etcd_kvs rest = {.kvs = kvs->kvs + lo, .n = kvs->n - lo};
    return lo + etcd_kvs_search(&rest, key, NULL);
}

/* One event in place: a binary search and a memmove. */
static int mirror_apply(etcd_kvs *kvs, const etcd_event *ev)
{
    bool found;
    size_t i = etcd_kvs_search(kvs, ev->kv.key, &found);
    if (ev->type == ETCD_EVENT_DELETE) {
        if (found) {
            mirror_kv_free(&kvs->kvs[i]);
            memmove(&kvs->kvs[i], &kvs->kvs[i + 1], (kvs->n - i - 1) * sizeof *kvs->kvs);
            kvs->n--;
        }
        return 0;
    }
    etcd_kv copy = ev->kv;
    copy.key = strdup(ev->kv.key);
    copy.value = strdup(ev->kv.value);
    etcd_kv *grown = copy.key && copy.value && !found
                         ? realloc(kvs->kvs, (kvs->n + 1) * sizeof *grown) : kvs->kvs;
    if (!copy.key || !copy.value || !grown) {
        mirror_kv_free(&copy);
        return -1;
    }
    kvs->kvs = grown;
    if (found) {
        mirror_kv_free(&kvs->kvs[i]);
    } else {
        memmove(&grown[i + 1], &grown[i], (kvs->n - i) * sizeof *grown);
        kvs->n++;
    }
    kvs->kvs[i] = copy;
    return 0;
}

int mirror_merge(etcd_kvs *kvs, const etcd_event *events, size_t n)
{
    size_t nch = 0, from = 0, k = 0;
    if (n < MIRROR_MERGE_MIN) { /* a memmove each costs less than a new array */
        for (size_t i = 0; i < n; i++)
            if (mirror_apply(kvs, &events[i]) < 0)
                return -1;
        return 0;
    }
    mirror_change *ch = malloc(n * sizeof *ch);
    etcd_kv *out = malloc((kvs->n + n) * sizeof *out);
    if (!ch || !out)
        goto err;
    for (size_t i = 0; i < n; i++)
        ch[i] = (mirror_change){.ev = &events[i], .order = i};
    qsort(ch, n, sizeof *ch, mirror_change_cmp);
    /* Keep each key's last change, and copy what the puts write now, so that the
     * merge below cannot fail halfway. nch <= i: ch[i] is read before ch[nch] is
     * written. */
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n && strcmp(ch[i].ev->kv.key, ch[i + 1].ev->kv.key) == 0)
            continue;
        mirror_change c = ch[i];
        if (c.ev->type == ETCD_EVENT_PUT) {
            c.copy = c.ev->kv;
            c.copy.key = strdup(c.ev->kv.key);
            c.copy.value = strdup(c.ev->kv.value);
        }
        ch[nch++] = c;
        if (c.ev->type == ETCD_EVENT_PUT && (!c.copy.key || !c.copy.value))
            goto err;
    }
    for (size_t j = 0; j < nch; j++) {
        const char *key = ch[j].ev->kv.key;
        size_t at = mirror_lower(kvs, from, key);
        if (at > from) /* the run of untouched keys before this one */
            memcpy(&out[k], &kvs->kvs[from], (at - from) * sizeof *out);
        k += at - from;
        from = at;
        if (at < kvs->n && strcmp(kvs->kvs[at].key, key) == 0) /* replaced or deleted */
            mirror_kv_free(&kvs->kvs[from++]);
        if (ch[j].ev->type == ETCD_EVENT_PUT)
            out[k++] = ch[j].copy;
    }
    if (kvs->n > from)
        memcpy(&out[k], &kvs->kvs[from], (kvs->n - from) * sizeof *out);
    k += kvs->n - from;
    free(kvs->kvs);
    kvs->kvs = out;
    kvs->n = k;
    free(ch);
    return 0;
err:
    for (size_t j = 0; j < nch; j++)
        mirror_kv_free(&ch[j].copy);
    free(ch);
    free(out);
    return -1;
}

static bool mirror_on_events(void *ud, const etcd_event *events, size_t n)
{
    mirror *m = ud;
    if (mirror_merge(&m->kvs, events, n) < 0) { /* ending the watch reads it afresh */
        log_warn("mirror %s: out of memory for a batch of %zu changes; reading it afresh",
                 m->prefix, n);
        return false;
    }
    if (n)
        m->kvs.revision = events[n - 1].kv.mod_revision;
    m->on_change(m->ud, &m->kvs, events, n);
    return true;
}

static void *mirror_thread(void *arg)
{
    mirror *m = arg;
    err_t err;
    while (!atomic_load(&m->stop)) {
        etcd_kvs fresh;
        if (etcd_get_prefix(m->e, m->prefix, &fresh, &err) < 0) {
            log_warn("mirror %s: %s", m->prefix, err.msg);
            sleep_ms(1000, &m->stop);
            continue;
        }
        etcd_kvs_free(&m->kvs);
        m->kvs = fresh;
        m->on_change(m->ud, &m->kvs, NULL, 0);
        /* The watch resumes by itself across reconnects; it only comes back here
         * when asked to stop or when its revision was compacted: then read afresh. */
        if (etcd_watch(m->e, m->prefix, m->kvs.revision + 1, mirror_on_events, m, &m->stop, NULL,
                       &err) < 0 && err.code != ERR_CANCELLED)
            log_warn("mirror %s: %s; reading it afresh", m->prefix, err.msg);
    }
    return NULL;
}

mirror *mirror_start(const char *endpoints, const char *prefix, mirror_fn on_change, void *ud,
                     err_t *err)
{
    mirror *m = calloc(1, sizeof *m);
    if (!m || !(m->prefix = strdup(prefix)))
        goto err;
    m->on_change = on_change;
    m->ud = ud;
    if (!(m->e = etcd_new(endpoints, err)))
        goto err;
    if (pthread_create(&m->thread, NULL, mirror_thread, m) != 0) {
        err_set(err, ERR_SYS, "mirror %s: cannot start its thread", prefix);
        goto err;
    }
    return m;
err:
    if (m) {
        etcd_free(m->e);
        free(m->prefix);
    }
    free(m);
    if (!m)
        err_set(err, ERR_SYS, "mirror: out of memory");
    return NULL;
}

void mirror_stop(mirror *m)
{
    if (!m)
        return;
    atomic_store(&m->stop, true);
    pthread_join(m->thread, NULL);
    etcd_kvs_free(&m->kvs);
    etcd_free(m->e);
    free(m->prefix);
    free(m);
}
