#!/bin/sh
# The client service of docker/compose.yaml: checks, through the HTTP API and
# the tsvault client, that the server came up onboarded from
# DOCKER_INFLUXDB_INIT_* and holding what /docker-entrypoint-initdb.d gave it.
# Exit 0 only if every check passes (docker-compose --exit-code-from client).
set -eu
H=$INFLUX_HOST
T=$INFLUX_TOKEN
failures=0
ok() { echo "ok - $*"; }
bad() {
    echo "FAIL - $*" >&2
    failures=$((failures + 1))
}
get() { curl -sS -H "Authorization: Token $T" "$H$1"; }

curl -fsS "$H/health" | grep -q '"status":"pass"' && ok "health passes" || bad "GET /health"
get /api/v2/setup | grep -q '"allowed":false' && ok "onboarding done" || bad "setup still allowed"

# The admin token of DOCKER_INFLUXDB_INIT_ADMIN_TOKEN works and sees the org.
orgs=$(get '/api/v2/orgs?org=acme')
echo "$orgs" | grep -q '"name":"acme"' && ok "org acme, admin token accepted" || bad "org acme: $orgs"
b=$(get '/api/v2/buckets?name=metrics')
echo "$b" | grep -q '"everySeconds":604800' && ok "bucket metrics with retention 1w" || bad "bucket metrics: $b"
get '/api/v2/buckets?name=labels' | grep -q '"name":"labels"' && ok "init script ran" || bad "bucket labels missing"
get '/api/v2/buckets?name=nope' | grep -q '"buckets":\[\]' && ok "an unknown bucket is not there" || bad "unknown bucket"
code=$(curl -sS -o /dev/null -w '%{http_code}' -H 'Authorization: Token wrong' "$H/api/v2/buckets")
[ "$code" = 401 ] && ok "a wrong token is refused" || bad "wrong token answered $code"

# The 1.6 fixture restored from the init directory reads back exactly. Each
# 1.x database/RP became a bucket db/rp whose one 2.x retention policy is
# "autogen" (as InfluxDB's 1.x upgrade names it), so the header of the daily
# export names autogen where influxd 1.6's names daily; every point is the same.
for rp in autogen daily; do
    if tsvault export --host "$H" --token "$T" --org acme --bucket "fixture/$rp" --out /tmp/$rp.lp 2>/tmp/$rp.err &&
        sed -e "s/^CREATE DATABASE fixture WITH NAME autogen\$/CREATE DATABASE fixture WITH NAME $rp/" \
            -e "s/^# CONTEXT-RETENTION-POLICY:autogen\$/# CONTEXT-RETENTION-POLICY:$rp/" /tmp/$rp.lp |
        cmp -s - "$EXPECTED_DIR/export-$rp.lp"; then
        ok "fixture/$rp exports as expected ($(wc -l </tmp/$rp.lp) lines)"
    else
        bad "fixture/$rp export differs: $(cat /tmp/$rp.err)"
    fi
done
tsvault verify --host "$H" --token "$T" >/tmp/verify.out 2>&1 && ok "verify: $(tail -n 1 /tmp/verify.out)" ||
    bad "verify: $(cat /tmp/verify.out)"

[ $failures -eq 0 ] || { echo "$failures check(s) failed" >&2; exit 1; }
echo "all checks passed"
