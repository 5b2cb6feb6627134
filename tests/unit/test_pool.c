/* test_pool.c - unit tests of the pool core through the scripted fake connector: FIFO
 * waiters, timeouts, overflow, connect failures, pre-ping, failover, control, concurrency.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "fake_connector.h"
#include "tspool/clock.h"
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
    o.size = 2;
    o.max_overflow = 1;
    o.timeout_ms = 5000;
    o.preping_idle_ms = -1;
    o.health_interval_ms = -1;
    o.maintenance_interval_ms = 20;
    return o;
}

static void start_pool(struct fixture *f, const struct tsp_pool_options *o)
{
    struct tsp_connector c;
    struct tsp_error err;

    tsp_error_init(&err);
    f->fake = tsp_fake_new();
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
    assert_non_null(lease);
    return lease;
}

static struct tsp_pool_stats stats_of(struct tsp_pool *pool)
{
    struct tsp_pool_stats st;
    tsp_pool_stats(pool, &st);
    return st;
}

/* Poll until the pool has `n` waiters (threads blocked in borrow). */
static void wait_for_waiters(struct tsp_pool *pool, int n)
{
    for (int i = 0; i < 2500 && stats_of(pool).waiting != n; i++) {
        tsp_test_sleep_ms(2);
    }
    assert_int_equal(stats_of(pool).waiting, n);
}

/* ---- a borrower thread ---------------------------------------------------------------- */

struct borrower {
    pthread_t thread;
    struct tsp_pool *pool;
    const char *label;
    long timeout_ms;
    long hold_ms;
    enum tsp_code code;
    struct tsp_error err;
    int64_t elapsed_ms;
    /* shared order log */
    pthread_mutex_t *order_lock;
    int *order;
    int *order_len;
    int index;
};

static void *borrower_main(void *arg)
{
    struct borrower *b = arg;
    struct tsp_lease *lease = NULL;
    int64_t t0 = tsp_clock_mono_ms();

    tsp_error_init(&b->err);
    b->code = tsp_pool_borrow(b->pool, b->label, b->timeout_ms, &lease, &b->err);
    b->elapsed_ms = tsp_clock_mono_ms() - t0;
    if (b->code == TSP_OK) {
        if (b->order_lock != NULL) {
            pthread_mutex_lock(b->order_lock);
            b->order[(*b->order_len)++] = b->index;
            pthread_mutex_unlock(b->order_lock);
        }
        tsp_test_sleep_ms(b->hold_ms);
        tsp_pool_return(lease);
    }
    return NULL;
}

static void borrower_start(struct borrower *b, struct tsp_pool *pool, const char *label,
                           long timeout_ms)
{
    memset(b, 0, sizeof(*b));
    b->pool = pool;
    b->label = label;
    b->timeout_ms = timeout_ms;
    assert_int_equal(pthread_create(&b->thread, NULL, borrower_main, b), 0);
}

/* ---- tests ---------------------------------------------------------------------------- */

static void test_tsp_pool_new_invalid_options(void **state)
{
    struct tsp_pool_options o = base_options();
    struct tsp_connector c;
    struct tsp_pool *pool = NULL;
    struct tsp_fake *fake = tsp_fake_new();
    struct tsp_error err;
    (void)state;

    tsp_fake_connector(fake, &c);
    o.size = 0;
    tsp_error_init(&err);
    assert_int_equal(tsp_pool_new(&o, &c, &pool, &err), TSP_INVALID);
    assert_string_equal(err.field, "size");
    assert_string_equal(err.detail, "pool size must be at least 1, got 0");
    assert_null(pool);
    o = base_options();
    o.min_idle = 3;
    tsp_error_init(&err);
    assert_int_equal(tsp_pool_new(&o, &c, &pool, &err), TSP_INVALID);
    assert_string_equal(err.field, "min_idle");
    tsp_fake_free(fake);
}

