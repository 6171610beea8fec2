/* test_keys.c - the cluster's keys and records (lib/keys.c): every key kind built
 * and parsed back, every record encoded and decoded back, and the malformed keys
 * and values that etcd can hold because anyone can write there. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dokkaa/keys.h"
#include "dokkaa/manifest.h"
#include "dokkaa/names.h"

static void parse_ok(const char *key, enum keys_kind kind, keys_key *k)
{
    err_t err = {0};
    if (keys_parse(key, k, &err) != 0)
        fail_msg("%s: %s", key, err.msg);
    assert_int_equal(k->kind, kind);
}

static void parse_bad(const char *key, const char *says)
{
    keys_key k;
    err_t err = {0};
    if (keys_parse(key, &k, &err) == 0)
        fail_msg("accepted %s", key);
    assert_int_equal(err.code, ERR_INVALID);
    assert_int_equal(k.kind, KEYS_OTHER);
    if (!strstr(err.msg, says))
        fail_msg("%s: \"%s\" does not say \"%s\"", key, err.msg, says);
}

/* Every builder's key parses back to the parts it was made of. */
static void test_round_trip_keys(void **state)
{
    (void)state;
    char key[KEYS_SIZE];
    keys_key k;
    unsigned seen = 0; /* the kinds parsed here: every one of the table */
#define parse_ok(key, kind, k) (parse_ok((key), (kind), (k)), seen |= 1u << (kind))

    parse_ok(keys_manifest_key(key, "dummy", "nginx"), KEYS_MANIFEST, &k);
    assert_string_equal(key, "/apps/dummy/nginx/manifest");
    assert_string_equal(k.app, "dummy");
    assert_string_equal(k.name, "nginx");
    assert_int_equal(k.instance, -1);

    /* names of the longest a label may be */
    static const char long63[] = "/apps/123456789012345678901234567890123456789012345678901234567890123/"
                                 "a23456789012345678901234567890123456789012345678901234567890123/manifest";
    parse_ok(long63, KEYS_MANIFEST, &k);
    assert_int_equal(strlen(k.app), 63);
    assert_int_equal(strlen(k.name), 63);
    parse_bad("/apps/1234567890123456789012345678901234567890123456789012345678901234/n/manifest",
              "must be at most 63 characters");
    parse_bad("/apps/dummy/../manifest", "container name \"..\"");
    parse_bad("/apps/Dummy/nginx/manifest", "key \"/apps/Dummy/nginx/manifest\": app name \"Dummy\"");
    parse_bad("apps/dummy/nginx/manifest", "not a key");

    parse_ok(keys_instance_key(key, "dummy", "nginx", 12), KEYS_INSTANCE, &k);
    assert_string_equal(key, "/apps/dummy/nginx/instances/12");
    assert_int_equal(k.instance, 12);

    parse_ok(keys_status_key(key, "a", "b-c", 0), KEYS_STATUS, &k);
    assert_string_equal(key, "/status/a/b-c/0");
    assert_string_equal(k.name, "b-c");
    assert_int_equal(k.instance, 0);

    parse_ok(keys_host_key(key, "web-1.example.com"), KEYS_HOST, &k);
    assert_string_equal(k.host, "web-1.example.com");

    parse_ok(keys_alive_key(key, "h2"), KEYS_ALIVE, &k);
    assert_string_equal(key, "/alive/h2");
    assert_string_equal(k.host, "h2");

    parse_ok(keys_service_key(key, "dummy", "nginx", "dummy---web", "h1"), KEYS_SERVICE, &k);
    parse_ok(keys_service_key(key, "dummy", "nginx", "dummy---nginx---999", "h1"), KEYS_SERVICE, &k);
    parse_ok(keys_service_key(key, "dummy", "nginx", "dummy---nginx---2", "h1"), KEYS_SERVICE, &k);
    assert_string_equal(key, "/services/dummy/nginx/dummy---nginx---2@h1");
    assert_string_equal(k.app, "dummy");
    assert_string_equal(k.service, "nginx");
    assert_string_equal(k.container, "dummy---nginx---2");
    assert_string_equal(k.host, "h1");

    parse_ok(keys_link_key(key, "dummy", "db"), KEYS_LINK, &k);
    assert_string_equal(k.service, "db");

    char hash[65];
    memset(hash, 'a', 64);
    hash[64] = '\0';
    parse_ok(keys_token_key(key, hash), KEYS_TOKEN, &k);
    assert_string_equal(k.hash, hash);

    parse_ok(KEYS_LEADER_KEY, KEYS_LEADER, &k);
    parse_ok(KEYS_REBALANCE_KEY, KEYS_REBALANCE, &k);

    parse_ok(keys_rollout_key(key, "dummy", "nginx"), KEYS_ROLLOUT, &k);
    assert_string_equal(key, "/apps/dummy/nginx/rollout");
    assert_string_equal(k.app, "dummy");
    assert_string_equal(k.name, "nginx");
    assert_int_equal(k.instance, -1);
    assert_int_equal(k.revision, 0);

    parse_ok(keys_author_key(key, "dummy", "nginx"), KEYS_AUTHOR, &k);
    assert_string_equal(key, "/apps/dummy/nginx/author");
    assert_string_equal(k.app, "dummy");
    assert_string_equal(k.name, "nginx");

    parse_ok(keys_revision_key(key, "dummy", "nginx", 7), KEYS_REVISION, &k);
    assert_string_equal(key, "/revisions/dummy/nginx/7");
    assert_string_equal(k.app, "dummy");
    assert_string_equal(k.name, "nginx");
    assert_int_equal(k.revision, 7);
    assert_int_equal(k.instance, -1);
    parse_ok(keys_revision_key(key, "a", "b", KEYS_MAX_REVISION), KEYS_REVISION, &k);
    assert_int_equal(k.revision, KEYS_MAX_REVISION);
    parse_ok(keys_revision_key(key, "a", "b", 1), KEYS_REVISION, &k);
    assert_int_equal(k.revision, 1);

    /* a start-first rollout's next container publishes its services too */
    char next[KEYS_CONTAINER_SIZE];
    names_next(next, sizeof next, "web", "nginx", 2);
    assert_string_equal(next, "web---nginx---2.next");
    parse_ok(keys_service_key(key, "web", "http", next, "h1"), KEYS_SERVICE, &k);
    assert_string_equal(k.container, "web---nginx---2.next");
    assert_string_equal(k.app, "web");
    names_next(next, sizeof next, "web", "nginx", 0);
    assert_string_equal(next, "web---nginx.next");
    parse_ok(keys_service_key(key, "web", "http", next, "h1"), KEYS_SERVICE, &k);
    assert_string_equal(k.container, "web---nginx.next");
    names_next(next, sizeof next, "web", "nginx", MANIFEST_MAX_SCALE - 1);
    parse_ok(keys_service_key(key, "web", "http", next, "h1"), KEYS_SERVICE, &k);

    /* the other kinds' fields are "" (instance -1, revision 0) */
    parse_ok(keys_instance_key(key, "a", "b", 3), KEYS_INSTANCE, &k);
    assert_int_equal(k.revision, 0);
#undef parse_ok
    for (int kind = KEYS_MANIFEST; kind <= KEYS_ALIVE; kind++) /* the last kind */
        if (!(seen & (1u << kind)))
            fail_msg("kind %d not built and parsed back", kind);
}

