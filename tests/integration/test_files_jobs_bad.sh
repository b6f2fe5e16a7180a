#!/bin/bash
# Files API and Jobs API: bad inputs (docs/api.md). Every one gets a 4xx with
# a clear message, nothing of it is kept (no staged file, nothing left in
# files/tmp), and the server stays up.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/jobs_lib.sh"
tsv_start a --files-max-size 1MiB
U=$a_URL T=$TSV_TOKEN
AUTH="Authorization: Token $T"
http POST "$U/api/v2/setup" -H 'Content-Type: application/json' \
    -d '{"username":"ada","password":"correct-horse","org":"o","bucket":"metrics"}'
expect_status 201 setup
N=0
nothing_kept() {
    n=$(ls "$a_DATA/files/data" | wc -l)
    [ "$n" = "$KEPT" ] || fail "$1: $n staged files, expected $KEPT"
    [ -z "$(ls -A "$a_DATA/files/tmp")" ] || fail "$1: files/tmp not empty: $(ls "$a_DATA/files/tmp")"
    [ "$(ls "$a_DATA/files/extracted" | wc -l)" = "$KEPTX" ] || fail "$1: files/extracted: $(ls "$a_DATA/files/extracted")"
    curl -sfS "$U/health" >/dev/null || fail "$1: server down"
    N=$((N + 1))
}
KEPT=0 KEPTX=0 # staged files; of them, archives kept extracted
# bad_upload STATUS CODE REGEX FILE [curl args]: seed-style upload, refused.
bad_upload() {
    st=$1 code=$2 re=$3 f=$4
    shift 4
    upload "$U/api/v2/files" "$T" "$f" "$@"
    expect_error "$st" "$code" "$re"
    nothing_kept "$f"
}

# Good material first: the 1.x fixture, a backup directory of it.
tar czf "$W/v1.tar.gz" -C "$FIXTURE/backup" .
upload "$U/api/v2/files" "$T" "$W/v1.tar.gz"
expect_status 200 "good upload"
J=$(create_job "$U" "$T" '{"type":"restore","source":{"type":"file","fileName":"v1.tar.gz"},"target":{"type":"bucket"}}')
[ "$(wait_job "$U" "$T" "$J")" = completed ] || fail "restore"
$CLI backup "$U" "$T" "$W/bk" >/dev/null || fail backup
KEPT=1 KEPTX=1
echo "just some text" >"$W/notes.txt"

# ---- multipart framing ---------------------------------------------------------------
http POST "$U/api/v2/files" -H "$AUTH" -H 'Content-Type: application/json' -d '{"file":"x"}'
expect_error 400 invalid "request does not contain a file to upload"; nothing_kept json-body
http POST "$U/api/v2/files" -H "$AUTH" --form 'foo=bar'
expect_error 400 invalid "^request does not contain a file to upload$"; nothing_kept no-file-part
http POST "$U/api/v2/files" -H "$AUTH" --form 'file=just-a-value'
expect_error 400 invalid "^request does not contain a file to upload$"; nothing_kept file-without-filename
http POST "$U/api/v2/files" -H "$AUTH" -H 'Content-Type: multipart/form-data' --data-binary @"$W/notes.txt"
expect_error 400 invalid "boundary"; nothing_kept missing-boundary
printf -- '--tsvault-test-boundary-0123456789\r\nContent-Disposition: form-data; name="file"; filename="trunc.bin"\r\nContent-Type: application/octet-stream\r\n\r\nhalf of a file' >"$W/trunc.body"
http POST "$U/api/v2/files" -H "$AUTH" -H 'Content-Type: multipart/form-data; boundary=tsvault-test-boundary-0123456789' --data-binary @"$W/trunc.body"
expect_error 400 invalid "malformed or truncated"; nothing_kept truncated-multipart
http POST "$U/api/v2/files" -H "$AUTH" --form "file=@$W/notes.txt" --form "file=@$W/v1.tar.gz;filename=second.tar.gz"
expect_error 400 invalid "one file per request"; nothing_kept two-file-parts
# A client that disconnects mid-body (Content-Length promises more).
python3 - "$U" "$T" <<'PY'
import socket, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
s = socket.create_connection((u.hostname, u.port))
B = b'------------------------tsvault0123456789'  # (civetweb refuses very short boundaries)
body = b'--' + B + b'\r\nContent-Disposition: form-data; name="file"; filename="dropped.bin"\r\n\r\n' + b'x' * 5000
s.sendall(b"POST /api/v2/files HTTP/1.1\r\nHost: x\r\nAuthorization: Token " + sys.argv[2].encode() +
          b"\r\nContent-Type: multipart/form-data; boundary=" + B + b"\r\nContent-Length: 100000\r\n\r\n" + body)
