/* job_handlers.c - /jobs/...: list with job_stats, show, run now, and PATCH schedule /
 * scheduled.
 * SPDX-License-Identifier: MIT
 */
#include "ts_handlers_int.h"

#include <errno.h>
#include <stdlib.h>

/* The {id} path parameter: 0..2147483647. */
static enum tsp_code job_id(struct tsp_req *req, long long *out, struct tsp_error *err)
{
    const char *text = tsp_req_param(req, "id");
    char *end = NULL;
    long long id;

    errno = 0;
    id = text != NULL ? strtoll(text, &end, 10) : -1;
    if (text == NULL || end == text || *end != '\0' || errno != 0 || id < 0 || id > 2147483647LL) {
        return tsp_error_set(err, TSP_INVALID, "id",
                             "job id must be an integer between 0 and "
                             "2147483647");
    }
    *out = id;
    return TSP_OK;
}

int tsp_h_jobs_list(struct tsp_req *req)
{
    struct tsp_ts_job *list = NULL;
    struct tsp_ts_ctx ctx;
    struct tsp_error err;
    json_t *arr = NULL;
    size_t count = 0;
    enum tsp_code rc;

    tsp_error_init(&err);
    rc = tsp_ts_h_ctx(req, false, &ctx, &err);
    if (rc == TSP_OK) {
        rc = tsp_ts_jobs_list(req->api->ts, &ctx, &list, &count, &err);
    }
    if (rc != TSP_OK) {
        return tsp_problem_send(req, &err, NULL);
    }
    arr = json_array();
    for (size_t i = 0; i < count; i++) {
        tsp_ts_h_append(&arr, tsp_ts_json_job(&list[i]));
    }
    free(list);
    return tsp_ts_h_send_list(req, "jobs", arr);
}

int tsp_h_job_get(struct tsp_req *req)
{
    struct tsp_ts_job job;
    struct tsp_ts_ctx ctx;
    struct tsp_error err;
    long long id = 0;
    enum tsp_code rc;

    tsp_error_init(&err);
    rc = job_id(req, &id, &err);
    if (rc == TSP_OK) {
        rc = tsp_ts_h_ctx(req, false, &ctx, &err);
    }
    if (rc == TSP_OK) {
        rc = tsp_ts_job_get(req->api->ts, &ctx, id, &job, &err);
    }
    if (rc != TSP_OK) {
        return tsp_problem_send(req, &err, NULL);
    }
    return tsp_ts_h_send(req, tsp_ts_json_job(&job));
}

int tsp_h_job_run(struct tsp_req *req)
{
    struct tsp_ts_change change = {0};
    struct tsp_ts_ctx ctx;
    struct tsp_error err;
    long long id = 0;
    int status;
    enum tsp_code rc;

    tsp_error_init(&err);
    rc = job_id(req, &id, &err);
    if (rc == TSP_OK) {
        rc = tsp_ts_h_ctx(req, true, &ctx, &err);
    }
    if (rc == TSP_OK) {
        rc = tsp_ts_job_run(req->api->ts, &ctx, id, &change, &err);
    }
    status =
        rc == TSP_OK ? tsp_ts_h_send_change(req, 200, &change) : tsp_problem_send(req, &err, NULL);
    tsp_ts_change_fini(&change);
    return status;
}

int tsp_h_job_patch(struct tsp_req *req)
{
    const char *schedule = NULL;
    int scheduled = -1;
    struct tsp_ts_change change = {0};
    struct tsp_ts_ctx ctx;
    struct tsp_error err;
    json_t *body = NULL;
    long long id = 0;
    int status;
    enum tsp_code rc;

    tsp_error_init(&err);
    rc = job_id(req, &id, &err);
    if (rc != TSP_OK) {
        return tsp_problem_send(req, &err, NULL);
    }
    status = tsp_ts_h_body(req, TSP_TS_FEATURE_JOBS, &body);
    if (status != 0) {
        return status;
    }
    rc = tsp_ts_h_ctx(req, true, &ctx, &err);
    if (rc == TSP_OK) {
        rc = tsp_ts_json_job_patch(body, &schedule, &scheduled, &err);
    }
    if (rc == TSP_OK) {
        rc = tsp_ts_job_alter(req->api->ts, &ctx, id, schedule, scheduled, &change, &err);
    }
    status =
        rc == TSP_OK ? tsp_ts_h_send_change(req, 200, &change) : tsp_problem_send(req, &err, NULL);
    tsp_ts_change_fini(&change);
    json_decref(body);
    return status;
}
