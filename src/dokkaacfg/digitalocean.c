/* digitalocean.c - the DigitalOcean API v2 client of dokkaacfg: SSH keys by name,
 * droplets created, listed and deleted by tag. What each call does, and the pages
 * of DigitalOcean's documentation it follows, are in digitalocean.h; the JSON
 * shapes parsed here are those of the API's OpenAPI specification
 * (github.com/digitalocean/openapi: resources/ssh_keys/responses/sshKeys_all.yml,
 * resources/droplets/models/droplet.yml, models/network_v4.yml,
 * responses/droplet_create.yml, shared/models/error.yml, shared/pages.yml).
 *
 * Trade-offs, in one place:
 * - Paging. A page's links.pages.next is an absolute URL on the API's host. Only
 *   its page number is taken, and asked of our own base URL: the token never goes
 *   to a host that an answer names, and a stand-in on 127.0.0.1 pages the same way.
 *   per_page is the documented maximum, 200, so calls stay few: the API allows only
 *   10 GET /v2/account/keys a minute.
 * - Retries. 429 is retried on every call (the API refused it before doing
 *   anything); 5xx is retried for GET and DELETE only, since a create that failed
 *   on the server's side may still have made droplets: the caller looks them up by
 *   tag instead of risking twice as many. No answer at all (refused, timed out) is
 *   retried twice, for GET and DELETE: a blip passes, a wrong URL fails in
 *   seconds. http.h hands us no response headers, so Retry-After and
 *   ratelimit-reset are not read; the waits double from 1 s to 30 s, 7 retries and
 *   91 s in all: more than the minute of the burst limit's window (and of the 10
 *   key reads a minute).
 * - Strictness. A page that lacks what we use (ids, names, the array itself) or
 *   has it with the wrong type is an error, not a silently shorter list: `down`
 *   deciding from a partial list would leave droplets behind. Fields we do not use
 *   are not looked at, and an unknown status or network type is tolerated.
 * - The token lives in one header line, wiped when the client is freed; error
 *   text is built from the status and DigitalOcean's error object, and scrubbed of
 *   the token in case an answer ever echoed it. */
#include "digitalocean.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokkaa/http.h"
#include "dokkaa/sleep.h"

#define DO_TIMEOUT_MS 60000L     /* a whole request; the API answers in about a second */
#define DO_PER_PAGE 200          /* the documented maximum */
#define DO_PAGES_MAX 1000        /* 200,000 objects: past that it is a loop, not an account */
#define DO_RETRIES 7
#define DO_BACKOFF_FIRST_MS 1000L
#define DO_BACKOFF_MAX_MS 30000L
#define DO_TRANSPORT_RETRIES 2   /* no answer at all: a blip, or a wrong URL not worth a minute */
#define DO_PATH_MAX 1024
#define DO_TAG_MAX 255           /* tag names: ^[a-zA-Z0-9_\-\:]+$, at most 255 */

struct do_api {
    http_client *http;
    char *base;      /* scheme://host[:port][/prefix], no trailing '/' */
    char *auth;      /* "Authorization: Bearer <token>" */
    const char *token; /* inside auth: to scrub it from any message */
    int retries;
    long first_ms;
    long status;     /* of the last answer */
};

/* ---- small helpers --------------------------------------------------------------- */

static int do_oom(err_t *err) { return err_set(err, ERR_SYS, "DigitalOcean: out of memory"); }

/* Copy text from an answer into a message: control bytes become spaces, and what
 * does not fit ends in "...". */
static void do_clean(char *dst, size_t size, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < size; i++)
        dst[i] = ((unsigned char)src[i] < 0x20 || src[i] == 0x7f) ? ' ' : src[i];
    dst[i] = '\0';
    if (src[i] && size > 4)
        memcpy(dst + size - 4, "...", 4);
}

/* Replace the token wherever it appears in the message by "***" (not a token of a
 * few characters, which would mangle words; DigitalOcean's have 71). */
static int do_scrub(const do_api *api, err_t *err)
{
    size_t tlen = strlen(api->token);
    char *at;
    if (!err || tlen < 6)
        return -1;
    while ((at = strstr(err->msg, api->token))) {
        memcpy(at, "***", 3);
        memmove(at + 3, at + tlen, strlen(at + tlen) + 1);
    }
    return -1;
}

