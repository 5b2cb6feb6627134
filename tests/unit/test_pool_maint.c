/* test_pool_maint.c - unit tests of the maintenance thread through the fake connector:
 * recycle with jitter, idle timeout, min idle fill, leak detection, health checks.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_connector.h"
#include "pool_int.h"
#include "tspool/log.h"
#include "tspool/pool.h"

struct fixture {
    struct tsp_fake *fake;
    struct tsp_pool *pool;
};

static struct tsp_pool_options base_options(void)
{
    struct tsp_pool_options o;

    memset(&o, 0, sizeof(o));
    o.mode = TSP_POOL_MODE_POOLED;
    o.size = 4;
    o.max_overflow = 2;
    o.timeout_ms = 5000;
    o.preping_idle_ms = -1;
    o.health_interval_ms = -1;
    o.maintenance_interval_ms = 10;
    return o;
}

static void start_pool(struct fixture *f, const struct tsp_pool_options *o)
{
    struct tsp_connector c;
    struct tsp_error err;

    tsp_error_init(&err);
    f->fake = f->fake != NULL ? f->fake : tsp_fake_new();
    tsp_fake_connector(f->fake, &c);
    assert_int_equal(tsp_pool_new(o, &c, &f->pool, &err), TSP_OK);
}

static void stop_pool(struct fixture *f)
{
    tsp_pool_free(f->pool);
    assert_int_equal(tsp_fake_open(f->fake), 0);
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

static struct tsp_pool_stats stats_of(struct tsp_pool *pool)
{
    struct tsp_pool_stats st;
    tsp_pool_stats(pool, &st);
    return st;
}

static struct tsp_pool_health health_of(struct tsp_pool *pool)
{
    struct tsp_pool_health h;
    tsp_pool_health(pool, &h);
    return h;
}

/* Borrow n connections at once, then return them all: n idle connections. */
static void warm(struct tsp_pool *pool, int n)
{
    struct tsp_lease *l[16];

    for (int i = 0; i < n; i++) {
        l[i] = must_borrow(pool, "warm");
    }
    for (int i = 0; i < n; i++) {
        tsp_pool_return(l[i]);
    }
}

/* Poll pred(f) every 5 ms for up to 5 s: timing on a loaded machine is not predictable, so
 * tests wait for the state they expect instead of sleeping a fixed time. */
static bool poll_until(bool (*pred)(struct fixture *), struct fixture *f)
{
    for (int i = 0; i < 1000; i++) {
        if (pred(f)) {
            return true;
        }
        tsp_test_sleep_ms(5);
    }
    return pred(f);
}

static bool one_recycled(struct fixture *f)
{
    return stats_of(f->pool).closes[TSP_CLOSE_RECYCLE] >= 1;
}

static bool three_idle_closed(struct fixture *f)
{
    return stats_of(f->pool).closes[TSP_CLOSE_IDLE] >= 3;
}

static bool min_idle_filled(struct fixture *f)
{
    return health_of(f->pool).min_idle_filled;
}

static bool leak_seen(struct fixture *f)
{
    return stats_of(f->pool).leaks_detected >= 1;
}

static bool checked(struct fixture *f)
{
    return health_of(f->pool).checked;
}

static bool pinged(struct fixture *f)
{
    return tsp_fake_pings(f->fake) >= 1;
}

static bool misconfigured(struct fixture *f)
{
    return health_of(f->pool).misconfigured;
}

static bool down_not_misconfigured(struct fixture *f)
{
    struct tsp_pool_health h = health_of(f->pool);
    return !h.misconfigured && strcmp(h.detail, "connect failed: refused") == 0;
}

static bool healthy(struct fixture *f)
{
    return health_of(f->pool).ok;
}

static bool replaced_dead(struct fixture *f)
{
    struct tsp_pool_stats st = stats_of(f->pool);
    return health_of(f->pool).ok && st.closes[TSP_CLOSE_BROKEN] >= 1 && st.idle == 1;
}

