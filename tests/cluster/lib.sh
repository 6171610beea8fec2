# tests/cluster/lib.sh - the multi-host harness: a local cluster of 3 hosts made by
# `dokkaacfg up --provider=local` under a name of its own ($CL_NAME), so a demo
# cluster beside it is untouched; helpers to look at it as a user would, and to
# hurt it (kill a host, cut it off, stop an etcd member).

. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

CL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CL_BIN=${DOKKAA_BIN:-$CL_ROOT/build/src}
CL_NAME=${CL_NAME:-dkt}
CL_HOSTS=${CL_HOSTS:-3}

cl_cfg() { "$CL_BIN/dokkaacfg" "$@"; }
# CL_UP_FLAGS: more flags for up, e.g. "--net 201" to keep clear of other clusters.
cl_up() { cl_cfg up --provider=local --scale=$CL_HOSTS --name "$CL_NAME" ${CL_UP_FLAGS:-} > "$CL_LOG" 2>&1; }
cl_net() { sed -n 's/.*net=\([0-9]*\).*/\1/p' "/var/lib/$CL_NAME/cluster"; }
cl_addr() { echo "10.88.$CL_NET.$((10 + $1))"; }
cl_docker() { local i=$1; shift; docker -H "unix:///run/$CL_NAME/h$i/docker.sock" "$@"; }
cl_etcdctl() { ETCDCTL_API=3 etcdctl --dial-timeout=2s --command-timeout=5s --endpoints="$CL_ETCD" "$@"; }
# Keys under a prefix; fails (prints nothing) when etcd cannot be read.
cl_count_keys() { dk_count . cl_etcdctl get --prefix --keys-only "$1"; }

# The CLI's config (the admin token `up` makes) goes to a directory of the suite's
# own, never into the user's ~/.config. So do the sanitizers' reports (a build
# with DOKKAA_SANITIZE): every daemon `up` starts inherits the environment, and
# writes its leak report when it exits, which for most is during `down`, after
# which its log is gone with its host's state. The CLI's own reports land there too.
cl_setup() {
    local i
    CL_LOG=$(mktemp /tmp/dokkaa-cluster.XXXXXX)
    XDG_CONFIG_HOME=$(mktemp -d /tmp/dokkaa-config.XXXXXX)
    CL_REPORTS=$(mktemp -d /tmp/dokkaa-reports.XXXXXX)
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$CL_REPORTS/sanitizer:log_exe_name=1"
    UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$CL_REPORTS/sanitizer:log_exe_name=1"
    export CL_LOG XDG_CONFIG_HOME CL_REPORTS ASAN_OPTIONS UBSAN_OPTIONS
    cl_up || { tail -20 "$CL_LOG"; return 1; }
    CL_NET=$(cl_net)
    CL_ETCD=
    for i in $(seq 1 $((CL_HOSTS < 3 ? CL_HOSTS : 3))); do CL_ETCD+="${CL_ETCD:+,}http://$(cl_addr $i):2379"; done
    export CL_NET CL_ETCD
}

# Remove the cluster and check that nothing at all is left of it, and that no
# program wrote a sanitizer report (read after `down`, when the daemons have exited).
cl_teardown() {
    local left= f
    cl_cfg down --name "$CL_NAME" >> "$CL_LOG" 2>&1 || left="down failed: $(tail -20 "$CL_LOG")"$'\n'
    left+=$( { ip netns list | grep "^$CL_NAME-h"; ip -br link | grep -E "^($CL_NAME-h|${CL_NAME}0)";
              pgrep -af "/run/$CL_NAME/|/var/lib/$CL_NAME/" | grep -v pgrep;
              grep -E " /(var/lib|run)/$CL_NAME/" /proc/self/mountinfo;
              ls -d "/var/lib/$CL_NAME" "/run/$CL_NAME" 2>/dev/null; } || true)
    for f in "${CL_REPORTS:-/nonexistent}"/sanitizer.*; do
        [ -e "$f" ] || continue
        echo "--- ${f##*/}:"; head -40 "$f"
        left+="${left:+$'\n'}a sanitizer report: ${f##*/} (above)"
    done
    rm -rf "$CL_LOG" "$XDG_CONFIG_HOME" "${CL_REPORTS:-}"
    [ -z "$left" ] || { echo "left behind:"; echo "$left"; return 1; }
}

