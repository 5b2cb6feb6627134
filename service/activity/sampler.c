/* activity/sampler.c - the activity sampler's thread and lifecycle: a pg_stat_activity
 * sample every TSPOOL_ACTIVITY_INTERVAL_MS and a pg_stat_statements snapshot every
 * TSPOOL_STATEMENTS_INTERVAL_MS on one borrowed connection, published by reference.
 * SPDX-License-Identifier: MIT
 */
#include "activity_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tspool/clock.h"
#include "tspool/log.h"

#define SLOW_EVENTS_MAX 64

void tsp_activity_options_from_config(const struct tsp_config *cfg,
                                      struct tsp_activity_options *out)
{
    memset(out, 0, sizeof(*out));
    out->interval_ms = cfg->activity_interval_ms;
    out->statements_interval_ms = cfg->statements_interval_ms;
    out->slow_ms = cfg->db_slow_query_ms;
    out->query_text_max = cfg->query_text_max;
    out->application_name = cfg->db_application_name;
}

/* Log a failure when it starts or its reason changes, and the recovery: a database outage is
 * one line, not one every interval. Nothing while the pool shuts down. */
static void log_transition(const char *what, bool was_ok, const char *was_error, bool ok,
                           const struct tsp_error *err)
{
    char event[64];
    struct tsp_log_ctx ctx = {.event = event, .conn_id = -1};

    if (ok && !was_ok) {
        snprintf(event, sizeof(event), "activity.%s_recovered", what);
        TSP_LOG_INFO(&ctx, "%s works again", what);
    } else if (!ok && err->code != TSP_SHUTTING_DOWN &&
               (was_ok || strcmp(was_error, err->detail) != 0)) {
        snprintf(event, sizeof(event), "activity.%s_failed", what);
        TSP_LOG_WARN(&ctx, "%s failed: %s", what, err->detail);
    }
}

/* Write the slow-query lines of a new sample (the thread's own tracker). Returns how many
 * queries were newly logged as slow. */
static size_t slow_log(struct tsp_activity *act, const struct tsp_activity_sample *sample,
                       const struct tsp_activity_mark *marks, size_t nmarks)
{
    struct tsp_activity_slow_event events[SLOW_EVENTS_MAX];
    size_t nevents = tsp_activity_slow_update(&act->tracker, sample, act->opts.slow_ms, marks,
                                              nmarks, events, SLOW_EVENTS_MAX);
    size_t nslow = 0;

    for (size_t i = 0; i < nevents; i++) {
        tsp_activity_slow_log(&events[i]);
        nslow += events[i].ended ? 0 : 1;
    }
    tsp_activity_slow_fini(events, nevents);
    return nslow;
}

/* One pg_stat_activity sample: publish it, then write the slow-query log lines. */
static void sample_once(struct tsp_activity *act)
{
    struct tsp_lease *lease = NULL;
    struct tsp_activity_sample_box *box = NULL;
    struct tsp_activity_sample_box *old = NULL;
    struct tsp_activity_mark marks[TSP_ACTIVITY_MARKS_MAX];
    struct tsp_error err;
    char was_error[TSP_ERROR_DETAIL_MAX];
    bool was_ok = true;
    size_t nmarks = 0;
    size_t nslow = 0;
    enum tsp_code rc = TSP_OK;

    tsp_error_init(&err);
    rc = tsp_pool_borrow(act->pool, "activity.sample", TSP_ACTIVITY_BORROW_MS, &lease, &err);
    if (rc == TSP_OK) {
        rc = tsp_activity_sample_take(lease, &act->opts, &box, &err);
    }
    tsp_pool_return(lease);
    pthread_mutex_lock(&act->lock);
    was_ok = act->status.ok || act->status.attempted_at_ms == 0;
    snprintf(was_error, sizeof(was_error), "%s", act->status.error);
    act->status.attempted_at_ms = tsp_clock_real_ms();
    act->status.ok = rc == TSP_OK;
    if (rc == TSP_OK) {
        act->status.samples++;
        act->status.error[0] = '\0';
        old = act->latest;
        act->latest = box;
    } else {
        act->status.failures++;
        snprintf(act->status.error, sizeof(act->status.error), "%s", err.detail);
    }
    nmarks = act->nmarks < TSP_ACTIVITY_MARKS_MAX ? act->nmarks : TSP_ACTIVITY_MARKS_MAX;
    memcpy(marks, act->marks, nmarks * sizeof(marks[0]));
    pthread_mutex_unlock(&act->lock);
    if (old != NULL) {
        tsp_activity_sample_release(&old->sample); /* the sampler's own reference */
    }
    log_transition("sample", was_ok, was_error, rc == TSP_OK, &err);
    if (rc == TSP_OK) {
        /* box stays valid: this thread is the only one that drops the latest sample */
        nslow = slow_log(act, &box->sample, marks, nmarks);
    }
    if (nslow > 0) {
        pthread_mutex_lock(&act->lock);
        act->status.slow_queries += nslow;
        pthread_mutex_unlock(&act->lock);
    }
}

