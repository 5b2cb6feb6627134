#!/usr/bin/env bash
# tsdb-demo.sh - demo data for `make run TSDB=1`: a `metrics` hypertable with two weeks of
# history, compression settings with the older week compressed, compression and retention
# policies, an hourly continuous aggregate with its refresh policy, and a generator that adds a
# reading per device every second while tspool runs.
# SPDX-License-Identifier: MIT
#
# usage: scripts/tsdb-demo.sh load DSN         create (or keep) the demo objects
#        scripts/tsdb-demo.sh generate DSN PID  insert readings every second while PID lives
set -euo pipefail

psql_bin=$(command -v psql || echo /usr/lib/postgresql/15/bin/psql)

die() {
    echo "tsdb-demo: $*" >&2
    exit 1
}

sql() { # dsn, then SQL on stdin
    "$psql_bin" "$1" -X -q -v ON_ERROR_STOP=1 >/dev/null
}

load() {
    local dsn=$1
    sql "$dsn" <<'SQL' || die "cannot create the demo hypertable (see the messages above)"
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE TABLE IF NOT EXISTS metrics (
    ts        timestamptz      NOT NULL,
    device_id integer          NOT NULL,
    value     double precision NOT NULL
);
SELECT create_hypertable('metrics', 'ts', chunk_time_interval => INTERVAL '1 day',
                         if_not_exists => true);
-- two weeks of history, one reading per device every ten minutes, once
INSERT INTO metrics (ts, device_id, value)
SELECT t, d, 20 + 10 * sin(extract(epoch FROM t) / 3600 + d) + random()
FROM generate_series(now() - INTERVAL '14 days', now() - INTERVAL '10 minutes',
                     INTERVAL '10 minutes') AS t,
     generate_series(1, 10) AS d
WHERE NOT EXISTS (SELECT 1 FROM metrics LIMIT 1);
ALTER TABLE metrics SET (timescaledb.compress, timescaledb.compress_segmentby = 'device_id',
                         timescaledb.compress_orderby = 'ts DESC');
SELECT count(compress_chunk(c, if_not_compressed => true))
FROM show_chunks('metrics', older_than => INTERVAL '7 days') AS c;
SELECT add_compression_policy('metrics', INTERVAL '7 days', if_not_exists => true);
SELECT add_retention_policy('metrics', INTERVAL '90 days', if_not_exists => true);
SQL
    # a continuous aggregate cannot be created inside a transaction block
    if ! "$psql_bin" "$dsn" -X -q -t -A -c \
        "SELECT 1 FROM timescaledb_information.continuous_aggregates WHERE view_name = 'metrics_hourly'" |
        grep -q 1; then
        sql "$dsn" <<'SQL' || die "cannot create the demo continuous aggregate"
CREATE MATERIALIZED VIEW metrics_hourly WITH (timescaledb.continuous) AS
SELECT time_bucket(INTERVAL '1 hour', ts) AS bucket, device_id, avg(value) AS avg_value
FROM metrics GROUP BY bucket, device_id WITH NO DATA;
SELECT add_continuous_aggregate_policy('metrics_hourly', start_offset => INTERVAL '3 days',
                                       end_offset => INTERVAL '1 hour',
                                       schedule_interval => INTERVAL '1 hour');
SQL
    fi
    echo "tsdb-demo: hypertable metrics (10 devices, 14 days, the older week compressed), compression and retention policies, continuous aggregate metrics_hourly"
}

generate() {
    local dsn=$1 owner=$2
    while kill -0 "$owner" 2>/dev/null; do
        echo "INSERT INTO metrics (ts, device_id, value)
              SELECT now(), d, 20 + 10 * sin(extract(epoch FROM now()) / 3600 + d) + random()
              FROM generate_series(1, 10) AS d;" | sql "$dsn" || true
        sleep 1
    done
}

case "${1:-}" in
load) load "${2:?usage: tsdb-demo.sh load DSN}" ;;
generate) generate "${2:?usage: tsdb-demo.sh generate DSN PID}" "${3:?usage: tsdb-demo.sh generate DSN PID}" ;;
*)
    echo "usage: $0 load DSN | generate DSN PID" >&2
    exit 2
    ;;
esac
