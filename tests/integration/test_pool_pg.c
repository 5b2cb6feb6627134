/* test_pool_pg.c - the pool with the libpq connector against the real PostgreSQL 15 test
 * server: queries, session settings, pg_terminate_backend, restart, server down at start.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "service_harness.h"
#include "tspool/clock.h"
#include "tspool/config.h"
#include "tspool/db.h"
#include "tspool/log.h"
#include "tspool/pool.h"

static char app_name[64]; /* unique per run: counts in pg_stat_activity are ours alone */

static void config_init(struct tsp_config *cfg)
{
    char port[16];

    memset(cfg, 0, sizeof(*cfg));
    snprintf(port, sizeof(port), "%d", tsp_test_pg_port());
    cfg->db_host = strdup("127.0.0.1");
    cfg->db_port = strdup(port);
    cfg->db_name = strdup("postgres");
    cfg->db_user = strdup("postgres");
    cfg->db_pass = strdup(tsp_test_pg_password());
    cfg->db_connect_timeout_s = 3;
    cfg->db_statement_timeout_ms = 5000;
    cfg->db_sslmode = strdup("disable");
    cfg->db_application_name = strdup(app_name);
    cfg->db_target_session_attrs = strdup("read-write");
    cfg->db_session_settings = strdup("jit=off, work_mem=16MB");
}

static void config_fini(struct tsp_config *cfg)
{
    char **strings[] = {&cfg->db_host,
                        &cfg->db_port,
                        &cfg->db_name,
                        &cfg->db_user,
                        &cfg->db_pass,
                        &cfg->db_sslmode,
                        &cfg->db_application_name,
                        &cfg->db_target_session_attrs,
                        &cfg->db_session_settings};

    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
        free(*strings[i]);
        *strings[i] = NULL;
    }
}

static void replace(char **field, const char *value)
{
    free(*field);
    *field = value != NULL ? strdup(value) : NULL;
}

static struct tsp_pool_options options(int size, int overflow, int min_idle)
{
    struct tsp_pool_options o;

    memset(&o, 0, sizeof(o));
    o.mode = TSP_POOL_MODE_POOLED;
    o.size = size;
    o.max_overflow = overflow;
    o.min_idle = min_idle;
    o.timeout_ms = 10000;
    o.preping_idle_ms = 0;
    o.health_interval_ms = -1;
    o.maintenance_interval_ms = 50;
    return o;
}

static struct tsp_pool *new_pool(const struct tsp_config *cfg, const struct tsp_pool_options *o)
{
    struct tsp_connector c;
    struct tsp_pool *pool = NULL;
    struct tsp_error err;

    tsp_error_init(&err);
    assert_int_equal(tsp_pool_pg_connector(cfg, &c, &err), TSP_OK);
    assert_int_equal(tsp_pool_new(o, &c, &pool, &err), TSP_OK);
    return pool;
}

/* Our sessions in pg_stat_activity, polled until `expected` (backends exit asynchronously
 * after a close) or 5 s. */
static int our_sessions(int expected)
{
    char sql[256];
    char *v = NULL;
    int n = -1;

    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_stat_activity WHERE application_name = '%s'", app_name);
    for (int i = 0; i < 100; i++) {
        v = tsp_test_pg_query(sql);
        n = v != NULL ? atoi(v) : -1;
        free(v);
        if (n == expected) {
            break;
        }
        tsp_test_sleep_ms(50);
    }
    return n;
}

/* SELECT 1 on a lease; a failure is reported to the pool like service/db/query.c does. */
static bool select_one(struct tsp_lease *lease)
{
    PGconn *conn = tsp_lease_handle(lease);
    PGresult *res = PQexec(conn, "SELECT 1");
    bool ok = PQresultStatus(res) == PGRES_TUPLES_OK && strcmp(PQgetvalue(res, 0, 0), "1") == 0;
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

    if (!ok) {
        tsp_lease_report_error(lease, state != NULL ? state : "08006");
    }
    PQclear(res);
    return ok;
}

/* Borrow n connections at once and query each: every idle connection is pre-pinged, so a
 * dead one left over from an earlier phase is replaced. Returns how many queries worked. */
