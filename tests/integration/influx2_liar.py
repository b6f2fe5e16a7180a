#!/usr/bin/env python3
"""A lying InfluxDB 2.x backup/restore server for test_influx2_client.sh.

    influx2_liar.py PORTFILE

Listens on a free loopback port (written to PORTFILE). The token of each
request picks the lie, so one server covers every case:

  good              a correct metadata reply and a correct shard 1 (control)
  truncated-tar     shard 1: a tar cut inside its first entry (gzip itself fine)
  no-end-marker     shard 1: complete entries, no two zero blocks
  bad-gzip          shard 1: Content-Encoding gzip, the bytes are not gzip
  cut-gzip          shard 1: a gzip stream cut before its trailer
  midstream-error   shard 1: 200, half a tar, then an error JSON (upstream B6)
  no-kv             metadata: only the sql and buckets parts
  bad-boundary      metadata: Content-Type names another boundary than the body
  truncated-multipart  metadata: the body ends inside the kv part
  unknown-part      metadata: a part named "extra"
  unmapped          restore/bucketMetadata answers 201 mapping no shard
  vanishing         restore answers success, but the bucket is not there afterwards
  big               like good, but shard 1 is an 8 MiB tar of random bytes (written to
                    PORTFILE.big.tar); restore/shards/7 answers 500 unless the upload
                    gunzips to exactly that tar
  forbidden         /api/v2/orgs ok, backup/metadata 401 "read:authorizations is unauthorized"
Any other token: 401 unauthorized access.
"""
import gzip
import io
import json
import random
import sys
import tarfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BOUNDARY = "b" * 60
KV = bytes(range(256)) * 64  # opaque "bolt" bytes
SQL = b"SQLite format 3\0" + b"s" * 4000
ORG = "0123456789abcdef"
BUCKET = "fedcba9876543210"
MANIFEST = [{
    "organizationID": ORG, "organizationName": "org", "bucketID": BUCKET, "bucketName": "b",
    "defaultRetentionPolicy": "autogen",
    "retentionPolicies": [{
        "name": "autogen", "replicaN": 1, "duration": 0, "shardGroupDuration": 604800000000000,
        "shardGroups": [{"id": 1, "startTime": "2024-01-01T00:00:00Z", "endTime": "2024-01-08T00:00:00Z",
                         "shards": [{"id": 1, "shardOwners": []}]}],
        "subscriptions": []}]}]


def shard_tar(big=False):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        data = b"\x16\xd1\x16\xd1\x01" + b"x" * 5000
        if big:
            data = random.Random(7).randbytes(8 << 20)
        info = tarfile.TarInfo(f"{BUCKET}/autogen/1/000000001-000000001.tsm")
        info.size = len(data)
        info.mtime = 1700000000
        t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def part(name, ctype, data):
    return (f"--{BOUNDARY}\r\nContent-Disposition: attachment; name=\"{name}\"\r\n"
            f"Content-Type: {ctype}\r\n\r\n").encode() + data + b"\r\n"


def multipart(parts):
    body = b"".join(part(*p) for p in parts)
    return body + f"--{BOUNDARY}--\r\n".encode()


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("liar: " + fmt % args + "\n")

    def token(self):
        a = self.headers.get("Authorization", "")
        return a[6:] if a.startswith("Token ") else ""

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def send(self, status, data, ctype="application/json; charset=utf-8", extra=None, length=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data) if length is None else length))
        self.end_headers()
        self.wfile.write(data)

    def err(self, status, code, msg):
        self.send(status, json.dumps({"code": code, "message": msg}).encode())

    def do_GET(self):
        tok, path = self.token(), self.path
        if path == "/health":
            return self.send(200, b'{"name":"influxdb","message":"ready","status":"pass","checks":[],"version":"v2.7.4","commit":"x"}')
        if tok not in ("good", "truncated-tar", "no-end-marker", "bad-gzip", "cut-gzip",
                       "midstream-error", "no-kv", "bad-boundary", "truncated-multipart",
                       "unknown-part", "unmapped", "vanishing", "forbidden", "big"):
            return self.err(401, "unauthorized", "unauthorized access")
        if path.startswith("/api/v2/orgs"):
            return self.send(200, json.dumps({"orgs": [{"id": ORG, "name": "org"}]}).encode())
        if path == "/api/v2/backup/metadata":
            if tok == "forbidden":
                return self.err(401, "unauthorized", "read:authorizations is unauthorized")
            parts = [("kv", "application/octet-stream", KV), ("sql", "application/octet-stream", SQL),
                     ("buckets", "application/json; charset=utf-8", json.dumps(MANIFEST).encode() + b"\n")]
            ctype = f"multipart/mixed; boundary={BOUNDARY}"
            if tok == "no-kv":
                parts = parts[1:]
            if tok == "unknown-part":
                parts.append(("extra", "text/plain", b"hi"))
            body = multipart(parts)
            if tok == "bad-boundary":
                ctype = "multipart/mixed; boundary=" + "c" * 60
            if tok == "truncated-multipart":
                body = body[:2000]
            return self.send(200, gzip.compress(body), ctype, {"Content-Encoding": "gzip"})
        if path.startswith("/api/v2/backup/shards/"):
            if path.split("/")[-1].split("?")[0] != "1":
                return self.err(404, "not found", "shard not found")
            tar = BIG if tok == "big" else shard_tar()
            if tok == "truncated-tar":
                tar = tar[:3000]
            elif tok == "no-end-marker":
                tar = tar[:512 + 5120]  # the whole entry (header, data padded), no zero blocks
            elif tok == "midstream-error":
                tar = tar[:512 + 2048] + b'{"code":"internal error","message":"engine closed"}'
            body = gzip.compress(tar)
            if tok == "bad-gzip":
                body = b"this is not gzip at all" * 10
            elif tok == "cut-gzip":
                body = body[:len(body) // 2]
            return self.send(200, body, "application/octet-stream", {"Content-Encoding": "gzip"})
        if path.startswith("/api/v2/buckets"):
            if tok == "vanishing":
                return self.send(200, b'{"buckets":[]}')
            return self.send(200, json.dumps({"buckets": [{"id": "1111111111111111", "orgID": ORG, "name": "b"}]}).encode())
        return self.err(404, "not found", "path not found")

    def do_POST(self):
        tok, path = self.token(), self.path
        body = self.body()
        if tok == "big" and path == "/api/v2/restore/shards/7":
            if self.headers.get("Content-Encoding") != "gzip" or gzip.decompress(body) != BIG:
                return self.err(500, "internal error", "upload differs from the big tar")
        if path == "/api/v2/restore/bucketMetadata":
            maps = [] if tok == "unmapped" else [{"oldId": 1, "newId": 7}]
            return self.send(201, json.dumps({"id": "1111111111111111", "name": "b", "shardMappings": maps}).encode())
        if path.startswith("/api/v2/restore/shards/"):
            return self.send(200, b"")  # upstream: 200 even when the engine failed (B2)
        return self.err(404, "not found", "path not found")


BIG = b""


def main():
    global BIG
    BIG = shard_tar(big=True)
    with open(sys.argv[1] + ".big.tar", "wb") as f:
        f.write(BIG)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    srv.serve_forever()


if __name__ == "__main__":
    main()
