/* timescale/change.c - the hypertable changes: compression settings, compress / decompress
 * and drop chunks, compression and retention policies; each one runs through tsp_ts_op_change.
 * SPDX-License-Identifier: MIT
 */
#include "timescale_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tspool/db.h"
#include "tspool/log.h"

static const char *policy_op_name(enum tsp_ts_policy_kind kind, const char *verb, char *buf,
                                  size_t size)
{
    static const char *const kinds[] = {"compression", "retention", "reorder"};

    snprintf(buf, size, "%s_policy.%s", kinds[kind], verb);
    return buf;
}

static enum tsp_ts_feature policy_feature(enum tsp_ts_policy_kind kind)
{
    switch (kind) {
    case TSP_TS_POLICY_RETENTION:
        return TSP_TS_FEATURE_RETENTION;
    case TSP_TS_POLICY_REORDER:
        return TSP_TS_FEATURE_JOBS; /* a TSL policy job like the others */
    default:
        return TSP_TS_FEATURE_COMPRESSION;
    }
}

/* The remove statement of a policy of any kind. */
static enum tsp_code policy_remove_sql(struct tsp_ts_op *op, const char *target,
                                       enum tsp_ts_policy_kind kind, bool if_exists,
                                       struct tsp_ts_stmt *out, struct tsp_error *err)
{
    if (kind == TSP_TS_POLICY_REORDER) {
        return tsp_ts_sql_reorder_remove(&op->quoter, target, if_exists, out, err);
    }
    return tsp_ts_sql_policy_remove(&op->quoter, target, kind, if_exists, op->caps.columnstore_api,
                                    out, err);
}

enum tsp_code tsp_ts_compression_set(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                     const char *hypertable,
                                     const struct tsp_ts_compression_spec *spec,
                                     struct tsp_ts_change *out, struct tsp_error *err)
{
    struct tsp_ts_op op;
    struct tsp_ts_stmt stmt = {0};
    struct tsp_ts_target t;
    enum tsp_code rc;

    rc = tsp_ts_op_begin_on(&op, ts, ctx, "compression.set", TSP_TS_FEATURE_COMPRESSION, hypertable,
                            false, &t, err);
    if (rc != TSP_OK) {
        return rc;
    }
    rc = tsp_ts_sql_compression_set(&op.quoter, t.qualified, spec, op.caps.columnstore_api, &stmt,
                                    err);
    return tsp_ts_op_finish_one(&op, rc, t.qualified, &stmt, 0, out, err);
}

enum tsp_code tsp_ts_chunks_compress(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                     const char *hypertable, bool compress,
                                     const struct tsp_ts_chunk_filter *filter,
                                     struct tsp_ts_change *out, struct tsp_error *err)
{
    struct tsp_ts_op op;
    struct tsp_ts_chunk_filter select = {NULL, NULL, -1};
    struct tsp_ts_chunk *before = NULL;
    struct tsp_ts_chunk *after = NULL;
    char **names = NULL;
    char **after_names = NULL;
    size_t nbefore = 0;
    size_t nafter = 0;
    struct tsp_ts_stmt *stmts = NULL;
    struct tsp_ts_change change = {0};
    struct tsp_ts_target t;
    size_t i;
    size_t j;
    enum tsp_code rc;

