#!/bin/bash
# The curl examples of docs/api.md and the behaviour docs/operations.md and
# docs/storage.md describe (statuses, shapes, trash entries), run against a
# real server, so the documentation cannot drift from the code unnoticed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixture.sh"

W="$TSV_TMP/work"
mkdir -p "$W"
fixture_prepare "$W"
tsv_start s
H=$s_URL
T=$TSV_TOKEN

# ---- system ---------------------------------------------------------------
http GET "$H/health"
expect_status 200 health
[ "$(json_get 'j["server"]')" = tsvault ] || fail "health server"
http HEAD "$H/ping" -I
expect_status 204 ping
pass "health, ping"
http GET "$H/metrics"
expect_status 200 metrics
expect_header "Content-Type" "text/plain; version=0.0.4; charset=utf-8"
grep -q '^tsvault_http_requests_total{method="GET",route="/health",status="200"} 1$' "$HTTP_BODY" ||
    fail "metrics example: $(grep tsvault_http_requests_total "$HTTP_BODY")"
promtool check metrics <"$HTTP_BODY" >/dev/null 2>&1 || fail "promtool check metrics"
pass "metrics (open without --metrics-auth, passes promtool)"

# ---- onboarding -------------------------------------------------------------
http GET "$H/api/v2/setup"
[ "$(json_get 'j["allowed"]')" = True ] || fail "setup allowed"
http POST "$H/api/v2/setup" -H 'Content-Type: application/json' \
    -d '{"username":"admin","password":"change-me-please","org":"acme","bucket":"metrics","retentionPeriodSeconds":0}'
expect_status 201 "setup"
ORG=$(json_get 'j["org"]["id"]')
BUCKET=$(json_get 'j["bucket"]["id"]')
SETUP_TOKEN=$(json_get 'j["auth"]["token"]')
ADMIN=$(json_get 'j["user"]["id"]')
[ "$(json_get 'len(j["auth"]["token"])')" = 88 ] || fail "generated token length"
[ "$(json_get 'j["bucket"]["retentionRules"][0]["shardGroupDurationSeconds"]')" = 604800 ] || fail "sgd"
http POST "$H/api/v2/setup" -d '{"username":"u","org":"o","bucket":"b"}'
expect_error 422 conflict "onboarding has already been completed"
http POST "$H/api/v2/setup" -d '{"org":"o","bucket":"b"}'
expect_error 422 "unprocessable entity" "username is empty"
pass "setup"

# ---- auth -----------------------------------------------------------------
http GET "$H/api/v2/orgs"
expect_error 401 unauthorized "unauthorized access"
http GET "$H/api/v2/orgs" -H "Authorization: Bearer $SETUP_TOKEN"
expect_status 200 "bearer"
pass "auth"

# ---- orgs -----------------------------------------------------------------
http GET "$H/api/v2/orgs?org=acme" -H "Authorization: Token $T"
[ "$(json_get 'j["orgs"][0]["id"]')" = "$ORG" ] || fail "org by name"
http GET "$H/api/v2/orgs?org=nope" -H "Authorization: Token $T"
expect_error 404 "not found" 'organization name "nope" not found'
http POST "$H/api/v2/orgs" -H "Authorization: Token $T" -d '{"name":"globex","description":"second org"}'
expect_status 201 "create org"
http POST "$H/api/v2/orgs" -H "Authorization: Token $T" -d '{"name":"globex"}'
expect_error 422 conflict "already exists"
http POST "$H/api/v2/orgs" -H "Authorization: Token $T" -d '{"name":""}'
expect_error 400 "empty value" "org name is empty"
pass "orgs"

# ---- buckets --------------------------------------------------------------
http POST "$H/api/v2/buckets" -H "Authorization: Token $T" \
    -d "{\"orgID\":\"$ORG\",\"name\":\"sensors\",\"description\":\"raw sensor data\",\"retentionRules\":[{\"type\":\"expire\",\"everySeconds\":2592000}]}"
