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
        placed=$(dk_count "\"host\":\"h$i\"" cl_etcdctl get --prefix --print-value-only /apps/) || return 1
        running=$(dk_count . cl_docker "$i" ps -q --filter "label=dokkaa.cluster=$CL_NAME") || return 1
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
    [ "$(dk_count "\"h$3\"" cl_etcdctl get --prefix --print-value-only "/apps/$1/$2/instances/")" = 0 ]
}
# Every running container of APP, on every host: host, id and start time (a
# restarted container has another). Fails when an engine cannot be asked.
containers_of() {
    local i ids
    for i in $(seq 1 $CL_HOSTS); do
        ids=$(cl_docker "$i" ps -q --no-trunc --filter "label=dokkaa.cluster=$CL_NAME" --filter "label=dokkaa.app=$1") ||
            return 1
        [ -z "$ids" ] || cl_docker "$i" inspect --format "h$i {{.Id}} {{.State.StartedAt}}" $ids || return 1
    done
}
# The lease host i registered under (hex, as etcdctl takes it), and its TTL.
host_lease() {
    local l
    l=$(cl_etcdctl get "/hosts/h$1" -w fields | sed -n 's/^"Lease" : \([1-9][0-9]*\)$/\1/p') || return 1
    [ -n "$l" ] && printf '%x\n' "$l"
}
lease_ttl() { cl_etcdctl lease timetolive "$1" -w json | jq -er '.["granted-ttl"]'; }
# Host i still holds LEASE more than TTL seconds after T0: its conductor renewed it
# since, and whatever a wrong reaction to T0's event could have moved would have
# moved by then.
lease_outlived() { # I LEASE T0 TTL
    [ $(( $(date +%s) - $3 )) -gt "$4" ] && [ "$(host_lease "$1")" = "$2" ]
}

# README: `dokkaacfg status` shows, within seconds of a kill, nginx running on another
# host, and the dead host: not alive, its engine down, its etcd member unreachable.
status_shows_the_kill() { # DEAD NOW
    local out
    out=$(cl_cfg status --name "$CL_NAME") || fail "status: exit $?: $out" || return 1
    grep -Eq "^dummy/nginx/0 +h$2 +running " <<<"$out" || fail "status: nginx not running on h$2: $out" || return 1
    grep -Eq "^h$1 +10\.88\.$CL_NET\.$((10 + $1)) +no +[0-9]+ +engine down$" <<<"$out" ||
        fail "status: h$1 is not shown dead: $out" || return 1
    [ "$1" -gt 3 ] || grep -Eq "^h$1 +http://[0-9.:]+ +unreachable$" <<<"$out" ||
        fail "status: h$1's etcd member is not shown unreachable: $out"
}

test_01_seed_example_across_hosts() {
    cd ../../examples/nginx-and-crawler
    curl -L -XPUT -d value="`cat nginx.json`" http://$(cl_addr 1):4001/v2/keys/apps/dummy/nginx/manifest
    curl -L -XPUT --data-urlencode value="`cat crawler.json`" http://$(cl_addr 2):4001/v2/keys/apps/dummy/crawler/manifest
    cl_wait_converged dummy nginx 1 nginx
    cl_wait_converged dummy crawler 1
    dk_wait 60 "the crawler's log to show nginx's page" crawler_fetched_more_than 0
    # on an empty cluster the least loaded host for the second manifest is another
    # one than the first's (sched.h): the crawler reaches nginx across hosts
    local n c
    n=$(cl_host_of dummy nginx 0) c=$(cl_host_of dummy crawler 0)
    echo "nginx on h$n, crawler on h$c"
    [ -n "$n" ] && [ -n "$c" ] && [ "$n" != "$c" ] || fail "nginx (h$n) and the crawler (h$c) are not on two hosts"
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
    # the crawler lives on through the kill: only its link has to find nginx again
    [ "$(cl_host_of dummy crawler 0)" != "$h" ] || fail "the crawler shares h$h with nginx (test_01 put them apart)"
    t0=$(date +%s.%N)
    cl_kill_host "$h"
    dk_wait 60 "nginx to run on another host" runs_elsewhere dummy nginx 0 "$h"
    echo "nginx moved from h$h to h$(cl_host_of dummy nginx 0) in $(echo "$(date +%s.%N) - $t0" | bc) s"
    status_shows_the_kill "$h" "$(cl_host_of dummy nginx 0)"
    before=$(crawler_fetches)
    dk_wait 60 "the crawler to be served again" crawler_fetched_more_than "$before"
    echo "crawler served again $(echo "$(date +%s.%N) - $t0" | bc) s after the kill"
    cl_heal
    cl_wait_converged dummy nginx 1 nginx # the healed host let go of its old nginx
    cl_delete_app dummy # the last test of the seed's example
    dk_wait 60 "dummy to go" eval 'running_is dummy nginx 0 && running_is dummy crawler 0'
}

