/* pgbouncer/fleet.c - the fleet's refresher thread: every PGBOUNCER_REFRESH_MS it re-resolves
 * every host name, reads SHOW VERSION and every listing from each instance in parallel (one
 * kept console connection each, deadlines throughout) and publishes an immutable snapshot.
 * SPDX-License-Identifier: MIT
 */
#include "pgbouncer_int.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "tspool/clock.h"
#include "tspool/log.h"

/* A console connection kept between refreshes; owned by the refresher thread. */
struct slot {
    char address[TSP_PGB_ADDRESS_MAX];
    PGconn *conn;
};

/* One instance to read in this refresh. */
struct target {
    char address[TSP_PGB_ADDRESS_MAX];
    char name[TSP_PGB_ADDRESS_MAX];
    char addr[64]; /* numeric; "" when the name did not resolve */
    int port;
    char resolve_error[TSP_PGB_ERROR_MAX];
    struct slot *slot;
    struct tsp_pgb_instance *out;
    const struct tsp_pgb_fleet *fleet;
    pthread_t thread;
    bool started;
};

struct tsp_pgb_fleet {
    char *hosts_text;
    char *user;
    char *password;
    struct tsp_pgb_options opts; /* strings point at the copies above */
    struct tsp_pgb_host *hosts;
    size_t nhosts;

    pthread_mutex_t lock;
    pthread_cond_t cond;             /* CLOCK_MONOTONIC */
    struct tsp_pgb_snap_rc *current; /* under lock; never NULL */
    unsigned long long started;      /* refreshes begun (under lock) */
    unsigned long long done;         /* refreshes finished (under lock) */
    bool wake;                       /* refresh now (under lock) */
    bool stop;                       /* end the thread (under lock) */
    pthread_t thread;
    bool thread_started;

    struct slot *slots; /* refresher thread only */
    size_t nslots;
};

static const char *const show_sql[TSP_PGB_SHOW_COUNT] = {
    "SHOW POOLS",   "SHOW STATS",  "SHOW DATABASES", "SHOW SERVERS",
    "SHOW CLIENTS", "SHOW CONFIG", "SHOW LISTS"};

/* Read everything from one instance over conn into inst; TSP_OK or the failure. */
static enum tsp_code read_instance(PGconn *conn, int64_t deadline, struct tsp_pgb_instance *inst,
                                   enum tsp_pgb_fail *fail, struct tsp_error *err)
{
    PGresult *res = NULL;
    enum tsp_code code =
        tsp_pgb_console_exec(conn, "SHOW VERSION", deadline, true, &res, fail, err);

    if (code != TSP_OK) {
        return code;
    }
    if (PQntuples(res) > 0) {
        const char *v = PQgetvalue(res, 0, 0);
        if (strncmp(v, "PgBouncer ", 10) == 0) {
            v += 10;
        }
        snprintf(inst->version, sizeof(inst->version), "%s", v);
    }
    PQclear(res);
    for (int s = 0; s < TSP_PGB_SHOW_COUNT; s++) {
        res = NULL;
        code = tsp_pgb_console_exec(conn, show_sql[s], deadline, true, &res, fail, err);
        if (code == TSP_OK) {
            code = tsp_pgb_table_from_result(res, &inst->show[s], err);
        }
        PQclear(res);
        if (code != TSP_OK) {
            return code;
        }
    }
    return TSP_OK;
}

