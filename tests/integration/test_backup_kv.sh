#!/bin/bash
# The bolt files tsvault serves (GET /backup/kv, the "kv" part of
# /backup/metadata) are real bbolt files: bbolt's own Check passes (boltcheck,
# built on go.etcd.io/bbolt as influxd uses it), bbolt can keep writing to
# them (boltcheck -rw), and they restore into a fresh tsvault with every org,
# bucket and token. Real influxd.bolt files restored into tsvault come back
# out with every bucket, key, value and sequence unchanged; the only
# additions are the ones influxd itself makes when it opens a KV (its
# standard buckets, the instance ID idsv1/id, v1_tsm1_metadata/meta.db).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixture.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
CHECK="python3 $HERE/backup_check.py"
fixture_work
BOLTCHECK="$TSV_TOOLS/boltcheck"

# kv_get URL AUTH OUT [curl args]: GET /backup/kv; headers; boltcheck (+ -rw on a copy).
kv_get() {
    u=$1 a=$2 out=$3
    shift 3
    st=$(curl -sS -H "$a" -D "$out.h" -o "$out" -w '%{http_code}' "$@" "$u/api/v2/backup/kv") || fail "backup/kv"
    [ "$st" = 200 ] || fail "backup/kv: status $st: $(head -c 300 "$out")"
    HTTP_HEADERS="$out.h"
    expect_header "Content-Type" "application/octet-stream"
    ! grep -qi -e '^Content-Encoding' -e '^Vary' "$out.h" || fail "/backup/kv is never compressed (and does not vary)"
    "$BOLTCHECK" "$out" >"$out.dump" || fail "boltcheck rejects $out"
    cp "$out" "$out.rw"
    "$BOLTCHECK" -rw "$out.rw" >/dev/null || fail "boltcheck -rw: bbolt cannot write to $out"
}
# meta_kv URL AUTH OUT: the kv part of /backup/metadata.
meta_kv() {
    curl -sS -f -H "$2" -D "$3.h" -o "$3.body" "$1/api/v2/backup/metadata" || fail "backup/metadata"
    $CHECK multipart "$3.body" "$(sed -n 's/^Content-Type: \(.*\)\r$/\1/Ip' "$3.h")" "$3.parts" || fail "multipart"
    cp "$3.parts/kv" "$3"
    "$BOLTCHECK" "$3" >"$3.dump" || fail "boltcheck rejects the metadata kv part"
    cp "$3" "$3.rw"
    "$BOLTCHECK" -rw "$3.rw" >/dev/null || fail "boltcheck -rw on the metadata kv part"
}
api_state() { # URL AUTH OUT: orgs and buckets as the API lists them
    curl -sS -f -H "$2" "$1/api/v2/orgs" >"$3.orgs" && curl -sS -f -H "$2" "$1/api/v2/buckets?limit=100" >"$3.buckets" ||
        fail "orgs/buckets listing"
}

# ---- A: a tsvault-made KV with tenants, tokens and tsdb meta ----------------
tsv_start a
http POST "$a_URL/api/v2/setup" -H 'Content-Type: application/json' \
    -d '{"username":"ada","password":"correct-horse","org":"acme","bucket":"metrics","retentionPeriodSeconds":3600}'
expect_status 201 "setup"
TA=$(json_get 'j["auth"]["token"]')
AUTH_A="Authorization: Token $TA"
http POST "$a_URL/api/v2/orgs" -H "$AUTH_A" -H 'Content-Type: application/json' -d '{"name":"fixture-org","description":"d"}'
expect_status 201 "org"
ORG=$(json_get 'j["id"]')
http POST "$a_URL/api/v2/buckets" -H "$AUTH_A" -H 'Content-Type: application/json' \
    -d "{\"orgID\":\"$ORG\",\"name\":\"cpu\",\"description\":\"x\",\"retentionRules\":[{\"type\":\"expire\",\"everySeconds\":259200}]}"
expect_status 201 "bucket"
for rp in autogen daily; do
    fixture_manifest "$W" "$rp" "$ORG" >"$W/m-$rp.json"
    http POST "$a_URL/api/v2/restore/bucketMetadata" -H "$AUTH_A" --data-binary "@$W/m-$rp.json"
    expect_status 201 "bucketMetadata"
done

kv_get "$a_URL" "$AUTH_A" "$W/a.bolt" -H 'Accept-Encoding: gzip, zstd'
# influxd's kv handler has no gzip wrapper: Gzip-Compression-Level is ignored.
kv_get "$a_URL" "$AUTH_A" "$W/a2.bolt" -H 'Accept-Encoding: gzip' -H 'Gzip-Compression-Level: bogus'
cmp "$W/a.bolt.dump" "$W/a2.bolt.dump" || fail "two kv backups of an idle server differ"
meta_kv "$a_URL" "$AUTH_A" "$W/a-meta.bolt"
cmp "$W/a.bolt.dump" "$W/a-meta.bolt.dump" || fail "/backup/kv and the metadata kv part differ"
nb=$(grep -c "^K 6275636b6574737631 " "$W/a.bolt.dump") # bucketsv1
[ "$nb" = 8 ] || fail "expected 8 buckets in bucketsv1 (2 orgs x 2 system + metrics, cpu, 2 fixture), got $nb"
$CHECK metadb "$W/a.bolt.dump" >"$W/a.meta.json" || fail "meta.db does not decode"
$CHECK bolt-buckets "$W/a.bolt.dump" >"$W/a.ids.json" || fail "bucketsv1"
python3 - "$W/a.meta.json" "$W/a.ids.json" <<'PY' || fail "meta.db must hold exactly the buckets of bucketsv1"
import json, sys
meta, ids = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert sorted(meta) == ids, (sorted(meta), ids)
assert sorted(s for m in meta.values() for s in m["shards"]) == [1, 2, 3, 4, 5], meta
PY
pass "A: /backup/kv and the metadata kv part: identical trees, bbolt Check + write probe pass, meta.db = bucketsv1"

