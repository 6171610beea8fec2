/* test_view.c - the builder's API views (src/builder/view.c) on snapshots made by
 * hand: the shapes openapi.json promises, and values written badly into etcd.
 * Statuses are whole records (keys.h: host, container, state): one that is not
 * counts as no status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "view.h"

/* A snapshot of key/value pairs given in key order. */
static store_snap *snap_of(const char *const *pairs, size_t n)
{
    etcd_kv kvs[32];
    for (size_t i = 0; i < n; i++)
        kvs[i] = (etcd_kv){.key = (char *)pairs[2 * i], .value = (char *)pairs[2 * i + 1],
                           .value_len = strlen(pairs[2 * i + 1]), .mod_revision = (int64_t)i + 1};
    etcd_kvs all = {.kvs = kvs, .n = n, .revision = (int64_t)n};
    store_snap *snap = store_snap_make(&all);
    assert_non_null(snap);
    return snap;
}
#define SNAP(...) snap_of((const char *const[]){__VA_ARGS__}, \
                          sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *) / 2)

static const char *str(const json_t *v, const char *path1, const char *path2)
{
    const json_t *o = json_object_get(v, path1);
    return json_string_value(path2 ? json_object_get(o, path2) : o);
}

static json_int_t num(const json_t *v, const char *field)
{
    return json_integer_value(json_object_get(v, field));
}

static void test_apps_group_manifests_and_count_running(void **state)
{
    (void)state;
    store_snap *snap = SNAP(
        "/apps/a/db/manifest", "{\"image\":\"pg\",\"scale\":2}",
        "/apps/a/web/instances/0", "{\"host\":\"h1\"}",
        "/apps/a/web/manifest", "{\"image\":\"nginx\",\"scale\":\"3\"}",
        "/apps/b/x/manifest", "{\"image\":\"busybox\"}",
        "/status/a/db/0", "{\"container\":\"a---db\",\"host\":\"h1\",\"state\":\"running\"}",
        "/status/a/db/1", "{\"container\":\"a---db---1\",\"host\":\"h2\",\"state\":\"exited\"}",
        "/status/a/db/2", "{\"host\":\"h2\",\"state\":\"running\"}",
        "/status/a/dbx/0", "{\"container\":\"a---dbx\",\"host\":\"h2\",\"state\":\"running\"}");
    json_t *apps = view_apps(snap, NULL);
    assert_int_equal(json_array_size(apps), 2);
    json_t *a = json_array_get(apps, 0), *ms = json_object_get(a, "manifests");
    assert_string_equal(str(a, "app", NULL), "a");
    assert_int_equal(json_array_size(ms), 2); /* the placement is not a manifest */
    json_t *db = json_array_get(ms, 0), *web = json_array_get(ms, 1);
    assert_int_equal(num(db, "desired"), 2);
    /* not dbx's, not the exited one, not the status without a container */
    assert_int_equal(num(db, "running"), 1);
    assert_true(json_is_null(json_object_get(db, "error")));
    assert_int_equal(num(db, "revision"), 1);
    /* a manifest written straight into etcd that does not validate */
    assert_int_equal(num(web, "desired"), 0);
    assert_non_null(strstr(str(web, "error", NULL), "scale: must be an integer"));
    assert_string_equal(str(web, "manifest", "scale"), "3");
    json_decref(apps);

    apps = view_apps(snap, "b");
    assert_int_equal(json_array_size(apps), 1);
    assert_int_equal(num(json_array_get(json_object_get(json_array_get(apps, 0), "manifests"), 0),
                         "desired"), 1);
    json_decref(apps);
    apps = view_apps(snap, "nope");
    assert_int_equal(json_array_size(apps), 0);
    json_decref(apps);
    store_release(snap);
}

