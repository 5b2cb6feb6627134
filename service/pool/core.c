/* pool/core.c - pool core: per-state lists, FIFO waiters, borrow/return, close batches and the
 * control operations (pause, resume, recycle-all, resize, shutdown).
 * SPDX-License-Identifier: MIT
 */
#include "pool_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tspool/log.h"

static const char *const close_reason_names[] = {
#define TSP_XX_NAME(name, text) text,
    TSP_CLOSE_REASON_MAP(TSP_XX_NAME)
#undef TSP_XX_NAME
};

const char *tsp_close_reason_name(enum tsp_close_reason reason)
{
    if ((int)reason < 0 || reason >= TSP_CLOSE_REASON_COUNT) {
        return "unknown";
    }
    return close_reason_names[reason];
}

static void copy_label(char *dst, const char *label)
{
    size_t n = 0;

    if (label != NULL) {
        n = strnlen(label, TSP_POOL_LABEL_MAX - 1);
        memcpy(dst, label, n);
    }
    dst[n] = '\0';
}

/* ---- lists -------------------------------------------------------------------------------- */

static void list_unlink(struct tsp_pool_list *list, struct tsp_pool_conn *conn)
{
    if (conn->prev != NULL) {
        conn->prev->next = conn->next;
    } else {
        list->head = conn->next;
    }
    if (conn->next != NULL) {
        conn->next->prev = conn->prev;
    } else {
        list->tail = conn->prev;
    }
    conn->prev = NULL;
    conn->next = NULL;
    list->count--;
}

static void list_push_head(struct tsp_pool_list *list, struct tsp_pool_conn *conn)
{
    conn->prev = NULL;
    conn->next = list->head;
    if (list->head != NULL) {
        list->head->prev = conn;
    } else {
        list->tail = conn;
    }
    list->head = conn;
    list->count++;
}

void tsp_pool_change_state(struct tsp_pool *pool, struct tsp_pool_conn *conn,
                           enum tsp_pool_conn_state state, int64_t now_ms, bool fresh)
{
    if (!fresh) {
        list_unlink(&pool->lists[conn->state], conn);
        if (conn->state == TSP_POOL_CONN_IDLE) {
            conn->idle_for_ms = now_ms - conn->state_ms;
        }
    }
    /* idle is LIFO: the most recently used connection is lent first, so surplus ones age out
     * at the tail and the idle timeout can close them */
    list_push_head(&pool->lists[state], conn);
    conn->state = state;
    conn->state_ms = now_ms;
}

static bool has_capacity(const struct tsp_pool *pool)
{
    return tsp_pool_total(pool) < pool->opts.size + pool->opts.max_overflow;
}

static uint32_t next_random(struct tsp_pool *pool)
{
    uint32_t x = pool->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    pool->rng = x;
    return x;
}

static void stamp_recycle(struct tsp_pool *pool, struct tsp_pool_conn *conn, int64_t now_ms)
{
    long jitter_range = pool->opts.recycle_ms / 10;

    conn->recycle_at_ms = 0;
    if (pool->opts.recycle_ms > 0) {
        conn->recycle_at_ms = now_ms + pool->opts.recycle_ms;
        if (jitter_range > 0) {
            conn->recycle_at_ms += (int64_t)(next_random(pool) % ((uint32_t)jitter_range + 1));
        }
    }
}

struct tsp_pool_conn *tsp_pool_reserve(struct tsp_pool *pool, int64_t now_ms)
{
    struct tsp_pool_conn *conn = calloc(1, sizeof(*conn));

    if (conn == NULL) {
        return NULL;
    }
    conn->id = ++pool->next_id;
    conn->generation = pool->generation;
    conn->created_ms = now_ms;
    conn->overflow = tsp_pool_open_count(pool) >= pool->opts.size;
    conn->lease.pool = pool;
    conn->lease.conn = conn;
    tsp_pool_change_state(pool, conn, TSP_POOL_CONN_CONNECTING, now_ms, true);
    return conn;
}

