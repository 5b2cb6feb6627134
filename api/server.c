/* api/server.c - CivetWeb lifecycle: library init, options from the configuration, mg_start2
 * with its error text, the log bridge, connection accounting for keep-alive fairness, stop.
 * SPDX-License-Identifier: MIT
 */
#include "api_int.h"

#include <civetweb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tspool/http.h"
#include "tspool/log.h"

struct tsp_http_server {
    struct mg_context *ctx;
    struct tsp_api api;
    atomic_int active;    /* connections currently held by a worker */
    atomic_int inflight;  /* requests inside tsp_dispatch */
    atomic_bool draining; /* tsp_http_begin_drain was called */
    int port;
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
    struct tsp_http_server *server = mg_get_user_context_data(conn);
    int status = 0;

    atomic_fetch_add(&server->inflight, 1);
    status = tsp_dispatch(&server->api, conn);
    atomic_fetch_sub(&server->inflight, 1);
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
    const struct tsp_http_server *server = user_data;

    return tsp_tls_init_ctx(ssl_ctx, server->api.cfg);
}

static int on_init_connection(const struct mg_connection *conn, void **conn_data)
{
    struct tsp_http_server *server = mg_get_user_context_data(conn);

    *conn_data = NULL; /* requests served on this connection (see dispatch.c) */
    atomic_fetch_add_explicit(&server->active, 1, memory_order_relaxed);
    return 0;
}

static void on_connection_close(const struct mg_connection *conn)
{
    struct tsp_http_server *server = mg_get_user_context_data(conn);

    atomic_fetch_sub_explicit(&server->active, 1, memory_order_relaxed);
}

enum tsp_code tsp_http_start(const struct tsp_http_deps *deps, struct tsp_http_server **out,
                             struct tsp_error *err)
{
    const struct tsp_config *cfg = deps->cfg;
    struct tsp_http_server *server = NULL;
    struct mg_callbacks callbacks;
    struct mg_init_data init;
    struct mg_error_data error;
    struct mg_server_port ports[4];
    char error_text[256] = "";
    unsigned error_code = 0;
    char listen[300], threads[16], keep_alive[16], request_timeout[16], queue[16];
    const char *options[32];
    size_t o = 0;
    int nports = 0;
    bool tls = cfg->tls_cert_file != NULL;
    enum tsp_code rc = TSP_OK;

    server = calloc(1, sizeof(*server));
    if (server == NULL) {
        rc = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory starting the HTTP server");
        goto done;
    }
    atomic_init(&server->active, 0);
    atomic_init(&server->inflight, 0);
    atomic_init(&server->draining, false);
    server->api.cfg = cfg;
    server->api.pool = deps->pool;
    server->api.cluster = deps->cluster;
    server->api.health = deps->health;
    server->api.metrics = deps->metrics;
    server->api.activity = deps->activity;
    server->api.pgbouncer = deps->pgbouncer;
    server->api.http_threads = cfg->http_threads;
    server->api.active_connections = &server->active;
    server->api.draining = &server->draining;
    server->api.tokens = tsp_tokens_new(cfg);
    if (server->api.tokens == NULL) {
        rc = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory starting the HTTP server");
        goto done;
    }
    rc = tsp_ts_new(deps->pool, &server->api.ts, err);
    if (rc != TSP_OK) {
        goto done;
    }
    tsp_ts_set_cluster(server->api.ts, deps->cluster);

    rc = tsp_tls_check(cfg, err);
    if (rc == TSP_OK && tls) {
        rc = tsp_tls_load_compat(err);
    }
    if (rc != TSP_OK) {
        goto done;
    }
    /* a trailing 's' makes CivetWeb speak TLS on the port */
    if (strchr(cfg->listen_host, ':') != NULL) {
        snprintf(listen, sizeof(listen), "[%s]:%d%s", cfg->listen_host, cfg->listen_port,
                 tls ? "s" : "");
    } else {
        snprintf(listen, sizeof(listen), "%s:%d%s", cfg->listen_host, cfg->listen_port,
                 tls ? "s" : "");
    }
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
        options[o++] = "ssl_protocol_version";
        options[o++] = strcmp(cfg->tls_min_version, "1.3") == 0 ? "5" : "4";
    }
    options[o++] = NULL;

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
    init.user_data = server;
    init.configuration_options = options;
    memset(&error, 0, sizeof(error));
    error.code = &error_code;
    error.text = error_text;
    error.text_buffer_size = sizeof(error_text);

    mg_init_library(tls ? MG_FEATURES_TLS : 0);
    server->ctx = mg_start2(&init, &error);
    if (server->ctx == NULL) {
        rc = tsp_error_set(err, TSP_IO, "TSPOOL_LISTEN", "cannot serve HTTP on %s: %s", listen,
                           error_text[0] != '\0' ? error_text : "unknown CivetWeb error");
        mg_exit_library();
        goto done;
    }
    memset(ports, 0, sizeof(ports));
    nports = mg_get_server_ports(server->ctx, (int)(sizeof(ports) / sizeof(ports[0])), ports);
    server->port = nports > 0 ? ports[0].port : cfg->listen_port;
    /* the maintenance thread keeps the TimescaleDB families of /metrics fresh */
    tsp_ts_snapshot_start(server->api.ts, cfg->timescaledb_refresh_ms);
    *out = server;
    server = NULL;
done:
    if (server != NULL) {
        tsp_tokens_free(server->api.tokens);
        tsp_ts_free(server->api.ts);
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

void tsp_http_stop(struct tsp_http_server *server)
{
    if (server == NULL) {
        return;
    }
    mg_stop(server->ctx);
    mg_exit_library();
    tsp_tokens_free(server->api.tokens);
    tsp_ts_free(server->api.ts);
    free(server);
}
