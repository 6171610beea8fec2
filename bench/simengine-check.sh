#!/usr/bin/env bash
# bench/simengine-check.sh - does the real dokkaa-conductor run a cluster on
# dokkaa-simengine, the SIMULATED Docker Engine API of bench/scale.sh?
#
#   bench/simengine-check.sh        (HOSTS=3 SCALE=20 SIM_BIN=build by default)
#
# A private etcd on 127.0.0.1:27379, HOSTS simulated hosts (a simengine and a real
# conductor each, bench/sim.sh), then: a manifest with scale SCALE and one service
# under /apps/simcheck/web/manifest; SCALE instances must be announced under
# /services/simcheck/web/ and run on every host (spread); then the manifest is
# deleted, and no announcement, status or container may remain. Prints each step
# with its time; exits non-zero on the first failure. Stops everything it started
# (by pid), also on failure; SIM_KEEP=1 keeps the logs.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. bench/sim.sh
HOSTS=${HOSTS:-3}
SCALE=${SCALE:-20}
SIM_CLUSTER=simcheck

trap 'sim_teardown' EXIT
trap 'exit 130' INT TERM

step() { printf '%-58s %6.2f s\n' "$1" "$(echo "$EPOCHREALTIME - $T0" | bc)"; }
fail() {
    echo "FAILED: $*"
    local d
    for d in "$SIM_ROOT"/s*; do
        [ -e "$d/conductor.log" ] && echo "--- $d/conductor.log (tail)" && tail -n 15 "$d/conductor.log"
    done
    exit 1
}
# The containers engine s<I> holds (all, of this cluster), as the conductor lists them.
engine_count() {
    curl -sf --max-time 5 --unix-socket "$SIM_ROOT/s$1/docker.sock" -G \
        --data-urlencode "filters={\"label\":[\"dokkaa.cluster=$SIM_CLUSTER\"]}" \
        'http://docker/v1.41/containers/json?all=1' | jq -e length
}

T0=$EPOCHREALTIME
sim_setup || fail "etcd"
step "etcd on $SIM_ETCD"
for i in $(seq 1 "$HOSTS"); do sim_start_host "$i" || fail "host s$i"; done
dk_wait 30 "$HOSTS hosts to register" sim_has /hosts/ "$HOSTS" || fail "hosts"
step "$HOSTS hosts registered (simengine + conductor each)"

sim_etcdctl put /apps/simcheck/web/manifest \
    "{\"image\": \"dockerfile/nginx\", \"scale\": $SCALE, \"services\": {\"web\": 80}}" >/dev/null ||
    fail "the manifest's put"
T0=$EPOCHREALTIME
dk_wait 60 "$SCALE instances announced" sim_has /services/simcheck/web/ "$SCALE" || fail "announce"
step "$SCALE instances announced under /services/simcheck/web/"
dk_wait 30 "$SCALE running statuses" \
    sh -c "[ \$(ETCDCTL_API=3 etcdctl --endpoints=$SIM_ETCD get --prefix --print-value-only /status/simcheck/web/ | grep -c '\"state\":\"running\"') = $SCALE ]" ||
    fail "statuses"
step "$SCALE statuses running"
total=0
for i in $(seq 1 "$HOSTS"); do
    n=$(engine_count "$i") || fail "simengine s$i does not answer"
    echo "  s$i: $n containers"
    [ "$n" -gt 0 ] || fail "s$i runs nothing: the instances are not spread"
    total=$((total + n))
done
[ "$total" = "$SCALE" ] || fail "the engines hold $total containers, not $SCALE"
sim_etcdctl get --prefix /services/simcheck/web/ | sed -n '1,2p' | sed 's/^/  /'

sim_etcdctl del /apps/simcheck/web/manifest >/dev/null || fail "the manifest's delete"
T0=$EPOCHREALTIME
dk_wait 60 "the announcements to go" sim_has /services/simcheck/ 0 || fail "unannounce"
step "manifest deleted: no announcement left"
dk_wait 30 "the statuses to go" sim_has /status/simcheck/ 0 || fail "statuses stay"
for i in $(seq 1 "$HOSTS"); do
    dk_wait 30 "s$i's containers to go" sh -c "[ \"\$(curl -sf --unix-socket $SIM_ROOT/s$i/docker.sock 'http://docker/v1.41/containers/json?all=1' | jq length)\" = 0 ]" ||
        fail "s$i keeps containers"
done
step "no status, no container left on any engine"
echo "ok: the conductor ran $SCALE instances on $HOSTS simulated engines and removed them"
