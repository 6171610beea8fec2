#!/usr/bin/env bash
# bench/links.sh - links on the path users take: from a container, through the
# ambassador at its bridge gateway, to a container on the same host and on another.
#
# Brings up its own local cluster (`dokkaacfg up --provider=local --scale=2 --name
# links`) and deploys one app, `lb`, through the API as a user would:
#   srv  scale 1: iperf3 -s and nginx (a 1 KiB static file), services iperf and http;
#   cli  scale 2, links [iperf, http]: one instance on srv's host, one on the other
#        (the scheduler spreads them; the bench fails if it did not).
# Both from the image dokkaa/bench (images/build.sh: Debian with iperf3, wrk and
# nginx, never pulled). From each cli container, the same server reached five ways:
#   direct          the server container itself: its bridge address on the same
#                   host; on the other host its published port at its host's
#                   address, the only way across (what the ambassador dials too);
#   HAP default     HAProxy in the client's host, on the same gateway address,
#   HAP auto        tcp mode, to the address the service is announced at: its
#   HAP 1 thread    defaults and `option splice-auto`, each with as many threads as
#   HAP auto 1 th.  the ambassador has workers and with 1;
#   ambassador      $SERVICE_IPERF_ADDR:$SERVICE_IPERF_PORT, as the manifest's
#                   links give it.
# The tests, the rounds, the checks and the report are bench/proxy.sh's
# (bench/proxy_lib.sh): iperf3 both directions, wrk keep-alive, a connection per
# request, one request at a time; each proxy's CPU per GB / per 1000 requests.
# The targets are issue 13's: throughput >= 1.2x the better HAProxy and >= 0.6x
# direct, requests/s >= 1.0x.
#
# Environment: DOKKAA_BIN (default build/src; built with `make` if missing),
# ROUNDS (3), IPERF_SECS (3), WRK_SECS (4), WRK_C1_SECS (2), STREAMS (iperf3 -P,
# default 1: one flow, as a client usually opens). About 4 minutes a round.
#
# Sends traffic only inside the cluster's hosts (namespaces it made). Removes
# everything it made (`dokkaacfg down --name links`, the HAProxy by pid, its
# temporary directory), also on failure. Exits non-zero when a setup step failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. scripts/lib.sh

BIN=${DOKKAA_BIN:-$PWD/build/src}
ROUNDS=${ROUNDS:-3}
IPERF_SECS=${IPERF_SECS:-3}
WRK_SECS=${WRK_SECS:-4}
WRK_C1_SECS=${WRK_C1_SECS:-2}
STREAMS=${STREAMS:-1}
NAME=links    # namespaces links-h1, links-h2; state /var/lib/links, /run/links
APP=lb
HAP_PORT=30000 # HAProxy's frontends on the gateway: iperf HAP_PORT + 1.., http + 11..

HAPS=(haproxy haproxy_auto haproxy_1 haproxy_auto_1)
declare -A HAP_EXTRA=([haproxy]="" [haproxy_auto]="option splice-auto"
                      [haproxy_1]="" [haproxy_auto_1]="option splice-auto")
declare -A HAP_NAME=([haproxy]="HAP default" [haproxy_auto]="HAP auto"
                     [haproxy_1]="HAP 1 thr" [haproxy_auto_1]="HAP auto 1t")
WAYS=(direct "${HAPS[@]}" ambassador)
declare -A IPERF_AT=() NGINX_AT=() IPERF_HOST=() NGINX_HOST=() PROXY_PID=()

NCPU=$(nproc)
TMP= MADE=

cfg() { XDG_CONFIG_HOME=$TMP "$BIN/dokkaacfg" "$@"; } # its own CLI config, not the user's
dock() { local i=$1; shift; docker -H "unix:///run/$NAME/h$i/docker.sock" "$@"; }
ectl() { ETCDCTL_API=3 etcdctl --endpoints="http://$NET.11:2379" "$@"; }

# ---- setup and teardown -------------------------------------------------------------

stop_haproxy() {
    local w
    for w in "${HAPS[@]}"; do dk_stop "$TMP/$w.pid" 10; done
}

