/* plan.c - the conductor's planner (see plan.h for the rules).
 *
 * Lookups are linear scans: a host runs tens to a few hundred containers, and a
 * pass is dominated by the Docker calls it leads to, not by this arithmetic. */
#include "plan.h"

#include <stdlib.h>
#include <string.h>

const plan_spec *plan_find_spec(const plan_spec *specs, size_t nspecs, const char *app,
                                const char *name)
{
    for (size_t i = 0; i < nspecs; i++)
        if (strcmp(specs[i].app, app) == 0 && strcmp(specs[i].name, name) == 0)
            return &specs[i];
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
 * invalid are kept; a name that is not the one Dokkaa would give (labels copied by
 * hand onto another container) is a stray. */
static bool plan_is_unwanted(const plan_spec *specs, size_t nspecs, const plan_container *c)
{
    const plan_spec *spec = plan_find_spec(specs, nspecs, c->app, c->name);
    char expected[200];
    if (!spec)
        return true;
    if (!spec->valid)
        return false;
    names_container(expected, sizeof expected, c->app, c->name, c->instance);
    if (c->instance < 0 || c->instance >= spec->m.scale || strcmp(expected, c->cname) != 0)
        return true;
    bool here = spec->here && spec->here[c->instance];
    bool draining = spec->draining && spec->draining[c->instance];
    return !here && !draining;
}

int plan_make(const plan_spec *specs, size_t nspecs, const plan_container *containers,
              size_t ncontainers, plan_action **actions, size_t *nactions)
{
    size_t cap = ncontainers, n = 0;
    for (size_t s = 0; s < nspecs; s++)
        cap += specs[s].valid ? (size_t)specs[s].m.scale : 0;
    plan_action *out = calloc(cap ? cap : 1, sizeof *out);
    if (!out)
        return -1;

    for (size_t c = 0; c < ncontainers; c++)
        if (plan_is_unwanted(specs, nspecs, &containers[c]))
            out[n++] = (plan_action){.verb = PLAN_REMOVE, .container = &containers[c]};

    for (size_t s = 0; s < nspecs; s++) {
        const plan_spec *spec = &specs[s];
        for (int i = 0; spec->valid && spec->here && i < spec->m.scale; i++) {
            char cname[200];
            if (!spec->here[i])
                continue;
            names_container(cname, sizeof cname, spec->app, spec->name, i);
            const plan_container *c = plan_find_container(containers, ncontainers, cname);
            plan_action a = {.spec = spec, .instance = i, .container = c};
            if (!c)
                a.verb = PLAN_CREATE;
            else if (strcmp(c->hash, spec->m.hash) != 0)
                a.verb = PLAN_REPLACE;
            else if (c->state == PLAN_STOPPED)
                a.verb = PLAN_START;
            else
                continue;
            out[n++] = a;
        }
    }
    *actions = out;
    *nactions = n;
    return 0;
}
