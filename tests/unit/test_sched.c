/* test_sched.c - the scheduler's decisions (src/conductor/sched.c): spread, least
 * loaded, no moves without cause, healing of dead hosts, cleanup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "sched.h"
#include "spec_fixture.h"

#define WEB "{\"image\":\"dockerfile/nginx\",\"scale\":%d}"

typedef struct world {
    plan_spec specs[4];
    size_t nspecs;
    sched_placement ps[64];
    size_t nps;
    char hosts[8][64];
    size_t nhosts;
    sched_placement *changes;
    size_t nchanges;
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
    free(w->changes);
    free(w);
    return 0;
}

static plan_spec *spec(world *w, const char *app, const char *name, const char *fmt, int scale)
{
    plan_spec *s = &w->specs[w->nspecs++];
    spec_fixture(s, app, name, fmt, scale);
    return s;
}

static void host(world *w, const char *id)
{
    snprintf(w->hosts[w->nhosts++], 64, "%s", id);
}

static void placed(world *w, const char *app, const char *name, int i, const char *h)
{
    sched_placement *p = &w->ps[w->nps++];
    snprintf(p->app, sizeof p->app, "%s", app);
    snprintf(p->name, sizeof p->name, "%s", name);
    snprintf(p->host, sizeof p->host, "%s", h);
    p->instance = i;
}

static void decide(world *w)
{
    free(w->changes);
    assert_int_equal(sched_make(w->specs, w->nspecs, w->ps, w->nps, w->hosts, w->nhosts,
                                &w->changes, &w->nchanges), 0);
}

/* Apply the decided changes to the world, as etcd would hold them. */
static void apply(world *w)
{
    for (size_t c = 0; c < w->nchanges; c++) {
        const sched_placement *ch = &w->changes[c];
        size_t i = 0;
        while (i < w->nps && !(w->ps[i].instance == ch->instance &&
                               strcmp(w->ps[i].app, ch->app) == 0 &&
                               strcmp(w->ps[i].name, ch->name) == 0))
            i++;
        if (!*ch->host) {
            if (i < w->nps)
                w->ps[i] = w->ps[--w->nps];
        } else {
            if (i == w->nps)
                w->nps++;
            w->ps[i] = *ch;
        }
    }
}

static int on_host(const world *w, const char *app, const char *name, const char *h)
{
    int n = 0;
    for (size_t i = 0; i < w->nps; i++)
        n += strcmp(w->ps[i].host, h) == 0 && strcmp(w->ps[i].app, app) == 0 &&
             strcmp(w->ps[i].name, name) == 0;
    return n;
}

static const char *host_of(const world *w, const char *app, const char *name, int instance)
{
    for (size_t i = 0; i < w->nps; i++)
        if (w->ps[i].instance == instance && strcmp(w->ps[i].app, app) == 0 &&
            strcmp(w->ps[i].name, name) == 0)
            return w->ps[i].host;
    return NULL;
}

static void test_replicas_spread_over_hosts(void **state)
{
    world *w = *state;
    host(w, "h1"), host(w, "h2"), host(w, "h3");
    spec(w, "a", "web", WEB, 6);
    decide(w);
    assert_int_equal(w->nchanges, 6);
    apply(w);
    assert_int_equal(on_host(w, "a", "web", "h1"), 2);
    assert_int_equal(on_host(w, "a", "web", "h2"), 2);
    assert_int_equal(on_host(w, "a", "web", "h3"), 2);
}

static void test_new_manifest_goes_to_least_loaded_host(void **state)
{
    world *w = *state;
    host(w, "h1"), host(w, "h2");
    spec(w, "a", "web", WEB, 1);
    spec(w, "b", "db", WEB, 1);
    placed(w, "a", "web", 0, "h1");
    decide(w);
    assert_int_equal(w->nchanges, 1);
    assert_string_equal(w->changes[0].host, "h2");
}

