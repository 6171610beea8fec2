/* api.c - requests to the builders' API, and their answers as exit codes.
 *
 * This speaks libcurl itself rather than through lib/http.c, for two things
 * http.h does not offer (yet): request headers (the API's Authorization: Bearer),
 * and the status of a streamed answer before its body (logs -f and events write
 * a 200's body to stdout as it comes, and must keep an error's body from it). */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"

#define API_TIMEOUT_MS 30000
#define API_ERROR_MAX (64 * 1024) /* of an error's body that a stream keeps */

struct api {
    api_config cfg;
    CURL *curl;
};

/* Where an answer's body goes while it comes. */
typedef struct api_sink {
    CURL *curl;
    const api_req *req;
    long status;   /* known from the first piece of the body on */
    char *buf;     /* the body of a plain answer, or of a stream's error */
    size_t len;
    bool stopped;  /* by req->stream */
    bool oom;
} api_sink;

/* SIGINT or SIGTERM during a stream: it ends, and the command with it, cleanly. */
static volatile sig_atomic_t api_signalled;

static void api_on_signal(int sig)
{
    (void)sig;
    api_signalled = 1;
}

bool api_interrupted(void)
{
    return api_signalled;
}

static void api_catch_signals(void)
{
    struct sigaction sa = {.sa_handler = api_on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static bool api_keep(api_sink *s, const char *data, size_t len)
{
    if (s->req->stream && s->len + len > API_ERROR_MAX)
        return true; /* an error's message is at its start */
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

static size_t api_on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    api_sink *s = ud;
    size_t len = size * nmemb;
    if (!s->status)
        curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->status);
    if (s->req->stream && s->status / 100 == 2) {
        if (s->req->stream(s->req->ud, data, len))
            return len;
        s->stopped = true;
        return 0; /* curl ends the transfer */
    }
    return api_keep(s, data, len) ? len : 0;
}

static int api_on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)ud, (void)dt, (void)dn, (void)ut, (void)un;
    return api_signalled ? 1 : 0;
}

static struct curl_slist *api_headers(const api *a, const api_req *req)
{
    char auth[sizeof a->cfg.token + 32];
    struct curl_slist *h = curl_slist_append(NULL, "Expect:"), *more;
    if (h && req->body && (more = curl_slist_append(h, "Content-Type: application/json")))
        h = more;
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", a->cfg.token);
    if (h && a->cfg.token[0] && (more = curl_slist_append(h, auth)))
        h = more;
    return h;
}

/* One exchange: the body into s; -1 only when there was no answer. */
static int api_perform(api *a, const api_req *req, api_sink *s, err_t *err)
{
    char url[sizeof a->cfg.url + sizeof req->path], why[CURL_ERROR_SIZE] = "";
    CURL *c = a->curl;
    struct curl_slist *headers = api_headers(a, req);
    snprintf(url, sizeof url, "%s%s", a->cfg.url, req->path);
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, why);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*"); /* the API is never reached through a proxy */
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, req->stream ? 0L : (long)API_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, api_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    if (req->body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    }
    if (req->stream) {
        api_catch_signals();
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, api_on_progress);
        curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    }
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(headers);
    if (!s->status)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &s->status);
    if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && s->stopped) ||
        (rc == CURLE_ABORTED_BY_CALLBACK && api_signalled))
        return 0;
    if (s->oom)
        return err_set(err, ERR_SYS, "out of memory");
    return err_set(err, ERR_UNAVAIL, "%s %s: %s", req->method, url,
                   why[0] ? why : curl_easy_strerror(rc));
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
    curl_global_init(CURL_GLOBAL_NOTHING); /* plain HTTP: no TLS to set up */
    if (!((*a)->curl = curl_easy_init()))
        return err_set(err, ERR_SYS, "out of memory"), API_FAIL;
    return API_OK;
}

void api_close(api *a)
{
    if (!a)
        return;
    if (a->curl) {
        curl_easy_cleanup(a->curl);
        curl_global_cleanup();
    }
    free(a);
}

int api_send(api *a, const api_req *req, json_t **out, err_t *err)
{
    api_sink s = {.curl = a->curl, .req = req};
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
