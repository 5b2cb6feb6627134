/* pool/maint.c - the maintenance thread: recycle with jitter, idle close, min idle fill,
 * leak scan, database health check feeding tsp_pool_health, periodic stats log line.
 * SPDX-License-Identifier: MIT
 */
#include "pool_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tspool/log.h"

#define LEAKS_PER_TICK      16
#define FILL_BACKOFF_MAX_MS 30000

struct leak_report {
    long long id;
    char label[TSP_POOL_LABEL_MAX];
    int64_t held_ms;
    int backend_pid;
};

/* State private to the maintenance thread (no lock needed). */
struct maint_state {
    int64_t next_health_ms;
    int64_t next_stats_ms;
    int64_t next_fill_ms;
    long fill_backoff_ms;
    int64_t next_task_ms;
    void (*last_task)(void *ctx); /* a newly set task runs at the next tick */
};

/* Close idle connections that are past their recycle age, invalidated, doomed, or idle too
 * long above min_idle. Oldest idle first (the tail). Lock held. */
static void collect_idle_expired(struct tsp_pool *pool, int64_t now_ms,
                                 struct tsp_pool_conn **batch)
{
    struct tsp_pool_conn *conn = pool->lists[TSP_POOL_CONN_IDLE].tail;
    struct tsp_pool_conn *prev = NULL;
    const struct tsp_pool_options *o = &pool->opts;
    int open = 0;

    for (; conn != NULL; conn = prev) {
        prev = conn->prev;
        open = pool->lists[TSP_POOL_CONN_IDLE].count + pool->lists[TSP_POOL_CONN_IN_USE].count +
               pool->lists[TSP_POOL_CONN_CONNECTING].count;
        if (conn->doomed) {
            tsp_pool_close_begin(pool, conn, conn->close_reason, now_ms, batch);
        } else if (conn->generation < pool->generation) {
            tsp_pool_close_begin(pool, conn, TSP_CLOSE_FAILOVER, now_ms, batch);
        } else if (conn->recycle_at_ms != 0 && now_ms >= conn->recycle_at_ms) {
            tsp_pool_close_begin(pool, conn, TSP_CLOSE_RECYCLE, now_ms, batch);
        } else if (o->idle_timeout_ms > 0 && now_ms - conn->state_ms >= o->idle_timeout_ms &&
                   open > o->min_idle) {
            tsp_pool_close_begin(pool, conn, TSP_CLOSE_IDLE, now_ms, batch);
        }
    }
}

/* Mark leases held longer than leak_ms (once each). Lock held. Returns how many. */
static int collect_leaks(struct tsp_pool *pool, int64_t now_ms, struct leak_report *out)
{
    struct tsp_pool_conn *conn = NULL;
    int n = 0;

    if (pool->opts.leak_ms <= 0) {
        return 0;
    }
    for (conn = pool->lists[TSP_POOL_CONN_IN_USE].head; conn != NULL && n < LEAKS_PER_TICK;
         conn = conn->next) {
        if (conn->leak_reported || now_ms - conn->state_ms < pool->opts.leak_ms) {
            continue;
        }
        conn->leak_reported = true;
        pool->counters.leaks_detected++;
        out[n].id = conn->id;
        memcpy(out[n].label, conn->holder, sizeof(out[n].label));
        out[n].held_ms = now_ms - conn->state_ms;
        out[n].backend_pid = conn->backend_pid;
        n++;
    }
    return n;
}

static void log_leaks(const struct leak_report *leaks, int n)
{
    for (int i = 0; i < n; i++) {
        struct tsp_log_field fields[] = {{.key = "held_ms", .num = leaks[i].held_ms},
                                         {.key = "backend_pid", .num = leaks[i].backend_pid}};
        struct tsp_log_ctx ctx = {.event = "pool.leak",
                                  .conn_id = leaks[i].id,
                                  .label = leaks[i].label,
                                  .fields = fields,
                                  .nfields = 2};
        TSP_LOG_WARN(&ctx, "connection %lld held by %s for %lld ms (backend pid %d)", leaks[i].id,
                     leaks[i].label, (long long)leaks[i].held_ms, leaks[i].backend_pid);
    }
}

