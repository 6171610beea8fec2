/* etcd_internal.h - the etcd client's decoders, for its unit tests and the fuzz
 * harnesses (fuzz/) only: what etcd.c makes of the gateway's answers, without a
 * network. The programs use etcd.h; nothing here is a promise to them.
 *
 * Each decoder takes the parsed JSON answer (as etcd_call hands it on) and either
 * fills its output or fails with ERR_REMOTE leaving nothing allocated. */
#ifndef DOKKAA_ETCD_INTERNAL_H
#define DOKKAA_ETCD_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dokkaa/err.h"
#include "dokkaa/etcd.h"

/* resp[field] (a range's "kvs", a delete's "prev_kvs") and header.revision into out
 * (zeroed first; etcd_kvs_free it on success). */
int etcd_kvs_decode(const json_t *resp, const char *field, etcd_kvs *out, err_t *err);

/* /v3/lease/grant, /v3/lease/keepalive and /v3/lease/timetolive (with keys). */
int etcd_lease_grant_decode(const json_t *resp, int64_t *lease, err_t *err);
int etcd_lease_keepalive_decode(const json_t *resp, int64_t lease, etcd_keepalive *ka, err_t *err);
int etcd_lease_keys_decode(const json_t *resp, int64_t lease, etcd_kvs *keys, err_t *err);

/* A count-only range's header.revision + 1: where a watch "from now on" starts. */
int etcd_watch_start_decode(const json_t *resp, int64_t *next_rev, err_t *err);

/* The watch stream's state. A test or harness fills fn, ud and next_rev, sets state
 * to ETCD_WATCH_RUNNING, feeds chunks to etcd_watch_on_chunk as the network would
 * cut them, and frees split.buf at the end; e and prefix are not used by it. */
struct etcd_splitter {
    char *buf;
    size_t len, cap;
    int depth;
    bool in_string, escaped;
};

enum etcd_watch_state {
    ETCD_WATCH_RUNNING, /* the stream is fine, keep reading */
    ETCD_WATCH_RETRY,   /* this stream is lost or unusable: reconnect */
    ETCD_WATCH_DONE,    /* fn returned false */
    ETCD_WATCH_FAILED,  /* a final error, in err */
};

struct etcd_watch {
    etcd *e;
    const char *prefix;
    etcd_watch_fn fn;
    void *ud;
    int64_t next_rev; /* first revision not yet delivered: where a new stream starts */
    bool created;     /* the current stream has been confirmed by etcd */
    enum etcd_watch_state state;
    int64_t compact_rev;
    err_t err;
    struct etcd_splitter split;
};

/* One chunk of the stream (ud is the struct etcd_watch): splits it into messages,
 * decodes them and delivers their events; false ends the stream, w->state says why. */
bool etcd_watch_on_chunk(void *ud, const char *data, size_t len);

#endif
