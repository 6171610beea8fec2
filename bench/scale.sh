#!/usr/bin/env bash
# bench/scale.sh - a hundred hosts on one machine (issue 13, item 5): how long the
# real conductors take to place and run S instances on HOSTS hosts, and to place
# again what KILL dead hosts ran.
#
#   flock /tmp/dokkaa-suites.lock bench/scale.sh
#
# with the defaults HOSTS=100 S=10000 PER=100 KILL=10 ROUNDS=3 POLL=0.2 TIMEOUT=600
# SIM_BIN=build (bench/sim.sh). Every figure it prints comes from that command.
#
# The engines are SIMULATED: each host is a real dokkaa-conductor against its own
# dokkaa-simengine (bench/simengine.c), a stand-in for the Docker Engine API that
# keeps containers as records, because a hundred real engines do not fit on one
# machine. So the figures measure Dokkaa (scheduling, etcd traffic, the conductors'
# passes), not container start-up; the real engine path is what every other test
# and benchmark runs. All hosts share one private etcd on 127.0.0.1:27379.
#
# Each round, on a fresh cluster:
#   - place: S instances as ceil(S/PER) manifests of scale PER (the last takes the
#     rest; the manifest allows at most 1000), one service each, in app "scale",
#     written by etcd transactions of at most 100 puts. Timed from the first
#     write to: every instance placed (/apps/scale/<name>/instances/<i>), and every
#     instance announced (S keys under /services/scale/).
#   - re-place: kill -9 the conductors and simengines of KILL hosts (the last ones,
#     never the scheduler's), then timed from the kill to: every instance placed on
#     a live host, and S instances announced by live hosts. It includes the lease
#     TTL (5 s) after which the cluster knows the hosts are dead.
#   - then the app is deleted and the cluster stopped.
# One loop polls etcd every POLL seconds (the placements, with etcdctl, until all
# are placed; then the count of announcements), so each figure is late by up to
# POLL plus one poll (a listing of 10,000 placements takes a while, longer while
# etcd is busy: the longest poll is printed). Each round also prints the size of
# /apps/ (which every conductor's pass reads whole), the conductors' largest RSS,
# the placements the scheduler wrote, and how often their passes were skipped (an
# etcd read timed out) and their host lease keepalives failed: the signs of an etcd
# that cannot keep up; last, the CPU time etcd, the conductors and the simengines
# used (the simulation's own cost). Prints each round, then each figure's range
# over the rounds that did not fail; a failed round (a
# TIMEOUT passed) is printed and kept out, and the script exits non-zero.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. bench/sim.sh
HOSTS=${HOSTS:-100}
S=${S:-10000}
PER=${PER:-100}
KILL=${KILL:-10}
ROUNDS=${ROUNDS:-3}
POLL=${POLL:-0.2}
TIMEOUT=${TIMEOUT:-600}
SIM_CLUSTER=scale
NM=$(( (S + PER - 1) / PER ))

[ "$PER" -ge 1 ] && [ "$PER" -le 1000 ] || dk_die "PER must be 1..1000"
[ "$KILL" -lt "$HOSTS" ] || dk_die "KILL must be below HOSTS"
trap 'sim_teardown' EXIT
trap 'exit 130' INT TERM

# ---- the app ------------------------------------------------------------------------

# The manifests, by transactions of at most 100 puts (etcd allows 128 operations).
put_manifests() {
    local from n scale ops
    for ((from = 1; from <= NM; from += 100)); do
        ops=$(for ((i = from; i < from + 100 && i <= NM; i++)); do
            scale=$(( S - (i - 1) * PER < PER ? S - (i - 1) * PER : PER ))
            printf '%s\t%s\n' "/apps/scale/w$i/manifest" \
                "{\"image\": \"dockerfile/nginx\", \"scale\": $scale, \"services\": {\"w$i\": 80}}"
        done | jq -Rsc '[split("\n")[] | select(length > 0) | split("\t") |
                          {requestPut: {key: (.[0] | @base64), value: (.[1] | @base64)}}] | {success: .}')
        n=$(curl -sf -XPOST "$SIM_ETCD/v3/kv/txn" -d "$ops" | jq -r '.succeeded') || return 1
        [ "$n" = true ] || return 1
    done
}

