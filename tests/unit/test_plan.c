/* test_plan.c - unit tests for the conductor's planner (src/conductor/plan.c):
 * given manifests and the containers on the host, which containers to create,
 * start, replace or remove (the rules are in plan.h). Specs come from
 * manifest_parse on JSON, so their hashes are the real ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "plan.h"
#include "spec_fixture.h"

#define NGINX "{\"image\":\"dockerfile/nginx\",\"scale\":%d,\"services\":{\"nginx\":80}}"

/* One planning problem: its specs, containers and the resulting actions. */
typedef struct world {
    plan_spec specs[4];
    bool here[4][16]; /* placements on this host; add_spec places every instance here */
    char want[4][16][17]; /* the revision each placement asks for (want_revision) */
    size_t nspecs;
    plan_container cs[8];
    char cnames[8][200];
    size_t ncs;
    plan_action *acts;
    size_t nacts;
} world;

static int setup(void **state)
{
    *state = calloc(1, sizeof(world));
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    world *w = *state;
    for (size_t i = 0; i < w->nspecs; i++)
        manifest_free(&w->specs[i].m);
    free(w->acts);
    free(w);
    return 0;
}

/* Add the spec app/name from a manifest; printf-style so the scale can vary. */
static plan_spec *add_spec(world *w, const char *app, const char *name, const char *fmt, int scale)
{
    plan_spec *s = &w->specs[w->nspecs];
    for (int i = 0; i < 16; i++)
        w->here[w->nspecs][i] = true;
    s->here = w->here[w->nspecs++];
    spec_fixture(s, app, name, fmt, scale);
    return s;
}

/* Add a container labelled app/name/instance; cname NULL means the name Dokkaa gives. */
static plan_container *add_container(world *w, const char *app, const char *name, int instance,
                                     const char *cname, const char *hash, enum plan_state state)
{
    size_t i = w->ncs++;
    plan_container *c = &w->cs[i];
    if (cname)
        snprintf(w->cnames[i], sizeof w->cnames[i], "%s", cname);
    else
        names_container(w->cnames[i], sizeof w->cnames[i], app, name, instance);
    *c = (plan_container){.id = w->cnames[i], .cname = w->cnames[i], .instance = instance,
                          .state = state};
    snprintf(c->app, sizeof c->app, "%s", app);
    snprintf(c->name, sizeof c->name, "%s", name);
    memcpy(c->hash, hash, strnlen(hash, sizeof c->hash - 1)); /* hash may live in *w too */
    return c;
}

/* The scheduler's placements ask every instance of spec for revision hash. */
static void want_revision(world *w, plan_spec *s, const char *hash)
{
    size_t k = (size_t)(s - w->specs);
    for (int i = 0; i < 16; i++)
        snprintf(w->want[k][i], sizeof w->want[k][i], "%s", hash);
    s->want = w->want[k];
}

/* A next container of instance i (names_next's name). */
static plan_container *add_next(world *w, const char *app, const char *name, int instance,
                                const char *hash, enum plan_state state, bool ready)
{
    char cname[200];
    names_next(cname, sizeof cname, app, name, instance);
    plan_container *c = add_container(w, app, name, instance, cname, hash, state);
    c->next = true;
    c->ready = ready;
    return c;
}

static void plan(world *w)
{
    assert_int_equal(plan_make(w->specs, w->nspecs, w->cs, w->ncs, &w->acts, &w->nacts), 0);
}

/* How many actions have this verb and this spec/instance (or, for REMOVE, container). */
static int count(const world *w, enum plan_verb verb, const plan_spec *spec, int instance,
                 const plan_container *c)
{
    int n = 0;
    for (size_t i = 0; i < w->nacts; i++) {
        const plan_action *a = &w->acts[i];
        if (a->verb != verb)
            continue;
        if (verb == PLAN_REMOVE ? a->container == c
                                : a->spec == spec && a->instance == instance && a->container == c)
            n++;
    }
    return n;
}