static void *refresh_one(void *arg)
{
    struct target *t = arg;
    const struct tsp_pgb_options *o = &t->fleet->opts;
    struct tsp_pgb_instance *inst = t->out;
    int64_t start = tsp_clock_mono_ms();
    enum tsp_pgb_fail fail = TSP_PGB_FAIL_NONE;
    struct tsp_error err;
    enum tsp_code code = TSP_OK;

    tsp_error_init(&err);
    if (t->addr[0] == '\0') {
        tsp_pgb_instance_fail(inst, TSP_PGB_FAIL_DOWN, t->resolve_error);
        goto done;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        bool reused = t->slot->conn != NULL;
        int64_t deadline = 0;
        tsp_error_init(&err);
        if (!reused) {
            code = tsp_pgb_console_connect(
                t->addr, t->port, o->user, o->password, o->connect_timeout_s,
                tsp_clock_mono_ms() + o->connect_timeout_s * 1000LL, &t->slot->conn, &fail, &err);
            if (code != TSP_OK) {
                break;
            }
        }
        deadline = tsp_clock_mono_ms() + o->command_timeout_ms;
        for (int s = 0; s < TSP_PGB_SHOW_COUNT; s++) {
            tsp_pgb_table_fini(&inst->show[s]);
        }
        code = read_instance(t->slot->conn, deadline, inst, &fail, &err);
        if (code == TSP_OK) {
            break;
        }
        PQfinish(t->slot->conn);
        t->slot->conn = NULL;
        /* a kept connection may have died with a restart: one more try on a fresh one */
        if (!reused || code != TSP_UNAVAILABLE) {
            break;
        }
    }
    if (code != TSP_OK) {
        if (fail == TSP_PGB_FAIL_COMMAND) {
            /* the console answered, but not to an admin or stats user */
            fail = TSP_PGB_FAIL_MISCONFIGURED;
        }
        tsp_pgb_instance_fail(inst, fail, err.detail);
        goto done;
    }
    inst->state = TSP_PGB_UP;
    inst->error[0] = '\0';
    inst->refreshed_mono_ms = tsp_clock_mono_ms();
    inst->refreshed_unix_ms = tsp_clock_real_ms();
done:
    inst->duration_ms = tsp_clock_mono_ms() - start;
    return NULL;
}

static int cmp_target(const void *a, const void *b)
{
    return strcmp(((const struct target *)a)->address, ((const struct target *)b)->address);
}

/* Resolve every host into targets (one per address; one unresolved target per failed name). */
static enum tsp_code build_targets(struct tsp_pgb_fleet *f, struct target **out, size_t *count)
{
    struct target *ts = NULL;
    size_t n = 0;
    size_t cap = 0;
    int64_t deadline = tsp_clock_mono_ms() + f->opts.connect_timeout_s * 1000LL;

    for (size_t h = 0; h < f->nhosts; h++) {
        char **addrs = NULL;
        size_t naddrs = 0;
        struct tsp_error err;
        char name[TSP_PGB_ADDRESS_MAX];
        enum tsp_code code = TSP_OK;

        tsp_error_init(&err);
        tsp_pgb_format_address(f->hosts[h].host, f->hosts[h].port, name, sizeof(name));
        code = tsp_pgb_resolve(f->hosts[h].host, deadline, &addrs, &naddrs, &err);
        if (code == TSP_NO_MEMORY) {
            free(ts);
            return code;
        }
        for (size_t a = 0; a < (naddrs > 0 ? naddrs : 1); a++) {
            struct target *t = NULL;
            char address[TSP_PGB_ADDRESS_MAX];
            bool dup = false;
            if (naddrs > 0) {
                tsp_pgb_format_address(addrs[a], f->hosts[h].port, address, sizeof(address));
            } else {
                snprintf(address, sizeof(address), "%s", name);
            }
            for (size_t i = 0; i < n; i++) {
                dup = dup || strcmp(ts[i].address, address) == 0;
            }
            if (dup) {
                continue;
            }
            if (n == cap) {
                size_t ncap = cap == 0 ? 8 : cap * 2;
                struct target *grown = realloc(ts, ncap * sizeof(*ts));
                if (grown == NULL) {
                    tsp_pgb_addrs_free(addrs, naddrs);
                    free(ts);
                    return TSP_NO_MEMORY;
                }
                ts = grown;
                cap = ncap;
            }
            t = &ts[n++];
            memset(t, 0, sizeof(*t));
            snprintf(t->address, sizeof(t->address), "%s", address);
            snprintf(t->name, sizeof(t->name), "%s", name);
            t->port = f->hosts[h].port;
            if (naddrs > 0) {
                snprintf(t->addr, sizeof(t->addr), "%s", addrs[a]);
            } else {
                snprintf(t->resolve_error, sizeof(t->resolve_error), "%.250s", err.detail);
            }
        }
        tsp_pgb_addrs_free(addrs, naddrs);
    }
    if (n > 1) {
        qsort(ts, n, sizeof(*ts), cmp_target);
    }
    *out = ts;
    *count = n;
    return TSP_OK;
}

