/* test_table.c - unit tests for the ambassador's routing table and access list
 * (src/ambassador/table.c): building it from /links/ and /services/ key-values,
 * skipping and reporting malformed ones, looking a link up by port, and who may
 * use a link: the local containers whose manifest links it, and the operator's
 * --allow networks. */
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
static char last_warning[2048];

static void count_warning(const char *key, const char *msg)
{
    assert_non_null(key);
    assert_non_null(msg);
    snprintf(last_warning, sizeof last_warning, "%s: %s", key, msg);
    warnings++;
}

static table build(etcd_kvs links, etcd_kvs services)
{
    table t;
    etcd_kvs apps = {0};
    table_sources src = {.links = &links, .services = &services, .apps = &apps};
    warnings = 0;
    assert_int_equal(table_build(&t, &src, count_warning), 0);
    return t;
}

static void assert_backend(const table_backend *b, const char *addr, int port)
{
    assert_string_equal(b->addr, addr);
    assert_int_equal(b->port, port);
}

/* The seed's link and its three nginx instances, with neighbours that must not mix in;
 * sorted by key, as etcd gives them ('-' sorts before '@'). */
static etcd_kv seed_links[] = {
    KV("/links/dummy/nginx", "{\"port\": 20000}"),
};
static etcd_kv seed_services[] = {
    KV("/services/dummy/nginx/dummy---nginx---1@h1", "{\"addr\": \"10.88.0.12\", \"port\": 32769}"),
    KV("/services/dummy/nginx/dummy---nginx---2@h2", "{\"addr\": \"10.88.0.13\", \"port\": 32770}"),
    KV("/services/dummy/nginx/dummy---nginx@h1", "{\"addr\": \"10.88.0.11\", \"port\": 32768}"),
    KV("/services/dummy/web/dummy---web@h1", "{\"addr\": \"10.88.0.11\", \"port\": 32771}"),
    KV("/services/other/nginx/other---nginx@h2", "{\"addr\": \"10.88.0.14\", \"port\": 32772}"),
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
    assert_backend(&t.links[0].backends[0], "10.88.0.12", 32769);
    assert_backend(&t.links[0].backends[1], "10.88.0.13", 32770);
    assert_backend(&t.links[0].backends[2], "10.88.0.11", 32768);
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
        KV("/services/dummy/nginx/dummy---nginx@h1", "{\"addr\": \"10.88.0.11\", \"port\": 32768}"),
        KV("/services/dummy/nginx/dummy---nginx---1@h1", "{\"addr\": \"10.88.0.12\"}"),
        KV("/services/dummy/nginx/dummy---nginx---2@h1", "{\"addr\": 7, \"port\": 32770}"),
        KV("/services/dummy/nginx/dummy---nginx---3@h1", "{\"addr\": \"10.88.0.14\", \"port\": 0}"),
        KV("/services/dummy/nginx/dummy---nginx---4@h1", "garbage"),
        KV("/services/dummy/nginx/dummy---nginx---5@h1", "{\"addr\": \"10.88.0.15\", \"port\": 32771}"),
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
        KV("/services/dummy/nginx/dummy---nginx@h1", "{\"addr\": \"10.88.0.11\", \"port\": 32768}"),
        KV("/services/dummy/nginx/dummy---nginx@h1/x", "{\"addr\": \"10.88.0.14\", \"port\": 32771}"),
        /* keys.h's canonical spelling only: the container is of the key's app, and
         * the key names the host that announces it */
        KV("/services/dummy/nginx/dummy---nginx", "{\"addr\": \"10.88.0.15\", \"port\": 32772}"),
        KV("/services/dummy/nginx/other---nginx@h1", "{\"addr\": \"10.88.0.16\", \"port\": 32773}"),
        KV("/services/dummy/nginx/dummy---nginx@", "{\"addr\": \"10.88.0.17\", \"port\": 32774}"),
        KV("/services/dummy/Nginx/dummy---nginx@h1", "{\"addr\": \"10.88.0.18\", \"port\": 32775}"),
    };
    table t = build((etcd_kvs)KVS(seed_links), (etcd_kvs)KVS(services));
    assert_int_equal(t.n, 1);
    assert_int_equal(t.links[0].nbackends, 1);
    assert_backend(&t.links[0].backends[0], "10.88.0.11", 32768);
    table_free(&t);
    assert_int_equal(warnings, 7);
}

