#!/bin/bash
# Export to line protocol and bucket statistics, against the 1.6 fixture and
# InfluxDB 1.6.7's own reader (tsmcheck):
#  - the export equals influx_inspect's expected/export-*.lp byte for byte,
#    through every path: HTTP (plain, gzip, zstd, by ID and by names), the
#    CLI against the running server (--host) and on the stopped directory
#    (--data-dir);
#  - start/stop/measurement filters equal `tsmcheck export` with the same
#    filters; a tombstoned range is left out as tsm1's reader leaves it out;
#  - duplicate timestamps across the files of a shard resolve as InfluxDB's
#    readers do (later file wins): equal to `tsmcheck export -dedupe`;
#  - statistics agree with `tsmcheck stats`;
#  - bad input: 404 / 400 / 401 with the JSON error shape;
#  - a client that disconnects mid-export stops the work on the server.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixture.sh"

fixture_server
fixture_restore "$U" "$W"
BA=${FIX_BUCKET[autogen]}
BD=${FIX_BUCKET[daily]}
EXP="$FIXTURE/expected"

# --- byte for byte ----------------------------------------------------------
http GET "$U/api/v2/export?bucketID=$BA&db=fixture" -H "$(auth)"
expect_status 200 "export autogen"
expect_header "Content-Type" "text/plain; charset=utf-8"
cmp "$HTTP_BODY" "$EXP/export-autogen.lp" || fail "HTTP export of autogen differs"
http GET "$U/api/v2/export?org=fixture-org&bucket=fixture_daily&db=fixture" -H "$(auth)"
expect_status 200 "export daily by names"
cmp "$HTTP_BODY" "$EXP/export-daily.lp" || fail "HTTP export of daily (by names) differs"
pass "GET /api/v2/export equals influx_inspect's export byte for byte (by ID, by names)"

http GET "$U/api/v2/export?bucketID=$BA&db=fixture" -H "$(auth)" -H 'Accept-Encoding: gzip'
expect_status 200 "export gzip"
expect_header "Content-Encoding" "gzip"
gunzip -c "$HTTP_BODY" | cmp - "$EXP/export-autogen.lp" || fail "gzip export differs"
http GET "$U/api/v2/export?bucketID=$BA&db=fixture" -H "$(auth)" -H 'Accept-Encoding: zstd'
expect_status 200 "export zstd"
expect_header "Content-Encoding" "zstd"
zstd -dc "$HTTP_BODY" | cmp - "$EXP/export-autogen.lp" || fail "zstd export differs"
pass "gzip and zstd encodings decode to the same bytes"

"$TSVAULT_BIN" export --host "$U" --token "$TSV_TOKEN" --bucket-id "$BA" --db fixture \
    --out "$W/remote.lp" || fail "tsvault export --host"
cmp "$W/remote.lp" "$EXP/export-autogen.lp" || fail "tsvault export --host differs"
"$TSVAULT_BIN" export --host "$U" --token "$TSV_TOKEN" --org fixture-org --bucket fixture_daily \
    --db fixture | cmp - "$EXP/export-daily.lp" || fail "tsvault export --host (names) differs"
pass "tsvault export --host equals the expected files"

# Default database name: the bucket name up to its first '/'.
http GET "$U/api/v2/export?bucketID=$BD" -H "$(auth)"
grep -qx 'CREATE DATABASE fixture_daily WITH NAME daily' "$HTTP_BODY" ||
    fail "default database name: $(sed -n 3p "$HTTP_BODY")"
pass "without db=, the header names the bucket"

