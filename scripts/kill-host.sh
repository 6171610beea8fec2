#!/usr/bin/env bash
# scripts/kill-host.sh [--name NAME] hN: kill -9 every process of host N of a local
# cluster, as if the machine had lost power: those in its network namespace
# (dockerd, containerd, shims, etcd, conductor, ambassador, builder) and its
# containers (in namespaces of their own, but in the host's cgroup). One find and
# one grep, so the host dies at once rather than over seconds of forks; repeated
# for anything forked meanwhile; fails when a process of the host survives.
# `dokkaacfg up` brings the host back.
set -uo pipefail
name=dokkaa
if [ "${1:-}" = --name ]; then name=$2; shift 2; fi
host=${1:-}
[[ "$host" =~ ^h[1-8]$ ]] || { echo "usage: $0 [--name NAME] h1..h8" >&2; exit 2; }
[ -e "/run/netns/$name-$host" ] || { echo "$0: no host $host in cluster $name" >&2; exit 1; }

# The pids of the host, by output alone: find and grep also fail when a process
# exits between the glob and the read (grep -l exits 2 then, matches or not), and
# under pipefail that once made a busy host look empty and survive its kill.
host_pids() {
    local ino
    ino=$(stat -L -c %i "/run/netns/$name-$host") || return 1
    { find /proc/[0-9]*/ns/net -maxdepth 0 -lname "net:\[$ino\]" 2>/dev/null
      grep -lE "/$name-$host(/|\$|\.)" /proc/[0-9]*/cgroup 2>/dev/null
      true
    } | cut -d/ -f3 | { grep -vx "$$" || true; } | sort -u
}

# Living pids only: a killed process lingers as a zombie until its parent (or
# PID 1, slowly here) reaps it.
host_live_pids() {
    local p pids
    pids=$(host_pids) || return 1
    for p in $pids; do [ "$(cut -d' ' -f3 "/proc/$p/stat" 2>/dev/null)" = Z ] || echo "$p"; done
}

# Rounds until none lives: a round kills what a fork made during the last one,
# and one that is still dying is waited for (polled, up to 5 s).
killed=0 seen=
for _ in $(seq 50); do
    pids=$(host_live_pids) || exit 1
    [ -n "$pids" ] || break
    kill -9 $pids 2>/dev/null
    seen=$(printf '%s\n%s\n' "$seen" "$pids" | grep . | sort -u)
    sleep 0.1
done
killed=$(grep -c . <<<"$seen")
[ -z "$pids" ] || pids=$(host_live_pids) || exit 1
[ -z "$pids" ] || { echo "$0: $host: still running after kill -9: $(echo $pids)" >&2; exit 1; }
[ "$killed" -gt 0 ] || { echo "$0: $host: no process found" >&2; exit 1; }
echo "$host: $killed processes killed"