static void test_placements_on_live_hosts_do_not_move(void **state)
{
    world *w = *state;
    host(w, "h1"), host(w, "h2"), host(w, "h3");
    spec(w, "a", "web", WEB, 3);
    placed(w, "a", "web", 0, "h1");
    placed(w, "a", "web", 1, "h1");
    placed(w, "a", "web", 2, "h1"); /* uneven, but nothing has died */
    decide(w);
    assert_int_equal(w->nchanges, 0);
}

static void test_instances_of_dead_host_move_to_live_ones(void **state)
{
    world *w = *state;
    host(w, "h1"), host(w, "h3");
    spec(w, "a", "web", WEB, 3);
    placed(w, "a", "web", 0, "h1");
    placed(w, "a", "web", 1, "h2"); /* h2 is gone */
    placed(w, "a", "web", 2, "h3");
    decide(w);
    assert_int_equal(w->nchanges, 1); /* one write: a txn may not touch a key twice */
    apply(w);
    assert_non_null(host_of(w, "a", "web", 1));
    assert_string_not_equal(host_of(w, "a", "web", 1), "h2");
    assert_string_equal(host_of(w, "a", "web", 0), "h1");
    assert_string_equal(host_of(w, "a", "web", 2), "h3");
}

/* A moved instance keeps the revision it had (a rollout may be under way); a new
 * one gets the manifest's; either's rollout deadline counts from its new start. */
static void test_moved_instance_keeps_its_revision_new_one_gets_the_manifests(void **state)
{
    world *w = *state;
    host(w, "h1");
    plan_spec *s = spec(w, "a", "web", WEB, 2);
    placed(w, "a", "web", 0, "h2"); /* h2 is gone */
    strcpy(w->ps[0].hash, "0123456789abcdef");
    w->ps[0].changed = 1;
    long before = (long)time(NULL);
    decide(w);
    assert_int_equal(w->nchanges, 2);
    for (size_t c = 0; c < 2; c++) {
        const sched_placement *ch = &w->changes[c];
        assert_string_equal(ch->hash, ch->instance == 0 ? "0123456789abcdef" : s->m.hash);
        assert_true(ch->changed >= before);
    }
}

static void test_scale_down_deletes_high_placements(void **state)
{
    world *w = *state;
    host(w, "h1");
    spec(w, "a", "web", WEB, 1);
    placed(w, "a", "web", 0, "h1");
    placed(w, "a", "web", 1, "h1");
    placed(w, "a", "web", 2, "h1");
    decide(w);
    assert_int_equal(w->nchanges, 2);
    apply(w);
    assert_int_equal(w->nps, 1);
    assert_int_equal(w->ps[0].instance, 0);
}

static void test_deleted_manifest_loses_its_placements(void **state)
{
    world *w = *state;
    host(w, "h1");
    placed(w, "gone", "web", 0, "h1");
    decide(w);
    assert_int_equal(w->nchanges, 1);
    assert_string_equal(w->changes[0].host, "");
}

static void test_invalid_manifest_keeps_its_placements(void **state)
{
    world *w = *state;
    host(w, "h1");
    spec(w, "a", "web", "{\"image\":\"x\",\"scale\":\"%d\"}", 2);
    placed(w, "a", "web", 0, "h1");
    placed(w, "a", "web", 1, "h9");
    decide(w);
    assert_int_equal(w->nchanges, 0);
}

static void test_no_live_host_places_nothing(void **state)
{
    world *w = *state;
    spec(w, "a", "web", WEB, 2);
    decide(w);
    assert_int_equal(w->nchanges, 0);
}

static void test_decisions_are_stable_once_applied(void **state)
{
    world *w = *state;
    host(w, "h1"), host(w, "h2"), host(w, "h3");
    spec(w, "a", "web", WEB, 5);
    spec(w, "a", "db", WEB, 2);
    decide(w);
    apply(w);
    decide(w);
    assert_int_equal(w->nchanges, 0);
}

