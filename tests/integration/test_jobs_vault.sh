#!/bin/bash
# delete_data, restore_data and verify as jobs (docs/api.md "Jobs API"), on
# the real 1.6 fixture restored into fixture_autogen / fixture_daily.
#  1. delete_data in the seed's shape (curl): exactly the interval's points
#     are gone (tsmcheck export of the live shards vs expected/*.lp);
#  2. restore_data exactly as the seed's example (python3-requests, /v1/jobs):
#     the export is as before;
#  3. the version rule: a refused slot -> completed with health "warn";
#  4. by bucketID, a whole shard soft-deleted and restored;
#  5. 19 bad requests -> 400 {"code","message"} naming the field, no job kept;
#  6. cancel while a delete_data writes its tombstones: canceled, nothing
#     changed (files, versions);
#  7. kill -9 right before a delete_data's commit: after the restart the job
#     is failed "interrupted by a restart", nothing changed;
#  8. verify jobs: clean store ok; then a flipped byte in an object, a deleted
#     object and an orphan object are each reported at their place; a bucket
#     verify of the untouched bucket is ok; verify changes nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/jobs_lib.sh"
. "$(dirname "$0")/fixture.sh"

fixture_server --job-workers 2
T=$TSV_TOKEN
fixture_restore "$U" "$W"
AUTOGEN=${FIX_BUCKET[autogen]} DAILY=${FIX_BUCKET[daily]}

export_rp() { # RP OUT: tsmcheck export of the live shard directories of RP
    fixture_export "$D/state/engine/data/${FIX_BUCKET[$1]}/$1" "$1" "$2"
}
expected_without() { # RP START_NS END_NS: the expected export minus [start, end)
    fixture_lp_without "$FIXTURE/expected/export-$1.lp" "$2" "$3"
}
same_export() { # RP EXPECTED-FILE WHAT
    export_rp "$1" "$W/got.lp"
    fixture_lp_same "$W/got.lp" "$2" "$3: export of $1 differs"
}
ns() { echo "$(date -d "$1" +%s)000000000"; }
snapshot() { # files (path, inode, hash) and the catalogue's soft-deleted versions
    (cd "$D/state/engine/data" && find . -type f -name '*.t*' -printf '%p %i\n' | sort)
    for b in "$AUTOGEN" "$DAILY"; do
        curl -sS -H "Authorization: Token $T" "$U/api/v2/buckets/$b/unusedShards"
    done
}
job_field() { # ID EXPR
    http GET "$U/api/v2/jobs/$1" -H "Authorization: Token $T"
    json_get "$2"
}
job_logs() { curl -sS -H "Authorization: Token $T" "$U/api/v2/jobs/$1/logs"; }

same_export autogen "$FIXTURE/expected/export-autogen.lp" "before"
same_export daily "$FIXTURE/expected/export-daily.lp" "before"

# ---- 1. delete_data (the seed's shape: target.intervals) ---------------------------
J=$(create_job "$U" "$T" '{"type":"delete_data","target":{"type":"table","tableName":"fixture_autogen","intervals":["2024-01-03/2024-01-10"]}}')
[ "$(wait_job "$U" "$T" "$J")" = completed ] || fail "delete_data: $(cat "$HTTP_BODY")"
python3 - "$HTTP_BODY" <<'PY' || fail "delete_data job: $(cat "$HTTP_BODY")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["type"] == "delete_data" and j["health"] == {"status": "ok"}, j
assert j["target"] == {"type": "table", "tableName": "fixture_autogen",
                       "intervals": ["2024-01-03/2024-01-10"]}, j["target"]
assert j["spec"]["type"] == "delete_data" and j["desiredExecutionStatus"] == "running"
for k in ("createdTimestamp", "startedTimestamp", "completedTimestamp", "lastUpdatedTimestamp"):
    assert k in j, k
PY
job_logs "$J" >"$W/logs.json"
[ "$(grep -o 'tombstoned, version' "$W/logs.json" | wc -l)" = 2 ] || fail "delete_data logs: $(cat "$W/logs.json")"
http GET "$U/api/v2/jobs/$J/metrics" -H "Authorization: Token $T"
python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["totals"]; assert t["shardsDone"] == t["shardsTotal"] >= 2 and t["percentDone"] == 100, t' "$HTTP_BODY" ||
    fail "delete_data metrics: $(cat "$HTTP_BODY")"
