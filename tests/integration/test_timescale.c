/* test_timescale.c - every TimescaleDB operation end to end through a real pool against a
 * TimescaleDB test server (PGlite; the native server with TSPOOL_TEST_TSDB=native; or
 * TSPOOL_TEST_TSDB_DSN), and the 409 answers against plain PostgreSQL 15.
 * SPDX-License-Identifier: MIT
 *
 * PGlite serves one connection at a time, so there the pool runs in direct mode (connect per
 * borrow, close on return) and the checks through tsp_test_tsdb_query() never overlap a lease.
 * A real server gets a pool of kept connections, and its job scheduler runs every policy the
 * tests create right away: no assertion depends on a policy not having run.
 */
#include "tsp_test.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tspool/config.h"
#include "tspool/log.h"
#include "tspool/pool.h"
#include "timescale_int.h"
#include "tspool/timescale.h"

#define HT  "tsp_it_metrics"
#define AGG "tsp_it_metrics_hourly"
/* rows of the aggregate outside its refresh policy's window (3 days to 1 hour ago) */
#define AGG_OLD_ROWS "SELECT count(*) FROM " AGG " WHERE bucket < now() - INTERVAL '4 days'"

struct fixture {
    struct tsp_config cfg;
    char *conninfo[6]; /* host, port, dbname, user, password, sslmode (malloc'd) */
    struct tsp_connector connector;
    struct tsp_pool *pool;
    struct tsp_ts *ts;
    FILE *log;
    int api; /* -1 names by version, 0 classic names forced */
};

/* A hand-built configuration for dsn (the config loader is not under test here). */
static void fixture_config(struct fixture *fx, const char *dsn)
{
    static const char *const keys[6] = {"host", "port", "dbname", "user", "password", "sslmode"};
    static const char *const fallback[6] = {"127.0.0.1", "5432", "postgres",
                                            "postgres",  "",     "disable"};
    PQconninfoOption *opts = NULL;
    char *errmsg = NULL;

    opts = PQconninfoParse(dsn, &errmsg);
    assert_non_null(opts);
    for (int i = 0; i < 6; i++) {
        const char *value = fallback[i];
        for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
            if (strcmp(o->keyword, keys[i]) == 0 && o->val != NULL && o->val[0] != '\0') {
                value = o->val;
            }
        }
        fx->conninfo[i] = strdup(value);
        assert_non_null(fx->conninfo[i]);
    }
    PQconninfoFree(opts);
    memset(&fx->cfg, 0, sizeof(fx->cfg));
    fx->cfg.db_host = fx->conninfo[0];
    fx->cfg.db_port = fx->conninfo[1];
    fx->cfg.db_name = fx->conninfo[2];
    fx->cfg.db_user = fx->conninfo[3];
    fx->cfg.db_pass = fx->conninfo[4][0] != '\0' ? fx->conninfo[4] : NULL;
    fx->cfg.db_sslmode = fx->conninfo[5];
    fx->cfg.db_connect_timeout_s = 10;
    fx->cfg.db_statement_timeout_ms = 0;
    fx->cfg.db_application_name = (char *)(uintptr_t) "tspool_test_timescale";
    fx->cfg.db_target_session_attrs = (char *)(uintptr_t) "any";
    fx->cfg.db_max_conns = 1;
    fx->cfg.db_pool_mode = TSP_POOL_MODE_DIRECT;
    fx->cfg.pool_size = 1;
    fx->cfg.pool_mode = TSP_POOL_MODE_DIRECT;
}

/* pooled: a pool of 4 kept connections (PostgreSQL); else direct mode, one connection at a
 * time (PGlite). */
static int fixture_open(struct fixture *fx, const char *dsn, bool pooled)
{
    struct tsp_pool_options opts;
    struct tsp_error err;

    memset(&opts, 0, sizeof(opts));
    opts.mode = pooled ? TSP_POOL_MODE_POOLED : TSP_POOL_MODE_DIRECT;
    opts.size = pooled ? 4 : 1;
    opts.max_overflow = 0;
    opts.min_idle = 0;
    opts.timeout_ms = 60000;
    opts.preping_idle_ms = 60000;
    opts.health_interval_ms = 60000;
    opts.maintenance_interval_ms = 250;
    fixture_config(fx, dsn);
    tsp_error_init(&err);
    if (tsp_pool_pg_connector(&fx->cfg, &fx->connector, &err) != TSP_OK ||
        tsp_pool_new(&opts, &fx->connector, &fx->pool, &err) != TSP_OK) {
        fprintf(stderr, "pool: %s\n", err.detail);
        return -1;
    }
    if (tsp_ts_new(fx->pool, &fx->ts, &err) != TSP_OK) {
        fprintf(stderr, "ts: %s\n", err.detail);
        return -1;
    }
    /* audit records go to a file the tests read back */
    fx->log = tmpfile();
    assert_non_null(fx->log);
    tsp_log_setup(TSP_LOG_LEVEL_INFO, TSP_LOG_FORMAT_JSON, fx->log);
    return 0;
}

static void fixture_close(struct fixture *fx)
{
    tsp_log_setup(TSP_LOG_LEVEL_INFO, TSP_LOG_FORMAT_JSON, NULL);
    tsp_ts_free(fx->ts);
    tsp_pool_free(fx->pool);
    for (int i = 0; i < 6; i++) {
        free(fx->conninfo[i]);
    }
    if (fx->log != NULL) {
        fclose(fx->log);
    }
    free(fx);
}