static const char *do_reason(long status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
    }
}

static enum err_code do_code_of(long status)
{
    if (status == 400 || status == 422)
        return ERR_INVALID;
    if (status == 404)
        return ERR_NOTFOUND;
    if (status == 409)
        return ERR_CONFLICT;
    if (status == 429 || status >= 500)
        return ERR_UNAVAIL;
    return ERR_REMOTE; /* 401, 403 and the rest: the API said no */
}

int do_error(long status, const char *body, size_t len, err_t *err)
{
    enum err_code code = do_code_of(status);
    json_t *root = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    const char *id = json_string_value(json_object_get(root, "id"));
    const char *msg = json_string_value(json_object_get(root, "message"));
    const char *rid = json_string_value(json_object_get(root, "request_id"));
    char cid[64], cmsg[640], crid[80];

    if (id || msg) {
        do_clean(cid, sizeof cid, id ? id : "");
        do_clean(cmsg, sizeof cmsg, msg ? msg : "(no message)");
        do_clean(crid, sizeof crid, rid ? rid : "");
        err_set(err, code, "DigitalOcean: %ld%s%s: %s%s%s%s", status, id ? " " : "", cid, cmsg,
                rid ? " (request " : "", crid, rid ? ")" : "");
    } else {
        /* Not DigitalOcean's error object: a proxy's page, say. Its start may help. */
        char snippet[160] = "";
        if (body && len) {
            char *copy = strndup(body, len < 1024 ? len : 1024);
            if (copy) {
                do_clean(snippet, sizeof snippet, copy);
                free(copy);
            }
        }
        err_set(err, code, "DigitalOcean: %ld %s%s%s", status, do_reason(status),
                snippet[0] ? ": " : "", snippet);
    }
    json_decref(root);
    return -1;
}

