#!/usr/bin/env bash
# tests/api/run.sh [PATTERN]: the suite of the interfaces people use: the builder's
# REST API, the dokkaacfg app commands and the web console (headless Chromium), on
# a local cluster of 2 hosts of its own ($CL_NAME, default dka), so that logs and
# instances on another host than the one asked are part of every run.
set -uo pipefail
cd "$(dirname "$0")"
CL_NAME=${CL_NAME:-dka}
CL_HOSTS=2
. ../cluster/lib.sh
. ./lib.sh
for f in test_*.sh; do . "./$f"; done

api_on_fail() {
    local i
    for i in 1 2; do echo "--- h$i builder (tail):"; tail -8 "/var/lib/$CL_NAME/h$i/builder.log"; done
}
dk_run_suite cl_setup cl_suite_teardown api_on_fail "${1:-}"
