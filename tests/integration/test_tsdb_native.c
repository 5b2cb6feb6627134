/* test_tsdb_native.c - what only a real TimescaleDB shows, through the built tspool binary on
 * the native PostgreSQL 15 + TimescaleDB 2.28 test server (or TSPOOL_TEST_TSDB_DSN): policies
 * run by the job scheduler, the retention policy dropping chunks, and sessions contending for a
 * hypertable's lock (waiting, and cut off by statement_timeout and lock_timeout).
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_client.h"
#include "service_harness.h"
#include "tspool/clock.h"

#define ADMIN "native-admin-token"
#define HT    "tsp_native_metrics"
/* how long the scheduler gets to start and finish a job that is due */
#define SCHEDULER_WAIT_MS 15000

static struct tsp_test_service *svc;
/* the test's own session holding the hypertable, while a test runs: a failed assertion leaves
 * it open, and the next setup closes it (else its DROP TABLE would wait for it forever) */
static PGconn *holder;

static const char *url_of(const struct tsp_test_service *s, const char *path)
{
    static char buf[600];
    snprintf(buf, sizeof(buf), "%s%s", tsp_test_service_url(s), path);
    return buf;
}

static struct tsp_test_reply *admin(const char *method, const char *path, const char *body)
{
    const char *const headers[] = {"Authorization: Bearer " ADMIN, "Content-Type: application/json",
                                   NULL};
    return tsp_test_http(method, url_of(svc, path), headers, body);
}

static long long query_int(const char *sql)
{
    char *v = tsp_test_tsdb_query(sql);
    long long n;
    if (v == NULL) {
        fail_msg("query failed: %s", sql);
    }
    n = atoll(v);
    free(v);
    return n;
}

static void exec_sql(const char *sql)
{
    char *v = tsp_test_tsdb_query(sql);
    if (v == NULL) {
        fail_msg("query failed: %s", sql);
    }
    free(v);
}

static long long now_ms(void)
{
    return (long long)tsp_clock_mono_ms();
}

/* Start `tspool serve` on the TimescaleDB server (pooled) with extra settings (may be NULL). */
static struct tsp_test_service *start_service(const char *const *extra)
{
    const char *env[24];
    int n = tsp_test_tsdb_env(env, 16);

    assert_true(n >= 0);
    env[n++] = "DB_MIN_CONNS=0";
    env[n++] = "TSPOOL_ADMIN_TOKEN=" ADMIN;
    env[n++] = "TSPOOL_HEALTH_INTERVAL_MS=5000";
    for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 23; i++) {
        env[n++] = extra[i];
    }
    env[n] = NULL;
    return tsp_test_service_start(env);
}

/* A fresh hypertable with 20 whole days of data: 20 one-day chunks. */
static void create_hypertable(void)
{
    exec_sql("DROP TABLE IF EXISTS " HT " CASCADE");
    exec_sql("CREATE TABLE " HT " (ts timestamptz NOT NULL, device_id integer, value double "
             "precision)");
    exec_sql("SELECT create_hypertable('" HT "', by_range('ts', INTERVAL '1 day'))");
    exec_sql("INSERT INTO " HT " SELECT t, (extract(epoch FROM t)::bigint / 600) % 3, "
             "extract(epoch FROM t)::bigint % 100 FROM generate_series(date_trunc('day', now()) "
             "- INTERVAL '20 days', date_trunc('day', now()) - INTERVAL '10 minutes', INTERVAL "
             "'10 minutes') t");
}

static int setup(void **state)
{
    *state = NULL;
    tsp_test_tsdb_prefer_native();
    fprintf(stderr, "TimescaleDB test server: %s\n", tsp_test_tsdb_server_name());
    if (!tsp_test_tsdb_available()) {
        return 0;
    }
    if (tsp_test_tsdb_dsn() == NULL) {
        return -1;
    }
    exec_sql("CREATE EXTENSION IF NOT EXISTS timescaledb");
    svc = start_service(NULL);
    if (svc == NULL) {
        return -1;
    }
    *state = svc;
    return 0;
}

static int teardown(void **state)
{
    PQfinish(holder);
    holder = NULL;
    tsp_test_service_stop(svc);
    svc = NULL;
    if (*state != NULL) {
        free(tsp_test_tsdb_query("DROP TABLE IF EXISTS " HT " CASCADE"));
    }
    return 0;
}

