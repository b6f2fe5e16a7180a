#!/bin/bash
# The container image, built and run (issue 17; docker/README.md).
#
# Starts its own dockerd (no bridge, no iptables: containers use the host's
# network), with its own exec-root and socket under the build directory and
# its data-root in a cache outside it (${TSV_DOCKER_CACHE:-~/.cache/tsvault-docker},
# one run at a time through a lock), so images and layers are reused by the
# next run. Creates debian:bookworm-slim with mmdebstrap from this machine's
# apt sources when the cache lacks it, builds docker/Dockerfile, then with
# docker/compose.yaml:
#   1. `up --exit-code-from client`: the server starts onboarded from the
#      DOCKER_INFLUXDB_INIT_* variables and holding /docker-entrypoint-initdb.d
#      (the 1.6 fixture, a script); the client service's checks pass;
#   2. `up -d` again on the same volume: the init is not applied twice; the
#      fixture is restored through the server's port with the JS client and
#      read back (shard backups, export);
#   3. SIGTERM: the server (behind tini) exits 0 within 2 s.
# Exits 77 (ctest SKIP) when no docker engine can run here, saying why.
set -eu
. "$TSV_SRC/tests/integration/lib.sh"

skip() {
    echo "SKIP: $*"
    exit 77
}

[ "$(id -u)" -eq 0 ] || skip "dockerd must run as root (uid $(id -u))"
for c in dockerd docker docker-compose mmdebstrap flock node; do
    command -v "$c" >/dev/null || skip "$c is not installed (scripts/install-deps.sh installs docker.io, docker-compose and mmdebstrap)"
done
[ -d "$TSV_SRC/tests/integration/node_modules/@influxdata/influxdb-client-apis" ] ||
    fail "the JS client is missing: cd tests/integration && npm ci"

