#!/usr/bin/env bash
# bench/cluster.sh - Dokkaa against Docker Swarm on the same three hosts.
#
# Brings up its own local cluster (`dokkaacfg up --provider=local --scale=3 --name
# bench`: three network-namespace hosts, each with its dockerd, etcd member and
# Dokkaa daemons) and forms a Docker Swarm over the same three engines (manager on
# h1, workers h2 and h3). Same image for both: nginx from the cluster's registry,
# present on every engine before each timed run, so neither side is timed pulling.
# Dokkaa and Swarm run one after the other, each cleaned up before the other, and
# each starts only once all three hosts are back (Dokkaa: every engine answers and
# every host holds its /hosts/ lease; Swarm: every engine answers, 3 nodes Ready).
# Both run on engines restarted without --live-restore, which swarm mode refuses.
#
#   (c) idle memory, first, before any workload: RSS and PSS of Dokkaa's conductor
#       + ambassador + builder on a host, and of its etcd member; against what swarm
#       mode ADDS to the engine: dockerd + containerd of the same host measured
#       idle before `docker swarm init/join` and again after (the manager's share
#       on h1, a worker's on h2). The engine both need counts on neither side. All
#       three local hosts are etcd members, so "daemons only" stands for a host
#       without a member.
#   (a) converge: time from the PUT of a manifest with scale 30 to 30 instances
#       announced under /services/ (announced = running), against the time from
#       `docker service create --replicas 30` to 30 tasks Running. Untimed checks
#       after: the containers run on the engines, Dokkaa's instances answer a GET.
#   (b) host death: with 30 replicas running, kill -9 every process of a host
#       (daemons, etcd member, engine, shims, containers); time until 30 replicas
#       run on the live hosts again. Dokkaa: 30 announcements, none on the dead
#       host, each answering an HTTP GET. Swarm: 30 tasks Running on the live
#       nodes (its tasks publish nothing, so Running is taken as reachable), and
#       as many containers running on their engines. Two victims:
#         - h3, not etcd's raft leader (leadership is moved to h1 first if h3
#           holds it), on both sides;
#         - the host of etcd's raft leader (`etcdctl endpoint status`), for Dokkaa
#           after a fresh converge. Swarm kills the same host, unless it is h1, its
#           only manager: then its h3 kill of the same round is the comparison.
#       After each kill the host is healed with `dokkaacfg up` (its engine rejoins
#       the swarm by itself).
#
# Prints each figure as the best and the min-max over ROUNDS (default 3) rounds,
# Dokkaa / Swarm ratios (lower is better) and issue 13's targets: (a) <= 1.0x,
# (b) <= 0.5x in both cases, (c) RSS of the daemons <= 1.0x what swarm mode adds,
# daemons + etcd member <= 2.0x. Memory is measured once, before the rounds.
# Sends traffic only to the cluster's 10.88.<n>.0/24. Removes everything it made
# (`dokkaacfg down --name bench`), also on failure. Exits non-zero when any
# measure failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. scripts/lib.sh
BIN=${DOKKAA_BIN:-$PWD/build/src}
ROUNDS=${ROUNDS:-3}
NAME=bench      # cluster name: namespaces bench-h<i>, state /var/lib/bench, /run/bench
REPLICAS=30
VICTIM=0        # the host being killed in (b), 0 for none; never h1 on Swarm's side
BOUND=180       # seconds any wait may take
MEM_SETTLE=${MEM_SETTLE:-10} # seconds of idle before memory is sampled
MEM_SAMPLES=5   # memory samples a second apart; each figure is their median

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc; } # T0 T1 -> seconds
cfg() { "$BIN/dokkaacfg" "$@"; }
dock() { local i=$1; shift; docker -H "unix:///run/$NAME/h$i/docker.sock" "$@"; }
ectl() { ETCDCTL_API=3 etcdctl --endpoints="$ETCD_LIVE" "$@"; }
builder() { echo "http://$NET.1$(live | head -1):4001/v2/keys/apps/$NAME"; } # a live host's
member() { printf 'http://%s.1%d:2379' "$NET" "$1"; }
live() { local i; for i in 1 2 3; do [ "$i" = "$VICTIM" ] || echo "$i"; done; }

