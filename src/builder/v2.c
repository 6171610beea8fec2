/* v2.c - the etcd v2 keys API, as the seed's curl commands use it:
 *
 *   curl -L -XPUT -d value="$(cat nginx.json)" http://HOST:4001/v2/keys/apps/dummy/nginx/manifest
 *
 * Only /v2/keys/apps/... is served, stored in etcd v3 under /apps/...; answers
 * have etcd v2's shape ({"action", "node": {"key", "value", "modifiedIndex",
 * "createdIndex"}, "prevNode"}, errors {"errorCode", "message", "cause", "index"}).
 * Unlike a bare etcd, a manifest is validated before it is stored: a bad one gets
 * 400 with the precise error and nothing is written. Writes come anonymously only
 * from loopback and trusted networks (DESIGN.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "dokkaa/http.h"

#define V2_PREFIX "/v2/keys"

/* etcd v2's error codes that this endpoint can give */
enum { V2_KEY_NOT_FOUND = 100, V2_NOT_FILE = 102, V2_ROOT_RONLY = 107, V2_VALUE_REQUIRED = 200,
       V2_INVALID_FIELD = 209, V2_INVALID_FORM = 210, V2_UNAUTHORIZED = 110, V2_RAFT = 300 };

static enum MHD_Result v2_error(builder_req *r, unsigned status, int code, const char *message,
                                const char *cause, int64_t index)
{
    json_t *body = json_pack("{s:i,s:s,s:s,s:I}", "errorCode", code, "message", message, "cause",
                             cause ? cause : "", "index", (json_int_t)index);
    return builder_reply(r, status, body, index);
}

static json_t *v2_node(const etcd_kv *kv)
{
    return json_pack("{s:s,s:s%,s:I,s:I}", "key", kv->key, "value", kv->value, kv->value_len,
                     "modifiedIndex", (json_int_t)kv->mod_revision, "createdIndex",
                     (json_int_t)kv->create_revision);
}

/* The value= field of a form body (or of the query string). */
static char *v2_form_value(builder_req *r)
{
    const char *q = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "value");
    if (q)
        return strdup(q);
    char *save, *copy = r->body ? strdup(r->body) : NULL, *value = NULL;
    for (char *f = copy ? strtok_r(copy, "&", &save) : NULL; f; f = strtok_r(NULL, "&", &save)) {
        if (strncmp(f, "value=", 6) == 0) {
            http_urldecode(f + 6, true);
            value = strdup(f + 6);
            break;
        }
    }
    free(copy);
    return value;
}

/* A directory node: the keys right under dirkey, or all of them nested when
 * recursive. kvs is sorted, and keys sharing a prefix are contiguous in that
 * order, so each subdirectory is one run starting at *i. */
static json_t *v2_dir(const char *dirkey, const etcd_kvs *kvs, size_t *i, bool recursive)
{
    json_t *nodes = json_array();
    size_t dlen = strlen(dirkey);
    while (*i < kvs->n && strncmp(kvs->kvs[*i].key, dirkey, dlen) == 0 &&
           kvs->kvs[*i].key[dlen] == '/') {
        const char *key = kvs->kvs[*i].key, *slash = strchr(key + dlen + 1, '/');
        if (!slash) {
            json_array_append_new(nodes, v2_node(&kvs->kvs[(*i)++]));
            continue;
        }
        char *child = strndup(key, (size_t)(slash - key));
        if (recursive) {
            json_array_append_new(nodes, v2_dir(child, kvs, i, true));
        } else {
            json_array_append_new(nodes, json_pack("{s:s,s:b}", "key", child, "dir", 1));
            size_t clen = strlen(child);
            while (*i < kvs->n && strncmp(kvs->kvs[*i].key, child, clen) == 0 &&
                   kvs->kvs[*i].key[clen] == '/')
                (*i)++;
        }
        free(child);
    }
    return json_pack("{s:s,s:b,s:o}", "key", dirkey, "dir", 1, "nodes", nodes);
}

