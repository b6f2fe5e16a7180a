#!/bin/bash
# The web console (docs/console.md) in a real browser: Debian's chromium
# driven by puppeteer-core (console_browser.mjs). Log in, upload the 1.6
# portable backup with a progress bar, a restore job to its end, a
# delete_data + restore_data of an interval, a PITR from the timeline;
# screenshots in <build>/artifacts/console/, no console error allowed.
# Also checks, with curl, the static files' headers and that they never
# shadow the API.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/jobs_lib.sh"

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || fail "chromium missing: sh scripts/install-deps.sh"
[ -d "$HERE/node_modules/puppeteer-core" ] || fail "puppeteer-core missing: cd tests/integration && npm ci"

tsv_start s --job-workers 2
U=$s_URL

# ---- static files: public, strict headers, the API still answers ----------
http GET "$U/"
expect_status 200 "GET /"
expect_header "Content-Type" "text/html; charset=utf-8"
grep -qi "^Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self';" "$HTTP_HEADERS" ||
    fail "no strict CSP: $(cat "$HTTP_HEADERS")"
grep -qi "frame-ancestors 'none'" "$HTTP_HEADERS" || fail "CSP allows framing"
expect_header "X-Content-Type-Options" "nosniff"
grep -qi '^Set-Cookie' "$HTTP_HEADERS" && fail "the console sets a cookie"
grep -q '<script' "$HTTP_BODY" && ! grep -q '<script type="module" src="/ui/app.js"></script>' "$HTTP_BODY" &&
    fail "an inline script in index.html"
ETAG=$(sed -n 's/^ETag: *\(.*\)\r$/\1/Ip' "$HTTP_HEADERS")
[ -n "$ETAG" ] || fail "no ETag"
http GET "$U/ui/index.html" -H "If-None-Match: $ETAG"
expect_status 304 "revalidation with the ETag"
for f in app.js api.js util.js buckets.js jobs.js files.js pitr.js connections.js; do
    http GET "$U/ui/$f"
    expect_status 200 "GET /ui/$f"
    expect_header "Content-Type" "text/javascript; charset=utf-8"
    # Data is rendered as text only: no HTML parsing of strings.
    grep -qE 'innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(' "$HTTP_BODY" &&
        fail "ui/$f parses HTML strings or evaluates code"
done
http GET "$U/ui/style.css"
expect_header "Content-Type" "text/css; charset=utf-8"
http GET "$U/ui/nope.js"
expect_error 404 "not found" '^console file "nope.js" not found$'
http POST "$U/"
expect_status 405 "POST /"
http GET "$U/health"
[ "$(json_get 'j["server"]')" = tsvault ] || fail "/health shadowed"
http GET "$U/api/v2/orgs"
expect_error 401 unauthorized "unauthorized access"
pass "static files: public, CSP, nosniff, ETag/304, 404, API not shadowed"

# ---- data: an org to restore into, the archive to upload --------------------
onboard "$U"
tar czf "$W/fixture-1.6.tar.gz" -C "$FIXTURE/backup" .

ART=${CONSOLE_ARTIFACTS:-${TSV_BUILD_DIR:-$(dirname "$TSVAULT_BIN")}/artifacts/console}
URL=$U TOKEN=$TSV_TOKEN ARCHIVE="$W/fixture-1.6.tar.gz" CONSOLE_ARTIFACTS="$ART" CHROMIUM="$CHROMIUM" \
    NODE_PATH="$HERE/node_modules" timeout 240 node "$HERE/console_browser.mjs" ||
    fail "browser run failed (screenshots so far in $ART)"
for p in login files job jobs buckets pitr connections buckets-phone; do
    [ -s "$ART/$p.png" ] || fail "screenshot $p.png missing"
done
pass "browser: login, upload 100%, restore job, delete_data + restore_data, PITR; screenshots in $ART"

# What the browser did, seen through the API.
# The PITR went back to just before the restore job: its buckets are gone.
[ -z "$(bucket_id "$U" "$TSV_TOKEN" fixture/autogen)" ] || fail "fixture/autogen still there after the PITR"
[ -n "$(bucket_id "$U" "$TSV_TOKEN" metrics)" ] || fail "bucket metrics lost by the PITR"
http GET "$U/api/v2/jobs?type=pitr&executionStatus=completed" -H "$(auth)"
[ "$(json_get 'len(j["values"])')" = 1 ] || fail "no completed PITR job: $(cat "$HTTP_BODY")"
pass "the API shows the console's jobs"

# ---- GET /api/v2/pitr/preview (the console's "what would change") -----------
# Just before the console's PITR, the fixture buckets were there: a restore to
# that moment would add them back, shard by shard.
BEFORE=$(python3 -c 'import json,sys,datetime
j=json.load(open(sys.argv[1]))["values"][0]
t=datetime.datetime.fromisoformat(j["createdTimestamp"][:26].rstrip("Z")+"+00:00")-datetime.timedelta(milliseconds=1)
print(t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))' "$HTTP_BODY")
http GET "$U/api/v2/pitr/preview?target_time=$BEFORE" -H "$(auth)"
expect_status 200 "preview"
python3 - "$HTTP_BODY" <<'PY' || fail "preview: $(cat "$HTTP_BODY")"
import json, sys
j = json.load(open(sys.argv[1]))
assert list(j) == ["target_time", "now", "kvThen", "kvNow", "sqlThen", "sqlNow", "shardsUnchanged",
                   "buckets", "shards"], list(j)
b = {x["bucketName"]: x for x in j["buckets"]}
assert set(b) == {"fixture/autogen", "fixture/daily"}, b
assert b["fixture/autogen"]["change"] == "added" and b["fixture/autogen"]["shardsThen"] == 3, b
assert b["fixture/autogen"]["shardsNow"] == 0 and b["fixture/daily"]["shardsAdded"] == 2, b
assert len(j["shards"]) == 5 and all(s["change"] == "added" and s["versionNow"] is None
                                     and s["sizeThen"] > 0 for s in j["shards"]), j["shards"]
PY
curl -sS -H "Authorization: Token $TSV_TOKEN" "$U/api/v2/pitr/preview?target_time=$BEFORE" | grep -q '"change":"added"' ||
    fail "docs/api.md curl example"
http GET "$U/api/v2/pitr/preview" -H "$(auth)"
expect_error 400 invalid "^target_time is required \\(RFC 3339"
http GET "$U/api/v2/pitr/preview?target_time=yesterday" -H "$(auth)"
expect_error 400 invalid '^target_time "yesterday": invalid RFC3339 time'
http GET "$U/api/v2/pitr/preview?target_time=2001-01-01T00:00:00Z" -H "$(auth)"
expect_status 400 "preview before the range"
grep -q 'is outside the restorable range' "$HTTP_BODY" || fail "range message: $(cat "$HTTP_BODY")"
http GET "$U/api/v2/pitr/preview?target_time=$BEFORE"
expect_error 401 unauthorized "unauthorized access"
pass "GET /api/v2/pitr/preview: buckets and shards a restore would add back; 400s and 401"
