/* audit.c - after etcd elects a new leader, revoke the leases of the hosts that
 * have not renewed since (audit.h says why that is safe, and when). */
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "dokkaa/log.h"

bool audit_saw_term(audit *a, int64_t term, int64_t now_ms, int lease_ttl, long renew_ms)
{
    bool scheduled = false;
    if (term <= a->term)
        return false;
    if (a->term) { /* a new leader: not the first answer of this conductor's life */
        /* a TTL after the last renewal the others can have made (audit.h), and
         * never before a live host has had two renewals to mark the new term */
        int64_t after = lease_ttl * 1000LL - AUDIT_ELECTION_MS + 2 * AUDIT_HEARTBEAT_MS;
        if (after < 2LL * renew_ms + AUDIT_SLACK_MS)
            after = 2LL * renew_ms + AUDIT_SLACK_MS;
        a->due_term = term;
        a->due_ms = now_ms + after;
        a->give_up_ms = a->due_ms + lease_ttl * 1000LL;
        scheduled = true;
    }
    a->term = term;
    return scheduled;
}

int64_t audit_wait_ms(const audit *a, int64_t now_ms)
{
    if (!a->due_term)
        return -1;
    return a->due_ms > now_ms ? a->due_ms - now_ms : 0;
}

size_t audit_pick(const etcd_kvs *hosts, const etcd_kvs *alive, const char *self, int64_t term,
                  audit_dead dead[AUDIT_PEERS])
{
    size_t me = hosts->n, ndead = 0;
    keys_key k;
    for (size_t i = 0; i < hosts->n && me == hosts->n; i++)
        if (keys_is(hosts->kvs[i].key, KEYS_HOST, &k) && strcmp(k.host, self) == 0)
            me = i;
    if (me == hosts->n) /* not registered: this conductor has no say */
        return 0;
    for (size_t step = 1; step <= AUDIT_PEERS && step < hosts->n; step++) {
        const etcd_kv *h = &hosts->kvs[(me + step) % hosts->n];
        char key[KEYS_SIZE];
        keys_alive mark;
        if (!keys_is(h->key, KEYS_HOST, &k) || !h->lease)
            continue;
        const etcd_kv *m = etcd_kvs_get(alive, keys_alive_key(key, k.host));
        /* Nothing to judge by: no mark; one of another lease; one older than the
         * host's registration (a conductor that writes no marks took over the
         * lease of one that did: registering rewrites /hosts/, a mark follows). */
        if (!m || m->lease != h->lease || m->mod_revision < h->mod_revision ||
            keys_alive_decode(m->value, m->value_len, &mark, NULL) < 0)
            continue;
        if (mark.term >= term)
            continue;
        audit_dead *d = &dead[ndead++];
        snprintf(d->host, sizeof d->host, "%s", k.host);
        d->lease = h->lease;
        d->marked = mark.term;
    }
    return ndead;
}

void audit_run(audit *a, etcd *e, const char *self, int64_t self_marked, int64_t now_ms)
{
    etcd_kvs hosts = {0}, alive = {0};
    audit_dead dead[AUDIT_PEERS];
    err_t err;
    if (!a->due_term || now_ms < a->due_ms)
        return;
    if (now_ms >= a->give_up_ms) {
        log_warn("etcd term %lld: no audit of the other hosts (%s); their leases expire by "
                 "themselves", (long long)a->due_term,
                 self_marked < a->due_term ? "this host could not mark the term" : "etcd unread");
        a->due_term = 0;
        return;
    }
    /* Marks that could not be written prove nothing: unless this host's own went
     * through (etcd takes writes), the others' are not judged. */
    if (self_marked < a->due_term)
        return;
    if (etcd_get_prefix(e, KEYS_HOSTS, &hosts, &err) < 0 ||
        etcd_get_prefix(e, KEYS_ALIVES, &alive, &err) < 0)
        goto out; /* tried again after the next renewal */
    size_t n = audit_pick(&hosts, &alive, self, a->due_term, dead);
    for (size_t i = 0; i < n; i++) {
        if (etcd_lease_revoke(e, dead[i].lease, &err) < 0) {
            /* most likely another conductor's audit revoked it first */
            log_info("host %s: %s", dead[i].host, err.msg);
            continue;
        }
        log_warn("host %s: no renewal of its lease since etcd elected a new leader (term %lld, "
                 "its last in term %lld), for a lease TTL: lease revoked, its instances move",
                 dead[i].host, (long long)a->due_term, dead[i].marked);
    }
    a->due_term = 0;
out:
    etcd_kvs_free(&hosts);
    etcd_kvs_free(&alive);
}
