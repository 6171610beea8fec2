#!/usr/bin/env bash
# bench/proxy.sh - the ambassador's data path against HAProxy and against no proxy.
#
# In one invocation, on loopback, the same backends reached five ways: direct;
# through HAProxy in three settings, three processes (tcp mode, nbthread = the
# ambassador's worker count): its defaults (it copies through user space),
# `option splice-auto`, and `option splice-request` + `option splice-response`
# (it splices whenever it can, as the ambassador always does; see HAPS below);
# and through a dokkaa-ambassador routing two links from an etcd of its own:
#   - iperf3 throughput (-P 2), both directions;
#   - wrk against nginx on a small static file: requests/s and p50/p99 latency with
#     keep-alive (-c50), requests/s with a new connection per request
#     (Connection: close), and the latency of one request at a time (-c1);
#   - the CPU time each proxy spent, per GB moved, per 1000 requests and per 1000
#     connections, and the TCP delayed ACKs per 1000 requests (a Nagle /
#     delayed-ACK stall shows there).
# Rounds are interleaved (the five ways in an order that rotates with the round).
# Every run is checked: iperf3 must exit 0 and report bytes received, wrk must
# exit 0 with no socket error (connect, read, write, timeout) and no answer
# outside 2xx/3xx. A test in a round where any way failed is reported as failed
# and none of that round's figures for it is used: a figure never comes from a
# failed run, and the ways are only compared within rounds they all passed.
#
# Each figure is printed as the best of the rounds, and under it the range
# (min-max) over the rounds. Every ratio is against the best of the HAProxy
# settings for that figure (the best of their bests; in the range row, each
# round's best one), so that no setting is picked to suit the ambassador.
# Then the issue's targets (throughput >= 1.2x HAProxy and >= 0.5x direct;
# requests/s >= 1.0x HAProxy; p50 added latency <= HAProxy's), with how many
# rounds met them.
#
# Environment: DOKKAA_BIN (default build/src; built with `make` if missing),
# ROUNDS (3), IPERF_SECS (3), WRK_SECS (4), WRK_C1_SECS (2), PIN (0: the client,
# the proxy and the backend share every core as the scheduler likes; 1: the
# proxies on the last core, clients and backends on the others),
# PROXY_BENCH_PORT (25200: ports BASE+1..BASE+100), PROXY_BENCH_ETCD (25379; the
# peer port is the next one). The issue's lengths are IPERF_SECS=5 WRK_SECS=10;
# the defaults keep the whole run near four and a half minutes (five ways).
#
# Everything it starts (etcd, ambassador, the HAProxy, nginx, iperf3 server) is
# stopped by pid on exit, also on failure, and its temporary directory is removed.
# Traffic stays on 127.0.0.1.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

BIN=${DOKKAA_BIN:-$PWD/build/src}
ROUNDS=${ROUNDS:-3}
IPERF_SECS=${IPERF_SECS:-3}
WRK_SECS=${WRK_SECS:-4}
WRK_C1_SECS=${WRK_C1_SECS:-2}
PIN=${PIN:-0}
BASE=${PROXY_BENCH_PORT:-25200}
ETCD_PORT=${PROXY_BENCH_ETCD:-25379}
ETCD_PEER=$((ETCD_PORT + 1))
ETCD="http://127.0.0.1:$ETCD_PORT"

IPERF_PORT=$((BASE + 1))   # the backends
NGINX_PORT=$((BASE + 80))
AMB_IPERF=$((BASE + 21))   # the ambassador's links
AMB_NGINX=$((BASE + 100))
# HAProxy three ways, each a process of its own (its CPU time is its setting's):
# its defaults; `option splice-auto`, which splices only where its heuristics
# expect a gain (on this loopback iperf3, HAProxy 2.6 was seen making no splice
# call at all with it: strace -c, 2026-12-03); and `option splice-request` +
# `option splice-response`, which splice whenever they can, as the ambassador
# does. These are the lines each adds to the defaults section. tune.pipesize and
# maxpipes stay at their defaults: the kernel's 64 KiB pipe, the ambassador's
# too, and maxconn/4 = 1000 pipes, far above the 100 that 50 connections need.
HAPS=(haproxy haproxy_auto haproxy_splice)
declare -A HAP_EXTRA=([haproxy]="" [haproxy_auto]="option splice-auto"
                      [haproxy_splice]=$'option splice-request\n    option splice-response')
