#!/bin/bash
# Crash and disk-full tests with the fault points of storage/fault.h.
#
# Crash: for each swap step (shard-before-exchange, shard-after-exchange,
# kv-before-exchange, kv-after-exchange) a server started with
# TSVAULT_FAULT=<point>:pause on a copy of a data directory holding the
# fixture (2 buckets, 5 shards of real TSM files) runs a restore until it
# logs that it reached the point, and is killed with SIGKILL there. A server
# restarted on the same directory without the fault must show exactly the
# old state (before the exchange) or exactly the new one (after it), never a
# mix: every shard's file set and checksums, the KV (backup/kv dumped by the
# independent boltcheck) and the bucket listing; no "*.staging-*" left,
# nothing in tmp/, and when the new state won, the replaced data in trash/
# byte for byte. A good restore must work afterwards.
#
# Disk full: TSVAULT_FAULT=shard-write:enospc and upload-write:enospc make
# the restore answer 507 "unavailable" with the old data intact (and, the
# fault being one-shot, the same server's retry succeed); then a real ENOSPC
# on a small tmpfs when mounting one is permitted.
#
# No fixed sleeps: every wait polls a log or a process with a deadline.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixture.sh"

fixture_work
LIVE="$TSV_TESTDATA/influxdb-2-kv/influxd-2.x-live.bolt"
LIVE_TOKEN="A9Ovdl8SmP-rfp8wQ2vJoPUsZoQQJ3EochD88SlJcgrcLw4HBwgUqpSHQxc9N9Drg0_aY6Lp1jutBRcKhbV7aQ=="

# A tmpfs mounted by the disk-full case must be gone before lib.sh removes
# $TSV_TMP; servers on it must be stopped first.
MNT=""
crash_cleanup() {
    rc=$?
    # lib.sh runs under set -e: without this the "(exit $rc)" below would end
    # the handler before tsv_cleanup stops the servers.
    set +e
    if [ -n "$MNT" ]; then
        for pid in $TSV_PIDS; do
            kill -KILL "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        done
        umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
        rmdir "$MNT" 2>/dev/null || true
    fi
    (exit "$rc")
    tsv_cleanup
}
trap crash_cleanup EXIT INT TERM

# ---- helpers ---------------------------------------------------------------
N=0
# launch DATADIR [flags]: starts server "c" on DATADIR with a fresh log (a
# log holding an older "listening" line would give tsv_launch a stale port).
launch() {
    N=$((N + 1))
    : >"$TSV_TMP/c-$N.log"
    tsv_launch c "$1" "$TSV_TMP/c-$N.log" "${@:2}"
    U=$c_URL
}

# launch_copy NAME [FAULT]: D, a fresh copy of the template data dir T,
# served by "c" with TSVAULT_FAULT=FAULT armed (only for this start).
launch_copy() {
    D="$TSV_TMP/$1"
    cp -a "$T" "$D"
    TSVAULT_FAULT="${2:-}" launch "$D"
}

forget_pid() {
    pids=""
    for p in $TSV_PIDS; do [ "$p" = "$1" ] || pids="$pids $p"; done
    TSV_PIDS=$pids
}

# kill9: SIGKILL the current server and reap it.
kill9() {
    kill -KILL "$c_PID"
    wait "$c_PID" 2>/dev/null || true
    forget_pid "$c_PID"
}

# stop_clean: SIGTERM, exit 0 required (in the ASan build: no leaks).
stop_clean() {
    tsv_stop c
    forget_pid "$c_PID"
}

# wait_log REGEX: polls the current server's log (deadline 120 s).
wait_log() {
    i=0
    while ! grep -q -E "$1" "$c_LOG"; do
        kill -0 "$c_PID" 2>/dev/null || fail "server died before logging /$1/"
        i=$((i + 1))
        [ $i -lt 2400 ] || fail "timed out waiting for /$1/ in $c_LOG"
        sleep 0.05
    done
}

