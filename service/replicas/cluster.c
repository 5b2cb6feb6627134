/* replicas/cluster.c - the read pool: one pool per DB_READ_HOSTS entry, reads lent by the
 * least-used replica in rotation with the primary as fallback, the cached view and read stats.
 * SPDX-License-Identifier: MIT
 */
#include "replicas_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tspool/log.h"

/* Element i (0-based) of a comma-separated list into out; the last element when the list is
 * shorter (one port for every host). */
static void list_item(const char *list, size_t i, char *out, size_t size)
{
    const char *start = list;
    const char *comma = NULL;
    size_t len = 0;

    for (size_t k = 0; k < i; k++) {
        comma = strchr(start, ',');
        if (comma == NULL) {
            break;
        }
        start = comma + 1;
    }
    len = strcspn(start, ",");
    if (len >= size) {
        len = size - 1;
    }
    memcpy(out, start, len);
    out[len] = '\0';
}

static size_t list_count(const char *list)
{
    size_t n = 1;

    for (const char *p = list; *p != '\0'; p++) {
        n += *p == ',' ? 1u : 0u;
    }
    return n;
}

/* Pool options of a replica: the service's, with the read pool's size and no warm pool
 * beyond it. */
static void replica_pool_options(const struct tsp_config *cfg, struct tsp_pool_options *o)
{
    tsp_pool_options_from_config(cfg, o);
    o->size = cfg->read_pool_size;
    if (o->min_idle > o->size) {
        o->min_idle = o->size;
    }
    /* the cluster monitor checks replicas itself (roles and lag); the pool's own health ping
     * would only duplicate the round trip */
    o->health_interval_ms = -1;
    o->stats_log_interval_ms = 0;
}

/* A pool of one connection for the monitor's checks of the server cfg leads to: checks never
 * wait behind reads or a paused main pool, and have deadlines of their own. */
static enum tsp_code check_pool_new(const struct tsp_cluster *c, const struct tsp_config *cfg,
                                    struct tsp_pool **out, struct tsp_error *err)
{
    struct tsp_pool_options popts;
    struct tsp_connector connector;
    enum tsp_code rc = TSP_OK;

    tsp_pool_options_from_config(cfg, &popts);
    popts.mode = TSP_POOL_MODE_POOLED;
    popts.size = 1;
    popts.max_overflow = 0;
    popts.min_idle = 0;
    popts.timeout_ms = c->opts.check_timeout_ms;
    popts.health_interval_ms = -1;
    popts.stats_log_interval_ms = 0;
    popts.leak_ms = 0;
    /* ping before every check: the ping has a deadline (a frozen server is found within one
     * check timeout), and the check statement then runs on a session that just answered */
    popts.preping_idle_ms = 0;
    popts.ping_timeout_ms = c->opts.check_timeout_ms;
    /* a check statement that hangs (a frozen or overloaded server) is cancelled after one
     * check timeout too, not after the service-wide DB_STATEMENT_DEADLINE_MS */
    popts.statement_deadline_ms = c->opts.check_timeout_ms;
    rc = tsp_pool_pg_connector(cfg, &connector, err);
    if (rc != TSP_OK) {
        return rc;
    }
    /* the pool owns the connector's context from here (freed by it on failure too) */
    return tsp_pool_new(&popts, &connector, out, err);
}

static enum tsp_code replica_init(struct tsp_cluster *c, size_t i, struct tsp_error *err)
{
    struct tsp_replica *r = &c->replicas[i];
    struct tsp_pool_options popts;
    struct tsp_connector connector;
    enum tsp_code rc = TSP_OK;
    const char *ports = c->cfg->db_read_port != NULL ? c->cfg->db_read_port : c->cfg->db_port;

