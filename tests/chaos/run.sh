#!/usr/bin/env bash
# tests/chaos/run.sh: the fault campaign (issue 12). On a local cluster of 3 hosts
# (tests/cluster/lib.sh) it runs apps of several manifests, some linked, some with
# health checks and scale > 1, and client containers that send requests without
# pause through their links and report each result with its time (collect.py).
# Then it injects CHAOS_FAULTS faults (default 100), one after another at random
# moments, drawn from CHAOS_SEED (printed first: the same seed replays the same
# faults, targets, durations and manifest changes):
#
#   conductor ambassador builder dockerd etcd   kill -9 of that daemon on a host
#   power        every process of a host killed at once (scripts/kill-host.sh)
#   partition    two hosts cannot reach each other   \  iptables DROP in the raw
#   oneway       a host does not hear another         > table of the hosts'
#   isolate      a host cut off from both others     /  namespaces
#   quorum       two of the three etcd members killed
#   deploy       a burst of rolling updates (a changed env), some superseding others
#   scale        scale changes, an app created or deleted
#
# Each fault is held for a random time, then repaired (`dokkaacfg up` restarts what
# is dead, the rules are flushed); most of the time the campaign then waits, with a
# bound, for the cluster to converge, sometimes it goes on at once, and about one
# fault in three gets manifest changes written while it is active. After the last
# one the cluster must settle (polled, CHAOS_SETTLE seconds at most), every client
# be served again, and tests/chaos/check.py reads etcd, every engine and the
# records of the run and says what was lost. Exit status: the checker's.
#
# CHAOS_FAULTS, CHAOS_SEED, CHAOS_RECOVER (bound on convergence after a fault, 90),
# CHAOS_SETTLE (the final bound, 180), CHAOS_WINDOW (seconds after a fault that
# explain a failed request, 5), CL_NAME (dkc), CL_UP_FLAGS (e.g. "--net 203"),
# DOKKAA_BIN. The run's records stay in CHAOS_OUT (printed).
set -uo pipefail
cd "$(dirname "$0")"
CHAOS_DIR=$PWD
export CL_NAME=${CL_NAME:-dkc}
. ../cluster/lib.sh
export CL_HOSTS

CHAOS_FAULTS=${CHAOS_FAULTS:-100}
CHAOS_SEED=${CHAOS_SEED:-$(( $(od -An -N4 -tu4 /dev/urandom) % 2147483648 ))}
CHAOS_RECOVER=${CHAOS_RECOVER:-90}
CHAOS_SETTLE=${CHAOS_SETTLE:-180}
export CHAOS_WINDOW=${CHAOS_WINDOW:-5}
COLLECT_PORT=${CHAOS_COLLECT_PORT:-39999}
[[ "$CHAOS_SEED" =~ ^[0-9]+$ && "$CHAOS_FAULTS" =~ ^[0-9]+$ ]] || dk_die "CHAOS_SEED and CHAOS_FAULTS are numbers"
[ "$(id -u)" = 0 ] || dk_die "run as root: the campaign makes a cluster of namespaces and engines"

echo "chaos: seed $CHAOS_SEED, $CHAOS_FAULTS faults (replay: make chaos CHAOS_SEED=$CHAOS_SEED CHAOS_FAULTS=$CHAOS_FAULTS)"
RUN=${CHAOS_OUT:-$(mktemp -d "/tmp/dokkaa-chaos.$CHAOS_SEED.XXXX")}
mkdir -p "$RUN"
echo "$CHAOS_SEED" > "$RUN/seed"
: > "$RUN/writes.log"; : > "$RUN/faults.log"; : > "$RUN/clients.log"
T_START=$SECONDS

say() { printf '%s %s\n' "$(date +%T)" "$*"; }

