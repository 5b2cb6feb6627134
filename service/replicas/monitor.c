/* replicas/monitor.c - the read pool's maintenance thread: every health interval it checks the
 * primary (role, timeline, WAL position, pg_stat_replication) and each replica (reachable, in
 * recovery, receive/replay LSN, replay lag, timeline) and re-sorts the rotation.
 * SPDX-License-Identifier: MIT
 */
#include "replicas_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tspool/clock.h"
#include "tspool/db.h"
#include "tspool/log.h"

/* One statement that works on a primary and on a standby: the functions that fail during
 * recovery (pg_current_wal_lsn, pg_walfile_name) or outside it (pg_is_wal_replay_paused) sit
 * in CASE branches that are not evaluated. The timeline of a primary is the one of its
 * current WAL file (pg_control_checkpoint lags behind a promotion until the next checkpoint);
 * a standby's is the one its WAL receiver streams. */
static const char check_sql[] =
    "SELECT pg_is_in_recovery() AS in_recovery,"
    " CASE WHEN pg_is_in_recovery()"
    "  THEN COALESCE((SELECT received_tli FROM pg_stat_wal_receiver LIMIT 1),"
    "                (SELECT timeline_id FROM pg_control_checkpoint()))::bigint"
    "  ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::bigint"
    " END AS timeline,"
    " CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END AS current_lsn,"
    " pg_last_wal_receive_lsn()::text AS receive_lsn,"
    " pg_last_wal_replay_lsn()::text AS replay_lsn,"
    " CASE WHEN NOT pg_is_in_recovery() THEN NULL"
    "  WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0"
    "  ELSE COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp()), 0)"
    " END::float8 AS lag_s,"
    " CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END AS paused,"
    " COALESCE(substring((SELECT conninfo FROM pg_stat_wal_receiver LIMIT 1)"
    "                    FROM 'application_name=([^ ]+)'),"
    "          NULLIF(current_setting('cluster_name'), ''), 'walreceiver') AS app_name";

static const char standbys_sql[] =
    "SELECT application_name, COALESCE(client_addr::text, 'local'), state, sync_state,"
    " sent_lsn::text, replay_lsn::text, EXTRACT(EPOCH FROM replay_lag)::float8"
    " FROM pg_stat_replication ORDER BY application_name, client_addr";

static void copy_text(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src != NULL ? src : "");
}

static bool lsn_at(const struct tsp_db_result *res, int col, uint64_t *out)
{
    return tsp_cluster_lsn_parse(tsp_db_result_value(res, 0, col), out);
}

/* Run the check statement on a lease and fill m (everything but the rotation). */
static enum tsp_code check_server(struct tsp_lease *lease, struct tsp_cluster_member *m,
                                  struct tsp_error *err)
{
    struct tsp_db_result *res = NULL;
    const char *lag = NULL;
    int64_t t0 = tsp_clock_mono_ns();
    enum tsp_code rc = tsp_db_exec(lease, check_sql, 0, NULL, &res, err);

    if (rc != TSP_OK) {
        goto done;
    }
    if (tsp_db_result_rows(res) != 1) {
        rc = tsp_error_set(err, TSP_DB_ERROR, NULL, "the replica check returned no row");
        goto done;
    }
    m->check_ms = (double)(tsp_clock_mono_ns() - t0) / 1e6;
    m->reachable = true;
    m->role = tsp_db_result_bool(res, 0, 0) ? TSP_CLUSTER_ROLE_REPLICA : TSP_CLUSTER_ROLE_PRIMARY;
    m->timeline = tsp_db_result_int(res, 0, 1, 0);
    m->has_current_lsn = lsn_at(res, 2, &m->current_lsn);
    m->has_receive_lsn = lsn_at(res, 3, &m->receive_lsn);
    m->has_replay_lsn = lsn_at(res, 4, &m->replay_lsn);
    lag = tsp_db_result_value(res, 0, 5);
    m->lag_s = lag != NULL ? strtod(lag, NULL) : 0.0;
    m->replay_paused = tsp_db_result_bool(res, 0, 6);
    copy_text(m->application_name, sizeof(m->application_name), tsp_db_result_value(res, 0, 7));
    tsp_db_server_name(lease, m->name, sizeof(m->name));
done:
    tsp_db_result_free(res);
    return rc;
}

