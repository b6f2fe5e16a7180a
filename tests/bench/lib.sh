# shellcheck shell=bash disable=SC2034
# (variables set here are used by the scripts that source this file)
# Shared by the benchmarks of tests/bench (sourced, bash):
# configuration, the Release build, the cached data set, the servers and the
# tsvault operations. See tests/bench/README.md.
#
# Environment: TSV_BENCH_CACHE (default ~/.cache/tsvault-bench),
# TSV_BENCH_RUNS (default 5), TSV_BENCH_BUILD (build dir, default
# $TSV_BENCH_CACHE/build), TSVAULT_BIN (use this binary instead of building),
# TSV_BENCH_INFLUXD_PORT (HTTP port of the private influxd, default 28086; its
# RPC port is this + 2), TSV_BENCH_DATA (a complete six-shard data set to use
# instead of data-v1, e.g. rpc1x.sh's; without the 1 GB shard only
# run.sh --restore-only works).

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
CACHE=${TSV_BENCH_CACHE:-$HOME/.cache/tsvault-bench}
RUNS=${TSV_BENCH_RUNS:-5}
BUILD=${TSV_BENCH_BUILD:-$CACHE/build}
IHTTP=${TSV_BENCH_INFLUXD_PORT:-28086}
IRPC=$((IHTTP + 2))
PY="python3 $here/bench.py"
# shellcheck source=tests/integration/influxd1_conf.sh
. "$root/tests/integration/influxd1_conf.sh"

# Data set. Bump DATA's version when any of this changes.
DATA=${TSV_BENCH_DATA:-$CACHE/data-v1}
NSHARDS=6        # shards 1..6: one 7-day shard group each, from 2024-01-01
SERIES=400       # x 5 fields (float walk, float, int walk, bool, string)
POINTS=10000     # per field, one a minute: ~69 MB of TSM per shard
BIG_ID=7         # the memory test's shard (week 7), in a bucket of its own
BIG_SERIES=6000  # ~1.04 GB of TSM
BUCKET_HEX=0a1b2c3d4e5f6071 # bucket ID in the archive entry names
TSM=000000001-000000001.tsm
PREFIX=20240101T000000Z     # portable backup file prefix

WORK=${WORK:-$CACHE/work}
TOKEN=bench-operator-token
TPID="" IPID=""
CLK_TCK=$(getconf CLK_TCK)

log() { echo "== $*" >&2; }
die() { echo "bench: $*" >&2; exit 1; }

bench_cleanup() {
    local rc=$?
    for pid in $TPID $IPID; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in $TPID $IPID; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK/x" "$WORK/cp" "$WORK/tsvault" "$WORK/tsvault-mem" "$WORK/influxd"
    exit "$rc"
}

