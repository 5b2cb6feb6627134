/* fake_connector.c - scripted connector for pure pool unit tests (see fake_connector.h).
 * Handles are heap records kept until the fake is freed, so tests can inspect closed ones.
 * SPDX-License-Identifier: MIT
 */
#include "fake_connector.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsp_test.h"

struct fake_conn {
    struct tsp_fake *fake;
    struct fake_conn *next_all;
    int pid;
    char identity[64];
    bool dead;
    bool closed;
    enum tsp_conn_status status;
};

struct tsp_fake {
    pthread_mutex_t lock;
    struct fake_conn *all;
    long connect_delay_ms;
    long ping_delay_ms; /* a ping takes this long (or fails at its timeout when shorter) */
    char identity[64];  /* what identity() reports for connections opened from now on */
    int fail_remaining; /* < 0 = fail until cleared */
    enum tsp_code fail_code;
    char fail_sqlstate[6];
    char fail_detail[TSP_ERROR_DETAIL_MAX];
    bool rollback_fails;
    bool rotate_changed;       /* reported by the next rotate */
    enum tsp_code rotate_code; /* returned by every rotate while not TSP_OK */
    char rotate_detail[TSP_ERROR_DETAIL_MAX];
    int rotations;
    int next_pid;
    int open, busy, max_busy;
    int connects, attempts, closes, pings, rollbacks;
};

struct tsp_fake *tsp_fake_new(void)
{
    struct tsp_fake *fake = calloc(1, sizeof(*fake));

    if (fake == NULL) {
        abort();
    }
    pthread_mutex_init(&fake->lock, NULL);
    fake->next_pid = 1001;
    return fake;
}

void tsp_fake_free(struct tsp_fake *fake)
{
    struct fake_conn *c = NULL;
    struct fake_conn *next = NULL;

    if (fake == NULL) {
        return;
    }
    for (c = fake->all; c != NULL; c = next) {
        next = c->next_all;
        free(c);
    }
    pthread_mutex_destroy(&fake->lock);
    free(fake);
}

static enum tsp_code fake_connect(void *ctx, void **conn_out, struct tsp_error *err)
{
    struct tsp_fake *fake = ctx;
    struct fake_conn *c = NULL;
    long delay = 0;
    bool fail = false;
    enum tsp_code code = TSP_OK;

    pthread_mutex_lock(&fake->lock);
    fake->attempts++;
    fake->busy++;
    if (fake->busy > fake->max_busy) {
        fake->max_busy = fake->busy;
    }
    delay = fake->connect_delay_ms;
    if (fake->fail_remaining != 0) {
        fail = true;
        if (fake->fail_remaining > 0) {
            fake->fail_remaining--;
        }
    }
    pthread_mutex_unlock(&fake->lock);
    if (delay > 0) {
        tsp_test_sleep_ms(delay);
    }
    pthread_mutex_lock(&fake->lock);
    if (fail) {
        fake->busy--;
        code = tsp_error_set(err, fake->fail_code, NULL, "%s", fake->fail_detail);
        tsp_error_set_sqlstate(err, fake->fail_sqlstate[0] != '\0' ? fake->fail_sqlstate : NULL);
        goto done;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        abort();
    }
    c->fake = fake;
    c->pid = fake->next_pid++;
    c->status = TSP_CONN_IDLE;
    snprintf(c->identity, sizeof(c->identity), "%s", fake->identity);
    c->next_all = fake->all;
    fake->all = c;
    fake->open++;
    fake->connects++;
    *conn_out = c;
done:
    pthread_mutex_unlock(&fake->lock);
    return code;
}

static enum tsp_code fake_ping(void *ctx, void *handle, long timeout_ms, struct tsp_error *err)
{
    struct tsp_fake *fake = ctx;
    struct fake_conn *c = handle;
    enum tsp_code code = TSP_OK;
    long delay = 0;

