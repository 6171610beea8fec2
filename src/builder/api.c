/* api.c - the REST API under /api/v1 (openapi.json describes it; a test keeps the
 * two in step).
 *
 * Reads come from the store's snapshot (view.c builds the JSON); GET /apps, the
 * hottest read, is kept as text with its snapshot and sent by reference, so
 * repeating it, or serving it to many clients at once, copies nothing.
 * Writes go to etcd and answer once this builder's copy has them (store_wait):
 * whoever wrote reads it back from here at once. Auth was settled before the body
 * was read (auth.c); here every name, body and field is checked before anything
 * is written, and a refusal says exactly what is wrong. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "dokkaa/http.h"
#include "dokkaa/keys.h"
#include "dokkaa/log.h"
#include "view.h"

#define API_MAX_SEGMENTS 8
#define API_SCALE_TRIES 5

enum { API_SLOT_APPS };

typedef struct api_path {
    char *seg[API_MAX_SEGMENTS];
    int n;
    bool nul; /* a segment holds a NUL ("%00") */
    char buf[1024];
} api_path;

static bool api_is(const builder_req *r, const char *method)
{
    return strcmp(r->method, method) == 0 || (strcmp(method, "GET") == 0 && strcmp(r->method, "HEAD") == 0);
}

static enum MHD_Result api_not_allowed(builder_req *r, const char *allowed)
{
    return reply_error(r, 405, "%s is not allowed on %s; allowed: %s", r->method, r->url,
                       allowed);
}

/* Split "/apps/x/y?query", as the client sent it, into its segments, each then
 * percent-decoded: "a%2Fb" is one segment (and no valid name), never two; nul
 * says whether one decoded to a NUL. False when it has too many or is too long.
 * A trailing
 * slash is ignored; an empty segment ("//") is kept, and refused as a name later. */
static bool api_split(const char *path, api_path *p)
{
    size_t len = strcspn(path, "?");
    while (len > 1 && path[len - 1] == '/')
        len--;
    if (len >= sizeof p->buf)
        return false;
    memcpy(p->buf, path, len);
    p->buf[len] = '\0';
    p->n = 0;
    for (char *s = p->buf + 1; s; p->n++) {
        if (p->n == API_MAX_SEGMENTS)
            return false;
        p->seg[p->n] = s;
        if ((s = strchr(s, '/')))
            *s++ = '\0';
    }
    p->nul = false;
    for (int i = 0; i < p->n; i++)
        p->nul |= http_urldecode(p->seg[i], false) != strlen(p->seg[i]);
    return true;
}

static bool api_names_ok(builder_req *r, const api_path *p, int upto, enum MHD_Result *ret)
{
    static const char *const what[] = {NULL, "app name", "manifest name"};
    err_t err;
    for (int i = 1; i <= upto && i < p->n; i++) {
        if (names_check_label(what[i], p->seg[i], &err) < 0) {
            *ret = reply_error(r, 400, "%s", err.msg);
            return false;
        }
    }
    return true;
}

/* The request's body as a JSON object; on failure the refusal is queued. */
static json_t *api_body(builder_req *r, enum MHD_Result *ret)
{
    json_error_t jerr;
    if (r->too_large || r->body_len > MANIFEST_MAX_BYTES) {
        *ret = reply_error(r, 413, "the body is over %d bytes (1 MiB)", MANIFEST_MAX_BYTES);
        return NULL;
    }
    json_t *body = json_loadb(r->body ? r->body : "", r->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!body)
        *ret = reply_error(r, 400, "body: invalid JSON at line %d column %d: %s", jerr.line,
                           jerr.column, jerr.text);
    else if (!json_is_object(body))
        *ret = reply_error(r, 400, "body: must be a JSON object");
    else
        return body;
    json_decref(body);
    return NULL;
}

