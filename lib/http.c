/* http.c - libcurl-backed HTTP client (see http.h). */
#include "dokkaa/http.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct http_client {
    CURL *curl;
    char *unix_socket;
    bool own_tls; /* http_client_tls: these, not the process's */
    char *ca, *cert, *key;
};

struct http_sink {
    CURL *curl;
    http_buf *buf;          /* collect mode */
    http_chunk_fn fn;       /* stream mode */
    http_status_fn on_status;
    void *ud;
    const atomic_bool *stop;
    bool stopped_by_fn;
};

static pthread_once_t http_once_flag = PTHREAD_ONCE_INIT;

/* The TLS files (http_tls_set); "" for none. set: http_tls_set was called, so
 * the environment is not read. */
static struct {
    char ca[PATH_MAX], cert[PATH_MAX], key[PATH_MAX];
    bool set;
} http_tls;

static void http_tls_copy(char *dst, const char *src)
{
    snprintf(dst, PATH_MAX, "%s", src ? src : "");
}

/* TLS is left uninitialised here (CURL_GLOBAL_NOTHING): libcurl brings OpenSSL up
 * on the first https:// request, so the local provider's plain-HTTP daemons never
 * pay its resident memory. */
static void http_global_init(void)
{
    curl_global_init(CURL_GLOBAL_NOTHING);
    if (!http_tls.set)
        http_tls_set(getenv("DOKKAA_TLS_CA"), getenv("DOKKAA_TLS_CERT"), getenv("DOKKAA_TLS_KEY"));
}

void http_tls_set(const char *ca, const char *cert, const char *key)
{
    http_tls_copy(http_tls.ca, ca);
    http_tls_copy(http_tls.cert, cert);
    http_tls_copy(http_tls.key, key);
    http_tls.set = true;
}

http_client *http_client_new(const char *unix_socket, err_t *err)
{
    pthread_once(&http_once_flag, http_global_init);
    http_client *c = calloc(1, sizeof *c);
    if (!c)
        return err_sys(err, "http client"), NULL;
    c->curl = curl_easy_init();
    if (!c->curl || (unix_socket && !(c->unix_socket = strdup(unix_socket)))) {
        http_client_free(c);
        err_set(err, ERR_SYS, "http client: out of memory");
        return NULL;
    }
    return c;
}

void http_client_free(http_client *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    free(c->unix_socket);
    free(c->ca);
    free(c->cert);
    free(c->key);
    free(c);
}

static char *http_dup_or_null(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

int http_client_tls(http_client *c, const char *ca, const char *cert, const char *key)
{
    free(c->ca);
    free(c->cert);
    free(c->key);
    c->ca = http_dup_or_null(ca);
    c->cert = http_dup_or_null(cert);
    c->key = http_dup_or_null(key);
    c->own_tls = true;
    return (ca && *ca && !c->ca) || (cert && *cert && !c->cert) || (key && *key && !c->key) ? -1 : 0;
}

void http_buf_free(http_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

static size_t http_on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct http_sink *sink = userdata;
    size_t len = size * nmemb;
    if (sink->fn) {
        if (!sink->fn(sink->ud, data, len)) {
            sink->stopped_by_fn = true;
            return 0; /* makes curl abort with CURLE_WRITE_ERROR */
        }
        return len;
    }
    char *grown = realloc(sink->buf->data, sink->buf->len + len + 1);
    if (!grown)
        return 0;
    memcpy(grown + sink->buf->len, data, len);
    sink->buf->len += len;
    grown[sink->buf->len] = '\0';
    sink->buf->data = grown;
    return len;
}

/* The blank line that ends the headers: the status is known. Interim answers
 * (1xx) have headers of their own; the final one follows them. */
static size_t http_on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct http_sink *sink = userdata;
    size_t len = size * nmemb;
    long status = 0;
    const char *ctype = NULL;
    if (len > 2 || (data[0] != '\r' && data[0] != '\n'))
        return len;
    curl_easy_getinfo(sink->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200)
        return len;
    curl_easy_getinfo(sink->curl, CURLINFO_CONTENT_TYPE, &ctype);
    if (!sink->on_status(sink->ud, status, ctype)) {
        sink->stopped_by_fn = true;
        return 0; /* makes curl abort with CURLE_WRITE_ERROR */
    }
    return len;
}

static int http_on_progress(void *userdata, curl_off_t dt, curl_off_t dn, curl_off_t ut,
                            curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    struct http_sink *sink = userdata;
    return sink->stop && atomic_load(sink->stop) ? 1 : 0;
}

