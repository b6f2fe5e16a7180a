#!/bin/bash
# /health, /ping, response headers, error shapes (404/405), authentication
# failures, oversized headers, graceful shutdown.
. "$(dirname "$0")/lib.sh"

tsv_start s1
U=$s1_URL

http GET "$U/health"
expect_status 200 "health"
expect_header "Content-Type" "application/json; charset=utf-8"
expect_header "X-Influxdb-Build" "OSS"
expect_header "X-Influxdb-Version" "2\.[1-9][0-9]*\.[0-9]+"
[ "$(json_get 'j["status"]')" = pass ] || fail "health status"
[ "$(json_get 'j["name"]')" = influxdb ] || fail "health name"
[ "$(json_get 'j["checks"]')" = "[]" ] || fail "health checks"
json_get 'j["message"], j["commit"]' >/dev/null
python3 - "$HTTP_BODY" <<'PY' || fail "version must look like 2.x.y with x >= 1 (influx CLI legacy check)"
import json, re, sys
v = json.load(open(sys.argv[1]))["version"]
m = re.search(r"(\d+)\.(\d+)\.(\d+)", v)
assert m and int(m.group(1)) == 2 and int(m.group(2)) >= 1, v
PY
pass "GET /health"

http GET "$U/ping"
expect_status 204 "ping"
expect_header "X-Influxdb-Build" "OSS"
expect_header "X-Influxdb-Version" "2\."
pass "GET /ping"

http GET "$U/api/v2/nowhere"
expect_error 404 "not found" "path not found"
expect_header "X-Influxdb-Version" "2\."
pass "unknown path -> 404 JSON"

http DELETE "$U/health"
expect_error 405 "method not allowed" "^allow: "
expect_header "Allow" "GET"
pass "wrong method -> 405 JSON"

http GET "$U/health/"
expect_status 200 "trailing slash stripped"
pass "trailing slash"

# Authentication: every backup/restore endpoint needs the operator token.
P="$U/api/v2/backup/kv"
http GET "$P"
expect_error 401 unauthorized "unauthorized access"
http GET "$P" -H "Authorization: Basic $(printf 'a:b' | base64)"
expect_error 401 unauthorized "unauthorized access"
http GET "$P" -H "Authorization: Token wrong-token"
expect_error 401 unauthorized "unauthorized access"
http GET "$P" -H "Authorization: Token"
expect_error 401 unauthorized
http GET "$P" -H "Authorization: token $TSV_TOKEN"
[ "$HTTP_STATUS" != 401 ] || fail "scheme must be case-insensitive"
http GET "$P" -H "Authorization: BEARER $TSV_TOKEN"
[ "$HTTP_STATUS" != 401 ] || fail "Bearer scheme must be accepted"
if grep -q "$TSV_TOKEN" "$s1_LOG"; then fail "token appears in the log"; fi
pass "auth failures -> 401 JSON; token never logged"

# Oversized request headers -> 413 in the InfluxDB error shape.
big=$(head -c 40000 /dev/zero | tr '\0' 'a')
http GET "$U/health" -H "X-Big: $big"
expect_error 413 "request too large"
pass "oversized headers -> 413"

# One log line per request with method, path, status, bytes and duration.
grep -E 'msg=request method=GET path="/ping" status=204 bytes_in=0 bytes_out=0 duration_ms=' \
    "$s1_LOG" >/dev/null || fail "request log line missing"
pass "request log"

# A chunked POST body of several MB is read completely: a 6 MB SQLite file
# sent with Transfer-Encoding: chunked (no Content-Length), as the influx CLI
# sends uploads, must arrive intact (its SQL dump comes back unchanged).
DB="$TSV_TMP/big.sqlite"
sqlite3 "$DB" "CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB);
  WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 1500)
  INSERT INTO t SELECT i, randomblob(4000) FROM n;"
[ "$(stat -c %s "$DB")" -gt 5000000 ] || fail "test database too small"
http POST "$U/api/v2/restore/sql" -H "$(auth)" -H 'Content-Type: application/octet-stream' \
    -H 'Transfer-Encoding: chunked' --data-binary "@$DB"
expect_status 204 "chunked restore/sql"
grep -E 'path="/api/v2/restore/sql" status=204 bytes_in=[0-9]+' "$s1_LOG" | tail -1 |
    grep -q "bytes_in=$(stat -c %s "$DB") " || fail "server did not read the whole chunked body"
cmp <(sqlite3 "$DB" .dump) <(sqlite3 "$s1_DATA/state/influxd.sqlite" .dump) ||
    fail "restored SQL store differs from the upload"
pass "chunked POST of $(($(stat -c %s "$DB") / 1000000)) MB read completely"

tsv_stop s1
grep -q 'msg=stopped' "$s1_LOG" || fail "no clean stop"
pass "SIGTERM -> clean exit 0"
# Bodies over --max-body-size are refused with 413, chunked or not, and
# nothing is stored.
tsv_start s2 --max-body-size 1MiB
head -c 2000000 /dev/urandom >"$TSV_TMP/2mb.bin"
http POST "$s2_URL/api/v2/restore/sql" -H "$(auth)" --data-binary "@$TSV_TMP/2mb.bin"
expect_error 413 "request too large" "exceeds the limit"
http POST "$s2_URL/api/v2/restore/sql" -H "$(auth)" -H 'Transfer-Encoding: chunked' \
    --data-binary "@$TSV_TMP/2mb.bin"
expect_error 413 "request too large" "exceeds the limit"
[ ! -e "$s2_DATA/state/influxd.sqlite" ] || fail "an oversized upload was stored"
[ -z "$(ls -A "$s2_DATA/tmp")" ] || fail "an oversized upload left files in tmp/"
pass "bodies over --max-body-size -> 413, nothing stored"
tsv_stop s2
echo "1..all passed"
