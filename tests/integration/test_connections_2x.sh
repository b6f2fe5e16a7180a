#!/bin/bash
# Connections to InfluxDB 2.x servers: a second tsvault serves the real 2.x
# backup API (verified against the influx CLI), a third receives restores.
#   1. source A gets the 1.6 fixture (influxd restore -portable over port
#      8088); connection with its operator token; test; pull
#   2. a new database lands in A; pull again: the old shards are probed,
#      not downloaded; only the new ones are
#   3. push the latest snapshot in full into a fresh tsvault C: its backup
#      API serves the same buckets and byte-identical TSM files
#   4. partial push with a bucket rename into tsvault D
#   5. the token never appears in replies, logs or errors; a wrong token, an
#      unreachable host, a source that lies (truncated tar, bad gzip, a
#      multipart without kv, a tar whose entries do not match the manifest)
#      each fail the job with a precise message and store nothing
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/jobs_lib.sh"
command -v influxd >/dev/null || fail "influxd (Debian package influxdb 1.6.7) is not installed"

snapshots() {
    http GET "$U/api/v2/connections/$1/snapshots" -H "$(auth)"
    expect_status 200 "snapshots of $1"
}
run_job() { expect_job "$U" "$TSV_TOKEN" "$@"; } # BODY EXPECTED-STATUS
pull() { run_job "{\"type\":\"backup\",\"source\":{\"type\":\"connection\",\"connectionName\":\"$1\"}}" "${2:-completed}"; }
connect() { # NAME URL TOKEN
    http POST "$U/api/v2/connections" -H "$(auth)" -H 'Content-Type: application/json' \
        -d "{\"name\":\"$1\",\"type\":\"influxdb2\",\"url\":\"$2\",\"secrets\":{\"token\":\"$3\"},\"timeoutSeconds\":3}"
    expect_status 201 "create connection $1"
}
# tsm_of URL TOKEN: "sha256 bucketName/file" of every TSM/tombstone the backup API serves
tsm_of() {
    python3 - "$1" "$2" "$W/tsm-$$" <<'PY'
import hashlib, io, json, os, sys, tarfile, urllib.request
url, tok, tmp = sys.argv[1:4]
def get(path):
    r = urllib.request.urlopen(urllib.request.Request(url + path, headers={"Authorization": "Token " + tok}))
    return r.read()
body = get("/api/v2/backup/metadata")
# the buckets part is the last JSON array in the multipart body
start = body.rindex(b"\r\n\r\n[") + 4
manifests = json.loads(body[start:body.index(b"\r\n--", start)])
out = []
for m in manifests:
    for rp in m["retentionPolicies"]:
        for g in rp["shardGroups"]:
            for s in g["shards"]:
                t = tarfile.open(fileobj=io.BytesIO(get("/api/v2/backup/shards/%d" % s["id"])))
                for e in t.getmembers():
                    out.append("%s %s/%s" % (hashlib.sha256(t.extractfile(e).read()).hexdigest(),
                                             m["bucketName"], os.path.basename(e.name)))
print("\n".join(sorted(out)))
PY
}

# ---- 1. the source ------------------------------------------------------------------------------
tsv_start a --rpc-bind-address 127.0.0.1:0
RPC=$(sed -n 's/.*msg="1.x rpc listening".* rpc_port=\([0-9]*\).*/\1/p' "$a_LOG" | tail -n 1)
# a set-up server: its KV holds an operator authorization, as a full restore needs
http POST "$a_URL/api/v2/setup" -H 'Content-Type: application/json' \
    -d '{"username":"ada","password":"correct-horse","org":"src-org","bucket":"metrics","retentionPeriodSeconds":0}'
expect_status 201 "setup A"
influxd restore -portable -host "127.0.0.1:$RPC" "$FIXTURE/backup" >"$W/r1.out" 2>&1 ||
    fail "influxd restore into A: $(cat "$W/r1.out")"
