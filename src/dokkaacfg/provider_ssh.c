/* provider_ssh.c - the ssh provider's cluster state (clusters/<name>/cluster.json),
 * its package, and the tunnel to its etcd; the steps are in provider_ssh_up.c
 * and provider_ssh_down.c. See provider_ssh.h. */
#include "provider_ssh.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glob.h>
#include <jansson.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "dokkaa/http.h"
#include "dokkaa/net.h"
#include "run.h"

/* clusters/<name>/ beside the CLI's config file. */
static int provider_ssh_dir(ssh_cluster *c, err_t *err)
{
    char config[PATH_MAX];
    if (api_config_path(config, sizeof config, err) != API_OK)
        return -1;
    char *slash = strrchr(config, '/');
    if (slash)
        *slash = '\0';
    if (snprintf(c->dir, sizeof c->dir, "%s/clusters/%s", config, c->name) >= (int)sizeof c->dir)
        return err_set(err, ERR_INVALID, "%s/clusters/%s: path too long", config, c->name);
    return 0;
}

static int provider_ssh_check_name(const char *name, err_t *err)
{
    size_t n = strlen(name);
    if (n == 0 || n > 32 || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") != n ||
        name[0] == '-' || name[n - 1] == '-')
        return err_set(err, ERR_INVALID,
                       "cluster name \"%s\": 1..32 of a-z, 0-9 and inner '-'", name);
    return 0;
}

static void provider_ssh_copy(char *dst, size_t size, const json_t *obj, const char *field)
{
    const char *v = json_string_value(json_object_get(obj, field));
    snprintf(dst, size, "%s", v ? v : "");
}

int provider_ssh_load(ssh_cluster *c, const char *name, err_t *err)
{
    char path[PATH_MAX];
    json_error_t jerr;
    json_t *root, *h;
    size_t i;
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    snprintf(c->provider, sizeof c->provider, "ssh");
    if (provider_ssh_check_name(name, err) < 0 || provider_ssh_dir(c, err) < 0)
        return -1;
    snprintf(c->ssh.known_hosts, sizeof c->ssh.known_hosts, "%s/known_hosts", c->dir);
    snprintf(path, sizeof path, "%s/cluster.json", c->dir);
    if (!(root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr))) {
        if (access(path, F_OK) != 0 && errno == ENOENT)
            return 0;
        return err_set(err, ERR_INVALID, "%s: line %d: %s", path, jerr.line, jerr.text);
    }
    provider_ssh_copy(c->provider, sizeof c->provider, root, "provider");
    provider_ssh_copy(c->identity, sizeof c->identity, root, "identity");
    c->formed = json_is_true(json_object_get(root, "etcd_formed"));
    json_array_foreach(json_object_get(root, "hosts"), i, h) {
        if (c->nhosts == PROVIDER_SSH_MAX_HOSTS)
            break;
        ssh_host *host = &c->hosts[c->nhosts++];
        provider_ssh_copy(host->target, sizeof host->target, h, "target");
        provider_ssh_copy(host->addr, sizeof host->addr, h, "addr");
        provider_ssh_copy(host->id, sizeof host->id, h, "id");
        host->member = json_is_true(json_object_get(h, "etcd_member"));
        host->joined = json_is_true(json_object_get(h, "etcd_joined"));
    }
    json_array_foreach(json_object_get(root, "trust"), i, h)
        if (json_is_string(h) && c->ntrust < PROVIDER_SSH_MAX_TRUST)
            snprintf(c->trust[c->ntrust++], sizeof c->trust[0], "%s", json_string_value(h));
    json_decref(root);
    if (c->identity[0])
        c->ssh.identity = c->identity;
    return 0;
}

int provider_ssh_open(ssh_cluster *c, const char *name, const char *provider, const char *identity,
                      const char *const *trust, int ntrust, err_t *err)
{
    if (provider_ssh_load(c, name, err) < 0)
        return -1;
    if (c->nhosts && strcmp(c->provider, provider) != 0)
        return err_set(err, ERR_INVALID, "cluster %s was made by the %s provider", c->name,
                       c->provider);
    snprintf(c->provider, sizeof c->provider, "%s", provider);
    if (identity)
        snprintf(c->identity, sizeof c->identity, "%s", identity);
    c->ssh.identity = c->identity[0] ? c->identity : NULL;
    for (int i = 0; i < ntrust; i++)
        if (provider_ssh_add_trust(c, trust[i], err) < 0)
            return -1;
    return 0;
}