# DEAD: a grep -E pattern of the dead hosts' ids ("s9[1-9]|s100"), or a pattern
# that matches no host.
DEAD='^$'
# Instances placed on a live host.
count_placed() {
    sim_etcdctl get --prefix /apps/scale/ | awk -v dead="\"host\":\"($DEAD)\"" '
        NR % 2 == 1 { key = $0; next }
        key ~ /\/instances\/[0-9]+$/ && $0 !~ dead { n++ }
        END { print n + 0 }'
}
# Instances announced, polled once all are placed on live hosts: the dead hosts'
# leases have expired by then (the scheduler moves nothing before), and their
# announcements, bound to those leases, with them. So the count (etcd's count_only,
# a light poll) is taken, and only when it is S the keys are listed to make sure.
count_announced() {
    local n
    n=$(sim_count /services/scale/) || return 1
    if [ "$n" = "$S" ] && [ "$DEAD" != '^$' ]; then
        n=$(sim_etcdctl get --prefix --keys-only /services/scale/ | grep -vE "@($DEAD)\$" | grep -c .)
    fi
    echo "$n"
}

# watch T0 -> WATCHED="PLACED ANNOUNCED POLL" seconds after T0: the first poll that
# saw S of each, and the longest poll; fails after TIMEOUT s. (A variable, not
# output: run in this shell, not in a $(...) subshell, a TERM's cleanup does not
# wait for the whole watch.)
watch() {
    local t0=$1 placed='' announced='' p a start slowest=0 took
    while :; do
        start=$EPOCHREALTIME
        [ -n "$placed" ] || { p=$(count_placed) && [ "$p" = "$S" ] && placed=$(echo "$EPOCHREALTIME - $t0" | bc); }
        [ -z "$placed" ] || { a=$(count_announced) && [ "$a" = "$S" ] &&
            announced=$(echo "$EPOCHREALTIME - $t0" | bc); }
        took=$(echo "$EPOCHREALTIME - $start" | bc)
        slowest=$(echo "if ($took > $slowest) $took else $slowest" | bc)
        [ -z "$announced" ] || { WATCHED="$placed $announced $slowest"; return 0; }
        [ "$(echo "$EPOCHREALTIME - $t0 < $TIMEOUT" | bc)" = 1 ] ||
            { dk_log "after ${TIMEOUT}s: ${p:-?} placed, ${a:-?} announced of $S"; return 1; }
        sleep "$POLL"
    done
}

# What the conductors' logs say so far: placements written by the scheduler (S,
# then one per moved instance: more means hosts were taken for dead that were not),
# passes skipped, lease keepalives failed.
warnings() {
    printf '%s placements written, %s passes skipped, %s lease keepalives failed' \
        "$(cat "$SIM_ROOT"/s*/conductor.log | grep -c 'info: schedule: ')" \
        "$(cat "$SIM_ROOT"/s*/conductor.log | grep -c 'pass skipped')" \
        "$(cat "$SIM_ROOT"/s*/conductor.log | grep -c 'lease keepalive')"
}

# cpu PIDFILE... -> the CPU seconds (user + system) the live processes used so far.
cpu() {
    local f ticks=0 t
    for f; do
        [ -s "$f" ] && t=$(awk '{print $14 + $15}' "/proc/$(cat "$f")/stat" 2>/dev/null) && ticks=$((ticks + t))
    done
    echo "scale=1; $ticks / $(getconf CLK_TCK)" | bc
}

# ---- one round ---------------------------------------------------------------------

