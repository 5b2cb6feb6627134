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