    if (filter == NULL || (filter->older_than == NULL && filter->newer_than == NULL)) {
        return tsp_error_set(err, TSP_INVALID, "older_than",
                             "older_than or newer_than is required to select chunks");
    }
    select.older_than = filter->older_than;
    select.newer_than = filter->newer_than;
    select.compressed = compress ? 0 : 1; /* only chunks the operation changes */
    rc = tsp_ts_op_begin_on(&op, ts, ctx, compress ? "chunks.compress" : "chunks.decompress",
                            TSP_TS_FEATURE_COMPRESSION, hypertable, false, &t, err);
    if (rc != TSP_OK) {
        return rc;
    }
    rc = tsp_ts_op_chunks(&op, t.qualified, &select, &before, &names, &nbefore, err);
    if (rc != TSP_OK) {
        goto done;
    }
    stmts = nbefore > 0 ? calloc(nbefore, sizeof(*stmts)) : NULL;
    if (nbefore > 0 && stmts == NULL) {
        rc = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
        goto done;
    }
    for (i = 0; i < nbefore; i++) {
        rc = tsp_ts_sql_chunk_compress(names[i], compress, op.caps.columnstore_api, &stmts[i], err);
        if (rc != TSP_OK) {
            goto done;
        }
    }
    rc = tsp_ts_op_change(&op, t.qualified, stmts, nbefore, NULL, &change, err);
    if (rc != TSP_OK) {
        goto done;
    }
    change.chunks = nbefore > 0 ? calloc(nbefore, sizeof(*change.chunks)) : NULL;
    if (nbefore > 0 && change.chunks == NULL) {
        rc = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
        goto done;
    }
    change.nchunks = nbefore;
    for (i = 0; i < nbefore; i++) {
        change.chunks[i].chunk = before[i];
        change.chunks[i].bytes_before = before[i].total_bytes;
        change.chunks[i].bytes_after = before[i].total_bytes;
    }
    if (!change.dry_run && nbefore > 0) {
        select.compressed = -1;
        rc = tsp_ts_op_chunks(&op, t.qualified, &select, &after, &after_names, &nafter, err);
        if (rc != TSP_OK) {
            goto done;
        }
        for (i = 0; i < nbefore; i++) {
            for (j = 0; j < nafter; j++) {
                if (strcmp(names[i], after_names[j]) == 0) {
                    change.chunks[i].chunk = after[j];
                    change.chunks[i].bytes_after = after[j].total_bytes;
                }
            }
        }
    }
    *out = change;
    memset(&change, 0, sizeof(change));
done:
    tsp_ts_change_fini(&change);
    for (i = 0; stmts != NULL && i < nbefore; i++) {
        tsp_ts_stmt_fini(&stmts[i]);
    }
    free(stmts);
    tsp_ts_names_free(after_names, nafter);
    tsp_ts_names_free(names, nbefore);
    free(after);
    free(before);
    tsp_ts_op_end(&op);
    return rc;
}

enum tsp_code tsp_ts_chunks_drop(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                 const char *hypertable, const struct tsp_ts_chunk_filter *filter,
                                 struct tsp_ts_change *out, struct tsp_error *err)
{
    struct tsp_ts_op op;
    struct tsp_ts_chunk_filter select = {NULL, NULL, -1};
    struct tsp_ts_chunk *chunks = NULL;
    char **names = NULL;
    size_t count = 0;
    struct tsp_ts_stmt stmt = {0};
    struct tsp_ts_change change = {0};
    struct tsp_ts_target t;
    size_t i;
    enum tsp_code rc;

    if (filter == NULL || filter->older_than == NULL) {
        return tsp_error_set(err, TSP_INVALID, "older_than",
                             "older_than is required to drop chunks");
    }
    select.older_than = filter->older_than;
    select.newer_than = filter->newer_than;
    rc = tsp_ts_op_begin_on(&op, ts, ctx, "chunks.drop", TSP_TS_FEATURE_EXTENSION, hypertable,
                            false, &t, err);
    if (rc != TSP_OK) {
        return rc;
    }
    /* the same show_chunks() selection drop_chunks() makes: what goes, with sizes */
    rc = tsp_ts_op_chunks(&op, t.qualified, &select, &chunks, &names, &count, err);
    if (rc != TSP_OK) {
        goto done;
    }
    rc = tsp_ts_sql_drop_chunks(&op.quoter, t.qualified, &select, &stmt, err);
    if (rc != TSP_OK) {
        goto done;
    }
    rc = tsp_ts_op_change(&op, t.qualified, &stmt, 1, NULL, &change, err);
    if (rc != TSP_OK) {
        goto done;
    }
    change.chunks = count > 0 ? calloc(count, sizeof(*change.chunks)) : NULL;
    if (count > 0 && change.chunks == NULL) {
        rc = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
        goto done;
    }
    change.nchunks = count;
    for (i = 0; i < count; i++) {
        change.chunks[i].chunk = chunks[i];
        change.chunks[i].bytes_before = chunks[i].total_bytes;
        change.chunks[i].bytes_after = change.dry_run ? chunks[i].total_bytes : 0;
    }
    *out = change;
    memset(&change, 0, sizeof(change));
done:
    tsp_ts_change_fini(&change);
    tsp_ts_stmt_fini(&stmt);
    tsp_ts_names_free(names, count);
    free(chunks);
    tsp_ts_op_end(&op);
    return rc;
}

