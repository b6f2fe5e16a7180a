#!/bin/sh
# Installs every Debian package tsvault needs to build, run and test.
# Idempotent: packages already present are not touched, and apt is only
# called when something is missing. Needs root (or sudo) for apt-get.
# (influxdb, isal, zstd and linux-perf are also what tests/bench/ uses;
# prometheus brings promtool, which checks /metrics in the tests; chromium
# and a font run the console's browser test, driven by npm's puppeteer-core;
# Swift and memcached are the S3-compatible store of
# tests/integration/swift_lib.sh, python3-swiftclient its independent client.)
# --build-only installs just what compiling tsvault needs (docker/Dockerfile).
set -eu

BUILD_PACKAGES="
build-essential cmake pkg-config git curl ca-certificates
libcivetweb-dev liblmdb-dev libarchive-dev
libprotobuf-c-dev protobuf-c-compiler
libzstd-dev zlib1g-dev libisal-dev libsnappy-dev
libsqlite3-dev libssl-dev libcrypt-dev libcmocka-dev
uuid-dev libcurl4-openssl-dev
"
PACKAGES="$BUILD_PACKAGES
lmdb-utils zstd isal sqlite3
clang libclang-rt-dev
golang-go golang-github-coreos-bbolt-dev golang-github-influxdb-influxdb-dev
influxdb influxdb-client
nodejs npm python3
chromium fonts-dejavu-core
linux-perf prometheus
swift swift-proxy swift-account swift-container swift-object memcached python3-swiftclient
docker.io docker-compose mmdebstrap
clang-format
"
[ "${1:-}" = --build-only ] && PACKAGES=$BUILD_PACKAGES

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
# A machine may carry its own node/npm outside Debian; use it if present.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    missing=$(echo "$missing" | tr ' ' '\n' | grep -vx -e nodejs -e npm | tr '\n' ' ')
fi
missing=$(echo "$missing" | xargs || true)

if [ -n "$missing" ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO=sudo
    echo "install-deps: installing: $missing"
    $SUDO apt-get update -qq
    # influxdb's package would start a service; policy-rc.d keeps it from
    # running so tests own every influxd they start.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
        $SUDO chmod +x /usr/sbin/policy-rc.d
        trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
else
    echo "install-deps: all packages present"
fi
