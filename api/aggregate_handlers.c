/* aggregate_handlers.c - /aggregates/...: list, show, create, drop, refresh policy and
 * refresh of continuous aggregates.
 * SPDX-License-Identifier: MIT
 */
#include "ts_handlers_int.h"

#include <stdlib.h>

int tsp_h_aggregates_list(struct tsp_req *req)
{
    struct tsp_ts_aggregate *list = NULL;
    struct tsp_ts_ctx ctx;
    struct tsp_error err;
    json_t *arr = NULL;
    size_t count = 0;
    enum tsp_code rc;

    tsp_error_init(&err);
    rc = tsp_ts_h_ctx(req, false, &ctx, &err);
    if (rc == TSP_OK) {
        rc = tsp_ts_aggregates_list(req->api->ts, &ctx, &list, &count, &err);
    }
    if (rc != TSP_OK) {
        return tsp_problem_send(req, &err, NULL);
    }
    arr = json_array();
    for (size_t i = 0; i < count; i++) {
        tsp_ts_h_append(&arr, tsp_ts_json_aggregate(&list[i]));
    }
    free(list);
    return tsp_ts_h_send_list(req, "aggregates", arr);
}

int tsp_h_aggregate_get(struct tsp_req *req)
{
    struct tsp_ts_aggregate agg;
    struct tsp_ts_ctx ctx;
    struct tsp_error err;
    enum tsp_code rc;

    tsp_error_init(&err);
    rc = tsp_ts_h_ctx(req, false, &ctx, &err);
    if (rc == TSP_OK) {
        rc = tsp_ts_aggregate_get(req->api->ts, &ctx, tsp_req_param(req, "name"), &agg, &err);
    }
    if (rc != TSP_OK) {
        return tsp_problem_send(req, &err, NULL);
    }
    return tsp_ts_h_send(req, tsp_ts_json_aggregate(&agg));
}

int tsp_h_aggregate_create(struct tsp_req *req)
{
    struct tsp_ts_aggregate_spec spec;
    struct tsp_ts_change change = {0};
    struct tsp_ts_ctx ctx;
    struct tsp_error err;
    json_t *body = NULL;
    int status;
    enum tsp_code rc;

    tsp_error_init(&err);
    status = tsp_ts_h_body(req, TSP_TS_FEATURE_AGGREGATES, &body);
    if (status != 0) {
        return status;
    }
    rc = tsp_ts_h_ctx(req, true, &ctx, &err);
    if (rc == TSP_OK) {
        rc = tsp_ts_json_aggregate_spec(body, &spec, &err);
    }
    if (rc == TSP_OK) {
        rc = tsp_ts_aggregate_create(req->api->ts, &ctx, &spec, &change, &err);
    }
    status =
        rc == TSP_OK ? tsp_ts_h_send_change(req, 201, &change) : tsp_problem_send(req, &err, NULL);
    tsp_ts_change_fini(&change);
    json_decref(body);
    return status;
}

int tsp_h_aggregate_drop(struct tsp_req *req)
{
    struct tsp_ts_change change = {0};
    struct tsp_ts_ctx ctx;
    struct tsp_error err;
    int status;
    enum tsp_code rc;

    tsp_error_init(&err);
    rc = tsp_ts_h_ctx(req, true, &ctx, &err);
    if (rc == TSP_OK) {
        rc = tsp_ts_aggregate_drop(req->api->ts, &ctx, tsp_req_param(req, "name"), &change, &err);
    }
    status =
        rc == TSP_OK ? tsp_ts_h_send_change(req, 200, &change) : tsp_problem_send(req, &err, NULL);
    tsp_ts_change_fini(&change);
    return status;
}

int tsp_h_aggregate_policy_put(struct tsp_req *req)
{
    const char *start_offset = NULL;
    const char *end_offset = NULL;
    const char *schedule = NULL;
    struct tsp_ts_change change = {0};
    struct tsp_ts_ctx ctx;
    struct tsp_error err;
    json_t *body = NULL;
    int status;
    enum tsp_code rc;

    tsp_error_init(&err);
    status = tsp_ts_h_body(req, TSP_TS_FEATURE_AGGREGATES, &body);
    if (status != 0) {
        return status;
    }
    rc = tsp_ts_h_ctx(req, true, &ctx, &err);
    if (rc == TSP_OK) {
        rc = tsp_ts_json_aggregate_policy(body, &start_offset, &end_offset, &schedule, &err);
    }
    if (rc == TSP_OK) {
        rc = tsp_ts_aggregate_policy_put(req->api->ts, &ctx, tsp_req_param(req, "name"),
                                         start_offset, end_offset, schedule, &change, &err);
    }
    status =
        rc == TSP_OK ? tsp_ts_h_send_change(req, 200, &change) : tsp_problem_send(req, &err, NULL);
    tsp_ts_change_fini(&change);
    json_decref(body);
    return status;
}

int tsp_h_aggregate_policy_delete(struct tsp_req *req)
{
    struct tsp_ts_change change = {0};
    struct tsp_ts_ctx ctx;
    struct tsp_error err;
    int status;
    enum tsp_code rc;

    tsp_error_init(&err);
    rc = tsp_ts_h_ctx(req, true, &ctx, &err);
    if (rc == TSP_OK) {
        rc = tsp_ts_aggregate_policy_delete(req->api->ts, &ctx, tsp_req_param(req, "name"), &change,
                                            &err);
    }
    status =
        rc == TSP_OK ? tsp_ts_h_send_change(req, 200, &change) : tsp_problem_send(req, &err, NULL);
    tsp_ts_change_fini(&change);
    return status;
}

int tsp_h_aggregate_refresh(struct tsp_req *req)
{
    const char *start = NULL;
    const char *end = NULL;
    struct tsp_ts_change change = {0};
    struct tsp_ts_ctx ctx;
    struct tsp_error err;
    json_t *body = NULL;
    int status;
    enum tsp_code rc;

    tsp_error_init(&err);
    status = tsp_ts_h_body(req, TSP_TS_FEATURE_AGGREGATES, &body);
    if (status != 0) {
        return status;
    }
    rc = tsp_ts_h_ctx(req, true, &ctx, &err);
    if (rc == TSP_OK) {
        rc = tsp_ts_json_refresh_window(body, &start, &end, &err);
    }
    if (rc == TSP_OK) {
        rc = tsp_ts_aggregate_refresh(req->api->ts, &ctx, tsp_req_param(req, "name"), start, end,
                                      &change, &err);
    }
    status =
        rc == TSP_OK ? tsp_ts_h_send_change(req, 200, &change) : tsp_problem_send(req, &err, NULL);
    tsp_ts_change_fini(&change);
    json_decref(body);
    return status;
}
