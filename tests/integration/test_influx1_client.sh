#!/bin/bash
# tsvault's client of the InfluxDB 1.x backup protocol (remote/influx1_rpc.h,
# driven by tsv_influx1tool) against Debian's real influxd 1.6.7 and against
# tsvault's own port-8088 service:
#   1. probe; fetch the metastore and every shard of a few MB written over
#      HTTP: the tars are byte-identical to what `influxd backup -portable`
#      wrote (same TSM bytes), throughput reported;
#   2. restore database src as dst into a SECOND fresh influxd (and one RP
#      renamed): the same SELECT results; a restore onto an existing name is
#      refused;
#   3. Since: a shard unchanged since T gives an empty tar, a shard written
#      after T gives its new file only;
#   4. tsvault: restore the influxd backup into it, fetch it back (same TSM
#      bytes), restore that into influxd: the same SELECT results;
#   5. errors name what failed: connection refused, unknown shard.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/influxd1_lib.sh"
command -v influxd >/dev/null || fail "influxd (Debian package influxdb 1.6.7) is not installed"
TOOL=$(tsv_tool tsv_influx1tool)
W="$TSV_TMP/work"
mkdir -p "$W"

# No cache snapshot while writing: each shard is one TSM file written by the
# first backup, so no compaction runs between the two fetches compared.
INFLUXD_DATA_EXTRA='cache-snapshot-memory-size = "512m"'
start_influxd a
start_influxd b
A="127.0.0.1:$a_RPC"
B="127.0.0.1:$b_RPC"

