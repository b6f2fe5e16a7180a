#!/bin/bash
# Backup round trip with real InfluxDB data (docs/influxdb-compat.md#endpoints,
# #cli-backup, #cli-restore-full, #cli-restore-partial):
#  A: onboarded server; the 1.6 fixture restored through bucketMetadata +
#     shards, shard 1 with a v4 .tombstone added, plus an "edge" bucket whose
#     manifest exercises every optional manifest field. /backup/metadata and
#     /backup/shards are checked at the byte level (multipart framing, part
#     headers, manifest JSON exactly as influxd's encoder writes it, every
#     compression choice decoding to the same tar) and backed up as the
#     influx CLI does (influxcli.py).
#  B: fresh server, FULL restore of that backup as the CLI does it
#     (restore/kv -> returned token -> restore/sql -> restore/shards with the
#     ORIGINAL ids); backed up again: bolt, SQL, manifests and every TSM and
#     tombstone file identical to A's.
#  C: fresh server with shard IDs already in use, PARTIAL restore (orgs by
#     name, bucketMetadata, shards to the mapped ids); backed up again:
#     manifests equal modulo the new IDs, files identical.
# Then `since=`, malformed parameters, unknown shards, compression headers.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixture.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
CHECK="python3 $HERE/backup_check.py"
CLI="python3 $HERE/influxcli.py"
fixture_work

# ---- a tombstone for shard 1 ----------------------------------------------
S1="$W/repack/1/0a1b2c3d4e5f6071/autogen/1"
TKEY=$($CHECK tombstone "$S1/000000001-000000001.tsm" "$S1/000000001-000000001.tombstone")
(cd "$W/repack/1" && tar --format=ustar --owner=0 --group=0 -cf - 0a1b2c3d4e5f6071) | gzip -c >"$W/s1.tar.gz"
keys() { "$TSV_TOOLS/tsmcheck" verify "$1" | sed -n 's/.* keys=\([0-9]*\) .*/\1/p'; }
k0=$(keys "$W/x/fixture/autogen/1/000000001-000000001.tsm")
k1=$(keys "$S1/000000001-000000001.tsm")
[ -n "$k0" ] && [ "$k1" = $((k0 - 1)) ] || fail "InfluxDB's reader must apply the tombstone: keys $k0 -> $k1"
pass "v4 tombstone for '$TKEY' added to shard 1 (InfluxDB's reader: $k0 -> $k1 keys)"

# ---- A: onboard, restore the fixture and the edge bucket -------------------
tsv_start a
UA=$a_URL
onboard "$UA"
TA=$(json_get 'j["auth"]["token"]')
ORG=$(json_get 'j["org"]["id"]')
AUTH_A="Authorization: Token $TA"

cat >"$W/manifest-edge.json" <<'EOF'
{"organizationID":"ORGID","organizationName":"fixture-org","bucketID":"00000000000000ff",
 "bucketName":"edge","description":"<&> \"quoted\" ☃ \u2028",
 "defaultRetentionPolicy":"autogen","retentionPolicies":[{"name":"autogen","replicaN":1,
 "duration":0,"shardGroupDuration":3600000000000,"shardGroups":[
  {"id":10,"startTime":"2024-01-01T00:00:00.5Z","endTime":"2024-01-01T01:00:00.123456789Z",
   "shards":[{"id":100,"shardOwners":[{"nodeID":7}]}]},
  {"id":11,"startTime":"2024-01-01T02:00:00+01:00","endTime":"2024-01-01T02:00:00Z",
   "deletedAt":"2024-02-01T00:00:00Z","shards":[{"id":101,"shardOwners":[]}]},
  {"id":12,"startTime":"1969-12-31T23:00:00Z","endTime":"2024-01-01T03:00:00Z",
   "truncatedAt":"2024-01-01T02:30:00.000001Z","shards":[{"id":102,"shardOwners":[]}]},
  {"id":13,"startTime":"2024-01-01T03:00:00Z","endTime":"2024-01-01T04:00:00Z","shards":[]}],
 "subscriptions":[{"name":"s1","mode":"ALL","destinations":null},
                  {"name":"s2","mode":"ANY","destinations":["http://a","udp://b"]}]}]}