static void health_record(struct tsp_pool *pool, bool ok, double latency_ms,
                          const struct tsp_error *err)
{
    struct tsp_pool_health *h = &pool->health;

    if (ok && pool->cred_refused.code != TSP_OK) {
        /* the server answers the connections we have, but refuses the new credentials */
        ok = false;
        err = &pool->cred_refused;
    }
    h->checked = true;
    h->ok = ok;
    h->checked_at_ms = tsp_clock_real_ms();
    if (ok) {
        h->ok_at_ms = tsp_clock_mono_ms();
        h->ever_ok = true;
        h->misconfigured = false;
        h->latency_ms = latency_ms;
        h->detail[0] = '\0';
        h->sqlstate[0] = '\0';
    } else {
        /* the server answered but refused us: not "down" (internal_ping's distinction) */
        h->misconfigured = err->code == TSP_DB_ERROR || err->code == TSP_INVALID;
        snprintf(h->detail, sizeof(h->detail), "%.*s", (int)sizeof(h->detail) - 1, err->detail);
        snprintf(h->sqlstate, sizeof(h->sqlstate), "%.5s", err->sqlstate);
    }
}

/* Open one connection for the pool (min idle fill or health check). Lock held on entry and
 * on return; the connect runs without it. On success the connection is idle (or closed when
 * the pool has no use for it) and *latency_ms is the connect time. */
static enum tsp_code open_one(struct tsp_pool *pool, double *latency_ms, struct tsp_error *err)
{
    struct tsp_pool_conn *conn = tsp_pool_reserve(pool, tsp_clock_coarse_ms());
    struct tsp_pool_conn *batch = NULL;
    void *handle = NULL;
    int pid = 0;
    char identity[sizeof(pool->identity)];
    int64_t t0 = 0;
    int open = 0;
    enum tsp_code code = TSP_OK;

    if (conn == NULL) {
        return tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
    }
    pthread_mutex_unlock(&pool->lock);
    t0 = tsp_clock_mono_ns();
    code = pool->connector.connect(pool->connector.ctx, &handle, err);
    *latency_ms = (double)(tsp_clock_mono_ns() - t0) / 1e6;
    if (code == TSP_OK) {
        pid = pool->connector.backend_pid(pool->connector.ctx, handle);
        tsp_pool_read_identity(pool, handle, identity, sizeof(identity));
    }
    pthread_mutex_lock(&pool->lock);
    if (code != TSP_OK) {
        tsp_pool_connect_failed(pool, conn, tsp_clock_coarse_ms());
        return code;
    }
    tsp_pool_connected(pool, conn, handle, pid, TSP_POOL_CONN_IN_USE, tsp_clock_coarse_ms());
    tsp_pool_note_identity(pool, conn, identity);
    open = pool->lists[TSP_POOL_CONN_IDLE].count + pool->lists[TSP_POOL_CONN_IN_USE].count +
           pool->lists[TSP_POOL_CONN_CONNECTING].count;
    if (pool->opts.mode == TSP_POOL_MODE_DIRECT) {
        tsp_pool_close_begin(pool, conn, TSP_CLOSE_DIRECT, tsp_clock_coarse_ms(), &batch);
    } else if (pool->shutting_down) {
        tsp_pool_close_begin(pool, conn, TSP_CLOSE_SHUTDOWN, tsp_clock_coarse_ms(), &batch);
    } else if (open > pool->opts.size && pool->wait_head == NULL) {
        tsp_pool_close_begin(pool, conn, TSP_CLOSE_OVERFLOW, tsp_clock_coarse_ms(), &batch);
    } else {
        tsp_pool_release(pool, conn, TSP_CONN_IDLE, tsp_clock_coarse_ms(), &batch);
    }
    if (batch != NULL) {
        pthread_mutex_unlock(&pool->lock);
        tsp_pool_close_batch(pool, batch, true);
        pthread_mutex_lock(&pool->lock);
    }
    return TSP_OK;
}

