/* api/serve.c - `tspool serve`: configuration -> logging -> pool -> health -> metrics -> HTTP ->
 * signals -> drain (readiness off, delay, stop accepting, grace) -> pool shutdown -> exit 0.
 * SPDX-License-Identifier: MIT
 */
#include "api_int.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tspool/cli.h"
#include "tspool/clock.h"
#include "tspool/http.h"
#include "tspool/log.h"

#ifndef TSPOOL_VERSION
#define TSPOOL_VERSION "0.0.0"
#endif

extern char **environ;

/* Runs mg_stop in its own thread so that the main thread can keep a deadline and still
 * react to a second signal. */
struct stopper {
    struct tsp_http_server *server;
    pthread_mutex_t lock;
    pthread_cond_t done_cond;
    int done;
};

static void *stopper_main(void *arg)
{
    struct stopper *s = arg;

    tsp_http_stop(s->server);
    pthread_mutex_lock(&s->lock);
    s->done = 1;
    pthread_cond_broadcast(&s->done_cond);
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: tspool serve [--help]\n\n"
                 "Serve the HTTP API. Configuration comes from the environment (and .env);\n"
                 "see 'tspool config' for the effective values. SIGTERM or SIGINT drains:\n"
                 "readiness fails at once, new requests get 503 after TSPOOL_SHUTDOWN_DELAY,\n"
                 "in-flight requests get TSPOOL_SHUTDOWN_GRACE, then the pool closes.\n"
                 "A second signal exits at once.\n"
                 "With DB_READ_HOSTS, reads that tolerate replica staleness use a second pool\n"
                 "over the streaming replicas (DB_READ_*); GET /cluster shows the topology.\n");
}

/* One lifecycle log line: `prefix` followed by `detail`. */
static void log_event(enum tsp_log_level level, const char *event, const char *prefix,
                      const char *detail)
{
    struct tsp_log_ctx ctx;

    memset(&ctx, 0, sizeof(ctx));
    ctx.event = event;
    ctx.conn_id = -1;
    if (tsp_log_enabled(level)) {
        tsp_log_write(level, &ctx, "%s%s", prefix, detail);
    }
}

/* Wait for one of `set` for up to timeout_ms (negative = forever). Returns the signal, or 0
 * when the time ran out. */
static int wait_signal(const sigset_t *set, long timeout_ms)
{
    for (;;) {
        int sig = 0;
        if (timeout_ms < 0) {
            if (sigwait(set, &sig) == 0) {
                return sig;
            }
            continue;
        }
        struct timespec ts = {.tv_sec = timeout_ms / 1000,
                              .tv_nsec = (timeout_ms % 1000) * 1000000L};
        sig = sigtimedwait(set, NULL, &ts);
        if (sig > 0) {
            return sig;
        }
        if (errno == EAGAIN) {
            return 0;
        }
        /* EINTR: another signal handler ran; keep waiting (the deadline restarts, harmless) */
    }
}

/* Drain within grace_ms: refuse new requests, wait for the in-flight ones (CivetWeb cannot
 * write a response once it is stopping), then stop CivetWeb. Returns false when the deadline
 * passed or a second signal came (*forced); a stopper thread may then still be running and
 * the process exits around it. */
