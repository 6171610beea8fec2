/* v2.c - the etcd v2 keys API, as the seed's curl commands use it:
 *
 *   curl -L -XPUT -d value="$(cat nginx.json)" http://HOST:4001/v2/keys/apps/dummy/nginx/manifest
 *
 * Only /v2/keys/apps/... is served, stored in etcd v3 under /apps/...; answers
 * have etcd v2's shape ({"action", "node": {"key", "value", "modifiedIndex",
 * "createdIndex"}, "prevNode"}, errors {"errorCode", "message", "cause", "index"}).
 * Unlike a bare etcd, a manifest is validated before it is stored: a bad one gets
 * 400 with the precise error and nothing is written. Writes come anonymously only
 * from loopback and trusted networks (DESIGN.md). etcd v2's compare-and-swap
 * (prevExist, prevValue, prevIndex) is refused with 400 rather than ignored, as
 * are what this endpoint does not do: keys that expire (ttl, refresh) and watches
 * (wait=true; GET /api/v1/events is the watch). A key holding a NUL (%00), which
 * would be cut at it, is refused with 400.
 * As through the API, a manifest is written with its author record beside it
 * (revisions.c), in one txn, and deleting a manifest, its directory or an app also
 * deletes the revisions kept of it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "dokkaa/http.h"
#include "dokkaa/keys.h"
#include "dokkaa/names.h"

#define V2_PREFIX "/v2/keys"
/* How often a write is tried when another one keeps coming between read and write. */
#define V2_TRIES 5
/* The length of "/apps", the one directory served: KEYS_APPS without its slash. */
#define V2_ROOT_LEN (sizeof KEYS_APPS - 2)

/* etcd v2's error codes that this endpoint can give */
enum { V2_KEY_NOT_FOUND = 100, V2_NOT_FILE = 102, V2_ROOT_RONLY = 107, V2_DIR_NOT_EMPTY = 108,
       V2_VALUE_REQUIRED = 200, V2_INVALID_FIELD = 209, V2_INVALID_FORM = 210,
       V2_UNAUTHORIZED = 110, V2_RAFT = 300 };

/* Whether key is the directory /apps itself. */
static bool v2_is_root(const char *key)
{
    return strlen(key) == V2_ROOT_LEN && strncmp(key, KEYS_APPS, V2_ROOT_LEN) == 0;
}

/* Whether key is /apps or lies under it: what this endpoint serves. */
static bool v2_is_served(const char *key)
{
    return strncmp(key, KEYS_APPS, V2_ROOT_LEN) == 0 &&
           (key[V2_ROOT_LEN] == '\0' || key[V2_ROOT_LEN] == '/');
}

/* Whether s can go into a JSON string: jansson refuses text that is not UTF-8. */
static bool v2_utf8(const char *s)
{
    json_t *j = json_string(s);
    json_decref(j);
    return j != NULL;
}

/* An error in etcd v2's shape. A cause that is not UTF-8 (a key from a URL like
 * %FF) is left out; a message that is not (one quoting the URL) shows what is not
 * as U+FFFD: either way the answer is still the precise one. */
static enum MHD_Result v2_error(builder_req *r, unsigned status, int code, const char *message,
                                const char *cause, int64_t index)
{
    char clean[3600];
    if (cause && !v2_utf8(cause))
        cause = NULL;
    names_utf8_scrub(message, clean, sizeof clean);
    json_t *body = json_pack("{s:i,s:s,s:s,s:I}", "errorCode", code, "message", clean, "cause",
                             cause ? cause : "", "index", (json_int_t)index);
    return reply_json(r, status, body, index);
}

/* NULL when the key or value is not UTF-8 (written straight into etcd): JSON
 * cannot carry it, and callers say so or leave the node out. */
static json_t *v2_node(const etcd_kv *kv)
{
    return json_pack("{s:s,s:s%,s:I,s:I}", "key", kv->key, "value", kv->value, kv->value_len,
                     "modifiedIndex", (json_int_t)kv->mod_revision, "createdIndex",
                     (json_int_t)kv->create_revision);
}

/* The field name= of the query string, else of a form body; "" for a field given
 * without "=", NULL when absent. */
