/* builder.h - what the builder's request handlers share. */
#ifndef DOKKAA_BUILDER_H
#define DOKKAA_BUILDER_H

#include <microhttpd.h>
#include <netinet/in.h>
#include <stdbool.h>

#include <jansson.h>

#include "dokkaa/etcd.h"
#include "dokkaa/manifest.h"

#define BUILDER_MAX_BODY (MANIFEST_MAX_BYTES + 64 * 1024)
#define BUILDER_MAX_TRUST 16

typedef struct builder_net {
    uint32_t addr, mask; /* host order */
} builder_net;

typedef struct builder {
    char etcd_endpoints[1024];
    builder_net trusted[BUILDER_MAX_TRUST]; /* besides loopback, always trusted */
    int ntrusted;
} builder;

/* One request being served. */
typedef struct builder_req {
    struct MHD_Connection *conn;
    const char *method;
    const char *url;
    char *body;          /* NUL-terminated */
    size_t body_len;
    bool too_large;
    etcd *etcd;          /* this request's client */
} builder_req;

/* v2.c: the etcd v2 keys API for /v2/keys/apps/... (writes from trusted clients
 * only), and its 401 for the others. */
enum MHD_Result v2_handle(builder_req *r);
enum MHD_Result v2_unauthorized(builder_req *r);

/* Queue a JSON response (steals body) with extra header X-Etcd-Index when index > 0;
 * a body that could not be built (NULL) becomes a 500. */
enum MHD_Result builder_reply(builder_req *r, unsigned status, json_t *body, int64_t index);

#endif
