/* keys.c - the cluster's etcd keys and records (see keys.h for the table and the
 * invariants kept here).
 *
 * Keys are built with one snprintf each and parsed by one walk over their
 * segments, checking each with the same rule that names.c gives the user, so
 * that "what a program may write" and "what a program accepts" cannot drift
 * apart. Records go through jansson both ways: a record is small and written
 * rarely (only what changed is written again), so clarity wins over a hand-made
 * formatter here. */
#include "dokkaa/keys.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokkaa/manifest.h"
#include "dokkaa/names.h"

/* ---- building keys --------------------------------------------------------------- */

/* snprintf into key, or "" when the parts do not fit (never a cut key). */
__attribute__((format(printf, 2, 3))) static const char *keys_format(char *key, const char *fmt,
                                                                     ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(key, KEYS_SIZE, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= KEYS_SIZE)
        key[0] = '\0';
    return key;
}

const char *keys_manifest_key(char *key, const char *app, const char *name)
{
    return keys_format(key, KEYS_APPS "%s/%s/manifest", app, name);
}

const char *keys_instance_key(char *key, const char *app, const char *name, int instance)
{
    return keys_format(key, KEYS_APPS "%s/%s/instances/%d", app, name, instance);
}

const char *keys_host_key(char *key, const char *host)
{
    return keys_format(key, KEYS_HOSTS "%s", host);
}

const char *keys_status_key(char *key, const char *app, const char *name, int instance)
{
    return keys_format(key, KEYS_STATUSES "%s/%s/%d", app, name, instance);
}

const char *keys_service_key(char *key, const char *app, const char *service,
                             const char *container, const char *host)
{
    return keys_format(key, KEYS_SERVICES "%s/%s/%s@%s", app, service, container, host);
}

const char *keys_link_key(char *key, const char *app, const char *service)
{
    return keys_format(key, KEYS_LINKS "%s/%s", app, service);
}

const char *keys_token_key(char *key, const char *hash)
{
    return keys_format(key, KEYS_TOKENS "%s", hash);
}

const char *keys_app_prefix(char *key, const char *app)
{
    return keys_format(key, KEYS_APPS "%s/", app);
}

const char *keys_instances_prefix(char *key, const char *app, const char *name)
{
    return keys_format(key, KEYS_APPS "%s/%s/instances/", app, name);
}

const char *keys_status_prefix(char *key, const char *app, const char *name)
{
    return name ? keys_format(key, KEYS_STATUSES "%s/%s/", app, name)
                : keys_format(key, KEYS_STATUSES "%s/", app);
}

const char *keys_services_prefix(char *key, const char *app, const char *service)
{
    return service ? keys_format(key, KEYS_SERVICES "%s/%s/", app, service)
                   : keys_format(key, KEYS_SERVICES "%s/", app);
}

const char *keys_links_prefix(char *key, const char *app)
{
    return keys_format(key, KEYS_LINKS "%s/", app);
}

/* ---- parsing keys ---------------------------------------------------------------- */

int keys_check_host(const char *id, err_t *err)
{
    size_t len = strlen(id);
    const char *reason = NULL;
    if (len == 0)
        reason = "must not be empty";
    else if (len > NAMES_MAX_LABEL)
        reason = "must be at most 63 characters";
    else if (strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != len)
        reason = "must contain only letters, digits, '.', '_' and '-'";
    else if (id[0] == '.' || id[0] == '-')
        reason = "must start with a letter, digit or '_'";
    if (!reason)
        return 0;
    char quoted[128];
    names_quote(id, len, quoted, sizeof quoted);
    return err_set(err, ERR_INVALID, "host id %s: %s", quoted, reason);
}

/* A key being taken apart: the rest to read, and where the error goes. */
typedef struct keys_walk {
    const char *key, *p;
    err_t *err;
} keys_walk;

__attribute__((format(printf, 2, 3))) static int keys_bad(keys_walk *w, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    char quoted[128];
    names_quote(w->key, strlen(w->key), quoted, sizeof quoted);
    return err_set(w->err, ERR_INVALID, "key %s: %s", quoted, why);
}