    pthread_mutex_lock(&fake->lock);
    fake->pings++;
    delay = fake->ping_delay_ms;
    pthread_mutex_unlock(&fake->lock);
    if (delay > 0) {
        tsp_test_sleep_ms(timeout_ms > 0 && timeout_ms < delay ? timeout_ms : delay);
    }
    pthread_mutex_lock(&fake->lock);
    if (delay > 0 && timeout_ms > 0 && timeout_ms < delay) {
        code = tsp_error_set(err, TSP_DB_UNAVAILABLE, NULL,
                             "ping failed: no answer from the server within %ld ms", timeout_ms);
    } else if (c->dead) {
        code = tsp_error_set(err, TSP_DB_UNAVAILABLE, NULL,
                             "ping failed: server closed the connection unexpectedly");
    }
    pthread_mutex_unlock(&fake->lock);
    return code;
}

static enum tsp_conn_status fake_status(void *ctx, void *handle)
{
    struct tsp_fake *fake = ctx;
    struct fake_conn *c = handle;
    enum tsp_conn_status status = TSP_CONN_BAD;

    pthread_mutex_lock(&fake->lock);
    status = c->status;
    pthread_mutex_unlock(&fake->lock);
    return status;
}

static enum tsp_code fake_rollback(void *ctx, void *handle, struct tsp_error *err)
{
    struct tsp_fake *fake = ctx;
    struct fake_conn *c = handle;
    enum tsp_code code = TSP_OK;

    pthread_mutex_lock(&fake->lock);
    fake->rollbacks++;
    if (fake->rollback_fails || c->dead) {
        code = tsp_error_set(err, TSP_DB_UNAVAILABLE, NULL, "rollback failed");
    } else {
        c->status = TSP_CONN_IDLE;
    }
    pthread_mutex_unlock(&fake->lock);
    return code;
}

static int fake_backend_pid(void *ctx, void *handle)
{
    struct tsp_fake *fake = ctx;
    struct fake_conn *c = handle;
    int pid = 0;

    pthread_mutex_lock(&fake->lock);
    pid = c->pid;
    pthread_mutex_unlock(&fake->lock);
    return pid;
}

static void fake_close(void *ctx, void *handle)
{
    struct tsp_fake *fake = ctx;
    struct fake_conn *c = handle;

    pthread_mutex_lock(&fake->lock);
    if (c->closed) {
        fprintf(stderr, "fake connector: connection %d closed twice\n", c->pid);
        abort();
    }
    c->closed = true;
    fake->open--;
    fake->busy--;
    fake->closes++;
    pthread_mutex_unlock(&fake->lock);
}

static void fake_identity(void *ctx, void *handle, char *buf, size_t size)
{
    struct tsp_fake *fake = ctx;
    struct fake_conn *c = handle;

    pthread_mutex_lock(&fake->lock);
    snprintf(buf, size, "%s", c->identity);
    pthread_mutex_unlock(&fake->lock);
}

void tsp_fake_set_ping_delay_ms(struct tsp_fake *fake, long ms)
{
    pthread_mutex_lock(&fake->lock);
    fake->ping_delay_ms = ms;
    pthread_mutex_unlock(&fake->lock);
}

void tsp_fake_set_identity(struct tsp_fake *fake, const char *identity)
{
    pthread_mutex_lock(&fake->lock);
    snprintf(fake->identity, sizeof(fake->identity), "%s", identity);
    pthread_mutex_unlock(&fake->lock);
}

static enum tsp_code fake_rotate(void *ctx, bool *changed, struct tsp_error *err)
{
    struct tsp_fake *fake = ctx;
    enum tsp_code code = TSP_OK;

    pthread_mutex_lock(&fake->lock);
    fake->rotations++;
    *changed = fake->rotate_changed;
    fake->rotate_changed = false;
    if (fake->rotate_code != TSP_OK) {
        code = tsp_error_set(err, fake->rotate_code, "DB_PASS_FILE", "%s", fake->rotate_detail);
    }
    pthread_mutex_unlock(&fake->lock);
    return code;
}

