/* test_ts_watch.c - watching TimescaleDB through the built tspool binary on a server with the
 * job scheduler (native PostgreSQL 15 + TimescaleDB 2.28 of scripts/tsdb-native.sh, or
 * TSPOOL_TEST_TSDB_DSN): a job that fails under the scheduler in /metrics and in its history,
 * tspool's own run_job outcomes, compression figures against hypertable_compression_stats,
 * aggregate lag, the worker-budget warning, and a snapshot blocked by a lock mid-query.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_client.h"
#include "service_harness.h"
#include "tspool/clock.h"
#include "tspool/timescale.h"

#define ADMIN "watch-admin-token"
#define HT    "tsp_watch_metrics"
#define AGG   "tsp_watch_daily"
#define PROC  "tsp_watch_fail"
/* how long a blocked refresh may take to fail: its deadline plus a few refresh periods */
#define TSP_TEST_SNAPSHOT_WAIT_MS (TSP_TS_SNAPSHOT_DEADLINE_MS + TSP_TS_SNAPSHOT_BORROW_MS + 5000)

static struct tsp_test_service *svc;
static PGconn *db;
static long long fail_job;
static char env_buf[6][300];

static const char *url(const char *path)
{
    static char buf[600];
    snprintf(buf, sizeof(buf), "%s%s", tsp_test_service_url(svc), path);
    return buf;
}

static struct tsp_test_reply *admin(const char *method, const char *path)
{
    const char *const headers[] = {"Authorization: Bearer " ADMIN, "X-Request-Id: it-watch-run",
                                   NULL};
    return tsp_test_http(method, url(path), headers, NULL);
}

/* First value of a statement on the test's own connection, "" for none (malloc'd). */
static char *sql(const char *text)
{
    PGresult *res = PQexec(db, text);
    char *out = NULL;
    ExecStatusType st = PQresultStatus(res);

    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        fail_msg("%s: %s", text, PQerrorMessage(db));
    }
    out = strdup(st == PGRES_TUPLES_OK && PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
    assert_non_null(out);
    return out;
}

static void exec_sql(const char *text)
{
    free(sql(text));
}

static long long sql_int(const char *text)
{
    char *v = sql(text);
    long long n = atoll(v);
    free(v);
    return n;
}

/* The native server's DSN (the harness starts it when needed), TSPOOL_TEST_TSDB_DSN, or NULL
 * after the harness printed why the suite skips (no TimescaleDB source tarball here). */
static const char *server_dsn(void)
{
    const char *dsn = NULL;

    tsp_test_tsdb_prefer_native();
    if (!tsp_test_tsdb_available()) {
        return NULL;
    }
    dsn = tsp_test_tsdb_dsn();
    if (dsn == NULL) {
        fail_msg("the native TimescaleDB server did not start (scripts/tsdb-native.sh start)");
    }
    return dsn;
}

/* DB_* for a libpq DSN, into env (NULL-terminated). */
static int dsn_env(const char *dsn, const char **env)
{
    static const char *const keys[5] = {"host", "port", "dbname", "user", "password"};
    static const char *const names[5] = {"DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASS"};
    PQconninfoOption *opts = PQconninfoParse(dsn, NULL);
    int n = 0;

    assert_non_null(opts);
    for (int i = 0; i < 5; i++) {
        for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
            if (strcmp(o->keyword, keys[i]) == 0 && o->val != NULL && o->val[0] != '\0') {
                snprintf(env_buf[n], sizeof(env_buf[n]), "%s=%s", names[i], o->val);
                env[n] = env_buf[n];
                n++;
            }
        }
    }
    PQconninfoFree(opts);
    return n;
}

static void drop_objects(void)
{
    exec_sql("SELECT delete_job(job_id) FROM timescaledb_information.jobs "
             "WHERE proc_name IN ('" PROC "', 'tsp_watch_idle') "
             "OR hypertable_name IN ('" HT "', '" AGG "')");
    exec_sql("DROP MATERIALIZED VIEW IF EXISTS " AGG " CASCADE");
    exec_sql("DROP TABLE IF EXISTS " HT " CASCADE");
}

