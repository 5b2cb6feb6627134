/* timescale.h - TimescaleDB management: capability detection, hypertables, chunks,
 * compression, retention, continuous aggregates and jobs, as validated and audited operations.
 * SPDX-License-Identifier: MIT
 *
 * Every operation borrows one connection from the pool (label "ts.<operation>"), validates and
 * quotes identifiers, binds every value as a parameter and returns it before returning.
 * Names accept `name` or `schema.name`. Errors: TSP_INVALID (field names the request field),
 * TSP_NOT_FOUND (unknown hypertable, aggregate, job or policy), TSP_CONFLICT (a capability is
 * missing, with a precise detail, or the object exists), pool and database errors as in db.h.
 * All functions are thread-safe; they block for the borrow and the round trips.
 *
 * Atomicity of changes: statements of one change run in one transaction (all or nothing)
 * except CALL statements (the 2.18+ columnstore procedures, refresh_continuous_aggregate,
 * run_job) and CREATE MATERIALIZED VIEW, which TimescaleDB wants outside a transaction block:
 * those run one by one in autocommit, and a failure leaves the earlier ones done.
 * tsp_ts_change.atomic says which way a change ran.
 */
#ifndef TSPOOL_TIMESCALE_H
#define TSPOOL_TIMESCALE_H

#include <stdbool.h>
#include <stddef.h>

#include "tspool/error.h"
#include "tspool/pool.h"
#include "tspool/strbuf.h"

#define TSP_TS_NAME_MAX       64 /* identifier (63 bytes) + NUL */
#define TSP_TS_TEXT_MAX       80 /* interval, timestamp or short text as PostgreSQL prints it */
#define TSP_TS_MAX_PARAMS     8  /* parameters of one statement */
#define TSP_TS_MAX_COLUMNS    16 /* segment_by / order_by / group_by / aggregates entries */
#define TSP_TS_MAX_POLICIES   8
#define TSP_TS_MAX_DIMENSIONS 4
#define TSP_TS_CURSOR_MAX     256  /* an opaque chunk-listing cursor + NUL */
#define TSP_TS_PAGE_DEFAULT   100  /* chunks per page when no limit is given */
#define TSP_TS_PAGE_MAX       1000 /* the largest page */

struct tsp_ts; /* opaque: the pool and the cached capabilities */

/* Create the TimescaleDB service over a pool (borrowed; must outlive it). On TSP_OK *out is
 * released with tsp_ts_free(). Does not connect. */
enum tsp_code tsp_ts_new(struct tsp_pool *pool, struct tsp_ts **out,
                         struct tsp_error *err) TSP_MUSTCHECK;
/* NULL is a no-op. */
void tsp_ts_free(struct tsp_ts *ts);

/* lock_timeout (ms) under which every change runs (default 3000; 0 = wait for locks as long
 * as the server's own setting says). A change that runs out of it fails with
 * TSP_LOCK_NOT_AVAILABLE naming the blocking session (err->blocking_pid,
 * err->blocking_application) and err->retry_after_s. Call before serving (not thread-safe). */
void tsp_ts_set_lock_timeout(struct tsp_ts *ts, long lock_timeout_ms);

/* Who asks and how. Every member is optional (zeroed = defaults). */
struct tsp_ts_ctx {
    const char *request_id; /* for the audit record */
    const char *role;       /* token role, for the audit record ("admin") */
    bool dry_run;           /* changes: build and return the SQL, run nothing */
    bool if_not_exists;     /* creating an existing aggregate is not an error */
    long timeout_ms;        /* borrow timeout; 0 or negative = the pool's default */
    bool replica_ok;        /* a read that tolerates replica staleness: borrow from the read
                               pool (tsp_ts_set_cluster) rather than the primary */
    char *served_by;        /* when not NULL: receives "host:port" of the server that answered
                               (served_by_size bytes, NUL-terminated) */
    size_t served_by_size;
};

struct tsp_cluster;

/* Serve reads marked replica_ok from the cluster's read pool (borrowed; must outlive ts; NULL =
 * every operation on the primary pool). Call before the service is shared between threads. */
