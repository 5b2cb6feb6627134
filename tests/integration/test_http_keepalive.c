/* test_http_keepalive.c - integration test of keep-alive fairness: with more busy keep-alive
 * clients than worker threads, a client waiting in the accept queue is still served
 * (CivetWeb 1.15 would otherwise keep each worker on its busy connection indefinitely).
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "service_harness.h"

static struct tsp_test_service *svc;
static atomic_bool stop_hogs;

static int setup(void **state)
{
    static const char *const env[] = {"TSPOOL_HTTP_THREADS=2", "TSPOOL_HTTP_KEEP_ALIVE_MS=30000",
                                      "TSPOOL_LOG_LEVEL=warn", NULL};
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

static size_t discard(char *ptr, size_t size, size_t nmemb, void *userp)
{
    (void)ptr;
    (void)userp;
    return size * nmemb;
}

/* One client: requests on one reused easy handle (keep-alive; curl reconnects after a
 * Connection: close) until `limit` requests are done or the hogs are stopped. */
struct client {
    int limit; /* 0 = until stop_hogs */
    int done;
    int failed;
};

static void *client_main(void *arg)
{
    struct client *c = arg;
    CURL *curl = curl_easy_init();
    char url[128];

    snprintf(url, sizeof(url), "%s/livez", tsp_test_service_url(svc));
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 20000L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    while (c->limit == 0 ? !atomic_load(&stop_hogs) : c->done < c->limit) {
        long status = 0;
        if (curl_easy_perform(curl) != CURLE_OK) {
            c->failed++;
            break;
        }
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        if (status != 200) {
            c->failed++;
        }
        c->done++;
    }
    curl_easy_cleanup(curl);
    return NULL;
}

static void test_http_keepalive_queued_client_is_served(void **state)
{
    struct client hogs[3] = {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}};
    struct client probe = {5, 0, 0};
    pthread_t hog_threads[3], probe_thread;
    struct timespec t0, t1;
    (void)state;

    atomic_store(&stop_hogs, false);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pthread_create(&hog_threads[i], NULL, client_main, &hogs[i]), 0);
    }
    tsp_test_sleep_ms(300);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(pthread_create(&probe_thread, NULL, client_main, &probe), 0);
    pthread_join(probe_thread, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    atomic_store(&stop_hogs, true);
    for (int i = 0; i < 3; i++) {
        pthread_join(hog_threads[i], NULL);
        assert_int_equal(hogs[i].failed, 0);
        /* every busy client was served too, not only the first two */
        assert_true(hogs[i].done > 0);
    }
    assert_int_equal(probe.failed, 0);
    assert_int_equal(probe.done, 5);
    /* generous bound: the point is "served while the hogs run", not a timing */
    assert_true(t1.tv_sec - t0.tv_sec < 15);
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_keepalive_queued_client_is_served),
    };
    return cmocka_run_group_tests_name("http_keepalive", tests, setup, teardown);
}