static int setup(void **state)
{
    const char *env[16];
    const char *dsn = server_dsn();
    char *id = NULL;
    int n = 0;

    *state = NULL;
    if (dsn == NULL) {
        return 0;
    }
    db = PQconnectdb(dsn);
    if (PQstatus(db) != CONNECTION_OK) {
        fail_msg("cannot connect to %s: %s", dsn, PQerrorMessage(db));
    }
    exec_sql("SET client_min_messages = warning");
    exec_sql("CREATE EXTENSION IF NOT EXISTS timescaledb");
    drop_objects();
    /* ten days of data ending three days ago: daily chunks, the oldest five compressed */
    exec_sql("CREATE TABLE " HT " (ts timestamptz NOT NULL, device integer, value float8)");
    exec_sql("SELECT create_hypertable('" HT "', by_range('ts', INTERVAL '1 day'))");
    exec_sql("INSERT INTO " HT " SELECT t, (extract(epoch FROM t)::bigint / 60) % 4, random() "
             "FROM generate_series(date_trunc('day', now()) - INTERVAL '10 days', "
             "date_trunc('day', now()) - INTERVAL '3 days' - INTERVAL '1 minute', "
             "INTERVAL '1 minute') t");
    exec_sql("ALTER TABLE " HT " SET (timescaledb.compress, timescaledb.compress_segmentby = "
             "'device')");
    exec_sql("SELECT count(compress_chunk(c)) FROM show_chunks('" HT "', older_than => "
             "now() - INTERVAL '6 days') c");
    /* a policy that would compress after two days, not run before tomorrow: the chunks
     * between two and six days old are overdue */
    exec_sql("SELECT add_compression_policy('" HT "', INTERVAL '2 days', initial_start => now() "
             "+ INTERVAL '1 day')");
    exec_sql("CREATE MATERIALIZED VIEW " AGG " WITH (timescaledb.continuous) AS SELECT "
             "time_bucket('1 day', ts) AS day, avg(value) FROM " HT " GROUP BY 1 WITH DATA");
    /* a job that raises, run by the scheduler every second */
    exec_sql("CREATE OR REPLACE PROCEDURE " PROC "(job_id integer, config jsonb) LANGUAGE plpgsql "
             "AS $$ BEGIN RAISE EXCEPTION 'tsp_watch job % fails on purpose', job_id; END $$");
    id = sql("SELECT add_job('" PROC "', INTERVAL '1 second', initial_start => now())");
    fail_job = atoll(id);
    free(id);
    exec_sql("SELECT alter_job(job_id, retry_period => INTERVAL '1 second', max_retries => -1) "
             "FROM timescaledb_information.jobs WHERE proc_name = '" PROC "'");

    n = dsn_env(dsn, env);
    env[n++] = "TSPOOL_ADMIN_TOKEN=" ADMIN;
    env[n++] = "TSPOOL_TIMESCALEDB_REFRESH_MS=300";
    env[n++] = "DB_MAX_CONNS=4";
    env[n] = NULL;
    svc = tsp_test_service_start(env);
    if (svc == NULL) {
        return -1;
    }
    *state = svc;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tsp_test_service_stop(svc);
    svc = NULL;
    if (db != NULL) {
        if (PQstatus(db) == CONNECTION_OK) {
            drop_objects();
        }
        PQfinish(db);
        db = NULL;
    }
    return 0;
}

static void need_server(void **state)
{
    if (*state == NULL) {
        skip();
    }
}

/* The value of the sample `series` (name{labels} exactly as rendered) in a fresh scrape, or
 * -1 when absent. */
static double metric(const char *series)
{
    struct tsp_test_reply *r = tsp_test_get(url("/metrics"), NULL);
    char *line = NULL;
    double v = -1.0;
    size_t len = strlen(series);

    assert_int_equal(r->status, 200);
    for (line = r->body; line != NULL && *line != '\0';) {
        char *end = strchr(line, '\n');
        if (strncmp(line, series, len) == 0 && line[len] == ' ') {
            v = strtod(line + len + 1, NULL);
            break;
        }
        line = end != NULL ? end + 1 : NULL;
    }
    tsp_test_reply_free(r);
    return v;
}

/* Wait up to timeout_ms until metric(series) >= at_least; returns the last value. */
static double wait_metric(const char *series, double at_least, long timeout_ms)
{
    int64_t deadline = tsp_clock_mono_ms() + timeout_ms;
    double v = metric(series);

    while (v < at_least && tsp_clock_mono_ms() < deadline) {
        tsp_test_sleep_ms(200);
        v = metric(series);
    }
    return v;
}

