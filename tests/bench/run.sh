#!/bin/bash
# tsvault restore/backup benchmark: the one command (see tests/bench/README.md).
#
#   tests/bench/run.sh [--tls] [--restore-only]
#
# --tls: after the HTTP rows, the restore rows again over HTTPS (a fresh
# tsvault with a self-signed RSA-2048 certificate made here by openssl; curl
# verifies it through CURL_CA_BUNDLE), in the same run; the table then ends
# with the HTTPS/HTTP ratios. --restore-only: only the tsvault restore rows
# (no baselines, backups, vault or memory rows; the 1 GB shard is not needed).
#
# Generates the data once (TSM written by InfluxDB 1.6.7's own tsm1 writer,
# packed as the influx CLI packs shards) into $TSV_BENCH_CACHE (default
# ~/.cache/tsvault-bench), builds a Release tsvault if needed, then measures on
# the same archives, warm page cache, median of $TSV_BENCH_RUNS (default 5):
# baselines (gzip/igzip/zstd -d | tar x, cp -r, each then sync; gzip -6 and
# igzip -3 of the same files; influxd 1.6.7's restore -portable) and tsvault
# (POST /api/v2/restore/shards with gzip and zstd bodies, one stream and two in
# parallel; GET /api/v2/backup/shards with gzip default and speedy; the
# server's CPU time and peak RSS above idle per operation, and a >= 1 GB shard
# restore on a fresh server). Prints one Markdown table and the target checks;
# a copy goes to $TSV_BENCH_CACHE/results/. Environment: see lib.sh.
# Starts its own tsvault and influxd on 127.0.0.1 (stopped by PID on exit).
# Not part of ctest.
set -euo pipefail
# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"
trap bench_cleanup EXIT INT TERM
TLS=0 ONLY_RESTORE=0
for arg in "$@"; do
    case $arg in
    --tls) TLS=1 ;;
    --restore-only) ONLY_RESTORE=1 ;;
    *) die "usage: run.sh [--tls] [--restore-only]" ;;
    esac
done

RES=$WORK/results.tsv
# record KEY LABEL BYTES "t1,t2,..." [RSS] [CPU]
record() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${5:-}" "${6:-}" >>"$RES"; }

check_tools
build_tsvault
ensure_data
rm -rf "$WORK"
mkdir -p "$WORK" "$CACHE/results"
: >"$RES"
LOAD_BEFORE=$(loadavg)
log "load average before: $LOAD_BEFORE"

# ---------------------------------------------------------------- baselines
if [ "$ONLY_RESTORE" = 0 ]; then # (not indented: the block is the whole section)

pipeline() { # KEY LABEL TOOL EXT
    local times=() r
    for r in $(seq 1 "$RUNS"); do
        times+=("$(timed_untar "$3" "$DATA/$4"/s[1-6].tar."$4")")
    done
    cmp "$WORK/x/$BUCKET_HEX/autogen/1/$TSM" "$DATA/tree/$BUCKET_HEX/autogen/1/$TSM"
    record "$1" "$2" "$TSM_BYTES" "$(join "${times[@]}")"
    drop_output "$WORK/x"
}
log "baseline: gzip -dc | tar x; sync"
pipeline gzip "gzip -dc | tar x; sync" gzip gz
log "baseline: igzip -dc | tar x; sync"
pipeline igzip "igzip -dc | tar x; sync" igzip gz
log "baseline: zstd -dc | tar x; sync"
pipeline zstd "zstd -dc | tar x; sync" zstd zst

decode_only() { # KEY LABEL TOOL EXT
    local times=() r t0 t1 id
    warm "$DATA"/"$4"/s[1-6].*
    for r in $(seq 1 "$RUNS"); do
        t0=$(now)
        for id in $IDS; do
            $3 -dc "$DATA/$4/s$id.tar.$4" >/dev/null
        done
        t1=$(now)
        times+=("$(elapsed "$t0" "$t1")")
    done
    record "$1" "$2" "$TSM_BYTES" "$(join "${times[@]}")"
}
log "reference: igzip -dc, zstd -dc > /dev/null (decoding alone, one core)"
decode_only igzip_null "igzip -dc > /dev/null (decoding alone)" igzip gz
decode_only zstd_null "zstd -dc > /dev/null (decoding alone)" zstd zst

