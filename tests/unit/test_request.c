/* test_request.c - unit tests of request ids, query parsing, Content-Type and JSON body
 * parsing (the pure parts of api/request.c).
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <string.h>

#include "api_int.h"

static void test_tsp_request_id_valid_cases(void **state)
{
    char long_id[80];
    (void)state;

    assert_true(tsp_request_id_valid("abc-DEF_1.2"));
    assert_false(tsp_request_id_valid(""));
    assert_false(tsp_request_id_valid(NULL));
    assert_false(tsp_request_id_valid("has space"));
    assert_false(tsp_request_id_valid("inject\r\nX: y"));
    assert_false(tsp_request_id_valid("quote\""));
    memset(long_id, 'a', 64);
    long_id[64] = '\0';
    assert_true(tsp_request_id_valid(long_id));
    long_id[64] = 'a';
    long_id[65] = '\0';
    assert_false(tsp_request_id_valid(long_id));
}

static void test_tsp_request_id_generate_unique_and_valid(void **state)
{
    char a[TSP_REQUEST_ID_MAX + 1];
    char b[TSP_REQUEST_ID_MAX + 1];
    (void)state;

    tsp_request_id_generate(a, sizeof(a));
    tsp_request_id_generate(b, sizeof(b));
    assert_int_equal(strlen(a), 32);
    assert_true(tsp_request_id_valid(a));
    assert_string_not_equal(a, b);
    assert_memory_equal(a, b, 16); /* same process prefix */
}

static void test_tsp_query_get_cases(void **state)
{
    char v[32];
    (void)state;

    assert_int_equal(tsp_query_get("verbose", "verbose", 0, v, sizeof(v)), 0);
    assert_string_equal(v, "");
    assert_int_equal(tsp_query_get("a=1&detailed=true", "detailed", 0, v, sizeof(v)), 4);
    assert_string_equal(v, "true");
    assert_int_equal(tsp_query_get("exclude=db&exclude=pool", "exclude", 1, v, sizeof(v)), 4);
    assert_string_equal(v, "pool");
    assert_int_equal(tsp_query_get("exclude=db", "exclude", 1, v, sizeof(v)), -1);
    assert_int_equal(tsp_query_get("x=a%20b+c", "x", 0, v, sizeof(v)), 5);
    assert_string_equal(v, "a b c");
    assert_int_equal(tsp_query_get("verbosee=1", "verbose", 0, v, sizeof(v)), -1);
    assert_int_equal(tsp_query_get(NULL, "verbose", 0, v, sizeof(v)), -1);
    assert_int_equal(tsp_query_get("x=0123456789", "x", 0, v, 4), -2);
}

static void test_tsp_query_bool_cases(void **state)
{
    struct tsp_error err;
    bool b = true;
    (void)state;

    tsp_error_init(&err);
    assert_int_equal(tsp_query_bool("", "detailed", &b, &err), TSP_OK);
    assert_false(b);
    assert_int_equal(tsp_query_bool("detailed", "detailed", &b, &err), TSP_OK);
    assert_true(b);
    assert_int_equal(tsp_query_bool("detailed=false", "detailed", &b, &err), TSP_OK);
    assert_false(b);
    assert_int_equal(tsp_query_bool("detailed=maybe", "detailed", &b, &err), TSP_INVALID);
    assert_string_equal(err.field, "detailed");
}

static void test_tsp_query_bool_repeated_is_invalid(void **state)
{
    struct tsp_error err;
    bool b = false;
    (void)state;

    tsp_error_init(&err);
    assert_int_equal(tsp_query_bool("detailed=true&detailed=false", "detailed", &b, &err),
                     TSP_INVALID);
    assert_string_equal(err.field, "detailed");
    assert_string_equal(err.detail, "query parameter 'detailed' is given more than once");
    assert_false(b);
}

static void test_tsp_query_repeated_cases(void **state)
{
    (void)state;
    assert_true(tsp_query_repeated("a=1&a=2", "a"));
    assert_true(tsp_query_repeated("a&x=1&a=0123456789012345", "a"));
    assert_false(tsp_query_repeated("a=1&aa=2", "a"));
    assert_false(tsp_query_repeated("a=1", "a"));
    assert_false(tsp_query_repeated(NULL, "a"));
}

