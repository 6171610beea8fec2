# bench/engines.sh - sourced by the benches that form a Docker Swarm over a local
# cluster's engines (cluster.sh, rollout.sh); they define NAME (the cluster), LOG
# (their temporary directory) and dock N ARGS... (docker against host N's engine).
#
# The local provider runs every dockerd with --live-restore, which swarm mode
# refuses ("incompatible with swarm mode"). So that both sides run on the same
# engines, each is restarted once without it before anything is measured:
# engine_restart takes the running dockerd's own command line, less --live-restore,
# stops it by its pid file and starts it again so; the dockerd writes the same pid
# file (--pidfile), so `dokkaacfg down` stops it as any. engine_start starts a
# killed host's engine so again before `dokkaacfg up` heals the rest of the host (a
# dockerd that runs, up leaves be).
engine_dead() { # PID -> gone, or a zombie not yet reaped
    local s
    s=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 0
    [ "$s" = Z ]
}
engine_start() { # N: host N's dockerd as the provider starts it, less --live-restore
    local i=$1 args c
    dock "$i" version >/dev/null 2>&1 && return 0 # not stopped after all
    mapfile -t args <"$LOG/dockerd-h$i.args" || return 1
    c=$(cat "/run/$NAME/h$i/exec/containerd/containerd.pid" 2>/dev/null) && engine_dead "$c" &&
        rm -f "/run/$NAME/h$i/exec/containerd/containerd.pid" # as `dokkaacfg up` does
    dk_start "$LOG/dockerd-h$i.pid" "/var/lib/$NAME/h$i/dockerd.log" \
        nsenter --net="/run/netns/$NAME-h$i" "${args[@]}"
    dk_wait 60 "h$i's engine" dock "$i" version
}
engine_restart() { # N
    local i=$1 pid c
    pid=$(cat "/run/$NAME/h$i/dockerd.pid") && [ -r "/proc/$pid/cmdline" ] || return 1
    c=$(cat "/run/$NAME/h$i/exec/containerd/containerd.pid" 2>/dev/null)
    tr '\0' '\n' <"/proc/$pid/cmdline" | grep -vx -- --live-restore >"$LOG/dockerd-h$i.args"
    kill -TERM "$pid"
    dk_wait 30 "h$i's engine to stop" engine_dead "$pid" || return 1
    [ -z "$c" ] || dk_wait 15 "h$i's containerd to stop" engine_dead "$c" || true
    engine_start "$i"
}
engine_stop_ours() { # N: the dockerd this bench started for host N, if it still runs
    local pid
    pid=$(cat "$LOG/dockerd-h$1.pid" 2>/dev/null) || return 0
    tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "--pidfile /run/$NAME/h$1/dockerd.pid" || return 0
    dk_stop "$LOG/dockerd-h$1.pid" 30
}
no_live_restore() { # N: what the engine itself says
    [ "$(dock "$1" info --format '{{.LiveRestoreEnabled}}')" = false ]
}

engines_answer() { local i; for i in 1 2 3; do dock "$i" version >/dev/null || return 1; done; }
