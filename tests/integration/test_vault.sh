#!/bin/bash
# The vault with the real 1.6 fixture: content-addressed objects and dedup,
# versions of shard uploads, delete_data / restore_data through the C API
# (tsv_vaulttool, what the jobs layer calls), the version rule, unusedShards
# on both paths, bucket delete, restart, purge. Every data check reads the
# live shard directories with tsmcheck (InfluxDB 1.6.7's tsm1 reader, which
# applies tombstones) and compares with expected/export-*.lp exactly.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixture.sh"

VT=$(tsv_tool tsv_vaulttool)
fixture_server

http POST "$U/api/v2/orgs" -H "$(auth)" -H 'Content-Type: application/json' -d '{"name":"vault-org"}'
expect_status 201 "create org"
ORG=$(json_get 'j["id"]')
declare -A NEWID BUCKET RPOF
for rp in autogen daily; do
    fixture_manifest "$W" "$rp" "$ORG" >"$W/m-$rp.json"
    http POST "$U/api/v2/restore/bucketMetadata" -H "$(auth)" -H 'Content-Type: application/json' \
        --data-binary "@$W/m-$rp.json"
    expect_status 201 "bucketMetadata $rp"
    BUCKET[$rp]=$(json_get 'j["id"]')
    while read -r old new; do NEWID[$old]=$new; RPOF[$old]=$rp; done < <(json_get "'\\n'.join('%d %d' % (m['oldId'], m['newId']) for m in j['shardMappings'])")
done
upload() { # old shard id
    http POST "$U/api/v2/restore/shards/${NEWID[$1]}" -H "$(auth)" -H 'Content-Type: application/octet-stream' \
        -H 'Content-Encoding: gzip' --data-binary "@$W/s$1.tar.gz"
    expect_status 204 "restore shard $1"
}
for old in 1 2 3 4 5; do upload $old; done
pass "fixture restored (5 shards)"

