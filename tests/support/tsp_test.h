/* tsp_test.h - shared test harness: a common main() with a -t filter, and helpers that
 * reach the real PostgreSQL 15 test server started by `make test` (scripts/devdb.sh).
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

/* Sleep for ms milliseconds. */
void tsp_test_sleep_ms(long ms);

#endif /* TSPOOL_TEST_H */
