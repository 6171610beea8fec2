/* logs.c - GET /api/v1/apps/<app>/<name>/instances/<i>/logs[?follow=1][&tail=N]:
 * a container's output (stdout and stderr, as text), from whichever host runs it.
 *
 * The instance's status in the store names its host and container. When that is
 * this host, its own engine streams the log (docker_container_logs); otherwise the
 * request goes on to that host's builder with the client's Authorization and
 * X-Dokkaa-Forwarded: 1. A forwarded request is never forwarded again, so two
 * builders whose copies of etcd disagree for a moment cannot bounce it around.
 *
 * Each stream has a producer thread that reads the log and writes it into a pipe.
 * MHD's reader callback runs in the connection's own thread (one per connection
 * here) and waits on the pipe and on the client's socket at once, so a client that
 * hangs up is noticed at once even while the log is idle. The response's free
 * callback then stops the producer (the engine or remote stream checks its stop
 * flag about once a second) and joins it. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "builder.h"
#include "dokkaa/docker.h"
#include "dokkaa/http.h"
#include "dokkaa/keys.h"
#include "dokkaa/log.h"

#define LOGS_POLL_MS 250       /* how often a wait looks at the stop flags */
#define LOGS_ANSWER_MS 15000   /* how long another host's builder has to answer */
#define LOGS_ERROR_MAX 65536   /* the part of another builder's error answer relayed */
#define LOGS_TAIL_MAX 10000000
#define LOGS_BLOCK 32768       /* MHD's buffer for each piece of the body */

/* Where an instance's log is. */
typedef struct logs_target {
    const char *app, *name;
    int instance;
    char what[200];          /* "app/name/i", for messages */
    char host[64];
    char container[256];
    char addr[INET_ADDRSTRLEN]; /* the host's, when it is another host */
} logs_target;

typedef struct logs_stream {
    builder *b;
    atomic_bool stop;        /* the client left or the builder stops: the producer ends */
    atomic_bool broken;      /* the log's source failed: the body ends without its end */
    int rd, wr;              /* the pipe from the producer to MHD's reader */
    int client;              /* the client's socket, watched for its hang-up */
    pthread_t thread;
    bool started;
    char what[200];
    /* the source: this host's engine ... */
    docker *docker;
    char container[256];
    bool follow;
    int tail;
    /* ... or another host's builder (url set) */
    char *url;
    char *auth;              /* the client's Authorization header, passed on */
    /* the remote answer's status, which the handler waits for (under mu) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool answered, finished;
    long status;
    char ctype[128];
    char *body;              /* a remote error answer, relayed as it is */
    size_t body_len;
    char failure[sizeof ((err_t *)0)->msg];
} logs_stream;

/* ---- the request ---- */

/* Printable ASCII only goes back into a message: JSON cannot carry any byte. */
static const char *logs_shown(const char *v)
{
    for (const char *p = v; *p; p++)
        if (*p < 0x20 || *p > 0x7e || p - v > 40)
            return "(not shown)";
    return v;
}

/* follow is 0, 1, true or false and tail a count of lines: anything else is an
 * error rather than a default the client did not ask for. */
static bool logs_params(builder_req *r, bool *follow, int *tail, char *msg, size_t size)
{
    const char *f = NULL, *t = NULL;
    size_t len;
    *follow = false;
    *tail = -1;
    if (MHD_lookup_connection_value_n(r->conn, MHD_GET_ARGUMENT_KIND, "follow", 6, &f, &len) ==
        MHD_YES) {
        f = f ? f : "";
        *follow = strcmp(f, "1") == 0 || strcmp(f, "true") == 0;
        if (!*follow && strcmp(f, "0") != 0 && strcmp(f, "false") != 0) {
            snprintf(msg, size, "follow: must be 0, 1, true or false, got \"%s\"", logs_shown(f));
            return false;
        }
    }
    if (MHD_lookup_connection_value_n(r->conn, MHD_GET_ARGUMENT_KIND, "tail", 4, &t, &len) ==
        MHD_YES) {
        t = t ? t : "";
        char *end;
        errno = 0;
        long n = strtol(t, &end, 10);
        if (*t < '0' || *t > '9' || *end || errno || n > LOGS_TAIL_MAX) {
            snprintf(msg, size, "tail: must be an integer 0..%d, got \"%s\"", LOGS_TAIL_MAX,
                     logs_shown(t));
            return false;
        }
        *tail = (int)n;
    }
    return true;
}