now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", b - a }'; }
join() { local IFS=,; echo "$*"; }
drop_output() { rm -rf "$@"; sync; }
warm() { cat "$@" >/dev/null; }
median() { tr ' ' '\n' | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
mbps() { awk -v s="$1" -v b="${2:-$TSM_BYTES}" 'BEGIN { printf "%.0f", b / s / 1e6 }'; } # SECONDS [BYTES]: MB/s
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# timed_cp SRC [FILE...]: prints the seconds of `cp -r SRC $WORK/cp; sync`
# after reading the FILEs into the page cache (the restore rows' baseline).
# Called in $(...), where set -e is off: failures die explicitly.
timed_cp() {
    local src=$1 t0 t1
    shift
    drop_output "$WORK/cp"
    [ $# -eq 0 ] || warm "$@" || die "cannot read $*"
    t0=$(now)
    cp -r "$src" "$WORK/cp" || die "cp -r $src failed"
    sync
    t1=$(now)
    elapsed "$t0" "$t1"
}

# timed_untar TOOL ARCHIVE...: prints the seconds of `TOOL -dc ARCHIVE | tar x
# -C $WORK/x` for each ARCHIVE in turn, then sync, after emptying $WORK/x and
# reading the ARCHIVEs into the page cache (the decompress-and-extract
# baseline of run.sh and http.sh). In $(...) too: failures die explicitly.
timed_untar() {
    local tool=$1 f t0 t1
    shift
    drop_output "$WORK/x"
    mkdir -p "$WORK/x"
    warm "$@" || die "cannot read $*"
    t0=$(now)
    for f in "$@"; do
        "$tool" -dc "$f" | tar x -C "$WORK/x" || die "$tool -dc $f | tar x failed"
    done
    sync
    t1=$(now)
    elapsed "$t0" "$t1"
}

# ---------------------------------------------------------------- tools, build

need_tools() { # TOOL...
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null || die "$t is missing: run scripts/install-deps.sh"
    done
}
check_tools() { need_tools influxd igzip zstd gzip tar curl python3 go cmake; }

# release_build JOBS TARGET...: the CMake TARGETs, Release, in BUILD.
release_build() {
    local jobs=$1
    shift
    log "building a Release $* in $BUILD"
    cmake -S "$root" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$BUILD" -j "$jobs" --target "$@" >/dev/null
}

build_tsvault() { # -> BIN
    if [ -n "${TSVAULT_BIN:-}" ]; then
        BIN=$TSVAULT_BIN
        return
    fi
    release_build "$(nproc)" tsvault tsv_vaulttool
    BIN=$BUILD/tsvault
}

# ---------------------------------------------------------------- data (once)

# make_tar ID TREE: the shard's archive as the influx CLI's backup holds it:
# <bucket>/autogen/<ID>/<file> (ustar, root, 0644, no directory entries).
make_tar() {
    mkdir -p "$DATA/tar"
    tar --format=ustar --owner=0 --group=0 --numeric-owner --mtime=@1704067200 \
        -C "$2" -cf "$DATA/tar/s$1.tar.tmp" "$BUCKET_HEX/autogen/$1/$TSM"
    mv "$DATA/tar/s$1.tar.tmp" "$DATA/tar/s$1.tar"
}

# gen_shard ID SERIES TREE: one shard's TSM file written by InfluxDB 1.6.7's
# tsm1 writer (tsmcheck gen), checked by tsm1's reader (tsmcheck verify),
# packed by make_tar and compressed into gz/s<ID>.tar.gz (gzip -6, Go's
# default level, which influxd's backup uses) and zst/s<ID>.tar.zst (zstd -3).
gen_shard() {
    local id=$1 series=$2 tree=$3
    local d="$tree/$BUCKET_HEX/autogen/$id"
    local start
    start=$(date -u -d "2024-01-01 +$((7 * (id - 1))) days" +%Y-%m-%dT%H:%M:%SZ)
    mkdir -p "$d"
    "$CACHE/tools/tsmcheck" gen -out "$d/$TSM" -edge=false -series "$series" -points "$POINTS" \
        -interval 60s -jitter 20000 -seed "$id" -start "$start" >&2
    "$CACHE/tools/tsmcheck" verify "$d/$TSM" >&2
    chmod 0644 "$d/$TSM"
    make_tar "$id" "$tree"
    gzip -6 -n -c "$DATA/tar/s$id.tar" >"$DATA/gz/s$id.tar.gz"
    zstd -q -3 -c "$DATA/tar/s$id.tar" >"$DATA/zst/s$id.tar.zst"
    stat -c %s "$DATA/tar/s$id.tar" >"$DATA/s$id.tarsize"
    [ "$id" != "$BIG_ID" ] || rm "$DATA/tar/s$id.tar" # only its .gz/.zst are used
}

# portable_backup: DATA/portable as an InfluxDB 1.x portable backup of
# database "bench" holding the shards 1..NSHARDS made by gen_shard (the
# restore client takes the RP from the entry names, the rest from the
# manifest and the server's ID map).
portable_backup() {
    local id specs=""
    for id in $(seq 1 "$NSHARDS"); do
        ln -s "../gz/s$id.tar.gz" "$DATA/portable/$PREFIX.s$id.tar.gz"
        specs="$specs $id:$(cat "$DATA/s$id.tarsize")"
    done
    # shellcheck disable=SC2086
    $PY portable "$DATA/portable" "$PREFIX" bench $specs
}

# gen_set: DATA made again from nothing: the shards 1..NSHARDS (SERIES
# series) generated one after the other, and their portable backup; for the
# benchmarks that need the six shards but not the 1 GB one (needs the tools).
gen_set() {
    local id
    rm -rf "$DATA"
    mkdir -p "$DATA/tree" "$DATA/gz" "$DATA/zst" "$DATA/portable"
    for id in $(seq 1 "$NSHARDS"); do
        gen_shard "$id" "$SERIES" "$DATA/tree"
    done
    portable_backup
}

# tsm_set -> IDS, TSM_BYTES, TSM_FILES: the shards 1..NSHARDS in DATA/tree,
# what every data set (ensure_data, ensure_rpc1x_data) is measured by.
tsm_set() {
    local id
    IDS=$(seq 1 "$NSHARDS")
    TSM_BYTES=0
    for id in $IDS; do
        TSM_BYTES=$((TSM_BYTES + $(stat -c %s "$DATA/tree/$BUCKET_HEX/autogen/$id/$TSM")))
    done
    TSM_FILES=$(for id in $IDS; do echo "$DATA/tree/$BUCKET_HEX/autogen/$id/$TSM"; done)
}

ensure_data() {
    if [ ! -f "$DATA/complete" ]; then
        log "generating the data set once into $DATA (a few minutes)"
        rm -rf "$DATA"
        mkdir -p "$DATA/tree" "$DATA/bigtree" "$DATA/gz" "$DATA/zst" "$DATA/portable"
        "$root/tests/tools/build.sh" "$CACHE/tools" >/dev/null
        local pids="" id p
        for id in $(seq 1 "$NSHARDS"); do
            gen_shard "$id" "$SERIES" "$DATA/tree" &
            pids="$pids $!"
            if [ $((id % 2)) -eq 0 ]; then
                for p in $pids; do wait "$p"; done
                pids=""
            fi
        done
        for p in $pids; do wait "$p"; done
        gen_shard "$BIG_ID" "$BIG_SERIES" "$DATA/bigtree"
        # The same .tar.gz files as a 1.x portable backup.
        portable_backup
        touch "$DATA/complete"
    fi
    tsm_set
    local id
    for id in $IDS; do # (data sets made before the plain tars were kept)
        [ -f "$DATA/tar/s$id.tar" ] || make_tar "$id" "$DATA/tree"
    done
    BIG_BYTES=$(stat -c %s "$DATA/bigtree/$BUCKET_HEX/autogen/$BIG_ID/$TSM" 2>/dev/null || echo 0)
    GZ_BYTES=$(cat "$DATA"/gz/s[1-6].tar.gz | wc -c)
    ZST_BYTES=$(cat "$DATA"/zst/s[1-6].tar.zst | wc -c)
}

# ---------------------------------------------------------------- servers

start_tsvault() { # DIR LOG [serve flags] -> TPID, TURL, TDATA, ORG
    local dir=$1 lg=$2
    shift 2
    mkdir -p "$dir"
    "$BIN" serve --http-bind-address 127.0.0.1:0 --rpc-bind-address 127.0.0.1:0 --data-dir "$dir" --operator-token "$TOKEN" \
        --log-level info "$@" >"$lg" 2>&1 &
    TPID=$!
    local port="" i=0
    while [ -z "$port" ] && [ $i -lt 200 ]; do
        sleep 0.05
        port=$(sed -n 's/.*msg=listening.* port=\([0-9]*\).*/\1/p' "$lg" | tail -n 1)
        kill -0 "$TPID" 2>/dev/null || die "tsvault did not start: $(cat "$lg")"
        i=$((i + 1))
    done
    [ -n "$port" ] || die "tsvault did not start"
    # With --tls-cert the listening line says scheme=https (curl then needs
    # CURL_CA_BUNDLE, which run.sh --tls sets).
    local scheme
    scheme=$(sed -n 's/.*msg=listening.* scheme=\(https*\) .*/\1/p' "$lg" | tail -n 1)
    TURL=${scheme:-http}://127.0.0.1:$port
    TDATA=$dir
    ORG=$(curl -sS -f -H "Authorization: Token $TOKEN" -H 'Content-Type: application/json' \
        -d '{"name":"bench"}' "$TURL/api/v2/orgs" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
}

stop_tsvault() {
    kill "$TPID"
    wait "$TPID" || true
    TPID=""
}

start_influxd() {
    local d=$WORK/influxd
    mkdir -p "$d"
    influxd1_conf "$d" "$IRPC" "$IHTTP" "" "max-body-size = 0"
    influxd -config "$d/influxd.conf" >"$d/influxd.log" 2>&1 &
    IPID=$!
    influxd1_wait "$IPID" "$IHTTP" "$d/influxd.log" die
}

stop_influxd() {
    kill "$IPID"
    wait "$IPID" 2>/dev/null || true
    IPID=""
}

influx_query() {
    curl -sS -f -XPOST "http://127.0.0.1:$IHTTP/query" --data-urlencode "q=$1" >/dev/null
}

rss_kb() { awk "/^$1:/ {print \$2}" "/proc/$TPID/status"; }
reset_peak() { echo 5 >"/proc/$TPID/clear_refs"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$TPID/stat"; }
cpu_s() { awk -v a="$1" -v b="$2" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / hz }'; }
mb() { awk -v a="$1" 'BEGIN { printf "%.1f MB", a / 1024 }'; }

# new_bucket NAME IDS... -> BID, NEW[old]=new
declare -A NEW
new_bucket() {
    local name=$1
    shift
    # shellcheck disable=SC2068
    $PY bucket-manifest "$ORG" "$name" "$BUCKET_HEX" 0 $@ >"$WORK/manifest.json"
    curl -sS -f -H "Authorization: Token $TOKEN" -H 'Content-Type: application/json' \
        --data-binary "@$WORK/manifest.json" "$TURL/api/v2/restore/bucketMetadata" \
        -o "$WORK/bm.json" || die "bucketMetadata failed"
    BID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$WORK/bm.json")
    NEW=()
    local o n
    while read -r o n; do NEW[$o]=$n; done < <($PY mappings "$WORK/bm.json")
}

delete_bucket() {
    curl -sS -f -X DELETE -H "Authorization: Token $TOKEN" "$TURL/api/v2/buckets/$1" >/dev/null
    drop_output "$TDATA"/trash/*
}

# post_shards ENC FILE_DIR EXT CODES OLD...: one stream, shard after shard,
# each a POST /api/v2/restore/shards/{new ID} with the archive as its body.
post_shards() {
    local enc=$1 dir=$2 ext=$3 codes=$4 o
    shift 4
    for o in "$@"; do
        curl -sS -o /dev/null -w '%{http_code}\n' -X POST -T "$dir/s$o.$ext" \
            -H "Authorization: Token $TOKEN" -H 'Content-Type: application/octet-stream' \
            -H "Content-Encoding: $enc" "$TURL/api/v2/restore/shards/${NEW[$o]}" >>"$codes"
    done
}

restored_bytes() {
    find "$TDATA/state/engine/data/$1" -name '*.tsm' -printf '%s\n' | awk '{s += $1} END {print s + 0}'
}

enc_files() { # ENC -> dir, ext
    case $1 in
    gzip) dir=$DATA/gz ext=tar.gz ;;
    zstd) dir=$DATA/zst ext=tar.zst ;;
    *) dir=$DATA/tar ext=tar ;;
    esac
}

# measure_start / measure_stop: around a timed operation, they set T_S
# (seconds), T_CPU (server CPU seconds), T_PEAK (server peak RSS above the
# RSS before, kB).
measure_start() {
    M_IDLE=$(rss_kb VmRSS)
    reset_peak
    M_C0=$(cpu_ticks)
    M_T0=$(now)
}
measure_stop() {
    local t1 c1
    t1=$(now)
    c1=$(cpu_ticks)
    T_PEAK=$(($(rss_kb VmHWM) - M_IDLE))
    T_S=$(elapsed "$M_T0" "$t1")
    T_CPU=$(cpu_s "$M_C0" "$c1")
}

# codes_are CODE WHAT: every answer in $WORK/codes was CODE, else dies
# saying what WHAT answered (each code with its count).
codes_are() {
    [ "$(sort -u "$WORK/codes")" = "$1" ] || die "$2 answered $(sort "$WORK/codes" | uniq -c)"
}

# check_restore: every answer in $WORK/codes was 204 and bucket BID holds
# TSM_BYTES of TSM.
check_restore() {
    codes_are 204 restore
    [ "$(restored_bytes "$BID")" = "$TSM_BYTES" ] || die "restored $(restored_bytes "$BID") bytes"
}

# restore_kept ENC STREAMS NAME: restores the 6 shards into a new bucket
# NAME (BID, NEW), one stream or two; sets T_S, T_CPU, T_PEAK
# (measure_stop); checks the answers and bytes; the bucket stays.
restore_kept() {
    local enc=$1 streams=$2 dir ext p1 p2
    enc_files "$enc"
    # shellcheck disable=SC2086
    new_bucket "$3" $IDS
    : >"$WORK/codes"
    warm "$dir"/s[1-6]."$ext"
    measure_start
    if [ "$streams" = 1 ]; then
        # shellcheck disable=SC2086
        post_shards "$enc" "$dir" "$ext" "$WORK/codes" $IDS
    else
        post_shards "$enc" "$dir" "$ext" "$WORK/codes" 1 3 5 &
        p1=$!
        post_shards "$enc" "$dir" "$ext" "$WORK/codes" 2 4 6 &
        p2=$!
        wait $p1
        wait $p2
    fi
    sync
    measure_stop
    check_restore
}

# restore_once ENC STREAMS: restore_kept into a new bucket, then deletes it.
restore_once() {
    restore_kept "$1" "$2" "bench-$1-$2-$RANDOM"
    delete_bucket "$BID"
}

# backup_once LEVEL: GET /api/v2/backup/shards/{id} (Accept-Encoding: gzip,
# Gzip-Compression-Level LEVEL) of every shard of bucket SRC_NEW, one after
# the other, bodies to /dev/null; sets T_S, T_CPU, T_PEAK.
backup_once() {
    local o
    : >"$WORK/codes"
    measure_start
    for o in $IDS; do
        curl -sS -o /dev/null -w '%{http_code}\n' -H 'Accept-Encoding: gzip' \
            -H "Gzip-Compression-Level: $1" -H "Authorization: Token $TOKEN" \
            "$TURL/api/v2/backup/shards/${NEW[$o]}" >>"$WORK/codes"
    done
    measure_stop
    codes_are 200 backup
}

# restore_again: the 6 shards (gzip, one stream) posted once more into the
# shards they were restored into (restore_source, restore_kept), timed with
# sync (T_S); GROW: the bytes the data directory grew by (the vault's dedup).
# The answers are left in $WORK/codes for the caller to check.
restore_again() {
    local b0 b1 t0 t1
    sync
    b0=$(du -sb "$TDATA" | cut -f1)
    : >"$WORK/codes"
    t0=$(now)
    # shellcheck disable=SC2086
    post_shards gzip "$DATA/gz" tar.gz "$WORK/codes" $IDS
    sync
    t1=$(now)
    T_S=$(elapsed "$t0" "$t1")
    b1=$(du -sb "$TDATA" | cut -f1)
    GROW=$((b1 - b0))
}

# restore_source: the 6 shards restored once into a bucket for the backups.
restore_source() {
    # shellcheck disable=SC2086
    new_bucket bench-src $IDS
    : >"$WORK/codes"
    # shellcheck disable=SC2086
    post_shards gzip "$DATA/gz" tar.gz "$WORK/codes" $IDS
    [ "$(sort -u "$WORK/codes")" = 204 ] || die "restore for the backup tests failed"
}

# Its own copy of the 6-shard set (not the 1 GB memory shard), so a
# concurrent run.sh regenerating data-v1 cannot pull it away.
ensure_rpc1x_data() { # -> DATA, IDS, TSM_BYTES, TSM_FILES
    DATA=$CACHE/rpc1x-data-v1
    if [ ! -f "$DATA/complete" ]; then
        log "generating the 6-shard set into $DATA"
        "$root/tests/tools/build.sh" "$CACHE/tools" >/dev/null
        gen_set
        touch "$DATA/complete"
    fi
    tsm_set
}
