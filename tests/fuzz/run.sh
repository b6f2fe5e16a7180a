#!/bin/sh
# A longer fuzz campaign on one harness: tests/fuzz/run.sh TARGET MINUTES
# Runs under nice -n 19 from the committed corpus plus the regression inputs,
# then merges what it found into tests/fuzz/corpus/TARGET (-merge=1 keeps
# only inputs that add coverage, so the corpus stays small). Crashes land in
# build-fuzz/findings/TARGET-*; the log (with libFuzzer's final stats) in
# build-fuzz/findings/TARGET.log. Set TSV_FUZZ_JOBS_RUN=N for N parallel jobs.
set -eu
. "$(dirname "$0")/lib.sh"
[ $# -eq 2 ] || { echo "usage: $0 TARGET MINUTES" >&2; exit 2; }
t=$1
mins=$2
fuzz_targets | grep -qx "$t" || { echo "unknown target $t (see tests/fuzz/targets.txt)" >&2; exit 2; }
[ -x "$fuzz_bin/fuzz_$t" ] || fuzz_build_all
out=$fuzz_build/findings
mkdir -p "$out"
new=$(mktemp -d)
trap 'rm -rf "$new"' EXIT
corpus=$fuzz_src/corpus/$t
reg=$fuzz_src/regressions/$t
mkdir -p "$corpus"
dirs="$new $corpus"
[ -d "$reg" ] && dirs="$dirs $reg"
rc=0
# shellcheck disable=SC2046,SC2086
nice -n 19 "$fuzz_bin/fuzz_$t" $(fuzz_opts "$t") -max_total_time=$((mins * 60)) \
    -artifact_prefix="$out/$t-" $dirs >"$out/$t.log" 2>&1 || rc=$?
tail -n 12 "$out/$t.log"
# Keep what adds coverage (never the crashing inputs: those go to
# regressions/ by hand, once fixed).
nice -n 19 "$fuzz_bin/fuzz_$t" $(fuzz_opts "$t") -merge=1 "$corpus" "$new" >"$out/$t.merge.log" 2>&1 || true
# The committed corpus stays small: merged inputs (SHA-1 names) over 16 KiB
# go; the named seeds from make_seeds.py stay whatever their size.
find "$corpus" -type f -size +16k -regextype egrep -regex '.*/[0-9a-f]{40}$' -delete
echo "corpus/$t: $(ls "$corpus" | wc -l) files, $(du -sk "$corpus" | cut -f1) KiB"
exit $rc
