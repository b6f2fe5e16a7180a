#!/usr/bin/env python3
"""Helpers for tests/bench/run.sh (standard library only).

  bench.py bucket-manifest ORGID NAME BUCKETID WEEK0 ID...
      The BucketMetadataManifest JSON the influx CLI posts to
      /api/v2/restore/bucketMetadata: one RP "autogen" with 7-day shard groups,
      shard ID i covering week (i - 1 + WEEK0) from 2024-01-01.
  bench.py mappings FILE
      "old new" lines from a bucketMetadata response.
  bench.py portable DIR PREFIX DB ID:TARSIZE...
      InfluxDB 1.x portable backup files DIR/PREFIX.manifest and PREFIX.meta
      (PortableData wrapping a meta.Data protobuf) for shards whose
      DIR/PREFIX.s<ID>.tar.gz are put there by the caller (docs/formats.md#portable-manifest).
  bench.py influxd-restore DATADIR DB EXPECT_BYTES -- CMD...
      Runs CMD (influxd restore) and polls DATADIR/DB every 10 ms until it
      holds EXPECT_BYTES of *.tsm and no *.tmp, then syncs; prints seconds.
  bench.py rpc1x-restore URL TOKEN BUCKET DATADIR EXPECT_BYTES -- CMD...
      Runs CMD (influxd restore into tsvault's 1.x RPC service) and polls
      every 10 ms until bucket BUCKET exists (a 1.x restore appears whole,
      at its commit) holding EXPECT_BYTES of *.tsm under DATADIR's engine,
      then syncs; prints "seconds bucketID".
  bench.py table RESULTS MACHINE
      Prints the result table (Markdown) and the target checks.
"""
import json
import os
import statistics
import subprocess
import sys
import time

NS = 10**9
WEEK = 7 * 86400 * NS
T0 = 1704067200 * NS  # 2024-01-01T00:00:00Z, a Monday


def rfc3339(ns):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ns // NS))


def bucket_manifest(org, name, bucket, week0, ids):
    groups = []
    for i in ids:
        start = T0 + (int(i) - 1 + int(week0)) * WEEK
        groups.append({"id": int(i), "startTime": rfc3339(start), "endTime": rfc3339(start + WEEK),
                       "shards": [{"id": int(i), "shardOwners": []}]})
    m = {"organizationID": org, "organizationName": "bench", "bucketID": bucket,
         "bucketName": name, "defaultRetentionPolicy": "autogen",
         "retentionPolicies": [{"name": "autogen", "replicaN": 1, "duration": 0,
                                "shardGroupDuration": WEEK, "shardGroups": groups,
                                "subscriptions": []}]}
    print(json.dumps(m))


# --- protobuf (proto2 wire format), enough for meta.Data -------------------

def varint(v):
    v &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def f_varint(field, v):
    return varint(field << 3) + varint(v)


def f_bytes(field, b):
    if isinstance(b, str):
        b = b.encode()
    return varint(field << 3 | 2) + varint(len(b)) + b


def meta_data(db, ids):
    groups = b""
    for i in ids:
        start = T0 + (i - 1) * WEEK
        shard = f_varint(1, i)
        groups += f_bytes(5, f_varint(1, i) + f_varint(2, start) + f_varint(3, start + WEEK) +
                          f_varint(4, 0) + f_bytes(5, shard))
    rp = f_bytes(1, "autogen") + f_varint(2, 0) + f_varint(3, WEEK) + f_varint(4, 1) + groups
    dbinfo = f_bytes(1, db) + f_bytes(2, "autogen") + f_bytes(3, rp)
    # Term, Index, ClusterID, Databases, MaxNodeID, MaxShardGroupID, MaxShardID
    return (f_varint(1, 0) + f_varint(2, 10) + f_varint(3, 1234567890123456789) +
            f_bytes(5, dbinfo) + f_varint(7, 0) + f_varint(8, max(ids)) + f_varint(9, max(ids)))


