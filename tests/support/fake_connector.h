/* fake_connector.h - a scripted connector for pure pool unit tests: connect delays and
 * failures, dead connections, session states, backend pids, and counters to assert on.
 * SPDX-License-Identifier: MIT
 */
#ifndef TSPOOL_FAKE_CONNECTOR_H
#define TSPOOL_FAKE_CONNECTOR_H

#include <stdbool.h>

#include "tspool/error.h"
#include "tspool/pool.h"

struct tsp_fake; /* opaque; thread-safe */

/* New fake with no delays and no failures. Free with tsp_fake_free() after the pool. */
struct tsp_fake *tsp_fake_new(void);
void tsp_fake_free(struct tsp_fake *fake);

/* Fill a connector vtable that drives this fake. */
void tsp_fake_connector(struct tsp_fake *fake, struct tsp_connector *out);

/* Every ping takes ms; a ping whose timeout is shorter fails when its timeout runs out. */
void tsp_fake_set_ping_delay_ms(struct tsp_fake *fake, long ms);
/* Connections opened from now on report this server identity (failover when it changes). */
void tsp_fake_set_identity(struct tsp_fake *fake, const char *identity);
/* Every connect sleeps this long first. */
void tsp_fake_set_connect_delay_ms(struct tsp_fake *fake, long ms);
/* The next n connects fail with code / sqlstate (may be NULL) / detail; n < 0 = until the next
 * call with n == 0. */
void tsp_fake_fail_connects(struct tsp_fake *fake, int n, enum tsp_code code, const char *sqlstate,
                            const char *detail);
/* Make rollbacks fail (the pool must then close the connection). */
void tsp_fake_set_rollback_fails(struct tsp_fake *fake, bool fails);
/* Every open connection dies (as after pg_terminate_backend or a restart): its next ping
 * fails. */
void tsp_fake_kill_all(struct tsp_fake *fake);

/* Script the credentials rotation (the connector's rotate): the next call reports *changed
 * when `changed` (once), and every call fails with `code` / detail while code != TSP_OK
 * (new credentials refused). By default rotate reports nothing. */
void tsp_fake_set_rotation(struct tsp_fake *fake, bool changed, enum tsp_code code,
                           const char *detail);
int tsp_fake_rotations(struct tsp_fake *fake);

/* Session state the pool will see for this handle (from tsp_lease_handle). */
void tsp_fake_handle_set_status(void *handle, enum tsp_conn_status status);
/* Backend pid of a handle (1001, 1002, ... in connect order). */
int tsp_fake_handle_pid(void *handle);
/* Whether the handle was killed. */
bool tsp_fake_handle_dead(void *handle);

/* Counters. open = connected and not closed; max_busy = high-water mark of open plus connects
 * in flight. */
int tsp_fake_open(struct tsp_fake *fake);
int tsp_fake_max_busy(struct tsp_fake *fake);
int tsp_fake_connects(struct tsp_fake *fake);
int tsp_fake_connect_attempts(struct tsp_fake *fake);
int tsp_fake_closes(struct tsp_fake *fake);
int tsp_fake_pings(struct tsp_fake *fake);
int tsp_fake_rollbacks(struct tsp_fake *fake);

#endif /* TSPOOL_FAKE_CONNECTOR_H */
