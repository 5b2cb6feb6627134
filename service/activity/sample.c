/* activity/sample.c - one pg_stat_activity sample: the statement (with a deadline), the rows
 * turned into sessions, and the summary (per-application gauges, blocked sessions, oldest
 * transaction) that the API and /metrics read.
 * SPDX-License-Identifier: MIT
 */
#include "activity_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tspool/clock.h"
#include "tspool/db.h"

/* Client backends only (no background workers, no walsenders), never the sampler itself.
 * pg_blocking_pids is asked only for sessions waiting on a lock: it takes the lock manager's
 * partition locks, which the PostgreSQL documentation warns against doing often. */
static const char sample_sql[] =
    "SELECT a.pid, coalesce(a.application_name, ''), coalesce(a.usename::text, ''), "
    "coalesce(a.datname::text, ''), "
    "CASE WHEN a.client_addr IS NOT NULL THEN host(a.client_addr) "
    "WHEN a.client_port = -1 THEN 'local' ELSE '' END, "
    "coalesce(a.state, ''), coalesce(a.wait_event_type, ''), coalesce(a.wait_event, ''), "
    "extract(epoch FROM now() - a.query_start) * 1000, "
    "extract(epoch FROM now() - a.state_change) * 1000, "
    "extract(epoch FROM now() - a.xact_start) * 1000, "
    "(extract(epoch FROM a.query_start) * 1000000)::bigint, "
    "CASE WHEN a.wait_event_type = 'Lock' THEN array_to_string(pg_blocking_pids(a.pid), ',') "
    "ELSE '' END, "
    "left(coalesce(a.query, ''), $1::int) "
    "FROM pg_stat_activity a "
    "WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()";

static void copy_text(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src != NULL ? src : "");
}

/* A number column, or -1 for NULL / not a number. */
static double real_value(const struct tsp_db_result *res, int row, int col)
{
    const char *v = tsp_db_result_value(res, row, col);
    char *end = NULL;
    double d = 0.0;

    if (v == NULL || v[0] == '\0') {
        return -1.0;
    }
    d = strtod(v, &end);
    return *end == '\0' ? d : -1.0;
}

/* "12,34" -> blocked_by. */
static void parse_pids(const char *text, struct tsp_activity_session *s)
{
    const char *p = text;
    char *end = NULL;
    long v = 0;

    s->nblocked_by = 0;
    while (p != NULL && *p != '\0' && s->nblocked_by < TSP_ACTIVITY_BLOCKERS_MAX) {
        v = strtol(p, &end, 10);
        if (end == p) {
            break;
        }
        if (v > 0) {
            s->blocked_by[s->nblocked_by++] = (int)v;
        }
        p = *end == ',' ? end + 1 : end;
    }
}

static double pick_duration(const struct tsp_activity_session *s)
{
    if (strcmp(s->state, "active") == 0 || strcmp(s->state, "fastpath function call") == 0) {
        return s->query_ms;
    }
    if (strncmp(s->state, "idle in transaction", 19) == 0 && s->xact_ms >= 0.0) {
        return s->xact_ms;
    }
    return s->state_ms;
}

static enum tsp_code read_rows(const struct tsp_db_result *res,
                               const struct tsp_activity_options *opts,
                               struct tsp_activity_sample *sample, struct tsp_error *err)
{
    int rows = tsp_db_result_rows(res);
    const char *q = NULL;

    sample->sessions = calloc(rows > 0 ? (size_t)rows : 1, sizeof(*sample->sessions));
    if (sample->sessions == NULL) {
        return tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory for an activity sample");
    }
    for (int r = 0; r < rows; r++) {
        struct tsp_activity_session *s = &sample->sessions[sample->nsessions];
        s->pid = (int)tsp_db_result_int(res, r, 0, 0);
        copy_text(s->application_name, sizeof(s->application_name), tsp_db_result_value(res, r, 1));
        copy_text(s->user, sizeof(s->user), tsp_db_result_value(res, r, 2));
        copy_text(s->database, sizeof(s->database), tsp_db_result_value(res, r, 3));
        copy_text(s->client_addr, sizeof(s->client_addr), tsp_db_result_value(res, r, 4));
        copy_text(s->state, sizeof(s->state), tsp_db_result_value(res, r, 5));
        copy_text(s->wait_event_type, sizeof(s->wait_event_type), tsp_db_result_value(res, r, 6));
        copy_text(s->wait_event, sizeof(s->wait_event), tsp_db_result_value(res, r, 7));
        s->query_ms = real_value(res, r, 8);
        s->state_ms = real_value(res, r, 9);
        s->xact_ms = real_value(res, r, 10);
        s->query_start_us = tsp_db_result_int(res, r, 11, 0);
        parse_pids(tsp_db_result_value(res, r, 12), s);
        q = tsp_db_result_value(res, r, 13);
        s->query = strdup(q != NULL ? q : "");
        if (s->query == NULL) {
            return tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory for an activity sample");
        }
        s->ours = opts->application_name != NULL && opts->application_name[0] != '\0' &&
                  strcmp(s->application_name, opts->application_name) == 0;
        s->duration_ms = pick_duration(s);
        sample->nsessions++;
    }
    return TSP_OK;
}