/* Run SQL on the TimescaleDB test server and expect it to succeed. */
static char *must_query(const char *sql)
{
    char *out = tsp_test_tsdb_query(sql);
    if (out == NULL) {
        fail_msg("query failed: %s", sql);
    }
    return out;
}

static long long query_int(const char *sql)
{
    char *v = must_query(sql);
    long long n = atoll(v);
    free(v);
    return n;
}

static void exec_sql(const char *sql)
{
    free(must_query(sql));
}

/* The group's fixture; skips the test when the group had no server to run against (the
 * reason was printed by the harness). */
static struct fixture *fixture_of(void **state)
{
    if (*state == NULL) {
        skip();
    }
    return *state;
}

static int group_setup_api(void **state, int columnstore)
{
    struct fixture *fx = NULL;
    const char *dsn = NULL;

    *state = NULL;
    if (!tsp_test_tsdb_available()) {
        return 0; /* node/npm cannot run here: every test skips */
    }
    dsn = tsp_test_tsdb_dsn();
    if (dsn == NULL) {
        fprintf(stderr, "TimescaleDB test server failed to start\n");
        return -1;
    }
    exec_sql("CREATE EXTENSION IF NOT EXISTS timescaledb");
    exec_sql("DROP MATERIALIZED VIEW IF EXISTS " AGG " CASCADE");
    exec_sql("DROP TABLE IF EXISTS " HT " CASCADE");
    exec_sql("CREATE TABLE " HT " (ts timestamptz NOT NULL, device_id integer, value double "
             "precision)");
    exec_sql("SELECT create_hypertable('" HT "', by_range('ts', INTERVAL '1 day'))");
    /* 20 whole days of data, aligned to midnight: exactly 20 one-day chunks */
    exec_sql("INSERT INTO " HT " SELECT t, (extract(epoch FROM t)::bigint / 600) % 3, "
             "extract(epoch FROM t)::bigint % 100 FROM generate_series(date_trunc('day', now()) "
             "- INTERVAL '20 days', date_trunc('day', now()) - INTERVAL '10 minutes', INTERVAL "
             "'10 minutes') t");
    fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    /* PGlite: one connection at a time; a real server: a pool of kept connections */
    if (fixture_open(fx, dsn, !tsp_test_tsdb_is_pglite()) != 0) {
        fixture_close(fx);
        return -1;
    }
    tsp_ts_caps_override_api(fx->ts, columnstore);
    fx->api = columnstore;
    *state = fx;
    return 0;
}

/* The names the server's version asks for (2.18+: the columnstore procedures). */
static int group_setup(void **state)
{
    return group_setup_api(state, -1);
}

/* The classic names (compress_chunk, add_compression_policy, ...), which 2.18+ still has:
 * what servers before 2.18 run. */
static int group_setup_classic(void **state)
{
    return group_setup_api(state, 0);
}

static int group_teardown(void **state)
{
    struct fixture *fx = *state;
    if (fx != NULL) {
        fixture_close(fx);
    }
    return 0;
}

/* True when the audit log holds a line with all of the given fragments. */
static bool audit_has(struct fixture *fx, const char *a, const char *b)
{
    char line[8192];
    bool found = false;

    fflush(fx->log);
    rewind(fx->log);
    while (fgets(line, sizeof(line), fx->log) != NULL) {
        if (strstr(line, "\"timescale.audit\"") != NULL && strstr(line, a) != NULL &&
            strstr(line, b) != NULL) {
            found = true;
        }
    }
    fseek(fx->log, 0, SEEK_END);
    return found;
}

static void test_tsp_ts_caps_get_timescaledb(void **state)
{
    struct fixture *fx = fixture_of(state);
    struct tsp_ts_caps caps;
    struct tsp_error err;
    char *version = NULL;

    tsp_error_init(&err);
    assert_int_equal(tsp_ts_caps_get(fx->ts, NULL, &caps, &err), TSP_OK);
    version = must_query("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'");
    assert_true(caps.installed);
    assert_string_equal(caps.version, version);
    assert_true(caps.version_num >= 20000);
    assert_true(caps.hypertables);
    assert_true(caps.compression && caps.continuous_aggregates && caps.jobs);
    assert_int_equal(caps.columnstore_api, fx->api < 0 && caps.version_num >= 21800);
    assert_true(caps.server_version_num >= 150000);
    assert_int_equal(tsp_ts_require(fx->ts, NULL, TSP_TS_FEATURE_AGGREGATES, &err), TSP_OK);
    free(version);
}

static void test_tsp_ts_hypertables_list_has_table(void **state)
{
    struct fixture *fx = fixture_of(state);
    struct tsp_hypertable *list = NULL;
    size_t count = 0;
    struct tsp_error err;
    bool found = false;

    tsp_error_init(&err);
    assert_int_equal(tsp_ts_hypertables_list(fx->ts, NULL, &list, &count, &err), TSP_OK);
    for (size_t i = 0; i < count; i++) {
        if (strcmp(list[i].name, HT) == 0) {
            found = true;
            assert_string_equal(list[i].schema, "public");
            assert_string_equal(list[i].time_column, "ts");
            assert_string_equal(list[i].chunk_interval, "1 day");
            assert_int_equal(list[i].num_chunks, 20);
            assert_true(list[i].total_bytes > 0);
        }
    }
    assert_true(found);
    free(list);
}

