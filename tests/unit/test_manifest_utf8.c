/* test_manifest_utf8.c - manifest_parse's messages are valid UTF-8 whatever the
 * input (lib/manifest.c). Issue 12, defect 5: jansson's "near '...'" quoted the
 * bytes its lexer had read, and an invalid escape before a multi-byte character
 * ("\€") cut the character after its first byte; the v2 endpoint, which answers
 * the message in JSON, then failed with 500 and the API answered another message.
 * Validity is checked the way those callers meet it: jansson refuses to make a JSON
 * string of text that is not UTF-8. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dokkaa/manifest.h"

static bool is_utf8(const char *s)
{
    json_t *j = json_string(s);
    json_decref(j);
    return j != NULL;
}

/* Parse text; it must fail, with a valid UTF-8 message that contains want. */
static void assert_fails_cleanly(const char *text, const char *want)
{
    manifest m;
    err_t err = {0};
    assert_int_equal(manifest_parse(text, strlen(text), &m, &err), -1);
    assert_int_equal(err.code, ERR_INVALID);
    if (!is_utf8(err.msg))
        fail_msg("not UTF-8: %s", err.msg);
    if (want && !strstr(err.msg, want))
        fail_msg("\"%s\" not in: %s", want, err.msg);
}

/* The message shows the input's backslash, then the cut byte as \xNN. */
static void test_invalid_escape_before_a_multibyte_character(void **state)
{
    (void)state;
    assert_fails_cleanly("{\"image\":\"\\€\"}", "invalid escape near '\"\\\\xe2'");
    assert_fails_cleanly("{\"image\":\"\\é\"}", "invalid escape near '\"\\\\xc3'");
    assert_fails_cleanly("{\"image\":\"\\😀\"}", "invalid escape");
    assert_fails_cleanly("1\"-1-1[u:\\€atrue \n", NULL);
}

/* What valid UTF-8 there is stays as it is. */
static void test_valid_text_is_kept(void **state)
{
    (void)state;
    assert_fails_cleanly("{\"imagé\" 1}", "near '1'");
    assert_fails_cleanly("[é]", "invalid token near 'é'");
    assert_fails_cleanly("{\"image\":\"\xc3", "unable to decode byte 0xc3");
}

/* The search that found the defect, kept as a property: random sequences of JSON
 * pieces and multi-byte characters, each message valid UTF-8. */
static void test_random_inputs_give_utf8_messages(void **state)
{
    (void)state;
    static const char *const atoms[] = {
        "é", "€", "😀", "{", "}", "[", "]", "\"", ":", ",", "1", "-", "e", "t", "\\", "u",
        "a", " ", "0.", "\\u00e9", "true", "nul", "\xc3", "\x80", "\n", "\"image\"", "\xf4\x90",
    };
    size_t natoms = sizeof atoms / sizeof *atoms;
    unsigned seed = 12;
    for (int it = 0; it < 20000; it++) {
        char text[512] = "";
        int n = 1 + (int)(rand_r(&seed) % 30);
        for (int i = 0; i < n; i++)
            strcat(text, atoms[(size_t)rand_r(&seed) % natoms]);
        manifest m;
        err_t err = {0};
        if (manifest_parse(text, strlen(text), &m, &err) == 0) {
            manifest_free(&m);
            continue;
        }
        if (!is_utf8(err.msg))
            fail_msg("input %s: message not UTF-8: %s", text, err.msg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invalid_escape_before_a_multibyte_character),
        cmocka_unit_test(test_valid_text_is_kept),
        cmocka_unit_test(test_random_inputs_give_utf8_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
