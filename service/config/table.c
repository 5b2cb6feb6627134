/* config/table.c - the configuration table: one static row per variable (name, type,
 * default, field, range, secret flag, help, extra check) and the checks it names.
 * SPDX-License-Identifier: MIT
 */
#include "config_int.h"

#include "tspool/pgbouncer.h"

#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define FIELD(f) offsetof(struct tsp_config, f)
#define ROW_STR(n, def, f, help, chk)                                                              \
    {                                                                                              \
        n, TSP_CONFIG_STRING, def, FIELD(f), 0, 0, NULL, false, help, chk, false                   \
    }
#define ROW_SECRET(n, f, help, chk, watched)                                                       \
    {                                                                                              \
        n, TSP_CONFIG_STRING, NULL, FIELD(f), 0, 0, NULL, true, help, chk, watched                 \
    }
#define ROW_INT(n, def, f, lo, hi, help)                                                           \
    {                                                                                              \
        n, TSP_CONFIG_INT, def, FIELD(f), lo, hi, NULL, false, help, NULL, false                   \
    }
#define ROW_BOOL(n, def, f, help)                                                                  \
    {                                                                                              \
        n, TSP_CONFIG_BOOL, def, FIELD(f), 0, 0, NULL, false, help, NULL, false                    \
    }
#define ROW_ENUM(n, def, f, allowed, help)                                                         \
    {                                                                                              \
        n, TSP_CONFIG_ENUM, def, FIELD(f), 0, 0, allowed, false, help, NULL, false                 \
    }

static enum tsp_code check_nonempty(const struct tsp_config_var *var, const char *value,
                                    struct tsp_error *err);
static enum tsp_code check_hosts(const struct tsp_config_var *var, const char *value,
                                 struct tsp_error *err);
static enum tsp_code check_ports(const struct tsp_config_var *var, const char *value,
                                 struct tsp_error *err);
static enum tsp_code check_app_name(const struct tsp_config_var *var, const char *value,
                                    struct tsp_error *err);
static enum tsp_code check_session_settings(const struct tsp_config_var *var, const char *value,
                                            struct tsp_error *err);
static enum tsp_code check_listen(const struct tsp_config_var *var, const char *value,
                                  struct tsp_error *err);
static enum tsp_code check_bytes(const struct tsp_config_var *var, const char *value,
                                 struct tsp_error *err);
static enum tsp_code check_read_hosts(const struct tsp_config_var *var, const char *value,
                                      struct tsp_error *err);
static enum tsp_code check_token(const struct tsp_config_var *var, const char *value,
                                 struct tsp_error *err);
static enum tsp_code check_pgb_hosts(const struct tsp_config_var *var, const char *value,
                                     struct tsp_error *err);