static void test_tsp_ts_hypertable_get_unknown_and_invalid(void **state)
{
    struct fixture *fx = fixture_of(state);
    struct tsp_hypertable *h = calloc(1, sizeof(*h));
    struct tsp_error err;

    assert_non_null(h);
    tsp_error_init(&err);
    assert_int_equal(tsp_ts_hypertable_get(fx->ts, NULL, "no_such_table", h, &err), TSP_NOT_FOUND);
    assert_string_equal(err.detail, "hypertable \"no_such_table\" not found");
    tsp_error_init(&err);
    assert_int_equal(tsp_ts_hypertable_get(fx->ts, NULL, "pg_class", h, &err), TSP_NOT_FOUND);
    assert_string_equal(err.detail, "\"pg_class\" is not a hypertable");
    tsp_error_init(&err);
    assert_int_equal(tsp_ts_hypertable_get(fx->ts, NULL, "x; drop table y", h, &err), TSP_INVALID);
    assert_string_equal(err.field, "hypertable");
    free(h);
}

static void test_tsp_ts_compression_set_then_get(void **state)
{
    struct fixture *fx = fixture_of(state);
    struct tsp_ts_compression_spec spec = {1, {"device_id"}, 1, {"ts DESC"}};
    struct tsp_ts_ctx dry = {.request_id = "req-dry", .role = "admin", .dry_run = true};
    struct tsp_ts_ctx ctx = {.request_id = "req-compression", .role = "admin"};
    struct tsp_ts_change change = {0};
    struct tsp_hypertable *h = calloc(1, sizeof(*h));
    struct tsp_error err;

    assert_non_null(h);
    tsp_error_init(&err);
    assert_int_equal(tsp_ts_compression_set(fx->ts, &dry, HT, &spec, &change, &err), TSP_OK);
    assert_true(change.dry_run);
    assert_int_equal(change.nstmts, 1);
    assert_non_null(strstr(change.stmts[0].sql, "ALTER TABLE \"public\".\"" HT "\" SET ("));
    tsp_ts_change_fini(&change);
    assert_int_equal(query_int("SELECT count(*) FROM timescaledb_information.hypertables WHERE "
                               "hypertable_name = '" HT "' AND compression_enabled"),
                     0);

    assert_int_equal(tsp_ts_compression_set(fx->ts, &ctx, HT, &spec, &change, &err), TSP_OK);
    assert_false(change.dry_run);
    tsp_ts_change_fini(&change);
    assert_int_equal(tsp_ts_hypertable_get(fx->ts, NULL, "public." HT, h, &err), TSP_OK);
    assert_true(h->compression_enabled);
    assert_int_equal(h->nsegment_by, 1);
    assert_string_equal(h->segment_by[0], "device_id");
    assert_int_equal(h->norder_by, 1);
    assert_string_equal(h->order_by[0].column, "ts");
    assert_true(h->order_by[0].desc);
    assert_int_equal(h->ndimensions, 1);
    assert_string_equal(h->dimensions[0].column, "ts");
    assert_string_equal(h->dimensions[0].interval, "1 day");
    assert_true(audit_has(fx, "\"request_id\":\"req-compression\"", "\"outcome\":\"OK\""));
    assert_true(audit_has(fx, "\"request_id\":\"req-dry\"", "\"outcome\":\"dry_run\""));
    free(h);
}

static void test_tsp_ts_chunks_compress_and_decompress_by_age(void **state)
{
    struct fixture *fx = fixture_of(state);
    struct tsp_ts_chunk_filter older7 = {"7 days", NULL, -1};
    struct tsp_ts_chunk_filter older15 = {"15 days", NULL, -1};
    struct tsp_ts_ctx dry = {.dry_run = true};
    struct tsp_ts_caps caps;
    struct tsp_ts_change change = {0};
    struct tsp_ts_chunk *chunks = NULL;
    size_t count = 0;
    long long expected;
    struct tsp_error err;

    expected = query_int("SELECT count(*) FROM show_chunks('" HT "', older_than => INTERVAL '7 "
                         "days')");
    assert_true(expected >= 12);
    tsp_error_init(&err);
    assert_int_equal(tsp_ts_chunks_list(fx->ts, NULL, HT, &older7, &chunks, &count, &err), TSP_OK);
    assert_int_equal((long long)count, expected);
    assert_false(chunks[0].compressed);
    assert_true(chunks[0].total_bytes > 0);
    assert_true(strcmp(chunks[0].range_start, chunks[count - 1].range_start) < 0);
    free(chunks);

    assert_int_equal(tsp_ts_chunks_compress(fx->ts, &dry, HT, true, &older7, &change, &err),
                     TSP_OK);
    assert_int_equal((long long)change.nchunks, expected);
    assert_int_equal((long long)change.nstmts, expected);
    assert_int_equal(tsp_ts_caps_get(fx->ts, NULL, &caps, &err), TSP_OK);
    assert_string_equal(
        change.stmts[0].sql,
        caps.columnstore_api
            ? "CALL convert_to_columnstore($1::regclass, if_not_columnstore => true)"
            : "SELECT compress_chunk($1::regclass, if_not_compressed => true)");
    assert_int_equal(change.atomic, !caps.columnstore_api);
    tsp_ts_change_fini(&change);
    assert_int_equal(query_int("SELECT count(*) FROM timescaledb_information.chunks WHERE "
                               "hypertable_name = '" HT "' AND is_compressed"),
                     0);

    assert_int_equal(tsp_ts_chunks_compress(fx->ts, NULL, HT, true, &older7, &change, &err),
                     TSP_OK);
    assert_int_equal((long long)change.nchunks, expected);
    for (size_t i = 0; i < change.nchunks; i++) {
        assert_true(change.chunks[i].chunk.compressed);
        assert_true(change.chunks[i].bytes_before > 0);
        assert_true(change.chunks[i].bytes_after > 0);
        assert_true(change.chunks[i].chunk.after_compression_bytes > 0);
    }
    tsp_ts_change_fini(&change);
    assert_int_equal(query_int("SELECT count(*) FROM timescaledb_information.chunks WHERE "
                               "hypertable_name = '" HT "' AND is_compressed"),
                     expected);

    /* compressed filter */
    struct tsp_ts_chunk_filter only_compressed = {NULL, NULL, 1};
    assert_int_equal(tsp_ts_chunks_list(fx->ts, NULL, HT, &only_compressed, &chunks, &count, &err),
                     TSP_OK);
    assert_int_equal((long long)count, expected);
    free(chunks);

    /* decompress the oldest ones only */
    long long older = query_int("SELECT count(*) FROM show_chunks('" HT "', older_than => "
                                "INTERVAL '15 days')");
    assert_int_equal(tsp_ts_chunks_compress(fx->ts, NULL, HT, false, &older15, &change, &err),
                     TSP_OK);
    assert_int_equal((long long)change.nchunks, older);
    assert_false(change.chunks[0].chunk.compressed);
    tsp_ts_change_fini(&change);
    assert_int_equal(query_int("SELECT count(*) FROM timescaledb_information.chunks WHERE "
                               "hypertable_name = '" HT "' AND is_compressed"),
                     expected - older);
}

