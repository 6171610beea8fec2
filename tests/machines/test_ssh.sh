# tests/machines/test_ssh.sh - `dokkaacfg up --provider=ssh` on three fresh Debian
# 12 machines, as a new user would run it, then the seed's example on them, a
# machine killed and brought back, a second up, a fourth machine, a client of
# another network, and down. The tests run in name order and build on each other.

MT_EXAMPLE=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../examples/nginx-and-crawler" && pwd)

mt_up() { # mt_up HOST_NUMBERS...: up on those machines, output in $MT_LOG
    local hosts=() i deb=$MT_DEB
    [ -s "$MT_STATE/package" ] && deb=$(cat "$MT_STATE/package") # test_68's, once it ran
    for i in "$@"; do hosts+=(--host "root@$(mt_ip "$i")"); done
    mt_cfg up --provider=ssh "${hosts[@]}" --identity "$MT_STATE/id_ed25519" --name "$MT_NAME" \
        --trust "$MT_TRUST" --package "$deb" > "$MT_LOG" 2>&1
}
mt_running() { [ "$(docker inspect -f '{{.State.Running}}' "m$1" 2>/dev/null)" = true ]; }
mt_machines() { local i; for i in 1 2 3 4; do if mt_running $i; then echo $i; fi; done; }
# The machines where container NAME runs.
mt_where() {
    local i
    for i in $(mt_machines); do
        if mt_ssh $i "docker ps -q --filter name=^$1\$" 2>/dev/null | grep -q .; then echo $i; fi
    done
}
# How often the crawler's log shows nginx's page, on the live machines.
mt_fetches() {
    local i n=0 k
    for i in $(mt_machines); do
        k=$(mt_ssh $i "docker logs dummy---crawler 2>&1 | grep -c 'Welcome to nginx'" 2>/dev/null) || k=0
        n=$((n + ${k:-0}))
    done
    echo $n
}
mt_fetched_more_than() { [ "$(mt_fetches)" -gt "$1" ]; }
mt_hosts() { mt_cfg hosts -o json | jq '.hosts | length'; }
mt_hosts_are() { [ "$(mt_hosts)" = "$1" ]; }
mt_runs_nginx() {
    mt_ssh "$1" "docker ps -q --filter label=dokkaa.app=dummy --filter label=dokkaa.name=nginx" | grep -q .
}
mt_runs_once() { [ "$(mt_where "$1" | wc -l)" = 1 ]; }
mt_runs_elsewhere() { local w; w=$(mt_where "$1"); [ -n "$w" ] && [ "$w" != "$2" ]; }

# A host that cannot be reached stops up before anything changes anywhere, and
# the error names it and the step.
test_05_unreachable_host_stops_up_before_any_change() {
    mt_fails out mt_up 1 89
    cat "$MT_LOG"
    grep -q "10.87.0.99 (10.87.0.99): reach: ssh" "$MT_LOG"
    mt_ssh 1 '! dpkg -s dokkaa >/dev/null 2>&1 && ! test -e /etc/dokkaa'
}

test_10_up_on_three_fresh_machines() {
    local t0=$SECONDS
    mt_up 1 2 3 || { cat "$MT_LOG"; return 1; }
    echo "up on 3 fresh machines: $((SECONDS - t0)) s"
    grep -q "3 hosts up" "$MT_LOG"
    # each step was shown per host
    for i in 1 2 3; do grep -q "m$i ($(mt_ip $i)): package ... dokkaa .* installed" "$MT_LOG"; done
    mt_hosts_are 3
    # the control plane is TLS: etcd refuses a client without a certificate
    mt_not curl -s --max-time 5 -k "https://$(mt_ip 1):2379/v3/kv/range" -d '{"key":"Lw=="}'
    mt_not curl -s --max-time 5 "http://$(mt_ip 1):2379/health"
    # the CA and the token are kept 0600 in the CLI's config directory
    [ "$(stat -c %a "$XDG_CONFIG_HOME/dokkaa/clusters/$MT_NAME/ca.key")" = 600 ]
    [ "$(stat -c %a "$XDG_CONFIG_HOME/dokkaa/config.json")" = 600 ]
}

