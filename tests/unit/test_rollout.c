/* test_rollout.c - unit tests for the scheduler's rollouts (src/conductor/rollout.c):
 * given a manifest, its rollout record, placements and statuses, what the next
 * step is (the rules are in rollout.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rollout.h"
#include "spec_fixture.h"

#define OLD "0123456789abcdef"
#define NOW 1000000L
#define WEB "{\"image\":\"x\",\"scale\":%d,\"services\":{\"web\":80}}"

typedef struct world {
    plan_spec spec;
    keys_rollout rec;
    sched_placement ps[16];
    keys_status st[16];
    size_t n;
    rollout_step step;
} world;

static int setup(void **state)
{
    *state = calloc(1, sizeof(world));
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    world *w = *state;
    manifest_free(&w->spec.m);
    free(w->step.changes);
    free(w);
    return 0;
}

/* A manifest of scale instances, all placed on h1 running OLD, healthy; the record
 * says revision 1 (OLD) rolled out, and the manifest is now revision 2. */
static void world_make(world *w, const char *fmt, int scale)
{
    spec_fixture(&w->spec, "a", "web", fmt, scale);
    assert_true(w->spec.valid);
    w->rec = (keys_rollout){.revision = 2, .state = KEYS_OUTCOME_ROLLING, .total = scale,
                            .since = NOW - 5};
    snprintf(w->rec.hash, sizeof w->rec.hash, "%s", w->spec.m.hash);
    snprintf(w->rec.stable, sizeof w->rec.stable, "%s", OLD);
    for (int i = 0; i < scale; i++) {
        sched_placement *p = &w->ps[w->n];
        keys_status *s = &w->st[w->n++];
        *p = (sched_placement){.instance = i};
        strcpy(p->app, "a");
        strcpy(p->name, "web");
        strcpy(p->host, "h1");
        strcpy(p->hash, OLD);
        *s = (keys_status){.state = KEYS_STATE_RUNNING, .health = KEYS_HEALTH_HEALTHY};
        strcpy(s->host, "h1");
        strcpy(s->hash, OLD);
        names_container(s->container, sizeof s->container, "a", "web", i);
    }
}

/* Instance i runs revision hash: healthy under its own name (updated), or its next
 * container is in state/health. */
static void world_runs(world *w, int i, const char *hash, enum keys_state state,
                       enum keys_health health, bool next)
{
    strcpy(w->ps[i].hash, hash);
    w->ps[i].changed = NOW - 1;
    strcpy(w->st[i].hash, hash);
    w->st[i].state = state;
    w->st[i].health = health;
    if (next)
        names_next(w->st[i].container, sizeof w->st[i].container, "a", "web", i);
}

static void step(world *w)
{
    free(w->step.changes);
    assert_int_equal(rollout_decide(&w->spec, &w->rec, w->ps, w->st, w->n, NOW, &w->step), 0);
}

static void test_first_revision_without_record(void **state)
{
    world *w = *state;
    world_make(w, WEB, 2);
    free(w->step.changes);
    assert_int_equal(rollout_decide(&w->spec, NULL, w->ps, w->st, w->n, NOW, &w->step), 0);
    assert_true(w->step.new_revision && w->step.write);
    assert_int_equal(w->step.rec.revision, 1);
    assert_string_equal(w->step.rec.hash, w->spec.m.hash);
    assert_string_equal(w->step.rec.stable, "");
    assert_int_equal(w->step.rec.state, KEYS_OUTCOME_ROLLING);
}

static void test_new_revision_starts_from_the_stable_one(void **state)
{
    world *w = *state;
    world_make(w, WEB, 2);
    strcpy(w->rec.hash, OLD);
    w->rec.state = KEYS_OUTCOME_ROLLED_OUT;
    w->rec.revision = 1;
    step(w);
    assert_true(w->step.new_revision);
    assert_int_equal(w->step.rec.revision, 2);
    assert_string_equal(w->step.rec.stable, OLD);
    assert_int_equal(w->step.ended, 0);
    assert_int_equal(w->step.nchanges, 0); /* batches begin next step */
}

static void test_new_revision_supersedes_a_rolling_one(void **state)
{
    world *w = *state;
    world_make(w, WEB, 2);
    strcpy(w->rec.hash, "fedcba9876543210");
    step(w);
    assert_int_equal(w->step.ended, 2);
    assert_int_equal(w->step.outcome, KEYS_OUTCOME_SUPERSEDED);
    assert_string_equal(w->step.rec.stable, OLD); /* still the last healthy one */
}