static int touch_all(struct tsp_pool *pool, int n)
{
    struct tsp_lease *l[16];
    struct tsp_error err;
    int ok = 0;

    for (int i = 0; i < n; i++) {
        tsp_error_init(&err);
        l[i] = NULL;
        if (tsp_pool_borrow(pool, "touch", -1, &l[i], &err) == TSP_OK && select_one(l[i])) {
            ok++;
        }
    }
    for (int i = 0; i < n; i++) {
        tsp_pool_return(l[i]);
    }
    return ok;
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(app_name, sizeof(app_name), "tspool_it_%ld", (long)getpid());
    tsp_log_setup(TSP_LOG_LEVEL_ERROR, TSP_LOG_FORMAT_TEXT, stderr);
    return tsp_test_pg_available() ? 0 : -1;
}

static void test_pool_pg_borrow_return_real_queries(void **state)
{
    struct tsp_config cfg;
    struct tsp_pool_options o = options(3, 1, 0);
    struct tsp_pool *pool = NULL;
    struct tsp_lease *lease = NULL;
    struct tsp_pool_stats st;
    struct tsp_pool_conn_info *infos = NULL;
    size_t n = 0;
    struct tsp_error err;
    PGresult *res = NULL;
    (void)state;

    config_init(&cfg);
    pool = new_pool(&cfg, &o);
    tsp_error_init(&err);
    assert_int_equal(tsp_pool_borrow(pool, "settings", -1, &lease, &err), TSP_OK);
    res = PQexec(tsp_lease_handle(lease),
                 "SELECT current_setting('application_name'), current_setting('statement_timeout'),"
                 " current_setting('work_mem'), current_setting('jit'), pg_backend_pid()");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(res, 0, 0), app_name);
    assert_string_equal(PQgetvalue(res, 0, 1), "5s");
    assert_string_equal(PQgetvalue(res, 0, 2), "16MB");
    assert_string_equal(PQgetvalue(res, 0, 3), "off");
    assert_int_equal(tsp_pool_conn_list(pool, &infos, &n, &err), TSP_OK);
    assert_int_equal(n, 1);
    assert_int_equal(infos[0].backend_pid, atoi(PQgetvalue(res, 0, 4)));
    free(infos);
    PQclear(res);
    /* left inside a transaction: rolled back on return and kept */
    res = PQexec(tsp_lease_handle(lease), "BEGIN");
    PQclear(res);
    res = PQexec(tsp_lease_handle(lease), "CREATE TEMP TABLE tspool_rollback_probe (x int)");
    PQclear(res);
    tsp_pool_return(lease);
    tsp_pool_stats(pool, &st);
    assert_int_equal(st.rollbacks, 1);
    assert_int_equal(st.idle, 1);
    assert_int_equal(tsp_pool_borrow(pool, "after-rollback", -1, &lease, &err), TSP_OK);
    res = PQexec(tsp_lease_handle(lease), "SELECT to_regclass('tspool_rollback_probe') IS NULL");
    assert_string_equal(PQgetvalue(res, 0, 0), "t");
    PQclear(res);
    tsp_pool_return(lease);
    assert_int_equal(our_sessions(1), 1);
    tsp_pool_free(pool);
    assert_int_equal(our_sessions(0), 0);
    config_fini(&cfg);
}

struct worker {
    pthread_t thread;
    struct tsp_pool *pool;
    int iterations; /* > 0: run this many; else until *stop */
    atomic_int *stop;
    int ok, borrow_errors, query_errors;
    char first_error[TSP_ERROR_DETAIL_MAX];
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct tsp_lease *lease = NULL;
    struct tsp_error err;

    for (int i = 0; w->iterations > 0 ? i < w->iterations : !atomic_load(w->stop); i++) {
        tsp_error_init(&err);
        if (tsp_pool_borrow(w->pool, "worker", -1, &lease, &err) != TSP_OK) {
            if (w->borrow_errors++ == 0) {
                snprintf(w->first_error, sizeof(w->first_error), "%s", err.detail);
            }
            tsp_test_sleep_ms(20);
            continue;
        }
        if (select_one(lease)) {
            w->ok++;
        } else {
            w->query_errors++;
        }
        tsp_pool_return(lease);
    }
    return NULL;
}