static void test_tsp_pool_borrow_reuses_idle_connection(void **state)
{
    struct fixture f;
    struct tsp_pool_options o = base_options();
    struct tsp_lease *a = NULL;
    struct tsp_lease *b = NULL;
    long long id = 0;
    struct tsp_pool_stats st;
    (void)state;

    start_pool(&f, &o);
    a = must_borrow(f.pool, "first");
    assert_string_equal(tsp_lease_label(a), "first");
    assert_int_equal(tsp_fake_handle_pid(tsp_lease_handle(a)), 1001);
    id = tsp_lease_conn_id(a);
    tsp_pool_return(a);
    b = must_borrow(f.pool, "second");
    assert_int_equal(tsp_lease_conn_id(b), id);
    assert_string_equal(tsp_lease_label(b), "second");
    st = stats_of(f.pool);
    assert_int_equal(st.open, 1);
    assert_int_equal(st.in_use, 1);
    assert_int_equal(st.idle, 0);
    assert_int_equal(st.borrows, 2);
    assert_int_equal(st.connects, 1);
    assert_int_equal(st.waited_borrows, 0);
    tsp_pool_return(b);
    assert_int_equal(stats_of(f.pool).idle, 1);
    stop_pool(&f);
}

static void test_tsp_pool_borrow_waiters_served_fifo(void **state)
{
    struct fixture f;
    struct tsp_pool_options o = base_options();
    struct tsp_lease *held = NULL;
    struct borrower b[5];
    pthread_mutex_t order_lock = PTHREAD_MUTEX_INITIALIZER;
    int order[5] = {0};
    int order_len = 0;
    static const char *const labels[] = {"w0", "w1", "w2", "w3", "w4"};
    (void)state;

    o.size = 1;
    o.max_overflow = 0;
    start_pool(&f, &o);
    held = must_borrow(f.pool, "holder");
    for (int i = 0; i < 5; i++) {
        borrower_start(&b[i], f.pool, labels[i], 5000);
        b[i].order_lock = &order_lock;
        b[i].order = order;
        b[i].order_len = &order_len;
        b[i].index = i;
        b[i].hold_ms = 2;
        wait_for_waiters(f.pool, i + 1);
    }
    tsp_pool_return(held);
    for (int i = 0; i < 5; i++) {
        pthread_join(b[i].thread, NULL);
        assert_int_equal(b[i].code, TSP_OK);
    }
    assert_int_equal(order_len, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(order[i], i);
    }
    assert_int_equal(stats_of(f.pool).waited_borrows, 5);
    assert_int_equal(stats_of(f.pool).connects, 1);
    stop_pool(&f);
}

static void test_tsp_pool_borrow_timeout_reports_counts(void **state)
{
    struct fixture f;
    struct tsp_pool_options o = base_options();
    struct tsp_lease *l[3];
    struct tsp_lease *extra = NULL;
    struct tsp_error err;
    int64_t t0 = 0;
    int64_t elapsed = 0;
    (void)state;

    start_pool(&f, &o);
    for (int i = 0; i < 3; i++) {
        l[i] = must_borrow(f.pool, "busy");
    }
    tsp_error_init(&err);
    t0 = tsp_clock_mono_ms();
    assert_int_equal(tsp_pool_borrow(f.pool, "late", 50, &extra, &err), TSP_POOL_EXHAUSTED);
    elapsed = tsp_clock_mono_ms() - t0;
    assert_null(extra);
    assert_true(elapsed >= 50);
    assert_true(elapsed < 2000);
    assert_string_equal(err.detail, "no connection available within 50 ms (size 2, overflow 1, "
                                    "in use 3, waiting 1)");
    assert_int_equal(stats_of(f.pool).borrow_timeouts, 1);
    assert_int_equal(stats_of(f.pool).waiting, 0);
    for (int i = 0; i < 3; i++) {
        tsp_pool_return(l[i]);
    }
    stop_pool(&f);
}

static void test_tsp_pool_return_closes_overflow(void **state)
{
    struct fixture f;
    struct tsp_pool_options o = base_options();
    struct tsp_lease *l[4];
    struct tsp_pool_stats st;
    (void)state;

    o.max_overflow = 2;
    start_pool(&f, &o);
    for (int i = 0; i < 4; i++) {
        l[i] = must_borrow(f.pool, "burst");
    }
    st = stats_of(f.pool);
    assert_int_equal(st.in_use, 4);
    assert_int_equal(st.in_use_overflow, 2);
    assert_int_equal(tsp_fake_open(f.fake), 4);
    for (int i = 0; i < 4; i++) {
        tsp_pool_return(l[i]);
    }
    st = stats_of(f.pool);
    assert_int_equal(st.idle, 2);
    assert_int_equal(st.open, 2);
    assert_int_equal(st.closes[TSP_CLOSE_OVERFLOW], 2);
    assert_int_equal(tsp_fake_open(f.fake), 2);
    stop_pool(&f);
}

