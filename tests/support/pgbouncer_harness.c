/* pgbouncer_harness.c - drives scripts/pgbouncer.sh for the integration tests and reaches the
 * two PgBouncer instances' consoles and pools with libpq.
 * SPDX-License-Identifier: MIT
 */
#include "pgbouncer_harness.h"

#include "tsp_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static const char *pgb_dir(void)
{
    static char dir[1024];
    const char *env = getenv("TSPOOL_TEST_PGBDIR");
    if (env != NULL && env[0] != '\0') {
        return env;
    }
    snprintf(dir, sizeof(dir), "%s/.tspool/test-pgbouncer", tsp_test_source_dir());
    return dir;
}

static const char *pg_dir(void)
{
    static char dir[1024];
    const char *env = getenv("TSPOOL_TEST_PGDIR");
    if (env != NULL && env[0] != '\0') {
        return env;
    }
    snprintf(dir, sizeof(dir), "%s/.tspool/test-pg", tsp_test_source_dir());
    return dir;
}

int tsp_test_pgb_ctl(const char *action)
{
    char cmd[3072];
    int status = 0;

    snprintf(cmd, sizeof(cmd),
             "TSPOOL_PGBOUNCER_DIR='%s' TSPOOL_DEVDB_DIR='%s' '%s/scripts/pgbouncer.sh' %s",
             pgb_dir(), pg_dir(), tsp_test_source_dir(), action);
    status = system(cmd);
    if (status == -1 || !WIFEXITED(status)) {
        return -1;
    }
    return WEXITSTATUS(status);
}

bool tsp_test_pgb_available(void)
{
    if (!tsp_test_pg_available()) {
        return false;
    }
    if (tsp_test_pgb_ctl("start") != 0) {
        fprintf(stderr, "SKIP: PgBouncer test instances could not be started in %s\n", pgb_dir());
        return false;
    }
    return true;
}

int tsp_test_pgb_port(void)
{
    char path[1200];
    FILE *f = NULL;
    int port = -1;

    snprintf(path, sizeof(path), "%s/port", pgb_dir());
    f = fopen(path, "r");
    if (f != NULL) {
        if (fscanf(f, "%d", &port) != 1) {
            port = -1;
        }
        fclose(f);
    }
    return port;
}

const char *tsp_test_pgb_address(int n)
{
    static char buf[4][64];
    snprintf(buf[n & 3], sizeof(buf[0]), "127.0.0.%d:%d", n, tsp_test_pgb_port());
    return buf[n & 3];
}

const char *tsp_test_pgb_hosts(void)
{
    static char buf[160];
    snprintf(buf, sizeof(buf), "127.0.0.1:%d,127.0.0.2:%d", tsp_test_pgb_port(),
             tsp_test_pgb_port());
    return buf;
}

int tsp_test_pgb_pid(int n)
{
    char path[1200];
    FILE *f = NULL;
    int pid = -1;

    snprintf(path, sizeof(path), "%s/%d/pgbouncer.pid", pgb_dir(), n);
    f = fopen(path, "r");
    if (f != NULL) {
        if (fscanf(f, "%d", &pid) != 1) {
            pid = -1;
        }
        fclose(f);
    }
    return pid;
}

static PGconn *connect_to(int n, const char *db, const char *user, const char *password)
{
    char dsn[512];
    PGconn *conn = NULL;

    snprintf(dsn, sizeof(dsn),
             "hostaddr=127.0.0.%d port=%d dbname=%s user=%s password=%s sslmode=disable "
             "connect_timeout=5",
             n, tsp_test_pgb_port(), db, user, password);
    conn = PQconnectdb(dsn);
    if (PQstatus(conn) != CONNECTION_OK) {
        fail_msg("connect to PgBouncer %d (%s): %s", n, db, PQerrorMessage(conn));
    }
    return conn;
}

PGconn *tsp_test_pgb_console(int n)
{
    return connect_to(n, "pgbouncer", "pgbouncer", TSP_TEST_PGB_ADMIN_PASS);
}

PGconn *tsp_test_pgb_client(int n, const char *db)
{
    return connect_to(n, db, "postgres", tsp_test_pg_password());
}

long long tsp_test_pgb_value(int n, const char *sql, const char *key_col, const char *key,
                             const char *col)
{
    PGconn *conn = tsp_test_pgb_console(n);
    PGresult *res = PQexec(conn, sql);
    long long value = -1;
    int kc = PQfnumber(res, key_col);
    int vc = PQfnumber(res, col);

    for (int r = 0; kc >= 0 && vc >= 0 && r < PQntuples(res); r++) {
        if (strcmp(PQgetvalue(res, r, kc), key) == 0) {
            value = strtoll(PQgetvalue(res, r, vc), NULL, 10);
        }
    }
    PQclear(res);
    PQfinish(conn);
    return value;
}
