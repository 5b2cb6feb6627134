/* tsdb_harness.c - reach a TimescaleDB for the integration tests: the PGlite TimescaleDB
 * server managed by scripts/tsdb.sh, or a real server named by TSPOOL_TEST_TSDB_DSN.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static char tsdb_dsn_buf[1024];

static const char *tsdb_dir(void)
{
    static char dir[1024];
    const char *env = getenv("TSPOOL_TEST_TSDBDIR");
    if (env != NULL && env[0] != '\0') {
        return env;
    }
    snprintf(dir, sizeof(dir), "%s/.tspool/test-tsdb", tsp_test_source_dir());
    return dir;
}

static const char *external_dsn(void)
{
    const char *dsn = getenv("TSPOOL_TEST_TSDB_DSN");
    return (dsn != NULL && dsn[0] != '\0') ? dsn : NULL;
}

static int run_status(const char *cmd)
{
    int status = system(cmd);
    if (status == -1 || !WIFEXITED(status)) {
        return -1;
    }
    return WEXITSTATUS(status);
}

int tsp_test_tsdb_ctl(const char *action)
{
    char cmd[2600];

    snprintf(cmd, sizeof(cmd), "TSPOOL_TSDB_DIR='%s' '%s/scripts/tsdb.sh' %s", tsdb_dir(),
             tsp_test_source_dir(), action);
    return run_status(cmd);
}

bool tsp_test_tsdb_is_pglite(void)
{
    return external_dsn() == NULL;
}

bool tsp_test_tsdb_available(void)
{
    if (external_dsn() != NULL) {
        return true;
    }
    if (run_status("node -e 'process.exit(0)' >/dev/null 2>&1") != 0 ||
        run_status("npm --version >/dev/null 2>&1") != 0) {
        fprintf(stderr, "SKIP: node and npm cannot run here, so the PGlite TimescaleDB test "
                        "server cannot start (install nodejs and npm, or set "
                        "TSPOOL_TEST_TSDB_DSN to a real TimescaleDB)\n");
        return false;
    }
    return true;
}

const char *tsp_test_tsdb_dsn(void)
{
    char path[1200];
    char port[32] = "";
    FILE *f = NULL;

    if (external_dsn() != NULL) {
        return external_dsn();
    }
    if (tsp_test_tsdb_ctl("start >/dev/null") != 0) {
        fprintf(stderr, "TimescaleDB test server did not start; see %s/server.log\n", tsdb_dir());
        return NULL;
    }
    snprintf(path, sizeof(path), "%s/port", tsdb_dir());
    f = fopen(path, "r");
    if (f == NULL) {
        return NULL;
    }
    if (fgets(port, sizeof(port), f) == NULL) {
        port[0] = '\0';
    }
    fclose(f);
    port[strcspn(port, "\r\n")] = '\0';
    if (port[0] == '\0') {
        return NULL;
    }
    snprintf(tsdb_dsn_buf, sizeof(tsdb_dsn_buf),
             "host=127.0.0.1 port=%s dbname=postgres user=postgres password=tspool "
             "sslmode=disable application_name=tspool_test",
             port);
    return tsdb_dsn_buf;
}

char *tsp_test_tsdb_query(const char *sql)
{
    const char *dsn = tsp_test_tsdb_dsn();
    PGconn *conn = NULL;
    PGresult *res = NULL;
    char *out = NULL;

    if (dsn == NULL) {
        return NULL;
    }
    conn = PQconnectdb(dsn);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "tsdb test query connect failed: %s", PQerrorMessage(conn));
        goto done;
    }
    res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK) {
        fprintf(stderr, "tsdb test query failed: %s: %s", sql, PQerrorMessage(conn));
        goto done;
    }
    out = strdup(PQntuples(res) > 0 && PQnfields(res) > 0 && !PQgetisnull(res, 0, 0)
                     ? PQgetvalue(res, 0, 0)
                     : "");
done:
    PQclear(res);
    PQfinish(conn);
    return out;
}
