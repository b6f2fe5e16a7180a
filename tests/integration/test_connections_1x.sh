#!/bin/bash
# Connections with Debian's real influxd 1.6.7 on both ends (docs/api.md
# "Connections API"):
#   1. a connection to a source influxd's port 8088; test; pull (snapshot 1)
#   2. more data in one shard, pull again: only that shard is downloaded
#      (bytes measured), the others keep their version
#   3. DROP MEASUREMENT (tombstones), pull (snapshot 3)
#   4. restore snapshot 1 (targetTime) into a fresh influxd 1.6.7 under a new
#      database name: its SELECT results equal the source's at that moment
#   5. failures: unreachable host, bad requests; nothing stored
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/jobs_lib.sh"
. "$(dirname "$0")/influxd1_lib.sh"
command -v influxd >/dev/null || fail "influxd (Debian package influxdb 1.6.7) is not installed"
W="$TSV_TMP/work"
mkdir -p "$W"

query() { # PORT DB QUERY -> JSON
    curl -sS -f -G "http://127.0.0.1:$1/query" --data-urlencode "db=$2" --data-urlencode "q=$3"
}
write() { # PORT DB LINES
    curl -sS -f -XPOST "http://127.0.0.1:$1/write?db=$2&precision=s" --data-binary "$3" ||
        fail "write to influxd :$1"
}
snapshots() { # -> prints the snapshots JSON into $HTTP_BODY
    http GET "$U/api/v2/connections/$1/snapshots" -H "$(auth)"
    expect_status 200 "snapshots of $1"
}
pull() { # CONNECTION -> job id in $JOB (completed)
    expect_job "$U" "$TSV_TOKEN" "{\"type\":\"backup\",\"source\":{\"type\":\"connection\",\"connectionName\":\"$1\"}}" completed
}

start_influxd src
NOW=$(date +%s)
query "$src_HTTP" "" "CREATE DATABASE demo" >/dev/null
# three shard groups (7-day groups): four weeks ago, two weeks ago, now
lines=""
for t in $((NOW - 28 * 86400)) $((NOW - 14 * 86400)) $((NOW - 60)); do
    for h in a b c; do
        lines="$lines
