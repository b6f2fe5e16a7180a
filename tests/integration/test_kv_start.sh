#!/bin/bash
# Start-up and the KV store: a restart keeps orgs, buckets, tokens and shard
# files; a second server on the same data directory is refused; tokens over
# HTTP (setup token with Token/Bearer, hashed-only, inactive, inactive user,
# org-scoped all-access); and a corrupt or truncated KV makes the server
# refuse to start with a message naming the KV, never touching any file.
# States the HTTP API cannot make are written with tsv_kvtool (the C KV API)
# while the server is stopped.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixture.sh"

KVTOOL=$(tsv_tool tsv_kvtool)

W="$TSV_TMP/work"
mkdir -p "$W"

# ---- a server with real state: setup, a second org, a bucket, shards --------
tsv_start s
U=$s_URL
D=$s_DATA
KVDIR="$D/state/kv"

http POST "$U/api/v2/setup" -H 'Content-Type: application/json' \
    -d '{"username":"it-admin","password":"it-password","org":"it-org","bucket":"it-bucket"}'
expect_status 201 "setup"
SETUP_TOKEN=$(json_get 'j["auth"]["token"]')
ORG=$(json_get 'j["org"]["id"]')
USER_ID=$(json_get 'j["user"]["id"]')
[ "$(json_get 'j["user"]["name"]')" = it-admin ] || fail "setup reply user name: $(json_get 'j["user"]')"
[ "$(json_get 'j["auth"]["description"]')" = "it-admin's Token" ] || fail "setup token description"
[ "${#SETUP_TOKEN}" = 88 ] || fail "setup token length ${#SETUP_TOKEN}"
pass "setup: operator token, user name echoed"

# Raw token from setup: both schemes, scheme case-insensitive, on a plain
# endpoint and on an operator-only one.
for scheme in Token Bearer token bearer; do
    http GET "$U/api/v2/orgs" -H "Authorization: $scheme $SETUP_TOKEN"
    expect_status 200 "GET /orgs with $scheme"
    http GET "$U/api/v2/backup/kv" -H "Authorization: $scheme $SETUP_TOKEN"
    expect_status 200 "GET /backup/kv with $scheme"
done
http GET "$U/api/v2/orgs" -H "Authorization: Token ${SETUP_TOKEN%?}"
expect_error 401 unauthorized "unauthorized access"
pass "setup token: Token and Bearer, operator endpoints"

H=(-H "Authorization: Token $SETUP_TOKEN" -H 'Content-Type: application/json')
http POST "$U/api/v2/orgs" "${H[@]}" -d '{"name":"other-org"}'
expect_status 201 "create other-org"
ORG2=$(json_get 'j["id"]')
http POST "$U/api/v2/buckets" "${H[@]}" \
    -d "{\"orgID\":\"$ORG2\",\"name\":\"other-bucket\",\"retentionRules\":[{\"everySeconds\":86400}]}"
expect_status 201 "create other-bucket"

# Shard directories with real TSM files (the 1.6 fixture, RP autogen).
fixture_prepare "$W/fx"
fixture_manifest "$W/fx" autogen "$ORG" >"$W/m.json"
http POST "$U/api/v2/restore/bucketMetadata" "${H[@]}" --data-binary "@$W/m.json"
expect_status 201 "bucketMetadata"
json_get "'\\n'.join('%d %d' % (m['oldId'], m['newId']) for m in j['shardMappings'])" >"$W/map"
while read -r old new; do
    http POST "$U/api/v2/restore/shards/$new" -H "Authorization: Token $SETUP_TOKEN" \
        -H 'Content-Encoding: gzip' --data-binary "@$W/fx/s$old.tar.gz"
    expect_status 204 "restore shard $old -> $new"
done <"$W/map"
[ "$(wc -l <"$W/map")" = 3 ] || fail "expected 3 shards"

