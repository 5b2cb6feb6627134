/* timescale/timescale_int.h - shared by the files of service/timescale/ only: the service
 * struct, the capability probe used per lease, the pure SQL builders (text + parameters, no
 * connection) and the executor every operation runs through.
 * SPDX-License-Identifier: MIT
 */
#ifndef TSPOOL_TIMESCALE_INT_H
#define TSPOOL_TIMESCALE_INT_H

#include <pthread.h>
#include <stdint.h>

#include "tspool/strbuf.h"
#include "tspool/timescale.h"

#define TSP_TS_RUN_LOG 64 /* tspool's own run_job outcomes kept (all jobs together) */

struct tsp_ts {
    struct tsp_pool *pool;       /* borrowed */
    struct tsp_cluster *cluster; /* borrowed; NULL = reads on pool too */
    pthread_mutex_t lock;        /* guards the cache below */
    bool cached;                 /* caps holds a probe result */
    struct tsp_ts_caps caps;
    long long newest_conn_id; /* highest connection id the cache has seen: a newer one means
                                 the pool reconnected, maybe to another server */
    int64_t probed_at_ms;     /* monotonic */
    int api_override;         /* tests only: -1 detect, 0 classic names, 1 columnstore names */
    long lock_timeout_ms;     /* lock_timeout of every change; 0 = wait (set before serving) */

    /* watching (obs.c, snapshot.c): everything below is guarded by obs_lock */
    pthread_mutex_t obs_lock;
    long snapshot_interval_ms; /* 0 = off: /metrics shows no TimescaleDB families */
    long snapshot_deadline_ms; /* of one refresh, from the interval */
    char *snap_text;           /* pre-rendered families of the last good refresh (malloc'd) */
    size_t snap_len;
    bool snap_ok;                               /* the last refresh succeeded */
    bool snap_skipped;                          /* the last refresh was skipped: database down */
    int64_t snap_ok_real_ms;                    /* wall clock of the last good refresh, 0 = never */
    double snap_duration_s;                     /* of the last refresh */
    uint64_t snap_failures;                     /* refreshes that failed */
    char snap_error[TSP_ERROR_DETAIL_MAX];      /* why the last refresh failed */
    struct tsp_ts_job_run runs[TSP_TS_RUN_LOG]; /* tspool's run_job outcomes, a ring */
    size_t runs_next;                           /* where the next one goes */
    size_t nruns;                               /* kept, <= TSP_TS_RUN_LOG */
};

/* Record tspool's own run_job outcome (obs.c): rc and err of the run, started at wall clock
 * started_real_ms, lasting duration_ms. Thread-safe. */
void tsp_ts_runs_record(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx, long long job_id,
                        const char *proc_name, int64_t started_real_ms, long long duration_ms,
                        enum tsp_code rc, const struct tsp_error *err);

/* Pure builders of the watching queries (sql_obs.c). */
/* Worker budget: max_background_workers, max_worker_processes, jobs_scheduled. */
enum tsp_code tsp_ts_sql_workers(struct tsp_ts_stmt *out, struct tsp_error *err) TSP_MUSTCHECK;
/* Runs of job_id (< 0: failed runs of every job since `since`); history_view: 2.15+'s
 * timescaledb_information.job_history, else job_errors. since: timestamp or interval text
 * (NULL = 24 hours). */
enum tsp_code tsp_ts_sql_job_runs(long long job_id, const char *since, bool history_view,
                                  struct tsp_ts_stmt *out, struct tsp_error *err) TSP_MUSTCHECK;
/* SELECT the lower bound of ?since= as seconds since the epoch (since_s); the server checks
 * the value. */
enum tsp_code tsp_ts_sql_since(const char *since, struct tsp_ts_stmt *out,
                               struct tsp_error *err) TSP_MUSTCHECK;
/* The snapshot's catalog queries: per hypertable (chunks, compression bytes, chunk range
 * ends, uncompressed chunks past the compression policy), per job, per continuous aggregate
 * (watermark lag; functions_schema names the schema of cagg_watermark and to_timestamp). */
enum tsp_code tsp_ts_sql_snapshot_hypertables(struct tsp_ts_stmt *out,
                                              struct tsp_error *err) TSP_MUSTCHECK;
enum tsp_code tsp_ts_sql_snapshot_jobs(struct tsp_ts_stmt *out,
                                       struct tsp_error *err) TSP_MUSTCHECK;
enum tsp_code tsp_ts_sql_snapshot_aggregates(const char *functions_schema, struct tsp_ts_stmt *out,
                                             struct tsp_error *err) TSP_MUSTCHECK;

/* Tests only: use the classic (0) or the 2.18+ columnstore (1) names whatever the version
 * says, or detect again (-1). Thread-safe. */