/* One pg_stat_statements snapshot with the deltas against the previous one. */
static void statements_once(struct tsp_activity *act)
{
    struct tsp_lease *lease = NULL;
    struct tsp_activity_statements_box *box = NULL;
    struct tsp_activity_statements_box *old = NULL;
    struct tsp_error err;
    char was_error[TSP_ERROR_DETAIL_MAX];
    bool was_ok = true;
    enum tsp_code rc = TSP_OK;

    tsp_error_init(&err);
    rc = tsp_pool_borrow(act->pool, "activity.statements", TSP_ACTIVITY_BORROW_MS, &lease, &err);
    if (rc == TSP_OK) {
        /* the previous snapshot is only ever replaced by this thread: safe to read unlocked */
        rc = tsp_activity_statements_take(
            lease, &act->opts, act->statements != NULL ? &act->statements->st : NULL, &box, &err);
    }
    tsp_pool_return(lease);
    pthread_mutex_lock(&act->lock);
    was_ok = act->statements_err.code == TSP_OK;
    snprintf(was_error, sizeof(was_error), "%s", act->statements_err.detail);
    if (rc == TSP_OK) {
        tsp_error_init(&act->statements_err);
        old = act->statements;
        act->statements = box;
    } else {
        act->statements_err = err;
    }
    pthread_mutex_unlock(&act->lock);
    if (old != NULL) {
        tsp_activity_statements_release(&old->st);
    }
    log_transition("statements", was_ok, was_error, rc == TSP_OK, &err);
}

static void *sampler_main(void *arg)
{
    struct tsp_activity *act = arg;
    int64_t next_sample = 0;
    int64_t next_statements = 0;
    int64_t now = 0;
    int64_t wake = 0;
    struct timespec ts;

    pthread_mutex_lock(&act->lock);
    while (!act->stop) {
        now = tsp_clock_mono_ms();
        if (act->opts.interval_ms > 0 && now >= next_sample) {
            pthread_mutex_unlock(&act->lock);
            sample_once(act);
            pthread_mutex_lock(&act->lock);
            next_sample = now + act->opts.interval_ms;
            continue;
        }
        if (act->opts.statements_interval_ms > 0 && now >= next_statements) {
            pthread_mutex_unlock(&act->lock);
            statements_once(act);
            pthread_mutex_lock(&act->lock);
            next_statements = now + act->opts.statements_interval_ms;
            continue;
        }
        wake = now + 60000; /* not reached: the thread runs only when one interval is set */
        if (act->opts.interval_ms > 0) {
            wake = next_sample;
        }
        if (act->opts.statements_interval_ms > 0 && next_statements < wake) {
            wake = next_statements;
        }
        ts = tsp_clock_timespec(wake * 1000000);
        (void)pthread_cond_timedwait(&act->wake, &act->lock, &ts);
    }
    pthread_mutex_unlock(&act->lock);
    return NULL;
}

enum tsp_code tsp_activity_new(struct tsp_pool *pool, const struct tsp_activity_options *opts,
                               struct tsp_activity **out, struct tsp_error *err)
{
    struct tsp_activity *act = NULL;
    pthread_condattr_t attr;
    bool attr_ok = false;
    bool lock_ok = false;
    bool cond_ok = false;
    int rc = 0;
    enum tsp_code code = TSP_OK;

    if (opts->interval_ms < 0 || opts->statements_interval_ms < 0) {
        code = tsp_error_set(err, TSP_INVALID, "interval_ms", "intervals must not be negative");
        goto done;
    }
    if (opts->query_text_max < 1) {
        code = tsp_error_set(err, TSP_INVALID, "query_text_max", "query_text_max must be >= 1");
        goto done;
    }
    act = calloc(1, sizeof(*act));
    if (act == NULL) {
        code = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory creating the sampler");
        goto done;
    }
    act->pool = pool;
    act->opts = *opts;
    snprintf(act->application_name, sizeof(act->application_name), "%s",
             opts->application_name != NULL ? opts->application_name : "");
    act->opts.application_name = act->application_name;
    act->status.enabled = opts->interval_ms > 0;
    tsp_error_init(&act->statements_err);
    attr_ok = pthread_condattr_init(&attr) == 0;
    lock_ok = attr_ok && pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
              pthread_mutex_init(&act->lock, NULL) == 0;
    cond_ok = lock_ok && pthread_cond_init(&act->wake, &attr) == 0;
    if (!cond_ok) {
        code = tsp_error_set(err, TSP_INTERNAL, NULL, "cannot create the sampler's lock");
        goto done;
    }
    if (opts->interval_ms > 0 || opts->statements_interval_ms > 0) {
        rc = pthread_create(&act->thread, NULL, sampler_main, act);
        if (rc != 0) {
            code = tsp_error_set(err, TSP_INTERNAL, NULL, "cannot start the sampler: %s",
                                 strerror(rc));
            goto done;
        }
        act->thread_started = true;
    }
    *out = act;
    act = NULL;
done:
    if (attr_ok) {
        pthread_condattr_destroy(&attr);
    }
    if (act != NULL) {
        /* a failure: nothing was started */
        if (cond_ok) {
            pthread_cond_destroy(&act->wake);
        }
        if (lock_ok) {
            pthread_mutex_destroy(&act->lock);
        }
        free(act);
    }
    return code;
}

