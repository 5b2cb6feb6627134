/* timescale/exec.c - runs the builders on a leased connection: operation setup (borrow,
 * capabilities), name resolution, transactions, field attribution of rejected values and the
 * audit record. The reads (read.c) and changes (change.c, agg.c) are built on it.
 * SPDX-License-Identifier: MIT
 */
#include "timescale_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tspool/clock.h"
#include "tspool/db.h"
#include "tspool/log.h"
#include "tspool/replicas.h"
#include "tspool/strbuf.h"

static const struct tsp_ts_ctx default_ctx = {0};

static enum tsp_code lease_quote(void *ctx, const char *ident, bool qualified, const char *field,
                                 char **out, struct tsp_error *err)
{
    struct tsp_lease *lease = ctx;
    if (qualified) {
        return tsp_db_qualified_quote(lease, ident, field, out, err);
    }
    return tsp_db_identifier_quote(lease, ident, field, out, err);
}

enum tsp_code tsp_ts_op_begin(struct tsp_ts_op *op, struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                              const char *name, enum tsp_ts_feature feature, struct tsp_error *err)
{
    char label[TSP_POOL_LABEL_MAX];
    struct tsp_lease *lease = NULL;
    enum tsp_code rc;

    memset(op, 0, sizeof(*op));
    if (ts == NULL) {
        return tsp_error_set(err, TSP_INTERNAL, NULL, "TimescaleDB service not initialised");
    }
    op->ts = ts;
    op->ctx = ctx != NULL ? ctx : &default_ctx;
    op->name = name;
    op->started_ms = tsp_clock_mono_ms();
    snprintf(label, sizeof(label), "ts.%s", name);
    if (op->ctx->replica_ok && ts->cluster != NULL) {
        rc = tsp_cluster_borrow_read(ts->cluster, label,
                                     op->ctx->timeout_ms > 0 ? op->ctx->timeout_ms : -1, &lease,
                                     NULL, err);
    } else {
        rc = tsp_pool_borrow(ts->pool, label, op->ctx->timeout_ms > 0 ? op->ctx->timeout_ms : -1,
                             &lease, err);
    }
    if (rc != TSP_OK) {
        return rc;
    }
    if (op->ctx->served_by != NULL) {
        tsp_db_server_name(lease, op->ctx->served_by, op->ctx->served_by_size);
    }
    op->lease = lease;
    op->quoter.quote = lease_quote;
    op->quoter.ctx = lease;
    rc = tsp_ts_caps_for_lease(ts, lease, &op->caps, err);
    if (rc == TSP_OK) {
        rc = tsp_ts_caps_require(&op->caps, feature, err);
    }
    if (rc != TSP_OK) {
        tsp_ts_op_end(op);
    }
    return rc;
}

static void audit(const struct tsp_ts_op *op, const char *target,
                  const struct tsp_ts_change *change, enum tsp_code rc,
                  const struct tsp_error *err);

/* Advisory lock keys: (hashtext('tspool'), hashtext(object)) in the two-int4 key space, so
 * they cannot collide with an application's single-bigint keys. */
#define LOCK_TRY                                                                                   \
    "SELECT pg_catalog.pg_try_advisory_lock(pg_catalog.hashtext('tspool'), "                       \
    "pg_catalog.hashtext($1::text)) AS locked"
#define LOCK_RELEASE                                                                               \
    "SELECT pg_catalog.pg_advisory_unlock(pg_catalog.hashtext('tspool'), "                         \
    "pg_catalog.hashtext($1::text))"

enum tsp_code tsp_ts_op_lock(struct tsp_ts_op *op, const char *key, struct tsp_error *err)
{
    const char *params[1] = {key};
    struct tsp_db_result *res = NULL;
    enum tsp_code rc;

    if (op->ctx->dry_run) {
        return TSP_OK;
    }
    rc = tsp_db_exec(op->lease, LOCK_TRY, 1, params, &res, err);
    if (rc != TSP_OK) {
        goto done;
    }
    if (!tsp_db_result_bool(res, 0, 0)) {
        struct tsp_ts_change refused = {0};
        rc = tsp_error_set(err, TSP_CHANGE_IN_PROGRESS, NULL,
                           "another change to \"%s\" is in progress (on this or another tspool "
                           "connected to the same database); retry later",
                           key);
        audit(op, key, &refused, rc, err); /* the refusal is on the record too */
        goto done;
    }
    snprintf(op->lock_key, sizeof(op->lock_key), "%s", key);
done:
    tsp_db_result_free(res);
    return rc;
}