expected_without autogen "$(ns 2024-01-03T00:00:00Z)" "$(ns 2024-01-10T00:00:00Z)" >"$W/exp-del.lp"
same_export autogen "$W/exp-del.lp" "after delete_data"
same_export daily "$FIXTURE/expected/export-daily.lp" "after delete_data (other bucket)"
pass "delete_data job (seed shape, curl): exactly 2024-01-03/2024-01-10 is gone, logs and metrics per shard"

# ---- 2. restore_data exactly as the seed's example, python3-requests on /v1/jobs -----
python3 - "$U" "$T" "$W/rd.json" <<'PY' || fail "restore_data via requests"
import json, sys, time, requests
url, tok, out = sys.argv[1:4]
h = {"Authorization": "Token " + tok, "Content-Type": "application/json"}
r = requests.post(url + "/v1/jobs", headers=h, data=json.dumps({
    "type": "restore_data",
    "target": {"type": "table", "tableName": "fixture_autogen"},
    "interval": "2024-01-03/2024-01-10"}))
assert r.status_code == 201, (r.status_code, r.text)
j = r.json()
assert j["type"] == "restore_data" and j["executionStatus"] in ("pending", "running", "completed"), j
for _ in range(600):
    j = requests.get(url + "/v1/jobs/" + j["id"], headers=h).json()
    if j["executionStatus"] in ("completed", "failed", "canceled"):
        break
    time.sleep(0.1)
assert j["executionStatus"] == "completed" and j["health"]["status"] == "ok", j
logs = requests.get(url + "/v1/jobs/" + j["id"] + "/logs", headers=h).json()["logs"]
assert sum("restored, version" in l["message"] for l in logs) == 2, logs
json.dump(j, open(out, "w"))
PY
same_export autogen "$FIXTURE/expected/export-autogen.lp" "after restore_data"
pass "restore_data job exactly as the seed's example (requests, /v1/jobs): export as before"

# ---- 3. the version rule: a refused slot is a warning --------------------------------
http POST "$U/api/v2/restore/shards/${FIX_SHARD[1]}" -H "Authorization: Token $T" \
    -H 'Content-Type: application/octet-stream' -H 'Content-Encoding: gzip' --data-binary "@$W/s1.tar.gz"
expect_status 204 "re-upload shard 1"
J=$(create_job "$U" "$T" '{"type":"restore_data","target":{"type":"bucket","bucketName":"fixture_autogen","orgName":"fixture-org"},"interval":"2024-01-01/2024-01-08"}')
[ "$(wait_job "$U" "$T" "$J")" = completed ] || fail "version-rule job"
[ "$(json_get 'j["health"]["status"]')" = warn ] || fail "health: $(cat "$HTTP_BODY")"
json_get 'j["health"]["message"]' | grep -q '1 of 1 shards refused' || fail "health message: $(cat "$HTTP_BODY")"
job_logs "$J" | grep -q 'refused, version \([0-9]\) to \1: version \1 is in use; soft-delete it first' ||
    fail "refusal not logged: $(job_logs "$J")"
same_export autogen "$FIXTURE/expected/export-autogen.lp" "after a refused restore_data"
pass "restore_data under a higher in-use version: completed, health warn with the version rule's reason"

# ---- 4. by bucketID: a whole shard soft-deleted, then restored ------------------------
J=$(create_job "$U" "$T" "{\"type\":\"delete_data\",\"target\":{\"type\":\"bucket\",\"bucketID\":\"$DAILY\"},\"intervals\":[\"2024-01-01/2024-01-02\"]}")
[ "$(wait_job "$U" "$T" "$J")" = completed ] || fail "whole-shard delete"
job_logs "$J" | grep -q 'soft_deleted, version 1 to 0' || fail "soft delete not logged: $(job_logs "$J")"
expected_without daily "$(ns 2024-01-01T00:00:00Z)" "$(ns 2024-01-02T00:00:00Z)" >"$W/exp-d.lp"
same_export daily "$W/exp-d.lp" "after whole-shard delete_data"
J=$(create_job "$U" "$T" "{\"type\":\"restore_data\",\"target\":{\"type\":\"bucket\",\"bucketID\":\"$DAILY\"},\"intervals\":[\"2024-01-01/2024-01-02\"],\"version\":1}")
[ "$(wait_job "$U" "$T" "$J")" = completed ] || fail "whole-shard restore"
same_export daily "$FIXTURE/expected/export-daily.lp" "after whole-shard restore_data"
pass "delete_data / restore_data by bucketID (intervals at the top level, explicit version)"