/* A JSON answer not of the documented shape. */
static int do_bad(err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int do_bad(err_t *err, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return err_set(err, ERR_REMOTE, "DigitalOcean: unexpected answer: %s", what);
}

static json_t *do_load(const char *json, size_t len, err_t *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(json ? json : "", json ? len : 0, 0, &jerr);
    if (!root)
        do_bad(err, "not JSON (%s, at line %d)", jerr.text, jerr.line);
    else if (!json_is_object(root)) {
        json_decref(root);
        root = NULL;
        do_bad(err, "not a JSON object");
    }
    return root;
}

/* An optional string member: absent or null is NULL (0), a string is copied,
 * another type is an error. */
static int do_opt_string(const json_t *obj, const char *name, char **out, const char *where,
                         err_t *err)
{
    const json_t *v = json_object_get(obj, name);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return do_bad(err, "%s: \"%s\" is not a string", where, name);
    return (*out = strdup(json_string_value(v))) ? 0 : do_oom(err);
}

static int do_req_string(const json_t *obj, const char *name, char **out, const char *where,
                         err_t *err)
{
    if (do_opt_string(obj, name, out, where, err) < 0)
        return -1;
    return *out ? 0 : do_bad(err, "%s: no \"%s\"", where, name);
}

static int do_req_id(const json_t *obj, int64_t *id, const char *where, err_t *err)
{
    const json_t *v = json_object_get(obj, "id");
    if (!json_is_integer(v) || json_integer_value(v) <= 0)
        return do_bad(err, "%s: \"id\" is %s", where, v ? "not a positive integer" : "missing");
    *id = (int64_t)json_integer_value(v);
    return 0;
}

long do_page_of(const char *url)
{
    size_t at = url ? strcspn(url, "?#") : 0;
    if (!url || url[at] != '?') /* no query; a '?' after the '#' is the fragment's */
        return 0;
    for (const char *q = url + at + 1; *q && *q != '#';) {
        if (strncmp(q, "page=", 5) == 0 && q[5] >= '0' && q[5] <= '9') {
            char *end;
            errno = 0;
            long n = strtol(q + 5, &end, 10);
            bool ends = *end == '\0' || *end == '&' || *end == '#';
            return (errno == 0 && n > 0 && ends) ? n : 0;
        }
        q += strcspn(q, "&#");
        q += *q == '&';
    }
    return 0;
}

/* links.pages.next and meta.total of a collection's page. */
static int do_parse_page(const json_t *root, do_page *page, err_t *err)
{
    const json_t *links = json_object_get(root, "links"), *pages, *next, *meta, *total;
    do_page p = {.next = 0, .total = -1};
    if (links && !json_is_object(links))
        return do_bad(err, "\"links\" is not an object");
    pages = json_object_get(links, "pages");
    if (pages && !json_is_object(pages))
        return do_bad(err, "\"links.pages\" is not an object");
    next = json_object_get(pages, "next");
    if (next && !json_is_string(next))
        return do_bad(err, "\"links.pages.next\" is not a string");
    if (next && !(p.next = do_page_of(json_string_value(next))))
        return do_bad(err, "\"links.pages.next\" has no page number");
    meta = json_object_get(root, "meta");
    if (meta && !json_is_object(meta))
        return do_bad(err, "\"meta\" is not an object");
    total = json_object_get(meta, "total");
    if (total && (!json_is_integer(total) || json_integer_value(total) < 0))
        return do_bad(err, "\"meta.total\" is not a count");
    if (total)
        p.total = (long)json_integer_value(total);
    if (page)
        *page = p;
    return 0;
}

/* ---- keys ------------------------------------------------------------------------- */

void do_key_clear(do_key *key)
{
    if (!key)
        return;
    free(key->name);
    free(key->fingerprint);
    free(key->public_key);
    memset(key, 0, sizeof *key);
}

void do_keys_free(do_keys *keys)
{
    if (!keys)
        return;
    for (size_t i = 0; i < keys->n; i++)
        do_key_clear(&keys->v[i]);
    free(keys->v);
    keys->v = NULL;
    keys->n = 0;
}

static int do_parse_key_obj(const json_t *o, size_t i, do_key *k, err_t *err)
{
    char where[48];
    snprintf(where, sizeof where, "ssh_keys[%zu]", i);
    memset(k, 0, sizeof *k);
    if (!json_is_object(o))
        return do_bad(err, "%s is not an object", where);
    if (do_req_id(o, &k->id, where, err) < 0 || do_req_string(o, "name", &k->name, where, err) < 0 ||
        do_opt_string(o, "fingerprint", &k->fingerprint, where, err) < 0 ||
        do_opt_string(o, "public_key", &k->public_key, where, err) < 0) {
        do_key_clear(k);
        return -1;
    }
    return 0;
}

/* One page of a collection: root[field] is an array whose items parse() fills
 * into elements of elem_size, appended to *vec (*n of them) only if every item
 * parsed; otherwise what was parsed is cleared and *vec keeps earlier pages. */
typedef int (*do_item_fn)(const json_t *item, size_t index, void *elem, err_t *err);
static int do_parse_collection(const char *json, size_t len, const char *field, size_t elem_size,
                               do_item_fn parse, void (*clear)(void *), void **vec, size_t *n,
                               do_page *page, err_t *err)
{
    json_t *root = do_load(json, len, err), *arr;
    char *fresh = NULL, *grown;
    size_t m = 0, got = 0;
    int rc = -1;
    if (!root)
        return -1;
    arr = json_object_get(root, field);
    if (!json_is_array(arr)) {
        do_bad(err, "\"%s\" is %s", field, arr ? "not an array" : "missing");
        goto out;
    }
    if (do_parse_page(root, page, err) < 0)
        goto out;
    m = json_array_size(arr);
    if (m && !(fresh = calloc(m, elem_size))) {
        do_oom(err);
        goto out;
    }
    for (; got < m; got++)
        if (parse(json_array_get(arr, got), got, fresh + got * elem_size, err) < 0)
            goto out;
    if (m && !(grown = realloc(*vec, (*n + m) * elem_size))) {
        do_oom(err);
        goto out;
    }
    if (m) {
        memcpy(grown + *n * elem_size, fresh, m * elem_size);
        *vec = grown;
        *n += m;
        got = 0; /* moved: nothing of fresh is ours to clear */
    }
    rc = 0;
out:
    for (size_t i = 0; i < got; i++)
        clear(fresh + i * elem_size);
    free(fresh);
    json_decref(root);
    return rc;
}

static int do_key_item(const json_t *item, size_t index, void *elem, err_t *err)
{
    return do_parse_key_obj(item, index, elem, err);
}

static void do_key_clear_any(void *k) { do_key_clear(k); }

int do_parse_keys(const char *json, size_t len, do_keys *keys, do_page *page, err_t *err)
{
    void *v = keys->v;
    int rc = do_parse_collection(json, len, "ssh_keys", sizeof *keys->v, do_key_item,
                                 do_key_clear_any, &v, &keys->n, page, err);
    keys->v = v;
    return rc;
}

/* ---- droplets --------------------------------------------------------------------- */

const char *do_status_name(enum do_status s)
{
    switch (s) {
    case DO_STATUS_NEW: return "new";
    case DO_STATUS_ACTIVE: return "active";
    case DO_STATUS_OFF: return "off";
    case DO_STATUS_ARCHIVE: return "archive";
    default: return "unknown";
    }
}

static enum do_status do_status_of(const char *s)
{
    static const enum do_status all[] = {DO_STATUS_NEW, DO_STATUS_ACTIVE, DO_STATUS_OFF,
                                         DO_STATUS_ARCHIVE};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(s, do_status_name(all[i])) == 0)
            return all[i];
    return DO_STATUS_UNKNOWN;
}

