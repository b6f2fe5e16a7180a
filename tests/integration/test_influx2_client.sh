#!/bin/bash
# The InfluxDB 2.x backup/restore client (remote/influx2_backup.h), driven by
# tsv_influx2tool against real servers (docs/architecture.md#remote-influxdb-2x-backup-client):
#  A: onboarded tsvault with the 1.6 fixture restored (2 buckets, 5 shards).
#     probe (operator token, wrong token, non-operator token, closed port);
#     metadata + every shard fetched by the client and compared with curl's
#     GET of the same endpoints (KV, SQL, manifests, tar bytes); since= on an
#     unchanged shard gives an empty tar.
#  B: fresh tsvault, FULL restore by the client (restore/kv -> switch to the
#     returned token -> restore/sql -> shards under their IDs); B's backup
#     equals A's (manifests, every TSM/tombstone byte).
#  C: fresh tsvault with shard IDs already taken, PARTIAL restore of one
#     bucket renamed into a new org; C's backup has the renamed bucket with
#     A's files; the same restore again is a conflict.
#  A lying server (influx2_liar.py): truncated/unterminated tars, bad and cut
#     gzip, a B6 error inside a 200 stream, multipart without kv, wrong
#     boundary, truncated multipart, unknown part, an unmapped shard, a bucket
#     that is missing after a "successful" restore: each a precise failure;
#     an 8 MiB random shard down and up again, byte-exact.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixture.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
CHECK="python3 $HERE/backup_check.py"
TOOL=$(tsv_tool tsv_influx2tool)
fixture_work

# tool TOKEN URL ARGS...: runs the driver; output in $OUT, errors in $ERR, status in $RC.
tool() {
    local tok=$1
    shift
    tool_run env TSV_INFLUX2_TOKEN="$tok" "$TOOL" "$@"
}
# tar_files TAR: "basename sha256" per regular entry (names and contents, not mtimes).
tar_files() {
    python3 - "$1" <<'PY'
import hashlib, os, sys, tarfile
with tarfile.open(sys.argv[1], "r:") as t:
    for m in t:
        print(os.path.basename(m.name), hashlib.sha256(t.extractfile(m).read()).hexdigest())
PY
}

# ---- A: onboarded, fixture restored ----------------------------------------
tsv_start a
http POST "$a_URL/api/v2/setup" -H 'Content-Type: application/json' \
    -d '{"username":"ada","password":"correct-horse","org":"acme","bucket":"metrics","retentionPeriodSeconds":0}'
expect_status 201 "setup A"
TA=$(json_get 'j["auth"]["token"]')
ACME=$(json_get 'j["org"]["id"]')
ADA=$(json_get 'j["user"]["id"]')
fixture_restore "$a_URL" "$W"
pass "A: onboarded, fixture restored (shards ${FIX_SHARD[*]})"

# ---- probe ---------------------------------------------------------------------
tool "$TA" "$a_URL" probe
expect_ok "probe A"
echo "$OUT" | grep -Eq '^InfluxDB v2\.[0-9]+\.[0-9]+ \(tsvault [^)]*\), operator token ok$' ||
    fail "probe summary: $OUT"
tool "wrong-token" "$a_URL" probe
expect_fail "probe with a wrong token" unauthorized "rejected the token: .*401.*unauthorized access"
echo "$ERR" | grep -q wrong-token && fail "the token appears in the message: $ERR"
http POST "$a_URL/api/v2/authorizations" -H "Authorization: Token $TA" \
    -d "{\"orgID\":\"$ACME\",\"userID\":\"$ADA\",\"permissions\":[{\"action\":\"read\",\"resource\":{\"type\":\"orgs\"}}]}"
expect_status 201 "reader token"
READER=$(json_get 'j["token"]')
tool "$READER" "$a_URL" probe
expect_fail "probe with a non-operator token" forbidden "not an operator token.*read:authorizations is unauthorized"
PORT=$(tsv_free_port)
tool "$TA" "http://127.0.0.1:$PORT" probe
expect_fail "probe of a closed port" unavailable "cannot reach http://127.0.0.1:$PORT: .*"
tool "$TA" "http://127.0.0.1:$PORT" metadata "$W/none"
expect_fail "metadata from a closed port" unavailable "cannot reach"
pass "probe: operator ok, 401 token rejected, non-operator forbidden, closed port unavailable"

