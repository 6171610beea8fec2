/* simengine.c - dokkaa-simengine: a SIMULATION of the Docker Engine API, for
 * bench/scale.sh only (issue 13, item 5). It is no part of Dokkaa: never installed,
 * never used by the tests of the real engine path, which stay on real engines.
 *
 *   dokkaa-simengine --socket PATH [--ports A-B] [--gateway ADDR]
 *
 * It serves, on a unix socket, the subset of the Engine API (v1.41 shapes; any
 * /vX.Y prefix or none) that lib/docker.c calls, so that many conductors can run on
 * one machine against engines that cost almost nothing. Containers are records in
 * memory: nothing runs, nothing listens, no image is ever fetched.
 *
 * Implemented:
 *   GET  /_ping, /version
 *   POST /containers/create?name=N     the body is kept as the container's config;
 *                                      409 for a taken name, 404 for an image not held
 *   GET  /containers/json?all=&filters= label, name, id, status filters
 *   GET  /containers/ID/json           inspect: State, Config, HostConfig,
 *                                      NetworkSettings.Ports
 *   POST /containers/ID/start          publishes PortBindings: HostPort "" or "0"
 *                                      gets the next port of --ports (default
 *                                      32768-60999), never one a running container
 *                                      of this engine holds; 304 if running
 *   POST /containers/ID/stop, /kill    exited (stop: code 0, kill: 137); 304 if not
 *                                      running
 *   DELETE /containers/ID?force=       409 for a running one without force
 *   POST /containers/ID/rename?name=, /update (RestartPolicy only)
 *   GET  /containers/ID/logs           an empty log (no frames), also with follow
 *   POST /containers/ID/exec, /exec/ID/start; GET /exec/ID/json: every exec has
 *                                      "run" and exited 0 (no record is kept: any
 *                                      exec id answers so)
 *   GET  /images/NAME/json, POST /images/create?fromImage=&tag= (adds the image at
 *        once), POST /images/NAME/tag?repo=&tag=
 *   GET  /networks/bridge              IPAM with --gateway (default 172.17.0.1)
 *   GET  /events?since=&filters=       chunked JSON lines: create, start, kill, die,
 *                                      stop, rename, destroy, with the v1.41 fields
 *                                      (Type, Action, Actor.ID, Actor.Attributes =
 *                                      labels + image + name, time, timeNano, and the
 *                                      old status/id/from); type, event, label,
 *                                      container filters; since replays the last
 *                                      SIM_EVENTS events. Unlike a real engine, an
 *                                      idle stream gets an empty line every
 *                                      SIM_KEEPALIVE_S seconds, so that the thread
 *                                      serving it notices a client gone.
 *
 * Not implemented (404 "page not found"): everything else, e.g. attach, archive,
 * volumes, networks other than bridge, /info, builds. Not simulated: processes
 * (State.Pid is 0: the conductor then skips draining connections), restart
 * policies (nothing crashes, and the engine's restart loses every record), health
 * of the processes (an exec "succeeds"; HTTP or TCP checks find nothing listening),
 * logs, resource limits, pulls that fail. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define SIM_EVENTS 4096        /* events kept for since= and for slow readers */
#define SIM_KEEPALIVE_S 5
#define SIM_BODY_MAX (1024 * 1024)
#define SIM_NAME_FIRST "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

typedef struct sim_container {
    char id[65];
    char *name;         /* without Docker's leading '/' */
    json_t *config;     /* the create body */
    json_t *ports;      /* "80/tcp": [{"HostIp", "HostPort"}], while running */
    const char *state;  /* "created", "running", "exited" */
    int exit_code;
    long long created;  /* Unix seconds */
    char created_at[48], started[48], finished[48];
} sim_container;

typedef struct sim_event {
    unsigned long long seq;
    long long nano;
    json_t *event;
} sim_event;

/* One engine: everything under mu; cond tells the event streams of new events. */
static struct sim {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    sim_container **c;
    size_t n, cap;
    json_t *images;                /* the names held, as keys ("x/y:latest") */
    sim_event ring[SIM_EVENTS];
    unsigned long long next_seq;   /* the seq of the next event */
    int port_lo, port_hi, port_next;
    bool wrapped;                  /* port_next went round: check what is taken */
    const char *gateway;
    bool stopping;
} sim = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER,
         .port_lo = 32768, .port_hi = 60999, .port_next = 32768, .gateway = "172.17.0.1"};

/* A request's body, gathered over the calls of MHD's handler. */
typedef struct sim_request {
    char *body;
    size_t len;
    bool too_big;
} sim_request;

/* An /events reader: what it asked for and what is still to send of one line. */
typedef struct sim_stream {
    json_t *filters;
    unsigned long long seq;
    char *out;
    size_t len, off;
} sim_stream;

/* ---- answers ----------------------------------------------------------------------- */

