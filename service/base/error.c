/* base/error.c - lookups generated from TSP_ERROR_MAP and the first-error-wins setter
 * SPDX-License-Identifier: MIT
 */
#include "tspool/error.h"

#include "tspool/utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct code_row {
    const char *name;
    int status;
    const char *title;
};

static const struct code_row code_rows[] = {
#define TSP_XX_ROW(name, status, title) {#name, status, title},
    TSP_ERROR_MAP(TSP_XX_ROW)
#undef TSP_XX_ROW
};

void tsp_error_init(struct tsp_error *err)
{
    if (err == NULL) {
        return;
    }
    memset(err, 0, sizeof(*err));
    err->code = TSP_OK;
}

enum tsp_code tsp_error_set(struct tsp_error *err, enum tsp_code code, const char *field,
                            const char *fmt, ...)
{
    va_list ap;
    int n = 0;

    if (err == NULL || err->code != TSP_OK) {
        return code;
    }
    err->code = code;
    snprintf(err->field, sizeof(err->field), "%s", field != NULL ? field : "");
    va_start(ap, fmt);
    n = vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof(err->detail)) {
        /* a server message cut at the byte limit must not end in half a character */
        (void)tsp_utf8_trim_partial(err->detail);
    }
    return code;
}

void tsp_error_set_sqlstate(struct tsp_error *err, const char *sqlstate)
{
    if (err == NULL || sqlstate == NULL) {
        return;
    }
    snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", sqlstate);
}

static int code_in_range(enum tsp_code code)
{
    return (int)code >= 0 && code < TSP_CODE_COUNT;
}

const char *tsp_code_name(enum tsp_code code)
{
    return code_in_range(code) ? code_rows[code].name : "UNKNOWN";
}

int tsp_code_http_status(enum tsp_code code)
{
    return code_in_range(code) ? code_rows[code].status : 500;
}

const char *tsp_code_title(enum tsp_code code)
{
    return code_in_range(code) ? code_rows[code].title : "Internal error";
}
