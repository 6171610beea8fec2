/* rollout_wait.c - set and rollback wait until what they wrote has rolled out
 * (api.h, cfg_rollout).
 *
 * GET /api/v1/apps/APP/NAME/revisions every 500 ms. First the scheduler takes the
 * change: the rollout record's hash becomes the written manifest's (at once when
 * the hash did not change: the same content, or a scale). Then each batch's counts
 * are printed as they change, until the record says how it ended; or the record
 * moves on to another revision, and the written one's own record says why
 * (rolled back, superseded, failed). */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "dokkaa/sleep.h"

#define RW_POLL_MS 500
#define RW_REQUEST_MS 10000 /* one poll; the API is retried for RW_UNREACH_S */
#define RW_TAKE_S 30        /* for a scheduler to take the change */
#define RW_UNREACH_S 30     /* how long the API may not answer */
#define RW_SCALE_GRACE_S 30 /* after update.deadline, for a rolled-out revision's new instances */
#define RW_DEADLINE 60      /* update.deadline's default (manifest.h) */

typedef struct rw_state {
    int rev;            /* the written revision once known, else 0 */
    int u, f, n;        /* the counts printed last; u -1: none yet */
    double take_by;     /* the limit for a scheduler to take it */
    double scale_by;    /* 0, or the limit for a rolled-out revision's missing instances */
    double unreach;     /* 0, or since when the API has not answered */
} rw_state;

static double rw_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int rw_int(const json_t *obj, const char *field)
{
    return (int)json_integer_value(json_object_get(obj, field));
}

static int rw_get(const cfg_rollout *r, json_t **v, err_t *err)
{
    api_req req = {.method = "GET", .timeout_ms = RW_REQUEST_MS};
    api_target_path(r->t, "/revisions", req.path, sizeof req.path);
    return api_send(r->a, &req, v, err);
}

/* The entry of revision n, or NULL. */
static json_t *rw_find(const json_t *revs, int n)
{
    size_t i;
    json_t *e;
    json_array_foreach(revs, i, e)
        if (rw_int(e, "revision") == n)
            return e;
    return NULL;
}

/* The newest revision with hash whose number is within (above, below); NULL if none. */
static json_t *rw_newest(const json_t *revs, const char *hash, int above, int below)
{
    size_t i;
    json_t *e, *best = NULL;
    json_array_foreach(revs, i, e) {
        int n = rw_int(e, "revision");
        if (n > above && n < below && strcmp(api_str(e, "hash"), hash) == 0 &&
            (!best || n > rw_int(best, "revision")))
            best = e;
    }
    return best;
}

/* The first revision after n, or NULL. */
static json_t *rw_next(const json_t *revs, int n)
{
    size_t i;
    json_t *e, *best = NULL;
    json_array_foreach(revs, i, e) {
        int m = rw_int(e, "revision");
        if (m > n && (!best || m < rw_int(best, "revision")))
            best = e;
    }
    return best;
}

int cfg_rollout_deadline(const json_t *manifest)
{
    json_t *d = json_object_get(json_object_get(manifest, "update"), "deadline");
    return json_is_integer(d) && json_integer_value(d) > 0 && json_integer_value(d) <= 3600
               ? (int)json_integer_value(d)
               : RW_DEADLINE;
}

void cfg_rollout_begin(cfg_rollout *r, api *a, const api_target *t, FILE *out)
{
    json_t *v = NULL, *e;
    err_t err;
    size_t i;
    *r = (cfg_rollout){.a = a, .t = t, .deadline = RW_DEADLINE, .baseline = -1, .out = out};
    int rc = rw_get(r, &v, &err);
    if (rc == API_OK) {
        r->baseline = rw_int(json_object_get(v, "rollout"), "revision");
        json_array_foreach(json_object_get(v, "revisions"), i, e)
            if (rw_int(e, "revision") > r->baseline)
                r->baseline = rw_int(e, "revision");
    } else if (rc == API_NOTFOUND && !strstr(err.msg, "no such API path")) {
        r->baseline = 0; /* no such manifest yet: no history either */
    }
    json_decref(v);
}

