/* timescale/read.c - the read operations: hypertables, chunks, policies, continuous
 * aggregates and jobs, mapped from result rows to the public structs.
 * SPDX-License-Identifier: MIT
 */
#include "timescale_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tspool/db.h"

/* Text of column `name` in row into dst ("" for NULL). */
static void col_text(const struct tsp_db_result *res, int row, const char *name, char *dst,
                     size_t size)
{
    const char *v = tsp_db_result_value(res, row, tsp_db_result_col(res, name));
    snprintf(dst, size, "%s", v != NULL ? v : "");
}

static long long col_int(const struct tsp_db_result *res, int row, const char *name)
{
    return tsp_db_result_int(res, row, tsp_db_result_col(res, name), 0);
}

static bool col_bool(const struct tsp_db_result *res, int row, const char *name)
{
    return tsp_db_result_bool(res, row, tsp_db_result_col(res, name));
}

/* Run a read statement built by the caller and release it. */
static enum tsp_code query(struct tsp_ts_op *op, struct tsp_ts_stmt *stmt, enum tsp_code built,
                           struct tsp_db_result **res, struct tsp_error *err)
{
    enum tsp_code rc = built;

    if (rc == TSP_OK) {
        rc = tsp_ts_op_query(op, stmt, res, err);
    }
    tsp_ts_stmt_fini(stmt);
    return rc;
}

void tsp_ts_names_free(char **names, size_t count)
{
    size_t i;

    for (i = 0; names != NULL && i < count; i++) {
        free(names[i]);
    }
    free(names);
}

static void chunk_from_row(const struct tsp_db_result *res, int row, struct tsp_ts_chunk *c)
{
    memset(c, 0, sizeof(*c));
    col_text(res, row, "schema", c->schema, sizeof(c->schema));
    col_text(res, row, "name", c->name, sizeof(c->name));
    col_text(res, row, "range_start", c->range_start, sizeof(c->range_start));
    col_text(res, row, "range_end", c->range_end, sizeof(c->range_end));
    c->compressed = col_bool(res, row, "compressed");
    c->total_bytes = col_int(res, row, "total_bytes");
    c->before_compression_bytes = col_int(res, row, "before_bytes");
    c->after_compression_bytes = col_int(res, row, "after_bytes");
}

enum tsp_code tsp_ts_op_chunks(struct tsp_ts_op *op, const char *hypertable,
                               const struct tsp_ts_chunk_filter *filter, struct tsp_ts_chunk **out,
                               char ***chunk_names, size_t *count, struct tsp_error *err)
{
    struct tsp_ts_stmt stmt = {0};
    struct tsp_db_result *res = NULL;
    struct tsp_ts_chunk *chunks = NULL;
    char **names = NULL;
    size_t n = 0;
    size_t i;
    enum tsp_code rc;

    rc = query(op, &stmt,
               tsp_ts_sql_chunks(&op->quoter, hypertable, filter, op->caps.compression, &stmt, err),
               &res, err);
    if (rc != TSP_OK) {
        goto done;
    }
    n = (size_t)tsp_db_result_rows(res);
    if (n > 0) {
        chunks = calloc(n, sizeof(*chunks));
        names = calloc(n, sizeof(*names));
        if (chunks == NULL || names == NULL) {
            rc = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
            goto done;
        }
    }
    for (i = 0; i < n; i++) {
        const char *chunk = tsp_db_result_value(res, (int)i, tsp_db_result_col(res, "chunk"));
        chunk_from_row(res, (int)i, &chunks[i]);
        names[i] = strdup(chunk != NULL ? chunk : "");
        if (names[i] == NULL) {
            rc = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
            goto done;
        }
    }
    *out = chunks;
    chunks = NULL;
    if (chunk_names != NULL) {
        *chunk_names = names;
        names = NULL;
    }
    *count = n;
done:
    tsp_ts_names_free(names, n);
    free(chunks);
    tsp_db_result_free(res);
    return rc;
}

