/* db/info.c - the database server's own view through a lease: ping (version, primary or
 * standby, TimescaleDB) and connections by state / application from pg_stat_activity.
 * SPDX-License-Identifier: MIT
 */
#include "tspool/dbinfo.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tspool/clock.h"
#include "tspool/db.h"

static const char ping_sql[] =
    "SELECT current_setting('server_version'), current_setting('server_version_num')::int, "
    "NOT pg_is_in_recovery(), pg_backend_pid(), "
    "(SELECT extversion FROM pg_extension WHERE extname = 'timescaledb')";

static enum tsp_code ping_once(struct tsp_pool *pool, const char *label,
                               struct tsp_dbinfo_ping *out, struct tsp_error *err)
{
    struct tsp_lease *lease = NULL;
    struct tsp_db_result *res = NULL;
    struct tsp_dbinfo_ping ping;
    const char *value = NULL;
    double start = 0;
    enum tsp_code rc = TSP_OK;

    memset(&ping, 0, sizeof(ping));
    rc = tsp_pool_borrow(pool, label, -1, &lease, err);
    if (rc != TSP_OK) {
        goto done;
    }
    ping.wait_ms = (double)tsp_lease_wait_ns(lease) / 1e6;
    ping.conn_id = tsp_lease_conn_id(lease);
    start = (double)tsp_clock_mono_ns() / 1e6;
    rc = tsp_db_exec(lease, ping_sql, 0, NULL, &res, err);
    if (rc != TSP_OK) {
        goto done;
    }
    ping.round_trip_ms = (double)tsp_clock_mono_ns() / 1e6 - start;
    if (tsp_db_result_rows(res) != 1) {
        rc = tsp_error_set(err, TSP_DB_ERROR, NULL, "ping returned %d rows",
                           tsp_db_result_rows(res));
        goto done;
    }
    value = tsp_db_result_value(res, 0, 0);
    snprintf(ping.server_version, sizeof(ping.server_version), "%s", value != NULL ? value : "");
    ping.server_version_num = (int)tsp_db_result_int(res, 0, 1, 0);
    ping.primary = tsp_db_result_bool(res, 0, 2);
    ping.backend_pid = (int)tsp_db_result_int(res, 0, 3, 0);
    tsp_db_server_name(lease, ping.server, sizeof(ping.server));
    value = tsp_db_result_value(res, 0, 4);
    snprintf(ping.timescaledb_version, sizeof(ping.timescaledb_version), "%s",
             value != NULL ? value : "");
    *out = ping;
done:
    tsp_db_result_free(res);
    tsp_pool_return(lease);
    return rc;
}

/* The session died under the statement (terminated backend, server restart, broken socket).
 * The pool has closed that connection; a read-only statement may run once more on another. */
static bool connection_lost(const struct tsp_error *e)
{
    return strncmp(e->sqlstate, "08", 2) == 0 || strcmp(e->sqlstate, "57P01") == 0 ||
           strcmp(e->sqlstate, "57P02") == 0;
}

/* Attempts of a ping whose session dies under it; see tsp_dbinfo_ping. */
#define PING_ATTEMPTS 3

enum tsp_code tsp_dbinfo_ping(struct tsp_pool *pool, const char *label, struct tsp_dbinfo_ping *out,
                              struct tsp_error *err)
{
    struct tsp_error attempt;
    enum tsp_code rc = TSP_OK;

    /* a connection killed while idle can be handed out before the pre-ping notices, and the
     * borrower must not see that: the ping runs again on a fresh borrow (the pool has dropped
     * every connection of the failed one's generation). Bounded, because a new connection can
     * be killed too before its first use (pg_terminate_backend in a loop) */
    for (int i = 0; i < PING_ATTEMPTS; i++) {
        tsp_error_init(&attempt);
        rc = ping_once(pool, label, out, &attempt);
        if (rc == TSP_OK || !connection_lost(&attempt)) {
            break;
        }
    }
    if (rc != TSP_OK && err != NULL && err->code == TSP_OK) {
        *err = attempt; /* first error wins */
    }
    return rc;
}

static const char settings_sql[] =
    "SELECT current_setting('max_connections')::int, "
    "current_setting('superuser_reserved_connections')::int, "
    "coalesce((SELECT setting::int FROM pg_settings WHERE name = 'reserved_connections'), 0), "
    "(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'), "
    "(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
    "AND application_name = $1)";

static const char by_state_sql[] =
    "SELECT coalesce(state, 'unknown'), count(*) FROM pg_stat_activity "
    "WHERE backend_type = 'client backend' GROUP BY 1 ORDER BY 1";

static const char by_app_sql[] =
    "SELECT application_name, count(*) FROM pg_stat_activity "
    "WHERE backend_type = 'client backend' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 32";

static size_t read_groups(const struct tsp_db_result *res, struct tsp_dbinfo_group *groups)
{
    int rows = tsp_db_result_rows(res);
    size_t n = 0;

    for (int r = 0; r < rows && n < TSP_DBINFO_MAX_GROUPS; r++) {
        const char *name = tsp_db_result_value(res, r, 0);
        snprintf(groups[n].name, sizeof(groups[n].name), "%s", name != NULL ? name : "");
        groups[n].count = tsp_db_result_int(res, r, 1, 0);
        n++;
    }
    return n;
}

enum tsp_code tsp_dbinfo_server_view(struct tsp_pool *pool, const char *application_name,
                                     long timeout_ms, const struct tsp_pool_stats *stats,
                                     struct tsp_dbinfo_server_view *out, struct tsp_error *err)
{
    struct tsp_lease *lease = NULL;
    struct tsp_db_result *res = NULL;
    struct tsp_dbinfo_server_view view;
    const char *params[1] = {application_name != NULL ? application_name : ""};
    enum tsp_code rc = TSP_OK;
    long long may_open = 0;

    memset(&view, 0, sizeof(view));
    rc = tsp_pool_borrow(pool, "pool.server_view", timeout_ms, &lease, err);
    if (rc != TSP_OK) {
        goto done;
    }
    rc = tsp_db_exec(lease, settings_sql, 1, params, &res, err);
    if (rc != TSP_OK) {
        goto done;
    }
    view.max_connections = (int)tsp_db_result_int(res, 0, 0, 0);
    view.superuser_reserved_connections = (int)tsp_db_result_int(res, 0, 1, 0);
    view.reserved_connections = (int)tsp_db_result_int(res, 0, 2, 0);
    view.client_connections = tsp_db_result_int(res, 0, 3, 0);
    view.ours = tsp_db_result_int(res, 0, 4, 0);
    tsp_db_result_free(res);
    res = NULL;

    rc = tsp_db_exec(lease, by_state_sql, 0, NULL, &res, err);
    if (rc != TSP_OK) {
        goto done;
    }
    view.nstates = read_groups(res, view.by_state);
    tsp_db_result_free(res);
    res = NULL;

    rc = tsp_db_exec(lease, by_app_sql, 0, NULL, &res, err);
    if (rc != TSP_OK) {
        goto done;
    }
    view.napps = read_groups(res, view.by_application);

    view.available = (long long)view.max_connections - view.superuser_reserved_connections -
                     view.reserved_connections - view.client_connections;
    if (stats != NULL) {
        may_open = (long long)stats->size + stats->max_overflow - stats->open - stats->connecting;
        if (may_open < 0) {
            may_open = 0;
        }
    }
    view.headroom_at_full_pool = view.available - may_open;
    *out = view;
done:
    tsp_db_result_free(res);
    tsp_pool_return(lease);
    return rc;
}