void tsp_pool_connected(struct tsp_pool *pool, struct tsp_pool_conn *conn, void *handle, int pid,
                        enum tsp_pool_conn_state state, int64_t now_ms)
{
    conn->handle = handle;
    conn->backend_pid = pid;
    conn->created_ms = now_ms;
    stamp_recycle(pool, conn, now_ms);
    pool->counters.connects++;
    tsp_pool_change_state(pool, conn, state, now_ms, false);
}

void tsp_pool_read_identity(struct tsp_pool *pool, void *handle, char *buf, size_t size)
{
    buf[0] = '\0';
    if (pool->connector.identity != NULL) {
        pool->connector.identity(pool->connector.ctx, handle, buf, size);
    }
}

void tsp_pool_note_identity(struct tsp_pool *pool, struct tsp_pool_conn *conn, const char *identity)
{
    struct tsp_log_ctx ctx = {.event = "pool.failover", .conn_id = conn->id};

    if (identity[0] == '\0') {
        return;
    }
    if (pool->identity[0] != '\0' && strcmp(pool->identity, identity) != 0) {
        /* a different server answers now: connections to the old one are stale. The new
         * connection itself belongs to the new generation. */
        pool->generation++;
        pool->counters.failover_invalidations++;
        conn->generation = pool->generation;
        TSP_LOG_WARN(&ctx, "server changed from %s to %s: invalidating older connections",
                     pool->identity, identity);
    }
    snprintf(pool->identity, sizeof(pool->identity), "%s", identity);
}

void tsp_pool_conn_destroy(struct tsp_pool *pool, struct tsp_pool_conn *conn)
{
    list_unlink(&pool->lists[conn->state], conn);
    free(conn);
}

void tsp_pool_connect_failed(struct tsp_pool *pool, struct tsp_pool_conn *conn, int64_t now_ms)
{
    pool->counters.connect_failures++;
    tsp_pool_conn_destroy(pool, conn);
    if (pool->shutting_down) {
        pthread_cond_broadcast(&pool->drained);
    }
    tsp_pool_dispatch(pool, now_ms);
}

/* ---- waiters ------------------------------------------------------------------------------ */

static void waiter_enqueue(struct tsp_pool *pool, struct tsp_pool_waiter *w, bool front)
{
    if (front) {
        w->prev = NULL;
        w->next = pool->wait_head;
        if (pool->wait_head != NULL) {
            pool->wait_head->prev = w;
        } else {
            pool->wait_tail = w;
        }
        pool->wait_head = w;
    } else {
        w->next = NULL;
        w->prev = pool->wait_tail;
        if (pool->wait_tail != NULL) {
            pool->wait_tail->next = w;
        } else {
            pool->wait_head = w;
        }
        pool->wait_tail = w;
    }
    pool->waiting++;
}

static void waiter_dequeue(struct tsp_pool *pool, struct tsp_pool_waiter *w)
{
    if (w->prev != NULL) {
        w->prev->next = w->next;
    } else {
        pool->wait_head = w->next;
    }
    if (w->next != NULL) {
        w->next->prev = w->prev;
    } else {
        pool->wait_tail = w->prev;
    }
    w->prev = NULL;
    w->next = NULL;
    pool->waiting--;
}

/* Lend conn (already taken off the idle list) to whoever `label` is. */
static void lend(struct tsp_pool *pool, struct tsp_pool_conn *conn, const char *label,
                 int64_t now_ms)
{
    tsp_pool_change_state(pool, conn, TSP_POOL_CONN_IN_USE, now_ms, false);
    copy_label(conn->holder, label);
    conn->leak_reported = false;
}

static enum tsp_close_reason close_reason_for(const struct tsp_pool *pool,
                                              const struct tsp_pool_conn *conn, int64_t now_ms);
static bool needs_preping(const struct tsp_pool *pool, const struct tsp_pool_conn *conn);

/* Hand w its grant and wake it. A connection (already in use on w's behalf) that needs no
 * check is accounted here as a finished borrow, so w returns without the pool lock. Lock held. */
static void grant_waiter(struct tsp_pool *pool, struct tsp_pool_waiter *w, enum tsp_pool_grant what,
                         struct tsp_pool_conn *conn, int64_t now_ms)
{
    int64_t now_ns = 0;
    uint64_t wait_ns = 0;

