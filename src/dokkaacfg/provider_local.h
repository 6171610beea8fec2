/* provider_local.h - the local provider: a Dokkaa cluster on this machine, each
 * host a network namespace on one bridge, with its own dockerd, etcd member (the
 * first three hosts), conductor, ambassador and builder, and one registry for all.
 *
 * Every name and address comes from the cluster name (default "dokkaa") and its
 * network 10.88.<net>.0/24, as ../shared/DESIGN.md fixes them: bridge <name>0 at
 * .1, host i = namespace <name>-h<i> at .(10+i), state /var/lib/<name>/h<i>/,
 * runtime /run/<name>/h<i>/. The provider's files share this header:
 * provider_local.c (names, the daemon table), _up.c, _down.c, _status.c. */
#ifndef PROVIDER_LOCAL_H
#define PROVIDER_LOCAL_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include "dokkaa/config.h" /* CONFIG_CLUSTER_DEFAULT */
#include "dokkaa/err.h"

#define PROVIDER_LOCAL_MAX_HOSTS 8
#define PROVIDER_LOCAL_MAX_MEMBERS 3
#define PROVIDER_LOCAL_NAME_MAX 11 /* "<name>-h8p" must fit IFNAMSIZ-1 */

/* The daemons, in the order up starts them (and the daemon table's order). */
enum provider_local_daemon_id {
    PL_DOCKERD, PL_ETCD, PL_CONDUCTOR, PL_AMBASSADOR, PL_BUILDER, PL_REGISTRY, PL_NDAEMONS
};

typedef struct provider_local_daemon {
    const char *name;    /* in messages, and the process's argv[0] base name */
    bool in_netns;       /* started inside the host's namespace */
    bool own_pidfile;    /* writes its pidfile itself (dockerd) */
    const char *log;     /* template of the log file */
    const char *pidfile; /* template of the pidfile */
    const char *argv[32];
} provider_local_daemon;

extern const provider_local_daemon provider_local_daemons[PL_NDAEMONS];

typedef struct provider_local {
    char name[PROVIDER_LOCAL_NAME_MAX + 1];
    int net;               /* 10.88.<net>.0/24 */
    int hosts;             /* hosts made so far (from the state file), or wanted */
    int members;           /* etcd members: hosts 1..members, fixed by the first up */
    bool saved;            /* a state file exists: the cluster was (partly) made */
    char bin[PATH_MAX];    /* directory of the dokkaa-* programs (our own) */
    char etcd[512];        /* every member's client URL, comma-separated */
    pid_t spawned[PROVIDER_LOCAL_MAX_HOSTS + 1][PL_NDAEMONS]; /* started by this run */
    int changed;           /* steps of this run that changed something */
} provider_local;

/* Name the cluster, pick its network (net < 0: 0 for the default name, else
 * 1 + a stable hash of the name) and read its state file if there is one (its
 * network then wins). */
int provider_local_init(provider_local *pl, const char *name, int net, err_t *err);

/* Fill pl->etcd from pl->net and pl->members. */
void provider_local_endpoints(provider_local *pl);

int provider_local_up(provider_local *pl, int hosts, err_t *err);
int provider_local_down(provider_local *pl, err_t *err);
/* The cluster view for `dokkaacfg status`. */
int provider_local_status(provider_local *pl, err_t *err);

/* Expand a template for host i (0: the machine): {name} {net} {gw} {registry}
 * {root} {rt} {bin} {etcd} {initial} and, per host, {i} {id} {ip} {hostetcd} {ns}
 * {nsfile} {state} {run}. */
int provider_local_expand(const provider_local *pl, int i, const char *tmpl, char *buf, size_t size,
                          err_t *err);

/* The daemon's argv for host i, nsenter in front if it runs in the namespace.
 * store holds the strings; argv points into it. */
typedef struct provider_local_argv {
    const char *argv[40];
    char store[40][320];
} provider_local_argv;
int provider_local_daemon_argv(const provider_local *pl, int i, enum provider_local_daemon_id d,
                               provider_local_argv *out, err_t *err);

/* Whether the daemon runs on host i; its pid or 0. */
pid_t provider_local_daemon_pid(const provider_local *pl, int i, enum provider_local_daemon_id d);

/* Run a command whose arguments are templates for host i, NULL-terminated:
 * provider_local_run(pl, 2, err, "ip", "netns", "add", "{ns}", NULL). */
int provider_local_run(const provider_local *pl, int i, err_t *err, ...) __attribute__((sentinel));
/* The same as a check: whether the command exits 0. */
bool provider_local_probe(const provider_local *pl, int i, ...) __attribute__((sentinel));
/* Whether the path template names an existing file. */
bool provider_local_exists(const provider_local *pl, int i, const char *tmpl);

int provider_local_save(const provider_local *pl, err_t *err);
/* mkdir -p, of a path or of a template for host i. */
int provider_local_mkdirs(const char *path, err_t *err);
int provider_local_mkdirs_t(const provider_local *pl, int i, const char *tmpl, err_t *err);

#endif
