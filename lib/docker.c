/* docker.c - Docker Engine API client over the unix socket (see docker.h).
 *
 * Every call is one HTTP request on the client's curl handle; the API version is
 * pinned in the path (/v1.41, Debian bookworm's docker.io 20.10) so that a newer
 * engine answers in the shape this file was written for. */
#include "dokkaa/docker.h"

#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dokkaa/http.h"
#include "dokkaa/names.h"
#include "docker_internal.h"

#define DOCKER_API "http://docker/v1.41"
#define DOCKER_TIMEOUT_MS 60000L

struct docker {
    http_client *http;
};

docker *docker_new(const char *host, err_t *err)
{
    if (!host)
        host = getenv("DOCKER_HOST");
    if (!host || !*host)
        host = "/var/run/docker.sock";
    if (strncmp(host, "unix://", 7) == 0)
        host += 7;
    else if (strstr(host, "://"))
        return err_set(err, ERR_INVALID, "docker host %s: only unix sockets are supported",
                       host), NULL;
    docker *d = calloc(1, sizeof *d);
    if (!d)
        return err_sys(err, "docker client"), NULL;
    if (!(d->http = http_client_new(host, err))) {
        free(d);
        return NULL;
    }
    return d;
}

void docker_free(docker *d)
{
    if (d) {
        http_client_free(d->http);
        free(d);
    }
}

/* How much of text a message quotes: at most max bytes, cut where a character ends,
 * for "%.*s" (a cut inside one made the message invalid UTF-8, which the builder
 * then fails to answer in JSON). */
static int docker_cut(const char *text, size_t max)
{
    size_t n = strlen(text);
    return (int)(n > max ? names_utf8_cut(text, max) : n);
}

/* The engine's error answers are {"message": "..."}; fall back to the raw body. */
static int docker_error(const char *method, const char *path, long status, json_t *resp,
                        const char *raw, err_t *err)
{
    const char *msg = json_string_value(json_object_get(resp, "message"));
    enum err_code code = status == 404 ? ERR_NOTFOUND : status == 409 ? ERR_CONFLICT : ERR_REMOTE;
    if (!msg)
        msg = raw;
    return err_set(err, code, "docker %s %s: %ld %.*s", method, path, status,
                   docker_cut(msg, 512), msg);
}

int docker_call(docker *d, const char *method, const char *path, json_t *body, long *status,
                json_t **resp, err_t *err)
{
    char url[2048];
    char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
    http_buf buf;
    long code;
    json_t *answer = NULL;
    int rc = -1;

    snprintf(url, sizeof url, DOCKER_API "%s", path);
    http_req req = {.method = method, .url = url, .body = payload,
                    .body_len = payload ? strlen(payload) : 0, .timeout_ms = DOCKER_TIMEOUT_MS};
    if (http_do(d->http, &req, &code, &buf, err) < 0)
        goto out;
    if (buf.len > 0)
        answer = json_loadb(buf.data, buf.len, 0, NULL);
    if (code >= 400) {
        docker_error(method, path, code, answer, buf.data, err);
        json_decref(answer);
        answer = NULL;
    } else {
        rc = 0;
    }
    http_buf_free(&buf);
    if (status)
        *status = code;
out:
    free(payload);
    if (resp)
        *resp = answer;
    else
        json_decref(answer);
    return rc;
}

/* A container's name or id goes into the path (and a new container's name into the
 * query) as it is; so it must be one the engine itself could have made. Names can
 * come from etcd (a /status record names the container whose log the builder
 * streams), and whoever can write etcd must not be able to point a request at
 * another Engine endpoint ("../../images/json", "x?all=1", "x#"). Docker's own rule
 * for names, [a-zA-Z0-9][a-zA-Z0-9_.-]*, admits ids (hex) too and none of '/', '?',
 * '#', '%', '&', '=' or a space; its first character excludes "." and "..". */
