/* dokkaa-builder - runs on every host: the HTTP front door. Today it serves the
 * etcd v2 keys API for /v2/keys/apps/... on port 4001 (v2.c), so that the seed's
 * curl commands work as written, and /healthz.
 *
 * libmicrohttpd runs a thread per connection here: each request makes its own etcd
 * client, and the handlers block on etcd without holding anyone else up. */
#include <arpa/inet.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder.h"
#include "dokkaa/config.h"
#include "dokkaa/log.h"

static volatile sig_atomic_t builder_stop;

static void builder_on_signal(int sig)
{
    (void)sig;
    builder_stop = 1;
}

/* A body that cannot be built (out of memory, or text JSON cannot carry) still
 * gets an answer: returning MHD_NO would reset the connection with none. */
enum MHD_Result builder_reply(builder_req *r, unsigned status, json_t *body, int64_t index)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        status = 500;
        text = strdup("{\"error\":\"the response could not be encoded as JSON\"}");
        if (!text)
            return MHD_NO;
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    if (index > 0) {
        char idx[32];
        snprintf(idx, sizeof idx, "%lld", (long long)index);
        MHD_add_response_header(resp, "X-Etcd-Index", idx);
    }
    enum MHD_Result ret = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* The client's IPv4 address in host order, also when it comes IPv4-mapped over
 * the dual-stack socket; false for other IPv6 clients. */
static bool builder_client_v4(struct MHD_Connection *conn, uint32_t *addr, bool *v6_loopback)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = info ? info->client_addr : NULL;
    *v6_loopback = false;
    if (sa && sa->sa_family == AF_INET) {
        *addr = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
        return true;
    }
    if (!sa || sa->sa_family != AF_INET6)
        return false;
    const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a6)) {
        uint32_t v4;
        memcpy(&v4, &a6->s6_addr[12], 4);
        *addr = ntohl(v4);
        return true;
    }
    *v6_loopback = IN6_IS_ADDR_LOOPBACK(a6);
    return false;
}

static bool builder_trusted(const builder *b, struct MHD_Connection *conn)
{
    uint32_t addr;
    bool v6_loopback;
    if (!builder_client_v4(conn, &addr, &v6_loopback))
        return v6_loopback;
    if ((addr >> 24) == 127)
        return true;
    for (int i = 0; i < b->ntrusted; i++)
        if ((addr & b->trusted[i].mask) == b->trusted[i].addr)
            return true;
    return false;
}

static void builder_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)conn, (void)toe;
    builder_req *r = *con_cls;
    if (r) {
        etcd_free(r->etcd);
        free(r->body);
        free(r);
        *con_cls = NULL;
    }
}

static bool builder_is_read(const char *method)
{
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

/* Collect the body (up to BUILDER_MAX_BODY; beyond that it is dropped and the
 * request refused with 413), then route. A write from an untrusted client is
 * refused on the first call, before any of its body is read. */
static enum MHD_Result builder_handle(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    builder *b = cls;
    builder_req *r = *con_cls;
    err_t err;
    if (!r) {
        if (!(r = calloc(1, sizeof *r)))
            return MHD_NO;
        *r = (builder_req){.conn = conn, .method = method, .url = url};
        *con_cls = r;
        if (!builder_is_read(method) && !builder_trusted(b, conn))
            return v2_unauthorized(r);
        return MHD_YES;
    }
    if (*upload_size) {
        if (r->body_len + *upload_size > BUILDER_MAX_BODY) {
            r->too_large = true;
        } else {
            char *grown = realloc(r->body, r->body_len + *upload_size + 1);
            if (!grown)
                return MHD_NO;
            memcpy(grown + r->body_len, upload, *upload_size);
            r->body = grown;
            r->body_len += *upload_size;
            r->body[r->body_len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(url, "/healthz") == 0)
        return builder_reply(r, 200, json_pack("{s:s}", "status", "ok"), 0);
    if (strncmp(url, "/v2/keys", 8) != 0 || (url[8] != '\0' && url[8] != '/'))
        return builder_reply(r, 404, json_pack("{s:s,s:s}", "error", "not found", "path", url), 0);
    if (!(r->etcd = etcd_new(b->etcd_endpoints, &err)))
        return builder_reply(r, 500, json_pack("{s:s}", "error", err.msg), 0);
    return v2_handle(r);
}

static int builder_add_trust(builder *b, const char *cidr)
{
    char addr[64];
    int bits = 32;
    struct in_addr in;
    if (sscanf(cidr, "%63[0-9.]/%d", addr, &bits) < 1 || bits < 0 || bits > 32 ||
        inet_pton(AF_INET, addr, &in) != 1 || b->ntrusted == BUILDER_MAX_TRUST) {
        fprintf(stderr, "--trust: expected an IPv4 network like 10.88.0.0/24, got \"%s\"\n", cidr);
        return -1;
    }
    uint32_t mask = bits ? ~0u << (32 - bits) : 0;
    b->trusted[b->ntrusted++] = (builder_net){.addr = ntohl(in.s_addr) & mask, .mask = mask};
    return 0;
}

static void builder_usage(FILE *out)
{
    fputs("usage: dokkaa-builder [options]\n"
          "  --etcd URLS      etcd endpoints, comma-separated (default: $ETCD_ADDR, else\n"
          "                   http://127.0.0.1:2379)\n"
          "  --port N         HTTP port (default 4001)\n"
          "  --trust CIDR     a network whose anonymous writes are accepted, besides\n"
          "                   loopback (repeatable)\n",
          out);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"etcd", required_argument, 0, 'e'}, {"port", required_argument, 0, 'p'},
        {"trust", required_argument, 0, 't'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    static builder b;
    int opt, port = 4001;

    log_init("builder");
    config_etcd_endpoints(b.etcd_endpoints, sizeof b.etcd_endpoints, getenv("ETCD_ADDR"));
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'e': config_etcd_endpoints(b.etcd_endpoints, sizeof b.etcd_endpoints, optarg); break;
        case 'p': if (config_int("--port", optarg, 1, 65535, &port) < 0) return 2; break;
        case 't': if (builder_add_trust(&b, optarg) < 0) return 2; break;
        case 'h': builder_usage(stdout); return 0;
        default: builder_usage(stderr); return 2;
        }
    }
    signal(SIGTERM, builder_on_signal);
    signal(SIGINT, builder_on_signal);
    signal(SIGPIPE, SIG_IGN);
    /* A thread per connection: the limit keeps a flood of idle connections from
     * taking every thread and descriptor the process has. */
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_DUAL_STACK,
        (uint16_t)port, NULL, NULL, builder_handle, &b, MHD_OPTION_NOTIFY_COMPLETED,
        builder_completed, NULL, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
        MHD_OPTION_CONNECTION_LIMIT, 1024u, MHD_OPTION_END);
    if (!d) {
        log_error("cannot listen on port %d", port);
        return 1;
    }
    log_info("serving on port %d; etcd %s", port, b.etcd_endpoints);
    while (!builder_stop)
        pause();
    log_info("stopping");
    MHD_stop_daemon(d);
    return 0;
}
