/* activity/signal.c - cancel the statement of, or terminate, a server process on an
 * operator's request: the safety rules (never tspool's own sessions; superuser, replication
 * and background processes only with force), the server call, and the audit log line.
 * SPDX-License-Identifier: MIT
 */
#include "activity_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tspool/db.h"
#include "tspool/log.h"

#define SIGNAL_BORROW_MS    5000
#define SIGNAL_STATEMENT_MS 5000

static const char lookup_sql[] =
    "SELECT a.pid, coalesce(a.application_name, ''), coalesce(a.usename::text, ''), "
    "coalesce(a.backend_type, ''), coalesce(a.state, ''), coalesce(r.rolsuper, false), "
    "coalesce(a.backend_type = 'walsender', false), a.pid = pg_backend_pid() "
    "FROM pg_stat_activity a LEFT JOIN pg_roles r ON r.oid = a.usesysid WHERE a.pid = $1::int";

static const char cancel_sql[] = "SELECT pg_cancel_backend($1::int)";
static const char terminate_sql[] = "SELECT pg_terminate_backend($1::int)";

const char *tsp_activity_signal_name(enum tsp_activity_signal action)
{
    return action == TSP_ACTIVITY_TERMINATE ? "terminate" : "cancel";
}

static void copy_text(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src != NULL ? src : "");
}

/* True when pid is one of the pool's connections right now. */
static bool pool_owns(struct tsp_pool *pool, int pid)
{
    struct tsp_pool_conn_info *conns = NULL;
    size_t n = 0;
    bool owned = false;
    struct tsp_error err;

    tsp_error_init(&err);
    if (tsp_pool_conn_list(pool, &conns, &n, &err) != TSP_OK) {
        return false;
    }
    for (size_t i = 0; i < n && !owned; i++) {
        owned = conns[i].backend_pid == pid;
    }
    free(conns);
    return owned;
}

static void audit(const char *request_id, enum tsp_activity_signal action, int pid, bool force,
                  const struct tsp_activity_signal_result *res, const char *outcome,
                  const char *detail)
{
    struct tsp_log_field fields[8];
    struct tsp_log_ctx ctx = {.event = "activity.audit",
                              .request_id = request_id,
                              .conn_id = -1,
                              .fields = fields,
                              .nfields = 8};

    fields[0] = (struct tsp_log_field){.key = "operation", .str = tsp_activity_signal_name(action)};
    fields[1] = (struct tsp_log_field){.key = "pid", .num = pid};
    fields[2] = (struct tsp_log_field){.key = "application_name", .str = res->application_name};
    fields[3] = (struct tsp_log_field){.key = "user", .str = res->user};
    fields[4] = (struct tsp_log_field){.key = "backend_type", .str = res->backend_type};
    fields[5] = (struct tsp_log_field){.key = "force", .num = force ? 1 : 0};
    fields[6] = (struct tsp_log_field){.key = "outcome", .str = outcome};
    fields[7] = (struct tsp_log_field){.key = "detail", .str = detail != NULL ? detail : ""};
    TSP_LOG_INFO(&ctx, "%s of server process %d (%s, user %s): %s",
                 tsp_activity_signal_name(action), pid, res->application_name, res->user, outcome);
}

/* Decide whether the process may be signalled; TSP_CONFLICT naming the rule otherwise. */
static enum tsp_code check_rules(struct tsp_activity *act,
                                 const struct tsp_activity_signal_result *r, bool own_backend,
                                 bool force, enum tsp_activity_signal action, struct tsp_error *err)
{
    const char *verb = tsp_activity_signal_name(action);

    if (own_backend || pool_owns(act->pool, r->pid) ||
        (act->application_name[0] != '\0' &&
         strcmp(r->application_name, act->application_name) == 0)) {
        return tsp_error_set(err, TSP_CONFLICT, "pid",
                             "refusing to %s pid %d: it is one of tspool's own sessions "
                             "(application_name \"%s\")",
                             verb, r->pid, r->application_name);
    }
    if (force) {
        return TSP_OK;
    }
    if (r->replication) {
        return tsp_error_set(err, TSP_CONFLICT, "pid",
                             "refusing to %s pid %d: it is a replication connection "
                             "(walsender); add force=true to do it anyway",
                             verb, r->pid);
    }
    if (strcmp(r->backend_type, "client backend") != 0) {
        return tsp_error_set(err, TSP_CONFLICT, "pid",
                             "refusing to %s pid %d: it is a %s, not a client session; "
                             "add force=true to do it anyway",
                             verb, r->pid, r->backend_type);
    }
    if (r->superuser) {
        return tsp_error_set(err, TSP_CONFLICT, "pid",
                             "refusing to %s pid %d: it is a superuser session (user %s); "
                             "add force=true to do it anyway",
                             verb, r->pid, r->user);
    }
    return TSP_OK;
}

