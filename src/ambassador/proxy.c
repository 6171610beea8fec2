/* proxy.c - the ambassador's data path (see proxy.h).
 *
 * One worker per core, each a thread with its own epoll set (level-triggered),
 * its own listener on every link port (SO_REUSEPORT: the kernel spreads accepted
 * connections over the workers) and its own connections: a connection lives and
 * dies on the worker that accepted it, so the data path takes no lock. What the
 * workers share is the routing table, the instances (their connection counts and
 * back-off, for least-connections across all workers) and the per-link counters;
 * the table and the lists are under one mutex, taken once per accepted
 * connection, and the counts are atomics.
 *
 * Bytes move with splice(2) through a pipe per direction, socket to pipe to
 * socket, never copied to user space. Each side is read only while its pipe is
 * empty, and a side that reaches EOF is passed on as shutdown(SHUT_WR) once its
 * pipe is drained, so half-closed streams deliver every byte. A worker keeps the
 * empty pipes of closed connections for the next ones, so a connection costs its
 * own struct and nothing else after warm-up. An fd with nothing to wait for is
 * taken out of the epoll set, as epoll would otherwise report its errors and
 * hang-ups at every wait.
 *
 * A link is an access list: a client whose address is not one of the local
 * containers whose manifest links the service (or an operator's --allow network)
 * is closed at accept, and the log says who and which link (table_allows).
 *
 * Each connection goes to the live instance with the fewest connections (ties
 * rotate). An instance that refuses the connect, or does not answer it within
 * PROXY_CONNECT_MS, is marked down for PROXY_BACKOFF_MS, which new connections
 * then skip, and the next instance is tried; with none left the client is closed
 * at once rather than left hanging. Deadlines, and listeners paused when out of
 * fds, are looked at by a sweep every PROXY_SWEEP_MS while there are any. */
#include "proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dokkaa/log.h"

#define PROXY_EVENTS 64
#define PROXY_PIPE_BYTES (64 * 1024) /* Linux's default pipe size: 16 pages */
#define PROXY_POOL 64          /* spare pipes a worker keeps */
#define PROXY_FDS_PER_CONN 6   /* client, backend, two pipes */
#define PROXY_CONNECT_MS 2000 /* a backend silent this long is skipped, not waited on ~2 min */
#define PROXY_BACKOFF_MS 3000 /* a backend that failed a connect is skipped this long */
#define PROXY_SWEEP_MS 250    /* how late a deadline or the end of a pause may be seen */
#define PROXY_PAUSE_MS 1000   /* a listener out of fds stops accepting this long */
#define PROXY_LOG_MS 1000     /* refusals are logged at most this often per link */

enum proxy_kind { PROXY_WAKE, PROXY_LISTENER, PROXY_CLIENT, PROXY_BACKEND };

typedef struct proxy_listener {
    enum proxy_kind kind;
    int fd;
    int port;
    bool dead;              /* closed; freed after the current batch of events */
    bool paused;            /* out of the epoll set until resume_at */
    int64_t resume_at;
    int64_t refused_logged; /* when a refusal was last logged */
    unsigned long refused;  /* refusals not logged since */
    struct proxy_listener *next; /* the open listeners, or the dead ones */
} proxy_listener;

typedef struct proxy_flow { /* one direction: bytes read from one side, not yet written */
    int pipe[2];  /* -1 until the connection is established */
    size_t len;   /* bytes in the pipe */
    bool eof;     /* the reading side said EOF */
    bool shut;    /* ... and that was passed on */
} proxy_flow;

/* What the proxy knows of one instance across table rebuilds and workers: the
 * connections it holds, for least-connections, and until when it is skipped
 * after a failed connect. A list: instances are tens per link, looked up once
 * per connect, under p->mu. */
typedef struct proxy_instance {
    char addr[64];
    int port;
    atomic_uint active;      /* connections to it, connecting ones included */
    atomic_llong down_until; /* skipped before this time (proxy_now) */
    struct proxy_instance *next;
} proxy_instance;

/* A link's counters, kept while the link is in the table or a connection holds
 * them (list under p->mu, counts atomic). */
typedef struct proxy_counters {
    char app[64], service[64];
    int port;
    atomic_ullong active, total, bytes_in, bytes_out, refused, failures;
    struct proxy_counters *next;
} proxy_counters;

