#!/bin/bash
# The S3 tier (jobs/s3_tier.h) against a real object store: Debian's
# OpenStack Swift with s3api (swift_lib.sh), set up from nothing.
#  - a server with --object-store copies every vault object and checkpoints
#    (catalogue + KV) while the 1.6 fixture is restored and changed with
#    curl; the metrics say when S3 has caught up; the swift CLI sees the
#    objects, each named by the SHA-256 of its bytes;
#  - kill -9, then the data directory is gone: a recovery on a new empty
#    directory must wait for the dead server's lease, then rebuilds the
#    vault: backup API snapshots (bolt tree + every shard file's hash), what
#    `influx backup` writes (influxcli.py) and tsmcheck exports equal what
#    they were, a PITR to an earlier moment equals that moment, and the
#    recovered server keeps copying;
#  - a second server on the same prefix is refused (lease); bad credentials,
#    a missing bucket and a non-empty target fail with clear errors;
#  - the store failing every object upload (500 from a proxy): restores still
#    succeed locally, the lag shows in the metrics, and the copy resumes when
#    the store comes back; an altered object makes a recovery fail and
#    leaves the target recoverable.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixture.sh"
. "$(dirname "$0")/swift_lib.sh"
. "$(dirname "$0")/s3_tier_lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
S3TOOL=$(tsv_tool tsv_s3tool)

tier_swift
URL=s3://tsvault/site-a/vault
TIER=(--object-store "$URL" --s3-endpoint "$EP" --s3-path-style --s3-checkpoint-interval 1s
    --s3-lease-ttl 4s)

# job JSON STATUS: runs a job to its end, which must be STATUS; the job in $HTTP_BODY.
job() {
    http POST "$U/api/v2/jobs" -H "$(auth)" -H 'Content-Type: application/json' -d "$1"
    expect_status 201 "create job $1"
    local id st
    id=$(json_get 'j["id"]')
    for _ in $(seq 1 600); do
        http GET "$U/api/v2/jobs/$id" -H "$(auth)"
        st=$(json_get 'j["executionStatus"]')
        case $st in completed | failed | canceled) break ;; esac
        sleep 0.1
    done
    [ "$st" = "$2" ] || fail "job $1: $st, expected $2: $(cat "$HTTP_BODY"); logs: $(curl -sS -H "$(auth)" "$U/api/v2/jobs/$id/logs")"
    JOB_LOGS=$(curl -sS -H "$(auth)" "$U/api/v2/jobs/$id/logs")
}
pull_self() { job '{"type":"backup","source":{"type":"connection","connectionName":"self"}}' "$1"; }
# evicted URL: waits until the server has evicted something; EV is the count.
evicted() {
    for _ in $(seq 1 300); do
        EV=$(metric "$1" tsvault_s3_evicted_objects_total)
        [ "${EV:-0}" -gt 0 ] && return 0
        sleep 0.1
    done
    fail "nothing evicted"
}
s3ls() { S3_ENDPOINT="$EP" S3_ACCESS_KEY="$AK" S3_SECRET_KEY="$SK" "$S3TOOL" ls tsvault "$1"; }

# ---- copy --------------------------------------------------------------------
fixture_server "${TIER[@]}"
. "$(dirname "$0")/pitr_lib.sh"
grep -q 'msg="copying the vault to the object store"' "$s_LOG" || fail "no tier start in the log"
http POST "$U/api/v2/orgs" -H "$(auth)" -H 'Content-Type: application/json' -d '{"name":"s3-org"}'
expect_status 201 "create org"
ORG=$(json_get 'j["id"]')
pitr_restore_rp autogen "$ORG" 1 2 3
AUTOGEN=$BUCKET_ID
synced "$U"
tick
T1=$T
snap t1
pitr_restore_rp daily "$ORG" 4 5
upload 1 2 # shard 2 replaced: its first version stays in the vault, soft-deleted
# Idle rounds do not scan the local objects again; the next write does.
synced "$U"
scans=$(metric "$U" tsvault_s3_object_scans_total)
r0=$(rounds "$U")
for _ in $(seq 1 100); do [ "$(rounds "$U")" -ge $((r0 + 3)) ] && break; sleep 0.1; done
[ "$(rounds "$U")" -ge $((r0 + 3)) ] || fail "no copy rounds"
[ "$(metric "$U" tsvault_s3_object_scans_total)" = "$scans" ] ||
    fail "idle rounds scanned the objects: $scans -> $(metric "$U" tsvault_s3_object_scans_total)"
