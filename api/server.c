/* api/server.c - CivetWeb lifecycle: library init, options from the configuration, mg_start2
 * with its error text, the log bridge, connection accounting for keep-alive fairness, the
 * optional probe listener with workers of its own, stop.
 * SPDX-License-Identifier: MIT
 */
#include "api_int.h"

#include <civetweb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tspool/http.h"
#include "tspool/log.h"

/* Worker threads of the probe listener (TSPOOL_PROBE_LISTEN). */
#define PROBE_THREADS "4"

/* One CivetWeb context: the main listener, or the probe listener with workers of its own. */
struct tsp_http_listener {
    struct tsp_http_server *server;
    struct mg_context *ctx; /* NULL when not started */
    struct tsp_api api;     /* api.probe_only on the probe listener */
    atomic_int active;      /* connections currently held by a worker of this listener */
};

struct tsp_http_server {
    struct tsp_http_listener main;
    struct tsp_http_listener probe;
    atomic_int inflight;           /* requests inside tsp_dispatch */
    atomic_int db_inflight;        /* requests of needs_db routes (admission bound) */
    atomic_bool draining;          /* tsp_http_begin_drain was called */
    atomic_long failed_handshakes; /* connections closed before they were set up (TLS) */
    int port;
    int probe_port;
    struct tsp_tls *tls; /* HTTPS only */
};

/* Room for every route; the TimescaleDB routes join the table later. */
static const char *route_labels[256];

const char *const *tsp_http_route_labels(size_t *count)
{
    size_t n = tsp_router_count();

    if (n > sizeof(route_labels) / sizeof(route_labels[0])) {
        n = sizeof(route_labels) / sizeof(route_labels[0]);
    }
    for (size_t i = 0; i < n; i++) {
        route_labels[i] = tsp_router_at(i)->pattern;
    }
    *count = n;
    return route_labels;
}

static int on_begin_request(struct mg_connection *conn)
{
    struct tsp_http_listener *listener = mg_get_user_context_data(conn);
    int status = 0;

    atomic_fetch_add(&listener->server->inflight, 1);
    status = tsp_dispatch(&listener->api, conn);
    atomic_fetch_sub(&listener->server->inflight, 1);
    /* CivetWeb treats 1..999 as "handled"; 0 would make it serve files */
    return status > 0 && status < 1000 ? status : 500;
}

/* CivetWeb answers some requests itself (unparsable request line, headers too large, request
 * timeout): those errors become problem+json too. Returns 0 = handled. */
static int on_http_error(struct mg_connection *conn, int status, const char *message)
{
    const struct mg_request_info *info = mg_get_request_info(conn);
    struct tsp_req req;

    memset(&req, 0, sizeof(req));
    req.conn = conn;
    req.method = info != NULL && info->request_method != NULL ? info->request_method : "";
    req.path = info != NULL && info->local_uri != NULL ? info->local_uri : NULL;
    req.close_connection = true; /* the request could not be parsed: do not trust the stream */
    tsp_request_id_generate(req.request_id, sizeof(req.request_id));
    (void)tsp_problem_sendf(&req, tsp_problem_code_for_status(status), NULL, "%s",
                            message != NULL && message[0] != '\0' ? message
                                                                  : tsp_http_reason(status));
    return 0;
}

static int on_log_message(const struct mg_connection *conn, const char *message)
{
    struct tsp_log_ctx ctx;
    (void)conn;

    memset(&ctx, 0, sizeof(ctx));
    ctx.event = "http.server";
    ctx.conn_id = -1;
    TSP_LOG_WARN(&ctx, "civetweb: %s", message);
    return 1;
}

static int on_init_ssl(void *ssl_ctx, void *user_data)
{
    const struct tsp_http_listener *listener = user_data;

    return tsp_tls_init_ctx(ssl_ctx, listener->server->tls);
}