EOF
declare -A NEWID SRC
for m in autogen daily edge; do
    fixture_manifest "$W" "$m" "$ORG" >"$W/m-$m.json"
    http POST "$UA/api/v2/restore/bucketMetadata" -H "$AUTH_A" -H 'Content-Type: application/json' \
        --data-binary "@$W/m-$m.json"
    expect_status 201 "bucketMetadata $m"
    cp "$HTTP_BODY" "$W/r-$m.json"
    while read -r old new; do NEWID[$old]=$new; done < <(json_get "'\\n'.join('%d %d' % (m['oldId'], m['newId']) for m in j['shardMappings'])")
done
[ "${#NEWID[@]}" = 7 ] || fail "expected 7 mapped shards (5 fixture + 2 edge), got ${#NEWID[@]}"
# Shard data: fixture shard N into its mapping; the edge shards get copies of 4 and 5.
upload() { # URL AUTH SHARD FILE
    http POST "$1/api/v2/restore/shards/$3" -H "$2" -H 'Content-Type: application/octet-stream' \
        -H 'Content-Encoding: gzip' -H 'Transfer-Encoding: chunked' --data-binary "@$4"
    expect_status 204 "restore shard $3"
}
for old in 1 2 3 4 5; do
    upload "$UA" "$AUTH_A" "${NEWID[$old]}" "$W/s$old.tar.gz"
    rp=autogen; [ "$old" -ge 4 ] && rp=daily
    SRC[${NEWID[$old]}]="$W/x/fixture/$rp/$old"
done
cp "$S1/000000001-000000001.tombstone" "$W/x/fixture/autogen/1/"
upload "$UA" "$AUTH_A" "${NEWID[100]}" "$W/s4.tar.gz"
upload "$UA" "$AUTH_A" "${NEWID[102]}" "$W/s5.tar.gz"
SRC[${NEWID[100]}]="$W/x/fixture/daily/4"
SRC[${NEWID[102]}]="$W/x/fixture/daily/5"
pass "A: onboarded, 3 buckets restored, 7 shards uploaded (one with a tombstone)"

# ---- A: /backup/metadata at the byte level ----------------------------------
# backup_get WHAT URL AUTH HEADERS RAW BODY [curl args]: GET a streamed
# backup reply (200, Vary: Accept-Encoding, no Content-Length) into RAW and
# HEADERS, decoded by its Content-Encoding into BODY; sets ENC to that.
backup_get() {
    local what=$1 u=$2 a=$3 h=$4 raw=$5 body=$6 st
    shift 6
    st=$(curl -sS -H "$a" -D "$h" -o "$raw" -w '%{http_code}' "$@" "$u") || fail "$what download failed"
    [ "$st" = 200 ] || fail "$what: status $st: $(head -c 300 "$raw")"
    HTTP_HEADERS=$h
    expect_header "Vary" "Accept-Encoding"
    ! grep -qi '^Content-Length:' "$h" || fail "$what reply must not have a Content-Length"
    ENC=$(sed -n 's/^Content-Encoding: \([a-z]*\).*/\1/Ip' "$h")
    case "$ENC" in
    gzip) gzip -dc <"$raw" >"$body" || fail "$what: bad gzip" ;;
    zstd) zstd -qdc <"$raw" >"$body" || fail "$what: bad zstd" ;;
    "") cp "$raw" "$body" ;;
    *) fail "$what: unexpected Content-Encoding $ENC" ;;
    esac
}

