/* test_timescale_sql.c - the SQL builders of timescale.c / timescale_sql_agg.c: exact text,
 * parameters and errors for every operation (expected output in tests/data/timescale_sql.cases),
 * plus the capability rules and the time-value casts.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timescale_int.h"
#include "tspool/db.h"

/* Stand-in for PQescapeIdentifier (pure logic under test): validate like db/query.c, then quote
 * each part; validated names contain no quote to double. */
static enum tsp_code pure_quote(void *ctx, const char *ident, bool qualified, const char *field,
                                char **out, struct tsp_error *err)
{
    enum tsp_code rc;
    char *buf = NULL;
    char *w = NULL;
    (void)ctx;

    rc = qualified ? tsp_db_qualified_validate(ident, field, err)
                   : tsp_db_identifier_validate(ident, field, err);
    if (rc != TSP_OK) {
        return rc;
    }
    buf = malloc(strlen(ident) + 5);
    assert_non_null(buf);
    w = buf;
    *w++ = '"';
    for (const char *p = ident; *p != '\0'; p++) {
        if (*p == '.' && qualified) {
            *w++ = '"';
            *w++ = '.';
            *w++ = '"';
        } else {
            *w++ = *p;
        }
    }
    *w++ = '"';
    *w = '\0';
    *out = buf;
    return TSP_OK;
}

static enum tsp_code build_life_case(const struct tsp_ts_quoter *q, const char *name,
                                     struct tsp_ts_stmt *s, struct tsp_error *e);

