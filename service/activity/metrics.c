/* activity/metrics.c - the tspool_server_* Prometheus families from the latest activity
 * sample: connections by application and state, long-running and idle-in-transaction
 * sessions by application, blocked sessions, the oldest transaction, the sampler's health.
 * SPDX-License-Identifier: MIT
 */
#include "activity_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tspool/strbuf.h"

/* A label value with \, " and newline escaped (exposition format 0.0.4). */
static void put_label(struct tsp_strbuf *t, const char *value)
{
    char out[TSP_ACTIVITY_NAME_MAX * 2 + 1];
    size_t o = 0;

    for (const char *p = value; *p != '\0' && o + 2 < sizeof(out); p++) {
        if (*p == '\\' || *p == '"') {
            out[o++] = '\\';
            out[o++] = *p;
        } else if (*p == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
    tsp_strbuf_puts(t, out);
}

static void family(struct tsp_strbuf *t, const char *name, const char *type, const char *help)
{
    tsp_strbuf_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One per-application gauge: the value of `field` for each application. */
static void per_app(struct tsp_strbuf *t, const struct tsp_activity_sample *s, const char *name,
                    const char *help, size_t field)
{
    family(t, name, "gauge", help);
    for (size_t i = 0; i < s->napps; i++) {
        const long long *v = (const long long *)((const char *)&s->apps[i] + field);
        tsp_strbuf_printf(t, "%s{application=\"", name);
        put_label(t, s->apps[i].name);
        tsp_strbuf_printf(t, "\"} %lld\n", *v);
    }
}

static void connections(struct tsp_strbuf *t, const struct tsp_activity_sample *s)
{
    static const struct {
        const char *state;
        size_t field;
    } states[] = {
        {"active", offsetof(struct tsp_activity_app, active)},
        {"idle", offsetof(struct tsp_activity_app, idle)},
        {"idle_in_transaction", offsetof(struct tsp_activity_app, idle_in_transaction)},
        {"other", offsetof(struct tsp_activity_app, other_state)},
    };

    family(t, "tspool_server_connections", "gauge",
           "Client sessions on the database server by application_name and state "
           "(the largest 20 applications, the rest as other).");
    for (size_t i = 0; i < s->napps; i++) {
        for (size_t j = 0; j < sizeof(states) / sizeof(states[0]); j++) {
            const long long *v = (const long long *)((const char *)&s->apps[i] + states[j].field);
            tsp_strbuf_printf(t, "tspool_server_connections{application=\"");
            put_label(t, s->apps[i].name);
            tsp_strbuf_printf(t, "\",state=\"%s\"} %lld\n", states[j].state, *v);
        }
    }
}

enum tsp_code tsp_activity_metrics_render(struct tsp_activity *act, char **out, size_t *len,
                                          struct tsp_error *err)
{
    struct tsp_strbuf t = {0};
    struct tsp_activity_status st;
    const struct tsp_activity_sample *s = NULL;
    enum tsp_code rc = TSP_OK;

    s = tsp_activity_sample_get(act, &st);
    if (!st.enabled) {
        goto done;
    }
    family(&t, "tspool_server_activity_up", "gauge",
           "Whether the last pg_stat_activity sample succeeded (1) or failed (0).");
    tsp_strbuf_printf(&t, "tspool_server_activity_up %d\n", st.ok ? 1 : 0);
    family(&t, "tspool_server_activity_samples_total", "counter",
           "pg_stat_activity samples taken since start.");
    tsp_strbuf_printf(&t, "tspool_server_activity_samples_total %llu\n",
                      (unsigned long long)st.samples);
    family(&t, "tspool_server_activity_sample_failures_total", "counter",
           "pg_stat_activity samples that failed since start.");
    tsp_strbuf_printf(&t, "tspool_server_activity_sample_failures_total %llu\n",
                      (unsigned long long)st.failures);
    family(&t, "tspool_server_slow_queries_total", "counter",
           "Application queries logged as running longer than DB_SLOW_QUERY_MS since start.");
    tsp_strbuf_printf(&t, "tspool_server_slow_queries_total %llu\n",
                      (unsigned long long)st.slow_queries);
    if (s == NULL) {
        goto done;
    }
    family(&t, "tspool_server_activity_last_sample_timestamp_seconds", "gauge",
           "When the latest successful pg_stat_activity sample was taken (Unix time).");
    tsp_strbuf_printf(&t, "tspool_server_activity_last_sample_timestamp_seconds %.3f\n",
                      (double)s->taken_at_ms / 1000.0);
    connections(&t, s);
    per_app(&t, s, "tspool_server_long_running_queries",
            "Active queries running longer than DB_SLOW_QUERY_MS by application_name.",
            offsetof(struct tsp_activity_app, long_running));
    per_app(&t, s, "tspool_server_idle_in_transaction_sessions",
            "Sessions idle inside an open transaction by application_name.",
            offsetof(struct tsp_activity_app, idle_in_transaction));
    family(&t, "tspool_server_blocked_sessions", "gauge",
           "Sessions waiting for a lock held by another session.");
    tsp_strbuf_printf(&t, "tspool_server_blocked_sessions %lld\n", s->blocked);
    family(&t, "tspool_server_oldest_transaction_age_seconds", "gauge",
           "Age of the oldest open transaction of a client session (0 when none).");
    tsp_strbuf_printf(&t, "tspool_server_oldest_transaction_age_seconds %.3f\n",
                      s->oldest_xact_ms / 1000.0);
done:
    tsp_activity_sample_release(s);
    *out = tsp_strbuf_take(&t, len);
    if (*out == NULL) {
        rc = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory rendering metrics");
    }
    return rc;
}
