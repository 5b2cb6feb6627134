/* api/ts_handlers.c - the one handler of every TimescaleDB route: find the operation's row, read
 * {id}, body and context, run the row's service call, answer its rendering or change document.
 * SPDX-License-Identifier: MIT
 */
#include "ts_handlers_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The {id} path parameter: 0..2147483647. */
static enum tsp_code job_id(struct tsp_req *req, long long *out, struct tsp_error *err)
{
    const char *text = tsp_req_param(req, "id");
    char *end = NULL;
    long long id = -1;

    errno = 0;
    if (text != NULL) {
        id = strtoll(text, &end, 10);
    }
    if (text == NULL || end == text || *end != '\0' || errno != 0 || id < 0 || id > 2147483647LL) {
        return tsp_error_set(err, TSP_INVALID, "id",
                             "job id must be an integer between 0 and 2147483647");
    }
    *out = id;
    return TSP_OK;
}

/* The service context of a request: request id, role (admin for changes), and the
 * ?dry_run / ?if_not_exists flags. TSP_INVALID names a bad flag. */
static enum tsp_code call_ctx(struct tsp_req *req, bool change, struct tsp_ts_ctx *out,
                              struct tsp_error *err)
{
    bool dry_run = false;
    bool if_not_exists = false;
    enum tsp_code rc = tsp_query_bool(req->query, "dry_run", &dry_run, err);

    if (rc == TSP_OK) {
        rc = tsp_query_bool(req->query, "if_not_exists", &if_not_exists, err);
    }
    if (rc != TSP_OK) {
        return rc;
    }
    memset(out, 0, sizeof(*out));
    out->request_id = req->request_id;
    out->role = change ? "admin" : "read";
    out->dry_run = change && dry_run;
    out->replica_ok = !change;
    out->if_not_exists = if_not_exists;
    return TSP_OK;
}

/* Read the JSON body: returns 0 and *out, or the status sent. A body that cannot be read is
 * answered 415/413/400, unless the database lacks `feature`: then 409 says what is missing,
 * as it would for a good body. */
static int read_body(struct tsp_req *req, enum tsp_ts_feature feature, json_t **out)
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

/* A change document: 200, or the row's status (201 for a creation) unless it was a dry run. */
static int send_change(struct tsp_req *req, int status, const struct tsp_ts_change *change)
{
    json_t *doc = tsp_ts_json_change(change);
    int sent = 0;

    if (doc == NULL) {
        return tsp_problem_sendf(req, TSP_NO_MEMORY, NULL, "out of memory rendering the change");
    }
    sent = tsp_respond_json(req, change->dry_run ? 200 : status, doc);
    json_decref(doc);
    return sent;
}

/* A read's answer with the server that gave it: the X-Tspool-Server header always, and a
 * "server" member in the documents that carry metadata (the listings and /timescaledb). */
static int send_read(struct tsp_req *req, const struct tsp_ts_operation *op, json_t *answer,
                     const char *served_by)
{
    char headers[TSP_TS_SERVER_MAX + 32];
    bool listing = strncmp(op->operation_id, "list", 4) == 0 ||
                   strcmp(op->operation_id, "getTimescaledb") == 0 ||
                   strcmp(op->operation_id, "getJobHistory") == 0;

    if (served_by[0] == '\0') {
        return tsp_respond_json(req, 200, answer);
    }
    if (listing && json_is_object(answer)) {
        (void)json_object_set_new(answer, "server", json_string(served_by));
    }
    snprintf(headers, sizeof(headers), "X-Tspool-Server: %s\r\n", served_by);
    return tsp_respond_json_headers(req, 200, answer, headers);
}

int tsp_h_timescale(struct tsp_req *req)
{
    const struct tsp_ts_operation *op =
        tsp_ts_operation_find(req->route != NULL ? req->route->operation_id : NULL);
    struct tsp_ts_call call;
    struct tsp_error err;
    char served_by[TSP_TS_SERVER_MAX] = "";
    json_t *body = NULL;
    int status = 0;
    enum tsp_code rc = TSP_OK;

    memset(&call, 0, sizeof(call));
    tsp_error_init(&err);
    if (op == NULL) {
        return tsp_problem_sendf(req, TSP_INTERNAL, NULL, "no TimescaleDB operation for %s",
                                 req->path);
    }
    call.req = req;
    call.ts = req->api->ts;
    call.name = tsp_req_param(req, "name");
    if (op->job_id) {
        rc = job_id(req, &call.id, &err);
    }
    if (rc == TSP_OK && op->body) {
        status = read_body(req, op->feature, &body);
        if (status != 0) {
            goto done;
        }
        call.body = body;
    }
    if (rc == TSP_OK) {
        rc = call_ctx(req, op->change, &call.ctx, &err);
        call.ctx.served_by = served_by;
        call.ctx.served_by_size = sizeof(served_by);
    }
    if (rc == TSP_OK) {
        rc = op->run(&call, &err);
    }
    if (rc != TSP_OK) {
        status = tsp_problem_send(req, &err, NULL);
    } else if (op->change) {
        status = send_change(req, op->status, &call.change);
    } else if (call.answer == NULL) {
        status = tsp_problem_sendf(req, TSP_NO_MEMORY, NULL, "out of memory rendering the answer");
    } else {
        status = send_read(req, op, call.answer, served_by);
    }
done:
    json_decref(call.answer);
    tsp_ts_change_fini(&call.change);
    json_decref(body);
    return status;
}
