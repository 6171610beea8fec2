/* fuzz_manifest.c - libFuzzer harness of the manifest parser (lib/manifest.c): any
 * bytes a user can PUT. Invariants: a failure is ERR_INVALID with a message that is
 * valid UTF-8 (the v2 endpoint and the API answer it in JSON) and leaves the
 * manifest empty; a success is a manifest within its documented bounds, and the
 * same text always hashes the same. */
#include <string.h>

#include "dokkaa/manifest.h"
#include "fuzz.h"

static bool fuzz_sorted(char *const *names, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (strcmp(names[i - 1], names[i]) >= 0)
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    manifest m, again;
    err_t err = {0};
    static const manifest empty;
    if (manifest_parse((const char *)data, size, &m, &err) < 0) {
        FUZZ_CHECK(err.code == ERR_INVALID);
        FUZZ_CHECK(fuzz_utf8(err.msg));
        FUZZ_CHECK(memcmp(&m, &empty, sizeof m) == 0);
        return 0;
    }
    FUZZ_CHECK(m.image && *m.image);
    FUZZ_CHECK(m.scale >= 0 && m.scale <= 1000);
    FUZZ_CHECK(strlen(m.hash) == 16 && strspn(m.hash, "0123456789abcdef") == 16);
    FUZZ_CHECK(fuzz_sorted(m.links, m.nlinks));
    for (size_t i = 1; i < m.nservices; i++)
        FUZZ_CHECK(strcmp(m.services[i - 1].name, m.services[i].name) < 0);
    for (size_t i = 1; i < m.nenv; i++)
        FUZZ_CHECK(strcmp(m.env[i - 1].name, m.env[i].name) < 0);
    FUZZ_CHECK(m.stop_grace >= 0 && m.stop_grace <= 3600);
    int batch = manifest_batch(&m);
    FUZZ_CHECK(batch >= 1);
    FUZZ_CHECK(manifest_parse((const char *)data, size, &again, &err) == 0);
    FUZZ_CHECK(strcmp(m.hash, again.hash) == 0 && m.scale == again.scale);
    manifest_free(&again);
    manifest_free(&m);
    return 0;
}
