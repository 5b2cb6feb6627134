/* test_pgbouncer.c - the PgBouncer control plane against two real PgBouncer instances
 * (scripts/pgbouncer.sh) in front of the PostgreSQL test server, with pgbench load: listings and
 * totals equal what each console says, pause stops new transactions and resume lets them go,
 * PAUSE bounded by wait_ms while a transaction holds a server, a stopped and a frozen instance,
 * a refused password, and a headless name whose second address appears and goes.
 * SPDX-License-Identifier: MIT
 */
#define _DEFAULT_SOURCE /* P_tmpdir */
#include "tsp_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http_client.h"
#include "pgbouncer_harness.h"
#include "service_harness.h"

#define ADMIN "adm-pgb-token"

static struct tsp_test_service *svc;
static char pass_env[128];
static char hosts_env[256];

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int setup(void **state)
{
    (void)state;
    /* fresh instances: nothing paused or killed by an earlier run */
    if (!tsp_test_pgb_available() || tsp_test_pgb_ctl("restart") != 0) {
        return -1;
    }
    snprintf(pass_env, sizeof(pass_env), "PGBOUNCER_PASS=%s", TSP_TEST_PGB_ADMIN_PASS);
    snprintf(hosts_env, sizeof(hosts_env), "PGBOUNCER_HOSTS=%s", tsp_test_pgb_hosts());
    const char *env[] = {hosts_env,
                         pass_env,
                         "PGBOUNCER_REFRESH_MS=200",
                         "PGBOUNCER_CONNECT_TIMEOUT=1",
                         "PGBOUNCER_COMMAND_TIMEOUT_MS=1500",
                         "TSPOOL_READY_PGBOUNCER=true",
                         "TSPOOL_ADMIN_TOKEN=" ADMIN,
                         NULL};
    svc = tsp_test_service_start(env);
    return svc != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tsp_test_service_stop(svc);
    svc = NULL;
    return 0;
}

static const char *url(const char *path)
{
    static char buf[4][600];
    static int next;
    char *b = buf[next++ & 3];
    snprintf(b, sizeof(buf[0]), "%s%s", tsp_test_service_url(svc), path);
    return b;
}

static struct tsp_test_reply *post(const char *path, const char *body)
{
    const char *headers[] = {"Authorization: Bearer " ADMIN, "Content-Type: application/json",
                             NULL};
    return tsp_test_http("POST", url(path), body != NULL ? headers : headers + 0,
                         body != NULL ? body : NULL);
}

/* The instance object of GET /pgbouncer for address (borrowed from r), or NULL. */
static json_t *instance_of(struct tsp_test_reply *r, const char *address)
{
    json_t *arr = json_object_get(r->json, "instances");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *o = json_array_get(arr, i);
        if (strcmp(json_string_value(json_object_get(o, "address")), address) == 0) {
            return o;
        }
    }
    return NULL;
}

/* Poll GET /pgbouncer until instance n is in `state` (fails after timeout_ms). */
static void wait_state(int n, const char *state, long timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    for (;;) {
        struct tsp_test_reply *r = tsp_test_get(url("/pgbouncer"), NULL);
        json_t *o = instance_of(r, tsp_test_pgb_address(n));
        bool ok = o != NULL && strcmp(json_string_value(json_object_get(o, "state")), state) == 0;
        tsp_test_reply_free(r);
        if (ok) {
            return;
        }
        if (now_ms() > end) {
            fail_msg("instance %d not %s after %ld ms", n, state, timeout_ms);
        }
        tsp_test_sleep_ms(100);
    }
}

/* Wait until two refreshes have passed since now. */
static void settle(void)
{
    tsp_test_sleep_ms(600);
}

static void run_sql(PGconn *c, const char *sql)
{
    PGresult *res = PQexec(c, sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    }
    PQclear(res);
}

