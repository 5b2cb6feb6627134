/* api/render.h - service structs -> JSON documents (pure; unit-tested), shared inside api/.
 * Every function returns a new reference, or NULL when out of memory.
 * SPDX-License-Identifier: MIT
 */
#ifndef TSPOOL_API_RENDER_H
#define TSPOOL_API_RENDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "tspool/activity.h"
#include "tspool/config.h"
#include "tspool/dbinfo.h"
#include "tspool/pool.h"
#include "tspool/replicas.h"

/* The plain pool status: mode, config, gauges, counters, closes, wait summary, uptime. */
json_t *tsp_render_pool_status(const struct tsp_pool_stats *stats);
/* One connection of the detailed view. */
json_t *tsp_render_conn(const struct tsp_pool_conn_info *conn);
/* The server's view (max_connections, by state, by application, headroom). */
json_t *tsp_render_server_view(const struct tsp_dbinfo_server_view *view);
/* A ping result. */
json_t *tsp_render_ping(const struct tsp_dbinfo_ping *ping);
/* {"variables":[{"name","value","source","where","secret","help"}...]}, secrets redacted. */
json_t *tsp_render_config(const struct tsp_config *cfg);

/* One server of GET /cluster; a replica adds its LSNs, lag and rotation (cluster_render.c). */
json_t *tsp_render_cluster_member(const struct tsp_cluster_member *member, bool replica);
/* GET /cluster: primary, replicas, the primary's pg_stat_replication, bounds and counters. */
json_t *tsp_render_cluster(const struct tsp_cluster_view *view);
/* The read pool of /pool/status: the summed status plus one entry per replica pool
 * (per_replica has view->nreplicas entries). */
json_t *tsp_render_read_pool(const struct tsp_pool_stats *total,
                             const struct tsp_cluster_view *view,
                             const struct tsp_pool_stats *per_replica);
/* activity_render.c: one session of an activity sample; client_addr and query are null
 * unless show_text (the caller has the admin token). */
json_t *tsp_render_activity_session(const struct tsp_activity_session *s, bool show_text);
/* Sessions, blocked count, oldest transaction and the per-application gauges of a sample. */
json_t *tsp_render_activity_summary(const struct tsp_activity_sample *sample);
/* The blocking forest from tsp_activity_chains() pre-order nodes: an array of root sessions,
 * each with "blocks": [the sessions it blocks, recursively]. */
json_t *tsp_render_activity_chains(const struct tsp_activity_sample *sample,
                                   const struct tsp_activity_chain_node *nodes, size_t n,
                                   bool show_text);
/* One pg_stat_statements entry; "window" (calls, calls_per_s, total_time_ms,
 * time_per_call_ms, rows) is null when window_s is 0. */
json_t *tsp_render_statement(const struct tsp_activity_statement *s, double window_s);
/* What a cancel / terminate found and did. */
json_t *tsp_render_signal_result(const struct tsp_activity_signal_result *r,
                                 enum tsp_activity_signal action, bool force);
/* RFC 3339 UTC with milliseconds for a wall-clock time in ms since the epoch. */
json_t *tsp_render_timestamp(int64_t ms);

#endif /* TSPOOL_API_RENDER_H */
