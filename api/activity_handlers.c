/* activity_handlers.c - GET /server/activity (sessions, blocking chains), GET
 * /server/statements (the latest pg_stat_statements snapshot with deltas) and POST
 * /server/sessions/{pid}/cancel|terminate. Reads serve the sampler's snapshots: no request
 * reaches the database except a cancel or terminate.
 * SPDX-License-Identifier: MIT
 */
#include "api_int.h"
#include "render.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define CHAIN_NODES_MAX 1024
#define TOP_DEFAULT     20
#define TOP_MAX         1000

/* An optional integer query parameter in [min, max]; *out untouched when absent. */
static enum tsp_code query_long(const char *query, const char *name, long min, long max, long *out,
                                struct tsp_error *err)
{
    char text[32];
    char *end = NULL;
    long v = 0;
    int n = tsp_query_get(query, name, 0, text, sizeof(text));

    if (tsp_query_repeated(query, name)) {
        return tsp_error_set(err, TSP_INVALID, name, "query parameter '%s' is given more than once",
                             name);
    }
    if (n == -1) {
        return TSP_OK;
    }
    errno = 0;
    v = n > 0 ? strtol(text, &end, 10) : 0;
    if (n <= 0 || errno != 0 || *end != '\0' || v < min || v > max) {
        return tsp_error_set(err, TSP_INVALID, name,
                             "query parameter '%s' must be an integer from %ld to %ld", name, min,
                             max);
    }
    *out = v;
    return TSP_OK;
}

/* An optional text query parameter of at most outsize - 1 bytes; "" when absent. */
static enum tsp_code query_text(const char *query, const char *name, char *out, size_t outsize,
                                struct tsp_error *err)
{
    int n = tsp_query_get(query, name, 0, out, outsize);

    if (tsp_query_repeated(query, name)) {
        return tsp_error_set(err, TSP_INVALID, name, "query parameter '%s' is given more than once",
                             name);
    }
    if (n == -2) {
        return tsp_error_set(err, TSP_INVALID, name,
                             "query parameter '%s' is longer than %zu characters", name,
                             outsize - 1);
    }
    if (n == -1) {
        out[0] = '\0';
    }
    return TSP_OK;
}

/* The filters of GET /server/activity. */
struct activity_filter {
    long min_duration_ms;
    char application[TSP_ACTIVITY_NAME_MAX];
    char state[40]; /* a metric-style state label, "" = any */
};

static enum tsp_code parse_filter(const char *query, struct activity_filter *f,
                                  struct tsp_error *err)
{
    static const char *const states[] = {"active",
                                         "idle",
                                         "idle_in_transaction",
                                         "idle_in_transaction_aborted",
                                         "fastpath_function_call",
                                         "disabled"};
    bool known = false;
    enum tsp_code rc = TSP_OK;

    memset(f, 0, sizeof(*f));
    rc = query_long(query, "min_duration_ms", 0, 86400000L * 365, &f->min_duration_ms, err);
    if (rc == TSP_OK) {
        rc = query_text(query, "application", f->application, sizeof(f->application), err);
    }
    if (rc == TSP_OK) {
        rc = query_text(query, "state", f->state, sizeof(f->state), err);
    }
    if (rc != TSP_OK || f->state[0] == '\0') {
        return rc;
    }
    for (char *p = f->state; *p != '\0'; p++) {
        *p = *p == ' ' ? '_' : *p; /* "idle in transaction" works as well */
    }
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
        known = known || strcmp(f->state, states[i]) == 0;
    }
    if (!known) {
        return tsp_error_set(err, TSP_INVALID, "state",
                             "query parameter 'state' must be one of active, idle, "
                             "idle_in_transaction, idle_in_transaction_aborted, "
                             "fastpath_function_call, disabled");
    }
    return TSP_OK;
}

static bool matches(const struct activity_filter *f, const struct tsp_activity_session *s)
{
    if (s->duration_ms < (double)f->min_duration_ms) {
        return false;
    }
    if (f->application[0] != '\0' && strcmp(f->application, s->application_name) != 0) {
        return false;
    }
    return f->state[0] == '\0' || strcmp(f->state, tsp_activity_state_label(s->state)) == 0;
}