static char *v2_form_value(builder_req *r, const char *name)
{
    const char *q;
    size_t qlen, nlen = strlen(name);
    if (MHD_lookup_connection_value_n(r->conn, MHD_GET_ARGUMENT_KIND, name, nlen, &q, &qlen) ==
        MHD_YES)
        return strndup(q ? q : "", q ? qlen : 0);
    char *save, *copy = r->body ? strdup(r->body) : NULL, *value = NULL;
    for (char *f = copy ? strtok_r(copy, "&", &save) : NULL; f; f = strtok_r(NULL, "&", &save)) {
        if (strncmp(f, name, nlen) == 0 && (f[nlen] == '=' || f[nlen] == '\0')) {
            char *v = f + nlen + (f[nlen] == '=');
            http_urldecode(v, true);
            value = strdup(v);
            break;
        }
    }
    free(copy);
    return value;
}

/* etcd v2 reads its flags with Go's strconv.ParseBool: these are true, these
 * false, and anything else, the empty value too, is refused (v2_bad_flag). */
static const char *const v2_true[] = {"1", "t", "T", "TRUE", "true", "True"};
static const char *const v2_false[] = {"0", "f", "F", "FALSE", "false", "False"};

static bool v2_is_one_of(const char *v, const char *const *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v, set[i]) == 0)
            return true;
    return false;
}

/* The flag name= of the query string (absent: false). v2_bad_flag has refused a
 * value that is neither true nor false before any flag is read. */
static bool v2_flag(builder_req *r, const char *name)
{
    const char *v = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
    return v && v2_is_one_of(v, v2_true, sizeof v2_true / sizeof *v2_true);
}

/* The first flag of the query whose value is neither true nor false in
 * ParseBool's spelling, NULL when none: "wait=yes" must not read as no wait. */
static const char *v2_bad_flag(builder_req *r)
{
    static const char *const flags[] = {"recursive", "dir", "wait", "stream", "sorted", "quorum",
                                        "refresh"};
    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++) {
        const char *v = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, flags[i]);
        if (v && !v2_is_one_of(v, v2_true, sizeof v2_true / sizeof *v2_true) &&
            !v2_is_one_of(v, v2_false, sizeof v2_false / sizeof *v2_false))
            return flags[i];
    }
    return NULL;
}

/* A parameter this endpoint does not honour, asked for: ttl (a key that expires,
 * or refresh of one), wait or stream (a long poll for the next change, or a
 * stream of them); NULL when none.
 * Ignoring them would leave a ttl key that never expires and a watch loop that
 * spins on immediate answers. wait=false, refresh=false (or 0, f...) and an empty
 * ttl (etcd v2: no expiry) ask for nothing this endpoint does not do. */
static const char *v2_unsupported_param(builder_req *r, bool write)
{
    char *ttl = write ? v2_form_value(r, "ttl") : NULL, *refresh = write ? v2_form_value(r, "refresh") : NULL;
    const char *which = ttl && *ttl                                    ? "ttl"
                        : refresh && !v2_is_one_of(refresh, v2_false, sizeof v2_false / sizeof *v2_false)
                                                                       ? "refresh"
                        : v2_flag(r, "wait")                           ? "wait"
                        : v2_flag(r, "stream")                         ? "stream"
                                                                       : NULL;
    free(ttl);
    free(refresh);
    return which;
}

/* Compare-and-swap: etcd v2 makes a write conditional on these. Ignoring them would
 * turn a client's compare-and-swap into an unconditional overwrite. */
static const char *v2_unsupported_condition(builder_req *r)
{
    static const char *const conds[] = {"prevExist", "prevValue", "prevIndex"};
    for (size_t i = 0; i < sizeof conds / sizeof *conds; i++) {
        char *v = v2_form_value(r, conds[i]);
        free(v);
        if (v)
            return conds[i];
    }
    return NULL;
}

/* A directory node: the keys right under dirkey, or all of them nested when
 * recursive. kvs is sorted, and keys sharing a prefix are contiguous in that
 * order, so each subdirectory is one run starting at *i. A node JSON cannot carry
 * (v2_node) is left out: appending NULL fails and appends nothing. */
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

static enum MHD_Result v2_get(builder_req *r, const char *key)
{
    etcd_kvs kvs;
    err_t err;
    char dirprefix[1100];
    enum MHD_Result ret;

