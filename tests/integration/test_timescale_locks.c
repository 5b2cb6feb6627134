/* test_timescale_locks.c - TimescaleDB changes during a brownout, against the native
 * PostgreSQL 15 + TimescaleDB 2.28 server (scripts/tsdb-native.sh): a change blocked by a
 * reporting transaction answers 409 LOCK_NOT_AVAILABLE naming it, while the application's own
 * reads wait at most TSPOOL_LOCK_TIMEOUT_MS; a policy replacement whose new policy cannot be
 * added keeps the old one (columnstore and classic procedure names).
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_client.h"
#include "service_harness.h"
#include "timescale_int.h"
#include "tspool/clock.h"
#include "tspool/log.h"
#include "tspool/timescale.h"

#define HT          "tsp_bo_metrics"
#define ADMIN_TOKEN "locks-admin-token-0123456789"
#define LOCK_MS     1500

static char dsn[512];
static PGconn *report_conn; /* closed by the teardown even when an assertion failed */
static PGconn *app_conn;
static struct tsp_test_service *locks_svc;
static char env_host[160], env_port[160], env_pass[160], env_name[160];

/* The native server (or TSPOOL_TEST_TSDB_DSN) through the test harness: several sessions and
 * real locks, which PGlite (one connection at a time) cannot give. False (skip) only when it
 * cannot be had here (no source tarball). */
static bool native_start(void)
{
    tsp_test_tsdb_prefer_native();
    if (!tsp_test_tsdb_available()) {
        return false;
    }
    snprintf(dsn, sizeof(dsn), "%s", tsp_test_tsdb_dsn());
    return dsn[0] != '\0';
}

static PGconn *connect_as(const char *application)
{
    char conninfo[700];
    PGconn *conn = NULL;

    snprintf(conninfo, sizeof(conninfo), "%s application_name=%s", dsn, application);
    conn = PQconnectdb(conninfo);
    assert_int_equal(PQstatus(conn), CONNECTION_OK);
    /* never wait forever behind a session a failed test left open */
    PQclear(PQexec(conn, "SET lock_timeout = '20s'"));
    return conn;
}

static char *sql1(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    char *out = NULL;
    ExecStatusType st = PQresultStatus(res);

    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        fprintf(stderr, "%s: %s", sql, PQresultErrorMessage(res));
        fail();
    }
    out = strdup(st == PGRES_TUPLES_OK && PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
    return out;
}

static void exec_ok(PGconn *conn, const char *sql)
{
    free(sql1(conn, sql));
}

/* conninfo value of key in dsn */
static void dsn_value(const char *key, char *out, size_t size)
{
    PQconninfoOption *opts = PQconninfoParse(dsn, NULL);

    out[0] = '\0';
    for (PQconninfoOption *o = opts; o != NULL && o->keyword != NULL; o++) {
        if (strcmp(o->keyword, key) == 0 && o->val != NULL) {
            snprintf(out, size, "%s", o->val);
        }
    }
    PQconninfoFree(opts);
}

static int setup(void **state)
{
    PGconn *conn = NULL;
    char v[128];
    (void)state;

    if (!native_start()) {
        return -1;
    }
    conn = connect_as("tsp_bo_setup");
    exec_ok(conn, "CREATE EXTENSION IF NOT EXISTS timescaledb");
    exec_ok(conn, "DROP TABLE IF EXISTS " HT " CASCADE");
    exec_ok(conn, "CREATE TABLE " HT " (ts timestamptz NOT NULL, device int, value float8)");
    exec_ok(conn, "SELECT create_hypertable('" HT "', 'ts', chunk_time_interval => "
                  "interval '1 day')");
    exec_ok(conn, "INSERT INTO " HT " SELECT now() - i * interval '1 hour', i % 5, i "
                  "FROM generate_series(1, 200) i");
    PQfinish(conn);
    dsn_value("host", v, sizeof(v));
    snprintf(env_host, sizeof(env_host), "DB_HOST=%s", v);
    dsn_value("port", v, sizeof(v));
    snprintf(env_port, sizeof(env_port), "DB_PORT=%s", v);
    dsn_value("password", v, sizeof(v));
    snprintf(env_pass, sizeof(env_pass), "DB_PASS=%s", v);
    dsn_value("dbname", v, sizeof(v));
    snprintf(env_name, sizeof(env_name), "DB_NAME=%s", v);
    return 0;
}

struct put_call {
    const char *url;
    const char *body;
    struct tsp_test_reply *reply;
    long ms;
};

static void *put_thread(void *arg)
{
    static const char *const headers[] = {"Authorization: Bearer " ADMIN_TOKEN,
                                          "Content-Type: application/json", NULL};
    struct put_call *c = arg;
    int64_t t0 = tsp_clock_mono_ms();

    c->reply = tsp_test_http_try("PUT", c->url, headers, c->body, 60000);
    c->ms = (long)(tsp_clock_mono_ms() - t0);
    return NULL;
}