void tsp_ts_caps_override_api(struct tsp_ts *ts, int columnstore);

/* Capabilities for the server behind `lease` (cached; probes through the lease when stale). */
enum tsp_code tsp_ts_caps_for_lease(struct tsp_ts *ts, struct tsp_lease *lease,
                                    struct tsp_ts_caps *out, struct tsp_error *err) TSP_MUSTCHECK;

/* TSP_OK when caps has the feature, else TSP_CONFLICT saying exactly what is missing. Pure. */
enum tsp_code tsp_ts_caps_require(const struct tsp_ts_caps *caps, enum tsp_ts_feature feature,
                                  struct tsp_error *err) TSP_MUSTCHECK;

/* Fill the derived members (version_num, columnstore_api, feature groups) of caps from
 * installed, version and license. Pure. */
void tsp_ts_caps_derive(struct tsp_ts_caps *caps);

/* Quotes one identifier (qualified = accept schema.name) after validating it; the executor
 * passes PQescapeIdentifier through db/query.c, unit tests a pure stand-in. On TSP_OK *out is
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
/* schema/name: catalog values (bound as text), both NULL = every hypertable.
 * compression_stats = false leaves out the compression functions (Apache-only build). */
enum tsp_code tsp_ts_sql_hypertables(const char *schema, const char *name, bool compression_stats,
                                     struct tsp_ts_stmt *out, struct tsp_error *err) TSP_MUSTCHECK;
enum tsp_code tsp_ts_sql_policies(const char *schema, const char *name, struct tsp_ts_stmt *out,
                                  struct tsp_error *err) TSP_MUSTCHECK;
enum tsp_code tsp_ts_sql_dimensions(const char *schema, const char *name, struct tsp_ts_stmt *out,
                                    struct tsp_error *err) TSP_MUSTCHECK;
enum tsp_code tsp_ts_sql_compression_settings(const char *schema, const char *name,
                                              struct tsp_ts_stmt *out,
                                              struct tsp_error *err) TSP_MUSTCHECK;
/* Where a page of chunks starts: after (key, name) of the previous page's last chunk, in the
 * listing's order (range start as microseconds since the epoch or the integer start, then the
 * chunk name); limit rows at most (the executor asks for one more to learn if a next page
 * exists). */
struct tsp_ts_keyset {
    bool after; /* false: from the first chunk */
    long long key;
    char name[TSP_TS_NAME_MAX];
    long limit;
};

/* Every selected chunk, oldest first. */
enum tsp_code tsp_ts_sql_chunks(const struct tsp_ts_quoter *q, const char *hypertable,
                                const struct tsp_ts_chunk_filter *filter, bool compression_stats,
                                struct tsp_ts_stmt *out, struct tsp_error *err) TSP_MUSTCHECK;
/* One page (keyset) of the chunks of hypertable schema.name (catalog names) in the listing's
 * order, with a sort_key column; the time bounds go through show_chunks(). */
enum tsp_code tsp_ts_sql_chunks_page(const struct tsp_ts_quoter *q, const char *schema,
                                     const char *name, const struct tsp_ts_chunk_filter *filter,
                                     bool compression_stats, const struct tsp_ts_keyset *keyset,
                                     struct tsp_ts_stmt *out, struct tsp_error *err) TSP_MUSTCHECK;
/* The opaque cursor of the chunk after (key, name): "c1" + hex. Pure. */
enum tsp_code tsp_ts_cursor_encode(long long key, const char *name, char *out, size_t size,
                                   struct tsp_error *err) TSP_MUSTCHECK;
/* Parse a cursor into keyset->after/key/name (limit untouched); anything else -> TSP_INVALID
 * (field "cursor"). Pure. */
enum tsp_code tsp_ts_cursor_decode(const char *cursor, struct tsp_ts_keyset *out,
                                   struct tsp_error *err) TSP_MUSTCHECK;
/* create_hypertable() on `table` (already resolved; spec->name is ignored). */
enum tsp_code tsp_ts_sql_hypertable_create(const struct tsp_ts_quoter *q,
                                           const struct tsp_ts_hypertable_spec *spec,
                                           const char *table, struct tsp_ts_stmt *out,
                                           struct tsp_error *err) TSP_MUSTCHECK;
enum tsp_code tsp_ts_sql_chunk_interval_set(const struct tsp_ts_quoter *q, const char *hypertable,
                                            const char *chunk_interval, struct tsp_ts_stmt *out,
                                            struct tsp_error *err) TSP_MUSTCHECK;
enum tsp_code tsp_ts_sql_reorder_add(const struct tsp_ts_quoter *q, const char *hypertable,
                                     const char *index_name, struct tsp_ts_stmt *out,
                                     struct tsp_error *err) TSP_MUSTCHECK;
