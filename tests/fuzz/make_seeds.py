#!/usr/bin/env python3
"""Builds the seed corpora in tests/fuzz/corpus/<target>/ from the real files
in testdata/ (and, when present, the 1.x wire captures in ../shared/testdata,
read only to choose seeds). Deterministic; re-run after changing it and
commit the result. Seeds stay small: the whole corpus is a few hundred KiB."""
import gzip, io, os, struct, sys, tarfile, zlib

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.abspath(os.path.join(here, "..", ".."))
td = os.path.join(root, "testdata")
shared = os.path.join(root, "..", "shared", "testdata")
v16 = os.path.join(td, "influxdb-1.6-portable", "backup")
stamp = "20261121T112622Z"


def out(target, name, data):
    d = os.path.join(here, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read(p):
    with open(p, "rb") as f:
        return f.read()


# --- bolt ---------------------------------------------------------------
live = read(os.path.join(td, "influxdb-2-kv", "influxd-2.x-live.bolt"))
backup = gzip.decompress(read(os.path.join(td, "influxdb-2-kv", "influxd-2.0-backup.bolt.gz")))
for t in ("bolt_open", "kv_import"):
    out(t, "influxd-2.x-live.bolt", live)
    out(t, "influxd-2.0-backup.bolt", backup)

# --- tars, TSM files and their blocks -------------------------------------
tars = {}
tsms = {}
for i in range(1, 6):
    raw = gzip.decompress(read(os.path.join(v16, f"{stamp}.s{i}.tar.gz")))
    tars[i] = raw
    with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
        for m in tf.getmembers():
            if m.name.endswith(".tsm"):
                tsms[f"s{i}-{os.path.basename(m.name)}"] = tf.extractfile(m).read()
for i, raw in tars.items():
    # first byte: shard_install's option bits (0 lenient, 1 strict, 4 carry-over)
    out("shard_install", f"s{i}.tar", bytes([0]) + raw)
out("shard_install", "s4-strict.tar", bytes([1]) + tars[4])
out("shard_install", "s5-carry.tar", bytes([4]) + tars[5])
for name, data in sorted(tsms.items()):
    out("tsm_verify", name, bytes([0]) + data)  # first byte: flags/chunking


def tsm_blocks(data):
    """(type, block data after the CRC) of every index entry."""
    (idx,) = struct.unpack(">Q", data[-8:])
    p, end = idx, len(data) - 8
    while p < end:
        (kl,) = struct.unpack(">H", data[p:p + 2]); p += 2 + kl
        typ = data[p]; (n,) = struct.unpack(">H", data[p + 1:p + 3]); p += 3
        for _ in range(n):
            _mn, _mx, off, size = struct.unpack(">qqqI", data[p:p + 28]); p += 28
            yield typ, data[off + 4:off + size]


seen = {}
for name, data in sorted(tsms.items()):
    for typ, blk in tsm_blocks(data):
        lst = seen.setdefault(typ, [])
        if len(lst) < 4 and blk not in lst:
            lst.append(blk)
# The fixture (1.6) has no unsigned fields; 2.x encodes unsigned blocks
# exactly like integer ones (zigzag simple8b/RLE), so type 4 = type 1's bytes.
seen[4] = [bytes([4]) + b[1:] for b in seen.get(1, [])[:2]]
for typ, lst in sorted(seen.items()):
    for k, blk in enumerate(lst):
        out("tsm_block", f"type{typ}-{k}", blk)

# --- tombstones: one per version (formats.md B.11) ------------------------
def rec(key, mn, mx):
    return struct.pack(">I", len(key)) + key + struct.pack(">qq", mn, mx)

recs = rec(b"cpu,host=a#!~#usage", 0, 10**18) + rec(b"mem,host=b#!~#free", -5, 5)
gz = lambda b: gzip.compress(b, mtime=0)
out("tombstone", "v1", b"cpu,host=a#!~#usage\nmem,host=b#!~#free\n")
out("tombstone", "v2", struct.pack(">I", 0x1502) + recs)
out("tombstone", "v3", struct.pack(">I", 0x1503) + gz(recs))
out("tombstone", "v4", struct.pack(">I", 0x1504) + gz(recs) + gz(rec(b"x", 1, 2)))
out("tombstone", "v4-empty", struct.pack(">I", 0x1504))

# --- meta.proto --------------------------------------------------------------
def fields(buf):
    """Top-level protobuf fields as (number, wiretype, value bytes or int)."""
    p = 0
    while p < len(buf):
        tag, p = uvarint(buf, p)
        num, wt = tag >> 3, tag & 7
        if wt == 0:
            v, p = uvarint(buf, p)
        elif wt == 2:
            n, p = uvarint(buf, p); v = buf[p:p + n]; p += n
        elif wt == 1:
            v = buf[p:p + 8]; p += 8
        elif wt == 5:
            v = buf[p:p + 4]; p += 4
        else:
            raise ValueError("wire type %d" % wt)
        yield num, wt, v


def uvarint(b, p):
    x = s = 0
    while True:
        c = b[p]; p += 1
        x |= (c & 0x7F) << s; s += 7
        if c < 0x80:
            return x, p


metafile = read(os.path.join(v16, f"{stamp}.meta"))
out("v1_meta", "portable.meta", metafile)
payload = [v for n, wt, v in fields(metafile) if n == 1][0]
out("meta", "v1.6-meta.Data", payload)
for k, (n, wt, v) in enumerate(f for f in fields(payload) if f[0] == 5):  # Databases
    out("meta", f"v1.6-DatabaseInfo-{k}", v)

# --- JSON: bucket manifests, job bodies, RPC request lines -----------------
manifest = b'''{"organizationID":"49a36d172d283b48","organizationName":"acme","bucketID":"0a1b2c3d4e5f6071","bucketName":"restored","description":"d","defaultRetentionPolicy":"autogen","retentionPolicies":[{"name":"autogen","replicaN":1,"duration":0,"shardGroupDuration":604800000000000,"shardGroups":[{"id":1,"startTime":"2024-01-01T00:00:00Z","endTime":"2024-01-08T00:00:00Z","shards":[{"id":1,"shardOwners":[]}]},{"id":3,"startTime":"2024-01-15T00:00:00Z","endTime":"2024-01-22T00:00:00Z","deletedAt":"2024-02-01T00:00:00Z","truncatedAt":"2024-01-20T00:00:00.5Z","shards":[{"id":3,"shardOwners":[{"nodeID":1}]}]}],"subscriptions":[{"name":"s","mode":"ANY","destinations":["udp://h:1"]}]}]}'''
out("manifest", "bucket.json", manifest)
out("manifest", "system.json", b'{"organizationID":"4f30570e821fbbe5","organizationName":"acme","bucketID":"615dbf54b448285d","bucketName":"_tasks","description":"System bucket for task logs","defaultRetentionPolicy":"autogen","retentionPolicies":[{"name":"autogen","replicaN":1,"duration":259200000000000,"shardGroupDuration":86400000000000,"shardGroups":[],"subscriptions":[]}]}')
jobs = [
    b'{"type":"restore","source":{"type":"file","fileName":"fixture-1.6.tar.gz"},"target":{"type":"bucket","bucketName":"fixture/autogen","newBucketName":"fixture-copy"}}',
    b'{"type":"restore","source":{"type":"file","fileName":"b.tar.zst"},"target":{"type":"full"}}',
    b'{"type":"restore","source":{"type":"file","fileName":"b.zip"},"target":{"type":"table","tableName":"t","newOrgName":"o"}}',
    b'{"desiredExecutionStatus":"canceled"}',
]
for k, j in enumerate(jobs):
    out("json", f"job-{k}.json", j)
out("json", "manifest.json", manifest)
out("json", "v1-manifest.json", read(os.path.join(v16, f"{stamp}.manifest")))
out("json", "escapes.json", b'[1,-0.5e+3,"\\u00e9\\ud83d\\ude00\\n\\"",true,false,null,{"a":{"b":[]}},"<&>"]')
wire = os.path.join(shared, "influxdb-1.6-portable", "wire")
rpc_in = []
for sub in ("backup", "restore"):
    d = os.path.join(wire, sub)
    if os.path.isdir(d):
        for f in sorted(os.listdir(d)):
            if f.endswith("-c2s.bin"):
                rpc_in.append((f"{sub}-{f}", read(os.path.join(d, f))))
for name, b in rpc_in:
    out("rpc", name, b)  # the real client's bytes, as influxd 1.6.7 received them
for k, j in enumerate(jobs):
    out("jobs", f"job-{k}.json", j)
for name, b in rpc_in:
    if len(b) > 2 and b[1] != 7:
        line = b[2:].split(b"\n", 1)[0]
        out("json", f"rpc-{name}.json", line)

# --- times and intervals ----------------------------------------------------
for k, s in enumerate([b"2024-01-01T00:00:00Z", b"2262-04-11T23:47:16.854775807Z",
                       b"1677-09-21T00:12:43.145224192Z", b"2000-02-29T12:34:56.5+05:30",
                       b"2022-07-01/2022-08-01", b"2022-07-01T00:00:00Z/2022-08-01T01:02:03.000000001-01:00",
                       b"2024-01-01/P1M"]):
    out("time", f"t{k}", s)

# --- codecs: first byte 0 gzip, 1 zstd ----------------------------------------
out("codec", "gzip-tar", bytes([0]) + read(os.path.join(v16, f"{stamp}.s4.tar.gz")))
out("codec", "gzip-2members", bytes([2]) + gz(b"hello ") + gz(b"world"))
zst = os.path.join(here, "seeds", "small.zst")
if os.path.exists(zst):
    out("codec", "zstd", bytes([1]) + read(zst))

# --- staged archives (Files API): a whole 1.x portable backup, plain and
# gzipped, and single shards --------------------------------------------------
def tar_dir(path):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name in sorted(os.listdir(path)):
            info = tf.gettarinfo(os.path.join(path, name), arcname="backup/" + name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            with open(os.path.join(path, name), "rb") as f:
                tf.addfile(info, f)
    return b.getvalue()

portable = tar_dir(v16)
out("archive_inspect", "portable.tar", portable)
out("archive_inspect", "portable.tar.gz", gz(portable))
out("archive_inspect", "shard-s4.tar", tars[4])
out("archive_inspect", "shard-s5.tar.gz", read(os.path.join(v16, f"{stamp}.s5.tar.gz")))
# The same through the check while it arrives; the first byte picks the
# write sizes (even: the whole upload, odd: dropped half way).
for mode, tag in ((0, ""), (40, "-w40"), (7, "-dropped")):
    out("upload_check", f"portable{tag}.tar", bytes([mode]) + portable)
    out("upload_check", f"portable{tag}.tar.gz", bytes([mode]) + gz(portable))
