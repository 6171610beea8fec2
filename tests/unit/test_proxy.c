/* test_proxy.c - tests of the ambassador's data path (src/ambassador/proxy.c),
 * driving the real epoll loop in a thread over loopback (127.0.0.1 only): echo
 * round trips, half-closed streams delivering every byte to a slow client,
 * refusing and blackholed instances skipped, clients closed at once when no
 * instance is left, no spinning on a reset client, listeners replaced while
 * clients connect, and a listener out of fds pausing. Backends are threads of this
 * test on ephemeral ports. Every wait has a bound (socket timeouts or polls), so a
 * bug fails a test rather than hanging it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dokkaa/log.h"
#include "proxy.h"

#define WAIT_MS 10000           /* bound of every wait that should succeed */
#define BIG (1024 * 1024)       /* bytes each way in the half-close test */

/* ---- helpers ------------------------------------------------------------------ */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Bound blocking reads and writes on fd. */
static void set_timeouts(int fd, int ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static struct sockaddr_in local_addr(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sa;
}

static int bound_port(int fd)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    return ntohs(sa.sin_port);
}

/* A listening socket on an ephemeral port of 127.0.0.1. */
static int listen_local(int backlog, int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = local_addr(0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, backlog), 0);
    *port = bound_port(fd);
    return fd;
}

