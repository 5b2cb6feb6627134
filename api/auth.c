/* api/auth.c - bearer tokens: constant-time comparison, read and admin roles, 401 vs 403.
 * Tokens never appear in a response or a log line.
 * SPDX-License-Identifier: MIT
 */
#include "api_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool tsp_auth_equal(const char *a, const char *b)
{
    size_t alen = strlen(a);
    size_t blen = strlen(b);
    /* walk the longer string entirely, so the time depends on lengths only */
    size_t n = alen > blen ? alen : blen;
    unsigned char diff = (unsigned char)(alen != blen);

    for (size_t i = 0; i < n; i++) {
        unsigned char ca = i < alen ? (unsigned char)a[i] : 0;
        unsigned char cb = i < blen ? (unsigned char)b[i] : 0;
        diff |= (unsigned char)(ca ^ cb);
    }
    return diff == 0;
}

static bool token_set(const char *token)
{
    return token != NULL && token[0] != '\0';
}

/* The token of "Bearer <token>", or NULL when the header is missing or not Bearer. */
static const char *bearer_token(const char *authorization)
{
    if (authorization == NULL || strncasecmp(authorization, "Bearer ", 7) != 0) {
        return NULL;
    }
    authorization += 7;
    while (*authorization == ' ') {
        authorization++;
    }
    return authorization[0] != '\0' ? authorization : NULL;
}

enum tsp_code tsp_auth_check(const struct tsp_config *cfg, enum tsp_role role,
                             const char *authorization, struct tsp_error *err)
{
    return tsp_auth_check_tokens(cfg, cfg->admin_token, cfg->read_token, role, authorization, err);
}

enum tsp_code tsp_auth_check_tokens(const struct tsp_config *cfg, const char *admin_token,
                                    const char *read_token, enum tsp_role role,
                                    const char *authorization, struct tsp_error *err)
{
    const char *token = NULL;
    bool is_admin = false;
    bool is_read = false;

    if (role == TSP_ROLE_PUBLIC || (role == TSP_ROLE_PROBE && cfg->public_probes) ||
        (role == TSP_ROLE_METRICS && cfg->public_metrics)) {
        return TSP_OK;
    }
    if (role != TSP_ROLE_ADMIN && !token_set(read_token)) {
        /* no read token configured: reads are open */
        return TSP_OK;
    }
    if (role == TSP_ROLE_ADMIN && !token_set(admin_token)) {
        return tsp_error_set(err, TSP_FORBIDDEN, NULL,
                             "admin endpoints are disabled: TSPOOL_ADMIN_TOKEN is not set");
    }
    token = bearer_token(authorization);
    if (token == NULL) {
        return tsp_error_set(err, TSP_UNAUTHORIZED, "Authorization",
                             "a bearer token is required (Authorization: Bearer <token>)");
    }
    /* compare against both tokens every time: the timing does not tell which one matched */
    is_admin = token_set(admin_token) && tsp_auth_equal(token, admin_token);
    is_read = token_set(read_token) && tsp_auth_equal(token, read_token);
    if (!is_admin && !is_read) {
        return tsp_error_set(err, TSP_UNAUTHORIZED, "Authorization",
                             "the bearer token is not valid");
    }
    if (role == TSP_ROLE_ADMIN && !is_admin) {
        return tsp_error_set(err, TSP_FORBIDDEN, NULL, "this operation needs the admin token");
    }
    return TSP_OK;
}

int tsp_auth_require(struct tsp_req *req, enum tsp_role role)
{
    struct tsp_error err;
    const struct tsp_config *cfg = req->api->cfg;
    char *admin = NULL;
    char *read_tok = NULL;
    enum tsp_code rc = TSP_OK;

    if (role == TSP_ROLE_PUBLIC || (role == TSP_ROLE_PROBE && cfg->public_probes) ||
        (role == TSP_ROLE_METRICS && cfg->public_metrics)) {
        return 0; /* open routes do not touch the token files */
    }
    tsp_error_init(&err);
    if (req->api->tokens == NULL) {
        rc = tsp_auth_check(cfg, role, tsp_req_header(req, "Authorization"), &err);
    } else if (!tsp_tokens_get(req->api->tokens, &admin, &read_tok)) {
        rc = tsp_error_set(&err, TSP_NO_MEMORY, NULL, "out of memory checking the token");
    } else {
        rc = tsp_auth_check_tokens(cfg, admin, read_tok, role, tsp_req_header(req, "Authorization"),
                                   &err);
    }
    free(admin);
    free(read_tok);
    if (rc == TSP_OK) {
        return 0;
    }
    return tsp_problem_send(req, &err, NULL);
}

bool tsp_auth_is_admin(struct tsp_req *req)
{
    struct tsp_error err;
    char *admin = NULL;
    char *read_tok = NULL;
    enum tsp_code rc = TSP_OK;

    tsp_error_init(&err);
    if (req->api->tokens == NULL) {
        rc = tsp_auth_check(req->api->cfg, TSP_ROLE_ADMIN, tsp_req_header(req, "Authorization"),
                            &err);
    } else if (!tsp_tokens_get(req->api->tokens, &admin, &read_tok)) {
        rc = TSP_NO_MEMORY;
    } else {
        rc = tsp_auth_check_tokens(req->api->cfg, admin, read_tok, TSP_ROLE_ADMIN,
                                   tsp_req_header(req, "Authorization"), &err);
    }
    free(admin);
    free(read_tok);
    return rc == TSP_OK;
}
