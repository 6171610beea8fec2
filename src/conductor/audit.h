/* audit.h - after etcd elects a new leader, the hosts that died with the old one.
 *
 * A host is declared dead when its lease goes unrenewed for its TTL. But a new etcd
 * leader restarts every lease's TTL (it cannot know when each was last renewed), so
 * a host that died with the old leader, or just before the election, was given its
 * TTL twice: when its own etcd member led, recovery took the election, the TTL and
 * an election timeout more. The audit takes that second TTL back:
 *
 *  - every conductor writes /alive/<host> = {"term": T} under its lease whenever its
 *    keepalive is answered in a term T it has not marked yet (host.c);
 *  - a conductor that sees the term change (at E) audits, at
 *    E + TTL - AUDIT_ELECTION_MS + 2 * AUDIT_HEARTBEAT_MS, the next AUDIT_PEERS hosts
 *    after its own in /hosts/ order: one whose mark is still of an older term has
 *    not renewed its lease since the election, and its lease is revoked, which
 *    removes its /hosts/ entry and announcements and moves its instances.
 *
 * Why that is no sooner than the TTL from the host's last renewal, when etcd's
 * leader died or was cut off: renewals need the leader, so a host that did not
 * renew in the new term last renewed in the old one, at the latest when the old
 * leader was last heard of (K). etcd's followers elect only after hearing nothing
 * from their leader for an election timeout (ticks of a heartbeat), so
 * K <= E - AUDIT_ELECTION_MS + 2 * AUDIT_HEARTBEAT_MS, and the audit's time is at
 * least K + TTL. A leader cut off with a host still renews that host until it
 * steps down, but the new leader never learns of those renewals: for it the host
 * was cut off from K on, as without the audit.
 *
 * Where the bound is short: when the leadership moves while the old leader lives
 * (`etcdctl move-leader`, an etcd member stopped gracefully, a member rejoining
 * with a higher term), K is about E, and a host that is cut off or dead at that
 * same moment is judged up to AUDIT_ELECTION_MS - 2 * AUDIT_HEARTBEAT_MS (0.8 s)
 * before its TTL is out. Every connected host renews in the new term and marks
 * it, so this costs only a blip that coincides with such a move; a blip without an
 * election in it is judged by the TTL alone, as before.
 *
 * What else keeps a live host from being judged:
 *  - the audit is never before a live host has had two renewals in the new term
 *    (2 * renewal interval + AUDIT_SLACK_MS: a mark that fails once is written at
 *    the next renewal);
 *  - it judges only when this host's own mark of the term was written: marks that
 *    etcd could not take (a full disk: its space alarm refuses writes, not
 *    renewals or revokes) prove nothing;
 *  - a host without a mark, with a mark of another lease, or with one older than
 *    its /hosts/ entry (a conductor that writes none took over the lease of one
 *    that did) is left to its TTL;
 *  - the audit runs in the renewal thread right after a renewal, on an etcd
 *    client of its own whose calls are bounded to a tenth of the TTL, and another
 *    renewal follows it, so it never starves this host's own lease.
 *
 * The constants are etcd's defaults, which every Dokkaa member runs with (the local
 * provider's and dokkaa-etcd.service's command lines set neither): a member run
 * with a shorter election timeout would make the audit early by the difference. */
#ifndef DOKKAA_AUDIT_H
#define DOKKAA_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dokkaa/etcd.h"
#include "dokkaa/keys.h"

#define AUDIT_ELECTION_MS 1000 /* etcd's --election-timeout */
#define AUDIT_HEARTBEAT_MS 100 /* etcd's --heartbeat-interval */
#define AUDIT_PEERS 2          /* hosts each conductor audits: its successors in /hosts/ */
#define AUDIT_SLACK_MS 500     /* beyond two renewal intervals, at the least */

typedef struct audit {
    int64_t term;     /* the highest raft term seen; 0 before the first answer */
    int64_t due_term; /* the term whose audit is pending; 0 when none is */
    int64_t due_ms;   /* when it is due, CLOCK_MONOTONIC milliseconds */
    int64_t give_up_ms; /* past this, a pending audit whose reads keep failing is
                         * dropped: the leases have expired by themselves by then */
} audit;

/* A keepalive was answered in term at now_ms: a term higher than the last one seen
 * (not the first) schedules an audit, and says so. renew_ms: how often hosts renew. */
bool audit_saw_term(audit *a, int64_t term, int64_t now_ms, int lease_ttl, long renew_ms);

/* Milliseconds until the pending audit is due (0: now); -1 when none is pending. */
int64_t audit_wait_ms(const audit *a, int64_t now_ms);

/* A host found unrenewed since the election. */
typedef struct audit_dead {
    char host[KEYS_NAME_SIZE];
    int64_t lease;
    long long marked; /* the term its mark was of */
} audit_dead;

/* The decision, pure: of the hosts in /hosts/ (hosts, sorted by key) the
 * AUDIT_PEERS that follow self (wrapping), those whose /alive/ mark (in alive),
 * written under the same lease, is of a term before term. Returns how many were
 * written to dead (at most AUDIT_PEERS); none when self is not in hosts. */
size_t audit_pick(const etcd_kvs *hosts, const etcd_kvs *alive, const char *self, int64_t term,
                  audit_dead dead[AUDIT_PEERS]);

/* Run the pending audit if it is due: read /hosts/ and /alive/, revoke the leases
 * of the dead it finds, and log each. self_marked: the term of this host's own
 * mark under its current lease; until it is the audit's, nothing is judged. A try
 * that cannot read is made again at the next call, until give_up_ms. */
void audit_run(audit *a, etcd *e, const char *self, int64_t self_marked, int64_t now_ms);

#endif
