/* test_health.c - unit tests of the probe checks over hand-written inputs: database down,
 * misconfigured, paused, saturated, shutting down, stale heartbeat, startup, exclusion,
 * per-check selection and the kube-apiserver text format.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <string.h>

#include "tspool/health.h"

static struct tsp_health_inputs healthy(void)
{
    struct tsp_health_inputs in;
    memset(&in, 0, sizeof(in));
    in.db.checked = true;
    in.db.ok = true;
    in.db.ever_ok = true;
    in.db.min_idle_filled = true;
    in.db.heartbeat_ms = 1000;
    in.now_mono_ms = 1500;
    in.heartbeat_max_ms = 10000;
    return in;
}

static struct tsp_health_report eval(const struct tsp_health_inputs *in,
                                     enum tsp_health_probe probe, const char *only,
                                     const char *const *exclude, size_t nexclude)
{
    struct tsp_health_report report;
    struct tsp_error err;

    tsp_error_init(&err);
    assert_int_equal(tsp_health_evaluate(in, probe, only, exclude, nexclude, &report, &err),
                     TSP_OK);
    return report;
}

static void test_tsp_health_evaluate_all_ok(void **state)
{
    struct tsp_health_inputs in = healthy();
    char text[1024];
    (void)state;

    for (int p = 0; p < TSP_PROBE_COUNT; p++) {
        struct tsp_health_report r = eval(&in, (enum tsp_health_probe)p, NULL, NULL, 0);
        assert_true(r.ok);
        tsp_health_format(&r, false, text, sizeof(text));
        assert_string_equal(text, "ok");
    }
}

static void test_tsp_health_evaluate_db_down_fails_ready_not_live(void **state)
{
    struct tsp_health_inputs in = healthy();
    struct tsp_health_report r;
    char text[1024];
    (void)state;

    in.db.ok = false;
    strcpy(in.db.detail, "connection refused");
    r = eval(&in, TSP_PROBE_LIVE, NULL, NULL, 0);
    assert_true(r.ok);
    r = eval(&in, TSP_PROBE_READY, NULL, NULL, 0);
    assert_false(r.ok);
    tsp_health_format(&r, false, text, sizeof(text));
    assert_string_equal(text, "[+]ping ok\n"
                              "[-]db failed: database unreachable: connection refused\n"
                              "[+]pool ok\n"
                              "[+]shutdown ok\n"
                              "readyz check failed");
    /* startup stays passed once the database has been seen */
    r = eval(&in, TSP_PROBE_STARTUP, NULL, NULL, 0);
    assert_true(r.ok);
}

static void test_tsp_health_evaluate_misconfigured_reason(void **state)
{
    struct tsp_health_inputs in = healthy();
    struct tsp_health_report r;
    (void)state;

    in.db.ok = false;
    in.db.misconfigured = true;
    strcpy(in.db.detail, "password authentication failed");
    r = eval(&in, TSP_PROBE_READY, "db", NULL, 0);
    assert_false(r.ok);
    assert_int_equal(r.count, 1);
    assert_string_equal(r.checks[0].reason, "database refused the connection (misconfigured): "
                                            "password authentication failed");
}

static void test_tsp_health_evaluate_paused_saturated_shutdown(void **state)
{
    struct tsp_health_inputs in = healthy();
    struct tsp_health_report r;
    (void)state;

    in.pool_paused = true;
    r = eval(&in, TSP_PROBE_READY, "pool", NULL, 0);
    assert_string_equal(r.checks[0].reason, "pool paused");
    in.pool_paused = false;
    in.ready_max_waiting = 2;
    in.pool_waiting = 3;
    r = eval(&in, TSP_PROBE_READY, "pool", NULL, 0);
    assert_false(r.ok);
    assert_string_equal(r.checks[0].reason, "pool saturated: 3 borrowers waiting (limit 2)");
    in.pool_waiting = 2;
    r = eval(&in, TSP_PROBE_READY, "pool", NULL, 0);
    assert_true(r.ok);
    in.shutting_down = true;
    r = eval(&in, TSP_PROBE_READY, NULL, NULL, 0);
    assert_false(r.ok);
    r = eval(&in, TSP_PROBE_LIVE, NULL, NULL, 0);
    assert_true(r.ok);
}

static void test_tsp_health_evaluate_stale_heartbeat_fails_live(void **state)
{
    struct tsp_health_inputs in = healthy();
    struct tsp_health_report r;
    (void)state;

    in.now_mono_ms = in.db.heartbeat_ms + 20000;
    r = eval(&in, TSP_PROBE_LIVE, NULL, NULL, 0);
    assert_false(r.ok);
    assert_string_equal(r.checks[1].name, "maintenance");
    assert_string_equal(r.checks[1].reason,
                        "maintenance thread last ran 20000 ms ago (limit 10000 ms)");
}

/* The cached success is older than three health intervals (no check could run): readiness
 * fails and says how old it is; liveness does not care. */
static void test_tsp_health_evaluate_stale_db_check_fails_ready(void **state)
{
    struct tsp_health_inputs in = healthy();
    struct tsp_health_report r;
    (void)state;

    in.db.interval_ms = 300;
    in.db.ok_at_ms = 1000;
    in.now_mono_ms = 1800; /* 800 ms: within 3 x 300 */
    r = eval(&in, TSP_PROBE_READY, NULL, NULL, 0);
    assert_true(r.ok);
    in.now_mono_ms = 2000; /* 1000 ms */
    r = eval(&in, TSP_PROBE_READY, NULL, NULL, 0);
    assert_false(r.ok);
    assert_string_equal(r.checks[1].name, "db");
    assert_string_equal(r.checks[1].reason,
                        "no successful database check for 1000 ms (limit 900 ms): every "
                        "connection is busy or the database does not answer");
    assert_true(eval(&in, TSP_PROBE_LIVE, NULL, NULL, 0).ok);
    in.max_check_age_ms = 5000; /* TSPOOL_READY_MAX_CHECK_AGE_MS */
    assert_true(eval(&in, TSP_PROBE_READY, NULL, NULL, 0).ok);
}

