/* test_fault_slow_queries.c - fault 6: slow statements hold every connection (pings blocked
 * on a catalog lock that another session keeps with pg_sleep). Further borrowers get a 503
 * with Retry-After after DB_POOL_TIMEOUT, leak detection logs the holders, and nothing else
 * degrades: liveness, /metrics and /pool/status stay fast.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_client.h"
#include "reliability.h"

#define HOLDERS 2

static int setup(void **state)
{
    (void)state;
    return tsp_test_pg_available() ? 0 : -1;
}

struct holder {
    const char *base;
    long status;
};

static void *hold_ping(void *arg)
{
    struct holder *h = arg;
    h->status = rel_get(h->base, "/pool/ping", 30000, NULL);
    return NULL;
}

static void test_fault_slow_queries_hold_every_connection(void **state)
{
    static const char *const env[] = {"DB_MIN_CONNS=0",           "DB_MAX_CONNS=2",
                                      "DB_MAX_OVERFLOW=0",        "DB_POOL_TIMEOUT=1",
                                      "DB_LEAK_DETECTION_MS=500", NULL};
    struct tsp_test_service *svc = NULL;
    struct tsp_test_lock *lock = NULL;
    struct tsp_test_reply *r = NULL;
    struct holder holders[HOLDERS];
    pthread_t tids[HOLDERS];
    const char *base = NULL;
    char url[512];
    char retry[16];
    char *out = NULL;
    long elapsed = 0, live_ms = 0, metrics_ms = 0, status_ms = 0, recovery = -1;
    long sessions = -1;
    long long open = -1;
    char saw[512];
    (void)state;

    svc = rel_start(env);
    base = tsp_test_service_url(svc);
    assert_true(rel_wait_status(base, "/startupz", 200, 20000) >= 0);

    lock = tsp_test_lock_catalog(8);
    for (int i = 0; i < HOLDERS; i++) {
        holders[i] = (struct holder){.base = base, .status = 0};
        assert_int_equal(pthread_create(&tids[i], NULL, hold_ping, &holders[i]), 0);
    }
    /* both connections are busy in a statement that waits */
    assert_true(tsp_test_wait_query(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = '" TSP_TEST_APP_NAME
        "' AND wait_event_type = 'Lock'",
        "2", 10000));

    snprintf(url, sizeof(url), "%s/pool/ping", base);
    {
        int64_t start = rel_now_ms();
        r = tsp_test_http("GET", url, NULL, NULL);
        elapsed = (long)(rel_now_ms() - start);
    }
    assert_int_equal(r->status, 503);
    assert_string_equal(tsp_test_json_str(r, "code"), "POOL_EXHAUSTED");
    assert_true(tsp_test_reply_header(r, "Retry-After", retry, sizeof(retry)));
    assert_string_equal(retry, "1");
    tsp_test_reply_free(r);
    /* it waited DB_POOL_TIMEOUT (1 s), not much less, and not much more */
    assert_true(elapsed >= 900);
    assert_true(elapsed < 5000);

    /* everything that does not need a connection stays fast */
    assert_int_equal(rel_get(base, "/livez", 2000, &live_ms), 200);
    assert_int_equal(rel_get(base, "/metrics", 2000, &metrics_ms), 200);
    assert_int_equal(rel_get(base, "/pool/status", 2000, &status_ms), 200);
    assert_true(live_ms < 1000);
    assert_true(metrics_ms < 1000);
    assert_true(status_ms < 1000);

    /* leak detection names the holders */
    for (int i = 0; i < 100; i++) {
        free(out);
        out = tsp_test_service_stdout(svc);
        if (strstr(out, "\"event\":\"pool.leak\"") != NULL) {
            break;
        }
        tsp_test_sleep_ms(100);
    }
    assert_non_null(strstr(out, "\"event\":\"pool.leak\""));
    assert_non_null(strstr(out, "held by ping for "));
    free(out);
    assert_true(rel_json_int(base, "/pool/status", "counters", "leaks_detected") >= HOLDERS);
    assert_true(rel_json_int(base, "/pool/status", "counters", "borrow_timeouts") >= 1);

    tsp_test_lock_join(lock);
    recovery = rel_wait_status(base, "/pool/ping", 200, 20000);
    assert_true(recovery >= 0);
    for (int i = 0; i < HOLDERS; i++) {
        pthread_join(tids[i], NULL);
        assert_int_equal(holders[i].status, 200);
    }
    for (int i = 0; i < 100; i++) {
        open = rel_json_int(base, "/pool/status", "gauges", "open");
        sessions = rel_our_sessions();
        if (sessions == open && rel_json_int(base, "/pool/status", "gauges", "in_use") == 0) {
            break;
        }
        tsp_test_sleep_ms(100);
    }
    assert_int_equal(sessions, open);
    assert_true(open >= 1 && open <= 2);

    snprintf(saw, sizeof(saw),
             "3rd borrower 503 POOL_EXHAUSTED + Retry-After: 1 after %ld ms; pool.leak logged "
             "for both holders; /livez %ld ms, /metrics %ld ms, /pool/status %ld ms; holders "
             "200 when the lock went",
             elapsed, live_ms, metrics_ms, status_ms);
    rel_report("6 slow statements hold every connection", saw, recovery, sessions);
    rel_stop(svc);
    assert_true(rel_wait_sessions(0, 10000));
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_fault_slow_queries_hold_every_connection, rel_teardown),
    };
    return cmocka_run_group_tests_name("fault_slow_queries", tests, setup, NULL);
}