static void test_tsp_ts_chunks_compress_requires_selection(void **state)
{
    struct fixture *fx = fixture_of(state);
    struct tsp_ts_chunk_filter none = {NULL, NULL, -1};
    struct tsp_ts_chunk_filter bad = {"banana", NULL, -1};
    struct tsp_ts_change change = {0};
    struct tsp_error err;

    tsp_error_init(&err);
    assert_int_equal(tsp_ts_chunks_compress(fx->ts, NULL, HT, true, &none, &change, &err),
                     TSP_INVALID);
    assert_string_equal(err.field, "older_than");
    tsp_error_init(&err);
    assert_int_equal(tsp_ts_chunks_compress(fx->ts, NULL, HT, true, &bad, &change, &err),
                     TSP_INVALID);
    assert_string_equal(err.field, "older_than");
    assert_string_equal(err.sqlstate, "22007");
    assert_non_null(strstr(err.detail, "\"banana\""));
}

static void test_policy_put_replace_delete(struct fixture *fx, enum tsp_ts_policy_kind kind,
                                           const char *proc)
{
    struct tsp_ts_change change = {0};
    struct tsp_ts_policy policy;
    struct tsp_error err;
    char sql[256];
    long long first_job;

    tsp_error_init(&err);
    assert_int_equal(tsp_ts_policy_get(fx->ts, NULL, HT, kind, &policy, &err), TSP_NOT_FOUND);
    tsp_error_init(&err);
    assert_int_equal(tsp_ts_policy_put(fx->ts, NULL, HT, kind, "30 days", "6 hours", &change, &err),
                     TSP_OK);
    first_job = change.job_id;
    assert_true(first_job > 0);
    tsp_ts_change_fini(&change);
    assert_int_equal(tsp_ts_policy_get(fx->ts, NULL, HT, kind, &policy, &err), TSP_OK);
    assert_int_equal(policy.job_id, first_job);
    assert_string_equal(policy.after, "30 days");
    assert_string_equal(policy.schedule_interval, "06:00:00");

    /* PUT replaces */
    assert_int_equal(tsp_ts_policy_put(fx->ts, NULL, HT, kind, "60 days", NULL, &change, &err),
                     TSP_OK);
    assert_true(change.job_id > 0);
    assert_true(change.job_id != first_job);
    tsp_ts_change_fini(&change);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM timescaledb_information.jobs WHERE hypertable_name = '" HT
             "' AND proc_name = '%s'",
             proc);
    assert_int_equal(query_int(sql), 1);
    assert_int_equal(tsp_ts_policy_get(fx->ts, NULL, HT, kind, &policy, &err), TSP_OK);
    assert_string_equal(policy.after, "60 days");

    /* a bad value names its field and changes nothing */
    tsp_error_init(&err);
    assert_int_equal(tsp_ts_policy_put(fx->ts, NULL, HT, kind, "sixty days", NULL, &change, &err),
                     TSP_INVALID);
    assert_string_equal(err.field,
                        kind == TSP_TS_POLICY_RETENTION ? "drop_after" : "compress_after");
    tsp_error_init(&err);
    assert_int_equal(tsp_ts_policy_get(fx->ts, NULL, HT, kind, &policy, &err), TSP_OK);
    assert_string_equal(policy.after, "60 days");

    assert_int_equal(tsp_ts_policy_delete(fx->ts, NULL, HT, kind, &change, &err), TSP_OK);
    tsp_ts_change_fini(&change);
    assert_int_equal(query_int(sql), 0);
    assert_int_equal(tsp_ts_policy_delete(fx->ts, NULL, HT, kind, &change, &err), TSP_NOT_FOUND);
}