static bool drain_http(struct tsp_http_server *server, const sigset_t *set, long grace_ms,
                       bool *forced)
{
    struct stopper *s = NULL;
    pthread_t thread;
    int64_t deadline = tsp_clock_mono_ms() + grace_ms;
    bool finished = false;

    tsp_http_begin_drain(server);
    while (tsp_http_inflight(server) > 0 && tsp_clock_mono_ms() < deadline) {
        /* poll in short steps: a second signal must exit at once */
        if (wait_signal(set, 20) != 0) {
            *forced = true;
            return false;
        }
    }
    if (tsp_http_inflight(server) > 0) {
        /* the grace is over: stop without waiting for the stragglers */
        deadline = tsp_clock_mono_ms() + 2000;
    } else if (deadline < tsp_clock_mono_ms() + 5000) {
        /* nothing in flight: stopping CivetWeb itself takes about a second */
        deadline = tsp_clock_mono_ms() + 5000;
    }
    s = calloc(1, sizeof(*s)); /* leaked on purpose if the thread outlives us */
    if (s == NULL) {
        tsp_http_stop(server);
        return true;
    }
    s->server = server;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->done_cond, NULL);
    if (pthread_create(&thread, NULL, stopper_main, s) != 0) {
        tsp_http_stop(server);
        free(s);
        return true;
    }
    for (;;) {
        pthread_mutex_lock(&s->lock);
        finished = s->done != 0;
        pthread_mutex_unlock(&s->lock);
        if (finished || tsp_clock_mono_ms() >= deadline) {
            break;
        }
        if (wait_signal(set, 20) != 0) {
            *forced = true;
            break;
        }
    }
    if (finished) {
        pthread_join(thread, NULL);
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->done_cond);
        free(s);
        return true;
    }
    pthread_detach(thread);
    return false;
}

