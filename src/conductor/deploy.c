/* deploy.c - the rollouts' records in etcd: what rollout.c decides, written.
 *
 * One txn per manifest and step, fenced on the leadership like every placement
 * write, holds the rollout record and the revisions it touches:
 *   - a new revision is kept under /revisions/<app>/<name>/<n> with the manifest as
 *     written and who wrote it (the author record, while its hash is the
 *     manifest's; else "etcd"); the oldest beyond KEYS_REVISIONS_KEPT goes;
 *   - a revision whose rollout ended gets its outcome and reason;
 *   - an automatic rollback writes the stable revision's manifest back (compared
 *     with the manifest's mod revision: a user's write in between wins), as a new
 *     revision marked rollback, and says in the author record that Dokkaa wrote it.
 * Placements are leader.c's to write. A txn that fails changes nothing; the next
 * pass decides again from what etcd holds, so a new leader carries on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dokkaa/log.h"
#include "reconcile.h"
#include "rollout.h"

#define DEPLOY_OPS 8

/* The kept revisions of spec, decoded; *max their highest number. */
typedef struct deploy_kept {
    keys_revision *revs;
    size_t n;
    int max;
} deploy_kept;

static void deploy_kept_free(deploy_kept *k)
{
    for (size_t i = 0; i < k->n; i++)
        keys_revision_free(&k->revs[i]);
    free(k->revs);
}

static int deploy_read(etcd *e, const plan_spec *spec, deploy_kept *k, err_t *err)
{
    char prefix[KEYS_SIZE];
    etcd_kvs kvs;
    memset(k, 0, sizeof *k);
    if (etcd_get_prefix(e, keys_revisions_prefix(prefix, spec->app, spec->name), &kvs, err) < 0)
        return -1;
    k->revs = calloc(kvs.n + 1, sizeof *k->revs);
    for (size_t i = 0; k->revs && i < kvs.n; i++) {
        keys_key key;
        if (!keys_is(kvs.kvs[i].key, KEYS_REVISION, &key) ||
            keys_revision_decode(kvs.kvs[i].value, kvs.kvs[i].value_len, &k->revs[k->n], NULL) < 0)
            continue; /* not ours to fix: it ages out */
        k->revs[k->n].revision = key.revision; /* the key's number is the one that counts */
        if (key.revision > k->max)
            k->max = key.revision;
        k->n++;
    }
    etcd_kvs_free(&kvs);
    return k->revs ? 0 : err_set(err, ERR_SYS, "out of memory");
}

static keys_revision *deploy_find(deploy_kept *k, int revision)
{
    for (size_t i = 0; i < k->n; i++)
        if (k->revs[i].revision == revision)
            return &k->revs[i];
    return NULL;
}

/* The newest kept revision of hash, or NULL. */
static keys_revision *deploy_newest(deploy_kept *k, const char *hash)
{
    keys_revision *best = NULL;
    for (size_t i = 0; i < k->n; i++)
        if (strcmp(k->revs[i].hash, hash) == 0 && (!best || k->revs[i].revision > best->revision))
            best = &k->revs[i];
    return best;
}

/* The ops of one txn; the strings they point to live here until it is sent. */
typedef struct deploy_txn {
    etcd_op ops[DEPLOY_OPS + KEYS_REVISIONS_KEPT];
    char keys[DEPLOY_OPS + KEYS_REVISIONS_KEPT][KEYS_SIZE];
    char *values[DEPLOY_OPS + KEYS_REVISIONS_KEPT];
    size_t n;
    bool oom;
} deploy_txn;

static char *deploy_key(deploy_txn *t)
{
    return t->keys[t->n];
}

/* Add a put of value (taken over; NULL is out of memory) at deploy_key(t). */
static void deploy_put(deploy_txn *t, char *value)
{
    if (!value) {
        t->oom = true;
        return;
    }
    t->values[t->n] = value;
    t->ops[t->n] = (etcd_op){.type = ETCD_OP_PUT, .key = t->keys[t->n], .value = value};
    t->n++;
}

