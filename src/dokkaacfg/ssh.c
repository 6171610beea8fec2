/* ssh.c - scripts, files and tunnels over the system's ssh (see ssh.h).
 *
 * ssh's stdin, stdout and stderr are anonymous memory files (memfd), not pipes:
 * the script goes in whole before ssh starts and its output is read after it
 * ends, so neither side can block on the other however much either says. */
#include "ssh.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "run.h"

extern char **environ;

#define SSH_MAX_ARGS 32
#define SSH_TUNNEL_WAIT_MS 15000

typedef struct ssh_argv {
    const char *argv[SSH_MAX_ARGS];
    int n;
    char known[PATH_MAX + 32];
} ssh_argv;

static void ssh_arg(ssh_argv *a, const char *arg)
{
    if (a->n < SSH_MAX_ARGS - 1)
        a->argv[a->n++] = arg;
    a->argv[a->n] = NULL;
}

/* ssh and the options every call shares. */
static void ssh_base(ssh_argv *a, const ssh_opts *o)
{
    static const char *const common[] = {
        "ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o",
        "StrictHostKeyChecking=accept-new", "-o", "ServerAliveInterval=10", "-o",
        "ServerAliveCountMax=3", "-o", "LogLevel=ERROR", NULL};
    a->n = 0;
    for (int i = 0; common[i]; i++)
        ssh_arg(a, common[i]);
    if (o->known_hosts[0]) {
        snprintf(a->known, sizeof a->known, "UserKnownHostsFile=%s", o->known_hosts);
        ssh_arg(a, "-o");
        ssh_arg(a, a->known);
    }
    if (o->identity) {
        ssh_arg(a, "-i");
        ssh_arg(a, o->identity);
    }
}

static bool ssh_is_root(const char *target)
{
    const char *at = strchr(target, '@');
    return !at || (at - target == 4 && strncmp(target, "root", 4) == 0);
}

static int ssh_memfd(const char *name, const char *data, size_t len, err_t *err)
{
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0)
        return err_sys(err, "memfd");
    if ((len && write(fd, data, len) != (ssize_t)len) || lseek(fd, 0, SEEK_SET) < 0) {
        close(fd);
        return err_sys(err, "memfd");
    }
    return fd;
}

/* All of fd, from its start, NUL-terminated; NULL when out of memory. */
static char *ssh_slurp(int fd)
{
    off_t len = lseek(fd, 0, SEEK_END);
    char *buf = len >= 0 ? malloc((size_t)len + 1) : NULL;
    ssize_t n = buf ? pread(fd, buf, (size_t)len, 0) : -1;
    if (n < 0) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* The last non-empty line of text, into why. */
static void ssh_last_line(const char *text, char *why, size_t size)
{
    size_t end = text ? strlen(text) : 0;
    while (end && (text[end - 1] == '\n' || text[end - 1] == '\r'))
        end--;
    size_t start = end;
    while (start && text[start - 1] != '\n')
        start--;
    snprintf(why, size, "%.*s", (int)(end - start), text ? text + start : "");
}

/* Spawn a with stdin from in_fd, stdout and stderr to out_fd and err_fd. */
static pid_t ssh_spawn(const ssh_argv *a, int in_fd, int out_fd, int err_fd, err_t *err)
{
    posix_spawn_file_actions_t fa;
    pid_t pid;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
    posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
    int rc = posix_spawnp(&pid, "ssh", &fa, NULL, (char *const *)a->argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        errno = rc;
        return err_sys(err, "ssh (is OpenSSH's client installed?)");
    }
    return pid;
}

/* Run ssh to target with command; stdin from in_fd; stdout into *out. */
static int ssh_run(const ssh_opts *o, const char *target, const char *command, int in_fd, char **out,
                   err_t *err)
{
    ssh_argv a;
    int out_fd = -1, err_fd = -1, status = 0, rc = -1;
    pid_t pid;
    char *errtext = NULL, why[512];
    ssh_base(&a, o);
    ssh_arg(&a, "--");
    ssh_arg(&a, target);
    ssh_arg(&a, command);
    if (out)
        *out = NULL;
    if ((out_fd = ssh_memfd("ssh-out", NULL, 0, err)) < 0 ||
        (err_fd = ssh_memfd("ssh-err", NULL, 0, err)) < 0 ||
        (pid = ssh_spawn(&a, in_fd, out_fd, err_fd, err)) < 0)
        goto out;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    errtext = ssh_slurp(err_fd);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        if (out && !(*out = ssh_slurp(out_fd))) {
            err_set(err, ERR_SYS, "out of memory");
            goto out;
        }
        rc = 0;
        goto out;
    }
    ssh_last_line(errtext, why, sizeof why);
    if (!why[0]) { /* the script said why on stdout, or nothing */
        char *text = ssh_slurp(out_fd);
        ssh_last_line(text, why, sizeof why);
        free(text);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 255)
        err_set(err, ERR_UNAVAIL, "ssh %s: %s%s", target, why[0] ? why : "cannot connect",
                strstr(why, "IDENTIFICATION HAS CHANGED") || strstr(why, "verification failed")
                    ? " (a reinstalled host? forget its old key with ssh-keygen -R)"
                    : "");
    else
        err_set(err, ERR_REMOTE, "%s", why[0] ? why : "failed without saying why");
out:
    free(errtext);
    if (out_fd >= 0)
        close(out_fd);
    if (err_fd >= 0)
        close(err_fd);
    return rc;
}