static int on_init_connection(const struct mg_connection *conn, void **conn_data)
{
    struct tsp_http_listener *listener = mg_get_user_context_data(conn);

    /* 1 + requests served on this connection (see dispatch.c); non-NULL marks it counted */
    *conn_data = (void *)(uintptr_t)1;
    atomic_fetch_add_explicit(&listener->active, 1, memory_order_relaxed);
    return 0;
}

/* CivetWeb calls this also for a connection whose TLS handshake failed, which never saw
 * on_init_connection: only a counted connection may be subtracted, or the active count (the
 * keep-alive fairness rule's input) drifts below zero with every load-balancer TCP check. */
static void on_connection_close(const struct mg_connection *conn)
{
    struct tsp_http_listener *listener = mg_get_user_context_data(conn);

    if (mg_get_user_connection_data(conn) == NULL) {
        atomic_fetch_add_explicit(&listener->server->failed_handshakes, 1, memory_order_relaxed);
        return;
    }
    mg_set_user_connection_data(conn, NULL);
    atomic_fetch_sub_explicit(&listener->active, 1, memory_order_relaxed);
}

/* listening_ports value for host:port (IPv6 in brackets), 's' for TLS. */
static void listen_spec(char *buf, size_t size, const char *host, int port, bool tls)
{
    if (strchr(host, ':') != NULL) {
        snprintf(buf, size, "[%s]:%d%s", host, port, tls ? "s" : "");
    } else {
        snprintf(buf, size, "%s:%d%s", host, port, tls ? "s" : "");
    }
}

/* Start one CivetWeb context for listener with options; *port is the bound port. */
static enum tsp_code start_listener(struct tsp_http_listener *listener, const char **options,
                                    bool tls, const char *what, int *port, struct tsp_error *err)
{
    struct mg_callbacks callbacks;
    struct mg_init_data init;
    struct mg_error_data error;
    struct mg_server_port ports[4];
    char error_text[256] = "";
    unsigned error_code = 0;
    int nports = 0;

    memset(&callbacks, 0, sizeof(callbacks));
    callbacks.begin_request = on_begin_request;
    callbacks.log_message = on_log_message;
    callbacks.http_error = on_http_error;
    callbacks.init_connection = on_init_connection;
    callbacks.connection_close = on_connection_close;
    if (tls) {
        callbacks.init_ssl = on_init_ssl;
    }
    memset(&init, 0, sizeof(init));
    init.callbacks = &callbacks;
    init.user_data = listener;
    init.configuration_options = options;
    memset(&error, 0, sizeof(error));
    error.code = &error_code;
    error.text = error_text;
    error.text_buffer_size = sizeof(error_text);

    listener->ctx = mg_start2(&init, &error);
    if (listener->ctx == NULL) {
        return tsp_error_set(err, TSP_IO, what, "cannot serve HTTP on %s: %s", options[1],
                             error_text[0] != '\0' ? error_text : "unknown CivetWeb error");
    }
    memset(ports, 0, sizeof(ports));
    nports = mg_get_server_ports(listener->ctx, (int)(sizeof(ports) / sizeof(ports[0])), ports);
    *port = nports > 0 ? ports[0].port : 0;
    return TSP_OK;
}

/* The probe listener: its own few workers, the same handlers restricted to the probes and
 * /metrics, no admission bound (nothing there waits on the database). */