# Does host i's etcd member lead? (asked of that member alone, briefly)
etcd_leads() {
    ETCDCTL_API=3 etcdctl --dial-timeout=1s --command-timeout=2s --endpoints="http://$(cl_addr "$1"):2379" \
        endpoint status -w json 2>/dev/null | jq -e '.[0].Status.header.member_id == .[0].Status.leader' >/dev/null
}
etcd_leader_host() { local i; for i in 1 2 3; do etcd_leads "$i" && { echo "$i"; return 0; }; done; return 1; }
leader_elsewhere() { local i; for i in 1 2 3; do [ "$i" = "$1" ] || ! etcd_leads "$i" || return 0; done; return 1; }
host_gone() { local out; out=$(cl_etcdctl get --keys-only "/hosts/h$1") && [ -z "$out" ]; }
# How many times the live conductors' audits (audit.h) logged revoking h$1's lease.
audit_revocations() { # HOST
    local i n sum=0
    for i in 1 2 3; do
        [ "$i" != "$1" ] || continue
        n=$(dk_count "host h$1: no renewal of its lease since etcd elected a new leader" \
            cat "/var/lib/$CL_NAME/h$i/conductor.log") || return 1
        sum=$((sum + n))
    done
    echo "$sum"
}

# etcd's new leader restarts every lease's TTL; the host that died with the old
# leader must not be given a second one. A live conductor's audit (audit.h) finds
# it unrenewed in the new term and revokes its lease, which moves its instance.
test_045_etcd_leaders_host_killed_is_found_dead_without_a_second_ttl() {
    local l t0 n
    cl_set lead web '{"image": "dockerfile/nginx", "scale": 3, "services": {"web": 80}}'
    cl_wait_converged lead web 3 web
    l=$(etcd_leader_host) || fail "no etcd member leads"
    n=$(audit_revocations "$l")
    t0=$(date +%s.%N)
    cl_kill_host "$l" || fail "could not kill h$l"
    dk_wait 60 "h$l's /hosts/ entry to go" host_gone "$l"
    echo "h$l (etcd's leader) gone from /hosts/ $(echo "$(date +%s.%N) - $t0" | bc) s after the kill"
    grep -h "etcd elected a new leader\|host lease:\|/alive/\|audit\|lease revoke" /var/lib/"$CL_NAME"/h*/conductor.log | tail -8
    [ "$(audit_revocations "$l")" -gt "$n" ] ||
        fail "no conductor's audit revoked h$l's lease: it waited for the TTL etcd restarted"
    dk_wait 60 "lead/web's instance to run elsewhere" nothing_placed_on lead web "$l"
    cl_heal
    cl_wait_converged lead web 3 web
    cl_delete_app lead
}

