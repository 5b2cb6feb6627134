/* test_ts_json.c - TimescaleDB request bodies and responses as JSON: every parser's accepted
 * shapes and field-named errors, and the exact JSON of every renderer.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ts_json.h"

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    if (j == NULL) {
        fail_msg("bad test JSON: %s", jerr.text);
    }
    return j;
}

/* Compact, key-sorted JSON of a rendered value (consumed). */
static char *dump(json_t *j)
{
    char *s = NULL;
    assert_non_null(j);
    s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    assert_non_null(s);
    return s;
}

static void expect_json(json_t *j, const char *expected)
{
    char *s = dump(j);
    assert_string_equal(s, expected);
    free(s);
}

static void test_tsp_ts_json_compression_spec_shapes(void **state)
{
    struct tsp_ts_compression_spec spec;
    struct tsp_error err;
    json_t *body = parse("{\"segment_by\": [\"device_id\"], \"order_by\": [\"ts DESC\", \"v\"]}");
    (void)state;

    tsp_error_init(&err);
    assert_int_equal(tsp_ts_json_compression_spec(body, &spec, &err), TSP_OK);
    assert_int_equal(spec.nsegment_by, 1);
    assert_string_equal(spec.segment_by[0], "device_id");
    assert_int_equal(spec.norder_by, 2);
    assert_string_equal(spec.order_by[1], "v");
    json_decref(body);

    body = parse("{\"segment_by\": \"device_id\"}");
    assert_int_equal(tsp_ts_json_compression_spec(body, &spec, &err), TSP_INVALID);
    assert_string_equal(err.field, "segment_by");
    assert_string_equal(err.detail, "segment_by must be an array of at most 16 strings");
    json_decref(body);

    tsp_error_init(&err);
    body = parse("{\"segment_by\": [\"a\", 3]}");
    assert_int_equal(tsp_ts_json_compression_spec(body, &spec, &err), TSP_INVALID);
    assert_string_equal(err.detail, "segment_by[1] must be a non-empty string");
    json_decref(body);

    tsp_error_init(&err);
    body = parse("{\"segmentby\": [\"a\"]}");
    assert_int_equal(tsp_ts_json_compression_spec(body, &spec, &err), TSP_INVALID);
    assert_string_equal(err.field, "segmentby");
    assert_string_equal(err.detail, "unknown field \"segmentby\"");
    json_decref(body);
}

static void test_tsp_ts_json_chunk_selection_rules(void **state)
{
    struct tsp_ts_chunk_filter f;
    struct tsp_error err;
    json_t *body = parse("{\"older_than\": \"7 days\"}");
    (void)state;

    tsp_error_init(&err);
    assert_int_equal(tsp_ts_json_chunk_selection(body, true, &f, &err), TSP_OK);
    assert_string_equal(f.older_than, "7 days");
    assert_null(f.newer_than);
    assert_int_equal(f.compressed, -1);
    json_decref(body);

    body = parse("{\"newer_than\": \"2026-01-01T00:00:00Z\"}");
    assert_int_equal(tsp_ts_json_chunk_selection(body, false, &f, &err), TSP_OK);
    assert_string_equal(f.newer_than, "2026-01-01T00:00:00Z");
    assert_int_equal(tsp_ts_json_chunk_selection(body, true, &f, &err), TSP_INVALID);
    assert_string_equal(err.detail, "older_than is required");
    json_decref(body);

    tsp_error_init(&err);
    body = parse("{}");
    assert_int_equal(tsp_ts_json_chunk_selection(body, false, &f, &err), TSP_INVALID);
    assert_string_equal(err.detail,
                        "older_than or newer_than is required (an interval or a timestamp)");
    json_decref(body);

    tsp_error_init(&err);
    body = parse("{\"older_than\": 7}");
    assert_int_equal(tsp_ts_json_chunk_selection(body, false, &f, &err), TSP_INVALID);
    assert_string_equal(err.detail, "older_than must be a non-empty string");
    json_decref(body);

    tsp_error_init(&err);
    body = parse("[]");
    assert_int_equal(tsp_ts_json_chunk_selection(body, false, &f, &err), TSP_INVALID);
    assert_string_equal(err.detail, "the request body must be a JSON object");
    json_decref(body);
}

