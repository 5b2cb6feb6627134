/* pgbouncer_int.h - declarations shared inside service/pgbouncer/ (and its unit tests): the
 * console connection with deadlines, name resolution, table and snapshot helpers.
 * SPDX-License-Identifier: MIT
 */
#ifndef TSPOOL_PGBOUNCER_INT_H
#define TSPOOL_PGBOUNCER_INT_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tspool/error.h"
#include "tspool/pgbouncer.h"

/* How a console call failed, for the instance state. */
enum tsp_pgb_fail {
    TSP_PGB_FAIL_NONE = 0,
    TSP_PGB_FAIL_DOWN,          /* refused, reset, timed out */
    TSP_PGB_FAIL_MISCONFIGURED, /* login refused: password, unknown user, not an admin */
    TSP_PGB_FAIL_COMMAND,       /* the console answered with an error */
};

/* Connect to the admin console ("pgbouncer" database) at addr:port (a numeric address) as
 * user/password, giving up at deadline_ms (tsp_clock_mono_ms clock). connect_timeout_s is
 * also passed to libpq. On TSP_OK *out is the connection (PQfinish it). Else TSP_UNAVAILABLE
 * or TSP_TIMEOUT with *fail set and the reason (password scrubbed) in err. Blocks until the
 * deadline at most. */
enum tsp_code tsp_pgb_console_connect(const char *addr, int port, const char *user,
                                      const char *password, int connect_timeout_s,
                                      int64_t deadline_ms, PGconn **out, enum tsp_pgb_fail *fail,
                                      struct tsp_error *err) TSP_MUSTCHECK;

/* Send sql with the simple query protocol (PQsendQuery; the console knows no other) and wait
 * for its last result until deadline_ms. On TSP_OK *out is that result (PQclear it) with
 * status COMMAND_OK or TUPLES_OK. Errors: TSP_DB_ERROR (the console's error message, *fail =
 * COMMAND), TSP_TIMEOUT (no answer by the deadline: when cancel is true a cancel request is
 * sent from a detached thread; the connection must be closed either way), TSP_UNAVAILABLE
 * (connection lost). Blocks until the deadline at most. */
enum tsp_code tsp_pgb_console_exec(PGconn *conn, const char *sql, int64_t deadline_ms, bool cancel,
                                   PGresult **out, enum tsp_pgb_fail *fail,
                                   struct tsp_error *err) TSP_MUSTCHECK;

/* Resolve host (a name or a numeric address) to its numeric addresses ("10.0.0.1", "::1"),
 * sorted and without duplicates, giving up at deadline_ms (getaddrinfo runs in a detached thread,
 * so a hung resolver cannot hold the refresh). *out is a malloc'd array of malloc'd strings; free
 * with tsp_pgb_addrs_free. TSP_UNAVAILABLE (no such name), TSP_TIMEOUT, TSP_NO_MEMORY. */
enum tsp_code tsp_pgb_resolve(const char *host, int64_t deadline_ms, char ***out, size_t *count,
                              struct tsp_error *err) TSP_MUSTCHECK;
void tsp_pgb_addrs_free(char **addrs, size_t count);

/* "10.0.0.1:6432" or "[::1]:6432" into out. */
void tsp_pgb_format_address(const char *addr, int port, char *out, size_t outsize);

/* Copy a result into t (owned; free with tsp_pgb_table_fini). TSP_NO_MEMORY. */
enum tsp_code tsp_pgb_table_from_result(const PGresult *res, struct tsp_pgb_table *t,
                                        struct tsp_error *err) TSP_MUSTCHECK;
void tsp_pgb_table_fini(struct tsp_pgb_table *t);
/* Number value of cell (row, name): integer text as a double; fallback when absent. Pure. */
double tsp_pgb_table_num(const struct tsp_pgb_table *t, int row, const char *name, double fallback);

/* A snapshot with a reference count; the public struct comes first. */
struct tsp_pgb_snap_rc {
    struct tsp_pgb_snapshot snap;
    int refs; /* atomic through __atomic builtins */
};

/* Allocate an empty snapshot with one reference. NULL on out of memory. */
struct tsp_pgb_snap_rc *tsp_pgb_snap_new(size_t ninstances);
/* Free a snapshot's contents and itself (the last reference went). */
void tsp_pgb_snap_destroy(struct tsp_pgb_snap_rc *rc);

/* Write one instance's state from a failed refresh: state, error, no tables. */
void tsp_pgb_instance_fail(struct tsp_pgb_instance *inst, enum tsp_pgb_fail fail, const char *why);

/* The fleet's options (strings owned by the fleet). Read-only after tsp_pgb_fleet_new. */
const struct tsp_pgb_options *tsp_pgb_fleet_options(const struct tsp_pgb_fleet *fleet);

#endif /* TSPOOL_PGBOUNCER_INT_H */
