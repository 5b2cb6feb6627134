/* test_http_timescale.c - every TimescaleDB endpoint end to end through the built tspool
 * binary against a TimescaleDB test server (PGlite; the native server with
 * TSPOOL_TEST_TSDB=native; or TSPOOL_TEST_TSDB_DSN), and the 409 answers against plain
 * PostgreSQL 15.
 * SPDX-License-Identifier: MIT
 *
 * PGlite serves one connection at a time: there the service runs in direct mode, so no
 * connection stays open between requests and tsp_test_tsdb_query() can check the database in
 * between. A real server gets the pooled mode.
 */
#include "tsp_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_client.h"
#include "service_harness.h"

#define ADMIN "tsdb-admin-token"
#define HT    "tsp_http_metrics"
#define AGG   "tsp_http_metrics_hourly"

static struct tsp_test_service *svc;

static const char *url(const char *path)
{
    static char buf[600];
    snprintf(buf, sizeof(buf), "%s%s", tsp_test_service_url(svc), path);
    return buf;
}

/* One admin request with a JSON body (NULL = none). */
static struct tsp_test_reply *admin(const char *method, const char *path, const char *body)
{
    const char *const headers[] = {"Authorization: Bearer " ADMIN, "Content-Type: application/json",
                                   "X-Request-Id: it-ts-1", NULL};
    return tsp_test_http(method, url(path), headers, body);
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

static int setup(void **state)
{
    const char *env[16];
    const char *dsn = NULL;
    int n = 0;

    *state = NULL;
    if (!tsp_test_tsdb_available()) {
        return 0;
    }
    dsn = tsp_test_tsdb_dsn();
    if (dsn == NULL) {
        return -1;
    }
    exec_sql("CREATE EXTENSION IF NOT EXISTS timescaledb");
    exec_sql("DROP MATERIALIZED VIEW IF EXISTS " AGG " CASCADE");
    exec_sql("DROP TABLE IF EXISTS " HT " CASCADE");
    exec_sql("CREATE TABLE " HT " (ts timestamptz NOT NULL, device_id integer, value double "
             "precision)");
    exec_sql("SELECT create_hypertable('" HT "', by_range('ts', INTERVAL '1 day'))");
    exec_sql("INSERT INTO " HT " SELECT t, (extract(epoch FROM t)::bigint / 600) % 3, "
             "extract(epoch FROM t)::bigint % 100 FROM generate_series(date_trunc('day', now()) "
             "- INTERVAL '20 days', date_trunc('day', now()) - INTERVAL '10 minutes', INTERVAL "
             "'10 minutes') t");
    n = tsp_test_tsdb_env(env, 10);
    if (n < 0) {
        return -1;
    }
    /* PGlite serves one connection at a time; a real server gets the default pooled mode */
    env[n++] = tsp_test_tsdb_is_pglite() ? "DB_POOL_MODE=direct" : "DB_POOL_MODE=pooled";
    /* on PGlite a connection waits its turn behind the snapshot's (one at a time), which takes
     * seconds on a loaded machine */
    env[n++] = tsp_test_tsdb_is_pglite() ? "DB_CONNECT_TIMEOUT=30" : "DB_CONNECT_TIMEOUT=5";
    env[n++] = "DB_MIN_CONNS=0";
    env[n++] = "TSPOOL_ADMIN_TOKEN=" ADMIN;
    env[n++] = "TSPOOL_HEALTH_INTERVAL_MS=5000";
    env[n++] = "TSPOOL_TIMESCALEDB_REFRESH_MS=1000";
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
    return 0;
}

static void need_server(void **state)
{
    if (*state == NULL) {
        skip();
    }
}

static json_t *member(const struct tsp_test_reply *r, const char *key)
{
    return json_object_get(r->json, key);
}

static void test_http_timescaledb_capabilities(void **state)
{
    struct tsp_test_reply *r = NULL;

    need_server(state);
    r = tsp_test_get(url("/timescaledb"), NULL);
    assert_int_equal(r->status, 200);
    assert_true(json_is_true(member(r, "installed")));
    assert_true(json_is_true(json_object_get(member(r, "features"), "compression")));
    assert_true(json_is_true(json_object_get(member(r, "features"), "continuous_aggregates")));
    tsp_test_reply_free(r);
}

static void test_http_hypertables_list_and_get(void **state)
{
    struct tsp_test_reply *r = NULL;
    json_t *list = NULL;
    bool found = false;

    need_server(state);
    r = tsp_test_get(url("/hypertables"), NULL);
    assert_int_equal(r->status, 200);
    list = member(r, "hypertables");
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *h = json_array_get(list, i);
        if (strcmp(json_string_value(json_object_get(h, "name")), HT) == 0) {
            found = true;
            assert_int_equal(json_integer_value(json_object_get(h, "num_chunks")), 20);
            assert_string_equal(json_string_value(json_object_get(h, "time_column")), "ts");
        }
    }
    assert_true(found);
    tsp_test_reply_free(r);