static void test_tsp_ts_json_policy_body_requires_after(void **state)
{
    const char *after = NULL;
    const char *sched = NULL;
    struct tsp_error err;
    json_t *body = parse("{\"drop_after\": \"90 days\", \"schedule_interval\": \"1 day\"}");
    (void)state;

    tsp_error_init(&err);
    assert_int_equal(tsp_ts_json_policy_body(body, "drop_after", &after, &sched, &err), TSP_OK);
    assert_string_equal(after, "90 days");
    assert_string_equal(sched, "1 day");
    assert_int_equal(tsp_ts_json_policy_body(body, "compress_after", &after, &sched, &err),
                     TSP_INVALID);
    assert_string_equal(err.detail, "unknown field \"drop_after\"");
    json_decref(body);

    tsp_error_init(&err);
    body = parse("{\"schedule_interval\": \"1 day\"}");
    assert_int_equal(tsp_ts_json_policy_body(body, "compress_after", &after, &sched, &err),
                     TSP_INVALID);
    assert_string_equal(err.field, "compress_after");
    assert_string_equal(err.detail, "compress_after is required");
    json_decref(body);
}

static void test_tsp_ts_json_aggregate_spec_issue_example(void **state)
{
    struct tsp_ts_aggregate_spec spec;
    struct tsp_error err;
    json_t *body =
        parse("{\"name\": \"metrics_hourly\", \"hypertable\": \"metrics\", \"time_column\": \"ts\","
              " \"bucket\": \"1 hour\", \"group_by\": [\"device_id\"],"
              " \"aggregates\": [{\"fn\": \"avg\", \"column\": \"value\", \"as\": \"avg_value\"},"
              "                  {\"fn\": \"max\", \"column\": \"value\", \"as\": \"max_value\"}],"
              " \"with_data\": false}");
    (void)state;

    tsp_error_init(&err);
    assert_int_equal(tsp_ts_json_aggregate_spec(body, &spec, &err), TSP_OK);
    assert_string_equal(spec.name, "metrics_hourly");
    assert_string_equal(spec.hypertable, "metrics");
    assert_string_equal(spec.time_column, "ts");
    assert_string_equal(spec.bucket, "1 hour");
    assert_int_equal(spec.ngroup_by, 1);
    assert_int_equal(spec.naggregates, 2);
    assert_string_equal(spec.aggregates[1].fn, "max");
    assert_string_equal(spec.aggregates[1].as, "max_value");
    assert_false(spec.with_data);
    json_decref(body);

    body = parse("{\"name\": \"m\", \"hypertable\": \"t\", \"time_column\": \"ts\", \"bucket\": "
                 "\"1 hour\", \"aggregates\": [{\"fn\": \"avg\", \"column\": \"v\"}]}");
    assert_int_equal(tsp_ts_json_aggregate_spec(body, &spec, &err), TSP_INVALID);
    assert_string_equal(err.field, "aggregates");
    assert_string_equal(err.detail, "aggregates[0]: as is required");
    json_decref(body);

    tsp_error_init(&err);
    body = parse("{\"name\": \"m\", \"hypertable\": \"t\", \"time_column\": \"ts\", \"bucket\": "
                 "\"1 hour\", \"aggregates\": []}");
    assert_int_equal(tsp_ts_json_aggregate_spec(body, &spec, &err), TSP_INVALID);
    assert_string_equal(err.detail,
                        "aggregates must be an array of 1 to 16 {fn, column, as} objects");
    json_decref(body);

    tsp_error_init(&err);
    body = parse("{\"hypertable\": \"t\"}");
    assert_int_equal(tsp_ts_json_aggregate_spec(body, &spec, &err), TSP_INVALID);
    assert_string_equal(err.detail, "name is required");
    json_decref(body);

    tsp_error_init(&err);
    body = parse("{\"name\": \"m\", \"hypertable\": \"t\", \"time_column\": \"ts\", \"bucket\": "
                 "\"1 hour\", \"aggregates\": [{\"fn\": \"avg\", \"column\": \"v\", \"as\": "
                 "\"a\"}], \"with_data\": \"yes\"}");
    assert_int_equal(tsp_ts_json_aggregate_spec(body, &spec, &err), TSP_INVALID);
    assert_string_equal(err.detail, "with_data must be a boolean");
    json_decref(body);
}

