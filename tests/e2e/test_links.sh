# The ambassador: links reach live instances, skipping those that refuse; and links
# are an access list: only the app's containers that link a service reach it.

test_30_link_skips_refusing_instance() {
    local gw port ok=0
    e2e_set lb web '{"image": "dockerfile/nginx", "scale": 2, "services": {"web": 80}}'
    e2e_set lb client '{"image": "dockerfile/ubuntu", "command": ["sleep", "infinity"], "links": ["web"]}'
    e2e_wait_converged lb web 2 web
    e2e_wait_converged lb client 1
    # an announced instance that refuses every connection
    e2e_etcdctl put /services/lb/web/lb---web---9@dead '{"addr": "127.0.0.1", "port": 1}' >/dev/null
    port=$(e2e_etcdctl get --print-value-only /links/lb/web | sed 's/[^0-9]//g')
    for i in $(seq 1 12); do
        docker exec lb---client sh -c 'curl -sf --max-time 5 http://$SERVICE_WEB_ADDR:$SERVICE_WEB_PORT/' \
            | grep -q "Welcome to nginx" && ok=$((ok + 1))
    done
    assert_eq 12 "$ok" "connections served (link port $port)"
    e2e_etcdctl del /services/lb/web/lb---web---9@dead >/dev/null
    e2e_delete_app lb
}

# A sleeping client of APP (JSON of its links, e.g. '["web"]' or '[]').
acl_client() { # APP NAME LINKS
    e2e_set "$1" "$2" "{\"image\": \"dockerfile/ubuntu\", \"command\": [\"sleep\", \"infinity\"], \"links\": $3}"
}
acl_addr() { docker inspect --format '{{.NetworkSettings.IPAddress}}' "$1"; }

# acl_try CONTAINER URL: curl URL from inside CONTAINER; prints curl's exit status
# (0 served, 7 refused, 52 closed without a reply, 56 reset, 28 hung) and the
# milliseconds it took.
acl_try() {
    local start rc
    start=$(date +%s%N)
    rc=$(docker exec "$1" sh -c "curl -s -o /dev/null --max-time 5 '$2'; echo \$?")
    echo "$rc $(( ($(date +%s%N) - start) / 1000000 ))"
}

# The ambassador's refusals since acl_mark: addresses and ports are reused from
# test to test.
acl_mark() { ACL_FROM=$(( $(wc -l < "$E2E_ROOT/ambassador.log") + 1 )); }
acl_refusals() { tail -n +"$ACL_FROM" "$E2E_ROOT/ambassador.log" | grep -iE "refus|denied|not linked"; }

# acl_logged ADDRESS LINK PORT: a refusal names ADDRESS and the link (as
# app/service, or by its port).
acl_logged() {
    acl_refusals | grep -E "(^|[^0-9.])${1//./\\.}([^0-9]|$)" | grep -qE "$2|port $3([^0-9]|$)"
}

# acl_refused CONTAINER URL ADDRESS LINK PORT: refused at once, and logged. The
# ambassador logs refusals on a link at most once a second, so this is polled.
acl_refused() {
    local rc ms
    read -r rc ms < <(acl_try "$1" "$2")
    case $rc in 7|52|56) ;; *) echo "$1: curl exit status $rc after $ms ms"; return 1 ;; esac
    [ "$ms" -lt 3000 ] || { echo "$1: refused only after $ms ms"; return 1; }
    acl_logged "$3" "$4" "$5"
}