sleep 0.5
tsv_start t
U=$t_URL
connect src "$a_URL" "$TSV_TOKEN"
http GET "$U/api/v2/connections/src" -H "$(auth)"
grep -q "$TSV_TOKEN" "$HTTP_BODY" && fail "the token appears in GET"
[ "$(json_get 'j["secrets"]')" = "{}" ] || fail "secrets must be write-only: $(cat "$HTTP_BODY")"
http POST "$U/api/v2/connections/src/test" -H "$(auth)"
expect_status 200 "test"
pass "influxdb2 connection to tsvault A: test says $(json_get 'j["message"]')"

pull src
snapshots src
[ "$(json_get 'j["values"][0]["shards"], j["values"][0]["shardsChanged"]')" = "(5, 5)" ] ||
    fail "first pull: $(cat "$HTTP_BODY")"
B1=$(json_get 'j["values"][0]["bytesPulled"]')
pass "first pull: 5 shards (the set-up bucket has none yet), $B1 bytes"

# ---- 2. incremental -------------------------------------------------------------------------------
sleep 1.1
influxd restore -portable -host "127.0.0.1:$RPC" -db fixture -newdb more "$FIXTURE/backup" >"$W/r2.out" 2>&1 ||
    fail "second restore into A: $(cat "$W/r2.out")"
sleep 0.5
pull src
snapshots src
[ "$(json_get 'j["values"][1]["shards"], j["values"][1]["shardsChanged"]')" = "(10, 5)" ] ||
    fail "second pull must download only the 5 new shards: $(cat "$HTTP_BODY")"
B2=$(json_get 'j["values"][1]["bytesPulled"]')
N2=$(json_get 'j["values"][1]["bytesNew"]')
pass "incremental pull: 10 shards, 5 changed, $B2 bytes pulled, $N2 new (the new shards' TSM equal the old ones: stored once)"

# ---- 3. full push into a fresh tsvault ---------------------------------------------------------
tsv_start c
connect c "$c_URL" "$TSV_TOKEN"
run_job '{"type":"restore","source":{"type":"connection","connectionName":"src"},"target":{"type":"connection","connectionName":"c","full":true}}' completed
diff <(tsm_of "$a_URL" "$TSV_TOKEN") <(tsm_of "$c_URL" "$TSV_TOKEN") >&2 ||
    fail "C's backup API differs from A's after a full push"
pass "full push into tsvault C: its backup API serves A's buckets with byte-identical TSM"

# ---- 4. partial push with a rename ---------------------------------------------------------------
tsv_start d
http POST "$d_URL/api/v2/orgs" -H "$(auth)" -H 'Content-Type: application/json' -d '{"name":"src-org"}'
expect_status 201 "org on D"
connect d "$d_URL" "$TSV_TOKEN"
run_job '{"type":"restore","source":{"type":"connection","connectionName":"src"},"target":{"type":"connection","connectionName":"d","rename":{"fixture/autogen":"copied"}}}' completed
tsm_of "$d_URL" "$TSV_TOKEN" | grep -c " copied/" >"$W/n" || true
tsm_of "$a_URL" "$TSV_TOKEN" | grep " fixture/autogen/" | awk '{print $1}' | sort >"$W/want"
tsm_of "$d_URL" "$TSV_TOKEN" | grep " copied/" | awk '{print $1}' | sort >"$W/got"
[ -s "$W/want" ] && diff "$W/want" "$W/got" >&2 || fail "bucket copied on D must hold fixture/autogen's TSM"
pass "partial push with rename fixture/autogen -> copied into tsvault D"

# ---- 4b. pushes of a tsvault's own state (source "local") --------------------------------------
tsv_start e
http POST "$a_URL/api/v2/connections" -H "$(auth)" -H 'Content-Type: application/json' \
    -d "{\"name\":\"e\",\"type\":\"influxdb2\",\"url\":\"$e_URL\",\"secrets\":{\"token\":\"$TSV_TOKEN\"}}"
expect_status 201 "connection e on A"
expect_job "$a_URL" "$TSV_TOKEN" '{"type":"restore","source":{"type":"local"},"target":{"type":"connection","connectionName":"e","full":true}}' completed
diff <(tsm_of "$a_URL" "$TSV_TOKEN") <(tsm_of "$e_URL" "$TSV_TOKEN") >&2 ||
    fail "E's backup API differs from A's after a local full push"