# ---------------------------------------------------------------- the seed's sequence
# A 31-bit linear congruential generator of the campaign's own: nothing else draws
# from it, so a seed replays the same choices. rnd N sets R to 0..N-1.
rng=$CHAOS_SEED
rnd() { rng=$(( (rng * 1103515245 + 12345) % 2147483648 )); R=$(( (rng >> 8) % $1 )); }
# rnd_tenths MIN MAX: a duration in seconds with one decimal, into D.
rnd_tenths() { rnd $(( ($2 - $1) * 10 + 1 )); D=$(( $1 * 10 + R )); D="$((D / 10)).$((D % 10))"; }

# ---------------------------------------------------------------- setup and cleanup
dockerd_state=
collector=
cleanup() {
    local rc=$? i
    trap - EXIT INT TERM
    say "cleanup"
    [ -n "$collector" ] && kill "$collector" 2>/dev/null
    if [ -n "${CL_LOG:-}" ]; then
        for i in $(seq 1 "$CL_HOSTS"); do
            [ -e "/run/netns/$CL_NAME-h$i" ] || continue
            ns_ipt "$i" -D PREROUTING -j CHAOS 2>/dev/null
            ns_ipt "$i" -F CHAOS 2>/dev/null; ns_ipt "$i" -X CHAOS 2>/dev/null
            mkdir -p "$RUN/logs"
            for d in conductor ambassador builder etcd dockerd; do
                [ -f "/var/lib/$CL_NAME/h$i/$d.log" ] && tail -c 3M "/var/lib/$CL_NAME/h$i/$d.log" > "$RUN/logs/h$i-$d.log"
            done
        done
        cl_teardown || rc=1
    fi
    [ -n "$dockerd_state" ] && { dk_stop "$dockerd_state/dockerd.pid" 30; rm -rf "$dockerd_state"; }
    say "chaos: records in $RUN; $(( SECONDS - T_START )) s in all"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! dk_docker_ok; then
    dockerd_state=$(mktemp -d /tmp/dokkaa-chaos-dockerd.XXXXXX)
    dk_start_dockerd "$dockerd_state" || dk_die "no dockerd"
fi

# iptables in host i's namespace, in a chain of the campaign's own in the raw
# table, which sees every packet coming in (to the host and to its containers)
# before Docker's rules do.
ns_ipt() { local i=$1; shift; nsenter --net="/run/netns/$CL_NAME-h$i" iptables -w -t raw "$@"; }
# block I J: host i drops every packet from host j.
block() {
    ns_ipt "$1" -N CHAOS 2>/dev/null
    ns_ipt "$1" -C PREROUTING -j CHAOS 2>/dev/null || ns_ipt "$1" -I PREROUTING -j CHAOS
    ns_ipt "$1" -A CHAOS -s "$(cl_addr "$2")" -j DROP
}
unblock_all() { local i; for i in $(seq 1 "$CL_HOSTS"); do ns_ipt "$i" -F CHAOS 2>/dev/null; done; return 0; }

# ---------------------------------------------------------------- the apps
# shop: web (nginx, 3 instances, http health) used by client (2 instances);
# news: www (nginx, 2, no health) used by reader; solo: db (nginx, 1, tcp health)
# used by app; eph: svc and user (linked), created and deleted by the campaign.
# A client reports every request to the collector: "APP/NAME/I@HOST CONTAINER
# START END ok|FAIL CURL-ERROR".
CLIENT_LOOP='while :; do a=$(date +%s.%N); if e=$(curl -sSf -o /dev/null -m 2 "http://$SERVICE_@V@_ADDR:$SERVICE_@V@_PORT/" 2>&1); then r=ok; else r=FAIL; fi; b=$(date +%s.%N); l="$DOKKAA_APP/$DOKKAA_NAME/$DOKKAA_INSTANCE@$DOKKAA_HOST $HOSTNAME $a $b $r ${e//[[:space:]]/_}"; echo "$l"; echo "$l" 2>/dev/null >"/dev/udp/${COLLECT%:*}/${COLLECT#*:}"; sleep 0.2; done'
declare -A SCALE=([shop/web]=3 [shop/client]=2 [news/www]=2 [news/reader]=1 [solo/db]=1 [solo/app]=1
                  [eph/svc]=1 [eph/user]=1)
declare -A GEN=()
for k in "${!SCALE[@]}"; do GEN[$k]=0; done
ROLL_KEYS=(shop/web shop/client news/www news/reader solo/db solo/app)
EPH=0

manifest() { # KEY: its manifest as the campaign's state says
    local s=${SCALE[$1]} g=${GEN[$1]} c="$COLLECT"
    case $1 in
    shop/web) jq -cn --argjson s "$s" --arg g "$g" \
        '{image: "dockerfile/nginx", scale: $s, services: {web: 80}, env: {GEN: $g},
          health: {http: "/", interval: 1, retries: 2}, stop_grace: 2}' ;;
    news/www) jq -cn --argjson s "$s" --arg g "$g" \
        '{image: "dockerfile/nginx", scale: $s, services: {www: 80}, env: {GEN: $g}, stop_grace: 2}' ;;
    solo/db) jq -cn --argjson s "$s" --arg g "$g" \
        '{image: "dockerfile/nginx", scale: $s, services: {db: 80}, env: {GEN: $g},
          health: {tcp: true, interval: 1, retries: 2}, stop_grace: 2}' ;;
    shop/client|news/reader|solo/app)
        local svc; case $1 in shop/*) svc=web ;; news/*) svc=www ;; solo/*) svc=db ;; esac
        jq -cn --argjson s "$s" --arg g "$g" --arg c "$c" --arg svc "$svc" \
            --arg loop "${CLIENT_LOOP//@V@/${svc^^}}" \
            '{image: "dockerfile/ubuntu", scale: $s, links: [$svc], env: {GEN: $g, COLLECT: $c},
              command: ["bash", "-c", $loop], stop_grace: 1}' ;;
    eph/svc) jq -cn --argjson s "$s" '{image: "dockerfile/nginx", scale: $s, services: {svc: 80}}' ;;
    eph/user) jq -cn --argjson s "$s" \
        '{image: "dockerfile/ubuntu", scale: $s, links: ["svc"], command: ["sleep", "infinity"], stop_grace: 0}' ;;
    esac
}

# put KEY: write its manifest; the outcome (acked, or unknown when no builder
# answered: it may or may not be stored) goes to writes.log for the checker.
put() {
    local json how=acked
    json=$(manifest "$1")
    cl_set "${1%/*}" "${1#*/}" "$json" || how=unknown
    echo "$EPOCHREALTIME $how set $1 $json" >> "$RUN/writes.log"
    CHANGES+="$1:$how "
}
drop_app() {
    local how=acked
    cl_delete_app "$1" || how=unknown
    echo "$EPOCHREALTIME $how delete $1 -" >> "$RUN/writes.log"
    CHANGES+="-$1:$how "
}