/* Order matters only for output and for which error is reported first. */
const struct tsp_config_var tsp_config_vars[] = {
    ROW_STR("DB_HOST", "localhost", db_host,
            "database host name, IP address or socket directory; a comma-separated list tries "
            "each (libpq multi-host)",
            check_hosts),
    ROW_STR("DB_PORT", "5432", db_port,
            "database port 1-65535, or a comma-separated list with one port per DB_HOST entry",
            check_ports),
    ROW_STR("DB_NAME", "postgres", db_name, "database name", check_nonempty),
    ROW_STR("DB_USER", "postgres", db_user, "database user", check_nonempty),
    ROW_SECRET("DB_PASS", db_pass, "database password (secret; or DB_PASS_FILE)", NULL, true),
    ROW_INT("DB_CONNECT_TIMEOUT", "5", db_connect_timeout_s, 1, 3600,
            "seconds to wait for a new database connection (libpq connect_timeout)"),
    ROW_INT("DB_STATEMENT_TIMEOUT_MS", NULL, db_statement_timeout_ms, 0, 86400000,
            "statement_timeout in milliseconds set on every session; unset = the server's own "
            "setting (role, database) is left alone; 0 = no limit"),
    ROW_INT("DB_STATEMENT_DEADLINE_MS", "60000", db_statement_deadline_ms, 100, 86400000,
            "client-side deadline of every statement: past it the statement is cancelled, its "
            "connection closed and the request answered 504"),
    ROW_ENUM("DB_SSLMODE", "prefer", db_sslmode,
             "disable|allow|prefer|require|verify-ca|verify-full", "libpq sslmode"),
    ROW_STR("DB_SSLROOTCERT", NULL, db_sslrootcert,
            "CA certificate file that verifies the server (libpq sslrootcert) for "
            "DB_SSLMODE=verify-ca or verify-full",
            check_nonempty),
    ROW_STR("DB_APPLICATION_NAME", "tspool", db_application_name,
            "application_name shown in pg_stat_activity (at most 63 printable ASCII characters)",
            check_app_name),
    ROW_ENUM("DB_TARGET_SESSION_ATTRS", "read-write", db_target_session_attrs,
             "any|read-write|read-only|primary|standby|prefer-standby",
             "libpq target_session_attrs: which server of a DB_HOST list to use"),
    ROW_STR("DB_SESSION_SETTINGS", "", db_session_settings,
            "comma-separated name=value settings applied to every new session "
            "(e.g. work_mem=64MB,search_path=app)",
            check_session_settings),
    ROW_STR("DB_READ_HOSTS", "", db_read_hosts,
            "replicas for the read pool: a comma-separated list of host names, addresses or "
            "socket directories; empty = every read goes to the primary",
            check_read_hosts),
    ROW_STR("DB_READ_PORT", NULL, db_read_port,
            "replica port 1-65535, or a comma-separated list with one port per DB_READ_HOSTS "
            "entry; unset = the first DB_PORT",
            check_ports),
    ROW_INT("DB_READ_MAX_CONNS", "0", db_read_max_conns, 0, 10000,
            "read pool size: connections kept per replica; 0 = half of the pool size (at least 1)"),
    ROW_STR("DB_READ_MAX_LAG_BYTES", "16MB", db_read_max_lag_bytes_text,
            "a replica replaying more than this behind the primary leaves the read rotation "
            "(bytes, or with a unit: 512kB, 16MB, 1GB); 0 = no byte bound",
            check_bytes),
    ROW_INT("DB_READ_MAX_LAG_MS", "10000", db_read_max_lag_ms, 0, 86400000,
            "a replica whose last replayed transaction is older than this (while WAL is "
            "pending) leaves the read rotation; 0 = no time bound"),
    ROW_ENUM("DB_READ_FALLBACK", "primary", db_read_fallback, "primary|fail",
             "when no replica is in rotation reads go to the primary, or fail with 503"),
    ROW_INT("DB_MAX_CONNS", "20", db_max_conns, 1, 10000,
            "pool size: connections kept open (SQLAlchemy pool_size)"),
    ROW_INT("DB_MAX_OVERFLOW", "10", db_max_overflow, 0, 10000,
            "extra connections when the pool is empty, closed again on return (max_overflow)"),
    ROW_INT("DB_MAX_CONNS_DEV", "10", db_max_conns_dev, 1, 10000,
            "pool size used instead of DB_MAX_CONNS when TSPOOL_ENV=development"),
    ROW_INT("DB_MAX_OVERFLOW_DEV", "5", db_max_overflow_dev, 0, 10000,
            "overflow used instead of DB_MAX_OVERFLOW when TSPOOL_ENV=development"),
    ROW_INT("DB_POOL_RECYCLE", "3600", db_pool_recycle_s, 0, 31536000,
            "seconds after which a connection is replaced (with jitter); 0 = never"),
    ROW_INT("DB_POOL_TIMEOUT", "30", db_pool_timeout_s, 1, 3600,
            "seconds a borrower waits for a connection before 503 (pool_timeout)"),
    ROW_INT("DB_MIN_CONNS", "0", db_min_conns, 0, 10000,
            "connections opened at start-up and kept open; at most the pool size"),
    ROW_INT("DB_SLOW_QUERY_MS", "1000", db_slow_query_ms, 0, 86400000,
            "operations slower than this many milliseconds are logged as slow; 0 = off"),
    ROW_INT("DB_LEAK_DETECTION_MS", "60000", db_leak_detection_ms, 0, 86400000,
            "a connection held longer than this many milliseconds is reported; 0 = off"),
    ROW_INT("DB_PREPING_IDLE_MS", "1000", db_preping_idle_ms, 0, 86400000,
            "ping a connection idle longer than this many milliseconds before lending it; "
            "0 = always"),
    ROW_INT("DB_IDLE_TIMEOUT", "600", db_idle_timeout_s, 0, 31536000,
            "seconds after which idle connections above DB_MIN_CONNS are closed; 0 = never"),
    ROW_BOOL("CELERY_WORKER_RUNNING", NULL, celery_worker_running,
             "true selects the direct (non-pooled) mode, as for worker processes"),
    {"DB_POOL_MODE", TSP_CONFIG_ENUM_INDEX, "pooled", FIELD(db_pool_mode), 0, 0, "pooled|direct",
     false, "pooled, or direct (connect per borrow, close on return)", NULL, false},
    ROW_ENUM("TSPOOL_ENV", "production", env, "production|development",
             "development uses DB_MAX_CONNS_DEV and DB_MAX_OVERFLOW_DEV"),
    ROW_STR("TSPOOL_ENV_FILE", "./.env", env_file,
            ".env file read before the environment; the default is read only if it exists", NULL),
    ROW_STR("TSPOOL_LISTEN", "0.0.0.0:8080", listen, "HTTP listen address host:port or [ipv6]:port",
            check_listen),
    ROW_STR("TSPOOL_TLS_CERT_FILE", NULL, tls_cert_file,
            "PEM certificate (chain) file: serve HTTPS instead of HTTP; needs "
            "TSPOOL_TLS_KEY_FILE; re-read when it changes",
            check_nonempty),
    ROW_STR("TSPOOL_TLS_KEY_FILE", NULL, tls_key_file,
            "PEM private key file of TSPOOL_TLS_CERT_FILE; re-read when it changes",
            check_nonempty),
    ROW_ENUM("TSPOOL_TLS_MIN_VERSION", "1.2", tls_min_version, "1.2|1.3",
             "lowest TLS version the HTTPS listener accepts"),
    ROW_SECRET("TSPOOL_ADMIN_TOKEN", admin_token,
               "bearer token for changes and /config (secret; or TSPOOL_ADMIN_TOKEN_FILE)",
               check_token, true),
    ROW_SECRET("TSPOOL_READ_TOKEN", read_token,
               "bearer token for reads; unset = reads are open (secret; or "
               "TSPOOL_READ_TOKEN_FILE)",
               check_token, true),
    ROW_BOOL("TSPOOL_PUBLIC_PROBES", "true", public_probes,
             "health probes are served without a token"),
    ROW_BOOL("TSPOOL_PUBLIC_METRICS", "true", public_metrics, "/metrics is served without a token"),
    ROW_ENUM("TSPOOL_LOG_FORMAT", "json", log_format, "json|text", "log line format on stdout"),
    ROW_ENUM("TSPOOL_LOG_LEVEL", "info", log_level, "error|warn|info|debug", "lowest level logged"),
    ROW_INT("TSPOOL_SHUTDOWN_DELAY", "5", shutdown_delay_s, 0, 300,
            "seconds readiness fails after SIGTERM before the server stops accepting"),
    ROW_INT("TSPOOL_SHUTDOWN_GRACE", "30", shutdown_grace_s, 0, 3600,
            "seconds to drain requests and connections after that"),
    ROW_INT("TSPOOL_HTTP_THREADS", "64", http_threads, 1, 1024, "HTTP worker threads"),
    ROW_INT("TSPOOL_HTTP_KEEP_ALIVE_MS", "5000", http_keep_alive_ms, 0, 600000,
            "HTTP keep-alive timeout in milliseconds; 0 = no keep-alive"),
    ROW_INT("TSPOOL_HTTP_REQUEST_TIMEOUT_MS", "10000", http_request_timeout_ms, 100, 600000,
            "HTTP request timeout in milliseconds"),
    ROW_INT("TSPOOL_HTTP_CONNECTION_QUEUE", "1024", http_connection_queue, 1, 65535,
            "accepted connections waiting for a worker thread"),
    ROW_INT("TSPOOL_HEALTH_INTERVAL_MS", "2000", health_interval_ms, 100, 600000,
            "milliseconds between database health checks (cached for the probes)"),
    ROW_INT("TSPOOL_STATS_LOG_INTERVAL", "60", stats_log_interval_s, 0, 86400,
            "seconds between pool statistics log lines; 0 = off"),
    ROW_INT("TSPOOL_READY_MAX_WAITING", "0", ready_max_waiting, 0, 100000,
            "readiness fails while more borrowers than this wait; 0 = off"),
    ROW_INT("TSPOOL_READY_MAX_CHECK_AGE_MS", "0", ready_max_check_age_ms, 0, 86400000,
            "readiness fails when the last successful database check is older than this; 0 = "
            "three TSPOOL_HEALTH_INTERVAL_MS"),
    ROW_INT("TSPOOL_HTTP_DB_MAX_INFLIGHT", "0", http_db_max_inflight, 0, 1024,
            "requests that need the database served at once; more answer 503 with Retry-After at "
            "once, so probes and /metrics always find a worker; 0 = three quarters of "
            "TSPOOL_HTTP_THREADS"),
    ROW_STR("TSPOOL_PROBE_LISTEN", NULL, probe_listen,
            "second listener host:port with 4 worker threads of its own that serves only the "
            "probes and /metrics (never behind database requests or slow clients); unset = off",
            check_listen),
    ROW_INT("TSPOOL_LOCK_TIMEOUT_MS", "3000", lock_timeout_ms, 0, 86400000,
            "lock_timeout of every TimescaleDB change: past it the change answers 409 "
            "LOCK_NOT_AVAILABLE naming the blocking session; 0 = wait"),
    ROW_INT("TSPOOL_TIMESCALEDB_REFRESH_MS", "30000", timescaledb_refresh_ms, 0, 86400000,
            "milliseconds between TimescaleDB snapshots for /metrics (jobs, chunks, compression, "
            "aggregate lag); 0 = off"),
    ROW_BOOL("TSPOOL_READY_PGBOUNCER", "false", ready_pgbouncer,
             "readiness also needs at least one PgBouncer instance up (check pgbouncer)"),
    ROW_STR("PGBOUNCER_HOSTS", "", pgbouncer_hosts,
            "comma-separated host:port of PgBouncer admin consoles; every address of a name is "
            "one instance, re-resolved on each refresh; empty = off",
            check_pgb_hosts),
    ROW_STR("PGBOUNCER_USER", "pgbouncer", pgbouncer_user,
            "PgBouncer admin console user (in admin_users, or stats_users for reads only)",
            check_nonempty),
    ROW_SECRET("PGBOUNCER_PASS", pgbouncer_pass,
               "PgBouncer admin console password (secret; or PGBOUNCER_PASS_FILE)", NULL, false),
    ROW_INT("PGBOUNCER_CONNECT_TIMEOUT", "5", pgbouncer_connect_timeout_s, 1, 3600,
            "seconds to wait for a PgBouncer console connection (and its name's resolution)"),
    ROW_INT("PGBOUNCER_COMMAND_TIMEOUT_MS", "5000", pgbouncer_command_timeout_ms, 100, 3600000,
            "deadline in milliseconds of one PgBouncer console statement"),
    ROW_INT("PGBOUNCER_REFRESH_MS", "2000", pgbouncer_refresh_ms, 100, 3600000,
            "milliseconds between refreshes of the cached PgBouncer SHOW results"),
    ROW_INT("TSPOOL_ACTIVITY_INTERVAL_MS", "2000", activity_interval_ms, 0, 3600000,
            "milliseconds between pg_stat_activity samples (slow-query log, /server/activity, "
            "tspool_server_* metrics); 0 = off"),
    ROW_INT("TSPOOL_STATEMENTS_INTERVAL_MS", "60000", statements_interval_ms, 0, 86400000,
            "milliseconds between pg_stat_statements snapshots (/server/statements); 0 = off"),
    ROW_INT("TSPOOL_QUERY_TEXT_MAX", "1024", query_text_max, 16, 65536,
            "query texts in the slow-query log and the API are cut to this many characters"),
};

