/* pool/conn.c - the libpq connector: connect with the DB_* settings, session initialisation,
 * ping, status, rollback, backend pid, close; pool options derived from the configuration.
 * SPDX-License-Identifier: MIT
 */
#include "pool_int.h"

#include <ctype.h>
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tspool/db.h"
#include "tspool/log.h"

/* TCP settings of every database connection (libpq keepalives_*, tcp_user_timeout) */
#define KEEPALIVES_IDLE_S     "10"
#define KEEPALIVES_INTERVAL_S "5"
#define KEEPALIVES_COUNT      "2"
#define TCP_USER_TIMEOUT_MS   20000

void tsp_pool_options_from_config(const struct tsp_config *cfg, struct tsp_pool_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->mode = cfg->pool_mode;
    opts->size = cfg->pool_size;
    opts->max_overflow = cfg->pool_max_overflow;
    opts->min_idle = cfg->db_min_conns < cfg->pool_size ? cfg->db_min_conns : cfg->pool_size;
    opts->timeout_ms = (long)cfg->db_pool_timeout_s * 1000;
    opts->recycle_ms = (long)cfg->db_pool_recycle_s * 1000;
    opts->preping_idle_ms = cfg->db_preping_idle_ms;
    opts->idle_timeout_ms = (long)cfg->db_idle_timeout_s * 1000;
    opts->leak_ms = cfg->db_leak_detection_ms;
    opts->slow_ms = cfg->db_slow_query_ms;
    opts->health_interval_ms = cfg->health_interval_ms;
    opts->maintenance_interval_ms = 250;
    opts->stats_log_interval_ms = (long)cfg->stats_log_interval_s * 1000;
    opts->statement_deadline_ms = cfg->db_statement_deadline_ms;
    opts->ping_timeout_ms = (long)cfg->db_connect_timeout_s * 1000;
}

/* A connect failure that means "up but refusing us" carries an SQLSTATE; libpq keeps no
 * SQLSTATE for connection failures, so the server's (English, lc_messages=C) text decides. */
static const char *connect_failure_sqlstate(const PGconn *conn, const char *msg)
{
    if (PQconnectionNeedsPassword(conn) || strstr(msg, "password authentication failed") != NULL) {
        return "28P01";
    }
    if (strstr(msg, "no pg_hba.conf entry") != NULL ||
        (strstr(msg, "role \"") != NULL && strstr(msg, "does not exist") != NULL)) {
        return "28000";
    }
    if (strstr(msg, "database \"") != NULL && strstr(msg, "does not exist") != NULL) {
        return "3D000";
    }
    return NULL;
}

static enum tsp_code conn_error(const struct tsp_config *cfg, PGconn *conn, enum tsp_code code,
                                const char *what, struct tsp_error *err)
{
    char text[TSP_ERROR_DETAIL_MAX];
    const char *sqlstate = NULL;

    snprintf(text, sizeof(text), "%s", conn != NULL ? PQerrorMessage(conn) : "out of memory");
    tsp_db_one_line(text);
    tsp_db_scrub_password(text, cfg->db_pass);
    if (code == TSP_DB_UNAVAILABLE && conn != NULL) {
        sqlstate = connect_failure_sqlstate(conn, text);
        if (sqlstate != NULL) {
            code = TSP_DB_ERROR;
        }
    }
    (void)tsp_error_set(err, code, NULL, "%s: %s", what, text);
    tsp_error_set_sqlstate(err, sqlstate);
    return code;
}

/* Read what the server sent until a result is complete; false when nothing complete came
 * before deadline_ms or the connection failed. */
static bool ping_wait(PGconn *conn, int64_t deadline_ms)
{
    while (PQisBusy(conn)) {
        struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};
        int64_t left = deadline_ms - tsp_clock_mono_ms();
        int ready = 0;
        if (left <= 0 || pfd.fd < 0) {
            return false;
        }
        ready = poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
        if (ready < 0 && errno != EINTR) {
            return false;
        }
        if (ready > 0 && !PQconsumeInput(conn)) {
            return false;
        }
    }
    return true;
}

/* Collect the last result of a statement sent with PQsend*, waiting up to deadline_ms. NULL
 * when the server did not complete it in time or the connection failed; the caller then
 * treats the session as bad (it is left busy and closed by its owner). */
