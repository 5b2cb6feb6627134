/* timescale/sql_obs.c - pure SQL builders of what tspool watches: the background-worker
 * budget, job runs and failures, and the catalog queries of the metrics snapshot.
 * SPDX-License-Identifier: MIT
 */
#include "timescale_int.h"

#include <stdio.h>
#include <string.h>

enum tsp_code tsp_ts_sql_workers(struct tsp_ts_stmt *out, struct tsp_error *err)
{
    return tsp_ts_stmt_simple(
        out,
        "SELECT current_setting('timescaledb.max_background_workers', true)::integer "
        "AS max_background_workers, "
        "current_setting('max_worker_processes')::integer AS max_worker_processes, "
        "(SELECT count(*) FROM timescaledb_information.jobs WHERE scheduled) AS jobs_scheduled",
        0, NULL, NULL, err);
}

/* The lower bound of ?since= as SQL, its value bound as parameter n of out (text appended to
 * sb). Returns the parameter number (1 when nothing was bound), or 0. */
static int since_expr(const char *since, struct tsp_ts_stmt *out, struct tsp_strbuf *sb,
                      struct tsp_error *err)
{
    const char *cast = since != NULL ? tsp_ts_time_cast(since) : "interval";
    int n = 0;

    if (since != NULL && (since[0] == '\0' || strcmp(cast, "bigint") == 0)) {
        (void)tsp_error_set(err, TSP_INVALID, "since",
                            "since must be a timestamp (2026-01-01T00:00:00Z) or an interval "
                            "(1 hour), got \"%s\"",
                            since);
        return 0;
    }
    if (since == NULL) {
        tsp_strbuf_puts(sb, "(now() - interval '24 hours')");
        return 1;
    }
    n = tsp_ts_stmt_param(out, since, "since");
    if (strcmp(cast, "timestamptz") == 0) {
        tsp_strbuf_printf(sb, "$%d::timestamptz", n);
    } else {
        tsp_strbuf_printf(sb, "(now() - $%d::interval)", n);
    }
    if (n == 0) {
        (void)tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory building SQL");
    }
    return n;
}

enum tsp_code tsp_ts_sql_since(const char *since, struct tsp_ts_stmt *out, struct tsp_error *err)
{
    struct tsp_strbuf sb = {0};
    int n = 0;

    memset(out, 0, sizeof(*out));
    tsp_strbuf_puts(&sb, "SELECT extract(epoch FROM ");
    n = since_expr(since, out, &sb, err);
    if (n == 0) {
        tsp_strbuf_fini(&sb);
        tsp_ts_stmt_fini(out);
        return err != NULL ? err->code : TSP_INVALID;
    }
    tsp_strbuf_puts(&sb, ")::float8 AS since_s");
    return tsp_ts_stmt_finish(&sb, true, out, err);
}

enum tsp_code tsp_ts_sql_job_runs(long long job_id, const char *since, bool history_view,
                                  struct tsp_ts_stmt *out, struct tsp_error *err)
{
    struct tsp_strbuf sb = {0};
    char id[24];
    int n = 0;

    memset(out, 0, sizeof(*out));
    if (job_id > 2147483647LL) {
        return tsp_error_set(err, TSP_INVALID, "id", "job id must be between 0 and 2147483647");
    }
    tsp_strbuf_printf(&sb,
                      "SELECT job_id, proc_name, start_time::text AS started_at, "
                      "finish_time::text AS finished_at, "
                      "extract(epoch FROM start_time)::float8 AS started_s, %s AS succeeded, "
                      "sqlerrcode, err_message, pid, "
                      "(extract(epoch FROM finish_time - start_time) * 1000)::bigint "
                      "AS duration_ms FROM timescaledb_information.%s WHERE ",
                      history_view ? "succeeded" : "false",
                      history_view ? "job_history" : "job_errors");
    if (job_id >= 0) {
        snprintf(id, sizeof(id), "%lld", job_id);
        n = tsp_ts_stmt_param(out, id, "id");
        tsp_strbuf_printf(&sb, "job_id = $%d::integer ", n);
    } else {
        tsp_strbuf_puts(&sb, history_view ? "NOT succeeded AND " : "");
        tsp_strbuf_puts(&sb, "start_time >= ");
        n = since_expr(since, out, &sb, err);
        if (n == 0) {
            tsp_strbuf_fini(&sb);
            tsp_ts_stmt_fini(out);
            return err != NULL ? err->code : TSP_INVALID;
        }
        tsp_strbuf_puts(&sb, " ");
    }
    tsp_strbuf_printf(&sb, "ORDER BY start_time DESC, job_id LIMIT %d", TSP_TS_HISTORY_MAX);
    return tsp_ts_stmt_finish(&sb, n != 0, out, err);
}