log "baseline: cp -r; sync"
times=()
for r in $(seq 1 "$RUNS"); do
    # shellcheck disable=SC2086
    times+=("$(timed_cp "$DATA/tree" $TSM_FILES)")
done
record cp "cp -r (the extracted files); sync" "$TSM_BYTES" "$(join "${times[@]}")"
drop_output "$WORK/cp"

log "baseline: gzip -6 of the same files (one run)"
# shellcheck disable=SC2086
warm $TSM_FILES
t0=$(now)
# shellcheck disable=SC2086
gzip -6 -c $TSM_FILES >/dev/null
t1=$(now)
record gzip6 "gzip -6 (the files, to /dev/null)" "$TSM_BYTES" "$(elapsed "$t0" "$t1")"

log "reference: igzip -3 of the same files"
times=()
for r in $(seq 1 "$RUNS"); do
    t0=$(now)
    # shellcheck disable=SC2086
    igzip -3 -c $TSM_FILES >/dev/null
    t1=$(now)
    times+=("$(elapsed "$t0" "$t1")")
done
record igzip3 "igzip -3 (the files, to /dev/null)" "$TSM_BYTES" "$(join "${times[@]}")"

log "baseline: influxd 1.6.7 restore -portable (until the server has every file; sync)"
start_influxd
times=()
for r in $(seq 1 "$RUNS"); do
    warm "$DATA"/gz/s[1-6].tar.gz
    times+=("$($PY influxd-restore "$WORK/influxd/data" "bench_r$r" "$TSM_BYTES" -- \
        influxd restore -portable -db bench -newdb "bench_r$r" -host "127.0.0.1:$IRPC" \
        "$DATA/portable")")
    n=$(find "$WORK/influxd/data/bench_r$r" -name '*.tsm' | wc -l)
    [ "$n" = "$NSHARDS" ] || die "influxd restored $n TSM files"
    influx_query "DROP DATABASE bench_r$r"
    sync
done
record influxd "influxd 1.6.7 restore -portable (gzip, client + server)" "$TSM_BYTES" "$(join "${times[@]}")"
stop_influxd
drop_output "$WORK/influxd"
fi # baselines

# ---------------------------------------------------------------- tsvault

start_tsvault "$WORK/tsvault" "$WORK/tsvault.log"
RUN_IDLE=$(rss_kb VmRSS)

ts_restore() { # KEY LABEL ENC STREAMS
    local times=() cpus=() peak=0 r
    for r in $(seq 1 "$RUNS"); do
        restore_once "$3" "$4"
        times+=("$T_S")
        cpus+=("$T_CPU")
        [ "$T_PEAK" -gt "$peak" ] && peak=$T_PEAK
    done
    record "$1" "$2" "$TSM_BYTES" "$(join "${times[@]}")" "$(mb "$peak")" "$(echo "${cpus[@]}" | median)"
}
log "tsvault: restore, gzip, one stream"
ts_restore r_gz1 "tsvault restore, gzip, 1 stream; sync" gzip 1
log "tsvault: restore, gzip, two streams"
ts_restore r_gz2 "tsvault restore, gzip, 2 streams; sync" gzip 2
log "tsvault: restore, zstd, one stream"
ts_restore r_zs1 "tsvault restore, zstd, 1 stream; sync" zstd 1
log "tsvault: restore, zstd, two streams"
ts_restore r_zs2 "tsvault restore, zstd, 2 streams; sync" zstd 2
log "tsvault: restore, plain tar, two streams (reference: no decoding)"
ts_restore r_id2 "tsvault restore, plain tar (identity), 2 streams; sync" identity 2

if [ "$ONLY_RESTORE" = 0 ]; then # backups, vault, memory (not indented)

