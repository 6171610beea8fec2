# The ambassador: links reach live instances, skipping those that refuse.

test_30_link_skips_refusing_instance() {
    local gw port ok=0
    e2e_set lb web '{"image": "dockerfile/nginx", "scale": 2, "services": {"web": 80}}'
    e2e_set lb client '{"image": "dockerfile/ubuntu", "command": ["sleep", "infinity"], "links": ["web"]}'
    e2e_wait_converged lb web 2 web
    e2e_wait_converged lb client 1
    # an announced instance that refuses every connection
    e2e_etcdctl put /services/lb/web/dead '{"addr": "127.0.0.1", "port": 1}' >/dev/null
    port=$(e2e_etcdctl get --print-value-only /links/lb/web | sed 's/[^0-9]//g')
    for i in $(seq 1 12); do
        docker exec lb---client sh -c 'curl -sf --max-time 5 http://$SERVICE_WEB_ADDR:$SERVICE_WEB_PORT/' \
            | grep -q "Welcome to nginx" && ok=$((ok + 1))
    done
    assert_eq 12 "$ok" "connections served (link port $port)"
    e2e_etcdctl del /services/lb/web/dead >/dev/null
    e2e_delete_app lb
}
