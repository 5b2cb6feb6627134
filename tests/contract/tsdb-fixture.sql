-- tsdb-fixture.sql - what the contract test's TimescaleDB operations work on: a hypertable
-- `metrics` (daily chunks, 40 days of data, compression enabled) so that every documented
-- example in openapi.yaml (hypertable `metrics`, device_id, ts, value) names something real.
-- SPDX-License-Identifier: MIT
DROP TABLE IF EXISTS metrics CASCADE;
CREATE TABLE metrics (ts timestamptz NOT NULL, device_id integer NOT NULL, value double precision);
SELECT create_hypertable('metrics', 'ts', chunk_time_interval => interval '1 day');
INSERT INTO metrics
SELECT t, d, random() * 100
FROM generate_series(now() - interval '40 days', now(), interval '1 hour') AS t,
     generate_series(1, 3) AS d;
ALTER TABLE metrics SET (timescaledb.compress, timescaledb.compress_segmentby = 'device_id',
                         timescaledb.compress_orderby = 'ts DESC');
-- a plain table for createHypertable's example, and a reorder policy on the default index
DROP TABLE IF EXISTS readings CASCADE;
CREATE TABLE readings (ts timestamptz NOT NULL, sensor integer, value double precision);
SELECT add_reorder_policy('metrics', 'metrics_ts_idx');
-- what the GET examples name besides `metrics`: its compression and retention policies and a
-- continuous aggregate `metrics_hourly` with a refresh policy (job 3, the examples' job id, is
-- TimescaleDB's own job history retention job)
SELECT add_retention_policy('metrics', INTERVAL '90 days');
SELECT add_compression_policy('metrics', INTERVAL '7 days');
CREATE MATERIALIZED VIEW metrics_hourly WITH (timescaledb.continuous) AS
SELECT time_bucket(INTERVAL '1 hour', ts) AS bucket, device_id, avg(value) AS avg_value
FROM metrics GROUP BY 1, 2 WITH NO DATA;
SELECT add_continuous_aggregate_policy('metrics_hourly', start_offset => INTERVAL '3 days',
                                       end_offset => INTERVAL '1 hour',
                                       schedule_interval => INTERVAL '1 hour');
