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
#include "warned.h"
#include "plan.h"
#include "sched.h"
#include "spec.h"

struct reconciler {
    conductor *c;
    etcd *e;
    docker *d;
    spec_host host;
    kvset announced;      /* what etcd holds from this host */
    int announced_epoch;  /* the lease epoch it was written under */
    kvset failures;       /* container name -> why its last create/start failed */
    warned warned;        /* problems with keys, logged once */
    char leader_warned[sizeof(((err_t *)0)->msg)]; /* leader.c's failure last logged,
                                                      "" since a pass without one */
    bool unreachable;     /* the last pass could not read etcd or the engine */
    pthread_mutex_t mu;   /* guards failures while workers run */
};

/* What one pass read. */
typedef struct reconcile_view {
    plan_spec *specs;              /* from /apps/<app>/<name>/manifest, in key order */
    size_t nspecs;
    sched_placement *placements;   /* from /apps/<app>/<name>/instances/<i> */
    size_t nplacements;
    json_t *list;                  /* the engine's containers of this cluster */
    plan_container *containers;    /* containers[i] describes list[i] */
    size_t ncontainers;
} reconcile_view;

/* leader.c: campaign for /cluster/leader; when leading, schedule and write the
 * placements. Returns true when it wrote any. */
bool leader_pass(reconciler *r, const reconcile_view *v);

/* announce.c: write the status of each instance placed here and the services of
 * the running ones, sending etcd only what changed since the last pass. */
void announce_pass(reconciler *r, const reconcile_view *v);
/* announce.c: the state the engine gives a container in its list ("running", ...)
 * in a status's terms; one Dokkaa does not know, or none, is KEYS_STATE_UNKNOWN. */
enum keys_state announce_engine_state(json_t *container);

/* act.c: carry out a plan; returns how many actions succeeded. */
int act_run(reconciler *r, const plan_action *actions, size_t n);

#endif
