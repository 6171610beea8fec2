#!/usr/bin/env bash
# bench/converge.sh - how fast a manifest becomes running containers, on one host,
# against the same number of parallel `docker run -d` on the same engine.
#
#   flock /tmp/dokkaa-suites.lock bench/converge.sh
#
# with the defaults DOKKAA_BIN=build/src NS="10 30 100" ROUNDS=3 POLL=0.1
# TIMEOUT=300. Every figure it prints comes from that one command.
#
# For each N of NS, ROUNDS rounds of two runs (which goes first alternates from
# round to round, so that neither always finds the engine just cleaned up after):
#   - docker: N `docker run -d --name bench-raw-<i> -p 127.0.0.1::80
#     dockerfile/nginx` started at once, in the background; the time from their
#     start to N containers running. Then every `docker run` must have exited 0 and
#     N bench-raw containers must still run, else the round has failed.
#   - dokkaa: the PUT of a manifest with scale N (through the builder, as a user
#     would) to N instances announced under /services/bench/web/. The conductor
#     announces an instance once its container runs with its port published on
#     127.0.0.1, as docker's side does above.
# Both sides are polled the same way: one loop, every POLL seconds, runs one
# `curl | jq` against the side's API and nothing else: docker's side asks the
# engine GET /containers/json for running bench-raw containers (jq length), Dokkaa's
# asks etcd's JSON gateway for the count of /services/bench/web/ (count_only, a
# linearizable range; jq .count). The clock stops when a poll first sees N, so each
# figure is late by the same up to POLL plus one poll.
# Prints every round, then per N each side's time and the ratio Dokkaa / docker
# (computed within a round; lower is better, target <= 1.05, issue 13) as ranges over the
# rounds that did not fail. A failed round (either side) is printed as failed and
# kept out of the ranges; the script then exits non-zero. Last, the memory of the
# three daemons (target RSS < 8 MB each).
#
# Uses the e2e harness (tests/e2e/lib.sh) for its own etcd and daemons, and removes
# everything it made, also on failure. Needs a Docker Engine: when none answers, it
# starts one as scripts/check.sh does and stops it, by pid, at the end. It loads
# both cores for about 9 minutes with the defaults (2026-12-03, 2 cores): take the
# lock above.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. tests/e2e/lib.sh
E2E_BIN=${DOKKAA_BIN:-$PWD/build/src}
NS=${NS:-10 30 100}
ROUNDS=${ROUNDS:-3}
POLL=${POLL:-0.1}
TIMEOUT=${TIMEOUT:-300}
DOCKER_SOCK=${DOCKER_SOCK:-/var/run/docker.sock}

command -v bc >/dev/null || { DK_PACKAGES=(bc); dk_need_packages; }
command -v jq >/dev/null || { DK_PACKAGES=(jq); dk_need_packages; }

