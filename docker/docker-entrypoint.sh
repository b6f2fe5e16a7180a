#!/bin/sh
# tsvault's container entrypoint: a drop-in for the influxdb:2 image's start-up
# in test setups (docker/README.md, docs/operations.md "Running in Docker").
#
# At the first start of a data directory, before the real server runs:
#   1. DOCKER_INFLUXDB_INIT_MODE=setup onboards the server with
#      DOCKER_INFLUXDB_INIT_USERNAME/_PASSWORD/_ORG/_BUCKET/_RETENTION/_ADMIN_TOKEN
#      (POST /api/v2/setup, the server's own onboarding);
#   2. every entry of /docker-entrypoint-initdb.d, in name order, is applied:
#      a backup directory or archive is staged (Files API) and restored by a
#      restore job, as `influx restore` would (every non-system bucket); a
#      *.sh script runs with INFLUX_HOST and INFLUX_TOKEN set.
# Both go through a temporary tsvault on a free loopback port with a random
# operator token that is never stored. Each finished step leaves a marker in
# <data-dir>/docker-init/, so a restart after a failure resumes where it
# stopped and a later start does nothing; `complete` marks the end.
# Then the server is exec'd, so tini (PID 1) hands SIGTERM straight to it.
set -eu
export LC_ALL=C

TSVAULT=${TSVAULT_BIN:-/usr/local/bin/tsvault}
INITDB_DIR=${TSVAULT_INITDB_DIR:-/docker-entrypoint-initdb.d}

log() { printf '%s docker-entrypoint: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

# ---- which command -----------------------------------------------------------
[ $# -gt 0 ] || set -- serve
case $1 in
-*) set -- serve "$@" ;;
serve) ;;
export | stats | verify | version | help) exec "$TSVAULT" "$@" ;;
*) exec "$@" ;;
esac
for a in "$@"; do
    case $a in
    --help | -h | help | --version | version) exec "$TSVAULT" "$@" ;;
    esac
done

# The data directory as the server will see it (flag over variable).
data_dir=${TSVAULT_DATA_DIR:-./tsvault-data}
prev=
for a in "$@"; do
    [ "$prev" = --data-dir ] && data_dir=$a
    case $a in --data-dir=*) data_dir=${a#--data-dir=} ;; esac
    prev=$a
done
state=$data_dir/docker-init

mode=${DOCKER_INFLUXDB_INIT_MODE:-}
case $mode in
'' | setup) ;;
upgrade) die "DOCKER_INFLUXDB_INIT_MODE=upgrade is not supported: put the 1.x backup (influxd backup -portable) in $INITDB_DIR instead" ;;
*) die "DOCKER_INFLUXDB_INIT_MODE must be \"setup\" (or unset), got \"$mode\"" ;;
esac