void do_droplet_clear(do_droplet *d)
{
    if (!d)
        return;
    free(d->name);
    memset(d, 0, sizeof *d);
}

void do_droplets_free(do_droplets *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->n; i++)
        do_droplet_clear(&list->v[i]);
    free(list->v);
    list->v = NULL;
    list->n = 0;
}

/* networks.v4[]: the first public and the first private address. Other types
 * (none are documented) are skipped; an entry we cannot read is an error. */
static int do_parse_v4(const json_t *o, do_droplet *d, const char *where, err_t *err)
{
    const json_t *nets = json_object_get(o, "networks"), *v4, *net;
    size_t i;
    if (!nets || json_is_null(nets))
        return 0;
    if (!json_is_object(nets))
        return do_bad(err, "%s: \"networks\" is not an object", where);
    v4 = json_object_get(nets, "v4");
    if (!v4 || json_is_null(v4))
        return 0;
    if (!json_is_array(v4))
        return do_bad(err, "%s: \"networks.v4\" is not an array", where);
    json_array_foreach(v4, i, net) {
        const char *ip = json_string_value(json_object_get(net, "ip_address"));
        const char *type = json_string_value(json_object_get(net, "type"));
        struct in_addr addr;
        char *slot;
        if (!ip || !type)
            return do_bad(err, "%s: networks.v4[%zu] lacks a string ip_address or type", where, i);
        if (strlen(ip) >= sizeof d->public_ipv4 || inet_pton(AF_INET, ip, &addr) != 1)
            return do_bad(err, "%s: networks.v4[%zu]: \"%.40s\" is not an IPv4 address", where, i, ip);
        slot = strcmp(type, "public") == 0 ? d->public_ipv4
             : strcmp(type, "private") == 0 ? d->private_ipv4 : NULL;
        if (slot && !slot[0])
            strcpy(slot, ip);
    }
    return 0;
}

static int do_parse_droplet_obj(const json_t *o, const char *where, do_droplet *d, err_t *err)
{
    char *status = NULL;
    memset(d, 0, sizeof *d);
    if (!json_is_object(o))
        return do_bad(err, "%s is not an object", where);
    if (do_req_id(o, &d->id, where, err) < 0 || do_req_string(o, "name", &d->name, where, err) < 0 ||
        do_req_string(o, "status", &status, where, err) < 0 || do_parse_v4(o, d, where, err) < 0) {
        free(status);
        do_droplet_clear(d);
        return -1;
    }
    d->status = do_status_of(status);
    free(status);
    return 0;
}

static int do_droplet_item(const json_t *item, size_t index, void *elem, err_t *err)
{
    char where[48];
    snprintf(where, sizeof where, "droplets[%zu]", index);
    return do_parse_droplet_obj(item, where, elem, err);
}

static void do_droplet_clear_any(void *d) { do_droplet_clear(d); }

int do_parse_droplets(const char *json, size_t len, do_droplets *list, do_page *page, err_t *err)
{
    void *v = list->v;
    int rc = do_parse_collection(json, len, "droplets", sizeof *list->v, do_droplet_item,
                                 do_droplet_clear_any, &v, &list->n, page, err);
    list->v = v;
    return rc;
}

