/* view.c - the API's answers, built from a store snapshot (see view.h).
 *
 * Keys are read in the store's sorted order, so the keys of one app, one manifest
 * or one service are contiguous and a view is a single pass over a range. A value
 * that is not what DESIGN.md says (written by hand into etcd) is shown as far as
 * it can be, never crashes anything: a manifest that does not validate is listed
 * with its "error", a status that is not JSON counts as no status. */
#include "view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokkaa/manifest.h"
#include "dokkaa/token.h"

/* A stored value as JSON, or NULL when it is not JSON. */
static json_t *view_value(const etcd_kv *kv)
{
    return kv ? json_loadb(kv->value, kv->value_len, 0, NULL) : NULL;
}

static const char *view_field(const json_t *v, const char *field)
{
    return json_string_value(json_object_get(v, field));
}

static const char *view_field_or(const json_t *v, const char *field, const char *otherwise)
{
    const char *s = view_field(v, field);
    return s ? s : otherwise;
}

/* Copy the n-th '/'-separated segment of key (segment 1 of "/apps/x" is "apps") into
 * out; false when there is none, it is empty or it does not fit. */
static bool view_segment(const char *key, int n, char *out, size_t size)
{
    const char *p = key + (*key == '/');
    for (int i = 1; i < n; i++) {
        if (!(p = strchr(p, '/')))
            return false;
        p++;
    }
    size_t len = strcspn(p, "/");
    if (len == 0 || len >= size)
        return false;
    memcpy(out, p, len);
    out[len] = '\0';
    return true;
}

static int view_running(const store_snap *snap, const char *app, const char *name)
{
    char prefix[200];
    const etcd_kv *kv;
    int running = 0;
    snprintf(prefix, sizeof prefix, "/status/%s/%s/", app, name);
    size_t n = store_range(snap, prefix, &kv);
    for (size_t i = 0; i < n; i++) {
        json_t *v = view_value(&kv[i]);
        const char *state = view_field(v, "state");
        running += state && strcmp(state, "running") == 0;
        json_decref(v);
    }
    return running;
}

static json_t *view_summary(const store_snap *snap, const char *app, const char *name,
                            const etcd_kv *kv)
{
    manifest m;
    err_t err;
    bool valid = manifest_parse(kv->value, kv->value_len, &m, &err) == 0;
    json_t *s = json_pack("{s:s,s:s,s:o?,s:I,s:i,s:i,s:o?}", "app", app, "name", name,
                          "manifest", view_value(kv), "revision", (json_int_t)kv->mod_revision,
                          "desired", valid ? m.scale : 0, "running",
                          view_running(snap, app, name), "error",
                          valid ? NULL : json_string(err.msg));
    if (valid)
        manifest_free(&m);
    return s;
}

json_t *view_apps(const store_snap *snap, const char *app)
{
    char prefix[100], a[64], name[64];
    const etcd_kv *kv;
    json_t *apps = json_array(), *cur = NULL;
    snprintf(prefix, sizeof prefix, app ? "/apps/%s/" : "/apps/", app);
    size_t n = store_range(snap, prefix, &kv);
    for (size_t i = 0; i < n && apps; i++) {
        if (names_parse_manifest_key(kv[i].key, a, name, NULL) < 0)
            continue; /* a placement, or a key that is no manifest's */
        if (!cur || strcmp(view_field(cur, "app"), a) != 0) {
            cur = json_pack("{s:s,s:[]}", "app", a, "manifests");
            json_array_append_new(apps, cur);
        }
        json_array_append_new(json_object_get(cur, "manifests"), view_summary(snap, a, name, &kv[i]));
    }
    return apps;
}

