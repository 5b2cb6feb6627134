/* api/router.c - the static route table {method, pattern, handler, role, operationId} and the
 * path matcher; answers "not found" and "method not allowed" with the allowed methods.
 * SPDX-License-Identifier: MIT
 */
#include "api_int.h"

#include <stdio.h>
#include <string.h>

/* operationIds must equal those in openapi.yaml (checked by test_router). The last member
 * marks the routes that wait on the database (admission bound, TSPOOL_HTTP_DB_MAX_INFLIGHT);
 * the others (probes, /metrics, /pool/status, pool control) never borrow a connection. */
static const struct tsp_route routes[] = {
    {"GET", "/livez", tsp_h_livez, TSP_ROLE_PROBE, "getLivez", false},
    {"GET", "/livez/{check}", tsp_h_livez, TSP_ROLE_PROBE, "getLivezCheck", false},
    {"GET", "/readyz", tsp_h_readyz, TSP_ROLE_PROBE, "getReadyz", false},
    {"GET", "/readyz/replica", tsp_h_readyz_replica, TSP_ROLE_PROBE, "getReadyzReplica", false},
    {"GET", "/readyz/primary", tsp_h_readyz_primary, TSP_ROLE_PROBE, "getReadyzPrimary", false},
    {"GET", "/readyz/{check}", tsp_h_readyz, TSP_ROLE_PROBE, "getReadyzCheck", false},
    {"GET", "/startupz", tsp_h_startupz, TSP_ROLE_PROBE, "getStartupz", false},
    {"GET", "/startupz/{check}", tsp_h_startupz, TSP_ROLE_PROBE, "getStartupzCheck", false},
    {"GET", "/healthz", tsp_h_healthz, TSP_ROLE_PROBE, "getHealthz", false},
    {"GET", "/healthz/{check}", tsp_h_healthz, TSP_ROLE_PROBE, "getHealthzCheck", false},
    {"GET", "/pool/status", tsp_h_pool_status, TSP_ROLE_READ, "getPoolStatus", false},
    {"GET", "/pool/ping", tsp_h_pool_ping, TSP_ROLE_READ, "pingPool", true},
    {"POST", "/pool/pause", tsp_h_pool_pause, TSP_ROLE_ADMIN, "pausePool", false},
    {"POST", "/pool/resume", tsp_h_pool_resume, TSP_ROLE_ADMIN, "resumePool", false},
    {"POST", "/pool/recycle", tsp_h_pool_recycle, TSP_ROLE_ADMIN, "recyclePool", false},
    {"PATCH", "/pool", tsp_h_pool_patch, TSP_ROLE_ADMIN, "resizePool", false},
    /* from the cluster monitor's cached checks: no connection is borrowed */
    {"GET", "/cluster", tsp_h_cluster, TSP_ROLE_READ, "getCluster", false},
    {"GET", "/config", tsp_h_config, TSP_ROLE_ADMIN, "getConfig", false},
    {"GET", "/metrics", tsp_h_metrics, TSP_ROLE_METRICS, "getMetrics", false},
    {"GET", "/openapi.yaml", tsp_h_openapi, TSP_ROLE_PUBLIC, "getOpenapi", false},
    {"GET", "/docs", tsp_h_docs, TSP_ROLE_PUBLIC, "getDocs", false},
    /* the dashboard holds no data; it reads the API above with the user's token */
    {"GET", "/", tsp_h_ui_index, TSP_ROLE_PUBLIC, "getDashboard", false},
    {"GET", "/ui/", tsp_h_ui_index, TSP_ROLE_PUBLIC, "getDashboardUi", false},
    {"GET", "/ui/{asset}", tsp_h_ui_asset, TSP_ROLE_PUBLIC, "getDashboardAsset", false},
    /* PgBouncer: reads come from the cache; client and server listings show addresses */
    {"GET", "/pgbouncer", tsp_h_pgbouncer, TSP_ROLE_READ, "getPgbouncer", false},
    {"GET", "/pgbouncer/pools", tsp_h_pgbouncer_pools, TSP_ROLE_READ, "listPgbouncerPools", false},
    {"GET", "/pgbouncer/stats", tsp_h_pgbouncer_stats, TSP_ROLE_READ, "listPgbouncerStats", false},
    {"GET", "/pgbouncer/databases", tsp_h_pgbouncer_databases, TSP_ROLE_READ,
     "listPgbouncerDatabases", false},
    {"GET", "/pgbouncer/servers", tsp_h_pgbouncer_servers, TSP_ROLE_ADMIN, "listPgbouncerServers",
     false},
    {"GET", "/pgbouncer/clients", tsp_h_pgbouncer_clients, TSP_ROLE_ADMIN, "listPgbouncerClients",
     false},
    {"GET", "/pgbouncer/config", tsp_h_pgbouncer_config, TSP_ROLE_READ, "getPgbouncerConfig",
     false},
    {"POST", "/pgbouncer/pause", tsp_h_pgbouncer_pause, TSP_ROLE_ADMIN, "pausePgbouncer", false},
    {"POST", "/pgbouncer/resume", tsp_h_pgbouncer_resume, TSP_ROLE_ADMIN, "resumePgbouncer", false},
    {"POST", "/pgbouncer/reconnect", tsp_h_pgbouncer_reconnect, TSP_ROLE_ADMIN,
     "reconnectPgbouncer", false},
    {"POST", "/pgbouncer/reload", tsp_h_pgbouncer_reload, TSP_ROLE_ADMIN, "reloadPgbouncer", false},
    {"POST", "/pgbouncer/disable", tsp_h_pgbouncer_disable, TSP_ROLE_ADMIN, "disablePgbouncer",
     false},
    {"POST", "/pgbouncer/enable", tsp_h_pgbouncer_enable, TSP_ROLE_ADMIN, "enablePgbouncer", false},
    {"POST", "/pgbouncer/kill", tsp_h_pgbouncer_kill, TSP_ROLE_ADMIN, "killPgbouncer", false},
    /* TimescaleDB */
    {"GET", "/timescaledb", tsp_h_timescale, TSP_ROLE_READ, "getTimescaledb", true},
    {"GET", "/hypertables", tsp_h_timescale, TSP_ROLE_READ, "listHypertables", true},
    {"POST", "/hypertables", tsp_h_timescale, TSP_ROLE_ADMIN, "createHypertable", true},
    {"GET", "/hypertables/{name}", tsp_h_timescale, TSP_ROLE_READ, "getHypertable", true},
    {"PATCH", "/hypertables/{name}", tsp_h_timescale, TSP_ROLE_ADMIN, "alterHypertable", true},
    {"GET", "/hypertables/{name}/chunks", tsp_h_timescale, TSP_ROLE_READ, "listChunks", true},
    {"PUT", "/hypertables/{name}/compression", tsp_h_timescale, TSP_ROLE_ADMIN, "setCompression",
     true},
    {"POST", "/hypertables/{name}/compress", tsp_h_timescale, TSP_ROLE_ADMIN, "compressChunks",
     true},
    {"POST", "/hypertables/{name}/decompress", tsp_h_timescale, TSP_ROLE_ADMIN, "decompressChunks",
     true},
    {"GET", "/hypertables/{name}/compression-policy", tsp_h_timescale, TSP_ROLE_READ,
     "getCompressionPolicy", true},
    {"PUT", "/hypertables/{name}/compression-policy", tsp_h_timescale, TSP_ROLE_ADMIN,
     "putCompressionPolicy", true},
    {"DELETE", "/hypertables/{name}/compression-policy", tsp_h_timescale, TSP_ROLE_ADMIN,
     "deleteCompressionPolicy", true},
    {"GET", "/hypertables/{name}/retention-policy", tsp_h_timescale, TSP_ROLE_READ,
     "getRetentionPolicy", true},
    {"PUT", "/hypertables/{name}/retention-policy", tsp_h_timescale, TSP_ROLE_ADMIN,
     "putRetentionPolicy", true},
    {"DELETE", "/hypertables/{name}/retention-policy", tsp_h_timescale, TSP_ROLE_ADMIN,
     "deleteRetentionPolicy", true},
    {"GET", "/hypertables/{name}/reorder-policy", tsp_h_timescale, TSP_ROLE_READ,
     "getReorderPolicy", true},
    {"PUT", "/hypertables/{name}/reorder-policy", tsp_h_timescale, TSP_ROLE_ADMIN,
     "putReorderPolicy", true},
    {"DELETE", "/hypertables/{name}/reorder-policy", tsp_h_timescale, TSP_ROLE_ADMIN,
     "deleteReorderPolicy", true},
    {"POST", "/hypertables/{name}/drop-chunks", tsp_h_timescale, TSP_ROLE_ADMIN, "dropChunks",
     true},
    {"GET", "/aggregates", tsp_h_timescale, TSP_ROLE_READ, "listAggregates", true},
    {"POST", "/aggregates", tsp_h_timescale, TSP_ROLE_ADMIN, "createAggregate", true},
    {"GET", "/aggregates/{name}", tsp_h_timescale, TSP_ROLE_READ, "getAggregate", true},
    {"DELETE", "/aggregates/{name}", tsp_h_timescale, TSP_ROLE_ADMIN, "dropAggregate", true},
    {"PUT", "/aggregates/{name}/policy", tsp_h_timescale, TSP_ROLE_ADMIN, "putAggregatePolicy",
     true},
    {"DELETE", "/aggregates/{name}/policy", tsp_h_timescale, TSP_ROLE_ADMIN,
     "deleteAggregatePolicy", true},
    {"POST", "/aggregates/{name}/refresh", tsp_h_timescale, TSP_ROLE_ADMIN, "refreshAggregate",
     true},
    {"GET", "/jobs", tsp_h_timescale, TSP_ROLE_READ, "listJobs", true},
    /* before /jobs/{id}: "errors" is not a job id */
    {"GET", "/jobs/errors", tsp_h_timescale, TSP_ROLE_READ, "listJobErrors", true},
    {"GET", "/jobs/{id}", tsp_h_timescale, TSP_ROLE_READ, "getJob", true},
    {"GET", "/jobs/{id}/history", tsp_h_timescale, TSP_ROLE_READ, "getJobHistory", true},
    {"PATCH", "/jobs/{id}", tsp_h_timescale, TSP_ROLE_ADMIN, "alterJob", true},
    {"POST", "/jobs/{id}/run", tsp_h_timescale, TSP_ROLE_ADMIN, "runJob", true},
    /* every application's sessions on the database server */
    {"GET", "/server/activity", tsp_h_server_activity, TSP_ROLE_READ, "getServerActivity", true},
    {"GET", "/server/statements", tsp_h_server_statements, TSP_ROLE_READ, "getServerStatements",
     true},
    {"POST", "/server/sessions/{pid}/cancel", tsp_h_session_cancel, TSP_ROLE_ADMIN, "cancelSession",
     true},
    {"POST", "/server/sessions/{pid}/terminate", tsp_h_session_terminate, TSP_ROLE_ADMIN,
     "terminateSession", true},
};

