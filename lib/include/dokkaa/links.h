/* links.h - the cluster-wide port of a link (DESIGN.md: /links/<app>/<service>).
 *
 * Every ambassador listens for a link on the same port, so a container's
 * SERVICE_<NAME>_PORT is valid on whichever host it runs. The port is allocated
 * once, by the first user of the link, in an etcd transaction. */
#ifndef DOKKAA_LINKS_H
#define DOKKAA_LINKS_H

#include "dokkaa/etcd.h"

#define LINKS_PORT_MIN 20000
#define LINKS_PORT_MAX 29999

/* The port of link app/service, allocating the lowest free one if it has none. */
int links_port(etcd *e, const char *app, const char *service, int *port, err_t *err);

/* Decode a /links/ value {"port": N}; -1 with a precise error when malformed. */
int links_parse(const char *value, int *port, err_t *err);

#endif