/* A port nobody listens on (free a moment ago): for links, and for instances that
 * refuse. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = local_addr(0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    int port = bound_port(fd);
    close(fd);
    return port;
}

/* A blocking connection to 127.0.0.1:port with bounded reads and writes, or -1. */
static int connect_local(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = local_addr(port);
    if (fd < 0)
        return -1;
    set_timeouts(fd, WAIT_MS);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int write_all(int fd, const void *buf, size_t len)
{
    for (size_t off = 0; off < len;) {
        ssize_t n = write(fd, (const char *)buf + off, len - off);
        if (n <= 0)
            return -1;
        off += (size_t)n;
    }
    return 0;
}

static int read_all(int fd, void *buf, size_t len)
{
    for (size_t off = 0; off < len;) {
        ssize_t n = read(fd, (char *)buf + off, len - off);
        if (n <= 0)
            return -1;
        off += (size_t)n;
    }
    return 0;
}

/* Wait (bounded) until fd is readable; false on timeout. */
static bool wait_readable(int fd, int ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    return poll(&pfd, 1, ms) == 1;
}

/* Is something listening on 127.0.0.1:port? Read from /proc rather than probed
 * with a connection, which the proxy would pass on to a backend. */
static bool is_listening(int port)
{
    char line[512], want[32];
    bool found = false;
    FILE *f = fopen("/proc/net/tcp", "r");
    if (!f)
        return false;
    snprintf(want, sizeof want, "0100007F:%04X", port);
    while (!found && fgets(line, sizeof line, f)) {
        char local[64], remote[64];
        unsigned state;
        found = sscanf(line, "%*d: %63s %63s %x", local, remote, &state) == 3 &&
                strcmp(local, want) == 0 && state == 0x0A; /* TCP_LISTEN */
    }
    fclose(f);
    return found;
}

static bool wait_until_listening(int port)
{
    for (int64_t end = now_ms() + WAIT_MS; now_ms() < end; sleep_ms(5))
        if (is_listening(port))
            return true;
    return false;
}

/* FNV-1a, folded over a stream in pieces. */
static uint64_t fnv(uint64_t h, const void *buf, size_t len)
{
    const unsigned char *s = buf;
    for (size_t i = 0; i < len; i++)
        h = (h ^ s[i]) * 1099511628211u;
    return h;
}
#define FNV_INIT 14695981039346656037u

static void fill_pattern(unsigned char *buf, size_t len, uint32_t seed)
{
    for (size_t i = 0; i < len; i++) {
        seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;
        buf[i] = (unsigned char)seed;
    }
}

/* ---- the proxy under test ------------------------------------------------------- */

typedef struct harness {
    proxy *p;
    atomic_bool stop;
    pthread_t thread;
    int port; /* the link's */
    int rc;
} harness;

/* What runs, so that a failed assertion (a longjmp out of the test) does not leave
 * threads using a test's state: the objects are static, and the teardown stops
 * whatever is still registered here. */
static struct harness *running_harness;
static struct server *running_servers[4];

static void *harness_main(void *arg)
{
    harness *h = arg;
    h->rc = proxy_run(h->p, &h->stop);
    return NULL;
}

/* A table of one link on port, its instances on 127.0.0.1 at ports[0..n-1]. */
static table one_link(int port, const int *ports, size_t n)
{
    table t = {.links = calloc(1, sizeof *t.links), .n = 1};
    assert_non_null(t.links);
    table_link *l = &t.links[0];
    snprintf(l->app, sizeof l->app, "test");
    snprintf(l->service, sizeof l->service, "svc");
    l->port = port;
    static const net_cidr loopback = {.net = 0x7f000000, .mask = 0xff000000};
    l->nets = &loopback; /* the test's clients are on loopback: let them in */
    l->nnets = 1;
    l->nbackends = n;
    l->backends = n ? calloc(n, sizeof *l->backends) : NULL;
    for (size_t i = 0; i < n; i++) {
        snprintf(l->backends[i].addr, sizeof l->backends[i].addr, "127.0.0.1");
        l->backends[i].port = ports[i];
    }
    return t;
}

static void harness_start(harness *h, const int *ports, size_t n)
{
    err_t err;
    h->p = proxy_new("127.0.0.1", 0, 0, &err);
    assert_non_null(h->p);
    h->port = free_port();
    h->rc = 0;
    table t = one_link(h->port, ports, n);
    proxy_set_table(h->p, &t);
    atomic_init(&h->stop, false);
    assert_int_equal(pthread_create(&h->thread, NULL, harness_main, h), 0);
    running_harness = h;
    assert_true(wait_until_listening(h->port));
}

static void harness_stop(harness *h)
{
    table empty = {0};
    running_harness = NULL;
    atomic_store(&h->stop, true);
    proxy_set_table(h->p, &empty); /* wakes the loop, which then sees stop */
    pthread_join(h->thread, NULL);
    assert_int_equal(h->rc, 0);
    proxy_free(h->p);
}

/* ---- backends ----------------------------------------------------------------- */

typedef struct server {
    int lfd, port;
    atomic_bool stop;
    atomic_int accepted;
    pthread_t thread;
} server;

/* Accept the next connection, or -1 once stop is set. */
static int server_accept(server *s)
{
    while (!atomic_load(&s->stop)) {
        if (!wait_readable(s->lfd, 20))
            continue;
        int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        atomic_fetch_add(&s->accepted, 1);
        set_timeouts(fd, WAIT_MS);
        return fd;
    }
    return -1;
}

/* Echo each connection, one at a time, until the peer closes. */
static void *echo_main(void *arg)
{
    server *s = arg;
    char buf[4096];
    int fd;
    while ((fd = server_accept(s)) >= 0) {
        ssize_t n;
        while ((n = read(fd, buf, sizeof buf)) > 0 && write_all(fd, buf, (size_t)n) == 0)
            ;
        close(fd);
    }
    return NULL;
}

static void server_start(server *s, void *(*fn)(void *))
{
    s->lfd = listen_local(1024, &s->port);
    atomic_init(&s->stop, false);
    atomic_init(&s->accepted, 0);
    assert_int_equal(pthread_create(&s->thread, NULL, fn, s), 0);
    for (size_t i = 0; i < 4; i++)
        if (!running_servers[i]) {
            running_servers[i] = s;
            break;
        }
}

static void server_stop(server *s)
{
    for (size_t i = 0; i < 4; i++)
        if (running_servers[i] == s)
            running_servers[i] = NULL;
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    close(s->lfd);
}

static int stop_everything(void **state)
{
    (void)state;
    for (size_t i = 0; i < 4; i++)
        if (running_servers[i])
            server_stop(running_servers[i]);
    if (running_harness)
        harness_stop(running_harness);
    return 0;
}

/* One connection through the proxy: send msg, expect it back. */
static bool echo_once(int port, const char *msg)
{
    char back[256];
    size_t len = strlen(msg);
    int fd = connect_local(port);
    bool ok = fd >= 0 && len <= sizeof back && write_all(fd, msg, len) == 0 &&
              read_all(fd, back, len) == 0 && memcmp(back, msg, len) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* ---- (a) echo ------------------------------------------------------------------- */

static void test_echo_round_trip(void **state)
{
    (void)state;
    static server echo;
    static harness h;
    server_start(&echo, echo_main);
    harness_start(&h, &echo.port, 1);

    assert_true(echo_once(h.port, "hello through the ambassador"));

    /* More than one buffer's worth, written in full before reading. */
    size_t len = 100000;
    unsigned char *out = malloc(len), *back = malloc(len);
    assert_non_null(out);
    assert_non_null(back);
    fill_pattern(out, len, 7);
    int fd = connect_local(h.port);
    assert_true(fd >= 0);
    assert_int_equal(write_all(fd, out, len), 0);
    assert_int_equal(read_all(fd, back, len), 0);
    assert_memory_equal(out, back, len);
    close(fd);
    free(out);
    free(back);

    harness_stop(&h);
    server_stop(&echo);
}

/* ---- (b) half-close ----------------------------------------------------------- */

typedef struct replier {
    server s;
    atomic_bool ok; /* read to EOF, replied in full */
} replier;

/* Read to EOF, then reply with the checksum of what came and BIG bytes of pattern
 * 2, and close. */
static void *replier_main(void *arg)
{
    replier *r = arg;
    unsigned char *buf = malloc(BIG);
    int fd = server_accept(&r->s);
    if (fd < 0 || !buf) {
        free(buf);
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    uint64_t h = FNV_INIT;
    ssize_t n;
    while ((n = read(fd, buf, BIG)) > 0)
        h = fnv(h, buf, (size_t)n);
    fill_pattern(buf, BIG, 2);
    atomic_store(&r->ok, n == 0 && write_all(fd, &h, sizeof h) == 0 && write_all(fd, buf, BIG) == 0);
    close(fd);
    free(buf);
    return NULL;
}

static void test_half_close_delivers_every_byte_to_a_slow_client(void **state)
{
    (void)state;
    static replier r;
    static harness h;
    atomic_init(&r.ok, false);
    server_start(&r.s, replier_main);
    harness_start(&h, &r.s.port, 1);

    unsigned char *out = malloc(BIG), *in = malloc(BIG + 16);
    assert_non_null(out);
    assert_non_null(in);
    fill_pattern(out, BIG, 1);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small); /* a slow client */
    set_timeouts(fd, WAIT_MS);
    struct sockaddr_in sa = local_addr(h.port);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(write_all(fd, out, BIG), 0);
    assert_int_equal(shutdown(fd, SHUT_WR), 0);

    /* Read slowly, in small pieces, so that the backend is done and gone while the
     * proxy still holds its bytes. */
    size_t got = 0, room = BIG + 16; /* room for more than should come, to see if it does */
    for (int i = 0; got < room; i++) {
        ssize_t n = read(fd, in + got, room - got < 1000 ? room - got : 1000);
        if (n <= 0)
            break;
        got += (size_t)n;
        if (i % 32 == 0)
            sleep_ms(1);
    }
    close(fd);
    assert_true(atomic_load(&r.ok));
    assert_int_equal(got, sizeof(uint64_t) + BIG);
    uint64_t sum;
    memcpy(&sum, in, sizeof sum);
    assert_true(sum == fnv(FNV_INIT, out, BIG)); /* the backend got every byte */
    fill_pattern(out, BIG, 2);
    assert_memory_equal(in + sizeof sum, out, BIG); /* and so did the client */
    free(out);
    free(in);

    harness_stop(&h);
    server_stop(&r.s);
}

/* ---- (c) a refusing instance is skipped ------------------------------------------ */

static void test_refusing_instance_is_skipped(void **state)
{
    (void)state;
    static server echo;
    static harness h;
    server_start(&echo, echo_main);
    int ports[] = {free_port(), echo.port};
    harness_start(&h, ports, 2);

    int served = 0;
    for (int i = 0; i < 20; i++) {
        char msg[32];
        snprintf(msg, sizeof msg, "ping %d", i);
        served += echo_once(h.port, msg);
    }
    assert_int_equal(served, 20);
    assert_int_equal(atomic_load(&echo.accepted), 20);

    harness_stop(&h);
    server_stop(&echo);
}

/* ---- (d) nothing left: the client is closed at once -------------------------------- */

static void assert_closed_at_once(int port)
{
    int fd = connect_local(port);
    assert_true(fd >= 0);
    int64_t start = now_ms();
    assert_true(wait_readable(fd, 1000));
    char c;
    ssize_t n = read(fd, &c, 1);
    assert_true(n == 0 || (n < 0 && errno == ECONNRESET));
    assert_true(now_ms() - start < 1000);
    close(fd);
}

static void test_no_instance_closes_the_client_at_once(void **state)
{
    (void)state;
    static harness h;
    harness_start(&h, NULL, 0);
    for (int i = 0; i < 5; i++) /* refused repeatedly: logged once, see bug 5 */
        assert_closed_at_once(h.port);
    harness_stop(&h);
}

static void test_every_instance_refusing_closes_the_client_at_once(void **state)
{
    (void)state;
    static harness h;
    int ports[] = {free_port(), free_port()};
    harness_start(&h, ports, 2);
    assert_closed_at_once(h.port);
    harness_stop(&h);
}

/* ---- (e) a blackholed instance is given up after the connect deadline ------------- */

/* A listener whose accept queue is full: Linux then drops SYNs, so connects to it
 * hang. fillers[] keeps the connections that fill it. */
typedef struct blackhole {
    int port, lfd, fillers[8], n;
} blackhole;

static void blackhole_close(blackhole *b)
{
    for (int i = 0; i < b->n; i++)
        close(b->fillers[i]);
    close(b->lfd);
}

/* Open one, or fail the test when no connect hung within the bound: a kernel that
 * answers a full queue (net.ipv4.tcp_abort_on_overflow=1) cannot make a blackhole
 * this way, and a test that was not run must not count as passed. */
static void blackhole_open(blackhole *b)
{
    b->lfd = listen_local(0, &b->port);
    for (b->n = 0; b->n < 8;) {
        struct sockaddr_in sa = local_addr(b->port);
        int fd = b->fillers[b->n++] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
            continue;
        assert_int_equal(errno, EINPROGRESS);
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        if (poll(&pfd, 1, 300) == 0)
            return; /* this one hangs: the queue is full */
    }
    blackhole_close(b);
    fail_msg("no connect to a listener with a full accept queue hung within 300 ms: "
             "no blackhole can be made here (is net.ipv4.tcp_abort_on_overflow 1?)");
}

/* n echoes through the proxy one after the other; took[i] gets each one's time.
 * Returns how many were served. */
static int timed_echoes(int port, int n, int64_t *took)
{
    int served = 0;
    for (int i = 0; i < n; i++) {
        int64_t start = now_ms();
        served += echo_once(port, "anyone there?");
        took[i] = now_ms() - start;
    }
    return served;
}

static void test_blackholed_instance_is_given_up(void **state)
{
    (void)state;
    static blackhole bh;
    static server echo;
    static harness h;
    blackhole_open(&bh);
    server_start(&echo, echo_main);
    int ports[] = {bh.port, echo.port};
    harness_start(&h, ports, 2);

    /* Ties rotate: one of two connections tries the blackhole first. */
    int64_t took[2];
    int served = timed_echoes(h.port, 2, took);
    int64_t slowest = took[0] > took[1] ? took[0] : took[1];

    harness_stop(&h);
    server_stop(&echo);
    blackhole_close(&bh);
    assert_int_equal(served, 2);
    assert_true(slowest >= 1500); /* it was the deadline that moved it on */
    assert_true(slowest < 5000);  /* ... not TCP's own two minutes */
}

/* ---- least connections, and back-off ------------------------------------------ */

static void test_least_connections_prefers_the_idle_instance(void **state)
{
    (void)state;
    static server a, b;
    static harness h;
    char buf[16];
    server_start(&a, echo_main); /* each serves one connection at a time */
    server_start(&b, echo_main);
    int ports[] = {a.port, b.port};
    harness_start(&h, ports, 2);

    int held = connect_local(h.port); /* stays open: its instance is busy */
    assert_true(held >= 0);
    assert_int_equal(write_all(held, "held", 4), 0);
    assert_int_equal(read_all(held, buf, 4), 0);
    server *busy = atomic_load(&a.accepted) == 1 ? &a : &b, *idle = busy == &a ? &b : &a;

    int brief = connect_local(h.port); /* goes to the other one, and ends */
    assert_true(brief >= 0);
    assert_int_equal(write_all(brief, "brief", 5), 0);
    assert_int_equal(read_all(brief, buf, 5), 0);
    shutdown(brief, SHUT_WR);
    assert_int_equal(read(brief, buf, sizeof buf), 0); /* the proxy let go of it */
    close(brief);

    /* Round robin would now pick the busy instance, whose server would not
     * answer while `held` is open; least-connections picks the idle one. */
    bool served = echo_once(h.port, "third");
    int busy_accepted = atomic_load(&busy->accepted), idle_accepted = atomic_load(&idle->accepted);
    close(held);
    harness_stop(&h);
    server_stop(&a);
    server_stop(&b);
    assert_true(served);
    assert_int_equal(busy_accepted, 1);
    assert_int_equal(idle_accepted, 2);
}

static void test_failed_instance_is_skipped_during_its_backoff(void **state)
{
    (void)state;
    static blackhole bh;
    static server echo;
    static harness h;
    blackhole_open(&bh);
    server_start(&echo, echo_main);
    int ports[] = {bh.port, echo.port};
    harness_start(&h, ports, 2);

    /* Ties rotate: the 1st and 3rd connections start with the blackhole. The 1st
     * waits out the connect deadline and marks it down; the 3rd, within the
     * back-off, must not wait again. */
    int64_t took[3];
    int served = timed_echoes(h.port, 3, took);

    harness_stop(&h);
    server_stop(&echo);
    blackhole_close(&bh);
    assert_int_equal(served, 3);
    assert_true(took[0] >= 1500); /* the deadline, then the next instance */
    assert_true(took[2] < 1000);  /* skipped while down */
}

/* ---- (f) no spinning on a reset client -------------------------------------------- */

typedef struct silent {
    server s;
    atomic_bool saw_eof;
} silent;

/* Read to EOF and say nothing; close only when told to stop. */
static void *silent_main(void *arg)
{
    silent *q = arg;
    char buf[64];
    int fd = server_accept(&q->s);
    if (fd < 0)
        return NULL;
    while (!atomic_load(&q->s.stop)) {
        if (!wait_readable(fd, 20))
            continue;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n == 0)
            atomic_store(&q->saw_eof, true);
        if (n <= 0)
            break;
    }
    while (!atomic_load(&q->s.stop))
        sleep_ms(10);
    close(fd);
    return NULL;
}

/* The CPU time of the whole process: the proxy's workers are several threads, and
 * a spinning one may be any of them (the test's own threads are idle meanwhile). */
static double process_cpu_s(void)
{
    struct timespec ts;
    assert_int_equal(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts), 0);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_reset_client_does_not_spin(void **state)
{
    (void)state;
    static silent q;
    static harness h;
    atomic_init(&q.saw_eof, false);
    server_start(&q.s, silent_main);
    harness_start(&h, &q.s.port, 1);

    int fd = connect_local(h.port);
    assert_true(fd >= 0);
    assert_int_equal(write_all(fd, "x", 1), 0);
    assert_int_equal(shutdown(fd, SHUT_WR), 0);
    for (int64_t end = now_ms() + WAIT_MS; !atomic_load(&q.saw_eof) && now_ms() < end;)
        sleep_ms(5);
    assert_true(atomic_load(&q.saw_eof)); /* the half-close went through */
    struct linger reset = {.l_onoff = 1, .l_linger = 0};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset), 0);
    close(fd);

    double before = process_cpu_s();
    sleep_ms(1000); /* measuring over a second of wall time, not waiting for anything */
    double spent = process_cpu_s() - before;
    assert_true(spent < 0.2);

    server_stop(&q.s); /* the backend closes at last, and the proxy closes its side */
    harness_stop(&h);
}

