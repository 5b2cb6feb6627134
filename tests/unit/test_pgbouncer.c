/* test_pgbouncer.c - unit tests of the PgBouncer module's pure logic over hand-made SHOW
 * tables: PGBOUNCER_HOSTS parsing (named cases), database names, per-database totals, the
 * Prometheus series, the listing filters and the command body.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "http_client.h"
#include "pgbouncer_int.h"
#include "pgbouncer_json.h"
#include "tspool/clock.h"
#include "tspool/pgbouncer.h"

struct host_case {
    const char *name;
    const char *text;
    int count; /* -1 = rejected */
    const char *first_host;
    int first_port;
};

static const struct host_case host_cases[] = {
    {"empty is off", "", 0, NULL, 0},
    {"one name", "pgbouncer:6432", 1, "pgbouncer", 6432},
    {"ipv6 in brackets", "[fd00::5]:6432,pgb-1.ns.svc:5432", 2, "fd00::5", 6432},
    {"three", "10.0.0.1:1,10.0.0.2:65535,x:2", 3, "10.0.0.1", 1},
    {"no port", "pgbouncer", -1, NULL, 0},
    {"port zero", "pgbouncer:0", -1, NULL, 0},
    {"port too big", "pgbouncer:65536", -1, NULL, 0},
    {"port not a number", "pgbouncer:64x2", -1, NULL, 0},
    {"ipv6 without brackets", "::1:6432", -1, NULL, 0},
    {"trailing comma", "a:1,", -1, NULL, 0},
    {"empty element", "a:1,,b:2", -1, NULL, 0},
    {"space", "a :1", -1, NULL, 0},
    {"empty host", ":6432", -1, NULL, 0},
    {"unclosed bracket", "[::1:6432", -1, NULL, 0},
};

static void test_tsp_pgb_hosts_parse_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(host_cases) / sizeof(host_cases[0]); i++) {
        const struct host_case *c = &host_cases[i];
        struct tsp_pgb_host *hosts = NULL;
        size_t n = 0;
        struct tsp_error err;
        enum tsp_code rc = TSP_OK;

        tsp_error_init(&err);
        rc = tsp_pgb_hosts_parse(c->text, &hosts, &n, &err);
        if (c->count < 0) {
            if (rc != TSP_INVALID || strstr(err.detail, "element") == NULL) {
                fail_msg("case \"%s\": expected rejection, got %d (%s)", c->name, rc, err.detail);
            }
            assert_null(hosts);
            continue;
        }
        if (rc != TSP_OK || (int)n != c->count) {
            fail_msg("case \"%s\": rc %d, %zu hosts (%s)", c->name, rc, n, err.detail);
        }
        if (c->first_host != NULL) {
            assert_string_equal(hosts[0].host, c->first_host);
            assert_int_equal(hosts[0].port, c->first_port);
        }
        free(hosts);
    }
}

static void test_tsp_pgb_database_valid_cases(void **state)
{
    (void)state;
    assert_true(tsp_pgb_database_valid("app"));
    assert_true(tsp_pgb_database_valid("App_db-2.x"));
    assert_false(tsp_pgb_database_valid(""));
    assert_false(tsp_pgb_database_valid(NULL));
    assert_false(tsp_pgb_database_valid("a\"b"));
    assert_false(tsp_pgb_database_valid("a;RELOAD"));
    assert_false(tsp_pgb_database_valid("a b"));
    assert_false(
        tsp_pgb_database_valid("a234567890123456789012345678901234567890123456789012345678901234"));
}

/* A table from column names ("+name" = numeric) and rows of cells (NULL-terminated). */
static void make_table(struct tsp_pgb_table *t, const char *const *cols, int ncols,
                       const char *const *cells, int nrows)
{
    memset(t, 0, sizeof(*t));
    t->ncols = ncols;
    t->nrows = nrows;
    t->cols = calloc((size_t)ncols, sizeof(*t->cols));
    t->numeric = calloc((size_t)ncols, sizeof(*t->numeric));
    t->cells = calloc((size_t)(ncols * nrows) + 1, sizeof(*t->cells));
    for (int c = 0; c < ncols; c++) {
        t->numeric[c] = cols[c][0] == '+';
        t->cols[c] = strdup(cols[c] + (t->numeric[c] ? 1 : 0));
    }
    for (int i = 0; i < ncols * nrows; i++) {
        t->cells[i] = cells[i] != NULL ? strdup(cells[i]) : NULL;
    }
}

