/* pool.h - the connection pool: QueuePool semantics (size + overflow, FIFO waiters with a
 * deadline), pre-ping, recycling with jitter, leak detection, failover invalidation,
 * control (pause/resume/recycle/resize/shutdown) and a consistent stats snapshot.
 * SPDX-License-Identifier: MIT
 */
#ifndef TSPOOL_POOL_H
#define TSPOOL_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tspool/config.h"
#include "tspool/error.h"

struct tsp_pool;  /* opaque; defined in service/pool/pool_int.h */
struct tsp_lease; /* opaque; one borrowed connection, returned exactly once */

/* How a session looks when it comes back to the pool. */
enum tsp_conn_status {
    TSP_CONN_IDLE = 0,       /* ready, outside a transaction */
    TSP_CONN_IN_TRANSACTION, /* inside a transaction or a failed one: roll back */
    TSP_CONN_BAD,            /* broken or unknown: close */
};

/* The pool's only way to reach a database. pool/conn.c provides the libpq one; unit tests
 * inject a scripted fake. Every callback may block (network I/O) and is always called
 * without the pool lock held. `conn` is the connector's own handle. */
struct tsp_connector {
    void *ctx;
    /* Open and initialise a session. On failure return a code (TSP_DB_UNAVAILABLE, TSP_DB_ERROR)
     * with err->detail free of passwords, and leave *conn_out untouched. */
    enum tsp_code (*connect)(void *ctx, void **conn_out, struct tsp_error *err);
    /* Cheap round trip, answered within timeout_ms; failure (or no answer in time) means the
     * connection is dead. */
    enum tsp_code (*ping)(void *ctx, void *conn, long timeout_ms, struct tsp_error *err);
    /* Local, non-blocking view of the session state. */
    enum tsp_conn_status (*status)(void *ctx, void *conn);
    /* ROLLBACK; failure means close. */
    enum tsp_code (*rollback)(void *ctx, void *conn, struct tsp_error *err);
    /* Server process id of the session, or 0. Non-blocking. */
    int (*backend_pid)(void *ctx, void *conn);
    /* Close and free the handle. Never fails. */
    void (*close)(void *ctx, void *conn);
    /* Optional (NULL = none): which server the session reached, as text ("host:port ..."),
     * written into buf (size bytes). A new connection whose identity differs from the last
     * one seen means failover: every older connection is invalidated. Non-blocking. */
    void (*identity)(void *ctx, void *conn, char *buf, size_t size);
    /* Optional (NULL = fixed credentials). Called by the maintenance thread about four times
     * a second: follow rotated credentials (DB_PASS_FILE). Sets *changed when new connections
     * now use new credentials (the pool then soft-recycles every connection onto them).
     * Returns an error (TSP_DB_ERROR) while new credentials are refused by the server and the
     * old ones stay in use: the health check then reports "misconfigured". */
    enum tsp_code (*rotate)(void *ctx, bool *changed, struct tsp_error *err);
    /* Optional: frees ctx. The pool owns ctx when this is set: tsp_pool_free (and a failing
     * tsp_pool_new) calls it last. */
    void (*release)(void *ctx);
};

/* Why a connection was closed; counted and logged. */
#define TSP_CLOSE_REASON_MAP(XX)                                                                   \
    XX(RECYCLE, "recycle")                                                                         \
    XX(BROKEN, "broken")                                                                           \
    XX(IDLE, "idle")                                                                               \
    XX(OVERFLOW, "overflow")                                                                       \
    XX(RESIZE, "resize")                                                                           \
    XX(SHUTDOWN, "shutdown")                                                                       \
    XX(FAILOVER, "failover")                                                                       \
    XX(DIRECT, "direct")

enum tsp_close_reason {
#define TSP_XX_CLOSE(name, text) TSP_CLOSE_##name,
    TSP_CLOSE_REASON_MAP(TSP_XX_CLOSE)
#undef TSP_XX_CLOSE
        TSP_CLOSE_REASON_COUNT
};

/* "recycle", "broken", ... Static string. */
const char *tsp_close_reason_name(enum tsp_close_reason reason);