# ---- A's bolt into a fresh B: everything comes back ---------------------------
tsv_start b
gzip -c "$W/a.bolt" >"$W/a.bolt.gz"
http POST "$b_URL/api/v2/restore/kv" -H "Authorization: Token $TSV_TOKEN" -H 'Content-Encoding: gzip' \
    -H 'Content-Type: application/octet-stream' -H 'Transfer-Encoding: chunked' --data-binary "@$W/a.bolt.gz"
expect_status 200 "restore/kv into B"
[ "$(json_get 'j["token"]')" = "$TA" ] || fail "restore/kv must return the restored operator token"
AUTH_B="Authorization: Token $TA"
api_state "$a_URL" "$AUTH_A" "$W/a"
api_state "$b_URL" "$AUTH_B" "$W/b"
cmp "$W/a.orgs" "$W/b.orgs" || fail "GET /api/v2/orgs differs after the KV restore"
cmp "$W/a.buckets" "$W/b.buckets" || fail "GET /api/v2/buckets differs after the KV restore"
[ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["buckets"]))' "$W/b.buckets")" = 8 ] ||
    fail "B must list 8 buckets"
http GET "$b_URL/api/v2/setup"
[ "$(json_get 'j["allowed"]')" = False ] || fail "B is onboarded by the restored KV"
kv_get "$b_URL" "$AUTH_B" "$W/b.bolt"
cmp "$W/a.bolt.dump" "$W/b.bolt.dump" || { diff "$W/a.bolt.dump" "$W/b.bolt.dump" | head; fail "B's bolt differs from A's"; }
pass "B: restore/kv of A's bolt -> same token, orgs, buckets; B's bolt has the same tree"

# ---- real influxd bolt files --------------------------------------------------
cp "$TSV_TESTDATA/influxdb-2-kv/influxd-2.x-live.bolt" "$W/live.bolt"
gzip -dc "$TSV_TESTDATA/influxdb-2-kv/influxd-2.0-backup.bolt.gz" >"$W/b20.bolt"
n=0
for f in live b20; do
    n=$((n + 1))
    tsv_start "r$n"
    eval "u=\$r${n}_URL"
    "$BOLTCHECK" "$W/$f.bolt" >"$W/$f.orig.dump" || fail "boltcheck on the original $f"
    if [ "$f" = live ]; then enc=(); body="$W/$f.bolt"; else enc=(-H 'Content-Encoding: gzip'); gzip -c "$W/$f.bolt" >"$W/$f.bolt.gz"; body="$W/$f.bolt.gz"; fi
    http POST "$u/api/v2/restore/kv" -H "Authorization: Token $TSV_TOKEN" "${enc[@]}" --data-binary "@$body"
    expect_status 200 "restore/kv $f"
    tok=$(json_get 'j["token"]')
    [ -n "$tok" ] || fail "$f: no operator token returned"
    http GET "$u/api/v2/orgs" -H "Authorization: Token $tok"
    expect_status 200 "$f: the returned token works"
    kv_get "$u" "Authorization: Token $tok" "$W/$f.back.bolt"
    meta_kv "$u" "Authorization: Token $tok" "$W/$f.meta.bolt"
    cmp "$W/$f.back.bolt.dump" "$W/$f.meta.bolt.dump" || fail "$f: /backup/kv and the metadata kv part differ"
    # Every original line is still there; the additions are only influxd's own.
    python3 - "$W/$f.orig.dump" "$W/$f.back.bolt.dump" <<'PY' || fail "$f: backup of a restored real bolt is not the original"
import sys
orig = open(sys.argv[1]).read().splitlines()
back = open(sys.argv[2]).read().splitlines()
hx = lambda s: s.encode().hex()
required = ["authorizationsv1", "authorizationindexv1", "bucketsv1", "bucketindexv1", "dashboardsv2",
            "organizationsv1", "organizationindexv1", "scraperv2", "telegrafv1", "telegrafPluginsv1",
            "remotesv2", "replicationsv2", "usersv1", "userindexv1", "userspasswordv1",
            "userresourcemappingsv1", "userresourcemappingsbyuserindexv1", "idsv1", "v1_tsm1_metadata"]
missing = set(orig) - set(back)
assert not missing, f"lost or changed: {sorted(missing)[:5]}"
have_bucket = {l.split(" ")[1] for l in orig if l.startswith("B ")}
added = [l for l in back if l not in set(orig)]
for l in added:
    p = l.split(" ")
    ok = (p[0] == "B" and "/" not in p[1] and p[1] in map(hx, required) and p[1] not in have_bucket and p[2] == "0") \
        or (p[0] == "K" and p[1] == hx("idsv1") and p[2] == hx("id") and len(bytes.fromhex(p[3])) == 16
            and not any(o.startswith(f"K {hx('idsv1')} {hx('id')} ") for o in orig)) \
        or (p[0] == "K" and p[1] == hx("v1_tsm1_metadata") and p[2] == hx("meta.db")
            and not any(o.startswith(f"K {hx('v1_tsm1_metadata')} {hx('meta.db')} ") for o in orig))
    assert ok, f"unexpected addition: {l[:200]}"
print(f"{len(orig)} lines kept, {len(added)} added: " + ", ".join(bytes.fromhex(l.split(' ')[1].split('/')[0]).decode() for l in added))
PY
    pass "real bolt $f: restored, backed up: all $(wc -l <"$W/$f.orig.dump") entries identical, bbolt Check + write probe pass"
done
echo "1..all passed"
