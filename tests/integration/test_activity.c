/* test_activity.c - integration tests of the server activity sampler against PostgreSQL 15
 * with pg_stat_statements preloaded: a pg_sleep of another application in /server/activity,
 * logged as slow once running and once ended, cancelled through the API; a lock chain as a
 * tree; statements ranked by mean time; the safety rules of cancel and terminate; metrics
 * that promtool accepts; a sample stuck on a lock running into its deadline.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http_client.h"
#include "service_harness.h"

#define ADMIN    "activity-admin-token"
#define READ     "activity-read-token"
#define APP_USER "tspool_it_app"
#define APP_PASS "tspool-it-app-password"

static struct tsp_test_service *svc;

static const char *const service_env[] = {"TSPOOL_ACTIVITY_INTERVAL_MS=200",
                                          "TSPOOL_STATEMENTS_INTERVAL_MS=500",
                                          "DB_SLOW_QUERY_MS=500",
                                          "TSPOOL_QUERY_TEXT_MAX=200",
                                          "TSPOOL_ADMIN_TOKEN=" ADMIN,
                                          "TSPOOL_READ_TOKEN=" READ,
                                          NULL};

static void sql_ok(const char *sql)
{
    char *r = tsp_test_pg_query(sql);
    if (r == NULL) {
        fail_msg("setup statement failed: %s", sql);
    }
    free(r);
}

static int setup(void **state)
{
    (void)state;
    if (!tsp_test_pg_available()) {
        return -1;
    }
    sql_ok("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
    sql_ok("DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '" APP_USER "') THEN "
           "CREATE ROLE " APP_USER " LOGIN PASSWORD '" APP_PASS "'; END IF; END$$");
    sql_ok("DROP TABLE IF EXISTS it_activity_lock");
    sql_ok("CREATE TABLE it_activity_lock (id int)");
    sql_ok("GRANT ALL ON it_activity_lock TO " APP_USER);
    svc = tsp_test_service_start(service_env);
    return svc != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tsp_test_service_stop(svc);
    svc = NULL;
    return 0;
}

static const char *url(const char *path)
{
    static char buf[512];
    snprintf(buf, sizeof(buf), "%s%s", tsp_test_service_url(svc), path);
    return buf;
}

static struct tsp_test_reply *post(const char *path, const char *token)
{
    char auth[128];
    const char *headers[] = {auth, NULL};

    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    return tsp_test_http("POST", url(path), headers, NULL);
}

/* A session of its own: as the unprivileged role, or as postgres (superuser). */
static PGconn *session(const char *app, bool superuser)
{
    char dsn[512];
    PGconn *conn = NULL;

    snprintf(dsn, sizeof(dsn),
             "host=127.0.0.1 port=%d dbname=postgres user=%s password=%s sslmode=disable "
             "application_name=%s",
             tsp_test_pg_port(), superuser ? "postgres" : APP_USER,
             superuser ? tsp_test_pg_password() : APP_PASS, app);
    conn = PQconnectdb(dsn);
    if (PQstatus(conn) != CONNECTION_OK) {
        fail_msg("connect as %s: %s", app, PQerrorMessage(conn));
    }
    return conn;
}

static void exec_ok(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        fail_msg("%s: %s", sql, PQerrorMessage(conn));
    }
    PQclear(res);
}

/* A statement run in a thread; the error message it ended with is kept. */
struct runner {
    PGconn *conn;
    const char *sql;
    pthread_t thread;
    char error[512];
    bool ok;
};

static void *runner_main(void *arg)
{
    struct runner *r = arg;
    PGresult *res = PQexec(r->conn, r->sql);
    ExecStatusType st = PQresultStatus(res);

    r->ok = st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;
    snprintf(r->error, sizeof(r->error), "%s", PQerrorMessage(r->conn));
    PQclear(res);
    return NULL;
}

