/* manifest.h - the container manifest: parse, validate strictly, describe.
 *
 * A manifest is the JSON a user writes to /apps/<app>/<name>/manifest (DESIGN.md):
 *   { "image": "dockerfile/nginx", "scale": 1, "services": { "nginx": 80 } }
 * Validation is strict and its messages are precise and name the field:
 *   scale: must be an integer 0..1000, got "3"
 *   unknown field "scal"; valid fields: image, scale, command, services, links, env,
 *     health, update, stop_grace
 */
#ifndef DOKKAA_MANIFEST_H
#define DOKKAA_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>

#include "dokkaa/err.h"
#include "dokkaa/names.h"

#define MANIFEST_MAX_SCALE 1000
#define MANIFEST_MAX_BYTES (1024 * 1024)
#define MANIFEST_MAX_IMAGE 255
#define MANIFEST_MAX_COMMAND 256
#define MANIFEST_MAX_SERVICES 64
#define MANIFEST_MAX_LINKS 64

typedef struct manifest_service {
    char *name; /* a DNS label */
    int port;   /* the container port, 1..65535 */
} manifest_service;

typedef struct manifest_env {
    char *name; /* a POSIX variable name: [A-Za-z_][A-Za-z0-9_]* */
    char *value;
} manifest_env;

/* "health": how the conductor tells that an instance serves (README, field table).
 * Without one, an instance is healthy while it runs. */
enum manifest_health_kind {
    MANIFEST_HEALTH_NONE, /* no "health" field */
    MANIFEST_HEALTH_HTTP, /* {"http": "/path"}: GET answers 2xx or 3xx */
    MANIFEST_HEALTH_TCP,  /* {"tcp": true}: the port accepts a connection */
    MANIFEST_HEALTH_EXEC, /* {"exec": ["cmd", "arg"]}: exits 0 inside the container */
};

typedef struct manifest_health {
    enum manifest_health_kind kind;
    char *path;         /* HTTP: starts with '/', printable ASCII, at most 1024 bytes */
    char **exec;        /* EXEC: NULL-terminated argv, 1..MANIFEST_MAX_COMMAND strings */
    size_t nexec;
    int port;           /* HTTP, TCP: the container port probed, one of the services';
                         * default the first service's (by name). 0 for EXEC/NONE */
    int interval;       /* seconds between probes once it passed: 1..3600, default 2 */
    int timeout;        /* seconds one probe may take: 1..3600, default 2 */
    int retries;        /* failures in a row that make it unhealthy: 1..100, default 3 */
    int start_period;   /* seconds after start when failures do not count: 0..3600, default 0 */
} manifest_health;

/* "update": how a new revision replaces the instances (README). */
enum manifest_order { MANIFEST_START_FIRST, MANIFEST_STOP_FIRST };
enum manifest_on_failure { MANIFEST_ROLLBACK, MANIFEST_PAUSE };

typedef struct manifest_update {
    int parallel;       /* instances replaced at once: 1..1000, or a percentage */
    bool percent;       /* parallel is "P%", 1..100, of scale (manifest_batch) */
    enum manifest_order order;           /* default start-first */
    int deadline;       /* seconds one new instance has to become healthy: 1..3600, default 60 */
    enum manifest_on_failure on_failure; /* default rollback */
} manifest_update;

#define MANIFEST_HEALTH_PATH_MAX 1024

typedef struct manifest {
    char *image;
    int scale;                  /* default 1 */
    char **command;             /* NULL-terminated argv, or NULL for the image's own */
    size_t ncommand;
    manifest_service *services; /* sorted by name */
    size_t nservices;
    char **links;               /* service names, sorted, no duplicates */
    size_t nlinks;
    manifest_env *env;          /* sorted by name */
    size_t nenv;
    manifest_health health;     /* kind NONE without the field */
    manifest_update update;     /* the defaults without the field */
    int stop_grace;             /* seconds between SIGTERM and SIGKILL: 0..3600, default 10 */
    char hash[17];              /* 16 hex digits identifying a revision: every field but
                                 * scale. A manifest without health, update and stop_grace
                                 * hashes as it did before they existed, so an upgrade of
                                 * Dokkaa does not roll out anything. */
} manifest;

/* How many instances a rollout replaces at once: update.parallel, or its percentage
 * of scale rounded up; at least 1. */
int manifest_batch(const manifest *m);

/* Parse and validate. On failure *m is left empty and err (ERR_INVALID) says what
 * is wrong and where, e.g. "services.nginx: must be a port 1..65535, got 0". */
int manifest_parse(const char *json, size_t len, manifest *m, err_t *err);
void manifest_free(manifest *m);

#endif
