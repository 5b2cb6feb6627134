/* config.h - the effective configuration: one table of variables drives loading
 * (defaults < .env < environment < *_FILE), validation, sources, redaction and help.
 * SPDX-License-Identifier: MIT
 */
#ifndef TSPOOL_CONFIG_H
#define TSPOOL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "tspool/error.h"

enum tsp_pool_mode {
    TSP_POOL_MODE_POOLED = 0, /* keep connections (QueuePool) */
    TSP_POOL_MODE_DIRECT = 1, /* connect per borrow, close on return */
};

enum tsp_config_source {
    TSP_CONFIG_SRC_DEFAULT = 0, /* built-in default */
    TSP_CONFIG_SRC_DOTENV,      /* .env file; where = "path:line" */
    TSP_CONFIG_SRC_ENV,         /* process environment */
    TSP_CONFIG_SRC_FILE,        /* *_FILE variant; where = the file path */
    TSP_CONFIG_SRC_PROFILE,     /* derived: development profile or CELERY_WORKER_RUNNING */
};

#define TSP_CONFIG_WHERE_MAX 256

/* Where one variable's value came from. */
struct tsp_config_origin {
    enum tsp_config_source source;
    char where[TSP_CONFIG_WHERE_MAX]; /* .env: "path:line"; file: the file path; profile: what
                                         chose the value; default / environment: "" */
};

/* Every configuration value, after validation. Strings are owned by the struct and freed by
 * tsp_config_fini(); optional strings are NULL when unset. Durations carry their unit in
 * the field name. Read-only after tsp_config_load() returns. */
struct tsp_config {
    /* connection target */
    char *db_host; /* may list several hosts separated by commas (libpq multi-host) */
    char *db_port; /* one port, or one per host, comma separated */
    char *db_name;
    char *db_user;
    char *db_pass; /* secret; NULL when unset */
    int db_connect_timeout_s;
    int db_statement_timeout_ms;  /* -1 = unset: the server's setting is left alone */
    int db_statement_deadline_ms; /* client-side deadline of every statement */
    char *db_sslmode;
    char
        *db_sslrootcert; /* libpq sslrootcert (CA file for verify-ca/verify-full); NULL = default */
    char *db_application_name;
    char *db_target_session_attrs; /* libpq target_session_attrs */
    char *db_session_settings;     /* "name=value,name=value" applied on every new connection */

    /* read pool over streaming replicas (service/replicas/) */
    char *db_read_hosts;              /* "" = no replicas: reads use the primary */
    char *db_read_port;               /* NULL = the first DB_PORT */
    int db_read_max_conns;            /* as configured; 0 = half the pool size */
    char *db_read_max_lag_bytes_text; /* DB_READ_MAX_LAG_BYTES as given ("16MB") */
    long long db_read_max_lag_bytes;  /* parsed; 0 = no byte bound */
    int db_read_max_lag_ms;           /* 0 = no time bound */
    char *db_read_fallback;           /* "primary" or "fail" */
    int read_pool_size;               /* used: DB_READ_MAX_CONNS, or half the pool (>= 1) */

    /* pool as configured (the raw variables) */
    int db_max_conns;
    int db_max_overflow;
    int db_max_conns_dev;
    int db_max_overflow_dev;
    int db_pool_recycle_s;
    int db_pool_timeout_s;
    int db_min_conns;
    int db_slow_query_ms;
    int db_leak_detection_ms;
    int db_preping_idle_ms; /* pre-ping a connection idle longer than this; 0 = always */
    int db_idle_timeout_s;  /* close idle connections above DB_MIN_CONNS after this */
    bool celery_worker_running;
    enum tsp_pool_mode db_pool_mode;

    /* pool as used: the development profile and celery mode applied */
    int pool_size;
    int pool_max_overflow;
    enum tsp_pool_mode pool_mode;
    /* where the three values above came from: the row they copy (DB_MAX_CONNS, ...), or
     * source PROFILE with where naming the cause ("TSPOOL_ENV=development: DB_MAX_CONNS_DEV") */
    struct tsp_config_origin pool_size_origin;
    struct tsp_config_origin pool_max_overflow_origin;
    struct tsp_config_origin pool_mode_origin;

