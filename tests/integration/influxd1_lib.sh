# Helpers for tests that run Debian's real influxd 1.6.7 next to tsvault
# (sourced after lib.sh, whose TSV_TMP / TSV_PIDS / fail they use).
#
# start_influxd NAME starts an influxd with its HTTP API and its backup
# service (port 8088's "snapshotter") on free loopback ports and data in
# $TSV_TMP/influxd-NAME; lib.sh's trap stops it. Extra [data] settings may
# be given in $INFLUXD_DATA_EXTRA (one "key = value" a line).

# free_port: a free loopback port below the ephemeral range (TIME_WAIT
# client sockets can hold ephemeral ports).
free_port() {
    python3 - <<'PY'
import random, socket
for _ in range(200):
    p = random.randint(20000, 32000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); s.close(); print(p); break
    except OSError:
        s.close()
PY
}

IPIDS=""
start_influxd() { # NAME -> ${NAME}_HTTP ${NAME}_RPC ${NAME}_DIR
    local n=$1 d="$TSV_TMP/influxd-$1" http rpc i=0
    http=$(free_port)
    rpc=$(free_port)
    mkdir -p "$d"
    cat >"$d/influxd.conf" <<EOF
reporting-disabled = true
bind-address = "127.0.0.1:$rpc"
[meta]
  dir = "$d/meta"
[data]
  dir = "$d/data"
  wal-dir = "$d/wal"
  index-version = "inmem"
${INFLUXD_DATA_EXTRA:-}
[retention]
  enabled = false
[shard-precreation]
  enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[http]
  bind-address = "127.0.0.1:$http"
  log-enabled = false
EOF
    influxd -config "$d/influxd.conf" >"$TSV_TMP/influxd-$n.log" 2>&1 &
    local pid=$!
    TSV_PIDS="$TSV_PIDS $pid"
    until curl -sf "http://127.0.0.1:$http/ping" >/dev/null 2>&1; do
        kill -0 "$pid" 2>/dev/null || fail "influxd did not start: $(tail -5 "$TSV_TMP/influxd-$n.log")"
        [ $i -lt 300 ] || fail "influxd did not answer"
        sleep 0.1
        i=$((i + 1))
    done
    eval "${n}_HTTP=$http ${n}_RPC=$rpc ${n}_DIR=$d"
}

