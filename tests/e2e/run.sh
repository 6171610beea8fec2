#!/usr/bin/env bash
# tests/e2e/run.sh [PATTERN]: the end-to-end suite against real etcd and dockerd.
# Runs every test_* function of tests/e2e/test_*.sh (matching PATTERN) in its own
# subshell, prints "ok"/"not ok" per test with the failing test's output, and ends
# with "N passed, N failed". Needs root, dockerd, and the example images.
set -uo pipefail
cd "$(dirname "$0")"
. ./lib.sh
for f in test_*.sh; do . "./$f"; done

pattern=${1:-}
passed=0 failed=0
trap 'e2e_teardown; exit 130' INT TERM
e2e_setup || { e2e_teardown; echo "0 passed, 1 failed"; exit 1; }

for t in $(declare -F | awk '{print $3}' | grep '^test_' | grep -- "$pattern"); do
    out="$E2E_ROOT/$t.out"
    start=$(date +%s)
    # Not in an if: bash ignores set -e in a condition, even in a subshell.
    (set -e; "$t") > "$out" 2>&1
    if [ $? = 0 ]; then
        passed=$((passed + 1)); echo "ok - $t ($(( $(date +%s) - start ))s)"
    else
        failed=$((failed + 1)); echo "not ok - $t ($(( $(date +%s) - start ))s)"
        sed 's/^/    /' "$out" | tail -40
        echo "    --- conductor log (tail):"; tail -15 "$E2E_ROOT/conductor.log" | sed 's/^/    /'
    fi
done
e2e_teardown || failed=$((failed + 1))
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