/* Take the segment up to the next stop character (or the end) into out. */
static size_t keys_take(keys_walk *w, const char *stops, char *out, size_t size)
{
    size_t len = strcspn(w->p, stops);
    if (len < size) {
        memcpy(out, w->p, len);
        out[len] = '\0';
    } else {
        out[0] = '\0';
    }
    w->p += len;
    return len;
}

/* The next segment, a label: app, container or service name. */
static int keys_label(keys_walk *w, const char *what, char out[KEYS_NAME_SIZE])
{
    const char *start = w->p;
    size_t len = keys_take(w, "/", out, KEYS_NAME_SIZE);
    err_t why;
    if (names_check_label_n(what, start, len, &why) < 0)
        return keys_bad(w, "%s", why.msg);
    return 0;
}

static int keys_host_segment(keys_walk *w, char out[KEYS_NAME_SIZE])
{
    size_t len = keys_take(w, "/", out, KEYS_NAME_SIZE);
    err_t why;
    if (len >= KEYS_NAME_SIZE)
        return keys_bad(w, "host id: must be at most 63 characters");
    return keys_check_host(out, &why) < 0 ? keys_bad(w, "%s", why.msg) : 0;
}

/* An instance number as the builders write it: no sign, no leading zero. "%d" would
 * take "01" and "+1" too, keys that nobody could delete by the name it writes. */
static int keys_number(keys_walk *w, int *instance)
{
    const char *s = w->p;
    size_t len = strspn(s, "0123456789");
    if (len == 0 || s[len] != '\0' || (s[0] == '0' && len > 1) || len > 4 ||
        atoi(s) >= MANIFEST_MAX_SCALE)
        return keys_bad(w, "instance: must be a number 0..%d without sign or leading zero",
                        MANIFEST_MAX_SCALE - 1);
    *instance = atoi(s);
    w->p += len;
    return 0;
}

static bool keys_skip(keys_walk *w, const char *literal)
{
    size_t len = strlen(literal);
    if (strncmp(w->p, literal, len) != 0)
        return false;
    w->p += len;
    return true;
}

/* The key must end here; shape is the message when it does not. */
static int keys_end(keys_walk *w, const char *shape)
{
    return *w->p ? keys_bad(w, "%s", shape) : 0;
}

/* "<app>/<second>", the start of every key under an app: second is a container
 * name (what = "container name") or a service name. */
static int keys_app_and(keys_walk *w, keys_key *k, const char *what, char *second,
                        const char *shape)
{
    if (keys_label(w, "app name", k->app) < 0)
        return -1;
    if (!keys_skip(w, "/"))
        return keys_bad(w, "%s", shape);
    return keys_label(w, what, second);
}

/* "<sep><i>" ending the key of an instance (a placement or a status). */
static int keys_instance_end(keys_walk *w, keys_key *k, const char *sep, enum keys_kind kind,
                             const char *shape)
{
    if (!keys_skip(w, sep))
        return keys_bad(w, "%s", shape);
    if (keys_number(w, &k->instance) < 0)
        return -1;
    k->kind = kind;
    return 0;
}

/* /apps/<app>/<name>/manifest | /apps/<app>/<name>/instances/<i> */
static int keys_parse_apps(keys_walk *w, keys_key *k)
{
    static const char shape[] = "not a manifest key (/apps/<app>/<name>/manifest) nor a "
                                "placement key (/apps/<app>/<name>/instances/<i>)";
    if (keys_app_and(w, k, "container name", k->name, shape) < 0)
        return -1;
    if (keys_skip(w, "/manifest") && !*w->p) {
        k->kind = KEYS_MANIFEST;
        return 0;
    }
    return keys_instance_end(w, k, "/instances/", KEYS_INSTANCE, shape);
}

/* /status/<app>/<name>/<i> */
static int keys_parse_status(keys_walk *w, keys_key *k)
{
    static const char shape[] = "expected /status/<app>/<name>/<i>";
    if (keys_app_and(w, k, "container name", k->name, shape) < 0)
        return -1;
    return keys_instance_end(w, k, "/", KEYS_STATUS, shape);
}

/* /services/<app>/<service>/<container>@<host>: the container is "<app>---<name>"
 * or "<app>---<name>---<i>" (names.h), of the key's own app. */