static void test_warn_may_be_null(void **state)
{
    (void)state;
    static etcd_kv links[] = {KV("/links/dummy", "x"), KV("/links/dummy/nginx", "{\"port\": 20000}")};
    static etcd_kv services[] = {KV("/services/dummy/nginx/dummy---nginx@h1", "x")};
    etcd_kvs l = KVS(links), s = KVS(services), apps = {0};
    table_sources src = {.links = &l, .services = &s, .apps = &apps};
    table t;
    assert_int_equal(table_build(&t, &src, NULL), 0);
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

/* ---- the access list ------------------------------------------------------------ */

/* App acl: web serves "web"; client (two instances here) links web and db; loner
 * links nothing. App other: its client links its own app's web. */
static etcd_kv acl_links[] = {
    KV("/links/acl/db", "{\"port\": 20010}"),
    KV("/links/acl/web", "{\"port\": 20011}"),
    KV("/links/other/web", "{\"port\": 20012}"),
};
static etcd_kv acl_apps[] = { /* sorted by key, as etcd gives them */
    KV("/apps/acl/client/instances/0", "{\"host\": \"h1\"}"),
    KV("/apps/acl/client/manifest",
       "{\"image\": \"dockerfile/ubuntu\", \"scale\": 2, \"links\": [\"web\", \"db\"]}"),
    KV("/apps/acl/loner/manifest", "{\"image\": \"dockerfile/ubuntu\"}"),
    KV("/apps/acl/web/manifest", "{\"image\": \"dockerfile/nginx\", \"services\": {\"web\": 80}}"),
    KV("/apps/other/client/manifest", "{\"image\": \"dockerfile/ubuntu\", \"links\": [\"web\"]}"),
};

static uint32_t ip(const char *s)
{
    uint32_t a = 0;
    assert_int_equal(net_addr_parse(s, &a), 0);
    return a;
}

/* Listed out of order on purpose: the engine gives them in no particular order. */
static table_container acl_containers[] = {
    {.app = "other", .name = "client"}, /* 172.17.0.5 */
    {.app = "acl", .name = "client"},   /* 172.17.0.7 */
    {.app = "acl", .name = "web"},      /* 172.17.0.2 */
    {.app = "acl", .name = "loner"},    /* 172.17.0.4 */
    {.app = "acl", .name = "client"},   /* 172.17.0.3 */
};

static table build_acl(etcd_kvs apps, const net_cidr *nets, size_t nnets)
{
    static const char *addrs[] = {"172.17.0.5", "172.17.0.7", "172.17.0.2", "172.17.0.4",
                                  "172.17.0.3"};
    etcd_kvs links = KVS(acl_links), services = {0};
    for (size_t i = 0; i < ARRAY_LEN(acl_containers); i++)
        acl_containers[i].addr = ip(addrs[i]);
    table_sources src = {.links = &links, .services = &services, .apps = &apps,
                         .containers = acl_containers, .ncontainers = ARRAY_LEN(acl_containers),
                         .nets = nets, .nnets = nnets};
    table t;
    warnings = 0;
    last_warning[0] = '\0';
    assert_int_equal(table_build(&t, &src, count_warning), 0);
    return t;
}

static const table_link *link_of(const table *t, const char *app, const char *service)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->links[i].app, app) == 0 && strcmp(t->links[i].service, service) == 0)
            return &t->links[i];
    fail_msg("no link %s/%s", app, service);
    return NULL;
}

