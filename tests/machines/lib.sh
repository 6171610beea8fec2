# tests/machines/lib.sh - test machines that are real machines: each a whole Debian 12
# system run as a container of the root Docker Engine, kind-style (systemd as PID 1,
# sshd, its own Docker Engine, its own address), from the image tests/machines/image.sh
# builds. Machines live on the Docker network dokkaa-machines (10.87.0.0/24, internal:
# no way out to the Internet) at fixed addresses 10.87.0.x that the caller chooses;
# the host is 10.87.0.1. Each carries the label dokkaa.test=machine.
# Source it with MACHINE_STATE set to a directory of the caller (the test key lives
# there); it defines functions only. Typical use:
#   MACHINE_STATE=$tmp/machines; source tests/machines/lib.sh
#   trap machine_cleanup EXIT; tests/machines/image.sh
#   machine_start m1 10.87.0.11; machine_ssh m1 systemctl is-active docker
# shellcheck shell=bash source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"   # dk_log, dk_wait

MACHINE_IMAGE=dokkaa-machine:bookworm
MACHINE_NET=dokkaa-machines
MACHINE_BOOT_TIMEOUT=${MACHINE_BOOT_TIMEOUT:-120}   # seconds, per wait

# machine_key DIR: make the tests' ed25519 key pair DIR/id_ed25519{,.pub} if absent;
# print the private key's path.
machine_key() {
    mkdir -p "$1"
    [ -s "$1/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C dokkaa-test -f "$1/id_ed25519"
    echo "$1/id_ed25519"
}

# machine_net: create the network dokkaa-machines if absent (machines started in
# parallel may race to create it: the losers wait for the winner's).
machine_net() {
    local err
    docker network inspect "$MACHINE_NET" > /dev/null 2>&1 && return 0
    err=$(docker network create --internal --subnet 10.87.0.0/24 --gateway 10.87.0.1 \
              --label dokkaa.test=machine "$MACHINE_NET" 2>&1 > /dev/null) && return 0
    dk_wait 5 "network $MACHINE_NET" docker network inspect "$MACHINE_NET" || { echo "$err" >&2; return 1; }
}

# machine_ip NAME|IP: print the machine's address (an address is printed as is).
machine_ip() {
    case $1 in
        *[!0-9.]*) docker inspect -f "{{(index .NetworkSettings.Networks \"$MACHINE_NET\").IPAddress}}" "$1" ;;
        *) echo "$1" ;;
    esac
}

# machine_ssh NAME|IP CMD...: run CMD (one remote shell command line, as with ssh) as
# root on the machine with the test key ($MACHINE_STATE/id_ed25519); stdin is passed.
machine_ssh() {
    local ip; ip=$(machine_ip "$1") || return; shift
    ssh -i "${MACHINE_STATE:?}/id_ed25519" -o BatchMode=yes -o StrictHostKeyChecking=no \
        -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=5 "root@$ip" "$@"
}

# machine_start NAME IP [SEED_DIR] [PUBKEY_FILE]: create machine NAME at address IP and
# boot it. Without SEED_DIR, PUBKEY_FILE (default: the test key's) becomes root's
# authorized_keys before boot. With SEED_DIR, its files (meta-data, user-data, and
# network-config if any) become the NoCloud seed and cloud-init must install the keys
# (a missing meta-data is written as `instance-id: NAME`); PUBKEY_FILE is then
# pre-installed only if given. Returns when the machine is ready (machine__ready).
machine_start() {
    local name=$1 ip=$2 seed=${3:-} pub=${4:-} stage rc=0
    machine_key "${MACHINE_STATE:?}" > /dev/null
    [ -n "$seed" ] || pub=${pub:-$MACHINE_STATE/id_ed25519.pub}
    machine_net || return
    docker create --name "$name" --hostname "$name" --label dokkaa.test=machine \
        --network "$MACHINE_NET" --ip "$ip" --tty --stop-signal SIGRTMIN+3 \
        --cap-add ALL --cap-drop SYS_RESOURCE --security-opt seccomp=unconfined \
        --security-opt apparmor=unconfined --security-opt systempaths=unconfined \
        -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock -v /var/lib/docker \
        "$MACHINE_IMAGE" > /dev/null || return
    stage=$(mktemp -d "$MACHINE_STATE/$name.XXXXXX")
    if [ -n "$seed" ]; then
        mkdir -p "$stage/nocloud" && cp -r "$seed/." "$stage/nocloud/" || rc=1
        [ -e "$stage/nocloud/meta-data" ] || echo "instance-id: $name" > "$stage/nocloud/meta-data"
        docker cp "$stage/nocloud" "$name:/var/lib/cloud/seed/nocloud" || rc=1
    fi
    if [ -n "$pub" ]; then
        mkdir -m 0700 "$stage/ssh" && install -m 0600 "$pub" "$stage/ssh/authorized_keys" &&
            docker cp "$stage/ssh" "$name:/root/.ssh" || rc=1
    fi
    rm -rf "$stage"
    [ $rc -eq 0 ] || { dk_log "machine $name: could not copy its files in"; return 1; }
    docker start "$name" > /dev/null && machine__ready "$name"
}

