/* fuzz_builder.c - libFuzzer harness of the builder's request handling, in process:
 * the daemon of src/builder/serve.c (framing, admission, body, routing) and every
 * handler behind it (the API, /v2/keys, the console's files, /healthz, /metrics),
 * over a store the input fills. The input is:
 *
 *   from <L|T|U>          optional: the client is loopback, on a --trust network,
 *                         or untrusted (the default)
 *   <key> <value>         keys of the store (the value runs to the end of the line)
 *   ==                    then the raw bytes sent on the connection, in which
 *                         "Bearer $A" gives an admin token, "Bearer $R" a read-only
 *                         one, in an Authorization header
 *
 * Without a "==" line the whole input is the raw bytes. Each input gets a
 * connection of its own (a socketpair handed to the daemon with MHD_add_connection,
 * from the address chosen); the harness half-closes its side after the bytes and
 * reads every answer to the end.
 *
 * There is no etcd: the store is the harness's, and a call to etcd fails at once
 * (connection refused on 127.0.0.1:1), so a write is fuzzed up to the moment it
 * would reach etcd, and a v2 read (which reads etcd itself) up to there too. The
 * engine for logs is a socket that does not exist. The event stream is not fuzzed
 * here (it waits on the store's changes for as long as the client stays): inputs
 * that name it, percent-encoded or not, are skipped.
 *
 * Invariants, of the first answer on the connection (later ones answer pipelined
 * requests whose methods the harness does not parse, and after a HEAD's answer,
 * which has a length and no body, the next could not be told from a body):
 *   - it is a well-formed status line, 100..599 (after any 100 Continue); one that
 *     is not the builder's own (libmicrohttpd's refusal of what it cannot parse) is
 *     a 4xx or 5xx;
 *   - a 500 is etcd's failure (the body names the endpoint that failed), never ours;
 *   - a JSON answer is JSON (and so UTF-8);
 * and of all the bytes that come back:
 *   - from an untrusted address without a token, nothing reached etcd (writes and
 *     v2 reads need a token from there; a call to etcd fails naming its endpoint),
 *     and no manifest was read: every store holds a canary manifest with a secret
 *     in its env, which must not come back;
 *   - no token's secret is among them (one the input spells out may come back);
 *   - they end: the daemon closes the connection (it never hangs on an input). */
#include <arpa/inet.h>
#include <ctype.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "builder.h"
#include "dokkaa/log.h"
#include "dokkaa/token.h"
#include "fuzz.h"

#define FUZZ_ETCD_ADDR "127.0.0.1:1" /* refuses at once: nothing listens on port 1 */
#define FUZZ_ETCD "http://" FUZZ_ETCD_ADDR
#define FUZZ_MAX_KEYS 64
#define FUZZ_READ_LIMIT (16 * 1024 * 1024)
#define FUZZ_WAIT_MS 20000

/* Two tokens (the shape token.h makes) with their records in every store. */
static const char fuzz_admin[] = "dk_0123456789abcdef0123456789abcdef0123456789abcdef";
static const char fuzz_read[] = "dk_fedcba9876543210fedcba9876543210fedcba9876543210";

/* A manifest in every store holding a secret in its env: what the API and v2 show
 * only to the trusted and to token holders. */
#define FUZZ_CANARY "fuzz-canary-5f1e9c"
static const char fuzz_canary_key[] = "/apps/zz-canary/x/manifest";
static const char fuzz_canary_value[] =
    "{\"image\": \"dockerfile/nginx\", \"env\": {\"SECRET\": \"" FUZZ_CANARY "\"}}";

static builder fuzz_b;
static etcd_kv fuzz_token_kvs[3]; /* the two tokens' records and the canary */

