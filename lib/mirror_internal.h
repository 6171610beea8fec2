/* mirror_internal.h - the mirror's merge of a batch of watch events, for its unit
 * test only (tests/unit/test_mirror.c). The programs use mirror.h. */
#ifndef DOKKAA_MIRROR_INTERNAL_H
#define DOKKAA_MIRROR_INTERNAL_H

#include <stddef.h>

#include "dokkaa/etcd.h"

/* Apply a batch of events, in revision order, to kvs (sorted by key, owning its
 * keys and values), keeping it sorted: a put adds or replaces its key with a copy,
 * a delete removes it; of several changes of one key the last counts. Returns 0, or
 * -1 when out of memory: kvs then holds part of the batch, still sorted, and the
 * caller must read the prefix afresh. kvs->revision is left to the caller. */
int mirror_merge(etcd_kvs *kvs, const etcd_event *events, size_t n);

#endif
