# tests/e2e/lib.sh - the end-to-end harness: a real etcd and the three daemons of
# one Dokkaa host, against the real Docker Engine, with helpers for the tests.
#
# The suite owns everything it starts: an etcd on 127.0.0.1:$E2E_ETCD_PORT with its
# data under $E2E_ROOT, the daemons (pids in $E2E_ROOT), and the containers of cluster
# $E2E_CLUSTER. e2e_teardown removes all of it, also when a test fails, and fails
# if a test left an app behind, or if anything of the suite outlived it.

. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

E2E_BIN=${DOKKAA_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/src}
E2E_CLUSTER=dokkaa-e2e
E2E_ETCD_PORT=${E2E_ETCD_PORT:-22379}
E2E_ETCD=http://127.0.0.1:$E2E_ETCD_PORT
E2E_BUILDER=http://127.0.0.1:4001
E2E_LINK_PORTS=30000-30999
E2E_HOST=e2e1
# A command to run the daemons under, e.g. "valgrind --leak-check=full" (word-split).
E2E_WRAP=${E2E_WRAP:-}

e2e_etcdctl() { ETCDCTL_API=3 etcdctl --endpoints="$E2E_ETCD" "$@"; }

# ---- the host's daemons ----------------------------------------------------------

e2e_start_conductor() { # extra flags may follow
    dk_start "$E2E_ROOT/conductor.pid" "$E2E_ROOT/conductor.log" $E2E_WRAP "$E2E_BIN/dokkaa-conductor" \
        --host-id "$E2E_HOST" --etcd "$E2E_ETCD" --cluster "$E2E_CLUSTER" \
        --link-ports "$E2E_LINK_PORTS" --lease-ttl 5 ${E2E_CONDUCTOR_FLAGS:-} "$@"
    dk_wait 20 "the conductor to register" \
        sh -c "ETCDCTL_API=3 etcdctl --endpoints=$E2E_ETCD get --print-value-only /hosts/$E2E_HOST | grep -q addr"
}
e2e_stop_conductor() { dk_stop "$E2E_ROOT/conductor.pid"; }

e2e_start_etcd() { dk_start_etcd "$E2E_ROOT/etcd" "$E2E_ETCD_PORT" $((E2E_ETCD_PORT + 1)); }

e2e_setup() {
    E2E_ROOT=$(mktemp -d /tmp/dokkaa-e2e.XXXXXX)
    # The sanitizers' reports of every program the suite runs (a build with
    # DOKKAA_SANITIZE), the CLI's included, go to files of their own there.
    mkdir "$E2E_ROOT/reports"
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$E2E_ROOT/reports/sanitizer:log_exe_name=1"
    UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$E2E_ROOT/reports/sanitizer:log_exe_name=1"
    export E2E_ROOT ASAN_OPTIONS UBSAN_OPTIONS
    if curl -s --max-time 1 http://127.0.0.1:4001/ >/dev/null 2>&1 \
        || [ -n "$(docker ps -aq --filter name=dummy---)" ]; then
        dk_log "a Dokkaa is already running on this machine (port 4001 or dummy---* containers): run make down first"
        return 1
    fi
    E2E_OWNS_CLUSTER=1 # from here on, the cluster's containers are ours to remove
    e2e_start_etcd || return 1
    e2e_start_conductor || return 1
    dk_start "$E2E_ROOT/ambassador.pid" "$E2E_ROOT/ambassador.log" $E2E_WRAP "$E2E_BIN/dokkaa-ambassador" \
        --etcd "$E2E_ETCD" --cluster "$E2E_CLUSTER"
    dk_start "$E2E_ROOT/builder.pid" "$E2E_ROOT/builder.log" $E2E_WRAP "$E2E_BIN/dokkaa-builder" \
        --etcd "$E2E_ETCD" --port 4001 --host-id "$E2E_HOST"
    dk_wait 20 "the builder" curl -sf "$E2E_BUILDER/healthz" &&
        dk_wait 20 "the ambassador" grep -q "links listen on" "$E2E_ROOT/ambassador.log" &&
        E2E_RUNNING=1 # the tests may run: at the end, what they left is looked for
}

# What the tests left behind, one line each: every test removes its apps (and so,
# through the conductor, their containers, statuses, announcements, link ports and
# revisions) and its tokens. Says so when etcd or docker could not be asked.
e2e_left_by_tests() {
    local p out
    for p in /apps/ /status/ /services/ /links/ /revisions/ /tokens/; do
        out=$(e2e_etcdctl get --prefix --keys-only "$p") || { echo "etcd: $p could not be read"; continue; }
        grep . <<<"$out" | sed 's/^/etcd key: /'
    done
    out=$(docker ps -a --filter "label=dokkaa.cluster=$E2E_CLUSTER" --format '{{.Names}}') ||
        { echo "docker could not be asked for containers"; return 0; }
    grep . <<<"$out" | sed 's/^/container: /'
    return 0
}
e2e_nothing_left_by_tests() { [ -z "$(e2e_left_by_tests)" ]; }

# Processes of valgrind (E2E_WRAP) in LOG that never printed their ERROR SUMMARY:
# killed before valgrind could check them, so they passed unchecked.
e2e_valgrind_unfinished() {
    local pid
    for pid in $(sed -n 's/^==\([0-9]*\)== Memcheck, a memory error detector.*/\1/p' "$1"); do
        grep -q "^==$pid== ERROR SUMMARY: " "$1" || echo "$pid"
    done
}

