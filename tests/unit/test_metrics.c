/* test_metrics.c - unit tests of the HTTP counters and histograms and of the Prometheus
 * exposition: exact sample lines, cumulative buckets, label escaping, the format grammar.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "http_client.h"
#include "tspool/metrics.h"

static const char *const labels[] = {"/livez", "/readyz/{check}"};

static struct tsp_metrics *new_metrics(void)
{
    struct tsp_metrics *m = NULL;
    struct tsp_error err;
    tsp_error_init(&err);
    assert_int_equal(tsp_metrics_new(labels, 2, &m, &err), TSP_OK);
    return m;
}

/* noinline: inlined, GCC 12 -O2 takes the returned text for the address of the local `text`
 * (-Wdangling-pointer false positive) */
__attribute__((noinline)) static char *render(const struct tsp_metrics *m,
                                              const struct tsp_metrics_sources *src)
{
    struct tsp_error err;
    char *text = NULL;
    size_t len = 0;
    tsp_error_init(&err);
    assert_int_equal(tsp_metrics_render(m, src, &text, &len, &err), TSP_OK);
    assert_int_equal(strlen(text), len);
    return text;
}

/* How many times needle stands in text. */
static int occurrences(const char *text, const char *needle)
{
    int n = 0;
    size_t len = strlen(needle);

    for (const char *at = strstr(text, needle); at != NULL; at = strstr(at + len, needle)) {
        n++;
    }
    return n;
}

static void test_tsp_metrics_http_observe_counts(void **state)
{
    struct tsp_metrics *m = new_metrics();
    (void)state;

    tsp_metrics_http_observe(m, 0, "GET", 200, 1000);
    tsp_metrics_http_observe(m, 0, "GET", 200, 1000);
    tsp_metrics_http_observe(m, 1, "GET", 503, 1000);
    tsp_metrics_http_observe(m, 99, "BREW", 418, 1000);
    assert_int_equal(tsp_metrics_http_count(m, 0, "GET", 200), 2);
    assert_int_equal(tsp_metrics_http_count(m, 1, "GET", 503), 1);
    assert_int_equal(tsp_metrics_http_count(m, 1, "GET", 200), 0);
    assert_int_equal(tsp_metrics_http_count(m, 2, "OTHER", 999), 1);
    tsp_metrics_free(m);
    tsp_metrics_free(NULL);
}

static void test_tsp_metrics_render_http_lines(void **state)
{
    struct tsp_metrics *m = new_metrics();
    struct tsp_metrics_sources src = {0};
    char *text = NULL;
    char why[512];
    (void)state;

    tsp_metrics_http_observe(m, 0, "GET", 200, 300000);      /* 0.3 ms */
    tsp_metrics_http_observe(m, 0, "GET", 200, 2000000);     /* 2 ms */
    tsp_metrics_http_observe(m, 0, "GET", 200, 20000000000); /* 20 s: +Inf */
    tsp_metrics_http_observe(m, 1, "GET", 503, 1000);
    src.version = "1.2.3";
    text = render(m, &src);
    assert_non_null(strstr(text, "# TYPE tspool_up gauge\ntspool_up 1\n"));
    assert_non_null(strstr(text, "tspool_build_info{version=\"1.2.3\"} 1\n"));
    assert_non_null(strstr(
        text, "tspool_http_requests_total{route=\"/livez\",method=\"GET\",code=\"200\"} 3\n"));
    assert_non_null(strstr(
        text,
        "tspool_http_requests_total{route=\"/readyz/{check}\",method=\"GET\",code=\"503\"} 1\n"));
    assert_non_null(strstr(
        text, "tspool_http_request_duration_seconds_bucket{route=\"/livez\",le=\"0.0005\"} 1\n"));
    assert_non_null(strstr(
        text, "tspool_http_request_duration_seconds_bucket{route=\"/livez\",le=\"0.0025\"} 2\n"));
    assert_non_null(strstr(
        text, "tspool_http_request_duration_seconds_bucket{route=\"/livez\",le=\"10\"} 2\n"));
    assert_non_null(strstr(
        text, "tspool_http_request_duration_seconds_bucket{route=\"/livez\",le=\"+Inf\"} 3\n"));
    assert_non_null(
        strstr(text, "tspool_http_request_duration_seconds_count{route=\"/livez\"} 3\n"));
    assert_null(strstr(text, "route=\"unmatched\""));
    assert_null(strstr(text, "tspool_pool_"));
    if (!tsp_test_prometheus_valid(text, why, sizeof(why))) {
        fail_msg("%s", why);
    }
    free(text);
    tsp_metrics_free(m);
}

