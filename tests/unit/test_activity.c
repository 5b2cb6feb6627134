/* test_activity.c - unit tests of the activity module's pure logic: blocking chains, the
 * per-application summary with its bounded label set, the slow-query tracker (once running,
 * once ended, with the end reason), statement deltas and ranking.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "activity_int.h"

/* A sample of n sessions with pids 1..n, all "active" for 100 ms, application "app<pid>". */
static struct tsp_activity_sample *sample_new(size_t n)
{
    struct tsp_activity_sample *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    s->sessions = calloc(n, sizeof(*s->sessions));
    assert_non_null(s->sessions);
    s->nsessions = n;
    s->taken_at_ms = 1000000;
    for (size_t i = 0; i < n; i++) {
        struct tsp_activity_session *x = &s->sessions[i];
        x->pid = (int)i + 1;
        snprintf(x->application_name, sizeof(x->application_name), "app%d", x->pid);
        snprintf(x->state, sizeof(x->state), "active");
        x->query_ms = x->state_ms = x->duration_ms = 100.0;
        x->xact_ms = -1.0;
        x->query_start_us = 1000;
        x->query = strdup("SELECT 1");
    }
    return s;
}

static void sample_free(struct tsp_activity_sample *s)
{
    for (size_t i = 0; i < s->nsessions; i++) {
        free(s->sessions[i].query);
    }
    free(s->sessions);
    free(s);
}

static void block(struct tsp_activity_sample *s, int pid, int by)
{
    struct tsp_activity_session *x = &s->sessions[pid - 1];
    x->blocked_by[x->nblocked_by++] = by;
    snprintf(x->wait_event_type, sizeof(x->wait_event_type), "Lock");
}

static void test_tsp_activity_chains_roots_first_in_preorder(void **state)
{
    struct tsp_activity_sample *s = sample_new(7);
    struct tsp_activity_chain_node nodes[16];
    size_t n = 0;
    (void)state;

    block(s, 2, 1); /* 1 -> 2 -> 3, 1 -> 4 */
    block(s, 3, 2);
    block(s, 4, 1);
    block(s, 5, 99); /* waits for a process outside the sample: a root of its own */
    block(s, 6, 7);  /* a deadlock cycle has no root: left out */
    block(s, 7, 6);
    n = tsp_activity_chains(s, nodes, 16);
    assert_int_equal(n, 5);
    assert_int_equal(s->sessions[nodes[0].session].pid, 1);
    assert_int_equal(nodes[0].depth, 0);
    assert_int_equal(s->sessions[nodes[1].session].pid, 2);
    assert_int_equal(nodes[1].depth, 1);
    assert_int_equal(s->sessions[nodes[2].session].pid, 3);
    assert_int_equal(nodes[2].depth, 2);
    assert_int_equal(s->sessions[nodes[3].session].pid, 4);
    assert_int_equal(nodes[3].depth, 1);
    assert_int_equal(s->sessions[nodes[4].session].pid, 5);
    assert_int_equal(nodes[4].depth, 0);
    /* the output bound holds */
    assert_int_equal(tsp_activity_chains(s, nodes, 2), 2);
    assert_int_equal(tsp_activity_chains(NULL, nodes, 2), 0);
    sample_free(s);
}