typedef struct proxy_conn {
    enum proxy_kind client_kind;  /* PROXY_CLIENT: the epoll tag of cfd */
    enum proxy_kind backend_kind; /* PROXY_BACKEND: the epoll tag of bfd */
    int cfd, bfd;
    uint32_t cmask, bmask;        /* interest registered for each fd */
    bool creg, breg;              /* is the fd in the epoll set yet */
    bool connecting;
    int64_t deadline;             /* of the connect in progress */
    bool dead;                    /* closed; freed after the current batch of events */
    struct proxy_conn *prev, *next; /* the live connections, or the dead ones */
    int port;                     /* the link's port, to find the backends again */
    size_t first;                 /* where ties start, so they rotate */
    size_t tried;                 /* connects attempted */
    uint64_t tried_mask;          /* which of the link's first 64 instances (a table
                                   * swapped meanwhile may shift them: harmless) */
    proxy_instance *instance;     /* the one connected or being connected to */
    proxy_counters *counters;     /* the link's */
    proxy_flow up, down;          /* client -> backend, backend -> client */
} proxy_conn;

typedef struct proxy_worker {
    proxy *p;
    int epfd, wakefd;
    enum proxy_kind wake_kind;
    proxy_listener *listeners;
    proxy_listener *dead_listeners; /* closed during this batch of events */
    size_t connecting, paused;      /* connections connecting, listeners paused */
    int64_t next_sweep;
    proxy_conn *live;               /* open connections */
    proxy_conn *dead;               /* closed during this batch of events */
    size_t nconns, max_conns;
    int64_t limit_logged;
    int pool[PROXY_POOL][2];        /* empty pipes for the next connections */
    size_t npool;
    pthread_t thread;
    const atomic_bool *stop;
    int rc;
} proxy_worker;

struct proxy {
    char listen_addr[64];
    pthread_mutex_t mu;            /* guards table, instances, counters */
    table table;
    atomic_ulong next_backend;     /* rotates ties between instances */
    proxy_instance *instances;     /* every instance seen, while in a table or in use */
    proxy_counters *counters;      /* every link's, while in the table or in use */
    proxy_worker *workers;
    int nworkers;
};

static int64_t proxy_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- setup --------------------------------------------------------------------- */

/* Every connection takes PROXY_FDS_PER_CONN descriptors: raise the soft limit to
 * the hard one, and share what it allows between the workers. */
static size_t proxy_fd_budget(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur > 256 ? (size_t)rl.rlim_cur - 128 : 128;
}

static int proxy_worker_init(proxy_worker *w, proxy *p)
{
    w->p = p;
    w->wake_kind = PROXY_WAKE;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &w->wake_kind};
    if (w->epfd < 0 || w->wakefd < 0 || epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->wakefd, &ev) < 0)
        return -1;
    return 0;
}

proxy *proxy_new(const char *listen_addr, int workers, size_t max_conns, err_t *err)
{
    proxy *p = calloc(1, sizeof *p);
    if (!p)
        return err_sys(err, "proxy"), NULL;
    pthread_mutex_init(&p->mu, NULL);
    snprintf(p->listen_addr, sizeof p->listen_addr, "%s", listen_addr);
    if (workers <= 0)
        workers = (int)sysconf(_SC_NPROCESSORS_ONLN);
    p->nworkers = workers > 0 ? workers : 1;
    size_t budget = proxy_fd_budget() / PROXY_FDS_PER_CONN;
    if (max_conns == 0 || max_conns > budget)
        max_conns = budget;
    if (!(p->workers = calloc((size_t)p->nworkers, sizeof *p->workers))) {
        err_sys(err, "proxy");
        goto err;
    }
    for (int i = 0; i < p->nworkers; i++) {
        p->workers[i].epfd = p->workers[i].wakefd = -1;
        p->workers[i].max_conns = (max_conns + (size_t)p->nworkers - 1) / (size_t)p->nworkers;
        if (proxy_worker_init(&p->workers[i], p) < 0) {
            err_sys(err, "proxy: epoll");
            goto err;
        }
    }
    log_info("proxy: %d workers, up to %zu connections", p->nworkers, max_conns);
    return p;
err:
    proxy_free(p);
    return NULL;
}

static void proxy_close(proxy_worker *w, proxy_conn *c);
static void proxy_reap(proxy_worker *w);

static void proxy_worker_free(proxy_worker *w)
{
    while (w->live)
        proxy_close(w, w->live);
    proxy_reap(w);
    for (proxy_listener *l = w->listeners, *next; l; l = next) {
        next = l->next;
        close(l->fd);
        free(l);
    }
    for (size_t i = 0; i < w->npool; i++) {
        close(w->pool[i][0]);
        close(w->pool[i][1]);
    }
    if (w->epfd >= 0)
        close(w->epfd);
    if (w->wakefd >= 0)
        close(w->wakefd);
}