enum tsp_code tsp_ts_sql_reorder_remove(const struct tsp_ts_quoter *q, const char *hypertable,
                                        bool if_exists, struct tsp_ts_stmt *out,
                                        struct tsp_error *err) TSP_MUSTCHECK;
/* shared_buffers in bytes and the average size of the newest (up to 3) chunks. */
enum tsp_code tsp_ts_sql_interval_advice(const char *schema, const char *name,
                                         struct tsp_ts_stmt *out,
                                         struct tsp_error *err) TSP_MUSTCHECK;
/* The chunk-interval advice from the measured sizes. Pure. */
void tsp_ts_advice_derive(long long shared_buffers, long long newest_bytes, int newest_chunks,
                          long long num_chunks, struct tsp_ts_interval_advice *out);
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
/* SELECT the policy's values with their casts: lets the server reject a bad value before a
 * change that cannot run in one transaction removes anything. */
enum tsp_code tsp_ts_sql_policy_check(enum tsp_ts_policy_kind kind, const char *after,
                                      const char *schedule_interval, struct tsp_ts_stmt *out,
                                      struct tsp_error *err) TSP_MUSTCHECK;
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

/* ---- builder helpers shared by sql.c and sql_agg.c ---- */

/* Append a parameter (copied; NULL = SQL NULL); returns its number ($n) or 0 on failure. */
int tsp_ts_stmt_param(struct tsp_ts_stmt *stmt, const char *value, const char *field);
/* Move sb's text into out->sql, or release everything when anything failed before. */
enum tsp_code tsp_ts_stmt_finish(struct tsp_strbuf *sb, bool params_ok, struct tsp_ts_stmt *out,
                                 struct tsp_error *err) TSP_MUSTCHECK;
/* A statement of fixed text with nparams parameters. */
enum tsp_code tsp_ts_stmt_simple(struct tsp_ts_stmt *out, const char *sql, int nparams,
                                 const char *const *values, const char *const *fields,
                                 struct tsp_error *err) TSP_MUSTCHECK;
/* "bigint" for an integer, else "timestamptz": a point in time, never an interval. */
const char *tsp_ts_point_cast(const char *value);
/* Zero out, quote `name` (schema.name allowed) and bind it as $1 (for $1::regclass). */
enum tsp_code tsp_ts_bind_relation(const struct tsp_ts_quoter *q, const char *name,
                                   const char *field, struct tsp_ts_stmt *out,
                                   struct tsp_error *err) TSP_MUSTCHECK;
/* A fixed statement filtered by $1 schema and $2 name (text, NULL = any). */
enum tsp_code tsp_ts_by_schema_name(struct tsp_ts_stmt *out, const char *sql, const char *schema,
                                    const char *name, struct tsp_error *err) TSP_MUSTCHECK;
/* Quote n column names into sb separated by ", ". */
enum tsp_code tsp_ts_column_list(const struct tsp_ts_quoter *q, struct tsp_strbuf *sb,
                                 const char *const *cols, size_t n, const char *field,
                                 struct tsp_error *err) TSP_MUSTCHECK;

/* ---- executor helpers shared by exec.c, read.c, change.c and agg.c ---- */

struct tsp_db_result;

/* One operation in progress: the lease it holds and what the server offers. */
struct tsp_ts_op {
    struct tsp_ts *ts;
    const struct tsp_ts_ctx *ctx; /* never NULL (a zeroed default when the caller gave none) */
    const char *name;             /* "hypertables.list", also the audit operation */
    struct tsp_lease *lease;
    struct tsp_ts_caps caps;
    struct tsp_ts_quoter quoter; /* PQescapeIdentifier through db/query.c */
    int64_t started_ms;
    char lock_key[2 * TSP_TS_NAME_MAX + 2]; /* the object whose advisory lock this session
                                               holds ("schema.rel"), "" when none */
};

/* Take the session advisory lock of the object `key` ("schema.rel") on op's connection, without
 * waiting: taken -> TSP_OK (released by tsp_ts_op_end), held elsewhere -> TSP_CHANGE_IN_PROGRESS
 * naming the object. A dry run takes nothing. */
enum tsp_code tsp_ts_op_lock(struct tsp_ts_op *op, const char *key,
                             struct tsp_error *err) TSP_MUSTCHECK;

/* Borrow (label "ts.<name>"), probe capabilities and require `feature`. On failure nothing is
 * held. On TSP_OK end with tsp_ts_op_end(). */
enum tsp_code tsp_ts_op_begin(struct tsp_ts_op *op, struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                              const char *name, enum tsp_ts_feature feature,
                              struct tsp_error *err) TSP_MUSTCHECK;
