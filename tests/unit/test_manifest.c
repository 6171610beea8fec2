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
    {"health http", "{\"image\":\"x\",\"services\":{\"web\":80},\"health\":{\"http\":\"/healthz?x=1&y=%20\"}}", NULL},
    {"health tcp", "{\"image\":\"x\",\"services\":{\"web\":80},\"health\":{\"tcp\":true,\"port\":80}}", NULL},
    {"health exec", "{\"image\":\"x\",\"health\":{\"exec\":[\"pg_isready\",\"\"]}}", NULL},
    {"health limits high",
     "{\"image\":\"x\",\"health\":{\"exec\":[\"t\"],\"interval\":3600,\"timeout\":3600,\"retries\":100,"
     "\"start_period\":3600}}", NULL},
    {"health limits low",
     "{\"image\":\"x\",\"health\":{\"exec\":[\"t\"],\"interval\":1,\"timeout\":1,\"retries\":1,"
     "\"start_period\":0}}", NULL},
    {"update empty", "{\"image\":\"x\",\"update\":{}}", NULL},
    {"update all", "{\"image\":\"x\",\"update\":{\"parallel\":1000,\"order\":\"stop-first\","
     "\"deadline\":3600,\"on_failure\":\"pause\"}}", NULL},
    {"update low", "{\"image\":\"x\",\"update\":{\"parallel\":1,\"order\":\"start-first\","
     "\"deadline\":1,\"on_failure\":\"rollback\"}}", NULL},
    {"update 1%", "{\"image\":\"x\",\"update\":{\"parallel\":\"1%\"}}", NULL},
    {"update 100%", "{\"image\":\"x\",\"update\":{\"parallel\":\"100%\"}}", NULL},
    {"stop_grace 0", "{\"image\":\"x\",\"stop_grace\":0}", NULL},
    {"stop_grace 3600", "{\"image\":\"x\",\"stop_grace\":3600}", NULL},

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
     "unknown field \"scal\"; valid fields: image, scale, command, services, links, env, health, "
     "update, stop_grace"},
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

    /* health */
    {"health string", "{\"image\":\"x\",\"health\":\"/\"}",
     "health: must be an object with one of \"http\", \"tcp\" or \"exec\", got \"/\""},
    {"health unknown subfield", "{\"image\":\"x\",\"health\":{\"exec\":[\"t\"],\"interva\":2}}",
     "health: unknown field \"interva\"; valid fields: http, tcp, exec, port, interval, timeout, "
     "retries, start_period"},
    {"health none", "{\"image\":\"x\",\"health\":{\"interval\":2}}",
     "health: must have exactly one of \"http\", \"tcp\" or \"exec\", got none"},
    {"health empty", "{\"image\":\"x\",\"health\":{}}",
     "health: must have exactly one of \"http\", \"tcp\" or \"exec\", got none"},
    {"health two", "{\"image\":\"x\",\"services\":{\"web\":80},\"health\":{\"tcp\":true,\"http\":\"/\"}}",
     "health: must have exactly one of \"http\", \"tcp\" or \"exec\", got \"http\" and \"tcp\""},
    {"health three",
     "{\"image\":\"x\",\"services\":{\"web\":80},\"health\":{\"exec\":[\"t\"],\"tcp\":true,\"http\":\"/\"}}",
     "health: must have exactly one of \"http\", \"tcp\" or \"exec\", got \"http\", \"tcp\" and \"exec\""},
    {"health http relative", "{\"image\":\"x\",\"services\":{\"web\":80},\"health\":{\"http\":\"healthz\"}}",
     "health.http: must be a path starting with \"/\", got \"healthz\""},
    {"health http empty", "{\"image\":\"x\",\"services\":{\"web\":80},\"health\":{\"http\":\"\"}}",
     "health.http: must be a path starting with \"/\", got \"\""},
    {"health http number", "{\"image\":\"x\",\"services\":{\"web\":80},\"health\":{\"http\":80}}",
     "health.http: must be a path starting with \"/\", got 80"},
    {"health http space", "{\"image\":\"x\",\"services\":{\"web\":80},\"health\":{\"http\":\"/a b\"}}",
     "health.http: must be printable ASCII without spaces, got \"/a b\""},
    {"health http control", "{\"image\":\"x\",\"services\":{\"web\":80},\"health\":{\"http\":\"/a\\r\\n\"}}",
     "health.http: must be printable ASCII without spaces, got \"/a\\x0d\\x0a\""},
    {"health http non-ASCII",
     "{\"image\":\"x\",\"services\":{\"web\":80},\"health\":{\"http\":\"/caf\xc3\xa9\"}}",
     "health.http: must be printable ASCII without spaces"},
    {"health tcp false", "{\"image\":\"x\",\"services\":{\"web\":80},\"health\":{\"tcp\":false}}",
     "health.tcp: must be true, got false"},
    {"health tcp string", "{\"image\":\"x\",\"services\":{\"web\":80},\"health\":{\"tcp\":\"true\"}}",
     "health.tcp: must be true, got \"true\""},
    {"health tcp one", "{\"image\":\"x\",\"services\":{\"web\":80},\"health\":{\"tcp\":1}}",
     "health.tcp: must be true, got 1"},
    {"health exec empty", "{\"image\":\"x\",\"health\":{\"exec\":[]}}",
     "health.exec: must be a non-empty array of strings, got []"},
    {"health exec string", "{\"image\":\"x\",\"health\":{\"exec\":\"true\"}}",
     "health.exec: must be a non-empty array of strings, got \"true\""},
    {"health exec number element", "{\"image\":\"x\",\"health\":{\"exec\":[\"a\",3]}}",
     "health.exec[1]: must be a string, got 3"},
    {"health exec empty program", "{\"image\":\"x\",\"health\":{\"exec\":[\"\",\"a\"]}}",
     "health.exec[0]: must be a non-empty string (the program), got \"\""},
    {"health http no services", "{\"image\":\"x\",\"health\":{\"http\":\"/\"}}",
     "health.http: needs a service to probe, and the manifest has no \"services\""},
    {"health tcp empty services", "{\"image\":\"x\",\"services\":{},\"health\":{\"tcp\":true,\"port\":80}}",
     "health.tcp: needs a service to probe, and the manifest has no \"services\""},
    {"health port not a service",
     "{\"image\":\"x\",\"services\":{\"web\":80,\"api\":9000,\"www\":80},\"health\":{\"tcp\":true,\"port\":81}}",
     "health.port: must be the container port of one of the services (9000, 80), got 81"},
    {"health port string", "{\"image\":\"x\",\"services\":{\"web\":80},\"health\":{\"tcp\":true,\"port\":\"80\"}}",
     "health.port: must be the container port of one of the services (80), got \"80\""},
    {"health port real", "{\"image\":\"x\",\"services\":{\"web\":80},\"health\":{\"tcp\":true,\"port\":80.0}}",
     "health.port: must be the container port of one of the services (80), got 80.0"},
    {"health port with exec", "{\"image\":\"x\",\"services\":{\"web\":80},\"health\":{\"exec\":[\"t\"],\"port\":80}}",
     "health.port: only an \"http\" or \"tcp\" check has a port, not \"exec\""},
    {"health interval string", "{\"image\":\"x\",\"health\":{\"exec\":[\"t\"],\"interval\":\"2\"}}",
     "health.interval: must be an integer 1..3600, got \"2\""},
    {"health interval zero", "{\"image\":\"x\",\"health\":{\"exec\":[\"t\"],\"interval\":0}}",
     "health.interval: must be an integer 1..3600, got 0"},
    {"health interval real", "{\"image\":\"x\",\"health\":{\"exec\":[\"t\"],\"interval\":2.0}}",
     "health.interval: must be an integer 1..3600, got 2.0"},
    {"health timeout too big", "{\"image\":\"x\",\"health\":{\"exec\":[\"t\"],\"timeout\":3601}}",
     "health.timeout: must be an integer 1..3600, got 3601"},
    {"health timeout null", "{\"image\":\"x\",\"health\":{\"exec\":[\"t\"],\"timeout\":null}}",
     "health.timeout: must be an integer 1..3600, got null"},
    {"health retries zero", "{\"image\":\"x\",\"health\":{\"exec\":[\"t\"],\"retries\":0}}",
     "health.retries: must be an integer 1..100, got 0"},
    {"health retries too big", "{\"image\":\"x\",\"health\":{\"exec\":[\"t\"],\"retries\":101}}",
     "health.retries: must be an integer 1..100, got 101"},
    {"health start_period negative", "{\"image\":\"x\",\"health\":{\"exec\":[\"t\"],\"start_period\":-1}}",
     "health.start_period: must be an integer 0..3600, got -1"},
    {"health start_period too big", "{\"image\":\"x\",\"health\":{\"exec\":[\"t\"],\"start_period\":3601}}",
     "health.start_period: must be an integer 0..3600, got 3601"},
    /* a later error after the path or argv was allocated frees them (ASan, valgrind) */
    {"health http then bad interval",
     "{\"image\":\"x\",\"services\":{\"web\":80},\"health\":{\"http\":\"/h\",\"interval\":0}}",
     "health.interval: must be an integer 1..3600, got 0"},
    {"health exec then bad retries", "{\"image\":\"x\",\"health\":{\"exec\":[\"a\",\"b\"],\"retries\":true}}",
     "health.retries: must be an integer 1..100, got true"},

    /* update */
    {"update array", "{\"image\":\"x\",\"update\":[1]}",
     "update: must be an object {\"parallel\": N, \"order\": ..., \"deadline\": N, \"on_failure\": ...}, "
     "got [1]"},
    {"update unknown subfield", "{\"image\":\"x\",\"update\":{\"paralel\":2}}",
     "update: unknown field \"paralel\"; valid fields: parallel, order, deadline, on_failure"},
    {"update parallel zero", "{\"image\":\"x\",\"update\":{\"parallel\":0}}",
     "update.parallel: must be an integer 1..1000 or a percentage \"1%\"..\"100%\", got 0"},
    {"update parallel too big", "{\"image\":\"x\",\"update\":{\"parallel\":1001}}",
     "update.parallel: must be an integer 1..1000 or a percentage \"1%\"..\"100%\", got 1001"},
    {"update parallel real", "{\"image\":\"x\",\"update\":{\"parallel\":2.0}}",
     "update.parallel: must be an integer 1..1000 or a percentage \"1%\"..\"100%\", got 2.0"},
    {"update parallel string number", "{\"image\":\"x\",\"update\":{\"parallel\":\"2\"}}",
     "update.parallel: must be an integer 1..1000 or a percentage \"1%\"..\"100%\", got \"2\""},
    {"update parallel 0%", "{\"image\":\"x\",\"update\":{\"parallel\":\"0%\"}}", "got \"0%\""},
    {"update parallel 101%", "{\"image\":\"x\",\"update\":{\"parallel\":\"101%\"}}", "got \"101%\""},
    {"update parallel 1000%", "{\"image\":\"x\",\"update\":{\"parallel\":\"1000%\"}}", "got \"1000%\""},
    {"update parallel 05%", "{\"image\":\"x\",\"update\":{\"parallel\":\"05%\"}}", "got \"05%\""},
    {"update parallel +5%", "{\"image\":\"x\",\"update\":{\"parallel\":\"+5%\"}}", "got \"+5%\""},
    {"update parallel 5.5%", "{\"image\":\"x\",\"update\":{\"parallel\":\"5.5%\"}}", "got \"5.5%\""},
    {"update parallel space", "{\"image\":\"x\",\"update\":{\"parallel\":\"5 %\"}}", "got \"5 %\""},
    {"update parallel bare %", "{\"image\":\"x\",\"update\":{\"parallel\":\"%\"}}", "got \"%\""},
    {"update order", "{\"image\":\"x\",\"update\":{\"order\":\"rolling\"}}",
     "update.order: must be \"start-first\" or \"stop-first\", got \"rolling\""},
    {"update order case", "{\"image\":\"x\",\"update\":{\"order\":\"Stop-First\"}}",
     "update.order: must be \"start-first\" or \"stop-first\", got \"Stop-First\""},
    {"update order number", "{\"image\":\"x\",\"update\":{\"order\":1}}",
     "update.order: must be \"start-first\" or \"stop-first\", got 1"},
    {"update deadline zero", "{\"image\":\"x\",\"update\":{\"deadline\":0}}",
     "update.deadline: must be an integer 1..3600, got 0"},
    {"update deadline too big", "{\"image\":\"x\",\"update\":{\"deadline\":3601}}",
     "update.deadline: must be an integer 1..3600, got 3601"},
    {"update deadline string", "{\"image\":\"x\",\"update\":{\"deadline\":\"60\"}}",
     "update.deadline: must be an integer 1..3600, got \"60\""},
    {"update on_failure", "{\"image\":\"x\",\"update\":{\"on_failure\":\"continue\"}}",
     "update.on_failure: must be \"rollback\" or \"pause\", got \"continue\""},

    /* stop_grace */
    {"stop_grace negative", "{\"image\":\"x\",\"stop_grace\":-1}",
     "stop_grace: must be an integer 0..3600, got -1"},
    {"stop_grace too big", "{\"image\":\"x\",\"stop_grace\":3601}",
     "stop_grace: must be an integer 0..3600, got 3601"},
    {"stop_grace string", "{\"image\":\"x\",\"stop_grace\":\"10\"}",
     "stop_grace: must be an integer 0..3600, got \"10\""},
    {"stop_grace real", "{\"image\":\"x\",\"stop_grace\":10.5}",
     "stop_grace: must be an integer 0..3600, got 10.5"},
    {"stop_grace null", "{\"image\":\"x\",\"stop_grace\":null}",
     "stop_grace: must be an integer 0..3600, got null"},
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
    /* health, update, stop_grace: absent, they take their defaults */
    assert_int_equal(m.health.kind, MANIFEST_HEALTH_NONE);
    assert_null(m.health.path);
    assert_null(m.health.exec);
    assert_int_equal(m.health.port, 0);
    assert_int_equal(m.update.parallel, 1);
    assert_false(m.update.percent);
    assert_int_equal(m.update.order, MANIFEST_START_FIRST);
    assert_int_equal(m.update.deadline, 60);
    assert_int_equal(m.update.on_failure, MANIFEST_ROLLBACK);
    assert_int_equal(m.stop_grace, 10);
    assert_int_equal(manifest_batch(&m), 1);
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

