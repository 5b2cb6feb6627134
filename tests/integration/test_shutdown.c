/* test_shutdown.c - integration tests of the serve lifecycle: SIGTERM drains (readiness 503
 * during the delay, an in-flight slow request completes, exit 0, no tspool sessions left in
 * pg_stat_activity), a second signal exits at once, an invalid configuration exits 2.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_client.h"
#include "service_harness.h"

static int setup(void **state)
{
    (void)state;
    return tsp_test_pg_available() ? 0 : -1;
}

static long get_status(const struct tsp_test_service *s, const char *path)
{
    char u[512];
    struct tsp_test_reply *r = NULL;
    long status = 0;

    snprintf(u, sizeof(u), "%s%s", tsp_test_service_url(s), path);
    r = tsp_test_http_try("GET", u, NULL, NULL, 5000);
    status = r != NULL ? r->status : 0;
    tsp_test_reply_free(r);
    return status;
}

struct ping_call {
    const struct tsp_test_service *svc;
    struct tsp_test_reply *reply;
};

static void *slow_ping(void *arg)
{
    struct ping_call *call = arg;
    char u[512];
    snprintf(u, sizeof(u), "%s/pool/ping", tsp_test_service_url(call->svc));
    call->reply = tsp_test_http_try("GET", u, NULL, NULL, 20000);
    return NULL;
}

static long long our_sessions(void)
{
    char *n = tsp_test_pg_query(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = '" TSP_TEST_APP_NAME "'");
    long long count = n != NULL ? atoll(n) : -1;
    free(n);
    return count;
}

static void test_serve_sigterm_drains(void **state)
{
    static const char *const env[] = {"TSPOOL_SHUTDOWN_DELAY=1", "TSPOOL_SHUTDOWN_GRACE=15",
                                      "DB_MIN_CONNS=2", "DB_MAX_CONNS=3", NULL};
    struct tsp_test_service *svc = tsp_test_service_start(env);
    struct ping_call call = {svc, NULL};
    struct tsp_test_lock *lock = NULL;
    pthread_t pinger;
    long long sessions = -1;
    char *out = NULL;
    (void)state;

    for (int i = 0; i < 100 && get_status(svc, "/startupz") != 200; i++) {
        tsp_test_sleep_ms(100);
    }
    assert_int_equal(get_status(svc, "/startupz"), 200);
    assert_int_equal(get_status(svc, "/readyz"), 200);
    assert_true(our_sessions() >= 2);

    lock = tsp_test_lock_catalog(5);
    assert_int_equal(pthread_create(&pinger, NULL, slow_ping, &call), 0);
    /* the ping is in flight, blocked on the lock, holding its lease */
    assert_true(tsp_test_wait_query(TSP_TEST_SQL_OURS_WAITING, "t", 10000));
    tsp_test_service_signal(svc, SIGTERM);
    tsp_test_sleep_ms(200);
    /* during the delay: still serving, but not ready */
    assert_int_equal(get_status(svc, "/readyz"), 503);
    assert_int_equal(get_status(svc, "/livez"), 200);
    /* after the delay, while the slow request is still in flight: new requests are refused */
    tsp_test_sleep_ms(1500);
    {
        char u[512];
        char connection[32];
        struct tsp_test_reply *r = NULL;
        snprintf(u, sizeof(u), "%s/livez", tsp_test_service_url(svc));
        r = tsp_test_http("GET", u, NULL, NULL);
        assert_int_equal(r->status, 503);
        assert_string_equal(tsp_test_json_str(r, "code"), "SHUTTING_DOWN");
        assert_true(tsp_test_reply_header(r, "Connection", connection, sizeof(connection)));
        assert_string_equal(connection, "close");
        tsp_test_reply_free(r);
    }
    assert_int_equal(tsp_test_service_wait(svc, 20000), 0);

    pthread_join(pinger, NULL);
    tsp_test_lock_join(lock);
    assert_non_null(call.reply);
    assert_int_equal(call.reply->status, 200);
    tsp_test_reply_free(call.reply);

    for (int i = 0; i < 50; i++) {
        sessions = our_sessions();
        if (sessions == 0) {
            break;
        }
        tsp_test_sleep_ms(100);
    }
    assert_int_equal(sessions, 0);
    out = tsp_test_service_stdout(svc);
    assert_non_null(strstr(out, "\"event\":\"serve.draining\""));
    assert_non_null(strstr(out, "\"event\":\"serve.stopped\""));
    assert_non_null(strstr(out, "\"event\":\"http.access\""));
    free(out);
    tsp_test_service_stop(svc);
}

static void test_serve_second_signal_exits_at_once(void **state)
{
    static const char *const env[] = {"TSPOOL_SHUTDOWN_DELAY=60", NULL};
    struct tsp_test_service *svc = tsp_test_service_start(env);
    (void)state;

    tsp_test_service_signal(svc, SIGTERM);
    tsp_test_sleep_ms(300);
    assert_int_equal(tsp_test_service_wait(svc, 0), -1); /* still in its delay */
    tsp_test_service_signal(svc, SIGINT);
    assert_int_equal(tsp_test_service_wait(svc, 3000), 1);
    tsp_test_service_stop(svc);
}

static void test_serve_invalid_config_exits_2(void **state)
{
    static const char *const env[] = {"DB_MAX_CONNS=lots", NULL};
    struct tsp_test_service *svc = tsp_test_service_spawn(env);
    char *err = NULL;
    (void)state;

    assert_int_equal(tsp_test_service_wait(svc, 10000), 2);
    err = tsp_test_service_stderr(svc);
    assert_non_null(strstr(err, "DB_MAX_CONNS"));
    assert_non_null(strstr(err, "lots"));
    /* one line */
    assert_non_null(strchr(err, '\n'));
    assert_null(strchr(strchr(err, '\n') + 1, '\n'));
    free(err);
    tsp_test_service_stop(svc);
}

static void test_serve_port_in_use_exits_1(void **state)
{
    struct tsp_test_service *first = tsp_test_service_start(NULL);
    struct tsp_test_service *second = NULL;
    char listen[64];
    char expect[96];
    char *err = NULL;
    const char *env[2] = {listen, NULL};
    (void)state;

    snprintf(listen, sizeof(listen), "TSPOOL_LISTEN=127.0.0.1:%d", tsp_test_service_port(first));
    snprintf(expect, sizeof(expect),
             "tspool: cannot serve HTTP on 127.0.0.1:%d: ", tsp_test_service_port(first));
    second = tsp_test_service_spawn(env);
    assert_int_equal(tsp_test_service_wait(second, 15000), 1);
    err = tsp_test_service_stderr(second);
    assert_non_null(strstr(err, expect));
    free(err);
    tsp_test_service_stop(second);
    tsp_test_service_stop(first);
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serve_sigterm_drains),
        cmocka_unit_test(test_serve_second_signal_exits_at_once),
        cmocka_unit_test(test_serve_invalid_config_exits_2),
        cmocka_unit_test(test_serve_port_in_use_exits_1),
    };
    return cmocka_run_group_tests_name("shutdown", tests, setup, NULL);
}
