/* table.c - build the ambassador's routing table and access list (see table.h).
 *
 * /links/<app>/<service>                        -> keys_link: the port
 * /services/<app>/<service>/<container>@<host>  -> keys_service: an instance
 * /apps/<app>/<name>/manifest                   -> the manifest, whose "links" grant access
 * Keys and records are keys.h's. A rebuild decodes each announcement once, sorts
 * them by (app, service) and finds each link's by binary search, and parses the
 * manifests of the local containers only, each once, finding the links they name
 * by binary search too: O((links + services) log services + containers' links
 * x log links). It runs whenever a source changes or a local container starts or
 * stops, which at a hundred hosts is often: it once scanned every announcement
 * for every link, O(links x services), 119 ms at 1,000 links and 10,000 services
 * (bench/table_rebuild). At accept, table_allows is a binary search in the link's
 * few addresses plus the operator's few networks. */
#include "table.h"

#include <stdlib.h>
#include <string.h>

#include "dokkaa/keys.h"
#include "dokkaa/manifest.h"

typedef void (*table_warn_fn)(const char *key, const char *msg);

/* The table's names and addresses are keys.h's, copied whole: nothing is cut. */
_Static_assert(sizeof((table_link *)0)->app == KEYS_NAME_SIZE &&
                   sizeof((table_link *)0)->service == KEYS_NAME_SIZE &&
                   sizeof((table_backend *)0)->addr == sizeof((keys_service *)0)->addr,
               "table.h's sizes must be keys.h's");

/* ---- routes: links and their instances ------------------------------------------ */

/* A well-formed announcement of /services/: whose service, and where it is served. */
typedef struct table_announce {
    char app[KEYS_NAME_SIZE];
    char service[KEYS_NAME_SIZE];
    table_backend b;
    size_t order; /* its place in key order: a link's backends keep that order */
} table_announce;

/* The order of (app, service) names, which announcements and links are looked up by. */
static int table_cmp_names(const char *app1, const char *service1, const char *app2,
                           const char *service2)
{
    int c = strcmp(app1, app2);
    return c ? c : strcmp(service1, service2);
}

/* By (app, service), then key order. Not by key: "/services/a/b-c/..." sorts before
 * "/services/a/b/..." ('-' before '/') while service "b" sorts before "b-c". */
static int table_cmp_announce(const void *a, const void *b)
{
    const table_announce *x = a, *y = b;
    int c = table_cmp_names(x->app, x->service, y->app, y->service);
    return c ? c : (x->order > y->order) - (x->order < y->order);
}

/* The well-formed announcements, sorted by table_cmp_announce, each key and value
 * decoded once per rebuild; every malformed one is reported, linked or not. NULL
 * when out of memory. */
static table_announce *table_announces(const etcd_kvs *services, size_t *n, table_warn_fn warn)
{
    table_announce *as = calloc(services->n + 1, sizeof *as);
    keys_key k;
    keys_service s;
    err_t err;
    *n = 0;
    for (size_t i = 0; as && i < services->n; i++) {
        const etcd_kv *kv = &services->kvs[i];
        table_announce *a = &as[*n];
        if (!keys_is(kv->key, KEYS_SERVICE, &k)) {
            if (warn)
                warn(kv->key, "not a service key (/services/<app>/<service>/<container>@<host>)");
        } else if (keys_service_decode(kv->value, kv->value_len, &s, &err) < 0) {
            if (warn)
                warn(kv->key, err.msg);
        } else {
            memcpy(a->app, k.app, sizeof a->app);
            memcpy(a->service, k.service, sizeof a->service);
            memcpy(a->b.addr, s.addr, sizeof a->b.addr);
            a->b.port = s.port;
            a->order = *n;
            (*n)++;
        }
    }
    if (as && *n > 1)
        qsort(as, *n, sizeof *as, table_cmp_announce);
    return as;
}

/* The first of as[0..n-1] (sorted by table_cmp_announce) whose (app, service) is
 * not below l's: n when there is none. */