static void test_containers_of_the_app_that_link_the_service_are_allowed(void **state)
{
    (void)state;
    table t = build_acl((etcd_kvs)KVS(acl_apps), NULL, 0);
    assert_int_equal(warnings, 0);
    const table_link *web = link_of(&t, "acl", "web"), *db = link_of(&t, "acl", "db");
    assert_true(table_allows(web, ip("172.17.0.3")));
    assert_true(table_allows(web, ip("172.17.0.7"))); /* every instance of the manifest */
    assert_true(table_allows(db, ip("172.17.0.3")));
    assert_true(table_allows(db, ip("172.17.0.7")));
    /* the list itself: sorted, for the binary search */
    assert_int_equal(web->nallowed, 2);
    assert_int_equal(web->allowed[0], ip("172.17.0.3"));
    assert_int_equal(web->allowed[1], ip("172.17.0.7"));
    table_free(&t);
}

static void test_a_container_of_another_app_is_refused(void **state)
{
    (void)state;
    table t = build_acl((etcd_kvs)KVS(acl_apps), NULL, 0);
    /* other/client links "web": its own app's, not acl's */
    assert_false(table_allows(link_of(&t, "acl", "web"), ip("172.17.0.5")));
    assert_false(table_allows(link_of(&t, "acl", "db"), ip("172.17.0.5")));
    assert_true(table_allows(link_of(&t, "other", "web"), ip("172.17.0.5")));
    assert_false(table_allows(link_of(&t, "other", "web"), ip("172.17.0.3")));
    table_free(&t);
}

static void test_a_container_of_the_app_that_does_not_link_is_refused(void **state)
{
    (void)state;
    table t = build_acl((etcd_kvs)KVS(acl_apps), NULL, 0);
    assert_false(table_allows(link_of(&t, "acl", "web"), ip("172.17.0.4"))); /* loner */
    /* serving a service is not using it */
    assert_false(table_allows(link_of(&t, "acl", "web"), ip("172.17.0.2")));
    table_free(&t);
}

static void test_an_unknown_address_is_refused(void **state)
{
    (void)state;
    table t = build_acl((etcd_kvs)KVS(acl_apps), NULL, 0);
    const table_link *web = link_of(&t, "acl", "web");
    assert_false(table_allows(web, ip("172.17.0.6")));
    assert_false(table_allows(web, ip("172.17.0.1"))); /* the gateway: the host itself */
    assert_false(table_allows(web, ip("127.0.0.1")));
    assert_false(table_allows(web, 0));
    assert_false(table_allows(web, UINT32_MAX));
    table_free(&t);
}

static void test_nobody_is_allowed_without_containers(void **state)
{
    (void)state;
    table t = build((etcd_kvs)KVS(acl_links), (etcd_kvs){0});
    assert_int_equal(t.n, 3);
    for (size_t i = 0; i < t.n; i++) {
        assert_int_equal(t.links[i].nallowed, 0);
        assert_false(table_allows(&t.links[i], ip("172.17.0.3")));
    }
    table_free(&t);
}

static void test_allowed_networks_reach_every_link(void **state)
{
    (void)state;
    net_cidr nets[2];
    assert_int_equal(net_cidr_parse("127.0.0.0/8", &nets[0], NULL), 0);
    assert_int_equal(net_cidr_parse("10.88.0.5", &nets[1], NULL), 0);
    table t = build_acl((etcd_kvs)KVS(acl_apps), nets, ARRAY_LEN(nets));
    for (size_t i = 0; i < t.n; i++) {
        assert_true(table_allows(&t.links[i], ip("127.0.0.1")));
        assert_true(table_allows(&t.links[i], ip("127.255.0.9")));
        assert_true(table_allows(&t.links[i], ip("10.88.0.5")));
        assert_false(table_allows(&t.links[i], ip("10.88.0.6")));
        assert_false(table_allows(&t.links[i], ip("128.0.0.1")));
        assert_false(table_allows(&t.links[i], ip("172.17.0.4"))); /* loner, still */
    }
    /* the table holds its own copy */
    nets[0] = (net_cidr){0};
    assert_true(table_allows(link_of(&t, "acl", "web"), ip("127.0.0.1")));
    assert_false(table_allows(link_of(&t, "acl", "web"), ip("1.2.3.4")));
    table_free(&t);
}

