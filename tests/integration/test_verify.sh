#!/bin/bash
# Verify re-reads everything and changes nothing. On the restored 1.6
# fixture (plus a tombstone written by InfluxDB's own Tombstoner):
#  - a clean store passes (POST /api/v2/verify, tsvault verify --host and
#    --data-dir), and a rate bound slows it down;
#  - each kind of damage is found and reported at the right place: a flipped
#    byte in a TSM block (file, block offset), a truncated TSM file, a
#    missing shard directory, a tombstone whose TSM file is gone, a corrupt
#    tombstone, a KV page that fails the page check (data.mdb, page offset);
#  - the files are byte-identical before and after every verify run (the
#    only write: a vault object whose bytes no longer match its name is
#    marked corrupt, test_verify_corrupt.sh).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixture.sh"

fixture_server
fixture_restore "$U" "$W"
BA=${FIX_BUCKET[autogen]}
S1=${FIX_SHARD[1]} S2=${FIX_SHARD[2]} S3=${FIX_SHARD[3]}
SD="state/engine/data/$BA/autogen"

# Shard 1 again, with a tombstone made by tsm1.Tombstoner.
T="$W/tomb/$BA/autogen/$S1"
mkdir -p "$T"
cp "$W"/x/fixture/autogen/1/*.tsm "$T/"
"$TSV_TOOLS/tsmcheck" tombstone -file "$T/000000001-000000001.tsm" \
    -key 'cpu,host=h1,region=eu-west#!~#cores' -min 1704067200000000000 -max 1704070800000000000
[ -s "$T/000000001-000000001.tombstone" ] || fail "no tombstone written"
(cd "$W/tomb" && tar --format=ustar -cf - "$BA") >"$W/tomb.tar"
http POST "$U/api/v2/restore/shards/$S1" -H "$(auth)" -H 'Content-Type: application/octet-stream' \
    --data-binary "@$W/tomb.tar"
expect_status 204 "restore shard 1 with a tombstone"

# --- clean, live ---------------------------------------------------------------
http POST "$U/api/v2/verify" -H "$(auth)"
expect_status 200 "verify"
expect_header "Content-Type" "application/x-ndjson"
# Files read: the 8 live TSM/tombstone files, then every vault object
# (shard files and KV/SQL versions), each checked against its name.
NOBJ=$(find "$TSV_TMP/s-data/objects" -type f | wc -l)
python3 - "$HTTP_BODY" "$NOBJ" <<'PY' || fail "verify report: $(tail -n 3 "$HTTP_BODY")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
nobj = int(sys.argv[2])
s = lines[-1]
assert s["type"] == "summary" and s["ok"] and s["problems"] == 0, s
assert s["kvChecked"] and s["tsmFiles"] == 7 and s["tombstoneFiles"] == 1, s
assert s["values"] == 7712, s
assert all(l["type"] == "progress" for l in lines[:-1]) and lines[-2]["filesDone"] == 8 + nobj == lines[-2]["filesTotal"], (nobj, lines[-2])
PY
"$TSVAULT_BIN" verify --host "$U" --token "$TSV_TOKEN" >"$W/v-host.txt" ||
    fail "tsvault verify --host: $(cat "$W/v-host.txt")"
pass "a clean store verifies (HTTP report, tsvault verify --host)"

http POST "$U/api/v2/verify?bucketID=$BA" -H "$(auth)"
expect_status 200 "verify one bucket"
tail -n 1 "$HTTP_BODY" | grep -q '"ok":true,.*"kvChecked":false,"buckets":1,"shards":3' ||
    fail "bucket verify: $(tail -n 1 "$HTTP_BODY")"
http POST "$U/api/v2/verify?bucketID=0000000000000bad" -H "$(auth)"
expect_error 404 "not found"
http POST "$U/api/v2/verify?maxBytesPerSecond=fast" -H "$(auth)"
expect_error 400 invalid "maxBytesPerSecond"
http POST "$U/api/v2/verify"
expect_error 401 unauthorized
pass "one bucket; 404 unknown bucket, 400 bad rate, 401 without token"

# Damage found on the running server, then repaired.
F1="$s_DATA/$SD/$S1/000000001-000000001.tsm"
cp "$F1" "$W/f1.orig"
python3 -c 'import sys; f=open(sys.argv[1],"r+b"); f.seek(20); b=f.read(1); f.seek(20); f.write(bytes([b[0]^0xff]))' "$F1"
cmp -s "$F1" "$W/f1.orig" && fail "byte not flipped"
http POST "$U/api/v2/verify" -H "$(auth)"
python3 - "$HTTP_BODY" "$SD/$S1/000000001-000000001.tsm" "$BA" "$S1" <<'PY' ||
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
p = [l for l in lines if l["type"] == "problem"]
# The live file and its vault object are one inode: the damage is reported
# at the TSM block and as an object whose bytes no longer match its name.
assert len(p) == 2, p
t = [x for x in p if x["file"] == sys.argv[2]]
assert len(t) == 1 and t[0]["offset"] == 5, p
assert t[0]["bucketID"] == sys.argv[3] and t[0]["shardID"] == int(sys.argv[4]), t[0]
assert t[0]["rp"] == "autogen" and "CRC32 mismatch" in t[0]["message"], t[0]
o = [x for x in p if x["file"].startswith("objects/")]
assert len(o) == 1 and "object content does not match its name" in o[0]["message"], p
assert "; marked corrupt: " in o[0]["message"], o[0]
assert lines[-1]["ok"] is False and lines[-1]["problems"] == 2, lines[-1]
PY
    fail "live verify of a flipped byte: $(grep problem "$HTTP_BODY")"
cmp "$F1" "$W/f1.orig" >/dev/null && fail "the damaged file changed back?"
ls "$s_DATA/objects/corrupt/" | grep -q . || fail "the object was not marked corrupt"
cp "$W/f1.orig" "$F1"
# Its bytes are good again (repaired outside tsvault): the next verify
# finds nothing and drops the mark.
http POST "$U/api/v2/verify" -H "$(auth)"
tail -n 1 "$HTTP_BODY" | grep -q '"ok":true' || fail "verify after the repair: $(grep problem "$HTTP_BODY")"
[ -z "$(ls "$s_DATA/objects/corrupt/")" ] || fail "mark left after the bytes were repaired"
pass "a flipped byte is reported live with bucket, rp, shard, file and block offset (and its object, marked; the mark goes once the bytes are good)"

tsv_stop s

# --- offline -------------------------------------------------------------------
# LOCK and LMDB's lock.mdb (its reader table) are not data.
snapshot() { (cd "$1" && find . -type f ! -name LOCK ! -name lock.mdb -print0 | sort -z | xargs -0 sha256sum); }
"$TSVAULT_BIN" verify --data-dir "$s_DATA" >"$W/v-clean.txt" || fail "clean offline verify: $(cat "$W/v-clean.txt")"
grep -q '^summary: ok, 0 problems; kv checked; .* 7 TSM files, 1 tombstones' "$W/v-clean.txt" ||
    fail "clean summary: $(cat "$W/v-clean.txt")"
start=$(date +%s.%N)
"$TSVAULT_BIN" verify --data-dir "$s_DATA" --max-bytes-per-second 20000 >/dev/null || fail "rate verify"
took=$(python3 -c "import time; print(time.time() - $start)")
python3 -c "import sys; sys.exit(0 if $took >= 1.5 else 1)" || fail "rate bound not applied ($took s)"
pass "offline verify of the clean store passes; 20 kB/s over ~40 kB takes ${took%.*}+ s"

# damage CASE SETUP EXPECTED-REGEX: a copy of the store, damaged by SETUP (run
# in the copy's directory), must fail verify with a PROBLEM line matching
# the regex, and verify must not change a byte.
damage() {
    local name=$1 setup=$2 want=$3 d="$W/case-$1"
    cp -a "$s_DATA" "$d"
    (cd "$d" && eval "$setup")
    snapshot "$d" >"$W/before-$name"
    rc=0
    "$TSVAULT_BIN" verify --data-dir "$d" >"$W/v-$name.txt" 2>&1 || rc=$?
    [ "$rc" = 1 ] || fail "$name: verify exit $rc: $(cat "$W/v-$name.txt")"
    grep -E "^PROBLEM $want" "$W/v-$name.txt" >/dev/null ||
        fail "$name: no problem matching /$want/ in: $(cat "$W/v-$name.txt")"
    snapshot "$d" | diff - "$W/before-$name" >&2 || fail "$name: verify changed the files"
    pass "$name: $(grep '^PROBLEM' "$W/v-$name.txt" | head -n 1 | cut -c1-150)"
}
flip() { python3 -c 'import sys; f=open(sys.argv[1],"r+b"); f.seek(int(sys.argv[2])); b=f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0]^0xff]))' "$1" "$2"; }
damage flipped "flip $SD/$S2/000000001-000000001.tsm 300" \
    "bucket=$BA rp=autogen shard=$S2 file=$SD/$S2/000000001-000000001.tsm offset=[0-9]+: .*(CRC32 mismatch|decode)"
damage truncated "truncate -s 1000 $SD/$S3/000000002-000000002.tsm" \
    "bucket=$BA rp=autogen shard=$S3 file=$SD/$S3/000000002-000000002.tsm offset="
damage missing-shard "rm -rf $SD/$S2" \
    "bucket=$BA rp=autogen shard=$S2 file=$SD/$S2 offset=-1: shard directory missing"
damage missing-tsm "rm $SD/$S1/000000001-000000001.tsm" \
    "bucket=$BA rp=autogen shard=$S1 file=$SD/$S1/000000001-000000001.tombstone offset=-1: tombstone without its TSM file"
damage tombstone "truncate -s -3 $SD/$S1/000000001-000000001.tombstone" \
    "bucket=$BA rp=autogen shard=$S1 file=$SD/$S1/000000001-000000001.tombstone offset="
# The main B-tree root of the current LMDB meta gets flags 0: not a page type.
cat >"$W/kvcorrupt.py" <<'PY'
import struct, sys
f = open(sys.argv[1], "r+b")
metas = []
for m in (0, 1):
    f.seek(m * 4096 + 16 + 128); txn = struct.unpack("<Q", f.read(8))[0]
    f.seek(m * 4096 + 16 + 24 + 48 + 40); root = struct.unpack("<Q", f.read(8))[0]
    metas.append((txn, root))
root = max(metas)[1]
f.seek(root * 4096 + 10); f.write(b"\x00\x00")
print(root * 4096)
PY
damage kv-page "python3 $W/kvcorrupt.py state/kv/data.mdb >$W/kv-offset" \
    "bucket=- rp=- shard=0 file=state/kv/data.mdb offset=[0-9]+: .*KV store .* is corrupt: page [0-9]+ is neither branch nor leaf"
grep -q "offset=$(cat "$W/kv-offset"):" "$W/v-kv-page.txt" || fail "kv-page: wrong offset (want $(cat "$W/kv-offset"))"
grep -q '^summary: PROBLEMS, 1 problems; kv unreadable; 0 buckets, 5 shards, 7 TSM files' "$W/v-kv-page.txt" ||
    fail "kv-page: shard files not checked without the KV: $(tail -n 1 "$W/v-kv-page.txt")"
pass "kv-page: reported at the damaged page's offset; shard files still checked"
echo "1..all passed"
