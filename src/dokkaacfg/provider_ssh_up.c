/* provider_ssh_up.c - `dokkaacfg up --provider=ssh`: install Dokkaa on machines
 * over SSH and join them into one cluster.
 *
 * The steps, each shown per host as it happens:
 *   1. reach   every host first (OS, hostname, what is installed), so that a host
 *              that cannot be reached stops the run before anything changes
 *   2. certs   the cluster's CA and each host's certificate, here in the CLI's
 *              config directory (pki.h)
 *   3. package send the .deb and install it with its dependencies (apt-get), one
 *              host at a time, each upgraded host running again before the next;
 *              an older package is refused; docker-registry on the first host
 *   4. config  /etc/dokkaa/dokkaa.conf, etcd.conf on members, the TLS files, the
 *              engine's trust of the cluster's registry: rewritten only if changed
 *   5. etcd    members started together (they wait for each other), awaited
 *              through an SSH tunnel; a member that lost its data is removed and
 *              added back, then starts as "existing"
 *   6. units   conductor, ambassador and builder enabled and started, restarted
 *              if their configuration changed
 *   7. ready   every host registered in etcd and its builder answering HTTPS
 *   8. the CLI's config: the API of the first host, the CA, an admin token
 * Every step looks before it acts, so a second run changes nothing. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "dokkaa/etcd.h"
#include "dokkaa/http.h"
#include "dokkaa/keys.h"
#include "dokkaacfg.h"
#include "pki.h"
#include "provider_ssh.h"
#include "run.h"

#define SSH_WAIT_ETCD 90
#define SSH_WAIT_HOST 90

static const char *provider_ssh_label(const ssh_host *h)
{
    return h->id[0] ? h->id : h->addr;
}

static void provider_ssh_say(const ssh_host *h, const char *step, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void provider_ssh_say(const ssh_host *h, const char *step, const char *fmt, ...)
{
    va_list ap;
    printf("%s (%s): %s ... ", provider_ssh_label(h), h->addr, step);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

/* Every error names the host and the step. */
static int provider_ssh_fail(const ssh_host *h, const char *step, err_t *err)
{
    return err_prefix(err, "%s (%s): %s", provider_ssh_label(h), h->addr, step);
}