static void test_tsp_pool_borrow_connect_failure_wakes_next_waiter(void **state)
{
    struct fixture f;
    struct tsp_pool_options o = base_options();
    struct borrower first;
    struct borrower second;
    (void)state;

    o.size = 1;
    o.max_overflow = 0;
    start_pool(&f, &o);
    tsp_fake_set_connect_delay_ms(f.fake, 100);
    tsp_fake_fail_connects(f.fake, 1, TSP_DB_UNAVAILABLE, NULL,
                           "connect failed: connection refused");
    borrower_start(&first, f.pool, "first", 5000);
    for (int i = 0; i < 2500 && stats_of(f.pool).connecting != 1; i++) {
        tsp_test_sleep_ms(1);
    }
    borrower_start(&second, f.pool, "second", 5000);
    pthread_join(first.thread, NULL);
    pthread_join(second.thread, NULL);
    assert_int_equal(first.code, TSP_DB_UNAVAILABLE);
    assert_string_equal(first.err.detail, "connect failed: connection refused");
    assert_int_equal(second.code, TSP_OK);
    assert_true(second.elapsed_ms < 3000); /* served long before its 5 s deadline */
    assert_int_equal(stats_of(f.pool).connect_failures, 1);
    assert_int_equal(stats_of(f.pool).borrow_failures, 1);
    assert_int_equal(stats_of(f.pool).connects, 1);
    stop_pool(&f);
}

static void test_tsp_pool_borrow_connect_error_carries_sqlstate(void **state)
{
    struct fixture f;
    struct tsp_pool_options o = base_options();
    struct tsp_lease *lease = NULL;
    struct tsp_error err;
    (void)state;

    start_pool(&f, &o);
    tsp_fake_fail_connects(f.fake, 1, TSP_DB_ERROR, "28P01",
                           "connect failed: password authentication failed for user \"app\"");
    tsp_error_init(&err);
    assert_int_equal(tsp_pool_borrow(f.pool, "x", 100, &lease, &err), TSP_DB_ERROR);
    assert_string_equal(err.sqlstate, "28P01");
    assert_string_equal(err.detail,
                        "connect failed: password authentication failed for user \"app\"");
    assert_int_equal(stats_of(f.pool).connecting, 0);
    assert_int_equal(stats_of(f.pool).open, 0);
    stop_pool(&f);
}

static void test_tsp_pool_borrow_preping_replaces_dead(void **state)
{
    struct fixture f;
    struct tsp_pool_options o = base_options();
    struct tsp_lease *a = NULL;
    struct tsp_lease *b = NULL;
    struct tsp_pool_stats st;
    (void)state;

    o.preping_idle_ms = 0;
    start_pool(&f, &o);
    a = must_borrow(f.pool, "a");
    b = must_borrow(f.pool, "b");
    tsp_pool_return(a);
    tsp_pool_return(b);
    tsp_fake_kill_all(f.fake);
    a = must_borrow(f.pool, "after-kill");
    assert_false(tsp_fake_handle_dead(tsp_lease_handle(a)));
    assert_int_equal(tsp_fake_handle_pid(tsp_lease_handle(a)), 1003);
    st = stats_of(f.pool);
    assert_int_equal(st.preping_failures, 2);
    assert_int_equal(st.closes[TSP_CLOSE_BROKEN], 2);
    assert_int_equal(st.connects, 3);
    assert_int_equal(st.borrow_failures, 0);
    tsp_pool_return(a);
    stop_pool(&f);
}

static void test_tsp_pool_borrow_preping_only_after_idle_threshold(void **state)
{
    struct fixture f;
    struct tsp_pool_options o = base_options();
    struct tsp_lease *a = NULL;
    (void)state;

    o.preping_idle_ms = 300;
    start_pool(&f, &o);
    a = must_borrow(f.pool, "a");
    tsp_pool_return(a);
    a = must_borrow(f.pool, "quick");
    assert_int_equal(tsp_fake_pings(f.fake), 0);
    tsp_pool_return(a);
    tsp_test_sleep_ms(350);
    a = must_borrow(f.pool, "later");
    assert_int_equal(tsp_fake_pings(f.fake), 1);
    tsp_pool_return(a);
    stop_pool(&f);
}