    if (etcd_get(r->etcd, key, &kvs, &err) < 0)
        return v2_error(r, 500, V2_RAFT, err.msg, key, 0);
    if (kvs.n == 1) {
        json_t *node = v2_node(&kvs.kvs[0]);
        ret = node ? reply_json(r, 200, json_pack("{s:s,s:o}", "action", "get", "node", node),
                                kvs.revision)
                   : v2_error(r, 500, V2_RAFT, "the value is not UTF-8 text, which JSON cannot carry",
                              key, kvs.revision);
        etcd_kvs_free(&kvs);
        return ret;
    }
    etcd_kvs_free(&kvs);
    snprintf(dirprefix, sizeof dirprefix, "%s/", key);
    if (etcd_get_prefix(r->etcd, dirprefix, &kvs, &err) < 0)
        return v2_error(r, 500, V2_RAFT, err.msg, key, 0);
    if (kvs.n == 0 && !v2_is_root(key)) {
        /* /apps is the root of what Dokkaa serves and, like etcd v2's "/", exists
         * when empty: a fresh cluster lists no apps rather than 404 */
        ret = v2_error(r, 404, V2_KEY_NOT_FOUND, "Key not found", key, kvs.revision);
    } else {
        size_t i = 0;
        json_t *dir = v2_dir(key, &kvs, &i, v2_flag(r, "recursive"));
        ret = reply_json(r, 200, json_pack("{s:s,s:o}", "action", "get", "node", dir),
                         kvs.revision);
    }
    etcd_kvs_free(&kvs);
    return ret;
}

/* Write value at the manifest key with its author record (revisions.c), in a txn
 * that holds only while the key is as read into *prev, so that prevNode is what
 * the write replaced; tried again when another write came between. */
static int v2_write(builder_req *r, const keys_key *k, const char *key, const char *value,
                    etcd_kvs *prev, err_t *err)
{
    revisions_write w;
    bool swapped;
    int rc = -1;
    if (revisions_write_prepare(&w, r, k->app, k->name, value, NULL) < 0)
        return err_set(err, ERR_SYS, "out of memory");
    for (int attempt = 1; attempt <= V2_TRIES; attempt++) {
        if (etcd_get(r->etcd, key, prev, err) < 0)
            break;
        etcd_cmp same = {.key = key, .target = prev->n ? ETCD_CMP_MOD : ETCD_CMP_CREATE,
                         .result = ETCD_EQUAL, .number = prev->n ? prev->kvs[0].mod_revision : 0};
        if (etcd_txn(r->etcd, &same, 1, w.ops, 2, NULL, 0, &swapped, err) < 0) {
            etcd_kvs_free(prev);
            break;
        }
        if (swapped) {
            rc = 0; /* *prev is what it replaced */
            break;
        }
        etcd_kvs_free(prev);
        if (attempt == V2_TRIES)
            err_set(err, ERR_CONFLICT, "%s changed %d times while being written; nothing "
                                       "was written, try again", key, V2_TRIES);
    }
    revisions_write_clear(&w);
    return rc;
}

static enum MHD_Result v2_put(builder_req *r, const char *key)
{
    keys_key k;
    manifest m;
    err_t err;
    etcd_kvs prev;
    int64_t revision;
    enum MHD_Result ret;

