/* error.h - the one error type of tspool: codes generated from one table, and a
 * struct carrying code, field, SQLSTATE and a human-readable detail.
 * SPDX-License-Identifier: MIT
 */
#ifndef TSPOOL_ERROR_H
#define TSPOOL_ERROR_H

#include <stddef.h>

#if defined(__GNUC__)
#define TSP_MUSTCHECK         __attribute__((warn_unused_result))
#define TSP_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define TSP_MUSTCHECK
#define TSP_PRINTF(fmt, args)
#endif

/* XX(name, http status, problem title) - one row per code. */
#define TSP_ERROR_MAP(XX)                                                                          \
    XX(OK, 200, "OK")                                                                              \
    XX(INVALID, 400, "Invalid request")                                                            \
    XX(UNAUTHORIZED, 401, "Unauthorized")                                                          \
    XX(FORBIDDEN, 403, "Forbidden")                                                                \
    XX(NOT_FOUND, 404, "Not found")                                                                \
    XX(METHOD_NOT_ALLOWED, 405, "Method not allowed")                                              \
    XX(CONFLICT, 409, "Conflict")                                                                  \
    XX(CHANGE_IN_PROGRESS, 409, "Change in progress")                                              \
    XX(LOCK_NOT_AVAILABLE, 409, "Lock not available")                                              \
    XX(TOO_LARGE, 413, "Request body too large")                                                   \
    XX(UNSUPPORTED_MEDIA, 415, "Unsupported media type")                                           \
    XX(UNAVAILABLE, 503, "Service unavailable")                                                    \
    XX(POOL_EXHAUSTED, 503, "Connection pool exhausted")                                           \
    XX(POOL_PAUSED, 503, "Connection pool paused")                                                 \
    XX(SHUTTING_DOWN, 503, "Shutting down")                                                        \
    XX(DB_UNAVAILABLE, 503, "Database unavailable")                                                \
    XX(DB_ERROR, 502, "Database error")                                                            \
    XX(TIMEOUT, 504, "Timed out")                                                                  \
    XX(NO_MEMORY, 500, "Out of memory")                                                            \
    XX(IO, 500, "I/O error")                                                                       \
    XX(INTERNAL, 500, "Internal error")

enum tsp_code {
#define TSP_XX_ENUM(name, status, title) TSP_##name,
    TSP_ERROR_MAP(TSP_XX_ENUM)
#undef TSP_XX_ENUM
        TSP_CODE_COUNT
};

#define TSP_ERROR_DETAIL_MAX 512
#define TSP_ERROR_FIELD_MAX  64

/* Caller-owned error record. Zero-initialise (or tsp_error_init) before use. */
struct tsp_error {
    enum tsp_code code;                /* TSP_OK until the first error is set */
    char field[TSP_ERROR_FIELD_MAX];   /* the input at fault ("DB_MAX_CONNS", "size"), or "" */
    char sqlstate[6];                  /* five-character SQLSTATE from the server, or "" */
    char detail[TSP_ERROR_DETAIL_MAX]; /* one line, human readable, no secrets; cut on a UTF-8
                                          character boundary */
    int retry_after_s;                 /* > 0: a retry may succeed after this many seconds */
    int blocking_pid;                  /* LOCK_NOT_AVAILABLE: server pid holding the lock, or 0 */
    char blocking_application[64];     /* LOCK_NOT_AVAILABLE: its application_name, or "" */
};

/* Reset err to TSP_OK with empty strings. err may be NULL. */
void tsp_error_init(struct tsp_error *err);

/* Record an error unless one is already recorded (the first error wins). err may be NULL.
 * field may be NULL. A detail longer than the buffer is cut on a UTF-8 character boundary. Returns
 * code, so that `return tsp_error_set(err, ...);` reads naturally. */
enum tsp_code tsp_error_set(struct tsp_error *err, enum tsp_code code, const char *field,
                            const char *fmt, ...) TSP_PRINTF(4, 5);

/* Set the SQLSTATE of an already-recorded error. err may be NULL. */
void tsp_error_set_sqlstate(struct tsp_error *err, const char *sqlstate);

/* "OK", "INVALID", ... ; "UNKNOWN" for out-of-range values. Static strings. */
const char *tsp_code_name(enum tsp_code code);
/* HTTP status for a code (500 for out-of-range values). */
int tsp_code_http_status(enum tsp_code code);
/* RFC 9457 problem title for a code. Static string. */
const char *tsp_code_title(enum tsp_code code);

#endif /* TSPOOL_ERROR_H */
