/* health.h - the conductor's health checks (the manifest's "health").
 *
 * The main loop hands over, each pass, the containers of this host to probe
 * (health_want); a thread of its own probes them and keeps each one's health,
 * which the pass reads (health_get) to decide what it announces and when a
 * rollout's next container may take over. A change of health wakes the main loop.
 *
 * The rules (Docker's HEALTHCHECK semantics, with a faster start):
 *   - a container is "starting" until its first probe passes; it is probed every
 *     250 ms until then, and every `interval` seconds after;
 *   - a probe that passes makes it "healthy"; `retries` failures in a row make it
 *     "unhealthy" (failures within `start_period` of its first sighting do not
 *     count); a probe that passes again makes it healthy again;
 *   - http passes on a 2xx or 3xx answer to GET <path> at the host address and the
 *     port the engine published (the path the ambassadors take); tcp when that port
 *     accepts; exec when the command exits 0 inside the container;
 *   - a rollout's next container without a health check gets one of its own: it
 *     passes once the container has run for HEALTH_SETTLE_MS, so that a command
 *     that exits at once never takes over from a healthy instance. */
#ifndef DOKKAA_HEALTH_H
#define DOKKAA_HEALTH_H

#include <stddef.h>

#include "conductor.h"
#include "dokkaa/keys.h"
#include "dokkaa/manifest.h"

#define HEALTH_FAST_MS 250    /* probe period until the first pass */
#define HEALTH_SETTLE_MS 1000 /* a next container without a check must run this long */

typedef struct health_target {
    char id[72];                       /* the container's id */
    char cname[KEYS_CONTAINER_SIZE];   /* for the log */
    enum manifest_health_kind kind;    /* NONE: the settle check of a next container */
    char addr[64];                     /* HTTP, TCP: the host address... */
    int port;                          /* ... and the published port (0: not published) */
    char *path;                        /* HTTP (owned) */
    char **exec;                       /* EXEC: NULL-terminated argv (owned) */
    int interval, timeout, retries, start_period; /* seconds */
} health_target;

/* Fill t from the manifest's health check (kind NONE: the settle check). The
 * strings are copied; false when out of memory. */
bool health_target_init(health_target *t, const char *id, const char *cname,
                        const manifest_health *h, const char *addr, int port);
void health_target_free(health_target *t);

typedef struct health health;
health *health_new(void);
void health_free(health *h);

/* Hand over what to probe now (the array and its targets are taken over).
 * Containers no longer listed are forgotten; those still listed keep their health. */
void health_want(conductor *c, health_target *targets, size_t n);

/* A container's health: starting until known; why gets the last failure ("" none). */
enum keys_health health_get(conductor *c, const char *id, char *why, size_t size);

/* The probing thread; runs until c->stop. */
void *health_thread(void *arg);

#endif