const size_t tsp_config_nvars = sizeof(tsp_config_vars) / sizeof(tsp_config_vars[0]);

size_t tsp_config_var_count(void)
{
    return tsp_config_nvars;
}

const struct tsp_config_var *tsp_config_var_at(size_t i)
{
    return i < tsp_config_nvars ? &tsp_config_vars[i] : NULL;
}

const struct tsp_config_var *tsp_config_var_find(const char *name)
{
    if (name == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < tsp_config_nvars; i++) {
        if (strcmp(tsp_config_vars[i].name, name) == 0) {
            return &tsp_config_vars[i];
        }
    }
    return NULL;
}

const char *tsp_config_default_text(const struct tsp_config_var *var)
{
    if (var->default_value == NULL) {
        return "(unset)";
    }
    if (var->default_value[0] == '\0') {
        return "(empty)";
    }
    return var->default_value;
}

const char *tsp_config_echo(const char *value, char *buf, size_t bufsize)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    size_t i = 0;

    if (bufsize == 0) {
        return buf;
    }
    for (i = 0; value[i] != '\0' && i < TSP_CONFIG_ECHO_MAX; i++) {
        unsigned char c = (unsigned char)value[i];
        if (o + 5 >= bufsize) {
            break;
        }
        if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            buf[o++] = '\\';
            buf[o++] = 'x';
            buf[o++] = hex[c >> 4];
            buf[o++] = hex[c & 0xf];
        } else {
            buf[o++] = (char)c;
        }
    }
    if (value[i] != '\0' && o + 4 < bufsize) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

