/* spec.c - turn a manifest into the Docker create body of one instance.
 *
 * The container gets the labels DESIGN.md fixes (dokkaa.app, dokkaa.name,
 * dokkaa.instance), dokkaa.cluster, so that two clusters sharing an engine leave
 * each other's containers alone, and dokkaa.hash, which tells the planner whether
 * it still runs what the manifest asks; its services are published on a free port of the host
 * address; a link "nginx" becomes SERVICE_NGINX_ADDR/PORT pointing at the local
 * ambassador. The engine restarts a crashed container by itself (unless-stopped),
 * so that happens even while the conductor is down. */
#include "spec.h"

#include <stdio.h>
#include <string.h>

static int spec_env(json_t *env, const char *name, const char *value)
{
    return json_array_append_new(env, json_sprintf("%s=%s", name, value));
}

static json_t *spec_environment(const spec_host *host, const plan_spec *spec, int instance,
                                const int *link_ports)
{
    json_t *env = json_array();
    char buf[128], var[128];
    spec_env(env, "DOKKAA_APP", spec->app);
    spec_env(env, "DOKKAA_NAME", spec->name);
    snprintf(buf, sizeof buf, "%d", instance);
    spec_env(env, "DOKKAA_INSTANCE", buf);
    spec_env(env, "DOKKAA_HOST", host->host_id);
    for (size_t k = 0; k < spec->m.nlinks; k++) {
        names_service_env(var, sizeof var - 5, spec->m.links[k]);
        size_t len = strlen(var);
        memcpy(var + len, "_ADDR", 6);
        spec_env(env, var, host->gateway);
        memcpy(var + len, "_PORT", 6);
        snprintf(buf, sizeof buf, "%d", link_ports[k]);
        spec_env(env, var, buf);
    }
    for (size_t k = 0; k < spec->m.nenv; k++)
        spec_env(env, spec->m.env[k].name, spec->m.env[k].value);
    return env;
}

json_t *spec_container_config(const spec_host *host, const plan_spec *spec, int instance,
                              const int *link_ports)
{
    char port[16], inst[16];
    json_t *exposed = json_object(), *bindings = json_object();
    for (size_t k = 0; k < spec->m.nservices; k++) {
        snprintf(port, sizeof port, "%d/tcp", spec->m.services[k].port);
        json_object_set_new(exposed, port, json_object());
        json_object_set_new(bindings, port,
                            json_pack("[{s:s,s:s}]", "HostIp", host->host_ip, "HostPort", ""));
    }
    snprintf(inst, sizeof inst, "%d", instance);
    json_t *config = json_pack(
        "{s:s,s:o,s:{s:s,s:s,s:s,s:s,s:s},s:o,s:{s:o,s:{s:s}}}", "Image", spec->m.image, "Env",
        spec_environment(host, spec, instance, link_ports), "Labels", "dokkaa.cluster",
        host->cluster, "dokkaa.app", spec->app,
        "dokkaa.name", spec->name, "dokkaa.instance", inst, "dokkaa.hash", spec->m.hash,
        "ExposedPorts", exposed, "HostConfig", "PortBindings", bindings, "RestartPolicy",
        "Name", "unless-stopped");
    if (config && spec->m.command) {
        json_t *cmd = json_array();
        for (size_t k = 0; k < spec->m.ncommand; k++)
            json_array_append_new(cmd, json_string(spec->m.command[k]));
        json_object_set_new(config, "Cmd", cmd);
    }
    return config;
}