    waiter_dequeue(pool, w);
    w->conn = conn;
    if (what == TSP_POOL_GRANT_CONN &&
        close_reason_for(pool, conn, now_ms) == TSP_CLOSE_REASON_COUNT &&
        !needs_preping(pool, conn)) {
        now_ns = tsp_clock_mono_ns();
        wait_ns = now_ns > w->start_ns ? (uint64_t)(now_ns - w->start_ns) : 0;
        conn->uses++;
        conn->lease.wait_ns = wait_ns;
        conn->lease.active = true;
        pool->last_borrow_ok_ms = now_ms;
        tsp_pool_stats_borrow(pool, wait_ns, true);
        w->ready = true;
    }
    pthread_mutex_lock(&w->lock);
    w->grant = what;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

void tsp_pool_dispatch(struct tsp_pool *pool, int64_t now_ms)
{
    struct tsp_pool_waiter *w = NULL;
    struct tsp_pool_conn *conn = NULL;
    struct tsp_pool_list *idle = &pool->lists[TSP_POOL_CONN_IDLE];

    while (pool->wait_head != NULL && !pool->paused && !pool->shutting_down) {
        w = pool->wait_head;
        if (idle->head != NULL && pool->opts.mode == TSP_POOL_MODE_POOLED) {
            conn = idle->head;
            lend(pool, conn, w->label, now_ms);
            grant_waiter(pool, w, TSP_POOL_GRANT_CONN, conn, now_ms);
        } else if (has_capacity(pool)) {
            conn = tsp_pool_reserve(pool, now_ms);
            if (conn == NULL) {
                return;
            }
            copy_label(conn->holder, w->label);
            grant_waiter(pool, w, TSP_POOL_GRANT_SLOT, conn, now_ms);
        } else {
            return;
        }
    }
}

void tsp_pool_wake_all_shutdown(struct tsp_pool *pool)
{
    while (pool->wait_head != NULL) {
        grant_waiter(pool, pool->wait_head, TSP_POOL_GRANT_SHUTDOWN, NULL, 0);
    }
}

/* ---- closing ------------------------------------------------------------------------------ */

void tsp_pool_close_begin(struct tsp_pool *pool, struct tsp_pool_conn *conn,
                          enum tsp_close_reason reason, int64_t now_ms,
                          struct tsp_pool_conn **batch)
{
    conn->close_reason = reason;
    tsp_pool_change_state(pool, conn, TSP_POOL_CONN_CLOSING, now_ms, false);
    conn->batch_next = *batch;
    *batch = conn;
}

void tsp_pool_close_batch(struct tsp_pool *pool, struct tsp_pool_conn *batch, bool dispatch)
{
    struct tsp_pool_conn *conn = NULL;
    struct tsp_pool_conn *next = NULL;
    struct tsp_log_ctx ctx = {.event = "pool.close", .conn_id = -1};

    if (batch == NULL) {
        return;
    }
    for (conn = batch; conn != NULL; conn = conn->batch_next) {
        if (conn->handle != NULL) {
            pool->connector.close(pool->connector.ctx, conn->handle);
            conn->handle = NULL;
        }
        ctx.conn_id = conn->id;
        TSP_LOG_DEBUG(&ctx, "closed connection %lld (%s)", conn->id,
                      tsp_close_reason_name(conn->close_reason));
    }
    pthread_mutex_lock(&pool->lock);
    for (conn = batch; conn != NULL; conn = next) {
        next = conn->batch_next;
        pool->counters.closes[conn->close_reason]++;
        tsp_pool_conn_destroy(pool, conn);
    }
    if (pool->shutting_down) {
        pthread_cond_broadcast(&pool->drained);
    }
    if (dispatch) {
        tsp_pool_dispatch(pool, tsp_clock_coarse_ms());
    }
    pthread_mutex_unlock(&pool->lock);
}

/* Why a connection must not go back to the idle list, or TSP_CLOSE_REASON_COUNT if it may. */
static enum tsp_close_reason close_reason_for(const struct tsp_pool *pool,
                                              const struct tsp_pool_conn *conn, int64_t now_ms)
{
    if (pool->opts.mode == TSP_POOL_MODE_DIRECT) {
        return TSP_CLOSE_DIRECT;
    }
    if (pool->shutting_down) {
        return TSP_CLOSE_SHUTDOWN;
    }
    if (conn->doomed) {
        return conn->close_reason;
    }
    if (conn->generation < pool->generation) {
        return TSP_CLOSE_FAILOVER;
    }
    if (conn->recycle_at_ms != 0 && now_ms >= conn->recycle_at_ms) {
        return TSP_CLOSE_RECYCLE;
    }
    return TSP_CLOSE_REASON_COUNT;
}

void tsp_pool_release(struct tsp_pool *pool, struct tsp_pool_conn *conn,
                      enum tsp_conn_status status, int64_t now_ms, struct tsp_pool_conn **batch)
{
    enum tsp_close_reason reason = close_reason_for(pool, conn, now_ms);
    struct tsp_pool_waiter *w = pool->wait_head;

