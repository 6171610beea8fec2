/* rollout.h - the scheduler's rollouts: how a manifest's new revision replaces its
 * instances. Pure logic, no I/O (tests/unit/test_rollout.c); deploy.c reads and
 * writes what it decides, leader.c calls both.
 *
 * A manifest's revision is its hash (every field but scale). The rollout record
 * (keys_rollout) names the current revision and how its rollout stands; each
 * placement names the revision its instance is to run (sched_placement.hash), and
 * the hosts make their containers match, start-first or stop-first (plan.h). The
 * rules, one step per scheduler pass:
 *   - a manifest without a record gets revision 1; a manifest whose hash is not the
 *     record's is a new revision (the one rolling before is superseded). A new
 *     revision starts from "stable": the last revision that rolled out healthy;
 *   - an instance is updated when its host reports it running the revision under
 *     its own name, healthy (or without a check); it has failed when its host
 *     reports it (or its next container) failed, exited or restarting on the
 *     revision, or when it is not updated `deadline` seconds after its placement
 *     asked for the revision;
 *   - while none failed, placements are moved to the revision, lowest instance
 *     first, so that at most `batch` instances are on their way at once (all of
 *     them for an automatic rollback);
 *   - all updated: rolled out, and the revision becomes stable;
 *   - one failed: with on_failure "rollback" and a stable revision to go to, roll
 *     back (deploy.c restores its manifest as a new revision marked rollback, and
 *     records the failed one as rolled back); with "pause", or when a rollback
 *     itself fails, pause where it stands; with nothing to go back to, fail.
 * Because an instance of the previous revision keeps serving until its replacement
 * is ready (start-first), at least scale - batch instances serve throughout, and
 * at most scale + batch containers of the manifest exist. */
#ifndef DOKKAA_ROLLOUT_H
#define DOKKAA_ROLLOUT_H

#include <stdbool.h>
#include <stddef.h>

#include "dokkaa/keys.h"
#include "plan.h"
#include "sched.h"

typedef struct rollout_step {
    keys_rollout rec;             /* the record as it is to be */
    bool write;                   /* rec differs from the one read */
    bool new_revision;            /* rec.revision is the manifest, new: record it */
    int ended;                    /* a revision whose outcome is now known, or 0 */
    enum keys_outcome outcome;    /* its outcome (reason: rec.reason) */
    bool rollback;                /* go back to rec.stable (deploy.c) */
    sched_placement *changes;     /* placements moved to the revision (allocated) */
    size_t nchanges;
} rollout_step;

/* One step for the valid manifest spec. rec is its record (NULL: none);
 * placements and statuses[i] (statuses[i].host "" when none) go together and may
 * hold other manifests' too. Returns -1 when out of memory. */
int rollout_decide(const plan_spec *spec, const keys_rollout *rec,
                   const sched_placement *placements, const keys_status *statuses, size_t n,
                   long now, rollout_step *out);

#endif
