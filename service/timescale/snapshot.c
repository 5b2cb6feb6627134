/* timescale/snapshot.c - the TimescaleDB metrics snapshot: a few catalog queries on one borrowed
 * connection, run by the pool's maintenance thread, pre-rendered as tspool_timescaledb_* families
 * so that a scrape copies text and never reaches the database.
 * SPDX-License-Identifier: MIT
 */
#include "timescale_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tspool/clock.h"
#include "tspool/db.h"
#include "tspool/dbinfo.h"
#include "tspool/log.h"

/* The results one refresh renders. */
struct snap_results {
    bool installed;
    struct tsp_db_result *hypertables;
    struct tsp_db_result *jobs;
    struct tsp_db_result *aggregates; /* NULL without continuous aggregates */
    struct tsp_db_result *workers;
};

static void family(struct tsp_strbuf *sb, const char *name, const char *type, const char *help)
{
    tsp_strbuf_printf(sb, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value in the exposition's escaping (backslash, double quote, newline). */
static void put_label(struct tsp_strbuf *sb, const char *key, const char *value)
{
    tsp_strbuf_printf(sb, "%s=\"", key);
    for (const char *p = value != NULL ? value : ""; *p != '\0'; p++) {
        if (*p == '\\' || *p == '"') {
            tsp_strbuf_putc(sb, '\\');
            tsp_strbuf_putc(sb, *p);
        } else if (*p == '\n') {
            tsp_strbuf_puts(sb, "\\n");
        } else {
            tsp_strbuf_putc(sb, *p);
        }
    }
    tsp_strbuf_putc(sb, '"');
}

static const char *val(const struct tsp_db_result *res, int row, const char *col)
{
    return tsp_db_result_value(res, row, tsp_db_result_col(res, col));
}

/* One sample per hypertable row: the value of column col (rows where it is NULL are left out;
 * only_with: rows where that boolean column is true). */
static void hypertable_family(struct tsp_strbuf *sb, const struct tsp_db_result *res,
                              const char *name, const char *type, const char *help, const char *col,
                              const char *only_with)
{
    int rows = tsp_db_result_rows(res);

    family(sb, name, type, help);
    for (int i = 0; i < rows; i++) {
        const char *v = val(res, i, col);
        if (v == NULL ||
            (only_with != NULL && !tsp_db_result_bool(res, i, tsp_db_result_col(res, only_with)))) {
            continue;
        }
        tsp_strbuf_printf(sb, "%s{", name);
        put_label(sb, "hypertable", val(res, i, "hypertable"));
        tsp_strbuf_printf(sb, "} %s\n", v);
    }
}

/* One sample per job row (labels job_id, proc, hypertable); value column col, or for a
 * boolean column 1/0. only_with as above. */
static void job_family(struct tsp_strbuf *sb, const struct tsp_db_result *res, const char *name,
                       const char *type, const char *help, const char *col, bool boolean,
                       const char *only_with)
{
    int rows = tsp_db_result_rows(res);

    family(sb, name, type, help);
    for (int i = 0; i < rows; i++) {
        const char *v = val(res, i, col);
        if (v == NULL ||
            (only_with != NULL && !tsp_db_result_bool(res, i, tsp_db_result_col(res, only_with)))) {
            continue;
        }
        tsp_strbuf_printf(sb, "%s{", name);
        put_label(sb, "job_id", val(res, i, "job_id"));
        tsp_strbuf_putc(sb, ',');
        put_label(sb, "proc", val(res, i, "proc_name"));
        tsp_strbuf_putc(sb, ',');
        put_label(sb, "hypertable", val(res, i, "hypertable"));
        tsp_strbuf_printf(sb, "} %s\n", boolean ? (strcmp(v, "t") == 0 ? "1" : "0") : v);
    }
}

static void render(struct tsp_strbuf *sb, const struct snap_results *r)
{
    family(sb, "tspool_timescaledb_installed", "gauge",
           "1 when the timescaledb extension is installed in the pool's database.");
    tsp_strbuf_printf(sb, "tspool_timescaledb_installed %d\n", r->installed ? 1 : 0);
    if (!r->installed) {
        return;
    }
    hypertable_family(sb, r->hypertables, "tspool_timescaledb_hypertable_chunks", "gauge",
                      "Chunks of the hypertable.", "chunks", NULL);
    hypertable_family(sb, r->hypertables, "tspool_timescaledb_hypertable_compressed_chunks",
                      "gauge", "Compressed chunks of the hypertable.", "compressed_chunks", NULL);
    hypertable_family(sb, r->hypertables, "tspool_timescaledb_hypertable_before_compression_bytes",
                      "gauge",
                      "Size of the compressed chunks before compression (heap, TOAST and indexes).",
                      "before_bytes", NULL);
    hypertable_family(sb, r->hypertables, "tspool_timescaledb_hypertable_after_compression_bytes",
                      "gauge", "Size of the compressed chunks after compression.", "after_bytes",
                      NULL);
    hypertable_family(sb, r->hypertables,
                      "tspool_timescaledb_hypertable_newest_chunk_end_timestamp_seconds", "gauge",
                      "Range end of the newest chunk (time-partitioned hypertables).", "newest_end",
                      NULL);
    hypertable_family(sb, r->hypertables,
                      "tspool_timescaledb_hypertable_oldest_chunk_end_timestamp_seconds", "gauge",
                      "Range end of the oldest chunk (time-partitioned hypertables).", "oldest_end",
                      NULL);
    hypertable_family(sb, r->hypertables,
                      "tspool_timescaledb_hypertable_uncompressed_overdue_chunks", "gauge",
                      "Uncompressed chunks that ended before now minus the compression policy's "
                      "compress_after (hypertables with an interval compression policy).",
                      "overdue_chunks", "has_policy");
    job_family(sb, r->jobs, "tspool_timescaledb_job_scheduled", "gauge",
               "1 when the job is scheduled (not paused).", "scheduled", true, NULL);
    job_family(sb, r->jobs, "tspool_timescaledb_job_last_run_success", "gauge",
               "1 when the scheduler's last run of the job succeeded, 0 when it failed (jobs "
               "that have run).",
               "last_run_success", true, "ran");
    job_family(sb, r->jobs, "tspool_timescaledb_job_last_success_timestamp_seconds", "gauge",
               "When the scheduler's last successful run of the job finished.", "last_success",
               false, NULL);
    job_family(sb, r->jobs, "tspool_timescaledb_job_next_start_timestamp_seconds", "gauge",
               "When the scheduler starts the job next (scheduled jobs).", "next_start", false,
               NULL);
    job_family(sb, r->jobs, "tspool_timescaledb_job_consecutive_failures", "gauge",
               "Failed scheduler runs of the job since its last success.", "consecutive_failures",
               false, NULL);
    job_family(sb, r->jobs, "tspool_timescaledb_job_runs_total", "counter",
               "Runs of the job by the scheduler.", "total_runs", false, NULL);
    job_family(sb, r->jobs, "tspool_timescaledb_job_failures_total", "counter",
               "Failed runs of the job by the scheduler.", "total_failures", false, NULL);
    if (r->aggregates != NULL) {
        int rows = tsp_db_result_rows(r->aggregates);
        family(sb, "tspool_timescaledb_continuous_aggregate_watermark_lag_seconds", "gauge",
               "How far the continuous aggregate's materialisation watermark lies behind now "
               "(time-based aggregates with materialised data).");
        for (int i = 0; i < rows; i++) {
            tsp_strbuf_puts(sb, "tspool_timescaledb_continuous_aggregate_watermark_lag_seconds{");
            put_label(sb, "aggregate", val(r->aggregates, i, "aggregate"));
            tsp_strbuf_printf(sb, "} %s\n", val(r->aggregates, i, "lag"));
        }
    }
    if (tsp_db_result_rows(r->workers) == 1 &&
        val(r->workers, 0, "max_background_workers") != NULL) {
        family(sb, "tspool_timescaledb_background_workers_max", "gauge",
               "timescaledb.max_background_workers: workers for the scheduler and its jobs.");
        tsp_strbuf_printf(sb, "tspool_timescaledb_background_workers_max %s\n",
                          val(r->workers, 0, "max_background_workers"));
        family(sb, "tspool_timescaledb_worker_processes_max", "gauge",
               "PostgreSQL's max_worker_processes.");
        tsp_strbuf_printf(sb, "tspool_timescaledb_worker_processes_max %s\n",
                          val(r->workers, 0, "max_worker_processes"));
        family(sb, "tspool_timescaledb_jobs_scheduled", "gauge",
               "Jobs scheduled; above background_workers_max - 1 (the scheduler's own worker) "
               "some wait for a worker.");
        tsp_strbuf_printf(sb, "tspool_timescaledb_jobs_scheduled %s\n",
                          val(r->workers, 0, "jobs_scheduled"));
    }
}

/* The server's connection budget (what the "headroom below zero" alert watches): through its
 * own short lease after the snapshot's is back, so one connection is enough. Left out when it
 * cannot be had; it never fails the snapshot. */
static void render_headroom(struct tsp_ts *ts, struct tsp_strbuf *sb)
{
    struct tsp_pool_stats stats;
    struct tsp_dbinfo_server_view view;
    struct tsp_error err;

    tsp_error_init(&err);
    tsp_pool_stats(ts->pool, &stats);
    if (tsp_dbinfo_server_view(ts->pool, NULL, TSP_TS_SNAPSHOT_BORROW_MS, &stats, &view, &err) !=
        TSP_OK) {
        return;
    }
    family(sb, "tspool_db_max_connections", "gauge", "The server's max_connections.");
    tsp_strbuf_printf(sb, "tspool_db_max_connections %d\n", view.max_connections);
    family(sb, "tspool_db_client_connections", "gauge",
           "Client backends on the server (all databases and users).");
    tsp_strbuf_printf(sb, "tspool_db_client_connections %lld\n", view.client_connections);
    family(sb, "tspool_db_connection_headroom", "gauge",
           "Connections left on the server once this pool has opened all it may (size + "
           "overflow); below zero a full pool meets \"too many connections\".");
    tsp_strbuf_printf(sb, "tspool_db_connection_headroom %lld\n", view.headroom_at_full_pool);
}

/* Bound the next statement by what is left of the deadline (server side). */
static enum tsp_code set_deadline(struct tsp_ts_op *op, int64_t deadline_ms, struct tsp_error *err)
{
    char ms[24];
    const char *params[1] = {ms};
    int64_t left = deadline_ms - tsp_clock_mono_ms();

    if (left <= 0) {
        return tsp_error_set(err, TSP_TIMEOUT, NULL, "TimescaleDB snapshot: its deadline passed");
    }
    snprintf(ms, sizeof(ms), "%lld", (long long)left);
    return tsp_db_exec(op->lease, "SELECT set_config('statement_timeout', $1, true)", 1, params,
                       NULL, err);
}

/* Run one built statement under the deadline into *res, then release it. */
static enum tsp_code timed_query(struct tsp_ts_op *op, int64_t deadline_ms, enum tsp_code built,
                                 struct tsp_ts_stmt *stmt, struct tsp_db_result **res,
                                 struct tsp_error *err)
{
    enum tsp_code rc = built;

    if (rc == TSP_OK) {
        rc = set_deadline(op, deadline_ms, err);
    }
    if (rc == TSP_OK) {
        rc = tsp_ts_op_query(op, stmt, res, err);
    }
    tsp_ts_stmt_fini(stmt);
    return rc;
}

/* The catalog queries, in one read-only transaction on op's lease. */
static enum tsp_code collect(struct tsp_ts_op *op, long budget_ms, struct snap_results *r,
                             struct tsp_error *err)
{
    int64_t deadline_ms = tsp_clock_mono_ms() + budget_ms;
    const char *fschema =
        op->caps.version_num >= 21200 ? "_timescaledb_functions" : "_timescaledb_internal";
    struct tsp_ts_stmt stmt = {0};
    enum tsp_code rc = tsp_db_exec(op->lease, "BEGIN READ ONLY", 0, NULL, NULL, err);

    if (rc != TSP_OK) {
        return rc;
    }
    rc = timed_query(op, deadline_ms, tsp_ts_sql_snapshot_hypertables(&stmt, err), &stmt,
                     &r->hypertables, err);
    if (rc == TSP_OK) {
        rc = timed_query(op, deadline_ms, tsp_ts_sql_snapshot_jobs(&stmt, err), &stmt, &r->jobs,
                         err);
    }
    if (rc == TSP_OK && op->caps.continuous_aggregates) {
        rc = timed_query(op, deadline_ms, tsp_ts_sql_snapshot_aggregates(fschema, &stmt, err),
                         &stmt, &r->aggregates, err);
    }
    if (rc == TSP_OK) {
        rc = timed_query(op, deadline_ms, tsp_ts_sql_workers(&stmt, err), &stmt, &r->workers, err);
    }
    if (rc == TSP_OK) {
        rc = tsp_db_exec(op->lease, "COMMIT", 0, NULL, NULL, err);
    } else {
        /* best effort: the pool rolls back a connection returned inside a transaction anyway */
        struct tsp_error ignored;
        enum tsp_code ignored_rc;
        tsp_error_init(&ignored);
        ignored_rc = tsp_db_exec(op->lease, "ROLLBACK", 0, NULL, NULL, &ignored);
        (void)ignored_rc;
    }
    return rc;
}

/* Store the outcome of one refresh (text: the new families on success, else NULL). */
static void publish(struct tsp_ts *ts, char *text, size_t len, bool skipped, double duration_s,
                    const struct tsp_error *err)
{
    pthread_mutex_lock(&ts->obs_lock);
    ts->snap_duration_s = duration_s;
    ts->snap_skipped = skipped;
    if (text != NULL) {
        free(ts->snap_text);
        ts->snap_text = text;
        ts->snap_len = len;
        ts->snap_ok = true;
        ts->snap_ok_real_ms = tsp_clock_real_ms();
        ts->snap_error[0] = '\0';
    } else {
        ts->snap_ok = false;
        ts->snap_failures++;
        snprintf(ts->snap_error, sizeof(ts->snap_error), "%s", err != NULL ? err->detail : "");
    }
    pthread_mutex_unlock(&ts->obs_lock);
}

enum tsp_code tsp_ts_snapshot_refresh(struct tsp_ts *ts, struct tsp_error *err)
{
    struct tsp_ts_ctx ctx = {.timeout_ms = TSP_TS_SNAPSHOT_BORROW_MS};
    struct tsp_pool_health health;
    struct tsp_ts_op op;
    struct snap_results r;
    struct tsp_strbuf sb = {0};
    struct tsp_error local;
    struct tsp_log_ctx log = {.event = "timescale.snapshot", .conn_id = -1};
    int64_t t0 = tsp_clock_mono_ns();
    char *text = NULL;
    size_t len = 0;
    long budget_ms = 0;
    enum tsp_code rc = TSP_OK;

    memset(&r, 0, sizeof(r));
    memset(&op, 0, sizeof(op));
    tsp_error_init(&local);
    tsp_pool_health(ts->pool, &health);
    if (health.checked && !health.ok) {
        rc =
            tsp_error_set(&local, TSP_DB_UNAVAILABLE, NULL,
                          "TimescaleDB snapshot skipped: the database is down (%s)", health.detail);
        publish(ts, NULL, 0, true, 0.0, &local);
        goto done;
    }
    pthread_mutex_lock(&ts->obs_lock);
    budget_ms =
        ts->snapshot_deadline_ms > 0 ? ts->snapshot_deadline_ms : TSP_TS_SNAPSHOT_DEADLINE_MS;
    pthread_mutex_unlock(&ts->obs_lock);
    rc = tsp_ts_op_begin(&op, ts, &ctx, "snapshot", TSP_TS_FEATURE_NONE, &local);
    if (rc == TSP_OK) {
        r.installed = op.caps.installed;
        if (r.installed) {
            rc = collect(&op, budget_ms, &r, &local);
        }
    }
    tsp_ts_op_end(&op);
    if (rc == TSP_OK) {
        render(&sb, &r);
        render_headroom(ts, &sb);
        text = tsp_strbuf_take(&sb, &len);
        if (text == NULL) {
            rc = tsp_error_set(&local, TSP_NO_MEMORY, NULL, "out of memory rendering the snapshot");
        }
    }
    publish(ts, text, len, false, (double)(tsp_clock_mono_ns() - t0) / 1e9, &local);
    if (rc != TSP_OK) {
        TSP_LOG_WARN(&log, "TimescaleDB snapshot failed: %s", local.detail);
    }
done:
    if (rc != TSP_OK) {
        (void)tsp_error_set(err, rc, local.field[0] != '\0' ? local.field : NULL, "%s",
                            local.detail);
        tsp_error_set_sqlstate(err, local.sqlstate);
    }
    tsp_db_result_free(r.hypertables);
    tsp_db_result_free(r.jobs);
    tsp_db_result_free(r.aggregates);
    tsp_db_result_free(r.workers);
    tsp_strbuf_fini(&sb);
    tsp_ts_op_end(&op);
    return rc;
}

static void snapshot_task(void *ctx)
{
    struct tsp_error err;
    enum tsp_code rc;

    tsp_error_init(&err);
    /* a failure is logged and shown in tspool_timescaledb_snapshot_success */
    rc = tsp_ts_snapshot_refresh(ctx, &err);
    (void)rc;
}

void tsp_ts_snapshot_start(struct tsp_ts *ts, long interval_ms)
{
    if (ts == NULL) {
        return;
    }
    pthread_mutex_lock(&ts->obs_lock);
    ts->snapshot_interval_ms = interval_ms > 0 ? interval_ms : 0;
    /* half the period: a refresh never runs into the next one, however many hypertables */
    ts->snapshot_deadline_ms = interval_ms / 2;
    if (ts->snapshot_deadline_ms < TSP_TS_SNAPSHOT_DEADLINE_MS) {
        ts->snapshot_deadline_ms = TSP_TS_SNAPSHOT_DEADLINE_MS;
    }
    if (ts->snapshot_deadline_ms > TSP_TS_SNAPSHOT_DEADLINE_MAX_MS) {
        ts->snapshot_deadline_ms = TSP_TS_SNAPSHOT_DEADLINE_MAX_MS;
    }
    pthread_mutex_unlock(&ts->obs_lock);
    tsp_pool_set_task(ts->pool, snapshot_task, ts, interval_ms);
}

void tsp_ts_snapshot_metrics(struct tsp_ts *ts, struct tsp_strbuf *sb)
{
    if (ts == NULL) {
        return;
    }
    pthread_mutex_lock(&ts->obs_lock);
    if (ts->snapshot_interval_ms <= 0) {
        pthread_mutex_unlock(&ts->obs_lock);
        return;
    }
    family(sb, "tspool_timescaledb_snapshot_success", "gauge",
           "1 when the last TimescaleDB snapshot refresh succeeded (the series below are from "
           "the last good one).");
    tsp_strbuf_printf(sb, "tspool_timescaledb_snapshot_success %d\n", ts->snap_ok ? 1 : 0);
    family(sb, "tspool_timescaledb_snapshot_timestamp_seconds", "gauge",
           "When the last good TimescaleDB snapshot was taken; 0 = never.");
    tsp_strbuf_printf(sb, "tspool_timescaledb_snapshot_timestamp_seconds %.3f\n",
                      (double)ts->snap_ok_real_ms / 1000.0);
    family(sb, "tspool_timescaledb_snapshot_duration_seconds", "gauge",
           "How long the last TimescaleDB snapshot refresh took.");
    tsp_strbuf_printf(sb, "tspool_timescaledb_snapshot_duration_seconds %.6f\n",
                      ts->snap_duration_s);
    family(sb, "tspool_timescaledb_snapshot_failures_total", "counter",
           "TimescaleDB snapshot refreshes that failed or were skipped (database down).");
    tsp_strbuf_printf(sb, "tspool_timescaledb_snapshot_failures_total %llu\n",
                      (unsigned long long)ts->snap_failures);
    if (ts->snap_text != NULL) {
        tsp_strbuf_append(sb, ts->snap_text, ts->snap_len);
    }
    pthread_mutex_unlock(&ts->obs_lock);
}