static void test_tsp_activity_sample_summarise_groups_and_bounds(void **state)
{
    struct tsp_activity_sample *s = sample_new(30);
    (void)state;

    /* 25 applications: app1 has 6 sessions, the rest one each; 21st and later become other */
    for (int i = 2; i <= 6; i++) {
        snprintf(s->sessions[i - 1].application_name, TSP_ACTIVITY_NAME_MAX, "app1");
    }
    snprintf(s->sessions[1].state, sizeof(s->sessions[1].state), "idle in transaction");
    s->sessions[1].xact_ms = 5000.0;
    s->sessions[1].duration_ms = 5000.0;
    snprintf(s->sessions[2].state, sizeof(s->sessions[2].state), "idle");
    s->sessions[3].query_ms = 2000.0; /* long running at slow_ms 1000 */
    block(s, 5, 4);
    tsp_activity_sample_summarise(s, 1000);
    assert_int_equal(s->blocked, 1);
    assert_int_equal(s->oldest_xact_pid, 2);
    assert_true(s->oldest_xact_ms == 5000.0);
    /* longest first */
    assert_int_equal(s->sessions[0].pid, 2);
    assert_int_equal(s->napps, TSP_ACTIVITY_APPS_MAX + 1);
    assert_string_equal(s->apps[0].name, "app1");
    assert_int_equal(s->apps[0].connections, 6);
    assert_int_equal(s->apps[0].idle_in_transaction, 1);
    assert_int_equal(s->apps[0].idle, 1);
    assert_int_equal(s->apps[0].active, 4);
    assert_int_equal(s->apps[0].long_running, 1);
    assert_int_equal(s->apps[0].waiting, 1);
    assert_string_equal(s->apps[TSP_ACTIVITY_APPS_MAX].name, "other");
    assert_int_equal(s->apps[TSP_ACTIVITY_APPS_MAX].connections, 30 - 6 - 19);
    assert_string_equal(tsp_activity_state_label("idle in transaction (aborted)"),
                        "idle_in_transaction_aborted");
    assert_string_equal(tsp_activity_state_label("something new"), "unknown");
    sample_free(s);
}

static void test_tsp_activity_slow_update_once_running_once_ended(void **state)
{
    struct tsp_activity_tracker tracker;
    struct tsp_activity_slow_event ev[8];
    struct tsp_activity_sample *s = sample_new(3);
    struct tsp_activity_mark mark = {.pid = 3, .action = TSP_ACTIVITY_CANCEL, .at_ms = 1};
    size_t n = 0;
    (void)state;

    memset(&tracker, 0, sizeof(tracker));
    s->sessions[0].query_ms = 1500.0; /* slow */
    s->sessions[1].query_ms = 1500.0; /* slow, but tspool's own */
    s->sessions[1].ours = true;
    s->sessions[2].query_ms = 2500.0; /* slow, cancelled later */
    n = tsp_activity_slow_update(&tracker, s, 1000, NULL, 0, ev, 8);
    assert_int_equal(n, 2);
    assert_false(ev[0].ended);
    assert_int_equal(ev[0].pid, 1);
    assert_int_equal(ev[1].pid, 3);
    tsp_activity_slow_fini(ev, n);
    /* seen again, still running: nothing new */
    s->sessions[0].query_ms = 2000.0;
    assert_int_equal(tsp_activity_slow_update(&tracker, s, 1000, NULL, 0, ev, 8), 0);
    /* pid 1 finished (idle since 300 ms, same query), pid 3 cancelled through the API */
    snprintf(s->sessions[0].state, sizeof(s->sessions[0].state), "idle");
    s->sessions[0].query_ms = 2600.0;
    s->sessions[0].state_ms = 300.0;
    snprintf(s->sessions[2].state, sizeof(s->sessions[2].state), "idle");
    s->sessions[2].query_ms = 3000.0;
    s->sessions[2].state_ms = 100.0;
    n = tsp_activity_slow_update(&tracker, s, 1000, &mark, 1, ev, 8);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        assert_true(ev[i].ended);
        assert_false(ev[i].approximate);
        if (ev[i].pid == 1) {
            assert_string_equal(ev[i].end, "finished");
            assert_true(ev[i].duration_ms == 2300.0);
        } else {
            assert_int_equal(ev[i].pid, 3);
            assert_string_equal(ev[i].end, "cancelled");
            assert_true(ev[i].duration_ms == 2900.0);
        }
        assert_string_equal(ev[i].query, "SELECT 1");
    }
    tsp_activity_slow_fini(ev, n);
    assert_int_equal(tracker.n, 0);
    /* nothing more */
    assert_int_equal(tsp_activity_slow_update(&tracker, s, 1000, NULL, 0, ev, 8), 0);
    sample_free(s);
}

