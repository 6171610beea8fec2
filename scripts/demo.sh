#!/usr/bin/env bash
# make demo: `make up`, then the seed's example with the seed's own commands, then
# the crawler's first lines, fetched from nginx through the ambassador. With
# HOSTS=N on a cluster of N hosts: the commands go to host h1's builder, and the
# two containers land wherever the scheduler puts them.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
scripts/up.sh
bin=${DOKKAA_BIN:-build/src}

if [ -n "${HOSTS:-}" ]; then
    address=10.88.0.11 etcd=http://10.88.0.11:2379
else
    address=127.0.0.1 etcd=http://127.0.0.1:2379
fi
# The engine of the host that runs instance 0 of dummy/$1.
engine_of() {
    local host
    host=$(ETCDCTL_API=3 etcdctl --endpoints=$etcd get --print-value-only "/status/dummy/$1/0" |
           sed -n 's/.*"host":"\([^"]*\)".*/\1/p')
    if [ -n "${HOSTS:-}" ]; then echo "-H unix:///run/dokkaa/$host/docker.sock"; fi
}
crawler_log() { docker $(engine_of crawler) logs dummy---crawler 2>/dev/null; }
fetched() { crawler_log | grep -q "Welcome to nginx"; }

cd examples/nginx-and-crawler
set -x
curl -L -XPUT -d value="`cat nginx.json`" http://$address:4001/v2/keys/apps/dummy/nginx/manifest
curl -L -XPUT --data-urlencode value="`cat crawler.json`" http://$address:4001/v2/keys/apps/dummy/crawler/manifest
set +x
echo
dk_wait 180 "the crawler to fetch nginx's page" fetched
cd ../..
"$bin/dokkaacfg" --etcd "$etcd" status
echo; echo '$ docker logs dummy---crawler | head -8'
crawler_log | grep -v '^ *[%0-9]\|Dload' | head -8
echo; echo '$ build/src/dokkaacfg ps'
"$bin/dokkaacfg" ps
echo; dk_log "the crawler reaches nginx; \`make down\` removes it all"
dk_log "console: http://$address:4001/ (its admin token: jq -r .token ~/.config/dokkaa/config.json)"