enum tsp_code tsp_config_invalid(struct tsp_error *err, const struct tsp_config_var *var,
                                 const char *value, const char *fmt, ...)
{
    char echo[TSP_CONFIG_ECHO_MAX * 4 + 8];
    char allowed[TSP_ERROR_DETAIL_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(allowed, sizeof(allowed), fmt, ap);
    va_end(ap);
    if (var->secret) {
        return tsp_error_set(err, TSP_INVALID, var->name, "%s: invalid value: %s", var->name,
                             allowed);
    }
    tsp_config_echo(value, echo, sizeof(echo));
    return tsp_error_set(err, TSP_INVALID, var->name, "%s: invalid value \"%s\": %s", var->name,
                         echo, allowed);
}

bool tsp_config_parse_bool(const char *text, bool *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    char lower[8];
    size_t n = strlen(text);

    if (n == 0 || n >= sizeof(lower)) {
        return false;
    }
    for (size_t i = 0; i <= n; i++) {
        char c = text[i];
        lower[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(lower, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcmp(lower, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

size_t tsp_config_list_count(const char *text)
{
    size_t n = 1;

    for (const char *p = text; *p != '\0'; p++) {
        n += (*p == ',') ? 1u : 0u;
    }
    return n;
}

bool tsp_config_parse_bytes(const char *text, long long *out)
{
    static const struct {
        const char *unit;
        int shift;
    } units[] = {{"", 0}, {"B", 0}, {"kB", 10}, {"MB", 20}, {"GB", 30}, {"TB", 40}};
    const char *p = text;
    unsigned long long value = 0;
    bool digits = false;

    if (text == NULL) {
        return false;
    }
    for (; *p >= '0' && *p <= '9'; p++) {
        if (value > (unsigned long long)LLONG_MAX / 10) {
            return false;
        }
        value = value * 10 + (unsigned long long)(*p - '0');
        digits = true;
    }
    if (!digits) {
        return false;
    }
    if (*p == ' ' && p[1] != '\0') {
        p++;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(p, units[i].unit) == 0) {
            if (value > ((unsigned long long)LLONG_MAX >> units[i].shift)) {
                return false;
            }
            *out = (long long)(value << units[i].shift);
            return true;
        }
    }
    return false;
}

static enum tsp_code check_nonempty(const struct tsp_config_var *var, const char *value,
                                    struct tsp_error *err)
{
    for (const char *p = value; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            return tsp_config_invalid(err, var, value, "expected text without control characters");
        }
    }
    if (value[0] == '\0') {
        return tsp_config_invalid(err, var, value, "expected a non-empty value");
    }
    return TSP_OK;
}

static enum tsp_code check_hosts(const struct tsp_config_var *var, const char *value,
                                 struct tsp_error *err)
{
    size_t element_len = 0;

    for (const char *p = value;; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == ',' || c == '\0') {
            if (element_len == 0) {
                break;
            }
            if (c == '\0') {
                return TSP_OK;
            }
            element_len = 0;
            continue;
        }
        if (c <= 0x20 || c == 0x7f) {
            break;
        }
        element_len++;
    }
    return tsp_config_invalid(err, var, value,
                              "expected a host name, address or socket directory, or a "
                              "comma-separated list of them (no empty element, no spaces)");
}

static bool parse_port(const char *text, size_t len, int *out)
{
    long port = 0;

    if (len == 0 || len > 5) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return false;
        }
        port = port * 10 + (text[i] - '0');
    }
    if (port < 1 || port > 65535) {
        return false;
    }
    *out = (int)port;
    return true;
}

static enum tsp_code check_ports(const struct tsp_config_var *var, const char *value,
                                 struct tsp_error *err)
{
    const char *start = value;
    int port = 0;

    for (const char *p = value;; p++) {
        if (*p == ',' || *p == '\0') {
            if (!parse_port(start, (size_t)(p - start), &port)) {
                return tsp_config_invalid(
                    err, var, value,
                    "expected a port from 1 to 65535, or a comma-separated list of ports");
            }
            if (*p == '\0') {
                return TSP_OK;
            }
            start = p + 1;
        }
    }
}

static enum tsp_code check_app_name(const struct tsp_config_var *var, const char *value,
                                    struct tsp_error *err)
{
    size_t n = strlen(value);
    bool ok = n <= 63;

    for (size_t i = 0; ok && i < n; i++) {
        ok = value[i] >= 0x20 && value[i] < 0x7f;
    }
    if (!ok) {
        return tsp_config_invalid(err, var, value,
                                  "expected at most 63 printable ASCII characters");
    }
    return TSP_OK;
}

static bool setting_name_ok(const char *s, size_t len)
{
    if (len == 0 || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_')) {
        return false;
    }
    for (size_t i = 1; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.')) {
            return false;
        }
    }
    return true;
}

