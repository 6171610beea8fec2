#!/usr/bin/env bash
# bench/proxy.sh - the ambassador's data path against HAProxy and against no proxy.
#
# In one invocation, on loopback, the same backends reached three ways: direct,
# through HAProxy (tcp mode, nbthread = the ambassador's worker count) and through
# a dokkaa-ambassador routing two links from an etcd of its own:
#   - iperf3 throughput (-P 2), both directions;
#   - wrk against nginx on a small static file: requests/s and p50/p99 latency with
#     keep-alive (-c50), requests/s with a new connection per request
#     (Connection: close), and the latency of one request at a time (-c1);
#   - the CPU time each proxy spent, per GB moved and per 1000 requests, and the
#     TCP delayed ACKs per 1000 requests (a Nagle / delayed-ACK stall shows there).
# Rounds are interleaved (direct, HAProxy, ambassador, in rotating order) and each
# figure is the best of ROUNDS. Prints a table, then the issue's ratios against
# their targets (throughput >= 1.2x HAProxy and >= 0.5x direct; requests/s >= 1.0x
# HAProxy; p50 added latency <= HAProxy's).
#
# Environment: DOKKAA_BIN (default build/src; built with `make` if missing),
# ROUNDS (3), IPERF_SECS (3), WRK_SECS (4), WRK_C1_SECS (2), PIN (0: the client,
# the proxy and the backend share every core as the scheduler likes; 1: both
# proxies on the last core, clients and backends on the others),
# PROXY_BENCH_PORT (25200: ports BASE+1..BASE+100), PROXY_BENCH_ETCD (25379; the
# peer port is the next one). The issue's lengths are IPERF_SECS=5 WRK_SECS=10;
# the defaults keep the whole run near three minutes.
#
# Everything it starts (etcd, ambassador, HAProxy, nginx, iperf3 server) is stopped
# by pid on exit, also on failure, and its temporary directory is removed. Traffic
# stays on 127.0.0.1.
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
HAP_IPERF=$((BASE + 11))   # HAProxy's frontends
HAP_NGINX=$((BASE + 90))
AMB_IPERF=$((BASE + 21))   # the ambassador's links
AMB_NGINX=$((BASE + 100))
WAYS=(direct haproxy ambassador)
declare -A IPERF_AT=([direct]=$IPERF_PORT [haproxy]=$HAP_IPERF [ambassador]=$AMB_IPERF)
declare -A NGINX_AT=([direct]=$NGINX_PORT [haproxy]=$HAP_NGINX [ambassador]=$AMB_NGINX)
declare -A PROXY_PID=()

NCPU=$(nproc)
TMP=
POLICY=/usr/sbin/policy-rc.d POLICY_MADE=
SERVERS=(ambassador haproxy nginx iperf3 etcd/etcd) # pidfiles under $TMP, stopped in this order

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
    for f in ambassador haproxy nginx iperf3; do
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

start_haproxy() {
    cat > "$TMP/haproxy.cfg" <<EOF
global
    nbthread $AMB_WORKERS
    maxconn 4000
defaults
    mode tcp
    maxconn 4000
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend iperf
    bind 127.0.0.1:$HAP_IPERF
    default_backend iperf
backend iperf
    server iperf 127.0.0.1:$IPERF_PORT
frontend nginx
    bind 127.0.0.1:$HAP_NGINX
    default_backend nginx
backend nginx
    server nginx 127.0.0.1:$NGINX_PORT
EOF
    haproxy -c -q -f "$TMP/haproxy.cfg" >"$TMP/haproxy.log" 2>&1 || fail "haproxy config rejected"
    dk_start "$TMP/haproxy.pid" "$TMP/haproxy.log" "${ON_PROXY_CPUS[@]}" haproxy -db -f "$TMP/haproxy.cfg"
    dk_wait 10 "HAProxy on 127.0.0.1:$HAP_NGINX" listening "$HAP_NGINX" &&
    dk_wait 10 "HAProxy on 127.0.0.1:$HAP_IPERF" listening "$HAP_IPERF" || fail "HAProxy did not start"
    PROXY_PID[haproxy]=$(cat "$TMP/haproxy.pid")
}

# ---- measurements -------------------------------------------------------------------

CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() { # WAY -> utime+stime of its proxy, all threads (0 for direct)
    local pid=${PROXY_PID[$1]:-}
    [ -n "$pid" ] || { echo 0; return; }
    awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$pid/stat" # fields 14, 15
}

