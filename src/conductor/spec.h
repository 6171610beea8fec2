/* spec.h - the Docker create body of one instance of a manifest. */
#ifndef DOKKAA_SPEC_H
#define DOKKAA_SPEC_H

#include <jansson.h>

#include "plan.h"

typedef struct spec_host {
    const char *cluster;  /* the dokkaa.cluster label */
    const char *host_id;
    const char *host_ip;  /* services are published on this address */
    const char *gateway;  /* the ambassador, as containers see it */
} spec_host;

/* The body of POST /containers/create for instance i of spec. link_ports[k] is the
 * port of spec->m.links[k]. Returns a new reference, NULL when out of memory. */
json_t *spec_container_config(const spec_host *host, const plan_spec *spec, int instance,
                              const int *link_ports);

#endif
