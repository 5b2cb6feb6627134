/* metrics/metrics.c - HTTP request counters and duration histograms kept in relaxed atomics (every
 * request touches them, so no lock), and the Prometheus text exposition 0.0.4 writer.
 * SPDX-License-Identifier: MIT
 */
#include "tspool/metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
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

static void render_pool(struct tsp_strbuf *o, const struct tsp_metrics_sources *src)
{
    const struct tsp_pool_stats *s = src->pool;
    uint64_t cumulative = 0;
    char label[2 * TSP_POOL_LABEL_MAX + 1];

    gauge(o, "tspool_pool_size", "Connections the pool keeps (DB_MAX_CONNS).", s->size);
    gauge(o, "tspool_pool_max_overflow", "Temporary connections allowed beyond the size.",
          s->max_overflow);
    gauge(o, "tspool_pool_min_idle", "Connections kept open at all times (DB_MIN_CONNS).",
          s->min_idle);
    family(o, "tspool_pool_connections", "gauge", "Connections by state.");
    tsp_strbuf_printf(o, "tspool_pool_connections{state=\"idle\"} %d\n", s->idle);
    tsp_strbuf_printf(o, "tspool_pool_connections{state=\"in_use\"} %d\n", s->in_use);
    tsp_strbuf_printf(o, "tspool_pool_connections{state=\"connecting\"} %d\n", s->connecting);
    gauge(o, "tspool_pool_open_connections", "Open connections (idle + in use).", s->open);
    gauge(o, "tspool_pool_overflow_in_use", "Connections in use beyond the size.",
          s->in_use_overflow);
    gauge(o, "tspool_pool_waiting", "Borrowers waiting for a connection.", s->waiting);
    gauge(o, "tspool_pool_paused", "1 while the pool is paused.", s->paused ? 1 : 0);
    gauge(o, "tspool_pool_timeout_seconds", "Borrow deadline.", (double)s->timeout_ms / 1000.0);
    counter(o, "tspool_pool_borrows_total", "Successful borrows.", s->borrows);
    counter(o, "tspool_pool_borrow_timeouts_total", "Borrows that timed out (pool exhausted).",
            s->borrow_timeouts);
    counter(o, "tspool_pool_borrow_failures_total",
            "Borrows that failed for other reasons (connect, shutdown).", s->borrow_failures);
    counter(o, "tspool_pool_waited_borrows_total", "Borrows that had to wait.", s->waited_borrows);
    counter(o, "tspool_pool_connects_total", "Connections opened.", s->connects);
    counter(o, "tspool_pool_connect_failures_total", "Failed connection attempts.",
            s->connect_failures);
    family(o, "tspool_pool_closes_total", "counter", "Connections closed, by reason.");
    for (int r = 0; r < TSP_CLOSE_REASON_COUNT; r++) {
        tsp_strbuf_printf(o, "tspool_pool_closes_total{reason=\"%s\"} %llu\n",
                          tsp_close_reason_name((enum tsp_close_reason)r),
                          (unsigned long long)s->closes[r]);
    }
    counter(o, "tspool_pool_preping_failures_total", "Idle connections found dead by pre-ping.",
            s->preping_failures);
    counter(o, "tspool_pool_rollbacks_total", "Sessions rolled back on return.", s->rollbacks);
    counter(o, "tspool_pool_leaks_detected_total", "Leases held longer than DB_LEAK_DETECTION_MS.",
            s->leaks_detected);
    counter(o, "tspool_pool_slow_operations_total", "Operations slower than DB_SLOW_QUERY_MS.",
            s->slow_operations);
    counter(o, "tspool_pool_failover_invalidations_total",
            "Times every connection was invalidated after a failover.", s->failover_invalidations);
    if (src->slow != NULL) {
        family(o, "tspool_pool_slow_operations_by_label_total", "counter",
               "Slow operations by borrower label.");
        for (size_t i = 0; i < src->nslow; i++) {
            escape_label(src->slow[i].label, label, sizeof(label));
            tsp_strbuf_printf(o, "tspool_pool_slow_operations_by_label_total{label=\"%s\"} %llu\n",
                              label, (unsigned long long)src->slow[i].count);
        }
    }
    family(o, "tspool_pool_acquire_wait_seconds", "histogram",
           "Time borrowers waited for a connection.");
    for (int b = 0; b < TSP_POOL_WAIT_BUCKETS; b++) {
        cumulative += s->wait_buckets[b];
        tsp_strbuf_printf(o, "tspool_pool_acquire_wait_seconds_bucket{le=\"%g\"} %llu\n",
                          tsp_pool_wait_bucket_bounds_s[b], (unsigned long long)cumulative);
    }
    cumulative += s->wait_buckets[TSP_POOL_WAIT_BUCKETS];
    tsp_strbuf_printf(o, "tspool_pool_acquire_wait_seconds_bucket{le=\"+Inf\"} %llu\n",
                      (unsigned long long)cumulative);
    format_double(s->wait_sum_s, label, sizeof(label));
    tsp_strbuf_printf(o, "tspool_pool_acquire_wait_seconds_sum %s\n", label);
    tsp_strbuf_printf(o, "tspool_pool_acquire_wait_seconds_count %llu\n",
                      (unsigned long long)cumulative);
    gauge(o, "tspool_pool_uptime_seconds", "Seconds since the pool started.", s->uptime_s);
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
