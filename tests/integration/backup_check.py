#!/usr/bin/env python3
"""Checks on what the backup endpoints return, for the integration tests.

  multipart BODY CONTENT-TYPE OUTDIR  the exact Go mime/multipart framing of a
                                      /backup/metadata body (docs/influxdb-compat.md
                                      #endpoints): writes OUTDIR/{kv,sql,buckets}
  schema BUCKETS-JSON                 docs/formats.md#bucket-manifest: key order,
                                      types, omissions, ns durations, RFC 3339 times, Go escaping
  tar FILE                            a shard tar as influxd writes it (docs/influxdb-compat.md#endpoints):
                                      prints one JSON line per entry
                                      [name, size, mtime, mode, sha256]
  untar FILE OUTDIR                   extracts regular files (flat, by name)
  tombstone TSM OUT                   writes a v4 tombstone deleting the first
                                      key of TSM for all time; prints the key
  metadb BOLTDUMP                     decodes v1_tsm1_metadata/meta.db from a
                                      boltcheck dump: prints JSON
                                      {bucketID: {"rp": .., "shards": [..],
                                      "deleted": [..]}}
  bolt-buckets BOLTDUMP               the bucket IDs in bucketsv1, sorted
Exit status 1 with a message on the first violation.
"""
import gzip
import hashlib
import json
import os
import re
import struct
import sys
import tarfile


def die(msg):
    print("backup_check: " + msg, file=sys.stderr)
    sys.exit(1)


def cmd_multipart(body_path, ctype, outdir):
    m = re.fullmatch(r"multipart/mixed; boundary=([0-9a-f]{60})", ctype)
    if not m:
        die(f"Content-Type {ctype!r} is not multipart/mixed with a 60-hex boundary")
    b = m.group(1).encode()
    body = open(body_path, "rb").read()
    pos = 0
    os.makedirs(outdir, exist_ok=True)
    for i, (name, ptype) in enumerate((("kv", "application/octet-stream"),
                                       ("sql", "application/octet-stream"),
                                       ("buckets", "application/json; charset=utf-8"))):
        head = (b"" if i == 0 else b"\r\n") + b"--" + b + b"\r\n" + \
            f'Content-Disposition: attachment; name="{name}"\r\n'.encode() + \
            f"Content-Type: {ptype}\r\n\r\n".encode()
        if body[pos:pos + len(head)] != head:
            die(f"part {i} ({name}): expected header {head!r}, got {body[pos:pos + len(head)]!r}")
        pos += len(head)
        end = body.find(b"\r\n--" + b, pos)
        if end < 0:
            die(f"part {name} has no closing delimiter")
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(body[pos:end])
        pos = end
    tail = b"\r\n--" + b + b"--\r\n"
    if body[pos:] != tail:
        die(f"body must end with {tail!r}, got {body[pos:pos + 100]!r}")
    if body.count(b"--" + b) != 4:
        die("the boundary appears inside a part")


GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def go_json(v):
    """encoding/json's compact output (HTML escaping on, UTF-8 kept)."""
    s = json.dumps(v, separators=(",", ":"), ensure_ascii=False)
    return "".join(GO_ESCAPES.get(ch, ch) for ch in s)


RFC3339NANO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z")


def is_u64(v):
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 1 << 64


def is_i64(v):
    return isinstance(v, int) and not isinstance(v, bool) and -(1 << 63) <= v < 1 << 63


