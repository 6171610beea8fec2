/* test_history.c - the event stream's history (src/builder/history.c): bounded in
 * bytes as well as in count, readers that fall behind or come from before a gap
 * are told so, and a Last-Event-ID resumes where it should. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "history.h"

/* A change of key "/k" whose value is n bytes of 'x', at revision rev. */
static void push_value(history *h, size_t n, int64_t rev)
{
    char *v = malloc(n + 1);
    assert_non_null(v);
    memset(v, 'x', n);
    v[n] = '\0';
    history_push(h, ETCD_EVENT_PUT, "/k", v, n, rev);
    free(v);
}

static void test_bytes_bound_evicts_the_oldest(void **state)
{
    (void)state;
    history h;
    size_t one = history_size("/k", 1000);
    assert_int_equal(history_init(&h, 4096, 10 * one), 0);
    history_gap(&h, 1); /* the first read, at revision 1 */
    for (int i = 0; i < 25; i++) {
        push_value(&h, 1000, 2 + i);
        assert_true(h.bytes <= 10 * one);
    }
    /* the newest 10 kept, not the 4096 a count alone would keep */
    assert_int_equal(h.bytes, 10 * one);
    assert_int_equal(h.seq - h.first + 1, 10);
    bool lost;
    const history_entry *e = history_next(&h, h.first - 1, &lost);
    assert_false(lost);
    assert_non_null(e);
    assert_int_equal(e->revision, 2 + 15);
    assert_int_equal(e->value_len, 1000);
    /* a reader at an evicted change is lost, and infinitely behind */
    assert_null(history_next(&h, h.first - 2, &lost));
    assert_true(lost);
    assert_int_equal(history_backlog(&h, h.first - 2), UINT64_MAX);
    history_free(&h);
}

static void test_count_bound_still_holds(void **state)
{
    (void)state;
    history h;
    assert_int_equal(history_init(&h, 8, 1 << 20), 0);
    history_gap(&h, 1);
    for (int i = 0; i < 20; i++)
        push_value(&h, 10, 2 + i);
    assert_int_equal(h.seq - h.first + 1, 8);
    assert_int_equal(h.bytes, 8 * history_size("/k", 10));
    history_free(&h);
}

static void test_backlog_counts_bytes_after_the_cursor(void **state)
{
    (void)state;
    history h;
    assert_int_equal(history_init(&h, 64, 1 << 20), 0);
    history_gap(&h, 1);
    uint64_t start = h.seq;
    push_value(&h, 100, 2);
    push_value(&h, 200, 3);
    push_value(&h, 300, 4);
    assert_int_equal(history_backlog(&h, start),
                     history_size("/k", 100) + history_size("/k", 200) + history_size("/k", 300));
    assert_int_equal(history_backlog(&h, start + 2), history_size("/k", 300));
    assert_int_equal(history_backlog(&h, h.seq), 0);
    /* still right after older changes were evicted */
    h.max_bytes = history_size("/k", 300) + history_size("/k", 400);
    push_value(&h, 400, 5);
    assert_int_equal(h.seq - h.first + 1, 2);
    assert_int_equal(history_backlog(&h, h.first - 1),
                     history_size("/k", 300) + history_size("/k", 400));
    history_free(&h);
}

static void test_a_change_larger_than_the_history_is_a_gap(void **state)
{
    (void)state;
    history h;
    bool lost;
    assert_int_equal(history_init(&h, 64, 4096), 0);
    history_gap(&h, 1);
    push_value(&h, 100, 2);
    uint64_t reader = h.seq;
    push_value(&h, 8192, 3); /* larger than the whole history: not kept */
    assert_int_equal(h.bytes, 0);
    assert_null(history_next(&h, reader, &lost));
    assert_true(lost); /* the reader must read afresh, which shows the change */
    assert_int_equal(history_backlog(&h, reader), 0);
    /* a reader from after the gap goes on */
    reader = h.seq;
    push_value(&h, 10, 4);
    const history_entry *e = history_next(&h, reader, &lost);
    assert_false(lost);
    assert_non_null(e);
    assert_int_equal(e->revision, 4);
    history_free(&h);
}

static void test_gap_loses_readers_from_before_it(void **state)
{
    (void)state;
    history h;
    bool lost;
    assert_int_equal(history_init(&h, 64, 1 << 20), 0);
    assert_int_equal(history_seq_at(&h, 5), 0); /* nothing read yet */
    history_gap(&h, 10);
    uint64_t at_read = h.seq;
    assert_null(history_next(&h, at_read, &lost));
    assert_false(lost); /* up to date, nothing new */
    push_value(&h, 1, 11);
    push_value(&h, 1, 12);
    uint64_t before = h.seq;
    history_gap(&h, 20);
    assert_int_equal(h.bytes, 0);
    assert_null(history_next(&h, before, &lost));
    assert_true(lost);
    history_free(&h);
}

static void test_seq_at_resumes_after_the_last_seen_revision(void **state)
{
    (void)state;
    history h;
    assert_int_equal(history_init(&h, 64, 1 << 20), 0);
    history_gap(&h, 10);
    uint64_t gap = h.seq;
    push_value(&h, 1, 11);
    push_value(&h, 1, 12); /* two changes of one txn share a revision */
    push_value(&h, 1, 12);
    push_value(&h, 1, 13);
    assert_int_equal(history_seq_at(&h, 9), 0);       /* before the read */
    assert_int_equal(history_seq_at(&h, 10), gap);    /* everything after it */
    assert_int_equal(history_seq_at(&h, 11), gap + 1);
    assert_int_equal(history_seq_at(&h, 12), gap + 3);
    assert_int_equal(history_seq_at(&h, 99), gap + 4); /* up to date */
    /* once the oldest are evicted, a client must have seen the oldest kept one's
     * revision: what was evicted may have come after what it saw */
    h.max_bytes = 2 * history_size("/k", 1);
    push_value(&h, 1, 14); /* keeps 13 and 14 */
    assert_int_equal(history_seq_at(&h, 12), 0);
    assert_int_equal(history_seq_at(&h, 13), gap + 4);
    history_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bytes_bound_evicts_the_oldest),
        cmocka_unit_test(test_count_bound_still_holds),
        cmocka_unit_test(test_backlog_counts_bytes_after_the_cursor),
        cmocka_unit_test(test_a_change_larger_than_the_history_is_a_gap),
        cmocka_unit_test(test_gap_loses_readers_from_before_it),
        cmocka_unit_test(test_seq_at_resumes_after_the_last_seen_revision),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
