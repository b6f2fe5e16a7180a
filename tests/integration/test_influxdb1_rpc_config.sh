#!/bin/bash
# The 1.x RPC service's flags: --rpc-org picks the org of the db/rp buckets,
# --rpc-allowed-hosts refuses other peers, bad values and a port in use stop
# start-up with a message, and an empty --rpc-bind-address disables it.
. "$(dirname "$0")/lib.sh"
FIXTURE="$TSV_TESTDATA/influxdb-1.6-portable"
command -v influxd >/dev/null || fail "influxd (Debian package influxdb 1.6.7) is not installed"
W="$TSV_TMP/work"
mkdir -p "$W"

rpc_port() { sed -n 's/.*msg="1.x rpc listening".* rpc_port=\([0-9]*\).*/\1/p' "$1" | tail -n 1; }

# --rpc-org by name: restores land in that org, not in the first one.
tsv_start s --rpc-bind-address 127.0.0.1:0 --rpc-org second --rpc-timeout 3s
RPC=$(rpc_port "$s_LOG")
for o in first second; do
    http POST "$s_URL/api/v2/orgs" -H "$(auth)" -H 'Content-Type: application/json' -d "{\"name\":\"$o\"}"
    expect_status 201 "create org $o"
done
influxd restore -portable -host "127.0.0.1:$RPC" "$FIXTURE/backup" >"$W/r.out" 2>&1 ||
    fail "restore: $(cat "$W/r.out")"
# (the server commits just after the client has sent its last shard)
for i in $(seq 1 200); do
    http GET "$s_URL/api/v2/buckets?org=second&name=fixture%2Fautogen" -H "$(auth)"
    [ "$(json_get 'len(j["buckets"])')" = 1 ] && break
    sleep 0.05
done
[ "$(json_get 'len(j["buckets"])')" = 1 ] || fail "fixture/autogen not in org second"
http GET "$s_URL/api/v2/buckets?org=first" -H "$(auth)"
[ "$(json_get 'len([b for b in j["buckets"] if b["name"].startswith("fixture")])')" = 0 ] || fail "buckets in org first"
influxd backup -portable -host "127.0.0.1:$RPC" "$W/bk" >"$W/b.out" 2>&1 || fail "backup: $(cat "$W/b.out")"
[ "$(ls "$W"/bk/*.tar.gz | wc -l)" = 5 ] || fail "backup of org second: expected 5 archives"
pass "--rpc-org second: restore creates fixture/{autogen,daily} there, backup reads them back"

# --rpc-allowed-hosts: a peer outside the list is closed at once.
tsv_start a --rpc-bind-address 127.0.0.1:0 --rpc-allowed-hosts '10.1.2.3, 192.168.0.0/16,fd00::/8'
APORT=$(rpc_port "$a_LOG")
python3 - "$APORT" <<'PY' || fail "a refused peer got an answer"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
try:
    s.sendall(b"\x03\x01" + b'{"Type":1}\n')
    got = s.recv(100)
except (ConnectionResetError, BrokenPipeError):
    got = b""
assert got == b"", got
PY
grep -q 'reason="not in --rpc-allowed-hosts"' "$a_LOG" || fail "no refusal log line"
tsv_start b --rpc-bind-address 127.0.0.1:0 --rpc-allowed-hosts 127.0.0.0/8
BPORT=$(rpc_port "$b_LOG")
influxd backup -portable -host "127.0.0.1:$BPORT" "$W/bk2" >"$W/b2.out" 2>&1 || fail "allowed peer: $(cat "$W/b2.out")"
pass "--rpc-allowed-hosts: 127.0.0.1 refused by 10.1.2.3,192.168.0.0/16,fd00::/8, served by 127.0.0.0/8"

# Bad values and a taken port stop start-up with a message.
expect_start_failure() { # MESSAGE-REGEX FLAGS...
    local re=$1
    shift
    local out="$W/start.out" rc=0
    timeout 20 "$TSVAULT_BIN" serve --http-bind-address 127.0.0.1:0 --data-dir "$W/d-$RANDOM" "$@" >"$out" 2>&1 || rc=$?
    [ "$rc" -ne 0 ] || fail "tsvault started with $*"
    grep -Eq "$re" "$out" || fail "start with $*: expected /$re/, got: $(cat "$out")"
}
expect_start_failure 'not an IP address or CIDR' --rpc-bind-address 127.0.0.1:0 --rpc-allowed-hosts nothost
expect_start_failure 'bad prefix' --rpc-bind-address 127.0.0.1:0 --rpc-allowed-hosts 10.0.0.0/40
expect_start_failure 'timeout must be 1s..1h' --rpc-timeout 0s
expect_start_failure 'needs a port' --rpc-bind-address 127.0.0.1
expect_start_failure 'cannot start the 1.x RPC service.*Address already in use' --rpc-bind-address "127.0.0.1:$RPC"
pass "bad --rpc-* values and a port in use stop start-up with a message"

# Empty address: no service, no log line.
tsv_start c
grep -q '1.x rpc listening' "$c_LOG" && fail "the 1.x service started with an empty --rpc-bind-address"
pass "--rpc-bind-address \"\" disables the service"