/* The sampler is off or has nothing yet: the problem that says so. */
static int no_sample(struct tsp_req *req, const struct tsp_activity_status *st)
{
    if (!st->enabled) {
        return tsp_problem_sendf(req, TSP_CONFLICT, NULL,
                                 "server activity sampling is off (TSPOOL_ACTIVITY_INTERVAL_MS=0)");
    }
    if (st->attempted_at_ms != 0 && !st->ok) {
        return tsp_problem_sendf(req, TSP_DB_UNAVAILABLE, NULL,
                                 "no pg_stat_activity sample yet: %s", st->error);
    }
    return tsp_problem_sendf(req, TSP_UNAVAILABLE, NULL,
                             "the first pg_stat_activity sample is being taken");
}

static json_t *activity_doc(struct tsp_req *req, const struct tsp_activity_sample *sample,
                            const struct tsp_activity_status *st, const struct activity_filter *f,
                            bool show_text)
{
    struct tsp_activity_options opts;
    struct tsp_activity_chain_node *nodes = NULL;
    size_t nnodes = 0;
    json_t *doc = NULL;
    json_t *sessions = json_array();

    tsp_activity_options_get(req->api->activity, &opts);
    for (size_t i = 0; sessions != NULL && i < sample->nsessions; i++) {
        if (matches(f, &sample->sessions[i]) &&
            json_array_append_new(
                sessions, tsp_render_activity_session(&sample->sessions[i], show_text)) != 0) {
            goto done;
        }
    }
    nodes = calloc(CHAIN_NODES_MAX, sizeof(*nodes));
    if (nodes == NULL || sessions == NULL) {
        goto done;
    }
    nnodes = tsp_activity_chains(sample, nodes, CHAIN_NODES_MAX);
    doc = json_pack("{s:o, s:I, s:f, s:I, s:b, s:o, s:b, s:o, s:O, s:o}", "sampled_at",
                    tsp_render_timestamp(sample->taken_at_ms), "interval_ms",
                    (json_int_t)opts.interval_ms, "round_trip_ms", sample->round_trip_ms,
                    "slow_query_ms", (json_int_t)opts.slow_ms, "last_sample_ok", st->ok,
                    "last_error", st->ok ? json_null() : json_string(st->error), "query_text",
                    show_text, "summary", tsp_render_activity_summary(sample), "sessions", sessions,
                    "blocking", tsp_render_activity_chains(sample, nodes, nnodes, show_text));
done:
    json_decref(sessions);
    free(nodes);
    return doc;
}

int tsp_h_server_activity(struct tsp_req *req)
{
    struct tsp_error err;
    struct tsp_activity_status st;
    struct activity_filter filter;
    const struct tsp_activity_sample *sample = NULL;
    json_t *doc = NULL;
    int status = 0;

    tsp_error_init(&err);
    if (parse_filter(req->query, &filter, &err) != TSP_OK) {
        return tsp_problem_send(req, &err, NULL);
    }
    sample = tsp_activity_sample_get(req->api->activity, &st);
    if (sample == NULL) {
        return no_sample(req, &st);
    }
    doc = activity_doc(req, sample, &st, &filter, tsp_auth_is_admin(req));
    tsp_activity_sample_release(sample);
    if (doc == NULL) {
        return tsp_problem_sendf(req, TSP_NO_MEMORY, NULL, "out of memory rendering the activity");
    }
    status = tsp_respond_json(req, 200, doc);
    json_decref(doc);
    return status;
}

