/* dokkaacfg status - what the cluster is doing, read straight from etcd: the live
 * hosts (/hosts/) and every instance's status (/status/). */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "dokkaa/etcd.h"
#include "dokkaacfg.h"

static const char *cfg_field(json_t *v, const char *name)
{
    const char *s = json_string_value(json_object_get(v, name));
    return s ? s : "-";
}

static void cfg_print_hosts(const etcd_kvs *hosts)
{
    printf("%-12s %-16s %5s %s\n", "HOST", "ADDRESS", "CPUS", "VERSION");
    for (size_t i = 0; i < hosts->n; i++) {
        json_t *v = json_loads(hosts->kvs[i].value, 0, NULL);
        printf("%-12s %-16s %5lld %s\n", hosts->kvs[i].key + strlen("/hosts/"), cfg_field(v, "addr"),
               (long long)json_integer_value(json_object_get(v, "cpus")), cfg_field(v, "version"));
        json_decref(v);
    }
}

static void cfg_print_instances(const etcd_kvs *status)
{
    printf("\n%-32s %-12s %-12s %-21s %s\n", "INSTANCE", "HOST", "STATE", "SINCE", "ERROR");
    for (size_t i = 0; i < status->n; i++) {
        json_t *v = json_loads(status->kvs[i].value, 0, NULL);
        printf("%-32s %-12s %-12s %-21s %s\n", status->kvs[i].key + strlen("/status/"),
               cfg_field(v, "host"), cfg_field(v, "state"), cfg_field(v, "since"),
               json_object_get(v, "error") ? cfg_field(v, "error") : "");
        json_decref(v);
    }
}

int cfg_status(const cfg_global *g, int argc, char **argv)
{
    (void)argc, (void)argv;
    err_t err;
    etcd_kvs hosts = {0}, status = {0};
    etcd *e = etcd_new(g->etcd, &err);
    int rc = 1;
    if (!e || etcd_get_prefix(e, "/hosts/", &hosts, &err) < 0 ||
        etcd_get_prefix(e, "/status/", &status, &err) < 0) {
        fprintf(stderr, "dokkaacfg: %s\n", err.msg);
        goto out;
    }
    cfg_print_hosts(&hosts);
    cfg_print_instances(&status);
    rc = 0;
out:
    etcd_kvs_free(&hosts);
    etcd_kvs_free(&status);
    etcd_free(e);
    return rc;
}
