/* pool/pool_int.h - struct tsp_pool and the connection record, shared by the files of
 * service/pool/ only. Everything here is guarded by tsp_pool.lock unless a field says otherwise.
 * SPDX-License-Identifier: MIT
 */
#ifndef TSPOOL_POOL_INT_H
#define TSPOOL_POOL_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "tspool/clock.h"
#include "tspool/pool.h"

struct tsp_pool_conn;

/* A lease is embedded in its connection record: borrowing allocates nothing. */
struct tsp_lease {
    struct tsp_pool *pool;
    struct tsp_pool_conn *conn;
    uint64_t wait_ns; /* written before the lease is handed out, read only by its holder */
    bool active;      /* between borrow and return; a second return is a caller bug */
};

/* One connection. Its state is the list it is on; only tsp_pool_change_state() moves it. */
struct tsp_pool_conn {
    struct tsp_pool_conn *prev, *next; /* links in pool->lists[state] */
    struct tsp_pool_conn *batch_next;  /* private chain of a closer (state CLOSING) */
    enum tsp_pool_conn_state state;
    long long id;
    void *handle;          /* connector handle; NULL while connecting */
    int64_t created_ms;    /* stamp (tsp_clock_coarse_ms); connect completion (reservation while
                              connecting) */
    int64_t state_ms;      /* monotonic time it entered its state (idle since, borrowed at) */
    int64_t idle_for_ms;   /* how long it sat idle before its last borrow (pre-ping rule) */
    int64_t recycle_at_ms; /* monotonic; 0 = never. Age limit plus this record's jitter */
    uint64_t generation;   /* pool->generation at reservation; older ones are invalidated */
    uint64_t uses;
    int backend_pid;
    bool overflow;      /* reserved while size connections already existed */
    bool leak_reported; /* this lease was already reported as a leak */
    bool doomed;        /* close when it comes back (never taken from its holder) */
    bool suspect; /* a sibling session failed: ping before lending it again (cleared by a ping) */
    enum tsp_close_reason close_reason; /* reason for doomed / CLOSING */
    char holder[TSP_POOL_LABEL_MAX];    /* label of the current lease, "" when not in use */
    struct tsp_lease lease;
};

struct tsp_pool_list {
    struct tsp_pool_conn *head, *tail;
    int count;
};

enum tsp_pool_grant {
    TSP_POOL_GRANT_NONE = 0, /* still waiting */
    TSP_POOL_GRANT_CONN,     /* waiter->conn is in use on its behalf */
    TSP_POOL_GRANT_SLOT,     /* waiter->conn is a connecting reservation: connect it */
    TSP_POOL_GRANT_SHUTDOWN, /* the pool stopped lending */
};

/* A borrower waiting in FIFO order; lives on the borrower's stack. Each has its own mutex and
 * condition variable, so a hand-off wakes exactly the thread it serves and that thread need
 * not retake the contended pool lock when the granter finished the borrow for it (`ready`).
 * Lock order: pool lock, then waiter lock. */
struct tsp_pool_waiter {
    struct tsp_pool_waiter *prev, *next; /* queue links: pool lock */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    const char *label;
    int64_t start_ns;          /* when the borrow began waiting */
    enum tsp_pool_grant grant; /* written under both locks */
    bool ready;                /* CONN grant fully accounted: lend without further checks */
    struct tsp_pool_conn *conn;
};

#define TSP_POOL_SLOW_LABELS 64

struct tsp_pool_slow_label {
    char label[TSP_POOL_LABEL_MAX];
    uint64_t count;
};

struct tsp_pool {
    pthread_mutex_t lock;
    pthread_condattr_t cond_attr; /* CLOCK_MONOTONIC, for every condition variable */
    pthread_cond_t drained;       /* broadcast when a lease or connect finishes while stopping */
    pthread_cond_t maint_wake;    /* wakes the maintenance thread early (stop) */
    pthread_t maint_thread;       /* owned by tsp_pool_new / tsp_pool_free; no lock */
    bool maint_started;           /* set before other threads exist; no lock */
    pthread_mutex_t task_lock;    /* guards task_*; held while the maintenance thread runs the
                                     task (lock order: task_lock, then lock) */
    void (*task_fn)(void *ctx);   /* periodic task of tsp_pool_set_task, NULL = none */
    void *task_ctx;
    long task_interval_ms;

    struct tsp_pool_options opts;   /* size, max_overflow, timeout_ms change under the lock */
    struct tsp_connector connector; /* immutable after tsp_pool_new */

    struct tsp_pool_list lists[TSP_POOL_CONN_CLOSING + 1]; /* indexed by state */
    struct tsp_pool_waiter *wait_head, *wait_tail;
    int waiting;

    bool paused;
    bool shutting_down;
    bool maint_stop;
    long long next_id;
    uint64_t generation; /* bumped by a failover report; older connections are invalid */
    char identity[128];  /* connector identity of the last new connection ("" = none yet) */
    uint32_t rng;        /* xorshift state for recycle jitter */

