#!/bin/bash
# TSM string blocks: tsvault's decoder vs Debian's libsnappy, same run
# (tests/bench/snappy_strings.c; results in docs/benchmarks.md).
#
#   tests/bench/snappy.sh [BUILD_DIR]      (default: build; needs tsv_bench_snappy built)
#
# Inputs: every TSM file of testdata/ (InfluxDB 1.8's v1db.zip, the 1.6.7
# portable backup), plus, when the bench cache has them (tests/bench/README.md),
# one shard written by influxd 1.6.7 through HTTP (influx-v2) and one generated
# shard (rpc1x-data-v1). Each set is measured on its own.
# Environment: TSV_BENCH_CACHE, TSV_BENCH_RUNS (default 5), SNAPPY_MIN_SECONDS
# (default 0.3 per run and decoder).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build}
bin=$build/tsv_bench_snappy
cache=${TSV_BENCH_CACHE:-$HOME/.cache/tsvault-bench}
runs=${TSV_BENCH_RUNS:-5}
min=${SNAPPY_MIN_SECONDS:-0.3}
[ -x "$bin" ] || { echo "snappy.sh: build tsv_bench_snappy first ($bin)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/v18" "$tmp/v16" "$tmp/v2"
(cd "$tmp/v18" && python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall()' \
    "$root/testdata/influxdb-1.8-datadir/v1db.zip")
for t in "$root"/testdata/influxdb-1.6-portable/backup/*.tar.gz; do
    tar -xzf "$t" -C "$tmp/v16"
done
mapfile -t testdata < <(find "$tmp/v18" "$tmp/v16" -name '*.tsm' | sort)

sets=("testdata (real, ${#testdata[@]} files)")
files=("${testdata[*]}")
v2=$(ls "$cache"/influx-v2/portable/*.s1.tar.gz 2>/dev/null | head -1 || true)
if [ -n "$v2" ]; then
    tar -xzf "$v2" -C "$tmp/v2"
    sets+=("influxd 1.6.7 via HTTP, one shard")
    files+=("$(find "$tmp/v2" -name '*.tsm' | sort | tr '\n' ' ')")
fi
gen=$(ls "$cache"/rpc1x-data-v1/tree/*/autogen/1/*.tsm 2>/dev/null | head -1 || true)
if [ -n "$gen" ]; then
    sets+=("generated shard (tsmcheck gen)")
    files+=("$gen")
fi

echo "load: $(cut -d' ' -f1-3 /proc/loadavg); libsnappy $(dpkg-query -W -f='${Version}' libsnappy-dev 2>/dev/null || echo '?')"
for i in "${!sets[@]}"; do
    echo
    echo "### ${sets[$i]}"
    # shellcheck disable=SC2086 # one word per file
    "$bin" "$runs" "$min" ${files[$i]}
done