enum tsp_code tsp_activity_sample_take(struct tsp_lease *lease,
                                       const struct tsp_activity_options *opts,
                                       struct tsp_activity_sample_box **out, struct tsp_error *err)
{
    struct tsp_activity_sample_box *box = NULL;
    struct tsp_db_result *res = NULL;
    char max_text[16];
    const char *params[1] = {max_text};
    double started = 0.0;
    enum tsp_code rc = TSP_OK;

    box = calloc(1, sizeof(*box));
    if (box == NULL) {
        rc = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory for an activity sample");
        goto done;
    }
    box->refs = 1;
    snprintf(max_text, sizeof(max_text), "%d", opts->query_text_max);
    started = (double)tsp_clock_mono_ns() / 1e6;
    rc = tsp_db_exec_deadline(lease, sample_sql, 1, params, TSP_ACTIVITY_STATEMENT_MS, &res, err);
    if (rc != TSP_OK) {
        goto done;
    }
    box->sample.round_trip_ms = (double)tsp_clock_mono_ns() / 1e6 - started;
    box->sample.taken_at_ms = tsp_clock_real_ms();
    rc = read_rows(res, opts, &box->sample, err);
    if (rc != TSP_OK) {
        goto done;
    }
    tsp_activity_sample_summarise(&box->sample, opts->slow_ms);
    *out = box;
    box = NULL;
done:
    tsp_db_result_free(res);
    tsp_activity_sample_box_free(box);
    return rc;
}

void tsp_activity_sample_box_free(struct tsp_activity_sample_box *box)
{
    if (box == NULL) {
        return;
    }
    for (size_t i = 0; i < box->sample.nsessions; i++) {
        free(box->sample.sessions[i].query);
    }
    free(box->sample.sessions);
    free(box);
}

const char *tsp_activity_state_label(const char *state)
{
    static const struct {
        const char *state;
        const char *label;
    } map[] = {
        {"active", "active"},
        {"idle", "idle"},
        {"idle in transaction", "idle_in_transaction"},
        {"idle in transaction (aborted)", "idle_in_transaction_aborted"},
        {"fastpath function call", "fastpath_function_call"},
        {"disabled", "disabled"},
    };

    for (size_t i = 0; state != NULL && i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(state, map[i].state) == 0) {
            return map[i].label;
        }
    }
    return "unknown";
}

static int by_duration_desc(const void *a, const void *b)
{
    const struct tsp_activity_session *x = a;
    const struct tsp_activity_session *y = b;

    if (x->duration_ms != y->duration_ms) {
        return x->duration_ms < y->duration_ms ? 1 : -1;
    }
    return x->pid - y->pid;
}

static int by_connections_desc(const void *a, const void *b)
{
    const struct tsp_activity_app *x = a;
    const struct tsp_activity_app *y = b;

    if (x->connections != y->connections) {
        return x->connections < y->connections ? 1 : -1;
    }
    return strcmp(x->name, y->name);
}

/* Add one session to an application's gauges. */
static void count_session(struct tsp_activity_app *app, const struct tsp_activity_session *s,
                          long slow_ms)
{
    const char *label = tsp_activity_state_label(s->state);
    bool active = strcmp(label, "active") == 0;

    app->connections++;
    if (active) {
        app->active++;
        if (slow_ms > 0 && s->query_ms >= (double)slow_ms) {
            app->long_running++;
        }
        if (strcmp(s->wait_event_type, "Lock") == 0) {
            app->waiting++;
        }
    } else if (strcmp(label, "idle") == 0) {
        app->idle++;
    } else if (strncmp(label, "idle_in_transaction", 19) == 0) {
        app->idle_in_transaction++;
    } else {
        app->other_state++;
    }
}

static void merge_app(struct tsp_activity_app *into, const struct tsp_activity_app *from)
{
    into->connections += from->connections;
    into->active += from->active;
    into->idle += from->idle;
    into->idle_in_transaction += from->idle_in_transaction;
    into->other_state += from->other_state;
    into->long_running += from->long_running;
    into->waiting += from->waiting;
}

/* Group by application: every distinct name first (in a scratch array), then keep the
 * largest TSP_ACTIVITY_APPS_MAX and fold the rest into "other" (bounded label values). */