/* Revision numbers are the canonical decimals 1..KEYS_MAX_REVISION, as built. */
static void test_revision_keys(void **state)
{
    (void)state;
    keys_key k;
    char key[KEYS_SIZE];
    parse_bad("/revisions/a/n/0", "revision: must be a number 1..999999999");
    parse_bad("/revisions/a/n/01", "leading zero");
    parse_bad("/revisions/a/n/+1", "revision");
    parse_bad("/revisions/a/n/-1", "revision");
    parse_bad("/revisions/a/n/1000000000", "1..999999999");
    parse_bad("/revisions/a/n/99999999999999999999", "revision");
    parse_bad("/revisions/a/n/1/", "revision");
    parse_bad("/revisions/a/n/1x", "revision");
    parse_bad("/revisions/a/n/", "revision");
    parse_bad("/revisions/a/n", "expected /revisions/<app>/<name>/<n>");
    parse_bad("/revisions/a/", "container name");
    parse_bad("/revisions/a", "expected /revisions/");
    parse_bad("/revisions/", "app name");
    parse_bad("/revisions/A/n/1", "app name");
    parse_bad("/revisions/a/n--m/1", "--");
    parse_bad("/revision/a/n/1", "not a key");
    parse_ok("/revisions/a/n/10", KEYS_REVISION, &k);
    assert_int_equal(k.revision, 10);
    assert_true(keys_is("/revisions/a/n/999999999", KEYS_REVISION, &k));
    assert_int_equal(k.revision, 999999999);
    assert_false(keys_is("/revisions/a/n/01", KEYS_REVISION, &k));
    assert_int_equal(k.revision, 0);
    assert_false(keys_is("/revisions/a/n/1", KEYS_MANIFEST, NULL));
    /* a number that would not parse back is not built */
    assert_string_equal(keys_revision_key(key, "a", "n", 0), "");
    assert_string_equal(keys_revision_key(key, "a", "n", -1), "");
    assert_string_equal(keys_revision_key(key, "a", "n", KEYS_MAX_REVISION + 1), "");
}

/* The rollout and author keys are the whole key, as the manifest's is. */
static void test_rollout_author_keys(void **state)
{
    (void)state;
    keys_key k;
    parse_bad("/apps/a/n/rollout/x", "not a manifest key");
    parse_bad("/apps/a/n/rollout/", "rollout, author or placement key");
    parse_bad("/apps/a/n/rollouts", "not a manifest key");
    parse_bad("/apps/a/n/rollout\n", "not a manifest key");
    parse_bad("/apps/a/n/author/x", "not a manifest key");
    parse_bad("/apps/a/n/authors", "not a manifest key");
    parse_bad("/apps/a/n/Author", "not a manifest key");
    parse_bad("/apps/a/N/rollout", "container name");
    assert_true(keys_is("/apps/a/n/rollout", KEYS_ROLLOUT, &k));
    assert_true(keys_is("/apps/a/n/author", KEYS_AUTHOR, &k));
    assert_false(keys_is("/apps/a/n/author", KEYS_ROLLOUT, NULL));
    assert_false(keys_is("/apps/a/n/rollout", KEYS_MANIFEST, NULL));
}

/* A service's container is names_container's or names_next's of the key's app,
 * nothing else. */
static void test_next_containers(void **state)
{
    (void)state;
    keys_key k;
    parse_ok("/services/web/http/web---nginx---2.next@h1", KEYS_SERVICE, &k);
    parse_ok("/services/web/http/web---nginx.next@h1", KEYS_SERVICE, &k);
    parse_bad("/services/web/http/web---nginx---2.nexT@h1", "container");
    parse_bad("/services/web/http/web---nginx---2.next.next@h1", "container");
    parse_bad("/services/web/http/web---nginx.next.next@h1", "container");
    parse_bad("/services/api/http/web---nginx.next@h1", "container");
    parse_bad("/services/api/http/web---nginx---2.next@h1", "container");
    parse_bad("/services/web/http/web---nginx---0.next@h1", "container");
    parse_bad("/services/web/http/web---nginx---02.next@h1", "container");
    parse_bad("/services/web/http/web---nginx---1000.next@h1", "container");
    parse_bad("/services/web/http/web---nginx---.next@h1", "container");
    parse_bad("/services/web/http/web---.next@h1", "container");
    parse_bad("/services/web/http/web.next@h1", "container");
    parse_bad("/services/web/http/.next@h1", "container");
    parse_bad("/services/web/http/web---nginx.next---2@h1", "container");
    parse_bad("/services/web/http/web---nginx---2next@h1", "container");
    parse_bad("/services/web/http/web---nginx---2.@h1", "container");
    parse_bad("/services/web/http/web---nginx---2.next/@h1", "expected");
}

static void test_prefixes(void **state)
{
    (void)state;
    char key[KEYS_SIZE];
    assert_string_equal(keys_app_prefix(key, "a"), "/apps/a/");
    assert_string_equal(keys_instances_prefix(key, "a", "n"), "/apps/a/n/instances/");
    assert_string_equal(keys_status_prefix(key, "a", "n"), "/status/a/n/");
    assert_string_equal(keys_status_prefix(key, "a", NULL), "/status/a/");
    assert_string_equal(keys_services_prefix(key, "a", "s"), "/services/a/s/");
    assert_string_equal(keys_services_prefix(key, "a", NULL), "/services/a/");
    assert_string_equal(keys_links_prefix(key, "a"), "/links/a/");
    assert_string_equal(keys_revisions_prefix(key, "a", "n"), "/revisions/a/n/");
    assert_string_equal(keys_revisions_prefix(key, "a", NULL), "/revisions/a/");
}

