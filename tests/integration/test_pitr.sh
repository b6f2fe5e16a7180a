#!/bin/bash
# Point-in-time recovery (docs/api.md "Point-in-time recovery"): a history
# built with real clients (curl through the influx CLI's restore flows with
# the 1.6 fixture, buckets created and deleted, tokens added, a shard
# replaced, a delete_data through the vault's C API), backup-API snapshots
# at T1..T3 (bolt tree dumped by the Go bbolt checker, SHA-256 of every file
# of every shard's backup tar), then a PITR to each Ti equals the snapshot
# of Ti, and a PITR forward to the latest moment equals the last one.
# Then kill -9 at several points of a PITR: old or new state, never a mix;
# the job reads failed (old) or done (new). Errors: 400/401/403/404/409.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixture.sh"

VT=$(tsv_tool tsv_vaulttool)
fixture_server
. "$(dirname "$0")/pitr_lib.sh"

# --- history -------------------------------------------------------------
http POST "$U/api/v2/orgs" -H "$(auth)" -H 'Content-Type: application/json' -d '{"name":"pitr-org"}'
expect_status 201 "create org"
ORG=$(json_get 'j["id"]')
declare -A BUCKET
restore_rp() { # RP OLD-SHARD-IDS...
    pitr_restore_rp "$1" "$ORG" "${@:2}"
    BUCKET[$1]=$BUCKET_ID
}
restore_rp autogen 1 2 3
tick; T1=$T; snap s1
pass "T1: fixture bucket autogen restored (3 shards)"

http POST "$U/api/v2/buckets" -H "$(auth)" -H 'Content-Type: application/json' \
    -d "{\"orgID\":\"$ORG\",\"name\":\"scratch\"}"
expect_status 201 "create bucket"
SCRATCH=$(json_get 'j["id"]')
http POST "$U/api/v2/users" -H "$(auth)" -H 'Content-Type: application/json' -d '{"name":"reader"}'
expect_status 201 "create user"
USR=$(json_get 'j["id"]')
http POST "$U/api/v2/authorizations" -H "$(auth)" -H 'Content-Type: application/json' \
    -d "{\"orgID\":\"$ORG\",\"userID\":\"$USR\",\"description\":\"reader\",\"permissions\":[{\"action\":\"read\",\"resource\":{\"type\":\"buckets\",\"orgID\":\"$ORG\"}}]}"
expect_status 201 "create token"
restore_rp daily 4 5
upload 1 2 # shard 2 replaced by other files
tick; T2=$T; snap s2
cmp -s "$W/s1.snap" "$W/s2.snap" && fail "T2 snapshot equals T1"
pass "T2: bucket, user and token created, bucket daily restored, a shard replaced"

http DELETE "$U/api/v2/buckets/$SCRATCH" -H "$(auth)"
expect_status 204 "delete bucket"
tsv_stop s
"$VT" "$D" delete "${BUCKET[autogen]}" 2024-01-03T00:00:00Z/2024-01-05T00:00:00Z >"$W/vt.out" 2>"$W/vt.err" ||
    fail "delete_data: $(cat "$W/vt.err")"
grep -q tombstoned "$W/vt.out" || fail "delete_data did not tombstone: $(cat "$W/vt.out")"
relaunch
tick; T3=$T; snap s3
cmp -s "$W/s2.snap" "$W/s3.snap" && fail "T3 snapshot equals T2"
pass "T3: bucket deleted, delete_data on 2024-01-03/2024-01-05"

