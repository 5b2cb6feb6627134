/* test_strbuf.c - unit tests of the string builder: growth, formatting, fixed buffers that
 * refuse whole appends, and taking the text.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <stdlib.h>
#include <string.h>

#include "tspool/strbuf.h"

static void test_tsp_strbuf_append_grows(void **state)
{
    struct tsp_strbuf sb = {0};
    char *text = NULL;
    size_t len = 0;
    (void)state;

    for (int i = 0; i < 1000; i++) {
        assert_true(tsp_strbuf_puts(&sb, "abc"));
    }
    assert_true(tsp_strbuf_putc(&sb, '!'));
    assert_true(tsp_strbuf_printf(&sb, "%d-%s", 42, "x"));
    assert_int_equal(sb.len, 3000 + 1 + 4);
    assert_int_equal(strlen(sb.data), sb.len);
    assert_memory_equal(sb.data + 3000, "!42-x", 6);
    text = tsp_strbuf_take(&sb, &len);
    assert_non_null(text);
    assert_int_equal(len, 3005);
    assert_null(sb.data);
    assert_int_equal(sb.len, 0);
    free(text);
}

static void test_tsp_strbuf_printf_long_text(void **state)
{
    struct tsp_strbuf sb = {0};
    char big[5000];
    (void)state;

    memset(big, 'y', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_true(tsp_strbuf_printf(&sb, "<%s>", big));
    assert_int_equal(sb.len, sizeof(big) + 1);
    assert_int_equal(sb.data[0], '<');
    assert_int_equal(sb.data[sb.len - 1], '>');
    tsp_strbuf_fini(&sb);
    assert_null(sb.data);
    tsp_strbuf_fini(NULL);
}

static void test_tsp_strbuf_take_empty_is_empty_string(void **state)
{
    struct tsp_strbuf sb = {0};
    char *text = NULL;
    size_t len = 7;
    (void)state;

    text = tsp_strbuf_take(&sb, &len);
    assert_non_null(text);
    assert_string_equal(text, "");
    assert_int_equal(len, 0);
    free(text);
}

static void test_tsp_strbuf_fixed_refuses_whole_appends(void **state)
{
    char buf[8];
    struct tsp_strbuf sb;
    (void)state;

    tsp_strbuf_init_fixed(&sb, buf, sizeof(buf));
    assert_true(tsp_strbuf_puts(&sb, "abcd"));
    assert_false(tsp_strbuf_puts(&sb, "efgh")); /* 8 bytes + NUL do not fit: none is added */
    assert_string_equal(buf, "abcd");
    assert_true(sb.failed);
    assert_false(tsp_strbuf_puts(&sb, "e")); /* a failure sticks */
    assert_string_equal(buf, "abcd");
    assert_null(tsp_strbuf_take(&sb, NULL)); /* a fixed buffer is never handed over */
    tsp_strbuf_reset(&sb);
    assert_false(sb.failed);
    assert_string_equal(buf, "");
    assert_true(tsp_strbuf_printf(&sb, "%s", "1234567"));
    assert_string_equal(buf, "1234567");
}

static void test_tsp_strbuf_append_bytes_and_reset(void **state)
{
    struct tsp_strbuf sb = {0};
    (void)state;

    assert_true(tsp_strbuf_append(&sb, "a\0b", 3));
    assert_int_equal(sb.len, 3);
    assert_memory_equal(sb.data, "a\0b", 4);
    tsp_strbuf_reset(&sb);
    assert_int_equal(sb.len, 0);
    assert_string_equal(sb.data, "");
    assert_true(tsp_strbuf_puts(&sb, "z"));
    assert_string_equal(sb.data, "z");
    tsp_strbuf_fini(&sb);
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsp_strbuf_append_grows),
        cmocka_unit_test(test_tsp_strbuf_printf_long_text),
        cmocka_unit_test(test_tsp_strbuf_take_empty_is_empty_string),
        cmocka_unit_test(test_tsp_strbuf_fixed_refuses_whole_appends),
        cmocka_unit_test(test_tsp_strbuf_append_bytes_and_reset),
    };
    return cmocka_run_group_tests_name("strbuf", tests, NULL, NULL);
}
