/* dokkaacfg events - the cluster's changes as they happen, read from the API's
 * Server-Sent Events: a line each for people, or with -o json each event's data
 * as one JSON object a line, for scripts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"

#define CFG_EVENTS_LINE_MAX (8 * 1024 * 1024) /* a manifest (1 MiB) as a JSON string */
#define CFG_EVENTS_VALUE_SHOWN 100

static const api_cmd cfg_events_cmd = {
    "events", "[-o json]\n"
              "  the cluster's changes as they happen (manifests, placements, instance states,\n"
              "  hosts, services, links), one line each, until interrupted\n"
              "  -o json  each event's data, one JSON object a line:\n"
              "           {\"type\", \"kind\", \"key\", \"app\", \"name\", \"value\", \"revision\"}\n",
    0, 0, NULL, NULL};

typedef struct cfg_events_ctx {
    bool json;
    char *line; /* what came of the line being read */
    size_t len;
    char *data; /* the data: lines of the event being read, joined by "\n" */
    size_t dlen;
    bool resync; /* the event being read is a resync: changes were missed */
    err_t err;
    bool failed;
} cfg_events_ctx;

/* Append n bytes of s (and a "\n" first when sep and *len > 0) to *buf. */
static bool cfg_events_append(char **buf, size_t *len, const char *s, size_t n, bool sep,
                              cfg_events_ctx *c)
{
    size_t extra = n + (sep && *len);
    char *grown = *len + extra < CFG_EVENTS_LINE_MAX ? realloc(*buf, *len + extra + 1) : NULL;
    if (!grown) {
        c->failed = true;
        err_set(&c->err, ERR_REMOTE, "events: a line over %d bytes, or out of memory",
                CFG_EVENTS_LINE_MAX);
        return false;
    }
    if (sep && *len)
        grown[(*len)++] = '\n';
    memcpy(grown + *len, s, n);
    *len += n;
    grown[*len] = '\0';
    *buf = grown;
    return true;
}

/* The value, short: people see what changed, -o json has all of it. */
static void cfg_events_value(const json_t *value, char *buf, size_t size)
{
    char *text = json_is_string(value) ? strdup(json_string_value(value))
                 : !value || json_is_null(value) ? NULL /* a delete */
                                                 : json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    size_t n = text ? strlen(text) : 0;
    if (n > CFG_EVENTS_VALUE_SHOWN) {
        n = CFG_EVENTS_VALUE_SHOWN;
        while (n && ((unsigned char)text[n] & 0xC0) == 0x80)
            n--; /* not inside a UTF-8 character */
    }
    snprintf(buf, size, "%.*s%s", (int)n, text ? text : "", text && text[n] ? "..." : "");
    free(text);
}

static bool cfg_events_print(cfg_events_ctx *c, json_t *ev)
{
    char when[16], value[CFG_EVENTS_VALUE_SHOWN + 8];
    time_t now = time(NULL);
    struct tm tm;
    if (c->json) {
        char *text = json_dumps(ev, JSON_COMPACT);
        bool ok = text && printf("%s\n", text) > 0;
        free(text);
        return ok && fflush(stdout) == 0;
    }
    strftime(when, sizeof when, "%H:%M:%S", localtime_r(&now, &tm));
    if (c->resync) {
        printf("%s  resync  some changes were missed: ls, ps and hosts show the present\n", when);
        return fflush(stdout) == 0;
    }
    cfg_events_value(json_object_get(ev, "value"), value, sizeof value);
    printf("%s  %-6s  %-9s  %s%s%s\n", when, api_str(ev, "type"), api_str(ev, "kind"),
           api_str(ev, "key"), value[0] ? "  " : "", value);
    return fflush(stdout) == 0;
}

/* A blank line ends an event: show its data. A resync's data is empty: it says
 * the builder could not give every change since the last one (see events.c). */
static bool cfg_events_dispatch(cfg_events_ctx *c)
{
    json_error_t jerr;
    json_t *ev = NULL;
    bool ok = true;
    if (c->resync)
        ev = json_pack("{s:s}", "type", "resync");
    else if (c->dlen && !(ev = json_loads(c->data, 0, &jerr)))
        ok = false, err_set(&c->err, ERR_REMOTE, "events: data that is not JSON: %s", jerr.text);
    if (ev && !cfg_events_print(c, ev))
        ok = false, err_sys(&c->err, "stdout");
    c->failed = !ok;
    c->dlen = 0;
    c->resync = false;
    json_decref(ev);
    return ok;
}

/* One line of the stream: data: and a resync matter (the id and the type of
 * the others are in their data too; ":" starts a comment, the keep-alive). */
static bool cfg_events_line(cfg_events_ctx *c, char *line, size_t n)
{
    if (n && line[n - 1] == '\r')
        line[--n] = '\0';
    if (n == 0)
        return cfg_events_dispatch(c);
    if (strcmp(line, "event: resync") == 0 || strcmp(line, "event:resync") == 0)
        c->resync = true;
    if (strncmp(line, "data:", 5) != 0)
        return true;
    size_t skip = line[5] == ' ' ? 6 : 5;
    return cfg_events_append(&c->data, &c->dlen, line + skip, n - skip, true, c);
}

static bool cfg_events_chunk(void *ud, const char *data, size_t len)
{
    cfg_events_ctx *c = ud;
    const char *nl;
    while ((nl = memchr(data, '\n', len))) {
        size_t n = (size_t)(nl - data);
        if (!cfg_events_append(&c->line, &c->len, data, n, false, c) ||
            !cfg_events_line(c, c->line, c->len))
            return false;
        c->len = 0;
        len -= n + 1;
        data = nl + 1;
    }
    return !len || cfg_events_append(&c->line, &c->len, data, len, false, c);
}

int cfg_events(const cfg_global *g, int argc, char **argv)
{
    api_args args;
    cfg_events_ctx c = {0};
    api_req req = {.method = "GET", .path = "/api/v1/events", .stream = cfg_events_chunk, .ud = &c};
    int rc = api_args_parse(&cfg_events_cmd, g, argc, argv, &args, NULL);
    if (rc != API_GO_ON)
        return rc;
    c.json = args.json;
    rc = api_run(&args, &req, NULL, NULL);
    /* The stream has no end: it ends when we are interrupted, or it failed. */
    if (rc == API_OK && !c.failed && !api_interrupted())
        err_set(&c.err, ERR_UNAVAIL, "events: the builder ended the stream"), c.failed = true;
    if (rc == API_OK && c.failed) {
        fprintf(stderr, "dokkaacfg: %s\n", c.err.msg);
        rc = API_FAIL;
    }
    free(c.line);
    free(c.data);
    return rc;
}