static void test_tsp_pool_recycle_jitter_within_ten_percent(void **state)
{
    struct fixture f = {NULL, NULL};
    struct tsp_pool_options o = base_options();
    struct tsp_pool_conn *c = NULL;
    int64_t lo = 0, hi = 0, extra = 0;
    int n = 0;
    (void)state;

    o.size = 16;
    o.recycle_ms = 100000;
    start_pool(&f, &o);
    warm(f.pool, 16);
    pthread_mutex_lock(&f.pool->lock);
    lo = INT64_MAX;
    hi = INT64_MIN;
    for (c = f.pool->lists[TSP_POOL_CONN_IDLE].head; c != NULL; c = c->next) {
        extra = c->recycle_at_ms - c->created_ms - o.recycle_ms;
        lo = extra < lo ? extra : lo;
        hi = extra > hi ? extra : hi;
        n++;
    }
    pthread_mutex_unlock(&f.pool->lock);
    assert_int_equal(n, 16);
    assert_true(lo >= 0);
    assert_true(hi <= o.recycle_ms / 10);
    assert_true(hi > lo); /* not one shared deadline: connections do not expire together */
    stop_pool(&f);
}

static void test_tsp_pool_recycle_idle_and_on_return(void **state)
{
    struct fixture f = {NULL, NULL};
    struct tsp_pool_options o = base_options();
    struct tsp_lease *held = NULL;
    (void)state;

    o.recycle_ms = 100;
    start_pool(&f, &o);
    warm(f.pool, 2);
    held = must_borrow(f.pool, "held");
    assert_true(poll_until(one_recycled, &f));
    tsp_test_sleep_ms(150); /* past the borrowed one's age too: it must stay with its holder */
    /* the idle one was replaced by the maintenance thread; the borrowed one was not touched */
    assert_int_equal(stats_of(f.pool).closes[TSP_CLOSE_RECYCLE], 1);
    assert_int_equal(stats_of(f.pool).in_use, 1);
    assert_false(tsp_fake_handle_dead(tsp_lease_handle(held)));
    tsp_pool_return(held);
    assert_int_equal(stats_of(f.pool).closes[TSP_CLOSE_RECYCLE], 2);
    assert_int_equal(stats_of(f.pool).open, 0);
    stop_pool(&f);
}

static void test_tsp_pool_recycle_all_soft_evicts(void **state)
{
    struct fixture f = {NULL, NULL};
    struct tsp_pool_options o = base_options();
    struct tsp_lease *held = NULL;
    (void)state;

    start_pool(&f, &o);
    warm(f.pool, 3);
    held = must_borrow(f.pool, "held");
    assert_int_equal(tsp_pool_recycle_all(f.pool), 3);
    assert_int_equal(stats_of(f.pool).closes[TSP_CLOSE_RECYCLE], 2);
    assert_int_equal(stats_of(f.pool).in_use, 1);
    tsp_pool_return(held);
    assert_int_equal(stats_of(f.pool).closes[TSP_CLOSE_RECYCLE], 3);
    assert_int_equal(tsp_fake_open(f.fake), 0);
    stop_pool(&f);
}

static void test_tsp_pool_idle_timeout_keeps_min_idle(void **state)
{
    struct fixture f = {NULL, NULL};
    struct tsp_pool_options o = base_options();
    (void)state;

    o.min_idle = 1;
    o.idle_timeout_ms = 50;
    start_pool(&f, &o);
    warm(f.pool, 4);
    assert_true(poll_until(three_idle_closed, &f));
    tsp_test_sleep_ms(100);
    assert_int_equal(stats_of(f.pool).idle, 1);
    assert_int_equal(stats_of(f.pool).closes[TSP_CLOSE_IDLE], 3);
    stop_pool(&f);
}