static void test_tsp_ts_json_small_bodies(void **state)
{
    const char *a = NULL;
    const char *b = NULL;
    const char *c = NULL;
    int scheduled = 7;
    struct tsp_error err;
    json_t *body = parse("{\"start_offset\": \"3 days\", \"end_offset\": null, "
                         "\"schedule_interval\": \"1 hour\"}");
    (void)state;

    tsp_error_init(&err);
    assert_int_equal(tsp_ts_json_aggregate_policy(body, &a, &b, &c, &err), TSP_OK);
    assert_string_equal(a, "3 days");
    assert_null(b);
    assert_string_equal(c, "1 hour");
    json_decref(body);

    body = parse("{\"start\": \"2026-01-01T00:00:00Z\", \"end\": null}");
    assert_int_equal(tsp_ts_json_refresh_window(body, &a, &b, &err), TSP_OK);
    assert_string_equal(a, "2026-01-01T00:00:00Z");
    assert_null(b);
    json_decref(body);

    body = parse("{\"schedule_interval\": \"1 hour\", \"scheduled\": true}");
    assert_int_equal(tsp_ts_json_job_patch(body, &a, &scheduled, &err), TSP_OK);
    assert_string_equal(a, "1 hour");
    assert_int_equal(scheduled, 1);
    json_decref(body);

    body = parse("{\"scheduled\": false}");
    assert_int_equal(tsp_ts_json_job_patch(body, &a, &scheduled, &err), TSP_OK);
    assert_null(a);
    assert_int_equal(scheduled, 0);
    json_decref(body);

    body = parse("{}");
    assert_int_equal(tsp_ts_json_job_patch(body, &a, &scheduled, &err), TSP_INVALID);
    assert_string_equal(err.detail, "give schedule_interval and/or scheduled");
    json_decref(body);

    tsp_error_init(&err);
    body = parse("{\"scheduled\": \"no\"}");
    assert_int_equal(tsp_ts_json_job_patch(body, &a, &scheduled, &err), TSP_INVALID);
    assert_string_equal(err.field, "scheduled");
    json_decref(body);
}

