/* provider_local_down.c - `dokkaacfg down`: remove everything the local provider
 * made, whatever state it is in (healthy, half-built by a failed up, or with
 * daemons already dead). Each step looks for its object and skips what is gone,
 * so down is idempotent; it goes on after a failed step and reports the first. */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <time.h>
#include <unistd.h>

#include "dokkaa/docker.h"
#include "provider_local.h"
#include "run.h"

#define PL_STOP_SECONDS 10
#define PL_STOP_DOCKERD_SECONDS 20
#define PL_STOP_STORE_SECONDS 2

static const enum provider_local_daemon_id provider_local_agents[] = {PL_CONDUCTOR, PL_AMBASSADOR,
                                                                      PL_BUILDER};
static const enum provider_local_daemon_id provider_local_stores[] = {PL_ETCD, PL_REGISTRY};

/* Keep the first error, go on with the rest. */
static void provider_local_keep(err_t *first, const err_t *e)
{
    if (first->code == ERR_OK)
        *first = *e;
}

static void provider_local_said(const provider_local *pl, int i, const char *what)
{
    if (i > 0 && strcmp(pl->name, CONFIG_CLUSTER_DEFAULT) != 0)
        printf("%s/h%d: %s\n", pl->name, i, what);
    else if (i > 0)
        printf("h%d: %s\n", i, what);
    else
        printf("%s: %s\n", pl->name, what);
    fflush(stdout);
}

/* Whether host i left anything behind (dirs, namespace, veth). */
static bool provider_local_host_present(const provider_local *pl, int i)
{
    return provider_local_exists(pl, i, "{state}") || provider_local_exists(pl, i, "{run}") ||
           provider_local_exists(pl, i, "{nsfile}") ||
           provider_local_exists(pl, i, "/sys/class/net/{ns}");
}

/* Stop daemons ds[0..n) on every host: TERM them all first, then wait for each,
 * so that the waits overlap. A host's daemons run on hosts 1.., the machine's
 * (the registry) on 0. */
static void provider_local_stop_all(const provider_local *pl, const bool *present,
                                    const enum provider_local_daemon_id *ds, int n, int seconds,
                                    err_t *first)
{
    pid_t pids[PL_NDAEMONS][PROVIDER_LOCAL_MAX_HOSTS + 1] = {{0}};
    char pidfile[PATH_MAX], what[128];
    time_t deadline = time(NULL) + seconds; /* one grace period for all, not one each */
    err_t e;
    for (int k = 0; k < n; k++)
        for (int i = 0; i <= PROVIDER_LOCAL_MAX_HOSTS; i++)
            if (present[i] && (i > 0) == provider_local_daemons[ds[k]].in_netns &&
                (pids[k][i] = provider_local_daemon_pid(pl, i, ds[k])))
                kill(pids[k][i], SIGTERM);
    for (int k = 0; k < n; k++) {
        const provider_local_daemon *dm = &provider_local_daemons[ds[k]];
        for (int i = 0; i <= PROVIDER_LOCAL_MAX_HOSTS; i++) {
            if (!present[i] || (i > 0) != dm->in_netns ||
                provider_local_expand(pl, i, dm->pidfile, pidfile, sizeof pidfile, NULL) < 0)
                continue;
            time_t left = deadline - time(NULL);
            if (cfg_stop(pidfile, dm->name, left > 0 ? (int)left : 0, &e) < 0)
                provider_local_keep(first, &e);
            else if (pids[k][i]) {
                snprintf(what, sizeof what, "%s stopped", dm->name);
                provider_local_said(pl, i, what);
            }
        }
    }
}

/* Every container of host i's engine, forced: what runs there is the cluster's. */
static void provider_local_containers(const provider_local *pl, int i, err_t *first)
{
    char sock[PATH_MAX], what[64];
    json_t *list = NULL;
    err_t e;
    docker *d;
    size_t k, n = 0;
    json_t *c;
    if (provider_local_expand(pl, i, "unix://{run}/docker.sock", sock, sizeof sock, NULL) < 0 ||
        !provider_local_exists(pl, i, "{run}/docker.sock") || !(d = docker_new(sock, &e)))
        return;
    if (docker_call(d, "GET", "/containers/json?all=1", NULL, NULL, &list, &e) < 0) {
        docker_free(d);
        return; /* no engine answering: nothing to remove through it */
    }
    json_array_foreach(list, k, c) {
        if (docker_container_remove(d, json_string_value(json_object_get(c, "Id")), &e) < 0)
            provider_local_keep(first, &e);
        else
            n++;
    }
    json_decref(list);
    docker_free(d);
    snprintf(what, sizeof what, "%zu containers removed", n);
    if (n)
        provider_local_said(pl, i, what);
}