static void runner_start(struct runner *r, PGconn *conn, const char *sql)
{
    memset(r, 0, sizeof(*r));
    r->conn = conn;
    r->sql = sql;
    assert_int_equal(pthread_create(&r->thread, NULL, runner_main, r), 0);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The session of `app` in /server/activity (a new reference), waiting up to timeout_ms for
 * one whose duration_ms is at least min_ms (and, when min_ms > 0, active); NULL when none
 * came. */
static json_t *wait_session(const char *app, const char *token, double min_ms, long timeout_ms)
{
    char path[256];
    int64_t deadline = now_ms() + timeout_ms;

    snprintf(path, sizeof(path), "/server/activity?application=%s", app);
    while (now_ms() < deadline) {
        struct tsp_test_reply *r = tsp_test_get(url(path), token);
        json_t *sessions = json_object_get(r->json, "sessions");
        json_t *found = NULL;
        /* 503 until the first sample is taken */
        assert_true(r->status == 200 || r->status == 503);
        for (size_t i = 0; i < json_array_size(sessions); i++) {
            json_t *s = json_array_get(sessions, i);
            /* with a minimum, only a running query counts (not the idle session before it) */
            if (json_number_value(json_object_get(s, "duration_ms")) >= min_ms &&
                (min_ms <= 0.0 ||
                 strcmp(json_string_value(json_object_get(s, "state")), "active") == 0)) {
                found = json_incref(s);
                break;
            }
        }
        tsp_test_reply_free(r);
        if (found != NULL) {
            return found;
        }
        tsp_test_sleep_ms(100);
    }
    return NULL;
}

/* Lines of the service's stdout containing every one of the needles. */
static int count_log_lines(const char *a, const char *b, const char *c)
{
    char *out = tsp_test_service_stdout(svc);
    int n = 0;

    for (char *line = strtok(out, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        if (strstr(line, a) != NULL && (b == NULL || strstr(line, b) != NULL) &&
            (c == NULL || strstr(line, c) != NULL)) {
            n++;
        }
    }
    free(out);
    return n;
}

static bool wait_log(const char *a, const char *b, const char *c, long timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    while (now_ms() < deadline) {
        if (count_log_lines(a, b, c) > 0) {
            return true;
        }
        tsp_test_sleep_ms(100);
    }
    return false;
}

/* A pg_sleep of another application: seen with the right duration, its text only with the
 * admin token, logged once as slow, cancelled through the API (the session sees the cancel),
 * logged once more as ended. */
static void test_activity_sleep_seen_logged_cancelled(void **state)
{
    PGconn *conn = session("it_sleeper", false);
    struct runner run;
    json_t *s = NULL;
    struct tsp_test_reply *r = NULL;
    char path[128];
    int64_t started = 0;
    double duration = 0.0;
    int pid = 0;
    (void)state;

    started = now_ms();
    runner_start(&run, conn, "SELECT pg_sleep(30) /* it_sleeper */");
    s = wait_session("it_sleeper", ADMIN, 800.0, 10000);
    assert_non_null(s);
    duration = json_number_value(json_object_get(s, "duration_ms"));
    assert_true(duration >= 800.0);
    assert_true(duration <= (double)(now_ms() - started) + 50.0);
    assert_string_equal(json_string_value(json_object_get(s, "state")), "active");
    assert_string_equal(json_string_value(json_object_get(s, "user")), APP_USER);
    assert_string_equal(json_string_value(json_object_get(s, "wait_event")), "PgSleep");
    assert_non_null(strstr(json_string_value(json_object_get(s, "query")), "pg_sleep(30)"));
    assert_string_equal(json_string_value(json_object_get(s, "client_addr")), "127.0.0.1");
    pid = (int)json_integer_value(json_object_get(s, "pid"));
    assert_int_equal(pid, PQbackendPID(conn));
    json_decref(s);

    /* the read token sees the session but neither the query text nor the client address */
    s = wait_session("it_sleeper", READ, 0.0, 2000);
    assert_non_null(s);
    assert_true(json_is_null(json_object_get(s, "query")));
    assert_true(json_is_null(json_object_get(s, "client_addr")));
    json_decref(s);

    assert_true(wait_log("\"server.slow_query\"", "\"phase\":\"running\"", "it_sleeper", 3000));
    snprintf(path, sizeof(path), "/server/sessions/%d/cancel", pid);
    r = post(path, ADMIN);
    assert_int_equal(r->status, 200);
    assert_true(json_is_true(json_object_get(r->json, "signalled")));
    assert_string_equal(tsp_test_json_str(r, "action"), "cancel");
    assert_string_equal(tsp_test_json_str(r, "application_name"), "it_sleeper");
    tsp_test_reply_free(r);
    pthread_join(run.thread, NULL);
    assert_false(run.ok);
    assert_non_null(strstr(run.error, "canceling statement due to user request"));

    assert_true(wait_log("\"server.slow_query\"", "\"phase\":\"ended\"", "it_sleeper", 3000));
    /* several samples later, still exactly one line of each */
    tsp_test_sleep_ms(600);
    assert_int_equal(
        count_log_lines("\"server.slow_query\"", "\"phase\":\"running\"", "it_sleeper"), 1);
    assert_int_equal(count_log_lines("\"server.slow_query\"", "\"phase\":\"ended\"", "it_sleeper"),
                     1);
    assert_int_equal(count_log_lines("\"phase\":\"ended\"", "\"end\":\"cancelled\"", "it_sleeper"),
                     1);
    assert_int_equal(count_log_lines("\"activity.audit\"", "\"operation\":\"cancel\"",
                                     "\"outcome\":\"signalled\""),
                     1);
    PQfinish(conn);
}

/* A lock held by one session and awaited by another: a chain, the holder as the root. */
static void test_activity_lock_chain_tree(void **state)
{
    PGconn *holder = session("it_holder", false);
    PGconn *waiter = session("it_waiter", false);
    struct runner run;
    int64_t deadline = now_ms() + 10000;
    bool seen = false;
    (void)state;

    exec_ok(holder, "BEGIN");
    exec_ok(holder, "LOCK TABLE it_activity_lock IN ACCESS EXCLUSIVE MODE");
    runner_start(&run, waiter, "SELECT count(*) FROM it_activity_lock");
    while (!seen && now_ms() < deadline) {
        struct tsp_test_reply *r = tsp_test_get(url("/server/activity"), ADMIN);
        json_t *roots = json_object_get(r->json, "blocking");
        for (size_t i = 0; i < json_array_size(roots); i++) {
            json_t *root = json_array_get(roots, i);
            json_t *blocks = json_object_get(root, "blocks");
            if (json_integer_value(json_object_get(root, "pid")) != PQbackendPID(holder) ||
                json_array_size(blocks) != 1) {
                continue;
            }
            json_t *child = json_array_get(blocks, 0);
            assert_int_equal(json_integer_value(json_object_get(child, "pid")),
                             PQbackendPID(waiter));
            assert_string_equal(json_string_value(json_object_get(child, "application_name")),
                                "it_waiter");
            assert_int_equal(
                json_integer_value(json_array_get(json_object_get(child, "blocked_by"), 0)),
                PQbackendPID(holder));
            assert_string_equal(json_string_value(json_object_get(root, "state")),
                                "idle in transaction");
            assert_true(json_integer_value(
                            json_object_get(json_object_get(r->json, "summary"), "blocked")) >= 1);
            seen = true;
        }
        tsp_test_reply_free(r);
        if (!seen) {
            tsp_test_sleep_ms(100);
        }
    }
    assert_true(seen);
    /* the filters: the waiter is active, the holder idle in a transaction */
    {
        struct tsp_test_reply *r = tsp_test_get(
            url("/server/activity?state=idle_in_transaction&application=it_holder"), READ);
        assert_int_equal(r->status, 200);
        assert_int_equal(json_array_size(json_object_get(r->json, "sessions")), 1);
        tsp_test_reply_free(r);
    }
    exec_ok(holder, "COMMIT");
    pthread_join(run.thread, NULL);
    assert_true(run.ok);
    PQfinish(holder);
    PQfinish(waiter);
}

/* A deliberately slow statement comes first by mean time; the window says what happened
 * since the previous snapshot. */
static void test_activity_statements_rank_slow_first(void **state)
{
    PGconn *conn = session("it_statements", false);
    int64_t deadline = 0;
    bool seen = false;
    (void)state;

    sql_ok("SELECT pg_stat_statements_reset()");
    exec_ok(conn, "SELECT pg_sleep(0.3) /* it_slow_statement */");
    exec_ok(conn, "SELECT pg_sleep(0.3) /* it_slow_statement */");
    exec_ok(conn, "SELECT 1 /* it_fast_statement */");
    deadline = now_ms() + 10000;
    while (!seen && now_ms() < deadline) {
        struct tsp_test_reply *r =
            tsp_test_get(url("/server/statements?order=mean_time&top=3"), READ);
        json_t *first = json_array_get(json_object_get(r->json, "statements"), 0);
        assert_int_equal(r->status, 200);
        /* a snapshot may fall between the two calls: wait for one after both */
        if (first != NULL &&
            strstr(json_string_value(json_object_get(first, "query")), "it_slow_statement") !=
                NULL &&
            json_integer_value(json_object_get(first, "calls")) == 2) {
            assert_true(json_number_value(json_object_get(first, "mean_time_ms")) >= 290.0);
            assert_string_equal(json_string_value(json_object_get(first, "user")), APP_USER);
            assert_int_equal(json_array_size(json_object_get(r->json, "statements")), 3);
            assert_string_equal(tsp_test_json_str(r, "order"), "mean_time");
            seen = true;
        }
        tsp_test_reply_free(r);
        if (!seen) {
            tsp_test_sleep_ms(200);
        }
    }
    assert_true(seen);
    /* the next snapshots see no new calls of it: a window with zero calls */
    tsp_test_sleep_ms(1200);
    {
        struct tsp_test_reply *r =
            tsp_test_get(url("/server/statements?order=mean_time&top=1"), READ);
        json_t *first = json_array_get(json_object_get(r->json, "statements"), 0);
        json_t *window = json_object_get(first, "window");
        assert_true(json_number_value(json_object_get(r->json, "window_s")) > 0.0);
        assert_true(json_is_object(window));
        assert_int_equal(json_integer_value(json_object_get(window, "calls")), 0);
        assert_true(json_is_null(json_object_get(window, "time_per_call_ms")));
        tsp_test_reply_free(r);
    }
    {
        struct tsp_test_reply *r = tsp_test_get(url("/server/statements?order=slowest"), READ);
        assert_int_equal(r->status, 400);
        assert_string_equal(tsp_test_json_str(r, "field"), "order");
        tsp_test_reply_free(r);
        r = tsp_test_get(url("/server/statements?top=0"), READ);
        assert_int_equal(r->status, 400);
        assert_string_equal(tsp_test_json_str(r, "field"), "top");
        tsp_test_reply_free(r);
    }
    PQfinish(conn);
}

/* tspool's own connections are never signalled, force or not. */
static void test_activity_cancel_own_pid_refused(void **state)
{
    struct tsp_test_reply *r = NULL;
    char path[128];
    int pid = 0;
    (void)state;

    tsp_test_reply_free(tsp_test_get(url("/pool/ping"), READ));
    r = tsp_test_get(url("/pool/status?detailed=true"), READ);
    pid = (int)json_integer_value(
        json_object_get(json_array_get(json_object_get(r->json, "connections"), 0), "backend_pid"));
    tsp_test_reply_free(r);
    assert_true(pid > 0);
    snprintf(path, sizeof(path), "/server/sessions/%d/cancel", pid);
    r = post(path, ADMIN);
    assert_int_equal(r->status, 409);
    assert_non_null(strstr(tsp_test_json_str(r, "detail"), "tspool's own"));
    tsp_test_reply_free(r);
    snprintf(path, sizeof(path), "/server/sessions/%d/terminate?force=true", pid);
    r = post(path, ADMIN);
    assert_int_equal(r->status, 409);
    tsp_test_reply_free(r);
    assert_int_equal(count_log_lines("\"activity.audit\"", "\"outcome\":\"refused\"", NULL), 2);
}

/* Superuser sessions need force; unknown pids are 404; the read token is not enough. */
static void test_activity_signal_rules(void **state)
{
    PGconn *super = session("it_super", true);
    PGconn *victim = session("it_victim", false);
    struct tsp_test_reply *r = NULL;
    char path[128];
    char sql[256];
    (void)state;

    snprintf(path, sizeof(path), "/server/sessions/%d/cancel", PQbackendPID(super));
    r = post(path, ADMIN);
    assert_int_equal(r->status, 409);
    assert_non_null(strstr(tsp_test_json_str(r, "detail"), "superuser"));
    assert_non_null(strstr(tsp_test_json_str(r, "detail"), "force=true"));
    tsp_test_reply_free(r);
    snprintf(path, sizeof(path), "/server/sessions/%d/cancel?force=true", PQbackendPID(super));
    r = post(path, ADMIN);
    assert_int_equal(r->status, 200);
    assert_true(json_is_true(json_object_get(r->json, "superuser")));
    assert_true(json_is_true(json_object_get(r->json, "force")));
    tsp_test_reply_free(r);

    r = post("/server/sessions/2147483000/cancel", ADMIN);
    assert_int_equal(r->status, 404);
    assert_string_equal(tsp_test_json_str(r, "field"), "pid");
    tsp_test_reply_free(r);
    r = post("/server/sessions/abc/terminate", ADMIN);
    assert_int_equal(r->status, 400);
    tsp_test_reply_free(r);
    r = post("/server/sessions/0/terminate", ADMIN);
    assert_int_equal(r->status, 400);
    tsp_test_reply_free(r);
    snprintf(path, sizeof(path), "/server/sessions/%d/terminate", PQbackendPID(victim));
    r = post(path, READ);
    assert_int_equal(r->status, 403);
    tsp_test_reply_free(r);
    r = post(path, ADMIN);
    assert_int_equal(r->status, 200);
    assert_string_equal(tsp_test_json_str(r, "action"), "terminate");
    assert_true(json_is_true(json_object_get(r->json, "signalled")));
    tsp_test_reply_free(r);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_stat_activity WHERE pid = %d",
             PQbackendPID(victim));
    assert_true(tsp_test_wait_query(sql, "0", 5000));
    PQfinish(victim);
    PQfinish(super);
}

/* `tspool top --once`: the chain and the sessions as a table; a bad option is exit 2. */
static void test_activity_cli_top_once(void **state)
{
    static const char *const args_once[] = {"top", "--once", "--application", "it_top", NULL};
    static const char *const args_bad[] = {"top", "--state", "sleeping", NULL};
    static const char *const extra[] = {"TSPOOL_ADMIN_TOKEN=" ADMIN, NULL};
    PGconn *conn = session("it_top", false);
    struct runner run;
    char *out = NULL;
    char *err = NULL;
    json_t *s = NULL;
    (void)state;

    runner_start(&run, conn, "SELECT pg_sleep(3) /* it_top_query */");
    s = wait_session("it_top", ADMIN, 300.0, 5000);
    assert_non_null(s);
    json_decref(s);
    assert_int_equal(tsp_test_run_cli(args_once, tsp_test_service_port(svc), extra, &out, &err), 0);
    assert_non_null(strstr(out, "PID"));
    assert_non_null(strstr(out, "it_top"));
    assert_non_null(strstr(out, "it_top_query"));
    assert_non_null(strstr(out, "PgSleep"));
    free(out);
    free(err);
    assert_int_equal(tsp_test_run_cli(args_bad, tsp_test_service_port(svc), extra, &out, &err), 2);
    assert_non_null(strstr(err, "--state sleeping"));
    free(out);
    free(err);
    pthread_join(run.thread, NULL);
    PQfinish(conn);
}

/* The tspool_server_* families: present, bounded, and accepted by promtool. */
static void test_activity_metrics_promtool(void **state)
{
    struct tsp_test_reply *r = tsp_test_get(url("/metrics"), NULL);
    char why[256];
    char path[] = "tspool-metrics-XXXXXX"; /* in the test's working directory */
    char cmd[512];
    int fd = -1;
    FILE *p = NULL;
    char out[1024];
    size_t got = 0;
    int status = 0;
    (void)state;

    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, "\ntspool_server_activity_up 1\n"));
    assert_non_null(strstr(r->body, "tspool_server_connections{application=\"" TSP_TEST_APP_NAME
                                    "\",state=\"idle\"}"));
    assert_non_null(strstr(r->body, "\n# TYPE tspool_server_blocked_sessions gauge\n"));
    assert_non_null(strstr(r->body, "\ntspool_server_oldest_transaction_age_seconds "));
    assert_non_null(strstr(r->body, "\ntspool_server_long_running_queries{application="));
    assert_true(tsp_test_prometheus_valid(r->body, why, sizeof(why)));
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, r->body, r->body_len), (ssize_t)r->body_len);
    close(fd);
    snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
    p = popen(cmd, "r");
    assert_non_null(p);
    got = fread(out, 1, sizeof(out) - 1, p);
    out[got] = '\0';
    status = pclose(p);
    unlink(path);
    if (status != 0 || got != 0) {
        fail_msg("promtool check metrics (status %d): %s", status, out);
    }
    tsp_test_reply_free(r);
}

