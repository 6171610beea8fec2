#!/usr/bin/env bash
# bench/rollout.sh - a rolling update under load: Dokkaa against Docker Swarm on the
# same three hosts.
#
# Brings up its own local cluster (`dokkaacfg up --provider=local --scale=3 --name
# bench`) and forms a Docker Swarm over the same three engines (manager h1, workers
# h2 and h3), as bench/cluster.sh does. Same images for both, from the cluster's
# registry and present on every engine before anything is timed: dockerfile/nginx
# (the web service) and dockerfile/ubuntu (bash + curl, the client). The local
# provider runs every dockerd with --live-restore (since ccead9f), which swarm mode
# refuses; so that both sides run on the same engines, each engine is restarted once
# without it (bench/cluster.sh's way) before the swarm forms and anything is
# measured, and the bench starts only once all three engines answer and every host
# holds its /hosts/ lease again. No figure depends on it: no engine stops during a
# round, and live-restore only matters when one does.
#
# The README's rollout table ("Benchmarks") comes from
#   ROUNDS=3 bench/rollout.sh          (3 is also the default; DOKKAA_BIN=... picks
#                                       another build than build/src)
#
# Each side runs 10 replicas of nginx with an HTTP health check every second and one
# client that sends requests without pause, a new connection per request (curl -m
# 5), printing "ok <address>" or "FAIL <curl exit> <HTTP code>" per request. Then one
# environment variable changes and the replicas are replaced one at a time,
# start-first, each waiting for its health check:
#   Dokkaa: the manifest {"image": "dockerfile/nginx", "scale": 10, "services":
#     {"web": 80}, "health": {"http": "/", "interval": 1}} (update: parallel 1,
#     start-first, the defaults); the client is a manifest of the same app with
#     "links": ["web"], so its requests go through its host's ambassador. Timed from
#     the PUT of the changed manifest to /apps/bench/web/rollout saying "rolled-out"
#     at the next revision (etcd polled every 0.1 s).
#   Swarm: `docker service create --replicas 10` with an equivalent HEALTHCHECK
#     (--health-interval 1s --health-timeout 2s --health-retries 3
#     --health-start-period 0s), then `docker service update --env-add GREETING=two
#     --update-order start-first --update-parallelism 1 --update-delay 0s
#     --update-monitor 1s web`, timed to UpdateStatus.State "completed" (polled every
#     0.1 s; not --detach=false, which can hang: docker/cli#5299).
#     The nginx image has neither curl nor wget: its health command is a GET of / over
#     bash's /dev/tcp, passing on a 2xx or 3xx status line, which is what Dokkaa's
#     "http" check accepts.
#     How the client reaches the service: with IPVS in the kernel, through the routing
#     mesh (--publish mode=ingress) on its own host's address, which is how Swarm's
#     users reach a service. A kernel without IPVS (this machine's: CONFIG_IP_VS is
#     not set) has neither the routing mesh nor service VIPs; then the service runs
#     with --endpoint-mode dnsrr on an overlay network and the client, a container
#     attached to that network, asks for http://web/ (Docker's DNS answers with the
#     tasks' addresses). SWARM_ACCESS=mesh|dnsrr overrides the choice.
# Failed requests: the client's FAIL lines from the change to 6 s after the update
# completed (curl's -m 5 bounds a request begun before), counted from the log offset
# taken just before the change; lines before the client's first "ok" never count.
#
# A round of either side counts only when it is checked to have done what it is
# timed for, untimed, after the timed wait: the service (Swarm) took the change and
# its update ended "completed" (Dokkaa: "rolled-out" at the next revision, not a
# rollback); the replicas run on the engines, all 10 with GREETING=two and none
# other (what the engines say, not the orchestrator); and the client is the same
# container as at the change, still running, its log was read (an unreadable log
# never counts as zero failures) and it made requests during the update. A failed
# round is reported and left out of the ranges, and the target is then not met.
#
# Prints each round, then both times, both failure and request counts and the time
# ratio Dokkaa / Swarm of each round (lower is better) as min-max ranges over ROUNDS
# (default 3), then the issue's target: faster than Swarm in every round and zero
# failed requests (Swarm's count is reported as it is). Exits non-zero unless the
# target is met in every round. Dokkaa and Swarm run one after the other, each
# cleaned up before the other. Sends traffic only to the cluster's 10.88.<n>.0/24.
# Removes everything it made (`dokkaacfg down --name bench`, which also stops the
# engines it restarted), also on failure; if a Dokkaa request failed or a Dokkaa
# round failed, the conductors' and the client's logs are first copied to a
# directory it names (KEEP_LOGS=0: never).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. scripts/lib.sh
BIN=${DOKKAA_BIN:-$PWD/build/src}
ROUNDS=${ROUNDS:-3}
NAME=bench      # cluster name: namespaces bench-h<i>, state /var/lib/bench, /run/bench
APP=$NAME       # the Dokkaa app of both manifests
REPLICAS=10
BOUND=180       # seconds any wait may take
SETTLE=6        # seconds after the update's end whose requests still count (curl -m 5)
SWARM_CLIENT_HOST=2
KEEP_LOGS=${KEEP_LOGS:-1}

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc; } # T0 T1 -> seconds
cfg() { "$BIN/dokkaacfg" "$@"; }
dock() { local i=$1; shift; docker -H "unix:///run/$NAME/h$i/docker.sock" "$@"; }
ectl() { ETCDCTL_API=3 etcdctl --dial-timeout=2s --command-timeout=5s --endpoints="$ETCD" "$@"; }
builder() { echo "http://$NET.11:4001/v2/keys/apps/$APP"; }

