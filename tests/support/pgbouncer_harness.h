/* pgbouncer_harness.h - the two PgBouncer test instances of scripts/pgbouncer.sh in front of the
 * PostgreSQL test server: start/stop one, their address, console queries, application clients.
 * SPDX-License-Identifier: MIT
 */
#ifndef TSPOOL_TEST_PGBOUNCER_HARNESS_H
#define TSPOOL_TEST_PGBOUNCER_HARNESS_H

#include <libpq-fe.h>
#include <stdbool.h>

/* The admin console password of the test instances (scripts/pgbouncer.sh). */
#define TSP_TEST_PGB_ADMIN_PASS "tspool-pgbouncer-admin"

/* Start the PostgreSQL test server and both instances (TSPOOL_TEST_PGBDIR, default
 * <source>/.tspool/test-pgbouncer); false (printed) when pgbouncer cannot run here. */
bool tsp_test_pgb_available(void);
/* scripts/pgbouncer.sh <action> (e.g. "stop-one 2"); returns the exit status. */
int tsp_test_pgb_ctl(const char *action);
/* The port both instances share; instance n listens on 127.0.0.n. */
int tsp_test_pgb_port(void);
/* "127.0.0.n:port" (static storage, one buffer per n). */
const char *tsp_test_pgb_address(int n);
/* PGBOUNCER_HOSTS for both: "127.0.0.1:port,127.0.0.2:port" (static storage). */
const char *tsp_test_pgb_hosts(void);
/* The pid of instance n, or -1. */
int tsp_test_pgb_pid(int n);
/* A connection to instance n's admin console (PQfinish it); fails the test on error. */
PGconn *tsp_test_pgb_console(int n);
/* A client connection through instance n to database db (user postgres); fails the test on
 * error. */
PGconn *tsp_test_pgb_client(int n, const char *db);
/* Column `col` of the row of `sql` on instance n's console whose column `key_col` equals key
 * (and, when key2_col is not NULL, key2_col equals key2) as a number; -1 when absent. */
long long tsp_test_pgb_value(int n, const char *sql, const char *key_col, const char *key,
                             const char *col);

#endif /* TSPOOL_TEST_PGBOUNCER_HARNESS_H */