static void test_batches_of_parallel(void **state)
{
    world *w = *state;
    world_make(w, "{\"image\":\"x\",\"scale\":%d,\"update\":{\"parallel\":2}}", 5);
    step(w);
    assert_int_equal(w->step.nchanges, 2);
    assert_int_equal(w->step.changes[0].instance, 0);
    assert_int_equal(w->step.changes[1].instance, 1);
    assert_string_equal(w->step.changes[0].hash, w->spec.m.hash);
    assert_int_equal(w->step.changes[0].changed, NOW);
    /* 0 is updated, 1 still starting: one more may go */
    world_runs(w, 0, w->spec.m.hash, KEYS_STATE_RUNNING, KEYS_HEALTH_HEALTHY, false);
    world_runs(w, 1, w->spec.m.hash, KEYS_STATE_RUNNING, KEYS_HEALTH_STARTING, true);
    step(w);
    assert_int_equal(w->step.nchanges, 1);
    assert_int_equal(w->step.changes[0].instance, 2);
    assert_int_equal(w->step.rec.updated, 1);
    assert_int_equal(w->step.rec.failed, 0);
    assert_true(w->step.write); /* the counts changed */
}

/* Ready but not promoted yet (still its next container) is not updated. */
static void test_next_container_is_not_updated_yet(void **state)
{
    world *w = *state;
    world_make(w, WEB, 1);
    world_runs(w, 0, w->spec.m.hash, KEYS_STATE_RUNNING, KEYS_HEALTH_HEALTHY, true);
    step(w);
    assert_int_equal(w->step.rec.updated, 0);
    assert_int_equal(w->step.rec.state, KEYS_OUTCOME_ROLLING);
}

static void test_all_updated_rolls_out(void **state)
{
    world *w = *state;
    world_make(w, WEB, 2);
    world_runs(w, 0, w->spec.m.hash, KEYS_STATE_RUNNING, KEYS_HEALTH_HEALTHY, false);
    world_runs(w, 1, w->spec.m.hash, KEYS_STATE_RUNNING, KEYS_HEALTH_NONE, false);
    step(w);
    assert_int_equal(w->step.rec.state, KEYS_OUTCOME_ROLLED_OUT);
    assert_string_equal(w->step.rec.stable, w->spec.m.hash);
    assert_int_equal(w->step.ended, 2);
    assert_int_equal(w->step.outcome, KEYS_OUTCOME_ROLLED_OUT);
    assert_int_equal(w->step.rec.updated, 2);
}

static void test_exited_next_container_rolls_back(void **state)
{
    world *w = *state;
    world_make(w, WEB, 3);
    world_runs(w, 0, w->spec.m.hash, KEYS_STATE_EXITED, KEYS_HEALTH_NONE, true);
    step(w);
    assert_true(w->step.rollback);
    assert_int_equal(w->step.outcome, KEYS_OUTCOME_ROLLED_BACK);
    assert_int_equal(w->step.ended, 2);
    assert_int_equal(w->step.nchanges, 0); /* nothing more moves to the failed revision */
    assert_non_null(strstr(w->step.rec.reason, "instance 0 on h1: exited"));
}

static void test_failed_create_says_why(void **state)
{
    world *w = *state;
    world_make(w, WEB, 1);
    world_runs(w, 0, w->spec.m.hash, KEYS_STATE_FAILED, KEYS_HEALTH_NONE, true);
    strcpy(w->st[0].error, "image not found");
    step(w);
    assert_true(w->step.rollback);
    assert_non_null(strstr(w->step.rec.reason, "failed: image not found"));
}

static void test_deadline_fails(void **state)
{
    world *w = *state;
    world_make(w, "{\"image\":\"x\",\"scale\":%d,\"update\":{\"deadline\":10}}", 2);
    world_runs(w, 0, w->spec.m.hash, KEYS_STATE_RUNNING, KEYS_HEALTH_STARTING, true);
    w->ps[0].changed = NOW - 10;
    step(w);
    assert_false(w->step.rollback); /* 10 s: not yet */
    w->ps[0].changed = NOW - 11;
    step(w);
    assert_true(w->step.rollback);
    assert_non_null(strstr(w->step.rec.reason, "not healthy within 10 s (starting)"));
}

