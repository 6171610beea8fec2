# tests/api/test_cli.sh - the dokkaacfg app commands, run as a user runs them against
# the suite's 2-host cluster: every command with its table and its -o json, --help
# of each, the config `up` wrote (and init, the environment and the flags over it),
# the exit codes (0 ok, 1 failure, 2 usage, 3 not found, 4 unauthorized or
# forbidden, 5 invalid input), and bad input: the precise error, once, on stderr,
# and nothing stored.
#
# Helpers are prefixed tc_ (every tests/api/test_*.sh is sourced into one shell).

TC_NGINX='{"image": "dockerfile/nginx", "scale": 1, "services": {"web": 80}}'
# Says hello, then ticks every 0.2 s: a log with a known start and new lines.
TC_TICKER='{"image": "dockerfile/ubuntu", "scale": 2, "command": ["/bin/bash", "-c", "echo hello from $DOKKAA_INSTANCE; i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done"]}'
TC_LABEL_ERR="must contain only lower case letters a-z, digits 0-9 and '-'"

# tc_begin APP...: a scratch directory ($TC_D) and, when the test ends however it
# ends, the apps named removed and the background commands (tc_bg) stopped.
tc_begin() {
    TC_D=$(mktemp -d /tmp/dokkaa-tc.XXXXXX)
    TC_OUT=$TC_D/out TC_ERR=$TC_D/err TC_APPS="$*"
    trap tc_end EXIT
}
tc_end() {
    local p a
    for p in $(cat "$TC_D/pids" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
    for a in $TC_APPS; do cl_etcdctl del --prefix "/apps/$a/" >/dev/null || true; done
    rm -rf "$TC_D"
}

# tc_run RC ARGS...: dokkaacfg ARGS must exit RC; its stdout is in $TC_OUT, its
# stderr in $TC_ERR.
tc_run() {
    local want=$1 rc=0
    shift
    cl_cfg "$@" > "$TC_OUT" 2> "$TC_ERR" || rc=$?
    [ "$rc" = "$want" ] ||
        fail "dokkaacfg $*: exit $rc, expected $want; stderr: $(head -c 400 "$TC_ERR"); stdout: $(head -c 300 "$TC_OUT")"
}
# The error was said once, exactly: "dokkaacfg: MESSAGE", and nothing went to stdout.
tc_err_is() {
    [ "$(cat "$TC_ERR")" = "dokkaacfg: $1" ] || fail "stderr: expected 'dokkaacfg: $1', got '$(cat "$TC_ERR")'"
    [ ! -s "$TC_OUT" ] || fail "stdout after an error: $(head -c 300 "$TC_OUT")"
}
# The error was said once, and it says PATTERN (grep -E).
tc_err_says() {
    [ "$(grep -c . "$TC_ERR")" = 1 ] || fail "stderr: expected one line, got: $(cat "$TC_ERR")"
    grep -Eq "^dokkaacfg: .*$1" "$TC_ERR" || fail "stderr: expected /$1/, got: $(cat "$TC_ERR")"
}
tc_out_has() { grep -Eq "$1" "$TC_OUT" || fail "stdout: no line matching /$1/ in: $(head -c 800 "$TC_OUT")"; }
tc_json() { jq -e "$@" "$TC_OUT" >/dev/null || fail "stdout is not JSON with $*: $(head -c 800 "$TC_OUT")"; }

# tc_bg FILE ARGS...: dokkaacfg ARGS in the background, output to FILE (stderr to
# FILE.err); its pid in $TC_PID, stopped by tc_end if the test does not.
tc_bg() {
    local out=$1
    shift
    "$CL_BIN/dokkaacfg" "$@" > "$out" 2> "$out.err" & # not cl_cfg: $! must be dokkaacfg
    TC_PID=$!
    echo "$TC_PID" >> "$TC_D/pids"
}
# tc_stop PID: SIGTERM ends a stream, with exit 0.
tc_stop() {
    local rc=0
    kill -TERM "$1"
    wait "$1" || rc=$?
    assert_eq 0 "$rc" "exit code of a stream ended by SIGTERM"
}

tc_token_id() { printf %s "$1" | sha256sum | cut -c1-12; }
tc_token_in_etcd() { cl_etcdctl get --print-value-only "/tokens/$(printf %s "$1" | sha256sum | cut -d' ' -f1)"; }

# ==== 6x: the CLI ===================================================================

test_60_cli_help_and_usage_errors() {
    local c
    tc_begin
    tc_run 0 --help
    tc_out_has '^usage: dokkaacfg \[--api URL\] \[--token T\] \[--etcd URLS\] \[--provider P\] COMMAND'
    for c in up down status rebalance validate init ls get set rm scale ps logs hosts events token \
        "token create" "token ls" "token revoke"; do
        tc_run 0 $c --help # word-split on purpose: "token create"
        tc_out_has "^usage: dokkaacfg $c( |$)"
        [ ! -s "$TC_ERR" ] || fail "$c --help wrote to stderr: $(cat "$TC_ERR")"
    done
    # Usage errors: 2, the usage on stderr, nothing on stdout.
    while IFS= read -r c; do
        tc_run 2 $c
        grep -q '^usage: dokkaacfg' "$TC_ERR" || fail "dokkaacfg $c: no usage on stderr: $(cat "$TC_ERR")"
        [ ! -s "$TC_OUT" ] || fail "dokkaacfg $c: stdout: $(cat "$TC_OUT")"
    done <<'EOF'

nosuchcommand
ls extra
ls --nosuchflag
ls -o yaml
get
set cli-x/web
scale cli-x/web
logs --tail many cli-x/web
token
token nosuch
token create
token create --role admin
token revoke
EOF
    # A target without its NAME is a usage error too, said once.
    tc_run 2 set cli-x "$CL_ROOT/examples/nginx-and-crawler/nginx.json"
    tc_err_is 'needs APP/NAME, got "cli-x"'
    tc_run 2 logs cli-x
    tc_err_is 'needs APP/NAME[/i], got "cli-x"'
}

test_61_cli_config_from_up_and_init() {
    local cfg=$XDG_CONFIG_HOME/dokkaa/config.json tok tok2 d
    tc_begin cli-env
    d=$TC_D/cfg
    # up wrote it: 0600 in a 0700 directory, the first host's API, an admin token
    # that etcd has (by its hash)
    assert_eq 600 "$(stat -c %a "$cfg")" "mode of $cfg"
    assert_eq 700 "$(stat -c %a "$(dirname "$cfg")")" "mode of $(dirname "$cfg")"
    assert_eq "$(api_url 1)" "$(jq -r .api "$cfg")" "api in $cfg"
    tok=$(jq -r .token "$cfg")
    [[ $tok =~ ^dk_[0-9a-f]{48}$ ]] || fail "token in $cfg: $tok"
    tc_token_in_etcd "$tok" | jq -e '.role == "admin"' >/dev/null || fail "no admin record for the config's token"
    # up again keeps it, and says where the config went
    cl_up || fail "up again: $(tail -5 "$CL_LOG")"
    grep -q "^config: $cfg (api $(api_url 1), admin token $(tc_token_id "$tok") kept)$" "$CL_LOG" ||
        fail "up again: $(grep config: "$CL_LOG")"
    assert_eq "$tok" "$(jq -r .token "$cfg")" "token after up again"

    # init, for a cluster up did not make: a new config, then kept
    XDG_CONFIG_HOME=$d tc_run 0 --etcd "$CL_ETCD" init --api "$(cl_addr 2):4001/"
    tc_out_has "^config: $d/dokkaa/config.json \(api $(api_url 2), admin token [0-9a-f]{12} made\)$"
    tok2=$(jq -r .token "$d/dokkaa/config.json")
    [ "$tok2" != "$tok" ] && tc_token_in_etcd "$tok2" | jq -e '.role == "admin"' >/dev/null ||
        fail "init made no admin token of its own: $tok2"
    assert_eq 600 "$(stat -c %a "$d/dokkaa/config.json")" "mode of init's config"
    XDG_CONFIG_HOME=$d tc_run 0 --etcd "$CL_ETCD" init --api "$(api_url 2)"
    tc_out_has 'kept\)$'
    # a token etcd does not have (the cluster was made again) is replaced; the
    # file's other fields stay
    jq '.token = "dk_000000000000000000000000000000000000000000000000" | .mine = 1' "$d/dokkaa/config.json" > "$TC_D/c"
    cp "$TC_D/c" "$d/dokkaa/config.json"
    XDG_CONFIG_HOME=$d tc_run 0 --etcd "$CL_ETCD" init --api "$(api_url 2)"
    tc_out_has 'made\)$'
    jq -e '.mine == 1 and .token != "dk_000000000000000000000000000000000000000000000000"' \
        "$d/dokkaa/config.json" >/dev/null || fail "init's rewrite: $(cat "$d/dokkaa/config.json")"

    # Environment over the file, flags over the environment.
    XDG_CONFIG_HOME=$d tc_run 0 hosts # init's config: h2's API
    DOKKAA_API=http://127.0.0.1:9 tc_run 1 ls
    tc_err_says 'http://127.0.0.1:9/api/v1/apps: .*(onnect|refused)'
    DOKKAA_API=http://127.0.0.1:9 tc_run 0 --api "$(cl_addr 2):4001" ls
    DOKKAA_TOKEN=dk_nope tc_run 4 ls
    tc_err_says 'unknown or revoked'
    DOKKAA_TOKEN=dk_nope tc_run 0 --token "$tok" ls
    # the two flags may also follow the command
    DOKKAA_API=http://127.0.0.1:9 tc_run 0 ls --api "$(api_url 2)"
    tc_run 4 hosts --token dk_nope
    tc_run 0 hosts --token "$tok" --api "$(api_url 2)"
    echo '{"image": "dockerfile/nginx", "scale": 0}' |
        XDG_CONFIG_HOME=$TC_D/none DOKKAA_API=$(api_url 2) DOKKAA_TOKEN=$tok tc_run 0 set cli-env/web -
    tc_run 0 rm cli-env
    # A config that is not one: 5, with where and what
    mkdir -p "$TC_D/bad/dokkaa"
    echo '{"api": 4001}' > "$TC_D/bad/dokkaa/config.json"
    XDG_CONFIG_HOME=$TC_D/bad tc_run 5 ls
    tc_err_is "$TC_D/bad/dokkaa/config.json: api: must be a string"
    echo '{"api": ' > "$TC_D/bad/dokkaa/config.json"
    XDG_CONFIG_HOME=$TC_D/bad tc_run 5 ls
    tc_err_says "$TC_D/bad/dokkaa/config.json: line [0-9]+: "
}

test_62_cli_set_get_ls_rm() {
    local f
    tc_begin cli-app
    f=$TC_D/web.json
    printf '%s' "$TC_NGINX" > "$f"
    tc_run 0 set cli-app/web "$f"
    tc_out_has '^cli-app/web: created \(revision [0-9]+\)$'
    tc_run 0 set cli-app/web "$f"
    tc_out_has '^cli-app/web: updated \(revision [0-9]+\)$'
    assert_eq "$TC_NGINX" "$(cl_etcdctl get --print-value-only /apps/cli-app/web/manifest)" "stored manifest"
    echo '{"image": "dockerfile/nginx", "scale": 0}' | tc_run 0 set -o json cli-app/idle -
    tc_json '.app == "cli-app" and .name == "idle" and .created == true and .manifest.scale == 0'
    # get: the manifest as JSON, which set takes back
    tc_run 0 get cli-app/web
    assert_eq "$(jq -S . <<<"$TC_NGINX")" "$(jq -S . "$TC_OUT")" "get cli-app/web"
    cp "$TC_OUT" "$TC_D/again.json"
    tc_run 0 set cli-app/web "$TC_D/again.json"
    tc_run 0 get -o json cli-app/web
    tc_json '.app == "cli-app" and .name == "web" and .manifest.image == "dockerfile/nginx"
        and (.revision | type) == "number" and (.instances | type) == "array"'
    # ls and get APP: one row per manifest
    cl_wait_converged cli-app web 1 web
    tc_run 0 ls
    tc_out_has '^APP +NAME +IMAGE +DESIRED +RUNNING +ERROR$'
    tc_out_has '^cli-app +idle +dockerfile/nginx +0 +0$'
    tc_out_has '^cli-app +web +dockerfile/nginx +1 +1$'
    tc_run 0 ls -o json
    tc_json '[.apps[] | select(.app == "cli-app") | .manifests[].name] == ["idle", "web"]'
    tc_run 0 get cli-app
    assert_eq 3 "$(grep -c . "$TC_OUT")" "lines of get cli-app"
    tc_out_has '^cli-app +web +dockerfile/nginx +1 +1$'
    tc_run 0 get -o json cli-app
    tc_json '.app == "cli-app" and (.manifests | length) == 2'
    # rm a manifest, then the app; then they are not found
    tc_run 0 rm cli-app/idle
    assert_eq "cli-app/idle: deleted" "$(cat "$TC_OUT")" "rm cli-app/idle"
    tc_run 3 get cli-app/idle
    tc_err_says 'cli-app/idle'
    tc_run 0 rm cli-app
    assert_eq "cli-app: deleted cli-app/web" "$(cat "$TC_OUT")" "rm cli-app"
    tc_run 3 rm cli-app
    tc_run 3 get cli-app
    assert_eq 0 "$(cl_count_keys /apps/cli-app/)" "keys left under /apps/cli-app/"
    cl_wait_converged cli-app web 0
}

test_63_cli_bad_input_stores_nothing() {
    local n big
    tc_begin cli-bad
    printf '%s' "$TC_NGINX" > "$TC_D/good.json"
    # Bad manifests: 5, the builder's precise message once, nothing stored.
    echo '{"image": "dockerfile/nginx", "scal": 1}' | tc_run 5 set cli-bad/web -
    tc_err_is 'unknown field "scal"; valid fields: image, scale, command, services, links, env'
    echo '{"image": "dockerfile/nginx", "scale": "3"}' > "$TC_D/m.json"
    tc_run 5 set cli-bad/web "$TC_D/m.json"
    tc_err_is 'scale: must be an integer 0..1000, got "3"'
    echo '{"image": ' | tc_run 5 set cli-bad/web -
    tc_err_says 'invalid JSON'
    printf '' | tc_run 5 set cli-bad/web -
    tc_err_says 'invalid JSON'
    echo '["dockerfile/nginx"]' | tc_run 5 set cli-bad/web -
    tc_err_is 'manifest: must be a JSON object, got ["dockerfile/nginx"]'
    # Over 1 MiB: refused before it is sent (a valid manifest but for its size).
    big=$TC_D/big.json
    { printf '{"image": "dockerfile/nginx", "env": {"PAD": "'; head -c 1048576 /dev/zero | tr '\0' x; printf '"}}'; } > "$big"
    tc_run 5 set cli-bad/web "$big"
    tc_err_is "$big: over 1048576 bytes, the limit of a manifest"
    tc_run 5 set cli-bad/web - < "$big"
    tc_err_is "-: over 1048576 bytes, the limit of a manifest"
    # Files that cannot be read
    tc_run 5 set cli-bad/web "$TC_D/nosuch.json"
    tc_err_is "$TC_D/nosuch.json: No such file or directory"
    tc_run 5 set cli-bad/web "$TC_D"
    tc_err_is "$TC_D: Is a directory"
    # Names: .., /, unicode, capitals, --, empty, too long; for every command
    # that takes them
    while IFS='|' read -r n msg; do
        tc_run 5 set "$n" "$TC_D/good.json"
        tc_err_is "$msg"
        tc_run 5 get "$n"
        tc_err_is "$msg"
        tc_run 5 rm "$n"
        tc_err_is "$msg"
        tc_run 5 scale "$n" 1
        tc_err_is "$msg"
    done <<EOF
../web|app name "..": $TC_LABEL_ERR
cli-bad/..|manifest name "..": $TC_LABEL_ERR
cli-bad/a/b/c|manifest name "a/b/c": $TC_LABEL_ERR
cli-bad/wéb|manifest name "wéb": $TC_LABEL_ERR
ünï/web|app name "ünï": $TC_LABEL_ERR
Cli-bad/web|app name "Cli-bad": $TC_LABEL_ERR
cli--bad/web|app name "cli--bad": must not contain "--" (Dokkaa joins names with "---")
/web|app name "": must not be empty
cli-bad/|manifest name "": must not be empty
cli-bad/$(printf 'a%.0s' $(seq 64))|manifest name "$(printf 'a%.0s' $(seq 64))": must be at most 63 characters
EOF
    tc_run 5 ps ../x
    tc_err_is "app name \"../x\": $TC_LABEL_ERR"
    tc_run 5 logs ../web
    tc_err_is "app name \"..\": $TC_LABEL_ERR"
    tc_run 5 logs cli-bad/wéb/0
    tc_err_is "manifest name \"wéb\": $TC_LABEL_ERR"
    tc_run 5 logs cli-bad/web/x
    tc_err_is 'instance: must be an integer 0..999, got "x"'
    tc_run 5 logs cli-bad/web/1/2
    tc_err_is 'instance: must be an integer 0..999, got "1/2"'
    tc_run 5 scale cli-bad/web many
    tc_err_is 'scale: must be an integer 0..1000, got "many"'
    tc_run 5 scale cli-bad/web 1001
    tc_err_is 'scale: must be an integer 0..1000, got "1001"'
    tc_run 5 token revoke ../x
    tc_err_is 'token id: must be 12 hex digits (as token ls shows), got "../x"'
    # --dry-run validates on the builder and stores nothing either way
    tc_run 0 set --dry-run cli-bad/web "$TC_D/good.json"
    assert_eq "cli-bad/web: valid (dry run: nothing stored)" "$(cat "$TC_OUT")" "set --dry-run"
    tc_run 5 set --dry-run cli-bad/web "$TC_D/m.json"
    tc_err_is 'scale: must be an integer 0..1000, got "3"'
    # Not there: 3
    tc_run 3 scale cli-bad/web 1
    tc_run 3 get cli-bad/web
    assert_eq 0 "$(cl_count_keys /apps/cli-bad/)" "keys stored under /apps/cli-bad/"
    # and the builders are none the worse
    tc_run 0 --api "$(api_url 1)" hosts
    tc_run 0 --api "$(api_url 2)" hosts
}

test_64_cli_tokens_and_refusals() {
    local ro adm id f
    tc_begin cli-auth
    f=$TC_D/web.json
    printf '%s' "$TC_NGINX" > "$f"
    # create prints the secret alone on stdout, what it is on stderr
    tc_run 0 token create --name cli-ro
    ro=$(cat "$TC_OUT")
    [[ $ro =~ ^dk_[0-9a-f]{48}$ ]] || fail "token create printed: $ro"
    id=$(tc_token_id "$ro")
    tc_err_says "token $id \"cli-ro\" \(read-only\) made; it is not shown again"
    tc_run 0 token ls
    tc_out_has '^ID +NAME +ROLE +CREATED$'
    tc_out_has "^$id +cli-ro +read-only +20[0-9-]+T[0-9:]+Z$"
    ! grep -q "$ro" "$TC_OUT" || fail "token ls shows a secret"
    tc_run 0 token ls -o json
    tc_json --arg id "$id" '(.tokens[] | select(.id == $id) | .role == "read-only") and all(.tokens[]; has("token") | not)'
    # read-only: reads, but writes are forbidden, precisely, and nothing is stored
    tc_run 0 --token "$ro" ls
    tc_run 4 --token "$ro" set cli-auth/web "$f"
    tc_err_is "token $id is read-only; this needs an admin token"
    DOKKAA_TOKEN=$ro tc_run 4 scale cli-auth/web 2
    tc_err_is "token $id is read-only; this needs an admin token"
    tc_run 4 --token "$ro" token ls
    tc_run 4 --token "$ro" token create --name cli-x
    # no token: writes are refused; a token that is not one is refused even to read
    tc_run 4 --token "" set cli-auth/web "$f"
    tc_err_says 'needs an admin token'
    tc_run 4 --token "" rm cli-auth
    tc_run 4 --token dk_nope ls
    tc_err_says 'unknown or revoked'
    assert_eq 0 "$(cl_count_keys /apps/cli-auth/)" "keys stored by refused writes"
    # an admin token made with the CLI writes; -o json shows its secret, once
    tc_run 0 token create -o json --name cli-admin --role admin
    tc_json '.role == "admin" and .name == "cli-admin" and (.token | test("^dk_[0-9a-f]{48}$"))'
    adm=$(jq -r .token "$TC_OUT")
    tc_run 0 --token "$adm" set cli-auth/web "$f"
    tc_run 0 --token "$adm" rm cli-auth
    # revoked: refused from then on, on every builder
    tc_run 0 token revoke "$id"
    assert_eq "token $id: revoked" "$(cat "$TC_OUT")" "token revoke"
    tc_run 3 token revoke "$id"
    dk_wait 10 "h2 to refuse the revoked token" eval '! cl_cfg --api "$(api_url 2)" --token "$ro" ls'
    tc_run 4 --token "$ro" ls
    tc_run 0 token revoke -o json "$(tc_token_id "$adm")"
    tc_json '.revoked == true'
    # bad token requests: 5 with the builder's reason
    tc_run 5 token create --name cli-x --role root
    tc_err_is 'role: must be "admin" or "read-only", got "root"'
    tc_run 5 token create --name "two words"
    tc_err_says 'name: '
}

tc_log_has() { cl_cfg logs "$1" 2>/dev/null | grep -qx "$2"; }

test_65_cli_ps_scale_logs() {
    local pid
    tc_begin cli-tick
    tc_run 0 set cli-tick/tick - <<<"$TC_TICKER"
    cl_wait_converged cli-tick tick 2
    # the instance states come from conductors: ps may lag docker a moment
    dk_wait 20 "ps to show 2 running" eval '[ "$(cl_cfg ps cli-tick | grep -cE " running ")" = 2 ]'
    tc_run 0 ps cli-tick
    tc_out_has '^APP +NAME +I +HOST +STATE +AGE +ERROR$'
    tc_out_has '^cli-tick +tick +0 +h[12] +running +[0-9]+[smhd]$'
    tc_out_has '^cli-tick +tick +1 +h[12] +running +[0-9]+[smhd]$'
    assert_eq 3 "$(grep -c . "$TC_OUT")" "lines of ps cli-tick"
    tc_run 0 ps
    tc_out_has '^cli-tick +tick +1 '
    tc_run 0 ps -o json cli-tick
    tc_json '(.instances | length) == 2 and all(.instances[]; .app == "cli-tick" and .state == "running")
        and ([.instances[].host] | sort) == ["h1", "h2"]'
    # logs: instance 0 by default, any instance from h1's API wherever it runs
    dk_wait 30 "instance 0's log" tc_log_has cli-tick/tick "hello from 0"
    dk_wait 30 "instance 1's log" tc_log_has cli-tick/tick/1 "hello from 1"
    dk_wait 30 "instance 1 to tick twice" tc_log_has cli-tick/tick/1 "tick 2"
    tc_run 0 logs --tail 2 cli-tick/tick/1
    assert_eq 2 "$(grep -c '^tick [0-9]*$' "$TC_OUT")" "lines of logs --tail 2"
    # -f: what comes after; SIGTERM ends it cleanly
    tc_bg "$TC_D/follow" logs -f --tail 0 cli-tick/tick/1
    pid=$TC_PID
    dk_wait 20 "logs -f to print new ticks" grep -q '^tick [0-9]*$' "$TC_D/follow"
    tc_stop "$pid"
    ! grep -q hello "$TC_D/follow" || fail "logs -f --tail 0 printed the start of the log"
    [ ! -s "$TC_D/follow.err" ] || fail "logs -f: stderr: $(cat "$TC_D/follow.err")"
    tc_run 3 logs cli-tick/tick/7
    tc_run 3 logs -f cli-tick/nosuch
    # scale: only the scale changes
    tc_run 0 scale cli-tick/tick 1
    tc_out_has '^cli-tick/tick: scale 1 \(revision [0-9]+\)$'
    cl_wait_converged cli-tick tick 1
    tc_run 0 get cli-tick/tick
    tc_json --argjson m "$TC_TICKER" '. == ($m | .scale = 1)'
    tc_run 0 scale -o json cli-tick/tick 0
    tc_json '.manifest.scale == 0 and .name == "tick"'
    cl_wait_converged cli-tick tick 0
    tc_run 0 rm cli-tick
}

# tc_ping_seen FILE...: set cli-ev/ping again (a put each time) until every
# FILE of events shows it: the streams start at a moment we cannot see from here.
tc_ping_seen() {
    local f
    cl_cfg set cli-ev/ping - <<<'{"image":"dockerfile/nginx","scale":0}' >/dev/null || return 1
    for f in "$@"; do grep -q '/apps/cli-ev/ping/manifest' "$f" || return 1; done
}

test_66_cli_hosts_and_events() {
    local p1 p2
    tc_begin cli-ev
    tc_run 0 hosts
    tc_out_has '^ID +ADDR +CPUS +MEMORY +INSTANCES +RUNNING +LEADER$'
    tc_out_has "^h1 +$(cl_addr 1) +[0-9]+ +[0-9.]+[KMGTP] +[0-9]+ +[0-9]+( +yes)?$"
    tc_out_has "^h2 +$(cl_addr 2) +[0-9]+ +[0-9.]+[KMGTP] +[0-9]+ +[0-9]+( +yes)?$"
    assert_eq 1 "$(grep -c ' yes$' "$TC_OUT")" "hosts marked LEADER"
    tc_run 0 hosts -o json
    tc_json '(.hosts | map(.id)) == ["h1", "h2"] and ([.hosts[] | select(.leader)] | length) == 1'
    # events: a line each for people, a JSON object each with -o json
    tc_bg "$TC_D/ev" events
    p1=$TC_PID
    tc_bg "$TC_D/evj" events -o json
    p2=$TC_PID
    dk_wait 20 "both event streams to show a put of cli-ev/ping" tc_ping_seen "$TC_D/ev" "$TC_D/evj"
    grep -Eq '^[0-9]{2}:[0-9]{2}:[0-9]{2}  put     manifest   /apps/cli-ev/ping/manifest  \{"image":"dockerfile/nginx","scale":0\}$' "$TC_D/ev" ||
        fail "human event line: $(grep cli-ev "$TC_D/ev" | head -3)"
    jq -e . "$TC_D/evj" >/dev/null || fail "events -o json: not one JSON object a line: $(head -c 500 "$TC_D/evj")"
    jq -se 'any(.[]; .type == "put" and .kind == "manifest" and .app == "cli-ev" and .name == "ping"
        and .value.image == "dockerfile/nginx" and (.revision | type) == "number")' "$TC_D/evj" >/dev/null ||
        fail "events -o json: no put of cli-ev/ping: $(grep cli-ev "$TC_D/evj" | head -3)"
    tc_run 0 rm cli-ev
    dk_wait 10 "the delete event" grep -Eq '  delete  manifest   /apps/cli-ev/ping/manifest$' "$TC_D/ev"
    tc_stop "$p1"
    tc_stop "$p2"
    [ ! -s "$TC_D/ev.err" ] && [ ! -s "$TC_D/evj.err" ] || fail "events: stderr: $(cat "$TC_D"/*.err)"
    # a stream that cannot start says why
    tc_run 4 --token dk_nope events
    tc_err_says 'unknown or revoked'
    tc_run 1 --api http://127.0.0.1:9 events
}