# The client's loop; URL is expanded inside the container.
client_loop() {
    printf '%s' 'while true; do r=$(curl -s -o /dev/null -w "%{http_code} %{remote_ip}" -m 5 '"$1"'); e=$?;' \
        ' if [ "${r%% *}" = 200 ]; then echo "ok ${r#* }"; else echo "FAIL $e ${r%% *}"; fi; done'
}

# ---- the cluster -------------------------------------------------------------

cluster_up() {
    cfg up --provider=local --scale=3 --name "$NAME" >"$LOG/up.log" 2>&1 \
        || { tail -20 "$LOG/up.log" >&2; return 1; }
    NET=10.88.$(sed -n 's/.*net=\([0-9]*\).*/\1/p' "/var/lib/$NAME/cluster")
    REGISTRY=$NET.1:5000
    NGINX=$REGISTRY/dockerfile/nginx
    ETCD=http://$NET.11:2379,http://$NET.12:2379,http://$NET.13:2379
}

. bench/engines.sh
# Every engine answers and every host holds its /hosts/ lease (its conductor runs).
hosts_ready() {
    local i
    engines_answer || return 1
    for i in 1 2 3; do [ -n "$(ectl get --keys-only "/hosts/h$i")" ] || return 1; done
}

# Keeps the conductors' logs and the clients' when something of Dokkaa's went wrong.
keep_logs() {
    local i
    [ "$KEEP_LOGS" = 1 ] && [ -e "$LOG/keep" ] || return 0
    KEPT=$(mktemp -d /tmp/dokkaa-bench-rollout-logs.XXXXXX) || return 0
    for i in 1 2 3; do
        cp "/var/lib/$NAME/h$i/conductor.log" "$KEPT/h$i-conductor.log" 2>/dev/null
        cp "/var/lib/$NAME/h$i/ambassador.log" "$KEPT/h$i-ambassador.log" 2>/dev/null
    done
    cp "$LOG"/client-*.log "$LOG"/rollout-*.txt "$KEPT/" 2>/dev/null
    dk_log "kept the conductors', ambassadors' and clients' logs in $KEPT"
}

cleanup() {
    trap - EXIT
    [ -n "${MADE:-}" ] || return 0
    keep_logs
    dk_log "removing cluster $NAME"
    for i in 3 2 1; do timeout 20 docker -H "unix:///run/$NAME/h$i/docker.sock" swarm leave --force >/dev/null 2>&1; done
    cfg down --name "$NAME" >"$LOG/down.log" 2>&1 || tail -20 "$LOG/down.log" >&2
    # the engines this bench started: `down` stops them by their own pid file; by
    # ours too, should one have died before writing it or outlived `down`
    for i in 1 2 3; do engine_stop_ours "$i"; done
    rm -rf "$LOG"
}

# Every engine holds both images under both names, so no timed run pulls.
images_everywhere() {
    local i img
    for i in 1 2 3; do
        for img in dockerfile/nginx dockerfile/ubuntu; do
            dock "$i" pull -q "$REGISTRY/$img" >/dev/null && dock "$i" tag "$REGISTRY/$img" "$img" || return 1
        done
    done
}

