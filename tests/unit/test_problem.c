/* test_problem.c - unit tests of RFC 9457 problem documents, their extra headers, and the
 * one-buffer response builder (status line, standard headers, body).
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <stdlib.h>
#include <string.h>

#include "api_int.h"

static void test_tsp_problem_build_pool_exhausted(void **state)
{
    struct tsp_error err;
    json_t *doc = NULL;
    (void)state;

    tsp_error_init(&err);
    (void)tsp_error_set(&err, TSP_POOL_EXHAUSTED, NULL, "no connection within 1000 ms");
    doc = tsp_problem_build(&err, "/pool/ping", "req-1");
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "type")),
                        "urn:tspool:problem:pool-exhausted");
    assert_string_equal(json_string_value(json_object_get(doc, "title")),
                        "Connection pool exhausted");
    assert_int_equal(json_integer_value(json_object_get(doc, "status")), 503);
    assert_string_equal(json_string_value(json_object_get(doc, "detail")),
                        "no connection within 1000 ms");
    assert_string_equal(json_string_value(json_object_get(doc, "instance")), "/pool/ping");
    assert_string_equal(json_string_value(json_object_get(doc, "code")), "POOL_EXHAUSTED");
    assert_string_equal(json_string_value(json_object_get(doc, "request_id")), "req-1");
    assert_null(json_object_get(doc, "field"));
    assert_null(json_object_get(doc, "sqlstate"));
    json_decref(doc);
}

static void test_tsp_problem_build_field_and_sqlstate(void **state)
{
    struct tsp_error err;
    json_t *doc = NULL;
    (void)state;

    tsp_error_init(&err);
    (void)tsp_error_set(&err, TSP_DB_ERROR, "size", "boom");
    tsp_error_set_sqlstate(&err, "XX000");
    doc = tsp_problem_build(&err, NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(doc, "field")), "size");
    assert_string_equal(json_string_value(json_object_get(doc, "sqlstate")), "XX000");
    assert_int_equal(json_integer_value(json_object_get(doc, "status")), 502);
    assert_null(json_object_get(doc, "instance"));
    json_decref(doc);
}

static void test_tsp_problem_build_ok_code_becomes_internal(void **state)
{
    struct tsp_error err;
    json_t *doc = NULL;
    (void)state;

    tsp_error_init(&err);
    doc = tsp_problem_build(&err, "/x", "r");
    assert_int_equal(json_integer_value(json_object_get(doc, "status")), 500);
    assert_string_equal(json_string_value(json_object_get(doc, "detail")), "Internal error");
    json_decref(doc);
}

/* GET /%ff: the instance (and a server message) are not UTF-8; the document is still built,
 * with U+FFFD in their place, never "500 Out of memory". */
static void test_tsp_problem_build_invalid_utf8(void **state)
{
    struct tsp_error err;
    json_t *doc = NULL;
    (void)state;

    tsp_error_init(&err);
    (void)tsp_error_set(&err, TSP_NOT_FOUND, NULL, "no resource at /\xff");
    doc = tsp_problem_build(&err, "/\xff", "r");
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "instance")), "/\xef\xbf\xbd");
    assert_string_equal(json_string_value(json_object_get(doc, "detail")),
                        "no resource at /\xef\xbf\xbd");
    json_decref(doc);
}

/* 409 LOCK_NOT_AVAILABLE carries the blocking session. */
static void test_tsp_problem_build_lock_holder(void **state)
{
    struct tsp_error err;
    json_t *doc = NULL;
    (void)state;

    tsp_error_init(&err);
    (void)tsp_error_set(&err, TSP_LOCK_NOT_AVAILABLE, NULL, "held");
    err.blocking_pid = 4242;
    snprintf(err.blocking_application, sizeof(err.blocking_application), "report");
    doc = tsp_problem_build(&err, "/hypertables/metrics/compression", NULL);
    assert_non_null(doc);
    assert_int_equal(json_integer_value(json_object_get(doc, "status")), 409);
    assert_string_equal(json_string_value(json_object_get(doc, "code")), "LOCK_NOT_AVAILABLE");
    assert_int_equal(json_integer_value(json_object_get(doc, "blocking_pid")), 4242);
    assert_string_equal(json_string_value(json_object_get(doc, "blocking_application")), "report");
    json_decref(doc);
}

