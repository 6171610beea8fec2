/* fuzz_table.c - libFuzzer harness of the ambassador's table builder
 * (src/ambassador/table.c): the /links/, /services/ and /apps/ contents anyone who
 * can write etcd controls, with the local containers and --allow networks. The
 * input is lines:
 *   link <key> <value>         a key-value of /links/ (the value runs to the end)
 *   service <key> <value>      of /services/
 *   app <key> <value>          of /apps/ (manifests; other keys are skipped)
 *   container <addr> <app> <name>
 *   allow <cidr>
 * Each range is sorted by key with duplicates dropped, as etcd gives it.
 * Invariants (table.h): every link is found by its port; a link's allowed addresses
 * are sorted and unique, and each is allowed; its backends come from announcements;
 * every warning is a valid UTF-8 message about a key. */
#include <string.h>

#include "dokkaa/net.h"
#include "fuzz.h"
#include "table.h"

#define FUZZ_MAX_ITEMS 256

static void fuzz_warn(const char *key, const char *msg)
{
    FUZZ_CHECK(key != NULL && msg != NULL);
    FUZZ_CHECK(fuzz_utf8(msg));
}

static int fuzz_cmp_kv(const void *a, const void *b)
{
    return strcmp(((const etcd_kv *)a)->key, ((const etcd_kv *)b)->key);
}

/* Sort by key; of equal keys keep the last (a later put wins). */
static void fuzz_sort(etcd_kvs *kvs)
{
    size_t out = 0;
    if (kvs->n == 0)
        return;
    for (size_t i = 0; i < kvs->n; i++) /* stable for equal keys: index as tie-break */
        kvs->kvs[i].version = (int64_t)i;
    qsort(kvs->kvs, kvs->n, sizeof *kvs->kvs, fuzz_cmp_kv);
    for (size_t i = 0; i < kvs->n; i++) {
        if (out > 0 && strcmp(kvs->kvs[out - 1].key, kvs->kvs[i].key) == 0) {
            etcd_kv *prev = &kvs->kvs[out - 1];
            if (kvs->kvs[i].version > prev->version) {
                free(prev->key);
                free(prev->value);
                *prev = kvs->kvs[i];
            } else {
                free(kvs->kvs[i].key);
                free(kvs->kvs[i].value);
            }
            continue;
        }
        kvs->kvs[out++] = kvs->kvs[i];
    }
    kvs->n = out;
}

/* Add "<key> <value>" (rest of a line) to kvs. */
static void fuzz_add_kv(etcd_kvs *kvs, const char *rest)
{
    const char *space = strchr(rest, ' ');
    if (!space || kvs->n == FUZZ_MAX_ITEMS)
        return;
    etcd_kv *kv = &kvs->kvs[kvs->n];
    *kv = (etcd_kv){0};
    kv->key = strndup(rest, (size_t)(space - rest));
    kv->value = strdup(space + 1);
    if (!kv->key || !kv->value) {
        free(kv->key);
        free(kv->value);
        return;
    }
    kv->value_len = strlen(kv->value);
    kvs->n++;
}

static bool fuzz_sorted_unique(const uint32_t *a, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (a[i - 1] >= a[i])
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static etcd_kv store[3][FUZZ_MAX_ITEMS];
    static table_container cs[FUZZ_MAX_ITEMS];
    static net_cidr nets[FUZZ_MAX_ITEMS];
    etcd_kvs links = {.kvs = store[0]}, services = {.kvs = store[1]}, apps = {.kvs = store[2]};
    size_t ncs = 0, nnets = 0;
    char *text = malloc(size + 1), *save = NULL;
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char addr[32], app[64], name[64];
        err_t err;
        if (strncmp(line, "link ", 5) == 0)
            fuzz_add_kv(&links, line + 5);
        else if (strncmp(line, "service ", 8) == 0)
            fuzz_add_kv(&services, line + 8);
        else if (strncmp(line, "app ", 4) == 0)
            fuzz_add_kv(&apps, line + 4);
        else if (ncs < FUZZ_MAX_ITEMS &&
                 sscanf(line, "container %31s %63s %63s", addr, app, name) == 3 &&
                 net_addr_parse(addr, &cs[ncs].addr) == 0) {
            memcpy(cs[ncs].app, app, sizeof app);
            memcpy(cs[ncs].name, name, sizeof name);
            ncs++;
        } else if (nnets < FUZZ_MAX_ITEMS && strncmp(line, "allow ", 6) == 0 &&
                   net_cidr_parse(line + 6, &nets[nnets], &err) == 0) {
            nnets++;
        }
    }
    free(text);
    fuzz_sort(&links);
    fuzz_sort(&services);
    fuzz_sort(&apps);

    table t;
    table_sources src = {.links = &links, .services = &services, .apps = &apps,
                         .containers = cs, .ncontainers = ncs, .nets = nets, .nnets = nnets};
    if (table_build(&t, &src, fuzz_warn) == 0) {
        FUZZ_CHECK(t.n <= links.n);
        for (size_t i = 0; i < t.n; i++) {
            const table_link *l = &t.links[i];
            const table_link *found = table_by_port(&t, l->port);
            FUZZ_CHECK(found && found->port == l->port);
            FUZZ_CHECK(l->nbackends <= services.n);
            FUZZ_CHECK(fuzz_sorted_unique(l->allowed, l->nallowed));
            for (size_t j = 0; j < l->nallowed; j++)
                FUZZ_CHECK(table_allows(l, l->allowed[j]));
            for (size_t j = 0; j < ncs; j++)
                (void)table_allows(l, cs[j].addr);
            FUZZ_CHECK(l->nnets == nnets);
        }
        table_free(&t);
    }
    etcd_kvs *all[] = {&links, &services, &apps};
    for (size_t r = 0; r < 3; r++)
        for (size_t i = 0; i < all[r]->n; i++) {
            free(all[r]->kvs[i].key);
            free(all[r]->kvs[i].value);
        }
    return 0;
}
