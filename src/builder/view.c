/* view.c - the API's answers, built from a store snapshot (see view.h).
 *
 * Keys are read in the store's sorted order, so the keys of one app, one manifest
 * or one service are contiguous and a view is a single pass over a range. Keys
 * and records are read through keys.h, so a view shows what the conductors act
 * on: a key that keys_parse does not take (an instance "01", which no conductor
 * reads) is not shown. A value that is not what keys.h says (written by hand into
 * etcd) is shown as far as it can be, never crashes anything: a manifest that does
 * not validate is listed with its "error", a status that does not decode counts
 * as no status, a host whose record does not decode is listed with defaults. */
#include "view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokkaa/census.h"
#include "dokkaa/keys.h"
#include "dokkaa/manifest.h"
#include "dokkaa/names.h"
#include "dokkaa/token.h"

/* A stored manifest as JSON, as the user wrote it, or NULL when it is not JSON. */
static json_t *view_value(const etcd_kv *kv)
{
    return kv ? json_loadb(kv->value, kv->value_len, 0, NULL) : NULL;
}

/* A string for json_pack's "s?": NULL (null) for "". */
static const char *view_or_null(const char *s)
{
    return *s ? s : NULL;
}

/* The status at key; false when there is none or it does not decode (a status
 * written by hand): either way the instance counts as not reported. */
static bool view_status(const store_snap *snap, const char *key, keys_status *st)
{
    const etcd_kv *kv = store_get(snap, key);
    return kv && keys_status_decode(kv->value, kv->value_len, st, NULL) == 0;
}

static int view_running(const store_snap *snap, const char *app, const char *name)
{
    char prefix[KEYS_SIZE];
    const etcd_kv *kv;
    keys_status st;
    int running = 0;
    size_t n = store_range(snap, keys_status_prefix(prefix, app, name), &kv);
    for (size_t i = 0; i < n; i++)
        running += keys_is(kv[i].key, KEYS_STATUS, NULL) &&
                   keys_status_decode(kv[i].value, kv[i].value_len, &st, NULL) == 0 &&
                   st.state == KEYS_STATE_RUNNING;
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
    char prefix[KEYS_SIZE];
    const etcd_kv *kv;
    keys_key k;
    char cur_app[KEYS_NAME_SIZE] = "";
    json_t *apps = json_array(), *manifests = NULL;
    size_t n = store_range(snap, app ? keys_app_prefix(prefix, app) : KEYS_APPS, &kv);
    for (size_t i = 0; i < n && apps; i++) {
        if (!keys_is(kv[i].key, KEYS_MANIFEST, &k))
            continue; /* a placement, or a key that is no manifest's */
        if (!manifests || strcmp(cur_app, k.app) != 0) {
            json_t *one = json_pack("{s:s,s:[]}", "app", k.app, "manifests");
            manifests = json_object_get(one, "manifests"); /* borrowed: apps holds one */
            if (json_array_append_new(apps, one) < 0)
                manifests = NULL; /* out of memory, and one is gone */
            memcpy(cur_app, k.app, sizeof cur_app);
        }
        json_array_append_new(manifests, view_summary(snap, k.app, k.name, &kv[i]));
    }
    return apps;
}