/* Refuse a field not in valid (a NULL-terminated list), naming the valid ones. */
static bool api_fields_ok(builder_req *r, json_t *body, const char *const *valid,
                          enum MHD_Result *ret)
{
    const char *field;
    json_t *v;
    json_object_foreach(body, field, v) {
        bool known = false;
        for (const char *const *f = valid; *f; f++)
            known |= strcmp(*f, field) == 0;
        if (!known) {
            char list[200] = "";
            for (const char *const *f = valid; *f; f++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                         f == valid ? "" : ", ", *f);
            *ret = reply_error(r, 400, "unknown field \"%s\"; valid fields: %s", field, list);
            return false;
        }
    }
    return true;
}

static bool api_flag(builder_req *r, const char *name)
{
    const char *v = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
    return v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
}

/* ---- reads ------------------------------------------------------------------ */

static char *api_build_apps(store_snap *snap, size_t *len)
{
    json_t *body = json_pack("{s:I,s:o}", "revision", (json_int_t)store_revision(snap), "apps",
                             view_apps(snap, NULL));
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    *len = text ? strlen(text) : 0;
    return text;
}

static enum MHD_Result api_get_apps(builder_req *r)
{
    size_t len;
    store_snap *snap = store_acquire(r->b->store);
    store_text *t = store_cached(snap, API_SLOT_APPS, api_build_apps);
    store_release(snap); /* the text outlives it while the answer is sent */
    if (!t)
        return reply_json(r, 500, NULL, 0);
    const char *text = store_text_data(t, &len);
    return reply_shared(r, 200, "application/json", text, len, store_text_release, t);
}

/* A read view of the snapshot under one key: {"<field>": view(snap)}. */
static enum MHD_Result api_get_list(builder_req *r, const char *field,
                                    json_t *(*view)(const store_snap *))
{
    store_snap *snap = store_acquire(r->b->store);
    json_t *body = json_pack("{s:o}", field, view(snap));
    store_release(snap);
    return reply_json(r, 200, body, 0);
}

static enum MHD_Result api_get_app(builder_req *r, const char *app)
{
    store_snap *snap = store_acquire(r->b->store);
    json_t *apps = view_apps(snap, app);
    store_release(snap);
    json_t *one = json_incref(json_array_get(apps, 0));
    json_decref(apps);
    if (!one)
        return reply_error(r, 404, "no app \"%s\"", app);
    return reply_json(r, 200, one, 0);
}

static enum MHD_Result api_get_manifest(builder_req *r, const char *app, const char *name)
{
    bool missing;
    store_snap *snap = store_acquire(r->b->store);
    json_t *m = view_manifest(snap, app, name, time(NULL), &missing);
    store_release(snap);
    if (missing)
        return reply_error(r, 404, "no manifest %s/%s", app, name);
    return reply_json(r, 200, m, 0);
}

static enum MHD_Result api_get_instances(builder_req *r, const char *app, const char *name)
{
    err_t err;
    const char *only = name ? NULL : MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, "app");
    if (only && names_check_label("app name", only, &err) < 0)
        return reply_error(r, 400, "app: %s", err.msg);
    char key[KEYS_SIZE];
    store_snap *snap = store_acquire(r->b->store);
    if (name && !store_get(snap, keys_manifest_key(key, app, name))) {
        store_release(snap);
        return reply_error(r, 404, "no manifest %s/%s", app, name);
    }
    json_t *body = json_pack("{s:o}", "instances", view_instances(snap, name ? app : only, name,
                                                                  time(NULL)));
    store_release(snap);
    return reply_json(r, 200, body, 0);
}

static enum MHD_Result api_whoami(builder_req *r)
{
    return reply_json(r, 200,
                      json_pack("{s:s,s:s?,s:b}", "role", keys_role_name(r->role), "token",
                                *r->token_id ? r->token_id : NULL, "can_write",
                                r->role == KEYS_ROLE_ADMIN),
                      0);
}

/* ---- manifests -------------------------------------------------------------- */

static enum MHD_Result api_put_manifest(builder_req *r, const char *app, const char *name)
{
    char key[KEYS_SIZE];
    manifest m;
    err_t err;
    int64_t revision;
    enum MHD_Result ret;

