/* config.h - small helpers the programs share to read their flags and environment. */
#ifndef DOKKAA_CONFIG_H
#define DOKKAA_CONFIG_H

#include <stddef.h>

#include "dokkaa/err.h"

#define CONFIG_ETCD_DEFAULT "http://127.0.0.1:2379"

/* Normalise an etcd endpoint list as the seed's ETCD_ADDR gives it ("10.0.0.1:4001",
 * comma-separated, with or without http://) into URLs; NULL or "" gives the default.
 * Only whole endpoints go into buf: -1 with err saying so (name: where the list came
 * from, "--etcd" or "ETCD_ADDR") when one did not fit (it and those after it are
 * left out) or out of memory (buf is then ""), else 0. A program refuses to start
 * on -1 rather than run with fewer members than it was given. */
int config_etcd_endpoints(char *buf, size_t size, const char *in, const char *name, err_t *err);

/* The first of the environment variables name and seed_name that is set and not
 * empty, else NULL: $DOKKAA_HOST_ID (/etc/dokkaa/dokkaa.conf's) before the seed's
 * $HOST_ID. */
const char *config_env(const char *name, const char *seed_name);

/* Parse a decimal integer in min..max for option name; -1 with a precise err
 * ("--parallel: must be an integer 1..64, got \"x\"") otherwise. */
int config_int(const char *name, const char *text, int min, int max, int *out, err_t *err);

/* The default cluster name (DESIGN.md): a second cluster on a machine takes its own. */
#define CONFIG_CLUSTER_DEFAULT "dokkaa"
/* The cluster name into buf: name when given, else $DOKKAA_CLUSTER, else
 * CONFIG_CLUSTER_DEFAULT; -1 with err when it is not a DNS label (it names
 * containers' labels, files and droplets). */
int config_cluster(const char *name, char *buf, size_t size, err_t *err);

#endif