test_20_push_the_example_images() {
    mt_cfg push dockerfile/nginx dockerfile/ubuntu
    # the registry has them, and lets in no one without the cluster's certificate
    mt_ssh 2 "docker pull -q $(mt_ip 1):5000/dockerfile/nginx" >/dev/null
    # and is every engine's mirror of Docker Hub: the plain name is found there
    mt_ssh 3 "docker pull -q dockerfile/ubuntu" >/dev/null
    mt_not curl -s --max-time 5 -k "https://$(mt_ip 1):5000/v2/_catalog"
}

test_30_seed_commands_on_a_host() {
    # the seed's two commands, verbatim, on m1 against its loopback
    mt_ssh 1 "mkdir -p /root/example" 
    mt_ssh 1 "cat > /root/example/nginx.json" < "$MT_EXAMPLE/nginx.json"
    mt_ssh 1 "cat > /root/example/crawler.json" < "$MT_EXAMPLE/crawler.json"
    mt_ssh 1 'cd /root/example &&
        curl -L -XPUT -d value="$(cat nginx.json)" http://127.0.0.1:4001/v2/keys/apps/dummy/nginx/manifest &&
        curl -L -XPUT -d value="$(cat crawler.json)" http://127.0.0.1:4001/v2/keys/apps/dummy/crawler/manifest'
    dk_wait 180 "the crawler's log to show nginx's page" mt_fetched_more_than 0
    echo "nginx on m$(mt_where dummy---nginx), crawler on m$(mt_where dummy---crawler)"
    mt_cfg ps dummy
}

test_40_killed_machine_its_instances_run_elsewhere() {
    local victim before t0
    victim=$(mt_where dummy---nginx)
    [ -n "$victim" ]
    [ "$(mt_where dummy---crawler)" != "$victim" ] || echo "the crawler shares m$victim: it moves too"
    before=0
    [ "$(mt_where dummy---crawler)" = "$victim" ] || before=$(mt_fetches)
    t0=$(date +%s.%N)
    machine_kill "m$victim"
    echo "$victim" > "$MT_STATE/victim"
    dk_wait 120 "nginx to run on another machine" mt_runs_elsewhere dummy---nginx "$victim"
    echo "nginx runs elsewhere $(echo "$(date +%s.%N) - $t0" | bc) s after the kill"
    dk_wait 120 "the crawler to be served again" mt_fetched_more_than "$before"
    echo "crawler served again $(echo "$(date +%s.%N) - $t0" | bc) s after the kill"
}

test_50_machine_back_rejoins() {
    local victim t0
    victim=$(cat "$MT_STATE/victim")
    t0=$(date +%s.%N)
    machine_restart "m$victim"
    dk_wait 120 "m$victim to register again" mt_hosts_are 3
    echo "m$victim registered again $(echo "$(date +%s.%N) - $t0" | bc) s after it was started"
    # what it ran before is not run twice
    dk_wait 60 "exactly one nginx" mt_runs_once dummy---nginx
    dk_wait 60 "the crawler served" mt_fetched_more_than 0
}

# The CLI's API is the first host's; when it cannot be reached, the others' are asked.
test_55_cli_works_with_the_first_hosts_api_down() {
    mt_ssh 1 systemctl stop dokkaa-builder
    mt_cfg ps dummy 2> "$MT_STATE/stderr"
    grep -q "cannot be reached; asking https://$(mt_ip 2):4001" "$MT_STATE/stderr"
    mt_cfg scale dummy/crawler 1   # a write, too
    mt_ssh 1 systemctl start dokkaa-builder
}

