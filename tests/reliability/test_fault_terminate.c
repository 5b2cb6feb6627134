/* test_fault_terminate.c - fault 2: pg_terminate_backend of every tspool session, several
 * times, under steady read traffic. Zero failed requests (pre-ping and one transparent retry
 * replace the dead connections) and the counters show the replacements.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reliability.h"

static int setup(void **state)
{
    (void)state;
    return tsp_test_pg_available() ? 0 : -1;
}

static long terminate_ours(void)
{
    char *n =
        tsp_test_pg_query("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM "
                          "pg_stat_activity WHERE application_name = '" TSP_TEST_APP_NAME "'");
    long killed = n != NULL ? atol(n) : -1;
    free(n);
    return killed;
}

static void test_fault_terminate_backends_no_failed_reads(void **state)
{
    /* pre-ping only connections idle for 1 s or more: most borrows skip it, so the retry of a
     * connection found dead on first use is exercised too */
    static const char *const env[] = {"DB_MIN_CONNS=3",          "DB_MAX_CONNS=4",
                                      "DB_MAX_OVERFLOW=0",       "DB_POOL_TIMEOUT=5",
                                      "DB_PREPING_IDLE_MS=1000", NULL};
    static const char *const paths[] = {"/pool/ping", "/pool/status", NULL};
    struct tsp_test_service *svc = NULL;
    const char *base = NULL;
    struct rel_traffic *traffic = NULL;
    struct rel_tally tally;
    long long connects_before = -1, connects_after = -1, broken = -1, preping = -1;
    long killed = 0;
    long recovery = -1;
    long sessions = -1;
    long long open = -1;
    char saw[256];
    (void)state;

    svc = rel_start(env);
    base = tsp_test_service_url(svc);
    assert_true(rel_wait_status(base, "/startupz", 200, 20000) >= 0);
    assert_true(rel_wait_sessions(3, 10000));
    connects_before = rel_json_int(base, "/pool/status", "counters", "connects");
    traffic = rel_traffic_start(base, paths, 4, 100000, 60000, 10000);
    for (int round = 0; round < 5; round++) {
        tsp_test_sleep_ms(400);
        /* wait until the pool has reconnected something to kill */
        for (int i = 0; i < 50 && rel_our_sessions() == 0; i++) {
            tsp_test_sleep_ms(50);
        }
        killed += terminate_ours();
    }
    /* from the last kill to the next successful ping */
    recovery = rel_wait_status(base, "/pool/ping", 200, 10000);
    tsp_test_sleep_ms(500);
    tally = rel_traffic_stop(traffic);

    printf("tally: %ld requests, %ld ok, %ld 503, %ld other, %ld cut, %ld refused\n",
           tally.requests, tally.ok, tally.status_503, tally.other, tally.cut, tally.refused);
    assert_true(killed >= 5);
    assert_true(tally.ok > 0);
    assert_int_equal(tally.cut, 0);
    assert_int_equal(tally.reset, 0);
    assert_int_equal(tally.refused, 0);
    assert_int_equal(tally.status_503, 0);
    assert_int_equal(tally.other, 0);
    assert_int_equal(tally.requests, tally.ok);

    connects_after = rel_json_int(base, "/pool/status", "counters", "connects");
    broken = rel_json_int(base, "/pool/status", "closes", "broken");
    preping = rel_json_int(base, "/pool/status", "counters", "preping_failures");
    assert_true(connects_after >= connects_before + 3);
    assert_true(broken >= 3);
    for (int i = 0; i < 100; i++) {
        open = rel_json_int(base, "/pool/status", "gauges", "open");
        sessions = rel_our_sessions();
        if (open == sessions && open >= 3) {
            break;
        }
        tsp_test_sleep_ms(100);
    }
    assert_int_equal(sessions, open);
    assert_true(open >= 3 && open <= 4);

    snprintf(saw, sizeof(saw),
             "%ld requests, all 2xx, 0 failed; %ld sessions killed; connects +%lld, closes "
             "broken %lld, preping failures %lld",
             tally.requests, killed, connects_after - connects_before, broken, preping);
    rel_report("2 pg_terminate_backend x5 (all tspool sessions)", saw, recovery, sessions);
    rel_stop(svc);
    assert_true(rel_wait_sessions(0, 10000));
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_fault_terminate_backends_no_failed_reads, rel_teardown),
    };
    return cmocka_run_group_tests_name("fault_terminate", tests, setup, NULL);
}