# TLS: a tsvault with a certificate from a test CA.
P="$TSV_TMP/pki"
mkdir -p "$P"
unset CURL_CA_BUNDLE SSL_CERT_FILE
printf 'subjectAltName = IP:127.0.0.1, DNS:localhost\nbasicConstraints = critical, CA:FALSE\nextendedKeyUsage = serverAuth\n' >"$P/ext.cnf"
{
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$P/ca.key" -out "$P/ca.pem" -days 2 -subj "/CN=influx2 test CA" &&
        openssl req -newkey rsa:2048 -nodes -keyout "$P/srv.key" -out "$P/srv.csr" -subj "/CN=localhost" &&
        openssl x509 -req -in "$P/srv.csr" -CA "$P/ca.pem" -CAkey "$P/ca.key" -CAcreateserial -days 2 \
            -extfile "$P/ext.cnf" -out "$P/srv.pem"
} >"$P/openssl.log" 2>&1 || fail "openssl: $(cat "$P/openssl.log")"
tsv_start t --tls-cert "$P/srv.pem" --tls-key "$P/srv.key"
T_URL=${t_URL/http:/https:}
tool "$TSV_TOKEN" "$T_URL" probe
expect_fail "TLS probe without the CA" unavailable "TLS with $T_URL failed: .*certificate"
tool "$TSV_TOKEN" --cafile "$P/ca.pem" "$T_URL" probe
expect_ok "TLS probe with the CA"
echo "$OUT" | grep -q "operator token ok" || fail "TLS probe: $OUT"
tool "$TSV_TOKEN" --skip-verify "$T_URL" probe
expect_ok "TLS probe with --skip-verify"
tsv_stop t
pass "TLS: unknown CA -> unavailable 'TLS with ... failed'; --cafile and --skip-verify work"

# ---- backup of A by the client, compared with curl -------------------------
tool "$TA" "$a_URL" backup "$W/ca"
expect_ok "client backup of A"
echo "$OUT" | grep -q '^metadata ok bytes=[1-9]' || fail "metadata bytes: $OUT"
mkdir -p "$W/curl-a"
curl -sS -H "Authorization: Token $TA" -H 'Accept-Encoding: gzip' -D "$W/curl-a/headers" \
    -o "$W/curl-a/raw" "$a_URL/api/v2/backup/metadata" || fail "curl metadata"
gzip -dc <"$W/curl-a/raw" >"$W/curl-a/body" || fail "curl metadata gunzip"
ctype=$(sed -n 's/^Content-Type: \(.*\)\r$/\1/Ip' "$W/curl-a/headers")
$CHECK multipart "$W/curl-a/body" "$ctype" "$W/curl-a" >/dev/null || fail "curl multipart split"
cmp "$W/ca/kv" "$W/curl-a/kv" || fail "KV part: client and curl differ"
cmp "$W/ca/sql" "$W/curl-a/sql" || fail "SQL part: client and curl differ"
cmp "$W/ca/buckets.json" "$W/curl-a/buckets" || fail "buckets part: client and curl differ"
"$TSV_TOOLS/boltcheck" "$W/ca/kv" >/dev/null || fail "the client's KV fails boltcheck"
n=0
for old in 1 2 3 4 5; do
    id=${FIX_SHARD[$old]}
    curl -sS --compressed -H "Authorization: Token $TA" -o "$W/curl-a/$id.tar" \
        "$a_URL/api/v2/backup/shards/$id" || fail "curl shard $id"
    cmp "$W/ca/$id.tar" "$W/curl-a/$id.tar" || fail "shard $id: client and curl tars differ"
    $CHECK tar "$W/ca/$id.tar" >/dev/null || fail "shard $id: tar check"
    [ -n "$(tar_files "$W/ca/$id.tar")" ] || fail "shard $id: empty tar"
    n=$((n + 1))
done
[ "$(ls "$W/ca"/*.tar | wc -l)" = 5 ] || fail "expected 5 shard tars: $(ls "$W/ca")"
pass "client backup of A: KV, SQL, manifests and $n shard tars byte-identical to curl's"

# since: an unchanged shard gives the empty tar; a time before everything, all of it.
id=${FIX_SHARD[1]}
tool "$TA" "$a_URL" shard "$id" "$W/since-now.tar" "$(date -u -d '+1 min' +%Y-%m-%dT%H:%M:%S.123456789Z)"
expect_ok "shard since now"
[ "$(stat -c %s "$W/since-now.tar")" = 1024 ] && cmp -s "$W/since-now.tar" <(head -c 1024 /dev/zero) ||
    fail "unchanged shard since now: expected 1024 zero bytes, got $(stat -c %s "$W/since-now.tar")"
