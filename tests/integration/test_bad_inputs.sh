#!/bin/bash
# The bad-input catalogue: every kind of broken upload on every restore
# endpoint gets the exact InfluxDB error (status, X-Platform-Error-Code and
# JSON {"code","message"}), and after EVERY case the previous data is intact:
# the checksums of every file under state/ (engine/data with its TSM files,
# the generation marker, the SQL file; the LMDB files excepted), the KV as
# GET /api/v2/backup/kv returns it (dumped by the independent boltcheck), the
# bucket and org listings, no staging directory, nothing left in tmp/ and
# nothing in the trash. At the end, good restores of every kind still work.
#
# Setup: the InfluxDB 1.6 fixture re-packed as 2.x shard archives (two
# buckets, five shards with real TSM files), restored as in
# test_restore_fixture.sh. Bad shard uploads go to a shard holding data.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixture.sh"

fixture_server
BAD="$W/bad"
PORT=${U##*:}

# ---- setup -----------------------------------------------------------------
fixture_restore "$U" "$W"
ORG=$FIX_ORG
S=${FIX_SHARD[1]} # the target of the bad shard uploads
SDIR="$s_DATA/state/engine/data/${FIX_BUCKET[autogen]}/autogen/$S"
ls "$SDIR"/*.tsm >/dev/null || fail "shard $S holds no TSM files"
pass "setup: 2 buckets, 5 shards of real TSM data"

# ---- crafted inputs ----------------------------------------------------------
# Built from the fixture's own files so each one differs from a good upload
# in exactly one way.
python3 - "$BAD" "$W/x/fixture/autogen/1" "$TSV_TESTDATA/influxdb-2-kv/influxd-2.x-live.bolt" <<'PY'
import gzip, io, os, random, sqlite3, struct, sys, tarfile
out, shard1, livebolt = sys.argv[1:4]
os.makedirs(out, exist_ok=True)
P = "0a1b2c3d4e5f6071/autogen/1/"
small = open(f"{shard1}/000000002-000000001.tsm", "rb").read()
big = open(f"{shard1}/000000001-000000001.tsm", "rb").read()
rnd = random.Random(20261121)

def tar(entries):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for e in entries:
            ti = tarfile.TarInfo(e["name"])
            ti.type = e.get("type", tarfile.REGTYPE)
            ti.linkname = e.get("link", "")
            data = e.get("data", b"")
            ti.size = len(data) if ti.type == tarfile.REGTYPE else 0
            ti.mode = 0o644
            t.addfile(ti, io.BytesIO(data) if ti.type == tarfile.REGTYPE else None)
    return b.getvalue()

def w(name, data):
    with open(f"{out}/{name}", "wb") as f:
        f.write(data)

def flip(data, at):
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]

good = tar([{"name": P + "000000002-000000001.tsm", "data": small}])
w("good.tar", good)
gz = gzip.compress(good, mtime=0)
w("gz-bad-header.gz", b"\x1f\x8c" + gz[2:])
# Stored (level 0) deflate blocks: a flipped data byte still inflates, so
# only the CRC-32 in the trailer can catch it.
stored = gzip.compress(good, compresslevel=0, mtime=0)
w("gz-crc.gz", flip(stored, len(stored) // 2))
w("gz-flipped-deflate.gz", flip(gz, 40))
w("gz-truncated.gz", gz[: len(gz) // 2])
w("gz-trailing-junk.gz", gz + b"junk after the gzip member")
w("zstd-garbage.zst", b"\x28\xb5\x2f\xfd" + bytes(rnd.getrandbits(8) for _ in range(4000)))
w("tar-truncated.gz", gzip.compress(good[: 512 + len(small) // 2], mtime=0))
w("tar-traversal.tar", tar([{"name": "../../000000002-000000001.tsm", "data": small}]))
w("tar-absolute.tar", tar([{"name": "/etc/000000002-000000001.tsm", "data": small}]))
w("tar-symlink.tar", tar([{"name": P + "000000003-000000001.tsm", "type": tarfile.SYMTYPE,
                            "link": "/etc/passwd"}]))
w("tar-hardlink.tar", tar([{"name": P + "000000002-000000001.tsm", "data": small},
                            {"name": P + "000000003-000000001.tsm", "type": tarfile.LNKTYPE,
                             "link": P + "000000002-000000001.tsm"}]))
w("tar-fifo.tar", tar([{"name": P + "000000003-000000001.tsm", "type": tarfile.FIFOTYPE}]))
w("tar-chardev.tar", tar([{"name": P + "000000003-000000001.tsm", "type": tarfile.CHRTYPE}]))
w("tar-duplicate.tar", tar([{"name": P + "000000002-000000001.tsm", "data": small},
                             {"name": "elsewhere/000000002-000000001.tsm", "data": small}]))
w("tsm-crc.tar", tar([{"name": P + "000000001-000000001.tsm", "data": flip(big, 40)}]))
w("tsm-magic.tar", tar([{"name": P + "000000002-000000001.tsm",
                         "data": b"\x16\xd1\x16\xd2" + small[4:]}]))
w("tsm-v2.tar", tar([{"name": P + "000000002-000000001.tsm", "data": small[:4] + b"\x02" + small[5:]}]))
w("tsm-truncated.tar", tar([{"name": P + "000000002-000000001.tsm", "data": small[:-100]}]))
rec = struct.pack(">I", 8) + b"cpu,h=a\x00" + struct.pack(">qq", 0, 100)
member = gzip.compress(rec * 20, mtime=0)
w("tomb-v4-truncated.tar", tar([{"name": P + "000000002-000000001.tsm", "data": small},
                                 {"name": P + "000000002-000000001.tombstone",
                                  "data": struct.pack(">I", 0x1504) + member[:-6]}]))
w("non-tsm.tar", tar([{"name": P + "fields.idx", "data": b"junk"},
                      {"name": P + "index/L0-00000001.tsl", "data": b"junk"},
                      {"name": P + "000000002-000000001.tsm.tmp", "data": small},
                      {"name": P + "notes.txt", "data": b"hello"}]))
w("empty", b"")

# protobuf DatabaseInfo (proto2, meta.proto), encoded by hand.
def varint(v):
    o = b""
    while True:
        b, v = v & 0x7F, v >> 7
        if not v:
            return o + bytes([b])
        o += bytes([b | 0x80])
def ld(field, data): return bytes([field << 3 | 2]) + varint(len(data)) + data
def vi(field, v): return bytes([field << 3]) + varint(v)
rp = ld(1, b"autogen") + vi(2, 0) + vi(3, 7 * 86400 * 10**9) + vi(4, 1)
w("db-good.pb", ld(1, b"0a1b2c3d4e5f6071") + ld(2, b"autogen") + ld(3, rp))
w("db-garbage.pb", b"\xff\xff\xff\xff\x0f\x12\x34garbage-not-protobuf")
w("db-missing-name.pb", ld(2, b"autogen") + ld(3, rp))
w("db-rp-missing-replican.pb", ld(1, b"x") + ld(2, b"autogen") +
  ld(3, ld(1, b"autogen") + vi(2, 0) + vi(3, 1)))
w("db-no-rp.pb", ld(1, b"x") + ld(2, b"autogen"))
w("db-30m.pb", ld(1, b"x") + ld(2, b"autogen") +
  ld(3, ld(1, b"autogen") + vi(2, 1800 * 10**9) + vi(3, 3600 * 10**9) + vi(4, 1)))

live = open(livebolt, "rb").read()
w("kv-random.bin", bytes(rnd.getrandbits(8) for _ in range(65536)))
w("kv-truncated.bolt", live[: len(live) // 2 + 123])
cor = bytearray(live)
psize = struct.unpack_from("<I", live, 16 + 8)[0]  # meta.pageSize after the page header
for pg in (0, 1):
    cor[pg * psize + 16 + 56] ^= 0xFF              # meta.checksum (FNV-64a of the meta)
w("kv-bad-meta-checksum.bolt", bytes(cor))

w("sql-garbage.sqlite", b"this is not an SQLite database" * 200)
p = f"{out}/sql-good.sqlite"
db = sqlite3.connect(p)
db.execute("create table t(id integer primary key, v text)")
db.executemany("insert into t(v) values (?)", [("x" * 200,) for _ in range(2000)])
db.execute("create index t_v on t(v)")
db.commit()
db.close()
s = bytearray(open(p, "rb").read())
pg = struct.unpack(">H", s[16:18])[0]
for i in range(3, 6):  # clobber the b-tree headers of a few pages; the file header stays valid
    s[i * pg: i * pg + 64] = b"\xa5" * 64
w("sql-corrupt.sqlite", bytes(s))
PY
zstd -q -c "$BAD/good.tar" >"$W/good.tar.zst"
head -c $(($(stat -c %s "$W/good.tar.zst") / 2)) "$W/good.tar.zst" >"$BAD/zstd-truncated.zst"
"$TSV_TOOLS/boltedit" deactivate-operator "$TSV_TESTDATA/influxdb-2-kv/influxd-2.x-live.bolt" \
    "$BAD/kv-no-operator.bolt" 2>/dev/null || fail "boltedit"

# ---- the previous data, and the check that it is intact ----------------------
# state_of FILE: a canonical description of everything a restore could change.
state_of() {
    python3 - "$s_DATA/state" >"$1" <<'PY'
import hashlib, os, sys
root = sys.argv[1]
for dp, dns, fns in os.walk(root):
    dns.sort()
    rel = os.path.relpath(dp, root)
    if rel == "kv":
        continue  # LMDB's own files change on reads; the KV is compared below
    print("D", rel)
    for f in sorted(fns):
        with open(os.path.join(dp, f), "rb") as fh:
            print("F", os.path.join(rel, f), hashlib.sha256(fh.read()).hexdigest())
PY
    curl -sS -f -H "$(auth)" "$U/api/v2/backup/kv" -o "$W/kv-now.bolt" || fail "backup/kv failed"
    "$TSV_TOOLS/boltcheck" "$W/kv-now.bolt" >>"$1" || fail "backup/kv is not a valid bolt file"
    curl -sS -f -H "$(auth)" "$U/api/v2/buckets?limit=100" >>"$1" || fail "bucket listing failed"
    curl -sS -f -H "$(auth)" "$U/api/v2/orgs" >>"$1" || fail "org listing failed"
}

baseline() {
    state_of "$W/baseline"
    ls -A "$s_DATA/trash" >"$W/baseline-trash"
}

# intact LABEL: the previous data is exactly as it was, nothing is left over.
intact() {
    state_of "$W/now"
    cmp -s "$W/baseline" "$W/now" ||
        { diff "$W/baseline" "$W/now" | head -20; fail "$1: the previous data changed"; }
    left=$(find "$s_DATA" -path "$s_DATA/trash" -prune -o -name '*.staging-*' -print)
    [ -z "$left" ] || fail "$1: staging left behind: $left"
    [ -z "$(ls -A "$s_DATA/tmp")" ] || fail "$1: tmp/ not empty: $(ls -A "$s_DATA/tmp")"
    ls -A "$s_DATA/trash" | cmp -s - "$W/baseline-trash" || fail "$1: a failed restore used the trash"
    kill -0 "$s_PID" 2>/dev/null || fail "$1: the server died"
}

CASES=0
# ok LABEL: the case passed and the data is intact.
ok() {
    intact "$1"
    CASES=$((CASES + 1))
    pass "$1 (data intact)"
}

baseline
state_of "$W/again"
cmp -s "$W/baseline" "$W/again" || fail "state_of is not stable"

shard_post() { # shard_post FILE [curl args]: upload FILE to the target shard
    f=$1
    shift
    http POST "$U/api/v2/restore/shards/$S" -H "$(auth)" -H 'Content-Type: application/octet-stream' \
        --data-binary "@$f" "$@"
}

# ---- A. content encoding of shard uploads ------------------------------------
shard_post "$BAD/gz-bad-header.gz" -H 'Content-Encoding: gzip'
expect_error 400 invalid '^gzip: invalid header'
ok "A1 gzip with a corrupt header -> 400"
shard_post "$BAD/gz-crc.gz" -H 'Content-Encoding: gzip'
expect_error 400 invalid 'CRC-32 mismatch'
ok "A2 gzip with a flipped data byte (CRC mismatch) -> 400"
shard_post "$BAD/gz-flipped-deflate.gz" -H 'Content-Encoding: gzip'
expect_error 400 invalid '(gzip|flate|CRC|invalid|corrupt)'
ok "A3 gzip with a flipped byte in compressed deflate data -> 400"
shard_post "$BAD/gz-truncated.gz" -H 'Content-Encoding: gzip' -H 'Transfer-Encoding: chunked'
expect_error 400 invalid 'unexpected EOF'
ok "A4 gzip truncated mid-stream (chunked upload) -> 400"
shard_post "$BAD/gz-trailing-junk.gz" -H 'Content-Encoding: gzip'
expect_error 400 invalid '^gzip: invalid header'
ok "A5 gzip followed by junk -> 400"
shard_post "$BAD/zstd-garbage.zst" -H 'Content-Encoding: zstd'
expect_error 400 invalid '^zstd: '
ok "A6 zstd garbage -> 400"
shard_post "$BAD/zstd-truncated.zst" -H 'Content-Encoding: zstd'
expect_error 400 invalid '^zstd: unexpected EOF'
ok "A7 zstd truncated -> 400"
shard_post "$BAD/good.tar" -H 'Content-Encoding: br'
expect_error 415 "unsupported media type" 'unsupported Content-Encoding "br"'
expect_header Connection close
ok "A8 Content-Encoding br -> 415 (connection closed, body unread)"

# ---- B. tar structure --------------------------------------------------------
shard_post "$BAD/tar-truncated.gz" -H 'Content-Encoding: gzip'
expect_error 400 invalid '^invalid shard archive: entry 000000002-000000001.tsm: .*[Tt]runcated'
ok "B1 tar cut mid-entry inside a well-formed gzip -> 400"
shard_post "$BAD/tar-traversal.tar"
expect_error 400 invalid 'path "\.\./\.\./000000002-000000001\.tsm" escapes with "\.\."'
ok "B2 tar entry ../../x.tsm -> 400"
shard_post "$BAD/tar-absolute.tar"
expect_error 400 invalid 'absolute path "/etc/000000002-000000001\.tsm" refused'
ok "B3 tar entry /etc/x.tsm -> 400"
shard_post "$BAD/tar-symlink.tar"
expect_error 400 invalid 'is not a regular file \(symbolic link\) and is refused'
ok "B4 symlink entry -> 400"
shard_post "$BAD/tar-hardlink.tar"
expect_error 400 invalid 'hard link entry ".*000000003-000000001\.tsm" refused'
ok "B5 hard-link entry -> 400"
shard_post "$BAD/tar-fifo.tar"
expect_error 400 invalid 'is not a regular file \(device or special file\) and is refused'
ok "B6 fifo entry -> 400"
shard_post "$BAD/tar-chardev.tar"
expect_error 400 invalid 'is not a regular file \(device or special file\) and is refused'
ok "B7 character-device entry -> 400"
shard_post "$BAD/tar-duplicate.tar"
expect_error 400 invalid 'file 000000002-000000001\.tsm appears twice'
ok "B8 the same base name twice -> 400"
shard_post "$BAD/non-tsm.tar"
expect_status 204 "only non-TSM names"
grep -q 'msg="skipping shard archive entry" shard='"$S"' entry=".*notes.txt"' "$s_LOG" ||
    fail "no warning for skipped entries"
ok "B9 only non-TSM/tombstone names -> 204, skipped with warnings, nothing changed"

# ---- C. file contents --------------------------------------------------------
shard_post "$BAD/tsm-crc.tar"
expect_error 400 invalid '^000000001-000000001\.tsm: block .*CRC32 mismatch'
ok "C1 TSM with one flipped byte in a block -> 400"
shard_post "$BAD/tsm-magic.tar"
expect_error 400 invalid 'bad magic 0x16d116d2'
ok "C2 TSM with wrong magic -> 400"
shard_post "$BAD/tsm-v2.tar"
expect_error 400 invalid 'unsupported TSM version 2'
ok "C3 TSM version 2 -> 400"
shard_post "$BAD/tsm-truncated.tar"
expect_error 400 invalid '^000000002-000000001\.tsm: '
ok "C4 truncated TSM (tar size consistent) -> 400"
shard_post "$BAD/tomb-v4-truncated.tar"
expect_error 400 invalid '000000002-000000001\.tombstone: v4 gzip member 0 .*truncated'
ok "C5 v4 tombstone with a truncated gzip member -> 400"

# ---- D. body framing ---------------------------------------------------------
shard_post "$BAD/empty"
expect_error 400 invalid 'empty request body'
ok "D1 empty body on restore/shards -> 400"
shard_post "$BAD/empty" -H 'Transfer-Encoding: chunked'
expect_error 400 invalid 'empty request body'
ok "D2 empty chunked body on restore/shards -> 400"

# short_body PATH CONTENT-LENGTH FILE: sends fewer bytes than announced, then
# half-closes; prints the status line and the body of the answer.
short_body() {
    python3 - "$PORT" "$1" "$TSV_TOKEN" "$2" "$3" "$4" <<'PY'
import socket, sys
port, path, token, cl, f, chunked = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
body = open(f, "rb").read()
s = socket.create_connection(("127.0.0.1", port), timeout=60)
head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token {token}\r\n"
if chunked == "chunked":  # a chunk announced as longer than what follows
    head += "Transfer-Encoding: chunked\r\n\r\n"
    body = b"%x\r\n" % (len(body) + 1000) + body
else:
    head += f"Content-Length: {cl}\r\n\r\n"
s.sendall(head.encode() + body)
s.shutdown(socket.SHUT_WR)
resp = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    resp += d
h, _, b = resp.partition(b"\r\n\r\n")
print(h.split(b"\r\n")[0].decode() if h else "NO RESPONSE")
print(b.decode(errors="replace"))
PY
}
expect_short() { # expect_short LABEL OUTPUT MESSAGE-REGEX
    head -n 1 <<<"$2" | grep -q '^HTTP/1.1 400 ' || fail "$1: expected a 400, got: $2"
    printf '%s' "$(tail -n +2 <<<"$2")" >"$W/short.json"
    python3 - "$W/short.json" "$3" <<'PY' || fail "$1: body $(cat "$W/short.json")"
import json, re, sys
j = json.load(open(sys.argv[1]))
assert j["code"] == "invalid" and re.search(sys.argv[2], j["message"]), j
PY
}
out=$(short_body "/api/v2/restore/shards/$S" 100000 "$BAD/good.tar" "")
expect_short "short shard body" "$out" 'truncated after 10240 of 100000 bytes'
ok "D3 restore/shards body shorter than Content-Length, client closes -> 400"
out=$(short_body "/api/v2/restore/kv" 1000000 "$TSV_TESTDATA/influxdb-2-kv/influxd-2.x-live.bolt" "")
expect_short "short kv body" "$out" 'truncated after 65536 of 1000000 bytes'
ok "D4 restore/kv body shorter than Content-Length (upload to tmp/) -> 400, no temp file left"
out=$(short_body "/api/v2/restore/shards/$S" 0 "$BAD/good.tar" chunked)
expect_short "broken chunked body" "$out" 'broken chunked encoding'
ok "D5 restore/shards chunked body ending inside a chunk -> 400"

# ---- E. shard IDs ------------------------------------------------------------
for id in abc -1 18446744073709551616; do
    http POST "$U/api/v2/restore/shards/$id" -H "$(auth)" --data-binary "@$BAD/good.tar"
    expect_error 400 invalid "^invalid shard ID \"$id\"\$"
    ok "E shard ID '$id' -> 400"
done
http POST "$U/api/v2/restore/shards/999999" -H "$(auth)" --data-binary "@$BAD/good.tar"
expect_error 404 "not found" '^shard 999999 not found$'
ok "E unknown shard -> 404"

# ---- F. restore/bucket/{id} and /buckets/{id} (protobuf DatabaseInfo) -----------
B=${FIX_BUCKET[autogen]}
for path in bucket buckets; do
    http POST "$U/api/v2/restore/$path/$B" -H "$(auth)" --data-binary "@$BAD/db-garbage.pb"
    expect_error 400 invalid '^invalid DatabaseInfo: meta: '
    ok "F restore/$path/{id} with a body that is not protobuf -> 400"
done
http POST "$U/api/v2/restore/bucket/$B" -H "$(auth)" --data-binary "@$BAD/db-missing-name.pb"
expect_error 400 invalid 'missing required field DatabaseInfo\.Name'
ok "F DatabaseInfo without its required Name -> 400"
http POST "$U/api/v2/restore/buckets/$B" -H "$(auth)" --data-binary "@$BAD/db-rp-missing-replican.pb"
expect_error 400 invalid 'missing required field RetentionPolicyInfo\.ReplicaN'
ok "F RetentionPolicyInfo without its required ReplicaN -> 400"
http POST "$U/api/v2/restore/bucket/$B" -H "$(auth)" --data-binary "@$BAD/empty"
expect_error 400 invalid 'missing required field DatabaseInfo\.Name'
ok "F empty DatabaseInfo body -> 400"
http POST "$U/api/v2/restore/bucket/$B" -H "$(auth)" --data-binary "@$BAD/db-no-rp.pb"
expect_error 422 "unprocessable entity" 'bucket must have 1 retention policy; attempting to restore 0'
ok "F DatabaseInfo with no retention policy -> 422 (as bucketMetadata)"
http POST "$U/api/v2/restore/buckets/$B" -H "$(auth)" --data-binary "@$BAD/db-30m.pb"
expect_error 422 "unprocessable entity" '^retention policy duration must be at least 1h0m0s$'
ok "F DatabaseInfo with a 30m retention -> 422 (as bucketMetadata)"
http POST "$U/api/v2/restore/bucket/0123456789abcdef" -H "$(auth)" --data-binary "@$BAD/db-good.pb"
expect_error 404 "not found" 'bucket not found'
ok "F restore/bucket for a bucket that does not exist -> 404"
for id in xyz 0a1b2c3d4e5f607 0a1b2c3d4e5f60711; do
    http POST "$U/api/v2/restore/bucket/$id" -H "$(auth)" --data-binary "@$BAD/db-garbage.pb"
    expect_error 400 invalid '^id must have a length of 16 bytes$'
    ok "F bucket ID '$id' -> 400 (checked before the body)"
done
for id in 0000000000000000 0a1b2c3d4e5f607g; do
    http POST "$U/api/v2/restore/buckets/$id" -H "$(auth)" --data-binary "@$BAD/db-good.pb"
    expect_error 400 invalid '^invalid ID$'
    ok "F bucket ID '$id' -> 400"
done

# ---- G. restore/bucketMetadata -------------------------------------------------
# meta JSON: posts the manifest text.
meta() {
    printf '%s' "$1" >"$W/meta.json"
    http POST "$U/api/v2/restore/bucketMetadata" -H "$(auth)" -H 'Content-Type: application/json' \
        --data-binary "@$W/meta.json"
}
RP1='{"name":"autogen","replicaN":1,"duration":0,"shardGroupDuration":604800000000000,"shardGroups":[{"id":1,"startTime":"2024-01-01T00:00:00Z","endTime":"2024-01-08T00:00:00Z","shards":[{"id":1,"shardOwners":[]}]}],"subscriptions":[]}'
man() { # man ORG NAME RPS-JSON
    printf '{"organizationID":"%s","organizationName":"fixture-org","bucketID":"0a1b2c3d4e5f6071","bucketName":"%s","defaultRetentionPolicy":"autogen","retentionPolicies":%s}' "$1" "$2" "$3"
}
meta '{"organizationID": "'"$ORG"'", "bucketName": "b1", '
expect_error 400 invalid '^failed to unmarshal json: '
ok "G invalid JSON -> 400"
meta '[{"bucketName":"b1"}]'
expect_error 400 invalid '^failed to unmarshal json: .*non-object'
ok "G a JSON array instead of an object -> 400"
meta "$(man "$ORG" b1 '[{"name":"autogen","duration":"1h"}]')"
expect_error 400 invalid '^failed to unmarshal json: .*cannot unmarshal string'
ok "G string where a duration (int64 ns) belongs -> 400"
meta "$(man "$ORG" b1 "[$RP1]" | sed 's/"organizationID":"[^"]*",//')"
expect_error 404 "not found" '^organization not found$'
ok "G manifest without organizationID -> 404"
meta "$(man 0123456789abcdef b1 "[$RP1]")"
expect_error 404 "not found" 'organization not found'
ok "G unknown organization -> 404"
meta "$(man xyz b1 "[$RP1]")"
expect_error 400 invalid 'organizationID: id must have a length of 16 bytes'
ok "G malformed organizationID -> 400"
meta "$(man 0000000000000000 b1 "[$RP1]")"
expect_error 400 invalid 'organizationID: invalid ID'
ok "G all-zero organizationID -> 400"
meta "$(man "$ORG" _b1 "[$RP1]")"
expect_error 400 invalid '^bucket name _b1 is invalid\. Buckets may not start with underscore$'
ok "G bucket name starting with _ -> 400"
meta "$(man "$ORG" 'b\"1' "[$RP1]")"
expect_error 400 invalid '^bucket name b"1 is invalid\. Bucket names may not include quotation marks$'
ok "G bucket name with a quotation mark -> 400"
meta "$(man "$ORG" '' "[$RP1]")"
expect_error 400 "empty value" 'bucket name is empty'
ok "G empty bucket name -> 400"
meta "$(man "$ORG" fixture_autogen "[$RP1]")"
expect_error 422 conflict '^bucket with name fixture_autogen already exists$'
ok "G bucket name that already exists -> 422 conflict"
meta "$(man "$ORG" b1 '[]')"
expect_error 422 "unprocessable entity" 'bucket must have 1 retention policy; attempting to restore 0 retention policies'
ok "G zero retention policies -> 422"
meta "$(man "$ORG" b1 "[$RP1,${RP1/autogen/second}]")"
expect_error 422 "unprocessable entity" 'attempting to restore 2 retention policies'
ok "G two retention policies -> 422"
meta "$(man "$ORG" b1 "[${RP1/\"duration\":0/\"duration\":1800000000000}]")"
expect_error 422 "unprocessable entity" 'retention policy duration must be at least 1h0m0s'
ok "G retention of 30m (< 1h) -> 422"
# 64 MiB is the manifest limit (a real one is a few KiB).
python3 -c 'import sys; sys.stdout.write("{\"description\":\"" + "a" * (65 << 20) + "\"}")' >"$W/huge.json"
http POST "$U/api/v2/restore/bucketMetadata" -H "$(auth)" -H 'Transfer-Encoding: chunked' \
    --data-binary "@$W/huge.json"
expect_error 413 "request too large" 'request body exceeds 67108864 bytes'
rm -f "$W/huge.json"
ok "G 65 MiB manifest -> 413"

# ---- H. restore/kv -----------------------------------------------------------
kv_post() {
    http POST "$U/api/v2/restore/kv" -H "$(auth)" -H 'Content-Type: application/octet-stream' \
        --data-binary "@$1" "${@:2}"
}
kv_post "$BAD/kv-random.bin"
expect_error 400 invalid '^invalid bolt file: '
ok "H restore/kv with random bytes -> 400"
kv_post "$BAD/kv-truncated.bolt"
expect_error 400 invalid '^invalid bolt file: .*beyond the 32891-byte file'
ok "H restore/kv with a truncated real bolt file -> 400"
kv_post "$BAD/kv-bad-meta-checksum.bolt"
expect_error 400 invalid 'neither meta page is valid'
ok "H restore/kv with both meta checksums corrupted -> 400"
kv_post "$BAD/empty"
expect_error 400 invalid '^invalid bolt file: 0 bytes'
ok "H restore/kv with an empty body -> 400"
gzip -c "$BAD/kv-no-operator.bolt" >"$W/kv-no-operator.bolt.gz"
kv_post "$W/kv-no-operator.bolt.gz" -H 'Content-Encoding: gzip'
expect_error 422 "unprocessable entity" '^invalid backup without an operator token: .*nothing was changed'
ok "H restore/kv of a valid bolt whose operator token is inactive -> 422"

# ---- I. restore/sql ----------------------------------------------------------
for f in sql-garbage.sqlite empty; do
    http POST "$U/api/v2/restore/sql" -H "$(auth)" --data-binary "@$BAD/$f"
    expect_error 400 invalid '^invalid SQL backup: not an SQLite 3 database$'
    ok "I restore/sql with $f -> 400"
done
http POST "$U/api/v2/restore/sql" -H "$(auth)" --data-binary "@$BAD/sql-corrupt.sqlite"
expect_error 400 invalid '^invalid SQL backup: integrity check failed: '
ok "I restore/sql with a corrupted SQLite file (valid header) -> 400"

# ---- J. authentication -------------------------------------------------------
for ep in "shards/$S" kv sql bucketMetadata "bucket/$B"; do
    http POST "$U/api/v2/restore/$ep" -H 'Authorization: Token wrong-token' --data-binary "@$BAD/good.tar"
    expect_error 401 unauthorized '^unauthorized access$'
done
ok "J wrong token on every restore endpoint -> 401"
http POST "$U/api/v2/restore/kv" --data-binary "@$TSV_TESTDATA/influxdb-2-kv/influxd-2.x-live.bolt"
expect_error 401 unauthorized '^unauthorized access$'
ok "J no token on restore/kv -> 401"

# ---- good restores still work ----------------------------------------------------
shard_post "$W/s2.tar.gz" -H 'Content-Encoding: gzip'
expect_status 204 "good shard restore"
for f in "$W"/x/fixture/autogen/2/*.tsm; do
    cmp "$f" "$SDIR/$(basename "$f")" || fail "good shard restore: $(basename "$f") differs"
done
http GET "$U/api/v2/buckets/${FIX_BUCKET[autogen]}/unusedShards" -H "$(auth)"
expect_status 200 "unusedShards"
[ "$(json_get 'len(j["unusedShards"])')" -ge 1 ] || fail "the replaced shard version is not kept in the vault"
pass "good shard restore after the catalogue: 204, files installed, previous version soft-deleted in the vault"
http POST "$U/api/v2/restore/sql" -H "$(auth)" -H 'Content-Encoding: gzip' \
    --data-binary @<(gzip -c "$BAD/sql-good.sqlite")
expect_status 204 "good SQL restore"
cmp "$BAD/sql-good.sqlite" "$s_DATA/state/influxd.sqlite" || fail "SQL file differs"
pass "good SQL restore: 204"
kv_post "$TSV_TESTDATA/influxdb-2-kv/influxd-2.x-live.bolt"
expect_status 200 "good KV restore"
[ "$(json_get 'j["token"]')" = "A9Ovdl8SmP-rfp8wQ2vJoPUsZoQQJ3EochD88SlJcgrcLw4HBwgUqpSHQxc9N9Drg0_aY6Lp1jutBRcKhbV7aQ==" ] ||
    fail "restored operator token"
pass "good KV restore: 200 with the backup's operator token"

# A token of the restored KV that is not an operator token: every restore
# endpoint refuses it, naming the first missing permission, and changes nothing.
baseline
RO="4-pZrlm84u9uiMVrPBeITe46KxfdEnvTX5H2CZh38BtAsXX4O47b8QwZ9jHL_Cek2w-VbVfRxDpo0Mu8ORiqyQ=="
for ep in "shards/$S" kv sql bucketMetadata "buckets/$B"; do
    http POST "$U/api/v2/restore/$ep" -H "Authorization: Token $RO" --data-binary "@$BAD/good.tar"
    expect_error 401 unauthorized '^read:authorizations is unauthorized$'
done
ok "J org-scoped read token on every restore endpoint -> 401 read:authorizations is unauthorized"

echo "catalogue: $CASES cases, data intact after each"
[ "$CASES" -ge 35 ] || fail "only $CASES cases"
# A clean exit (in the ASan build: no leak, no error report) after all that.
tsv_stop s
pass "clean shutdown"
echo "1..all passed"
