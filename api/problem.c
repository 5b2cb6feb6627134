/* api/problem.c - struct tsp_error -> RFC 9457 application/problem+json; the only place an
 * error becomes an HTTP status (from TSP_ERROR_MAP), plus Retry-After on 503s.
 * SPDX-License-Identifier: MIT
 */
#include "api_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tspool/utf8.h"

#define PROBLEM_TYPE_BASE "urn:tspool:problem:"

/* A JSON string of any text: invalid UTF-8 (a request path such as /%ff, a server message)
 * becomes U+FFFD instead of failing the whole document. NULL only when out of memory. */
static json_t *text_string(const char *s)
{
    size_t len = strlen(s);
    size_t size = 0;
    char *clean = NULL;
    json_t *out = NULL;

    if (tsp_utf8_valid(s, len)) {
        return json_stringn(s, len);
    }
    size = len * 3 + 1; /* each invalid byte may become three */
    clean = malloc(size);
    if (clean == NULL) {
        return NULL;
    }
    len = tsp_utf8_sanitize(s, clean, size);
    out = json_stringn(clean, len);
    free(clean);
    return out;
}

/* "POOL_EXHAUSTED" -> "pool-exhausted" */
static void type_slug(enum tsp_code code, char *out, size_t outsize)
{
    const char *name = tsp_code_name(code);
    size_t i = 0;

    for (; name[i] != '\0' && i + 1 < outsize; i++) {
        out[i] = name[i] == '_' ? '-' : (char)tolower((unsigned char)name[i]);
    }
    out[i] = '\0';
}

json_t *tsp_problem_build(const struct tsp_error *err, const char *instance, const char *request_id)
{
    char slug[64];
    char type[128];
    json_t *doc = json_object();
    enum tsp_code code = err->code == TSP_OK ? TSP_INTERNAL : err->code;
    int status = tsp_code_http_status(code);
    int bad = 0;

    if (doc == NULL) {
        return NULL;
    }
    type_slug(code, slug, sizeof(slug));
    snprintf(type, sizeof(type), "%s%s", PROBLEM_TYPE_BASE, slug);
    bad |= json_object_set_new(doc, "type", json_string(type));
    bad |= json_object_set_new(doc, "title", json_string(tsp_code_title(code)));
    bad |= json_object_set_new(doc, "status", json_integer(status));
    bad |= json_object_set_new(
        doc, "detail", text_string(err->detail[0] != '\0' ? err->detail : tsp_code_title(code)));
    if (instance != NULL) {
        bad |= json_object_set_new(doc, "instance", text_string(instance));
    }
    bad |= json_object_set_new(doc, "code", json_string(tsp_code_name(code)));
    if (err->field[0] != '\0') {
        bad |= json_object_set_new(doc, "field", text_string(err->field));
    }
    if (err->blocking_pid > 0) {
        bad |= json_object_set_new(doc, "blocking_pid", json_integer(err->blocking_pid));
        bad |= json_object_set_new(doc, "blocking_application",
                                   text_string(err->blocking_application));
    }
    if (err->sqlstate[0] != '\0') {
        bad |= json_object_set_new(doc, "sqlstate", json_string(err->sqlstate));
    }
    if (request_id != NULL && request_id[0] != '\0') {
        bad |= json_object_set_new(doc, "request_id", text_string(request_id));
    }
    if (bad != 0) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

const char *tsp_problem_headers(enum tsp_code code)
{
    switch (code) {
    case TSP_POOL_EXHAUSTED:
    case TSP_POOL_PAUSED:
    case TSP_CHANGE_IN_PROGRESS:
        return "Retry-After: 1\r\n";
    case TSP_UNAVAILABLE:
    case TSP_DB_UNAVAILABLE:
        return "Retry-After: 5\r\n";
    case TSP_SHUTTING_DOWN:
        return "Retry-After: 10\r\n";
    case TSP_LOCK_NOT_AVAILABLE:
        return "Retry-After: 5\r\n";
    case TSP_UNAUTHORIZED:
        return "WWW-Authenticate: Bearer realm=\"tspool\"\r\n";
    default:
        return "";
    }
}

enum tsp_code tsp_problem_code_for_status(int status)
{
    switch (status) {
    case 503:
        return TSP_UNAVAILABLE; /* the generic one of the several 503 codes */
    case 500:
        return TSP_INTERNAL;
    default:
        break;
    }
    for (int c = 1; c < TSP_CODE_COUNT; c++) {
        if (tsp_code_http_status((enum tsp_code)c) == status) {
            return (enum tsp_code)c;
        }
    }
    /* CivetWeb's own refusals (408 request timeout, 414, 431, 505 HTTP version) are the
     * client's fault: a 400 with CivetWeb's reason, never a 500 */
    if ((status >= 400 && status < 500) || status == 505) {
        return TSP_INVALID;
    }
    return TSP_INTERNAL;
}

int tsp_problem_send(struct tsp_req *req, const struct tsp_error *err, const char *extra_headers)
{
    enum tsp_code code = err->code == TSP_OK ? TSP_INTERNAL : err->code;
    int status = tsp_code_http_status(code);
    char headers[512];
    json_t *doc = tsp_problem_build(err, req->path, req->request_id);
    char *text = NULL;
    int sent = 0;

    if (err->retry_after_s > 0) {
        /* the service knows better than the per-code default (e.g. the lock timeout) */
        snprintf(headers, sizeof(headers), "Retry-After: %d\r\n%s", err->retry_after_s,
                 extra_headers != NULL ? extra_headers : "");
    } else {
        snprintf(headers, sizeof(headers), "%s%s", tsp_problem_headers(code),
                 extra_headers != NULL ? extra_headers : "");
    }
    if (doc != NULL) {
        text = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(15));
    }
    if (text == NULL) {
        sent = tsp_respond_oom(req);
        goto done;
    }
    sent = tsp_respond(req, status, "application/problem+json", headers, text, strlen(text));
done:
    free(text);
    json_decref(doc);
    return sent;
}

int tsp_problem_sendf(struct tsp_req *req, enum tsp_code code, const char *field, const char *fmt,
                      ...)
{
    struct tsp_error err;
    va_list ap;

    tsp_error_init(&err);
    err.code = code;
    snprintf(err.field, sizeof(err.field), "%s", field != NULL ? field : "");
    va_start(ap, fmt);
    vsnprintf(err.detail, sizeof(err.detail), fmt, ap);
    va_end(ap);
    return tsp_problem_send(req, &err, NULL);
}
