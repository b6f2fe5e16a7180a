#!/bin/sh
# Builds the project's independent Go checkers (tests/tools/<name>/main.go)
# against Debian's Go sources (golang-github-coreos-bbolt-dev,
# golang-github-influxdb-influxdb-dev) in GOPATH mode: nothing is downloaded.
# Usage: build.sh OUTDIR
set -eu
out=${1:?usage: build.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
export GO111MODULE=off
# tests/tools/lib holds the packages the tools share, as tsvault/tools/lib/...
mkdir -p "$out/gopath/src/tsvault"
ln -sfn "$here" "$out/gopath/src/tsvault/tools"
export GOPATH="$out/gopath:/usr/share/gocode"
export GOCACHE="$out/.gocache"
export GOFLAGS=
export CGO_ENABLED=0
for dir in "$here"/*/; do
    name=$(basename "$dir")
    [ -f "$dir/main.go" ] || continue
    echo "building $name"
    (cd "$dir" && go build -o "$out/$name" .)
done
echo "tools built in $out"
