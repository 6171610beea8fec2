/* test_etcd.c - the etcd client (lib/etcd.c) against a real etcd that this test
 * starts itself: a single member on 127.0.0.1, its data in a fresh temporary
 * directory, on ports the kernel says are free (retried if etcd still finds one
 * taken: another process may have grabbed it in between).
 * The group teardown kills it and removes the directory even when a test fails.
 * etcd missing is a failure, not a skip: these tests are the client's only proof. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "dokkaa/etcd.h"
#include "dokkaa/http.h"

#define ETCD_BIN_DEFAULT "/usr/bin/etcd"

/* Fail with the error text, which says far more than "returned -1". */
#define CHECK(expr)                                                                      \
    do {                                                                                 \
        if ((expr) != 0)                                                                 \
            fail_msg("%s failed: [%d] %s", #expr, (int)err.code, err.msg);               \
    } while (0)

static struct {
    pid_t pid;
    char dir[64];
    char data_dir[96];
    char log_path[96];
    char client_url[64];
    char peer_url[64];
} srv;

/* ---- the etcd server ------------------------------------------------------------- */

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static const char *etcd_bin(void)
{
    const char *bin = getenv("DOKKAA_TEST_ETCD");
    return bin && *bin ? bin : ETCD_BIN_DEFAULT;
}

static void server_print_log(void)
{
    char cmd[160];
    fprintf(stderr, "---- last lines of %s ----\n", srv.log_path);
    snprintf(cmd, sizeof cmd, "tail -n 20 '%s' >&2", srv.log_path);
    if (system(cmd) != 0)
        fprintf(stderr, "(no log)\n");
}

/* In the child: etcd's output goes to a log file, and the kernel kills etcd if this
 * test dies without a teardown (a crash, an ASan abort). */
static void server_exec(void)
{
    int fd = open(srv.log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    char cluster[96];
    snprintf(cluster, sizeof cluster, "default=%s", srv.peer_url);
    execl(etcd_bin(), "etcd", "--name", "default", "--data-dir", srv.data_dir,
          "--listen-client-urls", srv.client_url, "--advertise-client-urls", srv.client_url,
          "--listen-peer-urls", srv.peer_url, "--initial-advertise-peer-urls", srv.peer_url,
          "--initial-cluster", cluster, (char *)NULL);
    _exit(127);
}

/* Ready means /health says true (a leader exists), within a bound. */
static int server_wait_ready(long bound_ms)
{
    char url[96];
    snprintf(url, sizeof url, "%s/health", srv.client_url);
    http_client *c = http_client_new(NULL, NULL);
    if (!c)
        return -1;
    int rc = -1;
    for (long deadline = now_ms() + bound_ms; now_ms() < deadline; sleep_ms(50)) {
        int status;
        if (waitpid(srv.pid, &status, WNOHANG) == srv.pid) {
            fprintf(stderr, "etcd exited early (status %d)\n", status);
            srv.pid = 0;
            break;
        }
        http_req req = {.method = "GET", .url = url, .timeout_ms = 1000};
        http_buf body;
        long code;
        if (http_do(c, &req, &code, &body, NULL) == 0) {
            bool up = code == 200 && strstr(body.data, "\"true\"");
            http_buf_free(&body);
            if (up) {
                rc = 0;
                break;
            }
        }
    }
    http_client_free(c);
    return rc;
}

static int server_start(void)
{
    srv.pid = fork();
    if (srv.pid < 0)
        return -1;
    if (srv.pid == 0)
        server_exec();
    if (server_wait_ready(30000) < 0) {
        fprintf(stderr, "etcd (%s) did not become ready on %s\n", etcd_bin(), srv.client_url);
        server_print_log();
        return -1;
    }
    return 0;
}

static void server_kill(void)
{
    if (srv.pid > 0) {
        kill(srv.pid, SIGKILL);
        waitpid(srv.pid, NULL, 0);
        srv.pid = 0;
    }
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* Two distinct ports on 127.0.0.1 that nobody listens on right now. */
static int free_ports(int ports[2])
{
    int fds[2] = {-1, -1}, rc = 0;
    for (int i = 0; i < 2; i++) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof sa;
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&sa, sizeof sa) < 0 ||
            getsockname(fds[i], (struct sockaddr *)&sa, &len) < 0)
            rc = -1;
        ports[i] = ntohs(sa.sin_port);
    }
    for (int i = 0; i < 2; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    return rc;
}

static int group_setup(void **state)
{
    (void)state;
    if (access(etcd_bin(), X_OK) != 0) {
        fprintf(stderr, "FATAL: %s is not installed (Debian package etcd-server): "
                        "the etcd client tests need a real etcd\n", etcd_bin());
        return -1;
    }
    strcpy(srv.dir, "/tmp/dokkaa-test-etcd-XXXXXX");
    if (!mkdtemp(srv.dir))
        return -1;
    snprintf(srv.data_dir, sizeof srv.data_dir, "%s/data", srv.dir);
    snprintf(srv.log_path, sizeof srv.log_path, "%s/etcd.log", srv.dir);
    for (int attempt = 0; attempt < 5; attempt++) {
        int ports[2];
        if (free_ports(ports) < 0)
            return -1;
        snprintf(srv.client_url, sizeof srv.client_url, "http://127.0.0.1:%d", ports[0]);
        snprintf(srv.peer_url, sizeof srv.peer_url, "http://127.0.0.1:%d", ports[1]);
        if (server_start() == 0)
            return 0;
    }
    return -1;
}

static int group_teardown(void **state)
{
    (void)state;
    server_kill();
    if (srv.dir[0])
        nftw(srv.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static int client_setup(void **state)
{
    err_t err = {0};
    *state = etcd_new(srv.client_url, &err);
    if (!*state)
        fprintf(stderr, "etcd_new: %s\n", err.msg);
    return *state ? 0 : -1;
}

static int client_teardown(void **state)
{
    etcd_free(*state);
    return 0;
}

/* ---- key-value ------------------------------------------------------------------- */

static void test_put_get_delete(void **state)
{
    etcd *e = *state;
    err_t err = {0};
    etcd_kvs kvs;
    int64_t rb, ra, rc;
    etcd_kvs gone;

    CHECK(etcd_put(e, "/t/kv/b", "2", 0, &rb, &err));
    CHECK(etcd_put(e, "/t/kv/a", "1", 0, &ra, &err));
    CHECK(etcd_put(e, "/t/kv/c", "3", 0, &rc, &err));
    CHECK(etcd_put(e, "/t/kvx", "outside", 0, NULL, &err));
    assert_true(rb > 0 && ra > rb && rc > ra);

    CHECK(etcd_get(e, "/t/kv/a", &kvs, &err));
    assert_int_equal(kvs.n, 1);
    assert_string_equal(kvs.kvs[0].key, "/t/kv/a");
    assert_string_equal(kvs.kvs[0].value, "1");
    assert_int_equal(kvs.kvs[0].value_len, 1);
    assert_int_equal(kvs.kvs[0].create_revision, ra);
    assert_int_equal(kvs.kvs[0].mod_revision, ra);
    assert_int_equal(kvs.kvs[0].version, 1);
    assert_int_equal(kvs.kvs[0].lease, 0);
    assert_true(kvs.revision > rc);
    etcd_kvs_free(&kvs);

    CHECK(etcd_get(e, "/t/kv/missing", &kvs, &err));
    assert_int_equal(kvs.n, 0);
    assert_true(kvs.revision > 0);
    etcd_kvs_free(&kvs);

    /* written b, a, c: read back sorted, without the sibling /t/kvx */
    CHECK(etcd_get_prefix(e, "/t/kv/", &kvs, &err));
    assert_int_equal(kvs.n, 3);
    assert_string_equal(kvs.kvs[0].key, "/t/kv/a");
    assert_string_equal(kvs.kvs[1].key, "/t/kv/b");
    assert_string_equal(kvs.kvs[2].key, "/t/kv/c");
    assert_string_equal(kvs.kvs[2].value, "3");
    etcd_kvs_free(&kvs);

    CHECK(etcd_put(e, "/t/kv/a", "1bis", 0, NULL, &err));
    CHECK(etcd_get(e, "/t/kv/a", &kvs, &err));
    assert_int_equal(kvs.kvs[0].version, 2);
    assert_int_equal(kvs.kvs[0].create_revision, ra);
    etcd_kvs_free(&kvs);

    CHECK(etcd_delete(e, "/t/kv/a", false, &gone, &err));
    assert_int_equal(gone.n, 1);
    assert_string_equal(gone.kvs[0].key, "/t/kv/a");
    assert_string_equal(gone.kvs[0].value, "1bis"); /* the value it had */
    assert_true(gone.revision > ra);
    etcd_kvs_free(&gone);
    CHECK(etcd_delete(e, "/t/kv/a", false, &gone, &err));
    assert_int_equal(gone.n, 0);
    etcd_kvs_free(&gone);
    CHECK(etcd_delete(e, "/t/kv/", true, &gone, &err));
    assert_int_equal(gone.n, 2);
    etcd_kvs_free(&gone);
    CHECK(etcd_get_prefix(e, "/t/kv/", &kvs, &err));
    assert_int_equal(kvs.n, 0);
    etcd_kvs_free(&kvs);
    CHECK(etcd_get(e, "/t/kvx", &kvs, &err));
    assert_int_equal(kvs.n, 1);
    etcd_kvs_free(&kvs);
}

static void test_values(void **state)
{
    etcd *e = *state;
    err_t err = {0};
    etcd_kvs kvs;
    /* every base64 padding case, control and high bytes, JSON-special characters,
     * UTF-8 up to 4-byte sequences, and the empty value */
    static const char *const values[] = {
        "\x01\x02\x7f\xff\xfe\xc3", "tab\there\nnew line \"quoted\" back\\slash {brace} [x]",
        "héllo wörld ☃ 日本語 🚀", "", "a", "ab", "abc", "abcd",
    };
    char key[64];
    for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
        snprintf(key, sizeof key, "/t/val/%zu", i);
        CHECK(etcd_put(e, key, values[i], 0, NULL, &err));
        CHECK(etcd_get(e, key, &kvs, &err));
        assert_int_equal(kvs.n, 1);
        assert_int_equal(kvs.kvs[0].value_len, strlen(values[i]));
        assert_memory_equal(kvs.kvs[0].value, values[i], strlen(values[i]) + 1);
        etcd_kvs_free(&kvs);
    }

    CHECK(etcd_put(e, "/t/val/ключ/日本", "ok", 0, NULL, &err));
    CHECK(etcd_get_prefix(e, "/t/val/ключ/", &kvs, &err));
    assert_int_equal(kvs.n, 1);
    assert_string_equal(kvs.kvs[0].key, "/t/val/ключ/日本");
    etcd_kvs_free(&kvs);

    /* A prefix ending in 0xff: its range end is "/t/fg", which itself is outside. */
    CHECK(etcd_put(e, "/t/ff\xff\x01", "in", 0, NULL, &err));
    CHECK(etcd_put(e, "/t/ff\xff", "in too", 0, NULL, &err));
    CHECK(etcd_put(e, "/t/fg", "out", 0, NULL, &err));
    CHECK(etcd_get_prefix(e, "/t/ff\xff", &kvs, &err));
    assert_int_equal(kvs.n, 2);
    assert_string_equal(kvs.kvs[0].key, "/t/ff\xff");
    assert_string_equal(kvs.kvs[1].key, "/t/ff\xff\x01");
    etcd_kvs_free(&kvs);
}

/* ---- transactions ---------------------------------------------------------------- */

static void test_txn_create_if_absent(void **state)
{
    etcd *e = *state;
    err_t err = {0};
    etcd_kvs kvs;
    bool ok = false;
    etcd_cmp absent = {.key = "/t/txn/lock", .target = ETCD_CMP_CREATE, .result = ETCD_EQUAL,
                       .number = 0};
    etcd_op first = {.type = ETCD_OP_PUT, .key = "/t/txn/lock", .value = "first"};
    etcd_op second = {.type = ETCD_OP_PUT, .key = "/t/txn/lock", .value = "second"};
    etcd_op lost = {.type = ETCD_OP_PUT, .key = "/t/txn/lost", .value = "yes"};

    CHECK(etcd_txn(e, &absent, 1, &first, 1, &lost, 1, &ok, &err));
    assert_true(ok);
    CHECK(etcd_get(e, "/t/txn/lost", &kvs, &err));
    assert_int_equal(kvs.n, 0);
    etcd_kvs_free(&kvs);

    CHECK(etcd_txn(e, &absent, 1, &second, 1, &lost, 1, &ok, &err));
    assert_false(ok);
    CHECK(etcd_get(e, "/t/txn/lock", &kvs, &err));
    assert_string_equal(kvs.kvs[0].value, "first");
    etcd_kvs_free(&kvs);
    CHECK(etcd_get(e, "/t/txn/lost", &kvs, &err)); /* the failure branch ran */
    assert_int_equal(kvs.n, 1);
    etcd_kvs_free(&kvs);

    /* a compare on the value, and a bad enum refused before anything is sent */
    etcd_cmp is_first = {.key = "/t/txn/lock", .target = ETCD_CMP_VALUE, .result = ETCD_EQUAL,
                         .value = "first"};
    etcd_op del = {.type = ETCD_OP_DELETE, .key = "/t/txn/", .prefix = true};
    CHECK(etcd_txn(e, &is_first, 1, &del, 1, NULL, 0, &ok, &err));
    assert_true(ok);
    CHECK(etcd_get_prefix(e, "/t/txn/", &kvs, &err));
    assert_int_equal(kvs.n, 0);
    etcd_kvs_free(&kvs);
    etcd_cmp bad = {.key = "/t/txn/x", .target = (enum etcd_cmp_target)42};
    assert_int_equal(etcd_txn(e, &bad, 1, NULL, 0, NULL, 0, &ok, &err), -1);
    assert_int_equal(err.code, ERR_INVALID);
}

static void test_txn_prefix_mod(void **state)
{
    etcd *e = *state;
    err_t err = {0};
    int64_t rev;
    bool ok = false;

    CHECK(etcd_put(e, "/t/txnp/a", "1", 0, NULL, &err));
    CHECK(etcd_put(e, "/t/txnp/b", "1", 0, &rev, &err));
    /* "nothing under the prefix changed since rev" */
    etcd_cmp unchanged = {.key = "/t/txnp/", .prefix = true, .target = ETCD_CMP_MOD,
                          .result = ETCD_LESS, .number = rev + 1};
    etcd_op mark = {.type = ETCD_OP_PUT, .key = "/t/txnp-mark", .value = "x"};

    CHECK(etcd_txn(e, &unchanged, 1, &mark, 1, NULL, 0, &ok, &err));
    assert_true(ok);
    CHECK(etcd_put(e, "/t/txnp-other", "outside the range", 0, NULL, &err));
    CHECK(etcd_txn(e, &unchanged, 1, &mark, 1, NULL, 0, &ok, &err));
    assert_true(ok);
    CHECK(etcd_put(e, "/t/txnp/b", "2", 0, NULL, &err));
    CHECK(etcd_txn(e, &unchanged, 1, &mark, 1, NULL, 0, &ok, &err));
    assert_false(ok);
}

/* An empty key is what keys.h's builders give for parts that do not fit: it must
 * never read, compare or delete the whole store (as a prefix, "" is every key). */
static void test_empty_key_is_refused(void **state)
{
    etcd *e = *state;
    err_t err = {0};
    etcd_kvs kvs;
    bool ok = true;
    CHECK(etcd_put(e, "/t/empty/kept", "1", 0, NULL, &err));
    assert_int_equal(etcd_delete(e, "", true, NULL, &err), -1);
    assert_int_equal(err.code, ERR_INVALID);
    assert_int_equal(etcd_get_prefix(e, "", &kvs, &err), -1);
    etcd_op wipe = {.type = ETCD_OP_DELETE, .key = "", .prefix = true};
    assert_int_equal(etcd_txn(e, NULL, 0, &wipe, 1, NULL, 0, &ok, &err), -1);
    CHECK(etcd_get(e, "/t/empty/kept", &kvs, &err));
    assert_int_equal(kvs.n, 1);
    etcd_kvs_free(&kvs);
}

/* ---- leases ---------------------------------------------------------------------- */

static void test_lease(void **state)
{
    etcd *e = *state;
    err_t err = {0};
    etcd_kvs kvs;
    int64_t lease = 0;
    etcd_keepalive ka;

    CHECK(etcd_lease_grant(e, 30, &lease, &err));
    assert_true(lease != 0);
    CHECK(etcd_put(e, "/t/lease/k", "v", lease, NULL, &err));
    CHECK(etcd_get(e, "/t/lease/k", &kvs, &err));
    assert_int_equal(kvs.n, 1);
    assert_int_equal(kvs.kvs[0].lease, lease);
    etcd_kvs_free(&kvs);

    CHECK(etcd_lease_keepalive(e, lease, &ka, &err));
    assert_true(ka.ttl > 0 && ka.ttl <= 30);
    assert_true(ka.term >= 1); /* a cluster that elected a leader says its term */

    CHECK(etcd_lease_revoke(e, lease, &err));
    CHECK(etcd_get(e, "/t/lease/k", &kvs, &err));
    assert_int_equal(kvs.n, 0);
    etcd_kvs_free(&kvs);
    CHECK(etcd_lease_keepalive(e, lease, &ka, &err));
    assert_int_equal(ka.ttl, 0);

    assert_int_equal(etcd_lease_revoke(e, lease, &err), -1);
    assert_int_equal(err.code, ERR_REMOTE);
}

/* ---- watch ----------------------------------------------------------------------- */

#define REC_MAX 128

/* What a watch delivered, for the assertions; shared with a watcher thread. */
struct recorder {
    pthread_mutex_t lock;
    atomic_int count;
    int batches;
    int batch_of[REC_MAX];
    enum etcd_event_type type[REC_MAX];
    char key[REC_MAX][48];
    char value[REC_MAX][48];
    size_t len[REC_MAX];
    char last[REC_MAX]; /* the value's last byte, to check long values end intact */
    int64_t rev[REC_MAX];
    int stop_after;        /* fn returns false once count reaches it; 0 = never */
    const char *stop_value; /* ... or once an event with this value arrives */
};

static void recorder_init(struct recorder *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
}

static bool record(void *ud, const etcd_event *events, size_t n)
{
    struct recorder *r = ud;
    bool more = true;
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < n; i++) {
        int at = atomic_load(&r->count);
        if (at < REC_MAX) {
            r->batch_of[at] = r->batches;
            r->type[at] = events[i].type;
            snprintf(r->key[at], sizeof r->key[at], "%s", events[i].kv.key);
            snprintf(r->value[at], sizeof r->value[at], "%s", events[i].kv.value);
            r->rev[at] = events[i].kv.mod_revision;
            r->len[at] = events[i].kv.value_len;
            size_t len = events[i].kv.value_len;
            r->last[at] = len ? events[i].kv.value[len - 1] : 0;
        }
        atomic_store(&r->count, at + 1);
        if (r->stop_value && strcmp(events[i].kv.value, r->stop_value) == 0)
            more = false;
    }
    r->batches++;
    if (r->stop_after && atomic_load(&r->count) >= r->stop_after)
        more = false;
    pthread_mutex_unlock(&r->lock);
    return more;
}

static bool wait_count(struct recorder *r, int target, long bound_ms)
{
    for (long deadline = now_ms() + bound_ms; now_ms() < deadline; sleep_ms(10))
        if (atomic_load(&r->count) >= target)
            return true;
    return atomic_load(&r->count) >= target;
}

static void test_watch_history(void **state)
{
    etcd *e = *state;
    err_t err = {0};
    int64_t start, txn_rev, cr = 0;
    bool ok;
    struct recorder r;
    recorder_init(&r);
    r.stop_after = 5;

    CHECK(etcd_put(e, "/t/w/a", "1", 0, &start, &err));
    CHECK(etcd_put(e, "/t/w/b", "2", 0, NULL, &err));
    CHECK(etcd_delete(e, "/t/w/a", false, NULL, &err));
    etcd_op two[] = {{.type = ETCD_OP_PUT, .key = "/t/w/c", .value = "3"},
                     {.type = ETCD_OP_PUT, .key = "/t/w/d", .value = "4"}};
    CHECK(etcd_txn(e, NULL, 0, two, 2, NULL, 0, &ok, &err));
    CHECK(etcd_put(e, "/t/wx", "not under the prefix", 0, &txn_rev, &err));
    txn_rev--;

    CHECK(etcd_watch(e, "/t/w/", start, record, &r, NULL, &cr, &err));
    assert_int_equal(atomic_load(&r.count), 5);
    static const char *const keys[] = {"/t/w/a", "/t/w/b", "/t/w/a", "/t/w/c", "/t/w/d"};
    static const char *const vals[] = {"1", "2", "", "3", "4"};
    for (int i = 0; i < 5; i++) {
        assert_string_equal(r.key[i], keys[i]);
        assert_string_equal(r.value[i], vals[i]);
        assert_int_equal(r.type[i], i == 2 ? ETCD_EVENT_DELETE : ETCD_EVENT_PUT);
        assert_int_equal(r.rev[i], i < 4 ? start + i : start + 3);
    }
    assert_int_equal(r.rev[4], txn_rev);
    assert_int_equal(r.batch_of[3], r.batch_of[4]); /* one revision, one batch */
    pthread_mutex_destroy(&r.lock);
}

/* Values far larger than a network chunk: every response spans many chunks. */
static void test_watch_large_values(void **state)
{
    enum { BIG = 300 * 1024 };
    etcd *e = *state;
    err_t err = {0};
    int64_t start;
    struct recorder r;
    recorder_init(&r);
    r.stop_after = 3;
    char *big = malloc(BIG + 1);
    assert_non_null(big);
    for (int i = 0; i < BIG; i++)
        big[i] = (char)('a' + i % 26);
    big[BIG] = '\0';

    big[BIG - 1] = 'X';
    CHECK(etcd_put(e, "/t/big/1", big, 0, &start, &err));
    big[BIG - 1] = 'Y';
    CHECK(etcd_put(e, "/t/big/2", big, 0, NULL, &err));
    big[BIG - 1] = 'Z';
    CHECK(etcd_put(e, "/t/big/3", big, 0, NULL, &err));
    free(big);

    CHECK(etcd_watch(e, "/t/big/", start, record, &r, NULL, NULL, &err));
    assert_int_equal(atomic_load(&r.count), 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r.len[i], BIG);
        assert_int_equal(r.last[i], 'X' + i);
        assert_memory_equal(r.value[i], "abcdefghij", 10);
    }
    pthread_mutex_destroy(&r.lock);
}

