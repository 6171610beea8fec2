/* provider_ssh_down.c - `dokkaacfg down --provider=ssh`: take Dokkaa off hosts.
 *
 * On each host leaving: the units stopped and disabled, the containers of this
 * cluster removed (label dokkaa.cluster), the package purged (which removes
 * /etc/dokkaa and /var/lib/dokkaa, etcd's data among them), Debian's own etcd
 * unit enabled again if `up` had disabled it, and the host forgotten here. The
 * dependencies apt installed stay (docker.io, etcd-server: other software may
 * use them; `apt-get autoremove` removes them). An etcd member taken out of a
 * cluster that keeps other hosts is first removed from etcd's membership, so the
 * remaining members keep their quorum. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "dokkaa/etcd.h"
#include "provider_ssh.h"

static int provider_ssh_leave(ssh_cluster *c, ssh_host *h, err_t *err)
{
    char script[2048];
    snprintf(script, sizeof script,
             "set -e\n"
             "export DEBIAN_FRONTEND=noninteractive\n"
             "units='dokkaa-conductor dokkaa-ambassador dokkaa-builder dokkaa-etcd "
             "dokkaa-registry'\n"
             "for u in $units; do systemctl disable -q --now $u.service 2>/dev/null || true; done\n"
             "if command -v docker >/dev/null && systemctl is-active -q docker; then\n"
             "  ids=$(docker ps -aq --filter label=dokkaa.cluster=%s)\n"
             "  [ -z \"$ids\" ] || docker rm -f $ids >/dev/null\n"
             "fi\n"
             "was=; [ -e /etc/dokkaa/etcd.service.was-enabled ] && was=1\n"
             "reg=; [ -e /etc/dokkaa/docker-registry.service.was-enabled ] && reg=1\n"
             "if [ -e /etc/dokkaa/daemon.json.ours ]; then\n"
             "  rm -f /etc/docker/daemon.json; systemctl reload docker 2>/dev/null || true\n"
             "fi\n"
             "if dpkg-query -W -f='${db:Status-Abbrev}' dokkaa 2>/dev/null | grep -q '^[ir]'; then\n"
             "  apt-get purge -y -q dokkaa >/var/tmp/dokkaa-purge.log 2>&1 "
             "|| { tail -n 3 /var/tmp/dokkaa-purge.log; exit 1; }\n"
             "  rm -f /var/tmp/dokkaa-purge.log\n"
             "fi\n"
             "rm -rf /etc/dokkaa /var/lib/dokkaa /root/dokkaa.deb /root/dokkaa.deb.part "
             "'/etc/docker/certs.d/%s:5000'\n"
             "rmdir /etc/docker/certs.d 2>/dev/null || true\n"
             "[ -z \"$was\" ] || systemctl enable -q --now etcd.service\n"
             "[ -z \"$reg\" ] || systemctl enable -q --now docker-registry.service\n"
             "systemctl daemon-reload\n",
             c->name, c->hosts[0].addr);
    if (ssh_script(&c->ssh, h->target, script, NULL, err) < 0)
        return err_prefix(err, "%s (%s): down", h->id[0] ? h->id : h->addr, h->addr);
    printf("%s (%s): down ... units, containers, package and data removed\n",
           h->id[0] ? h->id : h->addr, h->addr);
    fflush(stdout);
    return 0;
}

/* Before a member leaves a cluster that goes on: out of etcd's membership. */
static int provider_ssh_forget_member(ssh_cluster *c, ssh_host *h, err_t *err)
{
    char peer[128];
    ssh_etcd t;
    etcd *e = NULL;
    etcd_member *members = NULL;
    size_t n = 0;
    int rc = -1;
    snprintf(peer, sizeof peer, "https://%s:2380", h->addr);
    if (provider_ssh_etcd_open(c, &t, err) < 0)
        return err_prefix(err, "%s: leaving etcd", h->addr);
    if ((e = etcd_new(t.endpoint, err)) && etcd_member_list(e, &members, &n, err) == 0) {
        rc = 0;
        for (size_t i = 0; i < n && rc == 0; i++)
            if (strcmp(members[i].peer_url, peer) == 0)
                rc = etcd_member_remove(e, members[i].id, err);
    }
    if (rc < 0)
        err_prefix(err, "%s: leaving etcd", h->addr);
    else
        printf("%s (%s): etcd ... no longer a member\n", h->id, h->addr);
    free(members);
    etcd_free(e);
    provider_ssh_etcd_close(&t);
    return rc;
}

static int provider_ssh_unlink(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    return remove(path);
}

int provider_ssh_forget(ssh_cluster *c, err_t *err)
{
    char path[PATH_MAX];
    json_t *cfg = NULL;
    if (api_config_path(path, sizeof path, NULL) == API_OK && api_config_read(path, &cfg, NULL) == API_OK) {
        const char *named = json_string_value(json_object_get(cfg, "cluster"));
        if (named && strcmp(named, c->name) == 0 && unlink(path) == 0)
            printf("config: %s removed\n", path);
        json_decref(cfg);
    }
    if (nftw(c->dir, provider_ssh_unlink, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
        return err_sys(err, "removing %s", c->dir);
    printf("%s: forgotten (%s removed)\n", c->name, c->dir);
    return 0;
}

int provider_ssh_down(ssh_cluster *c, err_t *err)
{
    size_t staying = 0;
    for (size_t i = 0; i < c->nhosts; i++)
        staying += !c->hosts[i].leaving;
    for (size_t i = 0; i < c->nhosts; i++) {
        ssh_host *h = &c->hosts[i];
        if (!h->leaving)
            continue;
        if (staying && h->member && c->formed) {
            if (provider_ssh_forget_member(c, h, err) < 0)
                return -1;
            h->member = false; /* out of etcd: say so at once, whatever comes next */
            if (provider_ssh_save(c, err) < 0)
                return -1;
        }
        if (provider_ssh_leave(c, h, err) < 0) {
            if (err->code != ERR_UNAVAIL)
                return -1;
            /* a dead machine: nothing to take off it, and it must not stay listed */
            fprintf(stderr, "dokkaacfg down: %s; dropped from the cluster all the same\n", err->msg);
        }
    }
    /* keep what stays, forget what left */
    size_t kept = 0;
    for (size_t i = 0; i < c->nhosts; i++)
        if (!c->hosts[i].leaving)
            c->hosts[kept++] = c->hosts[i];
    c->nhosts = kept;
    if (!kept)
        return provider_ssh_forget(c, err);
    /* the hosts that stay still name the ones gone (etcd endpoints, the registry
     * if the first host left): the next up rewrites their configuration */
    printf("%s: %zu host(s) stay; run `dokkaacfg up --provider=ssh --name %s` to update their "
           "configuration\n", c->name, kept, c->name);
    return provider_ssh_save(c, err);
}
