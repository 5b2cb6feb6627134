/* ts_handlers_int.h - helpers shared by the TimescaleDB handler files (hypertable, aggregate
 * and job handlers) inside api/ only.
 * SPDX-License-Identifier: MIT
 */
#ifndef TSPOOL_TS_HANDLERS_INT_H
#define TSPOOL_TS_HANDLERS_INT_H

#include "api_int.h"
#include "ts_json.h"
#include "tspool/timescale.h"

/* The service context of a request: request id, role (admin for changes), and the
 * ?dry_run / ?if_not_exists flags. TSP_INVALID names a bad flag. */
enum tsp_code tsp_ts_h_ctx(struct tsp_req *req, bool change, struct tsp_ts_ctx *out,
                           struct tsp_error *err) TSP_MUSTCHECK;
/* Send a change document (200, or `status` for creations). Consumes nothing; returns the
 * status sent. */
int tsp_ts_h_send_change(struct tsp_req *req, int status, const struct tsp_ts_change *change);
/* Send json (consumed; NULL = out of memory) with status 200. */
int tsp_ts_h_send(struct tsp_req *req, json_t *json);
/* Append item (consumed) to the array *arr; on failure release the array and leave *arr NULL,
 * which tsp_ts_h_send_list() answers as out of memory. NULL *arr is left alone. */
void tsp_ts_h_append(json_t **arr, json_t *item);
/* Send {key: arr} with status 200; arr is consumed (NULL = out of memory). */
int tsp_ts_h_send_list(struct tsp_req *req, const char *key, json_t *arr);
/* Read the JSON body: returns 0 and *out, or the status sent. A body that cannot be read is
 * answered 415/413/400, unless the database lacks `feature`: then 409 says what is missing,
 * as it would for a good body. */
int tsp_ts_h_body(struct tsp_req *req, enum tsp_ts_feature feature, json_t **out);

#endif /* TSPOOL_TS_HANDLERS_INT_H */
