/* keys.h - the cluster's etcd keys and the records stored under them.
 *
 * This module is DESIGN.md's key table as code, and the only place that spells a
 * key or a record. The four programs meet only in etcd, so this is their whole
 * contract: a program builds a key with keys_<kind>_key(), takes one apart with
 * keys_parse(), and turns a record into JSON and back with keys_<record>_encode /
 * _decode. None formats or parses a key or a record's JSON by hand.
 *
 *   key                                              record         written by
 *   /apps/<app>/<name>/manifest                      manifest.h     user, builder
 *   /apps/<app>/<name>/instances/<i>                 keys_placement the elected scheduler
 *   /apps/<app>/<name>/rollout                       keys_rollout   the elected scheduler
 *   /apps/<app>/<name>/author                        keys_author    builder (beside the manifest)
 *   /revisions/<app>/<name>/<n>                      keys_revision  the elected scheduler
 *   /hosts/<host>                                    keys_host      the host's conductor
 *   /alive/<host>                                    keys_alive     the host's conductor
 *   /status/<app>/<name>/<i>                         keys_status    the conductor running it
 *   /services/<app>/<service>/<container>@<host>     keys_service   the conductor running it
 *   /links/<app>/<service>                           keys_link      the link's first user
 *   /cluster/leader                                  keys_leader    conductors (election)
 *   /cluster/rebalance                               keys_rebalance dokkaacfg rebalance
 *   /tokens/<sha256 of the token, hex>               keys_token     builder, dokkaacfg
 *
 * Invariants this module keeps:
 *  - a key it builds parses back to the same parts (the unit test walks every kind);
 *  - keys_parse accepts only the canonical spelling: names are DNS labels without
 *    "--" (names.h), an instance number is a decimal without sign or leading zero in
 *    0..MANIFEST_MAX_SCALE-1, a host id is keys_check_host's; so a key that parses
 *    is the one key its parts would build, and whoever deletes it by its parts
 *    deletes it;
 *  - a builder whose key would not fit in KEYS_SIZE writes "" rather than a cut key
 *    that could name another one; etcd.c refuses "" (as a prefix it would be every
 *    key), and the programs check names (names.h) before they build keys of them;
 *  - decoders check every field they know and ignore fields they do not, so that a
 *    newer conductor's extra field never breaks an older builder mid-upgrade;
 *    encoders write the fields in a fixed order, so that a record that did not
 *    change is the same bytes and is not written again.
 */
#ifndef DOKKAA_KEYS_H
#define DOKKAA_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#include "dokkaa/err.h"

#define KEYS_SIZE 512           /* any key this module builds fits, with its NUL */
#define KEYS_NAME_SIZE 64       /* a label or a host id (at most 63) and its NUL */
#define KEYS_CONTAINER_SIZE 200 /* "<app>---<name>---<i>" and its NUL */
#define KEYS_TIME_SIZE 32       /* RFC 3339 UTC, "2026-12-02T17:20:42Z" */
#define KEYS_ERROR_SIZE 1024    /* a status's error, as long as an err_t's */
#define KEYS_TOKEN_HASH_LEN 64  /* sha256 in hex */
#define KEYS_TOKEN_ID_SIZE 13   /* 12 hex digits and the NUL */
#define KEYS_TOKEN_NAME_SIZE 64 /* 1..63 printable ASCII, and the NUL */
#define KEYS_HASH_SIZE 17       /* a manifest hash: 16 hex digits and the NUL */
#define KEYS_BY_SIZE 160        /* who made a revision, for people */

/* The prefixes, for ranges and watches. */
#define KEYS_APPS "/apps/"
#define KEYS_HOSTS "/hosts/"
#define KEYS_ALIVES "/alive/"
#define KEYS_STATUSES "/status/"
#define KEYS_SERVICES "/services/"
#define KEYS_LINKS "/links/"
#define KEYS_CLUSTER "/cluster/"
#define KEYS_TOKENS "/tokens/"
#define KEYS_REVISIONS "/revisions/"
#define KEYS_LEADER_KEY "/cluster/leader"
#define KEYS_REBALANCE_KEY "/cluster/rebalance"

/* ---- keys ------------------------------------------------------------------------ */

