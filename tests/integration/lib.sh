# Integration-test harness (sourced by tests/integration/test_*.sh).
#
# tsv_start [flags...] starts the real tsvault binary on a free loopback port
# (it binds port 0 and we read the port from its "listening" log line) with a
# fresh temporary data directory, and registers a trap that always stops it
# and removes the directory, whether the test passes or fails.
# Assertions print what they expected and what they got, and exit 1.

set -eu
: "${TSVAULT_BIN:?TSVAULT_BIN must name the tsvault binary}"
: "${TSV_TESTDATA:?TSV_TESTDATA must name the testdata directory}"

TSV_TMP=$(mktemp -d /tmp/tsv-it.XXXXXX)
TSV_PIDS=""
TSV_TOKEN="it-operator-token-$$"
TSV_FAILED=0

tsv_cleanup() {
    rc=$?
    for pid in $TSV_PIDS; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in $TSV_PIDS; do
        wait "$pid" 2>/dev/null || true
    done
    if [ "$rc" -ne 0 ]; then
        for log in "$TSV_TMP"/*.log; do
            [ -f "$log" ] || continue
            echo "---- $log (last 40 lines)"
            tail -n 40 "$log"
        done
    fi
    rm -rf "$TSV_TMP"
    exit "$rc"
}
trap tsv_cleanup EXIT INT TERM

# tsv_start NAME [extra flags...]: sets ${NAME}_URL ${NAME}_PID ${NAME}_DATA ${NAME}_LOG
tsv_start() {
    name=$1
    shift
    data="$TSV_TMP/$name-data"
    log="$TSV_TMP/$name.log"
    mkdir -p "$data"
    tsv_launch "$name" "$data" "$log" "$@"
}

# tsv_launch NAME DATADIR LOG [flags]: (re)starts a server on an existing data dir.
tsv_launch() {
    name=$1 data=$2 log=$3
    shift 3
    : >>"$log"
    # The 1.x RPC service is off unless a test asks for it (its default port
    # 8088 must not be taken by every test server).
    "$TSVAULT_BIN" serve --http-bind-address 127.0.0.1:0 --rpc-bind-address "" --data-dir "$data" \
        --operator-token "$TSV_TOKEN" --log-level debug --shutdown-timeout 10s "$@" \
        >>"$log" 2>&1 &
    pid=$!
    TSV_PIDS="$TSV_PIDS $pid"
    port=""
    i=0
    while [ $i -lt 300 ]; do
        port=$(sed -n 's/.*msg=listening.* port=\([0-9]*\).*/\1/p' "$log" | tail -n 1)
        [ -n "$port" ] && break
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "tsvault exited during start-up:"; cat "$log"; return 1
        fi
        sleep 0.05
        i=$((i + 1))
    done
    [ -n "$port" ] || { echo "tsvault did not start"; cat "$log"; return 1; }
    eval "${name}_URL=http://127.0.0.1:$port"
    eval "${name}_PID=$pid"
    eval "${name}_DATA=$data"
    eval "${name}_LOG=$log"
}

# tsv_stop NAME: SIGTERM and wait; fails if the exit code is not 0.
tsv_stop() {
    eval "pid=\$${1}_PID"
    kill -TERM "$pid"
    rc=0
    wait "$pid" || rc=$?
    [ "$rc" -eq 0 ] || fail "tsvault $1 exited with $rc after SIGTERM"
}

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# tool_run COMMAND ARGS...: runs a test tool; its output in $OUT, its errors
# in $ERR, its exit status in $RC (the test goes on either way).
tool_run() {
    RC=0
    "$@" >"$TSV_TMP/tool.out" 2>"$TSV_TMP/tool.err" || RC=$?
    OUT=$(cat "$TSV_TMP/tool.out")
    ERR=$(cat "$TSV_TMP/tool.err")
}
# expect_ok WHAT: the last tool_run exited 0.
expect_ok() { [ "$RC" = 0 ] || fail "$1: exit $RC: $ERR"; }
# expect_fail WHAT CODE REGEX: the last tool_run exited 1 with "error [CODE]: "
# and a message matching REGEX.
expect_fail() {
    [ "$RC" = 1 ] || fail "$1: expected a failure, got exit $RC: $OUT $ERR"
    echo "$ERR" | grep -q "^error \[$2\]: " || fail "$1: expected code '$2': $ERR"
    echo "$ERR" | grep -Eq "$3" || fail "$1: message does not match /$3/: $ERR"
}

