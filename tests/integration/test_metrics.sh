#!/bin/bash
# GET /metrics (docs/api.md "GET /metrics", docs/operations.md "Metrics"):
#  - the exposition passes Debian's `promtool check metrics` (format and lint),
#    on a fresh server and after real work;
#  - values move with real requests made by curl: request counts by route and
#    status, latency histogram counts, bytes in/out, restores by kind and
#    result (restore job, a refused shard upload), backups, validated bytes,
#    jobs by type and status, vault bytes (in use, soft-deleted after a bucket
#    delete), GC runs (the purge at start-up), active uploads, process RSS and
#    open files;
#  - --metrics-auth true: 401 without a token, 200 with one; default open.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/jobs_lib.sh"
command -v promtool >/dev/null || fail "promtool (Debian package prometheus) is not installed"

tsv_start s
U=$s_URL
T=$TSV_TOKEN

# scrape FILE: GET /metrics into FILE, checks status, type, and promtool.
scrape() {
    http GET "$U/metrics" "${@:2}"
    expect_status 200 "GET /metrics"
    expect_header "Content-Type" "text/plain; version=0.0.4; charset=utf-8"
    cp "$HTTP_BODY" "$1"
    promtool check metrics <"$1" >"$1.promtool" 2>&1 ||
        fail "promtool check metrics: $(cat "$1.promtool")"
}
# mval FILE SERIES: the value of one series ("" if absent).
mval() {
    awk -v s="$2" 'substr($0, 1, length(s) + 1) == s " " { print $NF }' "$1"
}
expect_val() { # FILE SERIES OP VALUE  (python comparison)
    v=$(mval "$1" "$2")
    [ -n "$v" ] || fail "series $2 missing from $1: $(grep "${2%%\{*}" "$1" | head -20)"
    python3 -c "import sys; sys.exit(0 if float('$v') $3 float('$4') else 1)" ||
        fail "$2 = $v, expected $3 $4"
}

scrape "$W/m0"
for f in tsvault_http_requests_total tsvault_http_request_duration_seconds \
    tsvault_http_request_bytes_total tsvault_http_response_bytes_total tsvault_restores_total \
    tsvault_backups_total tsvault_validated_bytes_total tsvault_uploads_active tsvault_jobs \
    tsvault_vault_objects tsvault_vault_object_bytes tsvault_vault_version_bytes \
    tsvault_vault_gc_runs_total process_resident_memory_bytes process_open_fds; do
    grep -q "^# TYPE $f " "$W/m0" || fail "family $f missing from a fresh server's metrics"
done
expect_val "$W/m0" 'tsvault_vault_gc_runs_total{result="success"}' '>=' 1
expect_val "$W/m0" 'process_resident_memory_bytes' '>' 1000000
expect_val "$W/m0" 'process_open_fds' '>' 3
expect_val "$W/m0" 'tsvault_uploads_active' '==' 0
pass "a fresh server's /metrics passes promtool; GC ran at start-up; RSS and open files reported"

for i in 1 2 3; do curl -sS -o /dev/null "$U/health"; done
curl -sS -o /dev/null "$U/no/such/path"
curl -sS -o /dev/null -H "Authorization: Token wrong" "$U/api/v2/buckets"
scrape "$W/m1"
h0=$(mval "$W/m0" 'tsvault_http_requests_total{method="GET",route="/health",status="200"}')
expect_val "$W/m1" 'tsvault_http_requests_total{method="GET",route="/health",status="200"}' '==' $((${h0:-0} + 3))
expect_val "$W/m1" 'tsvault_http_request_duration_seconds_count{method="GET",route="/health"}' '==' $((${h0:-0} + 3))
expect_val "$W/m1" 'tsvault_http_request_duration_seconds_bucket{method="GET",route="/health",le="+Inf"}' '==' $((${h0:-0} + 3))
expect_val "$W/m1" 'tsvault_http_requests_total{method="GET",route="unmatched",status="404"}' '==' 1
expect_val "$W/m1" 'tsvault_http_requests_total{method="GET",route="/api/v2/buckets",status="401"}' '==' 1
expect_val "$W/m1" 'tsvault_http_response_bytes_total{method="GET",route="/health"}' '>' 100
# /metrics counts itself once it answered: the first scrape shows in the second.
expect_val "$W/m1" 'tsvault_http_requests_total{method="GET",route="/metrics",status="200"}' '==' 1
pass "requests by route and status, latency histogram and bytes out move with curl requests"

# --- real work: upload, restore job, shard restore refused, backup --------------
onboard "$U" b0
tar czf "$W/fixture.tar.gz" -C "$FIXTURE/backup" .
size=$(stat -c %s "$W/fixture.tar.gz")
upload "$U/api/v2/files" "$T" "$W/fixture.tar.gz"
expect_status 200 "upload"
J=$(create_job "$U" "$T" '{"type":"restore","source":{"type":"file","fileName":"fixture.tar.gz"},"target":{"type":"bucket"}}')
[ "$(wait_job "$U" "$T" "$J")" = completed ] || fail "restore job: $(cat "$HTTP_BODY")"
http POST "$U/api/v2/restore/shards/999999" -H "$(auth)" -H 'Content-Type: application/octet-stream' \
    --data-binary 'not a tar'
[ "$HTTP_STATUS" -ge 400 ] || fail "a bogus shard restore was accepted"
http GET "$U/api/v2/backup/kv" -H "$(auth)"
expect_status 200 "backup kv"
kvsize=$(stat -c %s "$HTTP_BODY")
scrape "$W/m2"
expect_val "$W/m2" 'tsvault_http_request_bytes_total{method="POST",route="/api/v2/files"}' '>=' "$size"
expect_val "$W/m2" 'tsvault_http_requests_total{method="POST",route="/api/v2/files",status="200"}' '==' 1
expect_val "$W/m2" 'tsvault_files_staged' '==' 1
expect_val "$W/m2" 'tsvault_files_staged_bytes' '==' "$size"
expect_val "$W/m2" 'tsvault_restores_total{kind="job",result="success"}' '==' 1
expect_val "$W/m2" 'tsvault_restores_total{kind="shard",result="failure"}' '==' 1
expect_val "$W/m2" 'tsvault_backups_total{kind="kv",result="success"}' '==' 1
expect_val "$W/m2" 'tsvault_http_response_bytes_total{method="GET",route="/api/v2/backup/kv"}' '==' "$kvsize"
expect_val "$W/m2" 'tsvault_jobs{type="restore",status="completed"}' '==' 1
expect_val "$W/m2" 'tsvault_jobs{type="restore",status="failed"}' '==' 0
expect_val "$W/m2" 'tsvault_jobs_finished_total{type="restore",status="completed"}' '==' 1
expect_val "$W/m2" 'tsvault_validated_bytes_total{result="valid"}' '>' 10000
expect_val "$W/m2" 'tsvault_validated_tsm_files_total{result="valid"}' '>=' 5
expect_val "$W/m2" 'tsvault_vault_versions{state="in_use"}' '>=' 5
expect_val "$W/m2" 'tsvault_vault_version_bytes{state="in_use"}' '>' 10000
expect_val "$W/m2" 'tsvault_vault_object_bytes' '>' 10000
expect_val "$W/m2" 'tsvault_vault_objects' '>=' 5
expect_val "$W/m2" 'tsvault_vault_version_bytes{state="soft_deleted"}' '==' 0
pass "upload bytes in, restore job, refused shard restore, kv backup, validated bytes, jobs and vault bytes counted"

# A bucket delete soft-deletes its versions: the bytes move from in_use to soft_deleted.
B=$(bucket_id "$U" "$T" "fixture/autogen")
[ -n "$B" ] || fail "bucket fixture/autogen missing"
http DELETE "$U/api/v2/buckets/$B" -H "$(auth)"
expect_status 204 "delete bucket"
scrape "$W/m3"
expect_val "$W/m3" 'tsvault_vault_version_bytes{state="soft_deleted"}' '>' 0
expect_val "$W/m3" 'tsvault_vault_versions{state="soft_deleted"}' '>=' 1
in2=$(mval "$W/m2" 'tsvault_vault_version_bytes{state="in_use"}')
expect_val "$W/m3" 'tsvault_vault_version_bytes{state="in_use"}' '<' "$in2"
pass "a bucket delete moves its bytes from in_use to soft_deleted"

# Active uploads: a shard upload held open by a slow body counts while it runs.
rm -f "$W/sent"
(python3 - "$U" "$T" "$W/sent" <<'PY'
import socket, sys, time, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
s = socket.create_connection((u.hostname, u.port))
s.sendall(("POST /api/v2/restore/sql HTTP/1.1\r\nHost: x\r\nAuthorization: Token %s\r\n"
           "Content-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n" % sys.argv[2]).encode())
s.sendall(b"x" * 1000)
time.sleep(0.5)
open(sys.argv[3], "w").close()
time.sleep(5)
s.close()
PY
) &
slow=$!
i=0
while [ ! -e "$W/sent" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
scrape "$W/m4"
wait $slow || true
expect_val "$W/m4" 'tsvault_uploads_active' '==' 1
expect_val "$W/m4" 'tsvault_http_requests_in_flight' '>=' 2
pass "an upload in progress shows in tsvault_uploads_active"
tsv_stop s

# --- --metrics-auth --------------------------------------------------------------
tsv_start p --metrics-auth true
U=$p_URL
http GET "$U/metrics"
expect_error 401 unauthorized
scrape "$W/p1" -H "$(auth)"
TSVAULT_METRICS_AUTH=false tsv_start q
U=$q_URL
scrape "$W/q1"
pass "--metrics-auth true needs a token; TSVAULT_METRICS_AUTH=false leaves /metrics open"