int do_parse_droplet(const char *json, size_t len, do_droplet *d, err_t *err)
{
    json_t *root = do_load(json, len, err), *o;
    int rc = -1;
    memset(d, 0, sizeof *d);
    if (!root)
        return -1;
    o = json_object_get(root, "droplet");
    if (!o)
        do_bad(err, "\"droplet\" is missing");
    else
        rc = do_parse_droplet_obj(o, "droplet", d, err);
    json_decref(root);
    return rc;
}

int do_parse_created(const char *json, size_t len, const char *const names[], size_t n,
                     int64_t ids[], err_t *err)
{
    json_t *root = do_load(json, len, err), *arr, *one;
    do_droplet *got = NULL;
    bool *used = NULL;
    size_t m = 0, parsed = 0, missing = 0;
    const char *first_missing = NULL;
    int rc = -1;
    char where[48];
    for (size_t i = 0; i < n; i++)
        ids[i] = 0;
    if (!root)
        return -1;
    arr = json_object_get(root, "droplets");
    one = json_object_get(root, "droplet");
    if (arr && !json_is_array(arr)) {
        do_bad(err, "\"droplets\" is not an array");
        goto out;
    }
    if (!arr && !one) {
        do_bad(err, "neither \"droplet\" nor \"droplets\" in the answer to a create");
        goto out;
    }
    m = arr ? json_array_size(arr) : 1;
    if (m && (!(got = calloc(m, sizeof *got)) || !(used = calloc(m, sizeof *used)))) {
        do_oom(err);
        goto out;
    }
    for (; parsed < m; parsed++) {
        snprintf(where, sizeof where, arr ? "droplets[%zu]" : "droplet", parsed);
        if (do_parse_droplet_obj(arr ? json_array_get(arr, parsed) : one, where, &got[parsed], err) < 0)
            goto out;
    }
    /* By name first; a name the API spelled otherwise takes the next droplet left,
     * in order, since the API answers in the order of names[]. */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < m && !ids[i]; j++)
            if (!used[j] && strcmp(got[j].name, names[i]) == 0) {
                ids[i] = got[j].id;
                used[j] = true;
            }
    for (size_t i = 0, j = 0; i < n; i++) {
        while (!ids[i] && j < m && used[j])
            j++;
        if (!ids[i] && j < m) {
            ids[i] = got[j].id;
            used[j] = true;
        } else if (!ids[i] && missing++ == 0) {
            first_missing = names[i];
        }
    }
    if (missing) {
        char name[80];
        do_clean(name, sizeof name, first_missing);
        do_bad(err, "%zu droplet(s) asked for but not in the answer to the create, \"%s\" first",
               missing, name);
        goto out;
    }
    rc = 0;
out:
    for (size_t i = 0; i < parsed; i++)
        do_droplet_clear(&got[i]);
    free(got);
    free(used);
    json_decref(root);
    return rc;
}

/* ---- the client and its one way to make a call ------------------------------------ */

do_api *do_api_new(const char *base_url, const char *token, err_t *err)
{
    do_api *api = calloc(1, sizeof *api);
    size_t blen;
    if (!api) {
        do_oom(err);
        goto err;
    }
    if (!base_url || (strncmp(base_url, "http://", 7) != 0 && strncmp(base_url, "https://", 8) != 0)) {
        err_set(err, ERR_INVALID, "DigitalOcean: the API URL must start with http:// or https://");
        goto err;
    }
    if (!token || !*token) {
        err_set(err, ERR_INVALID, "DigitalOcean: no access token given");
        goto err;
    }
    /* A token goes into a header line: anything but visible ASCII would break it
     * (or add a header). Never quote it back. */
    for (const char *c = token; *c; c++)
        if (*c <= ' ' || *c == 0x7f) {
            err_set(err, ERR_INVALID, "DigitalOcean: the access token has a character no "
                                      "token has (a space or a line break, maybe pasted with it)");
            goto err;
        }
    blen = strlen(base_url);
    while (blen > 0 && base_url[blen - 1] == '/')
        blen--;
    if (!(api->base = strndup(base_url, blen)) ||
        asprintf(&api->auth, "Authorization: Bearer %s", token) < 0) {
        api->auth = NULL;
        do_oom(err);
        goto err;
    }
    api->token = api->auth + strlen("Authorization: Bearer ");
    /* the system's CAs, whatever the cluster's TLS settings of this process are */
    if (!(api->http = http_client_new(NULL, err)) || http_client_tls(api->http, NULL, NULL, NULL) < 0)
        goto err;
    api->retries = DO_RETRIES;
    api->first_ms = DO_BACKOFF_FIRST_MS;
    return api;
err:
    do_api_free(api);
    return NULL;
}

