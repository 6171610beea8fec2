#!/usr/bin/env bash
# make up: a local Dokkaa on this machine.
# Installs missing Debian packages, builds, starts dockerd unless it runs already
# and builds the example images. Then, with HOSTS=N, a cluster of N hosts
# (dokkaacfg up --provider=local --scale=N); without, a single host in the root
# namespace: etcd (unless one runs), conductor, ambassador and builder in the
# background. Returns when all is ready. `make down` undoes it all.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

state=${DOKKAA_STATE:-/var/lib/dokkaa/local}
bin=${DOKKAA_BIN:-build/src}
etcd=http://127.0.0.1:2379
host_id=${HOST_ID:-local}

[ "$(id -u)" = 0 ] || dk_die "run as root: Dokkaa starts dockerd and etcd"
dk_need_packages
mkdir -p "$state"
# DOKKAA_BIN names programs built elsewhere (the tests' builds): then nothing is built.
if [ -z "${DOKKAA_BIN:-}" ]; then
    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build build -j"$(nproc)" >/dev/null \
        || dk_die "build failed (run make for the details)"
fi

if ! dk_docker_ok; then
    dk_start_dockerd "$state"
fi
if [ -z "${HOSTS:-}" ] && ! dk_etcd_healthy "$etcd"; then
    dk_log "starting etcd on 127.0.0.1:2379"
    dk_start_etcd "$state/etcd" 2379 2380
fi
dk_log "building the example images (cached after the first time)"
images/build.sh
if [ -n "${HOSTS:-}" ]; then
    exec "$bin/dokkaacfg" up --provider=local --scale="$HOSTS"
fi

start() { # start NAME CMD...: unless it already runs
    local name=$1; shift
    if dk_alive "$state/$name.pid"; then dk_log "$name already running"; return; fi
    dk_start "$state/$name.pid" "$state/$name.log" "$@"
}
start conductor "$bin/dokkaa-conductor" --host-id "$host_id" --etcd "$etcd"
start ambassador "$bin/dokkaa-ambassador" --etcd "$etcd"
start builder "$bin/dokkaa-builder" --etcd "$etcd" --port 4001 --host-id "$host_id"

dk_wait 30 "the builder on :4001" curl -sf http://127.0.0.1:4001/healthz
dk_wait 30 "the conductor to register /hosts/$host_id" \
    sh -c "ETCDCTL_API=3 etcdctl --endpoints=$etcd get --print-value-only /hosts/$host_id | grep -q addr"
dk_wait 30 "the ambassador" grep -q "links listen on" "$state/ambassador.log"
# The CLI's config (~/.config/dokkaa/config.json): this builder, an admin token.
"$bin/dokkaacfg" --etcd "$etcd" init --api http://127.0.0.1:4001
dk_log "up: builder http://127.0.0.1:4001, etcd $etcd, logs in $state/*.log"