# ---- 5. bad requests ----------------------------------------------------------------
count_jobs() { curl -sS -H "Authorization: Token $T" "$U/api/v2/jobs?paginationLimit=1000" |
    python3 -c 'import json,sys; print(len(json.load(sys.stdin)["values"]))'; }
n0=$(count_jobs)
snapshot >"$W/before"
bad() { # JSON MESSAGE-REGEX
    http POST "$U/api/v2/jobs" -H "Authorization: Token $T" -H 'Content-Type: application/json' -d "$1"
    expect_error 400 invalid "$2"
}
tgt='"target":{"type":"table","tableName":"fixture_autogen"}'
bad '{"type":"delete_data","target":{"type":"table","tableName":"nosuch"},"intervals":["2024-01-01/2024-01-02"]}' 'bucket "nosuch" not found'
bad "{\"type\":\"restore_data\",$tgt}" 'interval is required'
bad "{\"type\":\"delete_data\",$tgt}" 'intervals is required'
bad "{\"type\":\"restore_data\",$tgt,\"intervals\":[\"2024-01-01/2024-01-02\",\"2024-01-03/2024-01-04\"]}" 'exactly one interval'
bad "{\"type\":\"delete_data\",$tgt,\"intervals\":[\"2024-01-10/2024-01-03\"]}" 'reversed'
bad "{\"type\":\"delete_data\",$tgt,\"intervals\":[\"2024-01-03\"]}" 'intervals "2024-01-03"'
bad "{\"type\":\"restore_data\",$tgt,\"interval\":\"2024-01-03/P1D\"}" 'interval "2024-01-03/P1D"'
bad "{\"type\":\"delete_data\",$tgt,\"intervals\":\"2024-01-01/2024-01-02\"}" 'intervals must be an array'
bad "{\"type\":\"restore_data\",$tgt,\"interval\":42}" 'interval must be an ISO 8601 interval'
bad '{"type":"delete_data","target":{"type":"full"},"intervals":["2024-01-01/2024-01-02"]}' 'target.type "full" is not supported'
bad "{\"type\":\"delete_data\",$tgt,\"deleteAll\":true}" 'deleteAll is not supported'
bad "{\"type\":\"delete_data\",$tgt,\"intervals\":[\"2024-01-01/2024-01-02\"],\"version\":2}" 'version applies to restore_data'
bad "{\"type\":\"restore_data\",$tgt,\"interval\":\"2024-01-01/2024-01-02\",\"version\":0}" 'version must be a positive integer'
bad "{\"type\":\"delete_data\",$tgt,\"source\":{\"type\":\"file\"},\"intervals\":[\"2024-01-01/2024-01-02\"]}" 'take no source'
bad '{"type":"delete_data","target":{"type":"bucket","bucketID":"xyz"},"intervals":["2024-01-01/2024-01-02"]}' 'not a bucket ID'
bad '{"type":"delete_data","target":{"type":"bucket","bucketID":"0000000000000001"},"intervals":["2024-01-01/2024-01-02"]}' 'bucket 0000000000000001 not found'
bad '{"type":"verify","maxBytesPerSecond":"fast"}' 'maxBytesPerSecond'
bad '{"type":"drop_table","target":{"type":"table","tableName":"fixture_autogen"}}' 'unknown job type "drop_table"'
http POST "$U/v1/jobs" -H "Authorization: Token $T" -H 'Content-Type: application/json' -d "{\"type\":\"delete_data\",$tgt}"
expect_error 400 invalid 'intervals is required'
[ "$(count_jobs)" = "$n0" ] || fail "a bad request left a job"
snapshot >"$W/after"
cmp -s "$W/before" "$W/after" || fail "a bad request changed data"
http GET "$U/api/v2/jobs?type=delete_data&type=restore_data&sortColumn=target_table_name&sortOrder=ASC" -H "Authorization: Token $T"
expect_status 200 "list"
python3 - "$HTTP_BODY" <<'PY' || fail "list: $(cat "$HTTP_BODY")"
import json, sys
v = json.load(open(sys.argv[1]))["values"]
assert len(v) == 5 and {j["type"] for j in v} == {"delete_data", "restore_data"}, v
PY
pass "19 bad vault job requests: 400 naming the field (also on /v1/jobs), no job kept, nothing changed; list by type"

