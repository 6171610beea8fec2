/* fuzz_docker_demux.c - libFuzzer harness of the Docker logs demultiplexer
 * (docker_demux_feed, lib/docker.c): the bytes of a logs answer, fed once whole
 * and once cut into pseudo-random chunks. Invariants: both feeds give the same
 * bytes on each stream, end the same way (consumed, or a header that is not a
 * frame's) and agree on whether the stream ends on a frame boundary; no payload is
 * empty, and no more comes out than went in. */
#include <string.h>

#include "dokkaa/docker.h"
#include "fuzz.h"

struct fuzz_out {
    uint64_t digest[4]; /* per stream */
    size_t bytes;
};

static bool fuzz_on_frame(void *ud, enum docker_stream stream, const char *data, size_t len)
{
    struct fuzz_out *o = ud;
    FUZZ_CHECK(len > 0 && (unsigned)stream <= DOCKER_SYSERR);
    for (size_t i = 0; i < len; i++)
        o->digest[stream] = (o->digest[stream] ^ (unsigned char)data[i]) * 1099511628211ull;
    o->bytes += len;
    return true;
}

static int fuzz_feed(const uint8_t *data, size_t size, uint32_t seed, struct fuzz_out *o,
                     docker_demux *dm)
{
    err_t err = {0};
    int rc = 0;
    memset(o, 0, sizeof *o);
    docker_demux_init(dm);
    for (size_t at = 0; at < size && rc == 0;) {
        size_t n = seed ? fuzz_cut(&seed, size - at) : size;
        rc = docker_demux_feed(dm, (const char *)data + at, n, fuzz_on_frame, o, &err);
        at += n;
    }
    if (rc < 0)
        FUZZ_CHECK(err.code == ERR_REMOTE && fuzz_utf8(err.msg));
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_out whole, cut;
    docker_demux a, b;
    int ra = fuzz_feed(data, size, 0, &whole, &a);
    int rb = fuzz_feed(data, size, (uint32_t)size * 2654435761u | 1u, &cut, &b);
    FUZZ_CHECK(ra == rb);
    FUZZ_CHECK(memcmp(whole.digest, cut.digest, sizeof whole.digest) == 0);
    FUZZ_CHECK(whole.bytes == cut.bytes && whole.bytes <= size);
    FUZZ_CHECK(docker_demux_at_boundary(&a) == docker_demux_at_boundary(&b));
    return 0;
}
