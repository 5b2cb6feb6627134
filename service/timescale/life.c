/* timescale/life.c - the hypertable lifecycle: turn a table into a hypertable, set its chunk
 * interval, and the chunk-interval advice of GET /hypertables/{name}.
 * SPDX-License-Identifier: MIT
 */
#include "timescale_int.h"

#include <stdio.h>
#include <string.h>

#include "tspool/db.h"

enum tsp_code tsp_ts_hypertable_create(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                       const struct tsp_ts_hypertable_spec *spec,
                                       struct tsp_ts_change *out, struct tsp_error *err)
{
    struct tsp_ts_op op;
    struct tsp_ts_stmt resolve = {0};
    struct tsp_ts_stmt stmt = {0};
    struct tsp_db_result *res = NULL;
    char target[2 * TSP_TS_NAME_MAX + 2];
    enum tsp_code rc;

    if (spec == NULL || spec->name == NULL || spec->time_column == NULL) {
        return tsp_error_set(err, TSP_INVALID,
                             spec == NULL || spec->name == NULL ? "name" : "time_column",
                             "name and time_column are required");
    }
    rc = tsp_db_qualified_validate(spec->name, "name", err);
    if (rc != TSP_OK) {
        return rc;
    }
    rc = tsp_ts_op_begin(&op, ts, ctx, "hypertables.create", TSP_TS_FEATURE_EXTENSION, err);
    if (rc != TSP_OK) {
        return rc;
    }
    /* the table must exist; whether it already is a hypertable decides 409 or nothing to do */
    rc = tsp_ts_sql_resolve(&op.quoter, spec->name, false, "name", &resolve, err);
    if (rc == TSP_OK) {
        rc = tsp_ts_op_query(&op, &resolve, &res, err);
    }
    if (rc != TSP_OK) {
        goto done;
    }
    if (tsp_db_result_rows(res) != 1) {
        rc = tsp_error_set(err, TSP_NOT_FOUND, "name", "table \"%s\" not found", spec->name);
        goto done;
    }
    snprintf(target, sizeof(target), "%s.%s",
             tsp_db_result_value(res, 0, tsp_db_result_col(res, "schema")),
             tsp_db_result_value(res, 0, tsp_db_result_col(res, "name")));
    if (tsp_db_result_bool(res, 0, tsp_db_result_col(res, "is_kind")) && !spec->if_not_exists) {
        rc = tsp_error_set(err, TSP_CONFLICT, "name", "\"%s\" is already a hypertable", target);
        goto done;
    }
    rc = tsp_ts_op_lock(&op, target, err);
    if (rc == TSP_OK) {
        rc = tsp_ts_sql_hypertable_create(&op.quoter, spec, target, &stmt, err);
    }
done:
    tsp_db_result_free(res);
    tsp_ts_stmt_fini(&resolve);
    return tsp_ts_op_finish_one(&op, rc, rc == TSP_OK ? target : spec->name, &stmt, 0, out, err);
}

enum tsp_code tsp_ts_chunk_interval_set(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                        const char *hypertable, const char *chunk_interval,
                                        struct tsp_ts_change *out, struct tsp_error *err)
{
    struct tsp_ts_op op;
    struct tsp_ts_stmt stmt = {0};
    struct tsp_ts_target t;
    enum tsp_code rc;

    if (chunk_interval == NULL || chunk_interval[0] == '\0') {
        return tsp_error_set(err, TSP_INVALID, "chunk_interval", "chunk_interval is required");
    }
    rc = tsp_ts_op_begin_on(&op, ts, ctx, "chunk_interval.set", TSP_TS_FEATURE_EXTENSION,
                            hypertable, false, &t, err);
    if (rc != TSP_OK) {
        return rc;
    }
    rc = tsp_ts_sql_chunk_interval_set(&op.quoter, t.qualified, chunk_interval, &stmt, err);
    return tsp_ts_op_finish_one(&op, rc, t.qualified, &stmt, 0, out, err);
}

enum tsp_code tsp_ts_op_advice(struct tsp_ts_op *op, struct tsp_hypertable *h,
                               struct tsp_error *err)
{
    struct tsp_ts_stmt stmt = {0};
    struct tsp_db_result *res = NULL;
    enum tsp_code rc = tsp_ts_sql_interval_advice(h->schema, h->name, &stmt, err);

    if (rc == TSP_OK) {
        rc = tsp_ts_op_query(op, &stmt, &res, err);
    }
    if (rc == TSP_OK) {
        tsp_ts_advice_derive(
            tsp_db_result_int(res, 0, tsp_db_result_col(res, "shared_buffers"), 0),
            tsp_db_result_int(res, 0, tsp_db_result_col(res, "newest_bytes"), 0),
            (int)tsp_db_result_int(res, 0, tsp_db_result_col(res, "newest_chunks"), 0),
            h->num_chunks, &h->advice);
    }
    tsp_db_result_free(res);
    tsp_ts_stmt_fini(&stmt);
    return rc;
}
