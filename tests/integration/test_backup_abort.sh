#!/bin/bash
# A backup that fails after its 200 and headers went out must break the
# connection (no terminating chunk), so the client sees a failed transfer,
# never a clean 200 with a short or corrupt body (docs/influxdb-compat.md#b6).
#
# The trigger is real, no fault hook: the backup streams from a snapshot of
# hard links (shards) or a private copy (the metadata's SQL part), taken when
# the request starts; shrinking that file's inode while a slow client is
# reading makes the server's next read come up short, exactly like a read
# error on a failing disk. Shards: the live TSM file shares its inode with the
# snapshot's link. Metadata: the SQL copy in <data>/tmp/.
# Each case runs with identity, gzip and zstd replies; after each abort the
# server must still serve complete backups.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixture.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
CHECK="python3 $HERE/backup_check.py"
fixture_work

tsv_start a
U=$a_URL
AUTH="Authorization: Token $TSV_TOKEN"
fixture_bucket "$U" fixture-org daily "$W/m.json"
BUCKET=$(json_get 'j["id"]')
SHARD=$(json_get 'j["shardMappings"][0]["newId"]')
OTHER=$(json_get 'j["shardMappings"][1]["newId"]')

# A ~30 MB TSM file written by InfluxDB's own tsm1 writer.
mkdir -p "$W/big/b/daily/1"
"$TSV_TOOLS/tsmcheck" gen -out "$W/big/b/daily/1/000000001-000000001.tsm" -series 60 -points 20000 >/dev/null ||
    fail "tsmcheck gen"
(cd "$W/big" && tar --format=ustar -cf "$W/big.tar" b)
SIZE=$(stat -c %s "$W/big/b/daily/1/000000001-000000001.tsm")
LIVE="$a_DATA/state/engine/data/$BUCKET/daily/$SHARD/000000001-000000001.tsm"
http POST "$U/api/v2/restore/shards/$OTHER" -H "$AUTH" -H 'Content-Encoding: gzip' --data-binary "@$W/s5.tar.gz"
expect_status 204 "small shard"

# A large SQL store, so the metadata stream is still busy with it.
python3 - "$W/big.sqlite" <<'PY'
import os, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("CREATE TABLE t (b BLOB)")
for i in range(30):
    db.execute("INSERT INTO t VALUES (?)", (os.urandom(1 << 20),))
db.commit()
db.close()
PY
http POST "$U/api/v2/restore/sql" -H "$AUTH" --data-binary "@$W/big.sqlite"
expect_status 204 "restore/sql"

# slow_get NAME PATH ENCODING VICTIM-GLOB: curl through a 4 MB/s proxy with
# small buffers (slowproxy.py); shrinks the victim once 64 KiB of body have
# arrived; waits for curl. Sets RC (curl's exit code) and SECS.
PORT=${U##*:}
slow_get() {
    name=$1 path=$2 ae=$3 victim=$4
    out="$W/$name"
    rm -f "$out".*
    python3 "$HERE/slowproxy.py" "$PORT" 4000000 >"$out.port" &
    ppid_=$!
    i=0
    while [ ! -s "$out.port" ]; do
        [ $i -lt 200 ] || fail "$name: proxy did not start"
        sleep 0.05
        i=$((i + 1))
    done
    t0=$(date +%s)
    (
        rc=0
        curl -sS -N --max-time 120 -H "$AUTH" -H "Accept-Encoding: $ae" -D "$out.h" -o "$out.body" \
            "http://127.0.0.1:$(cat "$out.port")$path" 2>"$out.err" || rc=$?
        echo "$rc" >"$out.rc"
    ) &
    cpid=$!
    i=0
    while [ "$(stat -c %s "$out.body" 2>/dev/null || echo 0)" -lt 65536 ]; do
        [ $i -lt 400 ] || fail "$name: no body bytes after 20 s"
        sleep 0.05
        i=$((i + 1))
    done
    # shellcheck disable=SC2086
    set -- $victim
    [ -f "$1" ] || fail "$name: no file to shrink ($victim)"
    truncate -s 4096 "$1"
    wait "$cpid"
    wait "$ppid_" || true
    RC=$(cat "$out.rc")
    SECS=$(($(date +%s) - t0))
}

for ae in identity gzip zstd; do
    http POST "$U/api/v2/restore/shards/$SHARD" -H "$AUTH" --data-binary "@$W/big.tar"
    expect_status 204 "big shard"
    cmp -s "$LIVE" "$W/big/b/daily/1/000000001-000000001.tsm" || fail "big shard not installed"
    slow_get "shard-$ae" "/api/v2/backup/shards/$SHARD" "$ae" "$LIVE"
    [ "$RC" = 18 ] || fail "shard/$ae: curl exit $RC ($(cat "$out.err")), want 18 (transfer closed with data outstanding)"
    [ "$SECS" -lt 30 ] || fail "shard/$ae: the broken connection took $SECS s to close"
    head -n 1 "$out.h" | grep -q ' 200 ' || fail "shard/$ae: expected the 200 to have gone out"
    grep -qi '^Transfer-Encoding: chunked' "$out.h" || fail "shard/$ae: not chunked"
    ! grep -qa '"code":"internal error"' "$out.body" || fail "shard/$ae: error JSON written into the stream"
    case $ae in
    identity) decode=(cat) ;; gzip) decode=(gzip -dc) ;; zstd) decode=(zstd -qdc) ;;
    esac
    got=$("${decode[@]}" <"$out.body" 2>/dev/null | wc -c)
    [ "$got" -lt "$SIZE" ] || fail "shard/$ae: the whole file arrived ($got bytes)"
    "${decode[@]}" <"$out.body" >"$out.tar" 2>/dev/null || true
    ! $CHECK tar "$out.tar" >/dev/null 2>&1 || fail "shard/$ae: the partial body parses as a complete tar"
    grep -q "msg=\"response stream aborted\" path=\"/api/v2/backup/shards/$SHARD\"" "$a_LOG" ||
        fail "shard/$ae: no abort logged"
    pass "shard backup, $ae: file shrank mid-stream -> 200 sent, then broken transfer (curl exit $RC after $SECS s, $got of $SIZE bytes)"
