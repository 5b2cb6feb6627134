/* test_fault_down_at_start.c - fault 3: the database is down when the service starts. It
 * starts anyway: liveness 200, readiness 503 naming the database check and the reason,
 * startup 503; once the database is up, readiness and startup turn 200 by themselves.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_client.h"
#include "reliability.h"

static int setup(void **state)
{
    (void)state;
    return tsp_test_pg_available() ? 0 : -1;
}

static struct tsp_test_reply *get(const char *base, const char *path)
{
    char url[512];
    snprintf(url, sizeof(url), "%s%s", base, path);
    return tsp_test_http("GET", url, NULL, NULL);
}

static void test_fault_database_down_at_start(void **state)
{
    static const char *const env[] = {"DB_MIN_CONNS=2", "DB_MAX_CONNS=4", "DB_POOL_TIMEOUT=2",
                                      NULL};
    static const char *const paths[] = {"/livez", "/readyz", "/pool/status", "/pool/ping", NULL};
    struct tsp_test_service *svc = NULL;
    struct tsp_test_reply *r = NULL;
    struct rel_traffic *traffic = NULL;
    struct rel_tally tally;
    const char *base = NULL;
    long up_ms = -1, startup_ms = -1;
    long sessions = -1;
    long long open = -1;
    char saw[256];
    (void)state;

    assert_int_equal(tsp_test_pg_ctl("stop >/dev/null"), 0);
    svc = rel_start(env); /* waits for /livez 200: liveness does not need the database */
    base = tsp_test_service_url(svc);
    traffic = rel_traffic_start(base, paths, 2, 100000, 60000, 10000);
    /* give the health check a few intervals to have tried */
    tsp_test_sleep_ms(1000);

    r = get(base, "/livez");
    assert_int_equal(r->status, 200);
    tsp_test_reply_free(r);
    r = get(base, "/readyz?verbose");
    assert_int_equal(r->status, 503);
    assert_non_null(strstr(r->body, "[-]db failed: "));
    assert_non_null(strstr(r->body, "Connection refused"));
    tsp_test_reply_free(r);
    r = get(base, "/readyz/db");
    assert_int_equal(r->status, 503);
    assert_non_null(strstr(r->body, "[-]db failed: "));
    tsp_test_reply_free(r);
    r = get(base, "/startupz?verbose");
    assert_int_equal(r->status, 503);
    assert_non_null(strstr(r->body, "[-]db failed: "));
    tsp_test_reply_free(r);
    r = get(base, "/pool/ping");
    assert_int_equal(r->status, 503);
    assert_string_equal(tsp_test_json_str(r, "code"), "DB_UNAVAILABLE");
    tsp_test_reply_free(r);

    assert_int_equal(tsp_test_pg_ctl("start >/dev/null"), 0);
    up_ms = rel_wait_status(base, "/readyz", 200, 20000);
    if (up_ms < 0) {
        rel_dump(svc);
    }
    assert_true(up_ms >= 0);
    startup_ms = rel_wait_status(base, "/startupz", 200, 20000);
    assert_true(startup_ms >= 0);
    tally = rel_traffic_stop(traffic);
    assert_int_equal(tsp_test_service_wait(svc, 0), -1);
    assert_int_equal(tally.cut, 0);
    assert_int_equal(tally.reset, 0);
    assert_int_equal(tally.refused, 0);
    assert_int_equal(tally.other, 0);
    assert_int_equal(rel_get(base, "/pool/ping", 10000, NULL), 200);

    /* the warm pool is filled and the server sees exactly it */
    for (int i = 0; i < 100; i++) {
        open = rel_json_int(base, "/pool/status", "gauges", "open");
        sessions = rel_our_sessions();
        if (open >= 2 && sessions == open) {
            break;
        }
        tsp_test_sleep_ms(100);
    }
    assert_true(open >= 2 && open <= 4);
    assert_int_equal(sessions, open);

    snprintf(saw, sizeof(saw),
             "/livez 200; /readyz, /startupz 503 \"[-]db failed: ... Connection refused\"; "
             "/pool/ping 503 DB_UNAVAILABLE; %ld requests: %ld 2xx, %ld 503, 0 cut",
             tally.requests, tally.ok, tally.status_503);
    rel_report("3 database down at start", saw, up_ms, sessions);
    rel_stop(svc);
    assert_true(rel_wait_sessions(0, 10000));
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_fault_database_down_at_start, rel_teardown),
    };
    return cmocka_run_group_tests_name("fault_down_at_start", tests, setup, NULL);
}
