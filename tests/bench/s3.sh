#!/bin/bash
# tsvault's S3 client vs the swift CLI against a real OpenStack Swift with
# s3api on loopback (issue 19): the bench set's six TSM files (416 MB; see
# README.md) uploaded and downloaded by both clients in the same run.
#
#   tests/bench/s3.sh
#
# Rows (median of $TSV_BENCH_RUNS, default 3 here; N = $TSV_S3_CONCURRENCY,
# default 4, files at a time):
#   s3tool_put:  build/tsv_s3tool put of every file, N processes (xargs -P N),
#                each run into a fresh bucket; the SHA-256 it reports is checked
#   swift_put:   swift upload --object-threads N of the same files into a
#                fresh container, same object names
#   s3tool_put_single: tsv_s3tool put as above with S3_THRESHOLD above the
#                file size: one PUT per file, as swift upload does
#   s3tool_get:  tsv_s3tool get of every object, N processes, into a fresh
#                directory, then sync; every file compared with the source
#   swift_get:   swift download --object-threads N, same, then sync; compared
#   s3tool_get_swift / swift_get_s3tool: each client downloading the objects
#                the other one uploaded (so each pair of download rows reads
#                the same objects)
#   tier_put:    tsvault's S3 tier (jobs/s3_tier.c): a fresh server with
#                --object-store s3://tier/run-RUN-R (--s3-concurrency N)
#                restores the six shards (gzip, one stream), timed from the
#                first request until S3 has caught up (see tier_caught_up)
#   tier_copy:   the part of tier_put from the last restore's 204 to caught up
#   tier_start:  the six shards restored untimed without --object-store, then
#                the server restarted with it: start to caught up (the whole
#                copy with nothing else running)
#   tier_recover: tsvault --recover-from run RUN's tier_put prefix into an
#                empty directory, start until it listens, then sync; every
#                recovered shard file's SHA-256 checked against its source
# For the tier rows "client CPU" is the tsvault process's.
# Uploads run first (the last run's bucket of each client is kept for the
# downloads), then downloads; within a phase the rows alternate run by run.
# A row is a function row_KEY RUN that times its part with clock_start /
# clock_stop and fails the benchmark on a wrong result; PUT_ROWS and
# GET_ROWS list key and label. Prints one Markdown table (seconds, MB/s of
# TSM, CPU seconds of the client processes and of Swift's, the 1-minute
# load average after the row), the throughput ratios and the load average
# before and after; a copy goes to $TSV_BENCH_CACHE/results/s3-*.md.
#
# Environment (besides lib.sh's TSV_BENCH_CACHE, TSV_BENCH_RUNS, TSVAULT_BIN):
#   TSV_S3TOOL          the tsv_s3tool binary to measure (default: built as
#                       Release in $TSV_BENCH_BUILD)
#   TSV_S3_CONCURRENCY  files at a time for both clients (default 4)
#   S3_PART_SIZE        tsv_s3tool's part size in bytes (default 8 MiB), as
#                       tsv_s3tool reads it
#   TSV_S3_BENCH_WORK   scratch: Swift's devices, downloads (default
#                       $TSV_BENCH_CACHE/work-s3; needs user xattrs, ~2 GB)
# Starts memcached and Swift's proxy/account/container/object servers on
# free loopback ports (tests/integration/swift_lib.sh), stopped by PID on
# exit. Not part of ctest.
set -euo pipefail
TSV_BENCH_RUNS=${TSV_BENCH_RUNS:-3}
# shellcheck source=tests/bench/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/swift_lib.sh
. "$root/tests/integration/swift_lib.sh"

N=${TSV_S3_CONCURRENCY:-4}
WORK=${TSV_S3_BENCH_WORK:-$CACHE/work-s3}

s3_cleanup() {
    local rc=$?
    set +e
    swift_stop
    rm -rf "$WORK/swift" "$WORK/dl" "$WORK/tier-data" "$WORK/tier-rec"
    (exit "$rc")
    bench_cleanup
}
trap s3_cleanup EXIT INT TERM

need_tools swift swift-proxy-server memcached xargs cmp sha256sum cmake

build_s3tool() { # -> TOOL
    if [ -n "${TSV_S3TOOL:-}" ]; then
        TOOL=$TSV_S3TOOL
        return
    fi
    release_build 2 tsv_s3tool
    TOOL=$BUILD/tsv_s3tool
}

