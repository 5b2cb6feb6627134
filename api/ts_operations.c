/* api/ts_operations.c - the TimescaleDB operations table: per operation what it reads and its one
 * service call (capabilities, hypertables, chunks, compression, policies, aggregates, jobs).
 * SPDX-License-Identifier: MIT
 */
#include "ts_handlers_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- reads ---------------------------------------------------------------------------------- */

static enum tsp_code run_caps(struct tsp_ts_call *c, struct tsp_error *err)
{
    struct tsp_ts_caps caps;
    struct tsp_ts_workers workers;
    enum tsp_code rc = tsp_ts_overview(c->ts, &c->ctx, &caps, &workers, err);

    if (rc == TSP_OK) {
        c->answer = tsp_ts_json_caps_workers(&caps, &workers);
    }
    return rc;
}

static enum tsp_code run_hypertables_list(struct tsp_ts_call *c, struct tsp_error *err)
{
    struct tsp_hypertable *list = NULL;
    size_t count = 0;
    enum tsp_code rc = tsp_ts_hypertables_list(c->ts, &c->ctx, &list, &count, err);
    json_t *arr = rc == TSP_OK ? json_array() : NULL;

    for (size_t i = 0; arr != NULL && i < count; i++) {
        tsp_ts_json_append(&arr, tsp_ts_json_hypertable(&list[i], false));
    }
    free(list);
    c->answer = tsp_ts_json_list("hypertables", arr);
    return rc;
}

static enum tsp_code run_hypertable_get(struct tsp_ts_call *c, struct tsp_error *err)
{
    /* large (dimensions, settings): on the heap rather than a worker's stack */
    struct tsp_hypertable *h = calloc(1, sizeof(*h));
    enum tsp_code rc = TSP_OK;

    if (h == NULL) {
        return tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
    }
    rc = tsp_ts_hypertable_get(c->ts, &c->ctx, c->name, h, err);
    if (rc == TSP_OK) {
        c->answer = tsp_ts_json_hypertable(h, true);
    }
    free(h);
    return rc;
}

/* ?older_than=&newer_than=&compressed= of GET .../chunks; strings live in bufs. */
static enum tsp_code chunk_query(struct tsp_req *req, char bufs[2][TSP_TS_TEXT_MAX],
                                 struct tsp_ts_chunk_filter *f, struct tsp_error *err)
{
    static const char *const names[2] = {"older_than", "newer_than"};
    const char **slots[2] = {&f->older_than, &f->newer_than};
    bool compressed = false;
    char flag[8];

    f->older_than = NULL;
    f->newer_than = NULL;
    f->compressed = -1;
    for (int i = 0; i < 2; i++) {
        int n = tsp_query_get(req->query, names[i], 0, bufs[i], TSP_TS_TEXT_MAX);
        if (tsp_query_repeated(req->query, names[i])) {
            return tsp_error_set(err, TSP_INVALID, names[i],
                                 "query parameter '%s' is given more than once", names[i]);
        }
        if (n == -2 || n == 0) {
            return tsp_error_set(err, TSP_INVALID, names[i],
                                 "%s must be an interval or a timestamp", names[i]);
        }
        if (n > 0) {
            *slots[i] = bufs[i];
        }
    }
    if (tsp_query_get(req->query, "compressed", 0, flag, sizeof(flag)) != -1) {
        if (tsp_query_bool(req->query, "compressed", &compressed, err) != TSP_OK) {
            return err->code;
        }
        f->compressed = compressed ? 1 : 0;
    }
    return TSP_OK;
}

