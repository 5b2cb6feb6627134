/* health/health.c - named checks for the liveness, readiness and startup probes, evaluated over the
 * pool's cached database check (never a database round trip per probe), and the shutdown flag.
 * SPDX-License-Identifier: MIT
 */
#include "tspool/health.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tspool/clock.h"

struct tsp_health {
    struct tsp_pool *pool; /* borrowed */
    struct tsp_health_options opts;
    atomic_bool shutting_down;
    struct tsp_pgb_fleet *pgbouncer; /* borrowed; NULL = none */
    bool pgbouncer_required;
};

static const char *const probe_names[TSP_PROBE_COUNT] = {"livez", "readyz", "startupz", "healthz"};

const char *tsp_health_probe_name(enum tsp_health_probe probe)
{
    return (int)probe >= 0 && probe < TSP_PROBE_COUNT ? probe_names[probe] : "unknown";
}

typedef bool (*check_fn)(const struct tsp_health_inputs *in, char *reason, size_t size);

static bool check_ping(const struct tsp_health_inputs *in, char *reason, size_t size)
{
    (void)in;
    (void)reason;
    (void)size;
    return true; /* we are answering */
}

static bool check_maintenance(const struct tsp_health_inputs *in, char *reason, size_t size)
{
    int64_t age = in->now_mono_ms - in->db.heartbeat_ms;

    if (in->db.heartbeat_ms <= 0) {
        /* the maintenance thread has not ticked yet: young process, not a failure */
        return true;
    }
    if (in->heartbeat_max_ms > 0 && age > in->heartbeat_max_ms) {
        snprintf(reason, size, "maintenance thread last ran %lld ms ago (limit %ld ms)",
                 (long long)age, in->heartbeat_max_ms);
        return false;
    }
    return true;
}

/* A cached success is only as good as its age: when no check could run for a while (no idle
 * connection, no capacity, every connection stuck), readiness must not keep the last word. */
static bool check_fresh(const struct tsp_health_inputs *in, char *reason, size_t size)
{
    long limit = in->max_check_age_ms;
    int64_t age = 0;

    if (limit <= 0) {
        limit = 3 * (in->db.interval_ms > 0 ? in->db.interval_ms : 5000);
    }
    if (in->db.ok_at_ms <= 0 || in->db.interval_ms < 0) {
        return true; /* no periodic check (unit tests, health checks off) */
    }
    age = in->now_mono_ms - in->db.ok_at_ms;
    if (age > limit) {
        snprintf(reason, size,
                 "no successful database check for %lld ms (limit %ld ms): every connection is "
                 "busy or the database does not answer",
                 (long long)age, limit);
        return false;
    }
    return true;
}

static bool check_db(const struct tsp_health_inputs *in, char *reason, size_t size)
{
    if (!in->db.checked) {
        snprintf(reason, size, "database not checked yet");
        return false;
    }
    if (in->db.ok) {
        return check_fresh(in, reason, size);
    }
    if (in->db.misconfigured) {
        snprintf(reason, size, "database refused the connection (misconfigured): %s",
                 in->db.detail);
    } else {
        snprintf(reason, size, "database unreachable: %s", in->db.detail);
    }
    return false;
}

static bool check_pool(const struct tsp_health_inputs *in, char *reason, size_t size)
{
    if (in->pool_paused) {
        snprintf(reason, size, "pool paused");
        return false;
    }
    if (in->ready_max_waiting > 0 && in->pool_waiting > in->ready_max_waiting) {
        snprintf(reason, size, "pool saturated: %d borrowers waiting (limit %d)", in->pool_waiting,
                 in->ready_max_waiting);
        return false;
    }
    return true;
}

static bool check_shutdown(const struct tsp_health_inputs *in, char *reason, size_t size)
{
    if (in->shutting_down || in->pool_shutting_down) {
        snprintf(reason, size, "shutting down");
        return false;
    }
    return true;
}

