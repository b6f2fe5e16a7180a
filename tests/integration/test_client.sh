#!/bin/bash
# The client commands of the tsvault binary against a real server
# (docs/operations.md "Client"):
#  - upload (INFLUX_HOST/INFLUX_TOKEN from the environment, --name, --json,
#    Content-MD5), files list/get/delete, jobs list/get/watch/cancel, pitr
#    range/restore, export, verify: outputs checked against curl's view;
#  - exit codes: 0, 1 (job failed/canceled), 2 (usage), 3 (unreachable),
#    4 (bad token), 5 (not found), 6 (conflict);
#  - --help for every command;
#  - the progress display: plain lines when stderr is not a terminal, NDJSON
#    with --json, and the bar (bytes, rate, ETA) in a real terminal: `tsvault
#    jobs watch` runs under tmux and the screen is read with capture-pane
#    while the job runs (slowed by TSVAULT_FAULT=job-member:slow1) and after.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/jobs_lib.sh"
command -v tmux >/dev/null || fail "tmux is not installed"
TMUX_SOCK="tsv-client-$$"
cleanup_all() {
    tmux -L "$TMUX_SOCK" kill-server 2>/dev/null || true
    tsv_cleanup
}
trap cleanup_all EXIT INT TERM

# Each archive member a restore job takes sleeps 2 s: jobs run long enough to watch
# (and new_job reads the ID without starting a Python, which is slow on a busy machine).
TSVAULT_FAULT=job-member:slow2 tsv_start s --job-workers 2
U=$s_URL
export INFLUX_HOST=$U INFLUX_TOKEN=$TSV_TOKEN
B=$TSVAULT_BIN

# new_job JSON: POST /api/v2/jobs, prints the new job's ID.
new_job() {
    curl -sS -X POST "$U/api/v2/jobs" -H "$(auth)" -H 'Content-Type: application/json' -d "$1" |
        sed -n 's/^{"id":"\([0-9a-f-]*\)".*/\1/p'
}

# run EXPECTED-RC CMD...: runs, keeps stdout/stderr in $W/out $W/err, checks the exit code.
run() {
    want=$1
    shift
    rc=0
    "$@" >"$W/out" 2>"$W/err" || rc=$?
    [ "$rc" = "$want" ] || fail "$* exited $rc, expected $want; stdout: $(head -c 600 "$W/out"); stderr: $(head -c 600 "$W/err")"
}

onboard "$U" b0

# --- --help and usage errors ---------------------------------------------------
for c in "upload" "files list" "files get" "files delete" "jobs list" "jobs get" "jobs watch" \
    "jobs cancel" "pitr range" "pitr restore" "export" "stats" "verify"; do
    # shellcheck disable=SC2086
    run 0 "$B" $c --help
    grep -q "^Usage: tsvault ${c%% *}" "$W/out" || fail "$c --help: $(cat "$W/out")"
    case $c in export|stats|verify) ;; *) grep -q "Exit codes:" "$W/out" || fail "$c --help lacks exit codes" ;; esac
done
for g in files jobs pitr; do
    run 0 "$B" $g --help
    grep -q "tsvault $g" "$W/out" || fail "$g --help"
done
run 2 "$B" jobs frobnicate
run 2 "$B" jobs watch
run 2 "$B" upload
run 2 "$B" files list --interval 3
run 2 env -u INFLUX_TOKEN "$B" files list
run 2 "$B" upload "$W/does-not-exist.tar.gz"
pass "--help for every command (exit 0); usage errors exit 2"

# --- upload -----------------------------------------------------------------------
tar czf "$W/fixture.tar.gz" -C "$FIXTURE/backup" .
size=$(stat -c %s "$W/fixture.tar.gz")
md5=$(md5sum "$W/fixture.tar.gz" | awk '{print toupper($1)}')
run 0 "$B" upload "$W/fixture.tar.gz"
grep -q "^staged fixture.tar.gz: $size bytes, influxdb1-portable (gz), md5 $md5, id " "$W/out" ||
    fail "upload output: $(cat "$W/out")"
grep -q "^upload: .*bytes" "$W/err" || fail "no plain progress line on a non-terminal stderr: $(cat "$W/err")"
grep -q $'\r' "$W/err" && fail "carriage returns in plain progress output"
run 0 "$B" upload --json --name copy.tar.gz "$W/fixture.tar.gz"
python3 - "$W/out" "$md5" "$size" <<'PY' || fail "upload --json: $(cat "$W/out")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["name"] == "copy.tar.gz" and j["digest"]["hash"] == sys.argv[2], j
assert j["sizeBytes"] == int(sys.argv[3]) and j["dataFormat"] == "influxdb1-portable", j
PY
run 6 "$B" upload "$W/fixture.tar.gz"
grep -q "409" "$W/err" || fail "conflict message: $(cat "$W/err")"
run 4 "$B" upload --token wrong-token "$W/fixture.tar.gz"
run 3 "$B" files list --host http://127.0.0.1:1
pass "upload: INFLUX_HOST/TOKEN, text and --json, MD5 sent and checked; 409 -> 6, bad token -> 4, unreachable -> 3"