static json_t *statements_doc(struct tsp_req *req, const struct tsp_activity_statements *st,
                              const char *order_name, enum tsp_activity_order order, long top)
{
    struct tsp_activity_options opts;
    size_t *idx = calloc((size_t)top, sizeof(*idx));
    size_t n = 0;
    json_t *list = json_array();
    json_t *doc = NULL;

    tsp_activity_options_get(req->api->activity, &opts);
    if (idx == NULL || list == NULL) {
        goto done;
    }
    n = tsp_activity_statements_rank(st, order, idx, (size_t)top);
    for (size_t i = 0; i < n; i++) {
        if (json_array_append_new(list, tsp_render_statement(&st->items[idx[i]], st->window_s)) !=
            0) {
            goto done;
        }
    }
    doc = json_pack("{s:o, s:o, s:I, s:s, s:I, s:I, s:O}", "taken_at",
                    tsp_render_timestamp(st->taken_at_ms), "window_s",
                    st->window_s > 0.0 ? json_real(st->window_s) : json_null(), "interval_ms",
                    (json_int_t)opts.statements_interval_ms, "order", order_name, "top",
                    (json_int_t)top, "total", (json_int_t)st->n, "statements", list);
done:
    json_decref(list);
    free(idx);
    return doc;
}

int tsp_h_server_statements(struct tsp_req *req)
{
    struct tsp_error err;
    char order_name[16] = "total_time";
    enum tsp_activity_order order = TSP_ACTIVITY_ORDER_TOTAL_TIME;
    long top = TOP_DEFAULT;
    const struct tsp_activity_statements *st = NULL;
    json_t *doc = NULL;
    int status = 0;

    tsp_error_init(&err);
    if (query_long(req->query, "top", 1, TOP_MAX, &top, &err) != TSP_OK ||
        query_text(req->query, "order", order_name, sizeof(order_name), &err) != TSP_OK) {
        return tsp_problem_send(req, &err, NULL);
    }
    if (order_name[0] == '\0') {
        snprintf(order_name, sizeof(order_name), "total_time");
    }
    if (!tsp_activity_order_parse(order_name, &order)) {
        return tsp_problem_sendf(req, TSP_INVALID, "order",
                                 "query parameter 'order' must be one of total_time, mean_time, "
                                 "calls, rows");
    }
    st = tsp_activity_statements_get(req->api->activity, &err);
    if (st == NULL) {
        return tsp_problem_send(req, &err, NULL);
    }
    if (!st->available) {
        tsp_error_set(&err, TSP_CONFLICT, NULL, "%s", st->why);
        tsp_activity_statements_release(st);
        return tsp_problem_send(req, &err, NULL);
    }
    doc = statements_doc(req, st, order_name, order, top);
    tsp_activity_statements_release(st);
    if (doc == NULL) {
        return tsp_problem_sendf(req, TSP_NO_MEMORY, NULL, "out of memory rendering statements");
    }
    status = tsp_respond_json(req, 200, doc);
    json_decref(doc);
    return status;
}

/* POST /server/sessions/{pid}/cancel|terminate[?force=true] */
static int signal_session(struct tsp_req *req, enum tsp_activity_signal action)
{
    struct tsp_error err;
    struct tsp_activity_signal_result result;
    const char *text = tsp_req_param(req, "pid");
    char *end = NULL;
    long pid = 0;
    bool force = false;
    json_t *doc = NULL;
    int status = 0;

    tsp_error_init(&err);
    errno = 0;
    pid = text != NULL ? strtol(text, &end, 10) : 0;
    if (text == NULL || text[0] == '\0' || errno != 0 || *end != '\0' || pid < 1 || pid > INT_MAX) {
        return tsp_problem_sendf(req, TSP_INVALID, "pid",
                                 "pid must be a server process id (an integer from 1 to %d)",
                                 INT_MAX);
    }
    if (tsp_query_bool(req->query, "force", &force, &err) != TSP_OK ||
        tsp_activity_signal(req->api->activity, (int)pid, action, force, req->request_id, &result,
                            &err) != TSP_OK) {
        return tsp_problem_send(req, &err, NULL);
    }
    doc = tsp_render_signal_result(&result, action, force);
    if (doc == NULL) {
        return tsp_problem_sendf(req, TSP_NO_MEMORY, NULL, "out of memory rendering the result");
    }
    status = tsp_respond_json(req, 200, doc);
    json_decref(doc);
    return status;
}

int tsp_h_session_cancel(struct tsp_req *req)
{
    return signal_session(req, TSP_ACTIVITY_CANCEL);
}

int tsp_h_session_terminate(struct tsp_req *req)
{
    return signal_session(req, TSP_ACTIVITY_TERMINATE);
}
