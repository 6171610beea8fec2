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
#include <stddef.h>
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

const char *keys_alive_key(char *key, const char *host)
{
    return keys_format(key, KEYS_ALIVES "%s", host);
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

const char *keys_rollout_key(char *key, const char *app, const char *name)
{
    return keys_format(key, KEYS_APPS "%s/%s/rollout", app, name);
}

const char *keys_author_key(char *key, const char *app, const char *name)
{
    return keys_format(key, KEYS_APPS "%s/%s/author", app, name);
}

/* A revision outside 1..KEYS_MAX_REVISION gives "" too: its key would not parse. */
const char *keys_revision_key(char *key, const char *app, const char *name, int revision)
{
    if (revision < 1 || revision > KEYS_MAX_REVISION) {
        key[0] = '\0';
        return key;
    }
    return keys_format(key, KEYS_REVISIONS "%s/%s/%d", app, name, revision);
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

const char *keys_revisions_prefix(char *key, const char *app, const char *name)
{
    return name ? keys_format(key, KEYS_REVISIONS "%s/%s/", app, name)
                : keys_format(key, KEYS_REVISIONS "%s/", app);
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

/* A number ending the key as the builders write it (an instance, a revision): no
 * sign, no leading zero, in min..max (max has at most 9 digits, so atoi cannot
 * overflow). "%d" would take "01" and "+1" too, keys that nobody could delete by the
 * name it writes. */
static int keys_decimal(keys_walk *w, const char *what, int min, int max, int *out)
{
    const char *s = w->p;
    size_t len = strspn(s, "0123456789");
    if (len == 0 || s[len] != '\0' || (s[0] == '0' && len > 1) || len > 9 || atoi(s) < min ||
        atoi(s) > max)
        return keys_bad(w, "%s: must be a number %d..%d without sign or leading zero", what,
                        min, max);
    *out = atoi(s);
    w->p += len;
    return 0;
}

static int keys_number(keys_walk *w, int *instance)
{
    return keys_decimal(w, "instance", 0, MANIFEST_MAX_SCALE - 1, instance);
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

/* /apps/<app>/<name>/{manifest,rollout,author} | /apps/<app>/<name>/instances/<i> */
static int keys_parse_apps(keys_walk *w, keys_key *k)
{
    static const char shape[] = "not a manifest key (/apps/<app>/<name>/manifest) nor a "
                                "rollout, author or placement key (/apps/<app>/<name>/rollout, "
                                "/apps/<app>/<name>/author, /apps/<app>/<name>/instances/<i>)";
    static const struct {
        const char *rest;
        enum keys_kind kind;
    } whole[] = {{"/manifest", KEYS_MANIFEST}, {"/rollout", KEYS_ROLLOUT}, {"/author", KEYS_AUTHOR}};
    if (keys_app_and(w, k, "container name", k->name, shape) < 0)
        return -1;
    for (size_t i = 0; i < sizeof whole / sizeof whole[0]; i++)
        if (strcmp(w->p, whole[i].rest) == 0) { /* the whole rest: not a prefix of it */
            w->p += strlen(w->p);
            k->kind = whole[i].kind;
            return 0;
        }
    return keys_instance_end(w, k, "/instances/", KEYS_INSTANCE, shape);
}

/* /revisions/<app>/<name>/<n> */
static int keys_parse_revision(keys_walk *w, keys_key *k)
{
    static const char shape[] = "expected /revisions/<app>/<name>/<n>";
    if (keys_app_and(w, k, "container name", k->name, shape) < 0)
        return -1;
    if (!keys_skip(w, "/"))
        return keys_bad(w, "%s", shape);
    if (keys_decimal(w, "revision", 1, KEYS_MAX_REVISION, &k->revision) < 0)
        return -1;
    k->kind = KEYS_REVISION;
    return 0;
}

/* /status/<app>/<name>/<i> */
static int keys_parse_status(keys_walk *w, keys_key *k)
{
    static const char shape[] = "expected /status/<app>/<name>/<i>";
    if (keys_app_and(w, k, "container name", k->name, shape) < 0)
        return -1;
    return keys_instance_end(w, k, "/", KEYS_STATUS, shape);
}

/* Whether container is a name names_container gives an instance of app: "<app>---<name>"
 * (instance 0) or "<app>---<name>---<i>" (i in 1..MANIFEST_MAX_SCALE-1, canonical); or
 * names_next's, the same with NAMES_NEXT_SUFFIX once (a start-first rollout's next
 * container publishes its services too). */
static bool keys_container_of(const char *container, const char *app)
{
    char base[KEYS_CONTAINER_SIZE];
    size_t len = strlen(container), slen = strlen(NAMES_NEXT_SUFFIX), alen = strlen(app);
    if (len >= sizeof base)
        return false;
    memcpy(base, container, len + 1);
    if (len > slen && strcmp(base + len - slen, NAMES_NEXT_SUFFIX) == 0)
        base[len - slen] = '\0'; /* what is left must be names_container's: one suffix */
    if (strncmp(base, app, alen) != 0 || strncmp(base + alen, "---", 3) != 0)
        return false;
    const char *name = base + alen + 3, *sep = strstr(name, "---");
    size_t nlen = sep ? (size_t)(sep - name) : strlen(name);
    if (names_label_reason(name, nlen))
        return false; /* a label has no "--", so the first "---" ends the name */
    if (!sep)
        return true;
    const char *i = sep + 3;
    size_t digits = strspn(i, "0123456789");
    return digits >= 1 && digits <= 3 && !i[digits] && i[0] != '0';
}

/* /services/<app>/<service>/<container>@<host>, the container one of the app's. */
static int keys_parse_service(keys_walk *w, keys_key *k)
{
    static const char shape[] = "expected /services/<app>/<service>/<container>@<host>";
    if (keys_app_and(w, k, "service name", k->service, shape) < 0)
        return -1;
    if (!keys_skip(w, "/"))
        return keys_bad(w, "%s", shape);
    size_t len = keys_take(w, "@/", k->container, sizeof k->container);
    if (len >= sizeof k->container || !keys_container_of(k->container, k->app))
        return keys_bad(w, "container: must be <app>---<name>[---<i>][" NAMES_NEXT_SUFFIX
                           "] of app \"%s\"", k->app);
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
    else if (keys_skip(&w, KEYS_ALIVES))
        rc = keys_host_segment(&w, k->host) < 0 || keys_end(&w, "expected /alive/<host>") < 0
                 ? -1 : (k->kind = KEYS_ALIVE, 0);
    else if (keys_skip(&w, KEYS_STATUSES))
        rc = keys_parse_status(&w, k);
    else if (keys_skip(&w, KEYS_SERVICES))
        rc = keys_parse_service(&w, k);
    else if (keys_skip(&w, KEYS_LINKS))
        rc = keys_parse_link(&w, k);
    else if (keys_skip(&w, KEYS_TOKENS))
        rc = keys_parse_token(&w, k);
    else if (keys_skip(&w, KEYS_REVISIONS))
        rc = keys_parse_revision(&w, k);
    else if (strcmp(key, KEYS_LEADER_KEY) == 0)
        rc = 0, k->kind = KEYS_LEADER;
    else if (strcmp(key, KEYS_REBALANCE_KEY) == 0)
        rc = 0, k->kind = KEYS_REBALANCE;
    else
        rc = keys_bad(&w, "not a key of Dokkaa's (/apps/, /hosts/, /alive/, /status/, /services/, "
                          "/links/, /cluster/, /tokens/, /revisions/)");
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

/* ---- records ----------------------------------------------------------------------
 *
 * Each record is a table of its fields, in the order they are written; one decoder
 * and one encoder walk the tables. A new field of a record is one line here. */

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
    else {
        char quoted[128] = "nothing";
        if (text)
            names_quote(text, strlen(text), quoted, sizeof quoted);
        return err_set(err, ERR_INVALID, "role: must be \"admin\" or \"read-only\", got %s", quoted);
    }
    return 0;
}

static const char *const keys_health_names[] = {
    [KEYS_HEALTH_NONE] = "",
    [KEYS_HEALTH_STARTING] = "starting",
    [KEYS_HEALTH_HEALTHY] = "healthy",
    [KEYS_HEALTH_UNHEALTHY] = "unhealthy",
};
#define KEYS_NHEALTHS (sizeof keys_health_names / sizeof keys_health_names[0])

const char *keys_health_name(enum keys_health health)
{
    return (size_t)health < KEYS_NHEALTHS ? keys_health_names[health] : "";
}

/* The health named text (never none: a record without a health check has no field). */
static int keys_health_parse(const char *text, enum keys_health *health)
{
    for (size_t i = KEYS_HEALTH_STARTING; text && i < KEYS_NHEALTHS; i++)
        if (strcmp(text, keys_health_names[i]) == 0) {
            *health = (enum keys_health)i;
            return 0;
        }
    return -1;
}

static const char *const keys_outcome_names[] = {
    [KEYS_OUTCOME_ROLLING] = "rolling",         [KEYS_OUTCOME_ROLLED_OUT] = "rolled-out",
    [KEYS_OUTCOME_ROLLED_BACK] = "rolled-back", [KEYS_OUTCOME_PAUSED] = "paused",
    [KEYS_OUTCOME_FAILED] = "failed",           [KEYS_OUTCOME_SUPERSEDED] = "superseded",
};
#define KEYS_NOUTCOMES (sizeof keys_outcome_names / sizeof keys_outcome_names[0])
#define KEYS_OUTCOME_LIST \
    "\"rolling\", \"rolled-out\", \"rolled-back\", \"paused\", \"failed\" or \"superseded\""

/* "unknown" for a value out of the enum, which no decoder accepts. */
const char *keys_outcome_name(enum keys_outcome outcome)
{
    return (size_t)outcome < KEYS_NOUTCOMES ? keys_outcome_names[outcome] : "unknown";
}

int keys_outcome_parse(const char *text, enum keys_outcome *outcome, err_t *err)
{
    for (size_t i = 0; text && i < KEYS_NOUTCOMES; i++)
        if (strcmp(text, keys_outcome_names[i]) == 0) {
            *outcome = (enum keys_outcome)i;
            return 0;
        }
    char quoted[128] = "nothing";
    if (text)
        names_quote(text, strlen(text), quoted, sizeof quoted);
    return err_set(err, ERR_INVALID, "outcome: must be " KEYS_OUTCOME_LIST ", got %s", quoted);
}

/* A manifest hash as keys.h's records hold it: 16 lower-case hex digits, exactly. */
static bool keys_is_hash(const char *s)
{
    return strlen(s) == KEYS_HASH_SIZE - 1 && strspn(s, "0123456789abcdef") == KEYS_HASH_SIZE - 1;
}

enum keys_type {
    KEYS_T_STRING,  /* char[size]; a longer value is refused */
    KEYS_T_TEXT,    /* char[size]; a longer value is cut on a character (it is for people) */
    KEYS_T_HOST,    /* char[KEYS_NAME_SIZE], a host id (keys_check_host) */
    KEYS_T_HASH,    /* char[KEYS_HASH_SIZE], a manifest hash (keys_is_hash); "" only as an
                     * omitted field: present, it is 16 lower-case hex digits */
    KEYS_T_INT,     /* int or long long (size), min..max */
    KEYS_T_BOOL,    /* bool, JSON true or false (with KEYS_OMIT_EMPTY false is not written) */
    KEYS_T_STATE,   /* enum keys_state, by its name */
    KEYS_T_HEALTH,  /* enum keys_health, by its name; none is only an omitted field */
    KEYS_T_OUTCOME, /* enum keys_outcome, by its name */
    KEYS_T_ROLE,    /* enum keys_role, "admin" or "read-only" */
    KEYS_T_LABELS,  /* always {} for now: written, not read */
    KEYS_T_ALLOC,   /* char *, a string of at most max bytes that the decoder strdup()s
                     * (keys_free_fields frees it); encoded from NULL as "" */
};

#define KEYS_REQUIRED 1u   /* decoding: a record without it is refused */
#define KEYS_OMIT_EMPTY 2u /* encoding: "" or 0 is not written */
#define KEYS_NONEMPTY 4u   /* decoding: "" is refused */

typedef struct keys_field {
    const char *name;
    enum keys_type type;
    unsigned flags;
    size_t offset, size;
    long long min, max;
} keys_field;

/* A field of struct rec, of a type that has no range (a string, an enum)... */
#define KEYS_FIELD(rec, field, type, flags) \
    {#field, type, flags, offsetof(rec, field), sizeof((rec *)0)->field, 0, 0}
/* ... or an integer in min..max. */
#define KEYS_NUM(rec, field, flags, min, max) \
    {#field, KEYS_T_INT, flags, offsetof(rec, field), sizeof((rec *)0)->field, min, max}
/* ... or a string the decoder allocates, of at most max bytes. */
#define KEYS_ALLOC(rec, field, flags, max) \
    {#field, KEYS_T_ALLOC, flags, offsetof(rec, field), sizeof((rec *)0)->field, 0, max}
#define KEYS_NFIELDS(table) (sizeof table / sizeof table[0])

/* Fields of the records, in the order they are written. A field added to an existing
 * record is KEYS_OMIT_EMPTY, so that a record without it keeps its bytes (the unit
 * test holds the old ones); it goes in name order in a sorted table, else last. */
static const keys_field keys_placement_fields[] = {
    KEYS_FIELD(keys_placement, host, KEYS_T_HOST, KEYS_REQUIRED),
    KEYS_FIELD(keys_placement, from, KEYS_T_HOST, KEYS_OMIT_EMPTY),
    KEYS_NUM(keys_placement, since, KEYS_OMIT_EMPTY, 0, INT64_MAX),
    KEYS_FIELD(keys_placement, hash, KEYS_T_HASH, KEYS_OMIT_EMPTY),
    KEYS_NUM(keys_placement, changed, KEYS_OMIT_EMPTY, 0, INT64_MAX),
};
/* sorted by name: the bytes of the versions that wrote it with JSON_SORT_KEYS */
static const keys_field keys_status_fields[] = {
    KEYS_FIELD(keys_status, container, KEYS_T_STRING, KEYS_REQUIRED),
    KEYS_FIELD(keys_status, error, KEYS_T_TEXT, KEYS_OMIT_EMPTY),
    KEYS_FIELD(keys_status, hash, KEYS_T_HASH, KEYS_OMIT_EMPTY),
    KEYS_FIELD(keys_status, health, KEYS_T_HEALTH, KEYS_OMIT_EMPTY),
    KEYS_FIELD(keys_status, host, KEYS_T_HOST, KEYS_REQUIRED),
    KEYS_FIELD(keys_status, since, KEYS_T_STRING, 0),
    KEYS_FIELD(keys_status, state, KEYS_T_STATE, KEYS_REQUIRED),
};
static const keys_field keys_service_fields[] = {
    KEYS_FIELD(keys_service, addr, KEYS_T_STRING, KEYS_REQUIRED | KEYS_NONEMPTY),
    KEYS_NUM(keys_service, port, KEYS_REQUIRED, 1, 65535),
};
static const keys_field keys_host_fields[] = {
    KEYS_FIELD(keys_host, addr, KEYS_T_STRING, KEYS_REQUIRED),
    KEYS_NUM(keys_host, cpus, 0, 0, 1 << 20),
    KEYS_NUM(keys_host, memory, 0, 0, INT64_MAX),
    {"labels", KEYS_T_LABELS, 0, 0, 0, 0, 0},
    KEYS_FIELD(keys_host, version, KEYS_T_STRING, 0),
    KEYS_FIELD(keys_host, started, KEYS_T_STRING, 0),
};
static const keys_field keys_link_fields[] = {
    KEYS_NUM(keys_link, port, KEYS_REQUIRED, 1, 65535),
};
static const keys_field keys_alive_fields[] = {
    KEYS_NUM(keys_alive, term, KEYS_REQUIRED, 1, INT64_MAX),
};
static const keys_field keys_leader_fields[] = {
    KEYS_FIELD(keys_leader, host, KEYS_T_HOST, KEYS_REQUIRED),
};
static const keys_field keys_rebalance_fields[] = {
    KEYS_NUM(keys_rebalance, requested, 0, 0, INT64_MAX),
};
static const keys_field keys_token_fields[] = {
    KEYS_FIELD(keys_token, id, KEYS_T_STRING, KEYS_REQUIRED),
    KEYS_FIELD(keys_token, name, KEYS_T_STRING, KEYS_REQUIRED),
    KEYS_FIELD(keys_token, role, KEYS_T_ROLE, KEYS_REQUIRED),
    KEYS_FIELD(keys_token, created, KEYS_T_STRING, 0),
};
static const keys_field keys_rollout_fields[] = {
    KEYS_NUM(keys_rollout, revision, KEYS_REQUIRED, 1, KEYS_MAX_REVISION),
    KEYS_FIELD(keys_rollout, hash, KEYS_T_HASH, KEYS_REQUIRED),
    KEYS_FIELD(keys_rollout, stable, KEYS_T_HASH, KEYS_OMIT_EMPTY),
    KEYS_FIELD(keys_rollout, state, KEYS_T_OUTCOME, KEYS_REQUIRED),
    KEYS_FIELD(keys_rollout, rollback, KEYS_T_BOOL, KEYS_OMIT_EMPTY),
    KEYS_NUM(keys_rollout, updated, 0, 0, MANIFEST_MAX_SCALE),
    KEYS_NUM(keys_rollout, failed, 0, 0, MANIFEST_MAX_SCALE),
    KEYS_NUM(keys_rollout, total, 0, 0, MANIFEST_MAX_SCALE),
    KEYS_NUM(keys_rollout, since, 0, 0, INT64_MAX),
    KEYS_FIELD(keys_rollout, reason, KEYS_T_TEXT, KEYS_OMIT_EMPTY),
};
static const keys_field keys_author_fields[] = {
    KEYS_FIELD(keys_author, by, KEYS_T_TEXT, KEYS_REQUIRED | KEYS_NONEMPTY),
    KEYS_FIELD(keys_author, hash, KEYS_T_HASH, KEYS_REQUIRED),
};
/* The manifest last: the short fields read first in etcdctl's output. */
static const keys_field keys_revision_fields[] = {
    KEYS_NUM(keys_revision, revision, KEYS_REQUIRED, 1, KEYS_MAX_REVISION),
    KEYS_FIELD(keys_revision, hash, KEYS_T_HASH, KEYS_REQUIRED),
    KEYS_FIELD(keys_revision, by, KEYS_T_TEXT, KEYS_REQUIRED | KEYS_NONEMPTY),
    KEYS_FIELD(keys_revision, at, KEYS_T_STRING, 0),
    KEYS_FIELD(keys_revision, outcome, KEYS_T_OUTCOME, KEYS_REQUIRED),
    KEYS_FIELD(keys_revision, reason, KEYS_T_TEXT, KEYS_OMIT_EMPTY),
    KEYS_ALLOC(keys_revision, manifest, KEYS_REQUIRED, MANIFEST_MAX_BYTES),
};

/* Free the KEYS_T_ALLOC fields of record (NULL after), the others left as they are. */
static void keys_free_fields(const keys_field *fields, size_t n, void *record)
{
    for (size_t i = 0; i < n; i++)
        if (fields[i].type == KEYS_T_ALLOC) {
            char **p = (char **)(void *)((char *)record + fields[i].offset);
            free(*p);
            *p = NULL;
        }
}

/* ---- decoding ---- */

/* Say what is wrong with field f, quoting the value found (cut, never mid-character). */
static int keys_wrong(const char *what, const keys_field *f, const char *expected,
                      const json_t *v, err_t *err)
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
    return err_set(err, ERR_INVALID, "%s: %s: must be %s, got %s", what, f->name, expected, got);
}

/* A string value without NUL bytes inside, or NULL. */
static const char *keys_text_of(const json_t *v)
{
    const char *s = json_string_value(v);
    return s && strlen(s) == json_string_length(v) ? s : NULL;
}

/* Decode field f from v (present) into out. */
static int keys_decode_field(const char *what, const keys_field *f, const json_t *v, char *out,
                             err_t *err)
{
    const char *s = keys_text_of(v);
    char expected[96];
    switch (f->type) {
    case KEYS_T_STRING:
        snprintf(expected, sizeof expected, "a string of at most %zu bytes", f->size - 1);
        if (!s || strlen(s) >= f->size || ((f->flags & KEYS_NONEMPTY) && !*s))
            return keys_wrong(what, f, (f->flags & KEYS_NONEMPTY) && s && !*s ? "not empty" : expected,
                              v, err);
        memcpy(out, s, strlen(s) + 1);
        return 0;
    case KEYS_T_TEXT: {
        if (!s || ((f->flags & KEYS_NONEMPTY) && !*s))
            return keys_wrong(what, f, s ? "not empty" : "a string", v, err);
        size_t keep = strlen(s) < f->size ? strlen(s) : names_utf8_cut(s, f->size - 1);
        memcpy(out, s, keep);
        out[keep] = '\0';
        return 0;
    }
    case KEYS_T_HOST:
        if (!s || strlen(s) >= f->size || keys_check_host(s, NULL) < 0)
            return keys_wrong(what, f, "a host id", v, err);
        memcpy(out, s, strlen(s) + 1);
        return 0;
    case KEYS_T_HASH:
        if (!s || strlen(s) >= f->size || !keys_is_hash(s))
            return keys_wrong(what, f, "16 lower-case hex digits", v, err);
        memcpy(out, s, strlen(s) + 1);
        return 0;
    case KEYS_T_BOOL:
        if (!json_is_boolean(v))
            return keys_wrong(what, f, "true or false", v, err);
        *(bool *)(void *)out = json_is_true(v);
        return 0;
    case KEYS_T_INT: {
        json_int_t n = json_integer_value(v);
        snprintf(expected, sizeof expected, "an integer %lld..%lld", f->min, f->max);
        if (!json_is_integer(v) || n < f->min || n > f->max)
            return keys_wrong(what, f, expected, v, err);
        if (f->size == sizeof(int))
            *(int *)(void *)out = (int)n;
        else
            *(long long *)(void *)out = n;
        return 0;
    }
    case KEYS_T_STATE: {
        err_t why;
        if (keys_state_parse(s, (enum keys_state *)(void *)out, &why) < 0)
            return err_set(err, ERR_INVALID, "%s: %s", what, why.msg);
        return 0;
    }
    case KEYS_T_HEALTH:
        if (keys_health_parse(s, (enum keys_health *)(void *)out) < 0)
            return keys_wrong(what, f, "\"starting\", \"healthy\" or \"unhealthy\"", v, err);
        return 0;
    case KEYS_T_OUTCOME:
        if (keys_outcome_parse(s, (enum keys_outcome *)(void *)out, NULL) < 0)
            return keys_wrong(what, f, KEYS_OUTCOME_LIST, v, err);
        return 0;
    case KEYS_T_ROLE: {
        enum keys_role *role = (enum keys_role *)(void *)out;
        if (keys_role_parse(s, role, NULL) < 0 || *role == KEYS_ROLE_ANONYMOUS)
            return keys_wrong(what, f, "\"admin\" or \"read-only\"", v, err);
        return 0;
    }
    case KEYS_T_LABELS:
        return 0;
    case KEYS_T_ALLOC: {
        snprintf(expected, sizeof expected, "a string of at most %lld bytes", f->max);
        if (!s || (long long)strlen(s) > f->max)
            return keys_wrong(what, f, expected, v, err);
        char *copy = strdup(s);
        if (!copy)
            return err_sys(err, "%s: %s", what, f->name);
        *(char **)(void *)out = copy;
        return 0;
    }
    }
    return 0;
}

/* Decode json into record (size bytes) by its table. The record is zeroed first
 * (equal values are equal bytes), and again on failure (nothing half-read is used,
 * nothing stays allocated). Zeroed first: an allocated field of a record decoded
 * before is the caller's to free (keys_revision_free) before decoding into it again. */
static int keys_decode(const char *what, const keys_field *fields, size_t n, const char *json,
                       size_t len, void *record, size_t size, err_t *err)
{
    json_error_t jerr;
    int rc = 0;
    memset(record, 0, size);
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!root)
        return err_set(err, ERR_INVALID, "%s: not JSON (line %d, column %d)", what, jerr.line,
                       jerr.column);
    if (!json_is_object(root))
        rc = err_set(err, ERR_INVALID, "%s: must be a JSON object", what);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const json_t *v = json_object_get(root, fields[i].name);
        if (v)
            rc = keys_decode_field(what, &fields[i], v, (char *)record + fields[i].offset, err);
        else if (fields[i].flags & KEYS_REQUIRED)
            rc = keys_wrong(what, &fields[i],
                            fields[i].type == KEYS_T_HOST   ? "a host id"
                            : fields[i].type == KEYS_T_HASH ? "16 lower-case hex digits"
                                                            : "set",
                            NULL, err);
    }
    json_decref(root);
    if (rc < 0) {
        keys_free_fields(fields, n, record); /* what the fields before the bad one took */
        memset(record, 0, size);
    }
    return rc < 0 ? -1 : 0;
}

/* ---- encoding ---- */

/* Field f of record as JSON; *skip when KEYS_OMIT_EMPTY leaves it out. */
static json_t *keys_encode_field(const keys_field *f, const char *in, bool *skip)
{
    long long n = 0;
    switch (f->type) {
    case KEYS_T_STRING:
    case KEYS_T_TEXT:
    case KEYS_T_HOST:
    case KEYS_T_HASH:
        *skip = (f->flags & KEYS_OMIT_EMPTY) && !*in;
        return *skip ? NULL : json_string(in);
    case KEYS_T_BOOL: {
        bool b = *(const bool *)(const void *)in;
        *skip = (f->flags & KEYS_OMIT_EMPTY) && !b;
        return *skip ? NULL : json_boolean(b);
    }
    case KEYS_T_HEALTH: {
        enum keys_health h = *(const enum keys_health *)(const void *)in;
        *skip = (f->flags & KEYS_OMIT_EMPTY) && h == KEYS_HEALTH_NONE;
        return *skip ? NULL : json_string(keys_health_name(h));
    }
    case KEYS_T_OUTCOME:
        return json_string(keys_outcome_name(*(const enum keys_outcome *)(const void *)in));
    case KEYS_T_ALLOC: {
        const char *s = *(char *const *)(const void *)in;
        *skip = (f->flags & KEYS_OMIT_EMPTY) && (!s || !*s);
        return *skip ? NULL : json_string(s ? s : "");
    }
    case KEYS_T_INT:
        n = f->size == sizeof(int) ? *(const int *)(const void *)in
                                   : *(const long long *)(const void *)in;
        *skip = (f->flags & KEYS_OMIT_EMPTY) && n == 0;
        return *skip ? NULL : json_integer(n);
    case KEYS_T_STATE:
        return json_string(keys_state_name(*(const enum keys_state *)(const void *)in));
    case KEYS_T_ROLE:
        return json_string(keys_role_name(*(const enum keys_role *)(const void *)in));
    case KEYS_T_LABELS:
        return json_object();
    }
    return NULL;
}

/* The compact JSON of record by its table, fields in the table's order (jansson
 * keeps insertion order), so a record's bytes depend only on its values. */
static char *keys_encode(const keys_field *fields, size_t n, const void *record)
{
    json_t *v = json_object();
    char *text = NULL;
    for (size_t i = 0; v && i < n; i++) {
        bool skip = false;
        json_t *field = keys_encode_field(&fields[i], (const char *)record + fields[i].offset, &skip);
        if (!skip && (!field || json_object_set_new(v, fields[i].name, field) < 0))
            goto out;
    }
    text = v ? json_dumps(v, JSON_COMPACT) : NULL;
out:
    json_decref(v);
    return text;
}

/* ---- the codecs ---- */

#define KEYS_CODEC(record, what)                                                          \
    char *keys_##record##_encode(const keys_##record *r)                                  \
    {                                                                                     \
        return keys_encode(keys_##record##_fields, KEYS_NFIELDS(keys_##record##_fields), r); \
    }                                                                                     \
    int keys_##record##_decode(const char *json, size_t len, keys_##record *r, err_t *err) \
    {                                                                                     \
        return keys_decode(what, keys_##record##_fields, KEYS_NFIELDS(keys_##record##_fields), \
                           json, len, r, sizeof *r, err);                                 \
    }

KEYS_CODEC(placement, "placement")
KEYS_CODEC(status, "status")
KEYS_CODEC(service, "service")
KEYS_CODEC(host, "host")
KEYS_CODEC(link, "link")
KEYS_CODEC(alive, "alive")
KEYS_CODEC(leader, "leader")
KEYS_CODEC(token, "token")
KEYS_CODEC(rollout, "rollout")
KEYS_CODEC(author, "author")
/* A revision with a NULL manifest is written with "" (encoders fail only when out of
 * memory), and reads back as an allocated "": a decoded manifest is never NULL. */
KEYS_CODEC(revision, "revision")

void keys_revision_free(keys_revision *r)
{
    if (r)
        keys_free_fields(keys_revision_fields, KEYS_NFIELDS(keys_revision_fields), r);
}

char *keys_rebalance_encode(const keys_rebalance *r)
{
    return keys_encode(keys_rebalance_fields, KEYS_NFIELDS(keys_rebalance_fields), r);
}
