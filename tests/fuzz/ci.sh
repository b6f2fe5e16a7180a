#!/bin/sh
# The fuzz step of scripts/test.sh: builds every harness (clang, build-fuzz)
# and runs each for a short fixed time on its committed corpus plus its saved
# regression inputs. Any crash, leak, sanitizer report, timeout or violated
# property fails the step (libFuzzer exits non-zero). Nothing in the tree is
# written: new inputs go to a temporary directory, crashes to
# build-fuzz/ci-artifacts/.
# Usage: sh tests/fuzz/ci.sh [SECONDS_PER_HARNESS]   (default 15)
set -eu
. "$(dirname "$0")/lib.sh"
secs=${1:-${TSV_FUZZ_SECONDS:-15}}
start=$(date +%s)
fuzz_build_all
art=$fuzz_build/ci-artifacts
mkdir -p "$art"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=""
for t in $(fuzz_targets); do
    corpus=$fuzz_src/corpus/$t
    reg=$fuzz_src/regressions/$t
    mkdir -p "$work/$t"
    dirs="$work/$t $corpus"
    [ -d "$reg" ] && dirs="$dirs $reg"
    log=$art/$t.log
    # shellcheck disable=SC2046,SC2086
    if nice -n 19 "$fuzz_bin/fuzz_$t" $(fuzz_opts "$t") -max_total_time="$secs" \
        -artifact_prefix="$art/$t-" $dirs >"$log" 2>&1; then
        echo "fuzz $t: ok ($(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}') runs in ${secs}s)"
    else
        echo "fuzz $t: FAILED (log: $log)"
        grep -E 'ERROR|violated|SUMMARY|Test unit written' "$log" | head -20 || true
        failed="$failed $t"
    fi
done
echo "fuzz: $(( $(date +%s) - start ))s in total"
if [ -n "$failed" ]; then
    echo "fuzz: failed:$failed"
    exit 1
fi
