/* etcd.c - the etcd v3 client of libdokkaa, spoken as JSON to etcd's HTTP gateway.
 *
 * Every call is one POST to /v3/... on the current endpoint; a transport failure
 * moves on to the next endpoint (each endpoint once per call) and the one that
 * answered becomes current. The gateway wants keys and values in base64 and sends
 * int64 fields as JSON strings that are absent when zero; both details stay here.
 *
 * The watch is the one long-lived call: it reads the gateway's stream of JSON
 * objects, delivers events in batches and, when the stream is lost, reconnects with
 * back-off and resumes right after the last revision it delivered. */
#include "dokkaa/etcd.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dokkaa/http.h"
#include "dokkaa/log.h"
#include "dokkaa/names.h"
#include "dokkaa/sleep.h"
#include "etcd_internal.h"

/* Whole-request bound for unary calls: etcd answers in milliseconds when healthy; a
 * member that cannot reach quorum makes the gateway wait, and we would rather report. */
#define ETCD_TIMEOUT_MS 10000L
#define ETCD_URL_MAX 1024
#define ETCD_BACKOFF_MIN_MS 100L
#define ETCD_BACKOFF_MAX_MS 2000L
#define ETCD_GRPC_UNAVAILABLE 14

struct etcd {
    http_client *http;
    char **endpoints;
    size_t nendpoints;
    size_t current; /* index of the endpoint that last answered */
    long timeout_ms; /* unary calls; ETCD_TIMEOUT_MS unless set */
};

/* ---- base64 (OpenSSL) and JSON helpers ------------------------------------------ */

static char *etcd_b64_encode(const char *data, size_t len)
{
    if (len > INT_MAX / 4 * 3 - 3)
        return NULL;
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)data, (int)len);
    return out;
}

/* Decode into a fresh NUL-terminated buffer. EVP_DecodeBlock counts '=' padding as
 * zero bytes of output, so the length is corrected by the padding it saw. */
static int etcd_b64_decode(const char *in, char **out, size_t *out_len)
{
    size_t len = strlen(in);
    if (len % 4 != 0 || len > INT_MAX)
        return -1;
    unsigned char *buf = malloc(len / 4 * 3 + 1);
    if (!buf)
        return -1;
    int n = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)len);
    if (n < 0) {
        free(buf);
        return -1;
    }
    if (len >= 1 && in[len - 1] == '=')
        n--;
    if (len >= 2 && in[len - 2] == '=')
        n--;
    buf[n] = '\0';
    *out = (char *)buf;
    *out_len = (size_t)n;
    return 0;
}

/* The gateway sends int64 as a string ("12") and omits zero; accept a number too.
 * Strict: -1 when the field is there but is not a decimal integer in min..max (a
 * string must be all digits, and strtoll's saturation at INT64_MAX counts as out of
 * range), so that a value from the wire never reaches arithmetic unchecked. */
static int etcd_json_int_in(const json_t *obj, const char *name, int64_t min, int64_t max,
                            int64_t *out)
{
    const json_t *v = json_object_get(obj, name);
    long long n = 0;
    *out = 0;
    if (!v)
        return min <= 0 && 0 <= max ? 0 : -1;
    if (json_is_string(v)) {
        const char *text = json_string_value(v), *p = text + (*text == '-');
        char *end;
        if (!*p || strspn(p, "0123456789") != strlen(p))
            return -1;
        errno = 0;
        n = strtoll(text, &end, 10);
        if (errno || *end)
            return -1;
    } else if (json_is_integer(v)) {
        n = json_integer_value(v);
    } else {
        return -1;
    }
    if (n < min || n > max)
        return -1;
    *out = n;
    return 0;
}

/* Where a strict decode is not worth an error (a gRPC code in an error message, a
 * TTL): the value, or 0 when it is absent or not an integer. */
static int64_t etcd_json_int(const json_t *obj, const char *name)
{
    int64_t v;
    return etcd_json_int_in(obj, name, INT64_MIN, INT64_MAX, &v) == 0 ? v : 0;
}

/* A revision: 0..ETCD_REVISION_MAX, or -1 (see etcd.h: revision + 1 must not overflow). */
static int etcd_json_revision(const json_t *obj, const char *name, int64_t *rev)
{
    return etcd_json_int_in(obj, name, 0, ETCD_REVISION_MAX, rev);
}

static int etcd_header_revision(const json_t *resp, int64_t *rev)
{
    return etcd_json_revision(json_object_get(resp, "header"), "revision", rev);
}

static int etcd_bad_revision(err_t *err)
{
    return err_set(err, ERR_REMOTE, "etcd sent a revision that is not an integer 0..%lld",
                   (long long)ETCD_REVISION_MAX);
}

/* A base64 field, decoded; absent means empty (proto3 leaves out empty bytes). */
static int etcd_json_bytes(const json_t *obj, const char *name, char **out, size_t *len)
{
    const json_t *v = json_object_get(obj, name);
    if (!v) {
        *len = 0;
        return (*out = calloc(1, 1)) ? 0 : -1;
    }
    return json_is_string(v) ? etcd_b64_decode(json_string_value(v), out, len) : -1;
}