# machine__ready NAME: wait until root logs in over SSH with the test key and systemd
# has finished booting (running, or degraded: the failed units are then printed).
machine__ready() {
    local name=$1 ip state
    ip=$(machine_ip "$name") || return
    if ! dk_wait "$MACHINE_BOOT_TIMEOUT" "sshd of machine $name ($ip)" machine__ssh_ok "$ip"; then
        docker logs --tail 20 "$name" >&2 2>&1
        return 1
    fi
    # polled, not one `--wait`: cloud-init may restart sshd under a first connection
    dk_wait "$MACHINE_BOOT_TIMEOUT" "systemd on $name to finish booting" machine__booted "$ip" || true
    state=$(machine_ssh "$ip" systemctl is-system-running < /dev/null) || true
    case $state in
        running) ;;
        degraded) dk_log "machine $name is degraded, failed units:" \
                      "$(machine_ssh "$ip" systemctl list-units --failed --plain --no-legend < /dev/null)" ;;
        *) dk_log "machine $name did not boot: systemd is ${state:-unreachable}"; return 1 ;;
    esac
}
machine__ssh_ok() { machine_ssh "$1" true < /dev/null; }
machine__booted() {
    case $(machine_ssh "$1" systemctl is-system-running < /dev/null) in running|degraded) ;; *) return 1 ;; esac
}

# machine_kill NAME: kill the machine outright (SIGKILL to its init: every process in
# it dies, its containers too); its disks stay as they were.
machine_kill() {
    docker kill "$1" > /dev/null && docker wait "$1" > /dev/null && machine__reap "$1"
}

# machine__reap NAME: remove the cgroups the machine's own engine left behind. On
# cgroup v1 its engine sees the root engine's /sys/fs/cgroup and makes its containers'
# cgroups there (e.g. /docker/ID), outside the machine's; a killed machine cannot.
machine__reap() {
    local data ids=() id
    data=$(docker inspect -f '{{range .Mounts}}{{if eq .Destination "/var/lib/docker"}}{{.Source}}{{end}}{{end}}' "$1") || return
    for id in "$data"/containers/*; do
        if [ -d "$id" ]; then ids+=(-o -name "${id##*/}"); fi
    done
    [ ${#ids[@]} -gt 0 ] || return 0
    find /sys/fs/cgroup -depth -type d \( "${ids[@]:1}" \) -exec rmdir {} + 2> /dev/null || true
}

# machine_restart NAME: boot a stopped (e.g. killed) machine again, with its disks as
# they were, and wait until it is ready.
machine_restart() {
    docker start "$1" > /dev/null && machine__ready "$1"
}

# machine_rm NAME: kill the machine and remove it with its volumes (absent: no-op).
machine_rm() {
    docker container inspect "$1" > /dev/null 2>&1 || return 0
    if [ "$(docker inspect -f '{{.State.Running}}' "$1")" = true ]; then machine_kill "$1" || true; fi
    docker rm -f -v "$1" > /dev/null
}

# machine_cleanup: remove every machine (label dokkaa.test=machine) with its volumes,
# then the network. Safe when nothing exists; non-zero if something stayed behind.
machine_cleanup() {
    local name rc=0
    for name in $(docker ps -a --filter label=dokkaa.test=machine --format '{{.Names}}'); do
        machine_rm "$name" || { dk_log "could not remove machine $name"; rc=1; }
    done
    if docker network inspect "$MACHINE_NET" > /dev/null 2>&1; then
        docker network rm "$MACHINE_NET" > /dev/null || { dk_log "could not remove network $MACHINE_NET"; rc=1; }
    fi
    return $rc
}