static int http_perform(http_client *c, const http_req *req, struct http_sink *sink,
                        long *status, err_t *err)
{
    CURL *h = c->curl;
    struct curl_slist *headers = NULL;
    char ctype[128], why[CURL_ERROR_SIZE] = "";

    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, req->url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, req->timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*"); /* never route our own traffic elsewhere */
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, why);
    if (c->unix_socket)
        curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->unix_socket);
    if (strncmp(req->url, "https:", 6) == 0) {
        const char *ca = c->own_tls ? c->ca : http_tls.ca[0] ? http_tls.ca : NULL;
        const char *cert = c->own_tls ? c->cert : http_tls.cert[0] ? http_tls.cert : NULL;
        const char *key = c->own_tls ? c->key : http_tls.key[0] ? http_tls.key : NULL;
        /* the cluster's CA alone: libcurl's default CA path stays trusted otherwise,
         * and any certificate a public CA issued for a host's address would pass */
        if (ca) {
            curl_easy_setopt(h, CURLOPT_CAINFO, ca);
            curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
        }
        if (cert && key) {
            curl_easy_setopt(h, CURLOPT_SSLCERT, cert);
            curl_easy_setopt(h, CURLOPT_SSLKEY, key);
        }
    }
    if (req->body) {
        snprintf(ctype, sizeof ctype, "Content-Type: %s",
                 req->content_type ? req->content_type : "application/json");
        headers = curl_slist_append(headers, ctype);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)req->body_len);
    }
    headers = curl_slist_append(headers, "Expect:");
    for (const char *const *extra = req->headers; extra && *extra; extra++)
        headers = curl_slist_append(headers, *extra);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, http_on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, sink);
    if (sink->stop) {
        /* A stream may stay silent for long; keepalive probes notice a peer that
         * vanished without a word (a host cut off) in about half a minute. */
        curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 10L);
        curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 5L);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, http_on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, sink);
    }
    if (sink->on_status) {
        sink->curl = h;
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, http_on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, sink);
    }

    CURLcode rc = curl_easy_perform(h);
    curl_slist_free_all(headers);
    *status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && sink->stopped_by_fn))
        return 0;
    if (rc == CURLE_ABORTED_BY_CALLBACK)
        return err_set(err, ERR_CANCELLED, "%s %s: cancelled", req->method, req->url);
    /* The transfer phase never began (no pre-transfer time, which a reused
     * connection has too): the request was not sent. */
    curl_off_t pretransfer = 0;
    curl_easy_getinfo(h, CURLINFO_PRETRANSFER_TIME_T, &pretransfer);
    err_set(err, ERR_UNAVAIL, "%s %s: %s", req->method, req->url,
            why[0] ? why : curl_easy_strerror(rc));
    if (err && pretransfer == 0)
        err->sys_errno = ENOTCONN;
    return -1;
}

int http_do(http_client *c, const http_req *req, long *status, http_buf *resp, err_t *err)
{
    struct http_sink sink = {.buf = resp};
    resp->data = NULL;
    resp->len = 0;
    if (http_perform(c, req, &sink, status, err) < 0) {
        http_buf_free(resp);
        return -1;
    }
    if (!resp->data && !(resp->data = calloc(1, 1)))
        return err_sys(err, "http response");
    return 0;
}

int http_stream(http_client *c, const http_req *req, http_chunk_fn fn, void *ud,
                const atomic_bool *stop, long *status, err_t *err)
{
    struct http_sink sink = {.fn = fn, .on_status = req->on_status, .ud = ud, .stop = stop};
    return http_perform(c, req, &sink, status, err);
}

char *http_escape(const char *s)
{
    char *escaped = curl_easy_escape(NULL, s, 0), *copy;
    if (!escaped)
        return NULL;
    copy = strdup(escaped); /* callers free() what we return, not curl_free() */
    curl_free(escaped);
    return copy;
}

static int http_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t http_urldecode(char *s, bool form)
{
    char *out = s;
    for (const char *in = s; *in; in++) {
        int hi, lo;
        if (*in == '%' && (hi = http_hexval(in[1])) >= 0 && (lo = http_hexval(in[2])) >= 0) {
            *out++ = (char)(hi * 16 + lo);
            in += 2;
        } else {
            *out++ = (form && *in == '+') ? ' ' : *in;
        }
    }
    *out = '\0';
    return (size_t)(out - s);
}
