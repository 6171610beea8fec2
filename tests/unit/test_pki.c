/* test_pki.c - unit tests for the CLI's cluster CA (src/dokkaacfg/pki.c): a CA
 * and host certificates that verify, keys no one else may read, a second run that
 * changes nothing, and a certificate made anew when it no longer fits (a new
 * address, another CA, a key that does not match). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pki.h"

typedef struct pki_fixture {
    char dir[64], cert[96], key[96];
} pki_fixture;

static int pki_setup(void **state)
{
    pki_fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/test_pki.XXXXXX");
    if (!f || !mkdtemp(f->dir))
        return -1;
    snprintf(f->cert, sizeof f->cert, "%s/host.pem", f->dir);
    snprintf(f->key, sizeof f->key, "%s/host.key", f->dir);
    *state = f;
    return 0;
}

static int pki_teardown(void **state)
{
    pki_fixture *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    int rc = system(cmd);
    free(f);
    return rc;
}

static X509 *read_cert(const char *path)
{
    FILE *fp = fopen(path, "r");
    X509 *x = fp ? PEM_read_X509(fp, NULL, NULL, NULL) : NULL;
    if (fp)
        fclose(fp);
    return x;
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_mode & 0777 : 0;
}

/* Whether cert verifies against the CA in dir, as a TLS peer would check it. */
static bool chains_to(const char *dir, const char *cert_path)
{
    char ca_path[128];
    snprintf(ca_path, sizeof ca_path, "%s/ca.pem", dir);
    X509 *ca = read_cert(ca_path), *x = read_cert(cert_path);
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    bool ok = ca && x && store && ctx && X509_STORE_add_cert(store, ca) == 1 &&
              X509_STORE_CTX_init(ctx, store, x, NULL) == 1 && X509_verify_cert(ctx) == 1;
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    X509_free(ca);
    X509_free(x);
    return ok;
}

static void test_ca_made_once_with_private_key(void **state)
{
    pki_fixture *f = *state;
    char key[96];
    bool made;
    err_t err;
    assert_int_equal(pki_ca_ensure(f->dir, "prod", &made, &err), 0);
    assert_true(made);
    snprintf(key, sizeof key, "%s/ca.key", f->dir);
    assert_int_equal(mode_of(key), 0600);
    X509 *ca = read_cert(strcat(strcpy((char[96]){0}, f->dir), "/ca.pem"));
    assert_non_null(ca);
    assert_int_equal(X509_check_ca(ca), 1);
    X509_free(ca);
    assert_int_equal(pki_ca_ensure(f->dir, "prod", &made, &err), 0);
    assert_false(made);
}

