# shellcheck shell=bash
# Debian's influxd 1.6.7 as the tests and the benchmarks run it (sourced by
# influxd1_lib.sh and tests/bench/lib.sh): on loopback, data under one
# directory, nothing running on its own (retention, precreation, monitor,
# continuous queries) so that only what the caller does changes the data.

# influxd1_conf DIR RPC_PORT HTTP_PORT [DATA_EXTRA [HTTP_EXTRA]]: writes
# DIR/influxd.conf; the EXTRAs are "key = value" lines for [data] and [http].
influxd1_conf() {
    cat >"$1/influxd.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$2"
[meta]
  dir = "$1/meta"
[data]
  dir = "$1/data"
  wal-dir = "$1/wal"
  index-version = "inmem"
${4:-}
[retention]
  enabled = false
[shard-precreation]
  enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[http]
  bind-address = "127.0.0.1:$3"
  log-enabled = false
${5:-}
CONF
}

# influxd1_wait PID HTTP_PORT LOG FAIL: waits (30 s at most) until influxd
# answers /ping; calls FAIL (the caller's fail or die) with the tail of LOG
# when it exits first.
influxd1_wait() {
    local i=0
    until curl -sf "http://127.0.0.1:$2/ping" >/dev/null 2>&1; do
        kill -0 "$1" 2>/dev/null || "$4" "influxd did not start: $(tail -5 "$3")"
        [ $i -lt 300 ] || "$4" "influxd did not answer on 127.0.0.1:$2"
        sleep 0.1
        i=$((i + 1))
    done
}