static void fuzz_token_record(etcd_kv *kv, const char *token, enum keys_role role,
                              const char *name)
{
    char key[KEYS_SIZE];
    keys_token rec = {.role = role};
    token_key(token, key, sizeof key);
    token_id(key, rec.id);
    snprintf(rec.name, sizeof rec.name, "%s", name);
    snprintf(rec.created, sizeof rec.created, "2026-12-03T00:00:00Z");
    kv->key = strdup(key);
    kv->value = keys_token_encode(&rec);
    FUZZ_CHECK(kv->key && kv->value);
    kv->value_len = strlen(kv->value);
    kv->mod_revision = kv->create_revision = 1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    err_t err;
    signal(SIGPIPE, SIG_IGN);
    setenv("DOKKAA_LOG_LEVEL", "error", 0); /* refusals are warnings: thousands a second */
    log_init("fuzz_builder");
    builder *b = &fuzz_b;
    snprintf(b->etcd_endpoints, sizeof b->etcd_endpoints, "%s", FUZZ_ETCD);
    snprintf(b->host_id, sizeof b->host_id, "h1");
    snprintf(b->docker_host, sizeof b->docker_host, "unix:///nonexistent/docker.sock");
    FUZZ_CHECK(net_cidr_parse("192.168.50.0/24", &b->trusted[0], &err) == 0);
    b->ntrusted = 1;
    b->max_conns = BUILDER_MAX_CONNS;
    b->max_conns_per_ip = 0; /* every input comes from one of three addresses */
    b->header_timeout = BUILDER_HEADER_TIMEOUT;
    b->max_body = BUILDER_MAX_BODY;
    b->stream_backlog = BUILDER_STREAM_BACKLOG;
    b->history_bytes = BUILDER_HISTORY_BYTES;
    FUZZ_CHECK((b->store = store_start_fed(b->history_bytes, &err)));
    FUZZ_CHECK((b->deadline = deadline_start(b->header_timeout, &err)));
    b->plain_daemon = serve_daemon(b,
                                   MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                                       MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC,
                                   0, false);
    FUZZ_CHECK(b->plain_daemon);
    fuzz_token_record(&fuzz_token_kvs[0], fuzz_admin, KEYS_ROLE_ADMIN, "fuzz-admin");
    fuzz_token_record(&fuzz_token_kvs[1], fuzz_read, KEYS_ROLE_READ_ONLY, "fuzz-reader");
    fuzz_token_kvs[2] = (etcd_kv){.key = (char *)fuzz_canary_key,
                                  .value = (char *)fuzz_canary_value,
                                  .value_len = sizeof fuzz_canary_value - 1,
                                  .mod_revision = 1, .create_revision = 1};
    return 0;
}

static int fuzz_cmp_kv(const void *a, const void *b)
{
    return strcmp(((const etcd_kv *)a)->key, ((const etcd_kv *)b)->key);
}

/* The store part: "from X" and "<key> <value>" lines, up to the "==" line. Keys are
 * kept sorted and unique (the last of equal keys wins), as etcd gives them. */
static void fuzz_store(const char *text, size_t len, char *from)
{
    etcd_kv kv[FUZZ_MAX_KEYS + 3];
    size_t n = 0;
    kv[n++] = fuzz_token_kvs[0];
    kv[n++] = fuzz_token_kvs[1];
    kv[n++] = fuzz_token_kvs[2];
    char *own[FUZZ_MAX_KEYS * 2];
    size_t nown = 0;
    for (size_t at = 0; at < len && n < FUZZ_MAX_KEYS + 3;) {
        const char *line = text + at, *nl = memchr(line, '\n', len - at);
        size_t llen = nl ? (size_t)(nl - line) : len - at;
        at += llen + 1;
        const char *sp = memchr(line, ' ', llen);
        if (llen == 6 && memcmp(line, "from ", 5) == 0) {
            *from = line[5];
            continue;
        }
        if (!sp || sp == line || memchr(line, '\0', llen))
            continue;
        char *key = strndup(line, (size_t)(sp - line));
        char *value = strndup(sp + 1, llen - (size_t)(sp - line) - 1);
        FUZZ_CHECK(key && value);
        own[nown++] = key;
        own[nown++] = value;
        kv[n] = (etcd_kv){.key = key, .value = value, .value_len = strlen(value),
                          .mod_revision = 2 + (int64_t)n, .create_revision = 2,
                          .version = (int64_t)n};
        n++;
    }
    /* sorted; of equal keys the later line wins (the tokens come first) */
    for (size_t i = 0; i < n; i++)
        kv[i].lease = (int64_t)i;
    qsort(kv, n, sizeof *kv, fuzz_cmp_kv);
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        if (out > 0 && strcmp(kv[out - 1].key, kv[i].key) == 0) {
            if (kv[i].lease > kv[out - 1].lease)
                kv[out - 1] = kv[i];
            continue;
        }
        kv[out++] = kv[i];
    }
    for (size_t i = 0; i < out; i++)
        kv[i].lease = 0;
    etcd_kvs kvs = {.kvs = kv, .n = out, .revision = 100};
    store_feed(fuzz_b.store, &kvs); /* copies */
    for (size_t i = 0; i < nown; i++)
        free(own[i]);
}

