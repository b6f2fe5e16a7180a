#!/bin/bash
# The vault's rows (issue 11), each measured side by side with its baseline in
# the SAME run, so the ratios hold on a loaded machine:
#
#   TSVAULT_BIN=build/tsvault TSV_BENCH_BASELINE_BIN=/path/to/pre-vault/tsvault tests/bench/vault.sh
#
# 1. restore into the vault (SHA-256 of every byte, objects, catalogue) vs a
#    tsvault from before the vault: the six 416 MB bench shards, gzip, one
#    stream, + sync; runs alternate baseline / vault (TSV_BENCH_RUNS, default
#    3) and the medians are compared (target >= 0.9x);
# 2. a second restore of identical data into the same shards: how much the
#    data directory grows, vault vs baseline (which keeps the replaced files
#    in its trash);
# 3. soft delete + restore_data of the whole 416 MB bucket with tsv_vaulttool
#    (the operation's own time, as the delete_data / restore_data jobs run
#    it) vs `cp -r` of the same files + sync (what a copy-based undo costs).
# Uses the cached data set of tests/bench/lib.sh (generated once). Starts its
# own servers on 127.0.0.1 (stopped by PID). Not part of ctest.
set -euo pipefail
# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"
trap bench_cleanup EXIT INT TERM

: "${TSVAULT_BIN:?TSVAULT_BIN: the tsvault to measure (tsv_vaulttool next to it)}"
: "${TSV_BENCH_BASELINE_BIN:?TSV_BENCH_BASELINE_BIN: a tsvault built from before the vault}"
RUNS=${TSV_BENCH_RUNS:-3}
VBIN=$TSVAULT_BIN
OBIN=$TSV_BENCH_BASELINE_BIN
VT=$(dirname "$VBIN")/tsv_vaulttool
[ -x "$VT" ] || die "no tsv_vaulttool next to $VBIN"
check_tools
ensure_data
WORK=$CACHE/work-vault
rm -rf "$WORK"
mkdir -p "$WORK"
LOAD_BEFORE=$(loadavg)
log "load average before: $LOAD_BEFORE"

# restore_into BIN DIR: a fresh server on DIR, the 6 shards (gzip, 1 stream)
# into a new bucket, kept (lib.sh restore_kept: T_S, BID, NEW); leaves the
# server running (TPID).
restore_into() {
    BIN=$1
    start_tsvault "$2" "$2.log"
    restore_kept gzip 1 "bench-vault-$RANDOM"
}

# ---------------------------------------------------------------- 1. throughput
old_t=() new_t=()
for r in $(seq 1 "$RUNS"); do
    for which in old new; do
        d=$WORK/$which-$r
        if [ "$which" = old ]; then restore_into "$OBIN" "$d"; old_t+=("$T_S"); else restore_into "$VBIN" "$d"; new_t+=("$T_S"); fi
        log "run $r $which: $T_S s"
        stop_tsvault
        drop_output "$d"
    done
done
OLD_S=$(echo "${old_t[*]}" | median)
NEW_S=$(echo "${new_t[*]}" | median)
RATIO=$(awk -v o="$OLD_S" -v n="$NEW_S" 'BEGIN { printf "%.2f", o / n }')

# ---------------------------------------------------------------- 2. dedup
# grow BIN DIR: restore, then the same shards again into the same shard IDs;
# sets GROW (bytes the data directory grew by the second restore), T2_S.
grow() {
    restore_into "$1" "$2"
    restore_again
    T2_S=$T_S
    codes_are 204 "second restore"
}
grow "$OBIN" "$WORK/dedup-old"
OLD_GROW=$GROW OLD_T2=$T2_S
stop_tsvault
drop_output "$WORK/dedup-old"
grow "$VBIN" "$WORK/dedup-new"
NEW_GROW=$GROW NEW_T2=$T2_S
NOBJ=$(find "$WORK/dedup-new/objects" -type f ! -path "$WORK/dedup-new/objects/tmp/*" | wc -l)

# ---------------------------------------------------------------- 3. soft delete + restore
stop_tsvault
D=$WORK/dedup-new
IV=2023-12-01/2024-03-01
t0=$(now)
"$VT" "$D" delete "$BID" "$IV" >"$WORK/del.json"
t1=$(now)
DEL_WALL=$(elapsed "$t0" "$t1")
[ "$(find "$D/state/engine/data/$BID" -name '*.tsm' | wc -l)" = 0 ] || die "delete_data left TSM files"
t0=$(now)
"$VT" "$D" restore "$BID" "$IV" >"$WORK/res.json"
t1=$(now)
RES_WALL=$(elapsed "$t0" "$t1")
[ "$(find "$D/state/engine/data/$BID" -name '*.tsm' -printf '%s\n' | awk '{s += $1} END {print s + 0}')" = "$TSM_BYTES" ] ||
    die "restore_data did not bring back every byte"
DEL_MS=$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert all(s["outcome"]=="soft_deleted" for s in j["shards"]) and len(j["shards"])==6, j; print(j["elapsedMs"])' "$WORK/del.json")
RES_MS=$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert all(s["outcome"]=="restored" for s in j["shards"]) and len(j["shards"])==6, j; print(j["elapsedMs"])' "$WORK/res.json")
cp_t=()
for r in 1 2; do
    cp_t+=("$(timed_cp "$D/state/engine/data/$BID")")
done
CP_S=$(echo "${cp_t[*]}" | median)
drop_output "$WORK/cp"
LOAD_AFTER=$(loadavg)

MB=$(awk -v b="$TSM_BYTES" 'BEGIN { printf "%.0f", b / 1e6 }')
cat <<EOF

Vault rows ($(date -u +%Y-%m-%dT%H:%MZ), $MB MB of TSM in 6 shards, load average $LOAD_BEFORE before, $LOAD_AFTER after)

| row | baseline | vault | vault / baseline |
| --- | --- | --- | --- |
| restore, gzip, 1 stream, + sync (median of $RUNS, alternating) | $OLD_S s ($(mbps "$OLD_S") MB/s) [${old_t[*]}] | $NEW_S s ($(mbps "$NEW_S") MB/s) [${new_t[*]}] | throughput $RATIO x (target >= 0.9) |
| second restore of identical data: data dir growth | $OLD_GROW bytes ($OLD_T2 s) | $NEW_GROW bytes ($NEW_T2 s; $NOBJ objects) | |
| soft delete of the whole bucket (delete_data, 6 shards) | cp -r + sync: $CP_S s [${cp_t[*]}] | $DEL_MS ms (tool wall $DEL_WALL s) | |
| restore_data of the whole bucket | cp -r + sync: $CP_S s | $RES_MS ms (tool wall $RES_WALL s) | |
EOF
