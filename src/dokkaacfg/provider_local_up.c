/* provider_local_up.c - `dokkaacfg up --provider=local`: make (or complete) a
 * local cluster. Every step looks first and acts only when something is missing,
 * so a second run on a healthy cluster changes nothing, a larger scale adds hosts,
 * and a run that fails midway leaves only things `down` knows how to remove. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dokkaa/docker.h"
#include "dokkaa/etcd.h"
#include "dokkaa/http.h"
#include "dokkaa/keys.h"
#include "provider_local.h"
#include "run.h"

#define PL_WAIT_DOCKERD 60
#define PL_WAIT_ETCD 30
#define PL_WAIT_SERVICE 30

static const char *const provider_local_images[] = {"dockerfile/nginx", "dockerfile/ubuntu"};

/* One progress line: "h2: dockerd ... started". */
static void provider_local_say(const provider_local *pl, int i, const char *what, const char *result)
{
    if (i > 0 && strcmp(pl->name, CONFIG_CLUSTER_DEFAULT) != 0)
        printf("%s/h%d: %s ... %s\n", pl->name, i, what, result);
    else if (i > 0)
        printf("h%d: %s ... %s\n", i, what, result);
    else
        printf("%s: %s ... %s\n", pl->name, what, result);
    fflush(stdout);
}

/* Settle the host count and etcd membership, and record them before anything is
 * made, so that `down` finds everything even if this run fails. */
static int provider_local_prepare(provider_local *pl, int hosts, err_t *err)
{
    char exe[PATH_MAX + 32];
    if (geteuid() != 0)
        return err_set(err, ERR_INVALID, "the local provider must run as root (it makes namespaces "
                                         "and starts dockerd)");
    snprintf(exe, sizeof exe, "%s/dokkaa-conductor", pl->bin);
    if (access(exe, X_OK) != 0)
        return err_sys(err, "%s (the dokkaa-* programs must sit next to dokkaacfg)", exe);
    if (!pl->saved)
        pl->members = hosts < PROVIDER_LOCAL_MAX_MEMBERS ? hosts : PROVIDER_LOCAL_MAX_MEMBERS;
    else if (hosts < pl->hosts)
        printf("%s: has %d hosts already; up never removes hosts\n", pl->name, pl->hosts);
    pl->hosts = hosts > pl->hosts ? hosts : pl->hosts;
    provider_local_endpoints(pl);
    if (provider_local_mkdirs_t(pl, 0, "{root}/registry", err) < 0 ||
        provider_local_mkdirs_t(pl, 0, "{rt}", err) < 0 || provider_local_save(pl, err) < 0)
        return -1;
    printf("%s: network 10.88.%d.0/24, hosts h1..h%d, etcd members h1..h%d\n", pl->name, pl->net,
           pl->hosts, pl->members);
    return 0;
}

/* The bridge and the FORWARD rule that lets bridged hosts reach each other (the
 * root dockerd sets the FORWARD policy to DROP). */
static int provider_local_bridge(provider_local *pl, err_t *err)
{
    bool made = !provider_local_exists(pl, 0, "/sys/class/net/{name}0");
    if (made &&
        provider_local_run(pl, 0, err, "ip", "link", "add", "{name}0", "type", "bridge", NULL) < 0)
        return -1;
    if (provider_local_run(pl, 0, err, "ip", "addr", "replace", "{gw}/24", "dev", "{name}0", NULL) < 0 ||
        provider_local_run(pl, 0, err, "ip", "link", "set", "{name}0", "up", NULL) < 0)
        return -1;
    provider_local_say(pl, 0, "bridge", made ? "created" : "exists");
    pl->changed += made;
    if (provider_local_probe(pl, 0, "iptables", "-C", "FORWARD", "-i", "{name}0", "-o", "{name}0", "-j",
                             "ACCEPT", NULL)) {
        provider_local_say(pl, 0, "iptables FORWARD rule", "present");
        return 0;
    }
    if (provider_local_run(pl, 0, err, "iptables", "-I", "FORWARD", "-i", "{name}0", "-o", "{name}0",
                           "-j", "ACCEPT", NULL) < 0)
        return -1;
    provider_local_say(pl, 0, "iptables FORWARD rule", "added");
    pl->changed++;
    return 0;
}