def portable(d, prefix, db, specs):
    ids, sizes = [], {}
    for s in specs:
        i, size = s.split(":")
        ids.append(int(i))
        sizes[int(i)] = int(size)
    inner = meta_data(db, ids)
    # backup_util.PortableData { bytes Data = 1; uint64 MaxNodeID = 2; }
    with open(os.path.join(d, prefix + ".meta"), "wb") as f:
        f.write(f_bytes(1, inner) + f_varint(2, 0))
    manifest = {"meta": {"fileName": prefix + ".meta", "size": len(inner)}, "limited": False,
                "files": [{"database": db, "policy": "autogen", "shardID": i,
                           "fileName": "%s.s%d.tar.gz" % (prefix, i), "size": sizes[i],
                           "lastModified": 0} for i in ids]}
    with open(os.path.join(d, prefix + ".manifest"), "w") as f:
        json.dump(manifest, f, indent=2)


def tsm_bytes(root):
    total, tmp = 0, False
    for dirpath, _, files in os.walk(root):
        for n in files:
            if n.endswith(".tmp"):
                tmp = True
            elif n.endswith(".tsm"):
                try:
                    total += os.stat(os.path.join(dirpath, n)).st_size
                except FileNotFoundError:
                    tmp = True
    return total, tmp


def timed_restore(cmd, done, stuck):
    """Runs the restore client cmd and polls done() every 10 ms until it
    returns a true value; exits when the client fails or, with stuck(), after
    600 s. Returns (seconds from the start to done and a sync, done's value)."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while True:
        r = done()
        if r:
            break
        if p.poll() is not None and p.returncode != 0:
            sys.exit("influxd restore failed (%d): %s" % (p.returncode, p.stderr.read().decode()))
        if time.monotonic() - t0 > 600:
            p.kill()
            sys.exit(stuck())
        time.sleep(0.01)
    os.sync()
    t = time.monotonic() - t0
    rc = p.wait()
    if rc != 0:
        sys.exit("influxd restore exited %d: %s" % (rc, p.stderr.read().decode()))
    return t, r


def influxd_restore(datadir, db, expect, cmd):
    root = os.path.join(datadir, db)
    total = [0]

    def done():
        total[0], tmp = tsm_bytes(root)
        return total[0] == expect and not tmp

    t, _ = timed_restore(cmd, done, lambda: "influxd restore: %d of %d bytes after 600 s" % (total[0], expect))
    print("%.4f" % t)


def rpc1x_restore(url, token, bucket, datadir, expect, cmd):
    # Polled as cheaply as influxd's data directory (a walk every 10 ms):
    # shards are staged outside state/engine/data, so the TSM bytes appear
    # there only at the all-or-nothing commit; one HTTP lookup then confirms
    # the bucket is served. (An HTTP request every 10 ms took CPU from the
    # restore client on 2 cores and biased the comparison.)
    import urllib.parse
    import urllib.request
    q = url + "/api/v2/buckets?" + urllib.parse.urlencode({"name": bucket})
    data = os.path.join(datadir, "state/engine/data")
    before = set(os.listdir(data)) if os.path.isdir(data) else set()

    def done():
        fresh = [d for d in (os.listdir(data) if os.path.isdir(data) else []) if d not in before]
        for d in fresh:
            total, tmp = tsm_bytes(os.path.join(data, d))
            if total == expect and not tmp:
                req = urllib.request.Request(q, headers={"Authorization": "Token " + token})
                b = json.load(urllib.request.urlopen(req))["buckets"]
                if b and b[0]["id"] == d:
                    return d
        return None

    t, bid = timed_restore(cmd, done, lambda: "tsvault 1.x restore: no bucket after 600 s")
    print("%.4f %s" % (t, bid))


# --- the table ---------------------------------------------------------------

BASE = [("gzip", "gzip -dc | tar x"), ("igzip", "igzip -d | tar x"), ("cp", "cp -r"),
        ("influxd", "influxd restore"), ("gzip6", "gzip -6")]

TARGETS = [
    # (row key, baseline key, minimum ratio, text)
    ("r_gz1", "igzip", 0.9, "restore, gzip, 1 stream >= 0.9x igzip -d | tar x"),
    ("r_gz2", "influxd", 3.0, "restore, gzip, 2 streams >= 3x influxd 1.6.7 restore"),
    ("r_zs1", "cp", 0.8, "restore, zstd, 1 stream >= 0.8x cp -r + sync"),
    ("r_zs2", "cp", 0.8, "restore, zstd, 2 streams >= 0.8x cp -r + sync"),
    ("b_def", "gzip6", 5.0, "backup, gzip default >= 5x gzip -6"),
]


def table(results, machine):
    rows = []
    with open(results) as f:
        for line in f:
            if not line.strip():
                continue
            f = line.rstrip("\n").split("\t") + ["", ""]
            key, label, nbytes, times, rss, cpu = f[:6]
            ts = [float(x) for x in times.split(",")]
            med = statistics.median(ts)
            rows.append({"key": key, "label": label, "bytes": int(nbytes), "times": ts,
                         "s": med, "mbs": int(nbytes) / 1e6 / med, "rss": rss, "cpu": cpu})
    by = {r["key"]: r for r in rows}
    out = []
    hdr = ["operation", "MB", "s (median)", "MB/s"] + ["x " + b[1] for b in BASE] + \
          ["server CPU s", "server peak RSS above idle"]
    out.append("| " + " | ".join(c.replace("|", "\\|") for c in hdr) + " |")
    out.append("|" + "|".join(["---"] + ["---:"] * (len(hdr) - 1)) + "|")
    for r in rows:
        cells = [r["label"], "%.0f" % (r["bytes"] / 1e6),
                 "%.3f" % r["s"] + ("" if len(r["times"]) > 1 else " (1 run)"),
                 "%.0f" % r["mbs"]]
        for bk, _ in BASE:
            b = by.get(bk)
            cells.append("%.2f" % (r["mbs"] / b["mbs"]) if b else "-")
        cells.append(r["cpu"] or "")
        cells.append(r["rss"] or "")
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    print("\n".join(out))
    print()
    print("Targets:")
    for key, base, want, text in TARGETS:
        if key not in by or base not in by:
            continue
        ratio = by[key]["mbs"] / by[base]["mbs"]
        print("  %-4s %s: %.2fx" % ("MET" if ratio >= want else "MISS", text, ratio))
    for r in rows:
        http = by.get(r["key"][:-4]) if r["key"].endswith("_tls") else None
        if http:
            print("  HTTPS/HTTP %s: %.2fx the HTTP throughput (%.3f s vs %.3f s), server CPU %s s vs %s s"
                  % (http["label"].split(", ", 1)[-1], r["mbs"] / http["mbs"], r["s"], http["s"],
                     r["cpu"] or "?", http["cpu"] or "?"))
    if "v_sdr" in by:
        ms = by["v_sdr"]["s"] * 1000
        print("  %-4s soft delete + restore of the bench bucket < 100 ms: %.1f ms" %
              ("MET" if ms < 100 else "MISS", ms))
    if "m_gz" in by and by["m_gz"]["rss"]:
        mb = float(by["m_gz"]["rss"].split()[0])
        print("  %-4s server peak RSS during the %.2f GB shard restore (gzip) < 64 MB above idle: "
              "%.1f MB" % ("MET" if mb < 64 else "MISS", by["m_gz"]["bytes"] / 1e9, mb))
    print()
    print(open(machine).read().rstrip())


def main():
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    if a[0] == "bucket-manifest":
        bucket_manifest(a[1], a[2], a[3], a[4], a[5:])
    elif a[0] == "mappings":
        j = json.load(open(a[1]))
        for m in j["shardMappings"]:
            print(m["oldId"], m["newId"])
    elif a[0] == "portable":
        portable(a[1], a[2], a[3], a[4:])
    elif a[0] == "influxd-restore":
        sep = a.index("--")
        influxd_restore(a[1], a[2], int(a[3]), a[sep + 1:])
    elif a[0] == "rpc1x-restore":
        sep = a.index("--")
        rpc1x_restore(a[1], a[2], a[3], a[4], int(a[5]), a[sep + 1:])
    elif a[0] == "table":
        table(a[1], a[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
