/* sched.c - the scheduler's decisions (see sched.h for the rules).
 *
 * Counting is done with linear scans over the placements: a cluster holds
 * thousands of instances at most, a decision is made only when something changed,
 * and the etcd write that follows costs far more than the arithmetic. */
#include "sched.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct sched_state {
    const plan_spec *specs;
    size_t nspecs;
    sched_placement *current; /* placements as they will be after the changes */
    size_t ncurrent;
    char (*hosts)[64];
    size_t nhosts;
    sched_placement *changes;
    size_t nchanges;
} sched_state;

static bool sched_host_alive(const sched_state *st, const char *host)
{
    for (size_t h = 0; h < st->nhosts; h++)
        if (strcmp(st->hosts[h], host) == 0)
            return true;
    return false;
}

static bool sched_same(const sched_placement *p, const char *app, const char *name)
{
    return strcmp(p->app, app) == 0 && strcmp(p->name, name) == 0;
}

/* Is p where the rules want it to stay? */
static bool sched_keeps(const sched_state *st, const sched_placement *p)
{
    const plan_spec *spec = plan_find_spec(st->specs, st->nspecs, p->app, p->name);
    if (!spec)
        return false;
    if (!spec->valid)
        return true;
    return p->instance >= 0 && p->instance < spec->m.scale && sched_host_alive(st, p->host);
}

/* Does p's instance still exist (valid manifest, instance < scale)? */
static bool sched_wanted(const sched_state *st, const sched_placement *p)
{
    const plan_spec *spec = plan_find_spec(st->specs, st->nspecs, p->app, p->name);
    return spec && spec->valid && p->instance >= 0 && p->instance < spec->m.scale;
}

static const sched_placement *sched_find(const sched_state *st, const char *app,
                                         const char *name, int instance)
{
    for (size_t i = 0; i < st->ncurrent; i++)
        if (st->current[i].instance == instance && sched_same(&st->current[i], app, name))
            return &st->current[i];
    return NULL;
}

/* The live host for a new instance of spec: spread, then least loaded, then id. */
static const char *sched_pick(const sched_state *st, const plan_spec *spec)
{
    const char *best = NULL;
    size_t best_mine = 0, best_all = 0;
    for (size_t h = 0; h < st->nhosts; h++) {
        size_t mine = 0, all = 0;
        for (size_t i = 0; i < st->ncurrent; i++) {
            if (strcmp(st->current[i].host, st->hosts[h]) != 0)
                continue;
            all++;
            mine += sched_same(&st->current[i], spec->app, spec->name);
        }
        if (!best || mine < best_mine || (mine == best_mine && all < best_all) ||
            (mine == best_mine && all == best_all && strcmp(st->hosts[h], best) < 0)) {
            best = st->hosts[h];
            best_mine = mine;
            best_all = all;
        }
    }
    return best;
}

/* A change of (app, name, instance): to host, of revision hash since changed. */
static void sched_change(sched_state *st, const char *app, const char *name, int instance,
                         const char *host, const char *hash, long changed)
{
    sched_placement *c = &st->changes[st->nchanges++];
    memset(c, 0, sizeof *c);
    memcpy(c->app, app, sizeof c->app);
    memcpy(c->name, name, sizeof c->name);
    c->instance = instance;
    strcpy(c->host, host); /* host is a 64-byte id, or "" */
    snprintf(c->hash, sizeof c->hash, "%s", hash);
    c->changed = changed;
}

/* The placement of (app, name, instance) among the given ones, or NULL. */
static const sched_placement *sched_old(const sched_placement *ps, size_t n, const char *app,
                                        const char *name, int instance)
{
    for (size_t i = 0; i < n; i++)
        if (ps[i].instance == instance && sched_same(&ps[i], app, name))
            return &ps[i];
    return NULL;
}

