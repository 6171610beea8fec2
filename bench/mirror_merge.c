/* bench/mirror_merge.c - a burst of watch events into a mirror (lib/mirror.c,
 * mirror_merge) at a hundred hosts' size, in process.
 *
 * The builder mirrors every key under "/"; when the scheduler places thousands of
 * instances at once, their placements, statuses and announcements reach it as
 * batches of about a hundred events (a transaction each). This fills a mirror with
 * KEYS keys, then applies BURST new keys, interleaved with the old ones, in
 * batches of BATCH: once merged a batch at a time, and once an event at a time
 * (each event a batch of its own, the way every batch was applied before
 * mirror_merge). Prints both times and their ratio, then the same at twice the
 * size (2.0 is linear, 4.0 quadratic). Nothing leaves the process.
 *
 *   build/bench/mirror_merge [KEYS BURST BATCH]   (default 30000 30000 100) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mirror_internal.h"

static double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Seconds to apply burst keys into a mirror of keys keys, batch events per call. */
static double bench_run(size_t keys, size_t burst, size_t batch)
{
    etcd_kvs kvs = {0};
    size_t total = keys + burst;
    etcd_event *ev = calloc(total, sizeof *ev);
    char (*names)[48] = calloc(total, sizeof *names);
    if (!ev || !names) {
        perror("calloc");
        exit(1);
    }
    /* the old keys are the even numbers (one merge), the burst the odd ones, shuffled */
    for (size_t i = 0; i < total; i++) {
        size_t num = i < keys ? 2 * i : 2 * (i - keys) + 1;
        snprintf(names[i], sizeof names[i], "/apps/a/n/instances/%08zu", num);
        ev[i] = (etcd_event){.type = ETCD_EVENT_PUT, .kv = {.key = names[i], .value = "{\"host\":\"h1\"}"}};
    }
    unsigned seed = 7;
    for (size_t i = total - 1; i > keys; i--) {
        size_t j = keys + (size_t)rand_r(&seed) % (i - keys + 1);
        etcd_event t = ev[i];
        ev[i] = ev[j];
        ev[j] = t;
    }
    if (mirror_merge(&kvs, ev, keys) < 0)
        exit(1);
    double t0 = bench_now();
    for (size_t at = keys; at < total; at += batch)
        if (mirror_merge(&kvs, &ev[at], at + batch <= total ? batch : total - at) < 0)
            exit(1);
    double took = bench_now() - t0;
    if (kvs.n != total) {
        fprintf(stderr, "mirror_merge: %zu keys, expected %zu\n", kvs.n, total);
        exit(1);
    }
    etcd_kvs_free(&kvs);
    free(ev);
    free(names);
    return took;
}

int main(int argc, char **argv)
{
    size_t keys = argc > 1 ? strtoul(argv[1], NULL, 10) : 30000;
    size_t burst = argc > 2 ? strtoul(argv[2], NULL, 10) : 30000;
    size_t batch = argc > 3 ? strtoul(argv[3], NULL, 10) : 100;
    if (!keys || !burst || !batch) {
        fprintf(stderr, "usage: mirror_merge [KEYS BURST BATCH], each > 0\n");
        return 2;
    }
    double merged[3], one[3];
    for (size_t scale = 1; scale <= 2; scale++) {
        merged[scale] = bench_run(keys * scale, burst * scale, batch);
        one[scale] = bench_run(keys * scale, burst * scale, 1);
        printf("mirror of %zu keys, %zu new in batches of %zu: merged %.1f ms, "
               "an event at a time %.1f ms: %.3fx\n",
               keys * scale, burst * scale, batch, merged[scale] * 1e3, one[scale] * 1e3,
               merged[scale] / one[scale]);
    }
    printf("growth when the input doubles: merged %.2fx, an event at a time %.2fx\n",
           merged[2] / merged[1], one[2] / one[1]);
    return 0;
}
