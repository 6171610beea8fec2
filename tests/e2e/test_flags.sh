# The daemons' flags: a bad value is refused at start, with one precise message
# (the library returns the error, the program prints it once), and the three
# flags that take a network (--trust, --allow, and dokkaacfg up's --trust) accept
# and refuse the same texts: they share one parser.

# Run a daemon with bad flags: it must exit 2 and print the message exactly once.
flags_refused() { # MESSAGE PROGRAM ARGS...
    local message=$1 out rc
    shift
    out=$("$E2E_BIN/$1" "${@:2}" 2>&1) && rc=0 || rc=$?
    assert_eq 2 "$rc" "$1 ${*:2}: exit code" || return 1
    assert_eq 1 "$(grep -cF -- "$message" <<<"$out")" "$1 ${*:2}: the message once, in: $out"
}

test_50_bad_daemon_flags_are_refused_once_and_precisely() {
    flags_refused '--parallel: must be an integer 1..64, got "x"' dokkaa-conductor --parallel x
    flags_refused 'link ports: expected MIN-MAX within 1024-65535, got "80-90"' \
        dokkaa-conductor --link-ports 80-90
    flags_refused 'cluster name "Bad": must contain only lower case letters' \
        dokkaa-conductor --cluster Bad
    flags_refused '--workers: must be an integer 0..64, got "many"' dokkaa-ambassador --workers many
    flags_refused '--port: must be an integer 1..65535, got "0"' dokkaa-builder --port 0
}

# A host id names keys (/hosts/<id>, /services/...@<id>): one with '/' or '@'
# would make keys that parse as others', so the conductor refuses it.
test_51_conductor_refuses_a_host_id_that_cannot_name_keys() {
    flags_refused 'host id "a/b": must contain only letters, digits' dokkaa-conductor --host-id a/b
    flags_refused 'host id "a@b": must contain only letters, digits' dokkaa-conductor --host-id a@b
    assert_eq 0 "$(e2e_count_keys /hosts/a)" "nothing registered"
}

# (The builder's --trust is a list, split at commas and spaces like $DOKKAA_TRUST, so
# a text with a space is two texts to it: not among these.)
test_52_every_network_flag_reads_the_same_texts() {
    local bad out
    for bad in 10.0.0.0/+24 10.0.0.0/-0 10.0.0.0/024 10.0.0.0/33 10.0.0/24 10.0.0.0/24x 10.0.0.1junk; do
        flags_refused "\"$bad\": expected an IPv4 network" dokkaa-builder --trust "$bad" || return 1
        flags_refused "\"$bad\": expected an IPv4 network" dokkaa-ambassador --allow "$bad" || return 1
        # dokkaacfg up refuses it before it reaches any host (exit 1: nothing was done)
        out=$(HOME="$E2E_ROOT" "$E2E_BIN/dokkaacfg" up --provider=ssh --host 127.0.0.1 --trust "$bad" 2>&1) &&
            fail "up --trust $bad: accepted"
        [[ "$out" == *"--trust: \"$bad\": expected an IPv4 network"* ]] || fail "up --trust $bad: $out" || return 1
    done
}
