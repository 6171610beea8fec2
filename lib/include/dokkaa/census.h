/* census.h - how many instances each host holds, counted from etcd's ranges: the
 * counts the builder's GET /api/v1/hosts shows and `dokkaacfg rebalance` prints,
 * computed once, here, the same way for both. */
#ifndef DOKKAA_CENSUS_H
#define DOKKAA_CENSUS_H

#include <stdbool.h>
#include <stddef.h>

#include "dokkaa/err.h"
#include "dokkaa/etcd.h"
#include "dokkaa/keys.h"

typedef struct census_host {
    char id[KEYS_NAME_SIZE];
    bool live;   /* registered under /hosts/ */
    int placed;  /* placements that name it as their host */
    int running; /* instances it reports running under /status/ */
} census_host;

typedef struct census {
    census_host *hosts; /* the live hosts in key order, then the hosts only placements name */
    size_t n;
    int moving;         /* placements in a handoff (with "from") */
} census;

/* Count from three ranges as etcd (or the builder's store) gives them: the keys
 * under /hosts/, under /apps/ (only placements count) and under /status/. A key
 * or value that is not what keys.h says is not counted. -1 when out of memory. */
int census_count(census *c, const etcd_kv *hosts, size_t nhosts, const etcd_kv *apps,
                 size_t napps, const etcd_kv *statuses, size_t nstatuses, err_t *err);
/* The host id, or NULL. */
const census_host *census_find(const census *c, const char *id);
void census_free(census *c);

#endif