# iperf3 through WAY (extra args: -R) -> "bits/s cpu_seconds"
iperf_once() {
    local way=$1 out bps c0 c1; shift
    c0=$(cpu_ticks "$way")
    out=$(timeout --foreground $((IPERF_SECS + 30)) "${ON_OTHER_CPUS[@]}" iperf3 -c 127.0.0.1 -p "${IPERF_AT[$way]}" \
            -t "$IPERF_SECS" -P 2 -J "$@" 2>&1)
    c1=$(cpu_ticks "$way")
    bps=$(jq -r '.end.sum_received.bits_per_second // empty' <<<"$out" 2>/dev/null)
    if [ -z "$bps" ]; then
        dk_log "iperf3 $way $*: $(jq -r '.error // empty' <<<"$out" 2>/dev/null || head -c 300 <<<"$out")"
        echo "0 0"; return
    fi
    sleep 0.3 # the server readies itself for the next test
    echo "$bps $(awk -v a="$c0" -v b="$c1" -v t="$CLK_TCK" 'BEGIN {print (b - a) / t}')"
}

to_us() { # wrk's 517.00us / 1.23ms / 1.01s -> microseconds
    awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) m = 1; else if (v ~ /ms$/) m = 1000;
                           else if (v ~ /m$/) m = 60e6; else if (v ~ /s$/) m = 1e6; else m = 1;
                           printf "%.1f", n * m }'
}

# TCP delayed ACKs sent since the last call (the namespace's counter: loopback
# traffic of anything else on the machine counts too, usually little).
delayed_acks() { NSTAT_HISTORY=$TMP/nstat nstat TcpExtDelayedACKs 2>/dev/null | awk 'NR > 1 {n = $2} END {print n + 0}'; }

# wrk through WAY: SECS CONNS THREADS [wrk args]
#   -> "req/s p50_us p99_us errors cpu_seconds delayed_acks_per_1000_requests"
wrk_once() {
    local way=$1 secs=$2 conns=$3 threads=$4 out rps p50 p99 errs c0 c1 acks; shift 4
    delayed_acks >/dev/null
    c0=$(cpu_ticks "$way")
    out=$(timeout --foreground $((secs + 30)) "${ON_OTHER_CPUS[@]}" wrk -t"$threads" -c"$conns" -d"${secs}s" --latency "$@" \
            "http://127.0.0.1:${NGINX_AT[$way]}/1k.txt" 2>&1)
    c1=$(cpu_ticks "$way")
    acks=$(delayed_acks)
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2; exit}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2; exit}' <<<"$out")
    # Socket errors (connect/read/write/timeout) and non-2xx answers, summed.
    errs=$(awk '/Socket errors:/ {gsub(/,/, ""); e += $4 + $6 + $8 + $10}
                /Non-2xx or 3xx responses:/ {e += $NF} END {print e + 0}' <<<"$out")
    if [ -z "$rps" ] || [ -z "$p50" ]; then
        dk_log "wrk $way $*: $(head -c 300 <<<"$out")"
        echo "0 0 0 0 0 0"; return
    fi
    echo "$rps $(to_us "$p50") $(to_us "$p99") $errs" \
         "$(awk -v a="$c0" -v b="$c1" -v t="$CLK_TCK" 'BEGIN {print (b - a) / t}')" \
         "$(awk -v n="$acks" -v r="$rps" -v s="$secs" 'BEGIN {print (r > 0 ? n / (r * s) * 1000 : 0)}')"
}

# Results: R[test,way] holds one line per round.
declare -A R=()
record() { R[$1,$2]+="$3"$'\n'; }
best() { # TEST WAY FIELD max|min -> the best of the rounds
    printf '%s' "${R[$1,$2]}" | awk -v f="$3" -v dir="$4" 'NF && $1 > 0 { # 0: the run failed
        v = $f + 0; if (!n++ || (dir == "max" ? v > b : v < b)) b = v } END { print n ? b : 0 }'
}
median() { # TEST WAY FIELD
    printf '%s' "${R[$1,$2]}" | awk -v f="$3" 'NF && $1 > 0 {print $f + 0}' | sort -g |
        awk '{a[n++] = $1} END { print n ? (n % 2 ? a[(n-1)/2] : (a[n/2-1] + a[n/2]) / 2) : 0 }'
}
sum_field() { printf '%s' "${R[$1,$2]}" | awk -v f="$3" 'NF {s += $f} END {print s + 0}'; }