/* Field of the row of a listing for instance n and database db, as a number; -1 when absent. */
static long long listing_value(const char *show, int n, const char *db_col, const char *db,
                               const char *field)
{
    char path[256];
    struct tsp_test_reply *r = NULL;
    long long v = -1;

    snprintf(path, sizeof(path), "/pgbouncer/%s?instance=%s", show, tsp_test_pgb_address(n));
    r = tsp_test_get(url(path), ADMIN);
    assert_int_equal(r->status, 200);
    json_t *rows = json_object_get(r->json, "rows");
    for (size_t i = 0; i < json_array_size(rows); i++) {
        json_t *row = json_array_get(rows, i);
        assert_string_equal(json_string_value(json_object_get(row, "instance")),
                            tsp_test_pgb_address(n));
        if (strcmp(json_string_value(json_object_get(row, db_col)), db) == 0) {
            v = json_integer_value(json_object_get(row, field));
        }
    }
    tsp_test_reply_free(r);
    return v;
}

static void test_pgbouncer_listings_match_consoles_under_pgbench(void **state)
{
    char cmd[2048];
    PGconn *held = NULL;
    PGconn *idle = NULL;
    struct tsp_test_reply *r = NULL;
    (void)state;

    wait_state(1, "up", 5000);
    wait_state(2, "up", 5000);
    snprintf(cmd, sizeof(cmd),
             "PGPASSWORD='%s' pgbench -q -i -s 1 -h 127.0.0.1 -p %d -U postgres postgres "
             ">/dev/null 2>&1",
             tsp_test_pg_password(), tsp_test_pg_port());
    assert_int_equal(system(cmd), 0);
    /* load through both instances at once, then hold a transaction on instance 1 */
    snprintf(cmd, sizeof(cmd),
             "(PGPASSWORD='%s' pgbench -n -S -c 3 -T 2 -h 127.0.0.1 -p %d -U postgres appdb & "
             "PGPASSWORD='%s' pgbench -n -S -c 3 -T 2 -h 127.0.0.2 -p %d -U postgres appdb & "
             "wait) >/dev/null 2>&1",
             tsp_test_pg_password(), tsp_test_pgb_port(), tsp_test_pg_password(),
             tsp_test_pgb_port());
    assert_int_equal(system(cmd), 0);
    held = tsp_test_pgb_client(1, "appdb");
    run_sql(held, "BEGIN");
    run_sql(held, "SELECT 1");
    idle = tsp_test_pgb_client(2, "appdb");
    settle();

    for (int n = 1; n <= 2; n++) {
        static const char *const pool_fields[] = {"cl_active", "cl_waiting", "sv_active",
                                                  "sv_idle"};
        for (size_t f = 0; f < 4; f++) {
            long long console =
                tsp_test_pgb_value(n, "SHOW POOLS", "database", "appdb", pool_fields[f]);
            long long ours = listing_value("pools", n, "database", "appdb", pool_fields[f]);
            if (console != ours) {
                fail_msg("instance %d %s: console %lld, tspool %lld", n, pool_fields[f], console,
                         ours);
            }
        }
        long long queries =
            tsp_test_pgb_value(n, "SHOW STATS", "database", "appdb", "total_query_count");
        assert_true(queries > 100); /* pgbench ran through it */
        assert_int_equal(listing_value("stats", n, "database", "appdb", "total_query_count"),
                         queries);
        assert_int_equal(listing_value("databases", n, "name", "appdb", "pool_size"), 3);
    }
    assert_int_equal(listing_value("pools", 1, "database", "appdb", "sv_active"), 1);

    /* the totals add both consoles up */
    r = tsp_test_get(url("/pgbouncer"), NULL);
    assert_int_equal(r->status, 200);
    assert_int_equal(json_integer_value(json_object_get(r->json, "instances_up")), 2);
    json_t *dbs = json_object_get(r->json, "databases");
    bool seen = false;
    for (size_t i = 0; i < json_array_size(dbs); i++) {
        json_t *d = json_array_get(dbs, i);
        if (strcmp(json_string_value(json_object_get(d, "database")), "appdb") != 0) {
            continue;
        }
        seen = true;
        assert_int_equal(json_integer_value(json_object_get(d, "instances")), 2);
        assert_int_equal(json_integer_value(json_object_get(d, "cl_active")),
                         tsp_test_pgb_value(1, "SHOW POOLS", "database", "appdb", "cl_active") +
                             tsp_test_pgb_value(2, "SHOW POOLS", "database", "appdb", "cl_active"));
        assert_int_equal(json_integer_value(json_object_get(d, "sv_active")), 1);
    }
    assert_true(seen);
    tsp_test_reply_free(r);

    /* the same numbers in /metrics, promtool-clean */
    r = tsp_test_get(url("/metrics"), NULL);
    assert_int_equal(r->status, 200);
    snprintf(cmd, sizeof(cmd),
             "tspool_pgbouncer_requests_total{instance=\"%s\",database=\"appdb\"} %lld\n",
             tsp_test_pgb_address(2),
             tsp_test_pgb_value(2, "SHOW STATS", "database", "appdb", "total_query_count"));
    if (strstr(r->body, cmd) == NULL) {
        fail_msg("metrics lack %s", cmd);
    }
    snprintf(cmd, sizeof(cmd), "tspool_pgbouncer_up{instance=\"%s\"} 1\n", tsp_test_pgb_address(1));
    assert_non_null(strstr(r->body, cmd));
    /* every family prometheus-pgbouncer-exporter exports, under tspool_pgbouncer_ */
    static const char *const exporter[] = {"requests_total",
                                           "received_bytes_total",
                                           "sent_bytes_total",
                                           "query_seconds_total",
                                           "active_clients",
                                           "waiting_clients",
                                           "pool_size",
                                           "reserve_pool",
                                           "databases",
                                           "users",
                                           "pools",
                                           "free_clients",
                                           "used_clients",
                                           "login_clients",
                                           "free_servers",
                                           "used_servers",
                                           "dns_names",
                                           "dns_zones",
                                           "dns_queries",
                                           "dns_pending"};
    for (size_t i = 0; i < sizeof(exporter) / sizeof(exporter[0]); i++) {
        snprintf(cmd, sizeof(cmd), "\ntspool_pgbouncer_%s{instance=\"%s\"", exporter[i],
                 tsp_test_pgb_address(1));
        if (strstr(r->body, cmd) == NULL) {
            fail_msg("no series %s", cmd + 1);
        }
    }
    assert_non_null(strstr(r->body, "\ntspool_pgbouncer_refresh_age_seconds{instance=\""));
    {
        char path[256];
        snprintf(path, sizeof(path), "%s/tspool-pgb-metrics-XXXXXX", P_tmpdir);
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, r->body, r->body_len), (ssize_t)r->body_len);
        close(fd);
        snprintf(cmd, sizeof(cmd), "promtool check metrics < %s", path);
        int rc = system(cmd);
        unlink(path);
        assert_int_equal(rc, 0);
    }
    tsp_test_reply_free(r);
    run_sql(held, "COMMIT");
    PQfinish(held);
    PQfinish(idle);
}

