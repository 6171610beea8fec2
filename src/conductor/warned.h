/* warned.h - problems with etcd keys, logged once: a key that stays bad pass after
 * pass is reported when its problem first shows or changes, and forgotten once it
 * is fine, so that it is reported again if it breaks again. Used by every file of a
 * reconcile pass that reads keys (reconcile.c, leader.c); it calls none of them. */
#ifndef DOKKAA_WARNED_H
#define DOKKAA_WARNED_H

#include "kvset.h"

typedef struct warned {
    kvset last; /* etcd key -> the problem last logged for it */
    kvset now;  /* ... this pass */
} warned;

/* Log "key: msg" unless the last pass logged the same for key. */
void warned_key(warned *w, const char *key, const char *msg);
/* The pass is over: keys not warned about in it are forgotten. */
void warned_pass_done(warned *w);
void warned_free(warned *w);

#endif
