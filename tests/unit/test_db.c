/* test_db.c - unit tests of the pure parts of db.c: SQLSTATE mapping, identifier error
 * messages, password scrubbing and NULL-safe result accessors.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <string.h>

#include "tspool/db.h"

static void test_tsp_db_code_for_sqlstate_table(void **state)
{
    static const struct {
        const char *sqlstate;
        enum tsp_code code;
    } rows[] = {
        {NULL, TSP_DB_UNAVAILABLE},
        {"", TSP_DB_UNAVAILABLE},
        {"08006", TSP_DB_UNAVAILABLE},
        {"08001", TSP_DB_UNAVAILABLE},
        {"57P01", TSP_DB_UNAVAILABLE},
        {"57P02", TSP_DB_UNAVAILABLE},
        {"57P03", TSP_DB_UNAVAILABLE},
        {"53300", TSP_DB_UNAVAILABLE},
        {"28P01", TSP_DB_UNAVAILABLE},
        {"3D000", TSP_DB_UNAVAILABLE},
        {"25006", TSP_DB_UNAVAILABLE},
        {"57014", TSP_TIMEOUT},
        {"23505", TSP_CONFLICT},
        {"23503", TSP_CONFLICT},
        {"42P07", TSP_CONFLICT},
        {"42710", TSP_CONFLICT},
        {"40001", TSP_CONFLICT},
        {"40P01", TSP_CONFLICT},
        {"55P03", TSP_LOCK_NOT_AVAILABLE},
        {"42P01", TSP_NOT_FOUND},
        {"42704", TSP_NOT_FOUND},
        {"3F000", TSP_NOT_FOUND},
        {"22007", TSP_INVALID},
        {"22P02", TSP_INVALID},
        {"22023", TSP_INVALID},
        {"23502", TSP_INVALID},
        {"23514", TSP_INVALID},
        {"42703", TSP_INVALID},
        {"42601", TSP_INVALID},
        {"42883", TSP_INVALID},
        {"42501", TSP_DB_ERROR},
        {"XX000", TSP_DB_ERROR},
        {"P0001", TSP_DB_ERROR},
        {"TS001", TSP_DB_ERROR},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        enum tsp_code got = tsp_db_code_for_sqlstate(rows[i].sqlstate);
        if (got != rows[i].code) {
            fail_msg("SQLSTATE %s: expected %s, got %s",
                     rows[i].sqlstate != NULL ? rows[i].sqlstate : "(null)",
                     tsp_code_name(rows[i].code), tsp_code_name(got));
        }
    }
}

static void test_tsp_db_identifier_validate_messages(void **state)
{
    struct tsp_error err;
    char long_name[80];
    (void)state;

    tsp_error_init(&err);
    assert_int_equal(tsp_db_identifier_validate("", "hypertable", &err), TSP_INVALID);
    assert_string_equal(err.field, "hypertable");
    assert_string_equal(err.detail, "hypertable: identifier must not be empty");

    tsp_error_init(&err);
    assert_int_equal(tsp_db_identifier_validate("x; drop table y", "column", &err), TSP_INVALID);
    assert_string_equal(err.detail, "column: identifier \"x; drop table y\" may contain only "
                                    "letters, digits, '_' and '$'");

    tsp_error_init(&err);
    assert_int_equal(tsp_db_identifier_validate("9lives", "name", &err), TSP_INVALID);
    assert_string_equal(err.detail, "name: identifier \"9lives\" must start with a letter or '_'");

    tsp_error_init(&err);
    assert_int_equal(tsp_db_identifier_validate("a\nb", "name", &err), TSP_INVALID);
    assert_string_equal(err.detail, "name: identifier \"a?b\" may contain only letters, digits, "
                                    "'_' and '$'");

    memset(long_name, 'x', 64);
    long_name[64] = '\0';
    tsp_error_init(&err);
    assert_int_equal(tsp_db_identifier_validate(long_name, "name", &err), TSP_INVALID);
    assert_string_equal(err.detail, "name: identifier \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                                    "xxxxxxxxxxxxxxxxxxxxxxxx...\" is 64 bytes long; at most 63 "
                                    "allowed");
    tsp_error_init(&err);
    assert_int_equal(tsp_db_identifier_validate(NULL, NULL, &err), TSP_INVALID);
    assert_string_equal(err.detail, "name: identifier must not be empty");
}

static void test_tsp_db_qualified_validate_reports_bad_part(void **state)
{
    struct tsp_error err;
    (void)state;

    tsp_error_init(&err);
    assert_int_equal(tsp_db_qualified_validate("public.metrics", "hypertable", &err), TSP_OK);
    assert_int_equal(err.code, TSP_OK);
    assert_int_equal(tsp_db_qualified_validate("public.", "hypertable", &err), TSP_INVALID);
    assert_string_equal(err.detail, "hypertable: identifier must not be empty");
    tsp_error_init(&err);
    assert_int_equal(tsp_db_qualified_validate("a.b.c", "hypertable", &err), TSP_INVALID);
    assert_string_equal(err.detail, "hypertable: identifier \"b.c\" may contain only letters, "
                                    "digits, '_' and '$'");
}

static void test_tsp_db_scrub_password_conninfo(void **state)
{
    char text[256];
    (void)state;

    snprintf(text, sizeof(text), "connection failed: host=db password=hunter2secret user=app");
    tsp_db_scrub_password(text, NULL);
    assert_string_equal(text, "connection failed: host=db password=******** user=app");

    snprintf(text, sizeof(text), "PASSWORD = 'a b\\'c d' port=5432");
    tsp_db_scrub_password(text, NULL);
    assert_string_equal(text, "PASSWORD = ******** port=5432");

    /* a value shorter than the mask cannot grow in place: every byte is masked */
    snprintf(text, sizeof(text), "password=abc end");
    tsp_db_scrub_password(text, NULL);
    assert_string_equal(text, "password=*** end");

    /* libpq allows blanks around '=': the next word is the value */
    snprintf(text, sizeof(text), "password= end");
    tsp_db_scrub_password(text, NULL);
    assert_string_equal(text, "password= ***");
}

