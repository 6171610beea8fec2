#!/usr/bin/env bash
# tests/e2e/cluster_smoke.sh - the local provider end to end: `dokkaacfg up
# --provider=local --scale=3` under its own cluster name (so a demo beside it is
# untouched), checks namespaces, etcd, status and the seed's manifest command,
# that a second up changes nothing, that --scale=4 adds h4, then `down` and that
# nothing at all is left. `down` also runs when a check fails.
# Usage: tests/e2e/cluster_smoke.sh [NAME]   (root; default NAME smoke)
set -euo pipefail
cd "$(dirname "$0")/../.."
name=${1:-smoke}
cfg=(build/src/dokkaacfg)
log=$(mktemp)
fail() { echo "FAIL: $*" >&2; exit 1; }
ms() { date +%s%3N; }
cleanup() {
    local rc=$?
    "${cfg[@]}" down --name "$name" >> "$log" 2>&1 || { echo "down failed:"; tail -5 "$log"; rc=1; }
    [ "$rc" = 0 ] || { echo "--- log tail:"; tail -25 "$log"; }
    rm -f "$log"
    exit "$rc"
}
trap cleanup EXIT

t=$(ms); "${cfg[@]}" up --provider=local --scale=3 --name "$name" > "$log" 2>&1 || fail "up --scale=3"
echo "up --scale=3 (cold): $(( $(ms) - t )) ms"
net=$(sed -n 's/.*network 10\.88\.\([0-9]*\)\.0\/24.*/\1/p' "$log" | head -1)
[ "$(ip netns list | grep -c "^$name-h[1-3] ")" = 3 ] || fail "expected 3 namespaces"
for i in 1 2 3; do
    curl -sf --max-time 2 "http://10.88.$net.$((10 + i)):2379/health" | grep -q '"health":"true"' \
        || fail "etcd member h$i not healthy"
done
"${cfg[@]}" status --name "$name" > "$log.status" || fail "status"
grep -q "membership: h1" "$log.status" && [ "$(grep -c ' yes ' "$log.status")" = 3 ] \
    || { cat "$log.status"; fail "status does not show 3 live hosts and the members"; }
rm -f "$log.status"

cd examples/nginx-and-crawler
curl -sf -L -XPUT -d value="$(cat nginx.json)" "http://10.88.$net.11:4001/v2/keys/apps/dummy/nginx/manifest" \
    > /dev/null || fail "the seed's curl command"
cd ../..
for _ in $(seq 100); do
    n=0
    for i in 1 2 3; do
        n=$((n + $(docker -H "unix:///run/$name/h$i/docker.sock" ps -q --filter label=dokkaa.app=dummy | wc -l)))
    done
    [ "$n" -ge 1 ] && break
    sleep 0.2
done
[ "$n" -ge 1 ] || fail "nginx does not run on any host"

t=$(ms); "${cfg[@]}" up --provider=local --scale=3 --name "$name" > "$log" 2>&1 || fail "second up"
echo "up --scale=3 (warm): $(( $(ms) - t )) ms"
grep -q "nothing changed" "$log" || fail "a second up changed something"
t=$(ms); "${cfg[@]}" up --provider=local --scale=4 --name "$name" > "$log" 2>&1 || fail "up --scale=4"
echo "up --scale=4: $(( $(ms) - t )) ms"
grep -q "/h4: dokkaa-conductor at /hosts/h4 ... ok" "$log" || fail "h4 did not join"

t=$(ms); "${cfg[@]}" down --name "$name" > "$log" 2>&1 || fail "down"
echo "down: $(( $(ms) - t )) ms"
left=$( { ip netns list | grep "^$name-h"; ip -br link | grep -E "^($name-h|${name}0)"
          ps -eo args | grep -E "/run/$name/|/var/lib/$name/" | grep -v grep
          grep -E " /(var/lib|run)/$name/" /proc/self/mountinfo
          iptables -S FORWARD | grep -- "-i ${name}0"; ls -d "/var/lib/$name" "/run/$name" 2>/dev/null; } || true)
[ -z "$left" ] || fail "left behind after down: $left"
echo "ok - local cluster $name: up, idempotent up, scale 4, down leaves nothing"
