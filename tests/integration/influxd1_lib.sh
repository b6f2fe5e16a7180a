# Helpers for tests that run Debian's real influxd 1.6.7 next to tsvault
# (sourced after lib.sh, whose TSV_TMP / TSV_PIDS / fail they use).
#
# start_influxd NAME starts an influxd with its HTTP API and its backup
# service (port 8088's "snapshotter") on free loopback ports and data in
# $TSV_TMP/influxd-NAME; lib.sh's trap stops it. Extra [data] settings may
# be given in $INFLUXD_DATA_EXTRA (one "key = value" a line).

# shellcheck source=tests/integration/influxd1_conf.sh
. "$(dirname "${BASH_SOURCE[0]}")/influxd1_conf.sh"

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
    local n=$1 d="$TSV_TMP/influxd-$1" http rpc
    http=$(free_port)
    rpc=$(free_port)
    mkdir -p "$d"
    influxd1_conf "$d" "$rpc" "$http" "${INFLUXD_DATA_EXTRA:-}"
    influxd -config "$d/influxd.conf" >"$TSV_TMP/influxd-$n.log" 2>&1 &
    local pid=$!
    TSV_PIDS="$TSV_PIDS $pid"
    influxd1_wait "$pid" "$http" "$TSV_TMP/influxd-$n.log" fail
    eval "${n}_HTTP=$http ${n}_RPC=$rpc ${n}_DIR=$d"
}

