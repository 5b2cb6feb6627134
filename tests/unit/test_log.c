/* test_log.c - unit tests of the structured logger: escaping, timestamps, levels, formats
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tspool/log.h"

struct capture {
    FILE *file;
    char text[32768];
};

static int capture_setup(void **state)
{
    struct capture *cap = calloc(1, sizeof(*cap));
    assert_non_null(cap);
    cap->file = tmpfile();
    assert_non_null(cap->file);
    tsp_log_setup(TSP_LOG_LEVEL_INFO, TSP_LOG_FORMAT_JSON, cap->file);
    *state = cap;
    return 0;
}

static int capture_teardown(void **state)
{
    struct capture *cap = *state;
    tsp_log_setup(TSP_LOG_LEVEL_INFO, TSP_LOG_FORMAT_JSON, NULL);
    fclose(cap->file);
    free(cap);
    return 0;
}

static const char *captured(struct capture *cap)
{
    size_t n;
    rewind(cap->file);
    n = fread(cap->text, 1, sizeof(cap->text) - 1, cap->file);
    cap->text[n] = '\0';
    return cap->text;
}

static int count_lines(const char *text)
{
    int n = 0;
    for (const char *p = text; *p != '\0'; p++) {
        n += *p == '\n';
    }
    return n;
}

/* Parse the one captured JSON line; the caller json_decref()s it. */
static json_t *captured_json(struct capture *cap)
{
    json_error_t jerr;
    const char *text = captured(cap);
    json_t *root = NULL;

    assert_int_equal(count_lines(text), 1);
    root = json_loads(text, JSON_DISABLE_EOF_CHECK, &jerr);
    if (root == NULL) {
        fail_msg("log line is not JSON (%s): %s", jerr.text, text);
    }
    return root;
}

static void test_tsp_log_escape_json_specials(void **state)
{
    char out[128];
    (void)state;

    tsp_log_escape_json("a\"b\\c\nd\re\tf\x01g\x7f", out, sizeof(out));
    assert_string_equal(out, "a\\\"b\\\\c\\nd\\re\\tf\\u0001g\\u007f");
}

static void test_tsp_log_escape_json_invalid_utf8(void **state)
{
    char out[128];
    (void)state;

    /* lone continuation, 0xff, overlong '/', surrogate, truncated sequence at the end */
    tsp_log_escape_json("x\x80y\xffz\xc0\xaf|\xed\xa0\x80|\xe2\x82", out, sizeof(out));
    assert_string_equal(out,
                        "x\\ufffdy\\ufffdz\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd");
}