    if (keys_parse(key, &k, &err) < 0 || k.kind != KEYS_MANIFEST) {
        char message[sizeof err.msg + 100];
        if (k.kind != KEYS_OTHER) { /* a key of the table, a placement: not for users */
            char quoted[128];
            names_quote(key, strlen(key), quoted, sizeof quoted);
            err_set(&err, ERR_INVALID,
                    "key %s: not a manifest key (expected /apps/<app>/<name>/manifest)", quoted);
        }
        snprintf(message, sizeof message,
                 "%s; only manifests can be written here: /v2/keys/apps/<app>/<name>/manifest",
                 err.msg);
        return v2_error(r, 400, V2_INVALID_FIELD, message, key, 0);
    }
    char *value = v2_form_value(r, "value");
    if (!value)
        return v2_error(r, 400, V2_VALUE_REQUIRED, "Value is Required in POST form", key, 0);
    if (strlen(value) > MANIFEST_MAX_BYTES) { /* a form's encoding may fit a larger one */
        char message[160];
        snprintf(message, sizeof message, "value is %zu bytes, over %d (1 MiB), the most a "
                                          "manifest may be; nothing was written",
                 strlen(value), MANIFEST_MAX_BYTES);
        free(value);
        return v2_error(r, 413, V2_INVALID_FORM, message, key, 0);
    }
    if (manifest_parse(value, strlen(value), &m, &err) < 0) {
        ret = v2_error(r, 400, V2_INVALID_FIELD, err.msg, key, 0);
        free(value);
        return ret;
    }
    manifest_free(&m);
    if (v2_write(r, &k, key, value, &prev, &err) < 0) {
        free(value);
        return v2_error(r, 500, V2_RAFT, err.msg, key, 0);
    }
    /* etcd_txn does not say the revision it wrote: read back, it is ours unless
     * someone wrote the key since */
    revision = request_written_revision(r, key);
    etcd_kv now = {.key = (char *)key, .value = value, .value_len = strlen(value),
                   .mod_revision = revision,
                   .create_revision = prev.n ? prev.kvs[0].create_revision : revision};
    json_t *body = json_pack("{s:s,s:o}", "action", "set", "node", v2_node(&now));
    if (prev.n)
        json_object_set_new(body, "prevNode", v2_node(&prev.kvs[0]));
    ret = reply_json(r, prev.n ? 200 : 201, body, revision);
    etcd_kvs_free(&prev);
    free(value);
    return ret;
}

/* What goes with a directory deleted under /apps, in one txn: deleting an app (or
 * every app) also frees its link ports, as DESIGN.md keeps /links/<app>/ "until
 * the app is deleted", and its kept revisions go with it, as a manifest's with the
 * manifest's directory. An app may already have lost its last manifest (a
 * single-key DELETE) and still hold ports, so this runs whether or not the
 * recursive delete found keys. */
static int v2_delete_beside(builder_req *r, const char *key, err_t *err)
{
    char links[KEYS_SIZE], revisions[KEYS_SIZE], app[KEYS_NAME_SIZE];
    const char *path = key + V2_ROOT_LEN, *name;
    bool done;
    etcd_op ops[] = {{.type = ETCD_OP_DELETE, .key = KEYS_LINKS, .prefix = true},
                     {.type = ETCD_OP_DELETE, .key = KEYS_REVISIONS, .prefix = true}};
    if (!*path) /* every app */
        return etcd_txn(r->etcd, NULL, 0, ops, 2, NULL, 0, &done, err);
    path++;
    size_t len = strcspn(path, "/");
    name = path[len] ? path + len + 1 : NULL;
    if (len >= sizeof app || (name && strchr(name, '/')))
        return 0; /* deeper than a manifest's directory */
    memcpy(app, path, len);
    app[len] = '\0';
    /* a name that is no label holds nothing; and one too long for a key must not
     * become the prefix "" (keys.h), which would delete everything */
    if (names_check_label("app name", app, NULL) < 0 ||
        (name && names_check_label("manifest name", name, NULL) < 0))
        return 0;
    ops[0].key = keys_links_prefix(links, app);
    ops[1].key = keys_revisions_prefix(revisions, app, name);
    if (name) /* a manifest's directory: its revisions only */
        return etcd_txn(r->etcd, NULL, 0, &ops[1], 1, NULL, 0, &done, err);
    return etcd_txn(r->etcd, NULL, 0, ops, 2, NULL, 0, &done, err);
}

/* Whether any key lies under dirprefix, without reading the keys: a txn whose only
 * compare is "every key there was created at revision 0" holds for an empty range
 * alone (etcd compares an empty range as one absent key). */
static int v2_dir_exists(builder_req *r, const char *dirprefix, bool *exists, err_t *err)
{
    etcd_cmp none = {.key = dirprefix, .prefix = true, .target = ETCD_CMP_CREATE,
                     .result = ETCD_EQUAL, .number = 0};
    bool empty;
    if (etcd_txn(r->etcd, &none, 1, NULL, 0, NULL, 0, &empty, err) < 0)
        return -1;
    *exists = !empty;
    return 0;
}

/* DELETE of a directory without ?recursive=true: etcd v2's refusal. Dokkaa has no
 * empty directories, so ?dir=true (delete an empty one) always meets a full one. */