static void job_series(char *out, size_t size, const char *family)
{
    snprintf(out, size, "tspool_timescaledb_%s{job_id=\"%lld\",proc=\"" PROC "\",hypertable=\"\"}",
             family, fail_job);
}

static void test_watch_failing_job_counts_in_metrics(void **state)
{
    char series[256];
    double consecutive;
    double failures;

    need_server(state);
    job_series(series, sizeof(series), "job_consecutive_failures");
    consecutive = wait_metric(series, 3, 30000);
    assert_true(consecutive >= 3);
    job_series(series, sizeof(series), "job_failures_total");
    failures = metric(series);
    assert_true(failures >= consecutive);
    job_series(series, sizeof(series), "job_last_run_success");
    assert_true(metric(series) == 0.0);
    /* the snapshot is at most a refresh behind the server's own counters */
    assert_true(sql_int("SELECT total_failures FROM timescaledb_information.job_stats "
                        "WHERE job_id = (SELECT job_id FROM timescaledb_information.jobs "
                        "WHERE proc_name = '" PROC "')") >= (long long)failures);
    assert_true(metric("tspool_timescaledb_snapshot_success") == 1.0);
}

/* The run of `runs` whose member key equals value, or NULL. */
static json_t *find_run(json_t *runs, const char *key, const char *value)
{
    for (size_t i = 0; i < json_array_size(runs); i++) {
        json_t *run = json_array_get(runs, i);
        const char *v = json_string_value(json_object_get(run, key));
        if (v != NULL && strcmp(v, value) == 0) {
            return run;
        }
    }
    return NULL;
}

static void test_watch_history_lists_the_error(void **state)
{
    char path[128];
    struct tsp_test_reply *r = NULL;
    json_t *run = NULL;
    char series[256];

    need_server(state);
    job_series(series, sizeof(series), "job_failures_total");
    assert_true(wait_metric(series, 1, 30000) >= 1);
    snprintf(path, sizeof(path), "/jobs/%lld/history", fail_job);
    r = tsp_test_get(url(path), NULL);
    assert_int_equal(r->status, 200);
    run = find_run(json_object_get(r->json, "runs"), "source", "server");
    assert_non_null(run);
    assert_string_equal(json_string_value(json_object_get(run, "outcome")), "failure");
    assert_string_equal(json_string_value(json_object_get(run, "sqlstate")), "P0001");
    assert_non_null(strstr(json_string_value(json_object_get(run, "error")), "fails on purpose"));
    assert_int_equal(json_integer_value(json_object_get(run, "job_id")), fail_job);
    tsp_test_reply_free(r);

    r = tsp_test_get(url("/jobs/errors?since=1%20hour"), NULL);
    assert_int_equal(r->status, 200);
    run = find_run(json_object_get(r->json, "runs"), "proc_name", PROC);
    assert_non_null(run);
    assert_string_equal(json_string_value(json_object_get(run, "outcome")), "failure");
    tsp_test_reply_free(r);

    /* nothing failed in the future */
    r = tsp_test_get(url("/jobs/errors?since=2999-01-01T00:00:00Z"), NULL);
    assert_int_equal(r->status, 200);
    assert_int_equal(json_array_size(json_object_get(r->json, "runs")), 0);
    tsp_test_reply_free(r);

    r = tsp_test_get(url("/jobs/errors?since=banana"), NULL);
    assert_int_equal(r->status, 400);
    assert_string_equal(tsp_test_json_str(r, "field"), "since");
    tsp_test_reply_free(r);
    r = tsp_test_get(url("/jobs/errors?since=12"), NULL);
    assert_int_equal(r->status, 400);
    assert_string_equal(tsp_test_json_str(r, "field"), "since");
    tsp_test_reply_free(r);
    r = tsp_test_get(url("/jobs/2147483000/history"), NULL);
    assert_int_equal(r->status, 404);
    tsp_test_reply_free(r);
    r = tsp_test_get(url("/jobs/abc/history"), NULL);
    assert_int_equal(r->status, 400);
    assert_string_equal(tsp_test_json_str(r, "field"), "id");
    tsp_test_reply_free(r);
}

