/* api/ts_json.c - TimescaleDB bodies and responses as JSON: parsers into the service's spec
 * structs (strings borrowed from the body) and renderers of its result structs.
 * SPDX-License-Identifier: MIT
 */
#include "ts_json.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Adds value under key; remembers a failure (out of memory, NULL value) in *ok. */
static void put(json_t *obj, const char *key, json_t *value, bool *ok)
{
    if (value == NULL || json_object_set_new(obj, key, value) != 0) {
        *ok = false;
    }
}

/* A string, or null for "" (unset optional text). Invalid UTF-8 cannot come from the
 * catalog; it would become null too. */
static json_t *text_or_null(const char *s)
{
    json_t *v = NULL;

    if (s == NULL || s[0] == '\0') {
        return json_null();
    }
    v = json_string(s);
    return v != NULL ? v : json_null();
}

static json_t *finish(json_t *obj, bool ok)
{
    if (!ok) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

json_t *tsp_ts_json_caps(const struct tsp_ts_caps *caps)
{
    json_t *obj = json_object();
    json_t *features = json_object();
    bool ok = obj != NULL && features != NULL;

    if (!ok) {
        json_decref(obj);
        json_decref(features);
        return NULL;
    }
    put(obj, "installed", json_boolean(caps->installed), &ok);
    put(obj, "database", text_or_null(caps->database), &ok);
    put(obj, "server_version_num", json_integer(caps->server_version_num), &ok);
    put(obj, "version", text_or_null(caps->version), &ok);
    put(obj, "license", text_or_null(caps->license), &ok);
    put(obj, "columnstore_api", json_boolean(caps->columnstore_api), &ok);
    put(features, "hypertables", json_boolean(caps->hypertables), &ok);
    put(features, "compression", json_boolean(caps->compression), &ok);
    put(features, "retention_policies", json_boolean(caps->retention_policies), &ok);
    put(features, "continuous_aggregates", json_boolean(caps->continuous_aggregates), &ok);
    put(features, "jobs", json_boolean(caps->jobs), &ok);
    put(obj, "features", features, &ok);
    return finish(obj, ok);
}

json_t *tsp_ts_json_policy(const struct tsp_ts_policy *p)
{
    json_t *obj = json_object();
    bool ok = obj != NULL;

    if (!ok) {
        return NULL;
    }
    put(obj, "job_id", json_integer(p->job_id), &ok);
    put(obj, "kind", text_or_null(p->kind), &ok);
    put(obj, "schedule_interval", text_or_null(p->schedule_interval), &ok);
    put(obj, "scheduled", json_boolean(p->scheduled), &ok);
    if (strcmp(p->kind, "refresh") == 0) {
        put(obj, "start_offset", text_or_null(p->start_offset), &ok);
        put(obj, "end_offset", text_or_null(p->end_offset), &ok);
    } else if (strcmp(p->kind, "reorder") == 0) {
        put(obj, "index_name", text_or_null(p->index_name), &ok);
    } else {
        put(obj, strcmp(p->kind, "retention") == 0 ? "drop_after" : "compress_after",
            text_or_null(p->after), &ok);
    }
    return finish(obj, ok);
}

static json_t *advice_json(const struct tsp_ts_interval_advice *a)
{
    json_t *obj = json_object();
    bool ok = obj != NULL;

    if (!ok) {
        return NULL;
    }
    put(obj, "recommendation", json_string(a->recommendation), &ok);
    put(obj, "reason", json_string(a->reason), &ok);
    put(obj, "shared_buffers_bytes", json_integer(a->shared_buffers_bytes), &ok);
    put(obj, "newest_chunk_bytes", a->known ? json_integer(a->newest_chunk_bytes) : json_null(),
        &ok);
    put(obj, "newest_chunks", json_integer(a->newest_chunks), &ok);
    return finish(obj, ok);
}

static json_t *settings_json(const struct tsp_hypertable *h)
{
    json_t *obj = json_object();
    json_t *seg = json_array();
    json_t *ord = json_array();
    bool ok = obj != NULL && seg != NULL && ord != NULL;
    char item[TSP_TS_NAME_MAX + 24];
    size_t i;

    for (i = 0; ok && i < h->nsegment_by; i++) {
        ok = json_array_append_new(seg, json_string(h->segment_by[i])) == 0;
    }
    for (i = 0; ok && i < h->norder_by; i++) {
        const struct tsp_ts_order_by *o = &h->order_by[i];
        /* PostgreSQL's defaults (ASC NULLS LAST, DESC NULLS FIRST) are left out */
        snprintf(item, sizeof(item), "%s%s%s", o->column, o->desc ? " DESC" : "",
                 o->nulls_first != o->desc ? (o->nulls_first ? " NULLS FIRST" : " NULLS LAST")
                                           : "");
        ok = json_array_append_new(ord, json_string(item)) == 0;
    }
    if (!ok || obj == NULL) {
        json_decref(obj);
        json_decref(seg);
        json_decref(ord);
        return NULL;
    }
    put(obj, "segment_by", seg, &ok);
    put(obj, "order_by", ord, &ok);
    return finish(obj, ok);
}

static json_t *dimensions_json(const struct tsp_hypertable *h)
{
    json_t *arr = json_array();
    size_t i;

    for (i = 0; arr != NULL && i < h->ndimensions; i++) {
        const struct tsp_ts_dimension *d = &h->dimensions[i];
        json_t *obj = json_object();
        bool ok = obj != NULL;
        if (!ok) {
            json_decref(arr);
            return NULL;
        }
        put(obj, "column", text_or_null(d->column), &ok);
        put(obj, "column_type", text_or_null(d->column_type), &ok);
        put(obj, "kind", text_or_null(d->kind), &ok);
        put(obj, "interval", text_or_null(d->interval), &ok);
        put(obj, "num_partitions",
            d->num_partitions > 0 ? json_integer(d->num_partitions) : json_null(), &ok);
        if (!ok || json_array_append_new(arr, obj) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

json_t *tsp_ts_json_hypertable(const struct tsp_hypertable *h, bool detail)
{
    json_t *obj = json_object();
    json_t *comp = json_object();
    json_t *policies = json_array();
    bool ok = obj != NULL && comp != NULL && policies != NULL;
    size_t i;

    if (!ok) {
        json_decref(obj);
        json_decref(comp);
        json_decref(policies);
        return NULL;
    }
    put(obj, "schema", text_or_null(h->schema), &ok);
    put(obj, "name", text_or_null(h->name), &ok);
    put(obj, "time_column", text_or_null(h->time_column), &ok);
    put(obj, "chunk_interval", text_or_null(h->chunk_interval), &ok);
    put(obj, "num_chunks", json_integer(h->num_chunks), &ok);
    put(obj, "compression_enabled", json_boolean(h->compression_enabled), &ok);
    put(obj, "total_bytes", json_integer(h->total_bytes), &ok);
    put(comp, "compressed_chunks", json_integer(h->compressed_chunks), &ok);
    put(comp, "before_bytes", json_integer(h->before_compression_bytes), &ok);
    put(comp, "after_bytes", json_integer(h->after_compression_bytes), &ok);
    put(comp, "ratio", h->compression_ratio > 0 ? json_real(h->compression_ratio) : json_null(),
        &ok);
    put(obj, "compression", comp, &ok);
    for (i = 0; ok && i < h->npolicies; i++) {
        json_t *p = tsp_ts_json_policy(&h->policies[i]);
        ok = p != NULL && json_array_append_new(policies, p) == 0;
    }
    put(obj, "policies", policies, &ok);
    if (detail) {
        put(obj, "dimensions", dimensions_json(h), &ok);
        put(obj, "compression_settings", settings_json(h), &ok);
        put(obj, "chunk_interval_advice", advice_json(&h->advice), &ok);
    }
    return finish(obj, ok);
}

json_t *tsp_ts_json_chunk(const struct tsp_ts_chunk *c)
{
    json_t *obj = json_object();
    bool ok = obj != NULL;

    if (!ok) {
        return NULL;
    }
    put(obj, "schema", text_or_null(c->schema), &ok);
    put(obj, "name", text_or_null(c->name), &ok);
    put(obj, "range_start", text_or_null(c->range_start), &ok);
    put(obj, "range_end", text_or_null(c->range_end), &ok);
    put(obj, "compressed", json_boolean(c->compressed), &ok);
    put(obj, "total_bytes", json_integer(c->total_bytes), &ok);
    put(obj, "before_compression_bytes",
        c->compressed ? json_integer(c->before_compression_bytes) : json_null(), &ok);
    put(obj, "after_compression_bytes",
        c->compressed ? json_integer(c->after_compression_bytes) : json_null(), &ok);
    return finish(obj, ok);
}

json_t *tsp_ts_json_aggregate(const struct tsp_ts_aggregate *a)
{
    json_t *obj = json_object();
    bool ok = obj != NULL;

    if (!ok) {
        return NULL;
    }
    put(obj, "schema", text_or_null(a->schema), &ok);
    put(obj, "name", text_or_null(a->name), &ok);
    put(obj, "hypertable_schema", text_or_null(a->hypertable_schema), &ok);
    put(obj, "hypertable", text_or_null(a->hypertable_name), &ok);
    put(obj, "bucket", text_or_null(a->bucket), &ok);
    put(obj, "materialized_only", json_boolean(a->materialized_only), &ok);
    put(obj, "refresh_policy", a->has_policy ? tsp_ts_json_policy(&a->policy) : json_null(), &ok);
    put(obj, "last_refresh", text_or_null(a->last_refresh), &ok);
    return finish(obj, ok);
}

json_t *tsp_ts_json_job(const struct tsp_ts_job *j)
{
    json_t *obj = json_object();
    json_t *stats = json_object();
    json_t *config = NULL;
    bool ok = obj != NULL && stats != NULL;

    if (!ok) {
        json_decref(obj);
        json_decref(stats);
        return NULL;
    }
    put(obj, "job_id", json_integer(j->job_id), &ok);
    put(obj, "application_name", text_or_null(j->application_name), &ok);
    put(obj, "proc_schema", text_or_null(j->proc_schema), &ok);
    put(obj, "proc_name", text_or_null(j->proc_name), &ok);
    put(obj, "schedule_interval", text_or_null(j->schedule_interval), &ok);
    put(obj, "scheduled", json_boolean(j->scheduled), &ok);
    /* the job's config is JSON already; a truncated one is shown as text */
    config = j->config[0] != '\0' ? json_loads(j->config, 0, NULL) : json_null();
    put(obj, "config", config != NULL ? config : text_or_null(j->config), &ok);
    put(obj, "hypertable_schema", text_or_null(j->hypertable_schema), &ok);
    put(obj, "hypertable", text_or_null(j->hypertable_name), &ok);
    put(stats, "last_run_status", text_or_null(j->last_run_status), &ok);
    put(stats, "last_run_started_at", text_or_null(j->last_run_started_at), &ok);
    put(stats, "last_successful_finish", text_or_null(j->last_successful_finish), &ok);
    put(stats, "next_start", text_or_null(j->next_start), &ok);
    put(stats, "total_runs", json_integer(j->total_runs), &ok);
    put(stats, "total_failures", json_integer(j->total_failures), &ok);
    put(obj, "job_stats", stats, &ok);
    return finish(obj, ok);
}

json_t *tsp_ts_json_change(const struct tsp_ts_change *c)
{
    json_t *obj = json_object();
    json_t *stmts = json_array();
    json_t *chunks = json_array();
    bool ok = obj != NULL && stmts != NULL && chunks != NULL;
    size_t i;

    if (!ok) {
        json_decref(obj);
        json_decref(stmts);
        json_decref(chunks);
        return NULL;
    }
    for (i = 0; ok && i < c->nstmts; i++) {
        json_t *s = json_object();
        json_t *params = json_array();
        ok = s != NULL && params != NULL;
        for (int p = 0; ok && p < c->stmts[i].nparams; p++) {
            const char *v = c->stmts[i].params[p];
            ok = json_array_append_new(params, v != NULL ? json_string(v) : json_null()) == 0;
        }
        if (!ok) {
            json_decref(s);
            json_decref(params);
            break;
        }
        put(s, "sql", json_string(c->stmts[i].sql), &ok);
        put(s, "params", params, &ok);
        ok = ok && json_array_append_new(stmts, s) == 0;
    }
    for (i = 0; ok && i < c->nchunks; i++) {
        json_t *ch = tsp_ts_json_chunk(&c->chunks[i].chunk);
        ok = ch != NULL;
        if (ok) {
            put(ch, "bytes_before", json_integer(c->chunks[i].bytes_before), &ok);
            put(ch, "bytes_after", json_integer(c->chunks[i].bytes_after), &ok);
            ok = ok && json_array_append_new(chunks, ch) == 0;
        }
    }
    put(obj, "dry_run", json_boolean(c->dry_run), &ok);
    put(obj, "atomic", json_boolean(c->atomic), &ok);
    put(obj, "statements", stmts, &ok);
    put(obj, "chunks", chunks, &ok);
    put(obj, "job_id", c->job_id > 0 ? json_integer(c->job_id) : json_null(), &ok);
    if (c->note != NULL) {
        put(obj, "note", json_string(c->note), &ok);
    }
    return finish(obj, ok);
}

/* ---- parsers ---- */

/* Reject members not in `allowed` (NULL-terminated): a misspelt field must not be ignored. */
static enum tsp_code only_keys(const json_t *body, const char *const *allowed,
                               struct tsp_error *err)
{
    const char *key = NULL;
    json_t *value = NULL;

    if (!json_is_object(body)) {
        return tsp_error_set(err, TSP_INVALID, NULL, "the request body must be a JSON object");
    }
    json_object_foreach((json_t *)(uintptr_t)body, key, value)
    {
        bool known = false;
        (void)value;
        for (size_t i = 0; allowed[i] != NULL; i++) {
            if (strcmp(key, allowed[i]) == 0) {
                known = true;
            }
        }
        if (!known) {
            return tsp_error_set(err, TSP_INVALID, key, "unknown field \"%s\"", key);
        }
    }
    return TSP_OK;
}

/* Optional string member: absent or null -> NULL. */
static enum tsp_code opt_string(const json_t *body, const char *key, const char **out,
                                struct tsp_error *err)
{
    const json_t *v = json_object_get(body, key);

    *out = NULL;
    if (v == NULL || json_is_null(v)) {
        return TSP_OK;
    }
    if (!json_is_string(v) || json_string_length(v) == 0) {
        return tsp_error_set(err, TSP_INVALID, key, "%s must be a non-empty string", key);
    }
    if (strlen(json_string_value(v)) != json_string_length(v)) {
        return tsp_error_set(err, TSP_INVALID, key, "%s must not contain NUL", key);
    }
    *out = json_string_value(v);
    return TSP_OK;
}

static enum tsp_code req_string(const json_t *body, const char *key, const char **out,
                                struct tsp_error *err)
{
    enum tsp_code rc = opt_string(body, key, out, err);

    if (rc == TSP_OK && *out == NULL) {
        return tsp_error_set(err, TSP_INVALID, key, "%s is required", key);
    }
    return rc;
}

/* An optional array of 0..TSP_TS_MAX_COLUMNS non-empty strings. */
static enum tsp_code string_list(const json_t *body, const char *key, const char **items,
                                 size_t *count, struct tsp_error *err)
{
    const json_t *arr = json_object_get(body, key);
    size_t i;

    *count = 0;
    if (arr == NULL || json_is_null(arr)) {
        return TSP_OK;
    }
    if (!json_is_array(arr) || json_array_size(arr) > TSP_TS_MAX_COLUMNS) {
        return tsp_error_set(err, TSP_INVALID, key, "%s must be an array of at most %d strings",
                             key, TSP_TS_MAX_COLUMNS);
    }
    for (i = 0; i < json_array_size(arr); i++) {
        const json_t *v = json_array_get(arr, i);
        if (!json_is_string(v) || json_string_length(v) == 0 ||
            strlen(json_string_value(v)) != json_string_length(v)) {
            return tsp_error_set(err, TSP_INVALID, key, "%s[%zu] must be a non-empty string", key,
                                 i);
        }
        items[i] = json_string_value(v);
    }
    *count = i;
    return TSP_OK;
}

enum tsp_code tsp_ts_json_compression_spec(const json_t *body, struct tsp_ts_compression_spec *out,
                                           struct tsp_error *err)
{
    static const char *const keys[] = {"segment_by", "order_by", NULL};
    struct tsp_ts_compression_spec spec;
    enum tsp_code rc;

    memset(&spec, 0, sizeof(spec));
    rc = only_keys(body, keys, err);
    if (rc == TSP_OK) {
        rc = string_list(body, "segment_by", spec.segment_by, &spec.nsegment_by, err);
    }
    if (rc == TSP_OK) {
        rc = string_list(body, "order_by", spec.order_by, &spec.norder_by, err);
    }
    if (rc == TSP_OK) {
        *out = spec;
    }
    return rc;
}

enum tsp_code tsp_ts_json_chunk_selection(const json_t *body, bool require_older,
                                          struct tsp_ts_chunk_filter *out, struct tsp_error *err)
{
    static const char *const keys[] = {"older_than", "newer_than", NULL};
    struct tsp_ts_chunk_filter f = {NULL, NULL, -1};
    enum tsp_code rc;

    rc = only_keys(body, keys, err);
    if (rc == TSP_OK) {
        rc = opt_string(body, "older_than", &f.older_than, err);
    }
    if (rc == TSP_OK) {
        rc = opt_string(body, "newer_than", &f.newer_than, err);
    }
    if (rc == TSP_OK && require_older && f.older_than == NULL) {
        rc = tsp_error_set(err, TSP_INVALID, "older_than", "older_than is required");
    }
    if (rc == TSP_OK && f.older_than == NULL && f.newer_than == NULL) {
        rc = tsp_error_set(err, TSP_INVALID, "older_than",
                           "older_than or newer_than is required (an interval or a timestamp)");
    }
    if (rc == TSP_OK) {
        *out = f;
    }
    return rc;
}

enum tsp_code tsp_ts_json_policy_body(const json_t *body, const char *after_field,
                                      const char **after, const char **schedule_interval,
                                      struct tsp_error *err)
{
    const char *keys[] = {after_field, "schedule_interval", NULL};
    const char *a = NULL;
    const char *s = NULL;
    enum tsp_code rc;

    rc = only_keys(body, keys, err);
    if (rc == TSP_OK) {
        rc = req_string(body, after_field, &a, err);
    }
    if (rc == TSP_OK) {
        rc = opt_string(body, "schedule_interval", &s, err);
    }
    if (rc == TSP_OK) {
        *after = a;
        *schedule_interval = s;
    }
    return rc;
}

/* An interval member that may also be an integer (integer time columns); the integer is
 * printed into buf. Absent or null -> NULL. */
static enum tsp_code interval_value(const json_t *body, const char *key, char *buf, size_t size,
                                    const char **out, struct tsp_error *err)
{
    const json_t *v = json_object_get(body, key);

    if (v != NULL && json_is_integer(v)) {
        if (json_integer_value(v) <= 0) {
            return tsp_error_set(err, TSP_INVALID, key,
                                 "%s must be a positive integer or an "
                                 "interval",
                                 key);
        }
        snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        *out = buf;
        return TSP_OK;
    }
    if (v != NULL && !json_is_string(v) && !json_is_null(v)) {
        return tsp_error_set(err, TSP_INVALID, key,
                             "%s must be an interval (string) or an "
                             "integer",
                             key);
    }
    return opt_string(body, key, out, err);
}

static enum tsp_code opt_bool(const json_t *body, const char *key, bool *out, struct tsp_error *err)
{
    const json_t *v = json_object_get(body, key);

    if (v == NULL || json_is_null(v)) {
        return TSP_OK;
    }
    if (!json_is_boolean(v)) {
        return tsp_error_set(err, TSP_INVALID, key, "%s must be true or false", key);
    }
    *out = json_is_true(v);
    return TSP_OK;
}

enum tsp_code tsp_ts_json_hypertable_spec(const json_t *body, char *interval_buf,
                                          size_t interval_size, struct tsp_ts_hypertable_spec *out,
                                          struct tsp_error *err)
{
    static const char *const keys[] = {
        "name",       "time_column",   "chunk_interval", "partition_column",
        "partitions", "if_not_exists", "migrate_data",   NULL};
    struct tsp_ts_hypertable_spec spec;
    const json_t *parts = NULL;
    enum tsp_code rc;

    memset(&spec, 0, sizeof(spec));
    rc = only_keys(body, keys, err);
    if (rc == TSP_OK) {
        rc = req_string(body, "name", &spec.name, err);
    }
    if (rc == TSP_OK) {
        rc = req_string(body, "time_column", &spec.time_column, err);
    }
    if (rc == TSP_OK) {
        rc = interval_value(body, "chunk_interval", interval_buf, interval_size,
                            &spec.chunk_interval, err);
    }
    if (rc == TSP_OK) {
        rc = opt_string(body, "partition_column", &spec.partition_column, err);
    }
    parts = json_object_get(body, "partitions");
    if (rc == TSP_OK && parts != NULL && !json_is_null(parts)) {
        if (!json_is_integer(parts) || json_integer_value(parts) < 1 ||
            json_integer_value(parts) > 32767) {
            rc = tsp_error_set(err, TSP_INVALID, "partitions",
                               "partitions must be an integer from 1 to 32767");
        } else {
            spec.partitions = (long long)json_integer_value(parts);
        }
    }
    if (rc == TSP_OK) {
        rc = opt_bool(body, "if_not_exists", &spec.if_not_exists, err);
    }
    if (rc == TSP_OK) {
        rc = opt_bool(body, "migrate_data", &spec.migrate_data, err);
    }
    if (rc == TSP_OK && (spec.partition_column == NULL) != (spec.partitions == 0)) {
        rc = tsp_error_set(err, TSP_INVALID,
                           spec.partition_column == NULL ? "partition_column" : "partitions",
                           "partition_column and partitions go together");
    }
    if (rc == TSP_OK) {
        *out = spec;
    }
    return rc;
}

enum tsp_code tsp_ts_json_hypertable_patch(const json_t *body, char *interval_buf,
                                           size_t interval_size, const char **chunk_interval,
                                           struct tsp_error *err)
{
    static const char *const keys[] = {"chunk_interval", NULL};
    const char *value = NULL;
    enum tsp_code rc = only_keys(body, keys, err);

    if (rc == TSP_OK) {
        rc = interval_value(body, "chunk_interval", interval_buf, interval_size, &value, err);
    }
    if (rc == TSP_OK && value == NULL) {
        rc = tsp_error_set(err, TSP_INVALID, "chunk_interval", "chunk_interval is required");
    }
    if (rc == TSP_OK) {
        *chunk_interval = value;
    }
    return rc;
}

enum tsp_code tsp_ts_json_reorder_policy(const json_t *body, const char **index_name,
                                         struct tsp_error *err)
{
    static const char *const keys[] = {"index_name", NULL};
    const char *value = NULL;
    enum tsp_code rc = only_keys(body, keys, err);

    if (rc == TSP_OK) {
        rc = req_string(body, "index_name", &value, err);
    }
    if (rc == TSP_OK) {
        *index_name = value;
    }
    return rc;
}

enum tsp_code tsp_ts_json_aggregate_spec(const json_t *body, struct tsp_ts_aggregate_spec *out,
                                         struct tsp_error *err)
{
    static const char *const keys[] = {"name",     "hypertable", "time_column", "bucket",
                                       "group_by", "aggregates", "with_data",   NULL};
    static const char *const agg_keys[] = {"fn", "column", "as", NULL};
    struct tsp_ts_aggregate_spec spec;
    const json_t *aggs = NULL;
    const json_t *with_data = NULL;
    enum tsp_code rc;

    memset(&spec, 0, sizeof(spec));
    rc = only_keys(body, keys, err);
    if (rc == TSP_OK) {
        rc = req_string(body, "name", &spec.name, err);
    }
    if (rc == TSP_OK) {
        rc = req_string(body, "hypertable", &spec.hypertable, err);
    }
    if (rc == TSP_OK) {
        rc = req_string(body, "time_column", &spec.time_column, err);
    }
    if (rc == TSP_OK) {
        rc = req_string(body, "bucket", &spec.bucket, err);
    }
    if (rc == TSP_OK) {
        rc = string_list(body, "group_by", spec.group_by, &spec.ngroup_by, err);
    }
    if (rc != TSP_OK) {
        return rc;
    }
    aggs = json_object_get(body, "aggregates");
    if (!json_is_array(aggs) || json_array_size(aggs) == 0 ||
        json_array_size(aggs) > TSP_TS_MAX_COLUMNS) {
        return tsp_error_set(err, TSP_INVALID, "aggregates",
                             "aggregates must be an array of 1 to %d {fn, column, as} objects",
                             TSP_TS_MAX_COLUMNS);
    }
    for (size_t i = 0; i < json_array_size(aggs); i++) {
        const json_t *a = json_array_get(aggs, i);
        struct tsp_ts_agg_column *col = &spec.aggregates[i];
        struct tsp_error inner;
        tsp_error_init(&inner);
        rc = only_keys(a, agg_keys, &inner);
        if (rc == TSP_OK) {
            rc = req_string(a, "fn", &col->fn, &inner);
        }
        if (rc == TSP_OK) {
            rc = req_string(a, "column", &col->column, &inner);
        }
        if (rc == TSP_OK) {
            rc = req_string(a, "as", &col->as, &inner);
        }
        if (rc != TSP_OK) {
            return tsp_error_set(err, rc, "aggregates", "aggregates[%zu]: %s", i, inner.detail);
        }
    }
    spec.naggregates = json_array_size(aggs);
    with_data = json_object_get(body, "with_data");
    if (with_data != NULL && !json_is_null(with_data) && !json_is_boolean(with_data)) {
        return tsp_error_set(err, TSP_INVALID, "with_data", "with_data must be a boolean");
    }
    spec.with_data = json_is_true(with_data);
    *out = spec;
    return TSP_OK;
}

enum tsp_code tsp_ts_json_aggregate_policy(const json_t *body, const char **start_offset,
                                           const char **end_offset, const char **schedule_interval,
                                           struct tsp_error *err)
{
    static const char *const keys[] = {"start_offset", "end_offset", "schedule_interval", NULL};
    const char *so = NULL;
    const char *eo = NULL;
    const char *si = NULL;
    enum tsp_code rc;

    rc = only_keys(body, keys, err);
    if (rc == TSP_OK) {
        rc = opt_string(body, "start_offset", &so, err);
    }
    if (rc == TSP_OK) {
        rc = opt_string(body, "end_offset", &eo, err);
    }
    if (rc == TSP_OK) {
        rc = req_string(body, "schedule_interval", &si, err);
    }
    if (rc == TSP_OK) {
        *start_offset = so;
        *end_offset = eo;
        *schedule_interval = si;
    }
    return rc;
}

enum tsp_code tsp_ts_json_refresh_window(const json_t *body, const char **start, const char **end,
                                         struct tsp_error *err)
{
    static const char *const keys[] = {"start", "end", NULL};
    const char *s = NULL;
    const char *e = NULL;
    enum tsp_code rc;

    rc = only_keys(body, keys, err);
    if (rc == TSP_OK) {
        rc = opt_string(body, "start", &s, err);
    }
    if (rc == TSP_OK) {
        rc = opt_string(body, "end", &e, err);
    }
    if (rc == TSP_OK) {
        *start = s;
        *end = e;
    }
    return rc;
}

enum tsp_code tsp_ts_json_job_patch(const json_t *body, const char **schedule_interval,
                                    int *scheduled, struct tsp_error *err)
{
    static const char *const keys[] = {"schedule_interval", "scheduled", NULL};
    const json_t *flag = NULL;
    const char *si = NULL;
    int sched = -1;
    enum tsp_code rc;

    rc = only_keys(body, keys, err);
    if (rc == TSP_OK) {
        rc = opt_string(body, "schedule_interval", &si, err);
    }
    if (rc != TSP_OK) {
        return rc;
    }
    flag = json_object_get(body, "scheduled");
    if (flag != NULL && !json_is_null(flag)) {
        if (!json_is_boolean(flag)) {
            return tsp_error_set(err, TSP_INVALID, "scheduled", "scheduled must be a boolean");
        }
        sched = json_is_true(flag) ? 1 : 0;
    }
    if (si == NULL && sched < 0) {
        return tsp_error_set(err, TSP_INVALID, "schedule_interval",
                             "give schedule_interval and/or scheduled");
    }
    *schedule_interval = si;
    *scheduled = sched;
    return TSP_OK;
}

void tsp_ts_json_append(json_t **arr, json_t *item)
{
    if (*arr == NULL) {
        json_decref(item);
        return;
    }
    if (json_array_append_new(*arr, item) != 0) {
        json_decref(*arr);
        *arr = NULL;
    }
}

json_t *tsp_ts_json_list(const char *key, json_t *arr)
{
    return arr != NULL ? json_pack("{s:o}", key, arr) : NULL;
}

json_t *tsp_ts_json_caps_workers(const struct tsp_ts_caps *caps, const struct tsp_ts_workers *w)
{
    json_t *obj = tsp_ts_json_caps(caps);
    json_t *workers = NULL;
    json_t *warnings = json_array();
    bool ok = obj != NULL && warnings != NULL;
    char text[256];

    if (ok && w->known) {
        workers = json_object();
        ok = workers != NULL;
        put(workers, "max_background_workers", json_integer(w->max_background_workers), &ok);
        put(workers, "max_worker_processes", json_integer(w->max_worker_processes), &ok);
        put(workers, "jobs_scheduled", json_integer(w->jobs_scheduled), &ok);
    }
    if (ok && w->known && w->over_budget) {
        snprintf(text, sizeof(text),
                 "%lld jobs are scheduled but timescaledb.max_background_workers = %d leaves %d "
                 "workers for jobs (one runs the scheduler): jobs will wait for a worker and run "
                 "late; raise timescaledb.max_background_workers (and max_worker_processes)",
                 w->jobs_scheduled, w->max_background_workers,
                 w->max_background_workers > 0 ? w->max_background_workers - 1 : 0);
        ok = json_array_append_new(warnings, json_string(text)) == 0;
    }
    put(obj, "background_workers", workers != NULL ? workers : json_null(), &ok);
    put(obj, "warnings", warnings, &ok);
    return finish(obj, ok);
}

json_t *tsp_ts_json_job_run(const struct tsp_ts_job_run *r)
{
    json_t *obj = json_object();
    bool ok = obj != NULL;

    put(obj, "job_id", json_integer(r->job_id), &ok);
    put(obj, "source", json_string(r->source), &ok);
    put(obj, "proc_name", text_or_null(r->proc_name), &ok);
    put(obj, "started_at", text_or_null(r->started_at), &ok);
    put(obj, "finished_at", text_or_null(r->finished_at), &ok);
    put(obj, "outcome", json_string(r->succeeded ? "success" : "failure"), &ok);
    put(obj, "sqlstate", text_or_null(r->sqlstate), &ok);
    put(obj, "error", text_or_null(r->error), &ok);
    put(obj, "pid", r->pid > 0 ? json_integer(r->pid) : json_null(), &ok);
    put(obj, "request_id", text_or_null(r->request_id), &ok);
    put(obj, "duration_ms", r->duration_ms >= 0 ? json_integer(r->duration_ms) : json_null(), &ok);
    return finish(obj, ok);
}
