#!/bin/sh
# An init script of docker/compose.yaml: runs once, after the onboarding and
# the fixture restore, against the temporary server (INFLUX_HOST, INFLUX_TOKEN
# and INFLUX_ORG are set by the entrypoint). Creates one more bucket.
set -eu
org_id=$(curl -fsS "$INFLUX_HOST/api/v2/orgs?org=$INFLUX_ORG" -H "Authorization: Token $INFLUX_TOKEN" |
    sed -n 's/.*"id":"\([0-9a-f]\{16\}\)".*/\1/p' | head -n 1)
[ -n "$org_id" ] || { echo "org $INFLUX_ORG not found" >&2; exit 1; }
curl -fsS -o /dev/null -X POST "$INFLUX_HOST/api/v2/buckets" -H "Authorization: Token $INFLUX_TOKEN" \
    -H 'Content-Type: application/json' \
    -d "{\"orgID\":\"$org_id\",\"name\":\"labels\",\"retentionRules\":[{\"type\":\"expire\",\"everySeconds\":86400}]}"
echo "20-labels-bucket.sh: bucket labels created in $INFLUX_ORG"