static const char *const pool_cols[] = {"database",    "user",       "+cl_active",
                                        "+cl_waiting", "+sv_active", "+sv_idle",
                                        "+sv_used",    "+maxwait",   "+maxwait_us"};
static const char *const stat_cols[] = {"database",        "+total_query_count", "+avg_query_count",
                                        "+avg_query_time", "+avg_xact_count",    "+avg_xact_time"};
static const char *const db_cols[] = {"name",          "database", "+pool_size",
                                      "+reserve_pool", "+paused",  "+disabled"};
static const char *const list_cols[] = {"list", "+items"};

/* Two instances up (app on both, reports only on the first) and one down. */
static struct tsp_pgb_snap_rc *fixture_snapshot(void)
{
    struct tsp_pgb_snap_rc *rc = tsp_pgb_snap_new(3);
    static const char *const pools1[] = {
        "app",       "u1",        "3", "2", "3", "1", "0", "1", "500000",
        "app",       "u2",        "1", "0", "1", "0", "1", "0", "0",
        "pgbouncer", "pgbouncer", "1", "0", "0", "0", "0", "0", "0"};
    static const char *const pools2[] = {"app", "u1", "2", "4", "2", "0", "0", "2", "250000"};
    static const char *const stats1[] = {"app",     "1000", "30", "2000", "10", "9000",
                                         "reports", "5",    "0",  "0",    "0",  "0"};
    static const char *const stats2[] = {"app", "500", "10", "6000", "10", "3000"};
    static const char *const dbs1[] = {"app",     "app", "20", "5", "1", "0",
                                       "reports", "rep", "10", "0", "0", "1"};
    static const char *const dbs2[] = {"app", "app", "20", "5", "0", "0"};
    static const char *const lists[] = {"databases", "2", "free_clients", "49"};

    for (int i = 0; i < 3; i++) {
        snprintf(rc->snap.instances[i].address, TSP_PGB_ADDRESS_MAX, "10.0.0.%d:6432", i + 1);
        snprintf(rc->snap.instances[i].name, TSP_PGB_ADDRESS_MAX, "pgb:6432");
    }
    rc->snap.instances[0].state = TSP_PGB_UP;
    rc->snap.instances[1].state = TSP_PGB_UP;
    rc->snap.instances[2].state = TSP_PGB_DOWN;
    snprintf(rc->snap.instances[0].version, 64, "1.18.0");
    snprintf(rc->snap.instances[2].error, TSP_PGB_ERROR_MAX, "connection refused");
    make_table(&rc->snap.instances[0].show[TSP_PGB_SHOW_POOLS], pool_cols, 9, pools1, 3);
    make_table(&rc->snap.instances[1].show[TSP_PGB_SHOW_POOLS], pool_cols, 9, pools2, 1);
    make_table(&rc->snap.instances[0].show[TSP_PGB_SHOW_STATS], stat_cols, 6, stats1, 2);
    make_table(&rc->snap.instances[1].show[TSP_PGB_SHOW_STATS], stat_cols, 6, stats2, 1);
    make_table(&rc->snap.instances[0].show[TSP_PGB_SHOW_DATABASES], db_cols, 6, dbs1, 2);
    make_table(&rc->snap.instances[1].show[TSP_PGB_SHOW_DATABASES], db_cols, 6, dbs2, 1);
    make_table(&rc->snap.instances[0].show[TSP_PGB_SHOW_LISTS], list_cols, 2, lists, 2);
    return rc;
}