# etcdctl talks to the live members only: a dead endpoint would stall its calls.
set_victim() { # N (0: none)
    local i
    VICTIM=$1 ETCD_LIVE=
    for i in $(live); do ETCD_LIVE+="$(member "$i"),"; done
    ETCD_LIVE=${ETCD_LIVE%,}
}

# ---- the cluster -------------------------------------------------------------

cluster_up() {
    cfg up --provider=local --scale=3 --name "$NAME" >"$LOG/up.log" 2>&1 \
        || { tail -20 "$LOG/up.log" >&2; return 1; }
    NET=10.88.$(sed -n 's/.*net=\([0-9]*\).*/\1/p' "/var/lib/$NAME/cluster")
    IMAGE=$NET.1:5000/dockerfile/nginx
    set_victim 0
}

cleanup() {
    trap - EXIT
    [ -n "${MADE:-}" ] || return 0
    dk_log "removing cluster $NAME"
    for i in 3 2 1; do timeout 20 docker -H "unix:///run/$NAME/h$i/docker.sock" swarm leave --force >/dev/null 2>&1; done
    cfg down --name "$NAME" >"$LOG/down.log" 2>&1 || tail -20 "$LOG/down.log" >&2
    rm -rf "$LOG"
}

# Every engine holds the image under both names, so no timed run pulls.
images_everywhere() {
    local i
    for i in 1 2 3; do
        dock "$i" pull -q "$IMAGE" >/dev/null && dock "$i" tag "$IMAGE" dockerfile/nginx || return 1
    done
}

# kill -9 every process of host I, as a user would (scripts/kill-host.sh); prints
# the time just before, so both sides are timed from the same moment.
kill_host() {
    local t
    t=$(now)
    scripts/kill-host.sh --name "$NAME" "h$1" >/dev/null || return 1
    echo "$t"
}

# Both sides on the same engines, restarted without --live-restore (bench/engines.sh).
# No figure here depends on it: (b) kills the whole host, containers included, and
# (c) compares an engine with itself.
. bench/engines.sh

heal() { # N: the killed host, 0 for none
    [ "$1" = 0 ] || engine_start "$1" || return 1
    cfg up --provider=local --scale=3 --name "$NAME" >"$LOG/heal.log" 2>&1 \
        || { tail -20 "$LOG/heal.log" >&2; return 1; }
}


no_containers() { # LABEL -> no such container on any engine
    local i
    for i in 1 2 3; do [ -z "$(dock "$i" ps -aq --filter "label=$1")" ] || return 1; done
}

# How many containers with LABEL run on the live engines: what the engines say,
# not the orchestrator. An engine that does not answer fails the count.
running_containers() { # LABEL -> count
    local i n sum=0
    for i in $(live); do
        n=$(dk_count . dock "$i" ps -q --filter "label=$1" --filter status=running) || return 1
        sum=$((sum + n))
    done
    echo "$sum"
}
all_running() { [ "$(running_containers "$1")" -ge "$REPLICAS" ]; } # LABEL

# The untimed check after a timed wait: the replicas really run on the engines.
check_running() { # SIDE LABEL
    dk_wait 10 "$REPLICAS $1 containers running on the live engines" all_running "$2" && return 0
    dk_log "$1: only $(running_containers "$2") containers with $2 run on h$(live | paste -sd, | sed 's/,/,h/g')"
    return 1
}

# ---- etcd's raft leader -------------------------------------------------------

etcd_leader() { # -> N, the host whose member leads (asked of every live member);
    local l            # fails unless exactly one says it leads
    l=$(ETCDCTL_API=3 etcdctl --endpoints="$ETCD_LIVE" endpoint status -w fields 2>/dev/null |
        awk -F' : ' '/"MemberID"/ {m=$2} /"Leader"/ {l=$2} /"Endpoint"/ {if (m != "" && m == l) print $2}' |
        sed -n "s|.*//${NET//./\\.}\.1\([1-3]\):2379.*|\1|p" | sort -u)
    [[ "$l" =~ ^[1-3]$ ]] && echo "$l"
}