/* ?limit= (1..1000, default 100) and ?cursor= of GET .../chunks; the cursor lives in buf. */
static enum tsp_code page_query(struct tsp_req *req, char *buf, size_t size, long *limit,
                                const char **cursor, struct tsp_error *err)
{
    static const char *const names[2] = {"limit", "cursor"};
    char text[16];
    char *end = NULL;
    int n;

    for (int i = 0; i < 2; i++) {
        if (tsp_query_repeated(req->query, names[i])) {
            return tsp_error_set(err, TSP_INVALID, names[i],
                                 "query parameter '%s' is given more than once", names[i]);
        }
    }
    *limit = TSP_TS_PAGE_DEFAULT;
    n = tsp_query_get(req->query, "limit", 0, text, sizeof(text));
    if (n != -1) {
        long value = n > 0 ? strtol(text, &end, 10) : 0;
        if (n <= 0 || end == NULL || *end != '\0' || text[0] == '-' || text[0] == '+' ||
            value < 1 || value > TSP_TS_PAGE_MAX) {
            return tsp_error_set(err, TSP_INVALID, "limit", "limit must be an integer from 1 to %d",
                                 TSP_TS_PAGE_MAX);
        }
        *limit = value;
    }
    *cursor = NULL;
    n = tsp_query_get(req->query, "cursor", 0, buf, size);
    if (n == -2 || n == 0) {
        return tsp_error_set(err, TSP_INVALID, "cursor",
                             "cursor is not a next_cursor this service returned");
    }
    if (n > 0) {
        *cursor = buf;
    }
    return TSP_OK;
}

static enum tsp_code run_chunks_list(struct tsp_ts_call *c, struct tsp_error *err)
{
    char bufs[2][TSP_TS_TEXT_MAX];
    char cursor_buf[TSP_TS_CURSOR_MAX];
    char next[TSP_TS_CURSOR_MAX];
    struct tsp_ts_chunk_filter filter;
    struct tsp_ts_chunk *chunks = NULL;
    const char *cursor = NULL;
    long limit = 0;
    size_t count = 0;
    json_t *arr = NULL;
    enum tsp_code rc = chunk_query(c->req, bufs, &filter, err);

    if (rc == TSP_OK) {
        rc = page_query(c->req, cursor_buf, sizeof(cursor_buf), &limit, &cursor, err);
    }
    if (rc == TSP_OK) {
        rc = tsp_ts_chunks_page(c->ts, &c->ctx, c->name, &filter, limit, cursor, &chunks, &count,
                                next, err);
    }
    arr = rc == TSP_OK ? json_array() : NULL;
    for (size_t i = 0; arr != NULL && i < count; i++) {
        tsp_ts_json_append(&arr, tsp_ts_json_chunk(&chunks[i]));
    }
    free(chunks);
    c->answer = tsp_ts_json_list("chunks", arr);
    if (c->answer != NULL &&
        json_object_set_new(c->answer, "next_cursor",
                            next[0] != '\0' ? json_string(next) : json_null()) != 0) {
        json_decref(c->answer);
        c->answer = NULL;
    }
    return rc;
}

static enum tsp_code policy_get(struct tsp_ts_call *c, enum tsp_ts_policy_kind kind,
                                struct tsp_error *err)
{
    struct tsp_ts_policy policy;
    enum tsp_code rc = tsp_ts_policy_get(c->ts, &c->ctx, c->name, kind, &policy, err);

    if (rc == TSP_OK) {
        c->answer = tsp_ts_json_policy(&policy);
    }
    return rc;
}

static enum tsp_code run_compression_policy_get(struct tsp_ts_call *c, struct tsp_error *err)
{
    return policy_get(c, TSP_TS_POLICY_COMPRESSION, err);
}

static enum tsp_code run_retention_policy_get(struct tsp_ts_call *c, struct tsp_error *err)
{
    return policy_get(c, TSP_TS_POLICY_RETENTION, err);
}

static enum tsp_code run_reorder_policy_get(struct tsp_ts_call *c, struct tsp_error *err)
{
    return policy_get(c, TSP_TS_POLICY_REORDER, err);
}