void tsp_ts_op_end(struct tsp_ts_op *op)
{
    if (op == NULL || op->lease == NULL) {
        return;
    }
    if (op->lock_key[0] != '\0') {
        const char *params[1] = {op->lock_key};
        struct tsp_error ignored;
        tsp_error_init(&ignored);
        enum tsp_code released = tsp_db_exec(op->lease, LOCK_RELEASE, 1, params, NULL, &ignored);
        if (released != TSP_OK) {
            /* a session lock must not outlive the change on a pooled connection: drop the
               session's every advisory lock (or, when even that fails, the connection is
               broken and its locks went with it) */
            tsp_error_init(&ignored);
            released = tsp_db_exec(op->lease, "SELECT pg_catalog.pg_advisory_unlock_all()", 0, NULL,
                                   NULL, &ignored);
            if (released != TSP_OK) {
                tsp_lease_report_error(op->lease, ignored.sqlstate);
            }
        }
        op->lock_key[0] = '\0';
    }
    tsp_pool_return(op->lease);
    op->lease = NULL;
}

/* The request field whose value the server quoted in its complaint
 * ('invalid input syntax for type interval: "banana"'), or NULL. */
static const char *field_of_rejected_value(const struct tsp_ts_stmt *stmt, const char *detail)
{
    char quoted[TSP_TS_TEXT_MAX + 3];
    int i;

    for (i = 0; i < stmt->nparams; i++) {
        if (stmt->params[i] == NULL || stmt->fields[i] == NULL ||
            strlen(stmt->params[i]) > TSP_TS_TEXT_MAX) {
            continue;
        }
        snprintf(quoted, sizeof(quoted), "\"%s\"", stmt->params[i]);
        if (strstr(detail, quoted) != NULL) {
            return stmt->fields[i];
        }
    }
    return NULL;
}

enum tsp_code tsp_ts_op_query(struct tsp_ts_op *op, const struct tsp_ts_stmt *stmt,
                              struct tsp_db_result **out, struct tsp_error *err)
{
    struct tsp_error local;
    const char *field = NULL;
    enum tsp_code rc;

    tsp_error_init(&local);
    rc = tsp_db_exec(op->lease, stmt->sql, stmt->nparams, (const char *const *)stmt->params, out,
                     &local);
    if (rc == TSP_OK) {
        return TSP_OK;
    }
    if (strncmp(local.sqlstate, "22", 2) == 0) {
        field = field_of_rejected_value(stmt, local.detail);
    }
    if (field != NULL) {
        (void)tsp_error_set(err, rc, field, "%s: %s", field, local.detail);
    } else {
        (void)tsp_error_set(err, rc, local.field[0] != '\0' ? local.field : NULL, "%s",
                            local.detail);
    }
    tsp_error_set_sqlstate(err, local.sqlstate);
    if (strcmp(local.sqlstate, "42883") == 0 || strcmp(local.sqlstate, "3F000") == 0) {
        /* a function or schema vanished: the extension may have been dropped or updated */
        tsp_ts_caps_invalidate(op->ts);
    }
    return rc;
}