static enum MHD_Result sim_send(struct MHD_Connection *conn, unsigned status, char *text,
                                const char *type)
{
    struct MHD_Response *r = text ? MHD_create_response_from_buffer(strlen(text), text,
                                                                    MHD_RESPMEM_MUST_FREE)
                                  : MHD_create_response_from_buffer(0, NULL,
                                                                    MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    if (type)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, "Api-Version", "1.41");
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* status with body as JSON (stolen; NULL: no body). */
static enum MHD_Result sim_json(struct MHD_Connection *conn, unsigned status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    return sim_send(conn, status, text, text ? "application/json" : NULL);
}

/* Docker's error answer: {"message": "..."}. */
static enum MHD_Result sim_error(struct MHD_Connection *conn, unsigned status, const char *fmt,
                                 ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sim_json(conn, status, json_pack("{s:s}", "message", msg));
}

static const char *sim_arg(struct MHD_Connection *conn, const char *key)
{
    return MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, key);
}

/* A string member of o, or "". */
static const char *sim_str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static bool sim_true(const char *v)
{
    return v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || strcmp(v, "True") == 0);
}

/* ---- records ----------------------------------------------------------------------- */

static void sim_time(char *buf, size_t size, long long *nano)
{
    struct timespec ts;
    struct tm tm;
    char day[32];
    clock_gettime(CLOCK_REALTIME, &ts);
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", gmtime_r(&ts.tv_sec, &tm));
    snprintf(buf, size, "%s.%09ldZ", day, ts.tv_nsec);
    if (nano)
        *nano = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Docker's rule for names: [a-zA-Z0-9][a-zA-Z0-9_.-]+ (one character is allowed). */
static bool sim_name_ok(const char *name)
{
    size_t n = strlen(name);
    return n > 0 && n <= 255 && strspn(name, SIM_NAME_FIRST) >= 1 &&
           strspn(name + 1, SIM_NAME_FIRST "_.-") == n - 1;
}

/* By full id, name ("/name" too), or an id prefix that only one id has. */
static sim_container *sim_find(const char *ref)
{
    sim_container *prefix = NULL;
    size_t len = strlen(ref), matches = 0;
    if (*ref == '/')
        ref++, len--;
    for (size_t i = 0; i < sim.n; i++) {
        if (strcmp(sim.c[i]->id, ref) == 0 || strcmp(sim.c[i]->name, ref) == 0)
            return sim.c[i];
        if (len > 0 && strncmp(sim.c[i]->id, ref, len) == 0)
            prefix = sim.c[i], matches++;
    }
    return matches == 1 ? prefix : NULL;
}

static void sim_free_container(sim_container *c)
{
    if (c) {
        free(c->name);
        json_decref(c->config);
        json_decref(c->ports);
        free(c);
    }
}

/* "x/y" -> "x/y:latest" (tag, when given, in place of latest); a name with a tag or a
 * digest stays as it is. False when it does not fit. */
static bool sim_image_ref(const char *name, const char *tag, char *out, size_t size)
{
    const char *slash = strrchr(name, '/');
    int n = strchr(name, '@') || strchr(slash ? slash : name, ':')
                ? snprintf(out, size, "%s", name)
                : snprintf(out, size, "%s:%s", name, tag && *tag ? tag : "latest");
    return n >= 0 && (size_t)n < size;
}

static bool sim_image_held(const char *name)
{
    char ref[1024];
    return sim_image_ref(name, NULL, ref, sizeof ref) && json_object_get(sim.images, ref);
}

/* ---- events ------------------------------------------------------------------------ */

/* Record action on c (under mu) and wake the streams; extra (stolen, may be NULL)
 * adds attributes ("exitCode"). */
static void sim_emit(const sim_container *c, const char *action, json_t *extra)
{
    char stamp[48];
    long long nano;
    json_t *attrs = json_deep_copy(json_object_get(c->config, "Labels"));
    if (!json_is_object(attrs)) {
        json_decref(attrs);
        attrs = json_object();
    }
    json_object_set_new(attrs, "image", json_string(json_string_value(
                                            json_object_get(c->config, "Image"))));
    json_object_set_new(attrs, "name", json_string(c->name));
    if (extra)
        json_object_update(attrs, extra);
    json_decref(extra);
    sim_time(stamp, sizeof stamp, &nano);
    json_t *event = json_pack("{s:s,s:s,s:s,s:s,s:s,s:{s:s,s:o},s:s,s:I,s:I}", "status", action,
                              "id", c->id, "from",
                              json_string_value(json_object_get(c->config, "Image")),
                              "Type", "container", "Action", action, "Actor", "ID", c->id,
                              "Attributes", attrs, "scope", "local", "time",
                              (json_int_t)(nano / 1000000000LL), "timeNano", (json_int_t)nano);
    if (!event)
        return; /* out of memory: the readers resync on their own */
    sim_event *slot = &sim.ring[sim.next_seq % SIM_EVENTS];
    json_decref(slot->event);
    *slot = (sim_event){.seq = sim.next_seq++, .nano = nano, .event = event};
    pthread_cond_broadcast(&sim.cond);
}

/* The values of one filter: ["a", "b"], or the older {"a": true}. */
static bool sim_filter_has(json_t *values, bool (*ok)(const char *v, const void *ud),
                           const void *ud)
{
    size_t i;
    const char *key;
    json_t *v;
    if (json_is_array(values)) {
        json_array_foreach(values, i, v)
            if (json_is_string(v) && ok(json_string_value(v), ud))
                return true;
    } else {
        json_object_foreach(values, key, v)
            if (ok(key, ud))
                return true;
    }
    return false;
}

static bool sim_eq(const char *v, const void *ud) { return strcmp(v, ud) == 0; }
static bool sim_sub(const char *v, const void *ud) { return strstr(ud, v) != NULL; }
static bool sim_prefix(const char *v, const void *ud) { return strncmp(ud, v, strlen(v)) == 0; }

static bool sim_label(const char *v, const void *ud)
{
    const char *eq = strchr(v, '=');
    char key[512];
    if (!eq)
        return json_object_get((json_t *)ud, v) != NULL;
    snprintf(key, sizeof key, "%.*s", (int)(eq - v), v);
    const char *have = json_string_value(json_object_get((json_t *)ud, key));
    return have && strcmp(have, eq + 1) == 0;
}

/* Does an object pass every filter? Fields not given (NULL) do not pass the filters
 * on them; a filter this file does not know passes nothing. */
typedef struct sim_subject {
    const char *type, *action, *id, *name, *status;
    json_t *labels;
} sim_subject;

static bool sim_passes(json_t *filters, const sim_subject *s)
{
    const char *key;
    json_t *values;
    json_object_foreach(filters, key, values) {
        bool ok = strcmp(key, "label") == 0 ? sim_filter_has(values, sim_label, s->labels)
                  : strcmp(key, "type") == 0 && s->type ? sim_filter_has(values, sim_eq, s->type)
                  : strcmp(key, "event") == 0 && s->action
                      ? sim_filter_has(values, sim_eq, s->action)
                  : strcmp(key, "status") == 0 && s->status
                      ? sim_filter_has(values, sim_eq, s->status)
                  : strcmp(key, "name") == 0 ? sim_filter_has(values, sim_sub, s->name)
                  : strcmp(key, "id") == 0 ? sim_filter_has(values, sim_prefix, s->id)
                  : strcmp(key, "container") == 0 ? sim_filter_has(values, sim_eq, s->id) ||
                                                        sim_filter_has(values, sim_eq, s->name)
                                                  : false;
        if (!ok)
            return false;
    }
    return true;
}

/* The filters= argument, or an empty object; NULL when it is not JSON. */
static json_t *sim_filters(struct MHD_Connection *conn)
{
    const char *text = sim_arg(conn, "filters");
    json_t *f = text && *text ? json_loads(text, 0, NULL) : json_object();
    if (f && !json_is_object(f)) {
        json_decref(f);
        return NULL;
    }
    return f;
}

/* The next line for s (under mu): an event that passes its filters, or, after
 * SIM_KEEPALIVE_S seconds without one, an empty line. False when stopping. */
static bool sim_stream_next(sim_stream *s)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += SIM_KEEPALIVE_S;
    while (!sim.stopping) {
        if (sim.next_seq > SIM_EVENTS && s->seq < sim.next_seq - SIM_EVENTS)
            s->seq = sim.next_seq - SIM_EVENTS; /* fell behind: the oldest kept */
        for (; s->seq < sim.next_seq; s->seq++) {
            json_t *e = sim.ring[s->seq % SIM_EVENTS].event, *actor = json_object_get(e, "Actor");
            json_t *attrs = json_object_get(actor, "Attributes");
            sim_subject subj = {.type = json_string_value(json_object_get(e, "Type")),
                                .action = json_string_value(json_object_get(e, "Action")),
                                .id = json_string_value(json_object_get(actor, "ID")),
                                .name = json_string_value(json_object_get(attrs, "name")),
                                .labels = attrs};
            if (sim_passes(s->filters, &subj) && (s->out = json_dumps(e, JSON_COMPACT))) {
                s->seq++;
                goto line;
            }
        }
        if (pthread_cond_timedwait(&sim.cond, &sim.mu, &until) == ETIMEDOUT) {
            s->out = strdup("");
            goto line;
        }
    }
    return false;
line:
    if (!s->out)
        return false;
    s->len = strlen(s->out);
    s->out[s->len++] = '\n'; /* over the terminator: out is sent by length */
    s->off = 0;
    return true;
}