enum tsp_code tsp_activity_signal(struct tsp_activity *act, int pid,
                                  enum tsp_activity_signal action, bool force,
                                  const char *request_id, struct tsp_activity_signal_result *out,
                                  struct tsp_error *err)
{
    struct tsp_lease *lease = NULL;
    struct tsp_db_result *res = NULL;
    struct tsp_activity_signal_result r;
    char pid_text[16];
    const char *params[1] = {pid_text};
    bool own_backend = false;
    bool audited = false;
    enum tsp_code rc = TSP_OK;

    memset(&r, 0, sizeof(r));
    r.pid = pid;
    if (pid < 1) {
        return tsp_error_set(err, TSP_INVALID, "pid", "pid must be a positive integer, got %d",
                             pid);
    }
    snprintf(pid_text, sizeof(pid_text), "%d", pid);
    rc = tsp_pool_borrow(
        act->pool, action == TSP_ACTIVITY_TERMINATE ? "activity.terminate" : "activity.cancel",
        SIGNAL_BORROW_MS, &lease, err);
    if (rc != TSP_OK) {
        goto done;
    }
    rc = tsp_db_exec_deadline(lease, lookup_sql, 1, params, SIGNAL_STATEMENT_MS, &res, err);
    if (rc != TSP_OK) {
        goto done;
    }
    if (tsp_db_result_rows(res) != 1) {
        rc = tsp_error_set(err, TSP_NOT_FOUND, "pid", "no server process with pid %d", pid);
        audit(request_id, action, pid, force, &r, "not_found", err->detail);
        audited = true;
        goto done;
    }
    copy_text(r.application_name, sizeof(r.application_name), tsp_db_result_value(res, 0, 1));
    copy_text(r.user, sizeof(r.user), tsp_db_result_value(res, 0, 2));
    copy_text(r.backend_type, sizeof(r.backend_type), tsp_db_result_value(res, 0, 3));
    copy_text(r.state, sizeof(r.state), tsp_db_result_value(res, 0, 4));
    r.superuser = tsp_db_result_bool(res, 0, 5);
    r.replication = tsp_db_result_bool(res, 0, 6);
    own_backend = tsp_db_result_bool(res, 0, 7);
    tsp_db_result_free(res);
    res = NULL;
    rc = check_rules(act, &r, own_backend, force, action, err);
    if (rc != TSP_OK) {
        audit(request_id, action, pid, force, &r, "refused", err->detail);
        audited = true;
        goto done;
    }
    /* noted before the call: the sampler may see the query end before we return */
    tsp_activity_mark(act, pid, action);
    rc = tsp_db_exec_deadline(lease, action == TSP_ACTIVITY_TERMINATE ? terminate_sql : cancel_sql,
                              1, params, SIGNAL_STATEMENT_MS, &res, err);
    if (rc != TSP_OK) {
        audit(request_id, action, pid, force, &r, "failed", err->detail);
        audited = true;
        goto done;
    }
    r.signalled = tsp_db_result_bool(res, 0, 0);
    audit(request_id, action, pid, force, &r, r.signalled ? "signalled" : "not_signalled", NULL);
    audited = true;
    *out = r;
done:
    if (rc != TSP_OK && !audited) {
        /* the database could not be asked (no connection, no answer in time) */
        audit(request_id, action, pid, force, &r, "failed", err != NULL ? err->detail : NULL);
    }
    tsp_db_result_free(res);
    tsp_pool_return(lease);
    return rc;
}