static bool v2_flag(builder_req *r, const char *name)
{
    const char *v = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
    return v && strcmp(v, "true") == 0;
}

static enum MHD_Result v2_get(builder_req *r, const char *key)
{
    etcd_kvs kvs;
    err_t err;
    char dirprefix[1100];
    enum MHD_Result ret;

    if (etcd_get(r->etcd, key, &kvs, &err) < 0)
        return v2_error(r, 500, V2_RAFT, err.msg, key, 0);
    if (kvs.n == 1) {
        ret = builder_reply(r, 200, json_pack("{s:s,s:o}", "action", "get", "node",
                                              v2_node(&kvs.kvs[0])), kvs.revision);
        etcd_kvs_free(&kvs);
        return ret;
    }
    etcd_kvs_free(&kvs);
    snprintf(dirprefix, sizeof dirprefix, "%s/", key);
    if (etcd_get_prefix(r->etcd, dirprefix, &kvs, &err) < 0)
        return v2_error(r, 500, V2_RAFT, err.msg, key, 0);
    if (kvs.n == 0) {
        ret = v2_error(r, 404, V2_KEY_NOT_FOUND, "Key not found", key, kvs.revision);
    } else {
        size_t i = 0;
        json_t *dir = v2_dir(key, &kvs, &i, v2_flag(r, "recursive"));
        ret = builder_reply(r, 200, json_pack("{s:s,s:o}", "action", "get", "node", dir),
                            kvs.revision);
    }
    etcd_kvs_free(&kvs);
    return ret;
}

static enum MHD_Result v2_put(builder_req *r, const char *key)
{
    char app[64], name[64];
    manifest m;
    err_t err;
    etcd_kvs prev;
    int64_t revision;
    enum MHD_Result ret;

    if (names_parse_manifest_key(key, app, name, &err) < 0)
        return v2_error(r, 400, V2_INVALID_FIELD,
                        "only manifests can be written here: /v2/keys/apps/<app>/<name>/manifest",
                        key, 0);
    char *value = v2_form_value(r);
    if (!value)
        return v2_error(r, 400, V2_VALUE_REQUIRED, "Value is Required in POST form", key, 0);
    if (manifest_parse(value, strlen(value), &m, &err) < 0) {
        ret = v2_error(r, 400, V2_INVALID_FIELD, err.msg, key, 0);
        free(value);
        return ret;
    }
    manifest_free(&m);
    if (etcd_get(r->etcd, key, &prev, &err) < 0 ||
        etcd_put(r->etcd, key, value, 0, &revision, &err) < 0) {
        free(value);
        return v2_error(r, 500, V2_RAFT, err.msg, key, 0);
    }
    etcd_kv now = {.key = (char *)key, .value = value, .value_len = strlen(value),
                   .mod_revision = revision,
                   .create_revision = prev.n ? prev.kvs[0].create_revision : revision};
    json_t *body = json_pack("{s:s,s:o}", "action", "set", "node", v2_node(&now));
    if (prev.n)
        json_object_set_new(body, "prevNode", v2_node(&prev.kvs[0]));
    ret = builder_reply(r, prev.n ? 200 : 201, body, revision);
    etcd_kvs_free(&prev);
    free(value);
    return ret;
}

/* Deleting an app (or every app) also frees its link ports: DESIGN.md keeps
 * /links/<app>/ "until the app is deleted". */
static int v2_delete_links(builder_req *r, const char *key, err_t *err)
{
    char links[1100];
    const char *app = key + strlen("/apps");
    if (*app && strchr(app + 1, '/'))
        return 0; /* deeper than an app */
    snprintf(links, sizeof links, "/links%s/", app);
    return etcd_delete(r->etcd, links, true, NULL, err);
}

/* DELETE of a directory: etcd v2 wants ?recursive=true (or ?dir=true) for it. */
static enum MHD_Result v2_delete_dir(builder_req *r, const char *key)
{
    char dirprefix[1100];
    etcd_kvs gone;
    err_t err;
    enum MHD_Result ret;

