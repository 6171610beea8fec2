#!/usr/bin/env bash
# scripts/fuzz.sh [SECONDS [HARNESS...]] - make fuzz: build the libFuzzer harnesses
# of fuzz/ (clang, ASan+UBSan, in build-fuzz/) and run each for SECONDS (default
# $FUZZ_SECONDS, else 600) on its seed corpus, fuzz/corpus/<harness>/. Inputs that
# find new coverage go to build-fuzz/corpus/<harness>/ (not committed: copy the few
# worth keeping into the seeds by hand); a crash, a leak, a timeout or a broken
# invariant is written to build-fuzz/crashes/<harness>/ and fails the run.
# Prints the executions of each harness. SECONDS=0 runs the seeds once each (every
# regression input, nothing new). `scripts/fuzz.sh 10` is the brief run of make
# check: a regression input committed to a seed corpus fails it at once.
# Installs clang and libFuzzer (libclang-rt-14-dev) if missing.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

seconds=${1:-${FUZZ_SECONDS:-600}}
shift $(( $# > 0 ? 1 : 0 ))
[[ "$seconds" =~ ^[0-9]+$ ]] || dk_die "fuzz: SECONDS must be a whole number, got \"$seconds\""
build=${FUZZ_BUILD:-build-fuzz}
jobs=${JOBS:-$(nproc)}

dk_need_packages clang libclang-rt-14-dev
CC=clang cmake -S . -B "$build" -DDOKKAA_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null \
    || dk_die "fuzz: cmake failed"
cmake --build "$build" -j"$jobs" 2>&1 | grep -vE '^\[|^g?make(\[[0-9]+\])?: (Entering|Leaving)' ;
[ "${PIPESTATUS[0]}" = 0 ] \
    || dk_die "fuzz: the build failed"

harnesses=("$@")
if [ ${#harnesses[@]} = 0 ]; then
    for bin in "$build"/fuzz/fuzz_*; do
        [ -x "$bin" ] && harnesses+=("${bin##*/fuzz_}")
    done
fi
[ ${#harnesses[@]} -gt 0 ] || dk_die "fuzz: no harness built in $build/fuzz"

# -max_total_time=0 would mean "no limit": 0 seconds runs the seeds once instead.
if [ "$seconds" = 0 ]; then limit=(-runs=0); else limit=(-max_total_time="$seconds"); fi

# One libFuzzer dictionary per harness, made of fuzz/*.dict (libFuzzer takes one).
fuzz_dicts() {
    case $1 in
        manifest) echo json manifest ;;
        keys) echo keys ;;
        records) echo json records ;;
        table) echo json records manifest keys ;;
        etcd_*) echo json etcd ;;
        docker_events) echo json ;;
        builder) echo http json manifest keys ;;
    esac
}

printf '%-14s %14s %10s %8s  %s\n' HARNESS EXECUTIONS EXEC/S CORPUS RESULT
failed=()
total=0
for h in "${harnesses[@]}"; do
    bin=$build/fuzz/fuzz_$h seeds=fuzz/corpus/$h work=$build/corpus/$h crashes=$build/crashes/$h
    [ -x "$bin" ] || dk_die "fuzz: no harness $h (expected $bin)"
    mkdir -p "$work" "$crashes"
    [ -d "$seeds" ] || seeds=$work # a harness without seeds starts from nothing
    log=$build/fuzz-$h.log
    dict=() parts=$(fuzz_dicts "$h")
    if [ -n "$parts" ]; then
        for d in $parts; do cat "fuzz/$d.dict"; done >"$build/fuzz-$h.dict"
        dict=(-dict="$build/fuzz-$h.dict")
    fi
    # New inputs go into the first directory; the seeds are read only. A harness
    # that hangs as a whole (not one input: -timeout takes those) is killed.
    timeout -k 10 $(( seconds + 120 )) "$bin" "${limit[@]}" "${dict[@]}" -timeout=10 -rss_limit_mb=2048 \
        -max_len=8192 -print_final_stats=1 -artifact_prefix="$crashes/" "$work" "$seeds" \
        >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    size=$(find "$work" -type f | wc -l)
    if [ "$rc" = 0 ]; then
        result=ok
    else
        result="FAILED (exit $rc; log $log)"
        failed+=("$h")
    fi
    total=$(( total + ${execs:-0} ))
    printf '%-14s %14s %10s %8s  %s\n' "$h" "${execs:-?}" "${speed:-?}" "$size" "$result"
done
if [ "$seconds" = 0 ]; then each="the seeds once"; else each="${seconds}s each"; fi
echo "fuzz: ${#harnesses[@]} harnesses, $total executions, $each"
if [ ${#failed[@]} -gt 0 ]; then
    for h in "${failed[@]}"; do
        echo "--- $h: the end of $build/fuzz-$h.log"
        grep -E 'ERROR|invariant broken|SUMMARY|Test unit written|^ +#[0-9]' "$build/fuzz-$h.log" | head -25
    done
    echo "fuzz: reproduce with $build/fuzz/fuzz_<harness> <input>; a crash, once fixed, goes" \
         "into fuzz/corpus/<harness>/ as a regression input"
    exit 1
fi
