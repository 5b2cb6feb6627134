/* cli/http_client_int.h - the libcurl wrapper the CLI subcommands use to reach a running
 * service (inside cli/ only; the HTTP server side lives in api/).
 * SPDX-License-Identifier: MIT
 */
#ifndef TSPOOL_HTTP_CLIENT_INT_H
#define TSPOOL_HTTP_CLIENT_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "tspool/error.h"

struct tsp_http_reply {
    long status; /* HTTP status */
    char *body;  /* NUL-terminated, malloc'd */
    size_t len;
};

/* GET base_url + path with an optional bearer token and a total timeout. Errors:
 * TSP_UNAVAILABLE (connection refused, DNS, timeout) with curl's message. On TSP_OK *out
 * holds the reply (any status) to release with tsp_http_reply_fini(). */
enum tsp_code tsp_http_get(const char *base_url, const char *path, const char *token,
                           long timeout_ms, struct tsp_http_reply *out,
                           struct tsp_error *err) TSP_MUSTCHECK;

/* Any method: json_body (NULL = none) is sent as application/json. Otherwise as
 * tsp_http_get (which is this with "GET" and no body). Blocks up to timeout_ms. */
enum tsp_code tsp_http_request(const char *method, const char *base_url, const char *path,
                               const char *token, const char *json_body, long timeout_ms,
                               struct tsp_http_reply *out, struct tsp_error *err) TSP_MUSTCHECK;

/* Consume an option every client subcommand shares at argv[*i]: --url URL, --url=URL or
 * --timeout S (a positive number of seconds). Returns true (and moves *i past a value it
 * took) when it was one; false otherwise, also for an incomplete or invalid one. Pure. */
bool tsp_http_client_option(int argc, char **argv, int *i, const char **url, long *timeout_s);

/* Free the body; reply may be zeroed. */
void tsp_http_reply_fini(struct tsp_http_reply *reply);

/* The service URL for the CLI: `explicit_url` when given, else TSPOOL_URL, else built from
 * TSPOOL_LISTEN (0.0.0.0 and :: become 127.0.0.1), else http://127.0.0.1:8080. Writes into
 * out (NUL-terminated). */
void tsp_http_default_url(const char *explicit_url, char *out, size_t outsize);

/* The token for reads: TSPOOL_READ_TOKEN (or the file TSPOOL_READ_TOKEN_FILE names), else
 * TSPOOL_ADMIN_TOKEN (or TSPOOL_ADMIN_TOKEN_FILE), else NULL. Not thread-safe (CLI only). */
const char *tsp_http_read_token(void);

/* The token for changes: TSPOOL_ADMIN_TOKEN (or the file TSPOOL_ADMIN_TOKEN_FILE names), else
 * NULL. Not thread-safe (CLI only). */
const char *tsp_http_admin_token(void);

/* The admin token first (TSPOOL_ADMIN_TOKEN or its _FILE), else the read token, else NULL:
 * for reads that show more to admins (query texts in `tspool top`). Not thread-safe. */
const char *tsp_http_admin_first_token(void);

#endif /* TSPOOL_HTTP_CLIENT_INT_H */
