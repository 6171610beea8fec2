/* mirror.c - a prefix of etcd mirrored in memory by range + watch (see mirror.h).
 *
 * The copy is a key-sorted array; each event is a binary search and a memmove,
 * O(n) per event. Mirrors hold links and service announcements (tens to thousands
 * of keys), where that is far below the cost of the network round trip. */
#include "dokkaa/mirror.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dokkaa/log.h"
#include "dokkaa/sleep.h"

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

static void mirror_apply(mirror *m, const etcd_event *ev)
{
    bool found;
    size_t i = etcd_kvs_search(&m->kvs, ev->kv.key, &found);
    if (ev->type == ETCD_EVENT_DELETE) {
        if (found) {
            mirror_kv_free(&m->kvs.kvs[i]);
            memmove(&m->kvs.kvs[i], &m->kvs.kvs[i + 1], (m->kvs.n - i - 1) * sizeof(etcd_kv));
            m->kvs.n--;
        }
        return;
    }
    etcd_kv copy = ev->kv;
    copy.key = strdup(ev->kv.key);
    copy.value = strdup(ev->kv.value);
    if (!copy.key || !copy.value) { /* out of memory: the copy misses this change */
        mirror_kv_free(&copy);
        return;
    }
    if (found) {
        mirror_kv_free(&m->kvs.kvs[i]);
        m->kvs.kvs[i] = copy;
        return;
    }
    etcd_kv *grown = realloc(m->kvs.kvs, (m->kvs.n + 1) * sizeof *grown);
    if (!grown) {
        mirror_kv_free(&copy);
        return;
    }
    m->kvs.kvs = grown;
    memmove(&grown[i + 1], &grown[i], (m->kvs.n - i) * sizeof *grown);
    grown[i] = copy;
    m->kvs.n++;
}

static bool mirror_on_events(void *ud, const etcd_event *events, size_t n)
{
    mirror *m = ud;
    for (size_t i = 0; i < n; i++)
        mirror_apply(m, &events[i]);
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
