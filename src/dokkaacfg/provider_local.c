/* provider_local.c - the local provider's names, addresses and daemon table, and
 * its state file (/var/lib/<name>/cluster), shared by up, down and status. */
#include "provider_local.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run.h"

/* Every daemon's flags, in one place. {…} are expanded per host by
 * provider_local_expand. dockerd runs without its userland proxy: services are
 * reached at the host's address (never its loopback), which iptables alone
 * forwards, and a docker-proxy process per published port would cost each
 * container start a fork and each host memory. It runs with --live-restore, as on
 * real machines: containers go on running while their engine is down (killed, or
 * restarted for an upgrade), and the engine takes them back when it returns. */
const provider_local_daemon provider_local_daemons[PL_NDAEMONS] = {
    [PL_DOCKERD] = {"dockerd", true, true, "{state}/dockerd.log", "{run}/dockerd.pid",
        {"dockerd", "--data-root", "{state}/docker", "--exec-root", "{run}/exec",
         "--pidfile", "{run}/dockerd.pid", "-H", "unix://{run}/docker.sock",
         "--bip", "172.30.{i}.1/24", "--cgroup-parent", "{ns}", "--insecure-registry", "{registry}",
         "--userland-proxy=false", "--live-restore"}},
    [PL_ETCD] = {"etcd", true, false, "{state}/etcd.log", "{run}/etcd.pid",
        {"etcd", "--name", "{id}", "--data-dir", "{state}/etcd",
         "--listen-client-urls", "http://{ip}:2379,http://127.0.0.1:2379",
         "--advertise-client-urls", "http://{ip}:2379",
         "--listen-peer-urls", "http://{ip}:2380", "--initial-advertise-peer-urls", "http://{ip}:2380",
         "--initial-cluster", "{initial}", "--initial-cluster-state", "new",
         "--initial-cluster-token", "{name}"}},
    [PL_CONDUCTOR] = {"dokkaa-conductor", true, false, "{state}/conductor.log", "{run}/conductor.pid",
        {"{bin}/dokkaa-conductor", "--host-id", "{id}", "--host-ip", "{ip}", "--etcd", "{hostetcd}",
         "--docker", "unix://{run}/docker.sock", "--cluster", "{name}", "--registry", "{registry}"}},
    [PL_AMBASSADOR] = {"dokkaa-ambassador", true, false, "{state}/ambassador.log", "{run}/ambassador.pid",
        {"{bin}/dokkaa-ambassador", "--etcd", "{hostetcd}", "--docker", "unix://{run}/docker.sock",
         "--cluster", "{name}"}},
    [PL_BUILDER] = {"dokkaa-builder", true, false, "{state}/builder.log", "{run}/builder.pid",
        {"{bin}/dokkaa-builder", "--etcd", "{hostetcd}", "--port", "4001", "--trust", "{net}.0/24",
         "--host-id", "{id}", "--docker", "unix://{run}/docker.sock"}},
    [PL_REGISTRY] = {"docker-registry", false, false, "{root}/registry/registry.log", "{rt}/registry.pid",
        {"/usr/bin/docker-registry", "serve", "{root}/registry/config.yml"}},
};

/* Cluster names become interface names, paths and cgroups: keep them plain. */
static int provider_local_check_name(const char *name, err_t *err)
{
    size_t n = strlen(name);
    if (n == 0 || n > PROVIDER_LOCAL_NAME_MAX ||
        strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789") != n)
        return err_set(err, ERR_INVALID, "cluster name \"%s\": must be 1..%d of a-z, 0-9", name,
                       PROVIDER_LOCAL_NAME_MAX);
    return 0;
}

/* 1..200, stable across runs and machines (FNV-1a). */
static int provider_local_hash_net(const char *name)
{
    unsigned h = 2166136261u;
    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return 1 + (int)(h % 200);
}

void provider_local_endpoints(provider_local *pl)
{
    size_t len = 0;
    pl->etcd[0] = '\0';
    for (int i = 1; i <= pl->members; i++)
        len += (size_t)snprintf(pl->etcd + len, sizeof pl->etcd - len, "%shttp://10.88.%d.%d:2379",
                                i > 1 ? "," : "", pl->net, 10 + i);
}

static void provider_local_load(provider_local *pl)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "/var/lib/%s/cluster", pl->name);
    FILE *f = fopen(path, "r");
    int hosts, members, net;
    if (!f)
        return;
    if (fscanf(f, "hosts=%d members=%d net=%d", &hosts, &members, &net) == 3 && hosts >= 1 &&
        hosts <= PROVIDER_LOCAL_MAX_HOSTS && members >= 1 && members <= PROVIDER_LOCAL_MAX_MEMBERS &&
        net >= 0 && net <= 254) {
        pl->hosts = hosts, pl->members = members, pl->net = net, pl->saved = true;
    }
    fclose(f);
}