def cmd_schema(path):
    raw = open(path, "rb").read()
    if not raw.endswith(b"]\n") or raw.count(b"\n") != 1:
        die("buckets part must be one compact JSON array and a newline")
    arr = json.loads(raw)
    if go_json(arr).encode() + b"\n" != raw:
        die("buckets part is not byte-identical to Go's encoding of its own value")
    if not isinstance(arr, list):
        die("buckets part is not an array")
    ids = [b.get("bucketID") for b in arr]
    if ids != sorted(ids):
        die(f"buckets not in ascending bucket-ID order: {ids}")
    order = ["organizationID", "organizationName", "bucketID", "bucketName", "description",
             "defaultRetentionPolicy", "retentionPolicies"]
    for b in arr:
        w = f"bucket {b.get('bucketName')!r}"
        keys = [k for k in order if k in b]
        if list(b) != keys or set(order) - {"description"} - set(b):
            die(f"{w}: keys {list(b)}, expected {order} (description optional)")
        for k in ("organizationID", "bucketID"):
            if not re.fullmatch(r"[0-9a-f]{16}", b[k]):
                die(f"{w}: {k} {b[k]!r} is not 16 hex")
        if "description" in b and b["description"] == "":
            die(f"{w}: empty description must be omitted")
        if not isinstance(b["retentionPolicies"], list):
            die(f"{w}: retentionPolicies must be an array")
        for rp in b["retentionPolicies"]:
            rk = ["name", "replicaN", "duration", "shardGroupDuration", "shardGroups", "subscriptions"]
            if list(rp) != rk:
                die(f"{w}: RP keys {list(rp)}, expected {rk}")
            if not (is_u64(rp["replicaN"]) and is_i64(rp["duration"]) and is_i64(rp["shardGroupDuration"])):
                die(f"{w}: RP numbers wrong: {rp}")
            if rp["shardGroupDuration"] and rp["shardGroupDuration"] < 1_000_000_000:
                die(f"{w}: shardGroupDuration {rp['shardGroupDuration']} is not in nanoseconds")
            for g in rp["shardGroups"]:
                gk = [k for k in ["id", "startTime", "endTime", "deletedAt", "truncatedAt", "shards"] if k in g]
                if list(g) != gk or not {"id", "startTime", "endTime", "shards"} <= set(g):
                    die(f"{w}: shard group keys {list(g)}")
                if not is_u64(g["id"]):
                    die(f"{w}: group id {g['id']!r}")
                for k in ("startTime", "endTime", "deletedAt", "truncatedAt"):
                    if k in g and not RFC3339NANO.fullmatch(g[k]):
                        die(f"{w}: {k} {g[k]!r} is not Go RFC3339Nano in UTC")
                    if k in ("deletedAt", "truncatedAt") and g.get(k) == "1970-01-01T00:00:00Z":
                        die(f"{w}: zero {k} must be omitted")
                for s in g["shards"]:
                    if list(s) != ["id", "shardOwners"] or not is_u64(s["id"]):
                        die(f"{w}: shard {s}")
                    for o in s["shardOwners"]:
                        if list(o) != ["nodeID"] or not is_u64(o["nodeID"]):
                            die(f"{w}: owner {o}")
            for sub in rp["subscriptions"]:
                if list(sub) != ["name", "mode", "destinations"]:
                    die(f"{w}: subscription keys {list(sub)}")
                d = sub["destinations"]
                if d is not None and not (isinstance(d, list) and d and all(isinstance(x, str) for x in d)):
                    die(f"{w}: destinations must be null or a non-empty string array: {d!r}")
    print(f"schema ok: {len(arr)} buckets")


def cmd_tar(path):
    data = open(path, "rb").read()
    if len(data) % 512 or len(data) < 1024 or data[-1024:] != bytes(1024):
        die(f"{path}: a tar must end with exactly two zero blocks (size {len(data)})")
    out = []
    with tarfile.open(path, "r:") as t:
        for m in t:
            if not m.isreg():
                die(f"{path}: entry {m.name} is not a regular file")
            h = hashlib.sha256(t.extractfile(m).read()).hexdigest()
            out.append([m.name, m.size, m.mtime, m.mode, h])
        end = t.offset
    if end + 1024 != len(data):
        die(f"{path}: {len(data) - end - 1024} stray bytes after the last entry")
    names = [e[0] for e in out]
    if names != sorted(names):
        die(f"{path}: entries not in lexical order: {names}")
    for e in out:
        print(json.dumps(e))


def cmd_untar(path, outdir):
    os.makedirs(outdir, exist_ok=True)
    with tarfile.open(path, "r:") as t:
        for m in t:
            with open(os.path.join(outdir, os.path.basename(m.name)), "wb") as f:
                f.write(t.extractfile(m).read())


