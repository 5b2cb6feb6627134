/* http.h - the HTTP server's only entry point (implemented in api/): start CivetWeb over the
 * service objects, report its bound port, stop it after the in-flight requests finished.
 * SPDX-License-Identifier: MIT
 */
#ifndef TSPOOL_HTTP_H
#define TSPOOL_HTTP_H

#include "tspool/activity.h"
#include "tspool/config.h"
#include "tspool/error.h"
#include "tspool/health.h"
#include "tspool/metrics.h"
#include "tspool/pgbouncer.h"
#include "tspool/pool.h"
#include "tspool/replicas.h"

struct tsp_http_server; /* opaque */

/* What the handlers use; every pointer is borrowed and must outlive the server. */
struct tsp_http_deps {
    const struct tsp_config *cfg; /* listen address, threads, timeouts, tokens */
    struct tsp_pool *pool;
    struct tsp_cluster *cluster; /* the read pool over DB_READ_HOSTS (replicas.h) */
    struct tsp_health *health;
    struct tsp_metrics *metrics;     /* created with tsp_http_route_labels() */
    struct tsp_pgb_fleet *pgbouncer; /* PgBouncer fleet (may be NULL: the endpoints say off) */
    struct tsp_activity *activity;   /* the server activity sampler */
};

/* Route labels for tsp_metrics_new(): the path patterns of the route table, in table order.
 * Static data; *count receives the number of labels. */
const char *const *tsp_http_route_labels(size_t *count);

/* Start serving on cfg->listen_host:listen_port with cfg->http_threads workers, of which at
 * most cfg->http_db_max_inflight serve requests that wait on the database, and on
 * cfg->probe_listen (when set) with 4 workers that serve only the probes and /metrics. Errors:
 * TSP_IO with CivetWeb's text (e.g. the port is in use), TSP_NO_MEMORY. On TSP_OK *out is a
 * running server to stop with tsp_http_stop(). Call from the main thread. */
enum tsp_code tsp_http_start(const struct tsp_http_deps *deps, struct tsp_http_server **out,
                             struct tsp_error *err) TSP_MUSTCHECK;

/* The TCP port actually bound (useful with port 0), or 0. */
int tsp_http_port(const struct tsp_http_server *server);

/* The port of the probe listener (TSPOOL_PROBE_LISTEN), or 0 when it is off. */
int tsp_http_probe_port(const struct tsp_http_server *server);

/* Connections closed before CivetWeb set them up (failed TLS handshakes, TCP checks of a load
 * balancer on an HTTPS port). Thread-safe. */
long tsp_http_failed_handshakes(struct tsp_http_server *server);

/* Begin draining: from now on new requests are answered 503 (SHUTTING_DOWN, Connection:
 * close) while requests already being served continue. CivetWeb cannot write responses once
 * it is stopping, so in-flight requests must finish before tsp_http_stop(). Thread-safe. */
void tsp_http_begin_drain(struct tsp_http_server *server);

/* Number of requests being served right now. Thread-safe. */
int tsp_http_inflight(struct tsp_http_server *server);

/* Stop accepting, let in-flight requests finish, join the workers and free the server.
 * Blocks until every worker returned. NULL is a no-op. */
void tsp_http_stop(struct tsp_http_server *server);

#endif /* TSPOOL_HTTP_H */
