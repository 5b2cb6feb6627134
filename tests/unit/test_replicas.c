/* test_replicas.c - the read pool's pure rules: LSN text, rotation decisions and their reasons,
 * replica and primary readiness over a cached view, byte counts with units.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tspool/config.h"
#include "tspool/replicas.h"

static struct tsp_cluster_member streaming(void)
{
    struct tsp_cluster_member m;

    memset(&m, 0, sizeof(m));
    snprintf(m.name, sizeof(m.name), "10.0.0.2:5432");
    m.checked = true;
    m.reachable = true;
    m.role = TSP_CLUSTER_ROLE_REPLICA;
    m.timeline = 1;
    m.has_lag = true;
    return m;
}

static void test_tsp_cluster_lsn_parse_accepts_postgres_text(void **state)
{
    uint64_t v = 0;
    (void)state;

    assert_true(tsp_cluster_lsn_parse("0/16B6C50", &v));
    assert_true(v == 0x16B6C50u);
    assert_true(tsp_cluster_lsn_parse("1A/0", &v));
    assert_true(v == 0x1A00000000ull);
    assert_true(tsp_cluster_lsn_parse("FFFFFFFF/ffffffff", &v));
    assert_true(v == UINT64_MAX);
    assert_false(tsp_cluster_lsn_parse("", &v));
    assert_false(tsp_cluster_lsn_parse("0/", &v));
    assert_false(tsp_cluster_lsn_parse("/1", &v));
    assert_false(tsp_cluster_lsn_parse("0-1", &v));
    assert_false(tsp_cluster_lsn_parse("0/1/2", &v));
    assert_false(tsp_cluster_lsn_parse("123456789/0", &v));
    assert_false(tsp_cluster_lsn_parse("0/G", &v));
    assert_false(tsp_cluster_lsn_parse(NULL, &v));
}

static void test_tsp_cluster_rotation_decide_reasons(void **state)
{
    struct tsp_cluster_member m;
    (void)state;

    m = streaming();
    tsp_cluster_rotation_decide(&m, 1, 1024, 1000);
    assert_true(m.in_rotation);
    assert_string_equal(m.reason, "");

    m = streaming();
    m.lag_bytes = 1025;
    tsp_cluster_rotation_decide(&m, 1, 1024, 1000);
    assert_false(m.in_rotation);
    assert_string_equal(m.reason, "replay lag 1025 bytes is over DB_READ_MAX_LAG_BYTES (1024)");

    m = streaming();
    m.lag_bytes = 1025;
    tsp_cluster_rotation_decide(&m, 1, 0, 0); /* no bounds */
    assert_true(m.in_rotation);

    m = streaming();
    m.lag_s = 1.5;
    tsp_cluster_rotation_decide(&m, 1, 1024, 1000);
    assert_false(m.in_rotation);
    assert_string_equal(m.reason, "replay lag 1.500 s is over DB_READ_MAX_LAG_MS (1000 ms)");

    m = streaming();
    m.role = TSP_CLUSTER_ROLE_PRIMARY;
    tsp_cluster_rotation_decide(&m, 1, 1024, 1000);
    assert_false(m.in_rotation);
    assert_non_null(strstr(m.reason, "promoted"));

    m = streaming();
    m.timeline = 1;
    tsp_cluster_rotation_decide(&m, 2, 1024, 1000);
    assert_false(m.in_rotation);
    assert_string_equal(m.reason, "on timeline 1, the primary is on 2");

    m = streaming();
    m.reachable = false;
    snprintf(m.reason, sizeof(m.reason), "unreachable: connection refused");
    tsp_cluster_rotation_decide(&m, 1, 1024, 1000);
    assert_false(m.in_rotation);
    assert_string_equal(m.reason, "unreachable: connection refused");

    m = streaming();
    m.checked = false;
    tsp_cluster_rotation_decide(&m, 1, 1024, 1000);
    assert_false(m.in_rotation);
    assert_string_equal(m.reason, "not checked yet");
}

