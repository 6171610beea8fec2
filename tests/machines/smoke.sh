#!/usr/bin/env bash
# Smoke test of tests/machines/: builds the machine image, boots three machines (one
# through a cloud-init NoCloud seed) and checks they are whole machines: sshd as root
# by key, their own Docker Engine, each other's address, a kill and a reboot that
# keeps their disks; then that machine_cleanup leaves nothing behind.
# Usage: tests/machines/smoke.sh (as root, with the root Docker Engine running)
set -euo pipefail
cd "$(dirname "$0")/../.."

tmp=$(mktemp -d)
MACHINE_STATE=$tmp/state
source tests/machines/lib.sh
tiny=dokkaa-machine-smoke:tiny
trap 'machine_cleanup; docker rmi -f $tiny > /dev/null 2>&1; rm -rf "$tmp"' EXIT

ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
ok() { echo "ok - $*"; }
fail() { echo "FAIL - $*" >&2; exit 1; }

tests/machines/image.sh
key=$(machine_key "$MACHINE_STATE")

# A tiny image, never pulled: the host's dash and the libraries it needs.
mkdir -p "$tmp/tiny/bin" && cp /bin/dash "$tmp/tiny/bin/sh"
for lib in $(ldd /bin/dash | grep -o '/[^ ]*'); do install -D "$lib" "$tmp/tiny$lib"; done
tar -C "$tmp/tiny" -c . | docker import --change 'CMD ["/bin/sh"]' - "$tiny" > /dev/null
docker save "$tiny" > "$tmp/tiny.tar"

for m in m1:10.87.0.11 m2:10.87.0.12; do
    t=$(date +%s%N); machine_start "${m%:*}" "${m#*:}"; ok "machine ${m%:*} ready in $(ms "$t") ms"
done

[ "$(machine_ssh 10.87.0.11 whoami)" = root ] || fail "root login with the key"
sshd=$(machine_ssh m1 sshd -T)
grep -qx 'permitrootlogin without-password' <<< "$sshd" || fail "PermitRootLogin"
grep -qx 'passwordauthentication no' <<< "$sshd" || fail "PasswordAuthentication"
[ "$(machine_ssh m1 cat /etc/ssh/ssh_host_ed25519_key.pub)" != \
  "$(machine_ssh m2 cat /etc/ssh/ssh_host_ed25519_key.pub)" ] || fail "machines share host keys"
ok "sshd: root by key only, host keys of each machine's own"

[ "$(machine_ssh m1 systemctl is-active docker)" = active ] || fail "docker.service on m1"
machine_ssh m1 docker load -q < "$tmp/tiny.tar" > /dev/null
[ "$(machine_ssh m1 docker run --rm "$tiny" sh -c "'echo inner'")" = inner ] || fail "docker run in m1"
ok "m1 runs a container in its own Docker Engine"

[ "$(machine_ssh m1 "timeout 5 bash -c 'exec 3<>/dev/tcp/10.87.0.12/22; head -c 7 <&3'")" = SSH-2.0 ] \
    || fail "m1 reaches m2's sshd"
[ "$(docker network inspect -f '{{.Internal}}' "$MACHINE_NET")" = true ] || fail "network not internal"
ok "m1 reaches m2's sshd at 10.87.0.12; their network has no way out"

mkdir "$tmp/seed"
printf 'instance-id: smoke-m3\nlocal-hostname: m3\n' > "$tmp/seed/meta-data"
cat > "$tmp/seed/user-data" <<EOF
#cloud-config
ssh_authorized_keys:
  - $(cat "$key.pub")
runcmd:
  - echo ran >> /root/runcmd.log
EOF
t=$(date +%s%N); machine_start m3 10.87.0.13 "$tmp/seed"; ok "seeded machine m3 ready in $(ms "$t") ms"
[ "$(machine_ssh m3 cloud-init status)" = 'status: done' ] \
    || fail "cloud-init on m3: $(machine_ssh m3 cloud-init status --long)"
[ "$(machine_ssh m3 cat /root/runcmd.log)" = ran ] || fail "runcmd on m3"
ok "m3: cloud-init done from the NoCloud seed, key installed by it, runcmd ran"

machine_ssh m3 docker load -q < "$tmp/tiny.tar" > /dev/null
inner=$(machine_ssh m3 docker run -d -i --restart always "$tiny" sh -c "'read x'")
machine_kill m3
[ "$(docker inspect -f '{{.State.Running}}' m3)" = false ] || fail "m3 runs after the kill"
! compgen -G "/sys/fs/cgroup/*/docker/$inner" > /dev/null || fail "cgroups of m3's container left"
t=$(date +%s%N); machine_restart m3; ok "m3 killed, back in $(ms "$t") ms"
[ "$(machine_ssh m3 cat /root/runcmd.log)" = ran ] || fail "m3's files after the reboot"
dk_wait 30 "m3's container to run again" \
    machine_ssh m3 "[ \"\$(docker inspect -f {{.State.Running}} $inner)\" = true ]" \
    || fail "m3's restart-always container"
ok "m3 after kill and restart: its files, no second runcmd, its container running"

volumes=$(docker inspect -f '{{range .Mounts}}{{.Name}} {{end}}' m1 m2 m3)
machine_cleanup || fail "machine_cleanup"
[ -z "$(docker ps -aq --filter label=dokkaa.test=machine)" ] || fail "machines left"
for v in $volumes; do ! docker volume inspect "$v" > /dev/null 2>&1 || fail "volume $v left"; done
! docker network inspect "$MACHINE_NET" > /dev/null 2>&1 || fail "network left"
machine_cleanup || fail "machine_cleanup, a second time"
ok "machine_cleanup leaves no machine, volume or network"
