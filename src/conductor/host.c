/* host.c - the host's registration: a lease, and /hosts/<id> written under it.
 *
 * Everything this host announces (/hosts/, /status/, /services/) is bound to this
 * lease, so when the host dies its announcements vanish by themselves after the
 * TTL. A conductor that stops leaves its lease to expire rather than revoking it,
 * so that one restarted within the TTL takes it over and nothing moves. While etcd
 * cannot be reached the thread keeps trying; when it finds the lease expired it
 * takes a new one and bumps lease_epoch, which makes the main loop write every
 * announcement again under the new lease.
 *
 * The thread also marks, in /alive/<id>, the etcd term in which it renewed, and
 * after an etcd election audits its neighbours in /hosts/ (audit.h): a host that
 * died with etcd's leader moves without the second TTL the election gave it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "conductor.h"
#include "dokkaa/etcd.h"
#include "dokkaa/keys.h"
#include "dokkaa/log.h"
#include "dokkaa/sleep.h"

/* A conductor restarted within the TTL (an upgrade, a crash) finds the lease of
 * its previous run alive, holding /hosts/ and its announcements: it takes the
 * lease over, so the cluster sees no host leave and moves nothing. Returns the
 * lease, or 0 when there is none to adopt. */
static int64_t host_adopt(conductor *c, etcd *e, const char *key)
{
    etcd_kvs kvs;
    etcd_keepalive ka;
    int64_t lease = 0;
    if (etcd_get(e, key, &kvs, NULL) < 0)
        return 0;
    if (kvs.n == 1 && kvs.kvs[0].lease &&
        etcd_lease_keepalive(e, kvs.kvs[0].lease, &ka, NULL) == 0 && ka.ttl > 0) {
        lease = kvs.kvs[0].lease;
        log_info("took over the lease of this host's previous run (%s)", c->host_id);
    }
    etcd_kvs_free(&kvs);
    return lease;
}