static void test_an_invalid_manifest_allows_nobody_and_is_reported(void **state)
{
    (void)state;
    static etcd_kv apps[] = {
        KV("/apps/acl/client/manifest", "{\"image\": \"dockerfile/ubuntu\", \"links\": \"web\"}"),
        KV("/apps/acl/loner/manifest", "{\"image\": \"dockerfile/ubuntu\"}"),
        KV("/apps/acl/web/manifest",
           "{\"image\": \"dockerfile/nginx\", \"services\": {\"web\": 80}}"),
        KV("/apps/other/client/manifest",
           "{\"image\": \"dockerfile/ubuntu\", \"links\": [\"web\"]}"),
    };
    table t = build_acl((etcd_kvs)KVS(apps), NULL, 0);
    /* once, though two containers run it; naming the key and what is wrong */
    assert_int_equal(warnings, 1);
    assert_non_null(strstr(last_warning, "/apps/acl/client/manifest: "));
    assert_non_null(strstr(last_warning, "links"));
    assert_false(table_allows(link_of(&t, "acl", "web"), ip("172.17.0.3")));
    assert_false(table_allows(link_of(&t, "acl", "web"), ip("172.17.0.7")));
    assert_false(table_allows(link_of(&t, "acl", "db"), ip("172.17.0.3")));
    /* the other manifests are not affected */
    assert_true(table_allows(link_of(&t, "other", "web"), ip("172.17.0.5")));
    table_free(&t);
}

static void test_a_container_without_manifest_is_refused_quietly(void **state)
{
    (void)state;
    /* the manifests were deleted: their containers are on their way out */
    static etcd_kv apps[] = {
        KV("/apps/acl/web/manifest",
           "{\"image\": \"dockerfile/nginx\", \"services\": {\"web\": 80}}"),
    };
    table t = build_acl((etcd_kvs)KVS(apps), NULL, 0);
    assert_int_equal(warnings, 0);
    for (size_t i = 0; i < t.n; i++)
        assert_int_equal(t.links[i].nallowed, 0);
    table_free(&t);
}

static void test_a_link_without_a_port_yet_grants_nothing(void **state)
{
    (void)state;
    /* client links web and db, but only web has its port so far */
    static etcd_kv links[] = {KV("/links/acl/web", "{\"port\": 20011}")};
    etcd_kvs l = KVS(links), services = {0}, apps = KVS(acl_apps);
    table_container c = {.addr = ip("172.17.0.3"), .app = "acl", .name = "client"};
    table_sources src = {.links = &l, .services = &services, .apps = &apps, .containers = &c,
                         .ncontainers = 1};
    table t;
    assert_int_equal(table_build(&t, &src, NULL), 0);
    assert_int_equal(t.n, 1);
    assert_true(table_allows(&t.links[0], c.addr));
    table_free(&t);
}

static void test_the_same_address_twice_is_listed_once(void **state)
{
    (void)state;
    /* an address reused by the engine: two records for a moment */
    etcd_kvs l = KVS(acl_links), services = {0}, apps = KVS(acl_apps);
    table_container cs[] = {{.addr = ip("172.17.0.3"), .app = "acl", .name = "client"},
                            {.addr = ip("172.17.0.3"), .app = "acl", .name = "client"}};
    table_sources src = {.links = &l, .services = &services, .apps = &apps, .containers = cs,
                         .ncontainers = ARRAY_LEN(cs)};
    table t;
    assert_int_equal(table_build(&t, &src, NULL), 0);
    assert_int_equal(link_of(&t, "acl", "web")->nallowed, 1);
    table_free(&t);
}