restore_source
ts_backup() { # KEY LABEL LEVEL
    local times=() cpus=() peak=0 r
    # shellcheck disable=SC2086
    warm $TSM_FILES "$TDATA"/state/engine/data/"$BID"/autogen/*/*.tsm
    for r in $(seq 1 "$RUNS"); do
        backup_once "$3"
        times+=("$T_S")
        cpus+=("$T_CPU")
        [ "$T_PEAK" -gt "$peak" ] && peak=$T_PEAK
    done
    # The body is a gzip'd tar holding the shard's file, byte-identical.
    curl -sS -f -H 'Accept-Encoding: gzip' -H "Gzip-Compression-Level: $3" \
        -H "Authorization: Token $TOKEN" "$TURL/api/v2/backup/shards/${NEW[1]}" |
        gzip -dc | tar xO "$BID/autogen/${NEW[1]}/$TSM" |
        cmp - "$DATA/tree/$BUCKET_HEX/autogen/1/$TSM" || die "$1: backup differs"
    record "$1" "$2" "$TSM_BYTES" "$(join "${times[@]}")" "$(mb "$peak")" "$(echo "${cpus[@]}" | median)"
}
log "tsvault: backup, gzip default"
ts_backup b_def "tsvault backup, gzip default (ISA-L 3), 1 stream" default
log "tsvault: backup, gzip speedy"
ts_backup b_spd "tsvault backup, gzip speedy (ISA-L 1), 1 stream" speedy
# The vault: the same shards again (dedup: what the data directory grows by),
# then soft delete + restore of the whole bucket (tsv_vaulttool, server
# stopped; the time is the operation's own, printed by the tool).
log "tsvault: second identical restore (dedup)"
restore_again
[ "$(sort -u "$WORK/codes")" = 204 ] || die "second identical restore failed"
record v_dedup "tsvault second identical restore (vault dedup), gzip, 1 stream; sync" "$TSM_BYTES" \
    "$T_S" "data dir grew by $GROW bytes"
RUN_HWM=$(rss_kb VmHWM)
stop_tsvault
VT=${TSV_VAULTTOOL:-$(dirname "$BIN")/tsv_vaulttool}
log "tsvault: soft delete + restore of the $((TSM_BYTES / 1000000)) MB bucket"
vt_ms() { "$VT" "$TDATA" "$@" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["elapsedMs"])'; }
times=()
for r in $(seq 1 "$RUNS"); do
    d=$(vt_ms delete "$BID" 1970-01-01/2200-01-01) || die "delete_data failed"
    u=$(vt_ms restore "$BID" 1970-01-01/2200-01-01) || die "restore_data failed"
    times+=("$(python3 -c "print('%.4f' % (($d + $u) / 1000))")")
done
record v_sdr "tsvault soft delete + restore_data of the whole bench bucket ($NSHARDS shards)" \
    "$TSM_BYTES" "$(join "${times[@]}")"
drop_output "$WORK/tsvault"

# Memory: a fresh server, one >= 1 GB shard, RSS above the server's idle RSS.
log "tsvault: memory, one $((BIG_BYTES / 1000000)) MB shard on a fresh server"
start_tsvault "$WORK/tsvault-mem" "$WORK/tsvault-mem.log"
mem_restore() { # KEY LABEL ENC FILE
    new_bucket "bench-$1" "$BIG_ID"
    : >"$WORK/codes"
    warm "$4"
    local f
    f=$(basename "$4")
    measure_start
    post_shards "$3" "$(dirname "$4")" "${f#*.}" "$WORK/codes" "$BIG_ID"
    sync
    measure_stop
    [ "$(cat "$WORK/codes")" = 204 ] || die "$1: restore answered $(cat "$WORK/codes")"
    [ "$(restored_bytes "$BID")" = "$BIG_BYTES" ] || die "$1: restored $(restored_bytes "$BID") bytes"
    record "$1" "$2" "$BIG_BYTES" "$T_S" "$(mb "$T_PEAK") (idle $((M_IDLE / 1024)) MB)" "$T_CPU"
    delete_bucket "$BID"
}
mem_restore m_gz "tsvault restore, gzip, 1 stream, one $((BIG_BYTES / 1000000)) MB shard, fresh server" gzip "$DATA/gz/s$BIG_ID.tar.gz"
mem_restore m_zs "tsvault restore, zstd, 1 stream, one $((BIG_BYTES / 1000000)) MB shard, fresh server" zstd "$DATA/zst/s$BIG_ID.tar.zst"
stop_tsvault
else
    RUN_HWM=$(rss_kb VmHWM)
    stop_tsvault
    drop_output "$WORK/tsvault"
fi # backups, vault, memory

# HTTPS: the same restores through a TLS listener (docs/benchmarks.md).
if [ "$TLS" = 1 ]; then
    mkdir -p "$WORK/tls"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/tls/key.pem" -out "$WORK/tls/cert.pem" \
        -days 2 -subj "/CN=tsvault-bench" -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
    export CURL_CA_BUNDLE=$WORK/tls/cert.pem
    start_tsvault "$WORK/tsvault-tls" "$WORK/tsvault-tls.log" \
        --tls-cert "$WORK/tls/cert.pem" --tls-key "$WORK/tls/key.pem"
    case $TURL in https://*) ;; *) die "the TLS server is not serving https ($TURL)" ;; esac
    TLS_SESSION=$(openssl s_client -connect "${TURL#https://}" -CAfile "$CURL_CA_BUNDLE" </dev/null 2>/dev/null |
        sed -n 's/^New, \(.*\), Cipher is \(.*\)/\1 \2/p' | head -n 1)
    log "tsvault over HTTPS ($TLS_SESSION): restore, gzip, one stream"
    ts_restore r_gz1_tls "tsvault restore over HTTPS, gzip, 1 stream; sync" gzip 1
    log "tsvault over HTTPS: restore, gzip, two streams"
    ts_restore r_gz2_tls "tsvault restore over HTTPS, gzip, 2 streams; sync" gzip 2
    log "tsvault over HTTPS: restore, plain tar, two streams"
    ts_restore r_id2_tls "tsvault restore over HTTPS, plain tar (identity), 2 streams; sync" identity 2
    stop_tsvault
    drop_output "$WORK/tsvault-tls"
fi

# ---------------------------------------------------------------- report

{
    echo "Machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -1)," \
        "$(free -g | awk '/^Mem:/ {print $2}') GiB RAM, kernel $(uname -r)"
    dev=$(df --output=source "$CACHE" | tail -1)
    echo "Disk: $dev ($(df --output=fstype "$CACHE" | tail -1)," \
        "$(lsblk -dno SIZE,ROTA "$dev" 2>/dev/null | awk '{print $1 ($2 == 1 ? ", rotational" : ", non-rotational")}'))"
    echo "Data: $NSHARDS shards, $((TSM_BYTES / 1000000)) MB of TSM ($((GZ_BYTES / 1000000)) MB as" \
        ".tar.gz, $((ZST_BYTES / 1000000)) MB as .tar.zst); memory shard $((BIG_BYTES / 1000000)) MB"
    echo "Versions: $("$BIN" --version 2>&1 | head -1); $(influxd version 2>&1 | head -1);" \
        "igzip $(igzip --version 2>&1 | sed -n 's/.*interface \([0-9.]*\).*/\1/p' | head -1);" \
        "zstd $(zstd --version | sed -n 's/.* v\([0-9.]*\).*/\1/p'); $(gzip --version | head -1);" \
        "$(tar --version | head -1)"
    echo "Load average before / after: $LOAD_BEFORE / $(loadavg)"
    echo "tsvault peak RSS over the main run: $((RUN_HWM / 1024)) MB (idle at start $((RUN_IDLE / 1024)) MB)"
    [ "$TLS" = 0 ] || echo "HTTPS rows: curl $(curl --version | head -1 | cut -d' ' -f2) to tsvault" \
        "(civetweb + $(openssl version | cut -d' ' -f1-2)), self-signed RSA-2048 certificate," \
        "one handshake per request, negotiated: $TLS_SESSION; AES-NI:" \
        "$(grep -q -w aes /proc/cpuinfo && echo yes || echo no)"
    echo "Runs: median of $RUNS (gzip -6 and the memory rows: one run); MB = 10^6 bytes of TSM;" \
        "warm page cache; the previous run's output deleted just before each run;" \
        "server CPU = tsvault's user + system time (median)."
} >"$WORK/machine.txt"
out="$CACHE/results/$(date -u +%Y%m%dT%H%M%SZ).md"
$PY table "$RES" "$WORK/machine.txt" | tee "$out"
cp "$RES" "${out%.md}.tsv"
echo "(saved in $out)" >&2
