/* timescale/sql.c - pure SQL builders for hypertables, chunks, compression and policies: text plus
 * parameters. No connection is touched here; identifiers go through the caller's quoter.
 * SPDX-License-Identifier: MIT
 */
#include "timescale_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tspool/db.h"

void tsp_ts_stmt_fini(struct tsp_ts_stmt *stmt)
{
    int i;

    if (stmt == NULL) {
        return;
    }
    free(stmt->sql);
    for (i = 0; i < stmt->nparams && i < TSP_TS_MAX_PARAMS; i++) {
        free(stmt->params[i]);
    }
    memset(stmt, 0, sizeof(*stmt));
}

/* Append a parameter; returns its number ($n) or 0 when out of memory / too many. */
int tsp_ts_stmt_param(struct tsp_ts_stmt *stmt, const char *value, const char *field)
{
    char *copy = NULL;

    if (stmt->nparams >= TSP_TS_MAX_PARAMS) {
        return 0;
    }
    if (value != NULL) {
        copy = strdup(value);
        if (copy == NULL) {
            return 0;
        }
    }
    stmt->params[stmt->nparams] = copy;
    stmt->fields[stmt->nparams] = field;
    stmt->nparams++;
    return stmt->nparams;
}

/* Take the text of sb as out->sql; on any earlier failure release everything. */
enum tsp_code tsp_ts_stmt_finish(struct tsp_strbuf *sb, bool params_ok, struct tsp_ts_stmt *out,
                                 struct tsp_error *err)
{
    char *sql = tsp_strbuf_take(sb, NULL);

    if (sql == NULL || !params_ok) {
        free(sql);
        tsp_ts_stmt_fini(out);
        return tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory building SQL");
    }
    out->sql = sql;
    return TSP_OK;
}

/* Start a statement with fixed text and the given parameters (field, value pairs). */
enum tsp_code tsp_ts_stmt_simple(struct tsp_ts_stmt *out, const char *sql, int nparams,
                                 const char *const *values, const char *const *fields,
                                 struct tsp_error *err)
{
    struct tsp_strbuf sb = {0};
    bool ok = true;
    int i;

    memset(out, 0, sizeof(*out));
    for (i = 0; i < nparams; i++) {
        ok = ok && tsp_ts_stmt_param(out, values[i], fields[i]) != 0;
    }
    tsp_strbuf_puts(&sb, sql);
    return tsp_ts_stmt_finish(&sb, ok, out, err);
}

const char *tsp_ts_time_cast(const char *value)
{
    size_t i = 0;

    if (value == NULL) {
        return "interval";
    }
    if (value[0] == '-' || value[0] == '+') {
        i = 1;
    }
    if (value[i] != '\0' && strspn(value + i, "0123456789") == strlen(value + i)) {
        return "bigint";
    }
    if (strlen(value) >= 10 && isdigit((unsigned char)value[0]) &&
        isdigit((unsigned char)value[1]) && isdigit((unsigned char)value[2]) &&
        isdigit((unsigned char)value[3]) && value[4] == '-' && isdigit((unsigned char)value[5]) &&
        isdigit((unsigned char)value[6]) && value[7] == '-' && isdigit((unsigned char)value[8]) &&
        isdigit((unsigned char)value[9])) {
        return "timestamptz";
    }
    return "interval";
}

/* Window bounds of a refresh are points in time, never intervals. */
const char *tsp_ts_point_cast(const char *value)
{
    return strcmp(tsp_ts_time_cast(value), "bigint") == 0 ? "bigint" : "timestamptz";
}

enum tsp_code tsp_ts_sql_caps(struct tsp_ts_stmt *out, struct tsp_error *err)
{
    return tsp_ts_stmt_simple(
        out,
        "SELECT current_database() AS database, "
        "current_setting('server_version_num')::integer AS server_version_num, "
        "(SELECT extversion FROM pg_catalog.pg_extension "
        "WHERE extname = 'timescaledb') AS version, "
        "current_setting('timescaledb.license', true) AS license",
        0, NULL, NULL, err);
}

/* Quote `name` through q and bind it as parameter 1 (for $1::regclass). */
enum tsp_code tsp_ts_bind_relation(const struct tsp_ts_quoter *q, const char *name,
                                   const char *field, struct tsp_ts_stmt *out,
                                   struct tsp_error *err)
{
    char *quoted = NULL;
    enum tsp_code rc;

