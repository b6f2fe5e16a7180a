#!/bin/bash
# The S3 client (remote/s3_client.h), driven by tsv_s3tool against a real
# S3-compatible store: Debian's OpenStack Swift with s3api (swift_lib.sh).
#  - bucket create (and again: 409), put small, put multipart (20 MiB in
#    5 MiB parts), get, head, list (prefix, paging), delete; bytes checked
#    with sha256sum; keys with spaces, UTF-8 and reserved characters;
#    virtual-host addressing (BUCKET.localhost);
#  - independent clients read what the tool wrote (curl --aws-sigv4, and
#    the swift CLI through Swift's own API), and the tool reads what curl wrote;
#  - faults: a wrong secret (403 SignatureDoesNotMatch, no retry), the store
#    down (EUNAVAILABLE after the retries), a proxy answering 503 twice
#    (success after retries), a proxy failing every UploadPart of part 2
#    (the upload fails after its retries and is aborted: no upload left),
#    a proxy altering GET bodies (hash mismatch, output not kept).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/swift_lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
TOOL=$(tsv_tool tsv_s3tool)
W="$TSV_TMP/work"
mkdir -p "$W"

t0=$(date +%s%N)
swift_start "$TSV_TMP/swift" || fail "Swift did not start"
echo "swift started in $((($(date +%s%N) - t0) / 1000000)) ms"
EP=$(swift_endpoint)
read -r AK SK <<<"$(swift_credentials)"
export S3_ENDPOINT="$EP" S3_ACCESS_KEY="$AK" S3_SECRET_KEY="$SK" S3_BACKOFF_MS=50

