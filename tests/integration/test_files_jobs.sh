#!/bin/bash
# Files API + Jobs API end to end (docs/api.md "Files API", "Jobs API"):
#  1. the InfluxDB 1.6 portable fixture, as tar.gz, uploaded with curl --form
#     exactly as the Polaris seed shows it -> influxdb1-portable; a restore
#     job makes buckets fixture/autogen and fixture/daily whose points, read
#     by the independent Go reader, are exactly expected/export-*.lp;
#  2. those buckets backed up as `influx backup` does (influxcli.py), the
#     directory packed as tar.gz and uploaded with Python requests as in the
#     seed -> influx-backup; a partial restore job into a new bucket name has
#     TSM files byte-identical to the source; tar.zst and zip of the same
#     directory are influx-backup too;
#  3. list (filters, pagination, sort), logs, metrics, GET/DELETE of files;
#  4. a full restore job of the backup on a fresh server: same buckets, same
#     TSM bytes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/jobs_lib.sh"

tsv_start a --job-workers 2
UA=$a_URL
onboard "$UA"
TA=$(json_get 'j["auth"]["token"]')
UID_A=$(json_get 'j["user"]["id"]')

# ---- 1. the 1.x portable fixture ----------------------------------------------
tar czf "$W/fixture-1.6.tar.gz" -C "$FIXTURE/backup" .
upload "$UA/v1/files" "$TA" "$W/fixture-1.6.tar.gz"
expect_status 200 "seed-style upload"
python3 - "$HTTP_BODY" "$W/fixture-1.6.tar.gz" "$UID_A" <<'PY' || fail "upload reply: $(cat "$HTTP_BODY")"
import hashlib, json, os, re, sys
j = json.load(open(sys.argv[1])); data = open(sys.argv[2], 'rb').read()
assert list(j) == ["id", "name", "sizeBytes", "dataFormat", "compressionFormat", "digest",
                   "sha256", "uploadedByUserId", "uploadedOnDatetime"], list(j)
assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", j["id"]), j["id"]
assert j["name"] == "fixture-1.6.tar.gz" and j["sizeBytes"] == len(data), j
assert j["dataFormat"] == "influxdb1-portable" and j["compressionFormat"] == "gz", j
assert j["digest"] == {"algo": "md5", "hash": hashlib.md5(data).hexdigest().upper()}, j
assert j["sha256"] == hashlib.sha256(data).hexdigest(), j
assert j["uploadedByUserId"] == sys.argv[3], j
assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{1,9}Z", j["uploadedOnDatetime"]), j
PY
pass "curl --form upload of the 1.6 portable backup: seed shape, influxdb1-portable, gz, MD5 and SHA-256 right"

J1=$(create_job "$UA" "$TA" '{"type":"restore","source":{"type":"file","fileName":"fixture-1.6.tar.gz"},"target":{"type":"bucket"}}')
[ "$(wait_job "$UA" "$TA" "$J1")" = completed ] || fail "1.x restore job: $(cat "$HTTP_BODY")"
python3 - "$HTTP_BODY" "$UID_A" <<'PY' || fail "job shape: $(cat "$HTTP_BODY")"
import json, sys
j = json.load(open(sys.argv[1]))
for k in ("id", "type", "spec", "target", "source", "createdBy", "lastModifiedBy", "createdTimestamp",
          "lastUpdatedTimestamp", "startedTimestamp", "completedTimestamp",
          "desiredExecutionStatus", "executionStatus", "health"):
    assert k in j, k
assert j["type"] == "restore" and j["desiredExecutionStatus"] == "running", j
assert j["createdBy"] == {"username": "ada", "userId": sys.argv[2]}, j["createdBy"]
assert j["health"] == {"status": "ok"}, j["health"]
assert j["source"] == {"type": "file", "fileName": "fixture-1.6.tar.gz"}, j["source"]
PY
declare -A B
for rp in autogen daily; do
    B[$rp]=$(bucket_id "$UA" "$TA" "fixture/$rp")
    [ -n "${B[$rp]}" ] || fail "bucket fixture/$rp missing"
done
mkdir -p "$W/check/data/fixture"
for rp in autogen daily; do
    cp -r "$a_DATA/state/engine/data/${B[$rp]}/autogen" "$W/check/data/fixture/$rp"
    find "$W/check/data/fixture/$rp" -name .tsv-gen -delete
    "$TSV_TOOLS/tsmcheck" export -datadir "$W/check/data" -database fixture -retention "$rp" \
        >"$W/export-$rp.lp" || fail "tsmcheck export failed"
    cmp "$W/export-$rp.lp" "$FIXTURE/expected/export-$rp.lp" || fail "export of $rp differs"
done
pass "restore job of the 1.x archive: buckets fixture/autogen + fixture/daily, tsmcheck export == expected/export-*.lp"