static enum tsp_code start_probe_listener(struct tsp_http_server *server, bool tls,
                                          const char *keep_alive, const char *request_timeout,
                                          const char *tls_version, struct tsp_error *err)
{
    const struct tsp_config *cfg = server->main.api.cfg;
    char listen[300];
    const char *options[24];
    size_t o = 0;

    listen_spec(listen, sizeof(listen), cfg->probe_listen_host, cfg->probe_listen_port, tls);
    options[o++] = "listening_ports";
    options[o++] = listen;
    options[o++] = "num_threads";
    options[o++] = PROBE_THREADS;
    options[o++] = "enable_keep_alive";
    options[o++] = cfg->http_keep_alive_ms > 0 ? "yes" : "no";
    options[o++] = "keep_alive_timeout_ms";
    options[o++] = keep_alive;
    options[o++] = "request_timeout_ms";
    options[o++] = request_timeout;
    options[o++] = "tcp_nodelay";
    options[o++] = "1";
    options[o++] = "enable_directory_listing";
    options[o++] = "no";
    if (tls) {
        options[o++] = "ssl_protocol_version";
        options[o++] = tls_version;
    }
    options[o++] = NULL;
    server->probe.server = server;
    server->probe.api = server->main.api;
    server->probe.api.probe_only = true;
    server->probe.api.http_threads = atoi(PROBE_THREADS);
    server->probe.api.active_connections = &server->probe.active;
    /* the probe listener's /metrics reports the main listener's figures */
    server->probe.api.db_inflight = server->main.api.db_inflight;
    server->probe.api.db_max_inflight = 0;
    return start_listener(&server->probe, options, tls, "TSPOOL_PROBE_LISTEN", &server->probe_port,
                          err);
}

enum tsp_code tsp_http_start(const struct tsp_http_deps *deps, struct tsp_http_server **out,
                             struct tsp_error *err)
{
    const struct tsp_config *cfg = deps->cfg;
    struct tsp_http_server *server = NULL;
    char listen[300], threads[16], keep_alive[16], request_timeout[16], queue[16];
    const char *options[32];
    const char *tls_version = NULL;
    size_t o = 0;
    bool tls = cfg->tls_cert_file != NULL;
    bool library = false;
    enum tsp_code rc = TSP_OK;

    server = calloc(1, sizeof(*server));
    if (server == NULL) {
        rc = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory starting the HTTP server");
        goto done;
    }
    atomic_init(&server->main.active, 0);
    atomic_init(&server->probe.active, 0);
    atomic_init(&server->inflight, 0);
    atomic_init(&server->db_inflight, 0);
    atomic_init(&server->draining, false);
    atomic_init(&server->failed_handshakes, 0);
    server->main.server = server;
    server->main.api.cfg = cfg;
    server->main.api.pool = deps->pool;
    server->main.api.cluster = deps->cluster;
    server->main.api.health = deps->health;
    server->main.api.metrics = deps->metrics;
    server->main.api.activity = deps->activity;
    server->main.api.pgbouncer = deps->pgbouncer;
    server->main.api.http_threads = cfg->http_threads;
    server->main.api.active_connections = &server->main.active;
    server->main.api.draining = &server->draining;
    server->main.api.db_inflight = &server->db_inflight;
    server->main.api.failed_handshakes = &server->failed_handshakes;
    /* database-bound requests never take every worker: a quarter stays for the probes,
     * /metrics and pool control even when the pool is paused or the database frozen */
    server->main.api.db_max_inflight =
        cfg->http_db_max_inflight > 0 ? cfg->http_db_max_inflight : (cfg->http_threads * 3 + 3) / 4;
    if (server->main.api.db_max_inflight > cfg->http_threads) {
        server->main.api.db_max_inflight = cfg->http_threads;
    }
    server->main.api.tokens = tsp_tokens_new(cfg);
    if (server->main.api.tokens == NULL) {
        rc = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory starting the HTTP server");
        goto done;
    }
    rc = tsp_ts_new(deps->pool, &server->main.api.ts, err);
    if (rc != TSP_OK) {
        goto done;
    }
    tsp_ts_set_cluster(server->main.api.ts, deps->cluster);
    tsp_ts_set_lock_timeout(server->main.api.ts, cfg->lock_timeout_ms);

