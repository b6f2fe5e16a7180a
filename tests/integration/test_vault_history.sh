#!/bin/bash
# KV and SQL versions in the vault, bucket undelete, the "in force at T"
# lookup (what PITR calls), and the old trash/ migrated into the vault, with
# the real 1.6 fixture and real clients (curl; tsmcheck, built on InfluxDB
# 1.6.7's tsm1 reader, reads the live shard directories):
#   - restore/kv soft-deletes the previous generation with every shard it
#     held; restoring that KV version brings the KV and its shards back
#     (exports exact, shard backups byte-identical); identical KV content is
#     one object;
#   - restore/sql keeps every SQL file as a version (the live file is the
#     object); an older version restores;
#   - a deleted bucket comes back whole (same ID and name) with restore_data;
#     a bucket whose name was taken meanwhile is refused, nothing changed;
#   - tsv_vault_history_at / the event log answer "which version at T";
#   - a data directory from before the vault (no catalogue, no objects, a
#     trash/ with a whole previous generation) is converted at start-up,
#     once, also after kill -9 in the middle of the conversion.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixture.sh"

VT=$(tsv_tool tsv_vaulttool)
fixture_server
# restore/kv needs an operator authorization in the KV: onboarding makes one.
http POST "$U/api/v2/setup" -H 'Content-Type: application/json' \
    -d '{"username":"admin","password":"change-me-please","org":"acme","bucket":"metrics"}'
expect_status 201 "setup"
fixture_restore "$U" "$W"
BA=${FIX_BUCKET[autogen]}
BD=${FIX_BUCKET[daily]}

# export_rp RP BUCKET OUT [DATADIR]: tsmcheck export of the live shard directories.
export_rp() {
    fixture_export "${4:-$D}/state/engine/data/$2/$1" "$1" "$3"
}
same_export() { # RP BUCKET WHAT [DATADIR]
    export_rp "$1" "$2" "$W/got.lp" "${4:-}"
    fixture_lp_same "$W/got.lp" "$FIXTURE/expected/export-$1.lp" "$3: export of $1 differs"
}
same_export autogen "$BA" "fixture restored"
same_export daily "$BD" "fixture restored"
# A copy of this moment: the trash of the "pre-vault" data dir below.
tsv_stop s
cp -a "$D" "$W/early"
tsv_launch s "$D" "$TSV_TMP/s-0.log"
U=$s_URL
versions() { # KIND: GET the versions into HTTP_BODY
    http GET "$U/api/v2/vault/$1/versions" -H "$(auth)"
    expect_status 200 "list $1 versions"
}
now_ns() { date +%s%N; }

# --- KV versions --------------------------------------------------------------
versions kv
python3 - "$HTTP_BODY" <<'PY' || fail "KV versions at start: $(cat "$HTTP_BODY")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["kind"] == "kv", j
v = j["versions"]
assert len(v) == 1 and v[0]["version"] == 1 and v[0]["state"] == "in_use", v
assert len(v[0]["object"]) == 64 and v[0]["replacedAt"] is None, v
PY
curl -sS -f -H "$(auth)" "$U/api/v2/backup/kv" -o "$W/a.bolt" || fail "backup/kv"
A_SHA=$(sha256sum "$W/a.bolt" | cut -c1-64)
for old in 1 2 3 4 5; do
    curl -sS -f -H "$(auth)" "$U/api/v2/backup/shards/${FIX_SHARD[$old]}" -o "$W/before-$old.tar" ||
        fail "backup shard $old"
done
T1=$(now_ns)
http POST "$U/api/v2/restore/kv" -H "$(auth)" -H 'Content-Type: application/octet-stream' \
    --data-binary "@$W/a.bolt"
