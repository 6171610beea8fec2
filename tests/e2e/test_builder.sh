# The builder's etcd v2 endpoint where it must differ from a naive proxy: who may
# write, what it refuses and why, and what it cannot encode.

# The builder as an untrusted client sees it: the bridge gateway is not loopback.
builder_untrusted() {
    echo "http://$(docker network inspect bridge --format '{{(index .IPAM.Config 0).Gateway}}'):4001"
}

test_40_untrusted_big_write_refused_before_its_body() {
    local url form out
    url=$(builder_untrusted)
    form="$E2E_ROOT/big.form"
    { printf 'value='; head -c 2000000 /dev/zero | tr '\0' a; } > "$form"
    # with curl's "Expect: 100-continue" and without it (the body comes right away);
    # at 200 kB/s, reading even 1 MiB of the body before answering would take 5 s
    for expect in 'Expect: 100-continue' 'Expect:'; do
        out=$(curl -s --max-time 10 --limit-rate 200K -H "$expect" -w ' %{http_code} %{time_total}' -XPUT \
            --data-binary @"$form" "$url/v2/keys/apps/big/web/manifest")
        [[ "$out" == *'"errorCode":110'*' 401 '* ]] || fail "not a 401 at once ($expect): $out"
        awk -v t="${out##* }" 'BEGIN { exit !(t < 1) }' || fail "the 401 took ${out##* }s ($expect)"
    done
    # a trusted client's 2 MB body is still read, and refused for its size
    out=$(curl -s -w ' %{http_code}' -XPUT --data-binary @"$form" "$E2E_BUILDER/v2/keys/apps/big/web/manifest")
    [[ "$out" == *' 413' ]] || fail "a trusted 2 MB write: $out"
    # reads too: manifests may hold secrets (env)
    out=$(curl -s -o /dev/null -w '%{http_code}' "$url/v2/keys/apps")
    assert_eq 401 "$out" "an anonymous v2 read from an untrusted network"
    assert_eq 0 "$(e2e_count_keys /apps/big/)" "nothing stored"
}

test_41_bad_key_gets_the_precise_reason() {
    local out
    out=$(curl -s -w ' %{http_code}' -XPUT --data-urlencode 'value={"image": "x"}' \
        "$E2E_BUILDER/v2/keys/apps/Dummy/web/manifest")
    [[ "$out" == *'app name \"Dummy\": '*'only manifests can be written here: /v2/keys/apps/<app>/<name>/manifest'*' 400' ]] ||
        fail "no precise reason: $out"
    out=$(curl -s -w ' %{http_code}' -XPUT --data-urlencode 'value={"image": "x"}' \
        "$E2E_BUILDER/v2/keys/apps/ok/web/config")
    [[ "$out" == *'not a manifest key'*' 400' ]] || fail "not a manifest key: $out"
    assert_eq 0 "$(e2e_count_keys /apps/Dummy/)" "nothing stored"
    assert_eq 0 "$(e2e_count_keys /apps/ok/)" "nothing stored"
}

test_42_compare_and_swap_is_refused_not_ignored() {
    local key=/apps/cas/web/manifest out
    e2e_set cas web '{"image": "dockerfile/nginx", "scale": 0}'
    out=$(curl -s -w ' %{http_code}' -XPUT --data-urlencode 'value={"image": "dockerfile/ubuntu", "scale": 0}' \
        "$E2E_BUILDER/v2/keys$key?prevExist=false")
    [[ "$out" == *'"errorCode":209'*'prevExist is not supported'*' 400' ]] || fail "prevExist in the query: $out"
    out=$(curl -s -w ' %{http_code}' -XPUT --data-urlencode 'value={"image": "dockerfile/ubuntu", "scale": 0}' \
        --data-urlencode 'prevValue={"image": "dockerfile/nginx", "scale": 0}' "$E2E_BUILDER/v2/keys$key")
    [[ "$out" == *'prevValue is not supported'*' 400' ]] || fail "prevValue in the form: $out"
    out=$(curl -s -w ' %{http_code}' -XDELETE "$E2E_BUILDER/v2/keys$key?prevIndex=1")
    [[ "$out" == *'prevIndex is not supported'*' 400' ]] || fail "prevIndex on DELETE: $out"
    e2e_etcdctl get --print-value-only "$key" | grep -q dockerfile/nginx || fail "the manifest changed"
    e2e_delete_app cas
}