/* Host i's namespace, its veth on the bridge (eth0 inside), and its dirs. */
static int provider_local_host_net(provider_local *pl, int i, err_t *err)
{
    bool ns = !provider_local_exists(pl, i, "{nsfile}");
    bool veth = !provider_local_exists(pl, i, "/sys/class/net/{ns}");
    if (provider_local_mkdirs_t(pl, i, "{state}", err) < 0 ||
        provider_local_mkdirs_t(pl, i, "{run}", err) < 0 ||
        (ns && provider_local_run(pl, i, err, "ip", "netns", "add", "{ns}", NULL) < 0))
        return -1;
    if (veth && (provider_local_run(pl, i, err, "ip", "link", "add", "{ns}", "type", "veth", "peer",
                                    "name", "{ns}p", "netns", "{ns}", NULL) < 0 ||
                 provider_local_run(pl, i, err, "ip", "-n", "{ns}", "link", "set", "{ns}p", "name",
                                    "eth0", NULL) < 0))
        return -1;
    /* Idempotent: harmless on a healthy host, completes a half-made one. */
    if (provider_local_run(pl, i, err, "ip", "link", "set", "{ns}", "master", "{name}0", "up",
                           NULL) < 0 ||
        provider_local_run(pl, i, err, "ip", "-n", "{ns}", "addr", "replace", "{ip}/24", "dev", "eth0",
                           NULL) < 0 ||
        provider_local_run(pl, i, err, "ip", "-n", "{ns}", "link", "set", "eth0", "up", NULL) < 0 ||
        provider_local_run(pl, i, err, "ip", "-n", "{ns}", "link", "set", "lo", "up", NULL) < 0)
        return -1;
    provider_local_say(pl, i, "namespace and veth", ns || veth ? "created" : "exist");
    pl->changed += ns || veth;
    return 0;
}

/* A daemon that writes its own pid file (dockerd) refuses to start while the file
 * names a process that exists, and so does dockerd's containerd, whose pid file
 * dockerd keeps in its exec root: a killed dockerd, and the containerd that dies
 * with it, linger a moment as zombies until whoever adopted them reaps them, and
 * a dockerd restarted by `up` right after a kill -9 failed ("pid file found",
 * "timeout waiting for containerd to start"). The caller has found the daemon not
 * running (a zombie is not); a containerd that still runs keeps its file (with
 * live-restore the new dockerd takes it and its containers back). */
static int provider_local_clear_pidfiles(provider_local *pl, int i,
                                         enum provider_local_daemon_id d, const char *pidfile,
                                         err_t *err)
{
    char containerd[PATH_MAX];
    if (!provider_local_daemons[d].own_pidfile)
        return 0;
    /* read again just before: a daemon another `up` started meanwhile keeps its file */
    if (!cfg_pid_alive(pidfile, provider_local_daemons[d].name) && unlink(pidfile) < 0 &&
        errno != ENOENT)
        return err_sys(err, "%s", pidfile);
    if (d != PL_DOCKERD)
        return 0;
    if (provider_local_expand(pl, i, "{run}/exec/containerd/containerd.pid", containerd,
                              sizeof containerd, err) < 0)
        return -1;
    if (!cfg_pid_alive(containerd, "containerd") && unlink(containerd) < 0 && errno != ENOENT)
        return err_sys(err, "%s", containerd);
    return 0;
}

/* Start daemon d on host i unless it runs. */
static int provider_local_start(provider_local *pl, int i, enum provider_local_daemon_id d, err_t *err)
{
    const provider_local_daemon *dm = &provider_local_daemons[d];
    char log[PATH_MAX], pidfile[PATH_MAX];
    provider_local_argv *a;
    int rc = -1;
    if (provider_local_daemon_pid(pl, i, d)) {
        provider_local_say(pl, i, dm->name, "running");
        return 0;
    }
    if (!(a = malloc(sizeof *a)))
        return err_set(err, ERR_SYS, "out of memory");
    if (provider_local_expand(pl, i, dm->log, log, sizeof log, err) == 0 &&
        provider_local_expand(pl, i, dm->pidfile, pidfile, sizeof pidfile, err) == 0 &&
        provider_local_clear_pidfiles(pl, i, d, pidfile, err) == 0 &&
        provider_local_daemon_argv(pl, i, d, a, err) == 0 &&
        cfg_spawn_daemon(a->argv, log, dm->own_pidfile ? NULL : pidfile, &pl->spawned[i][d], err) == 0) {
        provider_local_say(pl, i, dm->name, "started");
        pl->changed++;
        rc = 0;
    }
    free(a);
    return rc;
}

/* What a readiness check needs. */
typedef struct provider_local_probe_ctx {
    provider_local *pl;
    int i;
    enum provider_local_daemon_id d;
    char target[PATH_MAX]; /* URL, socket or key */
    http_client *http;
    etcd *etcd;
} provider_local_probe_ctx;

