/* metrics.c - /metrics in Prometheus text format (version 0.0.4).
 *
 * Request counters are process-wide atomics bumped as each request completes;
 * the cluster's figures (apps, instances by state, hosts) are counted from the
 * store's snapshot when scraped, so they cost nothing between scrapes. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "dokkaa/keys.h"

#define METRICS_STATUSES 600

static atomic_ullong metrics_requests[METRICS_STATUSES]; /* by status code */
static atomic_int metrics_events_streams, metrics_logs_streams;

void metrics_count_request(unsigned status)
{
    if (status < METRICS_STATUSES)
        atomic_fetch_add(&metrics_requests[status], 1);
}

void metrics_stream(int delta_events, int delta_logs)
{
    atomic_fetch_add(&metrics_events_streams, delta_events);
    atomic_fetch_add(&metrics_logs_streams, delta_logs);
}

static void metrics_requests_text(FILE *out)
{
    fprintf(out, "# HELP dokkaa_builder_requests_total HTTP requests answered, by status.\n"
                 "# TYPE dokkaa_builder_requests_total counter\n");
    for (unsigned s = 100; s < METRICS_STATUSES; s++) {
        unsigned long long n = atomic_load(&metrics_requests[s]);
        if (n)
            fprintf(out, "dokkaa_builder_requests_total{code=\"%u\"} %llu\n", s, n);
    }
    fprintf(out, "# HELP dokkaa_builder_streams Open streams (events, logs).\n"
                 "# TYPE dokkaa_builder_streams gauge\n"
                 "dokkaa_builder_streams{kind=\"events\"} %d\n"
                 "dokkaa_builder_streams{kind=\"logs\"} %d\n",
              atomic_load(&metrics_events_streams), atomic_load(&metrics_logs_streams));
}

/* Instances by the state their conductors report; a status that does not decode
 * is no report (as in the API's views). */
static void metrics_states_text(FILE *out, const store_snap *snap)
{
    const etcd_kv *kv;
    keys_status st;
    size_t count[KEYS_STATE_INVALID + 1] = {0};
    size_t n = store_range(snap, KEYS_STATUSES, &kv);
    for (size_t i = 0; i < n; i++)
        if (keys_is(kv[i].key, KEYS_STATUS, NULL) &&
            keys_status_decode(kv[i].value, kv[i].value_len, &st, NULL) == 0 &&
            (size_t)st.state < sizeof count / sizeof *count)
            count[st.state]++;
    fprintf(out, "# HELP dokkaa_instances Instances by reported state.\n"
                 "# TYPE dokkaa_instances gauge\n");
    for (size_t s = 0; s < sizeof count / sizeof *count; s++)
        if (count[s])
            fprintf(out, "dokkaa_instances{state=\"%s\"} %zu\n",
                    keys_state_name((enum keys_state)s), count[s]);
}

/* How many keys of range are of kind. */
static size_t metrics_count_keys(const store_snap *snap, const char *range, enum keys_kind kind)
{
    const etcd_kv *kv;
    size_t n = store_range(snap, range, &kv), count = 0;
    for (size_t i = 0; i < n; i++)
        count += keys_is(kv[i].key, kind, NULL);
    return count;
}

static void metrics_cluster_text(FILE *out, builder *b)
{
    const etcd_kv *kv;
    store_snap *snap = store_acquire(b->store);
    fprintf(out, "# HELP dokkaa_manifests Manifests stored.\n# TYPE dokkaa_manifests gauge\n"
                 "dokkaa_manifests %zu\n"
                 "# HELP dokkaa_hosts Live hosts.\n# TYPE dokkaa_hosts gauge\n"
                 "dokkaa_hosts %zu\n"
                 "# HELP dokkaa_builder_store_keys Keys in this builder's copy of etcd.\n"
                 "# TYPE dokkaa_builder_store_keys gauge\n"
                 "dokkaa_builder_store_keys %zu\n"
                 "# HELP dokkaa_builder_store_revision The etcd revision of that copy.\n"
                 "# TYPE dokkaa_builder_store_revision gauge\n"
                 "dokkaa_builder_store_revision %lld\n",
            metrics_count_keys(snap, KEYS_APPS, KEYS_MANIFEST),
            metrics_count_keys(snap, KEYS_HOSTS, KEYS_HOST), store_range(snap, "/", &kv),
            (long long)store_revision(snap));
    metrics_states_text(out, snap);
    store_release(snap);
}

enum MHD_Result metrics_handle(builder_req *r)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out)
        return MHD_NO;
    metrics_requests_text(out);
    metrics_cluster_text(out, r->b);
    bool ok = fclose(out) == 0;
    enum MHD_Result ret =
        ok ? reply_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", text, len)
           : MHD_NO;
    free(text);
    return ret;
}