/* A backend frozen (SIGSTOP) while it runs a sample: the sample runs into its deadline, the
 * API keeps answering from the last good sample at once, and sampling carries on on a new
 * connection. One pool connection, so the sampler must use the frozen one. */
static void test_activity_sample_deadline(void **state)
{
    static const char *const env[] = {"DB_MAX_CONNS=1",
                                      "DB_MAX_OVERFLOW=0",
                                      "TSPOOL_ACTIVITY_INTERVAL_MS=200",
                                      "TSPOOL_STATEMENTS_INTERVAL_MS=0",
                                      "TSPOOL_HEALTH_INTERVAL_MS=600000",
                                      NULL};
    struct tsp_test_service *own = tsp_test_service_start(env);
    struct tsp_test_reply *r = NULL;
    char u[512];
    char m[512];
    char before[64] = "";
    char *out = NULL;
    int64_t deadline = 0;
    int64_t frozen_at = 0;
    int pid = 0;
    bool failed = false;
    (void)state;

    snprintf(u, sizeof(u), "%s/pool/status?detailed=true", tsp_test_service_url(own));
    deadline = now_ms() + 5000;
    while (pid == 0 && now_ms() < deadline) {
        r = tsp_test_get(u, NULL);
        pid = (int)json_integer_value(json_object_get(
            json_array_get(json_object_get(r->json, "connections"), 0), "backend_pid"));
        tsp_test_reply_free(r);
        tsp_test_sleep_ms(100);
    }
    assert_true(pid > 0);
    snprintf(u, sizeof(u), "%s/server/activity", tsp_test_service_url(own));
    r = tsp_test_get(u, NULL);
    assert_int_equal(r->status, 200);
    snprintf(before, sizeof(before), "%s", tsp_test_json_str(r, "sampled_at"));
    tsp_test_reply_free(r);

    assert_int_equal(kill(pid, SIGSTOP), 0);
    frozen_at = now_ms();
    deadline = frozen_at + 15000;
    while (!failed && now_ms() < deadline) {
        int64_t t0 = now_ms();
        r = tsp_test_get(u, NULL);
        /* answered from the snapshot, never waiting for the database */
        assert_true(now_ms() - t0 < 1000);
        assert_int_equal(r->status, 200);
        tsp_test_reply_free(r);
        out = tsp_test_service_stdout(own);
        failed = strstr(out, "\"activity.sample_failed\"") != NULL &&
                 strstr(out, "no answer within 5000 ms") != NULL;
        free(out);
        tsp_test_sleep_ms(100);
    }
    kill(pid, SIGCONT);
    assert_true(failed);
    /* the deadline held: not before 5 s, not much after */
    assert_true(now_ms() - frozen_at >= 4900);
    assert_true(now_ms() - frozen_at < 9000);
    /* sampling carries on */
    deadline = now_ms() + 5000;
    do {
        r = tsp_test_get(u, NULL);
        failed = strcmp(tsp_test_json_str(r, "sampled_at"), before) == 0;
        tsp_test_reply_free(r);
        tsp_test_sleep_ms(100);
    } while (failed && now_ms() < deadline);
    assert_false(failed);
    snprintf(m, sizeof(m), "%s/metrics", tsp_test_service_url(own));
    r = tsp_test_get(m, NULL);
    assert_null(strstr(r->body, "tspool_server_activity_sample_failures_total 0\n"));
    assert_non_null(strstr(r->body, "tspool_server_activity_sample_failures_total "));
    tsp_test_reply_free(r);
    tsp_test_service_stop(own);
}