enum tsp_code tsp_ts_op_resolve(struct tsp_ts_op *op, const char *name, bool aggregate,
                                const char *field, char *schema, char *rel, struct tsp_error *err)
{
    struct tsp_ts_stmt stmt = {0};
    struct tsp_db_result *res = NULL;
    const char *kind = aggregate ? "continuous aggregate" : "hypertable";
    enum tsp_code rc;

    rc = tsp_ts_sql_resolve(&op->quoter, name, aggregate, field, &stmt, err);
    if (rc != TSP_OK) {
        goto done;
    }
    rc = tsp_ts_op_query(op, &stmt, &res, err);
    if (rc != TSP_OK) {
        goto done;
    }
    if (tsp_db_result_rows(res) != 1) {
        rc = tsp_error_set(err, TSP_NOT_FOUND, field, "%s \"%s\" not found", kind, name);
        goto done;
    }
    if (!tsp_db_result_bool(res, 0, tsp_db_result_col(res, "is_kind"))) {
        rc = tsp_error_set(err, TSP_NOT_FOUND, field, "\"%s\" is not a %s", name, kind);
        goto done;
    }
    snprintf(schema, TSP_TS_NAME_MAX, "%s",
             tsp_db_result_value(res, 0, tsp_db_result_col(res, "schema")));
    snprintf(rel, TSP_TS_NAME_MAX, "%s",
             tsp_db_result_value(res, 0, tsp_db_result_col(res, "name")));
done:
    tsp_db_result_free(res);
    tsp_ts_stmt_fini(&stmt);
    return rc;
}

void tsp_ts_change_fini(struct tsp_ts_change *change)
{
    size_t i;

    if (change == NULL) {
        return;
    }
    for (i = 0; i < change->nstmts; i++) {
        tsp_ts_stmt_fini(&change->stmts[i]);
    }
    free(change->stmts);
    free(change->chunks);
    memset(change, 0, sizeof(*change));
}

/* "stmt1; stmt2" and "$1=..., $2=NULL | ..." for the audit record (malloc'd, or NULL). */
static char *join_statements(const struct tsp_ts_change *change, bool params)
{
    struct tsp_strbuf sb = {0};

    for (size_t i = 0; i < change->nstmts; i++) {
        const struct tsp_ts_stmt *s = &change->stmts[i];
        if (i > 0) {
            tsp_strbuf_puts(&sb, params ? " | " : "; ");
        }
        if (!params) {
            tsp_strbuf_puts(&sb, s->sql);
            continue;
        }
        for (int p = 0; p < s->nparams; p++) {
            tsp_strbuf_printf(&sb, "%s$%d=%s", p > 0 ? ", " : "", p + 1,
                              s->params[p] != NULL ? s->params[p] : "NULL");
        }
    }
    return tsp_strbuf_take(&sb, NULL);
}

static void audit(const struct tsp_ts_op *op, const char *target,
                  const struct tsp_ts_change *change, enum tsp_code rc, const struct tsp_error *err)
{
    char *sql = join_statements(change, false);
    char *params = join_statements(change, true);
    const char *outcome = change->dry_run ? "dry_run" : tsp_code_name(rc);
    struct tsp_log_field fields[] = {
        {"role", op->ctx->role != NULL ? op->ctx->role : "", 0},
        {"operation", op->name, 0},
        {"target", target != NULL ? target : "", 0},
        {"sql", sql != NULL ? sql : "", 0},
        {"params", params != NULL ? params : "", 0},
        {"outcome", outcome, 0},
        {"atomic", change->atomic ? "true" : "false", 0},
        {"duration_ms", NULL, (long long)(tsp_clock_mono_ms() - op->started_ms)},
        {"error", rc != TSP_OK && err != NULL ? err->detail : "", 0},
    };
    struct tsp_log_ctx ctx = {
        .event = "timescale.audit",
        .request_id = op->ctx->request_id,
        .conn_id = op->lease != NULL ? tsp_lease_conn_id(op->lease) : -1,
        .label = op->name,
        .fields = fields,
        .nfields = sizeof(fields) / sizeof(fields[0]),
    };

    if (rc == TSP_OK) {
        TSP_LOG_INFO(&ctx, "%s %s: %s", op->name, target != NULL ? target : "", outcome);
    } else {
        TSP_LOG_WARN(&ctx, "%s %s: %s", op->name, target != NULL ? target : "", outcome);
    }
    free(params);
    free(sql);
}

/* BEGIN / COMMIT / ROLLBACK: fixed text, no parameters. */
static enum tsp_code exec_plain(struct tsp_ts_op *op, const char *sql, struct tsp_error *err)
{
    return tsp_db_exec(op->lease, sql, 0, NULL, NULL, err);
}

/* Run the change under lock_timeout: SET it for the session and hand back the value it
 * replaces in `previous` (restored by lock_timeout_restore), so that the application's own
 * queries queued behind tspool's lock request wait at most that long. */