enum tsp_code tsp_ts_sql_snapshot_hypertables(struct tsp_ts_stmt *out, struct tsp_error *err)
{
    /* one pass over the chunks and one over the compression catalog, grouped: the cost is a
     * few scans whatever the number of hypertables, and the sizes are the catalog figures
     * hypertable_compression_stats() adds up */
    return tsp_ts_stmt_simple(
        out,
        "WITH ch AS MATERIALIZED (SELECT hypertable_schema AS s, hypertable_name AS n, "
        "is_compressed, range_end FROM timescaledb_information.chunks), "
        "pol AS (SELECT hypertable_schema AS s, hypertable_name AS n, "
        "(config->>'compress_after')::interval AS after FROM timescaledb_information.jobs "
        "WHERE proc_name = 'policy_compression' "
        "AND jsonb_typeof(config->'compress_after') = 'string'), "
        "agg AS (SELECT ch.s, ch.n, count(*) AS chunks, "
        "count(*) FILTER (WHERE ch.is_compressed) AS compressed_chunks, "
        "extract(epoch FROM max(ch.range_end))::float8 AS newest_end, "
        "extract(epoch FROM min(ch.range_end))::float8 AS oldest_end, "
        "count(*) FILTER (WHERE NOT ch.is_compressed AND pol.after IS NOT NULL "
        "AND ch.range_end < now() - pol.after) AS overdue_chunks "
        "FROM ch LEFT JOIN pol ON pol.s = ch.s AND pol.n = ch.n GROUP BY ch.s, ch.n), "
        "sz AS (SELECT h.schema_name AS s, h.table_name AS n, "
        "sum(z.uncompressed_heap_size + z.uncompressed_toast_size + z.uncompressed_index_size) "
        "AS before_bytes, "
        "sum(z.compressed_heap_size + z.compressed_toast_size + z.compressed_index_size) "
        "AS after_bytes "
        "FROM _timescaledb_catalog.compression_chunk_size z "
        "JOIN _timescaledb_catalog.chunk c ON c.id = z.chunk_id "
        "JOIN _timescaledb_catalog.hypertable h ON h.id = c.hypertable_id "
        "GROUP BY h.schema_name, h.table_name) "
        "SELECT ht.hypertable_schema || '.' || ht.hypertable_name AS hypertable, "
        "COALESCE(agg.chunks, 0) AS chunks, COALESCE(agg.compressed_chunks, 0) "
        "AS compressed_chunks, COALESCE(sz.before_bytes, 0) AS before_bytes, "
        "COALESCE(sz.after_bytes, 0) AS after_bytes, agg.newest_end, agg.oldest_end, "
        "COALESCE(agg.overdue_chunks, 0) AS overdue_chunks, pol.after IS NOT NULL AS has_policy "
        "FROM timescaledb_information.hypertables ht "
        "LEFT JOIN agg ON agg.s = ht.hypertable_schema AND agg.n = ht.hypertable_name "
        "LEFT JOIN sz ON sz.s = ht.hypertable_schema AND sz.n = ht.hypertable_name "
        "LEFT JOIN pol ON pol.s = ht.hypertable_schema AND pol.n = ht.hypertable_name "
        "ORDER BY 1",
        0, NULL, NULL, err);
}

enum tsp_code tsp_ts_sql_snapshot_jobs(struct tsp_ts_stmt *out, struct tsp_error *err)
{
    return tsp_ts_stmt_simple(
        out,
        "SELECT j.job_id, j.proc_name, "
        "COALESCE(j.hypertable_schema || '.' || j.hypertable_name, '') AS hypertable, "
        "j.scheduled, b.job_id IS NOT NULL AND b.total_runs > 0 AS ran, "
        "COALESCE(b.last_run_success, false) AS last_run_success, "
        "CASE WHEN isfinite(b.last_successful_finish) "
        "THEN extract(epoch FROM b.last_successful_finish)::float8 END AS last_success, "
        "CASE WHEN j.scheduled AND isfinite(COALESCE(b.next_start, j.next_start)) "
        "THEN extract(epoch FROM COALESCE(b.next_start, j.next_start))::float8 END "
        "AS next_start, COALESCE(b.total_runs, 0) AS total_runs, "
        "COALESCE(b.total_failures, 0) AS total_failures, "
        "COALESCE(b.consecutive_failures, 0) AS consecutive_failures "
        "FROM timescaledb_information.jobs j "
        "LEFT JOIN _timescaledb_internal.bgw_job_stat b ON b.job_id = j.job_id "
        "ORDER BY j.job_id",
        0, NULL, NULL, err);
}

enum tsp_code tsp_ts_sql_snapshot_aggregates(const char *functions_schema, struct tsp_ts_stmt *out,
                                             struct tsp_error *err)
{
    struct tsp_strbuf sb = {0};

    memset(out, 0, sizeof(*out));
    if (strcmp(functions_schema, "_timescaledb_functions") != 0 &&
        strcmp(functions_schema, "_timescaledb_internal") != 0) {
        return tsp_error_set(err, TSP_INTERNAL, NULL, "unknown functions schema");
    }
    /* time-based aggregates only; a watermark still at the start of time (nothing
     * materialised yet) has no meaningful lag and is left out; the watermark is the end of the
     * newest materialised bucket, which may lie ahead of now() (no lag) */
    tsp_strbuf_printf(
        &sb,
        "SELECT c.user_view_schema || '.' || c.user_view_name AS aggregate, "
        "GREATEST(0, extract(epoch FROM now() - %s.to_timestamp(w.wm)))::float8 AS lag "
        "FROM _timescaledb_catalog.continuous_agg c "
        "JOIN _timescaledb_catalog.dimension d "
        "ON d.hypertable_id = c.mat_hypertable_id "
        "CROSS JOIN LATERAL (SELECT %s.cagg_watermark(c.mat_hypertable_id) AS wm) w "
        "WHERE d.column_type IN ('timestamptz'::regtype, 'timestamp'::regtype, "
        "'date'::regtype) AND w.wm > -210866803200000000 "
        "ORDER BY 1",
        functions_schema, functions_schema);
    return tsp_ts_stmt_finish(&sb, true, out, err);
}