# ---- 6. cancel while tombstones are written ------------------------------------------
tsv_stop s
TSVAULT_FAULT=vault-write:slow3 tsv_launch s "$D" "$TSV_TMP/s-slow.log" --job-workers 2
U=$s_URL
snapshot >"$W/before"
J=$(create_job "$U" "$T" '{"type":"delete_data","target":{"type":"table","tableName":"fixture_autogen","intervals":["2024-01-03/2024-01-17"]}}')
i=0
until grep -q 'fault point reached" point=vault-write' "$TSV_TMP/s-slow.log"; do
    i=$((i + 1)); [ $i -lt 600 ] || fail "delete_data never wrote a tombstone"; sleep 0.1
done
http PATCH "$U/api/v2/jobs/$J" -H "Authorization: Token $T" -d '{"desiredExecutionStatus":"canceled"}'
expect_status 200 "cancel"
[ "$(wait_job "$U" "$T" "$J")" = canceled ] || fail "delete_data must end canceled: $(cat "$HTTP_BODY")"
job_logs "$J" | grep -q 'canceled before the commit: nothing changed' || fail "cancel logs: $(job_logs "$J")"
snapshot >"$W/after"
cmp -s "$W/before" "$W/after" || { diff "$W/before" "$W/after" | head; fail "a canceled delete_data changed data"; }
same_export autogen "$FIXTURE/expected/export-autogen.lp" "after a canceled delete_data"
pass "cancel while delete_data writes tombstones: canceled, files and versions unchanged"
tsv_stop s

# ---- 7. kill -9 before the commit --------------------------------------------------
TSVAULT_FAULT=vault-delete-before-commit:pause tsv_launch s "$D" "$TSV_TMP/s-pause.log" --job-workers 2
U=$s_URL
J=$(create_job "$U" "$T" '{"type":"delete_data","target":{"type":"table","tableName":"fixture_autogen","intervals":["2024-01-03/2024-01-10"]}}')
i=0
until grep -q 'fault point reached" point=vault-delete-before-commit' "$TSV_TMP/s-pause.log"; do
    i=$((i + 1)); [ $i -lt 600 ] || fail "delete_data never reached its commit"; sleep 0.1
done
kill -KILL "$s_PID"
wait "$s_PID" 2>/dev/null || true
tsv_launch s "$D" "$TSV_TMP/s-after.log" --job-workers 2
U=$s_URL
[ "$(wait_job "$U" "$T" "$J")" = failed ] || fail "job after restart"
[ "$(json_get 'j["health"]["message"]')" = "interrupted by a restart" ] || fail "health: $(cat "$HTTP_BODY")"
job_logs "$J" | grep -q 'it had not committed: nothing changed' || fail "restart logs: $(job_logs "$J")"
snapshot >"$W/after"
cmp -s "$W/before" "$W/after" || { diff "$W/before" "$W/after" | head; fail "an interrupted delete_data changed data"; }
pass "kill -9 right before a delete_data's commit: failed 'interrupted by a restart', nothing changed"

# ---- 8. verify jobs ------------------------------------------------------------------
verify_job() { # JSON: runs a verify job to completion, leaves its logs in $W/vlogs.json
    VJ=$(create_job "$U" "$T" "$1")
    [ "$(wait_job "$U" "$T" "$VJ")" = completed ] || fail "verify job: $(cat "$HTTP_BODY")"
    cp "$HTTP_BODY" "$W/vjob.json"
    job_logs "$VJ" >"$W/vlogs.json"
}
health() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["health"]["status"])' "$W/vjob.json"; }
# (the GC removes objects a failed operation left: the clean store has no orphan)
tsv_stop s
tsv_launch s "$D" "$TSV_TMP/s-verify.log" --job-workers 2
U=$s_URL
verify_job '{"type":"verify","target":{"type":"full"}}'
[ "$(health)" = ok ] || fail "verify of a clean store: $(cat "$W/vjob.json") $(cat "$W/vlogs.json")"
grep -q ': 0 problems' "$W/vlogs.json" || fail "summary: $(cat "$W/vlogs.json")"
http GET "$U/api/v2/jobs/$VJ/metrics" -H "Authorization: Token $T"
python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["totals"]; assert t["bytesDone"] == t["bytesTotal"] > 0 and t["shardsDone"] == t["shardsTotal"] > 0, t' "$HTTP_BODY" ||
    fail "verify metrics: $(cat "$HTTP_BODY")"
