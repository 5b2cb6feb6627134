/* tsdb_harness.c - reach a TimescaleDB for the integration tests: the PGlite server of
 * scripts/tsdb.sh, the native PostgreSQL 15 + TimescaleDB 2.28 server of scripts/tsdb-native.sh
 * (TSPOOL_TEST_TSDB=native), or a real server named by TSPOOL_TEST_TSDB_DSN.
 * SPDX-License-Identifier: MIT
 */
#include "tsp_test.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static char tsdb_dsn_buf[1024];
static bool prefer_native;
static bool skip_told;

/* The server this process was asked for: TSPOOL_TEST_TSDB=native|pglite (default pglite), or
 * native for a suite that called tsp_test_tsdb_prefer_native(). */
static bool wants_native(void)
{
    const char *which = getenv("TSPOOL_TEST_TSDB");
    return prefer_native || (which != NULL && strcmp(which, "native") == 0);
}

static const char *external_dsn(void)
{
    const char *dsn = getenv("TSPOOL_TEST_TSDB_DSN");
    return (dsn != NULL && dsn[0] != '\0') ? dsn : NULL;
}

/* Directory of the server's pid/port files or cluster; the Makefile passes its own. */
static const char *tsdb_dir(void)
{
    static char dir[1024];
    const char *env = getenv(wants_native() ? "TSPOOL_TEST_TSDB_NATIVEDIR" : "TSPOOL_TEST_TSDBDIR");
    if (env != NULL && env[0] != '\0') {
        return env;
    }
    snprintf(dir, sizeof(dir), "%s/.tspool/%s", tsp_test_source_dir(),
             wants_native() ? "test-tsdb-native" : "test-tsdb");
    return dir;
}

static int run_status(const char *cmd)
{
    int status = system(cmd);
    if (status == -1 || !WIFEXITED(status)) {
        return -1;
    }
    return WEXITSTATUS(status);
}

/* The shell command prefix that runs the chosen server's script with its directory. */
static void script_cmd(char *buf, size_t size, const char *action)
{
    if (wants_native()) {
        snprintf(buf, size, "TSPOOL_TSDB_NATIVE_DIR='%s' '%s/scripts/tsdb-native.sh' %s",
                 tsdb_dir(), tsp_test_source_dir(), action);
    } else {
        snprintf(buf, size, "TSPOOL_TSDB_DIR='%s' '%s/scripts/tsdb.sh' %s", tsdb_dir(),
                 tsp_test_source_dir(), action);
    }
}

/* First line a shell command prints on stdout into out ("" when none); its exit status. */
static int run_line(const char *cmd, char *out, size_t size)
{
    FILE *p = popen(cmd, "r");
    int status;

    out[0] = '\0';
    if (p == NULL) {
        return -1;
    }
    if (fgets(out, (int)size, p) == NULL) {
        out[0] = '\0';
    }
    out[strcspn(out, "\r\n")] = '\0';
    while (fgetc(p) != EOF) {
    }
    status = pclose(p);
    if (status == -1 || !WIFEXITED(status)) {
        return -1;
    }
    return WEXITSTATUS(status);
}

/* Print why the TimescaleDB tests skip, once per process, on one line. */
static void skip_once(const char *why)
{
    if (!skip_told) {
        fprintf(stderr, "SKIP: %s\n", why);
        skip_told = true;
    }
}

void tsp_test_tsdb_prefer_native(void)
{
    prefer_native = true;
}

bool tsp_test_tsdb_native_run(void)
{
    return wants_native();
}

enum tsp_test_tsdb_server tsp_test_tsdb_server(void)
{
    if (external_dsn() != NULL) {
        return TSP_TEST_TSDB_EXTERNAL;
    }
    return wants_native() ? TSP_TEST_TSDB_NATIVE : TSP_TEST_TSDB_PGLITE;
}

const char *tsp_test_tsdb_server_name(void)
{
    switch (tsp_test_tsdb_server()) {
    case TSP_TEST_TSDB_EXTERNAL:
        return "TSPOOL_TEST_TSDB_DSN";
    case TSP_TEST_TSDB_NATIVE:
        return "native PostgreSQL 15 + TimescaleDB 2.28";
    case TSP_TEST_TSDB_PGLITE:
    default:
        return "PGlite";
    }
}

