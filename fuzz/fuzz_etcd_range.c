/* fuzz_etcd_range.c - libFuzzer harness of the etcd client's range decoder
 * (lib/etcd.c via etcd_internal.h): the body of a /v3/kv/range or deleterange
 * answer as a member, or anything posing as one, could send it. Invariants: a
 * failure leaves nothing allocated; a success has its revisions in
 * 0..ETCD_REVISION_MAX and every value NUL-terminated at value_len. */
#include <string.h>

#include "etcd_internal.h"
#include "fuzz.h"

static void fuzz_decode(const json_t *resp, const char *field)
{
    etcd_kvs kvs;
    err_t err = {0};
    if (etcd_kvs_decode(resp, field, &kvs, &err) < 0) {
        FUZZ_CHECK(kvs.n == 0 && kvs.kvs == NULL);
        FUZZ_CHECK(err.code == ERR_REMOTE || err.code == ERR_SYS);
        return;
    }
    FUZZ_CHECK(kvs.revision >= 0 && kvs.revision <= ETCD_REVISION_MAX);
    for (size_t i = 0; i < kvs.n; i++) {
        const etcd_kv *kv = &kvs.kvs[i];
        FUZZ_CHECK(kv->key && kv->value && kv->value[kv->value_len] == '\0');
        FUZZ_CHECK(kv->mod_revision >= 0 && kv->mod_revision <= ETCD_REVISION_MAX);
        FUZZ_CHECK(kv->create_revision >= 0 && kv->create_revision <= ETCD_REVISION_MAX);
        FUZZ_CHECK(kv->version >= 0 && kv->lease >= 0);
    }
    etcd_kvs_free(&kvs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *resp = json_loadb((const char *)data, size, 0, NULL);
    if (!resp)
        return 0;
    fuzz_decode(resp, "kvs");
    fuzz_decode(resp, "prev_kvs");
    json_decref(resp);
    return 0;
}
