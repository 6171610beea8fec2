/* links.c - allocation of link ports under /links/ (see links.h).
 *
 * Allocation reads every link, picks the lowest free port and writes it in a txn
 * that holds only if no link changed since the read (a compare on the whole /links/
 * range) and this link still has no port. Two conductors racing for different links
 * cannot take the same port: one txn fails and re-reads. O(links) per allocation,
 * which happens once per link in the life of an app. */
#include "dokkaa/links.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokkaa/keys.h"
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

int links_port(etcd *e, links_range range, const char *app, const char *service, int *port,
               err_t *err)
{
    char key[KEYS_SIZE];
    keys_link_key(key, app, service);
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
