/* bench/table_rebuild.c - the ambassador's routing-table rebuild (table_build,
 * src/ambassador/table.c) at a hundred hosts' size, in process.
 *
 * An ambassador rebuilds its table whenever /links/, /services/ or /apps/ change
 * or a local container starts or stops, so at scale the rebuild runs often and
 * must grow linearly. This builds the mirrors a cluster of LINKS links would give
 * (each link a service with SERVICES / LINKS instances, announced from 100 hosts),
 * 100 local containers whose manifests name 3 links each, and times table_build
 * on them, then again on twice the input. Prints the time per rebuild and the
 * growth ratio (time at 2x / time at 1x: 2.0 is linear, 4.0 quadratic); the issue
 * asks for 1,000 links and 10,000 services. Nothing leaves the process.
 *
 *   build/bench/table_rebuild [LINKS SERVICES ROUNDS]   (default 1000 10000 20) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "table.h"

enum { BENCH_CONTAINERS = 100, BENCH_LINKS_EACH = 3 };

typedef struct bench_input {
    etcd_kvs links, services, apps;
    table_container containers[BENCH_CONTAINERS];
} bench_input;

static char *bench_strdup(const char *s)
{
    char *d = strdup(s);
    if (!d) {
        perror("strdup");
        exit(1);
    }
    return d;
}

static void bench_kv(etcd_kv *kv, const char *key, const char *value)
{
    kv->key = bench_strdup(key);
    kv->value = bench_strdup(value);
    kv->value_len = strlen(value);
}

static int bench_cmp_kv(const void *a, const void *b)
{
    return strcmp(((const etcd_kv *)a)->key, ((const etcd_kv *)b)->key);
}

/* Apps app0..app99 with 10 services each, svc0..svc9 (so names that share a
 * prefix, "svc1" and "svc10", do not occur: the keys sort as they would). */
static void bench_make(bench_input *in, size_t nlinks, size_t nservices)
{
    char key[256], value[256];
    memset(in, 0, sizeof *in);
    in->links.kvs = calloc(nlinks, sizeof *in->links.kvs);
    in->services.kvs = calloc(nservices, sizeof *in->services.kvs);
    in->apps.kvs = calloc(BENCH_CONTAINERS, sizeof *in->apps.kvs);
    if (!in->links.kvs || !in->services.kvs || !in->apps.kvs) {
        perror("calloc");
        exit(1);
    }
    for (size_t i = 0; i < nlinks; i++) {
        snprintf(key, sizeof key, "/links/app%zu/svc%zu", i / 10, i % 10);
        snprintf(value, sizeof value, "{\"port\": %zu}", 20000 + i);
        bench_kv(&in->links.kvs[in->links.n++], key, value);
    }
    for (size_t j = 0; j < nservices; j++) {
        size_t l = j % nlinks, k = j / nlinks;
        char suffix[32] = ""; /* instance 0 has the seed name, the others ---<k> */
        if (k)
            snprintf(suffix, sizeof suffix, "---%zu", k);
        snprintf(key, sizeof key, "/services/app%zu/svc%zu/app%zu---svc%zu%s@h%zu", l / 10, l % 10,
                 l / 10, l % 10, suffix, j % 100);
        snprintf(value, sizeof value, "{\"addr\": \"10.88.%zu.%zu\", \"port\": %zu}", j / 250 % 250,
                 j % 250 + 1, 32768 + j % 20000);
        bench_kv(&in->services.kvs[in->services.n++], key, value);
    }
    for (size_t c = 0; c < BENCH_CONTAINERS; c++) {
        size_t app = c % (nlinks / 10 ? nlinks / 10 : 1);
        table_container *tc = &in->containers[c];
        tc->addr = 0xac1e0002u + (uint32_t)c; /* 172.30.0.2 + c */
        snprintf(tc->app, sizeof tc->app, "app%zu", app);
        snprintf(tc->name, sizeof tc->name, "client%zu", c);
        snprintf(key, sizeof key, "/apps/app%zu/client%zu/manifest", app, c);
        snprintf(value, sizeof value,
                 "{\"image\": \"dockerfile/ubuntu\", \"links\": [\"svc%zu\", \"svc%zu\", \"svc%zu\"]}",
                 c % 10, (c + 3) % 10, (c + 7) % 10);
        bench_kv(&in->apps.kvs[in->apps.n++], key, value);
    }
    qsort(in->links.kvs, in->links.n, sizeof *in->links.kvs, bench_cmp_kv);
    qsort(in->services.kvs, in->services.n, sizeof *in->services.kvs, bench_cmp_kv);
    qsort(in->apps.kvs, in->apps.n, sizeof *in->apps.kvs, bench_cmp_kv);
}

