/* test_db.c - db.c against the PostgreSQL 15 test server through a real pool: bound
 * parameters (NULL included), result accessors, SQLSTATE mapping of real errors, identifier
 * quoting with PQescapeIdentifier, and a failed connect that never shows the password.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tspool/config.h"
#include "tspool/db.h"
#include "tspool/pool.h"

struct fixture {
    struct tsp_config cfg;
    char port[16];
    char password[128];
    struct tsp_connector connector;
    struct tsp_pool *pool;
};

static int open_pool(struct fixture *fx, const char *password)
{
    struct tsp_pool_options opts;
    struct tsp_error err;

    snprintf(fx->port, sizeof(fx->port), "%d", tsp_test_pg_port());
    snprintf(fx->password, sizeof(fx->password), "%s", password);
    memset(&fx->cfg, 0, sizeof(fx->cfg));
    fx->cfg.db_host = (char *)(uintptr_t) "127.0.0.1";
    fx->cfg.db_port = fx->port;
    fx->cfg.db_name = (char *)(uintptr_t) "postgres";
    fx->cfg.db_user = (char *)(uintptr_t) "postgres";
    fx->cfg.db_pass = fx->password;
    fx->cfg.db_sslmode = (char *)(uintptr_t) "disable";
    fx->cfg.db_connect_timeout_s = 5;
    fx->cfg.db_application_name = (char *)(uintptr_t) "tspool_test_db";
    fx->cfg.db_target_session_attrs = (char *)(uintptr_t) "any";
    fx->cfg.pool_size = 2;
    memset(&opts, 0, sizeof(opts));
    opts.mode = TSP_POOL_MODE_POOLED;
    opts.size = 2;
    opts.timeout_ms = 10000;
    opts.preping_idle_ms = 60000;
    opts.health_interval_ms = 60000;
    opts.maintenance_interval_ms = 250;
    tsp_error_init(&err);
    if (tsp_pool_pg_connector(&fx->cfg, &fx->connector, &err) != TSP_OK ||
        tsp_pool_new(&opts, &fx->connector, &fx->pool, &err) != TSP_OK) {
        fprintf(stderr, "pool: %s\n", err.detail);
        return -1;
    }
    return 0;
}

static int setup(void **state)
{
    struct fixture *fx = NULL;

    *state = NULL;
    if (!tsp_test_pg_available()) {
        return 0;
    }
    fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    if (open_pool(fx, tsp_test_pg_password()) != 0) {
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    if (fx != NULL) {
        tsp_pool_free(fx->pool);
        free(fx);
    }
    return 0;
}

static struct fixture *fixture_of(void **state)
{
    if (*state == NULL) {
        skip();
    }
    return *state;
}

static void test_tsp_db_exec_params_and_accessors(void **state)
{
    struct fixture *fx = fixture_of(state);
    const char *params[3] = {"41", NULL, "it's \"quoted\"; DROP TABLE x"};
    struct tsp_db_result *res = NULL;
    struct tsp_lease *lease = NULL;
    struct tsp_error err;

    tsp_error_init(&err);
    assert_int_equal(tsp_pool_borrow(fx->pool, "test.db", -1, &lease, &err), TSP_OK);
    assert_int_equal(tsp_db_exec(lease,
                                 "SELECT $1::integer + 1 AS n, $2::text IS NULL AS is_null, "
                                 "$3::text AS echoed, NULL::text AS nothing, 'x' AS not_int",
                                 3, params, &res, &err),
                     TSP_OK);
    assert_int_equal(tsp_db_result_rows(res), 1);
    assert_int_equal(tsp_db_result_cols(res), 5);
    assert_int_equal(tsp_db_result_col(res, "echoed"), 2);
    assert_int_equal(tsp_db_result_col(res, "Echoed"), -1);
    assert_int_equal(tsp_db_result_int(res, 0, 0, -1), 42);
    assert_true(tsp_db_result_bool(res, 0, 1));
    assert_string_equal(tsp_db_result_value(res, 0, 2), "it's \"quoted\"; DROP TABLE x");
    assert_null(tsp_db_result_value(res, 0, 3));
    assert_int_equal(tsp_db_result_int(res, 0, 3, -5), -5);
    assert_int_equal(tsp_db_result_int(res, 0, 4, -6), -6);
    assert_null(tsp_db_result_value(res, 1, 0));
    assert_null(tsp_db_result_value(res, 0, 9));
    tsp_db_result_free(res);
    res = NULL;

    assert_int_equal(tsp_db_exec(lease, "CREATE TEMP TABLE tsp_db_it (id integer PRIMARY KEY)", 0,
                                 NULL, NULL, &err),
                     TSP_OK);
    assert_int_equal(tsp_db_exec(lease, "INSERT INTO tsp_db_it SELECT generate_series(1, 3)", 0,
                                 NULL, &res, &err),
                     TSP_OK);
    assert_int_equal(tsp_db_result_affected(res), 3);
    tsp_db_result_free(res);
    assert_true(tsp_db_server_version(lease) >= 150000);
    assert_string_equal(tsp_db_database_name(lease), "postgres");
    assert_int_equal(tsp_db_exec(lease, "DROP TABLE tsp_db_it", 0, NULL, NULL, &err), TSP_OK);
    tsp_pool_return(lease);
}

static void test_tsp_db_exec_maps_server_errors(void **state)
{
    struct fixture *fx = fixture_of(state);
    static const struct {
        const char *sql;
        enum tsp_code code;
        const char *sqlstate;
        const char *detail;
    } rows[] = {
        {"SELECT 'banana'::interval", TSP_INVALID, "22007",
         "invalid input syntax for type interval: \"banana\""},
        {"SELECT * FROM tsp_no_such_table", TSP_NOT_FOUND, "42P01",
         "relation \"tsp_no_such_table\" does not exist"},
        {"CREATE TEMP TABLE tsp_dup (id int); CREATE TEMP TABLE tsp_dup (id int)", TSP_INVALID,
         "42601", "cannot insert multiple commands into a prepared statement"},
        {"SELECT pg_sleep(2)", TSP_TIMEOUT, "57014",
         "canceling statement due to statement timeout"},
        {"SELECT 1/0", TSP_INVALID, "22012", "division by zero"},
    };
    struct tsp_lease *lease = NULL;
    struct tsp_error err;

    tsp_error_init(&err);
    assert_int_equal(tsp_pool_borrow(fx->pool, "test.db.errors", -1, &lease, &err), TSP_OK);
    assert_int_equal(tsp_db_exec(lease, "SET statement_timeout = 100", 0, NULL, NULL, &err),
                     TSP_OK);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        tsp_error_init(&err);
        assert_int_equal(tsp_db_exec(lease, rows[i].sql, 0, NULL, NULL, &err), rows[i].code);
        assert_string_equal(err.sqlstate, rows[i].sqlstate);
        assert_string_equal(err.detail, rows[i].detail);
    }
    tsp_error_init(&err);
    assert_int_equal(tsp_db_exec(lease, "CREATE TEMP TABLE tsp_dup (id int)", 0, NULL, NULL, &err),
                     TSP_OK);
    assert_int_equal(tsp_db_exec(lease, "CREATE TEMP TABLE tsp_dup (id int)", 0, NULL, NULL, &err),
                     TSP_CONFLICT);
    assert_string_equal(err.sqlstate, "42P07");
    tsp_error_init(&err);
    assert_int_equal(tsp_db_exec(lease, "DROP TABLE tsp_dup; ", 0, NULL, NULL, &err), TSP_OK);
    assert_int_equal(tsp_db_exec(lease, "RESET statement_timeout", 0, NULL, NULL, &err), TSP_OK);
    tsp_pool_return(lease);
}

static void test_tsp_db_identifier_quote_uses_server_rules(void **state)
{
    struct fixture *fx = fixture_of(state);
    struct tsp_lease *lease = NULL;
    struct tsp_error err;
    char *quoted = NULL;

    tsp_error_init(&err);
    assert_int_equal(tsp_pool_borrow(fx->pool, "test.db.quote", -1, &lease, &err), TSP_OK);
    assert_int_equal(tsp_db_identifier_quote(lease, "Metrics_2026", "name", &quoted, &err), TSP_OK);
    assert_string_equal(quoted, "\"Metrics_2026\"");
    free(quoted);
    quoted = NULL;
    assert_int_equal(tsp_db_qualified_quote(lease, "Public.m$1", "name", &quoted, &err), TSP_OK);
    assert_string_equal(quoted, "\"Public\".\"m$1\"");
    free(quoted);
    quoted = NULL;
    assert_int_equal(tsp_db_qualified_quote(lease, "a\".b", "name", &quoted, &err), TSP_INVALID);
    assert_null(quoted);
    assert_string_equal(err.field, "name");
    tsp_pool_return(lease);
}

static void test_tsp_db_exec_on_terminated_session(void **state)
{
    struct fixture *fx = fixture_of(state);
    struct tsp_db_result *res = NULL;
    struct tsp_lease *lease = NULL;
    struct tsp_error err;
    char sql[128];
    char *killed = NULL;

    tsp_error_init(&err);
    assert_int_equal(tsp_pool_borrow(fx->pool, "test.db.terminated", -1, &lease, &err), TSP_OK);
    assert_int_equal(tsp_db_exec(lease, "SELECT pg_backend_pid()", 0, NULL, &res, &err), TSP_OK);
    snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%lld)",
             tsp_db_result_int(res, 0, 0, 0));
    tsp_db_result_free(res);
    killed = tsp_test_pg_query(sql);
    assert_non_null(killed);
    assert_string_equal(killed, "t");
    free(killed);
    tsp_test_sleep_ms(200);
    assert_int_equal(tsp_db_exec(lease, "SELECT 1", 0, NULL, NULL, &err), TSP_DB_UNAVAILABLE);
    /* the server says why (57P01) when its goodbye arrives in time, else the socket is just
       gone (reported as 08006) */
    if (strcmp(err.sqlstate, "57P01") != 0 && strcmp(err.sqlstate, "08006") != 0) {
        fail_msg("unexpected SQLSTATE %s: %s", err.sqlstate, err.detail);
    }
    tsp_pool_return(lease);
}

static void test_tsp_db_connect_failure_hides_password(void **state)
{
    struct fixture *bad = NULL;
    struct tsp_lease *lease = NULL;
    struct tsp_error err;

    (void)fixture_of(state);
    bad = calloc(1, sizeof(*bad));
    assert_non_null(bad);
    assert_int_equal(open_pool(bad, "wrong-secret-Zq9"), 0);
    tsp_error_init(&err);
    assert_int_not_equal(tsp_pool_borrow(bad->pool, "test.db.badpass", 5000, &lease, &err), TSP_OK);
    assert_non_null(strstr(err.detail, "password authentication failed"));
    assert_null(strstr(err.detail, "wrong-secret-Zq9"));
    tsp_pool_free(bad->pool);
    free(bad);
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsp_db_exec_params_and_accessors),
        cmocka_unit_test(test_tsp_db_exec_maps_server_errors),
        cmocka_unit_test(test_tsp_db_identifier_quote_uses_server_rules),
        cmocka_unit_test(test_tsp_db_exec_on_terminated_session),
        cmocka_unit_test(test_tsp_db_connect_failure_hides_password),
    };
    return cmocka_run_group_tests_name("db_pg", tests, setup, teardown);
}