static int etcd_json_set_bytes(json_t *obj, const char *name, const char *data, size_t len)
{
    char *b64 = etcd_b64_encode(data, len);
    int rc = b64 ? json_object_set_new(obj, name, json_string(b64)) : -1;
    free(b64);
    return rc;
}

/* Set key (and range_end for a prefix: the prefix with its last byte incremented,
 * dropping trailing 0xff bytes). An empty key is refused (-1): as a prefix it would
 * mean every key, and "" is what keys.h's builders give for parts that do not fit,
 * so a bug upstream must never read, watch or delete the whole store. */
static int etcd_json_set_range(json_t *obj, const char *key, bool prefix)
{
    size_t n = strlen(key);
    if (n == 0)
        return -1;
    if (!prefix)
        return etcd_json_set_bytes(obj, "key", key, n);
    char *end = malloc(n + 1);
    if (!end)
        return -1;
    memcpy(end, key, n);
    size_t end_len = n;
    while (end_len > 0 && (unsigned char)end[end_len - 1] == 0xff)
        end_len--;
    if (end_len > 0)
        end[end_len - 1]++;
    else
        end[end_len++] = '\0';
    int rc = etcd_json_set_bytes(obj, "key", key, n) |
             etcd_json_set_bytes(obj, "range_end", end, end_len);
    free(end);
    return rc;
}

static int etcd_oom(err_t *err) { return err_set(err, ERR_SYS, "out of memory"); }

/* How much of text a message quotes: at most max bytes, cut where a character ends,
 * for "%.*s". A cut inside one made the message invalid UTF-8, which the builder
 * then fails to answer in JSON. */
static int etcd_cut(const char *text, size_t max)
{
    size_t n = strlen(text);
    return (int)(n > max ? names_utf8_cut(text, max) : n);
}

/* ---- client, endpoints, one request with failover ------------------------------- */

static int etcd_add_endpoint(etcd *e, const char *text, err_t *err)
{
    size_t len = strlen(text);
    while (len > 0 && text[len - 1] == '/')
        len--; /* "http://h:2379/" + "/v3/..." would make a path etcd does not serve */
    if (len == 0)
        return err_set(err, ERR_INVALID, "etcd: empty endpoint");
    const char *scheme = strstr(text, "://") ? "" : "http://";
    if (len + strlen(scheme) + 32 > ETCD_URL_MAX)
        return err_set(err, ERR_INVALID, "etcd: endpoint too long: %.*s...", etcd_cut(text, 64),
                       text);
    char *url = malloc(strlen(scheme) + len + 1);
    char **grown = realloc(e->endpoints, (e->nendpoints + 1) * sizeof *grown);
    if (grown)
        e->endpoints = grown;
    if (!url || !grown) {
        free(url);
        return etcd_oom(err);
    }
    sprintf(url, "%s%.*s", scheme, (int)len, text);
    e->endpoints[e->nendpoints++] = url;
    return 0;
}

etcd *etcd_new(const char *endpoints, err_t *err)
{
    etcd *e = calloc(1, sizeof *e);
    char *list = endpoints ? strdup(endpoints) : NULL;
    if (!e || (endpoints && !list)) {
        etcd_oom(err);
        goto err;
    }
    if (!list || !*list) {
        err_set(err, ERR_INVALID, "etcd: no endpoints given");
        goto err;
    }
    char *save = NULL;
    for (char *tok = strtok_r(list, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save))
        if (etcd_add_endpoint(e, tok, err) < 0)
            goto err;
    if (e->nendpoints == 0) {
        err_set(err, ERR_INVALID, "etcd: no endpoints in \"%s\"", endpoints);
        goto err;
    }
    if (!(e->http = http_client_new(NULL, err)))
        goto err;
    e->timeout_ms = ETCD_TIMEOUT_MS;
    free(list);
    return e;
err:
    free(list);
    etcd_free(e);
    return NULL;
}

void etcd_free(etcd *e)
{
    if (!e)
        return;
    http_client_free(e->http);
    for (size_t i = 0; i < e->nendpoints; i++)
        free(e->endpoints[i]);
    free(e->endpoints);
    free(e);
}

void etcd_set_timeout(etcd *e, long ms)
{
    e->timeout_ms = ms;
}

const char *etcd_endpoint(const etcd *e) { return e->endpoints[e->current]; }

static void etcd_url(const etcd *e, size_t idx, const char *path, char url[ETCD_URL_MAX])
{
    snprintf(url, ETCD_URL_MAX, "%s%s", e->endpoints[idx], path);
}

/* POST body to path, trying each endpoint once starting with the current one. A
 * transport failure moves on, and so does 503: a member cut off from its leader
 * answers that, and another may have quorum. Any other answer, even an error,
 * comes from a member that can speak for the cluster.
 * A request that died mid-flight may have been applied; the retry elsewhere is then
 * a second attempt, which is why callers that must not race use txn compares. */