    r = tsp_test_get(url("/hypertables/public." HT), NULL);
    assert_int_equal(r->status, 200);
    assert_non_null(member(r, "dimensions"));
    tsp_test_reply_free(r);

    r = tsp_test_get(url("/hypertables/no_such_table"), NULL);
    assert_int_equal(r->status, 404);
    assert_string_equal(tsp_test_json_str(r, "detail"), "hypertable \"no_such_table\" not found");
    tsp_test_reply_free(r);

    r = tsp_test_get(url("/hypertables/x%3B%20drop%20table%20y"), NULL);
    assert_int_equal(r->status, 400);
    assert_string_equal(tsp_test_json_str(r, "field"), "hypertable");
    tsp_test_reply_free(r);
}

static void test_http_compression_compress_decompress(void **state)
{
    struct tsp_test_reply *r = NULL;
    long long older;
    long long newer;

    need_server(state);
    r = admin("PUT", "/hypertables/" HT "/compression?dry_run=true",
              "{\"segment_by\": [\"device_id\"], \"order_by\": [\"ts DESC\"]}");
    assert_int_equal(r->status, 200);
    assert_true(json_is_true(member(r, "dry_run")));
    tsp_test_reply_free(r);
    r = admin("PUT", "/hypertables/" HT "/compression",
              "{\"segment_by\": [\"device_id\"], \"order_by\": [\"ts DESC\"]}");
    assert_int_equal(r->status, 200);
    tsp_test_reply_free(r);

    older = query_int("SELECT count(*) FROM show_chunks('" HT "', older_than => INTERVAL '7 "
                      "days')");
    r = admin("POST", "/hypertables/" HT "/compress", "{\"older_than\": \"7 days\"}");
    assert_int_equal(r->status, 200);
    assert_int_equal((long long)json_array_size(member(r, "chunks")), older);
    assert_true(json_integer_value(
                    json_object_get(json_array_get(member(r, "chunks"), 0), "bytes_after")) > 0);
    tsp_test_reply_free(r);
    assert_int_equal(query_int("SELECT count(*) FROM timescaledb_information.chunks WHERE "
                               "hypertable_name = '" HT "' AND is_compressed"),
                     older);

    r = tsp_test_get(url("/hypertables/" HT "/chunks?compressed=true"), NULL);
    assert_int_equal(r->status, 200);
    assert_int_equal((long long)json_array_size(member(r, "chunks")), older);
    tsp_test_reply_free(r);
    r = tsp_test_get(url("/hypertables/" HT "/chunks?older_than=7%20days&compressed=false"), NULL);
    assert_int_equal(r->status, 200);
    assert_int_equal(json_array_size(member(r, "chunks")), 0);
    tsp_test_reply_free(r);
    newer = query_int("SELECT count(*) FROM show_chunks('" HT "', newer_than => INTERVAL '7 "
                      "days')");
    r = tsp_test_get(url("/hypertables/" HT "/chunks?newer_than=7%20days"), NULL);
    assert_int_equal(r->status, 200);
    assert_int_equal((long long)json_array_size(member(r, "chunks")), newer);
    tsp_test_reply_free(r);
    r = tsp_test_get(url("/hypertables/" HT "/chunks?compressed=maybe"), NULL);
    assert_int_equal(r->status, 400);
    assert_string_equal(tsp_test_json_str(r, "field"), "compressed");
    tsp_test_reply_free(r);

    r = admin("POST", "/hypertables/" HT "/decompress", "{\"older_than\": \"15 days\"}");
    assert_int_equal(r->status, 200);
    tsp_test_reply_free(r);

    r = admin("POST", "/hypertables/" HT "/compress", "{\"older_than\": \"banana\"}");
    assert_int_equal(r->status, 400);
    assert_string_equal(tsp_test_json_str(r, "field"), "older_than");
    tsp_test_reply_free(r);

    r = tsp_test_http("POST", url("/hypertables/" HT "/compress"), NULL,
                      "{\"older_than\": \"7 days\"}");
    assert_int_equal(r->status, 401);
    tsp_test_reply_free(r);
}