static bool setting_value_ok(const char *s, size_t len)
{
    if (len == 0) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || c == '\'' || c == '"' || c == '\\' || c == ';') {
            return false;
        }
    }
    return true;
}

static enum tsp_code check_session_settings(const struct tsp_config_var *var, const char *value,
                                            struct tsp_error *err)
{
    const char *start = value;
    char item[TSP_CONFIG_ECHO_MAX * 4 + 8];
    char *copy = NULL;

    if (value[0] == '\0') {
        return TSP_OK;
    }
    for (const char *p = value;; p++) {
        if (*p != ',' && *p != '\0') {
            continue;
        }
        size_t len = (size_t)(p - start);
        const char *eq = memchr(start, '=', len);
        bool ok = eq != NULL && setting_name_ok(start, (size_t)(eq - start)) &&
                  setting_value_ok(eq + 1, len - (size_t)(eq - start) - 1);
        if (!ok) {
            copy = strndup(start, len);
            if (copy == NULL) {
                return tsp_error_set(err, TSP_NO_MEMORY, var->name, "out of memory");
            }
            tsp_config_echo(copy, item, sizeof(item));
            free(copy);
            return tsp_config_invalid(err, var, value,
                                      "item \"%s\" is not name=value with a name matching "
                                      "[a-z_][a-z0-9_.]* and a non-empty value without quotes, "
                                      "backslashes, semicolons or control characters",
                                      item);
        }
        if (*p == '\0') {
            return TSP_OK;
        }
        start = p + 1;
    }
}