static int each_setup(void **state)
{
    PQfinish(holder);
    holder = NULL;
    if (*state != NULL) {
        create_hypertable();
    }
    return 0;
}

static void need_server(void **state)
{
    if (*state == NULL) {
        skip();
    }
}

/* The job's entry in GET /jobs (the list), as a new reference, or NULL when it is not there. */
static json_t *job_in_list(long long job_id)
{
    struct tsp_test_reply *r = tsp_test_get(url_of(svc, "/jobs"), NULL);
    json_t *jobs = NULL;
    json_t *found = NULL;

    assert_int_equal(r->status, 200);
    jobs = json_object_get(r->json, "jobs");
    for (size_t i = 0; i < json_array_size(jobs); i++) {
        json_t *job = json_array_get(jobs, i);
        if (json_integer_value(json_object_get(job, "job_id")) == job_id) {
            found = json_incref(job);
        }
    }
    tsp_test_reply_free(r);
    return found;
}

/* Poll GET /jobs until the job has run more than `runs` times and its last run finished;
 * returns its entry (new reference) or fails after SCHEDULER_WAIT_MS. */
static json_t *wait_job_runs(long long job_id, long long runs)
{
    long long t0 = now_ms();
    long long deadline = t0 + SCHEDULER_WAIT_MS;

    for (;;) {
        json_t *job = job_in_list(job_id);
        json_t *stats = json_object_get(job, "job_stats");
        const char *status = json_string_value(json_object_get(stats, "last_run_status"));
        long long total = json_integer_value(json_object_get(stats, "total_runs"));

        assert_non_null(job);
        if (total > runs && status != NULL && strcmp(status, "Running") != 0) {
            fprintf(stderr, "job %lld: run %lld by the scheduler, %s, seen after %lld ms\n", job_id,
                    total, status, now_ms() - t0);
            return job;
        }
        json_decref(job);
        if (now_ms() > deadline) {
            fail_msg("job %lld did not run by itself within %d ms (runs so far: %lld)", job_id,
                     SCHEDULER_WAIT_MS, total);
        }
        tsp_test_sleep_ms(250);
    }
}

static long long chunks_in_reply(const char *path)
{
    struct tsp_test_reply *r = tsp_test_get(url_of(svc, path), NULL);
    long long n;

    assert_int_equal(r->status, 200);
    n = (long long)json_array_size(json_object_get(r->json, "chunks"));
    tsp_test_reply_free(r);
    return n;
}

/* A compression policy is run by the scheduler when it is created, and again when alter_job()
 * sets its next_start to now: GET /jobs shows both runs with last_run_status Success, and the
 * chunks the test decompressed in between are compressed again. run_job() is never called. */
static void test_native_scheduler_runs_policy_at_next_start(void **state)
{
    struct tsp_test_reply *r = NULL;
    json_t *job = NULL;
    long long job_id;
    long long old_chunks;
    long long runs;
    char sql[160];

    need_server(state);
    old_chunks = query_int("SELECT count(*) FROM show_chunks('" HT "', older_than => INTERVAL "
                           "'7 days')");
    assert_true(old_chunks >= 12);
    r = admin("PUT", "/hypertables/" HT "/compression", "{\"segment_by\": [\"device_id\"]}");
    assert_int_equal(r->status, 200);
    tsp_test_reply_free(r);
    r = admin("PUT", "/hypertables/" HT "/compression-policy",
              "{\"compress_after\": \"7 days\", \"schedule_interval\": \"6 hours\"}");
    assert_int_equal(r->status, 200);
    job_id = json_integer_value(json_object_get(r->json, "job_id"));
    tsp_test_reply_free(r);
    assert_true(job_id >= 1000);

    /* the scheduler's first run, right after the policy was added */
    job = wait_job_runs(job_id, 0);
    runs = json_integer_value(json_object_get(json_object_get(job, "job_stats"), "total_runs"));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(job, "job_stats"), "last_run_status")),
        "Success");
    assert_string_equal(json_string_value(json_object_get(job, "proc_name")), "policy_compression");
    json_decref(job);
    assert_int_equal(chunks_in_reply("/hypertables/" HT "/chunks?compressed=true"), old_chunks);

    /* undo its work, then make it due now: the scheduler alone runs it again */
    r = admin("POST", "/hypertables/" HT "/decompress", "{\"older_than\": \"7 days\"}");
    assert_int_equal(r->status, 200);
    tsp_test_reply_free(r);
    assert_int_equal(chunks_in_reply("/hypertables/" HT "/chunks?compressed=true"), 0);
    snprintf(sql, sizeof(sql), "SELECT alter_job(%lld, next_start => now())", job_id);
    exec_sql(sql);
    job = wait_job_runs(job_id, runs);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(job, "job_stats"), "last_run_status")),
        "Success");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(job, "job_stats"), "total_failures")),
        0);
    json_decref(job);
    assert_int_equal(chunks_in_reply("/hypertables/" HT "/chunks?compressed=true"), old_chunks);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM timescaledb_information.job_errors WHERE job_id = %lld", job_id);
    assert_int_equal(query_int(sql), 0);
}

