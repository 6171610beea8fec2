/* test_spec.c - unit tests for the Docker create body of a manifest instance
 * (src/conductor/spec.c): image, command, environment (identity, links, user
 * env), labels, published ports and restart policy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "spec.h"

static const spec_host host = {
    .cluster = "test", .host_id = "host-1", .host_ip = "10.88.0.11", .gateway = "172.17.0.1"};

static const char crawler_json[] =
    "{\"image\":\"dockerfile/ubuntu\",\"scale\":1,\"command\":[\"/bin/bash\",\"-c\","
    "\"while true; do curl http://$SERVICE_NGINX_ADDR:$SERVICE_NGINX_PORT; sleep 2; done\"],"
    "\"links\":[\"nginx\"]}";
static const char nginx_json[] =
    "{\"image\":\"dockerfile/nginx\",\"scale\":1,\"services\":{\"nginx\":80}}";

static void make_spec(plan_spec *s, const char *app, const char *name, const char *json)
{
    err_t err;
    memset(s, 0, sizeof *s);
    snprintf(s->app, sizeof s->app, "%s", app);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->valid = true;
    if (manifest_parse(json, strlen(json), &s->m, &err) < 0)
        fail_msg("manifest: %s", err.msg);
}

/* Does the Env array hold exactly the line "name=value"? */
static bool has_env(const json_t *config, const char *line)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(config, "Env"), i, v)
        if (strcmp(json_string_value(v), line) == 0)
            return true;
    return false;
}

static const char *label(const json_t *config, const char *name)
{
    return json_string_value(json_object_get(json_object_get(config, "Labels"), name));
}

static void test_crawler_gets_link_and_identity_env(void **state)
{
    (void)state;
    plan_spec s;
    int ports[] = {20000};
    make_spec(&s, "dummy", "crawler", crawler_json);
    json_t *c = spec_container_config(&host, &s, 0, ports);
    assert_non_null(c);
    assert_string_equal(json_string_value(json_object_get(c, "Image")), "dockerfile/ubuntu");
    assert_true(has_env(c, "SERVICE_NGINX_ADDR=172.17.0.1"));
    assert_true(has_env(c, "SERVICE_NGINX_PORT=20000"));
    assert_true(has_env(c, "DOKKAA_APP=dummy"));
    assert_true(has_env(c, "DOKKAA_NAME=crawler"));
    assert_true(has_env(c, "DOKKAA_INSTANCE=0"));
    assert_true(has_env(c, "DOKKAA_HOST=host-1"));
    assert_int_equal(json_array_size(json_object_get(c, "Env")), 6);
    json_decref(c);
    manifest_free(&s.m);
}

static void test_command_becomes_cmd(void **state)
{
    (void)state;
    plan_spec s;
    int ports[] = {20000};
    make_spec(&s, "dummy", "crawler", crawler_json);
    json_t *c = spec_container_config(&host, &s, 0, ports);
    json_t *want = json_pack("[sss]", "/bin/bash", "-c",
                             "while true; do curl http://$SERVICE_NGINX_ADDR:$SERVICE_NGINX_PORT;"
                             " sleep 2; done");
    assert_true(json_equal(json_object_get(c, "Cmd"), want));
    json_decref(want);
    json_decref(c);
    manifest_free(&s.m);
}

static void test_no_command_leaves_image_default(void **state)
{
    (void)state;
    plan_spec s;
    make_spec(&s, "dummy", "nginx", nginx_json);
    json_t *c = spec_container_config(&host, &s, 0, NULL);
    assert_null(json_object_get(c, "Cmd"));
    json_decref(c);
    manifest_free(&s.m);
}

static void test_labels_identify_instance_and_hash(void **state)
{
    (void)state;
    plan_spec s;
    int ports[] = {20000};
    make_spec(&s, "dummy", "crawler", crawler_json);
    json_t *c = spec_container_config(&host, &s, 2, ports);
    assert_string_equal(label(c, "dokkaa.cluster"), "test");
    assert_string_equal(label(c, "dokkaa.app"), "dummy");
    assert_string_equal(label(c, "dokkaa.name"), "crawler");
    assert_string_equal(label(c, "dokkaa.instance"), "2");
    assert_string_equal(label(c, "dokkaa.hash"), s.m.hash);
    assert_int_equal(strlen(s.m.hash), 16);
    assert_true(has_env(c, "DOKKAA_INSTANCE=2"));
    json_decref(c);
    manifest_free(&s.m);
}

