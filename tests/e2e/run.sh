#!/usr/bin/env bash
# tests/e2e/run.sh [PATTERN]: the end-to-end suite against real etcd and dockerd:
# every test_* function of tests/e2e/test_*.sh matching PATTERN (see dk_run_suite
# in scripts/lib.sh). Needs root, dockerd, and the example images.
set -uo pipefail
cd "$(dirname "$0")"
. ./lib.sh
for f in test_*.sh; do . "./$f"; done

e2e_on_fail() { echo "--- conductor log (tail):"; tail -15 "$E2E_ROOT/conductor.log"; }
dk_run_suite e2e_setup e2e_teardown e2e_on_fail "${1:-}"