# tsv_tool NAME: prints the path of the test tool NAME built next to
# tsvault; fails when it is not there (VAR=$(tsv_tool NAME) then exits too).
tsv_tool() {
    local t
    t="$(dirname "$TSVAULT_BIN")/$1"
    [ -x "$t" ] || fail "$1 not built next to $TSVAULT_BIN"
    echo "$t"
}

pass() {
    echo "ok - $*"
}

# http METHOD URL [curl args...]: sets HTTP_STATUS, HTTP_BODY (file), HTTP_HEADERS (file)
http() {
    method=$1 url=$2
    shift 2
    HTTP_BODY="$TSV_TMP/body.$$"
    HTTP_HEADERS="$TSV_TMP/headers.$$"
    HTTP_STATUS=$(curl -sS -X "$method" -o "$HTTP_BODY" -D "$HTTP_HEADERS" -w '%{http_code}' \
        "$@" "$url") || HTTP_STATUS=000
}

auth() { printf 'Authorization: Token %s' "$TSV_TOKEN"; }

expect_status() {
    [ "$HTTP_STATUS" = "$1" ] || fail "$2: expected status $1, got $HTTP_STATUS: $(head -c 500 "$HTTP_BODY")"
}

# expect_header NAME REGEX
expect_header() {
    grep -i -E "^$1: $2" "$HTTP_HEADERS" >/dev/null ||
        fail "expected header $1 matching /$2/, got: $(grep -i "^$1:" "$HTTP_HEADERS" || echo none)"
}

# json_get EXPR: evaluates a Python expression on the parsed body `j`.
json_get() {
    python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
        "$HTTP_BODY" "$1"
}

# expect_error STATUS CODE [MESSAGE-REGEX]: the InfluxDB error shape.
expect_error() {
    expect_status "$1" "error response"
    expect_header "Content-Type" "application/json; charset=utf-8"
    expect_header "X-Platform-Error-Code" "$2"
    python3 - "$HTTP_BODY" "$2" "${3:-.*}" <<'PY' || fail "error body: $(cat "$HTTP_BODY")"
import json, re, sys
j = json.load(open(sys.argv[1]))
assert set(j) == {"code", "message"}, j
assert j["code"] == sys.argv[2], j
assert re.search(sys.argv[3], j["message"]), (j["message"], sys.argv[3])
PY
}

# tsv_free_port: prints a TCP port free on 127.0.0.1 right now, for a server
# that cannot be given port 0 (one in a container on the host's network).
tsv_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# kill9_at_fault POINT LOG CMD...: runs CMD (a tsvault or a tool; its output
# to LOG) with TSVAULT_FAULT=POINT:pause, waits until it reaches that fault
# point (60 s at most), then kill -9.
kill9_at_fault() {
    local point=$1 log=$2 pid i=0
    shift 2
    TSVAULT_FAULT="$point:pause" "$@" >"$log" 2>&1 &
    pid=$!
    TSV_PIDS="$TSV_PIDS $pid"
    until grep -q "fault point reached" "$log"; do
        kill -0 "$pid" 2>/dev/null || fail "$point: $1 ended before the fault point: $(tail -3 "$log")"
        i=$((i + 1))
        [ $i -lt 1200 ] || fail "$point: fault point not reached: $(tail -3 "$log")"
        sleep 0.05
    done
    kill -9 "$pid"
    wait "$pid" 2>/dev/null || true
}

# onboard URL [BUCKET]: POST /api/v2/setup as the tests' user ada of org
# fixture-org, first bucket BUCKET (default metrics); the reply in HTTP_BODY.
onboard() {
    http POST "$1/api/v2/setup" -H 'Content-Type: application/json' \
        -d "{\"username\":\"ada\",\"password\":\"correct-horse\",\"org\":\"fixture-org\",\"bucket\":\"${2:-metrics}\",\"retentionPeriodSeconds\":0}"
    expect_status 201 "setup of $1"
}
