/* api/pool_handlers.c - GET /pool/status[?detailed=true], GET /pool/ping, POST /pool/pause,
 * /pool/resume, /pool/recycle and PATCH /pool (size, max_overflow, timeout_ms).
 * SPDX-License-Identifier: MIT
 */
#include "api_int.h"
#include "render.h"

#include <stdlib.h>
#include <string.h>

#include "tspool/dbinfo.h"

/* The server's view is an extra: never let it hold a status request for the whole pool
 * timeout when the pool is busy or the database is away. */
#define SERVER_VIEW_TIMEOUT_MS 2000

/* The read pool over the replicas, or null without DB_READ_HOSTS. */
static json_t *read_pool_doc(struct tsp_cluster *cluster)
{
    struct tsp_cluster_view *view = NULL;
    struct tsp_pool_stats total;
    struct tsp_pool_stats per[TSP_CLUSTER_MAX_REPLICAS];
    json_t *doc = NULL;

    if (cluster == NULL || tsp_cluster_replica_count(cluster) == 0) {
        return json_null();
    }
    view = calloc(1, sizeof(*view));
    if (view == NULL) {
        return NULL;
    }
    tsp_cluster_view(cluster, view);
    tsp_cluster_read_stats(cluster, &total);
    for (size_t i = 0; i < view->nreplicas; i++) {
        tsp_cluster_replica_stats(cluster, i, &per[i]);
    }
    doc = tsp_render_read_pool(&total, view, per);
    free(view);
    return doc;
}

/* The status document; detailed adds each connection and the server's view (one lease). */
static json_t *status_doc(struct tsp_req *req, bool detailed, struct tsp_error *err)
{
    struct tsp_pool_stats stats;
    struct tsp_pool_conn_info *conns = NULL;
    struct tsp_dbinfo_server_view *view = NULL;
    struct tsp_error view_err;
    size_t nconns = 0;
    json_t *doc = NULL;
    json_t *list = NULL;
    json_t *result = NULL;
    enum tsp_code rc = TSP_OK;

    tsp_pool_stats(req->api->pool, &stats);
    doc = tsp_render_pool_status(&stats);
    if (doc == NULL) {
        tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory rendering the pool status");
        goto done;
    }
    if (json_object_set_new(doc, "read_pool", read_pool_doc(req->api->cluster)) != 0) {
        tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory rendering the read pool");
        goto done;
    }
    if (!detailed) {
        result = doc;
        doc = NULL;
        goto done;
    }
    rc = tsp_pool_conn_list(req->api->pool, &conns, &nconns, err);
    if (rc != TSP_OK) {
        goto done;
    }
    list = json_array();
    for (size_t i = 0; list != NULL && i < nconns; i++) {
        if (json_array_append_new(list, tsp_render_conn(&conns[i])) != 0) {
            tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory rendering connections");
            goto done;
        }
    }
    if (json_object_set_new(doc, "connections", list) != 0) {
        list = NULL;
        tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory rendering connections");
        goto done;
    }
    list = NULL;
    view = calloc(1, sizeof(*view));
    if (view == NULL) {
        tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
        goto done;
    }
    /* the server's view is best effort: a database outage must not hide the pool's own view */
    tsp_error_init(&view_err);
    rc = tsp_dbinfo_server_view(req->api->pool, req->api->cfg->db_application_name,
                                SERVER_VIEW_TIMEOUT_MS, &stats, view, &view_err);
    if (rc == TSP_OK) {
        json_object_set_new(doc, "server", tsp_render_server_view(view));
    } else {
        json_object_set_new(doc, "server", json_null());
        json_object_set_new(doc, "server_error", json_string(view_err.detail));
    }
    result = doc;
    doc = NULL;
done:
    json_decref(list);
    json_decref(doc);
    free(view);
    free(conns);
    return result;
}

int tsp_h_pool_status(struct tsp_req *req)
{
    struct tsp_error err;
    bool detailed = false;
    json_t *doc = NULL;
    int status = 0;
    enum tsp_code rc = TSP_OK;

    tsp_error_init(&err);
    rc = tsp_query_bool(req->query, "detailed", &detailed, &err);
    if (rc != TSP_OK) {
        return tsp_problem_send(req, &err, NULL);
    }
    doc = status_doc(req, detailed, &err);
    if (doc == NULL) {
        return tsp_problem_send(req, &err, NULL);
    }
    status = tsp_respond_json(req, 200, doc);
    json_decref(doc);
    return status;
}

