/* test_config.c - the programs' flag helpers (lib/config.c): the etcd endpoint
 * list as ETCD_ADDR or -e gives it. Issue 12, defect 7: a list longer than the
 * buffer kept its last endpoint cut in half ("http://10.0.0.2:23"), an address
 * the client then tried as if it were a member. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dokkaa/config.h"

static void test_endpoints_normalised(void **state)
{
    (void)state;
    char buf[256];
    err_t err = {0};
    assert_int_equal(config_etcd_endpoints(buf, sizeof buf, "10.0.0.1:4001, https://e:2379", "--etcd", &err), 0);
    assert_string_equal(buf, "http://10.0.0.1:4001,https://e:2379");
    assert_int_equal(config_etcd_endpoints(buf, sizeof buf, NULL, "--etcd", &err), 0);
    assert_string_equal(buf, CONFIG_ETCD_DEFAULT);
    assert_int_equal(config_etcd_endpoints(buf, sizeof buf, "", "--etcd", &err), 0);
    assert_string_equal(buf, CONFIG_ETCD_DEFAULT);
}

/* Exactly full fits; one byte less drops the last endpoint whole. */
static void test_endpoints_too_long_dropped_whole(void **state)
{
    (void)state;
    const char *in = "10.0.0.1:2379,10.0.0.2:2379";
    const char *want = "http://10.0.0.1:2379,http://10.0.0.2:2379";
    char buf[64];
    err_t err = {0};
    assert_int_equal(config_etcd_endpoints(buf, strlen(want) + 1, in, "--etcd", &err), 0);
    assert_string_equal(buf, want);
    memset(buf, 'x', sizeof buf);
    assert_int_equal(config_etcd_endpoints(buf, strlen(want), in, "--etcd", &err), -1);
    assert_string_equal(buf, "http://10.0.0.1:2379");
    /* the programs print this and refuse to start */
    assert_string_equal(err.msg, "--etcd: the endpoint list is longer than 40 bytes; name fewer "
                                 "members");
    memset(buf, 'x', sizeof buf);
    assert_int_equal(config_etcd_endpoints(buf, 10, in, "--etcd", &err), -1);
    assert_string_equal(buf, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endpoints_normalised),
        cmocka_unit_test(test_endpoints_too_long_dropped_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
