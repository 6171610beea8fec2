/* pki.c - the cluster's CA and host certificates, with OpenSSL's libcrypto (see
 * pki.h). Certificates are X.509 v3: the CA's with basicConstraints CA:TRUE and
 * keyCertSign, the hosts' with serverAuth+clientAuth and their addresses as
 * subjectAltName (what etcd, libcurl and GnuTLS check; the CN is a label only).
 *
 * Files are written to a temporary name and renamed, keys made 0600 before a
 * byte is written, so a crash leaves the old pair or the new one, never half. */
#include "pki.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define PKI_CA_DAYS (20 * 365)
#define PKI_CERT_DAYS (5 * 365)
#define PKI_RENEW_DAYS 30

/* libcrypto's last error as err_t, after what we were doing. */
static int pki_fail(err_t *err, const char *what)
{
    char why[256] = "unknown error";
    unsigned long e = ERR_get_error();
    if (e)
        ERR_error_string_n(e, why, sizeof why);
    ERR_clear_error();
    return err_set(err, ERR_SYS, "%s: %s", what, why);
}

static X509 *pki_read_cert(const char *path)
{
    FILE *f = fopen(path, "r");
    X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    return x;
}

static EVP_PKEY *pki_read_key(const char *path)
{
    FILE *f = fopen(path, "r");
    EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    return k;
}

/* Write a PEM file through a temporary one; mode 0600 for keys, 0644 else. */
static int pki_write(const char *path, X509 *cert, EVP_PKEY *key, err_t *err)
{
    char tmp[PATH_MAX + 16];
    snprintf(tmp, sizeof tmp, "%s.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, key ? 0600 : 0644);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        if (fd >= 0)
            close(fd);
        return err_sys(err, "%s", tmp);
    }
    int ok = key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) : PEM_write_X509(f, cert);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        ok = 0;
    if (fclose(f) != 0 || !ok || rename(tmp, path) < 0) {
        unlink(tmp);
        return err_sys(err, "%s", path);
    }
    return 0;
}

static int pki_add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    int ok = ext && X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

/* A new certificate for key, named cn, valid for days, issued by issuer (NULL:
 * self-signed) and signed with issuer_key; without extensions yet. */
static X509 *pki_new_cert(EVP_PKEY *key, const char *cn, int days)
{
    unsigned char serial[16];
    X509 *x = X509_new();
    BIGNUM *bn = NULL;
    ASN1_INTEGER *sn = NULL;
    if (!x || RAND_bytes(serial, sizeof serial) != 1)
        goto err;
    serial[0] &= 0x7f; /* positive, as RFC 5280 wants */
    if (!(bn = BN_bin2bn(serial, sizeof serial, NULL)) ||
        !(sn = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x))) || !X509_set_version(x, 2) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400) || !X509_set_pubkey(x, key) ||
        !X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8,
                                    (const unsigned char *)cn, -1, -1, 0))
        goto err;
    BN_free(bn);
    return x;
err:
    BN_free(bn);
    X509_free(x);
    return NULL;
}

static void pki_path(char *buf, size_t size, const char *dir, const char *name)
{
    snprintf(buf, size, "%s/%s", dir, name);
}

int pki_ca_ensure(const char *dir, const char *cluster, bool *made, err_t *err)
{
    char cert_path[PATH_MAX], key_path[PATH_MAX], cn[128];
    X509 *x = NULL;
    EVP_PKEY *key = NULL;
    int rc = -1;
    pki_path(cert_path, sizeof cert_path, dir, "ca.pem");
    pki_path(key_path, sizeof key_path, dir, "ca.key");
    *made = false;
    if ((x = pki_read_cert(cert_path)) && (key = pki_read_key(key_path)) &&
        X509_check_private_key(x, key) == 1) {
        rc = 0;
        goto out;
    }
    X509_free(x);
    EVP_PKEY_free(key);
    x = NULL;
    ERR_clear_error();
    snprintf(cn, sizeof cn, "Dokkaa cluster %s CA", cluster);
    if (!(key = EVP_EC_gen("P-256")) || !(x = pki_new_cert(key, cn, PKI_CA_DAYS)) ||
        !X509_set_issuer_name(x, X509_get_subject_name(x)) ||
        pki_add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") < 0 ||
        pki_add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") < 0 ||
        pki_add_ext(x, x, NID_subject_key_identifier, "hash") < 0 || !X509_sign(x, key, EVP_sha256())) {
        pki_fail(err, "making the cluster's CA");
        goto out;
    }
    /* the key first: a certificate without its key would be taken for a CA */
    if (pki_write(key_path, NULL, key, err) < 0 || pki_write(cert_path, x, NULL, err) < 0)
        goto out;
    *made = true;
    rc = 0;
out:
    X509_free(x);
    EVP_PKEY_free(key);
    return rc;
}