static void test_tsp_metrics_render_pool_section(void **state)
{
    struct tsp_pool_stats stats;
    struct tsp_pool_health db;
    struct tsp_pool_label_count slow[1];
    struct tsp_metrics_sources src = {0};
    char *text = NULL;
    char why[512];
    (void)state;

    memset(&stats, 0, sizeof(stats));
    memset(&db, 0, sizeof(db));
    stats.size = 20;
    stats.idle = 3;
    stats.in_use = 2;
    stats.borrows = 42;
    stats.closes[TSP_CLOSE_BROKEN] = 4;
    stats.wait_buckets[0] = 5;
    stats.wait_buckets[1] = 2;
    stats.wait_buckets[TSP_POOL_WAIT_BUCKETS] = 1;
    stats.timeout_ms = 1500;
    db.checked = true;
    db.ok = true;
    db.latency_ms = 2.5;
    strcpy(slow[0].label, "we\"ird\\label");
    slow[0].count = 7;
    src.pool = &stats;
    src.db = &db;
    src.slow = slow;
    src.nslow = 1;
    text = render(NULL, &src);
    assert_non_null(strstr(text, "tspool_pool_size{pool=\"primary\"} 20\n"));
    assert_non_null(strstr(text, "tspool_pool_connections{pool=\"primary\",state=\"idle\"} 3\n"));
    assert_non_null(strstr(text, "tspool_pool_connections{pool=\"primary\",state=\"in_use\"} 2\n"));
    assert_non_null(strstr(text, "tspool_pool_borrows_total{pool=\"primary\"} 42\n"));
    assert_non_null(
        strstr(text, "tspool_pool_closes_total{pool=\"primary\",reason=\"broken\"} 4\n"));
    assert_non_null(strstr(text, "tspool_pool_timeout_seconds{pool=\"primary\"} 1.5\n"));
    assert_non_null(strstr(text, "tspool_pool_slow_operations_by_label_total{pool=\"primary\","
                                 "label=\"we\\\"ird\\\\label\"} 7\n"));
    assert_non_null(
        strstr(text, "tspool_pool_acquire_wait_seconds_bucket{pool=\"primary\",le=\"+Inf\"} 8\n"));
    assert_non_null(strstr(text, "tspool_pool_acquire_wait_seconds_count{pool=\"primary\"} 8\n"));
    assert_non_null(strstr(text, "tspool_db_up 1\n"));
    assert_non_null(strstr(text, "tspool_db_check_latency_seconds 0.0025\n"));
    assert_null(strstr(text, "tspool_http_"));
    if (!tsp_test_prometheus_valid(text, why, sizeof(why))) {
        fail_msg("%s", why);
    }
    free(text);
}

