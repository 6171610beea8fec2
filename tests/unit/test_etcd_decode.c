/* test_etcd_decode.c - the etcd client's decoders (lib/etcd.c, through
 * lib/etcd_internal.h) on answers no healthy etcd sends: the watch stream, a range,
 * the lease answers. No server: the bytes are fed as the network would cut them.
 * Issue 12, defect 6: a revision of 2^63-1 made `next_rev + 1` overflow (a
 * sanitized daemon aborted); a revision out of 0..ETCD_REVISION_MAX, or one that is
 * not a decimal integer at all, is now a decode error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "etcd_internal.h"

#define KEY_B64 "L2FwcHMvYS9iL21hbmlmZXN0" /* /apps/a/b/manifest */
#define VALUE_B64 "eyJpbWFnZSI6IngifQ=="   /* {"image":"x"} */

/* A watch message with one PUT event at mod_revision rev (the text as etcd writes it). */
#define EVENT(rev)                                                                        \
    "{\"result\":{\"header\":{\"revision\":\"" rev "\"},\"events\":[{\"kv\":{\"key\":\"" \
    KEY_B64 "\",\"value\":\"" VALUE_B64 "\",\"create_revision\":\"5\",\"mod_revision\":\"" \
    rev "\",\"version\":\"1\"}}]}}\n"

static int delivered;
static int64_t last_rev;

static bool count_events(void *ud, const etcd_event *events, size_t n)
{
    (void)ud;
    delivered += (int)n;
    last_rev = events[n - 1].kv.mod_revision;
    return true;
}

/* Feed text to a fresh watch that expects revision next_rev, in chunks of cut bytes. */
static struct etcd_watch feed(const char *text, int64_t next_rev, size_t cut)
{
    struct etcd_watch w = {.fn = count_events, .next_rev = next_rev,
                           .state = ETCD_WATCH_RUNNING};
    size_t len = strlen(text);
    delivered = 0;
    last_rev = 0;
    for (size_t at = 0; at < len; at += cut)
        if (!etcd_watch_on_chunk(&w, text + at, len - at < cut ? len - at : cut))
            break;
    free(w.split.buf);
    w.split.buf = NULL;
    return w;
}

static void test_watch_delivers_and_resumes_after(void **state)
{
    (void)state;
    struct etcd_watch w = feed("{\"result\":{\"created\":true}}\n" EVENT("7") EVENT("8"), 7, 5);
    assert_int_equal(w.state, ETCD_WATCH_RUNNING);
    assert_true(w.created);
    assert_int_equal(delivered, 2);
    assert_int_equal(w.next_rev, 9);
}

/* The defect: 2^63-1 was delivered and next_rev became 2^63 (signed overflow). */
static void test_watch_refuses_the_largest_revision(void **state)
{
    (void)state;
    struct etcd_watch w = feed(EVENT("9223372036854775807"), 7, 64);
    assert_int_equal(w.state, ETCD_WATCH_FAILED);
    assert_int_equal(w.err.code, ERR_REMOTE);
    assert_non_null(strstr(w.err.msg, "undecodable"));
    assert_int_equal(delivered, 0);
    assert_int_equal(w.next_rev, 7);
}

/* strtoll saturated these at INT64_MAX, or read a prefix of them. */
static void test_watch_refuses_revisions_that_are_not_integers(void **state)
{
    (void)state;
    const char *bad[] = {
        EVENT("99999999999999999999"), EVENT("-3"), EVENT("12abc"), EVENT(""), EVENT(" 12"),
        EVENT("0x10"),
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct etcd_watch w = feed(bad[i], 1, 1000);
        assert_int_equal(w.state, ETCD_WATCH_FAILED);
        assert_int_equal(delivered, 0);
    }
    /* The largest revision that still resumes is delivered. */
    struct etcd_watch w = feed(EVENT("9223372036854775806"), 1, 1000);
    assert_int_equal(w.state, ETCD_WATCH_RUNNING);
    assert_int_equal(delivered, 1);
    assert_int_equal(last_rev, ETCD_REVISION_MAX);
    assert_int_equal(w.next_rev, INT64_MAX);
}

static void test_watch_refuses_a_bad_compact_revision(void **state)
{
    (void)state;
    struct etcd_watch w = feed("{\"result\":{\"compact_revision\":\"9223372036854775807\"}}", 1, 8);
    assert_int_equal(w.state, ETCD_WATCH_FAILED);
    assert_int_equal(w.err.code, ERR_REMOTE);
    w = feed("{\"result\":{\"compact_revision\":\"40\"}}", 3, 8);
    assert_int_equal(w.state, ETCD_WATCH_FAILED);
    assert_int_equal(w.err.code, ERR_COMPACTED);
    assert_int_equal(w.compact_rev, 40);
}

static json_t *load(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    return j;
}

