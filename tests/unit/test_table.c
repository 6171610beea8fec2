/* test_table.c - unit tests for the ambassador's routing table
 * (src/ambassador/table.c): building it from /links/ and /services/ key-values,
 * skipping and reporting malformed ones, and looking a link up by port. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "table.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define KV(k, v) {.key = (char *)(k), .value = (char *)(v), .value_len = sizeof(v) - 1}
#define KVS(a) {.kvs = (a), .n = ARRAY_LEN(a)}

static int warnings;

static void count_warning(const char *key, const char *msg)
{
    assert_non_null(key);
    assert_non_null(msg);
    warnings++;
}

static table build(etcd_kvs links, etcd_kvs services)
{
    table t;
    warnings = 0;
    assert_int_equal(table_build(&t, &links, &services, count_warning), 0);
    return t;
}

static void assert_backend(const table_backend *b, const char *addr, int port)
{
    assert_string_equal(b->addr, addr);
    assert_int_equal(b->port, port);
}

/* The seed's link and its three nginx instances, with neighbours that must not mix in. */
static etcd_kv seed_links[] = {
    KV("/links/dummy/nginx", "{\"port\": 20000}"),
};
static etcd_kv seed_services[] = {
    KV("/services/dummy/nginx/dummy---nginx", "{\"addr\": \"10.88.0.11\", \"port\": 32768}"),
    KV("/services/dummy/nginx/dummy---nginx---1", "{\"addr\": \"10.88.0.12\", \"port\": 32769}"),
    KV("/services/dummy/nginx/dummy---nginx---2", "{\"addr\": \"10.88.0.13\", \"port\": 32770}"),
    KV("/services/dummy/web/dummy---web", "{\"addr\": \"10.88.0.11\", \"port\": 32771}"),
    KV("/services/other/nginx/other---nginx", "{\"addr\": \"10.88.0.14\", \"port\": 32772}"),
};

static void test_link_gets_all_its_instances_in_key_order(void **state)
{
    (void)state;
    table t = build((etcd_kvs)KVS(seed_links), (etcd_kvs)KVS(seed_services));
    assert_int_equal(warnings, 0);
    assert_int_equal(t.n, 1);
    assert_string_equal(t.links[0].app, "dummy");
    assert_string_equal(t.links[0].service, "nginx");
    assert_int_equal(t.links[0].port, 20000);
    assert_int_equal(t.links[0].nbackends, 3);
    assert_backend(&t.links[0].backends[0], "10.88.0.11", 32768);
    assert_backend(&t.links[0].backends[1], "10.88.0.12", 32769);
    assert_backend(&t.links[0].backends[2], "10.88.0.13", 32770);
    table_free(&t);
    assert_null(t.links);
    assert_int_equal(t.n, 0);
}

static void test_link_without_instances_has_no_backends(void **state)
{
    (void)state;
    static etcd_kv links[] = {KV("/links/dummy/db", "{\"port\": 20001}")};
    table t = build((etcd_kvs)KVS(links), (etcd_kvs)KVS(seed_services));
    assert_int_equal(warnings, 0);
    assert_int_equal(t.n, 1);
    assert_string_equal(t.links[0].service, "db");
    assert_int_equal(t.links[0].port, 20001);
    assert_int_equal(t.links[0].nbackends, 0);
    table_free(&t);
}

static void test_other_apps_and_services_are_not_mixed_in(void **state)
{
    (void)state;
    static etcd_kv links[] = {
        KV("/links/dummy/nginx", "{\"port\": 20000}"),
        KV("/links/dummy/web", "{\"port\": 20002}"),
        KV("/links/other/nginx", "{\"port\": 20001}"),
    };
    table t = build((etcd_kvs)KVS(links), (etcd_kvs)KVS(seed_services));
    assert_int_equal(warnings, 0);
    assert_int_equal(t.n, 3);
    assert_int_equal(t.links[0].nbackends, 3);
    assert_string_equal(t.links[1].service, "web");
    assert_int_equal(t.links[1].nbackends, 1);
    assert_backend(&t.links[1].backends[0], "10.88.0.11", 32771);
    assert_string_equal(t.links[2].app, "other");
    assert_int_equal(t.links[2].nbackends, 1);
    assert_backend(&t.links[2].backends[0], "10.88.0.14", 32772);
    table_free(&t);
}

static void test_empty_mirrors_give_empty_table(void **state)
{
    (void)state;
    table t = build((etcd_kvs){0}, (etcd_kvs){0});
    assert_int_equal(t.n, 0);
    assert_null(table_by_port(&t, 20000));
    table_free(&t);
}

static void test_malformed_link_values_are_skipped_and_reported(void **state)
{
    (void)state;
    static etcd_kv links[] = {
        KV("/links/dummy/a", "not json"),
        KV("/links/dummy/b", "{\"port\": 0}"),
        KV("/links/dummy/c", "{\"port\": \"20000\"}"),
        KV("/links/dummy/nginx", "{\"port\": 20000}"),
        KV("/links/dummy/z", "{\"port\": 65536}"),
    };
    table t = build((etcd_kvs)KVS(links), (etcd_kvs)KVS(seed_services));
    assert_int_equal(warnings, 4);
    assert_int_equal(t.n, 1);
    assert_string_equal(t.links[0].service, "nginx");
    assert_int_equal(t.links[0].nbackends, 3);
    table_free(&t);
}