/* Keep min_idle connections open. Lock held. */
static void fill_min_idle(struct tsp_pool *pool, struct maint_state *ms, int64_t now_ms)
{
    struct tsp_error err;
    double latency_ms = 0.0;
    struct tsp_log_ctx ctx = {.event = "pool.min_idle_fill", .conn_id = -1};
    int open = 0;

    if (pool->opts.mode != TSP_POOL_MODE_POOLED || now_ms < ms->next_fill_ms) {
        return;
    }
    for (;;) {
        open = pool->lists[TSP_POOL_CONN_IDLE].count + pool->lists[TSP_POOL_CONN_IN_USE].count +
               pool->lists[TSP_POOL_CONN_CONNECTING].count;
        if (pool->maint_stop || pool->shutting_down || open >= pool->opts.min_idle ||
            tsp_pool_total(pool) >= pool->opts.size + pool->opts.max_overflow) {
            break;
        }
        tsp_error_init(&err);
        if (open_one(pool, &latency_ms, &err) != TSP_OK) {
            health_record(pool, false, 0.0, &err);
            ms->fill_backoff_ms = ms->fill_backoff_ms == 0 ? pool->opts.maintenance_interval_ms
                                                           : ms->fill_backoff_ms * 2;
            if (ms->fill_backoff_ms > FILL_BACKOFF_MAX_MS) {
                ms->fill_backoff_ms = FILL_BACKOFF_MAX_MS;
            }
            ms->next_fill_ms = tsp_clock_coarse_ms() + ms->fill_backoff_ms;
            pthread_mutex_unlock(&pool->lock);
            TSP_LOG_WARN(&ctx, "cannot open a warm connection (retry in %ld ms): %s",
                         ms->fill_backoff_ms, err.detail);
            pthread_mutex_lock(&pool->lock);
            return;
        }
        ms->fill_backoff_ms = 0;
    }
}

/* Check the database: ping an idle connection, else open one if there is room, else trust a
 * recent successful borrow. Lock held on entry and on return, never across I/O. */
static void health_check(struct tsp_pool *pool, struct maint_state *ms, int64_t now_ms)
{
    struct tsp_pool_conn *conn = pool->lists[TSP_POOL_CONN_IDLE].head;
    struct tsp_pool_conn *batch = NULL;
    struct tsp_error err;
    enum tsp_code code = TSP_OK;
    int64_t t0 = 0;
    double latency_ms = 0.0;

    tsp_error_init(&err);
    if (conn != NULL && pool->opts.mode == TSP_POOL_MODE_POOLED) {
        tsp_pool_change_state(pool, conn, TSP_POOL_CONN_IN_USE, now_ms, false);
        snprintf(conn->holder, sizeof(conn->holder), "pool.health");
        pthread_mutex_unlock(&pool->lock);
        t0 = tsp_clock_mono_ns();
        code = pool->connector.ping(pool->connector.ctx, conn->handle, pool->opts.ping_timeout_ms,
                                    &err);
        latency_ms = (double)(tsp_clock_mono_ns() - t0) / 1e6;
        pthread_mutex_lock(&pool->lock);
        if (code == TSP_OK) {
            conn->suspect = false;
        }
        tsp_pool_release(pool, conn, code == TSP_OK ? TSP_CONN_IDLE : TSP_CONN_BAD,
                         tsp_clock_coarse_ms(), &batch);
        if (batch != NULL) {
            pthread_mutex_unlock(&pool->lock);
            tsp_pool_close_batch(pool, batch, true);
            pthread_mutex_lock(&pool->lock);
        }
        if (code == TSP_OK) {
            health_record(pool, true, latency_ms, &err);
            return;
        }
        /* a dead idle connection says little about the server: ask it directly */
        tsp_error_init(&err);
    }
    if (!pool->shutting_down && tsp_pool_total(pool) < pool->opts.size + pool->opts.max_overflow) {
        code = open_one(pool, &latency_ms, &err);
        health_record(pool, code == TSP_OK, latency_ms, &err);
        if (code == TSP_OK) {
            /* the server is back: fill the warm pool now rather than after the backoff */
            ms->fill_backoff_ms = 0;
            ms->next_fill_ms = 0;
        }
        return;
    }
    if (pool->last_borrow_ok_ms >= now_ms - pool->opts.health_interval_ms) {
        health_record(pool, true, pool->health.latency_ms, &err);
    }
}