static void test_watch_run_job_outcome_recorded(void **state)
{
    char path[128];
    struct tsp_test_reply *r = NULL;
    json_t *run = NULL;

    need_server(state);
    snprintf(path, sizeof(path), "/jobs/%lld/run", fail_job);
    r = admin("POST", path);
    assert_true(r->status >= 400);
    tsp_test_reply_free(r);
    snprintf(path, sizeof(path), "/jobs/%lld/history", fail_job);
    r = tsp_test_get(url(path), NULL);
    assert_int_equal(r->status, 200);
    run = find_run(json_object_get(r->json, "runs"), "request_id", "it-watch-run");
    assert_non_null(run);
    assert_string_equal(json_string_value(json_object_get(run, "source")), "tspool");
    assert_string_equal(json_string_value(json_object_get(run, "outcome")), "failure");
    assert_non_null(strstr(json_string_value(json_object_get(run, "error")), "fails on purpose"));
    assert_true(json_integer_value(json_object_get(run, "duration_ms")) >= 0);
    tsp_test_reply_free(r);
    r = tsp_test_get(url("/jobs/errors"), NULL);
    assert_int_equal(r->status, 200);
    assert_non_null(find_run(json_object_get(r->json, "runs"), "request_id", "it-watch-run"));
    tsp_test_reply_free(r);
}

static void test_watch_compression_figures_agree(void **state)
{
    char *before = NULL;
    char *after = NULL;
    char *overdue = NULL;
    int64_t deadline = 0;
    double b = -1;
    double a = -1;
    double o = -1;

    need_server(state);
    before =
        sql("SELECT before_compression_total_bytes FROM hypertable_compression_stats('" HT "')");
    after = sql("SELECT after_compression_total_bytes FROM hypertable_compression_stats('" HT "')");
    overdue = sql("SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = '" HT
                  "' AND NOT is_compressed AND range_end < now() - INTERVAL '2 days'");
    assert_true(atoll(before) > 0 && atoll(after) > 0);
    assert_true(atoll(overdue) >= 3);
    /* the next snapshot (300 ms) shows exactly the server's figures */
    deadline = tsp_clock_mono_ms() + 10000;
    do {
        b = metric("tspool_timescaledb_hypertable_before_compression_bytes{hypertable=\"public." HT
                   "\"}");
        a = metric("tspool_timescaledb_hypertable_after_compression_bytes{hypertable=\"public." HT
                   "\"}");
        o = metric(
            "tspool_timescaledb_hypertable_uncompressed_overdue_chunks{hypertable=\"public." HT
            "\"}");
        if (b == (double)atoll(before) && a == (double)atoll(after) &&
            o == (double)atoll(overdue)) {
            break;
        }
        tsp_test_sleep_ms(200);
    } while (tsp_clock_mono_ms() < deadline);
    assert_true(b == (double)atoll(before));
    assert_true(a == (double)atoll(after));
    assert_true(o == (double)atoll(overdue));
    assert_true(metric("tspool_timescaledb_hypertable_chunks{hypertable=\"public." HT "\"}") ==
                7.0);
    assert_true(metric("tspool_timescaledb_hypertable_compressed_chunks{hypertable=\"public." HT
                       "\"}") == 4.0);
    free(before);
    free(after);
    free(overdue);
}

static void test_watch_aggregate_lag(void **state)
{
    double lag;

    need_server(state);
    /* materialised up to three days ago */
    lag = wait_metric("tspool_timescaledb_continuous_aggregate_watermark_lag_seconds{aggregate="
                      "\"public." AGG "\"}",
                      0, 10000);
    assert_true(lag >= 3 * 86400.0 - 60.0);
    assert_true(lag <= 4 * 86400.0);
}