# --- filters against InfluxDB's reader ----------------------------------------
checkdir="$W/check/data/fixture"
mkdir -p "$checkdir"
cp -r "$s_DATA/state/engine/data/$BA/autogen" "$checkdir/autogen"
find "$checkdir" -name .tsv-gen -delete
filter_case() { # NAME QUERY TSMCHECK-ARGS...
    local name=$1 q=$2
    shift 2
    http GET "$U/api/v2/export?bucketID=$BA&db=fixture&$q" -H "$(auth)"
    expect_status 200 "export $name"
    "$TSV_TOOLS/tsmcheck" export -datadir "$W/check/data" -database fixture -retention autogen \
        "$@" >"$W/want-$name.lp" || fail "tsmcheck export $name"
    cmp "$HTTP_BODY" "$W/want-$name.lp" ||
        { diff "$HTTP_BODY" "$W/want-$name.lp" | head; fail "filter $name differs from tsmcheck"; }
    [ "$(wc -l <"$HTTP_BODY")" -gt 7 ] || fail "filter $name selected nothing"
}
filter_case start "start=2024-01-08T00:00:00Z" -start 2024-01-08T00:00:00Z
filter_case stop "stop=2024-01-07T23:59:59Z" -end 2024-01-07T23:59:59Z
filter_case range "start=2024-01-03T10:00:00Z&stop=2024-01-16T00:00:00Z" \
    -start 2024-01-03T10:00:00Z -end 2024-01-16T00:00:00Z
filter_case meas "measurement=status&measurement=weird%20meas%2Cure" \
    -measurement status -measurement 'weird meas,ure'
filter_case both "measurement=extremes&start=2024-01-08T00:00:00Z" \
    -measurement extremes -start 2024-01-08T00:00:00Z
pass "start/stop/measurement filters equal tsmcheck's (InfluxDB 1.6.7 reader) output"

# --- statistics ----------------------------------------------------------------
http GET "$U/api/v2/buckets/$BA/stats" -H "$(auth)"
expect_status 200 "stats"
cp "$HTTP_BODY" "$W/stats.json"
"$TSV_TOOLS/tsmcheck" stats -datadir "$W/check/data" -database fixture -retention autogen \
    >"$W/want-stats.json" || fail "tsmcheck stats"
