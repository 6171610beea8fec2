/* dokkaacfg.h - the CLI's commands; each is a short file of its own. */
#ifndef DOKKAACFG_H
#define DOKKAACFG_H

#include <stdbool.h>

typedef struct cfg_global {
    char etcd[1024]; /* endpoints, from --etcd or $ETCD_ADDR */
    bool etcd_given; /* by --etcd or $ETCD_ADDR: else a local cluster's own are used */
} cfg_global;

/* Each returns the process exit code: 0 ok, 1 failure, 2 usage. */
int cfg_validate(const cfg_global *g, int argc, char **argv);
int cfg_status(const cfg_global *g, int argc, char **argv);
int cfg_up(const cfg_global *g, int argc, char **argv);
int cfg_down(const cfg_global *g, int argc, char **argv);
int cfg_rebalance(const cfg_global *g, int argc, char **argv);

#endif