# h3's case is the host that does not lead: if h3's member leads, it hands the
# leadership to h1's first (`etcdctl move-leader`), 3 s before the kill, past the
# lease extension a new leader grants (about an election timeout, 1 s).
not_leader() { # N
    local id
    [ "$(etcd_leader)" = "$1" ] || return 0
    id=$(ectl member list | awk -F', ' '$3 == "h1" {print $1}')
    dk_log "h$1's etcd member leads: moving the leadership to h1 ($id) first"
    ETCDCTL_API=3 etcdctl --endpoints="$(member "$1")" move-leader "$id" >/dev/null || return 1
    sleep 3
    [ "$(etcd_leader)" != "$1" ]
}

# ---- Dokkaa -------------------------------------------------------------------

put_manifest() {
    curl -sf -o /dev/null -XPUT --data-urlencode \
        "value={\"image\":\"dockerfile/nginx\",\"scale\":$REPLICAS,\"services\":{\"web\":80}}" \
        "$(builder)/web/manifest"
}
announcements() { ectl get --prefix --print-value-only "/services/$NAME/web/"; }
announced() { [ "$(ectl get --prefix --keys-only "/services/$NAME/web/" | grep -c .)" = "$REPLICAS" ]; }
on_victim() { announcements | grep -c "\"$NET.1$VICTIM\""; }
host_gone() { [ -z "$(ectl get --keys-only "/hosts/h$VICTIM")" ]; }
dokkaa_ready() {
    local i
    engines_answer || return 1
    for i in 1 2 3; do [ -n "$(ectl get --keys-only "/hosts/h$i")" ] || return 1; done
}

answering() { # ANNOUNCEMENTS -> every one answers an HTTP GET
    jq -r '"\(.addr):\(.port)"' <<<"$1" |
        xargs -P 10 -I{} curl -sf -o /dev/null --max-time 2 "http://{}/"
}

# 30 announced, none on the dead host, and every one answers an HTTP GET.
recovered() {
    local a
    a=$(announcements) || return 1
    [ "$(grep -c . <<<"$a")" = "$REPLICAS" ] || return 1
    ! grep -q "\"$NET.1$VICTIM\"" <<<"$a" || return 1
    answering "$a"
}

dokkaa_clean() {
    curl -sf -o /dev/null -XDELETE "$(builder)?recursive=true"
    dk_wait "$BOUND" "dokkaa's instances to go" no_containers "dokkaa.app=$NAME" &&
        dk_wait 30 "dokkaa's announcements to go" sh -c "! ETCDCTL_API=3 etcdctl --endpoints=$ETCD_LIVE get --prefix --keys-only /services/$NAME/ | grep -q ."
}

dokkaa_converge() { # -> seconds
    local t0 t
    t0=$(now)
    put_manifest || { dk_log "PUT of the manifest failed"; return 1; }
    dk_wait "$BOUND" "$REPLICAS dokkaa instances announced" announced || return 1
    t=$(elapsed "$t0" "$(now)")
    check_running dokkaa "dokkaa.app=$NAME" || return 1
    answering "$(announcements)" || { dk_log "dokkaa: an announced instance does not answer"; return 1; }
    echo "$t"
}

