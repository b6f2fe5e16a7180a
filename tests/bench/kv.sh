#!/bin/bash
# tsvault KV benchmark (issue 22): restore/kv, backup/kv and backup/metadata
# of generated InfluxDB 2.x bolt files of about 50 MB, 500 MB and 2 GB, with
# seconds and the server's peak anonymous memory (RssAnon) above idle.
#
#   tests/bench/kv.sh            # all three sizes
#   TSV_BENCH_KV_SIZES="50 500" tests/bench/kv.sh
#
# Data (generated once, cached in $TSV_BENCH_CACHE/kv-v1/): the real 2.x bolt
# fixture (testdata/influxdb-2-kv/influxd-2.x-live.bolt) plus task-like 1 KB
# records in a "tasksv1" bucket, written by Go's bbolt from Debian
# (tests/tools/boltgen) until the file reaches the size; kept only as
# k<MB>.bolt.gz (gzip -6), which is also the request body (Content-Encoding:
# gzip, as the influx CLI sends it). Each size runs on a fresh server:
# restore/kv $TSV_BENCH_RUNS times (default 3; the previous generation goes to
# the trash, which is emptied between runs), then backup/kv and
# backup/metadata to /dev/null, then a restart (start-up time with that KV).
# Peak RssAnon is sampled every 5 ms from /proc/<pid>/status
# (tests/integration/rss_peak.py): file-backed maps (the bolt upload, the
# LMDB map) and the page cache are not in it, a copy of the KV in the heap
# would be. Prints a Markdown table; a copy goes to $TSV_BENCH_CACHE/results/.
# Environment: see lib.sh, plus TSV_BENCH_KV_SIZES (MB, default "50 500 2000").
set -euo pipefail
# Own scratch directory: run.sh empties $CACHE/work when it starts.
WORK=${WORK:-${TSV_BENCH_CACHE:-$HOME/.cache/tsvault-bench}/work-kv}
# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"
trap bench_cleanup EXIT INT TERM

RUNS=${TSV_BENCH_RUNS:-3}
SIZES=${TSV_BENCH_KV_SIZES:-50 500 2000}
KVDATA=$CACHE/kv-v1
FIXTURE=$root/testdata/influxdb-2-kv/influxd-2.x-live.bolt
SAMPLER=$root/tests/integration/rss_peak.py

need_tools go gzip curl python3 cmake
build_tsvault
mkdir -p "$KVDATA" "$CACHE/results"
rm -rf "$WORK"
mkdir -p "$WORK"
for mb in $SIZES; do
    if [ ! -f "$KVDATA/k$mb.bolt.gz" ]; then
        log "generating a $mb MB bolt file (once) into $KVDATA"
        "$root/tests/tools/build.sh" "$CACHE/tools" >/dev/null
        "$CACHE/tools/boltgen" -in "$FIXTURE" -out "$WORK/k$mb.bolt" -size "$((mb * 1000000))" \
            >"$KVDATA/k$mb.records"
        stat -c %s "$WORK/k$mb.bolt" >"$KVDATA/k$mb.size"
        gzip -6 -n -c "$WORK/k$mb.bolt" >"$KVDATA/k$mb.bolt.gz.tmp"
        mv "$KVDATA/k$mb.bolt.gz.tmp" "$KVDATA/k$mb.bolt.gz"
        rm "$WORK/k$mb.bolt"
    fi
done

LOAD_BEFORE=$(loadavg)
log "load average before: $LOAD_BEFORE"
RES=$WORK/kv.tsv
: >"$RES"

# measure OUT CMD...: runs CMD; sets M_S (seconds), M_CPU (server CPU s),
# M_GROW (peak RssAnon above the RssAnon just before, kB).
measure() {
    local out=$1 sampler t0 t1 c0 c1 idle peak
    shift
    rm -f "$out.ready"
    python3 "$SAMPLER" "$TPID" "$out" &
    sampler=$!
    until [ -f "$out.ready" ]; do
        kill -0 "$sampler" 2>/dev/null || die "rss_peak.py did not start"
        sleep 0.01
    done
    c0=$(cpu_ticks)
    t0=$(now)
    "$@"
    t1=$(now)
    c1=$(cpu_ticks)
    kill -TERM "$sampler"
    wait "$sampler"
    read -r idle peak <"$out"
    M_S=$(elapsed "$t0" "$t1")
    M_CPU=$(cpu_s "$c0" "$c1")
    M_GROW=$((peak - idle))
}