no_containers() { # LABEL -> no such container on any engine
    local i
    for i in 1 2 3; do [ -z "$(dock "$i" ps -aq --filter "label=$1")" ] || return 1; done
}

# Lines of a client's log from its first "ok" on (before, the service may not run).
from_first_ok() { sed -n '/^ok/,$p'; }
flowing() { [ "$("$@" 2>&1 | grep -c '^ok')" -gt 0 ]; } # LOG-COMMAND...

# "FAILS OKS CODES" of the lines after offset OFF of what LOG-COMMAND prints (kept
# in OUT). Fails when the log cannot be read: an unread log is not zero failures.
count_after() { # OFF OUT LOG-COMMAND...
    local off=$1 out=$2 log; shift 2
    log=$("$@" 2>&1) || { dk_log "cannot read the client's log ($*): $log"; return 1; }
    from_first_ok <<<"$log" > "$out"
    tail -n +"$((off + 1))" "$out" | awk '
        /^ok/ {ok++} /^FAIL/ {f++; c[$2 "/" $3]++}
        END { s = ""; for (k in c) s = s (s ? "," : "") k "x" c[k]; print f + 0, ok + 0, (s ? s : "-") }'
}
offset_of() { # LOG-COMMAND...
    local log
    log=$("$@" 2>&1) || { dk_log "cannot read the client's log ($*): $log"; return 1; }
    from_first_ok <<<"$log" | wc -l
}
# "ID RUNNING" of a container: the client must be the same one, still running, at
# the end as at the change (a restarted client's log would not match the offset).
container_state() { dock "$1" inspect --format '{{.Id}} {{.State.Running}}' "$2"; } # N NAME

# The untimed checks after the update, common to both sides; logs what failed.
# SIDE CLIENT_HOST CLIENT STATE_AT_CHANGE "FAILS OKS CODES" WEB_LABEL...
checked() {
    local side=$1 h=$2 client=$3 before=$4 res=$5 f n _ two all
    shift 5
    read -r f n _ <<<"$res"
    [[ "$f" =~ ^[0-9]+$ && "$n" =~ ^[0-9]+$ ]] || { dk_log "$side: the client's requests were not counted"; return 1; }
    [ $((f + n)) -gt 0 ] || { dk_log "$side: the client made no request during the update"; return 1; }
    [ "$(container_state "$h" "$client")" = "${before% *} true" ] ||
        { dk_log "$side: the client ($client on h$h) is not the one of the change, running: $(container_state "$h" "$client")"; return 1; }
    dk_wait 10 "$REPLICAS $side web containers, all running GREETING=two" all_at two "$@"
    read -r two all <<<"$(running_env two "$@")"
    [ "$two" = "$REPLICAS" ] && [ "$all" = "$REPLICAS" ] ||
        { dk_log "$side: $two of the $all running web containers run GREETING=two (not $REPLICAS of $REPLICAS)"; return 1; }
}
# "CHANGED RUNNING": how many running containers with every LABEL have
# GREETING=VALUE, and how many run, over the three engines; fails when an engine
# does not answer.
running_env() { # VALUE LABEL...
    local v=$1 i c e n=0 all=0 f=()
    shift
    for i in "$@"; do f+=(--filter "label=$i"); done
    for i in 1 2 3; do
        c=$(dock "$i" ps -q "${f[@]}" --filter status=running) || return 1
        for c in $c; do
            e=$(dock "$i" inspect "$c" --format '{{join .Config.Env " "}}') || return 1
            all=$((all + 1))
            grep -qw "GREETING=$v" <<<"$e" && n=$((n + 1))
        done
    done
    echo "$n $all"
}
all_at() { [ "$(running_env "$@")" = "$REPLICAS $REPLICAS" ]; } # VALUE LABEL...

# ---- Dokkaa -------------------------------------------------------------------

