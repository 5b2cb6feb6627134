/* pgbouncer/metrics.c - the fleet as Prometheus series: every quantity prometheus-pgbouncer-
 * exporter exports, under tspool_pgbouncer_* with instance and database labels, plus pools,
 * stats and database details, up and the refresh age. Base units (seconds), promtool-clean.
 * SPDX-License-Identifier: MIT
 */
#include "pgbouncer_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tspool/strbuf.h"

/* A label value with \, " and newline escaped (exposition format 0.0.4). */
static const char *esc(const char *v, char *out, size_t outsize)
{
    size_t o = 0;

    for (size_t i = 0; v != NULL && v[i] != '\0' && o + 3 < outsize; i++) {
        if (v[i] == '\\' || v[i] == '"') {
            out[o++] = '\\';
            out[o++] = v[i];
        } else if (v[i] == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = v[i];
        }
    }
    out[o] = '\0';
    return out;
}

/* One series from a SHOW column: which listing, column, family, type, scale, extra label. */
struct series {
    enum tsp_pgb_show show;
    const char *column;
    const char *family;
    const char *type;
    double scale;
    const char *help;
};

/* Listings with a database column get instance + database (+ user for SHOW POOLS). */
static const struct series row_series[] = {
    /* SHOW STATS: the exporter's requests_total, received/sent bytes and query time */
    {TSP_PGB_SHOW_STATS, "total_query_count", "tspool_pgbouncer_requests_total", "counter", 1,
     "SQL queries pooled by PgBouncer (SHOW STATS total_query_count)"},
    {TSP_PGB_SHOW_STATS, "total_xact_count", "tspool_pgbouncer_transactions_total", "counter", 1,
     "SQL transactions pooled by PgBouncer (SHOW STATS total_xact_count)"},
    {TSP_PGB_SHOW_STATS, "total_received", "tspool_pgbouncer_received_bytes_total", "counter", 1,
     "Network traffic received by PgBouncer in bytes (SHOW STATS total_received)"},
    {TSP_PGB_SHOW_STATS, "total_sent", "tspool_pgbouncer_sent_bytes_total", "counter", 1,
     "Network traffic sent by PgBouncer in bytes (SHOW STATS total_sent)"},
    {TSP_PGB_SHOW_STATS, "total_query_time", "tspool_pgbouncer_query_seconds_total", "counter",
     1e-6,
     "Time PgBouncer was connected to PostgreSQL running queries (SHOW STATS total_query_time)"},
    {TSP_PGB_SHOW_STATS, "total_xact_time", "tspool_pgbouncer_transaction_seconds_total", "counter",
     1e-6, "Time spent in transactions (SHOW STATS total_xact_time)"},
    {TSP_PGB_SHOW_STATS, "total_wait_time", "tspool_pgbouncer_client_wait_seconds_total", "counter",
     1e-6, "Time clients waited for a server connection (SHOW STATS total_wait_time)"},
    /* SHOW POOLS: the exporter's active and waiting clients, and the server side */
    {TSP_PGB_SHOW_POOLS, "cl_active", "tspool_pgbouncer_active_clients", "gauge", 1,
     "Client connections linked to a server connection (SHOW POOLS cl_active)"},
    {TSP_PGB_SHOW_POOLS, "cl_waiting", "tspool_pgbouncer_waiting_clients", "gauge", 1,
     "Client connections waiting for a server connection (SHOW POOLS cl_waiting)"},
    {TSP_PGB_SHOW_POOLS, "sv_active", "tspool_pgbouncer_active_servers", "gauge", 1,
     "Server connections linked to a client (SHOW POOLS sv_active)"},
    {TSP_PGB_SHOW_POOLS, "sv_idle", "tspool_pgbouncer_idle_servers", "gauge", 1,
     "Server connections unused and usable at once (SHOW POOLS sv_idle)"},
    {TSP_PGB_SHOW_POOLS, "sv_used", "tspool_pgbouncer_pool_used_servers", "gauge", 1,
     "Server connections idle longer than server_check_delay (SHOW POOLS sv_used)"},
    {TSP_PGB_SHOW_POOLS, "sv_tested", "tspool_pgbouncer_tested_servers", "gauge", 1,
     "Server connections running the reset or check query (SHOW POOLS sv_tested)"},
    {TSP_PGB_SHOW_POOLS, "sv_login", "tspool_pgbouncer_login_servers", "gauge", 1,
     "Server connections logging in (SHOW POOLS sv_login)"},
    {TSP_PGB_SHOW_POOLS, "maxwait", "tspool_pgbouncer_max_wait_seconds", "gauge", 1,
     "How long the oldest waiting client has waited (SHOW POOLS maxwait + maxwait_us)"},
    /* SHOW DATABASES: the exporter's pool_size and reserve_pool, and the rest */
    {TSP_PGB_SHOW_DATABASES, "pool_size", "tspool_pgbouncer_pool_size", "gauge", 1,
     "Maximum server connections of the database's pools (SHOW DATABASES pool_size)"},
    {TSP_PGB_SHOW_DATABASES, "reserve_pool", "tspool_pgbouncer_reserve_pool", "gauge", 1,
     "Extra server connections allowed when clients wait (SHOW DATABASES reserve_pool)"},
    {TSP_PGB_SHOW_DATABASES, "max_connections", "tspool_pgbouncer_database_max_connections",
     "gauge", 1, "Server connection limit of the database, 0 = none (SHOW DATABASES)"},
    {TSP_PGB_SHOW_DATABASES, "current_connections", "tspool_pgbouncer_database_current_connections",
     "gauge", 1, "Server connections open for the database (SHOW DATABASES current_connections)"},
    {TSP_PGB_SHOW_DATABASES, "paused", "tspool_pgbouncer_database_paused", "gauge", 1,
     "1 while the database is paused (SHOW DATABASES paused)"},
    {TSP_PGB_SHOW_DATABASES, "disabled", "tspool_pgbouncer_database_disabled", "gauge", 1,
     "1 while the database is disabled (SHOW DATABASES disabled)"},
};

