# Scheduling, linking and healing across 3 hosts.

# Lines of the crawler's log that show nginx's page.
crawler_fetches() {
    local h; h=$(cl_host_of dummy crawler 0)
    [ -n "$h" ] && cl_docker "$h" logs dummy---crawler 2>&1 | grep -c "Welcome to nginx" || echo 0
}

# Predicates for dk_wait (it calls them in this shell, functions and all).
crawler_fetched_more_than() { [ "$(crawler_fetches)" -gt "$1" ]; }
running_is() { [ "$(cl_running "$1" "$2")" = "$3" ]; }
# Every host runs as many containers as are placed on it, and no two hosts differ
# by more than one.
balanced() {
    local i placed running min=999 max=0
    for i in $(seq 1 $CL_HOSTS); do
        placed=$(cl_etcdctl get --prefix --print-value-only /apps/ | grep -c "\"host\":\"h$i\"" || true)
        running=$(cl_docker "$i" ps -q --filter "label=dokkaa.cluster=$CL_NAME" | grep -c . || true)
        [ "$placed" = "$running" ] || return 1
        [ "$placed" -lt "$min" ] && min=$placed
        [ "$placed" -gt "$max" ] && max=$placed
    done
    [ $((max - min)) -le 1 ]
}
registered() { cl_etcdctl get "/hosts/h$1" | grep -q addr; }
hosts_alive() { [ "$(cl_count_keys /hosts/)" = "$1" ]; }
etcd_down() { ! curl -s --max-time 1 "http://$(cl_addr "$1"):2379/health" >/dev/null; }
leader_is_not() {
    local now; now=$(cl_etcdctl get --print-value-only /cluster/leader | sed -n 's/.*"h\([0-9]\)".*/\1/p')
    [ -n "$now" ] && [ "$now" != "$1" ]
}
runs_elsewhere() { # APP NAME I HOST
    local h; h=$(cl_host_of "$1" "$2" "$3")
    [ -n "$h" ] && [ "$h" != "$4" ] &&
        cl_etcdctl get --print-value-only "/status/$1/$2/$3" | grep -q '"state":"running"'
}
nothing_placed_on() { # APP NAME HOST
    ! cl_etcdctl get --prefix --print-value-only "/apps/$1/$2/instances/" | grep -q "\"h$3\""
}

test_01_seed_example_across_hosts() {
    cd ../../examples/nginx-and-crawler
    curl -L -XPUT -d value="`cat nginx.json`" http://$(cl_addr 1):4001/v2/keys/apps/dummy/nginx/manifest
    curl -L -XPUT --data-urlencode value="`cat crawler.json`" http://$(cl_addr 2):4001/v2/keys/apps/dummy/crawler/manifest
    cl_wait_converged dummy nginx 1 nginx
    cl_wait_converged dummy crawler 1
    dk_wait 60 "the crawler's log to show nginx's page" crawler_fetched_more_than 0
    echo "nginx on h$(cl_host_of dummy nginx 0), crawler on h$(cl_host_of dummy crawler 0)"
    [ "$(cl_etcdctl get --print-value-only /cluster/leader | grep -c host)" = 1 ] || fail "no scheduler leader"
}

test_02_replicas_spread_two_per_host() {
    cl_set spread web '{"image": "dockerfile/nginx", "scale": 6, "services": {"web": 80}}'
    cl_wait_converged spread web 6 web
    for i in 1 2 3; do
        assert_eq 2 "$(cl_running_on $i spread web)" "instances on h$i"
    done
    cl_delete_app spread
    dk_wait 60 "spread to go" running_is spread web 0
}

test_03_killed_host_nginx_runs_elsewhere_and_crawler_is_served() {
    local h before t0
    h=$(cl_host_of dummy nginx 0)
    [ -n "$h" ] || fail "nginx has no host"
    [ "$(cl_host_of dummy crawler 0)" != "$h" ] || {
        # keep the crawler alive: move nothing, but kill a host that runs only nginx
        echo "crawler shares h$h with nginx: the crawler moves too"; }
    t0=$(date +%s.%N)
    cl_kill_host "$h"
    dk_wait 60 "nginx to run on another host" runs_elsewhere dummy nginx 0 "$h"
    echo "nginx moved from h$h to h$(cl_host_of dummy nginx 0) in $(echo "$(date +%s.%N) - $t0" | bc) s"
    before=$(crawler_fetches)
    dk_wait 60 "the crawler to be served again" crawler_fetched_more_than "$before"
    echo "crawler served again $(echo "$(date +%s.%N) - $t0" | bc) s after the kill"
    cl_heal
    cl_wait_converged dummy nginx 1 nginx # the healed host let go of its old nginx
}