static ssize_t sim_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    sim_stream *s = cls;
    (void)pos;
    if (s->off == s->len) {
        free(s->out);
        s->out = NULL;
        s->len = s->off = 0;
        pthread_mutex_lock(&sim.mu);
        bool more = sim_stream_next(s);
        pthread_mutex_unlock(&sim.mu);
        if (!more)
            return MHD_CONTENT_READER_END_OF_STREAM;
    }
    size_t n = s->len - s->off < max ? s->len - s->off : max;
    memcpy(buf, s->out + s->off, n);
    s->off += n;
    return (ssize_t)n;
}

static void sim_stream_free(void *cls)
{
    sim_stream *s = cls;
    json_decref(s->filters);
    free(s->out);
    free(s);
}

static enum MHD_Result sim_events(struct MHD_Connection *conn)
{
    const char *since = sim_arg(conn, "since");
    sim_stream *s = calloc(1, sizeof *s);
    struct MHD_Response *r = NULL;
    if (!s)
        return MHD_NO;
    if (!(s->filters = sim_filters(conn))) {
        free(s);
        return sim_error(conn, 400, "invalid filter: not a JSON object");
    }
    pthread_mutex_lock(&sim.mu);
    s->seq = sim.next_seq;
    if (since) { /* seconds, maybe with a fraction: replay what we still hold */
        long long from = (long long)(strtod(since, NULL) * 1e9);
        unsigned long long first = sim.next_seq > SIM_EVENTS ? sim.next_seq - SIM_EVENTS : 0;
        for (s->seq = first; s->seq < sim.next_seq; s->seq++)
            if (sim.ring[s->seq % SIM_EVENTS].nano >= from)
                break;
    }
    pthread_mutex_unlock(&sim.mu);
    r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sim_stream_read, s,
                                          sim_stream_free);
    if (!r) {
        sim_stream_free(s);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result rc = MHD_queue_response(conn, 200, r);
    MHD_destroy_response(r);
    return rc;
}