static void test_tsp_lease_report_error_failover_invalidates_older(void **state)
{
    struct fixture f;
    struct tsp_pool_options o = base_options();
    struct tsp_lease *l[3];
    struct tsp_lease *fresh = NULL;
    struct tsp_pool_stats st;
    (void)state;

    o.size = 3;
    o.max_overflow = 0;
    start_pool(&f, &o);
    for (int i = 0; i < 3; i++) {
        l[i] = must_borrow(f.pool, "warm");
    }
    tsp_lease_report_error(l[0], "23505"); /* not a connection problem: ignored */
    assert_int_equal(stats_of(f.pool).failover_invalidations, 0);
    tsp_lease_report_error(l[0], "25006");
    tsp_lease_report_error(l[1], "57P01"); /* same generation already invalidated */
    assert_int_equal(stats_of(f.pool).failover_invalidations, 1);
    tsp_pool_return(l[2]); /* invalidated: closed on return */
    tsp_pool_return(l[1]);
    tsp_pool_return(l[0]);
    st = stats_of(f.pool);
    assert_int_equal(st.closes[TSP_CLOSE_FAILOVER], 2);
    assert_int_equal(st.closes[TSP_CLOSE_BROKEN], 1);
    assert_int_equal(st.open, 0);
    fresh = must_borrow(f.pool, "fresh");
    assert_int_equal(tsp_fake_handle_pid(tsp_lease_handle(fresh)), 1004);
    tsp_lease_report_error(fresh, "25006"); /* a fresh connection read-only: invalidate again */
    assert_int_equal(stats_of(f.pool).failover_invalidations, 2);
    tsp_pool_return(fresh);
    assert_int_equal(stats_of(f.pool).closes[TSP_CLOSE_FAILOVER], 3);
    stop_pool(&f);
}

/* One broken session (pg_terminate_backend: 57P01, a lost connection: 08006, a statement past
 * its deadline: 57014) closes only itself; the other connections stay. */
static void test_tsp_lease_report_error_session_failure_closes_only_it(void **state)
{
    struct fixture f;
    struct tsp_pool_options o = base_options();
    struct tsp_lease *l[3];
    struct tsp_pool_stats st;
    static const char *const states[] = {"57P01", "08006", "57014"};
    int pings = 0;
    (void)state;

    o.size = 3;
    o.max_overflow = 0;
    start_pool(&f, &o);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 3; i++) {
            l[i] = must_borrow(f.pool, "warm");
        }
        tsp_lease_report_error(l[0], states[round]);
        for (int i = 0; i < 3; i++) {
            tsp_pool_return(l[i]);
        }
        st = stats_of(f.pool);
        assert_int_equal(st.failover_invalidations, 0);
        assert_int_equal(st.closes[TSP_CLOSE_BROKEN], round + 1);
        assert_int_equal(st.closes[TSP_CLOSE_FAILOVER], 0);
        assert_int_equal(st.open, 2); /* the two healthy ones are kept */
    }
    /* the siblings are checked before they are lent again (pre-ping is off otherwise) */
    pings = tsp_fake_pings(f.fake);
    l[0] = must_borrow(f.pool, "after");
    assert_int_equal(tsp_fake_pings(f.fake), pings + 1);
    tsp_pool_return(l[0]);
    l[0] = must_borrow(f.pool, "again");
    assert_int_equal(tsp_fake_pings(f.fake), pings + 1); /* verified once is enough */
    tsp_pool_return(l[0]);
    stop_pool(&f);
}

/* A new connection that reached another server (libpq multi-host failover) invalidates the
 * connections to the old one. */
