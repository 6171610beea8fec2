/* mirror.h - an in-memory copy of every key under an etcd prefix, kept current by
 * a watch in a thread of its own.
 *
 * The mirror reads the prefix, then watches from the next revision; after a
 * compaction it reads afresh. After every change it calls on_change with the whole
 * current contents, sorted by key: readers build their tables from that and never
 * call etcd on their own hot path. Readers that also want the changes themselves
 * (an event stream) get the batch that led there; after a fresh read, which may
 * have skipped changes, the batch is empty (events NULL). */
#ifndef DOKKAA_MIRROR_H
#define DOKKAA_MIRROR_H

#include "dokkaa/etcd.h"

typedef struct mirror mirror;

/* Called from the mirror's thread; kvs and events are valid only during the call. */
typedef void (*mirror_fn)(void *ud, const etcd_kvs *kvs, const etcd_event *events,
                          size_t nevents);

mirror *mirror_start(const char *endpoints, const char *prefix, mirror_fn on_change, void *ud,
                     err_t *err);
/* Stop the thread (within about a second) and free the mirror. */
void mirror_stop(mirror *m);

#endif
