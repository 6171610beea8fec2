#!/usr/bin/env bash
# bench/api.sh - the REST API's reads, cached and uncached, against etcd's own read
# of the same keys, and the console's first load.
#
#   flock /tmp/dokkaa-suites.lock bench/api.sh
#
# with the defaults DOKKAA_BIN=build/src DURATION=10 THREADS=2 CONNECTIONS=16
# ROUNDS=3 ETCD_PORT=23379 (and 23380) API_PORT=4091. Every figure it prints comes
# from that one command.
#
# (a) 1,000 manifests (100 apps x 10) in etcd; under wrk, with the same threads,
#     connections and duration, one after another in each round:
#     - cached: the builder's GET /api/v1/apps. The builder answers it from its
#       in-memory snapshot of etcd, kept current by a watch (store.c), as text kept
#       with the snapshot: no request to etcd at all. This is what the API serves
#       for every read under /api/v1.
#     - uncached: the builder's GET /v2/keys/apps?recursive=true, the same 1,000
#       manifests in etcd v2's shape. The builder answers it by going to etcd on
#       each request (v2.c: a range of /apps, then a range of the /apps/ prefix,
#       both linearizable, etcd v3's default; v2's quorum=true is accepted and
#       changes nothing, every read is already one), then encodes them.
#     - etcd: its own range of the same 1,000 keys through its JSON gateway (POST
#       /v3/kv/range): linearizable, as clients get it by default; serializable,
#       etcd's fastest read; and serializable with only THREADS connections.
#     Prints requests/s and p99 of each as the range over ROUNDS, bytes per
#     response, and the ratios, each computed within a round and given as the range
#     over ROUNDS (higher is better). The cached ratio says what the snapshot saves
#     over reading etcd, not that the builder reads etcd faster than etcd does; the
#     uncached one is the builder's cost on a read that does go to etcd. Target:
#     cached >= 1.0x the best etcd read in every round.
# (b) The console's first load: / and every asset it references (src/href of
#     index.html, url() of its CSS, imports of its scripts), as a browser fetches
#     them (Accept-Encoding: gzip); total bytes transferred (target < 100 KB).
#
# Self-contained: its own etcd on 127.0.0.1 ($ETCD_PORT, default 23379/23380) and
# its own builder on 127.0.0.1:$API_PORT (default 4091), both stopped by pid, their
# data removed, also on failure. Traffic only to 127.0.0.1. It loads both cores for
# about 5 x DURATION x ROUNDS seconds (2.5 min by default): take the lock above.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. scripts/lib.sh
BIN=${DOKKAA_BIN:-$PWD/build/src}
ETCD_PORT=${ETCD_PORT:-23379}
API_PORT=${API_PORT:-4091}
DURATION=${DURATION:-10}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-16}
ROUNDS=${ROUNDS:-3}
APPS=100 PER_APP=10
ETCD=http://127.0.0.1:$ETCD_PORT
API=http://127.0.0.1:$API_PORT

command -v wrk >/dev/null || { DK_PACKAGES=(wrk); dk_need_packages; }
command -v jq >/dev/null || { DK_PACKAGES=(jq); dk_need_packages; }
command -v bc >/dev/null || { DK_PACKAGES=(bc); dk_need_packages; }
[ -x "$BIN/dokkaa-builder" ] || dk_die "no $BIN/dokkaa-builder: build first (make)"
for p in "$ETCD_PORT" $((ETCD_PORT + 1)) "$API_PORT"; do
    ! ss -Hltn "( sport = :$p )" | grep -q . || dk_die "port $p is in use: set ETCD_PORT / API_PORT"
done

