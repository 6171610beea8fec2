/* dokkaacfg hosts - the live hosts, their size and load, and which one is the
 * elected scheduler. */
#include <stdio.h>

#include "api.h"
#include "tbl.h"

static const api_cmd cfg_hosts_cmd = {
    "hosts", "[-o json]\n"
             "  the live hosts: address, CPUs, memory, instances placed on each and running\n"
             "  there, and the elected scheduler (LEADER)\n"
             "  -o json  the API's answer (GET /api/v1/hosts)\n",
    0, 0, NULL, NULL};

/* Bytes as "7.8G" (binary units, as free -h shows them). */
static void cfg_hosts_bytes(long long n, char *buf, size_t size)
{
    static const char units[] = "KMGTP";
    double v = (double)n;
    int u = -1;
    while (v >= 1024 && u < 4)
        v /= 1024, u++;
    if (u < 0)
        snprintf(buf, size, "%lldB", n);
    else
        snprintf(buf, size, "%.1f%c", v, units[u]);
}

static void cfg_hosts_row(tbl *t, json_t *h)
{
    char cpus[24], mem[24], placed[24], running[24];
    cfg_hosts_bytes((long long)json_integer_value(json_object_get(h, "memory")), mem, sizeof mem);
    tbl_row(t, api_str(h, "id"), api_str(h, "addr"), api_int(h, "cpus", cpus), mem,
            api_int(h, "instances", placed), api_int(h, "running", running),
            json_is_true(json_object_get(h, "leader")) ? "yes" : "");
}

static int cfg_hosts_print(json_t *v, void *ud, err_t *err)
{
    tbl t;
    (void)ud;
    tbl_init(&t, "ID", "ADDR", "CPUS", "MEMORY", "INSTANCES", "RUNNING", "LEADER", NULL);
    return tbl_of(&t, json_object_get(v, "hosts"), cfg_hosts_row, err);
}

int cfg_hosts(const cfg_global *g, int argc, char **argv)
{
    api_args args;
    api_req req = {.method = "GET", .path = "/api/v1/hosts"};
    int rc = api_args_parse(&cfg_hosts_cmd, g, argc, argv, &args, NULL);
    return rc != API_GO_ON ? rc : api_run(&args, &req, cfg_hosts_print, NULL);
}