static PGresult *result_by(PGconn *conn, int64_t deadline_ms)
{
    PGresult *last = NULL;
    PGresult *res = NULL;

    for (;;) {
        if (!ping_wait(conn, deadline_ms)) {
            PQclear(last);
            return NULL;
        }
        res = PQgetResult(conn);
        if (res == NULL) {
            return last;
        }
        PQclear(last);
        last = res;
    }
}

/* Deadline of session set-up statements and rollbacks: the connect timeout. */
static int64_t setup_deadline(const struct tsp_config *cfg)
{
    int timeout_s = cfg->db_connect_timeout_s > 0 ? cfg->db_connect_timeout_s : 5;
    return tsp_clock_mono_ms() + (int64_t)timeout_s * 1000;
}

static enum tsp_code set_config(const struct tsp_config *cfg, PGconn *conn, const char *name,
                                const char *value, struct tsp_error *err)
{
    const char *params[2] = {name, value};
    PGresult *res = NULL;
    enum tsp_code code = TSP_OK;
    char text[TSP_ERROR_DETAIL_MAX];

    if (PQsendQueryParams(conn, "SELECT set_config($1, $2, false)", 2, NULL, params, NULL, NULL,
                          0)) {
        res = result_by(conn, setup_deadline(cfg));
    }
    if (res == NULL && PQstatus(conn) == CONNECTION_OK) {
        code = tsp_error_set(err, TSP_DB_UNAVAILABLE, "DB_SESSION_SETTINGS",
                             "session setting %s=%s: no answer from the server within %d s", name,
                             value, cfg->db_connect_timeout_s);
    } else if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        snprintf(text, sizeof(text), "%s", PQresultErrorMessage(res));
        tsp_db_one_line(text);
        tsp_db_scrub_password(text, cfg->db_pass);
        code = tsp_error_set(err, state != NULL ? TSP_DB_ERROR : TSP_DB_UNAVAILABLE,
                             "DB_SESSION_SETTINGS", "session setting %s=%s failed: %s", name, value,
                             text);
        tsp_error_set_sqlstate(err, state);
    }
    PQclear(res);
    return code;
}

static bool valid_setting_name(const char *s)
{
    if (!isalpha((unsigned char)*s) && *s != '_') {
        return false;
    }
    for (; *s != '\0'; s++) {
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.') {
            return false;
        }
    }
    return true;
}

static char *trim(char *s)
{
    char *end = NULL;

    while (isspace((unsigned char)*s)) {
        s++;
    }
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1])) {
        *--end = '\0';
    }
    return s;
}

/* statement_timeout (when set), then each "name=value" of DB_SESSION_SETTINGS, as bound
 * parameters, each bounded by the connect timeout. */
static enum tsp_code init_session(const struct tsp_config *cfg, PGconn *conn, struct tsp_error *err)
{
    char timeout[32];
    char *list = NULL;
    char *item = NULL;
    char *save = NULL;
    char *eq = NULL;
    char *name = NULL;
    char *value = NULL;
    enum tsp_code code = TSP_OK;

