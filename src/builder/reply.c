/* reply.c - the answers every handler queues: JSON, text as it is, the API's
 * error, and a write's answer once this builder's copy has the write. The leaf the
 * handlers share: it calls no handler and no router, so a request goes down from
 * main.c's routing to a handler to here, never back up. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "dokkaa/log.h"
#include "dokkaa/names.h"

/* How long a write waits for this builder's copy to catch up before answering
 * anyway; the write itself is done either way. */
#define REPLY_WAIT_MS 3000

/* Queue resp (NULL: out of memory) with the headers every answer carries. */
static enum MHD_Result reply_send(builder_req *r, unsigned status, const char *content_type,
                                  struct MHD_Response *resp, int64_t index)
{
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", content_type);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (strncmp(content_type, "text/html", 9) == 0) /* the console: its own origin only */
        MHD_add_response_header(resp, "Content-Security-Policy",
                                "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                                "img-src 'self' data:; frame-ancestors 'none'");
    if (index > 0) {
        char idx[32];
        snprintf(idx, sizeof idx, "%lld", (long long)index);
        MHD_add_response_header(resp, "X-Etcd-Index", idx);
    }
    r->status = status;
    enum MHD_Result ret = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Queue text (taken: freed here whatever happens). */
static enum MHD_Result reply_queue(builder_req *r, unsigned status, const char *content_type,
                                   char *text, size_t len, int64_t index)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!resp)
        free(text);
    return reply_send(r, status, content_type, resp, index);
}

/* A body that cannot be built (out of memory, or text JSON cannot carry) still
 * gets an answer: returning MHD_NO would reset the connection with none. */
enum MHD_Result reply_json(builder_req *r, unsigned status, json_t *body, int64_t index)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        status = 500;
        text = strdup("{\"code\":\"internal\",\"error\":\"the response could not be encoded as JSON\"}");
        if (!text)
            return MHD_NO;
    }
    return reply_queue(r, status, "application/json", text, strlen(text), index);
}

enum MHD_Result reply_text(builder_req *r, unsigned status, const char *content_type,
                           const char *text, size_t len)
{
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return MHD_NO;
    memcpy(copy, text, len);
    return reply_queue(r, status, content_type, copy, len, 0);
}

enum MHD_Result reply_shared(builder_req *r, unsigned status, const char *content_type,
                             const char *text, size_t len, void (*release)(void *), void *cls)
{
    /* MHD only reads the buffer, and calls release once it is done with it, also
     * when the client goes away mid-answer */
    struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback_cls(
        len, (void *)text, release, cls);
    if (!resp)
        release(cls);
    return reply_send(r, status, content_type, resp, 0);
}

static const char *reply_error_code(unsigned status)
{
    switch (status) {
    case 400: return "invalid";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 409: return "conflict";
    case 413: return "too_large";
    case 502: case 503: return "unavailable";
    default: return "internal";
    }
}

enum MHD_Result reply_error(builder_req *r, unsigned status, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* a path or a name from the request may be any bytes: what is not UTF-8 shows
     * as U+FFFD, so that the answer is still the precise one, in JSON */
    char clean[sizeof msg * 3];
    names_utf8_scrub(msg, clean, sizeof clean);
    return reply_json(r, status,
                      json_pack("{s:s,s:s}", "code", reply_error_code(status), "error", clean), 0);
}

enum MHD_Result reply_written(builder_req *r, unsigned status, json_t *body, int64_t revision)
{
    if (!store_wait(r->b->store, revision, REPLY_WAIT_MS))
        log_warn("%s %s: this builder's copy has not reached revision %lld yet", r->method,
                 r->url, (long long)revision);
    return reply_json(r, status, body, 0);
}

enum MHD_Result reply_etcd_failed(builder_req *r, const err_t *err)
{
    log_error("%s %s: %s", r->method, r->url, err->msg);
    return reply_error(r, 503, "etcd: %s", err->msg);
}
