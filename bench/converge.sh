#!/usr/bin/env bash
# bench/converge.sh - how fast a manifest becomes running containers.
#
# For N = 10 and 30: the time from the PUT of a manifest with scale N to N
# containers running and announced under /services/, against N parallel
# `docker run -d` of the same image (port published the same way) on the same
# engine, in the same invocation. Prints the ratio (Dokkaa / docker run; lower is
# better, target <= 1.1), then the memory of the three daemons (target < 8 MB each).
# Uses the e2e harness for its own etcd and daemons (release build), and removes
# everything it made.
set -uo pipefail
cd "$(dirname "$0")/.."
. tests/e2e/lib.sh
E2E_BIN=${DOKKAA_BIN:-$PWD/build/src}
ROUNDS=${ROUNDS:-2}

now() { date +%s.%N; }
announced() { [ "$(e2e_count_keys "/services/bench/web/")" = "$1" ]; }
gone() { [ -z "$(docker ps -aq --filter label=dokkaa.app=bench --filter name=bench-raw)" ]; }

dokkaa_once() { # N -> seconds
    local n=$1 t0 t1
    t0=$(now)
    e2e_set bench web "{\"image\": \"dockerfile/nginx\", \"scale\": $n, \"services\": {\"web\": 80}}"
    dk_wait 300 "$n announced instances" announced "$n" || return 1
    t1=$(now)
    e2e_delete_app bench
    dk_wait 120 "bench to be removed" sh -c "[ -z \"\$(docker ps -aq --filter label=dokkaa.app=bench)\" ]"
    echo "$t1 - $t0" | bc
}

raw_once() { # N -> seconds
    local n=$1 t0 t1 i
    t0=$(now)
    for i in $(seq 1 "$n"); do
        docker run -d --name "bench-raw-$i" -p 127.0.0.1::80 dockerfile/nginx >/dev/null &
    done
    wait
    t1=$(now)
    docker rm -f $(docker ps -aq --filter name=bench-raw-) >/dev/null
    echo "$t1 - $t0" | bc
}

best() { printf '%s\n' "$@" | sort -n | head -1; }

# RSS counts the shared libraries' pages in full in each process; PSS shares them
# out between the processes that map them; USS is what the process alone holds.
mem_kb() { # NAME -> "RSS PSS USS"
    awk '/^Rss:/ {r=$2} /^Pss:/ {p=$2} /^Private_(Clean|Dirty):/ {u+=$2} END {print r, p, u}' \
        "/proc/$(cat "$E2E_ROOT/$1.pid")/smaps_rollup"
}

command -v bc >/dev/null || { DK_PACKAGES=(bc); dk_need_packages; }
e2e_setup || { e2e_teardown; exit 1; }
trap 'e2e_teardown' EXIT
images/build.sh >/dev/null

printf '%-28s %10s %10s %8s\n' "converge (best of $ROUNDS)" "dokkaa s" "docker s" "ratio"
for n in 10 30; do
    d=() r=()
    for round in $(seq 1 "$ROUNDS"); do
        r+=("$(raw_once "$n")")
        d+=("$(dokkaa_once "$n")") || exit 1
    done
    db=$(best "${d[@]}") rb=$(best "${r[@]}")
    printf '%-28s %10.2f %10.2f %7.2fx\n' "scale $n" "$db" "$rb" "$(echo "$db / $rb" | bc -l)"
done
echo
printf '%-12s %9s %9s %9s   (after the runs; target RSS < 8192 kB)\n' daemon "RSS kB" "PSS kB" "USS kB"
for d in conductor ambassador builder; do
    printf '%-12s %9d %9d %9d\n' "$d" $(mem_kb "$d")
done