/* ---- health, update, stop_grace ------------------------------------------------ */

static void parse_ok(const char *json, manifest *m)
{
    err_t err = {0};
    if (parse_str(json, m, &err) != 0)
        fail_msg("%s: unexpected error: %s", json, err.msg);
}

static void test_health_http(void **state)
{
    (void)state;
    manifest m;
    /* the default port is the first service's by name: api, not web */
    parse_ok("{\"image\":\"x\",\"services\":{\"web\":80,\"api\":{\"port\":9000}},"
             "\"health\":{\"http\":\"/healthz\"}}",
             &m);
    assert_int_equal(m.health.kind, MANIFEST_HEALTH_HTTP);
    assert_string_equal(m.health.path, "/healthz");
    assert_null(m.health.exec);
    assert_int_equal(m.health.nexec, 0);
    assert_int_equal(m.health.port, 9000);
    assert_int_equal(m.health.interval, 2);
    assert_int_equal(m.health.timeout, 2);
    assert_int_equal(m.health.retries, 3);
    assert_int_equal(m.health.start_period, 0);
    manifest_free(&m);
    assert_empty(&m);

    parse_ok("{\"image\":\"x\",\"services\":{\"web\":80,\"api\":9000},\"health\":{\"http\":\"/\","
             "\"port\":80,\"interval\":5,\"timeout\":1,\"retries\":10,\"start_period\":30}}",
             &m);
    assert_int_equal(m.health.kind, MANIFEST_HEALTH_HTTP);
    assert_string_equal(m.health.path, "/");
    assert_int_equal(m.health.port, 80);
    assert_int_equal(m.health.interval, 5);
    assert_int_equal(m.health.timeout, 1);
    assert_int_equal(m.health.retries, 10);
    assert_int_equal(m.health.start_period, 30);
    manifest_free(&m);
}

