/* test_error.c - unit tests of the error table and tsp_error_set()
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <string.h>

#include "tspool/error.h"

static void test_tsp_error_set_first_error_wins(void **state)
{
    struct tsp_error err;
    (void)state;

    tsp_error_init(&err);
    assert_int_equal(tsp_error_set(&err, TSP_INVALID, "size", "bad %d", 7), TSP_INVALID);
    assert_int_equal(tsp_error_set(&err, TSP_INTERNAL, "other", "second"), TSP_INTERNAL);
    assert_int_equal(err.code, TSP_INVALID);
    assert_string_equal(err.field, "size");
    assert_string_equal(err.detail, "bad 7");
}

static void test_tsp_error_set_null_err(void **state)
{
    (void)state;
    assert_int_equal(tsp_error_set(NULL, TSP_CONFLICT, NULL, "x"), TSP_CONFLICT);
}

static void test_tsp_error_set_null_field_is_empty(void **state)
{
    struct tsp_error err;
    (void)state;

    tsp_error_init(&err);
    (void)tsp_error_set(&err, TSP_NOT_FOUND, NULL, "missing");
    assert_string_equal(err.field, "");
}

static void test_tsp_error_set_truncates_long_detail(void **state)
{
    struct tsp_error err;
    char big[2000];
    (void)state;

    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    tsp_error_init(&err);
    (void)tsp_error_set(&err, TSP_INVALID, NULL, "%s", big);
    assert_int_equal(strlen(err.detail), TSP_ERROR_DETAIL_MAX - 1);
}

static void test_tsp_code_lookups_table(void **state)
{
    (void)state;
    assert_string_equal(tsp_code_name(TSP_OK), "OK");
    assert_string_equal(tsp_code_name(TSP_POOL_EXHAUSTED), "POOL_EXHAUSTED");
    assert_int_equal(tsp_code_http_status(TSP_POOL_EXHAUSTED), 503);
    assert_int_equal(tsp_code_http_status(TSP_NOT_FOUND), 404);
    assert_int_equal(tsp_code_http_status(TSP_INVALID), 400);
    assert_string_equal(tsp_code_title(TSP_CONFLICT), "Conflict");
}

static void test_tsp_code_lookups_out_of_range(void **state)
{
    (void)state;
    assert_string_equal(tsp_code_name(TSP_CODE_COUNT), "UNKNOWN");
    assert_int_equal(tsp_code_http_status((enum tsp_code) - 1), 500);
    assert_string_equal(tsp_code_title(TSP_CODE_COUNT), "Internal error");
}

static void test_tsp_error_set_sqlstate_copies_five_chars(void **state)
{
    struct tsp_error err;
    (void)state;

    tsp_error_init(&err);
    (void)tsp_error_set(&err, TSP_DB_ERROR, NULL, "boom");
    tsp_error_set_sqlstate(&err, "57P01");
    assert_string_equal(err.sqlstate, "57P01");
    tsp_error_set_sqlstate(NULL, "57P01");
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsp_error_set_first_error_wins),
        cmocka_unit_test(test_tsp_error_set_null_err),
        cmocka_unit_test(test_tsp_error_set_null_field_is_empty),
        cmocka_unit_test(test_tsp_error_set_truncates_long_detail),
        cmocka_unit_test(test_tsp_code_lookups_table),
        cmocka_unit_test(test_tsp_code_lookups_out_of_range),
        cmocka_unit_test(test_tsp_error_set_sqlstate_copies_five_chars),
    };
    return cmocka_run_group_tests_name("error", tests, NULL, NULL);
}