static int view_cmp_int(const void *a, const void *b)
{
    return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

/* The instance numbers app/name has a placement or a status for, sorted, once
 * each; *count gets how many. free() the result. */
static int *view_numbers(const store_snap *snap, const char *app, const char *name, size_t *count)
{
    char placed[200], status[200];
    const etcd_kv *p, *s;
    snprintf(placed, sizeof placed, "/apps/%s/%s/instances/", app, name);
    snprintf(status, sizeof status, "/status/%s/%s/", app, name);
    size_t np = store_range(snap, placed, &p), ns = store_range(snap, status, &s), n = 0;
    int *nums = malloc((np + ns + 1) * sizeof *nums);
    if (!nums)
        return NULL;
    for (size_t i = 0; i < np; i++)
        nums[n++] = atoi(p[i].key + strlen(placed));
    for (size_t i = 0; i < ns; i++)
        nums[n++] = atoi(s[i].key + strlen(status));
    qsort(nums, n, sizeof *nums, view_cmp_int);
    *count = 0;
    for (size_t i = 0; i < n; i++)
        if (*count == 0 || nums[*count - 1] != nums[i])
            nums[(*count)++] = nums[i];
    return nums;
}

/* Seconds since an RFC 3339 UTC time as the conductor writes it, or -1. */
static long long view_age(const char *since, time_t now)
{
    struct tm tm = {0};
    const char *end = since ? strptime(since, "%Y-%m-%dT%H:%M:%SZ", &tm) : NULL;
    if (!end || *end)
        return -1;
    time_t t = timegm(&tm);
    return now >= t ? (long long)(now - t) : 0;
}

static json_t *view_instance(const store_snap *snap, const char *app, const char *name, int i,
                             time_t now)
{
    char key[200], container[200];
    snprintf(key, sizeof key, "/status/%s/%s/%d", app, name, i);
    json_t *status = view_value(store_get(snap, key));
    snprintf(key, sizeof key, "/apps/%s/%s/instances/%d", app, name, i);
    json_t *placed = view_value(store_get(snap, key));
    const char *host = view_field(status, "host"), *since = view_field(status, "since");
    const char *state = view_field(status, "state");
    long long age = view_age(since, now);
    names_container(container, sizeof container, app, name, i);
    json_t *inst = json_pack(
        "{s:s,s:s,s:i,s:s,s:s?,s:s,s:s?,s:o,s:s?}", "app", app, "name", name, "instance", i,
        "container", container, "host", host ? host : view_field(placed, "host"), "state",
        state ? state : "pending", "since", since, "age_seconds",
        age >= 0 ? json_integer(age) : json_null(), "error", view_field(status, "error"));
    json_decref(status);
    json_decref(placed);
    return inst;
}

static void view_add_instances(json_t *out, const store_snap *snap, const char *app,
                               const char *name, time_t now)
{
    size_t n = 0;
    int *nums = view_numbers(snap, app, name, &n);
    for (size_t i = 0; nums && i < n; i++)
        json_array_append_new(out, view_instance(snap, app, name, nums[i], now));
    free(nums);
}

json_t *view_instances(const store_snap *snap, const char *app, const char *name, time_t now)
{
    char prefix[100], a[64], nm[64];
    const etcd_kv *kv;
    json_t *out = json_array();
    if (app && name) {
        view_add_instances(out, snap, app, name, now);
        return out;
    }
    snprintf(prefix, sizeof prefix, app ? "/apps/%s/" : "/apps/", app);
    size_t n = store_range(snap, prefix, &kv);
    for (size_t i = 0; i < n && out; i++)
        if (names_parse_manifest_key(kv[i].key, a, nm, NULL) == 0)
            view_add_instances(out, snap, a, nm, now);
    return out;
}

json_t *view_manifest(const store_snap *snap, const char *app, const char *name, time_t now,
                      bool *missing)
{
    char key[200];
    snprintf(key, sizeof key, "/apps/%s/%s/manifest", app, name);
    const etcd_kv *kv = store_get(snap, key);
    *missing = kv == NULL;
    json_t *m = kv ? view_summary(snap, app, name, kv) : NULL;
    if (m)
        json_object_set_new(m, "instances", view_instances(snap, app, name, now));
    return m;
}

/* Add 1 to counts[host] for each value under prefix whose "host" is set (and whose
 * "state" is state, when state is not NULL). */
static void view_count_by_host(json_t *counts, const store_snap *snap, const char *prefix,
                               const char *infix, const char *state)
{
    const etcd_kv *kv;
    size_t n = store_range(snap, prefix, &kv);
    for (size_t i = 0; i < n; i++) {
        if (infix && !strstr(kv[i].key, infix))
            continue;
        json_t *v = view_value(&kv[i]);
        const char *host = view_field(v, "host"), *st = view_field(v, "state");
        if (host && (!state || (st && strcmp(st, state) == 0)))
            json_object_set_new(counts, host,
                                json_integer(json_integer_value(json_object_get(counts, host)) + 1));
        json_decref(v);
    }
}

static void view_default(json_t *obj, const char *field, json_t *value)
{
    if (!json_object_get(obj, field))
        json_object_set(obj, field, value);
    json_decref(value);
}

json_t *view_hosts(const store_snap *snap)
{
    const etcd_kv *kv;
    json_t *hosts = json_array(), *placed = json_object(), *running = json_object();
    json_t *leader = view_value(store_get(snap, "/cluster/leader"));
    view_count_by_host(placed, snap, "/apps/", "/instances/", NULL);
    view_count_by_host(running, snap, "/status/", NULL, "running");
    size_t n = store_range(snap, "/hosts/", &kv);
    for (size_t i = 0; i < n; i++) {
        const char *id = kv[i].key + strlen("/hosts/");
        json_t *h = view_value(&kv[i]);
        if (!json_is_object(h)) {
            json_decref(h);
            h = json_object();
        }
        const char *lead = view_field(leader, "host");
        json_object_set_new(h, "id", json_string(id));
        view_default(h, "addr", json_string(""));
        view_default(h, "cpus", json_integer(0));
        view_default(h, "memory", json_integer(0));
        view_default(h, "labels", json_object());
        view_default(h, "version", json_string(""));
        json_object_set_new(h, "instances", json_integer(json_integer_value(json_object_get(placed, id))));
        json_object_set_new(h, "running", json_integer(json_integer_value(json_object_get(running, id))));
        json_object_set_new(h, "leader", json_boolean(lead && strcmp(lead, id) == 0));
        json_array_append_new(hosts, h);
    }
    json_decref(placed);
    json_decref(running);
    json_decref(leader);
    return hosts;
}

static json_t *view_link_port(const store_snap *snap, const char *app, const char *service)
{
    char key[200];
    snprintf(key, sizeof key, "/links/%s/%s", app, service);
    json_t *v = view_value(store_get(snap, key));
    json_t *port = json_integer_value(json_object_get(v, "port")) > 0
                       ? json_integer(json_integer_value(json_object_get(v, "port")))
                       : json_null();
    json_decref(v);
    return port;
}

json_t *view_services(const store_snap *snap)
{
    char app[64], svc[64];
    const etcd_kv *kv;
    json_t *out = json_array(), *cur = NULL;
    size_t n = store_range(snap, "/services/", &kv);
    for (size_t i = 0; i < n; i++) {
        if (!view_segment(kv[i].key, 2, app, sizeof app) ||
            !view_segment(kv[i].key, 3, svc, sizeof svc))
            continue;
        if (!cur || strcmp(view_field(cur, "app"), app) != 0 ||
            strcmp(view_field(cur, "service"), svc) != 0) {
            cur = json_pack("{s:s,s:s,s:o,s:[]}", "app", app, "service", svc, "link_port",
                            view_link_port(snap, app, svc), "instances");
            json_array_append_new(out, cur);
        }
        json_t *v = view_value(&kv[i]);
        const char *inst = strrchr(kv[i].key, '/') + 1;
        json_array_append_new(json_object_get(cur, "instances"),
                              json_pack("{s:s,s:s,s:I}", "instance", inst, "addr",
                                        view_field_or(v, "addr", ""), "port",
                                        json_integer_value(json_object_get(v, "port"))));
        json_decref(v);
    }
    return out;
}

json_t *view_links(const store_snap *snap)
{
    char app[64], svc[64], prefix[200];
    const etcd_kv *kv, *live;
    json_t *out = json_array();
    size_t n = store_range(snap, "/links/", &kv);
    for (size_t i = 0; i < n; i++) {
        if (!view_segment(kv[i].key, 2, app, sizeof app) ||
            !view_segment(kv[i].key, 3, svc, sizeof svc))
            continue;
        snprintf(prefix, sizeof prefix, "/services/%s/%s/", app, svc);
        json_t *port = view_link_port(snap, app, svc);
        json_array_append_new(out, json_pack("{s:s,s:s,s:o,s:I}", "app", app, "service", svc,
                                             "port", port, "instances",
                                             (json_int_t)store_range(snap, prefix, &live)));
    }
    return out;
}

json_t *view_tokens(const store_snap *snap)
{
    const etcd_kv *kv;
    json_t *out = json_array();
    size_t n = store_range(snap, TOKEN_PREFIX, &kv);
    for (size_t i = 0; i < n; i++) {
        char id[TOKEN_ID_LEN + 1];
        json_t *rec = view_value(&kv[i]);
        token_id(kv[i].key, id);
        json_array_append_new(out, json_pack("{s:s,s:s,s:s,s:s}", "id", id, "name",
                                             view_field_or(rec, "name", ""), "role",
                                             view_field_or(rec, "role", ""), "created",
                                             view_field_or(rec, "created", "")));
        json_decref(rec);
    }
    return out;
}
