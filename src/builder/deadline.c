/* deadline.c - the header deadline: a connection must send a request's complete
 * head (request line and headers) within --header-timeout seconds of opening, or
 * of the end of its previous request, whatever it trickles meanwhile; and its
 * body, if it has one, within a second more per DEADLINE_BODY_RATE bytes of it.
 *
 * libmicrohttpd's own timeout counts idle time, so a client sending a header
 * line every 20 s keeps a thread and a slot forever (Slowloris). Here every
 * connection is known from MHD_OPTION_NOTIFY_CONNECTION; serve.c says how long a
 * body the request has (deadline_body), when its head and body are complete (just
 * before it is routed) and when its request is done; a watchdog thread shuts
 * down, four times a second, the sockets that are past their deadline while
 * waiting for a head or a body. MHD's thread then sees the socket closed and ends
 * the connection the usual way.
 *
 * Invariant: an entry lives from MHD's STARTED notice to its CLOSED notice, which
 * MHD gives before it closes the socket; both take the lock the watchdog holds
 * while it shuts sockets down, so it never touches a descriptor already closed
 * (and perhaps reused). A request being answered (a stream, a write waiting on
 * etcd) has no deadline here: its own timeouts apply. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "builder.h"
#include "dokkaa/log.h"

typedef struct deadline_conn {
    struct deadline_conn *prev, *next;
    int fd;
    bool waiting;      /* for a request's head, or its body */
    bool cut;          /* shut down already */
    struct timespec since;
    int64_t limit_ms;  /* from since */
} deadline_conn;

struct deadline {
    unsigned seconds;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
    deadline_conn *conns;
    unsigned long cut;   /* connections cut since the last log line */
    time_t logged;
    pthread_t thread;
};

static struct timespec deadline_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t;
}

static int64_t deadline_ms(struct timespec from, struct timespec to)
{
    return (int64_t)(to.tv_sec - from.tv_sec) * 1000 + (to.tv_nsec - from.tv_nsec) / 1000000;
}

/* A look every DEADLINE_TICK_MS: a connection is cut within that much after its
 * deadline. An attack is one log line per 10 s, not a line per connection. */
#define DEADLINE_TICK_MS 250
/* A body's time beyond the head's: a second per 16 KiB. Any link that serves
 * the console is far faster, so no honest client is cut, and a 1 MiB manifest
 * (the largest body, --max-body's default) gets 64 s more: a client can hold a
 * thread that long per --max-body of body, not forever. */
#define DEADLINE_BODY_RATE (16 * 1024)

static void *deadline_run(void *arg)
{
    deadline *d = arg;
    pthread_mutex_lock(&d->lock);
    while (!d->stop) {
        struct timespec now = deadline_now(), next = now;
        next.tv_nsec += DEADLINE_TICK_MS * 1000000L;
        if (next.tv_nsec >= 1000000000L) {
            next.tv_sec++;
            next.tv_nsec -= 1000000000L;
        }
        for (deadline_conn *c = d->conns; c; c = c->next) {
            if (c->waiting && !c->cut && deadline_ms(c->since, now) >= c->limit_ms) {
                shutdown(c->fd, SHUT_RDWR);
                c->cut = true;
                d->cut++;
            }
        }
        if (d->cut && now.tv_sec - d->logged >= 10) {
            log_warn("cut %lu connection(s) that sent no complete request head within %u s, "
                     "or no body within a second more per %d bytes (--header-timeout)", d->cut,
                     d->seconds, DEADLINE_BODY_RATE);
            d->cut = 0;
            d->logged = now.tv_sec;
        }
        int rc = 0;
        while (!d->stop && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&d->wake, &d->lock, &next);
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

deadline *deadline_start(unsigned seconds, err_t *err)
{
    deadline *d = calloc(1, sizeof *d);
    if (!d)
        return err_sys(err, "header deadline"), NULL;
    d->seconds = seconds;
    pthread_mutex_init(&d->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&d->wake, &attr);
    pthread_condattr_destroy(&attr);
    if ((errno = pthread_create(&d->thread, NULL, deadline_run, d)) != 0) {
        err_sys(err, "header deadline thread");
        pthread_cond_destroy(&d->wake);
        pthread_mutex_destroy(&d->lock);
        free(d);
        return NULL;
    }
    return d;
}

/* After the daemons stopped: every connection has had its CLOSED notice. */
void deadline_stop(deadline *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->lock);
    d->stop = true;
    pthread_cond_signal(&d->wake);
    pthread_mutex_unlock(&d->lock);
    pthread_join(d->thread, NULL);
    while (d->conns) { /* none, unless a daemon could not be stopped cleanly */
        deadline_conn *c = d->conns;
        d->conns = c->next;
        free(c);
    }
    pthread_cond_destroy(&d->wake);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

void deadline_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                     enum MHD_ConnectionNotificationCode code)
{
    deadline *d = cls;
    deadline_conn *c = *socket_context;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!info || !(c = calloc(1, sizeof *c)))
            return; /* out of memory: this connection goes without a deadline */
        *c = (deadline_conn){.fd = info->connect_fd, .waiting = true, .since = deadline_now(),
                             .limit_ms = (int64_t)d->seconds * 1000};
        pthread_mutex_lock(&d->lock);
        if ((c->next = d->conns))
            c->next->prev = c;
        d->conns = c;
        pthread_mutex_unlock(&d->lock);
        *socket_context = c;
    } else if (c) { /* closed */
        pthread_mutex_lock(&d->lock);
        if (c->prev)
            c->prev->next = c->next;
        else
            d->conns = c->next;
        if (c->next)
            c->next->prev = c->prev;
        pthread_mutex_unlock(&d->lock);
        free(c);
        *socket_context = NULL;
    }
}

/* The watchdog's record of conn, or NULL (no watchdog, or a connection it never saw). */
static deadline_conn *deadline_conn_of(deadline *d, struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        d ? MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT) : NULL;
    return info ? info->socket_context : NULL;
}

/* waiting: the connection now waits for a request's head (again), from now on. */
static void deadline_mark(deadline *d, struct MHD_Connection *conn, bool waiting)
{
    deadline_conn *c = deadline_conn_of(d, conn);
    if (!c)
        return;
    pthread_mutex_lock(&d->lock);
    c->waiting = waiting;
    c->since = deadline_now();
    c->limit_ms = (int64_t)d->seconds * 1000;
    pthread_mutex_unlock(&d->lock);
}

void deadline_body(deadline *d, struct MHD_Connection *conn, uintmax_t bytes)
{
    deadline_conn *c = deadline_conn_of(d, conn);
    if (!c)
        return;
    pthread_mutex_lock(&d->lock);
    c->limit_ms = (int64_t)d->seconds * 1000 + (int64_t)(bytes * 1000 / DEADLINE_BODY_RATE);
    pthread_mutex_unlock(&d->lock);
}

void deadline_head_done(deadline *d, struct MHD_Connection *conn)
{
    deadline_mark(d, conn, false);
}

void deadline_request_done(deadline *d, struct MHD_Connection *conn)
{
    deadline_mark(d, conn, true);
}