# What must survive a restart.
snapshot() {
    http GET "$U/api/v2/orgs" -H "Authorization: Token $SETUP_TOKEN"
    expect_status 200 "list orgs"
    cp "$HTTP_BODY" "$1.orgs"
    http GET "$U/api/v2/buckets" -H "Authorization: Token $SETUP_TOKEN"
    expect_status 200 "list buckets"
    cp "$HTTP_BODY" "$1.buckets"
    (cd "$D/state/engine" && find . -type f ! -name .tsv-gen -exec sha256sum {} + | sort) >"$1.files"
    (cd "$D/state/engine" && find . -type d | sort) >"$1.dirs"
}
snapshot "$W/before"
[ "$(awk '/\.tsm$/ { n = split($2, p, "/"); print p[n - 1] }' "$W/before.files" | sort -u | wc -l)" = 3 ] ||
    fail "expected TSM files in 3 shards: $(cat "$W/before.files")"
python3 - "$W/before.orgs" "$W/before.buckets" <<'PY' || fail "orgs/buckets before restart"
import json, sys
orgs = sorted(o["name"] for o in json.load(open(sys.argv[1]))["orgs"])
assert orgs == ["it-org", "other-org"], orgs
names = sorted(b["name"] for b in json.load(open(sys.argv[2]))["buckets"])
assert names == sorted(["_monitoring", "_tasks", "it-bucket", "_monitoring", "_tasks",
                        "other-bucket", "fixture_autogen"]), names
PY
pass "state: 2 orgs, 7 buckets, 3 restored shards"

# ---- tokens only the C API can make (server stopped) ---------------------------
tsv_stop s
perms() { # perms N [ORGID]: the first N operator types, read+write
    python3 - "$@" <<'PY'
import json, sys
types = ["authorizations", "buckets", "dashboards", "orgs", "sources", "tasks", "telegrafs",
         "users", "variables", "scrapers", "secrets", "labels", "views", "documents",
         "notificationRules", "notificationEndpoints", "checks", "dbrp", "notebooks",
         "annotations", "remotes", "replications"]
out = []
for t in types[: int(sys.argv[1])]:
    for a in ("read", "write"):
        r = {"type": t}
        if len(sys.argv) > 2:
            r["orgID"] = sys.argv[2]
        out.append({"action": a, "resource": r})
print(json.dumps(out, separators=(",", ":")))
PY
}
# put_auth ID TOKEN|- HASHED|- STATUS USERID|- PERMS: influxd's member order.
put_auth() {
    json=$(python3 - "$@" "$ORG" <<'PY'
import json, sys
aid, tok, hashed, status, user, perms, org = sys.argv[1:8]
a = {"id": aid}
if tok != "-": a["token"] = tok
if hashed != "-": a["hashedToken"] = hashed
a.update(status=status, description="it token", orgID=org)
if user != "-": a["userID"] = user
a.update(permissions=json.loads(perms), createdAt="2024-01-01T00:00:00Z",
         updatedAt="2024-01-01T00:00:00Z")
print(json.dumps(a, separators=(",", ":")))
PY
)
    "$KVTOOL" "$KVDIR" put authorizationsv1 "$1" "$json" || fail "kvtool put auth $1"
    if [ "$2" != - ]; then "$KVTOOL" "$KVDIR" put authorizationindexv1 "$2" "$1" || fail "index"; fi
    if [ "$3" != - ]; then "$KVTOOL" "$KVDIR" put authorizationhashedindexv1 "$3" "$1" || fail "hidx"; fi
}
phc512() {
    python3 -c 'import base64,hashlib,sys; print("$influxdb2-sha512$" + base64.urlsafe_b64encode(hashlib.sha512(sys.argv[1].encode()).digest()).decode())' "$1"
}
OPER=$(perms 22)
T_ALL="it-all-access-$$"
T_INACTIVE="it-inactive-$$"
T_USER_OFF="it-user-inactive-$$"
T_HASHED="it-hashed-$$"
T_OLD="it-18-types-$$"
put_auth 0000000000001001 "$T_ALL" - active "$USER_ID" "$(perms 22 "$ORG")"
put_auth 0000000000001002 "$T_INACTIVE" - inactive "$USER_ID" "$OPER"
"$KVTOOL" "$KVDIR" put usersv1 00000000000010ff \
    '{"id":"00000000000010ff","name":"it-off","status":"inactive"}' || fail "put user"
