/* proxy.c - the ambassador's data path (see proxy.h).
 *
 * One thread, one epoll set, level-triggered. A connection owns two fds and two
 * fixed buffers, one per direction; nothing else is allocated per connection.
 * Each side is read only while its outgoing buffer is empty, and a side that
 * reaches EOF is passed on as shutdown(SHUT_WR) once its buffer is flushed, so
 * half-closed streams deliver every byte. An fd with nothing to wait for is taken
 * out of the epoll set, as epoll would otherwise report its errors and hang-ups at
 * every wait. Each connection goes to the instance with the fewest connections
 * (ties rotate). An instance that refuses the connect, or does not answer it
 * within PROXY_CONNECT_MS, is marked down for PROXY_BACKOFF_MS, which new
 * connections then skip, and the next instance is tried; with none left the
 * client is closed at once rather than left hanging. Deadlines, and listeners
 * paused when out of fds, are looked at by a sweep every PROXY_SWEEP_MS while
 * there are any. Copying through a buffer costs two syscalls per chunk; splice(2)
 * and one loop per core are the planned next step (issue 5). */
#include "proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dokkaa/log.h"

#define PROXY_BUF 16384
#define PROXY_EVENTS 64
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
    char buf[PROXY_BUF];
    size_t len, off;
    bool eof;   /* the reading side said EOF */
    bool shut;  /* ... and that was passed on */
} proxy_flow;

/* What the proxy knows of one instance across table rebuilds: the connections it
 * holds, for least-connections, and until when it is skipped after a failed
 * connect. A list: instances are tens per link, looked up once per connect. */
typedef struct proxy_instance {
    char addr[64];
    int port;
    unsigned active;      /* connections to it, connecting ones included */
    int64_t down_until;   /* skipped before this time (proxy_now) */
    struct proxy_instance *next;
} proxy_instance;

typedef struct proxy_conn {
    enum proxy_kind client_kind; /* PROXY_CLIENT: the epoll tag of cfd */
    enum proxy_kind backend_kind; /* PROXY_BACKEND: the epoll tag of bfd */
    int cfd, bfd;
    uint32_t cmask, bmask;       /* interest registered for each fd */
    bool creg, breg;             /* is the fd in the epoll set yet */
    bool connecting;
    int64_t deadline;            /* of the connect in progress */
    bool dead;                   /* closed; freed after the current batch of events */
    struct proxy_conn *prev, *next; /* the live connections, or the dead ones */
    int port;                    /* the link's port, to find the backends again */
    size_t first;                /* where ties start, so they rotate */
    size_t tried;                /* connects attempted */
    uint64_t tried_mask;         /* which of the link's first 64 instances (a table
                                  * swapped meanwhile may shift them: harmless) */
    proxy_instance *instance;    /* the one connected or being connected to */
    proxy_flow up, down;         /* client -> backend, backend -> client */
} proxy_conn;

struct proxy {
    int epfd;
    int wakefd;
    enum proxy_kind wake_kind;
    char listen_addr[64];
    proxy_listener *listeners;
    proxy_listener *dead_listeners; /* closed during this batch of events */
    size_t connecting, paused;      /* connections connecting, listeners paused */
    int64_t next_sweep;
    pthread_mutex_t mu; /* guards table */
    table table;
    unsigned long next_backend; /* rotates ties between instances */
    proxy_instance *instances;  /* every instance seen, while in a table or in use */
    proxy_conn *live;           /* open connections */
    proxy_conn *dead;           /* closed during this batch of events */
};

static int64_t proxy_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

proxy *proxy_new(const char *listen_addr, err_t *err)
{
    proxy *p = calloc(1, sizeof *p);
    if (!p)
        return err_sys(err, "proxy"), NULL;
    p->wake_kind = PROXY_WAKE;
    pthread_mutex_init(&p->mu, NULL);
    snprintf(p->listen_addr, sizeof p->listen_addr, "%s", listen_addr);
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    p->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &p->wake_kind};
    if (p->epfd < 0 || p->wakefd < 0 || epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->wakefd, &ev) < 0) {
        err_sys(err, "proxy: epoll");
        proxy_free(p);
        return NULL;
    }
    return p;
}

