#!/bin/bash
# HTTP as real clients speak it (issue 10): Expect: 100-continue answered
# before the body, or the final status at once without reading it; 417 for
# other expectations; no Nagle/delayed-ACK wait on keep-alive connections;
# a stalled body cut off with nothing installed; the upload limit's 503 +
# Retry-After; keep-alive reuse after refused uploads; 200 connections
# stalled in their headers while /health and a restore still answer.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixture.sh"
RAW="python3 $(dirname "$0")/httpraw.py"

fixture_server --http-read-header-timeout 2s --http-body-idle-timeout 3s \
    --max-concurrent-uploads 1 --max-body-size 50MiB
A="Authorization: Token $TSV_TOKEN"

fixture_bucket "$U" fixture-org autogen "$W/m.json"
BID=$(json_get 'j["id"]')
declare -A NEWID
while read -r old new; do NEWID[$old]=$new; done < <(json_get "'\\n'.join('%d %d' % (m['oldId'], m['newId']) for m in j['shardMappings'])")
S1=${NEWID[1]} S2=${NEWID[2]} S3=${NEWID[3]}
shard_files() { find "$s_DATA/state/engine/data/$BID/autogen/$1" -name '*.tsm' 2>/dev/null | wc -l; }

# --- curl -T: the 100 Continue line arrives, no one-second wait ----------
# A body of several MB (the shard archive padded with gzip members of
# zeros, which decode to zeros after the tar's end) so curl certainly asks.
{ cat "$W/s1.tar.gz"; head -c 3000000 /dev/zero | gzip -1; } >"$W/big.tar.gz"
curl -sS -v -X POST -T "$W/big.tar.gz" -H "$A" -H 'Content-Encoding: gzip' \
    -o "$W/out" -w '%{http_code} %{time_starttransfer}\n' "$U/api/v2/restore/shards/$S1" \
    >"$W/curl.out" 2>"$W/curl.err"
grep -q '^> Expect: 100-continue' "$W/curl.err" || fail "curl did not send Expect (test premise)"
grep -q '^< HTTP/1.1 100 Continue' "$W/curl.err" || fail "no 100 Continue: $(grep '^[<*]' "$W/curl.err" | head)"
! grep -q 'Done waiting for 100-continue' "$W/curl.err" || fail "curl waited for 100-continue"
read -r code tst <"$W/curl.out"
[ "$code" = 204 ] || fail "curl -T restore: $code $(cat "$W/out")"
awk -v t="$tst" 'BEGIN { exit !(t < 0.9) }' || fail "curl -T: first byte after $tst s"
[ "$(shard_files 1)" -ge 1 ] || fail "curl -T restore installed nothing"
pass "curl -T (Expect: 100-continue): 100 Continue, then 204 (first byte after ${tst}s)"

# --- refused before the body: the final status at once, nothing read ----
$RAW early-reject "$U" "/api/v2/restore/shards/$S2" "Authorization: Token wrong" || fail "bad token"
$RAW early-reject "$U" "/api/v2/restore/shards/$S2" "$A" "Content-Encoding: br" || fail "415"
$RAW early-reject "$U" "/api/v2/restore/shards/424242" "$A" || fail "404 shard"
$RAW early-reject "$U" "/api/v2/restore/shards/12x" "$A" || fail "400 shard id"
$RAW early-reject "$U" "/api/v2/restore/bucket/0000000000000001" "$A" || fail "404 bucket"
[ "$(shard_files 2)" = 0 ] || fail "a refused upload installed files"
grep -E 'path="/api/v2/restore/shards/'"$S2"'" status=401 bytes_in=0 ' "$s_LOG" >/dev/null ||
    fail "401 log line with bytes_in=0 missing"
pass "bad token / encoding / unknown shard / bad ID / unknown bucket + Expect: final status before any body byte, connection closed"

# 413 before the body: Content-Length over --max-body-size.
curl -sS -X POST -H "$A" -H 'Expect: 100-continue' -H 'Content-Length: 60000000' \
    --data-binary @/dev/null -o "$W/out" -w '%{http_code}' "$U/api/v2/restore/shards/$S2" >"$W/code" || true
[ "$(cat "$W/code")" = 413 ] || fail "413 expected, got $(cat "$W/code") $(cat "$W/out")"
pass "Content-Length over the limit + Expect: 413 before the body"

# --- 417 for an expectation other than 100-continue ---------------------
http POST "$U/api/v2/restore/shards/$S2" -H "$A" -H 'Expect: something-else' --data-binary "@$W/s1.tar.gz"
expect_error 417 "expectation failed" "something-else"
http GET "$U/health" -H 'Expect: 100-continue'
expect_status 200 "Expect: 100-continue without a body"
pass "Expect: something-else -> 417"

# --- keep-alive: no 40 ms wait per request ------------------------------
$RAW keepalive "$U" "$TSV_TOKEN" "$S3" "$W/s3.tar.gz" || fail "keep-alive"
pass "keep-alive: reused requests cost no more than fresh ones"

# --- reuse after uploads, and a rejected body never parsed -------------
$RAW reuse-after-upload "$U" "$TSV_TOKEN" "$S3" "$W/s3.tar.gz" || fail "reuse after upload"
$RAW smuggle "$U" || fail "smuggle"
! grep -q 'path="/api/v2/smuggled"' "$s_LOG" || fail "the body of a refused upload was served as a request"
pass "keep-alive after uploads (accepted and refused); refused body never parsed"

# --- a stalled body is cut off and installs nothing --------------------
$RAW stall-body "$U" "$TSV_TOKEN" "$S2" "$W/s2.tar.gz" || fail "stalled body"
[ "$(shard_files 2)" = 0 ] || fail "a stalled upload installed files"
http POST "$U/api/v2/restore/shards/$S2" -H "$A" -H 'Content-Encoding: gzip' --data-binary "@$W/s2.tar.gz"
expect_status 204 "restore after a stalled one"
pass "stalled body: 408 after the idle timeout, nothing installed, next restore fine"

# --- the upload limit: 503 with Retry-After -----------------------------
$RAW hold-upload "$U" "$TSV_TOKEN" "$S2" "$W/s2.tar.gz" 4 "$W/holding" &
holder=$!
for _ in $(seq 100); do [ -e "$W/holding" ] && break; sleep 0.1; done
[ -e "$W/holding" ] || fail "the slow upload did not start"
sleep 0.3
http POST "$U/api/v2/restore/shards/$S3" -H "$A" -H 'Content-Encoding: gzip' --data-binary "@$W/s3.tar.gz"
expect_error 503 unavailable "too many uploads"
expect_header "Retry-After" "[0-9]+"
http GET "$U/health"
expect_status 200 "/health while uploads are full"
wait "$holder"
ok=0
for _ in 1 2 3 4 5 6 7 8 9 10; do
    http POST "$U/api/v2/restore/shards/$S3" -H "$A" -H 'Content-Encoding: gzip' --data-binary "@$W/s3.tar.gz"
    [ "$HTTP_STATUS" = 204 ] && { ok=1; break; }
    sleep 0.5
done
[ $ok = 1 ] || fail "upload slot not given back: $HTTP_STATUS"
pass "--max-concurrent-uploads 1: second upload 503 + Retry-After; slot given back"

# --- 200 connections stalled in their headers ---------------------------
$RAW stalled-headers "$U" 200 6 "$TSV_TOKEN" "$S3" "$W/s3.tar.gz" || fail "stalled headers"
http GET "$U/health"
expect_status 200 "/health after the stalled connections"
pass "200 stalled header senders: /health and a restore answer within 1 s; all cut by the header timeout"

tsv_stop s