static void test_empty_input_plans_nothing(void **state)
{
    world *w = *state;
    plan(w);
    assert_non_null(w->acts);
    assert_int_equal(w->nacts, 0);
}

static void test_new_manifest_creates_instance_zero(void **state)
{
    world *w = *state;
    plan_spec *s = add_spec(w, "dummy", "nginx", NGINX, 1);
    assert_true(s->valid);
    plan(w);
    assert_int_equal(w->nacts, 1);
    assert_int_equal(count(w, PLAN_CREATE, s, 0, NULL), 1);
}

static void test_scale_up_creates_missing_instances_with_their_names(void **state)
{
    world *w = *state;
    plan_spec *s = add_spec(w, "dummy", "nginx", NGINX, 3);
    add_container(w, "dummy", "nginx", 0, NULL, s->m.hash, PLAN_RUNNING);
    plan(w);
    assert_int_equal(w->nacts, 2);
    assert_int_equal(count(w, PLAN_CREATE, s, 1, NULL), 1);
    assert_int_equal(count(w, PLAN_CREATE, s, 2, NULL), 1);
    char name[200];
    names_container(name, sizeof name, w->acts[0].spec->app, w->acts[0].spec->name,
                    w->acts[0].instance);
    assert_string_equal(name, "dummy---nginx---1");
    names_container(name, sizeof name, w->acts[1].spec->app, w->acts[1].spec->name,
                    w->acts[1].instance);
    assert_string_equal(name, "dummy---nginx---2");
}

static void test_scale_down_removes_highest_instances(void **state)
{
    world *w = *state;
    plan_spec *s = add_spec(w, "dummy", "nginx", NGINX, 1);
    add_container(w, "dummy", "nginx", 0, NULL, s->m.hash, PLAN_RUNNING);
    plan_container *c1 = add_container(w, "dummy", "nginx", 1, NULL, s->m.hash, PLAN_RUNNING);
    plan_container *c2 = add_container(w, "dummy", "nginx", 2, NULL, s->m.hash, PLAN_RUNNING);
    plan(w);
    assert_int_equal(w->nacts, 2);
    assert_int_equal(count(w, PLAN_REMOVE, NULL, 0, c1), 1);
    assert_int_equal(count(w, PLAN_REMOVE, NULL, 0, c2), 1);
}

static void test_removals_come_before_other_actions(void **state)
{
    world *w = *state;
    /* "a" sorts first and needs a create; "b" scales down and needs a replace. */
    plan_spec *a = add_spec(w, "a", "web", NGINX, 1);
    plan_spec *b = add_spec(w, "b", "web", NGINX, 1);
    add_container(w, "b", "web", 0, NULL, "0000000000000000", PLAN_RUNNING);
    plan_container *b1 = add_container(w, "b", "web", 1, NULL, b->m.hash, PLAN_RUNNING);
    want_revision(w, b, b->m.hash);
    plan(w);
    assert_int_equal(w->nacts, 3);
    assert_int_equal(w->acts[0].verb, PLAN_REMOVE);
    assert_ptr_equal(w->acts[0].container, b1);
    assert_int_equal(count(w, PLAN_CREATE, a, 0, NULL), 1);
    assert_int_equal(count(w, PLAN_CREATE_NEXT, b, 0, NULL), 1);
}

static void test_deleted_manifest_removes_all_its_containers(void **state)
{
    world *w = *state;
    plan_container *c0 = add_container(w, "dummy", "nginx", 0, NULL, "0123456789abcdef", PLAN_RUNNING);
    plan_container *c1 = add_container(w, "dummy", "nginx", 1, NULL, "0123456789abcdef", PLAN_STOPPED);
    plan(w);
    assert_int_equal(w->nacts, 2);
    assert_int_equal(count(w, PLAN_REMOVE, NULL, 0, c0), 1);
    assert_int_equal(count(w, PLAN_REMOVE, NULL, 0, c1), 1);
}