python3 - "$W/stats.json" "$W/want-stats.json" <<'PY' || fail "stats differ from tsmcheck"
import json, sys, datetime
got, want = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
def ns(s):
    d, _, frac = s.rstrip("Z").partition(".")
    t = datetime.datetime.strptime(d, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return int(t.timestamp()) * 10**9 + int((frac + "000000000")[:9])
def check(g, w, where):
    pairs = [("fileCount", "files"), ("tsmBytes", "tsmBytes"), ("keyCount", "keys"),
             ("seriesCount", "series"), ("measurementCount", "measurements"),
             ("blockCount", "blocks"), ("valueCount", "values")]
    for a, b in pairs:
        assert g[a] == w[b], (where, a, g[a], w[b])
    for t in ("float", "integer", "boolean", "string", "unsigned"):
        assert g["fieldCountByType"][t] == w["fieldsByType"].get(t, 0), (where, t)
    assert ns(g["minTime"]) == w["minTime"] and ns(g["maxTime"]) == w["maxTime"], where
    assert abs(g["bytesPerValue"] - g["tsmBytes"] / g["valueCount"]) < 0.001, where
check(got, want["total"], "bucket")
assert len(got["shards"]) == len(want["shards"]) == 3
for s in got["shards"]:
    assert s["state"] == "ok" and len(s["version"]) == 16, s
    check(s, want["shards"][str(s["id"])], "shard %d" % s["id"])
PY
http GET "$U/api/v2/buckets/$BA/stats" -H "$(auth)"
cmp -s "$HTTP_BODY" "$W/stats.json" || fail "second stats call differs (cache)"
pass "stats per bucket and shard agree with tsmcheck; a second call returns the same"

"$TSVAULT_BIN" stats --host "$U" --token "$TSV_TOKEN" --org fixture-org --bucket fixture_autogen \
    | cmp - "$W/stats.json" || fail "tsvault stats --host differs"
pass "tsvault stats --host returns the same document"

# --- tombstones and duplicates (shard 1 replaced by generated files) -------------
S1=${FIX_SHARD[1]}
G="$W/gen/$BA/autogen/$S1"
mkdir -p "$G"
# Same keys and timestamps in both files (no jitter); the second starts half
# way through the first, with other values: 200 duplicate points per key.
"$TSV_TOOLS/tsmcheck" gen -out "$G/000000001-000000001.tsm" -edge=false -series 3 -points 400 \
    -block 100 -jitter 0 -seed 1 -start 2024-01-01T00:00:00Z >/dev/null
"$TSV_TOOLS/tsmcheck" gen -out "$G/000000002-000000001.tsm" -edge=false -series 3 -points 400 \
    -block 100 -jitter 0 -seed 2 -start 2024-01-01T00:33:20Z >/dev/null
# A deletion in each file, one of them over part of the duplicates.
"$TSV_TOOLS/tsmcheck" tombstone -file "$G/000000001-000000001.tsm" -key 'sensor,id=000001#!~#temp' \
    -min 1704067800000000000 -max 1704068400000000000
"$TSV_TOOLS/tsmcheck" tombstone -file "$G/000000002-000000001.tsm" -key 'sensor,id=000000#!~#ok' \
    -min 1704070000000000000 -max 1704071000000000000
(cd "$W/gen" && tar --format=ustar -cf - "$BA") >"$W/gen.tar"
http POST "$U/api/v2/restore/shards/$S1" -H "$(auth)" -H 'Content-Type: application/octet-stream' \
    --data-binary "@$W/gen.tar"
expect_status 204 "restore generated shard"
rm -rf "$checkdir/autogen" && cp -r "$s_DATA/state/engine/data/$BA/autogen" "$checkdir/autogen"
find "$checkdir" -name .tsv-gen -delete
http GET "$U/api/v2/export?bucketID=$BA&db=fixture" -H "$(auth)"
"$TSV_TOOLS/tsmcheck" export -datadir "$W/check/data" -database fixture -retention autogen \
    -dedupe >"$W/want-dedupe.lp"
"$TSV_TOOLS/tsmcheck" export -datadir "$W/check/data" -database fixture -retention autogen \
    >"$W/want-inspect.lp"
cmp "$HTTP_BODY" "$W/want-dedupe.lp" ||
    { diff "$HTTP_BODY" "$W/want-dedupe.lp" | head; fail "dedupe export differs from tsmcheck -dedupe"; }
got=$(wc -l <"$HTTP_BODY") all=$(wc -l <"$W/want-inspect.lp")
[ $((all - got)) -gt 1000 ] || fail "expected duplicates to be left out ($got vs $all lines)"
grep -q '^sensor,id=000001 temp=.* 1704067800000000000$' "$W/want-inspect.lp" &&
    fail "tsmcheck did not apply the tombstone"
grep -q ' 1704067800000000000$' "$HTTP_BODY" || fail "undeleted keys at the tombstoned time are missing"
grep -q '^sensor,id=000001 temp=.* 1704067800000000000$' "$HTTP_BODY" && fail "tombstoned value exported"
pass "duplicates resolve as InfluxDB reads them (later file wins; $((all - got)) left out); tombstones applied"

# --- bad input -----------------------------------------------------------------
http GET "$U/api/v2/export?bucketID=0000000000000bad" -H "$(auth)"
expect_error 404 "not found" "bucket not found"
http GET "$U/api/v2/export?org=fixture-org&bucket=nope" -H "$(auth)"
expect_error 404 "not found" 'bucket "nope" not found'
http GET "$U/api/v2/export?bucketID=$BA&start=2024-02-01T00:00:00Z&stop=2024-01-01T00:00:00Z" -H "$(auth)"
expect_error 400 invalid "start must not be after stop"
http GET "$U/api/v2/export?bucketID=$BA&start=yesterday" -H "$(auth)"
expect_error 400 invalid 'invalid start "yesterday"'
http GET "$U/api/v2/export?bucketID=$BA&stop=2024-13-01T00:00:00Z" -H "$(auth)"
expect_error 400 invalid 'invalid stop'
http GET "$U/api/v2/export?bucketID=$BA&rp=nope" -H "$(auth)"
expect_error 400 invalid 'retention policy "nope" not found'
http GET "$U/api/v2/export?bucketID=xyz" -H "$(auth)"
expect_error 400 invalid "invalid bucketID"
http GET "$U/api/v2/export" -H "$(auth)"
expect_error 400 invalid "bucketID, or bucket and org"
http GET "$U/api/v2/export?bucketID=$BA"
expect_error 401 unauthorized
http GET "$U/api/v2/buckets/0000000000000bad/stats" -H "$(auth)"
expect_error 404 "not found"
"$TSVAULT_BIN" export --host "$U" --token "$TSV_TOKEN" --bucket-id 0000000000000bad \
    >/dev/null 2>"$W/cli-err" && fail "CLI export of an unknown bucket succeeded"
grep -q "404.*bucket not found" "$W/cli-err" || fail "CLI error: $(cat "$W/cli-err")"
pass "bad input: 404 unknown bucket, 400 bad times/rp/ID, 401 without token"

# --- a client that goes away -----------------------------------------------------
S2=${FIX_SHARD[2]}
G2="$W/big/$BA/autogen/$S2"
mkdir -p "$G2"
"$TSV_TOOLS/tsmcheck" gen -out "$G2/000000001-000000001.tsm" -edge=false -series 200 \
    -points 3000 -start 2024-01-08T00:00:00Z -interval 1s >/dev/null
(cd "$W/big" && tar --format=ustar -cf - "$BA") >"$W/big.tar"
http POST "$U/api/v2/restore/shards/$S2" -H "$(auth)" -H 'Content-Type: application/octet-stream' \
    --data-binary "@$W/big.tar"
expect_status 204 "restore big shard"
before=$(grep -c 'msg=export ' "$s_LOG" || true)
curl -sS -N --limit-rate 200k -H "$(auth)" "$U/api/v2/export?bucketID=$BA" -o /dev/null &
cpid=$!
sleep 1.5
kill "$cpid" 2>/dev/null || fail "the export finished before the client went away"
wait "$cpid" 2>/dev/null || true
for _ in $(seq 1 100); do
    [ "$(grep -c 'msg=export ' "$s_LOG" || true)" -gt "$before" ] && break
    sleep 0.1
done
grep 'msg=export ' "$s_LOG" | tail -n 1 | grep -q 'ok=0' ||
    fail "export did not stop after the client left: $(grep 'msg=export ' "$s_LOG" | tail -n 1)"
pass "a client that disconnects mid-export stops the work (logged ok=0 within 10 s)"

# --- offline: the stopped server's directory ---------------------------------------
fixture_restore_shard() { # OLD: re-uploads the fixture's shard OLD
    http POST "$U/api/v2/restore/shards/${FIX_SHARD[$1]}" -H "$(auth)" \
        -H 'Content-Type: application/octet-stream' -H 'Content-Encoding: gzip' \
        --data-binary "@$W/s$1.tar.gz"
    expect_status 204 "re-restore shard $1"
}
fixture_restore_shard 1
fixture_restore_shard 2
"$TSVAULT_BIN" export --data-dir "$s_DATA" --bucket-id "$BA" >/dev/null 2>"$W/busy" &&
    fail "offline export ran while the server holds the directory"
grep -q "in use" "$W/busy" || fail "offline export error: $(cat "$W/busy")"
tsv_stop s
"$TSVAULT_BIN" export --data-dir "$s_DATA" --bucket-id "$BA" --db fixture --out "$W/off.lp" ||
    fail "offline export"
cmp "$W/off.lp" "$EXP/export-autogen.lp" || fail "offline export differs"
"$TSVAULT_BIN" export --data-dir "$s_DATA" --org fixture-org --bucket fixture_daily --db fixture \
    --compress gzip | gunzip -c | cmp - "$EXP/export-daily.lp" || fail "offline gzip export differs"
pass "tsvault export --data-dir (stopped server) equals the expected files; refused while running"
echo "1..all passed"