# ---- 2. influx backup directory as tar.gz, Python requests ---------------------------
$CLI backup "$UA" "$TA" "$W/bk" >/dev/null || fail "influx backup"
tar czf "$W/bk.tar.gz" -C "$W/bk" .
python3 - "$UA/v1/files" "$TA" "$W/bk.tar.gz" "$W/req.json" <<'PY' || fail "python upload"
import json, os, sys
import requests
url, IMPLY_TOKEN, path, out = sys.argv[1:]
os.chdir(os.path.dirname(path))
files = {'file': open(os.path.basename(path), 'rb')}
headers = {
'Authorization': 'Bearer {token}'.format(token=IMPLY_TOKEN)
}
response = requests.request("POST", url, headers=headers, files=files)
assert response.status_code == 200, (response.status_code, response.text)
json.dump(response.json(), open(out, "w"))
# The seed's "Verify upload": GET the file and compare MD5s.
import hashlib
file_md5 = hashlib.md5(open(os.path.basename(path), 'rb').read()).hexdigest()
r = requests.get(url + "/" + os.path.basename(path), headers=headers)
r.raise_for_status()
assert r.json()["digest"]["hash"].lower() == file_md5
PY
[ "$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["dataFormat"], j["compressionFormat"])' "$W/req.json")" = "influx-backup gz" ] ||
    fail "influx backup tar.gz: $(cat "$W/req.json")"
pass "Python requests upload (seed code) of an influx backup tar.gz -> influx-backup, md5 verified"

if command -v zstd >/dev/null; then
    tar -C "$W/bk" -cf - . | zstd -q -o "$W/bk.tar.zst"
    upload "$UA/api/v2/files" "$TA" "$W/bk.tar.zst"
    expect_status 200 "tar.zst upload"
    [ "$(json_get 'j["dataFormat"]+" "+j["compressionFormat"]')" = "influx-backup zst" ] || fail "zst: $(cat "$HTTP_BODY")"
fi
(cd "$W/bk" && python3 -c 'import os,sys,zipfile; z=zipfile.ZipFile(sys.argv[1],"w",zipfile.ZIP_DEFLATED); [z.write(f) for f in sorted(os.listdir("."))]; z.close()' "$W/bk.zip")
upload "$UA/api/v2/files" "$TA" "$W/bk.zip"
expect_status 200 "zip upload"
[ "$(json_get 'j["dataFormat"]')" = "influx-backup" ] || fail "zip: $(cat "$HTTP_BODY")"
pass "tar.zst and zip of the same directory: influx-backup"

J2=$(create_job "$UA" "$TA" '{"type":"restore","source":{"type":"file","fileName":"bk.tar.gz"},"target":{"type":"bucket","bucketName":"fixture/autogen","newBucketName":"copy-autogen"}}')
[ "$(wait_job "$UA" "$TA" "$J2")" = completed ] || fail "partial restore job: $(cat "$HTTP_BODY")"
NEWB=$(bucket_id "$UA" "$TA" copy-autogen)
[ -n "$NEWB" ] || fail "copy-autogen missing"
[ "$(tsm_digests "$a_DATA" "${B[autogen]}")" = "$(tsm_digests "$a_DATA" "$NEWB")" ] || fail "TSM bytes differ"
[ "$(tsm_digests "$a_DATA" "$NEWB" | wc -l)" = 5 ] || fail "expected 5 TSM files"
J3=$(create_job "$UA" "$TA" '{"type":"restore","source":{"type":"file","fileName":"bk.zip"},"target":{"type":"table","tableName":"fixture/daily","newBucketName":"copy-daily"}}')
[ "$(wait_job "$UA" "$TA" "$J3")" = completed ] || fail "zip restore job: $(cat "$HTTP_BODY")"
[ "$(tsm_digests "$a_DATA" "${B[daily]}")" = "$(tsm_digests "$a_DATA" "$(bucket_id "$UA" "$TA" copy-daily)")" ] || fail "daily TSM bytes differ"
pass "partial restore jobs (tar.gz, zip; bucket and table targets) into new names: TSM files byte-identical"

# A second restore of the same bucket name conflicts inside the job: failed,
# nothing new kept.
J4=$(create_job "$UA" "$TA" '{"type":"restore","source":{"type":"file","fileName":"bk.tar.gz"},"target":{"type":"bucket","bucketName":"fixture/autogen","newBucketName":"copy-autogen"}}')
[ "$(wait_job "$UA" "$TA" "$J4")" = failed ] || fail "conflicting restore must fail"
[ "$(json_get 'j["health"]["status"]')" = error ] || fail "health of a failed job"
[ "$(tsm_digests "$a_DATA" "$NEWB" | wc -l)" = 5 ] || fail "existing bucket touched"
pass "a restore into an existing bucket name fails (health error), the bucket is untouched"