round() { # N: every test, the three ways in an order that rotates with N
    local n=$1 i way order=() line
    for i in 0 1 2; do order+=("${WAYS[$(( (i + n) % 3 ))]}"); done
    for way in "${order[@]}"; do
        line=$(iperf_once "$way"); record iperf "$way" "$line"
        dk_log "round $n: iperf3      $way: $(awk '{printf "%.2f Gbit/s", $1 / 1e9}' <<<"$line")"
    done
    for way in "${order[@]}"; do
        line=$(iperf_once "$way" -R); record iperf_r "$way" "$line"
        dk_log "round $n: iperf3 -R   $way: $(awk '{printf "%.2f Gbit/s", $1 / 1e9}' <<<"$line")"
    done
    for way in "${order[@]}"; do
        line=$(wrk_once "$way" "$WRK_SECS" 50 2); record ka "$way" "$line"
        dk_log "round $n: keep-alive  $way: $(awk '{printf "%.0f req/s p50 %.0f us p99 %.0f us", $1, $2, $3}' <<<"$line")"
    done
    for way in "${order[@]}"; do
        line=$(wrk_once "$way" "$WRK_SECS" 50 2 -H 'Connection: close'); record close "$way" "$line"
        dk_log "round $n: conn/req    $way: $(awk '{printf "%.0f req/s p50 %.0f us", $1, $2}' <<<"$line")"
    done
    for way in "${order[@]}"; do
        line=$(wrk_once "$way" "$WRK_C1_SECS" 1 1); record c1 "$way" "$line"
        dk_log "round $n: one at once $way: $(awk '{printf "%.0f req/s p50 %.0f us p99 %.0f us", $1, $2, $3}' <<<"$line")"
    done
}

# ---- report -------------------------------------------------------------------------

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
verdict() { # VALUE OP TARGET -> ok / MISS
    awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN {
        if (v == "n/a") { print "n/a"; exit }
        ok = (op == ">=") ? v + 0 >= t + 0 : v + 0 <= t + 0; print ok ? "ok" : "MISS" }'
}

row() { # LABEL FORMAT DIRECT HAPROXY AMBASSADOR [ratios?]
    local label=$1 fmt=$2 d=$3 h=$4 a=$5 ratios=${6:-yes}
    printf "%-34s $fmt $fmt $fmt" "$label" "$d" "$h" "$a"
    [ "$ratios" = yes ] && printf ' %8sx %8sx' "$(ratio "$a" "$h")" "$(ratio "$a" "$d")"
    printf '\n'
}

