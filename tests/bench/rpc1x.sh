#!/bin/bash
# The InfluxDB 1.x restore protocol: `influxd restore -portable` of the bench
# set (6 shards, 416 MB of TSM, the .tar.gz files of tests/bench/README.md)
# into tsvault's 1.x RPC service and into influxd 1.6.7 itself: the same
# client binary, the same archives, the same run, alternating, warm page
# cache. "Done" = the server holds every TSM byte (influxd: no *.tmp left;
# tsvault: the db/rp bucket exists, which happens at its all-or-nothing
# commit), then sync. Prints each run and the medians.
#
#   tests/bench/rpc1x.sh        (TSV_BENCH_RUNS, default 5; see lib.sh)
#
# Starts its own tsvault and influxd on 127.0.0.1 (stopped by PID on exit).
set -euo pipefail
# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"
trap bench_cleanup EXIT INT TERM

check_tools
build_tsvault
ensure_rpc1x_data
WORK=$CACHE/work-rpc1x
rm -rf "$WORK"
mkdir -p "$WORK"
log "load average before: $(loadavg)"
start_influxd
start_tsvault "$WORK/tsvault" "$WORK/tsvault.log"
TRPC=$(sed -n 's/.*msg="1.x rpc listening".* rpc_port=\([0-9]*\).*/\1/p' "$WORK/tsvault.log" | tail -n 1)
[ -n "$TRPC" ] || die "no 1.x rpc port in the tsvault log"

ti=() tt=()
for r in $(seq 1 "$RUNS"); do
    warm "$DATA"/gz/s[1-6].tar.gz
    t=$($PY influxd-restore "$WORK/influxd/data" "bench_i$r" "$TSM_BYTES" -- \
        influxd restore -portable -db bench -newdb "bench_i$r" -host "127.0.0.1:$IRPC" "$DATA/portable")
    ti+=("$t")
    influx_query "DROP DATABASE bench_i$r"
    sync
    warm "$DATA"/gz/s[1-6].tar.gz
    read -r t bid < <($PY rpc1x-restore "$TURL" "$TOKEN" "bench_t$r/autogen" "$TDATA" "$TSM_BYTES" -- \
        influxd restore -portable -db bench -newdb "bench_t$r" -host "127.0.0.1:$TRPC" "$DATA/portable")
    tt+=("$t")
    # Same bytes as the source TSM files (checked after the timing).
    diff <(cat "$TDATA"/state/engine/data/"$bid"/autogen/*/*.tsm | sha256sum) \
        <(for id in $IDS; do cat "$DATA/tree/$BUCKET_HEX/autogen/$id/$TSM"; done | sha256sum) >/dev/null ||
        diff <(sha256sum "$TDATA"/state/engine/data/"$bid"/autogen/*/*.tsm | cut -d' ' -f1 | sort) \
            <(sha256sum $TSM_FILES | cut -d' ' -f1 | sort) >/dev/null || die "restored TSM files differ"
    delete_bucket "$bid"
    echo "run $r: influxd ${ti[-1]} s   tsvault ${tt[-1]} s"
done
stop_tsvault
stop_influxd
mi=$(echo "${ti[@]}" | median)
mt=$(echo "${tt[@]}" | median)
echo "TSM bytes: $TSM_BYTES ($NSHARDS shards); runs: $RUNS; load after: $(loadavg)"
echo "influxd 1.6.7 restore -portable into influxd 1.6.7: median $mi s ($(mbps "$mi") MB/s)"
echo "influxd 1.6.7 restore -portable into tsvault:       median $mt s ($(mbps "$mt") MB/s)"
echo "tsvault / influxd speed: $(awk -v a="$mi" -v b="$mt" 'BEGIN{printf "%.2f", a/b}')x"
awk -v a="$mi" -v b="$mt" 'BEGIN{exit !(b < a)}' || die "tsvault is not faster than influxd"
