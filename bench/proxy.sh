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

# ---- measurements -------------------------------------------------------------------

CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() { # WAY -> utime+stime of its proxy, all threads (0 for direct)
    local pid=${PROXY_PID[$1]:-}
    [ -n "$pid" ] || { echo 0; return; }
    awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$pid/stat" # fields 14, 15
}

cpu_secs() { awk -v a="$1" -v b="$2" -v t="$CLK_TCK" 'BEGIN {print (b - a) / t}'; }

# iperf3 through WAY (extra args: -R). Passed: "bits/s cpu_seconds"; failed (status
# 1): why. A run that exits 0 but moved nothing fails too.
iperf_once() {
    local way=$1 out rc bps bytes c0 c1; shift
    c0=$(cpu_ticks "$way")
    out=$(timeout --foreground $((IPERF_SECS + 30)) "${ON_OTHER_CPUS[@]}" iperf3 -c 127.0.0.1 -p "${IPERF_AT[$way]}" \
            -t "$IPERF_SECS" -P 2 -J "$@" 2>&1)
    rc=$?
    c1=$(cpu_ticks "$way")
    sleep 0.3 # the server readies itself for the next test
    read -r bps bytes < <(jq -r '[.end.sum_received.bits_per_second // 0, .end.sum_received.bytes // 0] | @tsv' \
                               <<<"$out" 2>/dev/null)
    if [ "$rc" != 0 ] || ! awk -v b="${bytes:-0}" -v r="${bps:-0}" 'BEGIN {exit !(b > 0 && r > 0)}'; then
        echo "iperf3 exit $rc, ${bytes:-0} bytes received: $(jq -r '.error // empty' <<<"$out" 2>/dev/null |
            grep . || tr '\n' ' ' <<<"$out" | head -c 200)"
        return 1
    fi
    echo "$bps $(cpu_secs "$c0" "$c1")"
}

to_us() { # wrk's 517.00us / 1.23ms / 1.01s -> microseconds
    awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) m = 1; else if (v ~ /ms$/) m = 1000;
                           else if (v ~ /m$/) m = 60e6; else if (v ~ /s$/) m = 1e6; else m = 1;
                           printf "%.1f", n * m }'
}

# TCP delayed ACKs sent since the last call (the namespace's counter: loopback
# traffic of anything else on the machine counts too, usually little).
delayed_acks() { NSTAT_HISTORY=$TMP/nstat nstat TcpExtDelayedACKs 2>/dev/null | awk 'NR > 1 {n = $2} END {print n + 0}'; }

# wrk through WAY: SECS CONNS THREADS [wrk args]. Passed:
#   "req/s p50_us p99_us requests cpu_seconds delayed_acks_per_1000_requests";
# failed (status 1): why. wrk exits 0 even when every request failed, so its
# socket errors and non-2xx/3xx count are read: one is a failed run.
wrk_once() {
    local way=$1 secs=$2 conns=$3 threads=$4 out rc rps p50 p99 reqs errs c0 c1 acks; shift 4
    delayed_acks >/dev/null
    c0=$(cpu_ticks "$way")
    out=$(timeout --foreground $((secs + 30)) "${ON_OTHER_CPUS[@]}" wrk -t"$threads" -c"$conns" -d"${secs}s" --latency "$@" \
            "http://127.0.0.1:${NGINX_AT[$way]}/1k.txt" 2>&1)
    rc=$?
    c1=$(cpu_ticks "$way")
    acks=$(delayed_acks)
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2; exit}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2; exit}' <<<"$out")
    reqs=$(awk '/ requests in / {print $1; exit}' <<<"$out")
    errs=$(awk '/Socket errors:/ {gsub(/,/, ""); printf "socket errors: connect %s read %s write %s timeout %s; ", $4, $6, $8, $10}
                /Non-2xx or 3xx responses:/ {printf "%s answers not 2xx/3xx; ", $NF}' <<<"$out")
    if [ "$rc" != 0 ] || [ -z "$rps" ] || [ -z "$p50" ] || [ "${reqs:-0}" = 0 ]; then
        echo "wrk exit $rc, ${reqs:-no} requests: $(tr '\n' ' ' <<<"$out" | head -c 200)"; return 1
    fi
    [ -z "$errs" ] || { echo "wrk: $reqs requests, ${errs%; }"; return 1; }
    echo "$rps $(to_us "$p50") $(to_us "$p99") $reqs $(cpu_secs "$c0" "$c1")" \
         "$(awk -v n="$acks" -v r="$reqs" 'BEGIN {print (r > 0 ? n / r * 1000 : 0)}')"
}

