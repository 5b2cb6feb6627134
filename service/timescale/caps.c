/* timescale/caps.c - what the server offers: extension installed?, version, license, and the
 * feature groups derived from them; cached per service and refreshed after reconnects.
 * SPDX-License-Identifier: MIT
 */
#include "timescale_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tspool/clock.h"
#include "tspool/db.h"

#define CAPS_MAX_AGE_MS 60000

static void copy_text(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src != NULL ? src : "");
}

void tsp_ts_caps_derive(struct tsp_ts_caps *caps)
{
    int major = 0;
    int minor = 0;
    int patch = 0;
    bool tsl;

    caps->version_num = 0;
    if (caps->installed && sscanf(caps->version, "%d.%d.%d", &major, &minor, &patch) >= 2) {
        caps->version_num = major * 10000 + minor * 100 + patch;
    }
    /* the Apache-only build lacks the TSL (community) features; an empty license setting is
       an old build without the setting, which shipped them */
    tsl = caps->installed && strcmp(caps->license, "apache") != 0;
    caps->columnstore_api = caps->installed && caps->version_num >= 21800;
    caps->hypertables = caps->installed;
    caps->compression = tsl;
    caps->retention_policies = tsl;
    caps->continuous_aggregates = tsl;
    caps->jobs = tsl;
}

enum tsp_code tsp_ts_caps_require(const struct tsp_ts_caps *caps, enum tsp_ts_feature feature,
                                  struct tsp_error *err)
{
    const char *what = NULL;
    bool have = false;

    if (feature == TSP_TS_FEATURE_NONE) {
        return TSP_OK;
    }
    if (!caps->installed) {
        return tsp_error_set(err, TSP_CONFLICT, NULL,
                             "extension timescaledb is not installed in database \"%s\"",
                             caps->database);
    }
    switch (feature) {
    case TSP_TS_FEATURE_NONE:
    case TSP_TS_FEATURE_EXTENSION:
        return TSP_OK;
    case TSP_TS_FEATURE_COMPRESSION:
        what = "compression";
        have = caps->compression;
        break;
    case TSP_TS_FEATURE_RETENTION:
        what = "retention policies";
        have = caps->retention_policies;
        break;
    case TSP_TS_FEATURE_AGGREGATES:
        what = "continuous aggregates";
        have = caps->continuous_aggregates;
        break;
    case TSP_TS_FEATURE_JOBS:
        what = "running and altering jobs";
        have = caps->jobs;
        break;
    }
    if (have) {
        return TSP_OK;
    }
    return tsp_error_set(
        err, TSP_CONFLICT, NULL,
        "feature \"%s\" needs the TimescaleDB community license; timescaledb %s in database "
        "\"%s\" runs under the \"%s\" license",
        what != NULL ? what : "this operation", caps->version, caps->database, caps->license);
}

static enum tsp_code probe(struct tsp_lease *lease, struct tsp_ts_caps *out, struct tsp_error *err)
{
    struct tsp_ts_stmt stmt = {0};
    struct tsp_db_result *res = NULL;
    struct tsp_ts_caps caps;
    enum tsp_code rc;

    memset(&caps, 0, sizeof(caps));
    rc = tsp_ts_sql_caps(&stmt, err);
    if (rc != TSP_OK) {
        goto done;
    }
    rc = tsp_db_exec(lease, stmt.sql, stmt.nparams, (const char *const *)stmt.params, &res, err);
    if (rc != TSP_OK) {
        goto done;
    }
    if (tsp_db_result_rows(res) != 1) {
        rc = tsp_error_set(err, TSP_DB_ERROR, NULL, "capability probe returned no row");
        goto done;
    }
    copy_text(caps.database, sizeof(caps.database),
              tsp_db_result_value(res, 0, tsp_db_result_col(res, "database")));
    caps.server_version_num =
        (int)tsp_db_result_int(res, 0, tsp_db_result_col(res, "server_version_num"), 0);
    caps.installed = tsp_db_result_value(res, 0, tsp_db_result_col(res, "version")) != NULL;
    copy_text(caps.version, sizeof(caps.version),
              tsp_db_result_value(res, 0, tsp_db_result_col(res, "version")));
    copy_text(caps.license, sizeof(caps.license),
              tsp_db_result_value(res, 0, tsp_db_result_col(res, "license")));
    tsp_ts_caps_derive(&caps);
    *out = caps;
done:
    tsp_db_result_free(res);
    tsp_ts_stmt_fini(&stmt);
    return rc;
}