/* ---- containers -------------------------------------------------------------------- */

static bool sim_port_taken(int port)
{
    const char *key;
    json_t *list, *b;
    size_t i, k;
    for (i = 0; i < sim.n; i++)
        json_object_foreach(sim.c[i]->ports, key, list)
            json_array_foreach(list, k, b)
                if (atoi(sim_str(b, "HostPort")) == port)
                    return true;
    return false;
}

/* The next free port of the range, or 0. */
static int sim_port(void)
{
    for (int tries = sim.port_hi - sim.port_lo + 1; tries > 0; tries--) {
        int port = sim.port_next;
        if (++sim.port_next > sim.port_hi) {
            sim.port_next = sim.port_lo;
            sim.wrapped = true;
        }
        if (!sim.wrapped || !sim_port_taken(port))
            return port;
    }
    return 0;
}

/* HostConfig.PortBindings made real: every "" or "0" HostPort gets a port. */
static json_t *sim_publish(const sim_container *c)
{
    json_t *want = json_object_get(json_object_get(c->config, "HostConfig"), "PortBindings");
    json_t *ports = json_object(), *list, *b;
    const char *key;
    size_t i;
    json_object_foreach(want, key, list) {
        json_t *out = json_array();
        json_array_foreach(list, i, b) {
            const char *ip = json_string_value(json_object_get(b, "HostIp"));
            const char *hp = json_string_value(json_object_get(b, "HostPort"));
            char num[16];
            int port = hp && *hp && strcmp(hp, "0") != 0 ? atoi(hp) : sim_port();
            if (port <= 0)
                goto err;
            snprintf(num, sizeof num, "%d", port);
            json_array_append_new(out, json_pack("{s:s,s:s}", "HostIp", ip && *ip ? ip : "0.0.0.0",
                                                 "HostPort", num));
        }
        json_object_set_new(ports, key, out);
    }
    return ports;
err:
    json_decref(ports);
    return NULL;
}

/* The list's Ports: published ones while running, else the exposed ones. */
static json_t *sim_list_ports(const sim_container *c)
{
    json_t *out = json_array(), *list, *b;
    json_t *exposed = json_object_get(c->config, "ExposedPorts");
    const char *key;
    size_t i;
    json_object_foreach(exposed, key, list) {
        char proto[8] = "tcp";
        int priv = 0;
        sscanf(key, "%d/%7s", &priv, proto);
        json_t *bound = json_object_get(c->ports, key);
        if (!json_array_size(bound))
            json_array_append_new(out, json_pack("{s:i,s:s}", "PrivatePort", priv, "Type", proto));
        json_array_foreach(bound, i, b)
            json_array_append_new(
                out, json_pack("{s:s,s:i,s:i,s:s}", "IP",
                               json_string_value(json_object_get(b, "HostIp")), "PrivatePort",
                               priv, "PublicPort",
                               atoi(json_string_value(json_object_get(b, "HostPort"))), "Type",
                               proto));
    }
    return out;
}

static json_t *sim_list_item(const sim_container *c)
{
    json_t *cmd = json_object_get(c->config, "Cmd");
    char *command = json_is_array(cmd) ? json_dumps(cmd, JSON_COMPACT) : NULL;
    json_t *labels = json_object_get(c->config, "Labels");
    bool running = strcmp(c->state, "running") == 0;
    json_t *item = json_pack(
        "{s:s,s:[s+],s:s,s:s,s:I,s:o,s:o,s:s,s:s}", "Id", c->id, "Names", "/", c->name, "Image",
        sim_str(c->config, "Image"), "Command",
        command ? command : "", "Created", (json_int_t)c->created, "Ports", sim_list_ports(c),
        "Labels", labels ? json_incref(labels) : json_object(), "State", c->state, "Status",
        running ? "Up (simulated)" : strcmp(c->state, "created") == 0 ? "Created" : "Exited");
    free(command);
    return item;
}

static enum MHD_Result sim_list(struct MHD_Connection *conn)
{
    bool all = sim_true(sim_arg(conn, "all"));
    json_t *filters = sim_filters(conn), *out = json_array();
    if (!filters) {
        json_decref(out);
        return sim_error(conn, 400, "invalid filter: not a JSON object");
    }
    pthread_mutex_lock(&sim.mu);
    for (size_t i = 0; i < sim.n; i++) {
        sim_container *c = sim.c[i];
        json_t *labels = json_object_get(c->config, "Labels");
        sim_subject subj = {.id = c->id, .name = c->name, .status = c->state,
                            .labels = labels};
        if ((all || strcmp(c->state, "running") == 0) && sim_passes(filters, &subj))
            json_array_append_new(out, sim_list_item(c));
    }
    pthread_mutex_unlock(&sim.mu);
    json_decref(filters);
    return sim_json(conn, 200, out);
}

