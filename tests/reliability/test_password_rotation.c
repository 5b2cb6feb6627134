/* test_password_rotation.c - DB_PASS_FILE follows a rotated Secret against the real
 * PostgreSQL 15 test server: a new password the server refuses is reported as misconfigured
 * while the open connections keep serving; once the server takes it, the pool soft-recycles
 * onto it within seconds, and the clients under load never see an error.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_client.h"
#include "reliability.h"

#define ROLE     "tspool_rotation"
#define OLD_PASS "rotation-old-pass-4c1d"
#define NEW_PASS "rotation-new-pass-9e27"

static char dir[64];
static char pass_path[128];

static int setup(void **state)
{
    (void)state;
    if (!tsp_test_pg_available()) {
        return -1;
    }
    snprintf(dir, sizeof(dir), "/tmp/tspool-pass-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        return -1;
    }
    snprintf(pass_path, sizeof(pass_path), "%s/db-password", dir);
    free(tsp_test_pg_query("DROP ROLE IF EXISTS " ROLE));
    free(tsp_test_pg_query("CREATE ROLE " ROLE " LOGIN PASSWORD '" OLD_PASS "'"));
    return 0;
}

static int teardown(void **state)
{
    int rc = rel_teardown(state);

    free(tsp_test_pg_query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE usename = '" ROLE "'"));
    tsp_test_sleep_ms(200);
    free(tsp_test_pg_query("DROP ROLE IF EXISTS " ROLE));
    unlink(pass_path);
    rmdir(dir);
    return rc;
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

/* The backend pids of the role's sessions, sorted, comma-separated (malloc'd). */
static char *role_pids(void)
{
    char *v = tsp_test_pg_query("SELECT coalesce(string_agg(pid::text, ',' ORDER BY pid), '') "
                                "FROM pg_stat_activity WHERE usename = '" ROLE "'");
    return v != NULL ? v : strdup("?");
}

/* true when no pid of `before` (comma-separated) is in `now`. */
static bool all_replaced(const char *before, const char *now)
{
    char *copy = strdup(before);
    char *save = NULL;
    bool replaced = true;
    char needle[32];

    for (char *p = strtok_r(copy, ",", &save); p != NULL; p = strtok_r(NULL, ",", &save)) {
        char hay[1024];
        snprintf(needle, sizeof(needle), ",%s,", p);
        snprintf(hay, sizeof(hay), ",%s,", now);
        if (strstr(hay, needle) != NULL) {
            replaced = false;
        }
    }
    free(copy);
    return replaced;
}

static long count_of(const char *pids)
{
    long n = pids[0] != '\0' ? 1 : 0;
    for (const char *p = pids; *p != '\0'; p++) {
        n += *p == ',';
    }
    return n;
}

/* GET base+path; the body into *body (malloc'd), the status returned. */
static long get_body(const char *base, const char *path, char **body)
{
    char url[256];
    struct tsp_test_reply *r = NULL;
    long status = 0;

    snprintf(url, sizeof(url), "%s%s", base, path);
    r = tsp_test_get(url, NULL);
    status = r->status;
    *body = strdup(r->body != NULL ? r->body : "");
    tsp_test_reply_free(r);
    return status;
}

