#!/bin/bash
# docs/api.md: the two "unpack a metadata reply" recipes run exactly as
# written (each block after a "<!-- recipe: NAME -->" marker) against a real
# server, and both must produce the parts the server sent: a bolt that passes
# bbolt's Check and equals /backup/kv, a SQLite file, the manifest JSON.
# The documented error replies are checked too.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixture.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
DOC="${TSV_SRC:-$HERE/../..}/docs/api.md"
[ -f "$DOC" ] || fail "no $DOC"
fixture_work

tsv_start s
export H=$s_URL T=$TSV_TOKEN
http POST "$H/api/v2/orgs" -H "Authorization: Token $T" -d '{"name":"acme"}'
expect_status 201 "org"
fixture_manifest "$W" autogen "$(json_get 'j["id"]')" | sed 's/fixture_autogen/cpu/' >"$W/m.json"
http POST "$H/api/v2/restore/bucketMetadata" -H "Authorization: Token $T" --data-binary "@$W/m.json"
expect_status 201 "bucketMetadata"
curl -sS -f -H "Authorization: Token $T" -H 'Content-Encoding: gzip' --data-binary "@$W/s1.tar.gz" \
    "$H/api/v2/restore/shards/$(json_get 'j["shardMappings"][0]["newId"]')" || fail "shard"
curl -sS -f -H "Authorization: Token $T" -o "$W/kv.bolt" "$H/api/v2/backup/kv" || fail "backup/kv"
"$TSV_TOOLS/boltcheck" "$W/kv.bolt" >"$W/kv.dump" || fail "boltcheck"

for recipe in unpack-python unpack-shell; do
    python3 - "$DOC" "$recipe" >"$W/$recipe.sh" <<'PY' || fail "no recipe $recipe in the doc"
import re, sys
doc = open(sys.argv[1]).read()
m = re.search(r"<!-- recipe: " + re.escape(sys.argv[2]) + r" -->\n```sh\n(.*?)\n```", doc, re.S)
print(m.group(1))
PY
    mkdir -p "$W/$recipe"
    (cd "$W/$recipe" && bash -eu "$W/$recipe.sh" >out.txt 2>err.txt) ||
        fail "recipe $recipe failed: $(cat "$W/$recipe/err.txt")"
    d="$W/$recipe"
    [ "$(cut -d' ' -f1 "$d/out.txt" | xargs)" = "kv sql buckets" ] || fail "$recipe printed: $(cat "$d/out.txt")"
    "$TSV_TOOLS/boltcheck" "$d/kv" >"$d/kv.dump" || fail "$recipe: kv part fails boltcheck"
    cmp -s "$d/kv.dump" "$W/kv.dump" || fail "$recipe: kv part differs from /backup/kv"
    [ "$(head -c 15 "$d/sql")" = "SQLite format 3" ] || fail "$recipe: sql part"
    python3 -c 'import json,sys; b=json.load(open(sys.argv[1])); assert any(x["bucketName"]=="cpu" for x in b)' \
        "$d/buckets" || fail "$recipe: buckets part"
    pass "docs recipe $recipe: kv (= /backup/kv), sql, buckets"
done
for f in kv sql buckets; do
    cmp -s "$W/unpack-python/$f" "$W/unpack-shell/$f" || fail "the two recipes disagree on $f"
done
pass "both recipes give the same three files"

# The documented error replies, verbatim.
python3 - "$DOC" >"$W/errors.txt" <<'PY'
import re, sys
doc = open(sys.argv[1]).read()
block = re.search(r"### Errors\n.*?```sh\n(.*?)\n```", doc, re.S).group(1).splitlines()
for cmd, out in zip(block[0::2], block[1::2]):
    assert cmd.startswith("$ "), cmd
    print(cmd[2:] + "\t" + out)
PY
n=0
while IFS=$'\t' read -r cmd want; do
    got=$(eval "$cmd")
    [ "$got" = "$want" ] || fail "doc example: $cmd\n  doc: $want\n  got: $got"
    n=$((n + 1))
done <"$W/errors.txt"
[ "$n" = 5 ] || fail "expected 5 documented error examples, ran $n"
pass "the $n documented error replies are what the server answers"
echo "1..all passed"