    conn->holder[0] = '\0';
    if (reason == TSP_CLOSE_REASON_COUNT && status == TSP_CONN_BAD) {
        reason = TSP_CLOSE_BROKEN;
    }
    if (reason != TSP_CLOSE_REASON_COUNT) {
        tsp_pool_close_begin(pool, conn, reason, now_ms, batch);
    } else if (w != NULL && !pool->paused) {
        /* direct hand-off keeps FIFO order: a returning thread cannot barge in front */
        tsp_pool_change_state(pool, conn, TSP_POOL_CONN_IN_USE, now_ms, false);
        copy_label(conn->holder, w->label);
        conn->leak_reported = false;
        conn->idle_for_ms = 0;
        grant_waiter(pool, w, TSP_POOL_GRANT_CONN, conn, now_ms);
    } else if (tsp_pool_open_count(pool) > pool->opts.size) {
        tsp_pool_close_begin(pool, conn, TSP_CLOSE_OVERFLOW, now_ms, batch);
    } else {
        tsp_pool_change_state(pool, conn, TSP_POOL_CONN_IDLE, now_ms, false);
    }
    if (pool->shutting_down) {
        pthread_cond_broadcast(&pool->drained);
    }
}

/* ---- borrow ------------------------------------------------------------------------------- */

/* Wait in the FIFO queue until granted or the deadline. Pool lock held on entry; held on
 * return unless *ready (the granter finished the borrow: the lease is ready to use). */
static enum tsp_pool_grant wait_turn(struct tsp_pool *pool, const char *label, bool front,
                                     int64_t start_ns, int64_t deadline_ns,
                                     struct tsp_pool_conn **conn, bool *ready,
                                     int *waiting_at_timeout)
{
    struct tsp_pool_waiter w;
    struct timespec ts = tsp_clock_timespec(deadline_ns);
    enum tsp_pool_grant got = TSP_POOL_GRANT_NONE;
    int rc = 0;

    memset(&w, 0, sizeof(w));
    w.label = label;
    w.start_ns = start_ns;
    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.cond, &pool->cond_attr);
    waiter_enqueue(pool, &w, front);
    pthread_mutex_unlock(&pool->lock);
    pthread_mutex_lock(&w.lock);
    while (w.grant == TSP_POOL_GRANT_NONE && rc != ETIMEDOUT) {
        rc = pthread_cond_timedwait(&w.cond, &w.lock, &ts);
    }
    got = w.grant;
    pthread_mutex_unlock(&w.lock);
    if (got != TSP_POOL_GRANT_CONN || !w.ready) {
        pthread_mutex_lock(&pool->lock);
    }
    if (got == TSP_POOL_GRANT_NONE) {
        /* a grant may have raced the timeout: it is final once seen under both locks */
        pthread_mutex_lock(&w.lock);
        got = w.grant;
        pthread_mutex_unlock(&w.lock);
        if (got == TSP_POOL_GRANT_NONE) {
            *waiting_at_timeout = pool->waiting;
            waiter_dequeue(pool, &w);
        } else if (got == TSP_POOL_GRANT_CONN && w.ready) {
            pthread_mutex_unlock(&pool->lock);
        }
    }
    pthread_cond_destroy(&w.cond);
    pthread_mutex_destroy(&w.lock);
    *conn = w.conn;
    *ready = got == TSP_POOL_GRANT_CONN && w.ready;
    return got;
}