once() { # TEST WAY -> a run's fields (see iperf_once, wrk_once)
    case $1 in
    iperf)   iperf_once "$2" ;;
    iperf_r) iperf_once "$2" -R ;;
    ka)      wrk_once "$2" "$WRK_SECS" 50 2 ;;
    close)   wrk_once "$2" "$WRK_SECS" 50 2 -H 'Connection: close' ;;
    c1)      wrk_once "$2" "$WRK_C1_SECS" 1 1 ;;
    esac
}

shown() { # TEST LINE -> the run's headline, for the log
    case $1 in
    iperf*) awk '{printf "%.2f Gbit/s", $1 / 1e9}' <<<"$2" ;;
    *)      awk '{printf "%.0f req/s p50 %.0f us p99 %.0f us", $1, $2, $3}' <<<"$2" ;;
    esac
}

# Results: R[test,way,round] holds a passed run's fields; FAILED[test,round] says
# which ways failed that test in that round, whose runs are then all left out.
TESTS=(iperf iperf_r ka close c1)
declare -A R=() FAILED=()

round() { # N: every test, the ways in an order that rotates with N
    local n=$1 i t way line order=() bad
    for i in "${!WAYS[@]}"; do order+=("${WAYS[$(( (i + n) % ${#WAYS[@]} ))]}"); done
    for t in "${TESTS[@]}"; do
        bad=
        for way in "${order[@]}"; do
            if line=$(once "$t" "$way"); then
                R[$t,$way,$n]=$line
                dk_log "round $n: $(printf '%-8s %-14s' "$t" "$way") $(shown "$t" "$line")"
            else
                bad+="$way: $line; "
                dk_log "round $n: $(printf '%-8s %-14s' "$t" "$way") FAILED: $line"
            fi
        done
        [ -z "$bad" ] || FAILED[$t,$n]=${bad%; }
    done
}

# ---- report -------------------------------------------------------------------------

# A figure: the test it comes from, an awk expression over that run's fields f[]
# (and D[], the direct run's of the same round), which way is better (max or
# min), a printf format, and whether the direct way has one (cpu: no proxy;
# added latency: the difference from it).
declare -A FIG_TEST=() FIG_EXPR=() FIG_DIR=() FIG_FMT=() FIG_DIRECT=() FIG_LABEL=()
figure() { # NAME TEST EXPR DIR FMT DIRECT LABEL
    FIG_TEST[$1]=$2 FIG_EXPR[$1]=$3 FIG_DIR[$1]=$4 FIG_FMT[$1]=$5 FIG_DIRECT[$1]=$6 FIG_LABEL[$1]=$7
    FIGS+=("$1")
}
FIGS=()
figure tput    iperf   'f[1] / 1e9'   max %.2f yes "iperf3 Gbit/s, client->server"
figure tput_r  iperf_r 'f[1] / 1e9'   max %.2f yes "iperf3 -R Gbit/s, server->client"
figure ka      ka      'f[1]'         max %.0f yes "keep-alive req/s (c50)"
figure ka50    ka      'f[2]'         min %.0f yes "keep-alive p50 us (c50)"
figure ka99    ka      'f[3]'         min %.0f yes "keep-alive p99 us (c50)"
figure ka50add ka      'f[2] - D[2]'  min %.0f no  "added p50 us (c50)"
figure close   close   'f[1]'         max %.0f yes "conn per request req/s (c50)"
figure c150    c1      'f[2]'         min %.0f yes "one at a time p50 us (c1)"
figure c199    c1      'f[3]'         min %.0f yes "one at a time p99 us (c1)"
figure c150add c1      'f[2] - D[2]'  min %.0f no  "added p50 us (c1)"
# The proxy's CPU time over the work done, in ms: per GB (10^9 bytes, from the rate
# and the length), per 1000 requests (with Connection: close, each a connection).
figure cpu_gb  iperf   "f[2] * 1000 / (f[1] * $IPERF_SECS / 8e9)" min %.1f no "proxy CPU ms per GB (iperf3)"
figure cpu_ka  ka      'f[5] * 1e6 / f[4]'  min %.1f no "proxy CPU ms per 1000 req (k-a)"
figure cpu_cl  close   'f[5] * 1e6 / f[4]'  min %.1f no "proxy CPU ms per 1000 conn"
figure ack_ka  ka      'f[6]'         min %.1f yes "delayed ACKs per 1000 req (c50)"
figure ack_c1  c1      'f[6]'         min %.1f yes "delayed ACKs per 1000 req (c1)"
NO_RATIO=" ack_ka ack_c1 " # diagnostics: where a stall would show, not a score

