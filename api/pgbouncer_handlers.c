/* pgbouncer_handlers.c - GET /pgbouncer (the fleet and per-database totals), GET
 * /pgbouncer/{pools,stats,databases,servers,clients,config} (the cached SHOW results, filtered
 * by ?instance= and ?database=) and POST /pgbouncer/{pause,resume,...} (commands).
 * SPDX-License-Identifier: MIT
 */
#include "api_int.h"
#include "pgbouncer_json.h"

#include <stdlib.h>
#include <string.h>
#include "tspool/clock.h"

#define FILTER_MAX 256

static int send_doc(struct tsp_req *req, int status, json_t *doc)
{
    int sent = 0;

    if (doc == NULL) {
        return tsp_problem_sendf(req, TSP_NO_MEMORY, NULL, "out of memory rendering the answer");
    }
    sent = tsp_respond_json(req, status, doc);
    json_decref(doc);
    return sent;
}

int tsp_h_pgbouncer(struct tsp_req *req)
{
    const struct tsp_pgb_snapshot *snap = tsp_pgb_snapshot_get(req->api->pgbouncer);
    struct tsp_pgb_snapshot empty = {0};
    struct tsp_pgb_totals *totals = NULL;
    size_t ntotals = 0;
    struct tsp_error err;
    json_t *doc = NULL;
    int status = 0;

    tsp_error_init(&err);
    if (tsp_pgb_totals_compute(snap != NULL ? snap : &empty, &totals, &ntotals, &err) != TSP_OK) {
        status = tsp_problem_send(req, &err, NULL);
        goto done;
    }
    doc =
        tsp_pgb_json_fleet(snap != NULL ? snap : &empty, tsp_pgb_fleet_enabled(req->api->pgbouncer),
                           totals, ntotals, tsp_clock_mono_ms());
    status = send_doc(req, 200, doc);
done:
    free(totals);
    tsp_pgb_snapshot_release(snap);
    return status;
}

/* One filter of a listing: absent -> NULL; given twice, empty or too long -> 400. */
static enum tsp_code filter(struct tsp_req *req, const char *name, char *buf, const char **out,
                            struct tsp_error *err)
{
    int n = tsp_query_get(req->query, name, 0, buf, FILTER_MAX);

    *out = NULL;
    if (tsp_query_repeated(req->query, name)) {
        return tsp_error_set(err, TSP_INVALID, name, "query parameter '%s' is given more than once",
                             name);
    }
    if (n == -2 || n == 0) {
        return tsp_error_set(err, TSP_INVALID, name,
                             "%s must be a non-empty value of at most %d bytes", name,
                             FILTER_MAX - 1);
    }
    if (n > 0) {
        *out = buf;
    }
    return TSP_OK;
}

/* The listing named by the last path segment (the route table has one row per listing). */
static int show(struct tsp_req *req, enum tsp_pgb_show which)
{
    const struct tsp_pgb_snapshot *snap = NULL;
    struct tsp_pgb_snapshot empty = {0};
    char ibuf[FILTER_MAX];
    char dbuf[FILTER_MAX];
    const char *instance = NULL;
    const char *database = NULL;
    struct tsp_error err;
    int status = 0;

    tsp_error_init(&err);
    if (filter(req, "instance", ibuf, &instance, &err) != TSP_OK ||
        filter(req, "database", dbuf, &database, &err) != TSP_OK) {
        return tsp_problem_send(req, &err, NULL);
    }
    snap = tsp_pgb_snapshot_get(req->api->pgbouncer);
    if (tsp_pgb_json_check_filters(snap != NULL ? snap : &empty, which, instance, database, &err) !=
        TSP_OK) {
        status = tsp_problem_send(req, &err, NULL);
    } else {
        status = send_doc(
            req, 200, tsp_pgb_json_show(snap != NULL ? snap : &empty, which, instance, database));
    }
    tsp_pgb_snapshot_release(snap);
    return status;
}

int tsp_h_pgbouncer_pools(struct tsp_req *req)
{
    return show(req, TSP_PGB_SHOW_POOLS);
}

int tsp_h_pgbouncer_stats(struct tsp_req *req)
{
    return show(req, TSP_PGB_SHOW_STATS);
}

int tsp_h_pgbouncer_databases(struct tsp_req *req)
{
    return show(req, TSP_PGB_SHOW_DATABASES);
}

int tsp_h_pgbouncer_servers(struct tsp_req *req)
{
    return show(req, TSP_PGB_SHOW_SERVERS);
}

int tsp_h_pgbouncer_clients(struct tsp_req *req)
{
    return show(req, TSP_PGB_SHOW_CLIENTS);
}

int tsp_h_pgbouncer_config(struct tsp_req *req)
{
    return show(req, TSP_PGB_SHOW_CONFIG);
}

/* A command: the body is optional (no body = every database on every instance). */
static int command(struct tsp_req *req, enum tsp_pgb_cmd cmd)
{
    struct tsp_pgb_cmd_request creq = {.cmd = cmd};
    struct tsp_pgb_cmd_result *results = NULL;
    size_t n = 0;
    const char *length = tsp_req_header(req, "Content-Length");
    json_t *body = NULL;
    struct tsp_error err;
    int status = 0;

    tsp_error_init(&err);
    if ((length != NULL && strcmp(length, "0") != 0) ||
        tsp_req_header(req, "Transfer-Encoding") != NULL) {
        if (tsp_req_read_json(req, &body, &err) != TSP_OK) {
            return tsp_problem_send(req, &err, NULL);
        }
    }
    if (tsp_pgb_json_command_body(body, &creq, &err) != TSP_OK ||
        tsp_pgb_command(req->api->pgbouncer, &creq, &results, &n, &err) != TSP_OK) {
        status = tsp_problem_send(req, &err, NULL);
        goto done;
    }
    {
        int code = 200;
        json_t *doc = tsp_pgb_json_command(&creq, results, n, &code);
        status = send_doc(req, code, doc);
    }
done:
    free(results);
    json_decref(body);
    return status;
}

int tsp_h_pgbouncer_pause(struct tsp_req *req)
{
    return command(req, TSP_PGB_CMD_PAUSE);
}

int tsp_h_pgbouncer_resume(struct tsp_req *req)
{
    return command(req, TSP_PGB_CMD_RESUME);
}

int tsp_h_pgbouncer_reconnect(struct tsp_req *req)
{
    return command(req, TSP_PGB_CMD_RECONNECT);
}

int tsp_h_pgbouncer_reload(struct tsp_req *req)
{
    return command(req, TSP_PGB_CMD_RELOAD);
}

int tsp_h_pgbouncer_disable(struct tsp_req *req)
{
    return command(req, TSP_PGB_CMD_DISABLE);
}

int tsp_h_pgbouncer_enable(struct tsp_req *req)
{
    return command(req, TSP_PGB_CMD_ENABLE);
}

int tsp_h_pgbouncer_kill(struct tsp_req *req)
{
    return command(req, TSP_PGB_CMD_KILL);
}
