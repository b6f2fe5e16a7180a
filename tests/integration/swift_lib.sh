# An S3-compatible object store for the tests: OpenStack Swift from Debian's
# packages (swift-proxy, swift-account, swift-container, swift-object,
# memcached), with Swift's own s3api and tempauth middleware, on loopback
# ports chosen free, everything under one scratch directory, run as the
# current user. Built from nothing on every start: configs written here,
# rings built with Swift's RingBuilder (one device, one replica), and the
# device a plain directory (mount_check = false). Swift keeps object
# metadata in user xattrs, so the directory's file system must support them
# (ext4, xfs, btrfs do; tmpfs only from Linux 6.6): swift_start checks.
#
# Usage (bash; after lib.sh or standalone):
#   . tests/integration/swift_lib.sh
#   swift_start DIR        # DIR: an empty scratch directory it may fill
#   swift_endpoint         # prints http://127.0.0.1:PORT (the proxy)
#   swift_credentials      # prints "ACCESS SECRET" (S3: test:tester testing)
#   swift_stop             # stops every process, leaves DIR to the caller
# swift_start also registers its processes in TSV_PIDS when lib.sh is
# loaded, so lib.sh's trap stops them whatever happens. Swift reads
# /etc/swift/swift.conf (the hash path prefix/suffix; the package ships
# one) whatever swift_dir says; the rings and server configs are ours.
# Start-up takes a few seconds (five Python processes started in parallel,
# then polled until the S3 API answers).

SWIFT_ACCESS="test:tester"
SWIFT_SECRET="testing"
SWIFT_DIR=""
SWIFT_PIDS=""
SWIFT_PROXY_PORT=""

# swift__free_ports N: N distinct free loopback ports below the ephemeral
# range, one a line (bound at once, so they differ).
swift__free_ports() {
    /usr/bin/python3 - "$1" <<'PY'
import random, socket, sys
socks = []
while len(socks) < int(sys.argv[1]):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", random.randint(20000, 32000)))
        socks.append(s)
    except OSError:
        s.close()
for s in socks:
    print(s.getsockname()[1])
    s.close()
PY
}