/* Pool settings, all durations in milliseconds. */
struct tsp_pool_options {
    enum tsp_pool_mode mode;
    int size;             /* connections kept (>= 1 in pooled mode) */
    int max_overflow;     /* temporary extra connections (>= 0) */
    int min_idle;         /* kept open and filled at start (<= size) */
    long timeout_ms;      /* default borrow deadline */
    long recycle_ms;      /* replace connections older than this (+ up to 10% jitter); 0 = never */
    long preping_idle_ms; /* ping before lending a connection idle at least this long;
                             0 = every time (hand-offs included), negative = never */
    long idle_timeout_ms; /* close idle connections above min_idle after this; 0 = never */
    long leak_ms;         /* report a lease held longer than this; 0 = off */
    long slow_ms;         /* report operations slower than this; 0 = off */
    long health_interval_ms;      /* database health check period of the maintenance thread;
                                     the first check runs at start. 0 = 5000, negative = none */
    long maintenance_interval_ms; /* maintenance tick (<= 0: 250) */
    long stats_log_interval_ms;   /* periodic stats log line; 0 = off */
    long statement_deadline_ms;   /* client-side deadline of each statement (<= 0: 60000) */
    long ping_timeout_ms;         /* deadline of a pre-ping or health ping (<= 0: 5000) */
};

/* Derive pool options from a loaded configuration (profile and mode already applied):
 * seconds become milliseconds, min_idle is DB_MIN_CONNS clamped to the pool size, the
 * maintenance tick is 250 ms. Pure. */
void tsp_pool_options_from_config(const struct tsp_config *cfg, struct tsp_pool_options *opts);

/* The libpq connector for cfg (conninfo built from DB_* with target_session_attrs, connect
 * timeout, application_name, statement_timeout and DB_SESSION_SETTINGS applied per session).
 * When DB_PASS came from DB_PASS_FILE the file is watched (rotate): a changed password is
 * tried with one connection (bounded by DB_CONNECT_TIMEOUT) and used for new connections once
 * the server accepts it. cfg must outlive the connector. On TSP_OK (else TSP_NO_MEMORY) *out
 * is filled with a context that the pool given it to owns and frees (release): pass it to
 * exactly one tsp_pool_new. Thread-safe callbacks. */
enum tsp_code tsp_pool_pg_connector(const struct tsp_config *cfg, struct tsp_connector *out,
                                    struct tsp_error *err) TSP_MUSTCHECK;

/* Create a pool. Copies opts and *connector. Starts the maintenance thread (min idle fill,
 * recycle, idle close, leak scan, health check, stats log). Does not connect synchronously.
 * Errors: TSP_INVALID (field "size" < 1, "max_overflow" < 0, "min_idle" outside 0..size,
 * "timeout_ms" < 1), TSP_NO_MEMORY, TSP_INTERNAL (thread or lock creation).
 * On TSP_OK *out is a new pool to release with tsp_pool_free(). Not thread-safe. */
enum tsp_code tsp_pool_new(const struct tsp_pool_options *opts,
                           const struct tsp_connector *connector, struct tsp_pool **out,
                           struct tsp_error *err) TSP_MUSTCHECK;

/* Shut down (deadline 0) if still running, join the maintenance thread, free. NULL is a
 * no-op. Every lease must have been returned. */
void tsp_pool_free(struct tsp_pool *pool);

/* Borrow a connection for the operation `label` (copied, at most TSP_POOL_LABEL_MAX - 1 bytes;
 * e.g. "readyz", "hypertables.list").
 * Waits in FIFO order up to timeout_ms (negative = the pool's default timeout). An idle
 * connection that sat longer than preping_idle_ms is pinged first; a dead one is replaced
 * transparently. Errors: TSP_POOL_EXHAUSTED (detail carries size, in use and waiting),
 * TSP_POOL_PAUSED is never returned (paused pools make borrowers wait), TSP_SHUTTING_DOWN,
 * TSP_DB_UNAVAILABLE / TSP_DB_ERROR (connect failed; libpq text without password).
 * Thread-safe. Blocks up to timeout_ms plus one connect timeout (a pre-ping gets only what is
 * left of timeout_ms); never connects while holding the pool lock. On TSP_OK *out must be given
 * back with tsp_pool_return() exactly once. */
enum tsp_code tsp_pool_borrow(struct tsp_pool *pool, const char *label, long timeout_ms,
                              struct tsp_lease **out, struct tsp_error *err) TSP_MUSTCHECK;

/* Have the maintenance thread call fn(ctx) every interval_ms (the first call at its next tick),
 * after its own work and without the pool lock, so fn may borrow from this pool; fn must bound
 * its own waits (the thread's heartbeat, which liveness watches, pauses while fn runs). One
 * task per pool: a call replaces the previous one; fn NULL or interval_ms <= 0 removes it. Not
 * called while the pool shuts down. Thread-safe; waits for a run in progress to finish, so once
 * it returns the previous fn is never called again (call it before freeing ctx). */
