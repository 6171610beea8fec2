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

/* Decode json as the record named (keys_<record>_decode), for the table below. */
/* Decode json as the record named (keys_<record>_decode) into out; with again set,
 * encode what was decoded into *again (free it). For the tables below. */
static int decode_as(const char *record, const char *json, err_t *err, unsigned char *out,
                     size_t *size, char **again)
{
    size_t len = strlen(json);
#define DECODE_AS(type)                                                                  \
    if (strcmp(record, #type) == 0) {                                                   \
        keys_##type *r = (keys_##type *)(void *)out;                                     \
        *size = sizeof *r;                                                               \
        int rc = keys_##type##_decode(json, len, r, err);                                \
        if (again)                                                                       \
            *again = rc == 0 ? keys_##type##_encode(r) : NULL;                           \
        return rc;                                                                       \
    }
    DECODE_AS(placement)
    DECODE_AS(status)
    DECODE_AS(service)
    DECODE_AS(host)
    DECODE_AS(link)
    DECODE_AS(leader)
    DECODE_AS(token)
#undef DECODE_AS
    fail_msg("no record %s", record);
    return -1;
}

static _Alignas(max_align_t) unsigned char record_buf[sizeof(keys_status) + sizeof(keys_host)];

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
    {"token", "{\"id\":\"0123456789ab\",\"name\":\"ci\",\"role\":\"root\"}", "role"},
    {"token", "{\"id\":\"0123456789ab\",\"name\":\"ci\",\"role\":\"anonymous\"}", "role"},
    {"token", "{\"name\":\"ci\",\"role\":\"admin\"}", "id"},
    {"token", "{\"id\":\"0123456789abcdef\",\"name\":\"ci\",\"role\":\"admin\"}", "id"},
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
