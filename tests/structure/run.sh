#!/usr/bin/env bash
# tests/structure/run.sh: what the layering promises, checked on the source.
#  1. lib/keys.c owns the etcd keys: no program spells one ("/apps/...", "/hosts/",
#     ...) outside comments; the API's own paths ("/api/v1/apps") are not keys.
#  2. No two files of a program, or of the library, call each other in a loop.
#  3. The README's conductor flag table gives the defaults its --help gives.
set -uo pipefail
cd "$(dirname "$0")/../.."
rc=0
hits=$(grep -nE '"/(apps|hosts|status|services|links|cluster|tokens)(/|")' src/*/*.c src/*/*.h |
       grep -vE '^[^:]+:[0-9]+:\s*(/\*|\*)' || true)
if [ -n "$hits" ]; then
    echo "not ok - keys spelled outside lib/keys.c:"; echo "$hits"; rc=1
else
    echo "ok - no program spells an etcd key"
fi
if out=$(python3 tests/structure/calls.py); then
    echo "ok - no call loop between the files of a program or of the library"
else
    echo "not ok - call loops:"; echo "$out"; rc=1
fi
if out=$(python3 tests/structure/defaults.py); then
    echo "ok - the README's conductor defaults are the --help's"
else
    echo "not ok - README defaults:"; echo "$out"; rc=1
fi
exit $rc