/* 0 = ping every time (hand-offs included), > 0 = after that long idle, < 0 = never; and
 * always when a sibling session failed since the last check (suspect). */
static bool needs_preping(const struct tsp_pool *pool, const struct tsp_pool_conn *conn)
{
    long limit = pool->opts.preping_idle_ms;
    return conn->suspect || limit == 0 || (limit > 0 && conn->idle_for_ms >= limit);
}

/* Borrow succeeded: account and arm the lease. Lock held. */
static void borrow_done(struct tsp_pool *pool, struct tsp_pool_conn *conn, int64_t start_ns,
                        bool waited, struct tsp_lease **out)
{
    int64_t now_ns = start_ns != 0 ? tsp_clock_mono_ns() : 0;
    uint64_t wait_ns = now_ns > start_ns ? (uint64_t)(now_ns - start_ns) : 0;

    conn->uses++;
    conn->lease.wait_ns = wait_ns;
    conn->lease.active = true;
    pool->last_borrow_ok_ms = conn->state_ms;
    tsp_pool_stats_borrow(pool, wait_ns, waited);
    *out = &conn->lease;
}

static enum tsp_code exhausted(struct tsp_pool *pool, long timeout_ms, int waiting,
                               struct tsp_error *err)
{
    pool->counters.borrow_timeouts++;
    return tsp_error_set(err, TSP_POOL_EXHAUSTED, NULL,
                         "no connection available within %ld ms (size %d, overflow %d, in use %d, "
                         "waiting %d)",
                         timeout_ms, pool->opts.size, pool->opts.max_overflow,
                         pool->lists[TSP_POOL_CONN_IN_USE].count, waiting);
}

/* Connect a reserved slot outside the lock. Lock held on entry and on return. */
static enum tsp_code connect_slot(struct tsp_pool *pool, struct tsp_pool_conn *conn,
                                  struct tsp_error *err)
{
    void *handle = NULL;
    int pid = 0;
    char identity[sizeof(pool->identity)];
    enum tsp_code code = TSP_OK;
    struct tsp_error cerr;
    struct tsp_pool_conn *batch = NULL;
    struct tsp_log_ctx ctx = {.event = "pool.connect_failed", .conn_id = conn->id};

    tsp_error_init(&cerr);
    pthread_mutex_unlock(&pool->lock);
    code = pool->connector.connect(pool->connector.ctx, &handle, &cerr);
    if (code == TSP_OK) {
        pid = pool->connector.backend_pid(pool->connector.ctx, handle);
        tsp_pool_read_identity(pool, handle, identity, sizeof(identity));
    } else {
        ctx.label = conn->holder;
        TSP_LOG_WARN(&ctx, "connect failed: %s", cerr.detail);
    }
    pthread_mutex_lock(&pool->lock);
    if (code != TSP_OK) {
        tsp_pool_connect_failed(pool, conn, tsp_clock_coarse_ms());
        (void)tsp_error_set(err, code, cerr.field, "%s", cerr.detail);
        tsp_error_set_sqlstate(err, cerr.sqlstate);
        return code;
    }
    tsp_pool_connected(pool, conn, handle, pid, TSP_POOL_CONN_IN_USE, tsp_clock_coarse_ms());
    tsp_pool_note_identity(pool, conn, identity);
    if (pool->shutting_down) {
        tsp_pool_close_begin(pool, conn, TSP_CLOSE_SHUTDOWN, tsp_clock_coarse_ms(), &batch);
        pthread_mutex_unlock(&pool->lock);
        tsp_pool_close_batch(pool, batch, false);
        pthread_mutex_lock(&pool->lock);
        return tsp_error_set(err, TSP_SHUTTING_DOWN, NULL, "the pool is shutting down");
    }
    return TSP_OK;
}

/* Close one connection the borrower itself took and found unusable. The freed capacity is
 * not dispatched: the borrower keeps its turn. Lock held on entry and on return. */
