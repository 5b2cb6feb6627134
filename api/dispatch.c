/* api/dispatch.c - one request from CivetWeb to a handler: request id, keep-alive fairness,
 * routing (404/405), authorization, then metrics and the access log line.
 * SPDX-License-Identifier: MIT
 */
#include "api_int.h"

#include <civetweb.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "tspool/clock.h"
#include "tspool/log.h"

/* CivetWeb 1.15 ties a worker thread to a keep-alive connection for as long as the client
 * keeps sending, and connections beyond the worker count wait in the queue unserved. So a
 * connection is closed after REQUESTS_PER_CONNECTION requests in any case, and after
 * BUSY_REQUESTS_PER_CONNECTION while every worker holds a connection (others may be queued):
 * queued probes and scrapes get a worker within a bounded number of requests, while a
 * deployment with more threads than clients keeps full keep-alive speed. */
#define REQUESTS_PER_CONNECTION      1000
#define BUSY_REQUESTS_PER_CONNECTION 32

/* Decide whether this response ends the connection: the client asked, the connection has
 * served its share, or every worker is held by a connection (others may be queued). */
static void keep_alive_policy(struct tsp_req *req, const struct mg_request_info *info)
{
    const char *connection = tsp_req_header(req, "Connection");
    /* conn_data is 1 + the requests served (server.c sets 1 when the connection is set up) */
    uintptr_t served = info->conn_data != NULL ? (uintptr_t)info->conn_data - 1 : 0;
    int active = req->api->active_connections != NULL
                     ? atomic_load_explicit(req->api->active_connections, memory_order_relaxed)
                     : 0;

    mg_set_user_connection_data(req->conn, (void *)(served + 2));
    if (req->api->cfg != NULL && req->api->cfg->http_keep_alive_ms <= 0) {
        req->close_connection = true; /* keep-alive is off: say so rather than just hang up */
    }
    if (connection != NULL && strcasecmp(connection, "close") == 0) {
        req->close_connection = true;
    }
    if (info->http_version != NULL && strcmp(info->http_version, "1.0") == 0) {
        req->keep_alive_10 = connection != NULL && strcasecmp(connection, "keep-alive") == 0;
        if (!req->keep_alive_10) {
            req->close_connection = true;
        }
    }
    if (served + 1 >= REQUESTS_PER_CONNECTION) {
        req->close_connection = true;
    }
    if (req->api->http_threads > 0 && active >= req->api->http_threads &&
        served + 1 >= BUSY_REQUESTS_PER_CONNECTION) {
        req->close_connection = true;
    }
}

/* Admission of a request that waits on the database: at most db_max_inflight at once, so that
 * a paused pool or a frozen database can hold only that many workers; the rest stay free for
 * probes, /metrics and pool control. *admitted tells the caller to release the slot. */
static bool admit(const struct tsp_api *api, bool *admitted)
{
    int now = 0;

    if (api->db_inflight == NULL || api->db_max_inflight <= 0) {
        return true;
    }
    now = atomic_fetch_add_explicit(api->db_inflight, 1, memory_order_relaxed) + 1;
    if (now > api->db_max_inflight) {
        atomic_fetch_sub_explicit(api->db_inflight, 1, memory_order_relaxed);
        return false;
    }
    *admitted = true;
    return true;
}

static int refuse_db(struct tsp_req *req)
{
    struct tsp_error err;

    tsp_error_init(&err);
    (void)tsp_error_set(&err, TSP_POOL_EXHAUSTED, NULL,
                        "%d requests are already waiting for the database "
                        "(TSPOOL_HTTP_DB_MAX_INFLIGHT); retry later",
                        req->api->db_max_inflight);
    err.retry_after_s = 1;
    /* give the worker back at once: a refused client reconnects at the back of the queue
     * instead of holding the worker for its next keep-alive requests */
    req->close_connection = true;
    return tsp_problem_send(req, &err, NULL);
}