/* Whether the o bytes of req written so far end in a header line that is exactly
 * "Authorization: Bearer ": one that follows another line of the same request (the
 * first line of a request, or one that only begins so, is a request line whose
 * path an answer may quote). */
static bool fuzz_in_authorization(const char *req, size_t o)
{
    static const char header[] = "Authorization: Bearer ";
    size_t n = sizeof header - 1;
    if (o < n + 3 || memcmp(req + o - n, header, n) != 0 || req[o - n - 1] != '\n')
        return false;
    size_t prev = o - n - 1; /* the '\n' that ends the line before */
    bool prev_empty = req[prev - 1] == '\n' || (req[prev - 1] == '\r' && req[prev - 2] == '\n');
    return !prev_empty;
}

/* raw with "Bearer $A" and "Bearer $R" of an Authorization header given the tokens: a secret goes only where
 * a client sends one (in a path or a body it would be the client's own data, which
 * an answer may well quote back). */
static char *fuzz_request(const uint8_t *raw, size_t len, size_t *out_len)
{
    char *req = malloc(len * (sizeof fuzz_admin) + 1);
    size_t o = 0;
    FUZZ_CHECK(req);
    for (size_t i = 0; i < len; i++) {
        if (raw[i] == '$' && i + 1 < len && (raw[i + 1] == 'A' || raw[i + 1] == 'R') &&
            fuzz_in_authorization(req, o)) {
            const char *t = raw[i + 1] == 'A' ? fuzz_admin : fuzz_read;
            memcpy(req + o, t, sizeof fuzz_admin - 1);
            o += sizeof fuzz_admin - 1;
            i++;
        } else {
            req[o++] = (char)raw[i];
        }
    }
    req[o] = '\0';
    *out_len = o;
    return req;
}

/* The peer's end: write req (as far as the daemon reads it), half-close, and read
 * everything back until the daemon closes. Writing and reading interleave, so that
 * a daemon answering before it has read all (a refusal) never blocks us. */
static char *fuzz_exchange(int fd, const char *req, size_t len, size_t *got)
{
    size_t cap = 64 * 1024, n = 0, sent = 0;
    char *resp = malloc(cap + 1);
    bool wrote_all = len == 0;
    FUZZ_CHECK(resp);
    if (wrote_all)
        shutdown(fd, SHUT_WR);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN | (wrote_all ? 0 : POLLOUT)};
        int ready = poll(&p, 1, FUZZ_WAIT_MS);
        if (ready == 0) {
            fprintf(stderr, "fuzz_builder: no end of the connection after %d ms\n", FUZZ_WAIT_MS);
            FUZZ_CHECK(!"the daemon hung on this input");
        }
        if (ready < 0)
            continue;
        if (!wrote_all && (p.revents & POLLOUT)) {
            ssize_t w = send(fd, req + sent, len - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0)
                sent += (size_t)w;
            if (w < 0 || sent == len) { /* the daemon closed its side: nothing more to send */
                wrote_all = true;
                shutdown(fd, SHUT_WR);
            }
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            if (n == cap) {
                FUZZ_CHECK(cap < FUZZ_READ_LIMIT);
                cap *= 2;
                FUZZ_CHECK((resp = realloc(resp, cap + 1)));
            }
            ssize_t r = recv(fd, resp + n, cap - n, MSG_DONTWAIT);
            if (r == 0 || (r < 0 && (p.revents & (POLLHUP | POLLERR)) && !(p.revents & POLLIN)))
                break;
            if (r < 0) /* ECONNRESET: the daemon dropped the connection, which is allowed */
                break;
            n += (size_t)r;
        }
    }
    resp[n] = '\0';
    *got = n;
    return resp;
}