static void test_password_rotation_refused_then_accepted(void **state)
{
    static const char *const paths[] = {"/pool/ping", NULL};
    char pass_env[160];
    const char *env[] = {pass_env,
                         "DB_PASS=",
                         "DB_USER=" ROLE,
                         "DB_MAX_CONNS=4",
                         "DB_MAX_OVERFLOW=0",
                         "DB_MIN_CONNS=4",
                         "TSPOOL_LOG_LEVEL=debug",
                         NULL};
    struct tsp_test_service *svc = NULL;
    struct rel_traffic *traffic = NULL;
    struct rel_tally tally;
    const char *base = NULL;
    char *before = NULL, *now = NULL, *body = NULL, *out = NULL, *err = NULL;
    long status = 0, waited = 0, misconfigured_ms = -1, rotated_ms = -1;
    int64_t t0 = 0;
    (void)state;

    write_file(pass_path, OLD_PASS "\n");
    snprintf(pass_env, sizeof(pass_env), "DB_PASS_FILE=%s", pass_path);
    svc = rel_start(env);
    base = tsp_test_service_url(svc);
    assert_true(rel_wait_status(base, "/startupz", 200, 15000) >= 0);
    assert_true(rel_wait_status(base, "/readyz", 200, 15000) >= 0);
    for (waited = 0; waited < 10000; waited += 100) {
        free(before);
        before = role_pids();
        if (count_of(before) == 4) {
            break;
        }
        tsp_test_sleep_ms(100);
    }
    assert_int_equal(count_of(before), 4);
    traffic = rel_traffic_start(base, paths, 2, 100000, 60000, 5000);

    /* 1. the Secret is updated before the server: the new password is refused */
    t0 = rel_now_ms();
    write_file(pass_path, NEW_PASS "\n");
    for (waited = 0; waited < 10000; waited += 100) {
        status = get_body(base, "/readyz/db", &body);
        if (status == 503 && strstr(body, "misconfigured") != NULL) {
            misconfigured_ms = (long)(rel_now_ms() - t0);
            break;
        }
        free(body);
        body = NULL;
        tsp_test_sleep_ms(100);
    }
    if (misconfigured_ms < 0) {
        rel_dump(svc);
    }
    assert_true(misconfigured_ms >= 0);
    assert_non_null(strstr(body, "DB_PASS_FILE"));
    assert_null(strstr(body, NEW_PASS));
    free(body);
    body = NULL;
    /* ... and the connections opened with the old one keep serving */
    assert_int_equal(rel_get(base, "/pool/ping", 5000, NULL), 200);
    now = role_pids();
    assert_string_equal(now, before);
    free(now);
    now = NULL;

    /* 2. the server takes the new password: the pool moves onto it */
    t0 = rel_now_ms();
    free(tsp_test_pg_query("ALTER ROLE " ROLE " PASSWORD '" NEW_PASS "'"));
    for (waited = 0; waited < 15000; waited += 100) {
        free(now);
        now = role_pids();
        if (count_of(now) >= 1 && all_replaced(before, now) &&
            rel_get(base, "/readyz", 2000, NULL) == 200) {
            rotated_ms = (long)(rel_now_ms() - t0);
            break;
        }
        tsp_test_sleep_ms(100);
    }
    if (rotated_ms < 0) {
        fprintf(stderr, "sessions before %s, now %s\n", before, now);
        rel_dump(svc);
    }
    assert_true(rotated_ms >= 0);
    tally = rel_traffic_stop(traffic);
    traffic = NULL;
    printf("misconfigured reported after %ld ms; pool on the new password %ld ms after the "
           "server took it; clients: %ld requests, %ld ok, %ld 503, %ld other, %ld cut\n",
           misconfigured_ms, rotated_ms, tally.requests, tally.ok, tally.status_503, tally.other,
           tally.cut);
    /* nothing was dropped */
    assert_true(tally.requests > 0);
    assert_int_equal(tally.status_503, 0);
    assert_int_equal(tally.other, 0);
    assert_int_equal(tally.cut, 0);
    assert_int_equal(tally.refused + tally.reset, 0);
    /* the warm pool is refilled with the new password */
    assert_true(rel_wait_sessions(4, 10000));
    assert_int_equal(rel_get(base, "/pool/ping", 5000, NULL), 200);
    assert_int_equal(tsp_test_service_wait(svc, 0), -1); /* no restart */

    out = tsp_test_service_stdout(svc);
    err = tsp_test_service_stderr(svc);
    assert_non_null(strstr(out, "\"event\":\"db.password_file\""));
    assert_non_null(strstr(out, "the server refused the new password"));
    assert_non_null(strstr(out, "the server accepted the new password"));
    assert_non_null(strstr(out, "recycled onto them"));
    assert_null(strstr(out, OLD_PASS));
    assert_null(strstr(out, NEW_PASS));
    assert_null(strstr(err, OLD_PASS));
    assert_null(strstr(err, NEW_PASS));
    free(out);
    free(err);
    free(before);
    free(now);
    rel_stop(svc);
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_password_rotation_refused_then_accepted),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
