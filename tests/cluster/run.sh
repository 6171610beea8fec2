#!/usr/bin/env bash
# tests/cluster/run.sh [PATTERN]: the multi-host suite. Makes a local cluster of 3
# hosts (network namespaces, real dockerd and etcd in each), runs every test_*
# function of tests/cluster/test_*.sh matching PATTERN (see dk_run_suite in
# scripts/lib.sh), then removes the cluster and checks nothing is left.
set -uo pipefail
cd "$(dirname "$0")"
. ./lib.sh
for f in test_*.sh; do . "./$f"; done

# Show the conductors' last words, and give the next test a whole cluster again.
cl_on_fail() {
    local i
    for i in 1 2 3; do echo "--- h$i conductor (tail):"; tail -6 "/var/lib/$CL_NAME/h$i/conductor.log"; done
    cl_heal >/dev/null 2>&1 || true
}
dk_run_suite cl_setup cl_suite_teardown cl_on_fail "${1:-}"
