# Helpers of the S3 tier tests (test_s3_tier.sh, test_s3_bench_set.sh),
# sourced after lib.sh.
#
# tier_swift: starts Swift (swift_lib.sh, sourced before) in $TSV_TMP/swift
# and creates the bucket "tsvault" with tsv_s3tool ($S3TOOL); sets EP, AK, SK
# and exports the AWS_* credentials the server reads.
tier_swift() {
    swift_start "$TSV_TMP/swift" || fail "Swift did not start"
    EP=$(swift_endpoint)
    read -r AK SK <<<"$(swift_credentials)"
    export AWS_ACCESS_KEY_ID="$AK" AWS_SECRET_ACCESS_KEY="$SK"
    S3_ENDPOINT="$EP" S3_ACCESS_KEY="$AK" S3_SECRET_KEY="$SK" "$S3TOOL" mb tsvault >/dev/null ||
        fail "create bucket"
}
# metric URL NAME: the value of an unlabelled metric.
metric() { curl -sS "$1/metrics" | awk -v n="$2" '$1 == n { print $2 }'; }
# rounds URL: copy rounds finished so far (ok or failed).
rounds() { curl -sS "$1/metrics" | awk '$1 ~ /^tsvault_s3_rounds_total/ { n += $2 } END { print n + 0 }'; }
# synced URL [TENTHS]: waits (at most TENTHS x 0.1 s, default 600) until
# every object is in S3 and a checkpoint or log segment covers the latest
# change: a round that started after now (two more finished) left nothing
# pending and nothing behind.
synced() {
    local r0
    r0=$(rounds "$1")
    for _ in $(seq 1 "${2:-600}"); do
        [ "$(rounds "$1")" -ge $((r0 + 2)) ] &&
            [ "$(metric "$1" tsvault_s3_pending_objects)" = 0 ] &&
            [ "$(metric "$1" tsvault_s3_checkpoint_behind)" = 0 ] && return 0
        sleep 0.1
    done
    fail "S3 did not catch up: pending $(metric "$1" tsvault_s3_pending_objects) behind $(metric "$1" tsvault_s3_checkpoint_behind)"
}