static void access_log(const struct tsp_req *req, const struct mg_request_info *info, int status,
                       uint64_t duration_ns)
{
    struct tsp_log_field fields[5];
    struct tsp_log_ctx ctx;

    fields[0] = (struct tsp_log_field){.key = "method", .str = req->method};
    fields[1] = (struct tsp_log_field){.key = "path", .str = req->path};
    fields[2] = (struct tsp_log_field){.key = "status", .num = status};
    fields[3] =
        (struct tsp_log_field){.key = "duration_us", .num = (long long)(duration_ns / 1000)};
    fields[4] = (struct tsp_log_field){.key = "remote", .str = info->remote_addr};
    memset(&ctx, 0, sizeof(ctx));
    ctx.event = "http.access";
    ctx.request_id = req->request_id;
    ctx.conn_id = -1;
    ctx.fields = fields;
    ctx.nfields = sizeof(fields) / sizeof(fields[0]);
    TSP_LOG_INFO(&ctx, "%s %s %d", req->method, req->path, status);
}

int tsp_dispatch(const struct tsp_api *api, struct mg_connection *conn)
{
    const struct mg_request_info *info = mg_get_request_info(conn);
    uint64_t start = (uint64_t)tsp_clock_mono_ns();
    struct tsp_req req;
    struct tsp_error err;
    const struct tsp_route *route = NULL;
    const char *incoming_id = NULL;
    char allow[64];
    char allow_header[96];
    int status = 0;
    bool admitted = false;
    enum tsp_route_match match = TSP_ROUTE_NOT_FOUND;

    memset(&req, 0, sizeof(req));
    req.conn = conn;
    req.api = api;
    req.method = info->request_method != NULL ? info->request_method : "";
    req.path = info->local_uri != NULL ? info->local_uri : "";
    req.query = info->query_string;
    incoming_id = tsp_req_header(&req, "X-Request-Id");
    if (tsp_request_id_valid(incoming_id)) {
        snprintf(req.request_id, sizeof(req.request_id), "%s", incoming_id);
    } else {
        tsp_request_id_generate(req.request_id, sizeof(req.request_id));
    }
    keep_alive_policy(&req, info);

    if (api->draining != NULL && atomic_load(api->draining)) {
        req.close_connection = true;
        status = tsp_problem_sendf(&req, TSP_SHUTTING_DOWN, NULL,
                                   "the server is shutting down; retry on another instance");
        goto done;
    }
    match = tsp_router_match(req.method, req.path, &route, &req.params, allow, sizeof(allow));
    if (match == TSP_ROUTE_NOT_FOUND) {
        route = NULL;
        status = tsp_problem_sendf(&req, TSP_NOT_FOUND, NULL, "no resource at %s", req.path);
        goto done;
    }
    if (match == TSP_ROUTE_BAD_METHOD) {
        route = NULL;
        snprintf(allow_header, sizeof(allow_header), "Allow: %s\r\n", allow);
        tsp_error_init(&err);
        (void)tsp_error_set(&err, TSP_METHOD_NOT_ALLOWED, NULL,
                            "%s does not accept %s; allowed: %s", req.path, req.method, allow);
        status = tsp_problem_send(&req, &err, allow_header);
        goto done;
    }
    if (api->probe_only && route->role != TSP_ROLE_PROBE && route->role != TSP_ROLE_METRICS) {
        route = NULL;
        status = tsp_problem_sendf(&req, TSP_NOT_FOUND, NULL,
                                   "no resource at %s on the probe listener (probes and /metrics "
                                   "only)",
                                   req.path);
        goto done;
    }
    status = tsp_auth_require(&req, route->role);
    if (status != 0) {
        goto done;
    }
    req.route = route;
    if (route->needs_db && !admit(api, &admitted)) {
        status = refuse_db(&req);
        goto done;
    }
    status = route->handler(&req);
done:
    if (admitted) {
        atomic_fetch_sub_explicit(api->db_inflight, 1, memory_order_relaxed);
    }
    if (api->metrics != NULL) {
        tsp_metrics_http_observe(api->metrics,
                                 route != NULL ? tsp_router_index(route) : tsp_router_count(),
                                 req.method, status, (uint64_t)tsp_clock_mono_ns() - start);
    }
    access_log(&req, info, status, (uint64_t)tsp_clock_mono_ns() - start);
    return status;
}
