# Rolling updates across 3 hosts: no failed request through a link, and a rollout
# whose scheduler dies halfway is carried on by the next one within its bounds.

CLR_WEB='{"image": "dockerfile/nginx", "scale": %d, "services": {"web": 80},
          "health": {"http": "/", "interval": 1}, "stop_grace": 2 %s}'
CLR_CLIENT='{"image": "dockerfile/ubuntu", "links": ["web"], "stop_grace": 0, "command": ["bash", "-c",
  "while true; do curl -sf -m 5 -o /dev/null http://$SERVICE_WEB_ADDR:$SERVICE_WEB_PORT/ && echo ok || echo FAIL; done"]}'

clr_at() { # APP NAME REV STATE
    [ "$(cl_etcdctl get --print-value-only "/apps/$1/$2/rollout" | jq -r '"\(.revision) \(.state)"')" = "$3 $4" ]
}
clr_updated_at_least() { # APP NAME REV N: revision REV's rollout has updated N or more
    [ "$(cl_etcdctl get --print-value-only "/apps/$1/$2/rollout" |
        jq -r --argjson rev "$3" 'if .revision == $rev then .updated else -1 end')" -ge "$4" ]
}
# The client's lines from its first "ok" on (before, the service may not run yet).
clr_client_log() { cl_docker "$(cl_host_of "$1" client 0)" logs "$1---client" 2>&1 | sed -n '/^ok/,$p'; }
clr_client_oks_above() { [ "$(dk_count '^ok' clr_client_log "$1")" -gt "$2" ]; }
# Every container of APP/web on the live hosts (not SKIP), seed names and all;
# fails when the engine of a live host cannot be asked.
clr_names() { # APP [SKIP]
    local i out names=
    for i in $(seq 1 $CL_HOSTS); do
        [ "$i" = "${2:-}" ] && continue
        out=$(cl_docker "$i" ps -a --filter "label=dokkaa.cluster=$CL_NAME" --filter "label=dokkaa.app=$1" \
            --filter label=dokkaa.name=web --format '{{.Names}}') || return 1
        names+=$out$'\n'
    done
    grep . <<<"$names" | sort || : # grep exits 1 when there are none
}
clr_all_run_env() { # APP VALUE: every web container runs GREETING=VALUE
    local i c
    for i in $(seq 1 $CL_HOSTS); do
        for c in $(cl_docker "$i" ps -q --filter "label=dokkaa.app=$1" --filter label=dokkaa.name=web 2>/dev/null); do
            cl_docker "$i" inspect "$c" --format '{{join .Config.Env " "}}' | grep -q "GREETING=$2" || return 1
        done
    done
}

test_20_rolling_update_across_hosts_without_a_failed_request() {
    local oks fails
    cl_set ru web "$(printf "$CLR_WEB" 4 ', "env": {"GREETING": "one"}')"
    cl_set ru client "$CLR_CLIENT"
    cl_wait_converged ru web 4 web
    cl_wait_converged ru client 1
    dk_wait 60 "revision 1 to roll out" clr_at ru web 1 rolled-out
    dk_wait 30 "the client's requests to flow" clr_client_oks_above ru 0
    cl_set ru web "$(printf "$CLR_WEB" 4 ', "env": {"GREETING": "two"}')"
    dk_wait 120 "revision 2 to roll out" clr_at ru web 2 rolled-out
    cl_wait_converged ru web 4 web
    clr_all_run_env ru two || fail "not every instance runs revision 2"
    assert_eq "ru---web
ru---web---1
ru---web---2
ru---web---3" "$(clr_names ru)" "the seed's names at rest"
    oks=$(dk_count '^ok' clr_client_log ru)
    dk_wait 30 "more requests after the rollout" clr_client_oks_above ru "$oks"
    fails=$(dk_count FAIL clr_client_log ru)
    echo "client requests: $(dk_count '^ok' clr_client_log ru) ok, $fails failed"
    assert_eq 0 "$fails" "failed requests during the rolling update"
    cl_delete_app ru
}

