/* pool/conn.c - the libpq connector: connect with the DB_* settings, session initialisation,
 * ping, status, rollback, backend pid, close; pool options derived from the configuration.
 * SPDX-License-Identifier: MIT
 */
#include "pool_int.h"

#include <ctype.h>
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
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

/* How often a new DB_PASS_FILE is looked at, and a refused new password tried again. */
#define PASS_WATCH_MS 1000
#define PASS_RETRY_MS 2000

/* The connector's context: the configuration and the password new connections use, which
 * follows DB_PASS_FILE (a rotated Secret) once the server accepts the new one. */
struct pg_ctx {
    const struct tsp_config *cfg; /* borrowed; outlives the connector */
    pthread_mutex_t lock;         /* guards password and pending */
    char *password;               /* used by new connections; NULL = none */
    char *pending;                /* a new password the server refused so far; NULL = none */
    /* the rest belongs to the thread that calls rotate (the pool's maintenance thread) */
    struct tsp_file_watch *watch; /* DB_PASS_FILE, NULL when the password is not from a file */
    int64_t next_try_ms;          /* monotonic; when to try `pending` again */
    struct tsp_error refused;     /* why `pending` was refused */
};

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

/* tsp_db_scrub_password with every password the connector knows (configured, current,
 * pending). */