static int etcd_post(etcd *e, const char *path, const char *body, long *status, http_buf *resp,
                     err_t *err)
{
    err_t last = {0};
    char url[ETCD_URL_MAX];
    for (size_t i = 0; i < e->nendpoints; i++) {
        size_t idx = (e->current + i) % e->nendpoints;
        etcd_url(e, idx, path, url);
        http_req req = {.method = "POST", .url = url, .body = body, .body_len = strlen(body),
                        .timeout_ms = e->timeout_ms};
        if (http_do(e->http, &req, status, resp, &last) == 0) {
            if (*status == 503 && i + 1 < e->nendpoints) {
                err_set(&last, ERR_UNAVAIL, "POST %s: HTTP 503 (no leader here)", url);
                http_buf_free(resp);
                continue;
            }
            e->current = idx;
            return 0;
        }
        if (last.code != ERR_UNAVAIL)
            break;
    }
    if (err)
        *err = last;
    return -1;
}

/* The gateway's error body: {"error": "...", "message": "...", "code": N}. */
static int etcd_remote_error(long status, const json_t *root, const http_buf *buf, err_t *err)
{
    const char *msg = json_string_value(json_object_get(root, "message"));
    if (!msg)
        msg = buf->data;
    return err_set(err, ERR_REMOTE, "etcd answered HTTP %ld: %.*s", status, etcd_cut(msg, 300),
                   msg);
}

/* One unary call: serialize body, POST it, and hand back the parsed JSON object. */
static int etcd_call(etcd *e, const char *path, const json_t *body, json_t **out, err_t *err)
{
    http_buf buf = {0};
    long status = 0;
    json_t *root = NULL;
    char *text = json_dumps(body, JSON_COMPACT);
    if (!text)
        return etcd_oom(err);
    int rc = etcd_post(e, path, text, &status, &buf, err);
    free(text);
    if (rc < 0)
        return -1;
    root = json_loadb(buf.data, buf.len, 0, NULL);
    if (status != 200)
        rc = etcd_remote_error(status, root, &buf, err);
    else if (!json_is_object(root))
        rc = err_set(err, ERR_REMOTE, "etcd answered with invalid JSON: %.*s",
                     etcd_cut(buf.data, 200), buf.data);
    http_buf_free(&buf);
    if (rc < 0) {
        json_decref(root);
        return -1;
    }
    *out = root;
    return 0;
}

/* ---- membership ------------------------------------------------------------------ */

/* The gateway writes uint64 ids as JSON strings (proto3's JSON mapping). */
static uint64_t etcd_json_u64(const json_t *v)
{
    if (json_is_string(v))
        return strtoull(json_string_value(v), NULL, 10);
    return json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
}

int etcd_member_list(etcd *e, etcd_member **members, size_t *n, err_t *err)
{
    json_t *req = json_object(), *resp = NULL, *m;
    size_t i;
    *members = NULL;
    *n = 0;
    if (!req)
        return etcd_oom(err);
    int rc = etcd_call(e, "/v3/cluster/member/list", req, &resp, err);
    json_decref(req);
    if (rc < 0)
        return -1;
    json_t *list = json_object_get(resp, "members");
    if (json_array_size(list) && !(*members = calloc(json_array_size(list), sizeof **members))) {
        json_decref(resp);
        return etcd_oom(err);
    }
    json_array_foreach(list, i, m) {
        etcd_member *out = &(*members)[(*n)++];
        const char *name = json_string_value(json_object_get(m, "name"));
        const char *peer = json_string_value(json_array_get(json_object_get(m, "peerURLs"), 0));
        out->id = etcd_json_u64(json_object_get(m, "ID"));
        snprintf(out->name, sizeof out->name, "%s", name ? name : "");
        snprintf(out->peer_url, sizeof out->peer_url, "%s", peer ? peer : "");
    }
    json_decref(resp);
    return 0;
}

int etcd_member_add(etcd *e, const char *peer_url, uint64_t *id, err_t *err)
{
    json_t *req = json_pack("{s:[s]}", "peerURLs", peer_url), *resp = NULL;
    if (!req)
        return etcd_oom(err);
    int rc = etcd_call(e, "/v3/cluster/member/add", req, &resp, err);
    json_decref(req);
    if (rc == 0 && id)
        *id = etcd_json_u64(json_object_get(json_object_get(resp, "member"), "ID"));
    json_decref(resp);
    return rc;
}

int etcd_member_remove(etcd *e, uint64_t id, err_t *err)
{
    char text[32];
    snprintf(text, sizeof text, "%llu", (unsigned long long)id);
    json_t *req = json_pack("{s:s}", "ID", text), *resp = NULL;
    if (!req)
        return etcd_oom(err);
    int rc = etcd_call(e, "/v3/cluster/member/remove", req, &resp, err);
    json_decref(req);
    json_decref(resp);
    return rc;
}

/* ---- key-value ------------------------------------------------------------------- */

static void etcd_kv_clear(etcd_kv *kv)
{
    free(kv->key);
    free(kv->value);
    memset(kv, 0, sizeof *kv);
}

static int etcd_kv_decode(const json_t *j, etcd_kv *kv)
{
    size_t key_len;
    memset(kv, 0, sizeof *kv);
    if (!json_is_object(j) || etcd_json_bytes(j, "key", &kv->key, &key_len) < 0 ||
        etcd_json_bytes(j, "value", &kv->value, &kv->value_len) < 0) {
        etcd_kv_clear(kv);
        return -1;
    }
    if (etcd_json_revision(j, "create_revision", &kv->create_revision) < 0 ||
        etcd_json_revision(j, "mod_revision", &kv->mod_revision) < 0 ||
        etcd_json_int_in(j, "version", 0, INT64_MAX, &kv->version) < 0 ||
        etcd_json_int_in(j, "lease", 0, INT64_MAX, &kv->lease) < 0) {
        etcd_kv_clear(kv);
        return -1;
    }
    return 0;
}