int docker_check_name(const char *what, const char *name, err_t *err)
{
    size_t n = name ? strlen(name) : 0;
    bool ok = n > 0 && n <= DOCKER_NAME_MAX &&
              strspn(name, DOCKER_NAME_FIRST) >= 1 && strspn(name + 1, DOCKER_NAME_CHARS) == n - 1;
    if (ok)
        return 0;
    char quoted[128];
    names_quote(name ? name : "", n, quoted, sizeof quoted);
    return err_set(err, ERR_INVALID,
                   "docker: %s %s: must match [a-zA-Z0-9][a-zA-Z0-9_.-]* (at most %d characters)",
                   what, quoted, DOCKER_NAME_MAX);
}

/* Image references carry '/' and ':', which the engine wants unescaped in its
 * /images/ paths; manifest.c has checked them against Docker's grammar. */
int docker_container_create(docker *d, const char *name, json_t *config, char **id, err_t *err)
{
    char path[512];
    json_t *resp;
    if (docker_check_name("container name", name, err) < 0)
        return -1;
    snprintf(path, sizeof path, "/containers/create?name=%s", name);
    if (docker_call(d, "POST", path, config, NULL, &resp, err) < 0)
        return -1;
    const char *cid = json_string_value(json_object_get(resp, "Id"));
    *id = cid ? strdup(cid) : NULL;
    json_decref(resp);
    if (!*id)
        return err_set(err, ERR_REMOTE, "docker create %s: no Id in the answer", name);
    return 0;
}

int docker_container_start(docker *d, const char *id, err_t *err)
{
    if (docker_check_name("container", id, err) < 0)
        return -1;
    char path[512];
    snprintf(path, sizeof path, "/containers/%s/start", id);
    return docker_call(d, "POST", path, NULL, NULL, NULL, err); /* 304: already running */
}

int docker_container_stop(docker *d, const char *id, int timeout_seconds, err_t *err)
{
    if (docker_check_name("container", id, err) < 0)
        return -1;
    char path[512];
    snprintf(path, sizeof path, "/containers/%s/stop?t=%d", id, timeout_seconds);
    return docker_call(d, "POST", path, NULL, NULL, NULL, err);
}

int docker_container_remove(docker *d, const char *id, err_t *err)
{
    if (docker_check_name("container", id, err) < 0)
        return -1;
    char path[512];
    err_t e;
    snprintf(path, sizeof path, "/containers/%s?force=1&v=1", id);
    if (docker_call(d, "DELETE", path, NULL, NULL, NULL, &e) == 0 || e.code == ERR_NOTFOUND)
        return 0;
    if (err)
        *err = e;
    return -1;
}

int docker_container_rename(docker *d, const char *id, const char *name, err_t *err)
{
    if (docker_check_name("container", id, err) < 0)
        return -1;
    if (docker_check_name("container name", name, err) < 0)
        return -1;
    char path[512], *escaped = http_escape(name);
    if (!escaped)
        return err_set(err, ERR_SYS, "docker rename: out of memory");
    snprintf(path, sizeof path, "/containers/%s/rename?name=%s", id, escaped);
    free(escaped);
    return docker_call(d, "POST", path, NULL, NULL, NULL, err);
}

int docker_container_restart_policy(docker *d, const char *id, const char *policy, err_t *err)
{
    if (docker_check_name("container", id, err) < 0)
        return -1;
    char path[512];
    json_t *body = json_pack("{s:{s:s}}", "RestartPolicy", "Name", policy);
    snprintf(path, sizeof path, "/containers/%s/update", id);
    int rc = body ? docker_call(d, "POST", path, body, NULL, NULL, err)
                  : err_set(err, ERR_SYS, "docker update: out of memory");
    json_decref(body);
    return rc;
}

/* Create the exec, start it detached, then poll its state: the attached form would
 * hold a hijacked stream open, which the HTTP client here does not speak. */