/* Keep the slots of addresses still present, close the others, add new ones. */
static enum tsp_code match_slots(struct tsp_pgb_fleet *f, struct target *ts, size_t n)
{
    struct slot *slots = calloc(n > 0 ? n : 1, sizeof(*slots));

    if (slots == NULL) {
        return TSP_NO_MEMORY;
    }
    for (size_t i = 0; i < n; i++) {
        snprintf(slots[i].address, sizeof(slots[i].address), "%s", ts[i].address);
        for (size_t j = 0; j < f->nslots; j++) {
            if (f->slots[j].conn != NULL && strcmp(f->slots[j].address, ts[i].address) == 0) {
                slots[i].conn = f->slots[j].conn;
                f->slots[j].conn = NULL;
            }
        }
        ts[i].slot = &slots[i];
    }
    for (size_t j = 0; j < f->nslots; j++) {
        PQfinish(f->slots[j].conn);
    }
    free(f->slots);
    f->slots = slots;
    f->nslots = n;
    return TSP_OK;
}

static void log_change(const struct tsp_pgb_instance *prev, const struct tsp_pgb_instance *now)
{
    struct tsp_log_field fields[2] = {{.key = "instance", .str = now->address},
                                      {.key = "state", .str = tsp_pgb_state_name(now->state)}};
    struct tsp_log_ctx ctx = {
        .event = "pgbouncer.state", .conn_id = -1, .fields = fields, .nfields = 2};

    if (prev != NULL && prev->state == now->state) {
        return;
    }
    if (now->state == TSP_PGB_UP) {
        TSP_LOG_INFO(&ctx, "PgBouncer %s is up (version %s)", now->address, now->version);
    } else {
        TSP_LOG_WARN(&ctx, "PgBouncer %s is %s: %s", now->address, tsp_pgb_state_name(now->state),
                     now->error);
    }
}

static void publish(struct tsp_pgb_fleet *f, struct tsp_pgb_snap_rc *rc)
{
    struct tsp_pgb_snap_rc *old = NULL;

    pthread_mutex_lock(&f->lock);
    old = f->current;
    f->current = rc;
    f->done++;
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->lock);
    tsp_pgb_snapshot_release(&old->snap);
}

