/* pgbouncer/console.c - one admin console connection with deadlines: a non-blocking connect
 * (PQconnectStartParams + poll) and a statement sent with PQsendQuery (simple protocol only),
 * cancelled when the deadline passes; login refusals told apart from outages.
 * SPDX-License-Identifier: MIT
 */
#include "pgbouncer_int.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tspool/clock.h"
#include "tspool/db.h"

/* libpq's error text as one line, the password scrubbed. */
static void error_line(PGconn *conn, const char *password, char *out, size_t outsize)
{
    const char *msg = conn != NULL ? PQerrorMessage(conn) : "out of memory";

    snprintf(out, outsize, "%s", msg != NULL && msg[0] != '\0' ? msg : "connection failed");
    tsp_db_one_line(out);
    tsp_db_scrub_password(out, password);
}

/* A login the console refused, as opposed to one that never reached it. */
static bool is_login_refusal(const char *msg)
{
    static const char *const words[] = {"password authentication failed",
                                        "SASL authentication failed",
                                        "no such user",
                                        "not allowed",
                                        "no password supplied",
                                        "authentication failed",
                                        "admin access",
                                        "login rejected"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strstr(msg, words[i]) != NULL) {
            return true;
        }
    }
    return false;
}

/* Wait until the socket is ready for `events` or the deadline passes; false on timeout. */
static bool wait_socket(int fd, short events, int64_t deadline_ms)
{
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = events};
        int64_t left = deadline_ms - tsp_clock_mono_ms();
        int ready = 0;
        if (left <= 0) {
            return false;
        }
        ready = poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
        if (ready > 0) {
            return true;
        }
        if (ready < 0 && errno != EINTR) {
            return true; /* let libpq see the error */
        }
    }
}

enum tsp_code tsp_pgb_console_connect(const char *addr, int port, const char *user,
                                      const char *password, int connect_timeout_s,
                                      int64_t deadline_ms, PGconn **out, enum tsp_pgb_fail *fail,
                                      struct tsp_error *err)
{
    char port_text[16];
    char timeout_text[16];
    char why[TSP_PGB_ERROR_MAX];
    const char *keys[9] = {"hostaddr", "port",    "dbname",          "user",
                           "password", "sslmode", "connect_timeout", "application_name"};
    const char *values[9] = {addr,     port_text, "pgbouncer",  user,
                             password, "prefer",  timeout_text, "tspool"};
    PGconn *conn = NULL;
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    enum tsp_code code = TSP_OK;

    *fail = TSP_PGB_FAIL_NONE;
    snprintf(port_text, sizeof(port_text), "%d", port);
    snprintf(timeout_text, sizeof(timeout_text), "%d", connect_timeout_s);
    /* a NULL value (no password) counts as not given */
    keys[8] = NULL;
    values[8] = NULL;
    conn = PQconnectStartParams(keys, values, 0);
    if (conn == NULL) {
        code = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
        goto done;
    }
    while (PQstatus(conn) != CONNECTION_BAD && st != PGRES_POLLING_OK &&
           st != PGRES_POLLING_FAILED) {
        if (st == PGRES_POLLING_READING || st == PGRES_POLLING_WRITING) {
            short ev = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
            if (!wait_socket(PQsocket(conn), ev, deadline_ms)) {
                *fail = TSP_PGB_FAIL_DOWN;
                code =
                    tsp_error_set(err, TSP_TIMEOUT, NULL,
                                  "no answer within the connect timeout (%d s)", connect_timeout_s);
                goto done;
            }
        }
        st = PQconnectPoll(conn);
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        error_line(conn, password, why, sizeof(why));
        *fail = is_login_refusal(why) ? TSP_PGB_FAIL_MISCONFIGURED : TSP_PGB_FAIL_DOWN;
        code = tsp_error_set(err, TSP_UNAVAILABLE, NULL, "%s", why);
        goto done;
    }
    *out = conn;
    conn = NULL;
done:
    PQfinish(conn);
    return code;
}

/* PQcancel blocks until the server closes the cancel connection, and a stopped PgBouncer
 * never does: send it from a thread of its own that nobody waits for. */
static void *cancel_main(void *arg)
{
    PGcancel *cancel = arg;
    char buf[256];

    (void)PQcancel(cancel, buf, (int)sizeof(buf));
    PQfreeCancel(cancel);
    return NULL;
}

static void cancel_detached(PGconn *conn)
{
    PGcancel *cancel = PQgetCancel(conn);
    pthread_t thread;
    pthread_attr_t attr;

    if (cancel == NULL) {
        return;
    }
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&thread, &attr, cancel_main, cancel) != 0) {
        PQfreeCancel(cancel);
    }
    pthread_attr_destroy(&attr);
}

enum tsp_code tsp_pgb_console_exec(PGconn *conn, const char *sql, int64_t deadline_ms, bool cancel,
                                   PGresult **out, enum tsp_pgb_fail *fail, struct tsp_error *err)
{
    PGresult *last = NULL;
    PGresult *res = NULL;
    char why[TSP_PGB_ERROR_MAX];
    enum tsp_code code = TSP_OK;
    int flushed = 0;

    *fail = TSP_PGB_FAIL_NONE;
    if (PQsetnonblocking(conn, 1) != 0 || !PQsendQuery(conn, sql)) {
        error_line(conn, PQpass(conn), why, sizeof(why));
        *fail = TSP_PGB_FAIL_DOWN;
        code = tsp_error_set(err, TSP_UNAVAILABLE, NULL, "%s", why);
        goto done;
    }
    while ((flushed = PQflush(conn)) == 1) {
        if (!wait_socket(PQsocket(conn), POLLOUT, deadline_ms)) {
            break;
        }
    }
    for (;;) {
        while (flushed == 0 && !PQisBusy(conn)) {
            res = PQgetResult(conn);
            if (res == NULL) {
                goto finished;
            }
            PQclear(last);
            last = res;
            res = NULL;
        }
        if (flushed < 0 || !wait_socket(PQsocket(conn), POLLIN, deadline_ms)) {
            if (flushed < 0) {
                break;
            }
            *fail = TSP_PGB_FAIL_DOWN;
            if (cancel) {
                cancel_detached(conn);
            }
            code = tsp_error_set(err, TSP_TIMEOUT, NULL,
                                 "no answer to %.40s within the statement deadline", sql);
            goto done;
        }
        if (!PQconsumeInput(conn)) {
            break;
        }
    }
    error_line(conn, PQpass(conn), why, sizeof(why));
    *fail = TSP_PGB_FAIL_DOWN;
    code = tsp_error_set(err, TSP_UNAVAILABLE, NULL, "%s", why);
    goto done;
finished:
    if (last == NULL) {
        *fail = TSP_PGB_FAIL_DOWN;
        code = tsp_error_set(err, TSP_UNAVAILABLE, NULL, "no result");
        goto done;
    }
    if (PQresultStatus(last) != PGRES_COMMAND_OK && PQresultStatus(last) != PGRES_TUPLES_OK) {
        const char *msg = PQresultErrorField(last, PG_DIAG_MESSAGE_PRIMARY);
        snprintf(why, sizeof(why), "%s", msg != NULL ? msg : "command failed");
        *fail = TSP_PGB_FAIL_COMMAND;
        code = tsp_error_set(err, TSP_DB_ERROR, NULL, "%s", why);
        tsp_error_set_sqlstate(err, PQresultErrorField(last, PG_DIAG_SQLSTATE));
        goto done;
    }
    *out = last;
    last = NULL;
done:
    PQclear(res);
    PQclear(last);
    return code;
}