static void test_many_containers_are_found_by_binary_search(void **state)
{
    (void)state;
    enum { N = 1000 };
    etcd_kvs l = KVS(acl_links), services = {0}, apps = KVS(acl_apps);
    table_container *cs = calloc(N, sizeof *cs);
    assert_non_null(cs);
    for (uint32_t i = 0; i < N; i++) { /* every third one links, in descending order */
        cs[i].addr = ip("10.0.0.0") + 2 * (N - i);
        snprintf(cs[i].app, sizeof cs[i].app, "acl");
        snprintf(cs[i].name, sizeof cs[i].name, "%s", i % 3 ? "loner" : "client");
    }
    table_sources src = {.links = &l, .services = &services, .apps = &apps, .containers = cs,
                         .ncontainers = N};
    table t;
    assert_int_equal(table_build(&t, &src, NULL), 0);
    const table_link *web = link_of(&t, "acl", "web");
    assert_int_equal(web->nallowed, (N + 2) / 3);
    for (uint32_t i = 0; i < N; i++) {
        assert_int_equal(table_allows(web, cs[i].addr), i % 3 == 0);
        assert_false(table_allows(web, cs[i].addr + 1));
    }
    table_free(&t);
    free(cs);
}

/* Services "b" and "b-c" of one app: key order puts "/services/a/b-c/..." before
 * "/services/a/b/..." ('-' sorts before '/') and "/links/a/b" before "/links/a/b-c",
 * so a rebuild that found a link's instances by a merge in key order, or its name
 * by a prefix, would hand one link the other's instances or grants. Each link gets
 * its own instances, in key order, and a manifest linking "b-c" is granted "b-c"
 * only. */
static void test_services_whose_names_share_a_prefix_are_kept_apart(void **state)
{
    (void)state;
    static etcd_kv links[] = {
        KV("/links/a/b", "{\"port\": 20000}"),
        KV("/links/a/b-c", "{\"port\": 20001}"),
        KV("/links/a-b/c", "{\"port\": 20002}"),
    };
    static etcd_kv services[] = {
        KV("/services/a-b/c/a-b---c@h1", "{\"addr\": \"10.0.0.5\", \"port\": 5}"),
        KV("/services/a/b-c/a---bc---1@h1", "{\"addr\": \"10.0.0.3\", \"port\": 3}"),
        KV("/services/a/b-c/a---bc@h2", "{\"addr\": \"10.0.0.4\", \"port\": 4}"),
        KV("/services/a/b/a---b---1@h2", "{\"addr\": \"10.0.0.2\", \"port\": 2}"),
        KV("/services/a/b/a---b@h1", "{\"addr\": \"10.0.0.1\", \"port\": 1}"),
    };
    static etcd_kv apps[] = {
        KV("/apps/a/client/manifest", "{\"image\": \"x\", \"links\": [\"b-c\"]}"),
    };
    etcd_kvs l = KVS(links), sv = KVS(services), ap = KVS(apps);
    table_container cs[] = {{.addr = ip("172.17.0.9"), .app = "a", .name = "client"}};
    table_sources src = {.links = &l, .services = &sv, .apps = &ap, .containers = cs,
                         .ncontainers = ARRAY_LEN(cs)};
    table t;
    warnings = 0;
    assert_int_equal(table_build(&t, &src, count_warning), 0);
    assert_int_equal(warnings, 0);
    const table_link *b = link_of(&t, "a", "b"), *bc = link_of(&t, "a", "b-c"),
                     *abc = link_of(&t, "a-b", "c");
    assert_int_equal(b->nbackends, 2);
    assert_backend(&b->backends[0], "10.0.0.2", 2);
    assert_backend(&b->backends[1], "10.0.0.1", 1);
    assert_int_equal(bc->nbackends, 2);
    assert_backend(&bc->backends[0], "10.0.0.3", 3);
    assert_backend(&bc->backends[1], "10.0.0.4", 4);
    assert_int_equal(abc->nbackends, 1);
    assert_backend(&abc->backends[0], "10.0.0.5", 5);
    assert_true(table_allows(bc, ip("172.17.0.9")));
    assert_false(table_allows(b, ip("172.17.0.9")));
    assert_false(table_allows(abc, ip("172.17.0.9")));
    table_free(&t);
}

