# tests/api/test_logs.sh - GET /api/v1/apps/<app>/<name>/instances/<i>/logs: a
# container's output from whichever host runs it, always asked of h1's builder, so
# that one instance is read from h1's engine and the other through h2's builder.

LOGS_APP=logs
LOGS_NAME=ticker
# Numbered lines every 0.2 s: what a test reads says how far the log had got.
LOGS_MANIFEST='{"image": "dockerfile/ubuntu", "scale": 2, "command": ["/bin/bash", "-c", "i=0; while true; do i=$((i+1)); echo line $i; sleep 0.2; done"]}'

logs_path() { echo "/api/v1/apps/${3:-$LOGS_APP}/${4:-$LOGS_NAME}/instances/$1/logs${2:+?$2}"; }

# logs_get INSTANCE QUERY OUT [HOST [curl args]]: the body into OUT; prints
# "STATUS CONTENT-TYPE". Asked of h1 unless HOST says otherwise.
logs_get() {
    local i=$1 query=$2 out=$3 host=${4:-1}; shift $(($# < 4 ? $# : 4))
    curl -s --max-time 10 -o "$out" -w '%{http_code} %{content_type}' \
        -H "Authorization: Bearer $(api_token)" "$@" "$(api_url "$host")$(logs_path "$i" "$query")"
}

# The line numbers in a log, one per line.
logs_numbers() { sed -n 's/^line \([0-9][0-9]*\)$/\1/p' "$1"; }
# Every line is "line N", N one more than the line before.
logs_consecutive() {
    [ "$(grep -vc '^line [0-9][0-9]*$' "$1")" = 0 ] || fail "not only numbered lines in: $(head -c 300 "$1")"
    logs_numbers "$1" | awk 'NR > 1 && $1 != prev + 1 { bad = 1 } { prev = $1 } END { exit bad }' ||
        fail "lines not consecutive: $(logs_numbers "$1" | tr '\n' ' ' | head -c 300)"
}
logs_last() { logs_numbers "$1" | tail -1; }

logs_has_line() { # INSTANCE N OUT
    [ "$(logs_get "$1" "" "$3")" = "200 text/plain; charset=utf-8" ] && grep -qx "line $2" "$3"
}

# The instance of the ticker (or of NAME) that runs on host H (1 or 2).
logs_instance_on() { # H [NAME]
    local i
    for i in 0 1; do
        [ "$(cl_host_of "$LOGS_APP" "${2:-$LOGS_NAME}" $i)" = "$1" ] && { echo $i; return 0; }
    done
    return 1
}
logs_container() { if [ "$1" = 0 ]; then echo "$LOGS_APP---$LOGS_NAME"; else echo "$LOGS_APP---$LOGS_NAME---$1"; fi; }

# The ticker, one instance on each host, each past line 5. Every test starts with
# it, so that any of them can run alone (tests/api/run.sh test_52).
logs_ticker_up() {
    local h i out=$1
    cl_converged "$LOGS_APP" "$LOGS_NAME" 2 || cl_set "$LOGS_APP" "$LOGS_NAME" "$LOGS_MANIFEST"
    cl_wait_converged "$LOGS_APP" "$LOGS_NAME" 2
    for h in 1 2; do
        i=$(logs_instance_on $h) || fail "no instance on h$h: the two are not spread over both hosts"
        dk_wait 30 "instance $i (h$h) to print line 5" logs_has_line "$i" 5 "$out"
    done
}

# dokkaa_builder_streams{kind="logs"} of host H's builder.
logs_streams_on() {
    curl -s --max-time 5 "$(api_url "$1")/metrics" | sed -n 's/^dokkaa_builder_streams{kind="logs"} \([0-9-]*\)$/\1/p'
}
logs_streams_are() { [ "$(logs_streams_on 1)" = "$1" ] && [ "$(logs_streams_on 2)" = "$2" ]; }

test_50_logs_of_instances_on_h2_and_on_h1_through_h1() {
    local h i out ref
    out=$(mktemp) ref=$(mktemp)
    trap "rm -f $out $ref" EXIT # expanded now: the locals are gone when it runs
    logs_ticker_up "$out"
    for h in 2 1; do
        i=$(logs_instance_on $h)
        assert_eq "200 text/plain; charset=utf-8" "$(logs_get "$i" "" "$out")" "instance $i (h$h)"
        logs_consecutive "$out"
        assert_eq 1 "$(logs_numbers "$out" | head -1)" "first line of instance $i (h$h)"
        # What the engine of h$h says, read after ours: ours is the start of it.
        cl_docker $h logs "$(logs_container "$i")" > "$ref" 2>&1
        head -c "$(stat -c %s "$out")" "$ref" | cmp -s - "$out" ||
            fail "instance $i (h$h): not the start of docker logs: $(head -c 200 "$out")"
        echo "instance $i on h$h: $(logs_last "$out") lines through h1"
    done
}

test_51_tail_gives_the_last_lines() {
    local h i out before
    out=$(mktemp)
    trap "rm -f $out" EXIT
    logs_ticker_up "$out"
    for h in 2 1; do
        i=$(logs_instance_on $h)
        logs_get "$i" "tail=1" "$out" >/dev/null
        before=$(logs_last "$out")
        assert_eq "200 text/plain; charset=utf-8" "$(logs_get "$i" "tail=3" "$out")" "tail=3 of instance $i (h$h)"
        assert_eq 3 "$(logs_numbers "$out" | grep -c .)" "lines of tail=3, instance $i (h$h)"
        logs_consecutive "$out"
        [ "$(logs_last "$out")" -ge "$before" ] || fail "tail=3 ends at line $(logs_last "$out"), before $before"
        assert_eq "200 text/plain; charset=utf-8" "$(logs_get "$i" "tail=0" "$out")" "tail=0 of instance $i (h$h)"
        assert_eq 0 "$(stat -c %s "$out")" "bytes of tail=0, instance $i (h$h)"
    done
}

test_52_follow_gives_lines_printed_after_the_request() {
    local h i out before rc
    out=$(mktemp)
    trap "rm -f $out" EXIT
    logs_ticker_up "$out"
    for h in 2 1; do
        i=$(logs_instance_on $h)
        logs_get "$i" "tail=1" "$out" >/dev/null
        before=$(logs_last "$out")
        # The stream stays open: curl ends it at --max-time (28), with what came.
        rc=0
        curl -sN --max-time 3 -o "$out" -H "Authorization: Bearer $(api_token)" \
            "$(api_url 1)$(logs_path "$i" "follow=1&tail=1")" || rc=$?
        assert_eq 28 "$rc" "curl's exit status (28: still open at --max-time) for instance $i (h$h)"
        logs_consecutive "$out"
        # 3 s at 5 lines a second: well past the 5 more asked for, even on a busy machine.
        [ "$(logs_last "$out")" -ge $((before + 5)) ] ||
            fail "follow of instance $i (h$h) got to line $(logs_last "$out") only, from $before"
        echo "instance $i on h$h: lines $(logs_numbers "$out" | head -1)..$(logs_last "$out") followed (from $before)"
    done
}

# A log that says one line, then nothing: a follow stream of it is idle.
LOGS_QUIET='{"image": "dockerfile/ubuntu", "scale": 2, "command": ["/bin/bash", "-c", "trap \"exit 0\" TERM; echo ready; sleep infinity & wait"]}'

# The client leaving an idle follow stream ends it on h1 and, through it, the one
# h1 opened on h2: each builder's gauge goes down once the stream's producer has
# been stopped and joined, though nothing was written that could fail.
test_53_client_leaving_an_idle_stream_ends_both_streams() {
    local out pid t0 i
    out=$(mktemp)
    trap "rm -f $out" EXIT
    cl_set "$LOGS_APP" quiet "$LOGS_QUIET"
    cl_wait_converged "$LOGS_APP" quiet 2
    i=$(logs_instance_on 2 quiet) || fail "no quiet instance on h2"
    dk_wait 10 "no log stream open" logs_streams_are 0 0
    curl -sN -o "$out" -H "Authorization: Bearer $(api_token)" \
        "$(api_url 1)$(logs_path "$i" "follow=1" "$LOGS_APP" quiet)" &
    pid=$!
    trap "rm -f $out; kill $pid 2>/dev/null || true" EXIT
    dk_wait 10 "a log stream open on h1 and h2" logs_streams_are 1 1
    dk_wait 10 "the quiet instance's one line" grep -qx ready "$out"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    t0=$(date +%s.%N)
    dk_wait 5 "both streams to end after the client left" logs_streams_are 0 0
    echo "streams on h1 and h2 ended $(echo "$(date +%s.%N) - $t0" | bc) s after the client left"
}

test_54_unknown_instance_is_404_with_json_error() {
    local out
    out=$(mktemp)
    trap "rm -f $out" EXIT
    assert_eq "404 application/json" "$(logs_get 7 "" "$out")" "instance 7 of a scale 2"
    assert_eq not_found "$(jq -r .code "$out")" "code"
    jq -r .error "$out" | grep -q "$LOGS_APP/$LOGS_NAME/7" || fail "error does not name the instance: $(cat "$out")"
    assert_eq "404 application/json" "$(curl -s --max-time 10 -o "$out" -w '%{http_code} %{content_type}' \
        "$(api_url 1)$(logs_path 0 "" nosuch app)")" "an app that does not exist"
    assert_eq not_found "$(jq -r .code "$out")" "code"
}

test_55_bad_instance_or_query_is_400() {
    local out i q
    out=$(mktemp)
    trap "rm -f $out" EXIT
    for i in x -1; do
        assert_eq "400 application/json" "$(logs_get "$i" "" "$out")" "instance \"$i\""
        assert_eq invalid "$(jq -r .code "$out")" "code for instance \"$i\""
        jq -r .error "$out" | grep -q instance || fail "error for \"$i\" does not say instance: $(cat "$out")"
    done
    for q in "tail=-1" "tail=abc" "tail=" "follow=yes"; do
        assert_eq "400 application/json" "$(logs_get 0 "$q" "$out")" "query $q"
        jq -r .error "$out" | grep -q "^${q%%=*}: " || fail "error for $q does not name it: $(cat "$out")"
    done
}

# A forwarded request for an instance this host does not run is not forwarded
# again: two builders whose copies disagree cannot pass it back and forth.
test_56_forwarded_request_is_not_forwarded_again() {
    local out i
    out=$(mktemp)
    trap "rm -f $out" EXIT
    logs_ticker_up "$out"
    i=$(logs_instance_on 1)
    assert_eq "502 application/json" "$(logs_get "$i" "" "$out" 2 -H "X-Dokkaa-Forwarded: 1")" \
        "instance $i (h1) asked of h2 as if forwarded"
    jq -r .error "$out" | grep -q "runs on host h1" || fail "error: $(cat "$out")"
    assert_eq "200 text/plain; charset=utf-8" "$(logs_get "$i" "tail=1" "$out" 2)" "the same, not forwarded"
}

test_59_logs_app_removed() {
    cl_delete_app "$LOGS_APP"
    dk_wait 60 "the app's containers to go" logs_app_gone
}
logs_app_gone() { [ "$(cl_running "$LOGS_APP" "$LOGS_NAME")" = 0 ] && [ "$(cl_running "$LOGS_APP" quiet)" = 0 ]; }