static void test_tsp_pool_min_idle_filled_at_start(void **state)
{
    struct fixture f = {NULL, NULL};
    struct tsp_pool_options o = base_options();
    (void)state;

    o.min_idle = 3;
    start_pool(&f, &o);
    assert_true(poll_until(min_idle_filled, &f));
    assert_int_equal(stats_of(f.pool).idle, 3);
    assert_int_equal(tsp_fake_open(f.fake), 3);
    stop_pool(&f);
}

static void test_tsp_pool_min_idle_retries_after_failure(void **state)
{
    struct fixture f = {NULL, NULL};
    struct tsp_pool_options o = base_options();
    (void)state;

    o.min_idle = 2;
    f.fake = tsp_fake_new();
    tsp_fake_fail_connects(f.fake, 2, TSP_DB_UNAVAILABLE, NULL, "connect failed: refused");
    start_pool(&f, &o);
    assert_true(poll_until(min_idle_filled, &f));
    assert_true(stats_of(f.pool).connect_failures >= 1);
    assert_int_equal(stats_of(f.pool).idle, 2);
    stop_pool(&f);
}

static void test_tsp_pool_leak_reported_once(void **state)
{
    struct fixture f = {NULL, NULL};
    struct tsp_pool_options o = base_options();
    struct tsp_lease *held = NULL;
    FILE *log = tmpfile();
    char line[2048];
    int leak_lines = 0;
    bool saw_label = false;
    (void)state;

    assert_non_null(log);
    tsp_log_setup(TSP_LOG_LEVEL_WARN, TSP_LOG_FORMAT_JSON, log);
    o.leak_ms = 40;
    start_pool(&f, &o);
    held = must_borrow(f.pool, "reports.export");
    assert_true(poll_until(leak_seen, &f));
    tsp_test_sleep_ms(100); /* more scans: still reported once */
    assert_int_equal(stats_of(f.pool).leaks_detected, 1);
    /* not taken away: the holder still has a live connection */
    assert_int_equal(stats_of(f.pool).in_use, 1);
    assert_false(tsp_fake_handle_dead(tsp_lease_handle(held)));
    tsp_pool_return(held);
    stop_pool(&f);
    tsp_log_setup(TSP_LOG_LEVEL_ERROR, TSP_LOG_FORMAT_TEXT, stderr);
    rewind(log);
    while (fgets(line, sizeof(line), log) != NULL) {
        if (strstr(line, "\"event\":\"pool.leak\"") != NULL) {
            leak_lines++;
            saw_label = strstr(line, "\"label\":\"reports.export\"") != NULL &&
                        strstr(line, "\"backend_pid\":1001") != NULL;
        }
    }
    fclose(log);
    assert_int_equal(leak_lines, 1);
    assert_true(saw_label);
}

static void test_tsp_pool_health_ok_by_ping(void **state)
{
    struct fixture f = {NULL, NULL};
    struct tsp_pool_options o = base_options();
    struct tsp_pool_health h;
    int64_t beat = 0;
    (void)state;

    o.health_interval_ms = 20;
    start_pool(&f, &o);
    assert_true(poll_until(checked, &f));
    h = health_of(f.pool);
    assert_true(h.checked);
    assert_true(h.ok);
    assert_true(h.ever_ok);
    assert_false(h.misconfigured);
    assert_string_equal(h.detail, "");
    /* the first check opened a connection and kept it (under size); later ones ping it */
    assert_true(poll_until(pinged, &f));
    assert_int_equal(tsp_fake_connects(f.fake), 1);
    assert_true(tsp_fake_pings(f.fake) >= 1);
    beat = health_of(f.pool).heartbeat_ms;
    tsp_test_sleep_ms(60);
    assert_true(health_of(f.pool).heartbeat_ms > beat);
    stop_pool(&f);
}

