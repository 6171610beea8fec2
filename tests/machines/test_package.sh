# tests/machines/test_package.sh - the Debian package as `make deb` built it: what
# lintian says of it (only the warning the README explains), and what is in it.

test_00_package_is_lintian_clean_but_for_the_explained_warning() {
    local out
    out=$(lintian --pedantic "$MT_DEB" 2>/dev/null | grep -v '^N:' || true)
    echo "$out"
    # errors never; warnings only the one the README explains
    [ -z "$(echo "$out" | grep '^E:')" ]
    [ -z "$(echo "$out" | grep '^W:' | grep -v 'maintainer-script-calls-systemctl')" ]
}

test_01_package_holds_the_programs_units_and_config() {
    local files
    files=$(dpkg-deb -c "$MT_DEB" | awk '{print $6}')
    for f in ./usr/bin/dokkaa-conductor ./usr/bin/dokkaa-ambassador ./usr/bin/dokkaa-builder \
             ./usr/bin/dokkaacfg ./etc/dokkaa/dokkaa.conf \
             ./lib/systemd/system/dokkaa-{etcd,conductor,ambassador,builder,registry}.service; do
        echo "$files" | grep -qx "$f" || { echo "missing $f"; return 1; }
    done
    dpkg-deb -f "$MT_DEB" Depends | grep -q 'docker.io'
    dpkg-deb -f "$MT_DEB" Depends | grep -q 'etcd-server'
    echo "package: $(stat -c %s "$MT_DEB") bytes"
}