int tsp_h_pool_ping(struct tsp_req *req)
{
    struct tsp_error err;
    struct tsp_dbinfo_ping ping;
    json_t *doc = NULL;
    int status = 0;
    enum tsp_code rc = TSP_OK;

    tsp_error_init(&err);
    rc = tsp_dbinfo_ping(req->api->pool, "ping", &ping, &err);
    if (rc != TSP_OK) {
        return tsp_problem_send(req, &err, NULL);
    }
    doc = tsp_render_ping(&ping);
    if (doc == NULL) {
        return tsp_problem_sendf(req, TSP_NO_MEMORY, NULL, "out of memory rendering the ping");
    }
    status = tsp_respond_json(req, 200, doc);
    json_decref(doc);
    return status;
}

/* Answer a control operation with the resulting status (plus `extra` members, consumed). */
static int control_reply(struct tsp_req *req, json_t *extra)
{
    struct tsp_error err;
    json_t *doc = NULL;
    int status = 0;

    tsp_error_init(&err);
    doc = status_doc(req, false, &err);
    if (doc == NULL) {
        json_decref(extra);
        return tsp_problem_send(req, &err, NULL);
    }
    if (extra != NULL) {
        json_object_update(doc, extra);
        json_decref(extra);
    }
    status = tsp_respond_json(req, 200, doc);
    json_decref(doc);
    return status;
}

int tsp_h_pool_pause(struct tsp_req *req)
{
    tsp_pool_pause(req->api->pool);
    return control_reply(req, NULL);
}

int tsp_h_pool_resume(struct tsp_req *req)
{
    tsp_pool_resume(req->api->pool);
    return control_reply(req, NULL);
}

int tsp_h_pool_recycle(struct tsp_req *req)
{
    int marked = tsp_pool_recycle_all(req->api->pool);
    return control_reply(req, json_pack("{s:i}", "recycled", marked));
}

/* Read an optional integer member; -1 when absent. */
static enum tsp_code int_member(json_t *body, const char *name, long min, long max, long *out,
                                struct tsp_error *err)
{
    json_t *v = json_object_get(body, name);

    if (v == NULL) {
        *out = -1;
        return TSP_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        return tsp_error_set(err, TSP_INVALID, name, "'%s' must be an integer from %ld to %ld",
                             name, min, max);
    }
    *out = (long)json_integer_value(v);
    return TSP_OK;
}

int tsp_h_pool_patch(struct tsp_req *req)
{
    struct tsp_error err;
    json_t *body = NULL;
    const char *key = NULL;
    json_t *value = NULL;
    long size = -1, overflow = -1, timeout_ms = -1;
    int status = 0;
    enum tsp_code rc = TSP_OK;

    tsp_error_init(&err);
    rc = tsp_req_read_json(req, &body, &err);
    if (rc != TSP_OK) {
        status = tsp_problem_send(req, &err, NULL);
        goto done;
    }
    json_object_foreach(body, key, value)
    {
        if (strcmp(key, "size") != 0 && strcmp(key, "max_overflow") != 0 &&
            strcmp(key, "timeout_ms") != 0) {
            tsp_error_set(&err, TSP_INVALID, key,
                          "unknown member '%s'; allowed: size, max_overflow, timeout_ms", key);
            status = tsp_problem_send(req, &err, NULL);
            goto done;
        }
    }
    rc = int_member(body, "size", 1, 10000, &size, &err);
    if (rc == TSP_OK) {
        rc = int_member(body, "max_overflow", 0, 10000, &overflow, &err);
    }
    if (rc == TSP_OK) {
        rc = int_member(body, "timeout_ms", 1, 3600000, &timeout_ms, &err);
    }
    if (rc != TSP_OK) {
        status = tsp_problem_send(req, &err, NULL);
        goto done;
    }
    if (size < 0 && overflow < 0 && timeout_ms < 0) {
        status = tsp_problem_sendf(req, TSP_INVALID, "body",
                                   "nothing to change: give size, max_overflow or timeout_ms");
        goto done;
    }
    rc = tsp_pool_resize(req->api->pool, (int)size, (int)overflow, timeout_ms, &err);
    if (rc != TSP_OK) {
        status = tsp_problem_send(req, &err, NULL);
        goto done;
    }
    status = control_reply(req, NULL);
done:
    json_decref(body);
    return status;
}
