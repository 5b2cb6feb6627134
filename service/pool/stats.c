/* pool/stats.c - consistent snapshots of the pool: counters and gauges, the acquire-wait
 * histogram and its quantiles, per-connection detail, slow operations per label, health.
 * SPDX-License-Identifier: MIT
 */
#include "pool_int.h"

#include <stdlib.h>
#include <string.h>

const double tsp_pool_wait_bucket_bounds_s[TSP_POOL_WAIT_BUCKETS] = {
    0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0};

static const char *const conn_state_names[] = {"connecting", "idle", "in_use", "closing"};

const char *tsp_pool_conn_state_name(enum tsp_pool_conn_state state)
{
    if ((int)state < 0 || state > TSP_POOL_CONN_CLOSING) {
        return "unknown";
    }
    return conn_state_names[state];
}

void tsp_pool_stats_borrow(struct tsp_pool *pool, uint64_t wait_ns, bool waited)
{
    double wait_s = (double)wait_ns / 1e9;
    int bucket = 0;

    pool->counters.borrows++;
    if (waited) {
        pool->counters.waited_borrows++;
    }
    pool->counters.wait_ns_total += wait_ns;
    while (bucket < TSP_POOL_WAIT_BUCKETS && wait_s > tsp_pool_wait_bucket_bounds_s[bucket]) {
        bucket++;
    }
    pool->counters.wait_buckets[bucket]++;
}

void tsp_pool_stats_slow(struct tsp_pool *pool, const char *label)
{
    int i = 0;

    pool->counters.slow_operations++;
    for (i = 0; i < pool->slow_used; i++) {
        if (strcmp(pool->slow[i].label, label) == 0) {
            pool->slow[i].count++;
            return;
        }
    }
    if (pool->slow_used == TSP_POOL_SLOW_LABELS) {
        pool->slow_other++;
        return;
    }
    i = pool->slow_used++;
    strncpy(pool->slow[i].label, label, TSP_POOL_LABEL_MAX - 1);
    pool->slow[i].label[TSP_POOL_LABEL_MAX - 1] = '\0';
    pool->slow[i].count = 1;
}

void tsp_pool_stats_fill(const struct tsp_pool *pool, struct tsp_pool_stats *out, int64_t now_ms)
{
    const struct tsp_pool_options *o = &pool->opts;
    int in_use = pool->lists[TSP_POOL_CONN_IN_USE].count;

    *out = pool->counters;
    out->mode = o->mode;
    out->size = o->size;
    out->max_overflow = o->max_overflow;
    out->min_idle = o->min_idle;
    out->timeout_ms = o->timeout_ms;
    out->recycle_ms = o->recycle_ms;
    out->preping_idle_ms = o->preping_idle_ms;
    out->idle_timeout_ms = o->idle_timeout_ms;
    out->leak_ms = o->leak_ms;
    out->slow_ms = o->slow_ms;
    out->idle = pool->lists[TSP_POOL_CONN_IDLE].count;
    out->in_use = in_use;
    out->open = out->idle + in_use;
    out->in_use_overflow = in_use > o->size ? in_use - o->size : 0;
    out->connecting = pool->lists[TSP_POOL_CONN_CONNECTING].count;
    out->waiting = pool->waiting;
    out->paused = pool->paused;
    out->shutting_down = pool->shutting_down;
    out->wait_sum_s = (double)pool->counters.wait_ns_total / 1e9;
    out->started_at_ms = pool->started_wall_ms;
    out->uptime_s = (double)(now_ms - pool->started_ms) / 1000.0;
}

void tsp_pool_stats(struct tsp_pool *pool, struct tsp_pool_stats *out)
{
    pthread_mutex_lock(&pool->lock);
    tsp_pool_stats_fill(pool, out, tsp_clock_coarse_ms());
    pthread_mutex_unlock(&pool->lock);
}