enum tsp_code tsp_ts_op_chunks_page(struct tsp_ts_op *op, const char *schema, const char *name,
                                    const struct tsp_ts_chunk_filter *filter,
                                    const struct tsp_ts_keyset *keyset, struct tsp_ts_chunk **out,
                                    size_t *count, char *next_cursor, struct tsp_error *err)
{
    struct tsp_ts_stmt stmt = {0};
    struct tsp_db_result *res = NULL;
    struct tsp_ts_chunk *chunks = NULL;
    size_t rows = 0;
    size_t n = 0;
    size_t i;
    enum tsp_code rc;

    rc = query(op, &stmt,
               tsp_ts_sql_chunks_page(&op->quoter, schema, name, filter, op->caps.compression,
                                      keyset, &stmt, err),
               &res, err);
    if (rc != TSP_OK) {
        goto done;
    }
    /* one row more than the page says whether another page follows */
    rows = (size_t)tsp_db_result_rows(res);
    n = rows > (size_t)keyset->limit ? (size_t)keyset->limit : rows;
    if (n > 0) {
        chunks = calloc(n, sizeof(*chunks));
        if (chunks == NULL) {
            rc = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
            goto done;
        }
    }
    for (i = 0; i < n; i++) {
        chunk_from_row(res, (int)i, &chunks[i]);
    }
    next_cursor[0] = '\0';
    if (rows > n && n > 0) {
        rc = tsp_ts_cursor_encode(col_int(res, (int)n - 1, "sort_key"), chunks[n - 1].name,
                                  next_cursor, TSP_TS_CURSOR_MAX, err);
        if (rc != TSP_OK) {
            goto done;
        }
    }
    *out = chunks;
    chunks = NULL;
    *count = n;
done:
    free(chunks);
    tsp_db_result_free(res);
    return rc;
}

/* "policy_retention" -> "retention" etc.; other procedures keep their name. */
static void policy_kind(const char *proc, char *dst, size_t size)
{
    if (strcmp(proc, "policy_retention") == 0) {
        snprintf(dst, size, "retention");
    } else if (strcmp(proc, "policy_compression") == 0) {
        snprintf(dst, size, "compression");
    } else if (strcmp(proc, "policy_reorder") == 0) {
        snprintf(dst, size, "reorder");
    } else if (strcmp(proc, "policy_refresh_continuous_aggregate") == 0) {
        snprintf(dst, size, "refresh");
    } else {
        snprintf(dst, size, "%s", proc);
    }
}

static void policy_from_row(const struct tsp_db_result *res, int row, struct tsp_ts_policy *p)
{
    char proc[TSP_TS_NAME_MAX];

    memset(p, 0, sizeof(*p));
    p->job_id = col_int(res, row, "job_id");
    col_text(res, row, "proc_name", proc, sizeof(proc));
    policy_kind(proc, p->kind, sizeof(p->kind));
    col_text(res, row, "schedule_interval", p->schedule_interval, sizeof(p->schedule_interval));
    col_text(res, row, "after", p->after, sizeof(p->after));
    col_text(res, row, "start_offset", p->start_offset, sizeof(p->start_offset));
    col_text(res, row, "end_offset", p->end_offset, sizeof(p->end_offset));
    col_text(res, row, "index_name", p->index_name, sizeof(p->index_name));
    p->scheduled = col_bool(res, row, "scheduled");
}

enum tsp_code tsp_ts_op_policies(struct tsp_ts_op *op, struct tsp_hypertable *tables, size_t count,
                                 struct tsp_error *err)
{
    struct tsp_ts_stmt stmt = {0};
    struct tsp_db_result *res = NULL;
    const char *schema = count == 1 ? tables[0].schema : NULL;
    const char *name = count == 1 ? tables[0].name : NULL;
    int row;
    size_t i;
    enum tsp_code rc;

