/* test_census.c - instances per host (lib/census.c), as the builder's hosts view
 * and `dokkaacfg rebalance` count them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dokkaa/census.h"

#define KV(k, v) {.key = (char *)(k), .value = (char *)(v), .value_len = sizeof(v) - 1}

static void test_counts(void **state)
{
    (void)state;
    etcd_kv hosts[] = {KV("/hosts/h1", "{\"addr\":\"10.0.0.1\"}"),
                       KV("/hosts/h2", "{\"addr\":\"10.0.0.2\"}"),
                       KV("/hosts/bad/x", "{}")};
    etcd_kv apps[] = {
        KV("/apps/a/web/instances/0", "{\"host\":\"h1\"}"),
        KV("/apps/a/web/instances/1", "{\"host\":\"h2\",\"from\":\"h1\",\"since\":1}"),
        KV("/apps/a/web/instances/01", "{\"host\":\"h2\"}"),   /* not canonical: not counted */
        KV("/apps/a/web/instances/2", "{\"host\":\"h9\"}"),    /* a host that left */
        KV("/apps/a/web/instances/3", "not json"),
        KV("/apps/a/web/manifest", "{\"image\":\"x\"}"),
    };
    etcd_kv statuses[] = {
        KV("/status/a/web/0", "{\"host\":\"h1\",\"container\":\"a---web\",\"state\":\"running\"}"),
        KV("/status/a/web/1", "{\"host\":\"h2\",\"container\":\"a---web---1\",\"state\":\"created\"}"),
        KV("/status/a/web/4", "{\"host\":\"h7\",\"container\":\"a---web---4\",\"state\":\"running\"}"),
        KV("/status/a/web/5", "{\"host\":\"h1\",\"state\":\"running\"}"), /* no container */
    };
    census c;
    err_t err;
    assert_int_equal(census_count(&c, hosts, 3, apps, 6, statuses, 4, &err), 0);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.hosts[0].id, "h1");
    assert_true(c.hosts[0].live);
    assert_int_equal(c.hosts[0].placed, 1);
    assert_int_equal(c.hosts[0].running, 1);
    assert_string_equal(c.hosts[1].id, "h2");
    assert_int_equal(c.hosts[1].placed, 1);
    assert_int_equal(c.hosts[1].running, 0);
    assert_string_equal(c.hosts[2].id, "h9");
    assert_false(c.hosts[2].live);
    assert_int_equal(c.hosts[2].placed, 1);
    assert_int_equal(c.moving, 1);
    assert_null(census_find(&c, "h7"));
    census_free(&c);

    assert_int_equal(census_count(&c, NULL, 0, NULL, 0, NULL, 0, &err), 0);
    assert_int_equal(c.n, 0);
    census_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_counts)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
