/* activity/slowlog.c - the slow-query log of every application: a query seen running longer
 * than DB_SLOW_QUERY_MS is logged once, followed from sample to sample, and logged once more
 * when it ends (finished, failed, cancelled, terminated or disconnected) with its duration.
 * SPDX-License-Identifier: MIT
 */
#include "activity_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tspool/log.h"

static void copy_text(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src != NULL ? src : "");
}

static bool is_running(const struct tsp_activity_session *s)
{
    return strcmp(s->state, "active") == 0 || strcmp(s->state, "fastpath function call") == 0;
}

static const struct tsp_activity_session *find_session(const struct tsp_activity_sample *sample,
                                                       int pid)
{
    for (size_t i = 0; i < sample->nsessions; i++) {
        if (sample->sessions[i].pid == pid) {
            return &sample->sessions[i];
        }
    }
    return NULL;
}

static bool tracked(const struct tsp_activity_tracker *tracker, int pid, int64_t query_start_us)
{
    for (size_t i = 0; i < tracker->n; i++) {
        if (tracker->items[i].pid == pid && tracker->items[i].query_start_us == query_start_us) {
            return true;
        }
    }
    return false;
}

/* The API's last signal to pid at or after the query started, or NULL. */
static const char *signal_reason(const struct tsp_activity_mark *marks, size_t nmarks, int pid,
                                 int64_t query_start_us)
{
    const char *reason = NULL;

    for (size_t i = 0; i < nmarks; i++) {
        if (marks[i].pid == pid && marks[i].at_ms * 1000 >= query_start_us) {
            reason = marks[i].action == TSP_ACTIVITY_TERMINATE ? "terminated" : "cancelled";
        }
    }
    return reason;
}

static void fill_from_session(struct tsp_activity_slow_event *ev,
                              const struct tsp_activity_session *s)
{
    ev->pid = s->pid;
    copy_text(ev->application_name, sizeof(ev->application_name), s->application_name);
    copy_text(ev->user, sizeof(ev->user), s->user);
    copy_text(ev->client_addr, sizeof(ev->client_addr), s->client_addr);
    copy_text(ev->state, sizeof(ev->state), s->state);
    if (s->wait_event_type[0] != '\0') {
        snprintf(ev->wait_event, sizeof(ev->wait_event), "%s:%s", s->wait_event_type,
                 s->wait_event);
    } else {
        ev->wait_event[0] = '\0';
    }
}

/* The ended event of a followed query; `now` is the session as sampled now (NULL: gone). */
static void end_event(const struct tsp_activity_tracked *t, const struct tsp_activity_session *now,
                      const struct tsp_activity_sample *sample,
                      const struct tsp_activity_mark *marks, size_t nmarks,
                      struct tsp_activity_slow_event *ev)
{
    const char *reason = signal_reason(marks, nmarks, t->pid, t->query_start_us);

    memset(ev, 0, sizeof(*ev));
    ev->ended = true;
    ev->pid = t->pid;
    copy_text(ev->application_name, sizeof(ev->application_name), t->application_name);
    copy_text(ev->user, sizeof(ev->user), t->user);
    copy_text(ev->client_addr, sizeof(ev->client_addr), t->client_addr);
    ev->query = t->query;
    if (now != NULL && now->query_start_us == t->query_start_us && now->state_ms >= 0.0) {
        /* the same query, no longer running: it ended at state_change */
        fill_from_session(ev, now);
        ev->duration_ms = now->query_ms - now->state_ms;
        ev->end = strstr(now->state, "aborted") != NULL ? "failed" : "finished";
    } else if (now != NULL) {
        /* the session runs another query already: the old one ended between two samples */
        fill_from_session(ev, now);
        ev->duration_ms = t->last_ms;
        ev->approximate = true;
        ev->end = "finished";
    } else {
        /* the session is gone: it ended by the time of this sample at the latest */
        copy_text(ev->state, sizeof(ev->state), "gone");
        ev->duration_ms = (double)(sample->taken_at_ms * 1000 - t->query_start_us) / 1000.0;
        if (ev->duration_ms < t->last_ms) {
            ev->duration_ms = t->last_ms;
        }
        ev->approximate = true;
        ev->end = "disconnected";
    }
    if (reason != NULL) {
        ev->end = reason;
    }
}