/* Whether /proc/<pid>/cmdline mentions needle (an argument holding our path). */
static bool provider_local_cmdline_has(const char *pid, const char *needle)
{
    char path[300], cmd[8192];
    snprintf(path, sizeof path, "/proc/%s/cmdline", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(cmd, 1, sizeof cmd - 1, f);
    fclose(f);
    for (size_t k = 0; k < n; k++)
        if (cmd[k] == '\0')
            cmd[k] = ' ';
    cmd[n] = '\0';
    return strstr(cmd, needle) != NULL;
}

/* Signal every process whose command line names host i's runtime dir: what a
 * killed dockerd leaves (its containerd, the shims). Returns how many. */
static int provider_local_signal_leftovers(const provider_local *pl, int i, int sig)
{
    char needle[PATH_MAX];
    DIR *dir = opendir("/proc");
    struct dirent *de;
    int n = 0;
    if (!dir || provider_local_expand(pl, i, "{run}/", needle, sizeof needle, NULL) < 0) {
        if (dir)
            closedir(dir);
        return 0;
    }
    while ((de = readdir(dir)))
        if (de->d_name[0] >= '1' && de->d_name[0] <= '9' && atoi(de->d_name) != getpid() &&
            provider_local_cmdline_has(de->d_name, needle) && kill(atoi(de->d_name), sig) == 0)
            n++;
    closedir(dir);
    return n;
}

static void provider_local_leftovers(const provider_local *pl, int i)
{
    struct timespec tick = {0, 100 * 1000 * 1000};
    if (!provider_local_signal_leftovers(pl, i, SIGTERM))
        return;
    for (int k = 0; k < 50 && provider_local_signal_leftovers(pl, i, 0); k++)
        nanosleep(&tick, NULL);
    if (provider_local_signal_leftovers(pl, i, SIGKILL))
        provider_local_said(pl, i, "leftover processes killed");
}

/* nftw has no user pointer: the callbacks below count through these. */
static int provider_local_nftw_killed, provider_local_nftw_busy;

static int provider_local_cgroup_kill(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    char procs[PATH_MAX + 16];
    int pid;
    (void)st, (void)ftw;
    if (flag != FTW_DP)
        return 0;
    snprintf(procs, sizeof procs, "%s/cgroup.procs", path);
    FILE *f = fopen(procs, "r");
    while (f && fscanf(f, "%d", &pid) == 1)
        if (pid > 1 && kill(pid, SIGKILL) == 0)
            provider_local_nftw_killed++;
    if (f)
        fclose(f);
    return 0;
}

static int provider_local_cgroup_rmdir(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)ftw;
    if (flag == FTW_DP && rmdir(path) < 0 && errno != ENOENT)
        provider_local_nftw_busy++;
    return 0;
}

/* Where --cgroup-parent <ns> lands: <ns> at the top of each hierarchy (v1
 * controllers, the v2 tree), or under our own cgroup where a controller confines
 * us to one (here: memory), as dockerd inherits ours. */
static size_t provider_local_cgroup_dirs(const char *ns, char (*out)[PATH_MAX], size_t max)
{
    char line[1024], *ctrl, *path;
    struct dirent *de;
    DIR *dir = opendir("/sys/fs/cgroup");
    FILE *f = fopen("/proc/self/cgroup", "r");
    size_t n = 0;
    snprintf(out[n++], PATH_MAX, "/sys/fs/cgroup/%s", ns);
    while (dir && (de = readdir(dir)) && n < max)
        if (de->d_name[0] != '.')
            snprintf(out[n++], PATH_MAX, "/sys/fs/cgroup/%s/%s", de->d_name, ns);
    while (f && fgets(line, sizeof line, f) && n < max) {
        line[strcspn(line, "\n")] = '\0';
        if (!(ctrl = strchr(line, ':')) || !(path = strchr(++ctrl, ':')) || strcmp(path + 1, "/") == 0)
            continue;
        *path++ = '\0';
        if (strncmp(ctrl, "name=", 5) == 0)
            ctrl += 5;
        snprintf(out[n++], PATH_MAX, "/sys/fs/cgroup/%s%s/%s", *ctrl ? ctrl : "unified", path, ns);
    }
    if (dir)
        closedir(dir);
    if (f)
        fclose(f);
    return n;
}

/* The cgroups dockerd made under --cgroup-parent <ns>: kill what still runs
 * there (containers of a killed dockerd), then remove them, deepest first. */