    /* unset leaves the role's or database's statement_timeout (the DBA's) in force */
    if (cfg->db_statement_timeout_ms >= 0) {
        snprintf(timeout, sizeof(timeout), "%d", cfg->db_statement_timeout_ms);
        code = set_config(cfg, conn, "statement_timeout", timeout, err);
    }
    if (code != TSP_OK || cfg->db_session_settings == NULL) {
        goto done;
    }
    list = strdup(cfg->db_session_settings);
    if (list == NULL) {
        code = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
        goto done;
    }
    for (item = strtok_r(list, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
        eq = strchr(item, '=');
        if (eq == NULL) {
            code = tsp_error_set(err, TSP_INVALID, "DB_SESSION_SETTINGS",
                                 "session setting '%s' is not name=value", trim(item));
            goto done;
        }
        *eq = '\0';
        name = trim(item);
        value = trim(eq + 1);
        if (!valid_setting_name(name) || value[0] == '\0') {
            code = tsp_error_set(err, TSP_INVALID, "DB_SESSION_SETTINGS",
                                 "session setting '%s' needs a name of letters, digits, _ and . "
                                 "and a value",
                                 name);
            goto done;
        }
        code = set_config(cfg, conn, name, value, err);
        if (code != TSP_OK) {
            goto done;
        }
    }
done:
    free(list);
    return code;
}

/* Server notices (and a FATAL that arrives while idle, such as a terminate) go to the log,
 * not to libpq's default stderr printer. */
static void pg_notice(void *arg, const char *message)
{
    char text[TSP_ERROR_DETAIL_MAX];
    const struct tsp_config *cfg = arg;
    struct tsp_log_ctx ctx = {.event = "db.notice", .conn_id = -1};

    if (!tsp_log_enabled(TSP_LOG_LEVEL_DEBUG)) {
        return;
    }
    snprintf(text, sizeof(text), "%s", message);
    tsp_db_one_line(text);
    tsp_db_scrub_password(text, cfg->db_pass);
    TSP_LOG_DEBUG(&ctx, "server notice: %s", text);
}

/* Append key=value to the PQconnectdbParams arrays unless value is NULL (libpq default). */
static size_t add_param(const char **keys, const char **values, size_t n, const char *key,
                        const char *value)
{
    if (value == NULL) {
        return n;
    }
    keys[n] = key;
    values[n] = value;
    return n + 1;
}

static enum tsp_code pg_connect(void *ctx, void **conn_out, struct tsp_error *err)
{
    const struct tsp_config *cfg = ctx;
    const char *keys[20];
    const char *values[20];
    char timeout[16];
    char user_timeout[16];
    PGconn *conn = NULL;
    enum tsp_code code = TSP_OK;
    size_t n = 0;

    snprintf(timeout, sizeof(timeout), "%d", cfg->db_connect_timeout_s);
    n = add_param(keys, values, n, "host", cfg->db_host);
    n = add_param(keys, values, n, "port", cfg->db_port);
    n = add_param(keys, values, n, "dbname", cfg->db_name);
    n = add_param(keys, values, n, "user", cfg->db_user);
    n = add_param(keys, values, n, "password", cfg->db_pass);
    n = add_param(keys, values, n, "connect_timeout",
                  cfg->db_connect_timeout_s > 0 ? timeout : NULL);
    n = add_param(keys, values, n, "sslmode", cfg->db_sslmode);
    n = add_param(keys, values, n, "sslrootcert", cfg->db_sslrootcert);
    n = add_param(keys, values, n, "application_name", cfg->db_application_name);
    n = add_param(keys, values, n, "target_session_attrs", cfg->db_target_session_attrs);
    /* a peer that vanishes (failover with an IP move, a black-holed network) is noticed in
     * about 20 s idle (keepalives) and within TCP_USER_TIMEOUT_MS while data is unacknowledged,
     * instead of the kernel's 15 minutes or more */
    snprintf(user_timeout, sizeof(user_timeout), "%d", TCP_USER_TIMEOUT_MS);
    n = add_param(keys, values, n, "keepalives", "1");
    n = add_param(keys, values, n, "keepalives_idle", KEEPALIVES_IDLE_S);
    n = add_param(keys, values, n, "keepalives_interval", KEEPALIVES_INTERVAL_S);
    n = add_param(keys, values, n, "keepalives_count", KEEPALIVES_COUNT);
    n = add_param(keys, values, n, "tcp_user_timeout", user_timeout);
    keys[n] = NULL;
    values[n] = NULL;

    conn = PQconnectdbParams(keys, values, 0);
    if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
        code = conn_error(cfg, conn, TSP_DB_UNAVAILABLE, "connect failed", err);
        goto done;
    }
    PQsetNoticeProcessor(conn, pg_notice, ctx);
    code = init_session(cfg, conn, err);
    if (code != TSP_OK) {
        goto done;
    }
    *conn_out = conn;
    conn = NULL;
done:
    PQfinish(conn);
    return code;
}

static enum tsp_code pg_ping(void *ctx, void *handle, long timeout_ms, struct tsp_error *err)
{
    const struct tsp_config *cfg = ctx;
    PGconn *conn = handle;
    PGresult *res = NULL;
    enum tsp_code code = TSP_OK;
    int64_t deadline = 0;
    bool answered = true;

