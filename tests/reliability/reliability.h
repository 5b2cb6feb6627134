/* reliability.h - helpers shared by the fault tests: bounded background traffic with a tally
 * of what clients saw, probes with a deadline, session counts, and a TCP proxy that can
 * black-hole the database.
 * SPDX-License-Identifier: MIT
 */
#ifndef TSPOOL_TEST_RELIABILITY_H
#define TSPOOL_TEST_RELIABILITY_H

#include <stdbool.h>
#include <stdint.h>

#include "service_harness.h"

/* Start `tspool serve` (tsp_test_service_start) and remember it, so that rel_teardown stops
 * it even when an assertion failed half-way. */
struct tsp_test_service *rel_start(const char *const *env);
/* Stop a service from rel_start and forget it. */
void rel_stop(struct tsp_test_service *s);
/* cmocka teardown for every fault test: stop traffic and a service still running, resume
 * anything paused, and make sure the shared PostgreSQL server is running. */
int rel_teardown(void **state);
/* Remember a stopped (SIGSTOP) process so that rel_teardown sends it SIGCONT. */
void rel_remember_stopped(pid_t pid);

/* What the clients of one traffic run saw. */
struct rel_tally {
    long requests;   /* requests that got a complete response */
    long ok;         /* 2xx */
    long status_503; /* 503 (documented: pool exhausted, database unavailable, shutting down) */
    long other;      /* any other status */
    long refused;    /* connection refused (the listener is gone) */
    long reset;      /* closed before any byte of a response (never served; retry-safe) */
    long cut;        /* a response cut mid-way, or none before the timeout: must stay 0 */
    long max_ms;     /* slowest request */
    long last_other; /* the last "other" status seen */
};

struct rel_traffic;

/* Start `threads` client threads that GET base_url + path (paths cycled) one after another,
 * each request with a timeout of request_timeout_ms, until stopped or `max_requests` in
 * total or `max_ms` elapsed (whichever first). Loopback only. */
struct rel_traffic *rel_traffic_start(const char *base_url, const char *const *paths, int threads,
                                      long max_requests, long max_ms, long request_timeout_ms);
/* Stop, join, return the tally, free. */
struct rel_tally rel_traffic_stop(struct rel_traffic *t);

/* Status of GET base+path within timeout_ms; 0 when no response; *elapsed_ms if not NULL. */
long rel_get(const char *base_url, const char *path, long timeout_ms, long *elapsed_ms);
/* Poll GET base+path every 50 ms until it answers `expect`; returns the milliseconds it took,
 * or -1 after timeout_ms. */
long rel_wait_status(const char *base_url, const char *path, long expect, long timeout_ms);

/* Sessions of the service under test in pg_stat_activity (application_name tspool_it);
 * -1 when the query fails. */
long rel_our_sessions(void);
/* Poll until rel_our_sessions() == expect; false after timeout_ms. */
bool rel_wait_sessions(long expect, long timeout_ms);

/* Integer at a/b in the JSON of GET base+path (e.g. "gauges", "open"); -1 when absent. */
long long rel_json_int(const char *base_url, const char *path, const char *a, const char *b);

/* Milliseconds of a monotonic clock. */
int64_t rel_now_ms(void);

/* Print /readyz?verbose, /startupz?verbose, /pool/status and the tail of the service's log to
 * stderr: call before an assertion on a state that did not come, so the failure says why. */
void rel_dump(struct tsp_test_service *s);

/* One row of the fault report, printed as a line starting with "FAULT |". */
void rel_report(const char *fault, const char *clients_saw, long recovery_ms, long sessions_after);

/* A TCP proxy on 127.0.0.1 in front of upstream_port, served by one thread. */
struct rel_proxy;
struct rel_proxy *rel_proxy_start(int upstream_port);
int rel_proxy_port(const struct rel_proxy *p);
/* Black-hole: stop reading, writing and accepting (clients see a silent peer, no RST).
 * false resumes forwarding. */
void rel_proxy_blackhole(struct rel_proxy *p, bool on);
/* Close every proxied connection and the listener; frees p. NULL ok. */
void rel_proxy_stop(struct rel_proxy *p);

#endif /* TSPOOL_TEST_RELIABILITY_H */