has_entries=no
for f in "$INITDB_DIR"/*; do
    [ -e "$f" ] && has_entries=yes && break
done
if [ -z "$mode" ] && [ $has_entries = no ]; then
    exec "$TSVAULT" "$@"
fi
if [ -e "$state/complete" ]; then
    log "already initialized ($state/complete): setup and $INITDB_DIR are not applied again"
    exec "$TSVAULT" "$@"
fi

# ---- checks before anything is started -------------------------------------------

# json_str VALUE: VALUE as a JSON string literal (control characters refused).
json_str() {
    if printf '%s' "$1" | grep -q '[[:cntrl:]]'; then
        return 1
    fi
    printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"
}

# retention_seconds DURATION: the influx CLI's duration (1w, 72h, 30d, 1h30m,
# units s m h d w; empty or 0 = infinite) in seconds.
retention_seconds() {
    rest=$1 total=0
    case $rest in '' | 0) echo 0 && return 0 ;; esac
    while [ -n "$rest" ]; do
        num=$(expr "x$rest" : 'x\([0-9]\{1,12\}\)') || return 1
        rest=${rest#"$num"}
        unit=$(expr "x$rest" : 'x\([a-z]\)') || return 1
        rest=${rest#"$unit"}
        case $unit in
        s) mul=1 ;;
        m) mul=60 ;;
        h) mul=3600 ;;
        d) mul=86400 ;;
        w) mul=604800 ;;
        *) return 1 ;;
        esac
        total=$((total + num * mul))
    done
    echo "$total"
}

# Secrets may come from files (the *_FILE convention of official images).
for v in PASSWORD ADMIN_TOKEN; do
    eval "file=\${DOCKER_INFLUXDB_INIT_${v}_FILE:-}"
    if [ -n "$file" ]; then
        [ -r "$file" ] || die "DOCKER_INFLUXDB_INIT_${v}_FILE: cannot read $file"
        eval "DOCKER_INFLUXDB_INIT_${v}=\$(cat \"\$file\")"
    fi
done

if [ "$mode" = setup ]; then
    for v in USERNAME PASSWORD ORG BUCKET; do
        eval "val=\${DOCKER_INFLUXDB_INIT_$v:-}"
        [ -n "$val" ] || die "DOCKER_INFLUXDB_INIT_$v must be set when DOCKER_INFLUXDB_INIT_MODE=setup"
    done
    retention=$(retention_seconds "${DOCKER_INFLUXDB_INIT_RETENTION:-}") ||
        die "DOCKER_INFLUXDB_INIT_RETENTION: not a duration (e.g. 1w, 72h, 30d, 1h30m; 0 = infinite): \"${DOCKER_INFLUXDB_INIT_RETENTION:-}\""
fi

# ---- the temporary server ------------------------------------------------------------
mkdir -p "$state" || die "cannot create $state (is the data directory writable by $(id -un)?)"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tsvault-init.XXXXXX")
init_pid=
cleanup() {
    if [ -n "$init_pid" ] && kill -0 "$init_pid" 2>/dev/null; then
        kill -TERM "$init_pid" 2>/dev/null || true
        wait "$init_pid" 2>/dev/null || true
    fi
    if [ -s "$tmp/server.log" ]; then
        sed 's/^/init-server: /' "$tmp/server.log" >&2
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'log "signal received during initialization"; exit 143' TERM INT

token=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
"$TSVAULT" "$@" --http-bind-address 127.0.0.1:0 --rpc-bind-address "" \
    --operator-token "$token" >"$tmp/server.log" 2>&1 &
init_pid=$!
port=
waited=0
limit=$((${TSVAULT_INIT_START_TIMEOUT:-120} * 10))
while [ -z "$port" ]; do
    # (a child that exited stays a zombie until the shell reaps it)
    st=$(cut -d' ' -f3 "/proc/$init_pid/stat" 2>/dev/null || echo gone)
    case $st in gone | Z) die "tsvault exited during start-up" ;; esac
    [ $waited -lt $limit ] || die "tsvault did not start within ${TSVAULT_INIT_START_TIMEOUT:-120}s"
    port=$(sed -n 's/.*msg=listening.* port=\([0-9]*\).*/\1/p' "$tmp/server.log" | tail -n 1)
    [ -n "$port" ] || sleep 0.1
    waited=$((waited + 1))
done
base=http://127.0.0.1:$port
log "initializing $data_dir through a temporary server on $base"

# api METHOD PATH [curl args...]: the reply body on stdout; an HTTP error stops.
api() {
    method=$1 path=$2
    shift 2
    code=$(curl -sS -o "$tmp/reply" -w '%{http_code}' -X "$method" \
        -H "Authorization: Token $token" "$@" "$base$path") ||
        die "$method $path: curl failed"
    case $code in
    2??) cat "$tmp/reply" ;;
    *) die "$method $path: HTTP $code: $(head -c 1000 "$tmp/reply")" ;;
    esac
}
# field NAME: the last string value of "NAME" in the JSON on stdin.
field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p"; }

admin_token=$token
if [ "$mode" = setup ]; then
    allowed=$(api GET /api/v2/setup)
    if printf '%s' "$allowed" | grep -q '"allowed":true'; then
        u=$(json_str "$DOCKER_INFLUXDB_INIT_USERNAME") || die "DOCKER_INFLUXDB_INIT_USERNAME holds a control character"
        p=$(json_str "$DOCKER_INFLUXDB_INIT_PASSWORD") || die "DOCKER_INFLUXDB_INIT_PASSWORD holds a control character"
        o=$(json_str "$DOCKER_INFLUXDB_INIT_ORG") || die "DOCKER_INFLUXDB_INIT_ORG holds a control character"
        b=$(json_str "$DOCKER_INFLUXDB_INIT_BUCKET") || die "DOCKER_INFLUXDB_INIT_BUCKET holds a control character"
        t=
        if [ -n "${DOCKER_INFLUXDB_INIT_ADMIN_TOKEN:-}" ]; then
            t=$(json_str "$DOCKER_INFLUXDB_INIT_ADMIN_TOKEN") || die "DOCKER_INFLUXDB_INIT_ADMIN_TOKEN holds a control character"
            t=",\"token\":$t"
        fi
        # The body holds the password: a file in the private temp directory,
        # not a command-line argument.
        printf '{"username":%s,"password":%s,"org":%s,"bucket":%s,"retentionPeriodSeconds":%s%s}' \
            "$u" "$p" "$o" "$b" "$retention" "$t" >"$tmp/setup.json"
        reply=$(api POST /api/v2/setup -H 'Content-Type: application/json' \
            --data-binary "@$tmp/setup.json")
        admin_token=$(printf '%s' "$reply" | field token)
        rm -f "$tmp/setup.json"
        [ -n "$admin_token" ] || die "POST /api/v2/setup answered no token"
        log "onboarded: user \"$DOCKER_INFLUXDB_INIT_USERNAME\", org \"$DOCKER_INFLUXDB_INIT_ORG\", bucket \"$DOCKER_INFLUXDB_INIT_BUCKET\" (retention ${retention}s)"
    else
        log "already onboarded: DOCKER_INFLUXDB_INIT_MODE=setup skipped"
        admin_token=${DOCKER_INFLUXDB_INIT_ADMIN_TOKEN:-$token}
    fi
