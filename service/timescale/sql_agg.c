/* timescale/sql_agg.c - pure SQL builders for continuous aggregates and jobs (text +
 * parameters, no connection); the hypertable, chunk and policy builders are in sql.c.
 * SPDX-License-Identifier: MIT
 */
#include "timescale_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum tsp_code tsp_ts_sql_aggregates(const char *schema, const char *name, struct tsp_ts_stmt *out,
                                    struct tsp_error *err)
{
    return tsp_ts_by_schema_name(
        out,
        "SELECT ca.view_schema AS schema, ca.view_name AS name, ca.hypertable_schema, "
        "ca.hypertable_name, ca.materialized_only, "
        "substring(ca.view_definition from 'time_bucket\\(''([^'']+)''') AS bucket, "
        "j.job_id, j.schedule_interval::text AS schedule_interval, j.scheduled, "
        "j.config->>'start_offset' AS start_offset, j.config->>'end_offset' AS end_offset, "
        "s.last_successful_finish::text AS last_refresh "
        "FROM timescaledb_information.continuous_aggregates ca "
        "LEFT JOIN timescaledb_information.jobs j "
        "ON j.proc_name = 'policy_refresh_continuous_aggregate' "
        "AND j.hypertable_schema = ca.view_schema AND j.hypertable_name = ca.view_name "
        "LEFT JOIN timescaledb_information.job_stats s ON s.job_id = j.job_id "
        "WHERE ($1::text IS NULL OR ca.view_schema = $1::text) "
        "AND ($2::text IS NULL OR ca.view_name = $2::text) "
        "ORDER BY ca.view_schema, ca.view_name",
        schema, name, err);
}

enum tsp_code tsp_ts_sql_interval_check(const char *value, const char *field,
                                        struct tsp_ts_stmt *out, struct tsp_error *err)
{
    const char *values[1] = {value};
    const char *fields[1] = {field};

    if (value == NULL || value[0] == '\0') {
        memset(out, 0, sizeof(*out));
        return tsp_error_set(err, TSP_INVALID, field, "%s is required", field);
    }
    return tsp_ts_stmt_simple(out, "SELECT $1::interval::text AS value", 1, values, fields, err);
}