/* A watch run in its own thread, with its own client (one client per thread). */
struct watcher {
    pthread_t thread;
    const char *prefix;
    int64_t start;
    atomic_bool stop;
    atomic_bool finished;
    int rc;
    err_t err;
    struct recorder rec;
};

static void *watcher_main(void *arg)
{
    struct watcher *w = arg;
    etcd *e = etcd_new(srv.client_url, &w->err);
    w->rc = e ? etcd_watch(e, w->prefix, w->start, record, &w->rec, &w->stop, NULL, &w->err) : -1;
    etcd_free(e);
    atomic_store(&w->finished, true);
    return NULL;
}

static void watcher_start(struct watcher *w, const char *prefix, int64_t start)
{
    memset(w, 0, sizeof *w);
    recorder_init(&w->rec);
    w->prefix = prefix;
    w->start = start;
    assert_int_equal(pthread_create(&w->thread, NULL, watcher_main, w), 0);
}

/* Join, but only once the thread has finished within the bound: a watch that ignores
 * its stop flag must fail the test, not hang it. */
static void watcher_join(struct watcher *w, long bound_ms)
{
    for (long deadline = now_ms() + bound_ms; now_ms() < deadline; sleep_ms(10))
        if (atomic_load(&w->finished))
            break;
    if (!atomic_load(&w->finished))
        fail_msg("the watcher did not return within %ld ms", bound_ms);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->rec.lock);
}