http POST "$U/api/v2/buckets" -H "$(auth)" -H 'Content-Type: application/json' \
    -d "{\"orgID\":\"$ORG\",\"name\":\"scratch\"}"
expect_status 201 "create bucket"
# A connection (to this server itself) and one pull: its catalogue and
# objects are copied too, its token is not.
http POST "$U/api/v2/connections" -H "$(auth)" -H 'Content-Type: application/json' \
    -d "{\"name\":\"self\",\"type\":\"influxdb2\",\"url\":\"$U\",\"secrets\":{\"token\":\"$TSV_TOKEN\"}}"
expect_status 201 "create connection"
pull_self completed
# A staged archive (Files API, curl --form as the seed shows): its record and
# bytes are copied too.
tar czf "$W/fixture-1.6.tar.gz" -C "$TSV_TESTDATA/influxdb-1.6-portable/backup" .
st=$(cd "$W" && curl -sS -o "$W/staged.json" -w '%{http_code}' -H "$(auth)" \
    --form 'file=@"fixture-1.6.tar.gz"' "$U/api/v2/files")
[ "$st" = 200 ] || fail "stage a file: $st $(cat "$W/staged.json")"
conn_objects=$(cd "$D/connections/objects" && ls -d ??/* | sed 's|.*/||' | sort)
[ -n "$conn_objects" ] || fail "the pull stored no object"
synced "$U"
[ "$(metric "$U" tsvault_s3_object_scans_total)" -gt "$scans" ] || fail "writes did not lead to a scan"
pass "idle copy rounds do not scan the local objects again ($scans scans so far); a write does"
snap t2
fixture_export "$D/state/engine/data/$AUTOGEN/autogen" autogen "$W/t2-autogen.lp"
cmp -s "$W/t1.snap" "$W/t2.snap" && fail "T2 snapshot equals T1"

local_objects=$( (cd "$D/objects" && ls -d ??/*; cd "$D/connections/objects" && ls -d ??/*
    sha256sum "$W/fixture-1.6.tar.gz" | cut -d' ' -f1) | sed 's|.*/||' | sort -u)
remote_objects=$(s3ls site-a/vault/objects/ | awk '{print $1}' | sed 's|.*/||' | sort)
[ -n "$local_objects" ] || fail "no local objects"
[ "$local_objects" = "$remote_objects" ] ||
    fail "S3 objects differ from local: $(diff <(echo "$local_objects") <(echo "$remote_objects") | head)"
n_objects=$(echo "$local_objects" | wc -l)
n_vault=$(cd "$D/objects" && ls -d ??/* | wc -l)
# An independent client (Swift's own API) reads an object: its bytes hash to its name.
one=$(echo "$local_objects" | head -n 1)
swift -A "${EP}/auth/v1.0" -U "$AK" -K "$SK" download tsvault "site-a/vault/objects/${one:0:2}/$one" \
    -o "$W/one.obj" >/dev/null || fail "swift download"
[ "$(sha256sum "$W/one.obj" | cut -d' ' -f1)" = "$one" ] || fail "object bytes do not hash to the name"
s3ls site-a/vault/checkpoints/ | grep -q '/manifest.json ' || fail "no checkpoint manifest"
pass "$n_objects objects in S3 equal the local ones (swift CLI: bytes hash to the name), checkpoint written"


# ---- verify reads the S3 copies back; an altered one is repaired --------------
verify_s3() { # a full verify job to its end: $W/vjob.json, $W/vlogs.json
    job '{"type":"verify"}' completed
    cp "$HTTP_BODY" "$W/vjob.json"
    echo "$JOB_LOGS" >"$W/vlogs.json"
}
vhealth() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["health"]["status"])' "$W/vjob.json"; }
verify_s3
grep -Eq "object store: checkpoint [0-9]+, $n_objects objects \([0-9]+ bytes\) read back and checked, 0 repaired from local copies: 0 problems" "$W/vlogs.json" ||
    fail "verify of the S3 copies: $(cat "$W/vlogs.json")"
[ "$(vhealth)" = ok ] || fail "verify health: $(cat "$W/vjob.json")"
victim=$(echo "$local_objects" | tail -n 1)
printf 'not the bytes' >"$W/bad.obj"
S3_ENDPOINT="$EP" S3_ACCESS_KEY="$AK" S3_SECRET_KEY="$SK" "$S3TOOL" put tsvault \
    "site-a/vault/objects/${victim:0:2}/$victim" "$W/bad.obj" >/dev/null || fail "alter an object"
verify_s3
grep -q "problem: S3 objects/${victim:0:2}/$victim: .*uploaded again from the local copy (repaired)" "$W/vlogs.json" ||
    fail "repair: $(cat "$W/vlogs.json")"
[ "$(vhealth)" = warn ] || fail "verify health after a repair: $(cat "$W/vjob.json")"
swift -A "${EP}/auth/v1.0" -U "$AK" -K "$SK" download tsvault "site-a/vault/objects/${victim:0:2}/$victim" \
    -o "$W/victim.obj" >/dev/null || fail "swift download"
[ "$(sha256sum "$W/victim.obj" | cut -d' ' -f1)" = "$victim" ] || fail "the repaired object's bytes"
pass "verify reads every S3 copy back (SHA-256); an altered copy is found and uploaded again from the local one"

# ---- a second server on the same prefix: refused -------------------------------
mkdir -p "$TSV_TMP/other-data"
RC=0
"$TSVAULT_BIN" serve --http-bind-address 127.0.0.1:0 --rpc-bind-address "" --data-dir "$TSV_TMP/other-data" \
    "${TIER[@]}" >"$TSV_TMP/other.log" 2>&1 || RC=$?
[ "$RC" != 0 ] || fail "a second server on the prefix started"
grep -q "is in use by another tsvault" "$TSV_TMP/other.log" || fail "lease error: $(tail -3 "$TSV_TMP/other.log")"
pass "a second server on the same prefix is refused while the lease is held"

# ---- kill -9, data directory lost, recover -----------------------------------
cli_snap t2-cli
kill -9 "$s_PID"
wait "$s_PID" 2>/dev/null || true
rm -rf "$D"
R="$TSV_TMP/recovered-data"
RC=0
"$TSVAULT_BIN" serve --http-bind-address 127.0.0.1:0 --rpc-bind-address "" --data-dir "$R" \
    --recover-from "$URL" --s3-endpoint "$EP" --s3-path-style >"$TSV_TMP/early.log" 2>&1 || RC=$?
[ "$RC" != 0 ] && grep -q "is in use by another tsvault" "$TSV_TMP/early.log" ||
    fail "recovery while the dead server's lease is valid: $RC $(tail -3 "$TSV_TMP/early.log")"
[ ! -e "$R/state" ] || fail "a refused recovery wrote state/"
sleep 4.5 # the lease TTL
# kill -9 in the middle of a recovery, twice: no state/ is left, and the
# next run recovers.
for point in tier-recover-after-catalog tier-recover-before-state; do
    kill9_at_fault "$point" "$TSV_TMP/crash-$point.log" "$TSVAULT_BIN" serve --http-bind-address 127.0.0.1:0 \
        --rpc-bind-address "" --data-dir "$R" --recover-from "$URL" --s3-endpoint "$EP" --s3-path-style
    [ ! -e "$R/state" ] && [ -e "$R/tier/recovering" ] || fail "after a crash at $point: $(ls "$R" "$R/tier")"
done
pass "kill -9 during a recovery (after the catalogue, before state/): no state/, the mark says to run again"
# With eviction on, the recovery downloads only what is in use; the rest
# comes back when an operation needs it.
tsv_launch r "$R" "$TSV_TMP/r.log" --recover-from "$URL" --s3-endpoint "$EP" --s3-path-style \
    --s3-checkpoint-interval 1s --s3-lease-ttl 4s --s3-evict-after 1s
line=$(grep 'msg="objects recovered"' "$r_LOG") || fail "no recovery in the log"
got=$(echo "$line" | sed 's/.* objects=\([0-9]*\).*/\1/')
listed=$(echo "$line" | sed 's/.*listed_objects=\([0-9]*\).*/\1/')
[ "$listed" = "$n_vault" ] && [ "$got" -lt "$listed" ] ||
    fail "lazy recovery: downloaded $got of $listed, $n_vault vault objects before"
U=$r_URL
D=$R
snap rec
same t2 rec "recovered server differs from the one that was lost"
cli_snap rec-cli
same t2-cli rec-cli "influx backup of the recovered server differs from the lost one's"
fixture_export "$D/state/engine/data/$AUTOGEN/autogen" autogen "$W/rec-autogen.lp"
fixture_lp_same "$W/rec-autogen.lp" "$W/t2-autogen.lp" "recovered tsmcheck export"
pass "recovered from S3 into an empty directory ($got of $listed objects downloaded, the rest not in use): backup snapshot, influx backup's output and tsmcheck export equal the lost server's"

pitr "$T1"
snap rec-t1
same t1 rec-t1 "PITR to T1 after recovery"
grep -q 'msg="object fetched back from the object store"' "$r_LOG" || fail "no object fetched back"
pass "PITR to an earlier moment after recovery equals that moment (soft-deleted versions fetched back from S3)"

# The staged archive came back: the same record (id, digests, user, time)
# and bytes, and a restore job can use it.
curl -sS -f -H "$(auth)" "$U/api/v2/files/fixture-1.6.tar.gz" >"$W/staged-rec.json" ||
    fail "staged file after recovery"
cmp -s "$W/staged.json" "$W/staged-rec.json" ||
    fail "staged file record: $(cat "$W/staged.json") vs $(cat "$W/staged-rec.json")"
cmp -s "$R/files/data/fixture-1.6.tar.gz" "$W/fixture-1.6.tar.gz" || fail "staged file bytes"
pass "a staged archive recovered with its record and bytes"

# The connection came back with its snapshot and objects, without its token.
http GET "$U/api/v2/connections/self/snapshots" -H "$(auth)"
expect_status 200 "snapshots after recovery"
[ "$(json_get 'len(j["values"])')" = 1 ] || fail "snapshots after recovery: $(cat "$HTTP_BODY")"
[ "$(cd "$D/connections/objects" && ls -d ??/* | sed 's|.*/||' | sort)" = "$conn_objects" ] ||
    fail "the connection's objects were not recovered"
[ "$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM connections WHERE secrets IS NOT NULL").fetchone()[0])' "$D/connections/catalog.db")" = 0 ] ||
    fail "sealed secrets were recovered"
pull_self failed
grep -q 'has no token (it was recovered from an object store' <<<"$JOB_LOGS" || fail "no-token error: $JOB_LOGS"
http PATCH "$U/api/v2/connections/self" -H "$(auth)" -H 'Content-Type: application/json' \
    -d "{\"url\":\"$U\",\"secrets\":{\"token\":\"$TSV_TOKEN\"}}"
expect_status 200 "give the token back"
pull_self completed
pass "the connection and its snapshot recovered without the token; a pull says so, and works once it is set again"
synced "$U" # the recovered server copies its own changes (the PITR)
evicted "$U"
ev=$EV
n_local=$(cd "$D/objects" && ls -d ??/* | wc -l)
[ "$n_local" -lt "$(s3ls site-a/vault/objects/ | wc -l)" ] || fail "eviction left every object local"
snap rec-t1-evicted
same t1 rec-t1-evicted "state after eviction"
pass "$ev objects not in use evicted from local disk (still in S3), live state unchanged"
job '{"type":"restore","source":{"type":"file","fileName":"fixture-1.6.tar.gz"},"target":{"type":"bucket","bucketName":"fixture/autogen","newBucketName":"from-staged"}}' completed
pass "a restore job from the recovered staged archive completes"
tsv_stop r

# ---- the log between checkpoints -------------------------------------------------
# A long checkpoint interval: after the first checkpoint, changes reach S3 as
# log segments only. kill -9, data lost: the recovery replays them (a
# segment planted after them, damaged, ends the log with a warning).
LURL=s3://tsvault/site-l/vault
tsv_start l --object-store "$LURL" --s3-endpoint "$EP" --s3-path-style --s3-checkpoint-interval 1h \
    --s3-log-interval 1s --s3-lease-ttl 4s
synced "$l_URL"
http POST "$l_URL/api/v2/orgs" -H "$(auth)" -H 'Content-Type: application/json' -d '{"name":"log-org"}'
expect_status 201 "create org (log)"
LORG=$(json_get 'j["id"]')
http POST "$l_URL/api/v2/buckets" -H "$(auth)" -H 'Content-Type: application/json' \
    -d "{\"orgID\":\"$LORG\",\"name\":\"after-checkpoint\"}"
expect_status 201 "create bucket (log)"
# A staged archive after the checkpoint: its record and bytes ride with a segment.
curl -sS -f -H "$(auth)" --form "file=@$W/fixture-1.6.tar.gz;filename=log-staged.tar.gz" \
    "$l_URL/api/v2/files" >/dev/null || fail "stage a file (log)"
curl -sS -f -H "$(auth)" "$l_URL/api/v2/files/log-staged.tar.gz" >"$W/log-staged.json" ||
    fail "staged file record (log)"
synced "$l_URL"
segs=$(curl -sS "$l_URL/metrics" | awk '$1 == "tsvault_s3_log_segments_total{result=\"ok\"}" { print $2 }')
[ "${segs:-0}" -ge 1 ] || fail "no log segment written: $(curl -sS "$l_URL/metrics" | grep s3_log)"
lkeys() { s3ls "$1" | awk '{ print $1 }'; }
[ "$(lkeys site-l/vault/checkpoints/ | grep -c 'manifest.json$')" = 1 ] ||
    fail "more than one checkpoint: $(lkeys site-l/vault/checkpoints/)"
cp_dir=$(lkeys site-l/vault/checkpoints/ | grep 'manifest.json$' | sed 's|/manifest.json$||')
lkeys "$cp_dir/log/" | grep -q '/log/0000000001$' || fail "segment 1 not in S3: $(lkeys "$cp_dir/log/")"
kill -9 "$l_PID"
wait "$l_PID" 2>/dev/null || true
nseg=$(lkeys "$cp_dir/log/" | grep -c '/log/[0-9]*$')
head -c 300 /dev/urandom >"$W/bad-segment"
S3_ENDPOINT="$EP" S3_ACCESS_KEY="$AK" S3_SECRET_KEY="$SK" "$S3TOOL" put tsvault \
    "$cp_dir/log/$(printf %010d $((nseg + 1)))" "$W/bad-segment" >/dev/null || fail "plant a segment"
sleep 4.5 # the lease TTL
L2="$TSV_TMP/l2-data"
tsv_launch l2 "$L2" "$TSV_TMP/l2.log" --recover-from "$LURL" --s3-endpoint "$EP" --s3-path-style \
    --s3-checkpoint-interval 1h --s3-lease-ttl 4s --s3-log-interval 1s
grep -q "msg=\"log replayed\".* segments=$nseg" "$l2_LOG" || fail "log not replayed: $(grep -i 'log\|segment' "$l2_LOG" | tail -5)"
grep -q 'msg="log segment unusable: the recovery stops at the one before".*SHA-256\|msg="log segment unusable: the recovery stops at the one before".*too short\|msg="log segment unusable' "$l2_LOG" ||
    fail "the planted segment was not refused: $(tail -5 "$l2_LOG")"
http GET "$l2_URL/api/v2/buckets?name=after-checkpoint" -H "$(auth)"
expect_status 200 "bucket after log recovery"
[ "$(json_get 'len(j["buckets"])')" = 1 ] || fail "the bucket created after the checkpoint was not recovered: $(cat "$HTTP_BODY")"
curl -sS -f -H "$(auth)" "$l2_URL/api/v2/files/log-staged.tar.gz" >"$W/log-staged-rec.json" ||
    fail "the file staged after the checkpoint was not recovered: $(grep -i 'staged\|segment' "$l2_LOG" | tail -3)"
cmp -s "$W/log-staged.json" "$W/log-staged-rec.json" ||
    fail "staged file record (log): $(cat "$W/log-staged.json") vs $(cat "$W/log-staged-rec.json")"
cmp -s "$L2/files/data/log-staged.tar.gz" "$W/fixture-1.6.tar.gz" || fail "staged file bytes (log)"
pass "changes after the newest checkpoint (a bucket, a staged archive) reach S3 as log segments ($nseg) and a recovery replays them; a damaged segment ends the log with a warning"
# verify reads the segments back; a damaged one is a problem, and a new
# checkpoint (which the log then follows) replaces it.
U=$l2_URL
synced "$U"
http POST "$U/api/v2/buckets" -H "$(auth)" -H 'Content-Type: application/json' \
    -d "{\"orgID\":\"$LORG\",\"name\":\"after-recovery\"}"
expect_status 201 "create bucket (after the recovery)"
synced "$U"
verify_s3
grep -Eq '0 problems; [1-9][0-9]* log segments after the checkpoint read back' "$W/vlogs.json" ||
    fail "verify of the log: $(cat "$W/vlogs.json")"
# Segment 1 (never written again by the tier) replaced by garbage.
cp_dir=$(lkeys site-l/vault/checkpoints/ | grep 'manifest.json$' | tail -n 1 | sed 's|/manifest.json$||')
S3_ENDPOINT="$EP" S3_ACCESS_KEY="$AK" S3_SECRET_KEY="$SK" "$S3TOOL" put tsvault \
    "$cp_dir/log/0000000001" "$W/bad-segment" >/dev/null || fail "damage a segment"
verify_s3
grep -q "problem: S3 $cp_dir/log/0000000001: log segment 1 of checkpoint .*a recovery stops before it" "$W/vlogs.json" ||
    fail "verify of a damaged segment: $(cat "$W/vlogs.json")"
for _ in $(seq 1 100); do
    [ "$(lkeys site-l/vault/checkpoints/ | grep 'manifest.json$' | tail -n 1 | sed 's|/manifest.json$||')" != "$cp_dir" ] && break
    sleep 0.1
done
[ "$(lkeys site-l/vault/checkpoints/ | grep 'manifest.json$' | tail -n 1 | sed 's|/manifest.json$||')" != "$cp_dir" ] ||
    fail "no new checkpoint after a damaged segment"
synced "$U"
verify_s3
grep -q '0 repaired from local copies: 0 problems' "$W/vlogs.json" || fail "verify after the new checkpoint: $(cat "$W/vlogs.json")"
pass "verify reads the log segments back; a damaged one is reported and a new checkpoint replaces it"
tsv_stop l2
# Newer checkpoints planted in the prefix, unusable: a manifest that is not
# JSON, one whose parts do not hash as it says, one listing a catalogue that
# is not one. The recovery skips each with a warning and uses the newest
# good one.
printf '{"format":1,' >"$W/m-garbage.json"
printf 'not an LMDB file' >"$W/not-a-catalog"
bad_sha=$(sha256sum "$W/not-a-catalog" | cut -d' ' -f1)
plant() { S3_ENDPOINT="$EP" S3_ACCESS_KEY="$AK" S3_SECRET_KEY="$SK" "$S3TOOL" put tsvault "$1" "$2" >/dev/null || fail "plant $1"; }
plant site-l/vault/checkpoints/99999999999999999999/manifest.json "$W/m-garbage.json"
for n in 99999999999999999998 99999999999999999997; do
    want=$bad_sha
    [ "$n" = 99999999999999999998 ] && want=$(printf '%064d' 0)
    printf '{"format":1,"name":"%s","generation":"0000000000000001","files":{"catalog.mdb":{"size":16,"sha256":"%s"},"kv.mdb":{"size":16,"sha256":"%s"}}}' \
        "$n" "$want" "$want" >"$W/m-$n.json"
    plant "site-l/vault/checkpoints/$n/catalog.mdb" "$W/not-a-catalog"
    plant "site-l/vault/checkpoints/$n/kv.mdb" "$W/not-a-catalog"
    plant "site-l/vault/checkpoints/$n/manifest.json" "$W/m-$n.json"
done
tsv_launch l3 "$TSV_TMP/l3-data" "$TSV_TMP/l3.log" --recover-from "$LURL" --s3-endpoint "$EP" --s3-path-style \
    --s3-checkpoint-interval 1h --s3-lease-ttl 4s
[ "$(grep -c 'msg="checkpoint unusable: trying the one before"' "$l3_LOG")" = 3 ] ||
    fail "planted checkpoints: $(grep -i 'checkpoint' "$l3_LOG" | head -5)"
grep -q 'checkpoint=99999999999999999998 .*does not match the manifest' "$l3_LOG" || fail "sha mismatch not named: $(grep unusable "$l3_LOG")"
http GET "$l3_URL/api/v2/buckets?name=after-recovery" -H "$(auth)"
expect_status 200 "bucket after recovery past planted checkpoints"
[ "$(json_get 'len(j["buckets"])')" = 1 ] || fail "recovered from the wrong checkpoint: $(cat "$HTTP_BODY")"
pass "planted unusable checkpoints (not JSON, parts not as the manifest says, not a catalogue) are skipped with a warning; the newest good one is recovered"
tsv_stop l3

# ---- bad configurations --------------------------------------------------------
run_bad() { # WHAT REGEX ARGS...
    local what=$1 re=$2
    shift 2
    RC=0
    "$TSVAULT_BIN" serve --http-bind-address 127.0.0.1:0 --rpc-bind-address "" "$@" >"$TSV_TMP/bad.log" 2>&1 || RC=$?
    [ "$RC" != 0 ] || fail "$what: started"
    grep -Eq "$re" "$TSV_TMP/bad.log" || fail "$what: $(tail -3 "$TSV_TMP/bad.log")"
}
run_bad "recover into a live data directory" "already holds a data directory" --data-dir "$R" \
    --recover-from "$URL" --s3-endpoint "$EP" --s3-path-style
AWS_SECRET_ACCESS_KEY=wrong run_bad "wrong secret" "SignatureDoesNotMatch" --data-dir "$TSV_TMP/d1" \
    "${TIER[@]}"
run_bad "missing bucket" "NoSuchBucket" --data-dir "$TSV_TMP/d2" --object-store s3://nosuchbucket/x \
    --s3-endpoint "$EP" --s3-path-style
AWS_ACCESS_KEY_ID="" run_bad "no credentials" "no S3 credentials" --data-dir "$TSV_TMP/d3" "${TIER[@]}"
run_bad "bad URL" "expected s3://bucket" --data-dir "$TSV_TMP/d4" --object-store http://x/y
run_bad "nothing to recover" "holds no complete checkpoint" --data-dir "$TSV_TMP/d5" \
    --recover-from s3://tsvault/empty --s3-endpoint "$EP" --s3-path-style
pass "bad configurations fail at start with clear errors"

# ---- the store failing, then back ----------------------------------------------
proxy() { # MODE PORT -> PROXY_PID, PROXY
    python3 "$HERE/s3_faultproxy.py" "${EP##*:}" "$1" "$2" >"$TSV_TMP/proxy.port" 2>>"$TSV_TMP/proxy.log" &
    PROXY_PID=$!
    TSV_PIDS="$TSV_PIDS $PROXY_PID"
    PROXY=""
    for _ in $(seq 50); do PROXY=$(cat "$TSV_TMP/proxy.port"); [ -n "$PROXY" ] && break; sleep 0.1; done
    [ -n "$PROXY" ] || fail "proxy did not start"
}
# The store down at start-up: the server starts anyway and copies once the
# store answers.
DOWN=$(tsv_free_port)
tsv_start g --object-store s3://tsvault/site-c --s3-endpoint "http://127.0.0.1:$DOWN" --s3-path-style \
    --s3-checkpoint-interval 1s --s3-lease-ttl 4s
grep -q 'the object store does not answer at start-up' "$g_LOG" || fail "no start-up warning"
[ "$(metric "$g_URL" tsvault_s3_lease_held)" = 0 ] || fail "lease held with the store down"
proxy pass "$DOWN"
synced "$g_URL"
[ "$(metric "$g_URL" tsvault_s3_lease_held)" = 1 ] || fail "lease not taken once the store answered"
s3ls site-c/checkpoints/ | grep -q '/manifest.json ' || fail "no checkpoint once the store answered"
tsv_stop g
kill "$PROXY_PID"
wait "$PROXY_PID" 2>/dev/null || true
pass "the store down at start-up: the server starts, takes the lease and copies once the store answers"

# A slow store (every request 200 ms late): the API does not wait for it, and
# the copy gets there.
proxy slow:200 0
tsv_start h --object-store s3://tsvault/site-d --s3-endpoint "http://127.0.0.1:$PROXY" --s3-path-style \
    --s3-checkpoint-interval 1s --s3-lease-ttl 4s
U=$h_URL
D=$h_DATA
http POST "$U/api/v2/orgs" -H "$(auth)" -H 'Content-Type: application/json' -d '{"name":"s3-org"}'
expect_status 201 "create org on h"
pitr_restore_rp autogen "$(json_get 'j["id"]')" 1 2 3
t0=$(date +%s%N)
http GET "$U/api/v2/buckets" -H "$(auth)"
expect_status 200 "list buckets while the copy is slow"
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -lt 1000 ] || fail "an API call waited for the slow store: $ms ms"
synced "$U"
tsv_stop h
kill "$PROXY_PID"
wait "$PROXY_PID" 2>/dev/null || true
pass "a slow store (200 ms a request): restores and API calls do not wait for it ($ms ms), the copy catches up"

proxy 500:/objects/ 0
tsv_start f --object-store s3://tsvault/site-b --s3-endpoint "http://127.0.0.1:$PROXY" --s3-path-style \
    --s3-checkpoint-interval 1s --s3-lease-ttl 4s --s3-evict-after 1s
U=$f_URL
D=$f_DATA
http POST "$U/api/v2/orgs" -H "$(auth)" -H 'Content-Type: application/json' -d '{"name":"s3-org"}'
expect_status 201 "create org on f"
pitr_restore_rp autogen "$(json_get 'j["id"]')" 1 2 3
sleep 3
pending=$(metric "$U" tsvault_s3_pending_objects)
[ "${pending:-0}" -gt 0 ] || fail "pending objects while the store fails: '$pending'"
lag=$(metric "$U" tsvault_s3_lag_seconds)
awk -v l="$lag" 'BEGIN { exit !(l > 0) }' || fail "lag while the store fails: $lag"
curl -sS "$U/metrics" | grep -q 'tsvault_s3_objects_copied_total{result="failed"}' || fail "no failure count"
grep -q 'copy to the object store failed: retrying' "$f_LOG" || fail "no retry in the log"
snap fail-local
kill "$PROXY_PID"
wait "$PROXY_PID" 2>/dev/null || true
proxy pass "$PROXY"
synced "$U"
grep -q 'copy to the object store resumed' "$f_LOG" || fail "no resume in the log"
pass "store failing every upload: restores succeed locally, lag $lag s shown, copy resumed when it came back"

# An evicted version needed while the store is down: the operation fails
# with a clear error and changes nothing; with the store back it works.
tick
TF=$T
upload 1 2 # shard 2's first version becomes soft-deleted, then evicted
synced "$U"
evicted "$U"
snap f-before
kill "$PROXY_PID"
wait "$PROXY_PID" 2>/dev/null || true
http POST "$U/api/v2/pitr/restore" -H "$(auth)" -H 'Content-Type: application/json' \
    -d "{\"target_time\":\"$(rfc_ms "$TF")\"}"
expect_status 202 "pitr with the store down"
JOB=$(json_get 'j["jobId"]')
pitr_wait "$JOB" 600
[ "$PITR_ST" = failed ] || fail "PITR needing an evicted object with the store down: $PITR_ST"
grep -q "is not on local disk and the object store could not return it" "$HTTP_BODY" ||
    fail "PITR error: $(cat "$HTTP_BODY")"
snap f-after
same f-before f-after "a failed fetch changed the state"
proxy pass "$PROXY"
pitr "$TF"
grep -q 'msg="object fetched back from the object store"' "$f_LOG" || fail "no fetch on f"
pass "an evicted version needed while the store is down: clear error, nothing changed; with the store back the PITR works"

# Garbage: once soft-deleted versions are purged and no kept checkpoint lists
# their objects, they leave S3 too.
before=$(s3ls site-b/objects/ | wc -l)
tsv_stop f
tsv_launch f "$D" "$TSV_TMP/f2.log" --object-store s3://tsvault/site-b --s3-endpoint "http://127.0.0.1:$PROXY" \
    --s3-path-style --s3-checkpoint-interval 1s --s3-lease-ttl 4s --s3-keep-checkpoints 1 \
    --soft-delete-retention 1s --purge-interval 1s
U=$f_URL
for _ in $(seq 1 600); do
    grep -q 'msg="object store: unreferenced objects deleted"' "$f_LOG" && break
    sleep 0.1
done
grep -q 'msg="object store: unreferenced objects deleted"' "$f_LOG" || fail "no S3 garbage collection"
after=$(s3ls site-b/objects/ | wc -l)
[ "$after" -lt "$before" ] || fail "S3 objects: $before before, $after after the purge"
synced "$U"
verify_s3
grep -Eq "object store: checkpoint [0-9]+, [0-9]+ objects .* 0 repaired from local copies: 0 problems" "$W/vlogs.json" ||
    fail "verify after the S3 GC: $(cat "$W/vlogs.json")"
pass "purged versions' objects deleted from S3 ($before -> $after objects) once no kept checkpoint lists them; verify clean"

# An altered object in S3: the recovery refuses it and leaves no state.
tsv_stop f
victim=$(s3ls site-b/objects/ | awk 'NR == 1 {print $1}')
printf 'not the bytes' >"$W/bad.obj"
S3_ENDPOINT="$EP" S3_ACCESS_KEY="$AK" S3_SECRET_KEY="$SK" "$S3TOOL" put tsvault "$victim" "$W/bad.obj" >/dev/null ||
    fail "overwrite an object"
run_bad "altered object" "does not match its name" --data-dir "$TSV_TMP/d6" \
    --recover-from s3://tsvault/site-b --s3-endpoint "$EP" --s3-path-style
[ ! -e "$TSV_TMP/d6/state" ] || fail "a failed recovery wrote state/"
pass "an altered object in S3 fails the recovery (SHA-256 checked), nothing installed"
