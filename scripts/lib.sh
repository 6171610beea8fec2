# scripts/lib.sh - shell helpers shared by the Makefile's scripts and the e2e tests.
# Source it; it defines functions only.

dk_log() { printf '%s\n' "dokkaa: $*" >&2; }
dk_die() { printf '%s\n' "dokkaa: error: $*" >&2; exit 1; }

# Debian packages Dokkaa needs to build, run and test.
DK_PACKAGES=(cmake gcc make pkg-config libcurl4-openssl-dev libjansson-dev libmicrohttpd-dev
             libssl-dev libgnutls28-dev libcmocka-dev docker.io etcd-server etcd-client docker-registry
             debootstrap curl iproute2 iptables valgrind bc jq)
# Only the tests and benchmarks need these: dk_need_packages "${DK_TEST_PACKAGES[@]}".
DK_TEST_PACKAGES=(chromium wrk lintian dpkg-dev help2man openssh-client)

# Install whichever of DK_PACKAGES and the packages given is missing (apt-get
# update once, only if needed).
dk_need_packages() {
    local missing=() p
    for p in "${DK_PACKAGES[@]}" "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    dk_log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq "${missing[@]}" >/dev/null \
        || dk_die "apt-get install ${missing[*]} failed"
}

# dk_wait SECONDS WHAT CMD...: poll CMD every 0.1 s until it succeeds, or fail after
# SECONDS saying what was awaited.
dk_wait() {
    local seconds=$1 what=$2; shift 2
    local deadline=$(( $(date +%s%N) + seconds * 1000000000 ))
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s%N)" -lt "$deadline" ] || { dk_log "timed out after ${seconds}s waiting for $what"; return 1; }
        sleep 0.1
    done
}

# dk_start PIDFILE LOGFILE CMD...: run CMD in the background, detached, pid recorded.
# CMD gets no descriptor of ours but its stdin, stdout and stderr: a daemon that
# outlives the caller must not hold what the caller holds, such as the lock of
# `flock LOCK cmd` (a dockerd started so would hold it until it exits).
dk_start() {
    local pidfile=$1 logfile=$2; shift 2
    (dk_close_fds; exec setsid "$@") >>"$logfile" 2>&1 < /dev/null &
    echo $! > "$pidfile"
    disown $! # ours to stop by pid, not the shell's job to report
}
dk_close_fds() { # every descriptor of this shell above 2
    local fd
    for fd in $(ls /proc/$BASHPID/fd); do
        [ "$fd" -gt 2 ] && eval "exec $fd>&-"
    done 2>/dev/null
    return 0
}

dk_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# dk_stop PIDFILE [SECONDS]: TERM the process recorded there, KILL it if it lingers.
dk_stop() {
    local pidfile=$1 seconds=${2:-10} pid
    [ -s "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        dk_wait "$seconds" "pid $pid to exit" sh -c "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null
        dk_wait 5 "pid $pid to die" sh -c "! kill -0 $pid" || true
    fi
    rm -f "$pidfile"
}

dk_etcd_healthy() { curl -sf --max-time 2 "$1/health" | grep -q '"health":"true"'; }
dk_docker_ok() { docker ${1:+-H "$1"} version >/dev/null 2>&1; }

# dk_start_etcd DIR CLIENT_PORT PEER_PORT: a single-member etcd on loopback.
dk_start_etcd() {
    local dir=$1 cport=$2 pport=$3
    mkdir -p "$dir"
    dk_start "$dir/etcd.pid" "$dir/etcd.log" etcd --name default --data-dir "$dir/data" \
        --listen-client-urls "http://127.0.0.1:$cport" --advertise-client-urls "http://127.0.0.1:$cport" \
        --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
        --initial-cluster "default=http://127.0.0.1:$pport"
    dk_wait 30 "etcd on 127.0.0.1:$cport" dk_etcd_healthy "http://127.0.0.1:$cport"
}

# The root Docker Engine: started here (and stopped by `make down`) only if none runs.
dk_start_dockerd() {
    local dir=$1
    mkdir -p "$dir"
    dk_log "starting dockerd (bridge 172.30.0.1/24)"
    dk_start "$dir/dockerd.pid" "$dir/dockerd.log" dockerd --bip 172.30.0.1/24
    dk_wait 60 "dockerd" dk_docker_ok
}

# dk_count PATTERN CMD...: how many lines of CMD's output match PATTERN (grep -E;
# "." counts every non-empty line). When CMD fails (etcd or an engine cannot be
# reached) it prints nothing and fails, so that a comparison with "0" fails too:
# "nothing stored" must not be what an unreachable store says.
dk_count() {
    local re=$1 out
    shift
    out=$("$@") || { dk_log "cannot count: $* failed (exit $?)"; return 1; }
    grep -cE -- "$re" <<<"$out" || : # grep exits 1 when it counted 0
}

# dk_run_suite SETUP TEARDOWN ON_FAIL PATTERN: the test runner of tests/e2e,
# tests/cluster and tests/api. Runs every defined test_* function matching
# PATTERN (grep), in name order, after SETUP; a PATTERN that matches no test is a
# failure, before any setup. Each test runs in its own subshell with set -e;
# prints "ok"/"not ok" per test, and for a failure its output's tail and what
# ON_FAIL prints. TEARDOWN runs last (also on INT/TERM) and counts as a test: it
# fails when the suite left anything behind, and says what. Ends with
# "N passed, N failed"; returns non-zero on a failure. With DK_SHOW set, a passing
# test's output is shown too (the figures some tests print).
dk_run_suite() {
    local setup=$1 teardown=$2 on_fail=$3 pattern=$4 passed=0 failed=0 t out start rc tests
    tests=$(declare -F | awk '{print $3}' | grep '^test_' | grep -- "$pattern")
    if [ -z "$tests" ]; then
        echo "not ok - no test matches '$pattern'"
        echo "0 passed, 1 failed"
        return 1
    fi
    trap "$teardown; exit 130" INT TERM
    if ! "$setup"; then
        "$teardown"
        echo "0 passed, 1 failed"
        return 1
    fi
    for t in $tests; do
        out=$(mktemp)
        start=$(date +%s)
        # Not in an if: bash ignores set -e in a condition, even in a subshell.
        (set -e; "$t") > "$out" 2>&1
        rc=$?
        if [ "$rc" = 0 ]; then
            passed=$((passed + 1)); echo "ok - $t ($(( $(date +%s) - start ))s)"
            [ -z "${DK_SHOW:-}" ] || sed 's/^/    /' "$out" # what a passing test printed too
        else
            failed=$((failed + 1)); echo "not ok - $t ($(( $(date +%s) - start ))s)"
            sed 's/^/    /' "$out" | tail -40
            "$on_fail" 2>&1 | sed 's/^/    /'
        fi
        rm -f "$out"
    done
    out=$(mktemp)
    if "$teardown" > "$out" 2>&1; then passed=$((passed + 1)); echo "ok - teardown: nothing left behind"
    else failed=$((failed + 1)); echo "not ok - teardown: nothing left behind"; fi
    sed 's/^/    /' "$out" | tail -80
    rm -f "$out"
    trap - INT TERM
    echo "$passed passed, $failed failed"
    [ "$failed" = 0 ]
}
