/* test_cli.c - integration tests of the client subcommands against a running service and the
 * PostgreSQL test server: tspool status (table, --json, --detailed), tspool probe, tspool
 * check; unreachable service, bad flags and --help, with their exit codes.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_client.h"
#include "service_harness.h"

static struct tsp_test_service *svc;

static int setup(void **state)
{
    static const char *const env[] = {"TSPOOL_READ_TOKEN=cli-read-token", NULL};
    (void)state;
    if (!tsp_test_pg_available()) {
        return -1;
    }
    svc = tsp_test_service_start(env);
    return svc != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tsp_test_service_stop(svc);
    svc = NULL;
    return 0;
}

/* Run the CLI with TSPOOL_LISTEN pointing at the service and the read token set. */
static int cli(const char *const *args, char **out, char **err)
{
    static const char *const env[] = {"TSPOOL_READ_TOKEN=cli-read-token", NULL};
    return tsp_test_run_cli(args, tsp_test_service_port(svc), env, out, err);
}

static void test_cli_status_table(void **state)
{
    const char *args[] = {"status", NULL};
    char *out = NULL, *err = NULL;
    (void)state;

    assert_int_equal(cli(args, &out, &err), 0);
    assert_non_null(strstr(out, "tspool pool status (http://127.0.0.1:"));
    assert_non_null(strstr(out, "  mode                   pooled\n"));
    assert_non_null(strstr(out, "  size                   20 (+10 overflow, 0 kept warm)\n"));
    assert_non_null(strstr(out, "  in use "));
    assert_non_null(strstr(out, "acquire wait           p50 "));
    free(out);
    free(err);
}

static void test_cli_status_json_and_detailed(void **state)
{
    const char *args[] = {"status", "--json", "--detailed", NULL};
    char *out = NULL, *err = NULL;
    json_t *doc = NULL;
    (void)state;

    assert_int_equal(cli(args, &out, &err), 0);
    doc = json_loads(out, 0, NULL);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "mode")), "pooled");
    assert_true(json_is_array(json_object_get(doc, "connections")));
    assert_non_null(json_object_get(doc, "server"));
    json_decref(doc);
    free(out);
    free(err);
}

static void test_cli_status_without_token_fails(void **state)
{
    const char *args[] = {"status", NULL};
    char *out = NULL, *err = NULL;
    (void)state;

    assert_int_equal(tsp_test_run_cli(args, tsp_test_service_port(svc), NULL, &out, &err), 1);
    assert_non_null(strstr(err, "answered 401: a bearer token is required"));
    free(out);
    free(err);
}

static void test_cli_status_unreachable(void **state)
{
    const char *args[] = {"status", "--url", "http://127.0.0.1:1", NULL};
    char *out = NULL, *err = NULL;
    (void)state;

    assert_int_equal(cli(args, &out, &err), 1);
    assert_non_null(
        strstr(err, "tspool status: cannot reach the service: http://127.0.0.1:1/pool/status"));
    assert_string_equal(out, "");
    free(out);
    free(err);
}

static void test_cli_usage_errors(void **state)
{
    const char *bad_status[] = {"status", "--frobnicate", NULL};
    const char *bad_probe[] = {"probe", "sideways", NULL};
    const char *no_probe[] = {"probe", NULL};
    const char *help[] = {"status", "--help", NULL};
    const char *probe_help[] = {"probe", "--help", NULL};
    const char *check_help[] = {"check", "--help", NULL};
    const char *serve_help[] = {"serve", "--help", NULL};
    char *out = NULL, *err = NULL;
    (void)state;

    assert_int_equal(cli(bad_status, &out, &err), 2);
    assert_non_null(strstr(err, "usage: tspool status"));
    free(out);
    free(err);
    assert_int_equal(cli(bad_probe, &out, &err), 2);
    assert_non_null(strstr(err, "usage: tspool probe"));
    free(out);
    free(err);
    assert_int_equal(cli(no_probe, &out, &err), 2);
    free(out);
    free(err);
    assert_int_equal(cli(help, &out, &err), 0);
    assert_non_null(strstr(out, "usage: tspool status"));
    free(out);
    free(err);
    assert_int_equal(cli(probe_help, &out, &err), 0);
    free(out);
    free(err);
    assert_int_equal(cli(check_help, &out, &err), 0);
    free(out);
    free(err);
    assert_int_equal(cli(serve_help, &out, &err), 0);
    assert_non_null(strstr(out, "usage: tspool serve"));
    free(out);
    free(err);
}