# One manifest change drawn from the sequence: a rolling update (a changed env),
# a scale change, or the ephemeral app created or deleted.
change_update() { rnd ${#ROLL_KEYS[@]}; local k=${ROLL_KEYS[$R]}; GEN[$k]=$(( GEN[$k] + 1 )); put "$k"; }
change_scale() {
    local k lo hi
    rnd 4
    case $R in
    0) k=shop/web lo=2 hi=4 ;; 1) k=news/www lo=1 hi=3 ;; 2) k=shop/client lo=1 hi=3 ;;
    3) if [ "$EPH" = 1 ]; then EPH=0; drop_app eph
       else EPH=1; put eph/svc; put eph/user; fi
       return ;;
    esac
    rnd $(( hi - lo )); local s=$(( lo + R ))
    [ "$s" -ge "${SCALE[$k]}" ] && s=$(( s + 1 )) # always another scale than now
    SCALE[$k]=$s
    put "$k"
}
change_any() { rnd 3; if [ "$R" = 0 ]; then change_scale; else change_update; fi; }

# ---------------------------------------------------------------- convergence
converged() { python3 "$CHAOS_DIR/check.py" --converged > "$RUN/why" 2>&1; }
# clients_served SINCE N: every client instance has had N requests served since then.
clients_served() {
    local k i n
    for k in shop/client news/reader solo/app; do
        for i in $(seq 0 $(( SCALE[$k] - 1 ))); do
            n=$(awk -v c="$k/$i@" -v t="$1" 'index($2, c) == 1 && $4 >= t && $6 == "ok"' "$RUN/clients.log" | wc -l)
            [ "$n" -ge "$2" ] || return 1
        done
    done
}