static void test_health_tcp(void **state)
{
    (void)state;
    manifest m;
    parse_ok("{\"image\":\"x\",\"services\":{\"db\":5432},\"health\":{\"tcp\":true}}", &m);
    assert_int_equal(m.health.kind, MANIFEST_HEALTH_TCP);
    assert_null(m.health.path);
    assert_null(m.health.exec);
    assert_int_equal(m.health.port, 5432);
    assert_int_equal(m.health.retries, 3);
    manifest_free(&m);

    parse_ok("{\"image\":\"x\",\"services\":{\"a\":1,\"b\":65535},"
             "\"health\":{\"tcp\":true,\"port\":65535,\"retries\":1}}",
             &m);
    assert_int_equal(m.health.port, 65535);
    assert_int_equal(m.health.retries, 1);
    manifest_free(&m);
}

static void test_health_exec(void **state)
{
    (void)state;
    manifest m;
    /* no services needed, and none probed even if there are */
    parse_ok("{\"image\":\"x\",\"services\":{\"db\":5432},"
             "\"health\":{\"exec\":[\"pg_isready\",\"-U\",\"\"],\"start_period\":60}}",
             &m);
    assert_int_equal(m.health.kind, MANIFEST_HEALTH_EXEC);
    assert_null(m.health.path);
    assert_int_equal(m.health.nexec, 3);
    assert_string_equal(m.health.exec[0], "pg_isready");
    assert_string_equal(m.health.exec[1], "-U");
    assert_string_equal(m.health.exec[2], "");
    assert_null(m.health.exec[3]);
    assert_int_equal(m.health.port, 0);
    assert_int_equal(m.health.interval, 2);
    assert_int_equal(m.health.start_period, 60);
    manifest_free(&m);
    assert_empty(&m);
}

