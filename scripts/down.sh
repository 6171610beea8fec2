#!/usr/bin/env bash
# make down: stop and remove everything `make up` started, and the containers the
# local cluster ran: the multi-host cluster (dokkaacfg down) if there is one, and
# the single host. etcd and dockerd are stopped only if `make up` started them.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

state=${DOKKAA_STATE:-/var/lib/dokkaa/local}
bin=${DOKKAA_BIN:-build/src}
if [ -e /var/lib/dokkaa/cluster ] && [ -x "$bin/dokkaacfg" ]; then
    "$bin/dokkaacfg" down
fi
for name in builder ambassador conductor; do
    dk_stop "$state/$name.pid"
done
if dk_docker_ok; then
    ids=$(docker ps -aq --filter label=dokkaa.cluster=dokkaa)
    [ -n "$ids" ] && docker rm -f $ids >/dev/null && dk_log "removed $(echo $ids | wc -w) containers"
fi
dk_stop "$state/etcd/etcd.pid"
dk_stop "$state/dockerd.pid" 30
rm -rf "$state"
rmdir /var/lib/dokkaa 2>/dev/null # the cluster's own state dir, if nothing else is left
dk_log "down"
