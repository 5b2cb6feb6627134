/* test_http_pool.c - integration tests of /pool/status (plain and detailed, with the server's
 * view from pg_stat_activity) and /pool/ping, and of pool exhaustion -> 503 + Retry-After
 * while the only connection is held by a ping blocked on a lock (pg_sleep in another session).
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_client.h"
#include "service_harness.h"

static struct tsp_test_service *svc;

static int setup(void **state)
{
    /* one connection, no overflow, 1 s borrow timeout: easy to exhaust */
    static const char *const env[] = {"DB_MAX_CONNS=1", "DB_MAX_OVERFLOW=0", "DB_POOL_TIMEOUT=1",
                                      NULL};
    (void)state;
    if (!tsp_test_pg_available()) {
        return -1;
    }
    svc = tsp_test_service_start(env);
    return svc != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tsp_test_service_stop(svc);
    svc = NULL;
    return 0;
}

static char *url(const char *path)
{
    static char buf[512];
    snprintf(buf, sizeof(buf), "%s%s", tsp_test_service_url(svc), path);
    return buf;
}

static json_t *at(json_t *doc, const char *a, const char *b)
{
    return json_object_get(json_object_get(doc, a), b);
}

static void test_http_pool_status_plain(void **state)
{
    struct tsp_test_reply *r = tsp_test_get(url("/pool/status"), NULL);
    char ctype[64];
    (void)state;

    assert_int_equal(r->status, 200);
    assert_true(tsp_test_reply_header(r, "Content-Type", ctype, sizeof(ctype)));
    assert_string_equal(ctype, "application/json");
    assert_string_equal(tsp_test_json_str(r, "mode"), "pooled");
    assert_int_equal(json_integer_value(at(r->json, "config", "size")), 1);
    assert_int_equal(json_integer_value(at(r->json, "config", "max_overflow")), 0);
    assert_int_equal(json_integer_value(at(r->json, "config", "timeout_ms")), 1000);
    assert_non_null(at(r->json, "gauges", "in_use"));
    assert_non_null(at(r->json, "counters", "borrows"));
    assert_non_null(at(r->json, "closes", "recycle"));
    assert_non_null(at(r->json, "acquire_wait", "p99_s"));
    assert_null(json_object_get(r->json, "connections"));
    assert_null(json_object_get(r->json, "server"));
    tsp_test_reply_free(r);
}

static void test_http_pool_ping_round_trip(void **state)
{
    struct tsp_test_reply *r = tsp_test_get(url("/pool/ping"), NULL);
    (void)state;

    assert_int_equal(r->status, 200);
    assert_true(json_is_true(json_object_get(r->json, "ok")));
    assert_true(json_is_true(json_object_get(r->json, "primary")));
    assert_int_equal(json_integer_value(json_object_get(r->json, "server_version_num")) / 10000,
                     15);
    assert_int_equal(strncmp(tsp_test_json_str(r, "server_version"), "15.", 3), 0);
    assert_true(json_number_value(json_object_get(r->json, "round_trip_ms")) >= 0.0);
    assert_true(json_integer_value(json_object_get(r->json, "backend_pid")) > 0);
    tsp_test_reply_free(r);
}

static void test_http_pool_status_detailed(void **state)
{
    struct tsp_test_reply *r = NULL;
    json_t *conns = NULL;
    json_t *server = NULL;
    (void)state;

    tsp_test_reply_free(tsp_test_get(url("/pool/ping"), NULL));
    r = tsp_test_get(url("/pool/status?detailed=true"), NULL);
    assert_int_equal(r->status, 200);
    conns = json_object_get(r->json, "connections");
    assert_true(json_is_array(conns));
    assert_true(json_array_size(conns) >= 1);
    assert_non_null(json_object_get(json_array_get(conns, 0), "state"));
    assert_non_null(json_object_get(json_array_get(conns, 0), "uses"));
    server = json_object_get(r->json, "server");
    assert_true(json_is_object(server));
    assert_int_equal(json_integer_value(json_object_get(server, "max_connections")), 100);
    assert_int_equal(json_integer_value(json_object_get(server, "superuser_reserved_connections")),
                     3);
    assert_true(json_integer_value(json_object_get(server, "ours")) >= 1);
    assert_true(json_integer_value(json_object_get(json_object_get(server, "by_application"),
                                                   TSP_TEST_APP_NAME)) >= 1);
    assert_true(json_is_object(json_object_get(server, "by_state")));
    assert_true(json_integer_value(json_object_get(server, "available")) <= 97);
    tsp_test_reply_free(r);

    r = tsp_test_get(url("/pool/status?detailed=maybe"), NULL);
    assert_int_equal(r->status, 400);
    assert_string_equal(tsp_test_json_str(r, "field"), "detailed");
    tsp_test_reply_free(r);
}