/* The host's address from its record; 502 when the host is gone (its lease
 * expired between the two keys' updates) or its address is not an IPv4 one. */
static unsigned logs_host_addr(store_snap *snap, logs_target *t, char *msg, size_t size)
{
    char key[KEYS_SIZE];
    keys_host host;
    struct in_addr in;
    const etcd_kv *kv = store_get(snap, keys_host_key(key, t->host));
    if (!kv || keys_host_decode(kv->value, kv->value_len, &host, NULL) < 0 ||
        inet_pton(AF_INET, host.addr, &in) != 1) {
        snprintf(msg, size, "instance %s runs on host %s, which is not registered with an "
                 "address (%s)", t->what, t->host, kv ? "no IPv4 addr" : "no /hosts/ entry");
        return 502;
    }
    inet_ntop(AF_INET, &in, t->addr, sizeof t->addr); /* the same text, in t's size */
    return 0;
}

/* From the instance's status: its host and container. 0, or the error's status
 * with its message. A status that does not decode names no container. */
static unsigned logs_locate(builder *b, const char *app, const char *name, int instance,
                            logs_target *t, char *msg, size_t size)
{
    char key[KEYS_SIZE];
    keys_status st;
    unsigned status = 0;
    *t = (logs_target){.app = app, .name = name, .instance = instance};
    snprintf(t->what, sizeof t->what, "%s/%s/%d", app, name, instance);
    store_snap *snap = store_acquire(b->store);
    const etcd_kv *kv = store_get(snap, keys_status_key(key, app, name, instance));
    bool known = kv && keys_status_decode(kv->value, kv->value_len, &st, NULL) == 0;
    if (!kv) {
        snprintf(msg, size, "no instance %s: it does not exist, or no host runs it", t->what);
        status = 404;
    } else if (!known || !*st.container) {
        snprintf(msg, size, "instance %s has no container (state: %s)", t->what,
                 known ? keys_state_name(st.state) : "unknown");
        status = 404;
    } else {
        snprintf(t->host, sizeof t->host, "%s", st.host);
        snprintf(t->container, sizeof t->container, "%s", st.container);
        if (strcmp(t->host, b->host_id) != 0)
            status = logs_host_addr(snap, t, msg, size);
    }
    store_release(snap);
    return status;
}

/* ---- the stream ---- */

static logs_stream *logs_stream_new(builder_req *r, const logs_target *t, bool follow, int tail)
{
    int fds[2];
    logs_stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    /* The reader polls before it reads and the producer polls when the pipe is full:
     * neither end ever blocks past a check of the stop flags. */
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
        free(s);
        return NULL;
    }
    s->b = r->b;
    s->rd = fds[0];
    s->wr = fds[1];
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    s->client = ci ? ci->connect_fd : -1;
    snprintf(s->what, sizeof s->what, "%s", t->what);
    snprintf(s->container, sizeof s->container, "%s", t->container);
    s->follow = follow;
    s->tail = tail;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&s->mu, NULL);
    return s;
}

/* Stop the producer and wait for it: within about a second, the time the engine's
 * or the remote stream's stop check takes when the log is idle. */
static void logs_stream_stop(logs_stream *s)
{
    atomic_store(&s->stop, true);
    if (s->started) {
        pthread_join(s->thread, NULL);
        s->started = false;
    }
}

