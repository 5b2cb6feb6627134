/* api/render.h - service structs -> JSON documents (pure; unit-tested), shared inside api/.
 * Every function returns a new reference, or NULL when out of memory.
 * SPDX-License-Identifier: MIT
 */
#ifndef TSPOOL_API_RENDER_H
#define TSPOOL_API_RENDER_H

#include <jansson.h>

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

#endif /* TSPOOL_API_RENDER_H */