done

for ae in identity gzip zstd; do
    slow_get "meta-$ae" "/api/v2/backup/metadata" "$ae" "$a_DATA/tmp/backup-*.sqlite"
    [ "$RC" = 18 ] || fail "metadata/$ae: curl exit $RC ($(cat "$out.err")), want 18 (transfer closed with data outstanding)"
    [ "$SECS" -lt 30 ] || fail "metadata/$ae: the broken connection took $SECS s to close"
    head -n 1 "$out.h" | grep -q ' 200 ' || fail "metadata/$ae: expected the 200 to have gone out"
    case $ae in
    identity) decode=(cat) ;; gzip) decode=(gzip -dc) ;; zstd) decode=(zstd -qdc) ;;
    esac
    "${decode[@]}" <"$out.body" >"$out.multipart" 2>/dev/null || true
    ! grep -qa -- '--\r$' "$out.multipart" || fail "metadata/$ae: the closing delimiter arrived"
    ! grep -qa 'name="buckets"' "$out.multipart" || fail "metadata/$ae: the buckets part arrived after a failed sql part"
    grep -q 'msg="response stream aborted" path="/api/v2/backup/metadata"' "$a_LOG" || fail "metadata/$ae: no abort logged"
    pass "metadata backup, $ae: SQL copy shrank mid-stream -> broken transfer (curl exit $RC after $SECS s)"
done
[ -z "$(ls "$a_DATA/tmp")" ] || fail "aborted backups left files in tmp/: $(ls "$a_DATA/tmp")"

# The server is fine afterwards: complete backups of everything.
curl -sS -f -H "$AUTH" -o "$W/ok.tar" "$U/api/v2/backup/shards/$OTHER" || fail "backup after the aborts"
$CHECK tar "$W/ok.tar" >/dev/null || fail "tar after the aborts"
curl -sS -f -H "$AUTH" -D "$W/ok.h" -o "$W/ok.meta" "$U/api/v2/backup/metadata" || fail "metadata after the aborts"
$CHECK multipart "$W/ok.meta" "$(sed -n 's/^Content-Type: \(.*\)\r$/\1/Ip' "$W/ok.h")" "$W/ok.parts" ||
    fail "metadata after the aborts"
python3 - "$W/ok.parts/sql" "$W/big.sqlite" <<'PY' || fail "the SQL part must hold the restored database"
import sqlite3, sys
rows = [sqlite3.connect(f).execute("SELECT b FROM t ORDER BY rowid").fetchall() for f in sys.argv[1:]]
assert len(rows[0]) == 30 and rows[0] == rows[1]
PY
pass "after the aborts: complete shard and metadata backups; no temp files left"
echo "1..all passed"