static enum tsp_code run_aggregates_list(struct tsp_ts_call *c, struct tsp_error *err)
{
    struct tsp_ts_aggregate *list = NULL;
    size_t count = 0;
    enum tsp_code rc = tsp_ts_aggregates_list(c->ts, &c->ctx, &list, &count, err);
    json_t *arr = rc == TSP_OK ? json_array() : NULL;

    for (size_t i = 0; arr != NULL && i < count; i++) {
        tsp_ts_json_append(&arr, tsp_ts_json_aggregate(&list[i]));
    }
    free(list);
    c->answer = tsp_ts_json_list("aggregates", arr);
    return rc;
}

static enum tsp_code run_aggregate_get(struct tsp_ts_call *c, struct tsp_error *err)
{
    struct tsp_ts_aggregate agg;
    enum tsp_code rc = tsp_ts_aggregate_get(c->ts, &c->ctx, c->name, &agg, err);

    if (rc == TSP_OK) {
        c->answer = tsp_ts_json_aggregate(&agg);
    }
    return rc;
}

static enum tsp_code run_jobs_list(struct tsp_ts_call *c, struct tsp_error *err)
{
    struct tsp_ts_job *list = NULL;
    size_t count = 0;
    enum tsp_code rc = tsp_ts_jobs_list(c->ts, &c->ctx, &list, &count, err);
    json_t *arr = rc == TSP_OK ? json_array() : NULL;

    for (size_t i = 0; arr != NULL && i < count; i++) {
        tsp_ts_json_append(&arr, tsp_ts_json_job(&list[i]));
    }
    free(list);
    c->answer = tsp_ts_json_list("jobs", arr);
    return rc;
}

static enum tsp_code run_job_get(struct tsp_ts_call *c, struct tsp_error *err)
{
    struct tsp_ts_job job;
    enum tsp_code rc = tsp_ts_job_get(c->ts, &c->ctx, c->id, &job, err);

    if (rc == TSP_OK) {
        c->answer = tsp_ts_json_job(&job);
    }
    return rc;
}

/* {key: [runs]} of GET /jobs/{id}/history and /jobs/errors; runs is freed. */
static json_t *runs_answer(struct tsp_ts_job_run *runs, size_t count)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr != NULL && i < count; i++) {
        tsp_ts_json_append(&arr, tsp_ts_json_job_run(&runs[i]));
    }
    free(runs);
    return tsp_ts_json_list("runs", arr);
}

static enum tsp_code run_job_history(struct tsp_ts_call *c, struct tsp_error *err)
{
    struct tsp_ts_job_run *runs = NULL;
    size_t count = 0;
    enum tsp_code rc = tsp_ts_job_history(c->ts, &c->ctx, c->id, &runs, &count, err);

    c->answer = rc == TSP_OK ? runs_answer(runs, count) : NULL;
    return rc;
}

/* ?since= : a timestamp or an interval (the server checks it). */
static enum tsp_code run_job_errors(struct tsp_ts_call *c, struct tsp_error *err)
{
    char since[TSP_TS_TEXT_MAX];
    struct tsp_ts_job_run *runs = NULL;
    size_t count = 0;
    int n = tsp_query_get(c->req->query, "since", 0, since, sizeof(since));
    enum tsp_code rc = TSP_OK;

    if (tsp_query_repeated(c->req->query, "since")) {
        return tsp_error_set(err, TSP_INVALID, "since",
                             "query parameter 'since' is given more than once");
    }
    if (n == -2 || n == 0) {
        return tsp_error_set(err, TSP_INVALID, "since",
                             "since must be a timestamp (2026-01-01T00:00:00Z) or an interval "
                             "(1 hour) of at most %d characters",
                             TSP_TS_TEXT_MAX - 1);
    }
    rc = tsp_ts_job_errors(c->ts, &c->ctx, n > 0 ? since : NULL, &runs, &count, err);
    c->answer = rc == TSP_OK ? runs_answer(runs, count) : NULL;
    return rc;
}

/* ---- changes ------------------------------------------------------------------------------- */

