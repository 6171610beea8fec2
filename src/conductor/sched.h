/* sched.h - the scheduler: which host runs which instance. Pure logic, no I/O
 * (tests/unit/test_sched.c); only the elected leader's conductor calls it, and
 * writes what it decides to /apps/<app>/<name>/instances/<i> in a txn fenced on its
 * leadership (reconcile.c).
 *
 * The rules, in order:
 *   - a placement on a live host stays where it is: running instances are not
 *     moved without cause;
 *   - a placement whose manifest is gone, or whose instance is >= scale, goes;
 *     placements of an invalid manifest are left alone, like its containers;
 *   - an instance without a placement, or placed on a host that is gone, goes to
 *     the live host with the fewest instances of the same manifest (spread), then
 *     the fewest instances in all (least loaded), then the lowest host id;
 *     it keeps the revision it had, and a new one gets the manifest's (rollout.c
 *     changes revisions, this file only hosts).
 *
 * Rebalancing (on request, after hosts joined) moves instances from the most to
 * the least loaded hosts until no two differ by more than one. A move is a
 * handoff without downtime: the placement names the new host and, in `from`, the
 * old one, which keeps its container serving until the new one runs; then the
 * leader clears `from` and the old host lets go. Should the new host die during
 * the handoff, the instance goes back to the old one; should it fail to start
 * the instance, or take too long, the leader puts it back too (leader.c). */
#ifndef DOKKAA_SCHED_H
#define DOKKAA_SCHED_H

#include <stddef.h>

#include "plan.h"

typedef struct sched_placement {
    char app[64];
    char name[64];
    int instance;
    char host[64]; /* "" in a change: delete the placement */
    char from[64]; /* during a handoff: the host that still serves it, else "" */
    long since;    /* during a handoff: when it began (seconds since the epoch) */
    char hash[17]; /* the revision it is to run ("" any: records of older versions) */
    long changed;  /* when hash was set (a rollout's deadline counts from there), or 0 */
} sched_placement;

/* Decide. placements are the current ones (any order), hosts the live host ids.
 * *changes (allocated; free it) gets the placements to write or delete. */
int sched_make(const plan_spec *specs, size_t nspecs, const sched_placement *placements,
               size_t nplacements, char (*hosts)[64], size_t nhosts, sched_placement **changes,
               size_t *nchanges);

/* Moves that even out the load over hosts (see above); placements in a handoff
 * already are not moved again. */
int sched_rebalance(const sched_placement *placements, size_t nplacements, char (*hosts)[64],
                    size_t nhosts, sched_placement **changes, size_t *nchanges);

#endif
