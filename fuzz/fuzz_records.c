/* fuzz_records.c - libFuzzer harness of the record codecs (lib/keys.c): the JSON
 * value of every record a program reads from etcd, which anyone who can write
 * etcd controls. The input's first line names the record ("status"), the rest is
 * its value. Invariants: a failure is ERR_INVALID with a message that is valid
 * UTF-8 (a status's error field can carry it on); a success encodes to valid JSON
 * that decodes again to the same encoding (encoders write a fixed order, so an
 * unchanged record is the same bytes and is not written again). */
#include <string.h>

#include "dokkaa/keys.h"
#include "fuzz.h"

static const char *const fuzz_records[] = {
    "placement", "status", "service", "host", "link", "leader",
    "rollout", "author", "revision", "token",
};

/* Decode json as record kind into a fresh value, encode it: the encoding (free it),
 * or NULL when it does not decode. */
static char *fuzz_decode_encode(int kind, const char *json, size_t len)
{
    err_t err = {0};
    char *out = NULL;
    int rc = -1;
    union {
        keys_placement placement;
        keys_status status;
        keys_service service;
        keys_host host;
        keys_link link;
        keys_leader leader;
        keys_rollout rollout;
        keys_author author;
        keys_revision revision;
        keys_token token;
    } r;
    switch (kind) {
#define FUZZ_RECORD(i, name)                                                               \
    case i:                                                                                \
        if ((rc = keys_##name##_decode(json, len, &r.name, &err)) == 0)                    \
            out = keys_##name##_encode(&r.name);                                           \
        break;
    FUZZ_RECORD(0, placement)
    FUZZ_RECORD(1, status)
    FUZZ_RECORD(2, service)
    FUZZ_RECORD(3, host)
    FUZZ_RECORD(4, link)
    FUZZ_RECORD(5, leader)
    FUZZ_RECORD(6, rollout)
    FUZZ_RECORD(7, author)
    FUZZ_RECORD(8, revision)
    FUZZ_RECORD(9, token)
#undef FUZZ_RECORD
    }
    if (kind == 8 && rc == 0)
        keys_revision_free(&r.revision);
    if (rc < 0) {
        FUZZ_CHECK(err.code == ERR_INVALID);
        FUZZ_CHECK(fuzz_utf8(err.msg));
        return NULL;
    }
    FUZZ_CHECK(out != NULL);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *json;
    size_t len;
    int kind = fuzz_variant(data, size, fuzz_records, sizeof fuzz_records / sizeof *fuzz_records,
                            &json, &len);
    if (kind < 0)
        return 0;
    char *once = fuzz_decode_encode(kind, (const char *)json, len);
    if (!once)
        return 0;
    json_t *parsed = json_loads(once, 0, NULL);
    FUZZ_CHECK(json_is_object(parsed));
    json_decref(parsed);
    char *twice = fuzz_decode_encode(kind, once, strlen(once));
    FUZZ_CHECK(twice != NULL);
    FUZZ_CHECK(strcmp(once, twice) == 0);
    free(once);
    free(twice);
    return 0;
}
