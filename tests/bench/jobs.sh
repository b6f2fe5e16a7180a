#!/bin/bash
# Files API + restore job vs the direct restore API, on the bench data set
# (six ~69 MB shards, 416 MB of TSM, the gzip archives; see README.md):
#
#   TSVAULT_BIN=build/tsvault tests/bench/jobs.sh
#
# Uses the shared data set ($TSV_BENCH_CACHE/data-v1) only if it is complete;
# otherwise it generates the six shards it needs into its own cache
# ($TSV_JOBS_BENCH_CACHE, default /tmp/tsv-jobs-bench) and never removes or
# writes the shared one (another benchmark may be generating it).
#
#  direct: POST /api/v2/restore/bucketMetadata + six POST /restore/shards
#          (gzip bodies, one stream), then sync (lib.sh restore_once);
#  job:    the same six .tar.gz as an InfluxDB 1.x portable backup
#          (data-v1/portable), packed once into one tar (not timed);
#          timed: upload with curl --form (POST /api/v2/files, streamed,
#          hashed, validated), POST /api/v2/jobs restore, poll until
#          completed, sync.
# Prints seconds, MB/s of TSM and the ratio job/direct throughput, plus the
# server's peak RSS above idle during the upload and during the job.
# $TSV_BENCH_RUNS runs each (default 1 here), median. Not part of ctest.
set -euo pipefail
TSV_BENCH_RUNS=${TSV_BENCH_RUNS:-1}
# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"
trap bench_cleanup EXIT INT TERM
# A top-level string member of the server's compact JSON, without starting
# an interpreter inside the timed part (python3 takes ~0.4 s to start here).
json_str() { grep -o "\"$1\":\"[^\"]*\"" | head -n 1 | cut -d'"' -f4; }

build_tsvault
if [ ! -f "$DATA/complete" ]; then
    CACHE=${TSV_JOBS_BENCH_CACHE:-/tmp/tsv-jobs-bench}
    DATA=$CACHE/data-v1
    if [ ! -f "$DATA/complete" ]; then
        log "generating the six shards into $DATA"
        [ -x "$CACHE/tools/tsmcheck" ] || "$root/tests/tools/build.sh" "$CACHE/tools" >/dev/null
        gen_set
        mkdir -p "$DATA/bigtree/$BUCKET_HEX/autogen/$BIG_ID" # (not used here)
        touch "$DATA/bigtree/$BUCKET_HEX/autogen/$BIG_ID/$TSM" "$DATA/complete"
    fi
fi
WORK=${TSV_JOBS_BENCH_WORK:-/tmp/tsv-jobs-bench-work}
ensure_data
mkdir -p "$WORK"
log "load average before: $(loadavg)"
tar -chf "$WORK/bench-portable.tar" -C "$DATA/portable" .
warm "$WORK/bench-portable.tar" "$DATA"/gz/s[1-6].tar.gz

start_tsvault "$WORK/tsvault" "$WORK/tsvault.log"
direct=() job=() up=() upk=() jobk=()
for r in $(seq 1 "$RUNS"); do
    restore_once gzip 1
    direct+=("$T_S")
    log "direct run $r: $T_S s, peak +$T_PEAK kB"

    idle=$(rss_kb VmRSS)
    reset_peak
    t0=$(now)
    code=$(curl -sS -o "$WORK/up.json" -w '%{http_code}' -H "Authorization: Token $TOKEN" \
        --form "file=@$WORK/bench-portable.tar;filename=bench-$r.tar" "$TURL/api/v2/files")
    [ "$code" = 200 ] || die "upload: $code $(cat "$WORK/up.json")"
    t1=$(now)
    # The benchmark's own bookkeeping (reading and resetting the server's
    # peak RSS: ~70 ms of processes here) is not part of what a user waits
    # for between the upload and the job: it is left out of the total.
    upk+=($(($(rss_kb VmHWM) - idle)))
    idle=$(rss_kb VmRSS)
    reset_peak
    t1b=$(now)
    id=$(curl -sS -f -H "Authorization: Token $TOKEN" -d "{\"type\":\"restore\",\"source\":{\"type\":\"file\",\"fileName\":\"bench-$r.tar\"},\"target\":{\"type\":\"bucket\",\"newBucketName\":\"job-$r\",\"bucketName\":\"bench/autogen\"}}" \
        "$TURL/api/v2/jobs" | json_str id)
    while :; do
        st=$(curl -sS -f -H "Authorization: Token $TOKEN" "$TURL/api/v2/jobs/$id" |
            json_str executionStatus)
        case $st in completed) break ;; failed|canceled) die "job $st" ;; esac
        sleep 0.05
    done
    sync
    t2=$(now)
    jobk+=($(($(rss_kb VmHWM) - idle)))
    bid=$(curl -sS -f -H "Authorization: Token $TOKEN" "$TURL/api/v2/buckets?name=job-$r" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["buckets"][0]["id"])')
    [ "$(restored_bytes "$bid")" = "$TSM_BYTES" ] || die "job restored $(restored_bytes "$bid") bytes"
    up+=("$(elapsed "$t0" "$t1")")
    job+=("$(awk -v a="$(elapsed "$t0" "$t1")" -v b="$(elapsed "$t1b" "$t2")" 'BEGIN { printf "%.4f", a + b }')")
    log "job run $r: upload $(elapsed "$t0" "$t1") s (+${upk[-1]} kB), total ${job[-1]} s (+${jobk[-1]} kB)"
    delete_bucket "$bid"
    curl -sS -f -X DELETE -H "Authorization: Token $TOKEN" "$TURL/api/v2/files/bench-$r.tar"
done
stop_tsvault
d=$(echo "${direct[*]}" | median) j=$(echo "${job[*]}" | median) u=$(echo "${up[*]}" | median)
awk -v d="$d" -v j="$j" -v u="$u" -v b="$TSM_BYTES" -v uk="$(echo "${upk[*]}" | median)" \
    -v jk="$(echo "${jobk[*]}" | median)" -v load="$(loadavg)" 'BEGIN {
    printf "| path | seconds | MB/s of TSM | peak RSS above idle |\n| --- | --- | --- | --- |\n"
    printf "| direct: bucketMetadata + 6 x restore/shards (gzip, 1 stream) | %.2f | %.0f | |\n", d, b / d / 1e6
    printf "| job: upload (curl --form) | %.2f | %.0f | %.1f MB |\n", u, b / u / 1e6, uk / 1024
    printf "| job: upload + restore job (to completed) | %.2f | %.0f | %.1f MB (job part) |\n", j, b / j / 1e6, jk / 1024
    printf "\njob path / direct throughput: %.2fx (target >= 0.8x); load average after: %s\n", d / j, load
}'
