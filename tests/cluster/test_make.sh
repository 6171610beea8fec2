# `make demo`, `make up`, `HOSTS=N make up` and `make down`, run as the README has a
# user run them, beside this suite's own cluster (issue 12, defect 23): after up,
# the hosts the README promises are there and the seed's curl commands and the
# README's "Try it" commands work; after down nothing of it is left (no process,
# container, namespace, bridge, mount, state), and this suite's cluster, another
# one on the same machine (README: `--name`), runs on untouched all along.
#
# They make the default cluster ("dokkaa": 127.0.0.1:4001, 10.88.0.0/24, /var/lib/dokkaa),
# which must not exist when they start: a user's demo is never touched.
# Helpers are prefixed mk_.

mk_make() { # TARGET [VAR=VALUE...]: make TARGET at the top, as a user, into $MK_D/TARGET.log
    local target=$1; shift
    (cd "$CL_ROOT" && env -u HOSTS -u DOKKAA_CLUSTER -u DOKKAA_STATE "$@" make "$target") \
        > "$MK_D/$target.log" 2>&1 || fail "make $target: exit $?: $(tail -15 "$MK_D/$target.log")"
}
# Whatever of the default cluster, or of make up's single host, exists, one line each.
mk_left() {
    local ids
    ip netns list | grep '^dokkaa-h'
    ip -br link | grep -E '^(dokkaa-h|dokkaa0)'
    pgrep -af '/run/dokkaa/|/var/lib/dokkaa/' | grep -v pgrep
    pgrep -af -- '--etcd http://127\.0\.0\.1:2379( |$)' | grep -v pgrep # make up's daemons
    grep -E ' /(var/lib|run)/dokkaa/' /proc/self/mountinfo
    ls -d /var/lib/dokkaa /run/dokkaa 2>/dev/null
    ids=$(docker ps -aq --filter label=dokkaa.cluster=dokkaa) && [ -z "$ids" ] || echo "containers of cluster dokkaa: $ids"
    curl -s --max-time 1 -o /dev/null http://127.0.0.1:4001/healthz && echo "something answers on 127.0.0.1:4001"
    curl -s --max-time 1 -o /dev/null http://127.0.0.1:2379/health && echo "something answers on 127.0.0.1:2379"
    curl -s --max-time 1 -o /dev/null http://127.0.0.1:4002/metrics && echo "something answers on 127.0.0.1:4002"
    return 0
}
mk_nothing_left() { [ -z "$(mk_left)" ]; }
mk_cleanup() { # (EXIT trap) down whatever the test made, and its files; should make
    # down itself fail, what it is to remove (nothing of it was there before the test)
    local ids
    set +e
    mk_nothing_left || (cd "$CL_ROOT" && env -u HOSTS -u DOKKAA_CLUSTER make down) >/dev/null 2>&1
    [ ! -e /var/lib/dokkaa/cluster ] || "$CL_BIN/dokkaacfg" down --name dokkaa >/dev/null 2>&1
    ids=$(docker ps -aq --filter label=dokkaa.cluster=dokkaa)
    [ -z "$ids" ] || docker rm -f $ids >/dev/null
    rm -rf "$MK_D"
    return 0
}
# This suite's cluster goes on: every host registered, a manifest set now converges.
mk_this_cluster_runs() { # WHAT
    [ "$(cl_count_keys /hosts/)" = "$CL_HOSTS" ] || fail "$1: $CL_NAME has $(cl_count_keys /hosts/) hosts, not $CL_HOSTS"
    cl_set beside web '{"image": "dockerfile/nginx", "scale": 3, "services": {"web": 80}}'
    cl_wait_converged beside web 3 web
    cl_delete_app beside
    dk_wait 60 "beside to go" running_is beside web 0
}
mk_crawled() { docker ${1:+-H "$1"} logs dummy---crawler 2>&1 | grep -q "Welcome to nginx"; } # [ENGINE]
mk_local_running() { # NAME N: N running containers of dummy/NAME in the root engine
    [ "$(dk_count . docker ps -q --filter label=dokkaa.cluster=dokkaa --filter label=dokkaa.app=dummy \
        --filter "label=dokkaa.name=$1" --filter status=running)" = "$2" ]
}