/* Build the named case; the table of inputs mirrors the case file. */
static enum tsp_code build_case(const char *name, struct tsp_ts_stmt *s, struct tsp_error *e)
{
    struct tsp_ts_quoter q = {pure_quote, NULL};
    struct tsp_ts_chunk_filter f1 = {"7 days", NULL, -1}, f2 = {"2026-01-01", "3 days", 1},
                               f3 = {NULL, NULL, 0};
    if (strcmp(name, "caps") == 0) {
        return tsp_ts_sql_caps(s, e);
    }
    if (strcmp(name, "resolve_ht") == 0) {
        return tsp_ts_sql_resolve(&q, "public.metrics", false, "hypertable", s, e);
    }
    if (strcmp(name, "resolve_agg") == 0) {
        return tsp_ts_sql_resolve(&q, "metrics_hourly", true, "name", s, e);
    }
    if (strcmp(name, "chunks_none") == 0) {
        return tsp_ts_sql_chunks(&q, "public.metrics", NULL, true, s, e);
    }
    if (strcmp(name, "chunks_older") == 0) {
        return tsp_ts_sql_chunks(&q, "public.metrics", &f1, true, s, e);
    }
    if (strcmp(name, "chunks_both") == 0) {
        return tsp_ts_sql_chunks(&q, "metrics", &f2, true, s, e);
    }
    if (strcmp(name, "chunks_uncomp") == 0) {
        return tsp_ts_sql_chunks(&q, "metrics", &f3, true, s, e);
    }
    struct tsp_ts_compression_spec cs = {1, {"device_id"}, 2, {"ts desc nulls last", "value"}};
    if (strcmp(name, "comp_classic") == 0) {
        return tsp_ts_sql_compression_set(&q, "public.metrics", &cs, false, s, e);
    }
    if (strcmp(name, "comp_columnstore") == 0) {
        return tsp_ts_sql_compression_set(&q, "public.metrics", &cs, true, s, e);
    }
    struct tsp_ts_compression_spec cs0 = {0, {0}, 0, {0}};
    if (strcmp(name, "comp_none") == 0) {
        return tsp_ts_sql_compression_set(&q, "public.metrics", &cs0, false, s, e);
    }
    struct tsp_ts_compression_spec csbad = {1, {"x; drop table y"}, 0, {0}};
    if (strcmp(name, "comp_bad_seg") == 0) {
        return tsp_ts_sql_compression_set(&q, "public.metrics", &csbad, false, s, e);
    }
    struct tsp_ts_compression_spec csbad2 = {0, {0}, 1, {"ts DESC; drop table y"}};
    if (strcmp(name, "comp_bad_ord") == 0) {
        return tsp_ts_sql_compression_set(&q, "public.metrics", &csbad2, false, s, e);
    }
    if (strcmp(name, "chunk_c") == 0) {
        return tsp_ts_sql_chunk_compress("_timescaledb_internal._hyper_1_1_chunk", true, false, s,
                                         e);
    }
    if (strcmp(name, "chunk_d") == 0) {
        return tsp_ts_sql_chunk_compress("_timescaledb_internal._hyper_1_1_chunk", false, false, s,
                                         e);
    }
    if (strcmp(name, "chunk_cc") == 0) {
        return tsp_ts_sql_chunk_compress("_timescaledb_internal._hyper_1_1_chunk", true, true, s,
                                         e);
    }
    if (strcmp(name, "chunk_dc") == 0) {
        return tsp_ts_sql_chunk_compress("_timescaledb_internal._hyper_1_1_chunk", false, true, s,
                                         e);
    }
    if (strcmp(name, "drop") == 0) {
        return tsp_ts_sql_drop_chunks(&q, "public.metrics", &f1, s, e);
    }
    if (strcmp(name, "drop_both") == 0) {
        return tsp_ts_sql_drop_chunks(&q, "public.metrics", &f2, s, e);
    }
    if (strcmp(name, "drop_noolder") == 0) {
        return tsp_ts_sql_drop_chunks(&q, "public.metrics", &f3, s, e);
    }
    if (strcmp(name, "ret_add") == 0) {
        return tsp_ts_sql_policy_add(&q, "public.metrics", TSP_TS_POLICY_RETENTION, "90 days",
                                     "1 day", false, s, e);
    }
    if (strcmp(name, "comp_add") == 0) {
        return tsp_ts_sql_policy_add(&q, "public.metrics", TSP_TS_POLICY_COMPRESSION, "7 days",
                                     NULL, false, s, e);
    }
    if (strcmp(name, "comp_add_cs") == 0) {
        return tsp_ts_sql_policy_add(&q, "public.metrics", TSP_TS_POLICY_COMPRESSION, "7 days",
                                     "12 hours", true, s, e);
    }
    if (strcmp(name, "comp_add_int") == 0) {
        return tsp_ts_sql_policy_add(&q, "public.metrics", TSP_TS_POLICY_COMPRESSION, "1000", NULL,
                                     false, s, e);
    }
    if (strcmp(name, "ret_add_noafter") == 0) {
        return tsp_ts_sql_policy_add(&q, "public.metrics", TSP_TS_POLICY_RETENTION, NULL, NULL,
                                     false, s, e);
    }
    if (strcmp(name, "ret_rm") == 0) {
        return tsp_ts_sql_policy_remove(&q, "public.metrics", TSP_TS_POLICY_RETENTION, true, false,
                                        s, e);
    }
    if (strcmp(name, "comp_rm") == 0) {
        return tsp_ts_sql_policy_remove(&q, "public.metrics", TSP_TS_POLICY_COMPRESSION, false,
                                        false, s, e);
    }
    if (strcmp(name, "comp_rm_cs") == 0) {
        return tsp_ts_sql_policy_remove(&q, "public.metrics", TSP_TS_POLICY_COMPRESSION, true, true,
                                        s, e);
    }
    if (strcmp(name, "interval") == 0) {
        return tsp_ts_sql_interval_check("1 hour", "bucket", s, e);
    }
    struct tsp_ts_aggregate_spec as = {
        "metrics_hourly",
        "public.metrics",
        "ts",
        "1 hour",
        1,
        {"device_id"},
        3,
        {{"avg", "value", "avg_value"}, {"last", "value", "last_value"}, {"count", "*", "n"}},
        false};
    if (strcmp(name, "agg_create") == 0) {
        return tsp_ts_sql_aggregate_create(&q, &as, "01:00:00", false, s, e);
    }
    struct tsp_ts_aggregate_spec as_data = as;
    as_data.with_data = true;
    if (strcmp(name, "agg_create_ine") == 0) {
        return tsp_ts_sql_aggregate_create(&q, &as_data, "1 day", true, s, e);
    }
    if (strcmp(name, "agg_create_badbucket") == 0) {
        return tsp_ts_sql_aggregate_create(&q, &as_data, "1 hour'), now()) --", false, s, e);
    }
    struct tsp_ts_aggregate_spec as_fn = as;
    as_fn.aggregates[0].fn = "pg_sleep";
    struct tsp_ts_aggregate_spec as_group = as;
    as_group.group_by[0] = "device_id, (SELECT 1)";
    struct tsp_ts_aggregate_spec as_alias = as;
    as_alias.aggregates[1].as = "x\" FROM y; --";
    struct tsp_ts_aggregate_spec as_view = as;
    as_view.name = "public..metrics_hourly";
    if (strcmp(name, "agg_create_badfn") == 0) {
        return tsp_ts_sql_aggregate_create(&q, &as_fn, "1 day", false, s, e);
    }
    if (strcmp(name, "agg_drop") == 0) {
        return tsp_ts_sql_aggregate_drop(&q, "public.metrics_hourly", s, e);
    }
    if (strcmp(name, "aggpol_add") == 0) {
        return tsp_ts_sql_aggregate_policy_add(&q, "metrics_hourly", "3 days", "1 hour", "1 hour",
                                               s, e);
    }
    if (strcmp(name, "aggpol_add_null") == 0) {
        return tsp_ts_sql_aggregate_policy_add(&q, "metrics_hourly", NULL, NULL, "1 hour", s, e);
    }
    if (strcmp(name, "aggpol_rm") == 0) {
        return tsp_ts_sql_aggregate_policy_remove(&q, "metrics_hourly", true, s, e);
    }
    if (strcmp(name, "refresh") == 0) {
        return tsp_ts_sql_aggregate_refresh(&q, "metrics_hourly", "2026-01-01T00:00:00Z", NULL, s,
                                            e);
    }
    if (strcmp(name, "jobs") == 0) {
        return tsp_ts_sql_jobs(-1, s, e);
    }
    if (strcmp(name, "job") == 0) {
        return tsp_ts_sql_jobs(1000, s, e);
    }
    if (strcmp(name, "run") == 0) {
        return tsp_ts_sql_job_run(1000, s, e);
    }
    if (strcmp(name, "alter") == 0) {
        return tsp_ts_sql_job_alter(1000, "1 hour", 1, s, e);
    }
    if (strcmp(name, "alter_pause") == 0) {
        return tsp_ts_sql_job_alter(1000, NULL, 0, s, e);
    }
    if (strcmp(name, "alter_nothing") == 0) {
        return tsp_ts_sql_job_alter(1000, NULL, -1, s, e);
    }
    if (strcmp(name, "aggs") == 0) {
        return tsp_ts_sql_aggregates("public", "x", s, e);
    }
    if (strcmp(name, "ht") == 0) {
        return tsp_ts_sql_hypertables(NULL, NULL, true, s, e);
    }
    if (strcmp(name, "pol") == 0) {
        return tsp_ts_sql_policies("public", "metrics", s, e);
    }
    if (strcmp(name, "dims") == 0) {
        return tsp_ts_sql_dimensions("public", "metrics", s, e);
    }
    if (strcmp(name, "cset") == 0) {
        return tsp_ts_sql_compression_settings("public", "metrics", s, e);
    }
    if (strcmp(name, "agg_create_bad_group_by") == 0) {
        return tsp_ts_sql_aggregate_create(&q, &as_group, "1 day", false, s, e);
    }
    if (strcmp(name, "agg_create_bad_alias") == 0) {
        return tsp_ts_sql_aggregate_create(&q, &as_alias, "1 day", false, s, e);
    }
    if (strcmp(name, "agg_create_bad_view") == 0) {
        return tsp_ts_sql_aggregate_create(&q, &as_view, "1 day", false, s, e);
    }
    if (strcmp(name, "chunks_injection_name") == 0) {
        return tsp_ts_sql_chunks(&q, "metrics; drop table y", NULL, true, s, e);
    }
    if (strcmp(name, "policy_add_double_dot") == 0) {
        return tsp_ts_sql_policy_add(&q, "a..b", TSP_TS_POLICY_RETENTION, "1 day", NULL, false, s,
                                     e);
    }
    if (strcmp(name, "drop_quote_name") == 0) {
        return tsp_ts_sql_drop_chunks(&q, "metrics\"", &f1, s, e);
    }
    if (strcmp(name, "refresh_64_byte_name") == 0) {
        return tsp_ts_sql_aggregate_refresh(
            &q, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL, NULL, s,
            e);
    }
    if (strcmp(name, "refresh_integer_window") == 0) {
        return tsp_ts_sql_aggregate_refresh(&q, "metrics_hourly", "0", "1000", s, e);
    }
    if (strcmp(name, "comp_unicode_column") == 0) {
        struct tsp_ts_compression_spec cu = {1, {"caf\xc3\xa9"}, 0, {0}};
        return tsp_ts_sql_compression_set(&q, "metrics", &cu, false, s, e);
    }
    if (strcmp(name, "comp_order_extra_word") == 0) {
        struct tsp_ts_compression_spec cw = {0, {0}, 1, {"ts DESC NULLS LAST extra"}};
        return tsp_ts_sql_compression_set(&q, "metrics", &cw, false, s, e);
    }
    if (strcmp(name, "job_negative_id") == 0) {
        return tsp_ts_sql_job_run(-5, s, e);
    }
    if (strcmp(name, "aggpol_no_schedule") == 0) {
        return tsp_ts_sql_aggregate_policy_add(&q, "metrics_hourly", "3 days", "1 hour", NULL, s,
                                               e);
    }
    if (strcmp(name, "policy_check") == 0) {
        return tsp_ts_sql_policy_check(TSP_TS_POLICY_COMPRESSION, "7 days", NULL, s, e);
    }
    if (strcmp(name, "policy_check_integer") == 0) {
        return tsp_ts_sql_policy_check(TSP_TS_POLICY_RETENTION, "86400", "1 day", s, e);
    }
    if (strcmp(name, "ht_apache") == 0) {
        return tsp_ts_sql_hypertables("public", "metrics", false, s, e);
    }
    if (strcmp(name, "chunks_apache") == 0) {
        return tsp_ts_sql_chunks(&q, "metrics", &f1, false, s, e);
    }
    if (strcmp(name, "interval_empty") == 0) {
        return tsp_ts_sql_interval_check("", "bucket", s, e);
    }
    return build_life_case(&q, name, s, e);
}