tool "$TA" "$a_URL" shard "$id" "$W/since-old.tar" "2000-01-01T00:00:00Z"
expect_ok "shard since 2000"
cmp "$W/since-old.tar" "$W/ca/$id.tar" || fail "since 2000 must give the whole shard"
tool "$TA" "$a_URL" shard 999999 "$W/nope.tar"
expect_fail "unknown shard" "not found" "shard 999999 not found \(removed on the server\)"
tool "wrong-token" "$a_URL" shard "$id" "$W/x.tar"
expect_fail "shard with a wrong token" unauthorized "GET /api/v2/backup/shards/$id: server answered 401: unauthorized access"
pass "since: unchanged shard -> empty tar, old since -> whole shard; 404 and 401 reported"

# ---- B: full restore ------------------------------------------------------------
tsv_start b
tool "$TSV_TOKEN" "$b_URL" restore "$W/ca" --full
expect_ok "full restore into B"
echo "$OUT" | grep -q "shards=5 token_switched=1" || fail "full restore: $OUT"
http GET "$b_URL/api/v2/orgs" -H "Authorization: Token $TA"
expect_status 200 "A's operator token works on B after the full restore"
tool "$TA" "$b_URL" backup "$W/cb"
expect_ok "client backup of B"
cmp "$W/ca/buckets.json" "$W/cb/buckets.json" || fail "B's manifests differ from A's"
cmp "$W/ca/sql" "$W/cb/sql" || fail "B's SQL differs from A's"
"$TSV_TOOLS/boltcheck" "$W/ca/kv" >"$W/ca/kv.dump" && "$TSV_TOOLS/boltcheck" "$W/cb/kv" >"$W/cb/kv.dump" ||
    fail "boltcheck"
cmp -s "$W/ca/kv.dump" "$W/cb/kv.dump" || fail "B's KV differs from A's: $(diff "$W/ca/kv.dump" "$W/cb/kv.dump" | head -5)"
for old in 1 2 3 4 5; do
    id=${FIX_SHARD[$old]}
    [ "$(tar_files "$W/ca/$id.tar")" = "$(tar_files "$W/cb/$id.tar")" ] ||
        fail "shard $id: B's files differ from A's"
done
pass "B (full restore): KV, SQL, manifests and every shard file equal to A's"

# ---- C: partial restore, renamed into a new org --------------------------------
tsv_start c
http POST "$c_URL/api/v2/orgs" -H "$(auth)" -H 'Content-Type: application/json' -d '{"name":"other"}'
expect_status 201 "org on C"
OTHER=$(json_get 'j["id"]')
# Take shard IDs 1-5 on C so the mapping must move the shards elsewhere.
fixture_manifest "$W" autogen "$OTHER" | sed 's/"fixture_autogen"/"occupant"/' >"$W/occ.json"
http POST "$c_URL/api/v2/restore/bucketMetadata" -H "$(auth)" --data-binary "@$W/occ.json"
expect_status 201 "occupant bucket on C"
tool "$TSV_TOKEN" "$c_URL" restore "$W/ca" --bucket fixture_autogen --org fixture-org \
    --new-bucket renamed --new-org neworg
expect_ok "partial restore into C"
echo "$OUT" | grep -q "shards=3 token_switched=0" || fail "partial restore: $OUT"
tool "$TSV_TOKEN" "$c_URL" backup "$W/cc"
expect_ok "client backup of C"
python3 - "$W" <<'PY' >"$W/pairs" || fail "C's manifests"
import json, sys
W = sys.argv[1]
a = {b["bucketName"]: b for b in json.load(open(f"{W}/ca/buckets.json"))}
c = {b["bucketName"]: b for b in json.load(open(f"{W}/cc/buckets.json"))}
assert "renamed" in c and "fixture_autogen" not in c and "fixture_daily" not in c, sorted(c)
r, src = c["renamed"], a["fixture_autogen"]
assert r["organizationName"] == "neworg", r["organizationName"]
assert r["bucketID"] != src["bucketID"]
def groups(b):
    return [(g["startTime"], g["endTime"], [s["id"] for s in g["shards"]])
            for rp in b["retentionPolicies"] for g in rp["shardGroups"]]
ga, gc = groups(src), groups(r)
assert [g[:2] for g in ga] == [g[:2] for g in gc], (ga, gc)
assert r["retentionPolicies"][0]["shardGroupDuration"] == src["retentionPolicies"][0]["shardGroupDuration"]
for x, y in zip(ga, gc):
    for s, t in zip(x[2], y[2]):
        print(s, t)
