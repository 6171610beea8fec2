#!/usr/bin/env bash
# scripts/kill-host.sh [--name NAME] hN: kill -9 every process of host N of a local
# cluster, as if the machine had lost power: those in its network namespace
# (dockerd, containerd, shims, etcd, conductor, ambassador, builder) and its
# containers (in namespaces of their own, but in the host's cgroup). One find and
# one grep, so the host dies at once rather than over seconds of forks; repeated
# for anything forked meanwhile. `dokkaacfg up` brings the host back.
set -uo pipefail
name=dokkaa
if [ "${1:-}" = --name ]; then name=$2; shift 2; fi
host=${1:-}
[[ "$host" =~ ^h[1-8]$ ]] || { echo "usage: $0 [--name NAME] h1..h8" >&2; exit 2; }
[ -e "/run/netns/$name-$host" ] || { echo "$0: no host $host in cluster $name" >&2; exit 1; }

host_pids() {
    local ino
    ino=$(stat -L -c %i "/run/netns/$name-$host") || return 1
    { find /proc/[0-9]*/ns/net -maxdepth 0 -lname "net:\[$ino\]" 2>/dev/null
      grep -lE "/$name-$host(/|\$|\.)" /proc/[0-9]*/cgroup 2>/dev/null
    } | cut -d/ -f3 | grep -vx "$$" | sort -u
}

killed=0
for _ in 1 2 3 4; do
    pids=$(host_pids) || break
    [ -n "$pids" ] || break
    kill -9 $pids 2>/dev/null
    killed=$((killed + $(echo "$pids" | wc -l)))
done
echo "$host: $killed processes killed"