cleanup() {
    trap - EXIT INT TERM
    [ -n "$TMP" ] && [ -d "$TMP" ] || return 0
    stop_haproxy
    if [ -n "$MADE" ]; then
        dk_log "removing cluster $NAME"
        cfg down --name "$NAME" >"$TMP/down.log" 2>&1 || tail -20 "$TMP/down.log" >&2
    fi
    rm -rf "$TMP"
}

fail() {
    local f
    dk_log "error: $*"
    for f in "$TMP"/haproxy*.log; do
        [ -s "$f" ] && { echo "--- ${f##*/} (tail)" >&2; tail -15 "$f" >&2; }
    done
    exit 1
}

need_tools() {
    local want=(haproxy etcd-client jq iproute2 procps debootstrap docker.io etcd-server docker-registry)
    [ -x "$BIN/dokkaacfg" ] ||
        want+=(cmake gcc make pkg-config libcurl4-openssl-dev libjansson-dev libmicrohttpd-dev
               libssl-dev libgnutls28-dev libcmocka-dev)
    (DK_PACKAGES=("${want[@]}"); dk_need_packages)
}

build() {
    [ -x "$BIN/dokkaacfg" ] && return 0
    [ "$BIN" = "$PWD/build/src" ] || dk_die "no $BIN/dokkaacfg (DOKKAA_BIN)"
    dk_log "building (make: Release, in build/)"
    make >/dev/null || dk_die "make failed"
}

cluster_up() {
    dk_log "bringing up cluster $NAME (2 hosts)"
    MADE=1
    cfg up --provider=local --scale=2 --name "$NAME" >"$TMP/up.log" 2>&1 ||
        { tail -20 "$TMP/up.log" >&2; fail "dokkaacfg up failed"; }
    NET=10.88.$(sed -n 's/.*net=\([0-9]*\).*/\1/p' "/var/lib/$NAME/cluster")
    [ "$NET" != 10.88. ] || fail "no network in /var/lib/$NAME/cluster"
    images/build.sh -H "unix:///run/$NAME/h1/docker.sock" dokkaa/bench >/dev/null &&
    images/build.sh -H "unix:///run/$NAME/h2/docker.sock" dokkaa/bench >/dev/null ||
        fail "images/build.sh dokkaa/bench failed"
}

deploy() {
    cat > "$TMP/srv.json" <<'EOF'
{"image": "dokkaa/bench", "scale": 1,
 "command": ["/bin/sh", "-c", "head -c 768 /dev/urandom | base64 -w 76 | head -c 1024 > /var/www/html/1k.txt && iperf3 -s -D && exec nginx -g 'daemon off;'"],
 "services": {"iperf": 5201, "http": 80},
 "health": {"http": "/1k.txt", "port": 80, "interval": 1}}
EOF
    cat > "$TMP/cli.json" <<'EOF'
{"image": "dokkaa/bench", "scale": 2, "command": ["sleep", "infinity"], "links": ["iperf", "http"]}
EOF
    cfg set "$APP/srv" "$TMP/srv.json" >"$TMP/set.log" 2>&1 &&
    cfg set "$APP/cli" "$TMP/cli.json" >>"$TMP/set.log" 2>&1 ||
        { cat "$TMP/set.log" >&2; fail "dokkaacfg set failed"; }
}

on_host() { # NAME -> the host number its instance 0 runs on (its engine says)
    local i
    for i in 1 2; do
        [ -n "$(dock "$i" ps -q --filter "label=dokkaa.app=$APP" --filter "label=dokkaa.name=$1" \
                    --filter status=running)" ] && { echo "$i"; return 0; }
    done
    return 1
}

# The announced address of SERVICE: "addr port", as the ambassador reads it.
announced() {
    ectl get --prefix "/services/$APP/$1/" --print-value-only | jq -r '"\(.addr) \(.port)"' | head -1
}

# Which of the two clients runs on host I: its container's name.
client_on() {
    dock "$1" ps --format '{{.Names}}' --filter "label=dokkaa.app=$APP" --filter "label=dokkaa.name=cli" \
        --filter status=running | head -1
}

