/* activity_int.h - shared by the files of service/activity/ and their unit tests: the sampler
 * object, the reference-counted sample and snapshot boxes, the slow-query tracker and the
 * summariser. SPDX-License-Identifier: MIT
 */
#ifndef TSPOOL_ACTIVITY_INT_H
#define TSPOOL_ACTIVITY_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tspool/activity.h"

/* Deadlines of the sampler's own work: a borrow, one pg_stat_activity statement, one
 * pg_stat_statements statement. A sample never blocks the thread longer than these. */
#define TSP_ACTIVITY_BORROW_MS     2000
#define TSP_ACTIVITY_STATEMENT_MS  5000
#define TSP_ACTIVITY_STATEMENTS_MS 10000
/* Rows kept from pg_stat_statements (largest total time first). */
#define TSP_ACTIVITY_STATEMENTS_MAX 1000
/* Sessions cancelled / terminated through the API remembered for the slow log's end reason. */
#define TSP_ACTIVITY_MARKS_MAX 32
/* Slow queries followed at once; more are logged as they are seen but not followed. */
#define TSP_ACTIVITY_TRACKED_MAX 256

/* A reference-counted sample. A reference is taken only under the sampler's lock while the
 * box is the latest one; whoever drops the last reference frees it. */
struct tsp_activity_sample_box {
    atomic_int refs;
    struct tsp_activity_sample sample;
};

struct tsp_activity_statements_box {
    atomic_int refs;
    struct tsp_activity_statements st;
};

/* A session signalled through the API, for the end reason of its slow query. */
struct tsp_activity_mark {
    int pid;
    enum tsp_activity_signal action;
    int64_t at_ms; /* wall clock */
};

/* A slow query being followed until it ends. */
struct tsp_activity_tracked {
    int pid;
    int64_t query_start_us;
    double last_ms; /* duration when last seen running */
    char application_name[TSP_ACTIVITY_NAME_MAX];
    char user[TSP_ACTIVITY_NAME_MAX];
    char client_addr[TSP_ACTIVITY_NAME_MAX];
    char *query;
};

struct tsp_activity_tracker {
    size_t n;
    struct tsp_activity_tracked items[TSP_ACTIVITY_TRACKED_MAX];
};

/* One line for the slow-query log, produced by tsp_activity_slow_update(). */
struct tsp_activity_slow_event {
    bool ended;       /* false: first seen running longer than slow_ms; true: it ended */
    const char *end;  /* ended: "finished", "failed", "cancelled", "terminated", "disconnected" */
    bool approximate; /* ended: the final duration is an estimate (the session moved on) */
    int pid;
    double duration_ms;
    char application_name[TSP_ACTIVITY_NAME_MAX];
    char user[TSP_ACTIVITY_NAME_MAX];
    char client_addr[TSP_ACTIVITY_NAME_MAX];
    char state[32];
    char wait_event[TSP_ACTIVITY_NAME_MAX * 2]; /* "Lock:transactionid", "" */
    char *query;                                /* owned by the event; tsp_activity_slow_fini */
};

struct tsp_activity {
    struct tsp_pool *pool; /* borrowed */
    struct tsp_activity_options opts;
    char application_name[TSP_ACTIVITY_NAME_MAX]; /* opts.application_name points here */
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t wake;
    bool stop;
    struct tsp_activity_sample_box *latest;         /* NULL until the first success */
    struct tsp_activity_statements_box *statements; /* NULL until the first snapshot */
    struct tsp_error statements_err;                /* last snapshot failure, or TSP_OK */
    struct tsp_activity_status status;
    struct tsp_activity_mark marks[TSP_ACTIVITY_MARKS_MAX]; /* ring */
    size_t nmarks;
    /* the sampler thread's own (no lock) */
    struct tsp_activity_tracker tracker;
};

/* sample.c --------------------------------------------------------------------------------- */

/* Run the pg_stat_activity statement on the lease (deadline TSP_ACTIVITY_STATEMENT_MS) and
 * build a sample (summarised). On TSP_OK *out is a new box with refs 1. */
enum tsp_code tsp_activity_sample_take(struct tsp_lease *lease,
                                       const struct tsp_activity_options *opts,
                                       struct tsp_activity_sample_box **out,
                                       struct tsp_error *err) TSP_MUSTCHECK;

/* Order the sessions (longest duration first) and fill the per-application gauges, blocked
 * count and oldest transaction. slow_ms decides "long running" (0: none is). Pure. */
void tsp_activity_sample_summarise(struct tsp_activity_sample *sample, long slow_ms);

/* Free a box's contents and the box (refs ignored). NULL is a no-op. */
void tsp_activity_sample_box_free(struct tsp_activity_sample_box *box);

/* slowlog.c -------------------------------------------------------------------------------- */

/* Compare the tracker with a new sample: queries of other applications (not `ours`) running
 * longer than slow_ms that were not followed yet become "running" events and are followed;
 * followed queries no longer running become "ended" events (end reason from `marks`, the
 * sessions signalled through the API). Writes at most max events (the rest wait for the next
 * sample) and returns how many. slow_ms 0 = nothing is slow. Pure (but for malloc). */
size_t tsp_activity_slow_update(struct tsp_activity_tracker *tracker,
                                const struct tsp_activity_sample *sample, long slow_ms,
                                const struct tsp_activity_mark *marks, size_t nmarks,
                                struct tsp_activity_slow_event *events, size_t max);
/* Free the event texts of n events. */
void tsp_activity_slow_fini(struct tsp_activity_slow_event *events, size_t n);
/* Forget every followed query. */
void tsp_activity_tracker_clear(struct tsp_activity_tracker *tracker);
/* Write one "server.slow_query" log line for the event. */
void tsp_activity_slow_log(const struct tsp_activity_slow_event *event);

/* statements.c ----------------------------------------------------------------------------- */

/* Take a pg_stat_statements snapshot on the lease (deadline TSP_ACTIVITY_STATEMENTS_MS) and
 * compute the deltas against `prev` (may be NULL). An absent or unloaded extension is not an
 * error: the snapshot says available = false and why. On TSP_OK *out is a new box (refs 1). */
enum tsp_code tsp_activity_statements_take(struct tsp_lease *lease,
                                           const struct tsp_activity_options *opts,
                                           const struct tsp_activity_statements *prev,
                                           struct tsp_activity_statements_box **out,
                                           struct tsp_error *err) TSP_MUSTCHECK;

/* Fill the window_* figures of `cur` from `prev` (matched by queryid, user and database; a
 * counter that went down means a reset: the current value is the window). Pure. */
void tsp_activity_statements_delta(struct tsp_activity_statements *cur,
                                   const struct tsp_activity_statements *prev);

void tsp_activity_statements_box_free(struct tsp_activity_statements_box *box);

/* sampler.c -------------------------------------------------------------------------------- */

/* Remember that `pid` was signalled through the API (for the slow log). Thread-safe. */
void tsp_activity_mark(struct tsp_activity *act, int pid, enum tsp_activity_signal action);

#endif /* TSPOOL_ACTIVITY_INT_H */