enum keys_kind {
    KEYS_OTHER,     /* not a key of the table, or not spelled canonically */
    KEYS_MANIFEST,  /* app, name */
    KEYS_INSTANCE,  /* app, name, instance: a placement */
    KEYS_HOST,      /* host */
    KEYS_STATUS,    /* app, name, instance */
    KEYS_SERVICE,   /* app, service, container, host */
    KEYS_LINK,      /* app, service */
    KEYS_LEADER,
    KEYS_REBALANCE,
    KEYS_TOKEN,     /* hash */
    KEYS_ROLLOUT,   /* app, name */
    KEYS_AUTHOR,    /* app, name */
    KEYS_REVISION,  /* app, name, revision */
    KEYS_ALIVE,     /* host; the last kind (the tests walk them all) */
};

/* A key taken apart; the fields its kind does not have are "" (instance -1). */
typedef struct keys_key {
    enum keys_kind kind;
    char app[KEYS_NAME_SIZE];
    char name[KEYS_NAME_SIZE];
    char service[KEYS_NAME_SIZE];
    char host[KEYS_NAME_SIZE];
    char container[KEYS_CONTAINER_SIZE];
    char hash[KEYS_TOKEN_HASH_LEN + 1];
    int instance;
    int revision;   /* KEYS_REVISION: 1..KEYS_MAX_REVISION; else 0 */
} keys_key;

#define KEYS_MAX_REVISION 999999999

/* Take key apart. -1 with ERR_INVALID (and k->kind KEYS_OTHER) when it is not a
 * key of the table spelled canonically; err then says what is wrong with it, as
 * precisely as it can ("key \"/apps/x/y/instances/01\": instance: must be ..."). */
int keys_parse(const char *key, keys_key *k, err_t *err);

/* Like keys_parse, but only a key of kind counts (no error text: for scans of a
 * range that holds several kinds, such as /apps/). */
bool keys_is(const char *key, enum keys_kind kind, keys_key *k);

/* A host id: 1..63 of [A-Za-z0-9._-], not starting with '.' or '-' (a hostname, or
 * the local provider's "h1"); -1 with a precise err otherwise. */
int keys_check_host(const char *id, err_t *err);

/* Builders: keys_<kind>_key writes the key into key (KEYS_SIZE bytes) and returns
 * it. */
const char *keys_manifest_key(char *key, const char *app, const char *name);
const char *keys_instance_key(char *key, const char *app, const char *name, int instance);
const char *keys_host_key(char *key, const char *host);
const char *keys_alive_key(char *key, const char *host);
const char *keys_status_key(char *key, const char *app, const char *name, int instance);
const char *keys_service_key(char *key, const char *app, const char *service,
                             const char *container, const char *host);
const char *keys_link_key(char *key, const char *app, const char *service);
const char *keys_token_key(char *key, const char *hash);
const char *keys_rollout_key(char *key, const char *app, const char *name);
const char *keys_author_key(char *key, const char *app, const char *name);
const char *keys_revision_key(char *key, const char *app, const char *name, int revision);

/* Prefixes of a part of the table, each ending in '/'. A NULL name or service gives
 * the prefix of the whole app. */
const char *keys_app_prefix(char *key, const char *app);                           /* /apps/a/ */
const char *keys_instances_prefix(char *key, const char *app, const char *name);   /* /apps/a/n/instances/ */
const char *keys_status_prefix(char *key, const char *app, const char *name);      /* /status/a/[n/] */
const char *keys_services_prefix(char *key, const char *app, const char *service); /* /services/a/[s/] */
const char *keys_links_prefix(char *key, const char *app);                         /* /links/a/ */
const char *keys_revisions_prefix(char *key, const char *app, const char *name);   /* /revisions/a/[n/] */

/* ---- records --------------------------------------------------------------------- */

/* Encoders return the record's compact JSON (free() it), or NULL when out of memory.
 * Decoders fill the struct from a value or fail with ERR_INVALID saying which field
 * is wrong ("placement: host: must be a host id, got 7"), the struct then zeroed. */

/* /apps/<app>/<name>/instances/<i>: where the scheduler put an instance. During a
 * handoff (sched.h) also where it comes from and since when (Unix seconds). */
typedef struct keys_placement {
    char host[KEYS_NAME_SIZE];
    char hash[KEYS_HASH_SIZE]; /* the revision (manifest hash) it is to run; "" in records
                                * of versions before rollouts: whatever it runs */
    long long changed;         /* Unix seconds hash was last set (a rollout's batch
                                * began for it: its deadline counts from here), 0 none */
    char from[KEYS_NAME_SIZE]; /* "" unless handed off */
    long long since;           /* with from */
} keys_placement;
char *keys_placement_encode(const keys_placement *p);
int keys_placement_decode(const char *json, size_t len, keys_placement *p, err_t *err);