/* True when the query sent on c completes within ms. */
static bool completes_within(PGconn *c, long ms)
{
    int64_t end = now_ms() + ms;
    while (now_ms() < end) {
        if (!PQconsumeInput(c)) {
            return false;
        }
        if (!PQisBusy(c)) {
            PGresult *res = NULL;
            while ((res = PQgetResult(c)) != NULL) {
                PQclear(res);
            }
            return true;
        }
        tsp_test_sleep_ms(20);
    }
    return false;
}

static void test_pgbouncer_pause_stops_new_transactions_resume_lets_them_go(void **state)
{
    PGconn *c1 = tsp_test_pgb_client(1, "appdb");
    PGconn *c2 = tsp_test_pgb_client(2, "appdb");
    struct tsp_test_reply *r = NULL;
    (void)state;

    r = post("/pgbouncer/pause", "{\"database\": \"appdb\", \"wait_ms\": 3000}");
    assert_int_equal(r->status, 200);
    assert_true(json_is_true(json_object_get(r->json, "all_paused")));
    assert_int_equal(json_array_size(json_object_get(r->json, "results")), 2);
    tsp_test_reply_free(r);
    /* the cache shows it at once */
    r = tsp_test_get(url("/pgbouncer"), NULL);
    for (int n = 1; n <= 2; n++) {
        json_t *paused =
            json_object_get(instance_of(r, tsp_test_pgb_address(n)), "paused_databases");
        assert_int_equal(json_array_size(paused), 1);
        assert_string_equal(json_string_value(json_array_get(paused, 0)), "appdb");
    }
    tsp_test_reply_free(r);

    assert_true(PQsendQuery(c1, "SELECT 1"));
    assert_true(PQsendQuery(c2, "SELECT 1"));
    assert_false(completes_within(c1, 700));
    assert_false(completes_within(c2, 100));

    r = post("/pgbouncer/resume", "{\"database\": \"appdb\"}");
    assert_int_equal(r->status, 200);
    assert_true(json_is_true(json_object_get(r->json, "all_succeeded")));
    tsp_test_reply_free(r);
    assert_true(completes_within(c1, 3000));
    assert_true(completes_within(c2, 3000));
    PQfinish(c1);
    PQfinish(c2);
}