void tsp_ts_set_cluster(struct tsp_ts *ts, struct tsp_cluster *cluster);

/* ---- capabilities ---- */

struct tsp_ts_caps {
    bool installed;                 /* extension timescaledb is installed in the database */
    char database[TSP_TS_NAME_MAX]; /* current_database() */
    int server_version_num;         /* PostgreSQL, e.g. 170005 */
    char version[32];               /* extension version, "" when not installed */
    int version_num;                /* major * 10000 + minor * 100 + patch, 0 when unknown */
    char license[32];               /* timescaledb.license: "timescale", "apache", "" */
    bool columnstore_api;           /* 2.18+: convert_to_columnstore, add_columnstore_policy */
    /* feature groups */
    bool hypertables;           /* hypertables, chunks, drop_chunks (any license) */
    bool compression;           /* compression settings, compress/decompress, policies */
    bool retention_policies;    /* add/remove_retention_policy */
    bool continuous_aggregates; /* continuous aggregates and their refresh policies */
    bool jobs;                  /* run_job, alter_job */
};

/* What an operation needs from the server. */
enum tsp_ts_feature {
    TSP_TS_FEATURE_NONE = 0,    /* nothing: the capability report itself */
    TSP_TS_FEATURE_EXTENSION,   /* the extension (hypertables, chunks, drop_chunks, jobs list) */
    TSP_TS_FEATURE_COMPRESSION, /* compression settings, compress/decompress, its policy */
    TSP_TS_FEATURE_RETENTION,   /* retention policies */
    TSP_TS_FEATURE_AGGREGATES,  /* continuous aggregates and their policies */
    TSP_TS_FEATURE_JOBS,        /* run_job, alter_job */
};

/* TSP_OK when the pool's database offers `feature`, else TSP_CONFLICT saying exactly what is
 * missing ("extension timescaledb is not installed in database \"app\""); pool and database
 * errors as for every operation. Uses the cached capabilities (one borrow when stale). */
enum tsp_code tsp_ts_require(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                             enum tsp_ts_feature feature, struct tsp_error *err) TSP_MUSTCHECK;

/* Capabilities of the pool's database: probed on first use, again after the pool opened a new
 * connection (a reconnect may reach another server) and at most every 60 s. Never fails
 * because the extension is missing; fails on pool/database errors. */
enum tsp_code tsp_ts_caps_get(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                              struct tsp_ts_caps *out, struct tsp_error *err) TSP_MUSTCHECK;
/* Forget the cached capabilities (next use probes). Thread-safe. */
void tsp_ts_caps_invalidate(struct tsp_ts *ts);

/* ---- results ---- */

struct tsp_ts_policy {
    long long job_id;
    char kind[24]; /* "retention", "compression", "refresh" or proc */
    char schedule_interval[TSP_TS_TEXT_MAX];
    char after[TSP_TS_TEXT_MAX];        /* drop_after / compress_after, "" for refresh */
    char start_offset[TSP_TS_TEXT_MAX]; /* refresh policies, "" when unbounded */
    char end_offset[TSP_TS_TEXT_MAX];
    char index_name[TSP_TS_NAME_MAX]; /* reorder policies, "" otherwise */
    bool scheduled;
};

/* Chunk-interval advice (GET /hypertables/{name}): TimescaleDB's rule of thumb is that the
 * newest chunks of the active hypertables, indexes included, fit in about 25% of memory,
 * which shared_buffers usually is. Advice only: nothing is changed. */
struct tsp_ts_interval_advice {
    bool known;                     /* false: no chunk yet or shared_buffers unreadable */
    long long shared_buffers_bytes; /* the server's shared_buffers */
    long long newest_chunk_bytes;   /* average total size of the newest (up to 3) chunks */
    int newest_chunks;              /* how many chunks that average covers */
    char recommendation[16];        /* "keep", "decrease" or "increase" */
    char reason[192];               /* one line explaining the recommendation */
};