static void test_tsp_pgb_totals_compute_adds_instances_up(void **state)
{
    struct tsp_pgb_snap_rc *rc = fixture_snapshot();
    struct tsp_pgb_totals *t = NULL;
    size_t n = 0;
    struct tsp_error err;
    (void)state;

    tsp_error_init(&err);
    assert_int_equal(tsp_pgb_totals_compute(&rc->snap, &t, &n, &err), TSP_OK);
    assert_int_equal(n, 2); /* app, reports; the console's own database left out */
    assert_string_equal(t[0].database, "app");
    assert_int_equal(t[0].instances, 2);
    assert_int_equal(t[0].cl_active, 6);
    assert_int_equal(t[0].cl_waiting, 6);
    assert_int_equal(t[0].sv_active, 6);
    assert_int_equal(t[0].sv_idle, 1);
    assert_int_equal(t[0].sv_used, 1);
    assert_float_equal(t[0].max_wait_s, 2.25, 1e-9);
    assert_float_equal(t[0].queries_per_second, 40, 1e-9);
    /* (30 * 2 ms + 10 * 6 ms) / 40 = 3 ms */
    assert_float_equal(t[0].avg_query_time_s, 0.003, 1e-9);
    assert_float_equal(t[0].avg_xact_time_s, 0.006, 1e-9);
    assert_true(t[0].paused);
    assert_false(t[0].disabled);
    assert_string_equal(t[1].database, "reports");
    assert_true(t[1].disabled);
    assert_int_equal(t[1].instances, 1);
    free(t);
    tsp_pgb_snap_destroy(rc);
}

static void test_tsp_pgb_metrics_render_series_and_format(void **state)
{
    struct tsp_pgb_snap_rc *rc = fixture_snapshot();
    char *text = NULL;
    size_t len = 0;
    char why[256];
    struct tsp_error err;
    (void)state;

    tsp_error_init(&err);
    rc->snap.instances[0].refreshed_mono_ms = 1000;
    struct tsp_strbuf sb = {0};
    assert_int_equal(tsp_pgb_metrics_render(&rc->snap, &text, &len, &err), TSP_OK);
    assert_int_equal(strlen(text), len);
    assert_true(tsp_strbuf_append(&sb, text, len));
    free(text);
    assert_int_equal(tsp_pgb_metrics_age(&rc->snap, 3500, &sb, &err), TSP_OK);
    text = tsp_strbuf_take(&sb, &len);
    assert_non_null(text);
    if (!tsp_test_prometheus_valid(text, why, sizeof(why))) {
        fail_msg("invalid exposition: %s", why);
    }
    assert_non_null(strstr(text, "tspool_pgbouncer_up{instance=\"10.0.0.1:6432\"} 1\n"));
    assert_non_null(strstr(text, "tspool_pgbouncer_up{instance=\"10.0.0.3:6432\"} 0\n"));
    assert_non_null(strstr(
        text,
        "tspool_pgbouncer_requests_total{instance=\"10.0.0.2:6432\",database=\"app\"} 500\n"));
    assert_non_null(strstr(text, "tspool_pgbouncer_waiting_clients{instance=\"10.0.0.1:6432\","
                                 "database=\"app\",user=\"u1\"} 2\n"));
    assert_non_null(strstr(text, "tspool_pgbouncer_max_wait_seconds{instance=\"10.0.0.2:6432\","
                                 "database=\"app\",user=\"u1\"} 2.25\n"));
    assert_non_null(strstr(
        text, "tspool_pgbouncer_database_paused{instance=\"10.0.0.1:6432\",database=\"app\"} 1\n"));
    assert_non_null(strstr(text, "tspool_pgbouncer_free_clients{instance=\"10.0.0.1:6432\"} 49\n"));
    assert_non_null(strstr(text, "tspool_pgbouncer_version_info{instance=\"10.0.0.1:6432\","
                                 "version=\"1.18.0\"} 1\n"));
    assert_non_null(
        strstr(text, "tspool_pgbouncer_refresh_age_seconds{instance=\"10.0.0.1:6432\"} 2.500\n"));
    assert_non_null(
        strstr(text, "tspool_pgbouncer_refresh_age_seconds{instance=\"10.0.0.3:6432\"} -1.000\n"));
    /* the instance that is down has no rows */
    assert_null(strstr(text, "requests_total{instance=\"10.0.0.3:6432\""));
    free(text);
    tsp_pgb_snap_destroy(rc);
}

