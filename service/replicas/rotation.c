/* replicas/rotation.c - the pure rules of the read pool: LSN text, which replica is in rotation
 * and why, replica and primary readiness over a cached view, option defaults.
 * SPDX-License-Identifier: MIT
 */
#include "replicas_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

const char *tsp_cluster_role_name(enum tsp_cluster_role role)
{
    switch (role) {
    case TSP_CLUSTER_ROLE_PRIMARY:
        return "primary";
    case TSP_CLUSTER_ROLE_REPLICA:
        return "replica";
    default:
        return "unknown";
    }
}

void tsp_cluster_options_from_config(const struct tsp_config *cfg, struct tsp_cluster_options *out)
{
    memset(out, 0, sizeof(*out));
    out->fallback = cfg->db_read_fallback != NULL && strcmp(cfg->db_read_fallback, "fail") == 0
                        ? TSP_CLUSTER_FALLBACK_FAIL
                        : TSP_CLUSTER_FALLBACK_PRIMARY;
    out->max_lag_bytes = cfg->db_read_max_lag_bytes;
    out->max_lag_ms = cfg->db_read_max_lag_ms;
    out->interval_ms = cfg->health_interval_ms;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

/* Up to 8 hex digits ending at a stop character; returns the position after them or NULL. */
static const char *hex32(const char *p, char stop, uint32_t *out)
{
    uint32_t v = 0;
    int n = 0;

    for (; *p != stop && *p != '\0'; p++, n++) {
        int d = hex_digit(*p);
        if (d < 0 || n == 8) {
            return NULL;
        }
        v = (v << 4) | (uint32_t)d;
    }
    if (n == 0 || *p != stop) {
        return NULL;
    }
    *out = v;
    return p;
}

bool tsp_cluster_lsn_parse(const char *text, uint64_t *out)
{
    uint32_t hi = 0;
    uint32_t lo = 0;
    const char *p = text != NULL ? hex32(text, '/', &hi) : NULL;

    if (p == NULL || hex32(p + 1, '\0', &lo) == NULL) {
        return false;
    }
    *out = ((uint64_t)hi << 32) | lo;
    return true;
}

void tsp_cluster_rotation_decide(struct tsp_cluster_member *m, long long primary_timeline,
                                 long long max_lag_bytes, long max_lag_ms)
{
    m->in_rotation = false;
    if (!m->checked) {
        snprintf(m->reason, sizeof(m->reason), "not checked yet");
    } else if (!m->reachable) {
        /* the reason of the failed check stays */
        if (m->reason[0] == '\0') {
            snprintf(m->reason, sizeof(m->reason), "unreachable");
        }
    } else if (m->role != TSP_CLUSTER_ROLE_REPLICA) {
        snprintf(m->reason, sizeof(m->reason),
                 "not in recovery: the server is a primary (promoted), not a replica");
    } else if (primary_timeline > 0 && m->timeline > 0 && m->timeline != primary_timeline) {
        snprintf(m->reason, sizeof(m->reason), "on timeline %lld, the primary is on %lld",
                 m->timeline, primary_timeline);
    } else if (max_lag_bytes > 0 && m->has_lag && m->lag_bytes > max_lag_bytes) {
        snprintf(m->reason, sizeof(m->reason),
                 "replay lag %lld bytes is over DB_READ_MAX_LAG_BYTES (%lld)", m->lag_bytes,
                 max_lag_bytes);
    } else if (max_lag_ms > 0 && m->has_lag && m->lag_s * 1000.0 > (double)max_lag_ms) {
        snprintf(m->reason, sizeof(m->reason),
                 "replay lag %.3f s is over DB_READ_MAX_LAG_MS (%ld ms)", m->lag_s, max_lag_ms);
    } else {
        m->in_rotation = true;
        m->reason[0] = '\0';
    }
}

bool tsp_cluster_replica_ready(const struct tsp_cluster_view *view, long long max_lag_bytes,
                               long max_lag_ms, char *reason, size_t reason_size)
{
    long long bytes = max_lag_bytes < 0 ? view->max_lag_bytes : max_lag_bytes;
    long ms = max_lag_ms < 0 ? view->max_lag_ms : max_lag_ms;
    struct tsp_cluster_member m;
    const char *last = "";

    if (view->nreplicas == 0) {
        snprintf(reason, reason_size, "no replica configured (DB_READ_HOSTS)");
        return false;
    }
    for (size_t i = 0; i < view->nreplicas; i++) {
        m = view->replicas[i];
        tsp_cluster_rotation_decide(&m, view->primary.timeline, bytes, ms);
        if (m.in_rotation) {
            reason[0] = '\0';
            return true;
        }
        last = view->replicas[i].name;
        snprintf(reason, reason_size, "no usable replica; %s: %s", last, m.reason);
    }
    return false;
}

bool tsp_cluster_primary_ready(const struct tsp_cluster_view *view, char *reason,
                               size_t reason_size)
{
    const struct tsp_cluster_member *p = &view->primary;

    if (!p->checked) {
        snprintf(reason, reason_size, "primary not checked yet");
        return false;
    }
    if (!p->reachable) {
        snprintf(reason, reason_size, "primary unreachable: %s", p->reason);
        return false;
    }
    if (p->role != TSP_CLUSTER_ROLE_PRIMARY) {
        snprintf(reason, reason_size, "%s is in recovery (a replica), not a primary", p->name);
        return false;
    }
    reason[0] = '\0';
    return true;
}
