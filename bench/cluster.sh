#!/usr/bin/env bash
# bench/cluster.sh - Dokkaa against Docker Swarm on the same three hosts.
#
# Brings up its own local cluster (`dokkaacfg up --provider=local --scale=3 --name
# bench`: three network-namespace hosts, each with its dockerd, etcd member and
# Dokkaa daemons) and forms a Docker Swarm over the same three engines (manager on
# h1, workers h2 and h3). Same image for both: nginx from the cluster's registry,
# present on every engine before each timed run, so neither side is timed pulling.
# Dokkaa and Swarm run one after the other, each cleaned up before the other.
#
#   (a) converge: time from the PUT of a manifest with scale 30 to 30 instances
#       announced under /services/ (announced = running), against the time from
#       `docker service create --replicas 30` to 30 tasks Running.
#   (b) host death: with 30 replicas running, kill -9 every process of host h3
#       (daemons, etcd member, engine, shims, containers); time until 30 replicas
#       run on the live hosts again. Dokkaa: 30 announcements, none on h3, each
#       answering an HTTP GET. Swarm: 30 tasks Running on h1/h2 (its tasks publish
#       nothing, so Running is taken as reachable). Then the host is healed with
#       `dokkaacfg up` (and rejoins the swarm by itself).
#   (c) idle memory, after the runs with nothing deployed: RSS and PSS of one
#       host's conductor + ambassador + builder against that host's dockerd +
#       containerd in swarm mode.
#
# Prints Dokkaa / Swarm ratios (lower is better) with the targets of issue 3:
# (a) <= 1.0x, (b) <= 0.5x, (c) < 0.1x. ROUNDS (default 1) repeats (a) and (b) and
# keeps the best of each side. Sends traffic only to the cluster's 10.88.<n>.0/24.
# Removes everything it made (`dokkaacfg down --name bench`), also on failure.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. scripts/lib.sh
BIN=${DOKKAA_BIN:-$PWD/build/src}
ROUNDS=${ROUNDS:-1}
NAME=bench      # cluster name: namespaces bench-h<i>, state /var/lib/bench, /run/bench
REPLICAS=30
VICTIM=3        # the host killed in (b); never h1, Swarm's only manager
MEM_HOST=2      # the host measured in (c): a swarm worker that is never killed
BOUND=180       # seconds any wait may take

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc; } # T0 T1 -> seconds
best() { printf '%s\n' "$@" | grep . | sort -n | head -1; }
cfg() { "$BIN/dokkaacfg" "$@"; }
dock() { local i=$1; shift; docker -H "unix:///run/$NAME/h$i/docker.sock" "$@"; }
ectl() { ETCDCTL_API=3 etcdctl --endpoints="$ETCD_LIVE" "$@"; }
builder() { echo "http://$NET.11:4001/v2/keys/apps/$NAME"; }

# ---- the cluster -------------------------------------------------------------