static void discard(struct tsp_pool *pool, struct tsp_pool_conn *conn, enum tsp_close_reason reason)
{
    struct tsp_pool_conn *batch = NULL;

    conn->holder[0] = '\0';
    tsp_pool_close_begin(pool, conn, reason, tsp_clock_coarse_ms(), &batch);
    pthread_mutex_unlock(&pool->lock);
    tsp_pool_close_batch(pool, batch, false);
    pthread_mutex_lock(&pool->lock);
}

/* The precise clock is read only off the fast path: an idle connection lent at once (the
 * common case) waited no measurable time and costs one coarse stamp. start_ns is taken the
 * first time the borrow has to wait, connect or ping, and the deadline counts from there. */
static void start_clock(int64_t *start_ns, int64_t *deadline_ns, long timeout_ms)
{
    if (*start_ns == 0) {
        *start_ns = tsp_clock_mono_ns();
        *deadline_ns = *start_ns + (int64_t)timeout_ms * 1000000;
    }
}

enum tsp_code tsp_pool_borrow(struct tsp_pool *pool, const char *label, long timeout_ms,
                              struct tsp_lease **out, struct tsp_error *err)
{
    int64_t start_ns = 0;
    int64_t deadline_ns = 0;
    int64_t now_ms = 0;
    struct tsp_pool_conn *conn = NULL;
    struct tsp_pool_list *idle = &pool->lists[TSP_POOL_CONN_IDLE];
    enum tsp_pool_grant grant = TSP_POOL_GRANT_NONE;
    enum tsp_close_reason reason = TSP_CLOSE_REASON_COUNT;
    enum tsp_code code = TSP_OK;
    struct tsp_error perr;
    int64_t left_ms = 0;
    long ping_ms = 0;
    bool front = false; /* keeps its turn after discarding a dead connection */
    bool waited = false;
    bool ready = false;
    int waiting = 0;

    /* clocks are read outside the lock: it is held for list surgery only */
    now_ms = tsp_clock_coarse_ms();
    pthread_mutex_lock(&pool->lock);
    if (timeout_ms < 0) {
        timeout_ms = pool->opts.timeout_ms;
    }
    for (;;) {
        grant = TSP_POOL_GRANT_NONE;
        conn = NULL;
        if (start_ns != 0) {
            now_ms = tsp_clock_coarse_ms(); /* a later round: time has passed */
        }
        if (pool->shutting_down) {
            grant = TSP_POOL_GRANT_SHUTDOWN;
        } else if (!pool->paused && (front || pool->wait_head == NULL)) {
            if (idle->head != NULL && pool->opts.mode == TSP_POOL_MODE_POOLED) {
                conn = idle->head;
                lend(pool, conn, label, now_ms);
                grant = TSP_POOL_GRANT_CONN;
            } else if (has_capacity(pool)) {
                conn = tsp_pool_reserve(pool, now_ms);
                if (conn == NULL) {
                    code = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
                    pool->counters.borrow_failures++;
                    goto done;
                }
                copy_label(conn->holder, label);
                grant = TSP_POOL_GRANT_SLOT;
            }
        }
        if (grant == TSP_POOL_GRANT_NONE) {
            waited = true;
            start_clock(&start_ns, &deadline_ns, timeout_ms);
            grant = wait_turn(pool, label, front, start_ns, deadline_ns, &conn, &ready, &waiting);
            if (ready) {
                /* accounted by the granter; the pool lock is not held */
                *out = &conn->lease;
                return TSP_OK;
            }
            now_ms = tsp_clock_coarse_ms();
        }
        if (grant == TSP_POOL_GRANT_NONE) {
            code = exhausted(pool, timeout_ms, waiting, err);
            goto done;
        }
        if (grant == TSP_POOL_GRANT_SHUTDOWN) {
            pool->counters.borrow_failures++;
            code = tsp_error_set(err, TSP_SHUTTING_DOWN, NULL, "the pool is shutting down");
            goto done;
        }
        if (grant == TSP_POOL_GRANT_SLOT) {
            start_clock(&start_ns, &deadline_ns, timeout_ms);
            code = connect_slot(pool, conn, err);
            if (code != TSP_OK) {
                pool->counters.borrow_failures++;
                goto done;
            }
            borrow_done(pool, conn, start_ns, waited, out);
            goto done;
        }
        /* an idle connection: check what can be checked without I/O, then pre-ping */
        reason = close_reason_for(pool, conn, now_ms);
        if (reason != TSP_CLOSE_REASON_COUNT) {
            start_clock(&start_ns, &deadline_ns, timeout_ms);
            front = true;
            discard(pool, conn, reason);
            continue;
        }
        if (!needs_preping(pool, conn)) {
            borrow_done(pool, conn, start_ns, waited, out);
            goto done;
        }
        start_clock(&start_ns, &deadline_ns, timeout_ms);
        left_ms = (deadline_ns - tsp_clock_mono_ns()) / 1000000;
        if (left_ms <= 0) {
            /* a discarded connection already used the deadline: never ping past it */
            conn->holder[0] = '\0';
            tsp_pool_change_state(pool, conn, TSP_POOL_CONN_IDLE, tsp_clock_coarse_ms(), false);
            front = true; /* the connection goes to the next waiter */
            code = exhausted(pool, timeout_ms, pool->waiting, err);
            goto done;
        }
        ping_ms = pool->opts.ping_timeout_ms > 0 ? pool->opts.ping_timeout_ms : 5000;
        ping_ms = ping_ms < left_ms ? ping_ms : (long)left_ms;
        pthread_mutex_unlock(&pool->lock);
        tsp_error_init(&perr);
        code = pool->connector.ping(pool->connector.ctx, conn->handle, ping_ms, &perr);
        pthread_mutex_lock(&pool->lock);
        if (code == TSP_OK) {
            conn->suspect = false;
            borrow_done(pool, conn, start_ns, waited, out);
            goto done;
        }
        code = TSP_OK;
        pool->counters.preping_failures++;
        front = true;
        discard(pool, conn, TSP_CLOSE_BROKEN);
    }
done:
    if (front) {
        /* capacity freed by a discard and not taken here belongs to the queue */
        tsp_pool_dispatch(pool, tsp_clock_coarse_ms());
    }
    pthread_mutex_unlock(&pool->lock);
    return code;
}