/* A retention policy added through the API drops the chunks older than drop_after when the
 * scheduler runs it: they disappear from GET /hypertables/{name}/chunks. */
static void test_native_retention_policy_drops_chunks(void **state)
{
    struct tsp_test_reply *r = NULL;
    json_t *job = NULL;
    long long job_id;
    long long before;
    long long going;
    long long deadline;

    need_server(state);
    before = chunks_in_reply("/hypertables/" HT "/chunks");
    going = chunks_in_reply("/hypertables/" HT "/chunks?older_than=10%20days");
    assert_int_equal(before, 20);
    assert_true(going >= 9);
    r = admin("PUT", "/hypertables/" HT "/retention-policy", "{\"drop_after\": \"10 days\"}");
    assert_int_equal(r->status, 200);
    job_id = json_integer_value(json_object_get(r->json, "job_id"));
    tsp_test_reply_free(r);

    job = wait_job_runs(job_id, 0);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(job, "job_stats"), "last_run_status")),
        "Success");
    assert_string_equal(json_string_value(json_object_get(job, "proc_name")), "policy_retention");
    json_decref(job);
    /* the job's transaction has committed once its run is recorded; allow a moment anyway */
    deadline = now_ms() + 5000;
    while (chunks_in_reply("/hypertables/" HT "/chunks?older_than=10%20days") != 0 &&
           now_ms() < deadline) {
        tsp_test_sleep_ms(100);
    }
    assert_int_equal(chunks_in_reply("/hypertables/" HT "/chunks?older_than=10%20days"), 0);
    assert_int_equal(chunks_in_reply("/hypertables/" HT "/chunks"), before - going);
    assert_int_equal(query_int("SELECT count(*) FROM " HT " WHERE ts < date_trunc('day', now()) - "
                               "INTERVAL '11 days'"),
                     0);
}

/* ---- two sessions, one hypertable lock ---- */

/* The test's session takes ACCESS EXCLUSIVE on the hypertable and keeps it until released. */
static void lock_hypertable(void)
{
    PGresult *res = NULL;

    holder = PQconnectdb(tsp_test_tsdb_dsn());
    if (PQstatus(holder) != CONNECTION_OK) {
        fail_msg("lock session: %s", PQerrorMessage(holder));
    }
    res = PQexec(holder, "BEGIN; LOCK TABLE " HT " IN ACCESS EXCLUSIVE MODE");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        fail_msg("lock: %s", PQerrorMessage(holder));
    }
    PQclear(res);
}

static void unlock_hypertable(void)
{
    PGresult *res = PQexec(holder, "COMMIT");
    assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    PQfinish(holder);
    holder = NULL;
}

struct call {
    const struct tsp_test_service *service;
    const char *method;
    const char *path;
    const char *body;
    struct tsp_test_reply *reply; /* NULL when the request failed */
    pthread_t thread;
};

static void *call_thread(void *arg)
{
    struct call *c = arg;
    const char *const headers[] = {"Authorization: Bearer " ADMIN, "Content-Type: application/json",
                                   NULL};
    c->reply = tsp_test_http_try(c->method, url_of(c->service, c->path), headers, c->body, 60000);
    return NULL;
}

static void call_start(struct call *c)
{
    assert_int_equal(pthread_create(&c->thread, NULL, call_thread, c), 0);
}