void do_api_free(do_api *api)
{
    if (!api)
        return;
    http_client_free(api->http);
    if (api->auth)
        explicit_bzero(api->auth, strlen(api->auth));
    free(api->auth);
    free(api->base);
    free(api);
}

void do_api_set_retry(do_api *api, int retries, long first_ms)
{
    api->retries = retries < 0 ? 0 : retries;
    api->first_ms = first_ms < 1 ? 1 : first_ms;
}

long do_api_status(const do_api *api) { return api->status; }

/* method base+path with an optional JSON body; a 2xx answer's body in *resp (free
 * it), anything else an error (retried first as the header of this file says). */
static int do_call(do_api *api, const char *method, const char *path, const char *body,
                   http_buf *resp, err_t *err)
{
    const char *headers[] = {api->auth, "Accept: application/json",
                             "User-Agent: dokkaacfg/" DOKKAA_VERSION, NULL};
    http_req req = {.method = method, .body = body, .body_len = body ? strlen(body) : 0,
                    .timeout_ms = DO_TIMEOUT_MS, .headers = headers};
    bool idempotent = strcmp(method, "POST") != 0;
    char *url = NULL;
    long wait = api->first_ms;
    int rc = -1;
    if (asprintf(&url, "%s%s", api->base, path) < 0) {
        url = NULL;
        do_oom(err);
        goto out;
    }
    req.url = url;
    for (int attempt = 0;; attempt++) {
        long status = 0;
        int got = http_do(api->http, &req, &status, resp, err);
        api->status = got < 0 ? 0 : status;
        if (got == 0 && status >= 200 && status < 300) {
            rc = 0;
            goto out;
        }
        bool again = got < 0 ? idempotent && attempt < DO_TRANSPORT_RETRIES
                             : (status == 429 || (status >= 500 && idempotent));
        if (!again || attempt >= api->retries) {
            if (got < 0)
                err_prefix(err, "DigitalOcean");
            else
                do_error(status, resp->data, resp->len, err);
            if (attempt > 0 && err) {
                size_t l = strlen(err->msg);
                snprintf(err->msg + l, sizeof err->msg - l, " (after %d retries)", attempt);
            }
            if (got == 0)
                http_buf_free(resp);
            goto out;
        }
        if (got == 0)
            http_buf_free(resp);
        sleep_ms(wait, NULL);
        wait = wait * 2 > DO_BACKOFF_MAX_MS ? DO_BACKOFF_MAX_MS : wait * 2;
    }
out:
    free(url);
    return rc == 0 ? 0 : do_scrub(api, err);
}

typedef int (*do_page_fn)(const char *json, size_t len, void *out, do_page *page, err_t *err);

static int do_keys_page(const char *json, size_t len, void *out, do_page *page, err_t *err)
{
    return do_parse_keys(json, len, out, page, err);
}

static int do_droplets_page(const char *json, size_t len, void *out, do_page *page, err_t *err)
{
    return do_parse_droplets(json, len, out, page, err);
}

/* GET path (which may have a query already) page after page, each into out. */
static int do_get_pages(do_api *api, const char *path, do_page_fn parse, void *out, err_t *err)
{
    char paged[DO_PATH_MAX];
    long page_no = 1;
    for (int pages = 0; page_no > 0; pages++) {
        http_buf resp;
        do_page pg;
        int rc;
        if (pages == DO_PAGES_MAX)
            return err_set(err, ERR_REMOTE, "DigitalOcean: more than %d pages of %s: giving up",
                           DO_PAGES_MAX, path);
        if (snprintf(paged, sizeof paged, "%s%cpage=%ld&per_page=%d", path,
                     strchr(path, '?') ? '&' : '?', page_no, DO_PER_PAGE) >= (int)sizeof paged)
            return err_set(err, ERR_INVALID, "DigitalOcean: request path too long");
        if (do_call(api, "GET", paged, NULL, &resp, err) < 0)
            return -1;
        rc = parse(resp.data, resp.len, out, &pg, err);
        http_buf_free(&resp);
        if (rc < 0)
            return -1;
        if (pg.next && pg.next <= page_no)
            return do_bad(err, "page %ld of %s names page %ld as the next one", page_no, path, pg.next);
        page_no = pg.next;
    }
    return 0;
}

