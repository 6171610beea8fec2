/* links.c - allocation and release of link ports under /links/ (see links.h).
 *
 * A link that has its port costs one read of its own key: every container start
 * asks, and reading all of /links/ each time made L links cost O(L²) reads.
 * Allocation, once per link, reads every link, picks the lowest free port and
 * writes it in a txn that holds only if no link changed since the read (a compare
 * on the whole /links/ range) and this link still has no port. Two conductors
 * racing for different links cannot take the same port: one txn fails and
 * re-reads. Only a service that a manifest of the app offers gets a port: a link
 * to a service that does not exist would take a cluster-wide port for nothing
 * (157 manifests naming 64 made-up services each used up the 10,000), so it
 * waits, with a precise error, until the service's manifest is written.
 *
 * A link's port is freed when no manifest of its app names the link any more
 * (links_prune, by the elected scheduler), decided on a fresh read of the app and
 * written in a txn that compares the app's manifests have not changed since: a
 * manifest written meanwhile that names it again keeps it. While one of the app's
 * manifests does not validate, or one of its rollouts has not ended (containers of
 * another revision may still use the port), the app keeps every port it has. */
#include "dokkaa/links.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokkaa/keys.h"
#include "dokkaa/manifest.h"
#include "dokkaa/names.h"

#define LINKS_TRIES 20

/* Lowest port in range that no link uses, 0 when all are taken, -1 when out of
 * memory. */
static int links_free_port(const etcd_kvs *all, links_range range)
{
    bool *used = calloc((size_t)(range.max - range.min + 1), sizeof *used);
    int p, found = 0;
    keys_link l;
    if (!used)
        return -1;
    for (size_t i = 0; i < all->n; i++)
        if (keys_link_decode(all->kvs[i].value, all->kvs[i].value_len, &l, NULL) == 0 &&
            l.port >= range.min && l.port <= range.max)
            used[l.port - range.min] = true;
    for (p = range.min; p <= range.max && !found; p++)
        if (!used[p - range.min])
            found = p;
    free(used);
    return found;
}

int links_parse_range(const char *text, links_range *range, err_t *err)
{
    char end;
    if (sscanf(text, "%d-%d%c", &range->min, &range->max, &end) != 2 || range->min < 1024 ||
        range->max > 65535 || range->min > range->max) {
        char quoted[128];
        names_quote(text, strlen(text), quoted, sizeof quoted);
        return err_set(err, ERR_INVALID, "link ports: expected MIN-MAX within 1024-65535, got %s",
                       quoted);
    }
    return 0;
}

static int links_find(const etcd_kvs *all, const char *key, int *port, err_t *err)
{
    keys_link l;
    for (size_t i = 0; i < all->n; i++)
        if (strcmp(all->kvs[i].key, key) == 0) {
            if (keys_link_decode(all->kvs[i].value, all->kvs[i].value_len, &l, err) < 0)
                return err_prefix(err, "%s", key);
            *port = l.port;
            return 1;
        }
    return 0;
}

/* What the manifests of app say about its links, from one read of /apps/<app>/:
 * whether every manifest validates and every rollout has ended (settled), whether
 * one offers service (when service is set), and whether one names link (when
 * link is set). *revision gets the read's. */
typedef struct links_app {
    bool settled, offers, names;
    int64_t revision;
} links_app;

static int links_read_app(etcd *e, const char *app, const char *service, const char *link,
                          links_app *out, err_t *err)
{
    char prefix[KEYS_SIZE];
    etcd_kvs kvs;
    *out = (links_app){.settled = true};
    if (etcd_get_prefix(e, keys_app_prefix(prefix, app), &kvs, err) < 0)
        return -1;
    out->revision = kvs.revision;
    for (size_t i = 0; i < kvs.n; i++) {
        const etcd_kv *kv = &kvs.kvs[i];
        keys_key k;
        keys_rollout ro;
        manifest m;
        if (!keys_is(kv->key, KEYS_MANIFEST, &k) && !keys_is(kv->key, KEYS_ROLLOUT, &k))
            continue;
        if (k.kind == KEYS_ROLLOUT) {
            if (keys_rollout_decode(kv->value, kv->value_len, &ro, NULL) < 0 ||
                (ro.state != KEYS_OUTCOME_ROLLED_OUT && ro.state != KEYS_OUTCOME_ROLLED_BACK))
                out->settled = false;
            continue;
        }
        if (manifest_parse(kv->value, kv->value_len, &m, NULL) < 0) {
            out->settled = false;
            continue;
        }
        for (size_t j = 0; service && j < m.nservices; j++)
            out->offers |= strcmp(m.services[j].name, service) == 0;
        for (size_t j = 0; link && j < m.nlinks; j++)
            out->names |= strcmp(m.links[j], link) == 0;
        manifest_free(&m);
    }
    etcd_kvs_free(&kvs);
    return 0;
}