s.close()
PY
sleep 0.5; nothing_kept dropped-connection
pass "framing: json body, no file part, file without filename, no boundary, truncated, two files, dropped connection"

# ---- names ---------------------------------------------------------------------------------
http POST "$U/api/v2/files" -H "$AUTH" -F "file=@$W/notes.txt;filename=$(printf 'n%.0s' $(seq 300))"
expect_error 400 invalid "longer than 255"; nothing_kept huge-name
for name in 'a..b' '..' '.hidden' 'back\slash' 'new
line'; do
    http POST "$U/api/v2/files" -H "$AUTH" -F "file=@$W/notes.txt;filename=\"$name\""
    # (civetweb itself blanks a name of "..", which then reads as no file)
    expect_error 400 invalid "file name|does not contain a file"; nothing_kept "name $name"
done
# curl strips directories from @paths; a raw part keeps them.
printf -- '--tsvault-test-boundary-0123456789\r\nContent-Disposition: form-data; name="file"; filename="dir/evil"\r\n\r\nabc\r\n--tsvault-test-boundary-0123456789--\r\n' >"$W/slash.body"
http POST "$U/api/v2/files" -H "$AUTH" -H 'Content-Type: multipart/form-data; boundary=tsvault-test-boundary-0123456789' --data-binary @"$W/slash.body"
expect_error 400 invalid "path separators"; nothing_kept slash
upload "$U/api/v2/files" "$T" "$W/v1.tar.gz"
expect_error 409 conflict "already exists"; nothing_kept same-name
pass "names: too long, '..', leading dot, backslash, control characters, '/', duplicate (409)"

# ---- digests and size -----------------------------------------------------------------------
bad_upload 400 invalid "MD5 digest mismatch" "$W/notes.txt" -H "Content-MD5: $(printf 'other' | openssl md5 -binary | base64)"
bad_upload 400 invalid "base64 of 16 bytes" "$W/notes.txt" -H "Content-MD5: nope"
bad_upload 400 invalid "MD5 digest mismatch" "$W/notes.txt" -H "Digest: sha-256=abc, md5=$(printf 'other' | openssl md5 -binary | base64)"
head -c 2097152 /dev/urandom >"$W/big.bin"
bad_upload 413 "request too large" "larger than the limit" "$W/big.bin"
head -c 1000000 /dev/urandom >"$W/almost.bin"
cat "$W/almost.bin" "$W/almost.bin" >"$W/big2.bin"
# Chunked: no Content-Length to refuse early; the limit stops the stream.
bad_upload 413 "request too large" "larger than the limit" "$W/big2.bin" -H 'Transfer-Encoding: chunked'
upload "$U/api/v2/files" "$T" "$W/notes.txt" -H "Content-MD5: $(openssl md5 -binary <"$W/notes.txt" | base64)"
expect_status 200 "right Content-MD5"; KEPT=2
[ "$(json_get 'j["dataFormat"]+" "+j["compressionFormat"]')" = "unknown none" ] || fail "text file: $(cat "$HTTP_BODY")"
pass "digests (Content-MD5, Digest: md5=; wrong and malformed), size limit (413, with and without Content-Length)"

# ---- corrupt archives of each format -----------------------------------------------------------
mk() { rm -rf "$W/m"; cp -r "$1" "$W/m"; }
fix_sizes() { python3 - "$W/m" <<'PY'
import glob, json, os, sys
d = sys.argv[1]
for mf in glob.glob(d + "/*.manifest"):
    m = json.load(open(mf))
    def fix(o):
        if isinstance(o, dict):
            if "fileName" in o and "size" in o and os.path.exists(os.path.join(d, o["fileName"])):
                o["size"] = os.path.getsize(os.path.join(d, o["fileName"]))
            for v in o.values(): fix(v)
        elif isinstance(o, list):
            for v in o: fix(v)
    fix(m)
    json.dump(m, open(mf, "w"))
PY
}
pack() { tar czf "$W/$1" -C "$W/m" .; }
flip() { python3 -c 'import sys; p,o=sys.argv[1],int(sys.argv[2]); b=bytearray(open(p,"rb").read()); b[o]^=0xff; open(p,"wb").write(b)' "$1" "$2"; }

head -c 20000 "$W/v1.tar.gz" >"$W/trunc.tar.gz"
bad_upload 400 invalid "corrupt" "$W/trunc.tar.gz"
gzip -c "$W/almost.bin" >"$W/noise.gz"; flip "$W/noise.gz" 5000
bad_upload 400 invalid "corrupt gz" "$W/noise.gz"