int sched_make(const plan_spec *specs, size_t nspecs, const sched_placement *placements,
               size_t nplacements, char (*hosts)[64], size_t nhosts, sched_placement **changes,
               size_t *nchanges)
{
    size_t want = nplacements;
    for (size_t s = 0; s < nspecs; s++)
        want += specs[s].valid ? (size_t)specs[s].m.scale : 0;
    sched_state st = {.specs = specs, .nspecs = nspecs, .hosts = hosts, .nhosts = nhosts,
                      .current = calloc(want + 1, sizeof *st.current),
                      .changes = calloc(want + 1, sizeof *st.changes)};
    if (!st.current || !st.changes) {
        free(st.current);
        free(st.changes);
        return -1;
    }
    for (size_t i = 0; i < nplacements; i++) {
        const sched_placement *p = &placements[i];
        if (sched_keeps(&st, p)) {
            st.current[st.ncurrent++] = *p;
        } else if (!sched_wanted(&st, p)) {
            sched_change(&st, p->app, p->name, p->instance, "", "", 0);
        } else if (*p->from && sched_host_alive(&st, p->from)) {
            /* the new host died during a handoff: the old one still runs it */
            sched_change(&st, p->app, p->name, p->instance, p->from, p->hash, p->changed);
            st.current[st.ncurrent++] = st.changes[st.nchanges - 1];
        }
        /* else: wanted but on a dead host; the loop below places it anew (a txn
         * may not touch one key twice, so no delete first) */
    }
    for (size_t s = 0; s < nspecs; s++) {
        for (int i = 0; specs[s].valid && i < specs[s].m.scale; i++) {
            const char *host;
            if (sched_find(&st, specs[s].app, specs[s].name, i) || !(host = sched_pick(&st, &specs[s])))
                continue;
            /* a dead host's instance keeps its revision, a new one is the manifest's;
             * either starts now, and a rollout's deadline for it counts from now */
            const sched_placement *old = sched_old(placements, nplacements, specs[s].app,
                                                   specs[s].name, i);
            sched_change(&st, specs[s].app, specs[s].name, i, host,
                         old && *old->hash ? old->hash : specs[s].m.hash, (long)time(NULL));
            st.current[st.ncurrent] = st.changes[st.nchanges - 1];
            st.ncurrent++;
        }
    }
    free(st.current);
    *changes = st.changes;
    *nchanges = st.nchanges;
    return 0;
}

/* ---- rebalancing ----------------------------------------------------------------- */

static size_t sched_load(const sched_placement *ps, size_t n, const char *host)
{
    size_t load = 0;
    for (size_t i = 0; i < n; i++)
        load += strcmp(ps[i].host, host) == 0;
    return load;
}

/* Of the placements on host `from`, the one whose manifest has the fewest
 * instances on host `to` (so a move also spreads), not already in a handoff. */
static sched_placement *sched_movable(sched_placement *ps, size_t n, const char *from,
                                      const char *to)
{
    sched_placement *best = NULL;
    size_t best_there = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ps[i].host, from) != 0 || ps[i].from[0])
            continue;
        size_t there = 0;
        for (size_t j = 0; j < n; j++)
            there += strcmp(ps[j].host, to) == 0 && sched_same(&ps[j], ps[i].app, ps[i].name);
        if (!best || there < best_there) {
            best = &ps[i];
            best_there = there;
        }
    }
    return best;
}

/* Each round moves one instance from the most to the least loaded host, so it
 * takes at most (placements) rounds; O(n^2) per round, fine for a command run by
 * hand on a cluster's worth of instances. */
int sched_rebalance(const sched_placement *placements, size_t nplacements, char (*hosts)[64],
                    size_t nhosts, sched_placement **changes, size_t *nchanges)
{
    sched_placement *ps = calloc(nplacements + 1, sizeof *ps);
    *changes = calloc(nplacements + 1, sizeof **changes);
    *nchanges = 0;
    if (!ps || !*changes) {
        free(ps);
        free(*changes);
        return -1;
    }
    memcpy(ps, placements, nplacements * sizeof *ps);
    for (size_t round = 0; nhosts > 1 && round < nplacements; round++) {
        size_t hi = 0, lo = 0;
        for (size_t h = 1; h < nhosts; h++) {
            if (sched_load(ps, nplacements, hosts[h]) > sched_load(ps, nplacements, hosts[hi]))
                hi = h;
            if (sched_load(ps, nplacements, hosts[h]) < sched_load(ps, nplacements, hosts[lo]))
                lo = h;
        }
        if (sched_load(ps, nplacements, hosts[hi]) <= sched_load(ps, nplacements, hosts[lo]) + 1)
            break;
        sched_placement *p = sched_movable(ps, nplacements, hosts[hi], hosts[lo]);
        if (!p)
            break;
        strcpy(p->from, p->host);
        strcpy(p->host, hosts[lo]);
        p->since = (long)time(NULL);
        (*changes)[(*nchanges)++] = *p;
    }
    free(ps);
    return 0;
}