static void test_pgbouncer_pause_bounded_by_wait_ms_while_a_transaction_holds(void **state)
{
    PGconn *held = tsp_test_pgb_client(1, "appdb");
    struct tsp_test_reply *r = NULL;
    int64_t start = 0;
    (void)state;

    run_sql(held, "BEGIN");
    run_sql(held, "SELECT 1");
    start = now_ms();
    r = post("/pgbouncer/pause", "{\"database\": \"appdb\", \"wait_ms\": 500}");
    assert_true(now_ms() - start < 4000);
    assert_int_equal(r->status, 202);
    assert_false(json_is_true(json_object_get(r->json, "all_paused")));
    json_t *results = json_object_get(r->json, "results");
    for (size_t i = 0; i < json_array_size(results); i++) {
        json_t *o = json_array_get(results, i);
        const char *inst = json_string_value(json_object_get(o, "instance"));
        const char *outcome = json_string_value(json_object_get(o, "outcome"));
        assert_string_equal(outcome, strcmp(inst, tsp_test_pgb_address(1)) == 0 ? "pausing" : "ok");
    }
    tsp_test_reply_free(r);
    run_sql(held, "COMMIT");
    PQfinish(held);
    r = post("/pgbouncer/resume", "{\"database\": \"appdb\"}");
    assert_int_equal(r->status, 200);
    tsp_test_reply_free(r);
}

static void test_pgbouncer_bad_input(void **state)
{
    struct tsp_test_reply *r = NULL;
    (void)state;

    r = tsp_test_get(url("/pgbouncer/pools?instance=10.9.9.9:6432"), NULL);
    assert_int_equal(r->status, 404);
    assert_string_equal(tsp_test_json_str(r, "field"), "instance");
    tsp_test_reply_free(r);
    r = tsp_test_get(url("/pgbouncer/pools?database=nosuchdb"), NULL);
    assert_int_equal(r->status, 404);
    assert_string_equal(tsp_test_json_str(r, "field"), "database");
    tsp_test_reply_free(r);
    r = post("/pgbouncer/pause", "{\"database\": \"nosuchdb\"}");
    assert_int_equal(r->status, 404);
    tsp_test_reply_free(r);
    r = post("/pgbouncer/kill", "{}");
    assert_int_equal(r->status, 400);
    assert_string_equal(tsp_test_json_str(r, "field"), "database");
    tsp_test_reply_free(r);
    r = post("/pgbouncer/pause", "{\"database\": \"app\\\"db\"}");
    assert_int_equal(r->status, 400);
    tsp_test_reply_free(r);
    r = post("/pgbouncer/resume", "{\"wait_ms\": 5}");
    assert_int_equal(r->status, 400);
    assert_string_equal(tsp_test_json_str(r, "field"), "wait_ms");
    tsp_test_reply_free(r);
    /* client and server listings need the admin token */
    r = tsp_test_get(url("/pgbouncer/clients"), NULL);
    assert_int_equal(r->status, 401);
    tsp_test_reply_free(r);
}

