# tests/api/test_cli.sh - the dokkaacfg app commands, run as a user runs them against
# the suite's 2-host cluster: every command with its table and its -o json, --help
# of each, the config `up` wrote (and init, the environment and the flags over it),
# the exit codes (0 ok, 1 failure, 2 usage, 3 not found, 4 unauthorized or
# forbidden, 5 invalid input; set and rollback 6 rollout failed, 7 superseded, 130
# interrupted), and bad input: the precise error, once, on stderr, and nothing
# stored.
#
# How set and rollback wait for a rollout (6x_cli_rollout_*) is tested against an
# etcd and a builder of the test's own, without conductors: the test plays the
# scheduler, writing the rollout and revision records (keys.h) with etcdctl.
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
    for a in $TC_APPS; do
        cl_etcdctl del --prefix "/apps/$a/" >/dev/null || true
        cl_etcdctl del --prefix "/revisions/$a/" >/dev/null || true
    done
    tc_solo_stop
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

# ---- a builder without conductors, where the test plays the scheduler ----

# tc_solo_start: an etcd and a builder of the test's own on loopback (stopped by
# tc_end), and a config for them in $TC_SOLO/cfg with an admin token made there;
# tc_srun RC ARGS... is tc_run against that builder, tc_setcd etcdctl against
# that etcd.
tc_solo_start() {
    local base i
    for i in 1 2 3 4 5 6 7 8; do # below the ephemeral ports, and free
        base=$((20000 + RANDOM % 12000))
        ! ss -Hatn "( sport = :$base or sport = :$((base + 1)) or sport = :$((base + 2)) )" | grep -q . && break
    done
    TC_SOLO=$TC_D/solo
    TC_SOLO_ETCD=http://127.0.0.1:$base
    TC_SOLO_API=http://127.0.0.1:$((base + 2))
    dk_start_etcd "$TC_SOLO" "$base" $((base + 1)) || { tail -5 "$TC_SOLO/etcd.log"; return 1; }
    tc_solo_builder
    XDG_CONFIG_HOME=$TC_SOLO/cfg cl_cfg --etcd "$TC_SOLO_ETCD" init --api "$TC_SOLO_API" >/dev/null
}
# tc_solo_builder: (re)start the test's own builder.
tc_solo_builder() {
    dk_start "$TC_SOLO/builder.pid" "$TC_SOLO/builder.log" "$CL_BIN/dokkaa-builder" \
        --etcd "$TC_SOLO_ETCD" --port "${TC_SOLO_API##*:}" --host-id solo
    dk_wait 20 "the test's own builder" curl -sf --max-time 2 "$TC_SOLO_API/healthz" ||
        { tail -5 "$TC_SOLO/builder.log"; return 1; }
}
tc_solo_stop() {
    [ -n "${TC_SOLO:-}" ] || return 0
    dk_stop "$TC_SOLO/builder.pid"
    dk_stop "$TC_SOLO/etcd.pid"
}
tc_srun() { XDG_CONFIG_HOME=$TC_SOLO/cfg tc_run "$@"; }
tc_setcd() { ETCDCTL_API=3 etcdctl --dial-timeout=2s --command-timeout=5s --endpoints="$TC_SOLO_ETCD" "$@"; }

# The records the scheduler writes (keys.h), for sim/web:
# tc_rollout REV HASH STATE UPDATED FAILED TOTAL [REASON [ROLLBACK]]
tc_rollout() {
    jq -cn --argjson rev "$1" --arg hash "$2" --arg state "$3" --argjson u "$4" --argjson f "$5" \
        --argjson n "$6" --arg reason "${7:-}" --arg rb "${8:-}" \
        '{revision: $rev, hash: $hash, state: $state} + (if $rb == "" then {} else {rollback: true} end)
         + {updated: $u, failed: $f, total: $n, since: 1764700000}
         + (if $reason == "" then {} else {reason: $reason} end)'
}
# tc_revision REV HASH OUTCOME MANIFEST_FILE [REASON]
tc_revision() {
    jq -cn --argjson rev "$1" --arg hash "$2" --arg outcome "$3" --rawfile m "$4" --arg reason "${5:-}" \
        '{revision: $rev, hash: $hash, by: "tester", at: "2026-12-02T17:20:42Z", outcome: $outcome}
         + (if $reason == "" then {} else {reason: $reason} end) + {manifest: $m}'
}
TC_RO=/apps/sim/web/rollout
tc_rev_key() { echo "/revisions/sim/web/$1"; }