# --- range ----------------------------------------------------------------
http GET "$U/api/v2/pitr" -H "$(auth)"
expect_status 200 "pitr range"
python3 - "$HTTP_BODY" "$T1" <<'PY' || fail "range: $(cat "$HTTP_BODY")"
import datetime, json, re, sys
j = json.load(open(sys.argv[1]))
assert set(j) == {"start_time", "end_time"}, j
for k in j:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", j[k]), j
ms = lambda s: int(datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)
assert ms(j["start_time"]) <= int(sys.argv[2]) <= ms(j["end_time"]), j
PY
http GET "$U/v1/instances/local/pitr" -H "$(auth)"
expect_status 200 "seed range"
json_get 'j["start_time"] and j["end_time"]' >/dev/null
pass "range: start <= T1 <= end, RFC 3339 with ms, on both paths"
TZ_=$(now_ms)

# --- PITR to each Ti, then forward ------------------------------------------
pitr "$T1"; snap p1; same s1 p1 "PITR to T1"
pass "PITR to T1 equals the T1 snapshot"
pitr "$T3"; snap p3; same s3 p3 "PITR forward to T3"
pass "PITR forward to T3 equals the T3 snapshot"
pitr "$T2"; snap p2; same s2 p2 "PITR to T2"
pass "PITR to T2 equals the T2 snapshot (across the T1 and T3 PITRs)"
pitr "$TZ_"; snap pz; same s3 pz "PITR to the latest moment"
pass "PITR to the latest moment before the PITRs equals the last snapshot"
http GET "$U/api/v2/jobs/$JOB" -H "$(auth)"
expect_status 200 "PITR job in the jobs API"
[ "$(json_get 'j["type"]+"/"+j["executionStatus"]')" = pitr/completed ] || fail "job: $(cat "$HTTP_BODY")"
pass "a PITR is a normal job (type pitr, completed)"

# --- errors -----------------------------------------------------------------
http POST "$U/api/v2/pitr/restore" -H "$(auth)" -H 'Content-Type: application/json' -d '{"target_time":"yesterday"}'
expect_error 400 invalid "target_time"
http POST "$U/api/v2/pitr/restore" -H "$(auth)" -H 'Content-Type: application/json' -d '{"target_time":"2099-01-01T00:00:00.000Z"}'
expect_error 400 invalid "in the future; the restorable range is \\["
http POST "$U/api/v2/pitr/restore" -H "$(auth)" -H 'Content-Type: application/json' -d '{"target_time":"2001-01-01T00:00:00.000Z"}'
expect_error 400 invalid "outside the restorable range \\["
http POST "$U/api/v2/pitr/restore" -H "$(auth)" -H 'Content-Type: application/json' -d '{}'
expect_error 400 invalid "target_time is required"
http POST "$U/api/v2/pitr/restore" -H 'Content-Type: application/json' -d "{\"target_time\":\"$(rfc_ms "$T1")\"}"
expect_error 401 unauthorized
http POST "$U/v1/instances/local/pitr/restore" -H 'Content-Type: application/json' -d "{\"target_time\":\"$(rfc_ms "$T1")\"}"
expect_status 401 "seed 401"
[ "$(json_get 'sorted(j)')" = "['description', 'error']" ] || fail "seed error shape: $(cat "$HTTP_BODY")"
[ "$(json_get 'j["error"]')" = Unauthorized ] || fail "seed 401 word"
http POST "$U/v1/instances/local/pitr/restore" -H "$(auth)" -H 'Content-Type: application/json' -d '{"target_time":"2099-01-01T00:00:00Z"}'
expect_status 400 "seed 400"
[ "$(json_get 'j["error"]')" = BadRequest ] || fail "seed 400: $(cat "$HTTP_BODY")"
http GET "$U/v1/instances/other/pitr" -H "$(auth)"
expect_status 404 "unknown instance"
[ "$(json_get 'j["error"]')" = NotFound ] || fail "seed 404"
http GET "$U/api/v2/pitr/restore/00000000-0000-0000-0000-000000000000" -H "$(auth)"
expect_error 404 "not found"
http POST "$U/api/v2/users" -H "$(auth)" -H 'Content-Type: application/json' -d '{"name":"reader2"}'
expect_status 201 "create user 2"
USR2=$(json_get 'j["id"]')
http POST "$U/api/v2/authorizations" -H "$(auth)" -H 'Content-Type: application/json' \
    -d "{\"orgID\":\"$ORG\",\"userID\":\"$USR2\",\"permissions\":[{\"action\":\"read\",\"resource\":{\"type\":\"buckets\",\"orgID\":\"$ORG\"}}]}"
