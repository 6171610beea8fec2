/* sched.c - the scheduler's decisions (see sched.h for the rules).
 *
 * A pass is O(N log N + N·H) in N placements and instances and H hosts: the hosts
 * and the manifests are sorted once and looked up by binary search, each
 * manifest's placements are gathered once (which of its instances are placed, and
 * how many on each host), and the load of every host is a counter kept up to date
 * as instances are placed, so that choosing a host for an instance is one look at
 * each host. (It was a scan of every placement for every host for every new
 * instance, O(N²·H): a cluster's worth of new instances took minutes.) Rebalancing
 * is run by hand and keeps its simpler quadratic rounds. */
#include "sched.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct sched_state {
    const plan_spec **specs;  /* sorted by (app, name) */
    size_t nspecs;
    const char **hosts;       /* the live host ids, sorted */
    size_t nhosts;
    size_t *load;             /* load[h]: placements on hosts[h], as the changes leave them */
    sched_placement *changes;
    size_t nchanges;
} sched_state;

static int sched_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Index of host in st->hosts, or -1 when it is not a live host. */
static long sched_host(const sched_state *st, const char *host)
{
    const char **found = st->nhosts ? bsearch(&host, st->hosts, st->nhosts, sizeof *st->hosts,
                                              sched_cmp_str)
                                    : NULL;
    return found ? (long)(found - st->hosts) : -1;
}

static int sched_cmp_spec(const void *a, const void *b)
{
    const plan_spec *x = *(const plan_spec *const *)a, *y = *(const plan_spec *const *)b;
    int c = strcmp(x->app, y->app);
    return c ? c : strcmp(x->name, y->name);
}