test_43_delete_of_a_directory_needs_recursive() {
    local out
    e2e_set deldir web '{"image": "dockerfile/nginx", "scale": 0}'
    out=$(curl -s -w ' %{http_code}' -XDELETE "$E2E_BUILDER/v2/keys/apps/deldir?dir=true")
    [[ "$out" == *'"errorCode":108,"message":"Directory not empty'*' 403' ]] || fail "dir=true alone: $out"
    out=$(curl -s -w ' %{http_code}' -XDELETE "$E2E_BUILDER/v2/keys/apps/deldir/web")
    [[ "$out" == *'"errorCode":102'*'"index":'[1-9]*' 403' ]] || fail "a subdirectory without recursive: $out"
    assert_eq 1 "$(e2e_count_keys /apps/deldir/web/manifest)" "the directory is kept"
    out=$(curl -s -w ' %{http_code}' -XDELETE "$E2E_BUILDER/v2/keys/apps/nodir?dir=true")
    [[ "$out" == *'"errorCode":100'*' 404' ]] || fail "a missing directory: $out"
    out=$(curl -s -w ' %{http_code}' -XDELETE "$E2E_BUILDER/v2/keys/apps/deldir?dir=true&recursive=true")
    [[ "$out" == *'"action":"delete"'*'"dir":true'*' 200' ]] || fail "recursive: $out"
    assert_eq 0 "$(e2e_count_keys /apps/deldir/)" "the directory is gone"
}

test_44_recursive_delete_frees_link_ports_of_an_app_without_keys() {
    local out
    e2e_etcdctl put /links/ghost/web '{"port": 30998}' >/dev/null
    out=$(curl -s -w ' %{http_code}' -XDELETE "$E2E_BUILDER/v2/keys/apps/ghost?recursive=true")
    [[ "$out" == *'"errorCode":100'*' 404' ]] || fail "an app without keys: $out"
    assert_eq 0 "$(e2e_count_keys /links/ghost/)" "the app's link ports are freed"
    # all apps at once frees every link port (every test before removed its apps,
    # so this deletes nobody else's)
    [ "$(e2e_count_keys /apps/)" = 0 ] ||
        fail "keys the tests before left, which this would delete: $(e2e_etcdctl get --prefix --keys-only /apps/ | grep . | tr '\n' ' ')"
    e2e_etcdctl put /links/ghost2/web '{"port": 30997}' >/dev/null
    curl -s -XDELETE "$E2E_BUILDER/v2/keys/apps?recursive=true" >/dev/null
    assert_eq 0 "$(e2e_count_keys /links/)" "every link port is freed with /apps"
    # /apps, the root Dokkaa serves, lists no apps rather than 404
    out=$(curl -s -w ' %{http_code}' "$E2E_BUILDER/v2/keys/apps")
    [[ "$out" == *'"key":"/apps","dir":true,"nodes":[]'*' 200' ]] || fail "an empty /apps: $out"
}

