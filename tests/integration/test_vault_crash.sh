#!/bin/bash
# kill -9 at every step of the vault's operations (delete_data, restore_data,
# purge, garbage collection) leaves the old or the new state, never a mix,
# and loses nothing the catalogue references; a full disk while storing
# objects is 507 with nothing changed. Fault points: storage/fault.h.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixture.sh"

VT="$(dirname "$TSVAULT_BIN")/tsv_vaulttool"
fixture_work
tsv_start s
U=$s_URL
http POST "$U/api/v2/orgs" -H "$(auth)" -H 'Content-Type: application/json' -d '{"name":"crash-org"}'
ORG=$(json_get 'j["id"]')
fixture_manifest "$W" autogen "$ORG" >"$W/m.json"
http POST "$U/api/v2/restore/bucketMetadata" -H "$(auth)" -H 'Content-Type: application/json' \
    --data-binary "@$W/m.json"
expect_status 201 "bucketMetadata"
B=$(json_get 'j["id"]')
declare -A NEWID
while read -r old new; do NEWID[$old]=$new; done < <(json_get "'\\n'.join('%d %d' % (m['oldId'], m['newId']) for m in j['shardMappings'])")
for old in 1 2 3; do
    http POST "$U/api/v2/restore/shards/${NEWID[$old]}" -H "$(auth)" -H 'Content-Type: application/octet-stream' \
        -H 'Content-Encoding: gzip' --data-binary "@$W/s$old.tar.gz"
    expect_status 204 "restore shard $old"
done

tsv_stop s
LOGN=0
launch() { # DATADIR [FAULT-SPEC]: starts server "s" with its own log
    LOGN=$((LOGN + 1))
    TSVAULT_FAULT="${2:-}" tsv_launch s "$1" "$TSV_TMP/s-$LOGN.log"
    U=$s_URL
}
BASE="$TSV_TMP/base"
cp -a "$s_DATA" "$BASE"

# export_of DATADIR OUT: tsmcheck export of the bucket's live directories.
export_of() {
    fixture_export "$1/state/engine/data/$B/autogen" autogen "$2"
}
LO=$(date -d 2024-01-03T00:00:00Z +%s)000000000
HI=$(date -d 2024-01-17T00:00:00Z +%s)000000000
FULL="$FIXTURE/expected/export-autogen.lp"
fixture_lp_without "$FULL" "$LO" "$HI" >"$W/deleted.lp"
IV=2024-01-03/2024-01-17   # shard 1 in part, shard 2 whole, shard 3 in part

# state_is DATADIR: prints "full" or "deleted" (or fails: a mix).
state_is() {
    export_of "$1" "$W/got.lp"
    if cmp -s "$W/got.lp" "$FULL"; then echo full
    elif cmp -s "$W/got.lp" "$W/deleted.lp"; then echo deleted
    else diff <(sort "$W/got.lp") <(sort "$FULL") | head -3 >&2; fail "export is neither the old nor the new state"; fi
}

