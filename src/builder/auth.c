/* auth.c - who is asking, and what they may do.
 *
 * Two things decide it: where the request comes from (loopback and the networks
 * given with --trust are trusted) and the bearer token it carries, looked up by
 * its hash in the store, so a token revoked on any builder stops working on all of
 * them as soon as the watch brings the delete.
 *
 *   /api/v1 reads   trusted, or any valid token
 *   /api/v1 writes  an admin token (401 without a valid token, 403 read-only)
 *   /api/v1/tokens  an admin token, also to list them
 *   /v2 reads       trusted, or any valid token (manifests may hold secrets)
 *   /v2 writes      trusted, or an admin token (DESIGN.md: the seed's anonymous
 *                   curl commands work from the machine and trusted networks);
 *                   a read-only token is refused (403) from anywhere, as through
 *                   the API: a client that says who it is is taken at its word
 *   anything else   anyone: /healthz, /metrics, the console, openapi.json
 *
 * A token that is given but unknown is refused even where anonymous access would
 * do: a client that means to be someone should hear that it is not.
 *
 * With TLS (real machines), plain HTTP is for loopback and trusted networks only:
 * anywhere else a token would cross the network in the clear. A client that
 * presents a certificate of the cluster's CA over HTTPS is another host of the
 * cluster (a builder forwarding a log request) and counts as trusted. */
#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <string.h>

#include "builder.h"
#include "dokkaa/keys.h"

/* The client's IPv4 address in host order, also when it comes IPv4-mapped over
 * the dual-stack socket; false for other IPv6 clients. */
static bool auth_client_v4(struct MHD_Connection *conn, uint32_t *addr, bool *v6_loopback)
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

bool auth_trusted_v4(const builder *b, uint32_t addr)
{
    if ((addr >> 24) == 127)
        return true;
    for (int i = 0; i < b->ntrusted; i++)
        if (net_cidr_contains(&b->trusted[i], addr))
            return true;
    return false;
}

static bool auth_trusted(const builder *b, struct MHD_Connection *conn)
{
    uint32_t addr;
    bool v6_loopback;
    if (!auth_client_v4(conn, &addr, &v6_loopback))
        return v6_loopback;
    return auth_trusted_v4(b, addr);
}

/* The role of a well-formed token, from its record in the store. A record that
 * does not decode names no role: the token is refused rather than guessed at. */
static bool auth_lookup(builder_req *r, const char *token)
{
    char key[KEYS_SIZE];
    keys_token rec;
    bool known = false;
    token_key(token, key, sizeof key);
    store_snap *snap = store_acquire(r->b->store);
    const etcd_kv *kv = store_get(snap, key);
    if (kv && keys_token_decode(kv->value, kv->value_len, &rec, NULL) == 0) {
        r->role = rec.role;
        token_id(key, r->token_id);
        if (*rec.name)
            snprintf(r->who, sizeof r->who, "%s", rec.name);
        else /* a record without a name: its id */
            snprintf(r->who, sizeof r->who, "token %s", r->token_id);
        known = true;
    }
    store_release(snap);
    return known;
}

/* A client certificate that chains to the cluster's CA (MHD was given it as
 * MHD_OPTION_HTTPS_MEM_TRUST, so it asks clients for one, optionally). */
static bool auth_cluster_cert(builder_req *r)
{
    const union MHD_ConnectionInfo *info =
        r->tls ? MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION) : NULL;
    unsigned int status = 1, n = 0;
    if (!info || !info->tls_session)
        return false;
    gnutls_session_t session = info->tls_session;
    return gnutls_certificate_get_peers(session, &n) && n > 0 &&
           gnutls_certificate_verify_peers2(session, &status) == 0 && status == 0;
}

/* The client's address as text: IPv4 also when it came IPv4-mapped. */
static void auth_peer(struct MHD_Connection *conn, char *addr, size_t size)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = info ? info->client_addr : NULL;
    uint32_t v4;
    bool v6_loopback;
    snprintf(addr, size, "unknown address");
    if (!sa)
        return;
    if (auth_client_v4(conn, &v4, &v6_loopback)) {
        struct in_addr in = {.s_addr = htonl(v4)};
        inet_ntop(AF_INET, &in, addr, (socklen_t)size);
    } else if (sa->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, addr, (socklen_t)size);
    }
}

