# tests/machines/test_digitalocean.sh - the seed's own line,
#   dokkaacfg --provider=digitalocean up --scale=2 --ssh_key=<your ssh key name>
# against a stand-in for DigitalOcean's API v2 (tests/digitalocean/standin.py) that
# answers as the documented API does and boots a test machine per droplet, with
# the key put in by cloud-init's NoCloud data source. Runs after the ssh tests.

MT_DO_KEY=dokkaa-test
MT_DO_TOKEN=dop_v1_0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab

# The stand-in and an ssh-agent holding the key (the seed's line names no key
# file: the agent is how ssh finds it), started once, ended by mt_do_stop.
# Each test runs in a subshell of its own: what they share is in $MT_STATE.
mt_do_start() {
    local root; root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    # the CLI that `make deb` built its package beside, as a new user has it
    MT_DO_CLI="$root/build/deb/src/dokkaacfg"
    if [ ! -s "$MT_STATE/standin.pid" ]; then
        ssh-agent -s > "$MT_STATE/agent.env"
        (. "$MT_STATE/agent.env" >/dev/null && echo "$SSH_AGENT_PID" > "$MT_STATE/agent.pid" &&
            ssh-add -q "$MT_STATE/id_ed25519")
        python3 "$root/tests/digitalocean/standin.py" 0 --token "$MT_DO_TOKEN" \
            --key "$MT_DO_KEY=$MT_STATE/id_ed25519.pub" --fake-keys 30 --no-capacity sfo2 \
            --boot "$root/tests/machines/do-boot.sh" --log "$MT_STATE/standin.log" \
            > "$MT_STATE/standin.out" 2> "$MT_STATE/standin.err" &
        echo $! > "$MT_STATE/standin.pid"
        dk_wait 20 "the stand-in to listen" grep -q 'listening on' "$MT_STATE/standin.out"
    fi
    . "$MT_STATE/agent.env" >/dev/null
    DIGITALOCEAN_API_URL=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$MT_STATE/standin.out")
    export DIGITALOCEAN_API_URL SSH_AUTH_SOCK MT_DO_CLI
    touch "$MT_STATE/standin.log"
}
mt_do_stop() {
    [ -s "$MT_STATE/standin.pid" ] && dk_stop "$MT_STATE/standin.pid" 120
    [ -s "$MT_STATE/agent.pid" ] && dk_stop "$MT_STATE/agent.pid" 5
    return 0
}
mt_do_droplets() { curl -s -H "Authorization: Bearer $MT_DO_TOKEN" \
    "$DIGITALOCEAN_API_URL/v2/droplets?tag_name=dokkaa-dokkaa" | jq '.droplets | length'; }
mt_do_posts() { grep -c '^POST /v2/droplets' "$MT_STATE/standin.log" || true; }
# The public address of the cluster's Nth droplet, as the API lists them.
mt_do_ip() { curl -s -H "Authorization: Bearer $MT_DO_TOKEN" \
    "$DIGITALOCEAN_API_URL/v2/droplets?tag_name=dokkaa-dokkaa" |
    jq -r "[.droplets[].networks.v4[] | select(.type == \"public\") | .ip_address][$(($1 - 1))]"; }
mt_do_ssh() { machine_ssh "$(mt_do_ip "$1")" "${@:2}"; }

test_do_10_bad_token_is_refused_and_makes_nothing() {
    mt_do_start
    local out posts
    posts=$(mt_do_posts)
    mt_fails out env DIGITALOCEAN_ACCESS_TOKEN=not-my-token "$MT_DO_CLI" --provider=digitalocean up \
        --scale=2 --ssh_key=$MT_DO_KEY
    echo "$out"
    echo "$out" | grep -q "401"
    [ "$(mt_do_posts)" = "$posts" ]
    mt_fails out env -u DIGITALOCEAN_ACCESS_TOKEN "$MT_DO_CLI" --provider=digitalocean up --scale=2 \
        --ssh_key=$MT_DO_KEY
    echo "$out" | grep -q DIGITALOCEAN_ACCESS_TOKEN
}

