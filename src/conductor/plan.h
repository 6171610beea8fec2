/* plan.h - the conductor's planner: what to do to make the containers on this
 * host match the manifests. Pure logic, no I/O: tests/unit/test_plan.c drives it.
 *
 * Inputs are the manifests (valid or not), which of their instances the scheduler
 * placed on this host, and the containers the engine has with Dokkaa's labels; the
 * output is a list of actions. The rules:
 *   - instance i of a valid manifest, i < scale, placed here, must exist as
 *     container names_container(app, name, i) and run, carrying the hash its
 *     placement wants (want[i]; "" takes any, and a new one is made from the
 *     manifest): the revision of target[i];
 *   - a container of another hash is replaced in the order target[i]'s manifest
 *     says: stop-first removes it and creates the new one; start-first creates the
 *     new revision beside it as names_next's container, and once that one is ready
 *     (health.h) promotes it: the old one is drained and removed, the next one
 *     renamed to the instance's name. A next container of a hash no longer wanted,
 *     or of an instance not placed here, goes; one that failed stays until the
 *     scheduler decides (its status says why);
 *   - a container whose manifest is gone, whose instance is >= scale, or whose
 *     instance is no longer placed here, goes, unless it is draining (handed off
 *     to another host that does not run it yet);
 *   - a container whose manifest is invalid is left alone: a typo in an update
 *     must not take down what runs (the status reports the error instead). */
#ifndef DOKKAA_PLAN_H
#define DOKKAA_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "dokkaa/manifest.h"

typedef struct plan_spec {
    char app[64];
    char name[64];
    bool valid;
    manifest m;        /* when valid */
    bool *here;        /* here[i]: instance i is placed on this host (m.scale entries,
                        * or NULL: none is) */
    bool *draining;    /* draining[i]: instance i moves away from this host, which
                        * keeps its container until the new one runs (or NULL) */
    char (*want)[17];  /* want[i]: the hash its placement asks for, "" any (or NULL) */
    const struct plan_spec **target; /* target[i]: the spec of want[i]'s revision,
                        * NULL for this one (or NULL) */
    char error[sizeof(((err_t *)0)->msg)]; /* when not */
} plan_spec;

enum plan_state { PLAN_RUNNING, PLAN_STOPPED, PLAN_RESTARTING };

typedef struct plan_container {
    char *id;
    char *cname;        /* the container's name, without the leading '/' */
    char app[64];
    char name[64];
    int instance;
    char hash[17];
    enum plan_state state;
    bool next;          /* named names_next's: a start-first rollout's new revision */
    bool ready;         /* next: healthy, may take over (health.h) */
} plan_container;

enum plan_verb {
    PLAN_CREATE,      /* the instance's container, of spec */
    PLAN_CREATE_NEXT, /* its next container, of spec, beside the running one */
    PLAN_START,
    PLAN_REPLACE,     /* stop-first: remove container, create the instance of spec */
    PLAN_PROMOTE,     /* drain and remove container (if any), rename next */
    PLAN_REMOVE,
};

typedef struct plan_action {
    enum plan_verb verb;
    const plan_spec *spec;           /* all but REMOVE: the revision to run */
    int instance;                    /* all but REMOVE */
    const plan_container *container; /* START, REPLACE, REMOVE; PROMOTE: the old one */
    const plan_container *next;      /* PROMOTE */
} plan_action;

/* Fill *actions (allocated; free it) with what to do, removals first so that
 * a scale-down frees resources before a create needs them. specs must be sorted
 * by app then name (as an etcd range returns them); containers in any order. */
int plan_make(const plan_spec *specs, size_t nspecs, const plan_container *containers,
              size_t ncontainers, plan_action **actions, size_t *nactions);

/* The spec of (app, name), or NULL. */
const plan_spec *plan_find_spec(const plan_spec *specs, size_t nspecs, const char *app,
                                const char *name);

/* The spec of (app, name)'s revision hash: the valid manifest's of specs if it has
 * that hash, else the one of revisions (other kept revisions' manifests), or NULL. */
const plan_spec *plan_revision(const plan_spec *specs, size_t nspecs, const plan_spec *revisions,
                               size_t nrevisions, const char *app, const char *name,
                               const char *hash);

/* The key under which the conductor records why a next container of revision hash
 * failed ("<next name>@<hash>"): a failure of one revision must not speak for the
 * next one. Any other failure is recorded under the container's name. */
void plan_failure_key(char *buf, size_t size, const char *app, const char *name, int instance,
                      const char *hash);

/* Whether a failure recorded under key still speaks for something on this host: a
 * container here, or an instance placed here (its container's name, or its next
 * container's of the manifest's revision or of the one its placement wants). The
 * conductor forgets every other failure after reporting it, so that the set never
 * holds more than what this host runs and is asked to run. */
bool plan_failure_current(const plan_spec *specs, size_t nspecs,
                          const plan_container *containers, size_t ncontainers,
                          const char *key);

/* The container named cname, or NULL. */
const plan_container *plan_find_container(const plan_container *containers, size_t n,
                                          const char *cname);

#endif
