/* api/api_int.h - declarations shared inside api/ only: the request record, the route table
 * types, and the helpers every handler uses (auth, request parsing, responses, problems).
 * SPDX-License-Identifier: MIT
 */
#ifndef TSPOOL_API_INT_H
#define TSPOOL_API_INT_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tspool/activity.h"
#include "tspool/config.h"
#include "tspool/error.h"
#include "tspool/health.h"
#include "tspool/metrics.h"
#include "tspool/pgbouncer.h"
#include "tspool/pool.h"
#include "tspool/replicas.h"
#include "tspool/timescale.h"

struct mg_connection;
struct tsp_tokens;

/* Who may call a route. */
enum tsp_role {
    TSP_ROLE_PUBLIC = 0, /* always open (/openapi.yaml) */
    TSP_ROLE_PROBE,      /* open when TSPOOL_PUBLIC_PROBES, else as READ */
    TSP_ROLE_METRICS,    /* open when TSPOOL_PUBLIC_METRICS, else as READ */
    TSP_ROLE_READ,       /* read or admin token; open when no read token is configured */
    TSP_ROLE_ADMIN,      /* admin token only; refused when no admin token is configured */
};

/* Everything a handler may reach, shared by all worker threads (read-only after start). */
struct tsp_api {
    const struct tsp_config *cfg;
    struct tsp_pool *pool;
    struct tsp_health *health;
    struct tsp_metrics *metrics;
    int http_threads;                     /* worker threads, for the keep-alive fairness rule */
    const atomic_int *active_connections; /* connections held by workers (server.c) */
    const atomic_bool *draining;          /* shutting down: refuse new requests (server.c) */
    struct tsp_ts *ts;                    /* TimescaleDB operations over pool (server.c) */
    struct tsp_cluster *cluster;          /* the read pool and the cluster's topology */
    struct tsp_tokens *tokens;            /* bearer tokens following their *_FILE; NULL = cfg's */
    atomic_int *db_inflight;              /* requests of needs_db routes being served */
    const atomic_long *failed_handshakes; /* connections closed before set-up (server.c) */
    int db_max_inflight;                  /* more than this answer 503 at once; 0 = no bound */
    bool probe_only;                      /* the probe listener: probes and /metrics only */
    struct tsp_pgb_fleet *pgbouncer;      /* PgBouncer fleet; NULL or disabled when off */
    struct tsp_activity *activity;        /* the server activity sampler (serve.c) */
};

#define TSP_ROUTE_MAX_PARAMS 4
#define TSP_REQUEST_ID_MAX   64
#define TSP_BODY_LIMIT       (64 * 1024)

struct tsp_route_param {
    const char *name; /* from the pattern, static */
    char value[128];  /* the path segment (already URL-decoded by CivetWeb) */
};

struct tsp_route_params {
    size_t count;
    struct tsp_route_param items[TSP_ROUTE_MAX_PARAMS];
};

/* One request being served; lives on the worker's stack for the duration of the request. */
struct tsp_req {
    struct mg_connection *conn; /* NULL in unit tests */
    const struct tsp_api *api;
    const char *method;
    const char *path;
    const char *query; /* after '?', or NULL */
    char request_id[TSP_REQUEST_ID_MAX + 1];
    const struct tsp_route *route; /* the matched row, once routed (NULL before) */
    struct tsp_route_params params;
    bool close_connection; /* answer with Connection: close and end keep-alive */
    bool keep_alive_10;    /* HTTP/1.0 client asked for keep-alive */
};

/* A handler answers the request and returns the HTTP status it sent. */
typedef int (*tsp_handler_fn)(struct tsp_req *req);

struct tsp_route {
    const char *method;
    const char *pattern; /* "/readyz/{check}"; {name} matches one non-empty segment */
    tsp_handler_fn handler;
    enum tsp_role role;
    const char *operation_id; /* equals the operationId in openapi.yaml */
    bool needs_db; /* waits on the database: counted against TSPOOL_HTTP_DB_MAX_INFLIGHT */
};

enum tsp_route_match {
    TSP_ROUTE_FOUND = 0,
    TSP_ROUTE_NOT_FOUND,  /* no pattern matches the path */
    TSP_ROUTE_BAD_METHOD, /* the path exists with other methods: 405 + Allow */
};

/* router.c ------------------------------------------------------------------------------ */

/* Match method + path against the static table. On TSP_ROUTE_FOUND *route is the row and
 * params holds the path parameters; on TSP_ROUTE_BAD_METHOD allow holds "GET, POST" (the
 * methods the path accepts). Pure and thread-safe. */
