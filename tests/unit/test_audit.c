/* test_audit.c - unit tests for the conductor's audit after an etcd election
 * (src/conductor/audit.c): when it is due, and which hosts it finds dead. The
 * revocation itself, against real etcd members whose leader's host is killed, is
 * cluster test_045; a blip of that host that must move nothing, test_046. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit.h"

/* ---- when ----------------------------------------------------------------------- */

static void test_the_first_term_seen_schedules_nothing(void **state)
{
    (void)state;
    audit a = {0};
    audit_saw_term(&a, 4, 1000, 5, 1000);
    assert_int_equal(a.term, 4);
    assert_int_equal(audit_wait_ms(&a, 1000), -1);
}

/* Due a TTL after the new term was seen, less what the election took at least
 * (an election timeout, less two heartbeats for etcd's ticks). */
static void test_a_new_term_schedules_an_audit_a_ttl_less_the_election(void **state)
{
    (void)state;
    audit a = {0};
    audit_saw_term(&a, 4, 1000, 5, 1000);
    assert_false(audit_saw_term(&a, 4, 2000, 5, 1000)); /* the same term again: nothing */
    assert_int_equal(audit_wait_ms(&a, 2000), -1);
    assert_true(audit_saw_term(&a, 5, 10000, 5, 1000));
    assert_int_equal(a.due_term, 5);
    int64_t wait = 5000 - AUDIT_ELECTION_MS + 2 * AUDIT_HEARTBEAT_MS;
    assert_int_equal(audit_wait_ms(&a, 10000), wait);
    assert_int_equal(audit_wait_ms(&a, 10000 + wait + 5), 0);
    assert_false(audit_saw_term(&a, 3, 11000, 5, 1000)); /* an older term (a lagging member) */
    assert_int_equal(a.term, 5);
    assert_int_equal(audit_wait_ms(&a, 10000), wait);
}

/* A short TTL still leaves every live host two renewals to mark the new term. */
static void test_a_short_ttl_waits_two_renewals(void **state)
{
    (void)state;
    audit a = {0};
    audit_saw_term(&a, 1, 0, 2, 400);
    audit_saw_term(&a, 2, 1000, 2, 400);
    /* 1300 ms, not the 1200 that a 2 s TTL less the election would give */
    assert_int_equal(audit_wait_ms(&a, 1000), 2 * 400 + AUDIT_SLACK_MS);
}

/* ---- whom ----------------------------------------------------------------------- */

/* /hosts/<id> under lease i+1 for each id, sorted as etcd returns a range. */
typedef struct fixture {
    etcd_kv hosts[8], alive[8];
    etcd_kvs h, a;
    char keys[16][KEYS_SIZE];
    char values[8][64];
} fixture;

static void add_host(fixture *f, const char *id, int64_t lease)
{
    etcd_kv *kv = &f->hosts[f->h.n];
    kv->mod_revision = 10; /* registered before any mark: see add_mark */
    kv->key = (char *)keys_host_key(f->keys[f->h.n], id);
    kv->value = "{\"addr\":\"10.0.0.1\"}";
    kv->value_len = strlen(kv->value);
    kv->lease = lease;
    f->h.kvs = f->hosts;
    f->h.n++;
}

static void add_mark(fixture *f, const char *id, int64_t lease, const char *value)
{
    etcd_kv *kv = &f->alive[f->a.n];
    kv->key = (char *)keys_alive_key(f->keys[8 + f->a.n], id);
    snprintf(f->values[f->a.n], sizeof f->values[f->a.n], "%s", value);
    kv->value = f->values[f->a.n];
    kv->value_len = strlen(kv->value);
    kv->lease = lease;
    kv->mod_revision = 20;
    f->a.kvs = f->alive;
    f->a.n++;
}

static void test_the_host_that_did_not_renew_in_the_new_term_is_dead(void **state)
{
    (void)state;
    static fixture f;
    audit_dead dead[AUDIT_PEERS];
    memset(&f, 0, sizeof f);
    add_host(&f, "h1", 11);
    add_host(&f, "h2", 12);
    add_host(&f, "h3", 13);
    add_mark(&f, "h1", 11, "{\"term\":3}"); /* died with the leader of term 3 */
    add_mark(&f, "h2", 12, "{\"term\":4}");
    add_mark(&f, "h3", 13, "{\"term\":4}");

    assert_int_equal(audit_pick(&f.h, &f.a, "h2", 4, dead), 1); /* h2 audits h3 and h1 */
    assert_string_equal(dead[0].host, "h1");
    assert_int_equal(dead[0].lease, 11);
    assert_int_equal(dead[0].marked, 3);
    assert_int_equal(audit_pick(&f.h, &f.a, "h3", 4, dead), 1); /* h3 audits h1 and h2 */
    assert_string_equal(dead[0].host, "h1");
    /* every mark of term 4 or later: nobody */
    assert_int_equal(audit_pick(&f.h, &f.a, "h2", 3, dead), 0);
}

