#!/bin/bash
# The bench set (tests/bench/README.md "Data": six one-week shards, 416 MB of
# TSM written by InfluxDB 1.6.7's own tsm1 writer, same generator and
# parameters) through the S3 tier against a real Swift (swift_lib.sh):
#  - restored as the influx CLI sends it (bucketMetadata, then each shard a
#    gzip tar POSTed with curl) into a server with --object-store;
#  - once S3 has caught up: kill -9, the data directory deleted, a recovery
#    with --recover-from into an empty directory;
#  - the recovered server's backup API (KV bolt tree and every shard file's
#    SHA-256 as /api/v2/backup/shards returns them) and what `influx backup`
#    writes from it (influxcli.py: manifest, KV, shard archives) equal the
#    lost one's,
#    every recovered TSM file passes tsmcheck verify (InfluxDB's reader,
#    every block's CRC), and tsmcheck stats and an export of a window
#    across two shards (InfluxDB's engine) equal the lost server's.
# Disk: about 2 GB in $TSV_TMP (the set, its archives, two data directories,
# Swift's devices).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/swift_lib.sh"
. "$(dirname "$0")/s3_tier_lib.sh"
S3TOOL=$(tsv_tool tsv_s3tool)
TSMCHECK="$TSV_TOOLS/tsmcheck"
BENCH_PY="$TSV_SRC/tests/bench/bench.py"
BUCKET_HEX=0a1b2c3d4e5f6071
TSM=000000001-000000001.tsm
W="$TSV_TMP/work"
mkdir -p "$W/set"

# ---- the set: as tests/bench/lib.sh gen_shard makes it ----------------------
gen() {
    local id=$1 d="$W/set/tree/$BUCKET_HEX/autogen/$1" start
    start=$(date -u -d "2024-01-01 +$((7 * (id - 1))) days" +%Y-%m-%dT%H:%M:%SZ)
    mkdir -p "$d"
    "$TSMCHECK" gen -out "$d/$TSM" -edge=false -series 400 -points 10000 -interval 60s \
        -jitter 20000 -seed "$id" -start "$start" >/dev/null
    chmod 0644 "$d/$TSM"
    (cd "$W/set/tree" && tar --format=ustar --owner=0 --group=0 -cf - "$BUCKET_HEX/autogen/$id/$TSM") |
        gzip -6 -n >"$W/set/s$id.tar.gz"
}
for pair in "1 2" "3 4" "5 6"; do
    pids=""
    for id in $pair; do
        gen "$id" &
        pids="$pids $!"
    done
    for p in $pids; do wait "$p" || fail "generating shard $id"; done
done
tsm_bytes=$(find "$W/set/tree" -name '*.tsm' -printf '%s\n' | awk '{ s += $1 } END { print s }')
[ "$tsm_bytes" -gt 400000000 ] || fail "the bench set is $tsm_bytes bytes"

tier_swift
URL=s3://tsvault/bench
TIER=(--s3-endpoint "$EP" --s3-path-style --s3-checkpoint-interval 1s --s3-lease-ttl 3s)

# engine_view NAME: tsmcheck verify of every live TSM file, stats and a
# window's export through InfluxDB's engine, of the server's data directory.
engine_view() {
    local out="$W/$1.engine" tree="$W/engine-$1"
    rm -rf "$tree" && mkdir -p "$tree/bench"
    cp -al "$D/state/engine/data/$BID/autogen" "$tree/bench/autogen" # links: no copy
    find "$tree" -name .tsv-gen -delete
    find "$tree" -name '*.tsm' | sort | while read -r f; do
        "$TSMCHECK" verify "$f" >/dev/null || fail "tsmcheck verify $f ($1)"
    done
    "$TSMCHECK" stats -datadir "$tree" -database bench -retention autogen >"$out" ||
        fail "tsmcheck stats ($1)"
    [ "$(wc -l <"$out")" -gt 1 ] || fail "tsmcheck stats printed nothing ($1)"
    "$TSMCHECK" export -datadir "$tree" -database bench -retention autogen \
        -start 2024-01-07T22:00:00Z -end 2024-01-08T02:00:00Z >"$W/window.lp" ||
        fail "tsmcheck export ($1)"
    # 400 series x 5 fields, a point a minute, over 4 hours across shards 1 and 2.
    [ "$(grep -c . "$W/window.lp")" -gt 90000 ] || fail "export window: $(wc -l <"$W/window.lp") lines ($1)"
    sha256sum <"$W/window.lp" >>"$out"
    rm -rf "$tree" "$W/window.lp"
}