    rc = query(op, &stmt, tsp_ts_sql_policies(schema, name, &stmt, err), &res, err);
    if (rc != TSP_OK) {
        return rc;
    }
    for (row = 0; row < tsp_db_result_rows(res); row++) {
        char s[TSP_TS_NAME_MAX];
        char n[TSP_TS_NAME_MAX];
        col_text(res, row, "schema", s, sizeof(s));
        col_text(res, row, "name", n, sizeof(n));
        for (i = 0; i < count; i++) {
            struct tsp_hypertable *t = &tables[i];
            if (strcmp(t->schema, s) == 0 && strcmp(t->name, n) == 0 &&
                t->npolicies < TSP_TS_MAX_POLICIES) {
                policy_from_row(res, row, &t->policies[t->npolicies++]);
            }
        }
    }
    tsp_db_result_free(res);
    return TSP_OK;
}

static void hypertable_from_row(const struct tsp_db_result *res, int row, struct tsp_hypertable *h)
{
    memset(h, 0, sizeof(*h));
    col_text(res, row, "schema", h->schema, sizeof(h->schema));
    col_text(res, row, "name", h->name, sizeof(h->name));
    col_text(res, row, "time_column", h->time_column, sizeof(h->time_column));
    col_text(res, row, "chunk_interval", h->chunk_interval, sizeof(h->chunk_interval));
    h->num_chunks = col_int(res, row, "num_chunks");
    h->compression_enabled = col_bool(res, row, "compression_enabled");
    h->total_bytes = col_int(res, row, "total_bytes");
    h->compressed_chunks = col_int(res, row, "compressed_chunks");
    h->before_compression_bytes = col_int(res, row, "before_bytes");
    h->after_compression_bytes = col_int(res, row, "after_bytes");
    if (h->after_compression_bytes > 0) {
        h->compression_ratio =
            (double)h->before_compression_bytes / (double)h->after_compression_bytes;
    }
}

/* Hypertables (schema/name NULL = all) with their policies. */
static enum tsp_code load_hypertables(struct tsp_ts_op *op, const char *schema, const char *name,
                                      struct tsp_hypertable **out, size_t *count,
                                      struct tsp_error *err)
{
    struct tsp_ts_stmt stmt = {0};
    struct tsp_db_result *res = NULL;
    struct tsp_hypertable *tables = NULL;
    size_t n = 0;
    size_t i;
    enum tsp_code rc;

    rc = query(op, &stmt, tsp_ts_sql_hypertables(schema, name, op->caps.compression, &stmt, err),
               &res, err);
    if (rc != TSP_OK) {
        goto done;
    }
    n = (size_t)tsp_db_result_rows(res);
    if (n > 0) {
        tables = calloc(n, sizeof(*tables));
        if (tables == NULL) {
            rc = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
            goto done;
        }
    }
    for (i = 0; i < n; i++) {
        hypertable_from_row(res, (int)i, &tables[i]);
    }
    if (n > 0) {
        rc = tsp_ts_op_policies(op, tables, n, err);
        if (rc != TSP_OK) {
            goto done;
        }
    }
    *out = tables;
    tables = NULL;
    *count = n;
done:
    free(tables);
    tsp_db_result_free(res);
    return rc;
}

enum tsp_code tsp_ts_hypertables_list(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                      struct tsp_hypertable **out, size_t *count,
                                      struct tsp_error *err)
{
    struct tsp_ts_op op;
    enum tsp_code rc;

    rc = tsp_ts_op_begin(&op, ts, ctx, "hypertables.list", TSP_TS_FEATURE_EXTENSION, err);
    if (rc != TSP_OK) {
        return rc;
    }
    rc = load_hypertables(&op, NULL, NULL, out, count, err);
    tsp_ts_op_end(&op);
    return rc;
}

static enum tsp_code load_details(struct tsp_ts_op *op, struct tsp_hypertable *h,
                                  struct tsp_error *err)
{
    struct tsp_ts_stmt stmt = {0};
    struct tsp_db_result *res = NULL;
    int row;
    enum tsp_code rc;