/* What the cluster is told about this host. */
static char *host_record(conductor *c)
{
    keys_host h = {.cpus = (int)sysconf(_SC_NPROCESSORS_ONLN)};
    struct sysinfo si;
    struct tm tm;
    time_t now = time(NULL);
    if (sysinfo(&si) == 0)
        h.memory = (long long)si.totalram * si.mem_unit;
    snprintf(h.addr, sizeof h.addr, "%s", c->host_ip);
    snprintf(h.version, sizeof h.version, "%s", DOKKAA_VERSION);
    strftime(h.started, sizeof h.started, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    return keys_host_encode(&h);
}

static int host_register(conductor *c, etcd *e, err_t *err)
{
    char key[KEYS_SIZE];
    int64_t lease;

    keys_host_key(key, c->host_id);
    if (!(lease = host_adopt(c, e, key)) && etcd_lease_grant(e, c->lease_ttl, &lease, err) < 0)
        return -1;
    char *value = host_record(c);
    int rc = value ? etcd_put(e, key, value, lease, NULL, err)
                   : err_set(err, ERR_SYS, "%s: out of memory", key);
    free(value);
    if (rc < 0) {
        etcd_lease_revoke(e, lease, NULL);
        return -1;
    }
    atomic_store(&c->lease, lease);
    atomic_fetch_add(&c->lease_epoch, 1);
    log_info("registered %s with lease %llx (ttl %ds)", key, (unsigned long long)lease,
             c->lease_ttl);
    conductor_wake(c);
    return 0;
}

/* A host whose engine has not answered for a lease TTL can run nothing: it stops
 * renewing its lease, so that the cluster moves its instances elsewhere, and
 * registers again once the engine is back. */
static bool host_engine_lost(conductor *c)
{
    static bool said;
    long long since = atomic_load(&c->engine_down_since);
    bool lost = since && time(NULL) - since > c->lease_ttl;
    if (lost != said)
        log_warn(lost ? "the engine does not answer: letting the lease expire, so that this "
                        "host's instances run elsewhere"
                      : "the engine answers again");
    said = lost;
    return lost;
}

static int64_t host_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* /alive/<id> says the term of etcd in which this host last renewed its lease
 * (audit.h): written once per term and lease. A write that fails is tried again
 * at the next renewal, and said once. */
static void host_mark(conductor *c, etcd *e, int64_t lease, int64_t term, int64_t *marked_term,
                      int64_t *marked_lease)
{
    static bool complained;
    char key[KEYS_SIZE];
    keys_alive a = {.term = term};
    err_t err;
    if (term <= 0 || (term == *marked_term && lease == *marked_lease))
        return;
    char *value = keys_alive_encode(&a);
    int rc = value ? etcd_put(e, keys_alive_key(key, c->host_id), value, lease, NULL, &err)
                   : err_set(&err, ERR_SYS, "out of memory");
    free(value);
    if (rc == 0) {
        *marked_term = term;
        *marked_lease = lease;
    } else if (!complained) {
        log_warn("%s: %s (retrying at the next renewal)", key, err.msg);
    }
    complained = rc < 0;
}

void *host_thread(void *arg)
{
    conductor *c = arg;
    err_t err;
    etcd *e = etcd_new(c->etcd_endpoints, &err), *ea = e ? etcd_new(c->etcd_endpoints, &err) : NULL;
    if (!ea) {
        log_error("%s", err.msg);
        etcd_free(e);
        return NULL;
    }
    etcd_set_timeout(e, c->lease_ttl * 1000L / 4);
    etcd_set_timeout(ea, c->lease_ttl * 1000L / 10);
    bool complained = false;
    audit audit = {0};
    int64_t marked_term = 0, marked_lease = 0, failing_since = 0;
    /* Five renewals per TTL: a host cut off keeps its lease for four fifths of
     * the TTL after its last renewal, and after an election a live host marks the
     * new term well before any audit (audit.h). */
    long renew_ms = c->lease_ttl * 1000L / 5;
    while (!atomic_load(&c->stop)) {
        if (host_engine_lost(c)) {
            sleep_ms(1000, &c->stop);
            continue;
        }
        etcd_keepalive ka = {0};
        int64_t lease = atomic_load(&c->lease);
        int rc = lease ? etcd_lease_keepalive(e, lease, &ka, &err) : -1;
        if (rc == 0 && ka.ttl > 0) {
            complained = false;
            failing_since = 0;
            host_mark(c, e, lease, ka.term, &marked_term, &marked_lease);
            int64_t now = host_now_ms(), was = audit.term;
            if (audit_saw_term(&audit, ka.term, now, c->lease_ttl, renew_ms))
                log_info("etcd elected a new leader (term %lld, was %lld): in %lld ms, the hosts "
                         "after this one in /hosts/ that have not renewed since are found dead",
                         (long long)ka.term, (long long)was, (long long)audit_wait_ms(&audit, now));
            if (audit_wait_ms(&audit, now) == 0) {
                /* Right after a renewal, on a client of its own whose calls are
                 * bounded to a tenth of the TTL per member tried (a read that
                 * fails ends the try); renewed again at once when it is done, else
                 * after the usual interval. */
                audit_run(&audit, ea, c->host_id, lease == marked_lease ? marked_term : 0, now);
                if (!audit.due_term)
                    continue;
                sleep_ms(renew_ms, &c->stop);
                continue;
            }
            int64_t due = audit_wait_ms(&audit, now);
            sleep_ms(due >= 0 && due < renew_ms ? (long)due : renew_ms, &c->stop);
            continue;
        }
        if (rc == 0 || !lease) { /* expired, or never had one */
            atomic_store(&c->lease, 0);
            rc = host_register(c, e, &err);
        }
        if (rc < 0 && !complained) {
            log_warn("host lease: %s (retrying)", err.msg);
            complained = true;
        }
        /* For a TTL after the first failure, while the lease may still be alive,
         * ask again soon: etcd may be electing a leader, and the sooner this host
         * renews in the new term, the sooner it learns of the term (an audit is
         * timed from then) and the others learn that it lives (audit.h). Past
         * that, once a second, not to press an etcd that is down. */
        if (rc < 0 && !failing_since)
            failing_since = host_now_ms();
        if (rc < 0)
            sleep_ms(atomic_load(&c->lease) && host_now_ms() - failing_since < c->lease_ttl * 1000L
                         ? 250 : 1000, &c->stop);
    }
    etcd_free(ea);
    etcd_free(e);
    return NULL;
}