/* Release the advisory lock (if held) and return the lease. Safe to call twice. */
void tsp_ts_op_end(struct tsp_ts_op *op);
/* Run one statement; a data error (SQLSTATE class 22) names the request field whose value the
 * server rejected. */
enum tsp_code tsp_ts_op_query(struct tsp_ts_op *op, const struct tsp_ts_stmt *stmt,
                              struct tsp_db_result **out, struct tsp_error *err) TSP_MUSTCHECK;
/* Resolve a user name to the catalog's schema and name of a hypertable (or aggregate);
 * unknown or not of that kind -> TSP_NOT_FOUND. */
enum tsp_code tsp_ts_op_resolve(struct tsp_ts_op *op, const char *name, bool aggregate,
                                const char *field, char *schema, char *rel,
                                struct tsp_error *err) TSP_MUSTCHECK;
/* Chunks of a hypertable selected by filter (see tsp_ts_sql_chunks). On TSP_OK *out is
 * malloc'd (NULL when count is 0) and *chunk_names (if not NULL) a malloc'd array of
 * malloc'd regclass texts; free with tsp_ts_names_free(). */
enum tsp_code tsp_ts_op_chunks(struct tsp_ts_op *op, const char *hypertable,
                               const struct tsp_ts_chunk_filter *filter, struct tsp_ts_chunk **out,
                               char ***chunk_names, size_t *count,
                               struct tsp_error *err) TSP_MUSTCHECK;
/* One page of chunks (keyset->limit at most); next_cursor ("" on the last page) as in
 * tsp_ts_chunks_page. */
enum tsp_code tsp_ts_op_chunks_page(struct tsp_ts_op *op, const char *schema, const char *name,
                                    const struct tsp_ts_chunk_filter *filter,
                                    const struct tsp_ts_keyset *keyset, struct tsp_ts_chunk **out,
                                    size_t *count, char *next_cursor,
                                    struct tsp_error *err) TSP_MUSTCHECK;
void tsp_ts_names_free(char **names, size_t count);
/* Fill h->advice (chunk-interval advice) for the resolved hypertable h. */
enum tsp_code tsp_ts_op_advice(struct tsp_ts_op *op, struct tsp_hypertable *h,
                               struct tsp_error *err) TSP_MUSTCHECK;
/* Policies of one hypertable (or every one when schema and name are NULL). */
enum tsp_code tsp_ts_op_policies(struct tsp_ts_op *op, struct tsp_hypertable *tables, size_t count,
                                 struct tsp_error *err) TSP_MUSTCHECK;

/* The relation a change is about, as the catalog names it. */
struct tsp_ts_target {
    char schema[TSP_TS_NAME_MAX];
    char rel[TSP_TS_NAME_MAX];
    char qualified[2 * TSP_TS_NAME_MAX]; /* "schema.rel", the audit target */
};

/* tsp_ts_op_begin, then resolve `name` as a hypertable (or, with aggregate, a continuous
 * aggregate; errors name the field "hypertable" or "name") into *target, then (not for a dry
 * run) take the object's advisory lock (tsp_ts_op_lock). Only changes use it. On failure
 * nothing is held; on TSP_OK end with tsp_ts_op_end(). */
enum tsp_code tsp_ts_op_begin_on(struct tsp_ts_op *op, struct tsp_ts *ts,
                                 const struct tsp_ts_ctx *ctx, const char *opname,
                                 enum tsp_ts_feature feature, const char *name, bool aggregate,
                                 struct tsp_ts_target *target, struct tsp_error *err) TSP_MUSTCHECK;

/* Finish an operation of one statement: when rc (what came before) is TSP_OK, run stmt as the
 * whole change and hand it to *out (with job_id, when not 0); then, on every path, release
 * stmt and the lease. Returns the outcome. */
enum tsp_code tsp_ts_op_finish_one(struct tsp_ts_op *op, enum tsp_code rc, const char *target,
                                   struct tsp_ts_stmt *stmt, long long job_id,
                                   struct tsp_ts_change *out, struct tsp_error *err) TSP_MUSTCHECK;

/* Run (or, for a dry run, only record) the statements of a change: in one transaction when no
 * statement needs autocommit, else one by one. Takes ownership of stmts[0..n) (moved into
 * out->stmts even on failure). results (n entries, may be NULL) receive each statement's
 * result. Writes the audit record. */
enum tsp_code tsp_ts_op_change(struct tsp_ts_op *op, const char *target, struct tsp_ts_stmt *stmts,
                               size_t n, struct tsp_db_result **results, struct tsp_ts_change *out,
                               struct tsp_error *err) TSP_MUSTCHECK;

#endif /* TSPOOL_TIMESCALE_INT_H */