enum tsp_code tsp_ts_caps_for_lease(struct tsp_ts *ts, struct tsp_lease *lease,
                                    struct tsp_ts_caps *out, struct tsp_error *err)
{
    long long conn_id = tsp_lease_conn_id(lease);
    int64_t now = tsp_clock_mono_ms();
    struct tsp_ts_caps fresh;
    bool stale;
    enum tsp_code rc;

    pthread_mutex_lock(&ts->lock);
    stale = !ts->cached || conn_id > ts->newest_conn_id || now - ts->probed_at_ms > CAPS_MAX_AGE_MS;
    if (!stale) {
        *out = ts->caps;
    }
    pthread_mutex_unlock(&ts->lock);
    if (!stale) {
        return TSP_OK;
    }
    /* probe outside the lock: a round trip must not block other callers */
    rc = probe(lease, &fresh, err);
    if (rc != TSP_OK) {
        return rc;
    }
    pthread_mutex_lock(&ts->lock);
    if (ts->api_override >= 0 && fresh.installed) {
        fresh.columnstore_api = ts->api_override > 0;
    }
    ts->caps = fresh;
    ts->cached = true;
    if (conn_id > ts->newest_conn_id) {
        ts->newest_conn_id = conn_id;
    }
    ts->probed_at_ms = now;
    pthread_mutex_unlock(&ts->lock);
    *out = fresh;
    return TSP_OK;
}

void tsp_ts_caps_override_api(struct tsp_ts *ts, int columnstore)
{
    pthread_mutex_lock(&ts->lock);
    ts->api_override = columnstore;
    ts->cached = false;
    pthread_mutex_unlock(&ts->lock);
}

void tsp_ts_caps_invalidate(struct tsp_ts *ts)
{
    if (ts == NULL) {
        return;
    }
    pthread_mutex_lock(&ts->lock);
    ts->cached = false;
    pthread_mutex_unlock(&ts->lock);
}

enum tsp_code tsp_ts_new(struct tsp_pool *pool, struct tsp_ts **out, struct tsp_error *err)
{
    struct tsp_ts *ts = NULL;

    if (pool == NULL) {
        return tsp_error_set(err, TSP_INTERNAL, NULL, "tsp_ts_new needs a pool");
    }
    ts = calloc(1, sizeof(*ts));
    if (ts == NULL) {
        return tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory");
    }
    if (pthread_mutex_init(&ts->lock, NULL) != 0) {
        free(ts);
        return tsp_error_set(err, TSP_INTERNAL, NULL, "pthread_mutex_init failed");
    }
    if (pthread_mutex_init(&ts->obs_lock, NULL) != 0) {
        pthread_mutex_destroy(&ts->lock);
        free(ts);
        return tsp_error_set(err, TSP_INTERNAL, NULL, "pthread_mutex_init failed");
    }
    ts->pool = pool;
    ts->api_override = -1;
    ts->lock_timeout_ms = 3000;
    *out = ts;
    return TSP_OK;
}

void tsp_ts_set_cluster(struct tsp_ts *ts, struct tsp_cluster *cluster)
{
    ts->cluster = cluster;
}

void tsp_ts_set_lock_timeout(struct tsp_ts *ts, long lock_timeout_ms)
{
    ts->lock_timeout_ms = lock_timeout_ms > 0 ? lock_timeout_ms : 0;
}

void tsp_ts_free(struct tsp_ts *ts)
{
    if (ts == NULL) {
        return;
    }
    /* the maintenance thread must be done with ts before it goes */
    tsp_ts_snapshot_start(ts, 0);
    free(ts->snap_text);
    pthread_mutex_destroy(&ts->obs_lock);
    pthread_mutex_destroy(&ts->lock);
    free(ts);
}