#define ROUTE_COUNT (sizeof(routes) / sizeof(routes[0]))

size_t tsp_router_count(void)
{
    return ROUTE_COUNT;
}

const struct tsp_route *tsp_router_at(size_t i)
{
    return i < ROUTE_COUNT ? &routes[i] : NULL;
}

size_t tsp_router_index(const struct tsp_route *route)
{
    if (route == NULL || route < routes || route >= routes + ROUTE_COUNT) {
        return ROUTE_COUNT;
    }
    return (size_t)(route - routes);
}

/* Length of the segment starting at s (up to '/' or the end). */
static size_t segment_len(const char *s)
{
    return strcspn(s, "/");
}

bool tsp_router_pattern_match(const char *pattern, const char *path,
                              struct tsp_route_params *params)
{
    const char *p = pattern;
    const char *s = path;
    struct tsp_route_params found;

    memset(&found, 0, sizeof(found));
    while (*p != '\0' && *s != '\0') {
        if (*p != '/' || *s != '/') {
            return false;
        }
        p++;
        s++;
        size_t plen = segment_len(p);
        size_t slen = segment_len(s);
        if (plen >= 2 && p[0] == '{' && p[plen - 1] == '}') {
            if (slen == 0 || found.count >= TSP_ROUTE_MAX_PARAMS ||
                slen >= sizeof(found.items[0].value)) {
                return false;
            }
            /* the name is the pattern text between the braces; patterns are static */
            struct tsp_route_param *param = &found.items[found.count++];
            param->name = p + 1;
            memcpy(param->value, s, slen);
            param->value[slen] = '\0';
        } else if (plen != slen || memcmp(p, s, plen) != 0) {
            return false;
        }
        p += plen;
        s += slen;
    }
    if (*p != '\0' || *s != '\0') {
        return false;
    }
    if (params != NULL) {
        *params = found;
    }
    return true;
}

