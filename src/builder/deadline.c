/* deadline.c - the header deadline: a connection must send a request's complete
 * head (request line and headers) within --header-timeout seconds of opening, or
 * of the end of its previous request, whatever it trickles meanwhile.
 *
 * libmicrohttpd's own timeout counts idle time, so a client sending a header
 * line every 20 s keeps a thread and a slot forever (Slowloris). Here every
 * connection is known from MHD_OPTION_NOTIFY_CONNECTION; main.c says when its
 * head is complete (the first call of the request handler) and when its request
 * is done; a watchdog thread shuts down, four times a second, the sockets that
 * are past their deadline while waiting for a head. MHD's thread then sees the socket
 * closed and ends the connection the usual way.
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
    bool waiting;      /* for a request's head */
    bool cut;          /* shut down already */
    struct timespec since;
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
            if (c->waiting && !c->cut && deadline_ms(c->since, now) >= (int64_t)d->seconds * 1000) {
                shutdown(c->fd, SHUT_RDWR);
                c->cut = true;
                d->cut++;
            }
        }
        if (d->cut && now.tv_sec - d->logged >= 10) {
            log_warn("cut %lu connection(s) that sent no complete request head within %u s "
                     "(--header-timeout)", d->cut, d->seconds);
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
        *c = (deadline_conn){.fd = info->connect_fd, .waiting = true, .since = deadline_now()};
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

/* waiting: the connection now waits for a request's head (again), from now on. */
static void deadline_mark(deadline *d, struct MHD_Connection *conn, bool waiting)
{
    const union MHD_ConnectionInfo *info =
        d ? MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT) : NULL;
    deadline_conn *c = info ? info->socket_context : NULL;
    if (!c)
        return;
    pthread_mutex_lock(&d->lock);
    c->waiting = waiting;
    c->since = deadline_now();
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