static int keys_parse_service(keys_walk *w, keys_key *k)
{
    static const char shape[] = "expected /services/<app>/<service>/<container>@<host>";
    char prefix[KEYS_NAME_SIZE + 3];
    if (keys_app_and(w, k, "service name", k->service, shape) < 0)
        return -1;
    if (!keys_skip(w, "/"))
        return keys_bad(w, "%s", shape);
    size_t len = keys_take(w, "@/", k->container, sizeof k->container);
    snprintf(prefix, sizeof prefix, "%s---", k->app);
    if (len == 0 || len >= sizeof k->container || strncmp(k->container, prefix, strlen(prefix)) != 0 ||
        strspn(k->container, "abcdefghijklmnopqrstuvwxyz0123456789-") != len)
        return keys_bad(w, "container: must be <app>---<name>[---<i>] of app \"%s\"", k->app);
    if (!keys_skip(w, "@"))
        return keys_bad(w, "%s", shape);
    if (keys_host_segment(w, k->host) < 0 || keys_end(w, shape) < 0)
        return -1;
    k->kind = KEYS_SERVICE;
    return 0;
}

/* /links/<app>/<service> */
static int keys_parse_link(keys_walk *w, keys_key *k)
{
    static const char shape[] = "expected /links/<app>/<service>";
    if (keys_app_and(w, k, "service name", k->service, shape) < 0 || keys_end(w, shape) < 0)
        return -1;
    k->kind = KEYS_LINK;
    return 0;
}

static int keys_parse_token(keys_walk *w, keys_key *k)
{
    size_t len = strspn(w->p, "0123456789abcdef");
    if (len != KEYS_TOKEN_HASH_LEN || w->p[len])
        return keys_bad(w, "expected /tokens/<sha256 in 64 lower-case hex digits>");
    memcpy(k->hash, w->p, len + 1);
    k->kind = KEYS_TOKEN;
    return 0;
}

int keys_parse(const char *key, keys_key *k, err_t *err)
{
    keys_walk w = {.key = key, .p = key, .err = err};
    int rc;
    memset(k, 0, sizeof *k);
    k->instance = -1;
    if (keys_skip(&w, KEYS_APPS))
        rc = keys_parse_apps(&w, k);
    else if (keys_skip(&w, KEYS_HOSTS))
        rc = keys_host_segment(&w, k->host) < 0 || keys_end(&w, "expected /hosts/<host>") < 0
                 ? -1 : (k->kind = KEYS_HOST, 0);
    else if (keys_skip(&w, KEYS_STATUSES))
        rc = keys_parse_status(&w, k);
    else if (keys_skip(&w, KEYS_SERVICES))
        rc = keys_parse_service(&w, k);
    else if (keys_skip(&w, KEYS_LINKS))
        rc = keys_parse_link(&w, k);
    else if (keys_skip(&w, KEYS_TOKENS))
        rc = keys_parse_token(&w, k);
    else if (strcmp(key, KEYS_LEADER_KEY) == 0)
        rc = 0, k->kind = KEYS_LEADER;
    else if (strcmp(key, KEYS_REBALANCE_KEY) == 0)
        rc = 0, k->kind = KEYS_REBALANCE;
    else
        rc = keys_bad(&w, "not a key of Dokkaa's (/apps/, /hosts/, /status/, /services/, "
                          "/links/, /cluster/, /tokens/)");
    if (rc < 0) {
        memset(k, 0, sizeof *k);
        k->instance = -1;
    }
    return rc;
}

bool keys_is(const char *key, enum keys_kind kind, keys_key *k)
{
    keys_key mine;
    keys_key *out = k ? k : &mine;
    return keys_parse(key, out, NULL) == 0 && out->kind == kind;
}

/* ---- records: decoding ----------------------------------------------------------- */

/* A record being decoded: its name for messages, and where the error goes. */
typedef struct keys_rec {
    const char *what;
    json_t *root;
    err_t *err;
} keys_rec;

/* Zero the record (so that equal values are equal bytes), then open json as an
 * object. */
static int keys_open(keys_rec *r, const char *what, const char *json, size_t len, err_t *err,
                     void *record, size_t size)
{
    json_error_t jerr;
    memset(record, 0, size);
    r->what = what;
    r->err = err;
    r->root = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!r->root)
        return err_set(err, ERR_INVALID, "%s: not JSON (line %d, column %d)", what, jerr.line,
                       jerr.column);
    if (!json_is_object(r->root)) {
        json_decref(r->root);
        r->root = NULL;
        return err_set(err, ERR_INVALID, "%s: must be a JSON object", what);
    }
    return 0;
}