static enum tsp_code lock_timeout_set(struct tsp_ts_op *op, char *previous, size_t size,
                                      struct tsp_error *err)
{
    char value[32];
    const char *params[1] = {value};
    struct tsp_db_result *res = NULL;
    enum tsp_code rc = TSP_OK;

    previous[0] = '\0';
    if (op->ts->lock_timeout_ms <= 0) {
        return TSP_OK;
    }
    snprintf(value, sizeof(value), "%ldms", op->ts->lock_timeout_ms);
    rc = tsp_db_exec(op->lease,
                     "SELECT current_setting('lock_timeout') AS previous, "
                     "set_config('lock_timeout', $1, false)",
                     1, params, &res, err);
    if (rc == TSP_OK) {
        snprintf(previous, size, "%s", tsp_db_result_value(res, 0, 0));
    }
    tsp_db_result_free(res);
    return rc;
}

static void lock_timeout_restore(struct tsp_ts_op *op, const char *previous)
{
    const char *params[1] = {previous};
    struct tsp_error ignored;

    if (previous[0] == '\0') {
        return;
    }
    /* best effort: a session that cannot take this is broken and closed on return */
    tsp_error_init(&ignored);
    if (tsp_db_exec(op->lease, "SELECT set_config('lock_timeout', $1, false)", 1, params, NULL,
                    &ignored) != TSP_OK) {
        tsp_lease_report_error(op->lease, "08006"); /* never lend it with our lock_timeout */
    }
}

/* After 55P03: name the session that holds a lock on the target (the hypertable or one of its
 * chunks) and tell the client when to retry. Runs outside the failed transaction. */
static void lock_holder(struct tsp_ts_op *op, const char *target, struct tsp_error *err)
{
    char schema[TSP_TS_NAME_MAX];
    const char *dot = strchr(target, '.');
    const char *params[2] = {schema, dot != NULL ? dot + 1 : target};
    struct tsp_db_result *res = NULL;
    struct tsp_error ignored;
    size_t n = dot != NULL ? (size_t)(dot - target) : 0;
    int pid = 0;
    const char *app = NULL;
    char detail[TSP_ERROR_DETAIL_MAX];

    snprintf(schema, sizeof(schema), "%.*s", (int)n, target);
    if (dot == NULL) {
        snprintf(schema, sizeof(schema), "public");
    }
    tsp_error_init(&ignored);
    if (tsp_db_exec(
            op->lease,
            "SELECT a.pid, a.application_name FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.granted AND l.locktype = 'relation' AND a.pid <> pg_backend_pid() "
            "AND (l.relation = format('%I.%I', $1::text, $2::text)::regclass OR l.relation IN "
            "(SELECT inhrelid FROM pg_inherits "
            "WHERE inhparent = format('%I.%I', $1::text, $2::text)::regclass)) "
            "ORDER BY a.xact_start NULLS LAST LIMIT 1",
            2, params, &res, &ignored) == TSP_OK &&
        tsp_db_result_rows(res) == 1) {
        pid = (int)tsp_db_result_int(res, 0, 0, 0);
        app = tsp_db_result_value(res, 0, 1);
    }
    err->retry_after_s = (int)((op->ts->lock_timeout_ms + 999) / 1000) + 1;
    if (pid > 0) {
        err->blocking_pid = pid;
        snprintf(err->blocking_application, sizeof(err->blocking_application), "%s",
                 app != NULL ? app : "");
        snprintf(detail, sizeof(detail),
                 "%s: %.200s (lock_timeout %ld ms, TSPOOL_LOCK_TIMEOUT_MS): session pid %d "
                 "(application \"%s\") holds a lock on it; retry when it ends",
                 target, err->detail, op->ts->lock_timeout_ms, pid, err->blocking_application);
    } else {
        snprintf(detail, sizeof(detail), "%s: %.300s (lock_timeout %ld ms, TSPOOL_LOCK_TIMEOUT_MS)",
                 target, err->detail, op->ts->lock_timeout_ms);
    }
    snprintf(err->detail, sizeof(err->detail), "%s", detail);
    tsp_db_result_free(res);
}