static void test_update(void **state)
{
    (void)state;
    manifest m;
    parse_ok("{\"image\":\"x\",\"update\":{}}", &m);
    assert_int_equal(m.update.parallel, 1);
    assert_false(m.update.percent);
    assert_int_equal(m.update.order, MANIFEST_START_FIRST);
    assert_int_equal(m.update.deadline, 60);
    assert_int_equal(m.update.on_failure, MANIFEST_ROLLBACK);
    manifest_free(&m);

    parse_ok("{\"image\":\"x\",\"update\":{\"parallel\":\"25%\",\"order\":\"stop-first\","
             "\"deadline\":120,\"on_failure\":\"pause\"},\"stop_grace\":0}",
             &m);
    assert_int_equal(m.update.parallel, 25);
    assert_true(m.update.percent);
    assert_int_equal(m.update.order, MANIFEST_STOP_FIRST);
    assert_int_equal(m.update.deadline, 120);
    assert_int_equal(m.update.on_failure, MANIFEST_PAUSE);
    assert_int_equal(m.stop_grace, 0);
    assert_int_equal(m.health.kind, MANIFEST_HEALTH_NONE);
    manifest_free(&m);

    parse_ok("{\"image\":\"x\",\"update\":{\"parallel\":7},\"stop_grace\":3600}", &m);
    assert_int_equal(m.update.parallel, 7);
    assert_false(m.update.percent);
    assert_int_equal(m.stop_grace, 3600);
    manifest_free(&m);
}