void tsp_pool_set_task(struct tsp_pool *pool, void (*fn)(void *ctx), void *ctx, long interval_ms);

/* Give a lease back. Rolls back a session left in a transaction, closes a bad one, a recycled
 * one, an overflow one above `size` idle ones, or (direct mode) every one; wakes the next
 * waiter. The lease must not be used afterwards (it lives in the connection record and is
 * reused by the next borrower). NULL is a no-op. Thread-safe; may block for a ROLLBACK. */
void tsp_pool_return(struct tsp_lease *lease);

/* The connector handle of a lease (a PGconn * for the libpq connector), valid until the lease
 * is returned. Only service/db/ uses it. */
void *tsp_lease_handle(const struct tsp_lease *lease);
/* Pool-wide connection id of the lease's connection (stable for the connection's life). */
long long tsp_lease_conn_id(const struct tsp_lease *lease);
/* Label given at borrow time; valid until the lease is returned. */
const char *tsp_lease_label(const struct tsp_lease *lease);
/* The client-side deadline of one statement on this lease (statement_deadline_ms). */
long tsp_lease_statement_deadline_ms(const struct tsp_lease *lease);
/* Nanoseconds the borrower waited for this lease (queue, connect and pre-ping included); 0 when
 * an idle connection was lent at once (that path reads no precise clock). */
uint64_t tsp_lease_wait_ns(const struct tsp_lease *lease);

/* Tell the pool an operation on the lease failed with `sqlstate` (NULL or "" for a client-side
 * failure: nothing to learn; a lost session is found by its status on return). A
 * connection-class error (08xxx, 57P01-57P03) or a statement past its deadline ("57014" with
 * the connection left busy) marks this connection only for closing on return: one broken
 * session is not a failover; every other connection is pinged before it is lent again, so
 * siblings killed by the same event are replaced and the healthy ones kept. 25006 (read-only
 * transaction: the primary became a standby) also invalidates every connection opened before now
 * (closed when idle, on borrow, or on return; counted once in failover_invalidations); so does a
 * new connection that reached a different server (connector identity). A report from a connection
 * that was already invalidated changes nothing more. Thread-safe, non-blocking. */
void tsp_lease_report_error(struct tsp_lease *lease, const char *sqlstate);

/* Tell the pool an operation on the lease took `duration_ms`; slower than slow_ms is logged
 * with the label and counted per label. Thread-safe, non-blocking. */
void tsp_lease_report_duration(struct tsp_lease *lease, const char *operation, double duration_ms);

/* Pause: new borrows wait (up to their deadline), returns continue. Resume undoes it.
 * Thread-safe, non-blocking. */
void tsp_pool_pause(struct tsp_pool *pool);
void tsp_pool_resume(struct tsp_pool *pool);

/* Soft evict: idle connections are closed now, borrowed ones on return (reason recycle).
 * Returns the number of connections marked. Thread-safe; closes outside the lock. */
int tsp_pool_recycle_all(struct tsp_pool *pool);

/* Change size, overflow and default timeout at run time without dropping borrowed
 * connections (excess idle ones closed with reason resize). Negative values keep the current
 * setting. Errors: TSP_INVALID (field "size" for size 0 or size < min_idle,
 * "timeout_ms" for timeout 0). Thread-safe; closes outside the lock. */
enum tsp_code tsp_pool_resize(struct tsp_pool *pool, int size, int max_overflow, long timeout_ms,
                              struct tsp_error *err) TSP_MUSTCHECK;

/* Stop lending (waiters and new borrows get TSP_SHUTTING_DOWN), wait up to deadline_ms for
 * leases to come back, close every idle connection, stop the maintenance thread. Returns the
 * number of leases still out at the deadline (closed when they come back). Thread-safe;
 * blocks up to deadline_ms. Idempotent. */
int tsp_pool_shutdown(struct tsp_pool *pool, long deadline_ms);

#define TSP_POOL_WAIT_BUCKETS 12
/* Upper bounds (seconds) of the acquire-wait histogram buckets; a last +Inf bucket follows. */
extern const double tsp_pool_wait_bucket_bounds_s[TSP_POOL_WAIT_BUCKETS];

