/* api/metrics_handlers.c - GET /metrics: Prometheus text exposition 0.0.4 of the pool's
 * statistics snapshot, the cached database check, the HTTP request metrics and the server
 * activity sampler's tspool_server_* families.
 * SPDX-License-Identifier: MIT
 */
#include "api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tspool/clock.h"
#include "tspool/strbuf.h"

#ifndef TSPOOL_VERSION
#define TSPOOL_VERSION "0.0.0"
#endif

#define SLOW_LABELS_MAX 65

/* The replica families' inputs from the cluster's cached view (replicas has room for all). */
static void replica_sources(const struct tsp_cluster_view *view,
                            struct tsp_metrics_replica *replicas, struct tsp_metrics_sources *src)
{
    for (size_t i = 0; i < view->nreplicas; i++) {
        const struct tsp_cluster_member *m = &view->replicas[i];
        memset(&replicas[i], 0, sizeof(replicas[i]));
        snprintf(replicas[i].server, sizeof(replicas[i].server), "%s", m->name);
        replicas[i].up = m->reachable;
        replicas[i].in_rotation = m->in_rotation;
        replicas[i].has_lag = m->has_lag;
        replicas[i].lag_bytes = m->lag_bytes;
        replicas[i].lag_s = m->lag_s;
    }
    src->cluster = true;
    src->replicas = replicas;
    src->nreplicas = view->nreplicas;
    src->reads_replica = view->reads_replica;
    src->reads_fallback = view->reads_fallback;
    src->reads_refused = view->reads_refused;
    src->failovers = view->failovers;
}

/* Append the tspool_server_* families of the activity sampler to *text. */
static enum tsp_code append_activity(struct tsp_activity *activity, char **text, size_t *len,
                                     struct tsp_error *err)
{
    char *more = NULL;
    size_t more_len = 0;
    char *joined = NULL;
    enum tsp_code rc = tsp_activity_metrics_render(activity, &more, &more_len, err);

    if (rc != TSP_OK) {
        return rc;
    }
    joined = realloc(*text, *len + more_len + 1);
    if (joined == NULL) {
        free(more);
        return tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory rendering metrics");
    }
    memcpy(joined + *len, more, more_len + 1);
    *text = joined;
    *len += more_len;
    free(more);
    return TSP_OK;
}

/* The TimescaleDB snapshot's pre-rendered families (copied; no database round trip). */
static void append_timescale(void *ctx, struct tsp_strbuf *sb)
{
    tsp_ts_snapshot_metrics(ctx, sb);
}

/* The exposition with the PgBouncer series the refresher rendered with its snapshot and the
 * refresh ages appended; takes text (malloc'd) and gives back the combined text. */
static enum tsp_code append_pgbouncer(struct tsp_req *req, char **text, size_t *len,
                                      struct tsp_error *err)
{
    const struct tsp_pgb_snapshot *snap = NULL;
    struct tsp_strbuf sb = {0};
    enum tsp_code rc = TSP_OK;

    if (!tsp_pgb_fleet_enabled(req->api->pgbouncer)) {
        return TSP_OK;
    }
    snap = tsp_pgb_snapshot_get(req->api->pgbouncer);
    tsp_strbuf_append(&sb, *text, *len);
    if (snap->metrics != NULL) {
        tsp_strbuf_append(&sb, snap->metrics, snap->metrics_len);
    }
    rc = tsp_pgb_metrics_age(snap, tsp_clock_mono_ms(), &sb, err);
    tsp_pgb_snapshot_release(snap);
    if (rc == TSP_OK) {
        char *all = tsp_strbuf_take(&sb, len);
        if (all == NULL) {
            return tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
        }
        free(*text);
        *text = all;
    }
    tsp_strbuf_fini(&sb);
    return rc;
}

int tsp_h_metrics(struct tsp_req *req)
{
    struct tsp_error err;
    struct tsp_pool_stats stats;
    struct tsp_pool_health db;
    struct tsp_pool_label_count slow[SLOW_LABELS_MAX];
    struct tsp_metrics_sources src = {0};
    struct tsp_pool_stats read_stats;
    struct tsp_cluster_view *view = NULL;
    struct tsp_metrics_replica replicas[TSP_CLUSTER_MAX_REPLICAS];
    char *text = NULL;
    size_t len = 0;
    int status = 0;
    enum tsp_code rc = TSP_OK;

    tsp_error_init(&err);
    tsp_pool_stats(req->api->pool, &stats);
    tsp_pool_health(req->api->pool, &db);
    src.pool = &stats;
    src.db = &db;
    src.slow = slow;
    src.nslow = tsp_pool_slow_by_label(req->api->pool, slow, SLOW_LABELS_MAX);
    src.version = TSPOOL_VERSION;
    if (req->api->cluster != NULL && tsp_cluster_replica_count(req->api->cluster) > 0) {
        view = calloc(1, sizeof(*view));
        if (view == NULL) {
            return tsp_problem_sendf(req, TSP_NO_MEMORY, NULL, "out of memory");
        }
        tsp_cluster_view(req->api->cluster, view);
        tsp_cluster_read_stats(req->api->cluster, &read_stats);
        replica_sources(view, replicas, &src);
        src.read_pool = &read_stats;
    }
    if (req->api->db_inflight != NULL && req->api->failed_handshakes != NULL) {
        src.http = true;
        src.http_db_inflight = atomic_load(req->api->db_inflight);
        src.http_failed_handshakes = atomic_load(req->api->failed_handshakes);
    }
    src.append = append_timescale;
    src.append_ctx = req->api->ts;
    rc = tsp_metrics_render(req->api->metrics, &src, &text, &len, &err);
    free(view);
    if (rc == TSP_OK && req->api->activity != NULL) {
        rc = append_activity(req->api->activity, &text, &len, &err);
    }
    if (rc == TSP_OK) {
        rc = append_pgbouncer(req, &text, &len, &err);
    }
    if (rc != TSP_OK) {
        free(text);
        return tsp_problem_send(req, &err, NULL);
    }
    status = tsp_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, text, len);
    free(text);
    return status;
}