static bool check_db_ever(const struct tsp_health_inputs *in, char *reason, size_t size)
{
    if (in->db.ever_ok) {
        return true;
    }
    return check_db(in, reason, size);
}

static bool check_warm(const struct tsp_health_inputs *in, char *reason, size_t size)
{
    if (in->db.min_idle_filled) {
        return true;
    }
    snprintf(reason, size, "warm pool (DB_MIN_CONNS) not open yet");
    return false;
}

static bool check_pgbouncer(const struct tsp_health_inputs *in, char *reason, size_t size)
{
    if (!in->pgbouncer_enabled) {
        snprintf(reason, size, "no PgBouncer configured (PGBOUNCER_HOSTS is empty)");
        return false;
    }
    if (in->pgbouncer_total == 0) {
        snprintf(reason, size, "PgBouncer not checked yet");
        return false;
    }
    if (in->pgbouncer_up == 0) {
        snprintf(reason, size, "no PgBouncer instance up (0 of %zu)", in->pgbouncer_total);
        return false;
    }
    return true;
}

struct check_row {
    const char *name;
    check_fn fn;
};

static const struct check_row live_checks[] = {{"ping", check_ping},
                                               {"maintenance", check_maintenance}};
static const struct check_row ready_checks[] = {{"ping", check_ping},
                                                {"db", check_db},
                                                {"pool", check_pool},
                                                {"shutdown", check_shutdown},
                                                {"pgbouncer", check_pgbouncer}};
static const struct check_row startup_checks[] = {{"db", check_db_ever}, {"warm", check_warm}};
static const struct check_row health_checks[] = {
    {"ping", check_ping}, {"maintenance", check_maintenance}, {"db", check_db},
    {"pool", check_pool}, {"shutdown", check_shutdown},       {"pgbouncer", check_pgbouncer}};

static const struct check_row *probe_checks(enum tsp_health_probe probe, size_t *count)
{
    switch (probe) {
    case TSP_PROBE_LIVE:
        *count = sizeof(live_checks) / sizeof(live_checks[0]);
        return live_checks;
    case TSP_PROBE_READY:
        *count = sizeof(ready_checks) / sizeof(ready_checks[0]);
        return ready_checks;
    case TSP_PROBE_STARTUP:
        *count = sizeof(startup_checks) / sizeof(startup_checks[0]);
        return startup_checks;
    default:
        *count = sizeof(health_checks) / sizeof(health_checks[0]);
        return health_checks;
    }
}

static bool is_excluded(const char *name, const char *const *exclude, size_t nexclude)
{
    for (size_t i = 0; i < nexclude; i++) {
        if (exclude[i] != NULL && strcmp(exclude[i], name) == 0) {
            return true;
        }
    }
    return false;
}

enum tsp_code tsp_health_evaluate(const struct tsp_health_inputs *in, enum tsp_health_probe probe,
                                  const char *only, const char *const *exclude, size_t nexclude,
                                  struct tsp_health_report *out, struct tsp_error *err)
{
    size_t count = 0;
    const struct check_row *rows = probe_checks(probe, &count);
    struct tsp_health_report report;
    bool found = only == NULL;

    memset(&report, 0, sizeof(report));
    report.probe = probe;
    report.ok = true;
    for (size_t i = 0; i < count && report.count < TSP_HEALTH_MAX_CHECKS; i++) {
        struct tsp_health_check *c = NULL;
        if (only != NULL && strcmp(only, rows[i].name) != 0) {
            continue;
        }
        if (rows[i].fn == check_pgbouncer && !in->pgbouncer_required) {
            continue; /* optional: TSPOOL_READY_PGBOUNCER */
        }
        found = true;
        c = &report.checks[report.count++];
        c->name = rows[i].name;
        c->excluded = only == NULL && is_excluded(rows[i].name, exclude, nexclude);
        c->ok = c->excluded || rows[i].fn(in, c->reason, sizeof(c->reason));
        if (!c->ok) {
            report.ok = false;
        }
    }
    if (!found) {
        return tsp_error_set(err, TSP_NOT_FOUND, "check", "%s has no check named '%s'",
                             tsp_health_probe_name(probe), only);
    }
    *out = report;
    return TSP_OK;
}

