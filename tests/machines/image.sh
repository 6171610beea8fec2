#!/usr/bin/env bash
# Build dokkaa-machine:bookworm in the root Docker Engine, if absent: a whole Debian 12
# machine to run as a container (kind-style; tests/machines/lib.sh starts them):
# systemd as PID 1, sshd (root by key only, host keys made at first boot), its own
# Docker Engine, cloud-init with the NoCloud data source only, and everything the
# dokkaa package depends on, so `apt-get install ./dokkaa.deb` works offline.
# The configured root file system is cached as a tarball named after this script's
# hash, so a second run (or a run after `docker rmi`) takes seconds.
# Usage: tests/machines/image.sh
set -euo pipefail

image=dokkaa-machine:bookworm
cache=${DOKKAA_IMAGE_CACHE:-/var/cache/dokkaa/images}
mirror=${DOKKAA_DEBIAN_MIRROR:-http://deb.debian.org/debian}
recipe=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)  # any change here rebuilds
tar="$cache/machine-bookworm-$recipe.tar"
packages=(systemd systemd-sysv dbus openssh-server docker.io iproute2 iptables
          ca-certificates curl procps cloud-init netbase
          etcd-server docker-registry libcurl4 libjansson4 libmicrohttpd12 libssl3)
# Units that cannot work in a container, or that a fresh machine must not run.
masked=(getty@tty1.service serial-getty@.service console-getty.service
        systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket
        systemd-udev-trigger.service systemd-udev-settle.service
        systemd-modules-load.service systemd-remount-fs.service
        sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount
        sys-fs-fuse-connections.mount proc-sys-fs-binfmt_misc.automount
        systemd-binfmt.service e2scrub_reap.service)

# configure ROOT: make a debootstrapped tree fit to boot as a container machine.
configure() {
    local root=$1
    rm -f "$root"/etc/ssh/ssh_host_*
    : > "$root/etc/machine-id"                 # each machine makes its own at first boot
    rm -f "$root/var/lib/dbus/machine-id"
    cat > "$root/etc/ssh/sshd_config.d/dokkaa-machine.conf" <<'EOF'
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
EOF
    cat > "$root/etc/systemd/system/ssh-hostkeys.service" <<'EOF'
[Unit]
Description=Generate this machine's SSH host keys
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key
Before=ssh.service
After=cloud-init.service

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=ssh.service
EOF
    cat > "$root/etc/cloud/cloud.cfg.d/99-dokkaa-machine.cfg" <<'EOF'
# A test machine: NoCloud only (seed in /var/lib/cloud/seed/nocloud/), no default
# user: root logs in with the seed's keys as on DigitalOcean; the network is Docker's
# and there is no disk to grow.
datasource_list: [ NoCloud, None ]
locale: C.UTF-8
disable_root: false
users: [root]
ssh_genkeytypes: [rsa, ecdsa, ed25519]
network: {config: disabled}
growpart: {mode: "off"}
resize_rootfs: false
EOF
    echo LANG=C.UTF-8 > "$root/etc/default/locale"
    mkdir -p "$root/var/lib/cloud/seed"
    chroot "$root" systemctl -q mask "${masked[@]}"
    # etcd and the registry run on their default ports, as Debian's packages leave
    # them on a server that installed them: `up` must take them out of the way
    chroot "$root" systemctl -q enable docker.service ssh.service ssh-hostkeys.service \
        etcd.service docker-registry.service
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
}

# rootfs_tarball: build the cached tarball if it is missing.
rootfs_tarball() {
    [ -s "$tar" ] && return 0
    mkdir -p "$cache"
    rm -f "$cache"/machine-bookworm-*.tar       # older recipes
    local root
    root=$(mktemp -d "$cache/machine-root.XXXXXX")
    trap 'rm -rf "$root" "$root.log"' RETURN
    # debootstrap resolves no virtual packages: apt installs the rest, starting nothing
    { debootstrap --variant=minbase bookworm "$root" "$mirror" &&
      printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d" &&
      chmod +x "$root/usr/sbin/policy-rc.d" &&
      chroot "$root" apt-get update &&
      DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y \
          --no-install-recommends "${packages[@]}" &&
      rm "$root/usr/sbin/policy-rc.d"; } > "$root.log" 2>&1 \
        || { tail -20 "$root.log" >&2; return 1; }
    configure "$root"
    tar -C "$root" -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
}

if [ "$(docker image inspect -f '{{index .Config.Labels "dokkaa.machine.recipe"}}' \
        "$image" 2>/dev/null)" = "$recipe" ]; then
    echo "image $image: present"
    exit 0
fi
start=$(date +%s%N)
rootfs_tarball
docker import --change 'CMD ["/sbin/init"]' --change 'ENV container=docker' \
    --change "LABEL dokkaa.machine.recipe=$recipe" \
    "$tar" "$image" > /dev/null
printf 'image %s: built in %.1f s\n' "$image" "$(( $(date +%s%N) - start ))e-9"
