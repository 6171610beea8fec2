/* pki.h - the cluster's certificate authority, kept by the CLI.
 *
 * `up` on real machines makes one CA per cluster in the CLI's config directory
 * (ca.pem, and ca.key readable by its owner only), and from it one certificate
 * per host, good for both ends of TLS (serverAuth and clientAuth): etcd peers and
 * clients, the builder's HTTPS, a builder asking another. Keys are ECDSA P-256.
 *
 * Every function is idempotent: what exists and is still right is kept, so a
 * second `up` sends the hosts the very same files and nothing restarts. */
#ifndef DOKKAACFG_PKI_H
#define DOKKAACFG_PKI_H

#include <stdbool.h>
#include <stddef.h>

#include "dokkaa/err.h"

/* The CA in dir (dir/ca.pem, dir/ca.key), made if missing; *made tells. */
int pki_ca_ensure(const char *dir, const char *cluster, bool *made, err_t *err);

/* A certificate at cert_path, its key at key_path (0600), issued by the CA in
 * ca_dir to common name cn, for the IP addresses and DNS names given (each
 * NULL-terminated list may be NULL). An existing one is kept if that CA issued it,
 * it covers every name and it has more than a month to live; else it is made
 * anew (*made says which). */
int pki_cert_ensure(const char *ca_dir, const char *cert_path, const char *key_path, const char *cn,
                    const char *const *ips, const char *const *dns, bool *made, err_t *err);

#endif
