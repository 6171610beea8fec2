/* proxy.c - the ambassador's data path (see proxy.h).
 *
 * One worker per core, each a thread with its own epoll set (level-triggered),
 * its own listener on every link port (SO_REUSEPORT: the kernel spreads accepted
 * connections over the workers) and its own connections: a connection lives and
 * dies on the worker that accepted it, so the data path takes no lock. What the
 * workers share is the routing table, the instances (their connection counts and
 * back-off, for least-connections across all workers) and the per-link counters;
 * the table and the lists are under one mutex, taken once per accepted
 * connection (and once per connect retry), and the counts are atomics. What
 * happens under it is O(log links + instances of the link): a table swap resolves
 * every link's instances and counters once (proxy_route), so that an accept finds
 * its link by binary search and its instances by pointer, never by a scan of every
 * instance the proxy knows.
 *
 * Limits, so that no one client and no one link can take the host: connections in
 * all (what the descriptor budget allows, counting PROXY_FDS_PER_CONN per
 * connection, a listener per link and worker, and the workers' own epoll, eventfd
 * and spare pipes; or --max-conns if lower), per link (default half of that) and
 * per source address over every link (default a quarter, not below
 * PROXY_SOURCE_FLOOR or above the per-link cap): a container that opens
 * connections without end, or a backend that accepts and never answers, fills its
 * own share and nothing more, and the others are still served. A client over a
 * limit is closed at once, counted as refused, and the log says which limit. A
 * connection that moves no byte for the idle timeout (default
 * PROXY_IDLE_DEFAULT_S, an hour, as Envoy's TCP proxy: a database pool keeps its
 * connections idle for half an hour and must not find them reset; 0: never) is
 * closed: the live list is kept in order of last activity, so the check looks at
 * its tail only.
 *
 * Bulk bytes move with splice(2) through a pipe per direction, socket to pipe to
 * socket, never copied to user space; small reads are copied. A splice of a
 * request of a few hundred bytes costs more than copying it (the kernel builds a
 * pipe buffer and then a socket buffer fragment around it; with copies,
 * bench/proxy.sh saw keep-alive requests/s go from 1.01-1.05x HAProxy's to
 * 1.05-1.07x and the CPU per request from 0.93-0.97x to 0.87-0.89x), so a flow
 * reads with recv(2) into the worker's buffer (PIPE_BUF bytes) and sends at once,
 * turns to splice when a read fills that buffer, and back to copying when a
 * splice moves less (much as HAProxy's splice-auto decides).
 * Whatever the socket would not take goes into the flow's pipe, so that pending
 * bytes are always in the pipe, whichever way they were read. Each side is read
 * only while its pipe is empty, and a side that reaches EOF is passed on as
 * shutdown(SHUT_WR) once its pipe is drained, so half-closed streams deliver
 * every byte. A worker keeps the empty pipes of closed connections for the next
 * ones, so a connection costs its own struct and nothing else after warm-up. An
 * fd with nothing to wait for is taken out of the epoll set, as epoll would
 * otherwise report its errors and hang-ups at every wait.
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
#include <limits.h>
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
#define PROXY_COPY_BYTES PIPE_BUF /* a read this big turns the flow to splice; a write
                                    * this small to an empty pipe is whole (POSIX) */
#define PROXY_POOL 64          /* spare pipes a worker keeps */
#define PROXY_FDS_PER_CONN 6   /* client, backend, two pipes */
#define PROXY_CONNECT_MS 2000 /* a backend silent this long is skipped, not waited on ~2 min */
#define PROXY_BACKOFF_MS 3000 /* a backend that failed a connect is skipped this long */
#define PROXY_SWEEP_MS 250    /* how late a deadline or the end of a pause may be seen */
#define PROXY_PAUSE_MS 1000   /* a listener out of fds stops accepting this long */
#define PROXY_LOG_MS 1000     /* refusals are logged at most this often per link */
#define PROXY_RESERVE_FDS 128 /* for etcd, the engine, /metrics and the log */
#define PROXY_SOURCE_FLOOR 1024 /* the default per-source cap is never below this (a
                                 * pool's worth), unless the per-link cap is */
#define PROXY_SOURCE_BUCKETS 1024 /* of the source table: a power of two */
#define PROXY_TRIED_INLINE 4  /* instances a connection remembers trying without malloc */

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
    bool bulk;    /* the last read filled the copy buffer: the next is spliced */
} proxy_flow;

/* What the proxy knows of one instance across table rebuilds and workers: the
 * connections it holds, for least-connections, and until when it is skipped
 * after a failed connect. A list: instances are tens per link, looked up once
 * per connect, under p->mu. */