int tsp_test_tsdb_ctl(const char *action)
{
    char cmd[2600];

    script_cmd(cmd, sizeof(cmd), action);
    return run_status(cmd);
}

bool tsp_test_tsdb_is_pglite(void)
{
    return tsp_test_tsdb_server() == TSP_TEST_TSDB_PGLITE;
}

bool tsp_test_tsdb_available(void)
{
    char cmd[2600];
    char line[1024];

    if (external_dsn() != NULL) {
        if (!wants_native()) {
            /* the suite runs once against the given server, in its native ctest entry */
            skip_once("TSPOOL_TEST_TSDB_DSN is set: the TimescaleDB suites run against it in "
                      "their native entries (TSPOOL_TEST_TSDB=native), not on PGlite");
            return false;
        }
        return true;
    }
    if (wants_native()) {
        /* without the TimescaleDB source there is nothing to build: a skip with the reason; a
         * tarball that is there but fails to build or start is a failure (tsp_test_tsdb_dsn) */
        script_cmd(cmd, sizeof(cmd), "available 2>&1");
        if (run_line(cmd, line, sizeof(line)) != 0) {
            skip_once(line[0] != '\0' ? line : "native TimescaleDB skipped: not available");
            return false;
        }
        return true;
    }
    if (run_status("node -e 'process.exit(0)' >/dev/null 2>&1") != 0 ||
        run_status("npm --version >/dev/null 2>&1") != 0) {
        skip_once("node and npm cannot run here, so the PGlite TimescaleDB test server cannot "
                  "start (install nodejs and npm, or set TSPOOL_TEST_TSDB_DSN to a real "
                  "TimescaleDB)");
        return false;
    }
    return true;
}

/* The PGlite server's DSN from its port file. */
static const char *pglite_dsn(void)
{
    char path[1200];
    char port[32] = "";
    FILE *f = NULL;

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

/* The native server's DSN as its script prints it (password authentication). */
static const char *native_dsn(void)
{
    char cmd[2600];
    char line[900];

    script_cmd(cmd, sizeof(cmd), "dsn");
    if (run_line(cmd, line, sizeof(line)) != 0 || line[0] == '\0') {
        return NULL;
    }
    snprintf(tsdb_dsn_buf, sizeof(tsdb_dsn_buf), "%s application_name=tspool_test", line);
    return tsdb_dsn_buf;
}

const char *tsp_test_tsdb_dsn(void)
{
    static const char *started;

    if (external_dsn() != NULL) {
        return external_dsn();
    }
    /* started once per process: the checks of every query need not ask the script again */
    if (started != NULL) {
        return started;
    }
    if (tsp_test_tsdb_ctl("start >/dev/null") != 0) {
        fprintf(stderr, "the %s TimescaleDB test server did not start; see %s\n",
                tsp_test_tsdb_server_name(), tsdb_dir());
        return NULL;
    }
    started = wants_native() ? native_dsn() : pglite_dsn();
    return started;
}

int tsp_test_tsdb_env(const char **env, int max)
{
    static const char *const keys[5] = {"host", "port", "dbname", "user", "password"};
    static const char *const names[5] = {"DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASS"};
    static char env_buf[5][300];
    const char *dsn = tsp_test_tsdb_dsn();
    PQconninfoOption *opts = NULL;
    int n = 0;

    if (dsn == NULL || max < 6) {
        return -1;
    }
    opts = PQconninfoParse(dsn, NULL);
    if (opts == NULL) {
        fprintf(stderr, "TimescaleDB test DSN does not parse: %s\n", dsn);
        return -1;
    }
    for (int i = 0; i < 5; i++) {
        for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
            if (strcmp(o->keyword, keys[i]) == 0 && o->val != NULL && o->val[0] != '\0') {
                snprintf(env_buf[n], sizeof(env_buf[n]), "%s=%s", names[i], o->val);
                env[n] = env_buf[n];
                n++;
            }
        }
    }
    PQconninfoFree(opts);
    env[n] = NULL;
    return n;
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
