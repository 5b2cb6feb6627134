/* test_fault_blackhole.c - fault 5: the database goes silent (a TCP proxy in front of it stops
 * forwarding: no reply, no reset). Borrows honour DB_POOL_TIMEOUT and DB_CONNECT_TIMEOUT,
 * probes keep answering within their budget, readiness turns 503, and once the database
 * answers again no thread and no connection stays stuck.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reliability.h"

static struct rel_proxy *proxy;

static int setup(void **state)
{
    (void)state;
    return tsp_test_pg_available() ? 0 : -1;
}

static int teardown(void **state)
{
    int rc = rel_teardown(state);
    rel_proxy_stop(proxy);
    proxy = NULL;
    return rc;
}

static void test_fault_blackholed_database(void **state)
{
    static const char *const paths[] = {"/pool/ping", NULL};
    char port[32];
    const char *env[] = {port,
                         "DB_CONNECT_TIMEOUT=2",
                         "DB_POOL_TIMEOUT=3",
                         "DB_MIN_CONNS=2",
                         "DB_MAX_CONNS=3",
                         "DB_MAX_OVERFLOW=0",
                         "DB_PREPING_IDLE_MS=0",
                         NULL};
    struct tsp_test_service *svc = NULL;
    struct rel_traffic *traffic = NULL;
    struct rel_tally tally;
    const char *base = NULL;
    long ping_status = 0, ping_ms = 0, probe_max_ms = 0, ready_down_ms = -1, recovery = -1;
    long sessions = -1;
    long long open = -1;
    char saw[512];
    (void)state;

    proxy = rel_proxy_start(tsp_test_pg_port());
    snprintf(port, sizeof(port), "DB_PORT=%d", rel_proxy_port(proxy));
    svc = rel_start(env);
    base = tsp_test_service_url(svc);
    assert_true(rel_wait_status(base, "/startupz", 200, 20000) >= 0);
    assert_int_equal(rel_get(base, "/pool/ping", 10000, NULL), 200);

    rel_proxy_blackhole(proxy, true);
    traffic = rel_traffic_start(base, paths, 2, 10000, 60000, 60000);
    /* a borrower gets its answer within pool timeout + connect timeout (+ margin for a
     * loaded machine), never hangs */
    ping_status = rel_get(base, "/pool/ping", 30000, &ping_ms);
    assert_int_equal(ping_status, 503);
    assert_true(ping_ms <= 15000);
    /* probes answer within their budget the whole time, and readiness notices */
    {
        int64_t start = rel_now_ms();
        while (rel_now_ms() - start < 20000) {
            long live_ms = 0, ready_ms = 0;
            long ready = rel_get(base, "/readyz", 2000, &ready_ms);
            assert_int_equal(rel_get(base, "/livez", 2000, &live_ms), 200);
            assert_true(ready == 200 || ready == 503);
            probe_max_ms = live_ms > probe_max_ms ? live_ms : probe_max_ms;
            probe_max_ms = ready_ms > probe_max_ms ? ready_ms : probe_max_ms;
            if (ready == 503 && ready_down_ms < 0) {
                ready_down_ms = (long)(rel_now_ms() - start);
                break;
            }
            tsp_test_sleep_ms(100);
        }
    }
    if (ready_down_ms < 0) {
        rel_dump(svc);
    }
    assert_true(ready_down_ms >= 0);
    assert_true(probe_max_ms < 2000);
    assert_int_equal(rel_get(base, "/metrics", 2000, NULL), 200);
    assert_int_equal(rel_get(base, "/pool/status", 2000, NULL), 200);

    rel_proxy_blackhole(proxy, false);
    recovery = rel_wait_status(base, "/readyz", 200, 30000);
    if (recovery < 0) {
        rel_dump(svc);
    }
    assert_true(recovery >= 0);
    assert_true(rel_wait_status(base, "/pool/ping", 200, 30000) >= 0);
    tally = rel_traffic_stop(traffic);
    assert_int_equal(tally.cut, 0);
    assert_int_equal(tally.reset, 0);
    assert_int_equal(tally.refused, 0);
    assert_int_equal(tally.other, 0);

    /* nothing stuck: no lease out, nobody waiting or connecting */
    for (int i = 0; i < 100; i++) {
        if (rel_json_int(base, "/pool/status", "gauges", "in_use") == 0 &&
            rel_json_int(base, "/pool/status", "gauges", "waiting") == 0 &&
            rel_json_int(base, "/pool/status", "gauges", "connecting") == 0) {
            break;
        }
        tsp_test_sleep_ms(100);
    }
    assert_int_equal(rel_json_int(base, "/pool/status", "gauges", "in_use"), 0);
    assert_int_equal(rel_json_int(base, "/pool/status", "gauges", "waiting"), 0);
    assert_int_equal(rel_json_int(base, "/pool/status", "gauges", "connecting"), 0);
    for (int i = 0; i < 100; i++) {
        open = rel_json_int(base, "/pool/status", "gauges", "open");
        sessions = rel_our_sessions();
        if (open >= 2 && sessions == open) {
            break;
        }
        tsp_test_sleep_ms(100);
    }
    assert_true(open >= 2 && open <= 3);
    assert_int_equal(sessions, open);

    snprintf(saw, sizeof(saw),
             "/pool/ping 503 after %ld ms (pool timeout 3 s, connect timeout 2 s); probes max "
             "%ld ms; /readyz 503 after %ld ms; %ld requests: %ld 2xx, %ld 503, 0 cut, "
             "slowest %ld ms",
             ping_ms, probe_max_ms, ready_down_ms, tally.requests, tally.ok, tally.status_503,
             tally.max_ms);
    rel_report("5 black-holed database (proxy stops forwarding)", saw, recovery, sessions);
    rel_stop(svc);
    assert_true(rel_wait_sessions(0, 10000));
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_fault_blackholed_database, teardown),
    };
    return cmocka_run_group_tests_name("fault_blackhole", tests, setup, NULL);
}
