#!/usr/bin/env bash
# run.sh - `make run`: tspool serve on 127.0.0.1:8080 against the development PostgreSQL.
# SPDX-License-Identifier: MIT
#
# usage: scripts/run.sh <tspool binary> <devdb dir>
# Loads `scripts/devdb.sh env` (DB_HOST, DB_PORT, ...) into the environment unless already set,
# prints the URLs to try and execs `tspool serve` (Ctrl-C drains and stops it).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${1:?usage: scripts/run.sh <tspool binary> <devdb dir>}"
devdb="${2:?usage: scripts/run.sh <tspool binary> <devdb dir>}"

[ -x "$bin" ] || { echo "run.sh: $bin is not an executable (run 'make build')" >&2; exit 1; }

while IFS='=' read -r name value; do
    [ -n "$name" ] || continue
    if [ -z "${!name:-}" ]; then
        export "$name=$value"
    fi
done < <(TSPOOL_DEVDB_DIR="$devdb" "$repo/scripts/devdb.sh" env)

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
tspool serving on ${base} (database ${DB_HOST}:${DB_PORT}; Ctrl-C stops it)

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
exec "$bin" serve