    rc = query(op, &stmt, tsp_ts_sql_dimensions(h->schema, h->name, &stmt, err), &res, err);
    if (rc != TSP_OK) {
        return rc;
    }
    for (row = 0; row < tsp_db_result_rows(res) && h->ndimensions < TSP_TS_MAX_DIMENSIONS; row++) {
        struct tsp_ts_dimension *d = &h->dimensions[h->ndimensions++];
        col_text(res, row, "column_name", d->column, sizeof(d->column));
        col_text(res, row, "column_type", d->column_type, sizeof(d->column_type));
        col_text(res, row, "dimension_type", d->kind, sizeof(d->kind));
        col_text(res, row, "interval", d->interval, sizeof(d->interval));
        d->num_partitions = col_int(res, row, "num_partitions");
    }
    tsp_db_result_free(res);
    res = NULL;
    rc = query(op, &stmt, tsp_ts_sql_compression_settings(h->schema, h->name, &stmt, err), &res,
               err);
    if (rc != TSP_OK) {
        return rc;
    }
    for (row = 0; row < tsp_db_result_rows(res); row++) {
        char col[TSP_TS_NAME_MAX];
        col_text(res, row, "attname", col, sizeof(col));
        if (col_int(res, row, "segmentby_column_index") > 0 &&
            h->nsegment_by < TSP_TS_MAX_COLUMNS) {
            snprintf(h->segment_by[h->nsegment_by++], TSP_TS_NAME_MAX, "%s", col);
        }
        if (col_int(res, row, "orderby_column_index") > 0 && h->norder_by < TSP_TS_MAX_COLUMNS) {
            struct tsp_ts_order_by *o = &h->order_by[h->norder_by++];
            snprintf(o->column, sizeof(o->column), "%s", col);
            o->desc = !col_bool(res, row, "orderby_asc");
            o->nulls_first = col_bool(res, row, "orderby_nullsfirst");
        }
    }
    tsp_db_result_free(res);
    return TSP_OK;
}

enum tsp_code tsp_ts_hypertable_get(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                    const char *name, struct tsp_hypertable *out,
                                    struct tsp_error *err)
{
    struct tsp_ts_op op;
    struct tsp_hypertable *tables = NULL;
    size_t count = 0;
    char schema[TSP_TS_NAME_MAX];
    char rel[TSP_TS_NAME_MAX];
    enum tsp_code rc;

    rc = tsp_ts_op_begin(&op, ts, ctx, "hypertables.get", TSP_TS_FEATURE_EXTENSION, err);
    if (rc != TSP_OK) {
        return rc;
    }
    rc = tsp_ts_op_resolve(&op, name, false, "hypertable", schema, rel, err);
    if (rc == TSP_OK) {
        rc = load_hypertables(&op, schema, rel, &tables, &count, err);
    }
    if (rc == TSP_OK && count != 1) {
        rc = tsp_error_set(err, TSP_NOT_FOUND, "hypertable", "hypertable \"%s\" not found", name);
    }
    if (rc == TSP_OK) {
        rc = load_details(&op, &tables[0], err);
    }
    if (rc == TSP_OK) {
        rc = tsp_ts_op_advice(&op, &tables[0], err);
    }
    if (rc == TSP_OK) {
        *out = tables[0];
    }
    free(tables);
    tsp_ts_op_end(&op);
    return rc;
}

enum tsp_code tsp_ts_chunks_list(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                 const char *hypertable, const struct tsp_ts_chunk_filter *filter,
                                 struct tsp_ts_chunk **out, size_t *count, struct tsp_error *err)
{
    struct tsp_ts_op op;
    char schema[TSP_TS_NAME_MAX];
    char rel[TSP_TS_NAME_MAX];
    char target[2 * TSP_TS_NAME_MAX];
    enum tsp_code rc;

    rc = tsp_ts_op_begin(&op, ts, ctx, "chunks.list", TSP_TS_FEATURE_EXTENSION, err);
    if (rc != TSP_OK) {
        return rc;
    }
    rc = tsp_ts_op_resolve(&op, hypertable, false, "hypertable", schema, rel, err);
    if (rc == TSP_OK) {
        snprintf(target, sizeof(target), "%s.%s", schema, rel);
        rc = tsp_ts_op_chunks(&op, target, filter, out, NULL, count, err);
    }
    tsp_ts_op_end(&op);
    return rc;
}