static void logs_stream_free(logs_stream *s)
{
    logs_stream_stop(s);
    close(s->rd);
    if (s->wr >= 0)
        close(s->wr);
    docker_free(s->docker);
    free(s->url);
    free(s->auth);
    free(s->body);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

static bool logs_stopped(logs_stream *s)
{
    return atomic_load(&s->stop) || atomic_load(&s->b->stopping);
}

/* All of it into the pipe, waiting while it is full (a client that reads slowly). */
static bool logs_write(logs_stream *s, const char *data, size_t len)
{
    while (len > 0) {
        if (logs_stopped(s))
            return false;
        ssize_t n = write(s->wr, data, len);
        if (n > 0) {
            data += n;
            len -= (size_t)n;
        } else if (n < 0 && errno == EAGAIN) {
            struct pollfd p = {.fd = s->wr, .events = POLLOUT};
            poll(&p, 1, LOGS_POLL_MS);
        } else if (n < 0 && errno != EINTR) {
            return false;
        }
    }
    return true;
}

/* stdout and stderr go out interleaved as the engine gives them, as `docker logs`
 * shows them on a terminal. */
static bool logs_on_output(void *ud, enum docker_stream stream, const char *data, size_t len)
{
    (void)stream;
    return logs_write(ud, data, len);
}

/* ---- forwarding to another host's builder ---- */

/* The status is known, and the handler, which has not answered its client yet,
 * may go on. */
static bool logs_on_status(void *ud, long status, const char *ctype)
{
    logs_stream *s = ud;
    pthread_mutex_lock(&s->mu);
    s->status = status;
    snprintf(s->ctype, sizeof s->ctype, "%s", ctype ? ctype : "");
    s->answered = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return true;
}

/* A log goes into the pipe; an error answer is kept (its start) to be relayed. */
static bool logs_on_chunk(void *ud, const char *data, size_t len)
{
    logs_stream *s = ud;
    if (s->status == 200)
        return logs_write(s, data, len);
    size_t keep = s->body_len + len > LOGS_ERROR_MAX ? LOGS_ERROR_MAX - s->body_len : len;
    char *grown = keep ? realloc(s->body, s->body_len + keep) : s->body;
    if (keep && !grown)
        return false;
    memcpy(grown + s->body_len, data, keep);
    s->body = grown;
    s->body_len += keep;
    return true;
}

/* The same request to the other host's builder, marked as forwarded and with the
 * client's credentials. */
static int logs_forward(logs_stream *s, err_t *err)
{
    char *auth = NULL;
    const char *headers[] = {"X-Dokkaa-Forwarded: 1", NULL, NULL};
    long status;
    http_client *c = http_client_new(NULL, err);
    if (!c)
        return -1;
    if (s->auth && asprintf(&auth, "Authorization: %s", s->auth) >= 0)
        headers[1] = auth;
    http_req req = {.method = "GET", .url = s->url, .headers = headers,
                    .on_status = logs_on_status};
    int rc = http_stream(c, &req, logs_on_chunk, s, &s->stop, &status, err);
    free(auth);
    http_client_free(c);
    return rc;
}

/* ---- the producer ---- */

static void *logs_produce(void *arg)
{
    logs_stream *s = arg;
    err_t err = {0};
    int rc = s->url ? logs_forward(s, &err)
                    : docker_container_logs(s->docker, s->container, s->follow, s->tail,
                                            logs_on_output, s, &s->stop, &err);
    if (rc < 0 && err.code != ERR_CANCELLED) {
        log_warn("logs of %s: %s", s->what, err.msg);
        atomic_store(&s->broken, true);
    }
    close(s->wr); /* the reader sees the end of the log */
    s->wr = -1;
    pthread_mutex_lock(&s->mu);
    if (rc < 0)
        snprintf(s->failure, sizeof s->failure, "%s", err.msg);
    s->finished = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static int logs_stream_start(logs_stream *s)
{
    if (pthread_create(&s->thread, NULL, logs_produce, s) != 0)
        return -1;
    s->started = true;
    return 0;
}

/* ---- the response ---- */

/* MHD's reader, in the connection's thread: the next bytes of the pipe, once there
 * are some. A client that hangs up, or the builder stopping, ends the response;
 * the end of the pipe ends it too, cleanly unless the source broke, so that a
 * client can tell a log that ended from one that was cut. */
static ssize_t logs_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    logs_stream *s = cls;
    for (;;) {
        if (atomic_load(&s->b->stopping))
            return MHD_CONTENT_READER_END_WITH_ERROR;
        struct pollfd fds[2] = {{.fd = s->rd, .events = POLLIN},
                                {.fd = s->client, .events = POLLRDHUP}};
        if (poll(fds, 2, LOGS_POLL_MS) < 0 && errno != EINTR)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (fds[1].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL))
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (!fds[0].revents)
            continue;
        ssize_t n = read(s->rd, buf, max);
        if (n > 0)
            return n;
        if (n == 0)
            return atomic_load(&s->broken) ? MHD_CONTENT_READER_END_WITH_ERROR
                                           : MHD_CONTENT_READER_END_OF_STREAM;
        if (errno != EAGAIN && errno != EINTR)
            return MHD_CONTENT_READER_END_WITH_ERROR;
    }
}

