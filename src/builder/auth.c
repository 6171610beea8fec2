/* auth.c - who is asking, and what they may do.
 *
 * Two things decide it: where the request comes from (loopback and the networks
 * given with --trust are trusted) and the bearer token it carries, looked up by
 * its hash in the store, so a token revoked on any builder stops working on all of
 * them as soon as the watch brings the delete.
 *
 *   /api/v1 reads   trusted, or any valid token
 *   /api/v1 writes  an admin token (401 without a valid token, 403 read-only)
 *   /v2 writes      trusted, or an admin token (DESIGN.md: the seed's anonymous
 *                   curl commands work from the machine and trusted networks)
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
#include <string.h>

#include "builder.h"

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

static bool auth_trusted(const builder *b, struct MHD_Connection *conn)
{
    uint32_t addr;
    bool v6_loopback;
    if (!auth_client_v4(conn, &addr, &v6_loopback))
        return v6_loopback;
    if ((addr >> 24) == 127)
        return true;
    for (int i = 0; i < b->ntrusted; i++)
        if ((addr & b->trusted[i].mask) == b->trusted[i].addr)
            return true;
    return false;
}

/* The role of a well-formed token, from its record in the store. */
static bool auth_lookup(builder_req *r, const char *token)
{
    char key[80];
    bool known = false;
    token_key(token, key, sizeof key);
    store_snap *snap = store_acquire(r->b->store);
    const etcd_kv *kv = store_get(snap, key);
    json_t *rec = kv ? json_loads(kv->value, 0, NULL) : NULL;
    if (rec && token_role_parse(json_string_value(json_object_get(rec, "role")), &r->role,
                                NULL) == 0) {
        token_id(key, r->token_id);
        known = true;
    }
    json_decref(rec);
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

void auth_identify(builder_req *r)
{
    const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
    r->trusted = auth_trusted(r->b, r->conn) || auth_cluster_cert(r);
    r->role = TOKEN_ANONYMOUS;
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
        *ret = builder_error(r, 401, "the token is unknown or revoked (Authorization: Bearer "
                                     "dk_ followed by 48 hex digits)");
        return false;
    }
    if (!write && (r->trusted || r->role != TOKEN_ANONYMOUS))
        return true;
    if (write && r->role == TOKEN_ADMIN)
        return true;
    if (r->role == TOKEN_READ_ONLY)
        *ret = builder_error(r, 403, "token %s is read-only; this needs an admin token",
                             r->token_id);
    else if (write)
        *ret = builder_error(r, 401, "this needs an admin token (Authorization: Bearer ...); "
                                     "make one with dokkaacfg token create");
    else
        *ret = builder_error(r, 401, "reads from outside loopback and trusted networks need a "
                                     "token (Authorization: Bearer ...)");
    return false;
}

bool auth_transport_allowed(builder_req *r, enum MHD_Result *ret)
{
    if (!r->b->tls_daemon || r->tls || r->trusted)
        return true;
    *ret = builder_error(r, 403, "plain HTTP is accepted from loopback and trusted networks only; "
                                 "use https:// on this port (the cluster's CA is in the CLI's "
                                 "config directory), with a token");
    return false;
}