/* ---- the calls -------------------------------------------------------------------- */

/* Append ", \"name\"" to a list of names in a message; "..." once it is full. */
static void do_list_name(char *buf, size_t size, const char *name)
{
    size_t len = strlen(buf);
    char clean[64];
    if (len + 6 >= size || (len >= 3 && strcmp(buf + len - 3, "...") == 0))
        return;
    do_clean(clean, sizeof clean, name);
    if ((size_t)snprintf(buf + len, size - len, "%s\"%s\"", len ? ", " : "", clean) >= size - len)
        snprintf(buf + len, size - len, "%s...", len ? ", " : "");
}

int do_key_find(do_api *api, const char *name, do_key *key, err_t *err)
{
    do_keys all = {0};
    size_t found = 0, at = 0;
    char names[512] = "", cname[80];
    int rc = -1;
    memset(key, 0, sizeof *key);
    if (!name || !*name) {
        err_set(err, ERR_INVALID, "DigitalOcean: no SSH key name given");
        goto out;
    }
    if (do_get_pages(api, "/v2/account/keys", do_keys_page, &all, err) < 0)
        goto out;
    for (size_t i = 0; i < all.n; i++)
        if (strcmp(all.v[i].name, name) == 0 && found++ == 0)
            at = i;
    do_clean(cname, sizeof cname, name);
    if (found == 0) {
        for (size_t i = 0; i < all.n; i++)
            do_list_name(names, sizeof names, all.v[i].name);
        if (all.n)
            err_set(err, ERR_NOTFOUND, "DigitalOcean: the account has no SSH key named \"%s\"; its "
                    "keys are %s", cname, names);
        else
            err_set(err, ERR_NOTFOUND, "DigitalOcean: the account has no SSH key named \"%s\"; it has "
                    "no SSH keys at all (add one in the control panel, Settings > Security)", cname);
        goto out;
    }
    if (found > 1) {
        err_set(err, ERR_CONFLICT, "DigitalOcean: %zu SSH keys of the account are named \"%s\": "
                "rename all but one", found, cname);
        goto out;
    }
    *key = all.v[at];
    memset(&all.v[at], 0, sizeof all.v[at]); /* now the caller's */
    rc = 0;
out:
    do_keys_free(&all);
    return rc;
}

int do_droplets_list(do_api *api, const char *tag, do_droplets *list, err_t *err)
{
    char *esc = NULL, *path = NULL;
    int rc = -1;
    memset(list, 0, sizeof *list);
    if (tag && (!(esc = http_escape(tag)) || asprintf(&path, "/v2/droplets?tag_name=%s", esc) < 0)) {
        path = NULL;
        do_oom(err);
        goto out;
    }
    rc = do_get_pages(api, path ? path : "/v2/droplets", do_droplets_page, list, err);
out:
    if (rc < 0)
        do_droplets_free(list);
    free(esc);
    free(path);
    return rc;
}

int do_droplet_get(do_api *api, int64_t id, do_droplet *d, err_t *err)
{
    char path[64];
    http_buf resp;
    int rc;
    memset(d, 0, sizeof *d);
    snprintf(path, sizeof path, "/v2/droplets/%" PRId64, id);
    if (do_call(api, "GET", path, NULL, &resp, err) < 0)
        return -1;
    rc = do_parse_droplet(resp.data, resp.len, d, err);
    http_buf_free(&resp);
    return rc;
}