/* An instance's state: Docker's container states, and Dokkaa's own for an instance
 * without a container (pending: placed, not created yet; failed: its last create or
 * start failed; invalid: its manifest does not validate). */
enum keys_state {
    KEYS_STATE_UNKNOWN,
    KEYS_STATE_PENDING,
    KEYS_STATE_CREATED,
    KEYS_STATE_RUNNING,
    KEYS_STATE_PAUSED,
    KEYS_STATE_RESTARTING,
    KEYS_STATE_REMOVING,
    KEYS_STATE_EXITED,
    KEYS_STATE_DEAD,
    KEYS_STATE_FAILED,
    KEYS_STATE_INVALID,
};
/* "running", ...; "unknown" for KEYS_STATE_UNKNOWN. */
const char *keys_state_name(enum keys_state state);
/* The state named text, or -1 with a precise err. */
int keys_state_parse(const char *text, enum keys_state *state, err_t *err);

/* An instance's health (manifest "health"): none without a health check. */
enum keys_health { KEYS_HEALTH_NONE, KEYS_HEALTH_STARTING, KEYS_HEALTH_HEALTHY, KEYS_HEALTH_UNHEALTHY };
/* "starting", "healthy", "unhealthy"; "" for none */
const char *keys_health_name(enum keys_health health);

/* /status/<app>/<name>/<i>. During a start-first rollout it describes the instance's
 * next container (container is names_next's), the one the rollout waits for. */
typedef struct keys_status {
    char host[KEYS_NAME_SIZE];
    char container[KEYS_CONTAINER_SIZE];
    char hash[KEYS_HASH_SIZE];   /* the revision the container runs ("" unknown) */
    enum keys_state state;
    enum keys_health health;     /* omitted when none */
    char since[KEYS_TIME_SIZE]; /* when it entered state */
    char error[KEYS_ERROR_SIZE]; /* "" for none */
} keys_status;
char *keys_status_encode(const keys_status *s);
int keys_status_decode(const char *json, size_t len, keys_status *s, err_t *err);

/* /services/<app>/<service>/<container>@<host>: where the host publishes it. */
typedef struct keys_service {
    char addr[KEYS_NAME_SIZE];
    int port;
} keys_service;
char *keys_service_encode(const keys_service *s);
int keys_service_decode(const char *json, size_t len, keys_service *s, err_t *err);

/* /hosts/<host>. The record also has "labels" (DESIGN.md), written as {} and not
 * read: nothing sets host labels yet; the constraints that will use them add the
 * field here. */
typedef struct keys_host {
    char addr[KEYS_NAME_SIZE];
    int cpus;
    long long memory; /* bytes */
    char version[KEYS_NAME_SIZE];
    char started[KEYS_TIME_SIZE];
} keys_host;
char *keys_host_encode(const keys_host *h);
int keys_host_decode(const char *json, size_t len, keys_host *h, err_t *err);

/* /links/<app>/<service>: the port every ambassador listens on for the link. */
typedef struct keys_link {
    int port;
} keys_link;
char *keys_link_encode(const keys_link *l);
int keys_link_decode(const char *json, size_t len, keys_link *l, err_t *err);

/* /alive/<host>: the last etcd term (raft_term) in which the host's conductor
 * renewed its lease, under that lease. A host that has one but has not renewed
 * since etcd elected a new leader is one the others may declare dead without the
 * TTL the election restarted (the conductor's audit.c). */
typedef struct keys_alive {
    long long term;
} keys_alive;
char *keys_alive_encode(const keys_alive *a);
int keys_alive_decode(const char *json, size_t len, keys_alive *a, err_t *err);

/* /cluster/leader: the conductor that schedules. */
typedef struct keys_leader {
    char host[KEYS_NAME_SIZE];
} keys_leader;
char *keys_leader_encode(const keys_leader *l);
int keys_leader_decode(const char *json, size_t len, keys_leader *l, err_t *err);

/* /cluster/rebalance: asked when (Unix seconds); its presence is the request. */
typedef struct keys_rebalance {
    long long requested;
} keys_rebalance;
char *keys_rebalance_encode(const keys_rebalance *r);