/* A line of r->out, at once (a person or a script is watching). */
static void rw_say(const cfg_rollout *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rw_say(const cfg_rollout *r, const char *fmt, ...)
{
    va_list ap;
    fprintf(r->out, "%s/%s: ", r->t->app, r->t->name);
    va_start(ap, fmt);
    vfprintf(r->out, fmt, ap);
    va_end(ap);
    fputc('\n', r->out);
    fflush(r->out);
}

static void rw_progress(const cfg_rollout *r, rw_state *s, const json_t *ro)
{
    int u = rw_int(ro, "updated"), f = rw_int(ro, "failed"), n = rw_int(ro, "total");
    if (u == s->u && f == s->f && n == s->n)
        return;
    s->u = u, s->f = f, s->n = n;
    rw_say(r, "revision %d: %d/%d updated, %d failed", s->rev, u, n, f);
}

/* ": reason", or "" without one. */
static const char *rw_colon(const char *reason)
{
    return *reason ? ": " : "";
}

/* The rollout record is still the written revision's: how it stands. */
static int rw_current(const cfg_rollout *r, rw_state *s, const json_t *ro, err_t *err)
{
    const char *state = api_str(ro, "state"), *reason = api_str(ro, "reason");
    int u = rw_int(ro, "updated"), n = rw_int(ro, "total");
    if (strcmp(state, "rolled-out") == 0 && u >= n) {
        rw_say(r, "revision %d rolled out: %d/%d healthy", s->rev, u, n);
        return API_OK;
    }
    if (strcmp(state, "paused") == 0 || strcmp(state, "failed") == 0)
        return err_set(err, ERR_REMOTE, "%s/%s: revision %d %s%s%s", r->t->app, r->t->name, s->rev,
                       state, rw_colon(reason), reason),
               API_ROLLOUT_FAILED;
    rw_progress(r, s, ro);
    if (strcmp(state, "rolled-out") != 0)
        return API_GO_ON; /* rolling */
    /* Rolled out, but a scale-up's new instances are still starting. */
    if (!s->scale_by)
        s->scale_by = rw_now() + r->deadline + RW_SCALE_GRACE_S;
    if (rw_now() < s->scale_by)
        return API_GO_ON;
    return err_set(err, ERR_REMOTE, "%s/%s: revision %d rolled out, but %d/%d healthy after %d s",
                   r->t->app, r->t->name, s->rev, u, n, r->deadline + RW_SCALE_GRACE_S),
           API_ROLLOUT_FAILED;
}

/* The rollout record moved on to another revision: the written one's outcome. */
static int rw_moved(const cfg_rollout *r, const rw_state *s, const json_t *ro, const json_t *revs,
                    err_t *err)
{
    const json_t *mine = rw_find(revs, s->rev);
    const char *app = r->t->app, *name = r->t->name;
    if (!mine)
        mine = rw_newest(revs, r->hash, r->baseline < 0 ? 0 : r->baseline, INT_MAX);
    if (!mine)
        return err_set(err, ERR_NOTFOUND,
                       "%s/%s: revision %d is no longer in the history (dokkaacfg history %s/%s)",
                       app, name, s->rev, app, name),
               API_FAIL;
    const char *outcome = api_str(mine, "outcome"), *reason = api_str(mine, "reason");
    const json_t *next = rw_next(revs, s->rev);
    int rev = rw_int(mine, "revision"), after = next ? rw_int(next, "revision") : rw_int(ro, "revision");
    if (!*reason && json_is_true(json_object_get(ro, "rollback")))
        reason = api_str(ro, "reason");
    if (strcmp(outcome, "rolled-back") == 0) {
        const json_t *same = next ? rw_newest(revs, api_str(next, "hash"), 0, rev) : NULL;
        char to[64] = "";
        if (next && same)
            snprintf(to, sizeof to, " to revision %d (the same as %d)", after,
                     rw_int(same, "revision"));
        else if (next)
            snprintf(to, sizeof to, " to revision %d", after);
        return err_set(err, ERR_REMOTE, "%s/%s: revision %d failed and was rolled back%s%s%s", app,
                       name, rev, to, rw_colon(reason), reason),
               API_ROLLOUT_FAILED;
    }
    if (strcmp(outcome, "superseded") == 0)
        return err_set(err, ERR_REMOTE, "%s/%s: revision %d was superseded by revision %d", app,
                       name, rev, after),
               API_SUPERSEDED;
    if (strcmp(outcome, "failed") == 0 || strcmp(outcome, "paused") == 0)
        return err_set(err, ERR_REMOTE, "%s/%s: revision %d %s%s%s", app, name, rev, outcome,
                       rw_colon(reason), reason),
               API_ROLLOUT_FAILED;
    if (strcmp(outcome, "rolled-out") == 0) {
        rw_say(r, "revision %d rolled out (revision %d has come since)", rev, after);
        return API_OK;
    }
    return API_GO_ON; /* "rolling": its record is not written yet */
}

/* One answer of GET .../revisions: API_GO_ON to poll again, else the end. */
static int rw_step(cfg_rollout *r, rw_state *s, const json_t *v, err_t *err)
{
    const json_t *ro = json_object_get(v, "rollout"), *revs = json_object_get(v, "revisions");
    bool mine = json_is_object(ro) && strcmp(api_str(ro, "hash"), r->hash) == 0;
    if (!s->rev) {
        const json_t *e = r->baseline < 0 ? NULL
                                          : rw_newest(revs, r->hash, r->baseline, INT_MAX);
        if (mine)
            s->rev = rw_int(ro, "revision");
        else if (e)
            s->rev = rw_int(e, "revision"); /* taken, and already over */
        else if (rw_now() >= s->take_by)
            return err_set(err, ERR_UNAVAIL,
                           "%s/%s: no scheduler took the change in %d s; is a conductor running? "
                           "(dokkaacfg status)",
                           r->t->app, r->t->name, RW_TAKE_S),
                   API_FAIL;
        else
            return API_GO_ON;
    }
    if (r->deadline <= 0) { /* its manifest's, from the history */
        const json_t *e = rw_find(revs, s->rev);
        r->deadline = cfg_rollout_deadline(json_object_get(e ? e : rw_newest(revs, r->hash, 0, INT_MAX),
                                                           "manifest"));
    }
    if (mine && rw_int(ro, "revision") == s->rev) {
        const char *state = api_str(ro, "state");
        if (strcmp(state, "rolled-back") != 0 && strcmp(state, "superseded") != 0)
            return rw_current(r, s, ro, err);
    }
    return rw_moved(r, s, ro, revs, err);
}

/* A request failed: poll again while that may pass, else the end. */
static int rw_failed(const cfg_rollout *r, rw_state *s, int rc, err_t *err)
{
    char msg[sizeof err->msg];
    snprintf(msg, sizeof msg, "%s", err->msg);
    if (rc == API_NOTFOUND && strstr(msg, "no such API path"))
        return err_set(err, ERR_REMOTE,
                       "%s/%s: written, but this builder does not tell rollouts (older than this "
                       "dokkaacfg?): use --detach",
                       r->t->app, r->t->name),
               API_FAIL;
    if (rc == API_NOTFOUND && !s->rev && rw_now() < s->take_by)
        return API_GO_ON; /* a builder whose copy of etcd lags a moment */
    if (rc != API_FAIL)
        return rc; /* its message says what, as the API told it */
    if (!s->unreach)
        s->unreach = rw_now();
    if (rw_now() - s->unreach < RW_UNREACH_S)
        return API_GO_ON;
    return err_set(err, ERR_UNAVAIL, "%s/%s: no answer from the API for %d s, the rollout goes on: %.700s",
                   r->t->app, r->t->name, RW_UNREACH_S, msg),
           API_FAIL;
}

static int rw_interrupted(const cfg_rollout *r, const rw_state *s, err_t *err)
{
    const char *app = r->t->app, *name = r->t->name;
    if (s->rev)
        err_set(err, ERR_CANCELLED,
                "%s/%s: interrupted; revision %d goes on rolling out in the cluster "
                "(dokkaacfg history %s/%s)",
                app, name, s->rev, app, name);
    else
        err_set(err, ERR_CANCELLED,
                "%s/%s: interrupted; the change is written and rolls out in the cluster "
                "(dokkaacfg history %s/%s)",
                app, name, app, name);
    return API_INTERRUPTED;
}

int cfg_rollout_wait(cfg_rollout *r, err_t *err)
{
    rw_state s = {.u = -1, .take_by = rw_now() + RW_TAKE_S};
    api_catch_signals();
    for (;;) {
        json_t *v = NULL;
        int rc = rw_get(r, &v, err);
        if (rc == API_OK) {
            s.unreach = 0;
            rc = rw_step(r, &s, v, err);
        } else {
            rc = rw_failed(r, &s, rc, err);
        }
        json_decref(v);
        if (rc != API_GO_ON)
            return rc;
        if (api_interrupted() || !sleep_ms(RW_POLL_MS, api_stop_flag()))
            return rw_interrupted(r, &s, err);
    }
}
