# Safe deploys on one host: health checks gate the links, a changed manifest rolls
# out start-first in batches without a failed request, a bad revision is rolled back
# without stopping a healthy instance, and revisions are kept.

# A web service with an HTTP health check; %s is extra fields.
ROLL_WEB='{"image": "dockerfile/nginx", "scale": %d, "services": {"web": 80},
           "health": {"http": "/", "interval": 1}, "stop_grace": 2 %s}'
# A client that sends requests through its link without pause and prints one
# line per request: "ok" or "FAIL <curl's code>".
ROLL_CLIENT='{"image": "dockerfile/ubuntu", "links": ["web"], "stop_grace": 0, "command": ["/bin/bash", "-c",
  "while true; do c=$(curl -s -o /dev/null -w %{http_code} --max-time 5 http://$SERVICE_WEB_ADDR:$SERVICE_WEB_PORT/); [ \"$c\" = 200 ] && echo ok || echo FAIL $c; done"]}'

roll_rollout() { e2e_etcdctl get --print-value-only "/apps/$1/$2/rollout"; }
roll_field() { roll_rollout "$1" "$2" | jq -r ".$3"; }
# The rollout of APP/NAME reached STATE at revision REV.
roll_at() { [ "$(roll_rollout "$1" "$2" | jq -r '"\(.revision) \(.state)"')" = "$3 $4" ]; }
roll_revision() { e2e_etcdctl get --print-value-only "/revisions/$1/$2/$3" | jq -r ".$4"; }
roll_outcome_is() { [ "$(roll_revision "$1" "$2" "$3" outcome)" = "$4" ]; }
roll_announced() { [ "$(e2e_count_keys "/services/$1/$2/")" = "$3" ]; }
roll_ids() { docker ps -q --no-trunc --filter "label=dokkaa.app=$1" --filter "label=dokkaa.name=$2" | sort; }

# The client's lines from its first "ok" on (before, the service may not run yet).
# Fails when the log cannot be read (docker's error on stderr).
roll_client_log() {
    local log
    log=$(docker logs "$1---client" 2>&1) || { echo "$log" >&2; return 1; }
    sed -n '/^ok/,$p' <<<"$log"
}
roll_client_oks_above() { [ "$(dk_count '^ok' roll_client_log "$1")" -gt "$2" ]; }

roll_update() { # APP SCALE: a rolling update under load, without a failed request
    local app=$1 scale=$2 before oks names
    e2e_set "$app" web "$(printf "$ROLL_WEB" "$scale" '')"
    e2e_set "$app" client "$ROLL_CLIENT"
    e2e_wait_converged "$app" web "$scale" web
    dk_wait 60 "revision 1 to roll out" roll_at "$app" web 1 rolled-out
    dk_wait 60 "the client's requests to flow" roll_client_oks_above "$app" 0
    before=$(roll_ids "$app" web)

    e2e_set "$app" web "$(printf "$ROLL_WEB" "$scale" ', "env": {"GREETING": "hi"}')"
    dk_wait 120 "revision 2 to roll out" roll_at "$app" web 2 rolled-out
    e2e_wait_converged "$app" web "$scale" web
    names=$(for i in $(seq 0 $((scale - 1))); do names_of "$app" "$i"; done)
    assert_eq "$names" "$(e2e_containers "$app" web)" "the seed's names at rest"
    for c in $names; do
        docker inspect "$c" --format '{{join .Config.Env " "}}' | grep -q GREETING=hi \
            || fail "$c does not run revision 2"
        [ "$(docker inspect "$c" --format '{{.HostConfig.RestartPolicy.Name}}')" = unless-stopped ] \
            || fail "$c lost its restart policy"
    done
    [ -z "$(comm -12 <(echo "$before") <(roll_ids "$app" web))" ] || fail "an old container survived"
    oks=$(dk_count '^ok' roll_client_log "$app")
    dk_wait 30 "more requests after the rollout" roll_client_oks_above "$app" "$oks"
    echo "client requests: $(dk_count '^ok' roll_client_log "$app") ok, $(dk_count FAIL roll_client_log "$app") failed"
    assert_eq 0 "$(dk_count FAIL roll_client_log "$app")" "failed requests through the link"
    assert_eq rolled-out "$(roll_revision "$app" web 1 outcome)" "revision 1's outcome"
    assert_eq rolled-out "$(roll_revision "$app" web 2 outcome)" "revision 2's outcome"
    e2e_delete_app "$app"
}
names_of() { if [ "$2" = 0 ]; then echo "$1---web"; else echo "$1---web---$2"; fi; }

test_60_rolling_update_without_a_failed_request() { roll_update roll 4; }
# One instance: the link must never be without it (the new one is announced first).
test_64_single_instance_rolls_without_a_failed_request() { roll_update single 1; }

