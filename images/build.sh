#!/usr/bin/env bash
# Build the seed example's images locally, never pulling them:
#   dockerfile/nginx  - Debian with nginx, serving its default page on :80
#   dockerfile/ubuntu - Debian with bash and curl
#   dokkaa/bench      - Debian with iperf3, wrk and nginx, for bench/links.sh
#                       (not built unless named)
# Each is a debootstrap of Debian (minbase) imported with `docker import`.
# The root file systems are cached as tarballs, so a second run takes seconds.
# Usage: images/build.sh [-H unix:///path/docker.sock] [image...]
set -euo pipefail

cache=${DOKKAA_IMAGE_CACHE:-/var/cache/dokkaa/images}
mirror=${DOKKAA_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=${DOKKAA_DEBIAN_SUITE:-bookworm}
docker=(docker)
if [ "${1:-}" = "-H" ]; then docker+=(-H "$2"); shift 2; fi
images=("$@")
[ ${#images[@]} -gt 0 ] || images=(dockerfile/nginx dockerfile/ubuntu)

# image name -> packages, and the `docker import --change` lines
packages_of() {
    case "$1" in
        dockerfile/nginx)  echo nginx-light ;;
        dockerfile/ubuntu) echo bash,curl,ca-certificates ;;
        dokkaa/bench)      echo iperf3,wrk,nginx-light,iproute2 ;;
        *) echo "images/build.sh: unknown image $1" >&2; return 1 ;;
    esac
}
changes_of() {
    case "$1" in
        dockerfile/nginx)
            printf '%s\n' 'EXPOSE 80' 'CMD ["nginx", "-g", "daemon off;"]' ;;
        dockerfile/ubuntu)
            printf '%s\n' 'CMD ["/bin/bash"]' ;;
        dokkaa/bench)
            printf '%s\n' 'CMD ["/bin/sh"]' ;;
    esac
}

# rootfs_tarball IMAGE: prints the cached tarball's path, building it if needed.
rootfs_tarball() {
    local image=$1 tar="$cache/${1//\//_}.tar" root
    if [ ! -s "$tar" ]; then
        mkdir -p "$cache"
        root=$(mktemp -d "$cache/root.XXXXXX")
        trap 'rm -rf "$root"' RETURN
        debootstrap --variant=minbase --include="$(packages_of "$image")" \
            "$suite" "$root" "$mirror" > "$root.log" 2>&1 \
            || { tail -20 "$root.log" >&2; rm -f "$root.log"; return 1; }
        rm -f "$root.log"
        rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
        tar -C "$root" -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
    fi
    echo "$tar"
}

for image in "${images[@]}"; do
    if "${docker[@]}" image inspect "$image" > /dev/null 2>&1; then
        echo "image $image: present"
        continue
    fi
    tar=$(rootfs_tarball "$image")
    args=()
    while IFS= read -r c; do args+=(--change "$c"); done < <(changes_of "$image")
    "${docker[@]}" import "${args[@]}" "$tar" "$image" > /dev/null
    echo "image $image: built"
done