double tsp_pool_wait_quantile(const struct tsp_pool_stats *stats, double q)
{
    uint64_t total = 0;
    uint64_t before = 0;
    double rank = 0.0;
    double lower = 0.0;
    double upper = 0.0;
    int i = 0;

    for (i = 0; i <= TSP_POOL_WAIT_BUCKETS; i++) {
        total += stats->wait_buckets[i];
    }
    if (total == 0) {
        return 0.0;
    }
    q = q < 0.0 ? 0.0 : (q > 1.0 ? 1.0 : q);
    rank = q * (double)total;
    for (i = 0; i <= TSP_POOL_WAIT_BUCKETS; i++) {
        if (stats->wait_buckets[i] > 0 && (double)(before + stats->wait_buckets[i]) >= rank) {
            break;
        }
        before += stats->wait_buckets[i];
    }
    lower = i == 0 ? 0.0 : tsp_pool_wait_bucket_bounds_s[i - 1];
    if (i >= TSP_POOL_WAIT_BUCKETS) {
        /* the +Inf bucket has no upper bound: answer its lower bound (as Prometheus does) */
        return tsp_pool_wait_bucket_bounds_s[TSP_POOL_WAIT_BUCKETS - 1];
    }
    upper = tsp_pool_wait_bucket_bounds_s[i];
    return lower + (upper - lower) * ((rank - (double)before) / (double)stats->wait_buckets[i]);
}

static void conn_info(const struct tsp_pool_conn *c, int64_t now_ms,
                      struct tsp_pool_conn_info *info)
{
    memset(info, 0, sizeof(*info));
    info->id = c->id;
    info->state = c->state;
    info->age_s = (double)(now_ms - c->created_ms) / 1000.0;
    info->idle_s = c->state == TSP_POOL_CONN_IDLE ? (double)(now_ms - c->state_ms) / 1000.0 : 0.0;
    info->uses = c->uses;
    info->backend_pid = c->backend_pid;
    info->overflow = c->overflow;
    if (c->state == TSP_POOL_CONN_IN_USE) {
        memcpy(info->holder, c->holder, sizeof(info->holder));
        info->held_s = (double)(now_ms - c->state_ms) / 1000.0;
    }
}

enum tsp_code tsp_pool_conn_list(struct tsp_pool *pool, struct tsp_pool_conn_info **out,
                                 size_t *count, struct tsp_error *err)
{
    struct tsp_pool_conn_info *infos = NULL;
    const struct tsp_pool_conn *c = NULL;
    int64_t now_ms = tsp_clock_coarse_ms();
    size_t n = 0;
    size_t total = 0;
    enum tsp_code code = TSP_OK;
    /* the order a reader expects: working ones first */
    static const enum tsp_pool_conn_state order[] = {
        TSP_POOL_CONN_IN_USE, TSP_POOL_CONN_IDLE, TSP_POOL_CONN_CONNECTING, TSP_POOL_CONN_CLOSING};

    pthread_mutex_lock(&pool->lock);
    total = (size_t)tsp_pool_total(pool);
    if (total > 0) {
        infos = calloc(total, sizeof(*infos));
        if (infos == NULL) {
            code = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory listing connections");
            goto done;
        }
    }
    for (size_t s = 0; s < sizeof(order) / sizeof(order[0]); s++) {
        for (c = pool->lists[order[s]].head; c != NULL; c = c->next) {
            conn_info(c, now_ms, &infos[n++]);
        }
    }
    *out = infos;
    *count = n;
    infos = NULL;
done:
    pthread_mutex_unlock(&pool->lock);
    free(infos);
    return code;
}

size_t tsp_pool_slow_by_label(struct tsp_pool *pool, struct tsp_pool_label_count *out, size_t max)
{
    size_t n = 0;

    pthread_mutex_lock(&pool->lock);
    for (int i = 0; i < pool->slow_used && n < max; i++) {
        memcpy(out[n].label, pool->slow[i].label, sizeof(out[n].label));
        out[n].count = pool->slow[i].count;
        n++;
    }
    if (pool->slow_other > 0 && n < max) {
        strcpy(out[n].label, "other");
        out[n].count = pool->slow_other;
        n++;
    }
    pthread_mutex_unlock(&pool->lock);
    return n;
}

void tsp_pool_health(struct tsp_pool *pool, struct tsp_pool_health *out)
{
    pthread_mutex_lock(&pool->lock);
    *out = pool->health;
    out->interval_ms = pool->opts.health_interval_ms;
    pthread_mutex_unlock(&pool->lock);
}