/* The lifecycle builders (sql_life.c and the paged listing). */
static enum tsp_code build_life_case(const struct tsp_ts_quoter *q, const char *name,
                                     struct tsp_ts_stmt *s, struct tsp_error *e)
{
    struct tsp_ts_hypertable_spec plain = {"metrics", "ts", "1 day", NULL, 0, false, false};
    struct tsp_ts_hypertable_spec space = {"metrics", "ts", "86400", "device_id", 4, true, true};
    struct tsp_ts_hypertable_spec no_parts = {"metrics", "ts", NULL, "device_id", 0, false, false};
    struct tsp_ts_hypertable_spec bad_col = {"metrics", "ts;x", NULL, NULL, 0, false, false};
    struct tsp_ts_chunk_filter older = {"7 days", NULL, 0};
    struct tsp_ts_keyset first = {false, 0, "", 100};
    struct tsp_ts_keyset after = {true, 1767225600000000LL, "_hyper_1_7_chunk", 1000};

    if (strcmp(name, "hypertable_create") == 0) {
        return tsp_ts_sql_hypertable_create(q, &plain, "public.metrics", s, e);
    }
    if (strcmp(name, "hypertable_create_space") == 0) {
        return tsp_ts_sql_hypertable_create(q, &space, "public.metrics", s, e);
    }
    if (strcmp(name, "hypertable_create_no_partitions") == 0) {
        return tsp_ts_sql_hypertable_create(q, &no_parts, "public.metrics", s, e);
    }
    if (strcmp(name, "hypertable_create_bad_column") == 0) {
        return tsp_ts_sql_hypertable_create(q, &bad_col, "public.metrics", s, e);
    }
    if (strcmp(name, "chunk_interval_set") == 0) {
        return tsp_ts_sql_chunk_interval_set(q, "public.metrics", "12 hours", s, e);
    }
    if (strcmp(name, "chunk_interval_integer") == 0) {
        return tsp_ts_sql_chunk_interval_set(q, "public.ticks", "1000", s, e);
    }
    if (strcmp(name, "chunk_interval_missing") == 0) {
        return tsp_ts_sql_chunk_interval_set(q, "public.metrics", NULL, s, e);
    }
    if (strcmp(name, "reorder_add") == 0) {
        return tsp_ts_sql_reorder_add(q, "public.metrics", "metrics_ts_idx", s, e);
    }
    if (strcmp(name, "reorder_add_bad_index") == 0) {
        return tsp_ts_sql_reorder_add(q, "public.metrics", "a b", s, e);
    }
    if (strcmp(name, "reorder_remove") == 0) {
        return tsp_ts_sql_reorder_remove(q, "public.metrics", true, s, e);
    }
    if (strcmp(name, "chunks_page_first") == 0) {
        return tsp_ts_sql_chunks_page(q, "public", "metrics", NULL, true, &first, s, e);
    }
    if (strcmp(name, "chunks_page_after_older") == 0) {
        return tsp_ts_sql_chunks_page(q, "public", "metrics", &older, false, &after, s, e);
    }
    if (strcmp(name, "interval_advice") == 0) {
        return tsp_ts_sql_interval_advice("public", "metrics", s, e);
    }
    fail_msg("unknown case %s", name);
    return TSP_INTERNAL;
}