static void *slow_ping(void *arg)
{
    struct tsp_test_reply **out = arg;
    char u[512];
    snprintf(u, sizeof(u), "%s/pool/ping", tsp_test_service_url(svc));
    *out = tsp_test_http_try("GET", u, NULL, NULL, 20000);
    return NULL;
}

static void test_http_pool_exhausted_503_retry_after(void **state)
{
    struct tsp_test_lock *lock = NULL;
    pthread_t pinger;
    struct tsp_test_reply *held = NULL;
    struct tsp_test_reply *r = NULL;
    char retry[16];
    (void)state;

    /* the ping query reads pg_extension: while the lock is held it blocks, with its lease */
    lock = tsp_test_lock_catalog(3);
    assert_int_equal(pthread_create(&pinger, NULL, slow_ping, &held), 0);
    assert_true(tsp_test_wait_query(TSP_TEST_SQL_OURS_WAITING, "t", 10000));
    r = tsp_test_get(url("/pool/ping"), NULL);
    assert_int_equal(r->status, 503);
    assert_string_equal(tsp_test_json_str(r, "code"), "POOL_EXHAUSTED");
    assert_true(tsp_test_reply_header(r, "Retry-After", retry, sizeof(retry)));
    assert_string_equal(retry, "1");
    tsp_test_reply_free(r);

    /* the status shows who holds the connection */
    r = tsp_test_get(url("/pool/status?detailed"), NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(r->json, "connections"), 0), "holder")),
                        "ping");
    assert_true(json_integer_value(at(r->json, "counters", "borrow_timeouts")) >= 1);
    tsp_test_reply_free(r);

    tsp_test_lock_join(lock);
    pthread_join(pinger, NULL);
    assert_non_null(held);
    assert_int_equal(held->status, 200);
    tsp_test_reply_free(held);
}

/* A statement that runs into DB_STATEMENT_TIMEOUT_MS is a 504 with the SQLSTATE. */
static void test_http_pool_ping_statement_timeout_504(void **state)
{
    static const char *const env[] = {"DB_STATEMENT_TIMEOUT_MS=300", NULL};
    struct tsp_test_service *own = tsp_test_service_start(env);
    struct tsp_test_lock *lock = NULL;
    struct tsp_test_reply *r = NULL;
    char u[512];
    (void)state;

    lock = tsp_test_lock_catalog(2);
    snprintf(u, sizeof(u), "%s/pool/ping", tsp_test_service_url(own));
    r = tsp_test_http("GET", u, NULL, NULL);
    assert_int_equal(r->status, 504);
    assert_string_equal(tsp_test_json_str(r, "code"), "TIMEOUT");
    assert_string_equal(tsp_test_json_str(r, "sqlstate"), "57014");
    tsp_test_reply_free(r);
    tsp_test_lock_join(lock);
    /* the connection survived the cancelled statement */
    r = tsp_test_http("GET", u, NULL, NULL);
    assert_int_equal(r->status, 200);
    tsp_test_reply_free(r);
    tsp_test_service_stop(own);
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_pool_status_plain),
        cmocka_unit_test(test_http_pool_ping_round_trip),
        cmocka_unit_test(test_http_pool_status_detailed),
        cmocka_unit_test(test_http_pool_exhausted_503_retry_after),
        cmocka_unit_test(test_http_pool_ping_statement_timeout_504),
    };
    return cmocka_run_group_tests_name("http_pool", tests, setup, teardown);
}