static void rebalance(world *w)
{
    free(w->changes);
    assert_int_equal(sched_rebalance(w->ps, w->nps, w->hosts, w->nhosts, &w->changes,
                                     &w->nchanges), 0);
}

static void test_rebalance_evens_out_hosts_that_joined(void **state)
{
    world *w = *state;
    host(w, "h1"), host(w, "h2"), host(w, "h3");
    for (int i = 0; i < 6; i++)
        placed(w, "a", "web", i, "h1");
    rebalance(w);
    assert_int_equal(w->nchanges, 4);
    for (size_t c = 0; c < w->nchanges; c++)
        assert_string_equal(w->changes[c].from, "h1"); /* handoffs, not cold moves */
    apply(w);
    assert_int_equal(on_host(w, "a", "web", "h1"), 2);
    assert_int_equal(on_host(w, "a", "web", "h2"), 2);
    assert_int_equal(on_host(w, "a", "web", "h3"), 2);
}

static void test_rebalance_of_a_balanced_cluster_moves_nothing(void **state)
{
    world *w = *state;
    host(w, "h1"), host(w, "h2");
    placed(w, "a", "web", 0, "h1");
    placed(w, "a", "web", 1, "h2");
    placed(w, "a", "web", 2, "h2");
    rebalance(w);
    assert_int_equal(w->nchanges, 0);
}

static void test_rebalance_moves_what_spreads_best(void **state)
{
    world *w = *state;
    host(w, "h1"), host(w, "h2");
    placed(w, "a", "web", 0, "h1");
    placed(w, "a", "web", 1, "h2");
    placed(w, "b", "db", 0, "h1");
    placed(w, "b", "db", 1, "h1");
    rebalance(w);
    assert_int_equal(w->nchanges, 1);
    assert_string_equal(w->changes[0].app, "b"); /* h2 has a web already, no db */
    assert_string_equal(w->changes[0].host, "h2");
}

static void test_rebalance_leaves_handoffs_in_progress_alone(void **state)
{
    world *w = *state;
    host(w, "h1"), host(w, "h2");
    placed(w, "a", "web", 0, "h1");
    placed(w, "a", "web", 1, "h1");
    placed(w, "a", "web", 2, "h1");
    for (size_t i = 0; i < w->nps; i++)
        strcpy(w->ps[i].from, "h0");
    rebalance(w);
    assert_int_equal(w->nchanges, 0);
}

static void test_new_host_dying_in_a_handoff_gives_the_instance_back(void **state)
{
    world *w = *state;
    host(w, "h1"), host(w, "h3"); /* h2, the new host, died */
    spec(w, "a", "web", WEB, 1);
    placed(w, "a", "web", 0, "h2");
    strcpy(w->ps[0].from, "h1");
    decide(w);
    assert_int_equal(w->nchanges, 1);
    assert_string_equal(w->changes[0].host, "h1"); /* it still runs there */
    assert_string_equal(w->changes[0].from, "");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_replicas_spread_over_hosts),
        T(test_new_manifest_goes_to_least_loaded_host),
        T(test_placements_on_live_hosts_do_not_move),
        T(test_instances_of_dead_host_move_to_live_ones),
        T(test_moved_instance_keeps_its_revision_new_one_gets_the_manifests),
        T(test_scale_down_deletes_high_placements),
        T(test_deleted_manifest_loses_its_placements),
        T(test_invalid_manifest_keeps_its_placements),
        T(test_no_live_host_places_nothing),
        T(test_decisions_are_stable_once_applied),
        T(test_new_host_dying_in_a_handoff_gives_the_instance_back),
        T(test_rebalance_evens_out_hosts_that_joined),
        T(test_rebalance_of_a_balanced_cluster_moves_nothing),
        T(test_rebalance_moves_what_spreads_best),
        T(test_rebalance_leaves_handoffs_in_progress_alone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
