/* view.h - the API's answers as JSON, built from a store snapshot.
 *
 * Pure functions of what etcd holds (DESIGN.md's key layout): no I/O, so the
 * shapes openapi.json promises are built in one place and can be tested on a
 * snapshot made by hand. Every function returns a new reference, NULL only when
 * out of memory. */
#ifndef DOKKAA_BUILDER_VIEW_H
#define DOKKAA_BUILDER_VIEW_H

#include <jansson.h>
#include <time.h>

#include "dokkaa/keys.h"
#include "store.h"

/* [{"app", "manifests": [summary...]}] for every app, or for app alone when not NULL. */
json_t *view_apps(const store_snap *snap, const char *app);
/* One manifest's summary with its "instances"; NULL when there is no such manifest
 * (*missing set) or out of memory. */
json_t *view_manifest(const store_snap *snap, const char *app, const char *name, time_t now,
                      bool *missing);
/* The instances of app/name, of every manifest of app (name NULL), or of every
 * app (both NULL), ordered by app, name and instance number. */
json_t *view_instances(const store_snap *snap, const char *app, const char *name, time_t now);
json_t *view_hosts(const store_snap *snap);
json_t *view_services(const store_snap *snap);
json_t *view_links(const store_snap *snap);
json_t *view_tokens(const store_snap *snap);
/* {"app", "name", "rollout", "revisions": [...]}: the kept revisions of app/name,
 * newest first, and the current one's rollout (null without a record); NULL when
 * there is neither a manifest nor a revision (*missing set) or out of memory. */
json_t *view_revisions(const store_snap *snap, const char *app, const char *name, bool *missing);

/* The revisions in kv[0..n-1] (a range of /revisions/<app>/<name>/) that decode,
 * newest first (by number: etcd orders keys as text, "10" before "9"); *count gets
 * how many. NULL when none or out of memory; free with view_kept_free. */
keys_revision *view_kept(const etcd_kv *kv, size_t n, size_t *count);
void view_kept_free(keys_revision *kept, size_t count);

#endif