enum tsp_route_match tsp_router_match(const char *method, const char *path,
                                      const struct tsp_route **route,
                                      struct tsp_route_params *params, char *allow,
                                      size_t allow_size);
/* Match one pattern against a path; fills params on success. Pure. */
bool tsp_router_pattern_match(const char *pattern, const char *path,
                              struct tsp_route_params *params);
/* The table, for metrics labels and the OpenAPI consistency test. Static data. */
size_t tsp_router_count(void);
const struct tsp_route *tsp_router_at(size_t i);
/* Index of a row in the table (metrics label index). */
size_t tsp_router_index(const struct tsp_route *route);

/* request.c ----------------------------------------------------------------------------- */

/* Value of path parameter `name` (filled by the router), or NULL. Pure. */
const char *tsp_req_param(const struct tsp_req *req, const char *name);

/* True when s is a sane request id: 1..64 characters of [A-Za-z0-9._-]. Pure. */
bool tsp_request_id_valid(const char *s);
/* Write a new unique request id (32 hex characters) into out (>= 33 bytes). Thread-safe. */
void tsp_request_id_generate(char *out, size_t outsize);
/* Find `name` in a query string ("a=1&b&c=x%20y"), URL-decoding the value into out.
 * `nth` selects among repeated names (0 = first). A name without '=' has the value "".
 * Returns the value length, -1 when absent, -2 when it does not fit. Pure. */
int tsp_query_get(const char *query, const char *name, int nth, char *out, size_t outsize);
/* True when the parameter `name` appears more than once in the query string. Pure. */
bool tsp_query_repeated(const char *query, const char *name);
/* A query flag: absent -> false; "", "1", "true", "yes" -> true; "0", "false", "no" -> false;
 * given more than once or anything else: TSP_INVALID naming the parameter. */
enum tsp_code tsp_query_bool(const char *query, const char *name, bool *out,
                             struct tsp_error *err) TSP_MUSTCHECK;
/* True when a Content-Type header value is application/json (parameters allowed). Pure. */
bool tsp_content_type_is_json(const char *value);
/* Parse a JSON request body from a buffer: TSP_INVALID with the position on a parse error
 * or when the document is not an object. On TSP_OK *out is a new reference. Pure. */
enum tsp_code tsp_json_parse_body(const char *body, size_t len, json_t **out,
                                  struct tsp_error *err) TSP_MUSTCHECK;
/* Read the request body as JSON: 415 unless Content-Type is JSON, 413 beyond 64 KiB, 400
 * on parse errors. On TSP_OK *out is a new reference (json_decref it). */
enum tsp_code tsp_req_read_json(struct tsp_req *req, json_t **out,
                                struct tsp_error *err) TSP_MUSTCHECK;
/* Header value of the request, or NULL. */
const char *tsp_req_header(const struct tsp_req *req, const char *name);

/* response.c ---------------------------------------------------------------------------- */

/* Reason phrase of a status ("OK", "Not Found"). Static string. */
const char *tsp_http_reason(int status);
/* Build the whole response (status line, headers, body) into one malloc'd buffer: standard
 * headers Content-Type, Content-Length (not on a 304), X-Request-Id, Cache-Control: no-store
 * (unless extra_headers has its own Cache-Control), X-Content-Type-Options: nosniff,
 * Connection when needed, plus `extra_headers` ("Name: value\r\n" lines, may be NULL). *out
 * is freed by the caller. Returns TSP_OK or TSP_NO_MEMORY. Pure. */
enum tsp_code tsp_response_build(const struct tsp_req *req, int status, const char *content_type,
                                 const char *extra_headers, const char *body, size_t body_len,
                                 char **out, size_t *out_len) TSP_MUSTCHECK;
/* Send a response in one write. Returns `status` (for the access log). */
int tsp_respond(struct tsp_req *req, int status, const char *content_type,
                const char *extra_headers, const char *body, size_t body_len);
/* Serialise json (not consumed) and send it as application/json; when that runs out of memory,
 * a fixed problem document (500). Returns the status. */
int tsp_respond_json(struct tsp_req *req, int status, const json_t *json);
/* tsp_respond_json with extra headers ("Name: value\r\n" lines, may be NULL). */
int tsp_respond_json_headers(struct tsp_req *req, int status, const json_t *json,
                             const char *extra_headers);
/* Send the fixed, allocation-free 500 "out of memory" problem document. Returns 500. Used by
 * problem.c and here, so that response.c never calls back into problem.c. */
int tsp_respond_oom(struct tsp_req *req);
/* Send text/plain; charset=utf-8. Returns the status. */
int tsp_respond_text(struct tsp_req *req, int status, const char *text);

