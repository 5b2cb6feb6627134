/* pool/control.c - pool lifecycle (create, free), reports from lease holders (failover, slow
 * operations) and the control operations: pause, resume, recycle-all, resize, shutdown.
 * SPDX-License-Identifier: MIT
 */
#include "pool_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tspool/log.h"

/* ---- create / free ------------------------------------------------------------------------ */

static enum tsp_code check_options(const struct tsp_pool_options *o, struct tsp_error *err)
{
    if (o->size < 1) {
        return tsp_error_set(err, TSP_INVALID, "size", "pool size must be at least 1, got %d",
                             o->size);
    }
    if (o->max_overflow < 0) {
        return tsp_error_set(err, TSP_INVALID, "max_overflow",
                             "max_overflow must be 0 or more, got %d", o->max_overflow);
    }
    if (o->min_idle < 0 || o->min_idle > o->size) {
        return tsp_error_set(err, TSP_INVALID, "min_idle",
                             "min_idle must be between 0 and size (%d), got %d", o->size,
                             o->min_idle);
    }
    if (o->timeout_ms < 1) {
        return tsp_error_set(err, TSP_INVALID, "timeout_ms",
                             "timeout_ms must be at least 1, got %ld", o->timeout_ms);
    }
    return TSP_OK;
}

enum tsp_code tsp_pool_new(const struct tsp_pool_options *opts,
                           const struct tsp_connector *connector, struct tsp_pool **out,
                           struct tsp_error *err)
{
    struct tsp_pool *pool = NULL;
    enum tsp_code code = check_options(opts, err);
    bool lock_ok = false, attr_ok = false, drained_ok = false, wake_ok = false;

    if (code != TSP_OK) {
        goto done;
    }
    pool = calloc(1, sizeof(*pool));
    if (pool == NULL) {
        code = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory creating the pool");
        goto done;
    }
    pool->opts = *opts;
    if (pool->opts.maintenance_interval_ms <= 0) {
        pool->opts.maintenance_interval_ms = 250;
    }
    if (pool->opts.health_interval_ms == 0) {
        pool->opts.health_interval_ms = 5000;
    }
    pool->connector = *connector;
    pool->started_ms = tsp_clock_coarse_ms();
    pool->started_wall_ms = tsp_clock_real_ms();
    pool->rng = (uint32_t)tsp_clock_mono_ns() | 1u;
    pool->health.heartbeat_ms = tsp_clock_mono_ms();
    lock_ok = pthread_mutex_init(&pool->lock, NULL) == 0;
    if (lock_ok && pthread_mutex_init(&pool->task_lock, NULL) != 0) {
        pthread_mutex_destroy(&pool->lock);
        lock_ok = false;
    }
    attr_ok = lock_ok && pthread_condattr_init(&pool->cond_attr) == 0;
    if (attr_ok && pthread_condattr_setclock(&pool->cond_attr, CLOCK_MONOTONIC) != 0) {
        code = tsp_error_set(err, TSP_INTERNAL, NULL, "CLOCK_MONOTONIC condition variables");
        goto done;
    }
    drained_ok = attr_ok && pthread_cond_init(&pool->drained, &pool->cond_attr) == 0;
    wake_ok = drained_ok && pthread_cond_init(&pool->maint_wake, &pool->cond_attr) == 0;
    if (!wake_ok) {
        code = tsp_error_set(err, TSP_INTERNAL, NULL, "cannot initialise pool locks");
        goto done;
    }
    code = tsp_pool_maint_start(pool, err);
    if (code != TSP_OK) {
        goto done;
    }
    *out = pool;
    pool = NULL;
done:
    if (pool != NULL) {
        if (drained_ok) {
            pthread_cond_destroy(&pool->drained);
        }
        if (wake_ok) {
            pthread_cond_destroy(&pool->maint_wake);
        }
        if (attr_ok) {
            pthread_condattr_destroy(&pool->cond_attr);
        }
        if (lock_ok) {
            pthread_mutex_destroy(&pool->task_lock);
            pthread_mutex_destroy(&pool->lock);
        }
        free(pool);
    }
    if (code != TSP_OK && connector->release != NULL) {
        connector->release(connector->ctx);
    }
    return code;
}