/* Parts too long for a key give "", never a key cut to name another one. */
static void test_builder_never_cuts(void **state)
{
    (void)state;
    char key[KEYS_SIZE], long_name[600];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    assert_string_equal(keys_manifest_key(key, "app", long_name), "");
    assert_string_equal(keys_service_key(key, "a", "s", long_name, "h"), "");
    assert_string_equal(keys_rollout_key(key, "app", long_name), "");
    assert_string_equal(keys_author_key(key, "app", long_name), "");
    assert_string_equal(keys_revision_key(key, "app", long_name, 1), "");
    assert_string_equal(keys_revisions_prefix(key, "app", long_name), "");
}

/* Regression: the conductor refused "01" and "+1" as instance numbers while the
 * builder's view read them with atoi as instance 1, so the API showed an instance
 * that nothing ran and nothing would ever delete. Now nobody accepts them. */
static void test_instance_numbers(void **state)
{
    (void)state;
    keys_key k;
    parse_bad("/apps/a/b/instances/01", "leading zero");
    parse_bad("/apps/a/b/instances/+1", "instance");
    parse_bad("/apps/a/b/instances/-1", "instance");
    parse_bad("/apps/a/b/instances/ 1", "instance");
    parse_bad("/apps/a/b/instances/1x", "instance");
    parse_bad("/apps/a/b/instances/", "instance");
    parse_bad("/apps/a/b/instances/1000", "0..999");
    parse_bad("/apps/a/b/instances/99999999999999999999", "instance");
    parse_bad("/status/a/b/00", "instance");
    parse_bad("/status/a/b/1/", "instance");
    parse_ok("/apps/a/b/instances/0", KEYS_INSTANCE, &k);
    parse_ok("/apps/a/b/instances/999", KEYS_INSTANCE, &k);
    assert_int_equal(k.instance, 999);
    assert_false(keys_is("/apps/a/b/instances/01", KEYS_INSTANCE, &k));
    assert_true(keys_is("/apps/a/b/manifest", KEYS_MANIFEST, &k));
    assert_false(keys_is("/apps/a/b/manifest", KEYS_INSTANCE, NULL));
}