void tsp_activity_free(struct tsp_activity *act)
{
    if (act == NULL) {
        return;
    }
    if (act->thread_started) {
        pthread_mutex_lock(&act->lock);
        act->stop = true;
        pthread_cond_broadcast(&act->wake);
        pthread_mutex_unlock(&act->lock);
        pthread_join(act->thread, NULL);
    }
    /* the sampler's own references; readers still holding one free the box on release */
    if (act->latest != NULL) {
        tsp_activity_sample_release(&act->latest->sample);
    }
    if (act->statements != NULL) {
        tsp_activity_statements_release(&act->statements->st);
    }
    tsp_activity_tracker_clear(&act->tracker);
    pthread_cond_destroy(&act->wake);
    pthread_mutex_destroy(&act->lock);
    free(act);
}

void tsp_activity_options_get(const struct tsp_activity *act, struct tsp_activity_options *out)
{
    *out = act->opts; /* immutable after tsp_activity_new */
}

const struct tsp_activity_sample *tsp_activity_sample_get(struct tsp_activity *act,
                                                          struct tsp_activity_status *status)
{
    const struct tsp_activity_sample *sample = NULL;

    pthread_mutex_lock(&act->lock);
    if (act->latest != NULL) {
        atomic_fetch_add(&act->latest->refs, 1);
        sample = &act->latest->sample;
    }
    if (status != NULL) {
        *status = act->status;
    }
    pthread_mutex_unlock(&act->lock);
    return sample;
}

/* The box around a sample handed out by tsp_activity_sample_get. */
static struct tsp_activity_sample_box *sample_box_of(const struct tsp_activity_sample *sample)
{
    /* through uintptr_t: the box is ours and mutable, only the caller's view is const */
    return (struct tsp_activity_sample_box *)((uintptr_t)sample -
                                              offsetof(struct tsp_activity_sample_box, sample));
}

static struct tsp_activity_statements_box *
statements_box_of(const struct tsp_activity_statements *st)
{
    return (struct tsp_activity_statements_box *)((uintptr_t)st -
                                                  offsetof(struct tsp_activity_statements_box, st));
}

void tsp_activity_sample_release(const struct tsp_activity_sample *sample)
{
    struct tsp_activity_sample_box *box = NULL;

    if (sample == NULL) {
        return;
    }
    box = sample_box_of(sample);
    if (atomic_fetch_sub(&box->refs, 1) == 1) {
        tsp_activity_sample_box_free(box);
    }
}

void tsp_activity_statements_release(const struct tsp_activity_statements *st)
{
    struct tsp_activity_statements_box *box = NULL;

    if (st == NULL) {
        return;
    }
    box = statements_box_of(st);
    if (atomic_fetch_sub(&box->refs, 1) == 1) {
        tsp_activity_statements_box_free(box);
    }
}

const struct tsp_activity_statements *tsp_activity_statements_get(struct tsp_activity *act,
                                                                  struct tsp_error *err)
{
    const struct tsp_activity_statements *st = NULL;

    pthread_mutex_lock(&act->lock);
    if (act->opts.statements_interval_ms <= 0) {
        (void)tsp_error_set(err, TSP_CONFLICT, NULL,
                            "statement snapshots are off (TSPOOL_STATEMENTS_INTERVAL_MS=0)");
    } else if (act->statements != NULL) {
        atomic_fetch_add(&act->statements->refs, 1);
        st = &act->statements->st;
    } else if (act->statements_err.code != TSP_OK) {
        (void)tsp_error_set(err, TSP_UNAVAILABLE, NULL, "no pg_stat_statements snapshot yet: %s",
                            act->statements_err.detail);
    } else {
        (void)tsp_error_set(err, TSP_UNAVAILABLE, NULL,
                            "the first pg_stat_statements snapshot is being taken");
    }
    pthread_mutex_unlock(&act->lock);
    return st;
}

void tsp_activity_mark(struct tsp_activity *act, int pid, enum tsp_activity_signal action)
{
    pthread_mutex_lock(&act->lock);
    act->marks[act->nmarks % TSP_ACTIVITY_MARKS_MAX] =
        (struct tsp_activity_mark){.pid = pid, .action = action, .at_ms = tsp_clock_real_ms()};
    act->nmarks++;
    pthread_mutex_unlock(&act->lock);
}