void proxy_free(proxy *p)
{
    if (!p)
        return;
    for (int i = 0; p->workers && i < p->nworkers; i++)
        proxy_worker_free(&p->workers[i]);
    free(p->workers);
    while (p->instances) {
        proxy_instance *in = p->instances;
        p->instances = in->next;
        free(in);
    }
    while (p->counters) {
        proxy_counters *k = p->counters;
        p->counters = k->next;
        free(k);
    }
    table_free(&p->table);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

static void proxy_wake(proxy *p)
{
    uint64_t one = 1;
    for (int i = 0; i < p->nworkers; i++)
        if (write(p->workers[i].wakefd, &one, sizeof one) < 0 && errno != EAGAIN)
            log_warn("proxy: wake: %s", strerror(errno));
}

void proxy_set_table(proxy *p, table *t)
{
    pthread_mutex_lock(&p->mu);
    table_free(&p->table);
    p->table = *t;
    *t = (table){0};
    pthread_mutex_unlock(&p->mu);
    proxy_wake(p);
}

/* ---- instances and counters: shared between the workers, under p->mu ---------- */

static proxy_instance *proxy_instance_of(proxy *p, const table_backend *b)
{
    proxy_instance *in;
    for (in = p->instances; in; in = in->next)
        if (in->port == b->port && strcmp(in->addr, b->addr) == 0)
            return in;
    if (!(in = calloc(1, sizeof *in)))
        return NULL;
    snprintf(in->addr, sizeof in->addr, "%s", b->addr);
    in->port = b->port;
    in->next = p->instances;
    p->instances = in;
    return in;
}

static bool proxy_listed(const table *t, const proxy_instance *in)
{
    for (size_t l = 0; l < t->n; l++)
        for (size_t b = 0; b < t->links[l].nbackends; b++)
            if (t->links[l].backends[b].port == in->port &&
                strcmp(t->links[l].backends[b].addr, in->addr) == 0)
                return true;
    return false;
}

static proxy_counters *proxy_counters_of(proxy *p, const table_link *link)
{
    proxy_counters *k;
    for (k = p->counters; k; k = k->next)
        if (k->port == link->port && strcmp(k->app, link->app) == 0 &&
            strcmp(k->service, link->service) == 0)
            return k;
    if (!(k = calloc(1, sizeof *k)))
        return NULL;
    snprintf(k->app, sizeof k->app, "%s", link->app);
    snprintf(k->service, sizeof k->service, "%s", link->service);
    k->port = link->port;
    k->next = p->counters;
    p->counters = k;
    return k;
}

/* Forget instances and counters no connection holds and no link names. */
static void proxy_prune(proxy *p)
{
    for (proxy_instance **ip = &p->instances; *ip;) {
        proxy_instance *in = *ip;
        if (atomic_load(&in->active) || proxy_listed(&p->table, in)) {
            ip = &in->next;
        } else {
            *ip = in->next;
            free(in);
        }
    }
    for (proxy_counters **kp = &p->counters; *kp;) {
        proxy_counters *k = *kp;
        const table_link *link = table_by_port(&p->table, k->port);
        if (atomic_load(&k->active) ||
            (link && strcmp(link->app, k->app) == 0 && strcmp(link->service, k->service) == 0)) {
            kp = &k->next;
        } else {
            *kp = k->next;
            free(k);
        }
    }
}

/* The connection no longer uses its instance; failed says the connect did not
 * succeed, which takes the instance out of rotation for a while. */
static void proxy_release(proxy_conn *c, bool failed)
{
    if (!c->instance)
        return;
    if (failed) {
        atomic_store(&c->instance->down_until, proxy_now() + PROXY_BACKOFF_MS);
        if (c->counters)
            atomic_fetch_add(&c->counters->failures, 1);
    }
    /* the last touch: with no connection left, a worker syncing a new table may
     * free an instance no link names any more (proxy_prune) */
    atomic_fetch_sub(&c->instance->active, 1);
    c->instance = NULL;
}

/* Of the link's instances this connection has not tried: those not marked down
 * before those marked down, then the fewest connections; ties rotate. */
static const table_backend *proxy_pick(proxy *p, const table_link *link, proxy_conn *c)
{
    const table_backend *best = NULL;
    proxy_instance *best_in = NULL;
    unsigned best_active = 0;
    bool best_down = false;
    size_t best_i = 0;
    int64_t now = proxy_now();
    for (size_t k = 0; k < link->nbackends; k++) {
        size_t i = (c->first + k) % link->nbackends;
        proxy_instance *in;
        if ((i < 64 && (c->tried_mask >> i) & 1) || !(in = proxy_instance_of(p, &link->backends[i])))
            continue;
        bool down = atomic_load(&in->down_until) > now;
        unsigned active = atomic_load(&in->active);
        if (!best || (best_down && !down) || (down == best_down && active < best_active)) {
            best = &link->backends[i];
            best_in = in;
            best_i = i;
            best_down = down;
            best_active = active;
        }
    }
    if (best) {
        c->tried_mask |= best_i < 64 ? 1ull << best_i : 0;
        c->instance = best_in;
        atomic_fetch_add(&best_in->active, 1);
    }
    return best;
}

void proxy_stats(proxy *p, void (*fn)(void *ud, const proxy_link_stats *s), void *ud)
{
    pthread_mutex_lock(&p->mu);
    for (proxy_counters *k = p->counters; k; k = k->next) {
        proxy_link_stats s = {.port = k->port, .active = atomic_load(&k->active),
                              .total = atomic_load(&k->total), .bytes_in = atomic_load(&k->bytes_in),
                              .bytes_out = atomic_load(&k->bytes_out),
                              .refused = atomic_load(&k->refused),
                              .failures = atomic_load(&k->failures)};
        snprintf(s.app, sizeof s.app, "%s", k->app);
        snprintf(s.service, sizeof s.service, "%s", k->service);
        fn(ud, &s);
    }
    pthread_mutex_unlock(&p->mu);
}

/* ---- listeners ---------------------------------------------------------------- */

/* SO_REUSEPORT: every worker has its own socket on the port, and the kernel
 * spreads the connections over them. */
static int proxy_listen(const proxy *p, int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    /* accepted sockets inherit it: without, a reply the backend wrote in two pieces
     * waits for the client's delayed ACK of the first, some 40 ms */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (inet_pton(AF_INET, p->listen_addr, &sa.sin_addr) != 1 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 1024) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

/* Close l now; free it later, as more events of this batch may name it. */
static void proxy_drop_listener(proxy_worker *w, proxy_listener *l)
{
    close(l->fd); /* closing removes the fd from the epoll set */
    if (l->paused)
        w->paused--;
    l->dead = true;
    l->next = w->dead_listeners;
    w->dead_listeners = l;
}

/* Out of fds (or memory), accept fails but leaves the connection queued, so the
 * listener stays readable: stop watching it for a while rather than spin. */
static void proxy_pause(proxy_worker *w, proxy_listener *l, int err)
{
    log_warn("link port %d: accept: %s; not accepting for %d ms", l->port, strerror(err),
             PROXY_PAUSE_MS);
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, l->fd, NULL);
    l->paused = true;
    l->resume_at = proxy_now() + PROXY_PAUSE_MS;
    w->paused++;
}

static void proxy_resume(proxy_worker *w, proxy_listener *l)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};
    l->paused = false;
    w->paused--;
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, l->fd, &ev) < 0)
        log_warn("link port %d: epoll: %s", l->port, strerror(errno));
}

