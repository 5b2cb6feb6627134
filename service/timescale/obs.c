/* timescale/obs.c - what tspool lets an operator watch on demand: the background-worker budget
 * of GET /timescaledb, a job's runs and the recent failures (the server's history merged with
 * tspool's own run_job outcomes, which the server does not keep).
 * SPDX-License-Identifier: MIT
 */
#include "timescale_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tspool/clock.h"
#include "tspool/db.h"

/* ---- tspool's own runs -------------------------------------------------------------------- */

/* "2026-12-04 17:00:00.123+00", as PostgreSQL prints a timestamptz in UTC. */
static void format_utc(int64_t real_ms, char *dst, size_t size)
{
    time_t secs = (time_t)(real_ms / 1000);
    struct tm tm;

    gmtime_r(&secs, &tm);
    snprintf(dst, size, "%04d-%02d-%02d %02d:%02d:%02d.%03d+00", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(real_ms % 1000));
}

void tsp_ts_runs_record(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx, long long job_id,
                        const char *proc_name, int64_t started_real_ms, long long duration_ms,
                        enum tsp_code rc, const struct tsp_error *err)
{
    struct tsp_ts_job_run run;

    memset(&run, 0, sizeof(run));
    run.job_id = job_id;
    snprintf(run.source, sizeof(run.source), "tspool");
    snprintf(run.proc_name, sizeof(run.proc_name), "%s", proc_name != NULL ? proc_name : "");
    format_utc(started_real_ms, run.started_at, sizeof(run.started_at));
    format_utc(started_real_ms + duration_ms, run.finished_at, sizeof(run.finished_at));
    run.started_s = (double)started_real_ms / 1000.0;
    run.succeeded = rc == TSP_OK;
    if (rc != TSP_OK && err != NULL) {
        snprintf(run.sqlstate, sizeof(run.sqlstate), "%s", err->sqlstate);
        snprintf(run.error, sizeof(run.error), "%s", err->detail);
    }
    if (ctx != NULL && ctx->request_id != NULL) {
        snprintf(run.request_id, sizeof(run.request_id), "%s", ctx->request_id);
    }
    run.duration_ms = duration_ms;
    pthread_mutex_lock(&ts->obs_lock);
    ts->runs[ts->runs_next] = run;
    ts->runs_next = (ts->runs_next + 1) % TSP_TS_RUN_LOG;
    if (ts->nruns < TSP_TS_RUN_LOG) {
        ts->nruns++;
    }
    pthread_mutex_unlock(&ts->obs_lock);
}

/* tspool's runs of job_id (< 0: failed runs of every job started at or after since_s), newest
 * first, into out (room for max). Returns how many. */
static size_t runs_copy(struct tsp_ts *ts, long long job_id, double since_s,
                        struct tsp_ts_job_run *out, size_t max)
{
    size_t n = 0;

    pthread_mutex_lock(&ts->obs_lock);
    for (size_t k = 1; k <= ts->nruns && n < max; k++) {
        const struct tsp_ts_job_run *r =
            &ts->runs[(ts->runs_next + TSP_TS_RUN_LOG - k) % TSP_TS_RUN_LOG];
        bool wanted = job_id >= 0 ? r->job_id == job_id : !r->succeeded && r->started_s >= since_s;
        if (wanted) {
            out[n++] = *r;
        }
    }
    pthread_mutex_unlock(&ts->obs_lock);
    return n;
}

/* ---- reads --------------------------------------------------------------------------------- */

static void run_from_row(const struct tsp_db_result *res, int row, struct tsp_ts_job_run *r)
{
    const char *v = NULL;

    memset(r, 0, sizeof(*r));
    r->job_id = tsp_db_result_int(res, row, tsp_db_result_col(res, "job_id"), 0);
    snprintf(r->source, sizeof(r->source), "server");
#define TEXT(col, dst)                                                                             \
    v = tsp_db_result_value(res, row, tsp_db_result_col(res, col));                                \
    snprintf(dst, sizeof(dst), "%s", v != NULL ? v : "")
    TEXT("proc_name", r->proc_name);
    TEXT("started_at", r->started_at);
    TEXT("finished_at", r->finished_at);
    TEXT("sqlerrcode", r->sqlstate);
    TEXT("err_message", r->error);
#undef TEXT
    v = tsp_db_result_value(res, row, tsp_db_result_col(res, "started_s"));
    r->started_s = v != NULL ? strtod(v, NULL) : 0.0;
    r->succeeded = tsp_db_result_bool(res, row, tsp_db_result_col(res, "succeeded"));
    r->pid = (int)tsp_db_result_int(res, row, tsp_db_result_col(res, "pid"), 0);
    r->duration_ms = tsp_db_result_int(res, row, tsp_db_result_col(res, "duration_ms"), -1);
}

static int newest_first(const void *a, const void *b)
{
    const struct tsp_ts_job_run *x = a;
    const struct tsp_ts_job_run *y = b;

    if (x->started_s != y->started_s) {
        return x->started_s < y->started_s ? 1 : -1;
    }
    return x->job_id < y->job_id ? -1 : (x->job_id > y->job_id ? 1 : 0);
}

/* The server's runs (stmt) merged with tspool's (of job_id, or failed since since_s), newest
 * first, at most TSP_TS_HISTORY_MAX. */
