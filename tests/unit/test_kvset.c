/* test_kvset.c - unit tests for the conductor's string sets (src/conductor/kvset.c):
 * set, append, get, delete, sort and clear. announce_sync (announce.c), which
 * writes them to etcd, is left to the end-to-end suite. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kvset.h"

static void test_set_then_get(void **state)
{
    (void)state;
    kvset s = {0};
    assert_int_equal(kvset_set(&s, "/a", "1"), 0);
    assert_int_equal(kvset_set(&s, "/b", "2"), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(kvset_get(&s, "/a"), "1");
    assert_string_equal(kvset_get(&s, "/b"), "2");
    assert_null(kvset_get(&s, "/c"));
    kvset_clear(&s);
}

static void test_get_on_empty_set_is_null(void **state)
{
    (void)state;
    kvset s = {0};
    assert_null(kvset_get(&s, "/a"));
    kvset_del(&s, "/a");
    kvset_sort(&s);
    assert_int_equal(s.n, 0);
    kvset_clear(&s);
}

static void test_set_existing_key_replaces_value(void **state)
{
    (void)state;
    kvset s = {0};
    kvset_set(&s, "/a", "1");
    assert_int_equal(kvset_set(&s, "/a", "2"), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(kvset_get(&s, "/a"), "2");
    kvset_clear(&s);
}

static void test_set_copies_key_and_value(void **state)
{
    (void)state;
    kvset s = {0};
    char key[] = "/a", value[] = "1";
    kvset_set(&s, key, value);
    key[1] = 'z';
    value[0] = '9';
    assert_string_equal(kvset_get(&s, "/a"), "1");
    assert_null(kvset_get(&s, "/z"));
    kvset_clear(&s);
}

static void test_append_adds_without_lookup(void **state)
{
    (void)state;
    kvset s = {0};
    char key[] = "/b";
    assert_int_equal(kvset_append(&s, "/a", "1"), 0);
    assert_int_equal(kvset_append(&s, key, "2"), 0);
    key[1] = 'z'; /* copied, like kvset_set's */
    assert_int_equal(s.n, 2);
    assert_string_equal(s.kvs[0].key, "/a");
    assert_string_equal(kvset_get(&s, "/b"), "2");
    assert_null(kvset_get(&s, "/z"));
    kvset_clear(&s);
}

static void test_del_removes_only_that_key(void **state)
{
    (void)state;
    kvset s = {0};
    kvset_set(&s, "/a", "1");
    kvset_set(&s, "/b", "2");
    kvset_set(&s, "/c", "3");
    kvset_del(&s, "/a");
    assert_int_equal(s.n, 2);
    assert_null(kvset_get(&s, "/a"));
    assert_string_equal(kvset_get(&s, "/b"), "2");
    assert_string_equal(kvset_get(&s, "/c"), "3");
    kvset_del(&s, "/c");
    assert_int_equal(s.n, 1);
    assert_string_equal(kvset_get(&s, "/b"), "2");
    kvset_clear(&s);
}

static void test_del_missing_key_is_a_no_op(void **state)
{
    (void)state;
    kvset s = {0};
    kvset_set(&s, "/a", "1");
    kvset_del(&s, "/b");
    kvset_del(&s, "/");
    assert_int_equal(s.n, 1);
    assert_string_equal(kvset_get(&s, "/a"), "1");
    kvset_clear(&s);
}

static void test_sort_orders_by_key(void **state)
{
    (void)state;
    kvset s = {0};
    const char *keys[] = {"/services/b/x/2", "/services/a/x/1", "/services/b/x/1", "/a"};
    for (size_t i = 0; i < 4; i++)
        kvset_set(&s, keys[i], keys[i]);
    kvset_sort(&s);
    assert_string_equal(s.kvs[0].key, "/a");
    assert_string_equal(s.kvs[1].key, "/services/a/x/1");
    assert_string_equal(s.kvs[2].key, "/services/b/x/1");
    assert_string_equal(s.kvs[3].key, "/services/b/x/2");
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(s.kvs[i].value, s.kvs[i].key);
    kvset_clear(&s);
}

static void test_clear_empties_and_set_can_be_reused(void **state)
{
    (void)state;
    kvset s = {0};
    kvset_set(&s, "/a", "1");
    kvset_set(&s, "/b", "2");
    kvset_clear(&s);
    assert_int_equal(s.n, 0);
    assert_null(s.kvs);
    assert_null(kvset_get(&s, "/a"));
    kvset_clear(&s);
    kvset_set(&s, "/c", "3");
    assert_int_equal(s.n, 1);
    assert_string_equal(kvset_get(&s, "/c"), "3");
    kvset_clear(&s);
}

static bool keep_b(const char *key, void *ctx)
{
    (*(int *)ctx)++;
    return key[1] == 'b';
}

static void test_retain_keeps_only_what_the_predicate_keeps(void **state)
{
    (void)state;
    kvset s = {0};
    int calls = 0;
    kvset_set(&s, "/a", "1");
    kvset_set(&s, "/b1", "2");
    kvset_set(&s, "/c", "3");
    kvset_set(&s, "/b2", "4");
    assert_int_equal(kvset_retain(&s, keep_b, &calls), 2);
    assert_int_equal(calls, 4);
    assert_int_equal(s.n, 2);
    assert_null(kvset_get(&s, "/a"));
    assert_null(kvset_get(&s, "/c"));
    assert_string_equal(kvset_get(&s, "/b1"), "2");
    assert_string_equal(kvset_get(&s, "/b2"), "4");
    assert_int_equal(kvset_retain(&s, keep_b, &calls), 0);
    kvset_clear(&s);
    assert_int_equal(kvset_retain(&s, keep_b, &calls), 0); /* empty */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_then_get),
        cmocka_unit_test(test_get_on_empty_set_is_null),
        cmocka_unit_test(test_set_existing_key_replaces_value),
        cmocka_unit_test(test_set_copies_key_and_value),
        cmocka_unit_test(test_append_adds_without_lookup),
        cmocka_unit_test(test_del_removes_only_that_key),
        cmocka_unit_test(test_del_missing_key_is_a_no_op),
        cmocka_unit_test(test_sort_orders_by_key),
        cmocka_unit_test(test_clear_empties_and_set_can_be_reused),
        cmocka_unit_test(test_retain_keeps_only_what_the_predicate_keeps),
    };
    return cmocka_run_group_tests_name("kvset", tests, NULL, NULL) ? 1 : 0;
}