static void test_host_cert_chains_and_covers_its_names(void **state)
{
    pki_fixture *f = *state;
    const char *ips[] = {"10.87.0.11", "127.0.0.1", NULL}, *dns[] = {"m1", "localhost", NULL};
    bool made;
    err_t err;
    assert_int_equal(pki_ca_ensure(f->dir, "prod", &made, &err), 0);
    assert_int_equal(pki_cert_ensure(f->dir, f->cert, f->key, "m1", ips, dns, &made, &err), 0);
    assert_true(made);
    assert_true(chains_to(f->dir, f->cert));
    assert_int_equal(mode_of(f->key), 0600);
    X509 *x = read_cert(f->cert);
    assert_int_equal(X509_check_ip_asc(x, "10.87.0.11", 0), 1);
    assert_int_equal(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
    assert_int_equal(X509_check_ip_asc(x, "10.87.0.12", 0), 0);
    assert_int_equal(X509_check_host(x, "m1", 0, 0, NULL), 1);
    /* good for both ends of TLS, and not a CA */
    assert_int_equal(X509_check_purpose(x, X509_PURPOSE_SSL_SERVER, 0), 1);
    assert_int_equal(X509_check_purpose(x, X509_PURPOSE_SSL_CLIENT, 0), 1);
    assert_int_equal(X509_check_ca(x), 0);
    X509_free(x);
}

static void test_second_run_keeps_the_same_files(void **state)
{
    pki_fixture *f = *state;
    const char *ips[] = {"10.87.0.11", NULL};
    bool made;
    err_t err;
    assert_int_equal(pki_ca_ensure(f->dir, "prod", &made, &err), 0);
    assert_int_equal(pki_cert_ensure(f->dir, f->cert, f->key, "m1", ips, NULL, &made, &err), 0);
    X509 *before = read_cert(f->cert);
    assert_int_equal(pki_cert_ensure(f->dir, f->cert, f->key, "m1", ips, NULL, &made, &err), 0);
    assert_false(made);
    X509 *after = read_cert(f->cert);
    assert_int_equal(X509_cmp(before, after), 0);
    X509_free(before);
    X509_free(after);
}

static void test_new_address_makes_a_new_cert(void **state)
{
    pki_fixture *f = *state;
    const char *one[] = {"10.87.0.11", NULL}, *two[] = {"10.87.0.11", "192.0.2.7", NULL};
    bool made;
    err_t err;
    assert_int_equal(pki_ca_ensure(f->dir, "prod", &made, &err), 0);
    assert_int_equal(pki_cert_ensure(f->dir, f->cert, f->key, "m1", one, NULL, &made, &err), 0);
    assert_int_equal(pki_cert_ensure(f->dir, f->cert, f->key, "m1", two, NULL, &made, &err), 0);
    assert_true(made);
    X509 *x = read_cert(f->cert);
    assert_int_equal(X509_check_ip_asc(x, "192.0.2.7", 0), 1);
    X509_free(x);
}

static void test_cert_of_another_ca_is_replaced(void **state)
{
    pki_fixture *f = *state;
    const char *ips[] = {"10.87.0.11", NULL};
    char path[96];
    bool made;
    err_t err;
    assert_int_equal(pki_ca_ensure(f->dir, "prod", &made, &err), 0);
    assert_int_equal(pki_cert_ensure(f->dir, f->cert, f->key, "m1", ips, NULL, &made, &err), 0);
    /* the CA lost and made again: the host's old certificate no longer chains */
    snprintf(path, sizeof path, "%s/ca.pem", f->dir);
    unlink(path);
    assert_int_equal(pki_ca_ensure(f->dir, "prod", &made, &err), 0);
    assert_true(made);
    assert_false(chains_to(f->dir, f->cert));
    assert_int_equal(pki_cert_ensure(f->dir, f->cert, f->key, "m1", ips, NULL, &made, &err), 0);
    assert_true(made);
    assert_true(chains_to(f->dir, f->cert));
}

static void test_mismatched_key_is_replaced(void **state)
{
    pki_fixture *f = *state;
    const char *ips[] = {"10.87.0.11", NULL};
    char other_key[96];
    bool made;
    err_t err;
    snprintf(other_key, sizeof other_key, "%s/other.key", f->dir);
    assert_int_equal(pki_ca_ensure(f->dir, "prod", &made, &err), 0);
    assert_int_equal(pki_cert_ensure(f->dir, f->cert, f->key, "m1", ips, NULL, &made, &err), 0);
    assert_int_equal(pki_cert_ensure(f->dir, f->cert, other_key, "m1", ips, NULL, &made, &err), 0);
    assert_true(made); /* a certificate whose key is elsewhere is of no use */
}

static void test_without_ca_is_an_error(void **state)
{
    pki_fixture *f = *state;
    bool made;
    err_t err;
    assert_int_equal(pki_cert_ensure(f->dir, f->cert, f->key, "m1", NULL, NULL, &made, &err), -1);
    assert_non_null(strstr(err.msg, "no CA certificate"));
    assert_int_equal(access(f->cert, F_OK), -1);
}

static void test_garbage_ca_is_made_anew(void **state)
{
    pki_fixture *f = *state;
    char path[96];
    bool made;
    err_t err;
    snprintf(path, sizeof path, "%s/ca.pem", f->dir);
    FILE *fp = fopen(path, "w");
    fputs("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n", fp);
    fclose(fp);
    assert_int_equal(pki_ca_ensure(f->dir, "prod", &made, &err), 0);
    assert_true(made);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, pki_setup, pki_teardown)
    const struct CMUnitTest tests[] = {
        T(test_ca_made_once_with_private_key),   T(test_host_cert_chains_and_covers_its_names),
        T(test_second_run_keeps_the_same_files), T(test_new_address_makes_a_new_cert),
        T(test_cert_of_another_ca_is_replaced),  T(test_mismatched_key_is_replaced),
        T(test_without_ca_is_an_error),          T(test_garbage_ca_is_made_anew),
    };
    return cmocka_run_group_tests_name("pki", tests, NULL, NULL) ? 1 : 0;
}