declare -A HAP_NAME=([haproxy]="HAP default" [haproxy_auto]="HAP auto" [haproxy_splice]="HAP splice")
WAYS=(direct "${HAPS[@]}" ambassador)
declare -A IPERF_AT=([direct]=$IPERF_PORT [haproxy]=$((BASE + 11)) [haproxy_auto]=$((BASE + 12))
                     [haproxy_splice]=$((BASE + 13)) [ambassador]=$AMB_IPERF)
declare -A NGINX_AT=([direct]=$NGINX_PORT [haproxy]=$((BASE + 90)) [haproxy_auto]=$((BASE + 91))
                     [haproxy_splice]=$((BASE + 92)) [ambassador]=$AMB_NGINX)
declare -A PROXY_PID=()

NCPU=$(nproc)
TMP=
POLICY=/usr/sbin/policy-rc.d POLICY_MADE=
SERVERS=(ambassador "${HAPS[@]}" nginx iperf3 etcd/etcd) # pidfiles under $TMP, stopped in this order

# ---- setup and teardown -----------------------------------------------------------

cleanup() {
    local s pid kids
    trap - EXIT INT TERM
    [ -n "$POLICY_MADE" ] && rm -f "$POLICY"
    [ -n "$TMP" ] && [ -d "$TMP" ] || return 0
    for s in "${SERVERS[@]}"; do
        [ -s "$TMP/$s.pid" ] || continue
        pid=$(cat "$TMP/$s.pid")
        kids=$(pgrep -P "$pid" 2>/dev/null) # nginx's workers
        dk_stop "$TMP/$s.pid" 10
        for pid in $kids; do # orphaned only if their master had to be killed
            kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
        done
    done
    rm -rf "$TMP"
}

fail() {
    local f
    dk_log "error: $*"
    for f in ambassador "${HAPS[@]}" nginx iperf3; do
        [ -s "$TMP/$f.log" ] && { echo "--- $f.log (tail)" >&2; tail -15 "$TMP/$f.log" >&2; }
    done
    exit 1
}

listening() { [ -n "$(ss -Htln "( sport = :$1 )" 2>/dev/null)" ]; }

# Run on the clients' / backends' cores, or on the proxies' (PIN=1).
ON_PROXY_CPUS=() ON_OTHER_CPUS=() # command prefixes
if [ "$PIN" = 1 ] && [ "$NCPU" -ge 2 ]; then
    PROXY_CPUS=$((NCPU - 1)) OTHER_CPUS=0-$((NCPU - 2))
    ON_PROXY_CPUS=(taskset -c "$PROXY_CPUS") ON_OTHER_CPUS=(taskset -c "$OTHER_CPUS")
else
    PIN=0
fi

# The tools, from Debian. A package's postinst must not start a system nginx or
# iperf3 daemon: where no policy-rc.d says otherwise, one that refuses is put in
# place for the install only.
need_tools() {
    local want=(iperf3 haproxy nginx wrk etcd-server etcd-client jq iproute2 util-linux procps) p rc lacking=
    [ -x "$BIN/dokkaa-ambassador" ] ||
        want+=(cmake gcc make pkg-config libcurl4-openssl-dev libjansson-dev libmicrohttpd-dev
               libssl-dev libcmocka-dev)
    for p in "${want[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || lacking=1
    done
    [ -z "$lacking" ] && return 0
    if [ ! -e "$POLICY" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$POLICY" && chmod 755 "$POLICY" && POLICY_MADE=1
    fi
    (DK_PACKAGES=("${want[@]}"); dk_need_packages) # dk_die exits the subshell only
    rc=$?
    [ -n "$POLICY_MADE" ] && rm -f "$POLICY"
    POLICY_MADE=
    return $rc
}

build_ambassador() {
    [ -x "$BIN/dokkaa-ambassador" ] && return 0
    [ "$BIN" = "$PWD/build/src" ] || dk_die "no $BIN/dokkaa-ambassador (DOKKAA_BIN)"
    dk_log "building (make: Release, in build/)"
    make >/dev/null || dk_die "make failed"
}

start_backends() {
    mkdir -p "$TMP/nginx/html" "$TMP/nginx/tmp"
    chmod 755 "$TMP" "$TMP/nginx" "$TMP/nginx/html" # nginx's workers run as nobody
    head -c 1024 /dev/urandom | base64 -w 76 | head -c 1024 > "$TMP/nginx/html/1k.txt"
    chmod 644 "$TMP/nginx/html/1k.txt"
    cat > "$TMP/nginx/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes $NCPU;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $TMP/nginx/tmp/body;
    proxy_temp_path $TMP/nginx/tmp/proxy;
    fastcgi_temp_path $TMP/nginx/tmp/fastcgi;
    uwsgi_temp_path $TMP/nginx/tmp/uwsgi;
    scgi_temp_path $TMP/nginx/tmp/scgi;
    keepalive_requests 10000000;
    keepalive_timeout 60s;
    sendfile on;
    tcp_nodelay on;
    server {
        listen 127.0.0.1:$NGINX_PORT reuseport backlog=4096;
        root $TMP/nginx/html;
    }
}
EOF
    dk_start "$TMP/nginx.pid" "$TMP/nginx.log" "${ON_OTHER_CPUS[@]}" nginx -e "$TMP/nginx.log" \
        -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf"
    dk_start "$TMP/iperf3.pid" "$TMP/iperf3.log" "${ON_OTHER_CPUS[@]}" iperf3 -s -B 127.0.0.1 -p "$IPERF_PORT"
    dk_wait 10 "nginx on 127.0.0.1:$NGINX_PORT" listening "$NGINX_PORT" || fail "nginx did not start"
    dk_wait 10 "iperf3 on 127.0.0.1:$IPERF_PORT" listening "$IPERF_PORT" || fail "iperf3 -s did not start"
}

