#!/bin/sh
# Fails when docker/Dockerfile's build stage does not copy everything the
# CMake configure step reads (a new source folder, a new file a target is
# built from): the COPY lines of the build stage are replayed into a scratch
# directory, which must then configure and generate. The build stage lists
# its inputs on purpose (edits to docs or tests keep the compile layer
# cached); this keeps that list honest without Docker.
# Usage: scripts/check-dockerfile.sh [source root]   (default: this checkout)
set -eu
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"
ctx=$(mktemp -d "${TMPDIR:-/tmp}/tsv-dockerctx.XXXXXX")
trap 'rm -rf "$ctx"' EXIT INT TERM
# The build stage: up to the second FROM. "COPY SRC... DEST" (no --from).
awk '/^FROM /{n++} n==1 && /^COPY / && !/--from/ {print}' docker/Dockerfile |
while read -r _ args; do
    # shellcheck disable=SC2086
    set -- $args
    dest=$(eval echo "\${$#}")
    while [ $# -gt 1 ]; do
        case $dest in
        */) mkdir -p "$ctx/$dest" && cp -R "$1" "$ctx/$dest" ;;
        ./) cp -R "$1" "$ctx/" ;;
        *) mkdir -p "$ctx/$(dirname "$dest")" && cp -R "$1" "$ctx/$dest" ;;
        esac
        shift
    done
done
if ! out=$(cmake -S "$ctx" -B "$ctx/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo 2>&1); then
    echo "$out" | grep -E "CMake Error|Cannot find|not exist" | head -20 >&2
    echo "check-dockerfile: the build stage of docker/Dockerfile does not copy what CMake needs;" \
        "add the missing paths to its COPY lines" >&2
    exit 1
fi
echo "check-dockerfile: ok"