# Stop everything, and fail, saying what, if
#   - a test left an app, a container or a key behind (looked for first, while the
#     daemons still run: what the last test deleted may still be going),
#   - a daemon, etcd or a container of the cluster outlived the teardown,
#   - a program wrote a sanitizer report, a daemon's log has a valgrind report, or
#     a daemon under valgrind was killed before its summary.
e2e_teardown() {
    local rc=0 ids name pid pids= f left
    if [ -n "${E2E_RUNNING:-}" ] &&
        ! dk_wait 30 "the tests' apps, containers and keys to be gone" e2e_nothing_left_by_tests; then
        echo "left behind by the tests:"; e2e_left_by_tests | head -40
        rc=1
    fi
    for name in builder ambassador conductor; do
        pids+=" $(cat "$E2E_ROOT/$name.pid" 2>/dev/null)"
        dk_stop "$E2E_ROOT/$name.pid" "${E2E_WRAP:+60}" # valgrind checks for leaks as it exits
    done
    if [ -n "${E2E_OWNS_CLUSTER:-}" ]; then
        ids=$(docker ps -aq --filter "label=dokkaa.cluster=$E2E_CLUSTER")
        [ -z "$ids" ] || docker rm -f $ids >/dev/null
        ids=$(docker ps -aq --filter "label=dokkaa.cluster=$E2E_CLUSTER") || ids="(docker could not be asked)"
        [ -z "$ids" ] || { echo "containers of $E2E_CLUSTER outlived the teardown: $ids"; rc=1; }
    fi
    pids+=" $(cat "$E2E_ROOT/etcd/etcd.pid" 2>/dev/null)"
    dk_stop "$E2E_ROOT/etcd/etcd.pid"
    for pid in $pids; do
        ! kill -0 "$pid" 2>/dev/null || { echo "still running: $(ps -o pid=,args= -p "$pid")"; rc=1; }
    done
    local report='ERROR: \(AddressSanitizer\|LeakSanitizer\)\|runtime error:\|ERROR SUMMARY: [1-9]\|definitely lost: [1-9]'
    if grep -l "$report" "$E2E_ROOT"/*.log 2>/dev/null; then
        grep -h -B30 -A5 "$report" "$E2E_ROOT"/*.log | head -120
        rc=1
    fi
    for f in "$E2E_ROOT"/*.log; do
        [ -n "${E2E_WRAP:-}" ] && [ -e "$f" ] || continue
        left=$(e2e_valgrind_unfinished "$f")
        [ -z "$left" ] || { echo "${f##*/}: valgrind ended before its summary for pid $left (killed?)"; rc=1; }
    done
    for f in "$E2E_ROOT"/reports/sanitizer.*; do
        [ -e "$f" ] || continue
        echo "--- a sanitizer report, ${f##*/}:"; head -40 "$f"
        rc=1
    done
    [ -n "${E2E_KEEP:-}" ] && echo "kept $E2E_ROOT" || rm -rf "$E2E_ROOT"
    return $rc
}

# ---- what a user would look at ---------------------------------------------------

# e2e_set APP NAME JSON: set a manifest through the builder, as a user would.
e2e_set() {
    curl -sf -XPUT --data-urlencode value="$3" "$E2E_BUILDER/v2/keys/apps/$1/$2/manifest" >/dev/null
}
e2e_delete_app() { curl -sf -XDELETE "$E2E_BUILDER/v2/keys/apps/$1?recursive=true" >/dev/null; }

# Containers of APP/NAME: all, or only running ones.
e2e_containers() {
    docker ps -a --filter "label=dokkaa.cluster=$E2E_CLUSTER" --filter "label=dokkaa.app=$1" \
        --filter "label=dokkaa.name=$2" --format '{{.Names}}' | sort
}
# Counts fail (print nothing) when docker or etcd cannot be asked: "none" must be
# what they said, not that they could not say (dk_count).
e2e_running() {
    dk_count . docker ps --filter "label=dokkaa.cluster=$E2E_CLUSTER" --filter "label=dokkaa.app=$1" \
        --filter "label=dokkaa.name=$2" --filter status=running --format '{{.Names}}'
}
e2e_count_keys() { dk_count . e2e_etcdctl get --prefix --keys-only "$1"; }
# e2e_none PREFIX...: etcd answers, with no key under any PREFIX.
e2e_none() {
    local p
    for p; do [ "$(e2e_count_keys "$p")" = 0 ] || return 1; done
}
# e2e_no_containers FILTER...: docker answers, with no container (running or not)
# matching the filters (docker ps --filter).
e2e_no_containers() {
    local f args=()
    for f; do args+=(--filter "$f"); done
    [ "$(dk_count . docker ps -aq "${args[@]}")" = 0 ]
}

# e2e_converged APP NAME N: N running, N containers in all, N statuses "running",
# and (for a manifest with one service) N service announcements.
e2e_converged() {
    local app=$1 name=$2 n=$3 service=${4:-}
    [ "$(e2e_running "$app" "$name")" = "$n" ] || return 1
    [ "$(dk_count . e2e_containers "$app" "$name")" = "$n" ] || return 1
    [ "$(dk_count '"state":"running"' e2e_etcdctl get --prefix --print-value-only "/status/$app/$name/")" = "$n" ] || return 1
    [ "$(e2e_count_keys "/status/$app/$name/")" = "$n" ] || return 1
    [ -z "$service" ] || [ "$(e2e_count_keys "/services/$app/$service/")" = "$n" ]
}

e2e_wait_converged() { # APP NAME N [SERVICE]
    dk_wait 60 "$1/$2 to run $3 instances" e2e_converged "$@"
}

fail() { echo "FAIL: $*" >&2; return 1; }
assert_eq() { [ "$1" = "$2" ] || fail "${3:-values differ}: expected '$1', got '$2'"; }
