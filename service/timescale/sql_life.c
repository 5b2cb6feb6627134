/* timescale/sql_life.c - pure SQL builders of the hypertable lifecycle: create_hypertable,
 * set_chunk_time_interval, reorder policies, the chunk-interval advice query, and the opaque
 * keyset cursor of the paged chunk listing. No connection is touched here.
 * SPDX-License-Identifier: MIT
 */
#include "timescale_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CURSOR_PREFIX "c1"

enum tsp_code tsp_ts_sql_hypertable_create(const struct tsp_ts_quoter *q,
                                           const struct tsp_ts_hypertable_spec *spec,
                                           const char *table, struct tsp_ts_stmt *out,
                                           struct tsp_error *err)
{
    struct tsp_strbuf sb = {0};
    char *time_col = NULL;
    bool ok;
    int n;
    enum tsp_code rc;

    memset(out, 0, sizeof(*out));
    if (spec->partition_column != NULL && spec->partitions < 1) {
        return tsp_error_set(err, TSP_INVALID, "partitions",
                             "partitions (1 or more) is required with partition_column");
    }
    if (spec->partition_column == NULL && spec->partitions != 0) {
        return tsp_error_set(err, TSP_INVALID, "partition_column",
                             "partition_column is required with partitions");
    }
    rc = q->quote(q->ctx, spec->time_column, false, "time_column", &time_col, err);
    if (rc != TSP_OK) {
        return rc;
    }
    free(time_col); /* validated; bound as a name below */
    rc = tsp_ts_bind_relation(q, table, "name", out, err);
    if (rc != TSP_OK) {
        return rc;
    }
    n = tsp_ts_stmt_param(out, spec->time_column, "time_column");
    ok = n != 0;
    tsp_strbuf_printf(&sb, "SELECT create_hypertable($1::regclass, $%d::name", n);
    if (spec->partition_column != NULL) {
        char parts[24];
        char *quoted = NULL;
        rc = q->quote(q->ctx, spec->partition_column, false, "partition_column", &quoted, err);
        if (rc != TSP_OK) {
            tsp_strbuf_fini(&sb);
            tsp_ts_stmt_fini(out);
            return rc;
        }
        free(quoted);
        snprintf(parts, sizeof(parts), "%lld", spec->partitions);
        n = tsp_ts_stmt_param(out, spec->partition_column, "partition_column");
        ok = ok && n != 0;
        tsp_strbuf_printf(&sb, ", partitioning_column => $%d::name", n);
        n = tsp_ts_stmt_param(out, parts, "partitions");
        ok = ok && n != 0;
        tsp_strbuf_printf(&sb, ", number_partitions => $%d::integer", n);
    }
    if (spec->chunk_interval != NULL) {
        n = tsp_ts_stmt_param(out, spec->chunk_interval, "chunk_interval");
        ok = ok && n != 0;
        tsp_strbuf_printf(&sb, ", chunk_time_interval => $%d::%s", n,
                          tsp_ts_time_cast(spec->chunk_interval));
    }
    tsp_strbuf_printf(&sb, ", if_not_exists => %s, migrate_data => %s)::text AS created",
                      spec->if_not_exists ? "true" : "false",
                      spec->migrate_data ? "true" : "false");
    return tsp_ts_stmt_finish(&sb, ok, out, err);
}

enum tsp_code tsp_ts_sql_chunk_interval_set(const struct tsp_ts_quoter *q, const char *hypertable,
                                            const char *chunk_interval, struct tsp_ts_stmt *out,
                                            struct tsp_error *err)
{
    struct tsp_strbuf sb = {0};
    int n;
    enum tsp_code rc;

    if (chunk_interval == NULL || chunk_interval[0] == '\0') {
        memset(out, 0, sizeof(*out));
        return tsp_error_set(err, TSP_INVALID, "chunk_interval", "chunk_interval is required");
    }
    rc = tsp_ts_bind_relation(q, hypertable, "hypertable", out, err);
    if (rc != TSP_OK) {
        return rc;
    }
    n = tsp_ts_stmt_param(out, chunk_interval, "chunk_interval");
    tsp_strbuf_printf(&sb, "SELECT set_chunk_time_interval($1::regclass, $%d::%s)", n,
                      tsp_ts_time_cast(chunk_interval));
    return tsp_ts_stmt_finish(&sb, n != 0, out, err);
}