    struct tsp_pool_stats counters; /* only the counter and histogram members are kept here */
    struct tsp_pool_slow_label slow[TSP_POOL_SLOW_LABELS];
    int slow_used;
    uint64_t slow_other;

    struct tsp_pool_health health;
    /* new credentials the server refused (connector rotate); the health check reports this
     * as misconfigured while it lasts. code TSP_OK = none */
    struct tsp_error cred_refused;
    int64_t last_borrow_ok_ms; /* stamp of the last successful borrow */
    int64_t started_ms;        /* stamp */
    int64_t started_wall_ms;
};

/* Move conn to the list of `state` (unlinking it from its current one unless `fresh`) and stamp
 * the time. The only place a state changes. Lock held. */
void tsp_pool_change_state(struct tsp_pool *pool, struct tsp_pool_conn *conn,
                           enum tsp_pool_conn_state state, int64_t now_ms, bool fresh);

/* Connections kept or being opened: idle + in use + connecting (what `size` limits). Lock
 * held. Inline here so that stats.c reads the lists without calling into core.c. */
static inline int tsp_pool_open_count(const struct tsp_pool *pool)
{
    return pool->lists[TSP_POOL_CONN_IDLE].count + pool->lists[TSP_POOL_CONN_IN_USE].count +
           pool->lists[TSP_POOL_CONN_CONNECTING].count;
}

/* Connections that count against size + overflow (every list, closing included). Lock held. */
static inline int tsp_pool_total(const struct tsp_pool *pool)
{
    return tsp_pool_open_count(pool) + pool->lists[TSP_POOL_CONN_CLOSING].count;
}

/* Fail every waiter with TSP_SHUTTING_DOWN. Lock held. */
void tsp_pool_wake_all_shutdown(struct tsp_pool *pool);

/* Reserve a connecting slot (new record on the connecting list). NULL when out of memory.
 * Caller checked capacity. Lock held. */
struct tsp_pool_conn *tsp_pool_reserve(struct tsp_pool *pool, int64_t now_ms);

/* Hand idle connections and free capacity to waiters in FIFO order. Lock held. */
void tsp_pool_dispatch(struct tsp_pool *pool, int64_t now_ms);

/* A connect for `conn` (reserved) succeeded: stamp it and move it to `state`. Lock held. */
void tsp_pool_connected(struct tsp_pool *pool, struct tsp_pool_conn *conn, void *handle, int pid,
                        enum tsp_pool_conn_state state, int64_t now_ms);

/* The connector's identity of a new connection into buf ("" when the connector has none).
 * Lock NOT needed (connector call; non-blocking). */
void tsp_pool_read_identity(struct tsp_pool *pool, void *handle, char *buf, size_t size);

/* Remember the identity of a new connection; a change from the last one seen is a failover:
 * every older connection is invalidated. Lock held. */
void tsp_pool_note_identity(struct tsp_pool *pool, struct tsp_pool_conn *conn,
                            const char *identity);

/* Unlink conn from its list and free the record (the handle is already closed). Lock held. */
void tsp_pool_conn_destroy(struct tsp_pool *pool, struct tsp_pool_conn *conn);

/* Drop a reservation whose connect failed (record freed, slot freed, next waiter served).
 * Lock held. */
void tsp_pool_connect_failed(struct tsp_pool *pool, struct tsp_pool_conn *conn, int64_t now_ms);

/* Put conn on the CLOSING list with `reason` and push it on *batch. Lock held. */
void tsp_pool_close_begin(struct tsp_pool *pool, struct tsp_pool_conn *conn,
                          enum tsp_close_reason reason, int64_t now_ms,
                          struct tsp_pool_conn **batch);

/* Close every connection of batch (connector calls without the lock), then count, free and
 * serve waiters with the freed capacity when `dispatch`. Lock NOT held. */
void tsp_pool_close_batch(struct tsp_pool *pool, struct tsp_pool_conn *batch, bool dispatch);

/* Decide what happens to a connection that stops being used (lease return, health ping):
 * close it (pushed on *batch), hand it to the next waiter, or make it idle. Lock held. */
void tsp_pool_release(struct tsp_pool *pool, struct tsp_pool_conn *conn,
                      enum tsp_conn_status status, int64_t now_ms, struct tsp_pool_conn **batch);

/* Start / signal the maintenance thread (maint.c). */
enum tsp_code tsp_pool_maint_start(struct tsp_pool *pool, struct tsp_error *err) TSP_MUSTCHECK;

/* Fill a stats snapshot (stats.c). Lock held. */
void tsp_pool_stats_fill(const struct tsp_pool *pool, struct tsp_pool_stats *out, int64_t now_ms);

/* Record one successful borrow that waited wait_ns in the counters and histogram. Lock held. */
void tsp_pool_stats_borrow(struct tsp_pool *pool, uint64_t wait_ns, bool waited);

/* Count one slow operation for `label`. Lock held. */
void tsp_pool_stats_slow(struct tsp_pool *pool, const char *label);

#endif /* TSPOOL_POOL_INT_H */
