/* test_utf8.c - unit tests of UTF-8 validation, replacement of invalid bytes and cutting on a
 * character boundary (problem documents, server messages cut at the detail limit)
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <string.h>

#include "tspool/error.h"
#include "tspool/utf8.h"

static void test_tsp_utf8_valid_accepts_and_rejects(void **state)
{
    (void)state;
    assert_true(tsp_utf8_valid("plain", 5));
    assert_true(tsp_utf8_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14));
    assert_false(tsp_utf8_valid("\xff", 1));             /* never valid */
    assert_false(tsp_utf8_valid("\xc3", 1));             /* cut short */
    assert_false(tsp_utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
    assert_false(tsp_utf8_valid("\xed\xa0\x80", 3));     /* a surrogate */
    assert_false(tsp_utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
}

static void test_tsp_utf8_sanitize_replaces_invalid_bytes(void **state)
{
    char out[64];
    (void)state;

    assert_int_equal(tsp_utf8_sanitize("/\xff", out, sizeof(out)), 4);
    assert_string_equal(out, "/\xef\xbf\xbd");
    tsp_utf8_sanitize("a\xc3(b", out, sizeof(out));
    assert_string_equal(out, "a\xef\xbf\xbd(b");
    tsp_utf8_sanitize("caf\xc3\xa9", out, sizeof(out));
    assert_string_equal(out, "caf\xc3\xa9");
    /* never a split character at the end of a small buffer */
    tsp_utf8_sanitize("ab\xe2\x82\xac", out, 5);
    assert_string_equal(out, "ab");
    assert_true(tsp_utf8_valid(out, strlen(out)));
}

static void test_tsp_utf8_trim_partial_cuts_on_a_boundary(void **state)
{
    char s1[] = "abc\xe2\x82";
    char s2[] = "abc\xe2\x82\xac";
    char s3[] = "abc\xf0";
    (void)state;

    assert_int_equal(tsp_utf8_trim_partial(s1), 3);
    assert_string_equal(s1, "abc");
    assert_int_equal(tsp_utf8_trim_partial(s2), 6);
    assert_int_equal(tsp_utf8_trim_partial(s3), 3);
}

/* A server message longer than the detail buffer, made of two-byte characters placed so that
 * the byte limit falls inside one: the stored detail stays valid UTF-8. */
static void test_tsp_error_set_cuts_detail_on_a_character(void **state)
{
    char message[TSP_ERROR_DETAIL_MAX * 2];
    struct tsp_error err;
    size_t o = 0;
    (void)state;

    while (o + 2 < sizeof(message)) {
        message[o++] = '\xc3';
        message[o++] = '\xa9';
    }
    message[o] = '\0';
    tsp_error_init(&err);
    (void)tsp_error_set(&err, TSP_DB_ERROR, NULL, "%s", message);
    assert_true(strlen(err.detail) < TSP_ERROR_DETAIL_MAX);
    assert_true(tsp_utf8_valid(err.detail, strlen(err.detail)));
    assert_int_equal(strlen(err.detail), TSP_ERROR_DETAIL_MAX - 2);
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsp_utf8_valid_accepts_and_rejects),
        cmocka_unit_test(test_tsp_utf8_sanitize_replaces_invalid_bytes),
        cmocka_unit_test(test_tsp_utf8_trim_partial_cuts_on_a_boundary),
        cmocka_unit_test(test_tsp_error_set_cuts_detail_on_a_character),
    };
    return cmocka_run_group_tests_name("utf8", tests, NULL, NULL);
}
