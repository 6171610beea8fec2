/* fuzz_docker_events.c - libFuzzer harness of the Docker events splitter
 * (docker_events_chunk, lib/docker.c via docker_internal.h): the bytes of an
 * /events answer, fed once whole and once cut into pseudo-random chunks.
 * Invariants: both feeds hand the same events, in the same order, to the caller;
 * every event is a JSON value; nothing is left over but the tail after the last
 * newline. */
#include <string.h>

#include "docker_internal.h"
#include "fuzz.h"

struct fuzz_seen {
    uint64_t digest;
    size_t events;
};

static bool fuzz_on_event(void *ud, json_t *event)
{
    struct fuzz_seen *s = ud;
    char *text = json_dumps(event, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
    FUZZ_CHECK(text != NULL);
    for (const char *p = text; *p; p++)
        s->digest = (s->digest ^ (unsigned char)*p) * 1099511628211ull;
    s->digest = (s->digest ^ '\n') * 1099511628211ull;
    free(text);
    return ++s->events < 500; /* a consumer that stops */
}

static bool fuzz_feed(const uint8_t *data, size_t size, uint32_t seed, struct fuzz_seen *s,
                      size_t *left)
{
    struct docker_events_state st = {.fn = fuzz_on_event, .ud = s};
    bool more = true;
    *s = (struct fuzz_seen){.digest = 14695981039346656037ull};
    for (size_t at = 0; at < size && more;) {
        size_t n = seed ? fuzz_cut(&seed, size - at) : size;
        more = docker_events_chunk(&st, (const char *)data + at, n);
        at += n;
    }
    if (more)
        FUZZ_CHECK(st.len == 0 || !memchr(st.pending, '\n', st.len));
    *left = more ? st.len : 0;
    free(st.pending);
    return more;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_seen whole, cut;
    size_t lw, lc;
    bool a = fuzz_feed(data, size, 0, &whole, &lw);
    bool b = fuzz_feed(data, size, (uint32_t)size * 40503u | 1u, &cut, &lc);
    FUZZ_CHECK(a == b && lw == lc);
    FUZZ_CHECK(whole.events == cut.events && whole.digest == cut.digest);
    return 0;
}
