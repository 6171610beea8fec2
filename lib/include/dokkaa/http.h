/* http.h - a small HTTP client over libcurl, for etcd's JSON gateway and for the
 * Docker Engine API on its unix socket.
 *
 * An http_client owns one curl handle, so consecutive requests reuse the same
 * connection. It is not thread-safe: give each thread its own client. */
#ifndef DOKKAA_HTTP_H
#define DOKKAA_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "dokkaa/err.h"

typedef struct http_client http_client;

typedef struct http_buf {
    char *data; /* NUL-terminated; owned, free with http_buf_free */
    size_t len;
} http_buf;

/* Called by http_stream once the answer's headers are in, before any of its body:
 * its status and Content-Type (NULL if none). Return false to stop. */
typedef bool (*http_status_fn)(void *ud, long status, const char *content_type);

typedef struct http_req {
    const char *method;       /* "GET", "POST", ... */
    const char *url;          /* with a unix socket, only the path matters */
    const char *body;         /* may be NULL */
    size_t body_len;
    const char *content_type; /* default "application/json" when body is set */
    long timeout_ms;          /* whole request; 0 = no limit (streams) */
    const char *const *headers; /* more "Name: value" lines, NULL-terminated; may be NULL */
    http_status_fn on_status; /* http_stream only, with its ud; may be NULL */
} http_req;

/* Called with each chunk of a streamed response body; return false to stop. */
typedef bool (*http_chunk_fn)(void *ud, const char *data, size_t len);

/* TLS for https:// URLs, process-wide: the CA that servers' certificates must
 * chain to (else the system's), and the client certificate and key presented to
 * servers that ask for one (etcd with client-cert-auth). Read once from
 * $DOKKAA_TLS_CA, $DOKKAA_TLS_CERT and $DOKKAA_TLS_KEY, the variables of
 * /etc/dokkaa/dokkaa.conf; http_tls_set replaces them (NULL or "" for none). Set
 * it before any thread makes requests. Plain http:// and unix sockets ignore it. */
void http_tls_set(const char *ca, const char *cert, const char *key);

/* This client's own TLS files instead of the process's (NULL or "" for none: the
 * system's CAs, no client certificate): for a third party's API, such as a
 * cloud's, in a process that also speaks to the cluster. */
int http_client_tls(http_client *c, const char *ca, const char *cert, const char *key);

/* unix_socket may be NULL for TCP. */
http_client *http_client_new(const char *unix_socket, err_t *err);
void http_client_free(http_client *c);

/* Perform a request and collect the whole body. *status gets the HTTP status;
 * any status is a success of http_do: the caller decides what an error is. No
 * answer is ERR_UNAVAIL; with err->sys_errno ENOTCONN when no connection was made
 * at all (so nothing was sent: safe to send elsewhere, even a write). */
int http_do(http_client *c, const http_req *req, long *status, http_buf *resp, err_t *err);

/* Perform a request whose body is a stream: each chunk goes to fn as it comes.
 * Returns when the server ends the stream (0), on a transport error (-1), when fn
 * returns false (0), or when *stop becomes true (-1, ERR_CANCELLED; checked about
 * once a second even while the stream is idle). *status is the HTTP status. */
int http_stream(http_client *c, const http_req *req, http_chunk_fn fn, void *ud,
                const atomic_bool *stop, long *status, err_t *err);

void http_buf_free(http_buf *b);

/* Percent-encode s for a URL query or path segment; free() the result. NULL when out
 * of memory. */
char *http_escape(const char *s);

/* Percent-decode in place ('+' as space when form is true); returns the new length. */
size_t http_urldecode(char *s, bool form);

#endif