/* start_revision 0 means "from now on": keep writing ticks until the watcher sees
 * one (then it is surely watching), and everything after must follow in order. */
static void test_watch_from_now(void **state)
{
    etcd *e = *state;
    err_t err = {0};
    struct watcher w;
    watcher_start(&w, "/t/now/", 0);
    w.rec.stop_value = "last";

    long deadline = now_ms() + 10000;
    while (atomic_load(&w.rec.count) == 0 && now_ms() < deadline) {
        CHECK(etcd_put(e, "/t/now/k", "tick", 0, NULL, &err));
        wait_count(&w.rec, 1, 50);
    }
    assert_true(atomic_load(&w.rec.count) > 0);
    int seen = atomic_load(&w.rec.count);
    CHECK(etcd_put(e, "/t/now/k", "after", 0, NULL, &err));
    CHECK(etcd_put(e, "/t/now/k", "last", 0, NULL, &err));
    watcher_join(&w, 10000);
    assert_int_equal(w.rc, 0);
    int n = atomic_load(&w.rec.count);
    assert_true(n >= seen + 2);
    assert_string_equal(w.rec.value[n - 2], "after");
    assert_string_equal(w.rec.value[n - 1], "last");
    for (int i = 1; i < n; i++)
        assert_true(w.rec.rev[i] > w.rec.rev[i - 1]);
}

