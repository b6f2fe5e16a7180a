# Shared by ci.sh and run.sh (sourced): configure and build build-fuzz, and
# the libFuzzer options every run uses.
fuzz_root=$(cd "$(dirname "$0")/../.." && pwd)
fuzz_src=$fuzz_root/tests/fuzz
fuzz_build=${TSV_FUZZ_BUILD:-$fuzz_root/build-fuzz}
fuzz_bin=$fuzz_build/tests/fuzz

# ASan reports leaks at exit (libFuzzer checks for them after every input
# that leaked); UBSan aborts on the first report (-fno-sanitize-recover).
export ASAN_OPTIONS=${TSV_FUZZ_ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Scratch files (bolt copies, LMDB environments, shard dirs) on tmpfs.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
    export TMPDIR=/dev/shm
fi

fuzz_build_all() {
    command -v clang >/dev/null 2>&1 || { echo "fuzz: clang not found (scripts/install-deps.sh installs it)" >&2; return 1; }
    CC=clang cmake -S "$fuzz_root" -B "$fuzz_build" -DTSV_FUZZ=ON \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$fuzz_build" -j "${TSV_FUZZ_JOBS:-1}" --target fuzz_all
}

fuzz_targets() {
    grep -v '^#' "$fuzz_src/targets.txt" | awk 'NF { print $1 }'
}

# libFuzzer options for one target: dictionary, per-input timeout, memory cap.
# The timeout is wall-clock: on a machine shared with builds, a starved
# fuzzer can pass 10 s on an input that runs in milliseconds (TSV_FUZZ_TIMEOUT).
fuzz_opts() {
    d=$(awk -v t="$1" '$1 == t { print $2 }' "$fuzz_src/targets.txt")
    opts="-timeout=${TSV_FUZZ_TIMEOUT:-10} -rss_limit_mb=2048 -malloc_limit_mb=1024 -max_len=${TSV_FUZZ_MAX_LEN:-131072} -print_final_stats=1"
    if [ -n "$d" ] && [ "$d" != "-" ]; then
        opts="$opts -dict=$fuzz_src/dict/$d.dict"
    fi
    echo "$opts"
}
