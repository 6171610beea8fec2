/* plan.c - the conductor's planner (see plan.h for the rules).
 *
 * Lookups are linear scans: a host runs tens to a few hundred containers, and a
 * pass is dominated by the Docker calls it leads to, not by this arithmetic. */
#include "plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokkaa/keys.h"
#include "dokkaa/names.h"

const plan_spec *plan_find_spec(const plan_spec *specs, size_t nspecs, const char *app,
                                const char *name)
{
    for (size_t i = 0; i < nspecs; i++)
        if (strcmp(specs[i].app, app) == 0 && strcmp(specs[i].name, name) == 0)
            return &specs[i];
    return NULL;
}

const plan_spec *plan_revision(const plan_spec *specs, size_t nspecs, const plan_spec *revisions,
                               size_t nrevisions, const char *app, const char *name,
                               const char *hash)
{
    const plan_spec *spec = plan_find_spec(specs, nspecs, app, name);
    if (spec && spec->valid && strcmp(spec->m.hash, hash) == 0)
        return spec;
    for (size_t i = 0; i < nrevisions; i++)
        if (strcmp(revisions[i].m.hash, hash) == 0 && strcmp(revisions[i].app, app) == 0 &&
            strcmp(revisions[i].name, name) == 0)
            return &revisions[i];
    return NULL;
}

const plan_container *plan_find_container(const plan_container *containers, size_t n,
                                          const char *cname)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(containers[i].cname, cname) == 0)
            return &containers[i];
    return NULL;
}

/* Does container c stand where no manifest wants it? Containers whose manifest is
 * invalid are kept; a name that is not one Dokkaa would give (labels copied by
 * hand onto another container) is a stray. A next container is wanted only while
 * its instance is placed here (the per-instance rules below judge its hash). */
static bool plan_is_unwanted(const plan_spec *specs, size_t nspecs, const plan_container *c)
{
    const plan_spec *spec = plan_find_spec(specs, nspecs, c->app, c->name);
    char expected[200];
    if (!spec)
        return true;
    if (!spec->valid)
        return false;
    if (c->instance < 0 || c->instance >= spec->m.scale)
        return true;
    if (c->next)
        names_next(expected, sizeof expected, c->app, c->name, c->instance);
    else
        names_container(expected, sizeof expected, c->app, c->name, c->instance);
    if (strcmp(expected, c->cname) != 0)
        return true;
    bool here = spec->here && spec->here[c->instance];
    bool draining = spec->draining && spec->draining[c->instance];
    return !here && (c->next || !draining);
}

/* The actions for instance i of spec, placed here: at most two (a next container
 * of the wrong hash goes, and the instance's own container is started). */
static size_t plan_instance(const plan_spec *spec, int i, const plan_container *containers,
                            size_t ncontainers, plan_action *out)
{
    char cname[200], nname[200];
    const char *want = spec->want ? spec->want[i] : "";
    const plan_spec *target = spec->target && spec->target[i] ? spec->target[i] : spec;
    names_container(cname, sizeof cname, spec->app, spec->name, i);
    names_next(nname, sizeof nname, spec->app, spec->name, i);
    const plan_container *c = plan_find_container(containers, ncontainers, cname);
    const plan_container *nx = plan_find_container(containers, ncontainers, nname);
    bool nx_fits = nx && strcmp(nx->hash, target->m.hash) == 0;
    size_t n = 0;
    plan_action a = {.spec = target, .instance = i};

    if (c && (!*want || strcmp(c->hash, want) == 0)) { /* runs what it should */
        if (nx) /* a rollout superseded or rolled back */
            out[n++] = (plan_action){.verb = PLAN_REMOVE, .spec = target, .container = nx};
        if (c->state == PLAN_STOPPED)
            out[n++] = (plan_action){.verb = PLAN_START, .spec = target, .instance = i,
                                     .container = c};
        return n;
    }
    if (nx && !nx_fits) { /* the next container of a revision no longer wanted */
        out[n++] = (plan_action){.verb = PLAN_REMOVE, .spec = target, .container = nx};
        nx = NULL;
    }
    if (!c) { /* a new instance, or its container is gone */
        a.verb = nx && nx->state == PLAN_RUNNING ? PLAN_PROMOTE : PLAN_CREATE;
        a.next = a.verb == PLAN_PROMOTE ? nx : NULL;
        if (nx && a.verb == PLAN_CREATE)
            out[n++] = (plan_action){.verb = PLAN_REMOVE, .spec = target, .container = nx};
    } else if (target->m.update.order == MANIFEST_STOP_FIRST) {
        if (nx)
            out[n++] = (plan_action){.verb = PLAN_REMOVE, .spec = target, .container = nx};
        a.verb = PLAN_REPLACE;
        a.container = c;
    } else if (!nx) {
        a.verb = PLAN_CREATE_NEXT;
    } else if (nx->state == PLAN_RUNNING && nx->ready) {
        a.verb = PLAN_PROMOTE;
        a.container = c;
        a.next = nx;
    } else {
        return n; /* the next one starts, or failed: the scheduler decides */
    }
    out[n++] = a;
    return n;
}

