#!/bin/bash
# PITR restore of the bench data set (six ~69 MB shards, 416 MB of TSM; see
# README.md) side by side with `cp -r` of the same files and with a restore
# of the same data through the HTTP API:
#
#   TSVAULT_BIN=build/tsvault tests/bench/pitr.sh
#
#  api:  POST /api/v2/restore/bucketMetadata + six POST /restore/shards (gzip
#        bodies, one stream), then sync (lib.sh restore_once, bucket kept);
#  cp:   cp -r of the six shards' TSM tree, then sync;
#  pitr: the bucket is deleted, then POST /api/v2/pitr/restore to a moment
#        when it existed, polled until done (whole request-to-done time, and
#        the job's own build + swap time from the server log), then sync;
#  bucket pitr: the bucket deleted again, then a PITR with "bucketID" (only
#        that bucket goes back), request to done + sync.
# Needs the shared data set ($TSV_BENCH_CACHE/data-v1, complete). $TSV_BENCH_RUNS
# runs each (default 1 here), median. Not part of ctest.
set -euo pipefail
TSV_BENCH_RUNS=${TSV_BENCH_RUNS:-1}
# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"
trap bench_cleanup EXIT INT TERM
rfc_ms() { python3 -c 'import sys,datetime; t=float(sys.argv[1]); print(datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]+"Z")' "$1"; }

# delete_then_pitr EXTRA-JSON: deletes bucket $BID, then a PITR job to a
# moment before the delete (request to done + sync, in ELAPSED); checks the
# bucket's bytes came back.
delete_then_pitr() {
    local target t0 t1 job st
    sleep 0.1
    target=$(rfc_ms "$(now)")
    sleep 0.1
    curl -sS -f -X DELETE -H "Authorization: Token $TOKEN" "$TURL/api/v2/buckets/$BID" >/dev/null
    t0=$(now)
    job=$(curl -sS -f -H "Authorization: Token $TOKEN" -H 'Content-Type: application/json' \
        -d "{\"target_time\":\"$target\"$1}" "$TURL/api/v2/pitr/restore" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["jobId"])')
    while :; do
        st=$(curl -sS -f -H "Authorization: Token $TOKEN" "$TURL/api/v2/pitr/restore/$job" |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
        case $st in done) break ;; failed | deleted) die "pitr job ($1) $st" ;; esac
        sleep 0.01
    done
    sync
    t1=$(now)
    ELAPSED=$(elapsed "$t0" "$t1")
    [ "$(restored_bytes "$BID")" = "$TSM_BYTES" ] || die "PITR ($1) brought back $(restored_bytes "$BID") bytes"
}

build_tsvault
[ -f "$DATA/complete" ] || die "no complete data set in $DATA (run tests/bench/run.sh once)"
WORK=${TSV_PITR_BENCH_WORK:-/tmp/tsv-pitr-bench-work}
ensure_data
rm -rf "$WORK"
mkdir -p "$WORK"
log "load average before: $(loadavg)"
start_tsvault "$WORK/tsvault" "$WORK/tsvault.log"
api=() cpr=() pitr=() inner=() scoped=()
for r in $(seq 1 "$RUNS"); do
    # api (restore_kept: as restore_once, but the bucket stays)
    restore_kept gzip 1 "pitr-$r"
    api+=("$T_S")

    # cp -r of the same TSM files
    # shellcheck disable=SC2086
    cpr+=("$(timed_cp "$DATA/tree" $TSM_FILES)")
    drop_output "$WORK/cp"

    # pitr: delete the bucket, bring the whole store back to before
    delete_then_pitr ""
    pitr+=("$ELAPSED")
    inner+=("$(sed -n 's/.*pitr: swapped in generation [0-9a-f]* in \([0-9.]*\) s.*/\1/p' "$WORK/tsvault.log" | tail -n 1)")
    # pitr of the bucket alone (bucketID): delete it again, bring back only it
    delete_then_pitr ",\"bucketID\":\"$BID\""
    scoped+=("$ELAPSED")
    log "run $r: api ${api[-1]} s, cp -r ${cpr[-1]} s, pitr ${pitr[-1]} s (job ${inner[-1]} s), bucket pitr ${scoped[-1]} s"
done
stop_tsvault
A=$(printf '%s\n' "${api[@]}" | median)
C=$(printf '%s\n' "${cpr[@]}" | median)
P=$(printf '%s\n' "${pitr[@]}" | median)
I=$(printf '%s\n' "${inner[@]}" | median)
B=$(printf '%s\n' "${scoped[@]}" | median)
echo "| operation ($TSM_BYTES bytes of TSM, median of $RUNS) | seconds | MB/s |"
echo "| --- | ---: | ---: |"
echo "| restore through the HTTP API (gzip, one stream) + sync | $A | $(mbps "$A") |"
echo "| cp -r of the TSM files + sync | $C | $(mbps "$C") |"
echo "| PITR job, request to done + sync | $P | $(mbps "$P") |"
echo "| PITR job: build + swap (server log) | $I | $(mbps "$I") |"
echo "| PITR of the bucket alone (bucketID), request to done + sync | $B | $(mbps "$B") |"
awk -v p="$P" 'BEGIN { exit !(p < 1.0) }' && echo "target: PITR under 1 s: met" ||
    echo "target: PITR under 1 s: NOT met"
