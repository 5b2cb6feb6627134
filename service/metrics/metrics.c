/* metrics/metrics.c - HTTP request counters and duration histograms kept in relaxed atomics (every
 * request touches them, so no lock), and the Prometheus text exposition 0.0.4 writer.
 * SPDX-License-Identifier: MIT
 */
#include "tspool/metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tspool/strbuf.h"

const double tsp_metrics_duration_bounds_s[TSP_METRICS_DURATION_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

static const char *const methods[] = {"GET",    "POST", "PUT",     "PATCH",
                                      "DELETE", "HEAD", "OPTIONS", "OTHER"};
#define NMETHODS (sizeof(methods) / sizeof(methods[0]))

/* Statuses counted by value; everything else lands in the last slot, labelled by class. */
static const int codes[] = {200, 201, 204, 400, 401, 403, 404, 405,
                            409, 413, 415, 500, 502, 503, 504};
#define NCODES (sizeof(codes) / sizeof(codes[0]) + 1)

#define NBUCKETS (TSP_METRICS_DURATION_BUCKETS + 1)

struct route_hist {
    atomic_uint_fast64_t buckets[NBUCKETS]; /* non-cumulative counts; last = +Inf */
    atomic_uint_fast64_t sum_ns;
    atomic_uint_fast64_t count;
};

struct tsp_metrics {
    size_t nroutes; /* including the trailing "unmatched" */
    char **labels;
    atomic_uint_fast64_t *requests; /* [route][method][code] */
    struct route_hist *hist;        /* [route] */
};

enum tsp_code tsp_metrics_new(const char *const *route_labels, size_t nroutes,
                              struct tsp_metrics **out, struct tsp_error *err)
{
    struct tsp_metrics *m = calloc(1, sizeof(*m));
    enum tsp_code rc = TSP_OK;

    if (m == NULL) {
        rc = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory creating metrics");
        goto done;
    }
    m->nroutes = nroutes + 1;
    m->labels = calloc(m->nroutes, sizeof(*m->labels));
    m->requests = calloc(m->nroutes * NMETHODS * NCODES, sizeof(*m->requests));
    m->hist = calloc(m->nroutes, sizeof(*m->hist));
    if (m->labels == NULL || m->requests == NULL || m->hist == NULL) {
        rc = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory creating metrics");
        goto done;
    }
    for (size_t i = 0; i < m->nroutes; i++) {
        m->labels[i] = strdup(i < nroutes ? route_labels[i] : "unmatched");
        if (m->labels[i] == NULL) {
            rc = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory creating metrics");
            goto done;
        }
    }
    /* calloc'd atomics are valid zero-initialised objects on every platform we build for */
    *out = m;
    m = NULL;
done:
    tsp_metrics_free(m);
    return rc;
}

void tsp_metrics_free(struct tsp_metrics *m)
{
    if (m == NULL) {
        return;
    }
    if (m->labels != NULL) {
        for (size_t i = 0; i < m->nroutes; i++) {
            free(m->labels[i]);
        }
    }
    free(m->labels);
    free(m->requests);
    free(m->hist);
    free(m);
}

static size_t method_index(const char *method)
{
    for (size_t i = 0; i + 1 < NMETHODS; i++) {
        if (method != NULL && strcmp(method, methods[i]) == 0) {
            return i;
        }
    }
    return NMETHODS - 1;
}

static size_t code_index(int status)
{
    for (size_t i = 0; i + 1 < NCODES; i++) {
        if (codes[i] == status) {
            return i;
        }
    }
    return NCODES - 1;
}

static size_t route_slot(const struct tsp_metrics *m, size_t route)
{
    return route < m->nroutes - 1 ? route : m->nroutes - 1;
}

void tsp_metrics_http_observe(struct tsp_metrics *m, size_t route, const char *method, int status,
                              uint64_t duration_ns)
{
    size_t r = route_slot(m, route);
    size_t idx = (r * NMETHODS + method_index(method)) * NCODES + code_index(status);
    double s = (double)duration_ns / 1e9;
    size_t b = 0;

    atomic_fetch_add_explicit(&m->requests[idx], 1, memory_order_relaxed);
    while (b < TSP_METRICS_DURATION_BUCKETS && s > tsp_metrics_duration_bounds_s[b]) {
        b++;
    }
    atomic_fetch_add_explicit(&m->hist[r].buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->hist[r].sum_ns, duration_ns, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->hist[r].count, 1, memory_order_relaxed);
}

uint64_t tsp_metrics_http_count(const struct tsp_metrics *m, size_t route, const char *method,
                                int status)
{
    size_t r = route_slot(m, route);
    size_t idx = (r * NMETHODS + method_index(method)) * NCODES + code_index(status);
    return atomic_load_explicit(&m->requests[idx], memory_order_relaxed);
}

/* Label values escape backslash, double quote and newline (exposition format 0.0.4). */
static void escape_label(const char *in, char *out, size_t outsize)
{
    size_t o = 0;
    for (; *in != '\0' && o + 2 < outsize; in++) {
        if (*in == '\\' || *in == '"') {
            out[o++] = '\\';
            out[o++] = *in;
        } else if (*in == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = *in;
        }
    }
    out[o] = '\0';
}

static void family(struct tsp_strbuf *o, const char *name, const char *type, const char *help)
{
    tsp_strbuf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Shortest text that reads back as the same double (0.0025, not 0.0025000000000000001). */
static void format_double(double v, char *buf, size_t size)
{
    for (int precision = 15; precision <= 17; precision++) {
        snprintf(buf, size, "%.*g", precision, v);
        if (strtod(buf, NULL) == v) {
            return;
        }
    }
}

static void gauge(struct tsp_strbuf *o, const char *name, const char *help, double value)
{
    char text[40];

    format_double(value, text, sizeof(text));
    family(o, name, "gauge", help);
    tsp_strbuf_printf(o, "%s %s\n", name, text);
}

static void counter(struct tsp_strbuf *o, const char *name, const char *help, uint64_t value)
{
    family(o, name, "counter", help);
    tsp_strbuf_printf(o, "%s %llu\n", name, (unsigned long long)value);
}

/* How a pool series reads its value out of struct tsp_pool_stats. */
enum field_kind { F_INT, F_BOOL, F_U64, F_DOUBLE, F_MS_AS_S };

struct pool_series {
    const char *name;
    const char *type; /* "gauge" or "counter" */
    const char *help;
    size_t offset; /* into struct tsp_pool_stats */
    enum field_kind kind;
};

#define STAT(f) offsetof(struct tsp_pool_stats, f)

/* Every single-valued pool family; each gets one line per pool (pool="primary", "read"). */
static const struct pool_series pool_series[] = {
    {"tspool_pool_size", "gauge", "Connections the pool keeps (DB_MAX_CONNS; DB_READ_MAX_CONNS).",
     STAT(size), F_INT},
    {"tspool_pool_max_overflow", "gauge", "Temporary connections allowed beyond the size.",
     STAT(max_overflow), F_INT},
    {"tspool_pool_min_idle", "gauge", "Connections kept open at all times (DB_MIN_CONNS).",
     STAT(min_idle), F_INT},
    {"tspool_pool_open_connections", "gauge", "Open connections (idle + in use).", STAT(open),
     F_INT},
    {"tspool_pool_overflow_in_use", "gauge", "Connections in use beyond the size.",
     STAT(in_use_overflow), F_INT},
    {"tspool_pool_waiting", "gauge", "Borrowers waiting for a connection.", STAT(waiting), F_INT},
    {"tspool_pool_paused", "gauge", "1 while the pool is paused.", STAT(paused), F_BOOL},
    {"tspool_pool_timeout_seconds", "gauge", "Borrow deadline.", STAT(timeout_ms), F_MS_AS_S},
    {"tspool_pool_borrows_total", "counter", "Successful borrows.", STAT(borrows), F_U64},
    {"tspool_pool_borrow_timeouts_total", "counter", "Borrows that timed out (pool exhausted).",
     STAT(borrow_timeouts), F_U64},
    {"tspool_pool_borrow_failures_total", "counter",
     "Borrows that failed for other reasons (connect, shutdown).", STAT(borrow_failures), F_U64},
    {"tspool_pool_waited_borrows_total", "counter", "Borrows that had to wait.",
     STAT(waited_borrows), F_U64},
    {"tspool_pool_connects_total", "counter", "Connections opened.", STAT(connects), F_U64},
    {"tspool_pool_connect_failures_total", "counter", "Failed connection attempts.",
     STAT(connect_failures), F_U64},
    {"tspool_pool_preping_failures_total", "counter", "Idle connections found dead by pre-ping.",
     STAT(preping_failures), F_U64},
    {"tspool_pool_rollbacks_total", "counter", "Sessions rolled back on return.", STAT(rollbacks),
     F_U64},
    {"tspool_pool_leaks_detected_total", "counter", "Leases held longer than DB_LEAK_DETECTION_MS.",
     STAT(leaks_detected), F_U64},
    {"tspool_pool_slow_operations_total", "counter", "Operations slower than DB_SLOW_QUERY_MS.",
     STAT(slow_operations), F_U64},
    {"tspool_pool_failover_invalidations_total", "counter",
     "Times every connection was invalidated after a failover.", STAT(failover_invalidations),
     F_U64},
    {"tspool_pool_uptime_seconds", "gauge", "Seconds since the pool started.", STAT(uptime_s),
     F_DOUBLE},
};

struct pool_ref {
    const char *label; /* "primary" or "read" */
    const struct tsp_pool_stats *s;
};

static void series_value(const struct tsp_pool_stats *s, const struct pool_series *f, char *buf,
                         size_t size)
{
    const char *base = (const char *)s + f->offset;
    int i = 0;
    long l = 0;
    bool b = false;
    uint64_t u = 0;
    double d = 0.0;

    switch (f->kind) {
    case F_INT:
        memcpy(&i, base, sizeof(i));
        snprintf(buf, size, "%d", i);
        break;
    case F_BOOL:
        memcpy(&b, base, sizeof(b));
        snprintf(buf, size, "%d", b ? 1 : 0);
        break;
    case F_U64:
        memcpy(&u, base, sizeof(u));
        snprintf(buf, size, "%llu", (unsigned long long)u);
        break;
    case F_DOUBLE:
        memcpy(&d, base, sizeof(d));
        format_double(d, buf, size);
        break;
    case F_MS_AS_S:
        memcpy(&l, base, sizeof(l));
        format_double((double)l / 1000.0, buf, size);
        break;
    }
}

static void render_pool(struct tsp_strbuf *o, const struct tsp_metrics_sources *src)
{
    struct pool_ref pools[2] = {{"primary", src->pool}, {"read", src->read_pool}};
    size_t npools = src->read_pool != NULL ? 2 : 1;
    uint64_t cumulative = 0;
    char label[2 * TSP_POOL_LABEL_MAX + 1];
    char value[40];

    for (size_t f = 0; f < sizeof(pool_series) / sizeof(pool_series[0]); f++) {
        family(o, pool_series[f].name, pool_series[f].type, pool_series[f].help);
        for (size_t p = 0; p < npools; p++) {
            series_value(pools[p].s, &pool_series[f], value, sizeof(value));
            tsp_strbuf_printf(o, "%s{pool=\"%s\"} %s\n", pool_series[f].name, pools[p].label,
                              value);
        }
    }
    family(o, "tspool_pool_connections", "gauge", "Connections by state.");
    for (size_t p = 0; p < npools; p++) {
        const struct tsp_pool_stats *s = pools[p].s;
        tsp_strbuf_printf(o, "tspool_pool_connections{pool=\"%s\",state=\"idle\"} %d\n",
                          pools[p].label, s->idle);
        tsp_strbuf_printf(o, "tspool_pool_connections{pool=\"%s\",state=\"in_use\"} %d\n",
                          pools[p].label, s->in_use);
        tsp_strbuf_printf(o, "tspool_pool_connections{pool=\"%s\",state=\"connecting\"} %d\n",
                          pools[p].label, s->connecting);
    }
    family(o, "tspool_pool_closes_total", "counter", "Connections closed, by reason.");
    for (size_t p = 0; p < npools; p++) {
        for (int r = 0; r < TSP_CLOSE_REASON_COUNT; r++) {
            tsp_strbuf_printf(o, "tspool_pool_closes_total{pool=\"%s\",reason=\"%s\"} %llu\n",
                              pools[p].label, tsp_close_reason_name((enum tsp_close_reason)r),
                              (unsigned long long)pools[p].s->closes[r]);
        }
    }
    if (src->slow != NULL) {
        family(o, "tspool_pool_slow_operations_by_label_total", "counter",
               "Slow operations by borrower label (the primary pool).");
        for (size_t i = 0; i < src->nslow; i++) {
            escape_label(src->slow[i].label, label, sizeof(label));
            tsp_strbuf_printf(o,
                              "tspool_pool_slow_operations_by_label_total{pool=\"primary\","
                              "label=\"%s\"} %llu\n",
                              label, (unsigned long long)src->slow[i].count);
        }
    }
    family(o, "tspool_pool_acquire_wait_seconds", "histogram",
           "Time borrowers waited for a connection.");
    for (size_t p = 0; p < npools; p++) {
        const struct tsp_pool_stats *s = pools[p].s;
        cumulative = 0;
        for (int b = 0; b < TSP_POOL_WAIT_BUCKETS; b++) {
            cumulative += s->wait_buckets[b];
            tsp_strbuf_printf(o,
                              "tspool_pool_acquire_wait_seconds_bucket{pool=\"%s\",le=\"%g\"} "
                              "%llu\n",
                              pools[p].label, tsp_pool_wait_bucket_bounds_s[b],
                              (unsigned long long)cumulative);
        }
        cumulative += s->wait_buckets[TSP_POOL_WAIT_BUCKETS];
        tsp_strbuf_printf(o,
                          "tspool_pool_acquire_wait_seconds_bucket{pool=\"%s\",le=\"+Inf\"} "
                          "%llu\n",
                          pools[p].label, (unsigned long long)cumulative);
        format_double(s->wait_sum_s, value, sizeof(value));
        tsp_strbuf_printf(o, "tspool_pool_acquire_wait_seconds_sum{pool=\"%s\"} %s\n",
                          pools[p].label, value);
        tsp_strbuf_printf(o, "tspool_pool_acquire_wait_seconds_count{pool=\"%s\"} %llu\n",
                          pools[p].label, (unsigned long long)cumulative);
    }
}

/* Per replica: reachable, in rotation, lag; and the read routing counters. */
static void render_replicas(struct tsp_strbuf *o, const struct tsp_metrics_sources *src)
{
    char name[2 * TSP_METRICS_SERVER_MAX + 1];
    char value[40];
    const struct tsp_metrics_replica *r = NULL;

    family(o, "tspool_replica_up", "gauge", "1 when the replica answered its last check.");
    for (size_t i = 0; i < src->nreplicas; i++) {
        r = &src->replicas[i];
        escape_label(r->server, name, sizeof(name));
        tsp_strbuf_printf(o, "tspool_replica_up{server=\"%s\"} %d\n", name, r->up ? 1 : 0);
    }
    family(o, "tspool_replica_in_rotation", "gauge",
           "1 while the replica serves reads (reachable, in recovery, within the lag bounds).");
    for (size_t i = 0; i < src->nreplicas; i++) {
        r = &src->replicas[i];
        escape_label(r->server, name, sizeof(name));
        tsp_strbuf_printf(o, "tspool_replica_in_rotation{server=\"%s\"} %d\n", name,
                          r->in_rotation ? 1 : 0);
    }
    family(o, "tspool_replica_lag_bytes", "gauge",
           "WAL bytes the replica has not replayed yet (primary's position - replay position).");
    for (size_t i = 0; i < src->nreplicas; i++) {
        r = &src->replicas[i];
        if (r->has_lag) {
            escape_label(r->server, name, sizeof(name));
            tsp_strbuf_printf(o, "tspool_replica_lag_bytes{server=\"%s\"} %lld\n", name,
                              r->lag_bytes);
        }
    }
    family(o, "tspool_replica_lag_seconds", "gauge",
           "Age of the last replayed transaction while WAL is pending replay; 0 when caught up.");
    for (size_t i = 0; i < src->nreplicas; i++) {
        r = &src->replicas[i];
        if (r->has_lag) {
            escape_label(r->server, name, sizeof(name));
            format_double(r->lag_s, value, sizeof(value));
            tsp_strbuf_printf(o, "tspool_replica_lag_seconds{server=\"%s\"} %s\n", name, value);
        }
    }
    family(o, "tspool_read_borrows_total", "counter",
           "Reads that tolerate staleness, by where they were served.");
    tsp_strbuf_printf(o, "tspool_read_borrows_total{target=\"replica\"} %llu\n",
                      (unsigned long long)src->reads_replica);
    tsp_strbuf_printf(o, "tspool_read_borrows_total{target=\"primary_fallback\"} %llu\n",
                      (unsigned long long)src->reads_fallback);
    tsp_strbuf_printf(o, "tspool_read_borrows_total{target=\"refused\"} %llu\n",
                      (unsigned long long)src->reads_refused);
    counter(o, "tspool_cluster_failovers_total",
            "Times the primary changed (another server or a new timeline).", src->failovers);
}

static void render_db(struct tsp_strbuf *o, const struct tsp_pool_health *db)
{
    gauge(o, "tspool_db_up", "1 when the last cached database check succeeded.",
          db->checked && db->ok ? 1 : 0);
    gauge(o, "tspool_db_check_latency_seconds", "Round trip of the last successful check.",
          db->latency_ms / 1000.0);
}

static void render_http(struct tsp_strbuf *o, const struct tsp_metrics *m)
{
    char label[512];

    family(o, "tspool_http_requests_total", "counter", "HTTP requests by route, method and code.");
    for (size_t r = 0; r < m->nroutes; r++) {
        escape_label(m->labels[r], label, sizeof(label));
        for (size_t mi = 0; mi < NMETHODS; mi++) {
            for (size_t c = 0; c < NCODES; c++) {
                size_t idx = (r * NMETHODS + mi) * NCODES + c;
                uint64_t n = atomic_load_explicit(&m->requests[idx], memory_order_relaxed);
                if (n == 0) {
                    continue;
                }
                if (c + 1 < NCODES) {
                    tsp_strbuf_printf(
                        o,
                        "tspool_http_requests_total{route=\"%s\",method=\"%s\",code=\"%d\"} "
                        "%llu\n",
                        label, methods[mi], codes[c], (unsigned long long)n);
                } else {
                    tsp_strbuf_printf(
                        o,
                        "tspool_http_requests_total{route=\"%s\",method=\"%s\",code=\"other\"} "
                        "%llu\n",
                        label, methods[mi], (unsigned long long)n);
                }
            }
        }
    }
    family(o, "tspool_http_request_duration_seconds", "histogram",
           "Time to serve a request, by route.");
    for (size_t r = 0; r < m->nroutes; r++) {
        const struct route_hist *h = &m->hist[r];
        uint64_t count = atomic_load_explicit(&h->count, memory_order_relaxed);
        uint64_t cumulative = 0;
        if (count == 0) {
            continue;
        }
        escape_label(m->labels[r], label, sizeof(label));
        for (size_t b = 0; b < TSP_METRICS_DURATION_BUCKETS; b++) {
            cumulative += atomic_load_explicit(&h->buckets[b], memory_order_relaxed);
            tsp_strbuf_printf(
                o, "tspool_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                label, tsp_metrics_duration_bounds_s[b], (unsigned long long)cumulative);
        }
        cumulative +=
            atomic_load_explicit(&h->buckets[TSP_METRICS_DURATION_BUCKETS], memory_order_relaxed);
        tsp_strbuf_printf(
            o, "tspool_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
            label, (unsigned long long)cumulative);
        tsp_strbuf_printf(o, "tspool_http_request_duration_seconds_sum{route=\"%s\"} %.9f\n", label,
                          (double)atomic_load_explicit(&h->sum_ns, memory_order_relaxed) / 1e9);
        /* the +Inf bucket is the count: both read from the same atomics a moment apart */
        tsp_strbuf_printf(o, "tspool_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                          label, (unsigned long long)cumulative);
    }
}

enum tsp_code tsp_metrics_render(const struct tsp_metrics *metrics,
                                 const struct tsp_metrics_sources *src, char **out, size_t *len,
                                 struct tsp_error *err)
{
    struct tsp_strbuf o = {0};
    char version[128];
    char *text = NULL;

    gauge(&o, "tspool_up", "1 while the service is running.", 1);
    escape_label(src != NULL && src->version != NULL ? src->version : "unknown", version,
                 sizeof(version));
    family(&o, "tspool_build_info", "gauge", "Build information; the value is always 1.");
    tsp_strbuf_printf(&o, "tspool_build_info{version=\"%s\"} 1\n", version);
    if (src != NULL && src->pool != NULL) {
        render_pool(&o, src);
    }
    if (src != NULL && src->cluster) {
        render_replicas(&o, src);
    }
    if (src != NULL && src->db != NULL) {
        render_db(&o, src->db);
    }
    if (metrics != NULL) {
        render_http(&o, metrics);
    }
    if (src != NULL && src->http) {
        gauge(&o, "tspool_http_db_inflight",
              "Requests being served that need the database (bounded by "
              "TSPOOL_HTTP_DB_MAX_INFLIGHT).",
              (double)src->http_db_inflight);
        counter(&o, "tspool_http_failed_handshakes_total",
                "Connections closed before they were set up (failed TLS handshakes).",
                (uint64_t)src->http_failed_handshakes);
    }
    if (src != NULL && src->append != NULL) {
        src->append(src->append_ctx, &o);
    }
    text = tsp_strbuf_take(&o, len);
    if (text == NULL) {
        return tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory rendering metrics");
    }
    *out = text;
    return TSP_OK;
}
