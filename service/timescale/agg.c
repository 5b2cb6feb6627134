/* timescale/agg.c - changes to continuous aggregates (create, drop, refresh policy, refresh)
 * and to jobs (run, alter).
 * SPDX-License-Identifier: MIT
 */
#include "timescale_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tspool/clock.h"
#include "tspool/db.h"

enum tsp_code tsp_ts_aggregate_create(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                      const struct tsp_ts_aggregate_spec *spec,
                                      struct tsp_ts_change *out, struct tsp_error *err)
{
    struct tsp_ts_op op;
    struct tsp_ts_aggregate_spec resolved;
    struct tsp_ts_stmt check = {0};
    struct tsp_ts_stmt stmt = {0};
    struct tsp_db_result *res = NULL;
    struct tsp_ts_target source;
    char bucket[TSP_TS_TEXT_MAX];
    const char *value = NULL;
    enum tsp_code rc;

    if (spec == NULL) {
        return tsp_error_set(err, TSP_INVALID, "name", "an aggregate specification is required");
    }
    rc = tsp_db_qualified_validate(spec->name, "name", err);
    if (rc != TSP_OK) {
        return rc;
    }
    rc = tsp_ts_op_begin_on(&op, ts, ctx, "aggregates.create", TSP_TS_FEATURE_AGGREGATES,
                            spec->hypertable, false, &source, err);
    if (rc != TSP_OK) {
        return rc;
    }
    /* the server parses the bucket as a bound value first; only its own printout of the
       interval is written into the view's text */
    rc = tsp_ts_sql_interval_check(spec->bucket, "bucket", &check, err);
    if (rc == TSP_OK) {
        rc = tsp_ts_op_query(&op, &check, &res, err);
    }
    if (rc != TSP_OK) {
        goto done;
    }
    value = tsp_db_result_value(res, 0, 0);
    snprintf(bucket, sizeof(bucket), "%s", value != NULL ? value : "");
    resolved = *spec;
    resolved.hypertable = source.qualified;
    rc = tsp_ts_sql_aggregate_create(&op.quoter, &resolved, bucket, op.ctx->if_not_exists, &stmt,
                                     err);
done:
    tsp_ts_stmt_fini(&check);
    tsp_db_result_free(res);
    return tsp_ts_op_finish_one(&op, rc, spec->name, &stmt, 0, out, err);
}

enum tsp_code tsp_ts_aggregate_drop(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                    const char *name, struct tsp_ts_change *out,
                                    struct tsp_error *err)
{
    struct tsp_ts_op op;
    struct tsp_ts_stmt stmt = {0};
    struct tsp_ts_target t;
    enum tsp_code rc;

    rc = tsp_ts_op_begin_on(&op, ts, ctx, "aggregates.drop", TSP_TS_FEATURE_AGGREGATES, name, true,
                            &t, err);
    if (rc != TSP_OK) {
        return rc;
    }
    rc = tsp_ts_sql_aggregate_drop(&op.quoter, t.qualified, &stmt, err);
    return tsp_ts_op_finish_one(&op, rc, t.qualified, &stmt, 0, out, err);
}

enum tsp_code tsp_ts_aggregate_policy_put(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                          const char *name, const char *start_offset,
                                          const char *end_offset, const char *schedule_interval,
                                          struct tsp_ts_change *out, struct tsp_error *err)
{
    struct tsp_ts_op op;
    struct tsp_ts_stmt stmts[2];
    struct tsp_db_result *results[2] = {NULL, NULL};
    struct tsp_ts_change change = {0};
    struct tsp_ts_target t;
    enum tsp_code rc;

    memset(stmts, 0, sizeof(stmts));
    rc = tsp_ts_op_begin_on(&op, ts, ctx, "aggregate_policy.put", TSP_TS_FEATURE_AGGREGATES, name,
                            true, &t, err);
    if (rc != TSP_OK) {
        return rc;
    }
    /* PUT replaces the policy: remove and add in one transaction */
    rc = tsp_ts_sql_aggregate_policy_remove(&op.quoter, t.qualified, true, &stmts[0], err);
    if (rc == TSP_OK) {
        rc = tsp_ts_sql_aggregate_policy_add(&op.quoter, t.qualified, start_offset, end_offset,
                                             schedule_interval, &stmts[1], err);
    }
    if (rc == TSP_OK) {
        rc = tsp_ts_op_change(&op, t.qualified, stmts, 2, results, &change, err);
    }
    if (rc == TSP_OK) {
        change.job_id = change.dry_run ? 0 : tsp_db_result_int(results[1], 0, 0, 0);
        *out = change;
        memset(&change, 0, sizeof(change));
    }
    tsp_db_result_free(results[1]);
    tsp_db_result_free(results[0]);
    tsp_ts_change_fini(&change);
    tsp_ts_stmt_fini(&stmts[1]);
    tsp_ts_stmt_fini(&stmts[0]);
    tsp_ts_op_end(&op);
    return rc;
}