static int batch_of(const char *json)
{
    manifest m;
    parse_ok(json, &m);
    int n = manifest_batch(&m);
    manifest_free(&m);
    return n;
}

static void test_batch(void **state)
{
    (void)state;
    /* a percentage of scale, rounded up, at least 1 */
    assert_int_equal(batch_of("{\"image\":\"x\",\"scale\":10,\"update\":{\"parallel\":\"25%\"}}"), 3);
    assert_int_equal(batch_of("{\"image\":\"x\",\"scale\":4,\"update\":{\"parallel\":\"1%\"}}"), 1);
    assert_int_equal(batch_of("{\"image\":\"x\",\"scale\":3,\"update\":{\"parallel\":\"33%\"}}"), 1);
    assert_int_equal(batch_of("{\"image\":\"x\",\"scale\":3,\"update\":{\"parallel\":\"34%\"}}"), 2);
    assert_int_equal(batch_of("{\"image\":\"x\",\"scale\":8,\"update\":{\"parallel\":\"50%\"}}"), 4);
    assert_int_equal(batch_of("{\"image\":\"x\",\"scale\":1000,\"update\":{\"parallel\":\"100%\"}}"),
                     1000);
    assert_int_equal(batch_of("{\"image\":\"x\",\"scale\":0,\"update\":{\"parallel\":\"50%\"}}"), 1);
    /* a count is the count, whatever the scale */
    assert_int_equal(batch_of("{\"image\":\"x\",\"scale\":10,\"update\":{\"parallel\":2}}"), 2);
    assert_int_equal(batch_of("{\"image\":\"x\",\"scale\":1,\"update\":{\"parallel\":5}}"), 5);
    assert_int_equal(batch_of("{\"image\":\"x\",\"scale\":10}"), 1);
    /* a manifest not from manifest_parse (all zero) still replaces one at a time */
    static const manifest zero;
    assert_int_equal(manifest_batch(&zero), 1);
}

