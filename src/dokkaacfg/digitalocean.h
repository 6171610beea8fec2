/* digitalocean.h - a small client of the DigitalOcean API v2, for
 * `dokkaacfg --provider=digitalocean`: find the account's SSH key by name, create
 * tagged droplets, list them by tag until they are active, delete them.
 *
 * Shapes follow DigitalOcean's own documentation, read for this file: the API's
 * OpenAPI specification (github.com/digitalocean/openapi, commit 7c1300c, files
 * specification/description.yml, shared/models/error.yml, shared/pages.yml,
 * shared/meta.yml, shared/headers.yml, resources/ssh_keys/,
 * resources/droplets/{droplets_create,droplets_list,droplets_get,droplets_destroy,
 * droplets_destroy_byTag}.yml and models/droplet*.yml), rendered at
 *   https://docs.digitalocean.com/reference/api/intro/  (statuses, the error object,
 *       meta.total, links.pages, rate limits)
 *   https://docs.digitalocean.com/reference/api/api-reference/#operation/sshKeys_list
 *   https://docs.digitalocean.com/reference/api/api-reference/#operation/droplets_create
 *       (also droplets_list, droplets_get, droplets_destroy, droplets_destroy_byTag)
 *   https://docs.digitalocean.com/notes/2023/api-rate-limit  (429 and Retry-After)
 *
 * Every call fails with -1 and an err_t, never prints, and never puts the token in
 * a message. A non-2xx answer reads "DigitalOcean: <status> <id>: <message>"; its
 * code: 400/422 ERR_INVALID, 404 ERR_NOTFOUND, 409 ERR_CONFLICT, 429 and 5xx (once
 * the retries are spent) ERR_UNAVAIL, 401/403 and anything else ERR_REMOTE (err.h
 * has no "denied" kind; do_api_status() tells 401 apart). */
#ifndef DOKKAACFG_DIGITALOCEAN_H
#define DOKKAACFG_DIGITALOCEAN_H

#include <stddef.h>
#include <stdint.h>

#include "dokkaa/err.h"

#define DO_API_URL "https://api.digitalocean.com"
#define DO_CREATE_BATCH 10               /* names[] per POST /v2/droplets, documented */
#define DO_USER_DATA_MAX (64 * 1024)     /* user_data "may not exceed 64 KiB" */

typedef struct do_api do_api;

typedef struct do_key {
    int64_t id;
    char *name;
    char *fingerprint; /* NULL if the answer had none */
    char *public_key;  /* NULL if the answer had none */
} do_key;

typedef struct do_keys {
    do_key *v;
    size_t n;
} do_keys;

enum do_status { DO_STATUS_UNKNOWN, DO_STATUS_NEW, DO_STATUS_ACTIVE, DO_STATUS_OFF, DO_STATUS_ARCHIVE };

typedef struct do_droplet {
    int64_t id;
    char *name;
    enum do_status status; /* UNKNOWN for a status string the documentation does not list */
    char public_ipv4[16];  /* "" until the droplet has one (a new droplet has none) */
    char private_ipv4[16]; /* "" if none */
} do_droplet;

typedef struct do_droplets {
    do_droplet *v;
    size_t n;
} do_droplets;

/* What a page of a collection says about the others. */
typedef struct do_page {
    long next;  /* number of the next page (from links.pages.next), 0 on the last one */
    long total; /* meta.total, -1 if absent */
} do_page;

/* A client of the API at base_url (DO_API_URL, or a stand-in's http://127.0.0.1:PORT;
 * a trailing '/' is fine) with this token, sent as "Authorization: Bearer". */
do_api *do_api_new(const char *base_url, const char *token, err_t *err);
void do_api_free(do_api *api);

/* Retries of an answer 429 (every call) or 5xx (GET and DELETE only: a POST that
 * failed on the server may still have created droplets). The waits double from
 * first_ms, capped at 30 s; the default, 7 retries from 1 s, waits 91 s in all,
 * more than the minute of the API's burst window. No answer at all (refused,
 * timed out) is retried twice at most, for GET and DELETE. */