# --- files ------------------------------------------------------------------------
run 0 "$B" files list
grep -q "^fixture.tar.gz  *$size  influxdb1-portable" "$W/out" || fail "files list: $(cat "$W/out")"
grep -q "^copy.tar.gz " "$W/out" || fail "files list lacks copy: $(cat "$W/out")"
grep -q "^space: " "$W/out" || fail "files list lacks space"
run 0 "$B" files list --json
http GET "$U/api/v2/files" -H "$(auth)"
python3 - "$W/out" "$HTTP_BODY" <<'PY' || fail "files list --json differs from the API"
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert [f["name"] for f in a["files"]] == [f["name"] for f in b["files"]] == ["copy.tar.gz", "fixture.tar.gz"], (a, b)
PY
run 0 "$B" files get copy.tar.gz
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["name"]=="copy.tar.gz"' "$W/out" || fail "files get"
run 0 "$B" files delete copy.tar.gz
grep -qx "deleted copy.tar.gz" "$W/out" || fail "files delete: $(cat "$W/out")"
run 5 "$B" files delete copy.tar.gz
run 5 "$B" files get copy.tar.gz
pass "files list (text, --json equal to the API), get, delete; deleting again -> 5"

# --- jobs: watch without a terminal, --json, cancel --------------------------------
J1=$(new_job '{"type":"restore","source":{"type":"file","fileName":"fixture.tar.gz"},"target":{"type":"bucket","bucketName":"fixture/autogen"}}')
[ -n "$J1" ] || fail "creating job J1 failed"
run 0 "$B" jobs watch "$J1" --interval 0.2
grep -qx "job $J1 completed" "$W/out" || fail "watch result: $(cat "$W/out")"
grep -q "^job ${J1:0:8}: .*% .* bytes, .* bytes/s, eta .*running" "$W/err" ||
    fail "watch: no plain progress line while running: $(cat "$W/err")"
grep -q "^job ${J1:0:8}: 100.0% .*completed" "$W/err" || fail "watch: no final line: $(cat "$W/err")"
run 0 "$B" jobs get "$J1" --logs
grep -q "^status: *completed" "$W/out" && grep -q "^progress: *100.0%" "$W/out" &&
    grep -q "^log: .*completed" "$W/out" || fail "jobs get: $(cat "$W/out")"
run 0 "$B" jobs get "$J1" --json
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["id"]==sys.argv[2] and j["executionStatus"]=="completed", j' "$W/out" "$J1" ||
    fail "jobs get --json: $(cat "$W/out")"
run 5 "$B" jobs get 00000000-0000-4000-8000-000000000000

J2=$(new_job '{"type":"restore","source":{"type":"file","fileName":"fixture.tar.gz"},"target":{"type":"bucket","bucketName":"fixture/daily"}}')
[ -n "$J2" ] || fail "creating job J2 failed"
run 0 "$B" jobs watch "$J2" --json --interval 0.2
python3 - "$W/out" "$J2" <<'PY' || fail "watch --json: $(cat "$W/out")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
prog, last = lines[:-1], lines[-1]
assert last["id"] == sys.argv[2] and last["executionStatus"] == "completed", last
assert prog and all(p["type"] == "progress" for p in prog), prog
assert any(p["status"] == "running" and 0 <= p["bytesDone"] < p["bytesTotal"] for p in prog), prog
assert prog[-1]["status"] == "completed" and prog[-1]["bytesDone"] == prog[-1]["bytesTotal"] > 0, prog[-1]
assert prog[-1]["etaSeconds"] == 0, prog[-1]
PY

J3=$(new_job '{"type":"restore","source":{"type":"file","fileName":"fixture.tar.gz"},"target":{"type":"bucket","bucketName":"fixture/autogen","newBucketName":"to-cancel"}}')
[ -n "$J3" ] || fail "creating job J3 failed"
run 0 "$B" jobs cancel "$J3"
grep -q "^job $J3: cancel requested" "$W/out" || fail "cancel: $(cat "$W/out")"
run 1 "$B" jobs watch "$J3" --quiet
grep -qx "job $J3 canceled" "$W/out" || fail "watch of a canceled job: $(cat "$W/out")"
run 0 "$B" jobs list --status completed
grep -Eq "^$J1 +restore +completed +ok " "$W/out" && grep -q "^$J2 " "$W/out" || fail "jobs list: $(cat "$W/out")"
grep -q "^$J3 " "$W/out" && fail "jobs list --status completed shows the canceled job"
run 0 "$B" jobs list --json --status canceled
python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))["values"]; assert [j["id"] for j in v]==[sys.argv[2]], v' "$W/out" "$J3" ||
    fail "jobs list --json: $(cat "$W/out")"