/* How a rollout stands or ended (keys_rollout.state, keys_revision.outcome):
 * "rolling", "rolled-out", "rolled-back", "paused", "failed" (it failed with
 * nothing to roll back to), "superseded" (a newer revision came first). */
enum keys_outcome {
    KEYS_OUTCOME_ROLLING,
    KEYS_OUTCOME_ROLLED_OUT,
    KEYS_OUTCOME_ROLLED_BACK,
    KEYS_OUTCOME_PAUSED,
    KEYS_OUTCOME_FAILED,
    KEYS_OUTCOME_SUPERSEDED,
};
const char *keys_outcome_name(enum keys_outcome outcome);
int keys_outcome_parse(const char *text, enum keys_outcome *outcome, err_t *err);

/* /apps/<app>/<name>/rollout: the scheduler's record of the manifest's current
 * revision and how its rollout stands; a new leader carries on from it. */
typedef struct keys_rollout {
    int revision;                 /* 1..KEYS_MAX_REVISION */
    char hash[KEYS_HASH_SIZE];    /* the revision's manifest hash */
    char stable[KEYS_HASH_SIZE];  /* the hash of the last revision that rolled out healthy
                                   * ("" none): where an automatic rollback goes */
    enum keys_outcome state;
    bool rollback;                /* an automatic rollback: all instances at once, and a
                                   * failure pauses (a rollback is never rolled back) */
    int updated;                  /* instances running the revision, healthy */
    int failed;                   /* instances of the revision that failed */
    int total;                    /* scale */
    long long since;              /* Unix seconds the rollout began */
    char reason[KEYS_ERROR_SIZE]; /* why it failed, paused or rolled back; "" */
} keys_rollout;
char *keys_rollout_encode(const keys_rollout *r);
int keys_rollout_decode(const char *json, size_t len, keys_rollout *r, err_t *err);

/* /apps/<app>/<name>/author: who wrote the manifest, written with it (builder) so
 * that the scheduler can name them in the revision it records. It speaks for the
 * manifest only while hash is the manifest's; written around the builder, a
 * revision is by "etcd". */
typedef struct keys_author {
    char by[KEYS_BY_SIZE];
    char hash[KEYS_HASH_SIZE];
} keys_author;
char *keys_author_encode(const keys_author *a);
int keys_author_decode(const char *json, size_t len, keys_author *a, err_t *err);

/* /revisions/<app>/<name>/<n>: one kept revision of a manifest (the last
 * KEYS_REVISIONS_KEPT). Outside /apps/ so that the conductors' full read of /apps/
 * every pass does not carry the history. */
#define KEYS_REVISIONS_KEPT 10
typedef struct keys_revision {
    int revision;
    char hash[KEYS_HASH_SIZE];
    char by[KEYS_BY_SIZE];
    char at[KEYS_TIME_SIZE];
    enum keys_outcome outcome;
    char reason[KEYS_ERROR_SIZE];
    char *manifest;               /* the manifest as written (decode allocates it, up to
                                   * MANIFEST_MAX_BYTES; keys_revision_free) */
} keys_revision;
char *keys_revision_encode(const keys_revision *r);
int keys_revision_decode(const char *json, size_t len, keys_revision *r, err_t *err);
void keys_revision_free(keys_revision *r);

/* /tokens/<hash>: a token's record (token.h makes tokens); the secret itself is
 * never stored. The id is the first 12 hex digits of the hash. */

/* What a token may do; anonymous is a request without one (no record has it). */
enum keys_role { KEYS_ROLE_ANONYMOUS, KEYS_ROLE_READ_ONLY, KEYS_ROLE_ADMIN };
/* "admin" / "read-only" / "anonymous" */
const char *keys_role_name(enum keys_role role);
/* Parse "admin" or "read-only"; -1 with a precise err otherwise. */
int keys_role_parse(const char *text, enum keys_role *role, err_t *err);

typedef struct keys_token {
    char id[KEYS_TOKEN_ID_SIZE];
    char name[KEYS_TOKEN_NAME_SIZE];
    enum keys_role role;
    char created[KEYS_TIME_SIZE];
} keys_token;
char *keys_token_encode(const keys_token *t);
int keys_token_decode(const char *json, size_t len, keys_token *t, err_t *err);

#endif