static enum tsp_code run_compression_set(struct tsp_ts_call *c, struct tsp_error *err)
{
    struct tsp_ts_compression_spec spec;
    enum tsp_code rc = tsp_ts_json_compression_spec(c->body, &spec, err);

    if (rc == TSP_OK) {
        rc = tsp_ts_compression_set(c->ts, &c->ctx, c->name, &spec, &c->change, err);
    }
    return rc;
}

/* POST .../compress and .../decompress: {"older_than", "newer_than"}, at least one. */
static enum tsp_code chunks_compress(struct tsp_ts_call *c, bool compress, struct tsp_error *err)
{
    struct tsp_ts_chunk_filter filter;
    enum tsp_code rc = tsp_ts_json_chunk_selection(c->body, false, &filter, err);

    if (rc == TSP_OK) {
        rc = tsp_ts_chunks_compress(c->ts, &c->ctx, c->name, compress, &filter, &c->change, err);
    }
    return rc;
}

static enum tsp_code run_chunks_compress(struct tsp_ts_call *c, struct tsp_error *err)
{
    return chunks_compress(c, true, err);
}

static enum tsp_code run_chunks_decompress(struct tsp_ts_call *c, struct tsp_error *err)
{
    return chunks_compress(c, false, err);
}

static enum tsp_code run_chunks_drop(struct tsp_ts_call *c, struct tsp_error *err)
{
    struct tsp_ts_chunk_filter filter;
    enum tsp_code rc = tsp_ts_json_chunk_selection(c->body, true, &filter, err);

    if (rc == TSP_OK) {
        rc = tsp_ts_chunks_drop(c->ts, &c->ctx, c->name, &filter, &c->change, err);
    }
    return rc;
}

static enum tsp_code policy_put(struct tsp_ts_call *c, enum tsp_ts_policy_kind kind,
                                struct tsp_error *err)
{
    const char *after_field = kind == TSP_TS_POLICY_RETENTION ? "drop_after" : "compress_after";
    const char *after = NULL;
    const char *schedule = NULL;
    enum tsp_code rc = tsp_ts_json_policy_body(c->body, after_field, &after, &schedule, err);

    if (rc == TSP_OK) {
        rc = tsp_ts_policy_put(c->ts, &c->ctx, c->name, kind, after, schedule, &c->change, err);
    }
    return rc;
}

static enum tsp_code run_compression_policy_put(struct tsp_ts_call *c, struct tsp_error *err)
{
    return policy_put(c, TSP_TS_POLICY_COMPRESSION, err);
}

static enum tsp_code run_retention_policy_put(struct tsp_ts_call *c, struct tsp_error *err)
{
    return policy_put(c, TSP_TS_POLICY_RETENTION, err);
}

static enum tsp_code run_compression_policy_delete(struct tsp_ts_call *c, struct tsp_error *err)
{
    return tsp_ts_policy_delete(c->ts, &c->ctx, c->name, TSP_TS_POLICY_COMPRESSION, &c->change,
                                err);
}

static enum tsp_code run_retention_policy_delete(struct tsp_ts_call *c, struct tsp_error *err)
{
    return tsp_ts_policy_delete(c->ts, &c->ctx, c->name, TSP_TS_POLICY_RETENTION, &c->change, err);
}

static enum tsp_code run_reorder_policy_put(struct tsp_ts_call *c, struct tsp_error *err)
{
    const char *index_name = NULL;
    enum tsp_code rc = tsp_ts_json_reorder_policy(c->body, &index_name, err);

    if (rc == TSP_OK) {
        rc = tsp_ts_policy_put(c->ts, &c->ctx, c->name, TSP_TS_POLICY_REORDER, index_name, NULL,
                               &c->change, err);
    }
    return rc;
}

static enum tsp_code run_reorder_policy_delete(struct tsp_ts_call *c, struct tsp_error *err)
{
    return tsp_ts_policy_delete(c->ts, &c->ctx, c->name, TSP_TS_POLICY_REORDER, &c->change, err);
}