static void test_pgbouncer_stopped_instance_is_down_other_served(void **state)
{
    struct tsp_test_reply *r = NULL;
    char line[160];
    (void)state;

    assert_int_equal(tsp_test_pgb_ctl("stop-one 2"), 0);
    wait_state(2, "down", 5000);
    r = tsp_test_get(url("/pgbouncer"), NULL);
    assert_string_equal(
        json_string_value(json_object_get(instance_of(r, tsp_test_pgb_address(1)), "state")), "up");
    assert_non_null(
        json_string_value(json_object_get(instance_of(r, tsp_test_pgb_address(2)), "error")));
    tsp_test_reply_free(r);
    assert_true(listing_value("databases", 1, "name", "appdb", "pool_size") == 3);
    r = tsp_test_get(url("/metrics"), NULL);
    snprintf(line, sizeof(line), "tspool_pgbouncer_up{instance=\"%s\"} 0\n",
             tsp_test_pgb_address(2));
    assert_non_null(strstr(r->body, line));
    tsp_test_reply_free(r);
    r = tsp_test_get(url("/readyz/pgbouncer"), NULL);
    assert_int_equal(r->status, 200);
    tsp_test_reply_free(r);
    r = post("/pgbouncer/reload", NULL);
    assert_int_equal(r->status, 207);
    assert_false(json_is_true(json_object_get(r->json, "all_succeeded")));
    tsp_test_reply_free(r);

    /* none up: readiness fails on the pgbouncer check */
    assert_int_equal(tsp_test_pgb_ctl("stop-one 1"), 0);
    wait_state(1, "down", 5000);
    r = tsp_test_get(url("/readyz?verbose"), NULL);
    assert_int_equal(r->status, 503);
    assert_non_null(strstr(r->body, "[-]pgbouncer failed: no PgBouncer instance up"));
    tsp_test_reply_free(r);
    assert_int_equal(tsp_test_pgb_ctl("start"), 0);
    wait_state(1, "up", 5000);
    wait_state(2, "up", 5000);
}

static void test_pgbouncer_frozen_instance_bounded_by_deadlines(void **state)
{
    int pid = tsp_test_pgb_pid(2);
    struct tsp_test_reply *r = NULL;
    int64_t start = 0;
    (void)state;

    assert_true(pid > 0);
    assert_int_equal(kill(pid, SIGSTOP), 0);
    start = now_ms();
    r = post("/pgbouncer/reload", NULL);
    /* connect timeout 1 s, then the cache refresh after the command (bounded too) */
    assert_true(now_ms() - start < 4500);
    assert_int_equal(r->status, 207);
    json_t *results = json_object_get(r->json, "results");
    for (size_t i = 0; i < json_array_size(results); i++) {
        json_t *o = json_array_get(results, i);
        bool frozen =
            strcmp(json_string_value(json_object_get(o, "instance")), tsp_test_pgb_address(2)) == 0;
        assert_string_equal(json_string_value(json_object_get(o, "outcome")),
                            frozen ? "unreachable" : "ok");
    }
    tsp_test_reply_free(r);
    /* the refresher's kept connection runs into the statement deadline, a new one into the
     * connect timeout: either way the reason names the deadline */
    wait_state(2, "down", 6000);
    r = tsp_test_get(url("/pgbouncer"), NULL);
    const char *why =
        json_string_value(json_object_get(instance_of(r, tsp_test_pgb_address(2)), "error"));
    assert_non_null(why);
    if (strstr(why, "within the") == NULL) {
        fail_msg("frozen instance: %s", why);
    }
    tsp_test_reply_free(r);
    r = tsp_test_get(url("/pgbouncer/pools"), NULL);
    assert_int_equal(r->status, 200);
    tsp_test_reply_free(r);
    assert_int_equal(kill(pid, SIGCONT), 0);
    wait_state(2, "up", 8000);
}

