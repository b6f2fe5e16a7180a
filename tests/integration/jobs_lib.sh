# Helpers for the Files API and Jobs API tests (sourced after lib.sh), and
# what they all use: HERE (this directory), CLI (the influx CLI stand-in),
# FIXTURE (the 1.6 portable backup) and W (a scratch directory).
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CLI="python3 $HERE/influxcli.py"
FIXTURE="$TSV_TESTDATA/influxdb-1.6-portable"
W="$TSV_TMP/work"
mkdir -p "$W"

# upload URL TOKEN FILE [curl args...]: curl --form exactly as the Polaris
# seed shows it (run from the file's directory, so the part's filename is
# the base name). Sets HTTP_STATUS / HTTP_BODY / HTTP_HEADERS like http().
upload() {
    url=$1 tok=$2 file=$3
    shift 3
    HTTP_BODY="$TSV_TMP/body.$$"
    HTTP_HEADERS="$TSV_TMP/headers.$$"
    HTTP_STATUS=$(cd "$(dirname "$file")" && curl -sS --location --request POST "$url" \
        --header "Authorization: Bearer $tok" --form "file=@\"$(basename "$file")\"" \
        -o "$HTTP_BODY" -D "$HTTP_HEADERS" -w '%{http_code}' "$@") || HTTP_STATUS=000
}

# create_job URL TOKEN JSON: POST /jobs, expects 201, prints the job ID.
create_job() {
    http POST "$1/api/v2/jobs" -H "Authorization: Token $2" -H 'Content-Type: application/json' \
        -d "$3"
    expect_status 201 "create job $3"
    json_get 'j["id"]'
}

# wait_job URL TOKEN ID: polls until the job has finished; prints its status.
wait_job() {
    i=0
    while :; do
        http GET "$1/api/v2/jobs/$3" -H "Authorization: Token $2"
        expect_status 200 "get job"
        st=$(json_get 'j["executionStatus"]')
        case $st in completed|failed|canceled) echo "$st"; return 0 ;; esac
        i=$((i + 1))
        [ $i -lt 1200 ] || fail "job $3 still $st after 120 s"
        sleep 0.1
    done
}

# expect_job URL TOKEN JSON STATUS: creates the job, waits for it and fails
# with its reply and logs unless it ended STATUS. Sets JOB to its ID.
expect_job() {
    create_job "$1" "$2" "$3" >/dev/null
    JOB=$(json_get 'j["id"]')
    wait_job "$1" "$2" "$JOB" >/dev/null
    [ "$(json_get 'j["executionStatus"]')" = "$4" ] ||
        fail "job $3 did not end $4: $(cat "$HTTP_BODY"); logs: $(curl -sS -H "Authorization: Token $2" "$1/api/v2/jobs/$JOB/logs")"
}

# bucket_id URL TOKEN NAME: prints the bucket's ID ("" if absent).
bucket_id() {
    curl -sS -H "Authorization: Token $2" "$1/api/v2/buckets?limit=100" |
        python3 -c 'import json,sys; n=sys.argv[1]; print("".join(b["id"] for b in json.load(sys.stdin)["buckets"] if b["name"]==n))' "$3"
}

# tsm_digests DATADIR BUCKETID: sorted SHA-256 of the bucket's TSM files.
tsm_digests() {
    find "$1/state/engine/data/$2" -name '*.tsm' -exec sha256sum {} + | awk '{print $1}' | sort
}