void do_api_set_retry(do_api *api, int retries, long first_ms);

/* The HTTP status of the last answer (0 if none came). */
long do_api_status(const do_api *api);

/* The account's SSH key of that name (every page of GET /v2/account/keys). Not
 * found: ERR_NOTFOUND naming the key and the names there are. Two keys of that name:
 * ERR_CONFLICT. Clear *key with do_key_clear. */
int do_key_find(do_api *api, const char *name, do_key *key, err_t *err);

/* Every droplet with that tag (every page of GET /v2/droplets?tag_name=); tag NULL:
 * every droplet of the account. Free *list with do_droplets_free. */
int do_droplets_list(do_api *api, const char *tag, do_droplets *list, err_t *err);

/* GET /v2/droplets/ID. ERR_NOTFOUND if there is none. Clear with do_droplet_clear. */
int do_droplet_get(do_api *api, int64_t id, do_droplet *d, err_t *err);

/* Create n droplets named names[] in one POST /v2/droplets per DO_CREATE_BATCH
 * names, each with image (a slug such as "debian-12-x64", or an image id in
 * digits), size, region (NULL: any), the key (0: none), the tag (NULL: none) and
 * user_data (NULL: none; at most DO_USER_DATA_MAX bytes). ids[i] (the caller's
 * array of n) gets names[i]'s droplet id, 0 while not created: when a later batch
 * fails, the earlier ones exist and their ids say so (they carry the tag too). */
int do_droplets_create(do_api *api, const char *const names[], size_t n, const char *region,
                       const char *size, const char *image, int64_t key_id, const char *tag,
                       const char *user_data, int64_t ids[], err_t *err);

/* DELETE /v2/droplets/ID: 204. ERR_NOTFOUND if there is no such droplet. */
int do_droplet_delete(do_api *api, int64_t id, err_t *err);

/* DELETE /v2/droplets?tag_name=TAG: every droplet with the tag. The endpoint
 * documents a 404 (ERR_NOTFOUND), for a tag the account does not have: for `down`,
 * nothing to delete. */
int do_droplets_delete_tag(do_api *api, const char *tag, err_t *err);

void do_key_clear(do_key *key);
void do_keys_free(do_keys *keys);
void do_droplet_clear(do_droplet *d);
void do_droplets_free(do_droplets *list);
const char *do_status_name(enum do_status s);

/* ---- pure functions over the API's JSON (unit-tested on the documented shapes) ---- */

/* One page of GET /v2/account/keys: its ssh_keys are appended to *keys (which must
 * start zeroed or hold earlier pages); *page (may be NULL) gets the paging. A body
 * that is not that shape is ERR_REMOTE, and *keys keeps only earlier pages. */
int do_parse_keys(const char *json, size_t len, do_keys *keys, do_page *page, err_t *err);

/* One page of GET /v2/droplets (its "droplets"), the same way. */
int do_parse_droplets(const char *json, size_t len, do_droplets *list, do_page *page, err_t *err);

/* The answer to GET /v2/droplets/ID ({"droplet": {...}}), or to a create of one. */
int do_parse_droplet(const char *json, size_t len, do_droplet *d, err_t *err);

/* The ids of a create's answer: {"droplet": {...}} or {"droplets": [...]}, matched to
 * names[] by name (in the answer's order for names given twice). Every name must
 * have its droplet. */
int do_parse_created(const char *json, size_t len, const char *const names[], size_t n,
                     int64_t ids[], err_t *err);

/* The page number in a links.pages URL ("...?page=3&per_page=200": 3); 0 if it has
 * none or it is not a positive number. */
long do_page_of(const char *url);

/* The error of a non-2xx answer, from DigitalOcean's error object {"id", "message",
 * "request_id"} when the body is one, else from the status alone. Returns -1. */
int do_error(long status, const char *body, size_t len, err_t *err);

#endif