static void proxy_open_listener(proxy_worker *w, const table_link *link)
{
    int fd = proxy_listen(w->p, link->port);
    if (fd < 0) {
        log_warn("link %s/%s: listen on %s:%d: %s", link->app, link->service, w->p->listen_addr,
                 link->port, strerror(errno));
        return;
    }
    proxy_listener *l = calloc(1, sizeof *l);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};
    if (!l || epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        close(fd);
        free(l);
        return;
    }
    *l = (proxy_listener){.kind = PROXY_LISTENER, .fd = fd, .port = link->port,
                          .next = w->listeners};
    w->listeners = l;
    if (w == &w->p->workers[0])
        log_info("link %s/%s: listening on %s:%d (%zu instances)", link->app, link->service,
                 w->p->listen_addr, link->port, link->nbackends);
}

/* Open a listener for every link that has none, close those of links gone.
 * Connections already accepted on a closed listener go on until they end. */
static void proxy_sync_listeners(proxy_worker *w)
{
    proxy *p = w->p;
    pthread_mutex_lock(&p->mu);
    proxy_prune(p);
    for (proxy_listener **lp = &w->listeners; *lp;) {
        proxy_listener *l = *lp;
        if (table_by_port(&p->table, l->port)) {
            lp = &l->next;
            continue;
        }
        if (w == &p->workers[0])
            log_info("link on port %d gone: closing its listener", l->port);
        *lp = l->next;
        proxy_drop_listener(w, l);
    }
    for (size_t i = 0; i < p->table.n; i++) {
        proxy_listener *l = w->listeners;
        while (l && l->port != p->table.links[i].port)
            l = l->next;
        if (!l)
            proxy_open_listener(w, &p->table.links[i]);
    }
    pthread_mutex_unlock(&p->mu);
}

/* ---- connections -------------------------------------------------------------- */

/* Set fd's interest. An fd with none is taken out of the epoll set: an interest
 * of 0 would still report errors and hang-ups, level-triggered, so at every wait,
 * while nothing can be done about them until the other side moves (a client reset
 * while its backend is silent: a busy loop). It goes back in when interest
 * returns, and whatever happened meanwhile is seen then. */