static void test_pool_pg_terminate_backend_invisible_to_borrowers(void **state)
{
    struct tsp_config cfg;
    struct tsp_pool_options o = options(4, 0, 4);
    struct tsp_pool *pool = NULL;
    struct tsp_pool_health h;
    struct tsp_pool_stats st;
    struct worker w[4];
    char sql[256];
    char *v = NULL;
    int ok = 0;
    (void)state;

    config_init(&cfg);
    pool = new_pool(&cfg, &o);
    for (int i = 0; i < 200; i++) {
        tsp_pool_health(pool, &h);
        if (h.min_idle_filled) {
            break;
        }
        tsp_test_sleep_ms(20);
    }
    assert_true(h.min_idle_filled);
    assert_int_equal(our_sessions(4), 4);
    snprintf(sql, sizeof(sql),
             "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
             "WHERE application_name = '%s'",
             app_name);
    v = tsp_test_pg_query(sql);
    assert_string_equal(v, "4");
    free(v);
    assert_int_equal(our_sessions(0), 0);
    for (int i = 0; i < 4; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].pool = pool;
        w[i].iterations = 25;
        assert_int_equal(pthread_create(&w[i].thread, NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(w[i].thread, NULL);
        assert_int_equal(w[i].borrow_errors, 0);
        assert_int_equal(w[i].query_errors, 0);
        ok += w[i].ok;
    }
    assert_int_equal(ok, 100);
    /* the workers met some of the dead connections (how many depends on scheduling); taking
     * all four at once meets the rest */
    assert_int_equal(touch_all(pool, 4), 4);
    tsp_pool_stats(pool, &st);
    assert_int_equal(st.preping_failures, 4);
    assert_int_equal(st.closes[TSP_CLOSE_BROKEN], 4);
    assert_int_equal(st.borrow_failures, 0);
    assert_int_equal(st.open, 4);
    assert_int_equal(our_sessions(4), 4);
    tsp_pool_free(pool);
    assert_int_equal(our_sessions(0), 0);
    config_fini(&cfg);
}

static void test_pool_pg_restart_mid_stream_recovers(void **state)
{
    struct tsp_config cfg;
    struct tsp_pool_options o = options(3, 1, 0);
    struct tsp_pool *pool = NULL;
    struct worker w[3];
    struct worker after;
    atomic_int stop = 0;
    int before_ok = 0;
    struct tsp_pool_stats st;
    (void)state;

    config_init(&cfg);
    pool = new_pool(&cfg, &o);
    for (int i = 0; i < 3; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].pool = pool;
        w[i].stop = &stop;
        assert_int_equal(pthread_create(&w[i].thread, NULL, worker_main, &w[i]), 0);
    }
    tsp_test_sleep_ms(300);
    assert_int_equal(tsp_test_pg_ctl("restart"), 0);
    tsp_test_sleep_ms(300);
    atomic_store(&stop, 1);
    for (int i = 0; i < 3; i++) {
        pthread_join(w[i].thread, NULL);
        before_ok += w[i].ok;
    }
    assert_true(before_ok > 0);
    /* after the restart every borrow works again, without a single error */
    memset(&after, 0, sizeof(after));
    after.pool = pool;
    after.iterations = 50;
    worker_main(&after);
    assert_int_equal(after.borrow_errors, 0);
    assert_int_equal(after.query_errors, 0);
    assert_int_equal(after.ok, 50);
    assert_int_equal(touch_all(pool, 3), 3);
    tsp_pool_stats(pool, &st);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.open, 3);
    assert_int_equal(our_sessions(3), 3);
    tsp_pool_free(pool);
    assert_int_equal(our_sessions(0), 0);
    config_fini(&cfg);
}

