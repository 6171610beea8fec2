/* test_docker_paths.c - what the Docker client (lib/docker.c) puts into a request's
 * path, checked against a fake engine on a unix socket of this test's own
 * (fake_http.h) that records every request line and answers 404. Issue 12,
 * defect 13: a container name read from /status went into the path as it was, so
 * whoever could write etcd could point `logs` (or an inspect, a stop ...) at
 * another Engine endpoint. Names that are not Docker's ([a-zA-Z0-9][a-zA-Z0-9_.-]*)
 * now fail with ERR_INVALID, and no request reaches the engine. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dokkaa/docker.h"
#include "fake_http.h"

#define MAX_SEEN 64

static fake_http srv = FAKE_HTTP_INIT;

static struct {
    pthread_mutex_t lock;
    char seen[MAX_SEEN][512]; /* "GET /v1.41/containers/x/json" */
    int nseen;
} eng = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Records the request's first line, answers 404 as the engine does for a missing
 * container. */
static const char *engine_answer(void *ud, const char *req, long *status)
{
    (void)ud;
    pthread_mutex_lock(&eng.lock);
    if (eng.nseen < MAX_SEEN) {
        size_t line = strcspn(req, " ");
        line += strcspn(req + line + 1, " ") + 1;
        snprintf(eng.seen[eng.nseen++], sizeof eng.seen[0], "%.*s", (int)line, req);
    }
    pthread_mutex_unlock(&eng.lock);
    *status = 404;
    return "{\"message\":\"no such thing\"}";
}

static int engine_start(void **state)
{
    (void)state;
    return fake_http_start_unix(&srv, "dokkaa-test-docker", engine_answer, NULL);
}

static int engine_stop(void **state)
{
    (void)state;
    fake_http_stop(&srv);
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
    snprintf(host, sizeof host, "unix://%s", srv.path);
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
