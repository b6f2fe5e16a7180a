#!/bin/bash
# Point-in-time recovery of one bucket or one org (docs/api.md "POST
# /api/v2/pitr/restore", body fields bucketID / orgID). Two orgs, each with a
# bucket restored through the influx CLI's flows (the 1.6 fixture); after T1
# a shard of org A's bucket is replaced, org A gets a bucket and a token, org
# B's bucket is deleted, a token of B deleted, a bucket and a token created.
# Then, checked against backup-API snapshots (every bolt record through the
# Go bbolt checker, SHA-256 of every file of every shard's backup tar):
#   - PITR bucketID=A's bucket to T1: that bucket's shards are T1's, every
#     record and every other shard as now;
#   - PITR orgID=B to T1: every record of org B (org, buckets, bucket index,
#     tokens, their index, user-resource mappings) is T1's, B's deleted bucket
#     is back with its shards, B's new bucket gone, org A untouched;
#   - a whole-server PITR to the moment before both equals that moment: a
#     scoped PITR is undone like any other;
#   - kill -9 before / after the exchange of a scoped PITR: old or new state;
#   - 400 for both fields, a malformed ID; a job that fails for an ID that
#     exists neither now nor then.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixture.sh"

fixture_work
tsv_start s
. "$(dirname "$0")/pitr_lib.sh"

# snap NAME: the backup API's view: NAME.kv (every bolt record, "K bucket
# key-hex value-hex"), NAME.shards ("dir file size sha256" per shard file).
snap() {
    curl -sS -f -H "$(auth)" -o "$W/$1.bolt" "$U/api/v2/backup/kv" || fail "backup/kv ($1)"
    "$TSV_TOOLS/boltcheck" "$W/$1.bolt" >"$W/$1.kv" || fail "boltcheck ($1)"
    : >"$W/$1.shards"
    for dir in $(cd "$D/state/engine/data" && ls -d */*/* 2>/dev/null | grep -v staging | sort); do
        id=${dir##*/}
        curl -sS -f -H "$(auth)" -o "$W/shard.tar" "$U/api/v2/backup/shards/$id" || fail "backup/shards/$id ($1)"
        shard_tar_hashes "$W/shard.tar" "$dir " >>"$W/$1.shards"
    done
}
# expect NAME NOW THEN KIND ID: snapshot NAME must hold THEN's records and
# shards for what KIND (bucket|org) ID owns, NOW's for everything else. What
# an org owns, from InfluxDB 2.x's data model (docs/formats.md "The 2.x KV
# tree"): its record, its name index entry, the buckets and tokens whose
# JSON names it, the bucket index entries keyed by it, the token index
# entries of its tokens, the user-resource mappings of it and its buckets.
# The tsdb meta record is checked through the shards (it decides which exist).
expect() {
    python3 - "$W" "$@" <<'PY' || fail "PITR of $4 $5 to T1 ($1): not the expected state"
import json, sys
w, name, now, then, kind, sid = sys.argv[1:7]
META = "v1_tsm1_metadata"
def kv(n):
    recs = {}
    for line in open("%s/%s.kv" % (w, n)):
        p = line.split()
        if p[0] == "K":
            bk = "/".join(bytes.fromhex(x).decode("latin-1") for x in p[1].split("/"))
            if bk != META:
                recs[(bk, p[2])] = p[3] if len(p) > 3 else ""
        elif p[0] == "B":
            recs[("B", p[1])] = p[2]
    return recs
def shards(n):
    out = {}
    for line in open("%s/%s.shards" % (w, n)):
        d = line.split()[0]
        out.setdefault(d, []).append(line)
    return out
def js(v):
    try:
        return json.loads(bytes.fromhex(v))
    except Exception:
        return {}
got, a, b = kv(name), kv(now), kv(then)
ids = {sid}
if kind == "org":
    for recs in (a, b):
        for (bk, k), v in recs.items():
            if bk in ("bucketsv1", "authorizationsv1", "dbrpv1") and js(v).get("orgID") == sid:
                ids.add(bytes.fromhex(k).decode())
def owned(bk, k, v):
    key = bytes.fromhex(k).decode("latin-1")
    val = bytes.fromhex(v).decode("latin-1") if bk != "B" else ""
    if bk in ("organizationsv1", "bucketsv1", "authorizationsv1", "dbrpv1"):
        return key in ids
    if bk in ("organizationindexv1", "authorizationindexv1", "authorizationhashedindexv1",
              "dbrpdefaultv1", "dbrpbyorgv1", "dbrpbyorganddbindexv1"):
        return val in ids
    if bk == "bucketindexv1":
        return key[:16] in ids or val in ids
    if bk == "userresourcemappingsv1":
        return key[:16] in ids
    if bk == "userresourcemappingsbyuserindexv1":
        return val[:16] in ids
    return False
want = {k: v for k, v in a.items() if not owned(k[0], k[1], v)}
want.update({k: v for k, v in b.items() if owned(k[0], k[1], v)})
ok = True
for k in sorted(set(want) | set(got)):
    if want.get(k) != got.get(k):
        print("record %s/%s: expected %s, got %s" % (k[0], bytes.fromhex(k[1]).decode("latin-1"),
              (want.get(k) or "absent")[:80], (got.get(k) or "absent")[:80]))
        ok = False
sa, sb, sg = shards(now), shards(then), shards(name)
dbs = lambda m: {d for d in m if d.split("/")[0] in ids}
ws = {d: l for d, l in sa.items() if d.split("/")[0] not in ids}
ws.update({d: l for d, l in sb.items() if d.split("/")[0] in ids})
if ws != sg:
    print("shards: expected %s\n got %s" % (sorted(ws), sorted(sg)))
    for d in ws:
        if ws[d] != sg.get(d):
            print(" differs:", d)
    ok = False
if kind == "org" and not dbs(sb):
    print("test data: org has no shards at T1"); ok = False
sys.exit(0 if ok else 1)
PY
}
mkorg() { # NAME -> prints ID
    http POST "$U/api/v2/orgs" -H "$(auth)" -H 'Content-Type: application/json' -d "{\"name\":\"$1\"}"
    expect_status 201 "create org $1"
    json_get 'j["id"]'
}
mkbucket() { # ORG NAME -> prints ID
    http POST "$U/api/v2/buckets" -H "$(auth)" -H 'Content-Type: application/json' \
        -d "{\"orgID\":\"$1\",\"name\":\"$2\"}"
    expect_status 201 "create bucket $2"
    json_get 'j["id"]'
}
mktoken() { # ORG DESCRIPTION -> prints ID
    http POST "$U/api/v2/authorizations" -H "$(auth)" -H 'Content-Type: application/json' \
        -d "{\"orgID\":\"$1\",\"userID\":\"$USR\",\"description\":\"$2\",\"permissions\":[{\"action\":\"read\",\"resource\":{\"type\":\"buckets\",\"orgID\":\"$1\"}}]}"
    expect_status 201 "create token $2"
    json_get 'j["id"]'
}
restore_rp() { pitr_restore_rp "$@"; } # RP ORG OLD-SHARD-IDS... -> sets BUCKET_ID

