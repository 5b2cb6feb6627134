/* timescale/agg.c - changes to continuous aggregates (create, drop, refresh policy, refresh)
 * and to jobs (run, alter).
 * SPDX-License-Identifier: MIT
 */
#include "timescale_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tspool/db.h"

/* Run one statement as the whole change and hand the result over. */
static enum tsp_code single_change(struct tsp_ts_op *op, const char *target,
                                   struct tsp_ts_stmt *stmt, struct tsp_db_result **result,
                                   struct tsp_ts_change *out, struct tsp_error *err)
{
    struct tsp_ts_change change = {0};
    enum tsp_code rc;

    rc = tsp_ts_op_change(op, target, stmt, 1, result, &change, err);
    if (rc == TSP_OK) {
        *out = change;
        memset(&change, 0, sizeof(change));
    }
    tsp_ts_change_fini(&change);
    return rc;
}

enum tsp_code tsp_ts_aggregate_create(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                      const struct tsp_ts_aggregate_spec *spec,
                                      struct tsp_ts_change *out, struct tsp_error *err)
{
    struct tsp_ts_op op;
    struct tsp_ts_aggregate_spec resolved;
    struct tsp_ts_stmt check = {0};
    struct tsp_ts_stmt stmt = {0};
    struct tsp_db_result *res = NULL;
    char schema[TSP_TS_NAME_MAX];
    char rel[TSP_TS_NAME_MAX];
    char source[2 * TSP_TS_NAME_MAX];
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
    rc = tsp_ts_op_begin(&op, ts, ctx, "aggregates.create", TSP_TS_FEATURE_AGGREGATES, err);
    if (rc != TSP_OK) {
        return rc;
    }
    rc = tsp_ts_op_resolve(&op, spec->hypertable, false, "hypertable", schema, rel, err);
    if (rc != TSP_OK) {
        goto done;
    }
    snprintf(source, sizeof(source), "%s.%s", schema, rel);
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
    resolved.hypertable = source;
    rc = tsp_ts_sql_aggregate_create(&op.quoter, &resolved, bucket, op.ctx->if_not_exists, &stmt,
                                     err);
    if (rc != TSP_OK) {
        goto done;
    }
    rc = single_change(&op, spec->name, &stmt, NULL, out, err);
done:
    tsp_ts_stmt_fini(&stmt);
    tsp_ts_stmt_fini(&check);
    tsp_db_result_free(res);
    tsp_ts_op_end(&op);
    return rc;
}

/* Begin an aggregate operation and resolve its view; target receives "schema.name". */
static enum tsp_code begin_on_aggregate(struct tsp_ts_op *op, struct tsp_ts *ts,
                                        const struct tsp_ts_ctx *ctx, const char *opname,
                                        const char *name, char *target, size_t size,
                                        struct tsp_error *err)
{
    char schema[TSP_TS_NAME_MAX];
    char rel[TSP_TS_NAME_MAX];
    enum tsp_code rc;

    rc = tsp_ts_op_begin(op, ts, ctx, opname, TSP_TS_FEATURE_AGGREGATES, err);
    if (rc != TSP_OK) {
        return rc;
    }
    rc = tsp_ts_op_resolve(op, name, true, "name", schema, rel, err);
    if (rc != TSP_OK) {
        tsp_ts_op_end(op);
        return rc;
    }
    snprintf(target, size, "%s.%s", schema, rel);
    return TSP_OK;
}

enum tsp_code tsp_ts_aggregate_drop(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                    const char *name, struct tsp_ts_change *out,
                                    struct tsp_error *err)
{
    struct tsp_ts_op op;
    struct tsp_ts_stmt stmt = {0};
    char target[2 * TSP_TS_NAME_MAX];
    enum tsp_code rc;

    rc = begin_on_aggregate(&op, ts, ctx, "aggregates.drop", name, target, sizeof(target), err);
    if (rc != TSP_OK) {
        return rc;
    }
    rc = tsp_ts_sql_aggregate_drop(&op.quoter, target, &stmt, err);
    if (rc == TSP_OK) {
        rc = single_change(&op, target, &stmt, NULL, out, err);
    }
    tsp_ts_stmt_fini(&stmt);
    tsp_ts_op_end(&op);
    return rc;
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
    char target[2 * TSP_TS_NAME_MAX];
    enum tsp_code rc;