/* SHOW LISTS rows (one value per instance): the exporter's list gauges. */
static const char *const list_items[] = {
    "databases",    "users",        "pools",     "free_clients", "used_clients", "login_clients",
    "free_servers", "used_servers", "dns_names", "dns_zones",    "dns_queries",  "dns_pending"};

static double cell_value(const struct tsp_pgb_table *t, int row, const struct series *s)
{
    double v = tsp_pgb_table_num(t, row, s->column, 0) * s->scale;

    if (strcmp(s->column, "maxwait") == 0) {
        v += tsp_pgb_table_num(t, row, "maxwait_us", 0) / 1e6;
    }
    return v;
}

static void render_rows(struct tsp_strbuf *b, const struct tsp_pgb_snapshot *snap,
                        const struct series *s)
{
    char inst[TSP_PGB_ADDRESS_MAX * 2];
    char db[260];
    char user[260];

    tsp_strbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", s->family, s->help, s->family, s->type);
    for (size_t i = 0; i < snap->ninstances; i++) {
        const struct tsp_pgb_instance *in = &snap->instances[i];
        const struct tsp_pgb_table *t = &in->show[s->show];
        int dbcol = tsp_pgb_table_col(t, s->show == TSP_PGB_SHOW_DATABASES ? "name" : "database");
        int usercol = tsp_pgb_table_col(t, "user");
        if (in->state != TSP_PGB_UP || tsp_pgb_table_col(t, s->column) < 0) {
            continue;
        }
        esc(in->address, inst, sizeof(inst));
        for (int r = 0; r < t->nrows; r++) {
            esc(tsp_pgb_table_cell(t, r, dbcol), db, sizeof(db));
            if (s->show == TSP_PGB_SHOW_POOLS) {
                esc(tsp_pgb_table_cell(t, r, usercol), user, sizeof(user));
                tsp_strbuf_printf(b, "%s{instance=\"%s\",database=\"%s\",user=\"%s\"} %.17g\n",
                                  s->family, inst, db, user, cell_value(t, r, s));
            } else {
                tsp_strbuf_printf(b, "%s{instance=\"%s\",database=\"%s\"} %.17g\n", s->family, inst,
                                  db, cell_value(t, r, s));
            }
        }
    }
}

/* One series per instance from a key/value SHOW (LISTS: list/items, CONFIG: key/value): the
 * row whose key column is `key`, as tspool_pgbouncer_<prefix><key>. */