size_t tsp_activity_slow_update(struct tsp_activity_tracker *tracker,
                                const struct tsp_activity_sample *sample, long slow_ms,
                                const struct tsp_activity_mark *marks, size_t nmarks,
                                struct tsp_activity_slow_event *events, size_t max)
{
    size_t n = 0;
    size_t i = 0;

    /* followed queries that ended */
    while (i < tracker->n && n < max) {
        struct tsp_activity_tracked *t = &tracker->items[i];
        const struct tsp_activity_session *now = find_session(sample, t->pid);
        if (now != NULL && now->query_start_us == t->query_start_us && is_running(now)) {
            t->last_ms = now->query_ms;
            i++;
            continue;
        }
        end_event(t, now, sample, marks, nmarks, &events[n++]);
        t->query = NULL; /* the event owns the text now */
        tracker->items[i] = tracker->items[--tracker->n];
    }
    if (slow_ms <= 0) {
        return n;
    }
    /* new slow queries of other applications */
    for (i = 0; i < sample->nsessions && n < max; i++) {
        const struct tsp_activity_session *s = &sample->sessions[i];
        struct tsp_activity_slow_event *ev = NULL;
        if (s->ours || !is_running(s) || s->query_ms < (double)slow_ms ||
            tracked(tracker, s->pid, s->query_start_us) || tracker->n >= TSP_ACTIVITY_TRACKED_MAX) {
            continue;
        }
        ev = &events[n];
        memset(ev, 0, sizeof(*ev));
        fill_from_session(ev, s);
        ev->duration_ms = s->query_ms;
        ev->query = strdup(s->query);
        struct tsp_activity_tracked *t = &tracker->items[tracker->n];
        memset(t, 0, sizeof(*t));
        t->query = strdup(s->query);
        if (ev->query == NULL || t->query == NULL) {
            free(ev->query);
            free(t->query);
            ev->query = NULL;
            t->query = NULL;
            continue; /* out of memory: try again with the next sample */
        }
        t->pid = s->pid;
        t->query_start_us = s->query_start_us;
        t->last_ms = s->query_ms;
        copy_text(t->application_name, sizeof(t->application_name), s->application_name);
        copy_text(t->user, sizeof(t->user), s->user);
        copy_text(t->client_addr, sizeof(t->client_addr), s->client_addr);
        tracker->n++;
        n++;
    }
    return n;
}

void tsp_activity_slow_fini(struct tsp_activity_slow_event *events, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(events[i].query);
        events[i].query = NULL;
    }
}

void tsp_activity_tracker_clear(struct tsp_activity_tracker *tracker)
{
    for (size_t i = 0; i < tracker->n; i++) {
        free(tracker->items[i].query);
    }
    tracker->n = 0;
}

void tsp_activity_slow_log(const struct tsp_activity_slow_event *ev)
{
    struct tsp_log_field fields[11];
    struct tsp_log_ctx ctx = {.event = "server.slow_query", .conn_id = -1, .fields = fields};
    size_t n = 0;

    fields[n++] = (struct tsp_log_field){.key = "phase", .str = ev->ended ? "ended" : "running"};
    fields[n++] = (struct tsp_log_field){.key = "pid", .num = ev->pid};
    fields[n++] = (struct tsp_log_field){.key = "application_name", .str = ev->application_name};
    fields[n++] = (struct tsp_log_field){.key = "user", .str = ev->user};
    fields[n++] = (struct tsp_log_field){.key = "client_addr", .str = ev->client_addr};
    fields[n++] = (struct tsp_log_field){.key = "state", .str = ev->state};
    fields[n++] = (struct tsp_log_field){.key = "wait_event", .str = ev->wait_event};
    fields[n++] = (struct tsp_log_field){.key = "duration_ms", .num = (long long)ev->duration_ms};
    fields[n++] = (struct tsp_log_field){.key = "query", .str = ev->query != NULL ? ev->query : ""};
    if (ev->ended) {
        fields[n++] = (struct tsp_log_field){.key = "end", .str = ev->end};
        fields[n++] = (struct tsp_log_field){.key = "approximate", .num = ev->approximate ? 1 : 0};
        ctx.nfields = n;
        TSP_LOG_INFO(&ctx, "slow query of %s (pid %d) %s after %.0f ms", ev->application_name,
                     ev->pid, ev->end, ev->duration_ms);
        return;
    }
    ctx.nfields = n;
    TSP_LOG_WARN(&ctx, "slow query of %s (pid %d) running for %.0f ms", ev->application_name,
                 ev->pid, ev->duration_ms);
}