enum tsp_code tsp_ts_sql_reorder_add(const struct tsp_ts_quoter *q, const char *hypertable,
                                     const char *index_name, struct tsp_ts_stmt *out,
                                     struct tsp_error *err)
{
    struct tsp_strbuf sb = {0};
    char *quoted = NULL;
    int n;
    enum tsp_code rc;

    memset(out, 0, sizeof(*out));
    if (index_name == NULL || index_name[0] == '\0') {
        return tsp_error_set(err, TSP_INVALID, "index_name", "index_name is required");
    }
    rc = q->quote(q->ctx, index_name, false, "index_name", &quoted, err);
    if (rc != TSP_OK) {
        return rc;
    }
    free(quoted); /* validated; bound as a name (the index lives in the hypertable's schema) */
    rc = tsp_ts_bind_relation(q, hypertable, "hypertable", out, err);
    if (rc != TSP_OK) {
        return rc;
    }
    n = tsp_ts_stmt_param(out, index_name, "index_name");
    tsp_strbuf_printf(
        &sb, "SELECT add_reorder_policy($1::regclass, index_name => $%d::name) AS job_id", n);
    return tsp_ts_stmt_finish(&sb, n != 0, out, err);
}

enum tsp_code tsp_ts_sql_reorder_remove(const struct tsp_ts_quoter *q, const char *hypertable,
                                        bool if_exists, struct tsp_ts_stmt *out,
                                        struct tsp_error *err)
{
    struct tsp_strbuf sb = {0};
    enum tsp_code rc = tsp_ts_bind_relation(q, hypertable, "hypertable", out, err);

    if (rc != TSP_OK) {
        return rc;
    }
    tsp_strbuf_printf(&sb, "SELECT remove_reorder_policy($1::regclass, if_exists => %s)",
                      if_exists ? "true" : "false");
    return tsp_ts_stmt_finish(&sb, true, out, err);
}

enum tsp_code tsp_ts_sql_interval_advice(const char *schema, const char *name,
                                         struct tsp_ts_stmt *out, struct tsp_error *err)
{
    return tsp_ts_by_schema_name(
        out,
        "SELECT pg_catalog.pg_size_bytes(pg_catalog.current_setting('shared_buffers')) "
        "AS shared_buffers, COALESCE(avg(n.bytes), 0)::bigint AS newest_bytes, "
        "count(n.bytes) AS newest_chunks FROM (SELECT pg_catalog.pg_total_relation_size("
        "pg_catalog.format('%I.%I', c.chunk_schema, c.chunk_name)::regclass) AS bytes "
        "FROM timescaledb_information.chunks c "
        "WHERE c.hypertable_schema = $1::text AND c.hypertable_name = $2::text "
        "ORDER BY c.range_start DESC NULLS LAST, c.range_start_integer DESC NULLS LAST "
        "LIMIT 3) n",
        schema, name, err);
}

/* ---- the paged chunk listing's cursor ---- */

static const char hex_digits[] = "0123456789abcdef";

enum tsp_code tsp_ts_cursor_encode(long long key, const char *name, char *out, size_t size,
                                   struct tsp_error *err)
{
    char plain[TSP_TS_NAME_MAX + 32];
    size_t len;
    size_t need;

    len = (size_t)snprintf(plain, sizeof(plain), "%lld|%s", key, name);
    need = strlen(CURSOR_PREFIX) + 2 * len + 1;
    if (len >= sizeof(plain) || need > size) {
        return tsp_error_set(err, TSP_INTERNAL, NULL, "chunk cursor does not fit");
    }
    memcpy(out, CURSOR_PREFIX, strlen(CURSOR_PREFIX));
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)plain[i];
        out[strlen(CURSOR_PREFIX) + 2 * i] = hex_digits[c >> 4];
        out[strlen(CURSOR_PREFIX) + 2 * i + 1] = hex_digits[c & 0x0f];
    }
    out[need - 1] = '\0';
    return TSP_OK;
}