static void put_numbered(etcd *e, int from, int to)
{
    err_t err = {0};
    char key[48];
    for (int i = from; i <= to; i++) {
        snprintf(key, sizeof key, "/t/restart/%03d", i);
        CHECK(etcd_put(e, key, key, 0, NULL, &err));
    }
}

/* The watch survives an etcd crash: every event exactly once, in order. */
static void test_watch_across_restart(void **state)
{
    enum { N = 20 };
    etcd *e = *state;
    err_t err = {0};
    int64_t rev;
    struct watcher w;

    CHECK(etcd_put(e, "/t/restart-marker", "x", 0, &rev, &err));
    watcher_start(&w, "/t/restart/", rev + 1);
    put_numbered(e, 1, N);
    assert_true(wait_count(&w.rec, N, 15000)); /* the stream is live before the crash */

    server_kill();
    assert_int_equal(server_start(), 0);
    put_numbered(e, N + 1, 2 * N);
    assert_true(wait_count(&w.rec, 2 * N, 30000));

    long t0 = now_ms();
    atomic_store(&w.stop, true);
    watcher_join(&w, 5000);
    assert_true(now_ms() - t0 < 5000);
    assert_int_equal(w.rc, -1);
    assert_int_equal(w.err.code, ERR_CANCELLED);

    assert_int_equal(atomic_load(&w.rec.count), 2 * N);
    char key[48];
    for (int i = 0; i < 2 * N; i++) {
        snprintf(key, sizeof key, "/t/restart/%03d", i + 1);
        assert_string_equal(w.rec.key[i], key);
        assert_int_equal(w.rec.type[i], ETCD_EVENT_PUT);
        if (i > 0)
            assert_true(w.rec.rev[i] > w.rec.rev[i - 1]);
    }
}

