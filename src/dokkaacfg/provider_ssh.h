/* provider_ssh.h - Dokkaa on machines the operator already has: any Debian 12
 * machines reachable as root over SSH. The digitalocean provider makes its
 * droplets, then hands them to the same steps.
 *
 * The CLI keeps each cluster in its config directory, clusters/<name>/:
 *   cluster.json  the hosts (target, address, id, etcd member or not), the trusted
 *                 networks, whether etcd was formed; written before anything is
 *                 changed on a host, so `down` finds all a failed `up` touched
 *   ca.pem ca.key the cluster's CA (pki.h); ca.key never leaves this directory
 *   client.pem/.key  the CLI's own certificate, for etcd through an SSH tunnel
 *   hosts/<addr>.pem/.key  each host's certificate, sent to /etc/dokkaa/tls/
 *   known_hosts   the hosts' SSH keys, learnt on first contact
 *
 * On a host, `up` writes /etc/dokkaa/dokkaa.conf (and etcd.conf on the first
 * three hosts, the etcd members) and starts the units of the dokkaa package. */
#ifndef PROVIDER_SSH_H
#define PROVIDER_SSH_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "dokkaa/err.h"
#include "ssh.h"

#define PROVIDER_SSH_MAX_HOSTS 64
#define PROVIDER_SSH_MAX_MEMBERS 3
#define PROVIDER_SSH_MAX_TRUST 8

typedef struct ssh_host {
    char target[256]; /* [user@]addr, as given to --host */
    char addr[64];    /* its IPv4 address, which the other hosts reach it at */
    char id[64];      /* its host id: the machine's hostname */
    bool member;      /* one of the etcd members */
    bool joined;      /* a member that joined etcd once it was formed (its
                       * etcd.conf says "existing", for good: a rerun of up
                       * writes the same file) */
    /* learnt by this run */
    char version[64]; /* the dokkaa package installed, "" for none */
    bool etcd_data;   /* it holds etcd data (a member that lost it must rejoin) */
    /* what this run's config step rewrote decides what restarts: the programs on
     * a new dokkaa.conf, registry.yml or certificate; etcd on a new certificate,
     * or on a new etcd.conf before it has data (once it has, etcd ignores the
     * INITIAL_* settings that a growing membership changes) */
    bool restart_units, restart_etcd;
    bool etcd_started; /* by this run already (a member that joined) */
    bool promoted;     /* made a member by this run, of a running etcd */
    bool leaving;     /* down: Dokkaa is taken off this host */
} ssh_host;

typedef struct ssh_cluster {
    char name[64];
    char provider[16];          /* "ssh" or "digitalocean": which `down` applies */
    char dir[PATH_MAX - 256];   /* clusters/<name>/ in the CLI's config directory (room left
                                 * for the file names under it) */
    ssh_host hosts[PROVIDER_SSH_MAX_HOSTS];
    size_t nhosts;
    char trust[PROVIDER_SSH_MAX_TRUST][64];
    size_t ntrust;
    bool formed;                /* etcd was formed: members join as "existing" */
    char identity[PATH_MAX];    /* --identity, "" for ssh's own choice */
    char package[PATH_MAX];     /* the .deb to install */
    char package_version[64];
    ssh_opts ssh;
    int changed;                /* steps of this run that changed something */
} ssh_cluster;

/* Name the cluster and read its state if it has any (*c zeroed first). */
int provider_ssh_load(ssh_cluster *c, const char *name, err_t *err);
int provider_ssh_save(const ssh_cluster *c, err_t *err);

/* For `up` of provider ("ssh", "digitalocean"): load cluster name, refuse one
 * another provider made, take identity (NULL: the one it had) and add the
 * trusted networks. */
int provider_ssh_open(ssh_cluster *c, const char *name, const char *provider, const char *identity,
                      const char *const *trust, int ntrust, err_t *err);

/* Add a host given as [user@]addr unless the cluster has it already. */
int provider_ssh_add_host(ssh_cluster *c, const char *target, err_t *err);
/* The cluster's host that target names (by address); NULL and ERR_NOTFOUND if
 * none. */
ssh_host *provider_ssh_find(ssh_cluster *c, const char *target, err_t *err);
int provider_ssh_add_trust(ssh_cluster *c, const char *cidr, err_t *err);

/* Find the package to install: file if given, else the one `make deb` built
 * beside this CLI, or the one apt kept when it installed the CLI. */
int provider_ssh_package(ssh_cluster *c, const char *file, err_t *err);

/* Install, configure and start Dokkaa on every host, form or complete etcd, wait
 * for every host to register, and write the CLI's config. Idempotent. */
int provider_ssh_up(ssh_cluster *c, err_t *err);

/* Take Dokkaa off the hosts marked leaving: units, package, files, etcd data,
 * containers. A host that cannot be reached any more (a dead machine) is dropped
 * from the cluster with a warning, so that it never blocks the next `up`. With
 * every host gone, the cluster's directory too. */
int provider_ssh_down(ssh_cluster *c, err_t *err);

/* Forget the cluster here: its directory, and the CLI's config if it names it. */
int provider_ssh_forget(ssh_cluster *c, err_t *err);

/* The cluster's etcd, through a tunnel to a member: endpoints for etcd_new
 * (valid until provider_ssh_etcd_close). */
typedef struct ssh_etcd {
    ssh_tunnel tunnel;
    char endpoint[64];
} ssh_etcd;
int provider_ssh_etcd_open(ssh_cluster *c, ssh_etcd *t, err_t *err);
void provider_ssh_etcd_close(ssh_etcd *t);

/* The cluster the CLI's config names (its "cluster" field), if it is one of
 * these providers': *found tells. */
int provider_ssh_current(ssh_cluster *c, bool *found, err_t *err);

#endif