expect_status 200 "restore/kv"
T2=$(now_ns)
[ "$(find "$D/state/engine/data" -name '*.tsm' | wc -l)" = 0 ] || fail "restore/kv's new generation holds no shard data"
[ -z "$(ls -A "$D/trash")" ] || fail "restore/kv moved something to the trash: $(ls "$D/trash")"
versions kv
python3 - "$HTTP_BODY" "$A_SHA" <<'PY' || fail "KV versions after restore/kv: $(cat "$HTTP_BODY")"
import json, sys
v = json.load(open(sys.argv[1]))["versions"]
a = sys.argv[2]
assert [x["state"] for x in v] == ["soft_deleted", "in_use"], v
assert v[0]["replacedBy"] == "kv-restore" and v[0]["replacedAt"] == v[1]["installedAt"], v
# The replaced generation's final content is exactly what backup/kv gave, and
# the new generation (the same tree) is the same object: stored once.
assert v[0]["finalObject"] == a and v[1]["object"] == a, (v, a)
PY
http GET "$U/api/v2/buckets/$BA/unusedShards" -H "$(auth)"
expect_status 200 "unusedShards after restore/kv"
python3 - "$HTTP_BODY" <<'PY' || fail "shards of the replaced generation: $(cat "$HTTP_BODY")"
import json, sys
u = json.load(open(sys.argv[1]))["unusedShards"]
by = sorted((s["start"], s["softDeletedBy"]) for s in u if s["softDeletedBy"].startswith("kv-restore"))
assert [b for _, b in by] == ["kv-restore:kv1"] * 3, by
PY
pass "restore/kv: the previous KV generation and the 3+2 shards it held are soft-deleted versions; same KV content = one object"

http POST "$U/api/v2/vault/kv/versions/1/restore" -H "$(auth)"
expect_status 200 "restore KV version 1"
python3 - "$HTTP_BODY" <<'PY' || fail "KV version restore result: $(cat "$HTTP_BODY")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["restoredVersion"] == 1, j
assert sorted(s["outcome"] for s in j["shards"]) == ["restored"] * 5, j
PY
T3=$(now_ns)
same_export autogen "$BA" "KV version 1 restored"
same_export daily "$BD" "KV version 1 restored"
for old in 1 2 3 4 5; do
    curl -sS -f -H "$(auth)" "$U/api/v2/backup/shards/${FIX_SHARD[$old]}" -o "$W/after-$old.tar" ||
        fail "backup shard $old"
    cmp -s "$W/after-$old.tar" "$W/before-$old.tar" || fail "shard $old backup differs after the KV version restore"
done
curl -sS -f -H "$(auth)" "$U/api/v2/backup/kv" -o "$W/a2.bolt" || fail "backup/kv"
cmp -s "$W/a2.bolt" "$W/a.bolt" || fail "backup/kv differs after restoring KV version 1"
versions kv
python3 - "$HTTP_BODY" "$A_SHA" <<'PY' || fail "KV versions after the undo: $(cat "$HTTP_BODY")"
import json, sys
v = json.load(open(sys.argv[1]))["versions"]
assert [x["state"] for x in v] == ["soft_deleted", "soft_deleted", "in_use"], v
assert v[2]["object"] == sys.argv[2], v
PY
pass "KV version 1 restored: backup/kv and every shard backup byte-identical to before restore/kv"

# --- SQL versions -------------------------------------------------------------
for n in 1 2; do
    python3 - "$W/db$n.sqlite" "$n" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1]); c.execute("CREATE TABLE t(x)"); c.execute("INSERT INTO t VALUES (?)", (int(sys.argv[2]),)); c.commit()
PY
    http POST "$U/api/v2/restore/sql" -H "$(auth)" -H 'Content-Type: application/octet-stream' \
        --data-binary "@$W/db$n.sqlite"
    expect_status 204 "restore/sql $n"
done
T4=$(now_ns)
sqlval() { python3 -c 'import sqlite3,sys; print(sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True).execute("SELECT x FROM t").fetchone()[0])' "$D/state/influxd.sqlite"; }
[ "$(sqlval)" = 2 ] || fail "live SQL is not the second file"
versions sql
python3 - "$HTTP_BODY" "$D" <<'PY' || fail "SQL versions: $(cat "$HTTP_BODY")"
import json, os, sys
v = json.load(open(sys.argv[1]))["versions"]
assert [x["state"] for x in v] == ["soft_deleted", "in_use"], v
assert v[0]["replacedBy"] == "sql-restore", v
o = v[1]["object"]
live = os.stat(os.path.join(sys.argv[2], "state/influxd.sqlite"))
obj = os.stat(os.path.join(sys.argv[2], "objects", o[:2], o))
assert live.st_ino == obj.st_ino and (obj.st_mode & 0o777) == 0o444, "live SQL file is not its object"
PY
http POST "$U/api/v2/vault/sql/versions/1/restore" -H "$(auth)"
expect_status 204 "restore SQL version 1"
[ "$(sqlval)" = 1 ] || fail "SQL version 1 not restored"
pass "restore/sql keeps every file as a version (the live file is its object); version 1 restores"