DIR=$(mktemp -d /tmp/dokkaa-bench-converge.XXXXXX)
RAW_PIDS=()
cleanup() {
    trap - EXIT INT TERM
    local pid
    for pid in "${RAW_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    ! dk_docker_ok || raw_clean >/dev/null 2>&1
    if [ -n "${E2E_ROOT:-}" ]; then
        e2e_delete_app bench 2>/dev/null
        e2e_teardown
    fi
    dk_stop "$DIR/dockerd.pid" 30 # there only if this script started the engine
    rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

dk_docker_ok || dk_start_dockerd "$DIR" || exit 1
e2e_setup || exit 1
images/build.sh dockerfile/nginx >/dev/null || dk_die "images/build.sh dockerfile/nginx failed"

# ---- the polls: one curl | jq each, nothing else --------------------------------------

RAW_FILTER='{"name": ["bench-raw-"], "status": ["running"]}'
ANNOUNCED=$(jq -nc '{key: ("/services/bench/web/" | @base64), range_end: ("/services/bench/web0" | @base64),
                     count_only: true}')
count_raw() {
    curl -sf --unix-socket "$DOCKER_SOCK" -G --data-urlencode "filters=$RAW_FILTER" \
        http://docker/containers/json | jq length
}
count_announced() {
    curl -sf -XPOST "$E2E_ETCD/v3/kv/range" -d "$ANNOUNCED" | jq -r '.count // "0"'
}

# poll_until N COUNT_FN -> the time ($EPOCHREALTIME) of the first poll that counts N;
# fails after TIMEOUT s. A poll that fails counts as not yet.
poll_until() {
    local n=$1 fn=$2 deadline got
    deadline=$(( ${EPOCHREALTIME%.*} + TIMEOUT ))
    while :; do
        got=$("$fn") || got=
        [ "$got" = "$n" ] && { echo "$EPOCHREALTIME"; return 0; }
        [ "${EPOCHREALTIME%.*}" -lt "$deadline" ] || { dk_log "$fn: $got, not $n, after ${TIMEOUT}s"; return 1; }
        sleep "$POLL"
    done
}

# ---- one run of each side: N -> SECS, or a failure -----------------------------------
# Not in a subshell: the docker run clients must be this shell's children, to wait
# for each and to be stopped by pid on an interrupt.

raw_once() {
    local n=$1 t0 t1 i pid failed=0
    SECS='' RAW_PIDS=()
    t0=$EPOCHREALTIME
    for i in $(seq 1 "$n"); do
        docker run -d --name "bench-raw-$i" -p 127.0.0.1::80 dockerfile/nginx >/dev/null 2>"$DIR/raw-$i.err" &
        RAW_PIDS+=($!)
    done
    t1=$(poll_until "$n" count_raw) || failed=1
    [ "$failed" = 0 ] || for pid in "${RAW_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    i=0
    for pid in "${RAW_PIDS[@]}"; do
        i=$((i + 1))
        wait "$pid" || { dk_log "docker run bench-raw-$i: exit $?: $(head -c 300 "$DIR/raw-$i.err")"; failed=1; }
    done
    RAW_PIDS=()
    [ "$failed" = 1 ] || [ "$(count_raw)" = "$n" ] || { dk_log "fewer than $n bench-raw containers run"; failed=1; }
    raw_clean || failed=1
    [ "$failed" = 0 ] && SECS=$(echo "$t1 - $t0" | bc)
}
raw_gone() { e2e_no_containers name=bench-raw-; }
raw_clean() {
    local ids
    mapfile -t ids < <(docker ps -aq --filter name=bench-raw-)
    [ ${#ids[@]} = 0 ] || docker rm -f "${ids[@]}" >/dev/null
    dk_wait 60 "the bench-raw containers to be removed" raw_gone
}

dokkaa_once() {
    local n=$1 t0 t1 failed=0
    SECS=''
    t0=$EPOCHREALTIME
    e2e_set bench web "{\"image\": \"dockerfile/nginx\", \"scale\": $n, \"services\": {\"web\": 80}}" ||
        { dk_log "the PUT of bench/web failed"; return 1; }
    t1=$(poll_until "$n" count_announced) || failed=1
    dokkaa_clean || failed=1
    [ "$failed" = 0 ] && SECS=$(echo "$t1 - $t0" | bc)
}
dokkaa_gone() { e2e_no_containers label=dokkaa.app=bench && e2e_none /services/bench/ /status/bench/; }
dokkaa_clean() {
    e2e_delete_app bench || { dk_log "the DELETE of app bench failed"; return 1; }
    dk_wait 120 "app bench to be removed" dokkaa_gone
}

# ---- the rounds ----------------------------------------------------------------------

span() { # FORMAT NUMBER... -> "low-high" (one number when they agree), "-" for none
    [ $# -gt 1 ] || { echo "-"; return; }
    local fmt=$1; shift
    printf '%s\n' "$@" | sort -g | awk -v f="$fmt" 'NR == 1 {lo = $1} {hi = $1}
        END {a = sprintf(f, lo); b = sprintf(f, hi); print (a == b ? a : a "-" b)}'
}
one_round() { # N ROUND -> D and R, the seconds of each side, or a failure
    local n=$1 round=$2
    D='' R=''
    if [ $((round % 2)) = 1 ]; then
        raw_once "$n" && R=$SECS && dokkaa_once "$n" && D=$SECS
    else
        dokkaa_once "$n" && D=$SECS && raw_once "$n" && R=$SECS
    fi
    [ -n "$D" ] && [ -n "$R" ]
}

echo "converge on one host: dokkaa (PUT to N announced) against N parallel docker run -d (to N running);"
echo "both polled every ${POLL}s by one curl | jq, on the engine's API and on etcd's; $ROUNDS rounds"
FAILED=0 SUMMARY=()
for n in $NS; do
    ds=() rs=() ratios=() failed=0
    for round in $(seq 1 "$ROUNDS"); do
        if one_round "$n" "$round"; then
            d=$D r=$R
            ds+=("$d") rs+=("$r") ratios+=("$(echo "$d / $r" | bc -l)")
            printf 'scale %-4d round %d: dokkaa %6.2f s, docker %6.2f s, ratio %.2fx\n' "$n" "$round" "$d" "$r" \
                "${ratios[-1]}"
        else
            printf 'scale %-4d round %d: FAILED (see above), not counted\n' "$n" "$round"
            failed=$((failed + 1)) FAILED=1
        fi
    done
    SUMMARY+=("$(printf '%-10s %14s %14s %14s %8s' "scale $n" "$(span '%.2f' "${ds[@]}")" \
        "$(span '%.2f' "${rs[@]}")" "$(span '%.2fx' "${ratios[@]}")" "$failed/$ROUNDS")")
done
echo
printf '%-10s %14s %14s %14s %8s\n' "" "dokkaa s" "docker s" "ratio" "failed"
printf '%s\n' "${SUMMARY[@]}"
echo "(ratio = dokkaa / docker run within a round, lower is better, target <= 1.05; ranges over the rounds"
echo " that did not fail)"

# RSS counts the shared libraries' pages in full in each process; PSS shares them
# out between the processes that map them; USS is what the process alone holds.
mem_kb() { # NAME -> "RSS PSS USS"
    awk '/^Rss:/ {r=$2} /^Pss:/ {p=$2} /^Private_(Clean|Dirty):/ {u+=$2} END {print r, p, u}' \
        "/proc/$(cat "$E2E_ROOT/$1.pid")/smaps_rollup"
}
echo
printf '%-12s %9s %9s %9s   (after the runs; target RSS < 8192 kB)\n' daemon "RSS kB" "PSS kB" "USS kB"
for d in conductor ambassador builder; do
    read -r rss pss uss <<<"$(mem_kb "$d")"
    printf '%-12s %9d %9d %9d\n' "$d" "$rss" "$pss" "$uss"
done
[ "$FAILED" = 0 ]