fi

# restore_archive PATH NAME: stage the archive and restore it with a job.
restore_archive() {
    ln -s "$1" "$tmp/upload"
    api POST /api/v2/files -F "file=@$tmp/upload;filename=$2" >"$tmp/file.json"
    rm -f "$tmp/upload"
    fmt=$(field dataFormat <"$tmp/file.json")
    case $fmt in
    influx-backup | influxdb1-portable) ;;
    *)
        api DELETE "/api/v2/files/$2" >/dev/null
        die "$1 is not a backup (its content is \"$fmt\"; expected an influx backup or influxd backup -portable directory or archive)"
        ;;
    esac
    reply=$(api POST /api/v2/jobs -H 'Content-Type: application/json' \
        --data-binary "{\"type\":\"restore\",\"source\":{\"type\":\"file\",\"fileName\":\"$2\"},\"target\":{\"type\":\"bucket\"}}")
    job=$(printf '%s' "$reply" | sed -n 's/^{"id":"\([^"]*\)".*/\1/p')
    [ -n "$job" ] || die "POST /api/v2/jobs answered no job id"
    while :; do
        reply=$(api GET "/api/v2/jobs/$job")
        st=$(printf '%s' "$reply" | field executionStatus)
        case $st in
        completed) break ;;
        failed | canceled)
            api GET "/api/v2/jobs/$job/logs" >&2 || true
            die "restoring $1 ($fmt): job $job $st"
            ;;
        esac
        sleep 0.2
    done
    api DELETE "/api/v2/files/$2" >/dev/null
    log "restored $1 ($fmt, job $job)"
}

n=0
for f in "$INITDB_DIR"/*; do
    [ -e "$f" ] || continue
    n=$((n + 1))
    name=$(basename "$f")
    safe=$(printf '%s' "$name" | tr -c 'A-Za-z0-9._-' '_')
    marker=$state/$(printf '%03d' $n)-$safe.done
    if [ -e "$marker" ]; then
        log "$f: already applied"
        continue
    fi
    case $f in
    *.sh)
        log "running $f"
        if [ -x "$f" ]; then
            INFLUX_HOST=$base INFLUX_TOKEN=$admin_token INFLUX_ORG=${DOCKER_INFLUXDB_INIT_ORG:-} "$f" ||
                die "$f failed (exit $?)"
        else
            INFLUX_HOST=$base INFLUX_TOKEN=$admin_token INFLUX_ORG=${DOCKER_INFLUXDB_INIT_ORG:-} sh "$f" ||
                die "$f failed (exit $?)"
        fi
        ;;
    *.tar | *.tar.gz | *.tgz | *.tar.zst | *.tzst | *.zip)
        restore_archive "$f" "init-$n-$safe"
        ;;
    *)
        if [ -d "$f" ]; then
            ls "$f"/*.manifest >/dev/null 2>&1 ||
                die "$f is a directory without a *.manifest: not an influx backup or influxd backup -portable directory"
            tar -C "$f" -cf "$tmp/dir.tar" . || die "cannot read $f"
            restore_archive "$tmp/dir.tar" "init-$n-$safe.tar"
            rm -f "$tmp/dir.tar"
        else
            log "ignoring $f (not a *.sh script, a backup archive or a backup directory)"
        fi
        ;;
    esac
    : >"$marker"
done

date -u +%Y-%m-%dT%H:%M:%SZ >"$state/complete"
sync "$state/complete" "$state" 2>/dev/null || sync

# Stop the temporary server cleanly before the real one takes the data directory.
kill -TERM "$init_pid"
rc=0
wait "$init_pid" || rc=$?
init_pid=
[ $rc -eq 0 ] || die "the temporary server exited with $rc"
trap - EXIT TERM INT
sed 's/^/init-server: /' "$tmp/server.log" >&2
rm -rf "$tmp"
log "initialization complete"
exec "$TSVAULT" "$@"
