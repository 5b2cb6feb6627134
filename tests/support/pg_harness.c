/* pg_harness.c - reach the PostgreSQL 15 test server that scripts/devdb.sh manages:
 * port, password, DSN, start/stop/restart, and one-shot queries for assertions.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

static char dsn_buf[512];
static char password_buf[128];

const char *tsp_test_source_dir(void)
{
    const char *dir = getenv("TSPOOL_SOURCE_DIR");
    return dir != NULL ? dir : ".";
}

const char *tsp_test_binary(void)
{
    const char *bin = getenv("TSPOOL_BINARY");
    return bin != NULL ? bin : "tspool";
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

static int read_file_line(const char *name, char *buf, size_t size)
{
    char path[1200];
    FILE *f = NULL;
    int rc = -1;

    snprintf(path, sizeof(path), "%s/%s", pg_dir(), name);
    f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    if (fgets(buf, (int)size, f) != NULL) {
        buf[strcspn(buf, "\r\n")] = '\0';
        rc = 0;
    }
    fclose(f);
    return rc;
}

int tsp_test_pg_ctl(const char *action)
{
    char cmd[2048];
    int status;

    /* the same extra settings as the Makefile's: pg_stat_statements preloaded */
    snprintf(cmd, sizeof(cmd),
             "TSPOOL_DEVDB_DIR='%s' TSPOOL_DEVDB_CONF=\"" TSP_TEST_PG_CONF "\" "
             "'%s/scripts/devdb.sh' %s",
             pg_dir(), tsp_test_source_dir(), action);
    status = system(cmd);
    if (status == -1 || !WIFEXITED(status)) {
        return -1;
    }
    return WEXITSTATUS(status);
}

bool tsp_test_pg_available(void)
{
    if (tsp_test_pg_ctl("start >/dev/null") != 0) {
        fprintf(stderr, "SKIP: PostgreSQL 15 test server could not be started in %s\n", pg_dir());
        return false;
    }
    return true;
}

int tsp_test_pg_port(void)
{
    char line[32];
    if (read_file_line("port", line, sizeof(line)) != 0) {
        return 0;
    }
    return atoi(line);
}

const char *tsp_test_pg_password(void)
{
    if (read_file_line("password", password_buf, sizeof(password_buf)) != 0) {
        password_buf[0] = '\0';
    }
    return password_buf;
}

const char *tsp_test_pg_dsn(void)
{
    snprintf(dsn_buf, sizeof(dsn_buf),
             "host=127.0.0.1 port=%d dbname=postgres user=postgres password=%s sslmode=disable "
             "application_name=tspool_test",
             tsp_test_pg_port(), tsp_test_pg_password());
    return dsn_buf;
}

char *tsp_test_pg_query(const char *sql)
{
    PGconn *conn = NULL;
    PGresult *res = NULL;
    char *out = NULL;

    conn = PQconnectdb(tsp_test_pg_dsn());
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "test query connect failed: %s", PQerrorMessage(conn));
        goto done;
    }
    res = PQexec(conn, sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK) {
        fprintf(stderr, "test query failed: %s: %s", sql, PQerrorMessage(conn));
        goto done;
    }
    out = strdup(PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
done:
    PQclear(res);
    PQfinish(conn);
    return out;
}

void tsp_test_sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}