/* Issue 2: a report holds ACCESS SHARE on the hypertable; PUT .../compression queues its
 * ALTER TABLE behind it. The application's reads (queued behind tspool) wait at most the lock
 * timeout, and the PUT answers 409 LOCK_NOT_AVAILABLE naming the report's session. */
static void test_change_blocked_by_report_answers_409(void **state)
{
    const char *env[] = {env_host,
                         env_port,
                         env_pass,
                         env_name,
                         "TSPOOL_ADMIN_TOKEN=" ADMIN_TOKEN,
                         "TSPOOL_LOCK_TIMEOUT_MS=1500",
                         "DB_MIN_CONNS=1",
                         NULL};
    struct tsp_test_service *svc = NULL;
    PGconn *report = NULL;
    PGconn *app = NULL;
    struct put_call call;
    pthread_t tid;
    char url[256];
    char retry[16];
    char *report_pid = NULL;
    char *waiting = NULL;
    int64_t t0 = 0;
    long app_ms = 0;
    json_t *pid = NULL;
    (void)state;

    svc = tsp_test_service_start(env);
    locks_svc = svc;
    snprintf(url, sizeof(url), "%s/hypertables/" HT "/compression", tsp_test_service_url(svc));
    report = connect_as("report");
    report_conn = report;
    report_pid = sql1(report, "SELECT pg_backend_pid()");
    exec_ok(report, "BEGIN");
    exec_ok(report, "SELECT count(*) FROM " HT);

    call = (struct put_call){.url = url, .body = "{\"segment_by\": [\"device\"]}"};
    assert_int_equal(pthread_create(&tid, NULL, put_thread, &call), 0);
    /* tspool's ALTER TABLE is queued behind the report (for the lock timeout: poll often). Its
     * own TimescaleDB snapshot for /metrics may queue behind it too: one or more */
    for (int i = 0; i < 1000; i++) {
        free(waiting);
        waiting =
            sql1(report, "SELECT (count(*) > 0)::text FROM pg_stat_activity WHERE "
                         "application_name = '" TSP_TEST_APP_NAME "' AND wait_event_type = 'Lock'");
        if (strcmp(waiting, "true") == 0) {
            break;
        }
        tsp_test_sleep_ms(20);
    }
    if (strcmp(waiting, "true") != 0) {
        pthread_join(tid, NULL);
        fprintf(stderr, "the change never waited; it answered %ld: %s\n",
                call.reply != NULL ? call.reply->status : 0L,
                call.reply != NULL ? call.reply->body : "(nothing)");
        tsp_test_reply_free(call.reply);
    }
    assert_string_equal(waiting, "true");
    /* ...and the application's read queued behind tspool waits at most the lock timeout */
    app = connect_as("app");
    app_conn = app;
    t0 = tsp_clock_mono_ms();
    free(sql1(app, "SELECT count(*) FROM " HT));
    app_ms = (long)(tsp_clock_mono_ms() - t0);
    pthread_join(tid, NULL);
    printf("report holds ACCESS SHARE: PUT answered %ld after %ld ms, the application's read "
           "took %ld ms (lock timeout %d ms)\n",
           call.reply != NULL ? call.reply->status : 0L, call.ms, app_ms, LOCK_MS);
    assert_non_null(call.reply);
    printf("%s\n", call.reply->body);
    assert_true(app_ms < LOCK_MS + 1500); /* before: until the report ended */
    assert_int_equal(call.reply->status, 409);
    assert_true(call.ms < LOCK_MS + 3000);
    assert_string_equal(tsp_test_json_str(call.reply, "code"), "LOCK_NOT_AVAILABLE");
    assert_string_equal(tsp_test_json_str(call.reply, "blocking_application"), "report");
    pid = json_object_get(call.reply->json, "blocking_pid");
    assert_int_equal(json_integer_value(pid), atol(report_pid));
    assert_true(tsp_test_reply_header(call.reply, "Retry-After", retry, sizeof(retry)));
    assert_true(atoi(retry) >= 1);
    assert_non_null(strstr(tsp_test_json_str(call.reply, "detail"), "report"));
    tsp_test_reply_free(call.reply);

    /* the report ends: the same change goes through */
    exec_ok(report, "COMMIT");
    call = (struct put_call){.url = url, .body = "{\"segment_by\": [\"device\"]}"};
    put_thread(&call);
    assert_non_null(call.reply);
    assert_int_equal(call.reply->status, 200);
    tsp_test_reply_free(call.reply);
    /* tspool's sessions are back to the server's lock_timeout */
    free(waiting);
    free(report_pid);
}

static int teardown_sessions(void **state)
{
    (void)state;
    PQfinish(app_conn);
    PQfinish(report_conn);
    app_conn = NULL;
    report_conn = NULL;
    tsp_test_service_stop(locks_svc);
    locks_svc = NULL;
    return 0;
}