# tool ARGS...: output in $OUT, errors in $ERR, status in $RC.
tool() { tool_run "$TOOL" "$@"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

# ---- round trips -----------------------------------------------------------
tool mb tsvtest
expect_ok "create bucket"
tool mb tsvtest
expect_fail "create it again" conflict "HTTP 409 BucketAlreadyOwnedByYou"
tool mb Bad_Bucket!
expect_fail "bad bucket name" invalid "bucket name 'Bad_Bucket!'"

printf 'small object\n' >"$W/small"
tool put tsvtest "a/small" "$W/small"
expect_ok "put small"
[ "$(echo "$OUT" | cut -d' ' -f3)" = "$(sha "$W/small")" ] || fail "put small: sha $OUT"
: >"$W/empty"
tool put tsvtest "a/empty" "$W/empty"
expect_ok "put empty"
KEY='a/odd name ü+&=?#%.bin'
head -c 100000 /dev/urandom >"$W/odd"
tool put tsvtest "$KEY" "$W/odd"
expect_ok "put odd key"
head -c $((20 * 1024 * 1024)) /dev/urandom >"$W/big"
S3_PART_SIZE=$((5 * 1024 * 1024)) tool put tsvtest "b/big" "$W/big"
expect_ok "put multipart"
echo "$OUT" | grep -Eq '^20971520 [0-9a-f]{32}-4 ' || fail "multipart: 4 parts expected: $OUT"
[ "$(echo "$OUT" | cut -d' ' -f3)" = "$(sha "$W/big")" ] || fail "multipart sha: $OUT"

for k in a/small a/empty "$KEY" b/big; do
    case $k in a/small) f=small ;; a/empty) f=empty ;; b/*) f=big ;; *) f=odd ;; esac
    tool get tsvtest "$k" "$W/$f.out"
    expect_ok "get $k"
    [ "$(sha "$W/$f.out")" = "$(sha "$W/$f")" ] || fail "get $k: bytes differ"
    [ "$(echo "$OUT" | cut -d' ' -f4)" = 1 ] || fail "get $k: not verified: $OUT"
done
tool head tsvtest b/big
expect_ok "head"
[ "$OUT" = "20971520 $(echo "$OUT" | cut -d' ' -f2) $(sha "$W/big")" ] || fail "head: $OUT"
tool head tsvtest nothing/here
expect_fail "head missing" "not found" "S3 HEAD tsvtest/nothing/here: HTTP 404"
tool get tsvtest nothing/here "$W/none"
expect_fail "get missing" "not found" "HTTP 404 NoSuchKey"

tool ls tsvtest a/
expect_ok "list a/"
[ "$(echo "$OUT" | cut -d' ' -f1-1 | wc -l)" = 3 ] || fail "list a/: $OUT"
echo "$OUT" | grep -qF "$KEY 100000 " || fail "list: odd key missing: $OUT"
S3_MAX_KEYS=1 tool ls tsvtest
expect_ok "list paged"
[ "$(echo "$OUT" | wc -l)" = 4 ] || fail "paged list: $OUT"
S3_VHOST=1 S3_ENDPOINT="http://localhost:${EP##*:}" tool ls tsvtest b/
expect_ok "virtual-host list"
echo "$OUT" | grep -q "^b/big 20971520 " || fail "vhost list: $OUT"
S3_VHOST=1 S3_ENDPOINT="http://localhost:${EP##*:}" tool get tsvtest b/big "$W/big.vh"
expect_ok "virtual-host get"
cmp -s "$W/big" "$W/big.vh" || fail "virtual-host get: bytes differ"

# ---- independent clients ---------------------------------------------------
swift_curl -sf "$EP/tsvtest/b/big" -o "$W/big.curl" || fail "curl GET"
cmp -s "$W/big" "$W/big.curl" || fail "curl reads other bytes than the tool wrote"
swift_curl -sfI "$EP/tsvtest/a/small" | grep -qi "^x-amz-meta-sha256: $(sha "$W/small")" ||
    fail "x-amz-meta-sha256 not stored"
ST="swift -A $EP/auth/v1.0 -U test:tester -K testing"
$ST download tsvtest "$KEY" -o "$W/odd.swift" >/dev/null || fail "swift download"
cmp -s "$W/odd" "$W/odd.swift" || fail "swift CLI reads other bytes"
printf 'written by curl\n' >"$W/bycurl"
SWIFT_PAYLOAD=$(sha "$W/bycurl") swift_curl -sf -T "$W/bycurl" "$EP/tsvtest/c/bycurl" ||
    fail "curl PUT"
tool get tsvtest c/bycurl "$W/bycurl.out"
expect_ok "get what curl wrote"
cmp -s "$W/bycurl" "$W/bycurl.out" || fail "bytes of curl's object"
[ "$(echo "$OUT" | cut -d' ' -f3-4)" = "- 1" ] || fail "curl's object: MD5 ETag not checked: $OUT"

tool rm tsvtest a/small
expect_ok "delete"
tool rm tsvtest a/small
expect_ok "delete again"
tool head tsvtest a/small
expect_fail "head deleted" "not found" "HTTP 404"

# ---- faults ----------------------------------------------------------------
S3_SECRET_KEY=wrong tool get tsvtest b/big "$W/x"
expect_fail "wrong secret" forbidden "S3 GET tsvtest/b/big: HTTP 403 SignatureDoesNotMatch"
echo "$ERR" | grep -q "attempt" && fail "a 403 was retried: $ERR"

python3 "$HERE/s3_faultproxy.py" "${EP##*:}" 503:2 >"$TSV_TMP/p503.port" 2>"$TSV_TMP/p503.log" &
TSV_PIDS="$TSV_PIDS $!"
PROXY503=""
for _ in $(seq 50); do PROXY503=$(cat "$TSV_TMP/p503.port"); [ -n "$PROXY503" ] && break; sleep 0.1; done
S3_ENDPOINT="http://127.0.0.1:$PROXY503" tool put tsvtest d/retried "$W/odd"
expect_ok "put through two 503s"
[ "$(grep -c '^fault' "$TSV_TMP/p503.log")" = 2 ] || fail "the proxy did not fault twice"
tool get tsvtest d/retried "$W/retried"
cmp -s "$W/odd" "$W/retried" || fail "retried put: bytes"
S3_ATTEMPTS=2 S3_ENDPOINT="http://127.0.0.1:$PROXY503" tool head tsvtest d/retried
expect_ok "head after the faults"

# start_proxy MODE: a fault proxy; its port in $PROXY.
start_proxy() {
    local f="$TSV_TMP/proxy.$RANDOM"
    python3 "$HERE/s3_faultproxy.py" "${EP##*:}" "$1" >"$f.port" 2>"$f.log" &
    TSV_PIDS="$TSV_PIDS $!"
    PROXY="" PROXY_LOG="$f.log"
    for _ in $(seq 50); do PROXY=$(cat "$f.port"); [ -n "$PROXY" ] && break; sleep 0.1; done
    [ -n "$PROXY" ] || fail "fault proxy did not start"
}
start_proxy 500:partNumber=2
S3_ATTEMPTS=2 S3_PART_SIZE=$((5 * 1024 * 1024)) S3_ENDPOINT="http://127.0.0.1:$PROXY" \
    tool put tsvtest d/failed "$W/big"
expect_fail "multipart with a failing part" unavailable \
    "S3 UploadPart 2 of 4 tsvtest/d/failed: HTTP 500 InternalError.*\(2 attempts\)"
[ "$(grep -c '^fault' "$PROXY_LOG")" = 2 ] || fail "part 2 was not tried twice"
SWIFT_PAYLOAD=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 \
    swift_curl -sf "$EP/tsvtest?uploads=" >"$W/uploads.xml" || fail "ListMultipartUploads"
grep -q "<Upload>" "$W/uploads.xml" && fail "the failed upload was not aborted: $(cat "$W/uploads.xml")"
grep -q "ListMultipartUploadsResult" "$W/uploads.xml" || fail "uploads listing: $(cat "$W/uploads.xml")"
tool head tsvtest d/failed
expect_fail "failed upload left no object" "not found" "HTTP 404"

python3 "$HERE/s3_faultproxy.py" "${EP##*:}" corrupt >"$TSV_TMP/pc.port" 2>"$TSV_TMP/pc.log" &
TSV_PIDS="$TSV_PIDS $!"
PROXYC=""
for _ in $(seq 50); do PROXYC=$(cat "$TSV_TMP/pc.port"); [ -n "$PROXYC" ] && break; sleep 0.1; done
S3_ENDPOINT="http://127.0.0.1:$PROXYC" tool get tsvtest b/big "$W/bad"
expect_fail "altered body" invalid "content SHA-256 mismatch: the object says $(sha "$W/big"), received [0-9a-f]{64}"
[ ! -s "$W/bad" ] || fail "the altered download was kept ($(stat -c %s "$W/bad") bytes)"
S3_ENDPOINT="http://127.0.0.1:$PROXYC" tool get tsvtest c/bycurl "$W/bad2"
expect_fail "altered body, MD5 ETag" invalid "content MD5 \(ETag\) mismatch"

swift_stop
t1=$(date +%s%N)
S3_ATTEMPTS=3 tool get tsvtest b/big "$W/down"
expect_fail "store down" unavailable "S3 GET tsvtest/b/big: $EP: .*(refused|connect).* \(3 attempts\)"
echo "store down: failed after $((($(date +%s%N) - t1) / 1000000)) ms"
pass "s3 client"