# A blip of the etcd leader's host, long enough for the others to elect a new
# leader but shorter than the lease TTL, moves and restarts nothing: the host
# renews in the new term before any audit is due.
test_046_etcd_leaders_host_cut_off_shorter_than_the_ttl_moves_nothing() {
    local l lease ttl before t0 t1 n rc
    cl_set blip web '{"image": "dockerfile/nginx", "scale": 3, "services": {"web": 80}}'
    cl_wait_converged blip web 3 web
    before=$(containers_of blip) || fail "could not list blip's containers"
    l=$(etcd_leader_host) || fail "no etcd member leads"
    lease=$(host_lease "$l") && ttl=$(lease_ttl "$lease") || fail "no lease for h$l"
    n=$(audit_revocations "$l")
    t0=$(date +%s)
    ip link set "$CL_NAME-h$l" down
    # At most 3 s, well inside the TTL: should no election have ended by then (a
    # slow machine), the blip is still one that must move nothing.
    rc=0
    dk_wait 3 "another member to lead" leader_elsewhere "$l" || rc=$?
    ip link set "$CL_NAME-h$l" up
    t1=$(date +%s)
    echo "h$l cut off for about $((t1 - t0)) s; a new etcd leader elected meanwhile: $([ "$rc" = 0 ] && echo yes || echo no)"
    dk_wait $((ttl * 2 + 20)) "h$l to keep lease $lease $((ttl * 2)) s past the blip" \
        lease_outlived "$l" "$lease" "$t1" "$((ttl * 2))"
    assert_eq "$n" "$(audit_revocations "$l")" "audits that revoked h$l's lease after a blip shorter than the TTL"
    assert_eq "$before" "$(containers_of blip)" "blip's containers after h$l's blip"
    cl_converged blip web 3 web || fail "blip is no longer 3 running and announced instances"
    cl_delete_app blip
    dk_wait 60 "blip to go" running_is blip web 0
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

# New work is done, and what ran goes on running: the same containers, never
# restarted, still announced, and h3 keeps its lease through the two other members.
test_06_one_etcd_member_down_changes_nothing_for_users() {
    local before lease ttl t0
    cl_set keep web '{"image": "dockerfile/nginx", "scale": 3, "services": {"web": 80}}'
    cl_wait_converged keep web 3 web
    before=$(containers_of keep)
    lease=$(host_lease 3)
    ttl=$(lease_ttl "$lease")
    t0=$(date +%s)
    kill "$(cat "/run/$CL_NAME/h3/etcd.pid")"
    dk_wait 20 "h3's etcd to stop" etcd_down 3
    cl_set member web '{"image": "dockerfile/nginx", "scale": 3, "services": {"web": 80}}'
    cl_wait_converged member web 3 web
    dk_wait $((ttl + 20)) "h3 to keep its lease $ttl s past the member's end" lease_outlived 3 "$lease" "$t0" "$ttl"
    assert_eq "$before" "$(containers_of keep)" "keep's containers while h3's etcd member was down"
    cl_converged keep web 3 web || fail "keep is no longer 3 running and announced instances"
    cl_heal
    cl_wait_converged keep web 3 web
    assert_eq "$before" "$(containers_of keep)" "keep's containers after h3's member came back"
    cl_delete_app member
    cl_delete_app keep
    dk_wait 60 "member and keep to go" eval 'running_is member web 0 && running_is keep web 0'
}

engine_down() { ! cl_docker "$1" version >/dev/null 2>&1; }
# The address of APP/SERVICE's instance on host i, from its announcement.
announced_on() { # APP SERVICE I
    cl_etcdctl get --prefix "/services/$1/$2/" | grep -A1 "@h$3\$" | tail -1 | jq -r '"\(.addr):\(.port)"'
}

# A killed engine (a crash; on real machines also a docker upgrade's restart)
# leaves its containers running, and takes them back when it returns: the engines
# run with live-restore. Without it the engine came back and restarted every
# container of its host (the fault campaign's dockerd kills), failing their requests.
test_066_killed_engine_leaves_its_containers_running() {
    local before addr lease t0
    cl_set engine web '{"image": "dockerfile/nginx", "scale": 3, "services": {"web": 80}}'
    cl_wait_converged engine web 3 web
    before=$(containers_of engine) || fail "cannot list engine's containers"
    grep -q "^h2 " <<<"$before" || fail "no instance on h2: $before"
    addr=$(announced_on engine web 2)
    lease=$(host_lease 2)
    t0=$(date +%s)
    kill -9 "$(cat "/run/$CL_NAME/h2/dockerd.pid")"
    dk_wait 20 "h2's engine to stop" engine_down 2
    curl -sf --max-time 5 "http://$addr/" | grep -q "Welcome to nginx" ||
        fail "h2's instance at $addr does not answer while its engine is down"
    # the engine stays down a second more (the fault, not a wait for a condition),
    # as a crash that a supervisor repairs: back within the lease TTL (5 s), h2 must
    # keep its lease. Its conductor saw the engine back only at its next pass, up to
    # 10 s later, and gave the lease up: the cluster moved h2's instance, and h2
    # removed its own copy, which was still running.
    sleep 1
    cl_heal
    dk_wait 30 "h2 to hold its lease 10 s past the kill" lease_outlived 2 "$lease" "$((t0 + 10))" 0 ||
        fail "h2 gave its lease up while its engine was restarted"
    cl_wait_converged engine web 3 web
    assert_eq "$before" "$(containers_of engine)" "engine's containers (id, start time) after h2's engine came back"
    curl -sf --max-time 5 "http://$addr/" | grep -q "Welcome to nginx" ||
        fail "h2's instance at $addr does not answer after its engine came back"
    cl_delete_app engine
    dk_wait 60 "engine to go" running_is engine web 0
}

test_065_lost_quorum_leaves_containers_running_and_converges_after() {
    local before after
    cl_set quorum web '{"image": "dockerfile/nginx", "scale": 3, "services": {"web": 80}}'
    cl_wait_converged quorum web 3 web
    before=$(containers_of quorum)
    kill "$(cat "/run/$CL_NAME/h2/etcd.pid")" "$(cat "/run/$CL_NAME/h3/etcd.pid")"
    dk_wait 20 "quorum to be lost" etcd_down 2
    # Without quorum no lease can be renewed; nothing may be stopped meanwhile.
    # Two lease TTLs is the time in which a wrong reaction would have happened.
    sleep 10
    after=$(containers_of quorum)
    assert_eq "$before" "$after" "containers while etcd had no quorum"
    cl_heal
    cl_set quorum web '{"image": "dockerfile/nginx", "scale": 4, "services": {"web": 80}}'
    cl_wait_converged quorum web 4 web
    cl_delete_app quorum
}

# The rebalance's client: a line per request, "ok SECONDS" or "FAIL SECONDS".
RB_CLIENT='{"image": "dockerfile/ubuntu", "links": ["web"], "command": ["bash", "-c", "while true; do if curl -sf -m 2 -o /dev/null http://$SERVICE_WEB_ADDR:$SERVICE_WEB_PORT/; then printf \"ok %(%s)T\\n\" -1; else printf \"FAIL %(%s)T\\n\" -1; fi; sleep 0.05; done"]}'

# rb_follow HOST FILE: all that rb---client on HOST writes, from its start until it
# is removed (a moved client's old container is), into FILE; the follower's pid in
# $RB_D/follower.HOST, stopped by rb_end if it has not ended.
rb_follow() {
    docker -H "unix:///run/$CL_NAME/h$1/docker.sock" logs -f rb---client > "$2" 2>&1 &
    echo $! > "$RB_D/follower.$1"
}
rb_end() { # (an EXIT trap: under set -e, a failing command here would fail the test)
    local f
    for f in "$RB_D"/follower.*; do
        [ ! -e "$f" ] || kill "$(cat "$f")" 2>/dev/null || : # ended already with its container
    done
    rm -rf "$RB_D"
}
rb_follower_ended() { ! kill -0 "$(cat "$RB_D/follower.$1")" 2>/dev/null; }
# The client's lines from its first "ok" on (before, the service may not run yet).
rb_lines() { cat "$RB_D"/log.* | sed -n '/^ok/,$p'; }
rb_oks_after() { rb_lines | awk -v t="$1" '$1 == "ok" && $2 > t { n++ } END { exit !n }'; }

# All of the client's requests count, those of its container on h1 and, should the
# rebalance move it, those of its new one: none may fail, and they must have run
# all along, at least one a second on average during the rebalance and some after.
test_07_rebalance_moves_instances_without_downtime() {
    local h0 h1 t0 t1 oks fails during
    RB_D=$(mktemp -d /tmp/dokkaa-rb.XXXXXX)
    trap rb_end EXIT
    for i in 2 3; do kill "$(cat "/run/$CL_NAME/h$i/conductor.pid")"; done
    dk_wait 30 "h2 and h3 to leave" hosts_alive 1
    cl_set rb web '{"image": "dockerfile/nginx", "scale": 6, "services": {"web": 80}}'
    cl_set rb client "$RB_CLIENT"
    cl_wait_converged rb web 6 web
    cl_wait_converged rb client 1
    cl_heal # h2 and h3 come back, empty: nothing moves without cause
    assert_eq 6 "$(cl_running_on 1 rb web)" "instances on h1 before rebalance"
    h0=$(cl_host_of rb client 0)
    rb_follow "$h0" "$RB_D/log.before"
    dk_wait 30 "the client's requests to flow" rb_oks_after 0
    t0=$(date +%s)
    cl_cfg --etcd "$CL_ETCD" rebalance
    dk_wait 30 "an even load, and the old host to let go" balanced
    cl_wait_converged rb web 6 web # every moved instance announced by its new host
    cl_wait_converged rb client 1
    t1=$(date +%s)
    h1=$(cl_host_of rb client 0)
    if [ "$h1" != "$h0" ]; then
        echo "the client moved from h$h0 to h$h1"
        dk_wait 30 "the old client's log to end with its container" rb_follower_ended "$h0"
        rb_follow "$h1" "$RB_D/log.after"
    fi
    dk_wait 30 "requests after the rebalance" rb_oks_after "$t1"
    oks=$(rb_lines | grep -c '^ok ')
    fails=$(rb_lines | grep -c '^FAIL ' || :)
    during=$(rb_lines | awk -v a="$t0" -v b="$t1" '$1 == "ok" && $2 >= a && $2 <= b { n++ } END { print n + 0 }')
    echo "client requests: $oks ok, $fails failed; $during ok in the $((t1 - t0 + 1)) s of the rebalance"
    assert_eq 0 "$fails" "failed requests during the rebalance"
    [ "$during" -ge $((t1 - t0 + 1)) ] || fail "too few requests ran during the rebalance to tell: $during"
    cl_delete_app rb
    dk_wait 60 "rb to go" eval 'running_is rb web 0 && running_is rb client 0'
}

# The last test: the fourth host it adds is one the tests before do not count.
# A second up changes nothing; a larger --scale adds a host, which gets instances of
# new work while running ones stay where they are (README, Rebalancing).
test_90_up_again_changes_nothing_and_a_larger_scale_adds_a_host() {
    local before out
    cl_set stay web '{"image": "dockerfile/nginx", "scale": 3, "services": {"web": 80}}'
    cl_wait_converged stay web 3 web
    before=$(containers_of stay)
    out=$(cl_cfg up --provider=local --scale=3 --name "$CL_NAME")
    grep -q "nothing changed" <<<"$out" || fail "a second up changed something: $out"
    cl_cfg up --provider=local --scale=4 --name "$CL_NAME" > /dev/null
    dk_wait 30 "h4 to register" registered 4
    CL_HOSTS=4 # in this test's shell only
    cl_set late web '{"image": "dockerfile/nginx", "scale": 4, "services": {"web": 80}}'
    cl_wait_converged late web 4 web
    assert_eq 1 "$(cl_running_on 4 late web)" "instances of the new manifest on h4, the host that joined"
    assert_eq "$before" "$(containers_of stay)" "the containers that ran before h4 joined"
    cl_delete_app stay
    cl_delete_app late
    dk_wait 60 "stay and late to go" eval 'running_is stay web 0 && running_is late web 0'
}