static void allow_append(char *allow, size_t allow_size, const char *method)
{
    size_t used = strlen(allow);
    if (strstr(allow, method) != NULL) {
        return;
    }
    snprintf(allow + used, allow_size - used, "%s%s", used > 0 ? ", " : "", method);
}

/* Segments of a pattern that are literal text, not {parameters}. */
static size_t literal_segments(const char *pattern)
{
    size_t n = 0;

    for (const char *p = pattern; *p != '\0'; p++) {
        if (*p == '/' && p[1] != '{') {
            n++;
        }
    }
    return n;
}

enum tsp_route_match tsp_router_match(const char *method, const char *path,
                                      const struct tsp_route **route,
                                      struct tsp_route_params *params, char *allow,
                                      size_t allow_size)
{
    bool path_known = false;
    size_t best = 0;

    if (allow != NULL && allow_size > 0) {
        allow[0] = '\0';
    }
    /* a literal segment beats a parameter: /jobs/errors is not the job "errors" for any
     * method, so PATCH /jobs/errors is 405, not alterJob */
    for (size_t i = 0; i < ROUTE_COUNT; i++) {
        size_t lit = literal_segments(routes[i].pattern);
        if (lit > best && tsp_router_pattern_match(routes[i].pattern, path, NULL)) {
            best = lit;
        }
    }
    for (size_t i = 0; i < ROUTE_COUNT; i++) {
        struct tsp_route_params found;
        if (literal_segments(routes[i].pattern) < best ||
            !tsp_router_pattern_match(routes[i].pattern, path, &found)) {
            continue;
        }
        if (strcmp(routes[i].method, method) == 0) {
            *route = &routes[i];
            if (params != NULL) {
                *params = found;
            }
            return TSP_ROUTE_FOUND;
        }
        path_known = true;
        if (allow != NULL && allow_size > 0) {
            allow_append(allow, allow_size, routes[i].method);
        }
    }
    return path_known ? TSP_ROUTE_BAD_METHOD : TSP_ROUTE_NOT_FOUND;
}