static void refresh(struct tsp_pgb_fleet *f)
{
    struct target *ts = NULL;
    size_t n = 0;
    struct tsp_pgb_snap_rc *rc = NULL;
    const struct tsp_pgb_snapshot *prev = tsp_pgb_snapshot_get(f);
    struct tsp_error err;
    bool published = false;

    tsp_error_init(&err);
    if (build_targets(f, &ts, &n) != TSP_OK || match_slots(f, ts, n) != TSP_OK ||
        (rc = tsp_pgb_snap_new(n)) == NULL) {
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        struct tsp_pgb_instance *inst = &rc->snap.instances[i];
        snprintf(inst->address, sizeof(inst->address), "%s", ts[i].address);
        snprintf(inst->name, sizeof(inst->name), "%s", ts[i].name);
        snprintf(inst->addr, sizeof(inst->addr), "%s", ts[i].addr);
        inst->port = ts[i].port;
        for (size_t j = 0; j < prev->ninstances; j++) {
            if (strcmp(prev->instances[j].address, inst->address) == 0) {
                inst->refreshed_mono_ms = prev->instances[j].refreshed_mono_ms;
                inst->refreshed_unix_ms = prev->instances[j].refreshed_unix_ms;
                snprintf(inst->version, sizeof(inst->version), "%s", prev->instances[j].version);
            }
        }
        ts[i].out = inst;
        ts[i].fleet = f;
        ts[i].started = pthread_create(&ts[i].thread, NULL, refresh_one, &ts[i]) == 0;
        if (!ts[i].started) {
            refresh_one(&ts[i]);
        }
    }
    for (size_t i = 0; i < n; i++) {
        const struct tsp_pgb_instance *before = NULL;
        if (ts[i].started) {
            pthread_join(ts[i].thread, NULL);
        }
        for (size_t j = 0; j < prev->ninstances; j++) {
            if (strcmp(prev->instances[j].address, ts[i].address) == 0) {
                before = &prev->instances[j];
            }
        }
        log_change(before, &rc->snap.instances[i]);
    }
    rc->snap.refreshed_mono_ms = tsp_clock_mono_ms();
    rc->snap.refreshed_unix_ms = tsp_clock_real_ms();
    if (tsp_pgb_metrics_render(&rc->snap, &rc->snap.metrics, &rc->snap.metrics_len, &err) !=
        TSP_OK) {
        rc->snap.metrics = NULL;
        rc->snap.metrics_len = 0;
    }
    publish(f, rc);
    rc = NULL;
    published = true;
done:
    if (rc != NULL) {
        tsp_pgb_snap_destroy(rc);
    }
    if (!published) {
        /* out of memory: count the refresh as done so that waiters do not wait for it */
        pthread_mutex_lock(&f->lock);
        f->done++;
        pthread_cond_broadcast(&f->cond);
        pthread_mutex_unlock(&f->lock);
    }
    tsp_pgb_snapshot_release(prev);
    free(ts);
}

static void *refresher_main(void *arg)
{
    struct tsp_pgb_fleet *f = arg;

    for (;;) {
        struct timespec until;
        pthread_mutex_lock(&f->lock);
        if (f->stop) {
            pthread_mutex_unlock(&f->lock);
            break;
        }
        f->started++;
        f->wake = false;
        pthread_mutex_unlock(&f->lock);

        refresh(f);

        pthread_mutex_lock(&f->lock);
        until = tsp_clock_timespec(tsp_clock_mono_ns() + f->opts.refresh_ms * 1000000LL);
        while (!f->stop && !f->wake) {
            if (pthread_cond_timedwait(&f->cond, &f->lock, &until) != 0) {
                break;
            }
        }
        pthread_mutex_unlock(&f->lock);
    }
    return NULL;
}

enum tsp_code tsp_pgb_fleet_new(const struct tsp_pgb_options *opts, struct tsp_pgb_fleet **out,
                                struct tsp_error *err)
{
    struct tsp_pgb_fleet *f = calloc(1, sizeof(*f));
    pthread_condattr_t attr;
    enum tsp_code code = TSP_OK;

    if (f == NULL) {
        return tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
    }
    pthread_mutex_init(&f->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&f->cond, &attr);
    pthread_condattr_destroy(&attr);
    f->opts = *opts;
    f->hosts_text = strdup(opts->hosts != NULL ? opts->hosts : "");
    f->user = strdup(opts->user != NULL ? opts->user : "pgbouncer");
    f->password = opts->password != NULL ? strdup(opts->password) : NULL;
    f->current = tsp_pgb_snap_new(0);
    if (f->hosts_text == NULL || f->user == NULL || (opts->password != NULL && !f->password) ||
        f->current == NULL) {
        code = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
        goto done;
    }
    f->opts.hosts = f->hosts_text;
    f->opts.user = f->user;
    f->opts.password = f->password;
    if (f->opts.connect_timeout_s <= 0) {
        f->opts.connect_timeout_s = 5;
    }
    if (f->opts.command_timeout_ms <= 0) {
        f->opts.command_timeout_ms = 5000;
    }
    if (f->opts.refresh_ms <= 0) {
        f->opts.refresh_ms = 2000;
    }
    code = tsp_pgb_hosts_parse(f->hosts_text, &f->hosts, &f->nhosts, err);
    if (code != TSP_OK) {
        goto done;
    }
    if (f->nhosts > 0) {
        if (pthread_create(&f->thread, NULL, refresher_main, f) != 0) {
            code = tsp_error_set(err, TSP_INTERNAL, NULL, "cannot start the PgBouncer refresher");
            goto done;
        }
        f->thread_started = true;
    }
    *out = f;
    f = NULL;
done:
    tsp_pgb_fleet_free(f);
    return code;
}

