/* activity/statements.c - pg_stat_statements snapshots: taken by the sampler thread every
 * TSPOOL_STATEMENTS_INTERVAL_MS (never per request), the deltas against the previous one, and
 * the ranking the API serves.
 * SPDX-License-Identifier: MIT
 */
#include "activity_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tspool/clock.h"
#include "tspool/db.h"

static const char installed_sql[] =
    "SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements'";

/* PostgreSQL 13 renamed total_time / mean_time to total_exec_time / mean_exec_time. */
static const char statements_sql_13[] =
    "SELECT s.queryid::text, coalesce(r.rolname::text, s.userid::text), "
    "coalesce(d.datname::text, s.dbid::text), s.calls, s.total_exec_time, s.mean_exec_time, "
    "s.rows, left(coalesce(s.query, ''), $1::int) "
    "FROM pg_stat_statements s LEFT JOIN pg_roles r ON r.oid = s.userid "
    "LEFT JOIN pg_database d ON d.oid = s.dbid "
    "ORDER BY s.total_exec_time DESC LIMIT $2::int";

static const char statements_sql_12[] =
    "SELECT s.queryid::text, coalesce(r.rolname::text, s.userid::text), "
    "coalesce(d.datname::text, s.dbid::text), s.calls, s.total_time, s.mean_time, "
    "s.rows, left(coalesce(s.query, ''), $1::int) "
    "FROM pg_stat_statements s LEFT JOIN pg_roles r ON r.oid = s.userid "
    "LEFT JOIN pg_database d ON d.oid = s.dbid "
    "ORDER BY s.total_time DESC LIMIT $2::int";

#define ENABLE_HINT                                                                                \
    "add pg_stat_statements to shared_preload_libraries, restart the server, then run "            \
    "CREATE EXTENSION pg_stat_statements"

static void copy_text(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src != NULL ? src : "");
}

static double real_value(const struct tsp_db_result *res, int row, int col)
{
    const char *v = tsp_db_result_value(res, row, col);
    return v != NULL ? strtod(v, NULL) : 0.0;
}

static enum tsp_code read_rows(const struct tsp_db_result *res, struct tsp_activity_statements *st,
                               struct tsp_error *err)
{
    int rows = tsp_db_result_rows(res);
    const char *q = NULL;

    st->items = calloc(rows > 0 ? (size_t)rows : 1, sizeof(*st->items));
    if (st->items == NULL) {
        return tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory for a statements snapshot");
    }
    for (int r = 0; r < rows; r++) {
        struct tsp_activity_statement *s = &st->items[st->n];
        copy_text(s->queryid, sizeof(s->queryid), tsp_db_result_value(res, r, 0));
        copy_text(s->user, sizeof(s->user), tsp_db_result_value(res, r, 1));
        copy_text(s->database, sizeof(s->database), tsp_db_result_value(res, r, 2));
        s->calls = tsp_db_result_int(res, r, 3, 0);
        s->total_ms = real_value(res, r, 4);
        s->mean_ms = real_value(res, r, 5);
        s->rows = tsp_db_result_int(res, r, 6, 0);
        q = tsp_db_result_value(res, r, 7);
        s->query = strdup(q != NULL ? q : "");
        if (s->query == NULL) {
            return tsp_error_set(err, TSP_NO_MEMORY, NULL,
                                 "out of memory for a statements snapshot");
        }
        st->n++;
    }
    return TSP_OK;
}

/* The extension is missing or not preloaded: a snapshot saying how to enable it. */
static void not_available(struct tsp_activity_statements *st, const char *database,
                          const char *reason)
{
    st->available = false;
    if (reason != NULL) {
        snprintf(st->why, sizeof(st->why), "pg_stat_statements is not usable: %.300s; %s", reason,
                 ENABLE_HINT);
    } else {
        snprintf(st->why, sizeof(st->why),
                 "extension pg_stat_statements is not installed in database \"%.63s\": %s",
                 database, ENABLE_HINT);
    }
}

enum tsp_code tsp_activity_statements_take(struct tsp_lease *lease,
                                           const struct tsp_activity_options *opts,
                                           const struct tsp_activity_statements *prev,
                                           struct tsp_activity_statements_box **out,
                                           struct tsp_error *err)
{
    struct tsp_activity_statements_box *box = NULL;
    struct tsp_db_result *res = NULL;
    struct tsp_error qerr;
    char max_text[16];
    char limit_text[16];
    const char *params[2] = {max_text, limit_text};
    const char *sql =
        tsp_db_server_version(lease) >= 130000 ? statements_sql_13 : statements_sql_12;
    enum tsp_code rc = TSP_OK;

