"""A source that lies: an InfluxDB 2.x backup API whose answers are broken in
one way each, chosen by the first path segment (/<mode>/api/v2/...):
  truncated-tar       the shard's tar stops in the middle of a file
  bad-gzip            the shard claims Content-Encoding gzip and is not gzip
  no-kv               the metadata multipart has no "kv" part
  wrong-entries       the shard's tar holds another shard's files
  truncated-metadata  the metadata body stops before its closing boundary
  slow                the shard sends half its tar, then nothing for 30 s
Writes its port to argv[1]. Test use only (test_connections_2x.sh)."""
import http.server
import io
import json
import sys
import tarfile

BUCKET = "0123456789abcdef"
MANIFEST = [{
    "organizationID": "aaaaaaaaaaaaaaaa", "organizationName": "o", "bucketID": BUCKET,
    "bucketName": "b", "defaultRetentionPolicy": "autogen",
    "retentionPolicies": [{"name": "autogen", "replicaN": 1, "duration": 0,
                           "shardGroupDuration": 604800000000000,
                           "shardGroups": [{"id": 1, "startTime": "2024-01-01T00:00:00Z",
                                            "endTime": "2024-01-08T00:00:00Z",
                                            "shards": [{"id": 1, "shardOwners": []}]}],
                           "subscriptions": []}]}]
B = "3f1b7c0e5d2a4968b1c0d3e2f5a49687b6c5d4e3f2a1b0c9d8e7f6a5b4c3"


def shard_tar(prefix):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as t:
        data = b"\x16\xd1\x16\xd1\x01" + b"x" * 3000
        info = tarfile.TarInfo(prefix + "000000001-000000001.tsm")
        info.size = len(data)
        info.mtime = 1700000000
        t.addfile(info, io.BytesIO(data))
    return out.getvalue()


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, code, body, ctype="application/octet-stream", extra=(), length=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        if length is not None:
            self.close_connection = True

    def do_GET(self):
        parts = self.path.split("?")[0].split("/", 2)
        mode, rest = parts[1], "/" + (parts[2] if len(parts) > 2 else "")
        if rest == "/health":
            return self.send(200, b'{"name":"influxdb","status":"pass","version":"v2.7.0"}',
                             "application/json")
        if rest == "/api/v2/backup/metadata":
            names = ["sql", "buckets"] if mode == "no-kv" else ["kv", "sql", "buckets"]
            bodies = {"kv": b"\0" * 4096, "sql": b"", "buckets": json.dumps(MANIFEST).encode()}
            out = b""
            for n in names:
                out += b"--" + B.encode() + b"\r\nContent-Disposition: attachment; name=\"" + \
                    n.encode() + b"\"\r\nContent-Type: application/octet-stream\r\n\r\n" + \
                    bodies[n] + b"\r\n"
            out += b"--" + B.encode() + b"--\r\n"
            if mode == "truncated-metadata":
                return self.send(200, out[:len(out) // 2], "multipart/mixed; boundary=" + B,
                                 length=len(out))
            return self.send(200, out, "multipart/mixed; boundary=" + B)
        if rest.startswith("/api/v2/backup/shards/"):
            sid = rest.rsplit("/", 1)[1]
            if mode == "wrong-entries":
                return self.send(200, shard_tar("ffffffffffffffff/autogen/9/"))
            tar = shard_tar("%s/autogen/%s/" % (BUCKET, sid))
            if mode == "truncated-tar":
                return self.send(200, tar[:2000], length=len(tar))
            if mode == "slow":
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(tar)))
                self.end_headers()
                self.wfile.write(tar[:2000])
                self.wfile.flush()
                import time
                time.sleep(30)
                self.close_connection = True
                return
            if mode == "bad-gzip":
                return self.send(200, b"this is not gzip" * 10, extra=[("Content-Encoding", "gzip")])
            return self.send(200, tar)
        self.send(404, b'{"code":"not found","message":"not found"}', "application/json")


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
srv.serve_forever()