# The objects: KEY = autogen/<ID>/<file>, the path under DATA/tree/BUCKET_HEX,
# the same for both clients (swift upload names an object by the path given).
SRC=""
keys() { for id in $IDS; do echo "autogen/$id/$TSM"; done; }

# swift ARGS...: the swift CLI on Swift's own API as the same tempauth user
# the S3 API signs as (test:tester), so both see one account.
swift_cli() { swift -A "$(swift_endpoint)/auth/v1.0" -U "$SWIFT_ACCESS" -K "$SWIFT_SECRET" "$@"; }

# drop_container NAME: the container, its objects and, for multipart uploads
# made through s3api, the segments container (not timed).
drop_container() {
    swift_cli delete "$1" >/dev/null 2>&1 || true
    swift_cli delete "$1+segments" >/dev/null 2>&1 || true
}

# check_dir DIR: every downloaded file byte for byte equal to its source.
check_dir() {
    local k
    for k in $(keys); do
        cmp -s "$SRC/$k" "$1/$k" || die "$1/$k differs from $SRC/$k"
    done
}

# clock_start / clock_stop: around the timed part of a row; clock_stop sets
# T_S (seconds), T_CLI (CPU seconds of the client processes: the children
# this shell reaped meanwhile) and T_SRV (CPU seconds of Swift's processes).
client_ticks() { awk '{print $16 + $17}' "/proc/$$/stat"; }
swift_ticks() {
    local p s=0
    for p in $SWIFT_PIDS; do s=$((s + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
    echo "$s"
}
clock_start() { C0=$(client_ticks) S0=$(swift_ticks) T0=$(now); }
clock_stop() {
    local t1
    t1=$(now)
    T_S=$(elapsed "$T0" "$t1")
    T_CLI=$(cpu_s "$C0" "$(client_ticks)")
    T_SRV=$(cpu_s "$S0" "$(swift_ticks)")
}

# ---------------------------------------------------------------- rows

# put_s3tool NAME RUN: every file into a fresh bucket NAME-rRUN; the last
# run's bucket stays (PUT_BUCKET[NAME]), the one before is deleted.
declare -A PUT_BUCKET
put_s3tool() {
    local b="$1-r$2"
    "$TOOL" mb "$b" >/dev/null
    sync
    clock_start
    keys | xargs -P "$N" -I{} "$TOOL" put "$b" {} "$SRC/{}" >"$WORK/put.out"
    clock_stop
    # "size etag sha256" per object, in completion order.
    [ "$(cut -d' ' -f3 "$WORK/put.out" | sort)" = "$(cut -d' ' -f1 "$WORK/sha" | sort)" ] ||
        die "tsv_s3tool put reported other SHA-256s: $(cat "$WORK/put.out")"
    [ -z "${PUT_BUCKET[$1]:-}" ] || drop_container "${PUT_BUCKET[$1]}"
    PUT_BUCKET[$1]=$b
}
# etags: multipart ETags end in -<parts>, single PUTs' are plain MD5s.
etags() { cut -d' ' -f2 "$WORK/put.out"; }
row_s3tool_put() {
    put_s3tool s3tool "$1"
    ! etags | grep -qv -- '-[0-9]*$' || die "not every upload was multipart: $(cat "$WORK/put.out")"
}
# The same with one PUT per file (threshold above the file size): how much
# of the difference is multipart (on Swift: segments + an SLO manifest).
row_s3tool_put_single() {
    S3_THRESHOLD=$((1 << 40)) put_s3tool single "$1"
    ! etags | grep -q -- - || die "an upload was multipart: $(cat "$WORK/put.out")"
}

row_swift_put() {
    local b="swift-r$1"
    sync
    clock_start
    # shellcheck disable=SC2046
    (cd "$SRC" && swift_cli upload --object-threads "$N" "$b" $(keys) >"$WORK/put.out")
    clock_stop
    [ "$(wc -l <"$WORK/put.out")" = "$NSHARDS" ] || die "swift upload: $(cat "$WORK/put.out")"
    [ -z "${PUT_BUCKET[swift]:-}" ] || drop_container "${PUT_BUCKET[swift]}"
    PUT_BUCKET[swift]=$b
}

# get_s3tool BUCKET, get_swift BUCKET: one timed download into a fresh
# directory, then sync; checked afterwards (not timed).
get_s3tool() {
    local d=$WORK/dl k
    drop_output "$d"
    for k in $(keys); do mkdir -p "$d/$(dirname "$k")"; done
    clock_start
    keys | xargs -P "$N" -I{} "$TOOL" get "$1" {} "$d/{}" >"$WORK/get.out"
    sync
    clock_stop
    # "size etag sha256 verified": the client checked every body itself.
    [ "$(cut -d' ' -f4 "$WORK/get.out" | sort -u)" = 1 ] ||
        die "tsv_s3tool get did not verify every body: $(cat "$WORK/get.out")"
    check_dir "$d"
    drop_output "$d"
}

get_swift() {
    local d=$WORK/dl
    drop_output "$d"
    mkdir -p "$d"
    clock_start
    # shellcheck disable=SC2046
    swift_cli download --object-threads "$N" -D "$d" "$1" $(keys) >/dev/null
    sync
    clock_stop
    check_dir "$d"
    drop_output "$d"
}

# ---- tsvault's own S3 tier (jobs/s3_tier.c): what a server copies and
# recovers, on the same Swift, bucket "tier", a fresh prefix per run.
TIER_BUCKET=tier
declare -A TIER_PREFIX
tier_flags() { # the flags shared by the copying and the recovering server
    echo "--s3-endpoint $S3_ENDPOINT --s3-path-style --s3-concurrency $N"
}
# tier_caught_up LOG MIN_BYTES: waits (polling /metrics every 50 ms) until
# S3 has caught up: nothing pending, no change since the last checkpoint
# (both 0), and the newest checkpoint (its log line) lists at least
# MIN_BYTES of objects. The gauges are set by the copy thread's rounds (one
# a second), so 0/0 alone can still be a round's from before the last
# change; a checkpoint is written only once every object it lists is in S3,
# so one listing the six shard files (TSM_BYTES; the KV versions are a few
# kB) says the copy is complete.
tier_caught_up() {
    local i m p b c
    for i in $(seq 1 6000); do
        m=$(curl -sS "$TURL/metrics")
        p=$(awk '$1 == "tsvault_s3_pending_objects" { print $2 }' <<<"$m")
        b=$(awk '$1 == "tsvault_s3_checkpoint_behind" { print $2 }' <<<"$m")
        c=$(sed -n '/msg="checkpoint written to the object store"/s/.* object_bytes=\([0-9]*\).*/\1/p' \
            "$1" | tail -n 1)
        [ "$p" = 0 ] && [ "$b" = 0 ] && [ "${c:-0}" -ge "$2" ] && return 0
        sleep 0.05
    done
    die "S3 did not catch up in 300 s: pending $p, behind $b, newest checkpoint's objects $c bytes"
}
srv_ticks() { awk '{print $14 + $15}' "/proc/$TPID/stat"; }
# tier_launch DIR LOG FLAGS...: a tsvault on DIR, waited for until it listens
# (the log polled every 10 ms; start_tsvault polls every 50 ms and creates
# an org) -> TPID, TURL.
tier_launch() {
    local d=$1 lg=$2 port=""
    shift 2
    : >"$lg"
    "$BIN" serve --http-bind-address 127.0.0.1:0 --rpc-bind-address 127.0.0.1:0 --data-dir "$d" \
        --operator-token "$TOKEN" --log-level info "$@" >"$lg" 2>&1 &
    TPID=$!
    while [ -z "$port" ]; do
        kill -0 "$TPID" 2>/dev/null || die "tsvault failed: $(tail -3 "$lg")"
        port=$(sed -n 's/.*msg=listening.* port=\([0-9]*\).*/\1/p' "$lg")
        [ -n "$port" ] || sleep 0.01
    done
    TURL=http://127.0.0.1:$port
}
# tier_check PREFIX: S3 holds objects/ab/<SHA-256> of every source file.
tier_check() {
    local h
    "$TOOL" ls "$TIER_BUCKET" "$1/objects/" | awk '{print $1}' | sed 's|.*/||' >"$WORK/tier-ls"
    while read -r h _; do
        grep -qx "$h" "$WORK/tier-ls" || die "S3 has no object $h under $1/objects/"
    done <"$WORK/sha"
}
# tier_stop LOG: SIGTERM (the last round; the lease is released), exit 0.
tier_stop() {
    kill -TERM "$TPID"
    wait "$TPID" || die "tsvault exited with $? on SIGTERM: $(tail -3 "$1")"
    TPID=""
}

# row_tier_put RUN: a fresh tsvault with --object-store (prefix run-RUN)
# restores the six shards (gzip archives, one stream, as restore_source
# does) and copies them on its own; timed from the first restore request
# until S3 has caught up. T_CLI is the tsvault process's CPU. The part
# from the last restore's answer to caught up is kept for row_tier_copy.
# Untimed: S3 must hold every shard file as objects/ab/<its SHA-256>, then
# the server is stopped with SIGTERM (its last round, and the lease is
# released for the recovery row).
row_tier_put() {
    local pfx="run-$1-$RANDOM" d=$WORK/tier-data lg=$WORK/tier-$1.log c0 c1 c2 s1 t1 t2
    drop_output "$d"
    # shellcheck disable=SC2046
    start_tsvault "$d" "$lg" --object-store "s3://$TIER_BUCKET/$pfx" $(tier_flags) \
        --s3-checkpoint-interval 1s
    # shellcheck disable=SC2086
    new_bucket "tier-r$1" $IDS
    # The org and bucket are not part of the bench set's copy: after a round
    # (one a second) has seen them, their checkpoint.
    sleep 1.5
    tier_caught_up "$lg" 0
    : >"$WORK/codes"
    warm "$DATA"/gz/s[1-6].tar.gz
    sync
    c0=$(srv_ticks) S0=$(swift_ticks) T0=$(now)
    # shellcheck disable=SC2086
    post_shards gzip "$DATA/gz" tar.gz "$WORK/codes" $IDS
    t1=$(now) c1=$(srv_ticks) s1=$(swift_ticks)
    tier_caught_up "$lg" "$TSM_BYTES"
    t2=$(now) c2=$(srv_ticks)
    T_S=$(elapsed "$T0" "$t2")
    T_CLI=$(cpu_s "$c0" "$c2")
    T_SRV=$(cpu_s "$S0" "$(swift_ticks)")
    TIER_RESTORE_S=$(elapsed "$T0" "$t1")
    TIER_COPY_S=$(elapsed "$t1" "$t2")
    TIER_COPY_CLI=$(cpu_s "$c1" "$c2")
    TIER_COPY_SRV=$(cpu_s "$s1" "$(swift_ticks)")
    check_restore
    tier_check "$pfx"
    tier_stop "$lg"
    drop_output "$d"
    log "tier_put run $1: restores $TIER_RESTORE_S s, then copy $TIER_COPY_S s" \
        "(tsvault CPU $TIER_COPY_CLI s, Swift $TIER_COPY_SRV s)"
    TIER_PREFIX[$1]=$pfx
}
# row_tier_copy RUN: the copy part of the same run's row_tier_put (from the
# last restore's 204 to caught up), not measured again; it follows tier_put
# in PUT_ROWS. The copy starts during the restores (a round every second),
# so this is the part left after them, not the whole copy.
row_tier_copy() {
    T_S=$TIER_COPY_S T_CLI=$TIER_COPY_CLI T_SRV=$TIER_COPY_SRV
}

# row_tier_start RUN: the whole copy with nothing else running: the six
# shards restored (untimed) into a tsvault without --object-store, stopped;
# then the same data directory started with --object-store (a fresh prefix
# start-RUN-R), timed from the start until S3 has caught up; T_CLI is its
# CPU. Untimed: the objects in S3, SIGTERM.
row_tier_start() {
    local pfx="start-$1-$RANDOM" d=$WORK/tier-data lg=$WORK/tier-start-$1.log
    drop_output "$d"
    start_tsvault "$d" "$WORK/tier-pre-$1.log"
    # shellcheck disable=SC2086
    new_bucket "tier-s$1" $IDS
    : >"$WORK/codes"
    # shellcheck disable=SC2086
    post_shards gzip "$DATA/gz" tar.gz "$WORK/codes" $IDS
    codes_are 204 restore
    tier_stop "$WORK/tier-pre-$1.log"
    # shellcheck disable=SC2046
    warm $(find "$d/objects" -type f -size +1M)
    sync
    S0=$(swift_ticks) T0=$(now)
    # shellcheck disable=SC2046
    tier_launch "$d" "$lg" --object-store "s3://$TIER_BUCKET/$pfx" $(tier_flags) --s3-checkpoint-interval 1s
    tier_caught_up "$lg" "$TSM_BYTES"
    T_S=$(elapsed "$T0" "$(now)")
    T_CLI=$(cpu_s 0 "$(srv_ticks)")
    T_SRV=$(cpu_s "$S0" "$(swift_ticks)")
    tier_check "$pfx"
    tier_stop "$lg"
    drop_output "$d"
}

# row_tier_recover RUN: a tsvault with --recover-from the prefix that run
# RUN of row_tier_put filled, into a fresh empty directory, timed from its
# start until it listens, then sync; T_CLI is its CPU. Untimed: every
# recovered shard file's SHA-256 equals its source's, then SIGTERM.
row_tier_recover() {
    local pfx=${TIER_PREFIX[$1]} d=$WORK/tier-rec lg=$WORK/tier-rec-$1.log
    drop_output "$d"
    mkdir -p "$d"
    S0=$(swift_ticks) T0=$(now)
    # shellcheck disable=SC2046
    tier_launch "$d" "$lg" --recover-from "s3://$TIER_BUCKET/$pfx" $(tier_flags)
    sync
    T_S=$(elapsed "$T0" "$(now)")
    T_CLI=$(cpu_s 0 "$(srv_ticks)")
    T_SRV=$(cpu_s "$S0" "$(swift_ticks)")
    grep -q 'msg="objects recovered"' "$lg" || die "no recovery in $lg"
    log "tier_recover run $1: $(sed -n 's/.*msg="objects recovered" //p' "$lg")"
    # The recovered live shard files, byte for byte (SHA-256) the sources.
    find "$d/state/engine/data" -name '*.tsm' -exec sha256sum {} + | cut -d' ' -f1 | sort >"$WORK/rec.sha"
    [ "$(cat "$WORK/rec.sha")" = "$(cut -d' ' -f1 "$WORK/sha" | sort)" ] ||
        die "the recovered shard files differ from the sources: $(cat "$WORK/rec.sha")"
    tier_stop "$lg"
    drop_output "$d"
}

row_s3tool_get() { get_s3tool "${PUT_BUCKET[s3tool]}"; }
row_swift_get() { get_swift "${PUT_BUCKET[swift]}"; }
row_s3tool_get_swift() { get_s3tool "${PUT_BUCKET[swift]}"; }
row_swift_get_s3tool() { get_swift "${PUT_BUCKET[s3tool]}"; }

# Phases in order; each "key|label". A new row: a row_KEY function and a
# line here (a phase's rows alternate run by run).
PUT_ROWS=(
    "s3tool_put|upload: tsv_s3tool put, $N files at a time (multipart, $((${S3_PART_SIZE:-8388608} / 1048576)) MiB parts)"
    "swift_put|upload: swift upload --object-threads $N (one PUT per file)"
    "s3tool_put_single|upload: tsv_s3tool put, $N at a time, one PUT per file (S3_THRESHOLD 1 TiB)"
    "tier_put|tsvault --object-store: restore of the bench set (gzip, one stream), then copy to S3; first request to caught up"
    "tier_copy|tsvault --object-store: of which the copy after the restores' end (last 204 to caught up)"
    "tier_start|tsvault --object-store switched on over a vault holding the bench set: start to caught up (the whole copy alone)"
)
GET_ROWS=(
    "s3tool_get|download: tsv_s3tool get, $N at a time, of its own objects; sync"
    "swift_get|download: swift download --object-threads $N of its own objects; sync"
    "s3tool_get_swift|download: tsv_s3tool get of swift's objects; sync"
    "swift_get_s3tool|download: swift download of tsv_s3tool's objects; sync"
    "tier_recover|tsvault --recover-from: the whole vault back from S3 into an empty directory, start to listening; sync"
)

# ---------------------------------------------------------------- run

build_s3tool
build_tsvault
ensure_data
SRC=$DATA/tree/$BUCKET_HEX
rm -rf "$WORK"
mkdir -p "$WORK" "$CACHE/results"
(cd "$SRC" && keys | xargs sha256sum) >"$WORK/sha"
LOAD_BEFORE=$(loadavg)
log "load average before: $LOAD_BEFORE"
log "starting Swift (s3api, tempauth) in $WORK/swift"
swift_start "$WORK/swift" || die "Swift did not start"
read -r S3_ACCESS_KEY S3_SECRET_KEY <<<"$(swift_credentials)"
S3_ENDPOINT=$(swift_endpoint)
export S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY
AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
"$TOOL" mb "$TIER_BUCKET" >/dev/null

declare -A TIMES CLI SRV LOADS
TIER_RESTORES=""
run_phase() { # "key|label"...
    local r row key
    for r in $(seq 1 "$RUNS"); do
        for row in "$@"; do
            key=${row%%|*}
            # shellcheck disable=SC2086
            warm $TSM_FILES
            "row_$key" "$r"
            TIMES[$key]="${TIMES[$key]:+${TIMES[$key]} }$T_S"
            CLI[$key]="${CLI[$key]:+${CLI[$key]} }$T_CLI"
            SRV[$key]="${SRV[$key]:+${SRV[$key]} }$T_SRV"
            LOADS[$key]=$(cut -d' ' -f1 /proc/loadavg)
            [ "$key" != tier_put ] || TIER_RESTORES="${TIER_RESTORES:+$TIER_RESTORES }$TIER_RESTORE_S"
            log "$key run $r: $T_S s (CPU: client $T_CLI s, Swift $T_SRV s)"
        done
    done
}
run_phase "${PUT_ROWS[@]}"
run_phase "${GET_ROWS[@]}"
swift_stop

OUT=$CACHE/results/s3-$(date -u +%Y%m%dT%H%M%SZ).md
{
    echo "| operation | seconds | MB/s of TSM | client (tsvault) CPU s | Swift CPU s | load (1 min) after |"
    echo "| --- | --- | --- | --- | --- | --- |"
    for row in "${PUT_ROWS[@]}" "${GET_ROWS[@]}"; do
        key=${row%%|*}
        s=$(echo "${TIMES[$key]}" | median)
        awk -v l="${row#*|}" -v s="$s" -v b="$TSM_BYTES" -v ld="${LOADS[$key]}" \
            -v c="$(echo "${CLI[$key]}" | median)" -v v="$(echo "${SRV[$key]}" | median)" \
            'BEGIN { printf "| %s | %.2f | %.0f | %.2f | %.2f | %s |\n", l, s, b / s / 1e6, c, v, ld }'
    done
    ratio() { # KEY-A KEY-B: MB/s of A over MB/s of B
        awk -v a="$(echo "${TIMES[$1]}" | median)" -v b="$(echo "${TIMES[$2]}" | median)" \
            'BEGIN { printf "%.2fx", b / a }'
    }
    echo
    echo "tsv_s3tool / swift CLI throughput: upload $(ratio s3tool_put swift_put)," \
        "download of own objects $(ratio s3tool_get swift_get)," \
        "of swift's objects $(ratio s3tool_get_swift swift_get)," \
        "of tsv_s3tool's objects $(ratio s3tool_get swift_get_s3tool)."
    echo "tsvault's S3 tier / swift CLI: restore + copy (first request to caught up)" \
        "$(ratio tier_put swift_put) of swift upload, the copy after the restores" \
        "$(ratio tier_copy swift_put), the whole copy alone (tier_start) $(ratio tier_start swift_put);" \
        "--recover-from $(ratio tier_recover swift_get) of swift download" \
        "(restores alone: $(echo "$TIER_RESTORES" | median) s, median)."
    echo "$NSHARDS files, $TSM_BYTES bytes (MB = 10^6 bytes); median of $RUNS; concurrency $N;" \
        "Swift $(dpkg-query -W -f='${Version}' swift 2>/dev/null || echo '?')," \
        "python3-swiftclient $(dpkg-query -W -f='${Version}' python3-swiftclient 2>/dev/null || echo '?');" \
        "machine: $(nproc) CPUs, load average before / after: $LOAD_BEFORE / $(loadavg)."
} | tee "$OUT"
