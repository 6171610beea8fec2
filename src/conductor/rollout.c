/* rollout.c - the scheduler's rollouts (see rollout.h for the rules).
 *
 * Linear scans over the placements, as in sched.c: a step runs only for the
 * manifests whose rollout is under way, and the etcd writes it leads to cost far
 * more than the arithmetic. */
#include "rollout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const sched_placement *rollout_placement(const plan_spec *spec,
                                                const sched_placement *ps, size_t n,
                                                int instance, size_t *at)
{
    for (size_t i = 0; i < n; i++)
        if (ps[i].instance == instance && strcmp(ps[i].app, spec->app) == 0 &&
            strcmp(ps[i].name, spec->name) == 0) {
            *at = i;
            return &ps[i];
        }
    return NULL;
}

/* Does st report instance i of placement p running revision hash under its own
 * name, healthy or without a check? */
static bool rollout_updated(const plan_spec *spec, const sched_placement *p,
                            const keys_status *st, int i, const char *hash)
{
    char cname[KEYS_CONTAINER_SIZE];
    names_container(cname, sizeof cname, spec->app, spec->name, i);
    return strcmp(st->host, p->host) == 0 && strcmp(st->hash, hash) == 0 &&
           strcmp(st->container, cname) == 0 && st->state == KEYS_STATE_RUNNING &&
           (st->health == KEYS_HEALTH_NONE || st->health == KEYS_HEALTH_HEALTHY);
}

/* Has instance i (placed as p, on its way to hash, not updated) failed? Says why. */
static bool rollout_failed(const plan_spec *spec, const sched_placement *p, const keys_status *st,
                           int i, const char *hash, long now, char *why, size_t size)
{
    bool reported = strcmp(st->host, p->host) == 0 && strcmp(st->hash, hash) == 0;
    enum keys_state s = st->state;
    if (reported && (s == KEYS_STATE_FAILED || s == KEYS_STATE_EXITED || s == KEYS_STATE_DEAD ||
                     s == KEYS_STATE_RESTARTING)) {
        snprintf(why, size, "instance %d on %s: %s%s%.900s", i, p->host, keys_state_name(s),
                 *st->error ? ": " : "", st->error);
        return true;
    }
    if (p->changed && now - p->changed > spec->m.update.deadline) {
        snprintf(why, size, "instance %d on %s: not healthy within %d s%s%s%s", i, p->host,
                 spec->m.update.deadline, reported ? " (" : "",
                 reported ? keys_health_name(st->health) : "", reported ? ")" : "");
        return true;
    }
    return false;
}

/* Field by field: the structs' padding is not theirs to compare. */
static bool rollout_same(const keys_rollout *a, const keys_rollout *b)
{
    return a->revision == b->revision && strcmp(a->hash, b->hash) == 0 &&
           strcmp(a->stable, b->stable) == 0 && a->state == b->state &&
           a->rollback == b->rollback && a->updated == b->updated && a->failed == b->failed &&
           a->total == b->total && a->since == b->since && strcmp(a->reason, b->reason) == 0;
}

/* A new revision: the manifest's hash is not the record's (or there is none). */
static void rollout_new(const plan_spec *spec, const keys_rollout *rec, long now, rollout_step *out)
{
    keys_rollout next = {.revision = rec ? rec->revision + 1 : 1, .state = KEYS_OUTCOME_ROLLING,
                         .total = spec->m.scale, .since = now};
    snprintf(next.hash, sizeof next.hash, "%s", spec->m.hash);
    if (rec)
        snprintf(next.stable, sizeof next.stable, "%s",
                 rec->state == KEYS_OUTCOME_ROLLED_OUT ? rec->hash : rec->stable);
    if (rec && rec->state == KEYS_OUTCOME_ROLLING) {
        out->ended = rec->revision;
        out->outcome = KEYS_OUTCOME_SUPERSEDED;
    }
    out->rec = next;
    out->write = out->new_revision = true;
}

/* The rollout failed (why): roll back, pause or fail, as the manifest says. */
static void rollout_fail(const plan_spec *spec, const char *why, rollout_step *out)
{
    keys_rollout *r = &out->rec;
    out->ended = r->revision;
    snprintf(r->reason, sizeof r->reason, "%s%s", r->rollback ? "the rollback failed too: " : "",
             why);
    if (spec->m.update.on_failure == MANIFEST_PAUSE || r->rollback) {
        r->state = out->outcome = KEYS_OUTCOME_PAUSED;
    } else if (!*r->stable || strcmp(r->stable, r->hash) == 0) {
        r->state = out->outcome = KEYS_OUTCOME_FAILED;
    } else {
        out->outcome = KEYS_OUTCOME_ROLLED_BACK;
        out->rollback = true; /* deploy.c writes the rollback's record */
    }
    out->write = true;
}

int rollout_decide(const plan_spec *spec, const keys_rollout *rec,
                   const sched_placement *placements, const keys_status *statuses, size_t n,
                   long now, rollout_step *out)
{
    static const keys_status none;
    int scale = spec->m.scale, updated = 0, failed = 0, moving = 0;
    char why[KEYS_ERROR_SIZE] = "";

    memset(out, 0, sizeof *out);
    if (!rec || strcmp(rec->hash, spec->m.hash) != 0) {
        rollout_new(spec, rec, now, out);
        return 0;
    }
    out->rec = *rec;
    if (!(out->changes = calloc((size_t)scale + 1, sizeof *out->changes)))
        return -1;
    int budget = rec->rollback ? scale : manifest_batch(&spec->m);
    const char *hash = rec->hash;
    for (int i = 0; i < scale; i++) { /* count what is on its way first */
        size_t at = 0;
        const sched_placement *p = rollout_placement(spec, placements, n, i, &at);
        const keys_status *st = p && statuses[at].host[0] ? &statuses[at] : &none;
        if (!p) {
            moving++; /* the scheduler places it, of this revision */
        } else if (strcmp(p->hash, hash) == 0) {
            if (rollout_updated(spec, p, st, i, hash))
                updated++;
            else if (rec->state == KEYS_OUTCOME_ROLLING &&
                     rollout_failed(spec, p, st, i, hash, now, why, sizeof why))
                failed++;
            else
                moving++;
        }
    }
    for (int i = 0; rec->state == KEYS_OUTCOME_ROLLING && !failed && i < scale; i++) {
        size_t at = 0;
        const sched_placement *p = rollout_placement(spec, placements, n, i, &at);
        if (!p || strcmp(p->hash, hash) == 0 || moving >= budget)
            continue;
        sched_placement *c = &out->changes[out->nchanges++];
        *c = *p;
        snprintf(c->hash, sizeof c->hash, "%s", hash);
        c->changed = now;
        moving++;
    }
    out->rec.updated = updated;
    out->rec.failed = failed;
    out->rec.total = scale;
    if (rec->state == KEYS_OUTCOME_ROLLING && failed) {
        out->nchanges = 0;
        rollout_fail(spec, why, out);
    } else if (rec->state == KEYS_OUTCOME_ROLLING && updated == scale) {
        out->rec.state = out->outcome = KEYS_OUTCOME_ROLLED_OUT;
        out->rec.reason[0] = '\0';
        snprintf(out->rec.stable, sizeof out->rec.stable, "%s", hash);
        out->ended = rec->revision;
    }
    out->write |= !rollout_same(&out->rec, rec);
    return 0;
}