static void test_watch_stop(void **state)
{
    etcd *e = *state;
    err_t err = {0};
    struct recorder r;
    atomic_bool stop = true;
    recorder_init(&r);
    assert_int_equal(etcd_watch(e, "/t/stop/", 0, record, &r, &stop, NULL, &err), -1);
    assert_int_equal(err.code, ERR_CANCELLED);
    assert_int_equal(atomic_load(&r.count), 0);
    pthread_mutex_destroy(&r.lock);
}

/* ---- failover -------------------------------------------------------------------- */

static void test_failover(void **state)
{
    (void)state;
    err_t err = {0};
    etcd_kvs kvs;
    int64_t rev;
    char list[160];
    snprintf(list, sizeof list, "http://127.0.0.1:1, %s/", srv.client_url);

    etcd *e = etcd_new(list, &err);
    assert_non_null(e);
    assert_string_equal(etcd_endpoint(e), "http://127.0.0.1:1");
    CHECK(etcd_put(e, "/t/fo/k", "v", 0, &rev, &err));
    assert_string_equal(etcd_endpoint(e), srv.client_url); /* remembered */
    CHECK(etcd_get(e, "/t/fo/k", &kvs, &err));
    assert_string_equal(kvs.kvs[0].value, "v");
    etcd_kvs_free(&kvs);
    etcd_free(e);

    /* the watch fails over too (a fresh client starts on the dead endpoint) */
    struct recorder r;
    recorder_init(&r);
    r.stop_after = 1;
    e = etcd_new(list, &err);
    assert_non_null(e);
    CHECK(etcd_watch(e, "/t/fo/", rev, record, &r, NULL, NULL, &err));
    assert_string_equal(r.key[0], "/t/fo/k");
    etcd_free(e);
    pthread_mutex_destroy(&r.lock);

    /* nothing reachable: ERR_UNAVAIL; a bare host:port is taken as http */
    e = etcd_new("127.0.0.1:1", &err);
    assert_non_null(e);
    assert_string_equal(etcd_endpoint(e), "http://127.0.0.1:1");
    assert_int_equal(etcd_get(e, "/t/fo/k", &kvs, &err), -1);
    assert_int_equal(err.code, ERR_UNAVAIL);
    etcd_free(e);

    assert_null(etcd_new(" , ", &err));
    assert_int_equal(err.code, ERR_INVALID);
}

