/* metrics.h - HTTP request counters and duration histograms (lock-free, on every request)
 * and the Prometheus text exposition (0.0.4) of them together with the pool's statistics.
 * SPDX-License-Identifier: MIT
 */
#ifndef TSPOOL_METRICS_H
#define TSPOOL_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tspool/error.h"
#include "tspool/pool.h"
#include "tspool/strbuf.h"

struct tsp_metrics; /* opaque */

#define TSP_METRICS_DURATION_BUCKETS 14
/* Upper bounds (seconds) of the request-duration histogram; a last +Inf bucket follows. */
extern const double tsp_metrics_duration_bounds_s[TSP_METRICS_DURATION_BUCKETS];

/* Create the registry for `nroutes` route labels (copied; e.g. "/readyz/{check}"). One more
 * route, "unmatched", is added for 404s. On TSP_OK *out is freed with tsp_metrics_free. */
enum tsp_code tsp_metrics_new(const char *const *route_labels, size_t nroutes,
                              struct tsp_metrics **out, struct tsp_error *err) TSP_MUSTCHECK;
/* NULL is a no-op. */
void tsp_metrics_free(struct tsp_metrics *metrics);

/* Count one served request. route is an index < nroutes, or any larger value for
 * "unmatched"; method is the request method; status the HTTP status sent. Lock-free
 * (relaxed atomic increments); thread-safe. */
void tsp_metrics_http_observe(struct tsp_metrics *metrics, size_t route, const char *method,
                              int status, uint64_t duration_ns);

/* Total requests counted for one route/method/status (tests). Thread-safe. */
uint64_t tsp_metrics_http_count(const struct tsp_metrics *metrics, size_t route, const char *method,
                                int status);

#define TSP_METRICS_SERVER_MAX 280

/* One replica of the read pool as its last check saw it. */
struct tsp_metrics_replica {
    char server[TSP_METRICS_SERVER_MAX]; /* "host:port" */
    bool up;
    bool in_rotation;
    bool has_lag;
    long long lag_bytes;
    double lag_s;
};

/* Inputs of the exposition beside the registry; every pointer may be NULL (section skipped). */
struct tsp_metrics_sources {
    const struct tsp_pool_stats *pool;      /* the main pool: series with pool="primary" */
    const struct tsp_pool_stats *read_pool; /* the read pool (NULL without replicas):
                                               the same series with pool="read" */
    bool cluster;                           /* render the replica families below */
    const struct tsp_metrics_replica *replicas;
    size_t nreplicas;
    uint64_t reads_replica, reads_fallback, reads_refused, failovers;
    const struct tsp_pool_label_count *slow; /* per-label slow operations */
    size_t nslow;
    const struct tsp_pool_health *db;
    const char *version;         /* tspool_build_info{version} */
    bool http;                   /* the two HTTP server figures below are set */
    long http_db_inflight;       /* requests waiting on the database now (admission bound) */
    long http_failed_handshakes; /* connections closed before set-up (failed TLS handshakes) */
    /* more families appended at the end (the TimescaleDB snapshot); called during the render,
     * must not block. NULL = none. */
    void (*append)(void *ctx, struct tsp_strbuf *sb);
    void *append_ctx;
};

/* Write the Prometheus text exposition: tspool_up, tspool_build_info, tspool_pool_* (one
 * series per pool, label pool="primary"|"read"), tspool_replica_* (per replica, label server),
 * tspool_read_borrows_total, tspool_cluster_failovers_total, tspool_db_*, tspool_http_* (with
 * src->http: tspool_http_db_inflight and tspool_http_failed_handshakes_total). HELP and TYPE
 * precede every family. On TSP_OK *out is a malloc'd NUL-terminated text (free it) of *len bytes.
 * Errors: TSP_NO_MEMORY. Thread-safe (reads atomics); metrics may be NULL (HTTP families
 * skipped). */
enum tsp_code tsp_metrics_render(const struct tsp_metrics *metrics,
                                 const struct tsp_metrics_sources *src, char **out, size_t *len,
                                 struct tsp_error *err) TSP_MUSTCHECK;

#endif /* TSPOOL_METRICS_H */