    if (r->too_large || r->body_len > MANIFEST_MAX_BYTES)
        return reply_error(r, 413, "the manifest is over %d bytes (1 MiB)", MANIFEST_MAX_BYTES);
    if (manifest_parse(r->body ? r->body : "", r->body_len, &m, &err) < 0)
        return reply_error(r, 400, "%s", err.msg);
    manifest_free(&m);
    keys_manifest_key(key, app, name);
    store_snap *snap = store_acquire(r->b->store);
    bool created = store_get(snap, key) == NULL;
    revision = store_revision(snap);
    store_release(snap);
    json_t *body = json_pack("{s:s,s:s,s:o,s:I,s:b}", "app", app, "name", name, "manifest",
                             json_loadb(r->body, r->body_len, 0, NULL), "revision",
                             (json_int_t)revision, "created", created);
    if (api_flag(r, "dry_run")) { /* "created": whether a PUT would create it */
        json_object_set_new(body, "dry_run", json_true());
        return reply_json(r, 200, body, 0);
    }
    revisions_write w;
    bool done;
    if (revisions_write_prepare(&w, r, app, name, r->body, NULL) < 0) {
        json_decref(body);
        return reply_error(r, 500, "out of memory");
    }
    int rc = request_etcd(r, &err) ? etcd_txn(r->etcd, NULL, 0, w.ops, 2, NULL, 0, &done, &err) : -1;
    revisions_write_clear(&w);
    if (rc < 0) {
        json_decref(body);
        return reply_etcd_failed(r, &err);
    }
    revision = request_written_revision(r, key);
    json_object_set_new(body, "revision", json_integer(revision));
    ret = reply_written(r, created ? 201 : 200, body, revision);
    log_info("%s manifest %s/%s (revision %lld)", created ? "created" : "replaced", app, name,
             (long long)revision);
    return ret;
}

/* The manifest goes with its history, in one txn: its author record, its rollout
 * record and its kept revisions, which are of no other manifest (one of the same
 * name later starts again at revision 1). Its placements are the scheduler's to
 * remove: it stops the instances first. */
static enum MHD_Result api_delete_manifest(builder_req *r, const char *app, const char *name)
{
    char key[KEYS_SIZE], author[KEYS_SIZE], rollout[KEYS_SIZE], revisions[KEYS_SIZE];
    bool existed;
    err_t err;
    keys_manifest_key(key, app, name);
    etcd_cmp exists = {.key = key, .target = ETCD_CMP_CREATE, .result = ETCD_GREATER, .number = 0};
    etcd_op ops[] = {
        {.type = ETCD_OP_DELETE, .key = key},
        {.type = ETCD_OP_DELETE, .key = keys_author_key(author, app, name)},
        {.type = ETCD_OP_DELETE, .key = keys_rollout_key(rollout, app, name)},
        {.type = ETCD_OP_DELETE, .key = keys_revisions_prefix(revisions, app, name), .prefix = true},
    };
    if (!request_etcd(r, &err) || etcd_txn(r->etcd, &exists, 1, ops, 4, NULL, 0, &existed, &err) < 0)
        return reply_etcd_failed(r, &err);
    if (!existed)
        return reply_error(r, 404, "no manifest %s/%s", app, name);
    log_info("deleted manifest %s/%s", app, name);
    return reply_written(r, 200, json_pack("{s:s,s:s,s:b}", "app", app, "name", name, "deleted", 1),
                         request_written_revision(r, key));
}

/* Deleting an app takes its link ports with it (DESIGN.md: /links/<app>/ lives
 * until the app is deleted), and its kept revisions, also when it had no manifest
 * left. */