static void test_malformed_link_keys_are_skipped_and_reported(void **state)
{
    (void)state;
    static etcd_kv links[] = {
        KV("/links/dummy", "{\"port\": 20001}"),
        KV("/links/dummy/", "{\"port\": 20002}"),
        KV("/links//nginx", "{\"port\": 20003}"),
        KV("/links/dummy/nginx", "{\"port\": 20000}"),
        KV("/links/dummy/nginx/extra", "{\"port\": 20004}"),
        KV("/links/dummy/nginx/a/b", "{\"port\": 20005}"),
        KV("/links/dummy/" "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
           "{\"port\": 20006}"),
        KV("/other/dummy/nginx", "{\"port\": 20007}"),
    };
    table t = build((etcd_kvs)KVS(links), (etcd_kvs)KVS(seed_services));
    assert_int_equal(warnings, 7);
    assert_int_equal(t.n, 1);
    assert_int_equal(t.links[0].port, 20000);
    table_free(&t);
}

static void test_malformed_service_values_are_skipped_and_reported(void **state)
{
    (void)state;
    static etcd_kv services[] = {
        KV("/services/dummy/nginx/dummy---nginx", "{\"addr\": \"10.88.0.11\", \"port\": 32768}"),
        KV("/services/dummy/nginx/dummy---nginx---1", "{\"addr\": \"10.88.0.12\"}"),
        KV("/services/dummy/nginx/dummy---nginx---2", "{\"addr\": 7, \"port\": 32770}"),
        KV("/services/dummy/nginx/dummy---nginx---3", "{\"addr\": \"10.88.0.14\", \"port\": 0}"),
        KV("/services/dummy/nginx/dummy---nginx---4", "garbage"),
        KV("/services/dummy/nginx/dummy---nginx---5", "{\"addr\": \"10.88.0.15\", \"port\": 32771}"),
    };
    table t = build((etcd_kvs)KVS(seed_links), (etcd_kvs)KVS(services));
    assert_int_equal(warnings, 4);
    assert_int_equal(t.n, 1);
    assert_int_equal(t.links[0].nbackends, 2);
    assert_backend(&t.links[0].backends[0], "10.88.0.11", 32768);
    assert_backend(&t.links[0].backends[1], "10.88.0.15", 32771);
    table_free(&t);
}

/* table.h: "A malformed key or value is skipped and reported through warn". */
static void test_malformed_service_keys_are_skipped_and_reported(void **state)
{
    (void)state;
    static etcd_kv services[] = {
        KV("/services/dummy/nginx", "{\"addr\": \"10.88.0.12\", \"port\": 32769}"),
        KV("/services/dummy/nginx/", "{\"addr\": \"10.88.0.13\", \"port\": 32770}"),
        KV("/services/dummy/nginx/dummy---nginx", "{\"addr\": \"10.88.0.11\", \"port\": 32768}"),
        KV("/services/dummy/nginx/dummy---nginx/x", "{\"addr\": \"10.88.0.14\", \"port\": 32771}"),
    };
    table t = build((etcd_kvs)KVS(seed_links), (etcd_kvs)KVS(services));
    assert_int_equal(t.n, 1);
    assert_int_equal(t.links[0].nbackends, 1);
    assert_backend(&t.links[0].backends[0], "10.88.0.11", 32768);
    table_free(&t);
    assert_int_equal(warnings, 3);
}

static void test_warn_may_be_null(void **state)
{
    (void)state;
    static etcd_kv links[] = {KV("/links/dummy", "x"), KV("/links/dummy/nginx", "{\"port\": 20000}")};
    static etcd_kv services[] = {KV("/services/dummy/nginx/dummy---nginx", "x")};
    etcd_kvs l = KVS(links), s = KVS(services);
    table t;
    assert_int_equal(table_build(&t, &l, &s, NULL), 0);
    assert_int_equal(t.n, 1);
    assert_int_equal(t.links[0].nbackends, 0);
    table_free(&t);
}

static void test_by_port_finds_the_link_listening_there(void **state)
{
    (void)state;
    static etcd_kv links[] = {
        KV("/links/dummy/nginx", "{\"port\": 20000}"),
        KV("/links/other/nginx", "{\"port\": 20001}"),
    };
    table t = build((etcd_kvs)KVS(links), (etcd_kvs)KVS(seed_services));
    const table_link *l = table_by_port(&t, 20001);
    assert_non_null(l);
    assert_string_equal(l->app, "other");
    assert_string_equal(l->service, "nginx");
    l = table_by_port(&t, 20000);
    assert_non_null(l);
    assert_string_equal(l->app, "dummy");
    assert_null(table_by_port(&t, 20002));
    assert_null(table_by_port(&t, 0));
    table_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_link_gets_all_its_instances_in_key_order),
        cmocka_unit_test(test_link_without_instances_has_no_backends),
        cmocka_unit_test(test_other_apps_and_services_are_not_mixed_in),
        cmocka_unit_test(test_empty_mirrors_give_empty_table),
        cmocka_unit_test(test_malformed_link_values_are_skipped_and_reported),
        cmocka_unit_test(test_malformed_link_keys_are_skipped_and_reported),
        cmocka_unit_test(test_malformed_service_values_are_skipped_and_reported),
        cmocka_unit_test(test_malformed_service_keys_are_skipped_and_reported),
        cmocka_unit_test(test_warn_may_be_null),
        cmocka_unit_test(test_by_port_finds_the_link_listening_there),
    };
    return cmocka_run_group_tests_name("table", tests, NULL, NULL) ? 1 : 0;
}
