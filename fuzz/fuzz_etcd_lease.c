/* fuzz_etcd_lease.c - libFuzzer harness of the etcd client's lease decoders and of
 * the revision a watch starts from (lib/etcd.c via etcd_internal.h). The first
 * line names the answer ("grant", "keepalive", "keys", "start"), the rest is its
 * JSON body. Invariants: a granted lease is positive, a TTL is never negative,
 * lease keys are all decoded with their lease, a watch starts at 1..INT64_MAX. */
#include <string.h>

#include "etcd_internal.h"
#include "fuzz.h"

static const char *const fuzz_answers[] = {"grant", "keepalive", "keys", "start"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *body;
    size_t len;
    int kind = fuzz_variant(data, size, fuzz_answers, sizeof fuzz_answers / sizeof *fuzz_answers,
                            &body, &len);
    json_t *resp = kind < 0 ? NULL : json_loadb((const char *)body, len, 0, NULL);
    err_t err = {0};
    int64_t v = -1;
    etcd_kvs keys;
    etcd_keepalive ka;
    if (!resp)
        return 0;
    switch (kind) {
    case 0:
        if (etcd_lease_grant_decode(resp, &v, &err) == 0)
            FUZZ_CHECK(v > 0);
        break;
    case 1:
        if (etcd_lease_keepalive_decode(resp, 77, &ka, &err) == 0)
            FUZZ_CHECK(ka.ttl >= 0 && ka.term >= 0);
        else
            FUZZ_CHECK(fuzz_utf8(err.msg) || !json_is_object(resp));
        break;
    case 2:
        if (etcd_lease_keys_decode(resp, 77, &keys, &err) == 0) {
            FUZZ_CHECK(keys.revision >= 0 && keys.revision <= ETCD_REVISION_MAX);
            for (size_t i = 0; i < keys.n; i++)
                FUZZ_CHECK(keys.kvs[i].key && keys.kvs[i].value && keys.kvs[i].lease == 77);
            etcd_kvs_free(&keys);
        } else {
            FUZZ_CHECK(keys.n == 0 && keys.kvs == NULL);
        }
        break;
    case 3:
        if (etcd_watch_start_decode(resp, &v, &err) == 0)
            FUZZ_CHECK(v >= 1);
        break;
    }
    json_decref(resp);
    return 0;
}