test_do_20_unknown_key_and_full_region_make_nothing() {
    mt_do_start
    local out
    mt_fails out env DIGITALOCEAN_ACCESS_TOKEN=$MT_DO_TOKEN "$MT_DO_CLI" --provider=digitalocean up \
        --scale=2 --ssh_key=no-such-key
    echo "$out"; echo "$out" | grep -q "no-such-key"
    mt_fails out env DIGITALOCEAN_ACCESS_TOKEN=$MT_DO_TOKEN "$MT_DO_CLI" --provider=digitalocean up \
        --scale=2 --ssh_key=$MT_DO_KEY --region sfo2
    echo "$out"; echo "$out" | grep -q "422"
    [ "$(mt_do_droplets)" = 0 ]
}

test_do_30_the_seeds_line_brings_up_two_droplets() {
    mt_do_start
    local t0=$SECONDS
    export DIGITALOCEAN_ACCESS_TOKEN=$MT_DO_TOKEN
    "$MT_DO_CLI" --provider=digitalocean up --scale=2 --ssh_key=$MT_DO_KEY > "$MT_LOG" 2>&1 \
        || { cat "$MT_LOG"; tail -5 "$MT_STATE/standin.err"; return 1; }
    echo "up of 2 droplets: $((SECONDS - t0)) s"
    [ "$(mt_do_droplets)" = 2 ]
    grep -q "2 hosts up" "$MT_LOG"
    mt_hosts_are 2
    # cloud-init ran the user data for real, from the NoCloud seed
    mt_do_ssh 1 "cloud-init status" | grep -q "status: done"
    # the seed's example on them
    "$MT_DO_CLI" push dockerfile/nginx dockerfile/ubuntu
    local ip; ip=$(mt_do_ip 1)
    machine_ssh "$ip" "cat > /root/nginx.json" < "$MT_EXAMPLE/nginx.json"
    machine_ssh "$ip" "cat > /root/crawler.json" < "$MT_EXAMPLE/crawler.json"
    machine_ssh "$ip" 'cd /root &&
        curl -L -XPUT -d value="$(cat nginx.json)" http://127.0.0.1:4001/v2/keys/apps/dummy/nginx/manifest &&
        curl -L -XPUT -d value="$(cat crawler.json)" http://127.0.0.1:4001/v2/keys/apps/dummy/crawler/manifest'
    dk_wait 180 "the crawler's log to show nginx's page" mt_do_fetched
}
mt_do_fetched() {
    local id
    for id in 1 2; do
        mt_do_ssh $id "docker logs dummy---crawler 2>&1 | grep -q 'Welcome to nginx'" 2>/dev/null && return 0
    done
    return 1
}

test_do_35_up_with_another_scale_adds_and_removes_droplets() {
    mt_do_start
    export DIGITALOCEAN_ACCESS_TOKEN=$MT_DO_TOKEN
    "$MT_DO_CLI" --provider=digitalocean up --scale=3 --ssh_key=$MT_DO_KEY > "$MT_LOG" 2>&1 \
        || { cat "$MT_LOG"; return 1; }
    [ "$(mt_do_droplets)" = 3 ]
    mt_hosts_are 3
    "$MT_DO_CLI" --provider=digitalocean up --scale=2 > "$MT_LOG" 2>&1 || { cat "$MT_LOG"; return 1; }
    grep -q "dokkaa-3: droplet ... deleted" "$MT_LOG"
    [ "$(mt_do_droplets)" = 2 ]
    mt_hosts_are 2
    # the example still runs
    dk_wait 60 "the crawler served" mt_do_fetched
}

test_do_40_down_deletes_the_droplets() {
    mt_do_start
    export DIGITALOCEAN_ACCESS_TOKEN=$MT_DO_TOKEN
    "$MT_DO_CLI" --provider=digitalocean down > "$MT_LOG" 2>&1 || { cat "$MT_LOG"; return 1; }
    cat "$MT_LOG"
    [ "$(mt_do_droplets)" = 0 ]
    [ -z "$(docker ps -a --format '{{.Names}}' | grep '^do-')" ]
    mt_do_stop
}