typedef struct proxy_instance {
    char addr[64];
    int port;
    uint64_t id;             /* unique for the proxy's life: what a tried-set holds */
    unsigned gen;            /* the table generation that last named it */
    atomic_uint active;      /* connections to it, connecting ones included */
    atomic_llong down_until; /* skipped before this time (proxy_now) */
    struct proxy_instance *next;
} proxy_instance;

/* A link's counters, kept while the link is in the table or a connection holds
 * them (list under p->mu, counts atomic). */
typedef struct proxy_counters {
    char app[64], service[64];
    int port;
    unsigned gen;            /* the table generation that last named it */
    atomic_ullong active, total, bytes_in, bytes_out, refused, failures, idle;
    struct proxy_counters *next;
} proxy_counters;

/* A link of the table in force, resolved once per table: its instances
 * (inst[i] goes with link->backends[i]; NULL when out of memory, then the link has
 * none) and its counters. p->routes is sorted by port. */
typedef struct proxy_route {
    int port;
    const table_link *link;
    proxy_instance **inst;
    proxy_counters *counters;
} proxy_route;

/* Connections open from one source address, over every link and worker. */
typedef struct proxy_source {
    uint32_t addr;
    size_t n;
    struct proxy_source *next;
} proxy_source;

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
    uint64_t *tried_ids;          /* the ids of the instances tried, sorted: every one
                                   * of them, also across a table swap */
    size_t ntried_ids, tried_cap;
    uint64_t tried_inline[PROXY_TRIED_INLINE]; /* tried_ids until it outgrows it */
    uint32_t source;              /* the client's address, host order */
    bool counted;                 /* in the source table and p->conns */
    int64_t last;                 /* when a byte last moved (or it was accepted) */
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
    proxy_conn *live, *live_tail;   /* open connections, the most recently active first */
    proxy_conn *dead;               /* closed during this batch of events */
    size_t nconns;
    int64_t now;                    /* proxy_now() after the last epoll_wait */
    int64_t limit_logged;
    int pool[PROXY_POOL][2];        /* empty pipes for the next connections */
    size_t npool;
    char copy[PROXY_COPY_BYTES];    /* a small read, on its way from recv to send */
    pthread_t thread;
    const atomic_bool *stop;
    int rc;
} proxy_worker;

struct proxy {
    char listen_addr[64];
    pthread_mutex_t mu;            /* guards table, routes, instances, counters */
    table table;
    proxy_route *routes;           /* the table's links, sorted by port */
    size_t nroutes;
    unsigned gen;                  /* of the table in force */
    uint64_t next_id;              /* of the next instance */
    atomic_ulong next_backend;     /* rotates ties between instances */
    proxy_instance *instances;     /* every instance seen, while in a table or in use */
    proxy_counters *counters;      /* every link's, while in the table or in use */
    proxy_worker *workers;
    int nworkers;
    /* limits: as asked (0: the default), and in force (set with the table) */
    size_t fd_budget, want_max, want_link, want_source;
    atomic_size_t max_conns, per_link, per_source;
    atomic_int idle_ms;
    atomic_size_t conns;           /* open connections, all workers */
    pthread_mutex_t src_mu;        /* guards sources */
    proxy_source *sources[PROXY_SOURCE_BUCKETS];
};

static int64_t proxy_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- setup --------------------------------------------------------------------- */

/* The descriptors the proxy may use: the soft limit raised to the hard one, less
 * PROXY_RESERVE_FDS for everything else the ambassador opens. */
static size_t proxy_fd_budget(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 1024 - PROXY_RESERVE_FDS;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur > 2 * PROXY_RESERVE_FDS ? (size_t)rl.rlim_cur - PROXY_RESERVE_FDS
                                                 : PROXY_RESERVE_FDS;
}

/* Set the limits in force for nlinks links (see the head comment). Each worker
 * holds its epoll fd, its eventfd, up to PROXY_POOL spare pipes and a listener per
 * link; what is left goes PROXY_FDS_PER_CONN to a connection. Logged when the
 * connections in all change: links come and go, so it moves with them. */
static void proxy_apply_limits(proxy *p, size_t nlinks)
{
    size_t workers = (size_t)p->nworkers;
    size_t fixed = workers * (2 + 2 * PROXY_POOL + nlinks);
    size_t max = p->fd_budget > fixed ? (p->fd_budget - fixed) / PROXY_FDS_PER_CONN : 0;
    if (p->want_max && p->want_max < max)
        max = p->want_max;
    size_t link = p->want_link ? p->want_link : (max + 1) / 2;
    size_t source = max / 4 > PROXY_SOURCE_FLOOR ? max / 4 : PROXY_SOURCE_FLOOR;
    if (p->want_source)
        source = p->want_source;
    else if (source > link)
        source = link;
    size_t was = atomic_exchange(&p->max_conns, max);
    atomic_store(&p->per_link, link);
    atomic_store(&p->per_source, source);
    if (was != max)
        log_info("proxy: up to %zu connections (%zu links, %d workers), %zu per link, "
                 "%zu per source address", max, nlinks, p->nworkers, link, source);
}

