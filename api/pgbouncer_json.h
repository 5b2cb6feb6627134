/* pgbouncer_json.h - the PgBouncer fleet as JSON (pure; unit-tested) and the command body
 * parser, shared by api/pgbouncer_handlers.c.
 * SPDX-License-Identifier: MIT
 */
#ifndef TSPOOL_API_PGBOUNCER_JSON_H
#define TSPOOL_API_PGBOUNCER_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "tspool/error.h"
#include "tspool/pgbouncer.h"

/* GET /pgbouncer: enabled, refreshed_at, instances (address, name, state, up, version,
 * paused/disabled databases, last_refresh, refresh_age_s, duration_ms, error) and databases
 * (the totals). now_mono_ms dates the ages. New reference; NULL on out of memory. */
json_t *tsp_pgb_json_fleet(const struct tsp_pgb_snapshot *snap, bool enabled,
                           const struct tsp_pgb_totals *totals, size_t ntotals,
                           int64_t now_mono_ms);

/* GET /pgbouncer/{show}: {"show", "rows": [{"instance", <PgBouncer's columns>...}],
 * "instances": [{"address", "state", "error"}]} keeping rows of `instance` (address or
 * PGBOUNCER_HOSTS entry; NULL = all) and `database` (NULL = all). Numeric columns are JSON
 * numbers, SQL NULL is null. New reference; NULL on out of memory. */
json_t *tsp_pgb_json_show(const struct tsp_pgb_snapshot *snap, enum tsp_pgb_show show,
                          const char *instance, const char *database);

/* Check the ?instance= and ?database= filters of a listing against snap: TSP_NOT_FOUND for
 * an instance or database nobody has (a database is checked only while an instance is up),
 * TSP_INVALID for a database filter on config or lists. Pure. */
enum tsp_code tsp_pgb_json_check_filters(const struct tsp_pgb_snapshot *snap,
                                         enum tsp_pgb_show show, const char *instance,
                                         const char *database, struct tsp_error *err) TSP_MUSTCHECK;

/* A command body ({"database", "instance", "wait_ms"}, every member optional; wait_ms only
 * for pause) into req; strings point into body. TSP_INVALID naming the member at fault. */
enum tsp_code tsp_pgb_json_command_body(const json_t *body, struct tsp_pgb_cmd_request *req,
                                        struct tsp_error *err) TSP_MUSTCHECK;

/* The answer to a command: {"command", "database", "instance", "all_succeeded", "results":
 * [{"instance", "outcome", "detail", "duration_ms"}]} (+ "all_paused" for pause), and the
 * HTTP status: 200 every instance succeeded, 202 a PAUSE still waits on some, 207
 * (Multi-Status) when one failed or was unreachable. */
json_t *tsp_pgb_json_command(const struct tsp_pgb_cmd_request *req,
                             const struct tsp_pgb_cmd_result *results, size_t n, int *status);

#endif /* TSPOOL_API_PGBOUNCER_JSON_H */
