/* net.h - IPv4 networks as operators write them: "10.88.0.0/24", or an address
 * alone for one host. One parser for every flag that takes a network (the
 * builder's and `dokkaacfg up`'s --trust, the ambassador's --allow), so that they
 * accept the same text. */
#ifndef DOKKAA_NET_H
#define DOKKAA_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "dokkaa/err.h"

typedef struct net_cidr {
    uint32_t net;  /* host byte order, host bits cleared */
    uint32_t mask; /* host byte order */
} net_cidr;

/* Parse "A.B.C.D/N" (N a plain decimal 0..32: no sign, no space) or "A.B.C.D" (/32);
 * -1 with ERR_INVALID quoting text otherwise. */
int net_cidr_parse(const char *text, net_cidr *cidr, err_t *err);

/* Parse a dotted IPv4 address into host byte order; -1 when it is not one. */
int net_addr_parse(const char *text, uint32_t *addr);

static inline bool net_cidr_contains(const net_cidr *cidr, uint32_t addr)
{
    return (addr & cidr->mask) == cidr->net;
}

#endif