PENDING=()
# settle BOUND: wait for convergence; every pending fault closes then (or at the bound).
settle() {
    local t0=$EPOCHREALTIME how=converged id
    dk_wait "$1" "the cluster to converge" converged || how=timeout
    for id in "${PENDING[@]}"; do echo "close $id $EPOCHREALTIME $how" >> "$RUN/faults.log"; done
    PENDING=()
    SETTLE_S=$(printf '%.1f' "$(echo "$EPOCHREALTIME - $t0" | bc)")
    if [ "$how" = timeout ]; then
        say "  NOT converged within $1 s:"; sed 's/^/    /' "$RUN/why" | head -15
        return 1
    fi
}

# ---------------------------------------------------------------- the faults
# Weights out of 100.
KINDS=(conductor:12 ambassador:10 builder:6 dockerd:8 etcd:8 power:12 partition:10 oneway:8 isolate:6
       quorum:6 deploy:8 scale:6)
pick_kind() {
    local kw w
    rnd 100
    for kw in "${KINDS[@]}"; do
        w=${kw#*:}
        [ "$R" -lt "$w" ] && { KIND=${kw%:*}; return; }
        R=$(( R - w ))
    done
}
pick_host() { rnd "$1"; H=$(( R + 1 )); }
pick_other() { rnd $(( $2 - 1 )); H2=$(( R + 1 )); [ "$H2" -ge "$1" ] && H2=$(( H2 + 1 )); }

kill9() { # DAEMON HOST
    local pid
    pid=$(cat "/run/$CL_NAME/h$2/$1.pid" 2>/dev/null) && kill -9 "$pid" 2>/dev/null ||
        { TARGET+=" (not running)"; return 0; }
    dk_wait 10 "$1 of h$2 to die" eval "! kill -0 $pid"
}

heal() {
    local n
    for n in 1 2 3; do
        cl_heal >/dev/null 2>&1 && return 0
        say "  dokkaacfg up failed (try $n): $(tail -3 "$CL_LOG" | tr '\n' ' ')"
    done
    return 1
}

declare -A COUNT=()
inject() { # ID: draw a fault, do it, hold it, repair it
    local id=$1 hold= repair=heal
    pick_kind
    TARGET= CHANGES=
    case $KIND in
    conductor|ambassador|builder|dockerd) pick_host "$CL_HOSTS"; TARGET=h$H; rnd_tenths 0 8; hold=$D ;;
    etcd) pick_host 3; TARGET=h$H; rnd_tenths 1 12; hold=$D ;;
    power) pick_host "$CL_HOSTS"; TARGET=h$H; rnd_tenths 2 20; hold=$D ;;
    partition|oneway) pick_host 3; pick_other "$H" 3; TARGET="h$H h$H2"; rnd_tenths 2 20; hold=$D
        repair=unblock_all ;;
    isolate) pick_host 3; TARGET=h$H; rnd_tenths 2 20; hold=$D; repair=unblock_all ;;
    quorum) pick_host 3; TARGET="h$H up"; rnd_tenths 3 15; hold=$D ;;
    deploy|scale) repair=: ;;
    esac
    echo "inject $id $EPOCHREALTIME $KIND $TARGET" >> "$RUN/faults.log"
    COUNT[$KIND]=$(( ${COUNT[$KIND]:-0} + 1 ))
    local until=$(echo "$EPOCHREALTIME + ${hold:-0}" | bc)
    case $KIND in
    conductor|ambassador|builder|dockerd|etcd) kill9 "$KIND" "$H" ;;
    power) cl_kill_host "$H" || say "  the kill of h$H failed" ;;
    partition) block "$H" "$H2"; block "$H2" "$H" ;;
    oneway) block "$H" "$H2"; TARGET="h$H does not hear h$H2" ;;
    isolate) local j; for j in 1 2 3; do [ "$j" = "$H" ] || { block "$H" "$j"; block "$j" "$H"; }; done ;;
    quorum) local j; for j in 1 2 3; do [ "$j" = "$H" ] || kill9 etcd "$j"; done ;;
    deploy) rnd 3; local n; for n in $(seq 0 $(( R + 1 ))); do change_update; done ;;
    scale) rnd 3; local n; for n in $(seq 0 "$R"); do change_scale; done ;;
    esac
    # about one fault in three gets manifest changes while it is active
    case $KIND in deploy|scale) ;; *) rnd 3; [ "$R" = 0 ] && { rnd 2; for n in $(seq 0 "$R"); do change_any; done; } ;; esac
    local left; left=$(echo "$until - $EPOCHREALTIME" | bc)
    [[ "$left" == -* ]] || sleep "$left" # the fault's hold: a duration drawn, not a wait for a state
    $repair || say "  repair failed"
    echo "repair $id $EPOCHREALTIME" >> "$RUN/faults.log"
    PENDING+=("$id")
    say "#$id $KIND $TARGET${hold:+, held $hold s}${CHANGES:+; changes: $CHANGES}"
}

