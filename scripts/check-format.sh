#!/bin/sh
# Fails (exit 1) listing every C file that .clang-format would change, with
# the number of lines that would change; scripts/format.sh fixes them.
# With -v, prints the diffs too.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/format-files.sh
command -v clang-format >/dev/null || { echo "check-format: clang-format not installed" >&2; exit 2; }
verbose=0
[ "${1:-}" = "-v" ] && verbose=1
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT INT TERM
bad=0
lines=0
for f in $(tsv_format_files); do
    clang-format --style=file "$f" >"$tmp"
    if ! cmp -s "$f" "$tmp"; then
        n=$(diff "$f" "$tmp" | grep -c '^[<>]' || true)
        echo "$f: $n lines differ"
        [ "$verbose" -eq 1 ] && diff -u "$f" "$tmp" | sed 1,2d || true
        bad=$((bad + 1))
        lines=$((lines + n))
    fi
done
if [ "$bad" -gt 0 ]; then
    echo "check-format: $bad files differ from .clang-format ($lines changed lines); run scripts/format.sh" >&2
    exit 1
fi
echo "check-format: ok"
