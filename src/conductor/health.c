/* health.c - the health checks (see health.h for the rules).
 *
 * One table of entries, one per container to probe, under one mutex. The thread
 * takes the entries that are due, probes them outside the lock with up to
 * HEALTH_WORKERS threads (a probe that hangs for its whole timeout must not hold
 * back a new instance's 250 ms probes), then applies the results to the entries
 * still wanted. A container replaced by health_want while being probed simply
 * drops its result. */
#include "health.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dokkaa/docker.h"
#include "dokkaa/log.h"

#define HEALTH_WORKERS 8
#define HEALTH_WHY_SIZE 256

typedef struct health_entry {
    health_target t;
    enum keys_health state;
    int fails;             /* failures in a row */
    long long seen_ms;     /* first listed (start_period counts from here) */
    long long due_ms;      /* next probe */
    bool probing;          /* a worker has it */
    char why[HEALTH_WHY_SIZE];
} health_entry;

struct health {
    pthread_mutex_t mu;
    pthread_cond_t cond;   /* health_want signals it */
    health_entry *entries;
    size_t n;
};

static long long health_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool health_target_init(health_target *t, const char *id, const char *cname,
                        const manifest_health *h, const char *addr, int port)
{
    memset(t, 0, sizeof *t);
    snprintf(t->id, sizeof t->id, "%s", id);
    snprintf(t->cname, sizeof t->cname, "%s", cname);
    snprintf(t->addr, sizeof t->addr, "%s", addr);
    t->kind = h->kind;
    t->port = port;
    t->interval = h->kind ? h->interval : 1;
    t->timeout = h->kind ? h->timeout : 1;
    t->retries = h->kind ? h->retries : 1;
    t->start_period = h->start_period;
    if (h->kind == MANIFEST_HEALTH_HTTP && !(t->path = strdup(h->path)))
        return false;
    if (h->kind == MANIFEST_HEALTH_EXEC) {
        if (!(t->exec = calloc(h->nexec + 1, sizeof *t->exec)))
            return false;
        for (size_t i = 0; i < h->nexec; i++)
            if (!(t->exec[i] = strdup(h->exec[i])))
                return false;
    }
    return true;
}

/* A deep copy of src into dst (which may be src itself: its strings are then
 * replaced by copies). */
static bool health_target_copy(health_target *dst, const health_target *src)
{
    health_target t = *src;
    bool ok = true;
    t.path = NULL;
    t.exec = NULL;
    if (src->path && !(t.path = strdup(src->path)))
        ok = false;
    if (ok && src->exec) {
        size_t n = 0;
        while (src->exec[n])
            n++;
        if (!(t.exec = calloc(n + 1, sizeof *t.exec)))
            ok = false;
        for (size_t i = 0; ok && i < n; i++)
            ok = (t.exec[i] = strdup(src->exec[i])) != NULL;
    }
    if (!ok) {
        health_target_free(&t);
        t = *src;
        t.path = NULL;
        t.exec = NULL;
    }
    *dst = t;
    return ok;
}

void health_target_free(health_target *t)
{
    free(t->path);
    for (size_t i = 0; t->exec && t->exec[i]; i++)
        free(t->exec[i]);
    free(t->exec);
    memset(t, 0, sizeof *t);
}

health *health_new(void)
{
    health *h = calloc(1, sizeof *h);
    if (h) {
        pthread_mutex_init(&h->mu, NULL);
        pthread_cond_init(&h->cond, NULL);
    }
    return h;
}

void health_free(health *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->n; i++)
        health_target_free(&h->entries[i].t);
    free(h->entries);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cond);
    free(h);
}

static health_entry *health_find(health *h, const char *id)
{
    for (size_t i = 0; i < h->n; i++)
        if (strcmp(h->entries[i].t.id, id) == 0)
            return &h->entries[i];
    return NULL;
}

void health_want(conductor *c, health_target *targets, size_t n)
{
    health *h = c->health;
    health_entry *next = calloc(n + 1, sizeof *next);
    long long now = health_now_ms();
    if (!next) { /* keep probing what we had */
        for (size_t i = 0; i < n; i++)
            health_target_free(&targets[i]);
        free(targets);
        return;
    }
    pthread_mutex_lock(&h->mu);
    for (size_t i = 0; i < n; i++) {
        health_entry *old = health_find(h, targets[i].id);
        next[i] = old ? *old : (health_entry){.state = KEYS_HEALTH_STARTING, .seen_ms = now,
                                              .due_ms = now};
        if (old)
            health_target_free(&old->t); /* the new config replaces it */
        next[i].t = targets[i];
    }
    for (size_t i = 0; i < h->n; i++)
        health_target_free(&h->entries[i].t); /* those not wanted anymore (others are "") */
    free(h->entries);
    h->entries = next;
    h->n = n;
    pthread_cond_signal(&h->cond);
    pthread_mutex_unlock(&h->mu);
    free(targets);
}