# files DIR: "<name> <sha256>" of every file and "dir <name>" of every
# directory under DIR (recursive, sorted), the generation markers left out
# (they name a swap, not data).
files() {
    python3 - "$1" <<'PY'
import hashlib, os, sys
root = sys.argv[1]
for dp, dns, fns in os.walk(root):
    dns.sort()
    if dp != root:
        print("dir", os.path.relpath(dp, root))
    for f in sorted(fns):
        if f == ".tsv-gen":
            continue
        p = os.path.join(dp, f)
        with open(p, "rb") as fh:
            print(os.path.relpath(p, root), hashlib.sha256(fh.read()).hexdigest())
PY
}

# tree DATADIR: every directory and file of the live engine tree, markers
# included, plus the state generation marker.
tree() {
    (cd "$1/state" && cat .tsv-gen && find engine -printf '%y %p\n' | sort)
    files "$1/state/engine"
}

# kv_state OUTFILE: the KV as backup/kv returns it (boltcheck dump) and the
# bucket listing of the current server.
kv_state() {
    curl -sS -f -H "$(auth)" "$U/api/v2/backup/kv" -o "$W/kv.bolt" || fail "backup/kv"
    "$TSV_TOOLS/boltcheck" "$W/kv.bolt" >"$1" || fail "backup/kv is not a valid bolt file"
    curl -sS -f -H "$(auth)" "$U/api/v2/buckets?limit=100" >>"$1" || fail "bucket listing"
}

# kv_is FILE WHAT: the current server's KV state (kv_state) is FILE's.
kv_is() {
    kv_state "$W/kv-now"
    cmp -s "$W/kv-now" "$1" || fail "$2"
}

# shard_restore_ok TARBALL WANT WHAT: a gzip restore of TARBALL into shard S
# answers 204 and leaves exactly WANT (files) in the shard directory.
shard_restore_ok() {
    http POST "$U/api/v2/restore/shards/$S" -H "$(auth)" -H 'Content-Encoding: gzip' --data-binary "@$1"
    expect_status 204 "$3"
    files "$D/$SREL" | cmp -s - "$2" || fail "$3: the shard is not $(basename "$1")'s"
}

# clean DATADIR LABEL: nothing half-done is left anywhere.
clean() {
    left=$(find "$1" -path "$1/trash" -prune -o -name '*.staging-*' -print)
    [ -z "$left" ] || fail "$2: staging left behind: $left"
    [ -z "$(ls -A "$1/tmp")" ] || fail "$2: tmp/ not empty: $(ls -A "$1/tmp")"
}

# bg_restore PATH FILE [curl args]: starts an upload in the background.
bg_restore() {
    curl -sS -o "$W/bg.body" -w '%{http_code}' -X POST -H "$(auth)" \
        -H 'Content-Type: application/octet-stream' --data-binary "@$2" "${@:3}" "$U$1" \
        >"$W/bg.status" 2>"$W/bg.err" &
    BG=$!
}

# bg_gone: the upload must not have been told it succeeded.
bg_gone() {
    wait "$BG" 2>/dev/null || true
    st=$(cat "$W/bg.status")
    [ "$st" = 000 ] || fail "the killed server answered the restore with $st"
}

# ---- the template: fixture restored by a normal server -----------------------
launch "$TSV_TMP/template"
T="$TSV_TMP/template"
fixture_restore "$U" "$W"
kv_state "$W/old-kv"
stop_clean
S=${FIX_SHARD[1]}
SREL="state/engine/data/${FIX_BUCKET[autogen]}/autogen/$S"
files "$T/$SREL" >"$W/old-shard"
files "$W/x/fixture/autogen/2" >"$W/new-shard"   # s2's files restored into shard S
files "$W/x/fixture/autogen/1" | cmp -s - "$W/old-shard" || fail "template shard is not s1"
cmp -s "$W/old-shard" "$W/new-shard" && fail "old and new shard states must differ"
tree "$T" >"$W/old-tree"
# Every shard but S, as it must stay whatever happens to S.
not_s() { grep -v -E "/autogen/$S( |/|\$)"; }
not_s <"$W/old-tree" >"$W/old-rest"
[ -z "$(ls -A "$T/trash")" ] || fail "template trash not empty"