# A path: the client container on host H, the server on host S.
CLI= H= GW=
link_answers() { dock "$H" exec "$CLI" sh -c 'wrk -t1 -c1 -d1s "http://$SERVICE_HTTP_ADDR:$SERVICE_HTTP_PORT/1k.txt" |
                                               grep -q "^Requests/sec"'; }

set_path() { # H S: the ways' addresses, from host H's client to the server on host S
    local s=$2 ia ip na np srv_ip env
    H=$1 GW=172.30.$1.1
    CLI=$(client_on "$H") || true
    [ -n "$CLI" ] || fail "no client container runs on h$H"
    CLIENT=(docker -H "unix:///run/$NAME/h$H/docker.sock" exec "$CLI")
    NSTAT=("${CLIENT[@]}" env NSTAT_HISTORY=/tmp/nstat nstat)
    read -r ia ip < <(announced iperf) && read -r na np < <(announced http) &&
        [ -n "$ip" ] && [ -n "$np" ] || fail "iperf and http are not both announced"
    env=$(dock "$H" exec "$CLI" env) || fail "docker exec $CLI failed"
    IPERF_HOST[ambassador]=$(sed -n 's/^SERVICE_IPERF_ADDR=//p' <<<"$env")
    IPERF_AT[ambassador]=$(sed -n 's/^SERVICE_IPERF_PORT=//p' <<<"$env")
    NGINX_HOST[ambassador]=$(sed -n 's/^SERVICE_HTTP_ADDR=//p' <<<"$env")
    NGINX_AT[ambassador]=$(sed -n 's/^SERVICE_HTTP_PORT=//p' <<<"$env")
    [ "${IPERF_HOST[ambassador]}" = "$GW" ] || fail "$CLI's SERVICE_IPERF_ADDR is not its gateway $GW"
    PROXY_PID[ambassador]=$(cat "/run/$NAME/h$H/ambassador.pid")
    if [ "$H" = "$s" ]; then
        srv_ip=$(dock "$s" inspect -f '{{.NetworkSettings.IPAddress}}' "$(dock "$s" ps -q \
                     --filter "label=dokkaa.app=$APP" --filter "label=dokkaa.name=srv")")
        IPERF_HOST[direct]=$srv_ip IPERF_AT[direct]=5201 NGINX_HOST[direct]=$srv_ip NGINX_AT[direct]=80
    else
        IPERF_HOST[direct]=$ia IPERF_AT[direct]=$ip NGINX_HOST[direct]=$na NGINX_AT[direct]=$np
    fi
    local i=0 w
    for w in "${HAPS[@]}"; do
        i=$((i + 1))
        IPERF_HOST[$w]=$GW IPERF_AT[$w]=$((HAP_PORT + i)) NGINX_HOST[$w]=$GW NGINX_AT[$w]=$((HAP_PORT + 10 + i))
        haproxy_cfg "$w" "$ia" "$ip" "$na" "$np" > "$TMP/$w.cfg"
    done
}

haproxy_threads() { case $1 in *_1) echo 1 ;; *) echo "$AMB_WORKERS" ;; esac; }

haproxy_cfg() { # WAY IPERF_ADDR IPERF_PORT HTTP_ADDR HTTP_PORT
    cat <<EOF
global
    nbthread $(haproxy_threads "$1")
    maxconn 4000
defaults
    mode tcp
    maxconn 4000
    timeout connect 5s
    timeout client 60s
    timeout server 60s
${HAP_EXTRA[$1]:+    ${HAP_EXTRA[$1]}}
frontend iperf
    bind $GW:${IPERF_AT[$1]}
    default_backend iperf
backend iperf
    server iperf $2:$3
frontend nginx
    bind $GW:${NGINX_AT[$1]}
    default_backend nginx
backend nginx
    server nginx $4:$5
EOF
}

listening_in() { [ -n "$(ip netns exec "$NAME-h$H" ss -Htln "( sport = :$1 )" 2>/dev/null)" ]; }

start_haproxy() { # in host H's namespace, as the ambassador runs there
    local w
    for w in "${HAPS[@]}"; do
        haproxy -c -q -f "$TMP/$w.cfg" >"$TMP/$w.log" 2>&1 || fail "$w: config rejected"
        dk_start "$TMP/$w.pid" "$TMP/$w.log" ip netns exec "$NAME-h$H" haproxy -db -f "$TMP/$w.cfg"
        dk_wait 10 "$w on $GW:${NGINX_AT[$w]}" listening_in "${NGINX_AT[$w]}" &&
        dk_wait 10 "$w on $GW:${IPERF_AT[$w]}" listening_in "${IPERF_AT[$w]}" || fail "$w did not start"
        PROXY_PID[$w]=$(cat "$TMP/$w.pid")
    done
}