static void test_tsp_ts_json_lifecycle_bodies(void **state)
{
    struct tsp_ts_hypertable_spec spec;
    struct tsp_error err;
    char buf[32];
    const char *value = NULL;
    static const struct {
        const char *body;
        const char *field; /* NULL = accepted */
    } cases[] = {
        {"{\"name\": \"m\", \"time_column\": \"ts\"}", NULL},
        {"{\"name\": \"m\", \"time_column\": \"t\", \"chunk_interval\": 1000}", NULL},
        {"{\"name\": \"m\", \"time_column\": \"ts\", \"partition_column\": \"d\", "
         "\"partitions\": 4, \"if_not_exists\": true, \"migrate_data\": false}",
         NULL},
        {"{\"time_column\": \"ts\"}", "name"},
        {"{\"name\": \"m\"}", "time_column"},
        {"{\"name\": \"m\", \"time_column\": \"ts\", \"chunk_interval\": true}", "chunk_interval"},
        {"{\"name\": \"m\", \"time_column\": \"ts\", \"chunk_interval\": 0}", "chunk_interval"},
        {"{\"name\": \"m\", \"time_column\": \"ts\", \"partitions\": 4}", "partition_column"},
        {"{\"name\": \"m\", \"time_column\": \"ts\", \"partition_column\": \"d\"}", "partitions"},
        {"{\"name\": \"m\", \"time_column\": \"ts\", \"partitions\": 1.5, "
         "\"partition_column\": \"d\"}",
         "partitions"},
        {"{\"name\": \"m\", \"time_column\": \"ts\", \"if_not_exists\": \"yes\"}", "if_not_exists"},
        {"{\"name\": \"m\", \"time_column\": \"ts\", \"chunk\": \"1 day\"}", "chunk"},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *body = parse(cases[i].body);
        tsp_error_init(&err);
        enum tsp_code rc = tsp_ts_json_hypertable_spec(body, buf, sizeof(buf), &spec, &err);
        if (cases[i].field == NULL) {
            assert_int_equal(rc, TSP_OK);
        } else {
            assert_int_equal(rc, TSP_INVALID);
            assert_string_equal(err.field, cases[i].field);
        }
        json_decref(body);
    }
    json_t *body = parse("{\"name\": \"m\", \"time_column\": \"t\", \"chunk_interval\": 1000}");
    assert_int_equal(tsp_ts_json_hypertable_spec(body, buf, sizeof(buf), &spec, &err), TSP_OK);
    assert_string_equal(spec.chunk_interval, "1000");
    json_decref(body);

    body = parse("{\"chunk_interval\": 86400}");
    assert_int_equal(tsp_ts_json_hypertable_patch(body, buf, sizeof(buf), &value, &err), TSP_OK);
    assert_string_equal(value, "86400");
    json_decref(body);
    body = parse("{}");
    tsp_error_init(&err);
    assert_int_equal(tsp_ts_json_hypertable_patch(body, buf, sizeof(buf), &value, &err),
                     TSP_INVALID);
    assert_string_equal(err.field, "chunk_interval");
    json_decref(body);

    body = parse("{\"index_name\": \"m_ts_idx\"}");
    assert_int_equal(tsp_ts_json_reorder_policy(body, &value, &err), TSP_OK);
    assert_string_equal(value, "m_ts_idx");
    json_decref(body);
    body = parse("{\"index_name\": \"m_ts_idx\", \"schedule_interval\": \"1 day\"}");
    tsp_error_init(&err);
    assert_int_equal(tsp_ts_json_reorder_policy(body, &value, &err), TSP_INVALID);
    assert_string_equal(err.field, "schedule_interval");
    json_decref(body);
}

static void test_tsp_ts_json_render_caps_and_policy(void **state)
{
    struct tsp_ts_caps caps;
    struct tsp_ts_policy p;
    (void)state;

    memset(&caps, 0, sizeof(caps));
    caps.installed = true;
    snprintf(caps.database, sizeof(caps.database), "app");
    caps.server_version_num = 170005;
    snprintf(caps.version, sizeof(caps.version), "2.23.0");
    snprintf(caps.license, sizeof(caps.license), "timescale");
    caps.columnstore_api = caps.hypertables = caps.compression = true;
    expect_json(tsp_ts_json_caps(&caps),
                "{\"columnstore_api\":true,\"database\":\"app\",\"features\":{\"compression\":"
                "true,\"continuous_aggregates\":false,\"hypertables\":true,\"jobs\":false,"
                "\"retention_policies\":false},\"installed\":true,\"license\":\"timescale\","
                "\"server_version_num\":170005,\"version\":\"2.23.0\"}");

    memset(&p, 0, sizeof(p));
    p.job_id = 1000;
    snprintf(p.kind, sizeof(p.kind), "retention");
    snprintf(p.schedule_interval, sizeof(p.schedule_interval), "1 day");
    snprintf(p.after, sizeof(p.after), "90 days");
    p.scheduled = true;
    expect_json(tsp_ts_json_policy(&p),
                "{\"drop_after\":\"90 days\",\"job_id\":1000,\"kind\":\"retention\","
                "\"schedule_interval\":\"1 day\",\"scheduled\":true}");
    snprintf(p.kind, sizeof(p.kind), "refresh");
    snprintf(p.start_offset, sizeof(p.start_offset), "3 days");
    expect_json(tsp_ts_json_policy(&p),
                "{\"end_offset\":null,\"job_id\":1000,\"kind\":\"refresh\",\"schedule_interval\":"
                "\"1 day\",\"scheduled\":true,\"start_offset\":\"3 days\"}");
}

