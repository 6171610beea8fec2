/* provider_local_status.c - the local cluster's part of `dokkaacfg status`: each
 * host (alive = registered under /hosts/, its address, its load = instances placed
 * on it, counted by census.h as the builder's hosts view counts them, the
 * containers its engine holds), and each etcd member's health with the membership
 * as etcd itself reports it. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "dokkaa/census.h"
#include "dokkaa/docker.h"
#include "dokkaa/etcd.h"
#include "dokkaa/http.h"
#include "dokkaa/keys.h"
#include "provider_local.h"

/* GET or POST url; the JSON answer, or NULL. */
static json_t *provider_local_fetch(http_client *h, const char *method, const char *url)
{
    http_req req = {.method = method, .url = url, .timeout_ms = 1500};
    http_buf body = {0};
    json_t *v = NULL;
    long status = 0;
    if (strcmp(method, "POST") == 0)
        req.body = "{}", req.body_len = 2;
    if (http_do(h, &req, &status, &body, NULL) == 0 && status == 200 && body.data)
        v = json_loads(body.data, 0, NULL);
    http_buf_free(&body);
    return v;
}

/* "3 (2 running)" for the dokkaa containers of host i's engine, or why not. */
static void provider_local_container_count(const provider_local *pl, int i, char *buf, size_t size)
{
    char sock[256];
    json_t *list = NULL, *c;
    err_t e;
    size_t k, running = 0;
    docker *d;
    provider_local_expand(pl, i, "unix://{run}/docker.sock", sock, sizeof sock, NULL);
    if (!(d = docker_new(sock, &e)) || docker_container_list(d, "dokkaa.app", &list, &e) < 0) {
        snprintf(buf, size, "engine down");
        docker_free(d);
        return;
    }
    json_array_foreach(list, k, c)
        running += strcmp(json_string_value(json_object_get(c, "State")) ?: "", "running") == 0;
    snprintf(buf, size, "%zu (%zu running)", json_array_size(list), running);
    json_decref(list);
    docker_free(d);
}

/* The placements per host, as census.h counts them for the builder's hosts view:
 * -1, *c empty, when etcd does not answer. census_free(c) after either way. */
static int provider_local_census(etcd *e, census *c)
{
    etcd_kvs hosts = {0}, apps = {0};
    int rc = -1;
    memset(c, 0, sizeof *c);
    if (e && etcd_get_prefix(e, KEYS_HOSTS, &hosts, NULL) == 0 &&
        etcd_get_prefix(e, KEYS_APPS, &apps, NULL) == 0)
        rc = census_count(c, hosts.kvs, hosts.n, apps.kvs, apps.n, NULL, 0, NULL);
    etcd_kvs_free(&hosts);
    etcd_kvs_free(&apps);
    return rc;
}

static void provider_local_hosts(const provider_local *pl, etcd *e)
{
    census c;
    char id[16], containers[64];
    bool reachable = provider_local_census(e, &c) == 0;
    printf("%-6s %-14s %-7s %5s  %s\n", "HOST", "ADDRESS", "ALIVE", "LOAD", "CONTAINERS");
    for (int i = 1; i <= pl->hosts; i++) {
        snprintf(id, sizeof id, "h%d", i);
        const census_host *h = census_find(&c, id);
        provider_local_container_count(pl, i, containers, sizeof containers);
        printf("%-6s 10.88.%d.%-6d %-7s %5d  %s\n", id, pl->net, 10 + i,
               !reachable    ? "?"
               : h && h->live ? "yes"
                              : "no",
               h ? h->placed : 0, containers);
    }
    census_free(&c);
}

static void provider_local_members(const provider_local *pl, http_client *h)
{
    char url[128];
    json_t *list = NULL, *m;
    size_t k;
    printf("\n%-6s %-26s %s\n", "MEMBER", "CLIENT URL", "HEALTH");
    for (int i = 1; i <= pl->members; i++) {
        snprintf(url, sizeof url, "http://10.88.%d.%d:2379/health", pl->net, 10 + i);
        json_t *v = provider_local_fetch(h, "GET", url);
        const char *health = json_string_value(json_object_get(v, "health"));
        printf("h%-5d http://10.88.%d.%d:2379     %s\n", i, pl->net, 10 + i,
               !v ? "unreachable" : health && strcmp(health, "true") == 0 ? "healthy" : "unhealthy");
        json_decref(v);
        snprintf(url, sizeof url, "http://10.88.%d.%d:2379/v3/cluster/member/list", pl->net, 10 + i);
        if (!list)
            list = provider_local_fetch(h, "POST", url);
    }
    printf("membership:");
    json_array_foreach(json_object_get(list, "members"), k, m)
        printf(" %s", json_string_value(json_object_get(m, "name")) ?: "(joining)");
    printf("%s\n", list ? "" : " unknown (no member answers)");
    json_decref(list);
}

int provider_local_status(provider_local *pl, err_t *err)
{
    http_client *h = http_client_new(NULL, err);
    etcd *e = etcd_new(pl->etcd, NULL);
    if (!h) {
        etcd_free(e);
        return -1;
    }
    printf("\nlocal cluster %s: 10.88.%d.0/24, %d hosts, registry 10.88.%d.1:5000\n", pl->name, pl->net,
           pl->hosts, pl->net);
    provider_local_hosts(pl, e);
    provider_local_members(pl, h);
    etcd_free(e);
    http_client_free(h);
    return 0;
}