"$KVTOOL" "$KVDIR" put userindexv1 it-off 00000000000010ff || fail "put user index"
put_auth 0000000000001003 "$T_USER_OFF" - active 00000000000010ff "$OPER"
put_auth 0000000000001004 - "$(phc512 "$T_HASHED")" active "$USER_ID" "$OPER"
put_auth 0000000000001005 "$T_OLD" - active "$USER_ID" "$(perms 18)"
"$KVTOOL" "$KVDIR" get authorizationsv1 0000000000001004 | grep -q '"hashedToken":"\$influxdb2-sha512\$' ||
    fail "kvtool get"
pass "tokens written through the C API"

# ---- restart keeps everything ----------------------------------------------------------------
# (a new log: tsv_launch takes the port from the last "listening" line)
tsv_launch s "$D" "$TSV_TMP/s-restart.log"
U=$s_URL
snapshot "$W/after"
for part in orgs buckets files dirs; do
    cmp -s "$W/before.$part" "$W/after.$part" ||
        fail "restart changed $part: $(diff "$W/before.$part" "$W/after.$part" | head -5)"
done
pass "restart: orgs, buckets, shard dirs and files identical; setup token still valid"

# ---- tokens over HTTP ------------------------------------------------------------------------
RESTORE="$U/api/v2/restore/kv"
http POST "$RESTORE" -H "Authorization: Token $T_ALL" --data-binary 'x'
expect_error 401 unauthorized '^read:authorizations is unauthorized$'
http GET "$U/api/v2/backup/kv" -H "Authorization: Bearer $T_ALL"
expect_error 401 unauthorized '^read:authorizations is unauthorized$'
http GET "$U/api/v2/orgs" -H "Authorization: Token $T_ALL"
expect_status 200 "all-access token lists orgs"
[ "$(json_get '[o["id"] for o in j["orgs"]]')" = "['$ORG']" ] ||
    fail "all-access token must see only its org: $(cat "$HTTP_BODY")"
http GET "$U/api/v2/buckets" -H "Authorization: Token $T_ALL"
expect_status 200 "all-access token lists buckets"
json_get 'all(b["orgID"] == "'"$ORG"'" for b in j["buckets"]) and len(j["buckets"]) == 4' | grep -qx True ||
    fail "all-access token buckets: $(cat "$HTTP_BODY")"
pass "org-scoped all-access token: 401 read:authorizations on restore/backup, 200 on its own org"

for url in "$U/api/v2/orgs" "$RESTORE"; do
    http POST "$url" -H "Authorization: Token $T_INACTIVE" --data-binary '{}'
    expect_error 401 unauthorized '^token is inactive$'
done
http GET "$U/api/v2/orgs" -H "Authorization: Token $T_INACTIVE"
expect_error 401 unauthorized '^token is inactive$'
pass "inactive token -> 401 token is inactive"

http GET "$U/api/v2/orgs" -H "Authorization: Token $T_USER_OFF"
expect_error 403 forbidden '^User is inactive$'
pass "token of an inactive user -> 403 User is inactive"

http GET "$U/api/v2/backup/kv" -H "Authorization: Token $T_HASHED"
expect_status 200 "hashed-only operator token"
http GET "$U/api/v2/backup/kv" -H "Authorization: Token ${T_HASHED}x"
expect_error 401 unauthorized "unauthorized access"
http GET "$U/api/v2/backup/kv" -H "Authorization: Bearer $T_OLD"
expect_status 200 "18-type operator token"
pass "hashed-only (PHC sha512) and 18-type operator tokens pass the operator check"

# ---- a second server on the same data directory is refused ---------------------------------------
rc=0
timeout 30 "$TSVAULT_BIN" serve --http-bind-address 127.0.0.1:0 --data-dir "$D" \
    >"$W/second.log" 2>&1 || rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "second server: exit $rc: $(cat "$W/second.log")"