void proxy_set_limits(proxy *p, size_t per_link, size_t per_source, int idle_seconds)
{
    pthread_mutex_lock(&p->mu);
    p->want_link = per_link;
    p->want_source = per_source;
    atomic_store(&p->idle_ms, idle_seconds > 0 ? idle_seconds * 1000 : 0);
    proxy_apply_limits(p, p->nroutes);
    pthread_mutex_unlock(&p->mu);
}

proxy_limits proxy_limits_in_force(proxy *p)
{
    return (proxy_limits){.max_conns = atomic_load(&p->max_conns),
                          .per_link = atomic_load(&p->per_link),
                          .per_source = atomic_load(&p->per_source),
                          .idle_seconds = atomic_load(&p->idle_ms) / 1000};
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
    pthread_mutex_init(&p->src_mu, NULL);
    snprintf(p->listen_addr, sizeof p->listen_addr, "%s", listen_addr);
    if (workers <= 0)
        workers = (int)sysconf(_SC_NPROCESSORS_ONLN);
    p->nworkers = workers > 0 ? workers : 1;
    p->fd_budget = proxy_fd_budget();
    p->want_max = max_conns;
    atomic_init(&p->idle_ms, PROXY_IDLE_DEFAULT_S * 1000);
    proxy_apply_limits(p, 0);
    if (!(p->workers = calloc((size_t)p->nworkers, sizeof *p->workers))) {
        err_sys(err, "proxy");
        goto err;
    }
    for (int i = 0; i < p->nworkers; i++) {
        p->workers[i].epfd = p->workers[i].wakefd = -1;
        if (proxy_worker_init(&p->workers[i], p) < 0) {
            err_sys(err, "proxy: epoll");
            goto err;
        }
    }
    log_info("proxy: %d workers", p->nworkers);
    return p;
err:
    proxy_free(p);
    return NULL;
}

static void proxy_close(proxy_worker *w, proxy_conn *c);
static void proxy_reap(proxy_worker *w);
static void proxy_free_routes(proxy *p);
static void proxy_source_give(proxy *p, uint32_t addr);

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
    for (size_t i = 0; i < PROXY_SOURCE_BUCKETS; i++)
        while (p->sources[i]) {
            proxy_source *s = p->sources[i];
            p->sources[i] = s->next;
            free(s);
        }
    proxy_free_routes(p);
    table_free(&p->table);
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->src_mu);
    free(p);
}

static void proxy_wake(proxy *p)
{
    uint64_t one = 1;
    for (int i = 0; i < p->nworkers; i++)
        if (write(p->workers[i].wakefd, &one, sizeof one) < 0 && errno != EAGAIN)
            log_warn("proxy: wake: %s", strerror(errno));
}

/* ---- the table in force: routes, instances and counters, under p->mu ----------- */

static void proxy_free_routes(proxy *p)
{
    for (size_t i = 0; i < p->nroutes; i++)
        free(p->routes[i].inst);
    free(p->routes);
    p->routes = NULL;
    p->nroutes = 0;
}

/* Order of instances and backends: address, then port. */
static int proxy_cmp_where(const char *addr_a, int port_a, const char *addr_b, int port_b)
{
    int c = strcmp(addr_a, addr_b);
    return c ? c : (port_a > port_b) - (port_a < port_b);
}

static int proxy_cmp_known(const void *a, const void *b)
{
    const proxy_instance *x = *(proxy_instance *const *)a, *y = *(proxy_instance *const *)b;
    return proxy_cmp_where(x->addr, x->port, y->addr, y->port);
}

/* A backend of a route to resolve, and where its instance goes. */
typedef struct proxy_want {
    const table_backend *b;
    proxy_instance **slot;
} proxy_want;

static int proxy_cmp_want(const void *a, const void *b)
{
    const table_backend *x = ((const proxy_want *)a)->b, *y = ((const proxy_want *)b)->b;
    return proxy_cmp_where(x->addr, x->port, y->addr, y->port);
}

static proxy_instance *proxy_instance_new(proxy *p, const table_backend *b)
{
    proxy_instance *in = calloc(1, sizeof *in);
    if (!in)
        return NULL;
    snprintf(in->addr, sizeof in->addr, "%s", b->addr);
    in->port = b->port;
    in->id = ++p->next_id;
    in->next = p->instances;
    p->instances = in;
    return in;
}

/* Give every route's backends their instances: the one the proxy knows at that
 * address and port (its connection count and back-off carry over from the last
 * table, and a backend of two links is one instance), else a new one. Both sides
 * sorted and merged: O((B + I) log) once per table, nothing per accept. A backend
 * left without one (out of memory) is skipped by proxy_pick. */