bool tsp_config_parse_listen(const char *text, char **host_out, int *port_out)
{
    const char *host = text;
    size_t host_len = 0;
    const char *colon = NULL;
    int port = 0;
    char *copy = NULL;

    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':') {
            return false;
        }
        host = text + 1;
        host_len = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL) {
            return false;
        }
        host_len = (size_t)(colon - text);
        if (memchr(text, ':', host_len) != NULL) {
            return false; /* an IPv6 address needs brackets */
        }
    }
    if (host_len == 0 || !parse_port(colon + 1, strlen(colon + 1), &port)) {
        return false;
    }
    for (size_t i = 0; i < host_len; i++) {
        unsigned char c = (unsigned char)host[i];
        if (c <= 0x20 || c == 0x7f || c == '[' || c == ']' || c == '/' || c == ',') {
            return false;
        }
    }
    copy = strndup(host, host_len);
    if (copy == NULL) {
        return false;
    }
    *host_out = copy;
    *port_out = port;
    return true;
}

static enum tsp_code check_listen(const struct tsp_config_var *var, const char *value,
                                  struct tsp_error *err)
{
    char *host = NULL;
    int port = 0;

    if (!tsp_config_parse_listen(value, &host, &port)) {
        return tsp_config_invalid(err, var, value,
                                  "expected host:port or [ipv6]:port with a port from 1 to 65535");
    }
    free(host);
    return TSP_OK;
}