static void test_pool_pg_server_down_at_start(void **state)
{
    struct tsp_config cfg;
    struct tsp_pool_options o = options(2, 0, 2);
    struct tsp_pool *pool = NULL;
    struct tsp_lease *lease = NULL;
    struct tsp_pool_health h;
    struct tsp_error err;
    (void)state;

    config_init(&cfg);
    o.health_interval_ms = 100;
    assert_int_equal(tsp_test_pg_ctl("stop"), 0);
    pool = new_pool(&cfg, &o);
    tsp_error_init(&err);
    assert_int_equal(tsp_pool_borrow(pool, "down", 2000, &lease, &err), TSP_DB_UNAVAILABLE);
    assert_non_null(strstr(err.detail, "connect failed: "));
    assert_non_null(strstr(err.detail, "Connection refused"));
    assert_null(strstr(err.detail, cfg.db_pass));
    tsp_test_sleep_ms(300);
    tsp_pool_health(pool, &h);
    assert_true(h.checked);
    assert_false(h.ok);
    assert_false(h.ever_ok);
    assert_false(h.misconfigured);
    assert_false(h.min_idle_filled);
    assert_true(tsp_pool_borrow(pool, "down", 100, &lease, &err) != TSP_OK);
    assert_int_equal(tsp_test_pg_ctl("start"), 0);
    for (int i = 0; i < 300; i++) {
        tsp_pool_health(pool, &h);
        if (h.ok && h.min_idle_filled) {
            break;
        }
        tsp_test_sleep_ms(50);
    }
    assert_true(h.ok);
    assert_true(h.ever_ok);
    assert_true(h.min_idle_filled);
    tsp_error_init(&err);
    assert_int_equal(tsp_pool_borrow(pool, "up", -1, &lease, &err), TSP_OK);
    assert_true(select_one(lease));
    tsp_pool_return(lease);
    assert_int_equal(our_sessions(2), 2);
    tsp_pool_free(pool);
    assert_int_equal(our_sessions(0), 0);
    config_fini(&cfg);
}

static void test_pool_pg_connect_errors_classified_and_scrubbed(void **state)
{
    struct tsp_config cfg;
    struct tsp_pool_options o = options(1, 0, 0);
    struct tsp_pool *pool = NULL;
    struct tsp_lease *lease = NULL;
    struct tsp_error err;
    (void)state;

    config_init(&cfg);
    replace(&cfg.db_pass, "wrong-secret-42");
    pool = new_pool(&cfg, &o);
    tsp_error_init(&err);
    assert_int_equal(tsp_pool_borrow(pool, "auth", 2000, &lease, &err), TSP_DB_ERROR);
    assert_string_equal(err.sqlstate, "28P01");
    assert_non_null(strstr(err.detail, "password authentication failed for user \"postgres\""));
    assert_null(strstr(err.detail, "wrong-secret-42"));
    tsp_pool_free(pool);

    replace(&cfg.db_pass, tsp_test_pg_password());
    replace(&cfg.db_name, "tspool_no_such_db");
    pool = new_pool(&cfg, &o);
    tsp_error_init(&err);
    assert_int_equal(tsp_pool_borrow(pool, "db", 2000, &lease, &err), TSP_DB_ERROR);
    assert_string_equal(err.sqlstate, "3D000");
    tsp_pool_free(pool);

    /* the password inside a libpq message is masked */
    replace(&cfg.db_name, "postgres");
    replace(&cfg.db_pass, "sekrit-dir");
    replace(&cfg.db_host, "/nonexistent/sekrit-dir");
    pool = new_pool(&cfg, &o);
    tsp_error_init(&err);
    assert_int_equal(tsp_pool_borrow(pool, "scrub", 2000, &lease, &err), TSP_DB_UNAVAILABLE);
    assert_null(strstr(err.detail, "sekrit-dir"));
    assert_non_null(strstr(err.detail, "/nonexistent/********"));
    tsp_pool_free(pool);

    replace(&cfg.db_host, "127.0.0.1");
    replace(&cfg.db_pass, tsp_test_pg_password());
    replace(&cfg.db_session_settings, "tspool_no_such_setting=1");
    pool = new_pool(&cfg, &o);
    tsp_error_init(&err);
    assert_int_equal(tsp_pool_borrow(pool, "settings", 2000, &lease, &err), TSP_DB_ERROR);
    assert_string_equal(err.sqlstate, "42704");
    assert_string_equal(err.field, "DB_SESSION_SETTINGS");
    tsp_pool_free(pool);

    replace(&cfg.db_session_settings, "work_mem");
    pool = new_pool(&cfg, &o);
    tsp_error_init(&err);
    assert_int_equal(tsp_pool_borrow(pool, "settings", 2000, &lease, &err), TSP_INVALID);
    assert_string_equal(err.detail, "session setting 'work_mem' is not name=value");
    tsp_pool_free(pool);
    assert_int_equal(our_sessions(0), 0);
    config_fini(&cfg);
}