test_31_unlinked_container_is_refused() {
    local gw port url page rc ms
    acl_mark
    e2e_set acl web '{"image": "dockerfile/nginx", "services": {"web": 80}}'
    e2e_wait_converged acl web 1 web
    acl_client acl client '["web"]'  # links web: served
    acl_client acl loner '[]'        # same app, links nothing: refused
    # links a "web", its own app's (which must exist: a link to a service no manifest
    # offers waits for one), and is refused on acl's
    e2e_set intruder web '{"image": "dockerfile/nginx", "services": {"web": 80}}'
    acl_client intruder client '["web"]'
    e2e_wait_converged acl client 1
    e2e_wait_converged acl loner 1
    e2e_wait_converged intruder client 1
    gw=$(docker network inspect bridge --format '{{(index .IPAM.Config 0).Gateway}}')
    port=$(e2e_etcdctl get --print-value-only /links/acl/web | sed 's/[^0-9]//g')
    url=http://$gw:$port/
    # the linked client, as a user's would: through its environment
    page=$(docker exec acl---client sh -c 'curl -s --max-time 5 http://$SERVICE_WEB_ADDR:$SERVICE_WEB_PORT/ || true')
    [[ "$page" == *"Welcome to nginx"* ]] || fail "the linked client is not served: '$page'"
    for c in acl---loner intruder---client; do
        read -r rc ms < <(acl_try "$c" "$url")
        echo "$c ($(acl_addr "$c")) on acl/web at $url: curl exit status $rc after $ms ms"
        [ "$rc" != 0 ] || fail "$c, which does not link acl/web, was served"
        [ "$rc" != 28 ] || fail "$c hung instead of being refused at once"
        dk_wait 15 "$c to be refused at once, and the ambassador to log it" \
            acl_refused "$c" "$url" "$(acl_addr "$c")" acl/web "$port" \
            || fail "$c: no refusal naming $(acl_addr "$c") and acl/web in the ambassador's log: $(acl_refusals | tail -5)"
    done
    ! acl_logged "$(acl_addr acl---client)" acl/web "$port" || fail "the linked client's connection was logged as refused"
    # and the linked client still is served (nothing about the others stuck)
    read -r rc ms < <(acl_try acl---client "$url")
    assert_eq 0 "$rc" "the linked client's curl exit status"
    e2e_delete_app acl
    e2e_delete_app intruder
}

# A linked container that connects the moment it starts is served: the
# ambassador knows its address before its process runs (containers.h).
test_32_linked_container_is_served_from_its_first_connection() {
    local rc page
    e2e_set eager web '{"image": "dockerfile/nginx", "services": {"web": 80}}'
    e2e_wait_converged eager web 1 web
    acl_client eager first '["web"]' # allocates the link's port; the ambassador listens
    e2e_wait_converged eager first 1
    dk_wait 20 "the link to serve" sh -c \
        "docker exec eager---first sh -c 'curl -sf --max-time 5 http://\$SERVICE_WEB_ADDR:\$SERVICE_WEB_PORT/' | grep -q nginx"
    for i in 1 2 3; do
        e2e_set eager "now$i" '{"image": "dockerfile/ubuntu", "links": ["web"], "command": ["bash", "-c", "curl -s --max-time 5 -o /tmp/page http://$SERVICE_WEB_ADDR:$SERVICE_WEB_PORT/; echo $? > /tmp/rc; exec sleep infinity"]}'
    done
    for i in 1 2 3; do
        e2e_wait_converged eager "now$i" 1
        dk_wait 20 "eager---now$i's first curl to end" docker exec "eager---now$i" test -s /tmp/rc
        rc=$(docker exec "eager---now$i" cat /tmp/rc)
        page=$(docker exec "eager---now$i" sh -c 'cat /tmp/page 2>/dev/null || true')
        [ "$rc" = 0 ] && [[ "$page" == *"Welcome to nginx"* ]] \
            || fail "eager---now$i's first connection, at its start, was not served (curl exit status $rc)"
    done
    e2e_delete_app eager
}

# A typo in an update of a client's manifest leaves its container running as it
# was (the conductor keeps it), and so it must keep its links too.
test_33_invalid_update_keeps_the_running_client_linked() {
    local page
    e2e_set typo web '{"image": "dockerfile/nginx", "services": {"web": 80}}'
    acl_client typo client '["web"]'
    e2e_wait_converged typo web 1 web
    e2e_wait_converged typo client 1
    dk_wait 20 "the link to serve" sh -c \
        "docker exec typo---client sh -c 'curl -sf --max-time 5 http://\$SERVICE_WEB_ADDR:\$SERVICE_WEB_PORT/' | grep -q nginx"
    # written straight into etcd, as the builder would refuse it
    e2e_etcdctl put /apps/typo/client/manifest '{"image": "dockerfile/ubuntu", "command": ["sleep", "infinity"], "links": ["web"], "scale": "1"}' >/dev/null
    dk_wait 20 "the ambassador to keep the last valid manifest" \
        grep -q "/apps/typo/client/manifest: .*keep the links" "$E2E_ROOT/ambassador.log"
    page=$(docker exec typo---client sh -c 'curl -s --max-time 5 http://$SERVICE_WEB_ADDR:$SERVICE_WEB_PORT/ || true')
    [[ "$page" == *"Welcome to nginx"* ]] || fail "the running client lost its link after an invalid update: '$page'"
    e2e_delete_app typo
}