struct tsp_ts_dimension {
    char column[TSP_TS_NAME_MAX];
    char column_type[TSP_TS_NAME_MAX];
    char kind[16];                  /* "Time" or "Space" as TimescaleDB names them */
    char interval[TSP_TS_TEXT_MAX]; /* time or integer interval, "" for space dimensions */
    long long num_partitions;       /* space dimensions, else 0 */
};

struct tsp_ts_order_by {
    char column[TSP_TS_NAME_MAX];
    bool desc;
    bool nulls_first;
};

struct tsp_hypertable {
    char schema[TSP_TS_NAME_MAX];
    char name[TSP_TS_NAME_MAX];
    char time_column[TSP_TS_NAME_MAX];
    char chunk_interval[TSP_TS_TEXT_MAX];
    long long num_chunks;
    bool compression_enabled;
    long long total_bytes;
    long long compressed_chunks;
    long long before_compression_bytes; /* of the compressed chunks; 0 when none */
    long long after_compression_bytes;
    double compression_ratio; /* before / after, 0 when nothing is compressed */
    size_t npolicies;
    struct tsp_ts_policy policies[TSP_TS_MAX_POLICIES];
    /* filled by tsp_ts_hypertable_get() only */
    size_t ndimensions;
    struct tsp_ts_dimension dimensions[TSP_TS_MAX_DIMENSIONS];
    size_t nsegment_by;
    char segment_by[TSP_TS_MAX_COLUMNS][TSP_TS_NAME_MAX];
    size_t norder_by;
    struct tsp_ts_order_by order_by[TSP_TS_MAX_COLUMNS];
    struct tsp_ts_interval_advice advice;
};

struct tsp_ts_chunk {
    char schema[TSP_TS_NAME_MAX];
    char name[TSP_TS_NAME_MAX];
    char range_start[TSP_TS_TEXT_MAX];
    char range_end[TSP_TS_TEXT_MAX];
    bool compressed;
    long long total_bytes;              /* current size on disk */
    long long before_compression_bytes; /* 0 unless compressed */
    long long after_compression_bytes;
};

/* Chunk selection. older_than / newer_than: an interval ("7 days"), a timestamp
 * ("2026-01-01", "2026-01-01T00:00:00Z") or an integer (integer time columns); NULL = open. */
struct tsp_ts_chunk_filter {
    const char *older_than;
    const char *newer_than;
    int compressed; /* -1 any, 0 uncompressed only, 1 compressed only */
};

struct tsp_ts_aggregate {
    char schema[TSP_TS_NAME_MAX];
    char name[TSP_TS_NAME_MAX];
    char hypertable_schema[TSP_TS_NAME_MAX];
    char hypertable_name[TSP_TS_NAME_MAX];
    char bucket[TSP_TS_TEXT_MAX]; /* bucket width as PostgreSQL prints it, "" when unknown */
    bool materialized_only;
    bool has_policy;
    struct tsp_ts_policy policy;
    char last_refresh[TSP_TS_TEXT_MAX]; /* last successful policy run, "" when never */
};

struct tsp_ts_job {
    long long job_id;
    char application_name[TSP_TS_TEXT_MAX];
    char proc_schema[TSP_TS_NAME_MAX];
    char proc_name[TSP_TS_NAME_MAX];
    char schedule_interval[TSP_TS_TEXT_MAX];
    bool scheduled;
    char config[256]; /* JSON text, "" when none */
    char hypertable_schema[TSP_TS_NAME_MAX];
    char hypertable_name[TSP_TS_NAME_MAX];
    char next_start[TSP_TS_TEXT_MAX];
    char last_run_status[24]; /* "Success", "Failed", "" when never run */
    char last_run_started_at[TSP_TS_TEXT_MAX];
    char last_successful_finish[TSP_TS_TEXT_MAX];
    long long total_runs;
    long long total_failures;
};

/* A chunk a change touched: its state afterwards (before, for a dry run) and its size on
 * disk before and after (0 after a drop). */
struct tsp_ts_chunk_change {
    struct tsp_ts_chunk chunk;
    long long bytes_before;
    long long bytes_after;
};