# ---- restore it as the influx CLI does, let it reach S3 ------------------------
tsv_start s --object-store "$URL" "${TIER[@]}"
. "$(dirname "$0")/pitr_lib.sh" # snap, same (U, D: this server)
http POST "$U/api/v2/orgs" -H "$(auth)" -H 'Content-Type: application/json' -d '{"name":"bench-org"}'
expect_status 201 "create org"
ORG=$(json_get 'j["id"]')
python3 "$BENCH_PY" bucket-manifest "$ORG" bench "$BUCKET_HEX" 0 1 2 3 4 5 6 >"$W/manifest.json"
http POST "$U/api/v2/restore/bucketMetadata" -H "$(auth)" -H 'Content-Type: application/json' \
    --data-binary "@$W/manifest.json"
expect_status 201 "bucketMetadata"
cp "$HTTP_BODY" "$W/bm.json"
BID=$(json_get 'j["id"]')
declare -A NEW
while read -r o n; do NEW[$o]=$n; done < <(python3 "$BENCH_PY" mappings "$W/bm.json")
for id in 1 2 3 4 5 6; do
    st=$(curl -sS -o /dev/null -w '%{http_code}' -X POST -T "$W/set/s$id.tar.gz" -H "$(auth)" \
        -H 'Content-Type: application/octet-stream' -H 'Content-Encoding: gzip' \
        "$U/api/v2/restore/shards/${NEW[$id]}")
    [ "$st" = 204 ] || fail "restore shard $id: $st"
done
restored=$(find "$D/state/engine/data/$BID" -name '*.tsm' -printf '%s\n' | awk '{ s += $1 } END { print s }')
[ "$restored" = "$tsm_bytes" ] || fail "restored $restored of $tsm_bytes bytes"
synced "$U" 3000 # 416 MB under ASan
snap lost
engine_view lost
for f in $(find "$W/set/tree" -name '*.tsm'); do
    h=$(sha256sum "$f" | cut -d' ' -f1)
    S3_ENDPOINT="$EP" S3_ACCESS_KEY="$AK" S3_SECRET_KEY="$SK" "$S3TOOL" ls tsvault "bench/objects/${h:0:2}/" |
        grep -q "$h" || fail "S3 lacks the object of $f"
done
pass "the bench set ($tsm_bytes bytes of TSM) restored with curl as the influx CLI sends it reached S3, each file as the object named by its SHA-256"

# ---- lost, recovered ------------------------------------------------------------
cli_snap lost-cli
kill -9 "$s_PID"
wait "$s_PID" 2>/dev/null || true
rm -rf "$D"
sleep 3.5 # the lease TTL
R="$TSV_TMP/recovered"
tsv_launch r "$R" "$TSV_TMP/r.log" --recover-from "$URL" "${TIER[@]}"
U=$r_URL D=$R
grep -q 'msg="objects recovered"' "$r_LOG" || fail "no recovery in the log"
snap recovered
same lost recovered "the recovered server's backup API differs from the lost one's"
cli_snap recovered-cli
same lost-cli recovered-cli "influx backup of the recovered server differs from the lost one's"
engine_view recovered
cmp -s "$W/lost.engine" "$W/recovered.engine" ||
    fail "tsmcheck stats/export differ: $(diff "$W/lost.engine" "$W/recovered.engine" | head -5)"
pass "recovered from S3 into an empty directory: backup API (bolt tree, every shard file's SHA-256), influx backup's output, tsmcheck verify, stats and export equal the lost server's"
tsv_stop r
