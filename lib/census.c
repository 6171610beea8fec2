/* census.c - instances per host, from etcd's ranges (see census.h).
 *
 * O(hosts x (placements + statuses)): a cluster has a handful of hosts, and a
 * linear find keeps the hosts in the order they are shown. */
#include "dokkaa/census.h"

#include <stdlib.h>
#include <string.h>

const census_host *census_find(const census *c, const char *id)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->hosts[i].id, id) == 0)
            return &c->hosts[i];
    return NULL;
}

/* The host id, added (not live) if it is not there yet; c->hosts has room for it. */
static census_host *census_host_of(census *c, const char *id)
{
    census_host *h = (census_host *)census_find(c, id);
    if (!h) {
        h = &c->hosts[c->n++];
        memset(h, 0, sizeof *h);
        memcpy(h->id, id, strlen(id) + 1); /* a decoded host id fits */
    }
    return h;
}

int census_count(census *c, const etcd_kv *hosts, size_t nhosts, const etcd_kv *apps,
                 size_t napps, const etcd_kv *statuses, size_t nstatuses, err_t *err)
{
    keys_key k;
    memset(c, 0, sizeof *c);
    /* at most one host per key of any range */
    c->hosts = calloc(nhosts + napps + nstatuses + 1, sizeof *c->hosts);
    if (!c->hosts)
        return err_set(err, ERR_SYS, "census: out of memory");
    for (size_t i = 0; i < nhosts; i++)
        if (keys_is(hosts[i].key, KEYS_HOST, &k))
            census_host_of(c, k.host)->live = true;
    for (size_t i = 0; i < napps; i++) {
        keys_placement p;
        if (!keys_is(apps[i].key, KEYS_INSTANCE, NULL) ||
            keys_placement_decode(apps[i].value, apps[i].value_len, &p, NULL) < 0)
            continue;
        census_host_of(c, p.host)->placed++;
        c->moving += *p.from != '\0';
    }
    /* a host that is neither live nor placed on is gone: its statuses are not shown */
    for (size_t i = 0; i < nstatuses; i++) {
        keys_status s;
        census_host *h;
        if (keys_is(statuses[i].key, KEYS_STATUS, NULL) &&
            keys_status_decode(statuses[i].value, statuses[i].value_len, &s, NULL) == 0 &&
            s.state == KEYS_STATE_RUNNING && (h = (census_host *)census_find(c, s.host)))
            h->running++;
    }
    return 0;
}

void census_free(census *c)
{
    free(c->hosts);
    c->hosts = NULL;
    c->n = 0;
}