static int keys_wrong(keys_rec *r, const char *field, const char *expected, const json_t *v)
{
    char got[128] = "nothing";
    if (json_is_string(v)) {
        names_quote(json_string_value(v), json_string_length(v), got, sizeof got);
    } else if (v) {
        char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        size_t len = text ? strlen(text) : 0;
        /* names_utf8_cut reads text[NAMES_QUOTE_MAX]: only for a text that long */
        size_t keep = len > NAMES_QUOTE_MAX ? names_utf8_cut(text, NAMES_QUOTE_MAX) : len;
        snprintf(got, sizeof got, "%.*s", text ? (int)keep : 7, text ? text : "a value");
        free(text);
    }
    return err_set(r->err, ERR_INVALID, "%s: %s: must be %s, got %s", r->what, field, expected, got);
}

/* A string field into out (size bytes); a missing optional one leaves out "". */
static int keys_string(keys_rec *r, const char *field, bool required, char *out, size_t size)
{
    json_t *v = json_object_get(r->root, field);
    out[0] = '\0';
    if (!v && !required)
        return 0;
    if (!json_is_string(v) || json_string_length(v) >= size ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        char expected[64];
        snprintf(expected, sizeof expected, "a string of at most %zu bytes", size - 1);
        return keys_wrong(r, field, expected, v);
    }
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

/* A string field that must be a host id. */
static int keys_host_field(keys_rec *r, const char *field, bool required, char out[KEYS_NAME_SIZE])
{
    json_t *v = json_object_get(r->root, field);
    if (!v && !required) {
        out[0] = '\0';
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) >= KEYS_NAME_SIZE ||
        keys_check_host(json_string_value(v), NULL) < 0)
        return keys_wrong(r, field, "a host id", v);
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

static int keys_integer(keys_rec *r, const char *field, bool required, long long min,
                        long long max, long long *out)
{
    json_t *v = json_object_get(r->root, field);
    char expected[96];
    *out = 0;
    if (!v && !required)
        return 0;
    if (json_is_integer(v) && json_integer_value(v) >= min && json_integer_value(v) <= max) {
        *out = json_integer_value(v);
        return 0;
    }
    snprintf(expected, sizeof expected, "an integer %lld..%lld", min, max);
    return keys_wrong(r, field, expected, v);
}

/* Close the record; on failure zero the struct, so nothing half-read is used. */
static int keys_close(keys_rec *r, int rc, void *record, size_t size)
{
    json_decref(r->root);
    if (rc < 0)
        memset(record, 0, size);
    return rc < 0 ? -1 : 0;
}

/* ---- records: encoding ----------------------------------------------------------- */

/* Dump and free v; insertion order is kept (jansson >= 2.8), so a record's bytes
 * depend only on its values. */
static char *keys_dump(json_t *v)
{
    char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    return text;
}

/* ---- the records ----------------------------------------------------------------- */

char *keys_placement_encode(const keys_placement *p)
{
    if (!*p->from)
        return keys_dump(json_pack("{s:s}", "host", p->host));
    return keys_dump(json_pack("{s:s,s:s,s:I}", "host", p->host, "from", p->from, "since",
                               (json_int_t)p->since));
}

int keys_placement_decode(const char *json, size_t len, keys_placement *p, err_t *err)
{
    keys_rec r;
    if (keys_open(&r, "placement", json, len, err, p, sizeof *p) < 0)
        return keys_close(&r, -1, p, sizeof *p);
    int rc = keys_host_field(&r, "host", true, p->host) < 0 ||
                     keys_host_field(&r, "from", false, p->from) < 0 ||
                     keys_integer(&r, "since", false, 0, INT64_MAX, &p->since) < 0
                 ? -1 : 0;
    return keys_close(&r, rc, p, sizeof *p);
}

static const char *const keys_state_names[] = {
    [KEYS_STATE_UNKNOWN] = "unknown",       [KEYS_STATE_PENDING] = "pending",
    [KEYS_STATE_CREATED] = "created",       [KEYS_STATE_RUNNING] = "running",
    [KEYS_STATE_PAUSED] = "paused",         [KEYS_STATE_RESTARTING] = "restarting",
    [KEYS_STATE_REMOVING] = "removing",     [KEYS_STATE_EXITED] = "exited",
    [KEYS_STATE_DEAD] = "dead",             [KEYS_STATE_FAILED] = "failed",
    [KEYS_STATE_INVALID] = "invalid",
};
#define KEYS_NSTATES (sizeof keys_state_names / sizeof keys_state_names[0])

const char *keys_state_name(enum keys_state state)
{
    return (size_t)state < KEYS_NSTATES ? keys_state_names[state] : "unknown";
}

int keys_state_parse(const char *text, enum keys_state *state, err_t *err)
{
    for (size_t i = 0; text && i < KEYS_NSTATES; i++)
        if (strcmp(text, keys_state_names[i]) == 0) {
            *state = (enum keys_state)i;
            return 0;
        }
    char quoted[128] = "nothing";
    if (text)
        names_quote(text, strlen(text), quoted, sizeof quoted);
    return err_set(err, ERR_INVALID,
                   "state: must be one of pending, created, running, paused, restarting, "
                   "removing, exited, dead, failed, invalid, unknown; got %s", quoted);
}

char *keys_status_encode(const keys_status *s)
{
    /* the fields in sorted order: the bytes earlier versions wrote (JSON_SORT_KEYS) */
    json_t *v = json_pack("{s:s}", "container", s->container);
    if (v && *s->error)
        json_object_set_new(v, "error", json_string(s->error));
    if (v && (json_object_set_new(v, "host", json_string(s->host)) < 0 ||
              json_object_set_new(v, "since", json_string(s->since)) < 0 ||
              json_object_set_new(v, "state", json_string(keys_state_name(s->state))) < 0)) {
        json_decref(v);
        return NULL;
    }
    return keys_dump(v);
}

int keys_status_decode(const char *json, size_t len, keys_status *s, err_t *err)
{
    keys_rec r;
    char state[32];
    err_t why;
    if (keys_open(&r, "status", json, len, err, s, sizeof *s) < 0)
        return keys_close(&r, -1, s, sizeof *s);
    int rc = keys_host_field(&r, "host", true, s->host) < 0 ||
                     keys_string(&r, "container", true, s->container, sizeof s->container) < 0 ||
                     keys_string(&r, "state", true, state, sizeof state) < 0 ||
                     keys_string(&r, "since", false, s->since, sizeof s->since) < 0
                 ? -1 : 0;
    if (rc == 0 && keys_state_parse(state, &s->state, &why) < 0)
        rc = err_set(err, ERR_INVALID, "status: %s", why.msg);
    /* an error longer than the field is cut (on a character): it is for people */
    json_t *e = json_object_get(r.root, "error");
    if (rc == 0 && e && !json_is_string(e))
        rc = keys_wrong(&r, "error", "a string", e);
    if (rc == 0 && e) {
        size_t keep = json_string_length(e) < sizeof s->error
                          ? json_string_length(e)
                          : names_utf8_cut(json_string_value(e), sizeof s->error - 1);
        memcpy(s->error, json_string_value(e), keep);
        s->error[keep] = '\0';
    }
    return keys_close(&r, rc, s, sizeof *s);
}

char *keys_service_encode(const keys_service *s)
{
    return keys_dump(json_pack("{s:s,s:i}", "addr", s->addr, "port", s->port));
}

int keys_service_decode(const char *json, size_t len, keys_service *s, err_t *err)
{
    keys_rec r;
    long long port = 0;
    if (keys_open(&r, "service", json, len, err, s, sizeof *s) < 0)
        return keys_close(&r, -1, s, sizeof *s);
    int rc = keys_string(&r, "addr", true, s->addr, sizeof s->addr) < 0 ||
                     keys_integer(&r, "port", true, 1, 65535, &port) < 0
                 ? -1 : 0;
    if (rc == 0 && !*s->addr)
        rc = keys_wrong(&r, "addr", "an address", json_object_get(r.root, "addr"));
    s->port = (int)port;
    return keys_close(&r, rc, s, sizeof *s);
}

char *keys_host_encode(const keys_host *h)
{
    return keys_dump(json_pack("{s:s,s:i,s:I,s:{},s:s,s:s}", "addr", h->addr, "cpus", h->cpus,
                               "memory", (json_int_t)h->memory, "labels", "version", h->version,
                               "started", h->started));
}

int keys_host_decode(const char *json, size_t len, keys_host *h, err_t *err)
{
    keys_rec r;
    long long cpus = 0;
    if (keys_open(&r, "host", json, len, err, h, sizeof *h) < 0)
        return keys_close(&r, -1, h, sizeof *h);
    int rc = keys_string(&r, "addr", true, h->addr, sizeof h->addr) < 0 ||
                     keys_integer(&r, "cpus", false, 0, 1 << 20, &cpus) < 0 ||
                     keys_integer(&r, "memory", false, 0, INT64_MAX, &h->memory) < 0 ||
                     keys_string(&r, "version", false, h->version, sizeof h->version) < 0 ||
                     keys_string(&r, "started", false, h->started, sizeof h->started) < 0
                 ? -1 : 0;
    h->cpus = (int)cpus;
    return keys_close(&r, rc, h, sizeof *h);
}

char *keys_link_encode(const keys_link *l)
{
    return keys_dump(json_pack("{s:i}", "port", l->port));
}

int keys_link_decode(const char *json, size_t len, keys_link *l, err_t *err)
{
    keys_rec r;
    long long port = 0;
    if (keys_open(&r, "link", json, len, err, l, sizeof *l) < 0)
        return keys_close(&r, -1, l, sizeof *l);
    int rc = keys_integer(&r, "port", true, 1, 65535, &port);
    l->port = (int)port;
    return keys_close(&r, rc, l, sizeof *l);
}

char *keys_leader_encode(const keys_leader *l)
{
    return keys_dump(json_pack("{s:s}", "host", l->host));
}

int keys_leader_decode(const char *json, size_t len, keys_leader *l, err_t *err)
{
    keys_rec r;
    if (keys_open(&r, "leader", json, len, err, l, sizeof *l) < 0)
        return keys_close(&r, -1, l, sizeof *l);
    return keys_close(&r, keys_host_field(&r, "host", true, l->host), l, sizeof *l);
}

char *keys_rebalance_encode(const keys_rebalance *r)
{
    return keys_dump(json_pack("{s:I}", "requested", (json_int_t)r->requested));
}

const char *keys_role_name(enum keys_role role)
{
    switch (role) {
    case KEYS_ROLE_ADMIN: return "admin";
    case KEYS_ROLE_READ_ONLY: return "read-only";
    default: return "anonymous";
    }
}

int keys_role_parse(const char *text, enum keys_role *role, err_t *err)
{
    if (text && strcmp(text, "admin") == 0)
        *role = KEYS_ROLE_ADMIN;
    else if (text && strcmp(text, "read-only") == 0)
        *role = KEYS_ROLE_READ_ONLY;
    else
        return err_set(err, ERR_INVALID, "role: must be \"admin\" or \"read-only\", got \"%s\"",
                       text ? text : "");
    return 0;
}

char *keys_token_encode(const keys_token *t)
{
    return keys_dump(json_pack("{s:s,s:s,s:s,s:s}", "id", t->id, "name", t->name, "role",
                               keys_role_name(t->role), "created", t->created));
}

int keys_token_decode(const char *json, size_t len, keys_token *t, err_t *err)
{
    keys_rec r;
    char role[32];
    err_t why;
    if (keys_open(&r, "token", json, len, err, t, sizeof *t) < 0)
        return keys_close(&r, -1, t, sizeof *t);
    int rc = keys_string(&r, "id", true, t->id, sizeof t->id) < 0 ||
                     keys_string(&r, "name", true, t->name, sizeof t->name) < 0 ||
                     keys_string(&r, "role", true, role, sizeof role) < 0 ||
                     keys_string(&r, "created", false, t->created, sizeof t->created) < 0
                 ? -1 : 0;
    if (rc == 0 && (keys_role_parse(role, &t->role, &why) < 0 || t->role == KEYS_ROLE_ANONYMOUS))
        rc = err_set(err, ERR_INVALID, "token: role: must be \"admin\" or \"read-only\", got \"%s\"",
                     role);
    return keys_close(&r, rc, t, sizeof *t);
}