PY
[ "$(wc -l <"$W/pairs")" = 3 ] || fail "expected 3 shard pairs: $(cat "$W/pairs")"
while read -r s t; do
    [ "$s" != "$t" ] || fail "shard $s kept its ID on C although it was taken"
    [ "$(tar_files "$W/ca/$s.tar")" = "$(tar_files "$W/cc/$t.tar")" ] ||
        fail "C's shard $t differs from A's shard $s"
done <"$W/pairs"
tool "$TSV_TOKEN" "$c_URL" restore "$W/ca" --bucket fixture_autogen --org fixture-org \
    --new-bucket renamed --new-org neworg
expect_fail "the same restore again" conflict 'restoring bucket "renamed" into org "neworg": POST /api/v2/restore/bucketMetadata: server answered 422: .*already exists'
tool "$TSV_TOKEN" "$c_URL" restore "$W/ca" --bucket nosuch
expect_fail "restore of a bucket not in the backup" "not found" 'no bucket "nosuch"'
tool "$TSV_TOKEN" "$c_URL" restore "$W/ca" --full --bucket fixture_autogen
expect_fail "full restore with a bucket" invalid "cannot be limited"
pass "C (partial, renamed into a new org): bucket 'renamed' in 'neworg', shards remapped, files equal; conflict on repeat"

# ---- a lying server --------------------------------------------------------------
python3 "$HERE/influx2_liar.py" "$TSV_TMP/liar.port" 2>"$TSV_TMP/liar.log" &
TSV_PIDS="$TSV_PIDS $!"
for _ in $(seq 100); do [ -s "$TSV_TMP/liar.port" ] && break; sleep 0.05; done
L="http://127.0.0.1:$(cat "$TSV_TMP/liar.port")"
tool good "$L" probe
expect_ok "probe of the liar"
[ "$OUT" = "InfluxDB v2.7.4, operator token ok" ] || fail "liar probe summary: $OUT"
tool forbidden "$L" probe
expect_fail "liar: 401 on metadata" forbidden "not an operator token"
tool good "$L" backup "$W/liar-good"
expect_ok "liar control backup"
tool good "$L" metadata "$W/lm"
expect_ok "liar control metadata"
tool no-kv "$L" metadata "$W/lm"
expect_fail "multipart without kv" invalid 'GET /api/v2/backup/metadata: multipart body has no "kv" part'
tool bad-boundary "$L" metadata "$W/lm"
expect_fail "wrong boundary" invalid "does not start with the boundary .*bad boundary"
tool truncated-multipart "$L" metadata "$W/lm"
expect_fail "truncated multipart" invalid 'multipart body is truncated: part "kv" .* without a closing boundary'
tool unknown-part "$L" metadata "$W/lm"
expect_fail "unknown part" invalid 'unexpected part "extra"'
tool truncated-tar "$L" shard 1 "$W/l.tar"
expect_fail "truncated tar" invalid 'truncated tar: the stream ends inside entry 1 \("fedcba9876543210/autogen/1/000000001-000000001.tsm"'
[ ! -e "$W/l.tar" ] || fail "the driver must not keep a partial tar"
tool no-end-marker "$L" shard 1 "$W/l.tar"
expect_fail "tar without end marker" invalid "no closing zero blocks"
tool bad-gzip "$L" shard 1 "$W/l.tar"
expect_fail "bad gzip" invalid "GET /api/v2/backup/shards/1: bad gzip body: gzip: invalid header"
tool cut-gzip "$L" shard 1 "$W/l.tar"
expect_fail "cut gzip" invalid "bad gzip body: unexpected EOF"
tool midstream-error "$L" shard 1 "$W/l.tar"
expect_fail "error inside a 200 stream" invalid "truncated tar: the stream ends inside entry"
tool unmapped "$L" restore "$W/liar-good"
expect_fail "unmapped shard" "internal error" 'did not map shard 1 \(0 of 1 shards mapped\); no shard of this bucket was uploaded'
tool vanishing "$L" restore "$W/liar-good"
expect_fail "bucket missing after restore" "internal error" 'after the restore, bucket "b" \(1111111111111111\) does not exist on the target'
tool good "$L" restore "$W/liar-good"
expect_ok "liar control restore"
# Bodies far larger than the client's 64 KiB windows, both ways.
tool big "$L" backup "$W/liar-big"
expect_ok "8 MiB shard download"
cmp "$W/liar-big/1.tar" "$TSV_TMP/liar.port.big.tar" || fail "the 8 MiB shard arrived different"
tool big "$L" restore "$W/liar-big"
expect_ok "8 MiB shard upload (the liar checks it gunzips to the same tar)"
pass "lying server: every malformed answer is a precise failure"