/* The same text format as the case file. */
static void render(enum tsp_code rc, const struct tsp_ts_stmt *s, const struct tsp_error *e,
                   char *out, size_t size)
{
    size_t len = 0;

    if (rc != TSP_OK) {
        snprintf(out, size, "rc=%s field=%s detail=%s\n", tsp_code_name(rc), e->field, e->detail);
        return;
    }
    len +=
        (size_t)snprintf(out + len, size - len, "rc=OK autocommit=%d\n%s\n", s->autocommit, s->sql);
    for (int i = 0; i < s->nparams && len < size; i++) {
        len += (size_t)snprintf(out + len, size - len, "$%d=%s [%s]\n", i + 1,
                                s->params[i] != NULL ? s->params[i] : "NULL", s->fields[i]);
    }
}

static void test_tsp_ts_sql_cases_table(void **state)
{
    char path[1024];
    char line[4096];
    char expected[16384] = "";
    char case_name[128] = "";
    char got[16384];
    FILE *f = NULL;
    int cases = 0;
    int failures = 0;
    (void)state;

    snprintf(path, sizeof(path), "%s/tests/data/timescale_sql.cases", tsp_test_source_dir());
    f = fopen(path, "r");
    assert_non_null(f);
    for (;;) {
        bool eof = fgets(line, sizeof(line), f) == NULL;
        if (eof || strncmp(line, "== ", 3) == 0) {
            if (case_name[0] != '\0') {
                struct tsp_ts_stmt s = {0};
                struct tsp_error e;
                enum tsp_code rc;
                tsp_error_init(&e);
                rc = build_case(case_name, &s, &e);
                render(rc, &s, &e, got, sizeof(got));
                if (strcmp(got, expected) != 0) {
                    fprintf(stderr, "case %s:\n--- expected\n%s--- got\n%s", case_name, expected,
                            got);
                    failures++;
                }
                if (rc != TSP_OK) {
                    assert_null(s.sql);
                    assert_int_equal(s.nparams, 0);
                }
                tsp_ts_stmt_fini(&s);
                cases++;
            }
            if (eof) {
                break;
            }
            /* names longer than the buffer are cut, which only shortens failure messages */
            size_t name_len = strcspn(line + 3, "\r\n");
            if (name_len >= sizeof(case_name)) {
                name_len = sizeof(case_name) - 1;
            }
            memcpy(case_name, line + 3, name_len);
            case_name[name_len] = '\0';
            expected[0] = '\0';
        } else if (line[0] != '#' && case_name[0] != '\0') {
            strncat(expected, line, sizeof(expected) - strlen(expected) - 1);
        }
    }
    fclose(f);
    assert_true(cases >= 60);
    assert_int_equal(failures, 0);
}