static enum MHD_Result api_delete_app(builder_req *r, const char *app)
{
    char prefix[KEYS_SIZE], links[KEYS_SIZE], revisions[KEYS_SIZE];
    keys_key k;
    etcd_kvs gone;
    err_t err;
    bool done;
    etcd_op beside[] = {
        {.type = ETCD_OP_DELETE, .key = keys_links_prefix(links, app), .prefix = true},
        {.type = ETCD_OP_DELETE, .key = keys_revisions_prefix(revisions, app, NULL), .prefix = true},
    };
    if (!request_etcd(r, &err) ||
        etcd_delete(r->etcd, keys_app_prefix(prefix, app), true, &gone, &err) < 0)
        return reply_etcd_failed(r, &err);
    if (etcd_txn(r->etcd, NULL, 0, beside, 2, NULL, 0, &done, &err) < 0) {
        etcd_kvs_free(&gone);
        return reply_etcd_failed(r, &err);
    }
    json_t *names = json_array();
    for (size_t i = 0; i < gone.n; i++)
        if (keys_is(gone.kvs[i].key, KEYS_MANIFEST, &k))
            json_array_append_new(names, json_string(k.name));
    int64_t revision = request_written_revision(r, prefix);
    if (revision < gone.revision)
        revision = gone.revision;
    etcd_kvs_free(&gone);
    if (json_array_size(names) == 0) {
        json_decref(names);
        return reply_error(r, 404, "no app \"%s\"", app);
    }
    log_info("deleted app %s", app);
    return reply_written(r, 200, json_pack("{s:s,s:o}", "app", app, "deleted", names), revision);
}

/* The stored manifest with its scale replaced, as text, validated. */
static char *api_rescale(builder_req *r, const etcd_kv *kv, int scale, enum MHD_Result *ret)
{
    manifest m;
    err_t err;
    json_t *doc = json_loadb(kv->value, kv->value_len, 0, NULL);
    char *text = NULL;
    if (json_is_object(doc)) {
        json_object_set_new(doc, "scale", json_integer(scale));
        text = json_dumps(doc, JSON_COMPACT);
    }
    json_decref(doc);
    if (!text || manifest_parse(text, strlen(text), &m, &err) < 0) {
        *ret = reply_error(r, 409, "the stored manifest is invalid (%s); PUT a whole one instead",
                           text ? err.msg : "not a JSON object");
        free(text);
        return NULL;
    }
    manifest_free(&m);
    return text;
}

/* The new scale from {"scale": N}; -1 with the refusal queued. */
static int api_scale_body(builder_req *r, enum MHD_Result *ret)
{
    static const char *const fields[] = {"scale", NULL};
    json_t *body = api_body(r, ret), *v;
    int scale = -1;
    if (!body || !api_fields_ok(r, body, fields, ret)) {
        json_decref(body);
        return -1;
    }
    v = json_object_get(body, "scale");
    if (json_is_integer(v) && json_integer_value(v) >= 0 &&
        json_integer_value(v) <= MANIFEST_MAX_SCALE) {
        scale = (int)json_integer_value(v);
    } else {
        char *got = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
        *ret = reply_error(r, 400, "scale: must be an integer 0..%d, got %s", MANIFEST_MAX_SCALE,
                           got ? got : "nothing");
        free(got);
    }
    json_decref(body);
    return scale;
}

/* The revision to roll back to from an optional {"revision": N}: 0 without one,
 * -1 with the refusal queued. */
static int api_rollback_body(builder_req *r, enum MHD_Result *ret)
{
    static const char *const fields[] = {"revision", NULL};
    size_t blank = r->body ? strspn(r->body, " \t\r\n") : 0;
    if (!r->too_large && blank == r->body_len)
        return 0; /* no body: the default */
    json_t *body = api_body(r, ret), *v;
    int revision = -1;
    if (!body || !api_fields_ok(r, body, fields, ret)) {
        json_decref(body);
        return -1;
    }
    v = json_object_get(body, "revision");
    if (!v) {
        revision = 0;
    } else if (json_is_integer(v) && json_integer_value(v) >= 1 &&
               json_integer_value(v) <= KEYS_MAX_REVISION) {
        revision = (int)json_integer_value(v);
    } else {
        char *got = json_dumps(v, JSON_ENCODE_ANY);
        *ret = reply_error(r, 400, "revision: must be an integer 1..%d (a kept revision's "
                                   "number), got %s", KEYS_MAX_REVISION, got ? got : "?");
        free(got);
    }
    json_decref(body);
    return revision;
}

static enum MHD_Result api_rollback(builder_req *r, const char *app, const char *name)
{
    enum MHD_Result ret;
    int revision = api_rollback_body(r, &ret);
    return revision < 0 ? ret : revisions_rollback(r, app, name, revision);
}