static void test_instances_in_number_order_from_placements_and_statuses(void **state)
{
    (void)state;
    store_snap *snap = SNAP(
        "/apps/a/web/instances/10", "{\"host\":\"h3\"}",
        "/apps/a/web/instances/2", "{\"host\":\"h2\"}",
        "/apps/a/web/manifest", "{\"image\":\"nginx\",\"scale\":11}",
        "/status/a/web/0", "{\"container\":\"a---web\",\"host\":\"h1\",\"since\":\"2026-01-01T00:00:00Z\",\"state\":\"running\"}",
        "/status/a/web/2", "{\"container\":\"\",\"error\":\"no such image\",\"host\":\"h2\",\"state\":\"failed\"}",
        "/status/a/web/3", "not json");
    time_t now = 1767225600 + 90; /* 2026-01-01T00:01:30Z */
    json_t *list = view_instances(snap, "a", "web", now);
    assert_int_equal(json_array_size(list), 4);
    json_t *i0 = json_array_get(list, 0), *i2 = json_array_get(list, 1);
    json_t *i3 = json_array_get(list, 2), *i10 = json_array_get(list, 3);
    assert_int_equal(num(i0, "instance"), 0);
    assert_string_equal(str(i0, "container", NULL), "a---web");
    assert_string_equal(str(i0, "state", NULL), "running");
    assert_int_equal(num(i0, "age_seconds"), 90);
    assert_string_equal(str(i2, "error", NULL), "no such image");
    assert_string_equal(str(i2, "container", NULL), "a---web---2");
    /* a status that is not JSON counts as none: pending, no host */
    assert_string_equal(str(i3, "state", NULL), "pending");
    assert_true(json_is_null(json_object_get(i3, "host")));
    /* placed but not reported yet: the placement's host */
    assert_int_equal(num(i10, "instance"), 10);
    assert_string_equal(str(i10, "host", NULL), "h3");
    assert_true(json_is_null(json_object_get(i10, "age_seconds")));
    json_decref(list);

    bool missing = false;
    json_t *m = view_manifest(snap, "a", "web", now, &missing);
    assert_false(missing);
    assert_int_equal(json_array_size(json_object_get(m, "instances")), 4);
    json_decref(m);
    assert_null(view_manifest(snap, "a", "nope", now, &missing));
    assert_true(missing);
    store_release(snap);
}

/* The conductors read an instance number only as keys.h spells it: "01" or "+1"
 * are no instance of theirs, and the API no longer shows them (it read them with
 * atoi, as instance 1). */
static void test_instances_only_under_keys_the_conductors_read(void **state)
{
    (void)state;
    store_snap *snap = SNAP(
        "/apps/a/b/instances/+1", "{\"host\":\"h2\"}",
        "/apps/a/b/instances/01", "{\"host\":\"h1\"}",
        "/apps/a/b/instances/2", "{\"host\":\"h1\"}",
        "/apps/a/b/manifest", "{\"image\":\"nginx\",\"scale\":3}",
        "/status/a/b/01", "{\"container\":\"a---b---1\",\"host\":\"h1\",\"state\":\"running\"}");
    json_t *list = view_instances(snap, "a", "b", 0);
    assert_int_equal(json_array_size(list), 1);
    assert_int_equal(num(json_array_get(list, 0), "instance"), 2);
    json_decref(list);
    json_t *apps = view_apps(snap, "a");
    json_t *b = json_array_get(json_object_get(json_array_get(apps, 0), "manifests"), 0);
    assert_int_equal(num(b, "running"), 0); /* the status under "01" is no instance's */
    json_decref(apps);
    store_release(snap);
}

