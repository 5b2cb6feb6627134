/* pgbouncer/totals.c - per-database totals across the instances that are up: clients active
 * and waiting, servers active/idle/used, the longest wait, query and transaction time weighted
 * by rate, queries per second, paused and disabled flags.
 * SPDX-License-Identifier: MIT
 */
#include "pgbouncer_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Totals row for database, appended when new; NULL on out of memory. */
static struct tsp_pgb_totals *row_for(struct tsp_pgb_totals **rows, size_t *n, size_t *cap,
                                      const char *database)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcmp((*rows)[i].database, database) == 0) {
            return &(*rows)[i];
        }
    }
    if (*n == *cap) {
        size_t ncap = *cap == 0 ? 8 : *cap * 2;
        struct tsp_pgb_totals *grown = realloc(*rows, ncap * sizeof(**rows));
        if (grown == NULL) {
            return NULL;
        }
        *rows = grown;
        *cap = ncap;
    }
    memset(&(*rows)[*n], 0, sizeof(**rows));
    snprintf((*rows)[*n].database, sizeof((*rows)[*n].database), "%s", database);
    return &(*rows)[(*n)++];
}

static int cmp_totals(const void *a, const void *b)
{
    return strcmp(((const struct tsp_pgb_totals *)a)->database,
                  ((const struct tsp_pgb_totals *)b)->database);
}

/* Weights for the time averages (rates), accumulated beside the rows. */
struct weights {
    double query_w, query_sum, xact_w, xact_sum, query_plain, xact_plain;
    int samples;
};

enum tsp_code tsp_pgb_totals_compute(const struct tsp_pgb_snapshot *snap,
                                     struct tsp_pgb_totals **out, size_t *count,
                                     struct tsp_error *err)
{
    struct tsp_pgb_totals *rows = NULL;
    struct weights *w = NULL;
    size_t n = 0;
    size_t cap = 0;
    enum tsp_code code = TSP_OK;

    *out = NULL;
    *count = 0;
    for (size_t i = 0; i < snap->ninstances; i++) {
        const struct tsp_pgb_instance *in = &snap->instances[i];
        const struct tsp_pgb_table *dbs = &in->show[TSP_PGB_SHOW_DATABASES];
        const struct tsp_pgb_table *pools = &in->show[TSP_PGB_SHOW_POOLS];
        int name = tsp_pgb_table_col(dbs, "name");
        int pdb = tsp_pgb_table_col(pools, "database");
        if (in->state != TSP_PGB_UP) {
            continue;
        }
        for (int r = 0; r < dbs->nrows; r++) {
            const char *db = tsp_pgb_table_cell(dbs, r, name);
            struct tsp_pgb_totals *t = NULL;
            if (db == NULL || strcmp(db, "pgbouncer") == 0) {
                continue;
            }
            t = row_for(&rows, &n, &cap, db);
            if (t == NULL) {
                goto oom;
            }
            t->instances++;
            t->paused = t->paused || tsp_pgb_table_num(dbs, r, "paused", 0) != 0;
            t->disabled = t->disabled || tsp_pgb_table_num(dbs, r, "disabled", 0) != 0;
        }
        for (int r = 0; r < pools->nrows; r++) {
            const char *db = tsp_pgb_table_cell(pools, r, pdb);
            struct tsp_pgb_totals *t = NULL;
            double wait = 0;
            if (db == NULL || strcmp(db, "pgbouncer") == 0) {
                continue;
            }
            t = row_for(&rows, &n, &cap, db);
            if (t == NULL) {
                goto oom;
            }
            t->cl_active += (long long)tsp_pgb_table_num(pools, r, "cl_active", 0);
            t->cl_waiting += (long long)tsp_pgb_table_num(pools, r, "cl_waiting", 0);
            t->sv_active += (long long)tsp_pgb_table_num(pools, r, "sv_active", 0);
            t->sv_idle += (long long)tsp_pgb_table_num(pools, r, "sv_idle", 0);
            t->sv_used += (long long)tsp_pgb_table_num(pools, r, "sv_used", 0);
            wait = tsp_pgb_table_num(pools, r, "maxwait", 0) +
                   tsp_pgb_table_num(pools, r, "maxwait_us", 0) / 1e6;
            if (wait > t->max_wait_s) {
                t->max_wait_s = wait;
            }
        }
    }
    w = calloc(n > 0 ? n : 1, sizeof(*w));
    if (w == NULL) {
        goto oom;
    }
    for (size_t i = 0; i < snap->ninstances; i++) {
        const struct tsp_pgb_instance *in = &snap->instances[i];
        const struct tsp_pgb_table *st = &in->show[TSP_PGB_SHOW_STATS];
        int sdb = tsp_pgb_table_col(st, "database");
        if (in->state != TSP_PGB_UP) {
            continue;
        }
        for (int r = 0; r < st->nrows; r++) {
            const char *db = tsp_pgb_table_cell(st, r, sdb);
            for (size_t k = 0; db != NULL && k < n; k++) {
                if (strcmp(rows[k].database, db) != 0) {
                    continue;
                }
                double qps = tsp_pgb_table_num(st, r, "avg_query_count", 0);
                double xps = tsp_pgb_table_num(st, r, "avg_xact_count", 0);
                double qt = tsp_pgb_table_num(st, r, "avg_query_time", 0) / 1e6;
                double xt = tsp_pgb_table_num(st, r, "avg_xact_time", 0) / 1e6;
                rows[k].queries_per_second += qps;
                rows[k].xacts_per_second += xps;
                w[k].query_w += qps;
                w[k].query_sum += qps * qt;
                w[k].xact_w += xps;
                w[k].xact_sum += xps * xt;
                w[k].query_plain += qt;
                w[k].xact_plain += xt;
                w[k].samples++;
            }
        }
    }
    for (size_t k = 0; k < n; k++) {
        /* weighted by rate; a plain mean when nothing ran in the last stats period */
        if (w[k].query_w > 0) {
            rows[k].avg_query_time_s = w[k].query_sum / w[k].query_w;
        } else if (w[k].samples > 0) {
            rows[k].avg_query_time_s = w[k].query_plain / w[k].samples;
        }
        if (w[k].xact_w > 0) {
            rows[k].avg_xact_time_s = w[k].xact_sum / w[k].xact_w;
        } else if (w[k].samples > 0) {
            rows[k].avg_xact_time_s = w[k].xact_plain / w[k].samples;
        }
    }
    if (n > 1) {
        qsort(rows, n, sizeof(*rows), cmp_totals);
    }
    *out = rows;
    *count = n;
    rows = NULL;
    goto done;
oom:
    code = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
done:
    free(w);
    free(rows);
    return code;
}