static struct tsp_test_reply *call_join(struct call *c)
{
    assert_int_equal(pthread_join(c->thread, NULL), 0);
    assert_non_null(c->reply);
    return c->reply;
}

/* "t" while a session of the service waits for a lock on the hypertable or one of its chunks
 * (LOCK TABLE takes the chunks too: they inherit from it) */
#define SQL_SERVICE_WAITS                                                                          \
    "SELECT count(*) > 0 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT "      \
    "l.granted AND a.application_name = '" TSP_TEST_APP_NAME "' AND (l.relation = '" HT            \
    "'::regclass OR l.relation IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = '" HT        \
    "'::regclass))"

/* Poll sql until it answers expect; false after timeout_ms, printing the server's sessions. */
static bool wait_tsdb_query(const char *sql, const char *expect, long timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    char *sessions = NULL;

    for (;;) {
        char *v = tsp_test_tsdb_query(sql);
        bool ok = v != NULL && strcmp(v, expect) == 0;
        free(v);
        if (ok) {
            return true;
        }
        if (now_ms() > deadline) {
            break;
        }
        tsp_test_sleep_ms(50);
    }
    sessions = tsp_test_tsdb_query(
        "SELECT (SELECT string_agg(format('%s %s %s/%s %s', pid, application_name, state, "
        "wait_event_type, left(query, 60)), E'\\n') FROM pg_stat_activity WHERE pid <> "
        "pg_backend_pid()) || E'\\nwaiting for: ' || (SELECT string_agg(format('%s %s %s', "
        "pid, relation::regclass, mode), ', ') FROM pg_locks WHERE NOT granted)");
    fprintf(stderr, "still not %s after %ld ms: %s\nsessions:\n%s\n", expect, timeout_ms, sql,
            sessions != NULL ? sessions : "?");
    free(sessions);
    return false;
}

/* drop-chunks waits while another session holds the hypertable, then completes once the
 * lock is released: nothing is dropped before, exactly the old chunks after. */
static void test_native_drop_chunks_waits_for_lock_holder(void **state)
{
    struct call c = {.method = "POST",
                     .path = "/hypertables/" HT "/drop-chunks",
                     .body = "{\"older_than\": \"15 days\"}"};
    struct tsp_test_reply *r = NULL;
    long long going;

    need_server(state);
    c.service = svc;
    going = query_int("SELECT count(*) FROM show_chunks('" HT "', older_than => INTERVAL '15 "
                      "days')");
    assert_true(going >= 4);
    lock_hypertable();
    call_start(&c);
    assert_true(wait_tsdb_query(SQL_SERVICE_WAITS, "t", 10000));
    /* still waiting a moment later: the request has not been answered */
    tsp_test_sleep_ms(300);
    assert_null(c.reply);
    assert_int_equal(query_int("SELECT count(*) FROM show_chunks('" HT "')"), 20);
    unlock_hypertable();
    r = call_join(&c);
    assert_int_equal(r->status, 200);
    assert_int_equal((long long)json_array_size(json_object_get(r->json, "chunks")), going);
    tsp_test_reply_free(r);
    assert_int_equal(query_int("SELECT count(*) FROM show_chunks('" HT "')"), 20 - going);
}

/* The deadlines on that wait: DB_STATEMENT_TIMEOUT_MS answers 504, lock_timeout (through
 * DB_SESSION_SETTINGS) 409; both roll back, and the same request passes once the holder is
 * gone. */