put() { # NAME MANIFEST
    curl -sf -o /dev/null -XPUT --data-urlencode "value=$2" "$(builder)/$1/manifest"
}
web_manifest() { # GREETING
    jq -nc --arg g "$1" --argjson n "$REPLICAS" '{image: "dockerfile/nginx", scale: $n,
        services: {web: 80}, health: {http: "/", interval: 1}, env: {GREETING: $g}}'
}
client_manifest() {
    jq -nc --arg cmd "$(client_loop 'http://$SERVICE_WEB_ADDR:$SERVICE_WEB_PORT/')" \
        '{image: "dockerfile/ubuntu", links: ["web"], stop_grace: 0, command: ["/bin/bash", "-c", $cmd]}'
}
rollout() { ectl get --print-value-only "/apps/$APP/web/rollout"; }
first_rolled_out() { rollout | jq -e '.state == "rolled-out"'; }
# Revision REV rolled out; a rollout of it that ended otherwise (or a later revision:
# an automatic rollback) ends the wait too, and says how in $LOG/dokkaa-ended.
rolled_out_at() { # REV
    local r
    r=$(rollout | jq -r '"\(.revision) \(.state)"') || return 1
    set -- "$1" $r
    [ "${2:-0}" -ge "$1" ] 2>/dev/null || return 1
    if [ "$2" -gt "$1" ]; then echo "superseded by revision $2 ($3)" > "$LOG/dokkaa-ended"; return 0; fi
    case $3 in
        rolled-out) return 0 ;;
        rolling) return 1 ;;
        *) echo "$3" > "$LOG/dokkaa-ended"; return 0 ;;
    esac
}
announced() { [ "$(ectl get --prefix --keys-only "/services/$APP/web/" | grep -c .)" = "$REPLICAS" ]; }
client_host() { ectl get --print-value-only "/status/$APP/client/0" | jq -r '.host // empty' | tr -dc 0-9; }
dokkaa_client_log() { dock "$DK_CLIENT_HOST" logs "$APP---client"; }

dokkaa_clean() {
    curl -sf -o /dev/null -XDELETE "$(builder)?recursive=true"
    dk_wait "$BOUND" "dokkaa's instances to go" no_containers "dokkaa.app=$APP" &&
        dk_wait 30 "dokkaa's announcements to go" sh -c "! ETCDCTL_API=3 etcdctl --endpoints=$ETCD get --prefix --keys-only /services/$APP/ | grep -q ."
}

# ROUND -> "SECONDS FAILS OKS CODES" on stdout
dokkaa_round() {
    local r=$1 rev t0 t1 off res client
    rm -f "$LOG/dokkaa-ended"
    put web "$(web_manifest one)" && put client "$(client_manifest)" || { dk_log "PUT of the manifests failed"; return 1; }
    dk_wait "$BOUND" "$REPLICAS dokkaa instances announced" announced &&
        dk_wait "$BOUND" "the first revision to roll out" first_rolled_out &&
        dk_wait 10 "$REPLICAS dokkaa containers running GREETING=one" all_at one "dokkaa.app=$APP" dokkaa.name=web ||
        return 1
    rev=$(rollout | jq -r .revision)
    dk_wait 60 "the dokkaa client to be placed" client_host || return 1
    DK_CLIENT_HOST=$(client_host)
    dk_wait 60 "the dokkaa client's requests to flow" flowing dokkaa_client_log || return 1
    sleep 2 # the client at its steady pace
    client=$(container_state "$DK_CLIENT_HOST" "$APP---client") && off=$(offset_of dokkaa_client_log) || return 1
    t0=$(now)
    put web "$(web_manifest two)" || { dk_log "PUT of the changed manifest failed"; return 1; }
    if ! dk_wait "$BOUND" "revision $((rev + 1)) to roll out" rolled_out_at "$((rev + 1))"; then
        touch "$LOG/keep"; rollout > "$LOG/rollout-dokkaa-$r.txt" 2>&1; return 1
    fi
    t1=$(now)
    rollout > "$LOG/rollout-dokkaa-$r.txt" 2>&1
    if [ -e "$LOG/dokkaa-ended" ]; then
        touch "$LOG/keep"; dk_log "dokkaa: the rollout ended $(cat "$LOG/dokkaa-ended"): $(rollout)"; return 1
    fi
    sleep "$SETTLE"
    res=$(count_after "$off" "$LOG/client-dokkaa-$r.log" dokkaa_client_log) || { touch "$LOG/keep"; return 1; }
    [ "${res%% *}" = 0 ] || touch "$LOG/keep"
    dk_log "dokkaa's rollout record: $(rollout)"
    checked dokkaa "$DK_CLIENT_HOST" "$APP---client" "$client" "$res" "dokkaa.app=$APP" dokkaa.name=web ||
        { touch "$LOG/keep"; return 1; }
    echo "$(elapsed "$t0" "$t1") $res"
}

