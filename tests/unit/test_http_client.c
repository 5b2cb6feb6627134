/* test_http_client.c - unit tests of the CLI's service URL and token selection
 * (cli/http_client.c): --url, TSPOOL_URL, TSPOOL_LISTEN, defaults.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "http_client_int.h"

static int clear_env(void **state)
{
    (void)state;
    unsetenv("TSPOOL_URL");
    unsetenv("TSPOOL_LISTEN");
    unsetenv("TSPOOL_READ_TOKEN");
    unsetenv("TSPOOL_ADMIN_TOKEN");
    unsetenv("TSPOOL_READ_TOKEN_FILE");
    unsetenv("TSPOOL_ADMIN_TOKEN_FILE");
    return 0;
}

static void test_tsp_http_default_url_precedence(void **state)
{
    char url[256];
    (void)state;

    tsp_http_default_url(NULL, url, sizeof(url));
    assert_string_equal(url, "http://127.0.0.1:8080");
    setenv("TSPOOL_LISTEN", "0.0.0.0:9090", 1);
    tsp_http_default_url(NULL, url, sizeof(url));
    assert_string_equal(url, "http://127.0.0.1:9090");
    setenv("TSPOOL_LISTEN", "[::]:9091", 1);
    tsp_http_default_url(NULL, url, sizeof(url));
    assert_string_equal(url, "http://127.0.0.1:9091");
    setenv("TSPOOL_LISTEN", "10.1.2.3:9092", 1);
    tsp_http_default_url(NULL, url, sizeof(url));
    assert_string_equal(url, "http://10.1.2.3:9092");
    setenv("TSPOOL_URL", "http://svc:8080/", 1);
    tsp_http_default_url(NULL, url, sizeof(url));
    assert_string_equal(url, "http://svc:8080");
    tsp_http_default_url("http://explicit:1//", url, sizeof(url));
    assert_string_equal(url, "http://explicit:1");
}

static void test_tsp_http_read_token_precedence(void **state)
{
    (void)state;
    assert_null(tsp_http_read_token());
    setenv("TSPOOL_ADMIN_TOKEN", "adm", 1);
    assert_string_equal(tsp_http_read_token(), "adm");
    setenv("TSPOOL_READ_TOKEN", "rd", 1);
    assert_string_equal(tsp_http_read_token(), "rd");
    setenv("TSPOOL_READ_TOKEN", "", 1);
    assert_string_equal(tsp_http_read_token(), "adm");
}

static void test_tsp_http_read_token_from_file(void **state)
{
    char path[] = "/tmp/tspool-token-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = NULL;
    (void)state;

    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    fputs("file-token\n", f);
    fclose(f);
    setenv("TSPOOL_ADMIN_TOKEN_FILE", path, 1);
    assert_string_equal(tsp_http_read_token(), "file-token");
    setenv("TSPOOL_READ_TOKEN", "env-token", 1);
    assert_string_equal(tsp_http_read_token(), "env-token");
    unlink(path);
}

static void test_tsp_http_get_unreachable(void **state)
{
    struct tsp_http_reply reply = {0, NULL, 0};
    struct tsp_error err;
    (void)state;

    tsp_error_init(&err);
    assert_int_equal(tsp_http_get("http://127.0.0.1:1", "/livez", NULL, 2000, &reply, &err),
                     TSP_UNAVAILABLE);
    assert_int_equal(strncmp(err.detail, "http://127.0.0.1:1/livez: ", 26), 0);
    assert_null(reply.body);
    tsp_http_reply_fini(&reply);
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_tsp_http_default_url_precedence, clear_env),
        cmocka_unit_test_setup(test_tsp_http_read_token_precedence, clear_env),
        cmocka_unit_test_setup(test_tsp_http_read_token_from_file, clear_env),
        cmocka_unit_test(test_tsp_http_get_unreachable),
    };
    return cmocka_run_group_tests_name("http_client", tests, NULL, NULL);
}