static void test_cli_probe_exit_codes(void **state)
{
    const char *live[] = {"probe", "live", NULL};
    const char *ready[] = {"probe", "ready", "--timeout", "5", NULL};
    const char *startup[] = {"probe", "startup", "--verbose", NULL};
    const char *down[] = {"probe", "live", "--url", "http://127.0.0.1:1", "--timeout", "2", NULL};
    char *out = NULL, *err = NULL;
    (void)state;

    assert_int_equal(cli(live, &out, &err), 0);
    assert_string_equal(out, "ok\n");
    free(out);
    free(err);
    for (int i = 0; i < 50; i++) {
        int rc = cli(ready, &out, &err);
        free(out);
        free(err);
        if (rc == 0) {
            break;
        }
        tsp_test_sleep_ms(200);
    }
    assert_int_equal(cli(ready, &out, &err), 0);
    free(out);
    free(err);
    assert_int_equal(cli(startup, &out, &err), 0);
    assert_non_null(strstr(out, "[+]db ok\n"));
    assert_non_null(strstr(out, "startupz check passed"));
    free(out);
    free(err);
    assert_int_equal(cli(down, &out, &err), 1);
    assert_non_null(strstr(err, "tspool probe: "));
    free(out);
    free(err);
}

static void test_cli_check_both_modes(void **state)
{
    const char *args[] = {"check", NULL};
    static const char *const bad_pass[] = {"DB_PASS=definitely-wrong", NULL};
    static const char *const bad_config[] = {"DB_POOL_MODE=sideways", NULL};
    char *out = NULL, *err = NULL;
    (void)state;

    assert_int_equal(cli(args, &out, &err), 0);
    assert_non_null(strstr(out, "pooled  ok: round trip "));
    assert_non_null(strstr(out, "direct  ok: round trip "));
    assert_non_null(strstr(out, "  server version       15."));
    assert_non_null(strstr(out, "  role                 primary\n"));
    assert_non_null(strstr(out, "  timescaledb          not installed\n"));
    assert_non_null(strstr(out, "  max_connections      100 "));
    assert_non_null(strstr(out, "check passed\n"));
    free(out);
    free(err);

    assert_int_equal(tsp_test_run_cli(args, tsp_test_service_port(svc), bad_pass, &out, &err), 1);
    assert_non_null(strstr(out, "pooled  FAILED: "));
    assert_non_null(strstr(out, "check failed\n"));
    assert_null(strstr(out, "definitely-wrong"));
    assert_null(strstr(err, "definitely-wrong"));
    free(out);
    free(err);

    assert_int_equal(tsp_test_run_cli(args, tsp_test_service_port(svc), bad_config, &out, &err), 2);
    assert_non_null(strstr(err, "DB_POOL_MODE"));
    free(out);
    free(err);
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_status_table),
        cmocka_unit_test(test_cli_status_json_and_detailed),
        cmocka_unit_test(test_cli_status_without_token_fails),
        cmocka_unit_test(test_cli_status_unreachable),
        cmocka_unit_test(test_cli_usage_errors),
        cmocka_unit_test(test_cli_probe_exit_codes),
        cmocka_unit_test(test_cli_check_both_modes),
    };
    return cmocka_run_group_tests_name("cli", tests, setup, teardown);
}
