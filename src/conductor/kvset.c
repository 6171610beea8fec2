/* kvset.c - string sets (see kvset.h) and the announcement sync built on them.
 *
 * announce_sync is a merge walk over two key-sorted sets, O(n) per pass, issuing a
 * put or a delete only where something changed: a quiet cluster writes nothing. */
#include "kvset.h"

#include <stdlib.h>
#include <string.h>

#include "dokkaa/log.h"

static kvset_kv *kvset_find(const kvset *set, const char *key)
{
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->kvs[i].key, key) == 0)
            return &set->kvs[i];
    return NULL;
}

/* Append without looking for the key: for callers that know it is new. */
static int kvset_append(kvset *set, const char *key, const char *value)
{
    kvset_kv *grown = realloc(set->kvs, (set->n + 1) * sizeof *grown);
    if (!grown)
        return -1;
    set->kvs = grown;
    char *kcopy = strdup(key), *vcopy = strdup(value);
    if (!kcopy || !vcopy) {
        free(kcopy);
        free(vcopy);
        return -1;
    }
    grown[set->n++] = (kvset_kv){.key = kcopy, .value = vcopy};
    return 0;
}

int kvset_set(kvset *set, const char *key, const char *value)
{
    kvset_kv *kv = kvset_find(set, key);
    if (!kv)
        return kvset_append(set, key, value);
    char *copy = strdup(value);
    if (!copy)
        return -1;
    free(kv->value);
    kv->value = copy;
    return 0;
}

void kvset_del(kvset *set, const char *key)
{
    kvset_kv *kv = kvset_find(set, key);
    if (!kv)
        return;
    free(kv->key);
    free(kv->value);
    *kv = set->kvs[--set->n];
}

const char *kvset_get(const kvset *set, const char *key)
{
    kvset_kv *kv = kvset_find(set, key);
    return kv ? kv->value : NULL;
}

static int kvset_cmp(const void *a, const void *b)
{
    return strcmp(((const kvset_kv *)a)->key, ((const kvset_kv *)b)->key);
}

void kvset_sort(kvset *set)
{
    if (set->n)
        qsort(set->kvs, set->n, sizeof *set->kvs, kvset_cmp);
}

void kvset_clear(kvset *set)
{
    for (size_t i = 0; i < set->n; i++) {
        free(set->kvs[i].key);
        free(set->kvs[i].value);
    }
    free(set->kvs);
    set->kvs = NULL;
    set->n = 0;
}

/* etcd refuses a txn of more than 128 operations by default (--max-txn-ops). */
#define ANNOUNCE_TXN_OPS 100

typedef struct announce_change {
    const kvset_kv *old; /* what etcd holds, or NULL */
    const kvset_kv *new; /* what is wanted, or NULL for a delete */
} announce_change;

/* Write one batch of puts in one txn; record in next what etcd then holds. */
static void announce_put(const announce_change *ch, size_t n, kvset *next, etcd *e,
                         int64_t lease)
{
    etcd_op ops[ANNOUNCE_TXN_OPS];
    bool ok = false;
    err_t err;
    for (size_t k = 0; k < n; k++)
        ops[k] = (etcd_op){.type = ETCD_OP_PUT, .key = ch[k].new->key,
                           .value = ch[k].new->value, .lease = lease};
    if (etcd_txn(e, NULL, 0, ops, n, NULL, 0, &ok, &err) < 0)
        log_warn("announce: %s", err.msg);
    for (size_t k = 0; k < n; k++) {
        const kvset_kv *now = ok ? ch[k].new : ch[k].old; /* a failed batch changed nothing */
        if (ok)
            log_info("%s = %s", now->key, now->value);
        if (now)
            kvset_append(next, now->key, now->value);
    }
}

/* Delete a key only while it is still ours (bound to our lease): a status key is
 * shared by the hosts an instance moves between, and the new host may have
 * written it already. Either way it is no longer ours to track. */
static void announce_delete(const kvset_kv *old, kvset *next, etcd *e, int64_t lease)
{
    etcd_cmp ours = {.key = old->key, .target = ETCD_CMP_LEASE, .result = ETCD_EQUAL,
                     .number = lease};
    etcd_op del = {.type = ETCD_OP_DELETE, .key = old->key};
    bool ok = false;
    err_t err;
    if (etcd_txn(e, &ours, 1, &del, 1, NULL, 0, &ok, &err) < 0) {
        log_warn("announce: %s", err.msg);
        kvset_append(next, old->key, old->value); /* try again next pass */
    } else {
        log_info(ok ? "%s deleted" : "%s: another host's now, left alone", old->key);
    }
}

/* A merge walk finds what changed; puts go out in batches of one txn each, so
 * announcing a hundred new instances costs one round trip, not a hundred. */
void announce_sync(kvset *cur, kvset *want, etcd *e, int64_t lease)
{
    kvset next = {0};
    announce_change *changes;
    size_t i = 0, j = 0, n = 0;

    kvset_sort(cur);
    kvset_sort(want);
    changes = calloc(cur->n + want->n + 1, sizeof *changes);
    if (!changes) { /* keep what we had; the next pass tries again */
        kvset_clear(want);
        return;
    }
    while (i < cur->n || j < want->n) {
        int order = i == cur->n ? 1 : j == want->n ? -1 : strcmp(cur->kvs[i].key, want->kvs[j].key);
        const kvset_kv *old = order <= 0 ? &cur->kvs[i++] : NULL;
        const kvset_kv *new = order >= 0 ? &want->kvs[j++] : NULL;
        if (old && new && strcmp(old->value, new->value) == 0)
            kvset_append(&next, new->key, new->value);
        else
            changes[n++] = (announce_change){.old = old, .new = new};
    }
    /* puts first, batched; then the deletes, each on its own condition */
    size_t nputs = 0;
    for (size_t k = 0; k < n; k++)
        if (changes[k].new)
            changes[nputs++] = changes[k];
        else
            announce_delete(changes[k].old, &next, e, lease);
    for (size_t k = 0; k < nputs; k += ANNOUNCE_TXN_OPS)
        announce_put(changes + k, nputs - k < ANNOUNCE_TXN_OPS ? nputs - k : ANNOUNCE_TXN_OPS,
                     &next, e, lease);
    free(changes);
    kvset_clear(cur);
    kvset_clear(want);
    *cur = next;
}