static void test_tsp_db_scrub_password_configured_value(void **state)
{
    char text[256];
    (void)state;

    snprintf(text, sizeof(text),
             "FATAL: password authentication failed (tried s3cr3t-Pa55 twice: s3cr3t-Pa55)");
    tsp_db_scrub_password(text, "s3cr3t-Pa55");
    assert_string_equal(text, "FATAL: password authentication failed (tried ******** twice: "
                              "********)");
    assert_null(strstr(text, "s3cr3t"));

    snprintf(text, sizeof(text), "nothing secret here");
    tsp_db_scrub_password(text, "");
    assert_string_equal(text, "nothing secret here");
    tsp_db_scrub_password(NULL, "x");
}

static void test_tsp_db_scrub_password_uri(void **state)
{
    char text[256];
    (void)state;

    snprintf(text, sizeof(text), "bad uri postgresql://app:topsecretvalue@db:5432/x here");
    tsp_db_scrub_password(text, NULL);
    assert_string_equal(text, "bad uri postgresql://app:********@db:5432/x here");

    snprintf(text, sizeof(text), "postgres://app@db/x and http://h/p");
    tsp_db_scrub_password(text, NULL);
    assert_string_equal(text, "postgres://app@db/x and http://h/p");
}

static void test_tsp_db_result_accessors_null(void **state)
{
    (void)state;

    assert_int_equal(tsp_db_result_rows(NULL), 0);
    assert_int_equal(tsp_db_result_cols(NULL), 0);
    assert_int_equal(tsp_db_result_col(NULL, "x"), -1);
    assert_null(tsp_db_result_value(NULL, 0, 0));
    assert_false(tsp_db_result_bool(NULL, 0, 0));
    assert_int_equal(tsp_db_result_int(NULL, 0, 0, -7), -7);
    assert_int_equal(tsp_db_result_affected(NULL), -1);
    tsp_db_result_free(NULL);
    assert_int_equal(tsp_db_server_version(NULL), 0);
    assert_string_equal(tsp_db_database_name(NULL), "");
}

static void test_tsp_db_exec_without_lease(void **state)
{
    struct tsp_error err;
    struct tsp_db_result *res = NULL;
    char *quoted = NULL;
    (void)state;

    tsp_error_init(&err);
    assert_int_equal(tsp_db_exec(NULL, "SELECT 1", 0, NULL, &res, &err), TSP_INTERNAL);
    assert_null(res);
    tsp_error_init(&err);
    assert_int_equal(tsp_db_identifier_quote(NULL, "bad name", "hypertable", &quoted, &err),
                     TSP_INVALID);
    assert_null(quoted);
    assert_string_equal(err.field, "hypertable");
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsp_db_code_for_sqlstate_table),
        cmocka_unit_test(test_tsp_db_identifier_validate_messages),
        cmocka_unit_test(test_tsp_db_qualified_validate_reports_bad_part),
        cmocka_unit_test(test_tsp_db_scrub_password_conninfo),
        cmocka_unit_test(test_tsp_db_scrub_password_configured_value),
        cmocka_unit_test(test_tsp_db_scrub_password_uri),
        cmocka_unit_test(test_tsp_db_result_accessors_null),
        cmocka_unit_test(test_tsp_db_exec_without_lease),
    };
    return cmocka_run_group_tests_name("db", tests, NULL, NULL);
}