static void test_tsp_ts_json_render_hypertable_detail(void **state)
{
    struct tsp_hypertable *h = calloc(1, sizeof(*h));
    (void)state;

    assert_non_null(h);
    snprintf(h->schema, sizeof(h->schema), "public");
    snprintf(h->name, sizeof(h->name), "metrics");
    snprintf(h->time_column, sizeof(h->time_column), "ts");
    snprintf(h->chunk_interval, sizeof(h->chunk_interval), "1 day");
    h->num_chunks = 20;
    h->compression_enabled = true;
    h->total_bytes = 1000;
    h->compressed_chunks = 2;
    h->before_compression_bytes = 300;
    h->after_compression_bytes = 100;
    h->compression_ratio = 3.0;
    h->ndimensions = 1;
    snprintf(h->dimensions[0].column, TSP_TS_NAME_MAX, "ts");
    snprintf(h->dimensions[0].column_type, TSP_TS_NAME_MAX, "timestamp with time zone");
    snprintf(h->dimensions[0].kind, sizeof(h->dimensions[0].kind), "Time");
    snprintf(h->dimensions[0].interval, TSP_TS_TEXT_MAX, "1 day");
    h->nsegment_by = 1;
    snprintf(h->segment_by[0], TSP_TS_NAME_MAX, "device_id");
    h->norder_by = 2;
    snprintf(h->order_by[0].column, TSP_TS_NAME_MAX, "ts");
    h->order_by[0].desc = true;
    h->order_by[0].nulls_first = true;
    snprintf(h->order_by[1].column, TSP_TS_NAME_MAX, "v");
    h->order_by[1].nulls_first = true;
    h->advice.known = true;
    h->advice.shared_buffers_bytes = 134217728;
    h->advice.newest_chunk_bytes = 268435456;
    h->advice.newest_chunks = 3;
    snprintf(h->advice.recommendation, sizeof(h->advice.recommendation), "decrease");
    snprintf(h->advice.reason, sizeof(h->advice.reason), "too big");
    expect_json(tsp_ts_json_hypertable(h, false),
                "{\"chunk_interval\":\"1 day\",\"compression\":{\"after_bytes\":100,"
                "\"before_bytes\":300,\"compressed_chunks\":2,\"ratio\":3.0},"
                "\"compression_enabled\":true,\"name\":\"metrics\",\"num_chunks\":20,"
                "\"policies\":[],\"schema\":\"public\",\"time_column\":\"ts\","
                "\"total_bytes\":1000}");
    expect_json(tsp_ts_json_hypertable(h, true),
                "{\"chunk_interval\":\"1 day\",\"chunk_interval_advice\":{"
                "\"newest_chunk_bytes\":268435456,\"newest_chunks\":3,\"reason\":\"too big\","
                "\"recommendation\":\"decrease\",\"shared_buffers_bytes\":134217728},"
                "\"compression\":{\"after_bytes\":100,"
                "\"before_bytes\":300,\"compressed_chunks\":2,\"ratio\":3.0},"
                "\"compression_enabled\":true,\"compression_settings\":{\"order_by\":[\"ts "
                "DESC\",\"v NULLS FIRST\"],\"segment_by\":[\"device_id\"]},\"dimensions\":[{"
                "\"column\":\"ts\",\"column_type\":\"timestamp with time zone\",\"interval\":"
                "\"1 day\",\"kind\":\"Time\",\"num_partitions\":null}],\"name\":\"metrics\","
                "\"num_chunks\":20,\"policies\":[],\"schema\":\"public\",\"time_column\":\"ts\","
                "\"total_bytes\":1000}");
    free(h);
}

