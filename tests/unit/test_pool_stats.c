/* test_pool_stats.c - unit tests of pool snapshots: histogram and quantiles, per-connection
 * detail, slow operations per label, name tables, options derived from a configuration.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fake_connector.h"
#include "tspool/config.h"
#include "tspool/log.h"
#include "tspool/pool.h"

struct fixture {
    struct tsp_fake *fake;
    struct tsp_pool *pool;
};

static void start_pool(struct fixture *f, long slow_ms)
{
    struct tsp_pool_options o;
    struct tsp_connector c;
    struct tsp_error err;

    memset(&o, 0, sizeof(o));
    o.size = 3;
    o.max_overflow = 0;
    o.timeout_ms = 1000;
    o.preping_idle_ms = -1;
    o.health_interval_ms = -1;
    o.slow_ms = slow_ms;
    tsp_error_init(&err);
    f->fake = tsp_fake_new();
    tsp_fake_connector(f->fake, &c);
    assert_int_equal(tsp_pool_new(&o, &c, &f->pool, &err), TSP_OK);
}

static void stop_pool(struct fixture *f)
{
    tsp_pool_free(f->pool);
    tsp_fake_free(f->fake);
}

static struct tsp_lease *must_borrow(struct tsp_pool *pool, const char *label)
{
    struct tsp_lease *lease = NULL;
    struct tsp_error err;

    tsp_error_init(&err);
    assert_int_equal(tsp_pool_borrow(pool, label, -1, &lease, &err), TSP_OK);
    return lease;
}

static void test_tsp_pool_wait_quantile_empty_is_zero(void **state)
{
    struct tsp_pool_stats st;
    (void)state;

    memset(&st, 0, sizeof(st));
    assert_true(tsp_pool_wait_quantile(&st, 0.5) == 0.0);
    assert_true(tsp_pool_wait_quantile(&st, 0.99) == 0.0);
}

static void test_tsp_pool_wait_quantile_interpolates(void **state)
{
    struct tsp_pool_stats st;
    (void)state;

    memset(&st, 0, sizeof(st));
    st.wait_buckets[0] = 50; /* <= 0.1 ms */
    st.wait_buckets[2] = 50; /* 0.5 .. 1 ms */
    /* median: the last of the first bucket */
    assert_true(fabs(tsp_pool_wait_quantile(&st, 0.5) - 0.0001) < 1e-12);
    /* p75: halfway through the 0.5..1 ms bucket */
    assert_true(fabs(tsp_pool_wait_quantile(&st, 0.75) - 0.00075) < 1e-12);
    assert_true(fabs(tsp_pool_wait_quantile(&st, 1.0) - 0.001) < 1e-12);
    assert_true(fabs(tsp_pool_wait_quantile(&st, 2.0) - 0.001) < 1e-12);
    memset(&st, 0, sizeof(st));
    st.wait_buckets[TSP_POOL_WAIT_BUCKETS] = 3; /* beyond the last bound */
    assert_true(tsp_pool_wait_quantile(&st, 0.5) == 10.0);
}

static void test_tsp_pool_stats_histogram_counts_borrows(void **state)
{
    struct fixture f;
    struct tsp_lease *l = NULL;
    struct tsp_pool_stats st;
    uint64_t total = 0;
    (void)state;

    start_pool(&f, 0);
    for (int i = 0; i < 10; i++) {
        l = must_borrow(f.pool, "h");
        tsp_pool_return(l);
    }
    tsp_pool_stats(f.pool, &st);
    for (int i = 0; i <= TSP_POOL_WAIT_BUCKETS; i++) {
        total += st.wait_buckets[i];
    }
    assert_int_equal(total, 10);
    assert_int_equal(st.borrows, 10);
    assert_true(st.wait_sum_s >= 0.0);
    assert_true(st.wait_sum_s < 1.0);
    assert_true(st.uptime_s >= 0.0);
    assert_true(st.started_at_ms > 1700000000000LL);
    assert_int_equal(st.size, 3);
    assert_int_equal(st.timeout_ms, 1000);
    stop_pool(&f);
}

static void test_tsp_pool_conn_list_shows_holders(void **state)
{
    struct fixture f;
    struct tsp_lease *a = NULL;
    struct tsp_lease *b = NULL;
    struct tsp_pool_conn_info *infos = NULL;
    size_t n = 0;
    struct tsp_error err;
    (void)state;

    start_pool(&f, 0);
    a = must_borrow(f.pool, "hypertables.list");
    b = must_borrow(f.pool, "readyz");
    tsp_pool_return(b);
    tsp_test_sleep_ms(30); /* stamps come from a clock with a few ms resolution */
    tsp_error_init(&err);
    assert_int_equal(tsp_pool_conn_list(f.pool, &infos, &n, &err), TSP_OK);
    assert_int_equal(n, 2);
    assert_int_equal(infos[0].state, TSP_POOL_CONN_IN_USE);
    assert_string_equal(infos[0].holder, "hypertables.list");
    assert_int_equal(infos[0].backend_pid, 1001);
    assert_int_equal(infos[0].uses, 1);
    assert_true(infos[0].held_s >= 0.015);
    assert_true(infos[0].idle_s == 0.0);
    assert_int_equal(infos[0].id, tsp_lease_conn_id(a));
    assert_int_equal(infos[1].state, TSP_POOL_CONN_IDLE);
    assert_string_equal(infos[1].holder, "");
    assert_int_equal(infos[1].backend_pid, 1002);
    assert_true(infos[1].idle_s >= 0.015);
    assert_true(infos[1].held_s == 0.0);
    assert_false(infos[1].overflow);
    free(infos);
    tsp_pool_return(a);
    stop_pool(&f);
}