static int proxy_resolve_instances(proxy *p)
{
    size_t nknown = 0, nwant = 0, i = 0;
    int rc = -1;
    for (proxy_instance *in = p->instances; in; in = in->next)
        nknown++;
    for (size_t r = 0; r < p->nroutes; r++)
        nwant += p->routes[r].link->nbackends;
    proxy_instance **known = malloc((nknown + 1) * sizeof *known);
    proxy_want *want = malloc((nwant + 1) * sizeof *want);
    if (!known || !want)
        goto out;
    for (proxy_instance *in = p->instances; in; in = in->next)
        known[i++] = in;
    nwant = 0;
    for (size_t r = 0; r < p->nroutes; r++) {
        const table_link *l = p->routes[r].link;
        if (!(p->routes[r].inst = calloc(l->nbackends + 1, sizeof *p->routes[r].inst)))
            goto out;
        for (size_t b = 0; b < l->nbackends; b++)
            want[nwant++] = (proxy_want){.b = &l->backends[b], .slot = &p->routes[r].inst[b]};
    }
    qsort(known, nknown, sizeof *known, proxy_cmp_known);
    qsort(want, nwant, sizeof *want, proxy_cmp_want);
    proxy_instance *in = NULL;
    i = 0;
    for (size_t w = 0; w < nwant; w++) {
        const table_backend *b = want[w].b;
        if (!in || proxy_cmp_where(in->addr, in->port, b->addr, b->port) != 0) {
            while (i < nknown && proxy_cmp_where(known[i]->addr, known[i]->port, b->addr, b->port) < 0)
                i++;
            in = i < nknown && proxy_cmp_where(known[i]->addr, known[i]->port, b->addr, b->port) == 0
                     ? known[i]
                     : proxy_instance_new(p, b);
        }
        if (in)
            in->gen = p->gen;
        *want[w].slot = in;
    }
    rc = 0;
out:
    free(known);
    free(want);
    return rc;
}

static int proxy_cmp_counters(const void *a, const void *b)
{
    const proxy_counters *x = *(proxy_counters *const *)a, *y = *(proxy_counters *const *)b;
    int c = (x->port > y->port) - (x->port < y->port);
    if (!c)
        c = strcmp(x->app, y->app);
    return c ? c : strcmp(x->service, y->service);
}

/* Give every route its link's counters: those it had (the same port, app and
 * service), else new ones. */
static int proxy_resolve_counters(proxy *p)
{
    size_t n = 0, i = 0;
    for (proxy_counters *k = p->counters; k; k = k->next)
        n++;
    proxy_counters **known = malloc((n + 1) * sizeof *known);
    if (!known)
        return -1;
    for (proxy_counters *k = p->counters; k; k = k->next)
        known[i++] = k;
    qsort(known, n, sizeof *known, proxy_cmp_counters);
    for (size_t r = 0; r < p->nroutes; r++) {
        const table_link *l = p->routes[r].link;
        proxy_counters key = {.port = l->port}, *kp = &key, **found;
        snprintf(key.app, sizeof key.app, "%s", l->app);
        snprintf(key.service, sizeof key.service, "%s", l->service);
        found = n ? bsearch(&kp, known, n, sizeof *known, proxy_cmp_counters) : NULL;
        proxy_counters *k = found ? *found : calloc(1, sizeof *k);
        if (k && !found) {
            memcpy(k->app, key.app, sizeof k->app);
            memcpy(k->service, key.service, sizeof k->service);
            k->port = l->port;
            k->next = p->counters;
            p->counters = k;
        }
        if (k)
            k->gen = p->gen;
        p->routes[r].counters = k;
    }
    free(known);
    return 0;
}

static int proxy_cmp_route(const void *a, const void *b)
{
    const proxy_route *x = a, *y = b;
    if (x->port != y->port)
        return x->port < y->port ? -1 : 1;
    return x->link < y->link ? -1 : x->link > y->link; /* the first link of a port wins */
}

/* The routes of p->table, one per port (should two links claim one port, the
 * first in the table has it, as table_by_port would say). */
static int proxy_build_routes(proxy *p)
{
    if (!(p->routes = calloc(p->table.n + 1, sizeof *p->routes)))
        return -1;
    for (size_t i = 0; i < p->table.n; i++)
        p->routes[i] = (proxy_route){.port = p->table.links[i].port, .link = &p->table.links[i]};
    qsort(p->routes, p->table.n, sizeof *p->routes, proxy_cmp_route);
    for (size_t i = 0; i < p->table.n; i++)
        if (p->nroutes == 0 || p->routes[p->nroutes - 1].port != p->routes[i].port)
            p->routes[p->nroutes++] = p->routes[i];
    int rc = proxy_resolve_instances(p);
    return proxy_resolve_counters(p) < 0 ? -1 : rc;
}

