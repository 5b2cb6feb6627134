/* health.h - named health checks evaluated for the liveness, readiness and startup probes
 * over the pool's cached database check; the shutdown state that turns readiness off first.
 * SPDX-License-Identifier: MIT
 */
#ifndef TSPOOL_HEALTH_H
#define TSPOOL_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tspool/error.h"
#include "tspool/pgbouncer.h"
#include "tspool/pool.h"

enum tsp_health_probe {
    TSP_PROBE_LIVE = 0, /* /livez: the process itself (never the database) */
    TSP_PROBE_READY,    /* /readyz: database reachable, pool usable, not shutting down */
    TSP_PROBE_STARTUP,  /* /startupz: first database check passed and the warm pool is open */
    TSP_PROBE_HEALTH,   /* /healthz: every check */
    TSP_PROBE_COUNT
};

/* "livez", "readyz", "startupz", "healthz". Static string. */
const char *tsp_health_probe_name(enum tsp_health_probe probe);

#define TSP_HEALTH_MAX_CHECKS 8
#define TSP_HEALTH_REASON_MAX 256

struct tsp_health_check {
    const char *name; /* static: "ping", "maintenance", "db", "pool", "shutdown", "warm" */
    bool ok;
    bool excluded;                      /* skipped through ?exclude= */
    char reason[TSP_HEALTH_REASON_MAX]; /* why it failed, "" when ok */
};

/* The outcome of one probe: ok when every non-excluded check is ok. */
struct tsp_health_report {
    enum tsp_health_probe probe;
    bool ok;
    size_t count;
    struct tsp_health_check checks[TSP_HEALTH_MAX_CHECKS];
};

/* What the checks look at: a snapshot gathered from the pool (or written by a unit test). */
struct tsp_health_inputs {
    struct tsp_pool_health db; /* last cached database check */
    bool pool_paused;
    bool pool_shutting_down;
    int pool_waiting;
    bool shutting_down;      /* SIGTERM received */
    int64_t now_mono_ms;     /* tsp_clock_mono_ms() */
    long heartbeat_max_ms;   /* the maintenance thread is stuck when its heartbeat is older */
    int ready_max_waiting;   /* readiness fails while more borrowers wait; 0 = off */
    bool pgbouncer_required; /* TSPOOL_READY_PGBOUNCER: the pgbouncer check is evaluated */
    bool pgbouncer_enabled;  /* PGBOUNCER_HOSTS is set */
    size_t pgbouncer_up;     /* instances up in the last refresh */
    size_t pgbouncer_total;  /* instances known (0 before the first refresh) */
    long max_check_age_ms;   /* the db check fails when the last good check is older; <= 0: three
                                health intervals (db.interval_ms) */
};

/* Evaluate `probe` over inputs. `only` restricts to one check (per-check paths, NULL = all);
 * `exclude` lists names to skip (unknown names are ignored, as kube-apiserver does).
 * Errors: TSP_NOT_FOUND when `only` is not a check of this probe. Pure. */
enum tsp_code tsp_health_evaluate(const struct tsp_health_inputs *in, enum tsp_health_probe probe,
                                  const char *only, const char *const *exclude, size_t nexclude,
                                  struct tsp_health_report *out,
                                  struct tsp_error *err) TSP_MUSTCHECK;

/* The kube-apiserver text body for a report: "ok" when passing and not verbose; else one
 * line per check ("[+]db ok", "[+]db excluded: ok", "[-]db failed: reason") and a last line
 * "readyz check passed" / "readyz check failed". Returns the length written (truncated to
 * fit, always NUL-terminated). Pure. */
size_t tsp_health_format(const struct tsp_health_report *report, bool verbose, char *out,
                         size_t outsize);

struct tsp_health; /* opaque: the pool to look at and the shutdown flag */

struct tsp_health_options {
    long heartbeat_max_ms; /* <= 0: 60 s */
    int ready_max_waiting; /* 0 = off */
    long max_check_age_ms; /* readiness fails when the last good database check is older;
                              <= 0: three health intervals */
};

/* Create the health state over pool (borrowed; must outlive it; may be NULL in tests, then
 * the database checks fail with "no pool"). On TSP_OK *out is freed with tsp_health_free. */
enum tsp_code tsp_health_new(struct tsp_pool *pool, const struct tsp_health_options *opts,
                             struct tsp_health **out, struct tsp_error *err) TSP_MUSTCHECK;
/* NULL is a no-op. */
void tsp_health_free(struct tsp_health *health);

/* Watch fleet (borrowed; must outlive health; may be NULL) for the readiness check
 * `pgbouncer` (at least one instance up), evaluated only when required is true. Call before
 * the probes are served. */
void tsp_health_set_pgbouncer(struct tsp_health *health, struct tsp_pgb_fleet *fleet,
                              bool required);

/* Mark the process as shutting down: readiness fails from now on. Thread-safe. */
void tsp_health_set_shutting_down(struct tsp_health *health);
bool tsp_health_shutting_down(struct tsp_health *health);

/* Gather inputs from the pool (non-blocking: copies cached results) and evaluate, as
 * tsp_health_evaluate(). Thread-safe. */
enum tsp_code tsp_health_check(struct tsp_health *health, enum tsp_health_probe probe,
                               const char *only, const char *const *exclude, size_t nexclude,
                               struct tsp_health_report *out, struct tsp_error *err) TSP_MUSTCHECK;

#endif /* TSPOOL_HEALTH_H */