static void proxy_close(proxy *p, proxy_conn *c);
static void proxy_reap(proxy *p);

void proxy_free(proxy *p)
{
    if (!p)
        return;
    while (p->live)
        proxy_close(p, p->live);
    proxy_reap(p);
    for (proxy_listener *l = p->listeners, *next; l; l = next) {
        next = l->next;
        close(l->fd);
        free(l);
    }
    if (p->epfd >= 0)
        close(p->epfd);
    if (p->wakefd >= 0)
        close(p->wakefd);
    while (p->instances) {
        proxy_instance *in = p->instances;
        p->instances = in->next;
        free(in);
    }
    table_free(&p->table);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

void proxy_set_table(proxy *p, table *t)
{
    uint64_t one = 1;
    pthread_mutex_lock(&p->mu);
    table_free(&p->table);
    p->table = *t;
    *t = (table){0};
    pthread_mutex_unlock(&p->mu);
    if (write(p->wakefd, &one, sizeof one) < 0 && errno != EAGAIN)
        log_warn("proxy: wake: %s", strerror(errno));
}

/* ---- instances: load and back-off ------------------------------------------- */

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

/* Forget instances no connection holds and no link names (called with p->mu). */
static void proxy_instances_prune(proxy *p)
{
    for (proxy_instance **ip = &p->instances; *ip;) {
        proxy_instance *in = *ip;
        if (in->active || proxy_listed(&p->table, in)) {
            ip = &in->next;
        } else {
            *ip = in->next;
            free(in);
        }
    }
}

/* The connection no longer uses its instance; failed says the connect did not
 * succeed, which takes the instance out of rotation for a while. */
static void proxy_release(proxy_conn *c, bool failed)
{
    if (!c->instance)
        return;
    c->instance->active--;
    if (failed)
        c->instance->down_until = proxy_now() + PROXY_BACKOFF_MS;
    c->instance = NULL;
}

/* Of the link's instances this connection has not tried: those not marked down
 * before those marked down, then the fewest connections; ties rotate. */
static const table_backend *proxy_pick(proxy *p, const table_link *link, proxy_conn *c)
{
    const table_backend *best = NULL;
    proxy_instance *best_in = NULL;
    size_t best_i = 0;
    int64_t now = proxy_now();
    for (size_t k = 0; k < link->nbackends; k++) {
        size_t i = (c->first + k) % link->nbackends;
        proxy_instance *in;
        if ((i < 64 && (c->tried_mask >> i) & 1) || !(in = proxy_instance_of(p, &link->backends[i])))
            continue;
        bool down = in->down_until > now, best_down = best_in && best_in->down_until > now;
        if (!best || (best_down && !down) || (down == best_down && in->active < best_in->active)) {
            best = &link->backends[i];
            best_in = in;
            best_i = i;
        }
    }
    if (best) {
        c->tried_mask |= best_i < 64 ? 1ull << best_i : 0;
        c->instance = best_in;
        best_in->active++;
    }
    return best;
}

/* ---- listeners ---------------------------------------------------------------- */

static int proxy_listen(const proxy *p, int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
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
static void proxy_drop_listener(proxy *p, proxy_listener *l)
{
    close(l->fd); /* closing removes the fd from the epoll set */
    if (l->paused)
        p->paused--;
    l->dead = true;
    l->next = p->dead_listeners;
    p->dead_listeners = l;
}

/* Out of fds (or memory), accept fails but leaves the connection queued, so the
 * listener stays readable: stop watching it for a while rather than spin. */
static void proxy_pause(proxy *p, proxy_listener *l, int err)
{
    log_warn("link port %d: accept: %s; not accepting for %d ms", l->port, strerror(err),
             PROXY_PAUSE_MS);
    epoll_ctl(p->epfd, EPOLL_CTL_DEL, l->fd, NULL);
    l->paused = true;
    l->resume_at = proxy_now() + PROXY_PAUSE_MS;
    p->paused++;
}

static void proxy_resume(proxy *p, proxy_listener *l)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};
    l->paused = false;
    p->paused--;
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, l->fd, &ev) < 0)
        log_warn("link port %d: epoll: %s", l->port, strerror(errno));
}