/* --allow takes net.h's networks: what it accepts and refuses. */
static void test_networks_parse(void **state)
{
    (void)state;
    net_cidr n;
    err_t err;
    assert_int_equal(net_cidr_parse("10.88.0.0/24", &n, &err), 0);
    assert_int_equal(n.net, ip("10.88.0.0"));
    assert_int_equal(n.mask, 0xffffff00u);
    assert_int_equal(net_cidr_parse("10.88.0.77/24", &n, &err), 0); /* as --trust does */
    assert_int_equal(n.net, ip("10.88.0.0"));
    assert_int_equal(net_cidr_parse("172.17.0.1", &n, &err), 0);
    assert_int_equal(n.net, ip("172.17.0.1"));
    assert_int_equal(n.mask, 0xffffffffu);
    assert_int_equal(net_cidr_parse("1.2.3.4/0", &n, &err), 0);
    assert_int_equal(n.net, 0);
    assert_int_equal(n.mask, 0);
    assert_int_equal(net_cidr_parse("1.2.3.4/32", &n, &err), 0);
    assert_int_equal(n.mask, 0xffffffffu);
    static const char *bad[] = {"", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1",
                                "10.0.0.0/+8", "10.0.0.0/ 8", "10.0.0.0/8x", "10.0.0/8",
                                "10.0.0.256", "::1", "fe80::/64", "localhost",
                                "255.255.255.255.255/8", "10.0.0.0/99999999999999999999"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        err_clear(&err);
        assert_int_equal(net_cidr_parse(bad[i], &n, &err), -1);
        assert_int_equal(err.code, ERR_INVALID);
        assert_non_null(strstr(err.msg, "expected an IPv4 network"));
    }
}

static void test_addresses_parse_in_host_order(void **state)
{
    (void)state;
    uint32_t a;
    assert_int_equal(net_addr_parse("172.17.0.2", &a), 0);
    assert_int_equal(a, 0xac110002u);
    assert_int_equal(net_addr_parse("172.17.0.256", &a), -1);
    assert_int_equal(net_addr_parse("", &a), -1);
    assert_int_equal(net_addr_parse(NULL, &a), -1);
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
        cmocka_unit_test(test_containers_of_the_app_that_link_the_service_are_allowed),
        cmocka_unit_test(test_a_container_of_another_app_is_refused),
        cmocka_unit_test(test_a_container_of_the_app_that_does_not_link_is_refused),
        cmocka_unit_test(test_an_unknown_address_is_refused),
        cmocka_unit_test(test_nobody_is_allowed_without_containers),
        cmocka_unit_test(test_allowed_networks_reach_every_link),
        cmocka_unit_test(test_an_invalid_manifest_allows_nobody_and_is_reported),
        cmocka_unit_test(test_a_container_without_manifest_is_refused_quietly),
        cmocka_unit_test(test_a_link_without_a_port_yet_grants_nothing),
        cmocka_unit_test(test_the_same_address_twice_is_listed_once),
        cmocka_unit_test(test_many_containers_are_found_by_binary_search),
        cmocka_unit_test(test_services_whose_names_share_a_prefix_are_kept_apart),
        cmocka_unit_test(test_networks_parse),
        cmocka_unit_test(test_addresses_parse_in_host_order),
    };
    return cmocka_run_group_tests_name("table", tests, NULL, NULL) ? 1 : 0;
}