expect_status 201 "reader token"
RT=$(json_get 'j["token"]')
# A token without the operator set: refused as on every operator route
# (tsvault answers InfluxDB's 401 "<permission> is unauthorized").
http GET "$U/api/v2/pitr" -H "Authorization: Token $RT"
expect_error 401 unauthorized "is unauthorized"
http POST "$U/api/v2/pitr/restore" -H "Authorization: Token $RT" -H 'Content-Type: application/json' -d "{\"target_time\":\"$(rfc_ms "$T1")\"}"
expect_error 401 unauthorized "is unauthorized"
http GET "$U/v1/instances/local/pitr" -H "Authorization: Token $RT"
expect_status 401 "seed, lesser token"
[ "$(json_get 'j["error"]')" = Unauthorized ] || fail "seed lesser token: $(cat "$HTTP_BODY")"
pass "400 (unparsable, future, before the range, missing), 401 (no token, lesser token), 404 on both paths"

# --- kill -9 during a PITR --------------------------------------------------
snap cur
tick; TC=$T
# crash POINT OLD|NEW: PITR to T1 paused at POINT, kill -9, restart.
crash() {
    tsv_stop s
    relaunch "$1:pause"
    http POST "$U/v1/instances/local/pitr/restore" -H "$(auth)" -H 'Content-Type: application/json' \
        -d "{\"target_time\":\"$(rfc_ms "$T1")\"}"
    expect_status 202 "pitr before crash at $1"
    CJ=$(json_get 'j["jobId"]')
    log="$TSV_TMP/s-$LOGN.log"
    for _ in $(seq 1 200); do grep -q "fault point reached" "$log" && break; sleep 0.05; done
    grep -q "fault point reached.*point=$1" "$log" || fail "fault point $1 not reached"
    if [ "$1" = pitr-after-kv ]; then
        # a second PITR while one runs: 409 on both paths
        http POST "$U/api/v2/pitr/restore" -H "$(auth)" -H 'Content-Type: application/json' \
            -d "{\"target_time\":\"$(rfc_ms "$T1")\"}"
        expect_status 409 "second PITR"
        http POST "$U/v1/instances/local/pitr/restore" -H "$(auth)" -H 'Content-Type: application/json' \
            -d "{\"target_time\":\"$(rfc_ms "$T1")\"}"
        expect_status 409 "second PITR (seed path)"
        [ "$(json_get 'j["error"]')" = Conflict ] || fail "seed 409: $(cat "$HTTP_BODY")"
    fi
    kill -9 "$s_PID"
    wait "$s_PID" 2>/dev/null || true
    relaunch
    ls "$D" | grep -q staging && fail "staging left after restart ($1)"
    snap "after-$1"
    http GET "$U/api/v2/pitr/restore/$CJ" -H "$(auth)"
    expect_status 200 "job after crash"
    st=$(json_get 'j["status"]')
    if [ "$2" = OLD ]; then
        same cur "after-$1" "kill -9 at $1: not the old state"
        [ "$st" = failed ] || fail "job after $1: $st"
    else
        same s1 "after-$1" "kill -9 at $1: not the new state"
        [ "$st" = done ] || fail "job after $1: $st"
        pitr "$TC"; snap back; same cur back "back to the latest after $1"
    fi
    pass "kill -9 at $1: the $2 state, job $st"
}
crash pitr-after-kv OLD
crash pitr-after-shards OLD
crash pitr-before-exchange OLD
crash kv-after-exchange NEW
crash pitr-before-catalog NEW
tsv_stop s
