/* activity.h - every application's sessions as the database server sees them: a sampler of
 * pg_stat_activity (slow-query log events, blocking chains, per-application gauges), periodic
 * pg_stat_statements snapshots with deltas, and cancel / terminate of a server process.
 * SPDX-License-Identifier: MIT
 */
#ifndef TSPOOL_ACTIVITY_H
#define TSPOOL_ACTIVITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tspool/config.h"
#include "tspool/error.h"
#include "tspool/pool.h"

struct tsp_activity; /* opaque; the sampler thread and its latest snapshots */

/* Settings; durations in milliseconds. */
struct tsp_activity_options {
    long interval_ms;             /* pg_stat_activity sample period; 0 = no sampler */
    long statements_interval_ms;  /* pg_stat_statements snapshot period; 0 = none */
    long slow_ms;                 /* log application queries running longer; 0 = no log */
    int query_text_max;           /* query texts are cut to this many characters (>= 1) */
    const char *application_name; /* tspool's own application_name (copied; may be NULL) */
};

/* Derive the options from a loaded configuration (TSPOOL_ACTIVITY_INTERVAL_MS,
 * TSPOOL_STATEMENTS_INTERVAL_MS, DB_SLOW_QUERY_MS, TSPOOL_QUERY_TEXT_MAX,
 * DB_APPLICATION_NAME). The strings point into cfg. Pure. */
void tsp_activity_options_from_config(const struct tsp_config *cfg,
                                      struct tsp_activity_options *out);

#define TSP_ACTIVITY_NAME_MAX     64 /* NAMEDATALEN */
#define TSP_ACTIVITY_BLOCKERS_MAX 16 /* blocking pids kept per session */

/* One session of pg_stat_activity (client backends only, the sampler's own excluded). */
struct tsp_activity_session {
    int pid;
    char application_name[TSP_ACTIVITY_NAME_MAX];
    char user[TSP_ACTIVITY_NAME_MAX];
    char database[TSP_ACTIVITY_NAME_MAX];
    char client_addr[TSP_ACTIVITY_NAME_MAX]; /* IP address, "local" (Unix socket) or "" */
    char state[32];                          /* "active", "idle", "idle in transaction", ... */
    char wait_event_type[32];                /* "" when not waiting */
    char wait_event[TSP_ACTIVITY_NAME_MAX];
    double query_ms;        /* since query_start (the current or last query); -1 unknown */
    double state_ms;        /* since state_change; -1 unknown */
    double xact_ms;         /* since xact_start; -1 outside a transaction */
    double duration_ms;     /* the figure shown and filtered on: query_ms while active,
                               xact_ms while idle in a transaction, else state_ms */
    int64_t query_start_us; /* query_start in microseconds since the epoch; 0 unknown */
    size_t nblocked_by;
    int blocked_by[TSP_ACTIVITY_BLOCKERS_MAX]; /* pg_blocking_pids(pid), first entries */
    bool ours;                                 /* application_name is tspool's own */
    char *query; /* malloc'd, at most query_text_max characters; never NULL */
};

/* Per-application gauges of one sample. */
struct tsp_activity_app {
    char name[TSP_ACTIVITY_NAME_MAX]; /* application_name; "other" collects the rest */
    long long connections;
    long long active;
    long long idle;
    long long idle_in_transaction; /* including "(aborted)" */
    long long other_state;         /* fastpath function call, disabled, unknown */
    long long long_running;        /* active for longer than slow_ms */
    long long waiting;             /* active and waiting on a lock */
};

#define TSP_ACTIVITY_APPS_MAX 20 /* label values per metric: the largest apps + "other" */

/* One pg_stat_activity sample. Immutable once published; shared by reference. */
struct tsp_activity_sample {
    int64_t taken_at_ms;  /* wall clock */
    double round_trip_ms; /* the sampling statement */
    size_t nsessions;
    struct tsp_activity_session *sessions; /* ordered by duration_ms, longest first */
    long long blocked;                     /* sessions waiting for another's lock */
    double oldest_xact_ms;                 /* longest open transaction; 0 when none */
    int oldest_xact_pid;                   /* its pid, 0 when none */
    size_t napps;
    struct tsp_activity_app apps[TSP_ACTIVITY_APPS_MAX + 1];
};