static enum MHD_Result v2_delete_dir_refused(builder_req *r, const char *dirprefix,
                                             const char *key, int64_t revision)
{
    bool exists;
    err_t err;
    if (v2_dir_exists(r, dirprefix, &exists, &err) < 0)
        return v2_error(r, 500, V2_RAFT, err.msg, key, 0);
    if (!exists)
        return v2_error(r, 404, V2_KEY_NOT_FOUND, "Key not found", key, revision);
    if (v2_flag(r, "dir"))
        return v2_error(r, 403, V2_DIR_NOT_EMPTY, "Directory not empty (use ?recursive=true)",
                        key, revision);
    return v2_error(r, 403, V2_NOT_FILE, "Not a file (use ?recursive=true)", key, revision);
}

/* DELETE of a directory: etcd v2 wants ?recursive=true for a non-empty one.
 * revision is the store's, from the single-key delete that found nothing. */
static enum MHD_Result v2_delete_dir(builder_req *r, const char *key, int64_t revision)
{
    char dirprefix[1100];
    etcd_kvs gone;
    err_t err;
    enum MHD_Result ret;

    snprintf(dirprefix, sizeof dirprefix, "%s/", key);
    if (!v2_flag(r, "recursive"))
        return v2_delete_dir_refused(r, dirprefix, key, revision);
    if (etcd_delete(r->etcd, dirprefix, true, &gone, &err) < 0 ||
        v2_delete_beside(r, key, &err) < 0) {
        etcd_kvs_free(&gone);
        return v2_error(r, 500, V2_RAFT, err.msg, key, 0);
    }
    if (gone.n == 0)
        ret = v2_error(r, 404, V2_KEY_NOT_FOUND, "Key not found", key, gone.revision);
    else
        ret = reply_json(r, 200, json_pack("{s:s,s:{s:s,s:b,s:I}}", "action", "delete", "node",
                                           "key", key, "dir", 1, "modifiedIndex",
                                           (json_int_t)gone.revision), gone.revision);
    etcd_kvs_free(&gone);
    return ret;
}

/* Right after a manifest's key was deleted: its history (author, rollout record,
 * kept revisions), which is of no other manifest, as the API deletes it. */
static int v2_delete_history(builder_req *r, const char *key, err_t *err)
{
    char author[KEYS_SIZE], rollout[KEYS_SIZE], revisions[KEYS_SIZE];
    keys_key k;
    bool done;
    if (!keys_is(key, KEYS_MANIFEST, &k))
        return 0;
    etcd_op ops[] = {
        {.type = ETCD_OP_DELETE, .key = keys_author_key(author, k.app, k.name)},
        {.type = ETCD_OP_DELETE, .key = keys_rollout_key(rollout, k.app, k.name)},
        {.type = ETCD_OP_DELETE, .key = keys_revisions_prefix(revisions, k.app, k.name), .prefix = true},
    };
    return etcd_txn(r->etcd, NULL, 0, ops, 3, NULL, 0, &done, err);
}

/* DELETE of a key; a key that does not exist may be a directory. A prevNode JSON
 * cannot carry (v2_node) is left out: the key is gone all the same. */
static enum MHD_Result v2_delete(builder_req *r, const char *key)
{
    etcd_kvs gone;
    err_t err;
    enum MHD_Result ret;

    if (etcd_delete(r->etcd, key, false, &gone, &err) < 0)
        return v2_error(r, 500, V2_RAFT, err.msg, key, 0);
    if (gone.n == 0) {
        int64_t revision = gone.revision;
        etcd_kvs_free(&gone);
        return v2_delete_dir(r, key, revision);
    }
    if (v2_delete_history(r, key, &err) < 0) {
        etcd_kvs_free(&gone);
        return v2_error(r, 500, V2_RAFT, err.msg, key, 0);
    }
    json_t *body = json_pack("{s:s,s:{s:s,s:I,s:I}}", "action", "delete", "node", "key", key,
                             "modifiedIndex", (json_int_t)gone.revision, "createdIndex",
                             (json_int_t)gone.kvs[0].create_revision);
    json_object_set_new(body, "prevNode", v2_node(&gone.kvs[0]));
    ret = reply_json(r, 200, body, gone.revision);
    etcd_kvs_free(&gone);
    return ret;
}