# round -> ROUND="place converge replace reannounce poll", or fails.
round() {
    local t0 first second leader victims=() i rss apps
    ROUND='' DEAD='^$'
    sim_setup || return 1
    for i in $(seq 1 "$HOSTS"); do sim_start_host "$i" || return 1; done
    dk_wait 120 "$HOSTS hosts to register" sim_has /hosts/ "$HOSTS" || return 1
    dk_wait 30 "a scheduler" sh -c "ETCDCTL_API=3 etcdctl --endpoints=$SIM_ETCD get --print-value-only /cluster/leader | grep -q host" || return 1

    t0=$EPOCHREALTIME
    put_manifests || { dk_log "the manifests' transaction failed"; return 1; }
    watch "$t0" || return 1
    first=$WATCHED
    rss=$(ps -o rss= -p "$(cat "$SIM_ROOT"/s*/conductor.pid | paste -sd,)" | sort -n | tail -1)
    apps=$(curl -sf -XPOST "$SIM_ETCD/v3/kv/range" -d "{\"key\":\"$(printf /apps/ | base64)\",\"range_end\":\"$(printf /apps0 | base64)\"}" | wc -c)
    dk_log "placed and announced: $first; /apps/ is $((apps / 1024)) kB as JSON; conductor RSS max ${rss} kB; $(warnings)"

    leader=$(sim_etcdctl get --print-value-only /cluster/leader | jq -r .host)
    for ((i = HOSTS; i >= 1 && ${#victims[@]} < KILL; i--)); do
        [ "s$i" = "$leader" ] || victims+=("$i")
    done
    DEAD=$(printf 's%s|' "${victims[@]}") DEAD=${DEAD%|}
    t0=$EPOCHREALTIME
    for i in "${victims[@]}"; do sim_kill_host "$i"; done
    watch "$t0" || return 1
    second=$WATCHED
    dk_log "killed $DEAD (scheduler $leader kept): $second; $(warnings)"

    dk_log "CPU so far: etcd $(cpu "$SIM_ROOT/etcd/etcd.pid") s, the conductors $(cpu "$SIM_ROOT"/s*/conductor.pid) s, the live simengines $(cpu "$SIM_ROOT"/s*/simengine.pid) s"
    sim_etcdctl del --prefix /apps/scale/ >/dev/null
    dk_wait "$TIMEOUT" "the app's instances to go" sim_has /services/scale/ 0 || return 1
    sim_teardown
    set -- $first
    local p1=$1 c1=$2 poll1=$3
    set -- $second
    ROUND="$p1 $c1 $1 $2 $(echo "if ($poll1 > $3) $poll1 else $3" | bc)"
}

# ---- the rounds ------------------------------------------------------------------------

echo "$HOSTS simulated hosts, $S instances ($NM manifests of up to $PER), kill $KILL; $ROUNDS rounds"
printf '%-7s %10s %10s %12s %12s %10s\n' round placed running re-placed re-running 'max poll'
results=() failed=0
for r in $(seq 1 "$ROUNDS"); do
    if round; then
        results+=("$ROUND")
        printf '%-7s %9.2fs %9.2fs %11.2fs %11.2fs %9.2fs\n' "$r" $ROUND
    else
        printf '%-7s failed\n' "$r"
        failed=1
        SIM_KEEP=${SIM_KEEP:-} sim_teardown
    fi
done
[ ${#results[@]} -gt 0 ] || exit 1
range() { printf '%s\n' "${results[@]}" | awk -v f="$1" '{print $f}' | sort -g | sed -n '1p;$p' | paste -sd' ' | awk '{printf "%.2f-%.2f s", $1, $2}'; }
echo
echo "over ${#results[@]} round(s), $HOSTS hosts, $S instances (SIMULATED engines):"
echo "  place:    every instance placed $(range 1), every one running and announced $(range 2)"
echo "  kill $KILL hosts: all placed on live hosts again $(range 3), all announced again $(range 4)"
echo "  (the polls took up to $(range 5 | sed 's/.*-//'))"
exit "$failed"