static bool agg_fn_known(const char *fn)
{
    static const char *const fns[] = {"avg", "min", "max", "sum", "count", "first", "last"};
    size_t i;

    for (i = 0; fn != NULL && i < sizeof(fns) / sizeof(fns[0]); i++) {
        if (strcmp(fn, fns[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* One "fn(column) AS alias" item; first/last take the time column as their ordering. */
static enum tsp_code add_agg_item(const struct tsp_ts_quoter *q, struct tsp_strbuf *sb,
                                  const struct tsp_ts_agg_column *agg, const char *time_col,
                                  struct tsp_error *err)
{
    char *col = NULL;
    char *alias = NULL;
    enum tsp_code rc = TSP_OK;

    if (!agg_fn_known(agg->fn)) {
        return tsp_error_set(err, TSP_INVALID, "aggregates",
                             "aggregates: fn must be one of avg, min, max, sum, count, first, "
                             "last");
    }
    if (strcmp(agg->fn, "count") == 0 && agg->column != NULL && strcmp(agg->column, "*") == 0) {
        col = strdup("*");
        if (col == NULL) {
            return tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
        }
    } else {
        rc = q->quote(q->ctx, agg->column, false, "aggregates", &col, err);
        if (rc != TSP_OK) {
            goto done;
        }
    }
    rc = q->quote(q->ctx, agg->as, false, "aggregates", &alias, err);
    if (rc != TSP_OK) {
        goto done;
    }
    tsp_strbuf_printf(sb, "%s(", agg->fn);
    tsp_strbuf_puts(sb, col);
    if (strcmp(agg->fn, "first") == 0 || strcmp(agg->fn, "last") == 0) {
        tsp_strbuf_puts(sb, ", ");
        tsp_strbuf_puts(sb, time_col);
    }
    tsp_strbuf_puts(sb, ") AS ");
    tsp_strbuf_puts(sb, alias);
done:
    free(alias);
    free(col);
    return rc;
}

enum tsp_code tsp_ts_sql_aggregate_create(const struct tsp_ts_quoter *q,
                                          const struct tsp_ts_aggregate_spec *spec,
                                          const char *bucket, bool if_not_exists,
                                          struct tsp_ts_stmt *out, struct tsp_error *err)
{
    struct tsp_strbuf sb = {0};
    struct tsp_strbuf bucket_expr = {0};
    char *view = NULL;
    char *source = NULL;
    char *time_col = NULL;
    size_t i;
    enum tsp_code rc;

    memset(out, 0, sizeof(*out));
    if (spec == NULL || spec->naggregates == 0 || spec->naggregates > TSP_TS_MAX_COLUMNS ||
        spec->ngroup_by > TSP_TS_MAX_COLUMNS) {
        return tsp_error_set(err, TSP_INVALID, "aggregates", "aggregates: between 1 and %d entries",
                             TSP_TS_MAX_COLUMNS);
    }
    /* the bucket is written into the view's text: accept only what the server prints for an
       interval */
    if (bucket == NULL || bucket[0] == '\0' ||
        strspn(bucket, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ :.+-") !=
            strlen(bucket)) {
        return tsp_error_set(err, TSP_INVALID, "bucket", "bucket: not an interval");
    }
    rc = q->quote(q->ctx, spec->name, true, "name", &view, err);
    if (rc == TSP_OK) {
        rc = q->quote(q->ctx, spec->hypertable, true, "hypertable", &source, err);
    }
    if (rc == TSP_OK) {
        rc = q->quote(q->ctx, spec->time_column, false, "time_column", &time_col, err);
    }
    if (rc != TSP_OK) {
        goto done;
    }
    tsp_strbuf_puts(&bucket_expr, "time_bucket(INTERVAL '");
    tsp_strbuf_puts(&bucket_expr, bucket);
    tsp_strbuf_puts(&bucket_expr, "', ");
    tsp_strbuf_puts(&bucket_expr, time_col);
    tsp_strbuf_puts(&bucket_expr, ")");
    if (bucket_expr.failed) {
        rc = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory building SQL");
        goto done;
    }
    tsp_strbuf_puts(&sb, if_not_exists ? "CREATE MATERIALIZED VIEW IF NOT EXISTS "
                                       : "CREATE MATERIALIZED VIEW ");
    tsp_strbuf_puts(&sb, view);
    tsp_strbuf_puts(&sb, " WITH (timescaledb.continuous) AS SELECT ");
    tsp_strbuf_puts(&sb, bucket_expr.data);
    tsp_strbuf_puts(&sb, " AS bucket");
    for (i = 0; i < spec->ngroup_by; i++) {
        tsp_strbuf_puts(&sb, ", ");
        rc = tsp_ts_column_list(q, &sb, &spec->group_by[i], 1, "group_by", err);
        if (rc != TSP_OK) {
            goto done;
        }
    }
    for (i = 0; i < spec->naggregates; i++) {
        tsp_strbuf_puts(&sb, ", ");
        rc = add_agg_item(q, &sb, &spec->aggregates[i], time_col, err);
        if (rc != TSP_OK) {
            goto done;
        }
    }
    tsp_strbuf_puts(&sb, " FROM ");
    tsp_strbuf_puts(&sb, source);
    tsp_strbuf_puts(&sb, " GROUP BY ");
    tsp_strbuf_puts(&sb, bucket_expr.data);
    for (i = 0; i < spec->ngroup_by; i++) {
        tsp_strbuf_puts(&sb, ", ");
        rc = tsp_ts_column_list(q, &sb, &spec->group_by[i], 1, "group_by", err);
        if (rc != TSP_OK) {
            goto done;
        }
    }
    tsp_strbuf_puts(&sb, spec->with_data ? " WITH DATA" : " WITH NO DATA");
    rc = tsp_ts_stmt_finish(&sb, true, out, err);
    out->autocommit = true;
done:
    tsp_strbuf_fini(&sb);
    tsp_strbuf_fini(&bucket_expr);
    free(time_col);
    free(source);
    free(view);
    return rc;
}

enum tsp_code tsp_ts_sql_aggregate_drop(const struct tsp_ts_quoter *q, const char *name,
                                        struct tsp_ts_stmt *out, struct tsp_error *err)
{
    struct tsp_strbuf sb = {0};
    char *view = NULL;
    enum tsp_code rc;

    memset(out, 0, sizeof(*out));
    rc = q->quote(q->ctx, name, true, "name", &view, err);
    if (rc != TSP_OK) {
        return rc;
    }
    tsp_strbuf_puts(&sb, "DROP MATERIALIZED VIEW ");
    tsp_strbuf_puts(&sb, view);
    free(view);
    return tsp_ts_stmt_finish(&sb, true, out, err);
}

enum tsp_code tsp_ts_sql_aggregate_policy_add(const struct tsp_ts_quoter *q, const char *name,
                                              const char *start_offset, const char *end_offset,
                                              const char *schedule_interval,
                                              struct tsp_ts_stmt *out, struct tsp_error *err)
{
    struct tsp_strbuf sb = {0};
    int n1;
    int n2;
    int n3;
    enum tsp_code rc;

    if (schedule_interval == NULL || schedule_interval[0] == '\0') {
        memset(out, 0, sizeof(*out));
        return tsp_error_set(err, TSP_INVALID, "schedule_interval",
                             "schedule_interval is required");
    }
    rc = tsp_ts_bind_relation(q, name, "name", out, err);
    if (rc != TSP_OK) {
        return rc;
    }
    n1 = tsp_ts_stmt_param(out, start_offset, "start_offset");
    n2 = tsp_ts_stmt_param(out, end_offset, "end_offset");
    n3 = tsp_ts_stmt_param(out, schedule_interval, "schedule_interval");
    tsp_strbuf_printf(
        &sb,
        "SELECT add_continuous_aggregate_policy($1::regclass, start_offset => $%d::%s, "
        "end_offset => $%d::%s, schedule_interval => $%d::interval) AS job_id",
        n1, tsp_ts_time_cast(start_offset), n2, tsp_ts_time_cast(end_offset), n3);
    return tsp_ts_stmt_finish(&sb, n1 != 0 && n2 != 0 && n3 != 0, out, err);
}

enum tsp_code tsp_ts_sql_aggregate_policy_remove(const struct tsp_ts_quoter *q, const char *name,
                                                 bool if_exists, struct tsp_ts_stmt *out,
                                                 struct tsp_error *err)
{
    struct tsp_strbuf sb = {0};
    enum tsp_code rc = tsp_ts_bind_relation(q, name, "name", out, err);

    if (rc != TSP_OK) {
        return rc;
    }
    tsp_strbuf_printf(&sb,
                      "SELECT remove_continuous_aggregate_policy($1::regclass, if_exists => %s)",
                      if_exists ? "true" : "false");
    return tsp_ts_stmt_finish(&sb, true, out, err);
}

enum tsp_code tsp_ts_sql_aggregate_refresh(const struct tsp_ts_quoter *q, const char *name,
                                           const char *start, const char *end,
                                           struct tsp_ts_stmt *out, struct tsp_error *err)
{
    struct tsp_strbuf sb = {0};
    int n1;
    int n2;
    enum tsp_code rc = tsp_ts_bind_relation(q, name, "name", out, err);

    if (rc != TSP_OK) {
        return rc;
    }
    n1 = tsp_ts_stmt_param(out, start, "start");
    n2 = tsp_ts_stmt_param(out, end, "end");
    tsp_strbuf_printf(&sb, "CALL refresh_continuous_aggregate($1::regclass, $%d::%s, $%d::%s)", n1,
                      tsp_ts_point_cast(start), n2, tsp_ts_point_cast(end));
    out->autocommit = true;
    return tsp_ts_stmt_finish(&sb, n1 != 0 && n2 != 0, out, err);
}

static enum tsp_code job_param(long long job_id, struct tsp_ts_stmt *out, struct tsp_error *err)
{
    char id[32];

    memset(out, 0, sizeof(*out));
    if (job_id < 0 || job_id > 2147483647LL) {
        return tsp_error_set(err, TSP_INVALID, "id", "job id must be between 0 and 2147483647");
    }
    snprintf(id, sizeof(id), "%lld", job_id);
    if (tsp_ts_stmt_param(out, id, "id") == 0) {
        return tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory building SQL");
    }
    return TSP_OK;
}

enum tsp_code tsp_ts_sql_jobs(long long job_id, struct tsp_ts_stmt *out, struct tsp_error *err)
{
    struct tsp_strbuf sb = {0};
    bool ok = true;

    memset(out, 0, sizeof(*out));
    if (job_id >= 0) {
        enum tsp_code rc = job_param(job_id, out, err);
        if (rc != TSP_OK) {
            return rc;
        }
    } else {
        ok = tsp_ts_stmt_param(out, NULL, "id") != 0;
    }
    tsp_strbuf_puts(&sb, "SELECT j.job_id, j.application_name, j.proc_schema, j.proc_name, "
                         "j.schedule_interval::text AS schedule_interval, j.scheduled, "
                         "j.config::text AS config, j.hypertable_schema, j.hypertable_name, "
                         "COALESCE(s.next_start, j.next_start)::text AS next_start, "
                         "s.last_run_status, s.last_run_started_at::text AS last_run_started_at, "
                         "s.last_successful_finish::text AS last_successful_finish, "
                         "s.total_runs, s.total_failures "
                         "FROM timescaledb_information.jobs j "
                         "LEFT JOIN timescaledb_information.job_stats s ON s.job_id = j.job_id "
                         "WHERE ($1::integer IS NULL OR j.job_id = $1::integer) "
                         "ORDER BY j.job_id");
    return tsp_ts_stmt_finish(&sb, ok, out, err);
}

enum tsp_code tsp_ts_sql_job_run(long long job_id, struct tsp_ts_stmt *out, struct tsp_error *err)
{
    struct tsp_strbuf sb = {0};
    enum tsp_code rc = job_param(job_id, out, err);

    if (rc != TSP_OK) {
        return rc;
    }
    tsp_strbuf_puts(&sb, "CALL run_job($1::integer)");
    out->autocommit = true;
    return tsp_ts_stmt_finish(&sb, true, out, err);
}

enum tsp_code tsp_ts_sql_job_alter(long long job_id, const char *schedule_interval, int scheduled,
                                   struct tsp_ts_stmt *out, struct tsp_error *err)
{
    struct tsp_strbuf sb = {0};
    const char *flag = scheduled < 0 ? NULL : (scheduled > 0 ? "true" : "false");
    int n2;
    int n3;
    enum tsp_code rc = job_param(job_id, out, err);

    if (rc != TSP_OK) {
        return rc;
    }
    if (schedule_interval == NULL && scheduled < 0) {
        tsp_ts_stmt_fini(out);
        return tsp_error_set(err, TSP_INVALID, "schedule_interval",
                             "nothing to change: give schedule_interval and/or scheduled");
    }
    n2 = tsp_ts_stmt_param(out, schedule_interval, "schedule_interval");
    n3 = tsp_ts_stmt_param(out, flag, "scheduled");
    tsp_strbuf_printf(&sb,
                      "SELECT alter_job($1::integer, schedule_interval => $%d::interval, "
                      "scheduled => $%d::boolean)",
                      n2, n3);
    return tsp_ts_stmt_finish(&sb, n2 != 0 && n3 != 0, out, err);
}
