#!/usr/bin/env bash
# scripts/kill-host.sh [--name NAME] hN: kill -9 every process of host N of a local
# cluster, as if the machine had lost power: those in its network namespace
# (dockerd, containerd, etcd, conductor, ambassador, builder) and its containers
# (in namespaces of their own, but in the host's cgroup). `dokkaacfg up` brings it
# back.
set -euo pipefail
name=dokkaa
if [ "${1:-}" = --name ]; then name=$2; shift 2; fi
host=${1:-}
[[ "$host" =~ ^h[1-8]$ ]] || { echo "usage: $0 [--name NAME] h1..h8" >&2; exit 2; }
[ -e "/run/netns/$name-$host" ] || { echo "$0: no host $host in cluster $name" >&2; exit 1; }

ns=$(stat -L -c %i "/run/netns/$name-$host")
killed=0
for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    if [ "$(stat -L -c %i "$p/ns/net" 2>/dev/null)" = "$ns" ] ||
       grep -q "/$name-$host[/.]" "$p/cgroup" 2>/dev/null; then
        kill -9 "$pid" 2>/dev/null && killed=$((killed + 1))
    fi
done
echo "$host: $killed processes killed"