    /* the empty query is the cheapest full round trip the server answers. It is sent without
     * blocking on the answer: a silent server (a black-holed network, a stopped process)
     * then costs the caller at most the connect timeout, and the connection, left busy, is
     * closed by its owner as bad */
    if (timeout_ms <= 0) {
        timeout_ms = (long)(cfg->db_connect_timeout_s > 0 ? cfg->db_connect_timeout_s : 5) * 1000;
    }
    deadline = tsp_clock_mono_ms() + timeout_ms;
    if (!PQsendQuery(conn, "")) {
        return conn_error(cfg, conn, TSP_DB_UNAVAILABLE, "ping failed", err);
    }
    for (;;) {
        answered = ping_wait(conn, deadline);
        if (!answered) {
            break;
        }
        res = PQgetResult(conn);
        if (res == NULL) {
            break;
        }
        if (PQresultStatus(res) != PGRES_EMPTY_QUERY) {
            code = TSP_DB_UNAVAILABLE;
        }
        PQclear(res);
    }
    if (!answered && PQstatus(conn) == CONNECTION_OK) {
        return tsp_error_set(err, TSP_DB_UNAVAILABLE, NULL,
                             "ping failed: no answer from the server within %ld ms", timeout_ms);
    }
    if (!answered || code != TSP_OK || PQstatus(conn) != CONNECTION_OK) {
        code = conn_error(cfg, conn, TSP_DB_UNAVAILABLE, "ping failed", err);
    }
    return code;
}

static enum tsp_conn_status pg_status(void *ctx, void *handle)
{
    PGconn *conn = handle;
    (void)ctx;

    if (PQstatus(conn) != CONNECTION_OK) {
        return TSP_CONN_BAD;
    }
    switch (PQtransactionStatus(conn)) {
    case PQTRANS_IDLE:
        return TSP_CONN_IDLE;
    case PQTRANS_INTRANS:
    case PQTRANS_INERROR:
        return TSP_CONN_IN_TRANSACTION;
    default:
        /* a command still running or an unknown state cannot be reused safely */
        return TSP_CONN_BAD;
    }
}

static enum tsp_code pg_rollback(void *ctx, void *handle, struct tsp_error *err)
{
    const struct tsp_config *cfg = ctx;
    PGconn *conn = handle;
    PGresult *res = NULL;
    enum tsp_code code = TSP_OK;

    /* bounded like the session set-up: a frozen server must not hold the returning thread */
    if (PQsendQuery(conn, "ROLLBACK")) {
        res = result_by(conn, setup_deadline(cfg));
    }
    if (res == NULL && PQstatus(conn) == CONNECTION_OK) {
        code = tsp_error_set(err, TSP_DB_UNAVAILABLE, NULL,
                             "rollback failed: no answer from the server within %d s",
                             cfg->db_connect_timeout_s);
    } else if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        code = conn_error(cfg, conn, TSP_DB_UNAVAILABLE, "rollback failed", err);
    }
    PQclear(res);
    return code;
}

static int pg_backend_pid(void *ctx, void *handle)
{
    (void)ctx;
    return PQbackendPID(handle);
}

static void pg_close(void *ctx, void *handle)
{
    (void)ctx;
    PQfinish(handle);
}

/* host:port of the server the session reached, and whether it is a hot standby (reported by
 * PostgreSQL 14+ as in_hot_standby): a different one after a reconnect means failover. */
static void pg_identity(void *ctx, void *handle, char *buf, size_t size)
{
    PGconn *conn = handle;
    const char *host = PQhost(conn);
    const char *port = PQport(conn);
    const char *standby = PQparameterStatus(conn, "in_hot_standby");
    (void)ctx;

    snprintf(buf, size, "%s:%s standby=%s", host != NULL ? host : "", port != NULL ? port : "",
             standby != NULL ? standby : "");
}

void tsp_pool_pg_connector(const struct tsp_config *cfg, struct tsp_connector *out)
{
    memset(out, 0, sizeof(*out));
    /* the connector only reads cfg; the vtable's ctx is not const */
    out->ctx = (void *)(uintptr_t)cfg;
    out->connect = pg_connect;
    out->ping = pg_ping;
    out->status = pg_status;
    out->rollback = pg_rollback;
    out->backend_pid = pg_backend_pid;
    out->close = pg_close;
    out->identity = pg_identity;
}