cpu,host=$h usage=$((t % 97)).5,n=${#h}i $t
mem,host=$h used=$((t % 89)) $t"
    done
done
write "$src_HTTP" demo "$lines"

# a short grace period and purge interval: the collection of a deleted
# connection's snapshots is seen at the end
tsv_start t --soft-delete-retention 1s --purge-interval 1s
U=$t_URL

# ---- 1. connection, test, first pull ------------------------------------------------------
http POST "$U/api/v2/connections" -H "$(auth)" -H 'Content-Type: application/json' \
    -d "{\"name\":\"src\",\"type\":\"influxdb1\",\"host\":\"127.0.0.1:$src_RPC\",\"description\":\"the source\"}"
expect_status 201 "create connection"
[ "$(json_get 'j["name"], j["type"], j["host"], j["secrets"]')" = "('src', 'influxdb1', '127.0.0.1:$src_RPC', {})" ] ||
    fail "connection reply: $(cat "$HTTP_BODY")"
json_get 'j["submittedOnTimestamp"], j["submittedByUser"]["username"]' >/dev/null
http POST "$U/api/v2/connections/src/test" -H "$(auth)"
expect_status 200 "test connection"
pass "influxdb1 connection created and tested: $(json_get 'j["message"]')"

pull src
snapshots src
[ "$(json_get 'len(j["values"])')" = 1 ] || fail "one snapshot: $(cat "$HTTP_BODY")"
[ "$(json_get 'j["values"][0]["shards"], j["values"][0]["shardsChanged"]')" = "(3, 3)" ] ||
    fail "snapshot 1 must hold 3 shards, all new: $(cat "$HTTP_BODY")"
B1=$(json_get 'j["values"][0]["bytesPulled"]')
T1=$(json_get 'j["values"][0]["time"]')
query "$src_HTTP" demo "SELECT * FROM cpu; SELECT * FROM mem" >"$W/at-snap1.json"
pass "first pull: 3 shards, $B1 bytes"

# ---- 2. a write into one shard, incremental pull --------------------------------------------
sleep 1.1 # the new TSM file gets a later mtime second
write "$src_HTTP" demo "cpu,host=d usage=1.5,n=1i $((NOW - 30))"
pull src
snapshots src
[ "$(json_get 'j["values"][1]["shards"], j["values"][1]["shardsChanged"]')" = "(3, 1)" ] ||
    fail "snapshot 2 must download only the written shard: $(cat "$HTTP_BODY")"
B2=$(json_get 'j["values"][1]["bytesPulled"]')
N2=$(json_get 'j["values"][1]["bytesNew"]')
pass "incremental pull after a small write: 1 of 3 shards changed, $B2 bytes pulled ($N2 new) vs $B1 for the first"

# ---- 3. tombstones ------------------------------------------------------------------------------
sleep 1.1
query "$src_HTTP" demo "DROP MEASUREMENT mem" >/dev/null
pull src
snapshots src
[ "$(json_get 'len(j["values"]), j["values"][2]["shardsChanged"]')" = "(3, 3)" ] ||
    fail "snapshot 3 after DROP MEASUREMENT: $(cat "$HTTP_BODY")"
pass "DROP MEASUREMENT (tombstones in every shard): third snapshot, 3 shards changed"

http GET "$U/v1/instances/src/pitr" -H "$(auth)"
expect_status 200 "PITR range of the connection"
[ "$(json_get 'j["start_time"][:19]')" = "${T1:0:19}" ] || fail "range start: $(cat "$HTTP_BODY") vs $T1"
pass "PITR range of the connection = its first to last snapshot"

# ---- 4. push snapshot 1 into a fresh influxd -----------------------------------------------------
start_influxd dst
http POST "$U/api/v2/connections" -H "$(auth)" -H 'Content-Type: application/json' \
    -d "{\"name\":\"dst\",\"type\":\"influxdb1\",\"host\":\"127.0.0.1:$dst_RPC\"}"
expect_status 201 "create target connection"
expect_job "$U" "$TSV_TOKEN" "{\"type\":\"restore\",\"source\":{\"type\":\"connection\",\"connectionName\":\"src\",\"targetTime\":\"$T1\"},\"target\":{\"type\":\"connection\",\"connectionName\":\"dst\",\"rename\":{\"demo\":\"demo_then\"}}}" completed
query "$dst_HTTP" demo_then "SELECT * FROM cpu; SELECT * FROM mem" >"$W/restored.json"
diff <(python3 -m json.tool "$W/at-snap1.json") <(python3 -m json.tool "$W/restored.json") >&2 ||
    fail "SELECT results of the restored snapshot 1 differ from the source's at that moment"
grep -q '"mem"' "$W/restored.json" || fail "snapshot 1 must still hold mem"
pass "snapshot 1 pushed into a fresh influxd 1.6.7 as demo_then: SELECT results equal the source's then"

# ---- 5. the schedule ----------------------------------------------------------------------------
jobs_of() { # CONNECTION -> number of backup jobs for it
    curl -sS -H "$(auth)" "$U/api/v2/jobs?type=backup&limit=1000" |
        python3 -c 'import json,sys; print(sum(1 for j in json.load(sys.stdin)["values"] if j["source"].get("connectionName") == sys.argv[1]))' "$1"
}
wait_jobs() { # CONNECTION N
    local i=0
    until [ "$(jobs_of "$1")" -ge "$2" ]; do
        [ $i -lt 300 ] || fail "the scheduler did not create pull job $2 for $1"
        sleep 0.1
        i=$((i + 1))
    done
}
http POST "$U/api/v2/connections" -H "$(auth)" -H 'Content-Type: application/json' \
    -d "{\"name\":\"sched\",\"type\":\"influxdb1\",\"host\":\"127.0.0.1:$src_RPC\",\"schedule\":{\"every\":\"1h\"}}"
expect_status 201 "create scheduled connection"
wait_jobs sched 1
sleep 6 # another tick: an hourly schedule must not run again
[ "$(jobs_of sched)" = 1 ] || fail "an hourly schedule ran twice"
http GET "$U/api/v2/connections/sched" -H "$(auth)"
json_get 'j["lastScheduledRun"]' >/dev/null || fail "lastScheduledRun missing"
pass "a new scheduled connection is pulled at once, then not again before its time"
# downtime: the last run an hour and a half ago (set in the catalogue while stopped)
tsv_stop t
python3 - "$t_DATA/connections/catalog.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE connections SET last_run = last_run - 5400 * 1000000000 WHERE name = 'sched'")
db.commit()
PY
tsv_launch t "$t_DATA" "$TSV_TMP/t-restarted.log" --soft-delete-retention 1s --purge-interval 1s
U=$t_URL
wait_jobs sched 2
sleep 6
[ "$(jobs_of sched)" = 2 ] || fail "a missed run must run once at start-up, not once per missed hour"
pass "a run missed while tsvault was down runs once at start-up"

# ---- 6. failures ------------------------------------------------------------------------------------
DEAD=$(free_port)
http POST "$U/api/v2/connections" -H "$(auth)" -H 'Content-Type: application/json' \
    -d "{\"name\":\"dead\",\"type\":\"influxdb1\",\"host\":\"127.0.0.1:$DEAD\",\"timeoutSeconds\":2}"
expect_status 201 "create dead connection"
http POST "$U/api/v2/connections/dead/test" -H "$(auth)"
expect_error 503 unavailable "127.0.0.1:$DEAD"
expect_job "$U" "$TSV_TOKEN" '{"type":"backup","source":{"type":"connection","connectionName":"dead"}}' failed
snapshots dead
[ "$(json_get 'len(j["values"])')" = 0 ] || fail "a failed pull stores no snapshot"
pass "unreachable host: test 503 naming it, pull job failed, no snapshot"