/* mkdir -p dir, 0700 each. */
static int provider_ssh_mkdirs(const char *dir, err_t *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0700) < 0 && errno != EEXIST)
            return err_sys(err, "mkdir %s", path);
        *p = '/';
    }
    if (mkdir(path, 0700) < 0 && errno != EEXIST)
        return err_sys(err, "mkdir %s", path);
    return 0;
}

int provider_ssh_save(const ssh_cluster *c, err_t *err)
{
    char path[PATH_MAX], hosts_dir[PATH_MAX];
    json_t *root = json_pack("{s:s,s:s,s:b,s:[],s:[]}", "name", c->name, "provider", c->provider,
                             "etcd_formed", c->formed, "hosts", "trust");
    int rc = -1;
    if (!root)
        return err_set(err, ERR_SYS, "out of memory");
    if (c->identity[0])
        json_object_set_new(root, "identity", json_string(c->identity));
    for (size_t i = 0; i < c->nhosts; i++)
        json_array_append_new(json_object_get(root, "hosts"),
                              json_pack("{s:s,s:s,s:s,s:b,s:b}", "target", c->hosts[i].target,
                                        "addr", c->hosts[i].addr, "id", c->hosts[i].id,
                                        "etcd_member", c->hosts[i].member, "etcd_joined",
                                        c->hosts[i].joined));
    for (size_t i = 0; i < c->ntrust; i++)
        json_array_append_new(json_object_get(root, "trust"), json_string(c->trust[i]));
    snprintf(hosts_dir, sizeof hosts_dir, "%s/hosts", c->dir);
    snprintf(path, sizeof path, "%s/cluster.json", c->dir);
    if (provider_ssh_mkdirs(hosts_dir, err) == 0 && api_config_write(path, root, err) == API_OK)
        rc = 0;
    json_decref(root);
    return rc;
}

/* The IPv4 address of target's host part, into ip. */
static int provider_ssh_resolve(const char *target, char ip[INET_ADDRSTRLEN], err_t *err)
{
    const char *at = strrchr(target, '@'), *addr = at ? at + 1 : target;
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
    if (!*addr || strlen(target) >= sizeof ((ssh_host *)0)->target || strchr(target, ' ') ||
        target[0] == '-')
        return err_set(err, ERR_INVALID, "--host \"%s\": expected [USER@]ADDRESS", target);
    int gai = getaddrinfo(addr, NULL, &hints, &res);
    if (gai != 0)
        return err_set(err, ERR_INVALID, "--host %s: %s", target, gai_strerror(gai));
    inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, ip, INET_ADDRSTRLEN);
    freeaddrinfo(res);
    return 0;
}

ssh_host *provider_ssh_find(ssh_cluster *c, const char *target, err_t *err)
{
    char ip[INET_ADDRSTRLEN];
    if (provider_ssh_resolve(target, ip, err) < 0)
        return NULL;
    for (size_t i = 0; i < c->nhosts; i++)
        if (strcmp(c->hosts[i].addr, ip) == 0)
            return &c->hosts[i];
    err_set(err, ERR_NOTFOUND, "%s is not a host of cluster %s", target, c->name);
    return NULL;
}

int provider_ssh_add_host(ssh_cluster *c, const char *target, err_t *err)
{
    char ip[INET_ADDRSTRLEN];
    if (provider_ssh_resolve(target, ip, err) < 0)
        return -1;
    for (size_t i = 0; i < c->nhosts; i++)
        if (strcmp(c->hosts[i].addr, ip) == 0) {
            snprintf(c->hosts[i].target, sizeof c->hosts[i].target, "%s", target);
            return 0;
        }
    if (c->nhosts == PROVIDER_SSH_MAX_HOSTS)
        return err_set(err, ERR_INVALID, "at most %d hosts", PROVIDER_SSH_MAX_HOSTS);
    ssh_host *h = &c->hosts[c->nhosts++];
    memset(h, 0, sizeof *h);
    snprintf(h->target, sizeof h->target, "%s", target);
    snprintf(h->addr, sizeof h->addr, "%s", ip);
    return 0;
}

int provider_ssh_add_trust(ssh_cluster *c, const char *cidr, err_t *err)
{
    net_cidr parsed;
    /* checked as the builder's --trust will read it (net.h), and kept as written:
     * it ends up in the hosts' dokkaa.conf (at most 18 characters: it fits) */
    if (net_cidr_parse(cidr, &parsed, err) < 0)
        return err_prefix(err, "--trust");
    for (size_t i = 0; i < c->ntrust; i++)
        if (strcmp(c->trust[i], cidr) == 0)
            return 0;
    if (c->ntrust == PROVIDER_SSH_MAX_TRUST)
        return err_set(err, ERR_INVALID, "--trust: at most %d networks", PROVIDER_SSH_MAX_TRUST);
    snprintf(c->trust[c->ntrust++], sizeof c->trust[0], "%s", cidr);
    return 0;
}