/* A daemon this run started that has exited will never answer: say so at once,
 * with the last line of its log. */
static int provider_local_dead(provider_local_probe_ctx *c, err_t *last)
{
    pid_t pid = c->pl->spawned[c->i][c->d];
    char log[PATH_MAX], line[512] = "", buf[512];
    if (!pid || cfg_pid_running(pid))
        return 0;
    provider_local_expand(c->pl, c->i, provider_local_daemons[c->d].log, log, sizeof log, NULL);
    FILE *f = fopen(log, "r");
    while (f && fgets(buf, sizeof buf, f))
        if (buf[0] != '\n')
            snprintf(line, sizeof line, "%s", buf);
    if (f)
        fclose(f);
    line[strcspn(line, "\n")] = '\0';
    err_set(last, ERR_UNAVAIL, "%s exited (%s: %s)", provider_local_daemons[c->d].name, log, line);
    return -1;
}

/* Ready when GET target answers 200 (and, for etcd, reports health). */
static int provider_local_http_ready(void *ud, err_t *last)
{
    provider_local_probe_ctx *c = ud;
    http_req req = {.method = "GET", .url = c->target, .timeout_ms = 1000};
    http_buf body = {0};
    long status = 0;
    int rc = 0;
    if (provider_local_dead(c, last) < 0)
        return -1;
    if (http_do(c->http, &req, &status, &body, last) == 0) {
        rc =
            status == 200 && (c->d != PL_ETCD || (body.data && strstr(body.data, "\"health\":\"true\"")));
        if (!rc)
            err_set(last, ERR_REMOTE, "HTTP %ld: %.200s", status, body.data ? body.data : "");
    }
    http_buf_free(&body);
    return rc;
}

static int provider_local_docker_ready(void *ud, err_t *last)
{
    provider_local_probe_ctx *c = ud;
    docker *d;
    int rc = 0;
    if (provider_local_dead(c, last) < 0)
        return -1;
    if ((d = docker_new(c->target, last)) &&
        docker_call(d, "GET", "/version", NULL, NULL, NULL, last) == 0)
        rc = 1;
    docker_free(d);
    return rc;
}

static int provider_local_registered(void *ud, err_t *last)
{
    provider_local_probe_ctx *c = ud;
    etcd_kvs kvs = {0};
    int rc = 0;
    if (provider_local_dead(c, last) < 0)
        return -1;
    if (etcd_get(c->etcd, c->target, &kvs, last) == 0) {
        rc = kvs.n == 1;
        if (!rc)
            err_set(last, ERR_NOTFOUND, "%s not in etcd yet", c->target);
    }
    etcd_kvs_free(&kvs);
    return rc;
}

/* Wait until daemon d of host i is ready; target is a template. */
static int provider_local_ready(provider_local *pl, int i, enum provider_local_daemon_id d,
                                const char *target, cfg_ready_fn fn, int seconds, etcd *e, err_t *err)
{
    provider_local_probe_ctx c = {.pl = pl, .i = i, .d = d, .etcd = e};
    char what[PATH_MAX + 64];
    int rc = -1;
    if (provider_local_expand(pl, i, target, c.target, sizeof c.target, err) < 0)
        return -1;
    snprintf(what, sizeof what, "%s at %s", provider_local_daemons[d].name, c.target);
    if ((c.http = http_client_new(NULL, err)) && cfg_wait(what, seconds, fn, &c, err) == 0) {
        provider_local_say(pl, i, what, "ok");
        rc = 0;
    }
    http_client_free(c.http);
    return rc;
}

/* The registry's config, rewritten each time (same content: no change). */
static int provider_local_registry_config(provider_local *pl, err_t *err)
{
    char path[PATH_MAX], root[PATH_MAX], addr[64];
    if (provider_local_expand(pl, 0, "{root}/registry/config.yml", path, sizeof path, err) < 0 ||
        provider_local_expand(pl, 0, "{root}/registry", root, sizeof root, err) < 0 ||
        provider_local_expand(pl, 0, "{registry}", addr, sizeof addr, err) < 0)
        return -1;
    FILE *f = fopen(path, "w");
    if (!f)
        return err_sys(err, "%s", path);
    fprintf(f, "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\n"
               "http:\n  addr: %s\n", root, addr);
    if (fclose(f) != 0)
        return err_sys(err, "%s", path);
    return 0;
}