# /metrics on the ambassador: per link, what a user would graph.
amb_metric() { # NAME LABELS-REGEX: the value of the first matching line
    curl -s --max-time 2 http://127.0.0.1:4002/metrics | grep "^$1{.*$2" | head -1 | awk '{print $2}'
}
test_34_metrics_count_each_link() {
    local gw port
    e2e_set obs web '{"image": "dockerfile/nginx", "services": {"web": 80}}'
    acl_client obs client '["web"]'
    acl_client obs loner '[]'
    e2e_wait_converged obs web 1 web
    e2e_wait_converged obs client 1
    e2e_wait_converged obs loner 1
    for i in 1 2 3 4 5; do
        docker exec obs---client sh -c 'curl -sf --max-time 5 http://$SERVICE_WEB_ADDR:$SERVICE_WEB_PORT/' >/dev/null
    done
    gw=$(docker network inspect bridge --format '{{(index .IPAM.Config 0).Gateway}}')
    port=$(e2e_etcdctl get --print-value-only /links/obs/web | sed 's/[^0-9]//g')
    docker exec obs---loner sh -c "curl -s --max-time 5 http://$gw:$port/" >/dev/null || true
    assert_eq 5 "$(amb_metric dokkaa_link_connections_total 'app="obs",service="web"')" "connections through obs/web"
    assert_eq 1 "$(amb_metric dokkaa_link_refused_total 'app="obs",service="web"')" "refused on obs/web"
    assert_eq 0 "$(amb_metric dokkaa_link_active_connections 'app="obs",service="web"')" "open on obs/web"
    [ "$(amb_metric dokkaa_link_bytes_total 'app="obs",service="web".*direction="out"')" -ge 3075 ] \
        || fail "fewer bytes out than 5 nginx pages of 615 bytes"
    e2e_delete_app obs
}

# A container of another cluster on the same engine, labelled as if it were the
# linked client of the same app, is no one's: refused.
test_35_container_of_another_cluster_is_refused() {
    local gw port rc ms
    e2e_set other web '{"image": "dockerfile/nginx", "services": {"web": 80}}'
    acl_client other client '["web"]'
    e2e_wait_converged other web 1 web
    e2e_wait_converged other client 1
    dk_wait 20 "the link to serve its own client" sh -c \
        "docker exec other---client sh -c 'curl -sf --max-time 5 http://\$SERVICE_WEB_ADDR:\$SERVICE_WEB_PORT/' | grep -q nginx"
    trap 'docker rm -f elsewhere---client >/dev/null 2>&1' EXIT
    docker run -d --name elsewhere---client --label dokkaa.cluster=elsewhere --label dokkaa.app=other \
        --label dokkaa.name=client --label dokkaa.instance=0 dockerfile/ubuntu sleep infinity >/dev/null
    gw=$(docker network inspect bridge --format '{{(index .IPAM.Config 0).Gateway}}')
    port=$(e2e_etcdctl get --print-value-only /links/other/web | sed 's/[^0-9]//g')
    acl_mark
    dk_wait 15 "elsewhere---client to be refused at once, and the ambassador to log it" \
        acl_refused elsewhere---client "http://$gw:$port/" "$(acl_addr elsewhere---client)" other/web "$port"
    docker rm -f elsewhere---client >/dev/null
    e2e_delete_app other
}

# A link takes a cluster-wide port only for a service a manifest of its app offers
# (a made-up name waits, and says why), and gives it back once no manifest of the
# app names the link any more (issue 12, defect 15).
lp_port() { e2e_etcdctl get --print-value-only /links/lp/web; }
lp_error() { e2e_etcdctl get --print-value-only /status/lp/client/0; }
test_36_link_port_only_for_an_offered_service_and_freed_when_named_no_more() {
    acl_client lp client '["web"]'
    dk_wait 20 "the client's status to say it waits for web" sh -c \
        "ETCDCTL_API=3 etcdctl --endpoints=$E2E_ETCD get --print-value-only /status/lp/client/0 | grep -q 'no manifest of app lp offers service web'" \
        || fail "status: $(lp_error)"
    assert_eq "" "$(lp_port)" "a port for a service nobody offers"
    e2e_set lp web '{"image": "dockerfile/nginx", "services": {"web": 80}}'
    e2e_wait_converged lp web 1 web
    e2e_wait_converged lp client 1
    [ -n "$(lp_port)" ] || fail "no port for the link once web is offered"
    dk_wait 20 "the client to reach web" sh -c \
        "docker exec lp---client sh -c 'curl -sf --max-time 5 http://\$SERVICE_WEB_ADDR:\$SERVICE_WEB_PORT/' | grep -q nginx"
    # the client names web no more: its port goes back
    acl_client lp client '[]'
    dk_wait 60 "the link's port to be freed" sh -c \
        "[ -z \"\$(ETCDCTL_API=3 etcdctl --endpoints=$E2E_ETCD get --keys-only /links/lp/web)\" ]" \
        || fail "/links/lp/web still holds $(lp_port)"
    e2e_delete_app lp
}

