# Helpers around the InfluxDB 1.6 portable-backup fixture (sourced).
#
# fixture_prepare DIR: extracts the fixture's shard archives and re-packs
# each shard as an influx-2.x-style shard tar.gz named DIR/s<ID>.tar.gz with
# entries "<16-hex bucket>/<rp>/<id>/<file>"; writes the two bucket manifests
# (one per RP: 2.x buckets have exactly one) as DIR/manifest-<rp>.json.

FIXTURE="$TSV_TESTDATA/influxdb-1.6-portable"

fixture_prepare() {
    out=$1
    mkdir -p "$out/x"
    for f in "$FIXTURE"/backup/*.s*.tar.gz; do
        tar xzf "$f" -C "$out/x"
    done
    for rpdir in "$out"/x/fixture/*; do
        rp=$(basename "$rpdir")
        for sdir in "$rpdir"/*; do
            id=$(basename "$sdir")
            mkdir -p "$out/repack/$id/0a1b2c3d4e5f6071/$rp/$id"
            cp -p "$sdir"/* "$out/repack/$id/0a1b2c3d4e5f6071/$rp/$id/"
            (cd "$out/repack/$id" && tar --format=ustar --owner=0 --group=0 -cf - 0a1b2c3d4e5f6071) |
                gzip -c >"$out/s$id.tar.gz"
        done
    done
    python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
ns = 1_000_000_000
day = 86400 * ns
# Shard groups of the fixture (expected/meta.txt): autogen 7d groups 1-3 from
# 2024-01-01, daily 1d groups 4-5 from 2024-01-01.
autogen = [(1, "2024-01-01T00:00:00Z", "2024-01-08T00:00:00Z"),
           (2, "2024-01-08T00:00:00Z", "2024-01-15T00:00:00Z"),
           (3, "2024-01-15T00:00:00Z", "2024-01-22T00:00:00Z")]
daily = [(4, "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"),
         (5, "2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z")]
for rp, groups, sgd in (("autogen", autogen, 7 * day), ("daily", daily, day)):
    m = {
        "organizationID": "ORGID", "organizationName": "fixture-org",
        "bucketID": "0a1b2c3d4e5f6071", "bucketName": "fixture_" + rp,
        "defaultRetentionPolicy": rp,
        "retentionPolicies": [{
            "name": rp, "replicaN": 1, "duration": 0, "shardGroupDuration": sgd,
            "shardGroups": [{"id": g, "startTime": s, "endTime": e,
                             "shards": [{"id": g, "shardOwners": []}]} for g, s, e in groups],
            "subscriptions": []}]}
    json.dump(m, open(f"{out}/manifest-{rp}.json", "w"))
PY
}

# fixture_work: W=$TSV_TMP/work, holding fixture_prepare's output.
fixture_work() {
    W="$TSV_TMP/work"
    fixture_prepare "$W"
}

# fixture_server [tsv_start flags...]: fixture_work, and the server "s"
# started with the flags; U is its URL and D its data directory.
fixture_server() {
    fixture_work
    tsv_start s "$@"
    U=$s_URL
    D=$s_DATA
}

# fixture_export SHARDS RP OUT: the tsmcheck export (InfluxDB 1.6.7's tsm1
# reader) of the live shard directories SHARDS (a data directory's
# state/engine/data/<bucket>/<rp>) as database "fixture", retention RP, into
# OUT; $W/check is its scratch.
fixture_export() {
    rm -rf "$W/check" && mkdir -p "$W/check/data/fixture"
    cp -r "$1" "$W/check/data/fixture/$2"
    find "$W/check/data/fixture/$2" -name .tsv-gen -delete
    "$TSV_TOOLS/tsmcheck" export -datadir "$W/check/data" -database fixture -retention "$2" >"$3" ||
        fail "tsmcheck export failed"
}

# fixture_lp_same GOT WANT WHAT: the file GOT is byte-identical to WANT, or
# the test fails with WHAT after the first lines of a sorted diff.
fixture_lp_same() {
    cmp -s "$1" "$2" || { diff <(sort "$1") <(sort "$2") | head -5; fail "$3"; }
}

# fixture_lp_without LP START_NS END_NS: prints the line protocol file LP
# without the points of [start, end) (header and DDL lines stay).
fixture_lp_without() {
    python3 - "$1" "$2" "$3" <<'PY'
import sys
lo, hi = int(sys.argv[2]), int(sys.argv[3])
for line in open(sys.argv[1]):
    try:
        ts = int(line.rstrip("\n").rsplit(" ", 1)[1])
    except (ValueError, IndexError):
        ts = None
    if ts is None or not (lo <= ts < hi):
        sys.stdout.write(line)
PY
}

# fixture_manifest DIR RP ORGID: prints the manifest with the real org ID.
fixture_manifest() {
    sed "s/ORGID/$3/" "$1/manifest-$2.json"
}

# fixture_bucket URL ORG RP FILE: creates org ORG and restores RP's bucket
# metadata (manifest written to FILE) into it, no shards, as the operator;
# the bucketMetadata reply is in HTTP_BODY.
fixture_bucket() {
    http POST "$1/api/v2/orgs" -H "$(auth)" -H 'Content-Type: application/json' -d "{\"name\":\"$2\"}"
    expect_status 201 "create org $2"
    fixture_manifest "$W" "$3" "$(json_get 'j["id"]')" >"$4"
    http POST "$1/api/v2/restore/bucketMetadata" -H "$(auth)" --data-binary "@$4"
    expect_status 201 "bucketMetadata $3 into $2"
}

# fixture_restore URL WORKDIR: creates org "fixture-org" and restores both
# RPs of the fixture as buckets fixture_autogen and fixture_daily (bucket
# metadata, then the five shards). Sets FIX_ORG, FIX_BUCKET[autogen|daily]
# and FIX_SHARD[old id] = new id. WORKDIR must hold fixture_prepare's output.
declare -A FIX_BUCKET FIX_SHARD
fixture_restore() {
    local fx_url=$1 fx_w=$2 rp old
    http POST "$fx_url/api/v2/orgs" -H "$(auth)" -H 'Content-Type: application/json' \
        -d '{"name":"fixture-org"}'
    expect_status 201 "create org"
    FIX_ORG=$(json_get 'j["id"]')
    for rp in autogen daily; do
        fixture_manifest "$fx_w" "$rp" "$FIX_ORG" >"$fx_w/m-$rp.json"
        http POST "$fx_url/api/v2/restore/bucketMetadata" -H "$(auth)" \
            -H 'Content-Type: application/json' --data-binary "@$fx_w/m-$rp.json"
        expect_status 201 "bucketMetadata $rp"
        FIX_BUCKET[$rp]=$(json_get 'j["id"]')
        while read -r old new; do FIX_SHARD[$old]=$new; done < <(json_get \
            "'\\n'.join('%d %d' % (m['oldId'], m['newId']) for m in j['shardMappings'])")
    done
    for old in 1 2 3 4 5; do
        http POST "$fx_url/api/v2/restore/shards/${FIX_SHARD[$old]}" -H "$(auth)" \
            -H 'Content-Type: application/octet-stream' -H 'Content-Encoding: gzip' \
            --data-binary "@$fx_w/s$old.tar.gz"
        expect_status 204 "restore shard $old"
    done
}