/* The second `+ 1`: a watch "from now on" pinned at header.revision + 1. */
static void test_watch_start_refuses_the_largest_revision(void **state)
{
    (void)state;
    err_t err = {0};
    int64_t next = 0;
    json_t *ok = load("{\"header\":{\"revision\":\"41\"}}");
    json_t *max = load("{\"header\":{\"revision\":\"9223372036854775807\"}}");
    assert_int_equal(etcd_watch_start_decode(ok, &next, &err), 0);
    assert_int_equal(next, 42);
    assert_int_equal(etcd_watch_start_decode(max, &next, &err), -1);
    assert_int_equal(err.code, ERR_REMOTE);
    json_decref(ok);
    json_decref(max);
}

static void test_range_refuses_bad_revisions(void **state)
{
    (void)state;
    err_t err = {0};
    etcd_kvs kvs;
    json_t *ok = load("{\"header\":{\"revision\":\"9\"},\"kvs\":[{\"key\":\"" KEY_B64
                      "\",\"value\":\"" VALUE_B64 "\",\"mod_revision\":\"9\"}],\"count\":\"1\"}");
    json_t *header = load("{\"header\":{\"revision\":\"9223372036854775807\"}}");
    json_t *kv = load("{\"header\":{\"revision\":\"9\"},\"kvs\":[{\"key\":\"" KEY_B64
                      "\",\"mod_revision\":\"92233720368547758070\"}]}");
    assert_int_equal(etcd_kvs_decode(ok, "kvs", &kvs, &err), 0);
    assert_int_equal(kvs.n, 1);
    assert_int_equal(kvs.revision, 9);
    assert_string_equal(kvs.kvs[0].key, "/apps/a/b/manifest");
    assert_string_equal(kvs.kvs[0].value, "{\"image\":\"x\"}");
    etcd_kvs_free(&kvs);
    assert_int_equal(etcd_kvs_decode(header, "kvs", &kvs, &err), -1);
    assert_int_equal(kvs.n, 0);
    assert_int_equal(etcd_kvs_decode(kv, "kvs", &kvs, &err), -1);
    assert_int_equal(kvs.n, 0);
    json_decref(ok);
    json_decref(header);
    json_decref(kv);
}

static void test_leases(void **state)
{
    (void)state;
    err_t err = {0};
    int64_t v;
    etcd_keepalive ka;
    etcd_kvs keys;
    json_t *grant = load("{\"ID\":\"7587862072907254810\",\"TTL\":\"5\"}");
    json_t *denied = load("{\"error\":\"etcdserver: too many requests\"}");
    json_t *bad = load("{\"ID\":\"-2\"}");
    json_t *alive = load("{\"result\":{\"header\":{\"revision\":\"9\",\"raft_term\":\"7\"},"
                         "\"ID\":\"1\",\"TTL\":\"4\"}}");
    json_t *gone = load("{\"result\":{\"ID\":\"1\"}}");
    json_t *ttl = load("{\"header\":{\"revision\":\"3\"},\"keys\":[\"" KEY_B64 "\",\"%%%\",7]}");
    assert_int_equal(etcd_lease_grant_decode(grant, &v, &err), 0);
    assert_int_equal(v, 7587862072907254810LL);
    assert_int_equal(etcd_lease_grant_decode(denied, &v, &err), -1);
    assert_non_null(strstr(err.msg, "too many requests"));
    assert_int_equal(etcd_lease_grant_decode(bad, &v, &err), -1);
    assert_int_equal(etcd_lease_keepalive_decode(alive, 1, &ka, &err), 0);
    assert_int_equal(ka.ttl, 4);
    assert_int_equal(ka.term, 7);
    assert_int_equal(etcd_lease_keepalive_decode(gone, 1, &ka, &err), 0);
    assert_int_equal(ka.ttl, 0);
    assert_int_equal(ka.term, 0); /* not said */
    assert_int_equal(etcd_lease_keepalive_decode(denied, 1, &ka, &err), -1);
    assert_int_equal(etcd_lease_keys_decode(ttl, 1, &keys, &err), 0);
    assert_int_equal(keys.n, 1); /* the undecodable two are left out */
    assert_string_equal(keys.kvs[0].key, "/apps/a/b/manifest");
    etcd_kvs_free(&keys);
    json_decref(grant);
    json_decref(denied);
    json_decref(bad);
    json_decref(alive);
    json_decref(gone);
    json_decref(ttl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_watch_delivers_and_resumes_after),
        cmocka_unit_test(test_watch_refuses_the_largest_revision),
        cmocka_unit_test(test_watch_refuses_revisions_that_are_not_integers),
        cmocka_unit_test(test_watch_refuses_a_bad_compact_revision),
        cmocka_unit_test(test_watch_start_refuses_the_largest_revision),
        cmocka_unit_test(test_range_refuses_bad_revisions),
        cmocka_unit_test(test_leases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
