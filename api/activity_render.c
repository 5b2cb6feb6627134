/* activity_render.c - activity samples, blocking chains, pg_stat_statements snapshots and
 * signal results -> JSON (pure; unit-tested). Query texts and client addresses are written
 * only when the caller may see them (the admin token).
 * SPDX-License-Identifier: MIT
 */
#include "render.h"

#include <string.h>

#include "tspool/log.h"

/* A non-negative duration, or null for "unknown / not applicable" (-1). */
static json_t *ms_or_null(double ms)
{
    return ms >= 0.0 ? json_real(ms) : json_null();
}

static json_t *text_or_null(const char *s)
{
    return s != NULL && s[0] != '\0' ? json_string(s) : json_null();
}

static json_t *pid_list(const struct tsp_activity_session *s)
{
    json_t *list = json_array();

    for (size_t i = 0; list != NULL && i < s->nblocked_by; i++) {
        json_array_append_new(list, json_integer(s->blocked_by[i]));
    }
    return list;
}

json_t *tsp_render_activity_session(const struct tsp_activity_session *s, bool show_text)
{
    return json_pack(
        "{s:i, s:s, s:s, s:s, s:o, s:s, s:o, s:o, s:f, s:o, s:o, s:o, s:o, s:b, s:o}", "pid",
        s->pid, "application_name", s->application_name, "user", s->user, "database", s->database,
        "client_addr", show_text ? text_or_null(s->client_addr) : json_null(), "state", s->state,
        "wait_event_type", text_or_null(s->wait_event_type), "wait_event",
        text_or_null(s->wait_event), "duration_ms", s->duration_ms >= 0.0 ? s->duration_ms : 0.0,
        "query_ms", ms_or_null(s->query_ms), "state_ms", ms_or_null(s->state_ms), "xact_ms",
        ms_or_null(s->xact_ms), "blocked_by", pid_list(s), "ours", s->ours, "query",
        show_text ? json_string(s->query) : json_null());
}

static json_t *render_app(const struct tsp_activity_app *a)
{
    return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "application_name", a->name,
                     "connections", (json_int_t)a->connections, "active", (json_int_t)a->active,
                     "idle", (json_int_t)a->idle, "idle_in_transaction",
                     (json_int_t)a->idle_in_transaction, "other_state", (json_int_t)a->other_state,
                     "long_running", (json_int_t)a->long_running, "waiting",
                     (json_int_t)a->waiting);
}

json_t *tsp_render_activity_summary(const struct tsp_activity_sample *sample)
{
    json_t *apps = json_array();

    for (size_t i = 0; apps != NULL && i < sample->napps; i++) {
        json_array_append_new(apps, render_app(&sample->apps[i]));
    }
    return json_pack("{s:I, s:I, s:f, s:o, s:o}", "sessions", (json_int_t)sample->nsessions,
                     "blocked", (json_int_t)sample->blocked, "oldest_transaction_ms",
                     sample->oldest_xact_ms, "oldest_transaction_pid",
                     sample->oldest_xact_pid > 0 ? json_integer(sample->oldest_xact_pid)
                                                 : json_null(),
                     "by_application", apps);
}

/* Pre-order nodes with depths -> nested {"session fields", "blocks": [...]} objects. */
json_t *tsp_render_activity_chains(const struct tsp_activity_sample *sample,
                                   const struct tsp_activity_chain_node *nodes, size_t n,
                                   bool show_text)
{
    json_t *roots = json_array();
    json_t *stack[33]; /* "blocks" arrays by depth; depth is below 32 */
    int top = -1;

    if (roots == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        int depth = nodes[i].depth;
        json_t *node = tsp_render_activity_session(&sample->sessions[nodes[i].session], show_text);
        json_t *blocks = json_array();
        if (node == NULL || blocks == NULL || depth < 0 || depth > 31 || depth > top + 1) {
            json_decref(node);
            json_decref(blocks);
            json_decref(roots);
            return NULL;
        }
        json_object_set_new(node, "blocks", blocks);
        json_array_append_new(depth == 0 ? roots : stack[depth - 1], node);
        stack[depth] = blocks;
        top = depth;
    }
    return roots;
}

json_t *tsp_render_statement(const struct tsp_activity_statement *s, double window_s)
{
    json_t *window = json_null();

    if (window_s > 0.0) {
        window =
            json_pack("{s:I, s:f, s:f, s:o, s:I}", "calls", (json_int_t)s->window_calls,
                      "calls_per_s", (double)s->window_calls / window_s, "total_time_ms",
                      s->window_total_ms, "time_per_call_ms",
                      s->window_calls > 0 ? json_real(s->window_total_ms / (double)s->window_calls)
                                          : json_null(),
                      "rows", (json_int_t)s->window_rows);
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:f, s:f, s:I, s:o}", "queryid", s->queryid, "user",
                     s->user, "database", s->database, "query", s->query, "calls",
                     (json_int_t)s->calls, "total_time_ms", s->total_ms, "mean_time_ms", s->mean_ms,
                     "rows", (json_int_t)s->rows, "window", window);
}

json_t *tsp_render_signal_result(const struct tsp_activity_signal_result *r,
                                 enum tsp_activity_signal action, bool force)
{
    return json_pack("{s:i, s:s, s:b, s:b, s:s, s:s, s:s, s:s, s:b, s:b}", "pid", r->pid, "action",
                     tsp_activity_signal_name(action), "signalled", r->signalled, "force", force,
                     "application_name", r->application_name, "user", r->user, "backend_type",
                     r->backend_type, "state", r->state, "superuser", r->superuser, "replication",
                     r->replication);
}

json_t *tsp_render_timestamp(int64_t ms)
{
    char buf[32];
    return json_string(tsp_log_timestamp(ms, buf, sizeof(buf)));
}