static json_t *sim_inspect(const sim_container *c)
{
    bool running = strcmp(c->state, "running") == 0;
    json_t *config = json_deep_copy(c->config);
    json_t *host = json_object_get(config, "HostConfig");
    json_t *ports = json_object(), *list;
    const char *key;
    json_object_foreach(json_object_get(c->config, "ExposedPorts"), key, list)
        json_object_set(ports, key, running && json_object_get(c->ports, key)
                                        ? json_object_get(c->ports, key) : json_null());
    json_incref(host);
    json_object_del(config, "HostConfig");
    json_object_set_new(config, "Tty", json_false());
    return json_pack(
        "{s:s,s:s,s:s+,s:{s:s,s:b,s:b,s:b,s:b,s:b,s:i,s:i,s:s,s:s,s:s},s:s,s:s,s:i,s:o,s:o,s:{s:o}}",
        "Id", c->id, "Created", c->created_at, "Name", "/", c->name, "State", "Status", c->state, "Running", running, "Paused", 0, "Restarting", 0,
        "OOMKilled", 0, "Dead", 0, "Pid", 0, "ExitCode", c->exit_code, "Error", "",
        "StartedAt", c->started[0] ? c->started : "0001-01-01T00:00:00Z", "FinishedAt",
        c->finished[0] ? c->finished : "0001-01-01T00:00:00Z", "Image", sim_str(c->config, "Image"),
        "Driver", "simulated",
        "RestartCount", 0, "HostConfig", host ? host : json_object(), "Config", config,
        "NetworkSettings", "Ports", ports);
}

static void sim_new_id(char id[65])
{
    unsigned char raw[32];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) { /* cannot fail this small */
        static unsigned long long counter;
        memset(raw, 0, sizeof raw);
        memcpy(raw, &(unsigned long long){++counter}, sizeof counter);
    }
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(id + 2 * i, 3, "%02x", raw[i]);
}

static enum MHD_Result sim_create(struct MHD_Connection *conn, const sim_request *req)
{
    const char *name = sim_arg(conn, "name");
    json_t *config = req->body ? json_loadb(req->body, req->len, 0, NULL) : NULL;
    sim_container *c = NULL, *other;
    char generated[32];
    unsigned status = 500;
    const char *msg = "out of memory";

    if (!json_is_object(config) || !json_is_string(json_object_get(config, "Image"))) {
        json_decref(config);
        return sim_error(conn, 400, "config: a JSON object with an Image is needed");
    }
    pthread_mutex_lock(&sim.mu);
    if (!name || !*name) {
        snprintf(generated, sizeof generated, "sim_%llu", sim.next_seq);
        name = generated;
    }
    if (*name == '/')
        name++;
    if (!sim_name_ok(name)) {
        status = 400, msg = "Invalid container name, only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed";
        goto err;
    }
    if ((other = sim_find(name)) && strcmp(other->name, name) == 0) {
        pthread_mutex_unlock(&sim.mu);
        json_decref(config);
        return sim_error(conn, 409,
                         "Conflict. The container name \"/%s\" is already in use by container "
                         "\"%s\". You have to remove (or rename) that container to be able to "
                         "reuse that name.", name, other->id);
    }
    const char *image = json_string_value(json_object_get(config, "Image"));
    if (!sim_image_held(image)) {
        pthread_mutex_unlock(&sim.mu);
        enum MHD_Result rc = sim_error(conn, 404, "No such image: %s", image);
        json_decref(config);
        return rc;
    }
    if (sim.n == sim.cap) {
        size_t cap = sim.cap ? 2 * sim.cap : 64;
        sim_container **grown = realloc(sim.c, cap * sizeof *grown);
        if (!grown)
            goto err;
        sim.c = grown, sim.cap = cap;
    }
    if (!(c = calloc(1, sizeof *c)) || !(c->name = strdup(name)))
        goto err;
    sim_new_id(c->id);
    c->config = config;
    c->state = "created";
    sim_time(c->created_at, sizeof c->created_at, &c->created);
    c->created /= 1000000000LL;
    sim.c[sim.n++] = c;
    sim_emit(c, "create", NULL);
    pthread_mutex_unlock(&sim.mu);
    return sim_json(conn, 201, json_pack("{s:s,s:[]}", "Id", c->id, "Warnings"));
err:
    pthread_mutex_unlock(&sim.mu);
    sim_free_container(c); /* config is not its yet */
    json_decref(config);
    return sim_error(conn, status, "%s", msg);
}

/* c exits with code (under mu): die, then stop or kill's own event first. */
static void sim_exit(sim_container *c, int code, const char *why)
{
    char num[16];
    if (strcmp(why, "kill") == 0)
        sim_emit(c, "kill", json_pack("{s:s}", "signal", "9"));
    c->state = "exited";
    c->exit_code = code;
    json_decref(c->ports);
    c->ports = NULL;
    sim_time(c->finished, sizeof c->finished, NULL);
    snprintf(num, sizeof num, "%d", code);
    sim_emit(c, "die", json_pack("{s:s}", "exitCode", num));
    if (strcmp(why, "stop") == 0)
        sim_emit(c, "stop", NULL);
}

