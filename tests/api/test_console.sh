# tests/api/test_console.sh - the web console, end to end in headless Chromium, on the
# suite's 2-host cluster: tests/console/console.test.mjs drives Debian's chromium
# (with playwright-core from npm) through the console of host 1's builder: the first
# load (under 100 KB, nothing from elsewhere), the token, create an app, scale it,
# see its instances run, read logs (also of an instance on the other host), a bad
# manifest's inline error with nothing stored, the live event feed, hosts, delete.
# One line per step; a screenshot of each in $DOKKAA_ARTIFACTS (default
# build/artifacts/console/), and of the page where a step failed.
#
# Helpers are prefixed tw_ (every tests/api/test_*.sh is sourced into one shell).

TW_DIR=$CL_ROOT/tests/console

# What the test needs: Debian's chromium, node and npm (the machine's own, else
# Debian's nodejs and npm), and playwright-core as tests/console/package-lock.json
# pins it, installed here when missing.
tw_need() {
    dk_need_packages chromium
    command -v node >/dev/null && command -v npm >/dev/null || dk_need_packages nodejs npm
    [ -d "$TW_DIR/node_modules/playwright-core" ] && return 0
    (cd "$TW_DIR" && npm ci --no-audit --no-fund --loglevel=error) || { fail "npm ci in $TW_DIR failed"; return 1; }
}

test_70_console_in_headless_chromium() {
    tw_need
    # Every wait inside is bounded; this bounds the whole, browser start included.
    DOKKAA_API=$(api_url 1) DOKKAA_TOKEN=$(api_token) \
        DOKKAA_ARTIFACTS=${DOKKAA_ARTIFACTS:-$CL_ROOT/build/artifacts/console} \
        timeout 600 node "$TW_DIR/console.test.mjs"
}
