#!/bin/bash
# Where tsvault's time goes in one benchmark operation (see tests/bench/README.md):
#
#   tests/bench/profile.sh OP
#
# OP: restore-gzip-1, restore-gzip-2, restore-zstd-1, restore-zstd-2,
# restore-identity-2 (ENC-STREAMS), backup-default, backup-speedy.
# Runs OP $TSV_BENCH_RUNS times (default 5) on run.sh's cached data with
# `perf record` sampling every thread of the server, prints each run's wall
# and server CPU time, then perf's split by thread and the top symbols.
# Needs linux-perf (perf) besides run.sh's packages.
set -euo pipefail
WORK=${TSV_BENCH_CACHE:-$HOME/.cache/tsvault-bench}/work-profile
# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"
trap bench_cleanup EXIT INT TERM

op=${1:-}
case $op in
restore-gzip-1 | restore-gzip-2 | restore-zstd-1 | restore-zstd-2 | restore-identity-2) ;;
backup-default | backup-speedy) ;;
*) die "usage: profile.sh restore-{gzip,zstd}-{1,2} | restore-identity-2 | backup-{default,speedy}" ;;
esac
command -v perf >/dev/null || die "perf is missing: apt-get install linux-perf"
check_tools
build_tsvault
ensure_data
rm -rf "$WORK"
mkdir -p "$WORK"
start_tsvault "$WORK/tsvault" "$WORK/tsvault.log"
case $op in backup-*) restore_source ;; esac

perf record -q -F 2000 -g -p "$TPID" -o "$WORK/perf.data" 2>/dev/null &
PERF=$!
sleep 0.5
for _ in $(seq 1 "$RUNS"); do
    case $op in
    restore-*)
        IFS=- read -r _ enc streams <<<"$op"
        restore_once "$enc" "$streams"
        ;;
    backup-*)
        backup_once "${op#backup-}"
        ;;
    esac
    awk -v s="$T_S" -v c="$T_CPU" -v b="$TSM_BYTES" \
        'BEGIN { printf "run: %.3f s, %.0f MB/s, server CPU %.2f s\n", s, b / 1e6 / s, c }'
done
kill -INT "$PERF"
wait "$PERF" || true
# awk, not grep | head: head's early exit would end the pipeline with
# SIGPIPE (status 141 under pipefail) once the report is long enough.
echo "-- by thread and library"
perf report -i "$WORK/perf.data" --no-children --sort comm,dso -g none 2>/dev/null |
    awk '/%/ && n++ < 15'
echo "-- top symbols"
perf report -i "$WORK/perf.data" --no-children --sort comm,sym -g none 2>/dev/null |
    awk '/%/ && n++ < 25'