static int provider_local_bindir(provider_local *pl, err_t *err)
{
    ssize_t n = readlink("/proc/self/exe", pl->bin, sizeof pl->bin - 1);
    if (n < 0)
        return err_sys(err, "/proc/self/exe");
    pl->bin[n] = '\0';
    char *slash = strrchr(pl->bin, '/');
    if (slash)
        *slash = '\0';
    return 0;
}

int provider_local_init(provider_local *pl, const char *name, int net, err_t *err)
{
    memset(pl, 0, sizeof *pl);
    if (provider_local_check_name(name, err) < 0)
        return -1;
    if (net > 254)
        return err_set(err, ERR_INVALID, "--net %d: must be 0..254", net);
    snprintf(pl->name, sizeof pl->name, "%s", name);
    pl->net = net >= 0                                         ? net
              : strcmp(name, CONFIG_CLUSTER_DEFAULT) == 0 ? 0
                                                               : provider_local_hash_net(name);
    provider_local_load(pl);
    provider_local_endpoints(pl);
    return provider_local_bindir(pl, err);
}

int provider_local_save(const provider_local *pl, err_t *err)
{
    char path[PATH_MAX], tmp[PATH_MAX + 4];
    snprintf(path, sizeof path, "/var/lib/%s/cluster", pl->name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return err_sys(err, "%s", tmp);
    fprintf(f, "hosts=%d members=%d net=%d\n", pl->hosts, pl->members, pl->net);
    if (fclose(f) != 0 || rename(tmp, path) < 0)
        return err_sys(err, "%s", path);
    return 0;
}

/* The member list for host i's daemons, starting with the member nearest to it
 * (its own, for the first hosts), so that the hosts spread their requests over
 * the members, and the loss of h1 is not a stall for every host. */
static void provider_local_host_endpoints(const provider_local *pl, int i, char *val, size_t size)
{
    size_t o = 0;
    val[0] = '\0';
    for (int k = 0; k < pl->members && o < size; k++) {
        int m = (i - 1 + k) % pl->members + 1;
        o += (size_t)snprintf(val + o, size - o, "%shttp://10.88.%d.%d:2379", k ? "," : "", pl->net,
                              10 + m);
    }
}

/* The value of one template variable, into val. */
static int provider_local_var(const provider_local *pl, int i, const char *var, size_t len, char *val,
                              size_t size)
{
#define PL_IS(s) (len == strlen(s) && memcmp(var, s, len) == 0)
    const char *n = pl->name;
    if (PL_IS("name")) snprintf(val, size, "%s", n);
    else if (PL_IS("net")) snprintf(val, size, "10.88.%d", pl->net);
    else if (PL_IS("gw")) snprintf(val, size, "10.88.%d.1", pl->net);
    else if (PL_IS("registry")) snprintf(val, size, "10.88.%d.1:5000", pl->net);
    else if (PL_IS("root")) snprintf(val, size, "/var/lib/%s", n);
    else if (PL_IS("rt")) snprintf(val, size, "/run/%s", n);
    else if (PL_IS("bin")) snprintf(val, size, "%s", pl->bin);
    else if (PL_IS("etcd")) snprintf(val, size, "%s", pl->etcd);
    else if (PL_IS("initial")) {
        size_t o = 0;
        val[0] = '\0';
        for (int m = 1; m <= pl->members && o < size; m++)
            o += (size_t)snprintf(val + o, size - o, "%sh%d=http://10.88.%d.%d:2380", m > 1 ? "," : "", m,
                                  pl->net, 10 + m);
    } else if (i < 1) return -1;
    else if (PL_IS("i")) snprintf(val, size, "%d", i);
    else if (PL_IS("id")) snprintf(val, size, "h%d", i);
    else if (PL_IS("ip")) snprintf(val, size, "10.88.%d.%d", pl->net, 10 + i);
    else if (PL_IS("hostetcd")) provider_local_host_endpoints(pl, i, val, size);
    else if (PL_IS("ns")) snprintf(val, size, "%s-h%d", n, i);
    else if (PL_IS("nsfile")) snprintf(val, size, "/run/netns/%s-h%d", n, i);
    else if (PL_IS("state")) snprintf(val, size, "/var/lib/%s/h%d", n, i);
    else if (PL_IS("run")) snprintf(val, size, "/run/%s/h%d", n, i);
    else return -1;
    return 0;
#undef PL_IS
}

int provider_local_expand(const provider_local *pl, int i, const char *tmpl, char *buf, size_t size,
                          err_t *err)
{
    size_t o = 0;
    char val[PATH_MAX + 64];
    for (const char *p = tmpl; *p; p++) {
        const char *end = *p == '{' ? strchr(p, '}') : NULL;
        const char *piece = p;
        size_t n = 1;
        if (end) {
            if (provider_local_var(pl, i, p + 1, (size_t)(end - p - 1), val, sizeof val) < 0)
                return err_set(err, ERR_INVALID, "template \"%s\": unknown variable for host %d", tmpl,
                               i);
            piece = val, n = strlen(val), p = end;
        }
        if (o + n >= size)
            return err_set(err, ERR_INVALID, "template \"%s\": too long", tmpl);
        memcpy(buf + o, piece, n);
        o += n;
    }
    buf[o] = '\0';
    return 0;
}

int provider_local_daemon_argv(const provider_local *pl, int i, enum provider_local_daemon_id d,
                               provider_local_argv *out, err_t *err)
{
    const provider_local_daemon *dm = &provider_local_daemons[d];
    int n = 0;
    if (dm->in_netns) {
        out->argv[n++] = "nsenter";
        if (provider_local_expand(pl, i, "--net={nsfile}", out->store[n], sizeof out->store[n], err) < 0)
            return -1;
        out->argv[n] = out->store[n], n++;
    }
    for (int k = 0; dm->argv[k]; k++, n++) {
        if (provider_local_expand(pl, i, dm->argv[k], out->store[n], sizeof out->store[n], err) < 0)
            return -1;
        out->argv[n] = out->store[n];
    }
    out->argv[n] = NULL;
    return 0;
}

pid_t provider_local_daemon_pid(const provider_local *pl, int i, enum provider_local_daemon_id d)
{
    const provider_local_daemon *dm = &provider_local_daemons[d];
    char pidfile[PATH_MAX];
    if (provider_local_expand(pl, i, dm->pidfile, pidfile, sizeof pidfile, NULL) < 0)
        return 0;
    return cfg_pid_alive(pidfile, dm->name);
}

int provider_local_mkdirs_t(const provider_local *pl, int i, const char *tmpl, err_t *err)
{
    char path[PATH_MAX];
    if (provider_local_expand(pl, i, tmpl, path, sizeof path, err) < 0)
        return -1;
    return provider_local_mkdirs(path, err);
}

int provider_local_mkdirs(const char *path, err_t *err)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return err_sys(err, "mkdir %s", buf);
        if (!(*p = c))
            return 0;
    }
}

