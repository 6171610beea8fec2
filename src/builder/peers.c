/* peers.c - connections per client address (--max-conns-per-ip), counted across
 * the builder's daemons (plain and TLS share one count).
 *
 * Loopback and the --trust networks are not counted: behind them are the
 * machine's own tools, a reverse proxy in front of the builder (every client it
 * forwards comes from 127.0.0.1) and the cluster's hosts, many clients behind one
 * address, whom the limit would lock out of their own cluster. An IPv6 client
 * counts by its /64, the least a site is given: one host has the whole /64 to
 * pick addresses from.
 *
 * Invariant: a connection is counted from MHD's STARTED notice to its CLOSED
 * notice, which MHD pairs on every path (also when a connection's thread cannot
 * start), so a count never leaks and an address is never locked out by
 * connections long gone; and no address has more than the limit open past its
 * STARTED notice. Two checks keep it:
 *  - when a connection is accepted (MHD's accept policy callback), so that a
 *    refused one costs no thread: closed at once, before a byte is read. Without
 *    TLS, MHD accepts and gives STARTED in one thread, and this check is exact;
 *  - at STARTED, under the count's lock: with TLS, listen.c hands connections to
 *    the daemons from its own thread, which MHD checks there but starts later in
 *    the daemon's, so a burst of sockets that all turn ready at once passes the
 *    first check together. One over the limit is shut down here; its thread then
 *    sees the socket closed, and its CLOSED notice gives the count back. */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "builder.h"
#include "dokkaa/log.h"

#define PEERS_BUCKETS 1024 /* a power of two */
#define PEERS_LOG_EVERY 60 /* seconds between two lines about refusals */

typedef struct peers_entry {
    struct peers_entry *next;
    unsigned char key[16]; /* IPv4 as ::ffff:a.b.c.d; IPv6 its /64, the rest zero */
    unsigned open;
} peers_entry;

struct peers {
    const builder *b; /* the trusted networks */
    unsigned limit;
    pthread_mutex_t lock;
    peers_entry *bucket[PEERS_BUCKETS];
    unsigned long refused; /* since the last log line */
    time_t logged;
};

/* addr's key; false for an address that is not counted (exempt, or not IP). */
static bool peers_key(const peers *p, const struct sockaddr *addr, unsigned char key[16])
{
    memset(key, 0, 16);
    if (!addr)
        return false;
    if (addr->sa_family == AF_INET) {
        memcpy(key + 12, &((const struct sockaddr_in *)addr)->sin_addr, 4);
    } else if (addr->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)addr)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6))
            memcpy(key + 12, &a6->s6_addr[12], 4);
        else if (IN6_IS_ADDR_LOOPBACK(a6))
            return false;
        else {
            memcpy(key, a6->s6_addr, 8);
            return true;
        }
    } else {
        return false;
    }
    key[10] = key[11] = 0xff;
    uint32_t v4;
    memcpy(&v4, key + 12, 4);
    return !auth_trusted_v4(p->b, ntohl(v4));
}

static size_t peers_hash(const unsigned char key[16])
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (int i = 0; i < 16; i++)
        h = (h ^ key[i]) * 1099511628211ull;
    return (size_t)(h & (PEERS_BUCKETS - 1));
}

/* The entry of key, made if make (NULL when out of memory); under the lock. */
static peers_entry *peers_find(peers *p, const unsigned char key[16], bool make)
{
    peers_entry **slot = &p->bucket[peers_hash(key)];
    for (peers_entry *e = *slot; e; e = e->next)
        if (memcmp(e->key, key, 16) == 0)
            return e;
    peers_entry *e = make ? calloc(1, sizeof *e) : NULL;
    if (e) {
        memcpy(e->key, key, 16);
        e->next = *slot;
        *slot = e;
    }
    return e;
}

peers *peers_start(const builder *b, unsigned limit)
{
    peers *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->b = b;
    p->limit = limit;
    pthread_mutex_init(&p->lock, NULL);
    return p;
}

void peers_stop(peers *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < PEERS_BUCKETS; i++)
        for (peers_entry *e = p->bucket[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    pthread_mutex_destroy(&p->lock);
    free(p);
}

enum MHD_Result peers_admit(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    peers *p = cls;
    unsigned char key[16];
    (void)addrlen;
    if (!peers_key(p, addr, key))
        return MHD_YES;
    pthread_mutex_lock(&p->lock);
    peers_entry *e = peers_find(p, key, false);
    bool ok = !e || e->open < p->limit;
    time_t now = ok ? 0 : time(NULL);
    unsigned long refused = 0;
    if (!ok && ++p->refused && now - p->logged >= PEERS_LOG_EVERY) {
        refused = p->refused;
        p->refused = 0;
        p->logged = now;
    }
    pthread_mutex_unlock(&p->lock);
    if (refused) {
        char text[INET6_ADDRSTRLEN] = "?";
        if (addr->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)addr)->sin_addr, text, sizeof text);
        else
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)addr)->sin6_addr, text, sizeof text);
        log_warn("closed %lu connection(s) at once: %s (among others) already has %u open "
                 "(--max-conns-per-ip)", refused, text, p->limit);
    }
    return ok ? MHD_YES : MHD_NO;
}

void peers_notify(peers *p, struct MHD_Connection *conn, enum MHD_ConnectionNotificationCode code)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    unsigned char key[16];
    if (!p || !info || !peers_key(p, info->client_addr, key))
        return;
    bool over = false;
    pthread_mutex_lock(&p->lock);
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        peers_entry *e = peers_find(p, key, true);
        if (e) /* out of memory: this one goes uncounted rather than refused */
            over = ++e->open > p->limit;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        peers_entry **slot = &p->bucket[peers_hash(key)];
        for (peers_entry *e; (e = *slot); slot = &e->next)
            if (memcmp(e->key, key, 16) == 0) {
                if (e->open > 0 && --e->open == 0) { /* the table holds open addresses only */
                    *slot = e->next;
                    free(e);
                }
                break;
            }
    }
    pthread_mutex_unlock(&p->lock);
    if (over) {
        const union MHD_ConnectionInfo *fd =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (fd)
            shutdown(fd->connect_fd, SHUT_RDWR);
    }
}
