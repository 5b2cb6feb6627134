/* db/query.c - SQL on a leased connection: statements sent asynchronously against a deadline
 * (cancelled past it), the opaque result, SQLSTATE -> tsp_code mapping, identifier validation
 * and quoting.
 * SPDX-License-Identifier: MIT
 */
#include "tspool/db.h"

#include <ctype.h>
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tspool/clock.h"

#define IDENT_MAX 63 /* NAMEDATALEN - 1 */

struct tsp_db_result {
    PGresult *res;
};

/* Connection-class failures, server shutdown, too many connections and read-only (failover)
 * make the database unavailable rather than the request wrong. */
enum tsp_code tsp_db_code_for_sqlstate(const char *sqlstate)
{
    static const struct {
        const char *state;
        enum tsp_code code;
    } exact[] = {
        {"57014", TSP_TIMEOUT},            /* query_canceled (statement_timeout) */
        {"57P01", TSP_DB_UNAVAILABLE},     /* admin_shutdown */
        {"57P02", TSP_DB_UNAVAILABLE},     /* crash_shutdown */
        {"57P03", TSP_DB_UNAVAILABLE},     /* cannot_connect_now */
        {"25006", TSP_DB_UNAVAILABLE},     /* read_only_sql_transaction: a standby after failover */
        {"3D000", TSP_DB_UNAVAILABLE},     /* invalid_catalog_name: database does not exist */
        {"23505", TSP_CONFLICT},           /* unique_violation */
        {"23503", TSP_CONFLICT},           /* foreign_key_violation */
        {"23P01", TSP_CONFLICT},           /* exclusion_violation */
        {"42P07", TSP_CONFLICT},           /* duplicate_table */
        {"42710", TSP_CONFLICT},           /* duplicate_object */
        {"42P06", TSP_CONFLICT},           /* duplicate_schema */
        {"42723", TSP_CONFLICT},           /* duplicate_function */
        {"40001", TSP_CONFLICT},           /* serialization_failure */
        {"40P01", TSP_CONFLICT},           /* deadlock_detected */
        {"55P03", TSP_LOCK_NOT_AVAILABLE}, /* lock_not_available (lock_timeout) */
        {"55006", TSP_CONFLICT},           /* object_in_use */
        {"42P01", TSP_NOT_FOUND},          /* undefined_table */
        {"42704", TSP_NOT_FOUND},          /* undefined_object */
        {"3F000", TSP_NOT_FOUND},          /* invalid_schema_name */
        {"42501", TSP_DB_ERROR},           /* insufficient_privilege: the service's role, not the
                                              caller, lacks a grant */
    };
    size_t i;

    if (sqlstate == NULL || sqlstate[0] == '\0') {
        return TSP_DB_UNAVAILABLE;
    }
    for (i = 0; i < sizeof(exact) / sizeof(exact[0]); i++) {
        if (strcmp(sqlstate, exact[i].state) == 0) {
            return exact[i].code;
        }
    }
    if (strncmp(sqlstate, "08", 2) == 0 || strncmp(sqlstate, "53", 2) == 0 ||
        strncmp(sqlstate, "28", 2) == 0) {
        return TSP_DB_UNAVAILABLE;
    }
    if (strncmp(sqlstate, "22", 2) == 0 || strncmp(sqlstate, "23", 2) == 0 ||
        strncmp(sqlstate, "42", 2) == 0) {
        return TSP_INVALID;
    }
    return TSP_DB_ERROR;
}

/* Copy at most 64 bytes of a user value for an error message, with non-printable bytes
 * shown as '?', so that the detail stays one readable line. */