/* One statement of a change, as run or (dry run) as it would run. */
struct tsp_ts_stmt {
    char *sql;
    int nparams;
    char *params[TSP_TS_MAX_PARAMS];       /* NULL = SQL NULL */
    const char *fields[TSP_TS_MAX_PARAMS]; /* request field of each parameter (static) */
    bool autocommit;                       /* must run outside a transaction block */
};

/* What a change did (or would do). Caller-owned; release with tsp_ts_change_fini(). */
struct tsp_ts_change {
    bool dry_run;
    bool atomic; /* every statement ran in one transaction */
    size_t nstmts;
    struct tsp_ts_stmt *stmts;
    size_t nchunks; /* chunks touched, dropped, or that would be */
    struct tsp_ts_chunk_change *chunks;
    long long job_id; /* policy job created, 0 otherwise */
    const char *note; /* static remark for the caller (a job run: where its outcome is kept) */
};

void tsp_ts_change_fini(struct tsp_ts_change *change);
/* Free one statement's strings (used by the builders and tsp_ts_change_fini). */
void tsp_ts_stmt_fini(struct tsp_ts_stmt *stmt);

/* ---- hypertables and chunks (need caps.hypertables) ---- */

/* On TSP_OK *out is a malloc'd array of *count entries (free() it; NULL when 0). */
enum tsp_code tsp_ts_hypertables_list(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                      struct tsp_hypertable **out, size_t *count,
                                      struct tsp_error *err) TSP_MUSTCHECK;
/* One hypertable with dimensions and compression settings. Unknown -> TSP_NOT_FOUND. */
enum tsp_code tsp_ts_hypertable_get(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                    const char *name, struct tsp_hypertable *out,
                                    struct tsp_error *err) TSP_MUSTCHECK;
/* Chunks selected with show_chunks(older_than, newer_than), oldest first. *out as above. */
enum tsp_code tsp_ts_chunks_list(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                 const char *hypertable, const struct tsp_ts_chunk_filter *filter,
                                 struct tsp_ts_chunk **out, size_t *count,
                                 struct tsp_error *err) TSP_MUSTCHECK;

/* One page of chunks in a stable order (oldest range first, then name), by keyset: the
 * server reads from the cursor on, so the memory held is one page whatever the count.
 * limit 1..TSP_TS_PAGE_MAX; cursor NULL = the first page, else a next_cursor from before (a
 * malformed one -> TSP_INVALID, field "cursor"). On TSP_OK *out as above and next_cursor
 * (TSP_TS_CURSOR_MAX bytes) holds the cursor of the next page, "" on the last page. */
enum tsp_code tsp_ts_chunks_page(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                 const char *hypertable, const struct tsp_ts_chunk_filter *filter,
                                 long limit, const char *cursor, struct tsp_ts_chunk **out,
                                 size_t *count, char *next_cursor,
                                 struct tsp_error *err) TSP_MUSTCHECK;

/* ---- changes: *out is filled on TSP_OK (dry run: statements only) ----
 *
 * Every change to one hypertable or continuous aggregate (not a dry run) holds a PostgreSQL
 * session advisory lock keyed on the object's catalog name for its duration, so changes to
 * one object are serialised across every tspool connected to the same database. A change
 * that finds the lock taken fails at once with TSP_CHANGE_IN_PROGRESS (never waits). */

struct tsp_ts_hypertable_spec {
    const char *name;           /* an existing table: name or schema.name */
    const char *time_column;    /* required */
    const char *chunk_interval; /* interval text, or an integer for integer time; NULL = default */
    const char *partition_column; /* optional space partitioning column */
    long long partitions;         /* number of space partitions (with partition_column), else 0 */
    bool if_not_exists;           /* an existing hypertable is not an error */
    bool migrate_data;            /* move existing rows into chunks */
};

/* create_hypertable(): turn an existing table into a hypertable. An existing hypertable ->
 * TSP_CONFLICT unless if_not_exists; an unknown table -> TSP_NOT_FOUND. */