test_04_cut_off_host_then_heal_gives_exactly_scale() {
    local h
    cl_set cut web '{"image": "dockerfile/nginx", "scale": 3, "services": {"web": 80}}'
    cl_wait_converged cut web 3 web
    h=3
    ip link set "$CL_NAME-h$h" down
    dk_wait 60 "h$h's instance to be placed elsewhere" nothing_placed_on cut web "$h"
    ip link set "$CL_NAME-h$h" up
    # The host comes back, finds its lease gone, registers anew and lets go of
    # what is no longer its own.
    dk_wait 60 "h$h to register again" registered "$h"
    cl_wait_converged cut web 3 web
    dk_wait 60 "exactly 3 instances" running_is cut web 3
    cl_delete_app cut
}

test_05_killed_scheduler_leader_is_replaced() {
    local leader
    leader=$(cl_etcdctl get --print-value-only /cluster/leader | sed -n 's/.*"h\([0-9]\)".*/\1/p')
    [ -n "$leader" ] || fail "no leader"
    kill -9 "$(cat "/run/$CL_NAME/h$leader/conductor.pid")"
    dk_wait 30 "another leader" leader_is_not "$leader"
    cl_set after web '{"image": "dockerfile/nginx", "scale": 2, "services": {"web": 80}}'
    cl_wait_converged after web 2 web
    cl_heal
    cl_delete_app after
}

test_06_one_etcd_member_down_changes_nothing_for_users() {
    kill "$(cat "/run/$CL_NAME/h3/etcd.pid")"
    dk_wait 20 "h3's etcd to stop" etcd_down 3
    cl_set member web '{"image": "dockerfile/nginx", "scale": 3, "services": {"web": 80}}'
    cl_wait_converged member web 3 web
    cl_heal
    cl_delete_app member
}

test_065_lost_quorum_leaves_containers_running_and_converges_after() {
    local before after
    cl_set quorum web '{"image": "dockerfile/nginx", "scale": 3, "services": {"web": 80}}'
    cl_wait_converged quorum web 3 web
    before=$(for i in 1 2 3; do cl_docker $i ps -q --filter label=dokkaa.app=quorum; done | sort)
    kill "$(cat "/run/$CL_NAME/h2/etcd.pid")" "$(cat "/run/$CL_NAME/h3/etcd.pid")"
    dk_wait 20 "quorum to be lost" etcd_down 2
    # Without quorum no lease can be renewed; nothing may be stopped meanwhile.
    # Two lease TTLs is the time in which a wrong reaction would have happened.
    sleep 10
    after=$(for i in 1 2 3; do cl_docker $i ps -q --filter label=dokkaa.app=quorum; done | sort)
    assert_eq "$before" "$after" "containers while etcd had no quorum"
    cl_heal
    cl_set quorum web '{"image": "dockerfile/nginx", "scale": 4, "services": {"web": 80}}'
    cl_wait_converged quorum web 4 web
    cl_delete_app quorum
}

test_07_rebalance_moves_instances_without_downtime() {
    local client_host fails
    for i in 2 3; do kill "$(cat "/run/$CL_NAME/h$i/conductor.pid")"; done
    dk_wait 30 "h2 and h3 to leave" hosts_alive 1
    cl_set rb web '{"image": "dockerfile/nginx", "scale": 6, "services": {"web": 80}}'
    cl_set rb client '{"image": "dockerfile/ubuntu", "command": ["bash", "-c", "while true; do curl -sf -m 2 -o /dev/null http://$SERVICE_WEB_ADDR:$SERVICE_WEB_PORT/ && echo ok || echo FAIL; sleep 0.05; done"], "links": ["web"]}'
    cl_wait_converged rb web 6 web
    cl_wait_converged rb client 1
    cl_heal # h2 and h3 come back, empty: nothing moves without cause
    assert_eq 6 "$(cl_running_on 1 rb web)" "instances on h1 before rebalance"
    cl_cfg --etcd "$CL_ETCD" rebalance
    dk_wait 30 "an even load, and the old host to let go" balanced
    cl_wait_converged rb web 6 web # every moved instance announced by its new host
    client_host=$(cl_host_of rb client 0)
    fails=$(cl_docker "$client_host" logs rb---client 2>&1 | grep -c FAIL || true)
    echo "client requests: $(cl_docker "$client_host" logs rb---client 2>&1 | grep -c ok) ok, $fails failed"
    assert_eq 0 "$fails" "failed requests during the rebalance"
    cl_delete_app rb
}

test_08_up_again_changes_nothing_and_a_larger_scale_adds_a_host() {
    cl_cfg up --provider=local --scale=3 --name "$CL_NAME" | grep -q "nothing changed" \
        || fail "a second up changed something"
    cl_cfg up --provider=local --scale=4 --name "$CL_NAME" > /dev/null
    dk_wait 30 "h4 to register" registered 4
}
