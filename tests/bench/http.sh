#!/bin/bash
# tsvault's HTTP path on archives made by a real InfluxDB, with the headers
# real clients send (see tests/bench/README.md, docs/benchmarks.md).
#
#   tests/bench/http.sh
#
# Data (made once, cached in $TSV_BENCH_CACHE/influx-v2): line protocol
# written through a private influxd 1.6.7's HTTP /write by a Go net/http
# client (tests/tools/httpbench), then `influxd backup -portable`: Go's gzip,
# influxd's own TSM files, compaction and block layout, one .tar.gz per shard.
# Measured, in one run, warm page cache, median of $TSV_BENCH_RUNS (default 3):
#   - `igzip -dc | tar x` + sync of the same archives (the baseline)
#   - tsvault restore shard by shard (one request each, every block checked),
#     curl with its default headers (so `Expect: 100-continue`), 1 stream;
#     the Go client (as the influx CLI: keep-alive, chunked body, no Expect),
#     1 and 2 streams; each then sync
#   - requests per second on one keep-alive connection: GET /health,
#     GET /api/v2/buckets, an 8 KB shard restore (Go client; and curl
#     reusing its connection)
#   - the fixed cost of a small shard restore: syscall time per request in
#     fsync/fdatasync, rename/renameat2, mkdir, unlink (strace -f -c)
# Prints a Markdown table; a copy goes to $TSV_BENCH_CACHE/results/.
set -euo pipefail
# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"
trap bench_cleanup EXIT INT TERM
RUNS=${TSV_BENCH_RUNS:-3}
IDATA=$CACHE/influx-v2 # bump when WEEKS, ISERIES or httpbench write change
IDB=benchinflux
WEEKS=8
ISERIES=250
HB=$CACHE/tools/httpbench
SMALL=$root/testdata/influxdb-1.6-portable/backup/20261121T112622Z.s1.tar.gz


ensure_influx_data() {
    [ -f "$IDATA/complete" ] && return
    log "making the influxd data set once into $IDATA (line protocol through /write, then backup)"
    rm -rf "$IDATA" "$WORK/influxd"
    mkdir -p "$IDATA"
    start_influxd
    influx_query "CREATE DATABASE $IDB"
    "$HB" write -url "http://127.0.0.1:$IHTTP" -db "$IDB" -start 2024-01-01T00:00:00Z \
        -weeks "$WEEKS" -series "$ISERIES" -interval 60s >&2
    influxd backup -portable -database "$IDB" -host "127.0.0.1:$IRPC" "$IDATA/portable" >&2
    find "$WORK/influxd/data/$IDB" -name '*.tsm' -printf '%s\n' | awk '{s += $1} END {print s}' \
        >"$IDATA/tsm_bytes"
    stop_influxd
    rm -rf "$WORK/influxd"
    touch "$IDATA/complete"
}

