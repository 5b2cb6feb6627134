/* test_http_health.c - integration tests of the probes: plain, verbose, exclude, per-check
 * paths, unknown checks; readiness 503 while PostgreSQL is stopped and 200 again after it
 * restarts, with liveness 200 throughout.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_client.h"
#include "service_harness.h"

static struct tsp_test_service *svc;

static int setup(void **state)
{
    static const char *const env[] = {"DB_MIN_CONNS=1", "DB_MAX_CONNS=2", NULL};
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
    tsp_test_pg_ctl("start >/dev/null");
    return 0;
}

static char *url(const char *path)
{
    static char buf[512];
    snprintf(buf, sizeof(buf), "%s%s", tsp_test_service_url(svc), path);
    return buf;
}

/* Poll path until it answers `status` (up to timeout_ms); returns the last status. */
static long wait_status(const char *path, long status, long timeout_ms)
{
    long got = 0;
    for (long waited = 0; waited <= timeout_ms; waited += 100) {
        struct tsp_test_reply *r = tsp_test_get(url(path), NULL);
        got = r->status;
        tsp_test_reply_free(r);
        if (got == status) {
            break;
        }
        tsp_test_sleep_ms(100);
    }
    return got;
}

static void test_http_probes_plain_and_verbose(void **state)
{
    struct tsp_test_reply *r = NULL;
    char ctype[64];
    (void)state;

    assert_int_equal(wait_status("/startupz", 200, 10000), 200);
    assert_int_equal(wait_status("/readyz", 200, 10000), 200);
    r = tsp_test_get(url("/readyz"), NULL);
    assert_string_equal(r->body, "ok");
    assert_true(tsp_test_reply_header(r, "Content-Type", ctype, sizeof(ctype)));
    assert_string_equal(ctype, "text/plain; charset=utf-8");
    tsp_test_reply_free(r);
    r = tsp_test_get(url("/readyz?verbose"), NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "[+]ping ok\n[+]db ok\n[+]pool ok\n[+]shutdown ok\n"
                                 "readyz check passed");
    tsp_test_reply_free(r);
    r = tsp_test_get(url("/livez?verbose=true"), NULL);
    assert_string_equal(r->body, "[+]ping ok\n[+]maintenance ok\nlivez check passed");
    tsp_test_reply_free(r);
    r = tsp_test_get(url("/startupz?verbose"), NULL);
    assert_string_equal(r->body, "[+]db ok\n[+]warm ok\nstartupz check passed");
    tsp_test_reply_free(r);
    r = tsp_test_get(url("/healthz?verbose&exclude=db&exclude=pool"), NULL);
    assert_string_equal(r->body, "[+]ping ok\n[+]maintenance ok\n[+]db excluded: ok\n"
                                 "[+]pool excluded: ok\n[+]shutdown ok\nhealthz check passed");
    tsp_test_reply_free(r);
    r = tsp_test_get(url("/readyz/db"), NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "ok");
    tsp_test_reply_free(r);
    r = tsp_test_get(url("/readyz/nosuch"), NULL);
    assert_int_equal(r->status, 404);
    assert_string_equal(tsp_test_json_str(r, "detail"), "readyz has no check named 'nosuch'");
    tsp_test_reply_free(r);
    r = tsp_test_get(url("/readyz?verbose=perhaps"), NULL);
    assert_int_equal(r->status, 400);
    tsp_test_reply_free(r);
}

static void test_http_readiness_follows_database(void **state)
{
    struct tsp_test_reply *r = NULL;
    (void)state;

    assert_int_equal(wait_status("/readyz", 200, 10000), 200);
    assert_int_equal(tsp_test_pg_ctl("stop"), 0);
    assert_int_equal(wait_status("/readyz", 503, 15000), 503);
    r = tsp_test_get(url("/readyz?verbose"), NULL);
    assert_int_equal(r->status, 503);
    assert_non_null(strstr(r->body, "[-]db failed: database unreachable: "));
    assert_non_null(strstr(r->body, "readyz check failed"));
    tsp_test_reply_free(r);
    r = tsp_test_get(url("/readyz/db"), NULL);
    assert_int_equal(r->status, 503);
    assert_int_equal(strncmp(r->body, "[-]db failed: ", 14), 0);
    tsp_test_reply_free(r);
    /* a database outage must not restart pods */
    for (int i = 0; i < 5; i++) {
        r = tsp_test_get(url("/livez"), NULL);
        assert_int_equal(r->status, 200);
        tsp_test_reply_free(r);
        tsp_test_sleep_ms(200);
    }
    /* startup already passed: it stays passed */
    r = tsp_test_get(url("/startupz/db"), NULL);
    assert_int_equal(r->status, 200);
    tsp_test_reply_free(r);
    r = tsp_test_get(url("/pool/ping"), NULL);
    assert_int_equal(r->status, 503);
    assert_string_equal(tsp_test_json_str(r, "code"), "DB_UNAVAILABLE");
    tsp_test_reply_free(r);
    /* the pool's own view needs no database; the detailed one says why the server's is missing */
    r = tsp_test_get(url("/pool/status"), NULL);
    assert_int_equal(r->status, 200);
    tsp_test_reply_free(r);
    r = tsp_test_get(url("/pool/status?detailed=true"), NULL);
    assert_int_equal(r->status, 200);
    assert_true(json_is_null(json_object_get(r->json, "server")));
    assert_non_null(tsp_test_json_str(r, "server_error"));
    assert_true(json_is_array(json_object_get(r->json, "connections")));
    tsp_test_reply_free(r);

    assert_int_equal(tsp_test_pg_ctl("start"), 0);
    assert_int_equal(wait_status("/readyz", 200, 20000), 200);
    r = tsp_test_get(url("/livez"), NULL);
    assert_int_equal(r->status, 200);
    tsp_test_reply_free(r);
    r = tsp_test_get(url("/pool/ping"), NULL);
    assert_int_equal(r->status, 200);
    tsp_test_reply_free(r);
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_probes_plain_and_verbose),
        cmocka_unit_test(test_http_readiness_follows_database),
    };
    return cmocka_run_group_tests_name("http_health", tests, setup, teardown);
}