static void deploy_delete(deploy_txn *t)
{
    t->ops[t->n] = (etcd_op){.type = ETCD_OP_DELETE, .key = t->keys[t->n]};
    t->n++;
}

static void deploy_now(char at[KEYS_TIME_SIZE])
{
    time_t now = time(NULL);
    struct tm tm;
    strftime(at, KEYS_TIME_SIZE, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
}

/* Keep a new revision: number, manifest text, by whom; and let the oldest go. */
static void deploy_keep(deploy_txn *t, const plan_spec *spec, deploy_kept *k, int number,
                        const char *hash, const char *text, const char *by, const char *reason)
{
    keys_revision rev = {.revision = number, .outcome = KEYS_OUTCOME_ROLLING,
                         .manifest = (char *)text};
    snprintf(rev.hash, sizeof rev.hash, "%s", hash);
    snprintf(rev.by, sizeof rev.by, "%s", by);
    snprintf(rev.reason, sizeof rev.reason, "%s", reason);
    deploy_now(rev.at);
    keys_revision_key(deploy_key(t), spec->app, spec->name, number);
    deploy_put(t, keys_revision_encode(&rev));
    for (size_t i = 0; i < k->n && t->n < DEPLOY_OPS + KEYS_REVISIONS_KEPT - 1; i++)
        if (k->revs[i].revision <= number - KEYS_REVISIONS_KEPT) {
            keys_revision_key(deploy_key(t), spec->app, spec->name, k->revs[i].revision);
            deploy_delete(t);
            k->revs[i].revision = 0; /* gone: not updated below */
        }
}

/* Record the ended revision's outcome, if it is still kept. */
static void deploy_outcome(deploy_txn *t, const plan_spec *spec, deploy_kept *k, int revision,
                           enum keys_outcome outcome, const char *reason)
{
    keys_revision *rev = revision ? deploy_find(k, revision) : NULL;
    if (!rev)
        return;
    rev->outcome = outcome;
    snprintf(rev->reason, sizeof rev->reason, "%s", outcome == KEYS_OUTCOME_ROLLED_OUT ? "" : reason);
    keys_revision_key(deploy_key(t), spec->app, spec->name, revision);
    deploy_put(t, keys_revision_encode(rev));
}

/* Turn a failed rollout into the rollback's: the stable revision's manifest back,
 * as a new revision. Without the stable revision kept, the rollout fails instead. */
static void deploy_rollback(deploy_txn *t, const plan_spec *spec, deploy_kept *k,
                            rollout_step *st, long now)
{
    keys_revision *stable = deploy_newest(k, st->rec.stable);
    int failed = st->rec.revision;
    char by[KEYS_BY_SIZE], reason[KEYS_ERROR_SIZE];
    if (!stable) {
        st->rec.state = st->outcome = KEYS_OUTCOME_FAILED;
        st->rollback = false;
        log_warn("rollout of %s/%s revision %d failed, and revision %s to go back to is not "
                 "kept: %s", spec->app, spec->name, failed, st->rec.stable, st->rec.reason);
        return;
    }
    snprintf(by, sizeof by, "dokkaa: automatic rollback of revision %d", failed);
    snprintf(reason, sizeof reason, "rollback of revision %d: %.960s", failed, st->rec.reason);
    log_warn("rollout of %s/%s revision %d failed, rolling back to revision %d: %s", spec->app,
             spec->name, failed, stable->revision, st->rec.reason);

    keys_author author;
    memset(&author, 0, sizeof author);
    snprintf(author.by, sizeof author.by, "%s", by);
    snprintf(author.hash, sizeof author.hash, "%s", stable->hash);
    keys_manifest_key(deploy_key(t), spec->app, spec->name);
    deploy_put(t, strdup(stable->manifest));
    keys_author_key(deploy_key(t), spec->app, spec->name);
    deploy_put(t, keys_author_encode(&author));

    keys_rollout next = {.revision = k->max + 1, .state = KEYS_OUTCOME_ROLLING, .rollback = true,
                         .total = spec->m.scale, .since = now};
    snprintf(next.hash, sizeof next.hash, "%s", stable->hash);
    snprintf(next.stable, sizeof next.stable, "%s", stable->hash);
    snprintf(next.reason, sizeof next.reason, "%s", reason);
    deploy_outcome(t, spec, k, failed, KEYS_OUTCOME_ROLLED_BACK, st->rec.reason);
    deploy_keep(t, spec, k, next.revision, stable->hash, stable->manifest, by, reason);
    st->rec = next;
}

int deploy_apply(etcd *e, int64_t lease, const plan_spec *spec, const reconcile_meta *meta,
                 rollout_step *st, long now)
{
    etcd_cmp cmps[2] = {{.key = KEYS_LEADER_KEY, .target = ETCD_CMP_LEASE, .result = ETCD_EQUAL,
                         .number = lease}};
    char manifest_key[KEYS_SIZE];
    deploy_txn t = {.n = 0};
    deploy_kept k = {0};
    size_t ncmps = 1;
    bool ok = false;
    err_t err = {0};
    int rc = -1;

    if (!st->write)
        return 0;
    if ((st->new_revision || st->ended || st->rollback) && deploy_read(e, spec, &k, &err) < 0)
        goto out;
    /* Every record here is about the manifest as read: written only while it is still
     * that one, so that a late write neither undoes a newer change (a rollback) nor
     * brings back the records of a manifest deleted meanwhile. */
    if (meta->mod_revision > 0)
        cmps[ncmps++] = (etcd_cmp){.key = keys_manifest_key(manifest_key, spec->app, spec->name),
                                   .target = ETCD_CMP_MOD, .result = ETCD_EQUAL,
                                   .number = meta->mod_revision};
    if (st->rollback)
        deploy_rollback(&t, spec, &k, st, now);
    if (!st->rollback) {
        deploy_outcome(&t, spec, &k, st->ended, st->outcome, st->rec.reason);
        if (st->new_revision && meta->text) {
            bool known = meta->has_author && strcmp(meta->author.hash, spec->m.hash) == 0;
            if (st->rec.revision <= k.max) /* leftovers of an earlier manifest of that name */
                st->rec.revision = k.max + 1;
            deploy_keep(&t, spec, &k, st->rec.revision, spec->m.hash, meta->text,
                        known ? meta->author.by : "etcd", "");
            log_info("%s/%s: revision %d (%s), by %s: rolling out", spec->app, spec->name,
                     st->rec.revision, spec->m.hash, known ? meta->author.by : "etcd");
        }
    }
    keys_rollout_key(deploy_key(&t), spec->app, spec->name);
    deploy_put(&t, keys_rollout_encode(&st->rec));
    if (t.oom) {
        err_set(&err, ERR_SYS, "out of memory");
        goto out;
    }
    if (etcd_txn(e, cmps, ncmps, t.ops, t.n, NULL, 0, &ok, &err) < 0)
        goto out;
    if (!ok) {
        err_set(&err, ERR_CONFLICT, "no longer the leader, or the manifest changed");
        goto out;
    }
    if (st->ended && !st->rollback)
        log_info("%s/%s: revision %d %s%s%s", spec->app, spec->name, st->ended,
                 keys_outcome_name(st->outcome), *st->rec.reason ? ": " : "", st->rec.reason);
    rc = 0;
out:
    if (rc < 0)
        log_warn("rollout of %s/%s: not written: %s", spec->app, spec->name, err.msg);
    for (size_t i = 0; i < t.n; i++)
        free(t.values[i]);
    deploy_kept_free(&k);
    return rc;
}