    memset(stmts, 0, sizeof(stmts));
    rc =
        begin_on_aggregate(&op, ts, ctx, "aggregate_policy.put", name, target, sizeof(target), err);
    if (rc != TSP_OK) {
        return rc;
    }
    /* PUT replaces the policy: remove and add in one transaction */
    rc = tsp_ts_sql_aggregate_policy_remove(&op.quoter, target, true, &stmts[0], err);
    if (rc == TSP_OK) {
        rc = tsp_ts_sql_aggregate_policy_add(&op.quoter, target, start_offset, end_offset,
                                             schedule_interval, &stmts[1], err);
    }
    if (rc == TSP_OK) {
        rc = tsp_ts_op_change(&op, target, stmts, 2, results, &change, err);
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
    char target[2 * TSP_TS_NAME_MAX];
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
    rc = begin_on_aggregate(&op, ts, ctx, "aggregate_policy.delete", name, target, sizeof(target),
                            err);
    if (rc != TSP_OK) {
        return rc;
    }
    rc = tsp_ts_sql_aggregate_policy_remove(&op.quoter, target, false, &stmt, err);
    if (rc == TSP_OK) {
        rc = single_change(&op, target, &stmt, NULL, out, err);
    }
    if (rc == TSP_OK) {
        out->job_id = agg.policy.job_id;
    }
    tsp_ts_stmt_fini(&stmt);
    tsp_ts_op_end(&op);
    return rc;
}

enum tsp_code tsp_ts_aggregate_refresh(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                       const char *name, const char *start, const char *end,
                                       struct tsp_ts_change *out, struct tsp_error *err)
{
    struct tsp_ts_op op;
    struct tsp_ts_stmt stmt = {0};
    char target[2 * TSP_TS_NAME_MAX];
    enum tsp_code rc;

    rc = begin_on_aggregate(&op, ts, ctx, "aggregates.refresh", name, target, sizeof(target), err);
    if (rc != TSP_OK) {
        return rc;
    }
    rc = tsp_ts_sql_aggregate_refresh(&op.quoter, target, start, end, &stmt, err);
    if (rc == TSP_OK) {
        rc = single_change(&op, target, &stmt, NULL, out, err);
    }
    tsp_ts_stmt_fini(&stmt);
    tsp_ts_op_end(&op);
    return rc;
}

enum tsp_code tsp_ts_job_run(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx, long long job_id,
                             struct tsp_ts_change *out, struct tsp_error *err)
{
    struct tsp_ts_job job;
    struct tsp_ts_op op;
    struct tsp_ts_stmt stmt = {0};
    char target[32];
    enum tsp_code rc;

    rc = tsp_ts_job_get(ts, ctx, job_id, &job, err); /* 404 before anything runs */
    if (rc != TSP_OK) {
        return rc;
    }
    rc = tsp_ts_op_begin(&op, ts, ctx, "jobs.run", TSP_TS_FEATURE_JOBS, err);
    if (rc != TSP_OK) {
        return rc;
    }
    snprintf(target, sizeof(target), "job %lld", job_id);
    rc = tsp_ts_sql_job_run(job_id, &stmt, err);
    if (rc == TSP_OK) {
        rc = single_change(&op, target, &stmt, NULL, out, err);
    }
    if (rc == TSP_OK) {
        out->job_id = job_id;
    }
    tsp_ts_stmt_fini(&stmt);
    tsp_ts_op_end(&op);
    return rc;
}

enum tsp_code tsp_ts_job_alter(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx, long long job_id,
                               const char *schedule_interval, int scheduled,
                               struct tsp_ts_change *out, struct tsp_error *err)
{
    struct tsp_ts_job job;
    struct tsp_ts_op op;
    struct tsp_ts_stmt stmt = {0};
    char target[32];
    enum tsp_code rc;

    rc = tsp_ts_job_get(ts, ctx, job_id, &job, err);
    if (rc != TSP_OK) {
        return rc;
    }
    rc = tsp_ts_op_begin(&op, ts, ctx, "jobs.alter", TSP_TS_FEATURE_JOBS, err);
    if (rc != TSP_OK) {
        return rc;
    }
    snprintf(target, sizeof(target), "job %lld", job_id);
    rc = tsp_ts_sql_job_alter(job_id, schedule_interval, scheduled, &stmt, err);
    if (rc == TSP_OK) {
        rc = single_change(&op, target, &stmt, NULL, out, err);
    }
    if (rc == TSP_OK) {
        out->job_id = job_id;
    }
    tsp_ts_stmt_fini(&stmt);
    tsp_ts_op_end(&op);
    return rc;
}