/* ---- compaction (last: it drops the history the watch tests replay) -------------- */

static void test_watch_compacted(void **state)
{
    etcd *e = *state;
    err_t err = {0};
    int64_t first, rev, cr = 0;
    struct recorder r;
    recorder_init(&r);

    CHECK(etcd_put(e, "/t/cmp/k", "1", 0, &first, &err));
    CHECK(etcd_put(e, "/t/cmp/k", "2", 0, &rev, &err));

    http_client *c = http_client_new(NULL, &err);
    assert_non_null(c);
    char url[96], body[96];
    snprintf(url, sizeof url, "%s/v3/kv/compaction", srv.client_url);
    snprintf(body, sizeof body, "{\"revision\": %lld, \"physical\": true}", (long long)rev);
    http_req req = {.method = "POST", .url = url, .body = body, .body_len = strlen(body),
                    .timeout_ms = 10000};
    http_buf resp;
    long status;
    CHECK(http_do(c, &req, &status, &resp, &err));
    assert_int_equal(status, 200);
    http_buf_free(&resp);
    http_client_free(c);

    assert_int_equal(etcd_watch(e, "/t/cmp/", first, record, &r, NULL, &cr, &err), -1);
    assert_int_equal(err.code, ERR_COMPACTED);
    assert_int_equal(cr, rev);
    assert_int_equal(atomic_load(&r.count), 0);

    /* from the compact revision on, the watch works */
    r.stop_after = 1;
    CHECK(etcd_watch(e, "/t/cmp/", cr, record, &r, NULL, NULL, &err));
    assert_string_equal(r.value[0], "2");
    pthread_mutex_destroy(&r.lock);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_get_delete, client_setup, client_teardown),
        cmocka_unit_test_setup_teardown(test_values, client_setup, client_teardown),
        cmocka_unit_test_setup_teardown(test_txn_create_if_absent, client_setup, client_teardown),
        cmocka_unit_test_setup_teardown(test_txn_prefix_mod, client_setup, client_teardown),
        cmocka_unit_test_setup_teardown(test_empty_key_is_refused, client_setup, client_teardown),
        cmocka_unit_test_setup_teardown(test_lease, client_setup, client_teardown),
        cmocka_unit_test_setup_teardown(test_watch_history, client_setup, client_teardown),
        cmocka_unit_test_setup_teardown(test_watch_large_values, client_setup, client_teardown),
        cmocka_unit_test_setup_teardown(test_watch_from_now, client_setup, client_teardown),
        cmocka_unit_test_setup_teardown(test_watch_across_restart, client_setup, client_teardown),
        cmocka_unit_test_setup_teardown(test_watch_stop, client_setup, client_teardown),
        cmocka_unit_test(test_failover),
        cmocka_unit_test_setup_teardown(test_watch_compacted, client_setup, client_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
