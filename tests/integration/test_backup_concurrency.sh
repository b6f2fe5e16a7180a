#!/bin/bash
# Backups taken while restores run stay consistent, and concurrent restores
# into the same shard never interleave.
#  - background: two loops restoring new buckets (bucketMetadata + their
#    shard uploads), two loops restoring ONE shard X with two different
#    uploads U1/U2 (same file names, different contents; U1 has a tombstone);
#  - foreground: metadata and shard backups, each checked: the multipart is
#    well-formed, the kv part is a valid bolt whose meta.db lists exactly the
#    buckets of the buckets part (and of bucketsv1) with exactly its shards,
#    every listed shard has its directory, and every shard tar is one whole
#    state of that shard (empty or a complete upload; X: exactly U1 or U2).
# Loops are bounded by count and by time.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixture.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
CHECK="python3 $HERE/backup_check.py"
fixture_work
LOOPS=${TSV_CONC_LOOPS:-12}
DEADLINE=$(($(date +%s) + ${TSV_CONC_SECONDS:-60}))

tsv_start a
U=$a_URL
AUTH="Authorization: Token $TSV_TOKEN"
http POST "$U/api/v2/orgs" -H "$AUTH" -d '{"name":"fixture-org"}'
expect_status 201 "org"
ORG=$(json_get 'j["id"]')
for rp in autogen daily; do fixture_manifest "$W" "$rp" "$ORG" >"$W/m-$rp.json"; done

# Shard X and its two uploads: same names, different bytes.
python3 - "$W/m-daily.json" >"$W/m-x.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["bucketName"] = "x"
m["retentionPolicies"][0]["shardGroups"] = m["retentionPolicies"][0]["shardGroups"][:1]
print(json.dumps(m))
PY
http POST "$U/api/v2/restore/bucketMetadata" -H "$AUTH" --data-binary "@$W/m-x.json"
expect_status 201 "bucket x"
X=$(json_get 'j["shardMappings"][0]["newId"]')
F=$W/x/fixture
mk_upload() { # NAME A-SOURCE B-SOURCE GEN-SERIES [tombstone]
    d="$W/$1/b/daily/1"
    mkdir -p "$d"
    cp "$2" "$d/000000001-000000001.tsm"
    cp "$3" "$d/000000002-000000001.tsm"
    "$TSV_TOOLS/tsmcheck" gen -out "$d/000000003-000000001.tsm" -series "$4" -points 20000 >/dev/null
    [ -z "${5:-}" ] || $CHECK tombstone "$d/000000001-000000001.tsm" "$d/000000001-000000001.tombstone" >/dev/null
    (cd "$W/$1" && tar --format=ustar -cf "$W/$1.tar" b)
}
mk_upload u1 "$F/autogen/1/000000001-000000001.tsm" "$F/autogen/2/000000001-000000001.tsm" 8 tomb
mk_upload u2 "$F/autogen/3/000000002-000000002.tsm" "$F/daily/4/000000001-000000001.tsm" 9
curl -sS -f -H "$AUTH" --data-binary "@$W/u1.tar" "$U/api/v2/restore/shards/$X" || fail "initial upload of U1"

# ---- background restores -------------------------------------------------------
bucket_loop() { # TAG RP
    for i in $(seq 1 "$LOOPS"); do
        [ "$(date +%s)" -lt "$DEADLINE" ] || break
        python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); m["bucketName"]=sys.argv[2]; print(json.dumps(m))' \
            "$W/m-$2.json" "$1-$i" >"$W/$1.json"
        curl -sS -f -H "$AUTH" --data-binary "@$W/$1.json" -o "$W/$1.res" "$U/api/v2/restore/bucketMetadata"
        python3 -c 'import json,sys; [print(m["oldId"], m["newId"]) for m in json.load(open(sys.argv[1]))["shardMappings"]]' \
            "$W/$1.res" >"$W/$1.map"
        while read -r old new; do
            curl -sS -f -H "$AUTH" -H 'Content-Encoding: gzip' --data-binary "@$W/s$old.tar.gz" \
                "$U/api/v2/restore/shards/$new"
        done <"$W/$1.map"
    done
    echo "$i" >"$W/$1.done"
}
shard_loop() { # TAG UPLOAD
    for i in $(seq 1 "$LOOPS"); do
        [ "$(date +%s)" -lt "$DEADLINE" ] || break
        curl -sS -f -H "$AUTH" --data-binary "@$W/$2.tar" "$U/api/v2/restore/shards/$X"
    done
    echo "$i" >"$W/$1.done"
}
bucket_loop r1 daily >"$W/r1.log" 2>&1 &
P1=$!
bucket_loop r2 autogen >"$W/r2.log" 2>&1 &
P2=$!
shard_loop x1 u1 >"$W/x1.log" 2>&1 &
P3=$!
shard_loop x2 u2 >"$W/x2.log" 2>&1 &
P4=$!

# ---- foreground backups --------------------------------------------------------
python3 - "$U" "$TSV_TOKEN" "$W" "$X" "$a_DATA" "$TSV_TOOLS/boltcheck" "$HERE" $P1 $P2 $P3 $P4 <<'PY' >"$W/fg.out" ||
import hashlib, http.client, io, json, os, subprocess, sys, tarfile, time, random
url, token, W, X, data, boltcheck, here = sys.argv[1:8]
pids = [int(p) for p in sys.argv[8:]]
X = int(X)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, here)
import backup_check as bc
host, port = url.split("//")[1].split(":")

