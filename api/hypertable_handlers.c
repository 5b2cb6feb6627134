/* hypertable_handlers.c - GET /timescaledb and /hypertables/...: hypertables, chunks,
 * compression settings, compress/decompress, compression and retention policies, drop-chunks.
 * SPDX-License-Identifier: MIT
 */
#include "ts_handlers_int.h"

#include <stdlib.h>
#include <string.h>

enum tsp_code tsp_ts_h_ctx(struct tsp_req *req, bool change, struct tsp_ts_ctx *out,
                           struct tsp_error *err)
{
    struct tsp_ts_ctx ctx;
    bool dry_run = false;
    bool if_not_exists = false;

    enum tsp_code rc;

    memset(&ctx, 0, sizeof(ctx));
    rc = tsp_query_bool(req->query, "dry_run", &dry_run, err);
    if (rc == TSP_OK) {
        rc = tsp_query_bool(req->query, "if_not_exists", &if_not_exists, err);
    }
    if (rc != TSP_OK) {
        return rc;
    }
    ctx.request_id = req->request_id;
    ctx.role = change ? "admin" : "read";
    ctx.dry_run = change && dry_run;
    ctx.if_not_exists = if_not_exists;
    *out = ctx;
    return TSP_OK;
}

int tsp_ts_h_send(struct tsp_req *req, json_t *json)
{
    int status;

    if (json == NULL) {
        return tsp_problem_sendf(req, TSP_NO_MEMORY, NULL, "out of memory rendering the answer");
    }
    status = tsp_respond_json(req, 200, json);
    json_decref(json);
    return status;
}

void tsp_ts_h_append(json_t **arr, json_t *item)
{
    if (*arr == NULL) {
        json_decref(item);
        return;
    }
    if (json_array_append_new(*arr, item) != 0) {
        json_decref(*arr);
        *arr = NULL;
    }
}

int tsp_ts_h_send_list(struct tsp_req *req, const char *key, json_t *arr)
{
    return tsp_ts_h_send(req, arr != NULL ? json_pack("{s:o}", key, arr) : NULL);
}

int tsp_ts_h_send_change(struct tsp_req *req, int status, const struct tsp_ts_change *change)
{
    json_t *doc = tsp_ts_json_change(change);
    int sent;

    if (doc == NULL) {
        return tsp_problem_sendf(req, TSP_NO_MEMORY, NULL, "out of memory rendering the change");
    }
    sent = tsp_respond_json(req, change->dry_run ? 200 : status, doc);
    json_decref(doc);
    return sent;
}

int tsp_ts_h_body(struct tsp_req *req, enum tsp_ts_feature feature, json_t **out)
{
    struct tsp_error err;
    struct tsp_error missing;
    enum tsp_code rc;

    tsp_error_init(&err);
    rc = tsp_req_read_json(req, out, &err);
    if (rc == TSP_OK) {
        return 0;
    }
    tsp_error_init(&missing);
    if (tsp_ts_require(req->api->ts, NULL, feature, &missing) == TSP_CONFLICT) {
        return tsp_problem_send(req, &missing, NULL);
    }
    return tsp_problem_send(req, &err, NULL);
}

int tsp_h_timescaledb(struct tsp_req *req)
{
    struct tsp_ts_caps caps;
    struct tsp_ts_ctx ctx;
    struct tsp_error err;

    enum tsp_code rc;

    tsp_error_init(&err);
    rc = tsp_ts_h_ctx(req, false, &ctx, &err);
    if (rc == TSP_OK) {
        rc = tsp_ts_caps_get(req->api->ts, &ctx, &caps, &err);
    }
    if (rc != TSP_OK) {
        return tsp_problem_send(req, &err, NULL);
    }
    return tsp_ts_h_send(req, tsp_ts_json_caps(&caps));
}

int tsp_h_hypertables_list(struct tsp_req *req)
{
    struct tsp_hypertable *list = NULL;
    struct tsp_ts_ctx ctx;
    struct tsp_error err;
    json_t *arr = NULL;
    size_t count = 0;
    int status;

    enum tsp_code rc;

    tsp_error_init(&err);
    rc = tsp_ts_h_ctx(req, false, &ctx, &err);
    if (rc == TSP_OK) {
        rc = tsp_ts_hypertables_list(req->api->ts, &ctx, &list, &count, &err);
    }
    if (rc != TSP_OK) {
        return tsp_problem_send(req, &err, NULL);
    }
    arr = json_array();
    for (size_t i = 0; i < count; i++) {
        tsp_ts_h_append(&arr, tsp_ts_json_hypertable(&list[i], false));
    }
    free(list);
    status = tsp_ts_h_send_list(req, "hypertables", arr);
    return status;
}

