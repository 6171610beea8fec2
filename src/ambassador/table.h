/* table.h - the ambassador's routing table and access list: for each link
 * (app/service) the port it listens on, the live instances behind it, and who may
 * use it. Built from the /links/, /services/ and /apps/ mirrors, the containers
 * running on this host and the operator's --allow networks; pure logic
 * (tests/unit/test_table.c).
 *
 * Links are an access list: a link admits a local container only when it belongs
 * to the link's app and its manifest's "links" names the link's service; anything
 * else is refused, but for the networks the operator trusts explicitly. Addresses
 * are IPv4, in host byte order. */
#ifndef DOKKAA_TABLE_H
#define DOKKAA_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dokkaa/etcd.h"
#include "dokkaa/net.h"

typedef struct table_backend {
    char addr[64];
    int port;
} table_backend;

/* A container running on this host, as the engine reports it: its address on its
 * network and the manifest it runs (labels dokkaa.app and dokkaa.name). */
typedef struct table_container {
    uint32_t addr;
    char app[64];
    char name[64];
} table_container;

typedef struct table_link {
    char app[64];
    char service[64];
    int port;                 /* where the ambassador listens */
    table_backend *backends;  /* in /services/ key order */
    size_t nbackends;
    uint32_t *allowed;        /* local containers that link the service: sorted, unique */
    size_t nallowed;
    const net_cidr *nets;     /* the operator's networks, the table's (shared by links) */
    size_t nnets;
} table_link;

typedef struct table {
    table_link *links; /* in /links/ key order */
    size_t n;
    net_cidr *nets;    /* owned; every link points here */
    size_t nnets;
} table;

/* What a table is built from. links, services and apps are the current contents
 * of /links/, /services/ and /apps/ (sorted by key, as etcd and mirror.c give
 * them); apps may hold other keys than manifests (placements): they are skipped. */
typedef struct table_sources {
    const etcd_kvs *links;
    const etcd_kvs *services;
    const etcd_kvs *apps;
    const table_container *containers; /* the running local containers, any order */
    size_t ncontainers;
    const net_cidr *nets;              /* --allow networks, copied into the table */
    size_t nnets;
} table_sources;

/* Build the table. A malformed link or service key or value is skipped, and so
 * is a local container's manifest that does not validate (nobody is allowed in
 * its name); each is reported through warn(key, message) (warn may be NULL).
 * Fails (-1) only when out of memory. */
int table_build(table *t, const table_sources *src,
                void (*warn)(const char *key, const char *msg));
void table_free(table *t);

/* The link listening on port, or NULL. */
const table_link *table_by_port(const table *t, int port);

/* Whether a connection from addr (IPv4, host order) may use link: a local
 * container allowed to, or an address in one of the operator's networks. */
bool table_allows(const table_link *link, uint32_t addr);

#endif
