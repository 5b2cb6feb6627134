/* replica_harness.c - the streaming replica of the PostgreSQL 15 test server that
 * scripts/replica.sh makes with pg_basebackup -R (directory <pg dir>-replica): start, port,
 * one-shot queries; and throwaway primary + replica pairs for failover tests.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

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

static int run(const char *cmd)
{
    int status = system(cmd);

    if (status == -1 || !WIFEXITED(status)) {
        return -1;
    }
    return WEXITSTATUS(status);
}

int tsp_test_replica_ctl_in(const char *primary_dir, const char *replica_dir, const char *action)
{
    char cmd[4096];

    snprintf(cmd, sizeof(cmd),
             "TSPOOL_DEVDB_DIR='%s' TSPOOL_REPLICA_DIR='%s' '%s/scripts/replica.sh' %s",
             primary_dir, replica_dir, tsp_test_source_dir(), action);
    return run(cmd);
}

int tsp_test_devdb_ctl_in(const char *dir, const char *action)
{
    char cmd[4096];

    snprintf(cmd, sizeof(cmd), "TSPOOL_DEVDB_DIR='%s' '%s/scripts/devdb.sh' %s", dir,
             tsp_test_source_dir(), action);
    return run(cmd);
}

const char *tsp_test_replica_dir(void)
{
    static char dir[1100];

    snprintf(dir, sizeof(dir), "%s-replica", pg_dir());
    return dir;
}

int tsp_test_replica_ctl(const char *action)
{
    return tsp_test_replica_ctl_in(pg_dir(), tsp_test_replica_dir(), action);
}

bool tsp_test_replica_available(void)
{
    if (!tsp_test_pg_available()) {
        return false;
    }
    if (tsp_test_replica_ctl("start >/dev/null") != 0) {
        fprintf(stderr, "SKIP: the streaming replica could not be made in %s\n",
                tsp_test_replica_dir());
        return false;
    }
    return true;
}

int tsp_test_port_in(const char *dir)
{
    char path[1200];
    char line[32];
    FILE *f = NULL;
    int port = 0;

    snprintf(path, sizeof(path), "%s/port", dir);
    f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }
    if (fgets(line, sizeof(line), f) != NULL) {
        port = atoi(line);
    }
    fclose(f);
    return port;
}

int tsp_test_replica_port(void)
{
    return tsp_test_port_in(tsp_test_replica_dir());
}

char *tsp_test_query_port(int port, const char *sql)
{
    char dsn[512];
    PGconn *conn = NULL;
    PGresult *res = NULL;
    char *out = NULL;

    snprintf(dsn, sizeof(dsn),
             "host=127.0.0.1 port=%d dbname=postgres user=postgres password=%s sslmode=disable "
             "application_name=tspool_test connect_timeout=5",
             port, tsp_test_pg_password());
    conn = PQconnectdb(dsn);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "test query connect failed (port %d): %s", port, PQerrorMessage(conn));
        goto done;
    }
    res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK) {
        fprintf(stderr, "test query failed: %s: %s", sql, PQerrorMessage(conn));
        goto done;
    }
    out = strdup(PQntuples(res) > 0 && !PQgetisnull(res, 0, 0) ? PQgetvalue(res, 0, 0) : "");
done:
    PQclear(res);
    PQfinish(conn);
    return out;
}

char *tsp_test_replica_query(const char *sql)
{
    return tsp_test_query_port(tsp_test_replica_port(), sql);
}
