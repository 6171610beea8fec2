/* kvset.c - small sets of string keys with string values (see kvset.h). */
#include "kvset.h"

#include <stdlib.h>
#include <string.h>

static kvset_kv *kvset_find(const kvset *set, const char *key)
{
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->kvs[i].key, key) == 0)
            return &set->kvs[i];
    return NULL;
}

int kvset_append(kvset *set, const char *key, const char *value)
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

size_t kvset_retain(kvset *set, bool (*keep)(const char *key, void *ctx), void *ctx)
{
    size_t kept = 0, n = set->n;
    for (size_t i = 0; i < n; i++) {
        if (keep(set->kvs[i].key, ctx)) {
            set->kvs[kept++] = set->kvs[i];
        } else {
            free(set->kvs[i].key);
            free(set->kvs[i].value);
        }
    }
    set->n = kept;
    return n - kept;
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
