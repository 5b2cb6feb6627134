/* replicas/replicas_int.h - struct tsp_cluster and a replica record, shared by the files of
 * service/replicas/ only. Fields marked "lock" are guarded by tsp_cluster.lock.
 * SPDX-License-Identifier: MIT
 */
#ifndef TSPOOL_REPLICAS_INT_H
#define TSPOOL_REPLICAS_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "tspool/config.h"
#include "tspool/pool.h"
#include "tspool/replicas.h"

/* One DB_READ_HOSTS entry. */
struct tsp_replica {
    char host[256];
    char port[16];
    char session_attrs[8]; /* "any" */
    /* a copy of the service's configuration pointing at this replica alone (db_host, db_port,
     * target_session_attrs "any"); the strings it shares belong to the service's config */
    struct tsp_config cfg;
    struct tsp_pool *pool;            /* the reads; immutable after tsp_cluster_new */
    struct tsp_pool *check_pool;      /* the monitor's one connection; immutable */
    struct tsp_cluster_member member; /* lock: the last check and the rotation decision */
};

struct tsp_cluster {
    pthread_mutex_t lock;
    pthread_condattr_t cond_attr; /* CLOCK_MONOTONIC */
    pthread_cond_t wake;          /* wakes the monitor early (stop) */
    pthread_t thread;             /* no lock */
    bool started;                 /* the monitor thread runs; no lock */
    bool stop;                    /* lock */
    bool shut;                    /* tsp_cluster_shutdown ran; lock */

    const struct tsp_config *cfg; /* borrowed */
    struct tsp_cluster_options opts;
    struct tsp_pool *primary; /* borrowed: the main pool */
    /* with replicas, the monitor's own connection to the primary (size 1, DB_HOST with its
     * session attrs): the primary's WAL position, which every replica's lag needs, is read each
     * round even while the main pool is paused or exhausted. NULL without replicas: the
     * primary is then checked through the main pool (no extra connection) */
    struct tsp_pool *check_pool;

    size_t nreplicas;
    struct tsp_replica *replicas;
    unsigned next_pick; /* lock: round robin among equally used replicas */

    /* lock: the last checks */
    struct tsp_cluster_member primary_member;
    size_t nstandbys;
    struct tsp_cluster_standby standbys[TSP_CLUSTER_MAX_STANDBYS];
    int64_t checked_at_ms;
    char last_primary[TSP_CLUSTER_NAME_MAX]; /* the last primary seen healthy ("" = none yet) */
    long long last_timeline;                 /* and its timeline */
    uint64_t failovers;
    uint64_t reads_replica, reads_fallback, reads_refused;
};

/* One round of checks: the primary, then every replica; updates the members and the rotation.
 * Lock NOT held (taken to publish). monitor.c. */
void tsp_cluster_check_all(struct tsp_cluster *cluster);

/* Start the monitor thread (monitor.c). */
enum tsp_code tsp_cluster_monitor_start(struct tsp_cluster *cluster,
                                        struct tsp_error *err) TSP_MUSTCHECK;

#endif /* TSPOOL_REPLICAS_INT_H */