static void scrub(char *text, struct pg_ctx *ctx)
{
    tsp_db_scrub_password(text, ctx->cfg->db_pass);
    pthread_mutex_lock(&ctx->lock);
    tsp_db_scrub_password(text, ctx->password);
    tsp_db_scrub_password(text, ctx->pending);
    pthread_mutex_unlock(&ctx->lock);
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

static enum tsp_code conn_error(struct pg_ctx *ctx, PGconn *conn, enum tsp_code code,
                                const char *what, struct tsp_error *err)
{
    char text[TSP_ERROR_DETAIL_MAX];
    const char *sqlstate = NULL;

    snprintf(text, sizeof(text), "%s", conn != NULL ? PQerrorMessage(conn) : "out of memory");
    tsp_db_one_line(text);
    scrub(text, ctx);
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

static enum tsp_code set_config(struct pg_ctx *ctx, PGconn *conn, const char *name,
                                const char *value, struct tsp_error *err)
{
    const char *params[2] = {name, value};
    PGresult *res = NULL;
    enum tsp_code code = TSP_OK;
    char text[TSP_ERROR_DETAIL_MAX];
    const struct tsp_config *cfg = ctx->cfg;

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
        scrub(text, ctx);
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
static enum tsp_code init_session(struct pg_ctx *ctx, PGconn *conn, struct tsp_error *err)
{
    const struct tsp_config *cfg = ctx->cfg;
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
        code = set_config(ctx, conn, "statement_timeout", timeout, err);
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
        code = set_config(ctx, conn, name, value, err);
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
    struct tsp_log_ctx ctx = {.event = "db.notice", .conn_id = -1};

    if (!tsp_log_enabled(TSP_LOG_LEVEL_DEBUG)) {
        return;
    }
    snprintf(text, sizeof(text), "%s", message);
    tsp_db_one_line(text);
    scrub(text, arg);
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

/* Open a session with `password` (NULL = none); no session settings yet. The connect
 * timeout bounds the wait. */
static enum tsp_code open_session(struct pg_ctx *ctx, const char *password, PGconn **out,
                                  struct tsp_error *err)
{
    const struct tsp_config *cfg = ctx->cfg;
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
    n = add_param(keys, values, n, "password", password);
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
        code = conn_error(ctx, conn, TSP_DB_UNAVAILABLE, "connect failed", err);
        goto done;
    }
    PQsetNoticeProcessor(conn, pg_notice, ctx);
    *out = conn;
    conn = NULL;
done:
    PQfinish(conn);
    return code;
}

static enum tsp_code pg_connect(void *vctx, void **conn_out, struct tsp_error *err)
{
    struct pg_ctx *ctx = vctx;
    PGconn *conn = NULL;
    char *password = NULL;
    enum tsp_code code = TSP_OK;

    pthread_mutex_lock(&ctx->lock);
    if (ctx->password != NULL) {
        password = strdup(ctx->password);
        if (password == NULL) {
            code = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
        }
    }
    pthread_mutex_unlock(&ctx->lock);
    if (code != TSP_OK) {
        goto done;
    }
    code = open_session(ctx, password, &conn, err);
    if (code != TSP_OK) {
        goto done;
    }
    code = init_session(ctx, conn, err);
    if (code != TSP_OK) {
        goto done;
    }
    *conn_out = conn;
    conn = NULL;
done:
    PQfinish(conn);
    free(password);
    return code;
}

static enum tsp_code pg_ping(void *vctx, void *handle, long timeout_ms, struct tsp_error *err)
{
    struct pg_ctx *ctx = vctx;
    const struct tsp_config *cfg = ctx->cfg;
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
        return conn_error(ctx, conn, TSP_DB_UNAVAILABLE, "ping failed", err);
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
        code = conn_error(ctx, conn, TSP_DB_UNAVAILABLE, "ping failed", err);
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

static enum tsp_code pg_rollback(void *vctx, void *handle, struct tsp_error *err)
{
    struct pg_ctx *ctx = vctx;
    const struct tsp_config *cfg = ctx->cfg;
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
        code = conn_error(ctx, conn, TSP_DB_UNAVAILABLE, "rollback failed", err);
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

static void log_password(const char *path, bool warn, const char *what)
{
    struct tsp_log_field fields[2] = {{.key = "variable", .str = "DB_PASS"},
                                      {.key = "file", .str = path}};
    struct tsp_log_ctx lctx = {
        .event = "db.password_file", .conn_id = -1, .fields = fields, .nfields = 2};

    if (warn) {
        TSP_LOG_WARN(&lctx, "DB_PASS_FILE %s: %s", path, what);
    } else {
        TSP_LOG_INFO(&lctx, "DB_PASS_FILE %s: %s", path, what);
    }
}

/* A changed DB_PASS_FILE becomes `pending` (unless it holds the password in use). */
static void take_new_file(struct pg_ctx *ctx)
{
    const char *path = tsp_file_watch_path(ctx->watch);
    struct tsp_error rerr;
    char what[TSP_ERROR_DETAIL_MAX + 64];
    char *fresh = NULL;
    bool same = false;

    tsp_error_init(&rerr);
    if (tsp_config_read_secret("DB_PASS", path, &fresh, &rerr) != TSP_OK) {
        snprintf(what, sizeof(what), "%s; keeping the previous password", rerr.detail);
        log_password(path, true, what);
        return;
    }
    pthread_mutex_lock(&ctx->lock);
    same = ctx->password != NULL && strcmp(ctx->password, fresh) == 0;
    free(ctx->pending);
    ctx->pending = same ? NULL : fresh;
    pthread_mutex_unlock(&ctx->lock);
    if (same) {
        free(fresh);
        return;
    }
    ctx->next_try_ms = 0;
    log_password(path, false, "changed; trying the new password");
}

/* The connector's rotate: follow DB_PASS_FILE. A new password is tried with one connection;
 * accepted, it replaces the old one for new connections (*changed); refused by the server, the
 * old one stays in use and the refusal is returned (TSP_DB_ERROR) until the server accepts it
 * or the file changes again. A server that cannot be reached is not a refusal: the new
 * password is tried again later. */
static enum tsp_code pg_rotate(void *vctx, bool *changed, struct tsp_error *err)
{
    struct pg_ctx *ctx = vctx;
    struct tsp_error cerr;
    PGconn *conn = NULL;
    char *pending = NULL;
    int64_t now = tsp_clock_mono_ms();
    enum tsp_code code = TSP_OK;

    *changed = false;
    if (ctx->watch == NULL) {
        return TSP_OK;
    }
    if (tsp_file_watch_changed(ctx->watch)) {
        take_new_file(ctx);
    }
    pthread_mutex_lock(&ctx->lock);
    pending = ctx->pending != NULL ? strdup(ctx->pending) : NULL;
    pthread_mutex_unlock(&ctx->lock);
    if (pending == NULL) {
        tsp_error_init(&ctx->refused);
        goto done;
    }
    if (now < ctx->next_try_ms) {
        code = ctx->refused.code;
        goto done;
    }
    ctx->next_try_ms = now + PASS_RETRY_MS;
    tsp_error_init(&cerr);
    code = open_session(ctx, pending, &conn, &cerr);
    if (code == TSP_OK) {
        pthread_mutex_lock(&ctx->lock);
        free(ctx->password);
        ctx->password = ctx->pending;
        ctx->pending = NULL;
        pthread_mutex_unlock(&ctx->lock);
        tsp_error_init(&ctx->refused);
        *changed = true;
        log_password(tsp_file_watch_path(ctx->watch), false,
                     "the server accepted the new password; new connections use it");
        goto done;
    }
    if (code == TSP_DB_UNAVAILABLE) {
        /* the server did not answer: nothing is known about the password yet */
        code = ctx->refused.code;
        goto done;
    }
    if (ctx->refused.code == TSP_OK) {
        log_password(tsp_file_watch_path(ctx->watch), true,
                     "the server refused the new password; connections keep using the "
                     "previous one");
    }
    tsp_error_init(&ctx->refused);
    (void)tsp_error_set(&ctx->refused, code, "DB_PASS_FILE",
                        "DB_PASS_FILE \"%s\": the new password was refused (%s); connections "
                        "opened with the previous password keep serving",
                        tsp_file_watch_path(ctx->watch), cerr.detail);
    tsp_error_set_sqlstate(&ctx->refused, cerr.sqlstate);
done:
    if (code != TSP_OK) {
        (void)tsp_error_set(err, code, ctx->refused.field, "%s", ctx->refused.detail);
        tsp_error_set_sqlstate(err, ctx->refused.sqlstate);
    }
    PQfinish(conn);
    free(pending);
    return code;
}

static void pg_release(void *vctx)
{
    struct pg_ctx *ctx = vctx;

    tsp_file_watch_free(ctx->watch);
    free(ctx->password);
    free(ctx->pending);
    pthread_mutex_destroy(&ctx->lock);
    free(ctx);
}

enum tsp_code tsp_pool_pg_connector(const struct tsp_config *cfg, struct tsp_connector *out,
                                    struct tsp_error *err)
{
    struct pg_ctx *ctx = calloc(1, sizeof(*ctx));
    const char *path = tsp_config_file_of(cfg, "DB_PASS");
    enum tsp_code code = TSP_OK;

    if (ctx == NULL) {
        return tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
    }
    ctx->cfg = cfg;
    pthread_mutex_init(&ctx->lock, NULL);
    if (cfg->db_pass != NULL) {
        ctx->password = strdup(cfg->db_pass);
        if (ctx->password == NULL) {
            code = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
            goto done;
        }
    }
    if (path != NULL) {
        ctx->watch = tsp_file_watch_new(path, PASS_WATCH_MS);
        if (ctx->watch == NULL) {
            code = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
            goto done;
        }
    }
    memset(out, 0, sizeof(*out));
    out->ctx = ctx;
    out->connect = pg_connect;
    out->ping = pg_ping;
    out->status = pg_status;
    out->rollback = pg_rollback;
    out->backend_pid = pg_backend_pid;
    out->close = pg_close;
    out->identity = pg_identity;
    out->rotate = pg_rotate;
    out->release = pg_release;
    ctx = NULL;
done:
    if (ctx != NULL) {
        free(ctx->password);
        pthread_mutex_destroy(&ctx->lock);
        free(ctx);
    }
    return code;
}