DIR=$(mktemp -d /tmp/dokkaa-bench-api.XXXXXX)
cleanup() {
    trap - EXIT INT TERM
    dk_stop "$DIR/builder.pid"
    dk_stop "$DIR/etcd/etcd.pid"
    rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the cluster state: 1,000 manifests ---------------------------------------------

dk_start_etcd "$DIR/etcd" "$ETCD_PORT" $((ETCD_PORT + 1)) || { tail -5 "$DIR/etcd/etcd.log"; exit 1; }
dk_start "$DIR/builder.pid" "$DIR/builder.log" "$BIN/dokkaa-builder" --etcd "$ETCD" --port "$API_PORT" \
    --host-id bench
dk_wait 20 "the builder" curl -sf "$API/healthz" || { tail -5 "$DIR/builder.log"; exit 1; }

# 10 transactions of 100 puts each (etcd allows 128 operations per transaction)
for t in $(seq 0 $((APPS / 10 - 1))); do
    jq -nc --argjson t "$t" --argjson per "$PER_APP" '{success: [
        range($t * 10; $t * 10 + 10) as $a | ("app-" + ("00\($a)" | .[-3:])) as $app | range($per) as $n
        | {requestPut: {key: ("/apps/\($app)/svc-\($n)/manifest" | @base64),
                        value: ({image: "dockerfile/nginx", scale: 2, services: {web: 80},
                                 env: {APP: $app}} | tojson | @base64)}}]}' > "$DIR/txn.json"
    curl -sf -XPOST "$ETCD/v3/kv/txn" --data-binary "@$DIR/txn.json" | jq -e .succeeded >/dev/null ||
        dk_die "writing the manifests into etcd failed"
done
N=$((APPS * PER_APP))
CACHED="$API/api/v1/apps"
UNCACHED="$API/v2/keys/apps?recursive=true"
shows_all() { curl -sf "$CACHED" | jq -e "[.apps[].manifests[]] | length == $N" >/dev/null; }
dk_wait 30 "GET /api/v1/apps to show $N manifests" shows_all || exit 1
# /v2/keys/apps: app directories, their manifest directories, each with its manifest
curl -sf "$UNCACHED" | jq -e "[.node.nodes[].nodes[].nodes[] | select(.key | endswith(\"/manifest\"))]
    | length == $N" >/dev/null || dk_die "GET /v2/keys/apps?recursive=true does not list $N manifests"
RANGE=$(jq -nc '{key: ("/apps/" | @base64), range_end: ("/apps0" | @base64)}')
RANGE_S=$(jq -nc '{key: ("/apps/" | @base64), range_end: ("/apps0" | @base64), serializable: true}')
[ "$(curl -sf -XPOST "$ETCD/v3/kv/range" -d "$RANGE" | jq -r .count)" = "$N" ] ||
    dk_die "etcd's range does not count $N keys"

# ---- (a) wrk --------------------------------------------------------------------------

post_lua() { # BODY NAME -> a wrk script posting BODY
    printf 'wrk.method = "POST"\nwrk.body = %s\nwrk.headers["Content-Type"] = "application/json"\n' \
        "$(jq -Rn --arg b "$1" '$b')" > "$DIR/$2.lua"
    echo "$DIR/$2.lua"
}
# URL [SCRIPT [CONNECTIONS]] -> "requests/s p99"; fails on any non-2xx answer. A
# request may take up to 10 s (wrk's default of 2 s would drop etcd's slow ranges
# from its count).
bench_rps() {
    local out rps
    out=$(wrk -t"$THREADS" -c"${3:-$CONNECTIONS}" -d"${DURATION}s" --timeout 10s --latency ${2:+-s "$2"} "$1" 2>&1)
    echo "$out" > "$DIR/wrk.last"
    if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then
        dk_log "wrk $1: $(grep -E 'Non-2xx|Socket errors' <<<"$out")"
        grep -q 'Non-2xx' <<<"$out" && return 1
    fi
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    [ -n "$rps" ] || { dk_log "wrk $1: $out"; return 1; }
    echo "$rps $(awk '/^ +99%/ {print $2}' <<<"$out")"
}
size_of() { # URL [curl args] -> "body header" bytes
    curl -s -o /dev/null -w '%{size_download} %{size_header}' "$@"
}
# "low-high" of numbers, with printf FORMAT for each; one number when they agree.
span() {
    local fmt=$1; shift
    printf '%s\n' "$@" | sort -g | awk -v f="$fmt" 'NR == 1 {lo = $1} {hi = $1}
        END {a = sprintf(f, lo); b = sprintf(f, hi); print (a == b ? a : a "-" b)}'
}
# p99 as wrk prints it (123.45us, 6.78ms, 1.02s) -> "low-high", keeping wrk's units
p99_span() {
    printf '%s\n' "$@" | awk '{v = $1 + 0; u = $1; sub(/^[0-9.]+/, "", u)
        print v * (u == "us" ? 1e-6 : u == "ms" ? 1e-3 : 1), $1}' | sort -g |
        awk 'NR == 1 {lo = $2} {hi = $2} END {print (lo == hi ? lo : lo "-" hi)}'
}
ratio() { echo "$1 / $2" | bc -l; }
max() { printf '%s\n' "$@" | sort -g | tail -1; }

