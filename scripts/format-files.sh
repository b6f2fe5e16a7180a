#!/bin/sh
# The C files .clang-format applies to: every tracked .c/.h of the project,
# minus generated and third-party code (none is tracked today: protoc-c's
# output is written to build/; the Go checkers in tests/tools are Go).
# Sourced by scripts/format.sh and scripts/check-format.sh.
tsv_format_files() {
    git ls-files -- '*.c' '*.h' | grep -vE '(^|/)(build[^/]*|third_party|vendor|node_modules)/|\.pb-c\.[ch]$'
}