    snprintf(dirprefix, sizeof dirprefix, "%s/", key);
    if (!v2_flag(r, "recursive") && !v2_flag(r, "dir")) { /* 403 for a directory, else 404 */
        if (etcd_get_prefix(r->etcd, dirprefix, &gone, &err) < 0)
            return v2_error(r, 500, V2_RAFT, err.msg, key, 0);
        ret = gone.n ? v2_error(r, 403, V2_NOT_FILE, "Not a file (use ?recursive=true)", key,
                                gone.revision)
                     : v2_error(r, 404, V2_KEY_NOT_FOUND, "Key not found", key, gone.revision);
        etcd_kvs_free(&gone);
        return ret;
    }
    if (etcd_delete(r->etcd, dirprefix, true, &gone, &err) < 0 ||
        (gone.n && v2_delete_links(r, key, &err) < 0)) {
        etcd_kvs_free(&gone);
        return v2_error(r, 500, V2_RAFT, err.msg, key, 0);
    }
    if (gone.n == 0)
        ret = v2_error(r, 404, V2_KEY_NOT_FOUND, "Key not found", key, gone.revision);
    else
        ret = builder_reply(r, 200, json_pack("{s:s,s:{s:s,s:b,s:I}}", "action", "delete", "node",
                                              "key", key, "dir", 1, "modifiedIndex",
                                              (json_int_t)gone.revision), gone.revision);
    etcd_kvs_free(&gone);
    return ret;
}

/* DELETE of a key; a key that does not exist may be a directory. */
static enum MHD_Result v2_delete(builder_req *r, const char *key)
{
    etcd_kvs gone;
    err_t err;
    enum MHD_Result ret;

    if (etcd_delete(r->etcd, key, false, &gone, &err) < 0)
        return v2_error(r, 500, V2_RAFT, err.msg, key, 0);
    if (gone.n == 0) {
        etcd_kvs_free(&gone);
        return v2_delete_dir(r, key);
    }
    json_t *node = json_pack("{s:s,s:I,s:I}", "key", key, "modifiedIndex",
                             (json_int_t)gone.revision, "createdIndex",
                             (json_int_t)gone.kvs[0].create_revision);
    ret = builder_reply(r, 200, json_pack("{s:s,s:o,s:o}", "action", "delete", "node", node,
                                          "prevNode", v2_node(&gone.kvs[0])), gone.revision);
    etcd_kvs_free(&gone);
    return ret;
}

enum MHD_Result v2_handle(builder *b, builder_req *r)
{
    (void)b;
    const char *key = r->url + strlen(V2_PREFIX);
    size_t len = strlen(key);
    char clean[1024];

    /* "/v2/keys/apps/x/" names the same key as "/v2/keys/apps/x" */
    while (len > 1 && key[len - 1] == '/')
        len--;
    if (len >= sizeof clean || strstr(key, "//") || strstr(key, "/../") || strstr(key, "/./"))
        return v2_error(r, 400, V2_INVALID_FIELD, "invalid key", key, 0);
    memcpy(clean, key, len);
    clean[len] = '\0';
    if (strncmp(clean, "/apps", 5) != 0 || (clean[5] != '\0' && clean[5] != '/'))
        return v2_error(r, 403, V2_ROOT_RONLY, "only /v2/keys/apps/ is served by Dokkaa", clean, 0);
    if (strcmp(r->method, "GET") == 0)
        return v2_get(r, clean);
    if (!r->trusted)
        return v2_error(r, 401, V2_UNAUTHORIZED,
                        "anonymous writes are accepted from loopback and trusted networks only",
                        clean, 0);
    if (r->too_large)
        return v2_error(r, 413, V2_INVALID_FORM, "request body over 1 MiB", clean, 0);
    if (strcmp(r->method, "PUT") == 0 || strcmp(r->method, "POST") == 0)
        return v2_put(r, clean);
    if (strcmp(r->method, "DELETE") == 0)
        return v2_delete(r, clean);
    return v2_error(r, 405, V2_INVALID_FIELD, "method not allowed", clean, 0);
}
