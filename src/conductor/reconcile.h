/* reconcile.h - what the files of a reconcile pass share (reconcile.c reads and
 * drives a pass; leader.c elects and schedules; announce.c writes /status/ and
 * /services/; act.c carries out the plan). Not for outside the conductor. */
#ifndef DOKKAA_RECONCILE_H
#define DOKKAA_RECONCILE_H

#include <jansson.h>
#include <pthread.h>

#include "conductor.h"
#include "dokkaa/docker.h"
#include "dokkaa/etcd.h"
#include "dokkaa/keys.h"
#include "kvset.h"
#include "health.h"
#include "warned.h"
#include "plan.h"
#include "rollout.h"
#include "sched.h"
#include "spec.h"

struct reconciler {
    conductor *c;
    etcd *e;
    docker *d;
    spec_host host;
    kvset announced;      /* what etcd holds from this host */
    int announced_epoch;  /* the lease epoch it was written under */
    kvset failures;       /* container name (or plan_failure_key) -> why its last
                           * action failed; only what plan_failure_current keeps */
    warned warned;        /* problems with keys, logged once */
    char leader_warned[sizeof(((err_t *)0)->msg)]; /* leader.c's failure last logged,
                                                      "" since a pass without one */
    bool unreachable;     /* the last pass could not read etcd or the engine */
    unsigned long long links_signature; /* leader.c: of the manifests when link ports were last
                                  pruned (0: never) */
    pthread_mutex_t mu;   /* guards failures while workers run */
};

/* What the leader needs of a manifest beyond its spec (specs[i] <-> meta[i]). */
typedef struct reconcile_meta {
    char *text;                /* the manifest as written */
    long long mod_revision;    /* of the manifest key: a rollback's write compares it */
    bool has_rollout;
    keys_rollout rollout;      /* /apps/<app>/<name>/rollout */
    bool has_author;
    keys_author author;        /* /apps/<app>/<name>/author */
} reconcile_meta;

/* A rollout or author record read, and whose it is. */
typedef struct reconcile_rollout {
    keys_key key;
    keys_rollout rec;
} reconcile_rollout;
typedef struct reconcile_author {
    keys_key key;
    keys_author rec;
} reconcile_author;

/* What one pass read. */
typedef struct reconcile_view {
    plan_spec *specs;              /* from /apps/<app>/<name>/manifest, in key order */
    reconcile_meta *meta;          /* meta[i] goes with specs[i] */
    size_t nspecs;
    plan_spec *revisions;          /* other revisions' manifests that placements or
                                    * containers here need (from /revisions/) */
    size_t nrevisions;
    reconcile_rollout *rollouts;   /* as read, before they go to meta */
    size_t nrollouts;
    reconcile_author *authors;
    size_t nauthors;
    sched_placement *placements;   /* from /apps/<app>/<name>/instances/<i> */
    size_t nplacements;
    json_t *list;                  /* the engine's containers of this cluster */
    plan_container *containers;    /* containers[i] describes list[i] */
    size_t ncontainers;
} reconcile_view;

/* The spec of (app, name)'s revision hash: the manifest's, or one of v->revisions,
 * or NULL. */
static inline const plan_spec *reconcile_revision(const reconcile_view *v, const char *app,
                                                  const char *name, const char *hash)
{
    return plan_revision(v->specs, v->nspecs, v->revisions, v->nrevisions, app, name, hash);
}

/* leader.c: campaign for /cluster/leader; when leading, schedule and write the
 * placements. Returns true when it wrote any. */
bool leader_pass(reconciler *r, const reconcile_view *v);

/* deploy.c: write what a rollout step decided for spec (its record, revisions, a
 * rollback), fenced on the leadership of lease; placements are the caller's. -1
 * when not written (logged): the next pass decides again. */
int deploy_apply(etcd *e, int64_t lease, const plan_spec *spec, const reconcile_meta *meta,
                 rollout_step *st, long now);

/* announce.c: write the status of each instance placed here and the services of
 * the running ones, sending etcd only what changed since the last pass. */
void announce_pass(reconciler *r, const reconcile_view *v);
/* announce.c: the state the engine gives a container in its list ("running", ...)
 * in a status's terms; one Dokkaa does not know, or none, is KEYS_STATE_UNKNOWN. */
enum keys_state announce_engine_state(json_t *container);
/* announce.c: the host port the engine published for a container's TCP port, or 0. */
int announce_published(json_t *container, int port);

/* act.c: carry out a plan; returns how many actions succeeded. */
int act_run(reconciler *r, const plan_action *actions, size_t n);

#endif