static void test_tsp_pgb_json_check_filters_cases(void **state)
{
    struct tsp_pgb_snap_rc *rc = fixture_snapshot();
    struct tsp_error err;
    (void)state;

    tsp_error_init(&err);
    assert_int_equal(tsp_pgb_json_check_filters(&rc->snap, TSP_PGB_SHOW_POOLS, NULL, NULL, &err),
                     TSP_OK);
    assert_int_equal(
        tsp_pgb_json_check_filters(&rc->snap, TSP_PGB_SHOW_POOLS, "pgb:6432", "app", &err), TSP_OK);
    assert_int_equal(
        tsp_pgb_json_check_filters(&rc->snap, TSP_PGB_SHOW_POOLS, "10.9.9.9:1", NULL, &err),
        TSP_NOT_FOUND);
    assert_string_equal(err.field, "instance");
    tsp_error_init(&err);
    assert_int_equal(
        tsp_pgb_json_check_filters(&rc->snap, TSP_PGB_SHOW_STATS, NULL, "nosuch", &err),
        TSP_NOT_FOUND);
    assert_string_equal(err.field, "database");
    tsp_error_init(&err);
    /* the only instance asked for is down: a database cannot be checked, rows are empty */
    assert_int_equal(
        tsp_pgb_json_check_filters(&rc->snap, TSP_PGB_SHOW_STATS, "10.0.0.3:6432", "nosuch", &err),
        TSP_OK);
    assert_int_equal(tsp_pgb_json_check_filters(&rc->snap, TSP_PGB_SHOW_CONFIG, NULL, "app", &err),
                     TSP_INVALID);
    tsp_pgb_snap_destroy(rc);
}

static void test_tsp_pgb_json_show_labels_rows(void **state)
{
    struct tsp_pgb_snap_rc *rc = fixture_snapshot();
    json_t *doc = NULL;
    json_t *rows = NULL;
    (void)state;

    doc = tsp_pgb_json_show(&rc->snap, TSP_PGB_SHOW_POOLS, NULL, "app");
    rows = json_object_get(doc, "rows");
    assert_int_equal(json_array_size(rows), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 2), "instance")),
                        "10.0.0.2:6432");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 0), "cl_waiting")), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "user")), "u1");
    assert_int_equal(json_array_size(json_object_get(doc, "instances")), 3);
    json_decref(doc);
    tsp_pgb_snap_destroy(rc);
}

static void test_tsp_pgb_json_command_body_cases(void **state)
{
    struct tsp_pgb_cmd_request req = {.cmd = TSP_PGB_CMD_PAUSE};
    struct tsp_error err;
    json_t *body = NULL;
    (void)state;

    tsp_error_init(&err);
    body = json_pack("{s:s, s:i}", "database", "app", "wait_ms", 1500);
    assert_int_equal(tsp_pgb_json_command_body(body, &req, &err), TSP_OK);
    assert_string_equal(req.database, "app");
    assert_int_equal(req.wait_ms, 1500);
    json_decref(body);
    req.cmd = TSP_PGB_CMD_RESUME;
    body = json_pack("{s:i}", "wait_ms", 1500);
    assert_int_equal(tsp_pgb_json_command_body(body, &req, &err), TSP_INVALID);
    assert_string_equal(err.field, "wait_ms");
    json_decref(body);
    tsp_error_init(&err);
    body = json_pack("{s:i}", "database", 7);
    assert_int_equal(tsp_pgb_json_command_body(body, &req, &err), TSP_INVALID);
    json_decref(body);
    tsp_error_init(&err);
    body = json_pack("{s:s}", "databse", "x");
    assert_int_equal(tsp_pgb_json_command_body(body, &req, &err), TSP_INVALID);
    assert_string_equal(err.field, "databse");
    json_decref(body);
}

static void test_tsp_pgb_json_command_status(void **state)
{
    struct tsp_pgb_cmd_request req = {.cmd = TSP_PGB_CMD_PAUSE};
    struct tsp_pgb_cmd_result res[2];
    int status = 0;
    json_t *doc = NULL;
    (void)state;

    memset(res, 0, sizeof(res));
    snprintf(res[0].address, sizeof(res[0].address), "a:1");
    snprintf(res[1].address, sizeof(res[1].address), "b:1");
    doc = tsp_pgb_json_command(&req, res, 2, &status);
    assert_int_equal(status, 200);
    assert_true(json_is_true(json_object_get(doc, "all_paused")));
    json_decref(doc);
    res[1].outcome = TSP_PGB_PAUSING;
    doc = tsp_pgb_json_command(&req, res, 2, &status);
    assert_int_equal(status, 202);
    json_decref(doc);
    res[0].outcome = TSP_PGB_UNREACHABLE;
    doc = tsp_pgb_json_command(&req, res, 2, &status);
    assert_int_equal(status, 207);
    assert_false(json_is_true(json_object_get(doc, "all_succeeded")));
    json_decref(doc);
}

