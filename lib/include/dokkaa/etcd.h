/* etcd.h - an etcd v3 client spoken as JSON over etcd's HTTP gateway (/v3/...).
 *
 * Keys and values are C strings here; base64, as the gateway wants them, is this
 * module's business. A client holds a list of endpoints and fails over to the next
 * one when a request cannot reach the current one. One client per thread: it owns
 * an http_client, which is not thread-safe. */
#ifndef DOKKAA_ETCD_H
#define DOKKAA_ETCD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dokkaa/err.h"

typedef struct etcd etcd;

/* Every revision this client hands out (a kv's, a range's, an event's) is in
 * 0..ETCD_REVISION_MAX, so that revision + 1, where a watch resumes, never
 * overflows; an answer with any other is an ERR_REMOTE decode error. etcd itself
 * would need 2^63 writes to get there: only a broken or hostile peer sends one. */
#define ETCD_REVISION_MAX (INT64_MAX - 1)

typedef struct etcd_kv {
    char *key;
    char *value;       /* NUL-terminated; value_len excludes the NUL */
    size_t value_len;
    int64_t create_revision;
    int64_t mod_revision;
    int64_t version;
    int64_t lease;
} etcd_kv;

typedef struct etcd_kvs {
    etcd_kv *kvs;
    size_t n;
    int64_t revision; /* the store's revision when the range was read */
} etcd_kvs;

enum etcd_cmp_target { ETCD_CMP_VERSION, ETCD_CMP_CREATE, ETCD_CMP_MOD, ETCD_CMP_VALUE, ETCD_CMP_LEASE };
enum etcd_cmp_result { ETCD_EQUAL, ETCD_GREATER, ETCD_LESS, ETCD_NOT_EQUAL };

typedef struct etcd_cmp {
    const char *key;
    bool prefix;                 /* compare every key under key (a range) */
    enum etcd_cmp_target target;
    enum etcd_cmp_result result;
    int64_t number;              /* for VERSION, CREATE, MOD, LEASE */
    const char *value;           /* for VALUE */
} etcd_cmp;

enum etcd_op_type { ETCD_OP_PUT, ETCD_OP_DELETE };

typedef struct etcd_op {
    enum etcd_op_type type;
    const char *key;
    const char *value; /* PUT */
    int64_t lease;     /* PUT; 0 = none */
    bool prefix;       /* DELETE of every key under key */
} etcd_op;

enum etcd_event_type { ETCD_EVENT_PUT, ETCD_EVENT_DELETE };

typedef struct etcd_event {
    enum etcd_event_type type;
    etcd_kv kv; /* for DELETE, value is "" and mod_revision is the deletion's */
} etcd_event;

/* Called with each batch of events, in revision order; return false to end the watch. */
typedef bool (*etcd_watch_fn)(void *ud, const etcd_event *events, size_t n);

/* endpoints: comma-separated URLs, e.g. "http://127.0.0.1:2379,http://10.88.0.12:2379". */
etcd *etcd_new(const char *endpoints, err_t *err);
void etcd_free(etcd *e);

/* Bound each unary call to ms (default 10 s). A lease keeper sets it below a third
 * of the TTL, so that a stalled member is left for the next one in time. */
void etcd_set_timeout(etcd *e, long ms);

/* The endpoint currently in use (for messages). */
const char *etcd_endpoint(const etcd *e);

/* Read one key (out->n is 0 or 1) or every key under a prefix, sorted by key. */
int etcd_get(etcd *e, const char *key, etcd_kvs *out, err_t *err);
int etcd_get_prefix(etcd *e, const char *prefix, etcd_kvs *out, err_t *err);
void etcd_kvs_free(etcd_kvs *kvs);

/* In kvs sorted by key (as every range is): the index of the first key >= key,
 * *found telling whether it is key itself (found may be NULL); O(log n). */
size_t etcd_kvs_search(const etcd_kvs *kvs, const char *key, bool *found);
/* The kv of key in kvs sorted by key, or NULL. */
const etcd_kv *etcd_kvs_get(const etcd_kvs *kvs, const char *key);

/* *revision (may be NULL) gets the store revision after the write. */
int etcd_put(etcd *e, const char *key, const char *value, int64_t lease, int64_t *revision,
             err_t *err);
/* *prev (may be NULL) gets the keys deleted, with their last values, and the store
 * revision after the delete; free it with etcd_kvs_free. */
int etcd_delete(etcd *e, const char *key, bool prefix, etcd_kvs *prev, err_t *err);

/* If every compare holds, apply the success ops, else the failure ops.
 * *succeeded tells which branch ran. */
int etcd_txn(etcd *e, const etcd_cmp *cmps, size_t ncmps, const etcd_op *success, size_t nsuccess,
             const etcd_op *failure, size_t nfailure, bool *succeeded, err_t *err);

int etcd_lease_grant(etcd *e, int64_t ttl_seconds, int64_t *lease, err_t *err);
/* What one lease refresh says: the seconds left (0 when the lease has expired) and
 * the raft term of the cluster that answered (0 when it did not say): a new term is
 * a new etcd leader, which restarted every lease's TTL. */
typedef struct etcd_keepalive {
    int64_t ttl;
    int64_t term;
} etcd_keepalive;
/* Refresh a lease once. */
int etcd_lease_keepalive(etcd *e, int64_t lease, etcd_keepalive *ka, err_t *err);
int etcd_lease_revoke(etcd *e, int64_t lease, err_t *err);
/* The keys bound to a lease (values empty: etcd does not say them). */
int etcd_lease_keys(etcd *e, int64_t lease, etcd_kvs *keys, err_t *err);

/* The cluster's membership (the Cluster service): what `dokkaacfg up` needs to
 * bring back a member that lost its data (remove it, add it again, start it with
 * initial-cluster-state existing). A member added but not started yet has no
 * name. */
typedef struct etcd_member {
    uint64_t id;
    char name[64];
    char peer_url[256]; /* the first */
} etcd_member;
int etcd_member_list(etcd *e, etcd_member **members, size_t *n, err_t *err);
int etcd_member_add(etcd *e, const char *peer_url, uint64_t *id, err_t *err);
int etcd_member_remove(etcd *e, uint64_t id, err_t *err);

/* Watch every key under prefix from start_revision (0 = from now on) and deliver
 * events to fn until it returns false (returns 0) or *stop becomes true (returns -1,
 * ERR_CANCELLED). When the connection or the endpoint is lost, the watch reconnects
 * (failing over between endpoints, with back-off) and resumes right after the last
 * revision it delivered: no event is lost or delivered twice. If that revision has
 * been compacted away, it returns -1 with ERR_COMPACTED and *compact_revision (may be
 * NULL) set: the caller must read the prefix afresh and watch from there. */
int etcd_watch(etcd *e, const char *prefix, int64_t start_revision, etcd_watch_fn fn, void *ud,
               const atomic_bool *stop, int64_t *compact_revision, err_t *err);

#endif