static enum tsp_code run_hypertable_create(struct tsp_ts_call *c, struct tsp_error *err)
{
    char interval[32];
    struct tsp_ts_hypertable_spec spec;
    enum tsp_code rc = tsp_ts_json_hypertable_spec(c->body, interval, sizeof(interval), &spec, err);

    if (rc == TSP_OK) {
        rc = tsp_ts_hypertable_create(c->ts, &c->ctx, &spec, &c->change, err);
    }
    return rc;
}

static enum tsp_code run_hypertable_alter(struct tsp_ts_call *c, struct tsp_error *err)
{
    char interval[32];
    const char *chunk_interval = NULL;
    enum tsp_code rc =
        tsp_ts_json_hypertable_patch(c->body, interval, sizeof(interval), &chunk_interval, err);

    if (rc == TSP_OK) {
        rc = tsp_ts_chunk_interval_set(c->ts, &c->ctx, c->name, chunk_interval, &c->change, err);
    }
    return rc;
}

static enum tsp_code run_aggregate_create(struct tsp_ts_call *c, struct tsp_error *err)
{
    struct tsp_ts_aggregate_spec spec;
    enum tsp_code rc = tsp_ts_json_aggregate_spec(c->body, &spec, err);

    if (rc == TSP_OK) {
        rc = tsp_ts_aggregate_create(c->ts, &c->ctx, &spec, &c->change, err);
    }
    return rc;
}

static enum tsp_code run_aggregate_drop(struct tsp_ts_call *c, struct tsp_error *err)
{
    return tsp_ts_aggregate_drop(c->ts, &c->ctx, c->name, &c->change, err);
}

static enum tsp_code run_aggregate_policy_put(struct tsp_ts_call *c, struct tsp_error *err)
{
    const char *start_offset = NULL;
    const char *end_offset = NULL;
    const char *schedule = NULL;
    enum tsp_code rc =
        tsp_ts_json_aggregate_policy(c->body, &start_offset, &end_offset, &schedule, err);

    if (rc == TSP_OK) {
        rc = tsp_ts_aggregate_policy_put(c->ts, &c->ctx, c->name, start_offset, end_offset,
                                         schedule, &c->change, err);
    }
    return rc;
}

static enum tsp_code run_aggregate_policy_delete(struct tsp_ts_call *c, struct tsp_error *err)
{
    return tsp_ts_aggregate_policy_delete(c->ts, &c->ctx, c->name, &c->change, err);
}

static enum tsp_code run_aggregate_refresh(struct tsp_ts_call *c, struct tsp_error *err)
{
    const char *start = NULL;
    const char *end = NULL;
    enum tsp_code rc = tsp_ts_json_refresh_window(c->body, &start, &end, err);

    if (rc == TSP_OK) {
        rc = tsp_ts_aggregate_refresh(c->ts, &c->ctx, c->name, start, end, &c->change, err);
    }
    return rc;
}

static enum tsp_code run_job_run(struct tsp_ts_call *c, struct tsp_error *err)
{
    return tsp_ts_job_run(c->ts, &c->ctx, c->id, &c->change, err);
}

static enum tsp_code run_job_alter(struct tsp_ts_call *c, struct tsp_error *err)
{
    const char *schedule = NULL;
    int scheduled = -1;
    enum tsp_code rc = tsp_ts_json_job_patch(c->body, &schedule, &scheduled, err);

    if (rc == TSP_OK) {
        rc = tsp_ts_job_alter(c->ts, &c->ctx, c->id, schedule, scheduled, &c->change, err);
    }
    return rc;
}

/* ---- the table ----------------------------------------------------------------------------- */

#define READ(id, fn)                                                                               \
    {                                                                                              \
        id, false, false, false, TSP_TS_FEATURE_NONE, 200, fn                                      \
    }
