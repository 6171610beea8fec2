/* ssh.h - the system's OpenSSH client, as dokkaacfg's way onto a machine.
 *
 * Everything the ssh and digitalocean providers do on a host goes through here:
 * a shell script run as root (its text on stdin, so no quoting can go wrong), a
 * file sent, and a tunnel to a port on the host's loopback (etcd listens there,
 * so the CLI needs no port of the cluster open but SSH's and the API's).
 *
 * ssh runs with BatchMode (never a prompt: a key from --identity, the agent or
 * ~/.ssh), a connect timeout, and the cluster's own known_hosts file: a host's key
 * is learnt on first contact and must not change after (a reinstalled host is
 * forgotten with `ssh-keygen -R ADDR -f KNOWN_HOSTS`, which the error says). */
#ifndef DOKKAACFG_SSH_H
#define DOKKAACFG_SSH_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#include "dokkaa/err.h"

typedef struct ssh_opts {
    const char *identity;       /* -i FILE, or NULL */
    char known_hosts[PATH_MAX]; /* the cluster's; "" for the user's own */
} ssh_opts;

/* Run script with sh on target ([user@]addr) as root (through `sudo -n` for a
 * user other than root). Its stdout goes to *out (malloc'd, NUL-terminated; out
 * may be NULL). A non-zero exit is an error quoting the last line it printed. */
int ssh_script(const ssh_opts *o, const char *target, const char *script, char **out, err_t *err);

/* Copy the local file to path on target (written whole, then renamed). */
int ssh_send(const ssh_opts *o, const char *target, const char *file, const char *path,
             err_t *err);

/* Run command (a shell line, as root) on target with its stdin from in_fd. */
int ssh_send_fd(const ssh_opts *o, const char *target, int in_fd, const char *command, err_t *err);

/* A local port forwarded to target's 127.0.0.1:remote_port, until closed. */
typedef struct ssh_tunnel {
    pid_t pid;
    int port;
} ssh_tunnel;
int ssh_tunnel_open(const ssh_opts *o, const char *target, int remote_port, ssh_tunnel *t,
                    err_t *err);
void ssh_tunnel_close(ssh_tunnel *t);

#endif
