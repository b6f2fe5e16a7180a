#!/usr/bin/env python3
"""A stand-in for the official influx CLI's `backup` and `restore` (v2.8.0,
new-API path), for the integration tests: the real CLI (a Go binary) is not in
Debian. Each step follows docs/influxdb-compat.md (#cli-backup, #cli-restore-*):

  backup URL TOKEN DIR [--gzip-level L] [--compression gzip|none]   (#cli-backup)
  restore URL TOKEN DIR [--full] [--seed N]                         (#cli-restore-full, -partial)

An https:// URL is verified as the CLI (Go) does it: against the system's CA
store, or the PEM file named by SSL_CERT_FILE; --skip-verify (the CLI's flag)
accepts any certificate.

What goes on the wire is what the CLI sends: `Accept: application/json` and
`Accept-Encoding: gzip` on the backup GETs (the CLI gunzips itself), every
POST body chunked with no Content-Length, uploads gzip with
`Content-Encoding: gzip`, the bucketMetadata body as JSON with sorted keys and
a trailing newline, full restores to the ORIGINAL shard IDs, partial restores
to the server's shardMappings. Buckets are processed in a shuffled order (the
CLI iterates a Go map). Any HTTP status >= 300 is fatal, except the two the
CLI tolerates: "not found" for a shard download (the shard is left out of the
manifest) and for an org lookup (the org is created).

The multipart reply is parsed leniently, as Go's mime/multipart reader does;
the exact framing is checked separately by the tests (backup_check.py).
"""
import gzip
import http.client
import io
import json
import os
import random
import re
import ssl
import sys
import time
import urllib.parse

USER_AGENT = "influx/2.8.0 (linux) Sha/8cdf401 Date/2024-01-01T00:00:00Z"
CHUNK = 64 * 1024


class CLIError(Exception):
    pass


SKIP_VERIFY = False


class Client:
    def __init__(self, url, token):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port
        self.https = u.scheme == "https"
        self.token = token

    def _conn(self):
        if self.https:
            # create_default_context() honours SSL_CERT_FILE, as Go does.
            ctx = ssl._create_unverified_context() if SKIP_VERIFY else ssl.create_default_context()
            return http.client.HTTPSConnection(self.host, self.port, timeout=300, context=ctx)
        return http.client.HTTPConnection(self.host, self.port, timeout=300)

    def request(self, method, path, headers=None, body=None):
        """Returns (status, headers dict lower-cased, body bytes). body may be
        bytes or an iterable of bytes; either is sent chunked."""
        h = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip"}
        if self.token:
            h["Authorization"] = "Token " + self.token
        h.update(headers or {})
        conn = self._conn()
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for k, v in h.items():
                conn.putheader(k, v)
            if body is not None:
                conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            if body is not None:
                chunks = [body] if isinstance(body, (bytes, bytearray)) else body
                for c in chunks:
                    if c:
                        conn.send(b"%x\r\n" % len(c) + bytes(c) + b"\r\n")
                conn.send(b"0\r\n\r\n")
            resp = conn.getresponse()
            data = resp.read()
            hdrs = {k.lower(): v for k, v in resp.getheaders()}
            return resp.status, hdrs, data
        finally:
            conn.close()

    def check(self, what, status, hdrs, data):
        if status < 300:
            return
        if hdrs.get("content-encoding") == "gzip":
            data = gzip.decompress(data)
        code, msg = "internal error", data[:300].decode("utf-8", "replace")
        try:
            j = json.loads(data)
            code, msg = j.get("code", code), j.get("message", msg)
        except ValueError:
            pass
        raise CLIError(f"{what}: HTTP {status} {code}: {msg}")


def error_code(hdrs, data):
    try:
        if hdrs.get("content-encoding") == "gzip":
            data = gzip.decompress(data)
        return json.loads(data).get("code")
    except (ValueError, OSError):
        return None


def api_check(c):
    status, hdrs, data = c.request("GET", "/health", {"Accept": "application/json"})
    c.check("API compatibility check failed", status, hdrs, data)
    m = re.search(r"(\d+)\.(\d+)\.(\d+)", json.loads(data).get("version", ""))
    if m and int(m.group(1)) < 2:
        raise CLIError("InfluxDB v1 does not support the APIs required for backup/restore")
    if m and int(m.group(2)) == 0:
        raise CLIError("legacy 2.0.x server: this stand-in only speaks the new API")