    memset(out, 0, sizeof(*out));
    rc = q->quote(q->ctx, name, true, field, &quoted, err);
    if (rc != TSP_OK) {
        return rc;
    }
    if (tsp_ts_stmt_param(out, quoted, field) == 0) {
        rc = tsp_error_set(err, TSP_NO_MEMORY, NULL, "out of memory building SQL");
    }
    free(quoted);
    return rc;
}

enum tsp_code tsp_ts_sql_resolve(const struct tsp_ts_quoter *q, const char *name, bool aggregate,
                                 const char *field, struct tsp_ts_stmt *out, struct tsp_error *err)
{
    struct tsp_strbuf sb = {0};
    enum tsp_code rc = tsp_ts_bind_relation(q, name, field, out, err);

    if (rc != TSP_OK) {
        return rc;
    }
    tsp_strbuf_puts(&sb, "SELECT n.nspname AS schema, c.relname AS name, EXISTS (SELECT 1 FROM ");
    if (aggregate) {
        tsp_strbuf_puts(&sb, "timescaledb_information.continuous_aggregates x "
                             "WHERE x.view_schema = n.nspname AND x.view_name = c.relname)");
    } else {
        tsp_strbuf_puts(&sb,
                        "timescaledb_information.hypertables x "
                        "WHERE x.hypertable_schema = n.nspname AND x.hypertable_name = c.relname)");
    }
    tsp_strbuf_puts(&sb, " AS is_kind FROM pg_catalog.pg_class c "
                         "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                         "WHERE c.oid = pg_catalog.to_regclass($1)");
    return tsp_ts_stmt_finish(&sb, true, out, err);
}

enum tsp_code tsp_ts_by_schema_name(struct tsp_ts_stmt *out, const char *sql, const char *schema,
                                    const char *name, struct tsp_error *err)
{
    const char *values[2] = {schema, name};
    const char *fields[2] = {"schema", "name"};
    return tsp_ts_stmt_simple(out, sql, 2, values, fields, err);
}

enum tsp_code tsp_ts_sql_hypertables(const char *schema, const char *name, bool compression_stats,
                                     struct tsp_ts_stmt *out, struct tsp_error *err)
{
    struct tsp_strbuf sb = {0};
    bool ok;

    memset(out, 0, sizeof(*out));
    ok = tsp_ts_stmt_param(out, schema, "schema") != 0;
    ok = ok && tsp_ts_stmt_param(out, name, "name") != 0;
    tsp_strbuf_puts(
        &sb, "SELECT h.hypertable_schema AS schema, h.hypertable_name AS name, "
             "d.column_name AS time_column, "
             "COALESCE(d.time_interval::text, d.integer_interval::text) AS chunk_interval, "
             "h.num_chunks, h.compression_enabled, "
             "hypertable_size(format('%I.%I', h.hypertable_schema, h.hypertable_name)::regclass) "
             "AS total_bytes, "
             "cs.number_compressed_chunks AS compressed_chunks, "
             "cs.before_compression_total_bytes AS before_bytes, "
             "cs.after_compression_total_bytes AS after_bytes "
             "FROM timescaledb_information.hypertables h "
             "LEFT JOIN LATERAL (SELECT dd.column_name, dd.time_interval, dd.integer_interval "
             "FROM timescaledb_information.dimensions dd "
             "WHERE dd.hypertable_schema = h.hypertable_schema "
             "AND dd.hypertable_name = h.hypertable_name "
             "ORDER BY dd.dimension_number LIMIT 1) d ON true ");
    if (compression_stats) {
        tsp_strbuf_puts(&sb,
                        "LEFT JOIN LATERAL hypertable_compression_stats("
                        "format('%I.%I', h.hypertable_schema, h.hypertable_name)::regclass) cs "
                        "ON true ");
    } else {
        /* the Apache-only build refuses the compression functions */
        tsp_strbuf_puts(&sb, "LEFT JOIN LATERAL (SELECT NULL::bigint AS number_compressed_chunks, "
                             "NULL::bigint AS before_compression_total_bytes, "
                             "NULL::bigint AS after_compression_total_bytes) cs ON true ");
    }
    tsp_strbuf_puts(&sb, "WHERE ($1::text IS NULL OR h.hypertable_schema = $1::text) "
                         "AND ($2::text IS NULL OR h.hypertable_name = $2::text) "
                         "ORDER BY h.hypertable_schema, h.hypertable_name");
    return tsp_ts_stmt_finish(&sb, ok, out, err);
}

enum tsp_code tsp_ts_sql_policies(const char *schema, const char *name, struct tsp_ts_stmt *out,
                                  struct tsp_error *err)
{
    return tsp_ts_by_schema_name(
        out,
        "SELECT j.hypertable_schema AS schema, j.hypertable_name AS name, j.job_id, j.proc_name, "
        "j.schedule_interval::text AS schedule_interval, j.scheduled, "
        "COALESCE(j.config->>'drop_after', j.config->>'compress_after') AS after, "
        "j.config->>'start_offset' AS start_offset, j.config->>'end_offset' AS end_offset, "
        "j.config->>'index_name' AS index_name "
        "FROM timescaledb_information.jobs j "
        "WHERE j.hypertable_name IS NOT NULL "
        "AND ($1::text IS NULL OR j.hypertable_schema = $1::text) "
        "AND ($2::text IS NULL OR j.hypertable_name = $2::text) "
        "ORDER BY j.job_id",
        schema, name, err);
}

enum tsp_code tsp_ts_sql_dimensions(const char *schema, const char *name, struct tsp_ts_stmt *out,
                                    struct tsp_error *err)
{
    return tsp_ts_by_schema_name(
        out,
        "SELECT column_name, column_type::text AS column_type, dimension_type, "
        "COALESCE(time_interval::text, integer_interval::text) AS interval, "
        "num_partitions "
        "FROM timescaledb_information.dimensions "
        "WHERE hypertable_schema = $1::text AND hypertable_name = $2::text "
        "ORDER BY dimension_number",
        schema, name, err);
}

enum tsp_code tsp_ts_sql_compression_settings(const char *schema, const char *name,
                                              struct tsp_ts_stmt *out, struct tsp_error *err)
{
    return tsp_ts_by_schema_name(
        out,
        "SELECT attname, segmentby_column_index, orderby_column_index, "
        "orderby_asc, orderby_nullsfirst "
        "FROM timescaledb_information.compression_settings "
        "WHERE hypertable_schema = $1::text AND hypertable_name = $2::text "
        "ORDER BY segmentby_column_index NULLS LAST, "
        "orderby_column_index NULLS LAST",
        schema, name, err);
}

/* ", older_than => $n::cast, newer_than => $m::cast" for the filter's bounds. */
static bool add_time_bounds(struct tsp_strbuf *sb, struct tsp_ts_stmt *out,
                            const struct tsp_ts_chunk_filter *filter)
{
    int n;

    if (filter == NULL) {
        return true;
    }
    if (filter->older_than != NULL) {
        n = tsp_ts_stmt_param(out, filter->older_than, "older_than");
        if (n == 0) {
            return false;
        }
        tsp_strbuf_printf(sb, ", older_than => $%d::%s", n, tsp_ts_time_cast(filter->older_than));
    }
    if (filter->newer_than != NULL) {
        n = tsp_ts_stmt_param(out, filter->newer_than, "newer_than");
        if (n == 0) {
            return false;
        }
        tsp_strbuf_printf(sb, ", newer_than => $%d::%s", n, tsp_ts_time_cast(filter->newer_than));
    }
    return true;
}

enum tsp_code tsp_ts_sql_chunks(const struct tsp_ts_quoter *q, const char *hypertable,
                                const struct tsp_ts_chunk_filter *filter, bool compression_stats,
                                struct tsp_ts_stmt *out, struct tsp_error *err)
{
    struct tsp_strbuf sb = {0};
    bool ok;
    enum tsp_code rc = tsp_ts_bind_relation(q, hypertable, "hypertable", out, err);

    if (rc != TSP_OK) {
        return rc;
    }
    tsp_strbuf_puts(
        &sb, "SELECT sc.chunk::text AS chunk, c.chunk_schema AS schema, c.chunk_name AS name, "
             "COALESCE(c.range_start::text, c.range_start_integer::text) AS range_start, "
             "COALESCE(c.range_end::text, c.range_end_integer::text) AS range_end, "
             "c.is_compressed AS compressed, "
             "CASE WHEN c.is_compressed THEN s.after_compression_total_bytes "
             "ELSE pg_catalog.pg_total_relation_size(sc.chunk) END AS total_bytes, "
             "s.before_compression_total_bytes AS before_bytes, "
             "s.after_compression_total_bytes AS after_bytes");
    tsp_strbuf_puts(&sb, " FROM show_chunks($1::regclass");
    ok = add_time_bounds(&sb, out, filter);
    tsp_strbuf_puts(&sb, ") AS sc(chunk) "
                         "JOIN pg_catalog.pg_class pc ON pc.oid = sc.chunk "
                         "JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace "
                         "JOIN timescaledb_information.chunks c "
                         "ON c.chunk_schema = pn.nspname AND c.chunk_name = pc.relname ");
    tsp_strbuf_puts(&sb, compression_stats
                             ? "LEFT JOIN chunk_compression_stats($1::regclass) s "
                               "ON s.chunk_schema = c.chunk_schema AND s.chunk_name = c.chunk_name"
                             : "LEFT JOIN LATERAL (SELECT NULL::bigint AS "
                               "before_compression_total_bytes, NULL::bigint AS "
                               "after_compression_total_bytes) s ON true");
    if (filter != NULL && filter->compressed >= 0) {
        tsp_strbuf_puts(&sb, filter->compressed > 0 ? " WHERE c.is_compressed"
                                                    : " WHERE NOT c.is_compressed");
    }
    tsp_strbuf_puts(&sb, " ORDER BY c.range_start, c.range_start_integer, c.chunk_name");
    return tsp_ts_stmt_finish(&sb, ok, out, err);
}

#define SORT_KEY                                                                                   \
    "COALESCE((extract(epoch FROM c.range_start) * 1000000)::bigint, c.range_start_integer, 0)"

enum tsp_code tsp_ts_sql_chunks_page(const struct tsp_ts_quoter *q, const char *schema,
                                     const char *name, const struct tsp_ts_chunk_filter *filter,
                                     bool compression_stats, const struct tsp_ts_keyset *keyset,
                                     struct tsp_ts_stmt *out, struct tsp_error *err)
{
    struct tsp_strbuf sb = {0};
    char qualified[2 * TSP_TS_NAME_MAX + 2];
    char number[24];
    bool ok;
    int ns;
    int nn;
    enum tsp_code rc;

    snprintf(qualified, sizeof(qualified), "%s.%s", schema, name);
    rc = tsp_ts_bind_relation(q, qualified, "hypertable", out, err);
    if (rc != TSP_OK) {
        return rc;
    }
    ns = tsp_ts_stmt_param(out, schema, "hypertable");
    nn = tsp_ts_stmt_param(out, name, "hypertable");
    ok = ns != 0 && nn != 0;
    /* the page is chosen from the catalog view alone (keyset, then LIMIT); sizes and
       compression statistics are computed for the page's rows only */
    tsp_strbuf_printf(
        &sb,
        "SELECT p.chunk, p.schema, p.name, p.range_start, p.range_end, p.compressed, "
        "CASE WHEN p.compressed THEN s.after_compression_total_bytes "
        "ELSE pg_catalog.pg_total_relation_size(p.chunk::regclass) END AS total_bytes, "
        "s.before_compression_total_bytes AS before_bytes, "
        "s.after_compression_total_bytes AS after_bytes, p.sort_key "
        "FROM (SELECT pg_catalog.format('%%I.%%I', c.chunk_schema, c.chunk_name) AS chunk, "
        "c.chunk_schema AS schema, c.chunk_name AS name, "
        "COALESCE(c.range_start::text, c.range_start_integer::text) AS range_start, "
        "COALESCE(c.range_end::text, c.range_end_integer::text) AS range_end, "
        "c.is_compressed AS compressed, " SORT_KEY " AS sort_key "
        "FROM timescaledb_information.chunks c "
        "WHERE c.hypertable_schema = $%d::text AND c.hypertable_name = $%d::text",
        ns, nn);
    if (filter != NULL && (filter->older_than != NULL || filter->newer_than != NULL)) {
        tsp_strbuf_puts(&sb, " AND pg_catalog.to_regclass(pg_catalog.format('%I.%I', "
                             "c.chunk_schema, c.chunk_name))::oid IN (SELECT sc.chunk::oid "
                             "FROM show_chunks($1::regclass");
        ok = add_time_bounds(&sb, out, filter) && ok;
        tsp_strbuf_puts(&sb, ") AS sc(chunk))");
    }
    if (filter != NULL && filter->compressed >= 0) {
        tsp_strbuf_puts(&sb, filter->compressed > 0 ? " AND c.is_compressed"
                                                    : " AND NOT c.is_compressed");
    }
    if (keyset->after) {
        int nk;
        int nc;
        snprintf(number, sizeof(number), "%lld", keyset->key);
        nk = tsp_ts_stmt_param(out, number, "cursor");
        nc = tsp_ts_stmt_param(out, keyset->name, "cursor");
        ok = ok && nk != 0 && nc != 0;
        tsp_strbuf_printf(&sb,
                          " AND (" SORT_KEY ", c.chunk_name COLLATE \"C\") > ($%d::bigint, "
                          "$%d::text COLLATE \"C\")",
                          nk, nc);
    }
    snprintf(number, sizeof(number), "%ld", keyset->limit + 1);
    nn = tsp_ts_stmt_param(out, number, "limit");
    ok = ok && nn != 0;
    tsp_strbuf_printf(&sb, " ORDER BY 7, c.chunk_name COLLATE \"C\" LIMIT $%d::integer) p ", nn);
    tsp_strbuf_puts(&sb, compression_stats
                             ? "LEFT JOIN chunk_compression_stats($1::regclass) s "
                               "ON s.chunk_schema = p.schema AND s.chunk_name = p.name"
                             : "LEFT JOIN LATERAL (SELECT NULL::bigint AS "
                               "before_compression_total_bytes, NULL::bigint AS "
                               "after_compression_total_bytes) s ON true");
    tsp_strbuf_puts(&sb, " ORDER BY p.sort_key, p.name COLLATE \"C\"");
    return tsp_ts_stmt_finish(&sb, ok, out, err);
}

/* "column [ASC|DESC] [NULLS FIRST|LAST]" -> quoted column and canonical keywords. */
static enum tsp_code add_order_item(const struct tsp_ts_quoter *q, struct tsp_strbuf *sb,
                                    const char *item, struct tsp_error *err)
{
    char copy[256];
    char *words[5] = {NULL, NULL, NULL, NULL, NULL};
    char *save = NULL;
    char *quoted = NULL;
    const char *dir = NULL;
    const char *nulls = NULL;
    size_t n = 0;
    size_t i = 1;
    enum tsp_code rc;

    if (item == NULL || strlen(item) >= sizeof(copy)) {
        return tsp_error_set(err, TSP_INVALID, "order_by",
                             "order_by: each entry is \"column [ASC|DESC] [NULLS FIRST|LAST]\"");
    }
    snprintf(copy, sizeof(copy), "%s", item);
    for (char *w = strtok_r(copy, " ", &save); w != NULL; w = strtok_r(NULL, " ", &save)) {
        if (n == 5) {
            n++;
            break;
        }
        words[n++] = w;
    }
    if (n >= 2 && (strcasecmp(words[1], "ASC") == 0 || strcasecmp(words[1], "DESC") == 0)) {
        dir = toupper((unsigned char)words[1][0]) == 'A' ? "ASC" : "DESC";
        i = 2;
    }
    if (n == i + 2 && strcasecmp(words[i], "NULLS") == 0 &&
        (strcasecmp(words[i + 1], "FIRST") == 0 || strcasecmp(words[i + 1], "LAST") == 0)) {
        nulls = toupper((unsigned char)words[i + 1][0]) == 'F' ? "FIRST" : "LAST";
        i += 2;
    }
    if (n == 0 || i != n) {
        return tsp_error_set(err, TSP_INVALID, "order_by",
                             "order_by: each entry is \"column [ASC|DESC] [NULLS FIRST|LAST]\"");
    }
    rc = q->quote(q->ctx, words[0], false, "order_by", &quoted, err);
    if (rc != TSP_OK) {
        return rc;
    }
    tsp_strbuf_puts(sb, quoted);
    if (dir != NULL) {
        tsp_strbuf_printf(sb, " %s", dir);
    }
    if (nulls != NULL) {
        tsp_strbuf_printf(sb, " NULLS %s", nulls);
    }
    free(quoted);
    return TSP_OK;
}

/* Quote a list of columns into sb separated by ", ". */
enum tsp_code tsp_ts_column_list(const struct tsp_ts_quoter *q, struct tsp_strbuf *sb,
                                 const char *const *cols, size_t n, const char *field,
                                 struct tsp_error *err)
{
    size_t i;

    for (i = 0; i < n; i++) {
        char *quoted = NULL;
        enum tsp_code rc = q->quote(q->ctx, cols[i], false, field, &quoted, err);
        if (rc != TSP_OK) {
            return rc;
        }
        tsp_strbuf_puts(sb, i > 0 ? ", " : "");
        tsp_strbuf_puts(sb, quoted);
        free(quoted);
    }
    return TSP_OK;
}

enum tsp_code tsp_ts_sql_compression_set(const struct tsp_ts_quoter *q, const char *hypertable,
                                         const struct tsp_ts_compression_spec *spec,
                                         bool columnstore, struct tsp_ts_stmt *out,
                                         struct tsp_error *err)
{
    struct tsp_strbuf sb = {0};
    char *table = NULL;
    size_t i;
    enum tsp_code rc;

    memset(out, 0, sizeof(*out));
    if (spec == NULL || spec->nsegment_by > TSP_TS_MAX_COLUMNS ||
        spec->norder_by > TSP_TS_MAX_COLUMNS) {
        return tsp_error_set(err, TSP_INVALID, "segment_by", "at most %d columns per list",
                             TSP_TS_MAX_COLUMNS);
    }
    rc = q->quote(q->ctx, hypertable, true, "hypertable", &table, err);
    if (rc != TSP_OK) {
        goto done;
    }
    /* the settings are DDL options: literal text made only of quoted, validated names */
    tsp_strbuf_printf(&sb, "ALTER TABLE %s SET (", table);
    tsp_strbuf_puts(&sb,
                    columnstore ? "timescaledb.enable_columnstore = true" : "timescaledb.compress");
    if (spec->nsegment_by > 0) {
        tsp_strbuf_puts(&sb, columnstore ? ", timescaledb.segmentby = '"
                                         : ", timescaledb.compress_segmentby = '");
        rc = tsp_ts_column_list(q, &sb, spec->segment_by, spec->nsegment_by, "segment_by", err);
        if (rc != TSP_OK) {
            goto done;
        }
        tsp_strbuf_puts(&sb, "'");
    }
    if (spec->norder_by > 0) {
        tsp_strbuf_puts(&sb, columnstore ? ", timescaledb.orderby = '"
                                         : ", timescaledb.compress_orderby = '");
        for (i = 0; i < spec->norder_by; i++) {
            tsp_strbuf_puts(&sb, i > 0 ? ", " : "");
            rc = add_order_item(q, &sb, spec->order_by[i], err);
            if (rc != TSP_OK) {
                goto done;
            }
        }
        tsp_strbuf_puts(&sb, "'");
    }
    tsp_strbuf_puts(&sb, ")");
    rc = tsp_ts_stmt_finish(&sb, true, out, err);
done:
    tsp_strbuf_fini(&sb);
    free(table);
    return rc;
}

enum tsp_code tsp_ts_sql_chunk_compress(const char *chunk, bool compress, bool columnstore,
                                        struct tsp_ts_stmt *out, struct tsp_error *err)
{
    const char *values[1] = {chunk};
    const char *fields[1] = {"chunk"};
    const char *sql = NULL;
    enum tsp_code rc;

    if (columnstore) {
        sql = compress ? "CALL convert_to_columnstore($1::regclass, if_not_columnstore => true)"
                       : "CALL convert_to_rowstore($1::regclass, if_columnstore => true)";
    } else {
        sql = compress ? "SELECT compress_chunk($1::regclass, if_not_compressed => true)"
                       : "SELECT decompress_chunk($1::regclass, if_compressed => true)";
    }
    rc = tsp_ts_stmt_simple(out, sql, 1, values, fields, err);
    out->autocommit = columnstore;
    return rc;
}

enum tsp_code tsp_ts_sql_drop_chunks(const struct tsp_ts_quoter *q, const char *hypertable,
                                     const struct tsp_ts_chunk_filter *filter,
                                     struct tsp_ts_stmt *out, struct tsp_error *err)
{
    struct tsp_strbuf sb = {0};
    bool ok;
    enum tsp_code rc;

    if (filter == NULL || filter->older_than == NULL) {
        memset(out, 0, sizeof(*out));
        return tsp_error_set(err, TSP_INVALID, "older_than",
                             "older_than is required to drop chunks");
    }
    rc = tsp_ts_bind_relation(q, hypertable, "hypertable", out, err);
    if (rc != TSP_OK) {
        return rc;
    }
    tsp_strbuf_puts(&sb, "SELECT drop_chunks($1::regclass");
    ok = add_time_bounds(&sb, out, filter);
    tsp_strbuf_puts(&sb, ") AS chunk");
    return tsp_ts_stmt_finish(&sb, ok, out, err);
}

enum tsp_code tsp_ts_sql_policy_add(const struct tsp_ts_quoter *q, const char *hypertable,
                                    enum tsp_ts_policy_kind kind, const char *after,
                                    const char *schedule_interval, bool columnstore,
                                    struct tsp_ts_stmt *out, struct tsp_error *err)
{
    const char *after_field = kind == TSP_TS_POLICY_RETENTION ? "drop_after" : "compress_after";
    struct tsp_strbuf sb = {0};
    int na;
    int ns;
    enum tsp_code rc;

    if (after == NULL || after[0] == '\0') {
        memset(out, 0, sizeof(*out));
        return tsp_error_set(err, TSP_INVALID, after_field, "%s is required", after_field);
    }
    rc = tsp_ts_bind_relation(q, hypertable, "hypertable", out, err);
    if (rc != TSP_OK) {
        return rc;
    }
    na = tsp_ts_stmt_param(out, after, after_field);
    ns = tsp_ts_stmt_param(out, schedule_interval, "schedule_interval");
    if (kind == TSP_TS_POLICY_RETENTION) {
        tsp_strbuf_printf(&sb, "SELECT add_retention_policy($1::regclass, drop_after => $%d::%s",
                          na, tsp_ts_time_cast(after));
    } else if (columnstore) {
        tsp_strbuf_printf(&sb, "CALL add_columnstore_policy($1::regclass, after => $%d::%s", na,
                          tsp_ts_time_cast(after));
        out->autocommit = true;
    } else {
        tsp_strbuf_printf(&sb,
                          "SELECT add_compression_policy($1::regclass, compress_after => $%d::%s",
                          na, tsp_ts_time_cast(after));
    }
    tsp_strbuf_printf(&sb, ", schedule_interval => $%d::interval)", ns);
    if (!out->autocommit) {
        tsp_strbuf_puts(&sb, " AS job_id");
    }
    return tsp_ts_stmt_finish(&sb, na != 0 && ns != 0, out, err);
}

enum tsp_code tsp_ts_sql_policy_check(enum tsp_ts_policy_kind kind, const char *after,
                                      const char *schedule_interval, struct tsp_ts_stmt *out,
                                      struct tsp_error *err)
{
    const char *after_field = kind == TSP_TS_POLICY_RETENTION ? "drop_after" : "compress_after";
    struct tsp_strbuf sb = {0};
    int na;
    int ns;

    memset(out, 0, sizeof(*out));
    na = tsp_ts_stmt_param(out, after, after_field);
    ns = tsp_ts_stmt_param(out, schedule_interval, "schedule_interval");
    tsp_strbuf_printf(&sb, "SELECT $%d::%s AS after, $%d::interval AS schedule_interval", na,
                      tsp_ts_time_cast(after), ns);
    return tsp_ts_stmt_finish(&sb, na != 0 && ns != 0, out, err);
}

enum tsp_code tsp_ts_sql_policy_remove(const struct tsp_ts_quoter *q, const char *hypertable,
                                       enum tsp_ts_policy_kind kind, bool if_exists,
                                       bool columnstore, struct tsp_ts_stmt *out,
                                       struct tsp_error *err)
{
    struct tsp_strbuf sb = {0};
    const char *flag = if_exists ? "true" : "false";
    enum tsp_code rc = tsp_ts_bind_relation(q, hypertable, "hypertable", out, err);

    if (rc != TSP_OK) {
        return rc;
    }
    if (kind == TSP_TS_POLICY_RETENTION) {
        tsp_strbuf_printf(&sb, "SELECT remove_retention_policy($1::regclass, if_exists => %s)",
                          flag);
    } else if (columnstore) {
        tsp_strbuf_printf(&sb, "CALL remove_columnstore_policy($1::regclass, if_exists => %s)",
                          flag);
        out->autocommit = true;
    } else {
        tsp_strbuf_printf(&sb, "SELECT remove_compression_policy($1::regclass, if_exists => %s)",
                          flag);
    }
    return tsp_ts_stmt_finish(&sb, true, out, err);
}
