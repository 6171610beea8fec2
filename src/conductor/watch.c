/* watch.c - the conductor's ears: etcd changes (under /apps/: manifests and
 * placements; /hosts/: hosts coming and going; /cluster/: the leader; /status/, on
 * the leader only: handoffs to finish) and the engine's container events all just
 * mark the state dirty. The reconcile pass then reads everything afresh, so an
 * event lost in a reconnect costs latency, never correctness (and the periodic
 * resync bounds that latency). */
#include <jansson.h>
#include <stdio.h>

#include "conductor.h"
#include "dokkaa/docker.h"
#include "dokkaa/etcd.h"
#include "dokkaa/log.h"
#include "dokkaa/sleep.h"

static bool watch_on_etcd(void *ud, const etcd_event *events, size_t n)
{
    const watch_target *t = ud;
    (void)events, (void)n;
    if (!t->leader_only || atomic_load(&t->c->leading))
        conductor_wake(t->c);
    return true;
}

void *watch_etcd_thread(void *arg)
{
    const watch_target *t = arg;
    conductor *c = t->c;
    err_t err;
    etcd *e = etcd_new(c->etcd_endpoints, &err);
    if (!e) {
        log_error("%s", err.msg);
        return NULL;
    }
    while (!atomic_load(&c->stop)) {
        /* From "now" (0): a pass follows every (re)start of the watch anyway. */
        if (etcd_watch(e, t->prefix, 0, watch_on_etcd, (void *)t, &c->stop, NULL, &err) < 0 &&
            err.code != ERR_CANCELLED) {
            log_warn("watch %s: %s", t->prefix, err.msg);
            conductor_wake(c);
            sleep_ms(1000, &c->stop); /* before reconnecting: no busy loop */
        }
    }
    etcd_free(e);
    return NULL;
}

static bool watch_on_container(void *ud, json_t *event)
{
    (void)event;
    conductor_wake(ud);
    return true;
}

void *watch_docker_thread(void *arg)
{
    conductor *c = arg;
    err_t err;
    docker *d = docker_new(c->docker_host, &err);
    char label[128];
    snprintf(label, sizeof label, "dokkaa.cluster=%s", c->cluster);
    json_t *filters = json_pack("{s:[s],s:[s],s:[s,s,s]}", "type", "container", "label", label,
                                "event", "die", "start", "destroy");
    bool complained = false;
    while (d && !atomic_load(&c->stop)) {
        if (docker_events(d, filters, watch_on_container, c, &c->stop, &err) < 0 &&
            err.code != ERR_CANCELLED && !complained) {
            log_warn("docker events: %s (reconnecting)", err.msg);
            complained = true;
        }
        conductor_wake(c); /* events may have been missed while disconnected */
        sleep_ms(1000, &c->stop); /* before reconnecting: no busy loop */
    }
    if (!d)
        log_error("%s", err.msg);
    json_decref(filters);
    docker_free(d);
    return NULL;
}
