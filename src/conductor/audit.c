/* audit.c - after etcd elects a new leader, revoke the leases of the hosts that
 * have not renewed since (audit.h says why that is safe, and when). */
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "dokkaa/log.h"

bool audit_saw_term(audit *a, int64_t term, int64_t now_ms, int lease_ttl)
{
    bool scheduled = false;
    if (term <= a->term)
        return false;
    if (a->term) { /* a new leader: not the first answer of this conductor's life */
        a->due_term = term;
        a->due_ms = now_ms + lease_ttl * 1000LL - AUDIT_ELECTION_MS + 2 * AUDIT_HEARTBEAT_MS;
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
        /* no mark, or one of another lease: nothing to judge by */
        if (!m || m->lease != h->lease || keys_alive_decode(m->value, m->value_len, &mark, NULL) < 0)
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

void audit_run(audit *a, etcd *e, const char *self, int64_t now_ms)
{
    etcd_kvs hosts = {0}, alive = {0};
    audit_dead dead[AUDIT_PEERS];
    err_t err;
    if (!a->due_term || now_ms < a->due_ms)
        return;
    if (etcd_get_prefix(e, KEYS_HOSTS, &hosts, &err) < 0 ||
        etcd_get_prefix(e, KEYS_ALIVES, &alive, &err) < 0) {
        if (now_ms >= a->give_up_ms) {
            log_warn("audit after etcd's election (term %lld): %s; given up",
                     (long long)a->due_term, err.msg);
            a->due_term = 0;
        }
        goto out;
    }
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