# ---------------------------------------------------------------- the campaign
say "cluster $CL_NAME up (${CL_UP_FLAGS:-default net})"
cl_setup || exit 1
COLLECT="10.88.$CL_NET.1:$COLLECT_PORT"
ip -br addr show "${CL_NAME}0" | grep -q "10.88.$CL_NET.1/" || dk_die "no 10.88.$CL_NET.1 on ${CL_NAME}0"
setsid python3 "$CHAOS_DIR/collect.py" "10.88.$CL_NET.1" "$COLLECT_PORT" "$RUN/clients.log" \
    > "$RUN/collector.log" 2>&1 < /dev/null &
collector=$!
dk_wait 10 "the collector to listen" eval "ss -Huln 'sport = :$COLLECT_PORT' | grep -q ."

for k in shop/web news/www solo/db shop/client news/reader solo/app; do put "$k"; done
grep -q ' unknown ' "$RUN/writes.log" && dk_die "the first manifests could not be written"
dk_wait 240 "the apps to converge" converged || { cat "$RUN/why"; exit 1; }
dk_wait 60 "every client to be served" clients_served 0 3 || exit 1
echo "$EPOCHREALTIME" > "$RUN/started"
say "apps running; $CHAOS_FAULTS faults"

for id in $(seq 1 "$CHAOS_FAULTS"); do
    inject "$id"
    rnd 5
    if [ "$R" != 0 ]; then # most faults are left to heal before the next
        settle "$CHAOS_RECOVER" && say "  converged $SETTLE_S s after the repair"
    fi
    rnd_tenths 0 5
    sleep "$D" # the moment of the next fault: a duration drawn from the seed
done

say "faults over: $(for k in "${!COUNT[@]}"; do printf '%s %s, ' "$k" "${COUNT[$k]}"; done)"
say "settling (at most $CHAOS_SETTLE s)"
if settle "$CHAOS_SETTLE"; then
    echo "$EPOCHREALTIME" > "$RUN/settled"
    say "settled in $SETTLE_S s; every client must be served again"
    dk_wait 60 "every client to be served 10 times after the settle" \
        clients_served "$(cat "$RUN/settled")" 10 || say "some client was not served after the settle"
fi
kill "$collector" 2>/dev/null; collector=
python3 "$CHAOS_DIR/check.py" --run "$RUN" | tee "$RUN/report"
rc=${PIPESTATUS[0]}
exit "$rc"
