# tests/api/lib.sh - helpers for the API suite, on top of tests/cluster/lib.sh.

# The API of host i (default 1) and the admin token `dokkaacfg up` wrote to the
# CLI's config.
api_url() { echo "http://$(cl_addr "${1:-1}"):4001"; }
api_token() { jq -r .token "$XDG_CONFIG_HOME/dokkaa/config.json"; }

# api METHOD PATH [curl args...]: prints the body, then the status on a last line.
api() {
    local method=$1 path=$2; shift 2
    curl -s --max-time 10 -X "$method" -w '\n%{http_code}' "$(api_url)$path" "$@"
}
api_admin() { local m=$1 p=$2; shift 2; api "$m" "$p" -H "Authorization: Bearer $(api_token)" "$@"; }