void tsp_pool_free(struct tsp_pool *pool)
{
    struct tsp_pool_conn *conn = NULL;

    if (pool == NULL) {
        return;
    }
    (void)tsp_pool_shutdown(pool, 0);
    if (pool->maint_started) {
        pthread_join(pool->maint_thread, NULL);
    }
    /* the contract says every lease is back; anything left is released without ceremony */
    for (int s = 0; s <= TSP_POOL_CONN_CLOSING; s++) {
        while ((conn = pool->lists[s].head) != NULL) {
            if (conn->handle != NULL) {
                pool->connector.close(pool->connector.ctx, conn->handle);
            }
            tsp_pool_conn_destroy(pool, conn);
        }
    }
    pthread_cond_destroy(&pool->drained);
    pthread_cond_destroy(&pool->maint_wake);
    pthread_condattr_destroy(&pool->cond_attr);
    pthread_mutex_destroy(&pool->task_lock);
    pthread_mutex_destroy(&pool->lock);
    if (pool->connector.release != NULL) {
        pool->connector.release(pool->connector.ctx);
    }
    free(pool);
}

/* Class 08 connection exceptions, 57P01-57P03 (a terminated or shut down session) and a
 * statement past its deadline (57014, reported with the session still busy): this session is
 * finished, the others may be fine. */
static bool is_session_failure(const char *s)
{
    if (s == NULL || strlen(s) != 5) {
        return false;
    }
    return strncmp(s, "08", 2) == 0 || strcmp(s, "57P01") == 0 || strcmp(s, "57P02") == 0 ||
           strcmp(s, "57P03") == 0 || strcmp(s, "57014") == 0;
}

/* Every other open connection must pass a ping before it is lent again. Lock held. */
static void mark_suspect(struct tsp_pool *pool, const struct tsp_pool_conn *failed)
{
    struct tsp_pool_conn *c = NULL;

    for (c = pool->lists[TSP_POOL_CONN_IDLE].head; c != NULL; c = c->next) {
        c->suspect = true;
    }
    for (c = pool->lists[TSP_POOL_CONN_IN_USE].head; c != NULL; c = c->next) {
        if (c != failed) {
            c->suspect = true;
        }
    }
}

void tsp_lease_report_error(struct tsp_lease *lease, const char *sqlstate)
{
    struct tsp_pool *pool = lease->pool;
    struct tsp_pool_conn *conn = lease->conn;
    bool invalidated = false;
    struct tsp_log_field fields[] = {{.key = "sqlstate", .str = sqlstate}};
    struct tsp_log_ctx ctx = {.event = "pool.failover",
                              .conn_id = conn->id,
                              .label = conn->holder,
                              .fields = fields,
                              .nfields = 1};

    bool failover = sqlstate != NULL && strcmp(sqlstate, "25006") == 0;

    if (!failover && !is_session_failure(sqlstate)) {
        return;
    }
    pthread_mutex_lock(&pool->lock);
    conn->doomed = true;
    conn->close_reason = failover ? TSP_CLOSE_FAILOVER : TSP_CLOSE_BROKEN;
    /* one broken session (pg_terminate_backend, a statement past its deadline) closes only
     * itself: invalidating every connection would turn it into a reconnect storm. A read-only
     * primary is a failover. A report from an already invalidated connection teaches nothing
     * new: without this check every stale connection would invalidate the fresh ones too */
    if (!failover) {
        /* whatever killed this session (a restart, a mass pg_terminate_backend) may have killed
         * its siblings too: each is pinged before it is lent again, and only the dead ones go */
        mark_suspect(pool, conn);
    }
    if (failover && conn->generation == pool->generation) {
        pool->generation++;
        pool->counters.failover_invalidations++;
        invalidated = true;
    }
    pthread_mutex_unlock(&pool->lock);
    if (invalidated) {
        TSP_LOG_WARN(&ctx, "SQLSTATE %s: invalidating every connection opened before now",
                     sqlstate);
    }
}

void tsp_lease_report_duration(struct tsp_lease *lease, const char *operation, double duration_ms)
{
    struct tsp_pool *pool = lease->pool;
    struct tsp_pool_conn *conn = lease->conn;
    struct tsp_log_field fields[] = {
        {.key = "operation", .str = operation != NULL ? operation : ""},
        {.key = "duration_ms", .num = (long long)duration_ms}};
    struct tsp_log_ctx ctx = {.event = "pool.slow_query",
                              .conn_id = conn->id,
                              .label = conn->holder,
                              .fields = fields,
                              .nfields = 2};

    if (pool->opts.slow_ms <= 0 || duration_ms <= (double)pool->opts.slow_ms) {
        return;
    }
    pthread_mutex_lock(&pool->lock);
    tsp_pool_stats_slow(pool, conn->holder);
    pthread_mutex_unlock(&pool->lock);
    TSP_LOG_WARN(&ctx, "slow operation %s took %.1f ms (limit %ld ms)",
                 operation != NULL ? operation : conn->holder, duration_ms, pool->opts.slow_ms);
}

/* ---- control ------------------------------------------------------------------------------ */

