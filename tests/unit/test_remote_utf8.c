/* test_remote_utf8.c - messages that quote what etcd or the Docker Engine answered
 * stay valid UTF-8 (lib/etcd.c, lib/docker.c). They cut the remote's text at a byte
 * count ("%.300s"), which could fall inside a multi-byte character; the builder,
 * which answers errors in JSON, then failed (as in issue 12, defect 5). Now the cut
 * falls where a character ends. A fake server (fake_http.h) answers each request
 * with a text built so that the old cut fell inside "é". */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dokkaa/docker.h"
#include "dokkaa/etcd.h"
#include "fake_http.h"

/* The fake server (fake_http.h), on TCP for etcd and on a unix socket for the
 * engine: GET answers get_status/get_body, anything else post_status/post_body. */
static fake_http tcp = FAKE_HTTP_INIT, unx = FAKE_HTTP_INIT;
static struct {
    long get_status, post_status;
    char get_body[4096], post_body[4096];
} srv;

static const char *answer(void *ud, const char *req, long *status)
{
    (void)ud;
    bool get = strncmp(req, "GET ", 4) == 0;
    *status = get ? srv.get_status : srv.post_status;
    return get ? srv.get_body : srv.post_body;
}

static int start(void **state)
{
    (void)state;
    if (fake_http_start_tcp(&tcp, answer, NULL) < 0)
        return -1;
    if (fake_http_start_unix(&unx, "dokkaa-test-remote", answer, NULL) < 0) {
        fake_http_stop(&tcp);
        return -1;
    }
    return 0;
}

static int stop(void **state)
{
    (void)state;
    fake_http_stop(&tcp);
    fake_http_stop(&unx);
    return 0;
}

static bool is_utf8(const char *s)
{
    json_t *j = json_string(s);
    json_decref(j);
    return j != NULL;
}

/* n bytes of 'a' then "é" and more: a cut at n + 1 bytes falls inside the "é". */
static void text_at(char *buf, size_t n)
{
    memset(buf, 'a', n);
    strcpy(buf + n, "é_and_the_rest"); /* no space: etcd_new splits endpoints there */
}

#define ASSERT_UTF8_ERROR(call, err)                                                       \
    do {                                                                                   \
        assert_int_equal((call), -1);                                                      \
        if (!is_utf8((err).msg))                                                           \
            fail_msg("not UTF-8: %s", (err).msg);                                          \
        assert_non_null(strstr((err).msg, "aaaa"));                                        \
    } while (0)

static etcd *etcd_client(void)
{
    char url[64];
    err_t err = {0};
    snprintf(url, sizeof url, "http://127.0.0.1:%d", tcp.port);
    etcd *e = etcd_new(url, &err);
    if (!e)
        fail_msg("etcd_new: %s", err.msg);
    return e;
}

/* "etcd answered HTTP 500: %.300s" of the gateway's message. */
static void test_etcd_error_message(void **state)
{
    (void)state;
    char text[512];
    etcd_kvs kvs;
    err_t err = {0};
    etcd *e = etcd_client();
    text_at(text, 299);
    json_t *body = json_pack("{s:s,s:i}", "message", text, "code", 13);
    char *dumped = json_dumps(body, JSON_COMPACT);
    snprintf(srv.post_body, sizeof srv.post_body, "%s", dumped);
    srv.post_status = 500;
    ASSERT_UTF8_ERROR(etcd_get(e, "/apps/a/b/manifest", &kvs, &err), err);
    free(dumped);
    json_decref(body);
    etcd_free(e);
}

/* "etcd answered with invalid JSON: %.200s" of the body itself. */
static void test_etcd_invalid_json(void **state)
{
    (void)state;
    etcd_kvs kvs;
    err_t err = {0};
    etcd *e = etcd_client();
    text_at(srv.post_body, 199);
    srv.post_status = 200;
    ASSERT_UTF8_ERROR(etcd_get(e, "/apps/a/b/manifest", &kvs, &err), err);
    etcd_free(e);
}

/* "etcd: endpoint too long: %.64s..." of an endpoint the operator gave. */
static void test_etcd_endpoint_too_long(void **state)
{
    (void)state;
    char endpoint[1200];
    err_t err = {0};
    text_at(endpoint, 63);
    memset(endpoint + strlen(endpoint), 'b', 1100 - strlen(endpoint));
    endpoint[1100] = '\0';
    assert_null(etcd_new(endpoint, &err));
    if (!is_utf8(err.msg))
        fail_msg("not UTF-8: %s", err.msg);
}

static docker *docker_client(void)
{
    char host[128];
    err_t err = {0};
    snprintf(host, sizeof host, "unix://%s", unx.path);
    docker *d = docker_new(host, &err);
    if (!d)
        fail_msg("docker_new: %s", err.msg);
    return d;
}

/* "docker pull %s: %.300s" of the pull's stream, from its "error" on. */
static void test_docker_pull_error(void **state)
{
    (void)state;
    char text[512];
    err_t err = {0};
    docker *d = docker_client();
    snprintf(srv.get_body, sizeof srv.get_body, "{\"message\":\"No such image\"}");
    srv.get_status = 404;
    text_at(text, 300 - strlen("\"error\":\"") - 1);
    snprintf(srv.post_body, sizeof srv.post_body,
             "{\"status\":\"Pulling from dockerfile/nginx\"}\r\n{\"error\":\"%s\"}\r\n", text);
    srv.post_status = 200;
    ASSERT_UTF8_ERROR(docker_image_ensure(d, "dockerfile/nginx", NULL, &err), err);
    docker_free(d);
}

/* The engine's own message, however long. */
static void test_docker_error_message(void **state)
{
    (void)state;
    char text[1100];
    json_t *info = NULL;
    err_t err = {0};
    docker *d = docker_client();
    text_at(text, 1022 - strlen("docker GET /containers/x/json: 404 ")); /* err_t cut it */
    snprintf(srv.get_body, sizeof srv.get_body, "{\"message\":\"%s\"}", text);
    srv.get_status = 404;
    ASSERT_UTF8_ERROR(docker_container_inspect(d, "x", &info, &err), err);
    assert_int_equal(err.code, ERR_NOTFOUND);
    docker_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_etcd_error_message),
        cmocka_unit_test(test_etcd_invalid_json),
        cmocka_unit_test(test_etcd_endpoint_too_long),
        cmocka_unit_test(test_docker_pull_error),
        cmocka_unit_test(test_docker_error_message),
    };
    return cmocka_run_group_tests(tests, start, stop);
}
