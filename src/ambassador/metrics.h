/* metrics.h - the ambassador's /metrics endpoint (Prometheus text format). */
#ifndef DOKKAA_AMBASSADOR_METRICS_H
#define DOKKAA_AMBASSADOR_METRICS_H

#include "dokkaa/err.h"
#include "proxy.h"

typedef struct metrics metrics;

/* Serve GET /metrics on port (all addresses) from p's counters. */
metrics *metrics_start(proxy *p, int port, err_t *err);
void metrics_stop(metrics *m);

#endif