static void test_tsp_pool_identity_change_invalidates_older(void **state)
{
    struct fixture f;
    struct tsp_pool_options o = base_options();
    struct tsp_lease *a = NULL;
    struct tsp_lease *b = NULL;
    struct tsp_lease *c = NULL;
    (void)state;

    o.size = 3;
    o.max_overflow = 0;
    start_pool(&f, &o);
    tsp_fake_set_identity(f.fake, "db1:5432");
    a = must_borrow(f.pool, "a");
    b = must_borrow(f.pool, "b");
    assert_int_equal(stats_of(f.pool).failover_invalidations, 0);
    tsp_fake_set_identity(f.fake, "db2:5432");
    c = must_borrow(f.pool, "c");
    assert_int_equal(stats_of(f.pool).failover_invalidations, 1);
    tsp_pool_return(a);
    tsp_pool_return(b);
    tsp_pool_return(c);
    assert_int_equal(stats_of(f.pool).closes[TSP_CLOSE_FAILOVER], 2);
    assert_int_equal(stats_of(f.pool).open, 1);
    stop_pool(&f);
}

/* A borrow never pings past its own deadline: after one dead connection was discarded, the
 * next idle one gets only what is left of the timeout. */
static void test_tsp_pool_borrow_preping_honours_deadline(void **state)
{
    struct fixture f;
    struct tsp_pool_options o = base_options();
    struct tsp_lease *l[3];
    struct tsp_lease *lease = NULL;
    struct tsp_error err;
    int64_t t0 = 0;
    int64_t took = 0;
    enum tsp_code rc;
    (void)state;

    o.size = 3;
    o.max_overflow = 0;
    o.preping_idle_ms = 0;    /* ping every time */
    o.ping_timeout_ms = 2000; /* each ping may take up to 2 s */
    start_pool(&f, &o);
    for (int i = 0; i < 3; i++) {
        l[i] = must_borrow(f.pool, "warm");
    }
    for (int i = 0; i < 3; i++) {
        tsp_pool_return(l[i]);
    }
    tsp_fake_set_ping_delay_ms(f.fake, 5000); /* a silent server: every ping runs out */
    tsp_error_init(&err);
    t0 = tsp_clock_mono_ms();
    rc = tsp_pool_borrow(f.pool, "late", 300, &lease, &err);
    took = tsp_clock_mono_ms() - t0;
    assert_int_not_equal(rc, TSP_OK);
    /* before: 3 pings of 2 s each, 6 s; now the 300 ms deadline bounds them all */
    assert_true(took < 1000);
    tsp_fake_set_ping_delay_ms(f.fake, 0);
    stop_pool(&f);
}

static void test_tsp_pool_borrow_skips_invalidated_idle(void **state)
{
    struct fixture f;
    struct tsp_pool_options o = base_options();
    struct tsp_lease *l[2];
    struct tsp_lease *bad = NULL;
    (void)state;

    o.size = 3;
    o.max_overflow = 0;
    start_pool(&f, &o);
    l[0] = must_borrow(f.pool, "a");
    l[1] = must_borrow(f.pool, "b");
    bad = must_borrow(f.pool, "c");
    tsp_pool_return(l[0]);
    tsp_pool_return(l[1]);
    tsp_lease_report_error(bad, "25006");
    l[0] = must_borrow(f.pool, "after");
    assert_int_equal(tsp_fake_handle_pid(tsp_lease_handle(l[0])), 1004);
    assert_int_equal(stats_of(f.pool).closes[TSP_CLOSE_FAILOVER], 2);
    tsp_pool_return(l[0]);
    tsp_pool_return(bad);
    stop_pool(&f);
}

static void test_tsp_pool_return_rolls_back_or_closes(void **state)
{
    struct fixture f;
    struct tsp_pool_options o = base_options();
    struct tsp_lease *a = NULL;
    struct tsp_pool_stats st;
    (void)state;

    start_pool(&f, &o);
    a = must_borrow(f.pool, "tx");
    tsp_fake_handle_set_status(tsp_lease_handle(a), TSP_CONN_IN_TRANSACTION);
    tsp_pool_return(a);
    st = stats_of(f.pool);
    assert_int_equal(st.rollbacks, 1);
    assert_int_equal(st.idle, 1);
    a = must_borrow(f.pool, "tx-fail");
    tsp_fake_set_rollback_fails(f.fake, true);
    tsp_fake_handle_set_status(tsp_lease_handle(a), TSP_CONN_IN_TRANSACTION);
    tsp_pool_return(a);
    a = must_borrow(f.pool, "bad");
    tsp_fake_handle_set_status(tsp_lease_handle(a), TSP_CONN_BAD);
    tsp_pool_return(a);
    st = stats_of(f.pool);
    assert_int_equal(st.rollbacks, 1);
    assert_int_equal(st.closes[TSP_CLOSE_BROKEN], 2);
    assert_int_equal(st.open, 0);
    assert_int_equal(tsp_fake_rollbacks(f.fake), 2);
    stop_pool(&f);
}