static int hex_value(char c)
{
    const char *p = strchr(hex_digits, c);
    return c != '\0' && p != NULL ? (int)(p - hex_digits) : -1;
}

enum tsp_code tsp_ts_cursor_decode(const char *cursor, struct tsp_ts_keyset *out,
                                   struct tsp_error *err)
{
    char plain[TSP_TS_NAME_MAX + 32];
    const char *hex = NULL;
    size_t hexlen;
    size_t len;
    char *bar = NULL;
    char *end = NULL;
    long long key;

    if (cursor == NULL || strncmp(cursor, CURSOR_PREFIX, strlen(CURSOR_PREFIX)) != 0) {
        goto bad;
    }
    hex = cursor + strlen(CURSOR_PREFIX);
    hexlen = strlen(hex);
    if (hexlen == 0 || hexlen % 2 != 0 || hexlen / 2 >= sizeof(plain)) {
        goto bad;
    }
    len = hexlen / 2;
    for (size_t i = 0; i < len; i++) {
        int hi = hex_value(hex[2 * i]);
        int lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            goto bad;
        }
        plain[i] = (char)(hi << 4 | lo);
    }
    plain[len] = '\0';
    bar = strchr(plain, '|');
    if (bar == NULL || bar == plain || bar[1] == '\0' || strlen(bar + 1) >= TSP_TS_NAME_MAX) {
        goto bad;
    }
    *bar = '\0';
    errno = 0;
    key = strtoll(plain, &end, 10);
    if (errno != 0 || end == NULL || *end != '\0') {
        goto bad;
    }
    for (const char *p = bar + 1; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            goto bad;
        }
    }
    out->after = true;
    out->key = key;
    snprintf(out->name, sizeof(out->name), "%s", bar + 1);
    return TSP_OK;
bad:
    return tsp_error_set(err, TSP_INVALID, "cursor",
                         "cursor is not a next_cursor this service returned");
}

void tsp_ts_advice_derive(long long shared_buffers, long long newest_bytes, int newest_chunks,
                          long long num_chunks, struct tsp_ts_interval_advice *out)
{
    memset(out, 0, sizeof(*out));
    out->shared_buffers_bytes = shared_buffers;
    out->newest_chunk_bytes = newest_bytes;
    out->newest_chunks = newest_chunks;
    if (newest_chunks <= 0 || shared_buffers <= 0) {
        snprintf(out->recommendation, sizeof(out->recommendation), "keep");
        snprintf(out->reason, sizeof(out->reason),
                 newest_chunks <= 0 ? "no chunk yet: nothing to measure"
                                    : "shared_buffers could not be read");
        return;
    }
    out->known = true;
    if (newest_bytes > shared_buffers) {
        snprintf(out->recommendation, sizeof(out->recommendation), "decrease");
        snprintf(out->reason, sizeof(out->reason),
                 "the newest chunks (%lld bytes each) are larger than shared_buffers (%lld "
                 "bytes): a shorter chunk_interval keeps the active chunk in memory",
                 newest_bytes, shared_buffers);
    } else if (num_chunks >= 100 && newest_bytes * 100 < shared_buffers) {
        snprintf(out->recommendation, sizeof(out->recommendation), "increase");
        snprintf(out->reason, sizeof(out->reason),
                 "%lld chunks of about %lld bytes, under 1%% of shared_buffers (%lld bytes): "
                 "a longer chunk_interval means fewer chunks to plan over",
                 num_chunks, newest_bytes, shared_buffers);
    } else {
        snprintf(out->recommendation, sizeof(out->recommendation), "keep");
        snprintf(out->reason, sizeof(out->reason),
                 "the newest chunks (%lld bytes each) fit in shared_buffers (%lld bytes)",
                 newest_bytes, shared_buffers);
    }
}