enum keys_health health_get(conductor *c, const char *id, char *why, size_t size)
{
    health *h = c->health;
    enum keys_health state = KEYS_HEALTH_STARTING;
    pthread_mutex_lock(&h->mu);
    const health_entry *e = health_find(h, id);
    if (e)
        state = e->state;
    if (why)
        snprintf(why, size, "%s", e ? e->why : "");
    pthread_mutex_unlock(&h->mu);
    return state;
}

/* ---- probes: 0 pass, -1 fail with why ---------------------------------------------- */

static size_t health_discard(char *data, size_t size, size_t n, void *ud)
{
    (void)data, (void)ud;
    return size * n;
}

static int health_http(const health_target *t, char *why, size_t size)
{
    char url[1200];
    long code = 0;
    CURL *curl = curl_easy_init();
    if (!curl)
        return snprintf(why, size, "out of memory"), -1;
    snprintf(url, sizeof url, "http://%s:%d%s", t->addr, t->port, t->path);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)t->timeout * 1000);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, health_discard);
    CURLcode rc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(curl);
    if (rc != CURLE_OK)
        return snprintf(why, size, "GET %s: %s", t->path, curl_easy_strerror(rc)), -1;
    if (code < 200 || code >= 400)
        return snprintf(why, size, "GET %s: %ld", t->path, code), -1;
    return 0;
}

static int health_tcp(const health_target *t, char *why, size_t size)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)t->port)};
    int fd = -1, rc = -1, soerr = 0;
    socklen_t len = sizeof soerr;
    if (inet_pton(AF_INET, t->addr, &sa.sin_addr) != 1)
        return snprintf(why, size, "tcp: bad address %s", t->addr), -1;
    if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
        return snprintf(why, size, "tcp: %s", strerror(errno)), -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
        rc = 0;
    } else if (errno == EINPROGRESS) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int ready = poll(&p, 1, t->timeout * 1000);
        if (ready == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr == 0)
            rc = 0;
        else
            snprintf(why, size, "tcp port %d: %s", t->port,
                     ready == 0 ? "timed out" : strerror(soerr ? soerr : errno));
    } else {
        snprintf(why, size, "tcp port %d: %s", t->port, strerror(errno));
    }
    close(fd);
    return rc;
}

static int health_exec(docker *d, const health_target *t, char *why, size_t size)
{
    int code = -1;
    err_t err;
    if (docker_exec(d, t->id, t->exec, t->timeout * 1000, &code, &err) < 0)
        return snprintf(why, size, "exec %.40s: %.200s", t->exec[0], err.msg), -1;
    if (code != 0)
        return snprintf(why, size, "exec %s: exit code %d", t->exec[0], code), -1;
    return 0;
}

/* "2026-12-02T18:00:00.123456789Z" in Unix milliseconds, or -1. */
static long long health_parse_time(const char *s)
{
    struct tm tm = {0};
    const char *rest = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    long long ms = 0;
    if (!rest)
        return -1;
    if (*rest == '.')
        for (int digits = 0; rest[1 + digits] >= '0' && rest[1 + digits] <= '9'; digits++)
            if (digits < 3)
                ms = ms * 10 + (rest[1 + digits] - '0');
    return (long long)timegm(&tm) * 1000 + ms;
}

/* The settle check: running, not restarting, for HEALTH_SETTLE_MS at least. */
static int health_settled(docker *d, const health_target *t, char *why, size_t size)
{
    json_t *info = NULL;
    err_t err;
    struct timespec now;
    if (docker_container_inspect(d, t->id, &info, &err) < 0)
        return snprintf(why, size, "%.240s", err.msg), -1;
    json_t *state = json_object_get(info, "State");
    long long started = health_parse_time(json_string_value(json_object_get(state, "StartedAt")));
    bool running = json_is_true(json_object_get(state, "Running")) &&
                   !json_is_true(json_object_get(state, "Restarting"));
    json_decref(info);
    clock_gettime(CLOCK_REALTIME, &now);
    long long up = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000 - started;
    if (!running)
        return snprintf(why, size, "not running"), -1;
    if (started < 0 || up < HEALTH_SETTLE_MS)
        return snprintf(why, size, "running for %lld ms only", up), -1;
    return 0;
}

static int health_probe(docker **d, const char *docker_host, const health_target *t, char *why,
                        size_t size)
{
    err_t err;
    if ((t->kind == MANIFEST_HEALTH_HTTP || t->kind == MANIFEST_HEALTH_TCP) && !t->port)
        return snprintf(why, size, "port not published"), -1;
    if (t->kind == MANIFEST_HEALTH_HTTP)
        return health_http(t, why, size);
    if (t->kind == MANIFEST_HEALTH_TCP)
        return health_tcp(t, why, size);
    if (!*d && !(*d = docker_new(docker_host, &err)))
        return snprintf(why, size, "%.240s", err.msg), -1;
    return t->kind == MANIFEST_HEALTH_EXEC ? health_exec(*d, t, why, size)
                                           : health_settled(*d, t, why, size);
}