static void bench_free_kvs(etcd_kvs *kvs)
{
    for (size_t i = 0; i < kvs->n; i++) {
        free(kvs->kvs[i].key);
        free(kvs->kvs[i].value);
    }
    free(kvs->kvs);
}

static void bench_warn(const char *key, const char *msg)
{
    fprintf(stderr, "%s: %s\n", key, msg);
}

static double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The median of ROUNDS rebuilds, in seconds; checks the table once. */
static double bench_rebuild(size_t nlinks, size_t nservices, int rounds)
{
    bench_input *in = malloc(sizeof *in);
    double *t = calloc((size_t)rounds, sizeof *t), median;
    if (!in || !t) {
        perror("malloc");
        exit(1);
    }
    bench_make(in, nlinks, nservices);
    table_sources src = {.links = &in->links, .services = &in->services, .apps = &in->apps,
                         .containers = in->containers, .ncontainers = BENCH_CONTAINERS};
    for (int r = 0; r < rounds; r++) {
        table tb;
        double t0 = bench_now();
        if (table_build(&tb, &src, bench_warn) < 0) {
            fprintf(stderr, "table_build: out of memory\n");
            exit(1);
        }
        t[r] = bench_now() - t0;
        size_t backends = 0, allowed = 0;
        for (size_t i = 0; i < tb.n; i++)
            backends += tb.links[i].nbackends, allowed += tb.links[i].nallowed;
        if (tb.n != nlinks || backends != nservices || allowed == 0) {
            fprintf(stderr, "wrong table: %zu links, %zu backends, %zu allowed\n", tb.n, backends,
                    allowed);
            exit(1);
        }
        table_free(&tb);
    }
    for (int i = 1; i < rounds; i++) /* insertion sort: a few rounds */
        for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
            double x = t[j];
            t[j] = t[j - 1], t[j - 1] = x;
        }
    median = t[rounds / 2];
    bench_free_kvs(&in->links);
    bench_free_kvs(&in->services);
    bench_free_kvs(&in->apps);
    free(in);
    free(t);
    return median;
}

int main(int argc, char **argv)
{
    size_t nlinks = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000;
    size_t nservices = argc > 2 ? strtoul(argv[2], NULL, 10) : 10000;
    int rounds = argc > 3 ? atoi(argv[3]) : 20;
    if (nlinks < 10 || nservices < nlinks || rounds < 1) {
        fprintf(stderr, "usage: %s [LINKS>=10 SERVICES>=LINKS ROUNDS>=1]\n", argv[0]);
        return 2;
    }
    double one = bench_rebuild(nlinks, nservices, rounds);
    double two = bench_rebuild(2 * nlinks, 2 * nservices, rounds);
    printf("ambassador table rebuild, %d local containers, median of %d:\n", BENCH_CONTAINERS,
           rounds);
    printf("  %6zu links, %6zu services: %8.2f ms\n", nlinks, nservices, one * 1e3);
    printf("  %6zu links, %6zu services: %8.2f ms\n", 2 * nlinks, 2 * nservices, two * 1e3);
    printf("  growth when the input doubles: %.2fx (2.0 is linear, 4.0 quadratic)\n", two / one);
    return 0;
}