query() { # PORT DB QUERY
    curl -sS -f -G "http://127.0.0.1:$1/query" --data-urlencode "db=$2" --data-urlencode "q=$3"
}
write_lp() { # PORT DB RP FILE (in parts: influxd takes at most 25 MB a request)
    local part
    rm -f "$4".part.*
    split -l 100000 "$4" "$4.part."
    for part in "$4".part.*; do
        curl -sS -f -XPOST "http://127.0.0.1:$1/write?db=$2&rp=$3" --data-binary @"$part" ||
            fail "write $part into $2.$3"
    done
}
# same_results PORT1 DB1 PORT2 DB2 RP1 RP2 [MEASUREMENT]: the same answers to
# a few queries (fields only: tag keys are per database)
same_results() {
    local n=0 q a b m=${7:-/.*/}
    for q in "SELECT *::field FROM \"DB\".\"RP\".@M@ WHERE time < '2024-01-01T01:00:00Z' GROUP BY *" \
        'SELECT count(*), mean(*), last(*) FROM "DB"."RP".@M@ GROUP BY *' \
        "SELECT max(*) FROM \"DB\".\"RP\".@M@ WHERE time < '2024-01-23T00:00:00Z' GROUP BY time(1h), * fill(none)" \
        'SHOW SERIES ON "DB" FROM @M@' 'SHOW FIELD KEYS ON "DB" FROM "RP".@M@'; do
        q=${q//@M@/$m}
        a=$(query "$1" "$2" "$(echo "$q" | sed "s/DB/$2/; s/RP/$5/")")
        b=$(query "$3" "$4" "$(echo "$q" | sed "s/DB/$4/; s/RP/$6/")")
        [ "$a" = "$b" ] || fail "\"$q\" on $2.$5 and $4.$6 differ: $(echo "$a" | head -c 300) vs $(echo "$b" | head -c 300)"
        echo "$a" | grep -q '"values"' || fail "\"$q\" on $2.$5 returned no values: $(echo "$a" | head -c 300)"
        n=$((n + 1))
    done
    echo "$n"
}
# tar_sums TAR: "name sha256" of every entry (a .tar.gz is read as well)
tar_sums() {
    python3 - "$1" <<'PY'
import hashlib, sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    for m in t.getmembers():
        print(m.name, hashlib.sha256(t.extractfile(m).read()).hexdigest())
PY
}
tsm_sums() { tar_sums "$1" | awk '{n=split($1,p,"/"); print p[n], $2}' | sort; }

# ---- data: a few MB in two RPs ------------------------------------------------

query "$a_HTTP" "" 'CREATE DATABASE src' >/dev/null || fail "create database"
query "$a_HTTP" "" 'CREATE RETENTION POLICY hourly ON src DURATION 0s REPLICATION 1 SHARD DURATION 1h' \
    >/dev/null || fail "create RP"
python3 - "$W" <<'PY'
import random, sys
random.seed(7)
d = sys.argv[1]
t0 = 1704067200 * 10**9  # 2024-01-01 (a Monday; Go truncates 7-day groups to Mondays): 3 shards
with open(d + "/autogen.lp", "w") as f:
    for i in range(60000):
        t = t0 + i * 30 * 10**9
        for h in range(8):
            f.write("cpu,host=h%d,dc=eu temp=%.6f,load=%di,ok=%s %d\n" % (
                h, 40 + random.gauss(0, 9), random.randint(0, 10**9), random.choice(["true", "false"]), t + h))
        if i % 7 == 0:
            f.write('log,host=h%d msg="event %d with some text %x" %d\n' % (i % 8, i, random.getrandbits(64), t))
with open(d + "/hourly.lp", "w") as f:  # 1-hour groups: 4 shards
    for i in range(4 * 3600):
        f.write("mem,host=h1 used=%d,free=%.3f %d\n" % (random.randint(0, 2**40), random.random(), t0 + i * 10**9))
PY
write_lp "$a_HTTP" src autogen "$W/autogen.lp"
write_lp "$a_HTTP" src hourly "$W/hourly.lp"

# ---- 1. probe, fetch, compare with influxd backup ------------------------------

"$TOOL" probe "$A" >"$W/probe.out" 2>&1 || fail "probe: $(cat "$W/probe.out")"
grep -qx '1 database (src), 7 shards' "$W/probe.out" || fail "probe summary: $(cat "$W/probe.out")"
pass "probe of influxd 1.6.7: $(cat "$W/probe.out")"

influxd backup -portable -database src -host "$A" "$W/bk" >"$W/bk.out" 2>&1 || fail "influxd backup: $(cat "$W/bk.out")"
mkdir -p "$W/f1"
"$TOOL" fetch "$A" "$W/f1" >"$W/f1.out" 2>&1 || fail "fetch: $(cat "$W/f1.out")"
cat "$W/f1.out"
[ "$(grep -c '^src ' "$W/f1.out")" = 7 ] || fail "expected 7 shards fetched"
n=0
for gz in "$W"/bk/*.tar.gz; do
    id=${gz##*.s}
    id=${id%.tar.gz}
    ours="$W/f1/shard-$id.tar"
    [ -f "$ours" ] || fail "shard $id not fetched"
    diff <(tsm_sums "$gz") <(tsm_sums "$ours") || fail "TSM files of shard $id differ from influxd backup's"
    [ "$(tar_sums "$ours" | grep -c '\.tsm ')" -ge 1 ] || fail "shard $id has no TSM file"
    gzip -dc "$gz" | cmp -s - "$ours" || fail "shard $id: tar differs from influxd backup's"
    n=$((n + 1))
done
[ $n = 7 ] || fail "influxd backup wrote $n shard archives"
python3 - "$W/bk" "$W/f1/meta.bin" <<'PY' || fail "metastore differs from influxd backup's .meta"
import glob, sys
raw = open(glob.glob(sys.argv[1] + "/*.meta")[0], "rb").read()
assert raw[0] == 0x0a
n, i, s = 0, 1, 0
while True:  # varint length of PortableData.Data
    b = raw[i]; n |= (b & 0x7f) << s; i += 1; s += 7
    if b < 0x80: break
assert raw[i:i + n] == open(sys.argv[2], "rb").read()
PY
MB=$(sed -n 's/^fetched .* shards, \([0-9]*\) bytes in \([0-9.]*\) s.*/\1 bytes in \2 s/p' "$W/f1.out")
pass "fetched meta + 7 shards from influxd: tars byte-identical to influxd backup -portable's ($MB)"

# ---- 2. restore into a second influxd -------------------------------------------------

"$TOOL" restore "$B" "$W/f1" src dst >"$W/r1.out" 2>&1 || fail "restore into influxd: $(cat "$W/r1.out")"
[ "$(grep -c '^shard ' "$W/r1.out")" = 7 ] || fail "restore: $(cat "$W/r1.out")"
q1=$(same_results "$a_HTTP" src "$b_HTTP" dst autogen autogen)
q2=$(same_results "$a_HTTP" src "$b_HTTP" dst hourly hourly)
for f in "$W"/f1/shard-*.tar; do # every TSM file arrived (renamed entries kept)
    tsm_sums "$f"
done | sort >"$W/src.sums"
(cd "$b_DIR/data/dst" && find . -name '*.tsm' -exec sha256sum {} + | awk '{n=split($2,p,"/"); print p[n], $1}' | sort) >"$W/dst.sums"
diff "$W/src.sums" "$W/dst.sums" >/dev/null || fail "TSM files in influxd b's dst differ: $(diff "$W/src.sums" "$W/dst.sums" | head)"
pass "restore src -> dst into a second influxd 1.6.7: TSM byte-identical, $((q1 + q2)) queries identical ($(tail -1 "$W/r1.out"))"

"$TOOL" restore "$B" "$W/f1" src dst2 hourly hourly2 >"$W/r2.out" 2>&1 || fail "restore -rp: $(cat "$W/r2.out")"
q=$(same_results "$a_HTTP" src "$b_HTTP" dst2 hourly hourly2 mem)
query "$b_HTTP" dst2 'SHOW RETENTION POLICIES' | grep -q '"hourly2","0s","1h0m0s",1,true' ||
    fail "dst2: $(query "$b_HTTP" dst2 'SHOW RETENTION POLICIES')"
pass "restore -rp hourly -newrp hourly2: $q queries identical, hourly2 is dst2's default"

if "$TOOL" restore "$B" "$W/f1" src dst >"$W/r3.out" 2>&1; then fail "a restore onto an existing database succeeded"; fi
grep -q "error: conflict: 127.0.0.1:$b_RPC refused the metadata of database \"src\" (restored as \"dst\")" "$W/r3.out" ||
    fail "unexpected error: $(cat "$W/r3.out")"
pass "restore onto an existing name: $(cat "$W/r3.out")"

# ---- 3. since -------------------------------------------------------------------------

sleep 1.1
T=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
sleep 1.1
# one point into the last hourly shard (2024-01-01T03:xx), then a snapshot
echo "mem,host=h9 used=1,free=0.5 $((1704067200 + 3 * 3600 + 5))000000000" >"$W/late.lp"
write_lp "$a_HTTP" src hourly "$W/late.lp"
LAST=$(awk '$1 == "src" && $2 == "hourly" {print $3}' "$W/f1.out" | sort -n | tail -1)
FIRST=$(awk '$1 == "src" && $2 == "autogen" {print $3}' "$W/f1.out" | sort -n | head -1)
"$TOOL" shard "$A" src hourly "$LAST" "$W/late.tar" "$T" >"$W/s1.out" 2>&1 || fail "since fetch: $(cat "$W/s1.out")"
"$TOOL" shard "$A" src autogen "$FIRST" "$W/none.tar" "$T" >"$W/s2.out" 2>&1 || fail "since fetch: $(cat "$W/s2.out")"
[ "$(tar_sums "$W/none.tar" | wc -l)" = 0 ] || fail "shard $FIRST unchanged since $T but its tar has $(tar tf "$W/none.tar")"
[ "$(stat -c %s "$W/none.tar")" = 1024 ] || fail "empty tar is $(stat -c %s "$W/none.tar") bytes"
[ "$(tar_sums "$W/late.tar" | wc -l)" = 1 ] || fail "shard $LAST since $T: $(tar tf "$W/late.tar")"
tar_sums "$W/f1/shard-$LAST.tar" | grep -q "$(tar_sums "$W/late.tar" | cut -d' ' -f2)" &&
    fail "the since tar holds an old file"
"$TOOL" shard "$A" src autogen "$FIRST" "$W/all.tar" 2024-01-01T00:00:00Z >/dev/null 2>&1 || fail "since before"
cmp -s "$W/all.tar" "$W/f1/shard-$FIRST.tar" || fail "since before everything: not the whole shard"
pass "since $T: unchanged shard $FIRST -> empty tar (1024 B), shard $LAST -> only its new TSM file"

# ---- 4. tsvault as source and target ----------------------------------------------------

tsv_start s --rpc-bind-address 127.0.0.1:0 --rpc-timeout 5s
RPC=$(sed -n 's/.*msg="1.x rpc listening".* rpc_port=\([0-9]*\).*/\1/p' "$s_LOG" | tail -n 1)
[ -n "$RPC" ] || fail "no 1.x rpc port in the log"
T1="127.0.0.1:$RPC"
http POST "$s_URL/api/v2/orgs" -H "$(auth)" -H 'Content-Type: application/json' -d '{"name":"v1org"}'
expect_status 201 "create org"
"$TOOL" restore "$T1" "$W/f1" src fromA >"$W/t1.out" 2>&1 || fail "restore into tsvault: $(cat "$W/t1.out")"
"$TOOL" probe "$T1" >"$W/tp.out" 2>&1 || fail "probe tsvault: $(cat "$W/tp.out")"
grep -qx '1 database (fromA), 7 shards' "$W/tp.out" || fail "tsvault probe: $(cat "$W/tp.out")"
pass "restore into tsvault's 8088 service: $(tail -1 "$W/t1.out"); probe: $(cat "$W/tp.out")"

mkdir -p "$W/f2"
"$TOOL" fetch "$T1" "$W/f2" >"$W/f2.out" 2>&1 || fail "fetch from tsvault: $(cat "$W/f2.out")"
while read -r _ old _ new; do
    diff <(tsm_sums "$W/f1/shard-$old.tar") <(tsm_sums "$W/f2/shard-$new.tar") ||
        fail "tsvault's shard $new differs from influxd's $old"
    tar_sums "$W/f2/shard-$new.tar" | awk '{print $1}' | grep -v "^fromA/[a-z]*/$new/" &&
        fail "tsvault's shard $new has entries outside fromA/<rp>/$new/"
done < <(grep '^shard ' "$W/t1.out")
pass "fetch from tsvault: 7 shards, same TSM bytes as influxd's ($(tail -1 "$W/f2.out"))"

"$TOOL" restore "$B" "$W/f2" fromA fromtsv >"$W/t2.out" 2>&1 || fail "restore tsvault's backup into influxd: $(cat "$W/t2.out")"
# against dst (restored from the same fetch; src got a point since)
q1=$(same_results "$b_HTTP" dst "$b_HTTP" fromtsv autogen autogen)
q2=$(same_results "$b_HTTP" dst "$b_HTTP" fromtsv hourly hourly)
pass "tsvault's backup restored into influxd by the client: $((q1 + q2)) queries identical to dst"

# ---- 5. errors -----------------------------------------------------------------------------

DEAD=$(free_port)
if "$TOOL" probe "127.0.0.1:$DEAD" >"$W/e1.out" 2>&1; then fail "probe of a closed port succeeded"; fi
grep -qx "error: unavailable: connect to 127.0.0.1:$DEAD: Connection refused" "$W/e1.out" || fail "$(cat "$W/e1.out")"
if "$TOOL" shard "$A" src autogen 999 "$W/x.tar" >"$W/e2.out" 2>&1; then fail "unknown shard fetched"; fi
grep -q "error: invalid: shard 999 from $A: source sent nothing" "$W/e2.out" || fail "$(cat "$W/e2.out")"
pass "errors: $(cat "$W/e1.out"); $(cat "$W/e2.out")"

tsv_stop s