void tsp_pgb_fleet_free(struct tsp_pgb_fleet *f)
{
    if (f == NULL) {
        return;
    }
    if (f->thread_started) {
        pthread_mutex_lock(&f->lock);
        f->stop = true;
        pthread_cond_broadcast(&f->cond);
        pthread_mutex_unlock(&f->lock);
        pthread_join(f->thread, NULL);
    }
    for (size_t i = 0; i < f->nslots; i++) {
        PQfinish(f->slots[i].conn);
    }
    free(f->slots);
    if (f->current != NULL) {
        tsp_pgb_snapshot_release(&f->current->snap);
    }
    free(f->hosts);
    free(f->hosts_text);
    free(f->user);
    if (f->password != NULL) {
        memset(f->password, 0, strlen(f->password));
    }
    free(f->password);
    pthread_cond_destroy(&f->cond);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

bool tsp_pgb_fleet_enabled(const struct tsp_pgb_fleet *fleet)
{
    return fleet != NULL && fleet->nhosts > 0;
}

const struct tsp_pgb_snapshot *tsp_pgb_snapshot_get(struct tsp_pgb_fleet *fleet)
{
    struct tsp_pgb_snap_rc *rc = NULL;

    if (fleet == NULL) {
        return NULL;
    }
    pthread_mutex_lock(&fleet->lock);
    rc = fleet->current;
    __atomic_add_fetch(&rc->refs, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&fleet->lock);
    return &rc->snap;
}

void tsp_pgb_snapshot_release(const struct tsp_pgb_snapshot *snap)
{
    struct tsp_pgb_snap_rc *rc = (struct tsp_pgb_snap_rc *)(uintptr_t)snap;

    if (rc != NULL && __atomic_sub_fetch(&rc->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        tsp_pgb_snap_destroy(rc);
    }
}

bool tsp_pgb_refresh_now(struct tsp_pgb_fleet *fleet, long wait_ms)
{
    struct timespec until;
    unsigned long long need = 0;
    bool ok = false;

    if (!tsp_pgb_fleet_enabled(fleet)) {
        return true;
    }
    until = tsp_clock_timespec(tsp_clock_mono_ns() + (int64_t)wait_ms * 1000000LL);
    pthread_mutex_lock(&fleet->lock);
    need = fleet->started + 1;
    fleet->wake = true;
    pthread_cond_broadcast(&fleet->cond);
    while (fleet->done < need) {
        if (pthread_cond_timedwait(&fleet->cond, &fleet->lock, &until) != 0) {
            break;
        }
    }
    ok = fleet->done >= need;
    pthread_mutex_unlock(&fleet->lock);
    return ok;
}

void tsp_pgb_up_count(struct tsp_pgb_fleet *fleet, size_t *up, size_t *total)
{
    const struct tsp_pgb_snapshot *snap = tsp_pgb_snapshot_get(fleet);

    *up = 0;
    *total = 0;
    if (snap == NULL) {
        return;
    }
    for (size_t i = 0; i < snap->ninstances; i++) {
        *up += snap->instances[i].state == TSP_PGB_UP ? 1u : 0u;
    }
    *total = snap->ninstances;
    tsp_pgb_snapshot_release(snap);
}

const struct tsp_pgb_options *tsp_pgb_fleet_options(const struct tsp_pgb_fleet *fleet)
{
    return &fleet->opts;
}
