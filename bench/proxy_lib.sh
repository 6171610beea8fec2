# bench/proxy_lib.sh - the measurements and the report that bench/proxy.sh (on
# loopback) and bench/links.sh (from a container, through the bridge gateway) share.
# Sourced, never run. The script that sources it sets:
#   WAYS            direct, then the HAProxy ways (HAPS), then ambassador
#   HAPS, HAP_NAME  the HAProxy ways and their column names
#   PROXY_PID[way]  the pid whose CPU time is the way's (none for direct)
#   IPERF_AT[way], NGINX_AT[way]      the port each way is reached at, and
#   IPERF_HOST[way], NGINX_HOST[way]  its address (127.0.0.1 where unset)
#   CLIENT          the command prefix iperf3 and wrk run under (taskset, docker exec)
#   NSTAT           the command that runs nstat where the client's TCP stack is
#   IPERF_ARGS      iperf3's stream options (-P 2)
#   ROUNDS, IPERF_SECS, WRK_SECS, WRK_C1_SECS, TMP
#   DIRECT_TARGET   throughput ambassador / direct the issue asks for
#   TARGET_FROM     which issue the targets come from, for the report
# and defines report_header. It calls round N for each round, then report.

declare -A IPERF_HOST NGINX_HOST # declared, kept if set: 127.0.0.1 where unset

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
    out=$(timeout --foreground $((IPERF_SECS + 30)) "${CLIENT[@]}" iperf3 -c "${IPERF_HOST[$way]:-127.0.0.1}" \
            -p "${IPERF_AT[$way]}" -t "$IPERF_SECS" "${IPERF_ARGS[@]}" -J "$@" 2>&1)
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
delayed_acks() { "${NSTAT[@]}" TcpExtDelayedACKs 2>/dev/null | awk 'NR > 1 {n = $2} END {print n + 0}'; }

# wrk through WAY: SECS CONNS THREADS [wrk args]. Passed:
#   "req/s p50_us p99_us requests cpu_seconds delayed_acks_per_1000_requests";
# failed (status 1): why. wrk exits 0 even when every request failed, so its
# socket errors and non-2xx/3xx count are read: one is a failed run.
wrk_once() {
    local way=$1 secs=$2 conns=$3 threads=$4 out rc rps p50 p99 reqs errs c0 c1 acks; shift 4
    delayed_acks >/dev/null
    c0=$(cpu_ticks "$way")
    out=$(timeout --foreground $((secs + 30)) "${CLIENT[@]}" wrk -t"$threads" -c"$conns" -d"${secs}s" --latency "$@" \
            "http://${NGINX_HOST[$way]:-127.0.0.1}:${NGINX_AT[$way]}/1k.txt" 2>&1)
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
    printf '%-50s %11s %9s %6s %7s\n' "target ($TARGET_FROM), against the best HAProxy" measured target "" rounds
    target "throughput ambassador / HAProxy" tput '>=' 1.2
    target "throughput ambassador / direct" tput '>=' "$DIRECT_TARGET" direct
    target "requests/s ambassador / HAProxy, keep-alive" ka '>=' 1.0
    target "requests/s ambassador / HAProxy, conn per request" close '>=' 1.0
    target_latency "p50 added latency (c50)" ka50add
    target_latency "p50 added latency (c1)" c150add
    target "(throughput -R ambassador / HAProxy)" tput_r '>=' 1.2
}

