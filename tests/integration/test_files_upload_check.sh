#!/bin/bash
# A staged backup archive validated while it arrives (docs/storage.md
# "Staged files"), seen from outside:
#  1. curl --form gets its "100 Continue" at once (curl would otherwise hold
#     the body back for a second); the server says the upload was checked
#     while uploading;
#  2. an uncompressed tar of the 1.6 portable fixture: the file keeps its
#     size, digests and tar layout, its shard members are stored once (as
#     their validated files: the archive's blocks are released); a restore
#     job links those files ("validated on upload"), and the Go reader's
#     export is exactly expected/export-*.lp;
#  3. a kept file damaged on disk: from a tar.gz the job falls back to the
#     archive's member and the export is still right; from the released
#     tar the job fails, saying so, and rolls back;
#  4. a connection dropped in the middle of a shard member leaves nothing
#     (no staged file, no kept files, no temp dirs);
#  5. start-up removes kept files without a staged file; DELETE removes a
#     staged file's kept files.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/jobs_lib.sh"

tsv_start a
U=$a_URL
T=$TSV_TOKEN
onboard "$U"

# export_is_expected BUCKET-PREFIX: the buckets PREFIX/autogen and
# PREFIX/daily, read by tsmcheck, are the fixture's expected export.
export_is_expected() {
    local rp b
    rm -rf "$W/check"
    mkdir -p "$W/check/data/fixture"
    for rp in autogen daily; do
        b=$(bucket_id "$U" "$T" "$1/$rp")
        [ -n "$b" ] || fail "bucket $1/$rp missing"
        cp -r "$a_DATA/state/engine/data/$b/autogen" "$W/check/data/fixture/$rp"
        find "$W/check/data/fixture/$rp" -name .tsv-gen -delete
        "$TSV_TOOLS/tsmcheck" export -datadir "$W/check/data" -database fixture -retention "$rp" \
            >"$W/export-$rp.lp" || fail "tsmcheck export failed"
        # (sorted: the export lists shards in directory order, and "10" < "9")
        cmp -s <(sort "$W/export-$rp.lp") <(sort "$FIXTURE/expected/export-$rp.lp") ||
            fail "export of $1/$rp differs: $(diff <(sort "$W/export-$rp.lp") <(sort "$FIXTURE/expected/export-$rp.lp") | head -n 5)"
    done
}

# job_logs ID: the job's log messages, one per line.
job_logs() {
    curl -sS -H "Authorization: Token $T" "$U/api/v2/jobs/$1/logs" |
        python3 -c 'import json,sys; [print(l["message"]) for l in json.load(sys.stdin)["logs"]]'
}

# ---- 1 + 2. uncompressed tar, curl --form ------------------------------------------
# curl asks for "100 Continue" on bodies over 1 MiB.
head -c 3000000 /dev/urandom >"$W/big.bin"
(cd "$W" && curl -sS -v -o "$W/up.json" -w '%{http_code}' -H "Authorization: Token $T" \
    --form 'file=@"big.bin"' "$U/api/v2/files" >"$W/code" 2>"$W/curl.err")
[ "$(cat "$W/code")" = 200 ] || fail "upload: $(cat "$W/up.json")"
grep -q '^> Expect: 100-continue' "$W/curl.err" || fail "curl did not ask for 100 Continue"
grep -q '^< HTTP/1.1 100 Continue' "$W/curl.err" || fail "no 100 Continue: $(grep '^[<>*]' "$W/curl.err")"
! grep -q 'Done waiting for 100-continue' "$W/curl.err" || fail "curl waited for 100 Continue"
tar cf "$W/plain.tar" -C "$FIXTURE/backup" .
upload "$U/api/v2/files" "$T" "$W/plain.tar"
expect_status 200 "plain tar upload"
cp "$HTTP_BODY" "$W/up.json"
grep -q 'name="plain.tar".*checked=while-uploading' "$a_LOG" || fail "not checked while uploading"
python3 - "$W/up.json" "$W/plain.tar" <<'PY' || fail "reply: $(cat "$W/up.json")"
import hashlib, json, sys
j = json.load(open(sys.argv[1])); data = open(sys.argv[2], 'rb').read()
assert j["sizeBytes"] == len(data) and j["compressionFormat"] == "none", j
assert j["dataFormat"] == "influxdb1-portable", j
assert j["digest"]["hash"] == hashlib.md5(data).hexdigest().upper(), j
assert j["sha256"] == hashlib.sha256(data).hexdigest(), j
PY
pass "curl --form: 100 Continue at once; a tar checked while uploading; size and digests of the upload"

