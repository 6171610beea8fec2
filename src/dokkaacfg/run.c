/* run.c - run commands and daemons for dokkaacfg (see run.h). */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* "ip link add ..." for messages: the command and its first arguments. */
static void cfg_argv_text(const char *const argv[], char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; argv[i] && len + 1 < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? " " : "", argv[i]);
    if (len >= size && size > 4)
        strcpy(buf + size - 4, "...");
}

/* The last non-empty line of out (changed in place). */
static const char *cfg_last_line(char *out)
{
    size_t n = strlen(out);
    while (n && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = '\0';
    char *nl = strrchr(out, '\n');
    return nl ? nl + 1 : out;
}

/* Read fd to EOF, keeping the last size-1 bytes in tail (the end says why). */
static void cfg_drain(int fd, char *tail, size_t size)
{
    char chunk[4096];
    size_t len = 0;
    ssize_t n;
    while ((n = read(fd, chunk, sizeof chunk)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        size_t k = (size_t)n > size - 1 ? size - 1 : (size_t)n;
        if (len + k > size - 1) { /* drop the oldest bytes */
            size_t drop = len + k - (size - 1);
            memmove(tail, tail + drop, len - drop);
            len -= drop;
        }
        memcpy(tail + len, chunk + (size_t)n - k, k);
        len += k;
    }
    tail[len] = '\0';
}

static int cfg_wait_child(pid_t pid, int *status)
{
    while (waitpid(pid, status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return 0;
}

/* Spawn argv with stdout and stderr into a pipe, collect the tail, wait.
 * *status gets the wait status. */
static int cfg_run_capture(const char *const argv[], int *status, char *tail, size_t size,
                           err_t *err)
{
    char cmd[256];
    int fds[2], rc;
    pid_t pid;
    posix_spawn_file_actions_t fa;
    cfg_argv_text(argv, cmd, sizeof cmd);
    if (pipe2(fds, O_CLOEXEC) < 0)
        return err_sys(err, "%s: pipe", cmd);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        errno = rc;
        return err_sys(err, "%s", cmd);
    }
    cfg_drain(fds[0], tail, size);
    close(fds[0]);
    if (cfg_wait_child(pid, status) < 0)
        return err_sys(err, "%s: wait", cmd);
    return 0;
}

int cfg_run(const char *const argv[], err_t *err)
{
    char cmd[256], tail[1024];
    int status;
    if (cfg_run_capture(argv, &status, tail, sizeof tail, err) < 0)
        return -1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    cfg_argv_text(argv, cmd, sizeof cmd);
    if (WIFSIGNALED(status))
        return err_set(err, ERR_REMOTE, "%s: killed by signal %d", cmd, WTERMSIG(status));
    return err_set(err, ERR_REMOTE, "%s: exit %d: %s", cmd, WEXITSTATUS(status), cfg_last_line(tail));
}

bool cfg_probe(const char *const argv[])
{
    char tail[256];
    int status;
    return cfg_run_capture(argv, &status, tail, sizeof tail, NULL) == 0 && WIFEXITED(status) &&
           WEXITSTATUS(status) == 0;
}

static int cfg_write_pidfile(const char *pidfile, pid_t pid, err_t *err)
{
    FILE *f = fopen(pidfile, "w");
    if (!f)
        return err_sys(err, "%s", pidfile);
    fprintf(f, "%d\n", (int)pid);
    if (fclose(f) != 0)
        return err_sys(err, "%s", pidfile);
    return 0;
}

int cfg_spawn_daemon(const char *const argv[], const char *logfile, const char *pidfile, pid_t *pid,
                     err_t *err)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none;
    pid_t child;
    int rc;
    sigemptyset(&none);
    posix_spawnattr_init(&attr);
    /* Its own session, so that it outlives us and no terminal signal reaches it. */
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, logfile, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    rc = posix_spawnp(&child, argv[0], &fa, &attr, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        errno = rc;
        return err_sys(err, "start %s", argv[0]);
    }
    if (pid)
        *pid = child;
    return pidfile ? cfg_write_pidfile(pidfile, child, err) : 0;
}

bool cfg_pid_running(pid_t pid)
{
    if (pid <= 0)
        return false;
    if (waitpid(pid, NULL, WNOHANG) == pid) /* our child, and it has exited */
        return false;
    return kill(pid, 0) == 0 || errno == EPERM;
}

/* Whether /proc/<pid>/cmdline's argv[0] has base name name. */
static bool cfg_pid_is(pid_t pid, const char *name)
{
    char path[64], cmd[4096];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(cmd, 1, sizeof cmd - 1, f);
    fclose(f);
    cmd[n] = '\0';
    const char *base = strrchr(cmd, '/');
    return strcmp(base ? base + 1 : cmd, name) == 0;
}

pid_t cfg_pid_alive(const char *pidfile, const char *name)
{
    FILE *f = fopen(pidfile, "r");
    int pid = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%d", &pid) != 1)
        pid = 0;
    fclose(f);
    return cfg_pid_running(pid) && cfg_pid_is(pid, name) ? pid : 0;
}

static bool cfg_gone(pid_t pid, int seconds)
{
    struct timespec tick = {0, 50 * 1000 * 1000};
    for (int i = 0; i < seconds * 20; i++) {
        if (!cfg_pid_running(pid))
            return true;
        nanosleep(&tick, NULL);
    }
    return !cfg_pid_running(pid);
}

int cfg_stop(const char *pidfile, const char *name, int seconds, err_t *err)
{
    pid_t pid = cfg_pid_alive(pidfile, name);
    if (pid) {
        kill(pid, SIGTERM);
        if (!cfg_gone(pid, seconds)) {
            kill(pid, SIGKILL);
            if (!cfg_gone(pid, 5))
                return err_set(err, ERR_SYS, "%s (pid %d) survives SIGKILL", name, (int)pid);
        }
    }
    if (unlink(pidfile) < 0 && errno != ENOENT)
        return err_sys(err, "%s", pidfile);
    return pid ? 1 : 0;
}

static double cfg_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int cfg_wait(const char *what, int seconds, cfg_ready_fn ready, void *ud, err_t *err)
{
    struct timespec tick = {0, 100 * 1000 * 1000};
    double deadline = cfg_now() + seconds;
    err_t last;
    err_clear(&last);
    for (;;) {
        int rc = ready(ud, &last);
        if (rc > 0)
            return 0;
        if (rc < 0) {
            *err = last;
            return err_prefix(err, "%s", what);
        }
        if (cfg_now() > deadline && last.msg[0])
            return err_set(err, ERR_UNAVAIL, "timed out after %d s waiting for %s (last: %s)", seconds,
                           what, last.msg);
        if (cfg_now() > deadline)
            return err_set(err, ERR_UNAVAIL, "timed out after %d s waiting for %s", seconds, what);
        nanosleep(&tick, NULL);
    }
}