/* The value of "key=value" in out, into buf. */
static void provider_ssh_fact(const char *out, const char *key, char *buf, size_t size)
{
    size_t klen = strlen(key);
    buf[0] = '\0';
    for (const char *line = out; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        if (strncmp(line, key, klen) == 0 && line[klen] == '=') {
            size_t n = strcspn(line + klen + 1, "\n");
            snprintf(buf, size, "%.*s", (int)n, line + klen + 1);
            return;
        }
}

static bool provider_ssh_label_ok(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= 63 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n &&
           s[0] != '-' && s[n - 1] != '-';
}

/* 1. What the host is and has. */
static int provider_ssh_reach(ssh_cluster *c, ssh_host *h, err_t *err)
{
    static const char script[] =
        "command -v cloud-init >/dev/null && cloud-init status --wait >/dev/null 2>&1\n"
        ". /etc/os-release\n"
        "echo \"os=$ID $VERSION_ID\"\n"
        "echo \"hostname=$(hostname)\"\n"
        "echo \"uid=$(id -u)\"\n"
        "echo \"arch=$(dpkg --print-architecture)\"\n"
        "echo \"dokkaa=$(dpkg-query -W -f='${db:Status-Abbrev}${Version}' dokkaa 2>/dev/null "
        "| sed -n 's/^ii *//p')\"\n"
        "echo \"etcd_data=$(test -d /var/lib/dokkaa/etcd/member && echo yes)\"\n";
    char *out = NULL, os[64], hostname[64], uid[16], arch[32], data[8];
    if (ssh_script(&c->ssh, h->target, script, &out, err) < 0)
        return provider_ssh_fail(h, "reach", err);
    err_clear(err);
    provider_ssh_fact(out, "os", os, sizeof os);
    provider_ssh_fact(out, "hostname", hostname, sizeof hostname);
    provider_ssh_fact(out, "uid", uid, sizeof uid);
    provider_ssh_fact(out, "arch", arch, sizeof arch);
    provider_ssh_fact(out, "dokkaa", h->version, sizeof h->version);
    provider_ssh_fact(out, "etcd_data", data, sizeof data);
    free(out);
    h->etcd_data = strcmp(data, "yes") == 0;
    if (strcmp(os, "debian 12") != 0)
        err_set(err, ERR_INVALID, "Debian 12 is needed, this is \"%s\"", os);
    else if (strcmp(uid, "0") != 0)
        err_set(err, ERR_INVALID, "not root (uid %s), and sudo did not make it root", uid);
    else if (strcmp(arch, "amd64") != 0)
        err_set(err, ERR_INVALID, "the package is for amd64, this is %s", arch);
    else if (!provider_ssh_label_ok(hostname)) /* it becomes a certificate's name, etcd's */
        err_set(err, ERR_INVALID, "hostname \"%s\": the host id must be a DNS label "
                "(a-z, 0-9, inner '-', at most 63)", hostname);
    for (size_t i = 0; i < c->nhosts && !err->msg[0]; i++)
        if (&c->hosts[i] != h && strcmp(c->hosts[i].id, hostname) == 0)
            err_set(err, ERR_INVALID, "hostname %s is also %s's: host ids must differ", hostname,
                    c->hosts[i].addr);
    if (err->msg[0])
        return provider_ssh_fail(h, "reach", err);
    snprintf(h->id, sizeof h->id, "%s", hostname);
    provider_ssh_say(h, "reach", "Debian 12, %s", h->version[0] ? h->version : "no dokkaa yet");
    return 0;
}

/* 2. The CA, the CLI's client certificate, each host's. */
static int provider_ssh_certs(ssh_cluster *c, err_t *err)
{
    char cert[PATH_MAX], key[PATH_MAX];
    bool made;
    const char *cli_names[] = {"dokkaacfg", NULL};
    if (pki_ca_ensure(c->dir, c->name, &made, err) < 0)
        return err_prefix(err, "certs");
    printf("%s: cluster CA ... %s\n", c->name, made ? "made" : "kept");
    snprintf(cert, sizeof cert, "%s/client.pem", c->dir);
    snprintf(key, sizeof key, "%s/client.key", c->dir);
    if (pki_cert_ensure(c->dir, cert, key, "dokkaacfg", NULL, cli_names, &made, err) < 0)
        return err_prefix(err, "certs");
    for (size_t i = 0; i < c->nhosts; i++) {
        ssh_host *h = &c->hosts[i];
        const char *ips[] = {h->addr, "127.0.0.1", NULL}, *dns[] = {h->id, "localhost", NULL};
        snprintf(cert, sizeof cert, "%s/hosts/%s.pem", c->dir, h->addr);
        snprintf(key, sizeof key, "%s/hosts/%s.key", c->dir, h->addr);
        if (pki_cert_ensure(c->dir, cert, key, h->id, ips, dns, &made, err) < 0)
            return provider_ssh_fail(h, "certificate", err);
        if (made)
            provider_ssh_say(h, "certificate", "made");
    }
    return 0;
}

/* The shell function dk_apt ARGS: `apt-get install -y ARGS`, quiet unless it
 * fails (then its last lines); apt's lists are refreshed only if the install
 * needs them (a fresh cloud image has none). */
#define PROVIDER_SSH_APT                                                                          \
    "export DEBIAN_FRONTEND=noninteractive\n"                                                    \
    "dk_apt() { log=/root/dokkaa-install.log\n"                                                  \
    "  if apt-get install -y -q \"$@\" >$log 2>&1 ||\n"                                           \
    "     { apt-get update -q >>$log 2>&1 && apt-get install -y -q \"$@\" >>$log 2>&1; }; then\n" \
    "    rm -f $log; return 0; fi\n"                                                             \
    "  tail -n 3 $log; rm -f $log; return 1; }\n"

/* 3. The package, if the host has another version. */
static int provider_ssh_install(ssh_cluster *c, ssh_host *h, err_t *err)
{
    char script[1024], *out = NULL;
    if (strcmp(h->version, c->package_version) == 0) {
        provider_ssh_say(h, "package", "dokkaa %s, as wanted", h->version);
        return 0;
    }
    /* dpkg compares: never a downgrade behind the operator's back */
    snprintf(script, sizeof script,
             "if [ -n '%s' ] && dpkg --compare-versions '%s' gt '%s'; then echo newer; fi\n",
             h->version, h->version, c->package_version);
    if (ssh_script(&c->ssh, h->target, script, &out, err) < 0)
        return provider_ssh_fail(h, "package", err);
    bool newer = out && strncmp(out, "newer", 5) == 0;
    free(out);
    if (newer) {
        err_set(err, ERR_INVALID, "dokkaa %s is installed, newer than %s: use that package "
                "(--package)", h->version, c->package_version);
        return provider_ssh_fail(h, "package", err);
    }
    if (ssh_send(&c->ssh, h->target, c->package, "/root/dokkaa.deb", err) < 0)
        return provider_ssh_fail(h, "package: copying it", err);
    /* apt resolves the dependencies (dk_apt). --force-confold keeps the config that
     * `up` wrote. On an upgrade the package restarts the units itself. Before the
     * first install, whether Debian's etcd and registry units were enabled is
     * noted (installing etcd-server enables its unit): `down` leaves them so. */
    static const char install[] =
        "if ! dpkg-query -W dokkaa >/dev/null 2>&1; then\n"
        "  mkdir -p /etc/dokkaa\n"
        "  for u in etcd docker-registry; do\n"
        "    if systemctl is-enabled -q $u.service 2>/dev/null; then\n"
        "      touch /etc/dokkaa/$u.service.was-enabled; fi; done\n"
        "fi\n"
        PROVIDER_SSH_APT
        "dk_apt -o Dpkg::Options::=--force-confold /root/dokkaa.deb || "
        "{ rm -f /root/dokkaa.deb; exit 1; }\n"
        "rm -f /root/dokkaa.deb\n";
    if (ssh_script(&c->ssh, h->target, install, NULL, err) < 0)
        return provider_ssh_fail(h, "package: apt-get install", err);
    /* an upgrade: the next host only once this one runs again */
    static const char settled[] =
        "for i in $(seq 180); do ok=1\n"
        "  for u in conductor ambassador builder; do systemctl is-active -q dokkaa-$u || ok=; done\n"
        "  if [ -e /etc/dokkaa/etcd.conf ] && ! systemctl is-active -q dokkaa-etcd; then ok=; fi\n"
        "  [ -z \"$ok\" ] || exit 0; sleep 0.5; done\n"
        "echo 'the dokkaa units did not run again within 90 s'; exit 1\n";
    if (h->version[0] && ssh_script(&c->ssh, h->target, settled, NULL, err) < 0)
        return provider_ssh_fail(h, "package: upgrade", err);
    if (h->version[0])
        provider_ssh_say(h, "package", "dokkaa %s, upgraded from %s", c->package_version, h->version);
    else
        provider_ssh_say(h, "package", "dokkaa %s installed", c->package_version);
    snprintf(h->version, sizeof h->version, "%s", c->package_version);
    c->changed++;
    return 0;
}

/* 3b. The registry's program on the first host (Debian's docker-registry, only
 * suggested by the package: the other hosts do not need it). Its own unit serves
 * an open registry on the port ours takes: stopped at once, unless the operator
 * had it (then `down` starts it again). */
static int provider_ssh_registry(ssh_cluster *c, ssh_host *h, err_t *err)
{
    static const char script[] =
        "command -v docker-registry >/dev/null && exit 0\n"
        PROVIDER_SSH_APT
        "dk_apt --no-install-recommends docker-registry || exit 1\n"
        "systemctl disable -q --now docker-registry.service\n"
        "echo installed\n";
    char *out = NULL;
    if (ssh_script(&c->ssh, h->target, script, &out, err) < 0)
        return provider_ssh_fail(h, "registry: apt-get install docker-registry", err);
    if (out && strstr(out, "installed")) {
        provider_ssh_say(h, "registry", "docker-registry installed");
        c->changed++;
    }
    free(out);
    return 0;
}

/* Append text to a growing buffer; false when out of memory. */
typedef struct provider_ssh_buf {
    char *data;
    size_t len, cap;
} provider_ssh_buf;

static bool provider_ssh_add(provider_ssh_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static bool provider_ssh_add(provider_ssh_buf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(b->data ? b->data + b->len : NULL, b->data ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return false;
        if (b->data && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return true;
        }
        size_t cap = (b->cap + (size_t)n + 1) * 2;
        char *grown = realloc(b->data, cap);
        if (!grown)
            return false;
        b->data = grown;
        b->cap = cap;
    }
}

/* A file into the script: written on the host only if its content differs
 * (dk_put prints "changed PATH" then). Text must not contain the heredoc's end
 * word, which PEM and our config files cannot. */
static bool provider_ssh_put(provider_ssh_buf *b, const char *path, const char *mode,
                             const char *text)
{
    return provider_ssh_add(b, "dk_put %s %s <<'DOKKAA_EOF'\n%sDOKKAA_EOF\n", path, mode, text);
}

static char *provider_ssh_read(const char *path, err_t *err)
{
    FILE *f = fopen(path, "r");
    size_t len = 0;
    char *text = f ? cfg_read(f, &len) : NULL;
    if (f)
        fclose(f);
    if (!text)
        err_sys(err, "%s", path);
    return text;
}

/* Members' client URLs, the host's own first when it is one (it asks its own
 * member first, as on the local provider). */
static void provider_ssh_endpoints(const ssh_cluster *c, const ssh_host *self, char *buf,
                                   size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    if (self->member)
        len += (size_t)snprintf(buf, size, "https://127.0.0.1:2379");
    for (size_t i = 0; i < c->nhosts && len < size; i++)
        if (c->hosts[i].member && &c->hosts[i] != self)
            len += (size_t)snprintf(buf + len, size - len, "%shttps://%s:2379", len ? "," : "",
                                    c->hosts[i].addr);
}

static void provider_ssh_initial_cluster(const ssh_cluster *c, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < c->nhosts && len < size; i++)
        if (c->hosts[i].member)
            len += (size_t)snprintf(buf + len, size - len, "%s%s=https://%s:2380", len ? "," : "",
                                    c->hosts[i].id, c->hosts[i].addr);
}

/* /etc/dokkaa/dokkaa.conf for host h. */
static bool provider_ssh_conf(const ssh_cluster *c, const ssh_host *h, provider_ssh_buf *b)
{
    char endpoints[2048], trust[PROVIDER_SSH_MAX_TRUST * 64 + 8] = "";
    size_t len = 0;
    provider_ssh_endpoints(c, h, endpoints, sizeof endpoints);
    for (size_t i = 0; i < c->ntrust; i++)
        len += (size_t)snprintf(trust + len, sizeof trust - len, "%s%s", i ? "," : "", c->trust[i]);
    return provider_ssh_add(
        b,
        "# /etc/dokkaa/dokkaa.conf - written by `dokkaacfg up` for cluster %s; the\n"
        "# dokkaa-* units read it. Every setting is explained in\n"
        "# /usr/share/doc/dokkaa/dokkaa.conf.example. A later `up` writes it again.\n"
        "DOKKAA_CLUSTER=%s\n"
        "DOKKAA_HOST_ID=%s\n"
        "DOKKAA_HOST_IP=%s\n"
        "ETCD_ADDR=%s\n"
        "DOKKAA_TRUST=%s\n"
        "DOKKAA_REGISTRY=%s:5000\n"
        "DOKKAA_TLS_CA=/etc/dokkaa/tls/ca.pem\n"
        "DOKKAA_TLS_CERT=/etc/dokkaa/tls/host.pem\n"
        "DOKKAA_TLS_KEY=/etc/dokkaa/tls/host.key\n",
        c->name, c->name, h->id, h->addr, endpoints, trust, c->hosts[0].addr);
}

/* /etc/dokkaa/etcd.conf for member h: etcd's own variables. Clients and peers
 * both need a certificate of the cluster's CA; only https listens. */
static bool provider_ssh_etcd_conf(const ssh_cluster *c, const ssh_host *h, const char *initial,
                                   bool existing, provider_ssh_buf *b)
{
    return provider_ssh_add(
        b,
        "# /etc/dokkaa/etcd.conf - written by `dokkaacfg up`: this host is an etcd member\n"
        "# of cluster %s. dokkaa-etcd.service reads it (etcd's own variables).\n"
        "ETCD_NAME=%s\n"
        "ETCD_DATA_DIR=/var/lib/dokkaa/etcd\n"
        "ETCD_LISTEN_CLIENT_URLS=https://%s:2379,https://127.0.0.1:2379\n"
        "ETCD_ADVERTISE_CLIENT_URLS=https://%s:2379\n"
        "ETCD_LISTEN_PEER_URLS=https://%s:2380\n"
        "ETCD_INITIAL_ADVERTISE_PEER_URLS=https://%s:2380\n"
        "ETCD_INITIAL_CLUSTER=%s\n"
        "ETCD_INITIAL_CLUSTER_STATE=%s\n"
        "ETCD_INITIAL_CLUSTER_TOKEN=dokkaa-%s\n"
        "ETCD_CLIENT_CERT_AUTH=true\n"
        "ETCD_TRUSTED_CA_FILE=/etc/dokkaa/tls/ca.pem\n"
        "ETCD_CERT_FILE=/etc/dokkaa/tls/host.pem\n"
        "ETCD_KEY_FILE=/etc/dokkaa/tls/host.key\n"
        "ETCD_PEER_CLIENT_CERT_AUTH=true\n"
        "ETCD_PEER_TRUSTED_CA_FILE=/etc/dokkaa/tls/ca.pem\n"
        "ETCD_PEER_CERT_FILE=/etc/dokkaa/tls/host.pem\n"
        "ETCD_PEER_KEY_FILE=/etc/dokkaa/tls/host.key\n",
        c->name, h->id, h->addr, h->addr, h->addr, h->addr, initial, existing ? "existing" : "new",
        c->name);
}

/* The cluster's registry runs on the first host; every host's engine trusts it
 * and presents its host certificate to it (the registry lets in only the CA's
 * certificates). Docker wants them in certs.d/<host:port>/ as ca.crt,
 * client.cert and client.key. An engine without a daemon.json of its own gets one
 * that makes the registry its mirror of Docker Hub, so `docker pull NAME` on a
 * host finds what `dokkaacfg push` put there, and turns on live-restore, so that
 * containers go on running while the engine restarts (a docker upgrade, a crash);
 * one the operator wrote is left alone (the conductor pulls from the registry by
 * its own name either way). Both settings take effect on a reload. */
static bool provider_ssh_registry_files(const ssh_cluster *c, const ssh_host *h,
                                        provider_ssh_buf *b, const char *ca, const char *cert,
                                        const char *key)
{
    const char *reg = c->hosts[0].addr;
    char dir[128], path[192], mirror[192];
    snprintf(dir, sizeof dir, "/etc/docker/certs.d/%s:5000", reg);
    snprintf(mirror, sizeof mirror,
             "{\"registry-mirrors\": [\"https://%s:5000\"], \"live-restore\": true}\n", reg);
    bool ok = provider_ssh_add(b, "mkdir -p %s\n", dir);
    snprintf(path, sizeof path, "%s/ca.crt", dir);
    ok = ok && provider_ssh_put(b, path, "0644", ca);
    snprintf(path, sizeof path, "%s/client.cert", dir);
    ok = ok && provider_ssh_put(b, path, "0644", cert);
    snprintf(path, sizeof path, "%s/client.key", dir);
    ok = ok && provider_ssh_put(b, path, "0600", key) &&
         provider_ssh_add(b, "if [ ! -e /etc/docker/daemon.json ] || "
                             "[ -e /etc/dokkaa/daemon.json.ours ]; then\n"
                             "  touch /etc/dokkaa/daemon.json.ours\n"
                             "  dk_put /etc/docker/daemon.json 0644 <<'DOKKAA_EOF' | "
                             "grep -q . && systemctl reload docker\n%sDOKKAA_EOF\nfi\n",
                          mirror);
    if (ok && h == &c->hosts[0])
        ok = provider_ssh_put(b, "/etc/dokkaa/registry.yml", "0644",
                              "# /etc/dokkaa/registry.yml - written by `dokkaacfg up`: the\n"
                              "# cluster's registry (dokkaa-registry.service), TLS with the\n"
                              "# cluster's CA, clients must present a certificate of it.\n"
                              "version: 0.1\n"
                              "log:\n  level: warn\n"
                              "storage:\n  filesystem:\n    rootdirectory: /var/lib/dokkaa/registry\n"
                              "  delete:\n    enabled: true\n"
                              "http:\n  addr: :5000\n  tls:\n"
                              "    certificate: /etc/dokkaa/tls/host.pem\n"
                              "    key: /etc/dokkaa/tls/host.key\n"
                              "    clientcas:\n      - /etc/dokkaa/tls/ca.pem\n");
    else if (ok)
        ok = provider_ssh_add(b, "rm -f /etc/dokkaa/registry.yml\n");
    return ok;
}

/* 4. The host's files, written where they differ. */
static int provider_ssh_configure(ssh_cluster *c, ssh_host *h, err_t *err)
{
    char initial[2048];
    char path[PATH_MAX];
    char *ca = NULL, *cert = NULL, *key = NULL, *out = NULL;
    provider_ssh_buf conf = {0}, etcd_conf = {0}, script = {0};
    int rc = -1;
    provider_ssh_initial_cluster(c, initial, sizeof initial);
    snprintf(path, sizeof path, "%s/ca.pem", c->dir);
    if (!(ca = provider_ssh_read(path, err)))
        goto out;
    snprintf(path, sizeof path, "%s/hosts/%s.pem", c->dir, h->addr);
    if (!(cert = provider_ssh_read(path, err)))
        goto out;
    snprintf(path, sizeof path, "%s/hosts/%s.key", c->dir, h->addr);
    if (!(key = provider_ssh_read(path, err)))
        goto out;
    bool ok = provider_ssh_conf(c, h, &conf) &&
              (!h->member || provider_ssh_etcd_conf(c, h, initial, h->joined, &etcd_conf)) &&
              provider_ssh_add(&script,
                               "set -e\numask 022\nmkdir -p /etc/dokkaa/tls\n"
                               "dk_put() { t=$(mktemp \"$1.XXXXXX\"); cat > \"$t\"; chmod \"$2\" \"$t\"\n"
                               "  if cmp -s \"$t\" \"$1\"; then rm -f \"$t\"; else mv \"$t\" \"$1\"; "
                               "echo \"changed $1\"; fi; }\n") &&
              provider_ssh_put(&script, "/etc/dokkaa/tls/ca.pem", "0644", ca) &&
              provider_ssh_put(&script, "/etc/dokkaa/tls/host.pem", "0644", cert) &&
              provider_ssh_put(&script, "/etc/dokkaa/tls/host.key", "0600", key) &&
              provider_ssh_put(&script, "/etc/dokkaa/dokkaa.conf", "0644", conf.data) &&
              (h->member ? provider_ssh_put(&script, "/etc/dokkaa/etcd.conf", "0644", etcd_conf.data)
                         : provider_ssh_add(&script, "rm -f /etc/dokkaa/etcd.conf\n")) &&
              provider_ssh_registry_files(c, h, &script, ca, cert, key);
    if (!ok) {
        err_set(err, ERR_SYS, "out of memory");
        goto out;
    }
    if (ssh_script(&c->ssh, h->target, script.data, &out, err) < 0)
        goto out;
    bool tls = out && strstr(out, "changed /etc/dokkaa/tls/");
    h->restart_units = tls || (out && (strstr(out, "changed /etc/dokkaa/dokkaa.conf") ||
                                       strstr(out, "changed /etc/dokkaa/registry.yml")));
    h->restart_etcd = tls || (out && strstr(out, "changed /etc/dokkaa/etcd.conf") && !h->etcd_data);
    bool changed = out && strstr(out, "changed ");
    provider_ssh_say(h, "config", "%s", changed ? "written" : "unchanged");
    c->changed += changed;
    rc = 0;
out:
    if (rc < 0)
        provider_ssh_fail(h, "config", err);
    free(ca);
    free(cert);
    free(key);
    free(out);
    free(conf.data);
    free(etcd_conf.data);
    free(script.data);
    return rc;
}

/* 5a. Start (or restart, after a change) a member's etcd without waiting: a new
 * member is not ready until the others are up too. Debian's own etcd unit uses
 * the same ports: it is stopped and disabled (down enables it again if it was
 * before the package came, as the install step noted). */
static int provider_ssh_etcd_start(ssh_cluster *c, ssh_host *h, err_t *err)
{
    char script[1024];
    snprintf(script, sizeof script,
             "set -e\n"
             "if systemctl is-enabled -q etcd.service 2>/dev/null; then\n"
             "  systemctl disable -q --now etcd.service\n"
             "fi\n"
             "systemctl enable -q dokkaa-etcd.service\n"
             "systemctl %s --no-block dokkaa-etcd.service\n",
             h->restart_etcd ? "restart" : "start");
    if (ssh_script(&c->ssh, h->target, script, NULL, err) < 0)
        return provider_ssh_fail(h, "etcd", err);
    provider_ssh_say(h, "etcd", "%s", h->restart_etcd ? "(re)started" : "running");
    return 0;
}

typedef struct provider_ssh_probe {
    etcd *etcd;
    const char *key; /* NULL: any read that etcd answers (a quorum) */
} provider_ssh_probe;

static int provider_ssh_etcd_ready(void *ud, err_t *last)
{
    provider_ssh_probe *p = ud;
    etcd_kvs kvs = {0};
    int rc = 0;
    if (etcd_get(p->etcd, p->key ? p->key : KEYS_LEADER_KEY, &kvs, last) == 0) {
        rc = !p->key || kvs.n == 1;
        if (!rc)
            err_set(last, ERR_NOTFOUND, "%s not in etcd yet", p->key);
    }
    etcd_kvs_free(&kvs);
    return rc;
}

/* 5b. A member whose data is gone (a reinstalled host), or a host that becomes a
 * member once etcd runs (the cluster grows to three members): out of etcd's
 * membership if it is in, added, configured and started as "existing", and
 * awaited, before the next one (adding a second member to one makes the quorum
 * two: it must run before anything else is asked of etcd). A member that is
 * already running is asked; never the joining host. */
static int provider_ssh_join(ssh_cluster *c, ssh_host *h, err_t *err)
{
    ssh_etcd t;
    etcd *e = NULL;
    etcd_member *members = NULL;
    size_t n = 0;
    char peer[128];
    int rc = -1;
    snprintf(peer, sizeof peer, "https://%s:2380", h->addr);
    h->leaving = true; /* not the one to ask */
    int opened = provider_ssh_etcd_open(c, &t, err);
    h->leaving = false;
    if (opened < 0)
        return provider_ssh_fail(h, "etcd join", err);
    if (!(e = etcd_new(t.endpoint, err)) || etcd_member_list(e, &members, &n, err) < 0)
        goto out;
    for (size_t i = 0; i < n; i++)
        if (strcmp(members[i].peer_url, peer) == 0 && etcd_member_remove(e, members[i].id, err) < 0)
            goto out;
    if (etcd_member_add(e, peer, NULL, err) < 0)
        goto out;
    provider_ssh_say(h, "etcd", "%s", h->promoted ? "added as a member"
                                                  : "lost its data: removed and added back as a member");
    h->joined = true;
    if (provider_ssh_save(c, err) < 0 || provider_ssh_configure(c, h, err) < 0 ||
        provider_ssh_etcd_start(c, h, err) < 0)
        goto out;
    provider_ssh_probe quorum = {.etcd = e};
    if (cfg_wait("etcd to have a quorum again", SSH_WAIT_ETCD, provider_ssh_etcd_ready, &quorum,
                 err) < 0)
        goto out;
    h->etcd_started = true;
    rc = 0;
out:
    if (rc < 0)
        provider_ssh_fail(h, "etcd join", err);
    free(members);
    etcd_free(e);
    provider_ssh_etcd_close(&t);
    return rc;
}

/* 6. Conductor, ambassador, builder. */
static int provider_ssh_units(ssh_cluster *c, ssh_host *h, err_t *err)
{
    char script[1024];
    /* the registry (first host): Debian's own registry unit takes the same port */
    snprintf(script, sizeof script,
             "set -e\n"
             "units='dokkaa-conductor.service dokkaa-ambassador.service dokkaa-builder.service'\n"
             "if [ -e /etc/dokkaa/registry.yml ]; then\n"
             "  if systemctl is-enabled -q docker-registry.service 2>/dev/null; then\n"
             "    systemctl disable -q --now docker-registry.service\n"
             "  fi\n"
             "  units=\"$units dokkaa-registry.service\"\n"
             "fi\n"
             "systemctl enable -q $units\n"
             "systemctl %s $units\n",
             h->restart_units ? "restart" : "start");
    if (ssh_script(&c->ssh, h->target, script, NULL, err) < 0)
        return provider_ssh_fail(h, "units", err);
    provider_ssh_say(h, "units", "%s", h->restart_units ? "(re)started" : "running");
    return 0;
}

/* 7. Registered in etcd, and the builder answering HTTPS at the host's address
 * (what the operator's CLI will use). */
static int provider_ssh_builder_ready(void *ud, err_t *last)
{
    const char *url = ud;
    http_client *hc = http_client_new(NULL, last);
    http_req req = {.method = "GET", .url = url, .timeout_ms = 2000};
    http_buf body = {0};
    long status = 0;
    int rc = hc && http_do(hc, &req, &status, &body, last) == 0 && status == 200;
    if (hc && status && status != 200)
        err_set(last, ERR_REMOTE, "HTTP %ld: %.200s", status, body.data);
    http_buf_free(&body);
    http_client_free(hc);
    return rc;
}

static int provider_ssh_ready(ssh_cluster *c, etcd *e, err_t *err)
{
    for (size_t i = 0; i < c->nhosts; i++) {
        ssh_host *h = &c->hosts[i];
        char key[KEYS_SIZE], what[256], url[128];
        keys_host_key(key, h->id);
        snprintf(what, sizeof what, "%s to register", h->id);
        provider_ssh_probe p = {.etcd = e, .key = key};
        if (cfg_wait(what, SSH_WAIT_HOST, provider_ssh_etcd_ready, &p, err) < 0)
            return provider_ssh_fail(h, "ready", err);
        snprintf(url, sizeof url, "https://%s:4001/healthz", h->addr);
        snprintf(what, sizeof what, "the builder at %s", url);
        if (cfg_wait(what, SSH_WAIT_HOST, provider_ssh_builder_ready, url, err) < 0)
            return provider_ssh_fail(h, "ready", err);
        provider_ssh_say(h, "ready", "registered, API at https://%s:4001", h->addr);
    }
    return 0;
}

/* The other hosts' APIs into the CLI's config ("apis"), for when the first host
 * cannot be reached. */
static int provider_ssh_apis(const ssh_cluster *c, err_t *err)
{
    char path[PATH_MAX], url[128];
    json_t *cfg = NULL, *apis = json_array();
    int rc = -1;
    for (size_t i = 1; apis && i < c->nhosts && i <= API_MORE_MAX; i++) {
        snprintf(url, sizeof url, "https://%s:4001", c->hosts[i].addr);
        json_array_append_new(apis, json_string(url));
    }
    if (apis && api_config_path(path, sizeof path, err) == API_OK &&
        api_config_read(path, &cfg, err) == API_OK && json_object_set(cfg, "apis", apis) == 0 &&
        api_config_write(path, cfg, err) == API_OK)
        rc = 0;
    json_decref(apis);
    json_decref(cfg);
    return rc;
}

/* The first three hosts are the etcd members. Before etcd is formed they are
 * simply chosen; once it runs, a cluster made with fewer hosts grows its
 * membership up to three as hosts join (provider_ssh_join). */
static void provider_ssh_members(ssh_cluster *c)
{
    size_t members = 0;
    for (size_t i = 0; i < c->nhosts; i++)
        members += c->hosts[i].member;
    for (size_t i = 0; i < c->nhosts && members < PROVIDER_SSH_MAX_MEMBERS; i++)
        if (!c->hosts[i].member) {
            c->hosts[i].member = true;
            c->hosts[i].promoted = c->formed;
            members++;
        }
}

int provider_ssh_up(ssh_cluster *c, err_t *err)
{
    char api[128], ca[PATH_MAX];
    ssh_etcd t = {0};
    etcd *e = NULL;
    int rc = -1;
    printf("%s: %zu host(s), package dokkaa %s (%s)\n", c->name, c->nhosts, c->package_version,
           c->package);
    for (size_t i = 0; i < c->nhosts; i++)
        if (provider_ssh_reach(c, &c->hosts[i], err) < 0)
            return -1;
    provider_ssh_members(c);
    if (provider_ssh_save(c, err) < 0 || provider_ssh_certs(c, err) < 0)
        return -1;
    /* one host at a time: an upgrade never takes two hosts down at once */
    for (size_t i = 0; i < c->nhosts; i++)
        if (provider_ssh_install(c, &c->hosts[i], err) < 0)
            return -1;
    if (provider_ssh_registry(c, &c->hosts[0], err) < 0)
        return -1;
    for (size_t i = 0; i < c->nhosts; i++) {
        ssh_host *h = &c->hosts[i];
        if (c->formed && h->member && !h->etcd_data ? provider_ssh_join(c, h, err) < 0
                                                    : provider_ssh_configure(c, h, err) < 0)
            return -1;
    }
    for (size_t i = 0; i < c->nhosts; i++)
        if (c->hosts[i].member && !c->hosts[i].etcd_started &&
            provider_ssh_etcd_start(c, &c->hosts[i], err) < 0)
            return -1;
    if (provider_ssh_etcd_open(c, &t, err) < 0 || !(e = etcd_new(t.endpoint, err)))
        goto out;
    provider_ssh_probe quorum = {.etcd = e};
    if (cfg_wait("etcd to have a quorum", SSH_WAIT_ETCD, provider_ssh_etcd_ready, &quorum, err) < 0) {
        err_prefix(err, "etcd");
        goto out;
    }
    printf("%s: etcd ... healthy\n", c->name);
    if (!c->formed) {
        c->formed = true;
        if (provider_ssh_save(c, err) < 0)
            goto out;
    }
    for (size_t i = 0; i < c->nhosts; i++)
        if (provider_ssh_units(c, &c->hosts[i], err) < 0)
            goto out;
    if (provider_ssh_ready(c, e, err) < 0)
        goto out;
    snprintf(api, sizeof api, "https://%s:4001", c->hosts[0].addr);
    snprintf(ca, sizeof ca, "%s/ca.pem", c->dir);
    if (cfg_admin_config(t.endpoint, api, ca, c->name, err) < 0 || provider_ssh_apis(c, err) < 0) {
        err_prefix(err, "the cluster is up, but the CLI's config is not written");
        goto out;
    }
    printf("\n%s: %zu hosts up%s; API and console at %s (CA %s)\n", c->name, c->nhosts,
           c->changed ? "" : ", nothing changed", api, ca);
    printf("  on any host: curl -L -XPUT -d value=\"$(cat nginx.json)\" "
           "http://127.0.0.1:4001/v2/keys/apps/dummy/nginx/manifest\n"
           "  from here:   dokkaacfg set dummy/nginx nginx.json; dokkaacfg ps\n");
    rc = 0;
out:
    etcd_free(e);
    provider_ssh_etcd_close(&t);
    return rc;
}