# Each round measures every read in the same order; a ratio compares two reads of
# the same round, so that a round slowed by the machine's other load is compared
# with itself.
LIN=$(post_lua "$RANGE" range) SER=$(post_lua "$RANGE_S" range_serializable)
api=() v2=() lin=() ser=() few=() r_best=() r_lin=() r_v2lin=() r_cache=()
for r in $(seq 1 "$ROUNDS"); do
    a=$(bench_rps "$CACHED") || exit 1
    u=$(bench_rps "$UNCACHED") || exit 1
    l=$(bench_rps "$ETCD/v3/kv/range" "$LIN") || exit 1
    s=$(bench_rps "$ETCD/v3/kv/range" "$SER") || exit 1
    f=$(bench_rps "$ETCD/v3/kv/range" "$SER" "$THREADS") || exit 1
    api+=("$a") v2+=("$u") lin+=("$l") ser+=("$s") few+=("$f")
    r_best+=("$(ratio "${a% *}" "$(max "${l% *}" "${s% *}" "${f% *}")")")
    r_lin+=("$(ratio "${a% *}" "${l% *}")")
    r_v2lin+=("$(ratio "${u% *}" "${l% *}")")
    r_cache+=("$(ratio "${a% *}" "${u% *}")")
    dk_log "round $r of $ROUNDS: cached ${a% *}, uncached ${u% *}, etcd ${l% *} / ${s% *} / ${f% *} requests/s"
done
read -r abody ahead <<<"$(size_of "$CACHED")"
read -r vbody vhead <<<"$(size_of "$UNCACHED")"
read -r ebody ehead <<<"$(size_of "$ETCD/v3/kv/range" -XPOST -d "$RANGE")"