/* Whether the certificate at path may be kept: issued by ca, covering every
 * name, not about to expire, and its key beside it. */
static bool pki_cert_good(const char *cert_path, const char *key_path, X509 *ca,
                          const char *const *ips, const char *const *dns)
{
    X509 *x = pki_read_cert(cert_path);
    EVP_PKEY *key = x ? pki_read_key(key_path) : NULL, *ca_key = X509_get0_pubkey(ca);
    bool good = x && key && ca_key && X509_check_private_key(x, key) == 1 &&
                X509_verify(x, ca_key) == 1 &&
                X509_cmp_time(X509_get0_notAfter(x), &(time_t){time(NULL) + PKI_RENEW_DAYS * 86400}) > 0;
    for (size_t i = 0; good && ips && ips[i]; i++)
        good = X509_check_ip_asc(x, ips[i], 0) == 1;
    for (size_t i = 0; good && dns && dns[i]; i++)
        good = X509_check_host(x, dns[i], 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) == 1;
    X509_free(x);
    EVP_PKEY_free(key);
    ERR_clear_error();
    return good;
}

int pki_cert_ensure(const char *ca_dir, const char *cert_path, const char *key_path, const char *cn,
                    const char *const *ips, const char *const *dns, bool *made, err_t *err)
{
    char path[PATH_MAX], san[4096] = "";
    size_t len = 0;
    X509 *ca = NULL, *x = NULL;
    EVP_PKEY *ca_key = NULL, *key = NULL;
    int rc = -1;
    *made = false;
    pki_path(path, sizeof path, ca_dir, "ca.pem");
    if (!(ca = pki_read_cert(path)))
        return err_set(err, ERR_NOTFOUND, "%s: no CA certificate there", path);
    if (pki_cert_good(cert_path, key_path, ca, ips, dns)) {
        X509_free(ca);
        return 0;
    }
    for (size_t i = 0; ips && ips[i]; i++)
        len += (size_t)snprintf(san + len, sizeof san - len, "%sIP:%s", len ? "," : "", ips[i]);
    for (size_t i = 0; dns && dns[i] && len < sizeof san; i++)
        len += (size_t)snprintf(san + len, sizeof san - len, "%sDNS:%s", len ? "," : "", dns[i]);
    if (len >= sizeof san) {
        err_set(err, ERR_INVALID, "%s: too many names for one certificate", cn);
        goto out;
    }
    pki_path(path, sizeof path, ca_dir, "ca.key");
    if (!(ca_key = pki_read_key(path))) {
        pki_fail(err, path);
        goto out;
    }
    if (!(key = EVP_EC_gen("P-256")) || !(x = pki_new_cert(key, cn, PKI_CERT_DAYS)) ||
        !X509_set_issuer_name(x, X509_get_subject_name(ca)) ||
        pki_add_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
        pki_add_ext(x, ca, NID_key_usage, "critical,digitalSignature,keyEncipherment") < 0 ||
        pki_add_ext(x, ca, NID_ext_key_usage, "serverAuth,clientAuth") < 0 ||
        pki_add_ext(x, ca, NID_authority_key_identifier, "keyid") < 0 ||
        (len && pki_add_ext(x, ca, NID_subject_alt_name, san) < 0) ||
        !X509_sign(x, ca_key, EVP_sha256())) {
        pki_fail(err, cn);
        goto out;
    }
    if (pki_write(key_path, NULL, key, err) < 0 || pki_write(cert_path, x, NULL, err) < 0)
        goto out;
    *made = true;
    rc = 0;
out:
    X509_free(ca);
    X509_free(x);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(key);
    return rc;
}