    box = calloc(1, sizeof(*box));
    if (box == NULL) {
        rc = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory for a statements snapshot");
        goto done;
    }
    box->refs = 1;
    box->st.taken_at_ms = tsp_clock_real_ms();
    rc = tsp_db_exec_deadline(lease, installed_sql, 0, NULL, TSP_ACTIVITY_STATEMENTS_MS, &res, err);
    if (rc != TSP_OK) {
        goto done;
    }
    if (tsp_db_result_rows(res) == 0) {
        not_available(&box->st, tsp_db_database_name(lease), NULL);
        goto publish;
    }
    tsp_db_result_free(res);
    res = NULL;
    snprintf(max_text, sizeof(max_text), "%d", opts->query_text_max);
    snprintf(limit_text, sizeof(limit_text), "%d", TSP_ACTIVITY_STATEMENTS_MAX);
    tsp_error_init(&qerr);
    rc = tsp_db_exec_deadline(lease, sql, 2, params, TSP_ACTIVITY_STATEMENTS_MS, &res, &qerr);
    if (rc != TSP_OK && strcmp(qerr.sqlstate, "55000") == 0) {
        /* "pg_stat_statements must be loaded via shared_preload_libraries" */
        not_available(&box->st, tsp_db_database_name(lease), qerr.detail);
        rc = TSP_OK;
        goto publish;
    }
    if (rc != TSP_OK) {
        if (err != NULL && err->code == TSP_OK) {
            *err = qerr;
        }
        goto done;
    }
    box->st.available = true;
    rc = read_rows(res, &box->st, err);
    if (rc != TSP_OK) {
        goto done;
    }
    tsp_activity_statements_delta(&box->st, prev);
publish:
    *out = box;
    box = NULL;
done:
    tsp_db_result_free(res);
    tsp_activity_statements_box_free(box);
    return rc;
}

static const struct tsp_activity_statement *
find_previous(const struct tsp_activity_statements *prev, const struct tsp_activity_statement *s)
{
    for (size_t i = 0; i < prev->n; i++) {
        const struct tsp_activity_statement *p = &prev->items[i];
        if (strcmp(p->queryid, s->queryid) == 0 && strcmp(p->user, s->user) == 0 &&
            strcmp(p->database, s->database) == 0) {
            return p;
        }
    }
    return NULL;
}

void tsp_activity_statements_delta(struct tsp_activity_statements *cur,
                                   const struct tsp_activity_statements *prev)
{
    cur->window_s = 0.0;
    if (prev == NULL || !prev->available || prev->taken_at_ms >= cur->taken_at_ms) {
        return;
    }
    cur->window_s = (double)(cur->taken_at_ms - prev->taken_at_ms) / 1000.0;
    for (size_t i = 0; i < cur->n; i++) {
        struct tsp_activity_statement *s = &cur->items[i];
        const struct tsp_activity_statement *p = find_previous(prev, s);
        if (p == NULL || p->calls > s->calls) {
            /* new since the previous snapshot, or the statistics were reset in between */
            s->window_calls = s->calls;
            s->window_total_ms = s->total_ms;
            s->window_rows = s->rows;
            continue;
        }
        s->window_calls = s->calls - p->calls;
        s->window_total_ms = s->total_ms - p->total_ms;
        s->window_rows = s->rows - p->rows;
    }
}

void tsp_activity_statements_box_free(struct tsp_activity_statements_box *box)
{
    if (box == NULL) {
        return;
    }
    for (size_t i = 0; i < box->st.n; i++) {
        free(box->st.items[i].query);
    }
    free(box->st.items);
    free(box);
}

bool tsp_activity_order_parse(const char *text, enum tsp_activity_order *out)
{
    static const char *const names[] = {"total_time", "mean_time", "calls", "rows"};

    for (size_t i = 0; text != NULL && i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(text, names[i]) == 0) {
            *out = (enum tsp_activity_order)i;
            return true;
        }
    }
    return false;
}

static double key_of(const struct tsp_activity_statement *s, enum tsp_activity_order order)
{
    switch (order) {
    case TSP_ACTIVITY_ORDER_MEAN_TIME:
        return s->mean_ms;
    case TSP_ACTIVITY_ORDER_CALLS:
        return (double)s->calls;
    case TSP_ACTIVITY_ORDER_ROWS:
        return (double)s->rows;
    case TSP_ACTIVITY_ORDER_TOTAL_TIME:
    default:
        return s->total_ms;
    }
}

/* True when a ranks before b. */
static bool before(const struct tsp_activity_statement *a, const struct tsp_activity_statement *b,
                   enum tsp_activity_order order)
{
    double ka = key_of(a, order);
    double kb = key_of(b, order);

    if (ka != kb) {
        return ka > kb;
    }
    return a->total_ms > b->total_ms;
}

size_t tsp_activity_statements_rank(const struct tsp_activity_statements *st,
                                    enum tsp_activity_order order, size_t *out, size_t top)
{
    size_t n = 0;

    /* insertion into a top-N list: n * top comparisons, fine for 1000 x 100 */
    for (size_t i = 0; st != NULL && i < st->n; i++) {
        size_t pos = n;
        while (pos > 0 && before(&st->items[i], &st->items[out[pos - 1]], order)) {
            pos--;
        }
        if (pos >= top) {
            continue;
        }
        size_t last = n < top ? n : top - 1;
        for (size_t j = last; j > pos; j--) {
            out[j] = out[j - 1];
        }
        out[pos] = i;
        if (n < top) {
            n++;
        }
    }
    return n;
}
