#!/usr/bin/env bash
# make check: every test of Dokkaa.
#   0. the structure (tests/structure): no program spells an etcd key, no call loops
#   1. unit tests (cmocka, via ctest), built plain and with ASan+UBSan
#   2. the unit tests again under valgrind (no leak, no invalid access)
#   3. the end-to-end suite (tests/e2e) against real etcd and the real Docker
#      Engine, with the daemons built with ASan+UBSan
#   4. the seed example and the link tests again, with the daemons under valgrind
#   5. the multi-host suite (tests/cluster): a local cluster of 3 hosts, each a
#      network namespace with its own dockerd and etcd member
#   6. the interfaces suite (tests/api): the REST API, the dokkaacfg app commands
#      and the web console in headless Chromium, on a local cluster of 2 hosts
#      whose daemons are built with ASan+UBSan
#   7. the Debian package (make deb), and the real-machines suite (tests/machines):
#      `dokkaacfg up --provider=ssh` on Debian 12 machines (containers with systemd,
#      sshd and their own Docker Engine), and the seed's DigitalOcean line against
#      a stand-in for DigitalOcean's API that boots such machines
# Installs what it needs; starts dockerd if none runs (and stops it afterwards).
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

[ "$(id -u)" = 0 ] || dk_die "run as root: the end-to-end tests drive dockerd"
dk_need_packages "${DK_TEST_PACKAGES[@]}"
jobs=$(nproc)
state=$(mktemp -d /tmp/dokkaa-check.XXXXXX)
cleanup() { dk_stop "$state/dockerd.pid" 30; rm -rf "$state"; }
trap cleanup EXIT

results=()
step() { # step NAME CMD...: run, remember the outcome
    local name=$1; shift
    echo "=== $name"
    if "$@"; then results+=("ok     $name"); else results+=("FAILED $name"); fi
}
build() { # build DIR [cmake args]
    local dir=$1; shift
    cmake -S . -B "$dir" "$@" >/dev/null && cmake --build "$dir" -j"$jobs" 2>&1 | grep -v '^\[' ; return "${PIPESTATUS[0]}"
}
# Every unit test ctest knows, under valgrind: the list comes from ctest, so that a
# build without tests, or a test whose binary is missing, fails rather than passes.
valgrind_units() {
    local t n=0 rc=0 tests
    tests=$(ctest --test-dir build-check --show-only=json-v1 | jq -r '.tests[].command[0]') || return 1
    [ -n "$tests" ] || { echo "valgrind: ctest lists no unit test in build-check"; return 1; }
    for t in $tests; do
        n=$((n + 1))
        valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
            --error-exitcode=99 "$t" >"$state/vg.out" 2>&1 \
            || { echo "valgrind: $t: exit $?"; tail -30 "$state/vg.out"; rc=1; }
    done
    echo "valgrind: $n unit tests run"
    return $rc
}

step "structure (keys in lib/keys.c only, no call loops)" tests/structure/run.sh
step "build (release)" build build-check -DCMAKE_BUILD_TYPE=RelWithDebInfo
step "build (ASan+UBSan)" build build-asan -DCMAKE_BUILD_TYPE=Debug -DDOKKAA_SANITIZE=ON
step "unit tests" ctest --test-dir build-check --output-on-failure --no-tests=error
step "unit tests (ASan+UBSan)" ctest --test-dir build-asan --output-on-failure --no-tests=error
step "unit tests (valgrind)" valgrind_units
step "fuzzing (each harness 10 s)" scripts/fuzz.sh 10

dk_docker_ok || dk_start_dockerd "$state"
step "example images" images/build.sh
step "end-to-end (ASan+UBSan daemons)" env DOKKAA_BIN="$PWD/build-asan/src" \
    ASAN_OPTIONS=detect_leaks=1 tests/e2e/run.sh
step "end-to-end (daemons under valgrind)" env DOKKAA_BIN="$PWD/build-check/src" \
    E2E_WRAP="valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect" \
    tests/e2e/run.sh 'test_0\|test_30\|test_61\|test_65'
step "multi-host (3 hosts)" env DOKKAA_BIN="$PWD/build-check/src" tests/cluster/run.sh
step "fault campaign (15 faults of a fixed seed, 3 hosts)" env DOKKAA_BIN="$PWD/build-check/src" \
    CHAOS_FAULTS=15 CHAOS_SEED=332601203 tests/chaos/run.sh
step "API, CLI and console (2 hosts, ASan+UBSan daemons)" env DOKKAA_BIN="$PWD/build-asan/src" \
    DOKKAA_VALGRIND_BIN="$PWD/build-check/src" tests/api/run.sh

step "Debian package (make deb)" make deb
step "real machines: ssh and DigitalOcean providers" env DOKKAA_BIN="$PWD/build-asan/src" \
    ASAN_OPTIONS=detect_leaks=1 \
    DOKKAA_DEB="$(ls -t build/dokkaa_*_amd64.deb 2>/dev/null | head -1)" tests/machines/run.sh

echo "=== summary"
printf '%s\n' "${results[@]}"
failed=$(printf '%s\n' "${results[@]}" | grep -c '^FAILED')
echo "check: $(( ${#results[@]} - failed )) passed, $failed failed"
[ "$failed" = 0 ]