static void test_malformed_keys(void **state)
{
    (void)state;
    parse_bad("", "not a key");
    parse_bad("/", "not a key");
    parse_bad("/apps", "not a key");
    parse_bad("/apps/", "app name");
    parse_bad("/apps/x", "not a manifest key");
    parse_bad("/apps/x/", "container name");
    parse_bad("/apps/x/y", "not a manifest key");
    parse_bad("/apps/x/y/", "not a manifest key");
    parse_bad("/apps/x/y/manifest/", "not a manifest key");
    parse_bad("/apps/x/y/manifests", "not a manifest key");
    parse_bad("/apps/X/y/manifest", "app name");
    parse_bad("/apps/a--b/y/manifest", "--");
    parse_bad("/apps/x//manifest", "must not be empty");
    parse_bad("/apps/x/y/other", "not a manifest key");
    parse_bad("/hosts/", "host id");
    parse_bad("/hosts/a/b", "expected /hosts/<host>");
    parse_bad("/hosts/-x", "host id");
    parse_bad("/hosts/a b", "host id");
    parse_bad("/services/a/s/a---n", "expected");
    parse_bad("/services/a/s/b---n@h1", "container");
    parse_bad("/services/a/s/a---n@", "host id");
    parse_bad("/services/a/s/a---n@h1/x", "expected");
    parse_bad("/services/a/s/@h1", "container");
    parse_bad("/services/a/S/a---n@h1", "service name");
    /* the container is a name names_container gives, not just its alphabet */
    parse_bad("/services/a/s/a---@h1", "container");
    parse_bad("/services/a/s/a------@h1", "container");
    parse_bad("/services/a/s/a---b---01@h1", "container");
    parse_bad("/services/a/s/a---b---0@h1", "container");
    parse_bad("/services/a/s/a---b---1000@h1", "container");
    parse_bad("/services/a/s/a---b--c@h1", "container");
    parse_bad("/services/a/s/ab---c@h1", "container");
    /* a manifest key is the whole key, not a prefix of another */
    parse_bad("/apps/a/b/manifest/instances/0", "not a manifest key");
    parse_bad("/apps/a/b/manifestinstances/0", "not a manifest key");
    parse_bad("/links/a", "expected");
    parse_bad("/links/a/s/x", "expected");
    parse_bad("/tokens/abc", "sha256");
    parse_bad("/tokens/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "sha256");
    parse_bad("/cluster/leader/x", "not a key");
    parse_bad("/alive/h1/x", "expected /alive/<host>");
    parse_bad("/alive/-h1", "host");
    parse_bad("/cluster/other", "not a key");
    parse_bad("/apps/x/y/manifest\n", "not a manifest key");
}

static void test_check_host(void **state)
{
    (void)state;
    err_t err;
    assert_int_equal(keys_check_host("h1", &err), 0);
    assert_int_equal(keys_check_host("Node_7.local", &err), 0);
    assert_int_equal(keys_check_host("", &err), -1);
    assert_int_equal(keys_check_host("a/b", &err), -1);
    assert_int_equal(keys_check_host("a@b", &err), -1);
    assert_int_equal(keys_check_host(".x", &err), -1);
    assert_non_null(strstr(err.msg, "\".x\""));
    char long_id[70];
    memset(long_id, 'h', 64);
    long_id[64] = '\0';
    assert_int_equal(keys_check_host(long_id, &err), -1);
}

/* ---- records ---------------------------------------------------------------------- */

/* Decode json as the record named (keys_<record>_decode) into out; with again set,
 * encode what was decoded into *again (free it). What the decoder allocated is freed
 * (a revision's manifest NULL after). For the tables below. */
static int decode_as(const char *record, const char *json, err_t *err, unsigned char *out,
                     size_t *size, char **again)
{
    size_t len = strlen(json);
#define DECODE_AS(type, release)                                                         \
    if (strcmp(record, #type) == 0) {                                                   \
        keys_##type *r = (keys_##type *)(void *)out;                                     \
        *size = sizeof *r;                                                               \
        int rc = keys_##type##_decode(json, len, r, err);                                \
        if (again)                                                                       \
            *again = rc == 0 ? keys_##type##_encode(r) : NULL;                           \
        release;                                                                         \
        return rc;                                                                       \
    }
    DECODE_AS(placement, (void)0)
    DECODE_AS(status, (void)0)
    DECODE_AS(service, (void)0)
    DECODE_AS(host, (void)0)
    DECODE_AS(link, (void)0)
    DECODE_AS(leader, (void)0)
    DECODE_AS(alive, (void)0)
    DECODE_AS(token, (void)0)
    DECODE_AS(rollout, (void)0)
    DECODE_AS(author, (void)0)
    DECODE_AS(revision, keys_revision_free(r))
#undef DECODE_AS
    fail_msg("no record %s", record);
    return -1;
}

/* Room for any record. */
union any_record {
    keys_placement placement;
    keys_status status;
    keys_service service;
    keys_host host;
    keys_link link;
    keys_leader leader;
    keys_alive alive;
    keys_token token;
    keys_rollout rollout;
    keys_author author;
    keys_revision revision;
};
static _Alignas(max_align_t) unsigned char record_buf[sizeof(union any_record)];

/* Records as the conductors, the scheduler and the builder write them: each
 * decodes, and encodes back to the same bytes (so an unchanged record is never
 * written again, and a new version writes what an older one reads). The status is
 * sorted by field name: the bytes versions before keys.c wrote. */
static const struct {
    const char *record, *json;
} good_records[] = {
    {"placement", "{\"host\":\"h2\"}"},
    {"placement", "{\"host\":\"h2\",\"from\":\"h1\",\"since\":1764700000}"},
    {"status", "{\"container\":\"dummy---nginx\",\"host\":\"h1\",\"since\":\"2026-12-02T17:20:42Z\","
               "\"state\":\"running\"}"},
    {"status", "{\"container\":\"a---b---1\",\"error\":\"image \\\"x\\\": not found\",\"host\":\"h1\","
               "\"since\":\"2026-12-02T17:20:42Z\",\"state\":\"failed\"}"},
    {"service", "{\"addr\":\"10.88.0.11\",\"port\":32768}"},
    {"host", "{\"addr\":\"10.88.0.12\",\"cpus\":2,\"memory\":25769803776,\"labels\":{},"
             "\"version\":\"0.1.0\",\"started\":\"2026-12-02T17:20:42Z\"}"},
    {"link", "{\"port\":20000}"},
    {"leader", "{\"host\":\"h3\"}"},
    {"token", "{\"id\":\"0123456789ab\",\"name\":\"ci\",\"role\":\"read-only\","
              "\"created\":\"2026-12-02T17:20:42Z\"}"},
    {"token", "{\"id\":\"0123456789ab\",\"name\":\"admin\",\"role\":\"admin\","
              "\"created\":\"2026-12-02T17:20:42Z\"}"},
    /* the fields rollouts added: after the old ones (placement), in name order (status) */
    {"placement", "{\"host\":\"h2\",\"hash\":\"0123456789abcdef\"}"},
    {"placement", "{\"host\":\"h2\",\"from\":\"h1\",\"since\":1764700000,"
                  "\"hash\":\"fedcba9876543210\"}"},
    {"status", "{\"container\":\"dummy---nginx---1.next\",\"hash\":\"0123456789abcdef\","
               "\"health\":\"starting\",\"host\":\"h1\",\"since\":\"2026-12-02T17:20:42Z\","
               "\"state\":\"running\"}"},
    {"status", "{\"container\":\"dummy---nginx\",\"health\":\"unhealthy\",\"host\":\"h1\","
               "\"since\":\"2026-12-02T17:20:42Z\",\"state\":\"running\"}"},
    {"status", "{\"container\":\"dummy---nginx\",\"hash\":\"0123456789abcdef\",\"health\":\"healthy\","
               "\"host\":\"h1\",\"since\":\"2026-12-02T17:20:42Z\",\"state\":\"running\"}"},
    {"rollout", "{\"revision\":1,\"hash\":\"0123456789abcdef\",\"state\":\"rolled-out\","
                "\"updated\":0,\"failed\":0,\"total\":0,\"since\":0}"},
    {"rollout", "{\"revision\":3,\"hash\":\"0123456789abcdef\",\"stable\":\"fedcba9876543210\","
                "\"state\":\"rolling\",\"updated\":1,\"failed\":0,\"total\":3,"
                "\"since\":1764700000}"},
    {"rollout", "{\"revision\":999999999,\"hash\":\"fedcba9876543210\","
                "\"stable\":\"0123456789abcdef\",\"state\":\"paused\",\"rollback\":true,"
                "\"updated\":1000,\"failed\":1000,\"total\":1000,\"since\":1764700000,"
                "\"reason\":\"instance 1: unhealthy: \\\"curl\\\" exited 7\"}"},
    {"author", "{\"by\":\"alice (admin token 0123456789ab)\",\"hash\":\"0123456789abcdef\"}"},
    {"author", "{\"by\":\"etcd\",\"hash\":\"fedcba9876543210\"}"},
    {"revision", "{\"revision\":7,\"hash\":\"0123456789abcdef\",\"by\":\"etcd\","
                 "\"at\":\"2026-12-02T17:20:42Z\",\"outcome\":\"superseded\","
                 "\"manifest\":\"{\\\"image\\\":\\\"nginx\\\"}\"}"},
    {"revision", "{\"revision\":8,\"hash\":\"fedcba9876543210\",\"by\":\"ci\","
                 "\"at\":\"2026-12-02T17:20:42Z\",\"outcome\":\"rolled-back\","
                 "\"reason\":\"instance 0: exited 1\",\"manifest\":\"image: nginx\\n\"}"},
    {"revision", "{\"revision\":9,\"hash\":\"fedcba9876543210\",\"by\":\"ci\",\"at\":\"\","
                 "\"outcome\":\"failed\",\"manifest\":\"\"}"},
    /* after the others: the tests above name records by their index */
    {"alive", "{\"term\":2}"},
    {"alive", "{\"term\":9223372036854775807}"},
};

static void test_round_trip_records(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof good_records / sizeof good_records[0]; i++) {
        err_t err = {0};
        size_t size;
        char *again = NULL;
        if (decode_as(good_records[i].record, good_records[i].json, &err, record_buf, &size,
                      &again) < 0)
            fail_msg("%s: %s", good_records[i].json, err.msg);
        assert_non_null(again);
        assert_string_equal(again, good_records[i].json);
        free(again);
    }
}

/* Malformed values: each is refused with ERR_INVALID, a message that says what is
 * wrong, and a zeroed struct (nothing half-read survives). */
static const struct {
    const char *record, *json, *says;
} bad_records[] = {
    {"placement", "", "not JSON"},
    {"placement", "{", "not JSON"},
    {"placement", "[]", "must be a JSON object"},
    {"placement", "\"h1\"", "must be a JSON object"},
    {"placement", "{}", "host: must be a host id, got nothing"},
    {"placement", "{\"host\":7}", "got 7"},
    {"placement", "{\"host\":\"\"}", "host"},
    {"placement", "{\"host\":\"a/b\"}", "host"},
    {"placement", "{\"host\":\"h1\",\"host\":\"h2\"}", "not JSON"},
    {"placement", "{\"host\":\"h1\",\"from\":null}", "from"},
    {"placement", "{\"host\":\"h1\",\"from\":\"h2\",\"since\":-1}", "since"},
    {"placement", "{\"host\":\"h1\",\"from\":\"h2\",\"since\":\"1\"}", "since"},
    {"placement", "{\"host\":\"h\\u00001\"}", "placement"},
    {"status", "null", "must be a JSON object"},
    {"status", "{\"container\":\"a---b\",\"state\":\"running\"}", "host"},
    {"status", "{\"host\":\"h1\",\"state\":\"running\"}", "container"},
    {"status", "{\"host\":\"h1\",\"container\":\"a---b\"}", "state"},
    {"status", "{\"host\":\"h1\",\"container\":\"a---b\",\"state\":\"running\","
                            "\"error\":5}", "error"},
    {"status", "{\"host\":\"h1\",\"container\":\"a---b\",\"state\":\"running\","
                            "\"since\":[]}", "since"},
    {"service", "{\"port\":80}", "addr"},
    {"service", "{\"addr\":\"\",\"port\":80}", "addr"},
    {"service", "{\"addr\":\"10.0.0.1\"}", "port"},
    {"service", "{\"addr\":\"10.0.0.1\",\"port\":0}", "port: must be an integer 1..65535, got 0"},
    {"service", "{\"addr\":\"10.0.0.1\",\"port\":65536}", "port"},
    {"service", "{\"addr\":\"10.0.0.1\",\"port\":80.5}", "port"},
    {"service", "{\"addr\":\"10.0.0.1\",\"port\":\"80\"}", "\"80\""},
    {"host", "{}", "addr"},
    {"host", "{\"addr\":\"10.0.0.1\",\"cpus\":-2}", "cpus"},
    {"host", "{\"addr\":\"10.0.0.1\",\"memory\":\"lots\"}", "memory"},
    {"host", "{\"addr\":\"10.0.0.1\",\"version\":1}", "version"},
    {"status", "{\"host\":\"h1\",\"container\":\"a---b\",\"state\":\"sleepy\"}", "\"sleepy\""},
    {"link", "{}", "port"},
    {"link", "{\"port\":-1}", "port"},
    {"link", "{\"port\":true}", "got true"},
    {"link", "20000", "must be a JSON object"},
    {"leader", "{\"host\":[]}", "host"},
    {"alive", "{}", "term"},
    {"alive", "{\"term\":0}", "term"},
    {"alive", "{\"term\":\"5\"}", "term"},
    {"token", "{\"id\":\"0123456789ab\",\"name\":\"ci\",\"role\":\"root\"}", "role"},
    {"token", "{\"id\":\"0123456789ab\",\"name\":\"ci\",\"role\":\"anonymous\"}", "role"},
    {"token", "{\"name\":\"ci\",\"role\":\"admin\"}", "id"},
    {"token", "{\"id\":\"0123456789abcdef\",\"name\":\"ci\",\"role\":\"admin\"}", "id"},
    /* hashes: 16 lower-case hex digits exactly, wherever they are */
    {"placement", "{\"host\":\"h1\",\"hash\":\"0123456789abcde\"}",
     "placement: hash: must be 16 lower-case hex digits, got \"0123456789abcde\""},
    {"placement", "{\"host\":\"h1\",\"hash\":\"0123456789abcdef0\"}", "hash"},
    {"placement", "{\"host\":\"h1\",\"hash\":\"0123456789ABCDEF\"}", "hash"},
    {"placement", "{\"host\":\"h1\",\"hash\":\"0123456789abcdeg\"}", "hash"},
    {"placement", "{\"host\":\"h1\",\"hash\":\"\"}", "hash"},
    {"placement", "{\"host\":\"h1\",\"hash\":null}", "hash"},
    {"placement", "{\"host\":\"h1\",\"hash\":1234567890123456}", "got 1234567890123456"},
    {"status", "{\"host\":\"h1\",\"container\":\"a---b\",\"state\":\"running\","
               "\"hash\":\" 0123456789abcde\"}", "status: hash"},
    {"status", "{\"host\":\"h1\",\"container\":\"a---b\",\"state\":\"running\","
               "\"health\":\"sick\"}",
     "status: health: must be \"starting\", \"healthy\" or \"unhealthy\", got \"sick\""},
    {"status", "{\"host\":\"h1\",\"container\":\"a---b\",\"state\":\"running\","
               "\"health\":\"\"}", "health"},
    {"status", "{\"host\":\"h1\",\"container\":\"a---b\",\"state\":\"running\","
               "\"health\":\"none\"}", "health"},
    {"status", "{\"host\":\"h1\",\"container\":\"a---b\",\"state\":\"running\","
               "\"health\":\"Healthy\"}", "health"},
    {"status", "{\"host\":\"h1\",\"container\":\"a---b\",\"state\":\"running\","
               "\"health\":1}", "health"},
    /* rollouts */
    {"rollout", "[]", "rollout: must be a JSON object"},
    {"rollout", "{\"hash\":\"0123456789abcdef\",\"state\":\"rolling\"}", "revision"},
    {"rollout", "{\"revision\":0,\"hash\":\"0123456789abcdef\",\"state\":\"rolling\"}",
     "rollout: revision: must be an integer 1..999999999, got 0"},
    {"rollout", "{\"revision\":1000000000,\"hash\":\"0123456789abcdef\",\"state\":\"rolling\"}",
     "revision"},
    {"rollout", "{\"revision\":\"1\",\"hash\":\"0123456789abcdef\",\"state\":\"rolling\"}",
     "revision"},
    {"rollout", "{\"revision\":1,\"state\":\"rolling\"}",
     "rollout: hash: must be 16 lower-case hex digits, got nothing"},
    {"rollout", "{\"revision\":1,\"hash\":\"0123456789ABCDEF\",\"state\":\"rolling\"}", "hash"},
    {"rollout", "{\"revision\":1,\"hash\":\"0123456789abcdef\",\"stable\":\"0123456789abcde\","
                "\"state\":\"rolling\"}", "stable"},
    {"rollout", "{\"revision\":1,\"hash\":\"0123456789abcdef\",\"stable\":\"\","
                "\"state\":\"rolling\"}", "stable"},
    {"rollout", "{\"revision\":1,\"hash\":\"0123456789abcdef\"}", "state"},
    {"rollout", "{\"revision\":1,\"hash\":\"0123456789abcdef\",\"state\":\"done\"}",
     "rollout: state: must be \"rolling\", \"rolled-out\", \"rolled-back\", \"paused\", "
     "\"failed\" or \"superseded\", got \"done\""},
    {"rollout", "{\"revision\":1,\"hash\":\"0123456789abcdef\",\"state\":\"Rolling\"}", "state"},
    {"rollout", "{\"revision\":1,\"hash\":\"0123456789abcdef\",\"state\":0}", "state"},
    {"rollout", "{\"revision\":1,\"hash\":\"0123456789abcdef\",\"state\":\"rolling\","
                "\"rollback\":\"yes\"}", "rollback: must be true or false, got \"yes\""},
    {"rollout", "{\"revision\":1,\"hash\":\"0123456789abcdef\",\"state\":\"rolling\","
                "\"rollback\":1}", "rollback"},
    {"rollout", "{\"revision\":1,\"hash\":\"0123456789abcdef\",\"state\":\"rolling\","
                "\"rollback\":null}", "rollback"},
    {"rollout", "{\"revision\":1,\"hash\":\"0123456789abcdef\",\"state\":\"rolling\","
                "\"updated\":-1}", "updated: must be an integer 0..1000"},
    {"rollout", "{\"revision\":1,\"hash\":\"0123456789abcdef\",\"state\":\"rolling\","
                "\"failed\":1.5}", "failed"},
    {"rollout", "{\"revision\":1,\"hash\":\"0123456789abcdef\",\"state\":\"rolling\","
                "\"total\":1001}", "total"},
    {"rollout", "{\"revision\":1,\"hash\":\"0123456789abcdef\",\"state\":\"rolling\","
                "\"since\":-1}", "since"},
    {"rollout", "{\"revision\":1,\"hash\":\"0123456789abcdef\",\"state\":\"rolling\","
                "\"reason\":5}", "reason"},
    /* authors */
    {"author", "{}", "author: by"},
    {"author", "{\"by\":\"\",\"hash\":\"0123456789abcdef\"}", "author: by: must be not empty"},
    {"author", "{\"by\":5,\"hash\":\"0123456789abcdef\"}", "by"},
    {"author", "{\"by\":\"ci\"}", "author: hash"},
    {"author", "{\"by\":\"ci\",\"hash\":\"0123456789abcdef \"}", "hash"},
    /* revisions */
    {"revision", "null", "revision: must be a JSON object"},
    {"revision", "{\"revision\":7,\"hash\":\"0123456789abcdef\",\"by\":\"etcd\","
                 "\"outcome\":\"rolling\"}", "revision: manifest: must be set, got nothing"},
    {"revision", "{\"revision\":7,\"hash\":\"0123456789abcdef\",\"by\":\"etcd\","
                 "\"outcome\":\"rolling\",\"manifest\":5}", "manifest: must be a string"},
    {"revision", "{\"revision\":7,\"hash\":\"0123456789abcdef\",\"by\":\"etcd\","
                 "\"outcome\":\"rolling\",\"manifest\":null}", "manifest"},
    {"revision", "{\"revision\":7,\"hash\":\"0123456789abcdef\",\"by\":\"etcd\","
                 "\"outcome\":\"rolling\",\"manifest\":\"a\\u0000b\"}", "revision: "},
    {"revision", "{\"revision\":7,\"hash\":\"0123456789abcdef\",\"by\":\"etcd\","
                 "\"outcome\":\"won\",\"manifest\":\"x\"}", "outcome: must be \"rolling\""},
    {"revision", "{\"revision\":7,\"hash\":\"0123456789abcdef\",\"by\":\"etcd\","
                 "\"manifest\":\"x\"}", "outcome"},
    {"revision", "{\"revision\":-7,\"hash\":\"0123456789abcdef\",\"by\":\"etcd\","
                 "\"outcome\":\"rolling\",\"manifest\":\"x\"}", "revision: revision"},
    {"revision", "{\"revision\":7,\"hash\":\"0123456789abcdeF\",\"by\":\"etcd\","
                 "\"outcome\":\"rolling\",\"manifest\":\"x\"}", "hash"},
    {"revision", "{\"revision\":7,\"hash\":\"0123456789abcdef\",\"by\":\"\","
                 "\"outcome\":\"rolling\",\"manifest\":\"x\"}", "by"},
    {"revision", "{\"revision\":7,\"hash\":\"0123456789abcdef\",\"outcome\":\"rolling\","
                 "\"manifest\":\"x\"}", "by"},
    {"revision", "{\"revision\":7,\"hash\":\"0123456789abcdef\",\"by\":\"etcd\",\"at\":1,"
                 "\"outcome\":\"rolling\",\"manifest\":\"x\"}", "at"},
    {"revision", "{\"revision\":7,\"hash\":\"0123456789abcdef\",\"by\":\"etcd\","
                 "\"outcome\":\"rolling\",\"reason\":[],\"manifest\":\"x\"}", "reason"},
};

static void test_malformed_records(void **state)
{
    (void)state;
    unsigned char *out = record_buf;
    for (size_t i = 0; i < sizeof bad_records / sizeof bad_records[0]; i++) {
        err_t err = {0};
        size_t size = 0;
        memset(out, 'x', sizeof record_buf);
        if (decode_as(bad_records[i].record, bad_records[i].json, &err, out, &size, NULL) == 0)
            fail_msg("%s accepted %s", bad_records[i].record, bad_records[i].json);
        assert_int_equal(err.code, ERR_INVALID);
        if (!strstr(err.msg, bad_records[i].says))
            fail_msg("%s: \"%s\" does not say \"%s\"", bad_records[i].json, err.msg,
                     bad_records[i].says);
        for (size_t b = 0; b < size; b++)
            assert_int_equal(out[b], 0);
    }
}

/* What the table above cannot say: the decoded values themselves. */
static void test_decoded_values(void **state)
{
    (void)state;
    keys_placement p;
    keys_status st;
    err_t err;
    const char *handoff = "{\"host\":\"h2\",\"from\":\"h1\",\"since\":1764700000}";
    assert_int_equal(keys_placement_decode(handoff, strlen(handoff), &p, &err), 0);
    assert_string_equal(p.host, "h2");
    assert_string_equal(p.from, "h1");
    assert_int_equal(p.since, 1764700000);
    /* a newer version's field is not an error */
    const char *newer = "{\"host\":\"h1\",\"revision\":3}";
    assert_int_equal(keys_placement_decode(newer, strlen(newer), &p, &err), 0);
    assert_string_equal(p.from, "");

    const char *failed = good_records[3].json;
    assert_int_equal(keys_status_decode(failed, strlen(failed), &st, &err), 0);
    assert_int_equal(st.state, KEYS_STATE_FAILED);
    assert_string_equal(st.container, "a---b---1");
    assert_string_equal(st.error, "image \"x\": not found");

    keys_rebalance rb = {.requested = 1764700000};
    char *json = keys_rebalance_encode(&rb);
    assert_string_equal(json, "{\"requested\":1764700000}");
    free(json);
}

/* An error longer than a status holds is cut on a character, not refused: it is
 * for people, and the instance's state must still be read. */
static void test_status_error_is_cut_on_a_character(void **state)
{
    (void)state;
    keys_status st;
    err_t err;
    char *big = malloc(3000), *text = malloc(2900);
    for (int i = 0; i < 2898; i += 2)
        memcpy(text + i, "\xc3\xa9", 2); /* é */
    text[2898] = '\0';
    snprintf(big, 3000, "{\"host\":\"h1\",\"container\":\"a---b\",\"state\":\"failed\",\"error\":\"%s\"}",
             text);
    assert_int_equal(keys_status_decode(big, strlen(big), &st, &err), 0);
    assert_true(strlen(st.error) < KEYS_ERROR_SIZE);
    assert_int_equal(strlen(st.error) % 2, 0);
    assert_int_equal(st.state, KEYS_STATE_FAILED);
    free(big);
    free(text);
}

/* Records of the versions before rollouts, built from structs whose new fields are
 * unset: the same bytes those versions wrote, so nothing is written again on upgrade. */
static void test_old_records_keep_their_bytes(void **state)
{
    (void)state;
    keys_placement p = {.host = "h2"};
    char *json = keys_placement_encode(&p);
    assert_string_equal(json, good_records[0].json);
    free(json);
    keys_placement handoff = {.host = "h2", .from = "h1", .since = 1764700000};
    json = keys_placement_encode(&handoff);
    assert_string_equal(json, good_records[1].json);
    free(json);
    keys_status st = {.host = "h1", .container = "dummy---nginx", .state = KEYS_STATE_RUNNING,
                      .since = "2026-12-02T17:20:42Z"};
    json = keys_status_encode(&st);
    assert_string_equal(json, good_records[2].json);
    free(json);
    /* and with them set, they are written */
    memcpy(st.hash, "0123456789abcdef", KEYS_HASH_SIZE);
    st.health = KEYS_HEALTH_HEALTHY;
    json = keys_status_encode(&st);
    assert_string_equal(json, "{\"container\":\"dummy---nginx\",\"hash\":\"0123456789abcdef\","
                              "\"health\":\"healthy\",\"host\":\"h1\","
                              "\"since\":\"2026-12-02T17:20:42Z\",\"state\":\"running\"}");
    free(json);
}

static void test_rollout_values(void **state)
{
    (void)state;
    keys_rollout r;
    err_t err;
    const char *json = good_records[17].json;
    if (keys_rollout_decode(json, strlen(json), &r, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(r.revision, KEYS_MAX_REVISION);
    assert_string_equal(r.hash, "fedcba9876543210");
    assert_string_equal(r.stable, "0123456789abcdef");
    assert_int_equal(r.state, KEYS_OUTCOME_PAUSED);
    assert_true(r.rollback);
    assert_int_equal(r.updated, 1000);
    assert_int_equal(r.total, 1000);
    assert_int_equal(r.since, 1764700000);
    assert_string_equal(r.reason, "instance 1: unhealthy: \"curl\" exited 7");

    /* updated, failed, total and since are written even when 0; rollback when true */
    keys_rollout z = {.revision = 2, .hash = "0123456789abcdef", .state = KEYS_OUTCOME_FAILED};
    char *out = keys_rollout_encode(&z);
    assert_string_equal(out, "{\"revision\":2,\"hash\":\"0123456789abcdef\",\"state\":\"failed\","
                             "\"updated\":0,\"failed\":0,\"total\":0,\"since\":0}");
    free(out);
    /* ... and when absent they read as 0 and false */
    const char *bare = "{\"revision\":2,\"hash\":\"0123456789abcdef\",\"state\":\"rolling\"}";
    assert_int_equal(keys_rollout_decode(bare, strlen(bare), &r, &err), 0);
    assert_int_equal(r.state, KEYS_OUTCOME_ROLLING);
    assert_false(r.rollback);
    assert_int_equal(r.updated + r.failed + r.total, 0);
    assert_string_equal(r.stable, "");
    const char *no = "{\"revision\":2,\"hash\":\"0123456789abcdef\",\"state\":\"rolling\","
                     "\"rollback\":false}";
    assert_int_equal(keys_rollout_decode(no, strlen(no), &r, &err), 0);
    assert_false(r.rollback);

    keys_author a;
    json = good_records[18].json;
    assert_int_equal(keys_author_decode(json, strlen(json), &a, &err), 0);
    assert_string_equal(a.by, "alice (admin token 0123456789ab)");
    assert_string_equal(a.hash, "0123456789abcdef");
}

static void test_revision_values(void **state)
{
    (void)state;
    keys_revision r;
    err_t err;
    const char *json = good_records[21].json;
    if (keys_revision_decode(json, strlen(json), &r, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(r.revision, 8);
    assert_string_equal(r.hash, "fedcba9876543210");
    assert_string_equal(r.by, "ci");
    assert_string_equal(r.at, "2026-12-02T17:20:42Z");
    assert_int_equal(r.outcome, KEYS_OUTCOME_ROLLED_BACK);
    assert_string_equal(r.reason, "instance 0: exited 1");
    assert_string_equal(r.manifest, "image: nginx\n");
    keys_revision_free(&r);
    assert_null(r.manifest);
    keys_revision_free(&r); /* twice is harmless */
    keys_revision_free(NULL);

    /* a NULL manifest is written as "", and reads back as an allocated "" */
    keys_revision none = {.revision = 1, .hash = "0123456789abcdef", .by = "etcd",
                          .outcome = KEYS_OUTCOME_ROLLING};
    char *out = keys_revision_encode(&none);
    assert_string_equal(out, "{\"revision\":1,\"hash\":\"0123456789abcdef\",\"by\":\"etcd\","
                             "\"at\":\"\",\"outcome\":\"rolling\",\"manifest\":\"\"}");
    assert_int_equal(keys_revision_decode(out, strlen(out), &r, &err), 0);
    assert_non_null(r.manifest);
    assert_string_equal(r.manifest, "");
    keys_revision_free(&r);
    free(out);

    /* a manifest of MANIFEST_MAX_BYTES is kept whole; one byte more is refused */
    size_t big = MANIFEST_MAX_BYTES + 1, head = 200;
    char *text = malloc(big + head + 8);
    for (int more = 0; more <= 1; more++) {
        int n = snprintf(text, head, "{\"revision\":1,\"hash\":\"0123456789abcdef\",\"by\":\"x\","
                                     "\"outcome\":\"rolling\",\"manifest\":\"");
        memset(text + n, 'm', MANIFEST_MAX_BYTES + (size_t)more);
        strcpy(text + n + MANIFEST_MAX_BYTES + more, "\"}");
        memset(&r, 'x', sizeof r);
        int rc = keys_revision_decode(text, strlen(text), &r, &err);
        if (!more) {
            assert_int_equal(rc, 0);
            assert_int_equal(strlen(r.manifest), MANIFEST_MAX_BYTES);
            keys_revision_free(&r);
        } else {
            assert_int_equal(rc, -1);
            assert_non_null(strstr(err.msg, "revision: manifest: must be a string of at most 1048576 bytes"));
            assert_null(r.manifest);
            assert_int_equal(r.revision, 0);
        }
    }
    free(text);

    /* the by of a revision, for people, is cut on a character rather than refused */
    char by[400], rec[600];
    for (int i = 0; i < 398; i += 2)
        memcpy(by + i, "\xc3\xa9", 2);
    by[398] = '\0';
    snprintf(rec, sizeof rec, "{\"revision\":1,\"hash\":\"0123456789abcdef\",\"by\":\"%s\","
                              "\"outcome\":\"rolling\",\"manifest\":\"x\"}", by);
    assert_int_equal(keys_revision_decode(rec, strlen(rec), &r, &err), 0);
    assert_true(strlen(r.by) < KEYS_BY_SIZE);
    assert_int_equal(strlen(r.by) % 2, 0);
    keys_revision_free(&r);
}

static void test_outcomes_and_health(void **state)
{
    (void)state;
    err_t err;
    enum keys_outcome parsed;
    static const char *const names[] = {"rolling", "rolled-out", "rolled-back",
                                        "paused", "failed", "superseded"};
    for (int o = KEYS_OUTCOME_ROLLING; o <= KEYS_OUTCOME_SUPERSEDED; o++) {
        assert_string_equal(keys_outcome_name((enum keys_outcome)o), names[o]);
        assert_int_equal(keys_outcome_parse(names[o], &parsed, &err), 0);
        assert_int_equal(parsed, o);
    }
    assert_int_equal(keys_outcome_parse("Rolling", &parsed, &err), -1);
    assert_int_equal(err.code, ERR_INVALID);
    assert_non_null(strstr(err.msg, "\"Rolling\""));
    assert_non_null(strstr(err.msg, "\"superseded\""));
    assert_int_equal(keys_outcome_parse(NULL, &parsed, &err), -1);
    assert_int_equal(keys_outcome_parse("", &parsed, NULL), -1);
    assert_string_equal(keys_outcome_name((enum keys_outcome)99), "unknown");

    assert_string_equal(keys_health_name(KEYS_HEALTH_NONE), "");
    assert_string_equal(keys_health_name(KEYS_HEALTH_STARTING), "starting");
    assert_string_equal(keys_health_name(KEYS_HEALTH_HEALTHY), "healthy");
    assert_string_equal(keys_health_name(KEYS_HEALTH_UNHEALTHY), "unhealthy");
    assert_string_equal(keys_health_name((enum keys_health)99), "");
}

static void test_states(void **state)
{
    (void)state;
    err_t err;
    enum keys_state parsed;
    for (int st = KEYS_STATE_UNKNOWN; st <= KEYS_STATE_INVALID; st++) {
        assert_int_equal(keys_state_parse(keys_state_name((enum keys_state)st), &parsed, &err), 0);
        assert_int_equal(parsed, st);
    }
    assert_int_equal(keys_state_parse("Running", &parsed, &err), -1);
    assert_non_null(strstr(err.msg, "\"Running\""));
    assert_string_equal(keys_state_name((enum keys_state)99), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_keys),    cmocka_unit_test(test_prefixes),
        cmocka_unit_test(test_builder_never_cuts), cmocka_unit_test(test_instance_numbers),
        cmocka_unit_test(test_malformed_keys),     cmocka_unit_test(test_check_host),
        cmocka_unit_test(test_round_trip_records), cmocka_unit_test(test_malformed_records),
        cmocka_unit_test(test_decoded_values),
        cmocka_unit_test(test_status_error_is_cut_on_a_character),
        cmocka_unit_test(test_states),
        cmocka_unit_test(test_revision_keys),      cmocka_unit_test(test_rollout_author_keys),
        cmocka_unit_test(test_next_containers),
        cmocka_unit_test(test_old_records_keep_their_bytes),
        cmocka_unit_test(test_rollout_values),     cmocka_unit_test(test_revision_values),
        cmocka_unit_test(test_outcomes_and_health),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