enum tsp_code tsp_ts_hypertable_create(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                       const struct tsp_ts_hypertable_spec *spec,
                                       struct tsp_ts_change *out,
                                       struct tsp_error *err) TSP_MUSTCHECK;
/* set_chunk_time_interval(): an interval, or an integer for an integer time column. Applies to
 * chunks created from now on. */
enum tsp_code tsp_ts_chunk_interval_set(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                        const char *hypertable, const char *chunk_interval,
                                        struct tsp_ts_change *out,
                                        struct tsp_error *err) TSP_MUSTCHECK;

struct tsp_ts_compression_spec {
    size_t nsegment_by;
    const char *segment_by[TSP_TS_MAX_COLUMNS]; /* column names */
    size_t norder_by;
    const char *order_by[TSP_TS_MAX_COLUMNS]; /* "column [ASC|DESC] [NULLS FIRST|LAST]" */
};

/* Enable compression / the columnstore, or change segment_by / order_by. */
enum tsp_code tsp_ts_compression_set(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                     const char *hypertable,
                                     const struct tsp_ts_compression_spec *spec,
                                     struct tsp_ts_change *out,
                                     struct tsp_error *err) TSP_MUSTCHECK;
/* Compress (compress = true) or decompress the chunks selected by filter (older_than and/or
 * newer_than required; filter->compressed is ignored). Reports bytes before/after. */
enum tsp_code tsp_ts_chunks_compress(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                     const char *hypertable, bool compress,
                                     const struct tsp_ts_chunk_filter *filter,
                                     struct tsp_ts_change *out,
                                     struct tsp_error *err) TSP_MUSTCHECK;
/* drop_chunks(older_than => required, newer_than => optional). A dry run lists the chunks. */
enum tsp_code tsp_ts_chunks_drop(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                 const char *hypertable, const struct tsp_ts_chunk_filter *filter,
                                 struct tsp_ts_change *out, struct tsp_error *err) TSP_MUSTCHECK;

enum tsp_ts_policy_kind {
    TSP_TS_POLICY_COMPRESSION = 0,
    TSP_TS_POLICY_RETENTION = 1,
    TSP_TS_POLICY_REORDER = 2, /* add_reorder_policy: `after` is the index name */
};

/* The hypertable's compression or retention policy. No policy -> TSP_NOT_FOUND. */
enum tsp_code tsp_ts_policy_get(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                const char *hypertable, enum tsp_ts_policy_kind kind,
                                struct tsp_ts_policy *out, struct tsp_error *err) TSP_MUSTCHECK;
/* Add or replace (PUT) the policy: after = compress_after / drop_after / (reorder) the index
 * name (required), schedule_interval optional (NULL = TimescaleDB's default; reorder
 * policies take none). */
enum tsp_code tsp_ts_policy_put(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                const char *hypertable, enum tsp_ts_policy_kind kind,
                                const char *after, const char *schedule_interval,
                                struct tsp_ts_change *out, struct tsp_error *err) TSP_MUSTCHECK;
/* Remove the policy; none -> TSP_NOT_FOUND. */
enum tsp_code tsp_ts_policy_delete(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                   const char *hypertable, enum tsp_ts_policy_kind kind,
                                   struct tsp_ts_change *out, struct tsp_error *err) TSP_MUSTCHECK;

/* ---- continuous aggregates (need caps.continuous_aggregates) ---- */

enum tsp_code tsp_ts_aggregates_list(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                     struct tsp_ts_aggregate **out, size_t *count,
                                     struct tsp_error *err) TSP_MUSTCHECK;
enum tsp_code tsp_ts_aggregate_get(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                   const char *name, struct tsp_ts_aggregate *out,
                                   struct tsp_error *err) TSP_MUSTCHECK;

/* One aggregate column: fn(column) AS as. */
struct tsp_ts_agg_column {
    const char *fn; /* avg|min|max|sum|count|first|last */
    const char *column;
    const char *as;
};

