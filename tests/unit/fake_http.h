/* fake_http.h - a fake HTTP/1.1 server for the unit tests that need a remote to
 * talk to (test_docker_paths.c, test_remote_utf8.c): a listening socket, on
 * 127.0.0.1 or on a unix socket in a private directory under /tmp, and a thread
 * that accepts on it and answers every request with what the test's handler says.
 *
 * Each connection carries one request and one answer, then the server closes it
 * (the answer says "Connection: close", so curl does not reuse it):
 *
 * - The request is read up to the blank line that ends its head, then as many bytes
 *   of body as its Content-Length says are read and dropped, so that closing does
 *   not reset a connection curl still writes to. A head that does not fit in 16 KiB,
 *   or a connection closed before its head is complete, gets no answer.
 * - The handler runs on the listener's thread, one request at a time (a handler
 *   two listeners share may run on both threads at once): it sees what was read
 *   of the request, NUL-terminated (the head, and perhaps the start of the body),
 *   sets the status and returns the body, a string that must stay valid until the
 *   answer is written. The reason phrase is always "Fake" (lib/http.c reads only
 *   the status code); Content-Type is application/json.
 * - State the handler shares with the test is the test's to lock. A test that sets
 *   up an answer and then makes the request needs no lock: the request's socket
 *   calls order the two.
 *
 * fake_http_start_tcp / fake_http_start_unix either start the thread or leave
 * nothing behind (no socket, no directory); fake_http_stop takes it all down
 * again (shutting the listening socket down wakes the accept) and may be called on
 * a server that never started. Header-only: every function is static inline, so that
 * a test may use only some of them. */
#ifndef DOKKAA_FAKE_HTTP_H
#define DOKKAA_FAKE_HTTP_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

/* Sets *status (500 unless set) and returns the body to answer req with. */
typedef const char *fake_http_handler(void *ud, const char *req, long *status);

typedef struct fake_http {
    int fd;                  /* the listening socket; -1 before start and after stop */
    int port;                /* TCP: the port the kernel chose */
    char dir[64], path[96];  /* unix: the private directory, and the socket in it */
    pthread_t thread;
    fake_http_handler *handler;
    void *ud;
} fake_http;

#define FAKE_HTTP_INIT {.fd = -1}

static inline int fake_http_write_all(int c, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(c, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static inline void fake_http_serve(fake_http *s, int c)
{
    char req[16384], sink[4096], head[256];
    size_t len = 0;
    char *end = NULL;
    while (len < sizeof req - 1 && !end) {
        ssize_t n = read(c, req + len, sizeof req - 1 - len);
        if (n <= 0)
            return;
        len += (size_t)n;
        req[len] = '\0';
        end = strstr(req, "\r\n\r\n");
    }
    if (!end)
        return;
    const char *cl = strcasestr(req, "\r\nContent-Length:");
    size_t body = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
    for (size_t have = len - (size_t)(end + 4 - req); have < body;) {
        ssize_t n = read(c, sink, sizeof sink);
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    long status = 500;
    const char *text = s->handler(s->ud, req, &status);
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %ld Fake\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     status, strlen(text));
    if (n < 0 || (size_t)n >= sizeof head || fake_http_write_all(c, head, (size_t)n) < 0)
        return;
    (void)fake_http_write_all(c, text, strlen(text));
}

static inline void *fake_http_run(void *arg)
{
    fake_http *s = arg;
    for (;;) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR)
                continue;
            return NULL; /* shut down */
        }
        fake_http_serve(s, c);
        close(c);
    }
}

/* Closes the listening socket, removes the unix socket and its directory: all a
 * start made but the thread. */
static inline void fake_http_unbind(fake_http *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    if (s->path[0])
        unlink(s->path);
    if (s->dir[0])
        rmdir(s->dir);
    s->dir[0] = s->path[0] = '\0';
}

/* Binds s->fd (a new socket, or -1 if socket() failed) to sa, listens and starts
 * the thread; if any of that fails, undoes what the start made. */
static inline int fake_http_listen(fake_http *s, const struct sockaddr *sa, socklen_t salen,
                                   fake_http_handler *handler, void *ud)
{
    s->handler = handler;
    s->ud = ud;
    if (s->fd < 0 || bind(s->fd, sa, salen) < 0 || listen(s->fd, 16) < 0 ||
        pthread_create(&s->thread, NULL, fake_http_run, s) != 0)
        goto err;
    return 0;
err:
    fake_http_unbind(s);
    return -1;
}

static inline void fake_http_stop(fake_http *s)
{
    if (s->fd < 0)
        return;
    shutdown(s->fd, SHUT_RDWR); /* wakes the accept */
    pthread_join(s->thread, NULL);
    fake_http_unbind(s);
}

/* On 127.0.0.1, at a port the kernel chooses (s->port). */
static inline int fake_http_start_tcp(fake_http *s, fake_http_handler *handler, void *ud)
{
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t inlen = sizeof in;
    s->dir[0] = s->path[0] = '\0';
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fake_http_listen(s, (struct sockaddr *)&in, sizeof in, handler, ud) < 0)
        return -1;
    if (getsockname(s->fd, (struct sockaddr *)&in, &inlen) < 0) {
        fake_http_stop(s);
        return -1;
    }
    s->port = ntohs(in.sin_port);
    return 0;
}

/* On s->path, "/tmp/<prefix>.XXXXXX/docker.sock", in a directory of its own. */
static inline int fake_http_start_unix(fake_http *s, const char *prefix,
                                       fake_http_handler *handler, void *ud)
{
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    s->port = 0;
    s->path[0] = '\0';
    snprintf(s->dir, sizeof s->dir, "/tmp/%s.XXXXXX", prefix);
    if (!mkdtemp(s->dir)) {
        s->dir[0] = '\0';
        return -1;
    }
    snprintf(s->path, sizeof s->path, "%s/docker.sock", s->dir);
    snprintf(un.sun_path, sizeof un.sun_path, "%s", s->path);
    s->fd = socket(AF_UNIX, SOCK_STREAM, 0);
    return fake_http_listen(s, (struct sockaddr *)&un, sizeof un, handler, ud);
}

#endif