/* Debian's docker-registry, installed on first use. */
static int provider_local_registry(provider_local *pl, err_t *err)
{
    static const char *const install[] = {"apt-get", "install", "-y", "-qq", "docker-registry", NULL};
    if (access("/usr/bin/docker-registry", X_OK) != 0) {
        setenv("DEBIAN_FRONTEND", "noninteractive", 1);
        if (cfg_run(install, err) < 0)
            return -1;
        provider_local_say(pl, 0, "docker-registry package", "installed");
    }
    return provider_local_registry_config(pl, err) < 0 ? -1
                                                       : provider_local_start(pl, 0, PL_REGISTRY, err);
}

/* Whether the registry holds image (the distribution API's tag list). */
static bool provider_local_registry_has(provider_local *pl, const char *image)
{
    char tmpl[256], url[512];
    http_client *h = http_client_new(NULL, NULL);
    http_buf body = {0};
    long status = 0;
    snprintf(tmpl, sizeof tmpl, "http://{registry}/v2/%s/tags/list", image);
    http_req req = {.method = "GET", .url = url, .timeout_ms = 5000};
    bool has = h && provider_local_expand(pl, 0, tmpl, url, sizeof url, NULL) == 0 &&
               http_do(h, &req, &status, &body, NULL) == 0 && status == 200;
    http_buf_free(&body);
    http_client_free(h);
    return has;
}

/* Build image into h1's engine with images/build.sh (a cached debootstrap, never
 * a pull), tag it for the registry and push it there. */
static int provider_local_image_push(const provider_local *pl, const char *image, err_t *err)
{
    char script[PATH_MAX + 32], ref[256];
    snprintf(script, sizeof script, "%s/../../images/build.sh", pl->bin);
    snprintf(ref, sizeof ref, "{registry}/%s", image);
    if (provider_local_run(pl, 1, err, script, "-H", "unix://{run}/docker.sock", image, NULL) < 0 ||
        provider_local_run(pl, 1, err, "docker", "-H", "unix://{run}/docker.sock", "tag", image, ref,
                           NULL) < 0 ||
        provider_local_run(pl, 1, err, "docker", "-H", "unix://{run}/docker.sock", "push", ref, NULL) < 0)
        return err_prefix(err, "image %s", image);
    return 0;
}

/* Push image in a child process (a push is mostly the engine compressing layers
 * on one core: two at once take half the time). The child's error comes back
 * through *fd. */
static pid_t provider_local_push_start(const provider_local *pl, const char *image, int *fd, err_t *err)
{
    int fds[2];
    pid_t pid;
    if (pipe(fds) < 0)
        return err_sys(err, "pipe");
    fflush(stdout);
    if ((pid = fork()) < 0) {
        close(fds[0]), close(fds[1]);
        return err_sys(err, "fork");
    }
    if (pid == 0) {
        err_t e;
        close(fds[0]);
        int rc = provider_local_image_push(pl, image, &e);
        if (rc < 0 && write(fds[1], e.msg, strlen(e.msg)) < 0)
            rc = -1;
        _exit(rc < 0 ? 1 : 0);
    }
    close(fds[1]);
    *fd = fds[0];
    return pid;
}

static int provider_local_push_wait(pid_t pid, int fd, err_t *err)
{
    char msg[sizeof err->msg];
    ssize_t n, len = 0;
    int status = 0;
    while ((n = read(fd, msg + len, sizeof msg - 1 - (size_t)len)) > 0)
        len += n;
    msg[len] = '\0';
    close(fd);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    return err_set(err, ERR_REMOTE, "%s", len ? msg : "image push failed");
}

/* The example images into the registry, where every host's conductor finds them;
 * those missing there are pushed in parallel. */
static int provider_local_images_push(provider_local *pl, err_t *err)
{
    enum { N = sizeof provider_local_images / sizeof *provider_local_images };
    pid_t pids[N] = {0};
    int fds[N], rc = 0;
    err_t e;
    for (size_t k = 0; k < N; k++) {
        if (provider_local_registry_has(pl, provider_local_images[k]))
            provider_local_say(pl, 0, provider_local_images[k], "in the registry");
        else if ((pids[k] = provider_local_push_start(pl, provider_local_images[k], &fds[k], &e)) < 0) {
            pids[k] = 0;
            if (rc == 0)
                *err = e; /* the first error; the other pushes are still awaited */
            rc = -1;
        }
    }
    for (size_t k = 0; k < N; k++) {
        if (!pids[k])
            continue;
        if (provider_local_push_wait(pids[k], fds[k], &e) < 0) {
            if (rc == 0)
                *err = e;
            rc = -1;
            continue;
        }
        provider_local_say(pl, 0, provider_local_images[k], "built and pushed");
        pl->changed++;
    }
    return rc;
}