# Where the seconds went, from the live conductors' logs (1 s resolution).
dokkaa_timeline() { # KILL_EPOCH ETCD_LEADER_WAS_VICTIM SCHED_LEADER LEASE_GONE_AFTER
    local k=$1 logs=() i first last
    for i in $(live); do logs+=("/var/lib/$NAME/h$i/conductor.log"); done
    stamp() { date -u -d "@$k" +%Y-%m-%dT%H:%M:%S; }
    first=$(awk -v t="$(stamp)" 'substr($1,1,19) >= t && /schedule: / {print $1}' "${logs[@]}" | sort | head -1)
    last=$(awk -v t="$(stamp)" -v p="/services/$NAME/web/" 'substr($1,1,19) >= t && index($0, p) {print $1}' "${logs[@]}" | sort | tail -1)
    rel() { [ -n "$1" ] && echo "+$(( $(date -d "$1" +%s) - ${k%.*} ))s" || echo "?"; }
    dk_log "dokkaa (b): h$VICTIM was etcd leader: $2; scheduler leader: $3; /hosts/h$VICTIM gone (lease expired, or revoked by an audit) at +$(printf '%.1f' "$4")s;" \
        "rescheduled at $(rel "$first"), last announced at $(rel "$last") (conductor logs, 1 s resolution)"
}

dokkaa_host_death() { # -> seconds; kills VICTIM
    local t0 t gone etcd_leader sched
    [ "$(on_victim)" -gt 0 ] || { dk_log "dokkaa: nothing runs on h$VICTIM"; return 1; }
    etcd_leader=$(ETCDCTL_API=3 etcdctl --endpoints="$(member "$VICTIM")" endpoint status -w fields 2>/dev/null |
        awk -F' : ' '/"MemberID"/ {m=$2} /"Leader"/ {l=$2} END {print (m != "" && m == l) ? "yes" : "no"}')
    sched=$(ectl get --print-value-only /cluster/leader | jq -r .host)
    t0=$(kill_host "$VICTIM") || return 1
    dk_wait "$BOUND" "h$VICTIM's lease to expire" host_gone || return 1
    gone=$(now)
    dk_wait "$BOUND" "$REPLICAS dokkaa instances off h$VICTIM and answering" recovered || return 1
    t=$(elapsed "$t0" "$(now)")
    dokkaa_timeline "$t0" "${etcd_leader:-?}" "${sched:-?}" "$(elapsed "$t0" "$gone")"
    check_running dokkaa "dokkaa.app=$NAME" || return 1
    echo "$t"
}

# ---- Swarm --------------------------------------------------------------------

node_id() { dock "$1" info -f '{{.Swarm.NodeID}}'; }
running_on() { dock 1 node ps "$1" --filter desired-state=running --format '{{.CurrentState}}' | grep -c '^Running'; }
tasks_running() { [ "$(dock 1 service ps web --filter desired-state=running --format '{{.CurrentState}}' | grep -c '^Running')" = "$REPLICAS" ]; }
node_down() { [ "$(dock 1 node inspect -f '{{.Status.State}}' "${NODE[$VICTIM]}")" = down ]; }
nodes_ready() { [ "$(dock 1 node ls --format '{{.Status}}' | grep -c '^Ready$')" = 3 ]; }
swarm_ready() { engines_answer && nodes_ready; }

# Running tasks on the live nodes (`docker node ps` one node at a time: given
# several, it repeats tasks).
live_running() {
    local n sum=0 i
    for i in $(live); do
        n=$(running_on "${NODE[$i]}") || return 1
        sum=$((sum + n))
    done
    [ "$sum" = "$REPLICAS" ]
}

swarm_form() {
    local token i
    dock 1 swarm init --advertise-addr "$NET.11" --listen-addr "$NET.11:2377" >/dev/null || return 1
    token=$(dock 1 swarm join-token -q worker) || return 1
    for i in 2 3; do
        dock "$i" swarm join --token "$token" --advertise-addr "$NET.1$i" "$NET.11:2377" >/dev/null || return 1
    done
    declare -gA NODE
    for i in 1 2 3; do NODE[$i]=$(node_id "$i") && [ -n "${NODE[$i]}" ] || return 1; done
    dk_wait 60 "three swarm nodes Ready" nodes_ready
}

swarm_clean() {
    dock 1 service rm web >/dev/null 2>&1
    dk_wait "$BOUND" "swarm's tasks to go" no_containers com.docker.swarm.service.name=web
}