static void test_pgbouncer_refused_password_is_misconfigured(void **state)
{
    static const char bad[] = "PGBOUNCER_PASS=not-the-password-41x";
    const char *env[] = {hosts_env, bad, "PGBOUNCER_REFRESH_MS=200", NULL};
    struct tsp_test_service *other = tsp_test_service_start(env);
    struct tsp_test_reply *r = NULL;
    char *out = NULL;
    char *err = NULL;
    bool seen = false;
    (void)state;

    for (int i = 0; i < 50 && !seen; i++) {
        char u[256];
        snprintf(u, sizeof(u), "%s/pgbouncer", tsp_test_service_url(other));
        r = tsp_test_get(u, NULL);
        json_t *o = json_array_get(json_object_get(r->json, "instances"), 0);
        seen = o != NULL &&
               strcmp(json_string_value(json_object_get(o, "state")), "misconfigured") == 0;
        if (seen) {
            assert_non_null(
                strstr(json_string_value(json_object_get(o, "error")), "misconfigured"));
            assert_null(strstr(r->body, "not-the-password-41x"));
        }
        tsp_test_reply_free(r);
        tsp_test_sleep_ms(100);
    }
    assert_true(seen);
    out = tsp_test_service_stdout(other);
    err = tsp_test_service_stderr(other);
    assert_null(strstr(out, "not-the-password-41x"));
    assert_null(strstr(err, "not-the-password-41x"));
    free(out);
    free(err);
    tsp_test_service_stop(other);
}

/* A name with one address, then two (a scaled headless Service), then one again: followed on
 * every refresh. Names come from a hosts file through nss_wrapper (Debian libnss-wrapper). */
