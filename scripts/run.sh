#!/usr/bin/env bash
# run.sh - `make run`: tspool serve on 127.0.0.1:8080 against the development PostgreSQL, or
# with --tsdb (`make run TSDB=1`) against a TimescaleDB server with demo data and a generator.
# SPDX-License-Identifier: MIT
#
# usage: scripts/run.sh <tspool binary> <devdb dir>
#        scripts/run.sh --tsdb <tspool binary> <state dir>
# Loads the database's DB_* settings into the environment unless already set, prints the URLs to
# try and execs `tspool serve` (Ctrl-C drains and stops it).
# --tsdb starts the native PostgreSQL 15 + TimescaleDB (scripts/tsdb-native.sh; its first start
# builds TimescaleDB, a few minutes) when its source tarball is there, else the PGlite TimescaleDB
# (scripts/tsdb.sh), loads scripts/tsdb-demo.sh's hypertable and runs its data generator.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tsdb=0
if [ "${1:-}" = --tsdb ]; then
    tsdb=1
    shift
fi
bin="${1:?usage: scripts/run.sh [--tsdb] <tspool binary> <devdb or state dir>}"
devdb="${2:?usage: scripts/run.sh [--tsdb] <tspool binary> <devdb or state dir>}"

[ -x "$bin" ] || { echo "run.sh: $bin is not an executable (run 'make build')" >&2; exit 1; }

load_env() {
    while IFS='=' read -r name value; do
        [ -n "$name" ] || continue
        if [ -z "${!name:-}" ]; then
            export "$name=$value"
        fi
    done
}

server="PostgreSQL 15"
if [ "$tsdb" = 1 ]; then
    state=$devdb
    if [ "${TSPOOL_RUN_PGLITE:-0}" != 1 ] && "$repo/scripts/tsdb-native.sh" available >/dev/null; then
        server="PostgreSQL 15 + TimescaleDB 2.28.3 (scripts/tsdb-native.sh)"
        devdb=$state/tsdb-native
        TSPOOL_TSDB_NATIVE_DIR=$devdb "$repo/scripts/tsdb-native.sh" start
        load_env < <(TSPOOL_TSDB_NATIVE_DIR=$devdb "$repo/scripts/tsdb-native.sh" env)
    else
        server="PGlite with TimescaleDB (scripts/tsdb.sh; one connection at a time, no job scheduler)"
        devdb=$state/tsdb
        TSPOOL_TSDB_DIR=$devdb "$repo/scripts/tsdb.sh" start
        # "host=127.0.0.1 port=N dbname=... user=... password=... sslmode=disable"
        load_env < <(TSPOOL_TSDB_DIR=$devdb "$repo/scripts/tsdb.sh" dsn | tr ' ' '\n' |
            sed -e 's/^host=/DB_HOST=/' -e 's/^port=/DB_PORT=/' -e 's/^dbname=/DB_NAME=/' \
                -e 's/^user=/DB_USER=/' -e 's/^password=/DB_PASS=/' -e 's/^sslmode=/DB_SSLMODE=/')
        # PGlite's one backend belongs to one connection until it closes: a pooled idle
        # connection would lock the generator out, so connect per request
        export DB_POOL_MODE="${DB_POOL_MODE:-direct}"
    fi
    dsn="host=$DB_HOST port=$DB_PORT dbname=$DB_NAME user=$DB_USER password=$DB_PASS sslmode=disable"
    "$repo/scripts/tsdb-demo.sh" load "$dsn"
    # the generator stops by itself when this process (tspool after the exec below) ends
    setsid "$repo/scripts/tsdb-demo.sh" generate "$dsn" $$ </dev/null >"$devdb/generator.log" 2>&1 &
else
    load_env < <(TSPOOL_DEVDB_DIR="$devdb" "$repo/scripts/devdb.sh" env)
fi

export TSPOOL_LISTEN="${TSPOOL_LISTEN:-127.0.0.1:8080}"
export TSPOOL_ENV="${TSPOOL_ENV:-development}"
export TSPOOL_LOG_FORMAT="${TSPOOL_LOG_FORMAT:-text}"
export TSPOOL_SHUTDOWN_DELAY="${TSPOOL_SHUTDOWN_DELAY:-0}"
base="http://${TSPOOL_LISTEN}"

# A development admin token, made once and kept under the devdb directory, so that /config and
# the pool controls can be tried; set TSPOOL_ADMIN_TOKEN(_FILE) yourself to use another.
if [ -z "${TSPOOL_ADMIN_TOKEN:-}" ] && [ -z "${TSPOOL_ADMIN_TOKEN_FILE:-}" ]; then
    token_file="$devdb/admin-token"
    if [ ! -s "$token_file" ]; then
        (umask 077 && od -An -tx1 -N16 /dev/urandom | tr -d ' \n' >"$token_file")
    fi
    export TSPOOL_ADMIN_TOKEN_FILE="$token_file"
fi
if [ -n "${TSPOOL_ADMIN_TOKEN_FILE:-}" ]; then
    admin_header="Authorization: Bearer \$(cat ${TSPOOL_ADMIN_TOKEN_FILE})"
else
    admin_header="Authorization: Bearer \$TSPOOL_ADMIN_TOKEN"
fi

cat <<MSG
tspool serving on ${base} (database ${DB_HOST}:${DB_PORT}, ${server}; Ctrl-C stops it)

  dashboard: open ${base}/ in a browser

  curl -s '${base}/readyz?verbose'
  curl -s ${base}/pool/status | jq .
  curl -s '${base}/pool/status?detailed=true' | jq .
  curl -s ${base}/pool/ping
  curl -s ${base}/metrics
  curl -s ${base}/openapi.yaml
  curl -s -H "${admin_header}" ${base}/config | jq .
  curl -s -X POST -H "${admin_header}" ${base}/pool/recycle
  ${bin} status --detailed --url ${base}
  ${bin} probe ready --url ${base}
MSG
if [ "$tsdb" = 1 ]; then
    cat <<MSG

  TimescaleDB (hypertable metrics, a reading per device every second; the dashboard's
  TimescaleDB section shows it):
  curl -s ${base}/timescaledb | jq .
  curl -s ${base}/hypertables/metrics | jq .
  curl -s '${base}/hypertables/metrics/chunks?compressed=false' | jq .
  curl -s ${base}/jobs | jq .
  curl -s -X POST -H "${admin_header}" -H 'Content-Type: application/json' \\
       ${base}/hypertables/metrics/compress -d '{"older_than": "3 days"}' | jq .
  curl -s -X POST -H "${admin_header}" -H 'Content-Type: application/json' \\
       ${base}/aggregates/metrics_hourly/refresh -d '{"start": null, "end": null}' | jq .
MSG
fi
echo

exec "$bin" serve
