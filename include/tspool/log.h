/* log.h - structured log lines (JSON or text) on stdout; the level is checked before
 * the arguments are evaluated.
 * SPDX-License-Identifier: MIT
 */
#ifndef TSPOOL_LOG_H
#define TSPOOL_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "tspool/error.h"

enum tsp_log_level {
    TSP_LOG_LEVEL_ERROR = 0,
    TSP_LOG_LEVEL_WARN = 1,
    TSP_LOG_LEVEL_INFO = 2,
    TSP_LOG_LEVEL_DEBUG = 3,
};

enum tsp_log_format {
    TSP_LOG_FORMAT_JSON = 0,
    TSP_LOG_FORMAT_TEXT = 1,
};

/* One extra key/value on a log line: a string (str != NULL) or an integer. */
struct tsp_log_field {
    const char *key;
    const char *str;
    long long num;
};

/* Context carried by a log line; every member is optional (NULL / negative = absent). */
struct tsp_log_ctx {
    const char *event;      /* short machine name: "pool.slow_query", "http.access" */
    const char *request_id; /* X-Request-Id of the request being served */
    long long conn_id;      /* pool connection id, or -1 */
    const char *label;      /* lease label (operation name) */
    const struct tsp_log_field *fields;
    size_t nfields;
};

/* Configure the process-wide logger: level, format and stream (NULL = stdout). Call before
 * starting threads; the logger itself is thread-safe (one write per line). */
void tsp_log_setup(enum tsp_log_level level, enum tsp_log_format format, FILE *out);

/* Parse "error|warn|info|debug" / "json|text". Return false on an unknown name. */
bool tsp_log_level_parse(const char *name, enum tsp_log_level *out);
bool tsp_log_format_parse(const char *name, enum tsp_log_format *out);

/* True when lines of this level are written. Thread-safe. */
bool tsp_log_enabled(enum tsp_log_level level);

/* Write one line: {"ts":"2026-01-02T03:04:05.678Z","level":"info","msg":...,context...}.
 * ctx may be NULL. Strings are escaped (quotes, backslashes, control characters; invalid
 * UTF-8 bytes become U+FFFD). Thread-safe. */
void tsp_log_write(enum tsp_log_level level, const struct tsp_log_ctx *ctx, const char *fmt, ...)
    TSP_PRINTF(3, 4);

/* Format the current time (or `ms_since_epoch` when >= 0) as RFC 3339 UTC with milliseconds
 * ("2026-01-02T03:04:05.678Z") into buf (at least 25 bytes). Returns buf. */
char *tsp_log_timestamp(long long ms_since_epoch, char *buf, size_t bufsize);

/* Append s to out as a JSON string body (no surrounding quotes), escaping as above.
 * Writes at most outsize-1 bytes and always NUL-terminates; returns the length written. */
size_t tsp_log_escape_json(const char *s, char *out, size_t outsize);

#define TSP_LOG_AT(level, ctx, ...)                                                                \
    do {                                                                                           \
        if (tsp_log_enabled(level)) {                                                              \
            tsp_log_write(level, ctx, __VA_ARGS__);                                                \
        }                                                                                          \
    } while (0)
#define TSP_LOG_ERROR(ctx, ...) TSP_LOG_AT(TSP_LOG_LEVEL_ERROR, ctx, __VA_ARGS__)
#define TSP_LOG_WARN(ctx, ...)  TSP_LOG_AT(TSP_LOG_LEVEL_WARN, ctx, __VA_ARGS__)
#define TSP_LOG_INFO(ctx, ...)  TSP_LOG_AT(TSP_LOG_LEVEL_INFO, ctx, __VA_ARGS__)
#define TSP_LOG_DEBUG(ctx, ...) TSP_LOG_AT(TSP_LOG_LEVEL_DEBUG, ctx, __VA_ARGS__)

#endif /* TSPOOL_LOG_H */
