/* token.c - API tokens (see token.h). */
#include "dokkaa/token.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "dokkaa/keys.h"

static const char token_hex[] = "0123456789abcdef";

bool token_well_formed(const char *text)
{
    if (!text || strlen(text) != TOKEN_LEN || strncmp(text, "dk_", 3) != 0)
        return false;
    for (const char *p = text + 3; *p; p++)
        if (!strchr(token_hex, *p))
            return false;
    return true;
}

static void token_hexify(const unsigned char *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = token_hex[in[i] >> 4];
        out[2 * i + 1] = token_hex[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void token_key(const char *token, char *key, size_t size)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char hash[TOKEN_HASH_LEN + 1], full[KEYS_SIZE];
    EVP_Digest(token, strlen(token), md, &mdlen, EVP_sha256(), NULL);
    token_hexify(md, mdlen, hash);
    snprintf(key, size, "%s", keys_token_key(full, hash));
}

void token_id(const char *key, char *id)
{
    const char *hash = key + strlen(KEYS_TOKENS);
    size_t n = strnlen(hash, TOKEN_ID_LEN); /* a key written by hand may be short */
    memcpy(id, hash, n);
    id[n] = '\0';
}

static int token_check_name(const char *name, err_t *err)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > TOKEN_MAX_NAME)
        return err_set(err, ERR_INVALID, "name: must be 1..%d characters, got %zu",
                       TOKEN_MAX_NAME, len);
    for (const char *p = name; *p; p++)
        if (*p < 0x21 || *p > 0x7e)
            return err_set(err, ERR_INVALID,
                           "name: must be printable ASCII without spaces, got \"%s\"", name);
    return 0;
}

int token_create(etcd *e, const char *name, enum keys_role role, char *token, char *id,
                 char *created, int64_t *revision, err_t *err)
{
    unsigned char secret[24];
    char key[80];
    time_t now = time(NULL);
    struct tm tm;

    if (token_check_name(name, err) < 0)
        return -1;
    if (getrandom(secret, sizeof secret, 0) != (ssize_t)sizeof secret)
        return err_sys(err, "getrandom");
    memcpy(token, "dk_", 3);
    token_hexify(secret, sizeof secret, token + 3);
    token_key(token, key, sizeof key);
    token_id(key, id);
    strftime(created, TOKEN_TIME_LEN + 1, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    keys_token rec = {.role = role};
    snprintf(rec.id, sizeof rec.id, "%s", id);
    snprintf(rec.name, sizeof rec.name, "%s", name);
    snprintf(rec.created, sizeof rec.created, "%s", created);
    char *text = keys_token_encode(&rec);
    if (!text)
        return err_set(err, ERR_SYS, "token: out of memory");
    int rc = etcd_put(e, key, text, 0, revision, err);
    free(text);
    return rc;
}
