#!/usr/bin/env bash
# tests/machines/run.sh [PATTERN]: Dokkaa on real machines. Starts whole Debian 12
# machines (containers with systemd, sshd and their own Docker Engine; lib.sh),
# runs every test_* function of tests/machines/test_*.sh matching PATTERN, in
# name order (see dk_run_suite in scripts/lib.sh), then removes every machine
# and checks nothing is left.
#
# Needs: DOKKAA_BIN (the dokkaacfg to test, default build/src), DOKKAA_DEB (the
# package, default the newest build/dokkaa_*.deb), the example images in the
# root engine (images/build.sh), and the root engine running.
set -uo pipefail
[ -z "${DOKKAA_DEB:-}" ] || DOKKAA_DEB=$(realpath "$DOKKAA_DEB") # relative to the caller
cd "$(dirname "$0")"
. ../../scripts/lib.sh
. ./lib.sh
for f in test_*.sh; do . "./$f"; done

MT_ROOT=$(cd ../.. && pwd)
MT_BIN=${DOKKAA_BIN:-$MT_ROOT/build/src}
MT_DEB=${DOKKAA_DEB:-$(ls -t "$MT_ROOT"/build/dokkaa_*.deb 2>/dev/null | head -1)}
MT_NAME=mtest
# The machines live on 10.87.0.0/24; the cluster trusts the lower half only, so a
# machine in the upper half is one "of another network".
MT_TRUST=10.87.0.0/25
mt_ip() { echo "10.87.0.$((10 + $1))"; }
MT_OUTSIDER_IP=10.87.0.200

# Assertions that a command fails. Not `! cmd`: bash's set -e ignores a negated
# command, so a test would go on when cmd succeeds; a function's status it does not.
mt_not() { ! "$@"; }
# mt_fails VAR CMD...: CMD must fail; its output (stdout and stderr) goes to VAR.
mt_fails() {
    local __var=$1 __out __rc=0; shift
    __out=$("$@" 2>&1) || __rc=$?
    printf -v "$__var" '%s' "$__out"
    [ "$__rc" != 0 ]
}

mt_cfg() { "$MT_BIN/dokkaacfg" "$@"; }
mt_ssh() { machine_ssh "$(mt_ip "$1")" "${@:2}"; }

mt_setup() {
    [ -n "$MT_DEB" ] && [ -s "$MT_DEB" ] || { echo "no package: run make deb (or set DOKKAA_DEB)"; return 1; }
    MT_STATE=$(mktemp -d /tmp/dokkaa-machines.XXXXXX)
    MACHINE_STATE=$MT_STATE
    XDG_CONFIG_HOME=$MT_STATE/config
    MT_LOG=$MT_STATE/up.log
    export MACHINE_STATE XDG_CONFIG_HOME MT_STATE MT_LOG
    machine_key "$MT_STATE" && machine_net && "$MT_ROOT/tests/machines/image.sh" >/dev/null || return 1
    local i pids=()
    for i in 1 2 3; do
        machine_start "m$i" "$(mt_ip $i)" "" "$MT_STATE/id_ed25519.pub" > "$MT_STATE/m$i.boot" 2>&1 &
        pids+=($!)
    done
    for i in 1 2 3; do wait "${pids[$((i - 1))]}" || { cat "$MT_STATE/m$i.boot"; return 1; }; done
}

mt_on_fail() {
    local i
    for i in 1 2 3 4; do
        docker inspect "m$i" >/dev/null 2>&1 || continue
        echo "--- m$i: units, and the journal's last lines of dokkaa's"
        mt_ssh $i "systemctl --no-pager --plain list-units 'dokkaa-*' 2>&1 | head -8; \
                   journalctl --no-pager -n 8 -u 'dokkaa-*' 2>&1" 2>&1 | tail -16
    done
    [ -s "${MT_LOG:-/dev/null}" ] && { echo "--- last up:"; tail -15 "$MT_LOG"; }
}

# Every machine and the network gone; nothing of the suite left on this machine.
mt_teardown() {
    local rc=0
    [ -n "${MT_STATE:-}" ] && mt_do_stop
    machine_cleanup || rc=1
    [ -n "${MT_STATE:-}" ] && rm -rf "$MT_STATE"
    if docker ps -a --filter label=dokkaa.test=machine -q | grep -q .; then
        echo "machines left behind"; rc=1
    fi
    return $rc
}

dk_run_suite mt_setup mt_teardown mt_on_fail "${1:-}"