/* problem.c ----------------------------------------------------------------------------- */

/* The RFC 9457 body for err: type, title, status, detail, instance, plus code, field,
 * sqlstate and request_id extensions. New reference, NULL on out of memory. Pure. */
json_t *tsp_problem_build(const struct tsp_error *err, const char *instance,
                          const char *request_id);
/* Extra headers a problem needs ("Retry-After: 1\r\n" for 503s), or "". Static string. */
const char *tsp_problem_headers(enum tsp_code code);
/* Answer the request with err as application/problem+json; extra_headers may be NULL.
 * Returns the HTTP status sent. The only place an error becomes HTTP. */
int tsp_problem_send(struct tsp_req *req, const struct tsp_error *err, const char *extra_headers);
/* The error code whose HTTP status is `status` (400 -> TSP_INVALID, 413 -> TSP_TOO_LARGE, ...);
 * other 4xx and 505 -> TSP_INVALID; TSP_INTERNAL otherwise. Pure. */
enum tsp_code tsp_problem_code_for_status(int status);
/* Shorthand: set a fresh error (code, field, detail) and send it. Returns the status. */
int tsp_problem_sendf(struct tsp_req *req, enum tsp_code code, const char *field, const char *fmt,
                      ...) TSP_PRINTF(4, 5);

/* auth.c -------------------------------------------------------------------------------- */

/* Compare two strings in time independent of where they differ. Pure. */
bool tsp_auth_equal(const char *a, const char *b);
/* Decide whether an Authorization header value satisfies `role` under cfg: TSP_OK,
 * TSP_UNAUTHORIZED (missing or unknown token) or TSP_FORBIDDEN (valid token, too weak, or
 * admin endpoints disabled). Pure. */
enum tsp_code tsp_auth_check(const struct tsp_config *cfg, enum tsp_role role,
                             const char *authorization, struct tsp_error *err) TSP_MUSTCHECK;
/* tsp_auth_check with the tokens given explicitly (NULL = unset) instead of cfg's. Pure. */
enum tsp_code tsp_auth_check_tokens(const struct tsp_config *cfg, const char *admin_token,
                                    const char *read_token, enum tsp_role role,
                                    const char *authorization, struct tsp_error *err) TSP_MUSTCHECK;
/* True when the request carries the admin token (for what a read route shows only to
 * admins, such as query texts). Sends nothing. */
bool tsp_auth_is_admin(struct tsp_req *req);
/* Authorize the request for role; on failure sends 401 (with WWW-Authenticate) or 403 and
 * returns the status sent, else returns 0. */
int tsp_auth_require(struct tsp_req *req, enum tsp_role role);

/* tokens.c ------------------------------------------------------------------------------ */

/* The bearer tokens of cfg, watching TSPOOL_ADMIN_TOKEN_FILE / TSPOOL_READ_TOKEN_FILE when
 * the tokens came from those files: a changed file is re-read (at most once a second) and
 * its token replaces the old one; an unreadable, empty or oversized file keeps the old one
 * (logged, without the token). NULL on out of memory. Free with tsp_tokens_free (NULL ok). */
struct tsp_tokens *tsp_tokens_new(const struct tsp_config *cfg);
void tsp_tokens_free(struct tsp_tokens *t);
/* Copies of the current admin and read tokens (malloc'd, NULL when unset; free them).
 * Returns false on out of memory (both NULL). Thread-safe; may stat/read the files. */
bool tsp_tokens_get(struct tsp_tokens *t, char **admin, char **read);

/* tls.c --------------------------------------------------------------------------------- */

/* With TSPOOL_TLS_CERT_FILE set: load the certificate chain and key into a scratch context
 * and check that they belong together. TSP_INVALID naming the variable and file, with
 * OpenSSL's reason. TSP_OK at once without TLS. */
enum tsp_code tsp_tls_check(const struct tsp_config *cfg, struct tsp_error *err) TSP_MUSTCHECK;
/* Load libtspool-crypto.so and libtspool-ssl.so from the binary's directory (see
 * api/sslcompat/ssl_compat.c): Debian's CivetWeb 1.15 then finds an OpenSSL 3 it can use.
 * Call before mg_init_library. TSP_IO with dlerror's text when they are missing. */
enum tsp_code tsp_tls_load_compat(struct tsp_error *err) TSP_MUSTCHECK;
/* The listener's certificate pair, following TSPOOL_TLS_CERT_FILE and TSPOOL_TLS_KEY_FILE:
 * when either file changes (looked at, at most once a second, by a handshake) both are read
 * again and, when they belong together, serve every new handshake; connections already
 * open keep theirs. A pair that cannot be used is logged and the previous one stays. cfg
 * must outlive it. NULL on out of memory. Free with tsp_tls_free (NULL ok) after the server
 * stopped. Thread-safe. */