static void provider_local_cgroups(const provider_local *pl, int i, err_t *first)
{
    static char dirs[64][PATH_MAX];
    struct timespec tick = {0, 100 * 1000 * 1000};
    char ns[64];
    size_t n;
    err_t e;
    provider_local_expand(pl, i, "{ns}", ns, sizeof ns, NULL);
    n = provider_local_cgroup_dirs(ns, dirs, 64);
    for (int pass = 0; pass < 30; pass++) {
        provider_local_nftw_killed = provider_local_nftw_busy = 0;
        for (size_t k = 0; k < n; k++) {
            if (access(dirs[k], F_OK) != 0)
                continue;
            nftw(dirs[k], provider_local_cgroup_kill, 8, FTW_DEPTH | FTW_PHYS);
            nftw(dirs[k], provider_local_cgroup_rmdir, 8, FTW_DEPTH | FTW_PHYS);
        }
        if (provider_local_nftw_killed)
            provider_local_said(pl, i, "processes left in its cgroups killed");
        if (!provider_local_nftw_busy)
            return;
        nanosleep(&tick, NULL);
    }
    err_set(&e, ERR_SYS, "h%d: cgroup %s: still busy", i, ns);
    provider_local_keep(first, &e);
}

/* Mount points under dir/, from /proc/self/mountinfo (octal escapes decoded). */
static size_t provider_local_mounts(const char *dir, char (*out)[PATH_MAX], size_t max)
{
    FILE *f = fopen("/proc/self/mountinfo", "r");
    char line[8192], mnt[PATH_MAX];
    size_t n = 0, dlen = strlen(dir);
    while (f && n < max && fgets(line, sizeof line, f)) {
        if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
            continue;
        char *w = mnt;
        for (char *r = mnt; *r; r++, w++) /* "\040" is a space in a path */
            if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] && r[3]) {
                *w = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
                r += 3;
            } else
                *w = *r;
        *w = '\0';
        if (strncmp(mnt, dir, dlen) == 0 && (mnt[dlen] == '/' || mnt[dlen] == '\0'))
            snprintf(out[n++], PATH_MAX, "%s", mnt);
    }
    if (f)
        fclose(f);
    return n;
}

static int provider_local_deeper_first(const void *a, const void *b)
{
    return (int)strlen(b) - (int)strlen(a);
}

/* Unmount whatever is still mounted under dir (dockerd's overlays, netns bind
 * mounts), deepest first, lazily so that a busy mount does not stop down. */
static void provider_local_unmount(const char *dir, err_t *first)
{
    static char mounts[256][PATH_MAX];
    size_t n = provider_local_mounts(dir, mounts, 256);
    err_t e;
    qsort(mounts, n, sizeof *mounts, provider_local_deeper_first);
    for (size_t k = 0; k < n; k++)
        if (umount2(mounts[k], MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT) {
            err_sys(&e, "umount %s", mounts[k]);
            provider_local_keep(first, &e);
        }
}

static int provider_local_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    if (remove(path) < 0 && errno != ENOENT)
        provider_local_nftw_busy++;
    return 0;
}

/* rm -rf that never crosses into a mount (FTW_MOUNT): a mount left behind makes
 * the removal fail instead of emptying what is mounted there. */