    rc = tsp_tls_check(cfg, err);
    if (rc == TSP_OK && tls) {
        rc = tsp_tls_load_compat(err);
    }
    if (rc != TSP_OK) {
        goto done;
    }
    if (tls) {
        server->tls = tsp_tls_new(cfg);
        if (server->tls == NULL) {
            rc = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory starting the HTTP server");
            goto done;
        }
    }
    /* a trailing 's' makes CivetWeb speak TLS on the port */
    listen_spec(listen, sizeof(listen), cfg->listen_host, cfg->listen_port, tls);
    snprintf(threads, sizeof(threads), "%d", cfg->http_threads);
    snprintf(keep_alive, sizeof(keep_alive), "%d", cfg->http_keep_alive_ms);
    snprintf(request_timeout, sizeof(request_timeout), "%d", cfg->http_request_timeout_ms);
    snprintf(queue, sizeof(queue), "%d", cfg->http_connection_queue);
    options[o++] = "listening_ports";
    options[o++] = listen;
    options[o++] = "num_threads";
    options[o++] = threads;
    options[o++] = "enable_keep_alive";
    options[o++] = cfg->http_keep_alive_ms > 0 ? "yes" : "no";
    options[o++] = "keep_alive_timeout_ms";
    options[o++] = keep_alive;
    options[o++] = "request_timeout_ms";
    options[o++] = request_timeout;
    options[o++] = "connection_queue";
    options[o++] = queue;
    /* one write per response plus no Nagle: ~40 ms per request otherwise */
    options[o++] = "tcp_nodelay";
    options[o++] = "1";
    options[o++] = "enable_directory_listing";
    options[o++] = "no";
    if (tls) {
        /* 4 = TLS 1.2 and later, 5 = TLS 1.3 only; init_ssl enforces the same floor */
        tls_version = strcmp(cfg->tls_min_version, "1.3") == 0 ? "5" : "4";
        options[o++] = "ssl_protocol_version";
        options[o++] = tls_version;
    }
    options[o++] = NULL;

    mg_init_library(tls ? MG_FEATURES_TLS : 0);
    library = true;
    rc = start_listener(&server->main, options, tls, "TSPOOL_LISTEN", &server->port, err);
    if (rc != TSP_OK) {
        goto done;
    }
    if (server->port == 0) {
        server->port = cfg->listen_port;
    }
    if (cfg->probe_listen != NULL) {
        rc = start_probe_listener(server, tls, keep_alive, request_timeout, tls_version, err);
        if (rc != TSP_OK) {
            goto done;
        }
    }
    /* the maintenance thread keeps the TimescaleDB families of /metrics fresh */
    tsp_ts_snapshot_start(server->main.api.ts, cfg->timescaledb_refresh_ms);
    *out = server;
    server = NULL;
done:
    if (server != NULL) {
        if (server->probe.ctx != NULL) {
            mg_stop(server->probe.ctx);
        }
        if (server->main.ctx != NULL) {
            mg_stop(server->main.ctx);
        }
        if (library) {
            mg_exit_library();
        }
        tsp_tokens_free(server->main.api.tokens);
        tsp_ts_free(server->main.api.ts);
        tsp_tls_free(server->tls);
    }
    free(server);
    return rc;
}

int tsp_http_port(const struct tsp_http_server *server)
{
    return server != NULL ? server->port : 0;
}

void tsp_http_begin_drain(struct tsp_http_server *server)
{
    atomic_store(&server->draining, true);
}

int tsp_http_inflight(struct tsp_http_server *server)
{
    return atomic_load(&server->inflight);
}

int tsp_http_probe_port(const struct tsp_http_server *server)
{
    return server != NULL ? server->probe_port : 0;
}

long tsp_http_failed_handshakes(struct tsp_http_server *server)
{
    return atomic_load(&server->failed_handshakes);
}

void tsp_http_stop(struct tsp_http_server *server)
{
    if (server == NULL) {
        return;
    }
    if (server->probe.ctx != NULL) {
        mg_stop(server->probe.ctx);
    }
    mg_stop(server->main.ctx);
    mg_exit_library();
    tsp_tls_free(server->tls);
    tsp_tokens_free(server->main.api.tokens);
    tsp_ts_free(server->main.api.ts);
    free(server);
}