    /* service */
    char *env;             /* TSPOOL_ENV: "production" or "development" */
    char *env_file;        /* TSPOOL_ENV_FILE, or NULL when none was read */
    char *listen;          /* TSPOOL_LISTEN "host:port" */
    char *listen_host;     /* without brackets for IPv6 ("::1") */
    int listen_port;       /* 1..65535 */
    char *tls_cert_file;   /* PEM certificate chain for HTTPS; NULL = plain HTTP */
    char *tls_key_file;    /* PEM private key; set exactly when tls_cert_file is */
    char *tls_min_version; /* "1.2" or "1.3" */
    char *admin_token;     /* secret; NULL when unset */
    char *read_token;      /* secret; NULL when unset (reads are then open) */
    bool public_probes;    /* probes open without a token */
    bool public_metrics;   /* /metrics open without a token */
    char *log_format;      /* "json" or "text" */
    char *log_level;       /* "error", "warn", "info", "debug" */
    int shutdown_delay_s;
    int shutdown_grace_s;
    int http_threads;
    int http_keep_alive_ms;
    int http_request_timeout_ms;
    int http_connection_queue;
    int health_interval_ms;     /* how often the maintenance thread checks the database */
    int stats_log_interval_s;   /* periodic pool stats log line; 0 = off */
    int ready_max_waiting;      /* readiness fails while more borrowers wait; 0 = off */
    bool ready_pgbouncer;       /* readiness fails unless a PgBouncer instance is up */
    int ready_max_check_age_ms; /* readiness fails when the last good check is older; 0 = 3
                                   health intervals */
    int http_db_max_inflight;   /* database-bound requests at once; 0 = 3/4 of http_threads */
    char *probe_listen;         /* TSPOOL_PROBE_LISTEN "host:port", or NULL when off */
    char *probe_listen_host;    /* without brackets; NULL when off */
    int probe_listen_port;
    int lock_timeout_ms;        /* lock_timeout of TimescaleDB changes; 0 = wait */
    int timescaledb_refresh_ms; /* TimescaleDB snapshot period for /metrics; 0 = off */
    int activity_interval_ms;   /* pg_stat_activity sample period; 0 = off */
    int statements_interval_ms; /* pg_stat_statements snapshot period; 0 = off */
    int query_text_max;         /* query texts (logs, API) cut to this many characters */

    /* PgBouncer fleet (service/pgbouncer) */
    char *pgbouncer_hosts;            /* "host:port,..." of the admin consoles; "" = off */
    char *pgbouncer_user;             /* admin console user */
    char *pgbouncer_pass;             /* secret; NULL when unset */
    int pgbouncer_connect_timeout_s;  /* connecting to one console */
    int pgbouncer_command_timeout_ms; /* one console statement */
    int pgbouncer_refresh_ms;         /* how often the cache of SHOW results is refreshed */

    /* one per table row, indexed like tsp_config_var_at(); never TSP_CONFIG_SRC_PROFILE */
    struct tsp_config_origin *origins;

    /* Non-fatal findings of the load, one line each ("path:3: unknown variable
     * TSPOOL_LSTEN ignored"): unknown TSPOOL_* / DB_* names in the .env file or the environment.
     * The caller decides whether to print or log them. */
    char **warnings;
    size_t nwarnings;
};

enum tsp_config_type {
    TSP_CONFIG_STRING,
    TSP_CONFIG_INT,
    TSP_CONFIG_BOOL,
    TSP_CONFIG_ENUM,       /* a string from a fixed list (`allowed`), stored as char * */
    TSP_CONFIG_ENUM_INDEX, /* a string from `allowed`, stored as its position in an enum field
                              (DB_POOL_MODE -> enum tsp_pool_mode) */
};

struct tsp_config_var;

/* Extra check of a row's text beyond its type (host list, port list, listen address...).
 * Returns TSP_OK, or TSP_INVALID with the one-line message in err. */
typedef enum tsp_code (*tsp_config_check_fn)(const struct tsp_config_var *var, const char *value,
                                             struct tsp_error *err);

/* One row of the configuration table. */
struct tsp_config_var {
    const char *name; /* environment variable, e.g. "DB_MAX_CONNS" */
    enum tsp_config_type type;
    const char *default_value; /* as text; NULL = unset */
    size_t offset;             /* offsetof into struct tsp_config */
    long min, max;             /* inclusive range for TSP_CONFIG_INT */
    const char *allowed;       /* "a|b|c" for TSP_CONFIG_ENUM, else NULL */
    bool secret;               /* redacted in every output; has a *_FILE variant */
    const char *help;          /* one line for --help, README and /config */
    tsp_config_check_fn check; /* extra validation of the text, or NULL */
    bool watched;              /* secrets: the *_FILE is re-read when it changes */
};

/* What a set secret is shown as in every output. */
#define TSP_CONFIG_REDACTED "********"

/* Number of rows in the configuration table, and row i (0 <= i < count). Static data. */
size_t tsp_config_var_count(void);
const struct tsp_config_var *tsp_config_var_at(size_t i);
/* Row by variable name, or NULL. */
const struct tsp_config_var *tsp_config_var_find(const char *name);