/* First column of the first row as a job id, or 0. */
static long long job_id_of(const struct tsp_db_result *res)
{
    return tsp_db_result_int(res, 0, 0, 0);
}

/* The hypertable's policy of kind `kind` ("compression", "retention") into *out; false when
 * it has none or it cannot be read. */
static bool find_policy(struct tsp_ts_op *op, const char *schema, const char *rel, const char *kind,
                        struct tsp_ts_policy *out)
{
    struct tsp_hypertable table;
    struct tsp_error ignored;
    size_t i;

    memset(&table, 0, sizeof(table));
    tsp_error_init(&ignored);
    snprintf(table.schema, sizeof(table.schema), "%s", schema);
    snprintf(table.name, sizeof(table.name), "%s", rel);
    if (tsp_ts_op_policies(op, &table, 1, &ignored) != TSP_OK) {
        return false;
    }
    for (i = 0; i < table.npolicies; i++) {
        if (strcmp(table.policies[i].kind, kind) == 0) {
            *out = table.policies[i];
            return true;
        }
    }
    return false;
}

/* Look the new policy's job up when the statement (a CALL) returned nothing. */
static long long policy_job_id(struct tsp_ts_op *op, const char *schema, const char *rel,
                               const char *proc_prefix)
{
    struct tsp_ts_policy policy;

    return find_policy(op, schema, rel, proc_prefix, &policy) ? policy.job_id : 0;
}

/* The columnstore procedures commit one by one: when the new policy could not be added after
 * the old one was removed, add the old one back, so that a failed PUT leaves the hypertable as
 * it was. Appends what happened to err->detail. */
static void restore_policy(struct tsp_ts_op *op, const char *schema, const char *rel,
                           const char *target, enum tsp_ts_policy_kind kind,
                           const struct tsp_ts_policy *old, struct tsp_error *err)
{
    struct tsp_ts_policy now;
    struct tsp_ts_stmt stmt = {0};
    struct tsp_error rerr;
    const char *kind_name = kind == TSP_TS_POLICY_RETENTION ? "retention" : "compression";
    size_t len = strlen(err->detail);
    enum tsp_code rc = TSP_OK;
    struct tsp_log_ctx ctx = {.event = "timescale.audit",
                              .request_id = op->ctx->request_id,
                              .conn_id = tsp_lease_conn_id(op->lease),
                              .label = op->name};

    if (find_policy(op, schema, rel, kind_name, &now)) {
        return; /* the old policy is still there (the failure came before its removal) */
    }
    tsp_error_init(&rerr);
    rc = tsp_ts_sql_policy_add(&op->quoter, target, kind, old->after,
                               old->schedule_interval[0] != '\0' ? old->schedule_interval : NULL,
                               op->caps.columnstore_api, &stmt, &rerr);
    if (rc == TSP_OK) {
        rc = tsp_ts_op_query(op, &stmt, NULL, &rerr);
    }
    tsp_ts_stmt_fini(&stmt);
    if (rc == TSP_OK) {
        TSP_LOG_WARN(&ctx, "%s: new %s policy failed; the previous one (after %s) was restored",
                     target, kind_name, old->after);
        snprintf(err->detail + len, sizeof(err->detail) - len,
                 "; the previous policy (after %s) was restored", old->after);
    } else {
        TSP_LOG_ERROR(&ctx,
                      "%s: new %s policy failed and the previous one (after %s) could not "
                      "be restored: %s",
                      target, kind_name, old->after, rerr.detail);
        snprintf(err->detail + len, sizeof(err->detail) - len,
                 "; the previous policy (after %s) could not be restored: %.120s", old->after,
                 rerr.detail);
    }
}

