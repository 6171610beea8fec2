/* table.c - build the ambassador's routing table and access list (see table.h).
 *
 * /links/<app>/<service>            -> {"port": N}
 * /services/<app>/<service>/<inst>  -> {"addr": "10.88.0.11", "port": 32768}
 * /apps/<app>/<name>/manifest       -> the manifest, whose "links" grant access
 * A rebuild scans the services once per link, O(links x services), and parses the
 * manifests of the local containers only, each once; it runs only when one of its
 * sources changes, never per connection. At accept, table_allows is a binary
 * search in the link's few addresses plus the operator's few networks. */
#include "table.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokkaa/links.h"
#include "dokkaa/manifest.h"

typedef void (*table_warn_fn)(const char *key, const char *msg);

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

/* ---- routes: links and their instances ------------------------------------------ */

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
static void table_check_services(const etcd_kvs *services, table_warn_fn warn)
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
static int table_add_backends(table_link *l, const etcd_kvs *services)
{
    char parts[3][64];
    if (!(l->backends = calloc(services->n + 1, sizeof *l->backends)))
        return -1;
    for (size_t i = 0; i < services->n; i++) {
        const etcd_kv *kv = &services->kvs[i];
        if (table_split(kv->key, "/services/", parts) == 3 && strcmp(parts[0], l->app) == 0 &&
            strcmp(parts[1], l->service) == 0 &&
            table_backend_parse(kv->value, &l->backends[l->nbackends]) == 0)
            l->nbackends++;
    }
    return 0;
}

/* Append the link of kv to t, unless kv is malformed (reported, skipped). */
static int table_add_link(table *t, const etcd_kv *kv, const etcd_kvs *services,
                          table_warn_fn warn)
{
    char parts[3][64];
    table_link *l = &t->links[t->n];
    err_t err;
    if (table_split(kv->key, "/links/", parts) != 2) {
        if (warn)
            warn(kv->key, "not a link key (/links/<app>/<service>)");
        return 0;
    }
    if (links_parse(kv->value, &l->port, &err) < 0) {
        if (warn)
            warn(kv->key, err.msg);
        return 0;
    }
    memcpy(l->app, parts[0], sizeof l->app);
    memcpy(l->service, parts[1], sizeof l->service);
    t->n++; /* counted before the backends, so that table_free frees them */
    return table_add_backends(l, services);
}

/* ---- the access list: which local container may use which link ------------------ */

/* One entry of the access list being gathered: addr may use t->links[link]. */
typedef struct table_grant {
    size_t link;
    uint32_t addr;
} table_grant;

typedef struct table_grants {
    table_grant *g;
    size_t n, cap;
} table_grants;

static int table_grants_add(table_grants *gs, size_t link, uint32_t addr)
{
    if (gs->n == gs->cap) {
        size_t cap = gs->cap ? 2 * gs->cap : 16;
        table_grant *grown = realloc(gs->g, cap * sizeof *grown);
        if (!grown)
            return -1;
        gs->g = grown;
        gs->cap = cap;
    }
    gs->g[gs->n++] = (table_grant){.link = link, .addr = addr};
    return 0;
}

static int table_cmp_grant(const void *a, const void *b)
{
    const table_grant *x = a, *y = b;
    if (x->link != y->link)
        return x->link < y->link ? -1 : 1;
    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int table_cmp_container(const void *a, const void *b)
{
    const table_container *x = a, *y = b;
    int c = strcmp(x->app, y->app);
    return c ? c : strcmp(x->name, y->name);
}

static int table_cmp_key(const void *key, const void *kv)
{
    return strcmp(key, ((const etcd_kv *)kv)->key);
}

/* The link app/service, or -1. Linear: a rebuild asks once per link a local
 * manifest names, and links are not sorted by (app, service) but by key. */
static long table_link_index(const table *t, const char *app, const char *service)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->links[i].app, app) == 0 && strcmp(t->links[i].service, service) == 0)
            return (long)i;
    return -1;
}

/* Grant the containers cs[0..n-1], which all run the same manifest, the links it
 * names. Its key is looked up by binary search: /apps/ comes sorted by key. No
 * manifest (deleted: its containers are on their way out) grants nothing; an
 * invalid one grants nothing either, and says so. */
static int table_grant_manifest(const table *t, const etcd_kvs *apps, const table_container *cs,
                                size_t n, table_grants *gs, table_warn_fn warn)
{
    char key[256];
    manifest m;
    err_t err;
    int rc = 0;
    snprintf(key, sizeof key, "/apps/%s/%s/manifest", cs[0].app, cs[0].name);
    const etcd_kv *kv =
        apps->n ? bsearch(key, apps->kvs, apps->n, sizeof *apps->kvs, table_cmp_key) : NULL;
    if (!kv)
        return 0;
    if (manifest_parse(kv->value, kv->value_len, &m, &err) < 0) {
        if (warn)
            warn(kv->key, err.msg);
        return 0;
    }
    for (size_t i = 0; rc == 0 && i < m.nlinks; i++) {
        long link = table_link_index(t, cs[0].app, m.links[i]);
        for (size_t j = 0; link >= 0 && rc == 0 && j < n; j++)
            rc = table_grants_add(gs, (size_t)link, cs[j].addr);
    }
    manifest_free(&m);
    return rc;
}

