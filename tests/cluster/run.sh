#!/usr/bin/env bash
# tests/cluster/run.sh [PATTERN]: the multi-host suite. Makes a local cluster of 3
# hosts (network namespaces, real dockerd and etcd in each), runs every test_*
# function of tests/cluster/test_*.sh matching PATTERN in order, in its own
# subshell, then removes the cluster and checks nothing is left. Ends with
# "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")"
. ./lib.sh
for f in test_*.sh; do . "./$f"; done

pattern=${1:-}
passed=0 failed=0
trap 'cl_teardown; exit 130' INT TERM
if ! cl_setup; then
    cl_teardown
    echo "0 passed, 1 failed"
    exit 1
fi
for t in $(declare -F | awk '{print $3}' | grep '^test_' | grep -- "$pattern"); do
    out=$(mktemp)
    start=$(date +%s)
    # Not in an if: bash ignores set -e in a condition, even in a subshell.
    (set -e; "$t") > "$out" 2>&1
    if [ $? = 0 ]; then
        passed=$((passed + 1)); echo "ok - $t ($(( $(date +%s) - start ))s)"
    else
        failed=$((failed + 1)); echo "not ok - $t ($(( $(date +%s) - start ))s)"
        sed 's/^/    /' "$out" | tail -30
        for i in 1 2 3; do
            echo "    --- h$i conductor (tail):"; tail -6 "/var/lib/$CL_NAME/h$i/conductor.log" 2>/dev/null | sed 's/^/    /'
        done
        cl_heal >/dev/null 2>&1 || true # the next test starts from a whole cluster
    fi
    rm -f "$out"
done
if cl_teardown; then echo "ok - cluster removed, nothing left"; passed=$((passed + 1));
else echo "not ok - cluster removed, nothing left"; failed=$((failed + 1)); fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