int ssh_script(const ssh_opts *o, const char *target, const char *script, char **out, err_t *err)
{
    int in_fd = ssh_memfd("ssh-script", script, strlen(script), err);
    if (in_fd < 0)
        return -1;
    int rc = ssh_run(o, target, ssh_is_root(target) ? "sh -s" : "sudo -n sh -s", in_fd, out, err);
    close(in_fd);
    return rc;
}

int ssh_send_fd(const ssh_opts *o, const char *target, int in_fd, const char *command, err_t *err)
{
    char *line = NULL;
    if (asprintf(&line, "%s%s", ssh_is_root(target) ? "" : "sudo -n ", command) < 0)
        return err_set(err, ERR_SYS, "out of memory");
    int rc = ssh_run(o, target, line, in_fd, NULL, err);
    free(line);
    return rc;
}

int ssh_send(const ssh_opts *o, const char *target, const char *file, const char *path, err_t *err)
{
    char command[PATH_MAX * 2 + 64];
    int in_fd = open(file, O_RDONLY | O_CLOEXEC);
    if (in_fd < 0)
        return err_sys(err, "%s", file);
    if (strchr(path, '\'')) {
        close(in_fd);
        return err_set(err, ERR_INVALID, "%s: a quote in a remote path", path);
    }
    snprintf(command, sizeof command, "%ssh -c 'cat > %s.part && mv %s.part %s'",
             ssh_is_root(target) ? "" : "sudo -n ", path, path, path);
    int rc = ssh_run(o, target, command, in_fd, NULL, err);
    close(in_fd);
    return rc;
}

/* A port free on loopback now (the tunnel binds it a moment later: another
 * process taking it in between makes ssh fail, which is reported). */
static int ssh_free_port(err_t *err)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port > 0 ? port : err_sys(err, "a free port on loopback");
}

static bool ssh_port_open(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool open = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (fd >= 0)
        close(fd);
    return open;
}

int ssh_tunnel_open(const ssh_opts *o, const char *target, int remote_port, ssh_tunnel *t,
                    err_t *err)
{
    char forward[64], why[512];
    ssh_argv a;
    int null_fd = -1, err_fd = -1, rc = -1, status;
    t->pid = 0;
    if ((t->port = ssh_free_port(err)) < 0)
        return -1;
    snprintf(forward, sizeof forward, "127.0.0.1:%d:127.0.0.1:%d", t->port, remote_port);
    ssh_base(&a, o);
    ssh_arg(&a, "-N");
    ssh_arg(&a, "-o");
    ssh_arg(&a, "ExitOnForwardFailure=yes");
    ssh_arg(&a, "-L");
    ssh_arg(&a, forward);
    ssh_arg(&a, "--");
    ssh_arg(&a, target);
    if ((null_fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0 ||
        (err_fd = ssh_memfd("ssh-tunnel", NULL, 0, err)) < 0 ||
        (t->pid = ssh_spawn(&a, null_fd, null_fd, err_fd, err)) < 0)
        goto out;
    for (int waited = 0; waited < SSH_TUNNEL_WAIT_MS; waited += 50) {
        if (waitpid(t->pid, &status, WNOHANG) == t->pid) {
            char *text = ssh_slurp(err_fd);
            ssh_last_line(text, why, sizeof why);
            free(text);
            err_set(err, ERR_UNAVAIL, "ssh %s: tunnel to port %d: %s", target, remote_port,
                    why[0] ? why : "ssh exited");
            t->pid = 0;
            goto out;
        }
        if (ssh_port_open(t->port)) {
            rc = 0;
            goto out;
        }
        nanosleep(&(struct timespec){0, 50 * 1000000L}, NULL);
    }
    err_set(err, ERR_UNAVAIL, "ssh %s: tunnel to port %d not up after %d s", target, remote_port,
            SSH_TUNNEL_WAIT_MS / 1000);
    ssh_tunnel_close(t);
out:
    if (null_fd >= 0)
        close(null_fd);
    if (err_fd >= 0)
        close(err_fd);
    return rc;
}

void ssh_tunnel_close(ssh_tunnel *t)
{
    if (t->pid <= 0)
        return;
    kill(t->pid, SIGTERM);
    while (waitpid(t->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    t->pid = 0;
}