# The KV a completed restore of the live bolt gives, from a normal server.
cp -a "$T" "$TSV_TMP/ref"
launch "$TSV_TMP/ref"
http POST "$U/api/v2/restore/kv" -H "$(auth)" --data-binary "@$LIVE"
expect_status 200 "reference KV restore"
kv_state "$W/new-kv"
stop_clean
files "$TSV_TMP/ref/state/engine" >"$W/new-engine"
cmp -s "$W/old-kv" "$W/new-kv" && fail "old and new KV states must differ"
[ -z "$(grep '\.tsm ' "$W/new-engine")" ] || fail "the restored KV's shards must start empty"
pass "template data dir and reference states ready"

# ---- crash at the shard swap ---------------------------------------------------
for point in shard-before-exchange shard-after-exchange; do
    launch_copy "$point" "$point:pause"
    grep -q 'msg="fault injection armed" point='"$point"' action=pause' "$c_LOG" ||
        fail "$point: fault not armed"
    bg_restore "/api/v2/restore/shards/$S" "$W/s2.tar.gz" -H 'Content-Encoding: gzip'
    wait_log 'msg="fault point reached" point='"$point"'$'
    kill9
    bg_gone
    [ -n "$(find "$D" -path "$D/trash" -prune -o -name '*.staging-*' -print)" ] ||
        fail "$point: the kill left no staging directory to recover"

    launch "$D"
    files "$D/$SREL" >"$W/shard-now"
    tree "$D" | not_s | cmp -s - "$W/old-rest" || fail "$point: other shards changed"
    trash_files=$(find "$D/trash" -type f ! -name .tsv-gen | wc -l)
    if [ "$point" = shard-before-exchange ]; then
        cmp -s "$W/shard-now" "$W/old-shard" ||
            { diff "$W/old-shard" "$W/shard-now"; fail "$point: shard is not exactly the old one"; }
        [ "$trash_files" = 0 ] || fail "$point: trash holds files"
        grep -q 'msg="removing unfinished staging directory"' "$c_LOG" || fail "$point: no recovery log"
    else
        cmp -s "$W/shard-now" "$W/new-shard" ||
            { diff "$W/new-shard" "$W/shard-now"; fail "$point: shard is not exactly the new one"; }
        # The previous side goes to the trash, which start-up migrates into
        # the vault: the old shard is a soft-deleted version (recorded once).
        grep -q 'msg="recovering interrupted swap: keeping previous data in trash"' "$c_LOG" ||
            fail "$point: no recovery log"
        [ -z "$(ls -A "$D/trash")" ] || fail "$point: trash not migrated: $(ls "$D/trash")"
        http GET "$U/api/v2/buckets/${FIX_BUCKET[autogen]}/unusedShards" -H "$(auth)"
        expect_status 200 "$point: unusedShards"
        python3 - "$HTTP_BODY" "$S" "$W/old-shard" <<'PY' || fail "$point: the old shard is not a version once: $(cat "$HTTP_BODY")"
import json, sys
old = sorted(l.split() for l in open(sys.argv[3]) if l.strip())
vs = [v for v in json.load(open(sys.argv[1]))["unusedShards"] if v["shardID"] == int(sys.argv[2])]
got = [sorted([f["name"], f["object"]] for f in v["files"]) for v in vs]
assert got.count(old) == 1, (got, old)
PY
    fi
    kv_is "$W/old-kv" "$point: the KV changed"
    clean "$D" "$point"

    shard_restore_ok "$W/s1.tar.gz" "$W/old-shard" "$point: good restore afterwards"
    clean "$D" "$point (after a good restore)"
    stop_clean
    pass "$point: killed there, restart shows exactly the $([ "$point" = shard-before-exchange ] && echo old || echo new) shard; a good restore works"
done

