#!/bin/bash
# Jobs: cancel mid-restore and restart mid-job (docs/api.md "Jobs API").
#  1. With the fault point job-member slowed (10 s before each archive member),
#     a partial restore is canceled after its first shard: the job ends
#     "canceled", the bucket it made is gone, and every bucket and TSM file
#     that existed before is exactly as it was.
#  2. With job-member paused, the server is killed (SIGKILL) in the middle of
#     a restore job while a second job waits: after a restart the first is
#     failed "interrupted by a restart" and its bucket rolled back, so the
#     second (same buckets) runs and completes.
#  3. A pending job canceled before it starts never runs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/jobs_lib.sh"
tar czf "$W/v1.tar.gz" -C "$FIXTURE/backup" .

forget_pid() {
    pids=""
    for p in $TSV_PIDS; do [ "$p" = "$1" ] || pids="$pids $p"; done
    TSV_PIDS=$pids
}

# ---- 1. cancel ------------------------------------------------------------------------
tsv_start c --job-workers 1
U=$c_URL T=$TSV_TOKEN
http POST "$U/api/v2/setup" -H 'Content-Type: application/json' \
    -d '{"username":"ada","password":"correct-horse","org":"o","bucket":"metrics"}'
expect_status 201 setup
upload "$U/api/v2/files" "$T" "$W/v1.tar.gz"
expect_status 200 upload
J=$(create_job "$U" "$T" '{"type":"restore","source":{"type":"file","fileName":"v1.tar.gz"},"target":{"type":"bucket"}}')
[ "$(wait_job "$U" "$T" "$J")" = completed ] || fail "first restore"
$CLI backup "$U" "$T" "$W/bk" >/dev/null || fail backup
tar czf "$W/bk.tar.gz" -C "$W/bk" .
upload "$U/api/v2/files" "$T" "$W/bk.tar.gz"
expect_status 200 upload
# Restart slowed: 10 s before each archive member a job restores.
tsv_stop c
forget_pid "$c_PID"
# (a new log: tsv_launch reads the port from the log's last "listening" line)
TSVAULT_FAULT=job-member:slow10 tsv_launch c "$c_DATA" "$TSV_TMP/c2.log" --job-workers 1
U=$c_URL

snapshot() {
    curl -sS -H "Authorization: Token $T" "$U/api/v2/buckets?limit=100" |
        python3 -c 'import json,sys; print(sorted((b["id"], b["name"]) for b in json.load(sys.stdin)["buckets"]))'
    (cd "$c_DATA/state/engine/data" && find . -type f -name '*.tsm' -exec sha256sum {} + | sort)
}
snapshot >"$W/before"
J=$(create_job "$U" "$T" '{"type":"restore","source":{"type":"file","fileName":"bk.tar.gz"},"target":{"type":"bucket","bucketName":"fixture/autogen","newBucketName":"cancel-me"}}')
i=0
until curl -sS -H "Authorization: Token $T" "$U/api/v2/jobs/$J/logs" >"$W/logs.json" &&
    grep -q 'restored from' "$W/logs.json"; do
    i=$((i + 1)); [ $i -lt 600 ] || fail "no shard restored"; sleep 0.1
done
grep -q 'bucket \\"cancel-me\\" created as' "$W/logs.json" || fail "bucket cancel-me should exist mid-job: $(cat "$W/logs.json")"
http PATCH "$U/api/v2/jobs/$J" -H "Authorization: Token $T" -d '{"desiredExecutionStatus":"canceled"}'
expect_status 200 "cancel"
[ "$(json_get 'j["desiredExecutionStatus"]')" = canceled ] || fail "desired status"
[ "$(wait_job "$U" "$T" "$J")" = canceled ] || fail "job must end canceled: $(cat "$HTTP_BODY")"
snapshot >"$W/after"
cmp "$W/before" "$W/after" || { diff "$W/before" "$W/after"; fail "data changed by a canceled restore"; }
http GET "$U/api/v2/jobs/$J/metrics" -H "Authorization: Token $T"
python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["totals"]; assert 1 <= t["shardsDone"] < t["shardsTotal"] == 3, t' "$HTTP_BODY" ||
    fail "metrics of the canceled job: $(cat "$HTTP_BODY")"
pass "cancel mid-restore: job canceled after 1 of 3 shards, every bucket and TSM file as before"

