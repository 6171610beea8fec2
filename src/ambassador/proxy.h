/* proxy.h - the ambassador's data path: one epoll loop per core, each listening on
 * every link's port (SO_REUSEPORT), splicing each accepted connection to the live
 * instance of the service with the fewest connections. */
#ifndef DOKKAA_PROXY_H
#define DOKKAA_PROXY_H

#include <pthread.h>
#include <stdatomic.h>

#include "table.h"

typedef struct proxy proxy;

/* listen_addr: the address links listen on (the Docker bridge gateway). workers:
 * the number of loops (0: one per core). max_conns: connections at once, all
 * workers together (0: as many as the descriptor limit allows); beyond it new
 * clients are closed at once, and the log says so. */
proxy *proxy_new(const char *listen_addr, int workers, size_t max_conns, err_t *err);
void proxy_free(proxy *p);

/* Replace the routing table (takes ownership of *t); safe from any thread. The
 * workers open and close listeners to match. */
void proxy_set_table(proxy *p, table *t);

/* Run the workers until *stop is true (checked at least once a second); the
 * calling thread is one of them. */
int proxy_run(proxy *p, const atomic_bool *stop);

/* A link's counters, for /metrics. */
typedef struct proxy_link_stats {
    char app[64], service[64];
    int port;
    unsigned long long active;   /* connections open now */
    unsigned long long total;    /* connections accepted */
    unsigned long long bytes_in; /* client -> instance */
    unsigned long long bytes_out;/* instance -> client */
    unsigned long long refused;  /* clients closed: not allowed, no instance, none answered */
    unsigned long long failures; /* connects to an instance that failed or timed out */
} proxy_link_stats;

/* Call fn with each link's counters (safe from any thread). */
void proxy_stats(proxy *p, void (*fn)(void *ud, const proxy_link_stats *s), void *ud);

#endif