struct tsp_ts_aggregate_spec {
    const char *name;       /* the view: name or schema.name */
    const char *hypertable; /* source hypertable */
    const char *time_column;
    const char *bucket; /* interval text, e.g. "1 hour" */
    size_t ngroup_by;
    const char *group_by[TSP_TS_MAX_COLUMNS];
    size_t naggregates;
    struct tsp_ts_agg_column aggregates[TSP_TS_MAX_COLUMNS];
    bool with_data;
};

/* CREATE MATERIALIZED VIEW ... WITH (timescaledb.continuous): the bucket is checked by the
 * server (bound as $1::interval) before it is written into the view's text. An existing view
 * -> TSP_CONFLICT unless ctx->if_not_exists. */
enum tsp_code tsp_ts_aggregate_create(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                      const struct tsp_ts_aggregate_spec *spec,
                                      struct tsp_ts_change *out,
                                      struct tsp_error *err) TSP_MUSTCHECK;
enum tsp_code tsp_ts_aggregate_drop(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                    const char *name, struct tsp_ts_change *out,
                                    struct tsp_error *err) TSP_MUSTCHECK;
/* Add or replace the refresh policy. start_offset / end_offset NULL = unbounded. */
enum tsp_code tsp_ts_aggregate_policy_put(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                          const char *name, const char *start_offset,
                                          const char *end_offset, const char *schedule_interval,
                                          struct tsp_ts_change *out,
                                          struct tsp_error *err) TSP_MUSTCHECK;
enum tsp_code tsp_ts_aggregate_policy_delete(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                             const char *name, struct tsp_ts_change *out,
                                             struct tsp_error *err) TSP_MUSTCHECK;
/* refresh_continuous_aggregate over [start, end); NULL = open. */
enum tsp_code tsp_ts_aggregate_refresh(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                                       const char *name, const char *start, const char *end,
                                       struct tsp_ts_change *out,
                                       struct tsp_error *err) TSP_MUSTCHECK;

/* ---- jobs (listing needs the extension; run/alter need caps.jobs) ---- */

enum tsp_code tsp_ts_jobs_list(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                               struct tsp_ts_job **out, size_t *count,
                               struct tsp_error *err) TSP_MUSTCHECK;
enum tsp_code tsp_ts_job_get(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx, long long job_id,
                             struct tsp_ts_job *out, struct tsp_error *err) TSP_MUSTCHECK;
/* CALL run_job(id) in the foreground (the only way to run a job on a server without the
 * background scheduler). */
enum tsp_code tsp_ts_job_run(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx, long long job_id,
                             struct tsp_ts_change *out, struct tsp_error *err) TSP_MUSTCHECK;
/* alter_job: schedule_interval NULL = keep; scheduled -1 keep, 0 pause, 1 resume. */
enum tsp_code tsp_ts_job_alter(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx, long long job_id,
                               const char *schedule_interval, int scheduled,
                               struct tsp_ts_change *out, struct tsp_error *err) TSP_MUSTCHECK;

/* ---- watching: background workers, job history, the metrics snapshot ---- */

/* The background-worker budget: TimescaleDB runs each scheduled job on a worker of
 * timescaledb.max_background_workers, one of which is this database's scheduler. */
struct tsp_ts_workers {
    bool known;                 /* the extension is installed and the settings were read */
    int max_background_workers; /* timescaledb.max_background_workers */
    int max_worker_processes;   /* PostgreSQL's max_worker_processes (the hard ceiling) */
    long long jobs_scheduled;   /* jobs with scheduled = true */
    bool over_budget;           /* jobs_scheduled > max_background_workers - 1 */
};

/* Capabilities (as tsp_ts_caps_get) and, when the extension is installed, the worker budget
 * (one more round trip; workers->known false otherwise). For GET /timescaledb. */
enum tsp_code tsp_ts_overview(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx,
                              struct tsp_ts_caps *caps, struct tsp_ts_workers *workers,
                              struct tsp_error *err) TSP_MUSTCHECK;

/* One run of a job: from the server's history (the scheduler's runs; failures always, successes
 * when timescaledb.enable_job_execution_logging is on) or recorded by tspool (POST
 * /jobs/{id}/run: CALL run_job runs on tspool's own connection and the server keeps no record). */