# README: GET /healthz is 503 until the builder has read etcd. A builder of the
# test's own, on 127.0.0.1:4011, with an etcd that comes only later.
hz_status() { curl -s -o /dev/null --max-time 2 -w '%{http_code}' http://127.0.0.1:4011/healthz; }
hz_is() { [ "$(hz_status)" = "$1" ]; }
test_47_healthz_is_503_until_the_builder_has_read_etcd() {
    local d eport=$((E2E_ETCD_PORT + 100))
    d=$(mktemp -d /tmp/dokkaa-e2e-hz.XXXXXX)
    trap "dk_stop $d/builder.pid; dk_stop $d/etcd/etcd.pid; rm -rf $d" EXIT
    dk_start "$d/builder.pid" "$d/builder.log" $E2E_WRAP "$E2E_BIN/dokkaa-builder" \
        --etcd "http://127.0.0.1:$eport" --port 4011 --host-id hz
    dk_wait 20 "the builder to answer" eval '[ "$(hz_status)" != 000 ]' || fail "$(tail -5 "$d/builder.log")"
    assert_eq 503 "$(hz_status)" "/healthz while etcd cannot be read"
    dk_start_etcd "$d/etcd" "$eport" $((eport + 1))
    dk_wait 30 "/healthz to be 200 once etcd is read" hz_is 200
}

test_45_value_json_cannot_carry_gets_an_error_naming_the_key() {
    local out
    e2e_etcdctl put /apps/bin/web/manifest "$(printf 'bad \xff\xfe')" >/dev/null
    e2e_etcdctl put /apps/bin/ok/manifest 'text' >/dev/null
    out=$(curl -s -w ' %{http_code}' "$E2E_BUILDER/v2/keys/apps/bin/web/manifest")
    [[ "$out" == *'"errorCode":300'*'not UTF-8'*'"cause":"/apps/bin/web/manifest"'*' 500' ]] ||
        fail "a non-UTF-8 value: $out"
    out=$(curl -s -w ' %{http_code}' "$E2E_BUILDER/v2/keys/apps/bin?recursive=true")
    [[ "$out" == *'/apps/bin/ok/manifest'*' 200' ]] || fail "the listing: $out"
    [[ "$out" != *'/apps/bin/web/manifest'* ]] || fail "the non-UTF-8 node is listed: $out"
    out=$(curl -s -w ' %{http_code}' "$E2E_BUILDER/v2/keys/apps/%FF")
    [[ "$out" == *'"errorCode":209'*' 400' ]] || fail "a non-UTF-8 key: $out"
    # deleted all the same, without a prevNode
    out=$(curl -s -w ' %{http_code}' -XDELETE "$E2E_BUILDER/v2/keys/apps/bin/web/manifest")
    [[ "$out" == *'"action":"delete"'*' 200' && "$out" != *prevNode* ]] || fail "delete: $out"
    e2e_delete_app bin
    assert_eq 0 "$(e2e_count_keys /apps/bin/)" "bin is gone"
}

# Tokens: the last admin token cannot revoke itself (nobody could write again);
# with a second one it can, and is refused from then on.
test_46_last_admin_token_is_kept() {
    local t1 h1 id1 t2 out
    t1=dk_$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
    h1=$(printf %s "$t1" | sha256sum | cut -c1-64)
    id1=${h1:0:12}
    e2e_etcdctl put "/tokens/$h1" "{\"id\":\"$id1\",\"name\":\"e2e\",\"role\":\"admin\",\"created\":\"2026-01-01T00:00:00Z\"}" >/dev/null
    dk_wait 10 "the builder to know the token" sh -c \
        "curl -s -H 'Authorization: Bearer $t1' $E2E_BUILDER/api/v1/whoami | grep -q '\"admin\"'"
    out=$(curl -s -w ' %{http_code}' -XDELETE -H "Authorization: Bearer $t1" "$E2E_BUILDER/api/v1/tokens/$id1")
    [[ "$out" == *"last admin token"*' 409' ]] || fail "revoking the last admin token: $out"
    t2=$(curl -sf -XPOST -H "Authorization: Bearer $t1" -d '{"name":"second","role":"admin"}' \
        "$E2E_BUILDER/api/v1/tokens" | jq -r .token)
    out=$(curl -s -w ' %{http_code}' -XDELETE -H "Authorization: Bearer $t2" "$E2E_BUILDER/api/v1/tokens/$id1")
    [[ "$out" == *' 200' ]] || fail "revoking the first admin token with the second: $out"
    out=$(curl -s -w ' %{http_code}' -H "Authorization: Bearer $t1" "$E2E_BUILDER/api/v1/whoami")
    [[ "$out" == *' 401' ]] || fail "the revoked token still works: $out"
    e2e_etcdctl del --prefix /tokens/ >/dev/null
}