/* Move the removals to the front, keeping the order within each part. */
static int plan_removals_first(plan_action *out, size_t n)
{
    plan_action *rest = calloc(n + 1, sizeof *rest);
    size_t r = 0, k = 0;
    if (!rest)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (out[i].verb == PLAN_REMOVE)
            out[k++] = out[i];
        else
            rest[r++] = out[i];
    memcpy(out + k, rest, r * sizeof *rest);
    free(rest);
    return 0;
}

int plan_make(const plan_spec *specs, size_t nspecs, const plan_container *containers,
              size_t ncontainers, plan_action **actions, size_t *nactions)
{
    size_t cap = ncontainers, n = 0;
    for (size_t s = 0; s < nspecs; s++)
        cap += specs[s].valid ? 2 * (size_t)specs[s].m.scale : 0;
    plan_action *out = calloc(cap ? cap : 1, sizeof *out);
    if (!out)
        return -1;

    for (size_t c = 0; c < ncontainers; c++)
        if (plan_is_unwanted(specs, nspecs, &containers[c])) /* spec: its stop_grace */
            out[n++] = (plan_action){.verb = PLAN_REMOVE, .container = &containers[c],
                                     .spec = plan_find_spec(specs, nspecs, containers[c].app,
                                                            containers[c].name)};

    for (size_t s = 0; s < nspecs; s++) {
        const plan_spec *spec = &specs[s];
        for (int i = 0; spec->valid && spec->here && i < spec->m.scale; i++)
            if (spec->here[i])
                n += plan_instance(spec, i, containers, ncontainers, out + n);
    }
    /* removals free names and resources before anything is created */
    if (plan_removals_first(out, n) < 0) {
        free(out);
        return -1;
    }
    *actions = out;
    *nactions = n;
    return 0;
}

void plan_failure_key(char *buf, size_t size, const char *app, const char *name, int instance,
                      const char *hash)
{
    char nname[KEYS_CONTAINER_SIZE];
    names_next(nname, sizeof nname, app, name, instance);
    snprintf(buf, size, "%s@%s", nname, hash);
}

bool plan_failure_current(const plan_spec *specs, size_t nspecs,
                          const plan_container *containers, size_t ncontainers,
                          const char *key)
{
    char k[KEYS_CONTAINER_SIZE + KEYS_HASH_SIZE + 2];
    for (size_t c = 0; c < ncontainers; c++)
        if (strcmp(containers[c].cname, key) == 0)
            return true;
    for (size_t s = 0; s < nspecs; s++) {
        const plan_spec *spec = &specs[s];
        for (int i = 0; spec->valid && spec->here && i < spec->m.scale; i++) {
            if (!spec->here[i])
                continue;
            names_container(k, sizeof k, spec->app, spec->name, i);
            if (strcmp(k, key) == 0)
                return true;
            plan_failure_key(k, sizeof k, spec->app, spec->name, i, spec->m.hash);
            if (strcmp(k, key) == 0)
                return true;
            if (spec->want && *spec->want[i]) {
                plan_failure_key(k, sizeof k, spec->app, spec->name, i, spec->want[i]);
                if (strcmp(k, key) == 0)
                    return true;
            }
        }
    }
    return false;
}