test_60_up_again_changes_nothing() {
    mt_up 1 2 3 || { cat "$MT_LOG"; return 1; }
    grep -q "nothing changed" "$MT_LOG"
    mt_not grep "(re)started\|installed$\|written\|made$" "$MT_LOG"
}

# A member reinstalled, or whose disk was lost: its etcd data is gone. `up` again
# takes it out of etcd's membership and adds it back, and it syncs from the others.
test_65_member_that_lost_its_data_rejoins_on_up() {
    mt_ssh 2 "systemctl stop dokkaa-etcd && rm -rf /var/lib/dokkaa/etcd"
    mt_up 1 2 3 || { cat "$MT_LOG"; return 1; }
    grep -q "m2 (10.87.0.12): etcd ... lost its data: removed and added back" "$MT_LOG"
    dk_wait 60 "m2's etcd to serve the cluster's data again" mt_etcd_has_manifest 2
    mt_cfg status | grep -q "^m2 .*active"
    # and up after that changes nothing either
    mt_up 1 2 3 || { cat "$MT_LOG"; return 1; }
    grep -q "nothing changed" "$MT_LOG"
}
# Whether host i's own etcd member holds the nginx manifest (read with its certificate).
mt_etcd_has_manifest() {
    mt_ssh "$1" 'curl -s --cacert /etc/dokkaa/tls/ca.pem --cert /etc/dokkaa/tls/host.pem \
        --key /etc/dokkaa/tls/host.key https://127.0.0.1:2379/v3/kv/range \
        -d "{\"key\":\"$(printf /apps/dummy/nginx/manifest | base64 -w0)\",\"serializable\":true}"' |
        grep -q '"kvs"'
}

# A newer package: up upgrades the hosts one at a time, and the containers keep
# running (the same containers, not new ones).
test_68_newer_package_upgrades_hosts_one_at_a_time() {
    local dir=$MT_STATE/newer before after i
    rm -rf "$dir"; mkdir -p "$dir"
    dpkg-deb -R "$MT_DEB" "$dir/root"
    sed -i 's/^Version: \(.*\)$/Version: \1+test1/' "$dir/root/DEBIAN/control"
    dpkg-deb -b --root-owner-group "$dir/root" "$dir/newer.deb" >/dev/null
    before=$(for i in 1 2 3; do mt_ssh $i "docker ps -q --filter label=dokkaa.cluster"; done | sort)
    mt_cfg up --provider=ssh --host "root@$(mt_ip 1)" --host "root@$(mt_ip 2)" --host "root@$(mt_ip 3)" \
        --identity "$MT_STATE/id_ed25519" --name "$MT_NAME" --package "$dir/newer.deb" > "$MT_LOG" 2>&1 \
        || { cat "$MT_LOG"; return 1; }
    for i in 1 2 3; do
        grep -q "m$i ($(mt_ip $i)): package ... dokkaa .*+test1, upgraded from" "$MT_LOG"
        [ "$(mt_ssh $i "dpkg-query -W -f='\${Version}' dokkaa")" = "$(dpkg-deb -f "$dir/newer.deb" Version)" ]
    done
    after=$(for i in 1 2 3; do mt_ssh $i "docker ps -q --filter label=dokkaa.cluster"; done | sort)
    [ "$before" = "$after" ]
    mt_hosts_are 3
    echo "$dir/newer.deb" > "$MT_STATE/package"
}

test_70_a_fourth_machine_joins() {
    machine_start m4 "$(mt_ip 4)" "" "$MT_STATE/id_ed25519.pub" >/dev/null
    mt_up 1 2 3 4 || { cat "$MT_LOG"; return 1; }
    grep -q "4 hosts up" "$MT_LOG"
    mt_hosts_are 4
    # the new machine takes work: four nginx spread one per machine
    mt_cfg scale dummy/nginx 4
    dk_wait 120 "an nginx on m4" mt_runs_nginx 4
    mt_cfg scale dummy/nginx 1
}