enum tsp_code tsp_ts_op_change(struct tsp_ts_op *op, const char *target, struct tsp_ts_stmt *stmts,
                               size_t n, struct tsp_db_result **results, struct tsp_ts_change *out,
                               struct tsp_error *err)
{
    enum tsp_code rc = TSP_OK;
    bool in_tx = false;
    char previous_lock_timeout[32] = "";
    size_t i;

    out->dry_run = op->ctx->dry_run;
    out->atomic = true;
    out->stmts = n > 0 ? calloc(n, sizeof(*out->stmts)) : NULL;
    if (n > 0 && out->stmts == NULL) {
        for (i = 0; i < n; i++) {
            tsp_ts_stmt_fini(&stmts[i]);
        }
        return tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
    }
    for (i = 0; i < n; i++) {
        out->stmts[i] = stmts[i];
        memset(&stmts[i], 0, sizeof(stmts[i]));
        if (out->stmts[i].autocommit) {
            out->atomic = false;
        }
    }
    out->nstmts = n;
    if (out->dry_run) {
        audit(op, target, out, TSP_OK, err);
        return TSP_OK;
    }
    rc = lock_timeout_set(op, previous_lock_timeout, sizeof(previous_lock_timeout), err);
    if (rc != TSP_OK) {
        goto done;
    }
    if (out->atomic && n > 1) {
        rc = exec_plain(op, "BEGIN", err);
        if (rc != TSP_OK) {
            goto done;
        }
        in_tx = true;
    }
    for (i = 0; i < n; i++) {
        rc = tsp_ts_op_query(op, &out->stmts[i], results != NULL ? &results[i] : NULL, err);
        if (rc != TSP_OK) {
            goto done;
        }
    }
    if (in_tx) {
        in_tx = false;
        rc = exec_plain(op, "COMMIT", err);
    }
done:
    if (in_tx) {
        /* best effort: the pool rolls back a session returned inside a transaction anyway */
        struct tsp_error ignored;
        tsp_error_init(&ignored);
        (void)exec_plain(op, "ROLLBACK", &ignored);
    }
    if (rc == TSP_LOCK_NOT_AVAILABLE && err != NULL) {
        lock_holder(op, target, err);
    }
    lock_timeout_restore(op, previous_lock_timeout);
    audit(op, target, out, rc, err);
    return rc;
}

enum tsp_code tsp_ts_op_begin_on(struct tsp_ts_op *op, struct tsp_ts *ts,
                                 const struct tsp_ts_ctx *ctx, const char *opname,
                                 enum tsp_ts_feature feature, const char *name, bool aggregate,
                                 struct tsp_ts_target *target, struct tsp_error *err)
{
    enum tsp_code rc = tsp_ts_op_begin(op, ts, ctx, opname, feature, err);

    if (rc != TSP_OK) {
        return rc;
    }
    rc = tsp_ts_op_resolve(op, name, aggregate, aggregate ? "name" : "hypertable", target->schema,
                           target->rel, err);
    if (rc != TSP_OK) {
        tsp_ts_op_end(op);
        return rc;
    }
    snprintf(target->qualified, sizeof(target->qualified), "%s.%s", target->schema, target->rel);
    rc = tsp_ts_op_lock(op, target->qualified, err);
    if (rc != TSP_OK) {
        tsp_ts_op_end(op);
    }
    return rc;
}

enum tsp_code tsp_ts_op_finish_one(struct tsp_ts_op *op, enum tsp_code rc, const char *target,
                                   struct tsp_ts_stmt *stmt, long long job_id,
                                   struct tsp_ts_change *out, struct tsp_error *err)
{
    struct tsp_ts_change change = {0};

    if (rc == TSP_OK) {
        rc = tsp_ts_op_change(op, target, stmt, 1, NULL, &change, err);
    }
    if (rc == TSP_OK) {
        if (job_id != 0) {
            change.job_id = job_id;
        }
        *out = change;
        memset(&change, 0, sizeof(change));
    }
    tsp_ts_change_fini(&change);
    tsp_ts_stmt_fini(stmt);
    tsp_ts_op_end(op);
    return rc;
}
