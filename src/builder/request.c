/* request.c - a request's own state (builder_req): its etcd client, made on first
 * use, the revision its writes are visible at, and what it frees. A leaf like
 * reply.c: the handlers, auth.c and main.c use it, and it calls none of them. */
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "dokkaa/log.h"

etcd *request_etcd(builder_req *r, err_t *err)
{
    if (!r->etcd && !(r->etcd = etcd_new(r->b->etcd_endpoints, err)))
        log_error("etcd client: %s", err->msg);
    return r->etcd;
}

bool request_is_v2(const builder_req *r)
{
    return strncmp(r->url, "/v2/keys", 8) == 0 && (r->url[8] == '\0' || r->url[8] == '/');
}

bool request_is_read(const builder_req *r)
{
    return strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
}

void request_free(builder_req *r)
{
    if (!r)
        return;
    etcd_free(r->etcd);
    free(r->raw_url);
    free(r->body);
    free(r);
}

int64_t request_written_revision(builder_req *r, const char *key)
{
    etcd_kvs now;
    err_t err;
    int64_t revision = 0;
    if (request_etcd(r, &err) && etcd_get(r->etcd, key, &now, &err) == 0) {
        revision = now.n ? now.kvs[0].mod_revision : now.revision;
        etcd_kvs_free(&now);
    } else {
        log_warn("%s %s: reading back %s: %s", r->method, r->url, key, err.msg);
    }
    return revision;
}
