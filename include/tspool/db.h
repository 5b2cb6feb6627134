/* db.h - running SQL on a leased connection: parameterised execution with an opaque result,
 * SQLSTATE -> tsp_code mapping, identifier validation and quoting, password scrubbing.
 * PGconn and PGresult never leave service/db/query.c, db/info.c and service/pool/conn.c.
 * SPDX-License-Identifier: MIT
 */
#ifndef TSPOOL_DB_H
#define TSPOOL_DB_H

#include <stdbool.h>
#include <stddef.h>

#include "tspool/error.h"
#include "tspool/pool.h"

struct tsp_db_result; /* opaque rows of one statement */

/* Run `sql` with nparams text parameters ($1..$n; NULL entries are SQL NULL) on the lease's
 * connection. Reports failures and duration to the pool (tsp_lease_report_error /
 * tsp_lease_report_duration with `operation` = the lease label). On error maps SQLSTATE with
 * tsp_db_code_for_sqlstate(), copies it into err->sqlstate, and puts the server's message
 * (scrubbed) in err->detail; a connection lost without a SQLSTATE counts as "08006".
 * On TSP_OK *out (if out != NULL) is a result to release with tsp_db_result_free().
 * Blocks for the round trip, at most the lease's statement deadline
 * (tsp_lease_statement_deadline_ms): past it the statement is cancelled (PQcancel, sent from
 * a detached thread so that an unreachable server cannot hold the caller), TSP_TIMEOUT is
 * returned with SQLSTATE 57014, and the connection is closed when the lease is returned. */
enum tsp_code tsp_db_exec(struct tsp_lease *lease, const char *sql, int nparams,
                          const char *const *params, struct tsp_db_result **out,
                          struct tsp_error *err) TSP_MUSTCHECK;

/* tsp_db_exec with a deadline of its own (timeout_ms >= 1) instead of the lease's statement
 * deadline, for background work that must give up sooner (the activity sampler). Past it the
 * statement is cancelled like tsp_db_exec's (TSP_TIMEOUT, SQLSTATE 57014) and the connection is
 * closed when the lease is returned. Blocks at most timeout_ms. */
enum tsp_code tsp_db_exec_deadline(struct tsp_lease *lease, const char *sql, int nparams,
                                   const char *const *params, long timeout_ms,
                                   struct tsp_db_result **out, struct tsp_error *err) TSP_MUSTCHECK;

/* Free a result; NULL is a no-op. */
void tsp_db_result_free(struct tsp_db_result *res);
int tsp_db_result_rows(const struct tsp_db_result *res);
int tsp_db_result_cols(const struct tsp_db_result *res);
/* Column number of `name`, or -1. */
int tsp_db_result_col(const struct tsp_db_result *res, const char *name);
/* Text value (valid until the result is freed), or NULL for SQL NULL / out of range. */
const char *tsp_db_result_value(const struct tsp_db_result *res, int row, int col);
/* "t" -> true. Out of range / NULL -> false. */
bool tsp_db_result_bool(const struct tsp_db_result *res, int row, int col);
/* Integer value, or `fallback` for NULL / not an integer. */
long long tsp_db_result_int(const struct tsp_db_result *res, int row, int col, long long fallback);
/* Command tag's affected-row count ("UPDATE 3" -> 3), or -1. */
long long tsp_db_result_affected(const struct tsp_db_result *res);

/* Server version number of the lease's session (e.g. 150018), or 0. Non-blocking. */
int tsp_db_server_version(struct tsp_lease *lease);

/* SQLSTATE class -> tsp_code: 08/57P0x -> TSP_DB_UNAVAILABLE, 23/22/42 -> TSP_INVALID or
 * TSP_CONFLICT/TSP_NOT_FOUND as appropriate (42P01, 42704 -> NOT_FOUND; 23505, 42P07, 42710 ->
 * CONFLICT), 57014 -> TSP_TIMEOUT, else TSP_DB_ERROR. NULL/"" -> TSP_DB_UNAVAILABLE. Pure. */
enum tsp_code tsp_db_code_for_sqlstate(const char *sqlstate);

/* Accept an SQL identifier supplied by a user: 1..63 bytes of [A-Za-z_][A-Za-z0-9_$]*.
 * On failure err names `field` and the value. Pure. */
enum tsp_code tsp_db_identifier_validate(const char *ident, const char *field,
                                         struct tsp_error *err) TSP_MUSTCHECK;

/* Validate then quote `ident` with PQescapeIdentifier on the lease's connection. On TSP_OK
 * *out is a malloc'd string ("\"name\"") to free(). */
enum tsp_code tsp_db_identifier_quote(struct tsp_lease *lease, const char *ident, const char *field,
                                      char **out, struct tsp_error *err) TSP_MUSTCHECK;

/* Accept `name` or `schema.name` (exactly one dot at most); each part as in
 * tsp_db_identifier_validate(). Errors name `field`. Pure. */
enum tsp_code tsp_db_qualified_validate(const char *name, const char *field,
                                        struct tsp_error *err) TSP_MUSTCHECK;

/* Validate `name` or `schema.name` and quote each part with PQescapeIdentifier on the lease's
 * connection ("\"schema\".\"name\""). On TSP_OK *out is a malloc'd string to free(). */
enum tsp_code tsp_db_qualified_quote(struct tsp_lease *lease, const char *name, const char *field,
                                     char **out, struct tsp_error *err) TSP_MUSTCHECK;

/* Name of the database the lease's session is connected to (libpq's PQdb), valid until the
 * lease is returned; "" when unknown. Non-blocking. */
const char *tsp_db_database_name(struct tsp_lease *lease);

/* Which server the lease's session reached, "host:port" (libpq's PQhost and PQport: the
 * member of a multi-host list actually connected), into buf (always NUL-terminated when size
 * > 0); ":" when unknown. Non-blocking. */
void tsp_db_server_name(struct tsp_lease *lease, char *buf, size_t size);

/* The libpq library in use, as PQlibVersion() gives it: major * 10000 + minor (PostgreSQL 10
 * and later). Pure; thread-safe. */
int tsp_db_libpq_version(void);

/* Make a libpq message one line, in place: trailing newlines and blanks go, inner newlines
 * and tabs become spaces (err->detail and log lines are one line). NULL is a no-op. Pure. */
void tsp_db_one_line(char *text);

/* Remove password=... values, URI passwords and the configured password itself from a libpq
 * message, in place (replaced by "********", or by as many '*' when the value is shorter: the
 * text cannot grow). password may be NULL. Pure. */
void tsp_db_scrub_password(char *text, const char *password);

#endif /* TSPOOL_DB_H */
