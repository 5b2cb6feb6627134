/* test_dotenv.c - unit tests of the .env parser: every accepted form, CRLF, comments,
 * quotes and escapes, and the path:line errors (fixtures in tests/data/dotenv/)
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <stdio.h>
#include <string.h>

#include "config_int.h"

static const char *value_of(const struct tsp_dotenv *env, const char *key)
{
    const char *found = NULL;

    for (size_t i = 0; i < env->count; i++) {
        if (strcmp(env->entries[i].key, key) == 0) {
            found = env->entries[i].value; /* the last one wins, as in the loader */
        }
    }
    return found;
}

static int line_of(const struct tsp_dotenv *env, const char *key)
{
    for (size_t i = 0; i < env->count; i++) {
        if (strcmp(env->entries[i].key, key) == 0) {
            return env->entries[i].line;
        }
    }
    return -1;
}

static void fixture_path(const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/tests/data/dotenv/%s", tsp_test_source_dir(), name);
}

/* Parse text; assert success. */
static void parse_ok(const char *text, struct tsp_dotenv *env)
{
    struct tsp_error err;

    tsp_error_init(&err);
    memset(env, 0, sizeof(*env));
    assert_int_equal(tsp_dotenv_parse(text, strlen(text), "t.env", env, &err), TSP_OK);
    assert_int_equal(err.code, TSP_OK);
}

/* Parse text; assert TSP_INVALID with exactly `expected` as the detail. */
static void parse_fails(const char *text, const char *expected)
{
    struct tsp_dotenv env = {NULL, 0};
    struct tsp_error err;

    tsp_error_init(&err);
    assert_int_equal(tsp_dotenv_parse(text, strlen(text), "t.env", &env, &err), TSP_INVALID);
    assert_string_equal(err.detail, expected);
    assert_string_equal(err.field, "TSPOOL_ENV_FILE");
    assert_null(env.entries);
}

static void test_tsp_dotenv_read_full_fixture(void **state)
{
    struct tsp_dotenv env = {NULL, 0};
    struct tsp_error err;
    char path[1024];
    (void)state;

    tsp_error_init(&err);
    fixture_path("full.env", path, sizeof(path));
    assert_int_equal(tsp_dotenv_read(path, &env, &err), TSP_OK);
    assert_int_equal(env.count, 9);
    assert_string_equal(value_of(&env, "DB_HOST"), "db.example.com");
    assert_int_equal(line_of(&env, "DB_HOST"), 3);
    assert_string_equal(value_of(&env, "DB_PORT"), "6432");
    assert_string_equal(value_of(&env, "DB_NAME"), "my db # not a comment");
    assert_string_equal(value_of(&env, "DB_USER"), "app\"user\\x\n");
    assert_string_equal(value_of(&env, "DB_APPLICATION_NAME"), "tspool-test");
    assert_string_equal(value_of(&env, "DB_SESSION_SETTINGS"), "work_mem=64MB#kept");
    assert_string_equal(value_of(&env, "DB_MAX_CONNS"), "25");
    assert_int_equal(line_of(&env, "DB_MAX_CONNS"), 9);
    assert_string_equal(value_of(&env, "EMPTY"), "");
    assert_string_equal(value_of(&env, "OTHER_PROGRAM_SETTING"), "ignored");
    tsp_dotenv_fini(&env);
}

static void test_tsp_dotenv_read_crlf_fixture(void **state)
{
    struct tsp_dotenv env = {NULL, 0};
    struct tsp_error err;
    char path[1024];
    (void)state;

    tsp_error_init(&err);
    fixture_path("crlf.env", path, sizeof(path));
    assert_int_equal(tsp_dotenv_read(path, &env, &err), TSP_OK);
    assert_int_equal(env.count, 2);
    assert_string_equal(value_of(&env, "DB_MAX_CONNS"), "7");
    assert_string_equal(value_of(&env, "DB_HOST"), "crlf.example");
    assert_int_equal(line_of(&env, "DB_HOST"), 2);
    tsp_dotenv_fini(&env);
}

