/* test_fault_sigterm.c - fault 7: SIGTERM under steady load. No request is cut mid-response
 * (every request gets a complete answer or a refused connection once the listener is gone),
 * the process exits 0, and no tspool session is left on the server.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reliability.h"

static int setup(void **state)
{
    (void)state;
    return tsp_test_pg_available() ? 0 : -1;
}

static void test_fault_sigterm_under_load(void **state)
{
    static const char *const env[] = {"DB_MIN_CONNS=2", "DB_MAX_CONNS=4", "TSPOOL_SHUTDOWN_DELAY=1",
                                      "TSPOOL_SHUTDOWN_GRACE=10", NULL};
    static const char *const paths[] = {"/pool/ping", "/pool/status", "/readyz", "/metrics", NULL};
    struct tsp_test_service *svc = NULL;
    struct rel_traffic *traffic = NULL;
    struct rel_tally tally;
    const char *base = NULL;
    int64_t signalled = 0;
    long exit_ms = -1;
    int status = -1;
    long sessions = -1;
    char *out = NULL;
    char saw[512];
    (void)state;

    svc = rel_start(env);
    base = tsp_test_service_url(svc);
    assert_true(rel_wait_status(base, "/startupz", 200, 20000) >= 0);
    traffic = rel_traffic_start(base, paths, 6, 100000, 60000, 20000);
    tsp_test_sleep_ms(1000);
    signalled = rel_now_ms();
    tsp_test_service_signal(svc, SIGTERM);
    status = tsp_test_service_wait(svc, 30000);
    exit_ms = (long)(rel_now_ms() - signalled);
    /* a little more traffic against the closed port: refused, not hanging */
    tsp_test_sleep_ms(300);
    tally = rel_traffic_stop(traffic);

    assert_int_equal(status, 0);
    assert_true(tally.ok > 0);
    assert_int_equal(tally.cut, 0);
    assert_int_equal(tally.other, 0);
    assert_true(tally.refused > 0);
    /* connections the kernel or CivetWeb had queued when the listener closed are reset
     * unserved; a handful at most */
    assert_true(tally.reset <= 20);
    assert_true(rel_wait_sessions(0, 10000));
    sessions = rel_our_sessions();
    out = tsp_test_service_stdout(svc);
    assert_non_null(strstr(out, "\"event\":\"serve.stopped\""));
    free(out);

    snprintf(saw, sizeof(saw),
             "%ld complete responses (%ld 2xx, %ld 503 during drain), 0 cut, %ld reset unserved "
             "at listener close, then refused; exit 0 after %ld ms (delay 1 s)",
             tally.requests, tally.ok, tally.status_503, tally.reset, exit_ms);
    rel_report("7 SIGTERM under load", saw, exit_ms, sessions);
    rel_stop(svc);
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_fault_sigterm_under_load, rel_teardown),
    };
    return cmocka_run_group_tests_name("fault_sigterm", tests, setup, NULL);
}
