#!/usr/bin/env bash
# valgrind_serve.sh - a short `tspool serve` session under valgrind memcheck: start against the
# PostgreSQL test server, answer a round of requests (probes, status, ping, metrics, config,
# errors), SIGTERM, and require exit 0 with no errors and no definite or indirect leaks.
# SPDX-License-Identifier: MIT
#
# usage: valgrind_serve.sh <tspool binary built without sanitizers> <test database dir>
set -euo pipefail
bin=${1:?tspool binary}
pgdir=${2:?test database dir}
command -v valgrind >/dev/null || { echo "valgrind_serve: valgrind is not installed" >&2; exit 1; }
work=$(mktemp -d /tmp/tspool-vg-XXXXXX)
trap 'rm -rf "$work"' EXIT
port=
for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || { echo "valgrind_serve: no free loopback port" >&2; exit 1; }
base="http://127.0.0.1:$port"
token=valgrind-admin-token

env -i PATH="$PATH" HOME="$work" \
    DB_HOST=127.0.0.1 DB_PORT="$(cat "$pgdir/port")" DB_PASS="$(cat "$pgdir/password")" \
    DB_SSLMODE=disable DB_APPLICATION_NAME=tspool_vg DB_MIN_CONNS=2 \
    TSPOOL_LISTEN="127.0.0.1:$port" TSPOOL_ADMIN_TOKEN="$token" TSPOOL_SHUTDOWN_DELAY=0 \
    TSPOOL_HEALTH_INTERVAL_MS=200 TSPOOL_HTTP_THREADS=8 \
    valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect --error-exitcode=3 --track-fds=no \
    --log-file="$work/valgrind.log" "$bin" serve >"$work/out.log" 2>&1 &
pid=$!

up=0
for _ in $(seq 1 300); do
    if curl -fsS -o /dev/null "$base/livez" 2>/dev/null; then up=1; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
[ "$up" = 1 ] || { echo "valgrind_serve: tspool did not come up" >&2; cat "$work/out.log" "$work/valgrind.log" >&2; exit 1; }

for _ in 1 2 3; do
    for path in /livez /readyz /readyz?verbose /startupz /healthz /pool/status \
        '/pool/status?detailed=true' /pool/ping /metrics /openapi.yaml /nope; do
        curl -sS -o /dev/null "$base$path"
    done
    curl -sS -o /dev/null -H "Authorization: Bearer $token" "$base/config"
    curl -sS -o /dev/null -H "Authorization: Bearer wrong" "$base/config"
    curl -sS -o /dev/null -X PATCH -H "Authorization: Bearer $token" \
        -H 'Content-Type: application/json' -d '{"size": 3}' "$base/pool"
    curl -sS -o /dev/null -X PATCH -H "Authorization: Bearer $token" \
        -H 'Content-Type: application/json' -d '{"size": ' "$base/pool"
    curl -sS -o /dev/null -X DELETE "$base/pool/status"
done

kill -TERM "$pid"
status=0
wait "$pid" || status=$?
summary=$(grep -E "ERROR SUMMARY|in use at exit|All heap blocks|definitely lost|indirectly lost|possibly lost" "$work/valgrind.log" | sed 's/^==[0-9]*== *//')
echo "valgrind_serve: exit $status; $(echo "$summary" | tr '\n' ';')"
if [ "$status" != 0 ]; then
    cat "$work/valgrind.log" >&2
    exit 1
fi