/* r->who for a request without a token: its address, "anonymous (10.0.0.5)". */
static void auth_who_anonymous(builder_req *r)
{
    char addr[INET6_ADDRSTRLEN];
    auth_peer(r->conn, addr, sizeof addr);
    snprintf(r->who, sizeof r->who, "anonymous (%s)", addr);
}

/* Fill r->trusted, r->role, r->token_id, r->who, r->token_invalid. */
static void auth_identify(builder_req *r)
{
    const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
    r->trusted = auth_trusted(r->b, r->conn) || auth_cluster_cert(r);
    r->role = KEYS_ROLE_ANONYMOUS;
    auth_who_anonymous(r);
    if (!h)
        return;
    if (strncasecmp(h, "Bearer ", 7) == 0) {
        h += 7;
        while (*h == ' ')
            h++;
        if (token_well_formed(h) && auth_lookup(r, h))
            return;
    }
    r->token_invalid = true;
}

bool auth_allow(builder_req *r, bool write, enum MHD_Result *ret)
{
    if (r->token_invalid) {
        *ret = reply_error(r, 401, "the token is unknown or revoked (Authorization: Bearer "
                                   "dk_ followed by 48 hex digits)");
        return false;
    }
    if (!write && (r->trusted || r->role != KEYS_ROLE_ANONYMOUS))
        return true;
    if (write && r->role == KEYS_ROLE_ADMIN)
        return true;
    if (r->role == KEYS_ROLE_READ_ONLY)
        *ret = reply_error(r, 403, "token %s is read-only; this needs an admin token",
                           r->token_id);
    else if (write)
        *ret = reply_error(r, 401, "this needs an admin token (Authorization: Bearer ...); "
                                   "make one with dokkaacfg token create");
    else
        *ret = reply_error(r, 401, "reads from outside loopback and trusted networks need a "
                                   "token (Authorization: Bearer ...)");
    return false;
}

/* With TLS on, plain HTTP only from trusted clients. */
static bool auth_transport_allowed(builder_req *r, enum MHD_Result *ret)
{
    if (!r->b->tls_daemon || r->tls || r->trusted)
        return true;
    *ret = reply_error(r, 403, "plain HTTP is accepted from loopback and trusted networks only; "
                               "use https:// on this port (the cluster's CA is in the CLI's "
                               "config directory), with a token");
    return false;
}

/* /v2/keys, as the API: manifests may hold secrets (env), so reads from outside
 * need a token too; anonymous writes from trusted clients keep the seed's
 * commands. The refusal has etcd v2's shape, for the curl commands that read it. */
static bool auth_allow_v2(builder_req *r, bool write, enum MHD_Result *ret)
{
    char read_only[120];
    snprintf(read_only, sizeof read_only,
             "token %s is read-only; writes need an admin token", r->token_id);
    const char *why = r->token_invalid ? "the token is unknown or revoked"
                      : write && r->role == KEYS_ROLE_READ_ONLY ? read_only
                      : write && !r->trusted && r->role != KEYS_ROLE_ADMIN
                          ? "anonymous writes are accepted from loopback and trusted networks only"
                      : !write && !r->trusted && r->role == KEYS_ROLE_ANONYMOUS
                          ? "reads from outside loopback and trusted networks need a token"
                          : NULL;
    if (why)
        *ret = v2_refuse(r, why == read_only ? 403 : 401, why);
    return !why;
}

bool auth_allow_tokens(builder_req *r, enum MHD_Result *ret)
{
    return auth_allow(r, true, ret);
}

bool auth_admit(builder_req *r, enum MHD_Result *ret)
{
    bool write = !request_is_read(r);
    auth_identify(r);
    if (!auth_transport_allowed(r, ret))
        return false;
    if (request_is_v2(r))
        return auth_allow_v2(r, write, ret);
    if (strncmp(r->url, "/api/v1/", 8) == 0 && strcmp(r->url, "/api/v1/openapi.json") != 0)
        return auth_allow(r, write, ret);
    return true;
}