static void test_tsp_content_type_is_json_cases(void **state)
{
    (void)state;
    assert_true(tsp_content_type_is_json("application/json"));
    assert_true(tsp_content_type_is_json("Application/JSON; charset=utf-8"));
    assert_false(tsp_content_type_is_json("application/jsonx"));
    assert_false(tsp_content_type_is_json("text/plain"));
    assert_false(tsp_content_type_is_json(NULL));
}

static void test_tsp_json_parse_body_reports_position(void **state)
{
    struct tsp_error err;
    json_t *doc = NULL;
    (void)state;

    tsp_error_init(&err);
    assert_int_equal(tsp_json_parse_body("{\"size\": 5,}", 12, &doc, &err), TSP_INVALID);
    assert_null(doc);
    assert_string_equal(err.field, "body");
    assert_non_null(strstr(err.detail, "invalid JSON at line 1, column 12"));
    tsp_error_init(&err);
    assert_int_equal(tsp_json_parse_body("[1]", 3, &doc, &err), TSP_INVALID);
    assert_string_equal(err.detail, "request body must be a JSON object");
    tsp_error_init(&err);
    assert_int_equal(tsp_json_parse_body("", 0, &doc, &err), TSP_INVALID);
    tsp_error_init(&err);
    assert_int_equal(tsp_json_parse_body("{\"size\":5}", 10, &doc, &err), TSP_OK);
    assert_int_equal(json_integer_value(json_object_get(doc, "size")), 5);
    json_decref(doc);
}

/* {"a":[[...]]} with `levels` levels in all (the object is one). */
static size_t nested(char *out, size_t size, int levels)
{
    size_t n = (size_t)snprintf(out, size, "{\"a\":");
    for (int i = 1; i < levels; i++) {
        out[n++] = '[';
    }
    for (int i = 1; i < levels; i++) {
        out[n++] = ']';
    }
    out[n++] = '}';
    out[n] = '\0';
    return n;
}

/* Depth is counted outside strings only; 32 levels pass, 33 do not; a NUL byte is refused. */
static void test_tsp_json_parse_body_depth_and_nul(void **state)
{
    static const char in_string[] = "{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"\"}";
    char deep[200];
    struct tsp_error err;
    json_t *doc = NULL;
    size_t n = 0;
    (void)state;

    n = nested(deep, sizeof(deep), 32);
    tsp_error_init(&err);
    assert_int_equal(tsp_json_parse_body(deep, n, &doc, &err), TSP_OK);
    json_decref(doc);
    doc = NULL;

    n = nested(deep, sizeof(deep), 33);
    tsp_error_init(&err);
    assert_int_equal(tsp_json_parse_body(deep, n, &doc, &err), TSP_INVALID);
    assert_null(doc);
    assert_string_equal(err.detail, "JSON nested deeper than 32 levels");

    tsp_error_init(&err);
    assert_int_equal(tsp_json_parse_body(in_string, sizeof(in_string) - 1, &doc, &err), TSP_OK);
    json_decref(doc);
    doc = NULL;

    tsp_error_init(&err);
    assert_int_equal(tsp_json_parse_body("{\"size\":2\0}", 11, &doc, &err), TSP_INVALID);
    assert_string_equal(err.detail, "request body contains a NUL byte");
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsp_request_id_valid_cases),
        cmocka_unit_test(test_tsp_request_id_generate_unique_and_valid),
        cmocka_unit_test(test_tsp_query_get_cases),
        cmocka_unit_test(test_tsp_query_bool_cases),
        cmocka_unit_test(test_tsp_query_bool_repeated_is_invalid),
        cmocka_unit_test(test_tsp_query_repeated_cases),
        cmocka_unit_test(test_tsp_content_type_is_json_cases),
        cmocka_unit_test(test_tsp_json_parse_body_reports_position),
        cmocka_unit_test(test_tsp_json_parse_body_depth_and_nul),
    };
    return cmocka_run_group_tests_name("request", tests, NULL, NULL);
}
