/* tsp_test.h - shared test harness: a common main() with a -t filter, and helpers that
 * reach the real PostgreSQL 15 test server started by `make test` (scripts/devdb.sh) and the
 * TimescaleDB test servers (scripts/tsdb.sh, scripts/tsdb-native.sh).
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
/* The extra postgresql.conf lines of the test server (the Makefile's DEVDB_CONF). */
#define TSP_TEST_PG_CONF "shared_preload_libraries = 'pg_stat_statements'"
int tsp_test_pg_port(void);
const char *tsp_test_pg_password(void);
/* "host=127.0.0.1 port=N dbname=postgres user=postgres password=... sslmode=disable" */
const char *tsp_test_pg_dsn(void);
/* scripts/devdb.sh start|stop|restart; returns the exit status. */
int tsp_test_pg_ctl(const char *action);
/* Run one SQL statement through a fresh libpq connection; returns the first column of the
 * first row as a malloc'd string (free it), "" for no rows, NULL on error (printed). */
char *tsp_test_pg_query(const char *sql);

/* TimescaleDB test servers. Which one a process uses:
 *   TSPOOL_TEST_TSDB_DSN set  that server (TSP_TEST_TSDB_EXTERNAL), for the suites that ask for
 *                             the native server; the PGlite suites then skip (they would repeat
 *                             the same tests against the same server);
 *   TSPOOL_TEST_TSDB=native   PostgreSQL 15 + TimescaleDB 2.28 of scripts/tsdb-native.sh
 *                             (cluster in TSPOOL_TEST_TSDB_NATIVEDIR, default
 *                             <source>/.tspool/test-tsdb-native), with the job scheduler;
 *   otherwise                 the PGlite server of scripts/tsdb.sh (directory TSPOOL_TEST_TSDBDIR,
 *                             default <source>/.tspool/test-tsdb). PGlite serves one connection
 *                             at a time: close every other connection before
 *                             tsp_test_tsdb_query(), and it has no scheduler. */
enum tsp_test_tsdb_server {
    TSP_TEST_TSDB_PGLITE,
    TSP_TEST_TSDB_NATIVE,
    TSP_TEST_TSDB_EXTERNAL,
};
/* A suite that needs a scheduler and several sessions calls this before anything else: it
 * then uses the native server (or TSPOOL_TEST_TSDB_DSN) whatever TSPOOL_TEST_TSDB says. */
void tsp_test_tsdb_prefer_native(void);
enum tsp_test_tsdb_server tsp_test_tsdb_server(void);
/* True in the native ctest entries (TSPOOL_TEST_TSDB=native, or after
 * tsp_test_tsdb_prefer_native()): a suite leaves out its groups that need no TimescaleDB,
 * which its PGlite entry runs. */
bool tsp_test_tsdb_native_run(void);
/* "PGlite", "native PostgreSQL 15 + TimescaleDB 2.28" or "TSPOOL_TEST_TSDB_DSN". */
const char *tsp_test_tsdb_server_name(void);
/* False (after printing why on one line, once per process) when the chosen server cannot be
 * had here: PGlite without node/npm, the native server without the TimescaleDB source tarball,
 * or PGlite while TSPOOL_TEST_TSDB_DSN is set. A server that is available but fails to build
 * or start is a failure of tsp_test_tsdb_dsn(), never a skip. */
bool tsp_test_tsdb_available(void);
/* Starts the chosen server if needed (once per process). The DSN, or NULL (printed) when the
 * server did not start. Static storage. */
const char *tsp_test_tsdb_dsn(void);
/* True when the tests run against the PGlite server. */
bool tsp_test_tsdb_is_pglite(void);
/* The chosen server's script (scripts/tsdb.sh or scripts/tsdb-native.sh) with this action
 * (start|stop|restart|status); returns the exit status. */
int tsp_test_tsdb_ctl(const char *action);
/* Like tsp_test_pg_query() against the TimescaleDB test server; NULL on error (printed),
 * "" for no rows or SQL NULL. */
char *tsp_test_tsdb_query(const char *sql);
/* DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASS ("NAME=value", static storage) of the server's
 * DSN into env[0..], NULL-terminated; starts the server if needed. Returns how many were
 * written, -1 when the server did not start or max < 6. */
int tsp_test_tsdb_env(const char **env, int max);

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