static void log_stats(struct tsp_pool *pool, int64_t now_ms)
{
    struct tsp_pool_stats st;
    struct tsp_log_field fields[8];
    struct tsp_log_ctx ctx = {.event = "pool.stats", .conn_id = -1, .fields = fields};

    tsp_pool_stats_fill(pool, &st, now_ms);
    pthread_mutex_unlock(&pool->lock);
    fields[0] = (struct tsp_log_field){.key = "open", .num = st.open};
    fields[1] = (struct tsp_log_field){.key = "idle", .num = st.idle};
    fields[2] = (struct tsp_log_field){.key = "in_use", .num = st.in_use};
    fields[3] = (struct tsp_log_field){.key = "waiting", .num = st.waiting};
    fields[4] = (struct tsp_log_field){.key = "borrows", .num = (long long)st.borrows};
    fields[5] = (struct tsp_log_field){.key = "timeouts", .num = (long long)st.borrow_timeouts};
    fields[6] =
        (struct tsp_log_field){.key = "connect_failures", .num = (long long)st.connect_failures};
    fields[7] = (struct tsp_log_field){.key = "leaks", .num = (long long)st.leaks_detected};
    ctx.nfields = 8;
    TSP_LOG_INFO(&ctx, "pool: %d open, %d idle, %d in use, %d waiting", st.open, st.idle, st.in_use,
                 st.waiting);
    pthread_mutex_lock(&pool->lock);
}

/* Follow rotated credentials (connector rotate, without the lock): accepted ones soft-recycle
 * every connection (in-use ones close when returned, nothing is dropped), refused ones are
 * reported as misconfigured while the old ones keep serving. Lock held. */
static void rotate_credentials(struct tsp_pool *pool, struct maint_state *ms)
{
    struct tsp_log_ctx ctx = {.event = "pool.credentials", .conn_id = -1};
    struct tsp_error err;
    enum tsp_code code = TSP_OK;
    bool changed = false;
    bool was_refused = pool->cred_refused.code != TSP_OK;
    int marked = 0;

    if (pool->connector.rotate == NULL || pool->shutting_down) {
        return;
    }
    tsp_error_init(&err);
    pthread_mutex_unlock(&pool->lock);
    code = pool->connector.rotate(pool->connector.ctx, &changed, &err);
    pthread_mutex_lock(&pool->lock);
    if (code != TSP_OK) {
        pool->cred_refused = err;
        pool->cred_refused.code = TSP_DB_ERROR;
        health_record(pool, false, 0.0, &pool->cred_refused);
        return;
    }
    tsp_error_init(&pool->cred_refused);
    if (was_refused) {
        ms->next_health_ms = 0; /* report the recovery at once */
    }
    if (!changed || pool->opts.mode != TSP_POOL_MODE_POOLED) {
        return;
    }
    pthread_mutex_unlock(&pool->lock);
    marked = tsp_pool_recycle_all(pool);
    TSP_LOG_INFO(&ctx, "new database credentials: %d connection(s) recycled onto them", marked);
    pthread_mutex_lock(&pool->lock);
    ms->next_fill_ms = 0;
    ms->fill_backoff_ms = 0;
}

/* Run the periodic task of tsp_pool_set_task when it is due. Lock held on entry and on return,
 * released while the task runs (it may borrow from this pool). */
static void run_task(struct tsp_pool *pool, struct maint_state *ms)
{
    int64_t now_ms = 0;

    pthread_mutex_unlock(&pool->lock);
    pthread_mutex_lock(&pool->task_lock);
    now_ms = tsp_clock_mono_ms();
    if (pool->task_fn != ms->last_task) {
        ms->last_task = pool->task_fn;
        ms->next_task_ms = 0;
    }
    if (pool->task_fn != NULL && pool->task_interval_ms > 0 && now_ms >= ms->next_task_ms) {
        pool->task_fn(pool->task_ctx);
        ms->next_task_ms = now_ms + pool->task_interval_ms;
    }
    pthread_mutex_unlock(&pool->task_lock);
    pthread_mutex_lock(&pool->lock);
}