restore_kv() { # BODY TOKEN -> RTOKEN
    curl -sS -o "$WORK/restore.json" -w '%{http_code}' -X POST -H "Authorization: Token $2" \
        -H 'Content-Encoding: gzip' -H 'Content-Type: application/octet-stream' \
        --data-binary "@$1" "$TURL/api/v2/restore/kv" >"$WORK/code"
}
get_to_null() { # PATH TOKEN
    curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Token $2" "$TURL$1" >"$WORK/code"
}

# row MB LABEL "t1 t2..." "cpu1 cpu2..." MAXGROW_KB
row() {
    printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$(echo $3 | median)" "$(echo $4 | median)" \
        "$(awk -v k="$5" 'BEGIN { printf "%.1f", k / 1024 }')" >>"$RES"
    printf '%s\t%s\truns: %s\n' "$1" "$2" "$3" >>"$WORK/runs.txt"
}

for mb in $SIZES; do
    body=$KVDATA/k$mb.bolt.gz
    warm "$body"
    start_tsvault "$WORK/tsvault" "$WORK/tsvault-$mb.log"
    tok=$TOKEN times="" cpus="" grow=0
    for r in $(seq 1 "$RUNS"); do
        log "$mb MB: restore/kv run $r"
        measure "$WORK/rss" restore_kv "$body" "$tok"
        [ "$(cat "$WORK/code")" = 200 ] || die "restore/kv answered $(cat "$WORK/code"): $(cat "$WORK/restore.json")"
        tok=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$WORK/restore.json")
        times="$times $M_S" cpus="$cpus $M_CPU"
        [ "$M_GROW" -gt "$grow" ] && grow=$M_GROW
        rm -rf "$TDATA"/trash/*
    done
    row "$mb" "restore/kv (gzip body)" "$times" "$cpus" "$grow"
    kvsize=$(stat -c %s "$TDATA/state/kv/data.mdb")
    for op in kv metadata; do
        times="" cpus="" grow=0
        for r in $(seq 1 "$RUNS"); do
            log "$mb MB: backup/$op run $r"
            measure "$WORK/rss" get_to_null "/api/v2/backup/$op" "$tok"
            [ "$(cat "$WORK/code")" = 200 ] || die "backup/$op answered $(cat "$WORK/code")"
            times="$times $M_S" cpus="$cpus $M_CPU"
            [ "$M_GROW" -gt "$grow" ] && grow=$M_GROW
        done
        row "$mb" "backup/$op (to /dev/null)" "$times" "$cpus" "$grow"
    done
    stop_tsvault
    : >"$WORK/restart.log"
    t0=$(now)
    "$BIN" serve --http-bind-address 127.0.0.1:0 --data-dir "$WORK/tsvault" \
        --operator-token "$TOKEN" --log-level info >"$WORK/restart.log" 2>&1 &
    TPID=$!
    until grep -q 'msg=listening' "$WORK/restart.log"; do
        kill -0 "$TPID" 2>/dev/null || die "tsvault did not restart: $(cat "$WORK/restart.log")"
        sleep 0.01
    done
    t1=$(now)
    printf '%s\t%s\t%s\t\t\n' "$mb" "start-up with this KV (until listening)" "$(elapsed "$t0" "$t1")" >>"$RES"
    stop_tsvault
    echo "$mb MB: bolt $(cat "$KVDATA/k$mb.size") bytes, $(cat "$KVDATA/k$mb.records") records," \
        "gzip body $(stat -c %s "$body") bytes, restored data.mdb $kvsize bytes" >>"$WORK/sizes.txt"
    drop_output "$WORK/tsvault"
done

out="$CACHE/results/kv-$(date -u +%Y%m%dT%H%M%SZ).md"
{
    echo "| bolt file | operation | s (median of $RUNS) | server CPU s | peak RssAnon above idle (MB) |"
    echo "|---:|---|---:|---:|---:|"
    while IFS=$'\t' read -r mb label s cpu grow; do
        printf '| %s MB | %s | %s | %s | %s |\n' "$(($(cat "$KVDATA/k$mb.size") / 1000000))" \
            "$label" "$s" "$cpu" "$grow"
    done <"$RES"
    echo
    cat "$WORK/sizes.txt"
    cat "$WORK/runs.txt"
    echo "Machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -1)," \
        "$(free -g | awk '/^Mem:/ {print $2}') GiB RAM, kernel $(uname -r)"
    echo "Load average before / after: $LOAD_BEFORE / $(loadavg)"
    echo "Versions: $("$BIN" --version 2>&1 | head -1)"
} | tee "$out"
echo "(saved in $out)" >&2