static void test_pgbouncer_headless_name_followed(void **state)
{
    char hosts_path[256];
    char tmp_path[300];
    char host_env[128];
    char nss_env[300];
    char asan_env[512];
    const char *asan = getenv("ASAN_OPTIONS");
    struct tsp_test_service *other = NULL;
    int fd = -1;
    FILE *f = NULL;
    (void)state;

    snprintf(hosts_path, sizeof(hosts_path), "%s/tspool-pgb-hosts-XXXXXX", P_tmpdir);
    fd = mkstemp(hosts_path);
    assert_true(fd >= 0);
    assert_int_equal(access("/usr/lib/x86_64-linux-gnu/libnss_wrapper.so", R_OK) == 0 ||
                         access("/usr/lib/libnss_wrapper.so", R_OK) == 0,
                     1);
    assert_true(write(fd, "127.0.0.1 pgb-headless.test\n", 28) == 28);
    close(fd);
    snprintf(tmp_path, sizeof(tmp_path), "%s.new", hosts_path);
    snprintf(host_env, sizeof(host_env), "PGBOUNCER_HOSTS=pgb-headless.test:%d",
             tsp_test_pgb_port());
    snprintf(nss_env, sizeof(nss_env), "NSS_WRAPPER_HOSTS=%s", hosts_path);
    snprintf(asan_env, sizeof(asan_env), "ASAN_OPTIONS=%s%sverify_asan_link_order=0",
             asan != NULL ? asan : "", asan != NULL && asan[0] != '\0' ? ":" : "");
    const char *env[] = {host_env, pass_env, nss_env, "LD_PRELOAD=libnss_wrapper.so",
                         "NSS_WRAPPER_PASSWD=/etc/passwd", "NSS_WRAPPER_GROUP=/etc/group",
                         /* RTLD_DEEPBIND and AddressSanitizer do not mix */
                         "NSS_WRAPPER_DISABLE_DEEPBIND=1", asan_env, "PGBOUNCER_REFRESH_MS=200",
                         NULL};
    other = tsp_test_service_start(env);
    char u[256];
    snprintf(u, sizeof(u), "%s/pgbouncer", tsp_test_service_url(other));
    static const size_t want[] = {1, 2, 1};
    static const char *const content[] = {
        NULL, "127.0.0.1 pgb-headless.test\n127.0.0.2 pgb-headless.test\n",
        "127.0.0.2 pgb-headless.test\n"};
    for (int step = 0; step < 3; step++) {
        bool ok = false;
        if (content[step] != NULL) {
            f = fopen(tmp_path, "w");
            assert_non_null(f);
            fputs(content[step], f);
            fclose(f);
            assert_int_equal(rename(tmp_path, hosts_path), 0);
        }
        for (int i = 0; i < 60 && !ok; i++) {
            struct tsp_test_reply *r = tsp_test_get(u, NULL);
            ok = (size_t)json_integer_value(json_object_get(r->json, "instances_total")) ==
                     want[step] &&
                 (size_t)json_integer_value(json_object_get(r->json, "instances_up")) == want[step];
            if (ok && step == 2) {
                json_t *o = json_array_get(json_object_get(r->json, "instances"), 0);
                assert_string_equal(json_string_value(json_object_get(o, "address")),
                                    tsp_test_pgb_address(2));
                assert_string_equal(json_string_value(json_object_get(o, "name")),
                                    host_env + strlen("PGBOUNCER_HOSTS="));
            }
            tsp_test_reply_free(r);
            if (!ok) {
                tsp_test_sleep_ms(100);
            }
        }
        if (!ok) {
            fail_msg("step %d: %zu instances up not seen", step, want[step]);
        }
    }
    tsp_test_service_stop(other);
    unlink(hosts_path);
}

static void test_pgbouncer_cli_status_table(void **state)
{
    const char *args[] = {"status", "--pgbouncer", NULL};
    const char *bad[] = {"status", "--pgbouncer", "--detailed", NULL};
    char *out = NULL;
    char *err = NULL;
    char line[128];
    (void)state;

    assert_int_equal(tsp_test_run_cli(args, tsp_test_service_port(svc), NULL, &out, &err), 0);
    assert_non_null(strstr(out, "2 of 2 instances up"));
    snprintf(line, sizeof(line), "%s", tsp_test_pgb_address(1));
    assert_non_null(strstr(out, line));
    assert_non_null(strstr(out, "\nappdb "));
    free(out);
    free(err);
    assert_int_equal(tsp_test_run_cli(bad, tsp_test_service_port(svc), NULL, &out, &err), 2);
    assert_non_null(strstr(err, "cannot be combined"));
    free(out);
    free(err);
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pgbouncer_listings_match_consoles_under_pgbench),
        cmocka_unit_test(test_pgbouncer_pause_stops_new_transactions_resume_lets_them_go),
        cmocka_unit_test(test_pgbouncer_pause_bounded_by_wait_ms_while_a_transaction_holds),
        cmocka_unit_test(test_pgbouncer_bad_input),
        cmocka_unit_test(test_pgbouncer_stopped_instance_is_down_other_served),
        cmocka_unit_test(test_pgbouncer_frozen_instance_bounded_by_deadlines),
        cmocka_unit_test(test_pgbouncer_cli_status_table),
        cmocka_unit_test(test_pgbouncer_refused_password_is_misconfigured),
        cmocka_unit_test(test_pgbouncer_headless_name_followed),
    };
    return cmocka_run_group_tests_name("pgbouncer", tests, setup, teardown);
}