static void test_tsp_ts_cursor_round_trip_and_rejects(void **state)
{
    struct tsp_ts_keyset k = {false, 0, "", 10};
    struct tsp_error err;
    char cursor[TSP_TS_CURSOR_MAX];
    static const char *const bad[] = {"",      "c1",     "c1zz",   "x1414243", "c17c41",
                                      "c1313", "c13132", "c10041", "c1317c"};
    (void)state;

    tsp_error_init(&err);
    assert_int_equal(tsp_ts_cursor_encode(-42, "_hyper_1_2_chunk", cursor, sizeof(cursor), &err),
                     TSP_OK);
    assert_int_equal(tsp_ts_cursor_decode(cursor, &k, &err), TSP_OK);
    assert_true(k.after);
    assert_int_equal(k.key, -42);
    assert_string_equal(k.name, "_hyper_1_2_chunk");
    assert_int_equal(k.limit, 10);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tsp_error_init(&err);
        assert_int_equal(tsp_ts_cursor_decode(bad[i], &k, &err), TSP_INVALID);
        assert_string_equal(err.field, "cursor");
    }
    /* a cursor that does not fit is refused, never cut */
    tsp_error_init(&err);
    assert_int_equal(tsp_ts_cursor_encode(1, "n", cursor, 8, &err), TSP_INTERNAL);
}