static int view_cmp_int(const void *a, const void *b)
{
    return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

/* The instance numbers app/name has a placement or a status for, sorted, once
 * each; *count gets how many. free() the result. Only keys that parse count: the
 * conductors ignore the others (an instance "01" or "+1"), and so does the API. */
static int *view_numbers(const store_snap *snap, const char *app, const char *name, size_t *count)
{
    char placed[KEYS_SIZE], status[KEYS_SIZE];
    const etcd_kv *p, *s;
    keys_key k;
    size_t np = store_range(snap, keys_instances_prefix(placed, app, name), &p);
    size_t ns = store_range(snap, keys_status_prefix(status, app, name), &s), n = 0;
    int *nums = malloc((np + ns + 1) * sizeof *nums);
    if (!nums)
        return NULL;
    for (size_t i = 0; i < np; i++)
        if (keys_is(p[i].key, KEYS_INSTANCE, &k))
            nums[n++] = k.instance;
    for (size_t i = 0; i < ns; i++)
        if (keys_is(s[i].key, KEYS_STATUS, &k))
            nums[n++] = k.instance;
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

/* One instance: what its conductor reports, else where it is placed, pending. */
static json_t *view_instance(const store_snap *snap, const char *app, const char *name, int i,
                             time_t now)
{
    char key[KEYS_SIZE], container[KEYS_CONTAINER_SIZE];
    keys_status st;
    keys_placement placed;
    const etcd_kv *kv = store_get(snap, keys_instance_key(key, app, name, i));
    bool reported = view_status(snap, keys_status_key(key, app, name, i), &st);
    bool is_placed = kv && keys_placement_decode(kv->value, kv->value_len, &placed, NULL) == 0;
    long long age = reported && *st.since ? view_age(st.since, now) : -1;
    const char *host = reported ? st.host : is_placed ? placed.host : NULL;
    /* the container the status describes: during a rollout, the next one (.next) */
    if (reported && *st.container)
        snprintf(container, sizeof container, "%s", st.container);
    else
        names_container(container, sizeof container, app, name, i);
    return json_pack("{s:s,s:s,s:i,s:s,s:s?,s:s,s:s?,s:o,s:s?,s:s?,s:s?}", "app", app, "name",
                     name, "instance", i, "container", container, "host", host, "state",
                     keys_state_name(reported ? st.state : KEYS_STATE_PENDING), "since",
                     reported ? view_or_null(st.since) : NULL, "age_seconds",
                     age >= 0 ? json_integer(age) : json_null(), "error",
                     reported ? view_or_null(st.error) : NULL, "hash",
                     reported ? view_or_null(st.hash) : NULL, "health",
                     reported ? view_or_null(keys_health_name(st.health)) : NULL);
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
    char prefix[KEYS_SIZE];
    const etcd_kv *kv;
    keys_key k;
    json_t *out = json_array();
    if (app && name) {
        view_add_instances(out, snap, app, name, now);
        return out;
    }
    size_t n = store_range(snap, app ? keys_app_prefix(prefix, app) : KEYS_APPS, &kv);
    for (size_t i = 0; i < n && out; i++)
        if (keys_is(kv[i].key, KEYS_MANIFEST, &k))
            view_add_instances(out, snap, k.app, k.name, now);
    return out;
}

json_t *view_manifest(const store_snap *snap, const char *app, const char *name, time_t now,
                      bool *missing)
{
    char key[KEYS_SIZE];
    const etcd_kv *kv = store_get(snap, keys_manifest_key(key, app, name));
    *missing = kv == NULL;
    json_t *m = kv ? view_summary(snap, app, name, kv) : NULL;
    if (m)
        json_object_set_new(m, "instances", view_instances(snap, app, name, now));
    return m;
}

/* The hosts registered under /hosts/, each with its record (defaults for a record
 * that does not decode), its load as census.h counts it, and whether it leads. */
json_t *view_hosts(const store_snap *snap)
{
    const etcd_kv *hosts, *apps, *statuses, *lead = store_get(snap, KEYS_LEADER_KEY);
    census c;
    keys_key k;
    keys_leader leader;
    size_t nh = store_range(snap, KEYS_HOSTS, &hosts);
    size_t na = store_range(snap, KEYS_APPS, &apps);
    size_t ns = store_range(snap, KEYS_STATUSES, &statuses);
    if (census_count(&c, hosts, nh, apps, na, statuses, ns, NULL) < 0)
        return NULL;
    if (!lead || keys_leader_decode(lead->value, lead->value_len, &leader, NULL) < 0)
        leader.host[0] = '\0';
    json_t *out = json_array();
    for (size_t i = 0; i < nh && out; i++) {
        keys_host h;
        if (!keys_is(hosts[i].key, KEYS_HOST, &k))
            continue; /* no host's key: no conductor registers it */
        if (keys_host_decode(hosts[i].value, hosts[i].value_len, &h, NULL) < 0)
            memset(&h, 0, sizeof h);
        const census_host *load = census_find(&c, k.host);
        json_t *one = json_pack("{s:s,s:s,s:i,s:I,s:{},s:s,s:i,s:i,s:b}", "id", k.host, "addr",
                                h.addr, "cpus", h.cpus, "memory", (json_int_t)h.memory, "labels",
                                "version", h.version, "instances", load ? load->placed : 0,
                                "running", load ? load->running : 0, "leader",
                                strcmp(leader.host, k.host) == 0);
        if (one && *h.started) /* as the conductor wrote it, when it did */
            json_object_set_new(one, "started", json_string(h.started));
        json_array_append_new(out, one);
    }
    census_free(&c);
    return out;
}

/* The port every ambassador listens on for app's service, or null before a
 * container links it. */
static json_t *view_link_port(const store_snap *snap, const char *app, const char *service)
{
    char key[KEYS_SIZE];
    keys_link link;
    const etcd_kv *kv = store_get(snap, keys_link_key(key, app, service));
    if (!kv || keys_link_decode(kv->value, kv->value_len, &link, NULL) < 0)
        return json_null();
    return json_integer(link.port);
}

json_t *view_services(const store_snap *snap)
{
    const etcd_kv *kv;
    keys_key k, cur = {0};
    json_t *out = json_array(), *instances = NULL;
    size_t n = store_range(snap, KEYS_SERVICES, &kv);
    for (size_t i = 0; i < n && out; i++) {
        char instance[KEYS_CONTAINER_SIZE + KEYS_NAME_SIZE];
        keys_service svc;
        if (!keys_is(kv[i].key, KEYS_SERVICE, &k))
            continue;
        if (!instances || strcmp(cur.app, k.app) != 0 || strcmp(cur.service, k.service) != 0) {
            json_t *one = json_pack("{s:s,s:s,s:o,s:[]}", "app", k.app, "service", k.service,
                                    "link_port", view_link_port(snap, k.app, k.service),
                                    "instances");
            instances = json_object_get(one, "instances"); /* borrowed: out holds one */
            if (json_array_append_new(out, one) < 0)
                instances = NULL; /* out of memory, and one is gone */
            cur = k;
        }
        /* an announcement that does not decode is listed, without an address */
        if (keys_service_decode(kv[i].value, kv[i].value_len, &svc, NULL) < 0)
            memset(&svc, 0, sizeof svc);
        /* the instance as the key names it, its last segment: container@host */
        snprintf(instance, sizeof instance, "%s", strrchr(kv[i].key, '/') + 1);
        json_array_append_new(instances, json_pack("{s:s,s:s,s:i}", "instance", instance,
                                                   "addr", svc.addr, "port", svc.port));
    }
    return out;
}

/* How many instances announce app's service. */
static size_t view_announced(const store_snap *snap, const char *app, const char *service)
{
    char prefix[KEYS_SIZE];
    const etcd_kv *kv;
    size_t n = store_range(snap, keys_services_prefix(prefix, app, service), &kv), count = 0;
    for (size_t i = 0; i < n; i++)
        count += keys_is(kv[i].key, KEYS_SERVICE, NULL);
    return count;
}

json_t *view_links(const store_snap *snap)
{
    const etcd_kv *kv;
    keys_key k;
    json_t *out = json_array();
    size_t n = store_range(snap, KEYS_LINKS, &kv);
    for (size_t i = 0; i < n && out; i++) {
        if (!keys_is(kv[i].key, KEYS_LINK, &k))
            continue;
        json_array_append_new(out, json_pack("{s:s,s:s,s:o,s:I}", "app", k.app, "service",
                                             k.service, "port",
                                             view_link_port(snap, k.app, k.service), "instances",
                                             (json_int_t)view_announced(snap, k.app, k.service)));
    }
    return out;
}

/* Every key under /tokens/, by its id: a record that does not decode is listed
 * with empty fields, so that it shows rather than hides (auth.c accepts no token
 * of such a record). */
json_t *view_tokens(const store_snap *snap)
{
    const etcd_kv *kv;
    json_t *out = json_array();
    size_t n = store_range(snap, KEYS_TOKENS, &kv);
    for (size_t i = 0; i < n && out; i++) {
        char id[TOKEN_ID_LEN + 1];
        keys_token rec;
        bool known = keys_token_decode(kv[i].value, kv[i].value_len, &rec, NULL) == 0;
        token_id(kv[i].key, id);
        json_array_append_new(out, json_pack("{s:s,s:s,s:s,s:s}", "id", id, "name",
                                             known ? rec.name : "", "role",
                                             known ? keys_role_name(rec.role) : "", "created",
                                             known ? rec.created : ""));
    }
    return out;
}

/* Newest first. */
static int view_cmp_kept(const void *a, const void *b)
{
    return view_cmp_int(&((const keys_revision *)b)->revision, &((const keys_revision *)a)->revision);
}

keys_revision *view_kept(const etcd_kv *kv, size_t n, size_t *count)
{
    keys_revision *kept = n ? calloc(n, sizeof *kept) : NULL;
    *count = 0;
    for (size_t i = 0; kept && i < n; i++)
        if (keys_is(kv[i].key, KEYS_REVISION, NULL) &&
            keys_revision_decode(kv[i].value, kv[i].value_len, &kept[*count], NULL) == 0)
            (*count)++;
    if (kept && *count == 0) {
        free(kept);
        return NULL;
    }
    if (kept)
        qsort(kept, *count, sizeof *kept, view_cmp_kept);
    return kept;
}

void view_kept_free(keys_revision *kept, size_t count)
{
    for (size_t i = 0; kept && i < count; i++)
        keys_revision_free(&kept[i]);
    free(kept);
}

/* A record as the JSON object its encoder makes (free()s text), or null. */
static json_t *view_record(char *text)
{
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    return j ? j : json_null();
}

static json_t *view_revision(const keys_revision *rv, int current)
{
    /* kept as written, which was JSON when it was kept; as text if not */
    json_t *m = rv->manifest ? json_loads(rv->manifest, 0, NULL) : NULL;
    if (!m && rv->manifest)
        m = json_string(rv->manifest);
    json_t *one = json_pack("{s:i,s:s,s:s,s:s,s:s,s:b,s:o?}", "revision", rv->revision, "hash",
                            rv->hash, "by", rv->by, "at", rv->at, "outcome",
                            keys_outcome_name(rv->outcome), "current", rv->revision == current,
                            "manifest", m);
    if (one && *rv->reason)
        json_object_set_new(one, "reason", json_string(rv->reason));
    return one;
}

json_t *view_revisions(const store_snap *snap, const char *app, const char *name, bool *missing)
{
    char key[KEYS_SIZE];
    const etcd_kv *kv;
    keys_rollout rollout;
    size_t count;
    size_t n = store_range(snap, keys_revisions_prefix(key, app, name), &kv);
    keys_revision *kept = view_kept(kv, n, &count);
    const etcd_kv *ro = store_get(snap, keys_rollout_key(key, app, name));
    bool has_rollout = ro && keys_rollout_decode(ro->value, ro->value_len, &rollout, NULL) == 0;
    *missing = !store_get(snap, keys_manifest_key(key, app, name)) && count == 0;
    if (*missing)
        return NULL;
    json_t *list = json_array();
    for (size_t i = 0; list && i < count; i++)
        json_array_append_new(list, view_revision(&kept[i], has_rollout ? rollout.revision : 0));
    view_kept_free(kept, count);
    return json_pack("{s:s,s:s,s:o,s:o}", "app", app, "name", name, "rollout",
                     has_rollout ? view_record(keys_rollout_encode(&rollout)) : json_null(),
                     "revisions", list);
}
