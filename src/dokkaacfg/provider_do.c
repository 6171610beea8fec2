/* provider_do.c - `dokkaacfg --provider=digitalocean up|down` (see provider_do.h).
 *
 * up:   the droplets tagged dokkaa-<cluster> are listed; missing ones are made
 *       (named <cluster>-<n>, with the named SSH key and a small cloud-config),
 *       extra ones (the highest numbers, etcd members last) are taken out of etcd
 *       and deleted; then every droplet, once active, goes through the ssh
 *       provider's steps as root@<public address>.
 * down: every droplet with the tag is deleted, and the cluster forgotten here.
 *
 * The user data carries only what must hold at first boot for SSH to get in as
 * root with the key; the package travels over SSH, never in it (64 KiB at most). */
#include "provider_do.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digitalocean.h"
#include "provider_ssh.h"
#include "run.h"

#define PROVIDER_DO_WAIT_ACTIVE 300
#define PROVIDER_DO_WAIT_SSH 300

static const char provider_do_user_data[] =
    "#cloud-config\n"
    "# From dokkaacfg up: Dokkaa is installed over SSH once the droplet is up; at\n"
    "# first boot only root's login with the droplet's key must work.\n"
    "disable_root: false\n"
    "ssh_pwauth: false\n";

static void provider_do_tag(const char *name, char *tag, size_t size)
{
    snprintf(tag, size, "dokkaa-%s", name);
}

/* The number n of a droplet named <cluster>-<n>; 0 for another name. */
static int provider_do_number(const char *cluster, const char *name)
{
    size_t len = strlen(cluster);
    char *end;
    if (!name || strncmp(name, cluster, len) != 0 || name[len] != '-')
        return 0;
    long n = strtol(name + len + 1, &end, 10);
    return *end == '\0' && n > 0 && n < 100000 ? (int)n : 0;
}

static do_api *provider_do_api(const char *api_url, err_t *err)
{
    const char *token = getenv("DIGITALOCEAN_ACCESS_TOKEN");
    const char *url = api_url ? api_url : getenv("DIGITALOCEAN_API_URL");
    if (!token || !*token)
        return err_set(err, ERR_INVALID, "DIGITALOCEAN_ACCESS_TOKEN is not set: export it with "
                                         "a token of your DigitalOcean account"), NULL;
    do_api *api = do_api_new(url && *url ? url : PROVIDER_DO_API_URL, token, err);
    /* no child (ssh, with a SendEnv that matches it, or docker) inherits it */
    unsetenv("DIGITALOCEAN_ACCESS_TOKEN");
    return api;
}

/* Make the droplets missing up to scale. */
static int provider_do_create(do_api *api, const provider_do_opts *o, const do_droplets *have,
                              const char *tag, err_t *err)
{
    size_t want = (size_t)o->scale - have->n;
    const char **names = calloc(want, sizeof *names);
    char (*store)[80] = calloc(want, sizeof *store);
    int64_t *ids = calloc(want, sizeof *ids);
    do_key key = {0};
    int rc = -1;
    if (!names || !store || !ids) {
        err_set(err, ERR_SYS, "out of memory");
        goto out;
    }
    if (!o->ssh_key) {
        err_set(err, ERR_INVALID, "--ssh_key=NAME is needed to make droplets: the name of an SSH "
                                  "key of your DigitalOcean account");
        goto out;
    }
    if (do_key_find(api, o->ssh_key, &key, err) < 0)
        goto out;
    /* the lowest numbers not taken */
    for (int n = 1, k = 0; (size_t)k < want; n++) {
        bool taken = false;
        for (size_t i = 0; i < have->n && !taken; i++)
            taken = provider_do_number(o->name, have->v[i].name) == n;
        if (!taken) {
            snprintf(store[k], sizeof store[k], "%s-%d", o->name, n);
            names[k] = store[k];
            k++;
        }
    }
    if (do_droplets_create(api, names, want, o->region ? o->region : PROVIDER_DO_REGION,
                           o->size ? o->size : PROVIDER_DO_SIZE,
                           o->image ? o->image : PROVIDER_DO_IMAGE, key.id, tag,
                           provider_do_user_data, ids, err) < 0)
        goto out;
    for (size_t k = 0; k < want; k++)
        printf("%s: droplet ... created (id %lld, key %s)\n", names[k], (long long)ids[k],
               o->ssh_key);
    rc = 0;
out:
    do_key_clear(&key);
    free(names);
    free(store);
    free(ids);
    return rc;
}

typedef struct provider_do_wait {
    do_api *api;
    const char *tag;
    size_t want;
    do_droplets *list;
} provider_do_wait;

/* Ready when want droplets with the tag are active with a public address. */
static int provider_do_active(void *ud, err_t *last)
{
    provider_do_wait *w = ud;
    size_t active = 0;
    do_droplets_free(w->list);
    memset(w->list, 0, sizeof *w->list);
    if (do_droplets_list(w->api, w->tag, w->list, last) < 0)
        return do_api_status(w->api) == 401 ? -1 : 0;
    for (size_t i = 0; i < w->list->n; i++)
        active += w->list->v[i].status == DO_STATUS_ACTIVE && w->list->v[i].public_ipv4[0];
    if (active >= w->want)
        return 1;
    err_set(last, ERR_UNAVAIL, "%zu of %zu droplets active", active, w->want);
    return 0;
}

/* Remove droplets beyond scale: the highest numbers, etcd members last, each
 * first taken out of the cluster (and of etcd's membership) as `down --host`
 * would. */