/* pg_stat_replication of the primary into out (at most TSP_CLUSTER_MAX_STANDBYS rows). */
static size_t read_standbys(struct tsp_lease *lease, struct tsp_cluster_standby *out)
{
    struct tsp_db_result *res = NULL;
    struct tsp_error err;
    size_t n = 0;
    const char *lag = NULL;

    tsp_error_init(&err);
    if (tsp_db_exec(lease, standbys_sql, 0, NULL, &res, &err) != TSP_OK) {
        return 0;
    }
    for (int row = 0; row < tsp_db_result_rows(res) && n < TSP_CLUSTER_MAX_STANDBYS; row++) {
        struct tsp_cluster_standby *s = &out[n++];
        memset(s, 0, sizeof(*s));
        copy_text(s->application_name, sizeof(s->application_name),
                  tsp_db_result_value(res, row, 0));
        copy_text(s->client_addr, sizeof(s->client_addr), tsp_db_result_value(res, row, 1));
        copy_text(s->state, sizeof(s->state), tsp_db_result_value(res, row, 2));
        copy_text(s->sync_state, sizeof(s->sync_state), tsp_db_result_value(res, row, 3));
        s->has_sent_lsn = tsp_cluster_lsn_parse(tsp_db_result_value(res, row, 4), &s->sent_lsn);
        s->has_replay_lsn = tsp_cluster_lsn_parse(tsp_db_result_value(res, row, 5), &s->replay_lsn);
        lag = tsp_db_result_value(res, row, 6);
        s->has_replay_lag = lag != NULL;
        s->replay_lag_s = lag != NULL ? strtod(lag, NULL) : 0.0;
    }
    tsp_db_result_free(res);
    return n;
}

static void mark_down(struct tsp_cluster_member *m, const struct tsp_error *err)
{
    m->reachable = false;
    m->role = TSP_CLUSTER_ROLE_UNKNOWN;
    m->has_lag = false;
    m->in_rotation = false;
    snprintf(m->state, sizeof(m->state), "down");
    snprintf(m->reason, sizeof(m->reason), "unreachable: %.230s", err->detail);
}

/* Check the server DB_HOST leads to, on the monitor's own connection. A primary that turned
 * out to be in recovery invalidates that connection (25006, as a refused write would) and
 * soft-evicts the main pool: their next connections look for the read-write server of DB_HOST
 * again. */
static void check_primary(struct tsp_cluster *c, struct tsp_cluster_member *m,
                          struct tsp_cluster_standby *standbys, size_t *nstandbys)
{
    struct tsp_pool *pool = c->check_pool != NULL ? c->check_pool : c->primary;
    struct tsp_pool_stats st;
    struct tsp_lease *lease = NULL;
    struct tsp_error err;
    enum tsp_code rc = TSP_OK;

    tsp_error_init(&err);
    if (c->check_pool == NULL) {
        /* through the main pool: a paused pool is an operator's choice, not an outage; keep
         * the last result rather than wait */
        tsp_pool_stats(pool, &st);
        if (st.paused) {
            goto done;
        }
    }
    rc = tsp_pool_borrow(pool, "cluster.check", c->opts.check_timeout_ms, &lease, &err);
    if (rc == TSP_POOL_EXHAUSTED) {
        /* every connection is busy: the server answers; keep the last result */
        goto done;
    }
    m->checked = true;
    m->checked_at_ms = tsp_clock_real_ms();
    m->has_sent_lsn = false;
    if (rc == TSP_OK) {
        rc = check_server(lease, m, &err);
    }
    if (rc != TSP_OK) {
        mark_down(m, &err);
        goto done;
    }
    if (m->role == TSP_CLUSTER_ROLE_REPLICA) {
        tsp_lease_report_error(lease, "25006");
        (void)tsp_pool_recycle_all(c->primary);
        snprintf(m->state, sizeof(m->state), "in_recovery");
        snprintf(m->reason, sizeof(m->reason), "the server of the main pool is in recovery");
        m->in_rotation = false;
        goto done;
    }
    snprintf(m->state, sizeof(m->state), "primary");
    m->reason[0] = '\0';
    m->in_rotation = false;
    m->has_lag = false;
    *nstandbys = read_standbys(lease, standbys);
done:
    tsp_pool_return(lease);
}

