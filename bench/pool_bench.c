/* pool_bench.c - borrow+return pairs per second, ns per pair and acquire-wait p50/p99 of the
 * pool, uncontended and contended, against a bare mutex+condvar hand-off in the same run.
 * SPDX-License-Identifier: MIT
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tspool/log.h"
#include "tspool/pool.h"

#define POOL_SIZE    4
#define SUB_BUCKETS  16 /* per power of two: about 6% resolution */
#define HIST_BUCKETS (64 * SUB_BUCKETS)

/* Log-linear histogram of nanoseconds, one per thread (no sharing while measuring). */
struct hist {
    uint64_t counts[HIST_BUCKETS];
    uint64_t total;
};

static int hist_index(uint64_t ns)
{
    int exp = 0;
    uint64_t v = ns;

    if (ns < SUB_BUCKETS) {
        return (int)ns;
    }
    while (v >= 2 * SUB_BUCKETS) {
        v >>= 1;
        exp++;
    }
    return (exp + 1) * SUB_BUCKETS + (int)(v - SUB_BUCKETS);
}

/* The lower bound of bucket i (its representative value). */
static uint64_t hist_value(int i)
{
    int exp = i / SUB_BUCKETS;
    uint64_t sub = (uint64_t)(i % SUB_BUCKETS);

    if (exp == 0) {
        return sub;
    }
    return (SUB_BUCKETS + sub) << (exp - 1);
}

static void hist_add(struct hist *h, uint64_t ns)
{
    h->counts[hist_index(ns)]++;
    h->total++;
}

static uint64_t hist_quantile(const struct hist *h, double q)
{
    uint64_t rank = (uint64_t)(q * (double)h->total);
    uint64_t seen = 0;

    for (int i = 0; i < HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen > rank) {
            return hist_value(i);
        }
    }
    return 0;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- a connector that does no I/O ---------------------------------------------------- */

static int dummy_handles[256];
static atomic_int next_handle;

static enum tsp_code null_connect(void *ctx, void **conn_out, struct tsp_error *err)
{
    (void)ctx;
    (void)err;
    *conn_out = &dummy_handles[atomic_fetch_add(&next_handle, 1) % 256];
    return TSP_OK;
}

static enum tsp_code null_ping(void *ctx, void *conn, long timeout_ms, struct tsp_error *err)
{
    (void)ctx;
    (void)conn;
    (void)timeout_ms;
    (void)err;
    return TSP_OK;
}

static enum tsp_conn_status null_status(void *ctx, void *conn)
{
    (void)ctx;
    (void)conn;
    return TSP_CONN_IDLE;
}

static int null_pid(void *ctx, void *conn)
{
    (void)ctx;
    (void)conn;
    return 1;
}

static void null_close(void *ctx, void *conn)
{
    (void)ctx;
    (void)conn;
}

/* ---- the baseline: a bare mutex + condition variable hand-off of the same shape -------- */

/* A waiter of the FIFO baseline: its own condition variable, served in arrival order. */
struct fifo_waiter {
    struct fifo_waiter *next;
    pthread_cond_t cond;
    void *item;
};

/* barging: one shared condition variable; whoever locks first takes the item (no fairness).
 * fifo: a queue of waiters, each handed its item directly (the pool's shape, bare). */
struct baseline {
    bool fifo;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    void *items[POOL_SIZE];
    int avail;
    int waiters;
    struct fifo_waiter *head, *tail;
};

static void *baseline_borrow(struct baseline *b)
{
    void *item = NULL;
    struct fifo_waiter w;

    pthread_mutex_lock(&b->lock);
    if (b->fifo && (b->avail == 0 || b->head != NULL)) {
        w.next = NULL;
        w.item = NULL;
        pthread_cond_init(&w.cond, NULL);
        if (b->tail != NULL) {
            b->tail->next = &w;
        } else {
            b->head = &w;
        }
        b->tail = &w;
        while (w.item == NULL) {
            pthread_cond_wait(&w.cond, &b->lock);
        }
        pthread_cond_destroy(&w.cond);
        item = w.item;
    } else {
        while (b->avail == 0) {
            b->waiters++;
            pthread_cond_wait(&b->cond, &b->lock);
            b->waiters--;
        }
        item = b->items[--b->avail];
    }
    pthread_mutex_unlock(&b->lock);
    return item;
}

