#!/bin/bash
# The partial-restore flow with real InfluxDB data: the 1.6 fixture's TSM
# files, re-packed as influx 2.x shard archives, restored through
# bucketMetadata + shards (chunked gzip uploads, as the influx CLI sends
# them). The files must land byte-identical, and an independent reader built
# from Debian's InfluxDB 1.6.7 sources must read back exactly the points of
# expected/export-*.lp. Then a shard backup must return the same files.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixture.sh"

fixture_server

http POST "$U/api/v2/orgs" -H "$(auth)" -H 'Content-Type: application/json' -d '{"name":"fixture-org"}'
expect_status 201 "create org"
ORG=$(json_get 'j["id"]')

declare -A NEWID BUCKET
for rp in autogen daily; do
    fixture_manifest "$W" "$rp" "$ORG" >"$W/m-$rp.json"
    # The daily manifest goes gzip-encoded (the influx CLI sends it plain;
    # a compressed JSON body must work too, and once crashed the server).
    enc=()
    if [ "$rp" = daily ]; then gzip -c "$W/m-$rp.json" >"$W/m-$rp.body"; enc=(-H 'Content-Encoding: gzip')
    else cp "$W/m-$rp.json" "$W/m-$rp.body"; fi
    http POST "$U/api/v2/restore/bucketMetadata" -H "$(auth)" -H 'Content-Type: application/json' \
        "${enc[@]}" -H 'Transfer-Encoding: chunked' --data-binary "@$W/m-$rp.body"
    expect_status 201 "bucketMetadata $rp"
    expect_header "Content-Type" "application/json; charset=utf-8"
    BUCKET[$rp]=$(json_get 'j["id"]')
    [ "$(json_get 'j["name"]')" = "fixture_$rp" ] || fail "bucket name"
    while read -r old new; do NEWID[$old]=$new; done < <(json_get "'\\n'.join('%d %d' % (m['oldId'], m['newId']) for m in j['shardMappings'])")
done
[ "${#NEWID[@]}" = 5 ] || fail "expected 5 shard mappings, got ${#NEWID[@]}"
pass "bucketMetadata for both RPs: 5 shards mapped"

for old in 1 2 3 4 5; do
    new=${NEWID[$old]}
    http POST "$U/api/v2/restore/shards/$new" -H "$(auth)" -H 'Content-Type: application/octet-stream' \
        -H 'Content-Encoding: gzip' -H 'Transfer-Encoding: chunked' --data-binary "@$W/s$old.tar.gz"
    expect_status 204 "restore shard $old -> $new"
done
pass "5 shard uploads (chunked gzip) -> 204"

# Byte-identical files where influxd keeps them.
for rpdir in "$W"/x/fixture/*; do
    rp=$(basename "$rpdir")
    for sdir in "$rpdir"/*; do
        old=$(basename "$sdir")
        for f in "$sdir"/*; do
            dst="$s_DATA/state/engine/data/${BUCKET[$rp]}/$rp/${NEWID[$old]}/$(basename "$f")"
            cmp "$f" "$dst" || fail "$dst differs from the fixture"
        done
    done
done
pass "TSM files byte-identical under engine/data/<bucket>/<rp>/<shard>/"

# The independent reader (Go, InfluxDB 1.6.7's tsm1) must read back exactly
# the expected points. It needs <datadir>/<db>/<rp>/<shard>/ with db "fixture".
mkdir -p "$W/check/data/fixture"
for rp in autogen daily; do
    cp -r "$s_DATA/state/engine/data/${BUCKET[$rp]}/$rp" "$W/check/data/fixture/$rp"
    find "$W/check/data/fixture/$rp" -name .tsv-gen -delete
    "$TSV_TOOLS/tsmcheck" verify "$W"/check/data/fixture/$rp/*/*.tsm >/dev/null ||
        fail "tsmcheck verify failed for $rp"
    "$TSV_TOOLS/tsmcheck" export -datadir "$W/check/data" -database fixture -retention "$rp" \
        >"$W/export-$rp.lp" || fail "tsmcheck export failed"
    cmp "$W/export-$rp.lp" "$FIXTURE/expected/export-$rp.lp" ||
        { diff <(sort "$W/export-$rp.lp") <(sort "$FIXTURE/expected/export-$rp.lp") | head; fail "export of $rp differs"; }
done
pass "independent reader exports exactly expected/export-{autogen,daily}.lp"

# Backing the shard up returns the same files under 2.x names.
new=${NEWID[1]}
curl -sS -f -H "$(auth)" "$U/api/v2/backup/shards/$new" -o "$W/b1.tar" || fail "backup shard"
mkdir -p "$W/b1" && tar xf "$W/b1.tar" -C "$W/b1"
for f in "$W"/x/fixture/autogen/1/*; do
    cmp "$f" "$W/b1/${BUCKET[autogen]}/autogen/$new/$(basename "$f")" || fail "backup of shard 1 differs"
done
pass "backup/shards returns the restored files byte-identical"
echo "1..all passed"