/* A request refused on its first call, before its body is read (who may not do
 * what it asks, a body too large or framed two ways): an untrusted client cannot
 * make the builder buffer anything. */
enum MHD_Result v2_refuse(builder_req *r, unsigned status, const char *why)
{
    const char *key = strncmp(r->url, V2_PREFIX, strlen(V2_PREFIX)) == 0
                          ? r->url + strlen(V2_PREFIX) : r->url;
    int code = status == 401 || status == 403 ? V2_UNAUTHORIZED
               : status == 413                ? V2_INVALID_FORM
                                              : V2_INVALID_FIELD;
    return v2_error(r, status, code, why, key, 0);
}

/* Whether the path as sent holds "%00": MHD's decoded URL ends at the NUL, so
 * "/v2/keys/apps%00/x" would name /apps. */
static bool v2_has_nul(const builder_req *r)
{
    const char *raw = r->raw_url ? r->raw_url : "";
    size_t len = strcspn(raw, "?");
    for (size_t i = 0; i + 3 <= len; i++)
        if (raw[i] == '%' && raw[i + 1] == '0' && raw[i + 2] == '0')
            return true;
    return false;
}

/* Writes reach here from clients auth.c lets write only (auth_admit refused the
 * others before their body was read). */
enum MHD_Result v2_handle(builder_req *r)
{
    const char *key = r->url + strlen(V2_PREFIX), *cond;
    size_t len = strlen(key);
    char clean[1024];

    if (v2_has_nul(r))
        return v2_error(r, 400, V2_INVALID_FIELD, "invalid key: it holds a NUL (%00)", key, 0);
    /* "/v2/keys/apps/x/" names the same key as "/v2/keys/apps/x" */
    while (len > 1 && key[len - 1] == '/')
        len--;
    if (len >= sizeof clean || strstr(key, "//") || strstr(key, "/../") || strstr(key, "/./") ||
        !v2_utf8(key))
        return v2_error(r, 400, V2_INVALID_FIELD, "invalid key", key, 0);
    memcpy(clean, key, len);
    clean[len] = '\0';
    if (!v2_is_served(clean))
        return v2_error(r, 403, V2_ROOT_RONLY, "only /v2/keys/apps/ is served by Dokkaa", clean, 0);
    if (r->too_large) {
        char message[120];
        snprintf(message, sizeof message, "request body over %zu bytes (--max-body)",
                 r->b->max_body);
        return v2_error(r, 413, V2_INVALID_FORM, message, clean, 0);
    }
    if ((cond = v2_bad_flag(r))) {
        char message[160];
        snprintf(message, sizeof message, "invalid value for %s (true, false, 1, 0, t, f); "
                 "nothing was done", cond);
        return v2_error(r, 400, V2_INVALID_FIELD, message, clean, 0);
    }
    if ((cond = v2_unsupported_param(r, !request_is_read(r)))) {
        char message[300];
        snprintf(message, sizeof message, "%s is not supported: %s; nothing was done", cond,
                 strcmp(cond, "wait") == 0 || strcmp(cond, "stream") == 0
                     ? "Dokkaa's v2 endpoint has no watch (wait, waitIndex); follow "
                       "GET /api/v1/events (Server-Sent Events) for changes"
                     : "keys written here never expire (ttl, refresh)");
        return v2_error(r, 400, V2_INVALID_FIELD, message, clean, 0);
    }
    if (request_is_read(r))
        return v2_get(r, clean);
    if ((cond = v2_unsupported_condition(r))) {
        char message[200];
        snprintf(message, sizeof message,
                 "%s is not supported: Dokkaa's v2 endpoint has no compare-and-swap "
                 "(prevExist, prevValue, prevIndex); nothing was written",
                 cond);
        return v2_error(r, 400, V2_INVALID_FIELD, message, clean, 0);
    }
    if (strcmp(r->method, "PUT") == 0 || strcmp(r->method, "POST") == 0)
        return v2_put(r, clean);
    if (strcmp(r->method, "DELETE") == 0)
        return v2_delete(r, clean);
    return v2_error(r, 405, V2_INVALID_FIELD, "method not allowed", clean, 0);
}