static void test_pool_pg_read_only_error_invalidates_pool(void **state)
{
    struct tsp_config cfg;
    struct tsp_pool_options o = options(3, 0, 0);
    struct tsp_pool *pool = NULL;
    struct tsp_lease *l[3];
    struct tsp_pool_stats st;
    struct tsp_error err;
    PGresult *res = NULL;
    const char *state_text = NULL;
    (void)state;

    config_init(&cfg);
    pool = new_pool(&cfg, &o);
    tsp_error_init(&err);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tsp_pool_borrow(pool, "warm", -1, &l[i], &err), TSP_OK);
    }
    tsp_pool_return(l[1]);
    tsp_pool_return(l[2]);
    /* what a demoted primary answers: a write fails with 25006 on a healthy connection */
    res = PQexec(tsp_lease_handle(l[0]), "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY");
    PQclear(res);
    res = PQexec(tsp_lease_handle(l[0]), "CREATE TABLE tspool_read_only_probe (x int)");
    state_text = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    assert_non_null(state_text);
    assert_string_equal(state_text, "25006");
    tsp_lease_report_error(l[0], state_text);
    PQclear(res);
    tsp_pool_return(l[0]);
    assert_int_equal(tsp_pool_borrow(pool, "after", -1, &l[0], &err), TSP_OK);
    assert_true(select_one(l[0]));
    tsp_pool_return(l[0]);
    tsp_pool_stats(pool, &st);
    assert_int_equal(st.failover_invalidations, 1);
    assert_int_equal(st.closes[TSP_CLOSE_FAILOVER], 3);
    assert_int_equal(st.open, 1);
    assert_int_equal(our_sessions(1), 1);
    tsp_pool_free(pool);
    assert_int_equal(our_sessions(0), 0);
    config_fini(&cfg);
}

/* The value of `SHOW name` on a lease. */
static char *show(struct tsp_lease *lease, const char *name)
{
    char sql[128];
    PGresult *res = NULL;
    char *out = NULL;

    snprintf(sql, sizeof(sql), "SHOW %s", name);
    res = PQexec(tsp_lease_handle(lease), sql);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    out = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return out;
}

/* Issue 5: DB_STATEMENT_TIMEOUT_MS unset leaves the statement_timeout the DBA set on the role
 * in force; a value overrides it. */
static void test_pool_pg_statement_timeout_unset_keeps_role_setting(void **state)
{
    struct tsp_config cfg;
    struct tsp_pool_options o = options(1, 0, 0);
    struct tsp_pool *pool = NULL;
    struct tsp_lease *lease = NULL;
    struct tsp_error err;
    char sql[256];
    char *value = NULL;
    (void)state;

    free(tsp_test_pg_query("DROP ROLE IF EXISTS tspool_timeout_role"));
    snprintf(sql, sizeof(sql), "CREATE ROLE tspool_timeout_role LOGIN PASSWORD '%s'",
             tsp_test_pg_password());
    free(tsp_test_pg_query(sql));
    free(tsp_test_pg_query("ALTER ROLE tspool_timeout_role SET statement_timeout = '4321ms'"));
    config_init(&cfg);
    replace(&cfg.db_user, "tspool_timeout_role");
    for (int round = 0; round < 2; round++) {
        cfg.db_statement_timeout_ms = round == 0 ? -1 : 1500;
        pool = new_pool(&cfg, &o);
        tsp_error_init(&err);
        assert_int_equal(tsp_pool_borrow(pool, "show", -1, &lease, &err), TSP_OK);
        value = show(lease, "statement_timeout");
        /* before: always SET to DB_STATEMENT_TIMEOUT_MS (default 0), the role's 4321ms lost */
        assert_string_equal(value, round == 0 ? "4321ms" : "1500ms");
        free(value);
        tsp_pool_return(lease);
        tsp_pool_free(pool);
    }
    assert_int_equal(our_sessions(0), 0);
    config_fini(&cfg);
    free(tsp_test_pg_query("DROP ROLE IF EXISTS tspool_timeout_role"));
}

/* Issue 3: a statement past DB_STATEMENT_DEADLINE_MS is cancelled on the server and its
 * connection closed; the caller gets TSP_TIMEOUT within the deadline, also when the backend
 * is frozen (SIGSTOP) and cannot answer at all. The other connections stay. */
