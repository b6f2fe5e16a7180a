#!/bin/bash
# Continuous archiving from InfluxDB 1.6.7 (docs/api.md "Connections API"):
# the bench set (6 shards, 416 MB of TSM; tests/bench/README.md) restored
# into a private influxd 1.6.7, then, alternating in one run:
#   - a pull by a fresh tsvault (a connection to influxd's port 8088, one
#     backup job: metastore + every shard, each file stored as an object)
#   - `influxd backup -portable` of the same database by the real client
# then, on one tsvault: an incremental pull after a small write into one
# shard, and a pull with nothing changed (bytes pulled and seconds).
#
#   tests/bench/connections.sh     (TSV_BENCH_RUNS, default 5; see lib.sh)
set -euo pipefail
# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"
trap bench_cleanup EXIT INT TERM

api() { # METHOD PATH [BODY]
    curl -sS -f -X "$1" -H "Authorization: Token $TOKEN" -H 'Content-Type: application/json' \
        ${3:+-d "$3"} "$TURL$2"
}
# src_server: a tsvault on WORK/tsvault with the connection "src" to
# influxd's database src.
src_server() {
    start_tsvault "$WORK/tsvault" "$WORK/tsvault.log"
    api POST /api/v2/connections "{\"name\":\"src\",\"type\":\"influxdb1\",\"host\":\"127.0.0.1:$IRPC\",\"databases\":[\"src\"]}" >/dev/null
}
# pull NAME -> "seconds bytesPulled bytesNew shardsChanged job-seconds" of a completed pull
# job: seconds as the client waits for it (create, poll every 20 ms), job-seconds inside
# tsvault (the snapshot's time to finished)
pull() {
    local t0 t1 id st
    t0=$(now)
    id=$(api POST /api/v2/jobs "{\"type\":\"backup\",\"source\":{\"type\":\"connection\",\"connectionName\":\"$1\"}}" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    while :; do
        st=$(api GET "/api/v2/jobs/$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["executionStatus"])')
        case $st in completed) break ;; failed | canceled) die "pull $1: $(api GET "/api/v2/jobs/$id/logs")" ;; esac
        sleep 0.02
    done
    t1=$(now)
    api GET "/api/v2/connections/$1/snapshots" | python3 -c '
import json, sys
from datetime import datetime
v = json.load(sys.stdin)["values"][-1]
ts = lambda s: datetime.fromisoformat(s[:26].rstrip("Z") if "." in s else s.rstrip("Z"))
job = (ts(v["finished"]) - ts(v["time"])).total_seconds()
print(sys.argv[1], v["bytesPulled"], v["bytesNew"], v["shardsChanged"], "%.3f" % job)' "$(elapsed "$t0" "$t1")"
}

check_tools
build_tsvault
ensure_rpc1x_data
WORK=$CACHE/work-connections
rm -rf "$WORK"
mkdir -p "$WORK"
log "load average before: $(loadavg)"
start_influxd
$PY influxd-restore "$WORK/influxd/data" src "$TSM_BYTES" -- \
    influxd restore -portable -db bench -newdb src -host "127.0.0.1:$IRPC" "$DATA/portable" >/dev/null

tp=() tb=()
for r in $(seq 1 "$RUNS"); do
    src_server
    read -r t bytes _ changed _ < <(pull src)
    sync
    [ "$changed" = "$NSHARDS" ] || die "pull run $r: $changed shards, want $NSHARDS"
    [ "$bytes" -ge "$TSM_BYTES" ] || die "pull run $r: $bytes bytes < $TSM_BYTES of TSM"
    tp+=("$t")
    stop_tsvault
    rm -rf "$WORK/tsvault"
    sync
    t0=$(now)
    influxd backup -portable -database src -host "127.0.0.1:$IRPC" "$WORK/bk" >/dev/null 2>&1 ||
        die "influxd backup -portable"
    sync
    t1=$(now)
    tb+=("$(elapsed "$t0" "$t1")")
    rm -rf "$WORK/bk"
    echo "run $r: tsvault pull ${tp[-1]} s ($bytes bytes)   influxd backup -portable ${tb[-1]} s"
done

# Incremental: one tsvault, a full pull, then a small write into the last
# shard (2024-02-05..12: shard group 6), then nothing.
src_server
read -r tf bf _ _ jf < <(pull src)
sleep 1.1
base=$(date -d 2024-02-06T00:00:00Z +%s)
python3 - "$base" >"$WORK/small.lp" <<'PY'
import sys
b = int(sys.argv[1])
for i in range(1000):
    print("small,host=h%d value=%d.5 %d" % (i % 10, i, (b + i * 60) * 10**9))
PY
curl -sS -f -XPOST "http://127.0.0.1:$IHTTP/write?db=src" --data-binary @"$WORK/small.lp" || die "small write"
read -r ti bi ni ci ji < <(pull src)
read -r tn bn nn cn jn < <(pull src)
stop_tsvault
stop_influxd
mp=$(echo "${tp[@]}" | median)
mb=$(echo "${tb[@]}" | median)
echo "TSM bytes: $TSM_BYTES ($NSHARDS shards); runs: $RUNS; load after: $(loadavg)"
echo "full pull by tsvault (influxdb1 connection):   median $mp s ($(mbps "$mp") MB/s)"
echo "influxd backup -portable of the same database: median $mb s ($(mbps "$mb") MB/s)"
echo "tsvault / influxd speed: $(awk -v a="$mb" -v b="$mp" 'BEGIN{printf "%.2f", a/b}')x"
echo "first pull on the incremental server: $tf s (job $jf s), $bf bytes"
echo "incremental pull after 1000 points into one shard: $ti s (job $ji s), $bi bytes pulled, $ni new, $ci shard(s) changed"
echo "pull with nothing changed: $tn s (job $jn s), $bn bytes pulled, $nn new, $cn shard(s) changed"