. bench/proxy_lib.sh
IPERF_ARGS=(-P "$STREAMS")
DIRECT_TARGET=0.6 TARGET_FROM="issue 13"

haproxy_settings() { # WAY: its global and defaults sections on one line
    awk '/^(frontend|backend)/ {exit} NF {sub(/^ +/, ""); printf "%s%s", (n++ ? (/^defaults/ ? "; " : ", ") : ""), $0}
         END {print ""}' "$TMP/$1.cfg" | sed 's/global, /global: /; s/defaults, /defaults: /'
}

PATH_LABEL=
report_header() {
    local w
    echo
    echo "== $PATH_LABEL"
    echo "ambassador vs HAProxy (${#HAPS[@]} ways) vs direct, from container $CLI on h$H through gateway $GW;"
    echo "$ROUNDS interleaved rounds, rotating order"
    echo "machine: $NCPU cores, $(awk '{print "load average " $1 " " $2 " " $3}' /proc/loadavg) at the end;" \
         "client, proxy and server share the cores"
    echo "ambassador: $AMB_WORKERS workers (the host's own, all its links); direct: ${IPERF_HOST[direct]}"
    for w in "${HAPS[@]}"; do
        echo "$(printf '%-11s' "${HAP_NAME[$w]}"): HAProxy $(haproxy -v | awk 'NR==1 {print $3}'), $(haproxy_settings "$w")"
    done
    echo "nginx in the server container (Debian's defaults), a 1 KiB static file; iperf3 -P $STREAMS for" \
         "${IPERF_SECS}s; wrk -t2 -c50 for ${WRK_SECS}s, -c1 for ${WRK_C1_SECS}s"
    echo "each figure: the best of the rounds that passed, then its range (min-max) over them; amb/HAP is against"
    echo "the best HAProxy way for that figure (* in the best row; in the range row, each round's best one)"
}

run_path() { # H S LABEL
    local n w
    PATH_LABEL=$3
    set_path "$1" "$2"
    dk_wait 30 "$CLI's link to answer" link_answers || fail "$CLI: the ambassador's link does not answer"
    start_haproxy
    dk_log "$PATH_LABEL: $CLI on h$H, $ROUNDS rounds"
    for w in "${WAYS[@]}"; do # warm up every way's path
        "${CLIENT[@]}" wrk -t1 -c2 -d1s "http://${NGINX_HOST[$w]}:${NGINX_AT[$w]}/1k.txt" >/dev/null 2>&1
    done
    R=() FAILED=()
    for n in $(seq 1 "$ROUNDS"); do
        round "$n"
        for w in "${HAPS[@]}"; do dk_alive "$TMP/$w.pid" || fail "$w died during round $n"; done
    done
    report | tee -a "$TMP/report"
    stop_haproxy
}

# ---- main ---------------------------------------------------------------------------

trap cleanup EXIT
trap 'exit 130' INT TERM
need_tools || exit 1
build
[ ! -e "/var/lib/$NAME/cluster" ] || dk_die "a cluster named $NAME exists: dokkaacfg down --name $NAME"
TMP=$(mktemp -d /tmp/dokkaa-bench-links.XXXXXX) || dk_die "mktemp failed"
cluster_up
deploy
S=$(on_host srv) || fail "srv runs on no host"
O=$((3 - S))
[ -n "$(client_on "$S")" ] && [ -n "$(client_on "$O")" ] ||
    fail "the scheduler did not put a cli instance on each host (srv is on h$S)"
AMB_WORKERS=$(grep -o 'proxy: [0-9]* workers' "/var/lib/$NAME/h$S/ambassador.log" | head -1 | grep -o '[0-9]*')
AMB_WORKERS=${AMB_WORKERS:-$NCPU}
run_path "$S" "$S" "same host: client and server on h$S"
run_path "$O" "$S" "across hosts: client on h$O, server on h$S"
echo
echo "the whole report, both paths:"
cat "$TMP/report"