pass "source local: A pushes its own state in full into tsvault E (byte-identical TSM)"
. "$(dirname "$0")/influxd1_lib.sh"
start_influxd f
http POST "$a_URL/api/v2/connections" -H "$(auth)" -H 'Content-Type: application/json' \
    -d "{\"name\":\"f\",\"type\":\"influxdb1\",\"host\":\"127.0.0.1:$f_RPC\"}"
expect_status 201 "connection f on A"
expect_job "$a_URL" "$TSV_TOKEN" '{"type":"restore","source":{"type":"local","orgName":"src-org"},"target":{"type":"connection","connectionName":"f","rename":{"fixture":"fixture_copy"}}}' completed
mkdir -p "$W/fx"
for f in "$FIXTURE"/backup/*.tar.gz; do tar xzf "$f" -C "$W/fx"; done
for rp in autogen daily; do
    diff <(cd "$W/fx/fixture/$rp" && find . -name '*.tsm' -exec sha256sum {} + | awk '{print $1}' | sort) \
        <(cd "$f_DIR/data/fixture_copy/$rp" && find . -name '*.tsm' -exec sha256sum {} + | awk '{print $1}' | sort) >&2 ||
        fail "influxd's fixture_copy/$rp differs from the fixture"
done
http POST "$a_URL/api/v2/jobs" -H "$(auth)" -H 'Content-Type: application/json' \
    -d '{"type":"restore","source":{"type":"local","targetTime":"2024-01-01T00:00:00Z"},"target":{"type":"connection","connectionName":"f"}}'
expect_error 400 invalid "pitr job first"
pass "source local into influxd 1.6.7 as a 1.x server (fixture -> fixture_copy): TSM byte-identical to the fixture"

# ---- 5. secrets and failures ------------------------------------------------------------------
connect wrongtoken "$a_URL" "not-the-token"
http POST "$U/api/v2/connections/wrongtoken/test" -H "$(auth)"
expect_error 422 "unprocessable entity" "401|rejected|unauthorized"
grep -q "not-the-token" "$HTTP_BODY" && fail "the token appears in an error"
pull wrongtoken failed
grep -q "not-the-token" "$HTTP_BODY" && fail "the token appears in the job"
DEAD=$(tsv_free_port)
connect dead "http://127.0.0.1:$DEAD" "$TSV_TOKEN"
pull dead failed
json_get 'j.get("health",{})' >/dev/null
pass "wrong token: test 422 saying the source refused it, pull failed; unreachable host: pull failed"

# a source that lies
python3 "$HERE/lying_influx2.py" "$W/liar.port" >"$TSV_TMP/liar.log" 2>&1 &
TSV_PIDS="$TSV_PIDS $!"
i=0
until [ -s "$W/liar.port" ]; do sleep 0.05; i=$((i+1)); [ $i -lt 200 ] || fail "liar did not start"; done
LIAR="http://127.0.0.1:$(cat "$W/liar.port")"
for case in "truncated-tar:truncated" "bad-gzip:gzip" "no-kv:kv" \
    "wrong-entries:does not match the metadata" "truncated-metadata:metadata" "slow:slow|timed out|timeout"; do
    mode=${case%%:*} want=${case#*:}
    connect "liar-$mode" "$LIAR/$mode" "$TSV_TOKEN"
    pull "liar-$mode" failed
    msg=$(json_get 'j["health"]["message"]')
    echo "$msg" | grep -qiE "$want" || fail "$mode: the message must say '$want': $msg"
    snapshots "liar-$mode"
    [ "$(json_get 'len(j["values"])')" = 0 ] || fail "$mode: a snapshot was stored"
    echo "   $mode -> $msg"
done
pass "a lying source (truncated tar, bad gzip, no kv part, foreign entries, cut metadata) or a stalled one (timeoutSeconds 3) fails the pull with that reason, stores nothing"

grep -q "not-the-token" "$t_LOG" && fail "a connection's token appears in tsvault's log"
pass "no connection token in tsvault T's log"
