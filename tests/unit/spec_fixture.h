/* spec_fixture.h - shared by the tests of the conductor's pure logic (test_plan.c,
 * test_sched.c): a plan_spec made from a manifest, as the conductor makes it from
 * etcd. printf-style, so that a test can vary the scale. */
#ifndef DOKKAA_SPEC_FIXTURE_H
#define DOKKAA_SPEC_FIXTURE_H

#include <stdio.h>
#include <string.h>

#include "plan.h"

static inline void spec_fixture(plan_spec *s, const char *app, const char *name, const char *fmt,
                                int scale)
{
    char json[512];
    err_t err;
    snprintf(json, sizeof json, fmt, scale);
    snprintf(s->app, sizeof s->app, "%s", app);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->valid = manifest_parse(json, strlen(json), &s->m, &err) == 0;
    if (!s->valid)
        snprintf(s->error, sizeof s->error, "%s", err.msg);
}

#endif
