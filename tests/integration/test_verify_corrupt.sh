#!/bin/bash
# A corrupt object found by verify is marked, and nothing serves or
# installs it until a good copy comes back (issue 16):
#  - a byte flipped in a live TSM file (one inode with its vault object):
#    verify reports the object as marked corrupt; the mark is a file under
#    objects/corrupt/ and survives a restart;
#  - GET /api/v2/backup/shards/{id} of that shard and GET /api/v2/export of
#    its bucket fail with 422 and a message naming bucket, rp, shard, file,
#    object and the time of the mark, before the first byte of a body;
#    other shards still back up;
#  - restore_data of a soft-deleted version that lists the object fails
#    (the job fails with that message) and changes nothing;
#  - uploading the good shard again (restore/shards) repairs the object in
#    place and clears the mark: the backup holds the same files as the one
#    taken before the damage, verify is clean again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixture.sh"
. "$(dirname "$0")/jobs_lib.sh"

fixture_prepare "$W"
tsv_start s
U=$s_URL
fixture_restore "$U" "$W"
BA=${FIX_BUCKET[autogen]}
S1=${FIX_SHARD[1]} S2=${FIX_SHARD[2]}
F1="$s_DATA/state/engine/data/$BA/autogen/$S1/000000001-000000001.tsm"
OBJ=$(sha256sum "$F1" | cut -c1-64)
[ "$(stat -c %i "$F1")" = "$(stat -c %i "$s_DATA/objects/${OBJ:0:2}/$OBJ")" ] ||
    fail "the live file is not its object's inode"

curl -sS -f -H "$(auth)" -o "$W/good-1.tar" "$U/api/v2/backup/shards/$S1" || fail "backup before"
tar tf "$W/good-1.tar" | grep -q "000000001-000000001.tsm" || fail "backup before: no TSM file"

# --- damage, verify marks ---------------------------------------------------
python3 -c 'import sys; f=open(sys.argv[1],"r+b"); f.seek(300); b=f.read(1); f.seek(300); f.write(bytes([b[0]^0xff]))' "$F1"
http POST "$U/api/v2/verify" -H "$(auth)"
expect_status 200 "verify"
python3 - "$HTTP_BODY" "$OBJ" <<'PY' || fail "verify report: $(grep problem "$HTTP_BODY")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
o = [l for l in lines if l["type"] == "problem" and l["file"] == "objects/%s/%s" % (sys.argv[2][:2], sys.argv[2])]
assert len(o) == 1, o
m = o[0]["message"]
assert "object content does not match its name" in m and "; marked corrupt: backups, restores and exports that need it fail" in m, m
assert lines[-1]["ok"] is False
PY
MARK="$s_DATA/objects/corrupt/$OBJ"
[ -f "$MARK" ] || fail "no marker $MARK"
grep -q "^reason=its [0-9]* bytes hash to SHA-256 [0-9a-f]\{64\}$" "$MARK" || fail "marker: $(cat "$MARK")"
pass "verify marks the object whose bytes do not match its name (objects/corrupt/<sha256>)"

# A bucket verify (and a second run) says it is marked already.
http POST "$U/api/v2/verify?bucketID=$BA" -H "$(auth)"
grep -q "\"file\":\"objects/${OBJ:0:2}/$OBJ\".*marked corrupt since 20" "$HTTP_BODY" ||
    fail "bucket verify: $(grep problem "$HTTP_BODY")"
pass "a bucket verify reports it as marked since the first run"

# --- what would serve it fails loudly ----------------------------------------
check_backup_refused() {
    http GET "$U/api/v2/backup/shards/$S1" -H "$(auth)"
    expect_error 422 "unprocessable entity" \
        "^backup of bucket $BA, rp autogen, shard $S1, file 000000001-000000001.tsm: object $OBJ was marked corrupt by verify at 20[0-9-]+T[0-9:.]+Z \(its [0-9]+ bytes hash to SHA-256 [0-9a-f]{64}\); restore an older version or upload a good copy$"
}
check_backup_refused
curl -sS -f -H "$(auth)" -o "$W/s2.tar" "$U/api/v2/backup/shards/$S2" || fail "backup of another shard"
pass "backup of the shard: 422 before any byte, naming bucket, rp, shard, file, object and time; other shards back up"