void tsp_fake_set_rotation(struct tsp_fake *fake, bool changed, enum tsp_code code,
                           const char *detail)
{
    pthread_mutex_lock(&fake->lock);
    fake->rotate_changed = changed;
    fake->rotate_code = code;
    snprintf(fake->rotate_detail, sizeof(fake->rotate_detail), "%s", detail != NULL ? detail : "");
    pthread_mutex_unlock(&fake->lock);
}

int tsp_fake_rotations(struct tsp_fake *fake)
{
    int n = 0;

    pthread_mutex_lock(&fake->lock);
    n = fake->rotations;
    pthread_mutex_unlock(&fake->lock);
    return n;
}

void tsp_fake_connector(struct tsp_fake *fake, struct tsp_connector *out)
{
    memset(out, 0, sizeof(*out));
    out->ctx = fake;
    out->connect = fake_connect;
    out->ping = fake_ping;
    out->status = fake_status;
    out->rollback = fake_rollback;
    out->backend_pid = fake_backend_pid;
    out->close = fake_close;
    out->identity = fake_identity;
    out->rotate = fake_rotate;
}

void tsp_fake_set_connect_delay_ms(struct tsp_fake *fake, long ms)
{
    pthread_mutex_lock(&fake->lock);
    fake->connect_delay_ms = ms;
    pthread_mutex_unlock(&fake->lock);
}

void tsp_fake_fail_connects(struct tsp_fake *fake, int n, enum tsp_code code, const char *sqlstate,
                            const char *detail)
{
    pthread_mutex_lock(&fake->lock);
    fake->fail_remaining = n;
    fake->fail_code = code;
    snprintf(fake->fail_sqlstate, sizeof(fake->fail_sqlstate), "%s",
             sqlstate != NULL ? sqlstate : "");
    snprintf(fake->fail_detail, sizeof(fake->fail_detail), "%s", detail != NULL ? detail : "");
    pthread_mutex_unlock(&fake->lock);
}

void tsp_fake_set_rollback_fails(struct tsp_fake *fake, bool fails)
{
    pthread_mutex_lock(&fake->lock);
    fake->rollback_fails = fails;
    pthread_mutex_unlock(&fake->lock);
}

void tsp_fake_kill_all(struct tsp_fake *fake)
{
    pthread_mutex_lock(&fake->lock);
    for (struct fake_conn *c = fake->all; c != NULL; c = c->next_all) {
        c->dead = true;
    }
    pthread_mutex_unlock(&fake->lock);
}

void tsp_fake_handle_set_status(void *handle, enum tsp_conn_status status)
{
    struct fake_conn *c = handle;

    pthread_mutex_lock(&c->fake->lock);
    c->status = status;
    pthread_mutex_unlock(&c->fake->lock);
}

int tsp_fake_handle_pid(void *handle)
{
    struct fake_conn *c = handle;
    return fake_backend_pid(c->fake, handle);
}

bool tsp_fake_handle_dead(void *handle)
{
    struct fake_conn *c = handle;
    bool dead = false;

    pthread_mutex_lock(&c->fake->lock);
    dead = c->dead;
    pthread_mutex_unlock(&c->fake->lock);
    return dead;
}

#define FAKE_COUNTER(fn, member)                                                                   \
    int fn(struct tsp_fake *fake)                                                                  \
    {                                                                                              \
        int v = 0;                                                                                 \
        pthread_mutex_lock(&fake->lock);                                                           \
        v = fake->member;                                                                          \
        pthread_mutex_unlock(&fake->lock);                                                         \
        return v;                                                                                  \
    }

FAKE_COUNTER(tsp_fake_open, open)
FAKE_COUNTER(tsp_fake_max_busy, max_busy)
FAKE_COUNTER(tsp_fake_connects, connects)
FAKE_COUNTER(tsp_fake_connect_attempts, attempts)
FAKE_COUNTER(tsp_fake_closes, closes)
FAKE_COUNTER(tsp_fake_pings, pings)
FAKE_COUNTER(tsp_fake_rollbacks, rollbacks)
