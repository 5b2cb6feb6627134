/* test_security.c - security checks against the running binary: a rotated token file takes
 * effect without a restart, /config is never cached, responses carry nosniff and no server
 * banner, and no token or password reaches a log line.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_client.h"
#include "reliability.h"

#define OLD_TOKEN  "rotation-old-token-7f3a9c"
#define NEW_TOKEN  "rotation-new-token-1b8e4d"
#define READ_TOKEN "rotation-read-token-55aa"

static char dir[64];
static char admin_path[128];
static char read_path[128];

static int setup(void **state)
{
    (void)state;
    if (!tsp_test_pg_available()) {
        return -1;
    }
    snprintf(dir, sizeof(dir), "/tmp/tspool-sec-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        return -1;
    }
    snprintf(admin_path, sizeof(admin_path), "%s/admin-token", dir);
    snprintf(read_path, sizeof(read_path), "%s/read-token", dir);
    return 0;
}

static int teardown(void **state)
{
    unlink(admin_path);
    unlink(read_path);
    rmdir(dir);
    return rel_teardown(state);
}

/* Replace the file the way a Secret volume does: write aside, then rename over it. */
static void write_file(const char *path, const char *text)
{
    char tmp[160];
    FILE *f = NULL;

    snprintf(tmp, sizeof(tmp), "%s.new", path);
    f = fopen(tmp, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(rename(tmp, path), 0);
}

static long config_status(const char *base, const char *token)
{
    char url[256];
    struct tsp_test_reply *r = NULL;
    long status = 0;

    snprintf(url, sizeof(url), "%s/config", base);
    r = tsp_test_get(url, token);
    status = r->status;
    tsp_test_reply_free(r);
    return status;
}

static void test_security_token_file_rotation(void **state)
{
    char admin_env[160], read_env[160];
    const char *env[] = {admin_env, read_env, "TSPOOL_LOG_LEVEL=debug", NULL};
    struct tsp_test_service *svc = NULL;
    const char *base = NULL;
    long waited = -1;
    char *out = NULL, *err = NULL;
    (void)state;

    write_file(admin_path, OLD_TOKEN "\n");
    write_file(read_path, READ_TOKEN "\n");
    snprintf(admin_env, sizeof(admin_env), "TSPOOL_ADMIN_TOKEN_FILE=%s", admin_path);
    snprintf(read_env, sizeof(read_env), "TSPOOL_READ_TOKEN_FILE=%s", read_path);
    svc = rel_start(env);
    base = tsp_test_service_url(svc);

    assert_int_equal(config_status(base, OLD_TOKEN), 200);
    assert_int_equal(config_status(base, NEW_TOKEN), 401);
    assert_int_equal(config_status(base, READ_TOKEN), 403);

    write_file(admin_path, NEW_TOKEN "\n");
    {
        int64_t start = rel_now_ms();
        while (rel_now_ms() - start < 10000 && config_status(base, NEW_TOKEN) != 200) {
            tsp_test_sleep_ms(100);
        }
        waited = (long)(rel_now_ms() - start);
    }
    assert_int_equal(config_status(base, NEW_TOKEN), 200);
    assert_int_equal(config_status(base, OLD_TOKEN), 401);
    assert_true(waited < 10000);

    /* an emptied file keeps the token in force */
    write_file(admin_path, "");
    tsp_test_sleep_ms(1500);
    assert_int_equal(config_status(base, NEW_TOKEN), 200);

    /* the process is the same one: no restart happened */
    assert_int_equal(tsp_test_service_wait(svc, 0), -1);

    out = tsp_test_service_stdout(svc);
    err = tsp_test_service_stderr(svc);
    assert_non_null(strstr(out, "\"event\":\"auth.token_file\""));
    assert_non_null(strstr(out, "changed; the new token is in effect"));
    assert_non_null(strstr(out, "is empty or contains a NUL byte; keeping the previous token"));
    /* tokens and the password never reach a log line, at debug level either */
    assert_null(strstr(out, OLD_TOKEN));
    assert_null(strstr(out, NEW_TOKEN));
    assert_null(strstr(out, READ_TOKEN));
    assert_null(strstr(out, tsp_test_pg_password()));
    assert_null(strstr(err, OLD_TOKEN));
    assert_null(strstr(err, NEW_TOKEN));
    assert_null(strstr(err, tsp_test_pg_password()));
    free(out);
    free(err);
    printf("token rotation took effect after %ld ms\n", waited);
    rel_stop(svc);
}

static void test_security_response_headers(void **state)
{
    static const char *const env[] = {"TSPOOL_ADMIN_TOKEN=" OLD_TOKEN, NULL};
    static const char *const paths[] = {"/config",  "/livez",        "/pool/status",
                                        "/metrics", "/openapi.yaml", "/nope"};
    struct tsp_test_service *svc = NULL;
    char value[128];
    (void)state;

    svc = rel_start(env);
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        char url[256];
        struct tsp_test_reply *r = NULL;
        snprintf(url, sizeof(url), "%s%s", tsp_test_service_url(svc), paths[i]);
        r = tsp_test_get(url, OLD_TOKEN);
        assert_true(tsp_test_reply_header(r, "X-Content-Type-Options", value, sizeof(value)));
        assert_string_equal(value, "nosniff");
        assert_true(tsp_test_reply_header(r, "Cache-Control", value, sizeof(value)));
        assert_string_equal(value, "no-store");
        assert_false(tsp_test_reply_header(r, "Server", value, sizeof(value)));
        assert_false(tsp_test_reply_header(r, "X-Powered-By", value, sizeof(value)));
        tsp_test_reply_free(r);
    }
    rel_stop(svc);
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_security_token_file_rotation, rel_teardown),
        cmocka_unit_test_teardown(test_security_response_headers, rel_teardown),
    };
    return cmocka_run_group_tests_name("security", tests, setup, teardown);
}