test_85_make_demo_try_it_and_make_down_on_one_host() {
    local out
    MK_D=$(mktemp -d /tmp/dokkaa-make.XXXXXX)
    trap mk_cleanup EXIT
    mk_nothing_left || fail "a Dokkaa runs on this machine already (make down first): $(mk_left)"
    # the CLI's config of `make up` goes to the test's own directory
    mk_make demo XDG_CONFIG_HOME="$MK_D"
    grep -q "Welcome to nginx" "$MK_D/demo.log" || fail "make demo does not show nginx's page: $(tail -20 "$MK_D/demo.log")"
    grep -Eq '^local +127\.0\.0\.1 ' "$MK_D/demo.log" || fail "make demo's status shows no host local"
    jq -e '.token | length > 0' "$MK_D/dokkaa/config.json" >/dev/null || fail "make up wrote no admin token"
    # the README's "Try it", from the repository's top
    curl -s http://127.0.0.1:4001/v2/keys/apps/dummy/nginx/manifest | grep -q 'dockerfile/nginx' ||
        fail "the manifest, etcd v2 style, is not dockerfile/nginx's"
    curl -sf -XPUT --data-urlencode value='{"image":"dockerfile/nginx","scale":3,"services":{"nginx":80}}' \
        http://127.0.0.1:4001/v2/keys/apps/dummy/nginx/manifest > /dev/null
    dk_wait 60 "three nginx" mk_local_running nginx 3
    out=$(XDG_CONFIG_HOME=$MK_D "$CL_BIN/dokkaacfg" status)
    [ "$(grep -cE '^dummy/nginx/[0-2] +local +running' <<<"$out")" = 3 ] || fail "status does not show 3 nginx running on local: $out"
    dk_wait 30 "the crawler's link in the ambassador's metrics" \
        sh -c 'curl -s http://127.0.0.1:4002/metrics | grep -q "dokkaa_link_connections_total{.*app=\"dummy\""'
    curl -sf -XDELETE 'http://127.0.0.1:4001/v2/keys/apps/dummy?recursive=true' > /dev/null
    dk_wait 60 "the whole app to go" eval 'mk_local_running nginx 0 && mk_local_running crawler 0'
    # make down also removes what runs: one nginx again
    (cd "$CL_ROOT/examples/nginx-and-crawler" &&
        curl -sf -XPUT -d value="`cat nginx.json`" http://127.0.0.1:4001/v2/keys/apps/dummy/nginx/manifest >/dev/null)
    dk_wait 60 "nginx to run again" mk_local_running nginx 1
    mk_make down
    dk_wait 30 "nothing of make up left" mk_nothing_left || fail "left after make down: $(mk_left)"
    dk_docker_ok || fail "make down stopped a dockerd make up did not start"
    mk_this_cluster_runs "after make down"
}

# HOSTS=2 make up: two hosts as "A cluster on one machine" lays them out, the seed's
# curl commands against h1's builder, the crawler served across the cluster; make
# down removes it all, and this suite's cluster ran beside it, and runs on.
test_86_hosts_2_make_up_beside_this_cluster_and_make_down() {
    local i h
    MK_D=$(mktemp -d /tmp/dokkaa-make.XXXXXX)
    trap mk_cleanup EXIT
    mk_nothing_left || fail "a Dokkaa runs on this machine already (make down first): $(mk_left)"
    mk_make up XDG_CONFIG_HOME="$MK_D" HOSTS=2
    for i in 1 2; do
        ip netns list | grep -q "^dokkaa-h$i\b" || fail "no namespace dokkaa-h$i"
        [ -S "/run/dokkaa/h$i/docker.sock" ] && dk_docker_ok "unix:///run/dokkaa/h$i/docker.sock" ||
            fail "h$i's engine does not answer at /run/dokkaa/h$i/docker.sock"
        curl -sf --max-time 5 "http://10.88.0.$((10 + i)):4001/healthz" >/dev/null || fail "no builder at 10.88.0.$((10 + i)):4001"
    done
    ip -br addr show dokkaa0 | grep -q '10\.88\.0\.1/24' || fail "no bridge dokkaa0 at 10.88.0.1/24"
    [ "$(ETCDCTL_API=3 etcdctl --endpoints=http://10.88.0.11:2379 get --prefix --keys-only /hosts/ | grep -c .)" = 2 ] ||
        fail "not 2 hosts registered in the cluster's etcd"
    # the seed's commands, as the README has them, against h1
    (cd "$CL_ROOT/examples/nginx-and-crawler" &&
        curl -L -XPUT -d value="`cat nginx.json`" http://10.88.0.11:4001/v2/keys/apps/dummy/nginx/manifest &&
        curl -L -XPUT --data-urlencode value="`cat crawler.json`" http://10.88.0.11:4001/v2/keys/apps/dummy/crawler/manifest)
    dk_wait 120 "the crawler to run" sh -c \
        'ETCDCTL_API=3 etcdctl --endpoints=http://10.88.0.11:2379 get --print-value-only /status/dummy/crawler/0 | grep -q "\"state\":\"running\""'
    h=$(ETCDCTL_API=3 etcdctl --endpoints=http://10.88.0.11:2379 get --print-value-only /status/dummy/crawler/0 |
        sed -n 's/.*"host":"\(h[0-9]\)".*/\1/p')
    dk_wait 60 "the crawler on $h to fetch nginx's page" mk_crawled "unix:///run/dokkaa/$h/docker.sock"
    # two clusters side by side: this suite's works meanwhile
    mk_this_cluster_runs "beside HOSTS=2 make up"
    mk_make down
    dk_wait 30 "nothing of HOSTS=2 make up left" mk_nothing_left || fail "left after make down: $(mk_left)"
    mk_this_cluster_runs "after make down of the other cluster"
}