int tsp_cli_serve(int argc, char **argv)
{
    struct tsp_config cfg;
    struct tsp_error err;
    struct tsp_pool_options pool_opts;
    struct tsp_connector connector;
    struct tsp_health_options health_opts;
    struct tsp_http_deps deps;
    struct tsp_pool *pool = NULL;
    struct tsp_cluster_options cluster_opts;
    struct tsp_cluster *cluster = NULL;
    struct tsp_health *health = NULL;
    struct tsp_metrics *metrics = NULL;
    struct tsp_pgb_fleet *pgbouncer = NULL;
    struct tsp_pgb_options pgb_opts;
    struct tsp_activity_options activity_opts;
    struct tsp_activity *activity = NULL;
    struct tsp_http_server *server = NULL;
    const char *const *labels = NULL;
    size_t nlabels = 0;
    enum tsp_log_level level = TSP_LOG_LEVEL_INFO;
    enum tsp_log_format format = TSP_LOG_FORMAT_JSON;
    sigset_t set;
    int sig = 0;
    int exit_code = 1;
    bool forced = false;
    bool http_stopped = false;
    char text[128];
    enum tsp_code rc = TSP_OK;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        fprintf(stderr, "tspool serve: unknown option '%s'\n", argv[i]);
        usage(stderr);
        return 2;
    }
    memset(&cfg, 0, sizeof(cfg));
    memset(&connector, 0, sizeof(connector));
    tsp_error_init(&err);
    rc = tsp_config_load(&cfg, environ, &err);
    if (rc != TSP_OK) {
        fprintf(stderr, "tspool: %s\n", err.detail);
        return 2;
    }
    (void)tsp_log_level_parse(cfg.log_level, &level);
    (void)tsp_log_format_parse(cfg.log_format, &format);
    tsp_log_setup(level, format, NULL);

    /* every thread created from here on inherits the blocked set; only sigwait sees them */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    tsp_pool_options_from_config(&cfg, &pool_opts);
    rc = tsp_pool_pg_connector(&cfg, &connector, &err);
    if (rc != TSP_OK) {
        goto fail;
    }
    rc = tsp_pool_new(&pool_opts, &connector, &pool, &err);
    if (rc != TSP_OK) {
        goto fail;
    }
    tsp_cluster_options_from_config(&cfg, &cluster_opts);
    rc = tsp_cluster_new(&cfg, &cluster_opts, pool, &cluster, &err);
    if (rc != TSP_OK) {
        goto fail;
    }
    memset(&health_opts, 0, sizeof(health_opts));
    /* liveness must survive a database outage: the maintenance thread may sit in a connect
     * attempt for the whole connect timeout, so allow for a few of those */
    health_opts.heartbeat_max_ms =
        60000L + 3L * cfg.db_connect_timeout_s * 1000L + 3L * cfg.health_interval_ms;
    health_opts.ready_max_waiting = cfg.ready_max_waiting;
    health_opts.max_check_age_ms = cfg.ready_max_check_age_ms;
    rc = tsp_health_new(pool, &health_opts, &health, &err);
    if (rc != TSP_OK) {
        goto fail;
    }
    tsp_pgb_options_from_config(&cfg, &pgb_opts);
    rc = tsp_pgb_fleet_new(&pgb_opts, &pgbouncer, &err);
    if (rc != TSP_OK) {
        goto fail;
    }
    tsp_health_set_pgbouncer(health, pgbouncer, cfg.ready_pgbouncer);
    labels = tsp_http_route_labels(&nlabels);
    rc = tsp_metrics_new(labels, nlabels, &metrics, &err);
    if (rc != TSP_OK) {
        goto fail;
    }
    tsp_activity_options_from_config(&cfg, &activity_opts);
    rc = tsp_activity_new(pool, &activity_opts, &activity, &err);
    if (rc != TSP_OK) {
        goto fail;
    }
    deps.cfg = &cfg;
    deps.pool = pool;
    deps.cluster = cluster;
    deps.health = health;
    deps.metrics = metrics;
    deps.pgbouncer = pgbouncer;
    deps.activity = activity;
    rc = tsp_http_start(&deps, &server, &err);
    if (rc != TSP_OK) {
        goto fail;
    }
    snprintf(text, sizeof(text), "%s:%d", cfg.listen_host, tsp_http_port(server));
    {
        struct tsp_log_field fields[2] = {{.key = "listen", .str = text},
                                          {.key = "version", .str = TSPOOL_VERSION}};
        struct tsp_log_ctx ctx = {
            .event = "serve.start", .conn_id = -1, .fields = fields, .nfields = 2};
        TSP_LOG_INFO(&ctx, "tspool %s serving on %s", TSPOOL_VERSION, text);
    }

    sig = wait_signal(&set, -1);
    tsp_health_set_shutting_down(health);
    snprintf(text, sizeof(text), "%s", sig == SIGINT ? "SIGINT" : "SIGTERM");
    log_event(TSP_LOG_LEVEL_INFO, "serve.draining", text, " received: readiness off, draining");
    if (cfg.shutdown_delay_s > 0 && wait_signal(&set, cfg.shutdown_delay_s * 1000L) != 0) {
        forced = true;
    }
    if (!forced) {
        http_stopped = drain_http(server, &set, cfg.shutdown_grace_s * 1000L, &forced);
        /* stopped, or still stopping in its own thread: either way not ours to touch again */
        server = NULL;
        if (!http_stopped && !forced) {
            log_event(TSP_LOG_LEVEL_WARN, "serve.grace_expired",
                      "shutdown grace expired with requests still in flight", "");
        }
    }
    if (forced) {
        log_event(TSP_LOG_LEVEL_WARN, "serve.forced", "second signal: exiting at once", "");
        fflush(stdout);
        _exit(1);
    }
    if (http_stopped) {
        /* nothing reads the samples any more; the sampler's lease comes back within its
         * statement deadline */
        tsp_activity_free(activity);
        activity = NULL;
    }
    {
        int out = 0;
        tsp_cluster_shutdown(cluster, http_stopped ? 1000 : 2000);
        out = tsp_pool_shutdown(pool, http_stopped ? 1000 : 2000);
        struct tsp_log_field fields[1] = {{.key = "leases_out", .num = out}};
        struct tsp_log_ctx ctx = {
            .event = "serve.stopped", .conn_id = -1, .fields = fields, .nfields = 1};
        TSP_LOG_INFO(&ctx, "pool closed; exiting");
        if (out > 0 || !http_stopped) {
            /* a worker may still hold a lease or run: freeing under it would be unsafe */
            fflush(stdout);
            _exit(0);
        }
    }
    exit_code = 0;
    goto done;
fail:
    log_event(TSP_LOG_LEVEL_ERROR, "serve.error", "cannot start: ", err.detail);
    fprintf(stderr, "tspool: %s\n", err.detail);
done:
    tsp_http_stop(server);
    tsp_cluster_free(cluster);
    tsp_activity_free(activity);
    tsp_pool_free(pool);
    tsp_health_free(health);
    tsp_pgb_fleet_free(pgbouncer);
    tsp_metrics_free(metrics);
    tsp_config_fini(&cfg);
    return exit_code;
}