BUILD_DIR=$(cd "$(dirname "$TSVAULT_BIN")" && pwd)
RUN=$BUILD_DIR/docker-it
# Unix socket paths are limited to 107 bytes; containerd's live below RUN.
[ ${#RUN} -le 60 ] || RUN=$TSV_TMP/docker
CACHE=${TSV_DOCKER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tsvault-docker}
mkdir -p "$RUN" "$CACHE"
# One dockerd per data-root: concurrent runs wait for each other.
exec 9>"$CACHE/lock"
flock -w 1800 9 || fail "$CACHE/lock is held by another run for 30 minutes"
rm -rf "$RUN/exec" "$RUN/docker.sock" "$RUN/docker.pid"

export DOCKER_HOST=unix://$RUN/docker.sock
IMAGE=tsvault:it
DC=(docker-compose --ansi never -f "$TSV_SRC/docker/compose.yaml" -p tsvit)
DOCKERD_PID=""
T_START=$(date +%s)

cleanup() {
    rc=$?
    if [ -n "$DOCKERD_PID" ]; then
        if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
            "${DC[@]}" logs --no-color --tail 60 >"$TSV_TMP/compose-logs.log" 2>&1 || true
        fi
        "${DC[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
        # Images replaced by newer builds; a week keeps the builder's cache warm.
        docker image prune -f --filter until=168h >/dev/null 2>&1 || true
        kill -TERM "$DOCKERD_PID" 2>/dev/null || true
        for _ in $(seq 1 200); do
            kill -0 "$DOCKERD_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$DOCKERD_PID" 2>/dev/null || true
        wait "$DOCKERD_PID" 2>/dev/null || true
        if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
            tail -n 30 "$RUN/dockerd.log" >"$TSV_TMP/dockerd-tail.log" 2>/dev/null || true
        fi
    fi
    # dockerd leaves its netns mount behind when it is killed.
    awk -v p="$RUN/exec/" 'index($2, p) == 1 {print $2}' /proc/mounts | sort -r |
        while read -r m; do umount -l "$m" 2>/dev/null || true; done
    rm -rf "$RUN/exec"
    (exit "$rc")
    tsv_cleanup
}
trap cleanup EXIT INT TERM

# ---- the engine -----------------------------------------------------------------
start_dockerd() {
    echo '{}' >"$RUN/daemon.json"
    dockerd --config-file "$RUN/daemon.json" --data-root "$CACHE/data-$1" --exec-root "$RUN/exec" \
        --host "$DOCKER_HOST" --pidfile "$RUN/docker.pid" --iptables=false --ip6tables=false \
        --bridge=none --storage-driver="$1" --log-level=warn >"$RUN/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    for _ in $(seq 1 300); do
        docker version >/dev/null 2>&1 && return 0
        kill -0 "$DOCKERD_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -TERM "$DOCKERD_PID" 2>/dev/null || true
    wait "$DOCKERD_PID" 2>/dev/null || true
    DOCKERD_PID=""
    return 1
}
# overlay2 where the cache's file system allows it, else vfs (slow, but works anywhere).
if start_dockerd overlay2; then
    DRIVER=overlay2
else
    echo "dockerd with overlay2 failed: $(grep -m1 -i 'error\|fail' "$RUN/dockerd.log" || tail -n 1 "$RUN/dockerd.log")"
    start_dockerd vfs || skip "dockerd cannot start here: $(tail -n 3 "$RUN/dockerd.log" | tr '\n' ' ')"
    DRIVER=vfs
fi
pass "dockerd $(docker version -f '{{.Server.Version}}') started (pid $DOCKERD_PID, storage driver $DRIVER, data-root $CACHE/data-$DRIVER)"
# Leftovers of an interrupted run (same project name).
"${DC[@]}" down -v --remove-orphans >/dev/null 2>&1 || true

# ---- the base image ----------------------------------------------------------------
T0=$(date +%s)
if ! docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
    # This machine's own apt sources and its Acquire:: settings (validity of
    # snapshot Release files, proxies), read now: no mirror is written here.
    srcs=()
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && grep -q '^[^#]' "$f" && srcs+=("$f")
    done
    [ ${#srcs[@]} -gt 0 ] || fail "no apt sources in /etc/apt/sources.list(.d)"
    cat /etc/apt/apt.conf /etc/apt/apt.conf.d/* 2>/dev/null | grep -E '^Acquire::.*;[[:space:]]*$' \
        >"$RUN/acquire.conf" || true
    echo "building debian:bookworm-slim with mmdebstrap from ${srcs[*]}"
    # (the system python3 for mmtarfilter: a pyenv shim per package is slow)
    PATH=/usr/sbin:/usr/bin:/sbin:/bin mmdebstrap --variant=apt --format=tar --aptopt="$RUN/acquire.conf" \
        --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-exclude=/usr/share/info/*' \
        bookworm "$CACHE/bookworm-slim.tar" "${srcs[@]}" >"$TSV_TMP/mmdebstrap.log" 2>&1 ||
        fail "mmdebstrap failed: $(tail -n 20 "$TSV_TMP/mmdebstrap.log")"
    docker import --change 'CMD ["bash"]' "$CACHE/bookworm-slim.tar" debian:bookworm-slim >/dev/null
    rm -f "$CACHE/bookworm-slim.tar"
    pass "debian:bookworm-slim created in $(($(date +%s) - T0)) s"
else
    pass "debian:bookworm-slim is cached"
fi
out=$(docker run --rm --network host debian:bookworm-slim sh -c 'echo container-ok' 2>&1) ||
    skip "the engine cannot run a container here: $out"
[ "$out" = container-ok ] || fail "a plain container printed: $out"

# ---- the tsvault image ------------------------------------------------------------------
T0=$(date +%s)
docker build --network host -f "$TSV_SRC/docker/Dockerfile" -t "$IMAGE" "$TSV_SRC" \
    >"$TSV_TMP/docker-build.log" 2>&1 || fail "docker build failed: $(tail -n 40 "$TSV_TMP/docker-build.log")"
BUILD_S=$(($(date +%s) - T0))
SIZE=$(docker image inspect -f '{{.Size}}' "$IMAGE")
pass "image $IMAGE built in $BUILD_S s, $((SIZE / 1000000)) MB ($SIZE bytes)"

cfg=$(docker image inspect -f '{{.Config.User}}|{{json .Config.ExposedPorts}}|{{json .Config.Volumes}}|{{json .Config.Entrypoint}}|{{json .Config.Healthcheck.Test}}' "$IMAGE")
case $cfg in
'tsvault|{"8086/tcp":{},"8088/tcp":{}}|{"/var/lib/tsvault":{}}|["/usr/bin/tini","--",'*'tsvault-healthcheck"]') ;;
*) fail "image configuration: $cfg" ;;
esac
pass "image: user tsvault, ports 8086 8088, volume /var/lib/tsvault, tini, health check"
# The final stage holds no compiler and no headers: only runtime libraries.
docker run --rm --network host --entrypoint sh "$IMAGE" -c \
    'for c in cc gcc cmake make; do command -v $c && exit 1; done; ls /usr/include/*.h 2>/dev/null && exit 1; exit 0' \
    >"$TSV_TMP/final-stage.log" 2>&1 || fail "build tools in the final image: $(cat "$TSV_TMP/final-stage.log")"
pass "no build tools in the final image"

# A bad init configuration stops the container with the reason.
rc=0
docker run --rm --network host -e DOCKER_INFLUXDB_INIT_MODE=setup -e DOCKER_INFLUXDB_INIT_USERNAME=u \
    "$IMAGE" >"$TSV_TMP/bad-init.log" 2>&1 || rc=$?
[ $rc -eq 1 ] && grep -q 'DOCKER_INFLUXDB_INIT_PASSWORD must be set' "$TSV_TMP/bad-init.log" ||
    fail "setup without a password: exit $rc, $(cat "$TSV_TMP/bad-init.log")"
rc=0
docker run --rm --network host -e DOCKER_INFLUXDB_INIT_MODE=setup -e DOCKER_INFLUXDB_INIT_USERNAME=u \
    -e DOCKER_INFLUXDB_INIT_PASSWORD=password1 -e DOCKER_INFLUXDB_INIT_ORG=o -e DOCKER_INFLUXDB_INIT_BUCKET=b \
    -e DOCKER_INFLUXDB_INIT_RETENTION=3x "$IMAGE" >"$TSV_TMP/bad-init.log" 2>&1 || rc=$?
[ $rc -eq 1 ] && grep -q 'DOCKER_INFLUXDB_INIT_RETENTION: not a duration' "$TSV_TMP/bad-init.log" ||
    fail "setup with a bad retention: exit $rc, $(cat "$TSV_TMP/bad-init.log")"
mkdir -p "$TSV_TMP/notabackup"
echo hello >"$TSV_TMP/notabackup/readme.txt"
rc=0
docker run --rm --network host -v "$TSV_TMP/notabackup:/docker-entrypoint-initdb.d/01-data:ro" \
    "$IMAGE" >"$TSV_TMP/bad-init.log" 2>&1 || rc=$?
[ $rc -eq 1 ] && grep -q 'directory without a \*.manifest' "$TSV_TMP/bad-init.log" ||
    fail "an init directory that is not a backup: exit $rc, $(cat "$TSV_TMP/bad-init.log")"
pass "bad init input stops the container with the reason"

# ---- compose: onboarded, fixture from the init directory, client checks --------------------
export TSVAULT_IMAGE=$IMAGE
TSVAULT_PORT=$(tsv_free_port)
TSVAULT_RPC_PORT=$(tsv_free_port)
export TSVAULT_PORT TSVAULT_RPC_PORT
export TSVAULT_ADMIN_TOKEN="it-admin-token-$$"
URL=http://127.0.0.1:$TSVAULT_PORT
T0=$(date +%s)
"${DC[@]}" up --no-build --exit-code-from client >"$TSV_TMP/compose-up.log" 2>&1 ||
    fail "docker-compose up --exit-code-from client failed: $(tail -n 60 "$TSV_TMP/compose-up.log")"
grep -q 'all checks passed' "$TSV_TMP/compose-up.log" || fail "the client's checks did not run: $(cat "$TSV_TMP/compose-up.log")"
CID=$("${DC[@]}" ps -q tsvault)
[ -n "$CID" ] || fail "no tsvault container"
rc=$(docker inspect -f '{{.State.ExitCode}}' "$CID")
[ "$rc" = 0 ] || fail "tsvault stopped by compose exited with $rc"
pass "compose: onboarded, fixture and script applied, client checks passed ($(($(date +%s) - T0)) s)"
grep 'client_1 *| ok - ' "$TSV_TMP/compose-up.log" | sed 's/^/    /'

# ---- the same volume again: init not applied twice; JS client restore through the port ---------
wait_healthy() {
    for _ in $(seq 1 600); do
        st=$(docker inspect -f '{{.State.Health.Status}}' "$CID")
        [ "$st" = healthy ] && return 0
        [ "$(docker inspect -f '{{.State.Running}}' "$CID")" = true ] || fail "tsvault exited: $(docker logs --tail 30 "$CID" 2>&1)"
        sleep 0.1
    done
    fail "tsvault not healthy after 60 s (status $st)"
}
T0=$(date +%s%N)
"${DC[@]}" up -d --no-build tsvault >"$TSV_TMP/compose-up2.log" 2>&1 ||
    fail "docker-compose up -d: $(cat "$TSV_TMP/compose-up2.log")"
[ "$("${DC[@]}" ps -q tsvault)" = "$CID" ] || fail "compose created a new container instead of restarting it"
wait_healthy
pass "restarted and healthy in $((($(date +%s%N) - T0) / 1000000)) ms"
docker logs "$CID" >"$TSV_TMP/container.log" 2>&1
[ "$(grep -c 'docker-entrypoint: onboarded' "$TSV_TMP/container.log")" = 1 ] || fail "onboarding not exactly once"
[ "$(grep -c 'docker-entrypoint: already initialized' "$TSV_TMP/container.log")" = 1 ] ||
    fail "the second start did not skip the init: $(tail -n 20 "$TSV_TMP/container.log")"
pass "second start: setup and init directory not applied again"

docker top "$CID" -eo uid,pid,args >"$TSV_TMP/top" || fail "docker top"
grep -q '^10001 .*/usr/bin/tini -- /usr/local/bin/docker-entrypoint.sh serve' "$TSV_TMP/top" &&
    grep -q '^10001 .*/usr/local/bin/tsvault serve' "$TSV_TMP/top" ||
    fail "processes in the container: $(cat "$TSV_TMP/top")"
pass "tini and tsvault run as uid 10001"

node "$TSV_SRC/tests/integration/docker_js_restore.mjs" "$URL" "$TSVAULT_ADMIN_TOKEN" >"$TSV_TMP/js.log" 2>&1 ||
    fail "JS client restore through $URL: $(cat "$TSV_TMP/js.log")"
pass "JS client: $(tail -n 1 "$TSV_TMP/js.log")"
"$TSVAULT_BIN" export --host "$URL" --token "$TSVAULT_ADMIN_TOKEN" --org fixture-org --bucket fixture_autogen \
    --db fixture --out "$TSV_TMP/autogen.lp" 2>"$TSV_TMP/export.err" || fail "export: $(cat "$TSV_TMP/export.err")"
cmp "$TSV_TMP/autogen.lp" "$TSV_TESTDATA/influxdb-1.6-portable/expected/export-autogen.lp" ||
    fail "fixture_autogen restored through the container exports differently"
pass "fixture_autogen exports exactly as the fixture ($(wc -l <"$TSV_TMP/autogen.lp") lines)"

# ---- SIGTERM: through tini to the server, clean exit within 2 s -----------------------------------
# From just before the signal is sent to the container's own end (the
# engine's FinishedAt), so the CLI's start-up for `docker wait` is not counted.
T0=$(date +%s%N)
docker kill -s TERM "$CID" >/dev/null
rc=$(docker wait "$CID")
FIN=$(date -d "$(docker inspect -f '{{.State.FinishedAt}}' "$CID")" +%s%N)
MS=$(((FIN - T0) / 1000000))
[ "$rc" = 0 ] || fail "exit code $rc after SIGTERM: $(docker logs --tail 20 "$CID" 2>&1)"
[ "$MS" -le 2000 ] || fail "the container took $MS ms to stop after SIGTERM"
docker logs "$CID" 2>&1 | tail -n 3 | grep -q 'msg=stopped' || fail "no clean shutdown in the log: $(docker logs --tail 5 "$CID" 2>&1)"
pass "SIGTERM: tsvault stopped cleanly (exit 0) in $MS ms"

pass "docker test done in $(($(date +%s) - T_START)) s"