static void baseline_return(struct baseline *b, void *item)
{
    struct fifo_waiter *w = NULL;

    pthread_mutex_lock(&b->lock);
    if (b->fifo && b->head != NULL) {
        w = b->head;
        b->head = w->next;
        if (b->head == NULL) {
            b->tail = NULL;
        }
        w->item = item;
        pthread_cond_signal(&w->cond);
    } else {
        b->items[b->avail++] = item;
        if (b->waiters > 0) {
            pthread_cond_signal(&b->cond);
        }
    }
    pthread_mutex_unlock(&b->lock);
}

/* ---- runner ---------------------------------------------------------------------------- */

struct run {
    struct tsp_pool *pool;     /* NULL: baseline */
    struct baseline *baseline; /* NULL: pool */
    atomic_int *stop;
    atomic_int *ready;
    bool timed; /* measure each borrow from outside (costs two clock reads per pair) */
    uint64_t pairs;
    uint64_t errors;
    struct hist wait;
};

static void *run_main(void *arg)
{
    struct run *r = arg;
    struct tsp_lease *lease = NULL;
    struct tsp_error err;
    uint64_t t0 = 0;
    void *item = NULL;

    atomic_fetch_add(r->ready, 1);
    while (!atomic_load_explicit(r->stop, memory_order_relaxed)) {
        t0 = r->timed ? now_ns() : 0;
        if (r->pool != NULL) {
            if (tsp_pool_borrow(r->pool, "bench", 60000, &lease, &err) != TSP_OK) {
                r->errors++;
                continue;
            }
            if (r->timed) {
                hist_add(&r->wait, now_ns() - t0);
            }
            tsp_pool_return(lease);
        } else {
            item = baseline_borrow(r->baseline);
            if (r->timed) {
                hist_add(&r->wait, now_ns() - t0);
            }
            baseline_return(r->baseline, item);
        }
        r->pairs++;
    }
    return NULL;
}

struct result {
    double pairs_per_s;
    double ns_per_pair;
    uint64_t p50_ns, p99_ns;
    uint64_t errors;
    double fairness; /* fewest pairs of one thread / most pairs of one thread (1 = even) */
};

static struct result measure(struct tsp_pool *pool, struct baseline *baseline, int threads,
                             long duration_ms, bool timed)
{
    struct run *runs = calloc((size_t)threads, sizeof(*runs));
    pthread_t *tids = calloc((size_t)threads, sizeof(*tids));
    struct hist *all = calloc(1, sizeof(*all));
    atomic_int stop = 0;
    atomic_int ready = 0;
    struct timespec pause = {.tv_sec = duration_ms / 1000,
                             .tv_nsec = (duration_ms % 1000) * 1000000};
    struct result res;
    uint64_t t0 = 0, t1 = 0, pairs = 0, least = UINT64_MAX, most = 0;

    memset(&res, 0, sizeof(res));
    if (runs == NULL || tids == NULL || all == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (int i = 0; i < threads; i++) {
        runs[i].pool = pool;
        runs[i].baseline = baseline;
        runs[i].stop = &stop;
        runs[i].ready = &ready;
        runs[i].timed = timed;
        pthread_create(&tids[i], NULL, run_main, &runs[i]);
    }
    while (atomic_load(&ready) < threads) {
        sched_yield();
    }
    /* count only the steady state: reset after the threads are running */
    t0 = now_ns();
    nanosleep(&pause, NULL);
    atomic_store(&stop, 1);
    t1 = now_ns();
    for (int i = 0; i < threads; i++) {
        pthread_join(tids[i], NULL);
        pairs += runs[i].pairs;
        least = runs[i].pairs < least ? runs[i].pairs : least;
        most = runs[i].pairs > most ? runs[i].pairs : most;
        res.errors += runs[i].errors;
        for (int b = 0; b < HIST_BUCKETS; b++) {
            all->counts[b] += runs[i].wait.counts[b];
        }
        all->total += runs[i].wait.total;
    }
    res.pairs_per_s = (double)pairs / ((double)(t1 - t0) / 1e9);
    res.ns_per_pair = 1e9 / res.pairs_per_s;
    res.fairness = most > 0 ? (double)least / (double)most : 0.0;
    res.p50_ns = hist_quantile(all, 0.50);
    res.p99_ns = hist_quantile(all, 0.99);
    free(all);
    free(tids);
    free(runs);
    return res;
}

/* Throughput from an untimed run, wait percentiles from a timed one (same shape for all). */
static struct result bench(struct tsp_pool *pool, struct baseline *baseline, int threads,
                           long duration_ms)
{
    struct result thr = measure(pool, baseline, threads, duration_ms, false);
    struct result lat = measure(pool, baseline, threads, duration_ms / 2, true);
    struct result again;

    /* the machine may be shared: keep the best of three throughput runs */
    for (int i = 0; i < 2; i++) {
        again = measure(pool, baseline, threads, duration_ms, false);
        if (again.pairs_per_s > thr.pairs_per_s) {
            again.errors += thr.errors;
            thr = again;
        }
    }

    thr.p50_ns = lat.p50_ns;
    thr.p99_ns = lat.p99_ns;
    thr.errors += lat.errors;
    return thr;
}

static void print_row(int threads, const char *impl, const struct result *r, const char *ratio)
{
    printf("%-8d %-9s %14.0f %10.1f %9llu %10llu %9.3f %9s\n", threads, impl, r->pairs_per_s,
           r->ns_per_pair, (unsigned long long)r->p50_ns, (unsigned long long)r->p99_ns,
           r->fairness, ratio);
    if (r->errors > 0) {
        printf("  errors: %llu\n", (unsigned long long)r->errors);
    }
}

static void baseline_init(struct baseline *b, bool fifo)
{
    memset(b, 0, sizeof(*b));
    b->fifo = fifo;
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->cond, NULL);
    for (int i = 0; i < POOL_SIZE; i++) {
        b->items[b->avail++] = &dummy_handles[200 + i];
    }
}

