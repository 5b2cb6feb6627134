/* http_client.h - libcurl helpers for tests: one request with method, headers and body;
 * the reply's status, headers and body (parsed as JSON on demand); and a checker of the
 * Prometheus text exposition format.
 * SPDX-License-Identifier: MIT
 */
#ifndef TSPOOL_TEST_HTTP_CLIENT_H
#define TSPOOL_TEST_HTTP_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct tsp_test_reply {
    long status;
    char *headers; /* raw header block of the final response, "Name: value\r\n" lines */
    char *body;    /* NUL-terminated */
    size_t body_len;
    json_t *json; /* parsed body when it is JSON, else NULL */
};

/* Send method to url. extra_headers is a NULL-terminated array of "Name: value" strings
 * (may be NULL); body may be NULL. Fails the test when the request cannot be sent. */
struct tsp_test_reply *tsp_test_http(const char *method, const char *url,
                                     const char *const *extra_headers, const char *body);
/* Like tsp_test_http, but returns NULL instead of failing when the server is unreachable. */
struct tsp_test_reply *tsp_test_http_try(const char *method, const char *url,
                                         const char *const *extra_headers, const char *body,
                                         long timeout_ms);
/* Shorthand GET with an optional bearer token (NULL = none). */
struct tsp_test_reply *tsp_test_get(const char *url, const char *token);
void tsp_test_reply_free(struct tsp_test_reply *reply);

/* Header value (case-insensitive name) copied into out; false when absent. */
bool tsp_test_reply_header(const struct tsp_test_reply *reply, const char *name, char *out,
                           size_t outsize);
/* String member of the JSON body, or NULL. */
const char *tsp_test_json_str(const struct tsp_test_reply *reply, const char *key);

/* Check a Prometheus text exposition (0.0.4): every line is a HELP/TYPE comment or a sample
 * matching the grammar, and every sample's family has HELP and TYPE lines before it. On
 * failure writes the offending line into why and returns false. */
bool tsp_test_prometheus_valid(const char *text, char *why, size_t whysize);

#endif /* TSPOOL_TEST_HTTP_CLIENT_H */