static void test_pool_pg_statement_deadline_cancels_and_closes(void **state)
{
    struct tsp_config cfg;
    struct tsp_pool_options o = options(2, 0, 0);
    struct tsp_pool *pool = NULL;
    struct tsp_lease *lease = NULL;
    struct tsp_lease *other = NULL;
    struct tsp_error err;
    struct tsp_pool_stats st;
    char sql[256];
    int64_t t0 = 0;
    int64_t took = 0;
    int pid = 0;
    (void)state;

    config_init(&cfg);
    cfg.db_statement_timeout_ms = -1;
    o.statement_deadline_ms = 700;
    o.preping_idle_ms = -1;
    pool = new_pool(&cfg, &o);
    tsp_error_init(&err);
    assert_int_equal(tsp_pool_borrow(pool, "other", -1, &other, &err), TSP_OK);
    assert_int_equal(tsp_pool_borrow(pool, "sleep", -1, &lease, &err), TSP_OK);
    t0 = tsp_clock_mono_ms();
    assert_int_equal(tsp_db_exec(lease, "SELECT pg_sleep(30)", 0, NULL, NULL, &err), TSP_TIMEOUT);
    took = tsp_clock_mono_ms() - t0;
    assert_true(took >= 700 && took < 2500);
    assert_string_equal(err.sqlstate, "57014");
    tsp_pool_return(lease);
    /* the server stopped the statement (PQcancel) and the session is gone (closed) */
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_stat_activity WHERE application_name = '%s' AND query = "
             "'SELECT pg_sleep(30)'",
             app_name);
    assert_true(tsp_test_wait_query(sql, "0", 5000));
    assert_int_equal(our_sessions(1), 1);

    /* frozen mid-statement: no answer at all, not even to the cancel */
    tsp_error_init(&err);
    assert_int_equal(tsp_pool_borrow(pool, "frozen", -1, &lease, &err), TSP_OK);
    pid = PQbackendPID(tsp_lease_handle(lease));
    assert_int_equal(kill(pid, SIGSTOP), 0);
    t0 = tsp_clock_mono_ms();
    assert_int_equal(tsp_db_exec(lease, "SELECT 1", 0, NULL, NULL, &err), TSP_TIMEOUT);
    took = tsp_clock_mono_ms() - t0;
    kill(pid, SIGCONT);
    assert_true(took >= 700 && took < 2500);
    tsp_pool_return(lease);
    tsp_pool_stats(pool, &st);
    assert_int_equal(st.failover_invalidations, 0); /* one session, not the pool */
    assert_true(select_one(other));
    tsp_pool_return(other);
    tsp_pool_free(pool);
    assert_int_equal(our_sessions(0), 0);
    config_fini(&cfg);
}

static void test_pool_pg_direct_mode_leaves_nothing_open(void **state)
{
    struct tsp_config cfg;
    struct tsp_pool_options o = options(2, 0, 0);
    struct tsp_pool *pool = NULL;
    struct tsp_lease *lease = NULL;
    struct tsp_error err;
    (void)state;

    config_init(&cfg);
    o.mode = TSP_POOL_MODE_DIRECT;
    pool = new_pool(&cfg, &o);
    tsp_error_init(&err);
    assert_int_equal(tsp_pool_borrow(pool, "direct", -1, &lease, &err), TSP_OK);
    assert_true(select_one(lease));
    assert_int_equal(our_sessions(1), 1);
    tsp_pool_return(lease);
    assert_int_equal(our_sessions(0), 0);
    tsp_pool_free(pool);
    config_fini(&cfg);
}

int tsp_test_run(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_pg_borrow_return_real_queries),
        cmocka_unit_test(test_pool_pg_terminate_backend_invisible_to_borrowers),
        cmocka_unit_test(test_pool_pg_restart_mid_stream_recovers),
        cmocka_unit_test(test_pool_pg_server_down_at_start),
        cmocka_unit_test(test_pool_pg_connect_errors_classified_and_scrubbed),
        cmocka_unit_test(test_pool_pg_read_only_error_invalidates_pool),
        cmocka_unit_test(test_pool_pg_direct_mode_leaves_nothing_open),
        cmocka_unit_test(test_pool_pg_statement_timeout_unset_keeps_role_setting),
        cmocka_unit_test(test_pool_pg_statement_deadline_cancels_and_closes),
    };

    return cmocka_run_group_tests_name("pool_pg", tests, group_setup, NULL);
}
