/* timescale_int.h - shared by timescale*.c only: the service struct, the capability probe
 * used per lease, and the pure SQL builders (text + parameters, no connection).
 * SPDX-License-Identifier: MIT
 */
#ifndef TSPOOL_TIMESCALE_INT_H
#define TSPOOL_TIMESCALE_INT_H

#include <pthread.h>
#include <stdint.h>

#include "tspool/timescale.h"

struct tsp_ts {
    struct tsp_pool *pool; /* borrowed */
    pthread_mutex_t lock;  /* guards the cache below */
    bool cached;           /* caps holds a probe result */
    struct tsp_ts_caps caps;
    long long newest_conn_id; /* highest connection id the cache has seen: a newer one means
                                 the pool reconnected, maybe to another server */
    int64_t probed_at_ms;     /* monotonic */
};

/* Capabilities for the server behind `lease` (cached; probes through the lease when stale). */
enum tsp_code tsp_ts_caps_for_lease(struct tsp_ts *ts, struct tsp_lease *lease,
                                    struct tsp_ts_caps *out, struct tsp_error *err) TSP_MUSTCHECK;

enum tsp_ts_feature {
    TSP_TS_FEATURE_EXTENSION = 0, /* only the extension itself */
    TSP_TS_FEATURE_COMPRESSION,
    TSP_TS_FEATURE_RETENTION,
    TSP_TS_FEATURE_AGGREGATES,
    TSP_TS_FEATURE_JOBS,
};

/* TSP_OK when caps has the feature, else TSP_CONFLICT saying exactly what is missing. Pure. */
enum tsp_code tsp_ts_caps_require(const struct tsp_ts_caps *caps, enum tsp_ts_feature feature,
                                  struct tsp_error *err) TSP_MUSTCHECK;

/* Fill the derived members (version_num, columnstore_api, feature groups) of caps from
 * installed, version and license. Pure. */
void tsp_ts_caps_derive(struct tsp_ts_caps *caps);

/* Quotes one identifier (qualified = accept schema.name) after validating it; the executor
 * passes PQescapeIdentifier through db.c, unit tests a pure stand-in. On TSP_OK *out is
 * malloc'd. */
struct tsp_ts_quoter {
    enum tsp_code (*quote)(void *ctx, const char *ident, bool qualified, const char *field,
                           char **out, struct tsp_error *err);
    void *ctx;
};

/* "bigint" for an integer, "timestamptz" for a value starting with a date (YYYY-MM-DD),
 * else "interval". Pure. */
const char *tsp_ts_time_cast(const char *value);

/* Builders: each fills *out (zeroed first; release with tsp_ts_stmt_fini) or returns an
 * error naming the request field. Identifiers in the text are quoted through q; a relation
 * bound as $n::regclass is bound in its quoted form. */
enum tsp_code tsp_ts_sql_caps(struct tsp_ts_stmt *out, struct tsp_error *err) TSP_MUSTCHECK;
/* Resolve a user name to (schema, name, is_kind) of a hypertable or (aggregate) a view. */
enum tsp_code tsp_ts_sql_resolve(const struct tsp_ts_quoter *q, const char *name, bool aggregate,
                                 const char *field, struct tsp_ts_stmt *out,
                                 struct tsp_error *err) TSP_MUSTCHECK;
/* schema/name: catalog values (bound as text), both NULL = every hypertable. */
enum tsp_code tsp_ts_sql_hypertables(const char *schema, const char *name, struct tsp_ts_stmt *out,
                                     struct tsp_error *err) TSP_MUSTCHECK;
enum tsp_code tsp_ts_sql_policies(const char *schema, const char *name, struct tsp_ts_stmt *out,
                                  struct tsp_error *err) TSP_MUSTCHECK;
enum tsp_code tsp_ts_sql_dimensions(const char *schema, const char *name, struct tsp_ts_stmt *out,
                                    struct tsp_error *err) TSP_MUSTCHECK;
enum tsp_code tsp_ts_sql_compression_settings(const char *schema, const char *name,
                                              struct tsp_ts_stmt *out,
                                              struct tsp_error *err) TSP_MUSTCHECK;
enum tsp_code tsp_ts_sql_chunks(const struct tsp_ts_quoter *q, const char *hypertable,
                                const struct tsp_ts_chunk_filter *filter, struct tsp_ts_stmt *out,
                                struct tsp_error *err) TSP_MUSTCHECK;