# --- history -------------------------------------------------------------
http POST "$U/api/v2/users" -H "$(auth)" -H 'Content-Type: application/json' -d '{"name":"reader"}'
expect_status 201 "create user"
USR=$(json_get 'j["id"]')
OA=$(mkorg pitr-a)
OB=$(mkorg pitr-b)
restore_rp autogen "$OA" 1 2 3
BA=$BUCKET_ID
restore_rp daily "$OB" 4 5
BB=$BUCKET_ID
TB=$(mktoken "$OB" "b reader")
tick; T1=$T; snap s1
pass "T1: org A with bucket $BA (3 shards), org B with bucket $BB (2 shards) and a token"

upload 1 2 # a shard of A's bucket replaced
mkbucket "$OA" a-new >/dev/null
mktoken "$OA" "a reader" >/dev/null
http DELETE "$U/api/v2/buckets/$BB" -H "$(auth)"
expect_status 204 "delete B's bucket"
http DELETE "$U/api/v2/authorizations/$TB" -H "$(auth)"
expect_status 204 "delete B's token"
mkbucket "$OB" b-new >/dev/null
mktoken "$OB" "b writer" >/dev/null
tick; T2=$T; snap s2
cmp -s "$W/s1.kv" "$W/s2.kv" && fail "T2 KV equals T1's"
pass "T2: A's shard replaced, bucket and token added to A; B's bucket and token deleted, others added"

# --- one bucket ---------------------------------------------------------------
pitr "$T1" ",\"bucketID\":\"$BA\""
[ "$(json_get 'j.get("bucketID")')" = "$BA" ] || fail "status lacks bucketID: $(cat "$HTTP_BODY")"
snap p1
expect p1 s2 s1 bucket "$BA"
cmp -s "$W/s2.shards" "$W/p1.shards" && fail "bucket PITR changed no shard"
pass "PITR of bucket A to T1: its shards are T1's; every record and other shard as at T2"

