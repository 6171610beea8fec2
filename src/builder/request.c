/* request.c - a request's own state (builder_req): its etcd client, made on first
 * use, and what it frees. A leaf like reply.c: the handlers, auth.c and main.c use
 * it, and it calls none of them. */
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