static void provider_local_rmtree(const provider_local *pl, int i, const char *tmpl, err_t *first)
{
    char dir[PATH_MAX];
    err_t e;
    if (provider_local_expand(pl, i, tmpl, dir, sizeof dir, NULL) < 0 || access(dir, F_OK) != 0)
        return;
    provider_local_unmount(dir, first);
    provider_local_nftw_busy = 0;
    nftw(dir, provider_local_rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
    if (provider_local_nftw_busy || access(dir, F_OK) == 0) {
        err_set(&e, ERR_SYS, "%s: could not remove everything", dir);
        provider_local_keep(first, &e);
    }
}

/* Host i's namespace and veth (deleting the namespace takes its veth end along;
 * the root end goes with it, or by hand if it lingers). */
static void provider_local_host_net_down(const provider_local *pl, int i, err_t *first)
{
    err_t e;
    if (provider_local_exists(pl, i, "{nsfile}")) {
        if (provider_local_run(pl, i, &e, "ip", "netns", "del", "{ns}", NULL) < 0)
            provider_local_keep(first, &e);
        else
            provider_local_said(pl, i, "namespace deleted");
    }
    if (provider_local_exists(pl, i, "/sys/class/net/{ns}") &&
        provider_local_run(pl, i, &e, "ip", "link", "del", "{ns}", NULL) < 0 &&
        provider_local_exists(pl, i, "/sys/class/net/{ns}"))
        provider_local_keep(first, &e);
}

static void provider_local_bridge_down(const provider_local *pl, err_t *first)
{
    err_t e;
    while (provider_local_probe(pl, 0, "iptables", "-C", "FORWARD", "-i", "{name}0", "-o", "{name}0",
                                "-j", "ACCEPT", NULL)) {
        if (provider_local_run(pl, 0, &e, "iptables", "-D", "FORWARD", "-i", "{name}0", "-o", "{name}0",
                               "-j", "ACCEPT", NULL) < 0) {
            provider_local_keep(first, &e);
            break;
        }
        provider_local_said(pl, 0, "iptables FORWARD rule removed");
    }
    if (provider_local_exists(pl, 0, "/sys/class/net/{name}0")) {
        if (provider_local_run(pl, 0, &e, "ip", "link", "del", "{name}0", NULL) < 0)
            provider_local_keep(first, &e);
        else
            provider_local_said(pl, 0, "bridge deleted");
    }
}

/* The engines: containers first (so that dockerd stops quickly and leaves no
 * restartable state), then the daemons, then whatever a killed one left. */
static void provider_local_engines_down(const provider_local *pl, const bool *present, err_t *first)
{
    char dir[PATH_MAX];
    for (int i = 1; i <= PROVIDER_LOCAL_MAX_HOSTS; i++)
        if (present[i])
            provider_local_containers(pl, i, first);
    static const enum provider_local_daemon_id dockerd[] = {PL_DOCKERD};
    provider_local_stop_all(pl, present, dockerd, 1, PL_STOP_DOCKERD_SECONDS, first);
    for (int i = 1; i <= PROVIDER_LOCAL_MAX_HOSTS; i++) {
        if (!present[i])
            continue;
        provider_local_leftovers(pl, i);
        provider_local_cgroups(pl, i, first);
        if (provider_local_expand(pl, i, "{state}", dir, sizeof dir, NULL) == 0)
            provider_local_unmount(dir, first);
        if (provider_local_expand(pl, i, "{run}", dir, sizeof dir, NULL) == 0)
            provider_local_unmount(dir, first);
    }
}

static void provider_local_files_down(const provider_local *pl, const bool *present, err_t *first)
{
    char root[PATH_MAX];
    for (int i = 1; i <= PROVIDER_LOCAL_MAX_HOSTS; i++) {
        if (!present[i])
            continue;
        provider_local_rmtree(pl, i, "{state}", first);
        provider_local_rmtree(pl, i, "{run}", first);
    }
    provider_local_rmtree(pl, 0, "{root}/registry", first);
    provider_local_rmtree(pl, 0, "{rt}", first);
    provider_local_expand(pl, 0, "{root}/cluster", root, sizeof root, NULL);
    unlink(root);
    /* /var/lib/<name> may hold other things (make up's local/): only if empty. */
    provider_local_expand(pl, 0, "{root}", root, sizeof root, NULL);
    rmdir(root);
}

int provider_local_down(provider_local *pl, err_t *err)
{
    bool present[PROVIDER_LOCAL_MAX_HOSTS + 1] = {true}, any = pl->saved;
    err_t first;
    err_clear(&first);
    if (geteuid() != 0)
        return err_set(err, ERR_INVALID, "the local provider must run as root");
    /* Every possible host, not only the recorded ones: a failed up may have made
     * more than it recorded, or lost its state file. */
    for (int i = 1; i <= PROVIDER_LOCAL_MAX_HOSTS; i++)
        any |= present[i] = provider_local_host_present(pl, i);
    any |= provider_local_exists(pl, 0, "/sys/class/net/{name}0") ||
           provider_local_exists(pl, 0, "{rt}") || provider_local_exists(pl, 0, "{root}/registry");
    if (!any) {
        provider_local_said(pl, 0, "no local cluster: nothing to remove");
        return 0;
    }
    provider_local_stop_all(pl, present, provider_local_agents, 3, PL_STOP_SECONDS, &first);
    provider_local_engines_down(pl, present, &first);
    /* etcd's data and the registry's go next: no need to wait for a graceful end. */
    provider_local_stop_all(pl, present, provider_local_stores, 2, PL_STOP_STORE_SECONDS, &first);
    for (int i = 1; i <= PROVIDER_LOCAL_MAX_HOSTS; i++)
        if (present[i])
            provider_local_host_net_down(pl, i, &first);
    provider_local_bridge_down(pl, &first);
    provider_local_files_down(pl, present, &first);
    if (first.code != ERR_OK) {
        *err = first;
        return -1;
    }
    provider_local_said(pl, 0, "removed");
    return 0;
}
