/* api/render.c - service structs -> json_t: pool status, connections, the server's view, ping,
 * configuration. Pure: no I/O, no locks; unit-tested field by field.
 * SPDX-License-Identifier: MIT
 */
#include "render.h"

#include <math.h>

/* Set several members; any failure poisons `bad`, checked once at the end. */
static void put(json_t *obj, const char *key, json_t *value, int *bad)
{
    if (json_object_set_new(obj, key, value) != 0) {
        *bad = 1;
    }
}

static json_t *seconds(double s)
{
    /* round to the millisecond: nobody needs nanoseconds in a status document */
    return json_real(round(s * 1000.0) / 1000.0);
}

static json_t *u64(uint64_t v)
{
    return json_integer((json_int_t)v);
}

json_t *tsp_render_pool_status(const struct tsp_pool_stats *s)
{
    json_t *doc = json_object();
    json_t *config = json_object();
    json_t *gauges = json_object();
    json_t *counters = json_object();
    json_t *closes = json_object();
    json_t *wait = json_object();
    int bad = (doc == NULL || config == NULL || gauges == NULL || counters == NULL ||
               closes == NULL || wait == NULL);

    if (bad) {
        goto done;
    }
    put(doc, "mode", json_string(s->mode == TSP_POOL_MODE_DIRECT ? "direct" : "pooled"), &bad);
    put(doc, "paused", json_boolean(s->paused), &bad);
    put(doc, "shutting_down", json_boolean(s->shutting_down), &bad);

    put(config, "size", json_integer(s->size), &bad);
    put(config, "max_overflow", json_integer(s->max_overflow), &bad);
    put(config, "min_idle", json_integer(s->min_idle), &bad);
    put(config, "timeout_ms", json_integer(s->timeout_ms), &bad);
    put(config, "recycle_ms", json_integer(s->recycle_ms), &bad);
    put(config, "preping_idle_ms", json_integer(s->preping_idle_ms), &bad);
    put(config, "idle_timeout_ms", json_integer(s->idle_timeout_ms), &bad);
    put(config, "leak_ms", json_integer(s->leak_ms), &bad);
    put(config, "slow_ms", json_integer(s->slow_ms), &bad);

    put(gauges, "open", json_integer(s->open), &bad);
    put(gauges, "idle", json_integer(s->idle), &bad);
    put(gauges, "in_use", json_integer(s->in_use), &bad);
    put(gauges, "in_use_overflow", json_integer(s->in_use_overflow), &bad);
    put(gauges, "connecting", json_integer(s->connecting), &bad);
    put(gauges, "waiting", json_integer(s->waiting), &bad);
    put(gauges, "available",
        json_integer(s->size + s->max_overflow - s->in_use - s->connecting < 0
                         ? 0
                         : s->size + s->max_overflow - s->in_use - s->connecting),
        &bad);

    put(counters, "borrows", u64(s->borrows), &bad);
    put(counters, "borrow_timeouts", u64(s->borrow_timeouts), &bad);
    put(counters, "borrow_failures", u64(s->borrow_failures), &bad);
    put(counters, "waited_borrows", u64(s->waited_borrows), &bad);
    put(counters, "connects", u64(s->connects), &bad);
    put(counters, "connect_failures", u64(s->connect_failures), &bad);
    put(counters, "preping_failures", u64(s->preping_failures), &bad);
    put(counters, "rollbacks", u64(s->rollbacks), &bad);
    put(counters, "leaks_detected", u64(s->leaks_detected), &bad);
    put(counters, "slow_operations", u64(s->slow_operations), &bad);
    put(counters, "failover_invalidations", u64(s->failover_invalidations), &bad);
    for (int r = 0; r < TSP_CLOSE_REASON_COUNT; r++) {
        put(closes, tsp_close_reason_name((enum tsp_close_reason)r), u64(s->closes[r]), &bad);
    }

    put(wait, "total_s", seconds(s->wait_sum_s), &bad);
    put(wait, "p50_s", seconds(tsp_pool_wait_quantile(s, 0.50)), &bad);
    put(wait, "p99_s", seconds(tsp_pool_wait_quantile(s, 0.99)), &bad);

    put(doc, "config", config, &bad);
    config = NULL;
    put(doc, "gauges", gauges, &bad);
    gauges = NULL;
    put(doc, "counters", counters, &bad);
    counters = NULL;
    put(doc, "closes", closes, &bad);
    closes = NULL;
    put(doc, "acquire_wait", wait, &bad);
    wait = NULL;
    put(doc, "started_at_ms", json_integer(s->started_at_ms), &bad);
    put(doc, "uptime_s", seconds(s->uptime_s), &bad);
done:
    json_decref(config);
    json_decref(gauges);
    json_decref(counters);
    json_decref(closes);
    json_decref(wait);
    if (bad) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

json_t *tsp_render_conn(const struct tsp_pool_conn_info *c)
{
    json_t *doc = json_object();
    int bad = doc == NULL;

    if (bad) {
        return NULL;
    }
    put(doc, "id", json_integer(c->id), &bad);
    put(doc, "state", json_string(tsp_pool_conn_state_name(c->state)), &bad);
    put(doc, "age_s", seconds(c->age_s), &bad);
    put(doc, "idle_s", seconds(c->idle_s), &bad);
    put(doc, "uses", u64(c->uses), &bad);
    put(doc, "backend_pid", c->backend_pid > 0 ? json_integer(c->backend_pid) : json_null(), &bad);
    put(doc, "overflow", json_boolean(c->overflow), &bad);
    put(doc, "holder", c->holder[0] != '\0' ? json_string(c->holder) : json_null(), &bad);
    put(doc, "held_s", seconds(c->held_s), &bad);
    if (bad) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

static json_t *groups(const struct tsp_dbinfo_group *g, size_t n)
{
    json_t *obj = json_object();
    int bad = obj == NULL;

    for (size_t i = 0; !bad && i < n; i++) {
        put(obj, g[i].name, json_integer(g[i].count), &bad);
    }
    if (bad) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

json_t *tsp_render_server_view(const struct tsp_dbinfo_server_view *v)
{
    json_t *doc = json_object();
    int bad = doc == NULL;

    if (bad) {
        return NULL;
    }
    put(doc, "max_connections", json_integer(v->max_connections), &bad);
    put(doc, "superuser_reserved_connections", json_integer(v->superuser_reserved_connections),
        &bad);
    put(doc, "reserved_connections", json_integer(v->reserved_connections), &bad);
    put(doc, "client_connections", json_integer(v->client_connections), &bad);
    put(doc, "ours", json_integer(v->ours), &bad);
    put(doc, "available", json_integer(v->available), &bad);
    put(doc, "headroom_at_full_pool", json_integer(v->headroom_at_full_pool), &bad);
    put(doc, "by_state", groups(v->by_state, v->nstates), &bad);
    put(doc, "by_application", groups(v->by_application, v->napps), &bad);
    if (bad) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

json_t *tsp_render_ping(const struct tsp_dbinfo_ping *p)
{
    json_t *doc = json_object();
    int bad = doc == NULL;

    if (bad) {
        return NULL;
    }
    put(doc, "ok", json_true(), &bad);
    put(doc, "round_trip_ms", json_real(round(p->round_trip_ms * 1000.0) / 1000.0), &bad);
    put(doc, "wait_ms", json_real(round(p->wait_ms * 1000.0) / 1000.0), &bad);
    put(doc, "connection_id", json_integer(p->conn_id), &bad);
    put(doc, "backend_pid", json_integer(p->backend_pid), &bad);
    put(doc, "server_version", json_string(p->server_version), &bad);
    put(doc, "server_version_num", json_integer(p->server_version_num), &bad);
    put(doc, "primary", json_boolean(p->primary), &bad);
    put(doc, "server", json_string(p->server), &bad);
    put(doc, "timescaledb_version",
        p->timescaledb_version[0] != '\0' ? json_string(p->timescaledb_version) : json_null(),
        &bad);
    if (bad) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

json_t *tsp_render_config(const struct tsp_config *cfg)
{
    json_t *doc = json_object();
    json_t *vars = json_array();
    int bad = (doc == NULL || vars == NULL);
    size_t n = tsp_config_var_count();

    for (size_t i = 0; !bad && i < n; i++) {
        const struct tsp_config_var *var = tsp_config_var_at(i);
        const struct tsp_config_origin *origin = cfg->origins != NULL ? &cfg->origins[i] : NULL;
        char value[1024];
        json_t *row = json_object();
        if (row == NULL) {
            bad = 1;
            break;
        }
        tsp_config_format_value(cfg, i, true, value, sizeof(value));
        put(row, "name", json_string(var->name), &bad);
        put(row, "value", json_string(value), &bad);
        put(row, "source",
            json_string(
                tsp_config_source_name(origin != NULL ? origin->source : TSP_CONFIG_SRC_DEFAULT)),
            &bad);
        put(row, "where", json_string(origin != NULL ? origin->where : ""), &bad);
        put(row, "secret", json_boolean(var->secret), &bad);
        put(row, "help", json_string(var->help != NULL ? var->help : ""), &bad);
        if (json_array_append_new(vars, row) != 0) {
            bad = 1;
        }
    }
    if (!bad) {
        put(doc, "variables", vars, &bad);
        vars = NULL;
    }
    json_decref(vars);
    if (bad) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}
