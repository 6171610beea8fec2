/* test_names_quote.c - how a value is quoted in an error message (names_quote,
 * lib/names.c). Found by fuzz/fuzz_manifest (its regression input is
 * fuzz/corpus/manifest/regression_quote_cut_utf8.json): escapes make a control
 * character take 4 bytes, so the buffer could fill before the value's cut, and the
 * quote then stopped inside a multi-byte character; the message was no longer
 * UTF-8, and the API and the v2 endpoint, which answer it in JSON, failed. Now a
 * character goes in whole or not at all. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dokkaa/manifest.h"
#include "dokkaa/names.h"

static bool is_utf8(const char *s)
{
    json_t *j = json_string(s);
    json_decref(j);
    return j != NULL;
}

/* n DEL bytes (4 bytes each once escaped), then "images" and an emoji (4 bytes). */
static size_t hostile(char *buf, size_t n)
{
    memset(buf, 0x7f, n);
    strcpy(buf + n, "images\xf0\x9f\x98\x80" "cale");
    return strlen(buf);
}

/* Every number of escapes before the character, in the buffer the callers use. */
static void test_full_buffer_never_cuts_a_character(void **state)
{
    (void)state;
    for (size_t n = 0; n <= 40; n++) {
        char value[128], quoted[128];
        size_t len = hostile(value, n);
        names_quote(value, len, quoted, sizeof quoted);
        if (!is_utf8(quoted))
            fail_msg("%zu escapes: not UTF-8: %s", n, quoted);
        assert_true(strlen(quoted) < sizeof quoted);
        assert_int_equal(quoted[strlen(quoted) - 1], '"');
    }
}

/* The smallest buffer names.h allows, and characters of every length. */
static void test_small_buffers(void **state)
{
    (void)state;
    static const char *const values[] = {"é", "€€€€€€", "😀😀😀", "a\"b\\c", "\x01\x02é"};
    for (size_t v = 0; v < sizeof values / sizeof *values; v++)
        for (size_t size = 16; size <= 40; size++) {
            char quoted[40];
            names_quote(values[v], strlen(values[v]), quoted, size);
            if (!is_utf8(quoted) || strlen(quoted) >= size)
                fail_msg("\"%s\" in %zu bytes: %s", values[v], size, quoted);
        }
}

/* What fits is kept as it was. */
static void test_short_values_unchanged(void **state)
{
    (void)state;
    char quoted[128];
    names_quote("web-1 é\n", 9, quoted, sizeof quoted);
    assert_string_equal(quoted, "\"web-1 é\\x0a\"");
}

/* Bytes that start no character (a stray continuation byte, a lead byte without
 * its continuation, an overlong form) are escaped: the quote of a key read from a
 * URL (/v2/keys/apps/%FF/...) made the v2 endpoint's JSON answer fail with 500. */
static void test_invalid_bytes_are_escaped(void **state)
{
    (void)state;
    char quoted[128];
    names_quote("\xff", 1, quoted, sizeof quoted);
    assert_string_equal(quoted, "\"\\xff\"");
    names_quote("a\x80" "b\xc3", 4, quoted, sizeof quoted);
    assert_string_equal(quoted, "\"a\\x80b\\xc3\"");
    names_quote("\xc0\xafé", 4, quoted, sizeof quoted);
    assert_string_equal(quoted, "\"\\xc0\\xafé\"");
    assert_true(is_utf8(quoted));
}

/* The fuzzer's input, through the parser: the unknown field's name is quoted. */
static void test_manifest_message(void **state)
{
    (void)state;
    char json[256] = "{\"";
    manifest m;
    err_t err = {0};
    size_t n = strlen(json);
    n += hostile(json + n, 30);
    strcpy(json + n, "\":\"3\"}");
    assert_int_equal(manifest_parse(json, strlen(json), &m, &err), -1);
    if (!is_utf8(err.msg))
        fail_msg("not UTF-8: %s", err.msg);
    assert_non_null(strstr(err.msg, "valid fields"));
}

/* names_utf8_scrub: the text of an error that quotes a client's path. Found by
 * fuzz/fuzz_builder (regression input fuzz/corpus/builder/
 * regression_v2_prefix_not_utf8): "PUT /v2/keys\xafapps/..." was refused with a
 * message quoting the path, which JSON could not carry, and the answer became a
 * 500 "could not be encoded". */
static void test_scrub(void **state)
{
    (void)state;
    char buf[64];
    names_utf8_scrub("/v2/keys\xaf" "apps", buf, sizeof buf);
    assert_string_equal(buf, "/v2/keys\xef\xbf\xbd" "apps");
    names_utf8_scrub("caf\xc3\xa9 \xed\xa0\x80 \xc0\xaf \xf4\x90\x80\x80", buf, sizeof buf);
    assert_true(is_utf8(buf)); /* a surrogate, an overlong '/', past U+10FFFF */
    assert_memory_equal(buf, "caf\xc3\xa9 \xef\xbf\xbd", 9);
    names_utf8_scrub("plain", buf, sizeof buf);
    assert_string_equal(buf, "plain");
    /* a small buffer: whole characters only */
    for (size_t size = 4; size < 12; size++) {
        char small[12];
        names_utf8_scrub("a\xff\xff\xe2\x82\xac\xff", small, size);
        if (!is_utf8(small) || strlen(small) >= size)
            fail_msg("size %zu: %s", size, small);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_buffer_never_cuts_a_character),
        cmocka_unit_test(test_small_buffers),
        cmocka_unit_test(test_short_values_unchanged),
        cmocka_unit_test(test_manifest_message),
        cmocka_unit_test(test_invalid_bytes_are_escaped),
        cmocka_unit_test(test_scrub),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