static void test_tsp_activity_slow_update_session_gone(void **state)
{
    struct tsp_activity_tracker tracker;
    struct tsp_activity_slow_event ev[4];
    struct tsp_activity_sample *s = sample_new(1);
    struct tsp_activity_sample *empty = sample_new(0);
    size_t n = 0;
    (void)state;

    memset(&tracker, 0, sizeof(tracker));
    s->sessions[0].query_ms = 1200.0;
    n = tsp_activity_slow_update(&tracker, s, 1000, NULL, 0, ev, 4);
    assert_int_equal(n, 1);
    tsp_activity_slow_fini(ev, n);
    n = tsp_activity_slow_update(&tracker, empty, 1000, NULL, 0, ev, 4);
    assert_int_equal(n, 1);
    assert_string_equal(ev[0].end, "disconnected");
    assert_true(ev[0].approximate);
    assert_true(ev[0].duration_ms >= 1200.0);
    tsp_activity_slow_fini(ev, n);
    /* slow_ms 0: nothing is slow */
    assert_int_equal(tsp_activity_slow_update(&tracker, s, 0, NULL, 0, ev, 4), 0);
    tsp_activity_tracker_clear(&tracker);
    sample_free(s);
    sample_free(empty);
}

static void set_stmt(struct tsp_activity_statement *s, const char *id, long long calls,
                     double total, long long rows)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->queryid, sizeof(s->queryid), "%s", id);
    snprintf(s->user, sizeof(s->user), "app");
    snprintf(s->database, sizeof(s->database), "db");
    s->calls = calls;
    s->total_ms = total;
    s->mean_ms = calls > 0 ? total / (double)calls : 0.0;
    s->rows = rows;
}

static void test_tsp_activity_statements_delta_and_rank(void **state)
{
    struct tsp_activity_statement prev_items[2];
    struct tsp_activity_statement cur_items[3];
    struct tsp_activity_statements prev = {.available = true, .taken_at_ms = 1000, .n = 2};
    struct tsp_activity_statements cur = {.available = true, .taken_at_ms = 11000, .n = 3};
    enum tsp_activity_order order = TSP_ACTIVITY_ORDER_TOTAL_TIME;
    size_t idx[3];
    size_t n = 0;
    (void)state;

    prev.items = prev_items;
    cur.items = cur_items;
    set_stmt(&prev_items[0], "1", 100, 1000.0, 100);
    set_stmt(&prev_items[1], "2", 50, 500.0, 10);
    set_stmt(&cur_items[0], "1", 150, 1500.0, 120); /* +50 calls */
    set_stmt(&cur_items[1], "2", 5, 900.0, 1);      /* reset in between */
    set_stmt(&cur_items[2], "3", 2, 2000.0, 0);     /* new, slow */
    tsp_activity_statements_delta(&cur, &prev);
    assert_true(cur.window_s == 10.0);
    assert_int_equal(cur_items[0].window_calls, 50);
    assert_true(cur_items[0].window_total_ms == 500.0);
    assert_int_equal(cur_items[0].window_rows, 20);
    assert_int_equal(cur_items[1].window_calls, 5);
    assert_int_equal(cur_items[2].window_calls, 2);

    assert_true(tsp_activity_order_parse("mean_time", &order));
    assert_int_equal(order, TSP_ACTIVITY_ORDER_MEAN_TIME);
    assert_false(tsp_activity_order_parse("slowest", &order));
    n = tsp_activity_statements_rank(&cur, TSP_ACTIVITY_ORDER_MEAN_TIME, idx, 3);
    assert_int_equal(n, 3);
    assert_string_equal(cur_items[idx[0]].queryid, "3");
    assert_string_equal(cur_items[idx[1]].queryid, "2");
    n = tsp_activity_statements_rank(&cur, TSP_ACTIVITY_ORDER_CALLS, idx, 1);
    assert_int_equal(n, 1);
    assert_string_equal(cur_items[idx[0]].queryid, "1");
    n = tsp_activity_statements_rank(&cur, TSP_ACTIVITY_ORDER_TOTAL_TIME, idx, 2);
    assert_int_equal(n, 2);
    assert_string_equal(cur_items[idx[0]].queryid, "3");
    assert_string_equal(cur_items[idx[1]].queryid, "1");
    /* no previous snapshot: no window */
    tsp_activity_statements_delta(&cur, NULL);
    assert_true(cur.window_s == 0.0);
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tsp_activity_chains_roots_first_in_preorder),
        cmocka_unit_test(test_tsp_activity_sample_summarise_groups_and_bounds),
        cmocka_unit_test(test_tsp_activity_slow_update_once_running_once_ended),
        cmocka_unit_test(test_tsp_activity_slow_update_session_gone),
        cmocka_unit_test(test_tsp_activity_statements_delta_and_rank),
    };
    return cmocka_run_group_tests_name("activity", tests, NULL, NULL);
}
