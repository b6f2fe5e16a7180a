#!/bin/sh
# Reformats the project's C files in place with .clang-format (Debian's
# clang-format). With arguments, only those files. The lead runs it once on
# the whole tree; engineers run it on files they wrote.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/format-files.sh
command -v clang-format >/dev/null || { echo "format: clang-format not installed" >&2; exit 2; }
if [ "$#" -gt 0 ]; then
    clang-format -i --style=file "$@"
else
    tsv_format_files | xargs -r clang-format -i --style=file
fi