static void test_tsp_ts_json_render_change_and_job(void **state)
{
    struct tsp_ts_stmt stmt;
    struct tsp_ts_chunk_change ch;
    struct tsp_ts_change c;
    struct tsp_ts_job j;
    char sql[] = "SELECT drop_chunks($1::regclass, older_than => $2::interval) AS chunk";
    char p1[] = "\"public\".\"metrics\"";
    (void)state;

    memset(&stmt, 0, sizeof(stmt));
    stmt.sql = sql;
    stmt.nparams = 3;
    stmt.params[0] = p1;
    stmt.params[1] = NULL;
    stmt.params[2] = NULL;
    memset(&ch, 0, sizeof(ch));
    snprintf(ch.chunk.schema, TSP_TS_NAME_MAX, "_timescaledb_internal");
    snprintf(ch.chunk.name, TSP_TS_NAME_MAX, "_hyper_1_1_chunk");
    ch.chunk.total_bytes = 24576;
    ch.bytes_before = 24576;
    memset(&c, 0, sizeof(c));
    c.dry_run = true;
    c.atomic = true;
    c.nstmts = 1;
    c.stmts = &stmt;
    c.nchunks = 1;
    c.chunks = &ch;
    expect_json(tsp_ts_json_change(&c),
                "{\"atomic\":true,\"chunks\":[{\"after_compression_bytes\":null,"
                "\"before_compression_bytes\":null,\"bytes_after\":0,\"bytes_before\":24576,"
                "\"compressed\":false,\"name\":\"_hyper_1_1_chunk\",\"range_end\":null,"
                "\"range_start\":null,\"schema\":\"_timescaledb_internal\",\"total_bytes\":"
                "24576}],\"dry_run\":true,\"job_id\":null,\"statements\":[{\"params\":["
                "\"\\\"public\\\".\\\"metrics\\\"\",null,null],\"sql\":\"SELECT drop_chunks($1::"
                "regclass, older_than => $2::interval) AS chunk\"}]}");

    memset(&j, 0, sizeof(j));
    j.job_id = 1001;
    snprintf(j.proc_name, sizeof(j.proc_name), "policy_compression");
    snprintf(j.config, sizeof(j.config), "{\"compress_after\": \"7 days\", \"hypertable_id\": 1}");
    snprintf(j.last_run_status, sizeof(j.last_run_status), "Success");
    j.total_runs = 3;
    expect_json(tsp_ts_json_job(&j),
                "{\"application_name\":null,\"config\":{\"compress_after\":\"7 days\","
                "\"hypertable_id\":1},\"hypertable\":null,\"hypertable_schema\":null,"
                "\"job_id\":1001,\"job_stats\":{\"last_run_started_at\":null,\"last_run_status\":"
                "\"Success\",\"last_successful_finish\":null,\"next_start\":null,"
                "\"total_failures\":0,\"total_runs\":3},\"proc_name\":\"policy_compression\","
                "\"proc_schema\":null,\"schedule_interval\":null,\"scheduled\":false}");
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsp_ts_json_compression_spec_shapes),
        cmocka_unit_test(test_tsp_ts_json_chunk_selection_rules),
        cmocka_unit_test(test_tsp_ts_json_policy_body_requires_after),
        cmocka_unit_test(test_tsp_ts_json_aggregate_spec_issue_example),
        cmocka_unit_test(test_tsp_ts_json_small_bodies),
        cmocka_unit_test(test_tsp_ts_json_lifecycle_bodies),
        cmocka_unit_test(test_tsp_ts_json_render_caps_and_policy),
        cmocka_unit_test(test_tsp_ts_json_render_hypertable_detail),
        cmocka_unit_test(test_tsp_ts_json_render_change_and_job),
    };
    return cmocka_run_group_tests_name("ts_json", tests, NULL, NULL);
}