/* One pass of periodic work. Lock held on entry and on return. */
static void maint_tick(struct tsp_pool *pool, struct maint_state *ms)
{
    int64_t now_ms = tsp_clock_coarse_ms();
    struct tsp_pool_conn *batch = NULL;
    struct leak_report leaks[LEAKS_PER_TICK];
    int nleaks = 0;

    pool->health.heartbeat_ms = tsp_clock_mono_ms();
    collect_idle_expired(pool, now_ms, &batch);
    nleaks = collect_leaks(pool, now_ms, leaks);
    if (batch != NULL || nleaks > 0) {
        pthread_mutex_unlock(&pool->lock);
        tsp_pool_close_batch(pool, batch, true);
        log_leaks(leaks, nleaks);
        pthread_mutex_lock(&pool->lock);
    }
    rotate_credentials(pool, ms);
    fill_min_idle(pool, ms, now_ms);
    /* direct mode keeps nothing open, so there is no warm pool to wait for */
    pool->health.min_idle_filled =
        pool->opts.mode == TSP_POOL_MODE_DIRECT ||
        pool->lists[TSP_POOL_CONN_IDLE].count + pool->lists[TSP_POOL_CONN_IN_USE].count >=
            pool->opts.min_idle;
    if (!pool->maint_stop && pool->opts.health_interval_ms > 0 && now_ms >= ms->next_health_ms) {
        health_check(pool, ms, now_ms);
        ms->next_health_ms = now_ms + pool->opts.health_interval_ms;
    }
    pool->health.heartbeat_ms = tsp_clock_mono_ms();
    if (pool->opts.stats_log_interval_ms > 0 && now_ms >= ms->next_stats_ms) {
        if (ms->next_stats_ms != 0) {
            log_stats(pool, now_ms);
        }
        ms->next_stats_ms = now_ms + pool->opts.stats_log_interval_ms;
    }
    if (!pool->maint_stop && !pool->shutting_down) {
        run_task(pool, ms);
        pool->health.heartbeat_ms = tsp_clock_mono_ms();
    }
}

static void *maint_main(void *arg)
{
    struct tsp_pool *pool = arg;
    struct maint_state ms;
    struct timespec ts;
    int64_t wake_ns = 0;

    memset(&ms, 0, sizeof(ms));
    pthread_mutex_lock(&pool->lock);
    while (!pool->maint_stop) {
        maint_tick(pool, &ms);
        wake_ns = tsp_clock_mono_ns() + (int64_t)pool->opts.maintenance_interval_ms * 1000000;
        ts.tv_sec = (time_t)(wake_ns / 1000000000);
        ts.tv_nsec = (long)(wake_ns % 1000000000);
        while (!pool->maint_stop &&
               pthread_cond_timedwait(&pool->maint_wake, &pool->lock, &ts) != ETIMEDOUT) {
        }
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

void tsp_pool_set_task(struct tsp_pool *pool, void (*fn)(void *ctx), void *ctx, long interval_ms)
{
    if (pool == NULL) {
        return;
    }
    /* waits for a run in progress: after this returns the old task is never called again */
    pthread_mutex_lock(&pool->task_lock);
    pool->task_fn = interval_ms > 0 ? fn : NULL;
    pool->task_ctx = interval_ms > 0 ? ctx : NULL;
    pool->task_interval_ms = interval_ms;
    pthread_mutex_unlock(&pool->task_lock);
}

enum tsp_code tsp_pool_maint_start(struct tsp_pool *pool, struct tsp_error *err)
{
    int rc = pthread_create(&pool->maint_thread, NULL, maint_main, pool);

    if (rc != 0) {
        return tsp_error_set(err, TSP_INTERNAL, NULL, "cannot start the maintenance thread: %s",
                             strerror(rc));
    }
    pool->maint_started = true;
    return TSP_OK;
}