row() { # LABEL RESULTS-ARRAY-NAME BODY HEADER
    local -n res=$2
    printf '%-50s %15s %17s %10d %7d\n' "$1" "$(span '%.0f' "${res[@]% *}")" \
        "$(p99_span "${res[@]#* }")" "$3" "$4"
}
echo
echo "(a) reads of $N manifests ($APPS apps x $PER_APP), wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s," \
    "range over $ROUNDS rounds"
echo "    cached = served from the builder's in-memory, watch-fed snapshot of etcd (no etcd request);"
echo "    uncached = the builder reads etcd (two linearizable ranges) on every request"
printf '%-50s %15s %17s %10s %7s\n' "" "requests/s" "p99" "body B" "header"
row "cached:   builder GET /api/v1/apps" api "$abody" "$ahead"
row "uncached: builder GET /v2/keys/apps?recursive=true" v2 "$vbody" "$vhead"
row "etcd gateway POST /v3/kv/range (linearizable)" lin "$ebody" "$ehead"
row "etcd gateway POST /v3/kv/range serializable" ser "$ebody" "$ehead"
row "  the same with $THREADS connections" few "$ebody" "$ehead"
echo "ratios, each within a round (higher is better):"
printf '  %-48s %14sx\n' "cached / etcd linearizable" "$(span '%.2f' "${r_lin[@]}")"
printf '  %-48s %14sx   (target >= 1.0x)\n' "cached / best etcd read of the round" "$(span '%.2f' "${r_best[@]}")"
printf '  %-48s %14sx\n' "uncached / etcd linearizable" "$(span '%.2f' "${r_v2lin[@]}")"
printf '  %-48s %14sx   (what the snapshot saves)\n' "cached / uncached" "$(span '%.2f' "${r_cache[@]}")"
RATIO_OK=1
for x in "${r_best[@]}"; do [ "$(echo "$x >= 1" | bc)" = 1 ] || RATIO_OK=0; done

# ---- (b) the console's first load -----------------------------------------------------

echo
CONSOLE_OK=1
if ! curl -sf -o "$DIR/index.html" "$API/"; then
    echo "console: GET / does not answer 200: no console to measure"
    CONSOLE_OK=0
else
    python3 - "$API" "$DIR/index.html" <<'EOF' || CONSOLE_OK=0
import gzip, html.parser, re, sys, urllib.parse, urllib.request

base, index = sys.argv[1], sys.argv[2]

class Refs(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs = []
    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ("src", "href") and v and not (tag == "a" and k == "href"):
                self.refs.append(v)

def fetch(url):
    req = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(req, timeout=10) as r:
        raw = r.read()
        body = gzip.decompress(raw) if r.headers.get("Content-Encoding") == "gzip" else raw
        return r.status, len(raw), body

def local(ref, page):
    if ref.startswith(("data:", "#", "mailto:", "javascript:")):
        return None
    url = urllib.parse.urljoin(page, ref)
    return url if url.startswith(base + "/") else None

todo, seen, total, plain, rows, bad = [base + "/"], set(), 0, 0, [], 0
while todo:
    url = todo.pop(0)
    if url in seen:
        continue
    seen.add(url)
    try:
        status, wire, body = fetch(url)
    except Exception as e:
        rows.append((url, "error: %s" % e, 0, 0)); bad += 1
        continue
    total += wire; plain += len(body)
    rows.append((url, status, wire, len(body)))
    text = body.decode("utf-8", "replace")
    path = urllib.parse.urlsplit(url).path
    refs = []
    if path.endswith("/") or path.endswith(".html"):
        p = Refs(); p.feed(text); refs = p.refs
    elif path.endswith(".css"):
        refs = re.findall(r'url\(\s*[\'"]?([^\'")]+)', text) + re.findall(r'@import\s+[\'"]([^\'"]+)', text)
    elif path.endswith(".js") or path.endswith(".mjs"):
        refs = re.findall(r'(?:import|from)\s*\(?\s*[\'"]([^\'"]+\.m?js)[\'"]', text)
    for ref in refs:
        u = local(ref, url)
        if u and u not in seen:
            todo.append(u)
print("console first load (%s/):" % base)
for url, status, wire, size in rows:
    print("  %-40s %6s %9s bytes sent %9s bytes" % (url[len(base):], status, wire, size))
print("  %-40s %6s %9d bytes sent %9d bytes   (target < 100 KB = 100000 bytes sent)" % ("total", "", total, plain))
sys.exit(1 if bad or total >= 100000 else 0)
EOF
fi

echo
[ "$RATIO_OK" = 1 ] || echo "api bench: in a round, the cached read served fewer requests/s than etcd's best read (target >= 1.0x)"
[ "$CONSOLE_OK" = 1 ] || echo "api bench: the console's first load misses its target or fails"
[ "$RATIO_OK" = 1 ] && [ "$CONSOLE_OK" = 1 ]