static void test_new_limits(void **state)
{
    (void)state;
    char *json = build_list("health", "{\"exec\":[", "\"a%d\"", "]}", 256);
    expect_ok(json);
    expect_error(build_list("health", "{\"exec\":[", "\"a%d\"", "]}", 257),
                 "health.exec: must have at most 256 elements, got 257");

    char path[1100];
    memset(path, 'p', sizeof path);
    path[0] = '/';
    char buf[1300];
    snprintf(buf, sizeof buf,
             "{\"image\":\"x\",\"services\":{\"w\":80},\"health\":{\"http\":\"%.1024s\"}}", path);
    expect_ok(strdup(buf));
    snprintf(buf, sizeof buf,
             "{\"image\":\"x\",\"services\":{\"w\":80},\"health\":{\"http\":\"%.1025s\"}}", path);
    expect_error(strdup(buf), "health.http: must be at most 1024 bytes, got 1025");

    /* the list of a 64-service manifest's ports fits in the message */
    char *many = build_list("services", "{", "\"s%d\":80", "}", 64);
    size_t n = strlen(many);
    many = realloc(many, n + 64);
    assert_non_null(many);
    snprintf(many + n - 1, 64, ",\"health\":{\"tcp\":true,\"port\":81}}");
    expect_error(many, "health.port: must be the container port of one of the services (80), got 81");
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

    /* pinned: computed before health, update and stop_grace existed, so that an
     * upgrade does not change the revision of a running manifest */
    hash_of("{\"image\":\"x\",\"scale\":1,\"command\":[\"a\",\"b\"],\"services\":{\"w\":80,\"v\":81},"
            "\"links\":[\"p\",\"q\"],\"env\":{\"K\":\"v\",\"J\":\"u\"}}",
            a);
    assert_string_equal(a, "b245aab1ceee08db");

        /* the seed's two manifests run different things */
    hash_of("{\"image\":\"dockerfile/nginx\"}", a);
    hash_of("{\"image\":\"dockerfile/ubuntu\"}", b);
    assert_string_not_equal(a, b);
    hash_of("{\"image\":\"dockerfile/nginx\",\"scale\":1,\"services\":{\"nginx\":80}}", a);
    assert_string_equal(a, "a66285bcd07a44ba");
}

#define BASE "{\"image\":\"x\",\"services\":{\"web\":80,\"api\":9000}"