static void proxy_watch(proxy_worker *w, int fd, bool *registered, uint32_t *mask, uint32_t want,
                        enum proxy_kind *tag)
{
    struct epoll_event ev = {.events = want, .data.ptr = tag};
    if (want == 0 && *registered)
        epoll_ctl(w->epfd, EPOLL_CTL_DEL, fd, NULL);
    else if (want != 0 && (!*registered || want != *mask))
        epoll_ctl(w->epfd, *registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev);
    *registered = want != 0;
    *mask = want;
}

/* Keep w->connecting, which decides whether the loop sweeps, in step with c. */
static void proxy_set_connecting(proxy_worker *w, proxy_conn *c, bool on)
{
    if (on && !c->connecting)
        w->connecting++;
    else if (!on && c->connecting)
        w->connecting--;
    c->connecting = on;
}

/* A refused client, logged at most once per PROXY_LOG_MS per link and worker:
 * refusals come as fast as clients connect, and the log is written on the loop's
 * thread. */
static void proxy_log_refused(proxy_worker *w, int port, const char *why)
{
    proxy_listener *l = w->listeners;
    while (l && l->port != port)
        l = l->next;
    int64_t now = proxy_now();
    if (l && l->refused_logged && now - l->refused_logged < PROXY_LOG_MS) {
        l->refused++;
        return;
    }
    if (l && l->refused)
        log_warn("link port %d: %s (and %lu more since the last report)", port, why, l->refused);
    else
        log_warn("link port %d: %s", port, why);
    if (l) {
        l->refused_logged = now;
        l->refused = 0;
    }
}

/* Give a pipe back to the pool if it is empty and there is room, else close it. */
static void proxy_pipe_put(proxy_worker *w, proxy_flow *f)
{
    if (f->pipe[0] < 0)
        return;
    if (f->len == 0 && w->npool < PROXY_POOL) {
        w->pool[w->npool][0] = f->pipe[0];
        w->pool[w->npool][1] = f->pipe[1];
        w->npool++;
    } else {
        close(f->pipe[0]);
        close(f->pipe[1]);
    }
    f->pipe[0] = f->pipe[1] = -1;
}

static int proxy_pipe_get(proxy_worker *w, proxy_flow *f)
{
    if (w->npool > 0) {
        w->npool--;
        f->pipe[0] = w->pool[w->npool][0];
        f->pipe[1] = w->pool[w->npool][1];
        return 0;
    }
    return pipe2(f->pipe, O_NONBLOCK | O_CLOEXEC);
}

/* Close both sides now; free later, as more events of this batch may name c. */
static void proxy_close(proxy_worker *w, proxy_conn *c)
{
    if (c->cfd >= 0)
        close(c->cfd); /* closing removes the fd from the epoll set */
    if (c->bfd >= 0)
        close(c->bfd);
    proxy_pipe_put(w, &c->up);
    proxy_pipe_put(w, &c->down);
    proxy_set_connecting(w, c, false);
    proxy_release(c, false);
    if (c->counters)
        atomic_fetch_sub(&c->counters->active, 1);
    c->counters = NULL;
    w->nconns--;
    c->dead = true;
    if (c->prev)
        c->prev->next = c->next;
    else
        w->live = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->next = w->dead;
    w->dead = c;
}

/* Start a non-blocking connect to the best instance not tried yet. Returns -1 when
 * every instance has been tried (or none is left). */
