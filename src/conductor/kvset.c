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

/* What fails to be written stays as it was in cur, so the next pass tries again. */
void announce_sync(kvset *cur, kvset *want, etcd *e, int64_t lease, int epoch)
{
    kvset next = {.epoch = epoch};
    size_t i = 0, j = 0;
    err_t err;

    if (cur->epoch != epoch)
        kvset_clear(cur);
    kvset_sort(cur);
    kvset_sort(want);
    while (i < cur->n || j < want->n) {
        int order = i == cur->n ? 1 : j == want->n ? -1 : strcmp(cur->kvs[i].key, want->kvs[j].key);
        kvset_kv *old = order <= 0 ? &cur->kvs[i++] : NULL;
        kvset_kv *new = order >= 0 ? &want->kvs[j++] : NULL;
        if (!new) {
            if (etcd_delete(e, old->key, false, NULL, &err) == 0)
                log_info("%s deleted", old->key);
            else
                kvset_append(&next, old->key, old->value);
        } else if (old && strcmp(old->value, new->value) == 0) {
            kvset_append(&next, new->key, new->value);
        } else if (etcd_put(e, new->key, new->value, lease, NULL, &err) == 0) {
            log_info("%s = %s", new->key, new->value);
            kvset_append(&next, new->key, new->value);
        } else {
            log_warn("%s", err.msg);
            if (old)
                kvset_append(&next, old->key, old->value);
        }
    }
    kvset_clear(cur);
    kvset_clear(want);
    *cur = next;
}