/* Without a mark, or with one written under another lease, or one that does not
 * decode, there is nothing to judge by: the host is left to its TTL. */
static void test_no_mark_no_verdict(void **state)
{
    (void)state;
    static fixture f;
    audit_dead dead[AUDIT_PEERS];
    memset(&f, 0, sizeof f);
    add_host(&f, "h1", 11);
    add_host(&f, "h2", 12);
    add_host(&f, "h3", 13);
    add_host(&f, "h4", 14);
    add_mark(&f, "h2", 99, "{\"term\":1}"); /* another lease's */
    add_mark(&f, "h3", 13, "{\"term\":\"1\"}");
    assert_int_equal(audit_pick(&f.h, &f.a, "h1", 4, dead), 0); /* h2, h3 */
    assert_int_equal(audit_pick(&f.h, &f.a, "h3", 4, dead), 0); /* h4 (no mark), h1 */
}

/* Each audits its AUDIT_PEERS successors, wrapping around; one not in /hosts/
 * (its own lease expired) audits nobody; a host alone has nobody to audit. */
static void test_each_audits_its_successors_only(void **state)
{
    (void)state;
    static fixture f;
    audit_dead dead[AUDIT_PEERS];
    memset(&f, 0, sizeof f);
    const char *ids[] = {"h1", "h2", "h3", "h4", "h5"};
    for (int i = 0; i < 5; i++) {
        add_host(&f, ids[i], 11 + i);
        add_mark(&f, ids[i], 11 + i, "{\"term\":2}"); /* nobody renewed in term 3 */
    }
    assert_int_equal(audit_pick(&f.h, &f.a, "h4", 3, dead), 2);
    assert_string_equal(dead[0].host, "h5");
    assert_string_equal(dead[1].host, "h1");
    assert_int_equal(audit_pick(&f.h, &f.a, "h1", 3, dead), 2);
    assert_string_equal(dead[0].host, "h2");
    assert_string_equal(dead[1].host, "h3");
    assert_int_equal(audit_pick(&f.h, &f.a, "h9", 3, dead), 0);

    memset(&f, 0, sizeof f);
    add_host(&f, "h1", 11);
    add_mark(&f, "h1", 11, "{\"term\":2}");
    assert_int_equal(audit_pick(&f.h, &f.a, "h1", 3, dead), 0);
}

/* Two hosts: each audits the other, never itself, whatever its own mark says. */
static void test_two_hosts_audit_each_other_and_never_themselves(void **state)
{
    (void)state;
    static fixture f;
    audit_dead dead[AUDIT_PEERS];
    memset(&f, 0, sizeof f);
    add_host(&f, "a", 11);
    add_host(&f, "b", 12);
    add_mark(&f, "a", 11, "{\"term\":2}");
    add_mark(&f, "b", 12, "{\"term\":2}");
    assert_int_equal(audit_pick(&f.h, &f.a, "a", 3, dead), 1);
    assert_string_equal(dead[0].host, "b");
    assert_int_equal(audit_pick(&f.h, &f.a, "b", 3, dead), 1);
    assert_string_equal(dead[0].host, "a");
}

/* A mark older than the host's /hosts/ entry was left by an earlier run: the one
 * that registered since (a conductor of a version that writes no marks, having
 * taken over the lease) has said nothing, so it is not judged. */
static void test_a_mark_older_than_the_registration_is_no_verdict(void **state)
{
    (void)state;
    static fixture f;
    audit_dead dead[AUDIT_PEERS];
    memset(&f, 0, sizeof f);
    add_host(&f, "h1", 11);
    add_host(&f, "h2", 12);
    add_mark(&f, "h1", 11, "{\"term\":2}");
    add_mark(&f, "h2", 12, "{\"term\":2}");
    f.hosts[1].mod_revision = 30; /* h2 registered again after its mark */
    assert_int_equal(audit_pick(&f.h, &f.a, "h1", 3, dead), 0);
    f.hosts[1].mod_revision = 20; /* the same revision: a mark of this registration's */
    assert_int_equal(audit_pick(&f.h, &f.a, "h1", 3, dead), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_first_term_seen_schedules_nothing),
        cmocka_unit_test(test_a_new_term_schedules_an_audit_a_ttl_less_the_election),
        cmocka_unit_test(test_a_short_ttl_waits_two_renewals),
        cmocka_unit_test(test_the_host_that_did_not_renew_in_the_new_term_is_dead),
        cmocka_unit_test(test_no_mark_no_verdict),
        cmocka_unit_test(test_each_audits_its_successors_only),
        cmocka_unit_test(test_two_hosts_audit_each_other_and_never_themselves),
        cmocka_unit_test(test_a_mark_older_than_the_registration_is_no_verdict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
