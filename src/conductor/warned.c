/* warned.c - problems with etcd keys, logged once (see warned.h). */
#include "warned.h"

#include <string.h>

#include "dokkaa/log.h"

void warned_key(warned *w, const char *key, const char *msg)
{
    const char *last = kvset_get(&w->last, key);
    if (!last || strcmp(last, msg) != 0)
        log_warn("%s: %s", key, msg);
    kvset_set(&w->now, key, msg);
}

void warned_pass_done(warned *w)
{
    kvset_clear(&w->last);
    w->last = w->now;
    w->now = (kvset){0};
}

void warned_free(warned *w)
{
    kvset_clear(&w->last);
    kvset_clear(&w->now);
}
