/* metrics.c - GET /metrics: every link's counters from the proxy, in Prometheus
 * text format, served by libmicrohttpd from a thread of its own so that a scrape
 * never touches the data path (proxy_stats takes the proxy's mutex briefly). */
#include "metrics.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct metrics {
    struct MHD_Daemon *d;
    proxy *p;
};

typedef struct metrics_text {
    FILE *out; /* an open_memstream */
    int pass;  /* which family is being written: they are written one after another */
} metrics_text;

static const struct metrics_family {
    const char *name, *type, *help;
} metrics_families[] = {
    {"dokkaa_link_active_connections", "gauge", "Connections open now."},
    {"dokkaa_link_connections_total", "counter", "Connections accepted."},
    {"dokkaa_link_bytes_total", "counter", "Bytes moved (direction in: client to instance)."},
    {"dokkaa_link_refused_total", "counter", "Clients closed: not allowed (links are an access list), over the link's or the source's connection limit, no live instance, or none answered."},
    {"dokkaa_link_backend_failures_total", "counter", "Connects to an instance that failed or timed out."},
    {"dokkaa_link_idle_closed_total", "counter", "Connections closed after moving no byte for the idle timeout."},
};

/* A label value as Prometheus wants it: \\, \" and \n escaped. Names are DNS
 * labels when Dokkaa writes them, but a key written by hand into etcd may hold
 * anything, and must not break the whole page. */
static void metrics_label(char *out, size_t size, const char *in)
{
    size_t o = 0;
    for (; *in && o + 3 < size; in++) {
        if (*in == '\\' || *in == '"' || *in == '\n')
            out[o++] = '\\';
        out[o++] = *in == '\n' ? 'n' : *in;
    }
    out[o] = '\0';
}

static void metrics_link(void *ud, const proxy_link_stats *s)
{
    metrics_text *t = ud;
    char labels[400], app[140], service[140];
    metrics_label(app, sizeof app, s->app);
    metrics_label(service, sizeof service, s->service);
    snprintf(labels, sizeof labels, "app=\"%s\",service=\"%s\",port=\"%d\"", app, service,
             s->port);
    const char *name = metrics_families[t->pass].name;
    switch (t->pass) {
    case 0: fprintf(t->out, "%s{%s} %llu\n", name, labels, s->active); break;
    case 1: fprintf(t->out, "%s{%s} %llu\n", name, labels, s->total); break;
    case 2:
        fprintf(t->out, "%s{%s,direction=\"in\"} %llu\n", name, labels, s->bytes_in);
        fprintf(t->out, "%s{%s,direction=\"out\"} %llu\n", name, labels, s->bytes_out);
        break;
    case 3: fprintf(t->out, "%s{%s} %llu\n", name, labels, s->refused); break;
    case 4: fprintf(t->out, "%s{%s} %llu\n", name, labels, s->failures); break;
    default: fprintf(t->out, "%s{%s} %llu\n", name, labels, s->idle); break;
    }
}

static enum MHD_Result metrics_handle(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version, (void)upload, (void)upload_size, (void)con_cls;
    metrics *m = cls;
    char *text = NULL;
    size_t len = 0;
    metrics_text t = {.out = open_memstream(&text, &len)};
    unsigned status = 200;
    if (!t.out)
        return MHD_NO;
    if (strcmp(url, "/metrics") != 0 || strcmp(method, "GET") != 0) {
        status = 404;
        fputs("only GET /metrics is served here\n", t.out);
    }
    for (t.pass = 0; status == 200 && t.pass < (int)(sizeof metrics_families / sizeof *metrics_families); t.pass++) {
        const struct metrics_family *f = &metrics_families[t.pass];
        fprintf(t.out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, f->type);
        proxy_stats(m->p, metrics_link, &t);
    }
    struct MHD_Response *resp = fclose(t.out) == 0
        ? MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE) : NULL;
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    enum MHD_Result ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

metrics *metrics_start(proxy *p, int port, err_t *err)
{
    metrics *m = calloc(1, sizeof *m);
    if (!m)
        return err_sys(err, "metrics"), NULL;
    m->p = p;
    m->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_DUAL_STACK, (uint16_t)port,
                            NULL, NULL, metrics_handle, m, MHD_OPTION_CONNECTION_LIMIT, 64u,
                            MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
    if (!m->d) {
        free(m);
        err_set(err, ERR_SYS, "metrics: cannot listen on port %d", port);
        return NULL;
    }
    return m;
}

void metrics_stop(metrics *m)
{
    if (!m)
        return;
    MHD_stop_daemon(m->d);
    free(m);
}