http GET "$U/api/v2/export?bucketID=$BA" -H "$(auth)"
expect_error 422 "unprocessable entity" "^export of bucket $BA, shard $S1, file 000000001-000000001.tsm: object $OBJ was marked corrupt by verify"
http GET "$U/api/v2/export?bucketID=${FIX_BUCKET[daily]}" -H "$(auth)"
expect_status 200 "export of another bucket"
pass "export of the bucket: 422 before any byte; other buckets export"

# The mark survives a restart.
tsv_stop s
tsv_launch s "$s_DATA" "$TSV_TMP/s-restarted.log"
U=$s_URL
check_backup_refused
pass "the mark survives a restart"

# --- restore_data of a version listing it -------------------------------------
ID=$(create_job "$U" "$TSV_TOKEN" '{"type":"delete_data","target":{"type":"table","tableName":"fixture_autogen","intervals":["2024-01-01/2024-01-08"]}}')
[ "$(wait_job "$U" "$TSV_TOKEN" "$ID")" = completed ] || fail "delete_data: $(cat "$HTTP_BODY")"
[ -f "$MARK" ] || fail "the soft-deleted version's object lost its mark"
ID=$(create_job "$U" "$TSV_TOKEN" '{"type":"restore_data","target":{"type":"table","tableName":"fixture_autogen"},"interval":"2024-01-01/2024-01-08"}')
[ "$(wait_job "$U" "$TSV_TOKEN" "$ID")" = failed ] || fail "restore_data did not fail: $(cat "$HTTP_BODY")"
json_get 'j["health"]["message"]' | grep -E -q "restore_data of bucket $BA, rp autogen, shard $S1, version 1, file 000000001-000000001.tsm: object $OBJ was marked corrupt by verify at .*restore an older version or upload a good copy" ||
    fail "restore_data health: $(json_get 'j["health"]')"
ls "$s_DATA/state/engine/data/$BA/autogen/$S1/" | grep -q tsm && fail "restore_data installed something"
pass "restore_data of a version listing the object fails, names it, installs nothing"

# --- a good upload repairs and clears -----------------------------------------
http POST "$U/api/v2/restore/shards/$S1" -H "$(auth)" -H 'Content-Type: application/octet-stream' \
    --data-binary "@$W/good-1.tar"
expect_status 204 "restore shard 1 from the good backup"
[ -e "$MARK" ] && fail "mark still there after a good upload"
[ "$(sha256sum "$s_DATA/objects/${OBJ:0:2}/$OBJ" | cut -c1-64)" = "$OBJ" ] || fail "object not repaired"
curl -sS -f -H "$(auth)" -o "$W/after-1.tar" "$U/api/v2/backup/shards/$S1" || fail "backup after the repair"
mkdir -p "$W/x-good" "$W/x-after"
tar xf "$W/good-1.tar" -C "$W/x-good" && tar xf "$W/after-1.tar" -C "$W/x-after" || fail "untar"
diff -r "$W/x-good" "$W/x-after" >&2 || fail "backup after the repair differs from the one before the damage"
http POST "$U/api/v2/verify" -H "$(auth)"
tail -n 1 "$HTTP_BODY" | grep -q '"ok":true' || fail "verify after the repair: $(grep problem "$HTTP_BODY")"
# The soft-deleted version shares the (repaired) object: it restores again.
http GET "$U/api/v2/export?bucketID=$BA" -H "$(auth)"
expect_status 200 "export after the repair"
pass "a good upload repairs the object in place and clears the mark: backup holds the same files as before, verify clean"
echo "1..all passed"