# ---- Swarm --------------------------------------------------------------------

# GET / over bash's /dev/tcp (the image has no curl, no wget); a 2xx or 3xx passes.
HEALTH_CMD='bash -c '\''exec 3<>/dev/tcp/127.0.0.1/80 && printf "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n" >&3 && head -n 1 <&3 | grep -q "^HTTP/1\.[01] [23][0-9][0-9] "'\'''
SWARM_PORT=8080 # the routing mesh's published port (SWARM_ACCESS=mesh)

nodes_ready() { [ "$(dock 1 node ls --format '{{.Status}}' | grep -c '^Ready$')" = 3 ]; }
tasks_running() { [ "$(dock 1 service ps web --filter desired-state=running --format '{{.CurrentState}}' | grep -c '^Running')" = "$REPLICAS" ]; }
update_state() { dock 1 service inspect web --format '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}'; }
update_over() {
    local s
    s=$(update_state) || return 1
    case $s in
        completed) return 0 ;;
        paused | rollback_*) echo "$s" > "$LOG/swarm-ended"; return 0 ;;
        *) return 1 ;;
    esac
}
swarm_client_log() { dock "$SWARM_CLIENT_HOST" logs rollout-client; }
# The service's spec took the change (one GREETING, two).
swarm_spec_changed() {
    [ "$(dock 1 service inspect web --format '{{range .Spec.TaskTemplate.ContainerSpec.Env}}{{println .}}{{end}}' |
        grep '^GREETING=')" = GREETING=two ]
}

swarm_form() {
    local token i
    dock 1 swarm init --advertise-addr "$NET.11" --listen-addr "$NET.11:2377" >/dev/null || return 1
    token=$(dock 1 swarm join-token -q worker) || return 1
    for i in 2 3; do
        dock "$i" swarm join --token "$token" --advertise-addr "$NET.1$i" "$NET.11:2377" >/dev/null || return 1
    done
    dk_wait 60 "three swarm nodes Ready" nodes_ready || return 1
    if [ "$SWARM_ACCESS" = dnsrr ]; then
        dock 1 network create -d overlay --attachable rollout >/dev/null || return 1
    fi
}

swarm_clean() {
    dock "$SWARM_CLIENT_HOST" rm -f rollout-client >/dev/null 2>&1
    dock 1 service rm web >/dev/null 2>&1
    dk_wait "$BOUND" "swarm's tasks to go" no_containers com.docker.swarm.service.name=web
}

# ROUND -> "SECONDS FAILS OKS CODES" on stdout
swarm_round() {
    local r=$1 t0 t1 off res id client access=() client_net=() url
    rm -f "$LOG/swarm-ended"
    if [ "$SWARM_ACCESS" = mesh ]; then
        access=(--publish "mode=ingress,target=80,published=$SWARM_PORT")
        url=http://$NET.1$SWARM_CLIENT_HOST:$SWARM_PORT/
    else
        access=(--endpoint-mode dnsrr --network rollout) client_net=(--network rollout)
        url=http://web/
    fi
    id=$(dock 1 service create -d --replicas "$REPLICAS" --name web --env GREETING=one "${access[@]}" \
        --health-cmd "$HEALTH_CMD" --health-interval 1s --health-timeout 2s --health-retries 3 \
        --health-start-period 0s "$NGINX") && [ -n "$id" ] || { dk_log "swarm: service create failed"; return 1; }
    dk_wait "$BOUND" "$REPLICAS swarm tasks Running" tasks_running &&
        dk_wait 10 "$REPLICAS swarm containers running GREETING=one" all_at one com.docker.swarm.service.name=web ||
        return 1
    dock "$SWARM_CLIENT_HOST" run -d --name rollout-client "${client_net[@]}" dockerfile/ubuntu \
        /bin/bash -c "$(client_loop "$url")" >/dev/null || { dk_log "swarm: the client did not start"; return 1; }
    dk_wait 60 "the swarm client's requests to flow" flowing swarm_client_log || return 1
    sleep 2
    client=$(container_state "$SWARM_CLIENT_HOST" rollout-client) && off=$(offset_of swarm_client_log) || return 1
    t0=$(now)
    dock 1 service update -d --env-add GREETING=two --update-order start-first --update-parallelism 1 \
        --update-delay 0s --update-monitor 1s web >/dev/null || { dk_log "swarm: service update failed"; return 1; }
    dk_wait "$BOUND" "swarm's update to complete" update_over || return 1
    t1=$(now)
    dock 1 service inspect web --format '{{json .UpdateStatus}}' > "$LOG/rollout-swarm-$r.txt" 2>&1
    if [ -e "$LOG/swarm-ended" ]; then
        dk_log "swarm: the update ended $(cat "$LOG/swarm-ended"): $(cat "$LOG/rollout-swarm-$r.txt")"; return 1
    fi
    swarm_spec_changed || { dk_log "swarm: the service's spec does not have GREETING=two"; return 1; }
    sleep "$SETTLE"
    res=$(count_after "$off" "$LOG/client-swarm-$r.log" swarm_client_log) || return 1
    dk_log "swarm: the client's requests during the update went to $(tail -n +"$((off + 1))" "$LOG/client-swarm-$r.log" |
        awk '/^ok/ {print $2}' | sort -u | grep -c .) task addresses"
    checked swarm "$SWARM_CLIENT_HOST" rollout-client "$client" "$res" com.docker.swarm.service.name=web || return 1
    echo "$(elapsed "$t0" "$t1") $res"
}