expect_status 201 "create bucket"
SENSORS=$(json_get 'j["id"]')
[ "$(json_get 'j["retentionRules"][0]["shardGroupDurationSeconds"]')" = 86400 ] || fail "sgd 1d"
http POST "$H/api/v2/buckets" -H "Authorization: Token $T" -d "{\"orgID\":\"$ORG\",\"name\":\"sensors\"}"
expect_error 422 conflict "bucket with name sensors already exists"
http POST "$H/api/v2/buckets" -H "Authorization: Token $T" -d "{\"orgID\":\"$ORG\",\"name\":\"_x\"}"
expect_error 400 invalid "may not start with underscore"
http POST "$H/api/v2/buckets" -H "Authorization: Token $T" -d '{"name":"x"}'
expect_error 400 invalid "organization id is required"
http POST "$H/api/v2/buckets" -H "Authorization: Token $T" \
    -d "{\"orgID\":\"$ORG\",\"name\":\"short\",\"retentionRules\":[{\"everySeconds\":60}]}"
expect_error 422 "unprocessable entity" "at least 1h0m0s"
http GET "$H/api/v2/buckets?org=acme&name=metrics" -H "Authorization: Token $T"
[ "$(json_get 'j["buckets"][0]["id"]')" = "$BUCKET" ] || fail "bucket by name"
http GET "$H/api/v2/buckets?limit=0" -H "Authorization: Token $T"
expect_error 400 invalid "limit must be between 1 and 100"
http GET "$H/api/v2/buckets/$SENSORS" -H "Authorization: Token $T"
expect_status 200 "get bucket"
http GET "$H/api/v2/buckets/0000000000000001" -H "Authorization: Token $T"
expect_error 404 "not found" "bucket not found"
http GET "$H/api/v2/buckets/123" -H "Authorization: Token $T"
expect_error 400 invalid "id must have a length of 16 bytes"
http DELETE "$H/api/v2/buckets/$SENSORS" -H "Authorization: Token $T"
expect_status 204 "delete bucket"
pass "buckets"

# ---- admin: bucket/org updates, authorizations, users, members ------------
http PATCH "$H/api/v2/buckets/$BUCKET" -H "Authorization: Token $T" \
    -d '{"description":"app metrics","retentionRules":[{"type":"expire","everySeconds":604800}]}'
expect_status 200 "patch bucket"
[ "$(json_get 'j["retentionRules"][0]["shardGroupDurationSeconds"]')" = 86400 ] || fail "patched sgd"
[ "$(json_get 'j["description"]')" = "app metrics" ] || fail "patched description"
http PATCH "$H/api/v2/buckets/$BUCKET" -H "Authorization: Token $T" -d '{"retentionRules":[]}'
expect_status 200 "back to infinite retention"
http GET "$H/api/v2/orgs/$ORG" -H "Authorization: Token $T"
expect_status 200 "get org"
http POST "$H/api/v2/authorizations" -H "Authorization: Token $T" \
    -d "{\"orgID\":\"$ORG\",\"userID\":\"$ADMIN\",\"description\":\"metrics reader\",\"permissions\":[{\"action\":\"read\",\"resource\":{\"type\":\"buckets\",\"id\":\"$BUCKET\",\"orgID\":\"$ORG\"}}]}"