/* The package's version, as dpkg-deb reads it. */
static int provider_ssh_package_version(ssh_cluster *c, err_t *err)
{
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "dpkg-deb -f '%s' Version 2>/dev/null", c->package);
    if (strchr(c->package, '\''))
        return err_set(err, ERR_INVALID, "%s: a quote in the path", c->package);
    FILE *p = popen(cmd, "r");
    bool got = p && fgets(c->package_version, sizeof c->package_version, p);
    if (p && pclose(p) != 0)
        got = false;
    c->package_version[strcspn(c->package_version, "\n")] = '\0';
    if (!got || !c->package_version[0])
        return err_set(err, ERR_INVALID, "%s: not a Debian package (dpkg-deb -f says no version)",
                       c->package);
    return 0;
}

int provider_ssh_package(ssh_cluster *c, const char *file, err_t *err)
{
    char exe[PATH_MAX], pattern[PATH_MAX + 64];
    ssize_t n;
    if (file) {
        if (access(file, R_OK) != 0)
            return err_sys(err, "--package %s", file);
        snprintf(c->package, sizeof c->package, "%s", file);
        return provider_ssh_package_version(c, err);
    }
    /* this CLI's own version, built by `make deb` (build/dokkaa_*.deb, beside
     * build/src/dokkaacfg and build/deb/src/dokkaacfg), or kept by apt when it
     * installed the package */
    if ((n = readlink("/proc/self/exe", exe, sizeof exe - 1)) < 0)
        return err_sys(err, "/proc/self/exe");
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    const char *const candidates[] = {"%s/../dokkaa_" DOKKAA_VERSION "_*.deb",
                                      "%s/../../dokkaa_" DOKKAA_VERSION "_*.deb",
                                      "%s/dokkaa_" DOKKAA_VERSION "_*.deb",
                                      "/var/cache/apt/archives/dokkaa_" DOKKAA_VERSION "_*.deb%s"};
    for (size_t i = 0; i < sizeof candidates / sizeof *candidates; i++) {
        glob_t g;
        snprintf(pattern, sizeof pattern, candidates[i], i < 3 ? exe : "");
        if (glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc > 0) {
            char *real = realpath(g.gl_pathv[0], NULL);
            snprintf(c->package, sizeof c->package, "%s", real ? real : g.gl_pathv[0]);
            free(real);
            globfree(&g);
            return provider_ssh_package_version(c, err);
        }
        globfree(&g);
    }
    return err_set(err, ERR_NOTFOUND, "no dokkaa " DOKKAA_VERSION " package found beside %s: "
                   "build it with `make deb`, or name one with --package FILE", exe);
}

int provider_ssh_etcd_open(ssh_cluster *c, ssh_etcd *t, err_t *err)
{
    char ca[PATH_MAX], cert[PATH_MAX], key[PATH_MAX];
    err_t last = {0};
    snprintf(ca, sizeof ca, "%s/ca.pem", c->dir);
    snprintf(cert, sizeof cert, "%s/client.pem", c->dir);
    snprintf(key, sizeof key, "%s/client.key", c->dir);
    http_tls_set(ca, cert, key);
    /* any member will do: the first that lets us in */
    for (size_t i = 0; i < c->nhosts; i++) {
        if (!c->hosts[i].member || c->hosts[i].leaving)
            continue;
        if (ssh_tunnel_open(&c->ssh, c->hosts[i].target, 2379, &t->tunnel, &last) == 0) {
            snprintf(t->endpoint, sizeof t->endpoint, "https://127.0.0.1:%d", t->tunnel.port);
            return 0;
        }
    }
    if (last.msg[0])
        return *err = last, -1;
    return err_set(err, ERR_NOTFOUND, "cluster %s has no etcd member to ask", c->name);
}

void provider_ssh_etcd_close(ssh_etcd *t)
{
    ssh_tunnel_close(&t->tunnel);
}

int provider_ssh_current(ssh_cluster *c, bool *found, err_t *err)
{
    char path[PATH_MAX], name[64];
    json_t *cfg = NULL;
    *found = false;
    if (api_config_path(path, sizeof path, NULL) != API_OK ||
        api_config_read(path, &cfg, NULL) != API_OK)
        return 0;
    provider_ssh_copy(name, sizeof name, cfg, "cluster");
    json_decref(cfg);
    if (!name[0])
        return 0;
    if (provider_ssh_load(c, name, err) < 0)
        return -1;
    *found = c->nhosts > 0;
    return 0;
}