static void test_tsp_pool_borrow_direct_mode(void **state)
{
    struct fixture f;
    struct tsp_pool_options o = base_options();
    struct tsp_lease *a = NULL;
    struct tsp_pool_stats st;
    struct tsp_pool_health h;
    (void)state;

    memset(&h, 0, sizeof(h));

    o.mode = TSP_POOL_MODE_DIRECT;
    o.min_idle = 2;
    start_pool(&f, &o);
    for (int i = 0; i < 3; i++) {
        a = must_borrow(f.pool, "direct");
        assert_int_equal(tsp_fake_open(f.fake), 1);
        tsp_pool_return(a);
        assert_int_equal(tsp_fake_open(f.fake), 0);
    }
    st = stats_of(f.pool);
    assert_int_equal(st.mode, TSP_POOL_MODE_DIRECT);
    assert_int_equal(st.borrows, 3);
    assert_int_equal(st.connects, 3);
    assert_int_equal(st.closes[TSP_CLOSE_DIRECT], 3);
    assert_int_equal(st.idle, 0);
    /* after a maintenance tick: no warm pool to wait for */
    for (int i = 0; i < 1000 && !h.min_idle_filled; i++) {
        tsp_test_sleep_ms(5);
        tsp_pool_health(f.pool, &h);
    }
    assert_true(h.min_idle_filled);
    assert_int_equal(tsp_fake_open(f.fake), 0);
    stop_pool(&f);
}

static void test_tsp_pool_pause_resume(void **state)
{
    struct fixture f;
    struct tsp_pool_options o = base_options();
    struct tsp_lease *held = NULL;
    struct tsp_lease *none = NULL;
    struct borrower b;
    struct tsp_error err;
    (void)state;

    start_pool(&f, &o);
    held = must_borrow(f.pool, "before-pause");
    tsp_pool_pause(f.pool);
    assert_true(stats_of(f.pool).paused);
    tsp_error_init(&err);
    assert_int_equal(tsp_pool_borrow(f.pool, "paused", 30, &none, &err), TSP_POOL_EXHAUSTED);
    borrower_start(&b, f.pool, "waits", 5000);
    wait_for_waiters(f.pool, 1);
    tsp_pool_return(held); /* returns continue while paused */
    assert_int_equal(stats_of(f.pool).idle, 1);
    tsp_test_sleep_ms(20);
    assert_int_equal(stats_of(f.pool).waiting, 1);
    tsp_pool_resume(f.pool);
    pthread_join(b.thread, NULL);
    assert_int_equal(b.code, TSP_OK);
    assert_false(stats_of(f.pool).paused);
    assert_int_equal(stats_of(f.pool).connects, 1);
    stop_pool(&f);
}

static void test_tsp_pool_resize_up_and_down(void **state)
{
    struct fixture f;
    struct tsp_pool_options o = base_options();
    struct tsp_lease *l[4];
    struct borrower b;
    struct tsp_error err;
    struct tsp_pool_stats st;
    (void)state;

    o.max_overflow = 0;
    start_pool(&f, &o);
    l[0] = must_borrow(f.pool, "a");
    l[1] = must_borrow(f.pool, "b");
    borrower_start(&b, f.pool, "waiter", 5000);
    wait_for_waiters(f.pool, 1);
    tsp_error_init(&err);
    assert_int_equal(tsp_pool_resize(f.pool, 4, -1, -1, &err), TSP_OK);
    pthread_join(b.thread, NULL);
    assert_int_equal(b.code, TSP_OK);
    l[2] = must_borrow(f.pool, "c");
    l[3] = must_borrow(f.pool, "d");
    st = stats_of(f.pool);
    assert_int_equal(st.size, 4);
    assert_int_equal(st.in_use, 4);
    for (int i = 0; i < 4; i++) {
        tsp_pool_return(l[i]);
    }
    assert_int_equal(stats_of(f.pool).idle, 4);
    l[0] = must_borrow(f.pool, "kept");
    assert_int_equal(tsp_pool_resize(f.pool, 1, 0, 2000, &err), TSP_OK);
    st = stats_of(f.pool);
    assert_int_equal(st.size, 1);
    assert_int_equal(st.timeout_ms, 2000);
    assert_int_equal(st.in_use, 1); /* the borrowed one is never dropped */
    assert_int_equal(st.idle, 0);
    assert_int_equal(st.closes[TSP_CLOSE_RESIZE], 3);
    tsp_pool_return(l[0]);
    assert_int_equal(stats_of(f.pool).idle, 1);
    tsp_error_init(&err);
    assert_int_equal(tsp_pool_resize(f.pool, 0, -1, -1, &err), TSP_INVALID);
    assert_string_equal(err.field, "size");
    stop_pool(&f);
}