# From 10.87.0.200 (outside --trust): a throwaway container of the example image
# on the machines' network, with curl.
mt_outsider() { docker run --rm --network dokkaa-machines --ip "$MT_OUTSIDER_IP" \
    -v "$XDG_CONFIG_HOME/dokkaa/clusters/$MT_NAME/ca.pem:/ca.pem:ro" dockerfile/ubuntu "$@"; }

test_80_another_network_needs_a_token() {
    local token code
    token=$(jq -r .token "$XDG_CONFIG_HOME/dokkaa/config.json")
    # from a trusted network (--trust 10.87.0.0/25: m2), the seed's command works as
    # written against another host
    code=$(mt_ssh 2 "curl -s -o /dev/null -w '%{http_code}' -XPUT -d value='{\"image\":\"dockerfile/nginx\",\"scale\":0}' \
        http://$(mt_ip 1):4001/v2/keys/apps/trusted/x/manifest")
    echo "anonymous over HTTP from a trusted network: $code"; [ "$code" = 201 ]
    mt_cfg rm trusted
    # anonymous, plain HTTP, as the seed writes it: refused, nothing stored
    code=$(mt_outsider curl -s -o /dev/null -w '%{http_code}' -XPUT -d value='{"image":"dockerfile/nginx"}' \
        "http://$(mt_ip 1):4001/v2/keys/apps/evil/x/manifest")
    echo "anonymous over HTTP: $code"; [ "$code" = 403 ]
    code=$(mt_outsider curl -s -o /dev/null -w '%{http_code}' --cacert /ca.pem -XPUT \
        -d value='{"image":"dockerfile/nginx"}' "https://$(mt_ip 1):4001/v2/keys/apps/evil/x/manifest")
    echo "anonymous over HTTPS: $code"; [ "$code" = 401 ]
    mt_not mt_cfg get evil/x >/dev/null 2>&1
    # with a token, over HTTPS (the cluster's CA): accepted
    code=$(mt_outsider curl -s -o /dev/null -w '%{http_code}' --cacert /ca.pem -XPUT \
        -H "Authorization: Bearer $token" -d value='{"image":"dockerfile/nginx","scale":0}' \
        "https://$(mt_ip 1):4001/v2/keys/apps/evil/x/manifest")
    echo "with a token over HTTPS: $code"; [ "$code" = 201 ] || [ "$code" = 200 ]
    mt_cfg get evil/x | grep -q dockerfile/nginx
    mt_cfg rm evil
    # etcd and the registry: no certificate, no entry
    mt_not mt_outsider curl -s --max-time 5 --cacert /ca.pem "https://$(mt_ip 1):2379/health"
}

# Down: nothing of Dokkaa on the machines, and Debian's own etcd and registry units
# as they were before (the test image has them enabled, as Debian leaves them).
test_90_down_leaves_nothing_of_dokkaa() {
    local i
    mt_cfg down --provider=ssh --name "$MT_NAME" > "$MT_LOG" 2>&1 || { cat "$MT_LOG"; return 1; }
    for i in 1 2 3 4; do
        mt_ssh $i '! systemctl list-unit-files "dokkaa-*" | grep -q dokkaa &&
            ! test -e /etc/dokkaa && ! test -e /var/lib/dokkaa &&
            ! dpkg -s dokkaa >/dev/null 2>&1 &&
            [ -z "$(docker ps -aq --filter label=dokkaa.cluster)" ] &&
            ! ls /etc/docker/certs.d/*:5000 >/dev/null 2>&1 && ! test -e /etc/docker/daemon.json &&
            systemctl is-enabled -q etcd docker-registry' || { echo "m$i keeps something"; return 1; }
    done
    [ ! -e "$XDG_CONFIG_HOME/dokkaa/clusters/$MT_NAME" ]
    [ ! -e "$XDG_CONFIG_HOME/dokkaa/config.json" ]
}
