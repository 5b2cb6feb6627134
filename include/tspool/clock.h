/* clock.h - the one clock of tspool: monotonic time for waits, deadlines, ages and latencies,
 * real (wall) time for timestamps shown to people. Nothing else reads the system clocks.
 * SPDX-License-Identifier: MIT
 */
#ifndef TSPOOL_CLOCK_H
#define TSPOOL_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Monotonic nanoseconds (CLOCK_MONOTONIC): precise, for latencies and condition-variable
 * deadlines. Never goes back; unrelated to the date. Thread-safe, never blocks. */
int64_t tsp_clock_mono_ns(void);

/* Monotonic milliseconds (CLOCK_MONOTONIC). Thread-safe, never blocks. */
int64_t tsp_clock_mono_ms(void);

/* Monotonic milliseconds from the coarse clock (CLOCK_MONOTONIC_COARSE where it exists: a few
 * milliseconds of resolution for a third of the cost), for stamps taken on every borrow. The
 * same time base as tsp_clock_mono_ms. Thread-safe, never blocks. */
int64_t tsp_clock_coarse_ms(void);

/* Milliseconds since the Unix epoch (CLOCK_REALTIME): for timestamps people read; it may jump,
 * so never for durations. Thread-safe, never blocks. */
int64_t tsp_clock_real_ms(void);

/* Nanoseconds since the Unix epoch (CLOCK_REALTIME). Thread-safe, never blocks. */
int64_t tsp_clock_real_ns(void);

/* A nanosecond count (from tsp_clock_mono_ns) as a struct timespec, for pthread_cond_timedwait
 * on a condition variable that uses CLOCK_MONOTONIC. Pure. */
struct timespec tsp_clock_timespec(int64_t ns);

#endif /* TSPOOL_CLOCK_H */
