/* proxy.h - the ambassador's data path: one epoll loop that listens on every link's
 * port and splices each accepted connection to a live instance of the service. */
#ifndef DOKKAA_PROXY_H
#define DOKKAA_PROXY_H

#include <pthread.h>
#include <stdatomic.h>

#include "table.h"

typedef struct proxy proxy;

/* listen_addr: the address links listen on (the Docker bridge gateway). */
proxy *proxy_new(const char *listen_addr, err_t *err);
void proxy_free(proxy *p);

/* Replace the routing table (takes ownership of *t); safe from any thread. The loop
 * opens and closes listeners to match. */
void proxy_set_table(proxy *p, table *t);

/* Run until *stop is true (checked at least once a second). */
int proxy_run(proxy *p, const atomic_bool *stop);

#endif