/* The answer to a scale: etcd_txn does not say the revision it wrote, so it is
 * read back (at least ours; later if someone wrote since). Takes text. */
static enum MHD_Result api_scaled(builder_req *r, const char *app, const char *name,
                                  const char *key, char *text)
{
    int64_t revision = request_written_revision(r, key);
    json_t *body = json_pack("{s:s,s:s,s:o,s:I}", "app", app, "name", name, "manifest",
                             json_loads(text, 0, NULL), "revision", (json_int_t)revision);
    free(text);
    return reply_written(r, 200, body, revision);
}

/* A compare-and-swap on the manifest's revision, so that a scale never undoes a
 * concurrent edit of the rest of the manifest; retried when it loses the race. */
static enum MHD_Result api_scale(builder_req *r, const char *app, const char *name)
{
    char key[KEYS_SIZE];
    err_t err;
    enum MHD_Result ret;
    int scale = api_scale_body(r, &ret);
    if (scale < 0)
        return ret;
    keys_manifest_key(key, app, name);
    if (!request_etcd(r, &err))
        return reply_etcd_failed(r, &err);
    for (int attempt = 0; attempt < API_SCALE_TRIES; attempt++) {
        etcd_kvs cur;
        bool swapped;
        if (etcd_get(r->etcd, key, &cur, &err) < 0)
            return reply_etcd_failed(r, &err);
        if (cur.n == 0) {
            etcd_kvs_free(&cur);
            return reply_error(r, 404, "no manifest %s/%s", app, name);
        }
        char *text = api_rescale(r, &cur.kvs[0], scale, &ret);
        etcd_cmp same = {.key = key, .target = ETCD_CMP_MOD, .result = ETCD_EQUAL,
                         .number = cur.kvs[0].mod_revision};
        revisions_write w;
        etcd_kvs_free(&cur);
        if (!text)
            return ret;
        if (revisions_write_prepare(&w, r, app, name, text, NULL) < 0) {
            free(text);
            return reply_error(r, 500, "out of memory");
        }
        int rc = etcd_txn(r->etcd, &same, 1, w.ops, 2, NULL, 0, &swapped, &err);
        revisions_write_clear(&w);
        if (rc == 0 && swapped) {
            log_info("scaled %s/%s to %d", app, name, scale);
            return api_scaled(r, app, name, key, text);
        }
        free(text);
        if (rc < 0)
            return reply_etcd_failed(r, &err);
    }
    return reply_error(r, 409, "%s/%s changed %d times while scaling; try again", app, name,
                       API_SCALE_TRIES);
}

/* ---- tokens ----------------------------------------------------------------- */

/* Refuse a field of body that is missing or not a string, saying what came. */
static bool api_is_string(builder_req *r, json_t *body, const char *field, const char *want,
                          enum MHD_Result *ret)
{
    json_t *v = json_object_get(body, field);
    if (json_is_string(v))
        return true;
    char *got = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
    *ret = reply_error(r, 400, "%s: must be %s, got %s", field, want, got ? got : "nothing");
    free(got);
    return false;
}

static enum MHD_Result api_create_token(builder_req *r)
{
    static const char *const fields[] = {"name", "role", NULL};
    char token[TOKEN_LEN + 1], id[TOKEN_ID_LEN + 1], created[32];
    enum keys_role role;
    int64_t revision;
    err_t err;
    enum MHD_Result ret;
    json_t *body = api_body(r, &ret);
    if (!body || !api_fields_ok(r, body, fields, &ret)) {
        json_decref(body);
        return ret;
    }
    const char *name = json_string_value(json_object_get(body, "name"));
    if (!api_is_string(r, body, "name", "a string of 1..63 printable characters", &ret) ||
        !api_is_string(r, body, "role", "\"admin\" or \"read-only\"", &ret)) {
        json_decref(body);
        return ret;
    }
    if (keys_role_parse(json_string_value(json_object_get(body, "role")), &role, &err) < 0 ||
        !request_etcd(r, &err) ||
        token_create(r->etcd, name, role, token, id, created, &revision, &err) < 0) {
        json_decref(body);
        return err.code == ERR_INVALID ? reply_error(r, 400, "%s", err.msg)
                                       : reply_etcd_failed(r, &err);
    }
    log_info("token %s (%s, %s) created by %s", id, name, keys_role_name(role), r->token_id);
    json_t *answer = json_pack("{s:s,s:s,s:s,s:s,s:s}", "id", id, "name", name, "role",
                               keys_role_name(role), "created", created, "token", token);
    json_decref(body);
    return reply_written(r, 201, answer, revision);
}

