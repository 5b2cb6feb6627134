/* api/ts_json.h - TimescaleDB request bodies and responses as JSON: pure parsers (json -> the
 * service's spec structs) and renderers (service structs -> json_t), shared inside api/.
 * SPDX-License-Identifier: MIT
 */
#ifndef TSPOOL_TS_JSON_H
#define TSPOOL_TS_JSON_H

#include <jansson.h>
#include <stdbool.h>

#include "tspool/error.h"
#include "tspool/timescale.h"

/* Renderers: a new reference (json_decref it), NULL on out of memory. Empty optional texts
 * become null. Pure and thread-safe. */
json_t *tsp_ts_json_caps(const struct tsp_ts_caps *caps);
/* detail adds dimensions, compression settings and the chunk-interval advice
 * (GET /hypertables/{name}). */
json_t *tsp_ts_json_hypertable(const struct tsp_hypertable *h, bool detail);
json_t *tsp_ts_json_chunk(const struct tsp_ts_chunk *c);
json_t *tsp_ts_json_policy(const struct tsp_ts_policy *p);
json_t *tsp_ts_json_aggregate(const struct tsp_ts_aggregate *a);
json_t *tsp_ts_json_job(const struct tsp_ts_job *j);
/* GET /timescaledb: the capabilities plus "background_workers" (null without the extension)
 * and "warnings" (jobs scheduled beyond the workers available). */
json_t *tsp_ts_json_caps_workers(const struct tsp_ts_caps *caps, const struct tsp_ts_workers *w);
/* One run of GET /jobs/{id}/history and /jobs/errors. */
json_t *tsp_ts_json_job_run(const struct tsp_ts_job_run *r);
/* {"dry_run", "atomic", "statements": [{"sql", "params"}], "chunks": [...], "job_id"}. */
json_t *tsp_ts_json_change(const struct tsp_ts_change *c);
/* Append item (consumed) to the array *arr; on failure release the array and leave *arr NULL
 * (answered as out of memory). NULL *arr is left alone. */
void tsp_ts_json_append(json_t **arr, json_t *item);
/* {key: arr}, arr consumed; NULL when arr is NULL or memory runs out. */
json_t *tsp_ts_json_list(const char *key, json_t *arr);

/* Parsers: every string written into the out struct is borrowed from body and valid while
 * body lives. Errors are TSP_INVALID naming the JSON field. Pure. */

/* {"segment_by": [..], "order_by": [..]} (at least one of them). */
enum tsp_code tsp_ts_json_compression_spec(const json_t *body, struct tsp_ts_compression_spec *out,
                                           struct tsp_error *err) TSP_MUSTCHECK;
/* {"older_than": "...", "newer_than": "..."}; require_older: older_than must be present;
 * otherwise at least one of the two. */
enum tsp_code tsp_ts_json_chunk_selection(const json_t *body, bool require_older,
                                          struct tsp_ts_chunk_filter *out,
                                          struct tsp_error *err) TSP_MUSTCHECK;
/* {"<after_field>": "...", "schedule_interval": "..."}; after_field is "compress_after" or
 * "drop_after" and required. */
enum tsp_code tsp_ts_json_policy_body(const json_t *body, const char *after_field,
                                      const char **after, const char **schedule_interval,
                                      struct tsp_error *err) TSP_MUSTCHECK;
/* POST /hypertables body: {"name", "time_column", "chunk_interval", "partition_column",
 * "partitions", "if_not_exists", "migrate_data"}; an integer chunk_interval is printed into
 * interval_buf. */
enum tsp_code tsp_ts_json_hypertable_spec(const json_t *body, char *interval_buf,
                                          size_t interval_size, struct tsp_ts_hypertable_spec *out,
                                          struct tsp_error *err) TSP_MUSTCHECK;
/* PATCH /hypertables/{name} body: {"chunk_interval": "1 day" | 86400} (required). */
enum tsp_code tsp_ts_json_hypertable_patch(const json_t *body, char *interval_buf,
                                           size_t interval_size, const char **chunk_interval,
                                           struct tsp_error *err) TSP_MUSTCHECK;
/* PUT .../reorder-policy body: {"index_name": "..."} (required). */
enum tsp_code tsp_ts_json_reorder_policy(const json_t *body, const char **index_name,
                                         struct tsp_error *err) TSP_MUSTCHECK;
/* POST /aggregates body. */
enum tsp_code tsp_ts_json_aggregate_spec(const json_t *body, struct tsp_ts_aggregate_spec *out,
                                         struct tsp_error *err) TSP_MUSTCHECK;
/* {"start_offset", "end_offset", "schedule_interval"}; offsets may be null (unbounded). */
enum tsp_code tsp_ts_json_aggregate_policy(const json_t *body, const char **start_offset,
                                           const char **end_offset, const char **schedule_interval,
                                           struct tsp_error *err) TSP_MUSTCHECK;
/* {"start": ts|null, "end": ts|null} (both optional). */
enum tsp_code tsp_ts_json_refresh_window(const json_t *body, const char **start, const char **end,
                                         struct tsp_error *err) TSP_MUSTCHECK;
/* {"schedule_interval": "...", "scheduled": bool} (at least one); *scheduled is -1 when
 * absent. */
enum tsp_code tsp_ts_json_job_patch(const json_t *body, const char **schedule_interval,
                                    int *scheduled, struct tsp_error *err) TSP_MUSTCHECK;

#endif /* TSPOOL_TS_JSON_H */