/* ---- (g) listeners replaced while clients connect -------------------------------- */

typedef struct hammer {
    int port;
    atomic_bool stop;
    atomic_int connected;
} hammer;

static void *hammer_main(void *arg)
{
    hammer *m = arg;
    while (!atomic_load(&m->stop)) {
        int fd = connect_local(m->port);
        if (fd < 0)
            continue; /* no listener at this moment */
        atomic_fetch_add(&m->connected, 1);
        (void)write_all(fd, "x", 1); /* may meet a listener already closed */
        close(fd);
    }
    return NULL;
}

static void test_listener_removed_while_clients_connect(void **state)
{
    (void)state;
    static server echo;
    static harness h;
    static hammer m;
    pthread_t threads[2];
    server_start(&echo, echo_main);
    harness_start(&h, &echo.port, 1);
    m.port = h.port;
    atomic_init(&m.stop, false);
    atomic_init(&m.connected, 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, hammer_main, &m), 0);

    for (int64_t end = now_ms() + 1000; now_ms() < end;) {
        table empty = {0}, t = one_link(h.port, &echo.port, 1);
        proxy_set_table(h.p, &t);
        sleep_ms(1); /* give the clients a listener to reach */
        proxy_set_table(h.p, &empty);
        /* A connection right behind the wake-up: its listener's event then likely
         * comes in the same batch, after the one that closes the listener. */
        int fd = connect_local(h.port);
        if (fd >= 0)
            close(fd);
    }
    table t = one_link(h.port, &echo.port, 1);
    proxy_set_table(h.p, &t);
    atomic_store(&m.stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(threads[i], NULL);
    assert_true(atomic_load(&m.connected) > 0);

    /* Still serving. */
    assert_true(wait_until_listening(h.port));
    assert_true(echo_once(h.port, "still there"));

    harness_stop(&h);
    server_stop(&echo);
}