/* A placement without a revision (written before rollouts) takes what runs. */
static void test_placement_without_revision_keeps_what_runs(void **state)
{
    world *w = *state;
    add_spec(w, "dummy", "nginx", NGINX, 1);
    add_container(w, "dummy", "nginx", 0, NULL, "0123456789abcdef", PLAN_RUNNING);
    plan(w);
    assert_int_equal(w->nacts, 0);
}

/* start-first (the default): the new revision starts beside the old one... */
static void test_new_revision_starts_beside_the_old_one(void **state)
{
    world *w = *state;
    plan_spec *s = add_spec(w, "dummy", "nginx", NGINX, 1);
    add_container(w, "dummy", "nginx", 0, NULL, "0123456789abcdef", PLAN_RUNNING);
    want_revision(w, s, s->m.hash);
    plan(w);
    assert_int_equal(w->nacts, 1);
    assert_int_equal(count(w, PLAN_CREATE_NEXT, s, 0, NULL), 1);
}

/* ... is left alone while it starts or once it failed (the scheduler decides) ... */
static void test_next_container_that_is_not_ready_waits(void **state)
{
    world *w = *state;
    plan_spec *s = add_spec(w, "dummy", "nginx", NGINX, 2);
    add_container(w, "dummy", "nginx", 0, NULL, "0123456789abcdef", PLAN_RUNNING);
    add_container(w, "dummy", "nginx", 1, NULL, "0123456789abcdef", PLAN_RUNNING);
    want_revision(w, s, s->m.hash);
    add_next(w, "dummy", "nginx", 0, s->m.hash, PLAN_RUNNING, false);
    add_next(w, "dummy", "nginx", 1, s->m.hash, PLAN_STOPPED, false);
    plan(w);
    assert_int_equal(w->nacts, 0);
}

/* ... and takes over once ready. */
static void test_ready_next_container_is_promoted(void **state)
{
    world *w = *state;
    plan_spec *s = add_spec(w, "dummy", "nginx", NGINX, 1);
    plan_container *old = add_container(w, "dummy", "nginx", 0, NULL, "0123456789abcdef", PLAN_RUNNING);
    want_revision(w, s, s->m.hash);
    plan_container *nx = add_next(w, "dummy", "nginx", 0, s->m.hash, PLAN_RUNNING, true);
    plan(w);
    assert_int_equal(w->nacts, 1);
    assert_int_equal(count(w, PLAN_PROMOTE, s, 0, old), 1);
    assert_ptr_equal(w->acts[0].next, nx);
}

/* A rollback (or a newer revision) makes the next container moot. */
static void test_next_container_of_another_revision_goes(void **state)
{
    world *w = *state;
    plan_spec *s = add_spec(w, "dummy", "nginx", NGINX, 2);
    add_container(w, "dummy", "nginx", 0, NULL, s->m.hash, PLAN_RUNNING);
    add_container(w, "dummy", "nginx", 1, NULL, "0123456789abcdef", PLAN_RUNNING);
    want_revision(w, s, s->m.hash);
    plan_container *n0 = add_next(w, "dummy", "nginx", 0, "fedcba9876543210", PLAN_RUNNING, true);
    plan_container *n1 = add_next(w, "dummy", "nginx", 1, "fedcba9876543210", PLAN_RUNNING, true);
    plan(w);
    assert_int_equal(w->nacts, 3);
    assert_int_equal(count(w, PLAN_REMOVE, NULL, 0, n0), 1); /* 0 runs what it should */
    assert_int_equal(count(w, PLAN_REMOVE, NULL, 0, n1), 1);
    assert_int_equal(count(w, PLAN_CREATE_NEXT, s, 1, NULL), 1); /* the right one next */
}

