/* test_manifest.c - unit tests for manifest parsing/validation and the naming rules
 * (lib/manifest.c). The table holds one row per good or bad manifest: an expected
 * error is a substring of the message, so the tests pin what a user reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dokkaa/manifest.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))


struct row {
    const char *name;
    const char *json;
    const char *expect; /* NULL: must parse; else a substring of the error */
};

static const struct row rows[] = {
    /* good */
    {"minimal", "{\"image\":\"dockerfile/nginx\"}", NULL},
    {"seed nginx", "{\"image\":\"dockerfile/nginx\",\"scale\":1,\"services\":{\"nginx\":80}}", NULL},
    {"scale zero", "{\"image\":\"busybox\",\"scale\":0}", NULL},
    {"scale max", "{\"image\":\"busybox\",\"scale\":1000}", NULL},
    {"registry with port and tag", "{\"image\":\"10.88.0.1:5000/dokkaa/app:1.0\"}", NULL},
    {"localhost registry", "{\"image\":\"localhost/app\"}", NULL},
    {"digest",
     "{\"image\":\"busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}",
     NULL},
    {"separators", "{\"image\":\"a.b/c__d/e---f_g:Tag_1.x-y\"}", NULL},
    {"service object", "{\"image\":\"x\",\"services\":{\"web\":{\"port\":8080}}}", NULL},
    {"empty services and links", "{\"image\":\"x\",\"services\":{},\"links\":[]}", NULL},
    {"command with empty arg", "{\"image\":\"x\",\"command\":[\"sh\",\"-c\",\"\"]}", NULL},
    {"env", "{\"image\":\"x\",\"env\":{\"A\":\"1\",\"_b2\":\"\",\"service_x\":\"lower is fine\"}}", NULL},
    {"whitespace everywhere", " \n\t{ \"image\" :\n \"x\" } \n", NULL},

    /* the document */
    {"invalid JSON", "{\"image\"", "manifest: invalid JSON at line 1 column"},
    {"trailing garbage", "{\"image\":\"x\"} x", "manifest: invalid JSON at line 1"},
    {"empty input", "", "manifest: invalid JSON"},
    {"array", "[]", "manifest: must be a JSON object, got []"},
    {"string", "\"x\"", "manifest: must be a JSON object, got \"x\""},
    {"duplicate key", "{\"image\":\"x\",\"image\":\"y\"}", "duplicate object key"},
    {"NUL escape", "{\"image\":\"x\",\"env\":{\"A\":\"a\\u0000b\"}}", "manifest: invalid JSON"},
    {"invalid UTF-8", "{\"image\":\"x\",\"env\":{\"A\":\"\xff\"}}", "manifest: invalid JSON"},
    {"unknown field",
     "{\"image\":\"x\",\"scal\":3}",
     "unknown field \"scal\"; valid fields: image, scale, command, services, links, env"},
    {"missing image", "{\"scale\":1}", "missing required field \"image\""},

    /* image */
    {"image empty", "{\"image\":\"\"}", "image: must be a non-empty string (an image reference), got \"\""},
    {"image number", "{\"image\":3}", "image: must be a non-empty string (an image reference), got 3"},
    {"image null", "{\"image\":null}", "got null"},
    {"image space", "{\"image\":\"a b\"}",
     "image: must not contain whitespace or control characters, got \"a b\""},
    {"image control", "{\"image\":\"a\\tb\"}", "got \"a\\x09b\""},
    {"image upper", "{\"image\":\"Dockerfile/nginx\"}",
     "image: \"Dockerfile/nginx\" is not a valid image reference: each name component"},
    {"image empty component", "{\"image\":\"a//b\"}", "is not a valid image reference"},
    {"image trailing slash", "{\"image\":\"a/\"}", "is not a valid image reference"},
    {"image empty tag", "{\"image\":\"nginx:\"}", "the tag must be"},
    {"image bad digest", "{\"image\":\"nginx@sha256:abc\"}", "the digest must be"},
    {"image bad port", "{\"image\":\"host:port/x\"}", "the registry must be host[:port]"},
    {"image bad registry", "{\"image\":\"-a.com/x\"}", "the registry must be host[:port]"},
    {"image triple dot", "{\"image\":\"a...b\"}", "each name component"},

    /* scale */
    {"scale string", "{\"image\":\"x\",\"scale\":\"3\"}", "scale: must be an integer 0..1000, got \"3\""},
    {"scale float", "{\"image\":\"x\",\"scale\":1.0}", "scale: must be an integer 0..1000, got 1.0"},
    {"scale bool", "{\"image\":\"x\",\"scale\":true}", "scale: must be an integer 0..1000, got true"},
    {"scale negative", "{\"image\":\"x\",\"scale\":-1}", "scale: must be an integer 0..1000, got -1"},
    {"scale too big", "{\"image\":\"x\",\"scale\":1001}", "scale: must be an integer 0..1000, got 1001"},
    {"scale null", "{\"image\":\"x\",\"scale\":null}", "scale: must be an integer 0..1000, got null"},

    /* command */
    {"command string", "{\"image\":\"x\",\"command\":\"ls\"}",
     "command: must be a non-empty array of strings, got \"ls\""},
    {"command empty", "{\"image\":\"x\",\"command\":[]}",
     "command: must be a non-empty array of strings, got []"},
    {"command number element", "{\"image\":\"x\",\"command\":[\"ls\",3]}",
     "command[1]: must be a string, got 3"},
    {"command empty program", "{\"image\":\"x\",\"command\":[\"\"]}", "command[0]: must be a non-empty string"},

    /* services */
    {"service port zero", "{\"image\":\"x\",\"services\":{\"nginx\":0}}",
     "services.nginx: must be a port 1..65535 or an object {\"port\": N}, got 0"},
    {"service port too big", "{\"image\":\"x\",\"services\":{\"nginx\":65536}}",
     "services.nginx: must be a port 1..65535 or an object {\"port\": N}, got 65536"},
    {"service port string", "{\"image\":\"x\",\"services\":{\"nginx\":\"80\"}}",
     "services.nginx: must be a port 1..65535 or an object {\"port\": N}, got \"80\""},
    {"service bad name", "{\"image\":\"x\",\"services\":{\"Nginx\":80}}",
     "services: \"Nginx\" is not a valid service name: must contain only lower case"},
    {"service double dash", "{\"image\":\"x\",\"services\":{\"a--b\":80}}",
     "services: \"a--b\" is not a valid service name: must not contain \"--\""},
    {"service unknown subfield", "{\"image\":\"x\",\"services\":{\"web\":{\"prot\":80}}}",
     "services.web: unknown field \"prot\"; valid fields: port"},
    {"service missing port", "{\"image\":\"x\",\"services\":{\"web\":{}}}",
     "services.web: missing required field \"port\""},
    {"service object bad port", "{\"image\":\"x\",\"services\":{\"web\":{\"port\":-5}}}",
     "services.web.port: must be a port 1..65535, got -5"},
    {"services array", "{\"image\":\"x\",\"services\":[\"web\"]}",
     "services: must be an object {\"<service>\": <port>, ...}, got [\"web\"]"},

    /* links */
    {"links string", "{\"image\":\"x\",\"links\":\"nginx\"}",
     "links: must be an array of service names, got \"nginx\""},
    {"links bad name", "{\"image\":\"x\",\"links\":[\"nginx\",\"Nginx\"]}",
     "links[1]: \"Nginx\" is not a valid service name: "},
    {"links number", "{\"image\":\"x\",\"links\":[1]}", "links[0]: must be a service name (a string), got 1"},
    {"links duplicate", "{\"image\":\"x\",\"links\":[\"a\",\"b\",\"a\"]}",
     "links[2]: duplicate service name \"a\" (also links[0])"},
    {"links empty name", "{\"image\":\"x\",\"links\":[\"\"]}",
     "links[0]: \"\" is not a valid service name: must not be empty"},

    /* env */
    {"env array", "{\"image\":\"x\",\"env\":[\"A=1\"]}", "env: must be an object"},
    {"env number value", "{\"image\":\"x\",\"env\":{\"A\":1}}", "env.A: must be a string, got 1"},
    {"env bad name", "{\"image\":\"x\",\"env\":{\"1A\":\"x\"}}",
     "env: \"1A\" is not a valid variable name: must match [A-Za-z_][A-Za-z0-9_]*"},
    {"env dash name", "{\"image\":\"x\",\"env\":{\"A-B\":\"x\"}}", "env: \"A-B\" is not a valid variable name"},
    {"env empty name", "{\"image\":\"x\",\"env\":{\"\":\"x\"}}", "env: \"\" is not a valid variable name"},
    {"env reserved SERVICE_", "{\"image\":\"x\",\"env\":{\"SERVICE_NGINX_PORT\":\"1\"}}",
     "env: \"SERVICE_NGINX_PORT\" is reserved"},
    {"env reserved DOKKAA_", "{\"image\":\"x\",\"env\":{\"DOKKAA_APP\":\"1\"}}",
     "env: \"DOKKAA_APP\" is reserved"},
};