/* ---- (h) out of fds: the listener pauses rather than spins ------------------------ */

#define MAX_HOLES 1024

/* Fill the holes of the fd table (into holes[]), so that every open fd is below
 * the one returned, the next to be opened; a lower limit then leaves them all
 * usable (valgrind refuses fds above it). */
static int lowest_fd_above_all(int holes[MAX_HOLES], int *nholes)
{
    int top = -1;
    struct rlimit lim;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &lim), 0);
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] != '.' && fd != dirfd(d) && fd > top && (rlim_t)fd < lim.rlim_cur)
            top = fd; /* (valgrind keeps its own fds above the limit it shows) */
    }
    closedir(d);
    for (;;) {
        int fd = dup(0);
        assert_true(fd >= 0);
        if (fd > top) {
            close(fd);
            return fd;
        }
        assert_true(*nholes < MAX_HOLES);
        holes[(*nholes)++] = fd;
    }
}

static void test_listener_out_of_fds_pauses(void **state)
{
    (void)state;
    static server echo;
    static harness h;
    server_start(&echo, echo_main);
    harness_start(&h, &echo.port, 1);

    /* Leave the process exactly one fd: the client's. The proxy's accept4 then
     * fails with EMFILE while the connection waits in its queue. */
    struct rlimit saved, tight;
    static int holes[MAX_HOLES];
    int nholes = 0, next = lowest_fd_above_all(holes, &nholes);
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
    tight = saved;
    tight.rlim_cur = (rlim_t)next + 1;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &tight), 0);
    int fd = connect_local(h.port);
    bool sent = fd >= 0 && write_all(fd, "x", 1) == 0;
    double before = process_cpu_s();
    sleep_ms(500); /* measuring, not waiting for anything */
    double spent = process_cpu_s() - before;
    setrlimit(RLIMIT_NOFILE, &saved);
    for (int i = 0; i < nholes; i++)
        close(holes[i]);

    /* Resumed by the sweep within PROXY_PAUSE_MS and a sweep, the queued client is
     * served. Not under valgrind, whose own limit check closes what accept4
     * returned, so that client is gone: then a new one shows the resumption. */
    char c = 0;
    bool echoed = sent && wait_readable(fd, 3000) && read(fd, &c, 1) == 1 && c == 'x';
    const char *preload = getenv("LD_PRELOAD");
    bool valgrind = preload && strstr(preload, "vgpreload");
    if (fd >= 0)
        close(fd);
    int64_t start = now_ms();
    bool resumed = echo_once(h.port, "back") && now_ms() - start < 3000;
    harness_stop(&h);
    server_stop(&echo);
    assert_true(sent);
    assert_true(spent < 0.1);
    assert_true(echoed || valgrind);
    assert_true(resumed);
}


/* ---- (i) balance, kills, 100 MB, 1000 connections (issue 5's tests) --------------- */

#define HOLD_MAX 1100

typedef struct holder {
    server s;
    int fds[HOLD_MAX];
    atomic_int n;
} holder;

/* Accept every connection and hold it, silent, until told to stop. */
static void *holder_main(void *arg)
{
    holder *hd = arg;
    int fd;
    while ((fd = server_accept(&hd->s)) >= 0) {
        int i = atomic_load(&hd->n);
        if (i < HOLD_MAX) {
            hd->fds[i] = fd;
            atomic_store(&hd->n, i + 1);
        } else {
            close(fd);
        }
    }
    for (int i = 0; i < atomic_load(&hd->n); i++)
        close(hd->fds[i]);
    return NULL;
}

static void holder_start(holder *hd)
{
    atomic_init(&hd->n, 0);
    server_start(&hd->s, holder_main);
}

static int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n - 3; /* ".", ".." and the directory's own fd */
}

/* Open n connections through the proxy at once; each fd into fds. */
static void open_many(int port, int *fds, int n)
{
    for (int i = 0; i < n; i++) {
        fds[i] = connect_local(port);
        assert_true(fds[i] >= 0);
    }
}

/* Whether the holders hold want connections in all, within ms. */
static bool wait_held_ms(holder *const *hs, size_t nh, int want, int ms)
{
    for (int64_t end = now_ms() + ms; now_ms() < end; sleep_ms(10)) {
        int sum = 0;
        for (size_t i = 0; i < nh; i++)
            sum += atomic_load(&hs[i]->n);
        if (sum == want)
            return true;
    }
    return false;
}

static bool wait_held(holder *const *hs, size_t nh, int want)
{
    return wait_held_ms(hs, nh, want, WAIT_MS);
}

static void test_300_connections_spread_over_3_instances_within_10_percent(void **state)
{
    (void)state;
    static holder a, b, c;
    static harness h;
    static int fds[300];
    holder *hs[] = {&a, &b, &c};
    for (int i = 0; i < 3; i++)
        holder_start(hs[i]);
    int ports[] = {a.s.port, b.s.port, c.s.port};
    harness_start(&h, ports, 3);

    open_many(h.port, fds, 300);
    bool all = wait_held(hs, 3, 300);
    int got[3] = {atomic_load(&a.n), atomic_load(&b.n), atomic_load(&c.n)};
    for (int i = 0; i < 300; i++)
        close(fds[i]);
    harness_stop(&h);
    for (int i = 0; i < 3; i++)
        server_stop(&hs[i]->s);
    assert_true(all);
    for (int i = 0; i < 3; i++) {
        print_message("instance %d: %d connections\n", i, got[i]);
        assert_in_range(got[i], 90, 110);
    }
}

typedef struct stats_sum {
    unsigned long long failures, refused, total, bytes_in, bytes_out;
} stats_sum;

static void add_stats(void *ud, const proxy_link_stats *s)
{
    stats_sum *sum = ud;
    sum->failures += s->failures;
    sum->refused += s->refused;
    sum->total += s->total;
    sum->bytes_in += s->bytes_in;
    sum->bytes_out += s->bytes_out;
}