/* ---- the thread --------------------------------------------------------------------- */

typedef struct health_job {
    health_target t;        /* a deep copy of the entry's target */
    int rc;
    char why[HEALTH_WHY_SIZE];
} health_job;

typedef struct health_round {
    conductor *c;
    health_job *jobs;
    size_t n;
    atomic_size_t next;
} health_round;

static void *health_worker(void *arg)
{
    health_round *r = arg;
    docker *d = NULL;
    size_t i;
    while ((i = atomic_fetch_add(&r->next, 1)) < r->n) {
        health_job *j = &r->jobs[i];
        j->why[0] = '\0';
        j->rc = health_probe(&d, r->c->docker_host, &j->t, j->why, sizeof j->why);
    }
    docker_free(d);
    return NULL;
}

/* Apply one result to its entry (if still wanted); true when its health changed. */
static bool health_apply(health *h, const health_job *j, long long now)
{
    health_entry *e = health_find(h, j->t.id);
    if (!e || !e->probing)
        return false; /* forgotten, or replaced by a new config meanwhile */
    enum keys_health before = e->state;
    e->probing = false;
    if (j->rc == 0) {
        e->fails = 0;
        e->state = KEYS_HEALTH_HEALTHY;
        e->why[0] = '\0';
    } else {
        snprintf(e->why, sizeof e->why, "%s", j->why);
        if (now - e->seen_ms >= (long long)e->t.start_period * 1000 && ++e->fails >= e->t.retries)
            e->state = KEYS_HEALTH_UNHEALTHY;
    }
    bool passed = e->state == KEYS_HEALTH_HEALTHY || before == KEYS_HEALTH_HEALTHY;
    e->due_ms = now + (passed ? (long long)e->t.interval * 1000 : HEALTH_FAST_MS);
    if (e->state != before && e->t.kind != MANIFEST_HEALTH_NONE)
        log_info("%s: %s%s%s", e->t.cname, keys_health_name(e->state), *e->why ? ": " : "",
                 e->why);
    return e->state != before;
}

/* Take the due entries (marked probing), or say how long to wait for the next. */
static size_t health_due(health *h, health_job *jobs, long long now, long long *wait_ms)
{
    size_t n = 0;
    *wait_ms = 1000;
    for (size_t i = 0; i < h->n; i++) {
        health_entry *e = &h->entries[i];
        if (e->probing)
            continue;
        if (e->due_ms <= now) {
            e->probing = true;
            jobs[n++].t = e->t;
        } else if (e->due_ms - now < *wait_ms) {
            *wait_ms = e->due_ms - now;
        }
    }
    return n;
}

void *health_thread(void *arg)
{
    conductor *c = arg;
    health *h = c->health;
    while (!atomic_load(&c->stop)) {
        long long wait_ms;
        pthread_mutex_lock(&h->mu);
        health_job *jobs = calloc(h->n + 1, sizeof *jobs);
        size_t n = jobs ? health_due(h, jobs, health_now_ms(), &wait_ms) : 0;
        if (n == 0) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            long long ns = ts.tv_nsec + (jobs ? wait_ms : 1000) * 1000000LL;
            ts.tv_sec += ns / 1000000000LL;
            ts.tv_nsec = ns % 1000000000LL;
            pthread_cond_timedwait(&h->cond, &h->mu, &ts);
            pthread_mutex_unlock(&h->mu);
            free(jobs);
            continue;
        }
        /* Probe copies: health_want may free an entry's target meanwhile. */
        for (size_t i = 0; i < n; i++)
            if (!health_target_copy(&jobs[i].t, &jobs[i].t))
                jobs[i].t.kind = MANIFEST_HEALTH_NONE; /* out of memory: a settle check */
        pthread_mutex_unlock(&h->mu);

        health_round round = {.c = c, .jobs = jobs, .n = n};
        pthread_t threads[HEALTH_WORKERS];
        size_t started = 0;
        while (started < n && started < HEALTH_WORKERS &&
               pthread_create(&threads[started], NULL, health_worker, &round) == 0)
            started++;
        if (started == 0)
            health_worker(&round);
        for (size_t t = 0; t < started; t++)
            pthread_join(threads[t], NULL);

        bool changed = false;
        long long now = health_now_ms();
        pthread_mutex_lock(&h->mu);
        for (size_t i = 0; i < n; i++)
            changed |= health_apply(h, &jobs[i], now);
        pthread_mutex_unlock(&h->mu);
        for (size_t i = 0; i < n; i++)
            health_target_free(&jobs[i].t);
        free(jobs);
        if (changed)
            conductor_wake(c);
    }
    return NULL;
}