/* Give each link its sorted, unique addresses from the gathered grants. */
static int table_spread_grants(table *t, table_grants *gs)
{
    if (gs->n == 0)
        return 0; /* qsort wants an array, even of nothing */
    qsort(gs->g, gs->n, sizeof *gs->g, table_cmp_grant);
    for (size_t i = 0, j; i < gs->n; i = j) {
        table_link *l = &t->links[gs->g[i].link];
        for (j = i; j < gs->n && gs->g[j].link == gs->g[i].link; j++)
            ;
        if (!(l->allowed = malloc((j - i) * sizeof *l->allowed)))
            return -1;
        for (size_t k = i; k < j; k++)
            if (l->nallowed == 0 || l->allowed[l->nallowed - 1] != gs->g[k].addr)
                l->allowed[l->nallowed++] = gs->g[k].addr;
    }
    return 0;
}

/* Sorted by manifest, the containers of one manifest are neighbours: each
 * manifest is parsed (and, if invalid, reported) once per rebuild. */
static int table_add_containers(table *t, const table_sources *src, table_warn_fn warn)
{
    table_container *cs = NULL;
    table_grants gs = {0};
    size_t n = src->ncontainers;
    if (n == 0)
        return 0;
    if (!(cs = malloc(n * sizeof *cs)))
        goto err;
    memcpy(cs, src->containers, n * sizeof *cs);
    qsort(cs, n, sizeof *cs, table_cmp_container);
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && table_cmp_container(&cs[i], &cs[j]) == 0; j++)
            ;
        if (table_grant_manifest(t, src->apps, cs + i, j - i, &gs, warn) < 0)
            goto err;
    }
    if (table_spread_grants(t, &gs) < 0)
        goto err;
    free(cs);
    free(gs.g);
    return 0;
err:
    free(cs);
    free(gs.g);
    return -1;
}

/* The operator's networks, held once by the table and shared by every link. */
static int table_add_nets(table *t, const table_sources *src)
{
    if (src->nnets == 0)
        return 0;
    if (!(t->nets = malloc(src->nnets * sizeof *t->nets)))
        return -1;
    memcpy(t->nets, src->nets, src->nnets * sizeof *t->nets);
    t->nnets = src->nnets;
    for (size_t i = 0; i < t->n; i++) {
        t->links[i].nets = t->nets;
        t->links[i].nnets = t->nnets;
    }
    return 0;
}

int table_build(table *t, const table_sources *src, table_warn_fn warn)
{
    const etcd_kvs *links = src->links;
    *t = (table){0};
    if (!(t->links = calloc(links->n + 1, sizeof *t->links)))
        goto err;
    table_check_services(src->services, warn);
    for (size_t i = 0; i < links->n; i++)
        if (table_add_link(t, &links->kvs[i], src->services, warn) < 0)
            goto err;
    if (table_add_containers(t, src, warn) < 0 || table_add_nets(t, src) < 0)
        goto err;
    return 0;
err:
    table_free(t);
    return -1;
}

void table_free(table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->links[i].backends);
        free(t->links[i].allowed);
    }
    free(t->links);
    free(t->nets);
    *t = (table){0};
}

const table_link *table_by_port(const table *t, int port)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->links[i].port == port)
            return &t->links[i];
    return NULL;
}

bool table_allows(const table_link *link, uint32_t addr)
{
    size_t lo = 0, hi = link->nallowed;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (link->allowed[mid] == addr)
            return true;
        if (link->allowed[mid] < addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = 0; i < link->nnets; i++)
        if ((addr & link->nets[i].mask) == link->nets[i].net)
            return true;
    return false;
}

int table_addr_parse(const char *s, uint32_t *addr)
{
    struct in_addr in;
    if (!s || inet_pton(AF_INET, s, &in) != 1)
        return -1;
    *addr = ntohl(in.s_addr);
    return 0;
}

int table_net_parse(const char *cidr, table_net *net, err_t *err)
{
    char addr[16];
    const char *slash = strchr(cidr, '/');
    size_t len = slash ? (size_t)(slash - cidr) : strlen(cidr);
    long bits = 32;
    uint32_t a;
    if (len < sizeof addr) {
        memcpy(addr, cidr, len);
        addr[len] = '\0';
    }
    if (slash) {
        char *end;
        errno = 0;
        bits = strtol(slash + 1, &end, 10); /* which takes " 24" and "+24": not here */
        if (!isdigit((unsigned char)slash[1]) || *end || errno || bits < 0 || bits > 32)
            bits = -1;
    }
    if (len >= sizeof addr || bits < 0 || table_addr_parse(addr, &a) < 0)
        return err_set(err, ERR_INVALID,
                       "\"%s\": expected an IPv4 network like 10.88.0.0/24, or an address", cidr);
    net->mask = bits ? ~0u << (32 - bits) : 0;
    net->net = a & net->mask;
    return 0;
}
