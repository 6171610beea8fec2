# bench/sim.sh - simulated hosts for the scale benchmarks (sourced by
# bench/simengine-check.sh and bench/scale.sh): a private etcd, and per host a
# dokkaa-simengine (a SIMULATION of the Docker Engine API, bench/simengine.c) with a
# real dokkaa-conductor pointed at it. Everything runs on 127.0.0.1; everything
# started is recorded by pid under $SIM_ROOT and stopped by sim_teardown.
#
#   SIM_BIN     where the programs are (default build, what `make` builds: src/ and bench/ under it)
#   SIM_ETCD_PORT  etcd's client port (default 27379; the peer port is the next)
#   SIM_CLUSTER    the cluster name the conductors label containers with
#   SIM_ENGINE     the simengine binary (default $SIM_BIN/bench/dokkaa-simengine; an
#                  ASan build, say), SIM_ENGINE_WRAP a command to run it under
#                  ("valgrind --leak-check=full --error-exitcode=99", word-split)

. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

SIM_BIN=${SIM_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build}
SIM_ETCD_PORT=${SIM_ETCD_PORT:-27379}
SIM_ETCD=http://127.0.0.1:$SIM_ETCD_PORT
SIM_CLUSTER=${SIM_CLUSTER:-simbench}
SIM_ENGINE=${SIM_ENGINE:-$SIM_BIN/bench/dokkaa-simengine}
SIM_ENGINE_WRAP=${SIM_ENGINE_WRAP:-}
SIM_ROOT=

sim_etcdctl() { ETCDCTL_API=3 etcdctl --endpoints="$SIM_ETCD" "$@"; }

# sim_setup: the root directory and etcd.
sim_setup() {
    SIM_ROOT=$(mktemp -d /tmp/dokkaa-sim.XXXXXX) || return 1
    [ -x "$SIM_ENGINE" ] && [ -x "$SIM_BIN/src/dokkaa-conductor" ] ||
        { dk_log "build first: cmake --build ${SIM_BIN#$PWD/} (no dokkaa-simengine or dokkaa-conductor)"; return 1; }
    dk_start_etcd "$SIM_ROOT/etcd" "$SIM_ETCD_PORT" $((SIM_ETCD_PORT + 1))
}

# sim_start_host I: host s<I>, its simengine on $SIM_ROOT/s<I>/docker.sock and its
# conductor (extra conductor flags in $SIM_CONDUCTOR_FLAGS). Does not wait.
sim_start_host() {
    local d=$SIM_ROOT/s$1
    mkdir -p "$d"
    dk_start "$d/simengine.pid" "$d/simengine.log" $SIM_ENGINE_WRAP "$SIM_ENGINE" --socket "$d/docker.sock"
    dk_wait 10 "simengine s$1" test -S "$d/docker.sock" || return 1
    dk_start "$d/conductor.pid" "$d/conductor.log" "$SIM_BIN/src/dokkaa-conductor" --host-id "s$1" \
        --host-ip 127.0.0.1 --etcd "$SIM_ETCD" --docker "unix://$d/docker.sock" \
        --cluster "$SIM_CLUSTER" --lease-ttl 5 ${SIM_CONDUCTOR_FLAGS:-}
}

# sim_kill_host I: the host dies: kill -9 its conductor and its simengine (its
# containers, records in the simengine, die with it).
sim_kill_host() {
    local d=$SIM_ROOT/s$1 f
    for f in "$d/conductor.pid" "$d/simengine.pid"; do
        [ -s "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null
        dk_stop "$f" 5
    done
}

# sim_count PREFIX: how many keys under PREFIX (which ends in '/': the range ends at
# the same string with '0', the character after '/'); etcd's count only, a
# linearizable range. Prints nothing and fails when etcd does not answer.
sim_count() {
    local key end
    key=$(printf '%s' "$1" | base64 -w0) end=$(printf '%s0' "${1%/}" | base64 -w0)
    curl -sf --max-time 5 -XPOST "$SIM_ETCD/v3/kv/range" \
        -d "{\"key\":\"$key\",\"range_end\":\"$end\",\"count_only\":true}" | jq -er '.count // "0"'
}

# sim_has PREFIX N: PREFIX has N keys (for dk_wait, which polls it every 0.1 s).
sim_has() { [ "$(sim_count "$1")" = "$2" ]; }

# sim_teardown: stop every conductor, then every simengine, then etcd (by pid);
# remove $SIM_ROOT unless SIM_KEEP is set (its logs then stay for a look).
sim_teardown() {
    [ -n "$SIM_ROOT" ] && [ -d "$SIM_ROOT" ] || return 0
    local f
    for f in "$SIM_ROOT"/s*/conductor.pid; do [ -e "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null; done
    for f in "$SIM_ROOT"/s*/conductor.pid; do [ -e "$f" ] && dk_stop "$f" 10; done
    for f in "$SIM_ROOT"/s*/simengine.pid; do [ -e "$f" ] && dk_stop "$f" 5; done
    dk_stop "$SIM_ROOT/etcd/etcd.pid" 10
    if [ -n "${SIM_KEEP:-}" ]; then dk_log "kept $SIM_ROOT"; else rm -rf "$SIM_ROOT"; fi
    SIM_ROOT=
}