/* The route of port, or NULL: a binary search, as at every accept. */
static const proxy_route *proxy_route_of(const proxy *p, int port)
{
    size_t lo = 0, hi = p->nroutes;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->routes[mid].port == port)
            return &p->routes[mid];
        if (p->routes[mid].port < port)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Forget instances and counters no connection holds and the table does not name. */
static void proxy_prune(proxy *p)
{
    for (proxy_instance **ip = &p->instances; *ip;) {
        proxy_instance *in = *ip;
        if (in->gen == p->gen || atomic_load(&in->active)) {
            ip = &in->next;
        } else {
            *ip = in->next;
            free(in);
        }
    }
    for (proxy_counters **kp = &p->counters; *kp;) {
        proxy_counters *k = *kp;
        if (k->gen == p->gen || atomic_load(&k->active)) {
            kp = &k->next;
        } else {
            *kp = k->next;
            free(k);
        }
    }
}

void proxy_set_table(proxy *p, table *t)
{
    pthread_mutex_lock(&p->mu);
    proxy_free_routes(p);
    table_free(&p->table);
    p->table = *t;
    *t = (table){0};
    p->gen++;
    if (proxy_build_routes(p) < 0)
        log_error("proxy: out of memory: links without their instances until the next table");
    proxy_prune(p);
    proxy_apply_limits(p, p->nroutes);
    pthread_mutex_unlock(&p->mu);
    proxy_wake(p);
}

/* ---- connections' instances ---------------------------------------------------- */

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
    /* the last touch: with no connection left, a table swap may free an instance
     * no link names any more (proxy_prune) */
    atomic_fetch_sub(&c->instance->active, 1);
    c->instance = NULL;
}