def parse_multipart(body, boundary):
    """Go's multipart.Reader, leniently: [(headers dict, bytes)]."""
    delim = b"--" + boundary.encode()
    parts = []
    pos = body.find(delim)
    if pos < 0:
        raise CLIError("multipart: NextPart: EOF")
    while True:
        pos += len(delim)
        if body[pos:pos + 2] == b"--":
            return parts
        head_end = body.find(b"\r\n\r\n", pos)
        if head_end < 0:
            raise CLIError("multipart: unexpected EOF in part headers")
        hdrs = {}
        for line in body[pos:head_end].split(b"\r\n"):
            if line:
                k, _, v = line.decode().partition(":")
                hdrs[k.strip().lower()] = v.strip()
        nxt = body.find(b"\r\n" + delim, head_end + 4)
        if nxt < 0:
            raise CLIError("multipart: unexpected EOF in part body")
        parts.append((hdrs, body[head_end + 4:nxt]))
        pos = nxt + 2


def write_file(path, data, compress):
    if compress:
        data = gzip.compress(data)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)
    return len(data)


def backup(url, token, outdir, gzip_level=None, compression="gzip"):
    c = Client(url, token)
    os.makedirs(outdir, exist_ok=True)
    api_check(c)
    base = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    gz = compression == "gzip"
    extra = {"Accept": "application/json", "Accept-Encoding": "gzip"}
    if gzip_level:
        extra["Gzip-Compression-Level"] = gzip_level
    status, hdrs, data = c.request("GET", "/api/v2/backup/metadata", extra)
    c.check("failed to backup metadata", status, hdrs, data)
    if hdrs.get("content-encoding") == "gzip":
        data = gzip.decompress(data)
    ctype = hdrs.get("content-type", "")
    m = re.match(r"multipart/[^;]+;\s*boundary=(\S+)$", ctype)
    if not m:
        raise CLIError(f"mime: no media type (Content-Type {ctype!r})")
    manifest = {"manifestVersion": 2}
    buckets = None
    for ph, pdata in parse_multipart(data, m.group(1).strip('"')):
        name = re.search(r'name="([^"]*)"', ph.get("content-disposition", ""))
        name = name.group(1) if name else ""
        if name == "kv":
            fn = f"{base}.bolt" + (".gz" if gz else "")
            manifest["kv"] = {"fileName": fn, "size": write_file(os.path.join(outdir, fn), pdata, gz),
                              "compression": 1 if gz else 0}
        elif name == "sql":
            fn = f"{base}.sqlite" + (".gz" if gz else "")
            manifest["sql"] = {"fileName": fn, "size": write_file(os.path.join(outdir, fn), pdata, gz),
                               "compression": 1 if gz else 0}
        elif name == "buckets":
            buckets = json.loads(pdata)
        else:
            raise CLIError(f'response contained unexpected part "{name}"')
    if "kv" not in manifest or buckets is None:
        raise CLIError("metadata response lacks the kv or buckets part")
    for b in buckets:
        for rp in b["retentionPolicies"]:
            for g in rp["shardGroups"]:
                kept = []
                for s in g["shards"]:
                    status, hdrs, data = c.request("GET", f"/api/v2/backup/shards/{s['id']}", extra)
                    if status == 404 and error_code(hdrs, data) == "not found":
                        print(f"WARN: Shard {s['id']} removed during backup", file=sys.stderr)
                        continue
                    c.check(f"failed to download snapshot of shard {s['id']}", status, hdrs, data)
                    served_gz = hdrs.get("content-encoding") == "gzip"
                    if gz and not served_gz:
                        data = gzip.compress(data)
                    elif not gz and served_gz:
                        data = gzip.decompress(data)
                    fn = f"{base}.{s['id']}.tar" + (".gz" if gz else "")
                    with open(os.path.join(outdir, fn), "wb") as f:
                        f.write(data)
                    s = dict(s, fileName=fn, size=len(data), compression=1 if gz else 0)
                    kept.append(s)
                g["shards"] = kept
    manifest["buckets"] = buckets
    with open(os.path.join(outdir, f"{base}.manifest"), "w") as f:
        f.write(json.dumps(manifest, indent=2) + "\n")
    return os.path.join(outdir, f"{base}.manifest")


def load_manifests(d):
    names = sorted(n for n in os.listdir(d) if n.endswith(".manifest"))
    if not names:
        raise CLIError("no backup manifests found")
    kv = sql = None
    buckets = {}
    for n in names:
        with open(os.path.join(d, n)) as f:
            m = json.load(f)
        if m.get("manifestVersion") != 2:
            raise CLIError(f"unsupported manifest version in {n}")
        kv, sql = m["kv"], m.get("sql")
        for b in m["buckets"]:
            buckets[f"{b['organizationName']}/{b['bucketName']}"] = b
    return kv, sql, list(buckets.values())


def file_body(d, entry):
    """The upload body: the file as is when gzip, gzipped on the fly otherwise."""
    with open(os.path.join(d, entry["fileName"]), "rb") as f:
        data = f.read()
    if entry.get("compression") != 1:
        data = gzip.compress(data)
    return [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)]