# What the tests left behind, one line each: every test removes its apps, and so,
# through the conductors, their placements, containers, statuses, announcements,
# link ports and revisions. Says so when etcd or an engine could not be asked.
cl_left_by_tests() {
    local p out sock
    for p in /apps/ /status/ /services/ /links/ /revisions/; do
        out=$(cl_etcdctl get --prefix --keys-only "$p") || { echo "etcd: $p could not be read"; continue; }
        grep . <<<"$out" | sed 's/^/etcd key: /'
    done
    for sock in /run/"$CL_NAME"/h*/docker.sock; do
        out=$(docker -H "unix://$sock" ps -a --filter "label=dokkaa.cluster=$CL_NAME" --format '{{.Names}}') ||
            { echo "$sock could not be asked for containers"; continue; }
        grep . <<<"$out" | sed "s|^|container on ${sock#/run/$CL_NAME/}: |"
    done
    return 0
}
cl_nothing_left_by_tests() { [ -z "$(cl_left_by_tests)" ]; }

# The suites' teardown: first what the tests left (polled: the conductors may still
# be removing what the last test deleted), then the cluster (cl_teardown).
cl_suite_teardown() {
    local rc=0
    if [ -n "${CL_ETCD:-}" ] && ! dk_wait 60 "the tests' apps to be gone" cl_nothing_left_by_tests; then
        echo "left behind by the tests:"; cl_left_by_tests | head -40
        rc=1
    fi
    cl_teardown || rc=1
    return $rc
}

# e2e-style setter through the builder of the first live host.
cl_set() { # APP NAME JSON
    local i
    for i in $(seq 1 $CL_HOSTS); do
        curl -sf --max-time 5 -XPUT --data-urlencode value="$3" \
            "http://$(cl_addr $i):4001/v2/keys/apps/$1/$2/manifest" >/dev/null && return 0
    done
    return 1
}
cl_delete_app() {
    local i
    for i in $(seq 1 $CL_HOSTS); do
        curl -sf --max-time 5 -XDELETE "http://$(cl_addr $i):4001/v2/keys/apps/$1?recursive=true" \
            >/dev/null && return 0
    done
    return 1
}

# Running containers of APP/NAME on host i, and on all hosts. They fail (print
# nothing) when an engine cannot be asked: an engine that is down is not one that
# runs nothing (a test that killed a host heals it before it counts).
cl_running_on() {
    dk_count . cl_docker "$1" ps --filter "label=dokkaa.cluster=$CL_NAME" --filter "label=dokkaa.app=$2" \
        --filter "label=dokkaa.name=$3" --filter status=running -q
}
cl_running() {
    local i n=0 m
    for i in $(seq 1 $CL_HOSTS); do
        m=$(cl_running_on "$i" "$1" "$2") || return 1
        n=$((n + m))
    done
    echo "$n"
}

# APP NAME N [SERVICE]: N running in the cluster, N statuses running, N services.
cl_converged() {
    [ "$(cl_running "$1" "$2")" = "$3" ] || return 1
    [ "$(dk_count '"state":"running"' cl_etcdctl get --prefix --print-value-only "/status/$1/$2/")" = "$3" ] || return 1
    [ -z "${4:-}" ] || [ "$(cl_count_keys "/services/$1/$4/")" = "$3" ]
}
cl_wait_converged() { dk_wait "${CL_WAIT:-60}" "$1/$2 to run $3 instances" cl_converged "$@"; }

# The host (1..3) running instance I of APP/NAME, from its status.
cl_host_of() {
    cl_etcdctl get --print-value-only "/status/$1/$2/$3" | sed -n 's/.*"host":"h\([0-9]\)".*/\1/p'
}

# kill -9 every process of host i, as a user would (README).
cl_kill_host() { "$CL_ROOT/scripts/kill-host.sh" --name "$CL_NAME" "h$1" >/dev/null; }

# Bring every host back as it was: `up` restarts what is dead.
cl_heal() { cl_up || { tail -20 "$CL_LOG"; return 1; }; }

fail() { echo "FAIL: $*" >&2; return 1; }
assert_eq() { [ "$1" = "$2" ] || fail "${3:-values differ}: expected '$1', got '$2'"; }