/* ---- helpers ------------------------------------------------------------------ */

static int parse_str(const char *json, manifest *m, err_t *err)
{
    return manifest_parse(json, strlen(json), m, err);
}

/* Read examples/nginx-and-crawler/<file> of this source tree (the seed's examples,
 * kept verbatim), found from __FILE__ so the test runs from any build directory. */
static char *read_example(const char *file, size_t *len)
{
    char path[4096];
    const char *self = __FILE__;
    const char *tail = strstr(self, "tests/unit/test_manifest.c");
    assert_non_null(tail);
    snprintf(path, sizeof path, "%.*sexamples/nginx-and-crawler/%s", (int)(tail - self), self,
             file);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    static char buf[65536];
    *len = fread(buf, 1, sizeof buf - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static void assert_empty(const manifest *m)
{
    static const manifest zero;
    assert_memory_equal(m, &zero, sizeof zero);
}

/* ---- the table ------------------------------------------------------------------ */

static void test_row(void **state)
{
    const struct row *r = *state;
    manifest m;
    err_t err = {0};
    int rc = parse_str(r->json, &m, &err);
    if (!r->expect) {
        if (rc != 0)
            fail_msg("%s: unexpected error: %s", r->name, err.msg);
        assert_int_equal(strlen(m.hash), 16);
        manifest_free(&m);
        return;
    }
    if (rc == 0) {
        manifest_free(&m);
        fail_msg("%s: parsed, expected error containing '%s'", r->name, r->expect);
    }
    assert_int_equal(rc, -1);
    assert_int_equal(err.code, ERR_INVALID);
    if (!strstr(err.msg, r->expect))
        fail_msg("%s: error '%s' does not contain '%s'", r->name, err.msg, r->expect);
    assert_empty(&m);
}

/* ---- fields and defaults ----------------------------------------------------------- */

static void test_defaults(void **state)
{
    (void)state;
    manifest m;
    err_t err;
    assert_int_equal(parse_str("{\"image\":\"busybox\"}", &m, &err), 0);
    assert_string_equal(m.image, "busybox");
    assert_int_equal(m.scale, 1);
    assert_null(m.command);
    assert_int_equal(m.ncommand, 0);
    assert_int_equal(m.nservices, 0);
    assert_int_equal(m.nlinks, 0);
    assert_int_equal(m.nenv, 0);
    manifest_free(&m);
    assert_empty(&m);
    manifest_free(&m); /* freeing twice is harmless: free leaves it empty */
}

static void test_seed_nginx(void **state)
{
    (void)state;
    size_t len;
    const char *json = read_example("nginx.json", &len);
    manifest m;
    err_t err;
    if (manifest_parse(json, len, &m, &err) != 0)
        fail_msg("%s", err.msg);
    assert_string_equal(m.image, "dockerfile/nginx");
    assert_int_equal(m.scale, 1);
    assert_null(m.command);
    assert_int_equal(m.nservices, 1);
    assert_string_equal(m.services[0].name, "nginx");
    assert_int_equal(m.services[0].port, 80);
    assert_int_equal(m.nlinks, 0);
    manifest_free(&m);
}

static void test_seed_crawler(void **state)
{
    (void)state;
    size_t len;
    const char *json = read_example("crawler.json", &len);
    manifest m;
    err_t err;
    if (manifest_parse(json, len, &m, &err) != 0)
        fail_msg("%s", err.msg);
    assert_string_equal(m.image, "dockerfile/ubuntu");
    assert_int_equal(m.scale, 1);
    assert_int_equal(m.ncommand, 3);
    assert_string_equal(m.command[0], "/bin/bash");
    assert_string_equal(m.command[1], "-c");
    assert_non_null(strstr(m.command[2], "curl http://$SERVICE_NGINX_ADDR:$SERVICE_NGINX_PORT"));
    assert_null(m.command[3]);
    assert_int_equal(m.nservices, 0);
    assert_int_equal(m.nlinks, 1);
    assert_string_equal(m.links[0], "nginx");
    manifest_free(&m);
}

static void test_sorted(void **state)
{
    (void)state;
    manifest m;
    err_t err;
    const char *json = "{\"image\":\"x\",\"services\":{\"web\":80,\"api\":{\"port\":9000}},"
                       "\"links\":[\"redis\",\"db\"],\"env\":{\"Z\":\"z\",\"A\":\"a\"}}";
    if (parse_str(json, &m, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(m.nservices, 2);
    assert_string_equal(m.services[0].name, "api");
    assert_int_equal(m.services[0].port, 9000);
    assert_string_equal(m.services[1].name, "web");
    assert_int_equal(m.services[1].port, 80);
    assert_string_equal(m.links[0], "db");
    assert_string_equal(m.links[1], "redis");
    assert_string_equal(m.env[0].name, "A");
    assert_string_equal(m.env[0].value, "a");
    assert_string_equal(m.env[1].name, "Z");
    manifest_free(&m);
}

/* ---- limits ------------------------------------------------------------------- */

/* {"image":"x","<field>":<open>"a",..."a"<close>} with n elements, for the limits. */
static char *build_list(const char *field, const char *open, const char *fmt, const char *close,
                        int n)
{
    size_t size = 64 + (size_t)n * 32;
    char *s = malloc(size);
    assert_non_null(s);
    int o = snprintf(s, size, "{\"image\":\"x\",\"%s\":%s", field, open);
    for (int i = 0; i < n; i++) {
        o += snprintf(s + o, size - (size_t)o, i ? "," : "");
        o += snprintf(s + o, size - (size_t)o, fmt, i);
    }
    snprintf(s + o, size - (size_t)o, "%s}", close);
    return s;
}

static void expect_error(char *json, const char *expect)
{
    manifest m;
    err_t err = {0};
    int rc = parse_str(json, &m, &err);
    free(json);
    if (rc == 0)
        manifest_free(&m);
    assert_int_equal(rc, -1);
    if (!strstr(err.msg, expect))
        fail_msg("error '%s' does not contain '%s'", err.msg, expect);
}

static void expect_ok(char *json)
{
    manifest m;
    err_t err = {0};
    int rc = parse_str(json, &m, &err);
    free(json);
    if (rc != 0)
        fail_msg("unexpected error: %s", err.msg);
    manifest_free(&m);
}

static void test_limits(void **state)
{
    (void)state;
    expect_ok(build_list("command", "[", "\"a%d\"", "]", 256));
    expect_error(build_list("command", "[", "\"a%d\"", "]", 257),
                 "command: must have at most 256 elements, got 257");
    expect_ok(build_list("services", "{", "\"s%d\":80", "}", 64));
    expect_error(build_list("services", "{", "\"s%d\":80", "}", 65),
                 "services: must have at most 64 entries, got 65");
    expect_ok(build_list("links", "[", "\"s%d\"", "]", 64));
    expect_error(build_list("links", "[", "\"s%d\"", "]", 65),
                 "links: must have at most 64 entries, got 65");

    char image[300];
    memset(image, 'a', sizeof image);
    char json[400];
    snprintf(json, sizeof json, "{\"image\":\"%.255s\"}", image);
    expect_ok(strdup(json));
    snprintf(json, sizeof json, "{\"image\":\"%.256s\"}", image);
    expect_error(strdup(json), "image: must be at most 255 characters, got 256");
}

static void test_too_large(void **state)
{
    (void)state;
    size_t len = MANIFEST_MAX_BYTES + 1;
    char *json = malloc(len);
    assert_non_null(json);
    memset(json, ' ', len);
    memcpy(json, "{\"image\":\"x\"}", 13);
    manifest m;
    err_t err;
    assert_int_equal(manifest_parse(json, len, &m, &err), -1);
    assert_non_null(strstr(err.msg, "manifest: too large: 1048577 bytes, at most 1048576"));
    /* the same document one byte shorter is fine: the limit is on bytes, not content */
    assert_int_equal(manifest_parse(json, len - 1, &m, &err), 0);
    manifest_free(&m);
    free(json);
}

static void test_raw_nul(void **state)
{
    (void)state;
    static const char json[] = "{\"image\":\"x\",\"env\":{\"A\":\"a\0b\"}}";
    manifest m;
    err_t err;
    assert_int_equal(manifest_parse(json, sizeof json - 1, &m, &err), -1);
    assert_non_null(strstr(err.msg, "manifest: invalid JSON"));
    assert_int_equal(manifest_parse(NULL, 0, &m, &err), -1);
}

static void test_long_value_is_cut(void **state)
{
    (void)state;
    char json[1200];
    char big[1001];
    memset(big, '9', 1000);
    big[1000] = '\0';
    snprintf(json, sizeof json, "{\"image\":\"x\",\"scale\":\"%s\"}", big);
    manifest m;
    err_t err;
    assert_int_equal(parse_str(json, &m, &err), -1);
    assert_non_null(strstr(err.msg, "scale: must be an integer 0..1000, got \"999"));
    assert_non_null(strstr(err.msg, "...\""));
    assert_true(strlen(err.msg) < 200);
}

/* ---- the hash ------------------------------------------------------------------ */

static void hash_of(const char *json, char out[17])
{
    manifest m;
    err_t err;
    if (parse_str(json, &m, &err) != 0)
        fail_msg("%s: %s", json, err.msg);
    memcpy(out, m.hash, 17);
    manifest_free(&m);
}

static void test_hash(void **state)
{
    (void)state;
    char a[17], b[17];
    hash_of("{\"image\":\"x\",\"scale\":1,\"command\":[\"a\",\"b\"],\"services\":{\"w\":80,\"v\":81},"
            "\"links\":[\"p\",\"q\"],\"env\":{\"K\":\"v\",\"J\":\"u\"}}",
            a);
    for (int i = 0; i < 16; i++)
        assert_non_null(strchr("0123456789abcdef", a[i]));
    assert_int_equal(a[16], '\0');

    /* key order, whitespace, scale, link order and equivalent spellings do not count */
    hash_of(" { \"env\" : {\"J\":\"u\",\"K\":\"v\"}, \"links\":[\"q\",\"p\"], \"scale\": 7,\n"
            "\"services\":{\"v\":{\"port\":81},\"w\":80},\"command\":[\"a\",\"b\"],\"image\":\"x\"}",
            b);
    assert_string_equal(a, b);

    static const char *const different[] = {
        "{\"image\":\"y\",\"command\":[\"a\",\"b\"],\"services\":{\"w\":80,\"v\":81},"
        "\"links\":[\"p\",\"q\"],\"env\":{\"K\":\"v\",\"J\":\"u\"}}",
        "{\"image\":\"x\",\"command\":[\"b\",\"a\"],\"services\":{\"w\":80,\"v\":81},"
        "\"links\":[\"p\",\"q\"],\"env\":{\"K\":\"v\",\"J\":\"u\"}}",
        "{\"image\":\"x\",\"command\":[\"a b\"],\"services\":{\"w\":80,\"v\":81},"
        "\"links\":[\"p\",\"q\"],\"env\":{\"K\":\"v\",\"J\":\"u\"}}",
        "{\"image\":\"x\",\"command\":[\"a\",\"b\"],\"services\":{\"w\":80,\"v\":82},"
        "\"links\":[\"p\",\"q\"],\"env\":{\"K\":\"v\",\"J\":\"u\"}}",
        "{\"image\":\"x\",\"command\":[\"a\",\"b\"],\"services\":{\"w\":80,\"v\":81},"
        "\"links\":[\"p\"],\"env\":{\"K\":\"v\",\"J\":\"u\"}}",
        "{\"image\":\"x\",\"command\":[\"a\",\"b\"],\"services\":{\"w\":80,\"v\":81},"
        "\"links\":[\"p\",\"q\"],\"env\":{\"K\":\"w\",\"J\":\"u\"}}",
        "{\"image\":\"x\",\"services\":{\"w\":80,\"v\":81},"
        "\"links\":[\"p\",\"q\"],\"env\":{\"K\":\"v\",\"J\":\"u\"}}",
    };
    for (size_t i = 0; i < ARRAY_LEN(different); i++) {
        hash_of(different[i], b);
        if (strcmp(a, b) == 0)
            fail_msg("same hash for a different manifest: %s", different[i]);
    }

    /* the seed's two manifests run different things */
    hash_of("{\"image\":\"dockerfile/nginx\"}", a);
    hash_of("{\"image\":\"dockerfile/ubuntu\"}", b);
    assert_string_not_equal(a, b);
}

/* ---- names ------------------------------------------------------------------ */

static void test_names_container(void **state)
{
    (void)state;
    char buf[64];
    assert_int_equal(names_container(buf, sizeof buf, "dummy", "nginx", 0), 13);
    assert_string_equal(buf, "dummy---nginx");
    assert_int_equal(names_container(buf, sizeof buf, "dummy", "nginx", 2), 17);
    assert_string_equal(buf, "dummy---nginx---2");
    /* too small: truncated, and the return says how much was needed */
    assert_int_equal(names_container(buf, 6, "dummy", "nginx", 2), 17);
    assert_string_equal(buf, "dummy");
}

static void test_names_service_env(void **state)
{
    (void)state;
    char buf[64];
    assert_int_equal(names_service_env(buf, sizeof buf, "my-db"), 13);
    assert_string_equal(buf, "SERVICE_MY_DB");
    names_service_env(buf, sizeof buf, "nginx");
    assert_string_equal(buf, "SERVICE_NGINX");
    names_service_env(buf, sizeof buf, "a1-b2-c3");
    assert_string_equal(buf, "SERVICE_A1_B2_C3");
    assert_int_equal(names_service_env(buf, 10, "my-db"), 13);
    assert_string_equal(buf, "SERVICE_M");
}

static void test_names_check_label(void **state)
{
    (void)state;
    err_t err;
    static const char *const good[] = {"a", "0", "nginx", "my-db", "a-b-c", "a1",
                                       "123456789012345678901234567890123456789012345678901234567890123"};
    for (size_t i = 0; i < ARRAY_LEN(good); i++)
        if (names_check_label("app name", good[i], &err) != 0)
            fail_msg("'%s' rejected: %s", good[i], err.msg);

    static const struct {
        const char *s, *expect;
    } bad[] = {
        {"", "app name \"\": must not be empty"},
        {"A", "app name \"A\": must contain only lower case"},
        {"-a", "app name \"-a\": must start and end with a letter or digit"},
        {"a-", "app name \"a-\": must start and end with a letter or digit"},
        {"a--b", "app name \"a--b\": must not contain \"--\""},
        {"a---b", "must not contain \"--\""},
        {"1234567890123456789012345678901234567890123456789012345678901234",
         "must be at most 63 characters"},
        {"a/b", "app name \"a/b\": must contain only lower case"},
        {"..", "app name \"..\": must contain only lower case"},
        {"a.b", "must contain only lower case"},
        {"a_b", "must contain only lower case"},
        {"a b", "must contain only lower case"},
        {"caf\xc3\xa9", "app name \"caf\xc3\xa9\": must contain only lower case"},
        {"a\nb", "app name \"a\\x0ab\""},
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        err_clear(&err);
        assert_int_equal(names_check_label("app name", bad[i].s, &err), -1);
        assert_int_equal(err.code, ERR_INVALID);
        if (!strstr(err.msg, bad[i].expect))
            fail_msg("'%s': error '%s' does not contain '%s'", bad[i].s, err.msg, bad[i].expect);
    }
    assert_int_equal(names_check_label("x", "A", NULL), -1); /* NULL err is allowed */
}

int main(void)
{
    struct CMUnitTest table[ARRAY_LEN(rows)];
    for (size_t i = 0; i < ARRAY_LEN(rows); i++)
        table[i] = (struct CMUnitTest){rows[i].name, test_row, NULL, NULL, (void *)&rows[i]};

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_seed_nginx),
        cmocka_unit_test(test_seed_crawler),
        cmocka_unit_test(test_sorted),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_raw_nul),
        cmocka_unit_test(test_long_value_is_cut),
        cmocka_unit_test(test_hash),
        cmocka_unit_test(test_names_container),
        cmocka_unit_test(test_names_service_env),
        cmocka_unit_test(test_names_check_label),
    };
    int failed = cmocka_run_group_tests_name("manifest table", table, NULL, NULL);
    failed += cmocka_run_group_tests_name("manifest", tests, NULL, NULL);
    return failed ? 1 : 0;
}
