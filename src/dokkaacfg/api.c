/* api.c - requests to the builders' API, and their answers as exit codes. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "dokkaa/http.h"

#define API_TIMEOUT_MS 30000
#define API_ERROR_MAX (64 * 1024) /* of an error's body that a stream keeps */

struct api {
    api_config cfg;
    http_client *http;
};

/* Where a stream's body goes while it comes. */
typedef struct api_sink {
    const api_req *req;
    long status;   /* known before the first piece of the body */
    char *buf;     /* the body of an error answer */
    size_t len;
    bool oom;
} api_sink;

/* SIGINT or SIGTERM during a stream: it ends, and the command with it, cleanly. */
static atomic_bool api_signalled;

static void api_on_signal(int sig)
{
    (void)sig;
    atomic_store(&api_signalled, true);
}

bool api_interrupted(void)
{
    return atomic_load(&api_signalled);
}

const atomic_bool *api_stop_flag(void)
{
    return &api_signalled;
}

void api_catch_signals(void)
{
    struct sigaction sa = {.sa_handler = api_on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static bool api_on_status(void *ud, long status, const char *content_type)
{
    (void)content_type;
    ((api_sink *)ud)->status = status;
    return true;
}

/* A 2xx body goes to the command as it comes; an error's is kept (its start,
 * where the message is) so that stdout never sees it. */
static bool api_on_chunk(void *ud, const char *data, size_t len)
{
    api_sink *s = ud;
    if (s->status / 100 == 2)
        return s->req->stream(s->req->ud, data, len);
    if (s->len + len > API_ERROR_MAX)
        return true;
    char *grown = realloc(s->buf, s->len + len + 1);
    if (!grown) {
        s->oom = true;
        return false;
    }
    memcpy(grown + s->len, data, len);
    s->len += len;
    grown[s->len] = '\0';
    s->buf = grown;
    return true;
}

static int api_perform_once(api *a, const api_req *req, api_sink *s, err_t *err);

/* One exchange: the body into s (a plain answer's whole, a stream's error); -1
 * only when there was no answer. When the API cannot be reached and the config
 * names other hosts' APIs, the next one is asked (and kept for the commands'
 * later requests): a read whatever went wrong, a write only if it was never sent. */
static int api_perform(api *a, const api_req *req, api_sink *s, err_t *err)
{
    bool read = strcmp(req->method, "GET") == 0;
    int rc = api_perform_once(a, req, s, err);
    for (int i = 0; rc < 0 && i < a->cfg.nmore && err->code == ERR_UNAVAIL &&
                    (read || err->sys_errno == ENOTCONN);
         i++) {
        if (strcmp(a->cfg.more[i], a->cfg.url) == 0)
            continue;
        fprintf(stderr, "dokkaacfg: %s cannot be reached; asking %s\n", a->cfg.url, a->cfg.more[i]);
        snprintf(a->cfg.url, sizeof a->cfg.url, "%s", a->cfg.more[i]);
        rc = api_perform_once(a, req, s, err);
    }
    return rc;
}

static int api_perform_once(api *a, const api_req *req, api_sink *s, err_t *err)
{
    char url[sizeof a->cfg.url + sizeof req->path], auth[sizeof a->cfg.token + 32];
    const char *headers[] = {a->cfg.token[0] ? auth : NULL, NULL};
    http_buf body;
    snprintf(url, sizeof url, "%s%s", a->cfg.url, req->path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", a->cfg.token);
    http_req hr = {.method = req->method, .url = url, .body = req->body,
                   .body_len = req->body_len,
                   .timeout_ms = req->stream ? 0 : req->timeout_ms ? req->timeout_ms : API_TIMEOUT_MS,
                   .headers = headers, .on_status = api_on_status};
    if (!req->stream) {
        if (http_do(a->http, &hr, &s->status, &body, err) < 0)
            return -1;
        s->buf = body.data;
        s->len = body.len;
        return 0;
    }
    api_catch_signals();
    if (http_stream(a->http, &hr, api_on_chunk, s, &api_signalled, &s->status, err) < 0 &&
        !(err->code == ERR_CANCELLED && api_interrupted()))
        return -1;
    if (s->oom)
        return err_set(err, ERR_SYS, "out of memory");
    return 0;
}

/* A non-2xx answer: the server's {"error"} message, and the exit code. */
static int api_status_error(long status, const char *body, err_t *err)
{
    json_t *v = json_loads(body, 0, NULL);
    const char *msg = json_string_value(json_object_get(v, "error"));
    int rc = status == 404                   ? API_NOTFOUND
             : status == 401 || status == 403 ? API_DENIED
             : status == 400 || status == 413 ? API_INVALID
                                              : API_FAIL;
    if (msg)
        err_set(err, ERR_REMOTE, "%s", msg);
    else
        err_set(err, ERR_REMOTE, "HTTP %ld: %.200s", status, body);
    json_decref(v);
    return rc;
}

int api_open(api **a, const cfg_global *g, err_t *err)
{
    int rc;
    if (!(*a = calloc(1, sizeof **a)))
        return err_set(err, ERR_SYS, "out of memory"), API_FAIL;
    if ((rc = api_config_load(&(*a)->cfg, g, err)) != API_OK)
        return rc;
    if (!((*a)->http = http_client_new(NULL, err)))
        return API_FAIL;
    return API_OK;
}

void api_close(api *a)
{
    if (!a)
        return;
    http_client_free(a->http);
    free(a);
}

int api_send(api *a, const api_req *req, json_t **out, err_t *err)
{
    api_sink s = {.req = req};
    json_error_t jerr;
    int rc = API_FAIL;
    if (out)
        *out = NULL;
    if (api_perform(a, req, &s, err) < 0)
        goto out;
    if (s.status / 100 != 2) {
        rc = api_status_error(s.status, s.buf ? s.buf : "", err);
        goto out;
    }
    if (out && !req->stream && !(*out = json_loads(s.buf ? s.buf : "", 0, &jerr))) {
        err_set(err, ERR_REMOTE, "%s%s: the answer is not JSON: %s", a->cfg.url, req->path,
                jerr.text);
        goto out;
    }
    rc = API_OK;
out:
    free(s.buf);
    return rc;
}

int api_run(const api_args *args, const api_req *req, api_print_fn human, void *ud)
{
    api *a = NULL;
    json_t *v = NULL;
    err_t err;
    int rc = api_open(&a, &args->g, &err);
    if (rc == API_OK && (rc = api_send(a, req, req->stream ? NULL : &v, &err)) == API_OK && v)
        rc = args->json ? api_print_json(v, &err) : human(v, ud, &err);
    if (rc == API_OK && fflush(stdout) != 0)
        rc = (err_sys(&err, "stdout"), API_FAIL);
    if (rc != API_OK)
        fprintf(stderr, "dokkaacfg: %s\n", err.msg);
    json_decref(v);
    api_close(a);
    return rc;
}

int api_print_json(json_t *v, err_t *err)
{
    if (json_dumpf(v, stdout, JSON_INDENT(2)) < 0 || putchar('\n') == EOF)
        return err_sys(err, "stdout"), API_FAIL;
    return API_OK;
}

const char *api_str(const json_t *obj, const char *field)
{
    const char *s = json_string_value(json_object_get(obj, field));
    return s ? s : "";
}

const char *api_int(const json_t *obj, const char *field, char *buf)
{
    snprintf(buf, 24, "%lld", (long long)json_integer_value(json_object_get(obj, field)));
    return buf;
}
