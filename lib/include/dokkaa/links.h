/* links.h - the cluster-wide port of a link (DESIGN.md: /links/<app>/<service>).
 *
 * Every ambassador listens for a link on the same port, so a container's
 * SERVICE_<NAME>_PORT is valid on whichever host it runs. The port is allocated
 * once, by the first user of the link, in an etcd transaction. */
#ifndef DOKKAA_LINKS_H
#define DOKKAA_LINKS_H

#include "dokkaa/etcd.h"

/* The ports links are allocated from (a cluster's conductors agree on it). */
typedef struct links_range {
    int min, max;
} links_range;

#define LINKS_RANGE_DEFAULT ((links_range){20000, 29999})

/* The port of link app/service, allocating the lowest free one in range if it has
 * none yet, a manifest of app offers service and one names the link (else
 * ERR_NOTFOUND, saying which is missing). */
int links_port(etcd *e, links_range range, const char *app, const char *service, int *port,
               err_t *err);

/* Free the ports of app's links that no manifest of app names any more, unless one
 * of its manifests does not validate or one of its rollouts has not ended; each
 * delete holds only under fence (the scheduler's leadership) and if the app's
 * manifests did not change since they were read. *freed gets how many. */
int links_prune(etcd *e, const char *app, const etcd_cmp *fence, int *freed, err_t *err);

/* Parse "MIN-MAX" (1024..65535); -1 with a precise err when malformed. */
int links_parse_range(const char *text, links_range *range, err_t *err);

#endif