    list_item(c->cfg->db_read_hosts, i, r->host, sizeof(r->host));
    list_item(ports, c->cfg->db_read_port != NULL ? i : 0, r->port, sizeof(r->port));
    r->cfg = *c->cfg;
    r->cfg.db_host = r->host;
    r->cfg.db_port = r->port;
    /* any role: a promoted replica is still reached, and the rotation says it is no replica */
    snprintf(r->session_attrs, sizeof(r->session_attrs), "any");
    r->cfg.db_target_session_attrs = r->session_attrs;
    snprintf(r->member.name, sizeof(r->member.name), "%s:%s", r->host, r->port);
    snprintf(r->member.reason, sizeof(r->member.reason), "not checked yet");
    snprintf(r->member.state, sizeof(r->member.state), "unknown");
    replica_pool_options(c->cfg, &popts);
    /* r->cfg outlives the connector: the replica (and its pools) live as long as the cluster */
    rc = tsp_pool_pg_connector(&r->cfg, &connector, err);
    if (rc == TSP_OK) {
        rc = tsp_pool_new(&popts, &connector, &r->pool, err);
    }
    if (rc == TSP_OK) {
        rc = check_pool_new(c, &r->cfg, &r->check_pool, err);
    }
    if (rc != TSP_OK) {
        /* not counted in nreplicas: nothing else frees it */
        tsp_pool_free(r->pool);
        r->pool = NULL;
    }
    return rc;
}

enum tsp_code tsp_cluster_new(const struct tsp_config *cfg, const struct tsp_cluster_options *opts,
                              struct tsp_pool *primary, struct tsp_cluster **out,
                              struct tsp_error *err)
{
    struct tsp_cluster *c = NULL;
    size_t n = cfg->db_read_hosts != NULL && cfg->db_read_hosts[0] != '\0'
                   ? list_count(cfg->db_read_hosts)
                   : 0;
    enum tsp_code rc = TSP_OK;

    if (n > TSP_CLUSTER_MAX_REPLICAS) {
        return tsp_error_set(err, TSP_INVALID, "DB_READ_HOSTS",
                             "DB_READ_HOSTS lists %zu replicas; at most %d are supported", n,
                             TSP_CLUSTER_MAX_REPLICAS);
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL || (n > 0 && (c->replicas = calloc(n, sizeof(*c->replicas))) == NULL)) {
        free(c);
        return tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
    }
    pthread_mutex_init(&c->lock, NULL);
    pthread_condattr_init(&c->cond_attr);
    pthread_condattr_setclock(&c->cond_attr, CLOCK_MONOTONIC);
    pthread_cond_init(&c->wake, &c->cond_attr);
    c->cfg = cfg;
    c->opts = *opts;
    if (c->opts.interval_ms <= 0) {
        c->opts.interval_ms = 2000;
    }
    if (c->opts.check_timeout_ms <= 0) {
        c->opts.check_timeout_ms = c->opts.interval_ms < 5000 ? c->opts.interval_ms : 5000;
    }
    c->primary = primary;
    snprintf(c->primary_member.name, sizeof(c->primary_member.name), "%s:%s", cfg->db_host,
             cfg->db_port);
    snprintf(c->primary_member.reason, sizeof(c->primary_member.reason), "not checked yet");
    snprintf(c->primary_member.state, sizeof(c->primary_member.state), "unknown");
    if (n > 0) {
        rc = check_pool_new(c, c->cfg, &c->check_pool, err);
    }
    for (size_t i = 0; i < n && rc == TSP_OK; i++) {
        rc = replica_init(c, i, err);
        if (rc == TSP_OK) {
            c->nreplicas = i + 1;
        }
    }
    if (rc == TSP_OK) {
        rc = tsp_cluster_monitor_start(c, err);
    }
    if (rc != TSP_OK) {
        tsp_cluster_free(c);
        return rc;
    }
    *out = c;
    return TSP_OK;
}