static void sim_remove_at(size_t i)
{
    sim_container *c = sim.c[i];
    sim_emit(c, "destroy", NULL);
    sim.c[i] = sim.c[--sim.n];
    sim_free_container(c);
}

/* POST /containers/ID/VERB, GET /containers/ID/json|logs, DELETE /containers/ID. */
static enum MHD_Result sim_container_call(struct MHD_Connection *conn, const char *method,
                                          const char *ref, const char *verb,
                                          const sim_request *req)
{
    bool post = strcmp(method, "POST") == 0, get = strcmp(method, "GET") == 0;
    json_t *answer = NULL;
    unsigned status = 204;
    pthread_mutex_lock(&sim.mu);
    sim_container *c = sim_find(ref);
    bool running = c && strcmp(c->state, "running") == 0;
    if (!c) {
        pthread_mutex_unlock(&sim.mu);
        return sim_error(conn, 404, "No such container: %s", ref);
    }
    if (get && strcmp(verb, "json") == 0) {
        answer = sim_inspect(c);
        status = 200;
    } else if (get && strcmp(verb, "logs") == 0) {
        pthread_mutex_unlock(&sim.mu);
        return sim_send(conn, 200, NULL, "application/vnd.docker.raw-stream");
    } else if (strcmp(method, "DELETE") == 0 && !*verb) {
        if (running && !sim_true(sim_arg(conn, "force"))) {
            pthread_mutex_unlock(&sim.mu);
            return sim_error(conn, 409, "You cannot remove a running container %s. Stop the "
                             "container before attempting removal or force remove", c->id);
        }
        if (running)
            sim_exit(c, 137, "kill");
        for (size_t i = 0; i < sim.n; i++)
            if (sim.c[i] == c) {
                sim_remove_at(i);
                break;
            }
    } else if (post && strcmp(verb, "start") == 0) {
        if (running) {
            status = 304;
        } else if (!(c->ports = sim_publish(c))) {
            pthread_mutex_unlock(&sim.mu);
            return sim_error(conn, 500, "driver failed programming external connectivity: "
                             "no free port in %d-%d (simulated)", sim.port_lo, sim.port_hi);
        } else {
            c->state = "running";
            c->exit_code = 0;
            sim_time(c->started, sizeof c->started, NULL);
            sim_emit(c, "start", NULL);
        }
    } else if (post && (strcmp(verb, "stop") == 0 || strcmp(verb, "kill") == 0)) {
        if (running)
            sim_exit(c, verb[0] == 's' ? 0 : 137, verb);
        else if (verb[0] == 's')
            status = 304;
        else {
            pthread_mutex_unlock(&sim.mu);
            return sim_error(conn, 409, "Container %s is not running", c->id);
        }
    } else if (post && strcmp(verb, "rename") == 0) {
        const char *name = sim_arg(conn, "name");
        sim_container *other = name ? sim_find(name) : NULL;
        char *copy = NULL;
        if (name && *name == '/')
            name++;
        if (!name || !sim_name_ok(name)) {
            pthread_mutex_unlock(&sim.mu);
            return sim_error(conn, 400, "Invalid container name (%s), only "
                             "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name ? name : "");
        }
        if (other && other != c && strcmp(other->name, name) == 0) {
            pthread_mutex_unlock(&sim.mu);
            return sim_error(conn, 409, "Conflict. The container name \"/%s\" is already in use "
                             "by container \"%s\". You have to remove (or rename) that container "
                             "to be able to reuse that name.", name, other->id);
        }
        if (!(copy = strdup(name))) {
            pthread_mutex_unlock(&sim.mu);
            return sim_error(conn, 500, "out of memory");
        }
        json_t *old = json_pack("{s:s+}", "oldName", "/", c->name);
        free(c->name);
        c->name = copy;
        sim_emit(c, "rename", old);
    } else if (post && strcmp(verb, "update") == 0) {
        json_t *body = req->body ? json_loadb(req->body, req->len, 0, NULL) : NULL;
        json_t *policy = json_object_get(body, "RestartPolicy");
        json_t *host = json_object_get(c->config, "HostConfig");
        if (!host)
            json_object_set_new(c->config, "HostConfig", host = json_object());
        if (policy)
            json_object_set(host, "RestartPolicy", policy);
        json_decref(body);
        answer = json_pack("{s:[]}", "Warnings");
        status = 200;
    } else if (post && strcmp(verb, "exec") == 0) {
        char id[65];
        if (!running) {
            pthread_mutex_unlock(&sim.mu);
            return sim_error(conn, 409, "Container %s is not running", c->id);
        }
        sim_new_id(id);
        answer = json_pack("{s:s}", "Id", id);
        status = 201;
    } else {
        pthread_mutex_unlock(&sim.mu);
        return sim_error(conn, 404, "page not found");
    }
    pthread_mutex_unlock(&sim.mu);
    return sim_json(conn, status, answer);
}

/* ---- images, networks, the rest ------------------------------------------------------ */

static enum MHD_Result sim_image_call(struct MHD_Connection *conn, const char *method,
                                      const char *rest)
{
    char ref[1024], target[1024];
    size_t len = strlen(rest);
    if (strcmp(method, "POST") == 0 && strcmp(rest, "create") == 0) {
        const char *from = sim_arg(conn, "fromImage");
        if (!from || !*from)
            return sim_error(conn, 400, "fromImage is needed (simulated engine: no import)");
        if (!sim_image_ref(from, sim_arg(conn, "tag"), ref, sizeof ref))
            return sim_error(conn, 400, "image name too long");
        pthread_mutex_lock(&sim.mu);
        json_object_set_new(sim.images, ref, json_true());
        pthread_mutex_unlock(&sim.mu);
        char *text = NULL;
        if (asprintf(&text, "{\"status\":\"Pulling from %s (simulated)\"}\n"
                            "{\"status\":\"Status: Downloaded newer image for %s\"}\n",
                     from, ref) < 0)
            return MHD_NO;
        return sim_send(conn, 200, text, "application/json");
    }
    bool json = len > 5 && strcmp(rest + len - 5, "/json") == 0;
    bool tag = len > 4 && strcmp(rest + len - 4, "/tag") == 0;
    if (!json && !tag)
        return sim_error(conn, 404, "page not found");
    snprintf(ref, sizeof ref, "%.*s", (int)(len - (json ? 5 : 4)), rest);
    pthread_mutex_lock(&sim.mu);
    bool held = sim_image_held(ref);
    if (held && tag) {
        const char *repo = sim_arg(conn, "repo");
        if (!repo || !*repo) {
            pthread_mutex_unlock(&sim.mu);
            return sim_error(conn, 400, "repository name must have at least one component");
        }
        if (sim_image_ref(repo, sim_arg(conn, "tag"), target, sizeof target))
            json_object_set_new(sim.images, target, json_true());
    }
    pthread_mutex_unlock(&sim.mu);
    if (!held)
        return sim_error(conn, 404, "No such image: %s", ref);
    if (tag)
        return sim_json(conn, 201, NULL);
    if (!sim_image_ref(ref, NULL, target, sizeof target))
        return sim_error(conn, 400, "image name too long");
    return sim_json(conn, 200, json_pack("{s:s,s:[s],s:I,s:s}", "Id",
                                         "sha256:0000000000000000000000000000000000000000000000000000000000000000",
                                         "RepoTags", target, "Size", (json_int_t)0, "Os",
                                         "linux"));
}

static enum MHD_Result sim_network(struct MHD_Connection *conn, const char *name)
{
    if (strcmp(name, "bridge") != 0)
        return sim_error(conn, 404, "network %s not found", name);
    char subnet[64];
    snprintf(subnet, sizeof subnet, "%s/16", sim.gateway);
    return sim_json(conn, 200, json_pack("{s:s,s:s,s:s,s:s,s:{s:s,s:[{s:s,s:s}]}}", "Name",
                                         "bridge", "Id", "simulated-bridge", "Scope", "local",
                                         "Driver", "bridge", "IPAM", "Driver", "default",
                                         "Config", "Subnet", subnet, "Gateway", sim.gateway));
}

static enum MHD_Result sim_route(struct MHD_Connection *conn, const char *url, const char *method,
                                 const sim_request *req)
{
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool post = strcmp(method, "POST") == 0;
    char ref[300];
    if (url[0] == '/' && url[1] == 'v' && url[2] >= '0' && url[2] <= '9') { /* /v1.41 */
        const char *slash = strchr(url + 1, '/');
        url = slash ? slash : "/";
    }
    if (get && strcmp(url, "/_ping") == 0)
        return sim_send(conn, 200, strdup("OK"), "text/plain; charset=utf-8");
    if (get && strcmp(url, "/version") == 0)
        return sim_json(conn, 200, json_pack("{s:s,s:s,s:s,s:s,s:s}", "Version",
                                             "20.10.24-simulated", "ApiVersion", "1.41",
                                             "MinAPIVersion", "1.12", "Os", "linux", "Arch",
                                             "amd64"));
    if (get && strcmp(url, "/events") == 0)
        return sim_events(conn);
    if (get && strcmp(url, "/containers/json") == 0)
        return sim_list(conn);
    if (post && strcmp(url, "/containers/create") == 0)
        return sim_create(conn, req);
    if (strncmp(url, "/containers/", 12) == 0) {
        const char *id = url + 12, *slash = strchr(id, '/');
        size_t len = slash ? (size_t)(slash - id) : strlen(id);
        if (len == 0 || len >= sizeof ref)
            return sim_error(conn, 404, "page not found");
        snprintf(ref, sizeof ref, "%.*s", (int)len, id);
        return sim_container_call(conn, method, ref, slash ? slash + 1 : "", req);
    }
    if (strncmp(url, "/exec/", 6) == 0) { /* no exec is kept: each has run, exit 0 */
        const char *id = url + 6, *slash = strchr(id, '/');
        if (post && slash && strcmp(slash, "/start") == 0)
            return sim_json(conn, 200, NULL);
        if (get && slash && strcmp(slash, "/json") == 0) {
            snprintf(ref, sizeof ref, "%.*s", (int)(slash - id), id);
            return sim_json(conn, 200, json_pack("{s:s,s:b,s:i}", "ID", ref, "Running", 0,
                                                 "ExitCode", 0));
        }
    }
    if (strncmp(url, "/images/", 8) == 0)
        return sim_image_call(conn, method, url + 8);
    if (get && strncmp(url, "/networks/", 10) == 0)
        return sim_network(conn, url + 10);
    return sim_error(conn, 404, "page not found");
}

/* MHD's handler: gather the body over the calls, then answer once. */
static enum MHD_Result sim_handle(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **ctx)
{
    sim_request *req = *ctx;
    (void)cls, (void)version;
    if (!req) {
        if (!(req = calloc(1, sizeof *req)))
            return MHD_NO;
        *ctx = req;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        char *grown = req->len + *upload_size <= SIM_BODY_MAX
                          ? realloc(req->body, req->len + *upload_size + 1) : NULL;
        if (grown) {
            memcpy(grown + req->len, upload_data, *upload_size);
            req->len += *upload_size;
            grown[req->len] = '\0';
            req->body = grown;
        } else {
            req->too_big = true;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (req->too_big)
        return sim_error(conn, 413, "request body over %d bytes", SIM_BODY_MAX);
    return sim_route(conn, url, method, req);
}

static void sim_completed(void *cls, struct MHD_Connection *conn, void **ctx,
                          enum MHD_RequestTerminationCode why)
{
    sim_request *req = *ctx;
    (void)cls, (void)conn, (void)why;
    if (req) {
        free(req->body);
        free(req);
        *ctx = NULL;
    }
}

/* ---- main -------------------------------------------------------------------------- */

/* A listening unix socket at path; a stale socket there (an engine that died) is
 * replaced, anything else is not. */
static int sim_listen(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    struct stat st;
    int fd = -1;
    if (strlen(path) >= sizeof addr.sun_path) {
        fprintf(stderr, "dokkaa-simengine: socket path too long: %s\n", path);
        return -1;
    }
    memcpy(addr.sun_path, path, strlen(path) + 1);
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 1024) < 0)
        goto err;
    return fd;
err:
    fprintf(stderr, "dokkaa-simengine: %s: %s\n", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

static void sim_usage(FILE *out)
{
    fputs("usage: dokkaa-simengine --socket PATH [--ports A-B] [--gateway ADDR]\n"
          "A SIMULATION of the Docker Engine API for bench/scale.sh: containers are records,\n"
          "nothing runs. --ports: where published ports are handed out (default 32768-60999);\n"
          "--gateway: the bridge network's gateway (default 172.17.0.1).\n",
          out);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"socket", required_argument, 0, 's'},
                                         {"ports", required_argument, 0, 'p'},
                                         {"gateway", required_argument, 0, 'g'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *path = NULL;
    struct MHD_Daemon *daemon = NULL;
    sigset_t stop;
    int opt, sig, fd = -1, rc = 1;
    bool bound = false;

    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 's': path = optarg; break;
        case 'g': sim.gateway = optarg; break;
        case 'p':
            if (sscanf(optarg, "%d-%d", &sim.port_lo, &sim.port_hi) != 2 || sim.port_lo < 1 ||
                sim.port_hi > 65535 || sim.port_lo > sim.port_hi) {
                fprintf(stderr, "dokkaa-simengine: --ports: A-B within 1-65535, got %s\n", optarg);
                return 2;
            }
            sim.port_next = sim.port_lo;
            break;
        case 'h': sim_usage(stdout); return 0;
        default: sim_usage(stderr); return 2;
        }
    }
    if (!path || optind < argc) {
        sim_usage(stderr);
        return 2;
    }
    /* Signals go to sigwait below only; the threads MHD starts inherit the mask. */
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (!(sim.images = json_object()) || (fd = sim_listen(path)) < 0)
        goto err;
    bound = true;
    daemon = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD |
                                  MHD_USE_ERROR_LOG,
                              0, NULL, NULL, sim_handle, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
                              MHD_OPTION_NOTIFY_COMPLETED, sim_completed, NULL,
                              MHD_OPTION_CONNECTION_TIMEOUT, 0u, MHD_OPTION_END);
    if (!daemon) {
        fprintf(stderr, "dokkaa-simengine: cannot start the HTTP server on %s\n", path);
        goto err;
    }
    fd = -1; /* MHD's now */
    fprintf(stderr, "dokkaa-simengine: SIMULATED Docker Engine API on %s\n", path);
    sigwait(&stop, &sig);
    rc = 0;
err:
    pthread_mutex_lock(&sim.mu);
    sim.stopping = true;
    pthread_cond_broadcast(&sim.cond);
    pthread_mutex_unlock(&sim.mu);
    if (daemon)
        MHD_stop_daemon(daemon);
    if (fd >= 0)
        close(fd);
    if (bound)
        unlink(path);
    for (size_t i = 0; i < sim.n; i++)
        sim_free_container(sim.c[i]);
    free(sim.c);
    for (size_t i = 0; i < SIM_EVENTS; i++)
        json_decref(sim.ring[i].event);
    json_decref(sim.images);
    return rc;
}