static void test_tsp_pool_shutdown_with_borrowed(void **state)
{
    struct fixture f;
    struct tsp_pool_options o = base_options();
    struct tsp_lease *l[3];
    struct tsp_lease *late = NULL;
    struct borrower b;
    struct tsp_error err;
    (void)state;

    start_pool(&f, &o);
    for (int i = 0; i < 3; i++) {
        l[i] = must_borrow(f.pool, "held");
    }
    tsp_pool_return(l[2]);
    l[2] = must_borrow(f.pool, "held");
    borrower_start(&b, f.pool, "waiter", 5000);
    wait_for_waiters(f.pool, 1);
    assert_int_equal(tsp_pool_shutdown(f.pool, 50), 3);
    pthread_join(b.thread, NULL);
    assert_int_equal(b.code, TSP_SHUTTING_DOWN);
    tsp_error_init(&err);
    assert_int_equal(tsp_pool_borrow(f.pool, "late", 100, &late, &err), TSP_SHUTTING_DOWN);
    assert_true(stats_of(f.pool).shutting_down);
    assert_int_equal(tsp_fake_open(f.fake), 3); /* never taken from their holders */
    for (int i = 0; i < 3; i++) {
        tsp_pool_return(l[i]);
    }
    assert_int_equal(stats_of(f.pool).closes[TSP_CLOSE_SHUTDOWN], 3);
    assert_int_equal(tsp_fake_open(f.fake), 0);
    assert_int_equal(tsp_pool_shutdown(f.pool, 0), 0);
    stop_pool(&f);
}

struct late_return {
    struct tsp_lease *lease;
    long after_ms;
};

static void *late_return_main(void *arg)
{
    struct late_return *r = arg;
    tsp_test_sleep_ms(r->after_ms);
    tsp_pool_return(r->lease);
    return NULL;
}

static void test_tsp_pool_shutdown_waits_for_returns(void **state)
{
    struct fixture f;
    struct tsp_pool_options o = base_options();
    struct late_return r;
    pthread_t t;
    (void)state;

    start_pool(&f, &o);
    r.lease = must_borrow(f.pool, "slow");
    r.after_ms = 30;
    assert_int_equal(pthread_create(&t, NULL, late_return_main, &r), 0);
    assert_int_equal(tsp_pool_shutdown(f.pool, 5000), 0);
    pthread_join(t, NULL);
    assert_int_equal(tsp_fake_open(f.fake), 0);
    stop_pool(&f);
}

/* ---- 64 threads hammering borrow/return ----------------------------------------------- */

struct hammer {
    struct tsp_pool *pool;
    struct tsp_fake *fake;
    int64_t until_ms;
    int limit;
    int index;
    long ok, failed, over_limit;
};

static void *hammer_main(void *arg)
{
    struct hammer *h = arg;
    struct tsp_lease *lease = NULL;
    struct tsp_error err;
    long n = 0;

    while (tsp_clock_mono_ms() < h->until_ms) {
        tsp_error_init(&err);
        if (tsp_pool_borrow(h->pool, "hammer", 10000, &lease, &err) != TSP_OK) {
            h->failed++;
            continue;
        }
        h->ok++;
        if (tsp_fake_open(h->fake) > h->limit) {
            h->over_limit++;
        }
        n++;
        if ((n + h->index) % 97 == 0) {
            tsp_fake_handle_set_status(tsp_lease_handle(lease), TSP_CONN_BAD);
        } else if ((n + h->index) % 31 == 0) {
            tsp_fake_handle_set_status(tsp_lease_handle(lease), TSP_CONN_IN_TRANSACTION);
        }
        tsp_pool_return(lease);
    }
    return NULL;
}