/* The key of the token whose id is id (the start of its hash), and how many admin
 * tokens there are: those whose record says so (auth.c refuses the others). */
static bool api_find_token(builder_req *r, const char *id, char key[KEYS_SIZE], int *admins)
{
    const etcd_kv *kv;
    keys_key k;
    keys_token rec;
    bool found = false;
    store_snap *snap = store_acquire(r->b->store);
    size_t n = store_range(snap, KEYS_TOKENS, &kv);
    *admins = 0;
    for (size_t i = 0; i < n; i++) {
        if (!keys_is(kv[i].key, KEYS_TOKEN, &k))
            continue;
        if (strncmp(k.hash, id, TOKEN_ID_LEN) == 0) {
            snprintf(key, KEYS_SIZE, "%s", kv[i].key);
            found = true;
        }
        *admins += keys_token_decode(kv[i].value, kv[i].value_len, &rec, NULL) == 0 &&
                   rec.role == KEYS_ROLE_ADMIN;
    }
    store_release(snap);
    return found;
}

/* The last admin token is kept: revoking it would lock everyone out of the API
 * (a new one then needs etcd itself: dokkaacfg init). */
static enum MHD_Result api_revoke_token(builder_req *r, const char *id)
{
    char key[KEYS_SIZE];
    int admins;
    etcd_kvs gone;
    err_t err;
    if (strlen(id) != TOKEN_ID_LEN || strspn(id, "0123456789abcdef") != TOKEN_ID_LEN)
        return reply_error(r, 400, "token id: must be %d hex digits (as token ls shows), got "
                                   "\"%s\"", TOKEN_ID_LEN, id);
    if (!api_find_token(r, id, key, &admins))
        return reply_error(r, 404, "no token %s", id);
    if (admins <= 1 && strcmp(id, r->token_id) == 0)
        return reply_error(r, 409, "token %s is the last admin token; create another first", id);
    if (!request_etcd(r, &err) || etcd_delete(r->etcd, key, false, &gone, &err) < 0)
        return reply_etcd_failed(r, &err);
    int64_t revision = gone.revision;
    etcd_kvs_free(&gone);
    log_info("token %s revoked by %s", id, r->token_id);
    return reply_written(r, 200, json_pack("{s:s,s:b}", "id", id, "revoked", 1), revision);
}

/* ---- routing ---------------------------------------------------------------- */

/* /apps/<app>/<name>/instances/<i>/logs: i as written, 0..MANIFEST_MAX_SCALE-1. */
static enum MHD_Result api_logs(builder_req *r, const api_path *p)
{
    char *end;
    long i = strtol(p->seg[4], &end, 10);
    if (!*p->seg[4] || *end || i < 0 || i >= MANIFEST_MAX_SCALE || p->seg[4][0] == '+' ||
        (p->seg[4][0] == '0' && p->seg[4][1]))
        return reply_error(r, 400, "instance: must be a number 0..%d, got \"%s\"",
                           MANIFEST_MAX_SCALE - 1, p->seg[4]);
    if (!api_is(r, "GET"))
        return api_not_allowed(r, "GET");
    return logs_handle(r, p->seg[1], p->seg[2], (int)i);
}