struct tsp_tls;
struct tsp_tls *tsp_tls_new(const struct tsp_config *cfg);
void tsp_tls_free(struct tsp_tls *tls);
/* CivetWeb's init_ssl: load chain, key and TSPOOL_TLS_MIN_VERSION into its SSL_CTX and
 * install the reloading certificate callback. Returns 1 (done) or -1 (failed). */
int tsp_tls_init_ctx(void *ssl_ctx, struct tsp_tls *tls);

/* dispatch.c ---------------------------------------------------------------------------- */

/* Serve one request: request id, route, authorization, handler, metrics and access log.
 * Returns the status sent. */
int tsp_dispatch(const struct tsp_api *api, struct mg_connection *conn);

/* ui_handlers.c ------------------------------------------------------------------------- */

/* One dashboard file compiled into the binary. */
struct tsp_ui_asset {
    const char *name; /* "index.html", "app.js", "style.css" */
    const unsigned char *data;
    const size_t *len; /* the generated length (excludes the trailing NUL) */
    const char *content_type;
};

/* The dashboard file called name, or NULL. Static data. */
const struct tsp_ui_asset *tsp_ui_asset_find(const char *name);
/* The strong entity tag of an asset ("\"<16 hex digits>\"", a hash of the content) into out
 * (>= 19 bytes). Pure. */
void tsp_ui_etag(const struct tsp_ui_asset *asset, char *out, size_t outsize);
/* True when an If-None-Match header value (may be NULL) matches etag, or is "*". Pure. */
bool tsp_ui_not_modified(const char *if_none_match, const char *etag);
/* The Content-Security-Policy sent with every dashboard file. Static string. */
const char *tsp_ui_csp(void);

/* handlers (one file per resource group) ------------------------------------------------ */
int tsp_h_livez(struct tsp_req *req);
int tsp_h_readyz(struct tsp_req *req);
int tsp_h_startupz(struct tsp_req *req);
int tsp_h_healthz(struct tsp_req *req);
int tsp_h_pool_status(struct tsp_req *req);
int tsp_h_pool_ping(struct tsp_req *req);
int tsp_h_pool_pause(struct tsp_req *req);
int tsp_h_pool_resume(struct tsp_req *req);
int tsp_h_pool_recycle(struct tsp_req *req);
int tsp_h_pool_patch(struct tsp_req *req);
int tsp_h_config(struct tsp_req *req);
int tsp_h_cluster(struct tsp_req *req);
int tsp_h_readyz_replica(struct tsp_req *req);
int tsp_h_readyz_primary(struct tsp_req *req);
int tsp_h_metrics(struct tsp_req *req);
int tsp_h_openapi(struct tsp_req *req);
int tsp_h_docs(struct tsp_req *req);
int tsp_h_ui_index(struct tsp_req *req);
int tsp_h_ui_asset(struct tsp_req *req);

/* PgBouncer: pgbouncer_handlers.c */
int tsp_h_pgbouncer(struct tsp_req *req);
int tsp_h_pgbouncer_pools(struct tsp_req *req);
int tsp_h_pgbouncer_stats(struct tsp_req *req);
int tsp_h_pgbouncer_databases(struct tsp_req *req);
int tsp_h_pgbouncer_servers(struct tsp_req *req);
int tsp_h_pgbouncer_clients(struct tsp_req *req);
int tsp_h_pgbouncer_config(struct tsp_req *req);
int tsp_h_pgbouncer_pause(struct tsp_req *req);
int tsp_h_pgbouncer_resume(struct tsp_req *req);
int tsp_h_pgbouncer_reconnect(struct tsp_req *req);
int tsp_h_pgbouncer_reload(struct tsp_req *req);
int tsp_h_pgbouncer_disable(struct tsp_req *req);
int tsp_h_pgbouncer_enable(struct tsp_req *req);
int tsp_h_pgbouncer_kill(struct tsp_req *req);

/* TimescaleDB: every route of it, through the operations table (ts_handlers.c,
 * ts_operations.c); the row is found by the route's operationId. */
int tsp_h_timescale(struct tsp_req *req);

/* Server activity: activity_handlers.c */
int tsp_h_server_activity(struct tsp_req *req);
int tsp_h_server_statements(struct tsp_req *req);
int tsp_h_session_cancel(struct tsp_req *req);
int tsp_h_session_terminate(struct tsp_req *req);

#endif /* TSPOOL_API_INT_H */