int docker_exec(docker *d, const char *id, char *const *argv, int timeout_ms, int *exit_code,
                err_t *err)
{
    if (docker_check_name("container", id, err) < 0)
        return -1;
    char path[512];
    json_t *cmd = json_array(), *created = NULL, *info = NULL, *start = NULL, *body = NULL;
    int rc = -1;
    for (size_t i = 0; cmd && argv[i]; i++)
        json_array_append_new(cmd, json_string(argv[i]));
    body = cmd ? json_pack("{s:o,s:b,s:b}", "Cmd", cmd, "AttachStdout", 0, "AttachStderr", 0)
               : NULL;
    start = json_pack("{s:b}", "Detach", 1);
    if (!body || !start) {
        err_set(err, ERR_SYS, "docker exec: out of memory");
        goto out;
    }
    snprintf(path, sizeof path, "/containers/%s/exec", id);
    if (docker_call(d, "POST", path, body, NULL, &created, err) < 0)
        goto out;
    const char *exec = json_string_value(json_object_get(created, "Id"));
    if (!exec) {
        err_set(err, ERR_REMOTE, "docker exec: the engine gave no exec id");
        goto out;
    }
    if (docker_check_name("exec id", exec, err) < 0)
        goto out;
    snprintf(path, sizeof path, "/exec/%s/start", exec);
    if (docker_call(d, "POST", path, start, NULL, NULL, err) < 0)
        goto out;
    snprintf(path, sizeof path, "/exec/%s/json", exec);
    for (int waited = 0;; waited += 20) {
        json_decref(info);
        info = NULL;
        if (docker_call(d, "GET", path, NULL, NULL, &info, err) < 0)
            goto out;
        if (!json_is_true(json_object_get(info, "Running")) &&
            json_is_integer(json_object_get(info, "ExitCode"))) {
            *exit_code = (int)json_integer_value(json_object_get(info, "ExitCode"));
            rc = 0;
            goto out;
        }
        if (waited >= timeout_ms) {
            err_set(err, ERR_UNAVAIL, "still running after %d ms", timeout_ms);
            goto out;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
out:
    json_decref(body);
    json_decref(start);
    json_decref(created);
    json_decref(info);
    return rc;
}

int docker_container_inspect(docker *d, const char *id, json_t **out, err_t *err)
{
    if (docker_check_name("container", id, err) < 0)
        return -1;
    char path[512];
    snprintf(path, sizeof path, "/containers/%s/json", id);
    return docker_call(d, "GET", path, NULL, NULL, out, err);
}

int docker_container_list(docker *d, const char *label, json_t **out, err_t *err)
{
    char path[1024], *filters, *escaped;
    json_t *f = json_pack("{s:[s]}", "label", label);
    filters = json_dumps(f, JSON_COMPACT);
    json_decref(f);
    escaped = filters ? http_escape(filters) : NULL;
    free(filters);
    if (!escaped)
        return err_set(err, ERR_SYS, "docker list: out of memory");
    snprintf(path, sizeof path, "/containers/json?all=1&filters=%s", escaped);
    free(escaped);
    if (docker_call(d, "GET", path, NULL, NULL, out, err) < 0)
        return -1;
    if (!json_is_array(*out)) {
        json_decref(*out);
        *out = NULL;
        return err_set(err, ERR_REMOTE, "docker list: the answer is not an array");
    }
    return 0;
}

int docker_image_present(docker *d, const char *image, bool *present, err_t *err)
{
    char path[512];
    err_t e;
    snprintf(path, sizeof path, "/images/%s/json", image);
    if (docker_call(d, "GET", path, NULL, NULL, NULL, &e) == 0) {
        *present = true;
        return 0;
    }
    if (e.code == ERR_NOTFOUND) {
        *present = false;
        return 0;
    }
    if (err)
        *err = e;
    return -1;
}

/* A pull answers 200 at once and reports progress, and failure, in its stream of
 * JSON lines: an {"error": ...} line anywhere means the pull failed. */
static int docker_pull(docker *d, const char *image, err_t *err)
{
    char path[1024], *escaped;
    http_buf buf;
    long code;
    if (!(escaped = http_escape(image)))
        return err_set(err, ERR_SYS, "docker pull: out of memory");
    /* Without a tag the engine pulls every tag of the repository; the CLI's
     * default is :latest, and so is ours. */
    const char *last = strrchr(image, '/');
    bool tagged = strchr(last ? last : image, ':') || strchr(image, '@');
    snprintf(path, sizeof path, DOCKER_API "/images/create?fromImage=%s%s", escaped,
             tagged ? "" : "&tag=latest");
    free(escaped);
    http_req req = {.method = "POST", .url = path, .timeout_ms = 600000L};
    if (http_do(d->http, &req, &code, &buf, err) < 0)
        return err_prefix(err, "docker pull %s", image);
    const char *failed = strstr(buf.data, "\"error\"");
    int rc = 0;
    if (code >= 400 || failed) {
        const char *text = failed ? failed : buf.data;
        rc = err_set(err, code == 404 ? ERR_NOTFOUND : ERR_REMOTE, "docker pull %s: %.*s", image,
                     docker_cut(text, 300), text);
    }
    http_buf_free(&buf);
    return rc;
}

/* Does the reference name a registry host ("10.88.0.1:5000/x", "quay.io/x")? As in
 * Docker: a first component with a '.' or ':', or "localhost". */
static bool docker_has_registry(const char *image)
{
    const char *slash = strchr(image, '/');
    if (!slash)
        return false;
    size_t len = (size_t)(slash - image);
    return memchr(image, '.', len) || memchr(image, ':', len) ||
           (len == 9 && strncmp(image, "localhost", 9) == 0);
}

/* Give image the extra name target ("repo[:tag]"; the tag is what follows the
 * last ':' after the last '/', "latest" by default). Names go unescaped in the
 * path, where the engine expects their '/'. */
static int docker_tag(docker *d, const char *image, const char *target, err_t *err)
{
    char path[1200], *repo;
    const char *slash = strrchr(target, '/'), *colon = strrchr(target, ':'), *tag = "latest";
    size_t rlen = strlen(target);
    if (colon && (!slash || colon > slash)) {
        tag = colon + 1;
        rlen = (size_t)(colon - target);
    }
    char *name = strndup(target, rlen);
    repo = name ? http_escape(name) : NULL;
    free(name);
    if (!repo)
        return err_set(err, ERR_SYS, "docker tag: out of memory");
    snprintf(path, sizeof path, "/images/%s/tag?repo=%s&tag=%s", image, repo, tag);
    free(repo);
    return docker_call(d, "POST", path, NULL, NULL, NULL, err);
}

int docker_image_ensure(docker *d, const char *image, const char *registry, err_t *err)
{
    bool present;
    char remote[600];
    if (docker_image_present(d, image, &present, err) < 0)
        return -1;
    if (present)
        return 0;
    if (!registry || !*registry || docker_has_registry(image))
        return docker_pull(d, image, err);
    snprintf(remote, sizeof remote, "%s/%s", registry, image);
    if (docker_pull(d, remote, err) < 0 || docker_tag(d, remote, image, err) < 0)
        return -1;
    return 0;
}

int docker_network_gateway(docker *d, const char *network, char **gateway, err_t *err)
{
    if (docker_check_name("network", network, err) < 0)
        return -1;
    char path[512];
    json_t *resp, *config;
    size_t i;
    snprintf(path, sizeof path, "/networks/%s", network);
    if (docker_call(d, "GET", path, NULL, NULL, &resp, err) < 0)
        return -1;
    *gateway = NULL;
    /* An engine started without --bip lists only the Subnet (Debian's docker.io
     * does): the bridge then takes the subnet's first address. */
    json_array_foreach(json_object_get(json_object_get(resp, "IPAM"), "Config"), i, config) {
        const char *gw = json_string_value(json_object_get(config, "Gateway"));
        const char *subnet = json_string_value(json_object_get(config, "Subnet"));
        struct in_addr net;
        char addr[INET_ADDRSTRLEN], first[INET_ADDRSTRLEN];
        if (gw && !strchr(gw, ':')) { /* the IPv4 one */
            *gateway = strdup(gw);
            break;
        }
        if (!gw && subnet && sscanf(subnet, "%15[0-9.]/", addr) == 1 &&
            inet_pton(AF_INET, addr, &net) == 1) {
            net.s_addr = htonl(ntohl(net.s_addr) + 1);
            *gateway = strdup(inet_ntop(AF_INET, &net, first, sizeof first));
            break;
        }
    }
    json_decref(resp);
    if (!*gateway)
        return err_set(err, ERR_REMOTE, "docker network %s: no IPv4 gateway", network);
    return 0;
}

/* The events stream: see docker_internal.h for the splitter's state. */
bool docker_events_chunk(void *ud, const char *data, size_t len)
{
    struct docker_events_state *st = ud;
    if (st->len + len > DOCKER_EVENT_MAX)
        return false; /* ends this stream; the caller reconnects */
    char *grown = realloc(st->pending, st->len + len + 1);
    if (!grown)
        return false;
    st->pending = grown;
    memcpy(st->pending + st->len, data, len);
    st->len += len;
    st->pending[st->len] = '\0';

    char *line = st->pending, *nl;
    bool go_on = true;
    while (go_on && (nl = memchr(line, '\n', st->len - (size_t)(line - st->pending)))) {
        json_t *event = json_loadb(line, (size_t)(nl - line), 0, NULL);
        if (event)
            go_on = st->fn(st->ud, event);
        json_decref(event);
        line = nl + 1;
    }
    st->len -= (size_t)(line - st->pending);
    memmove(st->pending, line, st->len + 1);
    return go_on;
}

int docker_events(docker *d, json_t *filters, docker_event_fn fn, void *ud,
                  const atomic_bool *stop, err_t *err)
{
    return docker_events_since(d, filters, NULL, fn, ud, stop, err);
}

int docker_events_since(docker *d, json_t *filters, const char *since, docker_event_fn fn,
                        void *ud, const atomic_bool *stop, err_t *err)
{
    char url[2048] = DOCKER_API "/events?";
    struct docker_events_state st = {.fn = fn, .ud = ud};
    long code;
    if (since) /* a number we formatted: nothing to escape */
        snprintf(url + strlen(url), sizeof url - strlen(url), "since=%s&", since);
    if (filters) {
        char *dumped = json_dumps(filters, JSON_COMPACT);
        char *escaped = dumped ? http_escape(dumped) : NULL;
        free(dumped);
        if (!escaped)
            return err_set(err, ERR_SYS, "docker events: out of memory");
        snprintf(url + strlen(url), sizeof url - strlen(url), "filters=%s", escaped);
        free(escaped);
    }
    http_req req = {.method = "GET", .url = url};
    int rc = http_stream(d->http, &req, docker_events_chunk, &st, stop, &code, err);
    free(st.pending);
    if (rc == 0 && code >= 400)
        rc = err_set(err, ERR_REMOTE, "docker events: HTTP %ld", code);
    return rc;
}

void docker_demux_init(docker_demux *dm)
{
    *dm = (docker_demux){0};
}

bool docker_demux_at_boundary(const docker_demux *dm)
{
    return !dm->broken && dm->have == 0 && dm->left == 0;
}

/* A header is the stream (0..3), three zero bytes and the size: anything else means
 * the bytes are not frames at all (a TTY's raw output, an error page), and reading
 * a size out of them would swallow or invent output. */
static int docker_demux_header(docker_demux *dm, err_t *err)
{
    const unsigned char *h = dm->header;
    dm->have = 0;
    if (h[0] > DOCKER_SYSERR || h[1] || h[2] || h[3]) {
        dm->broken = true;
        return err_set(err, ERR_REMOTE,
                       "docker logs: not a stream frame header: %02x %02x %02x %02x %02x %02x "
                       "%02x %02x", h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]);
    }
    dm->stream = (enum docker_stream)h[0];
    dm->left = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | h[7];
    return 0;
}

int docker_demux_feed(docker_demux *dm, const char *data, size_t len, docker_log_fn fn, void *ud,
                      err_t *err)
{
    if (dm->broken)
        return err_set(err, ERR_REMOTE, "docker logs: the stream is not in frames");
    while (len > 0) {
        if (dm->left == 0) { /* in a header: gather its 8 bytes, whatever the cuts */
            size_t take = sizeof dm->header - dm->have < len ? sizeof dm->header - dm->have : len;
            memcpy(dm->header + dm->have, data, take);
            dm->have += take;
            data += take;
            len -= take;
            if (dm->have == sizeof dm->header && docker_demux_header(dm, err) < 0)
                return -1;
            continue;
        }
        size_t take = dm->left < len ? dm->left : len;
        dm->left -= (uint32_t)take;
        if (!fn(ud, dm->stream, data, take))
            return 1;
        data += take;
        len -= take;
    }
    return 0;
}

/* What a logs stream needs besides the caller's fn: the demultiplexer, the first
 * bytes of the answer (for the message if it turns out to be an error), and what
 * the engine reported on its own error stream. */
struct docker_logs_state {
    docker_log_fn fn;
    void *ud;
    bool tty;
    docker_demux demux;
    err_t demux_err;
    bool failed;       /* the bytes were not frames */
    char head[512];
    size_t head_len;
    char syserr[512];
    size_t syserr_len;
};

static bool docker_logs_frame(void *ud, enum docker_stream stream, const char *data, size_t len)
{
    struct docker_logs_state *st = ud;
    if (stream != DOCKER_SYSERR)
        return st->fn(st->ud, stream, data, len);
    size_t room = sizeof st->syserr - 1 - st->syserr_len;
    memcpy(st->syserr + st->syserr_len, data, len < room ? len : room);
    st->syserr_len += len < room ? len : room;
    return true;
}

static bool docker_logs_chunk(void *ud, const char *data, size_t len)
{
    struct docker_logs_state *st = ud;
    size_t room = sizeof st->head - 1 - st->head_len;
    memcpy(st->head + st->head_len, data, len < room ? len : room);
    st->head_len += len < room ? len : room;
    if (st->tty)
        return st->fn(st->ud, DOCKER_STDOUT, data, len);
    int rc = docker_demux_feed(&st->demux, data, len, docker_logs_frame, st, &st->demux_err);
    st->failed = rc < 0;
    return rc == 0;
}

/* Config.Tty decides the framing; the inspect also tells a missing container
 * precisely (404) before any stream starts. */
static int docker_logs_tty(docker *d, const char *container, bool *tty, err_t *err)
{
    json_t *info;
    if (docker_container_inspect(d, container, &info, err) < 0)
        return -1;
    *tty = json_is_true(json_object_get(json_object_get(info, "Config"), "Tty"));
    json_decref(info);
    return 0;
}

/* After the stream: the engine's error answer (the container went between the
 * inspect and the logs call), bytes that were not frames, or the engine's own
 * error stream, in that order of precision. */
static int docker_logs_outcome(struct docker_logs_state *st, const char *path, long code,
                               err_t *err)
{
    if (code >= 400) {
        json_t *answer = json_loadb(st->head, st->head_len, 0, NULL);
        docker_error("GET", path, code, answer, st->head, err);
        json_decref(answer);
        return -1;
    }
    if (st->failed) {
        if (err)
            *err = st->demux_err;
        return -1;
    }
    if (st->syserr_len)
        return err_set(err, ERR_REMOTE, "docker logs: %s", st->syserr);
    return 0;
}

int docker_container_logs(docker *d, const char *container, bool follow, int tail,
                          docker_log_fn fn, void *ud, const atomic_bool *stop, err_t *err)
{
    char path[512], url[600], lines[16] = "all";
    struct docker_logs_state st = {.fn = fn, .ud = ud};
    long code;

    if (docker_check_name("container", container, err) < 0 ||
        docker_logs_tty(d, container, &st.tty, err) < 0)
        return -1;
    if (tail >= 0)
        snprintf(lines, sizeof lines, "%d", tail);
    snprintf(path, sizeof path, "/containers/%s/logs?stdout=1&stderr=1&follow=%d&tail=%s",
             container, follow ? 1 : 0, lines);
    snprintf(url, sizeof url, DOCKER_API "%s", path);
    http_req req = {.method = "GET", .url = url};
    if (http_stream(d->http, &req, docker_logs_chunk, &st, stop, &code, err) < 0)
        return err_prefix(err, "docker logs %s", container);
    return docker_logs_outcome(&st, path, code, err);
}
