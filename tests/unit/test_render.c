/* test_render.c - unit tests of the struct -> JSON renderers: pool status, connection,
 * server view, ping, configuration (with secrets redacted).
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <stdlib.h>
#include <string.h>

#include "render.h"

static json_t *path(json_t *doc, const char *a, const char *b)
{
    return json_object_get(json_object_get(doc, a), b);
}

static void test_tsp_render_pool_status_fields(void **state)
{
    struct tsp_pool_stats s;
    json_t *doc = NULL;
    (void)state;

    memset(&s, 0, sizeof(s));
    s.mode = TSP_POOL_MODE_POOLED;
    s.size = 20;
    s.max_overflow = 10;
    s.timeout_ms = 30000;
    s.open = 5;
    s.idle = 3;
    s.in_use = 2;
    s.waiting = 1;
    s.borrows = 99;
    s.closes[TSP_CLOSE_RECYCLE] = 4;
    s.paused = true;
    s.uptime_s = 12.34567;
    doc = tsp_render_pool_status(&s);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "mode")), "pooled");
    assert_true(json_is_true(json_object_get(doc, "paused")));
    assert_int_equal(json_integer_value(path(doc, "config", "size")), 20);
    assert_int_equal(json_integer_value(path(doc, "config", "max_overflow")), 10);
    assert_int_equal(json_integer_value(path(doc, "config", "timeout_ms")), 30000);
    assert_int_equal(json_integer_value(path(doc, "gauges", "open")), 5);
    assert_int_equal(json_integer_value(path(doc, "gauges", "in_use")), 2);
    assert_int_equal(json_integer_value(path(doc, "gauges", "waiting")), 1);
    assert_int_equal(json_integer_value(path(doc, "gauges", "available")), 28);
    assert_int_equal(json_integer_value(path(doc, "counters", "borrows")), 99);
    assert_int_equal(json_integer_value(path(doc, "closes", "recycle")), 4);
    assert_int_equal(json_integer_value(path(doc, "closes", "shutdown")), 0);
    assert_non_null(path(doc, "acquire_wait", "p99_s"));
    assert_true(json_real_value(json_object_get(doc, "uptime_s")) == 12.346);
    json_decref(doc);
}

static void test_tsp_render_conn_fields(void **state)
{
    struct tsp_pool_conn_info c;
    json_t *doc = NULL;
    (void)state;

    memset(&c, 0, sizeof(c));
    c.id = 7;
    c.state = TSP_POOL_CONN_IN_USE;
    c.backend_pid = 4242;
    strcpy(c.holder, "ping");
    c.held_s = 1.5;
    doc = tsp_render_conn(&c);
    assert_int_equal(json_integer_value(json_object_get(doc, "id")), 7);
    assert_string_equal(json_string_value(json_object_get(doc, "state")), "in_use");
    assert_int_equal(json_integer_value(json_object_get(doc, "backend_pid")), 4242);
    assert_string_equal(json_string_value(json_object_get(doc, "holder")), "ping");
    assert_true(json_real_value(json_object_get(doc, "held_s")) == 1.5);
    json_decref(doc);
    c.state = TSP_POOL_CONN_IDLE;
    c.holder[0] = '\0';
    c.backend_pid = 0;
    doc = tsp_render_conn(&c);
    assert_true(json_is_null(json_object_get(doc, "holder")));
    assert_true(json_is_null(json_object_get(doc, "backend_pid")));
    json_decref(doc);
}

static void test_tsp_render_server_view_fields(void **state)
{
    struct tsp_dbinfo_server_view v;
    json_t *doc = NULL;
    (void)state;

    memset(&v, 0, sizeof(v));
    v.max_connections = 100;
    v.superuser_reserved_connections = 3;
    v.client_connections = 12;
    v.ours = 5;
    v.available = 85;
    v.headroom_at_full_pool = 60;
    v.nstates = 2;
    strcpy(v.by_state[0].name, "active");
    v.by_state[0].count = 1;
    strcpy(v.by_state[1].name, "idle");
    v.by_state[1].count = 11;
    v.napps = 1;
    strcpy(v.by_application[0].name, "tspool");
    v.by_application[0].count = 5;
    doc = tsp_render_server_view(&v);
    assert_int_equal(json_integer_value(json_object_get(doc, "max_connections")), 100);
    assert_int_equal(json_integer_value(json_object_get(doc, "headroom_at_full_pool")), 60);
    assert_int_equal(json_integer_value(path(doc, "by_state", "idle")), 11);
    assert_int_equal(json_integer_value(path(doc, "by_application", "tspool")), 5);
    json_decref(doc);
}

static void test_tsp_render_ping_fields(void **state)
{
    struct tsp_dbinfo_ping p;
    json_t *doc = NULL;
    (void)state;

    memset(&p, 0, sizeof(p));
    p.round_trip_ms = 0.12345;
    p.server_version_num = 150018;
    strcpy(p.server_version, "15.18");
    p.primary = true;
    doc = tsp_render_ping(&p);
    assert_true(json_is_true(json_object_get(doc, "ok")));
    assert_true(json_real_value(json_object_get(doc, "round_trip_ms")) == 0.123);
    assert_string_equal(json_string_value(json_object_get(doc, "server_version")), "15.18");
    assert_true(json_is_true(json_object_get(doc, "primary")));
    assert_true(json_is_null(json_object_get(doc, "timescaledb_version")));
    json_decref(doc);
}

static void test_tsp_render_config_redacts_secrets(void **state)
{
    struct tsp_config cfg;
    char pass[] = "hunter2";
    size_t n = tsp_config_var_count();
    size_t pass_row = n;
    json_t *doc = NULL;
    char *text = NULL;
    (void)state;

    memset(&cfg, 0, sizeof(cfg));
    cfg.db_pass = pass;
    cfg.origins = calloc(n, sizeof(*cfg.origins));
    assert_non_null(cfg.origins);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(tsp_config_var_at(i)->name, "DB_PASS") == 0) {
            pass_row = i;
        }
    }
    assert_true(pass_row < n);
    cfg.origins[pass_row].source = TSP_CONFIG_SRC_ENV;
    doc = tsp_render_config(&cfg);
    assert_non_null(doc);
    assert_int_equal(json_array_size(json_object_get(doc, "variables")), n);
    json_t *row = json_array_get(json_object_get(doc, "variables"), pass_row);
    assert_string_equal(json_string_value(json_object_get(row, "name")), "DB_PASS");
    assert_string_equal(json_string_value(json_object_get(row, "value")), "********");
    assert_string_equal(json_string_value(json_object_get(row, "source")), "environment");
    assert_true(json_is_true(json_object_get(row, "secret")));
    text = json_dumps(doc, 0);
    assert_null(strstr(text, "hunter2"));
    free(text);
    json_decref(doc);
    free(cfg.origins);
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsp_render_pool_status_fields),
        cmocka_unit_test(test_tsp_render_conn_fields),
        cmocka_unit_test(test_tsp_render_server_view_fields),
        cmocka_unit_test(test_tsp_render_ping_fields),
        cmocka_unit_test(test_tsp_render_config_redacts_secrets),
    };
    return cmocka_run_group_tests_name("render", tests, NULL, NULL);
}
