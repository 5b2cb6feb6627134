/* test_timescale_obs.c - the pure builders of what tspool watches (sql_obs.c): job runs from the
 * history view or job_errors, the ?since= bound (timestamp, interval, rejected integers), the
 * snapshot's catalog queries and the worker budget.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <string.h>

#include "timescale_int.h"

static void test_tsp_ts_sql_job_runs_one_job_history_view(void **state)
{
    struct tsp_ts_stmt s;
    struct tsp_error err;
    (void)state;

    tsp_error_init(&err);
    assert_int_equal(tsp_ts_sql_job_runs(1000, NULL, true, &s, &err), TSP_OK);
    assert_non_null(strstr(s.sql, "FROM timescaledb_information.job_history WHERE "
                                  "job_id = $1::integer ORDER BY start_time DESC"));
    assert_non_null(strstr(s.sql, "LIMIT 200"));
    assert_int_equal(s.nparams, 1);
    assert_string_equal(s.params[0], "1000");
    assert_string_equal(s.fields[0], "id");
    tsp_ts_stmt_fini(&s);
}

static void test_tsp_ts_sql_job_runs_job_errors_before_2_15(void **state)
{
    struct tsp_ts_stmt s;
    struct tsp_error err;
    (void)state;

    tsp_error_init(&err);
    assert_int_equal(tsp_ts_sql_job_runs(-1, "1 hour", false, &s, &err), TSP_OK);
    assert_non_null(strstr(s.sql, "false AS succeeded"));
    assert_non_null(strstr(s.sql, "FROM timescaledb_information.job_errors WHERE "
                                  "start_time >= (now() - $1::interval) ORDER BY"));
    assert_int_equal(s.nparams, 1);
    assert_string_equal(s.params[0], "1 hour");
    assert_string_equal(s.fields[0], "since");
    tsp_ts_stmt_fini(&s);
}

static void test_tsp_ts_sql_job_runs_failures_since_timestamp(void **state)
{
    struct tsp_ts_stmt s;
    struct tsp_error err;
    (void)state;

    tsp_error_init(&err);
    assert_int_equal(tsp_ts_sql_job_runs(-1, "2026-01-01T00:00:00Z", true, &s, &err), TSP_OK);
    assert_non_null(strstr(s.sql, "WHERE NOT succeeded AND start_time >= $1::timestamptz "));
    tsp_ts_stmt_fini(&s);

    assert_int_equal(tsp_ts_sql_job_runs(-1, NULL, true, &s, &err), TSP_OK);
    assert_non_null(strstr(s.sql, "start_time >= (now() - interval '24 hours') "));
    assert_int_equal(s.nparams, 0);
    tsp_ts_stmt_fini(&s);
}

static void test_tsp_ts_sql_since_rejects_integers_and_empty(void **state)
{
    struct tsp_ts_stmt s;
    struct tsp_error err;
    (void)state;

    tsp_error_init(&err);
    assert_int_equal(tsp_ts_sql_since("12", &s, &err), TSP_INVALID);
    assert_string_equal(err.field, "since");
    assert_string_equal(err.detail, "since must be a timestamp (2026-01-01T00:00:00Z) or an "
                                    "interval (1 hour), got \"12\"");
    assert_null(s.sql);
    tsp_error_init(&err);
    assert_int_equal(tsp_ts_sql_job_runs(-1, "", true, &s, &err), TSP_INVALID);
    assert_string_equal(err.field, "since");
    tsp_error_init(&err);
    assert_int_equal(tsp_ts_sql_since("3 days", &s, &err), TSP_OK);
    assert_string_equal(s.sql, "SELECT extract(epoch FROM (now() - $1::interval))::float8 AS "
                               "since_s");
    tsp_ts_stmt_fini(&s);
}

static void test_tsp_ts_sql_snapshot_queries_take_no_input(void **state)
{
    struct tsp_ts_stmt s;
    struct tsp_error err;
    (void)state;

    tsp_error_init(&err);
    assert_int_equal(tsp_ts_sql_snapshot_hypertables(&s, &err), TSP_OK);
    assert_int_equal(s.nparams, 0);
    /* grouped once over every chunk: not one query per hypertable */
    assert_non_null(strstr(s.sql, "FROM timescaledb_information.chunks)"));
    assert_non_null(strstr(s.sql, "_timescaledb_catalog.compression_chunk_size"));
    tsp_ts_stmt_fini(&s);
    assert_int_equal(tsp_ts_sql_snapshot_jobs(&s, &err), TSP_OK);
    assert_non_null(strstr(s.sql, "consecutive_failures"));
    tsp_ts_stmt_fini(&s);
    assert_int_equal(tsp_ts_sql_workers(&s, &err), TSP_OK);
    assert_non_null(strstr(s.sql, "timescaledb.max_background_workers"));
    tsp_ts_stmt_fini(&s);
    assert_int_equal(tsp_ts_sql_snapshot_aggregates("_timescaledb_functions", &s, &err), TSP_OK);
    assert_non_null(strstr(s.sql, "_timescaledb_functions.cagg_watermark(c.mat_hypertable_id)"));
    tsp_ts_stmt_fini(&s);
    /* the schema is never taken from elsewhere */
    assert_int_equal(tsp_ts_sql_snapshot_aggregates("public; drop", &s, &err), TSP_INTERNAL);
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsp_ts_sql_job_runs_one_job_history_view),
        cmocka_unit_test(test_tsp_ts_sql_job_runs_job_errors_before_2_15),
        cmocka_unit_test(test_tsp_ts_sql_job_runs_failures_since_timestamp),
        cmocka_unit_test(test_tsp_ts_sql_since_rejects_integers_and_empty),
        cmocka_unit_test(test_tsp_ts_sql_snapshot_queries_take_no_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