void etcd_kvs_free(etcd_kvs *kvs)
{
    if (!kvs)
        return;
    for (size_t i = 0; i < kvs->n; i++)
        etcd_kv_clear(&kvs->kvs[i]);
    free(kvs->kvs);
    memset(kvs, 0, sizeof *kvs);
}

size_t etcd_kvs_search(const etcd_kvs *kvs, const char *key, bool *found)
{
    size_t lo = 0, hi = kvs->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(kvs->kvs[mid].key, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (found)
        *found = lo < kvs->n && strcmp(kvs->kvs[lo].key, key) == 0;
    return lo;
}

const etcd_kv *etcd_kvs_get(const etcd_kvs *kvs, const char *key)
{
    bool found;
    size_t i = etcd_kvs_search(kvs, key, &found);
    return found ? &kvs->kvs[i] : NULL;
}

/* Decode resp[field] (a range's "kvs", a delete's "prev_kvs") and the revision. */
int etcd_kvs_decode(const json_t *resp, const char *field, etcd_kvs *out, err_t *err)
{
    const json_t *arr = json_object_get(resp, field);
    size_t n = json_array_size(arr);
    memset(out, 0, sizeof *out);
    if (etcd_header_revision(resp, &out->revision) < 0)
        return etcd_bad_revision(err);
    if (n == 0)
        return 0;
    if (!(out->kvs = calloc(n, sizeof *out->kvs)))
        return etcd_oom(err);
    for (; out->n < n; out->n++)
        if (etcd_kv_decode(json_array_get(arr, out->n), &out->kvs[out->n]) < 0) {
            etcd_kvs_free(out);
            return err_set(err, ERR_REMOTE, "etcd sent an undecodable key-value");
        }
    return 0;
}

/* Keys come back in key order: that is the default of a range, so no sort is asked. */
static int etcd_range(etcd *e, const char *key, bool prefix, etcd_kvs *out, err_t *err)
{
    json_t *req = json_object(), *resp = NULL;
    int rc = -1;
    memset(out, 0, sizeof *out);
    if (!*key)
        err_set(err, ERR_INVALID, "an empty key (refused: as a prefix it is every key)");
    else if (!req || etcd_json_set_range(req, key, prefix) < 0)
        etcd_oom(err);
    else if (etcd_call(e, "/v3/kv/range", req, &resp, err) == 0)
        rc = etcd_kvs_decode(resp, "kvs", out, err);
    json_decref(req);
    json_decref(resp);
    return rc < 0 ? err_prefix(err, "etcd get %s", key) : 0;
}

int etcd_get(etcd *e, const char *key, etcd_kvs *out, err_t *err)
{
    return etcd_range(e, key, false, out, err);
}

int etcd_get_prefix(etcd *e, const char *prefix, etcd_kvs *out, err_t *err)
{
    return etcd_range(e, prefix, true, out, err);
}

/* The body of a put, alone or inside a txn. */
static json_t *etcd_put_json(const char *key, const char *value, int64_t lease)
{
    json_t *req = json_object();
    if (!value)
        value = "";
    if (!req || (etcd_json_set_bytes(req, "key", key, strlen(key)) |
                 etcd_json_set_bytes(req, "value", value, strlen(value)) |
                 (lease ? json_object_set_new(req, "lease", json_integer(lease)) : 0))) {
        json_decref(req);
        return NULL;
    }
    return req;
}

static json_t *etcd_delete_json(const char *key, bool prefix)
{
    json_t *req = json_object();
    if (!req || etcd_json_set_range(req, key, prefix) < 0) {
        json_decref(req);
        return NULL;
    }
    return req;
}

int etcd_put(etcd *e, const char *key, const char *value, int64_t lease, int64_t *revision,
             err_t *err)
{
    json_t *req = etcd_put_json(key, value, lease), *resp = NULL;
    int rc = !req ? etcd_oom(err) : etcd_call(e, "/v3/kv/put", req, &resp, err);
    if (rc == 0 && revision && etcd_header_revision(resp, revision) < 0)
        rc = etcd_bad_revision(err);
    json_decref(req);
    json_decref(resp);
    return rc < 0 ? err_prefix(err, "etcd put %s", key) : 0;
}

int etcd_delete(etcd *e, const char *key, bool prefix, etcd_kvs *prev, err_t *err)
{
    if (!*key) {
        if (prev)
            memset(prev, 0, sizeof *prev);
        return err_set(err, ERR_INVALID, "etcd delete: an empty key (refused: as a prefix it "
                                         "is every key)");
    }
    json_t *req = etcd_delete_json(key, prefix), *resp = NULL;
    int rc = !req || (prev && json_object_set_new(req, "prev_kv", json_true()) < 0)
                 ? etcd_oom(err)
                 : etcd_call(e, "/v3/kv/deleterange", req, &resp, err);
    if (prev)
        memset(prev, 0, sizeof *prev);
    if (rc == 0 && prev)
        rc = etcd_kvs_decode(resp, "prev_kvs", prev, err);
    json_decref(req);
    json_decref(resp);
    return rc < 0 ? err_prefix(err, "etcd delete %s", key) : 0;
}

/* ---- transactions ---------------------------------------------------------------- */

static const char *const etcd_target_names[] = {"VERSION", "CREATE", "MOD", "VALUE", "LEASE"};
static const char *const etcd_target_fields[] = {"version", "create_revision", "mod_revision",
                                                 "value", "lease"};
static const char *const etcd_result_names[] = {"EQUAL", "GREATER", "LESS", "NOT_EQUAL"};

static json_t *etcd_cmp_json(const etcd_cmp *c)
{
    if ((unsigned)c->target > ETCD_CMP_LEASE || (unsigned)c->result > ETCD_NOT_EQUAL)
        return NULL;
    json_t *j = json_object();
    const char *field = etcd_target_fields[c->target];
    int bad = !j || etcd_json_set_range(j, c->key, c->prefix) < 0;
    if (!bad) {
        bad |= json_object_set_new(j, "target", json_string(etcd_target_names[c->target]));
        bad |= json_object_set_new(j, "result", json_string(etcd_result_names[c->result]));
        if (c->target == ETCD_CMP_VALUE) {
            const char *v = c->value ? c->value : "";
            bad |= etcd_json_set_bytes(j, field, v, strlen(v));
        } else {
            bad |= json_object_set_new(j, field, json_integer(c->number));
        }
    }
    if (bad) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static json_t *etcd_op_json(const etcd_op *op)
{
    json_t *inner = NULL;
    const char *name = NULL;
    if (op->type == ETCD_OP_PUT) {
        inner = etcd_put_json(op->key, op->value, op->lease);
        name = "request_put";
    } else if (op->type == ETCD_OP_DELETE) {
        inner = etcd_delete_json(op->key, op->prefix);
        name = "request_delete_range";
    }
    if (!inner)
        return NULL;
    json_t *j = json_object();
    if (!j || json_object_set_new(j, name, inner) < 0) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* Append every cmp or op as JSON to a new array under name; -1 if one cannot be built
 * (out of memory, an enum value out of range, or an empty key). */
static int etcd_txn_list(json_t *req, const char *name, const void *items, size_t n, size_t size,
                         json_t *(*to_json)(const void *))
{
    json_t *arr = json_array();
    if (json_object_set_new(req, name, arr) < 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (json_array_append_new(arr, to_json((const char *)items + i * size)) < 0)
            return -1;
    return 0;
}

static json_t *etcd_cmp_json_any(const void *c) { return etcd_cmp_json(c); }
static json_t *etcd_op_json_any(const void *op) { return etcd_op_json(op); }

int etcd_txn(etcd *e, const etcd_cmp *cmps, size_t ncmps, const etcd_op *success, size_t nsuccess,
             const etcd_op *failure, size_t nfailure, bool *succeeded, err_t *err)
{
    json_t *req = json_object(), *resp = NULL;
    int rc = -1;
    if (!req ||
        etcd_txn_list(req, "compare", cmps, ncmps, sizeof *cmps, etcd_cmp_json_any) < 0 ||
        etcd_txn_list(req, "success", success, nsuccess, sizeof *success, etcd_op_json_any) < 0 ||
        etcd_txn_list(req, "failure", failure, nfailure, sizeof *failure, etcd_op_json_any) < 0)
        err_set(err, ERR_INVALID, "cannot build the request (bad compare or op, or out of memory)");
    else if (etcd_call(e, "/v3/kv/txn", req, &resp, err) == 0)
        rc = 0;
    if (rc == 0 && succeeded)
        *succeeded = json_is_true(json_object_get(resp, "succeeded"));
    json_decref(req);
    json_decref(resp);
    return rc < 0 ? err_prefix(err, "etcd txn") : 0;
}

/* ---- leases ---------------------------------------------------------------------- */

/* A call whose whole body is {"<name>": number}; the lease API has nothing more. */
static int etcd_call_int(etcd *e, const char *path, const char *name, int64_t value, json_t **resp,
                         err_t *err)
{
    json_t *req = json_object();
    if (!req || json_object_set_new(req, name, json_integer(value)) < 0) {
        json_decref(req);
        return etcd_oom(err);
    }
    int rc = etcd_call(e, path, req, resp, err);
    json_decref(req);
    return rc;
}

int etcd_lease_grant(etcd *e, int64_t ttl_seconds, int64_t *lease, err_t *err)
{
    json_t *resp = NULL;
    if (etcd_call_int(e, "/v3/lease/grant", "TTL", ttl_seconds, &resp, err) < 0)
        return err_prefix(err, "etcd lease grant");
    int rc = etcd_lease_grant_decode(resp, lease, err);
    json_decref(resp);
    return rc;
}

/* A lease id is positive (etcd never grants 0, which means "no lease" in a put). */
int etcd_lease_grant_decode(const json_t *resp, int64_t *lease, err_t *err)
{
    const char *why = json_string_value(json_object_get(resp, "error"));
    if (etcd_json_int_in(resp, "ID", 0, INT64_MAX, lease) < 0 || *lease == 0)
        return err_set(err, ERR_REMOTE, "etcd lease grant: no lease granted: %s", why ? why : "?");
    return 0;
}

/* The gateway serves keepalive as a stream; one request in gives one
 * {"result": {...}} (or {"error": {...}}) out, then the stream ends. */
int etcd_lease_keepalive(etcd *e, int64_t lease, etcd_keepalive *ka, err_t *err)
{
    json_t *resp = NULL;
    if (etcd_call_int(e, "/v3/lease/keepalive", "ID", lease, &resp, err) < 0)
        return err_prefix(err, "etcd lease keepalive %lld", (long long)lease);
    int rc = etcd_lease_keepalive_decode(resp, lease, ka, err);
    json_decref(resp);
    return rc;
}

int etcd_lease_keepalive_decode(const json_t *resp, int64_t lease, etcd_keepalive *ka, err_t *err)
{
    const json_t *result = json_object_get(resp, "result");
    memset(ka, 0, sizeof *ka);
    if (json_is_object(result)) {
        ka->ttl = etcd_json_int(result, "TTL"); /* absent (0) when the lease is gone */
        if (ka->ttl < 0)
            ka->ttl = 0;
        ka->term = etcd_json_int(json_object_get(result, "header"), "raft_term");
        if (ka->term < 0)
            ka->term = 0;
        return 0;
    }
    const char *msg = json_string_value(json_object_get(json_object_get(resp, "error"), "message"));
    return err_set(err, ERR_REMOTE, "etcd lease keepalive %lld: %s", (long long)lease,
                   msg ? msg : "no result");
}

int etcd_lease_keys(etcd *e, int64_t lease, etcd_kvs *keys, err_t *err)
{
    json_t *req = json_pack("{s:I,s:b}", "ID", (json_int_t)lease, "keys", 1), *resp = NULL;
    memset(keys, 0, sizeof *keys);
    int rc = !req ? etcd_oom(err) : etcd_call(e, "/v3/lease/timetolive", req, &resp, err);
    if (rc == 0)
        rc = etcd_lease_keys_decode(resp, lease, keys, err);
    json_decref(req);
    json_decref(resp);
    return rc < 0 ? err_prefix(err, "etcd lease keys %lld", (long long)lease) : 0;
}

/* A key that does not decode is left out: the list serves a clean-up, which must
 * go on with the keys it can name. */
int etcd_lease_keys_decode(const json_t *resp, int64_t lease, etcd_kvs *keys, err_t *err)
{
    const json_t *list = json_object_get(resp, "keys");
    size_t n = json_array_size(list);
    memset(keys, 0, sizeof *keys);
    if (etcd_header_revision(resp, &keys->revision) < 0)
        return etcd_bad_revision(err);
    if (n && !(keys->kvs = calloc(n, sizeof *keys->kvs)))
        return etcd_oom(err);
    for (size_t i = 0; i < n; i++) {
        etcd_kv *kv = &keys->kvs[keys->n];
        size_t len;
        const char *b64 = json_string_value(json_array_get(list, i));
        if (b64 && etcd_b64_decode(b64, &kv->key, &len) == 0 && (kv->value = calloc(1, 1))) {
            kv->lease = lease;
            keys->n++;
        } else {
            free(kv->key);
            kv->key = NULL;
        }
    }
    return 0;
}

int etcd_lease_revoke(etcd *e, int64_t lease, err_t *err)
{
    json_t *resp = NULL;
    if (etcd_call_int(e, "/v3/lease/revoke", "ID", lease, &resp, err) < 0)
        return err_prefix(err, "etcd lease revoke %lld", (long long)lease);
    json_decref(resp);
    return 0;
}

/* ---- watch: splitting the stream into JSON objects ------------------------------- */

/* The gateway writes one JSON object per message, but chunks arrive as the network
 * cuts them: an object may span chunks and a chunk may hold several. The splitter
 * tracks brace depth (ignoring braces inside strings) across chunks and hands out
 * each complete top-level object; bytes between objects (newlines) are skipped. */
typedef bool (*etcd_object_fn)(void *ud, const char *text, size_t len);

static bool etcd_split_push(struct etcd_splitter *s, char c)
{
    if (s->len + 1 >= s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        char *grown = realloc(s->buf, cap);
        if (!grown)
            return false;
        s->buf = grown;
        s->cap = cap;
    }
    s->buf[s->len++] = c;
    return true;
}

/* Track string and nesting state for c, which has just been appended. */
static void etcd_split_track(struct etcd_splitter *s, char c)
{
    if (s->in_string) {
        if (s->escaped)
            s->escaped = false;
        else if (c == '\\')
            s->escaped = true;
        else if (c == '"')
            s->in_string = false;
    } else if (c == '"') {
        s->in_string = true;
    } else if (c == '{' || c == '[') {
        s->depth++;
    } else if (c == '}' || c == ']') {
        s->depth--;
    }
}

/* Feed one chunk; calls fn per complete object. False if fn said stop or on OOM. */
static bool etcd_split_feed(struct etcd_splitter *s, const char *data, size_t len,
                            etcd_object_fn fn, void *ud)
{
    for (size_t i = 0; i < len; i++) {
        if (s->len == 0 && data[i] != '{')
            continue; /* between objects */
        if (!etcd_split_push(s, data[i]))
            return false;
        etcd_split_track(s, data[i]);
        if (s->depth == 0) {
            s->buf[s->len] = '\0';
            size_t n = s->len;
            s->len = 0;
            if (!fn(ud, s->buf, n))
                return false;
        }
    }
    return true;
}

static void etcd_split_reset(struct etcd_splitter *s)
{
    s->len = 0;
    s->depth = 0;
    s->in_string = s->escaped = false;
}

/* ---- watch: one response, one stream, the reconnect loop ------------------------- */

static bool etcd_watch_fail(struct etcd_watch *w, enum err_code code, const char *what)
{
    err_set(&w->err, code, "%s", what);
    w->state = ETCD_WATCH_FAILED;
    return false;
}

/* Deliver the events of one response as one batch. After a resume etcd could only
 * repeat a revision we already delivered if our bookkeeping were wrong; dropping
 * anything below next_rev makes "never twice" hold regardless. */
static bool etcd_watch_deliver(struct etcd_watch *w, const json_t *events)
{
    size_t n = json_array_size(events), kept = 0;
    if (n == 0)
        return true;
    etcd_event *batch = calloc(n, sizeof *batch);
    if (!batch)
        return etcd_watch_fail(w, ERR_SYS, "out of memory");
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        const json_t *j = json_array_get(events, i);
        const char *type = json_string_value(json_object_get(j, "type"));
        etcd_event *ev = &batch[kept];
        ev->type = type && strcmp(type, "DELETE") == 0 ? ETCD_EVENT_DELETE : ETCD_EVENT_PUT;
        if (etcd_kv_decode(json_object_get(j, "kv"), &ev->kv) < 0)
            ok = etcd_watch_fail(w, ERR_REMOTE, "etcd sent an undecodable event");
        else if (ev->kv.mod_revision < w->next_rev)
            etcd_kv_clear(&ev->kv);
        else
            kept++;
    }
    if (ok && kept > 0) { /* mod_revision <= ETCD_REVISION_MAX (decoded so): no overflow */
        w->next_rev = batch[kept - 1].kv.mod_revision + 1;
        if (!w->fn(w->ud, batch, kept))
            w->state = ETCD_WATCH_DONE;
    }
    for (size_t i = 0; i < kept; i++)
        etcd_kv_clear(&batch[i].kv);
    free(batch);
    return ok && w->state == ETCD_WATCH_RUNNING;
}

/* An error message in the stream: {"error": {"grpc_code": 14, "message": ...}}.
 * Unavailable (no leader yet, member starting) is worth a reconnect; others are final. */
static bool etcd_watch_error(struct etcd_watch *w, const json_t *error)
{
    const char *msg = json_string_value(json_object_get(error, "message"));
    if (!msg)
        msg = json_string_value(error);
    if (etcd_json_int(error, "grpc_code") == ETCD_GRPC_UNAVAILABLE) {
        err_set(&w->err, ERR_UNAVAIL, "%s", msg ? msg : "unavailable");
        w->state = ETCD_WATCH_RETRY;
        return false;
    }
    err_set(&w->err, ERR_REMOTE, "%s", msg ? msg : "error");
    w->state = ETCD_WATCH_FAILED;
    return false;
}

/* Decode one watch response; false ends this stream (w->state says why). */
static bool etcd_watch_decode(struct etcd_watch *w, const json_t *msg)
{
    const json_t *error = json_object_get(msg, "error");
    const json_t *result = json_object_get(msg, "result");
    if (error)
        return etcd_watch_error(w, error);
    if (!json_is_object(result))
        return etcd_watch_fail(w, ERR_REMOTE, "etcd sent a watch message without result");
    int64_t compact;
    if (etcd_json_revision(result, "compact_revision", &compact) < 0)
        return etcd_watch_fail(w, ERR_REMOTE, "etcd sent an undecodable compact_revision");
    if (compact > 0) {
        w->compact_rev = compact;
        err_set(&w->err, ERR_COMPACTED, "revision %lld is compacted (oldest kept: %lld)",
                (long long)w->next_rev, (long long)compact);
        w->state = ETCD_WATCH_FAILED;
        return false;
    }
    if (json_is_true(json_object_get(result, "canceled"))) {
        const char *why = json_string_value(json_object_get(result, "cancel_reason"));
        return etcd_watch_fail(w, ERR_REMOTE, why ? why : "watch canceled by etcd");
    }
    if (json_is_true(json_object_get(result, "created")))
        w->created = true;
    return etcd_watch_deliver(w, json_object_get(result, "events"));
}

static bool etcd_watch_on_object(void *ud, const char *text, size_t len)
{
    struct etcd_watch *w = ud;
    json_t *msg = json_loadb(text, len, 0, NULL);
    bool more = msg ? etcd_watch_decode(w, msg)
                    : etcd_watch_fail(w, ERR_REMOTE, "etcd sent invalid JSON in the watch");
    json_decref(msg);
    return more;
}

bool etcd_watch_on_chunk(void *ud, const char *data, size_t len)
{
    struct etcd_watch *w = ud;
    if (etcd_split_feed(&w->split, data, len, etcd_watch_on_object, w))
        return true;
    if (w->state == ETCD_WATCH_RUNNING) /* the splitter ran out of memory */
        etcd_watch_fail(w, ERR_SYS, "out of memory");
    return false;
}

/* "From now on" is pinned to a revision before the first stream opens, so that a
 * reconnect before the first event still resumes at the right place. */
static int etcd_watch_pin_start(struct etcd_watch *w)
{
    json_t *req = json_object(), *resp = NULL;
    int rc = -1;
    if (!req || etcd_json_set_range(req, w->prefix, true) < 0 ||
        json_object_set_new(req, "count_only", json_true()) < 0) {
        etcd_oom(&w->err);
    } else if (etcd_call(w->e, "/v3/kv/range", req, &resp, &w->err) == 0) {
        rc = etcd_watch_start_decode(resp, &w->next_rev, &w->err);
    }
    json_decref(req);
    json_decref(resp);
    return rc;
}

/* The revision after the store's current one (header.revision + 1; etcd_header_revision
 * keeps it below INT64_MAX, so the sum does not overflow). */
int etcd_watch_start_decode(const json_t *resp, int64_t *next_rev, err_t *err)
{
    int64_t rev;
    if (etcd_header_revision(resp, &rev) < 0)
        return etcd_bad_revision(err);
    *next_rev = rev + 1;
    return 0;
}

static char *etcd_watch_body(const struct etcd_watch *w)
{
    json_t *create = json_object(), *req = json_object();
    char *text = NULL;
    if (create && req && etcd_json_set_range(create, w->prefix, true) == 0 &&
        json_object_set_new(create, "start_revision", json_integer(w->next_rev)) == 0 &&
        json_object_set(req, "create_request", create) == 0)
        text = json_dumps(req, JSON_COMPACT);
    json_decref(create);
    json_decref(req);
    return text;
}

/* Open one stream on the current endpoint and read it until it ends; w->state says
 * how it ended (RETRY for anything a reconnect may cure). */
static void etcd_watch_stream(struct etcd_watch *w, const atomic_bool *stop)
{
    char url[ETCD_URL_MAX];
    long status = 0;
    w->state = ETCD_WATCH_RUNNING;
    w->created = false;
    etcd_split_reset(&w->split);
    if (w->next_rev <= 0 && etcd_watch_pin_start(w) < 0) {
        w->state = w->err.code == ERR_UNAVAIL ? ETCD_WATCH_RETRY : ETCD_WATCH_FAILED;
        return;
    }
    char *body = etcd_watch_body(w);
    if (!body) {
        etcd_watch_fail(w, ERR_SYS, "out of memory");
        return;
    }
    etcd_url(w->e, w->e->current, "/v3/watch", url);
    http_req req = {.method = "POST", .url = url, .body = body, .body_len = strlen(body)};
    int rc = http_stream(w->e->http, &req, etcd_watch_on_chunk, w, stop, &status, &w->err);
    free(body);
    if (w->state != ETCD_WATCH_RUNNING)
        return;
    if (rc < 0) { /* a transport error, or cancelled through stop */
        w->state = w->err.code == ERR_CANCELLED ? ETCD_WATCH_FAILED : ETCD_WATCH_RETRY;
    } else if (status != 200 && status < 500) {
        err_set(&w->err, ERR_REMOTE, "etcd answered HTTP %ld to the watch", status);
        w->state = ETCD_WATCH_FAILED;
    } else { /* the server ended the stream: a member going down, a proxy timing out */
        err_set(&w->err, ERR_UNAVAIL, "stream ended (HTTP %ld)", status);
        w->state = ETCD_WATCH_RETRY;
    }
}

int etcd_watch(etcd *e, const char *prefix, int64_t start_revision, etcd_watch_fn fn, void *ud,
               const atomic_bool *stop, int64_t *compact_revision, err_t *err)
{
    struct etcd_watch w = {.e = e, .prefix = prefix, .fn = fn, .ud = ud,
                           .next_rev = start_revision > 0 ? start_revision : 0};
    long backoff = ETCD_BACKOFF_MIN_MS;
    int rc = -1;
    for (;;) {
        if (stop && atomic_load(stop)) {
            err_set(&w.err, ERR_CANCELLED, "stopped");
            break;
        }
        etcd_watch_stream(&w, stop);
        if (w.state == ETCD_WATCH_DONE) {
            rc = 0;
            break;
        }
        if (w.state == ETCD_WATCH_FAILED)
            break;
        /* A stream that had worked was lost: say so once, and start the back-off over. */
        if (w.created) {
            log_warn("etcd watch %s on %s lost (%s); resuming at revision %lld", prefix,
                     etcd_endpoint(e), w.err.msg, (long long)w.next_rev);
            backoff = ETCD_BACKOFF_MIN_MS;
        }
        e->current = (e->current + 1) % e->nendpoints;
        if (!sleep_ms(backoff, stop))
            continue; /* the loop head reports the cancellation */
        backoff = backoff * 2 > ETCD_BACKOFF_MAX_MS ? ETCD_BACKOFF_MAX_MS : backoff * 2;
    }
    free(w.split.buf);
    if (rc == 0)
        return 0;
    if (w.err.code == ERR_COMPACTED && compact_revision)
        *compact_revision = w.compact_rev;
    if (err)
        *err = w.err;
    return err_prefix(err, "etcd watch %s", prefix);
}