static void test_tsp_log_escape_json_valid_utf8_kept(void **state)
{
    char out[64];
    (void)state;

    tsp_log_escape_json("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", out, sizeof(out));
    assert_string_equal(out, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
}

static void test_tsp_log_escape_json_truncates_whole_escapes(void **state)
{
    char out[6];
    size_t n;
    (void)state;

    n = tsp_log_escape_json("ab\"\"\"", out, sizeof(out));
    assert_string_equal(out, "ab\\\"");
    assert_int_equal(n, 4);
}

static void test_tsp_log_timestamp_fixed(void **state)
{
    char buf[32];
    (void)state;

    assert_string_equal(tsp_log_timestamp(0, buf, sizeof(buf)), "1970-01-01T00:00:00.000Z");
    assert_string_equal(tsp_log_timestamp(1700000000123LL, buf, sizeof(buf)),
                        "2023-11-14T22:13:20.123Z");
}

static void test_tsp_log_timestamp_now_shape(void **state)
{
    char buf[32];
    (void)state;

    tsp_log_timestamp(-1, buf, sizeof(buf));
    assert_int_equal(strlen(buf), 24);
    assert_int_equal(buf[10], 'T');
    assert_int_equal(buf[19], '.');
    assert_int_equal(buf[23], 'Z');
}

static void test_tsp_log_write_json_line(void **state)
{
    struct capture *cap = *state;
    const struct tsp_log_field fields[] = {{"status", NULL, 503}, {"path", "/pool/\"x\"", 0}};
    const struct tsp_log_ctx ctx = {"http.access", "req-1", 7, "ping", fields, 2};
    json_t *root = NULL;

    tsp_log_write(TSP_LOG_LEVEL_WARN, &ctx, "slow %s \x01", "call");
    root = captured_json(cap);
    assert_string_equal(json_string_value(json_object_get(root, "level")), "warn");
    assert_string_equal(json_string_value(json_object_get(root, "msg")), "slow call \x01");
    assert_string_equal(json_string_value(json_object_get(root, "event")), "http.access");
    assert_string_equal(json_string_value(json_object_get(root, "request_id")), "req-1");
    assert_int_equal(json_integer_value(json_object_get(root, "conn_id")), 7);
    assert_string_equal(json_string_value(json_object_get(root, "label")), "ping");
    assert_int_equal(json_integer_value(json_object_get(root, "status")), 503);
    assert_string_equal(json_string_value(json_object_get(root, "path")), "/pool/\"x\"");
    assert_int_equal(strlen(json_string_value(json_object_get(root, "ts"))), 24);
    json_decref(root);
}

static void test_tsp_log_write_absent_context_omitted(void **state)
{
    struct capture *cap = *state;
    const struct tsp_log_ctx ctx = {NULL, NULL, -1, NULL, NULL, 0};
    json_t *root = NULL;

    tsp_log_write(TSP_LOG_LEVEL_INFO, &ctx, "plain");
    root = captured_json(cap);
    assert_int_equal(json_object_size(root), 3);
    json_decref(root);
}

static void test_tsp_log_write_long_message_stays_json(void **state)
{
    struct capture *cap = *state;
    char *big = malloc(20000);
    json_t *root = NULL;

    assert_non_null(big);
    memset(big, '"', 19999);
    big[19999] = '\0';
    tsp_log_write(TSP_LOG_LEVEL_ERROR, NULL, "%s", big);
    root = captured_json(cap);
    assert_string_equal(json_string_value(json_object_get(root, "level")), "error");
    json_decref(root);
    free(big);
}

static int evaluated;
static const char *count_eval(void)
{
    evaluated++;
    return "x";
}

static void test_tsp_log_macros_skip_disabled_levels(void **state)
{
    struct capture *cap = *state;

    evaluated = 0;
    TSP_LOG_DEBUG(NULL, "hidden %s", count_eval());
    assert_int_equal(evaluated, 0);
    assert_string_equal(captured(cap), "");
    TSP_LOG_INFO(NULL, "shown %s", count_eval());
    assert_int_equal(evaluated, 1);
    assert_non_null(strstr(captured(cap), "shown x"));
}

static void test_tsp_log_write_text_format(void **state)
{
    struct capture *cap = *state;
    const struct tsp_log_field fields[] = {{"ms", NULL, 12}};
    const struct tsp_log_ctx ctx = {"pool.slow", NULL, -1, "ping", fields, 1};
    const char *text = NULL;

    tsp_log_setup(TSP_LOG_LEVEL_DEBUG, TSP_LOG_FORMAT_TEXT, cap->file);
    tsp_log_write(TSP_LOG_LEVEL_DEBUG, &ctx, "two\nlines");
    text = captured(cap);
    assert_non_null(strstr(text, "Z DEBUG two\\nlines event=\"pool.slow\" label=\"ping\" ms=12\n"));
    assert_int_equal(count_lines(text), 1);
}

static void test_tsp_log_level_parse_names(void **state)
{
    enum tsp_log_level level = TSP_LOG_LEVEL_ERROR;
    enum tsp_log_format format = TSP_LOG_FORMAT_JSON;
    (void)state;

    assert_true(tsp_log_level_parse("debug", &level));
    assert_int_equal(level, TSP_LOG_LEVEL_DEBUG);
    assert_true(tsp_log_level_parse("WARN", &level));
    assert_int_equal(level, TSP_LOG_LEVEL_WARN);
    assert_false(tsp_log_level_parse("verbose", &level));
    assert_false(tsp_log_level_parse(NULL, &level));
    assert_true(tsp_log_format_parse("text", &format));
    assert_int_equal(format, TSP_LOG_FORMAT_TEXT);
    assert_false(tsp_log_format_parse("xml", &format));
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsp_log_escape_json_specials),
        cmocka_unit_test(test_tsp_log_escape_json_invalid_utf8),
        cmocka_unit_test(test_tsp_log_escape_json_valid_utf8_kept),
        cmocka_unit_test(test_tsp_log_escape_json_truncates_whole_escapes),
        cmocka_unit_test(test_tsp_log_timestamp_fixed),
        cmocka_unit_test(test_tsp_log_timestamp_now_shape),
        cmocka_unit_test_setup_teardown(test_tsp_log_write_json_line, capture_setup,
                                        capture_teardown),
        cmocka_unit_test_setup_teardown(test_tsp_log_write_absent_context_omitted, capture_setup,
                                        capture_teardown),
        cmocka_unit_test_setup_teardown(test_tsp_log_write_long_message_stays_json, capture_setup,
                                        capture_teardown),
        cmocka_unit_test_setup_teardown(test_tsp_log_macros_skip_disabled_levels, capture_setup,
                                        capture_teardown),
        cmocka_unit_test_setup_teardown(test_tsp_log_write_text_format, capture_setup,
                                        capture_teardown),
        cmocka_unit_test(test_tsp_log_level_parse_names),
    };
    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