http GET "$U/api/v2/vault/nope/versions" -H "$(auth)"
expect_error 404 "not found" "unknown version kind"
http POST "$U/api/v2/vault/kv/versions/0/restore" -H "$(auth)"
expect_error 400 "invalid" "invalid version"
http POST "$U/api/v2/vault/kv/versions/x1/restore" -H "$(auth)"
expect_error 400 "invalid" "invalid version"
http POST "$U/api/v2/vault/sql/versions/99/restore" -H "$(auth)"
expect_error 404 "not found" "sql version 99 not found"
http GET "$U/api/v2/vault/kv/versions"
expect_status 401 "no token"
[ "$(sqlval)" = 1 ] || fail "a refused request changed the SQL file"
pass "versions API: unknown kind 404, bad version 400, unknown version 404, no token 401; nothing changed"

# --- bucket undelete ------------------------------------------------------------
http GET "$U/api/v2/buckets/$BD" -H "$(auth)"
cp "$HTTP_BODY" "$W/bucket-daily.json"
http DELETE "$U/api/v2/buckets/$BD" -H "$(auth)"
expect_status 204 "delete bucket daily"
http DELETE "$U/api/v2/buckets/$BA" -H "$(auth)"
expect_status 204 "delete bucket autogen"
http POST "$U/api/v2/buckets" -H "$(auth)" -H 'Content-Type: application/json' \
    -d "{\"orgID\":\"$FIX_ORG\",\"name\":\"fixture_autogen\"}"
expect_status 201 "a new bucket takes autogen's name"
tsv_stop s
LOGN=0
relaunch() {
    LOGN=$((LOGN + 1))
    tsv_launch s "$D" "$TSV_TMP/s-$LOGN.log"
    U=$s_URL
}
"$VT" "$D" restore "$BD" 2024-01-01/2024-01-03 >"$W/r.json" 2>"$W/vt.err" || fail "undelete: $(cat "$W/vt.err")"
python3 - "$W/r.json" <<'PY' || fail "undelete result: $(cat "$W/r.json")"
import json, sys
s = json.load(open(sys.argv[1]))["shards"]
assert [x["outcome"] for x in s] == ["restored", "restored"], s
PY
cp -r "$D/catalog" "$W/cat-before"
if "$VT" "$D" restore "$BA" 2024-01-01/2024-01-22 >"$W/r.json" 2>"$W/vt.err"; then
    fail "undelete of a bucket whose name is taken succeeded: $(cat "$W/r.json")"
fi
grep -q "^conflict: bucket with name fixture_autogen already exists" "$W/vt.err" || fail "name taken: $(cat "$W/vt.err")"
relaunch
http GET "$U/api/v2/buckets/$BD" -H "$(auth)"
expect_status 200 "undeleted bucket"
cmp -s "$HTTP_BODY" "$W/bucket-daily.json" || fail "undeleted bucket differs: $(cat "$HTTP_BODY") vs $(cat "$W/bucket-daily.json")"
same_export daily "$BD" "bucket undeleted"
http GET "$U/api/v2/buckets/$BA" -H "$(auth)"
expect_status 404 "autogen stays deleted"
pass "a deleted bucket comes back whole (same record, exact export); a taken name is refused, nothing changed"
tsv_stop s

# --- in force at T (what PITR calls) ------------------------------------------------
at() { "$VT" "$D" at "$1" "$(date -u -d "@${2:0:10}.${2:10:9}" +%Y-%m-%dT%H:%M:%S.%NZ)" 2>"$W/vt.err" |
    python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["version"] if j else 0)'; }
[ "$(at kv "$T1")" = 1 ] || fail "KV at T1"
[ "$(at kv "$T2")" = 2 ] || fail "KV at T2"
[ "$(at kv "$T3")" = 3 ] || fail "KV at T3"
[ "$(at sql "$T1")" = 0 ] || fail "SQL at T1 (none yet)"
[ "$(at sql "$T4")" = 2 ] || fail "SQL at T4"
pass "in force at T: KV 1, 2, 3 and SQL none, 2 at the recorded moments"

