/* test_clock.c - unit tests of the clock module: monotonic readings never go back, the coarse
 * and precise clocks share one time base, real time is the date, timespec conversion.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <time.h>

#include "tspool/clock.h"

static void test_tsp_clock_mono_never_goes_back(void **state)
{
    int64_t prev_ns = tsp_clock_mono_ns();
    int64_t prev_ms = tsp_clock_mono_ms();
    (void)state;

    for (int i = 0; i < 10000; i++) {
        int64_t ns = tsp_clock_mono_ns();
        int64_t ms = tsp_clock_mono_ms();
        assert_true(ns >= prev_ns);
        assert_true(ms >= prev_ms);
        prev_ns = ns;
        prev_ms = ms;
    }
}

static void test_tsp_clock_coarse_same_base(void **state)
{
    int64_t mono = tsp_clock_mono_ms();
    int64_t coarse = tsp_clock_coarse_ms();
    (void)state;

    /* the coarse clock lags by a tick or so (4 ms at HZ=250); the margin allows a preemption
     * between the two readings */
    assert_true(coarse <= mono + 50);
    assert_true(mono - coarse < 50);
}

static void test_tsp_clock_real_is_the_date(void **state)
{
    int64_t before = (int64_t)time(NULL) * 1000;
    int64_t ms = tsp_clock_real_ms();
    int64_t ns = tsp_clock_real_ns();
    (void)state;

    assert_true(ms >= before);
    assert_true(ms < before + 2000);
    assert_true(ns / 1000000 >= ms);
    assert_true(ns / 1000000 < ms + 1000);
}

static void test_tsp_clock_timespec_splits(void **state)
{
    struct timespec ts = tsp_clock_timespec(3 * 1000000000LL + 250);
    (void)state;

    assert_int_equal(ts.tv_sec, 3);
    assert_int_equal(ts.tv_nsec, 250);
    ts = tsp_clock_timespec(999999999);
    assert_int_equal(ts.tv_sec, 0);
    assert_int_equal(ts.tv_nsec, 999999999);
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsp_clock_mono_never_goes_back),
        cmocka_unit_test(test_tsp_clock_coarse_same_base),
        cmocka_unit_test(test_tsp_clock_real_is_the_date),
        cmocka_unit_test(test_tsp_clock_timespec_splits),
    };
    return cmocka_run_group_tests_name("clock", tests, NULL, NULL);
}
