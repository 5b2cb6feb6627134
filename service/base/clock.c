/* base/clock.c - the only reader of the system clocks (clock_gettime): monotonic time for
 * durations and deadlines, coarse monotonic stamps, real time for timestamps.
 * SPDX-License-Identifier: MIT
 */
#include "tspool/clock.h"

static int64_t read_ns(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t tsp_clock_mono_ns(void)
{
    return read_ns(CLOCK_MONOTONIC);
}

int64_t tsp_clock_mono_ms(void)
{
    return read_ns(CLOCK_MONOTONIC) / 1000000;
}

int64_t tsp_clock_coarse_ms(void)
{
#ifdef CLOCK_MONOTONIC_COARSE
    return read_ns(CLOCK_MONOTONIC_COARSE) / 1000000;
#else
    return read_ns(CLOCK_MONOTONIC) / 1000000;
#endif
}

int64_t tsp_clock_real_ms(void)
{
    return read_ns(CLOCK_REALTIME) / 1000000;
}

int64_t tsp_clock_real_ns(void)
{
    return read_ns(CLOCK_REALTIME);
}

struct timespec tsp_clock_timespec(int64_t ns)
{
    struct timespec ts;

    ts.tv_sec = (time_t)(ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    return ts;
}
