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

/* The limits that keep one client or one link from taking the host (see
 * proxy.c's head comment); call before proxy_run. per_link and per_source: open
 * connections on one link, and from one source address over every link of the
 * host (0: the defaults, half and a quarter of the connections in force, see
 * proxy.c). idle_seconds: a connection that moves no byte either way this long is
 * closed (0: never). */
void proxy_set_limits(proxy *p, size_t per_link, size_t per_source, int idle_seconds);

/* The idle timeout an operator gets without --idle-timeout: see proxy.c. */
#define PROXY_IDLE_DEFAULT_S 3600

/* The limits in force: max_conns is what the descriptor budget allows once the
 * listeners (a socket per link and worker) and the workers' own descriptors are
 * counted, or --max-conns if lower; it changes with the number of links. */
typedef struct proxy_limits {
    size_t max_conns, per_link, per_source;
    int idle_seconds;
} proxy_limits;
proxy_limits proxy_limits_in_force(proxy *p);

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
    unsigned long long refused;  /* clients closed: not allowed, over a limit, no instance,
                                  * none answered */
    unsigned long long idle;     /* connections closed after the idle timeout */
    unsigned long long failures; /* connects to an instance that failed or timed out */
} proxy_link_stats;

/* Call fn with each link's counters (safe from any thread). */
void proxy_stats(proxy *p, void (*fn)(void *ud, const proxy_link_stats *s), void *ud);

#endif