/* The sampler's state as the API and /metrics see it. */
struct tsp_activity_status {
    bool enabled;                     /* interval_ms > 0 */
    bool ok;                          /* the last attempt succeeded */
    int64_t attempted_at_ms;          /* wall clock of the last attempt; 0 = none yet */
    char error[TSP_ERROR_DETAIL_MAX]; /* reason of the last failure, "" when ok */
    uint64_t samples;                 /* successful samples since start */
    uint64_t failures;                /* failed attempts since start */
    uint64_t slow_queries;            /* application queries logged as slow since start */
};

/* Create the sampler for `pool` (borrowed; must outlive it) and start its thread when
 * interval_ms or statements_interval_ms is > 0: the first sample and snapshot are taken at
 * once. Every statement it runs has a deadline; a borrow waits at most 2 s. Errors:
 * TSP_INVALID (negative interval, query_text_max < 1), TSP_NO_MEMORY, TSP_INTERNAL (thread).
 * On TSP_OK free *out with tsp_activity_free(). Not thread-safe. */
enum tsp_code tsp_activity_new(struct tsp_pool *pool, const struct tsp_activity_options *opts,
                               struct tsp_activity **out, struct tsp_error *err) TSP_MUSTCHECK;

/* Stop the thread (waits for a statement in flight, at most its deadline) and free. NULL is
 * a no-op. Samples still referenced by callers stay valid until released. */
void tsp_activity_free(struct tsp_activity *act);

/* Options in force (a copy). Thread-safe. */
void tsp_activity_options_get(const struct tsp_activity *act, struct tsp_activity_options *out);

/* The latest successful sample, with a reference the caller gives back with
 * tsp_activity_sample_release(); NULL when there is none yet (or the sampler is off).
 * *status (may be NULL) receives the sampler's state. Thread-safe, non-blocking. */
const struct tsp_activity_sample *tsp_activity_sample_get(struct tsp_activity *act,
                                                          struct tsp_activity_status *status);
/* Give back a reference; NULL is a no-op. Thread-safe. */
void tsp_activity_sample_release(const struct tsp_activity_sample *sample);

/* Bounded metric label for a pg_stat_activity state: "active", "idle", "idle_in_transaction",
 * "idle_in_transaction_aborted", "fastpath_function_call", "disabled" or "unknown". Pure. */
const char *tsp_activity_state_label(const char *state);

/* One node of the blocking forest in pre-order: the session index in the sample and its depth
 * (0 = a root: blocks others, waits for nobody present in the sample). */
struct tsp_activity_chain_node {
    size_t session;
    int depth;
};

/* Walk the blocking chains of `sample`: every root first, then whom it blocks, recursively (a
 * session blocked by two roots appears under both; cycles are cut). Writes at most max nodes
 * and returns how many. Pure. */
size_t tsp_activity_chains(const struct tsp_activity_sample *sample,
                           struct tsp_activity_chain_node *out, size_t max);

/* pg_stat_statements ----------------------------------------------------------------------- */

/* One statement of a snapshot: the cumulative figures and the change since the previous
 * snapshot (window_* are 0 when there is no previous snapshot or the entry is new). */
struct tsp_activity_statement {
    char queryid[24];
    char user[TSP_ACTIVITY_NAME_MAX];
    char database[TSP_ACTIVITY_NAME_MAX];
    long long calls;
    double total_ms;
    double mean_ms;
    long long rows;
    long long window_calls;
    double window_total_ms;
    long long window_rows;
    char *query; /* malloc'd, at most query_text_max characters */
};

struct tsp_activity_statements {
    bool available; /* the extension answered; when false `why` says how to enable it */
    char why[TSP_ERROR_DETAIL_MAX];
    int64_t taken_at_ms; /* wall clock */
    double window_s;     /* seconds since the previous snapshot; 0 = no previous one */
    size_t n;
    struct tsp_activity_statement *items; /* ordered by total_ms, largest first */
};

