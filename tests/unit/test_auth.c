/* test_auth.c - unit tests of bearer-token authorization: roles, 401 vs 403, open reads,
 * disabled admin endpoints, and the constant-time comparison's results.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <string.h>

#include "api_int.h"

static struct tsp_config cfg_with(char *admin, char *read, bool public_probes, bool public_metrics)
{
    struct tsp_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.admin_token = admin;
    cfg.read_token = read;
    cfg.public_probes = public_probes;
    cfg.public_metrics = public_metrics;
    return cfg;
}

static enum tsp_code check(const struct tsp_config *cfg, enum tsp_role role, const char *auth)
{
    struct tsp_error err;
    tsp_error_init(&err);
    return tsp_auth_check(cfg, role, auth, &err);
}

static void test_tsp_auth_equal_cases(void **state)
{
    (void)state;
    assert_true(tsp_auth_equal("secret", "secret"));
    assert_false(tsp_auth_equal("secret", "secreT"));
    assert_false(tsp_auth_equal("secret", "secret2"));
    assert_false(tsp_auth_equal("", "x"));
    assert_true(tsp_auth_equal("", ""));
}

static void test_tsp_auth_check_roles(void **state)
{
    char admin[] = "admintok";
    char read[] = "readtok";
    struct tsp_config cfg = cfg_with(admin, read, true, false);
    (void)state;

    assert_int_equal(check(&cfg, TSP_ROLE_PUBLIC, NULL), TSP_OK);
    assert_int_equal(check(&cfg, TSP_ROLE_PROBE, NULL), TSP_OK);
    assert_int_equal(check(&cfg, TSP_ROLE_METRICS, NULL), TSP_UNAUTHORIZED);
    assert_int_equal(check(&cfg, TSP_ROLE_METRICS, "Bearer readtok"), TSP_OK);
    assert_int_equal(check(&cfg, TSP_ROLE_READ, NULL), TSP_UNAUTHORIZED);
    assert_int_equal(check(&cfg, TSP_ROLE_READ, "Basic abc"), TSP_UNAUTHORIZED);
    assert_int_equal(check(&cfg, TSP_ROLE_READ, "Bearer wrong"), TSP_UNAUTHORIZED);
    assert_int_equal(check(&cfg, TSP_ROLE_READ, "Bearer readtok"), TSP_OK);
    assert_int_equal(check(&cfg, TSP_ROLE_READ, "bearer admintok"), TSP_OK);
    assert_int_equal(check(&cfg, TSP_ROLE_ADMIN, "Bearer readtok"), TSP_FORBIDDEN);
    assert_int_equal(check(&cfg, TSP_ROLE_ADMIN, "Bearer admintok"), TSP_OK);
    assert_int_equal(check(&cfg, TSP_ROLE_ADMIN, NULL), TSP_UNAUTHORIZED);
}

static void test_tsp_auth_check_reads_open_without_read_token(void **state)
{
    char admin[] = "admintok";
    struct tsp_config cfg = cfg_with(admin, NULL, false, false);
    (void)state;

    assert_int_equal(check(&cfg, TSP_ROLE_READ, NULL), TSP_OK);
    assert_int_equal(check(&cfg, TSP_ROLE_PROBE, NULL), TSP_OK);
    assert_int_equal(check(&cfg, TSP_ROLE_ADMIN, NULL), TSP_UNAUTHORIZED);
}

static void test_tsp_auth_check_admin_disabled_without_token(void **state)
{
    struct tsp_config cfg = cfg_with(NULL, NULL, true, true);
    struct tsp_error err;
    (void)state;

    tsp_error_init(&err);
    assert_int_equal(tsp_auth_check(&cfg, TSP_ROLE_ADMIN, "Bearer x", &err), TSP_FORBIDDEN);
    assert_string_equal(err.detail, "admin endpoints are disabled: TSPOOL_ADMIN_TOKEN is not set");
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsp_auth_equal_cases),
        cmocka_unit_test(test_tsp_auth_check_roles),
        cmocka_unit_test(test_tsp_auth_check_reads_open_without_read_token),
        cmocka_unit_test(test_tsp_auth_check_admin_disabled_without_token),
    };
    return cmocka_run_group_tests_name("auth", tests, NULL, NULL);
}