/* Expand each template argument for host i into out (NULL-terminated list). */
static int provider_local_vargv(const provider_local *pl, int i, va_list ap, provider_local_argv *out,
                                err_t *err)
{
    int n = 0;
    for (const char *t; (t = va_arg(ap, const char *)) != NULL; n++) {
        if (n == 39)
            return err_set(err, ERR_INVALID, "command too long");
        if (provider_local_expand(pl, i, t, out->store[n], sizeof out->store[n], err) < 0)
            return -1;
        out->argv[n] = out->store[n];
    }
    out->argv[n] = NULL;
    return 0;
}

int provider_local_run(const provider_local *pl, int i, err_t *err, ...)
{
    provider_local_argv *a = malloc(sizeof *a);
    va_list ap;
    int rc;
    if (!a)
        return err_set(err, ERR_SYS, "out of memory");
    va_start(ap, err);
    rc = provider_local_vargv(pl, i, ap, a, err);
    va_end(ap);
    if (rc == 0)
        rc = cfg_run(a->argv, err);
    free(a);
    return rc;
}

bool provider_local_probe(const provider_local *pl, int i, ...)
{
    provider_local_argv *a = malloc(sizeof *a);
    va_list ap;
    bool ok = false;
    if (!a)
        return false;
    va_start(ap, i);
    if (provider_local_vargv(pl, i, ap, a, NULL) == 0)
        ok = cfg_probe(a->argv);
    va_end(ap);
    free(a);
    return ok;
}

bool provider_local_exists(const provider_local *pl, int i, const char *tmpl)
{
    char path[PATH_MAX];
    return provider_local_expand(pl, i, tmpl, path, sizeof path, NULL) == 0 && access(path, F_OK) == 0;
}