# The dokkaacfg valgrind runs: $DOKKAA_VALGRIND_BIN (make check gives its plain
# build), else the suite's own. An ASan build cannot run under valgrind at all.
tc_vg_bin() {
    local bin=${DOKKAA_VALGRIND_BIN:-$CL_BIN}/dokkaacfg
    ! ldd "$bin" | grep -q libasan || { fail "$bin is built with ASan, which valgrind cannot run: set DOKKAA_VALGRIND_BIN to a plain build's directory"; return 1; }
    echo "$bin"
}

# tc_vg N ARGS...: dokkaacfg ARGS under valgrind (stdin a manifest), its report
# in $TC_D/vg.N; fails if valgrind found anything.
tc_vg() {
    local n=$1 rc=0
    shift
    valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
        "$TC_VG_BIN" "$@" > /dev/null 2> "$TC_D/vg.$n" < "$TC_D/good.json" || rc=$?
    [ "$rc" != 99 ] || fail "valgrind: dokkaacfg $*: $(head -40 "$TC_D/vg.$n")"
}

# Every command, good and bad, leaks nothing and touches no memory it should not.
# The runs that do not depend on each other run at once (valgrind is slow).
test_67_cli_clean_under_valgrind() {
    local c n=0 pid pids=()
    command -v valgrind >/dev/null || { echo "no valgrind: skipped"; return 0; }
    TC_VG_BIN=$(tc_vg_bin)
    tc_begin cli-vg cli-ev
    printf '%s' "$TC_NGINX" > "$TC_D/good.json"
    tc_vg set set cli-vg/web "$TC_D/good.json"
    while IFS= read -r c; do
        n=$((n + 1))
        tc_vg $n $c &
        pids+=($!)
    done <<EOF
ls -o json
set cli-vg/idle -
set --dry-run cli-vg/bad $TC_D
get cli-vg/web
get cli-vg
ps
hosts
logs --tail 1 cli-vg/web
token create --name cli-vg
scale cli-vg/web 0
get ../x
--token dk_nope ls
--api http://127.0.0.1:9 ls
ls -o yaml
EOF
    for pid in "${pids[@]}"; do wait "$pid"; done # set -e: a run that failed fails the test
    tc_vg rm rm cli-vg
    valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
        "$TC_VG_BIN" events > "$TC_D/ev" 2> "$TC_D/ev.vg" &
    pid=$!
    echo $pid >> "$TC_D/pids"
    dk_wait 30 "events under valgrind" tc_ping_seen "$TC_D/ev"
    kill -TERM $pid
    n=0
    wait $pid || n=$?
    [ "$n" = 0 ] || fail "valgrind: events exit $n: $(head -40 "$TC_D/ev.vg")"
    tc_run 0 token ls
    for c in $(awk '$2 == "cli-vg" {print $1}' "$TC_OUT"); do tc_run 0 token revoke "$c"; done
}
