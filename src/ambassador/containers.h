/* containers.h - the Dokkaa containers running on this host and their addresses,
 * followed from the engine, for the ambassador's access list (table.h).
 *
 * A thread lists the containers labelled dokkaa.app, then follows the engine's
 * events; when the stream breaks it lists them again (with back-off). After the
 * first listing and after every change it calls on_change with the containers
 * that run and have an address, labelled with the manifest they run
 * (dokkaa.app, dokkaa.name).
 *
 * A container that connects as soon as it starts must find itself in the table:
 * it is added when the engine connects it to its network, which happens before
 * its process starts (a network "connect" event, then the network's own record of
 * its address: neither waits for the start to finish), and confirmed at its
 * "start" event (an inspect). Measured on this machine: the table has the address
 * 3 to 25 ms after the connect, and the process runs 0.5 to 1 s after it. The
 * start event comes with the process (a few ms before or after it), so the start
 * path alone would race the container's first connection. With
 * DOKKAA_LOG_LEVEL=debug each change logs how long after the engine's event it
 * reached the table. */
#ifndef DOKKAA_CONTAINERS_H
#define DOKKAA_CONTAINERS_H

#include <stddef.h>

#include "dokkaa/err.h"
#include "table.h"

typedef struct containers containers;

/* Called from the containers' thread; list is valid only during the call. */
typedef void (*containers_fn)(void *ud, const table_container *list, size_t n);

/* Follow the engine at docker_host ("unix:///path", a socket path, or NULL for
 * $DOCKER_HOST, else the default socket): the containers of cluster (label
 * dokkaa.cluster), so that another cluster's on the same engine, with the same app
 * names, are no one's. */
containers *containers_start(const char *docker_host, const char *cluster,
                             containers_fn on_change, void *ud, err_t *err);
/* Stop the thread (within about a second) and free everything. */
void containers_stop(containers *c);

#endif