def tsm_keys(path):
    data = open(path, "rb").read()
    if data[:4] != b"\x16\xd1\x16\xd1":
        die(f"{path}: not a TSM file")
    idx = struct.unpack(">Q", data[-8:])[0]
    pos, keys = idx, []
    while pos < len(data) - 8:
        (klen,) = struct.unpack(">H", data[pos:pos + 2])
        key = data[pos + 2:pos + 2 + klen]
        pos += 2 + klen + 1
        (count,) = struct.unpack(">H", data[pos:pos + 2])
        pos += 2 + count * 28
        keys.append(key)
    return keys


def cmd_tombstone(tsm, out):
    key = tsm_keys(tsm)[0]
    rec = struct.pack(">I", len(key)) + key + struct.pack(">qq", -(1 << 63), (1 << 63) - 1)
    with open(out, "wb") as f:
        f.write(b"\x00\x00\x15\x04" + gzip.compress(rec))
    print(key.decode("utf-8", "replace"))


def pb_fields(buf):
    """Minimal protobuf walk: yields (field number, wire type, value)."""
    i = 0

    def varint():
        nonlocal i
        shift = v = 0
        while True:
            c = buf[i]
            i += 1
            v |= (c & 0x7F) << shift
            shift += 7
            if c < 0x80:
                return v
    while i < len(buf):
        key = varint()
        num, wt = key >> 3, key & 7
        if wt == 0:
            yield num, wt, varint()
        elif wt == 2:
            n = varint()
            yield num, wt, buf[i:i + n]
            i += n
        elif wt == 1:
            yield num, wt, buf[i:i + 8]
            i += 8
        elif wt == 5:
            yield num, wt, buf[i:i + 4]
            i += 4
        else:
            die(f"protobuf wire type {wt}")


def dump_value(dump, bucket, key):
    bh, kh = bucket.encode().hex(), key.encode().hex()
    for line in open(dump):
        p = line.rstrip("\n").split(" ")
        if p[0] == "K" and p[1] == bh and p[2] == kh:
            return bytes.fromhex(p[3])
    return None


def cmd_metadb(dump):
    raw = dump_value(dump, "v1_tsm1_metadata", "meta.db")
    if raw is None:
        die("no v1_tsm1_metadata/meta.db in the dump")
    out = {}
    for num, _, db in pb_fields(raw):
        if num != 5:  # Data.Databases
            continue
        name, rps = None, []
        for n2, _, v in pb_fields(db):
            if n2 == 1:
                name = v.decode()
            elif n2 == 3:
                rps.append(v)
        entry = {"rp": [], "shards": [], "deleted": []}
        for rp in rps:
            for n3, _, v in pb_fields(rp):
                if n3 == 1:
                    entry["rp"].append(v.decode())
                elif n3 == 5:  # ShardGroups
                    deleted, ids = 0, []
                    for n4, _, gv in pb_fields(v):
                        if n4 == 4:
                            deleted = gv
                        elif n4 == 5:
                            ids += [sv for n5, _, sv in pb_fields(gv) if n5 == 1]
                    entry["deleted" if deleted else "shards"] += ids
        out[name] = entry
    print(json.dumps(out, sort_keys=True))


def cmd_bolt_buckets(dump):
    bh = "bucketsv1".encode().hex()
    ids = []
    for line in open(dump):
        p = line.rstrip("\n").split(" ")
        if p[0] == "K" and p[1] == bh:
            ids.append(bytes.fromhex(p[2]).decode())
    print(json.dumps(sorted(ids)))


def main(a):
    cmds = {"multipart": (cmd_multipart, 3), "schema": (cmd_schema, 1), "tar": (cmd_tar, 1),
            "untar": (cmd_untar, 2), "tombstone": (cmd_tombstone, 2), "metadb": (cmd_metadb, 1),
            "bolt-buckets": (cmd_bolt_buckets, 1)}
    if not a or a[0] not in cmds or len(a) - 1 != cmds[a[0]][1]:
        print(__doc__, file=sys.stderr)
        return 2
    cmds[a[0]][0](*a[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