static void test_tsp_pool_health_misconfigured_vs_down(void **state)
{
    struct fixture f = {NULL, NULL};
    struct tsp_pool_options o = base_options();
    struct tsp_pool_health h;
    (void)state;

    o.health_interval_ms = 20;
    f.fake = tsp_fake_new();
    tsp_fake_fail_connects(f.fake, -1, TSP_DB_ERROR, "28P01",
                           "connect failed: password authentication failed for user \"app\"");
    start_pool(&f, &o);
    assert_true(poll_until(misconfigured, &f));
    h = health_of(f.pool);
    assert_true(h.checked);
    assert_false(h.ok);
    assert_true(h.misconfigured);
    assert_string_equal(h.sqlstate, "28P01");
    assert_string_equal(h.detail,
                        "connect failed: password authentication failed for user \"app\"");
    tsp_fake_fail_connects(f.fake, -1, TSP_DB_UNAVAILABLE, NULL, "connect failed: refused");
    assert_true(poll_until(down_not_misconfigured, &f));
    h = health_of(f.pool);
    assert_false(h.ok);
    assert_false(h.misconfigured);
    assert_false(h.ever_ok);
    assert_string_equal(h.detail, "connect failed: refused");
    tsp_fake_fail_connects(f.fake, 0, TSP_OK, NULL, NULL);
    assert_true(poll_until(healthy, &f));
    h = health_of(f.pool);
    assert_true(h.ok);
    assert_true(h.ever_ok);
    assert_string_equal(h.sqlstate, "");
    stop_pool(&f);
}

static bool two_recycled(struct fixture *f)
{
    return stats_of(f->pool).closes[TSP_CLOSE_RECYCLE] >= 2;
}

/* New credentials: refused ones keep the connections serving and read as misconfigured;
 * accepted ones recycle every connection, the borrowed one only when it comes back. */
static void test_tsp_pool_rotate_refused_then_accepted(void **state)
{
    struct fixture f = {NULL, NULL};
    struct tsp_pool_options o = base_options();
    struct tsp_lease *held = NULL;
    struct tsp_lease *other = NULL;
    struct tsp_pool_health h;
    (void)state;

    o.health_interval_ms = 20;
    start_pool(&f, &o);
    warm(f.pool, 3);
    assert_true(poll_until(healthy, &f));
    held = must_borrow(f.pool, "held");

    tsp_fake_set_rotation(f.fake, false, TSP_DB_ERROR,
                          "DB_PASS_FILE: the new password was refused");
    assert_true(poll_until(misconfigured, &f));
    h = health_of(f.pool);
    assert_false(h.ok);
    assert_string_equal(h.detail, "DB_PASS_FILE: the new password was refused");
    /* the open connections keep serving, none is closed */
    other = must_borrow(f.pool, "other");
    tsp_pool_return(other);
    assert_int_equal(stats_of(f.pool).closes[TSP_CLOSE_RECYCLE], 0);
    assert_int_equal(tsp_fake_open(f.fake), 3);

    tsp_fake_set_rotation(f.fake, true, TSP_OK, NULL);
    assert_true(poll_until(healthy, &f));
    assert_true(poll_until(two_recycled, &f)); /* both idle ones at once */
    assert_false(tsp_fake_handle_dead(tsp_lease_handle(held)));
    assert_int_equal(stats_of(f.pool).closes[TSP_CLOSE_RECYCLE], 2);
    tsp_pool_return(held); /* the borrowed one closes on its return */
    assert_int_equal(stats_of(f.pool).closes[TSP_CLOSE_RECYCLE], 3);
    assert_false(health_of(f.pool).misconfigured);
    assert_true(tsp_fake_rotations(f.fake) > 2);
    stop_pool(&f);
}

static void test_tsp_pool_health_dead_idle_then_connect(void **state)
{
    struct fixture f = {NULL, NULL};
    struct tsp_pool_options o = base_options();
    (void)state;

    o.health_interval_ms = 30;
    start_pool(&f, &o);
    assert_true(poll_until(checked, &f));
    warm(f.pool, 1); /* the connection the first check opened */
    assert_int_equal(tsp_fake_connects(f.fake), 1);
    tsp_fake_kill_all(f.fake);
    assert_true(poll_until(replaced_dead, &f));
    stop_pool(&f);
}

