/* api/cluster_render.c - the cluster's topology and the read pool as JSON (pure): GET /cluster
 * and the read_pool member of GET /pool/status.
 * SPDX-License-Identifier: MIT
 */
#include "render.h"

#include <inttypes.h>
#include <stdio.h>

static json_t *lsn(bool known, uint64_t value)
{
    char text[32];

    if (!known) {
        return json_null();
    }
    snprintf(text, sizeof(text), "%" PRIX32 "/%" PRIX32, (uint32_t)(value >> 32),
             (uint32_t)(value & 0xffffffffu));
    return json_string(text);
}

static json_t *text_or_null(const char *s)
{
    return s[0] != '\0' ? json_string(s) : json_null();
}

json_t *tsp_render_cluster_member(const struct tsp_cluster_member *m, bool replica)
{
    json_t *o = json_object();

    if (o == NULL) {
        return NULL;
    }
    json_object_set_new(o, "host", json_string(m->name));
    json_object_set_new(o, "role", json_string(tsp_cluster_role_name(m->role)));
    json_object_set_new(o, "state", json_string(m->state));
    json_object_set_new(o, "reachable", json_boolean(m->reachable));
    json_object_set_new(o, "timeline", m->timeline > 0 ? json_integer(m->timeline) : json_null());
    json_object_set_new(o, "current_lsn", lsn(m->has_current_lsn, m->current_lsn));
    if (replica) {
        json_object_set_new(o, "sent_lsn", lsn(m->has_sent_lsn, m->sent_lsn));
        json_object_set_new(o, "received_lsn", lsn(m->has_receive_lsn, m->receive_lsn));
        json_object_set_new(o, "replayed_lsn", lsn(m->has_replay_lsn, m->replay_lsn));
        json_object_set_new(o, "lag_bytes", m->has_lag ? json_integer(m->lag_bytes) : json_null());
        json_object_set_new(o, "lag_seconds",
                            m->reachable && m->role == TSP_CLUSTER_ROLE_REPLICA
                                ? json_real(m->lag_s)
                                : json_null());
        json_object_set_new(o, "replay_paused", json_boolean(m->replay_paused));
        json_object_set_new(o, "application_name", text_or_null(m->application_name));
        json_object_set_new(o, "in_rotation", json_boolean(m->in_rotation));
    }
    json_object_set_new(o, "reason", text_or_null(m->reason));
    json_object_set_new(o, "checked_at_ms",
                        m->checked ? json_integer(m->checked_at_ms) : json_null());
    return o;
}

static json_t *standby(const struct tsp_cluster_standby *s)
{
    json_t *o = json_object();

    if (o == NULL) {
        return NULL;
    }
    json_object_set_new(o, "application_name", json_string(s->application_name));
    json_object_set_new(o, "client_addr", json_string(s->client_addr));
    json_object_set_new(o, "state", json_string(s->state));
    json_object_set_new(o, "sync_state", json_string(s->sync_state));
    json_object_set_new(o, "sent_lsn", lsn(s->has_sent_lsn, s->sent_lsn));
    json_object_set_new(o, "replayed_lsn", lsn(s->has_replay_lsn, s->replay_lsn));
    json_object_set_new(o, "replay_lag_seconds",
                        s->has_replay_lag ? json_real(s->replay_lag_s) : json_null());
    return o;
}

json_t *tsp_render_cluster(const struct tsp_cluster_view *v)
{
    json_t *doc = json_object();
    json_t *replicas = json_array();
    json_t *standbys = json_array();

    if (doc == NULL || replicas == NULL || standbys == NULL) {
        json_decref(doc);
        json_decref(replicas);
        json_decref(standbys);
        return NULL;
    }
    for (size_t i = 0; i < v->nreplicas; i++) {
        json_array_append_new(replicas, tsp_render_cluster_member(&v->replicas[i], true));
    }
    for (size_t i = 0; i < v->nstandbys; i++) {
        json_array_append_new(standbys, standby(&v->standbys[i]));
    }
    json_object_set_new(doc, "primary", tsp_render_cluster_member(&v->primary, false));
    json_object_set_new(doc, "replicas", replicas);
    json_object_set_new(doc, "replication", standbys);
    json_object_set_new(doc, "in_rotation", json_integer(v->in_rotation));
    json_object_set_new(doc, "fallback",
                        json_string(v->fallback == TSP_CLUSTER_FALLBACK_FAIL ? "fail" : "primary"));
    json_object_set_new(doc, "max_lag_bytes", json_integer(v->max_lag_bytes));
    json_object_set_new(doc, "max_lag_ms", json_integer(v->max_lag_ms));
    json_object_set_new(doc, "check_interval_ms", json_integer(v->interval_ms));
    json_object_set_new(doc, "failovers", json_integer((json_int_t)v->failovers));
    json_object_set_new(doc, "reads",
                        json_pack("{s:I,s:I,s:I}", "replica", (json_int_t)v->reads_replica,
                                  "primary_fallback", (json_int_t)v->reads_fallback, "refused",
                                  (json_int_t)v->reads_refused));
    json_object_set_new(doc, "checked_at_ms",
                        v->checked_at_ms > 0 ? json_integer(v->checked_at_ms) : json_null());
    return doc;
}

json_t *tsp_render_read_pool(const struct tsp_pool_stats *total, const struct tsp_cluster_view *v,
                             const struct tsp_pool_stats *per_replica)
{
    json_t *doc = tsp_render_pool_status(total);
    json_t *list = json_array();

    if (doc == NULL || list == NULL) {
        json_decref(doc);
        json_decref(list);
        return NULL;
    }
    for (size_t i = 0; i < v->nreplicas; i++) {
        json_array_append_new(
            list, json_pack("{s:s,s:b,s:i,s:i,s:i,s:I}", "host", v->replicas[i].name, "in_rotation",
                            v->replicas[i].in_rotation, "open", per_replica[i].open, "idle",
                            per_replica[i].idle, "in_use", per_replica[i].in_use, "borrows",
                            (json_int_t)per_replica[i].borrows));
    }
    json_object_set_new(doc, "replicas", list);
    return doc;
}