# referenced_ok DATADIR: every object of every listed version exists (via a
# running server's unusedShards) and every live file is an object.
referenced_ok() {
    d=$1
    for f in "$d"/state/engine/data/$B/autogen/*/*.ts*; do
        [ -e "$f" ] || continue
        h=$(sha256sum "$f" | cut -c1-64)
        [ -f "$d/objects/${h:0:2}/$h" ] || fail "live file $f has no object"
    done
    launch "$d" || fail "server does not start on $d"
    http GET "$s_URL/api/v2/buckets/$B/unusedShards" -H "$(auth)"
    expect_status 200 "unusedShards"
    python3 - "$HTTP_BODY" "$d/objects" <<'PY' || fail "a soft-deleted version lost an object"
import json, os, sys
for s in json.load(open(sys.argv[1]))["unusedShards"]:
    for f in s["files"]:
        o = f["object"]
        assert os.path.isfile(os.path.join(sys.argv[2], o[:2], o)), (s["version"], f)
PY
    tsv_stop s
}

# crash_at POINT DATADIR CMD...: runs the tool paused at POINT, kill -9.
crash_at() {
    point=$1 d=$2
    shift 2
    kill9_at_fault "$point" "$W/crash.err" "$VT" "$d" "$@"
}

# crash_then_redo DIR FROM POINT OP WANT: DIR, a copy of FROM, killed at
# POINT during OP; the server's start-up recovery leaves nothing lost (the
# state it finds is ST), and OP run again reaches the state WANT.
crash_then_redo() {
    local d=$1 point=$3 op=$4
    cp -a "$2" "$d"
    crash_at "$point" "$d" "$op" "$B" "$IV"
    # Start-up recovery runs (server), then the data must be wholly old or new.
    launch "$d" || fail "$point: server does not start"
    tsv_stop s
    ST=$(state_is "$d")
    referenced_ok "$d"
    "$VT" "$d" "$op" "$B" "$IV" >/dev/null 2>"$W/vt.err" || fail "$point: $op again: $(cat "$W/vt.err")"
    [ "$(state_is "$d")" = "$5" ] || fail "$point: $op after recovery"
}

[ "$(state_is "$BASE")" = full ] || fail "base state"

# --- delete_data -------------------------------------------------------------
for point in vault-write vault-delete-before-commit vault-before-exchange vault-after-exchange; do
    crash_then_redo "$TSV_TMP/c-$point" "$BASE" "$point" delete deleted
    pass "kill -9 at $point during delete_data: $ST state after restart, nothing lost, delete completes"
done

# --- restore_data ------------------------------------------------------------
DEL="$TSV_TMP/deleted"
cp -a "$BASE" "$DEL"
"$VT" "$DEL" delete "$B" "$IV" >/dev/null 2>"$W/vt.err" || fail "delete: $(cat "$W/vt.err")"
[ "$(state_is "$DEL")" = deleted ] || fail "deleted base"
for point in vault-restore-before-commit vault-before-exchange vault-after-exchange; do
    crash_then_redo "$TSV_TMP/r-$point" "$DEL" "$point" restore full
    pass "kill -9 at $point during restore_data: $ST state after restart, nothing lost, restore completes"
done

# --- purge and GC --------------------------------------------------------------
for point in purge-before-commit purge-after-commit gc-delete; do
    d="$TSV_TMP/p-$point"
    cp -a "$DEL" "$d"
    TSVAULT_SOFT_DELETE_RETENTION_S=0 crash_at "$point" "$d" purge
    [ "$(state_is "$d")" = deleted ] || fail "$point: purge changed live data"
    referenced_ok "$d"
    TSVAULT_SOFT_DELETE_RETENTION_S=0 "$VT" "$d" purge >/dev/null 2>"$W/vt.err" || fail "$point: purge again"
    [ "$(state_is "$d")" = deleted ] || fail "$point: purge changed live data"
    referenced_ok "$d"
    pass "kill -9 at $point: live data intact, every referenced object kept, purge completes"
done

# --- ENOSPC while an upload's objects are stored: 507, nothing changed -------
d="$TSV_TMP/enospc"
cp -a "$BASE" "$d"
launch "$d" object-link:enospc || fail "start"
U=$s_URL
before=$(find "$d/state/engine" "$d/objects" -type f -printf '%p %i\n' | sort | sha256sum)
http POST "$U/api/v2/restore/shards/${NEWID[1]}" -H "$(auth)" -H 'Content-Type: application/octet-stream' \
    -H 'Content-Encoding: gzip' --data-binary "@$W/s1.tar.gz"
expect_status 507 "upload on a full disk"
after=$(find "$d/state/engine" "$d/objects" -type f -printf '%p %i\n' | sort | sha256sum)
[ "$before" = "$after" ] || fail "a failed upload changed files"
http POST "$U/api/v2/restore/shards/${NEWID[1]}" -H "$(auth)" -H 'Content-Type: application/octet-stream' \
    -H 'Content-Encoding: gzip' --data-binary "@$W/s1.tar.gz"
expect_status 204 "the same upload once there is space"
tsv_stop s
[ "$(state_is "$d")" = full ] || fail "after the retried upload"
pass "ENOSPC while storing objects: 507, nothing changed; the retry succeeds"

d="$TSV_TMP/enospc2"
cp -a "$BASE" "$d"
if TSVAULT_FAULT=vault-write:enospc "$VT" "$d" delete "$B" "$IV" >/dev/null 2>"$W/vt.err"; then
    fail "delete_data on a full disk succeeded"
fi
grep -q 'insufficient storage\|ENOSPC\|No space' "$W/vt.err" || grep -q '^unavailable' "$W/vt.err" ||
    fail "delete_data ENOSPC message: $(cat "$W/vt.err")"
[ "$(state_is "$d")" = full ] || fail "delete_data on a full disk changed data"
pass "ENOSPC during delete_data: error (507 class), nothing changed"
echo "1..all passed"