/* The engines and the etcd cluster: all started first, then awaited, so that
 * the waits overlap (etcd members only become healthy together). */
static int provider_local_engines(provider_local *pl, err_t *err)
{
    for (int i = 1; i <= pl->hosts; i++)
        if (provider_local_start(pl, i, PL_DOCKERD, err) < 0)
            return err_prefix(err, "h%d", i);
    for (int i = 1; i <= pl->members; i++)
        if (provider_local_start(pl, i, PL_ETCD, err) < 0)
            return err_prefix(err, "h%d", i);
    for (int i = 1; i <= pl->hosts; i++)
        if (provider_local_ready(pl, i, PL_DOCKERD, "unix://{run}/docker.sock",
                                 provider_local_docker_ready, PL_WAIT_DOCKERD, NULL, err) < 0)
            return err_prefix(err, "h%d", i);
    for (int i = 1; i <= pl->members; i++)
        if (provider_local_ready(pl, i, PL_ETCD, "http://{ip}:2379/health", provider_local_http_ready,
                                 PL_WAIT_ETCD, NULL, err) < 0)
            return err_prefix(err, "h%d", i);
    return 0;
}

/* Conductor, ambassador and builder on every host, awaited as for the engines. */
static int provider_local_daemons_up(provider_local *pl, err_t *err)
{
    etcd *e = NULL;
    int rc = -1;
    for (int i = 1; i <= pl->hosts; i++)
        for (int d = PL_CONDUCTOR; d <= PL_BUILDER; d++)
            if (provider_local_start(pl, i, d, err) < 0)
                return err_prefix(err, "h%d", i);
    if (!(e = etcd_new(pl->etcd, err)))
        return -1;
    for (int i = 1; i <= pl->hosts; i++) {
        char id[16], key[KEYS_SIZE]; /* the conductor is up when its host is registered */
        snprintf(id, sizeof id, "h%d", i);
        if (provider_local_ready(pl, i, PL_BUILDER, "http://{ip}:4001/healthz", provider_local_http_ready,
                                 PL_WAIT_SERVICE, NULL, err) < 0 ||
            provider_local_ready(pl, i, PL_CONDUCTOR, keys_host_key(key, id), provider_local_registered,
                                 PL_WAIT_SERVICE, e, err) < 0) {
            err_prefix(err, "h%d", i);
            goto out;
        }
    }
    rc = 0;
out:
    etcd_free(e);
    return rc;
}

static void provider_local_summary(const provider_local *pl)
{
    char flag[64] = "";
    if (strcmp(pl->name, CONFIG_CLUSTER_DEFAULT) != 0)
        snprintf(flag, sizeof flag, " --name %s", pl->name);
    printf("\n%s: %d hosts up (h1..h%d at 10.88.%d.11..%d), etcd %s, registry 10.88.%d.1:5000%s\n",
           pl->name, pl->hosts, pl->hosts, pl->net, 10 + pl->hosts, pl->etcd, pl->net,
           pl->changed ? "" : "; nothing changed");
    printf("builder (any host): http://10.88.%d.11:4001\n"
           "  cd examples/nginx-and-crawler\n"
           "  curl -L -XPUT -d value=\"$(cat nginx.json)\" "
           "http://10.88.%d.11:4001/v2/keys/apps/dummy/nginx/manifest\n"
           "status: dokkaacfg status%s    remove: dokkaacfg down%s\n",
           pl->net, pl->net, flag, flag);
}

int provider_local_up(provider_local *pl, int hosts, err_t *err)
{
    if (provider_local_prepare(pl, hosts, err) < 0 || provider_local_bridge(pl, err) < 0 ||
        provider_local_registry(pl, err) < 0)
        return -1;
    for (int i = 1; i <= pl->hosts; i++)
        if (provider_local_host_net(pl, i, err) < 0)
            return err_prefix(err, "h%d", i);
    if (provider_local_engines(pl, err) < 0 ||
        provider_local_ready(pl, 0, PL_REGISTRY, "http://{registry}/v2/", provider_local_http_ready,
                             PL_WAIT_SERVICE, NULL, err) < 0 ||
        provider_local_images_push(pl, err) < 0 || provider_local_daemons_up(pl, err) < 0)
        return -1;
    provider_local_summary(pl);
    return 0;
}