report() {
    local t w
    declare -A B=()
    for w in "${WAYS[@]}"; do
        B[iperf,$w]=$(best iperf "$w" 1 max);    B[iperf_r,$w]=$(best iperf_r "$w" 1 max)
        B[ka,$w]=$(best ka "$w" 1 max);          B[ka50,$w]=$(best ka "$w" 2 min)
        B[ka99,$w]=$(best ka "$w" 3 min);        B[close,$w]=$(best close "$w" 1 max)
        B[c150,$w]=$(best c1 "$w" 2 min);        B[c199,$w]=$(best c1 "$w" 3 min)
        B[kaerr,$w]=$(sum_field ka "$w" 4);      B[closeerr,$w]=$(sum_field close "$w" 4)
    done
    echo
    echo "ambassador vs HAProxy vs direct, on loopback; best of $ROUNDS interleaved rounds"
    echo "machine: $NCPU cores, $(awk '{print "load average " $1 " " $2 " " $3}' /proc/loadavg) at the end" \
         "(other work on the machine competes too)"
    if [ "$PIN" = 1 ]; then
        echo "cores: both proxies pinned to CPU $PROXY_CPUS; clients and backends to CPU $OTHER_CPUS"
    else
        echo "cores: not pinned: the client, the proxy and the backend share the $NCPU cores, so a proxy's"
        echo "       own CPU cost is taken from the client and backend (PIN=1 pins the proxies apart)"
    fi
    echo "ambassador: $AMB_WORKERS workers, $AMB_ALLOW; HAProxy $(haproxy -v | awk 'NR==1 {print $3}'):" \
         "tcp mode, nbthread $AMB_WORKERS, default buffers (no splice)"
    echo "nginx $NCPU workers, a 1 KiB static file; iperf3 -P 2 for ${IPERF_SECS}s; wrk -t2 -c50 for ${WRK_SECS}s"
    echo
    printf '%-34s %11s %11s %11s %9s %9s\n' "" direct HAProxy ambassador "amb/HAP" "amb/dir"
    row "iperf3 Gbit/s (client->server)" %11.2f "$(awk -v v="${B[iperf,direct]}" 'BEGIN{print v/1e9}')" \
        "$(awk -v v="${B[iperf,haproxy]}" 'BEGIN{print v/1e9}')" "$(awk -v v="${B[iperf,ambassador]}" 'BEGIN{print v/1e9}')"
    row "iperf3 -R Gbit/s (server->client)" %11.2f "$(awk -v v="${B[iperf_r,direct]}" 'BEGIN{print v/1e9}')" \
        "$(awk -v v="${B[iperf_r,haproxy]}" 'BEGIN{print v/1e9}')" "$(awk -v v="${B[iperf_r,ambassador]}" 'BEGIN{print v/1e9}')"
    row "keep-alive req/s (c50)" %11.0f "${B[ka,direct]}" "${B[ka,haproxy]}" "${B[ka,ambassador]}"
    row "keep-alive p50 latency us (c50)" %11.0f "${B[ka50,direct]}" "${B[ka50,haproxy]}" "${B[ka50,ambassador]}"
    row "keep-alive p99 latency us (c50)" %11.0f "${B[ka99,direct]}" "${B[ka99,haproxy]}" "${B[ka99,ambassador]}"
    row "connection per request req/s (c50)" %11.0f "${B[close,direct]}" "${B[close,haproxy]}" "${B[close,ambassador]}"
    row "one at a time p50 latency us (c1)" %11.0f "${B[c150,direct]}" "${B[c150,haproxy]}" "${B[c150,ambassador]}"
    row "one at a time p99 latency us (c1)" %11.0f "${B[c199,direct]}" "${B[c199,haproxy]}" "${B[c199,ambassador]}"
    # The proxy's CPU time (all threads, from /proc), per unit of work, and the
    # delayed ACKs: medians of the rounds.
    local cpu_gb_h cpu_gb_a cpu_ka_h cpu_ka_a cpu_cl_h cpu_cl_a
    cpu_per() { # TEST WAY SCALE SECS FIELD: cpu seconds over work, per round, median
        printf '%s' "${R[$1,$2]}" | awk -v s="$3" -v secs="$4" -v f="$5" 'NF && $1 > 0 {print $f / ($1 * secs / s)}' |
            sort -g | awk '{a[n++] = $1} END { print n ? a[int((n-1)/2)] : 0 }'
    }
    cpu_gb_h=$(cpu_per iperf haproxy 8e9 "$IPERF_SECS" 2);  cpu_gb_a=$(cpu_per iperf ambassador 8e9 "$IPERF_SECS" 2)
    cpu_ka_h=$(cpu_per ka haproxy 1000 "$WRK_SECS" 5);       cpu_ka_a=$(cpu_per ka ambassador 1000 "$WRK_SECS" 5)
    cpu_cl_h=$(cpu_per close haproxy 1000 "$WRK_SECS" 5);    cpu_cl_a=$(cpu_per close ambassador 1000 "$WRK_SECS" 5)
    printf '%-34s %11s %11.1f %11.1f %8sx\n' "proxy CPU ms per GB (iperf3)" - \
        "$(awk -v v="$cpu_gb_h" 'BEGIN{print v*1000}')" "$(awk -v v="$cpu_gb_a" 'BEGIN{print v*1000}')" "$(ratio "$cpu_gb_a" "$cpu_gb_h")"
    printf '%-34s %11s %11.1f %11.1f %8sx\n' "proxy CPU ms per 1000 req (k-a)" - \
        "$(awk -v v="$cpu_ka_h" 'BEGIN{print v*1000}')" "$(awk -v v="$cpu_ka_a" 'BEGIN{print v*1000}')" "$(ratio "$cpu_ka_a" "$cpu_ka_h")"
    printf '%-34s %11s %11.1f %11.1f %8sx\n' "proxy CPU ms per 1000 conn (close)" - \
        "$(awk -v v="$cpu_cl_h" 'BEGIN{print v*1000}')" "$(awk -v v="$cpu_cl_a" 'BEGIN{print v*1000}')" "$(ratio "$cpu_cl_a" "$cpu_cl_h")"
    row "delayed ACKs per 1000 req (c50)" %11.1f "$(median ka direct 6)" "$(median ka haproxy 6)" \
        "$(median ka ambassador 6)" no
    row "delayed ACKs per 1000 req (c1)" %11.1f "$(median c1 direct 6)" "$(median c1 haproxy 6)" \
        "$(median c1 ambassador 6)" no
    for w in "${WAYS[@]}"; do
        t=$(( ${B[kaerr,$w]%.*} + ${B[closeerr,$w]%.*} ))
        [ "$t" -gt 0 ] && echo "note: wrk $w: $t socket errors or non-2xx answers over the rounds"
    done

    local tput tdir ka cl add_a add_h
    tput=$(ratio "${B[iperf,ambassador]}" "${B[iperf,haproxy]}")
    tdir=$(ratio "${B[iperf,ambassador]}" "${B[iperf,direct]}")
    ka=$(ratio "${B[ka,ambassador]}" "${B[ka,haproxy]}")
    cl=$(ratio "${B[close,ambassador]}" "${B[close,haproxy]}")
    add_a=$(awk -v a="${B[ka50,ambassador]}" -v d="${B[ka50,direct]}" 'BEGIN {printf "%.0f", a - d}')
    add_h=$(awk -v a="${B[ka50,haproxy]}" -v d="${B[ka50,direct]}" 'BEGIN {printf "%.0f", a - d}')
    echo
    printf '%-52s %12s %10s %6s\n' "target (issue 5)" measured target ""
    printf '%-52s %11sx %10s %6s\n' "throughput ambassador / HAProxy" "$tput" ">= 1.2" "$(verdict "$tput" '>=' 1.2)"
    printf '%-52s %11sx %10s %6s\n' "throughput ambassador / direct" "$tdir" ">= 0.5" "$(verdict "$tdir" '>=' 0.5)"
    printf '%-52s %11sx %10s %6s\n' "requests/s ambassador / HAProxy, keep-alive" "$ka" ">= 1.0" "$(verdict "$ka" '>=' 1.0)"
    printf '%-52s %11sx %10s %6s\n' "requests/s ambassador / HAProxy, conn per request" "$cl" ">= 1.0" "$(verdict "$cl" '>=' 1.0)"
    printf '%-52s %10sus %10s %6s\n' "p50 added latency (c50): ambassador, HAProxy ${add_h}us" "$add_a" "<= ${add_h}us" \
        "$(verdict "$add_a" '<=' "$add_h")"
    add_a=$(awk -v a="${B[c150,ambassador]}" -v d="${B[c150,direct]}" 'BEGIN {printf "%.0f", a - d}')
    add_h=$(awk -v a="${B[c150,haproxy]}" -v d="${B[c150,direct]}" 'BEGIN {printf "%.0f", a - d}')
    printf '%-52s %10sus %10s %6s\n' "p50 added latency (c1):  ambassador, HAProxy ${add_h}us" "$add_a" "<= ${add_h}us" \
        "$(verdict "$add_a" '<=' "$add_h")"
    printf '%-52s %11sx %10s %6s\n' "(throughput -R ambassador / HAProxy)" \
        "$(ratio "${B[iperf_r,ambassador]}" "${B[iperf_r,haproxy]}")" "" ""
}

