/* replicas.h - the read pool over streaming replicas (DB_READ_HOSTS): one pool per replica,
 * reads balanced to the least-used replica in rotation, replica checks (reachable, in recovery,
 * replay lag in bytes and seconds, timeline) and the cluster's topology as the checks saw it.
 * SPDX-License-Identifier: MIT
 */
#ifndef TSPOOL_REPLICAS_H
#define TSPOOL_REPLICAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tspool/config.h"
#include "tspool/error.h"
#include "tspool/pool.h"

struct tsp_cluster; /* opaque; defined in service/replicas/replicas_int.h */

#define TSP_CLUSTER_MAX_REPLICAS 16
#define TSP_CLUSTER_MAX_STANDBYS 16
#define TSP_CLUSTER_NAME_MAX     280 /* "host:port" */
#define TSP_CLUSTER_REASON_MAX   256

/* What a server turned out to be at its last check. */
enum tsp_cluster_role {
    TSP_CLUSTER_ROLE_UNKNOWN = 0, /* never reached */
    TSP_CLUSTER_ROLE_PRIMARY,     /* not in recovery */
    TSP_CLUSTER_ROLE_REPLICA,     /* in recovery (a standby) */
};

/* "unknown", "primary", "replica". Static string. */
const char *tsp_cluster_role_name(enum tsp_cluster_role role);

/* When no replica is in rotation (DB_READ_FALLBACK). */
enum tsp_cluster_fallback {
    TSP_CLUSTER_FALLBACK_PRIMARY = 0, /* read from the primary */
    TSP_CLUSTER_FALLBACK_FAIL,        /* refuse the read: TSP_DB_UNAVAILABLE (503) */
};

/* One server as its last check saw it. LSNs are byte positions (0/16B6C50 -> 0x16B6C50);
 * a `has_*` flag says whether the value is known. */
struct tsp_cluster_member {
    char name[TSP_CLUSTER_NAME_MAX]; /* "host:port" as configured (replicas) or as reached */
    enum tsp_cluster_role role;
    bool checked;   /* at least one check completed */
    bool reachable; /* the last check got an answer */
    bool in_rotation;
    char reason[TSP_CLUSTER_REASON_MAX]; /* why not in rotation (or why down), "" when fine */
    char state[32]; /* "streaming", "paused", "catching_up", "promoted", "primary", "down" */
    long long timeline;
    bool has_current_lsn, has_receive_lsn, has_replay_lsn, has_sent_lsn;
    uint64_t current_lsn; /* primary: pg_current_wal_lsn() */
    uint64_t receive_lsn; /* replica: pg_last_wal_receive_lsn() */
    uint64_t replay_lsn;  /* replica: pg_last_wal_replay_lsn() */
    uint64_t sent_lsn;    /* replica: sent_lsn of its row in the primary's pg_stat_replication */
    bool has_lag;
    long long lag_bytes; /* primary's current LSN - replay LSN (receive - replay without one) */
    double lag_s;        /* 0 when everything received is replayed, else age of the last
                            replayed transaction */
    bool replay_paused;
    char application_name[64]; /* the name the primary sees it under */
    int64_t checked_at_ms;     /* wall clock of the last check */
    double check_ms;           /* round trip of the last check */
};

/* One row of the primary's pg_stat_replication. */
struct tsp_cluster_standby {
    char application_name[64];
    char client_addr[64];
    char state[32];
    char sync_state[16];
    bool has_sent_lsn, has_replay_lsn, has_replay_lag;
    uint64_t sent_lsn, replay_lsn;
    double replay_lag_s;
};

/* The cluster as the checks saw it; a value struct (about 16 KiB: put it on the heap). */
struct tsp_cluster_view {
    bool configured; /* DB_READ_HOSTS is set */
    enum tsp_cluster_fallback fallback;
    long long max_lag_bytes; /* 0 = no byte bound */
    long max_lag_ms;         /* 0 = no time bound */
    long interval_ms;        /* check period */
    struct tsp_cluster_member primary;
    size_t nreplicas;
    struct tsp_cluster_member replicas[TSP_CLUSTER_MAX_REPLICAS];
    size_t nstandbys;
    struct tsp_cluster_standby standbys[TSP_CLUSTER_MAX_STANDBYS];
    int in_rotation;         /* replicas in rotation */
    uint64_t failovers;      /* times the primary changed (another server, or a new timeline) */
    uint64_t reads_replica;  /* read borrows served by a replica */
    uint64_t reads_fallback; /* read borrows served by the primary */
    uint64_t reads_refused;  /* read borrows refused (DB_READ_FALLBACK=fail) */
    int64_t checked_at_ms;   /* wall clock of the last completed round of checks */
};

