/* fuzz_etcd_watch.c - libFuzzer harness of the etcd watch stream (lib/etcd.c via
 * etcd_internal.h): the bytes of a /v3/watch answer, fed once whole and once cut
 * into pseudo-random chunks, as the network cuts them. Invariants: both feeds
 * deliver the same events and end in the same state (the splitter does not depend
 * on where chunks end); no event below the revision the watch resumes from is
 * delivered; the watch's next revision is always the last delivered + 1. */
#include <string.h>

#include "etcd_internal.h"
#include "fuzz.h"

/* What one feed saw: a running digest of the events, their number, the floor. */
struct fuzz_seen {
    uint64_t digest;
    size_t events;
    int64_t floor; /* the watch's next revision before the batch */
    struct etcd_watch *w;
};

static uint64_t fuzz_mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static bool fuzz_on_events(void *ud, const etcd_event *events, size_t n)
{
    struct fuzz_seen *s = ud;
    FUZZ_CHECK(n > 0);
    for (size_t i = 0; i < n; i++) {
        const etcd_kv *kv = &events[i].kv;
        FUZZ_CHECK(kv->mod_revision >= s->floor && kv->mod_revision <= ETCD_REVISION_MAX);
        FUZZ_CHECK(kv->key && kv->value && kv->value[kv->value_len] == '\0');
        s->digest = fuzz_mix(s->digest, &events[i].type, sizeof events[i].type);
        s->digest = fuzz_mix(s->digest, kv->key, strlen(kv->key) + 1);
        s->digest = fuzz_mix(s->digest, kv->value, kv->value_len);
        s->digest = fuzz_mix(s->digest, &kv->mod_revision, sizeof kv->mod_revision);
    }
    FUZZ_CHECK(s->w->next_rev == events[n - 1].kv.mod_revision + 1);
    s->floor = s->w->next_rev;
    s->events += n;
    return s->events < 1000; /* a consumer that stops: the DONE state */
}

/* Feed data in chunks cut by seed (0: whole); the state it ended in. */
static struct etcd_watch fuzz_feed(const uint8_t *data, size_t size, uint32_t seed,
                                   struct fuzz_seen *seen)
{
    struct etcd_watch w = {.fn = fuzz_on_events, .ud = seen, .next_rev = 3,
                           .state = ETCD_WATCH_RUNNING};
    *seen = (struct fuzz_seen){.digest = 14695981039346656037ull, .floor = 3, .w = &w};
    for (size_t at = 0; at < size;) {
        size_t n = seed ? fuzz_cut(&seed, size - at) : size;
        if (!etcd_watch_on_chunk(&w, (const char *)data + at, n))
            break;
        at += n;
    }
    free(w.split.buf);
    w.split.buf = NULL;
    seen->w = NULL;
    return w;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_seen whole, cut;
    struct etcd_watch a = fuzz_feed(data, size, 0, &whole);
    struct etcd_watch b = fuzz_feed(data, size, (uint32_t)size | 1u, &cut);
    FUZZ_CHECK(a.state == b.state);
    FUZZ_CHECK(whole.events == cut.events && whole.digest == cut.digest);
    FUZZ_CHECK(a.next_rev == b.next_rev && a.created == b.created);
    if (a.state == ETCD_WATCH_FAILED || a.state == ETCD_WATCH_RETRY)
        FUZZ_CHECK(fuzz_utf8(a.err.msg) && strcmp(a.err.msg, b.err.msg) == 0);
    return 0;
}