static int proxy_connect_next(proxy_worker *w, proxy_conn *c)
{
    proxy *p = w->p;
    int rc = -1;
    const table_backend *b;
    pthread_mutex_lock(&p->mu);
    const table_link *link = table_by_port(&p->table, c->port);
    while (link && c->tried++ < link->nbackends && (b = proxy_pick(p, link, c))) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)b->port)};
        int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0 || inet_pton(AF_INET, b->addr, &sa.sin_addr) != 1 ||
            (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS)) {
            log_debug("link port %d: %s:%d: %s", c->port, b->addr, b->port, strerror(errno));
            if (fd >= 0)
                close(fd);
            proxy_release(c, true);
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->bfd = fd;
        c->breg = false;
        proxy_set_connecting(w, c, true);
        c->deadline = proxy_now() + PROXY_CONNECT_MS;
        proxy_watch(w, fd, &c->breg, &c->bmask, EPOLLOUT, &c->backend_kind);
        rc = 0;
        break;
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static void proxy_reap(proxy_worker *w)
{
    while (w->dead) {
        proxy_conn *c = w->dead;
        w->dead = c->next;
        free(c);
    }
    while (w->dead_listeners) {
        proxy_listener *l = w->dead_listeners;
        w->dead_listeners = l->next;
        free(l);
    }
}

/* Whether the link lets peer in (links are an access list: the containers whose
 * manifest links the service, and the operator's --allow networks), counting the
 * connection in the link's counters either way. *counters gets them when admitted
 * (NULL when the link is gone meanwhile). A refusal is logged with the source and
 * the link, at most once per PROXY_LOG_MS per link and worker. */
static bool proxy_admit(proxy_worker *w, proxy_listener *l, const struct sockaddr_in *peer,
                        proxy_counters **counters)
{
    proxy *p = w->p;
    char why[256] = "";
    pthread_mutex_lock(&p->mu);
    const table_link *link = table_by_port(&p->table, l->port);
    proxy_counters *k = link ? proxy_counters_of(p, link) : NULL;
    bool ok = link && peer->sin_family == AF_INET && table_allows(link, ntohl(peer->sin_addr.s_addr));
    if (k)
        atomic_fetch_add(ok ? &k->active : &k->refused, 1);
    if (k && ok)
        atomic_fetch_add(&k->total, 1);
    if (link && !ok) {
        char ip[INET_ADDRSTRLEN] = "?";
        inet_ntop(AF_INET, &peer->sin_addr, ip, sizeof ip);
        snprintf(why, sizeof why, "link %s/%s: refused %s:%d: not a container linking it",
                 link->app, link->service, ip, ntohs(peer->sin_port));
    }
    pthread_mutex_unlock(&p->mu);
    if (*why)
        proxy_log_refused(w, l->port, why);
    *counters = ok ? k : NULL;
    return ok || !link; /* a link gone meanwhile: refused below, as having no instance */
}

static proxy_conn *proxy_conn_new(proxy_worker *w, proxy_listener *l, int fd,
                                  proxy_counters *counters)
{
    proxy_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->client_kind = PROXY_CLIENT;
    c->backend_kind = PROXY_BACKEND;
    c->cfd = fd;
    c->bfd = -1;
    c->up.pipe[0] = c->up.pipe[1] = c->down.pipe[0] = c->down.pipe[1] = -1;
    c->port = l->port;
    c->first = atomic_fetch_add(&w->p->next_backend, 1);
    c->counters = counters;
    c->next = w->live;
    if (w->live)
        w->live->prev = c;
    w->live = c;
    w->nconns++;
    return c;
}

/* Over the worker's share of the connection limit: the client is closed at once,
 * and the limit is said in the log (at most once per PROXY_LOG_MS). */
static void proxy_over_limit(proxy_worker *w, proxy_listener *l, int fd)
{
    int64_t now = proxy_now();
    close(fd);
    if (now - w->limit_logged >= PROXY_LOG_MS) {
        log_warn("link port %d: connection limit reached (%zu per worker, %zu in all): "
                 "refusing new connections until some end",
                 l->port, w->max_conns, w->max_conns * (size_t)w->p->nworkers);
        w->limit_logged = now;
    }
}

/* One connection per event: the listener stays readable while more wait
 * (level-triggered), and a loop to EAGAIN would cost a failing accept4 each time,
 * a syscall in five of a short connection's life. */
static void proxy_accept(proxy_worker *w, proxy_listener *l)
{
    struct sockaddr_in peer;
    socklen_t len = sizeof peer;
    proxy_counters *counters;
    proxy_conn *c;
    int fd = accept4(l->fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
            proxy_pause(w, l, errno);
        return;
    }
    if (w->nconns >= w->max_conns) {
        proxy_over_limit(w, l, fd);
        return;
    }
    if (!proxy_admit(w, l, &peer, &counters)) {
        close(fd);
        return;
    }
    if (!(c = proxy_conn_new(w, l, fd, counters))) {
        if (counters)
            atomic_fetch_sub(&counters->active, 1);
        close(fd);
        return;
    }
    if (proxy_connect_next(w, c) < 0) {
        if (c->counters)
            atomic_fetch_add(&c->counters->refused, 1);
        proxy_log_refused(w, l->port, "no live instance, connection refused");
        proxy_close(w, c);
    }
}

/* Move bytes from -> to through f's pipe until neither side can make progress;
 * *moved gets what reached to. A read that did not fill the pipe most likely
 * emptied the socket: rather than a splice that would only say EAGAIN, the pump
 * stops there, and level-triggered epoll says so if more came meanwhile. EOF is
 * passed on as shutdown(SHUT_WR), unless the other flow has ended too and the
 * connection is about to close. Returns -1 on a hard error of either socket. */
static int proxy_pump(proxy_flow *f, const proxy_flow *other, int from, int to,
                      unsigned long long *moved)
{
    bool drained = false;
    for (;;) {
        if (f->len > 0) {
            ssize_t n = splice(f->pipe[0], NULL, to, NULL, f->len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n < 0)
                return errno == EAGAIN ? 0 : -1;
            f->len -= (size_t)n;
            *moved += (unsigned long long)n;
            continue;
        }
        if (f->eof) {
            /* the other way done too, both sockets are closed next: no need to */
            if (!f->shut && !other->shut && shutdown(to, SHUT_WR) < 0 && errno != ENOTCONN)
                return -1;
            f->shut = true;
            return 0;
        }
        if (drained)
            return 0;
        ssize_t n = splice(from, NULL, f->pipe[1], NULL, PROXY_PIPE_BYTES,
                           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n < 0)
            return errno == EAGAIN ? 0 : -1;
        if (n == 0)
            f->eof = true;
        f->len = (size_t)n;
        drained = n < PROXY_PIPE_BYTES;
    }
}

/* Read a side only while its pipe is empty; wait for writability only while
 * bytes are pending towards it. */
static void proxy_interest(proxy_worker *w, proxy_conn *c)
{
    uint32_t cw = (!c->up.eof && c->up.len == 0 ? EPOLLIN : 0) | (c->down.len ? EPOLLOUT : 0);
    uint32_t bw = (!c->down.eof && c->down.len == 0 ? EPOLLIN : 0) | (c->up.len ? EPOLLOUT : 0);
    proxy_watch(w, c->cfd, &c->creg, &c->cmask, cw, &c->client_kind);
    proxy_watch(w, c->bfd, &c->breg, &c->bmask, bw, &c->backend_kind);
}

/* Drop the backend being connected and try the next instance, if any. */
static void proxy_connect_again(proxy_worker *w, proxy_conn *c)
{
    close(c->bfd);
    c->bfd = -1;
    proxy_release(c, true);
    if (proxy_connect_next(w, c) < 0) {
        if (c->counters)
            atomic_fetch_add(&c->counters->refused, 1);
        proxy_log_refused(w, c->port, "no instance answered, connection closed");
        proxy_close(w, c);
    }
}

static void proxy_on_io(proxy_worker *w, proxy_conn *c, bool client, uint32_t events);

/* A plain EPOLLOUT is a connect that succeeded; with an error or a hang-up,
 * SO_ERROR says what went wrong. Connected, the client's first bytes are most
 * likely waiting already (a request): they are passed on now rather than after
 * one more round through epoll. */
static void proxy_on_connected(proxy_worker *w, proxy_conn *c, uint32_t events)
{
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (events != EPOLLOUT)
        getsockopt(c->bfd, SOL_SOCKET, SO_ERROR, &soerr, &len);
    if (events != EPOLLOUT && soerr == 0)
        soerr = ECONNREFUSED; /* hung up without saying why */
    if (soerr != 0) {
        log_debug("link port %d: connect: %s; trying the next instance", c->port, strerror(soerr));
        proxy_connect_again(w, c);
        return;
    }
    proxy_set_connecting(w, c, false);
    if (proxy_pipe_get(w, &c->up) < 0 || proxy_pipe_get(w, &c->down) < 0) {
        proxy_log_refused(w, c->port, "out of file descriptors for pipes, connection closed");
        proxy_close(w, c);
        return;
    }
    proxy_on_io(w, c, true, EPOLLIN);
}

/* The connect took too long: the instance is as good as gone. */
static void proxy_on_deadline(proxy_worker *w, proxy_conn *c)
{
    log_debug("link port %d: connect: no answer in %d ms; trying the next instance", c->port,
              PROXY_CONNECT_MS);
    proxy_connect_again(w, c);
}

/* Give up deadlines past, and resume listeners whose pause is over. Closes
 * connections, so the caller reaps after it. */
static void proxy_sweep(proxy_worker *w, int64_t now)
{
    for (proxy_conn *c = w->live, *next; c; c = next) {
        next = c->next; /* proxy_close moves c to the dead */
        if (c->connecting && now >= c->deadline)
            proxy_on_deadline(w, c);
    }
    for (proxy_listener *l = w->listeners; l; l = l->next)
        if (l->paused && now >= l->resume_at)
            proxy_resume(w, l);
}

/* The epoll_wait timeout: a second when there is nothing to sweep (stop is
 * checked that often), else until the next sweep. */
static int proxy_timeout(const proxy_worker *w)
{
    if (!w->connecting && !w->paused)
        return 1000;
    int64_t left = w->next_sweep - proxy_now();
    return left < 0 ? 0 : left > PROXY_SWEEP_MS ? PROXY_SWEEP_MS : (int)left;
}

/* One side failed (a reset): what the pipes still hold for the other side goes to
 * it as far as it takes it at once (an answer sent just before a reset, say), and
 * the connection closes. */
static void proxy_flush(proxy_flow *f, int to)
{
    ssize_t n = f->len ? splice(f->pipe[0], NULL, to, NULL, f->len,
                                SPLICE_F_MOVE | SPLICE_F_NONBLOCK) : 0;
    if (n > 0)
        f->len -= (size_t)n; /* a pipe not emptied is closed, never pooled */
}

static void proxy_close_flushed(proxy_worker *w, proxy_conn *c)
{
    proxy_flush(&c->up, c->bfd);
    proxy_flush(&c->down, c->cfd);
    proxy_close(w, c);
}

/* Pump only what the event is about: what this side has to read (its own flow),
 * and, once it is writable, what waits to be written to it (the other flow).
 * Pumping both flows at every event would cost a splice each that has nothing
 * to do. */
static void proxy_on_io(proxy_worker *w, proxy_conn *c, bool client, uint32_t events)
{
    unsigned long long in = 0, out = 0;
    int fd = client ? c->cfd : c->bfd, peer = client ? c->bfd : c->cfd, rc = 0;
    proxy_flow *reads = client ? &c->up : &c->down, *writes = client ? &c->down : &c->up;
    unsigned long long *read_moved = client ? &in : &out, *write_moved = client ? &out : &in;
    if (events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP))
        rc = proxy_pump(reads, writes, fd, peer, read_moved);
    if (rc == 0 && (events & EPOLLOUT))
        rc = proxy_pump(writes, reads, peer, fd, write_moved);
    if (c->counters) {
        atomic_fetch_add(&c->counters->bytes_in, in);
        atomic_fetch_add(&c->counters->bytes_out, out);
    }
    if (rc < 0) {
        proxy_close_flushed(w, c);
        return;
    }
    if (c->up.shut && c->down.shut) {
        proxy_close(w, c);
        return;
    }
    proxy_interest(w, c);
}