def get(path):
    c = http.client.HTTPConnection(host, int(port), timeout=120)
    c.request("GET", path, headers={"Authorization": "Token " + token})
    r = c.getresponse()
    body = r.read()
    c.close()
    assert r.status == 200, (path, r.status, body[:300])
    return r, body

def files_of(tar_bytes, prefix):
    out = {}
    with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as t:
        for m in t:
            assert m.name.startswith(prefix), (m.name, prefix)
            out[m.name[len(prefix):]] = hashlib.sha256(t.extractfile(m).read()).hexdigest()
    return out

def dir_files(d):
    return {n: hashlib.sha256(open(os.path.join(d, n), "rb").read()).hexdigest() for n in sorted(os.listdir(d))}

fix = f"{W}/x/fixture"
states_by_old = {old: dir_files(f"{fix}/{rp}/{old}") for rp, olds in (("autogen", (1, 2, 3)), ("daily", (4, 5))) for old in olds}
U1, U2 = dir_files(f"{W}/u1/b/daily/1"), dir_files(f"{W}/u2/b/daily/1")
assert set(U1) != set(U2) and set(U2) <= set(U1)

def alive():
    return any(os.path.exists(f"/proc/{p}") and open(f"/proc/{p}/stat").read().split()[2] != "Z" for p in pids)

rounds = shard_checks = xs = 0
seen_x = set()
rng = random.Random(7)
while True:
    running = alive()
    r, body = get("/api/v2/backup/metadata")
    ctype = r.getheader("Content-Type")
    d = f"{W}/fg"
    open(f"{d}.body", "wb").write(body)
    bc.cmd_multipart(f"{d}.body", ctype, d)
    dump = subprocess.run([boltcheck, f"{d}/kv"], capture_output=True, check=True).stdout.decode()
    open(f"{d}/kv.dump", "w").write(dump)
    buckets = json.load(open(f"{d}/buckets"))
    # meta.db of the kv part == the buckets part == bucketsv1
    out = io.StringIO()
    sys.stdout, saved = out, sys.stdout
    try:
        bc.cmd_metadb(f"{d}/kv.dump")
        bc.cmd_bolt_buckets(f"{d}/kv.dump")
    finally:
        sys.stdout = saved
    meta, ids = [json.loads(l) for l in out.getvalue().splitlines()]
    assert sorted(meta) == ids == sorted(b["bucketID"] for b in buckets), (sorted(meta), ids)
    listed = []
    for b in buckets:
        rp = b["retentionPolicies"][0]
        shards = [s["id"] for g in rp["shardGroups"] if "deletedAt" not in g for s in g["shards"]]
        assert sorted(shards) == sorted(meta[b["bucketID"]]["shards"]), (b["bucketName"], shards, meta[b["bucketID"]])
        for pos, g in enumerate(rp["shardGroups"]):
            for s in g["shards"]:
                path = f"{data}/state/engine/data/{b['bucketID']}/{rp['name']}/{s['id']}"
                assert os.path.isdir(path), f"shard {s['id']} of {b['bucketName']} has no directory"
                olds = (4, 5) if rp["name"] == "daily" else (1, 2, 3)
                listed.append((s["id"], f"{b['bucketID']}/{rp['name']}/{s['id']}/", b["bucketName"], olds[pos]))
    # Every shard tar is one whole state: empty, or a complete upload.
    pick = listed if not running else rng.sample(listed, min(6, len(listed)))
    for sid, prefix, name, old in pick + [l for l in listed if l[0] == X]:
        _, tb = get(f"/api/v2/backup/shards/{sid}")
        got = files_of(tb, prefix)
        if sid == X:
            assert got in (U1, U2), f"shard X is a mix: {got}"
            seen_x.add("U1" if got == U1 else "U2")
            xs += 1
        else:
            assert got in ({}, states_by_old[old]), f"shard {sid} ({name}) is partial: {got}"
        shard_checks += 1
    rounds += 1
    if not running:
        break
print(f"{rounds} metadata backups, {shard_checks} shard backups ({xs} of X: {sorted(seen_x)})")
PY
    { cat "$W/fg.out"; fail "a backup taken during restores is inconsistent"; }
for p in $P1 $P2 $P3 $P4; do wait "$p" || fail "a background restore loop failed: $(tail -n 3 "$W"/*.log)"; done
for t in r1 r2 x1 x2; do [ -f "$W/$t.done" ] || fail "loop $t did not finish"; done
echo "loops: r1 $(cat "$W/r1.done") r2 $(cat "$W/r2.done") x1 $(cat "$W/x1.done") x2 $(cat "$W/x2.done") iterations; $(cat "$W/fg.out")"
pass "backups during restores: meta.db = buckets part = bucketsv1, shard dirs present, every shard tar a whole state"

# The final state of X is one upload, on disk and in a backup.
http GET "$U/api/v2/backup/metadata" -H "$AUTH"
expect_status 200 "metadata"
XDIR=$(ls -d "$a_DATA"/state/engine/data/*/daily/"$X")
final=$(cd "$XDIR" && ls | grep -v '^\.' | sort | xargs -n1 sha256sum)
u1=$(cd "$W/u1/b/daily/1" && ls | sort | xargs -n1 sha256sum)
u2=$(cd "$W/u2/b/daily/1" && ls | sort | xargs -n1 sha256sum)
[ "$final" = "$u1" ] || [ "$final" = "$u2" ] || fail "shard X on disk is a mix of the two uploads: $final"
pass "concurrent restores into one shard: the final file set is exactly one upload"
echo "1..all passed"