# ---- rounds -------------------------------------------------------------------

# Indexed by round, so that a ratio is always of one round's two sides (a failed
# round leaves a hole).
T_dokkaa=() T_swarm=() F_dokkaa=() F_swarm=() N_dokkaa=() N_swarm=() RATIO=()

# Fails only when the next round could not start clean: images not in place, or
# what the round made not removed. A round that failed is reported and left out.
round() { # SIDE ROUND
    local side=$1 r=$2 out s f n codes
    images_everywhere || { dk_log "could not put the images on every engine"; return 1; }
    out=$("${side}_round" "$r") || out=
    "${side}_clean" || { dk_log "$side round $r: could not clean up"; return 1; }
    if [ -z "$out" ]; then
        [ "$side" = swarm ] || touch "$LOG/keep"
        dk_log "$side round $r: failed (see above); left out"; return 0
    fi
    read -r s f n codes <<<"$out"
    dk_log "$side round $r: update done in $(printf '%.2f' "$s") s; during it $f failed requests of $((f + n))$(
        [ "$f" = 0 ] || echo " (curl exit/HTTP code x count: $codes)")"
    eval "T_${side}[r]=\$s F_${side}[r]=\$f N_${side}[r]=\$((f + n))"
    return 0
}

range() { # VALUES... -> "min-max" (one value: itself), with printf format FMT
    local fmt=$1; shift
    printf '%s\n' "$@" | grep . | sort -g | awk -v f="$fmt" '
        NR == 1 {lo = $1} {hi = $1} END {
            if (!NR) print "-"; else if (lo == hi) printf f "\n", lo; else printf f "-" f "\n", lo, hi }'
}