# The bounds, sampled while the rollout runs: announced instances of live hosts
# never below scale - parallel - (what the dead host ran), containers of the
# manifest on live hosts never above scale + parallel. A moment when etcd or an
# engine could not be read (etcd electing a leader after the kill) is no sample;
# the test counts them.
clr_sample() { # APP DEAD OUT
    local keys containers dead
    while :; do
        if keys=$(dk_count "@" cl_etcdctl get --prefix --keys-only "/services/$1/web/" 2>/dev/null) &&
            dead=$(dk_count "@h$2$" cl_etcdctl get --prefix --keys-only "/services/$1/web/" 2>/dev/null) &&
            containers=$(dk_count . clr_names "$1" "$2" 2>/dev/null); then
            echo "$((keys - dead)) $containers" >> "$3"
        else
            echo "unread" >> "$3"
        fi
        sleep 0.2 # the sampling period
    done
}

clr_kill_mid_rollout() { # LEADER: change the manifest, kill the scheduler halfway
    local leader=$1
    cl_set mid web "$(printf "$CLR_WEB" 6 ', "env": {"GREETING": "two"}')" || return 1
    dk_wait 60 "the rollout to be halfway" clr_updated_at_least mid web 2 2 || return 1
    echo "killing h$leader, the scheduler, at $(date +%T) with $(cl_etcdctl get --print-value-only /apps/mid/web/rollout)"
    cl_kill_host "$leader" || return 1
    dk_wait 60 "another leader" leader_is_not "$leader" ||
        fail "leader: $(cl_etcdctl get --print-value-only /cluster/leader 2>&1)" || return 1
    dk_wait 120 "revision 2 to roll out under the new leader" clr_at mid web 2 rolled-out
}

test_21_scheduler_killed_mid_rollout_is_carried_on() {
    local scale=6 leader on_leader samples sampler min max nread nunread
    cl_set mid web "$(printf "$CLR_WEB" $scale ', "env": {"GREETING": "one"}')"
    cl_wait_converged mid web $scale web
    dk_wait 60 "revision 1 to roll out" clr_at mid web 1 rolled-out
    leader=$(cl_etcdctl get --print-value-only /cluster/leader | sed -n 's/.*"h\([0-9]\)".*/\1/p')
    on_leader=$(dk_count "\"host\":\"h$leader\"" cl_etcdctl get --prefix --print-value-only /status/mid/web/)
    samples=$(mktemp /tmp/dokkaa-samples.XXXXXX)
    clr_sample mid "$leader" "$samples" &
    sampler=$!
    local rc=0
    clr_kill_mid_rollout "$leader" || rc=$? # (set -e must not skip the sampler's end)
    kill "$sampler" 2>/dev/null
    wait "$sampler" 2>/dev/null || true
    [ "$rc" = 0 ] || { rm -f "$samples"; return 1; }
    min=$(awk '$1 != "unread" {print $1}' "$samples" | sort -n | head -1)
    max=$(awk '$1 != "unread" {print $2}' "$samples" | sort -n | tail -1)
    read -r nread nunread < <(awk '{ if ($1 == "unread") u++; else r++ } END { print r + 0, u + 0 }' "$samples")
    echo "samples: $nread ($nunread moments unread); announced on live hosts >= $min (bound $((scale - 1 - on_leader))); containers <= $max (bound $((scale + 1)))"
    rm -f "$samples"
    [ "$nread" -ge 20 ] || fail "only $nread samples could be read: the bounds are not shown"
    [ "$min" -ge $((scale - 1 - on_leader)) ] || fail "too few instances announced: $min"
    [ "$max" -le $((scale + 1)) ] || fail "too many containers: $max"
    clr_all_run_env mid two || fail "not every instance runs revision 2"
    [ "$(dk_count '\.next$' clr_names mid "$leader")" = 0 ] || fail "a next container is left"
    cl_heal
    cl_delete_app mid
}
