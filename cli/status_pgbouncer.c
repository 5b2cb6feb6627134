/* cli/status_pgbouncer.c - `tspool status --pgbouncer`: the running service's GET /pgbouncer as
 * two tables, the instances and the per-database totals across them.
 * SPDX-License-Identifier: MIT
 */
#include "status_int.h"

#include <stdbool.h>
#include <string.h>

static const char *str(const json_t *obj, const char *key, const char *fallback)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s != NULL ? s : fallback;
}

/* A JSON array of strings joined with commas into buf ("-" when empty). */
static const char *joined(const json_t *arr, char *buf, size_t size)
{
    size_t i = 0;
    json_t *v = NULL;
    size_t used = 0;

    buf[0] = '\0';
    json_array_foreach(arr, i, v)
    {
        int n = snprintf(buf + used, size - used, "%s%s", used > 0 ? "," : "",
                         json_string_value(v) != NULL ? json_string_value(v) : "?");
        if (n < 0 || (size_t)n >= size - used) {
            break;
        }
        used += (size_t)n;
    }
    return buf[0] != '\0' ? buf : "-";
}

void tsp_cli_print_pgbouncer(FILE *out, const char *url, const json_t *doc)
{
    json_t *insts = json_object_get(doc, "instances");
    json_t *dbs = json_object_get(doc, "databases");
    json_t *v = NULL;
    size_t i = 0;
    char paused[256];
    char disabled[256];

    fprintf(out, "PgBouncer fleet (%s)\n", url);
    if (!json_is_true(json_object_get(doc, "enabled"))) {
        fprintf(out, "  not configured (PGBOUNCER_HOSTS is empty)\n");
        return;
    }
    fprintf(out, "  %lld of %lld instances up, refreshed %s\n\n",
            (long long)json_integer_value(json_object_get(doc, "instances_up")),
            (long long)json_integer_value(json_object_get(doc, "instances_total")),
            str(doc, "refreshed_at", "never"));
    fprintf(out, "%-24s %-14s %-8s %-16s %-16s %8s  %s\n", "INSTANCE", "STATE", "VERSION", "PAUSED",
            "DISABLED", "AGE(s)", "ERROR");
    json_array_foreach(insts, i, v)
    {
        json_t *age = json_object_get(v, "refresh_age_s");
        char age_text[32];
        if (json_is_number(age)) {
            snprintf(age_text, sizeof(age_text), "%.1f", json_number_value(age));
        } else {
            snprintf(age_text, sizeof(age_text), "-");
        }
        fprintf(out, "%-24s %-14s %-8s %-16s %-16s %8s  %s\n", str(v, "address", "?"),
                str(v, "state", "?"), str(v, "version", "-"),
                joined(json_object_get(v, "paused_databases"), paused, sizeof(paused)),
                joined(json_object_get(v, "disabled_databases"), disabled, sizeof(disabled)),
                age_text, str(v, "error", ""));
    }
    fprintf(out, "\n%-20s %5s %9s %10s %9s %7s %7s %9s %8s %9s %9s  %s\n", "DATABASE", "INST",
            "CL_ACTIVE", "CL_WAITING", "SV_ACTIVE", "SV_IDLE", "SV_USED", "MAXWAIT(s)", "QPS",
            "QUERY(ms)", "XACT(ms)", "STATE");
    json_array_foreach(dbs, i, v)
    {
        bool p = json_is_true(json_object_get(v, "paused"));
        bool d = json_is_true(json_object_get(v, "disabled"));
        fprintf(out, "%-20s %5lld %9lld %10lld %9lld %7lld %7lld %9.3f %8.1f %9.2f %9.2f  %s\n",
                str(v, "database", "?"),
                (long long)json_integer_value(json_object_get(v, "instances")),
                (long long)json_integer_value(json_object_get(v, "cl_active")),
                (long long)json_integer_value(json_object_get(v, "cl_waiting")),
                (long long)json_integer_value(json_object_get(v, "sv_active")),
                (long long)json_integer_value(json_object_get(v, "sv_idle")),
                (long long)json_integer_value(json_object_get(v, "sv_used")),
                json_number_value(json_object_get(v, "max_wait_s")),
                json_number_value(json_object_get(v, "queries_per_second")),
                json_number_value(json_object_get(v, "avg_query_time_s")) * 1000.0,
                json_number_value(json_object_get(v, "avg_xact_time_s")) * 1000.0,
                p && d ? "paused,disabled"
                : p    ? "paused"
                : d    ? "disabled"
                       : "active");
    }
}