/* A consistent snapshot, copied under the pool lock. Counters are monotonic. */
struct tsp_pool_stats {
    /* settings in force */
    enum tsp_pool_mode mode;
    int size, max_overflow, min_idle;
    long timeout_ms, recycle_ms, preping_idle_ms, idle_timeout_ms, leak_ms, slow_ms;
    /* gauges */
    int open; /* idle + in use (connecting not included) */
    int idle;
    int in_use;
    int in_use_overflow; /* in use beyond size */
    int connecting;
    int waiting;
    bool paused;
    bool shutting_down;
    /* counters */
    uint64_t borrows;         /* successful borrows */
    uint64_t borrow_timeouts; /* TSP_POOL_EXHAUSTED returned */
    uint64_t borrow_failures; /* borrows failed for other reasons (connect, shutdown) */
    uint64_t waited_borrows;  /* borrows that had to wait */
    uint64_t wait_ns_total;   /* total time borrowers waited */
    uint64_t connects;        /* successful connects */
    uint64_t connect_failures;
    uint64_t closes[TSP_CLOSE_REASON_COUNT];
    uint64_t preping_failures;
    uint64_t rollbacks; /* sessions rolled back on return */
    uint64_t leaks_detected;
    uint64_t slow_operations;
    uint64_t failover_invalidations;
    /* acquire wait histogram: counts per bucket (non-cumulative), last = +Inf */
    uint64_t wait_buckets[TSP_POOL_WAIT_BUCKETS + 1];
    double wait_sum_s;
    /* lifetime */
    int64_t started_at_ms; /* wall clock, ms since the epoch */
    double uptime_s;
};

/* Copy the stats snapshot. Thread-safe; holds the pool lock for a struct copy only. */
void tsp_pool_stats(struct tsp_pool *pool, struct tsp_pool_stats *out);

/* Estimate the q-quantile (0..1) of acquire wait in seconds from the histogram (linear
 * interpolation within a bucket); 0 when there were no borrows. Pure. */
double tsp_pool_wait_quantile(const struct tsp_pool_stats *stats, double q);

enum tsp_pool_conn_state {
    TSP_POOL_CONN_CONNECTING = 0,
    TSP_POOL_CONN_IDLE,
    TSP_POOL_CONN_IN_USE,
    TSP_POOL_CONN_CLOSING,
};
/* "connecting", "idle", "in_use", "closing". Static string. */
const char *tsp_pool_conn_state_name(enum tsp_pool_conn_state state);

#define TSP_POOL_LABEL_MAX 64

/* One connection as seen in a detailed snapshot. */
struct tsp_pool_conn_info {
    long long id;
    enum tsp_pool_conn_state state;
    double age_s;
    double idle_s;                   /* 0 unless idle */
    uint64_t uses;                   /* times lent */
    int backend_pid;                 /* 0 when unknown */
    bool overflow;                   /* opened beyond size */
    char holder[TSP_POOL_LABEL_MAX]; /* label of the current lease, "" when not in use */
    double held_s;                   /* 0 unless in use */
};

/* Per-connection detail. On TSP_OK *out is a malloc'd array of *count entries (free() it;
 * NULL when count is 0). Thread-safe; copies under the lock. */
enum tsp_code tsp_pool_conn_list(struct tsp_pool *pool, struct tsp_pool_conn_info **out,
                                 size_t *count, struct tsp_error *err) TSP_MUSTCHECK;

/* Slow operations counted per label. */
struct tsp_pool_label_count {
    char label[TSP_POOL_LABEL_MAX];
    uint64_t count;
};

/* Copy at most `max` per-label slow-operation counters into out; returns how many. Labels
 * beyond the pool's table size (64) are counted under "other". Thread-safe. */
size_t tsp_pool_slow_by_label(struct tsp_pool *pool, struct tsp_pool_label_count *out, size_t max);

/* Result of the maintenance thread's last database health check. */
struct tsp_pool_health {
    bool checked;                      /* at least one check has completed */
    bool ok;                           /* last check succeeded */
    bool ever_ok;                      /* some check has succeeded since start */
    bool misconfigured;                /* server answered but refused us (auth, unknown database) */
    bool min_idle_filled;              /* the warm pool (min_idle) is open */
    int64_t checked_at_ms;             /* wall clock of the last check */
    double latency_ms;                 /* round trip of the last successful check */
    char detail[TSP_ERROR_DETAIL_MAX]; /* reason of the last failure, "" when ok */
    char sqlstate[6];
    int64_t heartbeat_ms; /* monotonic ms of the maintenance thread's last tick */
    int64_t ok_at_ms;     /* monotonic ms of the last successful check (0 = none yet) */
    long interval_ms;     /* health check period (health_interval_ms) */
};

/* Copy the last health result. Thread-safe, non-blocking. */
void tsp_pool_health(struct tsp_pool *pool, struct tsp_pool_health *out);

#endif /* TSPOOL_POOL_H */