etcdput() { ETCDCTL_API=3 etcdctl --endpoints "$ETCD" put "$1" "$2" >/dev/null; }

start_ambassador() {
    local allow=(--allow 127.0.0.0/8) workers
    dk_start_etcd "$TMP/etcd" "$ETCD_PORT" "$ETCD_PEER" || fail "etcd did not start"
    # The access list admits only containers that link a service, and the networks
    # given with --allow: loopback, here. No /metrics port: a demo may hold 4002.
    dk_start "$TMP/ambassador.pid" "$TMP/ambassador.log" "${ON_PROXY_CPUS[@]}" \
        "$BIN/dokkaa-ambassador" --etcd "$ETCD" --listen 127.0.0.1 "${allow[@]}" --metrics-port 0
    etcdput /links/bench/iperf "{\"port\": $AMB_IPERF}" &&
    etcdput /services/bench/iperf/bench---iperf@bench "{\"addr\": \"127.0.0.1\", \"port\": $IPERF_PORT}" &&
    etcdput /links/bench/nginx "{\"port\": $AMB_NGINX}" &&
    etcdput /services/bench/nginx/bench---nginx@bench "{\"addr\": \"127.0.0.1\", \"port\": $NGINX_PORT}" ||
        fail "etcdctl put failed"
    dk_wait 15 "the ambassador on 127.0.0.1:$AMB_IPERF" listening "$AMB_IPERF" &&
    dk_wait 15 "the ambassador on 127.0.0.1:$AMB_NGINX" listening "$AMB_NGINX" ||
        fail "the ambassador did not open its links"
    dk_alive "$TMP/ambassador.pid" || fail "the ambassador exited"
    workers=$(grep -o 'proxy: [0-9]* workers' "$TMP/ambassador.log" | head -1 | grep -o '[0-9]*')
    AMB_WORKERS=${workers:-$NCPU}
    AMB_ALLOW=${allow[*]}
    PROXY_PID[ambassador]=$(cat "$TMP/ambassador.pid")
}

haproxy_cfg() { # WAY -> the configuration of that HAProxy
    cat <<EOF
global
    nbthread $AMB_WORKERS
    maxconn 4000
defaults
    mode tcp
    maxconn 4000
    timeout connect 5s
    timeout client 60s
    timeout server 60s
${HAP_EXTRA[$1]:+    ${HAP_EXTRA[$1]}}
frontend iperf
    bind 127.0.0.1:${IPERF_AT[$1]}
    default_backend iperf
backend iperf
    server iperf 127.0.0.1:$IPERF_PORT
frontend nginx
    bind 127.0.0.1:${NGINX_AT[$1]}
    default_backend nginx
backend nginx
    server nginx 127.0.0.1:$NGINX_PORT
EOF
}

# Its global and defaults sections on one line, as the file has them: the
# report's header says how each HAProxy ran from the file it ran with.
haproxy_settings() { # WAY
    awk '/^(frontend|backend)/ {exit} NF {sub(/^ +/, ""); printf "%s%s", (n++ ? (/^defaults/ ? "; " : ", ") : ""), $0}
         END {print ""}' "$TMP/$1.cfg" | sed 's/global, /global: /; s/defaults, /defaults: /'
}

