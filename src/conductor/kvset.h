/* kvset.h - a small set of string keys with string values (the conductor's
 * announcements, its per-container failures). Lookups are linear: the sets hold
 * one entry per container or service of one host, and the Docker calls a pass
 * makes dwarf a scan of a few hundred strings. */
#ifndef DOKKAA_KVSET_H
#define DOKKAA_KVSET_H

#include <stddef.h>
#include <stdint.h>

#include "dokkaa/etcd.h"

typedef struct kvset_kv {
    char *key;
    char *value;
} kvset_kv;

typedef struct kvset {
    kvset_kv *kvs;
    size_t n;
} kvset;

/* Set key to value (both copied), replacing an existing value. */
int kvset_set(kvset *set, const char *key, const char *value);
void kvset_del(kvset *set, const char *key);
const char *kvset_get(const kvset *set, const char *key);
void kvset_sort(kvset *set);
void kvset_clear(kvset *set);

/* Make etcd hold exactly want under lease, writing only what differs from cur
 * (what this host announced before). want is consumed; cur becomes what etcd now
 * holds. */
void announce_sync(kvset *cur, kvset *want, etcd *e, int64_t lease);

#endif