static void test_tsp_ts_compression_policy_lifecycle(void **state)
{
    test_policy_put_replace_delete(fixture_of(state), TSP_TS_POLICY_COMPRESSION,
                                   "policy_compression");
}

static void test_tsp_ts_retention_policy_lifecycle(void **state)
{
    test_policy_put_replace_delete(fixture_of(state), TSP_TS_POLICY_RETENTION, "policy_retention");
}

static void test_tsp_ts_chunks_drop_dry_run_first(void **state)
{
    struct fixture *fx = fixture_of(state);
    struct tsp_ts_chunk_filter older = {"17 days", NULL, -1};
    struct tsp_ts_ctx dry = {.dry_run = true};
    struct tsp_ts_change change = {0};
    struct tsp_error err;
    long long before = query_int("SELECT count(*) FROM show_chunks('" HT "')");
    long long going = query_int("SELECT count(*) FROM show_chunks('" HT "', older_than => "
                                "INTERVAL '17 days')");

    assert_true(going >= 2);
    tsp_error_init(&err);
    assert_int_equal(tsp_ts_chunks_drop(fx->ts, &dry, HT, &older, &change, &err), TSP_OK);
    assert_int_equal((long long)change.nchunks, going);
    assert_true(change.dry_run);
    tsp_ts_change_fini(&change);
    assert_int_equal(query_int("SELECT count(*) FROM show_chunks('" HT "')"), before);

    assert_int_equal(tsp_ts_chunks_drop(fx->ts, NULL, HT, &older, &change, &err), TSP_OK);
    assert_int_equal((long long)change.nchunks, going);
    assert_int_equal(change.chunks[0].bytes_after, 0);
    tsp_ts_change_fini(&change);
    assert_int_equal(query_int("SELECT count(*) FROM show_chunks('" HT "')"), before - going);
}

static void test_tsp_ts_aggregate_lifecycle(void **state)
{
    struct fixture *fx = fixture_of(state);
    struct tsp_ts_aggregate_spec spec = {
        .name = AGG,
        .hypertable = HT,
        .time_column = "ts",
        .bucket = "1 hour",
        .ngroup_by = 1,
        .group_by = {"device_id"},
        .naggregates = 2,
        .aggregates = {{"avg", "value", "avg_value"}, {"max", "value", "max_value"}},
        .with_data = false,
    };
    struct tsp_ts_ctx if_not_exists = {.if_not_exists = true};
    struct tsp_ts_change change = {0};
    struct tsp_ts_aggregate agg;
    struct tsp_ts_aggregate *list = NULL;
    size_t count = 0;
    struct tsp_error err;
    char start[64];
    char *now = NULL;

    tsp_error_init(&err);
    assert_int_equal(tsp_ts_aggregate_create(fx->ts, NULL, &spec, &change, &err), TSP_OK);
    assert_false(change.atomic);
    tsp_ts_change_fini(&change);
    assert_int_equal(tsp_ts_aggregate_create(fx->ts, NULL, &spec, &change, &err), TSP_CONFLICT);
    tsp_error_init(&err);
    assert_int_equal(tsp_ts_aggregate_create(fx->ts, &if_not_exists, &spec, &change, &err), TSP_OK);
    tsp_ts_change_fini(&change);

    assert_int_equal(tsp_ts_aggregate_get(fx->ts, NULL, AGG, &agg, &err), TSP_OK);
    assert_string_equal(agg.hypertable_name, HT);
    assert_string_equal(agg.bucket, "01:00:00");
    assert_false(agg.has_policy);
    assert_int_equal(tsp_ts_aggregates_list(fx->ts, NULL, &list, &count, &err), TSP_OK);
    assert_true(count >= 1);
    free(list);

    assert_int_equal(
        tsp_ts_aggregate_policy_put(fx->ts, NULL, AGG, "3 days", "1 hour", "1 hour", &change, &err),
        TSP_OK);
    assert_true(change.job_id > 0);
    assert_true(change.atomic);
    tsp_ts_change_fini(&change);
    assert_int_equal(tsp_ts_aggregate_get(fx->ts, NULL, AGG, &agg, &err), TSP_OK);
    assert_true(agg.has_policy);
    assert_string_equal(agg.policy.start_offset, "3 days");
    assert_string_equal(agg.policy.end_offset, "01:00:00");

    /* refresh the last five days: the view gets rows, also before the last four days, which
     * the policy (when a scheduler runs it: the native server) never covers */
    now = must_query("SELECT to_char(now() - INTERVAL '5 days', 'YYYY-MM-DD\"T\"HH24:MI:SSOF')");
    snprintf(start, sizeof(start), "%s", now);
    free(now);
    assert_int_equal(query_int(AGG_OLD_ROWS), 0);
    assert_int_equal(tsp_ts_aggregate_refresh(fx->ts, NULL, AGG, start, NULL, &change, &err),
                     TSP_OK);
    tsp_ts_change_fini(&change);
    assert_true(query_int(AGG_OLD_ROWS) > 0);

    assert_int_equal(tsp_ts_aggregate_policy_delete(fx->ts, NULL, AGG, &change, &err), TSP_OK);
    tsp_ts_change_fini(&change);
    assert_int_equal(tsp_ts_aggregate_policy_delete(fx->ts, NULL, AGG, &change, &err),
                     TSP_NOT_FOUND);
    tsp_error_init(&err);
    assert_int_equal(tsp_ts_aggregate_drop(fx->ts, NULL, AGG, &change, &err), TSP_OK);
    tsp_ts_change_fini(&change);
    assert_int_equal(tsp_ts_aggregate_get(fx->ts, NULL, AGG, &agg, &err), TSP_NOT_FOUND);
}