start_haproxy() { # WAY: one of HAPS
    local w=$1
    haproxy_cfg "$w" > "$TMP/$w.cfg"
    haproxy -c -q -f "$TMP/$w.cfg" >"$TMP/$w.log" 2>&1 || fail "$w: config rejected"
    dk_start "$TMP/$w.pid" "$TMP/$w.log" "${ON_PROXY_CPUS[@]}" haproxy -db -f "$TMP/$w.cfg"
    dk_wait 10 "$w on 127.0.0.1:${NGINX_AT[$w]}" listening "${NGINX_AT[$w]}" &&
    dk_wait 10 "$w on 127.0.0.1:${IPERF_AT[$w]}" listening "${IPERF_AT[$w]}" || fail "$w did not start"
    PROXY_PID[$w]=$(cat "$TMP/$w.pid")
}

# ---- measurements and report (bench/proxy_lib.sh) ------------------------------------

CLIENT=("${ON_OTHER_CPUS[@]}")
IPERF_ARGS=(-P 2)
DIRECT_TARGET=0.5 TARGET_FROM="issue 5"
. bench/proxy_lib.sh

report_header() {
    local w
    echo
    echo "ambassador vs HAProxy (${#HAPS[@]} settings) vs direct, on loopback; $ROUNDS interleaved rounds, rotating order"
    echo "machine: $NCPU cores, $(awk '{print "load average " $1 " " $2 " " $3}' /proc/loadavg) at the end" \
         "(other work on the machine competes too)"
    if [ "$PIN" = 1 ]; then
        echo "cores: the proxies pinned to CPU $PROXY_CPUS; clients and backends to CPU $OTHER_CPUS"
    else
        echo "cores: not pinned: the client, the proxy and the backend share the $NCPU cores, so a proxy's"
        echo "       own CPU cost is taken from the client and backend (PIN=1 pins the proxies apart)"
    fi
    echo "ambassador: $AMB_WORKERS workers, $AMB_ALLOW; splice(2) through a 64 KiB pipe per direction"
    for w in "${HAPS[@]}"; do
        echo "$(printf '%-11s' "${HAP_NAME[$w]}"): HAProxy $(haproxy -v | awk 'NR==1 {print $3}'), $(haproxy_settings "$w");" \
             "every tune.* at its default"
    done
    echo "nginx $NCPU workers, a 1 KiB static file; iperf3 -P 2 for ${IPERF_SECS}s; wrk -t2 -c50 for ${WRK_SECS}s," \
         "-c1 for ${WRK_C1_SECS}s"
    echo "each figure: the best of the rounds that passed, then its range (min-max) over them; amb/HAP is against"
    echo "the best HAProxy setting for that figure (* in the best row; in the range row, each round's best one)"
}


# ---- main ---------------------------------------------------------------------------

trap cleanup EXIT
trap 'exit 130' INT TERM
need_tools || exit 1
build_ambassador
for p in "$ETCD_PORT" "$ETCD_PEER" "${IPERF_AT[@]}" "${NGINX_AT[@]}"; do
    listening "$p" && dk_die "127.0.0.1:$p is taken: set PROXY_BENCH_PORT / PROXY_BENCH_ETCD"
done
TMP=$(mktemp -d /tmp/dokkaa-bench-proxy.XXXXXX) || dk_die "mktemp failed"
NSTAT=(env "NSTAT_HISTORY=$TMP/nstat" nstat)
[ "$NCPU" -le 2 ] && dk_log "$NCPU cores: the client, the proxy and the backend share them$(
    [ "$PIN" = 1 ] && echo " (the proxies pinned apart: PIN=1)")"

start_backends
start_ambassador
for w in "${HAPS[@]}"; do start_haproxy "$w"; done
dk_log "etcd, ambassador ($AMB_WORKERS workers), HAProxy (${HAPS[*]}), nginx and iperf3 up; $ROUNDS rounds"
for w in ambassador "${HAPS[@]}"; do # warm up the proxies' paths
    wrk -t1 -c2 -d1s "http://127.0.0.1:${NGINX_AT[$w]}/1k.txt" >/dev/null 2>&1
done
for n in $(seq 1 "$ROUNDS"); do
    round "$n"
    for w in ambassador "${HAPS[@]}"; do
        dk_alive "$TMP/$w.pid" || fail "$w died during round $n"
    done
done
report
