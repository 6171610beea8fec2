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

/* Write one batch of changes in one txn; record in next what etcd then holds. */
static void announce_commit(const announce_change *ch, size_t n, kvset *next, etcd *e,
                            int64_t lease)
{
    etcd_op ops[ANNOUNCE_TXN_OPS];
    bool ok;
    err_t err;
    for (size_t k = 0; k < n; k++)
        ops[k] = ch[k].new ? (etcd_op){.type = ETCD_OP_PUT, .key = ch[k].new->key,
                                       .value = ch[k].new->value, .lease = lease}
                           : (etcd_op){.type = ETCD_OP_DELETE, .key = ch[k].old->key};
    if (etcd_txn(e, NULL, 0, ops, n, NULL, 0, &ok, &err) < 0) {
        log_warn("announce: %s", err.msg);
        ok = false;
    }
    for (size_t k = 0; k < n; k++) {
        const kvset_kv *now = ok ? ch[k].new : ch[k].old; /* a failed batch changed nothing */
        if (ok && ch[k].new)
            log_info("%s = %s", ch[k].new->key, ch[k].new->value);
        else if (ok)
            log_info("%s deleted", ch[k].old->key);
        if (now)
            kvset_append(next, now->key, now->value);
    }
}

/* A merge walk finds what changed; the changes go out in batches of one txn each,
 * so announcing a hundred new instances costs one round trip, not a hundred. */
void announce_sync(kvset *cur, kvset *want, etcd *e, int64_t lease, int epoch)
{
    kvset next = {.epoch = epoch};
    announce_change *changes;
    size_t i = 0, j = 0, n = 0;

    if (cur->epoch != epoch)
        kvset_clear(cur);
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
    for (size_t k = 0; k < n; k += ANNOUNCE_TXN_OPS)
        announce_commit(changes + k, n - k < ANNOUNCE_TXN_OPS ? n - k : ANNOUNCE_TXN_OPS, &next,
                        e, lease);
    free(changes);
    kvset_clear(cur);
    kvset_clear(want);
    *cur = next;
}