/* Settings, from the configuration (tsp_cluster_options_from_config) or a test. */
struct tsp_cluster_options {
    enum tsp_cluster_fallback fallback;
    long long max_lag_bytes; /* 0 = no byte bound */
    long max_lag_ms;         /* 0 = no time bound */
    long interval_ms;        /* replica check period (<= 0: 2000) */
    long check_timeout_ms;   /* borrow deadline of one check (<= 0: the interval, at most 5 s) */
};

/* DB_READ_FALLBACK, DB_READ_MAX_LAG_BYTES, DB_READ_MAX_LAG_MS, TSPOOL_HEALTH_INTERVAL_MS. Pure. */
void tsp_cluster_options_from_config(const struct tsp_config *cfg, struct tsp_cluster_options *out);

/* Create the read side of cfg over `primary` (borrowed; must outlive the cluster): one pool per
 * DB_READ_HOSTS entry (same credentials and settings as DB_*, its own size read_pool_size, any
 * server role accepted: rotation decides), and the monitor thread that checks the primary and
 * each replica every interval. With DB_READ_HOSTS empty there are no replicas and every read uses
 * the primary. cfg must outlive the cluster. Errors: TSP_INVALID (more than 16 replicas),
 * TSP_NO_MEMORY, TSP_INTERNAL (thread). On TSP_OK free *out with tsp_cluster_free(). Does not
 * connect synchronously. Not thread-safe. */
enum tsp_code tsp_cluster_new(const struct tsp_config *cfg, const struct tsp_cluster_options *opts,
                              struct tsp_pool *primary, struct tsp_cluster **out,
                              struct tsp_error *err) TSP_MUSTCHECK;

/* Stop the monitor thread and shut the replica pools down (waiting up to deadline_ms for
 * their leases). Idempotent; thread-safe; blocks up to deadline_ms plus one check. */
void tsp_cluster_shutdown(struct tsp_cluster *cluster, long deadline_ms);

/* Shut down if still running, free the replica pools and the cluster. NULL is a no-op. */
void tsp_cluster_free(struct tsp_cluster *cluster);

/* Borrow a connection for a read that tolerates replica staleness: from the replica in
 * rotation with the fewest connections in use; when none is in rotation (or its borrow
 * fails), from the primary with DB_READ_FALLBACK=primary, else TSP_DB_UNAVAILABLE naming why.
 * Without replicas configured this is tsp_pool_borrow on the primary. Errors as
 * tsp_pool_borrow. On TSP_OK *out goes back with tsp_pool_return() exactly once, and
 * *is_replica says where it came from (may be NULL). Thread-safe; blocks up to timeout_ms
 * (negative = the pool default) per pool tried, plus a connect timeout each. */
enum tsp_code tsp_cluster_borrow_read(struct tsp_cluster *cluster, const char *label,
                                      long timeout_ms, struct tsp_lease **out, bool *is_replica,
                                      struct tsp_error *err) TSP_MUSTCHECK;

/* Copy the cached view (the last checks; no database access). Thread-safe, non-blocking. */
void tsp_cluster_view(struct tsp_cluster *cluster, struct tsp_cluster_view *out);

/* Number of replicas configured. Thread-safe. */
size_t tsp_cluster_replica_count(const struct tsp_cluster *cluster);

/* Stats of replica i's pool (0 <= i < count). Thread-safe. */
void tsp_cluster_replica_stats(struct tsp_cluster *cluster, size_t i, struct tsp_pool_stats *out);

/* The read pool as one: replica pools summed (size, gauges, counters, histogram; settings of
 * the first; uptime the longest). All zero (size included) without replicas. Thread-safe. */
void tsp_cluster_read_stats(struct tsp_cluster *cluster, struct tsp_pool_stats *out);

/* Is some replica usable for reads with at most max_lag_bytes / max_lag_ms of lag (negative =
 * the configured bound, 0 = no bound)? From the cached checks only. On false, reason says why
 * (one line). Pure over the view. */
bool tsp_cluster_replica_ready(const struct tsp_cluster_view *view, long long max_lag_bytes,
                               long max_lag_ms, char *reason, size_t reason_size);

/* Is the primary reachable and a primary at the last check? On false, reason says why. Pure
 * over the view. */
bool tsp_cluster_primary_ready(const struct tsp_cluster_view *view, char *reason,
                               size_t reason_size);

/* Parse "0/16B6C50" into a byte position. False on anything else. Pure. */
bool tsp_cluster_lsn_parse(const char *text, uint64_t *out);

/* Decide whether a checked replica belongs in the rotation under the bounds (0 = none): it must
 * be reachable, in recovery, on the primary's timeline when both are known, and within the lag
 * bounds. Writes member->in_rotation and member->reason. Pure. */
void tsp_cluster_rotation_decide(struct tsp_cluster_member *member, long long primary_timeline,
                                 long long max_lag_bytes, long max_lag_ms);

#endif /* TSPOOL_REPLICAS_H */