static enum tsp_code load_runs(struct tsp_ts_op *op, long long job_id, double since_s,
                               struct tsp_ts_stmt *stmt, struct tsp_ts_job_run **out, size_t *count,
                               struct tsp_error *err)
{
    struct tsp_db_result *res = NULL;
    struct tsp_ts_job_run *runs = NULL;
    size_t n = 0;
    int rows = 0;
    enum tsp_code rc = tsp_ts_op_query(op, stmt, &res, err);

    if (rc != TSP_OK) {
        goto done;
    }
    rows = tsp_db_result_rows(res);
    runs = calloc((size_t)rows + TSP_TS_RUN_LOG + 1, sizeof(*runs));
    if (runs == NULL) {
        rc = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
        goto done;
    }
    for (int i = 0; i < rows; i++) {
        run_from_row(res, i, &runs[n++]);
    }
    n += runs_copy(op->ts, job_id, since_s, runs + n, TSP_TS_RUN_LOG);
    qsort(runs, n, sizeof(*runs), newest_first);
    if (n > TSP_TS_HISTORY_MAX) {
        n = TSP_TS_HISTORY_MAX;
    }
    if (n == 0) {
        free(runs);
        runs = NULL;
    }
    *out = runs;
    runs = NULL;
    *count = n;
done:
    free(runs);
    tsp_db_result_free(res);
    return rc;
}

enum tsp_code tsp_ts_job_history(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx, long long job_id,
                                 struct tsp_ts_job_run **out, size_t *count, struct tsp_error *err)
{
    struct tsp_ts_job job;
    struct tsp_ts_op op;
    struct tsp_ts_stmt stmt = {0};
    enum tsp_code rc = tsp_ts_job_get(ts, ctx, job_id, &job, err);

    if (rc != TSP_OK) {
        return rc;
    }
    rc = tsp_ts_op_begin(&op, ts, ctx, "jobs.history", TSP_TS_FEATURE_EXTENSION, err);
    if (rc != TSP_OK) {
        return rc;
    }
    rc = tsp_ts_sql_job_runs(job_id, NULL, op.caps.version_num >= 21500, &stmt, err);
    if (rc == TSP_OK) {
        rc = load_runs(&op, job_id, 0.0, &stmt, out, count, err);
    }
    tsp_ts_stmt_fini(&stmt);
    tsp_ts_op_end(&op);
    return rc;
}

enum tsp_code tsp_ts_job_errors(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx, const char *since,
                                struct tsp_ts_job_run **out, size_t *count, struct tsp_error *err)
{
    struct tsp_ts_op op;
    struct tsp_ts_stmt stmt = {0};
    struct tsp_ts_stmt bound = {0};
    struct tsp_db_result *res = NULL;
    double since_s = 0.0;
    enum tsp_code rc = tsp_ts_op_begin(&op, ts, ctx, "jobs.errors", TSP_TS_FEATURE_EXTENSION, err);

    if (rc != TSP_OK) {
        return rc;
    }
    /* the server checks ?since= and computes the bound once for both sources */
    rc = tsp_ts_sql_since(since, &bound, err);
    if (rc == TSP_OK) {
        rc = tsp_ts_op_query(&op, &bound, &res, err);
    }
    if (rc == TSP_OK) {
        const char *v = tsp_db_result_value(res, 0, tsp_db_result_col(res, "since_s"));
        since_s = v != NULL ? strtod(v, NULL) : 0.0;
        rc = tsp_ts_sql_job_runs(-1, since, op.caps.version_num >= 21500, &stmt, err);
    }
    if (rc == TSP_OK) {
        rc = load_runs(&op, -1, since_s, &stmt, out, count, err);
    }
    tsp_db_result_free(res);
    tsp_ts_stmt_fini(&bound);
    tsp_ts_stmt_fini(&stmt);
    tsp_ts_op_end(&op);
    return rc;
}

enum tsp_code tsp_ts_overview(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                              struct tsp_ts_caps *caps, struct tsp_ts_workers *workers,
                              struct tsp_error *err)
{
    struct tsp_ts_op op;
    struct tsp_ts_stmt stmt = {0};
    struct tsp_db_result *res = NULL;
    struct tsp_ts_workers w;
    enum tsp_code rc = tsp_ts_op_begin(&op, ts, ctx, "timescaledb.get", TSP_TS_FEATURE_NONE, err);

    if (rc != TSP_OK) {
        return rc;
    }
    memset(&w, 0, sizeof(w));
    if (op.caps.installed) {
        rc = tsp_ts_sql_workers(&stmt, err);
        if (rc == TSP_OK) {
            rc = tsp_ts_op_query(&op, &stmt, &res, err);
        }
        /* a server without background workers (PGlite) has no such setting */
        if (rc == TSP_OK && tsp_db_result_rows(res) == 1 &&
            tsp_db_result_value(res, 0, tsp_db_result_col(res, "max_background_workers")) != NULL) {
            w.known = true;
            w.max_background_workers =
                (int)tsp_db_result_int(res, 0, tsp_db_result_col(res, "max_background_workers"), 0);
            w.max_worker_processes =
                (int)tsp_db_result_int(res, 0, tsp_db_result_col(res, "max_worker_processes"), 0);
            w.jobs_scheduled =
                tsp_db_result_int(res, 0, tsp_db_result_col(res, "jobs_scheduled"), 0);
            w.over_budget = w.jobs_scheduled > (long long)w.max_background_workers - 1;
        }
    }
    if (rc == TSP_OK) {
        *caps = op.caps;
        *workers = w;
    }
    tsp_db_result_free(res);
    tsp_ts_stmt_fini(&stmt);
    tsp_ts_op_end(&op);
    return rc;
}
