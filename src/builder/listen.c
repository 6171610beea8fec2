/* listen.c - one port for HTTP and HTTPS.
 *
 * With a certificate the builder serves its API and console over TLS, yet the
 * seed's commands (`curl http://<host>:4001/v2/keys/...`) must keep working as
 * written. So port 4001 speaks both: this thread accepts, peeks at the client's
 * first byte, and hands the socket to one of two libmicrohttpd daemons, neither
 * of which listens itself. A TLS ClientHello starts with the handshake record
 * type 0x16; an HTTP request starts with a method's letter. Nothing else is ever
 * read here, so each daemon sees its connection from the first byte.
 *
 * A client that connects and says nothing holds a slot of the pending table for
 * at most LISTEN_HELLO_SECONDS; when the table is full the oldest waiting client
 * is dropped, so silent connections cannot starve the port. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "builder.h"
#include "dokkaa/log.h"

#define LISTEN_PENDING 256
#define LISTEN_HELLO_SECONDS 10
#define LISTEN_TLS_HANDSHAKE 0x16

typedef struct listen_pending {
    int fd; /* -1: free */
    time_t deadline;
    struct sockaddr_storage addr;
    socklen_t addr_len;
} listen_pending;

struct builder_listener {
    int fd, epfd;
    struct MHD_Daemon *plain, *tls;
    atomic_bool stop;
    time_t paused_until; /* 0, or when to watch the listening socket again */
    unsigned long refused; /* by a daemon (its limits) since the last log line */
    time_t refused_logged;
    pthread_t thread;
    listen_pending pending[LISTEN_PENDING];
};

static void listen_drop(builder_listener *l, listen_pending *p)
{
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, p->fd, NULL);
    close(p->fd);
    p->fd = -1;
}

/* Accept what is waiting; each new socket waits for its first byte in a slot. */
static void listen_accept(builder_listener *l)
{
    for (;;) {
        struct sockaddr_storage addr;
        socklen_t len = sizeof addr;
        int fd = accept4(l->fd, (struct sockaddr *)&addr, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                /* out of descriptors: the socket stays readable, so stop
                 * watching it for a second instead of spinning on it */
                log_warn("accept on the API port: %s; pausing for a second", strerror(errno));
                epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->fd, NULL);
                l->paused_until = time(NULL) + 1;
            } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                       errno != ECONNABORTED) {
                log_warn("accept on the API port: %s", strerror(errno));
            }
            return;
        }
        listen_pending *slot = NULL, *oldest = &l->pending[0];
        for (size_t i = 0; i < LISTEN_PENDING && !slot; i++) {
            if (l->pending[i].fd < 0)
                slot = &l->pending[i];
            else if (l->pending[i].deadline < oldest->deadline)
                oldest = &l->pending[i];
        }
        if (!slot) {
            listen_drop(l, oldest);
            slot = oldest;
        }
        *slot = (listen_pending){.fd = fd, .deadline = time(NULL) + LISTEN_HELLO_SECONDS,
                                 .addr = addr, .addr_len = len};
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = slot};
        if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            slot->fd = -1;
        }
    }
}

/* The client spoke: give its socket to the daemon for its protocol. */
static void listen_dispatch(builder_listener *l, listen_pending *p)
{
    unsigned char first;
    ssize_t n = recv(p->fd, &first, 1, MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        listen_drop(l, p);
        return;
    }
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, p->fd, NULL);
    struct MHD_Daemon *d = first == LISTEN_TLS_HANDSHAKE ? l->tls : l->plain;
    /* MHD closes the socket itself if it cannot take it: at its limits (--max-conns,
     * --max-conns-per-ip), which a flood reaches at will, so one line per 10 s */
    if (MHD_add_connection(d, p->fd, (const struct sockaddr *)&p->addr, p->addr_len) != MHD_YES) {
        time_t now = time(NULL);
        l->refused++;
        if (now - l->refused_logged >= 10) {
            log_warn("%lu connection(s) could not be served (last: %s); the limits are "
                     "--max-conns and --max-conns-per-ip", l->refused, strerror(errno));
            l->refused = 0;
            l->refused_logged = now;
        }
    }
    p->fd = -1;
}

static void *listen_run(void *arg)
{
    builder_listener *l = arg;
    struct epoll_event evs[64];
    while (!atomic_load(&l->stop)) {
        int n = epoll_wait(l->epfd, evs, 64, 1000); /* a second: expiry and stop */
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == l)
                listen_accept(l);
            else
                listen_dispatch(l, evs[i].data.ptr);
        }
        time_t now = time(NULL);
        if (l->paused_until && now >= l->paused_until) {
            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};
            if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->fd, &ev) == 0)
                l->paused_until = 0;
        }
        for (size_t i = 0; i < LISTEN_PENDING; i++)
            if (l->pending[i].fd >= 0 && l->pending[i].deadline <= now)
                listen_drop(l, &l->pending[i]);
    }
    return NULL;
}

builder_listener *listen_start(int port, struct MHD_Daemon *plain, struct MHD_Daemon *tls,
                               err_t *err)
{
    builder_listener *l = calloc(1, sizeof *l);
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port),
                              .sin6_addr = IN6ADDR_ANY_INIT};
    int off = 0, on = 1;
    if (!l)
        return err_sys(err, "listener"), NULL;
    l->plain = plain;
    l->tls = tls;
    l->epfd = -1;
    for (size_t i = 0; i < LISTEN_PENDING; i++)
        l->pending[i].fd = -1;
    /* dual stack, as MHD_USE_DUAL_STACK does: IPv4 clients arrive v4-mapped */
    if ((l->fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0 ||
        setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off) < 0 ||
        setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) < 0 ||
        bind(l->fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(l->fd, 512) < 0) {
        err_sys(err, "port %d", port);
        goto err;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};
    if ((l->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
        epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->fd, &ev) < 0) {
        err_sys(err, "epoll");
        goto err;
    }
    if ((errno = pthread_create(&l->thread, NULL, listen_run, l)) != 0) {
        err_sys(err, "listener thread");
        goto err;
    }
    return l;
err:
    if (l->fd >= 0)
        close(l->fd);
    if (l->epfd >= 0)
        close(l->epfd);
    free(l);
    return NULL;
}

void listen_stop(builder_listener *l)
{
    if (!l)
        return;
    atomic_store(&l->stop, true);
    pthread_join(l->thread, NULL);
    for (size_t i = 0; i < LISTEN_PENDING; i++)
        if (l->pending[i].fd >= 0)
            close(l->pending[i].fd);
    close(l->epfd);
    close(l->fd);
    free(l);
}
