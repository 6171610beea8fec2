/* table.h - the ambassador's routing table: for each link (app/service) the port it
 * listens on and the live instances behind it. Built from the /links/ and
 * /services/ mirrors; pure logic (tests/unit/test_table.c). */
#ifndef DOKKAA_TABLE_H
#define DOKKAA_TABLE_H

#include <stddef.h>

#include "dokkaa/etcd.h"

typedef struct table_backend {
    char addr[64];
    int port;
} table_backend;

typedef struct table_link {
    char app[64];
    char service[64];
    int port;                 /* where the ambassador listens */
    table_backend *backends;  /* sorted by key, i.e. by instance name */
    size_t nbackends;
} table_link;

typedef struct table {
    table_link *links; /* in /links/ key order */
    size_t n;
} table;

/* Build from the current contents of /links/ and /services/. A malformed key or
 * value is skipped and reported through warn(key, message). */
int table_build(table *t, const etcd_kvs *links, const etcd_kvs *services,
                void (*warn)(const char *key, const char *msg));
void table_free(table *t);

/* The link listening on port, or NULL. */
const table_link *table_by_port(const table *t, int port);

#endif
