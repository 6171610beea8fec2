/* test_err.c - the error object's text stays UTF-8 when it is cut (lib/err.c).
 * A message longer than err_t.msg was cut at a byte count by vsnprintf and by
 * err_prefix, so the last character could be split; the API and the v2 endpoint
 * answer the text in JSON, where a broken sequence becomes a 500. Now a cut drops
 * the incomplete character whole. */
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dokkaa/err.h"

static bool is_utf8(const char *s)
{
    json_t *j = json_string(s);
    json_decref(j);
    return j != NULL;
}

/* pad ASCII bytes, then as many copies of ch as fill past the buffer. */
static void fill(char *buf, size_t size, size_t pad, const char *ch)
{
    memset(buf, 'a', pad);
    size_t at = pad, n = strlen(ch);
    while (at + n < size) {
        memcpy(buf + at, ch, n);
        at += n;
    }
    buf[at] = '\0';
}

static const char *const chars[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};

/* err_set: every alignment of 2-, 3- and 4-byte characters against the end. */
static void test_set_cuts_whole_characters(void **state)
{
    (void)state;
    static char long_text[4096];
    for (size_t c = 0; c < 3; c++)
        for (size_t pad = 0; pad < 4; pad++) {
            err_t err;
            fill(long_text, sizeof long_text, pad, chars[c]);
            assert_int_equal(err_set(&err, ERR_INVALID, "%s", long_text), -1);
            if (!is_utf8(err.msg))
                fail_msg("char %zu, pad %zu: err_set left a broken character", c, pad);
            assert_true(strlen(err.msg) >= sizeof err.msg - 4); /* only the tail went */
            assert_memory_equal(err.msg, long_text, strlen(err.msg));
        }
}

/* err_prefix on a full message: the context stays whole, the message loses its tail
 * at a character boundary. */
static void test_prefix_cuts_whole_characters(void **state)
{
    (void)state;
    static char long_text[4096];
    for (size_t c = 0; c < 3; c++)
        for (size_t pad = 0; pad < 4; pad++)
            for (size_t ctx = 1; ctx < 5; ctx++) {
                err_t err;
                fill(long_text, sizeof long_text, pad, chars[c]);
                err_set(&err, ERR_INVALID, "%s", long_text);
                char context[8] = "xyzw";
                context[ctx] = '\0';
                assert_int_equal(err_prefix(&err, "%s", context), -1);
                if (!is_utf8(err.msg))
                    fail_msg("char %zu, pad %zu, context %zu: broken character", c, pad, ctx);
                assert_memory_equal(err.msg, context, ctx);
                assert_memory_equal(err.msg + ctx, ": ", 2);
            }
}

/* A context longer than err_prefix's own buffer is cut the same way. */
static void test_prefix_long_context(void **state)
{
    (void)state;
    static char long_context[2048];
    for (size_t c = 0; c < 3; c++)
        for (size_t pad = 0; pad < 4; pad++) {
            err_t err;
            err_set(&err, ERR_UNAVAIL, "connection refused");
            fill(long_context, sizeof long_context, pad, chars[c]);
            err_prefix(&err, "%s", long_context);
            if (!is_utf8(err.msg))
                fail_msg("char %zu, pad %zu: the context was cut inside a character", c, pad);
            assert_non_null(strstr(err.msg, ": connection refused"));
        }
}

/* err_sys appends strerror after a message that already fills the buffer. */
static void test_sys_full_message(void **state)
{
    (void)state;
    static char long_text[4096];
    for (size_t pad = 0; pad < 4; pad++) {
        err_t err;
        fill(long_text, sizeof long_text, pad, chars[2]);
        long_text[sizeof err.msg - 8 + pad] = '\0'; /* room for part of ": <strerror>" */
        errno = ENOENT;
        err_sys(&err, "%s", long_text);
        assert_int_equal(err.sys_errno, ENOENT);
        assert_true(is_utf8(err.msg));
        assert_int_equal(errno, ENOENT);
    }
}

/* Short texts are untouched, and a NULL err is allowed. */
static void test_short_and_null(void **state)
{
    (void)state;
    err_t err;
    err_set(&err, ERR_NOTFOUND, "no key %s", "/apps/\xc3\xa9t\xc3\xa9");
    assert_string_equal(err.msg, "no key /apps/\xc3\xa9t\xc3\xa9");
    err_prefix(&err, "get");
    assert_string_equal(err.msg, "get: no key /apps/\xc3\xa9t\xc3\xa9");
    assert_int_equal(err_set(NULL, ERR_INVALID, "x"), -1);
    assert_int_equal(err_prefix(NULL, "x"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_cuts_whole_characters),
        cmocka_unit_test(test_prefix_cuts_whole_characters),
        cmocka_unit_test(test_prefix_long_context),
        cmocka_unit_test(test_sys_full_message),
        cmocka_unit_test(test_short_and_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
