#!/usr/bin/env python3
"""Hostile clients for tsvault's InfluxDB 1.x RPC service (docs/api.md).

  rpc1x_hostile.py HOST PORT FIXTURE_META TIMEOUT_S

Each case opens raw TCP connections and sends something the real
`influxd backup/restore` never would. A case passes when the server closes
the connection (or answers an empty shard-ID map for a refused metadata
update) without hanging; the caller then checks that nothing was installed
and that the server still serves. Prints "ok - <case>" per case, exits 1 on
the first failure. FIXTURE_META is a portable backup's .meta file (its
meta.Data is reused to open restores that the uploads then attack).
"""
import io
import json
import socket
import struct
import sys
import tarfile
import time

HOST, PORT, META_FILE, TIMEOUT = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
MAGIC = 0x59590101
ZERO_TIME = "0001-01-01T00:00:00Z"


def unwrap_meta(raw):
    """PortableData field 1 (bytes) = meta.Data."""
    assert raw[0] == 0x0A
    n, shift, pos = 0, 0, 1
    while True:
        b = raw[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    return raw[pos:pos + n]


META = unwrap_meta(open(META_FILE, "rb").read())


def request(typ, **kw):
    r = {"Type": typ, "BackupDatabase": "", "RestoreDatabase": "", "BackupRetentionPolicy": "",
         "RestoreRetentionPolicy": "", "ShardID": 0, "Since": ZERO_TIME,
         "ExportStart": ZERO_TIME, "ExportEnd": ZERO_TIME, "UploadSize": 0}
    r.update(kw)
    return json.dumps(r, separators=(",", ":")).encode() + b"\n"


def conn():
    s = socket.create_connection((HOST, PORT), timeout=TIMEOUT + 10)
    return s


def read_all(s):
    """Everything until the server closes; fails if it does not close in time."""
    out = b""
    deadline = time.time() + TIMEOUT + 8
    while True:
        if time.time() > deadline:
            raise AssertionError("server did not close the connection")
        try:
            d = s.recv(65536)
        except ConnectionResetError:
            return out
        if not d:
            return out
        out += d


def send_and_expect_close(data, expect=b""):
    s = conn()
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass
    got = read_all(s)
    s.close()
    assert got == expect, "expected %r, got %r" % (expect[:64], got[:64])


def empty_map():
    return struct.pack(">QQ", MAGIC, 0)


def open_restore(newdb):
    """A valid metadata update (the fixture's meta.Data as `newdb`): returns the ID map."""
    s = conn()
    s.sendall(b"\x03\x06" + request(6, BackupDatabase="fixture", RestoreDatabase=newdb,
                                    UploadSize=len(META)) + META)
    resp = read_all(s)
    s.close()
    magic, n = struct.unpack(">QQ", resp[:16])
    assert magic == MAGIC and n > 0 and len(resp) == 16 + 16 * n, resp[:32]
    return dict(struct.unpack(">QQ", resp[16 + 16 * i:32 + 16 * i]) for i in range(n))


def tar_bytes(entries):
    """entries: list of (TarInfo-kwargs, data)."""
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for kw, data in entries:
            ti = tarfile.TarInfo(kw.pop("name"))
            for k, v in kw.items():
                setattr(ti, k, v)
            ti.size = len(data) if data is not None else 0
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)
    return bio.getvalue()


TSM = b"\x16\xd1\x16\xd1\x01" + b"\x00" * 8  # header + empty index offset: not a valid file


def upload(newid, tar):
    """As the real client: the tar, then end of stream."""
    s = conn()
    try:
        s.sendall(b"\x03\x07" + struct.pack(">Q", newid) + tar)
        s.shutdown(socket.SHUT_WR)
    except (BrokenPipeError, ConnectionResetError):
        pass
    got = read_all(s)
    s.close()
    assert got == b"", got


def restore_attack(name, make_tar):
    idmap = open_restore(name)
    newid = sorted(idmap.values())[0]
    upload(newid, make_tar(name, newid))


cases = []


def case(f):
    cases.append(f)
    return f


@case
def wrong_mux_header():
    send_and_expect_close(b"\x05\x01" + request(1))


@case
def unknown_request_type():
    send_and_expect_close(b"\x03\x09" + request(9))


@case
def series_file_backup_type():
    send_and_expect_close(b"\x03\x02" + request(2))


@case
def shard_export_unknown_shard():
    send_and_expect_close(b"\x03\x05" + request(5, ShardID=999999, ExportStart="2024-01-01T00:00:00Z",
                                                ExportEnd="2024-02-01T00:00:00Z"))


@case
def truncated_json():
    send_and_expect_close(b"\x03\x01" + request(1)[:40])


@case
def oversized_json_line():
    send_and_expect_close(b"\x03\x01{\"Type\":1,\"BackupDatabase\":\"" + b"a" * (80 * 1024))


@case
def invalid_json():
    send_and_expect_close(b"\x03\x01{not json}\n")


@case
def json_type_mismatch():
    send_and_expect_close(b"\x03\x01" + request(3))


@case
def meta_upload_size_huge():
    send_and_expect_close(b"\x03\x06" + request(6, UploadSize=10**12) + b"x" * 100, empty_map())