static void baseline_fini(struct baseline *b)
{
    pthread_cond_destroy(&b->cond);
    pthread_mutex_destroy(&b->lock);
}

int main(int argc, char **argv)
{
    static const int thread_counts[] = {1, 2, 8, 64};
    long duration_ms = argc > 1 ? atol(argv[1]) : 1000;
    int only_threads = argc > 2 ? atoi(argv[2]) : 0;           /* run one thread count only */
    bool pool_only = argc > 3 && strcmp(argv[3], "pool") == 0; /* for profiling */
    struct result none;
    struct tsp_connector connector = {.connect = null_connect,
                                      .ping = null_ping,
                                      .status = null_status,
                                      .backend_pid = null_pid,
                                      .close = null_close};
    struct tsp_pool_options o;
    struct tsp_pool *pool = NULL;
    struct tsp_error err;
    struct baseline barging, fifo;
    struct result p, bb, bf;
    char ratio_b[32], ratio_f[32];

    tsp_log_setup(TSP_LOG_LEVEL_ERROR, TSP_LOG_FORMAT_TEXT, stderr);
    memset(&o, 0, sizeof(o));
    o.mode = TSP_POOL_MODE_POOLED;
    o.size = POOL_SIZE;
    o.max_overflow = 0;
    o.min_idle = POOL_SIZE;
    o.timeout_ms = 60000;
    o.preping_idle_ms = -1;
    o.health_interval_ms = -1;
    o.maintenance_interval_ms = 1000;
    tsp_error_init(&err);
    if (tsp_pool_new(&o, &connector, &pool, &err) != TSP_OK) {
        fprintf(stderr, "pool: %s\n", err.detail);
        return 1;
    }
    baseline_init(&barging, false);
    baseline_init(&fifo, true);
    printf("pool_bench: pool of %d, %ld ms per run (best of 3), no-I/O connector; waits in ns;\n"
           "slowdown = baseline pairs/s over pool pairs/s (barging first, then fifo)\n",
           POOL_SIZE, duration_ms);
    printf("%-8s %-9s %14s %10s %9s %10s %9s %9s\n", "threads", "impl", "pairs/s", "ns/pair",
           "p50 wait", "p99 wait", "fairness", "slowdown");
    for (size_t i = 0; i < sizeof(thread_counts) / sizeof(thread_counts[0]); i++) {
        int t = thread_counts[i];
        if (only_threads > 0 && t != only_threads) {
            continue;
        }
        memset(&none, 0, sizeof(none));
        bb = pool_only ? none : bench(NULL, &barging, t, duration_ms);
        bf = pool_only ? none : bench(NULL, &fifo, t, duration_ms);
        p = bench(pool, NULL, t, duration_ms);
        snprintf(ratio_b, sizeof(ratio_b), "%.2fx", bb.pairs_per_s / p.pairs_per_s);
        snprintf(ratio_f, sizeof(ratio_f), "%.2fx", bf.pairs_per_s / p.pairs_per_s);
        print_row(t, "barging", &bb, "");
        print_row(t, "fifo", &bf, "");
        print_row(t, "pool", &p, ratio_b);
        printf("%-8s %-9s %14s %10s %9s %10s %9s %9s\n", "", "", "", "", "", "", "vs fifo",
               ratio_f);
    }
    tsp_pool_free(pool);
    baseline_fini(&barging);
    baseline_fini(&fifo);
    return 0;
}