# The hash the author record beside the manifest says (the builder writes it
# with every manifest).
tc_author_hash() { tc_setcd get --print-value-only /apps/sim/web/author | jq -r .hash; }
tc_author_is() { [ "$(tc_author_hash)" = "$1" ]; }
# The revision hash of a manifest file, as validate says it.
tc_hash_of() { cl_cfg validate "$1" | sed -n 's/.*, hash \([0-9a-f]\{16\}\))$/\1/p'; }

# tc_sim HASH STEP...: the scheduler, in the background: once the manifest with
# HASH is written (the author record says so), each STEP in turn: a number
# sleeps that long, "KEY JSON" puts the record. $TC_SIM is its pid.
tc_sim() {
    local hash=$1
    shift
    (
        dk_wait 20 "the manifest $hash" tc_author_is "$hash" || exit 1
        for step in "$@"; do
            case $step in
            [0-9]*) sleep "$step" ;;
            *) tc_setcd put "${step%% *}" "${step#* }" >/dev/null || exit 1 ;;
            esac
        done
    ) &
    TC_SIM=$!
    echo "$TC_SIM" >> "$TC_D/pids"
}
# tc_sim_done: the scheduler played all its steps.
tc_sim_done() {
    local rc=0
    wait "$TC_SIM" || rc=$?
    assert_eq 0 "$rc" "exit of the played scheduler"
}
# tc_sim_file N [JSON-EXTRA]: a manifest of sim/web that differs by env V=N.
tc_sim_file() {
    local extra='{}'
    [ $# -lt 2 ] || extra=$2
    jq -cn --arg v "$1" --argjson x "$extra" '{image: "dockerfile/nginx", scale: 2, env: {V: $v}} + $x' \
        > "$TC_D/m$1.json"
    echo "$TC_D/m$1.json"
}
# tc_out_after_first: stdout but its first line (set's "updated (revision N)").
tc_out_after_first() { sed 1d "$TC_OUT"; }

# ==== 6x: the CLI ===================================================================

test_60_cli_help_and_usage_errors() {
    local c
    tc_begin
    tc_run 0 --help
    tc_out_has '^usage: dokkaacfg \[--api URL\] \[--token T\] \[--etcd URLS\] \[--provider P\] COMMAND'
    for c in up down status rebalance validate init ls get set rm scale history rollback ps logs hosts events token \
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
history
history cli-x/web extra
rollback
rollback cli-x/web 1 2
set --nosuch cli-x/web -
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
        XDG_CONFIG_HOME=$TC_D/none DOKKAA_API=$(api_url 2) DOKKAA_TOKEN=$tok tc_run 0 set --detach cli-env/web -
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
    tc_run 0 set --detach cli-app/web "$f"
    tc_out_has '^cli-app/web: created \(revision [0-9]+\)$'
    tc_run 0 set --detach cli-app/web "$f"
    tc_out_has '^cli-app/web: updated \(revision [0-9]+\)$'
    assert_eq "$TC_NGINX" "$(cl_etcdctl get --print-value-only /apps/cli-app/web/manifest)" "stored manifest"
    echo '{"image": "dockerfile/nginx", "scale": 0}' | tc_run 0 set --detach -o json cli-app/idle -
    tc_json '.app == "cli-app" and .name == "idle" and .created == true and .manifest.scale == 0'
    # get: the manifest as JSON, which set takes back
    tc_run 0 get cli-app/web
    assert_eq "$(jq -S . <<<"$TC_NGINX")" "$(jq -S . "$TC_OUT")" "get cli-app/web"
    cp "$TC_OUT" "$TC_D/again.json"
    tc_run 0 set --detach cli-app/web "$TC_D/again.json"
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
    tc_err_is 'unknown field "scal"; valid fields: image, scale, command, services, links, env, health, update, stop_grace'
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
    tc_run 0 --token "$adm" set --detach cli-auth/web "$f"
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
    tc_run 0 set --detach cli-tick/tick - <<<"$TC_TICKER"
    cl_wait_converged cli-tick tick 2
    # the instance states come from conductors: ps may lag docker a moment
    dk_wait 20 "ps to show 2 running" eval '[ "$(cl_cfg ps cli-tick | grep -cE " running ")" = 2 ]'
    tc_run 0 ps cli-tick
    tc_out_has '^APP +NAME +I +HOST +STATE +HEALTH +REV +AGE +ERROR$'
    tc_out_has '^cli-tick +tick +0 +h[12] +running +- +[0-9a-f]{8} +[0-9]+[smhd]$'
    tc_out_has '^cli-tick +tick +1 +h[12] +running +- +[0-9a-f]{8} +[0-9]+[smhd]$'
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
    tc_run 3 logs -f cli-tick/tick/7
    # -f of an instance a scale-up just asked for: waits for its container, then
    # follows it
    tc_run 0 scale cli-tick/tick 3
    tc_bg "$TC_D/new" logs -f cli-tick/tick/2
    pid=$TC_PID
    dk_wait 60 "logs -f of the new instance 2" grep -q '^hello from 2$' "$TC_D/new"
    tc_stop "$pid"
    [ ! -s "$TC_D/new.err" ] || [ "$(cat "$TC_D/new.err")" = "cli-tick/tick/2: waiting for its container..." ] ||
        fail "logs -f of the new instance: stderr: $(cat "$TC_D/new.err")"
    # scale: only the scale changes
    tc_run 0 scale cli-tick/tick 1
    tc_out_has '^cli-tick/tick: scale 1 \(revision [0-9]+\)$'
    cl_wait_converged cli-tick tick 1
    tc_run 0 get cli-tick/tick
    tc_json --argjson m "$TC_TICKER" '. == ($m | .scale = 1)'
    # With conductors that record rollouts, set waits for the cluster's own: a
    # changed manifest rolls out, and history has it
    if dk_wait 15 "a rollout record of cli-tick/tick" eval '[ -n "$(cl_etcdctl get --print-value-only /apps/cli-tick/tick/rollout)" ]'; then
        tc_run 0 set cli-tick/tick - <<<"$(jq -c '.scale = 1 | .env = {"V": "2"}' <<<"$TC_TICKER")"
        tc_out_has '^cli-tick/tick: revision [0-9]+ rolled out: 1/1 healthy$'
        [ ! -s "$TC_ERR" ] || fail "set: stderr: $(cat "$TC_ERR")"
        tc_run 0 history cli-tick/tick
        tc_out_has '^[0-9]+\* +rolled-out +.* [0-9a-f]{8}$'
    else
        echo "the conductors write no rollout records: set's wait on the cluster not tested"
    fi
    tc_run 0 scale -o json cli-tick/tick 0
    tc_json '.manifest.scale == 0 and .name == "tick"'
    cl_wait_converged cli-tick tick 0
    tc_run 0 rm cli-tick
}

# tc_ping_seen FILE...: set cli-ev/ping again (a put each time) until every
# FILE of events shows it: the streams start at a moment we cannot see from here.
tc_ping_seen() {
    local f
    cl_cfg set --detach cli-ev/ping - <<<'{"image":"dockerfile/nginx","scale":0}' >/dev/null || return 1
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

# validate, as the README shows it: one line per file, the precise error or "ok" with
# the revision hash, on stdout; exit 5 if any is invalid or cannot be read.
test_605_cli_validate_as_the_readme_shows() {
    tc_begin
    cd "$TC_D"
    printf '%s' '{"image": "dockerfile/nginx", "scale": "3"}' > bad.json
    printf '%s' "$TC_NGINX" > good.json
    tc_run 5 validate bad.json
    assert_eq 'bad.json: scale: must be an integer 0..1000, got "3"' "$(cat "$TC_OUT")" "validate bad.json"
    [ ! -s "$TC_ERR" ] || fail "stderr: $(cat "$TC_ERR")"
    tc_run 5 validate - <<<'{"image":"x","scal":1}'
    assert_eq '-: unknown field "scal"; valid fields: image, scale, command, services, links, env, health, update, stop_grace' \
        "$(cat "$TC_OUT")" "validate - (the README's example)"
    tc_run 0 validate good.json
    tc_out_has '^good\.json: ok \(image dockerfile/nginx, scale 1, hash [0-9a-f]{16}\)$'
    tc_run 5 validate good.json nosuch.json bad.json
    assert_eq 2 "$(grep -c . "$TC_OUT")" "lines for good.json and bad.json"
    grep -q '^nosuch.json: No such file or directory$' "$TC_ERR" || fail "the missing file: $(cat "$TC_ERR")"
}

# The dokkaacfg valgrind runs: $DOKKAA_VALGRIND_BIN (make check gives its plain
# build), else the suite's own. An ASan build cannot run under valgrind at all.
tc_vg_bin() {
    local bin=${DOKKAA_VALGRIND_BIN:-$CL_BIN}/dokkaacfg
    ! ldd "$bin" | grep -q libasan || { fail "$bin is built with ASan, which valgrind cannot run: set DOKKAA_VALGRIND_BIN to a plain build's directory"; return 1; }
    echo "$bin"
}

# tc_vg N RC ARGS...: dokkaacfg ARGS under valgrind (stdin a manifest), its report
# in $TC_D/vg.N. Fails if valgrind found anything, or dokkaacfg died of a signal,
# or exited with another code than RC: a crash is not one of its exit codes.
tc_vg() {
    local n=$1 want=$2 rc=0 pid
    shift 2
    valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
        "$TC_VG_BIN" "$@" > /dev/null 2> "$TC_D/vg.$n" < "$TC_D/good.json" &
    pid=$!
    echo "$pid" >> "$TC_D/pids" # tc_end stops it should the test end first
    wait "$pid" || rc=$?
    [ "$rc" != 99 ] || { fail "valgrind: dokkaacfg $*: $(head -40 "$TC_D/vg.$n")"; return 1; }
    [ "$rc" -le 128 ] || { fail "dokkaacfg $*: killed by signal $((rc - 128)): $(head -40 "$TC_D/vg.$n")"; return 1; }
    [ "$rc" = "$want" ] || fail "dokkaacfg $*: exit $rc, expected $want: $(head -40 "$TC_D/vg.$n")"
}

# Every command, good and bad, leaks nothing, touches no memory it should not, and
# exits with its own code. The runs that do not depend on each other run at once
# (valgrind is slow); each line below is the exit code, then the command.
test_67_cli_clean_under_valgrind() {
    local c n=0 pid pids=() failed=0
    command -v valgrind >/dev/null || fail "valgrind is not installed (dk_need_packages installs it)"
    TC_VG_BIN=$(tc_vg_bin)
    tc_begin cli-vg cli-ev
    printf '%s' "$TC_NGINX" > "$TC_D/good.json"
    tc_vg set 0 set --detach cli-vg/web "$TC_D/good.json"
    cl_wait_converged cli-vg web 1 web # so that logs has a container to read
    while IFS= read -r c; do
        n=$((n + 1))
        tc_vg $n $c &
        pids+=($!)
    done <<EOF
0 ls -o json
0 set --detach cli-vg/idle -
5 set --dry-run cli-vg/bad $TC_D
0 history cli-vg/web
3 history -o json cli-vg/nosuch
3 rollback cli-vg/web 999
5 rollback ../x
0 get cli-vg/web
0 get cli-vg
0 ps
0 hosts
0 logs --tail 1 cli-vg/web
0 token create --name cli-vg
5 get ../x
4 --token dk_nope ls
1 --api http://127.0.0.1:9 ls
2 ls -o yaml
EOF
    for pid in "${pids[@]}"; do wait "$pid" || failed=$((failed + 1)); done
    assert_eq 0 "$failed" "runs that failed (said above)"
    tc_vg scale 0 scale cli-vg/web 0
    tc_vg rm 0 rm cli-vg
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

# ==== the rollout waits, against the test's own builder (tc_solo_start) ==========

# set waits for the rollout of what it wrote, by its hash: each batch's counts,
# then how it ended, as the exit code (0 rolled out, 6 failed, 7 superseded,
# 1 no scheduler, 130 interrupted); --detach and scale do not wait.
test_68_cli_rollout_set_waits() {
    local m1 m2 m2s m3 m4 m5 m6 m7 m8 h1 h2 h3 h4 h5 h6 h7 h8 start pid rc
    tc_begin
    tc_solo_start
    m1=$(tc_sim_file 1)
    h1=$(tc_hash_of "$m1")
    [[ $h1 =~ ^[0-9a-f]{16}$ ]] || fail "validate printed no hash: $(cl_cfg validate "$m1")"
    # --detach: written, back at once, though no scheduler ever answers
    start=$(date +%s)
    tc_srun 0 set --detach sim/web "$m1"
    [ $(($(date +%s) - start)) -le 3 ] || fail "set --detach took $(($(date +%s) - start)) s"
    tc_out_has '^sim/web: created \(revision [0-9]+\)$'
    assert_eq 1 "$(grep -c . "$TC_OUT")" "lines of set --detach"
    assert_eq "" "$(tc_setcd get --keys-only "$TC_RO")" "a rollout record"
    # the builder's author record beside the manifest has the hash validate tells
    assert_eq "$h1" "$(tc_author_hash)" "the author record's hash"
    tc_setcd put "$(tc_rev_key 1)" "$(tc_revision 1 "$h1" rolled-out "$m1")" >/dev/null
    tc_setcd put "$TC_RO" "$(tc_rollout 1 "$h1" rolled-out 2 0 2)" >/dev/null

    # A change: each batch's counts as they change, then rolled out: 0.
    m2=$(tc_sim_file 2)
    h2=$(tc_hash_of "$m2")
    tc_sim "$h2" "$(tc_rev_key 2) $(tc_revision 2 "$h2" rolling "$m2")" \
        "$TC_RO $(tc_rollout 2 "$h2" rolling 0 0 2)" 1.2 \
        "$TC_RO $(tc_rollout 2 "$h2" rolling 1 0 2)" 1.2 \
        "$(tc_rev_key 2) $(tc_revision 2 "$h2" rolled-out "$m2")" \
        "$TC_RO $(tc_rollout 2 "$h2" rolled-out 2 0 2)"
    tc_srun 0 set sim/web "$m2"
    tc_sim_done
    tc_out_has '^sim/web: updated \(revision [0-9]+\)$'
    assert_eq "sim/web: revision 2: 0/2 updated, 0 failed
sim/web: revision 2: 1/2 updated, 0 failed
sim/web: revision 2 rolled out: 2/2 healthy" "$(tc_out_after_first)" "set's progress"
    [ ! -s "$TC_ERR" ] || fail "set: stderr: $(cat "$TC_ERR")"

    # The same manifest again: nothing to roll out, done at once.
    start=$(date +%s)
    tc_srun 0 set sim/web "$m2"
    assert_eq "sim/web: revision 2 rolled out: 2/2 healthy" "$(tc_out_after_first)" "set of the same"
    [ $(($(date +%s) - start)) -le 3 ] || fail "set of the same manifest took $(($(date +%s) - start)) s"
    # -o json: the answer alone on stdout, the progress on stderr
    tc_srun 0 set -o json sim/web "$m2"
    tc_json '.app == "sim" and .name == "web" and .created == false'
    assert_eq "sim/web: revision 2 rolled out: 2/2 healthy" "$(cat "$TC_ERR")" "set -o json's stderr"
    # scale does not wait (nor write a rollout)
    tc_srun 0 scale sim/web 3
    tc_out_has '^sim/web: scale 3 \(revision [0-9]+\)$'
    assert_eq "$(tc_rollout 2 "$h2" rolled-out 2 0 2)" "$(tc_setcd get --print-value-only "$TC_RO")" "the rollout after scale"
    # A scale set with the manifest: the same revision, rolled out while its new
    # instance still starts: waited for.
    m2s=$TC_D/m2s.json
    jq -c '.scale = 3' "$m2" > "$m2s"
    assert_eq "$h2" "$(tc_hash_of "$m2s")" "the hash of a manifest that differs by its scale"
    tc_setcd put "$TC_RO" "$(tc_rollout 2 "$h2" rolled-out 2 0 3)" >/dev/null
    tc_sim "$h2" 1.5 "$TC_RO $(tc_rollout 2 "$h2" rolled-out 3 0 3)"
    tc_srun 0 set sim/web "$m2s"
    tc_sim_done
    assert_eq "sim/web: revision 2: 2/3 updated, 0 failed
sim/web: revision 2 rolled out: 3/3 healthy" "$(tc_out_after_first)" "set's wait for a scale-up"

    # Rolled back: 6, with the revision it went back to and why.
    m3=$(tc_sim_file 3 '{"scale": 3}')
    h3=$(tc_hash_of "$m3")
    tc_sim "$h3" "$(tc_rev_key 3) $(tc_revision 3 "$h3" rolling "$m3")" \
        "$TC_RO $(tc_rollout 3 "$h3" rolling 0 0 3)" 1.2 \
        "$TC_RO $(tc_rollout 3 "$h3" rolling 1 1 3)" 1.2 \
        "$(tc_rev_key 3) $(tc_revision 3 "$h3" rolled-back "$m3" "instance 1: not healthy within 60 s")" \
        "$(tc_rev_key 4) $(tc_revision 4 "$h2" rolling "$m2s")" \
        "$TC_RO $(tc_rollout 4 "$h2" rolling 0 0 3 "revision 3: instance 1: not healthy within 60 s" rollback)"
    tc_srun 6 set sim/web "$m3"
    tc_sim_done
    assert_eq "sim/web: revision 3: 0/3 updated, 0 failed
sim/web: revision 3: 1/3 updated, 1 failed" "$(tc_out_after_first)" "set's progress before the rollback"
    assert_eq "dokkaacfg: sim/web: revision 3 failed and was rolled back to revision 4 (the same as 2): instance 1: not healthy within 60 s" \
        "$(cat "$TC_ERR")" "set's error"
    tc_setcd put "$(tc_rev_key 4)" "$(tc_revision 4 "$h2" rolled-out "$m2s")" >/dev/null
    tc_setcd put "$TC_RO" "$(tc_rollout 4 "$h2" rolled-out 3 0 3)" >/dev/null

    # Paused (update.on_failure "pause"): 6, with the reason.
    m4=$(tc_sim_file 4 '{"scale": 3, "update": {"on_failure": "pause"}}')
    h4=$(tc_hash_of "$m4")
    tc_sim "$h4" "$(tc_rev_key 5) $(tc_revision 5 "$h4" rolling "$m4")" \
        "$TC_RO $(tc_rollout 5 "$h4" rolling 0 0 3)" 1.2 \
        "$(tc_rev_key 5) $(tc_revision 5 "$h4" paused "$m4" "instance 0: exited (code 1)")" \
        "$TC_RO $(tc_rollout 5 "$h4" paused 0 1 3 "instance 0: exited (code 1)")"
    tc_srun 6 set sim/web "$m4"
    tc_sim_done
    assert_eq "sim/web: revision 5: 0/3 updated, 0 failed" "$(tc_out_after_first)" "set's progress before the pause"
    assert_eq "dokkaacfg: sim/web: revision 5 paused: instance 0: exited (code 1)" "$(cat "$TC_ERR")" "set's error"

    # Superseded by a newer revision before it rolled out: 7.
    m5=$(tc_sim_file 5 '{"scale": 3}')
    h5=$(tc_hash_of "$m5")
    m6=$(tc_sim_file 6 '{"scale": 3}')
    h6=$(tc_hash_of "$m6")
    tc_sim "$h5" "$(tc_rev_key 6) $(tc_revision 6 "$h5" rolling "$m5")" \
        "$TC_RO $(tc_rollout 6 "$h5" rolling 0 0 3)" 1.2 \
        "$(tc_rev_key 6) $(tc_revision 6 "$h5" superseded "$m5")" \
        "$(tc_rev_key 7) $(tc_revision 7 "$h6" rolling "$m6")" \
        "$TC_RO $(tc_rollout 7 "$h6" rolling 0 0 3)"
    tc_srun 7 set sim/web "$m5"
    tc_sim_done
    assert_eq "dokkaacfg: sim/web: revision 6 was superseded by revision 7" "$(cat "$TC_ERR")" "set's error"

    # Failed with nothing to roll back to: 6.
    m7=$(tc_sim_file 7 '{"scale": 3}')
    h7=$(tc_hash_of "$m7")
    tc_sim "$h7" "$(tc_rev_key 8) $(tc_revision 8 "$h7" rolling "$m7")" \
        "$TC_RO $(tc_rollout 8 "$h7" rolling 0 0 3)" 1.2 \
        "$(tc_rev_key 8) $(tc_revision 8 "$h7" failed "$m7" "image dockerfile/nginx: not found")" \
        "$TC_RO $(tc_rollout 8 "$h7" failed 0 3 3 "image dockerfile/nginx: not found")"
    tc_srun 6 set sim/web "$m7"
    tc_sim_done
    assert_eq "dokkaacfg: sim/web: revision 8 failed: image dockerfile/nginx: not found" "$(cat "$TC_ERR")" "set's error"

    # Ctrl-C while it waits: 130, and the rollout goes on.
    m8=$(tc_sim_file 8 '{"scale": 3}')
    h8=$(tc_hash_of "$m8")
    tc_sim "$h8" "$(tc_rev_key 9) $(tc_revision 9 "$h8" rolling "$m8")" \
        "$TC_RO $(tc_rollout 9 "$h8" rolling 1 0 3)"
    XDG_CONFIG_HOME=$TC_SOLO/cfg tc_bg "$TC_D/int" set sim/web "$m8"
    pid=$TC_PID
    dk_wait 20 "set to show revision 9's progress" grep -q '^sim/web: revision 9: 1/3 updated, 0 failed$' "$TC_D/int"
    kill -INT "$pid"
    rc=0
    wait "$pid" || rc=$?
    assert_eq 130 "$rc" "exit of set interrupted"
    assert_eq "dokkaacfg: sim/web: interrupted; revision 9 goes on rolling out in the cluster (dokkaacfg history sim/web)" \
        "$(cat "$TC_D/int.err")" "set's message when interrupted"
    tc_sim_done

    # The API gone for a while (less than 30 s): asked again, and the wait goes on.
    XDG_CONFIG_HOME=$TC_SOLO/cfg tc_bg "$TC_D/gone" set sim/web "$m8"
    pid=$TC_PID
    dk_wait 20 "set to wait for revision 9" grep -q '^sim/web: revision 9: 1/3 updated, 0 failed$' "$TC_D/gone"
    dk_stop "$TC_SOLO/builder.pid"
    sleep 2
    tc_setcd put "$(tc_rev_key 9)" "$(tc_revision 9 "$h8" rolled-out "$m8")" >/dev/null
    tc_setcd put "$TC_RO" "$(tc_rollout 9 "$h8" rolled-out 3 0 3)" >/dev/null
    tc_solo_builder
    rc=0
    wait "$pid" || rc=$?
    assert_eq 0 "$rc" "exit of set across the API's absence; stderr: $(cat "$TC_D/gone.err")"
    grep -q '^sim/web: revision 9 rolled out: 3/3 healthy$' "$TC_D/gone" || fail "set across the API's absence: $(cat "$TC_D/gone")"

    # No scheduler at all: 1 after 30 s, saying so.
    start=$(date +%s)
    tc_srun 1 set sim/web "$m1"
    assert_eq "dokkaacfg: sim/web: no scheduler took the change in 30 s; is a conductor running? (dokkaacfg status)" \
        "$(cat "$TC_ERR")" "set without a scheduler"
    [ $(($(date +%s) - start)) -ge 29 ] && [ $(($(date +%s) - start)) -le 40 ] ||
        fail "set without a scheduler gave up after $(($(date +%s) - start)) s"

    # And the wait leaks nothing, and ends rolled out (0).
    command -v valgrind >/dev/null || fail "valgrind is not installed (dk_need_packages installs it)"
    TC_VG_BIN=$(tc_vg_bin)
    tc_sim "$h2" "$(tc_rev_key 10) $(tc_revision 10 "$h2" rolling "$m2")" \
        "$TC_RO $(tc_rollout 10 "$h2" rolling 1 0 2)" 1.2 \
        "$TC_RO $(tc_rollout 10 "$h2" rolled-out 2 0 2)"
    cp "$m2" "$TC_D/good.json"
    XDG_CONFIG_HOME=$TC_SOLO/cfg tc_vg set-wait 0 set sim/web -
    tc_sim_done
}

# history: the revisions as a table, newest first, * on the current one; rollback
# writes a kept one back and waits for it as set does; logs -f waits for an
# instance's container.
test_69_cli_rollout_history_rollback_logs() {
    local m1 m2 m5 h1 h2 h5 start pid rc
    tc_begin
    tc_solo_start
    m1=$(tc_sim_file 1)
    h1=$(tc_hash_of "$m1")
    m2=$(tc_sim_file 2)
    h2=$(tc_hash_of "$m2")
    tc_srun 0 set --detach sim/web "$m1"
    tc_srun 0 set --detach sim/web "$m2"
    tc_setcd put "$(tc_rev_key 1)" "$(tc_revision 1 "$h1" rolled-out "$m1")" >/dev/null
    tc_setcd put "$(tc_rev_key 2)" "$(tc_revision 2 "$h2" rolled-back "$m2" "instance 1: not healthy within 60 s")" >/dev/null
    tc_setcd put "$(tc_rev_key 3)" "$(tc_revision 3 "$h1" rolling "$m1")" >/dev/null
    tc_setcd put "$TC_RO" "$(tc_rollout 3 "$h1" rolling 1 0 2 "revision 2: instance 1: not healthy within 60 s" rollback)" >/dev/null
    dk_wait 10 "the builder to see revision 3" eval 'XDG_CONFIG_HOME=$TC_SOLO/cfg cl_cfg history sim/web | grep -q "^3"'
    tc_srun 0 history sim/web
    tc_out_has '^REV +OUTCOME +BY +AT +HASH +REASON$'
    tc_out_has "^3\* +rolling 1/2 +tester +2026-12-02T17:20:42Z +${h1:0:8}$"
    tc_out_has "^2 +rolled-back +tester +2026-12-02T17:20:42Z +${h2:0:8} +instance 1: not healthy within 60 s$"
    tc_out_has "^1 +rolled-out +tester +2026-12-02T17:20:42Z +${h1:0:8}$"
    assert_eq "REV 3* 2 1" "$(awk '{print $1}' "$TC_OUT" | paste -sd' ')" "history's rows"
    tc_setcd put "$(tc_rev_key 3)" "$(tc_revision 3 "$h1" rolled-out "$m1")" >/dev/null
    tc_setcd put "$TC_RO" "$(tc_rollout 3 "$h1" rolled-out 2 0 2)" >/dev/null
    dk_wait 10 "history to show revision 3 rolled out" eval 'XDG_CONFIG_HOME=$TC_SOLO/cfg cl_cfg history sim/web | grep -q "^3\* *rolled-out "'
    tc_srun 0 history -o json sim/web
    tc_json --arg h1 "$h1" '.app == "sim" and .name == "web" and .rollout.revision == 3
        and [.revisions[].revision] == [3, 2, 1] and .revisions[0].current == true
        and .revisions[1].current == false and .revisions[0].hash == $h1
        and .revisions[0].manifest.env.V == "1" and .revisions[1].reason == "instance 1: not healthy within 60 s"'
    tc_srun 3 history sim/nosuch
    tc_err_says 'sim/nosuch'
    tc_srun 2 history sim
    tc_err_is 'needs APP/NAME, got "sim"'

    # rollback: refused precisely (a revision not kept, what runs already)
    tc_srun 3 rollback sim/web 7
    tc_err_is 'revision 7 of sim/web is not kept (kept: 1..3)'
    tc_srun 1 rollback sim/web 2
    tc_err_is 'revision 2 is what sim/web runs already'
    tc_srun 5 rollback sim/web two
    tc_err_is 'revision: must be an integer 1..999999999, got "two"'
    tc_srun 3 rollback sim/nosuch
    # a change that paused (revision 4); then rollback without a revision: the
    # newest that rolled out with another manifest (3, as 1). It rolls out as
    # revision 5, waited for.
    m5=$(tc_sim_file 5)
    h5=$(tc_hash_of "$m5")
    tc_srun 0 set --detach sim/web "$m5"
    tc_setcd put "$(tc_rev_key 4)" "$(tc_revision 4 "$h5" paused "$m5" "instance 0: exited (code 1)")" >/dev/null
    tc_setcd put "$TC_RO" "$(tc_rollout 4 "$h5" paused 0 1 2 "instance 0: exited (code 1)")" >/dev/null
    tc_sim "$h1" "$(tc_rev_key 5) $(tc_revision 5 "$h1" rolling "$m1")" \
        "$TC_RO $(tc_rollout 5 "$h1" rolling 1 0 2)" 1.2 \
        "$(tc_rev_key 4) $(tc_revision 4 "$h5" superseded "$m5" "instance 0: exited (code 1)")" \
        "$(tc_rev_key 5) $(tc_revision 5 "$h1" rolled-out "$m1")" \
        "$TC_RO $(tc_rollout 5 "$h1" rolled-out 2 0 2)"
    tc_srun 0 rollback sim/web
    tc_sim_done
    assert_eq "sim/web: rolling back to revision 3
sim/web: revision 5: 1/2 updated, 0 failed
sim/web: revision 5 rolled out: 2/2 healthy" "$(cat "$TC_OUT")" "rollback's output"
    [ ! -s "$TC_ERR" ] || fail "rollback: stderr: $(cat "$TC_ERR")"
    assert_eq "$(cat "$m1")" "$(tc_setcd get --print-value-only /apps/sim/web/manifest)" "the manifest rolled back to"
    tc_setcd get --print-value-only /apps/sim/web/author | jq -e '.by | test("rollback to revision 3")' >/dev/null ||
        fail "author record of the rollback: $(tc_setcd get --print-value-only /apps/sim/web/author)"
    # --detach: at once; -o json: the answer
    start=$(date +%s)
    tc_srun 0 rollback --detach sim/web 2
    assert_eq "sim/web: rolling back to revision 2" "$(cat "$TC_OUT")" "rollback --detach"
    [ $(($(date +%s) - start)) -le 3 ] || fail "rollback --detach took $(($(date +%s) - start)) s"
    assert_eq "$(cat "$m2")" "$(tc_setcd get --print-value-only /apps/sim/web/manifest)" "the manifest rolled back to"
    tc_srun 0 rollback -o json --detach sim/web 1
    tc_json --arg h1 "$h1" '. == {app: "sim", name: "web", revision: 1, hash: $h1}'

    # logs -f of an instance the manifest asks for but which has no container yet:
    # it waits (saying so once) until interrupted, which ends it as it ends a
    # stream; without -f, and beyond the scale, not found as always
    tc_srun 3 logs sim/web/1
    tc_err_says 'no instance sim/web/1'
    tc_srun 3 logs -f sim/web/2
    tc_err_says 'no instance sim/web/2'
    XDG_CONFIG_HOME=$TC_SOLO/cfg tc_bg "$TC_D/logs" logs -f sim/web/1
    pid=$TC_PID
    dk_wait 10 "logs -f to wait" grep -q . "$TC_D/logs.err"
    # a status without a container: still waiting
    tc_setcd put /status/sim/web/1 '{"host":"solo","container":"","state":"pending","since":"2026-12-02T17:20:42Z"}' >/dev/null
    sleep 1.5
    kill -INT "$pid"
    rc=0
    wait "$pid" || rc=$?
    assert_eq 0 "$rc" "exit of logs -f interrupted while it waits"
    assert_eq "sim/web/1: waiting for its container..." "$(cat "$TC_D/logs.err")" "logs -f's stderr"
    [ ! -s "$TC_D/logs" ] || fail "logs -f: stdout: $(cat "$TC_D/logs")"
}