@case
def meta_upload_size_negative():
    send_and_expect_close(b"\x03\x06" + request(6, UploadSize=-1), empty_map())


@case
def meta_undecodable():
    junk = b"\xff" * 64
    send_and_expect_close(b"\x03\x06" + request(6, UploadSize=len(junk)) + junk, empty_map())


@case
def meta_truncated_upload():
    s = conn()
    s.sendall(b"\x03\x06" + request(6, UploadSize=len(META)) + META[:10])
    s.shutdown(socket.SHUT_WR)
    got = read_all(s)
    s.close()
    assert got == empty_map(), got


@case
def meta_existing_database():
    # "fixture" was restored before this script ran.
    send_and_expect_close(b"\x03\x06" + request(6, BackupDatabase="fixture", UploadSize=len(META))
                          + META, empty_map())


@case
def meta_bad_new_name():
    send_and_expect_close(b"\x03\x06" + request(6, BackupDatabase="fixture", RestoreDatabase="a/b",
                                                UploadSize=len(META)) + META, empty_map())


@case
def shard_id_not_in_map():
    upload(987654321, tar_bytes([({"name": "x/y/987654321/000000001-000000001.tsm"}, TSM)]))


@case
def shard_id_truncated():
    send_and_expect_close(b"\x03\x07\x00\x00\x01")


@case
def tar_path_traversal():
    restore_attack("hostile_traversal", lambda db, i: tar_bytes(
        [({"name": "%s/autogen/%d/../../../../etc/000000001-000000001.tsm" % (db, i)}, TSM)]))


@case
def tar_absolute_path():
    restore_attack("hostile_absolute", lambda db, i: tar_bytes(
        [({"name": "/tmp/%s/autogen/%d/000000001-000000001.tsm" % (db, i)}, TSM)]))


@case
def tar_symlink():
    restore_attack("hostile_symlink", lambda db, i: tar_bytes(
        [({"name": "%s/autogen/%d/000000001-000000001.tsm" % (db, i), "type": tarfile.SYMTYPE,
           "linkname": "/etc/passwd"}, None)]))


@case
def tar_hardlink():
    restore_attack("hostile_hardlink", lambda db, i: tar_bytes(
        [({"name": "%s/autogen/%d/000000001-000000001.tsm" % (db, i), "type": tarfile.LNKTYPE,
           "linkname": "etc/passwd"}, None)]))


@case
def tar_non_tsm_entry():
    restore_attack("hostile_nontsm", lambda db, i: tar_bytes(
        [({"name": "%s/autogen/%d/fields.idx" % (db, i)}, b"hello")]))


@case
def tar_directory_entry():
    restore_attack("hostile_dir", lambda db, i: tar_bytes(
        [({"name": "%s/autogen/%d/index" % (db, i), "type": tarfile.DIRTYPE}, None)]))


@case
def tar_wrong_shard_prefix():
    restore_attack("hostile_prefix", lambda db, i: tar_bytes(
        [({"name": "otherdb/autogen/%d/000000001-000000001.tsm" % i}, TSM)]))


@case
def tar_invalid_tsm():
    restore_attack("hostile_badtsm", lambda db, i: tar_bytes(
        [({"name": "%s/autogen/%d/000000001-000000001.tsm" % (db, i)}, TSM)]))


@case
def tar_garbage():
    restore_attack("hostile_garbage", lambda db, i: b"\x01" * 3000)


@case
def peer_stops_sending():
    idmap = open_restore("hostile_stall")
    newid = sorted(idmap.values())[0]
    s = conn()
    s.sendall(b"\x03\x07" + struct.pack(">Q", newid) + b"\x00" * 100)
    got = read_all(s)  # the server gives up after its timeout
    s.close()
    assert got == b"", got


@case
def silent_peer():
    s = conn()
    got = read_all(s)
    s.close()
    assert got == b""


@case
def database_info_unknown_db():
    send_and_expect_close(b"\x03\x03" + request(3, BackupDatabase="nosuchdb"))


@case
def rp_info_unknown_rp():
    send_and_expect_close(b"\x03\x04" + request(4, BackupDatabase="fixture",
                                                BackupRetentionPolicy="nosuchrp"))


@case
def shard_backup_unknown_shard():
    send_and_expect_close(b"\x03\x00" + request(0, ShardID=999999))


@case
def bad_export_time():
    send_and_expect_close(b"\x03\x05" + request(5, ShardID=1, ExportStart="2024-13-01T00:00:00Z"))


@case
def bad_since_time():
    send_and_expect_close(b"\x03\x00" + request(0, ShardID=1, Since="yesterday"))


@case
def too_many_pending_restores():
    for i in range(8):
        open_restore("hostile_pending%d" % i)
    send_and_expect_close(b"\x03\x06" + request(6, BackupDatabase="fixture", RestoreDatabase="hostile_p9",
                                                UploadSize=len(META)) + META, empty_map())
    time.sleep(TIMEOUT + 2)  # the 8 go idle and are dropped
    open_restore("hostile_pending_after")  # room again (dropped in turn when idle)


for f in cases:
    t0 = time.time()
    f()
    print("ok - hostile %s (%.1fs)" % (f.__name__, time.time() - t0))
print("hostile cases: %d" % len(cases))