void tsp_pool_pause(struct tsp_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    pool->paused = true;
    pthread_mutex_unlock(&pool->lock);
}

void tsp_pool_resume(struct tsp_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    pool->paused = false;
    tsp_pool_dispatch(pool, tsp_clock_coarse_ms());
    pthread_mutex_unlock(&pool->lock);
}

int tsp_pool_recycle_all(struct tsp_pool *pool)
{
    struct tsp_pool_conn *conn = NULL;
    struct tsp_pool_conn *batch = NULL;
    int64_t now_ms = tsp_clock_coarse_ms();
    int marked = 0;

    pthread_mutex_lock(&pool->lock);
    for (conn = pool->lists[TSP_POOL_CONN_IN_USE].head; conn != NULL; conn = conn->next) {
        if (!conn->doomed) {
            conn->doomed = true;
            conn->close_reason = TSP_CLOSE_RECYCLE;
            marked++;
        }
    }
    for (conn = pool->lists[TSP_POOL_CONN_CONNECTING].head; conn != NULL; conn = conn->next) {
        if (!conn->doomed) {
            conn->doomed = true;
            conn->close_reason = TSP_CLOSE_RECYCLE;
            marked++;
        }
    }
    while ((conn = pool->lists[TSP_POOL_CONN_IDLE].head) != NULL) {
        tsp_pool_close_begin(pool, conn, TSP_CLOSE_RECYCLE, now_ms, &batch);
        marked++;
    }
    pthread_mutex_unlock(&pool->lock);
    tsp_pool_close_batch(pool, batch, true);
    return marked;
}

enum tsp_code tsp_pool_resize(struct tsp_pool *pool, int size, int max_overflow, long timeout_ms,
                              struct tsp_error *err)
{
    struct tsp_pool_conn *batch = NULL;
    struct tsp_pool_conn *conn = NULL;
    int64_t now_ms = tsp_clock_coarse_ms();
    enum tsp_code code = TSP_OK;

    pthread_mutex_lock(&pool->lock);
    if (size == 0 || (size > 0 && size < pool->opts.min_idle)) {
        code = tsp_error_set(err, TSP_INVALID, "size",
                             "size must be at least 1 and at least min_idle (%d), got %d",
                             pool->opts.min_idle, size);
        goto done;
    }
    if (timeout_ms == 0) {
        code = tsp_error_set(err, TSP_INVALID, "timeout_ms", "timeout_ms must be at least 1");
        goto done;
    }
    if (size > 0) {
        pool->opts.size = size;
    }
    if (max_overflow >= 0) {
        pool->opts.max_overflow = max_overflow;
    }
    if (timeout_ms > 0) {
        pool->opts.timeout_ms = timeout_ms;
    }
    /* surplus idle connections go now (oldest first); borrowed ones are closed on return by
     * the overflow rule */
    while (tsp_pool_open_count(pool) > pool->opts.size &&
           (conn = pool->lists[TSP_POOL_CONN_IDLE].tail) != NULL) {
        tsp_pool_close_begin(pool, conn, TSP_CLOSE_RESIZE, now_ms, &batch);
    }
    tsp_pool_dispatch(pool, now_ms);
done:
    pthread_mutex_unlock(&pool->lock);
    tsp_pool_close_batch(pool, batch, true);
    return code;
}

int tsp_pool_shutdown(struct tsp_pool *pool, long deadline_ms)
{
    struct tsp_pool_conn *batch = NULL;
    struct tsp_pool_conn *conn = NULL;
    int64_t now_ms = tsp_clock_coarse_ms();
    struct timespec ts = tsp_clock_timespec(tsp_clock_mono_ns() + (int64_t)deadline_ms * 1000000);
    int out = 0;
    int rc = 0;

    pthread_mutex_lock(&pool->lock);
    pool->shutting_down = true;
    pool->maint_stop = true;
    pthread_cond_signal(&pool->maint_wake);
    tsp_pool_wake_all_shutdown(pool);
    while (rc != ETIMEDOUT &&
           pool->lists[TSP_POOL_CONN_IN_USE].count + pool->lists[TSP_POOL_CONN_CONNECTING].count >
               0) {
        rc = pthread_cond_timedwait(&pool->drained, &pool->lock, &ts);
    }
    while ((conn = pool->lists[TSP_POOL_CONN_IDLE].head) != NULL) {
        tsp_pool_close_begin(pool, conn, TSP_CLOSE_SHUTDOWN, now_ms, &batch);
    }
    out = pool->lists[TSP_POOL_CONN_IN_USE].count + pool->lists[TSP_POOL_CONN_CONNECTING].count;
    pthread_mutex_unlock(&pool->lock);
    tsp_pool_close_batch(pool, batch, false);
    return out;
}