static void policy_lifecycle(const char *path, const char *field)
{
    struct tsp_test_reply *r = NULL;
    char body[128];

    r = tsp_test_get(url(path), NULL);
    assert_int_equal(r->status, 404);
    tsp_test_reply_free(r);
    snprintf(body, sizeof(body), "{\"%s\": \"30 days\", \"schedule_interval\": \"6 hours\"}",
             field);
    r = admin("PUT", path, body);
    assert_int_equal(r->status, 200);
    assert_true(json_integer_value(member(r, "job_id")) > 0);
    tsp_test_reply_free(r);
    snprintf(body, sizeof(body), "{\"%s\": \"60 days\"}", field);
    r = admin("PUT", path, body);
    assert_int_equal(r->status, 200);
    tsp_test_reply_free(r);
    r = tsp_test_get(url(path), NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(tsp_test_json_str(r, field), "60 days");
    tsp_test_reply_free(r);
    r = admin("DELETE", path, NULL);
    assert_int_equal(r->status, 200);
    tsp_test_reply_free(r);
    r = admin("DELETE", path, NULL);
    assert_int_equal(r->status, 404);
    tsp_test_reply_free(r);
}

static void test_http_policies(void **state)
{
    need_server(state);
    policy_lifecycle("/hypertables/" HT "/compression-policy", "compress_after");
    policy_lifecycle("/hypertables/" HT "/retention-policy", "drop_after");
}

static void test_http_drop_chunks_dry_run_first(void **state)
{
    struct tsp_test_reply *r = NULL;
    long long before;
    long long going;

    need_server(state);
    before = query_int("SELECT count(*) FROM show_chunks('" HT "')");
    going = query_int("SELECT count(*) FROM show_chunks('" HT "', older_than => INTERVAL '17 "
                      "days')");
    r = admin("POST", "/hypertables/" HT "/drop-chunks?dry_run=true",
              "{\"older_than\": \"17 days\"}");
    assert_int_equal(r->status, 200);
    assert_int_equal((long long)json_array_size(member(r, "chunks")), going);
    tsp_test_reply_free(r);
    assert_int_equal(query_int("SELECT count(*) FROM show_chunks('" HT "')"), before);
    r = admin("POST", "/hypertables/" HT "/drop-chunks", "{\"older_than\": \"17 days\"}");
    assert_int_equal(r->status, 200);
    tsp_test_reply_free(r);
    assert_int_equal(query_int("SELECT count(*) FROM show_chunks('" HT "')"), before - going);
    r = admin("POST", "/hypertables/" HT "/drop-chunks", "{\"newer_than\": \"1 day\"}");
    assert_int_equal(r->status, 400);
    assert_string_equal(tsp_test_json_str(r, "field"), "older_than");
    tsp_test_reply_free(r);
}

static void test_http_aggregates(void **state)
{
    struct tsp_test_reply *r = NULL;
    const char *spec = "{\"name\": \"" AGG "\", \"hypertable\": \"" HT "\", \"time_column\": "
                       "\"ts\", \"bucket\": \"1 hour\", \"group_by\": [\"device_id\"], "
                       "\"aggregates\": [{\"fn\": \"avg\", \"column\": \"value\", \"as\": "
                       "\"avg_value\"}, {\"fn\": \"max\", \"column\": \"value\", \"as\": "
                       "\"max_value\"}], \"with_data\": false}";

    need_server(state);
    r = admin("POST", "/aggregates", spec);
    assert_int_equal(r->status, 201);
    tsp_test_reply_free(r);
    r = admin("POST", "/aggregates", spec);
    assert_int_equal(r->status, 409);
    tsp_test_reply_free(r);
    r = tsp_test_get(url("/aggregates/" AGG), NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(tsp_test_json_str(r, "bucket"), "01:00:00");
    tsp_test_reply_free(r);
    r = admin("PUT", "/aggregates/" AGG "/policy",
              "{\"start_offset\": \"3 days\", \"end_offset\": \"1 hour\", "
              "\"schedule_interval\": \"1 hour\"}");
    assert_int_equal(r->status, 200);
    tsp_test_reply_free(r);
    r = admin("POST", "/aggregates/" AGG "/refresh", "{\"start\": null, \"end\": null}");
    assert_int_equal(r->status, 200);
    tsp_test_reply_free(r);
    assert_true(query_int("SELECT count(*) FROM " AGG) > 0);
    r = tsp_test_get(url("/aggregates"), NULL);
    assert_int_equal(r->status, 200);
    assert_true(json_array_size(member(r, "aggregates")) >= 1);
    tsp_test_reply_free(r);
    r = admin("DELETE", "/aggregates/" AGG "/policy", NULL);
    assert_int_equal(r->status, 200);
    tsp_test_reply_free(r);
    r = admin("DELETE", "/aggregates/" AGG, NULL);
    assert_int_equal(r->status, 200);
    tsp_test_reply_free(r);
    r = tsp_test_get(url("/aggregates/" AGG), NULL);
    assert_int_equal(r->status, 404);
    tsp_test_reply_free(r);
}

/* The snapshot behind /metrics on PGlite: per-hypertable figures equal what the server says. */
static void test_http_metrics_snapshot(void **state)
{
    struct tsp_test_reply *r = NULL;
    long long chunks = 0;
    long long compressed = 0;
    char line[256];
    char line2[256];
    bool found = false;

    need_server(state);
    chunks = query_int("SELECT count(*) FROM show_chunks('" HT "')");
    compressed = query_int("SELECT count(*) FROM timescaledb_information.chunks WHERE "
                           "hypertable_name = '" HT "' AND is_compressed");
    snprintf(line, sizeof(line),
             "tspool_timescaledb_hypertable_chunks{hypertable=\"public." HT "\"} %lld\n", chunks);
    snprintf(line2, sizeof(line2),
             "tspool_timescaledb_hypertable_compressed_chunks{hypertable=\"public." HT "\"} %lld\n",
             compressed);
    /* the snapshot refreshes every second: the next one shows what the server says now */
    for (int i = 0; i < 100 && !found; i++) {
        r = tsp_test_get(url("/metrics"), NULL);
        assert_int_equal(r->status, 200);
        found = strstr(r->body, "tspool_timescaledb_snapshot_success 1\n") != NULL &&
                strstr(r->body, "tspool_timescaledb_installed 1\n") != NULL &&
                strstr(r->body, line) != NULL && strstr(r->body, line2) != NULL;
        tsp_test_reply_free(r);
        if (!found) {
            tsp_test_sleep_ms(100);
        }
    }
    assert_true(found);
}

static void test_http_jobs(void **state)
{
    struct tsp_test_reply *r = NULL;
    long long job_id;
    char path[64];

    need_server(state);
    r = admin("PUT", "/hypertables/" HT "/retention-policy", "{\"drop_after\": \"365 days\"}");
    assert_int_equal(r->status, 200);
    job_id = json_integer_value(member(r, "job_id"));
    tsp_test_reply_free(r);
    r = tsp_test_get(url("/jobs"), NULL);
    assert_int_equal(r->status, 200);
    assert_true(json_array_size(member(r, "jobs")) >= 1);
    tsp_test_reply_free(r);
    snprintf(path, sizeof(path), "/jobs/%lld/run", job_id);
    r = admin("POST", path, NULL);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(tsp_test_json_str(r, "note"), "/jobs/{id}/history"));
    tsp_test_reply_free(r);
    /* PGlite has no scheduler: the run tspool made is the job's history */
    snprintf(path, sizeof(path), "/jobs/%lld/history", job_id);
    r = tsp_test_get(url(path), NULL);
    assert_int_equal(r->status, 200);
    assert_int_equal(json_array_size(member(r, "runs")), 1);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(member(r, "runs"), 0), "source")),
        "tspool");
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(member(r, "runs"), 0), "outcome")),
        "success");
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(member(r, "runs"), 0), "request_id")),
        "it-ts-1");
    tsp_test_reply_free(r);
    r = tsp_test_get(url("/jobs/errors?since=1%20hour"), NULL);
    assert_int_equal(r->status, 200);
    tsp_test_reply_free(r);
    snprintf(path, sizeof(path), "/jobs/%lld", job_id);
    r = admin("PATCH", path, "{\"schedule_interval\": \"2 hours\", \"scheduled\": false}");
    assert_int_equal(r->status, 200);
    tsp_test_reply_free(r);
    r = tsp_test_get(url(path), NULL);
    assert_int_equal(r->status, 200);
    assert_true(json_is_false(member(r, "scheduled")));
    assert_string_equal(tsp_test_json_str(r, "schedule_interval"), "02:00:00");
    tsp_test_reply_free(r);
    r = tsp_test_get(url("/jobs/999999"), NULL);
    assert_int_equal(r->status, 404);
    tsp_test_reply_free(r);
    r = tsp_test_get(url("/jobs/abc"), NULL);
    assert_int_equal(r->status, 400);
    tsp_test_reply_free(r);
}