/* Load the configuration from defaults, the .env file (TSPOOL_ENV_FILE, else ./.env if it
 * exists), envp (a NULL-terminated "NAME=value" array, usually `environ`) and *_FILE
 * variants, then validate. Later sources override earlier ones; a secret's NAME_FILE beats
 * NAME from any source, but both set in the same source (both in envp, or both in the .env
 * file) is an error. An empty value is a value (DB_HOST= is an empty host), except that an
 * empty boolean, secret, NAME_FILE or TSPOOL_ENV_FILE counts as unset.
 * On error, err->detail is one line naming the variable, the bad value (never a secret) and
 * what is allowed, err->field the variable (TSPOOL_ENV_FILE for .env syntax errors, which
 * read "path:line: ..."), and cfg is not written.
 * cfg is caller-owned; release with tsp_config_fini(). Not thread-safe (call once at start). */
enum tsp_code tsp_config_load(struct tsp_config *cfg, char *const *envp,
                              struct tsp_error *err) TSP_MUSTCHECK;

/* Parse a byte count with an optional PostgreSQL-style unit (B, kB, MB, GB, TB; 1024-based;
 * no space or one space before the unit): "16MB" -> 16777216. False on anything else, a
 * negative number or an overflow. Pure. */
bool tsp_config_parse_bytes(const char *text, long long *out);

/* Free everything tsp_config_load() allocated; cfg may be NULL or zeroed. */
void tsp_config_fini(struct tsp_config *cfg);

/* Value of row i as text into buf (always NUL-terminated); secrets become "********" when
 * set and redact is true; unset optional values are "". Returns buf. */
const char *tsp_config_format_value(const struct tsp_config *cfg, size_t i, bool redact, char *buf,
                                    size_t bufsize);

/* Origin of row i (source + where). cfg must be loaded. */
const struct tsp_config_origin *tsp_config_origin_at(const struct tsp_config *cfg, size_t i);

/* "default", ".env", "environment", "file", "profile". Static string. */
const char *tsp_config_source_name(enum tsp_config_source source);

/* The effective configuration as an aligned table (NAME, VALUE, SOURCE), secrets redacted,
 * followed by the effective pool values (size, max overflow, mode) with their origin. */
void tsp_config_print_table(const struct tsp_config *cfg, FILE *out);

/* Every variable with its default and help (for --help), generated from the table. */
void tsp_config_print_help(FILE *out);

/* The effective configuration as a JSON document written to out, secrets redacted:
 * {"variables":[{"name","value","default","source","where","secret","help"}...],
 *  "effective":[{"name":"pool_size"|"pool_max_overflow"|"pool_mode","value","source","where"}],
 *  "warnings":["..."]}.
 * Values are typed: integers as numbers, booleans as true/false, text as strings, unset
 * optional values as null, set secrets as "********".
 * Returns TSP_OK or TSP_NO_MEMORY / TSP_IO. */
enum tsp_code tsp_config_print_json(const struct tsp_config *cfg, FILE *out,
                                    struct tsp_error *err) TSP_MUSTCHECK;

/* ---- files that change while tspool runs (Secret and certificate rotation) ----------------- */

/* The *_FILE path a secret (name without _FILE, e.g. "DB_PASS") was read from, or NULL when
 * it came from elsewhere. Borrowed from cfg (valid while cfg is). */
const char *tsp_config_file_of(const struct tsp_config *cfg, const char *name);

/* Read a secret file by the loader's rules: one trailing newline (CRLF too) dropped, not
 * empty, no NUL byte. name ("DB_PASS") only words the errors: TSP_IO (cannot read),
 * TSP_INVALID (empty, NUL), TSP_NO_MEMORY. Never puts the content in err. On TSP_OK *out is
 * a malloc'd string for the caller to free. Blocking (one small file read). */
enum tsp_code tsp_config_read_secret(const char *name, const char *path, char **out,
                                     struct tsp_error *err) TSP_MUSTCHECK;

/* A file followed for changes. Kubernetes updates a mounted Secret by swapping a symlink, so
 * the file is compared by identity (device, inode, size, modification time) through stat(),
 * which follows the links. Not thread-safe: one owner (or the owner's lock) per watch. */
struct tsp_file_watch;

/* Watch path, looking at most once per interval_ms; the file as it is now is the baseline.
 * NULL on out of memory. Free with tsp_file_watch_free (NULL is a no-op). */
struct tsp_file_watch *tsp_file_watch_new(const char *path, long interval_ms);
void tsp_file_watch_free(struct tsp_file_watch *w);
/* The watched path (borrowed, valid while w is). */
const char *tsp_file_watch_path(const struct tsp_file_watch *w);
/* true once per change of the file since the baseline or the last true; false while the
 * interval has not passed, or when the file is missing. One stat() at most. */
bool tsp_file_watch_changed(struct tsp_file_watch *w);

#endif /* TSPOOL_CONFIG_H */