passed_rounds() { # TEST -> the rounds where every way passed it
    local n
    for n in $(seq 1 "$ROUNDS"); do [ -z "${FAILED[$1,$n]:-}" ] && echo "$n"; done
}

value() { # FIGURE WAY ROUND -> the figure for that run
    local t=${FIG_TEST[$1]}
    awk -v l="${R[$t,$2,$3]}" -v d="${R[$t,direct,$3]}" \
        "BEGIN { split(l, f); split(d, D); printf \"%.6g\", ${FIG_EXPR[$1]} }"
}

better() { # DIR A B -> the better of two values
    awk -v dir="$1" -v a="$2" -v b="$3" 'BEGIN { print (dir == "max" ? (a >= b ? a : b) : (a <= b ? a : b)) }'
}

# Per figure, per round that passed: each way's value (in WAYS' order: direct,
# the HAProxy, the ambassador), then the best HAProxy's value in that round.
figure_rounds() { # FIGURE
    local fig=$1 n w v h v1
    for n in $(passed_rounds "${FIG_TEST[$fig]}"); do
        v=() h=
        for w in "${WAYS[@]}"; do v+=("$(value "$fig" "$w" "$n")"); done
        for w in "${HAPS[@]}"; do
            v1=$(value "$fig" "$w" "$n"); h=${h:-$v1}; h=$(better "${FIG_DIR[$fig]}" "$h" "$v1")
        done
        echo "$n ${v[*]} $h"
    done
}

# One figure: a row of the best of the rounds (* marks the best HAProxy setting, the
# one the ratio is against), and a row of the ranges; the ratio's range is of
# the rounds' own ratios, each against that round's best HAProxy.
report_figure() { # FIGURE
    local fig=$1 rows
    rows=$(figure_rounds "$fig")
    if [ -z "$rows" ]; then
        printf '%-34s %s\n' "${FIG_LABEL[$fig]}" "no round passed"; return
    fi
    awk -v label="${FIG_LABEL[$fig]}" -v dir="${FIG_DIR[$fig]}" -v fmt="${FIG_FMT[$fig]}" -v nw="${#WAYS[@]}" \
        -v direct="${FIG_DIRECT[$fig]}" -v ratios="$([[ $NO_RATIO == *" $fig "* ]] && echo no || echo yes)" '
        function better(a, b) { return dir == "max" ? (a >= b ? a : b) : (a <= b ? a : b) }
        function r(a, b) { return b > 0 ? a / b : "n/a" }
        function span(lo, hi, f) { return sprintf(f (lo < 0 ? ".." : "-") f, lo, hi) } # -34..21
        { # $2 direct, $3..$(nw) the HAProxy, $(nw + 1) the ambassador, $(nw + 2) the best HAProxy
          for (w = 2; w <= nw + 1; w++) {
              v = $w + 0; if (!n || v < lo[w]) lo[w] = v; if (!n || v > hi[w]) hi[w] = v
              best[w] = n ? better(best[w], v) : v }
          rh = r($(nw + 1), $(nw + 2)); rd = r($(nw + 1), $2)
          if (rh != "n/a") { if (!nh++ || rh < rhl) rhl = rh; if (nh == 1 || rh > rhh) rhh = rh }
          if (rd != "n/a") { if (!nd++ || rd < rdl) rdl = rd; if (nd == 1 || rd > rdh) rdh = rd }
          n++ }
        END {
            h = best[3]; for (w = 4; w <= nw; w++) h = better(h, best[w])
            line = sprintf("%-32s %12s ", label, direct == "yes" ? sprintf(fmt, best[2]) : "-")
            for (w = 3; w <= nw + 1; w++) {
                mark = (ratios == "yes" && w <= nw && best[w] == h && !marked++) ? "*" : " "
                line = line sprintf("%12s%s", sprintf(fmt, best[w]), mark)
            }
            if (ratios == "yes") {
                x = r(best[nw + 1], h); y = direct == "yes" ? r(best[nw + 1], best[2]) : "n/a"
                line = line sprintf(" %9s %9s", x == "n/a" ? x : sprintf("%.2fx", x),
                                    y == "n/a" ? "-" : sprintf("%.2fx", y))
            }
            print line
            line = sprintf("%-32s %12s ", "  range, " n " round" (n > 1 ? "s" : ""),
                           direct == "yes" ? span(lo[2], hi[2], fmt) : "-")
            for (w = 3; w <= nw + 1; w++) line = line sprintf("%12s ", span(lo[w], hi[w], fmt))
            if (ratios == "yes")
                line = line sprintf(" %9s %9s", nh ? span(rhl, rhh, "%.2f") : "n/a",
                                    direct == "yes" && nd ? span(rdl, rdh, "%.2f") : "-")
            print line
        }' <<<"$rows"
}