/* A status from another host (the instance's old one) says nothing. */
static void test_stale_status_of_another_host_is_ignored(void **state)
{
    world *w = *state;
    world_make(w, WEB, 1);
    world_runs(w, 0, w->spec.m.hash, KEYS_STATE_EXITED, KEYS_HEALTH_NONE, true);
    strcpy(w->st[0].host, "h2");
    step(w);
    assert_false(w->step.rollback);
    assert_int_equal(w->step.rec.state, KEYS_OUTCOME_ROLLING);
}

static void test_pause(void **state)
{
    world *w = *state;
    world_make(w, "{\"image\":\"x\",\"scale\":%d,\"update\":{\"on_failure\":\"pause\"}}", 2);
    world_runs(w, 0, w->spec.m.hash, KEYS_STATE_EXITED, KEYS_HEALTH_NONE, true);
    step(w);
    assert_false(w->step.rollback);
    assert_int_equal(w->step.rec.state, KEYS_OUTCOME_PAUSED);
    assert_int_equal(w->step.outcome, KEYS_OUTCOME_PAUSED);
    /* paused: no step moves anything more */
    w->rec = w->step.rec;
    step(w);
    assert_int_equal(w->step.nchanges, 0);
    assert_int_equal(w->step.rec.state, KEYS_OUTCOME_PAUSED);
}

static void test_nothing_to_go_back_to_fails(void **state)
{
    world *w = *state;
    world_make(w, WEB, 1);
    w->rec.stable[0] = '\0';
    world_runs(w, 0, w->spec.m.hash, KEYS_STATE_EXITED, KEYS_HEALTH_NONE, false);
    step(w);
    assert_false(w->step.rollback);
    assert_int_equal(w->step.rec.state, KEYS_OUTCOME_FAILED);
}

/* An automatic rollback moves every instance at once, and is never rolled back. */
static void test_rollback_goes_all_at_once_and_pauses_on_failure(void **state)
{
    world *w = *state;
    world_make(w, WEB, 4);
    w->rec.rollback = true;
    step(w);
    assert_int_equal(w->step.nchanges, 4);
    world_runs(w, 0, w->spec.m.hash, KEYS_STATE_EXITED, KEYS_HEALTH_NONE, true);
    step(w);
    assert_false(w->step.rollback);
    assert_int_equal(w->step.rec.state, KEYS_OUTCOME_PAUSED);
    assert_non_null(strstr(w->step.rec.reason, "the rollback failed too"));
}

static void test_percent_batch(void **state)
{
    world *w = *state;
    world_make(w, "{\"image\":\"x\",\"scale\":%d,\"update\":{\"parallel\":\"50%%\"}}", 5);
    step(w);
    assert_int_equal(w->step.nchanges, 3);
}

/* A settled rollout writes nothing. */
static void test_quiet_rollout_writes_nothing(void **state)
{
    world *w = *state;
    world_make(w, WEB, 2);
    world_runs(w, 0, w->spec.m.hash, KEYS_STATE_RUNNING, KEYS_HEALTH_HEALTHY, false);
    world_runs(w, 1, w->spec.m.hash, KEYS_STATE_RUNNING, KEYS_HEALTH_HEALTHY, false);
    step(w);
    w->rec = w->step.rec;
    step(w);
    assert_false(w->step.write);
    assert_int_equal(w->step.nchanges, 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_first_revision_without_record),
        T(test_new_revision_starts_from_the_stable_one),
        T(test_new_revision_supersedes_a_rolling_one),
        T(test_batches_of_parallel),
        T(test_next_container_is_not_updated_yet),
        T(test_all_updated_rolls_out),
        T(test_exited_next_container_rolls_back),
        T(test_failed_create_says_why),
        T(test_deadline_fails),
        T(test_stale_status_of_another_host_is_ignored),
        T(test_pause),
        T(test_nothing_to_go_back_to_fails),
        T(test_rollback_goes_all_at_once_and_pauses_on_failure),
        T(test_percent_batch),
        T(test_quiet_rollout_writes_nothing),
    };
    return cmocka_run_group_tests_name("rollout", tests, NULL, NULL) ? 1 : 0;
}
