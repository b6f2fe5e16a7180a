#!/bin/bash
# Export and verify throughput on the bench set (tests/bench/README.md):
#
#   tests/bench/export_verify.sh
#
# The six ~69 MB shards (416 MB of TSM written by InfluxDB 1.6.7's tsm1
# writer) are restored into a fresh tsvault, then, warm page cache, median of
# $TSV_BENCH_RUNS (default 3 here):
#  - GET /api/v2/export of the bucket to /dev/null (server CPU, wall time,
#    MB/s of TSM read, lines/s), and `tsvault export --data-dir` of the stopped
#    server (peak RSS), side by side with `tsmcheck export` of the same files
#    (InfluxDB 1.6.7's reader and influx_inspect's formatting, Go);
#  - POST /api/v2/verify?bucketID= (CRC + full decode of every block) side by
#    side with `sha256sum` of the same files.
# Prints one Markdown table. Not part of ctest.
set -euo pipefail
WORK=${WORK:-${TSV_BENCH_CACHE:-$HOME/.cache/tsvault-bench}/work-export}
# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"
RUNS=${TSV_BENCH_RUNS:-3}
trap bench_cleanup EXIT INT TERM

check_tools
build_tsvault
ensure_data
mkdir -p "$WORK"
rm -rf "$WORK/tsvault"
start_tsvault "$WORK/tsvault" "$WORK/tsvault.log"
# shellcheck disable=SC2086
new_bucket bench-export $IDS
: >"$WORK/codes"
# shellcheck disable=SC2086
post_shards identity "$DATA/tar" tar "$WORK/codes" $IDS
[ "$(sort -u "$WORK/codes")" = 204 ] || die "restore failed: $(sort -u "$WORK/codes")"
BYTES=$(restored_bytes "$BID")
FILES=$(find "$TDATA/state/engine/data/$BID" -name '*.tsm' | sort)
warm $FILES
log "restored $BYTES bytes of TSM into bucket $BID"

row() { # LABEL SECONDS... (median) [EXTRA]
    printf '| %s | %.2f s | %.1f MB/s | %s |\n' "$1" "$2" "$(awk -v b="$BYTES" -v s="$2" 'BEGIN { print b / s / 1e6 }')" "${3:-}"
}

# --- export over HTTP ----------------------------------------------------------
ts="" cpus="" lines=""
for _ in $(seq 1 "$RUNS"); do
    c0=$(cpu_ticks)
    t0=$(now)
    curl -sS -f -H "Authorization: Token $TOKEN" "$TURL/api/v2/export?bucketID=$BID" -o /dev/null
    t1=$(now)
    c1=$(cpu_ticks)
    ts="$ts $(elapsed "$t0" "$t1")"
    cpus="$cpus $(cpu_s "$c0" "$c1")"
done
lines=$(grep 'msg=export ' "$WORK/tsvault.log" | tail -n 1 | sed 's/.* lines=\([0-9]*\).*/\1/')
T_HTTP=$(echo $ts | median)
C_HTTP=$(echo $cpus | median)
curl -sS -f -H "Authorization: Token $TOKEN" -H 'Accept-Encoding: zstd' \
    "$TURL/api/v2/export?bucketID=$BID" -o "$WORK/export.lp.zst"
LP_BYTES=$(zstd -dc "$WORK/export.lp.zst" | wc -c)
ZST_BYTES=$(stat -c %s "$WORK/export.lp.zst")
zstd -dc "$WORK/export.lp.zst" | tail -n +8 | sort >"$WORK/ours.sorted" &
sortpid=$!

# --- verify over HTTP ----------------------------------------------------------
ts=""
for _ in $(seq 1 "$RUNS"); do
    t0=$(now)
    curl -sS -f -XPOST -H "Authorization: Token $TOKEN" "$TURL/api/v2/verify?bucketID=$BID" \
        -o "$WORK/verify.ndjson"
    t1=$(now)
    ts="$ts $(elapsed "$t0" "$t1")"
done
tail -n 1 "$WORK/verify.ndjson" | grep -q '"ok":true' || die "verify found problems"
T_VERIFY=$(echo $ts | median)

stop_tsvault

# --- offline export (peak RSS) ---------------------------------------------------
/usr/bin/time -f '%e %M' -o "$WORK/off.time" "$BIN" export --data-dir "$WORK/tsvault" \
    --bucket-id "$BID" --out /dev/null 2>>"$WORK/off.log" || die "offline export failed"
read -r T_OFF RSS_OFF <"$WORK/off.time"

# --- baselines -------------------------------------------------------------------
mkdir -p "$WORK/check/data/bench"
rm -rf "$WORK/check/data/bench/autogen"
cp -rl "$TDATA/state/engine/data/$BID/autogen" "$WORK/check/data/bench/autogen"
ts=""
for _ in $(seq 1 "$RUNS"); do
    t0=$(now)
    /usr/bin/time -f '%M' -o "$WORK/go.time" "$CACHE/tools/tsmcheck" export \
        -datadir "$WORK/check/data" -database bench -retention autogen >/dev/null
    t1=$(now)
    ts="$ts $(elapsed "$t0" "$t1")"
done
T_GO=$(echo $ts | median)
RSS_GO=$(cat "$WORK/go.time")
"$CACHE/tools/tsmcheck" export -datadir "$WORK/check/data" -database bench -retention autogen |
    tail -n +8 | sort >"$WORK/go.sorted"
wait "$sortpid"
cmp -s "$WORK/ours.sorted" "$WORK/go.sorted" || die "tsvault's export and tsmcheck's differ"
ts=""
for _ in $(seq 1 "$RUNS"); do
    t0=$(now)
    # shellcheck disable=SC2086
    sha256sum $FILES >/dev/null
    t1=$(now)
    ts="$ts $(elapsed "$t0" "$t1")"
done
T_SHA=$(echo $ts | median)

{
    echo "Export and verify of $BYTES bytes of TSM (6 shards, $lines lines, $LP_BYTES bytes of line"
    echo "protocol, $ZST_BYTES with zstd); median of $RUNS; load average $(loadavg)."
    echo
    echo "| operation | time | TSM read | notes |"
    echo "| --- | --- | --- | --- |"
    row "tsvault GET /api/v2/export" "$T_HTTP" \
        "$(awk -v l="$lines" -v s="$T_HTTP" 'BEGIN { printf "%.2f M lines/s", l / s / 1e6 }'), server CPU $C_HTTP s"
    row "tsvault export --data-dir" "$T_OFF" "peak RSS $((RSS_OFF / 1024)) MB"
    row "tsmcheck export (tsm1 reader, Go)" "$T_GO" \
        "$(awk -v l="$lines" -v s="$T_GO" 'BEGIN { printf "%.2f M lines/s", l / s / 1e6 }'), peak RSS $((RSS_GO / 1024)) MB; same lines (sorted)"
    row "tsvault POST /api/v2/verify" "$T_VERIFY" "CRC32 + full decode of every block"
    row "sha256sum" "$T_SHA" "hash only"
} | tee "$WORK/results.md"
rm -rf "$WORK/check" "$WORK/export.lp.zst" "$WORK/ours.sorted" "$WORK/go.sorted"