static void test_tsp_problem_headers_cases(void **state)
{
    (void)state;
    assert_string_equal(tsp_problem_headers(TSP_POOL_EXHAUSTED), "Retry-After: 1\r\n");
    assert_string_equal(tsp_problem_headers(TSP_DB_UNAVAILABLE), "Retry-After: 5\r\n");
    assert_string_equal(tsp_problem_headers(TSP_UNAUTHORIZED),
                        "WWW-Authenticate: Bearer realm=\"tspool\"\r\n");
    assert_string_equal(tsp_problem_headers(TSP_INVALID), "");
}

static void test_tsp_response_build_one_buffer(void **state)
{
    struct tsp_req req;
    char *buf = NULL;
    size_t len = 0;
    (void)state;

    memset(&req, 0, sizeof(req));
    strcpy(req.request_id, "abc");
    assert_int_equal(tsp_response_build(&req, 405, "application/problem+json", "Allow: GET\r\n",
                                        "{}", 2, &buf, &len),
                     TSP_OK);
    assert_string_equal(buf, "HTTP/1.1 405 Method Not Allowed\r\n"
                             "Content-Type: application/problem+json\r\n"
                             "Content-Length: 2\r\n"
                             "X-Request-Id: abc\r\n"
                             "Cache-Control: no-store\r\n"
                             "X-Content-Type-Options: nosniff\r\n"
                             "Allow: GET\r\n"
                             "\r\n"
                             "{}");
    assert_int_equal(len, strlen(buf));
    free(buf);
}

static void test_tsp_response_build_connection_close(void **state)
{
    struct tsp_req req;
    char *buf = NULL;
    size_t len = 0;
    (void)state;

    memset(&req, 0, sizeof(req));
    strcpy(req.request_id, "r");
    req.close_connection = true;
    assert_int_equal(tsp_response_build(&req, 200, "text/plain", NULL, "ok", 2, &buf, &len),
                     TSP_OK);
    assert_non_null(strstr(buf, "\r\nConnection: close\r\n\r\nok"));
    free(buf);
    req.close_connection = false;
    req.keep_alive_10 = true;
    assert_int_equal(tsp_response_build(&req, 200, "text/plain", NULL, "ok", 2, &buf, &len),
                     TSP_OK);
    assert_non_null(strstr(buf, "\r\nConnection: keep-alive\r\n\r\nok"));
    free(buf);
}

static void test_tsp_problem_code_for_status_cases(void **state)
{
    (void)state;
    assert_int_equal(tsp_problem_code_for_status(400), TSP_INVALID);
    assert_int_equal(tsp_problem_code_for_status(413), TSP_TOO_LARGE);
    assert_int_equal(tsp_problem_code_for_status(503), TSP_UNAVAILABLE);
    assert_int_equal(tsp_problem_code_for_status(500), TSP_INTERNAL);
    /* CivetWeb's own client-side refusals stay 4xx */
    assert_int_equal(tsp_problem_code_for_status(408), TSP_INVALID);
    assert_int_equal(tsp_problem_code_for_status(431), TSP_INVALID);
    assert_int_equal(tsp_problem_code_for_status(505), TSP_INVALID);
    assert_int_equal(tsp_problem_code_for_status(501), TSP_INTERNAL);
}

static void test_tsp_http_reason_cases(void **state)
{
    (void)state;
    assert_string_equal(tsp_http_reason(413), "Content Too Large");
    assert_string_equal(tsp_http_reason(503), "Service Unavailable");
    assert_string_equal(tsp_http_reason(299), "Unknown");
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsp_problem_build_pool_exhausted),
        cmocka_unit_test(test_tsp_problem_build_field_and_sqlstate),
        cmocka_unit_test(test_tsp_problem_build_ok_code_becomes_internal),
        cmocka_unit_test(test_tsp_problem_build_invalid_utf8),
        cmocka_unit_test(test_tsp_problem_build_lock_holder),
        cmocka_unit_test(test_tsp_problem_headers_cases),
        cmocka_unit_test(test_tsp_response_build_one_buffer),
        cmocka_unit_test(test_tsp_response_build_connection_close),
        cmocka_unit_test(test_tsp_problem_code_for_status_cases),
        cmocka_unit_test(test_tsp_http_reason_cases),
    };
    return cmocka_run_group_tests_name("problem", tests, NULL, NULL);
}