static void test_tsp_dotenv_read_missing_file(void **state)
{
    struct tsp_dotenv env = {NULL, 0};
    struct tsp_error err;
    (void)state;

    tsp_error_init(&err);
    assert_int_equal(tsp_dotenv_read("/nonexistent/dir/x.env", &env, &err), TSP_IO);
    assert_string_equal(err.detail,
                        "TSPOOL_ENV_FILE: cannot read \"/nonexistent/dir/x.env\": No such file "
                        "or directory");
}

static void test_tsp_dotenv_parse_empty_text(void **state)
{
    struct tsp_dotenv env;
    (void)state;

    parse_ok("", &env);
    assert_int_equal(env.count, 0);
    parse_ok("\n\n# only comments\n   \n\t# indented comment\n", &env);
    assert_int_equal(env.count, 0);
    tsp_dotenv_fini(&env);
}

static void test_tsp_dotenv_parse_last_line_without_newline(void **state)
{
    struct tsp_dotenv env;
    (void)state;

    parse_ok("A=1\nB=2", &env);
    assert_int_equal(env.count, 2);
    assert_string_equal(value_of(&env, "B"), "2");
    assert_int_equal(line_of(&env, "B"), 2);
    tsp_dotenv_fini(&env);
}

static void test_tsp_dotenv_parse_bom_and_crlf(void **state)
{
    struct tsp_dotenv env;
    (void)state;

    parse_ok("\xEF\xBB\xBF"
             "A=x\r\nB='y'\r\n",
             &env);
    assert_string_equal(value_of(&env, "A"), "x");
    assert_string_equal(value_of(&env, "B"), "y");
    tsp_dotenv_fini(&env);
}

static void test_tsp_dotenv_parse_spaces_and_comments(void **state)
{
    struct tsp_dotenv env;
    (void)state;

    parse_ok("  A  =  spaced value  \nB=abc#def\nC=abc #comment\nD= # only a comment\n"
             "E=\"quoted\" # comment\nF='single' \t\n",
             &env);
    assert_string_equal(value_of(&env, "A"), "spaced value");
    assert_string_equal(value_of(&env, "B"), "abc#def");
    assert_string_equal(value_of(&env, "C"), "abc");
    assert_string_equal(value_of(&env, "D"), "");
    assert_string_equal(value_of(&env, "E"), "quoted");
    assert_string_equal(value_of(&env, "F"), "single");
    tsp_dotenv_fini(&env);
}

static void test_tsp_dotenv_parse_quotes(void **state)
{
    struct tsp_dotenv env;
    (void)state;

    parse_ok("S='a \\n \"b\" # c'\nD=\"t\\tx\\\\y\\q \\\"z\\\" '\\r'\"\nE=\"\"\nF=''\n"
             "G=\"a=b\"\nH=it's\n",
             &env);
    assert_string_equal(value_of(&env, "S"), "a \\n \"b\" # c");
    assert_string_equal(value_of(&env, "D"), "t\tx\\y\\q \"z\" '\r'");
    assert_string_equal(value_of(&env, "E"), "");
    assert_string_equal(value_of(&env, "F"), "");
    assert_string_equal(value_of(&env, "G"), "a=b");
    assert_string_equal(value_of(&env, "H"), "it's");
    tsp_dotenv_fini(&env);
}

static void test_tsp_dotenv_parse_export_prefix(void **state)
{
    struct tsp_dotenv env;
    (void)state;

    parse_ok("export A=1\nexport\tB=2\nexport=3\nexported=4\n", &env);
    assert_string_equal(value_of(&env, "A"), "1");
    assert_string_equal(value_of(&env, "B"), "2");
    assert_string_equal(value_of(&env, "export"), "3");
    assert_string_equal(value_of(&env, "exported"), "4");
    tsp_dotenv_fini(&env);
}

static void test_tsp_dotenv_parse_duplicate_keys_kept_in_order(void **state)
{
    struct tsp_dotenv env;
    (void)state;

    parse_ok("A=1\nA=2\n", &env);
    assert_int_equal(env.count, 2);
    assert_string_equal(env.entries[0].value, "1");
    assert_string_equal(env.entries[1].value, "2");
    tsp_dotenv_fini(&env);
}