static enum MHD_Result api_manifest_routes(builder_req *r, const api_path *p)
{
    const char *app = p->seg[1], *name = p->seg[2];
    if (p->n == 3) {
        if (api_is(r, "GET"))
            return api_get_manifest(r, app, name);
        if (api_is(r, "PUT"))
            return api_put_manifest(r, app, name);
        if (api_is(r, "DELETE"))
            return api_delete_manifest(r, app, name);
        return api_not_allowed(r, "GET, PUT, DELETE");
    }
    if (p->n == 4 && strcmp(p->seg[3], "scale") == 0)
        return api_is(r, "PUT") ? api_scale(r, app, name) : api_not_allowed(r, "PUT");
    if (p->n == 4 && strcmp(p->seg[3], "instances") == 0)
        return api_is(r, "GET") ? api_get_instances(r, app, name) : api_not_allowed(r, "GET");
    if (p->n == 4 && strcmp(p->seg[3], "revisions") == 0)
        return api_is(r, "GET") ? revisions_get(r, app, name) : api_not_allowed(r, "GET");
    if (p->n == 4 && strcmp(p->seg[3], "rollback") == 0)
        return api_is(r, "POST") ? api_rollback(r, app, name) : api_not_allowed(r, "POST");
    if (p->n == 6 && strcmp(p->seg[3], "instances") == 0 && strcmp(p->seg[5], "logs") == 0)
        return api_logs(r, p);
    return reply_error(r, 404, "no such API path: %s", r->url);
}

static enum MHD_Result api_apps_routes(builder_req *r, const api_path *p)
{
    enum MHD_Result ret;
    if (p->n == 1)
        return api_is(r, "GET") ? api_get_apps(r) : api_not_allowed(r, "GET");
    if (!api_names_ok(r, p, 2, &ret))
        return ret;
    if (p->n == 2) {
        if (api_is(r, "GET"))
            return api_get_app(r, p->seg[1]);
        if (api_is(r, "DELETE"))
            return api_delete_app(r, p->seg[1]);
        return api_not_allowed(r, "GET, DELETE");
    }
    return api_manifest_routes(r, p);
}

static enum MHD_Result api_tokens_routes(builder_req *r, const api_path *p)
{
    enum MHD_Result ret;
    if (!auth_allow_tokens(r, &ret))
        return ret;
    if (p->n == 1) {
        if (api_is(r, "GET"))
            return api_get_list(r, "tokens", view_tokens);
        if (api_is(r, "POST"))
            return api_create_token(r);
        return api_not_allowed(r, "GET, POST");
    }
    if (p->n == 2)
        return api_is(r, "DELETE") ? api_revoke_token(r, p->seg[1]) : api_not_allowed(r, "DELETE");
    return reply_error(r, 404, "no such API path: %s", r->url);
}

/* A top-level collection that only reads: hosts, services, links. */
static const struct api_list {
    const char *path, *field;
    json_t *(*view)(const store_snap *);
} api_lists[] = {
    {"hosts", "hosts", view_hosts},
    {"services", "services", view_services},
    {"links", "links", view_links},
};

enum MHD_Result api_handle(builder_req *r, const char *path)
{
    api_path p;
    size_t len;
    const char *type;
    if (!api_split(path, &p))
        return reply_error(r, 404, "no such API path: %s", r->url);
    if (p.nul)
        return reply_error(r, 400, "the path holds a NUL (%%00), which no name may");
    const char *top = p.seg[0];
    if (strcmp(top, "apps") == 0)
        return api_apps_routes(r, &p);
    if (strcmp(top, "tokens") == 0)
        return api_tokens_routes(r, &p);
    if (p.n > 1)
        return reply_error(r, 404, "no such API path: %s", r->url);
    if (!api_is(r, "GET"))
        return api_not_allowed(r, "GET");
    for (size_t i = 0; i < sizeof api_lists / sizeof *api_lists; i++)
        if (strcmp(top, api_lists[i].path) == 0)
            return api_get_list(r, api_lists[i].field, api_lists[i].view);
    if (strcmp(top, "instances") == 0)
        return api_get_instances(r, NULL, NULL);
    if (strcmp(top, "whoami") == 0)
        return api_whoami(r);
    if (strcmp(top, "events") == 0)
        return events_handle(r);
    const char *doc = strcmp(top, "openapi.json") == 0 ? assets_find("openapi.json", &len, &type) : NULL;
    if (doc)
        return reply_text(r, 200, type, doc, len);
    return reply_error(r, 404, "no such API path: %s", r->url);
}
