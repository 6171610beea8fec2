/* conductor.h - what the conductor's threads share.
 *
 * Threads: main runs reconcile passes; host.c keeps the host's lease and its
 * /hosts/ entry; watch.c follows etcd (/apps/) and the Docker events stream and
 * marks the state dirty so that main runs a pass. Each thread has its own etcd and
 * Docker clients (they are not thread-safe); only this struct is shared. */
#ifndef DOKKAA_CONDUCTOR_H
#define DOKKAA_CONDUCTOR_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "dokkaa/links.h"

typedef struct conductor {
    /* configuration, fixed after start */
    char cluster[64];     /* containers carry dokkaa.cluster=<cluster>; others are not ours */
    char host_id[64];
    char host_ip[64];
    char etcd_endpoints[1024];
    const char *docker_host;
    char registry[256];   /* where images named without a registry are pulled from */
    int lease_ttl;        /* seconds */
    int resync_seconds;   /* a full pass at least this often, even without events */
    int parallel;         /* Docker operations at once */
    links_range link_ports;
    char gateway[64];     /* the Docker bridge gateway, where the ambassador listens */

    atomic_bool stop;
    atomic_llong lease;       /* current host lease, 0 while there is none */
    atomic_int lease_epoch;   /* bumped when the lease changes: announce everything anew */
    atomic_bool leading;      /* this conductor is the elected scheduler */
    atomic_bool rolling;      /* ... and a rollout is under way: pass every second, so
                               * that a deadline is seen when it passes */
    atomic_llong engine_down_since; /* when the engine stopped answering; 0 while it does */

    pthread_mutex_t mu;       /* guards dirty, and cond's wait */
    pthread_cond_t cond;
    bool dirty;

    pthread_mutex_t prefetch_mu; /* guards the images below */
    pthread_cond_t prefetch_cond;
    char **prefetch;             /* images of the valid manifests, for prefetch.c */
    size_t nprefetch;
    unsigned prefetch_generation;

    struct health *health;       /* health.c's table of checks and their results */
} conductor;

/* Ask for a reconcile pass soon (any thread). */
void conductor_wake(conductor *c);

/* host.c: keeps the lease alive and /hosts/<id> written until c->stop. */
void *host_thread(void *arg);

/* watch.c: wake the main loop on changes under a prefix of etcd, and on
 * container events. */
typedef struct watch_target {
    conductor *c;
    const char *prefix;
    bool leader_only; /* wake only while this conductor leads (/status/: handoffs) */
} watch_target;
void *watch_etcd_thread(void *arg); /* arg: a watch_target */
void *watch_docker_thread(void *arg);

/* prefetch.c: pull the images in use before an instance needs them. */
void *prefetch_thread(void *arg);
/* Hand over the images in use (the array and its strings are taken over). */
void prefetch_want(conductor *c, char **images, size_t n);

/* health.h: the health checks' thread and table. */

/* reconcile.c: one pass; returns true when it changed something (run another). */
typedef struct reconciler reconciler;
reconciler *reconciler_new(conductor *c);
void reconciler_free(reconciler *r);
bool reconciler_pass(reconciler *r);

#endif