/* The read pool repeats every pool series under pool="read"; replicas get their own families. */
static void test_tsp_metrics_render_read_pool_and_replicas(void **state)
{
    struct tsp_pool_stats primary;
    struct tsp_pool_stats read;
    struct tsp_metrics_replica replicas[2];
    struct tsp_metrics_sources src = {0};
    char *text = NULL;
    char why[512];
    (void)state;

    memset(&primary, 0, sizeof(primary));
    memset(&read, 0, sizeof(read));
    memset(replicas, 0, sizeof(replicas));
    primary.size = 20;
    read.size = 10;
    read.in_use = 4;
    read.borrows = 9;
    snprintf(replicas[0].server, sizeof(replicas[0].server), "10.0.0.2:5432");
    replicas[0].up = true;
    replicas[0].in_rotation = true;
    replicas[0].has_lag = true;
    replicas[0].lag_bytes = 1234;
    replicas[0].lag_s = 0.5;
    snprintf(replicas[1].server, sizeof(replicas[1].server), "10.0.0.3:5432");
    src.pool = &primary;
    src.read_pool = &read;
    src.cluster = true;
    src.replicas = replicas;
    src.nreplicas = 2;
    src.reads_replica = 7;
    src.reads_fallback = 2;
    src.failovers = 1;
    text = render(NULL, &src);
    assert_non_null(strstr(text, "tspool_pool_size{pool=\"primary\"} 20\n"));
    assert_non_null(strstr(text, "tspool_pool_size{pool=\"read\"} 10\n"));
    assert_non_null(strstr(text, "tspool_pool_connections{pool=\"read\",state=\"in_use\"} 4\n"));
    assert_non_null(strstr(text, "tspool_pool_borrows_total{pool=\"read\"} 9\n"));
    assert_non_null(strstr(text, "tspool_replica_up{server=\"10.0.0.2:5432\"} 1\n"));
    assert_non_null(strstr(text, "tspool_replica_up{server=\"10.0.0.3:5432\"} 0\n"));
    assert_non_null(strstr(text, "tspool_replica_in_rotation{server=\"10.0.0.3:5432\"} 0\n"));
    assert_non_null(strstr(text, "tspool_replica_lag_bytes{server=\"10.0.0.2:5432\"} 1234\n"));
    assert_non_null(strstr(text, "tspool_replica_lag_seconds{server=\"10.0.0.2:5432\"} 0.5\n"));
    /* an unreachable replica has no lag to report */
    assert_null(strstr(text, "tspool_replica_lag_bytes{server=\"10.0.0.3:5432\"}"));
    assert_non_null(strstr(text, "tspool_read_borrows_total{target=\"primary_fallback\"} 2\n"));
    assert_non_null(strstr(text, "tspool_cluster_failovers_total 1\n"));
    /* HELP/TYPE once per family, not once per pool */
    assert_int_equal(occurrences(text, "# TYPE tspool_pool_size gauge"), 1);
    if (!tsp_test_prometheus_valid(text, why, sizeof(why))) {
        fail_msg("%s", why);
    }
    free(text);
}

static void test_tsp_test_prometheus_valid_rejects_bad_lines(void **state)
{
    char why[256];
    (void)state;

    assert_false(tsp_test_prometheus_valid("x 1\n", why, sizeof(why)));
    assert_string_equal(why, "sample without HELP/TYPE: x 1");
    assert_false(
        tsp_test_prometheus_valid("# HELP x h\n# TYPE x gauge\nx{a=b} 1\n", why, sizeof(why)));
    assert_false(
        tsp_test_prometheus_valid("# HELP x h\n# TYPE x gauge\nx one\n", why, sizeof(why)));
    assert_true(tsp_test_prometheus_valid("# HELP x h\n# TYPE x gauge\nx{a=\"b\"} 1.5e3\n", why,
                                          sizeof(why)));
}

static void *observe_many(void *arg)
{
    struct tsp_metrics *m = arg;
    for (int i = 0; i < 10000; i++) {
        tsp_metrics_http_observe(m, 1, "GET", 200, (uint64_t)i * 1000u);
    }
    return NULL;
}

/* Counters are hit by every worker thread at once: no update may be lost (and TSan must
 * stay quiet, `make tsan`). */
static void test_tsp_metrics_http_observe_concurrent(void **state)
{
    struct tsp_metrics *m = new_metrics();
    pthread_t threads[4];
    char *text = NULL;
    (void)state;

    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_create(&threads[i], NULL, observe_many, m), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
    }
    assert_int_equal(tsp_metrics_http_count(m, 1, "GET", 200), 40000);
    text = render(m, NULL);
    assert_non_null(strstr(
        text, "tspool_http_request_duration_seconds_count{route=\"/readyz/{check}\"} 40000\n"));
    free(text);
    tsp_metrics_free(m);
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsp_metrics_http_observe_counts),
        cmocka_unit_test(test_tsp_metrics_http_observe_concurrent),
        cmocka_unit_test(test_tsp_metrics_render_http_lines),
        cmocka_unit_test(test_tsp_metrics_render_pool_section),
        cmocka_unit_test(test_tsp_metrics_render_read_pool_and_replicas),
        cmocka_unit_test(test_tsp_test_prometheus_valid_rejects_bad_lines),
    };
    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