static bool do_tag_ok(const char *tag)
{
    size_t len = strlen(tag);
    return len > 0 && len <= DO_TAG_MAX &&
           strspn(tag, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-:") == len;
}

/* The body of one POST /v2/droplets (droplet_multi_create.yml). */
static char *do_create_body(const char *const names[], size_t n, const char *region,
                            const char *size, const char *image, int64_t key_id, const char *tag,
                            const char *user_data)
{
    json_t *body = json_object(), *arr = json_array();
    char *text = NULL;
    bool numeric = image[0] && strspn(image, "0123456789") == strlen(image) && strlen(image) < 19;
    bool bad = !body || !arr;
    /* json_*_set_new and _append_new take the value even when they fail (NULL too) */
    for (size_t i = 0; i < n; i++)
        bad |= json_array_append_new(arr, json_string(names[i])) != 0;
    bad |= json_object_set_new(body, "names", arr) != 0;
    bad |= json_object_set_new(body, "size", json_string(size)) != 0;
    /* an image is a slug, or the id of a private image (a number, not a string) */
    bad |= json_object_set_new(body, "image", numeric ? json_integer(strtoll(image, NULL, 10))
                                                      : json_string(image)) != 0;
    if (region)
        bad |= json_object_set_new(body, "region", json_string(region)) != 0;
    if (key_id > 0)
        bad |= json_object_set_new(body, "ssh_keys", json_pack("[I]", (json_int_t)key_id)) != 0;
    if (tag)
        bad |= json_object_set_new(body, "tags", json_pack("[s]", tag)) != 0;
    if (user_data)
        bad |= json_object_set_new(body, "user_data", json_string(user_data)) != 0;
    if (!bad)
        text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    return text;
}

int do_droplets_create(do_api *api, const char *const names[], size_t n, const char *region,
                       const char *size, const char *image, int64_t key_id, const char *tag,
                       const char *user_data, int64_t ids[], err_t *err)
{
    char *body = NULL;
    http_buf resp = {0};
    for (size_t i = 0; i < n; i++)
        ids[i] = 0;
    if (n == 0)
        return 0;
    if (!size || !*size || !image || !*image)
        return err_set(err, ERR_INVALID, "DigitalOcean: a droplet needs a size and an image");
    for (size_t i = 0; i < n; i++)
        if (!names[i] || !*names[i])
            return err_set(err, ERR_INVALID, "DigitalOcean: droplet %zu has no name", i + 1);
    if (tag && !do_tag_ok(tag))
        return err_set(err, ERR_INVALID, "DigitalOcean: tag \"%.64s\": a tag has 1 to 255 letters, "
                       "digits, '_', '-' or ':'", tag);
    if (user_data && strlen(user_data) > DO_USER_DATA_MAX)
        return err_set(err, ERR_INVALID, "DigitalOcean: the user data has %zu bytes; a droplet "
                       "takes at most %d", strlen(user_data), DO_USER_DATA_MAX);
    for (size_t off = 0; off < n; off += DO_CREATE_BATCH) {
        size_t k = n - off < DO_CREATE_BATCH ? n - off : DO_CREATE_BATCH;
        if (!(body = do_create_body(names + off, k, region, size, image, key_id, tag, user_data)))
            return do_oom(err);
        if (do_call(api, "POST", "/v2/droplets", body, &resp, err) < 0)
            goto err;
        if (do_parse_created(resp.data, resp.len, names + off, k, ids + off, err) < 0)
            goto err;
        http_buf_free(&resp);
        free(body);
        body = NULL;
    }
    return 0;
err:
    http_buf_free(&resp);
    free(body);
    return -1;
}

int do_droplet_delete(do_api *api, int64_t id, err_t *err)
{
    char path[64];
    http_buf resp;
    snprintf(path, sizeof path, "/v2/droplets/%" PRId64, id);
    if (do_call(api, "DELETE", path, NULL, &resp, err) < 0)
        return -1;
    http_buf_free(&resp);
    return 0;
}

int do_droplets_delete_tag(do_api *api, const char *tag, err_t *err)
{
    char *esc = NULL, *path = NULL;
    http_buf resp;
    int rc = -1;
    /* Never let an empty tag turn into a DELETE of /v2/droplets with no filter. */
    if (!tag || !*tag)
        return err_set(err, ERR_INVALID, "DigitalOcean: deleting droplets by tag needs a tag");
    if (!(esc = http_escape(tag)) || asprintf(&path, "/v2/droplets?tag_name=%s", esc) < 0) {
        path = NULL;
        do_oom(err);
        goto out;
    }
    if (do_call(api, "DELETE", path, NULL, &resp, err) < 0)
        goto out;
    http_buf_free(&resp);
    rc = 0;
out:
    free(esc);
    free(path);
    return rc;
}