/* The row of the primary's pg_stat_replication that is this replica: the one with its
 * application_name, when exactly one has it. */
static const struct tsp_cluster_standby *
standby_of(const struct tsp_cluster_member *m, const struct tsp_cluster_standby *standbys, size_t n)
{
    const struct tsp_cluster_standby *found = NULL;

    for (size_t i = 0; i < n; i++) {
        if (strcmp(standbys[i].application_name, m->application_name) == 0) {
            if (found != NULL) {
                return NULL;
            }
            found = &standbys[i];
        }
    }
    return found;
}

static void check_replica(struct tsp_cluster *c, struct tsp_replica *r,
                          const struct tsp_cluster_member *primary,
                          const struct tsp_cluster_standby *standbys, size_t nstandbys,
                          struct tsp_cluster_member *m)
{
    struct tsp_lease *lease = NULL;
    struct tsp_error err;
    const struct tsp_cluster_standby *row = NULL;
    char configured[TSP_CLUSTER_NAME_MAX];
    enum tsp_code rc = TSP_OK;

    tsp_error_init(&err);
    memcpy(configured, m->name, sizeof(configured));
    rc = tsp_pool_borrow(r->check_pool, "cluster.check", c->opts.check_timeout_ms, &lease, &err);
    m->checked = true;
    m->checked_at_ms = tsp_clock_real_ms();
    if (rc == TSP_OK) {
        rc = check_server(lease, m, &err);
    }
    tsp_pool_return(lease);
    /* a replica keeps its configured name (DB_READ_HOSTS:DB_READ_PORT) */
    memcpy(m->name, configured, sizeof(m->name));
    if (rc != TSP_OK) {
        mark_down(m, &err);
        goto decide;
    }
    m->has_lag = false;
    if (m->role == TSP_CLUSTER_ROLE_PRIMARY) {
        snprintf(m->state, sizeof(m->state), "promoted");
        goto decide;
    }
    if (primary->reachable && primary->has_current_lsn && m->has_replay_lsn &&
        primary->timeline == m->timeline) {
        m->lag_bytes = primary->current_lsn > m->replay_lsn
                           ? (long long)(primary->current_lsn - m->replay_lsn)
                           : 0;
        m->has_lag = true;
    } else if (m->has_receive_lsn && m->has_replay_lsn) {
        m->lag_bytes =
            m->receive_lsn > m->replay_lsn ? (long long)(m->receive_lsn - m->replay_lsn) : 0;
        m->has_lag = true;
    }
    row = standby_of(m, standbys, nstandbys);
    m->has_sent_lsn = row != NULL && row->has_sent_lsn;
    m->sent_lsn = row != NULL ? row->sent_lsn : 0;
    if (m->replay_paused) {
        snprintf(m->state, sizeof(m->state), "paused");
    } else if (m->has_lag && m->lag_bytes > 0) {
        snprintf(m->state, sizeof(m->state), "catching_up");
    } else {
        snprintf(m->state, sizeof(m->state), "streaming");
    }
decide:
    tsp_cluster_rotation_decide(m, primary->reachable ? primary->timeline : 0,
                                c->opts.max_lag_bytes, c->opts.max_lag_ms);
}

static void log_rotation(const struct tsp_cluster_member *before,
                         const struct tsp_cluster_member *after)
{
    struct tsp_log_ctx ctx = {.event = "cluster.rotation", .conn_id = -1};

    if (before->in_rotation == after->in_rotation) {
        return;
    }
    if (after->in_rotation) {
        TSP_LOG_INFO(&ctx, "replica %s is back in the read rotation", after->name);
    } else {
        TSP_LOG_WARN(&ctx, "replica %s leaves the read rotation: %s", after->name, after->reason);
    }
}