enum tsp_code tsp_ts_chunks_page(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                 const char *hypertable, const struct tsp_ts_chunk_filter *filter,
                                 long limit, const char *cursor, struct tsp_ts_chunk **out,
                                 size_t *count, char *next_cursor, struct tsp_error *err)
{
    struct tsp_ts_op op;
    struct tsp_ts_keyset keyset;
    char schema[TSP_TS_NAME_MAX];
    char rel[TSP_TS_NAME_MAX];
    enum tsp_code rc = TSP_OK;

    memset(&keyset, 0, sizeof(keyset));
    if (limit < 1 || limit > TSP_TS_PAGE_MAX) {
        return tsp_error_set(err, TSP_INVALID, "limit", "limit must be an integer from 1 to %d",
                             TSP_TS_PAGE_MAX);
    }
    keyset.limit = limit;
    if (cursor != NULL) {
        rc = tsp_ts_cursor_decode(cursor, &keyset, err);
    }
    if (rc != TSP_OK) {
        return rc;
    }
    rc = tsp_ts_op_begin(&op, ts, ctx, "chunks.list", TSP_TS_FEATURE_EXTENSION, err);
    if (rc != TSP_OK) {
        return rc;
    }
    rc = tsp_ts_op_resolve(&op, hypertable, false, "hypertable", schema, rel, err);
    if (rc == TSP_OK) {
        rc = tsp_ts_op_chunks_page(&op, schema, rel, filter, &keyset, out, count, next_cursor, err);
    }
    tsp_ts_op_end(&op);
    return rc;
}

enum tsp_code tsp_ts_policy_get(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                const char *hypertable, enum tsp_ts_policy_kind kind,
                                struct tsp_ts_policy *out, struct tsp_error *err)
{
    static const char *const kinds[] = {"compression", "retention", "reorder"};
    static const char *const ops[] = {"compression_policy.get", "retention_policy.get",
                                      "reorder_policy.get"};
    const char *want = kinds[kind];
    struct tsp_ts_op op;
    struct tsp_hypertable *table = NULL;
    size_t i;
    enum tsp_code rc;

    table = calloc(1, sizeof(*table));
    if (table == NULL) {
        return tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
    }
    rc = tsp_ts_op_begin(&op, ts, ctx, ops[kind], TSP_TS_FEATURE_EXTENSION, err);
    if (rc != TSP_OK) {
        free(table);
        return rc;
    }
    rc = tsp_ts_op_resolve(&op, hypertable, false, "hypertable", table->schema, table->name, err);
    if (rc == TSP_OK) {
        rc = tsp_ts_op_policies(&op, table, 1, err);
    }
    if (rc == TSP_OK) {
        rc = tsp_error_set(err, TSP_NOT_FOUND, NULL, "hypertable \"%s.%s\" has no %s policy",
                           table->schema, table->name, want);
        for (i = 0; i < table->npolicies; i++) {
            if (strcmp(table->policies[i].kind, want) == 0) {
                *out = table->policies[i];
                rc = TSP_OK;
                break;
            }
        }
    }
    free(table);
    tsp_ts_op_end(&op);
    return rc;
}

static void aggregate_from_row(const struct tsp_db_result *res, int row, struct tsp_ts_aggregate *a)
{
    char proc[] = "policy_refresh_continuous_aggregate";

    memset(a, 0, sizeof(*a));
    col_text(res, row, "schema", a->schema, sizeof(a->schema));
    col_text(res, row, "name", a->name, sizeof(a->name));
    col_text(res, row, "hypertable_schema", a->hypertable_schema, sizeof(a->hypertable_schema));
    col_text(res, row, "hypertable_name", a->hypertable_name, sizeof(a->hypertable_name));
    col_text(res, row, "bucket", a->bucket, sizeof(a->bucket));
    a->materialized_only = col_bool(res, row, "materialized_only");
    a->has_policy = tsp_db_result_value(res, row, tsp_db_result_col(res, "job_id")) != NULL;
    if (a->has_policy) {
        a->policy.job_id = col_int(res, row, "job_id");
        policy_kind(proc, a->policy.kind, sizeof(a->policy.kind));
        col_text(res, row, "schedule_interval", a->policy.schedule_interval,
                 sizeof(a->policy.schedule_interval));
        col_text(res, row, "start_offset", a->policy.start_offset, sizeof(a->policy.start_offset));
        col_text(res, row, "end_offset", a->policy.end_offset, sizeof(a->policy.end_offset));
        a->policy.scheduled = col_bool(res, row, "scheduled");
    }
    col_text(res, row, "last_refresh", a->last_refresh, sizeof(a->last_refresh));
}

