/* test_ts_lifecycle.c - the TimescaleDB lifecycle end to end on the native TimescaleDB server
 * (PostgreSQL 15 + TimescaleDB 2.28 of scripts/tsdb-native.sh, or TSPOOL_TEST_TSDB_DSN): create,
 * chunk interval, reorder policy, `tspool apply` twice and --dry-run, two tspool processes
 * changing one hypertable at once, and a 5,000-chunk listing walked page by page.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_client.h"
#include "service_harness.h"

#define ADMIN "lifecycle-admin-token"

static struct tsp_test_service *svc_a;
static struct tsp_test_service *svc_b;
static PGconn *db;
static char dsn[1024];
static char source_file[512];

static void exec_sql(const char *sql)
{
    PGresult *res = PQexec(db, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        fail_msg("%s: %s", sql, PQerrorMessage(db));
    }
    PQclear(res);
}

static const char *const *service_env(void)
{
    static const char *env[16];
    int n = tsp_test_tsdb_env(env, 12);
    assert_true(n >= 0);
    env[n++] = "DB_SSLMODE=disable";
    env[n++] = "TSPOOL_ADMIN_TOKEN=" ADMIN;
    env[n++] = "TSPOOL_SHUTDOWN_DELAY=0";
    env[n] = NULL;
    return env;
}

static int setup(void **state)
{
    *state = NULL;
    /* several sessions at once (two services and a lock holder): the native server */
    tsp_test_tsdb_prefer_native();
    fprintf(stderr, "TimescaleDB test server: %s\n", tsp_test_tsdb_server_name());
    if (!tsp_test_tsdb_available()) {
        return 0;
    }
    if (tsp_test_tsdb_dsn() == NULL) {
        return -1;
    }
    snprintf(dsn, sizeof(dsn), "%s", tsp_test_tsdb_dsn());
    db = PQconnectdb(dsn);
    if (PQstatus(db) != CONNECTION_OK) {
        fprintf(stderr, "cannot connect to %s: %s\n", dsn, PQerrorMessage(db));
        return -1;
    }
    exec_sql("SET client_min_messages = warning");
    exec_sql("CREATE EXTENSION IF NOT EXISTS timescaledb");
    exec_sql("DROP MATERIALIZED VIEW IF EXISTS lc_conditions_hourly CASCADE");
    exec_sql("DROP TABLE IF EXISTS lc_conditions, lc_plain, lc_many CASCADE");
    exec_sql("CREATE TABLE lc_plain (ts timestamptz NOT NULL, device integer, v float8)");
    exec_sql("CREATE INDEX lc_plain_device_ts ON lc_plain (device, ts)");
    exec_sql("CREATE TABLE lc_conditions (ts timestamptz NOT NULL, device_id integer, "
             "temperature float8)");
    exec_sql("CREATE INDEX lc_conditions_device_ts ON lc_conditions (device_id, ts)");
    svc_a = tsp_test_service_start(service_env());
    svc_b = tsp_test_service_start(service_env());
    if (svc_a == NULL || svc_b == NULL) {
        return -1;
    }
    *state = svc_a;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tsp_test_service_stop(svc_b);
    tsp_test_service_stop(svc_a);
    svc_a = NULL;
    svc_b = NULL;
    if (db != NULL) {
        /* the server is shared: leave no policy jobs behind for the suites after this one */
        PGresult *res = PQexec(db, "DROP MATERIALIZED VIEW IF EXISTS lc_conditions_hourly CASCADE; "
                                   "DROP TABLE IF EXISTS lc_conditions, lc_plain, lc_many CASCADE");
        PQclear(res);
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

static struct tsp_test_reply *admin(struct tsp_test_service *s, const char *method,
                                    const char *path, const char *body)
{
    const char *const headers[] = {"Authorization: Bearer " ADMIN, "Content-Type: application/json",
                                   NULL};
    char u[600];
    snprintf(u, sizeof(u), "%s%s", tsp_test_service_url(s), path);
    return tsp_test_http(method, u, headers, body);
}

static void test_create_interval_reorder(void **state)
{
    struct tsp_test_reply *r = NULL;
    json_t *advice = NULL;

    need_server(state);
    r = admin(svc_a, "POST", "/hypertables",
              "{\"name\": \"lc_plain\", \"time_column\": \"ts\", \"chunk_interval\": \"1 day\"}");
    assert_int_equal(r->status, 201);
    tsp_test_reply_free(r);
    /* again: 409 naming the table, unless if_not_exists */
    r = admin(svc_a, "POST", "/hypertables", "{\"name\": \"lc_plain\", \"time_column\": \"ts\"}");
    assert_int_equal(r->status, 409);
    assert_string_equal(tsp_test_json_str(r, "code"), "CONFLICT");
    tsp_test_reply_free(r);
    r = admin(svc_a, "POST", "/hypertables",
              "{\"name\": \"lc_plain\", \"time_column\": \"ts\", \"if_not_exists\": true}");
    assert_int_equal(r->status, 201);
    tsp_test_reply_free(r);
    /* an unknown table, a bad interval, a misspelt field */
    r = admin(svc_a, "POST", "/hypertables", "{\"name\": \"lc_nope\", \"time_column\": \"ts\"}");
    assert_int_equal(r->status, 404);
    tsp_test_reply_free(r);
    r = admin(svc_a, "PATCH", "/hypertables/lc_plain", "{\"chunk_interval\": \"banana\"}");
    assert_int_equal(r->status, 400);
    assert_string_equal(tsp_test_json_str(r, "field"), "chunk_interval");
    tsp_test_reply_free(r);
    r = admin(svc_a, "PATCH", "/hypertables/lc_plain", "{\"chunk_intervall\": \"1 day\"}");
    assert_int_equal(r->status, 400);
    tsp_test_reply_free(r);
    r = admin(svc_a, "PATCH", "/hypertables/lc_plain", "{\"chunk_interval\": \"6 hours\"}");
    assert_int_equal(r->status, 200);
    tsp_test_reply_free(r);
    r = admin(svc_a, "GET", "/hypertables/lc_plain", NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(json_string_value(json_object_get(r->json, "chunk_interval")), "06:00:00");
    advice = json_object_get(r->json, "chunk_interval_advice");
    assert_non_null(advice);
    assert_true(json_integer_value(json_object_get(advice, "shared_buffers_bytes")) > 0);
    tsp_test_reply_free(r);
    /* reorder policy: put, read, replace with an unknown index (the server refuses), delete */
    r = admin(svc_a, "PUT", "/hypertables/lc_plain/reorder-policy",
              "{\"index_name\": \"lc_plain_device_ts\"}");
    assert_int_equal(r->status, 200);
    assert_true(json_integer_value(json_object_get(r->json, "job_id")) > 0);
    tsp_test_reply_free(r);
    r = admin(svc_a, "GET", "/hypertables/lc_plain/reorder-policy", NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(tsp_test_json_str(r, "index_name"), "lc_plain_device_ts");
    tsp_test_reply_free(r);
    r = admin(svc_a, "DELETE", "/hypertables/lc_plain/reorder-policy", NULL);
    assert_int_equal(r->status, 200);
    tsp_test_reply_free(r);
    r = admin(svc_a, "GET", "/hypertables/lc_plain/reorder-policy", NULL);
    assert_int_equal(r->status, 404);
    tsp_test_reply_free(r);
}

/* ---- two tspool processes, one hypertable ---- */

struct slow_change {
    struct tsp_test_reply *reply;
};

static void *change_on_a(void *arg)
{
    struct slow_change *c = arg;
    c->reply = admin(svc_a, "PATCH", "/hypertables/lc_plain", "{\"chunk_interval\": \"2 days\"}");
    return NULL;
}

static bool a_waits_on_lock(void)
{
    PGconn *probe = PQconnectdb(dsn);
    bool waiting = false;

    for (int i = 0; i < 200 && !waiting && PQstatus(probe) == CONNECTION_OK; i++) {
        PGresult *res = PQexec(probe, "SELECT count(*) FROM pg_stat_activity WHERE "
                                      "wait_event_type = 'Lock' AND query LIKE "
                                      "'%set_chunk_time_interval%'");
        waiting = PQresultStatus(res) == PGRES_TUPLES_OK && atoi(PQgetvalue(res, 0, 0)) > 0;
        PQclear(res);
        if (!waiting) {
            tsp_test_sleep_ms(25);
        }
    }
    PQfinish(probe);
    return waiting;
}

static void test_two_processes_one_change_at_a_time(void **state)
{
    struct slow_change a = {NULL};
    struct tsp_test_reply *r = NULL;
    pthread_t thread;
    char retry[16];

    need_server(state);
    /* hold the hypertable's dimension row so that A's change waits inside the database while
       it holds the hypertable's advisory lock */
    exec_sql("BEGIN");
    exec_sql("SELECT 1 FROM _timescaledb_catalog.dimension WHERE hypertable_id = (SELECT id "
             "FROM _timescaledb_catalog.hypertable WHERE table_name = 'lc_plain') FOR UPDATE");
    assert_int_equal(pthread_create(&thread, NULL, change_on_a, &a), 0);
    assert_true(a_waits_on_lock());
    /* B (another process) changes the same hypertable: 409 at once, with Retry-After */
    r = admin(svc_b, "PATCH", "/hypertables/lc_plain", "{\"chunk_interval\": \"3 days\"}");
    assert_int_equal(r->status, 409);
    assert_string_equal(tsp_test_json_str(r, "code"), "CHANGE_IN_PROGRESS");
    assert_true(tsp_test_reply_header(r, "Retry-After", retry, sizeof(retry)));
    assert_string_equal(retry, "1");
    tsp_test_reply_free(r);
    /* the refusal is in B's audit log */
    char *log = tsp_test_service_stdout(svc_b);
    assert_non_null(log);
    assert_non_null(strstr(log, "\"outcome\":\"CHANGE_IN_PROGRESS\""));
    free(log);
    /* reads are not held up by it */
    r = admin(svc_b, "GET", "/hypertables/lc_plain", NULL);
    assert_int_equal(r->status, 200);
    tsp_test_reply_free(r);
    exec_sql("COMMIT");
    assert_int_equal(pthread_join(thread, NULL), 0);
    assert_non_null(a.reply);
    assert_int_equal(a.reply->status, 200);
    tsp_test_reply_free(a.reply);
    /* the lock went with A's change: B's retry goes through */
    r = admin(svc_b, "PATCH", "/hypertables/lc_plain", "{\"chunk_interval\": \"3 days\"}");
    assert_int_equal(r->status, 200);
    tsp_test_reply_free(r);
}

/* ---- tspool apply ---- */

static int apply(const char *const *args, char **out, char **err)
{
    static const char *const env[] = {"TSPOOL_ADMIN_TOKEN=" ADMIN, NULL};
    return tsp_test_run_cli(args, tsp_test_service_port(svc_a), env, out, err);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

#define DESIRED                                                                                    \
    "hypertables:\n"                                                                               \
    "  - name: lc_conditions\n"                                                                    \
    "    time_column: ts\n"                                                                        \
    "    chunk_interval: 1 day\n"                                                                  \
    "    compression:\n"                                                                           \
    "      segment_by: [device_id]\n"                                                              \
    "      order_by: [ts DESC]\n"                                                                  \
    "    compression_policy: {compress_after: 7 days, schedule_interval: 12 hours}\n"              \
    "    retention_policy: {drop_after: 90 days}\n"                                                \
    "    reorder_policy: {index_name: lc_conditions_device_ts}\n"                                  \
    "aggregates:\n"                                                                                \
    "  - name: lc_conditions_hourly\n"                                                             \
    "    hypertable: lc_conditions\n"                                                              \
    "    time_column: ts\n"                                                                        \
    "    bucket: 1 hour\n"                                                                         \
    "    group_by: [device_id]\n"                                                                  \
    "    aggregates: [{fn: avg, column: temperature, as: avg_temperature}]\n"                      \
    "    policy: {start_offset: 3 days, end_offset: 1 hour, schedule_interval: 1 hour}\n"

static void test_apply_twice_then_dry_run(void **state)
{
    char *out = NULL;
    char *err = NULL;
    char edited[2048];
    char *at = NULL;

    need_server(state);
    snprintf(source_file, sizeof(source_file), "tspool-it-desired-%d.yaml", (int)getpid());
    write_file(source_file, DESIRED);
    const char *const args[] = {"apply", source_file, NULL};
    assert_int_equal(apply(args, &out, &err), 0);
    assert_non_null(strstr(out, "hypertable lc_conditions: create"));
    assert_non_null(strstr(out, "compression_policy"));
    assert_non_null(strstr(out, "aggregate lc_conditions_hourly: create"));
    assert_non_null(strstr(out, "7 change(s) applied"));
    free(out);
    free(err);
    /* the second run finds nothing */
    assert_int_equal(apply(args, &out, &err), 0);
    assert_string_equal(out, "no changes\n");
    free(out);
    free(err);
    /* an edit, --dry-run: exit 2, one line for the difference, nothing changed */
    snprintf(edited, sizeof(edited), "%s", DESIRED);
    at = strstr(edited, "drop_after: 90 days");
    assert_non_null(at);
    memcpy(at, "drop_after: 30 days", strlen("drop_after: 30 days"));
    write_file(source_file, edited);
    const char *const dry[] = {"apply", source_file, "--dry-run", NULL};
    assert_int_equal(apply(dry, &out, &err), 2);
    assert_non_null(strstr(out, "retention_policy {\"drop_after\":\"90 days\"} -> "
                                "{\"drop_after\":\"30 days\"}"));
    free(out);
    free(err);
    PGresult *res = PQexec(db, "SELECT config->>'drop_after' FROM timescaledb_information.jobs "
                               "WHERE hypertable_name = 'lc_conditions' AND proc_name = "
                               "'policy_retention'");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(res, 0, 0), "90 days");
    PQclear(res);
    /* an invalid document: one line naming file, line and key; exit 1 */
    write_file(source_file, "hypertables:\n  - name: lc_conditions\n    chunk_intervall: 1 day\n");
    assert_int_equal(apply(args, &out, &err), 1);
    assert_non_null(strstr(err, ":3: /hypertables/0/chunk_intervall: unknown key"));
    free(out);
    free(err);
    remove(source_file);
}

/* ---- 5,000 chunks, page by page ---- */

static void test_many_chunks_paged(void **state)
{
    struct tsp_test_reply *r = NULL;
    char path[512];
    char cursor[300] = "";
    char last[128] = "";
    long long seen = 0;
    int pages = 0;

    need_server(state);
    exec_sql("CREATE TABLE lc_many (t bigint NOT NULL, v integer)");
    exec_sql("SELECT create_hypertable('lc_many', 't', chunk_time_interval => 1)");
    exec_sql("INSERT INTO lc_many SELECT g, 1 FROM generate_series(0, 4999) g");
    do {
        snprintf(path, sizeof(path), "/hypertables/lc_many/chunks?limit=1000%s%s",
                 cursor[0] != '\0' ? "&cursor=" : "", cursor);
        r = admin(svc_a, "GET", path, NULL);
        assert_int_equal(r->status, 200);
        json_t *chunks = json_object_get(r->json, "chunks");
        const json_t *next = json_object_get(r->json, "next_cursor");
        assert_true(json_array_size(chunks) <= 1000);
        for (size_t i = 0; i < json_array_size(chunks); i++) {
            const char *start =
                json_string_value(json_object_get(json_array_get(chunks, i), "range_start"));
            /* oldest first, each chunk once: the integer starts are 0, 1, 2, ... */
            assert_int_equal(atoll(start), seen);
            seen++;
            snprintf(last, sizeof(last), "%s", start);
        }
        snprintf(cursor, sizeof(cursor), "%s", json_is_string(next) ? json_string_value(next) : "");
        pages++;
        tsp_test_reply_free(r);
    } while (cursor[0] != '\0' && pages < 10);
    assert_int_equal(seen, 5000);
    assert_int_equal(pages, 5);
    assert_string_equal(last, "4999");
    /* a cursor this service did not make */
    r = admin(svc_a, "GET", "/hypertables/lc_many/chunks?cursor=c1zz", NULL);
    assert_int_equal(r->status, 400);
    assert_string_equal(tsp_test_json_str(r, "field"), "cursor");
    tsp_test_reply_free(r);
    r = admin(svc_a, "GET", "/hypertables/lc_many/chunks?limit=1001", NULL);
    assert_int_equal(r->status, 400);
    assert_string_equal(tsp_test_json_str(r, "field"), "limit");
    tsp_test_reply_free(r);
    /* the default page is 100, and the time bounds still apply */
    r = admin(svc_a, "GET", "/hypertables/lc_many/chunks?older_than=150", NULL);
    assert_int_equal(r->status, 200);
    assert_int_equal(json_array_size(json_object_get(r->json, "chunks")), 100);
    assert_true(json_is_string(json_object_get(r->json, "next_cursor")));
    tsp_test_reply_free(r);
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_interval_reorder),
        cmocka_unit_test(test_two_processes_one_change_at_a_time),
        cmocka_unit_test(test_apply_twice_then_dry_run),
        cmocka_unit_test(test_many_chunks_paged),
    };
    return cmocka_run_group_tests_name("ts_lifecycle", tests, setup, teardown);
}
