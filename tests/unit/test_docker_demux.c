/* test_docker_demux.c - unit tests for the demultiplexer of the Engine API's log
 * stream (docker_demux_feed in lib/docker.c): frames cut at every byte position,
 * several frames in one chunk, zero-length frames, a stop asked by the callback,
 * and headers that are not a frame's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dokkaa/docker.h"

/* What the callback got: each stream's bytes, and the calls in order. */
typedef struct sink {
    char out[2][4096]; /* [0] stdout, [1] stderr */
    size_t len[2];
    char order[256];   /* '1' or '2' per call */
    size_t calls;
    size_t empty_calls;
    size_t stop_after; /* return false on this call (1-based); 0 = never */
} sink;

static bool sink_fn(void *ud, enum docker_stream stream, const char *data, size_t len)
{
    sink *s = ud;
    assert_true(stream == DOCKER_STDOUT || stream == DOCKER_STDERR);
    int i = stream == DOCKER_STDOUT ? 0 : 1;
    assert_true(s->len[i] + len <= sizeof s->out[i]);
    memcpy(s->out[i] + s->len[i], data, len);
    s->len[i] += len;
    s->empty_calls += len == 0;
    if (s->calls < sizeof s->order)
        s->order[s->calls] = (char)('0' + stream);
    s->calls++;
    return !(s->stop_after && s->calls == s->stop_after);
}

/* Append one frame (header + payload) to buf at *n. */
static void frame(unsigned char *buf, size_t *n, int stream, const char *payload, size_t len)
{
    unsigned char h[8] = {(unsigned char)stream, 0, 0, 0, (unsigned char)(len >> 24),
                          (unsigned char)(len >> 16), (unsigned char)(len >> 8),
                          (unsigned char)len};
    memcpy(buf + *n, h, 8);
    memcpy(buf + *n + 8, payload, len);
    *n += 8 + len;
}

static void assert_out(const sink *s, const char *out, const char *errout)
{
    assert_int_equal(s->len[0], strlen(out));
    assert_memory_equal(s->out[0], out, s->len[0]);
    assert_int_equal(s->len[1], strlen(errout));
    assert_memory_equal(s->out[1], errout, s->len[1]);
    assert_int_equal(s->empty_calls, 0);
}

/* Three frames, one of them empty, as the engine would send them. */
static size_t sample(unsigned char *buf)
{
    size_t n = 0;
    frame(buf, &n, 1, "line 1\n", 7);
    frame(buf, &n, 2, "", 0);
    frame(buf, &n, 2, "oops\n", 5);
    frame(buf, &n, 1, "line 2\nline 3\n", 14);
    return n;
}

static void test_several_frames_in_one_chunk(void **state)
{
    (void)state;
    unsigned char buf[256];
    size_t n = sample(buf);
    docker_demux dm;
    sink s = {0};
    err_t err;
    docker_demux_init(&dm);
    assert_int_equal(docker_demux_feed(&dm, (char *)buf, n, sink_fn, &s, &err), 0);
    assert_out(&s, "line 1\nline 2\nline 3\n", "oops\n");
    assert_int_equal(s.calls, 3);
    assert_memory_equal(s.order, "121", 3);
    assert_true(docker_demux_at_boundary(&dm));
}

/* Two chunks, cut at every position: headers, payloads and the empty frame split
 * everywhere give the same bytes, and a cut in the middle is not a boundary. */
static void test_split_at_every_position(void **state)
{
    (void)state;
    unsigned char buf[256];
    size_t n = sample(buf);
    for (size_t cut = 0; cut <= n; cut++) {
        docker_demux dm;
        sink s = {0};
        err_t err;
        docker_demux_init(&dm);
        assert_int_equal(docker_demux_feed(&dm, (char *)buf, cut, sink_fn, &s, &err), 0);
        bool boundary = cut == 0 || cut == 15 || cut == 23 || cut == 36 || cut == n;
        assert_int_equal(docker_demux_at_boundary(&dm), boundary);
        assert_int_equal(docker_demux_feed(&dm, (char *)buf + cut, n - cut, sink_fn, &s, &err), 0);
        assert_out(&s, "line 1\nline 2\nline 3\n", "oops\n");
        assert_true(docker_demux_at_boundary(&dm));
    }
}

/* The worst case: one byte at a time. */
static void test_one_byte_at_a_time(void **state)
{
    (void)state;
    unsigned char buf[256];
    size_t n = sample(buf);
    docker_demux dm;
    sink s = {0};
    err_t err;
    docker_demux_init(&dm);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(docker_demux_feed(&dm, (char *)buf + i, 1, sink_fn, &s, &err), 0);
    assert_out(&s, "line 1\nline 2\nline 3\n", "oops\n");
    assert_int_equal(s.calls, 7 + 5 + 14);
}

/* Only empty frames, and an empty chunk: no call at all. */
static void test_zero_length_frames(void **state)
{
    (void)state;
    unsigned char buf[64];
    size_t n = 0;
    frame(buf, &n, 1, "", 0);
    frame(buf, &n, 2, "", 0);
    frame(buf, &n, 1, "", 0);
    docker_demux dm;
    sink s = {0};
    err_t err;
    docker_demux_init(&dm);
    assert_int_equal(docker_demux_feed(&dm, (char *)buf, 0, sink_fn, &s, &err), 0);
    assert_int_equal(docker_demux_feed(&dm, (char *)buf, n, sink_fn, &s, &err), 0);
    assert_int_equal(s.calls, 0);
    assert_true(docker_demux_at_boundary(&dm));
}