int tsp_h_hypertable_get(struct tsp_req *req)
{
    struct tsp_hypertable *h = NULL;
    struct tsp_ts_ctx ctx;
    struct tsp_error err;
    int status;
    enum tsp_code rc;

    tsp_error_init(&err);
    h = calloc(1, sizeof(*h));
    if (h == NULL) {
        return tsp_problem_sendf(req, TSP_NO_MEMORY, NULL, "out of memory");
    }
    rc = tsp_ts_h_ctx(req, false, &ctx, &err);
    if (rc == TSP_OK) {
        rc = tsp_ts_hypertable_get(req->api->ts, &ctx, tsp_req_param(req, "name"), h, &err);
    }
    status = rc == TSP_OK ? tsp_ts_h_send(req, tsp_ts_json_hypertable(h, true))
                          : tsp_problem_send(req, &err, NULL);
    free(h);
    return status;
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

int tsp_h_chunks_list(struct tsp_req *req)
{
    char bufs[2][TSP_TS_TEXT_MAX];
    struct tsp_ts_chunk_filter filter;
    struct tsp_ts_chunk *chunks = NULL;
    struct tsp_ts_ctx ctx;
    struct tsp_error err;
    json_t *arr = NULL;
    size_t count = 0;

    enum tsp_code rc;

    tsp_error_init(&err);
    rc = tsp_ts_h_ctx(req, false, &ctx, &err);
    if (rc == TSP_OK) {
        rc = chunk_query(req, bufs, &filter, &err);
    }
    if (rc == TSP_OK) {
        rc = tsp_ts_chunks_list(req->api->ts, &ctx, tsp_req_param(req, "name"), &filter, &chunks,
                                &count, &err);
    }
    if (rc != TSP_OK) {
        return tsp_problem_send(req, &err, NULL);
    }
    arr = json_array();
    for (size_t i = 0; i < count; i++) {
        tsp_ts_h_append(&arr, tsp_ts_json_chunk(&chunks[i]));
    }
    free(chunks);
    return tsp_ts_h_send_list(req, "chunks", arr);
}

int tsp_h_compression_put(struct tsp_req *req)
{
    struct tsp_ts_compression_spec spec;
    struct tsp_ts_change change = {0};
    struct tsp_ts_ctx ctx;
    struct tsp_error err;
    json_t *body = NULL;
    int status;
    enum tsp_code rc;

    tsp_error_init(&err);
    status = tsp_ts_h_body(req, TSP_TS_FEATURE_COMPRESSION, &body);
    if (status != 0) {
        return status;
    }
    rc = tsp_ts_h_ctx(req, true, &ctx, &err);
    if (rc == TSP_OK) {
        rc = tsp_ts_json_compression_spec(body, &spec, &err);
    }
    if (rc == TSP_OK) {
        rc = tsp_ts_compression_set(req->api->ts, &ctx, tsp_req_param(req, "name"), &spec, &change,
                                    &err);
    }
    status =
        rc == TSP_OK ? tsp_ts_h_send_change(req, 200, &change) : tsp_problem_send(req, &err, NULL);
    tsp_ts_change_fini(&change);
    json_decref(body);
    return status;
}

/* POST .../compress, .../decompress and .../drop-chunks share one shape. */
static int chunks_change(struct tsp_req *req, int which)
{
    struct tsp_ts_chunk_filter filter;
    struct tsp_ts_change change = {0};
    struct tsp_ts_ctx ctx;
    struct tsp_error err;
    const char *name = tsp_req_param(req, "name");
    json_t *body = NULL;
    int status;
    enum tsp_code rc;

    tsp_error_init(&err);
    status = tsp_ts_h_body(req, which == 2 ? TSP_TS_FEATURE_EXTENSION : TSP_TS_FEATURE_COMPRESSION,
                           &body);
    if (status != 0) {
        return status;
    }
    rc = tsp_ts_h_ctx(req, true, &ctx, &err);
    if (rc == TSP_OK) {
        rc = tsp_ts_json_chunk_selection(body, which == 2, &filter, &err);
    }
    if (rc == TSP_OK && which == 2) {
        rc = tsp_ts_chunks_drop(req->api->ts, &ctx, name, &filter, &change, &err);
    } else if (rc == TSP_OK) {
        rc = tsp_ts_chunks_compress(req->api->ts, &ctx, name, which == 0, &filter, &change, &err);
    }
    status =
        rc == TSP_OK ? tsp_ts_h_send_change(req, 200, &change) : tsp_problem_send(req, &err, NULL);
    tsp_ts_change_fini(&change);
    json_decref(body);
    return status;
}

int tsp_h_chunks_compress(struct tsp_req *req)
{
    return chunks_change(req, 0);
}

int tsp_h_chunks_decompress(struct tsp_req *req)
{
    return chunks_change(req, 1);
}

int tsp_h_chunks_drop(struct tsp_req *req)
{
    return chunks_change(req, 2);
}

static int policy_get(struct tsp_req *req, enum tsp_ts_policy_kind kind)
{
    struct tsp_ts_policy policy;
    struct tsp_ts_ctx ctx;
    struct tsp_error err;

    enum tsp_code rc;

    tsp_error_init(&err);
    rc = tsp_ts_h_ctx(req, false, &ctx, &err);
    if (rc == TSP_OK) {
        rc = tsp_ts_policy_get(req->api->ts, &ctx, tsp_req_param(req, "name"), kind, &policy, &err);
    }
    if (rc != TSP_OK) {
        return tsp_problem_send(req, &err, NULL);
    }
    return tsp_ts_h_send(req, tsp_ts_json_policy(&policy));
}

static int policy_put(struct tsp_req *req, enum tsp_ts_policy_kind kind)
{
    const char *after_field = kind == TSP_TS_POLICY_RETENTION ? "drop_after" : "compress_after";
    const char *after = NULL;
    const char *schedule = NULL;
    struct tsp_ts_change change = {0};
    struct tsp_ts_ctx ctx;
    struct tsp_error err;
    json_t *body = NULL;
    int status;
    enum tsp_code rc;

    tsp_error_init(&err);
    status = tsp_ts_h_body(req,
                           kind == TSP_TS_POLICY_RETENTION ? TSP_TS_FEATURE_RETENTION
                                                           : TSP_TS_FEATURE_COMPRESSION,
                           &body);
    if (status != 0) {
        return status;
    }
    rc = tsp_ts_h_ctx(req, true, &ctx, &err);
    if (rc == TSP_OK) {
        rc = tsp_ts_json_policy_body(body, after_field, &after, &schedule, &err);
    }
    if (rc == TSP_OK) {
        rc = tsp_ts_policy_put(req->api->ts, &ctx, tsp_req_param(req, "name"), kind, after,
                               schedule, &change, &err);
    }
    status =
        rc == TSP_OK ? tsp_ts_h_send_change(req, 200, &change) : tsp_problem_send(req, &err, NULL);
    tsp_ts_change_fini(&change);
    json_decref(body);
    return status;
}

static int policy_delete(struct tsp_req *req, enum tsp_ts_policy_kind kind)
{
    struct tsp_ts_change change = {0};
    struct tsp_ts_ctx ctx;
    struct tsp_error err;
    int status;

    enum tsp_code rc;

    tsp_error_init(&err);
    rc = tsp_ts_h_ctx(req, true, &ctx, &err);
    if (rc == TSP_OK) {
        rc = tsp_ts_policy_delete(req->api->ts, &ctx, tsp_req_param(req, "name"), kind, &change,
                                  &err);
    }
    status =
        rc == TSP_OK ? tsp_ts_h_send_change(req, 200, &change) : tsp_problem_send(req, &err, NULL);
    tsp_ts_change_fini(&change);
    return status;
}

int tsp_h_compression_policy_get(struct tsp_req *req)
{
    return policy_get(req, TSP_TS_POLICY_COMPRESSION);
}

int tsp_h_compression_policy_put(struct tsp_req *req)
{
    return policy_put(req, TSP_TS_POLICY_COMPRESSION);
}

int tsp_h_compression_policy_delete(struct tsp_req *req)
{
    return policy_delete(req, TSP_TS_POLICY_COMPRESSION);
}

int tsp_h_retention_policy_get(struct tsp_req *req)
{
    return policy_get(req, TSP_TS_POLICY_RETENTION);
}

int tsp_h_retention_policy_put(struct tsp_req *req)
{
    return policy_put(req, TSP_TS_POLICY_RETENTION);
}

int tsp_h_retention_policy_delete(struct tsp_req *req)
{
    return policy_delete(req, TSP_TS_POLICY_RETENTION);
}