report() {
    local i r ratio faster zero total_f
    for r in "${!T_dokkaa[@]}"; do
        [ -n "${T_swarm[r]:-}" ] && RATIO[r]=$(echo "${T_dokkaa[r]} / ${T_swarm[r]}" | bc -l)
    done
    ratio=$(range '%.2f' "${RATIO[@]}")
    [ "$ratio" = - ] || ratio+=x
    echo
    for r in $(seq 1 "$ROUNDS"); do
        printf 'round %d: dokkaa %s, swarm %s, ratio %s\n' "$r" \
            "$([ -n "${T_dokkaa[r]:-}" ] && printf '%.2f s, %d of %d requests failed' "${T_dokkaa[r]}" "${F_dokkaa[r]}" "${N_dokkaa[r]}" || echo failed)" \
            "$([ -n "${T_swarm[r]:-}" ] && printf '%.2f s, %d of %d requests failed' "${T_swarm[r]}" "${F_swarm[r]}" "${N_swarm[r]}" || echo failed)" \
            "$([ -n "${RATIO[r]:-}" ] && printf '%.2fx' "${RATIO[r]}" || echo -)"
    done
    echo "rolling update of $REPLICAS replicas (nginx, HTTP health check every 1 s; one at a time, start-first)"
    echo "under load (one client, a new connection per request), 3 hosts; $ROUNDS round(s); ranges are min-max"
    echo "swarm's client: $([ "$SWARM_ACCESS" = mesh ] && echo "routing mesh on h$SWARM_CLIENT_HOST's address" ||
        echo "DNS round robin (endpoint-mode dnsrr) on an overlay network: no IPVS in this kernel")"
    printf '%-40s %14s %14s %12s   %s\n' "" dokkaa swarm ratio target
    printf '%-40s %14s %14s %12s   %s\n' "time to complete the update, s" "$(range '%.2f' "${T_dokkaa[@]}")" \
        "$(range '%.2f' "${T_swarm[@]}")" "$ratio" "< 1.0x"
    printf '%-40s %14s %14s %12s   %s\n' "failed requests during the update" "$(range '%d' "${F_dokkaa[@]}")" \
        "$(range '%d' "${F_swarm[@]}")" "" "0 (dokkaa)"
    printf '%-40s %14s %14s\n' "requests during the update" "$(range '%d' "${N_dokkaa[@]}")" "$(range '%d' "${N_swarm[@]}")"
    total_f=0
    for i in "${F_dokkaa[@]}"; do total_f=$((total_f + i)); done
    faster=no zero=no
    [ ${#RATIO[@]} = "$ROUNDS" ] && [ ${#T_dokkaa[@]} = "$ROUNDS" ] &&
        printf '%s\n' "${RATIO[@]}" | awk '$1 >= 1 {bad = 1} END {exit bad}' && faster=yes
    [ ${#F_dokkaa[@]} = "$ROUNDS" ] && [ "$total_f" = 0 ] && zero=yes
    echo "target: faster than Swarm: $faster; zero failed requests: $zero$(
        [ ${#T_dokkaa[@]} = "$ROUNDS" ] && [ ${#T_swarm[@]} = "$ROUNDS" ] || echo " (some rounds failed: see above)")"
    [ "$faster" = yes ] && [ "$zero" = yes ]
}

# ---- main ---------------------------------------------------------------------

command -v jq >/dev/null && command -v bc >/dev/null || { DK_PACKAGES=(jq bc); dk_need_packages; }
[ -x "$BIN/dokkaacfg" ] || dk_die "no $BIN/dokkaacfg: run make first"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || dk_die "ROUNDS must be a positive number"
[ ! -e "/var/lib/$NAME/cluster" ] || dk_die "a cluster '$NAME' exists already: dokkaacfg down --name $NAME"
if [ -z "${SWARM_ACCESS:-}" ]; then
    if [ -e /proc/net/ip_vs ] || { [ -r /proc/config.gz ] && zgrep -q '^CONFIG_IP_VS=[ym]' /proc/config.gz; }; then
        SWARM_ACCESS=mesh
    else
        SWARM_ACCESS=dnsrr
    fi
fi
case $SWARM_ACCESS in mesh | dnsrr) ;; *) dk_die "SWARM_ACCESS: mesh or dnsrr, not $SWARM_ACCESS" ;; esac
LOG=$(mktemp -d /tmp/dokkaa-bench-rollout.XXXXXX)
trap cleanup EXIT
trap 'exit 130' INT TERM

dk_log "bringing up cluster $NAME (3 hosts)"
MADE=1
cluster_up || dk_die "dokkaacfg up failed"
dk_log "restarting the engines without --live-restore (swarm mode refuses it)"
for i in 1 2 3; do
    engine_restart "$i" && no_live_restore "$i" || dk_die "could not restart h$i's engine without --live-restore"
done
dk_wait "$BOUND" "all three hosts back (engines answer, 3 host leases)" hosts_ready || dk_die "the cluster did not come back"
dk_log "cluster $NAME on $NET.0/24; forming a swarm over its engines (clients reach swarm's service by $SWARM_ACCESS)"
swarm_form || dk_die "swarm init/join failed (see /var/lib/$NAME/h1/dockerd.log)"
for r in $(seq 1 "$ROUNDS"); do
    round dokkaa "$r" || dk_die "dokkaa round $r: cannot go on (see above)"
    round swarm "$r" || dk_die "swarm round $r: cannot go on (see above)"
done
report