# --- one org ------------------------------------------------------------------
pitr "$T1" ",\"orgID\":\"$OB\""
snap p2
expect p2 p1 s1 org "$OB"
grep -q "^$BB/" "$W/p2.shards" || fail "B's deleted bucket did not come back with its shards"
http GET "$U/api/v2/buckets?orgID=$OB" -H "$(auth)"
expect_status 200 "list B's buckets"
json_get '" ".join(sorted(b["name"] for b in j["buckets"]))' | grep -q b-new && fail "b-new survived the org PITR"
http GET "$U/api/v2/buckets?orgID=$OA" -H "$(auth)"
json_get '" ".join(sorted(b["name"] for b in j["buckets"]))' | grep -q a-new || fail "org PITR of B removed A's a-new"
pass "PITR of org B to T1: B's records, bucket and shards are T1's (deleted bucket back, new one gone); org A as it was"

# --- undo: the whole server back to T2 -------------------------------------------------
pitr "$T2"
snap u2
cmp -s "$W/s2.kv" "$W/u2.kv" || { diff "$W/s2.kv" "$W/u2.kv" | head; fail "KV after PITR to T2"; }
cmp -s "$W/s2.shards" "$W/u2.shards" || { diff "$W/s2.shards" "$W/u2.shards" | head; fail "shards after PITR to T2"; }
pass "a whole-server PITR to T2 undoes both scoped PITRs (KV and shards equal T2's)"

# --- errors ----------------------------------------------------------------------
http POST "$U/api/v2/pitr/restore" -H "$(auth)" -H 'Content-Type: application/json' \
    -d "{\"target_time\":\"$(rfc_ms "$T1")\",\"orgID\":\"$OA\",\"bucketID\":\"$BA\"}"
expect_error 400 invalid "orgID or bucketID, not both"
http POST "$U/api/v2/pitr/restore" -H "$(auth)" -H 'Content-Type: application/json' \
    -d "{\"target_time\":\"$(rfc_ms "$T1")\",\"bucketID\":\"xyz\"}"
expect_error 400 invalid "bucketID must be an ID of 16 hex digits"
http POST "$U/v1/instances/local/pitr/restore" -H "$(auth)" -H 'Content-Type: application/json' \
    -d "{\"target_time\":\"$(rfc_ms "$T1")\",\"orgID\":0}"
expect_status 400 "seed path, orgID a number"
[ "$(json_get 'j["error"]')" = BadRequest ] || fail "seed 400: $(cat "$HTTP_BODY")"
http POST "$U/api/v2/pitr/restore" -H "$(auth)" -H 'Content-Type: application/json' \
    -d "{\"target_time\":\"$(rfc_ms "$T1")\",\"bucketID\":\"0123456789abcdef\"}"
expect_status 202 "unknown bucket: queued"
J=$(json_get 'j["jobId"]')
pitr_wait "$J" 100
[ "$PITR_ST" = failed ] || fail "unknown bucket: $(cat "$HTTP_BODY")"
json_get 'j["description"]' | grep -q "exists neither now nor at the target time" || fail "unknown bucket: $(cat "$HTTP_BODY")"
snap e1
cmp -s "$W/s2.kv" "$W/e1.kv" && cmp -s "$W/s2.shards" "$W/e1.shards" || fail "a failed scoped PITR changed the state"
pass "400: both fields, a malformed ID (both paths); unknown bucket: job failed, state unchanged"

# --- kill -9 --------------------------------------------------------------------
crash() { # POINT OLD|NEW
    tsv_stop s
    relaunch "$1:pause"
    http POST "$U/api/v2/pitr/restore" -H "$(auth)" -H 'Content-Type: application/json' \
        -d "{\"target_time\":\"$(rfc_ms "$T1")\",\"bucketID\":\"$BA\"}"
    expect_status 202 "scoped pitr before crash at $1"
    log="$TSV_TMP/s-$LOGN.log"
    for _ in $(seq 1 200); do grep -q "fault point reached" "$log" && break; sleep 0.05; done
    grep -q "fault point reached.*point=$1" "$log" || fail "fault point $1 not reached"
    kill -9 "$s_PID"
    wait "$s_PID" 2>/dev/null || true
    relaunch
    snap "c-$1"
    if [ "$2" = OLD ]; then
        cmp -s "$W/s2.kv" "$W/c-$1.kv" && cmp -s "$W/s2.shards" "$W/c-$1.shards" ||
            fail "kill -9 at $1: not the old state"
    else
        expect "c-$1" s2 s1 bucket "$BA"
        pitr "$T2"
    fi
    pass "kill -9 at $1 of a bucket PITR: the $2 state"
}
crash pitr-before-exchange OLD
crash kv-after-exchange NEW
tsv_stop s