# README (dokkaa-ambassador, Limits; issue 12, defect 23): --max-conns caps the
# connections the ambassador holds on its host. Under the cap a client is served;
# a client past it is closed at once (not left hanging), counted as refused in
# /metrics, and the log says which limit; once a connection ends, the next client
# is served again. An ambassador of the test's own, on 127.0.0.2 with loopback
# allowed, and the per-link and per-source caps set above it, so that the cap
# met is the host's.
mc_metric() { # NAME: the value for link mc/web on the test's ambassador
    curl -s --max-time 2 http://127.0.0.1:24002/metrics | grep "^$1{.*app=\"mc\",service=\"web\"" | awk '{print $2}'
}
mc_try() { # curl's exit status and the milliseconds it took, of one GET through the link
    local start rc
    start=$(date +%s%N)
    curl -s -o /dev/null --max-time 5 "http://127.0.0.2:$MC_PORT/" && rc=0 || rc=$?
    echo "$rc $(( ($(date +%s%N) - start) / 1000000 ))"
}
mc_active_is() { [ "$(mc_metric dokkaa_link_active_connections)" = "$1" ]; }
test_37_max_conns_closes_clients_past_it_at_once_and_serves_under_it() {
    local d rc ms held1 held2
    e2e_set mc web '{"image": "dockerfile/nginx", "services": {"web": 80}}'
    acl_client mc client '["web"]' # names the link: its port is allocated
    e2e_wait_converged mc web 1 web
    e2e_wait_converged mc client 1
    MC_PORT=$(e2e_etcdctl get --print-value-only /links/mc/web | sed 's/[^0-9]//g')
    [ -n "$MC_PORT" ] || fail "no port for link mc/web"
    d=$(mktemp -d /tmp/dokkaa-mc.XXXXXX)
    trap "set +e; dk_stop $d/ambassador.pid; rm -rf $d; e2e_delete_app mc" EXIT
    dk_start "$d/ambassador.pid" "$d/ambassador.log" "$E2E_BIN/dokkaa-ambassador" --etcd "$E2E_ETCD" \
        --cluster "$E2E_CLUSTER" --listen 127.0.0.2 --allow 127.0.0.0/8 --metrics-port 24002 \
        --max-conns 2 --max-conns-per-link 100 --max-conns-per-source 100
    dk_wait 20 "the test's ambassador to serve mc/web on 127.0.0.2:$MC_PORT" \
        curl -sf --max-time 2 "http://127.0.0.2:$MC_PORT/" || fail "not served under the cap: $(tail -5 "$d/ambassador.log")"
    grep -q "up to 2 connections" "$d/ambassador.log" || fail "the log does not give the cap in force: $(cat "$d/ambassador.log")"
    # two connections held open: the cap is reached
    exec {held1}<>"/dev/tcp/127.0.0.2/$MC_PORT" {held2}<>"/dev/tcp/127.0.0.2/$MC_PORT"
    dk_wait 10 "2 connections open on mc/web" mc_active_is 2 || fail "open: $(mc_metric dokkaa_link_active_connections)"
    read -r rc ms < <(mc_try)
    echo "a third client, past --max-conns 2: curl exit status $rc after $ms ms"
    case $rc in 52|56) ;; *) fail "a client past the cap got curl exit status $rc (52/56: closed), after $ms ms" ;; esac
    [ "$ms" -lt 2000 ] || fail "a client past the cap was closed only after $ms ms"
    dk_wait 5 "the log to say the host's limit was reached" \
        grep -q "link port $MC_PORT: connection limit reached (2 on this host)" "$d/ambassador.log" ||
        fail "the log does not name the limit: $(tail -5 "$d/ambassador.log")"
    [ "$(mc_metric dokkaa_link_refused_total)" -ge 1 ] ||
        fail "the refused client is not counted: dokkaa_link_refused_total $(mc_metric dokkaa_link_refused_total)"
    # one ends: under the cap again, the next client is served
    exec {held1}>&-
    dk_wait 10 "1 connection open on mc/web" mc_active_is 1 || fail "open: $(mc_metric dokkaa_link_active_connections)"
    read -r rc ms < <(mc_try)
    assert_eq 0 "$rc" "curl exit status of a client under the cap again"
    exec {held2}>&-
    dk_stop "$d/ambassador.pid"
    e2e_delete_app mc
}