static void proxy_on_event(proxy_worker *w, const struct epoll_event *ev)
{
    enum proxy_kind *kind = ev->data.ptr;
    if (*kind == PROXY_WAKE) {
        uint64_t count;
        if (read(w->wakefd, &count, sizeof count) > 0)
            proxy_sync_listeners(w);
    } else if (*kind == PROXY_LISTENER) {
        proxy_listener *l = (proxy_listener *)kind;
        if (!l->dead && !l->paused) /* closed or paused earlier in this batch */
            proxy_accept(w, l);
    } else {
        proxy_conn *c = *kind == PROXY_CLIENT
                            ? (proxy_conn *)((char *)kind - offsetof(proxy_conn, client_kind))
                            : (proxy_conn *)((char *)kind - offsetof(proxy_conn, backend_kind));
        if (c->dead)
            return;
        if (c->connecting) /* an error here is the connect's: SO_ERROR says which */
            proxy_on_connected(w, c, ev->events);
        else if ((ev->events & EPOLLERR) && !(ev->events & EPOLLIN)) /* reset, nothing left */
            proxy_close_flushed(w, c);
        else /* what came before a reset is still read, and passed on */
            proxy_on_io(w, c, *kind == PROXY_CLIENT, ev->events);
    }
}

static void *proxy_worker_run(void *arg)
{
    proxy_worker *w = arg;
    struct epoll_event events[PROXY_EVENTS];
    proxy_sync_listeners(w);
    while (!atomic_load(w->stop)) {
        int n = epoll_wait(w->epfd, events, PROXY_EVENTS, proxy_timeout(w));
        if (n < 0 && errno != EINTR) {
            log_error("proxy: epoll_wait: %s", strerror(errno));
            w->rc = -1;
            break;
        }
        for (int i = 0; i < n; i++)
            proxy_on_event(w, &events[i]);
        int64_t now = proxy_now();
        if ((w->connecting || w->paused) && now >= w->next_sweep) {
            proxy_sweep(w, now);
            w->next_sweep = now + PROXY_SWEEP_MS;
        }
        proxy_reap(w);
    }
    return NULL;
}

/* The first worker runs on the caller's thread; the others get their own. */
int proxy_run(proxy *p, const atomic_bool *stop)
{
    int started = 1, rc = 0;
    for (int i = 0; i < p->nworkers; i++)
        p->workers[i].stop = stop;
    for (; started < p->nworkers; started++)
        if (pthread_create(&p->workers[started].thread, NULL, proxy_worker_run,
                           &p->workers[started]) != 0) {
            log_warn("proxy: cannot start worker %d; running with %d", started, started);
            break;
        }
    proxy_worker_run(&p->workers[0]);
    for (int i = 1; i < started; i++)
        pthread_join(p->workers[i].thread, NULL);
    for (int i = 0; i < started; i++)
        rc |= p->workers[i].rc;
    return rc;
}
