/* service_harness.h - run the built tspool binary as a child process for integration tests:
 * a free loopback port, an environment pointing at the PostgreSQL test server, wait for
 * /livez, signals, exit status, captured stdout/stderr; and one-shot CLI runs.
 * SPDX-License-Identifier: MIT
 */
#ifndef TSPOOL_TEST_SERVICE_HARNESS_H
#define TSPOOL_TEST_SERVICE_HARNESS_H

#include <stdbool.h>
#include <sys/types.h>

struct tsp_test_service; /* a running `tspool serve` */

/* The application_name the harness gives the service's database sessions. */
#define TSP_TEST_APP_NAME "tspool_it"

/* A TCP port on 127.0.0.1 that was free a moment ago. */
int tsp_test_free_port(void);

/* Build the child environment: the parent's, minus DB_*, TSPOOL_* and CELERY_*, plus the test
 * database (DB_HOST/PORT/NAME/USER/PASS, DB_SSLMODE=disable, DB_APPLICATION_NAME), short
 * intervals (health 200 ms, no shutdown delay), the activity sampler and statement snapshots off
 * and TSPOOL_LISTEN=127.0.0.1:port; then
 * `extra` ("NAME=value" strings, NULL-terminated, may be NULL) replaces or adds. Returns a
 * NULL-terminated malloc'd array; free with tsp_test_env_free(). */
char **tsp_test_env(int port, const char *const *extra);
void tsp_test_env_free(char **env);

/* Start `tspool serve` with tsp_test_env(port, extra) and wait until /livez answers 200
 * (fails the test after 20 s or when the child exits, printing its output). */
struct tsp_test_service *tsp_test_service_start(const char *const *extra);
/* Start without waiting for /livez (for start-up failure tests). */
struct tsp_test_service *tsp_test_service_spawn(const char *const *extra);

/* "http://127.0.0.1:<port>" */
const char *tsp_test_service_url(const struct tsp_test_service *s);
int tsp_test_service_port(const struct tsp_test_service *s);
pid_t tsp_test_service_pid(const struct tsp_test_service *s);
/* Send a signal to the child. */
void tsp_test_service_signal(struct tsp_test_service *s, int sig);
/* Wait up to timeout_ms for the child to exit; returns its exit status (128+signal when
 * killed), or -1 when it is still running. */
int tsp_test_service_wait(struct tsp_test_service *s, long timeout_ms);
/* Everything the child wrote to stdout / stderr so far (malloc'd; free it). */
char *tsp_test_service_stdout(const struct tsp_test_service *s);
char *tsp_test_service_stderr(const struct tsp_test_service *s);
/* SIGTERM, wait up to 15 s, then SIGKILL; removes the capture files and frees s. NULL ok. */
void tsp_test_service_stop(struct tsp_test_service *s);

/* Run `tspool <args...>` (args NULL-terminated) with tsp_test_env(port, extra) and wait up to
 * 60 s. Returns the exit status; *out / *err (if not NULL) receive the captured output
 * (malloc'd). */
int tsp_test_run_cli(const char *const *args, int port, const char *const *extra, char **out,
                     char **err);

/* Poll `sql` (first column of the first row) on the test database every 50 ms until it
 * equals `expect`; false after timeout_ms. */
bool tsp_test_wait_query(const char *sql, const char *expect, long timeout_ms);

/* Block the catalog the ping query reads: a session that holds ACCESS EXCLUSIVE on
 * pg_extension for `seconds`, started in a thread; returns once the lock is granted. Join
 * with tsp_test_lock_join(). */
struct tsp_test_lock;
struct tsp_test_lock *tsp_test_lock_catalog(int seconds);
void tsp_test_lock_join(struct tsp_test_lock *lock);

/* SQL that is "t" while one of our service's sessions waits for a lock. */
#define TSP_TEST_SQL_OURS_WAITING                                                                  \
    "SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = '" TSP_TEST_APP_NAME       \
    "' AND wait_event_type = 'Lock'"

#endif /* TSPOOL_TEST_SERVICE_HARNESS_H */
