/* net.c - IPv4 networks as operators write them (see net.h). */
#include "dokkaa/net.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dokkaa/names.h"

int net_addr_parse(const char *text, uint32_t *addr)
{
    struct in_addr in;
    if (!text || inet_pton(AF_INET, text, &in) != 1)
        return -1;
    *addr = ntohl(in.s_addr);
    return 0;
}

int net_cidr_parse(const char *text, net_cidr *cidr, err_t *err)
{
    char addr[16];
    const char *slash = strchr(text, '/');
    size_t len = slash ? (size_t)(slash - text) : strlen(text);
    int bits = 32;
    uint32_t a;
    bool ok = len < sizeof addr;
    if (ok) {
        memcpy(addr, text, len);
        addr[len] = '\0';
        ok = net_addr_parse(addr, &a) == 0;
    }
    if (ok && slash) { /* "24", not "+24", " 24", "024" or "24x" */
        const char *n = slash + 1;
        size_t digits = strspn(n, "0123456789");
        ok = digits >= 1 && digits <= 2 && !n[digits] && (n[0] != '0' || digits == 1);
        bits = ok ? (int)strtol(n, NULL, 10) : -1;
        ok = ok && bits <= 32;
    }
    if (!ok) {
        char quoted[128];
        names_quote(text, strlen(text), quoted, sizeof quoted);
        return err_set(err, ERR_INVALID,
                       "%s: expected an IPv4 network like 10.88.0.0/24, or an address", quoted);
    }
    cidr->mask = bits ? ~0u << (32 - bits) : 0;
    cidr->net = a & cidr->mask;
    return 0;
}
