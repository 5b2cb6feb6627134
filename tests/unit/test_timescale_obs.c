/* test_timescale_obs.c - the pure builders of what tspool watches (sql_obs.c): job runs from the
 * history view or job_errors, the ?since= bound (timestamp, interval, rejected integers), the
 * snapshot's catalog queries and the worker budget.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <string.h>

#include "fake_connector.h"
#include "timescale_int.h"
#include "tspool/log.h"

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

/* While the health check says the database is down, a refresh borrows nothing: it is skipped
 * and counted, and /metrics says the snapshot failed. */
static void test_tsp_ts_snapshot_refresh_skipped_while_database_down(void **state)
{
    struct tsp_fake *fake = tsp_fake_new();
    struct tsp_connector c;
    struct tsp_pool_options o;
    struct tsp_pool *pool = NULL;
    struct tsp_ts *ts = NULL;
    struct tsp_pool_health h;
    struct tsp_pool_stats before;
    struct tsp_pool_stats after;
    struct tsp_strbuf sb = {0};
    struct tsp_error err;
    (void)state;

    memset(&o, 0, sizeof(o));
    o.mode = TSP_POOL_MODE_POOLED;
    o.size = 2;
    o.timeout_ms = 1000;
    o.preping_idle_ms = -1;
    o.health_interval_ms = 20;
    o.maintenance_interval_ms = 10;
    tsp_error_init(&err);
    tsp_fake_fail_connects(fake, -1, TSP_DB_UNAVAILABLE, "08006", "connection refused");
    tsp_fake_connector(fake, &c);
    assert_int_equal(tsp_pool_new(&o, &c, &pool, &err), TSP_OK);
    assert_int_equal(tsp_ts_new(pool, &ts, &err), TSP_OK);
    for (int i = 0; i < 300; i++) {
        tsp_pool_health(pool, &h);
        if (h.checked && !h.ok) {
            break;
        }
        tsp_test_sleep_ms(10);
    }
    assert_true(h.checked && !h.ok);
    tsp_ts_snapshot_start(ts, 86400000);
    tsp_pool_stats(pool, &before);
    assert_int_equal(tsp_ts_snapshot_refresh(ts, &err), TSP_DB_UNAVAILABLE);
    assert_non_null(strstr(err.detail, "skipped: the database is down"));
    tsp_pool_stats(pool, &after);
    assert_int_equal(after.borrow_failures, before.borrow_failures);
    assert_int_equal(after.borrows, before.borrows);
    tsp_ts_snapshot_metrics(ts, &sb);
    assert_non_null(strstr(sb.data, "tspool_timescaledb_snapshot_success 0\n"));
    assert_null(strstr(sb.data, "tspool_timescaledb_snapshot_failures_total 0\n"));
    assert_null(strstr(sb.data, "tspool_timescaledb_installed"));
    tsp_strbuf_fini(&sb);
    /* off: nothing at all */
    tsp_ts_snapshot_start(ts, 0);
    tsp_ts_snapshot_metrics(ts, &sb);
    assert_true(sb.len == 0);
    tsp_strbuf_fini(&sb);
    tsp_ts_free(ts);
    tsp_pool_free(pool);
    tsp_fake_free(fake);
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsp_ts_sql_job_runs_one_job_history_view),
        cmocka_unit_test(test_tsp_ts_sql_job_runs_job_errors_before_2_15),
        cmocka_unit_test(test_tsp_ts_sql_job_runs_failures_since_timestamp),
        cmocka_unit_test(test_tsp_ts_sql_since_rejects_integers_and_empty),
        cmocka_unit_test(test_tsp_ts_sql_snapshot_queries_take_no_input),
        cmocka_unit_test(test_tsp_ts_snapshot_refresh_skipped_while_database_down),
    };

    tsp_log_setup(TSP_LOG_LEVEL_ERROR, TSP_LOG_FORMAT_TEXT, stderr);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
