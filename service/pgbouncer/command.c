/* pgbouncer/command.c - admin commands (PAUSE, RESUME, RECONNECT, RELOAD, DISABLE, ENABLE,
 * KILL) sent to every matching instance in parallel, each on a connection of its own with
 * deadlines; one instance's failure is its own outcome and never stops the others.
 * SPDX-License-Identifier: MIT
 */
#include "pgbouncer_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tspool/clock.h"

#define PAUSE_WAIT_DEFAULT_MS 10000L
/* how long a command waits for the cache to show its effect */
#define REFRESH_AFTER_MS 2000L

static const char *const cmd_sql[TSP_PGB_CMD_COUNT] = {"PAUSE",   "RESUME", "RECONNECT", "RELOAD",
                                                       "DISABLE", "ENABLE", "KILL"};

struct job {
    const struct tsp_pgb_options *opts;
    const struct tsp_pgb_cmd_request *req;
    const struct tsp_pgb_instance *inst;
    struct tsp_pgb_cmd_result *out;
    pthread_t thread;
    bool started;
};

static void *run_job(void *arg)
{
    struct job *j = arg;
    const struct tsp_pgb_options *o = j->opts;
    bool pause = j->req->cmd == TSP_PGB_CMD_PAUSE;
    long wait_ms = j->req->wait_ms > 0 ? j->req->wait_ms : PAUSE_WAIT_DEFAULT_MS;
    int64_t start = tsp_clock_mono_ms();
    enum tsp_pgb_fail fail = TSP_PGB_FAIL_NONE;
    PGconn *conn = NULL;
    PGresult *res = NULL;
    char *quoted = NULL;
    char sql[256];
    struct tsp_error err;
    enum tsp_code code = TSP_OK;

    tsp_error_init(&err);
    if (j->inst->addr[0] == '\0') {
        j->out->outcome = TSP_PGB_UNREACHABLE;
        snprintf(j->out->detail, sizeof(j->out->detail), "%s", j->inst->error);
        goto done;
    }
    code = tsp_pgb_console_connect(j->inst->addr, j->inst->port, o->user, o->password,
                                   o->connect_timeout_s, start + o->connect_timeout_s * 1000LL,
                                   &conn, &fail, &err);
    if (code != TSP_OK) {
        j->out->outcome = TSP_PGB_UNREACHABLE;
        snprintf(j->out->detail, sizeof(j->out->detail), "%s%.200s",
                 fail == TSP_PGB_FAIL_MISCONFIGURED ? "misconfigured: " : "", err.detail);
        goto done;
    }
    if (j->req->database != NULL) {
        /* the console parses a double-quoted name like an identifier */
        quoted = PQescapeIdentifier(conn, j->req->database, strlen(j->req->database));
        if (quoted == NULL) {
            j->out->outcome = TSP_PGB_FAILED;
            snprintf(j->out->detail, sizeof(j->out->detail), "cannot quote the database name");
            goto done;
        }
        snprintf(sql, sizeof(sql), "%s %s", cmd_sql[j->req->cmd], quoted);
    } else {
        snprintf(sql, sizeof(sql), "%s", cmd_sql[j->req->cmd]);
    }
    /* PAUSE answers once every server connection is released: bounded by wait_ms. A PAUSE
     * left waiting stays in effect on the console, so it is not cancelled. */
    code = tsp_pgb_console_exec(
        conn, sql, tsp_clock_mono_ms() + (pause ? wait_ms : (long)o->command_timeout_ms), !pause,
        &res, &fail, &err);
    if (code == TSP_OK) {
        j->out->outcome = TSP_PGB_OK;
        snprintf(j->out->detail, sizeof(j->out->detail), "%s", PQcmdStatus(res));
    } else if (code == TSP_TIMEOUT && pause) {
        j->out->outcome = TSP_PGB_PAUSING;
        snprintf(j->out->detail, sizeof(j->out->detail),
                 "PAUSE in effect, server connections still in use after %ld ms", wait_ms);
    } else if (fail == TSP_PGB_FAIL_COMMAND) {
        j->out->outcome = TSP_PGB_FAILED;
        snprintf(j->out->detail, sizeof(j->out->detail), "%.250s", err.detail);
    } else {
        j->out->outcome = TSP_PGB_UNREACHABLE;
        snprintf(j->out->detail, sizeof(j->out->detail), "%.250s", err.detail);
    }
done:
    PQclear(res);
    PQfreemem(quoted);
    PQfinish(conn);
    j->out->duration_ms = tsp_clock_mono_ms() - start;
    return NULL;
}

static bool instance_matches(const struct tsp_pgb_instance *inst, const char *want)
{
    return want == NULL || strcmp(inst->address, want) == 0 || strcmp(inst->name, want) == 0;
}

