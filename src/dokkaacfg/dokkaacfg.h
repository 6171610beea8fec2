/* dokkaacfg.h - the CLI's commands; each is a short file of its own.
 *
 * Cluster commands (up, down, status, rebalance, init) speak to etcd or the local
 * provider; the app commands (ls, get, set, rm, scale, history, rollback, ps, logs,
 * hosts, events, token) speak to the builders' API through api.h. */
#ifndef DOKKAACFG_H
#define DOKKAACFG_H

#include <stdbool.h>
#include <stdio.h>

#include "dokkaa/err.h"

typedef struct cfg_global {
    char etcd[1024]; /* endpoints, from --etcd or $ETCD_ADDR */
    bool etcd_given; /* by --etcd or $ETCD_ADDR: else a local cluster's own are used */
    const char *api;   /* --api URL, or NULL: then $DOKKAA_API, the config, the default */
    const char *token; /* --token T, or NULL: then $DOKKAA_TOKEN, the config */
    const char *provider; /* --provider P before the command (the seed's order), or NULL */
} cfg_global;

/* Each returns the process exit code: 0 ok, 1 failure, 2 usage, and for the
 * commands that call the API 3 not found, 4 unauthorized or forbidden, 5 invalid
 * input; set and rollback, which wait for the rollout, also 6 it failed, 7
 * superseded, 130 interrupted (see api.h). */
int cfg_validate(const cfg_global *g, int argc, char **argv);
int cfg_status(const cfg_global *g, int argc, char **argv);
int cfg_up(const cfg_global *g, int argc, char **argv);
int cfg_down(const cfg_global *g, int argc, char **argv);
int cfg_rebalance(const cfg_global *g, int argc, char **argv);
int cfg_init(const cfg_global *g, int argc, char **argv);
int cfg_ls(const cfg_global *g, int argc, char **argv);
int cfg_get(const cfg_global *g, int argc, char **argv);
int cfg_set(const cfg_global *g, int argc, char **argv);
int cfg_rm(const cfg_global *g, int argc, char **argv);
int cfg_scale(const cfg_global *g, int argc, char **argv);
int cfg_history(const cfg_global *g, int argc, char **argv);
int cfg_rollback(const cfg_global *g, int argc, char **argv);
int cfg_ps(const cfg_global *g, int argc, char **argv);
int cfg_logs(const cfg_global *g, int argc, char **argv);
int cfg_hosts(const cfg_global *g, int argc, char **argv);
int cfg_events(const cfg_global *g, int argc, char **argv);
int cfg_token(const cfg_global *g, int argc, char **argv);
int cfg_push(const cfg_global *g, int argc, char **argv);

/* Read all of f, up to one byte over the manifest limit (so that whoever checks
 * the limit sees it exceeded): NUL-terminated, free() it; NULL when out of memory
 * or f failed (errno says why). */
char *cfg_read(FILE *f, size_t *len);

/* The CLI's config after a cluster is made (init.c): keep the admin token the
 * config holds if it exists in the cluster's etcd, else make one there; write
 * the config with api_url and that token, the CA that the API's certificate
 * chains to and the cluster's name (both NULL for a local cluster), and say
 * where it went. */
int cfg_admin_config(const char *etcd_endpoints, const char *api_url, const char *ca,
                     const char *cluster, err_t *err);

#endif