static void test_native_lock_wait_has_deadline(void **state)
{
    static const char *const stmt_timeout[] = {"DB_STATEMENT_TIMEOUT_MS=700", NULL};
    static const char *const lock_timeout[] = {"DB_SESSION_SETTINGS=lock_timeout=300", NULL};
    struct tsp_test_service *timed = NULL;
    struct tsp_test_service *locked = NULL;
    struct tsp_test_reply *r = NULL;
    const char *detail = NULL;
    long long t0;

    need_server(state);
    timed = start_service(stmt_timeout);
    locked = start_service(lock_timeout);
    lock_hypertable();

    t0 = now_ms();
    r = tsp_test_http("POST", url_of(timed, "/hypertables/" HT "/drop-chunks"),
                      (const char *const[]){"Authorization: Bearer " ADMIN,
                                            "Content-Type: application/json", NULL},
                      "{\"older_than\": \"15 days\"}");
    assert_int_equal(r->status, 504);
    detail = tsp_test_json_str(r, "detail");
    assert_non_null(detail);
    assert_non_null(strstr(detail, "statement timeout"));
    assert_true(now_ms() - t0 < 10000);
    tsp_test_reply_free(r);

    r = tsp_test_http("POST", url_of(locked, "/hypertables/" HT "/drop-chunks"),
                      (const char *const[]){"Authorization: Bearer " ADMIN,
                                            "Content-Type: application/json", NULL},
                      "{\"older_than\": \"15 days\"}");
    assert_int_equal(r->status, 409);
    detail = tsp_test_json_str(r, "detail");
    assert_non_null(detail);
    assert_non_null(strstr(detail, "lock timeout"));
    tsp_test_reply_free(r);
    assert_int_equal(query_int("SELECT count(*) FROM show_chunks('" HT "')"), 20);

    unlock_hypertable();
    r = tsp_test_http("POST", url_of(timed, "/hypertables/" HT "/drop-chunks"),
                      (const char *const[]){"Authorization: Bearer " ADMIN,
                                            "Content-Type: application/json", NULL},
                      "{\"older_than\": \"15 days\"}");
    assert_int_equal(r->status, 200);
    tsp_test_reply_free(r);
    assert_true(query_int("SELECT count(*) FROM show_chunks('" HT "')") < 20);
    tsp_test_service_stop(timed);
    tsp_test_service_stop(locked);
}

/* Two requests of the service contend with each other: the same drop-chunks twice while a third
 * session holds the table. The first waits behind it holding the hypertable's advisory lock, the
 * second is answered 409 CHANGE_IN_PROGRESS at once; when the holder lets go the first is
 * answered 200, a retry of the second too, and the old chunks are gone. */
static void test_native_two_service_sessions_contend(void **state)
{
    struct call first = {.method = "POST",
                         .path = "/hypertables/" HT "/drop-chunks",
                         .body = "{\"older_than\": \"15 days\"}"};
    struct call second = first;
    struct tsp_test_reply *r = NULL;
    char retry[16];

    need_server(state);
    first.service = svc;
    second.service = svc;
    lock_hypertable();
    call_start(&first);
    /* the first change waits on the table lock inside the database, holding the hypertable's
       advisory lock; a second change to the same hypertable is refused at once (409
       CHANGE_IN_PROGRESS) instead of queueing a second session behind the lock */
    assert_true(wait_tsdb_query("SELECT count(DISTINCT l.pid) >= 1 FROM pg_locks l JOIN "
                                "pg_stat_activity a ON a.pid = l.pid WHERE NOT l.granted AND "
                                "a.application_name = '" TSP_TEST_APP_NAME "'",
                                "t", 10000));
    call_start(&second);
    r = call_join(&second);
    if (r->status != 409) {
        fail_msg("second drop-chunks: %ld %s", r->status, r->body);
    }
    assert_string_equal(tsp_test_json_str(r, "code"), "CHANGE_IN_PROGRESS");
    assert_true(tsp_test_reply_header(r, "Retry-After", retry, sizeof(retry)));
    tsp_test_reply_free(r);
    unlock_hypertable();
    r = call_join(&first);
    if (r->status != 200) {
        fail_msg("first drop-chunks: %ld %s", r->status, r->body);
    }
    tsp_test_reply_free(r);
    /* the retry goes through once the first change is done */
    r = admin("POST", first.path, first.body);
    if (r->status != 200) {
        fail_msg("retried drop-chunks: %ld %s", r->status, r->body);
    }
    tsp_test_reply_free(r);
    assert_int_equal(query_int("SELECT count(*) FROM show_chunks('" HT "', older_than => "
                               "INTERVAL '15 days')"),
                     0);
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_native_scheduler_runs_policy_at_next_start, each_setup),
        cmocka_unit_test_setup(test_native_retention_policy_drops_chunks, each_setup),
        cmocka_unit_test_setup(test_native_drop_chunks_waits_for_lock_holder, each_setup),
        cmocka_unit_test_setup(test_native_lock_wait_has_deadline, each_setup),
        cmocka_unit_test_setup(test_native_two_service_sessions_contend, each_setup),
    };

    return cmocka_run_group_tests_name("tsdb_native", tests, setup, teardown);
}