static void test_tsp_pool_stats_log_line(void **state)
{
    struct fixture f = {NULL, NULL};
    struct tsp_pool_options o = base_options();
    FILE *log = tmpfile();
    char line[2048];
    int stats_lines = 0;
    bool fields = false;
    (void)state;

    assert_non_null(log);
    tsp_log_setup(TSP_LOG_LEVEL_INFO, TSP_LOG_FORMAT_JSON, log);
    o.stats_log_interval_ms = 30;
    start_pool(&f, &o);
    warm(f.pool, 2);
    tsp_test_sleep_ms(500);
    stop_pool(&f);
    tsp_log_setup(TSP_LOG_LEVEL_ERROR, TSP_LOG_FORMAT_TEXT, stderr);
    rewind(log);
    while (fgets(line, sizeof(line), log) != NULL) {
        if (strstr(line, "\"event\":\"pool.stats\"") != NULL) {
            stats_lines++;
            /* any line of the steady state (the last may race the shutdown) */
            fields =
                fields ||
                (strstr(line, "\"msg\":\"pool: 2 open, 2 idle, 0 in use, 0 waiting\"") != NULL &&
                 strstr(line, "\"borrows\":2") != NULL);
        }
    }
    fclose(log);
    assert_true(stats_lines >= 1);
    assert_true(fields);
}

static void count_task(void *ctx)
{
    int *calls = ctx;
    __atomic_add_fetch(calls, 1, __ATOMIC_SEQ_CST);
}

/* The maintenance thread runs a periodic task, and never again once it is removed. */
static void test_tsp_pool_set_task_runs_until_removed(void **state)
{
    struct fixture fx = {NULL, NULL};
    struct fixture *f = &fx;
    struct tsp_pool_options o = base_options();
    int calls = 0;
    int after = 0;
    (void)state;

    start_pool(f, &o);
    tsp_pool_set_task(f->pool, count_task, &calls, 20);
    for (int i = 0; i < 200 && __atomic_load_n(&calls, __ATOMIC_SEQ_CST) < 3; i++) {
        tsp_test_sleep_ms(10);
    }
    assert_true(__atomic_load_n(&calls, __ATOMIC_SEQ_CST) >= 3);
    tsp_pool_set_task(f->pool, NULL, NULL, 0);
    after = __atomic_load_n(&calls, __ATOMIC_SEQ_CST);
    tsp_test_sleep_ms(100);
    assert_int_equal(__atomic_load_n(&calls, __ATOMIC_SEQ_CST), after);
    stop_pool(f);
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsp_pool_recycle_jitter_within_ten_percent),
        cmocka_unit_test(test_tsp_pool_recycle_idle_and_on_return),
        cmocka_unit_test(test_tsp_pool_recycle_all_soft_evicts),
        cmocka_unit_test(test_tsp_pool_idle_timeout_keeps_min_idle),
        cmocka_unit_test(test_tsp_pool_min_idle_filled_at_start),
        cmocka_unit_test(test_tsp_pool_min_idle_retries_after_failure),
        cmocka_unit_test(test_tsp_pool_leak_reported_once),
        cmocka_unit_test(test_tsp_pool_health_ok_by_ping),
        cmocka_unit_test(test_tsp_pool_health_misconfigured_vs_down),
        cmocka_unit_test(test_tsp_pool_health_dead_idle_then_connect),
        cmocka_unit_test(test_tsp_pool_rotate_refused_then_accepted),
        cmocka_unit_test(test_tsp_pool_stats_log_line),
        cmocka_unit_test(test_tsp_pool_set_task_runs_until_removed),
    };

    tsp_log_setup(TSP_LOG_LEVEL_ERROR, TSP_LOG_FORMAT_TEXT, stderr);
    return cmocka_run_group_tests_name("pool_maint", tests, NULL, NULL);
}