# ---- 3. list, logs, metrics, files -------------------------------------------------------
http GET "$UA/api/v2/jobs?executionStatus=completed&sortColumn=created_date_time&sortOrder=ASC" -H "Authorization: Token $TA"
expect_status 200 "list"
[ "$(json_get '",".join(v["id"] for v in j["values"])')" = "$J1,$J2,$J3" ] || fail "completed ASC: $(cat "$HTTP_BODY")"
[ "$(json_get 'j["moreResultsAvailable"]')" = False ] || fail "moreResultsAvailable"
http GET "$UA/v1/jobs?paginationLimit=2&paginationOffset=1&sortColumn=created_date_time" -H "Authorization: Token $TA"
[ "$(json_get '",".join(v["id"] for v in j["values"])+" "+str(j["moreResultsAvailable"])')" = "$J3,$J2 True" ] || fail "page: $(cat "$HTTP_BODY")"
http GET "$UA/api/v2/jobs?executionStatus=failed&executionStatus=canceled&healthStatus=error&type=restore" -H "Authorization: Token $TA"
[ "$(json_get '",".join(v["id"] for v in j["values"])')" = "$J4" ] || fail "repeated filters: $(cat "$HTTP_BODY")"
http GET "$UA/api/v2/jobs?searchString=copy-daily" -H "Authorization: Token $TA"
[ "$(json_get '",".join(v["id"] for v in j["values"])')" = "$J3" ] || fail "searchString"
http GET "$UA/api/v2/jobs?sortColumn=target_table_name&sortOrder=ASC&executionStatus=completed" -H "Authorization: Token $TA"
[ "$(json_get '",".join(v["id"] for v in j["values"])')" = "$J1,$J2,$J3" ] || fail "sort by target"
pass "list: status/health/type filters (repeated), pagination with moreResultsAvailable, search, sort"

http GET "$UA/api/v2/jobs/$J2/logs" -H "Authorization: Token $TA"
expect_status 200 logs
python3 - "$HTTP_BODY" <<'PY' || fail "logs: $(cat "$HTTP_BODY")"
import json, sys
j = json.load(open(sys.argv[1]))
assert all(set(e) == {"timestamp", "level", "message"} for e in j["logs"]), j
msgs = [e["message"] for e in j["logs"]]
assert msgs[-1] == "completed" and any("copy-autogen" in m for m in msgs), msgs
PY
http GET "$UA/v1/jobs/$J2/metrics" -H "Authorization: Token $TA"
python3 - "$HTTP_BODY" <<'PY' || fail "metrics: $(cat "$HTTP_BODY")"
import json, sys
t = json.load(open(sys.argv[1]))["totals"]
assert t["shardsTotal"] == 3 and t["shardsDone"] == 3, t
assert t["bytesTotal"] > 0 and t["bytesDone"] == t["bytesTotal"] and t["percentDone"] == 100, t
assert t["etaSeconds"] == 0 and t["bytesPerSecond"] > 0, t
PY
pass "logs and metrics"

http GET "$UA/api/v2/files" -H "Authorization: Token $TA"
python3 - "$HTTP_BODY" <<'PY' || fail "files list: $(cat "$HTTP_BODY")"
import json, sys
j = json.load(open(sys.argv[1]))
names = [f["name"] for f in j["files"]]
assert "bk.tar.gz" in names and "fixture-1.6.tar.gz" in names, names
s = j["space"]
assert s["usedBytes"] == sum(f["sizeBytes"] for f in j["files"]), s
assert s["allocatedBytes"] >= s["usedBytes"] and s["remainingBytes"] > 0, s
PY
http DELETE "$UA/v1/files/bk.zip" -H "Authorization: Token $TA"
expect_status 204 "delete"
http DELETE "$UA/v1/files/bk.zip" -H "Authorization: Token $TA"
expect_error 404 "not found"
http GET "$UA/api/v2/files/bk.zip" -H "Authorization: Token $TA"
expect_error 404 "not found"
[ ! -e "$a_DATA/files/data/bk.zip" ] || fail "deleted file still on disk"
pass "files: list with space, GET one, DELETE 204 then 404"

# ---- 4. full restore on a fresh server ------------------------------------------------------
tsv_start b
UB=$b_URL
upload "$UB/api/v2/files" "$TSV_TOKEN" "$W/bk.tar.gz"
expect_status 200 "upload to B"
JB=$(create_job "$UB" "$TSV_TOKEN" '{"type":"restore","source":{"type":"file","fileName":"bk.tar.gz"},"target":{"type":"full"}}')
[ "$(wait_job "$UB" "$TSV_TOKEN" "$JB")" = completed ] || fail "full restore job: $(cat "$HTTP_BODY")"
# (the backup was taken before the copy-* buckets existed)
for name in fixture/autogen fixture/daily metrics; do
    ida=$(bucket_id "$UA" "$TA" "$name")
    [ -n "$ida" ] && [ "$(bucket_id "$UB" "$TA" "$name")" = "$ida" ] || fail "bucket $name not restored with its ID"
done
[ -z "$(bucket_id "$UB" "$TA" copy-autogen)" ] || fail "copy-autogen is not in the backup"

[ "$(tsm_digests "$a_DATA" "${B[autogen]}")" = "$(tsm_digests "$b_DATA" "${B[autogen]}")" ] || fail "full: TSM bytes"
http GET "$UB/api/v2/jobs/$JB" -H "Authorization: Token $TA"
expect_status 200 "job record survives the KV swap, readable with the restored token"
[ "$(json_get 'j["executionStatus"]')" = completed ] || fail "job after full restore"
pass "full restore job on a fresh server: buckets with their IDs, TSM bytes identical, job kept across the KV swap"