# Three kinds of bad revision; each is rolled back, and no old instance stopped.
roll_bad() { # APP BAD-MANIFEST WHY-PATTERN
    local app=$1 before
    e2e_set "$app" web "$(printf "$ROLL_WEB" 2 '')"
    e2e_wait_converged "$app" web 2 web
    dk_wait 60 "revision 1 of $app/web to roll out" roll_at "$app" web 1 rolled-out
    before=$(roll_ids "$app" web)
    e2e_set "$app" web "$2"
    dk_wait 60 "revision 2 of $app/web to be rolled back" roll_outcome_is "$app" web 2 rolled-back \
        || return 1
    roll_revision "$app" web 2 reason | grep -q "$3" \
        || fail "the reason does not say why: $(roll_revision "$app" web 2 reason)"
    dk_wait 60 "the rollback (revision 3) to finish" roll_at "$app" web 3 rolled-out
    assert_eq true "$(roll_field "$app" web rollback)" "revision 3 is the automatic rollback"
    assert_eq "$before" "$(roll_ids "$app" web)" "the old containers (none may have stopped)"
    e2e_etcdctl get --print-value-only "/apps/$app/web/manifest" | grep -q '"deadline"' \
        && fail "the manifest was not restored"
    e2e_wait_converged "$app" web 2 web
    e2e_delete_app "$app"
}

test_61_bad_revisions_are_rolled_back() {
    local common='"scale": 2, "services": {"web": 80}, "update": {"deadline": 8}'
    roll_bad badimage "{\"image\": \"127.0.0.1:9/dokkaa/missing\", $common}" 'refused\|pull\|missing' &&
        roll_bad badexit "{\"image\": \"dockerfile/nginx\", \"command\": [\"/bin/false\"], $common}" 'exited' &&
        roll_bad badhealth "{\"image\": \"dockerfile/nginx\", $common,
            \"health\": {\"http\": \"/nothing-here\", \"interval\": 1}}" 'not healthy within 8 s'
}

test_62_on_failure_pause_stops_where_it_is() {
    local before
    e2e_set pause web "$(printf "$ROLL_WEB" 2 '')"
    dk_wait 60 "revision 1 to roll out" roll_at pause web 1 rolled-out
    before=$(roll_ids pause web)
    e2e_set pause web "$(printf "$ROLL_WEB" 2 ', "command": ["/bin/false"], "update": {"on_failure": "pause"}')"
    dk_wait 60 "the rollout to pause" roll_at pause web 2 paused
    roll_field pause web reason | grep -q exited || fail "no reason: $(roll_field pause web reason)"
    assert_eq "$before" "$(roll_ids pause web)" "the old containers"
    [ "$(e2e_count_keys /services/pause/web/)" = 2 ] || fail "the old instances are not announced"
    e2e_delete_app pause
}

test_63_health_check_withdraws_and_restores_an_instance() {
    e2e_set flap web "$(printf "$ROLL_WEB" 1 '')"
    e2e_wait_converged flap web 1 web
    docker exec flap---web mv /var/www/html /var/www/off # GET / now answers 404
    dk_wait 30 "the failing instance to be withdrawn" roll_announced flap web 0
    e2e_etcdctl get --print-value-only /status/flap/web/0 | grep -q '"health":"unhealthy"' \
        || fail "the status does not say unhealthy"
    docker exec flap---web mv /var/www/off /var/www/html
    dk_wait 30 "the instance to be announced again" roll_announced flap web 1
    e2e_etcdctl get --print-value-only /status/flap/web/0 | grep -q '"health":"healthy"' \
        || fail "the status does not say healthy"
    e2e_delete_app flap
}

# exec and tcp checks: a new instance is announced only once its check passes.
test_65_exec_and_tcp_checks_gate_the_announcement() {
    e2e_set checks exec '{"image": "dockerfile/nginx", "services": {"ex": 80},
        "health": {"exec": ["test", "-f", "/tmp/ready"], "interval": 1}}'
    e2e_set checks tcp '{"image": "dockerfile/nginx", "services": {"tc": 80}, "health": {"tcp": true}}'
    dk_wait 30 "the tcp-checked instance to be announced" roll_announced checks tc 1
    dk_wait 30 "checks---exec to run" sh -c "docker exec checks---exec true"
    e2e_etcdctl get --print-value-only /status/checks/exec/0 | grep -q '"health":"starting"' \
        || fail "the exec-checked instance is not starting: $(e2e_etcdctl get --print-value-only /status/checks/exec/0)"
    roll_announced checks ex 0 || fail "announced before its check passed"
    docker exec checks---exec touch /tmp/ready
    dk_wait 30 "the exec-checked instance to be announced" roll_announced checks ex 1
    e2e_delete_app checks
}