/* The latest pg_stat_statements snapshot with a reference (release it with
 * tsp_activity_statements_release), or NULL when none was taken yet or snapshots are off;
 * *err (may be NULL) then says why (TSP_CONFLICT when off, TSP_UNAVAILABLE when not yet
 * taken or failed). Thread-safe, non-blocking: the database is never asked per request. */
const struct tsp_activity_statements *tsp_activity_statements_get(struct tsp_activity *act,
                                                                  struct tsp_error *err);
void tsp_activity_statements_release(const struct tsp_activity_statements *st);

enum tsp_activity_order {
    TSP_ACTIVITY_ORDER_TOTAL_TIME = 0,
    TSP_ACTIVITY_ORDER_MEAN_TIME,
    TSP_ACTIVITY_ORDER_CALLS,
    TSP_ACTIVITY_ORDER_ROWS,
};

/* Parse "total_time|mean_time|calls|rows". False for anything else. Pure. */
bool tsp_activity_order_parse(const char *text, enum tsp_activity_order *out);

/* Indexes of the `top` largest statements by `order` (cumulative figures; ties by total
 * time) into out (room for top entries). Returns how many. Pure. */
size_t tsp_activity_statements_rank(const struct tsp_activity_statements *st,
                                    enum tsp_activity_order order, size_t *out, size_t top);

/* cancel / terminate ----------------------------------------------------------------------- */

enum tsp_activity_signal {
    TSP_ACTIVITY_CANCEL = 0, /* pg_cancel_backend: the running statement */
    TSP_ACTIVITY_TERMINATE,  /* pg_terminate_backend: the whole session */
};

/* What a signal found and did. */
struct tsp_activity_signal_result {
    int pid;
    bool signalled; /* the server function returned true */
    char application_name[TSP_ACTIVITY_NAME_MAX];
    char user[TSP_ACTIVITY_NAME_MAX];
    char backend_type[TSP_ACTIVITY_NAME_MAX];
    char state[32];
    bool superuser;
    bool replication;
};

/* Cancel the statement of, or terminate, server process `pid`. Refused with TSP_CONFLICT for
 * tspool's own sessions (the pool's connections and every session with tspool's
 * application_name) and, unless `force`, for superuser sessions, replication (walsender) and
 * other non-client backends. TSP_NOT_FOUND when no such process exists; TSP_INVALID for
 * pid < 1. Every attempt with a valid pid writes one audit log line ("event":"activity.audit":
 * request_id, operation, pid, application, user, force, outcome: signalled, not_signalled,
 * refused, not_found or failed).
 * Borrows one connection (label "activity.cancel" / "activity.terminate", pool timeout at
 * most 5 s); every statement has a deadline. Thread-safe; blocks up to about 10 s. */
enum tsp_code tsp_activity_signal(struct tsp_activity *act, int pid,
                                  enum tsp_activity_signal action, bool force,
                                  const char *request_id, struct tsp_activity_signal_result *out,
                                  struct tsp_error *err) TSP_MUSTCHECK;

/* "cancel" / "terminate". Static string. */
const char *tsp_activity_signal_name(enum tsp_activity_signal action);

/* The tspool_server_* families (Prometheus text 0.0.4, HELP and TYPE first) of the latest
 * sample and the sampler's state, appended to a malloc'd text: *out (NUL-terminated, free
 * it), *len bytes. Nothing when the sampler is off. Label sets are bounded: application (at
 * most TSP_ACTIVITY_APPS_MAX + "other") and state (six values). Errors: TSP_NO_MEMORY.
 * Thread-safe, non-blocking. */
enum tsp_code tsp_activity_metrics_render(struct tsp_activity *act, char **out, size_t *len,
                                          struct tsp_error *err) TSP_MUSTCHECK;

#endif /* TSPOOL_ACTIVITY_H */