/* Statements without the extension in the database: 409 saying how to enable it; the
 * sampler off: 409 naming the variable. */
static void test_activity_statements_409_without_extension(void **state)
{
    static const char *const env[] = {"DB_NAME=it_activity_noext", "TSPOOL_ACTIVITY_INTERVAL_MS=0",
                                      "TSPOOL_STATEMENTS_INTERVAL_MS=500", NULL};
    struct tsp_test_service *own = NULL;
    struct tsp_test_reply *r = NULL;
    char u[512];
    int64_t deadline = 0;
    (void)state;

    sql_ok("DROP DATABASE IF EXISTS it_activity_noext WITH (FORCE)");
    sql_ok("CREATE DATABASE it_activity_noext");
    own = tsp_test_service_start(env);
    snprintf(u, sizeof(u), "%s/server/statements", tsp_test_service_url(own));
    deadline = now_ms() + 5000;
    do {
        tsp_test_reply_free(r);
        r = tsp_test_get(u, NULL);
        tsp_test_sleep_ms(100);
    } while (r->status == 503 && now_ms() < deadline);
    assert_int_equal(r->status, 409);
    assert_non_null(strstr(tsp_test_json_str(r, "detail"), "CREATE EXTENSION pg_stat_statements"));
    assert_non_null(strstr(tsp_test_json_str(r, "detail"), "shared_preload_libraries"));
    tsp_test_reply_free(r);
    snprintf(u, sizeof(u), "%s/server/activity", tsp_test_service_url(own));
    r = tsp_test_get(u, NULL);
    assert_int_equal(r->status, 409);
    assert_non_null(strstr(tsp_test_json_str(r, "detail"), "TSPOOL_ACTIVITY_INTERVAL_MS"));
    tsp_test_reply_free(r);
    tsp_test_service_stop(own);
    sql_ok("DROP DATABASE IF EXISTS it_activity_noext WITH (FORCE)");
}