/* The first answer in resp, checked (and what comes before it: 100 Continue), and
 * the secrets in all of resp. */
static void fuzz_check_answer(const char *input, size_t input_len, const char *resp,
                              size_t len, bool head)
{
    const char *at = resp, *end = resp + len;
    /* a secret is never told, not even to whoever sent it ($A, $R), but the input's
     * own bytes may come back (a path in a 404, a value of the store): only a secret
     * the input did not spell out would be a leak */
    static const char *const secrets[] = {fuzz_admin + 3, fuzz_read + 3};
    for (size_t i = 0; i < 2; i++)
        FUZZ_CHECK(memmem(input, input_len, secrets[i], sizeof fuzz_admin - 4) ||
                   !memmem(resp, len, secrets[i], sizeof fuzz_admin - 4));
    while (at < end) {
        unsigned status = 0;
        const char *head_end = memmem(at, (size_t)(end - at), "\r\n\r\n", 4);
        FUZZ_CHECK(end - at >= 12 && memcmp(at, "HTTP/1.", 7) == 0);
        FUZZ_CHECK(head_end != NULL);
        FUZZ_CHECK(sscanf(at + 9, "%3u", &status) == 1 && status >= 100 && status <= 599);

        /* the head's Content-Length and type */
        size_t body_len = 0;
        bool has_length = false, json = false, chunked = false, ours = false;
        for (const char *h = memchr(at, '\n', (size_t)(head_end - at)); h && h < head_end;
             h = memchr(h + 1, '\n', (size_t)(head_end - h))) {
            if (strncasecmp(h + 1, "Content-Length:", 15) == 0) {
                has_length = true;
                body_len = strtoul(h + 16, NULL, 10);
            } else if (strncasecmp(h + 1, "Content-Type: application/json", 30) == 0) {
                json = true;
            } else if (strncasecmp(h + 1, "Transfer-Encoding: chunked", 26) == 0) {
                chunked = true;
            } else if (strncasecmp(h + 1, "X-Content-Type-Options: nosniff", 31) == 0) {
                ours = true; /* every answer of reply.c and logs.c has it */
            }
        }
        if (status < 200) { /* 100 Continue: an interim answer, without a body */
            at = head_end + 4;
            continue;
        }
        if (!ours) {
            /* libmicrohttpd's own refusal of a request it could not parse, made before
             * any handler ran: a 4xx or 5xx, and nothing after it is read as another
             * answer (0.9.75 sends the head of its malformed-Content-Length 400 twice) */
            FUZZ_CHECK(status >= 400);
            break;
        }
        const char *body = head_end + 4;
        if (chunked || !has_length) /* the rest of the connection */
            body_len = (size_t)(end - body);
        /* a HEAD's answer has a length and no body: known from the request, or, when
         * libmicrohttpd read the request otherwise than the harness (bytes it skipped
         * first), from what follows: not enough bytes, or the next answer */
        if (head || body_len > (size_t)(end - body) ||
            ((size_t)(end - body) >= 7 && memcmp(body, "HTTP/1.", 7) == 0))
            body_len = 0;
        if (status == 500)
            FUZZ_CHECK(memmem(body, body_len, FUZZ_ETCD_ADDR, sizeof FUZZ_ETCD_ADDR - 1) != NULL);
        if (json && body_len > 0 && !chunked) {
            json_error_t jerr;
            json_t *j = json_loadb(body, body_len, 0, &jerr);
            if (!j)
                fprintf(stderr, "fuzz_builder: not JSON (%s): %.*s\n", jerr.text,
                        (int)(body_len < 300 ? body_len : 300), body);
            FUZZ_CHECK(j != NULL);
            json_decref(j);
        }
        /* a later answer belongs to a pipelined request whose method is not known
         * here: after a HEAD's answer (a length, no body) the next answer would be
         * read as its body. Only the first is checked. */
        break;
    }
}