static void test_tsp_ts_aggregate_create_bad_bucket(void **state)
{
    struct fixture *fx = fixture_of(state);
    struct tsp_ts_aggregate_spec spec = {
        .name = AGG,
        .hypertable = HT,
        .time_column = "ts",
        .bucket = "1 hour'); DROP TABLE " HT "; --",
        .naggregates = 1,
        .aggregates = {{"avg", "value", "avg_value"}},
    };
    struct tsp_ts_change change = {0};
    struct tsp_error err;

    tsp_error_init(&err);
    assert_int_equal(tsp_ts_aggregate_create(fx->ts, NULL, &spec, &change, &err), TSP_INVALID);
    assert_string_equal(err.field, "bucket");
    assert_true(query_int("SELECT count(*) FROM show_chunks('" HT "')") > 0);
}

static void test_tsp_ts_jobs_list_run_alter(void **state)
{
    struct fixture *fx = fixture_of(state);
    struct tsp_ts_change change = {0};
    struct tsp_ts_job *jobs = NULL;
    struct tsp_ts_job job;
    size_t count = 0;
    struct tsp_error err;
    long long job_id;
    bool found = false;

    tsp_error_init(&err);
    assert_int_equal(tsp_ts_policy_put(fx->ts, NULL, HT, TSP_TS_POLICY_RETENTION, "365 days", NULL,
                                       &change, &err),
                     TSP_OK);
    job_id = change.job_id;
    tsp_ts_change_fini(&change);

    assert_int_equal(tsp_ts_jobs_list(fx->ts, NULL, &jobs, &count, &err), TSP_OK);
    for (size_t i = 0; i < count; i++) {
        if (jobs[i].job_id == job_id) {
            found = true;
            assert_string_equal(jobs[i].proc_name, "policy_retention");
            assert_string_equal(jobs[i].hypertable_name, HT);
            assert_true(jobs[i].scheduled);
        }
    }
    assert_true(found);
    free(jobs);

    assert_int_equal(tsp_ts_job_run(fx->ts, NULL, job_id, &change, &err), TSP_OK);
    assert_false(change.atomic);
    tsp_ts_change_fini(&change);

    assert_int_equal(tsp_ts_job_alter(fx->ts, NULL, job_id, "2 hours", 0, &change, &err), TSP_OK);
    tsp_ts_change_fini(&change);
    assert_int_equal(tsp_ts_job_get(fx->ts, NULL, job_id, &job, &err), TSP_OK);
    assert_false(job.scheduled);
    assert_string_equal(job.schedule_interval, "02:00:00");

    assert_int_equal(tsp_ts_job_get(fx->ts, NULL, 999999, &job, &err), TSP_NOT_FOUND);
    assert_string_equal(err.detail, "job 999999 not found");
    tsp_error_init(&err);
    assert_int_equal(tsp_ts_job_run(fx->ts, NULL, 999999, &change, &err), TSP_NOT_FOUND);
    tsp_error_init(&err);
    assert_int_equal(tsp_ts_policy_delete(fx->ts, NULL, HT, TSP_TS_POLICY_RETENTION, &change, &err),
                     TSP_OK);
    tsp_ts_change_fini(&change);
}

static void test_tsp_ts_names_quoted_exactly(void **state)
{
    struct fixture *fx = fixture_of(state);
    struct tsp_hypertable *h = calloc(1, sizeof(*h));
    struct tsp_ts_chunk *chunks = NULL;
    struct tsp_ts_chunk_filter all = {"-1 days", NULL, -1};
    size_t count = 0;
    struct tsp_error err;

    assert_non_null(h);
    exec_sql("DROP SCHEMA IF EXISTS \"Tsp_It\" CASCADE");
    exec_sql("CREATE SCHEMA \"Tsp_It\"");
    exec_sql("CREATE TABLE \"Tsp_It\".\"MixedCase\" (ts timestamptz NOT NULL, v integer)");
    exec_sql("SELECT create_hypertable('\"Tsp_It\".\"MixedCase\"', by_range('ts'))");
    exec_sql("INSERT INTO \"Tsp_It\".\"MixedCase\" VALUES (now() - INTERVAL '3 days', 1)");
    tsp_error_init(&err);
    assert_int_equal(tsp_ts_hypertable_get(fx->ts, NULL, "Tsp_It.MixedCase", h, &err), TSP_OK);
    assert_string_equal(h->schema, "Tsp_It");
    assert_string_equal(h->name, "MixedCase");
    assert_int_equal(
        tsp_ts_chunks_list(fx->ts, NULL, "Tsp_It.MixedCase", &all, &chunks, &count, &err), TSP_OK);
    assert_int_equal(count, 1);
    free(chunks);
    /* names are not folded to lower case */
    assert_int_equal(tsp_ts_hypertable_get(fx->ts, NULL, "tsp_it.mixedcase", h, &err),
                     TSP_NOT_FOUND);
    assert_string_equal(err.detail, "hypertable \"tsp_it.mixedcase\" not found");
    exec_sql("DROP SCHEMA \"Tsp_It\" CASCADE");
    free(h);
}