grep -q 'msg=listening' "$W/second.log" && fail "second server started"
grep -q "in use by another tsvault" "$W/second.log" || fail "second server message: $(cat "$W/second.log")"
grep -q "$D/LOCK" "$W/second.log" || fail "second server message names no LOCK: $(cat "$W/second.log")"
http GET "$U/api/v2/orgs" -H "Authorization: Token $SETUP_TOKEN"
expect_status 200 "first server still serves"
pass "second server on the same data dir -> refused (LOCK), exit $rc; first one unaffected"

tsv_stop s
snapshot_files() { (cd "$1" && find . -type f ! -name 'lock.mdb' ! -name LOCK -exec sha256sum {} + | sort); }

# ---- a corrupt KV: refuse to start, touch nothing -----------------------------------------------
PAGE=$(getconf PAGESIZE)
# main_root FILE: root page of LMDB's main database in the current meta
# (meta at offset 16 of pages 0 and 1: dbs at +24, 48 bytes each, root at
# +40; txnid at +128; native little-endian on the test machines).
main_root() {
    python3 - "$1" "$PAGE" <<'PY'
import struct, sys
f = open(sys.argv[1], "rb").read()
page = int(sys.argv[2])
metas = []
for m in (0, 1):
    base = m * page + 16
    txnid = struct.unpack_from("<Q", f, base + 128)[0]
    root = struct.unpack_from("<Q", f, base + 24 + 48 + 40)[0]
    metas.append((txnid, root))
txnid, root = max(metas)
assert 2 <= root < len(f) // page, (root, len(f))
print(root)
PY
}
cp -a "$D" "$W/pristine"
corrupt_case() { # NAME: copies the pristine dir, applies the damage, expects a refusal
    name=$1
    C="$W/case-$name"
    rm -rf "$C"
    cp -a "$W/pristine" "$C"
    case $name in
    garbage-meta) head -c $((2 * PAGE)) /dev/urandom |
        dd of="$C/state/kv/data.mdb" bs="$PAGE" conv=notrunc status=none ;;
    empty) truncate -s 0 "$C/state/kv/data.mdb" ;;
    two-pages) truncate -s $((2 * PAGE)) "$C/state/kv/data.mdb" ;;
    # Cut inside the root page of the main database, which every start
    # reads (a cut elsewhere may only remove free pages: still valid).
    main-root) truncate -s $(($(main_root "$C/state/kv/data.mdb") * PAGE + 100)) \
        "$C/state/kv/data.mdb" ;;
    esac
    sum_before=$(sha256sum <"$C/state/kv/data.mdb")
    snapshot_files "$C" >"$W/$name.before"
    rc=0
    timeout 30 "$TSVAULT_BIN" serve --http-bind-address 127.0.0.1:0 --data-dir "$C" \
        --operator-token "$TSV_TOKEN" >"$W/$name.log" 2>&1 || rc=$?
    [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "$name: exit $rc: $(cat "$W/$name.log")"
    [ "$rc" -lt 128 ] || fail "$name: killed by signal $((rc - 128)): $(tail -5 "$W/$name.log")"
    grep -q 'msg=listening' "$W/$name.log" && fail "$name: server started"
    grep -q 'Sanitizer' "$W/$name.log" && fail "$name: sanitizer report: $(cat "$W/$name.log")"
    grep -q "KV store $C/state/kv is corrupt" "$W/$name.log" ||
        fail "$name: message must name the KV: $(cat "$W/$name.log")"
    [ "$(sha256sum <"$C/state/kv/data.mdb")" = "$sum_before" ] || fail "$name: data.mdb changed"
    snapshot_files "$C" >"$W/$name.after"
    cmp -s "$W/$name.before" "$W/$name.after" ||
        fail "$name: files changed: $(diff "$W/$name.before" "$W/$name.after" | head)"
    pass "corrupt KV ($name): refused with exit $rc, KV named, no file changed"
}
for c in garbage-meta empty two-pages main-root; do
    corrupt_case "$c"
done

# The untouched original still starts, with everything in it.
tsv_launch s "$D" "$TSV_TMP/s-final.log"
U=$s_URL
http GET "$U/api/v2/orgs" -H "Authorization: Token $SETUP_TOKEN"
expect_status 200 "original data dir after the refusals"
tsv_stop s
pass "original data dir starts and serves"
echo "1..all passed"