static enum tsp_code load_aggregates(struct tsp_ts_op *op, const char *schema, const char *name,
                                     struct tsp_ts_aggregate **out, size_t *count,
                                     struct tsp_error *err)
{
    struct tsp_ts_stmt stmt = {0};
    struct tsp_db_result *res = NULL;
    struct tsp_ts_aggregate *aggs = NULL;
    size_t n;
    size_t i;
    enum tsp_code rc;

    rc = query(op, &stmt, tsp_ts_sql_aggregates(schema, name, &stmt, err), &res, err);
    if (rc != TSP_OK) {
        return rc;
    }
    n = (size_t)tsp_db_result_rows(res);
    if (n > 0) {
        aggs = calloc(n, sizeof(*aggs));
        if (aggs == NULL) {
            tsp_db_result_free(res);
            return tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
        }
    }
    for (i = 0; i < n; i++) {
        aggregate_from_row(res, (int)i, &aggs[i]);
    }
    tsp_db_result_free(res);
    *out = aggs;
    *count = n;
    return TSP_OK;
}

enum tsp_code tsp_ts_aggregates_list(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                     struct tsp_ts_aggregate **out, size_t *count,
                                     struct tsp_error *err)
{
    struct tsp_ts_op op;
    enum tsp_code rc;

    rc = tsp_ts_op_begin(&op, ts, ctx, "aggregates.list", TSP_TS_FEATURE_AGGREGATES, err);
    if (rc != TSP_OK) {
        return rc;
    }
    rc = load_aggregates(&op, NULL, NULL, out, count, err);
    tsp_ts_op_end(&op);
    return rc;
}

enum tsp_code tsp_ts_aggregate_get(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                   const char *name, struct tsp_ts_aggregate *out,
                                   struct tsp_error *err)
{
    struct tsp_ts_op op;
    struct tsp_ts_aggregate *aggs = NULL;
    size_t count = 0;
    char schema[TSP_TS_NAME_MAX];
    char rel[TSP_TS_NAME_MAX];
    enum tsp_code rc;

    rc = tsp_ts_op_begin(&op, ts, ctx, "aggregates.get", TSP_TS_FEATURE_AGGREGATES, err);
    if (rc != TSP_OK) {
        return rc;
    }
    rc = tsp_ts_op_resolve(&op, name, true, "name", schema, rel, err);
    if (rc == TSP_OK) {
        rc = load_aggregates(&op, schema, rel, &aggs, &count, err);
    }
    if (rc == TSP_OK && count != 1) {
        rc = tsp_error_set(err, TSP_NOT_FOUND, "name", "continuous aggregate \"%s\" not found",
                           name);
    }
    if (rc == TSP_OK) {
        *out = aggs[0];
    }
    free(aggs);
    tsp_ts_op_end(&op);
    return rc;
}