static void test_tsp_ts_chunks_by_timestamp_and_integer_time(void **state)
{
    struct fixture *fx = fixture_of(state);
    struct tsp_ts_chunk_filter by_ts = {NULL, NULL, -1};
    struct tsp_ts_chunk_filter by_int = {"3000", "1000", -1};
    struct tsp_ts_chunk_filter drop_int = {"2000", NULL, -1};
    struct tsp_ts_chunk *chunks = NULL;
    struct tsp_ts_change change = {0};
    size_t count = 0;
    struct tsp_error err;
    char *cutoff = NULL;
    long long expected;

    /* a timestamp bound selects exactly what show_chunks() selects for it */
    cutoff = must_query("SELECT to_char(date_trunc('day', now()) - INTERVAL '5 days', "
                        "'YYYY-MM-DD\"T\"HH24:MI:SSOF')");
    expected = query_int("SELECT count(*) FROM show_chunks('" HT "', newer_than => "
                         "date_trunc('day', now()) - INTERVAL '5 days')");
    by_ts.newer_than = cutoff;
    tsp_error_init(&err);
    assert_int_equal(tsp_ts_chunks_list(fx->ts, NULL, HT, &by_ts, &chunks, &count, &err), TSP_OK);
    assert_int_equal((long long)count, expected);
    assert_true(count >= 4);
    free(chunks);
    free(cutoff);

    exec_sql("DROP TABLE IF EXISTS tsp_it_ticks");
    exec_sql("CREATE TABLE tsp_it_ticks (t bigint NOT NULL, v integer)");
    exec_sql("SELECT create_hypertable('tsp_it_ticks', by_range('t', 1000))");
    exec_sql("INSERT INTO tsp_it_ticks SELECT g, 1 FROM generate_series(0, 4999, 100) g");
    assert_int_equal(
        tsp_ts_chunks_list(fx->ts, NULL, "tsp_it_ticks", &by_int, &chunks, &count, &err), TSP_OK);
    assert_int_equal(count, 2); /* [1000,2000) and [2000,3000) */
    assert_string_equal(chunks[0].range_start, "1000");
    assert_string_equal(chunks[1].range_end, "3000");
    free(chunks);
    assert_int_equal(tsp_ts_chunks_drop(fx->ts, NULL, "tsp_it_ticks", &drop_int, &change, &err),
                     TSP_OK);
    assert_int_equal(change.nchunks, 2);
    tsp_ts_change_fini(&change);
    assert_int_equal(query_int("SELECT count(*) FROM show_chunks('tsp_it_ticks')"), 3);
    exec_sql("DROP TABLE tsp_it_ticks");
}

/* ---- plain PostgreSQL 15: every operation answers 409 with the precise message ---- */