UPLOAD = {"Content-Type": "application/octet-stream", "Content-Encoding": "gzip",
          "Accept": "application/json"}


def restore(url, token, d, full=False, seed=None):
    kv, sql, buckets = load_manifests(d)
    c = Client(url, token)
    api_check(c)
    random.Random(seed).shuffle(buckets)
    report = {"token": None, "mappings": {}}
    if full:
        status, hdrs, data = c.request("POST", "/api/v2/restore/kv", UPLOAD, file_body(d, kv))
        c.check("failed to restore KV snapshot", status, hdrs, data)
        if not re.match(r"(?i)(application|text)/(vnd\.[^;]+\+)?json", hdrs.get("content-type", "")):
            raise CLIError(f'unable to decode response content type "{hdrs.get("content-type")}"')
        new = json.loads(data)["token"]  # v2.8.0 dereferences it unchecked
        if new and new != c.token:
            print("WARN: Restoring KV snapshot overwrote the operator token", file=sys.stderr)
            c.token = new
        report["token"] = c.token
        if sql:
            status, hdrs, data = c.request("POST", "/api/v2/restore/sql", UPLOAD, file_body(d, sql))
            c.check("failed to restore SQL snapshot", status, hdrs, data)
        for b in buckets:
            for rp in b["retentionPolicies"]:
                for g in rp["shardGroups"]:
                    for s in g["shards"]:
                        status, hdrs, data = c.request(
                            "POST", f"/api/v2/restore/shards/{s['id']}", UPLOAD, file_body(d, s))
                        c.check(f"failed to restore shard {s['id']}", status, hdrs, data)
                        report["mappings"][str(s["id"])] = s["id"]
        return report
    orgs = {}
    for b in buckets:
        if b["bucketName"].startswith("_"):
            continue
        name = b["organizationName"]
        if name not in orgs:
            q = urllib.parse.urlencode({"org": name})
            status, hdrs, data = c.request("GET", f"/api/v2/orgs?{q}", {"Accept": "application/json"})
            found = None
            if status < 300:
                lst = json.loads(data).get("orgs") or []
                found = lst[0]["id"] if lst else None
            elif error_code(hdrs, data) != "not found":
                c.check("failed to check existence of organization", status, hdrs, data)
            if not found:
                status, hdrs, data = c.request(
                    "POST", "/api/v2/orgs", {"Content-Type": "application/json",
                                             "Accept": "application/json"},
                    json.dumps({"name": name}).encode())
                c.check(f"failed to create organization {name}", status, hdrs, data)
                found = json.loads(data)["id"]
            orgs[name] = found
        body = dict(b, organizationID=orgs[name], organizationName=name)
        body["retentionPolicies"] = [
            dict(rp, shardGroups=[
                dict(g, shards=[{"id": s["id"], "shardOwners": s["shardOwners"]} for s in g["shards"]])
                for g in rp["shardGroups"]])
            for rp in b["retentionPolicies"]]
        status, hdrs, data = c.request(
            "POST", "/api/v2/restore/bucketMetadata",
            {"Content-Type": "application/json", "Accept": "application/json"},
            (json.dumps(body, sort_keys=True) + "\n").encode())
        c.check(f'failed to restore bucket "{b["bucketName"]}"', status, hdrs, data)
        mapping = {m["oldId"]: m["newId"] for m in json.loads(data)["shardMappings"]}
        for rp in b["retentionPolicies"]:
            for g in rp["shardGroups"]:
                for s in g["shards"]:
                    new = mapping.get(s["id"])
                    if new is None:
                        print(f"WARN: Server didn't map ID for shard {s['id']} in bucket "
                              f"\"{b['bucketName']}\", skipping", file=sys.stderr)
                        continue
                    status, hdrs, data = c.request(
                        "POST", f"/api/v2/restore/shards/{new}", UPLOAD, file_body(d, s))
                    c.check(f"failed to restore shard {new}", status, hdrs, data)
                    report["mappings"][str(s["id"])] = new
    return report


def main(argv):
    if len(argv) < 4 or argv[0] not in ("backup", "restore"):
        print(__doc__, file=sys.stderr)
        return 2
    global SKIP_VERIFY
    cmd, url, token, d = argv[:4]
    opts = argv[4:]
    SKIP_VERIFY = "--skip-verify" in opts
    try:
        if cmd == "backup":
            level = opts[opts.index("--gzip-level") + 1] if "--gzip-level" in opts else None
            comp = opts[opts.index("--compression") + 1] if "--compression" in opts else "gzip"
            print(backup(url, token, d, level, comp))
        else:
            seed = int(opts[opts.index("--seed") + 1]) if "--seed" in opts else None
            print(json.dumps(restore(url, token, d, "--full" in opts, seed)))
    except CLIError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
    except ssl.SSLError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
