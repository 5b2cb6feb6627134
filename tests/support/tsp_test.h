/* tsp_test.h - shared test harness: a common main() with a -t filter, and helpers that
 * reach the real PostgreSQL 15 test server started by `make test` (scripts/devdb.sh) and the
 * TimescaleDB test server (scripts/tsdb.sh).
 * SPDX-License-Identifier: MIT
 */
#ifndef TSPOOL_TEST_H
#define TSPOOL_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* Defined by each test file: runs its groups with cmocka_run_group_tests and returns the
 * number of failures. */
int tsp_test_run(void);

/* Path of the source tree (TSPOOL_SOURCE_DIR, set by ctest), e.g. for tests/data files. */
const char *tsp_test_source_dir(void);
/* Path of the built tspool binary (TSPOOL_BINARY, set by ctest). */
const char *tsp_test_binary(void);

/* PostgreSQL test server (directory in TSPOOL_TEST_PGDIR, managed by scripts/devdb.sh).
 * tsp_test_pg_available() starts it if needed and returns false (after printing why) only
 * when no server can be run in this environment. */
bool tsp_test_pg_available(void);
int tsp_test_pg_port(void);
const char *tsp_test_pg_password(void);
/* "host=127.0.0.1 port=N dbname=postgres user=postgres password=... sslmode=disable" */
const char *tsp_test_pg_dsn(void);
/* scripts/devdb.sh start|stop|restart; returns the exit status. */
int tsp_test_pg_ctl(const char *action);
/* Run one SQL statement through a fresh libpq connection; returns the first column of the
 * first row as a malloc'd string (free it), "" for no rows, NULL on error (printed). */
char *tsp_test_pg_query(const char *sql);

/* TimescaleDB test server: TSPOOL_TEST_TSDB_DSN (a real TimescaleDB) when set, else the PGlite
 * TimescaleDB server of scripts/tsdb.sh (directory TSPOOL_TEST_TSDBDIR, default
 * <source>/.tspool/test-tsdb). PGlite serves one connection at a time: close every other
 * connection before tsp_test_tsdb_query().
 * tsp_test_tsdb_available() returns false (after printing why) only when no DSN is given and
 * node/npm cannot run; a server that fails to start is a failure, not a skip. */
bool tsp_test_tsdb_available(void);
/* Starts the PGlite server if needed. The DSN, or NULL (printed) when the server did not
 * start. Static storage. */
const char *tsp_test_tsdb_dsn(void);
/* True when the tests run against the PGlite server (no TSPOOL_TEST_TSDB_DSN). */
bool tsp_test_tsdb_is_pglite(void);
/* scripts/tsdb.sh start|stop|restart|status; returns the exit status. */
int tsp_test_tsdb_ctl(const char *action);
/* Like tsp_test_pg_query() against the TimescaleDB test server; NULL on error (printed),
 * "" for no rows or SQL NULL. */
char *tsp_test_tsdb_query(const char *sql);

/* The streaming replica of the PostgreSQL test server (scripts/replica.sh, pg_basebackup -R;
 * directory <TSPOOL_TEST_PGDIR>-replica). tsp_test_replica_available() starts the primary and
 * the replica (rebuilding a stale or promoted one) and returns false (printed) only when it
 * cannot be made here. */
bool tsp_test_replica_available(void);
const char *tsp_test_replica_dir(void);
int tsp_test_replica_port(void);
/* scripts/replica.sh <action> for the test server's replica; returns the exit status. */
int tsp_test_replica_ctl(const char *action);
/* Like tsp_test_pg_query() on the replica; "" for no rows or SQL NULL. */
char *tsp_test_replica_query(const char *sql);
/* Like tsp_test_pg_query() on 127.0.0.1:port (the test password). */
char *tsp_test_query_port(int port, const char *sql);
/* scripts/devdb.sh / scripts/replica.sh on other directories (throwaway pairs for failover
 * tests); return the exit status. */
int tsp_test_devdb_ctl_in(const char *dir, const char *action);
int tsp_test_replica_ctl_in(const char *primary_dir, const char *replica_dir, const char *action);
/* The port recorded in <dir>/port, or 0. */
int tsp_test_port_in(const char *dir);

/* Sleep for ms milliseconds. */
void tsp_test_sleep_ms(long ms);

#endif /* TSPOOL_TEST_H */
