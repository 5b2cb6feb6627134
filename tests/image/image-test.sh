#!/usr/bin/env bash
# image-test.sh - runs the tspool image (made by `make image`) with podman against the PostgreSQL
# test server and checks it as Kubernetes would use it: /readyz from outside, the Dockerfile's
# HEALTHCHECK inside, a non-root numeric user on a read-only root filesystem, the password from a
# mounted file, `tspool probe ready` inside, SIGTERM draining to exit 0 within the delays, and
# the image size.
# SPDX-License-Identifier: MIT
#
# Usage: tests/image/image-test.sh TESTDB_DIR   (scripts/devdb.sh started there)
# Env:   TSPOOL_IMAGE (default localhost/tspool:<version>), TSPOOL_IMAGE_MAX_MB (default 160)
set -uo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
dbdir=${1:?usage: image-test.sh TESTDB_DIR}
version=$(sed -n 's/^project(tspool VERSION \([0-9.]*\).*/\1/p' "$here/CMakeLists.txt")
image=${TSPOOL_IMAGE:-localhost/tspool:$version}
max_mb=${TSPOOL_IMAGE_MAX_MB:-160}
name=tspool-image-test-$$
delay=2
grace=5
passed=0
failed=0
work=$(mktemp -d "${TMPDIR:-/tmp}/tspool-image-test.XXXXXX")

# podman without systemd cannot schedule the HEALTHCHECK timer; it says so on every start
podman_q() { podman "$@" 2> >(grep -v 'unable to get systemd connection' >&2); }

cleanup() {
    podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

ok() {
    echo "ok - $1"
    passed=$((passed + 1))
}
not_ok() {
    echo "not ok - $1"
    failed=$((failed + 1))
}
check() { # description command...
    local what=$1
    shift
    if "$@"; then ok "$what"; else not_ok "$what"; fi
}

free_port() {
    node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'
}

wait_status() { # url status timeout_s
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1")" = "$2" ] && return 0
        sleep 0.1
    done
    return 1
}

podman image exists "$image" || { echo "image-test: no image $image: run make image" >&2; exit 1; }
[ -f "$dbdir/port" ] && [ -f "$dbdir/password" ] || { echo "image-test: no test database in $dbdir" >&2; exit 1; }
dbport=$(cat "$dbdir/port")
port=$(free_port)
install -m 0644 "$dbdir/password" "$work/db-password"

# the limits are given explicitly: the runtime's defaults exceed the hard limits on some hosts
podman_q run -d --name "$name" --runtime runc --network host --read-only \
    --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 \
    -v "$work/db-password:/run/secrets/tspool/db-password:ro" \
    -e DB_HOST=127.0.0.1 -e "DB_PORT=$dbport" -e DB_USER=postgres -e DB_NAME=postgres \
    -e DB_PASS_FILE=/run/secrets/tspool/db-password -e DB_SSLMODE=disable -e DB_MIN_CONNS=2 \
    -e "TSPOOL_LISTEN=127.0.0.1:$port" -e TSPOOL_HEALTH_INTERVAL_MS=500 \
    -e "TSPOOL_SHUTDOWN_DELAY=$delay" -e "TSPOOL_SHUTDOWN_GRACE=$grace" \
    "$image" >/dev/null || { echo "image-test: podman run failed" >&2; exit 1; }

base=http://127.0.0.1:$port
check "/readyz answers 200 from outside the container" wait_status "$base/readyz" 200 60
check "/pool/status answers 200 from outside" wait_status "$base/pool/status" 200 5

# the HEALTHCHECK the image carries (format docker keeps it), run as the runtime would
hc=$(podman image inspect --format '{{json .Config.Healthcheck.Test}}' "$image")
check "the image carries the Dockerfile's HEALTHCHECK (tspool probe live): $hc" \
    test "$hc" = '["CMD","tspool","probe","live"]'
check "podman healthcheck run (the HEALTHCHECK command inside the container) passes" \
    sh -c "podman healthcheck run '$name' >/dev/null 2>&1"
check "the HEALTHCHECK command itself exits 0 when run by hand inside" sh -c "podman exec '$name' tspool probe live >/dev/null"
check "tspool probe ready passes inside the container" sh -c "podman exec '$name' tspool probe ready >/dev/null"

uid=$(podman exec "$name" sh -c 'id -u'; true)
gid=$(podman exec "$name" sh -c 'id -g'; true)
check "runs as the non-root numeric user 10001:10001 (got $uid:$gid)" test "$uid:$gid" = "10001:10001"
check "the image's USER is numeric (10001:10001)" \
    test "$(podman image inspect --format '{{.Config.User}}' "$image")" = "10001:10001"
check "the root filesystem is read-only" test "$(podman inspect --format '{{.HostConfig.ReadonlyRootfs}}' "$name")" = true
check "writing to the root filesystem fails" sh -c "! podman exec '$name' sh -c 'echo x > /usr/local/bin/x' 2>/dev/null"
check "the password came from the mounted file (no DB_PASS in the environment)" \
    sh -c "! podman exec '$name' sh -c 'env | grep -q ^DB_PASS='"
check "/readyz?verbose shows db ok" sh -c "curl -s '$base/readyz?verbose' | grep -q '\[+\]db ok'"

# SIGTERM: readiness fails at once, requests still answered during the delay, exit 0 in time
start=$(date +%s%N)
podman kill --signal TERM "$name" >/dev/null
check "after SIGTERM /readyz answers 503 (readiness off, still serving)" wait_status "$base/readyz" 503 3
check "after SIGTERM /livez still answers 200 during the delay" wait_status "$base/livez" 200 1
code=$(timeout $((delay + grace + 20)) podman wait "$name" 2>/dev/null | tail -n 1)
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
check "exits with status 0 after SIGTERM (got '$code')" test "$code" = 0
check "exits within TSPOOL_SHUTDOWN_DELAY + TSPOOL_SHUTDOWN_GRACE + 5 s (took ${elapsed_ms} ms)" \
    test "$elapsed_ms" -le $(((delay + grace + 5) * 1000))
logs=$(podman logs "$name" 2>&1)
check "the log shows the drain and the pool closing" \
    sh -c "printf '%s' \"\$1\" | grep -q '\"event\":\"serve.draining\"' && printf '%s' \"\$1\" | grep -q '\"event\":\"serve.stopped\"'" _ "$logs"
check "no password in the log" sh -c "! printf '%s' \"\$1\" | grep -qF \"\$2\"" _ "$logs" "$(cat "$work/db-password")"

size=$(podman image inspect --format '{{.Size}}' "$image")
size_mb=$(awk -v s="$size" 'BEGIN {printf "%.1f", s / 1000000}')
echo "image size: $image $size_mb MB (budget $max_mb MB)"
check "the image is at most $max_mb MB ($size_mb MB)" awk -v s="$size" -v m="$max_mb" 'BEGIN {exit !(s <= m * 1000000)}'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
