/* test_fault_restart.c - fault 1: the database restarts (pg_ctl stop -m fast, then start)
 * under steady traffic. No crash; readiness 503 while it is down and 200 again after;
 * liveness 200 throughout; afterwards exactly the pool's connections on the server.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <stdio.h>
#include <stdlib.h>

#include "reliability.h"

static int setup(void **state)
{
    (void)state;
    return tsp_test_pg_available() ? 0 : -1;
}

static void test_fault_restart_under_load(void **state)
{
    static const char *const env[] = {"DB_MIN_CONNS=2", "DB_MAX_CONNS=4", "DB_MAX_OVERFLOW=2",
                                      "DB_POOL_TIMEOUT=2", NULL};
    static const char *const paths[] = {"/pool/ping", "/pool/status", "/readyz", NULL};
    static const char *const live[] = {"/livez", NULL};
    struct tsp_test_service *svc = NULL;
    const char *base = NULL;
    struct rel_traffic *traffic = NULL;
    struct rel_traffic *watch = NULL;
    struct rel_tally tally;
    struct rel_tally live_tally;
    long down_ms = -1, up_ms = -1, startup_ms = -1;
    long long open = -1;
    long sessions = -1;
    char saw[256];
    (void)state;

    svc = rel_start(env);
    base = tsp_test_service_url(svc);
    startup_ms = rel_wait_status(base, "/startupz", 200, 20000);
    assert_true(startup_ms >= 0);
    /* liveness checked continuously by one client, the load by four others */
    watch = rel_traffic_start(base, live, 1, 1000000, 60000, 5000);
    traffic = rel_traffic_start(base, paths, 4, 100000, 60000, 10000);
    tsp_test_sleep_ms(500);

    assert_int_equal(tsp_test_pg_ctl("stop >/dev/null"), 0);
    /* health checks run every 200 ms: readiness turns within a few intervals */
    down_ms = rel_wait_status(base, "/readyz", 503, 10000);
    if (down_ms < 0) {
        rel_dump(svc);
    }
    assert_true(down_ms >= 0);
    assert_int_equal(rel_get(base, "/livez", 5000, NULL), 200);
    tsp_test_sleep_ms(1000);
    assert_int_equal(rel_get(base, "/readyz", 5000, NULL), 503);
    assert_int_equal(tsp_test_pg_ctl("start >/dev/null"), 0);
    up_ms = rel_wait_status(base, "/readyz", 200, 20000);
    if (up_ms < 0) {
        rel_dump(svc);
    }
    assert_true(up_ms >= 0);
    tsp_test_sleep_ms(500);
    tally = rel_traffic_stop(traffic);
    live_tally = rel_traffic_stop(watch);

    /* no crash, no response cut; only documented 503s while the database was away */
    assert_int_equal(tsp_test_service_wait(svc, 0), -1);
    assert_int_equal(tally.cut, 0);
    assert_int_equal(tally.reset, 0);
    assert_int_equal(tally.refused, 0);
    assert_int_equal(tally.other, 0);
    assert_true(tally.ok > 0);
    assert_true(live_tally.ok > 0);
    assert_int_equal(live_tally.requests, live_tally.ok);
    assert_int_equal(live_tally.cut + live_tally.reset + live_tally.refused, 0);
    /* a ping after recovery works */
    assert_int_equal(rel_get(base, "/pool/ping", 10000, NULL), 200);

    /* the server sees exactly the connections the pool holds, and at least the warm ones */
    for (int i = 0; i < 100; i++) {
        open = rel_json_int(base, "/pool/status", "gauges", "open");
        sessions = rel_our_sessions();
        if (open >= 2 && open == sessions) {
            break;
        }
        tsp_test_sleep_ms(100);
    }
    assert_true(open >= 2);
    assert_true(open <= 6);
    assert_int_equal(sessions, open);

    snprintf(saw, sizeof(saw),
             "%ld requests: %ld 2xx, %ld 503, 0 cut; /livez %ld/%ld 200 (max %ld ms); "
             "/readyz 503 after %ld ms",
             tally.requests, tally.ok, tally.status_503, live_tally.ok, live_tally.requests,
             live_tally.max_ms, down_ms);
    rel_report("1 database restart (stop -m fast, start)", saw, up_ms, sessions);
    rel_stop(svc);
    assert_true(rel_wait_sessions(0, 10000));
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_fault_restart_under_load, rel_teardown),
    };
    return cmocka_run_group_tests_name("fault_restart", tests, setup, NULL);
}