static void test_killed_instance_costs_clients_nothing(void **state)
{
    (void)state;
    static server a, b, c;
    static harness h;
    server_start(&a, echo_main);
    server_start(&b, echo_main);
    server_start(&c, echo_main);
    int ports[] = {a.port, b.port, c.port};
    harness_start(&h, ports, 3);
    for (int i = 0; i < 6; i++)
        assert_true(echo_once(h.port, "warm"));

    server_stop(&b); /* killed: its port now refuses */
    int failed = 0, before_b = atomic_load(&b.accepted);
    for (int i = 0; i < 60; i++)
        failed += !echo_once(h.port, "after the kill");
    stats_sum sum = {0};
    proxy_stats(h.p, add_stats, &sum);
    harness_stop(&h);
    server_stop(&a);
    server_stop(&c);
    assert_int_equal(failed, 0);                       /* no client saw a failed connect */
    assert_int_equal(atomic_load(&b.accepted), before_b);
    assert_int_equal(sum.failures, 1);                 /* tried once, then skipped */
    assert_int_equal(sum.refused, 0);
    assert_int_equal(sum.total, 66);
}

#define HUGE_BYTES (100ull << 20)
#define CHUNK (64 * 1024)

/* 100 MB, but 10 under valgrind: the proxy splices either way, and the test's own
 * summing of 400 MB would take minutes there. */
static size_t huge_total;

/* A stream of 64-bit words from xorshift64 (fast enough for 100 MB in a test). */
static void pattern64(uint64_t *w, size_t words, uint64_t *state)
{
    for (size_t i = 0; i < words; i++) {
        *state ^= *state << 13, *state ^= *state >> 7, *state ^= *state << 17;
        w[i] = *state;
    }
}

static uint64_t sum64(uint64_t h, const uint64_t *w, size_t words)
{
    for (size_t i = 0; i < words; i++)
        h = (h ^ w[i]) * 0x100000001b3ull + (h >> 29);
    return h;
}

/* Read to EOF summing, then send the sum and huge_total bytes of pattern 2, and
 * close. */
static void *huge_main(void *arg)
{
    replier *r = arg;
    static uint64_t buf[CHUNK / 8];
    int fd = server_accept(&r->s);
    if (fd < 0)
        return NULL;
    uint64_t h = FNV_INIT, state = 2;
    size_t got = 0;
    while (read_all(fd, buf, CHUNK) == 0) { /* the client sends whole chunks */
        h = sum64(h, buf, CHUNK / 8);
        got += CHUNK;
    }
    bool ok = got == huge_total && write_all(fd, &h, sizeof h) == 0;
    for (size_t sent = 0; ok && sent < huge_total; sent += CHUNK) {
        pattern64(buf, CHUNK / 8, &state);
        ok = write_all(fd, buf, CHUNK) == 0;
    }
    atomic_store(&r->ok, ok);
    close(fd);
    return NULL;
}

static void test_100_mb_each_way_half_closed_checksummed(void **state)
{
    (void)state;
    static replier r;
    static harness h;
    static uint64_t buf[CHUNK / 8];
    const char *preload = getenv("LD_PRELOAD");
    huge_total = preload && strstr(preload, "vgpreload") ? HUGE_BYTES / 10 : HUGE_BYTES;
    atomic_init(&r.ok, false);
    server_start(&r.s, huge_main);
    harness_start(&h, &r.s.port, 1);

    int fd = connect_local(h.port);
    assert_true(fd >= 0);
    uint64_t sent = FNV_INIT, state1 = 1, state2 = 2, want = FNV_INIT, got = FNV_INIT, echoed = 0;
    for (size_t off = 0; off < huge_total; off += CHUNK) {
        pattern64(buf, CHUNK / 8, &state1);
        sent = sum64(sent, buf, CHUNK / 8);
        assert_int_equal(write_all(fd, buf, CHUNK), 0);
    }
    assert_int_equal(shutdown(fd, SHUT_WR), 0); /* half-closed: the answer comes after */
    assert_int_equal(read_all(fd, &echoed, sizeof echoed), 0);
    size_t total = 0;
    for (; total < huge_total && read_all(fd, buf, CHUNK) == 0; total += CHUNK) {
        got = sum64(got, buf, CHUNK / 8);
        pattern64(buf, CHUNK / 8, &state2);
        want = sum64(want, buf, CHUNK / 8);
    }
    char extra;
    ssize_t tail = read(fd, &extra, 1);
    close(fd);
    stats_sum sum = {0};
    proxy_stats(h.p, add_stats, &sum);
    harness_stop(&h);
    server_stop(&r.s);
    assert_true(atomic_load(&r.ok));
    assert_true(echoed == sent);        /* the backend got every byte */
    assert_int_equal(total, huge_total); /* the client got every byte back */
    assert_true(got == want);
    assert_int_equal(tail, 0);          /* and then EOF */
    assert_true(sum.bytes_in == huge_total);
    assert_true(sum.bytes_out == huge_total + 8);
}

/* Small reads are copied and big ones spliced, a flow switching between the two
 * as its reads grow and shrink: messages of every size around the switch (the
 * copy buffer is PIPE_BUF bytes), alternating with bulk ones, each echoed intact
 * and in order, and counted once. */
static void test_small_and_bulk_messages_alternate_intact(void **state)
{
    (void)state;
    static server echo;
    static harness h;
    static const size_t sizes[] = {1, 100, 1024, 4095, 4096, 4097, 70000, 3, 300000, 2000, 8192, 1};
    server_start(&echo, echo_main);
    harness_start(&h, &echo.port, 1);
    unsigned char *out = malloc(300000), *back = malloc(300000);
    assert_non_null(out);
    assert_non_null(back);
    int fd = connect_local(h.port);
    assert_true(fd >= 0);
    unsigned long long total = 0;
    for (int round = 0; round < 3; round++)
        for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
            fill_pattern(out, sizes[i], (unsigned)(round * 100 + i));
            assert_int_equal(write_all(fd, out, sizes[i]), 0);
            assert_int_equal(read_all(fd, back, sizes[i]), 0);
            assert_memory_equal(out, back, sizes[i]);
            total += sizes[i];
        }
    close(fd);
    free(out);
    free(back);
    stats_sum sum = {0}; /* counted just after the bytes move: polled, not read once */
    for (int64_t end = now_ms() + WAIT_MS; now_ms() < end; sleep_ms(5)) {
        sum = (stats_sum){0};
        proxy_stats(h.p, add_stats, &sum);
        if (sum.bytes_in == total && sum.bytes_out == total)
            break;
    }
    harness_stop(&h);
    server_stop(&echo);
    assert_true(sum.bytes_in == total);
    assert_true(sum.bytes_out == total);
}

/* A backend that is slow to read: small segments (TCP_MAXSEG) and a small
 * receive buffer, so that the proxy's socket to it fills after some tens of KB,
 * and it reads nothing until told to; then it reads to EOF and checks that every
 * message came, in order. */
#define SLOW_MSGS 600 /* 420 KB: the proxy's socket to the backend fills at about 180 */
#define SLOW_BYTES 700
typedef struct slow_reader {
    server s;
    atomic_bool go, ok;
} slow_reader;

static void *slow_reader_main(void *arg)
{
    slow_reader *r = arg;
    static unsigned char got[SLOW_MSGS * SLOW_BYTES], want[SLOW_BYTES];
    int fd = server_accept(&r->s);
    if (fd < 0)
        return NULL;
    while (!atomic_load(&r->go) && !atomic_load(&r->s.stop))
        sleep_ms(5);
    char extra;
    bool ok = read_all(fd, got, sizeof got) == 0 && read(fd, &extra, 1) == 0;
    for (int i = 0; ok && i < SLOW_MSGS; i++) {
        fill_pattern(want, sizeof want, (uint32_t)i);
        ok = memcmp(got + (size_t)i * SLOW_BYTES, want, SLOW_BYTES) == 0;
    }
    atomic_store(&r->ok, ok);
    close(fd);
    return NULL;
}