static void test_tsp_pool_borrow_never_exceeds_limit_under_contention(void **state)
{
    struct fixture f;
    struct tsp_pool_options o = base_options();
    struct hammer h[64];
    pthread_t t[64];
    long ok = 0;
    struct tsp_pool_stats st;
    (void)state;

    o.size = 4;
    o.max_overflow = 4;
    o.preping_idle_ms = 1;
    start_pool(&f, &o);
    tsp_fake_set_connect_delay_ms(f.fake, 1);
    for (int i = 0; i < 64; i++) {
        memset(&h[i], 0, sizeof(h[i]));
        h[i].pool = f.pool;
        h[i].fake = f.fake;
        h[i].until_ms = tsp_clock_mono_ms() + 2000;
        h[i].limit = 8;
        h[i].index = i;
        assert_int_equal(pthread_create(&t[i], NULL, hammer_main, &h[i]), 0);
    }
    for (int i = 0; i < 64; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(h[i].failed, 0);
        assert_int_equal(h[i].over_limit, 0);
        ok += h[i].ok;
    }
    st = stats_of(f.pool);
    assert_true(tsp_fake_max_busy(f.fake) <= 8);
    assert_int_equal(st.borrows, (uint64_t)ok);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.waiting, 0);
    assert_int_equal(st.connecting, 0);
    assert_true(st.idle <= 4);
    assert_int_equal(tsp_fake_open(f.fake), st.idle);
    assert_int_equal(st.connects - (uint64_t)st.idle,
                     st.closes[TSP_CLOSE_BROKEN] + st.closes[TSP_CLOSE_OVERFLOW]);
    print_message("hammer: %ld borrows, %llu waited, %d max busy\n", ok,
                  (unsigned long long)st.waited_borrows, tsp_fake_max_busy(f.fake));
    stop_pool(&f);
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsp_pool_new_invalid_options),
        cmocka_unit_test(test_tsp_pool_borrow_reuses_idle_connection),
        cmocka_unit_test(test_tsp_pool_borrow_waiters_served_fifo),
        cmocka_unit_test(test_tsp_pool_borrow_timeout_reports_counts),
        cmocka_unit_test(test_tsp_pool_return_closes_overflow),
        cmocka_unit_test(test_tsp_pool_borrow_connect_failure_wakes_next_waiter),
        cmocka_unit_test(test_tsp_pool_borrow_connect_error_carries_sqlstate),
        cmocka_unit_test(test_tsp_pool_borrow_preping_replaces_dead),
        cmocka_unit_test(test_tsp_pool_borrow_preping_only_after_idle_threshold),
        cmocka_unit_test(test_tsp_lease_report_error_failover_invalidates_older),
        cmocka_unit_test(test_tsp_pool_borrow_skips_invalidated_idle),
        cmocka_unit_test(test_tsp_lease_report_error_session_failure_closes_only_it),
        cmocka_unit_test(test_tsp_pool_identity_change_invalidates_older),
        cmocka_unit_test(test_tsp_pool_borrow_preping_honours_deadline),
        cmocka_unit_test(test_tsp_pool_return_rolls_back_or_closes),
        cmocka_unit_test(test_tsp_pool_borrow_direct_mode),
        cmocka_unit_test(test_tsp_pool_pause_resume),
        cmocka_unit_test(test_tsp_pool_resize_up_and_down),
        cmocka_unit_test(test_tsp_pool_shutdown_with_borrowed),
        cmocka_unit_test(test_tsp_pool_shutdown_waits_for_returns),
        cmocka_unit_test(test_tsp_pool_borrow_never_exceeds_limit_under_contention),
    };

    tsp_log_setup(TSP_LOG_LEVEL_ERROR, TSP_LOG_FORMAT_TEXT, stderr);
    return cmocka_run_group_tests_name("pool", tests, NULL, NULL);
}