size_t tsp_health_format(const struct tsp_health_report *report, bool verbose, char *out,
                         size_t outsize)
{
    size_t used = 0;

    if (outsize == 0) {
        return 0;
    }
    out[0] = '\0';
    if (report->ok && !verbose) {
        snprintf(out, outsize, "ok");
        return strlen(out);
    }
    for (size_t i = 0; i < report->count && used < outsize; i++) {
        const struct tsp_health_check *c = &report->checks[i];
        int n = 0;
        if (c->excluded) {
            n = snprintf(out + used, outsize - used, "[+]%s excluded: ok\n", c->name);
        } else if (c->ok) {
            n = snprintf(out + used, outsize - used, "[+]%s ok\n", c->name);
        } else {
            n = snprintf(out + used, outsize - used, "[-]%s failed: %s\n", c->name, c->reason);
        }
        if (n < 0) {
            break;
        }
        used += (size_t)n;
    }
    if (used < outsize) {
        snprintf(out + used, outsize - used, "%s check %s", tsp_health_probe_name(report->probe),
                 report->ok ? "passed" : "failed");
    }
    return strlen(out);
}

enum tsp_code tsp_health_new(struct tsp_pool *pool, const struct tsp_health_options *opts,
                             struct tsp_health **out, struct tsp_error *err)
{
    struct tsp_health *h = calloc(1, sizeof(*h));

    if (h == NULL) {
        return tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory creating health state");
    }
    h->pool = pool;
    if (opts != NULL) {
        h->opts = *opts;
    }
    if (h->opts.heartbeat_max_ms <= 0) {
        h->opts.heartbeat_max_ms = 60000;
    }
    atomic_init(&h->shutting_down, false);
    *out = h;
    return TSP_OK;
}

void tsp_health_free(struct tsp_health *health)
{
    free(health);
}

void tsp_health_set_pgbouncer(struct tsp_health *health, struct tsp_pgb_fleet *fleet, bool required)
{
    health->pgbouncer = fleet;
    health->pgbouncer_required = required;
}

void tsp_health_set_shutting_down(struct tsp_health *health)
{
    atomic_store(&health->shutting_down, true);
}

bool tsp_health_shutting_down(struct tsp_health *health)
{
    return atomic_load(&health->shutting_down);
}

enum tsp_code tsp_health_check(struct tsp_health *health, enum tsp_health_probe probe,
                               const char *only, const char *const *exclude, size_t nexclude,
                               struct tsp_health_report *out, struct tsp_error *err)
{
    struct tsp_health_inputs in;

    memset(&in, 0, sizeof(in));
    in.shutting_down = atomic_load(&health->shutting_down);
    in.heartbeat_max_ms = health->opts.heartbeat_max_ms;
    in.ready_max_waiting = health->opts.ready_max_waiting;
    in.max_check_age_ms = health->opts.max_check_age_ms;
    in.now_mono_ms = tsp_clock_mono_ms();
    in.pgbouncer_required = health->pgbouncer_required;
    in.pgbouncer_enabled = tsp_pgb_fleet_enabled(health->pgbouncer);
    if (in.pgbouncer_required && in.pgbouncer_enabled) {
        tsp_pgb_up_count(health->pgbouncer, &in.pgbouncer_up, &in.pgbouncer_total);
    }
    if (health->pool != NULL) {
        struct tsp_pool_stats stats;
        tsp_pool_health(health->pool, &in.db);
        tsp_pool_stats(health->pool, &stats);
        in.pool_paused = stats.paused;
        in.pool_shutting_down = stats.shutting_down;
        in.pool_waiting = stats.waiting;
    } else {
        snprintf(in.db.detail, sizeof(in.db.detail), "no pool");
    }
    return tsp_health_evaluate(&in, probe, only, exclude, nexclude, out, err);
}