static void test_tsp_cluster_replica_ready_bounds(void **state)
{
    struct tsp_cluster_view *v = calloc(1, sizeof(*v));
    char reason[512];
    (void)state;

    assert_non_null(v);
    assert_false(tsp_cluster_replica_ready(v, -1, -1, reason, sizeof(reason)));
    assert_string_equal(reason, "no replica configured (DB_READ_HOSTS)");

    v->max_lag_bytes = 16 * 1024 * 1024;
    v->max_lag_ms = 10000;
    v->primary.timeline = 1;
    v->nreplicas = 2;
    v->replicas[0] = streaming();
    v->replicas[0].lag_bytes = 2 * 1024 * 1024;
    v->replicas[1] = streaming();
    v->replicas[1].reachable = false;
    snprintf(v->replicas[1].name, sizeof(v->replicas[1].name), "10.0.0.3:5432");
    snprintf(v->replicas[1].reason, sizeof(v->replicas[1].reason), "unreachable: refused");
    /* the configured bound (16MB) admits replica 0 */
    assert_true(tsp_cluster_replica_ready(v, -1, -1, reason, sizeof(reason)));
    /* ?lag=1MB does not, and the reason names the last replica tried */
    assert_false(tsp_cluster_replica_ready(v, 1024 * 1024, -1, reason, sizeof(reason)));
    assert_string_equal(reason, "no usable replica; 10.0.0.3:5432: unreachable: refused");
    v->replicas[1] = v->replicas[0];
    assert_false(tsp_cluster_replica_ready(v, 1024 * 1024, -1, reason, sizeof(reason)));
    assert_non_null(strstr(reason, "over DB_READ_MAX_LAG_BYTES (1048576)"));
    /* ?lag_ms= bounds the seconds */
    v->replicas[0].lag_bytes = 0;
    v->replicas[0].lag_s = 2.0;
    v->replicas[1] = v->replicas[0];
    assert_true(tsp_cluster_replica_ready(v, -1, 5000, reason, sizeof(reason)));
    assert_false(tsp_cluster_replica_ready(v, 0, 1000, reason, sizeof(reason)));
    free(v);
}

static void test_tsp_cluster_primary_ready_states(void **state)
{
    struct tsp_cluster_view *v = calloc(1, sizeof(*v));
    char reason[512];
    (void)state;

    assert_non_null(v);
    assert_false(tsp_cluster_primary_ready(v, reason, sizeof(reason)));
    assert_string_equal(reason, "primary not checked yet");
    v->primary.checked = true;
    snprintf(v->primary.reason, sizeof(v->primary.reason), "refused");
    assert_false(tsp_cluster_primary_ready(v, reason, sizeof(reason)));
    assert_string_equal(reason, "primary unreachable: refused");
    v->primary.reachable = true;
    v->primary.role = TSP_CLUSTER_ROLE_REPLICA;
    snprintf(v->primary.name, sizeof(v->primary.name), "db:5432");
    assert_false(tsp_cluster_primary_ready(v, reason, sizeof(reason)));
    assert_string_equal(reason, "db:5432 is in recovery (a replica), not a primary");
    v->primary.role = TSP_CLUSTER_ROLE_PRIMARY;
    assert_true(tsp_cluster_primary_ready(v, reason, sizeof(reason)));
    free(v);
}

static void test_tsp_config_parse_bytes_units(void **state)
{
    static const struct {
        const char *text;
        bool ok;
        long long value;
    } cases[] = {
        {"0", true, 0},
        {"16MB", true, 16LL * 1024 * 1024},
        {"16 MB", true, 16LL * 1024 * 1024},
        {"512kB", true, 512LL * 1024},
        {"1GB", true, 1LL << 30},
        {"2TB", true, 2LL << 40},
        {"100B", true, 100},
        {"12345", true, 12345},
        {"", false, 0},
        {"MB", false, 0},
        {"-1MB", false, 0},
        {"16mb", false, 0},
        {"16 ", false, 0},
        {"1.5MB", false, 0},
        {"99999999999TB", false, 0},
    };
    long long v = 0;
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool ok = tsp_config_parse_bytes(cases[i].text, &v);
        if (ok != cases[i].ok || (ok && v != cases[i].value)) {
            fail_msg("case '%s': ok=%d value=%lld", cases[i].text, ok, v);
        }
    }
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsp_cluster_lsn_parse_accepts_postgres_text),
        cmocka_unit_test(test_tsp_cluster_rotation_decide_reasons),
        cmocka_unit_test(test_tsp_cluster_replica_ready_bounds),
        cmocka_unit_test(test_tsp_cluster_primary_ready_states),
        cmocka_unit_test(test_tsp_config_parse_bytes_units),
    };
    return cmocka_run_group_tests_name("replicas", tests, NULL, NULL);
}
