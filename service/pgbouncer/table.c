/* pgbouncer/table.c - SHOW results copied out of libpq into plain tables, their accessors, and
 * the reference-counted snapshots that hold them.
 * SPDX-License-Identifier: MIT
 */
#include "pgbouncer_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* int2, int4, int8, oid, float4, float8, numeric */
static bool oid_is_numeric(Oid type)
{
    return type == 21 || type == 23 || type == 20 || type == 26 || type == 700 || type == 701 ||
           type == 1700;
}

enum tsp_code tsp_pgb_table_from_result(const PGresult *res, struct tsp_pgb_table *t,
                                        struct tsp_error *err)
{
    int ncols = PQnfields(res);
    int nrows = PQntuples(res);
    enum tsp_code code = TSP_OK;

    memset(t, 0, sizeof(*t));
    t->cols = calloc((size_t)(ncols > 0 ? ncols : 1), sizeof(*t->cols));
    t->numeric = calloc((size_t)(ncols > 0 ? ncols : 1), sizeof(*t->numeric));
    t->cells = calloc((size_t)(ncols > 0 && nrows > 0 ? ncols * nrows : 1), sizeof(*t->cells));
    if (t->cols == NULL || t->numeric == NULL || t->cells == NULL) {
        code = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
        goto done;
    }
    t->ncols = ncols;
    t->nrows = nrows;
    for (int c = 0; c < ncols; c++) {
        t->cols[c] = strdup(PQfname(res, c));
        t->numeric[c] = oid_is_numeric(PQftype(res, c));
        if (t->cols[c] == NULL) {
            code = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
            goto done;
        }
    }
    for (int r = 0; r < nrows; r++) {
        for (int c = 0; c < ncols; c++) {
            if (PQgetisnull(res, r, c)) {
                continue;
            }
            t->cells[(size_t)r * (size_t)ncols + (size_t)c] = strdup(PQgetvalue(res, r, c));
            if (t->cells[(size_t)r * (size_t)ncols + (size_t)c] == NULL) {
                code = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
                goto done;
            }
        }
    }
done:
    if (code != TSP_OK) {
        tsp_pgb_table_fini(t);
    }
    return code;
}

void tsp_pgb_table_fini(struct tsp_pgb_table *t)
{
    if (t == NULL) {
        return;
    }
    for (int c = 0; t->cols != NULL && c < t->ncols; c++) {
        free(t->cols[c]);
    }
    for (size_t i = 0; t->cells != NULL && i < (size_t)t->nrows * (size_t)t->ncols; i++) {
        free(t->cells[i]);
    }
    free(t->cols);
    free(t->numeric);
    free(t->cells);
    memset(t, 0, sizeof(*t));
}

const char *tsp_pgb_table_cell(const struct tsp_pgb_table *t, int row, int col)
{
    if (t == NULL || t->cells == NULL || row < 0 || row >= t->nrows || col < 0 || col >= t->ncols) {
        return NULL;
    }
    return t->cells[(size_t)row * (size_t)t->ncols + (size_t)col];
}

int tsp_pgb_table_col(const struct tsp_pgb_table *t, const char *name)
{
    for (int c = 0; t != NULL && c < t->ncols; c++) {
        if (strcmp(t->cols[c], name) == 0) {
            return c;
        }
    }
    return -1;
}

double tsp_pgb_table_num(const struct tsp_pgb_table *t, int row, const char *name, double fallback)
{
    const char *v = tsp_pgb_table_cell(t, row, tsp_pgb_table_col(t, name));
    char *end = NULL;
    double d = 0;

    if (v == NULL || v[0] == '\0') {
        return fallback;
    }
    d = strtod(v, &end);
    return end != NULL && *end == '\0' ? d : fallback;
}

size_t tsp_pgb_instance_databases(const struct tsp_pgb_instance *inst, bool disabled,
                                  const char **out, size_t max)
{
    const struct tsp_pgb_table *t = &inst->show[TSP_PGB_SHOW_DATABASES];
    int name = tsp_pgb_table_col(t, "name");
    size_t n = 0;

    for (int r = 0; r < t->nrows && n < max; r++) {
        const char *db = tsp_pgb_table_cell(t, r, name);
        if (db != NULL && tsp_pgb_table_num(t, r, disabled ? "disabled" : "paused", 0) != 0) {
            out[n++] = db;
        }
    }
    return n;
}

struct tsp_pgb_snap_rc *tsp_pgb_snap_new(size_t ninstances)
{
    struct tsp_pgb_snap_rc *rc = calloc(1, sizeof(*rc));

    if (rc == NULL) {
        return NULL;
    }
    rc->refs = 1;
    rc->snap.instances = calloc(ninstances > 0 ? ninstances : 1, sizeof(*rc->snap.instances));
    if (rc->snap.instances == NULL) {
        free(rc);
        return NULL;
    }
    rc->snap.ninstances = ninstances;
    return rc;
}

void tsp_pgb_snap_destroy(struct tsp_pgb_snap_rc *rc)
{
    if (rc == NULL) {
        return;
    }
    for (size_t i = 0; i < rc->snap.ninstances; i++) {
        for (int s = 0; s < TSP_PGB_SHOW_COUNT; s++) {
            tsp_pgb_table_fini(&rc->snap.instances[i].show[s]);
        }
    }
    free(rc->snap.instances);
    free(rc->snap.metrics);
    free(rc);
}

void tsp_pgb_instance_fail(struct tsp_pgb_instance *inst, enum tsp_pgb_fail fail, const char *why)
{
    inst->state = fail == TSP_PGB_FAIL_MISCONFIGURED ? TSP_PGB_MISCONFIGURED : TSP_PGB_DOWN;
    snprintf(inst->error, sizeof(inst->error), "%s%s",
             fail == TSP_PGB_FAIL_MISCONFIGURED ? "misconfigured: " : "", why);
    for (int s = 0; s < TSP_PGB_SHOW_COUNT; s++) {
        tsp_pgb_table_fini(&inst->show[s]);
    }
}