# ---- main ---------------------------------------------------------------------------

trap cleanup EXIT
trap 'exit 130' INT TERM
need_tools || exit 1
build_ambassador
for p in "$ETCD_PORT" "$ETCD_PEER" "$IPERF_PORT" "$NGINX_PORT" "$HAP_IPERF" "$HAP_NGINX" "$AMB_IPERF" "$AMB_NGINX"; do
    listening "$p" && dk_die "127.0.0.1:$p is taken: set PROXY_BENCH_PORT / PROXY_BENCH_ETCD"
done
TMP=$(mktemp -d /tmp/dokkaa-bench-proxy.XXXXXX) || dk_die "mktemp failed"
[ "$NCPU" -le 2 ] && dk_log "$NCPU cores: the client, the proxy and the backend share them$(
    [ "$PIN" = 1 ] && echo " (the proxies pinned apart: PIN=1)")"

start_backends
start_ambassador
start_haproxy
dk_log "etcd, ambassador ($AMB_WORKERS workers), HAProxy, nginx and iperf3 up; $ROUNDS rounds"
wrk -t1 -c2 -d1s "http://127.0.0.1:$AMB_NGINX/1k.txt" >/dev/null 2>&1 # warm up both proxies' paths
wrk -t1 -c2 -d1s "http://127.0.0.1:$HAP_NGINX/1k.txt" >/dev/null 2>&1
for n in $(seq 1 "$ROUNDS"); do
    round "$n"
    dk_alive "$TMP/ambassador.pid" || fail "the ambassador died during round $n"
    dk_alive "$TMP/haproxy.pid" || fail "HAProxy died during round $n"
done
report