static void test_watch_worker_budget_warning(void **state)
{
    struct tsp_test_reply *r = NULL;
    json_t *w = NULL;
    long long workers = sql_int("SELECT current_setting('timescaledb.max_background_workers')");
    long long scheduled = sql_int("SELECT count(*) FROM timescaledb_information.jobs "
                                  "WHERE scheduled");
    char stmt[300];

    need_server(state);
    r = tsp_test_get(url("/timescaledb"), NULL);
    assert_int_equal(r->status, 200);
    w = json_object_get(r->json, "background_workers");
    assert_int_equal(json_integer_value(json_object_get(w, "max_background_workers")), workers);
    assert_int_equal(json_integer_value(json_object_get(w, "jobs_scheduled")), scheduled);
    assert_int_equal(json_array_size(json_object_get(r->json, "warnings")), 0);
    tsp_test_reply_free(r);
    /* more scheduled jobs than workers (idle ones that start tomorrow) */
    exec_sql("CREATE OR REPLACE PROCEDURE tsp_watch_idle(job_id integer, config jsonb) "
             "LANGUAGE plpgsql AS $$ BEGIN NULL; END $$");
    snprintf(stmt, sizeof(stmt),
             "SELECT count(add_job('tsp_watch_idle', INTERVAL '1 day', initial_start => now() + "
             "INTERVAL '1 day')) FROM generate_series(1, %lld)",
             workers);
    exec_sql(stmt);
    r = tsp_test_get(url("/timescaledb"), NULL);
    assert_int_equal(r->status, 200);
    assert_int_equal(json_array_size(json_object_get(r->json, "warnings")), 1);
    assert_non_null(
        strstr(json_string_value(json_array_get(json_object_get(r->json, "warnings"), 0)),
               "timescaledb.max_background_workers"));
    tsp_test_reply_free(r);
    assert_true(wait_metric("tspool_timescaledb_jobs_scheduled", (double)(scheduled + workers),
                            10000) >= (double)(scheduled + workers));
    assert_true(metric("tspool_timescaledb_background_workers_max") == (double)workers);
    exec_sql("SELECT delete_job(job_id) FROM timescaledb_information.jobs "
             "WHERE proc_name = 'tsp_watch_idle'");
}

/* A lock held on a catalog table the snapshot reads: the refresh waits inside its query until
 * its deadline, fails, and the scrapes meanwhile answer at once from the last good snapshot. */
static void test_watch_snapshot_deadline_under_lock(void **state)
{
    double failures;
    int64_t t0;
    int64_t deadline;
    struct tsp_test_reply *r = NULL;

    need_server(state);
    failures = metric("tspool_timescaledb_snapshot_failures_total");
    assert_true(failures >= 0);
    exec_sql("BEGIN");
    exec_sql("LOCK TABLE _timescaledb_catalog.compression_chunk_size IN ACCESS EXCLUSIVE MODE");
    deadline = tsp_clock_mono_ms() + TSP_TEST_SNAPSHOT_WAIT_MS;
    while (metric("tspool_timescaledb_snapshot_failures_total") <= failures &&
           tsp_clock_mono_ms() < deadline) {
        t0 = tsp_clock_mono_ms();
        r = tsp_test_get(url("/metrics"), NULL);
        assert_int_equal(r->status, 200);
        /* a scrape never waits for the database */
        assert_true(tsp_clock_mono_ms() - t0 < 1000);
        assert_non_null(strstr(r->body, "tspool_timescaledb_hypertable_chunks{"));
        tsp_test_reply_free(r);
        tsp_test_sleep_ms(250);
    }
    assert_true(metric("tspool_timescaledb_snapshot_failures_total") > failures);
    assert_true(metric("tspool_timescaledb_snapshot_success") == 0.0);
    r = tsp_test_get(url("/livez"), NULL);
    assert_int_equal(r->status, 200);
    tsp_test_reply_free(r);
    exec_sql("ROLLBACK");
    assert_true(wait_metric("tspool_timescaledb_snapshot_success", 1, 10000) == 1.0);
}

static void test_watch_metrics_pass_promtool(void **state)
{
    struct tsp_test_reply *r = NULL;
    FILE *p = NULL;

    need_server(state);
    r = tsp_test_get(url("/metrics"), NULL);
    assert_int_equal(r->status, 200);
    /* the scrape on promtool's standard input */
    p = popen("promtool check metrics", "w");
    assert_non_null(p);
    assert_int_equal(fwrite(r->body, 1, r->body_len, p), r->body_len);
    assert_int_equal(pclose(p), 0);
    tsp_test_reply_free(r);
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_watch_failing_job_counts_in_metrics),
        cmocka_unit_test(test_watch_history_lists_the_error),
        cmocka_unit_test(test_watch_run_job_outcome_recorded),
        cmocka_unit_test(test_watch_compression_figures_agree),
        cmocka_unit_test(test_watch_aggregate_lag),
        cmocka_unit_test(test_watch_worker_budget_warning),
        cmocka_unit_test(test_watch_snapshot_deadline_under_lock),
        cmocka_unit_test(test_watch_metrics_pass_promtool),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
