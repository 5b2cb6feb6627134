/* pgbouncer_json.c - the PgBouncer fleet, its SHOW listings and command outcomes as JSON, and
 * the command body parser (pure: no console is reached from here).
 * SPDX-License-Identifier: MIT
 */
#include "pgbouncer_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* RFC 3339 UTC with milliseconds, or JSON null for 0. */
static json_t *json_time(int64_t unix_ms)
{
    char text[96];
    struct tm tm;
    time_t secs = (time_t)(unix_ms / 1000);

    if (unix_ms <= 0 || gmtime_r(&secs, &tm) == NULL) {
        return json_null();
    }
    snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(unix_ms % 1000));
    return json_string(text);
}

static json_t *str_or_null(const char *s)
{
    return s != NULL && s[0] != '\0' ? json_string(s) : json_null();
}

static json_t *db_list(const struct tsp_pgb_instance *inst, bool disabled)
{
    const char *names[256];
    size_t n = tsp_pgb_instance_databases(inst, disabled, names, 256);
    json_t *arr = json_array();

    for (size_t i = 0; arr != NULL && i < n; i++) {
        json_array_append_new(arr, json_string(names[i]));
    }
    return arr;
}

json_t *tsp_pgb_json_fleet(const struct tsp_pgb_snapshot *snap, bool enabled,
                           const struct tsp_pgb_totals *totals, size_t ntotals, int64_t now_mono_ms)
{
    json_t *doc = json_object();
    json_t *insts = json_array();
    json_t *dbs = json_array();
    size_t up = 0;

    if (doc == NULL || insts == NULL || dbs == NULL) {
        json_decref(doc);
        json_decref(insts);
        json_decref(dbs);
        return NULL;
    }
    for (size_t i = 0; i < snap->ninstances; i++) {
        const struct tsp_pgb_instance *in = &snap->instances[i];
        json_t *o = json_object();
        up += in->state == TSP_PGB_UP ? 1u : 0u;
        json_object_set_new(o, "address", json_string(in->address));
        json_object_set_new(o, "name", json_string(in->name));
        json_object_set_new(o, "state", json_string(tsp_pgb_state_name(in->state)));
        json_object_set_new(o, "up", json_boolean(in->state == TSP_PGB_UP));
        json_object_set_new(o, "version", str_or_null(in->version));
        json_object_set_new(o, "paused_databases", db_list(in, false));
        json_object_set_new(o, "disabled_databases", db_list(in, true));
        json_object_set_new(o, "last_refresh", json_time(in->refreshed_unix_ms));
        json_object_set_new(o, "refresh_age_s",
                            in->refreshed_mono_ms > 0
                                ? json_real((double)(now_mono_ms - in->refreshed_mono_ms) / 1000.0)
                                : json_null());
        json_object_set_new(o, "duration_ms", json_integer(in->duration_ms));
        json_object_set_new(o, "error", str_or_null(in->error));
        json_array_append_new(insts, o);
    }
    for (size_t i = 0; i < ntotals; i++) {
        const struct tsp_pgb_totals *t = &totals[i];
        json_t *o = json_object();
        json_object_set_new(o, "database", json_string(t->database));
        json_object_set_new(o, "instances", json_integer(t->instances));
        json_object_set_new(o, "cl_active", json_integer(t->cl_active));
        json_object_set_new(o, "cl_waiting", json_integer(t->cl_waiting));
        json_object_set_new(o, "sv_active", json_integer(t->sv_active));
        json_object_set_new(o, "sv_idle", json_integer(t->sv_idle));
        json_object_set_new(o, "sv_used", json_integer(t->sv_used));
        json_object_set_new(o, "max_wait_s", json_real(t->max_wait_s));
        json_object_set_new(o, "avg_query_time_s", json_real(t->avg_query_time_s));
        json_object_set_new(o, "avg_xact_time_s", json_real(t->avg_xact_time_s));
        json_object_set_new(o, "queries_per_second", json_real(t->queries_per_second));
        json_object_set_new(o, "xacts_per_second", json_real(t->xacts_per_second));
        json_object_set_new(o, "paused", json_boolean(t->paused));
        json_object_set_new(o, "disabled", json_boolean(t->disabled));
        json_array_append_new(dbs, o);
    }
    json_object_set_new(doc, "enabled", json_boolean(enabled));
    json_object_set_new(doc, "refreshed_at", json_time(snap->refreshed_unix_ms));
    json_object_set_new(doc, "instances_total", json_integer((json_int_t)snap->ninstances));
    json_object_set_new(doc, "instances_up", json_integer((json_int_t)up));
    json_object_set_new(doc, "instances", insts);
    json_object_set_new(doc, "databases", dbs);
    return doc;
}