/* Has c tried the instance of this id? A binary search in what it tried. */
static bool proxy_tried(const proxy_conn *c, uint64_t id)
{
    size_t lo = 0, hi = c->ntried_ids;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->tried_ids[mid] == id)
            return true;
        if (c->tried_ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* Remember that c tried id (kept sorted). Out of memory it is not remembered:
 * c->tried still bounds the attempts by the link's instances. */
static void proxy_mark_tried(proxy_conn *c, uint64_t id)
{
    if (!c->tried_ids) {
        c->tried_ids = c->tried_inline;
        c->tried_cap = PROXY_TRIED_INLINE;
    }
    if (c->ntried_ids == c->tried_cap) {
        size_t cap = 2 * c->tried_cap;
        uint64_t *grown = c->tried_ids == c->tried_inline ? malloc(cap * sizeof *grown)
                                                           : realloc(c->tried_ids, cap * sizeof *grown);
        if (!grown)
            return;
        if (c->tried_ids == c->tried_inline)
            memcpy(grown, c->tried_inline, sizeof c->tried_inline);
        c->tried_ids = grown;
        c->tried_cap = cap;
    }
    size_t at = c->ntried_ids;
    while (at > 0 && c->tried_ids[at - 1] > id) {
        c->tried_ids[at] = c->tried_ids[at - 1];
        at--;
    }
    c->tried_ids[at] = id;
    c->ntried_ids++;
}

/* Of the route's instances this connection has not tried: those not marked down
 * before those marked down, then the fewest connections; ties rotate. O(instances
 * of the link x log tried). *backend gets where it is. */
static proxy_instance *proxy_pick(const proxy_route *r, proxy_conn *c, const table_backend **backend)
{
    const table_link *link = r->link;
    proxy_instance *best = NULL;
    unsigned best_active = 0;
    bool best_down = false;
    size_t best_i = 0;
    int64_t now = proxy_now();
    for (size_t k = 0; r->inst && k < link->nbackends; k++) {
        size_t i = (c->first + k) % link->nbackends;
        proxy_instance *in = r->inst[i];
        if (!in || proxy_tried(c, in->id))
            continue;
        bool down = atomic_load(&in->down_until) > now;
        unsigned active = atomic_load(&in->active);
        if (!best || (best_down && !down) || (down == best_down && active < best_active)) {
            best = in;
            best_i = i;
            best_down = down;
            best_active = active;
        }
    }
    if (best) {
        proxy_mark_tried(c, best->id);
        c->instance = best;
        atomic_fetch_add(&best->active, 1);
        *backend = &link->backends[best_i];
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
                              .failures = atomic_load(&k->failures),
                              .idle = atomic_load(&k->idle)};
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

static int proxy_cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Open a listener for every link that has none, close those of links gone.
 * Connections already accepted on a closed listener go on until they end. Both
 * lookups are binary searches: a table of thousands of links is synced in
 * O(links log links), not links squared. */
static void proxy_sync_listeners(proxy_worker *w)
{
    proxy *p = w->p;
    size_t n = 0;
    pthread_mutex_lock(&p->mu);
    for (proxy_listener **lp = &w->listeners; *lp;) {
        proxy_listener *l = *lp;
        if (proxy_route_of(p, l->port)) {
            lp = &l->next;
            n++;
            continue;
        }
        if (w == &p->workers[0])
            log_info("link on port %d gone: closing its listener", l->port);
        *lp = l->next;
        proxy_drop_listener(w, l);
    }
    int *open = malloc((n + 1) * sizeof *open);
    n = 0;
    for (proxy_listener *l = w->listeners; open && l; l = l->next)
        open[n++] = l->port;
    if (open)
        qsort(open, n, sizeof *open, proxy_cmp_int);
    for (size_t i = 0; open && i < p->nroutes; i++)
        if (!bsearch(&p->routes[i].port, open, n, sizeof *open, proxy_cmp_int))
            proxy_open_listener(w, p->routes[i].link);
    if (!open)
        log_error("proxy: out of memory: new links not listened on until the next table");
    free(open);
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

/* Close both sides now; free later, as more events of this batch may name c.
 * The instance and the link stop counting c before its sockets close: a client
 * that has seen its connection end and connects again must find the instance
 * as idle as it now is, or least-connections would pick by a stale count. */
static void proxy_close(proxy_worker *w, proxy_conn *c)
{
    proxy_release(c, false);
    if (c->counters)
        atomic_fetch_sub(&c->counters->active, 1);
    c->counters = NULL;
    if (c->cfd >= 0)
        close(c->cfd); /* closing removes the fd from the epoll set */
    if (c->bfd >= 0)
        close(c->bfd);
    proxy_pipe_put(w, &c->up);
    proxy_pipe_put(w, &c->down);
    proxy_set_connecting(w, c, false);
    if (c->counted)
        proxy_source_give(w->p, c->source);
    c->counted = false;
    atomic_fetch_sub(&w->p->conns, 1); /* every live connection was counted at accept */
    w->nconns--;
    c->dead = true;
    if (c->prev)
        c->prev->next = c->next;
    else
        w->live = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        w->live_tail = c->prev;
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
    const proxy_route *r = proxy_route_of(p, c->port);
    while (r && c->tried++ < r->link->nbackends && proxy_pick(r, c, &b)) {
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
        if (c->tried_ids != c->tried_inline)
            free(c->tried_ids);
        free(c);
    }
    while (w->dead_listeners) {
        proxy_listener *l = w->dead_listeners;
        w->dead_listeners = l->next;
        free(l);
    }
}

/* ---- limits: connections in all, per link, per source --------------------------- */

static size_t proxy_source_bucket(uint32_t addr)
{
    return (size_t)((addr * 2654435761u) >> 16) & (PROXY_SOURCE_BUCKETS - 1);
}

/* Count one more connection from addr unless it has max open already. */
static bool proxy_source_take(proxy *p, uint32_t addr, size_t max, size_t *open)
{
    bool ok = false;
    pthread_mutex_lock(&p->src_mu);
    proxy_source **sp = &p->sources[proxy_source_bucket(addr)], *s = *sp;
    while (s && s->addr != addr)
        s = s->next;
    *open = s ? s->n : 0;
    if (*open < max && (s || (s = calloc(1, sizeof *s)))) {
        if (!s->n) {
            s->addr = addr;
            s->next = *sp;
            *sp = s;
        }
        s->n++;
        ok = true;
    }
    pthread_mutex_unlock(&p->src_mu);
    return ok;
}

static void proxy_source_give(proxy *p, uint32_t addr)
{
    pthread_mutex_lock(&p->src_mu);
    for (proxy_source **sp = &p->sources[proxy_source_bucket(addr)]; *sp; sp = &(*sp)->next)
        if ((*sp)->addr == addr) {
            proxy_source *s = *sp;
            if (--s->n == 0) {
                *sp = s->next;
                free(s);
            }
            break;
        }
    pthread_mutex_unlock(&p->src_mu);
}

/* Whether the link lets peer in (links are an access list: the containers whose
 * manifest links the service, and the operator's --allow networks) and has room
 * for it (the link's cap, the source's cap), counting the connection in the
 * link's counters either way. *counters gets them when admitted (NULL when the
 * link is gone meanwhile); an admitted connection from an IPv4 peer is counted
 * under its source (*counted), which proxy_close gives back. A refusal is logged
 * with the source, the link and the reason, at most once per PROXY_LOG_MS per
 * link and worker. */
static bool proxy_admit(proxy_worker *w, proxy_listener *l, const struct sockaddr_in *peer,
                        proxy_counters **counters, bool *counted)
{
    proxy *p = w->p;
    char why[256] = "", ip[INET_ADDRSTRLEN] = "?";
    size_t per_link = atomic_load(&p->per_link), per_source = atomic_load(&p->per_source), open = 0;
    uint32_t addr = ntohl(peer->sin_addr.s_addr);
    *counted = false;
    inet_ntop(AF_INET, &peer->sin_addr, ip, sizeof ip);
    pthread_mutex_lock(&p->mu);
    const proxy_route *r = proxy_route_of(p, l->port);
    const table_link *link = r ? r->link : NULL;
    proxy_counters *k = r ? r->counters : NULL;
    bool ok = link && peer->sin_family == AF_INET && table_allows(link, addr);
    if (link && !ok)
        snprintf(why, sizeof why, "link %s/%s: refused %s:%d: not a container linking it",
                 link->app, link->service, ip, ntohs(peer->sin_port));
    if (ok && k && atomic_fetch_add(&k->active, 1) >= per_link) {
        atomic_fetch_sub(&k->active, 1);
        ok = false;
        snprintf(why, sizeof why, "link %s/%s: refused %s:%d: the link has %zu connections open, "
                 "its limit", link->app, link->service, ip, ntohs(peer->sin_port), per_link);
    }
    if ((ok || !link) && peer->sin_family == AF_INET) {
        *counted = proxy_source_take(p, addr, per_source, &open);
        if (!*counted && open >= per_source) {
            if (ok && k)
                atomic_fetch_sub(&k->active, 1);
            ok = false;
            snprintf(why, sizeof why, "link %s/%s: refused %s:%d: %s has %zu connections open "
                     "on this host, the limit per source address", link ? link->app : "?",
                     link ? link->service : "?", ip, ntohs(peer->sin_port), ip, open);
        }
    }
    if (k)
        atomic_fetch_add(ok ? &k->total : &k->refused, 1);
    pthread_mutex_unlock(&p->mu);
    if (*why)
        proxy_log_refused(w, l->port, why);
    *counters = ok ? k : NULL;
    return ok || (!link && !*why); /* a link gone meanwhile: refused below, as having no instance */
}

/* Put c first in the live list (the most recently active) and note the time. */
static void proxy_touch(proxy_worker *w, proxy_conn *c)
{
    c->last = w->now;
    if (w->live == c)
        return;
    c->prev->next = c->next; /* not first, so it has a prev */
    if (c->next)
        c->next->prev = c->prev;
    else
        w->live_tail = c->prev;
    c->prev = NULL;
    c->next = w->live;
    w->live->prev = c;
    w->live = c;
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
    c->last = w->now;
    c->next = w->live;
    if (w->live)
        w->live->prev = c;
    else
        w->live_tail = c;
    w->live = c;
    w->nconns++;
    return c;
}

/* Over the connection limit of the host: the client is closed at once, counted as
 * refused on its link (as a client over any other limit is), and the limit is said
 * in the log (at most once per PROXY_LOG_MS). */
static void proxy_over_limit(proxy_worker *w, proxy_listener *l, int fd, size_t max)
{
    proxy *p = w->p;
    int64_t now = proxy_now();
    close(fd);
    pthread_mutex_lock(&p->mu);
    const proxy_route *r = proxy_route_of(p, l->port);
    if (r && r->counters)
        atomic_fetch_add(&r->counters->refused, 1);
    pthread_mutex_unlock(&p->mu);
    if (now - w->limit_logged >= PROXY_LOG_MS) {
        log_warn("link port %d: connection limit reached (%zu on this host): "
                 "refusing new connections until some end", l->port, max);
        w->limit_logged = now;
    }
}

/* One connection per event: the listener stays readable while more wait
 * (level-triggered), and a loop to EAGAIN would cost a failing accept4 each time,
 * a syscall in five of a short connection's life. */
static void proxy_accept(proxy_worker *w, proxy_listener *l)
{
    proxy *p = w->p;
    struct sockaddr_in peer = {0};
    socklen_t len = sizeof peer;
    proxy_counters *counters;
    proxy_conn *c;
    bool counted;
    int fd = accept4(l->fd, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
            proxy_pause(w, l, errno);
        return;
    }
    size_t max = atomic_load(&p->max_conns);
    if (atomic_fetch_add(&p->conns, 1) >= max) {
        atomic_fetch_sub(&p->conns, 1);
        proxy_over_limit(w, l, fd, max);
        return;
    }
    if (!proxy_admit(w, l, &peer, &counters, &counted)) {
        if (counted)
            proxy_source_give(p, ntohl(peer.sin_addr.s_addr));
        atomic_fetch_sub(&p->conns, 1);
        close(fd);
        return;
    }
    if (!(c = proxy_conn_new(w, l, fd, counters))) {
        if (counters)
            atomic_fetch_sub(&counters->active, 1);
        if (counted)
            proxy_source_give(p, ntohl(peer.sin_addr.s_addr));
        atomic_fetch_sub(&p->conns, 1);
        close(fd);
        return;
    }
    c->source = ntohl(peer.sin_addr.s_addr);
    c->counted = counted;
    if (proxy_connect_next(w, c) < 0) {
        if (c->counters)
            atomic_fetch_add(&c->counters->refused, 1);
        proxy_log_refused(w, l->port, "no live instance, connection refused");
        proxy_close(w, c);
    }
}

/* Move bytes from -> to until neither side can make progress; *moved gets what
 * reached to. Pending bytes are in f's pipe: they go first, and from is read only
 * once they are gone. A read is a splice into the pipe while the flow is bulk,
 * else a recv into w->copy that is sent at once, its rest (what the socket would
 * not take) written to the empty pipe, which takes all of it (a write of at most
 * PIPE_BUF bytes is whole). The flow is bulk after a read of PROXY_COPY_BYTES or
 * more, whichever way it was read. A read that did not fill its room most likely
 * emptied the socket: rather than a read that would only say EAGAIN, the pump
 * stops there, and level-triggered epoll says so if more came meanwhile. EOF is passed on as
 * shutdown(SHUT_WR), unless the other flow has ended too and the connection is
 * about to close. Returns -1 on a hard error of either socket. */
static int proxy_pump(proxy_worker *w, proxy_flow *f, const proxy_flow *other, int from, int to,
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
        ssize_t n;
        if (f->bulk) {
            n = splice(from, NULL, f->pipe[1], NULL, PROXY_PIPE_BYTES,
                       SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n < 0)
                return errno == EAGAIN ? 0 : -1;
            f->len = (size_t)n;
            drained = n < PROXY_PIPE_BYTES;
            f->bulk = n >= PROXY_COPY_BYTES;
        } else {
            n = recv(from, w->copy, sizeof w->copy, 0);
            if (n < 0)
                return errno == EAGAIN ? 0 : -1;
            ssize_t sent = n > 0 ? send(to, w->copy, (size_t)n, MSG_NOSIGNAL) : 0;
            if (sent < 0 && errno != EAGAIN)
                return -1;
            sent = sent < 0 ? 0 : sent;
            *moved += (unsigned long long)sent;
            if (sent < n) {
                ssize_t put = write(f->pipe[1], w->copy + sent, (size_t)(n - sent));
                if (put != n - sent) { /* cannot happen: an empty pipe, <= PIPE_BUF */
                    f->len = put > 0 ? (size_t)put : 0; /* so the pipe is not pooled */
                    return -1;
                }
            }
            f->len = (size_t)(n - sent);
            drained = n < (ssize_t)sizeof w->copy;
            f->bulk = !drained;
        }
        if (n == 0)
            f->eof = true;
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
        rc = proxy_pump(w, reads, writes, fd, peer, read_moved);
    if (rc == 0 && (events & EPOLLOUT))
        rc = proxy_pump(w, writes, reads, peer, fd, write_moved);
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
    proxy_touch(w, c); /* an event is progress: interest is only in what can move */
    proxy_interest(w, c);
}

/* Close the connections that moved no byte for idle_ms: the live list is in
 * order of activity, so only its tail is looked at, O(1) per loop plus one step
 * per connection closed. */
static void proxy_expire_idle(proxy_worker *w, int64_t now, int idle_ms)
{
    while (w->live_tail && now - w->live_tail->last >= idle_ms) {
        proxy_conn *c = w->live_tail;
        log_debug("link port %d: nothing moved in %d s: closing the connection", c->port,
                  idle_ms / 1000);
        if (c->counters)
            atomic_fetch_add(&c->counters->idle, 1);
        proxy_close(w, c);
    }
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
    w->now = proxy_now();
    proxy_sync_listeners(w);
    while (!atomic_load(w->stop)) {
        int n = epoll_wait(w->epfd, events, PROXY_EVENTS, proxy_timeout(w));
        if (n < 0 && errno != EINTR) {
            log_error("proxy: epoll_wait: %s", strerror(errno));
            w->rc = -1;
            break;
        }
        w->now = proxy_now();
        for (int i = 0; i < n; i++)
            proxy_on_event(w, &events[i]);
        int64_t now = proxy_now(), idle_ms = atomic_load(&w->p->idle_ms);
        if ((w->connecting || w->paused) && now >= w->next_sweep) {
            proxy_sweep(w, now);
            w->next_sweep = now + PROXY_SWEEP_MS;
        }
        if (idle_ms > 0)
            proxy_expire_idle(w, now, (int)idle_ms);
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