#define READ_JOB(id, fn)                                                                           \
    {                                                                                              \
        id, false, true, false, TSP_TS_FEATURE_NONE, 200, fn                                       \
    }
#define CHANGE(id, fn)                                                                             \
    {                                                                                              \
        id, true, false, false, TSP_TS_FEATURE_NONE, 200, fn                                       \
    }
#define CHANGE_JOB(id, fn)                                                                         \
    {                                                                                              \
        id, true, true, false, TSP_TS_FEATURE_NONE, 200, fn                                        \
    }
#define BODY(id, feat, st, fn)                                                                     \
    {                                                                                              \
        id, true, false, true, feat, st, fn                                                        \
    }

/* {operationId, change, job_id, body, feature, status, run}; operationIds as in router.c. */
static const struct tsp_ts_operation operations[] = {
    READ("getTimescaledb", run_caps),
    READ("listHypertables", run_hypertables_list),
    READ("getHypertable", run_hypertable_get),
    BODY("createHypertable", TSP_TS_FEATURE_EXTENSION, 201, run_hypertable_create),
    BODY("alterHypertable", TSP_TS_FEATURE_EXTENSION, 200, run_hypertable_alter),
    READ("listChunks", run_chunks_list),
    BODY("setCompression", TSP_TS_FEATURE_COMPRESSION, 200, run_compression_set),
    BODY("compressChunks", TSP_TS_FEATURE_COMPRESSION, 200, run_chunks_compress),
    BODY("decompressChunks", TSP_TS_FEATURE_COMPRESSION, 200, run_chunks_decompress),
    BODY("dropChunks", TSP_TS_FEATURE_EXTENSION, 200, run_chunks_drop),
    READ("getCompressionPolicy", run_compression_policy_get),
    BODY("putCompressionPolicy", TSP_TS_FEATURE_COMPRESSION, 200, run_compression_policy_put),
    CHANGE("deleteCompressionPolicy", run_compression_policy_delete),
    READ("getRetentionPolicy", run_retention_policy_get),
    BODY("putRetentionPolicy", TSP_TS_FEATURE_RETENTION, 200, run_retention_policy_put),
    CHANGE("deleteRetentionPolicy", run_retention_policy_delete),
    READ("getReorderPolicy", run_reorder_policy_get),
    BODY("putReorderPolicy", TSP_TS_FEATURE_JOBS, 200, run_reorder_policy_put),
    CHANGE("deleteReorderPolicy", run_reorder_policy_delete),
    READ("listAggregates", run_aggregates_list),
    BODY("createAggregate", TSP_TS_FEATURE_AGGREGATES, 201, run_aggregate_create),
    READ("getAggregate", run_aggregate_get),
    CHANGE("dropAggregate", run_aggregate_drop),
    BODY("putAggregatePolicy", TSP_TS_FEATURE_AGGREGATES, 200, run_aggregate_policy_put),
    CHANGE("deleteAggregatePolicy", run_aggregate_policy_delete),
    BODY("refreshAggregate", TSP_TS_FEATURE_AGGREGATES, 200, run_aggregate_refresh),
    READ("listJobs", run_jobs_list),
    READ_JOB("getJob", run_job_get),
    READ_JOB("getJobHistory", run_job_history),
    READ("listJobErrors", run_job_errors),
    CHANGE_JOB("runJob", run_job_run),
    {"alterJob", true, true, true, TSP_TS_FEATURE_JOBS, 200, run_job_alter},
};

#undef READ
#undef READ_JOB
#undef CHANGE
#undef CHANGE_JOB
#undef BODY

const struct tsp_ts_operation *tsp_ts_operation_find(const char *operation_id)
{
    if (operation_id == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < sizeof(operations) / sizeof(operations[0]); i++) {
        if (strcmp(operations[i].operation_id, operation_id) == 0) {
            return &operations[i];
        }
    }
    return NULL;
}
