# Helpers of the point-in-time recovery tests (test_pitr.sh,
# test_pitr_scope.sh). Sourced after lib.sh, with the server "s" started
# (tsv_start s): U, D and LOGN are set here from it.
U=$s_URL
D=$s_DATA
LOGN=0
declare -A NEWID
# pitr_restore_rp RP ORG OLD-SHARD-IDS...: the fixture's RP restored as a
# bucket of ORG (bucketMetadata: BUCKET_ID is the bucket, NEWID[old] the new
# shard IDs), then each named shard uploaded into its own new ID.
pitr_restore_rp() {
    local rp=$1 org=$2 old new
    shift 2
    fixture_manifest "$W" "$rp" "$org" >"$W/m-$rp.json"
    http POST "$U/api/v2/restore/bucketMetadata" -H "$(auth)" -H 'Content-Type: application/json' \
        --data-binary "@$W/m-$rp.json"
    expect_status 201 "bucketMetadata $rp"
    BUCKET_ID=$(json_get 'j["id"]')
    while read -r old new; do NEWID[$old]=$new; done < <(json_get "'\\n'.join('%d %d' % (m['oldId'], m['newId']) for m in j['shardMappings'])")
    for old in "$@"; do upload "$old" "$old"; done
}
# upload FROM-OLD-ID INTO-OLD-ID: the fixture's shard FROM into INTO's new shard.
upload() { # FROM-OLD-ID INTO-OLD-ID
    http POST "$U/api/v2/restore/shards/${NEWID[$2]}" -H "$(auth)" -H 'Content-Type: application/octet-stream' \
        -H 'Content-Encoding: gzip' --data-binary "@$W/s$1.tar.gz"
    expect_status 204 "restore shard $1 into $2"
}
# relaunch [FAULT-SPEC]: starts "s" again on its data directory, log s-N.log.
relaunch() {
    LOGN=$((LOGN + 1))
    TSVAULT_FAULT="${1:-}" tsv_launch s "$D" "$TSV_TMP/s-$LOGN.log"
    U=$s_URL
}
now_ms() { python3 -c 'import time; print(int(time.time()*1000))'; }
# rfc_ms MS: RFC 3339 UTC with milliseconds, as the seed writes times.
rfc_ms() { python3 -c 'import sys,datetime; t=int(sys.argv[1]); print(datetime.datetime.fromtimestamp(t/1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.")+"%03dZ" % (t%1000))' "$1"; }
# tick: T = a moment with nothing logged within 50 ms on either side.
tick() { sleep 0.05; T=$(now_ms); sleep 0.05; }
# pitr TARGET-MS [EXTRA-JSON]: runs a PITR job to its end (fails the test if
# it fails); sets JOB. EXTRA-JSON is appended to the request's members, e.g.
# ',"bucketID":"..."'. Leaves the last status reply in HTTP_BODY.
pitr() {
    http POST "$U/api/v2/pitr/restore" -H "$(auth)" -H 'Content-Type: application/json' \
        -d "{\"target_time\":\"$(rfc_ms "$1")\"${2:-}}"
    expect_status 202 "pitr restore to $(rfc_ms "$1") ${2:-}"
    [ "$(json_get 'j["status"]')" = queued ] || fail "status not queued: $(cat "$HTTP_BODY")"
    JOB=$(json_get 'j["jobId"]')
    pitr_wait "$JOB" 300
    case $PITR_ST in
    done) ;;
    failed) fail "pitr job failed: $(cat "$HTTP_BODY")" ;;
    *) fail "pitr job did not finish" ;;
    esac
}
# pitr_wait JOB TRIES: polls the PITR job every 0.1 s (TRIES times at most)
# until it is done or failed; PITR_ST is its last status, HTTP_BODY the reply.
pitr_wait() {
    for _ in $(seq 1 "$2"); do
        http GET "$U/api/v2/pitr/restore/$1" -H "$(auth)"
        expect_status 200 "pitr status"
        PITR_ST=$(json_get 'j["status"]')
        case $PITR_ST in done | failed) return 0 ;; esac
        sleep 0.1
    done
}
# shard_tar_hashes TAR PREFIX: one line per regular file of a shard's backup
# tar, in name order: PREFIX, then "<file name> <size> <sha256>".
shard_tar_hashes() {
    python3 - "$1" "$2" <<'PY'
import hashlib, sys, tarfile
with tarfile.open(sys.argv[1], "r:*") as t:
    for m in sorted(t.getmembers(), key=lambda m: m.name):
        if m.isfile():
            print("%s%s %d %s" % (sys.argv[2], m.name.rsplit("/", 1)[-1], m.size,
                                  hashlib.sha256(t.extractfile(m).read()).hexdigest()))
PY
}
# snap NAME: the backup API's view of the whole store at $U (data directory
# $D): the bolt tree as the Go bbolt checker dumps it, then every shard's
# backup tar as file hashes; into $W/NAME.snap.
snap() {
    out="$W/$1.snap"
    curl -sS -f -H "$(auth)" -o "$W/$1.bolt" "$U/api/v2/backup/kv" || fail "backup/kv ($1)"
    "$TSV_TOOLS/boltcheck" "$W/$1.bolt" >"$out" || fail "boltcheck ($1)"
    for dir in $(cd "$D/state/engine/data" && ls -d */*/* 2>/dev/null | grep -v staging | sort); do
        id=${dir##*/}
        st=$(curl -sS -H "$(auth)" -o "$W/shard.tar" -w '%{http_code}' "$U/api/v2/backup/shards/$id")
        echo "shard $dir status $st" >>"$out"
        [ "$st" = 200 ] || continue
        shard_tar_hashes "$W/shard.tar" "  " >>"$out"
    done
}
# cli_snap NAME: what `influx backup` writes for the whole store at $U (the
# CLI's flow, influxcli.py), reduced to what must not change: the manifest
# without its file names and sizes (they carry the backup's time and gzip's
# output), every shard archive's files with their hashes, the bolt tree as
# the Go bbolt checker dumps it; into $W/NAME.snap.
cli_snap() {
    rm -rf "$W/$1.cli"
    python3 "$(dirname "${BASH_SOURCE[0]}")/influxcli.py" backup "$U" "$TSV_TOKEN" "$W/$1.cli" \
        >"$W/$1.cli.out" 2>&1 || fail "influx backup ($1): $(tail -3 "$W/$1.cli.out")"
    python3 - "$W/$1.cli" "$W/$1.cli.bolt" >"$W/$1.snap" <<'PY' || fail "influx backup ($1): unreadable output"
import glob, gzip, hashlib, json, os, shutil, sys, tarfile
d, bolt = sys.argv[1:3]
(mf,) = glob.glob(os.path.join(d, "*.manifest"))
m = json.load(open(mf))
def strip(x):
    if isinstance(x, dict):
        return {k: strip(v) for k, v in x.items() if k not in ("fileName", "size")}
    if isinstance(x, list):
        return [strip(v) for v in x]
    return x
print(json.dumps(strip(m), sort_keys=True, indent=1))
with gzip.open(os.path.join(d, m["kv"]["fileName"])) as src, open(bolt, "wb") as dst:
    shutil.copyfileobj(src, dst)
for b in m["buckets"]:
    for rp in b["retentionPolicies"]:
        for g in rp["shardGroups"]:
            for s in g["shards"]:
                with tarfile.open(os.path.join(d, s["fileName"]), "r:*") as t:
                    for f in sorted((f for f in t.getmembers() if f.isfile()), key=lambda f: f.name):
                        print("  %s %s %d %s" % (s["id"], f.name.rsplit("/", 1)[-1], f.size,
                                                 hashlib.sha256(t.extractfile(f).read()).hexdigest()))
PY
    "$TSV_TOOLS/boltcheck" "$W/$1.cli.bolt" >>"$W/$1.snap" || fail "boltcheck of the CLI's KV ($1)"
}
# same SNAP-A SNAP-B WHAT: the two snapshots are equal, or the test fails.
same() {
    cmp -s "$W/$1.snap" "$W/$2.snap" || { diff "$W/$1.snap" "$W/$2.snap" | head -20; fail "$3"; }
}