/* The response is gone (finished, client gone, or the daemon stopping). */
static void logs_done(void *cls)
{
    logs_stream_free(cls);
    metrics_stream(0, -1);
}

/* A log may stay silent for hours: MHD's idle time-out must not end it (the reader
 * notices a client that hangs up), and keepalive probes notice one that vanished. */
static void logs_keep_open(builder_req *r, int client)
{
    int on = 1, idle = 10, interval = 5, count = 3;
    MHD_set_connection_option(r->conn, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
    if (client < 0)
        return;
    setsockopt(client, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
    setsockopt(client, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    setsockopt(client, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
    setsockopt(client, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
}

/* 200 and the stream; from here the response owns s. */
static enum MHD_Result logs_respond(builder_req *r, logs_stream *s)
{
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, LOGS_BLOCK, logs_read, s, logs_done);
    if (!resp) {
        logs_stream_free(s);
        return reply_error(r, 500, "out of memory");
    }
    metrics_stream(0, +1);
    MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    logs_keep_open(r, s->client);
    r->status = MHD_HTTP_OK;
    enum MHD_Result ret = MHD_queue_response(r->conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* This host's engine. The inspect comes first so that a missing container is a
 * 404 rather than an empty 200 (docker_container_logs inspects again, for the
 * framing; a local call of a millisecond). */
static enum MHD_Result logs_local(builder_req *r, const logs_target *t, bool follow, int tail)
{
    err_t err;
    json_t *info = NULL;
    const char *engine = r->b->docker_host[0] ? r->b->docker_host : NULL;
    logs_stream *s = logs_stream_new(r, t, follow, tail);
    if (!s)
        return reply_error(r, 500, "out of memory or descriptors");
    if (!(s->docker = docker_new(engine, &err)) ||
        docker_container_inspect(s->docker, t->container, &info, &err) < 0)
        goto err;
    json_decref(info);
    if (logs_stream_start(s) < 0) {
        err_set(&err, ERR_SYS, "cannot start a thread for the stream");
        goto err;
    }
    return logs_respond(r, s);
err:
    logs_stream_free(s);
    if (err.code == ERR_NOTFOUND)
        return reply_error(r, 404, "instance %s: host %s's engine has no container %s (it is "
                           "being replaced or removed)", t->what, t->host, t->container);
    return reply_error(r, err.code == ERR_SYS ? 500 : 502, "instance %s on host %s: %s",
                       t->what, t->host, err.msg);
}

enum logs_answer { LOGS_STREAMING, LOGS_ANSWERED, LOGS_TIMED_OUT, LOGS_STOPPING };

/* Wait until the remote builder streams (200) or has finished: an error answer,
 * all of it, or a failure to ask. */
static enum logs_answer logs_await(logs_stream *s)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    time_t deadline = now.tv_sec + LOGS_ANSWER_MS / 1000;
    enum logs_answer answer;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        if (s->answered && s->status == 200) {
            answer = LOGS_STREAMING;
            break;
        }
        if (s->finished) {
            answer = LOGS_ANSWERED;
            break;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec >= deadline || atomic_load(&s->b->stopping)) {
            answer = now.tv_sec >= deadline ? LOGS_TIMED_OUT : LOGS_STOPPING;
            break;
        }
        now.tv_nsec += LOGS_POLL_MS * 1000000L; /* a tick, to look at b->stopping */
        now.tv_sec += now.tv_nsec / 1000000000L;
        now.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&s->cv, &s->mu, &now);
    }
    pthread_mutex_unlock(&s->mu);
    return answer;
}

/* Once the remote is known not to stream: its error answer as it is (a 404 there,
 * say), or a 502 saying why it could not be asked. */
static enum MHD_Result logs_remote_failed(builder_req *r, logs_stream *s, const logs_target *t,
                                          enum logs_answer answer)
{
    enum MHD_Result ret;
    logs_stream_stop(s); /* from here its fields are the handler's alone */
    if (answer == LOGS_STOPPING)
        ret = reply_error(r, 503, "the builder is stopping");
    else if (s->answered)
        ret = reply_text(r, (unsigned)s->status,
                         s->ctype[0] ? s->ctype : "application/json",
                         s->body ? s->body : "", s->body_len);
    else if (answer == LOGS_TIMED_OUT)
        ret = reply_error(r, 502, "instance %s runs on host %s, whose builder did not answer "
                          "within %d s", t->what, t->host, LOGS_ANSWER_MS / 1000);
    else
        ret = reply_error(r, 502, "instance %s runs on host %s, whose builder could not be "
                          "asked: %s", t->what, t->host, s->failure);
    logs_stream_free(s);
    return ret;
}

/* Another host's builder: the same request, with the client's credentials. */
static enum MHD_Result logs_remote(builder_req *r, const logs_target *t, bool follow, int tail)
{
    const char *auth =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    char tailq[32] = "";
    logs_stream *s = logs_stream_new(r, t, follow, tail);
    if (!s)
        return reply_error(r, 500, "out of memory or descriptors");
    if (tail >= 0)
        snprintf(tailq, sizeof tailq, "&tail=%d", tail);
    /* with TLS, over HTTPS: the host's certificate makes this builder trusted there */
    if (asprintf(&s->url, "%s://%s:%d/api/v1/apps/%s/%s/instances/%d/logs?follow=%d%s",
                 r->b->tls_daemon ? "https" : "http", t->addr, r->b->port, t->app, t->name, t->instance, follow, tailq) < 0)
        s->url = NULL;
    if (!s->url || (auth && !(s->auth = strdup(auth))) || logs_stream_start(s) < 0) {
        logs_stream_free(s);
        return reply_error(r, 500, "cannot forward the log request of %s", t->what);
    }
    enum logs_answer answer = logs_await(s);
    if (answer == LOGS_STREAMING)
        return logs_respond(r, s);
    return logs_remote_failed(r, s, t, answer);
}

enum MHD_Result logs_handle(builder_req *r, const char *app, const char *name, int instance)
{
    bool follow;
    int tail;
    logs_target t;
    char msg[512];
    unsigned status;
    if (!logs_params(r, &follow, &tail, msg, sizeof msg))
        return reply_error(r, 400, "%s", msg);
    if ((status = logs_locate(r->b, app, name, instance, &t, msg, sizeof msg)))
        return reply_error(r, status, "%s", msg);
    if (strcmp(t.host, r->b->host_id) == 0)
        return logs_local(r, &t, follow, tail);
    /* A builder sent it here because its copy said the instance runs here; ours
     * says otherwise. One of the copies is behind: the client may ask again. */
    if (MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Dokkaa-Forwarded"))
        return reply_error(r, 502, "instance %s runs on host %s, not on this host %s, which "
                           "the forwarding builder thought it did; ask again",
                           t.what, t.host, r->b->host_id);
    return logs_remote(r, &t, follow, tail);
}
