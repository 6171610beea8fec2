/* config.c - flag and environment helpers shared by the programs (see config.h). */
#include "dokkaa/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokkaa/names.h"

/* Whole endpoints only: one that does not fit is dropped with all after it, never
 * kept cut ("http://10.0.0.1:23" would be a member that does not exist, and a
 * client would spend every failover on it). */
int config_etcd_endpoints(char *buf, size_t size, const char *in, const char *name, err_t *err)
{
    size_t len = 0;
    int rc = 0;
    char *copy, *tok, *save;
    if (size == 0)
        return err_set(err, ERR_INVALID, "%s: no room for an endpoint", name);
    if (!in || !*in)
        in = CONFIG_ETCD_DEFAULT;
    copy = strdup(in);
    buf[0] = '\0';
    if (!copy)
        return err_set(err, ERR_SYS, "%s: out of memory", name);
    for (tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        const char *scheme = strstr(tok, "://") ? "" : "http://";
        int n = snprintf(buf + len, size - len, "%s%s%s", len ? "," : "", scheme, tok);
        if (n < 0 || (size_t)n >= size - len) {
            buf[len] = '\0'; /* snprintf wrote what fitted of this one */
            rc = err_set(err, ERR_INVALID, "%s: the endpoint list is longer than %zu bytes; "
                         "name fewer members", name, size - 1);
            break;
        }
        len += (size_t)n;
    }
    free(copy);
    return rc;
}

int config_int(const char *name, const char *text, int min, int max, int *out, err_t *err)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < min || v > max) {
        char quoted[128];
        names_quote(text, strlen(text), quoted, sizeof quoted);
        return err_set(err, ERR_INVALID, "%s: must be an integer %d..%d, got %s", name, min, max,
                       quoted);
    }
    *out = (int)v;
    return 0;
}

int config_cluster(const char *name, char *buf, size_t size, err_t *err)
{
    const char *env = getenv("DOKKAA_CLUSTER");
    if (!name || !*name)
        name = env && *env ? env : CONFIG_CLUSTER_DEFAULT;
    if (names_check_label("cluster name", name, err) < 0)
        return -1;
    snprintf(buf, size, "%s", name);
    return 0;
}

const char *config_env(const char *name, const char *seed_name)
{
    const char *v = getenv(name);
    if (v && *v)
        return v;
    v = seed_name ? getenv(seed_name) : NULL;
    return v && *v ? v : NULL;
}