/* Readers take snapshots while the refresher replaces them and commands run: the locking and
 * reference counting under ThreadSanitizer (make tsan). The one console is a loopback port
 * nothing listens on, so every refresh fails at once with "refused". */
static void *snapshot_reader(void *arg)
{
    struct tsp_pgb_fleet *fleet = arg;
    int64_t end = tsp_clock_mono_ms() + 300;

    while (tsp_clock_mono_ms() < end) {
        const struct tsp_pgb_snapshot *snap = tsp_pgb_snapshot_get(fleet);
        size_t up = 0;
        size_t total = 0;
        for (size_t i = 0; i < snap->ninstances; i++) {
            (void)strlen(snap->instances[i].error);
        }
        tsp_pgb_snapshot_release(snap);
        tsp_pgb_up_count(fleet, &up, &total);
    }
    return NULL;
}

static void test_tsp_pgb_fleet_concurrent_readers_and_refreshes(void **state)
{
    struct tsp_pgb_options opts = {.hosts = "127.0.0.1:1",
                                   .user = "pgbouncer",
                                   .password = "not-shown-anywhere-7",
                                   .connect_timeout_s = 1,
                                   .command_timeout_ms = 500,
                                   .refresh_ms = 50};
    struct tsp_pgb_fleet *fleet = NULL;
    struct tsp_pgb_cmd_request req = {.cmd = TSP_PGB_CMD_RESUME};
    struct tsp_pgb_cmd_result *res = NULL;
    size_t n = 0;
    pthread_t readers[3];
    struct tsp_error err;
    const struct tsp_pgb_snapshot *snap = NULL;
    (void)state;

    tsp_error_init(&err);
    assert_int_equal(tsp_pgb_fleet_new(&opts, &fleet, &err), TSP_OK);
    assert_true(tsp_pgb_fleet_enabled(fleet));
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pthread_create(&readers[i], NULL, snapshot_reader, fleet), 0);
    }
    for (int i = 0; i < 3; i++) {
        assert_true(tsp_pgb_refresh_now(fleet, 3000));
    }
    assert_int_equal(tsp_pgb_command(fleet, &req, &res, &n, &err), TSP_OK);
    assert_int_equal(n, 1);
    assert_int_equal(res[0].outcome, TSP_PGB_UNREACHABLE);
    assert_null(strstr(res[0].detail, "not-shown-anywhere-7"));
    free(res);
    for (int i = 0; i < 3; i++) {
        pthread_join(readers[i], NULL);
    }
    snap = tsp_pgb_snapshot_get(fleet);
    assert_int_equal(snap->ninstances, 1);
    assert_string_equal(snap->instances[0].address, "127.0.0.1:1");
    assert_int_equal(snap->instances[0].state, TSP_PGB_DOWN);
    assert_non_null(strstr(snap->instances[0].error, "refused"));
    tsp_pgb_snapshot_release(snap);
    req.instance = "10.0.0.9:6432";
    assert_int_equal(tsp_pgb_command(fleet, &req, &res, &n, &err), TSP_NOT_FOUND);
    assert_string_equal(err.field, "instance");
    tsp_pgb_fleet_free(fleet);
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsp_pgb_hosts_parse_cases),
        cmocka_unit_test(test_tsp_pgb_database_valid_cases),
        cmocka_unit_test(test_tsp_pgb_totals_compute_adds_instances_up),
        cmocka_unit_test(test_tsp_pgb_metrics_render_series_and_format),
        cmocka_unit_test(test_tsp_pgb_json_check_filters_cases),
        cmocka_unit_test(test_tsp_pgb_json_show_labels_rows),
        cmocka_unit_test(test_tsp_pgb_json_command_body_cases),
        cmocka_unit_test(test_tsp_pgb_json_command_status),
        cmocka_unit_test(test_tsp_pgb_fleet_concurrent_readers_and_refreshes),
    };
    return cmocka_run_group_tests_name("pgbouncer", tests, NULL, NULL);
}