static void render_keyed(struct tsp_strbuf *b, const struct tsp_pgb_snapshot *snap,
                         enum tsp_pgb_show show, const char *keycol, const char *valcol,
                         const char *prefix, const char *key, const char *help)
{
    char inst[TSP_PGB_ADDRESS_MAX * 2];

    tsp_strbuf_printf(b, "# HELP tspool_pgbouncer_%s%s PgBouncer %s %s (SHOW %s)\n", prefix, key,
                      help, key, tsp_pgb_show_name(show));
    tsp_strbuf_printf(b, "# TYPE tspool_pgbouncer_%s%s gauge\n", prefix, key);
    for (size_t i = 0; i < snap->ninstances; i++) {
        const struct tsp_pgb_instance *in = &snap->instances[i];
        const struct tsp_pgb_table *t = &in->show[show];
        int kcol = tsp_pgb_table_col(t, keycol);
        if (in->state != TSP_PGB_UP) {
            continue;
        }
        for (int r = 0; r < t->nrows; r++) {
            const char *k = tsp_pgb_table_cell(t, r, kcol);
            if (k != NULL && strcmp(k, key) == 0) {
                tsp_strbuf_printf(b, "tspool_pgbouncer_%s%s{instance=\"%s\"} %.17g\n", prefix, key,
                                  esc(in->address, inst, sizeof(inst)),
                                  tsp_pgb_table_num(t, r, valcol, 0));
            }
        }
    }
}

enum tsp_code tsp_pgb_metrics_render(const struct tsp_pgb_snapshot *snap, char **out, size_t *len,
                                     struct tsp_error *err)
{
    struct tsp_strbuf b = {0};
    char inst[TSP_PGB_ADDRESS_MAX * 2];
    char ver[130];
    char *text = NULL;

    tsp_strbuf_printf(&b,
                      "# HELP tspool_pgbouncer_up 1 when the last refresh read the PgBouncer admin "
                      "console\n# TYPE tspool_pgbouncer_up gauge\n");
    for (size_t i = 0; i < snap->ninstances; i++) {
        tsp_strbuf_printf(&b, "tspool_pgbouncer_up{instance=\"%s\"} %d\n",
                          esc(snap->instances[i].address, inst, sizeof(inst)),
                          snap->instances[i].state == TSP_PGB_UP ? 1 : 0);
    }
    tsp_strbuf_printf(&b, "# HELP tspool_pgbouncer_version_info PgBouncer version (SHOW VERSION)\n"
                          "# TYPE tspool_pgbouncer_version_info gauge\n");
    for (size_t i = 0; i < snap->ninstances; i++) {
        if (snap->instances[i].version[0] != '\0') {
            tsp_strbuf_printf(&b,
                              "tspool_pgbouncer_version_info{instance=\"%s\",version=\"%s\"} 1\n",
                              esc(snap->instances[i].address, inst, sizeof(inst)),
                              esc(snap->instances[i].version, ver, sizeof(ver)));
        }
    }
    for (size_t i = 0; i < sizeof(row_series) / sizeof(row_series[0]); i++) {
        render_rows(&b, snap, &row_series[i]);
    }
    for (size_t i = 0; i < sizeof(list_items) / sizeof(list_items[0]); i++) {
        render_keyed(&b, snap, TSP_PGB_SHOW_LISTS, "list", "items", "", list_items[i],
                     "internal list size");
    }
    render_keyed(&b, snap, TSP_PGB_SHOW_CONFIG, "key", "value", "config_", "max_client_conn",
                 "setting");
    render_keyed(&b, snap, TSP_PGB_SHOW_CONFIG, "key", "value", "config_", "default_pool_size",
                 "setting");
    text = tsp_strbuf_take(&b, len);
    if (text == NULL) {
        return tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
    }
    *out = text;
    return TSP_OK;
}

enum tsp_code tsp_pgb_metrics_age(const struct tsp_pgb_snapshot *snap, int64_t now_mono_ms,
                                  struct tsp_strbuf *b, struct tsp_error *err)
{
    char inst[TSP_PGB_ADDRESS_MAX * 2];

    tsp_strbuf_printf(b,
                      "# HELP tspool_pgbouncer_refresh_age_seconds Seconds since the instance was "
                      "last read successfully (-1 = never)\n"
                      "# TYPE tspool_pgbouncer_refresh_age_seconds gauge\n");
    for (size_t i = 0; i < snap->ninstances; i++) {
        const struct tsp_pgb_instance *in = &snap->instances[i];
        double age = in->refreshed_mono_ms > 0
                         ? (double)(now_mono_ms - in->refreshed_mono_ms) / 1000.0
                         : -1.0;
        tsp_strbuf_printf(b, "tspool_pgbouncer_refresh_age_seconds{instance=\"%s\"} %.3f\n",
                          esc(in->address, inst, sizeof(inst)), age);
    }
    if (b->failed) {
        return tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
    }
    return TSP_OK;
}
