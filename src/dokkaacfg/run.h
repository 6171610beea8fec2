/* run.h - running other programs from dokkaacfg: one-shot commands that must
 * succeed, probes whose exit status is the answer, and detached daemons tracked
 * by pidfile. Every command is an argv array for posix_spawnp: no shell, so no
 * quoting can go wrong. */
#ifndef DOKKAACFG_RUN_H
#define DOKKAACFG_RUN_H

#include <stdbool.h>
#include <sys/types.h>

#include "dokkaa/err.h"

/* Run argv, wait for it; a non-zero exit is an error naming the command and
 * quoting the last line it printed. Its output is otherwise dropped. */
int cfg_run(const char *const argv[], err_t *err);

/* Run argv and tell whether it exited 0 (for checks such as `iptables -C`). */
bool cfg_probe(const char *const argv[]);

/* Start argv as a daemon: its own session, stdin /dev/null, stdout and stderr
 * appended to logfile. Its pid goes to pidfile unless pidfile is NULL (for a
 * daemon that writes its own). *pid (may be NULL) gets the pid. */
int cfg_spawn_daemon(const char *const argv[], const char *logfile, const char *pidfile, pid_t *pid,
                     err_t *err);

/* The pid recorded in pidfile, if that process is alive and its argv[0]'s base
 * name is name (so that a recycled pid is never taken for ours); else 0. */
pid_t cfg_pid_alive(const char *pidfile, const char *name);

/* Whether pid runs (a dead child of ours is reaped, not taken for alive). */
bool cfg_pid_running(pid_t pid);

/* TERM the process, wait up to seconds, then KILL it; remove the pidfile. Returns
 * 1 if a process was stopped, 0 if none ran. */
int cfg_stop(const char *pidfile, const char *name, int seconds, err_t *err);

/* Poll ready every 100 ms for at most seconds. ready returns 1 when ready, 0 not
 * yet (last may say why), -1 to give up (err says why). The timeout error names
 * what was awaited and the last reason. */
typedef int (*cfg_ready_fn)(void *ud, err_t *last);
int cfg_wait(const char *what, int seconds, cfg_ready_fn ready, void *ud, err_t *err);

#endif