# meta_get URL AUTH OUTDIR [curl args]: GET, decode, check the framing, split.
meta_get() {
    u=$1 a=$2 out=$3
    shift 3
    mkdir -p "$out"
    backup_get metadata "$u/api/v2/backup/metadata" "$a" "$out/headers" "$out/raw" "$out/body" "$@"
    expect_header "Transfer-Encoding" "chunked"
    echo "$ENC" >"$out/encoding"
    ctype=$(sed -n 's/^Content-Type: \(.*\)\r$/\1/Ip' "$out/headers")
    $CHECK multipart "$out/body" "$ctype" "$out" || fail "metadata multipart framing"
    $CHECK schema "$out/buckets" >/dev/null || fail "metadata buckets schema"
    "$TSV_TOOLS/boltcheck" "$out/kv" >"$out/kv.dump" || fail "metadata kv part fails boltcheck"
    [ "$(head -c 15 "$out/sql")" = "SQLite format 3" ] || fail "sql part is not an SQLite file"
}
meta_get "$UA" "$AUTH_A" "$W/ma-gzip" -H 'Accept-Encoding: gzip'
[ "$(cat "$W/ma-gzip/encoding")" = gzip ] || fail "Accept-Encoding: gzip must give a gzip reply"
meta_get "$UA" "$AUTH_A" "$W/ma-id"
[ "$(cat "$W/ma-id/encoding")" = "" ] || fail "no Accept-Encoding must give an identity reply"
meta_get "$UA" "$AUTH_A" "$W/ma-zstd" -H 'Accept-Encoding: zstd'
[ "$(cat "$W/ma-zstd/encoding")" = zstd ] || fail "Accept-Encoding: zstd must give a zstd reply"
meta_get "$UA" "$AUTH_A" "$W/ma-none" -H 'Accept-Encoding: gzip' -H 'Gzip-Compression-Level: none'
[ "$(cat "$W/ma-none/encoding")" = "" ] || fail "Gzip-Compression-Level: none must not gzip"
meta_get "$UA" "$AUTH_A" "$W/ma-full" -H 'Accept-Encoding: gzip' -H 'Gzip-Compression-Level: full'
meta_get "$UA" "$AUTH_A" "$W/ma-q0" -H 'Accept-Encoding: gzip;q=0, identity'
[ "$(cat "$W/ma-q0/encoding")" = "" ] || fail "gzip;q=0 must not gzip"
for v in id zstd none full q0; do
    cmp -s "$W/ma-gzip/buckets" "$W/ma-$v/buckets" && cmp -s "$W/ma-gzip/kv.dump" "$W/ma-$v/kv.dump" &&
        cmp -s "$W/ma-gzip/sql" "$W/ma-$v/sql" || fail "metadata parts differ between encodings ($v)"
done
pass "/backup/metadata: framing, part headers and order, gzip/zstd/none/full/q=0 all give the same parts"

# The manifests say exactly what was restored, in influxd's field order and
# omissions (docs/formats.md#bucket-manifest), system buckets included.
python3 - "$W" "$ORG" <<'PY' || fail "buckets part does not describe what was restored"
import json, sys, re, datetime
W, org = sys.argv[1:]
got = json.load(open(f"{W}/ma-gzip/buckets"))
by_name = {b["bucketName"]: b for b in got}
assert sorted(by_name) == ["_monitoring", "_tasks", "edge", "fixture_autogen", "fixture_daily", "metrics"], sorted(by_name)

def ns(t):  # RFC 3339 -> ns since the epoch
    m = re.fullmatch(r"(.{19})(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", t)
    d = datetime.datetime.fromisoformat(m.group(1) + ("+00:00" if m.group(3) == "Z" else m.group(3)))
    return int(d.timestamp()) * 10**9 + int((m.group(2) or "0").ljust(9, "0"))