swarm_converge() { # -> seconds
    local t0 t id
    t0=$(now)
    id=$(dock 1 service create -d --replicas "$REPLICAS" --name web "$IMAGE") && [ -n "$id" ] ||
        { dk_log "swarm: service create failed"; return 1; }
    dk_wait "$BOUND" "$REPLICAS swarm tasks Running" tasks_running || return 1
    t=$(elapsed "$t0" "$(now)")
    check_running swarm com.docker.swarm.service.name=web || return 1
    echo "$t"
}

swarm_host_death() { # -> seconds; kills VICTIM
    local t0 t down
    [ "$VICTIM" != 1 ] || { dk_log "swarm: h1 is the only manager"; return 1; }
    [ "$(running_on "${NODE[$VICTIM]}")" -gt 0 ] || { dk_log "swarm: nothing runs on h$VICTIM"; return 1; }
    t0=$(kill_host "$VICTIM") || return 1
    dk_wait "$BOUND" "swarm node h$VICTIM Down" node_down || return 1
    down=$(now)
    dk_wait "$BOUND" "$REPLICAS swarm tasks Running on live nodes" live_running || return 1
    t=$(elapsed "$t0" "$(now)")
    dk_log "swarm (b): node h$VICTIM Down at +$(printf '%.1f' "$(elapsed "$t0" "$down")")s"
    check_running swarm com.docker.swarm.service.name=web || return 1
    echo "$t"
}

# ---- rounds -------------------------------------------------------------------

# Every side starts with all three hosts back, the image on every engine.
ready() { # SIDE
    local t0
    t0=$(now)
    dk_wait "$BOUND" "all three hosts back for $1" "${1}_ready" || return 1
    dk_log "$1 round: all three hosts back (engines answer, and $([ "$1" = swarm ] && echo "3 nodes Ready" ||
        echo "3 host leases")) after a wait of $(printf '%.1f' "$(elapsed "$t0" "$(now)")") s"
    images_everywhere || { dk_log "could not put $IMAGE on every engine"; return 1; }
}

# After a kill: clean up, heal the host, and clean up what it ran before its death.
after_kill() { # SIDE
    local v=$VICTIM
    "${1}_clean"
    set_victim 0
    heal "$v" && dk_wait "$BOUND" "all three hosts back for $1" "${1}_ready" && "${1}_clean"
}

# One converge then one kill of host N; sets C (converge) and D (recovery), either
# empty when it failed.
converge_kill() { # SIDE N
    C=$("${1}_converge") || C=
    D=
    [ -n "$C" ] || return 0
    set_victim "$2"
    D=$("${1}_host_death") || D=
}

round_dokkaa() { # R
    local r=$1 lead
    ready dokkaa || return 1
    # h3, not the etcd leader: (a), then (b) first case
    not_leader 3 || { dk_log "could not move etcd's leadership off h3"; return 1; }
    converge_kill dokkaa 3
    CONV_dokkaa[r]=$C H3_dokkaa[r]=$D
    dk_log "dokkaa (a) converge $REPLICAS: ${C:-failed} s; (b) h3 killed: ${D:-failed} s"
    after_kill dokkaa && ready dokkaa || return 1
    # the etcd leader's host, after a fresh converge (not counted in (a))
    lead=$(etcd_leader) || { dk_log "no etcd leader found"; return 1; }
    LEADHOST[r]=$lead
    converge_kill dokkaa "$lead"
    LEAD_dokkaa[r]=$D
    dk_log "dokkaa (b) etcd leader's host h$lead killed: ${D:-failed} s (after a converge in ${C:-failed} s)"
    after_kill dokkaa
}