static void test_services_are_exposed_and_published_on_host_ip(void **state)
{
    (void)state;
    plan_spec s;
    make_spec(&s, "dummy", "nginx", nginx_json);
    json_t *c = spec_container_config(&host, &s, 0, NULL);
    json_t *exposed = json_pack("{s:{}}", "80/tcp");
    json_t *bindings = json_pack("{s:[{s:s,s:s}]}", "80/tcp", "HostIp", "10.88.0.11", "HostPort", "");
    json_t *hc = json_object_get(c, "HostConfig");
    assert_true(json_equal(json_object_get(c, "ExposedPorts"), exposed));
    assert_true(json_equal(json_object_get(hc, "PortBindings"), bindings));
    assert_int_equal(json_array_size(json_object_get(c, "Env")), 4);
    json_decref(exposed);
    json_decref(bindings);
    json_decref(c);
    manifest_free(&s.m);
}

static void test_restart_policy_is_unless_stopped(void **state)
{
    (void)state;
    plan_spec s;
    make_spec(&s, "dummy", "nginx", nginx_json);
    json_t *c = spec_container_config(&host, &s, 0, NULL);
    json_t *policy = json_object_get(json_object_get(c, "HostConfig"), "RestartPolicy");
    assert_string_equal(json_string_value(json_object_get(policy, "Name")), "unless-stopped");
    json_decref(c);
    manifest_free(&s.m);
}

static void test_dashed_link_and_user_env(void **state)
{
    (void)state;
    plan_spec s;
    int ports[] = {20001, 20002};
    make_spec(&s, "shop", "web",
              "{\"image\":\"x\",\"links\":[\"my-db\",\"cache\"],"
              "\"env\":{\"FOO\":\"bar\",\"EMPTY\":\"\",\"EQ\":\"a=b\"}}");
    json_t *c = spec_container_config(&host, &s, 0, ports);
    /* links are sorted: cache first, then my-db */
    assert_true(has_env(c, "SERVICE_CACHE_ADDR=172.17.0.1"));
    assert_true(has_env(c, "SERVICE_CACHE_PORT=20001"));
    assert_true(has_env(c, "SERVICE_MY_DB_ADDR=172.17.0.1"));
    assert_true(has_env(c, "SERVICE_MY_DB_PORT=20002"));
    assert_true(has_env(c, "FOO=bar"));
    assert_true(has_env(c, "EMPTY="));
    assert_true(has_env(c, "EQ=a=b"));
    assert_int_equal(json_array_size(json_object_get(c, "Env")), 4 + 4 + 3);
    json_decref(c);
    manifest_free(&s.m);
}

/* A manifest may hold an env value of any length (a certificate, a JSON config):
 * the container must get it whole. */
static void test_long_env_value_is_passed_whole(void **state)
{
    (void)state;
    enum { LEN = 5000 };
    char *json = malloc(LEN + 64), *line = malloc(LEN + 16);
    assert_non_null(json);
    assert_non_null(line);
    int n = sprintf(json, "{\"image\":\"x\",\"env\":{\"BIG\":\"");
    memset(json + n, 'x', LEN);
    strcpy(json + n + LEN, "\"}}");
    strcpy(line, "BIG=");
    memset(line + 4, 'x', LEN);
    line[4 + LEN] = '\0';
    plan_spec s;
    make_spec(&s, "dummy", "big", json);
    json_t *c = spec_container_config(&host, &s, 0, NULL);
    bool whole = has_env(c, line);
    json_decref(c);
    manifest_free(&s.m);
    free(json);
    free(line);
    assert_true(whole);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crawler_gets_link_and_identity_env),
        cmocka_unit_test(test_command_becomes_cmd),
        cmocka_unit_test(test_no_command_leaves_image_default),
        cmocka_unit_test(test_labels_identify_instance_and_hash),
        cmocka_unit_test(test_services_are_exposed_and_published_on_host_ip),
        cmocka_unit_test(test_restart_policy_is_unless_stopped),
        cmocka_unit_test(test_dashed_link_and_user_env),
        cmocka_unit_test(test_long_env_value_is_passed_whole),
    };
    return cmocka_run_group_tests_name("spec", tests, NULL, NULL) ? 1 : 0;
}