# A target against the best HAProxy setting: the best of the rounds, and how many
# rounds met it on their own.
target() { # LABEL FIGURE OP THRESHOLD [direct]
    local label=$1 fig=$2 op=$3 th=$4 against=${5:-hap} rows
    rows=$(figure_rounds "$fig")
    [ -n "$rows" ] || { printf '%-50s %12s\n' "$label" "no round passed"; return; }
    awk -v label="$label" -v op="$op" -v th="$th" -v against="$against" -v dir="${FIG_DIR[$fig]}" \
        -v nw="${#WAYS[@]}" '
        function better(a, b) { return dir == "max" ? (a >= b ? a : b) : (a <= b ? a : b) }
        function ok(v) { return op == ">=" ? v >= th : v <= th }
        { a = $(nw + 1); den = against == "direct" ? $2 : $(nw + 2)
          if (den > 0 && ok(a / den)) k++
          ba = n ? better(ba, a) : a
          for (w = 2; w <= nw; w++) b[w] = n ? better(b[w], $w) : $w
          n++ }
        END { if (against == "direct") bd = b[2]
              else { bd = b[3]; for (w = 4; w <= nw; w++) bd = better(bd, b[w]) }
              v = bd > 0 ? ba / bd : -1
              printf "%-50s %11s %9s %6s %7s\n", label, v < 0 ? "n/a" : sprintf("%.2fx", v), op " " th,
                     v < 0 ? "n/a" : (ok(v) ? "ok" : "MISS"), k + 0 "/" n }' <<<"$rows"
}

# Added latency against HAProxy's own added latency (the best setting's), in us.
target_latency() { # LABEL FIGURE
    local rows
    rows=$(figure_rounds "$2")
    [ -n "$rows" ] || { printf '%-50s %12s\n' "$1" "no round passed"; return; }
    awk -v label="$1" -v nw="${#WAYS[@]}" '
        function min(a, b) { return a <= b ? a : b }
        { a = n ? min(a, $(nw + 1)) : $(nw + 1)
          for (w = 3; w <= nw; w++) b[w] = n ? min(b[w], $w) : $w
          if ($(nw + 1) <= $(nw + 2)) k++; n++ }
        END { h = b[3]; for (w = 4; w <= nw; w++) h = min(h, b[w])
              printf "%-50s %9.0fus %9s %6s %7s\n", label " (HAProxy " sprintf("%.0f", h) "us)", a,
                     "<= HAProxy", a <= h ? "ok" : "MISS", k + 0 "/" n }' <<<"$rows"
}

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

report() {
    local t n fig failed=
    report_header
    for t in "${TESTS[@]}"; do
        for n in $(seq 1 "$ROUNDS"); do
            [ -n "${FAILED[$t,$n]:-}" ] && failed+="  round $n, $t: ${FAILED[$t,$n]}"$'\n'
        done
    done
    [ -n "$failed" ] && printf 'FAILED, left out of every figure (all ways, that test, that round):\n%s' "$failed"
    echo
    printf '%-32s %12s ' "" direct
    for w in "${HAPS[@]}" ambassador; do printf '%12s ' "${HAP_NAME[$w]:-$w}"; done
    printf '%9s %9s\n' amb/HAP amb/dir
    for fig in "${FIGS[@]}"; do report_figure "$fig"; done
    echo
    printf '%-50s %11s %9s %6s %7s\n' "target (issue 5), against the best HAProxy" measured target "" rounds
    target "throughput ambassador / HAProxy" tput '>=' 1.2
    target "throughput ambassador / direct" tput '>=' 0.5 direct
    target "requests/s ambassador / HAProxy, keep-alive" ka '>=' 1.0
    target "requests/s ambassador / HAProxy, conn per request" close '>=' 1.0
    target_latency "p50 added latency (c50)" ka50add
    target_latency "p50 added latency (c1)" c150add
    target "(throughput -R ambassador / HAProxy)" tput_r '>=' 1.2
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