/* A bearer token travels in an HTTP header: visible ASCII only (RFC 6750 b64token and more). */
static enum tsp_code check_token(const struct tsp_config_var *var, const char *value,
                                 struct tsp_error *err)
{
    for (const char *p = value; *p != '\0'; p++) {
        if (*p <= 0x20 || *p >= 0x7f) {
            return tsp_config_invalid(err, var, value,
                                      "expected visible ASCII characters without spaces");
        }
    }
    return TSP_OK;
}

/* DB_READ_HOSTS: empty is off, else a host list as DB_HOST. */
static enum tsp_code check_read_hosts(const struct tsp_config_var *var, const char *value,
                                      struct tsp_error *err)
{
    return value[0] == '\0' ? TSP_OK : check_hosts(var, value, err);
}

static enum tsp_code check_bytes(const struct tsp_config_var *var, const char *value,
                                 struct tsp_error *err)
{
    long long bytes = 0;

    if (!tsp_config_parse_bytes(value, &bytes)) {
        return tsp_config_invalid(err, var, value,
                                  "expected a byte count, optionally with a unit B, kB, MB, GB "
                                  "or TB (1024-based), e.g. 16MB");
    }
    return TSP_OK;
}

/* PGBOUNCER_HOSTS: the parser lives with the fleet (tsp_pgb_hosts_parse), which says which
 * element is wrong. */
static enum tsp_code check_pgb_hosts(const struct tsp_config_var *var, const char *value,
                                     struct tsp_error *err)
{
    struct tsp_pgb_host *hosts = NULL;
    size_t count = 0;
    struct tsp_error perr;
    enum tsp_code rc = TSP_OK;

    tsp_error_init(&perr);
    rc = tsp_pgb_hosts_parse(value, &hosts, &count, &perr);
    free(hosts);
    if (rc == TSP_NO_MEMORY) {
        return tsp_error_set(err, rc, var->name, "out of memory");
    }
    if (rc != TSP_OK) {
        return tsp_config_invalid(err, var, value, "%s", perr.detail);
    }
    return TSP_OK;
}