/* stop-first: the old container goes, then the new one is made. */
static void test_stop_first_replaces(void **state)
{
    world *w = *state;
    plan_spec *s = add_spec(w, "dummy", "nginx",
                            "{\"image\":\"x\",\"scale\":%d,\"update\":{\"order\":\"stop-first\"}}", 1);
    plan_container *c = add_container(w, "dummy", "nginx", 0, NULL, "0123456789abcdef", PLAN_RUNNING);
    want_revision(w, s, s->m.hash);
    plan(w);
    assert_int_equal(w->nacts, 1);
    assert_int_equal(count(w, PLAN_REPLACE, s, 0, c), 1);
}

/* A next container of an instance moved to another host goes with it. */
static void test_next_container_not_placed_here_goes(void **state)
{
    world *w = *state;
    plan_spec *s = add_spec(w, "dummy", "nginx", NGINX, 1);
    plan_container *nx = add_next(w, "dummy", "nginx", 0, s->m.hash, PLAN_RUNNING, true);
    s->here[0] = false;
    plan(w);
    assert_int_equal(w->nacts, 1);
    assert_int_equal(count(w, PLAN_REMOVE, NULL, 0, nx), 1);
}

static void test_stopped_container_is_started(void **state)
{
    world *w = *state;
    plan_spec *s = add_spec(w, "dummy", "nginx", NGINX, 1);
    plan_container *c = add_container(w, "dummy", "nginx", 0, NULL, s->m.hash, PLAN_STOPPED);
    plan(w);
    assert_int_equal(w->nacts, 1);
    assert_int_equal(count(w, PLAN_START, s, 0, c), 1);
}

static void test_running_or_restarting_container_is_left_alone(void **state)
{
    world *w = *state;
    plan_spec *s = add_spec(w, "dummy", "nginx", NGINX, 2);
    add_container(w, "dummy", "nginx", 0, NULL, s->m.hash, PLAN_RUNNING);
    add_container(w, "dummy", "nginx", 1, NULL, s->m.hash, PLAN_RESTARTING);
    plan(w);
    assert_int_equal(w->nacts, 0);
}

static void test_invalid_manifest_keeps_containers_and_creates_nothing(void **state)
{
    world *w = *state;
    plan_spec *s = add_spec(w, "dummy", "nginx", "{\"image\":\"x\",\"scal\":%d}", 3);
    assert_false(s->valid);
    assert_non_null(strstr(s->error, "unknown field \"scal\""));
    add_container(w, "dummy", "nginx", 0, NULL, "0123456789abcdef", PLAN_STOPPED);
    add_container(w, "dummy", "nginx", 5, NULL, "0123456789abcdef", PLAN_RUNNING);
    plan(w);
    assert_int_equal(w->nacts, 0);
}

static void test_stray_container_with_wrong_name_is_removed(void **state)
{
    world *w = *state;
    plan_spec *s = add_spec(w, "dummy", "nginx", NGINX, 1);
    plan_container *foo = add_container(w, "dummy", "nginx", 0, "foo", s->m.hash, PLAN_RUNNING);
    plan(w);
    assert_int_equal(w->nacts, 2);
    assert_int_equal(w->acts[0].verb, PLAN_REMOVE);
    assert_ptr_equal(w->acts[0].container, foo);
    assert_int_equal(count(w, PLAN_CREATE, s, 0, NULL), 1);
}

static void test_negative_instance_is_removed(void **state)
{
    world *w = *state;
    plan_spec *s = add_spec(w, "dummy", "nginx", NGINX, 1);
    add_container(w, "dummy", "nginx", 0, NULL, s->m.hash, PLAN_RUNNING);
    plan_container *bad = add_container(w, "dummy", "nginx", -1, NULL, s->m.hash, PLAN_RUNNING);
    plan(w);
    assert_int_equal(w->nacts, 1);
    assert_int_equal(count(w, PLAN_REMOVE, NULL, 0, bad), 1);
}