struct tsp_ts_job_run {
    long long job_id;
    char source[8]; /* "server" or "tspool" */
    char proc_name[TSP_TS_NAME_MAX];
    char started_at[TSP_TS_TEXT_MAX];  /* as PostgreSQL prints timestamptz, UTC for tspool runs */
    char finished_at[TSP_TS_TEXT_MAX]; /* "" when unknown (a crash) */
    double started_s;                  /* started_at as seconds since the epoch (ordering) */
    bool succeeded;
    char sqlstate[6];                 /* "" on success */
    char error[TSP_ERROR_DETAIL_MAX]; /* the server's message, "" on success */
    int pid;                          /* backend pid (server), 0 when unknown */
    char request_id[65];              /* tspool runs: the request that ran it */
    long long duration_ms;            /* -1 when unknown */
};

#define TSP_TS_HISTORY_MAX 200 /* runs returned at most, newest first */

/* Runs of one job, newest first, at most TSP_TS_HISTORY_MAX: the server's history
 * (timescaledb_information.job_history on 2.15+, else job_errors) merged with tspool's own
 * run_job outcomes. Unknown job -> TSP_NOT_FOUND. On TSP_OK *out is malloc'd (free(); NULL
 * when *count is 0). */
enum tsp_code tsp_ts_job_history(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx, long long job_id,
                                 struct tsp_ts_job_run **out, size_t *count,
                                 struct tsp_error *err) TSP_MUSTCHECK;
/* Failed runs of every job since `since` (a timestamp, or an interval meaning that long ago;
 * NULL = the last 24 hours), newest first, at most TSP_TS_HISTORY_MAX, tspool's failed run_job
 * calls included. A bad value -> TSP_INVALID naming "since". *out as above. */
enum tsp_code tsp_ts_job_errors(struct tsp_ts *ts, const struct tsp_ts_ctx *ctx, const char *since,
                                struct tsp_ts_job_run **out, size_t *count,
                                struct tsp_error *err) TSP_MUSTCHECK;

/* Deadline of one snapshot refresh (its catalog queries share it, enforced server-side with
 * statement_timeout): half the refresh period, at least TSP_TS_SNAPSHOT_DEADLINE_MS and at most
 * TSP_TS_SNAPSHOT_DEADLINE_MAX_MS; and the borrow wait it accepts. The maintenance thread never
 * waits longer than about their sum (liveness allows more than a minute). */
#define TSP_TS_SNAPSHOT_DEADLINE_MS     5000
#define TSP_TS_SNAPSHOT_DEADLINE_MAX_MS 30000
#define TSP_TS_SNAPSHOT_BORROW_MS       1000

/* Start refreshing the TimescaleDB snapshot every interval_ms on the pool's maintenance thread
 * (0 = off; a later call replaces the period). Each refresh borrows one connection (label
 * "ts.snapshot"), runs a few catalog queries in one read-only transaction bounded by the
 * deadline above, and pre-renders the tspool_timescaledb_* families; it is
 * skipped while the pool's health check says the database is down, and a failed refresh keeps
 * the previous series (tspool_timescaledb_snapshot_success says so). Thread-safe. */
void tsp_ts_snapshot_start(struct tsp_ts *ts, long interval_ms);

/* Refresh the snapshot now on the calling thread (what the maintenance thread runs; tests and
 * the benchmark). Blocks up to about the deadline plus the borrow wait. Thread-safe. */
enum tsp_code tsp_ts_snapshot_refresh(struct tsp_ts *ts, struct tsp_error *err) TSP_MUSTCHECK;

/* Append the pre-rendered tspool_timescaledb_* exposition (Prometheus text 0.0.4, HELP and TYPE
 * before each family) to sb: a copy of the last snapshot's text, so its cost does not depend on
 * the database. Appends nothing when the snapshot is off. Thread-safe; never blocks on I/O. */
void tsp_ts_snapshot_metrics(struct tsp_ts *ts, struct tsp_strbuf *sb);

#endif /* TSPOOL_TIMESCALE_H */