enum tsp_code tsp_ts_sql_compression_set(const struct tsp_ts_quoter *q, const char *hypertable,
                                         const struct tsp_ts_compression_spec *spec,
                                         bool columnstore, struct tsp_ts_stmt *out,
                                         struct tsp_error *err) TSP_MUSTCHECK;
/* chunk: a regclass text as show_chunks() printed it. */
enum tsp_code tsp_ts_sql_chunk_compress(const char *chunk, bool compress, bool columnstore,
                                        struct tsp_ts_stmt *out,
                                        struct tsp_error *err) TSP_MUSTCHECK;
enum tsp_code tsp_ts_sql_drop_chunks(const struct tsp_ts_quoter *q, const char *hypertable,
                                     const struct tsp_ts_chunk_filter *filter,
                                     struct tsp_ts_stmt *out, struct tsp_error *err) TSP_MUSTCHECK;
enum tsp_code tsp_ts_sql_policy_add(const struct tsp_ts_quoter *q, const char *hypertable,
                                    enum tsp_ts_policy_kind kind, const char *after,
                                    const char *schedule_interval, bool columnstore,
                                    struct tsp_ts_stmt *out, struct tsp_error *err) TSP_MUSTCHECK;
enum tsp_code tsp_ts_sql_policy_remove(const struct tsp_ts_quoter *q, const char *hypertable,
                                       enum tsp_ts_policy_kind kind, bool if_exists,
                                       bool columnstore, struct tsp_ts_stmt *out,
                                       struct tsp_error *err) TSP_MUSTCHECK;
enum tsp_code tsp_ts_sql_aggregates(const char *schema, const char *name, struct tsp_ts_stmt *out,
                                    struct tsp_error *err) TSP_MUSTCHECK;
/* SELECT $1::interval::text: the server checks and normalises a value before it is written
 * into DDL text. */
enum tsp_code tsp_ts_sql_interval_check(const char *value, const char *field,
                                        struct tsp_ts_stmt *out,
                                        struct tsp_error *err) TSP_MUSTCHECK;
/* bucket: the server-normalised interval text (digits, letters, blanks, ':', '.', '+', '-'). */
enum tsp_code tsp_ts_sql_aggregate_create(const struct tsp_ts_quoter *q,
                                          const struct tsp_ts_aggregate_spec *spec,
                                          const char *bucket, bool if_not_exists,
                                          struct tsp_ts_stmt *out,
                                          struct tsp_error *err) TSP_MUSTCHECK;
enum tsp_code tsp_ts_sql_aggregate_drop(const struct tsp_ts_quoter *q, const char *name,
                                        struct tsp_ts_stmt *out,
                                        struct tsp_error *err) TSP_MUSTCHECK;
enum tsp_code tsp_ts_sql_aggregate_policy_add(const struct tsp_ts_quoter *q, const char *name,
                                              const char *start_offset, const char *end_offset,
                                              const char *schedule_interval,
                                              struct tsp_ts_stmt *out,
                                              struct tsp_error *err) TSP_MUSTCHECK;
enum tsp_code tsp_ts_sql_aggregate_policy_remove(const struct tsp_ts_quoter *q, const char *name,
                                                 bool if_exists, struct tsp_ts_stmt *out,
                                                 struct tsp_error *err) TSP_MUSTCHECK;
enum tsp_code tsp_ts_sql_aggregate_refresh(const struct tsp_ts_quoter *q, const char *name,
                                           const char *start, const char *end,
                                           struct tsp_ts_stmt *out,
                                           struct tsp_error *err) TSP_MUSTCHECK;
/* job_id < 0 = every job. */
enum tsp_code tsp_ts_sql_jobs(long long job_id, struct tsp_ts_stmt *out,
                              struct tsp_error *err) TSP_MUSTCHECK;
enum tsp_code tsp_ts_sql_job_run(long long job_id, struct tsp_ts_stmt *out,
                                 struct tsp_error *err) TSP_MUSTCHECK;
enum tsp_code tsp_ts_sql_job_alter(long long job_id, const char *schedule_interval, int scheduled,
                                   struct tsp_ts_stmt *out, struct tsp_error *err) TSP_MUSTCHECK;

#endif /* TSPOOL_TIMESCALE_INT_H */