def rfc(n):  # Go RFC3339Nano, UTC
    s, f = divmod(n, 10**9)
    t = datetime.datetime.fromtimestamp(s, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return t + (("." + ("%09d" % f).rstrip("0")) if f else "") + "Z"

for name in ("fixture_autogen", "fixture_daily", "edge"):
    src = json.load(open(f"{W}/m-{name.replace('fixture_', '')}.json"))
    res = json.load(open(f"{W}/r-{name.replace('fixture_', '')}.json"))
    mapping = {m["oldId"]: m["newId"] for m in res["shardMappings"]}
    b = by_name[name]
    want = {"organizationID": org, "organizationName": "fixture-org", "bucketID": res["id"], "bucketName": name}
    if src.get("description"):
        want["description"] = src["description"]
    want["defaultRetentionPolicy"] = src["defaultRetentionPolicy"]
    rps = []
    for srp, grp in zip(src["retentionPolicies"], b["retentionPolicies"]):
        groups = []
        gids = [g["id"] for g in grp["shardGroups"]]
        assert len(set(gids)) == len(gids) == len(srp["shardGroups"]), gids
        for sg, gg in zip(srp["shardGroups"], grp["shardGroups"]):
            g = {"id": gg["id"], "startTime": rfc(ns(sg["startTime"])), "endTime": rfc(ns(sg["endTime"]))}
            for k in ("deletedAt", "truncatedAt"):
                if k in sg:
                    g[k] = rfc(ns(sg[k]))
            shards = []
            for ss, gs in zip(sg["shards"], gg["shards"]):
                new = mapping.get(ss["id"])
                if "deletedAt" in sg:
                    assert new is None and gs["id"] not in mapping.values(), (ss, gs)
                    new = gs["id"]  # remapped, but not returned (B14)
                shards.append({"id": new, "shardOwners": []})
            g["shards"] = shards
            groups.append(g)
        rps.append({"name": srp["name"], "replicaN": srp["replicaN"], "duration": srp["duration"],
                    "shardGroupDuration": srp["shardGroupDuration"], "shardGroups": groups,
                    "subscriptions": [{"name": s["name"], "mode": s["mode"], "destinations": s["destinations"] or None}
                                      for s in srp["subscriptions"]]})
    want["retentionPolicies"] = rps
    assert b == want, f"\n got {json.dumps(b)}\nwant {json.dumps(want)}"
    assert list(b) == list(want), (list(b), list(want))
def sysb(name, desc, dur):
    b = by_name[name]
    assert b["organizationID"] == org and b["organizationName"] == "fixture-org", b
    assert b.get("description") == desc, (name, b.get("description"))
    rp = b["retentionPolicies"]
    assert len(rp) == 1 and rp[0]["duration"] == dur and rp[0]["shardGroups"] == [], b
sysb("_tasks", "System bucket for task logs", 3 * 86400 * 10**9)
sysb("_monitoring", "System bucket for monitoring logs", 7 * 86400 * 10**9)
sysb("metrics", None, 0)
raw = open(f"{W}/ma-gzip/buckets", "rb").read()
assert b'"description":"\\u003c\\u0026\\u003e \\"quoted\\" \xe2\x98\x83 \\u2028"' in raw, "Go's string escaping"
assert b'"destinations":null' in raw and b'"shardOwners":[]' in raw and b'"shardGroups":[]' in raw
PY
pass "buckets part: every field, order and omission as influxd writes it (times UTC RFC3339Nano, ns durations)"

# ---- A: every shard, every compression ---------------------------------------
mapfile -t SHARDS < <(python3 -c '
import json, sys
for b in json.load(open(sys.argv[1])):
    for rp in b["retentionPolicies"]:
        for g in rp["shardGroups"]:
            if "deletedAt" not in g:
                for s in g["shards"]:
                    print(s["id"], b["bucketID"], rp["name"])' "$W/ma-gzip/buckets")
[ "${#SHARDS[@]}" = 7 ] || fail "expected 7 live shards in the manifest, got ${#SHARDS[@]}"
# shard_get URL AUTH ID OUT [curl args]: GET, check headers, decode to OUT.
shard_get() {
    u=$1 a=$2 id=$3 out=$4
    shift 4
    backup_get "shard $id" "$u/api/v2/backup/shards/$id" "$a" "$out.h" "$out.raw" "$out" "$@"
    expect_header "Content-Type" "application/octet-stream"
    SHARD_ENC=$ENC
}
mkdir -p "$W/sa"
for line in "${SHARDS[@]}"; do
    read -r id bucket rp <<<"$line"
    shard_get "$UA" "$AUTH_A" "$id" "$W/sa/$id.tar"
    [ -z "$SHARD_ENC" ] || fail "no Accept-Encoding must give an identity tar"
    $CHECK tar "$W/sa/$id.tar" >"$W/sa/$id.list" || fail "shard $id tar"
    for v in "gzip:default:gzip" "gzip::gzip" "gzip:speedy:gzip" "gzip:full:gzip" "gzip:none:" \
        "zstd::zstd" "zstd:full:zstd" "deflate, gzip;q=0.5:default:gzip" "identity::" "gzip;q=0::"; do
        IFS=: read -r ae lvl want <<<"$v"
        args=(-H "Accept-Encoding: $ae")
        [ -n "$lvl" ] && args+=(-H "Gzip-Compression-Level: $lvl")
        shard_get "$UA" "$AUTH_A" "$id" "$W/sa/$id.v" "${args[@]}"
        [ "$SHARD_ENC" = "$want" ] || fail "shard $id with '$ae'/'$lvl': Content-Encoding '$SHARD_ENC', want '$want'"
        cmp -s "$W/sa/$id.tar" "$W/sa/$id.v" || fail "shard $id with '$ae'/'$lvl' decodes to a different tar"
    done
    # Entries: <bucket>/<rp>/<id>/<file>, the fixture's files byte for byte.
    python3 - "$W/sa/$id.list" "$bucket/$rp/$id/" "${SRC[$id]}" <<'PY' || fail "shard $id content"
import hashlib, json, os, sys
lst = [json.loads(l) for l in open(sys.argv[1])]
src = sys.argv[3]
want = sorted(os.listdir(src))
assert [e[0] for e in lst] == [sys.argv[2] + n for n in want], ([e[0] for e in lst], want)
for e in lst:
    data = open(os.path.join(src, os.path.basename(e[0])), "rb").read()
    assert e[1] == len(data) and e[4] == hashlib.sha256(data).hexdigest(), e
    assert e[3] == 0o644, e
PY
done
grep -q '\.tombstone"' "$W/sa/${NEWID[1]}.list" || fail "the tombstone is missing from shard ${NEWID[1]}'s backup"
pass "7 shards x 11 encodings (gzip default/speedy/full/none, zstd, q-values): same tar, fixture files + tombstone byte-identical"

# ---- A -> B: the influx CLI's backup, then a FULL restore --------------------
$CLI backup "$UA" "$TA" "$W/bk" >"$W/bk.out" || fail "influx backup of A"
nfiles=$(ls "$W/bk" | grep -c '\.tar\.gz$')
[ "$nfiles" = 7 ] || fail "the backup directory must hold 7 shard files, has $nfiles"
python3 - "$(cat "$W/bk.out")" <<'PY' || fail "CLI manifest"
import json, sys
m = json.load(open(sys.argv[1]))
assert m["manifestVersion"] == 2 and m["kv"]["compression"] == 1 and m["sql"]["compression"] == 1, m
assert sum(len(g["shards"]) for b in m["buckets"] for rp in b["retentionPolicies"] for g in rp["shardGroups"]) == 7
PY
tsv_start b
$CLI restore "$b_URL" "$TSV_TOKEN" "$W/bk" --full --seed 1 >"$W/rb.json" || fail "full restore into B"
[ "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$W/rb.json")" = "$TA" ] ||
    fail "restore/kv must return A's operator token"
AUTH_B="Authorization: Token $TA"
http GET "$b_URL/api/v2/orgs?org=fixture-org" -H "$AUTH_B"
expect_status 200 "B: the restored token works"
pass "B: full restore (kv -> token -> sql -> shards with original ids) as the CLI does it"

meta_get "$b_URL" "$AUTH_B" "$W/mb" -H 'Accept-Encoding: gzip'
cmp "$W/ma-gzip/buckets" "$W/mb/buckets" || fail "B's manifests differ from A's (ids must be equal)"
cmp "$W/ma-gzip/kv.dump" "$W/mb/kv.dump" || { diff "$W/ma-gzip/kv.dump" "$W/mb/kv.dump" | head -5; fail "B's bolt differs from A's"; }
cmp "$W/ma-gzip/sql" "$W/mb/sql" || fail "B's SQL file differs from A's"
mkdir -p "$W/sb"
for line in "${SHARDS[@]}"; do
    read -r id bucket rp <<<"$line"
    shard_get "$b_URL" "$AUTH_B" "$id" "$W/sb/$id.tar" -H 'Accept-Encoding: gzip'
    $CHECK tar "$W/sb/$id.tar" >"$W/sb/$id.list" || fail "B shard $id tar"
    # name, size, mode, sha256 (mtime is the restore's)
    cmp <(cut -d, -f1,2,4,5 "$W/sa/$id.list") <(cut -d, -f1,2,4,5 "$W/sb/$id.list") ||
        fail "B's shard $id differs from A's"
done
grep -q '\.tombstone"' "$W/sb/${NEWID[1]}.list" || fail "the tombstone did not survive the full restore (upstream B3)"
pass "B backed up: bolt dump, SQL, manifests byte-identical to A's; 7 shards' TSM + tombstone files identical"

# ---- A -> C: PARTIAL restore with shard IDs already taken --------------------
tsv_start c
AUTH_C="Authorization: Token $TSV_TOKEN"
fixture_bucket "$c_URL" prefill-org autogen "$W/prefill.json" # C's shard IDs 1-3 are taken
$CLI restore "$c_URL" "$TSV_TOKEN" "$W/bk" --seed 2 >"$W/rc.json" 2>"$W/rc.err" || { cat "$W/rc.err"; fail "partial restore into C"; }
meta_get "$c_URL" "$AUTH_C" "$W/mc" -H 'Accept-Encoding: gzip'
http GET "$c_URL/api/v2/orgs?org=fixture-org" -H "$AUTH_C"
expect_status 200 "C: the CLI created fixture-org"
ORGC=$(json_get 'j["orgs"][0]["id"]')
python3 - "$W/ma-gzip/buckets" "$W/mc/buckets" "$W/rc.json" "$ORGC" >"$W/c-shards" <<'PY' || fail "C's manifests differ from A's modulo ids"
import json, sys
a = {b["bucketName"]: b for b in json.load(open(sys.argv[1]))}
c = {b["bucketName"]: b for b in json.load(open(sys.argv[2])) if b["organizationName"] == "fixture-org"}
mapping = {int(k): v for k, v in json.load(open(sys.argv[3]))["mappings"].items()}
orgc = sys.argv[4]
assert len(mapping) == 7 and any(mapping[k] != k for k in mapping), mapping
for name, ab in a.items():
    if name.startswith("_"):
        continue
    cb = c[name]
    assert cb["organizationID"] == orgc and cb["bucketID"] != ab["bucketID"], cb
    for k in ("organizationName", "bucketName", "description", "defaultRetentionPolicy"):
        assert ab.get(k) == cb.get(k), (k, ab.get(k), cb.get(k))
    assert list(ab) == list(cb)
    for arp, crp in zip(ab["retentionPolicies"], cb["retentionPolicies"], strict=True):
        assert {k: v for k, v in arp.items() if k != "shardGroups"} == {k: v for k, v in crp.items() if k != "shardGroups"}
        for ag, cg in zip(arp["shardGroups"], crp["shardGroups"], strict=True):
            assert {k: v for k, v in ag.items() if k not in ("id", "shards")} == \
                   {k: v for k, v in cg.items() if k not in ("id", "shards")}, (ag, cg)
            if "deletedAt" in ag:
                # 404 on download: the CLI left the shard out of its manifest
                assert cg["shards"] == [] and all(s["id"] not in mapping for s in ag["shards"]), (ag, cg)
                continue
            for ash, csh in zip(ag["shards"], cg["shards"], strict=True):
                assert csh["shardOwners"] == []
                assert mapping[ash["id"]] == csh["id"], (ash, csh)
                print(ash["id"], csh["id"], f"{ab['bucketID']}/{arp['name']}/{ash['id']}/", f"{cb['bucketID']}/{crp['name']}/{csh['id']}/")
PY
[ "$(wc -l <"$W/c-shards")" = 7 ] || fail "expected 7 remapped shards in C"
mkdir -p "$W/sc"
while read -r old new pa pc; do
    shard_get "$c_URL" "$AUTH_C" "$new" "$W/sc/$new.tar" -H 'Accept-Encoding: gzip'
    $CHECK tar "$W/sc/$new.tar" >"$W/sc/$new.list" || fail "C shard $new tar"
    cmp <(cut -d, -f1,2,4,5 "$W/sa/$old.list" | sed "s#\"$pa#\"#") <(cut -d, -f1,2,4,5 "$W/sc/$new.list" | sed "s#\"$pc#\"#") ||
        fail "C's shard $new differs from A's shard $old"
    grep -q "\"$pc" "$W/sc/$new.list" || fail "C's shard $new entries must be named $pc..."
done <"$W/c-shards"
pass "C: partial restore; manifests equal modulo new org/bucket/group/shard ids; files identical, tombstone kept"

# ---- since= -----------------------------------------------------------------
id=${NEWID[1]}
read -r _ bucket rp < <(printf '%s\n' "${SHARDS[@]}" | grep "^$id ")
dir="$a_DATA/state/engine/data/$bucket/$rp/$id"
[ -f "$dir/000000001-000000001.tombstone" ] || fail "no tombstone on disk in $dir"
T0=1893456000 # 2030-01-01T00:00:00Z
python3 - "$dir" "$T0" <<'PY'
import os, sys
d, t0 = sys.argv[1], int(sys.argv[2]) * 10**9
os.utime(f"{d}/000000001-000000001.tsm", ns=(t0, t0))
os.utime(f"{d}/000000001-000000001.tombstone", ns=(t0 + 1, t0 + 1))
os.utime(f"{d}/000000002-000000001.tsm", ns=(t0 + 10**9, t0 + 10**9))
PY
since_names() {
    curl -sS -f -H "$AUTH_A" -o "$W/since.tar" -G --data-urlencode "since=$1" "$UA/api/v2/backup/shards/$id" ||
        fail "since=$1"
    $CHECK tar "$W/since.tar" | python3 -c 'import json,sys; print(" ".join(json.loads(l)[0].split("/")[-1] for l in sys.stdin))'
}
t=000000001-000000001.tombstone a1=000000001-000000001.tsm a2=000000002-000000001.tsm
for c in "2029-12-31T23:59:59.999999999Z|$t $a1 $a2" "2030-01-01T00:00:00Z|$t $a2" \
    "2030-01-01T01:00:00+01:00|$t $a2" "2030-01-01T00:00:00.000000001Z|$a2" \
    "2030-01-01T00:00:00.5Z|$a2" "2030-01-01T00:00:01Z|" "|$t $a1 $a2"; do
    IFS='|' read -r since want <<<"$c"
    got=$(since_names "$since")
    [ "$got" = "$want" ] || fail "since=$since: got '$got', want '$want'"
done
[ "$(stat -c %s "$W/since.tar")" -ge 1024 ] || fail "tar too short"
curl -sS -f -H "$AUTH_A" -o "$W/since.tar" "$UA/api/v2/backup/shards/$id?since=2030-01-01T00:00:01Z" || fail "since, empty"
[ "$(stat -c %s "$W/since.tar")" = 1024 ] && cmp -s "$W/since.tar" <(head -c 1024 /dev/zero) ||
    fail "a backup with no file must be an empty tar (two zero blocks)"
curl -sS -f -H "$AUTH_A" -o "$W/since.tar" "$UA/api/v2/backup/shards/$id" || fail "shard $id"
grep -q "\"$bucket/$rp/$id/$a2\", [0-9]*, $((T0 + 1))," <($CHECK tar "$W/since.tar") ||
    fail "tar header mtime must be the file's mtime"
for bad in garbage 2030-01-01 2030-01-01T00:00:00 "2030-01-01 00:00:00Z" 2030-13-01T00:00:00Z; do
    http GET "$UA/api/v2/backup/shards/$id" -H "$AUTH_A" -G --data-urlencode "since=$bad"
    expect_error 400 invalid "^invalid since "
done
pass "since=: strictly-after mtime filter at ns precision, offsets, empty tar; malformed -> 400"

# ---- errors -----------------------------------------------------------------
for bad in abc -1 1.5 0x10 18446744073709551616 "1%20" "%2B1"; do
    http GET "$UA/api/v2/backup/shards/$bad" -H "$AUTH_A"
    expect_error 400 invalid "shard ID"
done
http GET "$UA/api/v2/backup/shards/18446744073709551615" -H "$AUTH_A"
expect_error 404 "not found" '^shard 18446744073709551615 not found$'
http GET "$UA/api/v2/backup/shards/999999" -H "$AUTH_A" -H 'Accept-Encoding: gzip'
expect_error 404 "not found" '^shard 999999 not found$'
! grep -qi '^Content-Encoding' "$HTTP_HEADERS" || fail "error replies are never compressed"
deleted=$(python3 -c '
import json, sys
for b in json.load(open(sys.argv[1])):
    for g in b["retentionPolicies"][0]["shardGroups"]:
        if "deletedAt" in g: print(g["shards"][0]["id"])' "$W/ma-gzip/buckets")
http GET "$UA/api/v2/backup/shards/$deleted" -H "$AUTH_A"
expect_error 404 "not found"
for ep in metadata "shards/$id"; do
    http GET "$UA/api/v2/backup/$ep" -H "$AUTH_A" -H 'Gzip-Compression-Level: bogus' -H 'Accept-Encoding: gzip'
    expect_error 400 invalid '^unknown compression level: "bogus", valid values: \[default, full, speedy, none\]$'
    http GET "$UA/api/v2/backup/$ep" -H "$AUTH_A" -H 'Gzip-Compression-Level: Full'
    expect_error 400 invalid 'unknown compression level: "Full"'
    http GET "$UA/api/v2/backup/$ep"
    expect_error 401 unauthorized
    http GET "$UA/api/v2/backup/$ep" -H "Authorization: Token wrong"
    expect_error 401 unauthorized
done
pass "bad shard id -> 400; unknown/deleted shard -> 404 not found; bad Gzip-Compression-Level -> 400; no token -> 401"
echo "1..all passed"