mk "$W/bk"; rm "$W/m"/*.1.tar.gz; pack bk-missing.tar.gz
bad_upload 400 invalid "1.tar.gz: listed in the manifest but not in the archive" "$W/bk-missing.tar.gz"
mk "$W/bk"; python3 -c 'import glob,json; f=glob.glob("'"$W/m"'/*.manifest")[0]; m=json.load(open(f)); m["kv"]["size"]+=1; json.dump(m,open(f,"w"))'; pack bk-size.tar.gz
bad_upload 400 invalid "the manifest says" "$W/bk-size.tar.gz"
mk "$W/bk"; for f in "$W/m"/*.manifest; do echo '{"manifestVersion":2,' >"$f"; done; pack bk-json.tar.gz
bad_upload 400 invalid "manifest" "$W/bk-json.tar.gz"
mk "$W/bk"; for f in "$W/m"/*.manifest; do sed -i 's/"manifestVersion": *2/"manifestVersion":3/' "$f"; done; pack bk-ver.tar.gz
bad_upload 400 invalid "unsupported manifestVersion 3" "$W/bk-ver.tar.gz"
# A TSM block corrupted inside one shard archive.
mk "$W/bk"; s=$(ls "$W/m"/*.1.tar.gz); mkdir "$W/sx"; tar xzf "$s" -C "$W/sx"
tsm=$(find "$W/sx" -name '*.tsm' | head -n 1); flip "$tsm" 200
(cd "$W/sx" && tar --format=ustar -cf - .) | gzip -c >"$s"; rm -rf "$W/sx"; fix_sizes; pack bk-tsm.tar.gz
bad_upload 400 invalid "$(basename "$s")" "$W/bk-tsm.tar.gz"
# (both meta pages: with one bad meta page bbolt uses the other)
mk "$W/bk"; kv=$(ls "$W/m"/*.bolt*); if [ "${kv%.gz}" != "$kv" ]; then gunzip "$kv"; kv=${kv%.gz}; flip "$kv" 16; flip "$kv" 4112; gzip "$kv"; else flip "$kv" 16; flip "$kv" 4112; fi; fix_sizes; pack bk-bolt.tar.gz
bad_upload 400 invalid "bolt" "$W/bk-bolt.tar.gz"

mk "$FIXTURE/backup"; chmod -R u+w "$W/m"; rm "$W/m"/*.s3.tar.gz; pack v1-missing.tar.gz
bad_upload 400 invalid "s3.tar.gz: listed in the manifest but not in the archive" "$W/v1-missing.tar.gz"
mk "$FIXTURE/backup"; chmod -R u+w "$W/m"; printf '\x0a\x05hello' >"$W"/m/*.meta; pack v1-meta.tar.gz
bad_upload 400 invalid "\\.meta" "$W/v1-meta.tar.gz"
mk "$FIXTURE/backup"; chmod -R u+w "$W/m"; s=$(ls "$W/m"/*.s2.tar.gz); gunzip -c "$s" >"$W/s2.tar"; flip "$W/s2.tar" 1200; gzip -c "$W/s2.tar" >"$s"; pack v1-tsm.tar.gz
bad_upload 400 invalid "s2.tar.gz" "$W/v1-tsm.tar.gz"

# Single files: shard tar, bolt, sqlite.
tar -C "$W" -cf - s2.tar >/dev/null
mkdir -p "$W/sh"; tar xf "$W/s2.tar" -C "$W/sh"; (cd "$W/sh" && tar --format=ustar -cf "$W/shard-bad.tar" .)
bad_upload 400 invalid "invalid shard" "$W/shard-bad.tar"
gunzip -c "$TSV_TESTDATA/influxdb-2-kv/influxd-2.0-backup.bolt.gz" >"$W/kv.bolt"; flip "$W/kv.bolt" 4112; flip "$W/kv.bolt" 20
bad_upload 400 invalid "invalid bolt" "$W/kv.bolt"
python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("create table t(x)"); c.executemany("insert into t values (?)", [(i,) for i in range(20000)]); c.commit()' "$W/db.sqlite"
flip "$W/db.sqlite" 6000; flip "$W/db.sqlite" 9000
bad_upload 400 invalid "invalid sqlite" "$W/db.sqlite"
# Tars that try to escape or link.
mkdir -p "$W/esc"; echo x >"$W/esc/a.tsm"
python3 - "$W" <<'PY'
import io, sys, tarfile
w = sys.argv[1]
with tarfile.open(w + "/dotdot.tar", "w") as t:
    data = b"x"
    ti = tarfile.TarInfo("../../etc/evil.tsm"); ti.size = 1; t.addfile(ti, io.BytesIO(data))
with tarfile.open(w + "/symlink.tar", "w") as t:
    ti = tarfile.TarInfo("link.tsm"); ti.type = tarfile.SYMTYPE; ti.linkname = "/etc/passwd"; t.addfile(ti)
PY
bad_upload 400 invalid "\\.\\." "$W/dotdot.tar"
bad_upload 400 invalid "not a regular file" "$W/symlink.tar"
pass "corrupt archives: truncated tar.gz, damaged gzip, influx-backup (missing shard, size, JSON, version, TSM block, bolt), 1.x (missing shard, .meta, TSM), shard tar, bolt, sqlite, '..' and symlink members"

# ---- jobs ---------------------------------------------------------------------------------------
bad_job() {
    http POST "$U/api/v2/jobs" -H "$AUTH" -H 'Content-Type: application/json' -d "$1"
    expect_error 400 invalid "$2"
    N=$((N + 1))
}
bad_job '{"type":"bogus","source":{"type":"file","fileName":"v1.tar.gz"},"target":{"type":"bucket"}}' 'unknown job type "bogus"'
bad_job '{"type":"delete_data","target":{"type":"table","tableName":"metrics"},"intervals":["2024-01-02T00:00:00Z/2024-01-01T00:00:00Z"]}' 'reversed'
bad_job '{"type":"restore_data","target":{"type":"table","tableName":"metrics"},"interval":"bad"}' 'interval "bad"'
bad_job '{"source":{}}' 'type is required'
bad_job '{"type":"restore",' 'invalid JSON'
bad_job '[1,2]' 'JSON object'
bad_job '{"type":"restore","target":{"type":"bucket"}}' 'source is required'
bad_job '{"type":"restore","source":{"type":"file","fileName":"nope.tar.gz"},"target":{"type":"bucket"}}' 'source.fileName: file "nope.tar.gz" not found'
bad_job '{"type":"restore","source":{"type":"file","fileName":"notes.txt"},"target":{"type":"bucket"}}' 'is unknown; restore jobs take'
bad_job '{"type":"restore","source":{"type":"file","fileName":"v1.tar.gz"},"target":{"type":"cluster"}}' 'target.type "cluster"'
bad_job '{"type":"restore","source":{"type":"file","fileName":"v1.tar.gz"},"target":{"type":"bucket","newBucketName":"x"}}' 'newBucketName needs target.bucketName'
bad_job '{"type":"restore","source":{"type":"file","fileName":"v1.tar.gz"},"target":{"type":"full","bucketName":"x"}}' 'full restore cannot be limited'
bad_job '{"type":"restore","source":{"type":"file","fileName":"v1.tar.gz"},"target":{"type":"full"}}' 'needs an influx-backup archive'
bad_job '{"type":"restore","source":{"type":"file","fileName":"v1.tar.gz"},"target":{"type":"bucket","bucketName":7}}' 'target.bucketName must be a non-empty string'
bad_job '{"type":"restore","desiredExecutionStatus":"paused","source":{"type":"file","fileName":"v1.tar.gz"},"target":{"type":"bucket"}}' 'desiredExecutionStatus'
for q in paginationLimit=0 paginationLimit=1001 paginationLimit=abc paginationOffset=-1 paginationOffset=1e3 \
         sortColumn=bogus sortOrder=UP executionStatus=sleeping healthStatus=fine type=nope; do
    http GET "$U/api/v2/jobs?$q" -H "$AUTH"
    expect_error 400 invalid "^${q%%=*}"
    N=$((N + 1))
done
http GET "$U/api/v2/jobs/00000000-0000-0000-0000-000000000000" -H "$AUTH"
expect_error 404 "not found"
http PATCH "$U/api/v2/jobs/$J" -H "$AUTH" -d '{"desiredExecutionStatus":"paused"}'
expect_error 400 invalid desiredExecutionStatus
http PATCH "$U/api/v2/jobs/$J" -H "$AUTH" -d '{"desiredExecutionStatus":"canceled"}'
expect_error 409 conflict "already completed"
# A restore of a bucket that is not in the archive fails as a job, keeps nothing.
J2=$(create_job "$U" "$T" '{"type":"restore","source":{"type":"file","fileName":"v1.tar.gz"},"target":{"type":"bucket","bucketName":"nodb/norp"}}')
[ "$(wait_job "$U" "$T" "$J2")" = failed ] || fail "restore of an absent bucket must fail"
[ "$(json_get 'j["health"]["message"]')" = '"nodb/norp" names no database/retention policy of the backup v1.tar.gz' ] || fail "$(cat "$HTTP_BODY")"
http GET "$U/api/v2/jobs" -H "Authorization: Token wrong"
expect_error 401 unauthorized
N=$((N + 5))
pass "jobs: unknown/unavailable types, bad JSON, bad source/target, bad pagination/sort/filters, unknown id, bad and late PATCH, absent bucket, bad token"
curl -sfS "$U/health" >/dev/null || fail "server down"
[ "$N" -ge 30 ] || fail "only $N bad inputs"
pass "$N bad inputs refused, nothing kept, server alive"