static void test_tsp_pool_slow_by_label_counts_and_overflows(void **state)
{
    struct fixture f;
    struct tsp_lease *l = NULL;
    struct tsp_pool_label_count counts[80];
    struct tsp_pool_stats st;
    char label[32];
    size_t n = 0;
    (void)state;

    start_pool(&f, 100);
    l = must_borrow(f.pool, "chunks.compress");
    tsp_lease_report_duration(l, "chunks.compress", 99.0);
    tsp_lease_report_duration(l, "chunks.compress", 100.0);
    tsp_lease_report_duration(l, "chunks.compress", 150.5);
    tsp_lease_report_duration(l, "chunks.compress", 1500.0);
    tsp_pool_return(l);
    n = tsp_pool_slow_by_label(f.pool, counts, 80);
    assert_int_equal(n, 1);
    assert_string_equal(counts[0].label, "chunks.compress");
    assert_int_equal(counts[0].count, 2);
    for (int i = 0; i < 70; i++) {
        snprintf(label, sizeof(label), "op%d", i);
        l = must_borrow(f.pool, label);
        tsp_lease_report_duration(l, label, 500.0);
        tsp_pool_return(l);
    }
    n = tsp_pool_slow_by_label(f.pool, counts, 80);
    assert_int_equal(n, 65);
    assert_string_equal(counts[63].label, "op62");
    assert_string_equal(counts[64].label, "other");
    assert_int_equal(counts[64].count, 7);
    assert_int_equal(tsp_pool_slow_by_label(f.pool, counts, 2), 2);
    tsp_pool_stats(f.pool, &st);
    assert_int_equal(st.slow_operations, 72);
    stop_pool(&f);
}

static void test_tsp_pool_names(void **state)
{
    (void)state;
    assert_string_equal(tsp_close_reason_name(TSP_CLOSE_RECYCLE), "recycle");
    assert_string_equal(tsp_close_reason_name(TSP_CLOSE_SHUTDOWN), "shutdown");
    assert_string_equal(tsp_close_reason_name(TSP_CLOSE_DIRECT), "direct");
    assert_string_equal(tsp_close_reason_name(TSP_CLOSE_REASON_COUNT), "unknown");
    assert_string_equal(tsp_pool_conn_state_name(TSP_POOL_CONN_IN_USE), "in_use");
    assert_string_equal(tsp_pool_conn_state_name(TSP_POOL_CONN_CONNECTING), "connecting");
    assert_string_equal(tsp_pool_conn_state_name(TSP_POOL_CONN_CLOSING), "closing");
}

static void test_tsp_pool_options_from_config_converts_units(void **state)
{
    struct tsp_config cfg;
    struct tsp_pool_options o;
    (void)state;

    memset(&cfg, 0, sizeof(cfg));
    cfg.pool_size = 20;
    cfg.pool_max_overflow = 10;
    cfg.pool_mode = TSP_POOL_MODE_DIRECT;
    cfg.db_min_conns = 25;
    cfg.db_pool_timeout_s = 30;
    cfg.db_pool_recycle_s = 3600;
    cfg.db_preping_idle_ms = 1000;
    cfg.db_idle_timeout_s = 600;
    cfg.db_leak_detection_ms = 60000;
    cfg.db_slow_query_ms = 1000;
    cfg.health_interval_ms = 5000;
    cfg.stats_log_interval_s = 60;
    tsp_pool_options_from_config(&cfg, &o);
    assert_int_equal(o.mode, TSP_POOL_MODE_DIRECT);
    assert_int_equal(o.size, 20);
    assert_int_equal(o.max_overflow, 10);
    assert_int_equal(o.min_idle, 20); /* never above size */
    assert_int_equal(o.timeout_ms, 30000);
    assert_int_equal(o.recycle_ms, 3600000);
    assert_int_equal(o.preping_idle_ms, 1000);
    assert_int_equal(o.idle_timeout_ms, 600000);
    assert_int_equal(o.leak_ms, 60000);
    assert_int_equal(o.slow_ms, 1000);
    assert_int_equal(o.health_interval_ms, 5000);
    assert_int_equal(o.stats_log_interval_ms, 60000);
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsp_pool_wait_quantile_empty_is_zero),
        cmocka_unit_test(test_tsp_pool_wait_quantile_interpolates),
        cmocka_unit_test(test_tsp_pool_stats_histogram_counts_borrows),
        cmocka_unit_test(test_tsp_pool_conn_list_shows_holders),
        cmocka_unit_test(test_tsp_pool_slow_by_label_counts_and_overflows),
        cmocka_unit_test(test_tsp_pool_names),
        cmocka_unit_test(test_tsp_pool_options_from_config_converts_units),
    };

    tsp_log_setup(TSP_LOG_LEVEL_ERROR, TSP_LOG_FORMAT_TEXT, stderr);
    return cmocka_run_group_tests_name("pool_stats", tests, NULL, NULL);
}