int links_port(etcd *e, links_range range, const char *app, const char *service, int *port,
               err_t *err)
{
    char key[KEYS_SIZE];
    etcd_kvs one;
    links_app state;
    keys_link_key(key, app, service);
    if (etcd_get(e, key, &one, err) < 0)
        return -1;
    int found = links_find(&one, key, port, err);
    etcd_kvs_free(&one);
    if (found)
        return found < 0 ? -1 : 0;
    if (links_read_app(e, app, service, service, &state, err) < 0)
        return -1;
    if (!state.offers)
        return err_set(err, ERR_NOTFOUND, "link %s: no manifest of app %s offers service %s "
                       "(waiting for one)", service, app, service);
    /* a conductor acting on an older view must not take back a port the scheduler
     * freed because no manifest names the link any more */
    if (!state.names)
        return err_set(err, ERR_NOTFOUND, "link %s: no manifest of app %s names it any more",
                       service, app);
    for (int attempt = 0; attempt < LINKS_TRIES; attempt++) {
        etcd_kvs all;
        if (etcd_get_prefix(e, KEYS_LINKS, &all, err) < 0)
            return -1;
        int found = links_find(&all, key, port, err);
        int candidate = found ? 0 : links_free_port(&all, range);
        int64_t revision = all.revision;
        etcd_kvs_free(&all);
        if (found)
            return found < 0 ? -1 : 0;
        if (candidate <= 0)
            return err_set(err, candidate ? ERR_SYS : ERR_CONFLICT,
                           "link %s/%s: no free port in %d..%d", app, service, range.min,
                           range.max);
        char *value = keys_link_encode(&(keys_link){.port = candidate});
        if (!value)
            return err_set(err, ERR_SYS, "out of memory");
        etcd_cmp cmps[] = {
            {.key = KEYS_LINKS, .prefix = true, .target = ETCD_CMP_MOD, .result = ETCD_LESS,
             .number = revision + 1},
            {.key = key, .target = ETCD_CMP_CREATE, .result = ETCD_EQUAL, .number = 0},
        };
        etcd_op put = {.type = ETCD_OP_PUT, .key = key, .value = value};
        bool won;
        int rc = etcd_txn(e, cmps, 2, &put, 1, NULL, 0, &won, err);
        free(value);
        if (rc < 0)
            return -1;
        if (won) {
            *port = candidate;
            return 0;
        }
    }
    return err_set(err, ERR_CONFLICT, "link %s/%s: port allocation kept racing", app, service);
}

int links_prune(etcd *e, const char *app, const etcd_cmp *fence, int *freed, err_t *err)
{
    char prefix[KEYS_SIZE], app_prefix[KEYS_SIZE];
    etcd_kvs links;
    int rc = 0;
    *freed = 0;
    if (etcd_get_prefix(e, keys_links_prefix(prefix, app), &links, err) < 0)
        return -1;
    keys_app_prefix(app_prefix, app);
    for (size_t i = 0; rc == 0 && i < links.n; i++) {
        const etcd_kv *kv = &links.kvs[i];
        keys_key k;
        links_app state;
        bool won = false;
        if (!keys_is(kv->key, KEYS_LINK, &k))
            continue; /* not a link's: not ours to delete */
        if ((rc = links_read_app(e, app, NULL, k.service, &state, err)) < 0 || !state.settled ||
            state.names)
            continue;
        etcd_cmp cmps[] = {
            *fence,
            {.key = app_prefix, .prefix = true, .target = ETCD_CMP_MOD, .result = ETCD_LESS,
             .number = state.revision + 1},
            {.key = kv->key, .target = ETCD_CMP_MOD, .result = ETCD_EQUAL, .number = kv->mod_revision},
        };
        etcd_op del = {.type = ETCD_OP_DELETE, .key = kv->key};
        if ((rc = etcd_txn(e, cmps, 3, &del, 1, NULL, 0, &won, err)) == 0 && won)
            (*freed)++;
    }
    etcd_kvs_free(&links);
    return rc;
}