enum tsp_code tsp_ts_policy_put(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                const char *hypertable, enum tsp_ts_policy_kind kind,
                                const char *after, const char *schedule_interval,
                                struct tsp_ts_change *out, struct tsp_error *err)
{
    struct tsp_ts_op op;
    struct tsp_ts_stmt stmts[2];
    struct tsp_db_result *results[2] = {NULL, NULL};
    struct tsp_ts_change change = {0};
    struct tsp_ts_target t;
    char name[48];
    struct tsp_ts_policy old;
    bool had_old = false;
    enum tsp_code rc;

    memset(stmts, 0, sizeof(stmts));
    memset(&old, 0, sizeof(old));
    rc = tsp_ts_op_begin_on(&op, ts, ctx, policy_op_name(kind, "put", name, sizeof(name)),
                            policy_feature(kind), hypertable, false, &t, err);
    if (rc != TSP_OK) {
        return rc;
    }
    if (op.caps.columnstore_api && kind == TSP_TS_POLICY_COMPRESSION && !op.ctx->dry_run) {
        /* the columnstore procedures run in autocommit: check the values before the old
           policy goes */
        struct tsp_ts_stmt check = {0};
        rc = tsp_ts_sql_policy_check(kind, after, schedule_interval, &check, err);
        if (rc == TSP_OK) {
            rc = tsp_ts_op_query(&op, &check, NULL, err);
        }
        tsp_ts_stmt_fini(&check);
        if (rc != TSP_OK) {
            goto done;
        }
    }
    /* PUT replaces: remove whatever is there, then add */
    rc = policy_remove_sql(&op, t.qualified, kind, true, &stmts[0], err);
    if (rc == TSP_OK && kind == TSP_TS_POLICY_REORDER) {
        rc = tsp_ts_sql_reorder_add(&op.quoter, t.qualified, after, &stmts[1], err);
    } else if (rc == TSP_OK) {
        rc = tsp_ts_sql_policy_add(&op.quoter, t.qualified, kind, after, schedule_interval,
                                   op.caps.columnstore_api, &stmts[1], err);
    }
    if (rc != TSP_OK) {
        goto done;
    }
    /* the policy this PUT replaces, to put back if the new one cannot be added */
    had_old = !op.ctx->dry_run &&
              find_policy(&op, t.schema, t.rel,
                          kind == TSP_TS_POLICY_RETENTION ? "retention" : "compression", &old);
    rc = tsp_ts_op_change(&op, t.qualified, stmts, 2, results, &change, err);
    if (rc != TSP_OK) {
        if (had_old && !change.atomic && err != NULL) {
            restore_policy(&op, t.schema, t.rel, t.qualified, kind, &old, err);
        }
        goto done;
    }
    if (!change.dry_run) {
        change.job_id = change.stmts[1].autocommit
                            ? policy_job_id(&op, t.schema, t.rel, "compression")
                            : job_id_of(results[1]);
    }
    *out = change;
    memset(&change, 0, sizeof(change));
done:
    tsp_db_result_free(results[1]);
    tsp_db_result_free(results[0]);
    tsp_ts_change_fini(&change);
    tsp_ts_stmt_fini(&stmts[1]);
    tsp_ts_stmt_fini(&stmts[0]);
    tsp_ts_op_end(&op);
    return rc;
}

enum tsp_code tsp_ts_policy_delete(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                   const char *hypertable, enum tsp_ts_policy_kind kind,
                                   struct tsp_ts_change *out, struct tsp_error *err)
{
    struct tsp_ts_op op;
    struct tsp_ts_stmt stmt = {0};
    struct tsp_ts_policy policy;
    struct tsp_ts_target t;
    char name[48];
    enum tsp_code rc;

    rc = tsp_ts_policy_get(ts, ctx, hypertable, kind, &policy, err);
    if (rc != TSP_OK) {
        return rc; /* 404 when there is none, also for a dry run */
    }
    rc = tsp_ts_op_begin_on(&op, ts, ctx, policy_op_name(kind, "delete", name, sizeof(name)),
                            policy_feature(kind), hypertable, false, &t, err);
    if (rc != TSP_OK) {
        return rc;
    }
    rc = policy_remove_sql(&op, t.qualified, kind, false, &stmt, err);
    return tsp_ts_op_finish_one(&op, rc, t.qualified, &stmt, policy.job_id, out, err);
}