/* The sampler against the TimescaleDB test server of this entry: PGlite (no
 * pg_stat_statements there: 409 saying how to enable it) or, in the _native entry, PostgreSQL
 * 15 + TimescaleDB of scripts/tsdb-native.sh with pg_stat_statements preloaded (200). */
static void test_activity_timescaledb_server(void **state)
{
    const char *env[16];
    struct tsp_test_service *own = NULL;
    struct tsp_test_reply *r = NULL;
    enum tsp_test_tsdb_server server = tsp_test_tsdb_server();
    char u[512];
    int64_t deadline = 0;
    int n = 0;
    (void)state;

    if (!tsp_test_tsdb_available()) {
        return; /* the harness said why on one line */
    }
    n = tsp_test_tsdb_env(env, 10);
    assert_true(n > 0);
    if (server == TSP_TEST_TSDB_PGLITE) {
        env[n++] = "DB_MAX_CONNS=1"; /* PGlite serves one connection at a time */
        env[n++] = "DB_MAX_OVERFLOW=0";
    }
    env[n++] = "TSPOOL_ACTIVITY_INTERVAL_MS=200";
    env[n++] = "TSPOOL_STATEMENTS_INTERVAL_MS=500";
    env[n] = NULL;
    own = tsp_test_service_start(env);
    for (int i = 0; i < 2; i++) {
        snprintf(u, sizeof(u), "%s%s", tsp_test_service_url(own),
                 i == 0 ? "/server/activity" : "/server/statements");
        deadline = now_ms() + 10000;
        do {
            tsp_test_reply_free(r);
            r = tsp_test_get(u, NULL);
            tsp_test_sleep_ms(100);
        } while (r->status == 503 && now_ms() < deadline);
        if (i == 0) {
            assert_int_equal(r->status, 200);
            assert_true(json_is_true(json_object_get(r->json, "last_sample_ok")));
        } else if (server == TSP_TEST_TSDB_NATIVE) {
            assert_int_equal(r->status, 200);
            assert_true(json_array_size(json_object_get(r->json, "statements")) > 0);
        } else if (server == TSP_TEST_TSDB_PGLITE) {
            assert_int_equal(r->status, 409);
            assert_non_null(strstr(tsp_test_json_str(r, "detail"), "pg_stat_statements"));
        } else {
            /* a server given by TSPOOL_TEST_TSDB_DSN may or may not have the extension */
            assert_true(r->status == 200 || r->status == 409);
        }
        tsp_test_reply_free(r);
        r = NULL;
    }
    tsp_test_service_stop(own);
}