static void job_from_row(const struct tsp_db_result *res, int row, struct tsp_ts_job *j)
{
    memset(j, 0, sizeof(*j));
    j->job_id = col_int(res, row, "job_id");
    col_text(res, row, "application_name", j->application_name, sizeof(j->application_name));
    col_text(res, row, "proc_schema", j->proc_schema, sizeof(j->proc_schema));
    col_text(res, row, "proc_name", j->proc_name, sizeof(j->proc_name));
    col_text(res, row, "schedule_interval", j->schedule_interval, sizeof(j->schedule_interval));
    j->scheduled = col_bool(res, row, "scheduled");
    col_text(res, row, "config", j->config, sizeof(j->config));
    col_text(res, row, "hypertable_schema", j->hypertable_schema, sizeof(j->hypertable_schema));
    col_text(res, row, "hypertable_name", j->hypertable_name, sizeof(j->hypertable_name));
    col_text(res, row, "next_start", j->next_start, sizeof(j->next_start));
    col_text(res, row, "last_run_status", j->last_run_status, sizeof(j->last_run_status));
    col_text(res, row, "last_run_started_at", j->last_run_started_at,
             sizeof(j->last_run_started_at));
    col_text(res, row, "last_successful_finish", j->last_successful_finish,
             sizeof(j->last_successful_finish));
    j->total_runs = col_int(res, row, "total_runs");
    j->total_failures = col_int(res, row, "total_failures");
}

/* Jobs (job_id < 0 = all). */
static enum tsp_code load_jobs(struct tsp_ts_op *op, long long job_id, struct tsp_ts_job **out,
                               size_t *count, struct tsp_error *err)
{
    struct tsp_ts_stmt stmt = {0};
    struct tsp_db_result *res = NULL;
    struct tsp_ts_job *jobs = NULL;
    size_t n;
    size_t i;
    enum tsp_code rc;

    rc = query(op, &stmt, tsp_ts_sql_jobs(job_id, &stmt, err), &res, err);
    if (rc != TSP_OK) {
        return rc;
    }
    n = (size_t)tsp_db_result_rows(res);
    if (n > 0) {
        jobs = calloc(n, sizeof(*jobs));
        if (jobs == NULL) {
            tsp_db_result_free(res);
            return tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
        }
    }
    for (i = 0; i < n; i++) {
        job_from_row(res, (int)i, &jobs[i]);
    }
    tsp_db_result_free(res);
    *out = jobs;
    *count = n;
    return TSP_OK;
}

enum tsp_code tsp_ts_jobs_list(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                               struct tsp_ts_job **out, size_t *count, struct tsp_error *err)
{
    struct tsp_ts_op op;
    enum tsp_code rc;

    rc = tsp_ts_op_begin(&op, ts, ctx, "jobs.list", TSP_TS_FEATURE_EXTENSION, err);
    if (rc != TSP_OK) {
        return rc;
    }
    rc = load_jobs(&op, -1, out, count, err);
    tsp_ts_op_end(&op);
    return rc;
}

enum tsp_code tsp_ts_job_get(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx, long long job_id,
                             struct tsp_ts_job *out, struct tsp_error *err)
{
    struct tsp_ts_op op;
    struct tsp_ts_job *jobs = NULL;
    size_t count = 0;
    enum tsp_code rc;

    rc = tsp_ts_op_begin(&op, ts, ctx, "jobs.get", TSP_TS_FEATURE_EXTENSION, err);
    if (rc != TSP_OK) {
        return rc;
    }
    rc = load_jobs(&op, job_id, &jobs, &count, err);
    if (rc == TSP_OK && count != 1) {
        rc = tsp_error_set(err, TSP_NOT_FOUND, "id", "job %lld not found", job_id);
    }
    if (rc == TSP_OK) {
        *out = jobs[0];
    }
    free(jobs);
    tsp_ts_op_end(&op);
    return rc;
}

enum tsp_code tsp_ts_caps_get(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                              struct tsp_ts_caps *out, struct tsp_error *err)
{
    struct tsp_ts_op op;
    enum tsp_code rc;

    rc = tsp_ts_op_begin(&op, ts, ctx, "timescaledb.caps", TSP_TS_FEATURE_NONE, err);
    if (rc != TSP_OK) {
        return rc;
    }
    *out = op.caps;
    tsp_ts_op_end(&op);
    return TSP_OK;
}

enum tsp_code tsp_ts_require(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                             enum tsp_ts_feature feature, struct tsp_error *err)
{
    struct tsp_ts_op op;
    enum tsp_code rc;

    rc = tsp_ts_op_begin(&op, ts, ctx, "timescaledb.require", feature, err);
    if (rc == TSP_OK) {
        tsp_ts_op_end(&op);
    }
    return rc;
}