/* Index in st->specs of the manifest of p, or -1. */
static long sched_spec(const sched_state *st, const sched_placement *p)
{
    plan_spec key;
    const plan_spec *kp = &key, **found;
    memcpy(key.app, p->app, sizeof key.app);
    memcpy(key.name, p->name, sizeof key.name);
    found = st->nspecs ? bsearch(&kp, st->specs, st->nspecs, sizeof *st->specs, sched_cmp_spec)
                       : NULL;
    return found ? (long)(found - st->specs) : -1;
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

/* What the pass knows of one valid manifest's instances: which are placed (as the
 * changes leave them) and the placement each had before (for its revision). */
typedef struct sched_spec_state {
    bool *placed;                 /* scale entries */
    const sched_placement **old;  /* scale entries */
} sched_spec_state;

/* A placement that stays (kept or given back): spec s's instance, on host h. */
typedef struct sched_kept {
    size_t spec;
    long host;
} sched_kept;

static int sched_cmp_kept(const void *a, const void *b)
{
    const sched_kept *x = a, *y = b;
    return (x->spec > y->spec) - (x->spec < y->spec);
}

/* The live host for a new instance of a manifest that has mine[h] instances on
 * host h: spread, then least loaded, then the lowest id (hosts are sorted, and
 * only a better host replaces the best). */
static long sched_pick(const sched_state *st, const size_t *mine)
{
    long best = -1;
    for (size_t h = 0; h < st->nhosts; h++)
        if (best < 0 || mine[h] < mine[best] ||
            (mine[h] == mine[best] && st->load[h] < st->load[best]))
            best = (long)h;
    return best;
}

int sched_make(const plan_spec *specs, size_t nspecs, const sched_placement *placements,
               size_t nplacements, char (*hosts)[64], size_t nhosts, sched_placement **changes,
               size_t *nchanges)
{
    size_t want = nplacements, nkept = 0;
    int rc = -1;
    for (size_t s = 0; s < nspecs; s++)
        want += specs[s].valid ? (size_t)specs[s].m.scale : 0;
    sched_state st = {.nspecs = nspecs, .nhosts = nhosts,
                      .specs = calloc(nspecs + 1, sizeof *st.specs),
                      .hosts = calloc(nhosts + 1, sizeof *st.hosts),
                      .load = calloc(nhosts + 1, sizeof *st.load),
                      .changes = calloc(want + 1, sizeof *st.changes)};
    sched_spec_state *ss = calloc(nspecs + 1, sizeof *ss);
    sched_kept *kept = calloc(nplacements + 1, sizeof *kept);
    size_t *mine = calloc(nhosts + 1, sizeof *mine);
    if (!st.specs || !st.hosts || !st.load || !st.changes || !ss || !kept || !mine)
        goto out;
    for (size_t s = 0; s < nspecs; s++)
        st.specs[s] = &specs[s];
    qsort(st.specs, nspecs, sizeof *st.specs, sched_cmp_spec);
    for (size_t h = 0; h < nhosts; h++)
        st.hosts[h] = hosts[h];
    qsort(st.hosts, nhosts, sizeof *st.hosts, sched_cmp_str);
    for (size_t s = 0; s < nspecs; s++) {
        size_t scale = st.specs[s]->valid ? (size_t)st.specs[s]->m.scale : 0;
        if (!(ss[s].placed = calloc(scale + 1, sizeof *ss[s].placed)) ||
            !(ss[s].old = calloc(scale + 1, sizeof *ss[s].old)))
            goto out;
    }

    for (size_t i = 0; i < nplacements; i++) {
        const sched_placement *p = &placements[i];
        long s = sched_spec(&st, p), h = sched_host(&st, p->host);
        const plan_spec *spec = s >= 0 ? st.specs[s] : NULL;
        bool wanted = spec && spec->valid && p->instance >= 0 && p->instance < spec->m.scale;
        if (wanted)
            ss[s].old[p->instance] = p;
        if (spec && (!spec->valid || (wanted && h >= 0))) {
            /* stays: an invalid manifest's placements are left alone, like its containers */
            if (h >= 0)
                st.load[h]++;
            if (wanted) {
                ss[s].placed[p->instance] = true;
                kept[nkept++] = (sched_kept){.spec = (size_t)s, .host = h};
            }
        } else if (!wanted) {
            sched_change(&st, p->app, p->name, p->instance, "", "", 0);
        } else if (*p->from && (h = sched_host(&st, p->from)) >= 0) {
            /* the new host died during a handoff: the old one still runs it */
            sched_change(&st, p->app, p->name, p->instance, p->from, p->hash, p->changed);
            st.load[h]++;
            ss[s].placed[p->instance] = true;
            kept[nkept++] = (sched_kept){.spec = (size_t)s, .host = h};
        }
        /* else: wanted but on a dead host; the loop below places it anew (a txn
         * may not touch one key twice, so no delete first) */
    }
    qsort(kept, nkept, sizeof *kept, sched_cmp_kept);

    /* the manifests in key order, as before: which manifest places first decides
     * ties between them */
    for (size_t k = 0, n = 0; n < nspecs; n++) {
        const plan_spec *spec = &specs[n];
        sched_placement probe;
        memcpy(probe.app, spec->app, sizeof probe.app);
        memcpy(probe.name, spec->name, sizeof probe.name);
        long s = sched_spec(&st, &probe);
        if (!spec->valid || s < 0 || st.specs[s] != spec)
            continue; /* invalid, or a second manifest of the same name (none: keys differ) */
        sched_kept key = {.spec = (size_t)s}, *from =
            nkept ? bsearch(&key, kept, nkept, sizeof *kept, sched_cmp_kept) : NULL;
        while (from && from > kept && from[-1].spec == (size_t)s)
            from--;
        for (k = from ? (size_t)(from - kept) : nkept; k < nkept && kept[k].spec == (size_t)s; k++)
            mine[kept[k].host]++;
        for (int i = 0; i < spec->m.scale; i++) {
            long h;
            if (ss[s].placed[i] || (h = sched_pick(&st, mine)) < 0)
                continue;
            /* a dead host's instance keeps its revision, a new one is the manifest's;
             * either starts now, and a rollout's deadline for it counts from now */
            const sched_placement *old = ss[s].old[i];
            sched_change(&st, spec->app, spec->name, i, st.hosts[h],
                         old && *old->hash ? old->hash : spec->m.hash, (long)time(NULL));
            ss[s].placed[i] = true;
            mine[h]++;
            st.load[h]++;
        }
        memset(mine, 0, nhosts * sizeof *mine);
    }
    *changes = st.changes;
    *nchanges = st.nchanges;
    st.changes = NULL;
    rc = 0;
out:
    for (size_t s = 0; ss && s < nspecs; s++) {
        free(ss[s].placed);
        free(ss[s].old);
    }
    free(ss);
    free(kept);
    free(mine);
    free(st.specs);
    free(st.hosts);
    free(st.load);
    free(st.changes);
    return rc;
}

/* ---- rebalancing ----------------------------------------------------------------- */

static bool sched_same(const sched_placement *p, const char *app, const char *name)
{
    return strcmp(p->app, app) == 0 && strcmp(p->name, name) == 0;
}

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