/* Small reads that a slow backend cannot take yet are kept, not lost: the part of
 * a copied read that the socket refuses waits in the flow's pipe, ahead of
 * anything read later. The client sends its messages a little apart, so that the
 * proxy reads them one by one (by copy), far more than the backend takes before
 * it starts reading. (A copied read that meets the full socket is seen in most
 * runs, not all: the first one may come while the flow is bulk.) */
static void test_small_reads_a_slow_backend_cannot_take_are_kept(void **state)
{
    (void)state;
    static slow_reader r;
    static harness h;
    unsigned char msg[SLOW_BYTES];
    int mss = 536, small = 4096;
    atomic_init(&r.go, false);
    atomic_init(&r.ok, false);
    server_start(&r.s, slow_reader_main);
    assert_int_equal(setsockopt(r.s.lfd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof mss), 0);
    assert_int_equal(setsockopt(r.s.lfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
    harness_start(&h, &r.s.port, 1);
    int fd = connect_local(h.port);
    assert_true(fd >= 0);
    for (int i = 0; i < SLOW_MSGS; i++) {
        fill_pattern(msg, sizeof msg, (uint32_t)i);
        assert_int_equal(write_all(fd, msg, sizeof msg), 0);
        sleep_ms(1); /* pacing, not waiting for anything: a read a message */
    }
    assert_int_equal(shutdown(fd, SHUT_WR), 0);
    atomic_store(&r.go, true);
    char extra;
    ssize_t tail = read(fd, &extra, 1); /* EOF once the backend has read all and closed */
    close(fd);
    harness_stop(&h);
    server_stop(&r.s);
    assert_int_equal(tail, 0);
    assert_true(atomic_load(&r.ok));
}

static void test_a_source_the_link_does_not_allow_is_closed_at_once(void **state)
{
    (void)state;
    static server echo;
    static harness h;
    server_start(&echo, echo_main);
    harness_start(&h, &echo.port, 1);
    assert_true(echo_once(h.port, "allowed"));

    table t = one_link(h.port, &echo.port, 1);
    t.links[0].nnets = 0; /* nobody may use the link now: loopback is no container */
    proxy_set_table(h.p, &t);
    int fd = connect_local(h.port);
    char c;
    int64_t start = now_ms();
    bool closed = fd >= 0 && wait_readable(fd, WAIT_MS) && read(fd, &c, 1) <= 0;
    int64_t took = now_ms() - start;
    if (fd >= 0)
        close(fd);
    stats_sum sum = {0};
    proxy_stats(h.p, add_stats, &sum);
    harness_stop(&h);
    server_stop(&echo);
    assert_true(closed);
    assert_true(took < 1000);
    assert_int_equal(atomic_load(&echo.accepted), 1); /* only the allowed one got through */
    assert_int_equal(sum.refused, 1);
    assert_int_equal(sum.total, 1);
}

/* Answer at once with ANSWER_BYTES, and close without reading what came: the
 * kernel then resets the connection right after the answer. */
#define ANSWER_BYTES 8000
static void *answer_and_reset_main(void *arg)
{
    server *s = arg;
    static char answer[ANSWER_BYTES];
    int fd = server_accept(s);
    if (fd < 0)
        return NULL;
    memset(answer, 'a', sizeof answer);
    wait_readable(fd, WAIT_MS); /* the request is there, unread */
    write_all(fd, answer, sizeof answer);
    close(fd);
    return NULL;
}

static void test_an_answer_sent_just_before_a_reset_reaches_the_client(void **state)
{
    (void)state;
    static server s;
    static harness h;
    static char got[ANSWER_BYTES + 1];
    server_start(&s, answer_and_reset_main);
    harness_start(&h, &s.port, 1);
    int fd = connect_local(h.port);
    assert_true(fd >= 0);
    assert_int_equal(write_all(fd, "a request the backend never reads", 33), 0);
    size_t n = 0;
    ssize_t k;
    while (n < sizeof got && (k = read(fd, got + n, sizeof got - n)) > 0)
        n += (size_t)k;
    close(fd);
    harness_stop(&h);
    server_stop(&s);
    assert_int_equal(n, ANSWER_BYTES);
}

/* The fd count once it stops changing (the proxy closes what the peers closed). */
static int settled_fds(void)
{
    int last = -1, same = 0;
    for (int64_t end = now_ms() + WAIT_MS; now_ms() < end && same < 5; sleep_ms(20)) {
        int now = count_fds();
        same = now == last ? same + 1 : 0;
        last = now;
    }
    return last;
}

/* n connections open at once through the proxy to the holder; then the clients
 * close, the holder closes its side, and the proxy lets go of both. */
static int round_of_connections(harness *h, holder *hd, int *fds, int n)
{
    holder *hs[] = {hd};
    open_many(h->port, fds, n);
    assert_true(wait_held(hs, 1, n));
    for (int i = 0; i < n; i++)
        close(fds[i]);
    for (int i = 0; i < n; i++)
        close(hd->fds[i]);
    atomic_store(&hd->n, 0);
    return settled_fds();
}

static void test_1000_connections_leak_no_descriptor(void **state)
{
    (void)state;
    static holder hd;
    static harness h;
    static int fds[1000];
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max; /* 1000 connections take about 7000 fds in this process */
    setrlimit(RLIMIT_NOFILE, &rl);
    holder_start(&hd);
    harness_start(&h, &hd.s.port, 1);
    int before = settled_fds();
    int after1 = round_of_connections(&h, &hd, fds, 1000);
    int after2 = round_of_connections(&h, &hd, fds, 1000);
    harness_stop(&h);
    server_stop(&hd.s);
    print_message("fds: %d before, %d after 1000 connections, %d after 2000\n", before, after1,
                  after2);
    /* What stays are the workers' spare pipes, two fds each, at most PROXY_POOL per
     * worker (a worker per core), after 1000 connections as after 2000: a leak of
     * one fd in eight connections would pass that bound. Not "after2 == after1": a
     * worker that took few of the first 1000 connections (a busy machine) fills
     * its pool in the second round (CI saw 270 then 276). */
    int bound = 2 * 64 * (int)sysconf(_SC_NPROCESSORS_ONLN); /* proxy.c: PROXY_POOL 64 */
    assert_true(after1 - before <= bound);
    assert_true(after2 - before <= bound);
}

/* ---- (j) limits per link and per source, the idle timeout, every instance tried,
 *      per-accept work, listeners in the budget (issue 12, defect 14) --------------- */

/* A table of links on ports[0..n-1], link i's only instance on 127.0.0.1 at
 * backends[i], loopback allowed. */
static table links_table(const int *ports, const int *backends, size_t n)
{
    table t = {.links = calloc(n, sizeof *t.links), .n = n};
    static const net_cidr loopback = {.net = 0x7f000000, .mask = 0xff000000};
    assert_non_null(t.links);
    for (size_t i = 0; i < n; i++) {
        table_link *l = &t.links[i];
        snprintf(l->app, sizeof l->app, "test");
        snprintf(l->service, sizeof l->service, "svc%zu", i);
        l->port = ports[i];
        l->nets = &loopback;
        l->nnets = 1;
        l->nbackends = 1;
        l->backends = calloc(1, sizeof *l->backends);
        assert_non_null(l->backends);
        snprintf(l->backends[0].addr, sizeof l->backends[0].addr, "127.0.0.1");
        l->backends[0].port = backends[i];
    }
    return t;
}

/* Run a proxy with these limits over table t (taken); h->port is t's first link's. */
static void harness_run(harness *h, table *t, size_t per_link, size_t per_source, int idle_s)
{
    err_t err;
    h->p = proxy_new("127.0.0.1", 0, 0, &err);
    assert_non_null(h->p);
    h->port = t->links[0].port;
    h->rc = 0;
    proxy_set_limits(h->p, per_link, per_source, idle_s);
    proxy_set_table(h->p, t);
    atomic_init(&h->stop, false);
    assert_int_equal(pthread_create(&h->thread, NULL, harness_main, h), 0);
    running_harness = h;
    assert_true(wait_until_listening(h->port));
}

/* A blocking connection to 127.0.0.1:port from the source address 127.0.0.<host>. */
static int connect_from(int host, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in src = {.sin_family = AF_INET}, sa = local_addr(port);
    src.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)host);
    assert_true(fd >= 0);
    set_timeouts(fd, WAIT_MS);
    if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0 ||
        connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Closed by the proxy within ms (EOF or a reset), rather than held open. */
static bool closed_within(int fd, int ms)
{
    char c;
    if (!wait_readable(fd, ms))
        return false;
    ssize_t n = read(fd, &c, 1);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

static void test_a_link_at_its_cap_leaves_the_other_links_served(void **state)
{
    (void)state;
    static holder hd;
    static server echo;
    static harness h;
    int fds[4];
    holder_start(&hd);
    server_start(&echo, echo_main);
    int ports[] = {free_port(), free_port()}, backends[] = {hd.s.port, echo.port};
    table t = links_table(ports, backends, 2);
    harness_run(&h, &t, 3, 100, 0); /* a backend that never answers: 3 slots at most */
    assert_true(wait_until_listening(ports[1]));
    holder *hs[] = {&hd};
    for (int i = 0; i < 3; i++)
        assert_true((fds[i] = connect_local(ports[0])) >= 0);
    bool held = wait_held(hs, 1, 3);
    fds[3] = connect_local(ports[0]);
    bool fourth_closed = fds[3] >= 0 && closed_within(fds[3], 1000);
    bool other_served = echo_once(ports[1], "the other link");
    stats_sum sum = {0};
    proxy_stats(h.p, add_stats, &sum);
    for (int i = 0; i < 4; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    harness_stop(&h);
    server_stop(&hd.s);
    server_stop(&echo);
    assert_true(held);
    assert_true(fourth_closed);
    assert_true(other_served);
    assert_int_equal(atomic_load(&hd.n), 3);
    assert_int_equal(sum.refused, 1);
}

static void test_a_source_at_its_cap_leaves_the_other_sources_served(void **state)
{
    (void)state;
    static holder hd;
    static harness h;
    int fds[4];
    holder_start(&hd);
    int ports[] = {free_port()}, backends[] = {hd.s.port};
    table t = links_table(ports, backends, 1);
    harness_run(&h, &t, 100, 2, 0);
    holder *hs[] = {&hd};
    for (int i = 0; i < 2; i++)
        assert_true((fds[i] = connect_from(1, h.port)) >= 0);
    bool held = wait_held(hs, 1, 2);
    fds[2] = connect_from(1, h.port); /* the same source, a third time */
    bool third_closed = fds[2] >= 0 && closed_within(fds[2], 1000);
    fds[3] = connect_from(2, h.port); /* another source */
    bool other_held = fds[3] >= 0 && wait_held(hs, 1, 3) && !closed_within(fds[3], 300);
    for (int i = 0; i < 4; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    /* the source's slots come back when its connections end */
    for (int i = 0; i < 3; i++)
        close(hd.fds[i]);
    atomic_store(&hd.n, 0);
    bool again = false;
    for (int64_t end = now_ms() + WAIT_MS; !again && now_ms() < end; sleep_ms(50)) {
        int a = connect_from(1, h.port), b = connect_from(1, h.port);
        /* a short wait per try: the proxy may not have seen the last try's
         * connections end yet, and a refused try must leave time for the next */
        again = a >= 0 && b >= 0 && wait_held_ms(hs, 1, 2, 500) && !closed_within(b, 200);
        if (a >= 0)
            close(a);
        if (b >= 0)
            close(b);
        for (int i = 0; i < atomic_load(&hd.n); i++)
            close(hd.fds[i]);
        atomic_store(&hd.n, 0);
    }
    harness_stop(&h);
    server_stop(&hd.s);
    assert_true(held);
    assert_true(third_closed);
    assert_true(other_held);
    assert_true(again);
}

/* Echo what comes, one connection at a time, from a listener on every address. */
static void server_start_any(server *s, void *(*fn)(void *), int port)
{
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    assert_true(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 1024), 0);
    s->lfd = fd;
    s->port = bound_port(fd);
    atomic_init(&s->stop, false);
    atomic_init(&s->accepted, 0);
    assert_int_equal(pthread_create(&s->thread, NULL, fn, s), 0);
    for (size_t i = 0; i < 4; i++)
        if (!running_servers[i]) {
            running_servers[i] = s;
            break;
        }
}

static void test_an_idle_connection_is_closed_and_a_busy_one_is_not(void **state)
{
    (void)state;
    static holder hd;
    static server echo;
    static harness h;
    holder_start(&hd);
    server_start(&echo, echo_main);
    int ports[] = {free_port(), free_port()}, backends[] = {hd.s.port, echo.port};
    table t = links_table(ports, backends, 2);
    harness_run(&h, &t, 0, 0, 1); /* an idle timeout of 1 s */
    assert_true(wait_until_listening(ports[1]));
    int silent = connect_local(ports[0]), busy = connect_local(ports[1]);
    assert_true(silent >= 0 && busy >= 0);
    int64_t start = now_ms();
    bool busy_ok = true, silent_closed = false;
    int64_t closed_after = -1;
    char buf[8];
    while (now_ms() - start < 3500) { /* the busy one talks every 200 ms */
        busy_ok = busy_ok && write_all(busy, "ping", 4) == 0 && read_all(busy, buf, 4) == 0;
        if (!silent_closed && wait_readable(silent, 200)) {
            silent_closed = closed_within(silent, 0);
            closed_after = now_ms() - start;
        }
    }
    stats_sum sum = {0};
    proxy_stats(h.p, add_stats, &sum);
    proxy_limits lim = proxy_limits_in_force(h.p);
    close(silent);
    close(busy);
    harness_stop(&h);
    server_stop(&hd.s);
    server_stop(&echo);
    print_message("the silent connection was closed after %lld ms\n", (long long)closed_after);
    assert_true(silent_closed);
    assert_in_range(closed_after, 900, 3000);
    assert_true(busy_ok);
    assert_int_equal(lim.idle_seconds, 1);
}

static void test_the_default_idle_timeout_is_an_hour(void **state)
{
    (void)state;
    err_t err;
    proxy *p = proxy_new("127.0.0.1", 1, 0, &err);
    assert_non_null(p);
    proxy_limits lim = proxy_limits_in_force(p);
    proxy_free(p);
    assert_int_equal(lim.idle_seconds, 3600);
    assert_true(lim.per_link >= lim.max_conns / 2 && lim.per_link <= lim.max_conns / 2 + 1);
    assert_true(lim.per_source <= lim.per_link);
}

/* 70 instances, all marked down by a round that found every one refusing; then
 * the first comes up. Each connection must try every instance once, the 65th and
 * later ones too (the tried-set once covered the first 64: a connection whose
 * turn came to the 65th tried it again and again, and gave up). */
#define MANY 70
static void test_every_one_of_70_instances_is_tried(void **state)
{
    (void)state;
    static server echo;
    static harness h;
    int ports[MANY];
    for (int i = 0; i < MANY; i++)
        ports[i] = free_port();
    harness_start(&h, ports, MANY);
    assert_closed_at_once(h.port); /* everything refused: every instance is down now */
    server_start_any(&echo, echo_main, ports[0]);
    int served = 0;
    for (int i = 0; i < 8; i++) /* within the 3 s back-off, ties starting anywhere */
        served += echo_once(h.port, "is anyone up?");
    harness_stop(&h);
    server_stop(&echo);
    assert_int_equal(served, 8);
}

/* An accept's work grows with the link's instances, not with instances times
 * instances: 5000 instances (5000 loopback addresses, one server on all of
 * them), 100 connections one after another. */
#define WIDE 5000
static void test_an_accept_does_not_scan_every_instance_per_instance(void **state)
{
    (void)state;
    static server echo;
    static harness h;
    server_start_any(&echo, echo_main, 0);
    table t = one_link(free_port(), NULL, 0);
    table_link *l = &t.links[0];
    l->backends = calloc(WIDE, sizeof *l->backends);
    assert_non_null(l->backends);
    l->nbackends = WIDE;
    for (int i = 0; i < WIDE; i++) {
        snprintf(l->backends[i].addr, sizeof l->backends[i].addr, "127.1.%d.%d", i / 250, 1 + i % 250);
        l->backends[i].port = echo.port;
    }
    harness_run(&h, &t, 0, 0, 0);
    int64_t start = now_ms();
    int served = 0;
    for (int i = 0; i < 100; i++)
        served += echo_once(h.port, "wide");
    int64_t took = now_ms() - start;
    harness_stop(&h);
    server_stop(&echo);
    print_message("100 connections over %d instances: %lld ms\n", WIDE, (long long)took);
    assert_int_equal(served, 100);
    assert_true(took < 3000);
}

/* Every link costs a listener per worker: the connection cap leaves them room. */
static void test_listeners_count_in_the_descriptor_budget(void **state)
{
    (void)state;
    enum { LINKS = 2000 };
    static int ports[LINKS], backends[LINKS];
    err_t err;
    struct rlimit rl;
    proxy *p = proxy_new("127.0.0.1", 2, 0, &err);
    assert_non_null(p);
    size_t alone = proxy_limits_in_force(p).max_conns;
    for (int i = 0; i < LINKS; i++) {
        ports[i] = 20000 + i;
        backends[i] = 1;
    }
    table t = links_table(ports, backends, LINKS);
    proxy_set_table(p, &t);
    proxy_limits lim = proxy_limits_in_force(p);
    proxy_free(p);
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0); /* raised to the hard limit */
    size_t fds = lim.max_conns * 6 + 2 * LINKS + 2 * (2 + 2 * 64);
    print_message("max %zu connections alone, %zu with %d links: %zu fds of %llu\n", alone,
                  lim.max_conns, LINKS, fds, (unsigned long long)rl.rlim_cur);
    assert_true(fds + 128 <= rl.rlim_cur);
    assert_true(lim.max_conns < alone);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as the ambassador does */
    setenv("DOKKAA_LOG_LEVEL", "warn", 0); /* (g) opens and closes listeners by the hundred */
    log_init("test_proxy");
    if (getenv("TEST_PROXY_FILTER")) /* e.g. "*spin*", to run some tests only */
        cmocka_set_test_filter(getenv("TEST_PROXY_FILTER"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_echo_round_trip, stop_everything),
        cmocka_unit_test_teardown(test_small_and_bulk_messages_alternate_intact, stop_everything),
        cmocka_unit_test_teardown(test_small_reads_a_slow_backend_cannot_take_are_kept, stop_everything),
        cmocka_unit_test_teardown(test_half_close_delivers_every_byte_to_a_slow_client, stop_everything),
        cmocka_unit_test_teardown(test_refusing_instance_is_skipped, stop_everything),
        cmocka_unit_test_teardown(test_no_instance_closes_the_client_at_once, stop_everything),
        cmocka_unit_test_teardown(test_every_instance_refusing_closes_the_client_at_once, stop_everything),
        cmocka_unit_test_teardown(test_blackholed_instance_is_given_up, stop_everything),
        cmocka_unit_test_teardown(test_least_connections_prefers_the_idle_instance, stop_everything),
        cmocka_unit_test_teardown(test_failed_instance_is_skipped_during_its_backoff, stop_everything),
        cmocka_unit_test_teardown(test_reset_client_does_not_spin, stop_everything),
        cmocka_unit_test_teardown(test_listener_removed_while_clients_connect, stop_everything),
        cmocka_unit_test_teardown(test_listener_out_of_fds_pauses, stop_everything),
        cmocka_unit_test_teardown(test_300_connections_spread_over_3_instances_within_10_percent, stop_everything),
        cmocka_unit_test_teardown(test_killed_instance_costs_clients_nothing, stop_everything),
        cmocka_unit_test_teardown(test_100_mb_each_way_half_closed_checksummed, stop_everything),
        cmocka_unit_test_teardown(test_1000_connections_leak_no_descriptor, stop_everything),
        cmocka_unit_test_teardown(test_a_source_the_link_does_not_allow_is_closed_at_once, stop_everything),
        cmocka_unit_test_teardown(test_an_answer_sent_just_before_a_reset_reaches_the_client, stop_everything),
        cmocka_unit_test_teardown(test_a_link_at_its_cap_leaves_the_other_links_served, stop_everything),
        cmocka_unit_test_teardown(test_a_source_at_its_cap_leaves_the_other_sources_served, stop_everything),
        cmocka_unit_test_teardown(test_an_idle_connection_is_closed_and_a_busy_one_is_not, stop_everything),
        cmocka_unit_test_teardown(test_the_default_idle_timeout_is_an_hour, stop_everything),
        cmocka_unit_test_teardown(test_every_one_of_70_instances_is_tried, stop_everything),
        cmocka_unit_test_teardown(test_an_accept_does_not_scan_every_instance_per_instance, stop_everything),
        cmocka_unit_test_teardown(test_listeners_count_in_the_descriptor_budget, stop_everything),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