static bool instance_knows(const struct tsp_pgb_instance *inst, const char *database)
{
    const struct tsp_pgb_table *t = &inst->show[TSP_PGB_SHOW_DATABASES];
    int col = tsp_pgb_table_col(t, "name");

    for (int r = 0; r < t->nrows; r++) {
        const char *v = tsp_pgb_table_cell(t, r, col);
        if (v != NULL && strcmp(v, database) == 0) {
            return true;
        }
    }
    return false;
}

/* Checks that need no console: the database argument against the command. */
static enum tsp_code check_request(const struct tsp_pgb_cmd_request *req, struct tsp_error *err)
{
    bool needs_db = req->cmd == TSP_PGB_CMD_DISABLE || req->cmd == TSP_PGB_CMD_ENABLE ||
                    req->cmd == TSP_PGB_CMD_KILL;

    if ((int)req->cmd < 0 || req->cmd >= TSP_PGB_CMD_COUNT) {
        return tsp_error_set(err, TSP_INVALID, NULL, "unknown command");
    }
    if (req->database == NULL && needs_db) {
        return tsp_error_set(err, TSP_INVALID, "database", "%s needs a database",
                             tsp_pgb_cmd_name(req->cmd));
    }
    if (req->database != NULL && req->cmd == TSP_PGB_CMD_RELOAD) {
        return tsp_error_set(err, TSP_INVALID, "database",
                             "reload applies to the whole instance: leave database out");
    }
    if (req->database != NULL && !tsp_pgb_database_valid(req->database)) {
        return tsp_error_set(err, TSP_INVALID, "database",
                             "database must be 1 to 63 letters, digits, '_', '-' or '.'");
    }
    if (req->cmd == TSP_PGB_CMD_PAUSE && (req->wait_ms < 0 || req->wait_ms > 3600000)) {
        return tsp_error_set(err, TSP_INVALID, "wait_ms",
                             "wait_ms must be from 0 to 3600000 milliseconds");
    }
    return TSP_OK;
}

enum tsp_code tsp_pgb_command(struct tsp_pgb_fleet *fleet, const struct tsp_pgb_cmd_request *req,
                              struct tsp_pgb_cmd_result **out, size_t *count, struct tsp_error *err)
{
    const struct tsp_pgb_snapshot *snap = NULL;
    struct tsp_pgb_cmd_result *results = NULL;
    struct job *jobs = NULL;
    size_t n = 0;
    size_t up = 0;
    bool known = false;
    enum tsp_code code = TSP_OK;

    *out = NULL;
    *count = 0;
    if (!tsp_pgb_fleet_enabled(fleet)) {
        return tsp_error_set(err, TSP_CONFLICT, NULL,
                             "no PgBouncer is configured: PGBOUNCER_HOSTS is empty");
    }
    code = check_request(req, err);
    if (code != TSP_OK) {
        return code;
    }
    snap = tsp_pgb_snapshot_get(fleet);
    for (size_t i = 0; i < snap->ninstances; i++) {
        const struct tsp_pgb_instance *inst = &snap->instances[i];
        if (!instance_matches(inst, req->instance)) {
            continue;
        }
        n++;
        if (inst->state == TSP_PGB_UP) {
            up++;
            known = known || req->database == NULL || instance_knows(inst, req->database);
        }
    }
    if (n == 0) {
        code = tsp_error_set(err, TSP_NOT_FOUND, "instance",
                             snap->ninstances == 0 ? "no PgBouncer instance known yet"
                                                   : "no PgBouncer instance \"%s\"",
                             req->instance != NULL ? req->instance : "");
        goto done;
    }
    if (up > 0 && !known) {
        code = tsp_error_set(err, TSP_NOT_FOUND, "database", "no PgBouncer database \"%s\"",
                             req->database);
        goto done;
    }
    results = calloc(n, sizeof(*results));
    jobs = calloc(n, sizeof(*jobs));
    if (results == NULL || jobs == NULL) {
        code = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
        goto done;
    }
    n = 0;
    for (size_t i = 0; i < snap->ninstances; i++) {
        if (!instance_matches(&snap->instances[i], req->instance)) {
            continue;
        }
        struct job *j = &jobs[n];
        j->opts = tsp_pgb_fleet_options(fleet);
        j->req = req;
        j->inst = &snap->instances[i];
        j->out = &results[n];
        snprintf(j->out->address, sizeof(j->out->address), "%s", j->inst->address);
        j->started = pthread_create(&j->thread, NULL, run_job, j) == 0;
        if (!j->started) {
            run_job(j);
        }
        n++;
    }
    for (size_t i = 0; i < n; i++) {
        if (jobs[i].started) {
            pthread_join(jobs[i].thread, NULL);
        }
    }
    (void)tsp_pgb_refresh_now(fleet, REFRESH_AFTER_MS);
    *out = results;
    *count = n;
    results = NULL;
done:
    free(jobs);
    free(results);
    tsp_pgb_snapshot_release(snap);
    return code;
}