/* ---- plain PostgreSQL 15 ---- */

static int pg_setup(void **state)
{
    static const char *const env[] = {"TSPOOL_ADMIN_TOKEN=" ADMIN, NULL};
    *state = NULL;
    if (!tsp_test_pg_available()) {
        return 0;
    }
    svc = tsp_test_service_start(env);
    if (svc == NULL) {
        return -1;
    }
    *state = svc;
    return 0;
}

static void test_http_plain_postgres_answers_409(void **state)
{
    static const struct {
        const char *method;
        const char *path;
        const char *body;
    } calls[] = {
        {"GET", "/hypertables", NULL},
        {"GET", "/hypertables/m", NULL},
        {"GET", "/hypertables/m/chunks", NULL},
        {"PUT", "/hypertables/m/compression", "{\"segment_by\": [\"d\"]}"},
        {"POST", "/hypertables/m/compress", "{\"older_than\": \"7 days\"}"},
        {"POST", "/hypertables/m/decompress", "{\"older_than\": \"7 days\"}"},
        {"GET", "/hypertables/m/compression-policy", NULL},
        {"PUT", "/hypertables/m/compression-policy", "{\"compress_after\": \"7 days\"}"},
        {"DELETE", "/hypertables/m/compression-policy", NULL},
        {"GET", "/hypertables/m/retention-policy", NULL},
        {"PUT", "/hypertables/m/retention-policy", "{\"drop_after\": \"7 days\"}"},
        {"DELETE", "/hypertables/m/retention-policy", NULL},
        {"POST", "/hypertables/m/drop-chunks", "{\"older_than\": \"7 days\"}"},
        {"GET", "/aggregates", NULL},
        {"POST", "/aggregates",
         "{\"name\": \"a\", \"hypertable\": \"m\", \"time_column\": \"ts\", \"bucket\": \"1 "
         "hour\", \"aggregates\": [{\"fn\": \"avg\", \"column\": \"v\", \"as\": \"x\"}]}"},
        {"GET", "/aggregates/a", NULL},
        {"DELETE", "/aggregates/a", NULL},
        {"PUT", "/aggregates/a/policy", "{\"schedule_interval\": \"1 hour\"}"},
        {"DELETE", "/aggregates/a/policy", NULL},
        {"POST", "/aggregates/a/refresh", "{}"},
        {"GET", "/jobs", NULL},
        {"GET", "/jobs/1", NULL},
        {"PATCH", "/jobs/1", "{\"scheduled\": false}"},
        {"POST", "/jobs/1/run", NULL},
    };
    struct tsp_test_reply *r = NULL;

    need_server(state);
    r = tsp_test_get(url("/timescaledb"), NULL);
    assert_int_equal(r->status, 200);
    assert_true(json_is_false(member(r, "installed")));
    tsp_test_reply_free(r);
    /* a missing capability is reported even before a body is looked at */
    r = tsp_test_http("POST", url("/hypertables/m/compress"),
                      (const char *const[]){"Authorization: Bearer " ADMIN, NULL}, NULL);
    assert_int_equal(r->status, 409);
    tsp_test_reply_free(r);
    for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
        r = admin(calls[i].method, calls[i].path, calls[i].body);
        if (r->status != 409 ||
            strcmp(tsp_test_json_str(r, "detail") != NULL ? tsp_test_json_str(r, "detail") : "",
                   "extension timescaledb is not installed in database \"postgres\"") != 0) {
            fail_msg("%s %s: %ld %s", calls[i].method, calls[i].path, r->status, r->body);
        }
        tsp_test_reply_free(r);
    }
}

int tsp_test_run(void)
{
    const struct CMUnitTest tsdb_tests[] = {
        cmocka_unit_test(test_http_timescaledb_capabilities),
        cmocka_unit_test(test_http_hypertables_list_and_get),
        cmocka_unit_test(test_http_compression_compress_decompress),
        cmocka_unit_test(test_http_policies),
        cmocka_unit_test(test_http_drop_chunks_dry_run_first),
        cmocka_unit_test(test_http_aggregates),
        cmocka_unit_test(test_http_jobs),
        cmocka_unit_test(test_http_metrics_snapshot),
    };
    const struct CMUnitTest pg_tests[] = {
        cmocka_unit_test(test_http_plain_postgres_answers_409),
    };
    int failures = 0;

    fprintf(stderr, "TimescaleDB test server: %s\n", tsp_test_tsdb_server_name());
    failures += cmocka_run_group_tests_name("http_timescale", tsdb_tests, setup, teardown);
    /* plain PostgreSQL once, in the PGlite entry */
    if (!tsp_test_tsdb_native_run()) {
        failures += cmocka_run_group_tests_name("http_timescale_plain_postgres", pg_tests, pg_setup,
                                                teardown);
    }
    return failures;
}