swift__fail() {
    echo "swift_lib: $*" >&2
    for l in "$SWIFT_DIR"/log/*.log; do
        [ -f "$l" ] || continue
        echo "---- $l (last 20 lines)" >&2
        tail -n 20 "$l" >&2
    done
    swift_stop
    return 1
}

# swift__rings ACCOUNT-PORT CONTAINER-PORT OBJECT-PORT: one-device,
# one-replica rings (2^6 partitions), built with the RingBuilder that
# swift-ring-builder drives, in one Python process: the CLI takes about a
# second per call and a ring needs three calls.
swift__rings() {
    /usr/bin/python3 - "$SWIFT_DIR/etc" "$@" <<'PY'
import os, sys
from swift.common.ring import RingBuilder
etc = sys.argv[1]
for kind, port in zip(("account", "container", "object"), sys.argv[2:5]):
    b = RingBuilder(6, 1, 0)
    b.add_dev({"region": 1, "zone": 1, "ip": "127.0.0.1", "port": int(port),
               "device": "d1", "weight": 100})
    b.rebalance()
    b.save(os.path.join(etc, kind + ".builder"))
    b.get_ring().save(os.path.join(etc, kind + ".ring.gz"))
PY
}

# swift__defaults NAME PORT: the [DEFAULT] lines all the servers share.
swift__defaults() {
    cat <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $2
workers = 0
user = $(id -un)
swift_dir = $SWIFT_DIR/etc
log_name = $1
log_level = INFO
EOF
}

# swift__server KIND PORT: the config of an account/container/object server.
swift__server() {
    swift__defaults "$1-server" "$2" >"$SWIFT_DIR/etc/$1-server.conf"
    cat >>"$SWIFT_DIR/etc/$1-server.conf" <<EOF
devices = $SWIFT_DIR/devices
mount_check = false

[pipeline:main]
pipeline = $1-server

[app:$1-server]
use = egg:swift#$1
EOF
}

swift__proxy() {
    swift__defaults proxy-server "$1" >"$SWIFT_DIR/etc/proxy-server.conf"
    cat >>"$SWIFT_DIR/etc/proxy-server.conf" <<EOF

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
allow_account_management = true

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = $SWIFT_SECRET .admin

[filter:s3api]
use = egg:swift#s3api
location = us-east-1
# virtual-host style: BUCKET.localhost:PORT
storage_domain = localhost

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$2

[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
EOF
}

swift__spawn() { # NAME CMD...
    local name=$1
    shift
    "$@" >"$SWIFT_DIR/log/$name.log" 2>&1 &
    SWIFT_PIDS="$SWIFT_PIDS $!"
    [ -n "${TSV_PIDS+x}" ] && TSV_PIDS="$TSV_PIDS $!"
    return 0
}

# swift__answers PORT: 0 once something speaks HTTP on the port.
swift__answers() {
    curl -s -o /dev/null -m 2 "http://127.0.0.1:$1/" 2>/dev/null
}

swift_start() {
    SWIFT_DIR=${1:?swift_start DIR}
    for b in swift-proxy-server swift-account-server swift-container-server \
        swift-object-server memcached; do
        command -v "$b" >/dev/null || {
            echo "swift_lib: $b missing (scripts/install-deps.sh installs it)" >&2
            return 1
        }
    done
    [ -r /etc/swift/swift.conf ] || {
        echo "swift_lib: /etc/swift/swift.conf missing (the swift package ships it)" >&2
        return 1
    }
    mkdir -p "$SWIFT_DIR/etc" "$SWIFT_DIR/devices/d1" "$SWIFT_DIR/log"
    /usr/bin/python3 -c 'import os, sys; os.setxattr(sys.argv[1], "user.swift.probe", b"x")' \
        "$SWIFT_DIR/devices/d1" 2>/dev/null || {
        echo "swift_lib: $SWIFT_DIR does not support user xattrs; Swift needs them" >&2
        return 1
    }
    local pp ap cp op mp
    read -r pp ap cp op mp <<<"$(swift__free_ports 5 | xargs)"
    SWIFT_PROXY_PORT=$pp
    swift__rings "$ap" "$cp" "$op" >"$SWIFT_DIR/log/rings.log" 2>&1 ||
        { swift__fail "building the rings failed"; return 1; }
    swift__server account "$ap"
    swift__server container "$cp"
    swift__server object "$op"
    swift__proxy "$pp" "$mp"
    swift__spawn memcached memcached -l 127.0.0.1 -p "$mp" -U 0 -m 16 -u "$(id -un)"
    # -v: log to stderr too (no syslog here); ours is the file.
    swift__spawn account swift-account-server "$SWIFT_DIR/etc/account-server.conf" -v
    swift__spawn container swift-container-server "$SWIFT_DIR/etc/container-server.conf" -v
    swift__spawn object swift-object-server "$SWIFT_DIR/etc/object-server.conf" -v
    swift__spawn proxy swift-proxy-server "$SWIFT_DIR/etc/proxy-server.conf" -v
    local i=0 p
    for p in $ap $cp $op $pp; do
        until swift__answers "$p"; do
            i=$((i + 1))
            [ $i -lt 600 ] || { swift__fail "port $p did not answer in 60 s"; return 1; }
            for pid in $SWIFT_PIDS; do
                kill -0 "$pid" 2>/dev/null || { swift__fail "a Swift process exited during start-up"; return 1; }
            done
            sleep 0.1
        done
    done
    # The S3 API end to end: an authenticated ListBuckets.
    i=0
    until swift_curl -sf -o /dev/null "$(swift_endpoint)/"; do
        i=$((i + 1))
        [ $i -lt 100 ] || { swift__fail "the S3 API did not answer"; return 1; }
        sleep 0.1
    done
}

# swift_curl ARGS... URL: curl signing with SigV4 as the S3 user. The access
# key has a colon, which --user would split on, so the credentials ride in
# the URL's user part (http://test%3Atester:testing@host/...; curl decodes
# it). curl 7.88 does not send x-amz-content-sha256, which s3api requires:
# SWIFT_PAYLOAD (default UNSIGNED-PAYLOAD) is sent as that header.
swift_curl() {
    local args=() a
    for a in "$@"; do
        case $a in
        http://127.0.0.1:*) a="http://${SWIFT_ACCESS/:/%3A}:$SWIFT_SECRET@${a#http://}" ;;
        esac
        args+=("$a")
    done
    curl --aws-sigv4 "aws:amz:us-east-1:s3" \
        -H "x-amz-content-sha256: ${SWIFT_PAYLOAD:-UNSIGNED-PAYLOAD}" "${args[@]}"
}

swift_endpoint() { echo "http://127.0.0.1:$SWIFT_PROXY_PORT"; }
swift_credentials() { echo "$SWIFT_ACCESS $SWIFT_SECRET"; }

swift_stop() {
    local pid
    for pid in $SWIFT_PIDS; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in $SWIFT_PIDS; do
        wait "$pid" 2>/dev/null || true
    done
    SWIFT_PIDS=""
}
