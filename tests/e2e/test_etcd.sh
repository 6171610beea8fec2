# etcd going away and coming back, and bad values in it.

test_20_bad_manifest_in_etcd_gets_error_status_others_run() {
    e2e_etcdctl put /apps/bad/web/manifest '{"image": "dockerfile/nginx", "scale": "3"}' >/dev/null
    dk_wait 30 "the bad manifest's status" sh -c \
        "ETCDCTL_API=3 etcdctl --endpoints=$E2E_ETCD get --print-value-only /status/bad/web/0 | grep -q 'scale: must be an integer 0..1000, got'"
    e2e_etcdctl get --print-value-only /status/bad/web/0 | grep -q '"state":"invalid"' || fail "state is not invalid"
    grep -q '/apps/bad/web/manifest: scale' "$E2E_ROOT/conductor.log" || fail "the error is not logged with its key"
    e2e_etcdctl put /apps/bad/json/manifest '{"image": ' >/dev/null
    e2e_set good web '{"image": "dockerfile/nginx", "services": {"web": 80}}'
    e2e_wait_converged good web 1 web
    assert_eq 0 "$(dk_count . docker ps -aq --filter label=dokkaa.app=bad)" "no container for bad manifests"
    e2e_etcdctl del --prefix /apps/bad/ >/dev/null
    e2e_delete_app good
}

test_21_builder_rejects_bad_manifest_and_stores_nothing() {
    local out
    out=$(curl -s -w ' %{http_code}' -XPUT --data-urlencode 'value={"image": "x", "scal": 1}' \
        "$E2E_BUILDER/v2/keys/apps/rej/web/manifest")
    [[ "$out" == *'unknown field \"scal\"'*' 400' ]] || fail "no precise 400: $out"
    out=$(curl -s -w ' %{http_code}' -XPUT --data-urlencode 'value={"image": "x"}' \
        "$E2E_BUILDER/v2/keys/apps/Bad_App/web/manifest")
    [[ "$out" == *' 400' ]] || fail "bad app name accepted: $out"
    assert_eq 0 "$(e2e_count_keys /apps/rej/)" "nothing stored"
    assert_eq 0 "$(e2e_count_keys /apps/Bad_App/)" "nothing stored"
}

test_22_untrusted_network_cannot_write_or_read() {
    local gw out
    gw=$(docker network inspect bridge --format '{{(index .IPAM.Config 0).Gateway}}')
    out=$(curl -s -w ' %{http_code}' -XPUT --data-urlencode 'value={"image": "x"}' \
        "http://$gw:4001/v2/keys/apps/untrusted/web/manifest")
    [[ "$out" == *' 401' ]] || fail "a write from $gw was not refused: $out"
    # nor read: manifests may hold secrets (env); a token would be needed
    out=$(curl -s -o /dev/null -w '%{http_code}' "http://$gw:4001/v2/keys/apps")
    assert_eq 401 "$out" "an anonymous read from $gw"
}

test_23_etcd_restart_during_watch_misses_no_manifest() {
    # A long resync, so that only the watch can tell the conductor about the manifest.
    e2e_stop_conductor
    e2e_start_conductor --resync 3600
    kill -9 "$(cat "$E2E_ROOT/etcd/etcd.pid")"
    dk_wait 10 "etcd to die" sh -c "! curl -s --max-time 1 $E2E_ETCD/health"
    e2e_start_etcd
    e2e_set watched web "$(printf '{"image": "dockerfile/nginx", "scale": 2, "services": {"web": 80}}')"
    e2e_wait_converged watched web 2 web
    e2e_delete_app watched
    dk_wait 60 "watched's containers to go" e2e_no_containers label=dokkaa.app=watched
    e2e_stop_conductor
    e2e_start_conductor
}