static int pg_setup(void **state)
{
    struct fixture *fx = NULL;

    *state = NULL;
    if (!tsp_test_pg_available()) {
        return 0;
    }
    fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    if (fixture_open(fx, tsp_test_pg_dsn(), true) != 0) {
        fixture_close(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static void test_tsp_ts_plain_postgres_conflicts(void **state)
{
    struct fixture *fx = fixture_of(state);
    const char *want = "extension timescaledb is not installed in database \"postgres\"";
    struct tsp_ts_chunk_filter older = {"7 days", NULL, -1};
    struct tsp_ts_compression_spec spec = {1, {"device_id"}, 0, {NULL}};
    struct tsp_ts_aggregate_spec agg = {.name = "a",
                                        .hypertable = "m",
                                        .time_column = "ts",
                                        .bucket = "1 hour",
                                        .naggregates = 1,
                                        .aggregates = {{"avg", "v", "x"}}};
    struct tsp_hypertable *h = calloc(1, sizeof(*h));
    struct tsp_hypertable *list = NULL;
    struct tsp_ts_chunk *chunks = NULL;
    struct tsp_ts_aggregate *aggs = NULL;
    struct tsp_ts_aggregate one;
    struct tsp_ts_job *jobs = NULL;
    struct tsp_ts_job job;
    struct tsp_ts_policy policy;
    struct tsp_ts_change change = {0};
    struct tsp_ts_caps caps;
    size_t count = 0;
    struct tsp_error err;
    enum tsp_code rcs[21];
    int n = 0;

    assert_non_null(h);
    tsp_error_init(&err);
    assert_int_equal(tsp_ts_caps_get(fx->ts, NULL, &caps, &err), TSP_OK);
    assert_false(caps.installed);
    assert_string_equal(caps.database, "postgres");

#define TRY(call)                                                                                  \
    do {                                                                                           \
        tsp_error_init(&err);                                                                      \
        rcs[n] = (call);                                                                           \
        if (rcs[n] != TSP_CONFLICT || strcmp(err.detail, want) != 0) {                             \
            fail_msg("%s: %s %s", #call, tsp_code_name(rcs[n]), err.detail);                       \
        }                                                                                          \
        n++;                                                                                       \
    } while (0)
    TRY(tsp_ts_hypertables_list(fx->ts, NULL, &list, &count, &err));
    TRY(tsp_ts_hypertable_get(fx->ts, NULL, "m", h, &err));
    TRY(tsp_ts_chunks_list(fx->ts, NULL, "m", &older, &chunks, &count, &err));
    TRY(tsp_ts_compression_set(fx->ts, NULL, "m", &spec, &change, &err));
    TRY(tsp_ts_chunks_compress(fx->ts, NULL, "m", true, &older, &change, &err));
    TRY(tsp_ts_chunks_compress(fx->ts, NULL, "m", false, &older, &change, &err));
    TRY(tsp_ts_chunks_drop(fx->ts, NULL, "m", &older, &change, &err));
    TRY(tsp_ts_policy_get(fx->ts, NULL, "m", TSP_TS_POLICY_RETENTION, &policy, &err));
    TRY(tsp_ts_policy_put(fx->ts, NULL, "m", TSP_TS_POLICY_RETENTION, "1 day", NULL, &change,
                          &err));
    TRY(tsp_ts_policy_delete(fx->ts, NULL, "m", TSP_TS_POLICY_COMPRESSION, &change, &err));
    TRY(tsp_ts_aggregates_list(fx->ts, NULL, &aggs, &count, &err));
    TRY(tsp_ts_aggregate_get(fx->ts, NULL, "a", &one, &err));
    TRY(tsp_ts_aggregate_create(fx->ts, NULL, &agg, &change, &err));
    TRY(tsp_ts_aggregate_drop(fx->ts, NULL, "a", &change, &err));
    TRY(tsp_ts_aggregate_policy_put(fx->ts, NULL, "a", NULL, NULL, "1 hour", &change, &err));
    TRY(tsp_ts_aggregate_refresh(fx->ts, NULL, "a", NULL, NULL, &change, &err));
    TRY(tsp_ts_jobs_list(fx->ts, NULL, &jobs, &count, &err));
    TRY(tsp_ts_job_get(fx->ts, NULL, 1, &job, &err));
    TRY(tsp_ts_job_run(fx->ts, NULL, 1, &change, &err));
    TRY(tsp_ts_job_alter(fx->ts, NULL, 1, "1 hour", -1, &change, &err));
    TRY(tsp_ts_require(fx->ts, NULL, TSP_TS_FEATURE_EXTENSION, &err));
#undef TRY
    assert_int_equal(n, 21);
    free(h);
}

/* Several threads share one service: the capability cache is read, invalidated and refreshed
 * under its lock while the pool lends its connections to all of them. */
static void *caps_worker(void *arg)
{
    struct fixture *fx = arg;
    struct tsp_ts_caps caps;
    struct tsp_error err;
    long failures = 0;

    for (int i = 0; i < 20; i++) {
        tsp_error_init(&err);
        if (tsp_ts_caps_get(fx->ts, NULL, &caps, &err) != TSP_OK || caps.installed ||
            tsp_ts_require(fx->ts, NULL, TSP_TS_FEATURE_JOBS, &err) != TSP_CONFLICT) {
            failures++;
        }
        if (i % 10 == 0) {
            tsp_ts_caps_invalidate(fx->ts);
        }
    }
    return (void *)failures;
}

static void test_tsp_ts_caps_shared_by_threads(void **state)
{
    struct fixture *fx = fixture_of(state);
    pthread_t threads[4];
    long total = 0;

    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_create(&threads[i], NULL, caps_worker, fx), 0);
    }
    for (int i = 0; i < 4; i++) {
        void *failures = NULL;
        assert_int_equal(pthread_join(threads[i], &failures), 0);
        total += (long)failures;
    }
    assert_int_equal(total, 0);
}

int tsp_test_run(void)
{
    const struct CMUnitTest tsdb_tests[] = {
        cmocka_unit_test(test_tsp_ts_caps_get_timescaledb),
        cmocka_unit_test(test_tsp_ts_hypertables_list_has_table),
        cmocka_unit_test(test_tsp_ts_hypertable_get_unknown_and_invalid),
        cmocka_unit_test(test_tsp_ts_compression_set_then_get),
        cmocka_unit_test(test_tsp_ts_chunks_compress_and_decompress_by_age),
        cmocka_unit_test(test_tsp_ts_chunks_compress_requires_selection),
        cmocka_unit_test(test_tsp_ts_compression_policy_lifecycle),
        cmocka_unit_test(test_tsp_ts_retention_policy_lifecycle),
        cmocka_unit_test(test_tsp_ts_chunks_drop_dry_run_first),
        cmocka_unit_test(test_tsp_ts_aggregate_lifecycle),
        cmocka_unit_test(test_tsp_ts_aggregate_create_bad_bucket),
        cmocka_unit_test(test_tsp_ts_jobs_list_run_alter),
        cmocka_unit_test(test_tsp_ts_names_quoted_exactly),
        cmocka_unit_test(test_tsp_ts_chunks_by_timestamp_and_integer_time),
    };
    const struct CMUnitTest pg_tests[] = {
        cmocka_unit_test(test_tsp_ts_plain_postgres_conflicts),
        cmocka_unit_test(test_tsp_ts_caps_shared_by_threads),
    };
    int failures = 0;

    fprintf(stderr, "TimescaleDB test server: %s\n", tsp_test_tsdb_server_name());
    failures +=
        cmocka_run_group_tests_name("timescale_tsdb", tsdb_tests, group_setup, group_teardown);
    failures += cmocka_run_group_tests_name("timescale_tsdb_classic_names", tsdb_tests,
                                            group_setup_classic, group_teardown);
    /* plain PostgreSQL once, in the PGlite entry */
    if (!tsp_test_tsdb_native_run()) {
        failures += cmocka_run_group_tests_name("timescale_plain_postgres", pg_tests, pg_setup,
                                                group_teardown);
    }
    return failures;
}