run 6 "$B" jobs list --limit 0
pass "jobs watch (plain lines, --json NDJSON, exit 1 when canceled), get, list, cancel"

# --- the progress bar in a terminal ---------------------------------------------------
J4=$(new_job '{"type":"restore","source":{"type":"file","fileName":"fixture.tar.gz"},"target":{"type":"bucket","bucketName":"fixture/autogen","newBucketName":"watched"}}')
[ -n "$J4" ] || fail "creating job J4 failed"
tmux -L "$TMUX_SOCK" new-session -d -x 150 -y 10 \
    "INFLUX_HOST=$U INFLUX_TOKEN=$TSV_TOKEN '$B' jobs watch $J4 --interval 0.2; echo EXIT=\$?; sleep 60"
bar_re="^job ${J4:0:8} \[[#.]{24}\] +[0-9]+\.[0-9]%  [0-9.]+ (B|KiB|MiB) / [0-9.]+ (B|KiB|MiB)  [0-9.]+ (B|KiB|MiB)/s  ETA [0-9-]+:[0-9-]+"
seen_running=""
for i in $(seq 1 200); do
    tmux -L "$TMUX_SOCK" capture-pane -p >"$W/screen"
    if grep -Eq "$bar_re  running$" "$W/screen"; then
        seen_running=$(grep -E "$bar_re  running$" "$W/screen")
    fi
    grep -q "^EXIT=" "$W/screen" && break
    sleep 0.1
done
grep -q "^EXIT=0" "$W/screen" || fail "tmux: jobs watch did not exit 0: $(cat "$W/screen")"
[ -n "$seen_running" ] || fail "tmux: no progress bar while the job ran; last screen: $(cat "$W/screen")"
grep -Eq "$bar_re  completed$" "$W/screen" || fail "tmux: no final bar: $(cat "$W/screen")"
grep -Eq "\[#{24}\] 100\.0%" "$W/screen" || fail "tmux: final bar not full: $(cat "$W/screen")"
grep -qx "job $J4 completed" "$W/screen" || fail "tmux: no result line: $(cat "$W/screen")"
[ "$(grep -c "^job ${J4:0:8} \[" "$W/screen")" = 1 ] || fail "tmux: the bar was not redrawn in place: $(cat "$W/screen")"
pass "jobs watch in a terminal (tmux): one bar redrawn in place, bytes, rate, ETA ('$seen_running')"

# --- export and verify under the same conventions --------------------------------------
run 0 "$B" export --org fixture-org --bucket fixture/autogen --db fixture --quiet
http GET "$U/api/v2/export?org=fixture-org&bucket=fixture%2Fautogen&db=fixture" -H "$(auth)"
expect_status 200 "export over HTTP"
cmp "$W/out" "$HTTP_BODY" || fail "tsvault export (INFLUX_HOST) differs from GET /api/v2/export"
[ -s "$W/err" ] && fail "export --quiet wrote to stderr: $(cat "$W/err")"
run 0 "$B" export --org fixture-org --bucket fixture/autogen --db fixture --out "$W/x.lp"
cmp "$W/x.lp" "$HTTP_BODY" || fail "export --out differs"
grep -q "^export: [0-9]* bytes, .* bytes/s, done" "$W/err" || fail "export progress: $(cat "$W/err")"
run 5 "$B" export --org fixture-org --bucket no-such-bucket
run 4 "$B" export --token nope --org fixture-org --bucket fixture/autogen
run 0 "$B" verify
grep -q "^summary: .*\"ok\":true" "$W/out" || fail "verify: $(cat "$W/out")"
run 0 "$B" verify --progress
grep -q "^verify: .*bytes" "$W/err" || fail "verify --progress: $(cat "$W/err")"
run 3 "$B" verify --host http://127.0.0.1:1
pass "export and verify take INFLUX_HOST/INFLUX_TOKEN and the same exit codes"

# --- pitr ------------------------------------------------------------------------------
http GET "$U/api/v2/pitr" -H "$(auth)"
if [ "$HTTP_STATUS" = 404 ]; then
    run 5 "$B" pitr range
    run 5 "$B" pitr restore --time 2026-01-01T00:00:00Z
    run 2 "$B" pitr restore
    pass "pitr: this build has no /api/v2/pitr; the client reports 404 as exit 5"
else
    expect_status 200 "GET /api/v2/pitr"
    start=$(json_get 'j["start_time"]')
    end=$(json_get 'j["end_time"]')
    run 0 "$B" pitr range
    grep -qx "start_time: $start" "$W/out" && grep -qx "end_time:   $end" "$W/out" ||
        fail "pitr range: $(cat "$W/out")"
    run 0 "$B" pitr range --json
    run 2 "$B" pitr restore
    run 0 "$B" pitr restore --time "$end" --json
    python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["jobId"] and j["status"], j' "$W/out" ||
        fail "pitr restore --json: $(cat "$W/out")"
    pass "pitr range equals GET /api/v2/pitr; pitr restore starts a job"
fi