# ---- crash at the KV (whole state) swap ------------------------------------------
for point in kv-before-exchange kv-after-exchange; do
    launch_copy "$point" "$point:pause"
    bg_restore /api/v2/restore/kv "$LIVE"
    wait_log 'msg="fault point reached" point='"$point"'$'
    kill9
    bg_gone
    ls -d "$D"/state.staging-* >/dev/null 2>&1 || fail "$point: the kill left no staging state"

    launch "$D"
    kv_state "$W/kv-now"
    if [ "$point" = kv-before-exchange ]; then
        cmp -s "$W/kv-now" "$W/old-kv" || { diff "$W/old-kv" "$W/kv-now" | head; fail "$point: KV is not exactly the old one"; }
        tree "$D" | cmp -s - "$W/old-tree" || fail "$point: engine data or generation changed"
        [ -z "$(find "$D/trash" -type f)" ] || fail "$point: trash holds files"
        grep -q 'msg="removing unfinished staging directory"' "$c_LOG" || fail "$point: no recovery log"
        which=old
    else
        cmp -s "$W/kv-now" "$W/new-kv" || { diff "$W/new-kv" "$W/kv-now" | head; fail "$point: KV is not exactly the new one"; }
        files "$D/state/engine" | cmp -s - "$W/new-engine" || fail "$point: engine is not the restored KV's"
        # The previous generation goes to the trash, which start-up migrates
        # into the vault: its KV is the replaced KV version's final content,
        # its shards the versions soft-deleted with it.
        grep -q 'msg="recovering interrupted swap: keeping previous data in trash"' "$c_LOG" ||
            fail "$point: no recovery log"
        [ -z "$(ls -A "$D/trash")" ] || fail "$point: trash not migrated: $(ls "$D/trash")"
        http GET "$U/api/v2/vault/kv/versions" -H "$(auth)"
        [ "$(json_get '[(v["state"], v["finalObject"] is not None) for v in j["versions"]]')" = \
            "[('soft_deleted', True), ('in_use', False)]" ] || fail "$point: KV versions: $(cat "$HTTP_BODY")"
        http GET "$U/api/v2/buckets/${FIX_BUCKET[autogen]}/unusedShards" -H "$(auth)"
        python3 - "$HTTP_BODY" "$T/state/engine/data/${FIX_BUCKET[autogen]}/autogen" <<'PY' ||
import hashlib, json, os, sys
u = json.load(open(sys.argv[1]))["unusedShards"]
held = [v for v in u if v["softDeletedBy"] == "kv-restore:kv1"]
assert len(held) == 3, u
for v in held:
    d = os.path.join(sys.argv[2], str(v["shardID"]))
    want = sorted([f, hashlib.sha256(open(os.path.join(d, f), "rb").read()).hexdigest()]
                  for f in os.listdir(d) if f != ".tsv-gen")
    assert sorted([f["name"], f["object"]] for f in v["files"]) == want, (v, want)
PY
            fail "$point: the previous shards are not versions byte for byte: $(cat "$HTTP_BODY")"
        which=new
    fi
    clean "$D" "$point"

    http POST "$U/api/v2/restore/kv" -H "$(auth)" --data-binary "@$LIVE"
    expect_status 200 "$point: good KV restore afterwards"
    [ "$(json_get 'j["token"]')" = "$LIVE_TOKEN" ] || fail "$point: restored token"
    kv_is "$W/new-kv" "$point: good restore gave another KV"
    clean "$D" "$point (after a good restore)"
    stop_clean
    pass "$point: killed there, restart shows exactly the $which state; a good restore works"
done

# ---- disk full, injected ---------------------------------------------------------
launch_copy enospc-shard shard-write:enospc
http POST "$U/api/v2/restore/shards/$S" -H "$(auth)" -H 'Content-Encoding: gzip' \
    -H 'Transfer-Encoding: chunked' --data-binary "@$W/s2.tar.gz"