int tsp_test_run(void)
{
    const struct CMUnitTest pg_tests[] = {
        cmocka_unit_test(test_activity_sleep_seen_logged_cancelled),
        cmocka_unit_test(test_activity_lock_chain_tree),
        cmocka_unit_test(test_activity_statements_rank_slow_first),
        cmocka_unit_test(test_activity_cancel_own_pid_refused),
        cmocka_unit_test(test_activity_signal_rules),
        cmocka_unit_test(test_activity_metrics_promtool),
        cmocka_unit_test(test_activity_cli_top_once),
        cmocka_unit_test(test_activity_sample_deadline),
        cmocka_unit_test(test_activity_statements_409_without_extension),
    };
    const struct CMUnitTest tsdb_tests[] = {
        cmocka_unit_test(test_activity_timescaledb_server),
    };
    int failures = 0;

    fprintf(stderr, "TimescaleDB test server: %s\n", tsp_test_tsdb_server_name());
    /* PostgreSQL 15 once, in the regular entry; the _native entry checks the native server */
    if (!tsp_test_tsdb_native_run()) {
        failures += cmocka_run_group_tests_name("activity", pg_tests, setup, teardown);
    }
    failures += cmocka_run_group_tests_name("activity_timescaledb", tsdb_tests, NULL, NULL);
    return failures;
}