/* Whether the input, percent-decoded, names the event stream, which would wait on
 * the store's changes for as long as we stay. */
static bool fuzz_names_events(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    size_t n = 0;
    FUZZ_CHECK(text);
    for (size_t i = 0; i < size; i++) {
        if (data[i] == '%' && i + 2 < size && isxdigit(data[i + 1]) && isxdigit(data[i + 2])) {
            char hex[3] = {(char)data[i + 1], (char)data[i + 2], '\0'};
            text[n++] = (char)strtoul(hex, NULL, 16);
            i += 2;
        } else {
            text[n++] = (char)data[i];
        }
    }
    bool named = memmem(text, n, "events", 6) != NULL;
    free(text);
    return named;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char sep[] = "\n==\n";
    const uint8_t *raw = data;
    size_t raw_len = size;
    char from = 'U';
    if (fuzz_names_events(data, size))
        return -1;
    const uint8_t *split = memmem(data, size, sep + 1, 3) == data ? data : NULL;
    if (!split)
        split = memmem(data, size, sep, sizeof sep - 1);
    if (split) {
        size_t store_len = split == data ? 0 : (size_t)(split - data);
        fuzz_store((const char *)data, store_len, &from);
        raw = split + (split == data ? 3 : sizeof sep - 1);
        raw_len = size - (size_t)(raw - data);
    } else {
        fuzz_store("", 0, &from);
    }
    size_t len;
    char *req = fuzz_request(raw, raw_len, &len);

    int sv[2];
    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    struct sockaddr_in addr = {.sin_family = AF_INET};
    addr.sin_addr.s_addr = htonl(from == 'L' ? 0x7f000001u : from == 'T' ? 0xc0a83207u : 0x0a090807u);
    if (MHD_add_connection(fuzz_b.plain_daemon, sv[1], (struct sockaddr *)&addr, sizeof addr) !=
        MHD_YES) {
        close(sv[0]); /* MHD closed sv[1] */
        free(req);
        return 0;
    }
    size_t got;
    char *resp = fuzz_exchange(sv[0], req, len, &got);
    close(sv[0]);

    if (getenv("FUZZ_BUILDER_PRINT")) /* to see what an input gets */
        fprintf(stderr, "--- %zu bytes sent, %zu back:\n%.*s\n", len, got, (int)got, resp);
    /* the method as libmicrohttpd gives it: after any empty lines (RFC 9112, 2.2),
     * up to the first space, and as a C string, so up to a NUL in it too
     * ("GET\0x GET /metrics" is a GET) */
    const char *method = req;
    while (method < req + len && (*method == '\r' || *method == '\n'))
        method++;
    size_t left = len - (size_t)(method - req);
    const char *sp = memchr(method, ' ', left);
    size_t mlen = strnlen(method, sp ? (size_t)(sp - method) : left);
    bool head = mlen == 4 && memcmp(method, "HEAD", 4) == 0;
    fuzz_check_answer((const char *)data, size, resp, got, head);
    /* an untrusted client without a token reaches nothing behind admission: every
     * endpoint that calls etcd (writes, v2 reads) needs a token from there, and a
     * call to etcd here fails naming its endpoint; nor does it read a manifest (the
     * canary's secret) from the store. The input's own bytes may come back quoted. */
    if (from == 'U' && !memmem(req, len, fuzz_admin, sizeof fuzz_admin - 1) &&
        !memmem(req, len, fuzz_read, sizeof fuzz_read - 1)) {
        if (memmem(resp, got, FUZZ_ETCD_ADDR, sizeof FUZZ_ETCD_ADDR - 1) &&
            !memmem(data, size, FUZZ_ETCD_ADDR, sizeof FUZZ_ETCD_ADDR - 1))
            FUZZ_CHECK(!"an untrusted request without a token reached etcd");
        if (memmem(resp, got, FUZZ_CANARY, sizeof FUZZ_CANARY - 1) &&
            !memmem(data, size, FUZZ_CANARY, sizeof FUZZ_CANARY - 1))
            FUZZ_CHECK(!"an untrusted request without a token read a manifest");
    }
    free(resp);
    free(req);
    return 0;
}
