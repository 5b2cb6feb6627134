/* api/ts_handlers_int.h - the TimescaleDB endpoints as one table-driven path inside api/: the row
 * type of an operation (what it reads from the request, its one service call) and the call
 * record the common path fills for it.
 * SPDX-License-Identifier: MIT
 */
#ifndef TSPOOL_TS_HANDLERS_INT_H
#define TSPOOL_TS_HANDLERS_INT_H

#include "api_int.h"
#include "ts_json.h"
#include "tspool/timescale.h"

/* One request to a TimescaleDB operation. The common path (ts_handlers.c) fills the inputs in
 * this order: {id}, body, context (?dry_run, ?if_not_exists); the row's run function parses
 * what is left, makes the one service call and leaves the outcome here. */
struct tsp_ts_call {
    struct tsp_req *req;
    struct tsp_ts *ts;
    struct tsp_ts_ctx ctx;       /* request id, role, dry run */
    const char *name;            /* the {name} path parameter, NULL on routes without one */
    long long id;                /* the {id} path parameter of rows with `job_id` */
    const json_t *body;          /* the JSON body of rows with `body`, else NULL */
    json_t *answer;              /* a read's rendered answer (owned; NULL = out of memory) */
    struct tsp_ts_change change; /* a change's statements and outcome (owned) */
};

/* One TimescaleDB operation: a row in ts_operations.c, bound to its route (router.c, handler
 * tsp_h_timescale) by the operationId. A new operation is a row plus its service function. */
/* Room for "host:port" of the server that answered. */
#define TSP_TS_SERVER_MAX 280

struct tsp_ts_operation {
    const char *operation_id;    /* as in router.c and openapi.yaml */
    bool change;                 /* a change: admin role in the context, ?dry_run, change answer */
    bool job_id;                 /* the path has a job {id} (0..2147483647), checked first */
    bool body;                   /* reads a JSON body (415/413/400 before anything else) */
    enum tsp_ts_feature feature; /* a bad body on a database without it answers 409 instead */
    int status;                  /* the status of a successful change: 200, or 201 (creation) */
    /* Parse the body or query into the service's arguments, make the one service call and, for
     * a read, render call->answer. Errors go to err (answered as problem+json). */
    enum tsp_code (*run)(struct tsp_ts_call *call, struct tsp_error *err);
};

/* The row of operationId `operation_id`, or NULL. Static data; thread-safe. */
const struct tsp_ts_operation *tsp_ts_operation_find(const char *operation_id);

#endif /* TSPOOL_TS_HANDLERS_INT_H */