static int provider_do_shrink(do_api *api, ssh_cluster *c, do_droplets *list, int scale,
                              err_t *err)
{
    while (list->n > (size_t)scale) {
        size_t pick = 0;
        int best = -1;
        for (size_t i = 0; i < list->n; i++) {
            bool member = false;
            for (size_t j = 0; j < c->nhosts; j++)
                if (strcmp(c->hosts[j].addr, list->v[i].public_ipv4) == 0)
                    member = c->hosts[j].member;
            int rank = (member ? 0 : 100000) + provider_do_number(c->name, list->v[i].name);
            if (rank > best) {
                best = rank;
                pick = i;
            }
        }
        do_droplet *d = &list->v[pick];
        bool known = false;
        for (size_t j = 0; j < c->nhosts; j++) {
            c->hosts[j].leaving = strcmp(c->hosts[j].addr, d->public_ipv4) == 0;
            known |= c->hosts[j].leaving;
        }
        /* a droplet the cluster never got to install (an up that failed before)
         * has nothing of Dokkaa: it is only deleted */
        if (known && provider_ssh_down(c, err) < 0)
            return -1;
        if (do_droplet_delete(api, d->id, err) < 0)
            return -1;
        printf("%s: droplet ... deleted\n", d->name);
        do_droplet_clear(d);
        list->v[pick] = list->v[--list->n];
    }
    return 0;
}

typedef struct provider_do_ssh_wait {
    ssh_cluster *c;
    ssh_host *h;
} provider_do_ssh_wait;

/* A new droplet answers SSH once cloud-init has put the key in. */
static int provider_do_ssh_ready(void *ud, err_t *last)
{
    provider_do_ssh_wait *w = ud;
    return ssh_script(&w->c->ssh, w->h->target, "true\n", NULL, last) == 0;
}

int provider_do_up(const provider_do_opts *o)
{
    char tag[96];
    ssh_cluster *c = calloc(1, sizeof *c);
    do_droplets list = {0};
    do_api *api = NULL;
    err_t err;
    int rc = 1;
    if (!c) {
        fputs("dokkaacfg up: out of memory\n", stderr);
        return 1;
    }
    provider_do_tag(o->name, tag, sizeof tag);
    if (provider_ssh_open(c, o->name, "digitalocean", o->identity, o->trust, o->ntrust, &err) < 0 ||
        !(api = provider_do_api(o->api_url, &err)))
        goto fail;
    /* the package before any droplet is made: a missing one costs nothing then */
    if (provider_ssh_package(c, o->package, &err) < 0 || do_droplets_list(api, tag, &list, &err) < 0)
        goto fail;
    int scale = o->scale ? o->scale : list.n ? (int)list.n : 1;
    printf("%s: %zu droplet(s) tagged %s, %d wanted\n", o->name, list.n, tag, scale);
    if (list.n < (size_t)scale) {
        provider_do_opts wanted = *o;
        wanted.scale = scale;
        if (provider_do_create(api, &wanted, &list, tag, &err) < 0)
            goto fail;
    }
    provider_do_wait w = {.api = api, .tag = tag, .want = (size_t)scale, .list = &list};
    if (cfg_wait("the droplets to be active", PROVIDER_DO_WAIT_ACTIVE, provider_do_active, &w,
                 &err) < 0)
        goto fail;
    if (provider_do_shrink(api, c, &list, scale, &err) < 0)
        goto fail;
    /* the droplets as hosts, in the order of their numbers: the first three are
     * the etcd members (insertion sort: a few droplets) */
    for (size_t i = 1; i < list.n; i++)
        for (size_t j = i; j > 0 && provider_do_number(o->name, list.v[j - 1].name) >
                                        provider_do_number(o->name, list.v[j].name); j--) {
            do_droplet t = list.v[j];
            list.v[j] = list.v[j - 1];
            list.v[j - 1] = t;
        }
    for (size_t i = 0; i < list.n; i++) {
        char target[96];
        snprintf(target, sizeof target, "root@%s", list.v[i].public_ipv4);
        if (provider_ssh_add_host(c, target, &err) < 0)
            goto fail;
    }
    for (size_t i = 0; i < c->nhosts; i++) {
        provider_do_ssh_wait sw = {.c = c, .h = &c->hosts[i]};
        char what[300];
        snprintf(what, sizeof what, "SSH on %s", c->hosts[i].target);
        if (cfg_wait(what, PROVIDER_DO_WAIT_SSH, provider_do_ssh_ready, &sw, &err) < 0)
            goto fail;
    }
    if (provider_ssh_up(c, &err) < 0)
        goto fail;
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "dokkaacfg up: %s\n", err.msg);
out:
    do_droplets_free(&list);
    do_api_free(api);
    free(c);
    return rc;
}

int provider_do_down(const char *name, const char *api_url)
{
    char tag[96];
    ssh_cluster *c = calloc(1, sizeof *c);
    do_droplets list = {0};
    do_api *api = NULL;
    err_t err;
    int rc = 1;
    provider_do_tag(name, tag, sizeof tag);
    if (!c || provider_ssh_load(c, name, &err) < 0 || !(api = provider_do_api(api_url, &err)) ||
        do_droplets_list(api, tag, &list, &err) < 0)
        goto fail;
    if (list.n && do_droplets_delete_tag(api, tag, &err) < 0)
        goto fail;
    for (size_t i = 0; i < list.n; i++)
        printf("%s: droplet ... deleted\n", list.v[i].name);
    printf("%s: %zu droplet(s) tagged %s deleted\n", name, list.n, tag);
    /* nothing is left on the droplets to take down: forget the cluster here */
    if (provider_ssh_forget(c, &err) < 0)
        goto fail;
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "dokkaacfg down: %s\n", c ? err.msg : "out of memory");
out:
    do_droplets_free(&list);
    do_api_free(api);
    free(c);
    return rc;
}
