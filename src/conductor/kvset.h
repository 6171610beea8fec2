/* kvset.h - a small set of string keys with string values (the conductor's
 * announcements, its per-container failures, the problems it logged). Lookups are
 * linear: the sets hold one entry per container or service of one host, and the
 * Docker calls a pass makes dwarf a scan of a few hundred strings. Only strings
 * here: what the sets mean, and writing them to etcd, is their users' business
 * (announce.c). */
#ifndef DOKKAA_KVSET_H
#define DOKKAA_KVSET_H

#include <stdbool.h>
#include <stddef.h>

typedef struct kvset_kv {
    char *key;
    char *value;
} kvset_kv;

typedef struct kvset {
    kvset_kv *kvs;
    size_t n;
} kvset;

/* Set key to value (both copied), replacing an existing value; -1 when out of
 * memory (the set is then unchanged). */
int kvset_set(kvset *set, const char *key, const char *value);
/* Append key and value (both copied) without looking for the key: for a caller
 * that knows it is new, such as a merge walk over two sorted sets. */
int kvset_append(kvset *set, const char *key, const char *value);
void kvset_del(kvset *set, const char *key);
/* Keep only the entries for which keep(key, ctx) is true; returns how many went. */
size_t kvset_retain(kvset *set, bool (*keep)(const char *key, void *ctx), void *ctx);
const char *kvset_get(const kvset *set, const char *key);
void kvset_sort(kvset *set);
void kvset_clear(kvset *set);

#endif
