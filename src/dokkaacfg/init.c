/* dokkaacfg init [--api URL] - the CLI's config for a cluster that `up` did not
 * make (make up's single host): an admin token made straight in etcd (--etcd),
 * and the config file with URL and that token. `up` does the same when it is
 * done (cfg_admin_config). */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "dokkaa/etcd.h"
#include "dokkaa/token.h"

/* Keep the token of cfg if etcd has it, else make an admin token; the secret
 * into token, its id into id. */
static int cfg_admin_token(etcd *e, const json_t *cfg, char *token, char *id, bool *kept,
                           err_t *err)
{
    const char *old = json_string_value(json_object_get(cfg, "token"));
    char key[80], created[TOKEN_TIME_LEN + 1];
    etcd_kvs kvs = {0};
    *kept = false;
    if (token_well_formed(old)) {
        token_key(old, key, sizeof key);
        if (etcd_get(e, key, &kvs, err) < 0)
            return -1;
        *kept = kvs.n == 1;
        etcd_kvs_free(&kvs);
    }
    if (!*kept)
        return token_create(e, "admin", KEYS_ROLE_ADMIN, token, id, created, NULL, err);
    snprintf(token, TOKEN_LEN + 1, "%s", old);
    token_id(key, id);
    return 0;
}

int cfg_admin_config(const char *etcd_endpoints, const char *api_url, const char *ca,
                     const char *cluster, err_t *err)
{
    char path[PATH_MAX], url[512], token[TOKEN_LEN + 1], id[TOKEN_ID_LEN + 1];
    json_t *cfg = NULL;
    etcd *e = NULL;
    bool kept;
    int rc = -1;
    snprintf(url, sizeof url, "%s", api_url);
    api_config_url(url, sizeof url);
    if (api_config_path(path, sizeof path, err) != API_OK ||
        api_config_read(path, &cfg, err) != API_OK || !(e = etcd_new(etcd_endpoints, err)) ||
        cfg_admin_token(e, cfg, token, id, &kept, err) < 0)
        goto out;
    /* a local cluster's config names no CA, cluster or other APIs: drop an earlier one's */
    json_object_del(cfg, "ca");
    json_object_del(cfg, "cluster");
    json_object_del(cfg, "apis");
    if (json_object_set_new(cfg, "api", json_string(url)) < 0 ||
        json_object_set_new(cfg, "token", json_string(token)) < 0 ||
        (ca && json_object_set_new(cfg, "ca", json_string(ca)) < 0) ||
        (cluster && json_object_set_new(cfg, "cluster", json_string(cluster)) < 0)) {
        err_set(err, ERR_SYS, "out of memory");
        goto out;
    }
    if (api_config_write(path, cfg, err) != API_OK)
        goto out;
    printf("config: %s (api %s, admin token %s %s)\n", path, url, id, kept ? "kept" : "made");
    rc = 0;
out:
    etcd_free(e);
    json_decref(cfg);
    return rc;
}

static const api_cmd cfg_init_cmd = {
    "init", "[--api URL]\n"
            "  write the CLI's config for a cluster that `up` did not make: an admin token,\n"
            "  made in etcd (--etcd, $ETCD_ADDR) unless the config holds one etcd has, and\n"
            "  the API's URL\n"
            "  --api URL  the API (default " API_DEFAULT_URL ")\n",
    0, 0, NULL, NULL};

int cfg_init(const cfg_global *g, int argc, char **argv)
{
    api_args args;
    err_t err;
    int rc = api_args_parse(&cfg_init_cmd, g, argc, argv, &args, NULL);
    if (rc != API_GO_ON)
        return rc;
    /* --api, here or before the command, is where the API is: not asked of it */
    if (cfg_admin_config(g->etcd, args.g.api ? args.g.api : API_DEFAULT_URL, NULL, NULL, &err) < 0) {
        fprintf(stderr, "dokkaacfg init: %s\n", err.msg);
        return API_FAIL;
    }
    return API_OK;
}
