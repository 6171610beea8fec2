/* test_docker_paths.c - what the Docker client (lib/docker.c) puts into a request's
 * path, checked against a fake engine on a unix socket of this test's own that
 * records every request line and answers 404. Issue 12, defect 13: a container
 * name read from /status went into the path as it was, so whoever could write etcd
 * could point `logs` (or an inspect, a stop ...) at another Engine endpoint. Names
 * that are not Docker's ([a-zA-Z0-9][a-zA-Z0-9_.-]*) now fail with ERR_INVALID, and
 * no request reaches the engine. */
#include <errno.h>
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

#define MAX_SEEN 64

static struct {
    int fd;
    char dir[64];
    char path[96];
    pthread_t thread;
    pthread_mutex_t lock;
    char seen[MAX_SEEN][512]; /* "GET /v1.41/containers/x/json" */
    int nseen;
} eng = {.fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER};

/* Read one request (headers, then Content-Length bytes of body, so that closing
 * does not reset a connection curl still writes to), record its first line, answer
 * 404 as the engine does for a missing container. */
static void engine_serve(int c)
{
    char req[16384];
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
    size_t have = len - (size_t)(end + 4 - req);
    char sink[4096];
    while (have < body) {
        ssize_t n = read(c, sink, sizeof sink);
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    pthread_mutex_lock(&eng.lock);
    if (eng.nseen < MAX_SEEN) {
        size_t line = strcspn(req, " ");
        line += strcspn(req + line + 1, " ") + 1;
        snprintf(eng.seen[eng.nseen++], sizeof eng.seen[0], "%.*s", (int)line, req);
    }
    pthread_mutex_unlock(&eng.lock);
    static const char answer[] = "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                                 "Content-Length: 27\r\nConnection: close\r\n\r\n"
                                 "{\"message\":\"no such thing\"}";
    if (write(c, answer, sizeof answer - 1) < 0)
        return;
}

static void *engine_run(void *arg)
{
    (void)arg;
    for (;;) {
        int c = accept(eng.fd, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR)
                continue;
            return NULL; /* shut down */
        }
        engine_serve(c);
        close(c);
    }
}

static int engine_start(void **state)
{
    (void)state;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(eng.dir, sizeof eng.dir, "/tmp/dokkaa-test-docker.XXXXXX");
    if (!mkdtemp(eng.dir))
        return -1;
    snprintf(eng.path, sizeof eng.path, "%s/docker.sock", eng.dir);
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", eng.path);
    eng.fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (eng.fd < 0 || bind(eng.fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        listen(eng.fd, 16) < 0 || pthread_create(&eng.thread, NULL, engine_run, NULL) != 0)
        return -1;
    return 0;
}

static int engine_stop(void **state)
{
    (void)state;
    shutdown(eng.fd, SHUT_RDWR); /* wakes the accept */
    pthread_join(eng.thread, NULL);
    close(eng.fd);
    unlink(eng.path);
    rmdir(eng.dir);
    return 0;
}

static int engine_requests(void)
{
    pthread_mutex_lock(&eng.lock);
    int n = eng.nseen;
    pthread_mutex_unlock(&eng.lock);
    return n;
}

static docker *client(void)
{
    char host[128];
    err_t err = {0};
    snprintf(host, sizeof host, "unix://%s", eng.path);
    docker *d = docker_new(host, &err);
    if (!d)
        fail_msg("docker_new: %s", err.msg);
    return d;
}

static bool no_output(void *ud, enum docker_stream stream, const char *data, size_t len)
{
    (void)ud;
    (void)stream;
    (void)data;
    (void)len;
    return true;
}

/* Names a /status record could hold that are no container's. */
static const char *const hostile[] = {
    "../../info", "..", ".", "x/../../images/json", "x?all=1", "x#", "a b", "", "-x", ".x",
    "_x", "x%2f..%2f..%2finfo", "x\r\nHost: evil", "web---nginx/logs?follow=1&x=",
    "é",
};

static void assert_refused(int rc, const err_t *err, const char *name)
{
    if (rc != -1 || err->code != ERR_INVALID)
        fail_msg("name \"%s\": rc %d, [%d] %s", name, rc, (int)err->code, err->msg);
}

static void test_hostile_names_reach_no_endpoint(void **state)
{
    (void)state;
    docker *d = client();
    char *id = NULL;
    char *const argv[] = {"true", NULL};
    int before = engine_requests(), code;
    json_t *info = NULL;
    for (size_t i = 0; i < sizeof hostile / sizeof *hostile; i++) {
        const char *name = hostile[i];
        err_t err = {0};
        json_t *config = json_object();
        assert_refused(docker_container_logs(d, name, false, -1, no_output, NULL, NULL, &err),
                       &err, name);
        assert_refused(docker_container_inspect(d, name, &info, &err), &err, name);
        assert_refused(docker_container_start(d, name, &err), &err, name);
        assert_refused(docker_container_stop(d, name, 1, &err), &err, name);
        assert_refused(docker_container_remove(d, name, &err), &err, name);
        assert_refused(docker_container_rename(d, name, "ok", &err), &err, name);
        assert_refused(docker_container_rename(d, "ok", name, &err), &err, name);
        assert_refused(docker_container_restart_policy(d, name, "no", &err), &err, name);
        assert_refused(docker_exec(d, name, argv, 100, &code, &err), &err, name);
        assert_refused(docker_container_create(d, name, config, &id, &err), &err, name);
        assert_refused(docker_network_gateway(d, name, &id, &err), &err, name);
        json_decref(config);
    }
    assert_int_equal(engine_requests(), before);
    docker_free(d);
}

/* A name longer than any the engine makes is refused too (and would not fit the
 * paths this client builds). */
static void test_overlong_name_refused(void **state)
{
    (void)state;
    char name[DOCKER_NAME_MAX + 2];
    err_t err = {0};
    memset(name, 'a', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    assert_int_equal(docker_check_name("container", name, &err), -1);
    assert_int_equal(err.code, ERR_INVALID);
    name[DOCKER_NAME_MAX] = '\0';
    assert_int_equal(docker_check_name("container", name, &err), 0);
}

/* The names Dokkaa gives, and engine ids, go through as they are. */
static void test_good_names_reach_their_endpoint(void **state)
{
    (void)state;
    static const char *const good[] = {
        "web---nginx", "web---nginx---2.next", "a",
        "4f1c2b7e9d0a4f1c2b7e9d0a4f1c2b7e9d0a4f1c2b7e9d0a4f1c2b7e9d0a4f1c",
        "Some_Name.1-x",
    };
    docker *d = client();
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        err_t err = {0};
        json_t *info = NULL;
        char want[512];
        assert_int_equal(docker_container_inspect(d, good[i], &info, &err), -1);
        assert_int_equal(err.code, ERR_NOTFOUND);
        pthread_mutex_lock(&eng.lock);
        snprintf(want, sizeof want, "GET /v1.41/containers/%s/json", good[i]);
        assert_string_equal(eng.seen[eng.nseen - 1], want);
        pthread_mutex_unlock(&eng.lock);
    }
    docker_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_names_reach_no_endpoint),
        cmocka_unit_test(test_overlong_name_refused),
        cmocka_unit_test(test_good_names_reach_their_endpoint),
    };
    return cmocka_run_group_tests(tests, engine_start, engine_stop);
}