static size_t table_first_announce(const table_link *l, const table_announce *as, size_t n)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (table_cmp_names(as[mid].app, as[mid].service, l->app, l->service) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The announcements of l's service: a run of the sorted announcements. */
static int table_add_backends(table_link *l, const table_announce *as, size_t n)
{
    size_t first = table_first_announce(l, as, n), end = first;
    while (end < n && table_cmp_names(as[end].app, as[end].service, l->app, l->service) == 0)
        end++;
    if (!(l->backends = calloc(end - first + 1, sizeof *l->backends)))
        return -1;
    for (size_t i = first; i < end; i++)
        l->backends[l->nbackends++] = as[i].b;
    return 0;
}

/* Append the link of kv to t, unless kv is malformed (reported, skipped). */
static int table_add_link(table *t, const etcd_kv *kv, const table_announce *as, size_t n,
                          table_warn_fn warn)
{
    table_link *l = &t->links[t->n];
    keys_key k;
    keys_link link;
    err_t err;
    if (!keys_is(kv->key, KEYS_LINK, &k)) {
        if (warn)
            warn(kv->key, "not a link key (/links/<app>/<service>)");
        return 0;
    }
    if (keys_link_decode(kv->value, kv->value_len, &link, &err) < 0) {
        if (warn)
            warn(kv->key, err.msg);
        return 0;
    }
    memcpy(l->app, k.app, sizeof l->app);
    memcpy(l->service, k.service, sizeof l->service);
    l->port = link.port;
    t->n++; /* counted before the backends, so that table_free frees them */
    return table_add_backends(l, as, n);
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

static int table_cmp_link_ptr(const void *a, const void *b)
{
    const table_link *x = *(const table_link *const *)a, *y = *(const table_link *const *)b;
    return table_cmp_names(x->app, x->service, y->app, y->service);
}

/* The links sorted by (app, service) (keys are unique: so are the pairs), for
 * table_link_index; NULL when out of memory. */
static const table_link **table_links_by_name(const table *t)
{
    const table_link **by = malloc((t->n + 1) * sizeof *by);
    for (size_t i = 0; by && i < t->n; i++)
        by[i] = &t->links[i];
    if (by && t->n > 1)
        qsort(by, t->n, sizeof *by, table_cmp_link_ptr);
    return by;
}

typedef struct table_name {
    const char *app, *service;
} table_name;

static int table_cmp_name_link(const void *key, const void *elem)
{
    const table_name *k = key;
    const table_link *l = *(const table_link *const *)elem;
    return table_cmp_names(k->app, k->service, l->app, l->service);
}

/* The index in t->links of the link app/service, or -1: a binary search of by. */
static long table_link_index(const table *t, const table_link **by, const char *app,
                             const char *service)
{
    table_name key = {app, service};
    const table_link **hit = t->n ? bsearch(&key, by, t->n, sizeof *by, table_cmp_name_link) : NULL;
    return hit ? *hit - t->links : -1;
}

/* Grant the containers cs[0..n-1], which all run the same manifest, the links it
 * names. Its key is looked up by binary search: /apps/ comes sorted by key. No
 * manifest (deleted: its containers are on their way out) grants nothing; an
 * invalid one grants nothing either, and says so. */
static int table_grant_manifest(const table *t, const table_link **by, const etcd_kvs *apps,
                                const table_container *cs, size_t n, table_grants *gs,
                                table_warn_fn warn)
{
    char key[KEYS_SIZE];
    manifest m;
    err_t err;
    int rc = 0;
    keys_manifest_key(key, cs[0].app, cs[0].name);
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
        long link = table_link_index(t, by, cs[0].app, m.links[i]);
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
    const table_link **by = NULL;
    table_grants gs = {0};
    size_t n = src->ncontainers;
    if (n == 0)
        return 0;
    if (!(cs = malloc(n * sizeof *cs)) || !(by = table_links_by_name(t)))
        goto err;
    memcpy(cs, src->containers, n * sizeof *cs);
    qsort(cs, n, sizeof *cs, table_cmp_container);
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && table_cmp_container(&cs[i], &cs[j]) == 0; j++)
            ;
        if (table_grant_manifest(t, by, src->apps, cs + i, j - i, &gs, warn) < 0)
            goto err;
    }
    if (table_spread_grants(t, &gs) < 0)
        goto err;
    free(cs);
    free(by);
    free(gs.g);
    return 0;
err:
    free(cs);
    free(by);
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
    table_announce *as;
    size_t nas;
    *t = (table){0};
    if (!(as = table_announces(src->services, &nas, warn)) ||
        !(t->links = calloc(links->n + 1, sizeof *t->links)))
        goto err;
    for (size_t i = 0; i < links->n; i++)
        if (table_add_link(t, &links->kvs[i], as, nas, warn) < 0)
            goto err;
    if (table_add_containers(t, src, warn) < 0 || table_add_nets(t, src) < 0)
        goto err;
    free(as);
    return 0;
err:
    free(as);
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
        if (net_cidr_contains(&link->nets[i], addr))
            return true;
    return false;
}
