#!/usr/bin/env bash
# bench/api.sh - the REST API's read path against etcd itself, and the console's
# first load.
#
# (a) GET /api/v1/apps with 1,000 manifests (100 apps x 10), served by a builder
#     from its watch-fed copy of etcd, against etcd's own range of the same 1,000
#     keys through its JSON gateway (POST /v3/kv/range, linearizable as clients get
#     it by default, and serializable, etcd's fastest read), under wrk with the same
#     threads, connections and duration, in the same invocation. Prints requests/s
#     of each, bytes per response, and the ratio builder / best etcd (higher is
#     better; target >= 1.0x).
# (b) The console's first load: / and every asset it references (src/href of
#     index.html, url() of its CSS, imports of its scripts), as a browser fetches
#     them (Accept-Encoding: gzip); total bytes transferred (target < 100 KB).
#
# Self-contained: its own etcd on 127.0.0.1 ($ETCD_PORT, default 23379/23380) and
# its own builder on 127.0.0.1:$API_PORT (default 4091), both stopped by pid, their
# data removed, also on failure. Traffic only to 127.0.0.1.
# Environment: DOKKAA_BIN (default build/src), DURATION (s, default 10),
# THREADS (2), CONNECTIONS (16), ROUNDS (1; the best of each side is kept).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. scripts/lib.sh
BIN=${DOKKAA_BIN:-$PWD/build/src}
ETCD_PORT=${ETCD_PORT:-23379}
API_PORT=${API_PORT:-4091}
DURATION=${DURATION:-10}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-16}
ROUNDS=${ROUNDS:-1}
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
shows_all() { curl -sf "$API/api/v1/apps" | jq -e "[.apps[].manifests[]] | length == $N" >/dev/null; }
dk_wait 30 "GET /api/v1/apps to show $N manifests" shows_all || exit 1
RANGE=$(jq -nc '{key: ("/apps/" | @base64), range_end: ("/apps0" | @base64)}')
RANGE_S=$(jq -nc '{key: ("/apps/" | @base64), range_end: ("/apps0" | @base64), serializable: true}')
[ "$(curl -sf -XPOST "$ETCD/v3/kv/range" -d "$RANGE" | jq -r .count)" = "$N" ] ||
    dk_die "etcd's range does not count $N keys"

# ---- (a) wrk --------------------------------------------------------------------------

post_lua() { # BODY -> a wrk script posting it
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
best() { printf '%s\n' "$@" | sort -k1 -gr | head -1; }
size_of() { # URL [curl args] -> "body header" bytes
    curl -s -o /dev/null -w '%{size_download} %{size_header}' "$@"
}

LIN=$(post_lua "$RANGE" range) SER=$(post_lua "$RANGE_S" range_serializable)
api=() lin=() ser=() few=()
for r in $(seq 1 "$ROUNDS"); do
    lin+=("$(bench_rps "$ETCD/v3/kv/range" "$LIN")") || exit 1
    ser+=("$(bench_rps "$ETCD/v3/kv/range" "$SER")") || exit 1
    few+=("$(bench_rps "$ETCD/v3/kv/range" "$SER" "$THREADS")") || exit 1
    api+=("$(bench_rps "$API/api/v1/apps")") || exit 1
done
A=$(best "${api[@]}") L=$(best "${lin[@]}") S=$(best "${ser[@]}") F=$(best "${few[@]}")
read -r abody ahead <<<"$(size_of "$API/api/v1/apps")"
read -r ebody ehead <<<"$(size_of "$ETCD/v3/kv/range" -XPOST -d "$RANGE")"
BEST_E=$(best "$L" "$S" "$F")

echo
echo "GET /api/v1/apps, $N manifests ($APPS apps x $PER_APP): wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, best of $ROUNDS"
printf '%-44s %12s %10s %12s %8s\n' "" "requests/s" "p99" "body bytes" "header"
printf '%-44s %12.0f %10s %12d %8d\n' "dokkaa-builder GET /api/v1/apps" ${A% *} "${A#* }" "$abody" "$ahead"
printf '%-44s %12.0f %10s %12d %8d\n' "etcd gateway POST /v3/kv/range" ${L% *} "${L#* }" "$ebody" "$ehead"
printf '%-44s %12.0f %10s %12d %8d\n' "etcd gateway POST /v3/kv/range serializable" ${S% *} "${S#* }" "$ebody" "$ehead"
printf '%-44s %12.0f %10s %12d %8d\n' "  the same with $THREADS connections" ${F% *} "${F#* }" "$ebody" "$ehead"
printf '%-44s %11.2fx   (builder / best etcd; target >= 1.0x)\n' "ratio" \
    "$(echo "${A% *} / ${BEST_E% *}" | bc -l)"
printf '%-44s %11.2fx   (builder / etcd linearizable)\n' "" "$(echo "${A% *} / ${L% *}" | bc -l)"
RATIO_OK=$(echo "${A% *} >= ${BEST_E% *}" | bc)

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
[ "$RATIO_OK" = 1 ] || echo "api bench: the builder serves fewer requests/s than etcd's own range (target >= 1.0x)"
[ "$CONSOLE_OK" = 1 ] || echo "api bench: the console's first load misses its target or fails"
[ "$RATIO_OK" = 1 ] && [ "$CONSOLE_OK" = 1 ]