http POST "$U/api/v2/connections" -H "$(auth)" -H 'Content-Type: application/json' -d '{"name":"bad name","type":"influxdb1","host":"h:1"}'
expect_error 400 invalid "name must be 1-64"
http POST "$U/api/v2/connections" -H "$(auth)" -H 'Content-Type: application/json' -d '{"name":"x","type":"influxdb1","host":"nohost"}'
expect_error 400 invalid "host:port"
http POST "$U/api/v2/connections" -H "$(auth)" -H 'Content-Type: application/json' -d '{"name":"x","type":"mysql","host":"h:1"}'
expect_error 400 invalid "influxdb2 or influxdb1"
http POST "$U/api/v2/connections" -H "$(auth)" -H 'Content-Type: application/json' -d '{"name":"src","type":"influxdb1","host":"h:1"}'
expect_error 422 conflict "already exists"
http POST "$U/api/v2/connections" -H "$(auth)" -H 'Content-Type: application/json' -d '{"name":"y","type":"influxdb1","host":"h:1","schedule":{"cron":"61 * * * *"}}'
expect_error 400 invalid "minute"
http GET "$U/api/v2/connections/nope" -H "$(auth)"
expect_error 404 "not found" "nope"
http POST "$U/api/v2/jobs" -H "$(auth)" -H 'Content-Type: application/json' -d '{"type":"backup","source":{"type":"connection","connectionName":"nope"}}'
expect_error 400 invalid "not found"
pass "bad requests: clear 400/404/422 errors"

# PATCH keeps what it does not name; DELETE soft-deletes the snapshots
http PATCH "$U/api/v2/connections/src" -H "$(auth)" -H 'Content-Type: application/json' -d '{"description":"changed","keep":{"last":2}}'
expect_status 200 "patch"
[ "$(json_get 'j["description"], j["host"], j["keep"]')" = "('changed', '127.0.0.1:$src_RPC', {'last': 2})" ] ||
    fail "patch reply: $(cat "$HTTP_BODY")"
pull src
snapshots src
[ "$(json_get 'len(j["values"])')" = 2 ] || fail "keep last 2: $(cat "$HTTP_BODY")"
pass "PATCH merges; keep {last: 2} forgets older snapshots after the next pull"
objects() { find "$t_DATA/connections/objects" -type f | wc -l; }
catalogued() { # CONNECTION -> snapshots the catalogue still holds (deleted or not)
    python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM snapshots WHERE connection=?", (sys.argv[2],)).fetchone()[0])' \
        "$t_DATA/connections/catalog.db" "$1"
}
before=$(objects)
http DELETE "$U/api/v2/connections/src" -H "$(auth)"
expect_status 200 "delete"
http GET "$U/api/v2/connections/src" -H "$(auth)"
expect_error 404 "not found"
i=0
until [ "$(catalogued src)" = 0 ] && [ "$(objects)" -lt "$before" ]; do
    [ $i -lt 200 ] || fail "src's snapshots not purged / objects not collected: $(catalogued src) rows, $(objects) of $before objects"
    sleep 0.1
    i=$((i + 1))
done
http GET "$U/api/v2/connections/sched/snapshots" -H "$(auth)"
expect_status 200 "sched snapshots"
pass "DELETE removes the connection; after the grace period its snapshots are purged and only their own objects collected ($before -> $(objects))"
# what stays is whole: sched's latest snapshot still pushes
start_influxd dst2
http POST "$U/api/v2/connections" -H "$(auth)" -H 'Content-Type: application/json' \
    -d "{\"name\":\"dst2\",\"type\":\"influxdb1\",\"host\":\"127.0.0.1:$dst2_RPC\"}"
expect_status 201 "create dst2"
expect_job "$U" "$TSV_TOKEN" '{"type":"restore","source":{"type":"connection","connectionName":"sched"},"target":{"type":"connection","connectionName":"dst2"}}' completed
query "$src_HTTP" demo "SELECT * FROM cpu" >"$W/src-now.json"
query "$dst2_HTTP" demo "SELECT * FROM cpu" >"$W/dst2.json"
diff <(python3 -m json.tool "$W/src-now.json") <(python3 -m json.tool "$W/dst2.json") >&2 ||
    fail "sched's snapshot pushed after the GC differs from the source"
pass "after the GC the remaining snapshot pushes whole: SELECT equal to the source's"
# a retention policy renamed as -rp/-newrp do
expect_job "$U" "$TSV_TOKEN" '{"type":"restore","source":{"type":"connection","connectionName":"sched"},"target":{"type":"connection","connectionName":"dst2","rename":{"demo/autogen":"demo_rp/kept"}}}' completed
query "$dst2_HTTP" demo_rp 'SELECT * FROM "kept"."cpu"' >"$W/dst2-rp.json"
diff <(python3 -m json.tool "$W/src-now.json") <(python3 -m json.tool "$W/dst2-rp.json") >&2 ||
    fail "demo/autogen pushed as demo_rp/kept differs from the source"
pass "rename {\"demo/autogen\":\"demo_rp/kept\"} (influxd restore -rp/-newrp): the same SELECT results under the new names"