expect_error 507 unavailable 'No space left on device.*insufficient storage; previous data left intact'
files "$D/$SREL" | cmp -s - "$W/old-shard" || fail "shard-write enospc: shard changed"
tree "$D" | cmp -s - "$W/old-tree" || fail "shard-write enospc: engine changed"
clean "$D" "shard-write enospc"
shard_restore_ok "$W/s2.tar.gz" "$W/new-shard" "retry after the injected ENOSPC"
stop_clean
pass "shard-write:enospc -> 507 unavailable, shard intact; the retry succeeds"

launch_copy enospc-upload upload-write:enospc
http POST "$U/api/v2/restore/kv" -H "$(auth)" --data-binary "@$LIVE"
expect_error 507 unavailable 'No space left on device'
kv_is "$W/old-kv" "upload-write enospc: KV changed"
tree "$D" | cmp -s - "$W/old-tree" || fail "upload-write enospc: engine changed"
clean "$D" "upload-write enospc"
http POST "$U/api/v2/restore/kv" -H "$(auth)" --data-binary "@$LIVE"
expect_status 200 "retry after the injected ENOSPC"
stop_clean
pass "upload-write:enospc -> 507 unavailable, KV and shards intact; the retry succeeds"

# ---- disk full, for real (tmpfs) ---------------------------------------------------
MNT=$(mktemp -d /tmp/tsv-enospc.XXXXXX)
if ! mount -t tmpfs -o size=8m tmpfs "$MNT" 2>"$W/mount.err"; then
    rmdir "$MNT"
    MNT=""
    echo "skip - real ENOSPC on an 8 MiB tmpfs: cannot mount ($(head -c 200 "$W/mount.err"))"
else
    D="$MNT/data"
    cp -a "$T" "$D"
    launch "$D"
    # 12 MiB that cannot fit: a shard archive (extraction fills the staging
    # directory) and a KV upload (fills tmp/). Random bytes, so nothing
    # could compress them; the entry name is a valid TSM name.
    python3 - "$W/huge.tar" <<'PY'
import io, os, random, sys, tarfile
data = random.Random(1).randbytes(12 << 20)
with tarfile.open(sys.argv[1], "w", format=tarfile.USTAR_FORMAT) as t:
    ti = tarfile.TarInfo("0a1b2c3d4e5f6071/autogen/1/000000009-000000001.tsm")
    ti.size = len(data)
    t.addfile(ti, io.BytesIO(data))
PY
    http POST "$U/api/v2/restore/shards/$S" -H "$(auth)" --data-binary "@$W/huge.tar"
    expect_error 507 unavailable 'No space left on device'
    # The reply names bucket, shard and file, never the server's path; the log has it.
    grep -q "$MNT" "$HTTP_BODY" && fail "tmpfs: 507 reveals a server path: $(cat "$HTTP_BODY")"
    grep -q 'file 000000009-000000001.tsm' "$HTTP_BODY" || fail "tmpfs: 507 names no file: $(cat "$HTTP_BODY")"
    grep -q "msg=\"error detail\".*detail=\"[^\"]*$MNT" "$c_LOG" || fail "tmpfs: full detail not logged"
    files "$D/$SREL" | cmp -s - "$W/old-shard" || fail "tmpfs: shard changed"
    tree "$D" | cmp -s - "$W/old-tree" || fail "tmpfs: engine changed"
    clean "$D" "tmpfs shard"
    http POST "$U/api/v2/restore/kv" -H "$(auth)" --data-binary "@$W/huge.tar"
    expect_error 507 unavailable 'No space left on device'
    grep -q "$MNT" "$HTTP_BODY" && fail "tmpfs: 507 reveals a server path: $(cat "$HTTP_BODY")"
    kv_is "$W/old-kv" "tmpfs: KV changed"
    clean "$D" "tmpfs kv"
    shard_restore_ok "$W/s2.tar.gz" "$W/new-shard" "tmpfs: good restore once the space is free again"
    stop_clean
    umount "$MNT"
    rmdir "$MNT"
    MNT=""
    pass "real ENOSPC (8 MiB tmpfs): shard and KV uploads -> 507, data intact; a good restore works"
fi
echo "1..all passed"