void tsp_cluster_check_all(struct tsp_cluster *c)
{
    struct tsp_cluster_member primary;
    struct tsp_cluster_member *members = NULL;
    struct tsp_cluster_standby standbys[TSP_CLUSTER_MAX_STANDBYS];
    struct tsp_log_ctx ctx = {.event = "cluster.failover", .conn_id = -1};
    size_t nstandbys = 0;
    bool changed = false;
    char before[TSP_CLUSTER_NAME_MAX];
    long long before_tl = 0;

    members = calloc(c->nreplicas > 0 ? c->nreplicas : 1, sizeof(*members));
    if (members == NULL) {
        return;
    }
    pthread_mutex_lock(&c->lock);
    primary = c->primary_member;
    for (size_t i = 0; i < c->nreplicas; i++) {
        members[i] = c->replicas[i].member;
    }
    /* compared with the last primary seen healthy: a failover usually passes through checks
     * that found no primary at all */
    memcpy(before, c->last_primary, sizeof(before));
    before_tl = c->last_timeline;
    /* a skipped primary check keeps the last replication rows */
    nstandbys = c->nstandbys;
    memcpy(standbys, c->standbys, sizeof(standbys));
    pthread_mutex_unlock(&c->lock);

    check_primary(c, &primary, standbys, &nstandbys);
    changed = before[0] != '\0' && primary.reachable && primary.role == TSP_CLUSTER_ROLE_PRIMARY &&
              (strcmp(before, primary.name) != 0 || before_tl != primary.timeline);
    if (changed) {
        TSP_LOG_WARN(&ctx, "the primary is now %s on timeline %lld (was %s on timeline %lld)",
                     primary.name, primary.timeline, before, before_tl);
        /* main-pool connections still open to the old server go (soft: idle now, borrowed
         * ones on return) */
        (void)tsp_pool_recycle_all(c->primary);
    }
    for (size_t i = 0; i < c->nreplicas; i++) {
        struct tsp_cluster_member old = members[i];
        check_replica(c, &c->replicas[i], &primary, standbys, nstandbys, &members[i]);
        log_rotation(&old, &members[i]);
    }

    pthread_mutex_lock(&c->lock);
    c->primary_member = primary;
    for (size_t i = 0; i < c->nreplicas; i++) {
        c->replicas[i].member = members[i];
    }
    c->nstandbys = nstandbys;
    memcpy(c->standbys, standbys, nstandbys * sizeof(standbys[0]));
    c->failovers += changed ? 1u : 0u;
    if (primary.reachable && primary.role == TSP_CLUSTER_ROLE_PRIMARY) {
        memcpy(c->last_primary, primary.name, sizeof(c->last_primary));
        c->last_timeline = primary.timeline;
    }
    c->checked_at_ms = tsp_clock_real_ms();
    pthread_mutex_unlock(&c->lock);
    free(members);
}

static void *monitor_main(void *arg)
{
    struct tsp_cluster *c = arg;
    struct timespec ts;
    int64_t wake_ns = 0;
    bool stop = false;

    while (!stop) {
        tsp_cluster_check_all(c);
        wake_ns = tsp_clock_mono_ns() + (int64_t)c->opts.interval_ms * 1000000;
        ts.tv_sec = (time_t)(wake_ns / 1000000000);
        ts.tv_nsec = (long)(wake_ns % 1000000000);
        pthread_mutex_lock(&c->lock);
        while (!c->stop && pthread_cond_timedwait(&c->wake, &c->lock, &ts) != ETIMEDOUT) {
        }
        stop = c->stop;
        pthread_mutex_unlock(&c->lock);
    }
    return NULL;
}

enum tsp_code tsp_cluster_monitor_start(struct tsp_cluster *c, struct tsp_error *err)
{
    int rc = pthread_create(&c->thread, NULL, monitor_main, c);

    if (rc != 0) {
        return tsp_error_set(err, TSP_INTERNAL, NULL, "cannot start the cluster monitor: %s",
                             strerror(rc));
    }
    c->started = true;
    return TSP_OK;
}
