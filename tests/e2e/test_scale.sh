# Scaling, manifest changes, and what happens to containers that crash.

WEB='{"image": "dockerfile/nginx", "scale": %d, "services": {"web": 80}}'

test_10_scale_1_3_0() {
    e2e_set scale web "$(printf "$WEB" 1)"
    e2e_wait_converged scale web 1 web
    e2e_set scale web "$(printf "$WEB" 3)"
    e2e_wait_converged scale web 3 web
    assert_eq "scale---web
scale---web---1
scale---web---2" "$(e2e_containers scale web)" "container names"
    e2e_set scale web "$(printf "$WEB" 0)"
    e2e_wait_converged scale web 0 web
    e2e_delete_app scale
    dk_wait 30 "scale's keys to go" e2e_none /apps/scale/ /status/scale/ /services/scale/ /links/scale/
}

test_11_manifest_change_replaces_containers() {
    local before after
    e2e_set change web "$(printf "$WEB" 2)"
    e2e_wait_converged change web 2 web
    before=$(docker ps -q --filter label=dokkaa.app=change | sort)
    e2e_set change web '{"image": "dockerfile/nginx", "scale": 2, "services": {"web": 80}, "env": {"GREETING": "hi"}}'
    dk_wait 60 "both containers to be replaced" sh -c \
        "[ \$(docker ps --filter label=dokkaa.app=change --format '{{.ID}} {{.Names}}' | grep -c .) = 2 ] &&
         ! docker ps -q --filter label=dokkaa.app=change | grep -qF '$(echo $before | tr ' ' '\n' | head -1)' &&
         ! docker ps -q --filter label=dokkaa.app=change | grep -qF '$(echo $before | tr ' ' '\n' | tail -1)'"
    e2e_wait_converged change web 2 web
    docker inspect change---web---1 --format '{{join .Config.Env " "}}' | grep -q GREETING=hi \
        || fail "the new container lacks the new env"
    after=$(docker ps -q --filter label=dokkaa.app=change | sort)
    [ "$before" != "$after" ] || fail "containers were not replaced"
    e2e_delete_app change
}

test_12_crashed_container_is_restarted() {
    local pid started
    e2e_set crash web "$(printf "$WEB" 1)"
    e2e_wait_converged crash web 1 web
    started=$(docker inspect crash---web --format '{{.State.StartedAt}}')
    pid=$(docker inspect crash---web --format '{{.State.Pid}}')
    kill -9 "$pid"
    dk_wait 60 "crash---web to run again" sh -c \
        "[ \"\$(docker inspect crash---web --format '{{.State.Running}} {{.State.StartedAt}}')\" != 'true $started' ] &&
         [ \"\$(docker inspect crash---web --format '{{.State.Running}}')\" = true ]"
    e2e_wait_converged crash web 1 web
    e2e_delete_app crash
}

# README: a crashed container is restarted by the engine (restart policy
# unless-stopped), even while the conductor is down; back, the conductor adopts it.
running_and_started_other_than() { # CONTAINER STARTED-AT
    local s
    s=$(docker inspect "$1" --format '{{.State.Running}} {{.State.StartedAt}}') || return 1
    [ "${s%% *}" = true ] && [ "${s#* }" != "$2" ]
}
test_15_crash_while_the_conductor_is_down_is_restarted_by_the_engine() {
    local id started
    e2e_set down web "$(printf "$WEB" 1)"
    e2e_wait_converged down web 1 web
    id=$(docker inspect down---web --format '{{.Id}}')
    started=$(docker inspect down---web --format '{{.State.StartedAt}}')
    e2e_stop_conductor
    trap 'dk_alive "$E2E_ROOT/conductor.pid" || e2e_start_conductor' EXIT # the next tests need it
    kill -9 "$(docker inspect down---web --format '{{.State.Pid}}')"
    dk_wait 30 "the engine to restart down---web" running_and_started_other_than down---web "$started"
    ! dk_alive "$E2E_ROOT/conductor.pid" || fail "the conductor was running"
    e2e_start_conductor
    e2e_wait_converged down web 1 web
    assert_eq "$id" "$(docker inspect down---web --format '{{.Id}}')" "the container the conductor finds (adopted, not replaced)"
    e2e_delete_app down
    dk_wait 60 "down's container to go" e2e_no_containers label=dokkaa.app=down
}

# The restarted conductor takes over its previous run's lease, so nothing moves; it
# also keeps leading under that lease (a bug deleted /cluster/leader as a stale
# announcement of the previous run, and the scheduler was elected anew).
test_13_conductor_restart_adopts_its_containers() {
    local before after leader_before leader_after
    e2e_set adopt web "$(printf "$WEB" 2)"
    e2e_wait_converged adopt web 2 web
    before=$(docker ps -q --filter label=dokkaa.app=adopt | sort)
    leader_before=$(e2e_etcdctl get -w json /cluster/leader | jq -r '.kvs[0].create_revision')
    e2e_stop_conductor
    e2e_start_conductor
    e2e_wait_converged adopt web 2 web
    after=$(docker ps -q --filter label=dokkaa.app=adopt | sort)
    assert_eq "$before" "$after" "the same containers after a restart"
    leader_after=$(e2e_etcdctl get -w json /cluster/leader | jq -r '.kvs[0].create_revision')
    assert_eq "$leader_before" "$leader_after" "the same leader key after a restart"
    e2e_delete_app adopt
}

kill_containers() { dk_count . docker ps -aq --filter label=dokkaa.app=kill; }
kill_containers_at_least() { [ "$(kill_containers)" -ge "$1" ]; }

# Killed when it has made some of the containers and not all (20, 8 at a time): the
# next conductor finds them, adopts them and makes only the rest.
test_14_kill9_during_convergence_gives_exactly_scale() {
    local partial
    e2e_set kill web "$(printf "$WEB" 20)"
    dk_wait 60 "the first containers to appear" kill_containers_at_least 1
    kill -9 "$(cat "$E2E_ROOT/conductor.pid")"
    partial=$(kill_containers)
    echo "containers when the conductor died: $partial of 20"
    [ "$partial" -ge 1 ] && [ "$partial" -lt 20 ] ||
        fail "$partial of 20 containers when the conductor was killed: not in the middle of its work"
    e2e_start_conductor
    e2e_wait_converged kill web 20 web
    assert_eq 20 "$(kill_containers)" "containers (no duplicates)"
    e2e_delete_app kill
    dk_wait 60 "kill's containers to go" e2e_no_containers label=dokkaa.app=kill
}
