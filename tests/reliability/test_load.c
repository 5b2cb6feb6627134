/* test_load.c - load and leaks: wrk with 256 connections against /pool/status, /readyz and
 * /metrics for a bounded time. Zero non-2xx (503s are reported, none expected), no socket
 * errors; open file descriptors and RSS of the service sampled before and after, and flat.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reliability.h"

#define WRK_SECONDS "4"

static int setup(void **state)
{
    (void)state;
    if (!tsp_test_pg_available()) {
        return -1;
    }
    if (system("command -v wrk >/dev/null 2>&1") != 0) {
        fprintf(stderr, "SKIP: wrk is not installed (apt-get install wrk)\n");
        return -1;
    }
    return 0;
}

static long open_fds(pid_t pid)
{
    char path[64];
    DIR *d = NULL;
    struct dirent *e = NULL;
    long n = 0;

    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    d = opendir(path);
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
            n++;
        }
    }
    closedir(d);
    return n;
}

static long rss_kb(pid_t pid)
{
    char path[64];
    char line[256];
    FILE *f = NULL;
    long kb = -1;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = atol(line + 6);
        }
    }
    fclose(f);
    return kb;
}

struct wrk_result {
    long ok, unavailable, other, errors;
    double p99_ms;
};

static struct wrk_result run_wrk(const char *base, const char *path)
{
    char cmd[1024];
    char line[512];
    struct wrk_result r = {-1, -1, -1, -1, 0.0};
    FILE *p = NULL;

    snprintf(cmd, sizeof(cmd),
             "wrk -t2 -c256 -d" WRK_SECONDS
             "s --timeout 10s -s '%s/tests/data/wrk_status_count.lua' "
             "'%s%s' 2>&1",
             tsp_test_source_dir(), base, path);
    p = popen(cmd, "r");
    assert_non_null(p);
    while (fgets(line, sizeof(line), p) != NULL) {
        if (strncmp(line, "statuses ", 9) == 0) {
            assert_int_equal(sscanf(line,
                                    "statuses 2xx=%ld 503=%ld other=%ld p99_ms=%lf errors=%ld",
                                    &r.ok, &r.unavailable, &r.other, &r.p99_ms, &r.errors),
                             5);
        }
    }
    assert_int_equal(pclose(p), 0);
    return r;
}

static void test_load_256_connections_flat_fds_and_rss(void **state)
{
    /* a small ASan quarantine, so that RSS shows retained memory rather than the quarantine */
    static const char *const env[] = {
        "TSPOOL_HTTP_THREADS=64", "DB_MIN_CONNS=2", "TSPOOL_LOG_LEVEL=warn",
        /* 256 connections on an ASan build can starve the maintenance thread for more than
         * the default three health intervals; this test is about descriptors and memory */
        "TSPOOL_READY_MAX_CHECK_AGE_MS=60000",
        "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:quarantine_size_mb=4", NULL};
    static const char *const paths[] = {"/pool/status", "/readyz", "/metrics"};
    struct tsp_test_service *svc = NULL;
    const char *base = NULL;
    long fds_before = 0, fds_after = 0, rss_warm = 0, rss_after = 0, rss_start = 0;
    long total = 0;
    pid_t pid;
    (void)state;

    svc = rel_start(env);
    base = tsp_test_service_url(svc);
    pid = tsp_test_service_pid(svc);
    assert_true(rel_wait_status(base, "/startupz", 200, 20000) >= 0);
    fds_before = open_fds(pid);
    rss_start = rss_kb(pid);

    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
            struct wrk_result r = run_wrk(base, paths[i]);
            printf(
                "load round %d %s: %ld 2xx, %ld 503, %ld other, %ld socket errors, p99 %.1f ms\n",
                round, paths[i], r.ok, r.unavailable, r.other, r.errors, r.p99_ms);
            assert_true(r.ok > 0);
            assert_int_equal(r.other, 0);
            assert_int_equal(r.unavailable, 0);
            assert_int_equal(r.errors, 0);
            total += r.ok;
        }
        if (round == 0) {
            rss_warm = rss_kb(pid);
        }
    }
    /* the connections wrk left are closed by keep-alive expiry; then count */
    for (int i = 0; i < 100; i++) {
        fds_after = open_fds(pid);
        if (fds_after <= fds_before + 2) {
            break;
        }
        tsp_test_sleep_ms(100);
    }
    rss_after = rss_kb(pid);
    printf("LOAD | %ld requests at 256 connections | fds %ld -> %ld | RSS %ld kB start, %ld kB "
           "after round 1, %ld kB after round 2\n",
           total, fds_before, fds_after, rss_start, rss_warm, rss_after);
    assert_true(fds_after <= fds_before + 2);
    /* the second round must not keep growing (generous: 32 MiB for the ASan allocator's
     * per-thread caches over 64 workers; LeakSanitizer checks real leaks at exit) */
    assert_true(rss_after - rss_warm < 32 * 1024);
    assert_int_equal(rel_get(base, "/livez", 5000, NULL), 200);
    tsp_test_service_signal(svc, SIGTERM);
    assert_int_equal(tsp_test_service_wait(svc, 30000), 0);
    rel_stop(svc);
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_load_256_connections_flat_fds_and_rss, rel_teardown),
    };
    return cmocka_run_group_tests_name("load", tests, setup, NULL);
}