static void test_scale_zero_removes_every_instance(void **state)
{
    world *w = *state;
    plan_spec *s = add_spec(w, "dummy", "nginx", NGINX, 0);
    assert_true(s->valid);
    plan_container *c0 = add_container(w, "dummy", "nginx", 0, NULL, s->m.hash, PLAN_RUNNING);
    plan_container *c1 = add_container(w, "dummy", "nginx", 1, NULL, s->m.hash, PLAN_STOPPED);
    plan(w);
    assert_int_equal(w->nacts, 2);
    assert_int_equal(count(w, PLAN_REMOVE, NULL, 0, c0), 1);
    assert_int_equal(count(w, PLAN_REMOVE, NULL, 0, c1), 1);
}

static void test_apps_are_planned_independently(void **state)
{
    world *w = *state;
    /* The same name in two apps: each app's containers follow only its own manifest. */
    plan_spec *one = add_spec(w, "one", "nginx", NGINX, 2);
    plan_spec *two = add_spec(w, "two", "nginx", NGINX, 1);
    add_container(w, "one", "nginx", 0, NULL, one->m.hash, PLAN_RUNNING);
    plan_container *t0 = add_container(w, "two", "nginx", 0, NULL, two->m.hash, PLAN_STOPPED);
    plan_container *t1 = add_container(w, "two", "nginx", 1, NULL, two->m.hash, PLAN_RUNNING);
    plan(w);
    assert_int_equal(w->nacts, 3);
    assert_int_equal(count(w, PLAN_REMOVE, NULL, 0, t1), 1);
    assert_int_equal(count(w, PLAN_CREATE, one, 1, NULL), 1);
    assert_int_equal(count(w, PLAN_START, two, 0, t0), 1);
}

static void test_find_spec_and_container(void **state)
{
    world *w = *state;
    plan_spec *s = add_spec(w, "dummy", "nginx", NGINX, 1);
    plan_container *c = add_container(w, "dummy", "nginx", 1, NULL, s->m.hash, PLAN_RUNNING);
    assert_ptr_equal(plan_find_spec(w->specs, w->nspecs, "dummy", "nginx"), s);
    assert_null(plan_find_spec(w->specs, w->nspecs, "dummy", "crawler"));
    assert_null(plan_find_spec(w->specs, w->nspecs, "other", "nginx"));
    assert_ptr_equal(plan_find_container(w->cs, w->ncs, "dummy---nginx---1"), c);
    assert_null(plan_find_container(w->cs, w->ncs, "dummy---nginx"));
}

static void test_instance_placed_elsewhere_is_not_created(void **state)
{
    world *w = *state;
    plan_spec *s = add_spec(w, "dummy", "nginx", NGINX, 3);
    s->here[1] = false;
    plan(w);
    assert_int_equal(w->nacts, 2);
    assert_int_equal(count(w, PLAN_CREATE, s, 0, NULL), 1);
    assert_int_equal(count(w, PLAN_CREATE, s, 1, NULL), 0);
    assert_int_equal(count(w, PLAN_CREATE, s, 2, NULL), 1);
}

static void test_instance_moved_to_another_host_is_removed_here(void **state)
{
    world *w = *state;
    plan_spec *s = add_spec(w, "dummy", "nginx", NGINX, 2);
    add_container(w, "dummy", "nginx", 0, NULL, s->m.hash, PLAN_RUNNING);
    plan_container *moved = add_container(w, "dummy", "nginx", 1, NULL, s->m.hash, PLAN_RUNNING);
    s->here[1] = false;
    plan(w);
    assert_int_equal(w->nacts, 1);
    assert_int_equal(count(w, PLAN_REMOVE, NULL, 0, moved), 1);
}

static void test_nothing_placed_here_runs_nothing(void **state)
{
    world *w = *state;
    plan_spec *s = add_spec(w, "dummy", "nginx", NGINX, 2);
    s->here = NULL;
    plan(w);
    assert_int_equal(w->nacts, 0);
}

