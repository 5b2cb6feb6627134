/* dbinfo.h - what the database server says about itself, through a pool lease: the ping
 * round trip (version, primary/standby) and the server's view of its connections
 * (pg_settings / pg_stat_activity) used to diagnose "too many connections".
 * SPDX-License-Identifier: MIT
 */
#ifndef TSPOOL_DBINFO_H
#define TSPOOL_DBINFO_H

#include <stdbool.h>
#include <stddef.h>

#include "tspool/error.h"
#include "tspool/pool.h"

#define TSP_DBINFO_TEXT_MAX 256

/* Result of one ping. */
struct tsp_dbinfo_ping {
    double round_trip_ms; /* the SELECT only */
    double wait_ms;       /* time spent waiting for the lease */
    long long conn_id;    /* pool connection that answered */
    int backend_pid;
    int server_version_num;                   /* e.g. 150018 */
    char server_version[TSP_DBINFO_TEXT_MAX]; /* SHOW server_version, e.g. "15.18 (Debian ...)" */
    bool primary;                             /* NOT pg_is_in_recovery() */
    char timescaledb_version[32];             /* installed extension version, "" when absent */
    char server[280];                         /* "host:port" the session reached */
};

/* Borrow (label `label`, the pool's default timeout), run one round trip, return. Errors:
 * those of tsp_pool_borrow (TSP_POOL_EXHAUSTED, TSP_DB_UNAVAILABLE, TSP_SHUTTING_DOWN) and of
 * tsp_db_exec. Thread-safe; blocks up to the pool timeout plus the round trip. */
enum tsp_code tsp_dbinfo_ping(struct tsp_pool *pool, const char *label, struct tsp_dbinfo_ping *out,
                              struct tsp_error *err) TSP_MUSTCHECK;

#define TSP_DBINFO_MAX_GROUPS 32

struct tsp_dbinfo_group {
    char name[64]; /* state ("active", "idle", "idle in transaction") or application_name */
    long long count;
};

/* The server's view of its connections. */
struct tsp_dbinfo_server_view {
    int max_connections;
    int superuser_reserved_connections;
    int reserved_connections;     /* PostgreSQL 16+, else 0 */
    long long client_connections; /* client backends now (all databases and users) */
    long long ours;               /* client backends with our application_name */
    long long available;          /* max - reserved - client_connections */
    /* `available` minus the connections this deployment may still open (size + overflow -
     * open): negative means a full pool would exceed max_connections. */
    long long headroom_at_full_pool;
    size_t nstates;
    struct tsp_dbinfo_group by_state[TSP_DBINFO_MAX_GROUPS];
    size_t napps; /* the largest TSP_DBINFO_MAX_GROUPS applications */
    struct tsp_dbinfo_group by_application[TSP_DBINFO_MAX_GROUPS];
};

/* Query pg_settings and pg_stat_activity through one lease (label "pool.server_view"),
 * waiting at most timeout_ms for it (negative = the pool's default). application_name
 * identifies our own sessions (may be NULL); stats (may be NULL) gives the pool's size,
 * overflow and open count for the headroom. Errors as tsp_dbinfo_ping. Thread-safe. */
enum tsp_code tsp_dbinfo_server_view(struct tsp_pool *pool, const char *application_name,
                                     long timeout_ms, const struct tsp_pool_stats *stats,
                                     struct tsp_dbinfo_server_view *out,
                                     struct tsp_error *err) TSP_MUSTCHECK;

#endif /* TSPOOL_DBINFO_H */