/* Open a listener for every link that has none, close those of links gone.
 * Connections already accepted on a closed listener go on until they end. */
static void proxy_sync_listeners(proxy *p)
{
    pthread_mutex_lock(&p->mu);
    proxy_instances_prune(p);
    for (proxy_listener **lp = &p->listeners; *lp;) {
        proxy_listener *l = *lp;
        if (table_by_port(&p->table, l->port)) {
            lp = &l->next;
            continue;
        }
        log_info("link on port %d gone: closing its listener", l->port);
        *lp = l->next;
        proxy_drop_listener(p, l);
    }
    for (size_t i = 0; i < p->table.n; i++) {
        const table_link *link = &p->table.links[i];
        proxy_listener *l = p->listeners;
        while (l && l->port != link->port)
            l = l->next;
        if (l)
            continue;
        int fd = proxy_listen(p, link->port);
        if (fd < 0) {
            log_warn("link %s/%s: listen on %s:%d: %s", link->app, link->service,
                     p->listen_addr, link->port, strerror(errno));
            continue;
        }
        l = calloc(1, sizeof *l);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};
        if (!l || epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            free(l);
            continue;
        }
        *l = (proxy_listener){.kind = PROXY_LISTENER, .fd = fd, .port = link->port,
                              .next = p->listeners};
        p->listeners = l;
        log_info("link %s/%s: listening on %s:%d (%zu instances)", link->app, link->service,
                 p->listen_addr, link->port, link->nbackends);
    }
    pthread_mutex_unlock(&p->mu);
}

/* ---- connections -------------------------------------------------------------- */

/* Set fd's interest. An fd with none is taken out of the epoll set: an interest
 * of 0 would still report errors and hang-ups, level-triggered, so at every wait,
 * while nothing can be done about them until the other side moves (a client reset
 * while its backend is silent: a busy loop). It goes back in when interest
 * returns, and whatever happened meanwhile is seen then. */
static void proxy_watch(proxy *p, int fd, bool *registered, uint32_t *mask, uint32_t want,
                        enum proxy_kind *tag)
{
    struct epoll_event ev = {.events = want, .data.ptr = tag};
    if (want == 0 && *registered)
        epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL);
    else if (want != 0 && (!*registered || want != *mask))
        epoll_ctl(p->epfd, *registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev);
    *registered = want != 0;
    *mask = want;
}

/* Keep p->connecting, which decides whether the loop sweeps, in step with c. */
static void proxy_set_connecting(proxy *p, proxy_conn *c, bool on)
{
    if (on && !c->connecting)
        p->connecting++;
    else if (!on && c->connecting)
        p->connecting--;
    c->connecting = on;
}

/* A refused client, logged at most once per PROXY_LOG_MS per link: refusals come
 * as fast as clients connect, and the log is written on the loop's thread. */
