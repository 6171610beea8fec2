/* revisions.c - a manifest's history, and who wrote the manifest.
 *
 *   GET  /api/v1/apps/<app>/<name>/revisions  the kept revisions, newest first, and
 *                                             how the current one's rollout stands
 *   POST /api/v1/apps/<app>/<name>/rollback   write a kept revision's manifest back
 *
 * The elected scheduler records every change of a manifest as a revision
 * (/revisions/<app>/<name>/<n>, the last KEYS_REVISIONS_KEPT) and names who made it
 * from the author record beside the manifest (/apps/<app>/<name>/author), which
 * every manifest write of this builder carries in the same txn (revisions_write_*),
 * so that the two cannot disagree. The scheduler believes the record only while its
 * hash is the manifest's: a write around the builder is by "etcd".
 *
 * A rollback is such a write, and no more: the old manifest goes back to its key,
 * and the scheduler rolls it out as a new revision, like any change. It is a
 * compare-and-swap on the manifest as read, so it never undoes a change it did not
 * see. Revisions are read from etcd for it, not from the store: what it writes back
 * depends on them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "dokkaa/keys.h"
#include "dokkaa/log.h"
#include "view.h"

int revisions_write_prepare(revisions_write *w, const builder_req *r, const char *app,
                            const char *name, const char *text, const char *what)
{
    keys_author author = {0};
    manifest m;
    memset(w, 0, sizeof *w);
    keys_manifest_key(w->key, app, name);
    keys_author_key(w->author_key, app, name);
    if (manifest_parse(text, strlen(text), &m, NULL) == 0) {
        snprintf(author.by, sizeof author.by, "%s%s%s", r->who, what ? ": " : "", what ? what : "");
        memcpy(author.hash, m.hash, sizeof author.hash);
        manifest_free(&m);
        if (!(w->author = keys_author_encode(&author)))
            return -1;
    }
    w->ops[0] = (etcd_op){.type = ETCD_OP_PUT, .key = w->key, .value = text};
    w->ops[1] = w->author ? (etcd_op){.type = ETCD_OP_PUT, .key = w->author_key, .value = w->author}
                          : (etcd_op){.type = ETCD_OP_DELETE, .key = w->author_key};
    return 0;
}

void revisions_write_clear(revisions_write *w)
{
    free(w->author);
    w->author = NULL;
}

enum MHD_Result revisions_get(builder_req *r, const char *app, const char *name)
{
    bool missing;
    store_snap *snap = store_acquire(r->b->store);
    json_t *body = view_revisions(snap, app, name, &missing);
    store_release(snap);
    if (missing)
        return reply_error(r, 404, "no manifest %s/%s, and no revisions of it", app, name);
    return reply_json(r, 200, body, 0);
}

/* The hash of a manifest's text; false when it does not validate (err says why). */
static bool revisions_hash(const char *text, char hash[KEYS_HASH_SIZE], err_t *err)
{
    manifest m;
    if (!text || manifest_parse(text, strlen(text), &m, err) < 0) {
        if (!text)
            err_set(err, ERR_INVALID, "no manifest");
        *hash = '\0';
        return false;
    }
    memcpy(hash, m.hash, KEYS_HASH_SIZE);
    manifest_free(&m);
    return true;
}

/* The kept revision to go back to: number want, or without one (0) the newest that
 * rolled out and is another manifest than the current one (hash current). NULL
 * with the refusal queued. */
