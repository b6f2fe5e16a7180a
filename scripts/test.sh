#!/bin/sh
# Installs what is missing, checks the layering of #includes, builds tsvault
# twice (normal, and with AddressSanitizer + UndefinedBehaviorSanitizer), runs
# the libFuzzer harnesses briefly (tests/fuzz/ci.sh), runs the whole test suite
# in both builds, and last checks the formatting (.clang-format; a failure
# there lists the files, scripts/format.sh fixes them).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
sh scripts/install-deps.sh
# The JS client used by the integration tests, pinned by package-lock.json.
(cd tests/integration && npm ci --no-audit --no-fund --loglevel=error)
jobs=$(nproc 2>/dev/null || echo 2)

# Static checks first: they are quick and name the offending line.
sh scripts/check-includes.sh
sh scripts/check-dockerfile.sh

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTSV_SANITIZE=ON >/dev/null
cmake --build build-asan -j "$jobs"

# libFuzzer harnesses (tests/fuzz): a clang build of their own, each run
# for a short fixed time on its corpus and saved regressions.
echo "== fuzz harnesses (short run)"
TSV_FUZZ_JOBS="$jobs" sh tests/fuzz/ci.sh

echo "== test suite (normal build)"
(cd build && ctest --output-on-failure -j "$jobs")
echo "== test suite (ASan + UBSan build)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure -j "$jobs")
echo "== formatting"
sh scripts/check-format.sh