static void test_draining_instance_keeps_its_container_until_handed_off(void **state)
{
    world *w = *state;
    bool draining[2] = {false, true};
    plan_spec *s = add_spec(w, "dummy", "nginx", NGINX, 2);
    add_container(w, "dummy", "nginx", 1, NULL, s->m.hash, PLAN_RUNNING);
    s->here[1] = false;  /* placed on another host now ... */
    s->draining = draining; /* ... which does not run it yet */
    plan(w);
    assert_int_equal(w->nacts, 1); /* only instance 0's create */
    assert_int_equal(count(w, PLAN_CREATE, s, 0, NULL), 1);
    draining[1] = false; /* the handoff is over */
    free(w->acts);
    plan(w);
    assert_int_equal(count(w, PLAN_REMOVE, NULL, 0, &w->cs[0]), 1);
}

/* The conductor keeps a failure only while what it is about is here or placed
 * here (issue 12, defect 15: the set used to keep every failure forever). */
static void test_failures_are_current_only_for_what_is_here_or_placed_here(void **state)
{
    world *w = *state;
    char key[256];
    plan_spec *s = add_spec(w, "dummy", "nginx", NGINX, 2);
    s->here[1] = false;
    want_revision(w, s, "00000000000000aa");
    add_container(w, "stray", "web", 0, NULL, "0000000000000000", PLAN_STOPPED);
    assert_true(plan_failure_current(w->specs, w->nspecs, w->cs, w->ncs, "dummy---nginx"));
    assert_false(plan_failure_current(w->specs, w->nspecs, w->cs, w->ncs, "dummy---nginx---1"));
    assert_true(plan_failure_current(w->specs, w->nspecs, w->cs, w->ncs, "stray---web"));
    plan_failure_key(key, sizeof key, "dummy", "nginx", 0, s->m.hash);
    assert_true(plan_failure_current(w->specs, w->nspecs, w->cs, w->ncs, key));
    plan_failure_key(key, sizeof key, "dummy", "nginx", 0, "00000000000000aa");
    assert_true(plan_failure_current(w->specs, w->nspecs, w->cs, w->ncs, key));
    plan_failure_key(key, sizeof key, "dummy", "nginx", 0, "00000000000000bb"); /* superseded */
    assert_false(plan_failure_current(w->specs, w->nspecs, w->cs, w->ncs, key));
    plan_failure_key(key, sizeof key, "dummy", "nginx", 1, s->m.hash); /* placed elsewhere */
    assert_false(plan_failure_current(w->specs, w->nspecs, w->cs, w->ncs, key));
    assert_false(plan_failure_current(w->specs, w->nspecs, w->cs, w->ncs, "gone---app")); /* deleted */
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_instance_placed_elsewhere_is_not_created),
        T(test_instance_moved_to_another_host_is_removed_here),
        T(test_nothing_placed_here_runs_nothing),
        T(test_draining_instance_keeps_its_container_until_handed_off),
        T(test_empty_input_plans_nothing),
        T(test_new_manifest_creates_instance_zero),
        T(test_scale_up_creates_missing_instances_with_their_names),
        T(test_scale_down_removes_highest_instances),
        T(test_removals_come_before_other_actions),
        T(test_deleted_manifest_removes_all_its_containers),
        T(test_placement_without_revision_keeps_what_runs),
        T(test_new_revision_starts_beside_the_old_one),
        T(test_next_container_that_is_not_ready_waits),
        T(test_ready_next_container_is_promoted),
        T(test_next_container_of_another_revision_goes),
        T(test_stop_first_replaces),
        T(test_next_container_not_placed_here_goes),
        T(test_stopped_container_is_started),
        T(test_running_or_restarting_container_is_left_alone),
        T(test_invalid_manifest_keeps_containers_and_creates_nothing),
        T(test_stray_container_with_wrong_name_is_removed),
        T(test_negative_instance_is_removed),
        T(test_scale_zero_removes_every_instance),
        T(test_apps_are_planned_independently),
        T(test_find_spec_and_container),
        T(test_failures_are_current_only_for_what_is_here_or_placed_here),
    };
    return cmocka_run_group_tests_name("plan", tests, NULL, NULL) ? 1 : 0;
}