# --- objects: every live file is an object (same inode, read-only) ----------
n=0
for f in "$D"/state/engine/data/*/*/*/*.tsm; do
    h=$(sha256sum "$f" | cut -c1-64)
    o="$D/objects/${h:0:2}/$h"
    [ -f "$o" ] || fail "no object for $f"
    [ "$(stat -c %i "$f")" = "$(stat -c %i "$o")" ] || fail "$f is not a hard link to its object"
    [ "$(stat -c %a "$o")" = 444 ] || fail "object $o is not read-only"
    n=$((n + 1))
done
[ "$n" = 7 ] || fail "expected 7 TSM files, found $n"
pass "7 TSM files live as hard links to read-only SHA-256 objects"

# export RP [DATADIR]: tsmcheck export of the live shard directories of RP.
export_rp() {
    fixture_export "$D/state/engine/data/${BUCKET[$1]}/$1" "$1" "$2"
}
# expected_without RP START_NS END_NS: the expected export minus [start, end).
expected_without() {
    fixture_lp_without "$FIXTURE/expected/export-$1.lp" "$2" "$3"
}
same_export() { # RP EXPECTED-FILE WHAT
    export_rp "$1" "$W/got.lp"
    fixture_lp_same "$W/got.lp" "$2" "$3: export of $1 differs"
}
same_export autogen "$FIXTURE/expected/export-autogen.lp" "before"
same_export daily "$FIXTURE/expected/export-daily.lp" "before"
pass "exports before: exactly expected/export-{autogen,daily}.lp"

backup_shard() { # old-id out.tar
    curl -sS -f -H "$(auth)" "$U/api/v2/backup/shards/${NEWID[$1]}" -o "$2" || fail "backup shard $1"
}
backup_shard 1 "$W/before-1.tar"
backup_shard 2 "$W/before-2.tar"

# --- dedup: the same data again grows the data dir by < 1 MB -----------------
du0=$(du -sb "$D" | cut -f1)
for old in 1 2 3 4 5; do upload $old; done
du1=$(du -sb "$D" | cut -f1)
[ $((du1 - du0)) -lt 1048576 ] || fail "second identical restore grew the data dir by $((du1 - du0)) bytes"
pass "second identical restore of all shards: data dir grew by $((du1 - du0)) bytes (< 1 MB)"

http GET "$U/api/v2/buckets/${BUCKET[autogen]}/unusedShards" -H "$(auth)"
expect_status 200 "unusedShards"
python3 - "$HTTP_BODY" "${NEWID[1]}" <<'PY' || fail "unusedShards after re-upload: $(cat "$HTTP_BODY")"
import json, sys
j = json.load(open(sys.argv[1]))
u = j["unusedShards"]
assert [s["version"] for s in u] == [1, 1, 1], u
assert [s["start"] for s in u] == ["2024-01-01T00:00:00Z", "2024-01-08T00:00:00Z", "2024-01-15T00:00:00Z"], u
assert u[0]["shardID"] == int(sys.argv[2]) and u[0]["retentionPolicy"] == "autogen"
assert u[0]["end"] == "2024-01-08T00:00:00Z"
assert all(s["softDeletedBy"] == "shard-restore" for s in u)
assert len(u[0]["files"]) == 2 and all(len(f["object"]) == 64 for f in u[0]["files"])
assert u[0]["size"] == sum(f["size"] for f in u[0]["files"])
assert u[0]["purgeDueAt"] > u[0]["softDeletedAt"]
PY
http GET "$U/v1/projects/$ORG/tables/fixture_autogen/unusedSegments" -H "$(auth)"
expect_status 200 "unusedSegments"
cp "$HTTP_BODY" "$W/seg.json"
http GET "$U/api/v2/buckets/${BUCKET[autogen]}/unusedShards" -H "$(auth)"
cmp -s "$HTTP_BODY" "$W/seg.json" || fail "unusedSegments differs from unusedShards"
pass "unusedShards lists the replaced versions (ordered by interval); the seed path says the same"

http GET "$U/api/v2/buckets/0000000000000001/unusedShards" -H "$(auth)"
expect_error 404 "not found" "bucket 0000000000000001 not found"
http GET "$U/api/v2/buckets/xyz/unusedShards" -H "$(auth)"
expect_status 400 "bad bucket ID"
http GET "$U/v1/projects/$ORG/tables/nosuchtable/unusedSegments" -H "$(auth)"
expect_status 404 "unknown table"
pass "unusedShards: unknown bucket 404, bad ID 400, unknown table 404"

tsv_stop s
LOGN=0
relaunch() { # each start gets its own log: tsv_launch reads the port from it
    LOGN=$((LOGN + 1))
    tsv_launch s "$D" "$TSV_TMP/s-$LOGN.log"
    U=$s_URL
}
vt() { "$VT" "$D" "$@" 2>"$W/vt.err"; }
outcome() { # JSON-FILE: prints "shardID:outcome:from:to[:reason]" per shard
    python3 -c 'import json,sys
for s in json.load(open(sys.argv[1]))["shards"]:
    print("%d:%s:%d:%d%s" % (s["shardID"], s["outcome"], s["fromVersion"], s["toVersion"], ":"+s["reason"] if s["reason"] else ""))' "$1"
}

# --- version rule: v2 in use, v1 soft-deleted by the re-upload ---------------
vt restore "${BUCKET[autogen]}" 2024-01-01/2024-01-08 >"$W/r.json" || fail "restore: $(cat "$W/vt.err")"
[ "$(outcome "$W/r.json")" = "${NEWID[1]}:refused:2:2:version 2 is in use; soft-delete it first" ] ||
    fail "version rule: $(cat "$W/r.json")"
pass "version rule: restoring v1 under an in-use v2 is refused with the reason"

# --- delete_data over parts of shards 1 and 2 --------------------------------
LO=$(date -d 2024-01-03T00:00:00Z +%s)000000000
HI=$(date -d 2024-01-10T00:00:00Z +%s)000000000
vt delete "${BUCKET[autogen]}" 2024-01-03/2024-01-10 >"$W/d.json" || fail "delete: $(cat "$W/vt.err")"
[ "$(outcome "$W/d.json" | tr '\n' ' ')" = "${NEWID[1]}:tombstoned:2:3 ${NEWID[2]}:tombstoned:2:3 " ] ||
    fail "delete_data outcome: $(cat "$W/d.json")"
expected_without autogen "$LO" "$HI" >"$W/exp-del.lp"
[ "$(wc -l <"$W/exp-del.lp")" -lt "$(wc -l <"$FIXTURE/expected/export-autogen.lp")" ] ||
    fail "the interval holds no fixture points"
same_export autogen "$W/exp-del.lp" "after delete_data"
same_export daily "$FIXTURE/expected/export-daily.lp" "after delete_data (other bucket)"
pass "delete_data 2024-01-03/2024-01-10: exactly the interval's points are gone (tombstone versions)"

relaunch
backup_shard 1 "$W/del-1.tar"
tar tf "$W/del-1.tar" | grep -q '\.tombstone$' || fail "backup after delete has no tombstone"
cmp -s "$W/del-1.tar" "$W/before-1.tar" && fail "backup after delete is unchanged"
pass "backup after delete_data carries the tombstone"
tsv_stop s

# --- restore_data brings the earlier versions back ---------------------------
vt restore "${BUCKET[autogen]}" 2024-01-03/2024-01-10 >"$W/r.json" || fail "restore: $(cat "$W/vt.err")"
[ "$(outcome "$W/r.json" | tr '\n' ' ')" = "${NEWID[1]}:restored:3:2 ${NEWID[2]}:restored:3:2 " ] ||
    fail "restore_data outcome: $(cat "$W/r.json")"
same_export autogen "$FIXTURE/expected/export-autogen.lp" "after restore_data"
relaunch
backup_shard 1 "$W/after-1.tar"
backup_shard 2 "$W/after-2.tar"
cmp "$W/after-1.tar" "$W/before-1.tar" || fail "backup of shard 1 after restore_data differs"
cmp "$W/after-2.tar" "$W/before-2.tar" || fail "backup of shard 2 after restore_data differs"
pass "restore_data: export exactly as before, shard backups byte-identical to before the delete"
tsv_stop s

# --- whole shards: soft delete and restore ----------------------------------
vt delete "${BUCKET[daily]}" 2024-01-01/2024-01-02 >"$W/d.json" || fail "delete: $(cat "$W/vt.err")"
[ "$(outcome "$W/d.json")" = "${NEWID[4]}:soft_deleted:2:0" ] || fail "whole delete: $(cat "$W/d.json")"
[ -z "$(ls "$D/state/engine/data/${BUCKET[daily]}/daily/${NEWID[4]}/")" ] || fail "shard 4 not empty"
LO=$(date -d 2024-01-01T00:00:00Z +%s)000000000
HI=$(date -d 2024-01-02T00:00:00Z +%s)000000000
expected_without daily "$LO" "$HI" >"$W/exp-del.lp"
same_export daily "$W/exp-del.lp" "after whole-shard delete"
vt restore "${BUCKET[daily]}" 2024-01-01/2024-01-02 >"$W/r.json" || fail "restore: $(cat "$W/vt.err")"
[ "$(outcome "$W/r.json")" = "${NEWID[4]}:restored:0:2" ] || fail "whole restore: $(cat "$W/r.json")"
same_export daily "$FIXTURE/expected/export-daily.lp" "after whole-shard restore"
pass "a shard wholly inside the interval: soft-deleted whole, restored whole"

# --- the version rule, then the lower version after soft-deleting v2 --------
vt restore "${BUCKET[autogen]}" 2024-01-01/2024-01-08 --version 1 >"$W/r.json" || fail "restore v1"
[ "$(outcome "$W/r.json")" = "${NEWID[1]}:refused:2:2:version 2 is in use; soft-delete it first" ] ||
    fail "version rule (explicit v1): $(cat "$W/r.json")"
vt delete "${BUCKET[autogen]}" 2024-01-01/2024-01-08 >"$W/d.json" || fail "delete v2"
vt restore "${BUCKET[autogen]}" 2024-01-01/2024-01-08 --version 1 >"$W/r.json" || fail "restore v1"
[ "$(outcome "$W/r.json")" = "${NEWID[1]}:restored:0:1" ] || fail "v1 after soft-deleting v2: $(cat "$W/r.json")"
same_export autogen "$FIXTURE/expected/export-autogen.lp" "v1 restored"
pass "version rule: after v2 is soft-deleted, v1 restores as usual"

# --- bad input: clear error, nothing changed --------------------------------
cp -r "$D/catalog" "$W/catalog-before"
sum_before=$(find "$D/state/engine" -type f -printf '%p %i\n' | sort | sha256sum)
bad() { # expected-message-regex args...
    re=$1; shift
    if "$VT" "$D" "$@" >/dev/null 2>"$W/vt.err"; then fail "accepted: $*"; fi
    grep -Eq "$re" "$W/vt.err" || fail "message for $*: $(cat "$W/vt.err")"
}
bad '^invalid: .*reversed interval' delete "${BUCKET[autogen]}" 2024-01-10/2024-01-03
bad '^invalid: .*empty interval' delete "${BUCKET[autogen]}" 2024-01-10/2024-01-10
bad '^invalid: .*not a date' delete "${BUCKET[autogen]}" 2024-13-45/2024-01-03
bad '^invalid: .*expected <start>/<end>' delete "${BUCKET[autogen]}" 2024-01-03
bad '^invalid: .*unbounded' delete "${BUCKET[autogen]}" 2024-01-03/..
bad '^invalid: .*unbounded' restore "${BUCKET[autogen]}" /2024-01-03
bad '^invalid: .*durations' delete "${BUCKET[autogen]}" 2024-01-03/P1D
bad '^invalid: restore_data takes exactly one interval' restore "${BUCKET[autogen]}" 2024-01-01/2024-01-02 2024-01-03/2024-01-04
bad '^not found: bucket 0000000000000001 not found' delete 0000000000000001 2024-01-01/2024-01-02
bad '^invalid: invalid bucket ID' restore NOTABUCKET 2024-01-01/2024-01-02
[ "$(find "$D/state/engine" -type f -printf '%p %i\n' | sort | sha256sum)" = "$sum_before" ] ||
    fail "bad input changed shard files"
pass "bad intervals, two intervals for restore_data, unknown/malformed buckets: clear error, nothing changed"

# --- restart keeps every version ---------------------------------------------
relaunch
http GET "$U/api/v2/buckets/${BUCKET[autogen]}/unusedShards" -H "$(auth)"
cp "$HTTP_BODY" "$W/u1.json"
tsv_stop s
relaunch
http GET "$U/api/v2/buckets/${BUCKET[autogen]}/unusedShards" -H "$(auth)"
cmp -s "$HTTP_BODY" "$W/u1.json" || fail "unusedShards changed across a restart"
python3 - "$HTTP_BODY" <<'PY' || fail "versions: $(cat "$W/u1.json")"
import json, sys
u = json.load(open(sys.argv[1]))["unusedShards"]
first = [s["version"] for s in u if s["start"] == "2024-01-01T00:00:00Z"]
assert first == [2, 3], first
PY
pass "restart keeps every version"

# --- bucket delete: its shards become soft-deleted versions ------------------
http DELETE "$U/api/v2/buckets/${BUCKET[daily]}" -H "$(auth)"
expect_status 204 "delete bucket"
[ ! -e "$D/state/engine/data/${BUCKET[daily]}" ] || fail "deleted bucket's directory still there"
http GET "$U/api/v2/buckets/${BUCKET[daily]}/unusedShards" -H "$(auth)"
expect_status 200 "unusedShards of a deleted bucket"
python3 - "$HTTP_BODY" <<'PY' || fail "deleted bucket: $(cat "$HTTP_BODY")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["bucketName"] == "fixture_daily", j
by = [(s["start"], s["version"], s["softDeletedBy"]) for s in j["unusedShards"]]
assert ("2024-01-01T00:00:00Z", 2, "bucket-delete") in by and ("2024-01-02T00:00:00Z", 2, "bucket-delete") in by, by
PY
http GET "$U/v1/projects/$ORG/tables/fixture_daily/unusedSegments" -H "$(auth)"
expect_status 200 "unusedSegments of a deleted bucket"
tsv_stop s
vt restore "${BUCKET[daily]}" 2024-01-01/2024-01-03 >"$W/r.json" || fail "restore deleted: $(cat "$W/vt.err")"
# restore_data undeletes: the bucket comes back (same ID) with both shards.
[ "$(outcome "$W/r.json" | cut -d: -f2 | sort | uniq -c | tr -s ' ')" = " 2 restored" ] ||
    fail "deleted bucket restore: $(cat "$W/r.json")"
relaunch
http GET "$U/api/v2/buckets/${BUCKET[daily]}" -H "$(auth)"
expect_status 200 "the undeleted bucket"
same_export daily "$FIXTURE/expected/export-daily.lp" "after undelete"
tsv_stop s
pass "bucket delete: every shard soft-deleted and listed (both paths); restore_data brings the bucket back, same ID, same data"

# --- purge: grace period over -> versions purged, unreferenced objects gone --
objs_before=$(find "$D/objects" -type f | wc -l)
TSVAULT_SOFT_DELETE_RETENTION_S=0 "$VT" "$D" purge >/dev/null 2>"$W/vt.err" || fail "purge: $(cat "$W/vt.err")"
objs_after=$(find "$D/objects" -type f | wc -l)
[ "$objs_after" -lt "$objs_before" ] || fail "purge deleted no object ($objs_before -> $objs_after)"
for f in "$D"/state/engine/data/*/*/*/*.ts*; do
    h=$(sha256sum "$f" | cut -c1-64)
    [ -f "$D/objects/${h:0:2}/$h" ] || fail "purge removed the in-use object of $f"
done
same_export autogen "$FIXTURE/expected/export-autogen.lp" "after purge"
relaunch
http GET "$U/api/v2/buckets/${BUCKET[autogen]}/unusedShards" -H "$(auth)"
[ "$(json_get 'len(j["unusedShards"])')" = 0 ] || fail "purged versions still listed"
pass "purge: soft-deleted versions purged ($objs_before -> $objs_after objects), in-use data intact"
echo "1..all passed"
