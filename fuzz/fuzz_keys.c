/* fuzz_keys.c - libFuzzer harness of the key parser (lib/keys.c) and the naming
 * rules (lib/names.c) on any text a key or a name can be. Invariants (keys.h):
 * a key that parses is the one key its parts build, so whoever deletes it by its
 * parts deletes it; keys_is agrees with keys_parse; a failure is ERR_INVALID with a
 * valid UTF-8 message; a label is what names_label_reason says; names_quote stays
 * in its buffer and cuts no character of valid text in half. */
#include <string.h>

#include "dokkaa/keys.h"
#include "dokkaa/names.h"
#include "fuzz.h"

/* The key keys.h's builders make of k's parts ("" for none). */
static const char *fuzz_rebuild(const keys_key *k, char *key)
{
    switch (k->kind) {
    case KEYS_MANIFEST: return keys_manifest_key(key, k->app, k->name);
    case KEYS_INSTANCE: return keys_instance_key(key, k->app, k->name, k->instance);
    case KEYS_HOST: return keys_host_key(key, k->host);
    case KEYS_ALIVE: return keys_alive_key(key, k->host);
    case KEYS_STATUS: return keys_status_key(key, k->app, k->name, k->instance);
    case KEYS_SERVICE: return keys_service_key(key, k->app, k->service, k->container, k->host);
    case KEYS_LINK: return keys_link_key(key, k->app, k->service);
    case KEYS_LEADER: return strcpy(key, KEYS_LEADER_KEY);
    case KEYS_REBALANCE: return strcpy(key, KEYS_REBALANCE_KEY);
    case KEYS_TOKEN: return keys_token_key(key, k->hash);
    case KEYS_ROLLOUT: return keys_rollout_key(key, k->app, k->name);
    case KEYS_AUTHOR: return keys_author_key(key, k->app, k->name);
    case KEYS_REVISION: return keys_revision_key(key, k->app, k->name, k->revision);
    case KEYS_OTHER: break;
    }
    return "";
}

static void fuzz_key(const char *text)
{
    keys_key k, again;
    err_t err = {0};
    char key[KEYS_SIZE];
    if (keys_parse(text, &k, &err) < 0) {
        FUZZ_CHECK(k.kind == KEYS_OTHER);
        FUZZ_CHECK(err.code == ERR_INVALID);
        if (fuzz_utf8(text))
            FUZZ_CHECK(fuzz_utf8(err.msg));
        for (int kind = KEYS_MANIFEST; kind <= KEYS_ALIVE; kind++) /* the last kind */
            FUZZ_CHECK(!keys_is(text, (enum keys_kind)kind, &again));
        return;
    }
    FUZZ_CHECK(k.kind != KEYS_OTHER);
    FUZZ_CHECK(strcmp(fuzz_rebuild(&k, key), text) == 0);
    FUZZ_CHECK(keys_is(text, k.kind, &again) && memcmp(&k, &again, sizeof k) == 0);
}

static void fuzz_names(const char *text, size_t len)
{
    char quoted[128], buf[KEYS_SIZE];
    err_t err = {0};
    const char *reason = names_label_reason(text, len);
    FUZZ_CHECK((names_check_label_n("name", text, len, &err) == 0) == (reason == NULL));
    if (!reason) {
        FUZZ_CHECK(len >= 1 && len <= NAMES_MAX_LABEL && !strstr(text, "--"));
        FUZZ_CHECK(names_container(buf, sizeof buf, text, text, 3) > 0);
        FUZZ_CHECK(names_service_env(buf, sizeof buf, text) > 0);
        FUZZ_CHECK(strspn(buf, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == strlen(buf));
    }
    size_t cut = names_utf8_cut(text, len < NAMES_QUOTE_MAX ? len : NAMES_QUOTE_MAX);
    FUZZ_CHECK(cut <= len);
    names_quote(text, len, quoted, sizeof quoted);
    FUZZ_CHECK(strlen(quoted) < sizeof quoted && quoted[0] == '"');
    names_quote(text, len, quoted, 16); /* the smallest buffer names.h allows */
    FUZZ_CHECK(strlen(quoted) < 16);
    if (fuzz_utf8(text)) {
        names_quote(text, len, quoted, sizeof quoted);
        FUZZ_CHECK(fuzz_utf8(quoted));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0'; /* a key or name is a C string: it ends at the first NUL */
    fuzz_key(text);
    fuzz_names(text, strlen(text));
    free(text);
    return 0;
}