static void test_tsp_ts_advice_derive_rules(void **state)
{
    struct tsp_ts_interval_advice a;
    (void)state;

    tsp_ts_advice_derive(128LL << 20, 0, 0, 0, &a);
    assert_false(a.known);
    assert_string_equal(a.recommendation, "keep");
    tsp_ts_advice_derive(128LL << 20, 200LL << 20, 3, 10, &a);
    assert_true(a.known);
    assert_string_equal(a.recommendation, "decrease");
    tsp_ts_advice_derive(128LL << 20, 40960, 3, 5000, &a);
    assert_string_equal(a.recommendation, "increase");
    tsp_ts_advice_derive(128LL << 20, 40960, 3, 20, &a);
    assert_string_equal(a.recommendation, "keep");
    tsp_ts_advice_derive(128LL << 20, 64LL << 20, 3, 5000, &a);
    assert_string_equal(a.recommendation, "keep");
    assert_non_null(strstr(a.reason, "fit in shared_buffers"));
}

static void test_tsp_ts_time_cast_kinds(void **state)
{
    (void)state;
    assert_string_equal(tsp_ts_time_cast("7 days"), "interval");
    assert_string_equal(tsp_ts_time_cast("1 hour 30 minutes"), "interval");
    assert_string_equal(tsp_ts_time_cast("2026-01-01"), "timestamptz");
    assert_string_equal(tsp_ts_time_cast("2026-01-01T00:00:00Z"), "timestamptz");
    assert_string_equal(tsp_ts_time_cast("1000"), "bigint");
    assert_string_equal(tsp_ts_time_cast("-5"), "bigint");
    assert_string_equal(tsp_ts_time_cast("-"), "interval");
    assert_string_equal(tsp_ts_time_cast("2026-1-1"), "interval");
    assert_string_equal(tsp_ts_time_cast(NULL), "interval");
}