/* A numeric cell as a JSON number (integer when it has no fraction), else a string. */
static json_t *cell_json(const char *v, bool numeric)
{
    char *end = NULL;

    if (v == NULL) {
        return json_null();
    }
    if (numeric && v[0] != '\0') {
        errno = 0;
        long long n = strtoll(v, &end, 10);
        if (errno == 0 && *end == '\0') {
            return json_integer(n);
        }
        double d = strtod(v, &end);
        if (*end == '\0') {
            return json_real(d);
        }
    }
    return json_string(v);
}

static bool matches_instance(const struct tsp_pgb_instance *in, const char *want)
{
    return want == NULL || strcmp(in->address, want) == 0 || strcmp(in->name, want) == 0;
}

/* The column a database filter looks at: SHOW DATABASES names its rows in "name". */
static const char *db_column(enum tsp_pgb_show show)
{
    switch (show) {
    case TSP_PGB_SHOW_DATABASES:
        return "name";
    case TSP_PGB_SHOW_CONFIG:
    case TSP_PGB_SHOW_LISTS:
        return NULL;
    default:
        return "database";
    }
}

json_t *tsp_pgb_json_show(const struct tsp_pgb_snapshot *snap, enum tsp_pgb_show show,
                          const char *instance, const char *database)
{
    json_t *doc = json_object();
    json_t *rows = json_array();
    json_t *insts = json_array();
    const char *dbcol_name = db_column(show);

    if (doc == NULL || rows == NULL || insts == NULL) {
        json_decref(doc);
        json_decref(rows);
        json_decref(insts);
        return NULL;
    }
    for (size_t i = 0; i < snap->ninstances; i++) {
        const struct tsp_pgb_instance *in = &snap->instances[i];
        const struct tsp_pgb_table *t = &in->show[show];
        int dbcol = dbcol_name != NULL ? tsp_pgb_table_col(t, dbcol_name) : -1;
        json_t *o = NULL;
        if (!matches_instance(in, instance)) {
            continue;
        }
        o = json_object();
        json_object_set_new(o, "address", json_string(in->address));
        json_object_set_new(o, "state", json_string(tsp_pgb_state_name(in->state)));
        json_object_set_new(o, "error", str_or_null(in->error));
        json_array_append_new(insts, o);
        for (int r = 0; r < t->nrows; r++) {
            const char *db = tsp_pgb_table_cell(t, r, dbcol);
            json_t *row = NULL;
            if (database != NULL && (db == NULL || strcmp(db, database) != 0)) {
                continue;
            }
            row = json_object();
            json_object_set_new(row, "instance", json_string(in->address));
            for (int c = 0; c < t->ncols; c++) {
                json_object_set_new(row, t->cols[c],
                                    cell_json(tsp_pgb_table_cell(t, r, c), t->numeric[c]));
            }
            json_array_append_new(rows, row);
        }
    }
    json_object_set_new(doc, "show", json_string(tsp_pgb_show_name(show)));
    json_object_set_new(doc, "rows", rows);
    json_object_set_new(doc, "instances", insts);
    return doc;
}