struct fixture {
    struct tsp_config cfg;
    char host[64], port[16], name[64], user[64], pass[128];
    struct tsp_connector connector;
    struct tsp_pool *pool;
    struct tsp_ts *ts;
};

static void fixture_open(struct fixture *fx)
{
    struct tsp_pool_options opts;
    struct tsp_error err;

    memset(fx, 0, sizeof(*fx));
    dsn_value("host", fx->host, sizeof(fx->host));
    dsn_value("port", fx->port, sizeof(fx->port));
    dsn_value("dbname", fx->name, sizeof(fx->name));
    dsn_value("user", fx->user, sizeof(fx->user));
    dsn_value("password", fx->pass, sizeof(fx->pass));
    fx->cfg.db_host = fx->host;
    fx->cfg.db_port = fx->port;
    fx->cfg.db_name = fx->name;
    fx->cfg.db_user = fx->user;
    fx->cfg.db_pass = fx->pass;
    fx->cfg.db_sslmode = (char *)(uintptr_t) "disable";
    fx->cfg.db_connect_timeout_s = 10;
    fx->cfg.db_statement_timeout_ms = -1;
    fx->cfg.db_application_name = (char *)(uintptr_t) "tspool_test_locks";
    fx->cfg.db_target_session_attrs = (char *)(uintptr_t) "any";
    memset(&opts, 0, sizeof(opts));
    opts.mode = TSP_POOL_MODE_POOLED;
    opts.size = 2;
    opts.timeout_ms = 30000;
    opts.preping_idle_ms = 60000;
    opts.health_interval_ms = -1;
    opts.maintenance_interval_ms = 250;
    tsp_error_init(&err);
    assert_int_equal(tsp_pool_pg_connector(&fx->cfg, &fx->connector, &err), TSP_OK);
    assert_int_equal(tsp_pool_new(&opts, &fx->connector, &fx->pool, &err), TSP_OK);
    assert_int_equal(tsp_ts_new(fx->pool, &fx->ts, &err), TSP_OK);
}

static void fixture_close(struct fixture *fx)
{
    tsp_ts_free(fx->ts);
    tsp_pool_free(fx->pool);
}

/* Issue 7: PUT .../compression-policy removes the old policy and adds the new one; on the
 * 2.18+ columnstore procedures these are two commits. When the add fails (compress_after of
 * the wrong type passes the value check but not add_*_policy), the old policy stays. */
static void test_policy_replace_keeps_old_on_failure(void **state)
{
    struct fixture fx;
    struct tsp_ts_change change;
    struct tsp_ts_policy policy;
    struct tsp_error err;
    PGconn *conn = NULL;
    static const int apis[] = {1, 0}; /* columnstore, then the classic names */
    (void)state;

    conn = connect_as("tsp_bo_setup");
    exec_ok(conn, "ALTER TABLE " HT " SET (timescaledb.compress, "
                  "timescaledb.compress_segmentby = 'device')");
    PQfinish(conn);
    fixture_open(&fx);
    for (size_t a = 0; a < sizeof(apis) / sizeof(apis[0]); a++) {
        tsp_ts_caps_override_api(fx.ts, apis[a]);
        memset(&change, 0, sizeof(change));
        tsp_error_init(&err);
        assert_int_equal(tsp_ts_policy_put(fx.ts, NULL, HT, TSP_TS_POLICY_COMPRESSION, "7 days",
                                           "12 hours", &change, &err),
                         TSP_OK);
        tsp_ts_change_fini(&change);
        /* "10" is an integer: fine for the value check, refused for a timestamptz column */
        tsp_error_init(&err);
        assert_int_not_equal(tsp_ts_policy_put(fx.ts, NULL, HT, TSP_TS_POLICY_COMPRESSION, "10",
                                               "1 hour", &change, &err),
                             TSP_OK);
        tsp_ts_change_fini(&change);
        printf("%s names: the failed replacement said: %s\n", apis[a] ? "columnstore" : "classic",
               err.detail);
        tsp_error_init(&err);
        memset(&policy, 0, sizeof(policy));
        assert_int_equal(
            tsp_ts_policy_get(fx.ts, NULL, HT, TSP_TS_POLICY_COMPRESSION, &policy, &err),
            TSP_OK); /* before: 404, the hypertable had no policy left */
        assert_string_equal(policy.after, "7 days");
        tsp_error_init(&err);
        memset(&change, 0, sizeof(change));
        assert_int_equal(
            tsp_ts_policy_delete(fx.ts, NULL, HT, TSP_TS_POLICY_COMPRESSION, &change, &err),
            TSP_OK);
        tsp_ts_change_fini(&change);
    }
    fixture_close(&fx);
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_change_blocked_by_report_answers_409, teardown_sessions),
        cmocka_unit_test(test_policy_replace_keeps_old_on_failure),
    };
    return cmocka_run_group_tests_name("timescale_locks", tests, setup, NULL);
}