static void test_tsp_health_evaluate_startup_before_first_check(void **state)
{
    struct tsp_health_inputs in;
    struct tsp_health_report r;
    char text[512];
    (void)state;

    memset(&in, 0, sizeof(in));
    r = eval(&in, TSP_PROBE_STARTUP, NULL, NULL, 0);
    assert_false(r.ok);
    tsp_health_format(&r, true, text, sizeof(text));
    assert_string_equal(text, "[-]db failed: database not checked yet\n"
                              "[-]warm failed: warm pool (DB_MIN_CONNS) not open yet\n"
                              "startupz check failed");
}

static void test_tsp_health_evaluate_exclude(void **state)
{
    struct tsp_health_inputs in = healthy();
    const char *exclude[] = {"db", "nonexistent"};
    struct tsp_health_report r;
    char text[512];
    (void)state;

    in.db.ok = false;
    r = eval(&in, TSP_PROBE_READY, NULL, exclude, 2);
    assert_true(r.ok);
    tsp_health_format(&r, true, text, sizeof(text));
    assert_string_equal(text, "[+]ping ok\n"
                              "[+]db excluded: ok\n"
                              "[+]pool ok\n"
                              "[+]shutdown ok\n"
                              "readyz check passed");
}

static void test_tsp_health_evaluate_unknown_check(void **state)
{
    struct tsp_health_inputs in = healthy();
    struct tsp_health_report r;
    struct tsp_error err;
    (void)state;

    tsp_error_init(&err);
    assert_int_equal(tsp_health_evaluate(&in, TSP_PROBE_LIVE, "db", NULL, 0, &r, &err),
                     TSP_NOT_FOUND);
    assert_string_equal(err.detail, "livez has no check named 'db'");
}

static void test_tsp_health_new_without_pool(void **state)
{
    struct tsp_health *h = NULL;
    struct tsp_health_report r;
    struct tsp_error err;
    (void)state;

    tsp_error_init(&err);
    assert_int_equal(tsp_health_new(NULL, NULL, &h, &err), TSP_OK);
    assert_false(tsp_health_shutting_down(h));
    assert_int_equal(tsp_health_check(h, TSP_PROBE_LIVE, NULL, NULL, 0, &r, &err), TSP_OK);
    assert_true(r.ok);
    tsp_health_set_shutting_down(h);
    assert_true(tsp_health_shutting_down(h));
    assert_int_equal(tsp_health_check(h, TSP_PROBE_READY, "shutdown", NULL, 0, &r, &err), TSP_OK);
    assert_false(r.ok);
    tsp_health_free(h);
    tsp_health_free(NULL);
}

/* TSPOOL_READY_PGBOUNCER: the pgbouncer check is listed only when required, and passes while
 * one instance is up. */
static void test_tsp_health_evaluate_pgbouncer_optional(void **state)
{
    struct tsp_health_inputs in = healthy();
    struct tsp_health_report r;
    struct tsp_error err;
    char text[1024];
    (void)state;

    r = eval(&in, TSP_PROBE_READY, NULL, NULL, 0);
    tsp_health_format(&r, true, text, sizeof(text));
    assert_null(strstr(text, "pgbouncer"));
    tsp_error_init(&err);
    assert_int_equal(tsp_health_evaluate(&in, TSP_PROBE_READY, "pgbouncer", NULL, 0, &r, &err),
                     TSP_NOT_FOUND);

    in.pgbouncer_required = true;
    in.pgbouncer_enabled = true;
    in.pgbouncer_total = 2;
    in.pgbouncer_up = 1;
    r = eval(&in, TSP_PROBE_READY, NULL, NULL, 0);
    assert_true(r.ok);
    in.pgbouncer_up = 0;
    r = eval(&in, TSP_PROBE_READY, NULL, NULL, 0);
    assert_false(r.ok);
    tsp_health_format(&r, true, text, sizeof(text));
    assert_non_null(strstr(text, "[-]pgbouncer failed: no PgBouncer instance up (0 of 2)"));
    r = eval(&in, TSP_PROBE_LIVE, NULL, NULL, 0);
    assert_true(r.ok); /* liveness never depends on PgBouncer */
    in.pgbouncer_enabled = false;
    r = eval(&in, TSP_PROBE_READY, "pgbouncer", NULL, 0);
    assert_false(r.ok);
    assert_non_null(strstr(r.checks[0].reason, "PGBOUNCER_HOSTS is empty"));
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsp_health_evaluate_pgbouncer_optional),
        cmocka_unit_test(test_tsp_health_evaluate_all_ok),
        cmocka_unit_test(test_tsp_health_evaluate_db_down_fails_ready_not_live),
        cmocka_unit_test(test_tsp_health_evaluate_misconfigured_reason),
        cmocka_unit_test(test_tsp_health_evaluate_paused_saturated_shutdown),
        cmocka_unit_test(test_tsp_health_evaluate_stale_heartbeat_fails_live),
        cmocka_unit_test(test_tsp_health_evaluate_stale_db_check_fails_ready),
        cmocka_unit_test(test_tsp_health_evaluate_startup_before_first_check),
        cmocka_unit_test(test_tsp_health_evaluate_exclude),
        cmocka_unit_test(test_tsp_health_evaluate_unknown_check),
        cmocka_unit_test(test_tsp_health_new_without_pool),
    };
    return cmocka_run_group_tests_name("health", tests, NULL, NULL);
}