cluster_up() {
    cfg up --provider=local --scale=3 --name "$NAME" >"$LOG/up.log" 2>&1 \
        || { tail -20 "$LOG/up.log" >&2; return 1; }
    NET=10.88.$(sed -n 's/.*net=\([0-9]*\).*/\1/p' "/var/lib/$NAME/cluster")
    IMAGE=$NET.1:5000/dockerfile/nginx
    ETCD_LIVE=$(for i in 1 2 3; do [ "$i" = "$VICTIM" ] || printf 'http://%s.1%d:2379,' "$NET" "$i"; done)
    ETCD_LIVE=${ETCD_LIVE%,}
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

heal() {
    cfg up --provider=local --scale=3 --name "$NAME" >"$LOG/heal.log" 2>&1 \
        || { tail -20 "$LOG/heal.log" >&2; return 1; }
}

no_containers() { # LABEL -> no such container on any engine
    local i
    for i in 1 2 3; do [ -z "$(dock "$i" ps -aq --filter "label=$1")" ] || return 1; done
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

# 30 announced, none on the dead host, and every one answers an HTTP GET.
recovered() {
    local a
    a=$(announcements) || return 1
    [ "$(grep -c . <<<"$a")" = "$REPLICAS" ] || return 1
    ! grep -q "\"$NET.1$VICTIM\"" <<<"$a" || return 1
    jq -r '"\(.addr):\(.port)"' <<<"$a" |
        xargs -P 10 -I{} curl -sf -o /dev/null --max-time 2 "http://{}/"
}

dokkaa_clean() {
    curl -sf -o /dev/null -XDELETE "$(builder)?recursive=true"
    dk_wait "$BOUND" "dokkaa's instances to go" no_containers "dokkaa.app=$NAME" &&
        dk_wait 30 "dokkaa's announcements to go" sh -c "! ETCDCTL_API=3 etcdctl --endpoints=$ETCD_LIVE get --prefix --keys-only /services/$NAME/ | grep -q ."
}

dokkaa_converge() { # -> seconds
    local t0
    t0=$(now)
    put_manifest || { dk_log "PUT of the manifest failed"; return 1; }
    dk_wait "$BOUND" "$REPLICAS dokkaa instances announced" announced || return 1
    elapsed "$t0" "$(now)"
}

# Where the seconds went, from the live conductors' logs (1 s resolution).
dokkaa_timeline() { # KILL_EPOCH ETCD_LEADER_WAS_VICTIM SCHED_LEADER LEASE_GONE_AFTER
    local k=$1 logs=() i first last
    for i in 1 2 3; do [ "$i" = "$VICTIM" ] || logs+=("/var/lib/$NAME/h$i/conductor.log"); done
    stamp() { date -u -d "@$k" +%Y-%m-%dT%H:%M:%S; }
    first=$(awk -v t="$(stamp)" 'substr($1,1,19) >= t && /schedule: / {print $1}' "${logs[@]}" | sort | head -1)
    last=$(awk -v t="$(stamp)" -v p="/services/$NAME/web/" 'substr($1,1,19) >= t && index($0, p) {print $1}' "${logs[@]}" | sort | tail -1)
    rel() { [ -n "$1" ] && echo "+$(( $(date -d "$1" +%s) - ${k%.*} ))s" || echo "?"; }
    dk_log "dokkaa (b): h$VICTIM was etcd leader: $2; scheduler leader: $3; /hosts/h$VICTIM gone (lease expired) at +$(printf '%.1f' "$4")s;" \
        "rescheduled at $(rel "$first"), last announced at $(rel "$last") (conductor logs, 1 s resolution)"
}

dokkaa_host_death() { # -> seconds
    local t0 gone etcd_leader sched
    [ "$(on_victim)" -gt 0 ] || { dk_log "dokkaa: nothing runs on h$VICTIM"; return 1; }
    etcd_leader=$(ETCDCTL_API=3 etcdctl --endpoints="http://$NET.1$VICTIM:2379" endpoint status -w fields 2>/dev/null |
        awk -F' : ' '/"MemberID"/ {m=$2} /"Leader"/ {l=$2} END {print (m != "" && m == l) ? "yes" : "no"}')
    sched=$(ectl get --print-value-only /cluster/leader | jq -r .host)
    t0=$(kill_host "$VICTIM") || return 1
    dk_wait "$BOUND" "h$VICTIM's lease to expire" host_gone || return 1
    gone=$(now)
    dk_wait "$BOUND" "$REPLICAS dokkaa instances off h$VICTIM and answering" recovered || return 1
    elapsed "$t0" "$(now)"
    dokkaa_timeline "$t0" "${etcd_leader:-?}" "${sched:-?}" "$(elapsed "$t0" "$gone")"
}

# ---- Swarm --------------------------------------------------------------------

node_id() { dock "$1" info -f '{{.Swarm.NodeID}}'; }
running_on() { dock 1 node ps "$1" --filter desired-state=running --format '{{.CurrentState}}' | grep -c '^Running'; }
tasks_running() { [ "$(dock 1 service ps web --filter desired-state=running --format '{{.CurrentState}}' | grep -c '^Running')" = "$REPLICAS" ]; }
node_down() { [ "$(dock 1 node inspect -f '{{.Status.State}}' "${NODE[$VICTIM]}")" = down ]; }
nodes_ready() { [ "$(dock 1 node ls --format '{{.Status}}' | grep -c '^Ready$')" = 3 ]; }

# Running tasks on the live nodes (`docker node ps` one node at a time: given
# several, it repeats tasks).
live_running() {
    local n sum=0 i
    for i in 1 2 3; do
        [ "$i" = "$VICTIM" ] && continue
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
    for i in 1 2 3; do NODE[$i]=$(node_id "$i") || return 1; done
    dk_wait 60 "three swarm nodes Ready" nodes_ready
}

swarm_clean() {
    dock 1 service rm web >/dev/null 2>&1
    dk_wait "$BOUND" "swarm's tasks to go" no_containers com.docker.swarm.service.name=web
}

swarm_converge() { # -> seconds
    local t0
    t0=$(now)
    dock 1 service create -d --replicas "$REPLICAS" --name web "$IMAGE" >/dev/null || return 1
    dk_wait "$BOUND" "$REPLICAS swarm tasks Running" tasks_running || return 1
    elapsed "$t0" "$(now)"
}

swarm_host_death() { # -> seconds
    local t0 down
    [ "$(running_on "${NODE[$VICTIM]}")" -gt 0 ] || { dk_log "swarm: nothing runs on h$VICTIM"; return 1; }
    t0=$(kill_host "$VICTIM") || return 1
    dk_wait "$BOUND" "swarm node h$VICTIM Down" node_down || return 1
    down=$(now)
    dk_wait "$BOUND" "$REPLICAS swarm tasks Running on live nodes" live_running || return 1
    elapsed "$t0" "$(now)"
    dk_log "swarm (b): node h$VICTIM Down at +$(printf '%.1f' "$(elapsed "$t0" "$down")")s"
}

# ---- one round of each --------------------------------------------------------

# SIDE -> appends to CONV_<side> and DEATH_<side>; a failed measure stays empty.
round() {
    local side=$1 c d
    images_everywhere || { dk_log "could not put $IMAGE on every engine"; return 1; }
    c=$("${side}_converge") || c=
    dk_log "$side (a) converge $REPLICAS: ${c:-failed} s"
    if [ -n "$c" ]; then
        d=$("${side}_host_death") || d=
        dk_log "$side (b) host h$VICTIM killed: ${d:-failed} s"
    else
        d=
    fi
    eval "CONV_$side+=(\"\$c\") DEATH_$side+=(\"\$d\")"
    "${side}_clean"
    heal || return 1
    [ "$side" = dokkaa ] || dk_wait 120 "swarm node h$VICTIM Ready again" nodes_ready || return 1
    "${side}_clean" # what the healed host ran before its death goes too
}

# ---- memory -------------------------------------------------------------------

rss_pss() { # PID... -> "RSS_KB PSS_KB" summed
    local p
    for p in "$@"; do cat "/proc/$p/smaps_rollup"; done |
        awk '/^Rss:/ {r+=$2} /^Pss:/ {p+=$2} END {print r+0, p+0}'
}
pidof_file() { cat "$1" 2>/dev/null; }

measure_memory() {
    local run=/run/$NAME/h$MEM_HOST d
    local dk=() sw=()
    for d in conductor ambassador builder; do dk+=("$(pidof_file "$run/$d.pid")"); done
    sw=("$(pidof_file "$run/dockerd.pid")" "$(pidof_file "$run/exec/containerd/containerd.pid")")
    read -r MEM_DK_RSS MEM_DK_PSS < <(rss_pss "${dk[@]}")
    read -r MEM_SW_RSS MEM_SW_PSS < <(rss_pss "${sw[@]}")
}

# ---- output -------------------------------------------------------------------

row() { # LABEL DOKKAA SWARM TARGET
    local ratio=-
    [ -n "$2" ] && [ -n "$3" ] && ratio=$(printf '%.2fx' "$(echo "$2 / $3" | bc -l)")
    printf '%-40s %9s %9s %8s   %s\n' "$1" "${2:--}" "${3:--}" "$ratio" "$4"
}
fmt() { [ -n "$1" ] && printf '%.2f' "$1"; }
mb() { printf '%.1f' "$(echo "$1 / 1024" | bc -l)"; }

report() {
    echo
    printf '%-40s %9s %9s %8s   %s\n' "Dokkaa vs Swarm, 3 hosts (best of $ROUNDS)" dokkaa swarm ratio target
    row "(a) converge $REPLICAS replicas, s" "$(fmt "$(best "${CONV_dokkaa[@]}")")" "$(fmt "$(best "${CONV_swarm[@]}")")" "<= 1.0x"
    row "(b) h$VICTIM killed -> $REPLICAS running again, s" "$(fmt "$(best "${DEATH_dokkaa[@]}")")" "$(fmt "$(best "${DEATH_swarm[@]}")")" "<= 0.5x"
    row "(c) idle memory of h$MEM_HOST, RSS MB" "$(mb "$MEM_DK_RSS")" "$(mb "$MEM_SW_RSS")" "< 0.1x"
    row "    idle memory of h$MEM_HOST, PSS MB" "$(mb "$MEM_DK_PSS")" "$(mb "$MEM_SW_PSS")" ""
    echo "(b) dokkaa: every announced instance answered an HTTP GET; swarm: tasks Running"
    echo "    (no published ports) are taken as reachable."
    echo "(c) dokkaa: conductor + ambassador + builder; swarm: dockerd + containerd (worker)."
}

# ---- main ---------------------------------------------------------------------

command -v jq >/dev/null && command -v bc >/dev/null || { DK_PACKAGES=(jq bc); dk_need_packages; }
[ -x "$BIN/dokkaacfg" ] || dk_die "no $BIN/dokkaacfg: run make first"
[ ! -e "/var/lib/$NAME/cluster" ] || dk_die "a cluster '$NAME' exists already: dokkaacfg down --name $NAME"
LOG=$(mktemp -d /tmp/dokkaa-bench-cluster.XXXXXX)
trap cleanup EXIT
trap 'exit 130' INT TERM
CONV_dokkaa=() DEATH_dokkaa=() CONV_swarm=() DEATH_swarm=()

dk_log "bringing up cluster $NAME (3 hosts)"
MADE=1
cluster_up || dk_die "dokkaacfg up failed"
dk_log "cluster $NAME on $NET.0/24; forming a swarm over its engines"
swarm_form || dk_die "swarm init/join failed (see /var/lib/$NAME/h1/dockerd.log)"
for r in $(seq 1 "$ROUNDS"); do
    round dokkaa || dk_die "dokkaa round $r: could not clean up or heal"
    round swarm || dk_die "swarm round $r: could not clean up or heal"
done
sleep 2
measure_memory
report
[ -n "$(best "${CONV_dokkaa[@]}")" ] && [ -n "$(best "${DEATH_dokkaa[@]}")" ] &&
    [ -n "$(best "${CONV_swarm[@]}")" ] && [ -n "$(best "${DEATH_swarm[@]}")" ]