static const keys_revision *revisions_target(builder_req *r, const char *app, const char *name,
                                             const keys_revision *kept, size_t n, int want,
                                             const char *current, char hash[KEYS_HASH_SIZE],
                                             enum MHD_Result *ret)
{
    err_t err;
    const keys_revision *target = NULL;
    if (want == 0) {
        for (size_t i = 0; i < n && !target; i++)
            if (kept[i].outcome == KEYS_OUTCOME_ROLLED_OUT &&
                revisions_hash(kept[i].manifest, hash, &err) && strcmp(hash, current) != 0)
                target = &kept[i];
        if (!target)
            *ret = reply_error(r, 409, "no revision of %s/%s to roll back to: none of the %zu "
                                       "kept rolled out with another manifest than the current "
                                       "one; name one with {\"revision\": N}", app, name, n);
        return target;
    }
    for (size_t i = 0; i < n && !target; i++)
        if (kept[i].revision == want)
            target = &kept[i];
    if (!target) {
        if (n)
            *ret = reply_error(r, 404, "revision %d of %s/%s is not kept (kept: %d..%d)", want,
                               app, name, kept[n - 1].revision, kept[0].revision);
        else
            *ret = reply_error(r, 404, "revision %d of %s/%s is not kept (none are)", want, app,
                               name);
        return NULL;
    }
    if (!revisions_hash(target->manifest, hash, &err)) {
        *ret = reply_error(r, 409, "revision %d of %s/%s does not validate (%s); nothing was "
                                   "written", want, app, name, err.msg);
        return NULL;
    }
    if (strcmp(hash, current) == 0) {
        *ret = reply_error(r, 409, "revision %d is what %s/%s runs already", want, app, name);
        return NULL;
    }
    return target;
}

/* Write target's manifest over the one read (cur), if it is still that one. */
static enum MHD_Result revisions_write_back(builder_req *r, const char *app, const char *name,
                                           const etcd_kv *cur, const keys_revision *target,
                                           const char *hash)
{
    char what[64];
    revisions_write w;
    bool swapped;
    err_t err;
    snprintf(what, sizeof what, "rollback to revision %d", target->revision);
    if (revisions_write_prepare(&w, r, app, name, target->manifest, what) < 0)
        return reply_error(r, 500, "out of memory");
    etcd_cmp same = {.key = w.key, .target = ETCD_CMP_MOD, .result = ETCD_EQUAL,
                     .number = cur->mod_revision};
    int rc = etcd_txn(r->etcd, &same, 1, w.ops, 2, NULL, 0, &swapped, &err);
    revisions_write_clear(&w);
    if (rc < 0)
        return reply_etcd_failed(r, &err);
    if (!swapped)
        return reply_error(r, 409, "%s/%s changed while rolling back to revision %d; nothing "
                                   "was written, look at it again", app, name, target->revision);
    log_info("rolled %s/%s back to revision %d (%s)", app, name, target->revision, hash);
    int64_t revision = request_written_revision(r, cur->key);
    return reply_written(r, 202, json_pack("{s:s,s:s,s:i,s:s}", "app", app, "name", name,
                                           "revision", target->revision, "hash", hash),
                         revision);
}

enum MHD_Result revisions_rollback(builder_req *r, const char *app, const char *name, int want)
{
    char key[KEYS_SIZE], current[KEYS_HASH_SIZE], hash[KEYS_HASH_SIZE];
    etcd_kvs cur, revs;
    size_t n;
    err_t err;
    enum MHD_Result ret;

    if (!request_etcd(r, &err) || etcd_get(r->etcd, keys_manifest_key(key, app, name), &cur, &err) < 0)
        return reply_etcd_failed(r, &err);
    if (cur.n == 0) {
        etcd_kvs_free(&cur);
        return reply_error(r, 404, "no manifest %s/%s", app, name);
    }
    if (etcd_get_prefix(r->etcd, keys_revisions_prefix(key, app, name), &revs, &err) < 0) {
        etcd_kvs_free(&cur);
        return reply_etcd_failed(r, &err);
    }
    revisions_hash(cur.kvs[0].value, current, &err); /* "" when it does not validate */
    keys_revision *kept = view_kept(revs.kvs, revs.n, &n);
    etcd_kvs_free(&revs);
    const keys_revision *target = revisions_target(r, app, name, kept, n, want, current, hash, &ret);
    if (target)
        ret = revisions_write_back(r, app, name, &cur.kvs[0], target, hash);
    view_kept_free(kept, n);
    etcd_kvs_free(&cur);
    return ret;
}