round_swarm() { # R
    local r=$1 lead=${LEADHOST[$1]:-}
    ready swarm || return 1
    converge_kill swarm 3
    CONV_swarm[r]=$C H3_swarm[r]=$D
    dk_log "swarm (a) converge $REPLICAS: ${C:-failed} s; (b) h3 killed: ${D:-failed} s"
    after_kill swarm || return 1
    case $lead in
    1|3)
        LEAD_swarm[r]=${H3_swarm[r]}
        [ "$lead" = 1 ] && dk_log "swarm: the etcd leader's host h1 is Swarm's only manager, not killed; its h3 kill stands in"
        return 0 ;;
    2)  ready swarm || return 1
        converge_kill swarm 2
        LEAD_swarm[r]=$D
        dk_log "swarm (b) h2 killed: ${D:-failed} s (after a converge in ${C:-failed} s)"
        after_kill swarm ;;
    *)  LEAD_swarm[r]= ;;
    esac
}

# ---- memory -------------------------------------------------------------------

# The pids of DAEMONs of host N, from the local provider's pid files; fails
# rather than count a daemon that is not there as 0.
host_pids() { # N DAEMON...
    local i=$1 d f p; shift
    for d in "$@"; do
        f=/run/$NAME/h$i/$d.pid
        [ "$d" = containerd ] && f=/run/$NAME/h$i/exec/containerd/containerd.pid
        p=$(cat "$f" 2>/dev/null) && [ -r "/proc/$p/smaps_rollup" ] || { dk_log "h$i: no live $d ($f)"; return 1; }
        echo "$p"
    done
}

rss_pss() { # PID... -> "RSS_KB PSS_KB" summed
    local p
    for p in "$@"; do cat "/proc/$p/smaps_rollup" || return 1; done |
        awk '/^Rss:/ {r+=$2} /^Pss:/ {p+=$2} END {print r+0, p+0}'
}