void tsp_cluster_shutdown(struct tsp_cluster *c, long deadline_ms)
{
    bool first = false;

    if (c == NULL) {
        return;
    }
    pthread_mutex_lock(&c->lock);
    c->stop = true;
    first = !c->shut;
    c->shut = true;
    pthread_cond_broadcast(&c->wake);
    pthread_mutex_unlock(&c->lock);
    if (!first) {
        return;
    }
    if (c->started) {
        pthread_join(c->thread, NULL);
        c->started = false;
    }
    for (size_t i = 0; i < c->nreplicas; i++) {
        (void)tsp_pool_shutdown(c->replicas[i].pool, deadline_ms);
        (void)tsp_pool_shutdown(c->replicas[i].check_pool, 0);
    }
    if (c->check_pool != NULL) {
        (void)tsp_pool_shutdown(c->check_pool, 0);
    }
}

void tsp_cluster_free(struct tsp_cluster *c)
{
    if (c == NULL) {
        return;
    }
    tsp_cluster_shutdown(c, 0);
    for (size_t i = 0; i < c->nreplicas; i++) {
        tsp_pool_free(c->replicas[i].pool);
        tsp_pool_free(c->replicas[i].check_pool);
    }
    tsp_pool_free(c->check_pool);
    free(c->replicas);
    pthread_cond_destroy(&c->wake);
    pthread_condattr_destroy(&c->cond_attr);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

size_t tsp_cluster_replica_count(const struct tsp_cluster *c)
{
    return c != NULL ? c->nreplicas : 0;
}

/* The replica in rotation with the fewest connections in use (round robin among equals), or
 * -1. Lock held (pool locks are taken inside it: cluster lock, then a pool lock). */
static long pick_replica(struct tsp_cluster *c)
{
    struct tsp_pool_stats st;
    long best = -1;
    int best_in_use = 0;

    for (size_t k = 0; k < c->nreplicas; k++) {
        size_t i = (c->next_pick + k) % c->nreplicas;
        if (!c->replicas[i].member.in_rotation) {
            continue;
        }
        tsp_pool_stats(c->replicas[i].pool, &st);
        if (best < 0 || st.in_use < best_in_use) {
            best = (long)i;
            best_in_use = st.in_use;
        }
    }
    c->next_pick++;
    return best;
}

/* Count one read by where it went. */
static void count_read(struct tsp_cluster *c, uint64_t *counter)
{
    pthread_mutex_lock(&c->lock);
    (*counter)++;
    pthread_mutex_unlock(&c->lock);
}

enum tsp_code tsp_cluster_borrow_read(struct tsp_cluster *c, const char *label, long timeout_ms,
                                      struct tsp_lease **out, bool *is_replica,
                                      struct tsp_error *err)
{
    struct tsp_error replica_err;
    struct tsp_log_ctx ctx = {.event = "cluster.read_fallback", .conn_id = -1, .label = label};
    long pick = -1;
    bool replica = false;
    enum tsp_code rc = TSP_OK;
    char why[TSP_ERROR_DETAIL_MAX];

    if (c->nreplicas == 0) {
        rc = tsp_pool_borrow(c->primary, label, timeout_ms, out, err);
        goto done;
    }
    tsp_error_init(&replica_err);
    pthread_mutex_lock(&c->lock);
    pick = pick_replica(c);
    pthread_mutex_unlock(&c->lock);
    if (pick < 0) {
        snprintf(why, sizeof(why), "no replica in rotation");
    } else {
        rc = tsp_pool_borrow(c->replicas[pick].pool, label, timeout_ms, out, &replica_err);
        if (rc == TSP_OK) {
            replica = true;
            count_read(c, &c->reads_replica);
            goto done;
        }
        if (rc == TSP_SHUTTING_DOWN) {
            (void)tsp_error_set(err, rc, NULL, "%s", replica_err.detail);
            goto done;
        }
        /* host and port are immutable; the member (name included) belongs to the monitor */
        snprintf(why, sizeof(why), "replica %.200s:%s: %.270s", c->replicas[pick].host,
                 c->replicas[pick].port, replica_err.detail);
    }
    if (c->opts.fallback == TSP_CLUSTER_FALLBACK_FAIL) {
        count_read(c, &c->reads_refused);
        rc = tsp_error_set(err, TSP_DB_UNAVAILABLE, NULL,
                           "no replica can serve the read (%s) and DB_READ_FALLBACK=fail", why);
        goto done;
    }
    count_read(c, &c->reads_fallback);
    if (tsp_log_enabled(TSP_LOG_LEVEL_DEBUG)) {
        TSP_LOG_DEBUG(&ctx, "read falls back to the primary: %s", why);
    }
    rc = tsp_pool_borrow(c->primary, label, timeout_ms, out, err);
done:
    if (rc == TSP_OK && is_replica != NULL) {
        *is_replica = replica;
    }
    return rc;
}

void tsp_cluster_view(struct tsp_cluster *c, struct tsp_cluster_view *out)
{
    memset(out, 0, sizeof(*out));
    out->configured = c->nreplicas > 0;
    out->fallback = c->opts.fallback;
    out->max_lag_bytes = c->opts.max_lag_bytes;
    out->max_lag_ms = c->opts.max_lag_ms;
    out->interval_ms = c->opts.interval_ms;
    pthread_mutex_lock(&c->lock);
    out->primary = c->primary_member;
    out->nreplicas = c->nreplicas;
    for (size_t i = 0; i < c->nreplicas; i++) {
        out->replicas[i] = c->replicas[i].member;
        out->in_rotation += c->replicas[i].member.in_rotation ? 1 : 0;
    }
    out->nstandbys = c->nstandbys;
    memcpy(out->standbys, c->standbys, sizeof(out->standbys));
    out->failovers = c->failovers;
    out->reads_replica = c->reads_replica;
    out->reads_fallback = c->reads_fallback;
    out->reads_refused = c->reads_refused;
    out->checked_at_ms = c->checked_at_ms;
    pthread_mutex_unlock(&c->lock);
}

void tsp_cluster_replica_stats(struct tsp_cluster *c, size_t i, struct tsp_pool_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (i < c->nreplicas) {
        tsp_pool_stats(c->replicas[i].pool, out);
    }
}

void tsp_cluster_read_stats(struct tsp_cluster *c, struct tsp_pool_stats *out)
{
    struct tsp_pool_stats st;

    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < c->nreplicas; i++) {
        tsp_pool_stats(c->replicas[i].pool, &st);
        if (i == 0) {
            *out = st;
            continue;
        }
        out->open += st.open;
        out->idle += st.idle;
        out->in_use += st.in_use;
        out->in_use_overflow += st.in_use_overflow;
        out->connecting += st.connecting;
        out->waiting += st.waiting;
        out->paused = out->paused || st.paused;
        out->shutting_down = out->shutting_down || st.shutting_down;
        out->borrows += st.borrows;
        out->borrow_timeouts += st.borrow_timeouts;
        out->borrow_failures += st.borrow_failures;
        out->waited_borrows += st.waited_borrows;
        out->wait_ns_total += st.wait_ns_total;
        out->connects += st.connects;
        out->connect_failures += st.connect_failures;
        for (int r = 0; r < TSP_CLOSE_REASON_COUNT; r++) {
            out->closes[r] += st.closes[r];
        }
        out->preping_failures += st.preping_failures;
        out->rollbacks += st.rollbacks;
        out->leaks_detected += st.leaks_detected;
        out->slow_operations += st.slow_operations;
        out->failover_invalidations += st.failover_invalidations;
        for (int b = 0; b <= TSP_POOL_WAIT_BUCKETS; b++) {
            out->wait_buckets[b] += st.wait_buckets[b];
        }
        out->wait_sum_s += st.wait_sum_s;
        if (st.uptime_s > out->uptime_s) {
            out->uptime_s = st.uptime_s;
            out->started_at_ms = st.started_at_ms;
        }
    }
}