static void summarise_apps(struct tsp_activity_sample *sample, long slow_ms)
{
    struct tsp_activity_app *all = NULL;
    size_t nall = 0;
    size_t j = 0;

    sample->napps = 0;
    if (sample->nsessions == 0) {
        return;
    }
    all = calloc(sample->nsessions, sizeof(*all));
    if (all == NULL) {
        return; /* the gauges stay empty; the sessions themselves are still served */
    }
    for (size_t i = 0; i < sample->nsessions; i++) {
        const struct tsp_activity_session *s = &sample->sessions[i];
        for (j = 0; j < nall && strcmp(all[j].name, s->application_name) != 0; j++) {
        }
        if (j == nall) {
            copy_text(all[nall].name, sizeof(all[nall].name), s->application_name);
            nall++;
        }
        count_session(&all[j], s, slow_ms);
    }
    qsort(all, nall, sizeof(*all), by_connections_desc);
    for (j = 0; j < nall && j < TSP_ACTIVITY_APPS_MAX; j++) {
        sample->apps[sample->napps++] = all[j];
    }
    if (j < nall) {
        struct tsp_activity_app *other = &sample->apps[sample->napps++];
        memset(other, 0, sizeof(*other));
        copy_text(other->name, sizeof(other->name), "other");
        for (; j < nall; j++) {
            merge_app(other, &all[j]);
        }
    }
    free(all);
}

void tsp_activity_sample_summarise(struct tsp_activity_sample *sample, long slow_ms)
{
    sample->blocked = 0;
    sample->oldest_xact_ms = 0.0;
    sample->oldest_xact_pid = 0;
    if (sample->nsessions > 1) {
        qsort(sample->sessions, sample->nsessions, sizeof(*sample->sessions), by_duration_desc);
    }
    for (size_t i = 0; i < sample->nsessions; i++) {
        const struct tsp_activity_session *s = &sample->sessions[i];
        if (s->nblocked_by > 0) {
            sample->blocked++;
        }
        if (s->xact_ms > sample->oldest_xact_ms) {
            sample->oldest_xact_ms = s->xact_ms;
            sample->oldest_xact_pid = s->pid;
        }
    }
    summarise_apps(sample, slow_ms);
}

/* A session's index by pid, or nsessions. */
static size_t find_pid(const struct tsp_activity_sample *sample, int pid)
{
    for (size_t i = 0; i < sample->nsessions; i++) {
        if (sample->sessions[i].pid == pid) {
            return i;
        }
    }
    return sample->nsessions;
}

/* True when session idx is on the path from the root down to the current node (a cycle). */
static bool on_path(const size_t *path, int depth, size_t idx)
{
    for (int d = 0; d < depth; d++) {
        if (path[d] == idx) {
            return true;
        }
    }
    return false;
}

#define CHAIN_DEPTH_MAX 32

/* Append idx at depth, then everyone it blocks. Returns the new count. */
static size_t walk(const struct tsp_activity_sample *sample, size_t idx, int depth, size_t *path,
                   struct tsp_activity_chain_node *out, size_t n, size_t max)
{
    int pid = sample->sessions[idx].pid;

    if (n >= max) {
        return n;
    }
    out[n].session = idx;
    out[n].depth = depth;
    n++;
    path[depth] = idx;
    if (depth + 1 >= CHAIN_DEPTH_MAX) {
        return n;
    }
    for (size_t i = 0; i < sample->nsessions && n < max; i++) {
        const struct tsp_activity_session *s = &sample->sessions[i];
        for (size_t b = 0; b < s->nblocked_by; b++) {
            if (s->blocked_by[b] == pid && !on_path(path, depth + 1, i)) {
                n = walk(sample, i, depth + 1, path, out, n, max);
                break;
            }
        }
    }
    return n;
}

size_t tsp_activity_chains(const struct tsp_activity_sample *sample,
                           struct tsp_activity_chain_node *out, size_t max)
{
    size_t path[CHAIN_DEPTH_MAX];
    size_t n = 0;

    if (sample == NULL) {
        return 0;
    }
    for (size_t i = 0; i < sample->nsessions && n < max; i++) {
        const struct tsp_activity_session *s = &sample->sessions[i];
        bool blocks = false;
        bool waits = false;
        /* a root is part of a chain (blocks someone or waits) and waits for nobody we can
         * see: a session waiting only for a process outside the sample is a root too */
        for (size_t j = 0; j < sample->nsessions && !blocks; j++) {
            for (size_t b = 0; b < sample->sessions[j].nblocked_by; b++) {
                if (sample->sessions[j].blocked_by[b] == s->pid) {
                    blocks = true;
                    break;
                }
            }
        }
        for (size_t b = 0; b < s->nblocked_by; b++) {
            if (find_pid(sample, s->blocked_by[b]) < sample->nsessions) {
                waits = true;
            }
        }
        if ((blocks || s->nblocked_by > 0) && !waits) {
            n = walk(sample, i, 0, path, out, n, max);
        }
    }
    return n;
}