# --- the trash of a data directory from before the vault -----------------------------
# A copy without catalogue or objects (independent inodes: plain files), with
# a whole previous generation in its trash, as restore/kv left it an hour ago
# (older than the grace period, it would be purged at once).
TT=$(date -u -d '1 hour ago' +%Y%m%dT%H%M%SZ)
TT_RFC=$(date -u -d "${TT:0:8} ${TT:9:2}:${TT:11:2}:${TT:13:2}" +%Y-%m-%dT%H:%M:%SZ)
make_old() { # DIR
    rm -rf "$1"
    cp -a "$D" "$1"
    rm -rf "$1/catalog" "$1/objects" "$1/trash"
    mkdir -p "$1/trash/$TT-kv-restore-previous-state-0000abcd"
    cp -a "$W/early/state" "$1/trash/$TT-kv-restore-previous-state-0000abcd/state"
    mkdir -p "$1/trash/$TT-sql-restore-previous-0000abce"
    cp "$W/db2.sqlite" "$1/trash/$TT-sql-restore-previous-0000abce/influxd.sqlite"
}
# migrated_ok DIR: the trash is empty and listed exactly once.
migrated_ok() {
    [ -z "$(ls -A "$1/trash")" ] || fail "trash not empty after migration: $(ls "$1/trash")"
    # The generation in the trash held the autogen bucket (deleted since):
    # its 3 shards are versions of their slots; its daily shards equal the
    # live ones (already versions): not recorded twice.
    http GET "$U/api/v2/buckets/$BA/unusedShards" -H "$(auth)"
    expect_status 200 "unusedShards of migrated data"
    python3 - "$HTTP_BODY" "$TT_RFC" <<'PY' || fail "migrated shard versions: $(cat "$HTTP_BODY")"
import json, sys
u = json.load(open(sys.argv[1]))["unusedShards"]
m = [(s["start"], s["end"]) for s in u if s["softDeletedBy"] == "trash:kv-restore-previous-state"]
assert m == [("2024-01-01T00:00:00Z", "2024-01-08T00:00:00Z"), ("2024-01-08T00:00:00Z", "2024-01-15T00:00:00Z"),
             ("2024-01-15T00:00:00Z", "2024-01-22T00:00:00Z")], m
assert all(s["softDeletedAt"] == sys.argv[2] for s in u), (u, sys.argv[2])
PY
    http GET "$U/api/v2/buckets/$BD/unusedShards" -H "$(auth)"
    [ "$(json_get 'sum(1 for s in j["unusedShards"] if s["softDeletedBy"].startswith("trash:"))')" = 0 ] ||
        fail "daily shards equal to the live ones were recorded again: $(cat "$HTTP_BODY")"
    versions kv
    [ "$(json_get 'sum(1 for v in j["versions"] if v["replacedBy"] == "trash:kv-restore-previous-state")')" = 1 ] ||
        fail "KV versions from the trash: $(cat "$HTTP_BODY")"
    versions sql
    [ "$(json_get 'sum(1 for v in j["versions"] if v["replacedBy"] == "trash:sql-restore-previous")')" = 1 ] ||
        fail "SQL versions from the trash: $(cat "$HTTP_BODY")"
    for f in "$1"/state/engine/data/*/*/*/*.tsm; do
        h=$(sha256sum "$f" | cut -c1-64)
        [ "$(stat -c %i "$f")" = "$(stat -c %i "$1/objects/${h:0:2}/$h")" ] || fail "$f is not its object"
    done
}
OLD="$TSV_TMP/old"
make_old "$OLD"
tsv_launch s "$OLD" "$TSV_TMP/old-1.log"
U=$s_URL
migrated_ok "$OLD"
same_export daily "$BD" "after the migration" "$OLD"
n_obj=$(find "$OLD/objects" -type f ! -path '*/tmp/*' | wc -l)
n_distinct=$(find "$OLD/state" -name '*.ts*' -type f -exec sha256sum {} + | cut -c1-64 | sort -u | wc -l)
tsv_stop s
tsv_launch s "$OLD" "$TSV_TMP/old-2.log"
U=$s_URL
migrated_ok "$OLD"
tsv_stop s
pass "pre-vault data dir: the trash's generation (KV, SQL, shards at their meta's slots) became versions, once; $n_obj objects for $n_distinct distinct live files + KV/SQL"

for point in trash-migrate-before-commit trash-migrate-after-commit; do
    C="$TSV_TMP/crash-$point"
    make_old "$C"
    kill9_at_fault "$point" "$TSV_TMP/crash.log" "$TSVAULT_BIN" serve --http-bind-address 127.0.0.1:0 \
        --rpc-bind-address "" --data-dir "$C" --operator-token "$TSV_TOKEN"
    tsv_launch s "$C" "$TSV_TMP/crash-$point.log"
    U=$s_URL
    migrated_ok "$C"
    same_export daily "$BD" "after kill -9 at $point" "$C"
    tsv_stop s
    pass "kill -9 at $point during the trash migration: converted exactly once at the next start"
done
echo "1..all passed"