check_tools
build_tsvault
rm -rf "$WORK"
mkdir -p "$WORK" "$CACHE/results"
"$root/tests/tools/build.sh" "$CACHE/tools" >/dev/null
ensure_influx_data
ARCH=$(ls "$IDATA"/portable/*.s*.tar.gz)
IIDS=$(for f in $ARCH; do f=${f##*.s}; echo "${f%.tar.gz}"; done | sort -n)
ITSM=$(cat "$IDATA/tsm_bytes")
IGZ=$(cat $ARCH | wc -c)
LOAD_BEFORE=$(loadavg)
log "data: $(echo $IIDS | wc -w) shards, $ITSM bytes of TSM, $IGZ bytes gzip; load $LOAD_BEFORE"
archive() { ls "$IDATA"/portable/*.s"$1".tar.gz; }

RES=$WORK/http.tsv
: >"$RES"
row() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RES"; } # label, headers, seconds, extra

# ---------------------------------------------------------------- baseline
times=()
for r in $(seq 1 "$RUNS"); do
    # shellcheck disable=SC2046
    times+=("$(timed_untar igzip $(for id in $IIDS; do archive "$id"; done))")
done
got=$(find "$WORK/x" -name '*.tsm' -printf '%s\n' | awk '{s += $1} END {print s}')
[ "$got" = "$ITSM" ] || die "igzip | tar x extracted $got bytes of TSM, expected $ITSM"
drop_output "$WORK/x"
BASE=$(echo "${times[@]}" | median)
row "igzip -dc X \| tar x; sync (1 stream)" "-" "$BASE" "runs: ${times[*]}"

# ---------------------------------------------------------------- tsvault
start_tsvault "$WORK/tsvault" "$WORK/tsvault.log"

# ibucket NAME -> BID, NEW[old]=new for the influxd shard IDs
ibucket() {
    # shellcheck disable=SC2086
    new_bucket "$1" $IIDS
}
ts_check() {
    local got
    got=$(restored_bytes "$BID")
    [ "$got" = "$ITSM" ] || die "$1: restored $got bytes of TSM, expected $ITSM"
    delete_bucket "$BID"
}

# curl with its default headers: -T sends Expect: 100-continue.
times=()
for r in $(seq 1 "$RUNS"); do
    ibucket "curl-$r"
    : >"$WORK/codes"
    warm $ARCH
    t0=$(now)
    for id in $IIDS; do
        curl -sS -o /dev/null -w '%{http_code}\n' -X POST -T "$(archive "$id")" \
            -H "Authorization: Token $TOKEN" -H 'Content-Encoding: gzip' \
            "$TURL/api/v2/restore/shards/${NEW[$id]}" >>"$WORK/codes"
    done
    sync
    t1=$(now)
    codes_are 204 "curl restore"
    times+=("$(elapsed "$t0" "$t1")")
    ts_check curl
done
CURL1=$(echo "${times[@]}" | median)
row "tsvault restore, curl -T, 1 stream; sync" \
    "curl 7.88 defaults: Host, User-Agent, Accept: */*, Content-Length, Expect: 100-continue; plus Authorization, Content-Encoding: gzip" \
    "$CURL1" "runs: ${times[*]}"

go_restore() { # STREAMS LABEL
    local times=() r t0 t1 args id
    for r in $(seq 1 "$RUNS"); do
        ibucket "go-$1-$r"
        args=()
        for id in $IIDS; do args+=("${NEW[$id]}=$(archive "$id")"); done
        warm $ARCH
        t0=$(now)
        "$HB" restore -url "$TURL" -token "$TOKEN" -enc gzip -streams "$1" "${args[@]}" >/dev/null
        sync
        t1=$(now)
        times+=("$(elapsed "$t0" "$t1")")
        ts_check "go $1"
    done
    row "$2" "Go net/http (as the influx CLI): Host, User-Agent: Go-http-client/1.1, Transfer-Encoding: chunked (a file body), Accept-Encoding: gzip; plus Authorization, Content-Type, Content-Encoding: gzip; keep-alive, no Expect" \
        "$(echo "${times[@]}" | median)" "runs: ${times[*]}"
}
go_restore 1 "tsvault restore, Go client, 1 stream; sync"
GO1=$(tail -1 "$RES" | cut -f3)
go_restore 2 "tsvault restore, Go client, 2 streams; sync"

# ---------------------------------------------------------------- keep-alive
new_bucket small 1
SMALLID=${NEW[1]}
rps_row() { # LABEL HEADERS ARGS...
    local label=$1 hdr=$2
    shift 2
    read -r rate med < <("$HB" rps -url "$TURL" -n 200 "$@")
    row "$label" "$hdr" "-" "$rate req/s, median $med ms"
}
rps_row "GET /health, 200 on one keep-alive connection (Go)" "Go net/http defaults" /health
rps_row "GET /api/v2/buckets, 200 on one keep-alive connection (Go)" "Go net/http defaults + Authorization" \
    -token "$TOKEN" /api/v2/buckets
rps_row "POST 8 KB shard restore, 200 on one keep-alive connection (Go)" \
    "Go net/http defaults + Authorization, Content-Encoding: gzip, Content-Length (no Expect)" \
    -token "$TOKEN" -file "$SMALL" -enc gzip "/api/v2/restore/shards/$SMALLID"
curl_rps() { # LABEL HEADERS N URL-ARGS...
    local label=$1 hdr=$2 n=$3 urls=() i
    shift 3
    for i in $(seq 1 "$n"); do urls+=(-o /dev/null "$@"); done
    curl -sS -w '%{time_total} %{num_connects}\n' "${urls[@]}" >"$WORK/lat"
    # Every transfer after the first must have reused the connection.
    [ "$(awk 'NR > 1 && $2 != 0' "$WORK/lat" | wc -l)" = 0 ] || die "curl did not reuse its connection"
    row "$label" "$hdr" "-" "$(awk '{s += $1} END {printf "%.1f req/s", NR / s}' "$WORK/lat"), median $(cut -d' ' -f1 "$WORK/lat" | median | awk '{printf "%.2f", $1 * 1000}') ms"
}
curl_rps "GET /health, 100 on one reused curl connection" "curl defaults" 100 "$TURL/health"
curl_rps "GET /api/v2/buckets, 100 on one reused curl connection" "curl defaults + Authorization" 100 \
    -H "Authorization: Token $TOKEN" "$TURL/api/v2/buckets"
fresh=()
for i in $(seq 1 50); do
    fresh+=("$(curl -sS -o /dev/null -w '%{time_total}' -X POST -T "$SMALL" -H "Authorization: Token $TOKEN" \
        -H 'Content-Encoding: gzip' "$TURL/api/v2/restore/shards/$SMALLID")")
done
row "POST 8 KB shard restore, 50 fresh curl connections" \
    "curl defaults (-T: Expect: 100-continue) + Authorization, Content-Encoding: gzip" "-" \
    "median $(echo "${fresh[@]}" | median | awk '{printf "%.2f", $1 * 1000}') ms"

# ---------------------------------------------------------------- fixed costs
# Syscall time of 50 small shard restores (Go client, one connection): what
# each request pays in fsync, renames and directory work, whatever the size.
strace -f -c -o "$WORK/strace.txt" -e trace=fsync,fdatasync,rename,renameat,renameat2,mkdir,mkdirat,unlink,unlinkat,openat \
    -p "$TPID" 2>/dev/null &
SPID=$!
sleep 1
read -r rate med < <("$HB" rps -url "$TURL" -n 50 -token "$TOKEN" -file "$SMALL" -enc gzip \
    "/api/v2/restore/shards/$SMALLID")
kill -INT "$SPID"
wait "$SPID" 2>/dev/null || true
fix=$(awk '$NF ~ /^(fsync|fdatasync|rename|renameat|renameat2|mkdir|mkdirat|unlink|unlinkat|openat)$/ {
        printf "%s%s %d calls %.2f ms", sep, $NF, $4 / 50, $2 * 1000 / 50; sep = "; " }' "$WORK/strace.txt")
row "fixed cost per 8 KB shard restore under strace (50 requests, per request)" "Go client" "-" \
    "median $med ms; syscalls per request: $fix"
stop_tsvault

# ---------------------------------------------------------------- report
out="$CACHE/results/http-$(date -u +%Y%m%dT%H%M%SZ).md"
{
    echo "Data: $(echo $IIDS | wc -w) shards written by influxd 1.6.7 through /write and backed up with"
    echo "\`influxd backup -portable\`: $((ITSM / 1000000)) MB of TSM, $((IGZ / 1000000)) MB as .tar.gz."
    echo "Machine: $(nproc) CPUs, load average before / after: $LOAD_BEFORE / $(loadavg);" \
        "median of $RUNS runs; MB/s = MB of TSM per second."
    echo
    echo "| operation | request headers | seconds | MB/s | vs igzip \| tar x | notes |"
    echo "| --- | --- | --- | --- | --- | --- |"
    while IFS=$'\t' read -r label hdr secs extra; do
        if [ "$secs" = - ]; then
            echo "| $label | $hdr | | | | $extra |"
        else
            awk -v l="$label" -v h="$hdr" -v s="$secs" -v b="$ITSM" -v base="$BASE" -v e="$extra" \
                'BEGIN { printf "| %s | %s | %.2f | %.0f | %.2fx | %s |\n", l, h, s, b / s / 1e6, base / s, e }'
        fi
    done <"$RES"
    echo
    awk -v go="$GO1" -v c="$CURL1" -v base="$BASE" 'BEGIN {
        printf "Target (restore shard by shard, 1 stream, at least as fast as igzip | tar x + sync): Go client %.2fx %s, curl %.2fx %s\n",
            base / go, (go <= base ? "met" : "MISSED"), base / c, (c <= base ? "met" : "MISSED") }'
} | tee "$out"
echo "(saved in $out)" >&2