enum tsp_code tsp_pgb_json_check_filters(const struct tsp_pgb_snapshot *snap,
                                         enum tsp_pgb_show show, const char *instance,
                                         const char *database, struct tsp_error *err)
{
    bool inst_found = instance == NULL;
    bool db_found = database == NULL;
    bool any_up = false;

    if (database != NULL && db_column(show) == NULL) {
        return tsp_error_set(err, TSP_INVALID, "database",
                             "SHOW %s has no database column: leave the database filter out",
                             tsp_pgb_show_name(show));
    }
    for (size_t i = 0; i < snap->ninstances; i++) {
        const struct tsp_pgb_instance *in = &snap->instances[i];
        const struct tsp_pgb_table *dbs = &in->show[TSP_PGB_SHOW_DATABASES];
        int name = tsp_pgb_table_col(dbs, "name");
        if (!matches_instance(in, instance)) {
            continue;
        }
        inst_found = true;
        any_up = any_up || in->state == TSP_PGB_UP;
        for (int r = 0; database != NULL && r < dbs->nrows; r++) {
            const char *v = tsp_pgb_table_cell(dbs, r, name);
            db_found = db_found || (v != NULL && strcmp(v, database) == 0);
        }
    }
    if (!inst_found) {
        return tsp_error_set(err, TSP_NOT_FOUND, "instance", "no PgBouncer instance \"%.200s\"",
                             instance);
    }
    if (!db_found && any_up) {
        return tsp_error_set(err, TSP_NOT_FOUND, "database", "no PgBouncer database \"%.200s\"",
                             database);
    }
    return TSP_OK;
}

enum tsp_code tsp_pgb_json_command_body(const json_t *body, struct tsp_pgb_cmd_request *req,
                                        struct tsp_error *err)
{
    const char *key = NULL;
    json_t *value = NULL;

    req->database = NULL;
    req->instance = NULL;
    req->wait_ms = 0;
    if (body == NULL) {
        return TSP_OK;
    }
    json_object_foreach((json_t *)(uintptr_t)body, key, value)
    {
        if (strcmp(key, "database") == 0 || strcmp(key, "instance") == 0) {
            if (!json_is_string(value) || json_string_length(value) == 0 ||
                json_string_length(value) > 255) {
                return tsp_error_set(err, TSP_INVALID, key,
                                     "%s must be a non-empty string of at most 255 bytes", key);
            }
            if (strcmp(key, "database") == 0) {
                req->database = json_string_value(value);
            } else {
                req->instance = json_string_value(value);
            }
        } else if (strcmp(key, "wait_ms") == 0 && req->cmd == TSP_PGB_CMD_PAUSE) {
            if (!json_is_integer(value) || json_integer_value(value) < 0 ||
                json_integer_value(value) > 3600000) {
                return tsp_error_set(err, TSP_INVALID, key,
                                     "wait_ms must be an integer from 0 to 3600000");
            }
            req->wait_ms = (long)json_integer_value(value);
        } else {
            return tsp_error_set(err, TSP_INVALID, key,
                                 "unknown member '%.64s'; allowed: database, instance%s", key,
                                 req->cmd == TSP_PGB_CMD_PAUSE ? ", wait_ms" : "");
        }
    }
    return TSP_OK;
}

json_t *tsp_pgb_json_command(const struct tsp_pgb_cmd_request *req,
                             const struct tsp_pgb_cmd_result *results, size_t n, int *status)
{
    json_t *doc = json_object();
    json_t *arr = json_array();
    bool all_ok = true;
    bool any_failed = false;

    if (doc == NULL || arr == NULL) {
        json_decref(doc);
        json_decref(arr);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object();
        all_ok = all_ok && results[i].outcome == TSP_PGB_OK;
        any_failed = any_failed ||
                     (results[i].outcome != TSP_PGB_OK && results[i].outcome != TSP_PGB_PAUSING);
        json_object_set_new(o, "instance", json_string(results[i].address));
        json_object_set_new(o, "outcome", json_string(tsp_pgb_outcome_name(results[i].outcome)));
        json_object_set_new(o, "detail", json_string(results[i].detail));
        json_object_set_new(o, "duration_ms", json_integer(results[i].duration_ms));
        json_array_append_new(arr, o);
    }
    json_object_set_new(doc, "command", json_string(tsp_pgb_cmd_name(req->cmd)));
    json_object_set_new(doc, "database", str_or_null(req->database));
    json_object_set_new(doc, "instance", str_or_null(req->instance));
    json_object_set_new(doc, "all_succeeded", json_boolean(all_ok));
    if (req->cmd == TSP_PGB_CMD_PAUSE) {
        json_object_set_new(doc, "all_paused", json_boolean(all_ok));
    }
    json_object_set_new(doc, "results", arr);
    *status = all_ok ? 200 : any_failed ? 207 : 202;
    return doc;
}
