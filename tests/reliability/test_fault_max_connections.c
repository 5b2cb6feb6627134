/* test_fault_max_connections.c - fault 4: another client takes every connection slot of the
 * server (max_connections). Borrows fail fast with a 503 problem naming the server's error;
 * probes keep answering; the service recovers by itself when the slots free up.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_client.h"
#include "reliability.h"

#define MAX_HOGS 256

static PGconn *hogs[MAX_HOGS];
static size_t nhogs;

static int setup(void **state)
{
    (void)state;
    return tsp_test_pg_available() ? 0 : -1;
}

static void release_hogs(void)
{
    for (size_t i = 0; i < nhogs; i++) {
        PQfinish(hogs[i]);
        hogs[i] = NULL;
    }
    nhogs = 0;
}

static int teardown(void **state)
{
    release_hogs();
    return rel_teardown(state);
}

/* Open connections until the server refuses with "too many clients"; true when it did. */
static bool fill_server(void)
{
    while (nhogs < MAX_HOGS) {
        PGconn *c = PQconnectdb(tsp_test_pg_dsn());
        if (PQstatus(c) != CONNECTION_OK) {
            bool full = strstr(PQerrorMessage(c), "too many clients") != NULL;
            PQfinish(c);
            return full;
        }
        hogs[nhogs++] = c;
    }
    return false;
}

static void terminate_ours(void)
{
    PGresult *res = PQexec(hogs[0], "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                    "WHERE application_name = '" TSP_TEST_APP_NAME "'");
    PQclear(res);
}

/* Our sessions, counted through a hog: the server has no slot for a fresh connection. */
static long ours_via_hog(void)
{
    PGresult *res = PQexec(hogs[0], "SELECT count(*) FROM pg_stat_activity "
                                    "WHERE application_name = '" TSP_TEST_APP_NAME "'");
    long n = PQresultStatus(res) == PGRES_TUPLES_OK ? atol(PQgetvalue(res, 0, 0)) : -1;
    PQclear(res);
    return n;
}

static void test_fault_max_connections_reached(void **state)
{
    static const char *const env[] = {"DB_MIN_CONNS=0", "DB_MAX_CONNS=2", "DB_MAX_OVERFLOW=0",
                                      "DB_POOL_TIMEOUT=10", NULL};
    static const char *const paths[] = {"/pool/ping", "/livez", NULL};
    struct tsp_test_service *svc = NULL;
    struct tsp_test_reply *r = NULL;
    struct rel_traffic *traffic = NULL;
    struct rel_tally tally;
    const char *base = NULL;
    char url[512];
    long elapsed = 0, live_ms = 0, recovery = -1;
    long sessions = -1;
    long long open = -1;
    char saw[512];
    char detail[200];
    (void)state;

    svc = rel_start(env);
    base = tsp_test_service_url(svc);
    assert_int_equal(rel_get(base, "/pool/ping", 10000, NULL), 200);

    /* take every slot, then kill the service's sessions and take theirs too, until the
     * service holds nothing and cannot get anything */
    assert_true(fill_server());
    for (int round = 0; round < 20 && ours_via_hog() != 0; round++) {
        terminate_ours();
        tsp_test_sleep_ms(100);
        assert_true(fill_server());
    }
    assert_int_equal(ours_via_hog(), 0);

    traffic = rel_traffic_start(base, paths, 2, 100000, 60000, 15000);
    snprintf(url, sizeof(url), "%s/pool/ping", base);
    {
        int64_t start = rel_now_ms();
        r = tsp_test_http("GET", url, NULL, NULL);
        elapsed = (long)(rel_now_ms() - start);
    }
    assert_int_equal(r->status, 503);
    assert_string_equal(tsp_test_json_str(r, "code"), "DB_UNAVAILABLE");
    assert_non_null(strstr(tsp_test_json_str(r, "detail"), "too many clients"));
    {
        const char *d = tsp_test_json_str(r, "detail");
        const char *fatal = strstr(d, "FATAL");
        snprintf(detail, sizeof(detail), "%s", fatal != NULL ? fatal : d);
    }
    tsp_test_reply_free(r);
    /* fast: the server's refusal is final, no wait for DB_POOL_TIMEOUT (10 s) */
    assert_true(elapsed < 5000);
    assert_int_equal(rel_get(base, "/livez", 5000, &live_ms), 200);
    assert_true(live_ms < 2000);
    assert_int_equal(rel_get(base, "/pool/status", 5000, NULL), 200);
    tsp_test_sleep_ms(1000);

    release_hogs();
    recovery = rel_wait_status(base, "/pool/ping", 200, 20000);
    if (recovery < 0) {
        rel_dump(svc);
    }
    assert_true(recovery >= 0);
    assert_true(rel_wait_status(base, "/readyz", 200, 20000) >= 0);
    tsp_test_sleep_ms(300);
    tally = rel_traffic_stop(traffic);
    assert_int_equal(tally.cut, 0);
    assert_int_equal(tally.reset, 0);
    assert_int_equal(tally.refused, 0);
    assert_int_equal(tally.other, 0);
    assert_true(tally.status_503 > 0);
    assert_true(tally.max_ms < 10000);

    for (int i = 0; i < 100; i++) {
        open = rel_json_int(base, "/pool/status", "gauges", "open");
        sessions = rel_our_sessions();
        if (open >= 1 && sessions == open) {
            break;
        }
        tsp_test_sleep_ms(100);
    }
    assert_true(open >= 1 && open <= 2);
    assert_int_equal(sessions, open);

    snprintf(saw, sizeof(saw),
             "/pool/ping 503 DB_UNAVAILABLE in %ld ms: \"%.80s\"; /livez 200 in %ld ms; "
             "%ld requests: %ld 2xx, %ld 503, 0 cut, slowest %ld ms",
             elapsed, detail, live_ms, tally.requests, tally.ok, tally.status_503, tally.max_ms);
    rel_report("4 server max_connections reached by another client", saw, recovery, sessions);
    rel_stop(svc);
    assert_true(rel_wait_sessions(0, 10000));
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_fault_max_connections_reached, teardown),
    };
    return cmocka_run_group_tests_name("fault_max_connections", tests, setup, NULL);
}
