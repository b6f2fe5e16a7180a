#!/bin/sh
# Installs what is missing, builds tsvault and starts it on 127.0.0.1:8086
# with the data directory ./tsvault-data (override with TSVAULT_* variables
# or flags, e.g. scripts/serve.sh --data-dir /srv/tsvault).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
sh scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)"
: "${TSVAULT_HTTP_BIND_ADDRESS:=127.0.0.1:8086}"
: "${TSVAULT_DATA_DIR:=$root/tsvault-data}"
export TSVAULT_HTTP_BIND_ADDRESS TSVAULT_DATA_DIR
exec build/tsvault serve "$@"