# A job canceled while pending never starts; a finished job cannot be canceled.
J1=$(create_job "$U" "$T" '{"type":"restore","source":{"type":"file","fileName":"bk.tar.gz"},"target":{"type":"bucket","bucketName":"fixture/daily","newBucketName":"slow-one"}}')
J2=$(create_job "$U" "$T" '{"type":"restore","source":{"type":"file","fileName":"bk.tar.gz"},"target":{"type":"bucket","bucketName":"fixture/daily","newBucketName":"never"}}')
http PUT "$U/v1/jobs/$J2" -H "Authorization: Token $T" -d '{"desiredExecutionStatus":"canceled"}'
expect_status 200 "cancel pending"
[ "$(json_get 'j["desiredExecutionStatus"]')" = canceled ] || fail "desired status"
# (pending -> canceled at once; on a loaded machine J2 may have started
# already, then it stops at its next member: canceled either way)
[ "$(wait_job "$U" "$T" "$J2")" = canceled ] || fail "J2 must end canceled"
[ "$(wait_job "$U" "$T" "$J1")" = completed ] || fail "J1"
[ -z "$(bucket_id "$U" "$T" never)" ] || fail "a canceled pending job ran"
http PATCH "$U/api/v2/jobs/$J1" -H "Authorization: Token $T" -d '{"desiredExecutionStatus":"canceled"}'
expect_error 409 conflict
pass "cancel of a pending job (PUT /v1): never runs; cancel of a completed job: 409"
tsv_stop c
forget_pid "$c_PID"

# ---- 2. restart mid-job ------------------------------------------------------------------
D="$TSV_TMP/d-data" L="$TSV_TMP/d.log"
mkdir -p "$D"
TSVAULT_FAULT=job-member:pause tsv_launch d "$D" "$L" --job-workers 1
U=$d_URL
http POST "$U/api/v2/setup" -H 'Content-Type: application/json' \
    -d '{"username":"ada","password":"correct-horse","org":"o","bucket":"metrics"}'
expect_status 201 setup
upload "$U/api/v2/files" "$T" "$W/v1.tar.gz"
expect_status 200 upload
JA=$(create_job "$U" "$T" '{"type":"restore","source":{"type":"file","fileName":"v1.tar.gz"},"target":{"type":"bucket"}}')
i=0
until grep -q 'fault point reached" point=job-member' "$L"; do
    i=$((i + 1)); [ $i -lt 600 ] || fail "job never reached its first member"; sleep 0.1
done
JB=$(create_job "$U" "$T" '{"type":"restore","source":{"type":"file","fileName":"v1.tar.gz"},"target":{"type":"bucket"}}')
[ -n "$(bucket_id "$U" "$T" fixture/autogen)" ] || fail "job A should have made its buckets"
http GET "$U/api/v2/jobs/$JB" -H "Authorization: Token $T"
[ "$(json_get 'j["executionStatus"]')" = pending ] || fail "job B must wait for A (same buckets)"
kill -KILL "$d_PID"
wait "$d_PID" 2>/dev/null || true
forget_pid "$d_PID"
tsv_launch d "$D" "$TSV_TMP/d2.log" --job-workers 1
U=$d_URL
[ "$(wait_job "$U" "$T" "$JA")" = failed ] || fail "job A after restart"
[ "$(json_get 'j["health"]["message"]')" = "interrupted by a restart" ] || fail "health message: $(cat "$HTTP_BODY")"
[ "$(wait_job "$U" "$T" "$JB")" = completed ] || fail "job B must run after the restart: $(cat "$HTTP_BODY")"
http GET "$U/api/v2/jobs/$JA/logs" -H "Authorization: Token $T"
grep -q 'rolled back: bucket' "$HTTP_BODY" || fail "rollback not logged: $(cat "$HTTP_BODY")"
n=$(curl -sS -H "Authorization: Token $T" "$U/api/v2/buckets?limit=100" | python3 -c 'import json,sys; print(sum(b["name"].startswith("fixture/") for b in json.load(sys.stdin)["buckets"]))')
[ "$n" = 2 ] || fail "expected exactly the 2 buckets of job B, got $n"
pass "kill -9 mid-job: after restart job A failed 'interrupted by a restart', its buckets rolled back; pending job B ran"
tsv_stop d