pass "verify job on a clean store: completed, health ok, 0 problems, metrics count bytes and files"

# A flipped byte in the object behind autogen's shard-2 TSM file (same inode).
TSM=$(ls "$D/state/engine/data/$AUTOGEN/autogen/${FIX_SHARD[2]}/"*.tsm | head -1)
H=$(sha256sum "$TSM" | cut -c1-64)
OBJ="$D/objects/${H:0:2}/$H"
chmod u+w "$OBJ"
python3 - "$OBJ" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(100); b = f.read(1); f.seek(100); f.write(bytes([b[0] ^ 0xff]))
PY
# A soft-deleted version's tombstone object removed (dangling reference).
http GET "$U/api/v2/buckets/$AUTOGEN/unusedShards" -H "Authorization: Token $T"
TOMB=$(json_get '[f["object"] for s in j["unusedShards"] for f in s["files"] if f["name"].endswith(".tombstone")][0]')
rm -f "$D/objects/${TOMB:0:2}/$TOMB"
# An orphan: a well-formed object no version lists.
printf 'not listed anywhere\n' >"$W/orphan"
OH=$(sha256sum "$W/orphan" | cut -c1-64)
mkdir -p "$D/objects/${OH:0:2}" && cp "$W/orphan" "$D/objects/${OH:0:2}/$OH" && chmod 444 "$D/objects/${OH:0:2}/$OH"
# Data only: verify's corrupt marks (objects/corrupt/) are checked on their own below.
files_state() { (cd "$D" && find objects state/engine catalog -path objects/corrupt -prune -o -type f ! -name lock.mdb -exec sha256sum {} + | sort); }
files_state >"$W/before"
verify_job '{"type":"verify"}'
[ "$(health)" = warn ] || fail "verify of a damaged store: $(cat "$W/vjob.json")"
grep -q "objects/${H:0:2}/$H: object content does not match its name" "$W/vlogs.json" ||
    fail "flipped byte in the object not reported: $(cat "$W/vlogs.json")"
grep -q "state/engine/data/$AUTOGEN/autogen/${FIX_SHARD[2]}/$(basename "$TSM") (bucket $AUTOGEN, rp autogen, shard ${FIX_SHARD[2]})" "$W/vlogs.json" ||
    fail "flipped byte in the TSM file not reported at its file: $(cat "$W/vlogs.json")"
grep -q "objects/${TOMB:0:2}/$TOMB (bucket $AUTOGEN, rp autogen, shard [0-9]*): catalogue: version [0-9]* (soft_deleted) .*object $TOMB is missing (dangling reference)" "$W/vlogs.json" ||
    fail "missing object not reported: $(cat "$W/vlogs.json")"
grep -q "objects/${OH:0:2}/$OH: orphan object" "$W/vlogs.json" || fail "orphan not reported: $(cat "$W/vlogs.json")"
verify_job "{\"type\":\"verify\",\"target\":{\"type\":\"table\",\"tableName\":\"fixture_daily\"},\"maxBytesPerSecond\":100000000}"
[ "$(health)" = ok ] || fail "verify of the untouched bucket: $(cat "$W/vlogs.json")"
files_state >"$W/after"
cmp -s "$W/before" "$W/after" || fail "verify changed data"
[ -f "$D/objects/corrupt/$H" ] || fail "the verify job must mark the corrupt object (objects/corrupt/$H)"
[ "$(ls "$D/objects/corrupt")" = "$H" ] || fail "only the corrupt object is marked: $(ls "$D/objects/corrupt")"
pass "verify job finds a flipped byte (object and TSM file), a missing object, an orphan, each at its place; marks the corrupt object only; bucket verify ok; no data changed"
tsv_stop s
