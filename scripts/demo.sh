#!/usr/bin/env bash
# make demo: `make up`, then the seed's example with the seed's own commands, then
# the crawler's first lines, fetched from nginx through the ambassador.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
scripts/up.sh

cd examples/nginx-and-crawler
set -x
curl -L -XPUT -d value="`cat nginx.json`" http://127.0.0.1:4001/v2/keys/apps/dummy/nginx/manifest
curl -L -XPUT --data-urlencode value="`cat crawler.json`" http://127.0.0.1:4001/v2/keys/apps/dummy/crawler/manifest
set +x
echo
dk_wait 120 "the crawler to fetch nginx's page" \
    sh -c 'docker logs dummy---crawler 2>/dev/null | grep -q "Welcome to nginx"'
docker ps --filter label=dokkaa.cluster=dokkaa --format 'table {{.Names}}\t{{.Image}}\t{{.Status}}\t{{.Ports}}'
echo; echo '$ docker logs dummy---crawler | head -8'
docker logs dummy---crawler 2>/dev/null | grep -v '^ *[%0-9]\|Dload' | head -8
echo; dk_log "the crawler reaches nginx; \`make down\` removes it all"