enum tsp_code tsp_ts_aggregate_policy_delete(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                             const char *name, struct tsp_ts_change *out,
                                             struct tsp_error *err)
{
    struct tsp_ts_aggregate agg;
    struct tsp_ts_op op;
    struct tsp_ts_stmt stmt = {0};
    struct tsp_ts_target t;
    enum tsp_code rc;

    rc = tsp_ts_aggregate_get(ts, ctx, name, &agg, err);
    if (rc != TSP_OK) {
        return rc;
    }
    if (!agg.has_policy) {
        return tsp_error_set(err, TSP_NOT_FOUND, NULL,
                             "continuous aggregate \"%s.%s\" has no refresh policy", agg.schema,
                             agg.name);
    }
    rc = tsp_ts_op_begin_on(&op, ts, ctx, "aggregate_policy.delete", TSP_TS_FEATURE_AGGREGATES,
                            name, true, &t, err);
    if (rc != TSP_OK) {
        return rc;
    }
    rc = tsp_ts_sql_aggregate_policy_remove(&op.quoter, t.qualified, false, &stmt, err);
    return tsp_ts_op_finish_one(&op, rc, t.qualified, &stmt, agg.policy.job_id, out, err);
}

enum tsp_code tsp_ts_aggregate_refresh(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                       const char *name, const char *start, const char *end,
                                       struct tsp_ts_change *out, struct tsp_error *err)
{
    struct tsp_ts_op op;
    struct tsp_ts_stmt stmt = {0};
    struct tsp_ts_target t;
    enum tsp_code rc;

    rc = tsp_ts_op_begin_on(&op, ts, ctx, "aggregates.refresh", TSP_TS_FEATURE_AGGREGATES, name,
                            true, &t, err);
    if (rc != TSP_OK) {
        return rc;
    }
    rc = tsp_ts_sql_aggregate_refresh(&op.quoter, t.qualified, start, end, &stmt, err);
    return tsp_ts_op_finish_one(&op, rc, t.qualified, &stmt, 0, out, err);
}

/* Run or alter a job: 404 for an unknown job before anything runs, then one statement. */
static enum tsp_code job_change(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx, long long job_id,
                                bool run, const char *schedule_interval, int scheduled,
                                struct tsp_ts_change *out, struct tsp_error *err)
{
    struct tsp_ts_job job;
    struct tsp_ts_op op;
    struct tsp_ts_stmt stmt = {0};
    char target[32];
    int64_t started_real_ms = 0;
    int64_t started_ms = 0;
    enum tsp_code rc;

    rc = tsp_ts_job_get(ts, ctx, job_id, &job, err);
    if (rc != TSP_OK) {
        return rc;
    }
    rc = tsp_ts_op_begin(&op, ts, ctx, run ? "jobs.run" : "jobs.alter", TSP_TS_FEATURE_JOBS, err);
    if (rc != TSP_OK) {
        return rc;
    }
    snprintf(target, sizeof(target), "job %lld", job_id);
    if (!run) {
        rc = tsp_ts_sql_job_alter(job_id, schedule_interval, scheduled, &stmt, err);
        return tsp_ts_op_finish_one(&op, rc, target, &stmt, job_id, out, err);
    }
    /* CALL run_job runs on this connection: the server's job history never hears of it, so
     * tspool keeps the outcome itself (GET /jobs/{id}/history, /jobs/errors) */
    started_real_ms = tsp_clock_real_ms();
    started_ms = tsp_clock_mono_ms();
    rc = tsp_ts_sql_job_run(job_id, &stmt, err);
    rc = tsp_ts_op_finish_one(&op, rc, target, &stmt, job_id, out, err);
    if (ctx == NULL || !ctx->dry_run) {
        tsp_ts_runs_record(ts, ctx, job_id, job.proc_name, started_real_ms,
                           (long long)(tsp_clock_mono_ms() - started_ms), rc, err);
    }
    if (rc == TSP_OK) {
        out->note = "run_job runs on tspool's own connection, so the server's job history and "
                    "job_stats "
                    "do not count it; tspool records its outcome in GET /jobs/{id}/history";
    }
    return rc;
}

enum tsp_code tsp_ts_job_run(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx, long long job_id,
                             struct tsp_ts_change *out, struct tsp_error *err)
{
    return job_change(ts, ctx, job_id, true, NULL, -1, out, err);
}

enum tsp_code tsp_ts_job_alter(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx, long long job_id,
                               const char *schedule_interval, int scheduled,
                               struct tsp_ts_change *out, struct tsp_error *err)
{
    return job_change(ts, ctx, job_id, false, schedule_interval, scheduled, out, err);
}