static void test_hash_new_fields(void **state)
{
    (void)state;
    /* each differs from every other: a change of any of these fields is a new revision */
    static const char *const variants[] = {
        BASE "}",
        BASE ",\"health\":{\"http\":\"/a\"}}",
        BASE ",\"health\":{\"http\":\"/b\"}}",
        BASE ",\"health\":{\"http\":\"/a\",\"port\":80}}",
        BASE ",\"health\":{\"http\":\"/a\",\"interval\":3}}",
        BASE ",\"health\":{\"http\":\"/a\",\"timeout\":3}}",
        BASE ",\"health\":{\"http\":\"/a\",\"retries\":4}}",
        BASE ",\"health\":{\"http\":\"/a\",\"start_period\":1}}",
        BASE ",\"health\":{\"tcp\":true}}",
        BASE ",\"health\":{\"tcp\":true,\"port\":80}}",
        BASE ",\"health\":{\"exec\":[\"a\"]}}",
        BASE ",\"health\":{\"exec\":[\"a\",\"b\"]}}",
        BASE ",\"health\":{\"exec\":[\"a b\"]}}",
        BASE ",\"health\":{\"exec\":[\"/a\"]}}",
        BASE ",\"update\":{\"parallel\":2}}",
        BASE ",\"update\":{\"parallel\":\"2%\"}}",
        BASE ",\"update\":{\"order\":\"stop-first\"}}",
        BASE ",\"update\":{\"deadline\":61}}",
        BASE ",\"update\":{\"on_failure\":\"pause\"}}",
        BASE ",\"stop_grace\":0}",
        BASE ",\"stop_grace\":11}",
        BASE ",\"stop_grace\":2,\"update\":{\"parallel\":2}}",
        BASE ",\"stop_grace\":2,\"health\":{\"tcp\":true}}",
    };
    char h[ARRAY_LEN(variants)][17];
    for (size_t i = 0; i < ARRAY_LEN(variants); i++) {
        hash_of(variants[i], h[i]);
        for (size_t j = 0; j < i; j++)
            if (strcmp(h[i], h[j]) == 0)
                fail_msg("same hash for %s and %s", variants[j], variants[i]);
    }

    /* equivalent spellings: defaults written out, key order, {"port": N}, and scale */
    static const char *const same[][2] = {
        {BASE ",\"health\":{\"http\":\"/a\"}}",
         "{\"health\":{\"start_period\":0,\"retries\":3,\"timeout\":2,\"interval\":2,\"port\":9000,"
         "\"http\":\"/a\"},\"scale\":9,\"services\":{\"api\":{\"port\":9000},\"web\":80},"
         "\"image\":\"x\"}"},
        {BASE ",\"health\":{\"tcp\":true,\"port\":80}}",
         "{\"image\":\"x\",\"services\":{\"web\":{\"port\":80},\"api\":9000},"
         "\"health\":{\"port\":80,\"tcp\":true}}"},
        {BASE ",\"update\":{\"parallel\":1}}",
         BASE ",\"update\":{\"on_failure\":\"rollback\",\"deadline\":60,\"order\":\"start-first\","
              "\"parallel\":1}}"},
        {BASE ",\"update\":{\"parallel\":\"5%\"},\"stop_grace\":10}",
         BASE ", \"stop_grace\" : 10 , \"update\" : { \"parallel\" : \"5%\" , \"deadline\" : 60 } }"},
    };
    for (size_t i = 0; i < ARRAY_LEN(same); i++) {
        char a[17], b[17];
        hash_of(same[i][0], a);
        hash_of(same[i][1], b);
        if (strcmp(a, b) != 0)
            fail_msg("different hashes for %s and %s", same[i][0], same[i][1]);
    }
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
        cmocka_unit_test(test_health_http),
        cmocka_unit_test(test_health_tcp),
        cmocka_unit_test(test_health_exec),
        cmocka_unit_test(test_update),
        cmocka_unit_test(test_batch),
        cmocka_unit_test(test_new_limits),
        cmocka_unit_test(test_hash),
        cmocka_unit_test(test_hash_new_fields),
        cmocka_unit_test(test_names_container),
        cmocka_unit_test(test_names_service_env),
        cmocka_unit_test(test_names_check_label),
    };
    int failed = cmocka_run_group_tests_name("manifest table", table, NULL, NULL);
    failed += cmocka_run_group_tests_name("manifest", tests, NULL, NULL);
    return failed ? 1 : 0;
}