static const char *printable(const char *value, char *buf, size_t size)
{
    size_t i = 0;

    for (; value[i] != '\0' && i + 1 < size && i < 64; i++) {
        unsigned char c = (unsigned char)value[i];
        buf[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    buf[i] = '\0';
    return buf;
}

static bool ident_first(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool ident_next(unsigned char c)
{
    return ident_first(c) || (c >= '0' && c <= '9') || c == '$';
}

enum tsp_code tsp_db_identifier_validate(const char *ident, const char *field,
                                         struct tsp_error *err)
{
    char shown[80];
    size_t len;
    size_t i;

    if (ident == NULL || ident[0] == '\0') {
        return tsp_error_set(err, TSP_INVALID, field, "%s: identifier must not be empty",
                             field != NULL ? field : "name");
    }
    len = strlen(ident);
    printable(ident, shown, sizeof(shown));
    if (len > IDENT_MAX) {
        return tsp_error_set(err, TSP_INVALID, field,
                             "%s: identifier \"%s...\" is %zu bytes long; at most %d allowed",
                             field != NULL ? field : "name", shown, len, IDENT_MAX);
    }
    if (!ident_first((unsigned char)ident[0])) {
        return tsp_error_set(err, TSP_INVALID, field,
                             "%s: identifier \"%s\" must start with a letter or '_'",
                             field != NULL ? field : "name", shown);
    }
    for (i = 1; i < len; i++) {
        if (!ident_next((unsigned char)ident[i])) {
            return tsp_error_set(err, TSP_INVALID, field,
                                 "%s: identifier \"%s\" may contain only letters, digits, '_' "
                                 "and '$'",
                                 field != NULL ? field : "name", shown);
        }
    }
    return TSP_OK;
}

enum tsp_code tsp_db_qualified_validate(const char *name, const char *field, struct tsp_error *err)
{
    char part[IDENT_MAX + 2];
    const char *dot = NULL;
    size_t schema_len;
    enum tsp_code rc;

    if (name == NULL) {
        return tsp_db_identifier_validate(name, field, err);
    }
    dot = strchr(name, '.');
    if (dot == NULL) {
        return tsp_db_identifier_validate(name, field, err);
    }
    schema_len = (size_t)(dot - name);
    if (schema_len > IDENT_MAX) {
        /* too long either way; let the whole name be reported */
        schema_len = IDENT_MAX + 1;
    }
    memcpy(part, name, schema_len);
    part[schema_len] = '\0';
    rc = tsp_db_identifier_validate(part, field, err);
    if (rc != TSP_OK) {
        return rc;
    }
    return tsp_db_identifier_validate(dot + 1, field, err);
}

void tsp_db_result_free(struct tsp_db_result *res)
{
    if (res == NULL) {
        return;
    }
    PQclear(res->res);
    free(res);
}

int tsp_db_result_rows(const struct tsp_db_result *res)
{
    return res != NULL ? PQntuples(res->res) : 0;
}

int tsp_db_result_cols(const struct tsp_db_result *res)
{
    return res != NULL ? PQnfields(res->res) : 0;
}

int tsp_db_result_col(const struct tsp_db_result *res, const char *name)
{
    int i;

    if (res == NULL || name == NULL) {
        return -1;
    }
    /* exact match: PQfnumber would fold case and parse quotes */
    for (i = 0; i < PQnfields(res->res); i++) {
        if (strcmp(PQfname(res->res, i), name) == 0) {
            return i;
        }
    }
    return -1;
}

const char *tsp_db_result_value(const struct tsp_db_result *res, int row, int col)
{
    if (res == NULL || row < 0 || col < 0 || row >= PQntuples(res->res) ||
        col >= PQnfields(res->res) || PQgetisnull(res->res, row, col)) {
        return NULL;
    }
    return PQgetvalue(res->res, row, col);
}

bool tsp_db_result_bool(const struct tsp_db_result *res, int row, int col)
{
    const char *v = tsp_db_result_value(res, row, col);
    return v != NULL && strcmp(v, "t") == 0;
}

long long tsp_db_result_int(const struct tsp_db_result *res, int row, int col, long long fallback)
{
    const char *v = tsp_db_result_value(res, row, col);
    char *end = NULL;
    long long n;

    if (v == NULL || v[0] == '\0') {
        return fallback;
    }
    errno = 0;
    n = strtoll(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0') {
        return fallback;
    }
    return n;
}

long long tsp_db_result_affected(const struct tsp_db_result *res)
{
    const char *tuples = NULL;
    char *end = NULL;
    long long n;

    if (res == NULL) {
        return -1;
    }
    tuples = PQcmdTuples(res->res);
    if (tuples == NULL || tuples[0] == '\0') {
        return -1;
    }
    errno = 0;
    n = strtoll(tuples, &end, 10);
    if (errno != 0 || *end != '\0') {
        return -1;
    }
    return n;
}

static PGconn *lease_conn(struct tsp_lease *lease)
{
    return lease != NULL ? (PGconn *)tsp_lease_handle(lease) : NULL;
}

int tsp_db_server_version(struct tsp_lease *lease)
{
    PGconn *conn = lease_conn(lease);
    return conn != NULL ? PQserverVersion(conn) : 0;
}

const char *tsp_db_database_name(struct tsp_lease *lease)
{
    PGconn *conn = lease_conn(lease);
    const char *db = conn != NULL ? PQdb(conn) : NULL;
    return db != NULL ? db : "";
}

void tsp_db_server_name(struct tsp_lease *lease, char *buf, size_t size)
{
    PGconn *conn = lease_conn(lease);
    const char *host = conn != NULL ? PQhost(conn) : NULL;
    const char *port = conn != NULL ? PQport(conn) : NULL;

    if (size == 0) {
        return;
    }
    snprintf(buf, size, "%s:%s", host != NULL ? host : "", port != NULL ? port : "");
}

/* Record a failed statement in err: code from the SQLSTATE, the server's primary message and
 * detail (scrubbed of the session's password), the SQLSTATE itself. */
static enum tsp_code exec_error(PGconn *conn, const PGresult *res, const char *sqlstate,
                                struct tsp_error *err)
{
    char text[TSP_ERROR_DETAIL_MAX];
    const char *primary = NULL;
    const char *detail = NULL;
    enum tsp_code code = tsp_db_code_for_sqlstate(sqlstate);

    if (res != NULL) {
        primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
    }
    if (primary == NULL) {
        primary = PQerrorMessage(conn);
    }
    if (primary == NULL || primary[0] == '\0') {
        primary = "no result from the server";
    }
    if (detail != NULL && detail[0] != '\0') {
        snprintf(text, sizeof(text), "%s (%s)", primary, detail);
    } else {
        snprintf(text, sizeof(text), "%s", primary);
    }
    tsp_db_one_line(text);
    tsp_db_scrub_password(text, PQpass(conn));
    (void)tsp_error_set(err, code, NULL, "%s", text);
    tsp_error_set_sqlstate(err, sqlstate);
    return code;
}

/* PQcancel connects to the server and waits for it: a black-holed network would hold the
 * caller for the TCP connect timeout. It runs on a detached thread of its own instead, which
 * owns (and frees) the cancel object. */
static void *cancel_main(void *arg)
{
    PGcancel *cancel = arg;
    char errbuf[256];

    (void)PQcancel(cancel, errbuf, (int)sizeof(errbuf));
    PQfreeCancel(cancel);
    return NULL;
}

static void cancel_async(PGconn *conn)
{
    PGcancel *cancel = PQgetCancel(conn);
    pthread_attr_t attr;
    pthread_t thread;
    bool started = false;

    if (cancel == NULL) {
        return;
    }
    if (pthread_attr_init(&attr) == 0) {
        (void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        started = pthread_create(&thread, &attr, cancel_main, cancel) == 0;
        pthread_attr_destroy(&attr);
    }
    if (!started) {
        PQfreeCancel(cancel); /* the connection is closed on return anyway */
    }
}

/* Read the statement's results until the last one, or give up at deadline_ms (monotonic).
 * Returns the last result (the caller clears it) or NULL with *late set when the deadline
 * passed, or NULL when the connection failed. */
static PGresult *await_result(PGconn *conn, double deadline_ms, bool *late)
{
    PGresult *last = NULL;
    PGresult *res = NULL;

    *late = false;
    for (;;) {
        while (PQisBusy(conn)) {
            struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};
            double left = deadline_ms - ((double)tsp_clock_mono_ns() / 1e6);
            int ready = 0;
            if (pfd.fd < 0) {
                PQclear(last);
                return NULL;
            }
            if (left <= 0) {
                *late = true;
                PQclear(last);
                return NULL;
            }
            ready = poll(&pfd, 1, left > 1000 ? 1000 : (int)left + 1);
            if ((ready < 0 && errno != EINTR) || (ready > 0 && !PQconsumeInput(conn))) {
                /* the connection failed: what libpq kept is the best answer */
                break;
            }
        }
        res = PQgetResult(conn);
        if (res == NULL) {
            return last;
        }
        PQclear(last);
        last = res;
        if (PQstatus(conn) != CONNECTION_OK) {
            return last;
        }
    }
}

/* The statement, sent without waiting for the answer and awaited for at most deadline_ms;
 * `knob` names the setting that chose the deadline, for the error text. */
static enum tsp_code exec_by(struct tsp_lease *lease, const char *sql, int nparams,
                             const char *const *params, long deadline_ms, const char *knob,
                             struct tsp_db_result **out, struct tsp_error *err)
{
    PGconn *conn = lease_conn(lease);
    PGresult *res = NULL;
    struct tsp_db_result *wrap = NULL;
    const char *sqlstate = NULL;
    ExecStatusType status;
    double started;
    bool late = false;
    enum tsp_code rc = TSP_OK;

    if (conn == NULL || sql == NULL || nparams < 0 || (nparams > 0 && params == NULL) ||
        deadline_ms < 1) {
        return tsp_error_set(err, TSP_INTERNAL, NULL,
                             "tsp_db_exec called without a connection "
                             "or with bad parameters");
    }
    started = ((double)tsp_clock_mono_ns() / 1e6);
    /* sent without waiting for the answer, so that a server that stops answering mid-statement
     * (a frozen backend, a failover that moved the address) costs at most the deadline */
    if (PQsendQueryParams(conn, sql, nparams, NULL, params, NULL, NULL, 0)) {
        res = await_result(conn, started + (double)deadline_ms, &late);
    }
    tsp_lease_report_duration(lease, tsp_lease_label(lease),
                              ((double)tsp_clock_mono_ns() / 1e6) - started);
    if (late) {
        /* cancel on the server, then the session is closed on return (it is left busy) */
        cancel_async(conn);
        tsp_lease_report_error(lease, "57014");
        rc = tsp_error_set(err, TSP_TIMEOUT, NULL,
                           "the database gave no answer within %ld ms (%s); "
                           "the statement was cancelled and its connection closed",
                           deadline_ms, knob);
        tsp_error_set_sqlstate(err, "57014");
        goto done;
    }
    status = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && status != PGRES_EMPTY_QUERY) {
        sqlstate = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
        if (sqlstate == NULL && PQstatus(conn) != CONNECTION_OK) {
            /* the server went away without a word: tell the pool it is a connection failure */
            sqlstate = "08006";
        } else if (sqlstate == NULL) {
            /* a client-side failure on a healthy session (e.g. out of memory) */
            sqlstate = "";
        }
        tsp_lease_report_error(lease, sqlstate);
        rc = exec_error(conn, res, sqlstate, err);
        goto done;
    }
    if (out != NULL) {
        wrap = calloc(1, sizeof(*wrap));
        if (wrap == NULL) {
            rc = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory for a query result");
            goto done;
        }
        wrap->res = res;
        res = NULL;
        *out = wrap;
    }
done:
    PQclear(res);
    return rc;
}

enum tsp_code tsp_db_exec(struct tsp_lease *lease, const char *sql, int nparams,
                          const char *const *params, struct tsp_db_result **out,
                          struct tsp_error *err)
{
    long deadline_ms = lease != NULL ? tsp_lease_statement_deadline_ms(lease) : 0;

    return exec_by(lease, sql, nparams, params, deadline_ms, "DB_STATEMENT_DEADLINE_MS", out, err);
}

enum tsp_code tsp_db_exec_deadline(struct tsp_lease *lease, const char *sql, int nparams,
                                   const char *const *params, long timeout_ms,
                                   struct tsp_db_result **out, struct tsp_error *err)
{
    return exec_by(lease, sql, nparams, params, timeout_ms, "the operation's own deadline", out,
                   err);
}

enum tsp_code tsp_db_identifier_quote(struct tsp_lease *lease, const char *ident, const char *field,
                                      char **out, struct tsp_error *err)
{
    PGconn *conn = lease_conn(lease);
    char *quoted = NULL;
    char *copy = NULL;
    enum tsp_code rc;

    rc = tsp_db_identifier_validate(ident, field, err);
    if (rc != TSP_OK) {
        return rc;
    }
    if (conn == NULL) {
        return tsp_error_set(err, TSP_INTERNAL, field, "no connection to quote an identifier");
    }
    quoted = PQescapeIdentifier(conn, ident, strlen(ident));
    if (quoted == NULL) {
        rc = tsp_error_set(err, TSP_NO_MEMORY, field, "quoting identifier failed");
        goto done;
    }
    copy = strdup(quoted);
    if (copy == NULL) {
        rc = tsp_error_set(err, TSP_NO_MEMORY, field, "out of memory");
        goto done;
    }
    *out = copy;
done:
    PQfreemem(quoted);
    return rc;
}

enum tsp_code tsp_db_qualified_quote(struct tsp_lease *lease, const char *name, const char *field,
                                     char **out, struct tsp_error *err)
{
    char schema[IDENT_MAX + 1];
    const char *dot = NULL;
    char *qschema = NULL;
    char *qname = NULL;
    char *joined = NULL;
    size_t len;
    enum tsp_code rc;

    rc = tsp_db_qualified_validate(name, field, err);
    if (rc != TSP_OK) {
        return rc;
    }
    dot = strchr(name, '.');
    if (dot == NULL) {
        return tsp_db_identifier_quote(lease, name, field, out, err);
    }
    len = (size_t)(dot - name); /* validated: 1..63 */
    memcpy(schema, name, len);
    schema[len] = '\0';
    rc = tsp_db_identifier_quote(lease, schema, field, &qschema, err);
    if (rc != TSP_OK) {
        goto done;
    }
    rc = tsp_db_identifier_quote(lease, dot + 1, field, &qname, err);
    if (rc != TSP_OK) {
        goto done;
    }
    len = strlen(qschema) + strlen(qname) + 2;
    joined = malloc(len);
    if (joined == NULL) {
        rc = tsp_error_set(err, TSP_NO_MEMORY, field, "out of memory");
        goto done;
    }
    snprintf(joined, len, "%s.%s", qschema, qname);
    *out = joined;
done:
    free(qname);
    free(qschema);
    return rc;
}

int tsp_db_libpq_version(void)
{
    return PQlibVersion();
}