static void test_hosts_carry_their_load_and_the_leader(void **state)
{
    (void)state;
    store_snap *snap = SNAP(
        "/apps/a/web/instances/0", "{\"host\":\"h1\"}",
        "/apps/a/web/instances/1", "{\"host\":\"h1\"}",
        "/apps/a/web/instances/2", "{\"host\":\"h2\"}",
        "/cluster/leader", "{\"host\":\"h2\"}",
        "/hosts/h1", "{\"addr\":\"10.88.0.11\",\"cpus\":2,\"memory\":1024,\"labels\":{},\"version\":\"0.1.0\"}",
        "/hosts/h2", "garbage",
        "/status/a/web/0", "{\"container\":\"a---web\",\"host\":\"h1\",\"state\":\"running\"}",
        "/status/a/web/1", "{\"container\":\"a---web---1\",\"host\":\"h1\",\"state\":\"created\"}");
    json_t *hosts = view_hosts(snap);
    assert_int_equal(json_array_size(hosts), 2);
    json_t *h1 = json_array_get(hosts, 0), *h2 = json_array_get(hosts, 1);
    assert_string_equal(str(h1, "id", NULL), "h1");
    assert_string_equal(str(h1, "addr", NULL), "10.88.0.11");
    assert_int_equal(num(h1, "instances"), 2);
    assert_int_equal(num(h1, "running"), 1);
    assert_false(json_is_true(json_object_get(h1, "leader")));
    /* a host value that is not JSON still lists the host, with every field */
    assert_string_equal(str(h2, "addr", NULL), "");
    assert_int_equal(num(h2, "instances"), 1);
    assert_true(json_is_true(json_object_get(h2, "leader")));
    assert_non_null(json_object_get(h2, "labels"));
    json_decref(hosts);
    store_release(snap);
}

static void test_services_and_links(void **state)
{
    (void)state;
    store_snap *snap = SNAP(
        "/links/a/db", "{\"port\":20001}",
        "/links/a/web", "{\"port\":20000}",
        "/services/a/web/a---web---1@h2", "{\"addr\":\"10.88.0.12\",\"port\":32769}",
        "/services/a/web/a---web@h1", "{\"addr\":\"10.88.0.11\",\"port\":32768}",
        "/services/b/api/b---api@h1", "{\"addr\":\"10.88.0.11\",\"port\":32770}");
    json_t *services = view_services(snap);
    assert_int_equal(json_array_size(services), 2);
    json_t *web = json_array_get(services, 0), *api = json_array_get(services, 1);
    assert_string_equal(str(web, "service", NULL), "web");
    assert_int_equal(num(web, "link_port"), 20000);
    assert_int_equal(json_array_size(json_object_get(web, "instances")), 2);
    assert_string_equal(str(json_array_get(json_object_get(web, "instances"), 0), "instance", NULL),
                        "a---web---1@h2");
    assert_true(json_is_null(json_object_get(api, "link_port"))); /* nobody links it */
    json_decref(services);

    json_t *links = view_links(snap);
    assert_int_equal(json_array_size(links), 2);
    assert_string_equal(str(json_array_get(links, 0), "service", NULL), "db");
    assert_int_equal(num(json_array_get(links, 0), "instances"), 0);
    assert_int_equal(num(json_array_get(links, 1), "port"), 20000);
    assert_int_equal(num(json_array_get(links, 1), "instances"), 2);
    json_decref(links);
    store_release(snap);
}

static void test_tokens_show_no_hash_beyond_the_id(void **state)
{
    (void)state;
    store_snap *snap = SNAP(
        "/tokens/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "{\"id\":\"0123456789ab\",\"name\":\"ci\",\"role\":\"read-only\",\"created\":\"2026-01-01T00:00:00Z\"}",
        "/tokens/ffff", "not json");
    json_t *tokens = view_tokens(snap);
    assert_int_equal(json_array_size(tokens), 2);
    json_t *t = json_array_get(tokens, 0);
    assert_string_equal(str(t, "id", NULL), "0123456789ab");
    assert_string_equal(str(t, "role", NULL), "read-only");
    char *text = json_dumps(tokens, 0);
    assert_null(strstr(text, "0123456789abcdef0123"));
    free(text);
    json_decref(tokens);
    store_release(snap);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apps_group_manifests_and_count_running),
        cmocka_unit_test(test_instances_in_number_order_from_placements_and_statuses),
        cmocka_unit_test(test_instances_only_under_keys_the_conductors_read),
        cmocka_unit_test(test_hosts_carry_their_load_and_the_leader),
        cmocka_unit_test(test_services_and_links),
        cmocka_unit_test(test_tokens_show_no_hash_beyond_the_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
