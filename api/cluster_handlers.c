/* api/cluster_handlers.c - GET /cluster (primary, replicas, replication, rotation) and the
 * Patroni-style probes /readyz/replica[?lag=16MB&lag_ms=] and /readyz/primary, all from the
 * cluster monitor's cached checks: none of them reaches a database.
 * SPDX-License-Identifier: MIT
 */
#include "api_int.h"
#include "render.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tspool/replicas.h"

int tsp_h_cluster(struct tsp_req *req)
{
    struct tsp_cluster_view *view = calloc(1, sizeof(*view));
    json_t *doc = NULL;
    int status = 0;

    if (view == NULL) {
        return tsp_problem_sendf(req, TSP_NO_MEMORY, NULL, "out of memory");
    }
    tsp_cluster_view(req->api->cluster, view);
    doc = tsp_render_cluster(view);
    if (doc == NULL) {
        status = tsp_problem_sendf(req, TSP_NO_MEMORY, NULL, "out of memory rendering the cluster");
    } else {
        status = tsp_respond_json(req, 200, doc);
    }
    json_decref(doc);
    free(view);
    return status;
}

/* One optional query parameter, at most once: 1 and its text in buf, 0 when absent. */
static enum tsp_code query_once(const char *query, const char *name, char *buf, size_t size,
                                bool *given, struct tsp_error *err)
{
    int n = tsp_query_get(query, name, 0, buf, size);

    *given = false;
    if (n == -1) {
        return TSP_OK;
    }
    if (tsp_query_repeated(query, name)) {
        return tsp_error_set(err, TSP_INVALID, name, "query parameter '%s' is given more than once",
                             name);
    }
    if (n < 0) {
        return tsp_error_set(err, TSP_INVALID, name, "%s is too long", name);
    }
    *given = true;
    return TSP_OK;
}

/* ?lag= (bytes, with an optional unit) and ?lag_ms= (milliseconds): -1 when not given (the
 * configured bound applies). */
static enum tsp_code lag_bounds(const char *query, long long *bytes, long *ms,
                                struct tsp_error *err)
{
    char text[64];
    bool given = false;
    char *end = NULL;
    long long value = 0;
    enum tsp_code rc = query_once(query, "lag", text, sizeof(text), &given, err);

    *bytes = -1;
    *ms = -1;
    if (rc != TSP_OK) {
        return rc;
    }
    if (given && !tsp_config_parse_bytes(text, bytes)) {
        return tsp_error_set(err, TSP_INVALID, "lag",
                             "lag must be a byte count with an optional unit B, kB, MB, GB or TB "
                             "(e.g. 16MB), not '%s'",
                             text);
    }
    rc = query_once(query, "lag_ms", text, sizeof(text), &given, err);
    if (rc != TSP_OK || !given) {
        return rc;
    }
    errno = 0;
    value = strtoll(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || end == text || *end != '\0' || errno != 0 ||
        value > 86400000LL) {
        return tsp_error_set(err, TSP_INVALID, "lag_ms",
                             "lag_ms must be an integer from 0 to 86400000, not '%s'", text);
    }
    *ms = (long)value;
    return TSP_OK;
}

static int probe_answer(struct tsp_req *req, const char *name, bool ok, const char *reason)
{
    char body[TSP_CLUSTER_REASON_MAX + 128];

    if (tsp_health_shutting_down(req->api->health)) {
        snprintf(body, sizeof(body), "[-]%s failed: shutting down", name);
        return tsp_respond_text(req, 503, body);
    }
    if (ok) {
        return tsp_respond_text(req, 200, "ok");
    }
    snprintf(body, sizeof(body), "[-]%s failed: %.*s", name, (int)TSP_CLUSTER_REASON_MAX, reason);
    return tsp_respond_text(req, 503, body);
}

int tsp_h_readyz_replica(struct tsp_req *req)
{
    struct tsp_cluster_view *view = NULL;
    struct tsp_error err;
    long long bytes = -1;
    long ms = -1;
    char reason[TSP_CLUSTER_REASON_MAX + 64];
    bool ok = false;
    int status = 0;
    enum tsp_code rc = TSP_OK;

    tsp_error_init(&err);
    rc = lag_bounds(req->query, &bytes, &ms, &err);
    if (rc != TSP_OK) {
        return tsp_problem_send(req, &err, NULL);
    }
    view = calloc(1, sizeof(*view));
    if (view == NULL) {
        return tsp_problem_sendf(req, TSP_NO_MEMORY, NULL, "out of memory");
    }
    tsp_cluster_view(req->api->cluster, view);
    ok = tsp_cluster_replica_ready(view, bytes, ms, reason, sizeof(reason));
    status = probe_answer(req, "replica", ok, reason);
    free(view);
    return status;
}

int tsp_h_readyz_primary(struct tsp_req *req)
{
    struct tsp_cluster_view *view = calloc(1, sizeof(*view));
    char reason[TSP_CLUSTER_NAME_MAX + 128];
    bool ok = false;
    int status = 0;

    if (view == NULL) {
        return tsp_problem_sendf(req, TSP_NO_MEMORY, NULL, "out of memory");
    }
    tsp_cluster_view(req->api->cluster, view);
    ok = tsp_cluster_primary_ready(view, reason, sizeof(reason));
    status = probe_answer(req, "primary", ok, reason);
    free(view);
    return status;
}