static void test_tsp_ts_caps_derive_versions_and_licenses(void **state)
{
    struct tsp_ts_caps caps;
    (void)state;

    memset(&caps, 0, sizeof(caps));
    caps.installed = true;
    snprintf(caps.version, sizeof(caps.version), "2.23.0-dev");
    snprintf(caps.license, sizeof(caps.license), "timescale");
    tsp_ts_caps_derive(&caps);
    assert_int_equal(caps.version_num, 22300);
    assert_true(caps.columnstore_api);
    assert_true(caps.compression && caps.retention_policies && caps.continuous_aggregates &&
                caps.jobs && caps.hypertables);

    snprintf(caps.version, sizeof(caps.version), "2.17.2");
    tsp_ts_caps_derive(&caps);
    assert_int_equal(caps.version_num, 21702);
    assert_false(caps.columnstore_api);

    snprintf(caps.version, sizeof(caps.version), "2.18.0");
    snprintf(caps.license, sizeof(caps.license), "apache");
    tsp_ts_caps_derive(&caps);
    assert_true(caps.columnstore_api);
    assert_true(caps.hypertables);
    assert_false(caps.compression || caps.retention_policies || caps.continuous_aggregates ||
                 caps.jobs);

    memset(&caps, 0, sizeof(caps));
    tsp_ts_caps_derive(&caps);
    assert_false(caps.hypertables || caps.compression || caps.columnstore_api);
    assert_int_equal(caps.version_num, 0);
}

static void test_tsp_ts_caps_require_messages(void **state)
{
    struct tsp_ts_caps caps;
    struct tsp_error err;
    (void)state;

    memset(&caps, 0, sizeof(caps));
    snprintf(caps.database, sizeof(caps.database), "appdb");
    tsp_error_init(&err);
    assert_int_equal(tsp_ts_caps_require(&caps, TSP_TS_FEATURE_NONE, &err), TSP_OK);
    assert_int_equal(tsp_ts_caps_require(&caps, TSP_TS_FEATURE_EXTENSION, &err), TSP_CONFLICT);
    assert_string_equal(err.detail, "extension timescaledb is not installed in database \"appdb\"");

    caps.installed = true;
    snprintf(caps.version, sizeof(caps.version), "2.19.1");
    snprintf(caps.license, sizeof(caps.license), "apache");
    tsp_ts_caps_derive(&caps);
    tsp_error_init(&err);
    assert_int_equal(tsp_ts_caps_require(&caps, TSP_TS_FEATURE_EXTENSION, &err), TSP_OK);
    assert_int_equal(tsp_ts_caps_require(&caps, TSP_TS_FEATURE_AGGREGATES, &err), TSP_CONFLICT);
    assert_string_equal(
        err.detail, "feature \"continuous aggregates\" needs the TimescaleDB community license; "
                    "timescaledb 2.19.1 in database \"appdb\" runs under the "
                    "\"apache\" license");
    tsp_error_init(&err);
    assert_int_equal(tsp_ts_caps_require(&caps, TSP_TS_FEATURE_COMPRESSION, &err), TSP_CONFLICT);
    assert_string_equal(err.detail,
                        "feature \"compression\" needs the TimescaleDB community license; "
                        "timescaledb 2.19.1 in database \"appdb\" runs under the "
                        "\"apache\" license");
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsp_ts_sql_cases_table),
        cmocka_unit_test(test_tsp_ts_cursor_round_trip_and_rejects),
        cmocka_unit_test(test_tsp_ts_advice_derive_rules),
        cmocka_unit_test(test_tsp_ts_time_cast_kinds),
        cmocka_unit_test(test_tsp_ts_caps_derive_versions_and_licenses),
        cmocka_unit_test(test_tsp_ts_caps_require_messages),
    };
    return cmocka_run_group_tests_name("timescale_sql", tests, NULL, NULL);
}