# The median of MEM_SAMPLES samples a second apart, RSS and PSS each, in kB:
# one sample would take a Go runtime's passing garbage for its size.
mem() { # N DAEMON... -> "RSS_KB PSS_KB"
    local pids s samples=
    pids=$(host_pids "$@") || return 1
    for s in $(seq "$MEM_SAMPLES"); do
        # shellcheck disable=SC2086 # pids: one a word
        samples+="$(rss_pss $pids) "$'\n' || return 1
        [ "$s" = "$MEM_SAMPLES" ] || sleep 1
    done
    median() { grep . | awk "{print \$$1}" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
    echo "$(median 1 <<<"$samples") $(median 2 <<<"$samples")"
}

# Before the swarm is formed: Dokkaa's parts and the bare engines; after: the engines.
measure_dokkaa_and_engines() {
    local i
    sleep "$MEM_SETTLE"
    for i in 1 2; do
        read -r "DK_RSS[$i]" "DK_PSS[$i]" < <(mem "$i" conductor ambassador builder) &&
            read -r "ET_RSS[$i]" "ET_PSS[$i]" < <(mem "$i" etcd) &&
            read -r "EN0_RSS[$i]" "EN0_PSS[$i]" < <(mem "$i" dockerd containerd) || return 1
    done
    [ -n "${DK_RSS[2]:-}" ] && [ -n "${ET_RSS[2]:-}" ] && [ -n "${EN0_RSS[2]:-}" ]
}
measure_swarm_engines() {
    local i
    sleep "$MEM_SETTLE"
    for i in 1 2; do read -r "EN1_RSS[$i]" "EN1_PSS[$i]" < <(mem "$i" dockerd containerd) || return 1; done
    [ -n "${EN1_RSS[2]:-}" ]
}

# ---- output -------------------------------------------------------------------

vals() { printf '%s\n' "$@" | grep .; } # the measured values among VALUE...
fmt() { printf '%.2f' "$1"; }
cell() { # VALUE... -> "best (min-max)", lower is best; "-" when none; "k/N" when some failed
    local v n
    v=$(vals "$@" | sort -g) || { echo -; return; }
    n=$(grep -c . <<<"$v")
    printf '%s (%s-%s)%s' "$(fmt "$(head -1 <<<"$v")")" "$(fmt "$(head -1 <<<"$v")")" \
        "$(fmt "$(tail -1 <<<"$v")")" "$([ "$n" = "$ROUNDS" ] || echo " $n/$ROUNDS")"
}
ratios() { # NAME_A NAME_B -> per round A[r]/B[r], where both were measured
    local -n a=$1 b=$2
    local r
    for r in $(seq 1 "$ROUNDS"); do
        [ -n "${a[r]:-}" ] && [ -n "${b[r]:-}" ] && echo "${a[r]} / ${b[r]}" | bc -l
    done
}
ratio_cell() { # NAME_A NAME_B -> ratio of the bests (per-round ratios min-max)
    local ba bb rs
    ba=$(vals "${A[@]}" | sort -g | head -1); bb=$(vals "${B[@]}" | sort -g | head -1)
    [ -n "$ba" ] && [ -n "$bb" ] || { echo -; return; }
    rs=$(ratios "$1" "$2" | sort -g)
    [ -n "$rs" ] || { printf '%.2fx' "$(echo "$ba / $bb" | bc -l)"; return; }
    printf '%.2fx (%.2f-%.2fx)' "$(echo "$ba / $bb" | bc -l)" "$(head -1 <<<"$rs")" "$(tail -1 <<<"$rs")"
}
row() { # LABEL NAME_DOKKAA NAME_SWARM TARGET
    local -n A=$2 B=$3
    printf '%-36s %-22s %-22s %-22s %s\n' "$1" "$(cell "${A[@]}")" "$(cell "${B[@]}")" "$(ratio_cell "$2" "$3")" "$4"
}
mb() { printf '%.1f' "$(echo "$1 / 1024" | bc -l)"; }
mrow() { printf '  %-52s %8s %8s\n' "$1" "$(mb "$2")" "$(mb "$3")"; }
mratio() { # LABEL RSS_A RSS_B PSS_A PSS_B TARGET
    local r=- p=-
    [ "$3" -gt 0 ] && r=$(printf '%.2fx' "$(echo "$2 / $3" | bc -l)")
    [ "$5" -gt 0 ] && p=$(printf '%.2fx' "$(echo "$4 / $5" | bc -l)")
    printf '  %-52s %8s %8s   %s\n' "$1" "$r" "$p" "$6"
}

report() {
    local i role sw_rss sw_pss hosts
    hosts=$(vals "${LEADHOST[@]}" | sed 's/^/h/' | paste -sd,)
    echo
    echo "Dokkaa vs Swarm, 3 hosts, $ROUNDS round(s): best (min-max over rounds; k/N when only k succeeded)"
    printf '%-36s %-22s %-22s %-22s %s\n' "" dokkaa swarm "ratio (per round)" target
    row "(a) converge $REPLICAS replicas, s" CONV_dokkaa CONV_swarm "<= 1.0x"
    row "(b) h3 killed (not etcd leader), s" H3_dokkaa H3_swarm "<= 0.5x"
    row "(b) etcd leader's host killed, s" LEAD_dokkaa LEAD_swarm "<= 0.5x"
    echo "(b) recovery: $REPLICAS replicas running again on the live hosts. Dokkaa: every announced"
    echo "    instance answered an HTTP GET; Swarm: tasks Running (no published ports), taken as"
    echo "    reachable. Both: as many containers running on the live engines."
    echo "    etcd leader's host, by round: ${hosts:--}. Swarm killed the same host when it was not"
    echo "    h1 (its only manager); for h1, or h3, its h3 kill of that round is the comparison."
    echo
    echo "(c) idle memory before any workload, median of $MEM_SAMPLES samples, MB   RSS      PSS"
    for i in 1 2; do
        mrow "h$i dokkaa: conductor + ambassador + builder" "${DK_RSS[i]}" "${DK_PSS[i]}"
        mrow "h$i dokkaa: etcd member" "${ET_RSS[i]}" "${ET_PSS[i]}"
        role=worker; [ "$i" = 1 ] && role=manager
        mrow "h$i engine (dockerd + containerd), before swarm mode" "${EN0_RSS[i]}" "${EN0_PSS[i]}"
        mrow "h$i engine, in swarm mode ($role)" "${EN1_RSS[i]}" "${EN1_PSS[i]}"
        mrow "h$i swarm mode adds ($role's share)" "$((EN1_RSS[i] - EN0_RSS[i]))" "$((EN1_PSS[i] - EN0_PSS[i]))"
    done
    echo "  All three local hosts are etcd members: \"daemons only\" is the figure of a host without one."
    printf '  %-52s %8s %8s   %s\n' "ratio, dokkaa / what swarm mode adds" RSS PSS target
    for i in 2 1; do
        role=worker; [ "$i" = 1 ] && role=manager
        sw_rss=$((EN1_RSS[i] - EN0_RSS[i])) sw_pss=$((EN1_PSS[i] - EN0_PSS[i]))
        mratio "daemons only (h$i) / swarm's $role share (h$i)" "${DK_RSS[i]}" "$sw_rss" "${DK_PSS[i]}" "$sw_pss" "<= 1.0x (RSS)"
        mratio "daemons + etcd member (h$i) / $role share (h$i)" "$((DK_RSS[i] + ET_RSS[i]))" "$sw_rss" \
            "$((DK_PSS[i] + ET_PSS[i]))" "$sw_pss" "<= 2.0x (RSS)"
    done
    echo "  The engine both need counts on neither side."
}

all_measured() {
    local a r x
    for a in CONV_dokkaa H3_dokkaa LEAD_dokkaa CONV_swarm H3_swarm LEAD_swarm; do
        for r in $(seq 1 "$ROUNDS"); do x="${a}[$r]"; [ -n "${!x:-}" ] || return 1; done
    done
}

# ---- main ---------------------------------------------------------------------

command -v jq >/dev/null && command -v bc >/dev/null || { DK_PACKAGES=(jq bc); dk_need_packages; }
[ -x "$BIN/dokkaacfg" ] || dk_die "no $BIN/dokkaacfg: run make first"
[ ! -e "/var/lib/$NAME/cluster" ] || dk_die "a cluster '$NAME' exists already: dokkaacfg down --name $NAME"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || dk_die "ROUNDS must be a positive number"
LOG=$(mktemp -d /tmp/dokkaa-bench-cluster.XXXXXX)
trap cleanup EXIT
trap 'exit 130' INT TERM
# shellcheck disable=SC2034 # read through namerefs (row, ratios) and all_measured
declare -a CONV_dokkaa=() H3_dokkaa=() LEAD_dokkaa=() CONV_swarm=() H3_swarm=() LEAD_swarm=() LEADHOST=()
declare -a DK_RSS=() DK_PSS=() ET_RSS=() ET_PSS=() EN0_RSS=() EN0_PSS=() EN1_RSS=() EN1_PSS=()

dk_log "bringing up cluster $NAME (3 hosts)"
MADE=1
cluster_up || dk_die "dokkaacfg up failed"
dk_log "restarting the engines without --live-restore (swarm mode refuses it)"
for i in 1 2 3; do engine_restart "$i" || dk_die "could not restart h$i's engine"; done
dk_wait "$BOUND" "all three hosts back" dokkaa_ready || dk_die "the cluster did not come back"
dk_log "cluster $NAME on $NET.0/24; idle memory of Dokkaa and of the bare engines (h1, h2)"
measure_dokkaa_and_engines || dk_die "could not measure idle memory"
dk_log "forming a swarm over the engines"
swarm_form || dk_die "swarm init/join failed (see /var/lib/$NAME/h1/dockerd.log)"
measure_swarm_engines || dk_die "could not measure the engines in swarm mode"
ok=1
for r in $(seq 1 "$ROUNDS"); do
    dk_log "round $r of $ROUNDS"
    round_dokkaa "$r" || { dk_log "dokkaa round $r: could not set up, clean up or heal"; ok=; break; }
    round_swarm "$r" || { dk_log "swarm round $r: could not set up, clean up or heal"; ok=; break; }
done
report
[ -n "$ok" ] && all_measured
