/* test_remote_utf8.c - messages that quote what etcd or the Docker Engine answered
 * stay valid UTF-8 (lib/etcd.c, lib/docker.c). They cut the remote's text at a byte
 * count ("%.300s"), which could fall inside a multi-byte character; the builder,
 * which answers errors in JSON, then failed (as in issue 12, defect 5). Now the cut
 * falls where a character ends. A fake server of this test's own answers each
 * request with a text built so that the old cut fell inside "é". */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "dokkaa/docker.h"
#include "dokkaa/etcd.h"

/* The fake server: GET answers get_status/get_body, anything else post_status/post_body. */
static struct {
    int tcp, unx;
    int port;
    char dir[64], path[96];
    pthread_t tcp_thread, unix_thread;
    long get_status, post_status;
    char get_body[4096], post_body[4096];
} srv = {.tcp = -1, .unx = -1};

static void serve(int c)
{
    char req[16384], sink[4096], head[8192];
    size_t len = 0;
    char *end = NULL;
    while (len < sizeof req - 1 && !end) {
        ssize_t n = read(c, req + len, sizeof req - 1 - len);
        if (n <= 0)
            return;
        len += (size_t)n;
        req[len] = '\0';
        end = strstr(req, "\r\n\r\n");
    }
    if (!end)
        return;
    const char *cl = strcasestr(req, "\r\nContent-Length:");
    size_t body = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
    for (size_t have = len - (size_t)(end + 4 - req); have < body;) {
        ssize_t n = read(c, sink, sizeof sink);
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    bool get = strncmp(req, "GET ", 4) == 0;
    const char *text = get ? srv.get_body : srv.post_body;
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %ld X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s",
                     get ? srv.get_status : srv.post_status, strlen(text), text);
    if (write(c, head, (size_t)n) < 0)
        return;
}

static void *run(void *arg)
{
    int fd = *(int *)arg;
    for (;;) {
        int c = accept(fd, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR)
                continue;
            return NULL;
        }
        serve(c);
        close(c);
    }
}

static int start(void **state)
{
    (void)state;
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    socklen_t inlen = sizeof in;
    snprintf(srv.dir, sizeof srv.dir, "/tmp/dokkaa-test-remote.XXXXXX");
    if (!mkdtemp(srv.dir))
        return -1;
    snprintf(srv.path, sizeof srv.path, "%s/docker.sock", srv.dir);
    snprintf(un.sun_path, sizeof un.sun_path, "%s", srv.path);
    srv.tcp = socket(AF_INET, SOCK_STREAM, 0);
    srv.unx = socket(AF_UNIX, SOCK_STREAM, 0);
    if (srv.tcp < 0 || bind(srv.tcp, (struct sockaddr *)&in, sizeof in) < 0 ||
        listen(srv.tcp, 16) < 0 || getsockname(srv.tcp, (struct sockaddr *)&in, &inlen) < 0 ||
        srv.unx < 0 || bind(srv.unx, (struct sockaddr *)&un, sizeof un) < 0 ||
        listen(srv.unx, 16) < 0)
        return -1;
    srv.port = ntohs(in.sin_port);
    if (pthread_create(&srv.tcp_thread, NULL, run, &srv.tcp) != 0 ||
        pthread_create(&srv.unix_thread, NULL, run, &srv.unx) != 0)
        return -1;
    return 0;
}

static int stop(void **state)
{
    (void)state;
    shutdown(srv.tcp, SHUT_RDWR);
    shutdown(srv.unx, SHUT_RDWR);
    pthread_join(srv.tcp_thread, NULL);
    pthread_join(srv.unix_thread, NULL);
    close(srv.tcp);
    close(srv.unx);
    unlink(srv.path);
    rmdir(srv.dir);
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
    snprintf(url, sizeof url, "http://127.0.0.1:%d", srv.port);
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
    snprintf(host, sizeof host, "unix://%s", srv.path);
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