/* A size with every byte in use, read big-endian: 0x01020304 bytes announced, a
 * few given; the demuxer waits for the rest rather than taking a header from it. */
static void test_size_is_big_endian(void **state)
{
    (void)state;
    unsigned char buf[16] = {1, 0, 0, 0, 0x01, 0x02, 0x03, 0x04, 1, 2, 3, 4, 5, 6, 7, 8};
    docker_demux dm;
    sink s = {0};
    err_t err;
    docker_demux_init(&dm);
    assert_int_equal(docker_demux_feed(&dm, (char *)buf, sizeof buf, sink_fn, &s, &err), 0);
    assert_int_equal(dm.left, 0x01020304u - 8);
    assert_int_equal(s.len[0], 8);
    assert_false(docker_demux_at_boundary(&dm));
}

/* The callback asks to stop: feed says so and gives nothing more. */
static void test_callback_stops(void **state)
{
    (void)state;
    unsigned char buf[256];
    size_t n = sample(buf);
    docker_demux dm;
    sink s = {.stop_after = 2};
    err_t err;
    docker_demux_init(&dm);
    assert_int_equal(docker_demux_feed(&dm, (char *)buf, n, sink_fn, &s, &err), 1);
    assert_int_equal(s.calls, 2);
    assert_out(&s, "line 1\n", "oops\n");
}

/* Bytes that are not frames: a TTY's raw output, an error answer in JSON, a stream
 * byte out of range, non-zero padding. The error shows the header; later feeds fail. */
static void test_bad_header(void **state)
{
    (void)state;
    static const struct {
        const char *bytes;
        size_t len;
        const char *expect;
    } bad[] = {
        {"{\"message\":\"No such container\"}", 31, "7b 22 6d 65 73 73 61 67"},
        {"hello world\n", 12, "68 65 6c 6c 6f 20 77 6f"},
        {"\x04\0\0\0\0\0\0\x01x", 9, "04 00 00 00 00 00 00 01"},
        {"\x01\0\x01\0\0\0\0\x01x", 9, "01 00 01 00 00 00 00 01"},
        {"\x02\0\0\xff\0\0\0\x01x", 9, "02 00 00 ff 00 00 00 01"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        docker_demux dm;
        sink s = {0};
        err_t err = {0};
        docker_demux_init(&dm);
        assert_int_equal(docker_demux_feed(&dm, bad[i].bytes, bad[i].len, sink_fn, &s, &err), -1);
        assert_int_equal(err.code, ERR_REMOTE);
        assert_non_null(strstr(err.msg, bad[i].expect));
        assert_int_equal(s.calls, 0);
        assert_false(docker_demux_at_boundary(&dm));
        unsigned char good[32];
        size_t n = 0;
        frame(good, &n, 1, "x", 1);
        assert_int_equal(docker_demux_feed(&dm, (char *)good, n, sink_fn, &s, &err), -1);
        assert_int_equal(s.calls, 0);
    }
}

/* A bad header after good frames, cut inside it: the good output came through. */
static void test_bad_header_after_good_frames(void **state)
{
    (void)state;
    unsigned char buf[64];
    size_t n = 0;
    frame(buf, &n, 1, "ok\n", 3);
    memcpy(buf + n, "\x01\0\0\x07\0\0\0\x01", 8);
    n += 8;
    docker_demux dm;
    sink s = {0};
    err_t err;
    docker_demux_init(&dm);
    assert_int_equal(docker_demux_feed(&dm, (char *)buf, n - 4, sink_fn, &s, &err), 0);
    assert_int_equal(docker_demux_feed(&dm, (char *)buf + n - 4, 4, sink_fn, &s, &err), -1);
    assert_out(&s, "ok\n", "");
}

/* Stream 3 (the engine's own errors) is a frame like the others. */
static bool syserr_fn(void *ud, enum docker_stream stream, const char *data, size_t len)
{
    (void)data;
    size_t *seen = ud;
    assert_int_equal(stream, DOCKER_SYSERR);
    *seen += len;
    return true;
}

static void test_system_error_stream(void **state)
{
    (void)state;
    unsigned char buf[64];
    size_t n = 0, seen = 0;
    frame(buf, &n, 3, "boom", 4);
    docker_demux dm;
    err_t err;
    docker_demux_init(&dm);
    assert_int_equal(docker_demux_feed(&dm, (char *)buf, n, syserr_fn, &seen, &err), 0);
    assert_int_equal(seen, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_several_frames_in_one_chunk),
        cmocka_unit_test(test_split_at_every_position),
        cmocka_unit_test(test_one_byte_at_a_time),
        cmocka_unit_test(test_zero_length_frames),
        cmocka_unit_test(test_size_is_big_endian),
        cmocka_unit_test(test_callback_stops),
        cmocka_unit_test(test_bad_header),
        cmocka_unit_test(test_bad_header_after_good_frames),
        cmocka_unit_test(test_system_error_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
