/* table.c - build the ambassador's routing table (see table.h).
 *
 * /links/<app>/<service>            -> {"port": N}
 * /services/<app>/<service>/<inst>  -> {"addr": "10.88.0.11", "port": 32768}
 * A rebuild scans the services once per link, O(links x services); it runs only
 * when one of them changes, never per connection. */
#include "table.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokkaa/links.h"
#include "dokkaa/manifest.h"

/* Split "<prefix><a>/<b>[/<c>]" into labels; returns how many parts were found. */
static int table_split(const char *key, const char *prefix, char parts[3][64])
{
    size_t plen = strlen(prefix);
    int n = 0;
    if (strncmp(key, prefix, plen) != 0)
        return 0;
    for (const char *p = key + plen; n < 3; n++) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 0 || len >= 64)
            return 0;
        memcpy(parts[n], p, len);
        parts[n][len] = '\0';
        if (!slash)
            return n + 1;
        p = slash + 1;
    }
    return 0; /* more parts than any key has */
}

static int table_backend_parse(const char *value, table_backend *b)
{
    json_t *v = json_loads(value, 0, NULL);
    const char *addr = json_string_value(json_object_get(v, "addr"));
    json_int_t port = json_integer_value(json_object_get(v, "port"));
    int ok = addr && strlen(addr) < sizeof b->addr && port > 0 && port <= 65535;
    if (ok) {
        snprintf(b->addr, sizeof b->addr, "%s", addr);
        b->port = (int)port;
    }
    json_decref(v);
    return ok ? 0 : -1;
}

/* Report every malformed announcement once per rebuild, linked or not. */
static void table_check_services(const etcd_kvs *services,
                                 void (*warn)(const char *key, const char *msg))
{
    char parts[3][64];
    table_backend b;
    for (size_t i = 0; warn && i < services->n; i++) {
        const etcd_kv *kv = &services->kvs[i];
        if (table_split(kv->key, "/services/", parts) != 3)
            warn(kv->key, "not a service key (/services/<app>/<service>/<instance>)");
        else if (table_backend_parse(kv->value, &b) < 0)
            warn(kv->key, "must be {\"addr\": ADDRESS, \"port\": 1..65535}");
    }
}

/* The well-formed announcements of l's service; the rest were reported above. */
static void table_add_backends(table_link *l, const etcd_kvs *services)
{
    char parts[3][64];
    l->backends = calloc(services->n + 1, sizeof *l->backends);
    for (size_t i = 0; l->backends && i < services->n; i++) {
        const etcd_kv *kv = &services->kvs[i];
        if (table_split(kv->key, "/services/", parts) == 3 && strcmp(parts[0], l->app) == 0 &&
            strcmp(parts[1], l->service) == 0 &&
            table_backend_parse(kv->value, &l->backends[l->nbackends]) == 0)
            l->nbackends++;
    }
}

int table_build(table *t, const etcd_kvs *links, const etcd_kvs *services,
                void (*warn)(const char *key, const char *msg))
{
    char parts[3][64];
    err_t err;
    t->n = 0;
    t->links = calloc(links->n + 1, sizeof *t->links);
    if (!t->links)
        return -1;
    table_check_services(services, warn);
    for (size_t i = 0; i < links->n; i++) {
        const etcd_kv *kv = &links->kvs[i];
        table_link *l = &t->links[t->n];
        if (table_split(kv->key, "/links/", parts) != 2) {
            if (warn)
                warn(kv->key, "not a link key (/links/<app>/<service>)");
            continue;
        }
        if (links_parse(kv->value, &l->port, &err) < 0) {
            if (warn)
                warn(kv->key, err.msg);
            continue;
        }
        memcpy(l->app, parts[0], sizeof l->app);
        memcpy(l->service, parts[1], sizeof l->service);
        table_add_backends(l, services);
        t->n++;
    }
    return 0;
}

void table_free(table *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->links[i].backends);
    free(t->links);
    t->links = NULL;
    t->n = 0;
}

const table_link *table_by_port(const table *t, int port)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->links[i].port == port)
            return &t->links[i];
    return NULL;
}
