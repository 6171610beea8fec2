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

#include "dokkaa/keys.h"
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

/* ---- cost and records (issue 12, defect 15) ---------------------------------- */

static int64_t ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 200 manifests of 100 instances on 100 hosts, half of each placed already: a pass
 * places the other 10,000. It was O(N²·H) (minutes); it is O(N log N + N·H). */
static void test_a_pass_over_20000_instances_takes_well_under_a_second(void **state)
{
    (void)state;
    enum { SPECS = 200, SCALE = 100, HOSTS = 100 };
    plan_spec *specs = calloc(SPECS, sizeof *specs);
    sched_placement *ps = calloc(SPECS * SCALE, sizeof *ps), *changes = NULL;
    char(*hosts)[64] = calloc(HOSTS, sizeof *hosts);
    size_t nps = 0, nchanges = 0, load[HOSTS] = {0};
    assert_non_null(specs);
    assert_non_null(ps);
    assert_non_null(hosts);
    for (int h = 0; h < HOSTS; h++)
        snprintf(hosts[h], 64, "host-%03d", h);
    for (int s = 0; s < SPECS; s++) {
        char name[32];
        snprintf(name, sizeof name, "svc%d", s);
        spec_fixture(&specs[s], "big", name, WEB, SCALE);
        assert_true(specs[s].valid);
        for (int i = 0; i < SCALE / 2; i++, nps++) {
            snprintf(ps[nps].app, sizeof ps[nps].app, "big");
            snprintf(ps[nps].name, sizeof ps[nps].name, "%s", name);
            snprintf(ps[nps].host, sizeof ps[nps].host, "%s", hosts[(s * 50 + i) % HOSTS]);
            ps[nps].instance = i;
        }
    }
    int64_t start = ms_now();
    assert_int_equal(sched_make(specs, SPECS, ps, nps, hosts, HOSTS, &changes, &nchanges), 0);
    int64_t took = ms_now() - start;
    print_message("%zu placements decided in %lld ms\n", nchanges, (long long)took);
    for (size_t i = 0; i < nps; i++)
        load[atoi(ps[i].host + 5)]++;
    for (size_t c = 0; c < nchanges; c++)
        load[atoi(changes[c].host + 5)]++;
    for (int s = 0; s < SPECS; s++)
        manifest_free(&specs[s].m);
    free(specs);
    free(ps);
    free(hosts);
    free(changes);
    assert_int_equal(nchanges, SPECS * SCALE / 2);
    for (int h = 0; h < HOSTS; h++)
        assert_int_equal(load[h], SPECS * SCALE / HOSTS); /* evened out exactly */
    assert_true(took < 1000);
}

/* A placement on hosts with the longest ids there are (63 characters) is written
 * whole and reads back the same (a 160-byte buffer once cut it, and the JSON with
 * it); a host id that would break the record is no host id. */
static void test_placements_on_63_character_host_ids_read_back_whole(void **state)
{
    world *w = *state;
    char longest[64], other[64];
    memset(longest, 'h', 63), longest[63] = '\0';
    memset(other, 'o', 63), other[63] = '\0';
    host(w, longest);
    spec(w, "a", "web", WEB, 1);
    placed(w, "a", "web", 0, "gone");
    decide(w);
    assert_int_equal(w->nchanges, 1);
    assert_string_equal(w->changes[0].host, longest);
    keys_placement p = {.since = 1764700000, .changed = 1764700001}, back;
    snprintf(p.host, sizeof p.host, "%s", w->changes[0].host);
    snprintf(p.from, sizeof p.from, "%s", other);
    snprintf(p.hash, sizeof p.hash, "%s", w->changes[0].hash);
    char *json = keys_placement_encode(&p);
    err_t err;
    assert_non_null(json);
    assert_int_equal(keys_placement_decode(json, strlen(json), &back, &err), 0);
    free(json);
    assert_memory_equal(&p, &back, sizeof p);
    assert_int_equal(keys_check_host("h\"1", NULL), -1);
    assert_int_equal(keys_check_host("h1/x", NULL), -1);
    assert_int_equal(keys_placement_decode("{\"host\":\"h\\\"1\"}", 15, &back, NULL), -1);
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
        T(test_a_pass_over_20000_instances_takes_well_under_a_second),
        T(test_placements_on_63_character_host_ids_read_back_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