/* ---- return ------------------------------------------------------------- */

void tsp_pool_return(struct tsp_lease *lease)
{
    struct tsp_pool *pool = NULL;
    struct tsp_pool_conn *conn = NULL;
    struct tsp_pool_conn *batch = NULL;
    enum tsp_conn_status status = TSP_CONN_BAD;
    bool rolled_back = false;
    int64_t now_ms = 0;
    struct tsp_error rerr;

    if (lease == NULL || !lease->active) {
        return;
    }
    pool = lease->pool;
    conn = lease->conn;
    lease->active = false;
    if (pool->opts.mode == TSP_POOL_MODE_POOLED) {
        status = pool->connector.status(pool->connector.ctx, conn->handle);
    }
    if (status == TSP_CONN_IN_TRANSACTION) {
        tsp_error_init(&rerr);
        rolled_back = pool->connector.rollback(pool->connector.ctx, conn->handle, &rerr) == TSP_OK;
        status =
            rolled_back ? pool->connector.status(pool->connector.ctx, conn->handle) : TSP_CONN_BAD;
        if (status != TSP_CONN_IDLE) {
            status = TSP_CONN_BAD;
        }
    }
    now_ms = tsp_clock_coarse_ms();
    pthread_mutex_lock(&pool->lock);
    if (rolled_back) {
        pool->counters.rollbacks++;
    }
    tsp_pool_release(pool, conn, status, now_ms, &batch);
    pthread_mutex_unlock(&pool->lock);
    tsp_pool_close_batch(pool, batch, true);
}

void *tsp_lease_handle(const struct tsp_lease *lease)
{
    return lease->conn->handle;
}

long long tsp_lease_conn_id(const struct tsp_lease *lease)
{
    return lease->conn->id;
}

const char *tsp_lease_label(const struct tsp_lease *lease)
{
    return lease->conn->holder;
}

long tsp_lease_statement_deadline_ms(const struct tsp_lease *lease)
{
    long ms = lease->pool->opts.statement_deadline_ms; /* immutable after tsp_pool_new */
    return ms > 0 ? ms : 60000;
}

uint64_t tsp_lease_wait_ns(const struct tsp_lease *lease)
{
    return lease->wait_ns;
}
