# The seed's example, with the seed's own commands, verbatim but for the address.

test_01_seed_example_crawler_fetches_nginx() {
    cd ../../examples/nginx-and-crawler
    curl -L -XPUT -d value="`cat nginx.json`" http://127.0.0.1:4001/v2/keys/apps/dummy/nginx/manifest
    curl -L -XPUT --data-urlencode value="`cat crawler.json`" http://127.0.0.1:4001/v2/keys/apps/dummy/crawler/manifest
    e2e_wait_converged dummy nginx 1 nginx
    e2e_wait_converged dummy crawler 1
    dk_wait 60 "the crawler's log to show nginx's page" \
        sh -c 'docker logs dummy---crawler 2>&1 | grep -q "Welcome to nginx"'
    # the link is reached through the ambassador on the bridge gateway
    local gw env
    gw=$(docker network inspect bridge --format '{{(index .IPAM.Config 0).Gateway}}')
    env=$(docker inspect dummy---crawler --format '{{join .Config.Env " "}}')
    [[ " $env " == *" SERVICE_NGINX_ADDR=$gw "* ]] || fail "SERVICE_NGINX_ADDR is not $gw: $env"
    [[ "$env" =~ SERVICE_NGINX_PORT=3[0-9]{4} ]] || fail "SERVICE_NGINX_PORT not from the link range: $env"
}

test_02_v2_get_answers_in_etcd_v2_shape() {
    local out
    out=$(curl -sf http://127.0.0.1:4001/v2/keys/apps/dummy/nginx/manifest)
    echo "$out" | grep -q '"action":"get"' || fail "no action: $out"
    echo "$out" | grep -q '"key":"/apps/dummy/nginx/manifest"' || fail "no key: $out"
    echo "$out" | grep -q '"modifiedIndex":[0-9]' || fail "no modifiedIndex: $out"
    out=$(curl -sf "http://127.0.0.1:4001/v2/keys/apps/dummy?recursive=true")
    echo "$out" | grep -q '"dir":true' || fail "no directory: $out"
    echo "$out" | grep -q '/apps/dummy/crawler/manifest' || fail "crawler missing: $out"
    out=$(curl -s -w ' %{http_code}' http://127.0.0.1:4001/v2/keys/apps/nope/x/manifest)
    [[ "$out" == *'"errorCode":100'*' 404' ]] || fail "missing key: $out"
}

test_03_delete_app_removes_containers_and_announcements() {
    curl -sf -L -XDELETE "http://127.0.0.1:4001/v2/keys/apps/dummy?recursive=true" >/dev/null
    dk_wait 60 "dummy's containers to go" e2e_no_containers label=dokkaa.app=dummy "label=dokkaa.cluster=$E2E_CLUSTER"
    dk_wait 20 "dummy's announcements to go" e2e_none /status/dummy/ /services/dummy/
    assert_eq 0 "$(e2e_count_keys /links/dummy/)" "link ports freed with the app"
}

test_04_v2_delete_answers_like_etcd_v2() {
    local out
    e2e_set del web '{"image": "dockerfile/nginx", "scale": 1}'
    out=$(curl -s -w ' %{http_code}' -XDELETE "$E2E_BUILDER/v2/keys/apps/del")
    [[ "$out" == *'"errorCode":102'*' 403' ]] || fail "a directory without recursive: $out"
    out=$(curl -s -w ' %{http_code}' -XDELETE "$E2E_BUILDER/v2/keys/apps/nope/web/manifest")
    [[ "$out" == *'"errorCode":100'*' 404' ]] || fail "a missing key: $out"
    out=$(curl -s -w ' %{http_code}' -XDELETE "$E2E_BUILDER/v2/keys/apps/del/web/manifest")
    [[ "$out" == *'"action":"delete"'*'"prevNode":{'*'dockerfile/nginx'*' 200' ]] || fail "delete: $out"
    assert_eq 0 "$(e2e_count_keys /apps/del/web/manifest)" "the manifest is gone"
    # the scheduler then drops its placement, and the conductor its container
    dk_wait 30 "del's placement and container to go" \
        eval 'e2e_none /apps/del/ && e2e_no_containers label=dokkaa.app=del'
}