expect_status 201 "create authorization"
READER=$(json_get 'j["token"]')
READER_ID=$(json_get 'j["id"]')
[ ${#READER} = 88 ] || fail "reader token length"
http GET "$H/api/v2/authorizations/$READER_ID" -H "Authorization: Token $T"
[ "$(json_get 'j["token"]')" = "" ] || fail "token shown after creation"
http GET "$H/api/v2/buckets" -H "Authorization: Token $READER"
[ "$(json_get '[b["id"] for b in j["buckets"]]')" = "['$BUCKET']" ] || fail "bucket-scoped list"
http POST "$H/api/v2/authorizations" -H "Authorization: Token $T" -d "{\"orgID\":\"$ORG\",\"permissions\":[{\"action\":\"read\",\"resource\":{\"type\":\"buckets\"}}]}"
expect_error 400 invalid "unable to create token"
P=$(for t in authorizations buckets dashboards orgs sources tasks telegrafs users variables scrapers \
        secrets labels views documents notificationRules notificationEndpoints checks dbrp notebooks \
        annotations remotes replications; do printf '{"action":"read","resource":{"type":"%s"}},' $t; done)
http POST "$H/api/v2/authorizations" -H "Authorization: Token $T" \
    -d "{\"orgID\":\"$ORG\",\"userID\":\"$ADMIN\",\"description\":\"nightly backup\",\"permissions\":[${P%,}]}"
expect_status 201 "backup token"
BACKUP_TOKEN=$(json_get 'j["token"]')
http GET "$H/api/v2/backup/kv" -H "Authorization: Token $BACKUP_TOKEN"
expect_status 200 "read-only token backs up"
http POST "$H/api/v2/restore/sql" -H "Authorization: Token $BACKUP_TOKEN" --data-binary 'x'
expect_error 401 unauthorized "^write:authorizations is unauthorized$"
http GET "$H/api/v2/backup/kv" -H "Authorization: Token $READER"
expect_error 401 unauthorized "^read:authorizations is unauthorized$"
http PATCH "$H/api/v2/authorizations/$READER_ID" -H "Authorization: Token $T" -d '{"status":"inactive"}'
expect_status 200 "deactivate"
http GET "$H/api/v2/buckets" -H "Authorization: Token $READER"
expect_error 401 unauthorized "token is inactive"
http DELETE "$H/api/v2/authorizations/$READER_ID" -H "Authorization: Token $T"
expect_status 204 "delete authorization"
http GET "$H/api/v2/buckets" -H "Authorization: Token $READER"
expect_error 401 unauthorized "unauthorized access"
http POST "$H/api/v2/users" -H "Authorization: Token $T" -d '{"name":"bob"}'
expect_status 201 "create user"
BOB=$(json_get 'j["id"]')
http POST "$H/api/v2/users" -H "Authorization: Token $T" -d '{"name":"bob"}'
expect_error 422 conflict "user with name bob already exists"
http PUT "$H/api/v2/users/$BOB/password" -H "Authorization: Token $T" -d '{"password":"short"}'
expect_error 400 invalid "passwords must be at least 8 characters long"
http GET "$H/api/v2/me" -H "Authorization: Token $SETUP_TOKEN"
[ "$(json_get 'j["name"]')" = admin ] || fail "me"
http POST "$H/api/v2/orgs/$ORG/members" -H "Authorization: Token $T" -d "{\"id\":\"$BOB\"}"
expect_status 201 "add member"
http GET "$H/api/v2/orgs/$ORG/members" -H "Authorization: Token $T"
[ "$(json_get '[(u["role"], u["name"]) for u in j["users"]]')" = "[('member', 'bob')]" ] || fail "members"
http DELETE "$H/api/v2/orgs/$ORG/members/$BOB" -H "Authorization: Token $T"
expect_status 204 "remove member"
pass "admin routes"

# ---- server-level errors --------------------------------------------------
http GET "$H/api/v2/nope"
expect_error 404 "not found" "path not found"
http PUT "$H/api/v2/buckets"
expect_error 405 "method not allowed" "allow: GET, POST"
expect_header Allow "GET, POST"
http GET "$H/api/v2/orgs" -H "Authorization: Token $T" -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' a)"
expect_error 413 "request too large" "the limit is 16384"
pass "404, 405, 413"

# ---- restore/bucketMetadata (manifest of docs/api.md) ---------------------
cat >"$W/manifest.json" <<EOF
{
  "organizationID": "$ORG",
  "organizationName": "acme",
  "bucketID": "0a1b2c3d4e5f6071",
  "bucketName": "restored",
  "defaultRetentionPolicy": "autogen",
  "retentionPolicies": [{
    "name": "autogen", "replicaN": 1, "duration": 0,
    "shardGroupDuration": 604800000000000,
    "shardGroups": [
      {"id": 1, "startTime": "2024-01-01T00:00:00Z", "endTime": "2024-01-08T00:00:00Z",
       "shards": [{"id": 1, "shardOwners": []}]},
      {"id": 2, "startTime": "2024-01-08T00:00:00Z", "endTime": "2024-01-15T00:00:00Z",
       "shards": [{"id": 2, "shardOwners": []}]},
      {"id": 3, "startTime": "2024-01-15T00:00:00Z", "endTime": "2024-01-22T00:00:00Z",
       "deletedAt": "2024-02-01T00:00:00Z",
       "shards": [{"id": 3, "shardOwners": []}]}
    ],
    "subscriptions": []
  }]
}
EOF
http POST "$H/api/v2/restore/bucketMetadata" -H "Authorization: Token $T" \
    -H 'Content-Type: application/json' --data-binary "@$W/manifest.json"
expect_status 201 "bucketMetadata"
expect_header "Content-Type" "application/json; charset=utf-8"
grep -q "$(printf '\t')\"shardMappings\"" "$HTTP_BODY" || fail "tab-indented body"
RESTORED=$(json_get 'j["id"]')
[ "$(json_get '[m["oldId"] for m in j["shardMappings"]]')" = "[1, 2]" ] || fail "deleted group must not be mapped"
NEW1=$(json_get 'j["shardMappings"][0]["newId"]')
NEW2=$(json_get 'j["shardMappings"][1]["newId"]')
DELETED=$((NEW2 + 1))
[ -d "$s_DATA/state/engine/data/$RESTORED/autogen/$NEW1" ] || fail "shard dir"
[ ! -e "$s_DATA/state/engine/data/$RESTORED/autogen/$DELETED" ] || fail "no dir for a deleted group"
http POST "$H/api/v2/restore/bucket-metadata" -H "Authorization: Token $T" --data-binary "@$W/manifest.json"
expect_error 422 conflict "bucket with name restored already exists"
http POST "$H/api/v2/restore/bucketMetadata" -H "Authorization: Token $T" \
    -d "{\"organizationID\":\"$ORG\",\"bucketName\":\"x\",\"retentionPolicies\":[]}"
expect_error 422 "unprocessable entity" "bucket must have 1 retention policy"
http POST "$H/api/v2/restore/bucketMetadata" -H "Authorization: Token $T" -d '{"bucketName":"x"}'
expect_error 404 "not found" "organization not found"
pass "restore/bucketMetadata"

# ---- restore/shards --------------------------------------------------------
http POST "$H/api/v2/restore/shards/$NEW1" -H "Authorization: Token $T" \
    -H 'Content-Type: application/octet-stream' -H 'Content-Encoding: gzip' --data-binary "@$W/s1.tar.gz"
expect_status 204 "restore shard gzip"
# Shard 2 with a tombstone (v4, no records): installed, not dropped (B3).
mkdir -p "$W/t2/$RESTORED/autogen/2"
cp "$W"/x/fixture/autogen/2/* "$W/t2/$RESTORED/autogen/2/"
printf '\000\000\025\004' >"$W/t2/$RESTORED/autogen/2/000000002-000000001.tombstone"
(cd "$W/t2" && tar --format=ustar -cf "$W/shard2.tar" "$RESTORED")
http POST "$H/api/v2/restore/shards/$NEW2" -H "Authorization: Token $T" --data-binary "@$W/shard2.tar"
expect_status 204 "restore shard plain tar"
[ -f "$s_DATA/state/engine/data/$RESTORED/autogen/$NEW2/000000002-000000001.tombstone" ] ||
    fail "tombstone installed"
http POST "$H/api/v2/restore/shards/$DELETED" -H "Authorization: Token $T" --data-binary "@$W/shard2.tar"
expect_error 404 "not found" "shard $DELETED not found"
http POST "$H/api/v2/restore/shards/abc" -H "Authorization: Token $T" --data-binary "@$W/shard2.tar"
expect_error 400 invalid 'invalid shard ID "abc"'
http POST "$H/api/v2/restore/shards/$NEW1" -H "Authorization: Token $T" -H 'Content-Encoding: br' \
    --data-binary "@$W/s1.tar.gz"
expect_error 415 "unsupported media type" 'unsupported Content-Encoding "br"'
http POST "$H/api/v2/restore/shards/$NEW1" -H "Authorization: Token $T" -H 'Content-Encoding: gzip' \
    --data-binary 'not gzip'
expect_error 400 invalid "gzip"
http POST "$H/api/v2/restore/shards/$NEW1" -H "Authorization: Token $T" --data-binary ''
expect_error 400 invalid "empty request body"
# Replacing shard 1 again soft-deletes the previous version in the vault.
http POST "$H/api/v2/restore/shards/$NEW1" -H "Authorization: Token $T" -H 'Content-Encoding: x-gzip' \
    -H 'Transfer-Encoding: chunked' --data-binary "@$W/s1.tar.gz"
expect_status 204 "restore shard again"
pass "restore/shards"

# ---- vault: unusedShards and the Polaris path (docs/api.md "Vault") ----------
http GET "$H/api/v2/buckets/$RESTORED/unusedShards" -H "Authorization: Token $T"
expect_status 200 "unusedShards"
python3 - "$HTTP_BODY" "$NEW1" <<'PY' || fail "unusedShards: $(cat "$HTTP_BODY")"
import json, sys
j = json.load(open(sys.argv[1]))
assert set(j) == {"bucketID", "bucketName", "orgID", "unusedShards"}, j
u = j["unusedShards"][0]
assert set(u) == {"shardID", "retentionPolicy", "start", "end", "version", "size", "files",
                  "inUseSince", "softDeletedAt", "softDeletedBy", "purgeDueAt"}, u
assert u["shardID"] == int(sys.argv[2]) and u["version"] == 1 and u["softDeletedBy"] == "shard-restore", u
PY
cp "$HTTP_BODY" "$W/unused.json"
NAME=$(json_get 'j["bucketName"]')
http GET "$H/v1/projects/$(json_get 'j["orgID"]')/tables/$NAME/unusedSegments" -H "Authorization: Token $T"
expect_status 200 "unusedSegments"
cmp -s "$HTTP_BODY" "$W/unused.json" || fail "unusedSegments differs from unusedShards"
pass "unusedShards, unusedSegments"

# ---- restore/bucket/{id} (protobuf DatabaseInfo, encoded by hand) ---------
python3 - "$W/dbinfo.pb" <<'PY'
import struct, sys
def varint(n):
    out = b""
    while True:
        b = n & 0x7f; n >>= 7
        if n: out += bytes([b | 0x80])
        else: return out + bytes([b])
def field(num, wt, payload):
    key = varint(num << 3 | wt)
    return key + (varint(len(payload)) + payload if wt == 2 else varint(payload))
def msg(*parts): return b"".join(parts)
def group(gid, start, end, shard):
    return msg(field(1, 0, gid), field(2, 0, start), field(3, 0, end), field(4, 0, 0),
               field(5, 2, msg(field(1, 0, shard))))
day = 86400 * 10**9
rp = msg(field(1, 2, b"autogen"), field(2, 0, 0), field(3, 0, 7 * day), field(4, 0, 1),
         field(5, 2, group(1, 1704067200 * 10**9, 1704672000 * 10**9, 3)),
         field(5, 2, group(2, 1704672000 * 10**9, 1705276800 * 10**9, 4)))
db = msg(field(1, 2, b"0a1b2c3d4e5f6071"), field(2, 2, b"autogen"), field(3, 2, rp))
open(sys.argv[1], "wb").write(db)
PY
http POST "$H/api/v2/restore/bucket/$BUCKET" -H "Authorization: Token $T" -H 'Content-Type: text/plain' \
    --data-binary "@$W/dbinfo.pb"
expect_status 200 "restore bucket proto"
expect_header "Content-Type" "text/plain; charset=utf-8"
python3 - "$HTTP_BODY" <<'PY' || fail "bucket/{id} body: $(cat "$HTTP_BODY")"
import json, sys
raw = open(sys.argv[1]).read()
assert raw.endswith("\n"), raw
m = json.loads(raw)
assert sorted(m) == ["3", "4"], m
PY
http POST "$H/api/v2/restore/buckets/0000000000000001" -H "Authorization: Token $T" --data-binary "@$W/dbinfo.pb"
expect_error 404 "not found" "bucket not found"
http POST "$H/api/v2/restore/buckets/$BUCKET" -H "Authorization: Token $T" --data-binary 'garbage'
expect_error 400 invalid "invalid DatabaseInfo"
pass "restore/bucket/{id}"

# ---- export, stats, verify (api.md "Reading a bucket back") -----------------
# "restored" holds the fixture's autogen shards 1 and 2 (shard 3's group is
# deleted), so its export is the first part of influx_inspect's export.
curl -sS -H "Authorization: Token $T" "$H/api/v2/export?bucketID=$RESTORED&db=fixture" -o "$W/restored.lp"
[ "$(sed -n 1p "$W/restored.lp")" = "# INFLUXDB EXPORT: 1677-09-21T00:12:43Z - 2262-04-11T23:47:16Z" ] || fail "export header"
cmp -n "$(stat -c %s "$W/restored.lp")" "$W/restored.lp" "$FIXTURE/expected/export-autogen.lp" ||
    fail "export is not a prefix of influx_inspect's"
[ "$(wc -l <"$W/restored.lp")" = 4385 ] || fail "export lines: $(wc -l <"$W/restored.lp")"
curl -sS --compressed -H "Authorization: Token $T" "$H/api/v2/export?org=acme&bucket=restored&db=fixture" |
    cmp - "$W/restored.lp" || fail "export by names, compressed"
curl -sS -H "Authorization: Token $T" \
    "$H/api/v2/export?bucketID=$RESTORED&measurement=extremes&start=2024-01-08T00:00:00Z" -o "$W/ext.lp"
[ "$(grep -vc '^#\|^CREATE' "$W/ext.lp")" = 0 ] || fail "extremes after 01-08: none in shards 1-2"
curl -sS -H "Authorization: Token $T" "$H/api/v2/export?bucketID=$RESTORED&measurement=extremes" -o "$W/ext.lp"
[ "$(grep -c '^extremes,kind=float' "$W/ext.lp")" = 4 ] || fail "extremes in shard 1"
http GET "$H/api/v2/export?bucketID=$RESTORED&start=2024-01-09T00:00:00Z&stop=2024-01-02T00:00:00Z" -H "Authorization: Token $T"
expect_error 400 invalid "start must not be after stop"
http GET "$H/api/v2/buckets/$RESTORED/stats" -H "Authorization: Token $T"
expect_status 200 stats
[ "$(json_get '(j["shardCount"], j["fileCount"], j["valueCount"], j["seriesCount"], j["shards"][0]["state"])')" = \
    "(2, 4, 4378, 9, 'ok')" ] || fail "stats: $(head -c 400 "$HTTP_BODY")"
http POST "$H/api/v2/verify?bucketID=$RESTORED" -H "Authorization: Token $T"
expect_status 200 verify
[ "$(tail -n 1 "$HTTP_BODY" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["ok"], j["tsmFiles"], j["tombstoneFiles"])')" = "True 4 1" ] ||
    fail "verify: $(tail -n 1 "$HTTP_BODY")"
"$TSVAULT_BIN" export --host "$H" --token "$T" --org acme --bucket restored --db fixture | cmp - "$W/restored.lp" ||
    fail "tsvault export --host"
"$TSVAULT_BIN" verify --host "$H" --token "$T" --bucket-id "$RESTORED" >"$W/verify.txt" || fail "tsvault verify --host"
grep -q '^summary: {"type":"summary","ok":true' "$W/verify.txt" || fail "verify --host output"
pass "export, stats, verify"

# ---- restore/sql -----------------------------------------------------------
python3 -c "
import sqlite3, sys; db = sqlite3.connect(sys.argv[1])
db.execute('create table migrations(id integer primary key, name text)'); db.commit()" "$W/influxd.sqlite"
gzip -c "$W/influxd.sqlite" >"$W/influxd.sqlite.gz"
http POST "$H/api/v2/restore/sql" -H "Authorization: Token $T" -H 'Content-Type: application/octet-stream' \
    -H 'Content-Encoding: gzip' --data-binary "@$W/influxd.sqlite.gz"
expect_status 204 "restore sql"
cmp "$W/influxd.sqlite" "$s_DATA/state/influxd.sqlite" || fail "sql file in place"
http POST "$H/api/v2/restore/sql" -H "Authorization: Token $T" --data-binary "@$W/manifest.json"
expect_error 400 invalid "invalid SQL backup: not an SQLite 3 database"
pass "restore/sql"

# ---- restore/kv -------------------------------------------------------------
curl -sS -f -H "Authorization: Token $T" "$H/api/v2/backup/kv" -o "$W/kv.bolt" || fail "backup kv"
gzip -c "$W/kv.bolt" >"$W/kv.bolt.gz"
http POST "$H/api/v2/restore/kv" -H "Authorization: Token $T" -H 'Content-Type: application/octet-stream' \
    -H 'Content-Encoding: gzip' --data-binary "@$W/kv.bolt.gz"
expect_status 200 "restore kv"
printf '{\n\t"token": "%s"\n}' "$SETUP_TOKEN" | cmp - "$HTTP_BODY" || fail "restore/kv body: $(cat "$HTTP_BODY")"
http GET "$H/api/v2/vault/kv/versions" -H "Authorization: Token $T"
expect_status 200 "KV versions"
[ "$(json_get '[v["state"] for v in j["versions"]][-2:]')" = "['soft_deleted', 'in_use']" ] ||
    fail "previous KV generation kept as a version: $(cat "$HTTP_BODY")"
[ -z "$(ls -A "$s_DATA/trash")" ] || fail "restore/kv used the trash"
http GET "$H/api/v2/vault/sql/versions" -H "Authorization: Token $T"
[ "$(json_get 'j["versions"][-1]["state"]')" = in_use ] || fail "SQL version: $(cat "$HTTP_BODY")"
[ -z "$(ls -A "$s_DATA/state/engine/data/$RESTORED/autogen/$NEW1")" ] || fail "shards are empty after restore/kv"
http GET "$H/api/v2/orgs" -H "Authorization: Token $T"
expect_status 200 "bootstrap token survives restore/kv"
# A KV without any operator token (a fresh server's) is refused, nothing changes.
tsv_start e
curl -sS -f -H "Authorization: Token $T" "$e_URL/api/v2/backup/kv" -o "$W/empty.bolt" || fail "empty kv"
http POST "$H/api/v2/restore/kv" -H "Authorization: Token $T" --data-binary "@$W/empty.bolt"
expect_error 422 "unprocessable entity" "invalid backup without an operator token"
http POST "$H/api/v2/restore/kv" -H "Authorization: Token $T" --data-binary 'not a bolt file'
expect_error 400 invalid "invalid bolt file"
http GET "$H/api/v2/buckets/$BUCKET" -H "Authorization: Token $SETUP_TOKEN"
expect_status 200 "state unchanged after refused restores"
pass "restore/kv"

# ---- Files API and Jobs API (docs/api.md) ------------------------------------
# (the examples run against this server after the restore/kv above; T is the
# bootstrap token)
tar czf "$W/fixture-1.6.tar.gz" -C "$TSV_TESTDATA/influxdb-1.6-portable/backup" .
HTTP_STATUS=$(cd "$W" && curl -sS --location --request POST "$H/v1/files" --header "Authorization: Bearer $T" \
    --form 'file=@"fixture-1.6.tar.gz"' -o "$TSV_TMP/body.$$" -w '%{http_code}')
HTTP_BODY="$TSV_TMP/body.$$"
expect_status 200 "files upload example"
[ "$(json_get 'j["dataFormat"]+" "+j["compressionFormat"]')" = "influxdb1-portable gz" ] || fail "upload: $(cat "$HTTP_BODY")"
http GET "$H/api/v2/files" -H "Authorization: Token $T"
[ "$(json_get '[f["name"] for f in j["files"]]')" = "['fixture-1.6.tar.gz']" ] || fail "files list"
[ "$(json_get 'sorted(j["space"])')" = "['allocatedBytes', 'remainingBytes', 'usedBytes']" ] || fail "space"
# docs_job JOBS_URL BODY WHAT: POSTs the job as the docs do (no Content-Type),
# polls it (120 s at most) and fails unless it completes; sets DOCS_JOB.
docs_job() {
    local i=0 st
    http POST "$1" -H "Authorization: Token $T" -d "$2"
    expect_status 201 "$3"
    DOCS_JOB=$(json_get 'j["id"]')
    while :; do
        http GET "$1/$DOCS_JOB" -H "Authorization: Token $T"
        st=$(json_get 'j["executionStatus"]')
        [ "$st" = completed ] && break
        case $st in failed|canceled) fail "$3 $st: $(cat "$HTTP_BODY")" ;; esac
        i=$((i + 1)); [ $i -lt 600 ] || fail "$3 too slow"; sleep 0.2
    done
}
docs_job "$H/api/v2/jobs" '{"type":"restore","source":{"type":"file","fileName":"fixture-1.6.tar.gz"},"target":{"type":"bucket","bucketName":"fixture/autogen","newBucketName":"fixture-copy"}}' \
    "job example"
J=$DOCS_JOB
http GET "$H/api/v2/jobs/$J/metrics" -H "Authorization: Token $T"
[ "$(json_get 'j["totals"]["shardsDone"], j["totals"]["shardsTotal"], j["totals"]["percentDone"]')" = "(3, 3, 100.0)" ] || fail "metrics"
http GET "$H/api/v2/jobs/$J/logs" -H "Authorization: Token $T"
[ "$(json_get 'j["logs"][-1]["message"]')" = completed ] || fail "logs"
http GET "$H/api/v2/jobs?executionStatus=completed&paginationLimit=1" -H "Authorization: Token $T"
[ "$(json_get 'j["values"][0]["id"], j["moreResultsAvailable"]')" = "('$J', False)" ] || fail "jobs list"
http GET "$H/api/v2/jobs?paginationLimit=0" -H "Authorization: Token $T"
expect_error 400 invalid 'paginationLimit must be an integer from 1 to 1000, got "0"'
# delete_data / restore_data examples (on the fixture-copy bucket the restore job made)
for body in '{"type":"delete_data","target":{"type":"table","tableName":"fixture-copy","intervals":["2024-01-03/2024-01-10"]}}' \
    '{"type":"restore_data","target":{"type":"table","tableName":"fixture-copy"},"interval":"2024-01-03/2024-01-10"}'; do
    docs_job "$H/v1/jobs" "$body" "vault job example"
done
VJ=$DOCS_JOB
http GET "$H/v1/jobs/$VJ/logs" -H "Authorization: Token $T"
[ "$(json_get 'sum("restored, version" in l["message"] for l in j["logs"])')" = 2 ] || fail "restore_data example logs: $(cat "$HTTP_BODY")"
http PATCH "$H/api/v2/jobs/$J" -H "Authorization: Token $T" -d '{"desiredExecutionStatus":"canceled"}'
expect_error 409 conflict "already completed"
http DELETE "$H/v1/files/fixture-1.6.tar.gz" -H "Authorization: Token $T"
expect_status 204 "files delete example"
http DELETE "$H/v1/files/fixture-1.6.tar.gz" -H "Authorization: Token $T"
expect_error 404 "not found"
pass "Files API and Jobs API examples"

tsv_stop s
grep -q 'msg=stopped' "$s_LOG" || fail "clean shutdown"
pass "shutdown"
echo "1..all passed"