staged="$a_DATA/files/data/plain.tar"
size=$(stat -c %s "$staged")
alloc=$(($(stat -c %b "$staged") * 512))
[ "$size" = "$(stat -c %s "$W/plain.tar")" ] || fail "staged size $size"
[ "$alloc" -lt $(($(stat -c %b "$W/plain.tar") * 512)) ] || fail "nothing released: $alloc of $size bytes allocated"
# The layout and the small members are there; the shard members' bytes are
# not (they read as zeros, which no gzip reader takes for a shard).
[ "$(tar tf "$staged" | sort)" = "$(tar tf "$W/plain.tar" | sort)" ] || fail "the staged tar lost its layout"
m=$(tar tf "$staged" | grep '\.meta$')
cmp -s <(tar xOf "$staged" "$m") <(tar xOf "$W/plain.tar" "$m") || fail "the .meta member changed"
for m in $(tar tf "$staged" | grep '\.tar\.gz$'); do
    ! tar xOf "$staged" "$m" | gzip -t 2>/dev/null || fail "$m still stored in the staged tar"
done
for m in "$a_DATA"/files/extracted/plain.tar/*.tar.gz; do
    [ -f "$m/.tsv-files" ] || fail "no file list in $m"
done
pass "uncompressed tar: the file keeps its size and layout, its shard members live once, as kept files"

J=$(create_job "$U" "$T" '{"type":"restore","source":{"type":"file","fileName":"plain.tar"},"target":{"type":"bucket","newOrgName":"o1"}}')
[ "$(wait_job "$U" "$T" "$J")" = completed ] || fail "job: $(job_logs "$J")"
[ "$(job_logs "$J" | grep -c '(validated on upload)')" = 5 ] || fail "shards not from kept files: $(job_logs "$J")"
export_is_expected fixture
# The restored files are the kept inodes (hard links, no copy).
kept_ino=$(stat -c %i "$a_DATA"/files/extracted/plain.tar/*.s1.tar.gz/*.tsm | sort)
b=$(bucket_id "$U" "$T" fixture/autogen)
live_ino=$(find "$a_DATA/state/engine/data/$b" -name '*.tsm' -exec stat -c %i {} + | sort)
grep -qx "$(echo "$kept_ino" | head -n 1)" <<<"$live_ino" || fail "shard 1 was copied, not linked"
pass "restore job from kept files: 5 shards linked, tsmcheck export == expected"

# At most four uploads are checked while they arrive at once: six uploads
# that have all begun (part headers and the first KiB sent on six
# connections) before any ends: four checked while they arrive, two after
# they are stored, all staged.
python3 - "$U" "$T" "$W/plain.tar" <<'PY' || fail "overlapping uploads"
import socket, sys, time, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
data = open(sys.argv[3], 'rb').read()
# (a boundary as long as curl's: civetweb refuses very short ones)
B = b'------------------------tsvault0123456789'
socks, bodies = [], []
for i in range(1, 7):
    head = (b'--' + B + b'\r\nContent-Disposition: form-data; name="file"; filename="par-%d.tar"\r\n'
            b'Content-Type: application/octet-stream\r\n\r\n' % i)
    body = head + data + b'\r\n--' + B + b'--\r\n'
    s = socket.create_connection((u.hostname, u.port))
    s.sendall(b"POST /api/v2/files HTTP/1.1\r\nHost: x\r\nAuthorization: Token " + sys.argv[2].encode() +
              b"\r\nContent-Type: multipart/form-data; boundary=" + B + b"\r\nContent-Length: " +
              str(len(body)).encode() + b"\r\n\r\n" + body[:len(head) + 1024])
    socks.append(s)
    bodies.append(body[len(head) + 1024:])
time.sleep(1.0)  # every upload has begun
for s, rest in zip(socks, bodies):
    s.sendall(rest)
for s in socks:
    s.settimeout(60)
    reply = b""
    while b"\r\n\r\n" not in reply:
        chunk = s.recv(65536)
        if not chunk:
            break
        reply += chunk
    if not reply.startswith(b"HTTP/1.1 200"):
        reply += s.recv(65536)
        raise SystemExit(reply.decode(errors="replace"))
    s.close()
PY
for i in 1 2 3 4 5 6; do
    [ -f "$a_DATA/files/meta/par-$i.tar" ] || fail "par-$i.tar not staged"
done
[ "$(grep -c 'name="par-.*checked=while-uploading' "$a_LOG")" = 4 ] ||
    fail "$(grep -c 'name="par-.*checked=while-uploading' "$a_LOG") checked while uploading, 4 expected"
[ "$(grep -c 'name="par-.*checked=after-upload' "$a_LOG")" = 2 ] || fail "two should be checked after"
for i in 1 2 3 4 5 6; do
    curl -sS -f -H "Authorization: Token $T" -X DELETE "$U/api/v2/files/par-$i.tar" || fail "delete par-$i"
done
pass "six overlapping uploads: four checked while they arrive, two after they are stored, all staged"

# ---- 3. a damaged kept file -------------------------------------------------------
tar czf "$W/gz.tar.gz" -C "$FIXTURE/backup" .
upload "$U/api/v2/files" "$T" "$W/gz.tar.gz"
expect_status 200 "tar.gz upload"
victim=$(ls "$a_DATA"/files/extracted/gz.tar.gz/*.s2.tar.gz/*.tsm | head -n 1)
chmod u+w "$victim"
printf 'X' | dd of="$victim" bs=1 seek=100 conv=notrunc status=none
# (o2's buckets get the same names as o1's: those go first)
for rp in autogen daily; do
    curl -sS -f -H "Authorization: Token $T" -X DELETE "$U/api/v2/buckets/$(bucket_id "$U" "$T" "fixture/$rp")" ||
        fail "delete fixture/$rp"
done
J=$(create_job "$U" "$T" '{"type":"restore","source":{"type":"file","fileName":"gz.tar.gz"},"target":{"type":"bucket","newOrgName":"o2"}}')
[ "$(wait_job "$U" "$T" "$J")" = completed ] || fail "job: $(job_logs "$J")"
grep -q 's2.tar.gz unusable (.*changed since it was validated' <<<"$(job_logs "$J")" || fail "no fallback: $(job_logs "$J")"
[ "$(job_logs "$J" | grep -c '(validated on upload)')" = 4 ] || fail "other shards: $(job_logs "$J")"
export_is_expected fixture
pass "tar.gz: a kept file changed on disk is caught by its SHA-256; that shard comes from the archive; export right"

victim=$(ls "$a_DATA"/files/extracted/plain.tar/*.s3.tar.gz/*.tsm | head -n 1)
chmod u+w "$victim"
printf 'X' | dd of="$victim" bs=1 seek=100 conv=notrunc status=none
before=$(curl -sS -H "Authorization: Token $T" "$U/api/v2/buckets?limit=100" | python3 -c 'import json,sys; print(sum(not b["name"].startswith("_") for b in json.load(sys.stdin)["buckets"]))')
J=$(create_job "$U" "$T" '{"type":"restore","source":{"type":"file","fileName":"plain.tar"},"target":{"type":"bucket","newOrgName":"o3"}}')
[ "$(wait_job "$U" "$T" "$J")" = failed ] || fail "job must fail: $(job_logs "$J")"
grep -q 's3.tar.gz: its files kept at upload are damaged and the staged archive holds no other copy' <<<"$(job_logs "$J")" ||
    fail "error: $(job_logs "$J")"
after=$(curl -sS -H "Authorization: Token $T" "$U/api/v2/buckets?limit=100" | python3 -c 'import json,sys; print(sum(not b["name"].startswith("_") for b in json.load(sys.stdin)["buckets"]))')
[ "$before" = "$after" ] || fail "buckets of the failed job left: $before -> $after"
pass "released tar: a damaged kept file fails the job with a clear error; its buckets are rolled back"

# ---- 4. dropped mid-member ----------------------------------------------------------
python3 - "$U" "$T" "$W/gz.tar.gz" <<'PY'
import socket, sys, time, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
data = open(sys.argv[3], 'rb').read()
s = socket.create_connection((u.hostname, u.port))
B = b'------------------------tsvault0123456789'
head = b'--' + B + b'\r\nContent-Disposition: form-data; name="file"; filename="cut.tar.gz"\r\n\r\n'
s.sendall(b"POST /api/v2/files HTTP/1.1\r\nHost: x\r\nAuthorization: Token " + sys.argv[2].encode() +
          b"\r\nContent-Type: multipart/form-data; boundary=" + B + b"\r\nContent-Length: " +
          str(len(head) + len(data) + 8).encode() + b"\r\n\r\n" + head + data[:len(data) // 2])
time.sleep(0.3)
s.close()
PY
sleep 0.5
[ ! -e "$a_DATA/files/data/cut.tar.gz" ] || fail "dropped upload staged"
[ ! -e "$a_DATA/files/extracted/cut.tar.gz" ] || fail "dropped upload kept files"
[ -z "$(ls -A "$a_DATA/files/tmp")" ] || fail "files/tmp: $(ls "$a_DATA/files/tmp")"
curl -sfS "$U/health" >/dev/null || fail "server down"
pass "a connection dropped in the middle of a shard member leaves nothing"

# ---- 5. start-up and DELETE -----------------------------------------------------------
mkdir -p "$a_DATA/files/extracted/ghost.tar/x.tar.gz"
kill "$a_PID"
wait "$a_PID" 2>/dev/null || true
tsv_launch a "$a_DATA" "$TSV_TMP/a2.log"
U=$a_URL
[ ! -e "$a_DATA/files/extracted/ghost.tar" ] || fail "kept files without a staged file survived a restart"
[ -d "$a_DATA/files/extracted/gz.tar.gz" ] || fail "a staged file's kept files were removed at start-up"
curl -sS -f -H "Authorization: Token $T" -X DELETE "$U/api/v2/files/gz.tar.gz" || fail "delete"
[ ! -e "$a_DATA/files/extracted/gz.tar.gz" ] || fail "DELETE left the kept files"
pass "start-up removes kept files without a staged file; DELETE removes a file's kept files"