static void test_tsp_dotenv_parse_errors(void **state)
{
    (void)state;
    parse_fails("A=1\nNOEQUALS\n", "t.env:2: expected KEY=VALUE (no \"=\")");
    parse_fails("=1\n", "t.env:1: invalid variable name (expected letters, digits and _, not "
                        "starting with a digit)");
    parse_fails("9A=1\n", "t.env:1: invalid variable name (expected letters, digits and _, not "
                          "starting with a digit)");
    parse_fails("MY VAR=1\n", "t.env:1: invalid variable name (expected letters, digits and _, "
                              "not starting with a digit)");
    parse_fails("A=\"abc\n", "t.env:1: unterminated double-quoted value");
    parse_fails("A=\"abc\\\"\n", "t.env:1: unterminated double-quoted value");
    parse_fails("\n\nA='abc\n", "t.env:3: unterminated single-quoted value");
    parse_fails("A=\"abc\"def\n", "t.env:1: unexpected text after the closing quote");
    parse_fails("A='abc' def\n", "t.env:1: unexpected text after the closing quote");
}

static void test_tsp_dotenv_parse_nul_byte(void **state)
{
    struct tsp_dotenv env = {NULL, 0};
    struct tsp_error err;
    static const char text[] = "A=1\nB=x\0y\n";
    (void)state;

    tsp_error_init(&err);
    assert_int_equal(tsp_dotenv_parse(text, sizeof(text) - 1, "t.env", &env, &err), TSP_INVALID);
    assert_string_equal(err.detail, "t.env:2: contains a NUL byte");
}

static void test_tsp_dotenv_parse_error_never_echoes_value(void **state)
{
    struct tsp_dotenv env = {NULL, 0};
    struct tsp_error err;
    static const char text[] = "DB_PASS=\"hunter2-secret\n";
    (void)state;

    tsp_error_init(&err);
    assert_int_equal(tsp_dotenv_parse(text, sizeof(text) - 1, "t.env", &env, &err), TSP_INVALID);
    assert_null(strstr(err.detail, "hunter2"));
}

static void test_tsp_dotenv_read_fixture_errors(void **state)
{
    static const struct {
        const char *file;
        const char *message;
    } cases[] = {
        {"no_equals.env", "2: expected KEY=VALUE (no \"=\")"},
        {"bad_key.env", "2: invalid variable name (expected letters, digits and _, not starting "
                        "with a digit)"},
        {"unterminated_double.env", "1: unterminated double-quoted value"},
        {"unterminated_single.env", "1: unterminated single-quoted value"},
        {"after_quote.env", "1: unexpected text after the closing quote"},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tsp_dotenv env = {NULL, 0};
        struct tsp_error err;
        char path[1024];
        char expected[1200];

        tsp_error_init(&err);
        fixture_path(cases[i].file, path, sizeof(path));
        snprintf(expected, sizeof(expected), "%s:%s", path, cases[i].message);
        assert_int_equal(tsp_dotenv_read(path, &env, &err), TSP_INVALID);
        assert_string_equal(err.detail, expected);
    }
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsp_dotenv_read_full_fixture),
        cmocka_unit_test(test_tsp_dotenv_read_crlf_fixture),
        cmocka_unit_test(test_tsp_dotenv_read_missing_file),
        cmocka_unit_test(test_tsp_dotenv_parse_empty_text),
        cmocka_unit_test(test_tsp_dotenv_parse_last_line_without_newline),
        cmocka_unit_test(test_tsp_dotenv_parse_bom_and_crlf),
        cmocka_unit_test(test_tsp_dotenv_parse_spaces_and_comments),
        cmocka_unit_test(test_tsp_dotenv_parse_quotes),
        cmocka_unit_test(test_tsp_dotenv_parse_export_prefix),
        cmocka_unit_test(test_tsp_dotenv_parse_duplicate_keys_kept_in_order),
        cmocka_unit_test(test_tsp_dotenv_parse_errors),
        cmocka_unit_test(test_tsp_dotenv_parse_nul_byte),
        cmocka_unit_test(test_tsp_dotenv_parse_error_never_echoes_value),
        cmocka_unit_test(test_tsp_dotenv_read_fixture_errors),
    };
    return cmocka_run_group_tests_name("dotenv", tests, NULL, NULL);
}