static void proxy_log_refused(proxy *p, int port, const char *why)
{
    proxy_listener *l = p->listeners;
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

/* Close both sides now; free later, as more events of this batch may name c. */
static void proxy_close(proxy *p, proxy_conn *c)
{
    if (c->cfd >= 0)
        close(c->cfd); /* closing removes the fd from the epoll set */
    if (c->bfd >= 0)
        close(c->bfd);
    proxy_set_connecting(p, c, false);
    proxy_release(c, false);
    c->dead = true;
    if (c->prev)
        c->prev->next = c->next;
    else
        p->live = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->next = p->dead;
    p->dead = c;
}

/* Start a non-blocking connect to the best instance not tried yet. Returns -1 when
 * every instance has been tried (or none is left). */
static int proxy_connect_next(proxy *p, proxy_conn *c)
{
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
        proxy_set_connecting(p, c, true);
        c->deadline = proxy_now() + PROXY_CONNECT_MS;
        proxy_watch(p, fd, &c->breg, &c->bmask, EPOLLOUT, &c->backend_kind);
        rc = 0;
        break;
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static void proxy_reap(proxy *p)
{
    while (p->dead) {
        proxy_conn *c = p->dead;
        p->dead = c->next;
        free(c);
    }
    while (p->dead_listeners) {
        proxy_listener *l = p->dead_listeners;
        p->dead_listeners = l->next;
        free(l);
    }
}

static void proxy_accept(proxy *p, proxy_listener *l)
{
    int fd;
    while ((fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        proxy_conn *c = malloc(sizeof *c); /* not calloc: the buffers need no zeroing */
        if (!c) {
            close(fd);
            continue;
        }
        c->client_kind = PROXY_CLIENT;
        c->backend_kind = PROXY_BACKEND;
        c->cfd = fd;
        c->bfd = -1;
        c->cmask = c->bmask = 0;
        c->creg = c->breg = c->connecting = c->dead = false;
        c->port = l->port;
        c->first = p->next_backend++;
        c->tried = 0;
        c->tried_mask = 0;
        c->instance = NULL;
        c->up.len = c->up.off = c->down.len = c->down.off = 0;
        c->up.eof = c->up.shut = c->down.eof = c->down.shut = false;
        c->prev = NULL;
        c->next = p->live;
        if (p->live)
            p->live->prev = c;
        p->live = c;
        if (proxy_connect_next(p, c) < 0) {
            proxy_log_refused(p, l->port, "no live instance, connection refused");
            proxy_close(p, c);
        }
    }
    int err = errno; /* accept4's: why the loop ended */
    if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM)
        proxy_pause(p, l, err);
}

/* Move bytes from -> to through f until neither side can make progress.
 * Returns -1 on a hard error of either socket. */
static int proxy_pump(proxy_flow *f, int from, int to)
{
    for (;;) {
        if (f->off < f->len) {
            ssize_t n = write(to, f->buf + f->off, f->len - f->off);
            if (n < 0)
                return errno == EAGAIN ? 0 : -1;
            f->off += (size_t)n;
            continue;
        }
        f->off = f->len = 0;
        if (f->eof) {
            if (!f->shut && shutdown(to, SHUT_WR) < 0 && errno != ENOTCONN)
                return -1;
            f->shut = true;
            return 0;
        }
        ssize_t n = read(from, f->buf, sizeof f->buf);
        if (n < 0)
            return errno == EAGAIN ? 0 : -1;
        if (n == 0)
            f->eof = true;
        f->len = (size_t)n;
    }
}

/* Read a side only while its outgoing buffer is empty; wait for writability only
 * while bytes are pending towards it. */
static void proxy_interest(proxy *p, proxy_conn *c)
{
    uint32_t cw = (!c->up.eof && c->up.len == 0 ? EPOLLIN : 0) |
                  (c->down.off < c->down.len ? EPOLLOUT : 0);
    uint32_t bw = (!c->down.eof && c->down.len == 0 ? EPOLLIN : 0) |
                  (c->up.off < c->up.len ? EPOLLOUT : 0);
    proxy_watch(p, c->cfd, &c->creg, &c->cmask, cw, &c->client_kind);
    proxy_watch(p, c->bfd, &c->breg, &c->bmask, bw, &c->backend_kind);
}

/* Drop the backend being connected and try the next instance, if any. */
static void proxy_connect_again(proxy *p, proxy_conn *c)
{
    close(c->bfd);
    c->bfd = -1;
    proxy_release(c, true);
    if (proxy_connect_next(p, c) < 0) {
        proxy_log_refused(p, c->port, "no instance answered, connection closed");
        proxy_close(p, c);
    }
}

static void proxy_on_connected(proxy *p, proxy_conn *c)
{
    int soerr = 0;
    socklen_t len = sizeof soerr;
    getsockopt(c->bfd, SOL_SOCKET, SO_ERROR, &soerr, &len);
    if (soerr == 0) {
        proxy_set_connecting(p, c, false);
        proxy_interest(p, c);
        return;
    }
    log_debug("link port %d: connect: %s; trying the next instance", c->port, strerror(soerr));
    proxy_connect_again(p, c);
}

/* The connect took too long: the instance is as good as gone. */
static void proxy_on_deadline(proxy *p, proxy_conn *c)
{
    log_debug("link port %d: connect: no answer in %d ms; trying the next instance", c->port,
              PROXY_CONNECT_MS);
    proxy_connect_again(p, c);
}

/* Give up deadlines past, and resume listeners whose pause is over. Closes
 * connections, so the caller reaps after it. */
static void proxy_sweep(proxy *p, int64_t now)
{
    for (proxy_conn *c = p->live, *next; c; c = next) {
        next = c->next; /* proxy_close moves c to the dead */
        if (c->connecting && now >= c->deadline)
            proxy_on_deadline(p, c);
    }
    for (proxy_listener *l = p->listeners; l; l = l->next)
        if (l->paused && now >= l->resume_at)
            proxy_resume(p, l);
}

/* The epoll_wait timeout: a second when there is nothing to sweep (stop is
 * checked that often), else until the next sweep. */
static int proxy_timeout(const proxy *p)
{
    if (!p->connecting && !p->paused)
        return 1000;
    int64_t left = p->next_sweep - proxy_now();
    return left < 0 ? 0 : left > PROXY_SWEEP_MS ? PROXY_SWEEP_MS : (int)left;
}

static void proxy_on_io(proxy *p, proxy_conn *c)
{
    if (proxy_pump(&c->up, c->cfd, c->bfd) < 0 || proxy_pump(&c->down, c->bfd, c->cfd) < 0 ||
        (c->up.shut && c->down.shut)) {
        proxy_close(p, c);
        return;
    }
    proxy_interest(p, c);
}

int proxy_run(proxy *p, const atomic_bool *stop)
{
    struct epoll_event events[PROXY_EVENTS];
    while (!atomic_load(stop)) {
        int n = epoll_wait(p->epfd, events, PROXY_EVENTS, proxy_timeout(p));
        if (n < 0 && errno != EINTR)
            return -1;
        for (int i = 0; i < n; i++) {
            enum proxy_kind *kind = events[i].data.ptr;
            if (*kind == PROXY_WAKE) {
                uint64_t count;
                if (read(p->wakefd, &count, sizeof count) > 0)
                    proxy_sync_listeners(p);
            } else if (*kind == PROXY_LISTENER) {
                proxy_listener *l = (proxy_listener *)kind;
                if (!l->dead && !l->paused) /* closed or paused earlier in this batch */
                    proxy_accept(p, l);
            } else {
                proxy_conn *c = *kind == PROXY_CLIENT
                                    ? (proxy_conn *)((char *)kind - offsetof(proxy_conn, client_kind))
                                    : (proxy_conn *)((char *)kind - offsetof(proxy_conn, backend_kind));
                if (c->dead)
                    continue;
                if (c->connecting) /* an error here is the connect's: SO_ERROR says which */
                    proxy_on_connected(p, c);
                else if (events[i].events & EPOLLERR) /* reset: the pumps would fail too */
                    proxy_close(p, c);
                else
                    proxy_on_io(p, c);
            }
        }
        int64_t now = proxy_now();
        if ((p->connecting || p->paused) && now >= p->next_sweep) {
            proxy_sweep(p, now);
            p->next_sweep = now + PROXY_SWEEP_MS;
        }
        proxy_reap(p);
    }
    return 0;
}
